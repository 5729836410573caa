/* verify.c — proving the send log: the chain through archive files and the database, a
 * pinned head, the cross-checks (see verify.h). */
#include "verify.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "timeutil.h"

static void problem(verify_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(verify_result *r, const char *fmt, ...)
{
    if (r->nproblems == VERIFY_MAX_PROBLEMS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->problem[r->nproblems++], sizeof r->problem[0], fmt, ap);
    va_end(ap);
}

/* ---- the rows per count bucket ----------------------------------------------------
 *
 * While the chain is walked, the database's rows are tallied per bucket of the aggregate
 * counts (store.h), in an open-addressing table keyed by campaign, hour, and channel,
 * event and code packed as "channel\0event\0code\0". */

typedef struct bucket {
    uint64_t h;
    int64_t campaign_id, hour, rows;
    int seen;                   /* a count bucket matched it */
    size_t klen;
    char *key;
} bucket;

typedef struct tally {
    bucket *v;
    size_t cap, n;
    int oom;
} tally;

/* The key in `out` when it fits, else in a malloc'd buffer (free it when it is not `out`);
 * NULL when out of memory. A receipt's code is the provider's text, up to CB_MAX_FIELD. */
static char *pack(char *out, size_t len, const char *ch, const char *ev, const char *code,
                  size_t *klen)
{
    ch = ch ? ch : "", ev = ev ? ev : "", code = code ? code : "";
    size_t a = strlen(ch) + 1, b = strlen(ev) + 1, c = strlen(code) + 1;
    char *k = a + b + c <= len ? out : malloc(a + b + c);
    if (!k)
        return NULL;
    memcpy(k, ch, a);
    memcpy(k + a, ev, b);
    memcpy(k + a + b, code, c);
    *klen = a + b + c;
    return k;
}

static uint64_t key_hash(int64_t campaign, int64_t hour, const char *k, size_t klen)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)campaign * 31 ^ (uint64_t)hour;
    for (size_t i = 0; i < klen; i++)
        h = (h ^ (unsigned char)k[i]) * 1099511628211ULL;
    return h ? h : 1;
}

static int tally_grow(tally *t)
{
    size_t cap = t->cap ? t->cap * 2 : 1024;
    bucket *old = t->v, *v = calloc(cap, sizeof *v);
    if (!v)
        return -1;
    size_t oldcap = t->cap;
    t->v = v;
    t->cap = cap;
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i].h)
            continue;
        size_t j = old[i].h & (cap - 1);
        while (v[j].h)
            j = (j + 1) & (cap - 1);
        v[j] = old[i];
    }
    free(old);
    return 0;
}

/* The bucket for a key, added (rows 0) when `add`; NULL when absent or out of memory. */
static bucket *tally_find(tally *t, int64_t campaign, int64_t hour, const char *k, size_t klen,
                          int add)
{
    if (add && (t->n + 1) * 2 > t->cap && tally_grow(t) < 0) {
        t->oom = 1;
        return NULL;
    }
    if (!t->cap)
        return NULL;
    uint64_t h = key_hash(campaign, hour, k, klen);
    size_t j = h & (t->cap - 1);
    for (; t->v[j].h; j = (j + 1) & (t->cap - 1)) {
        bucket *b = &t->v[j];
        if (b->h == h && b->campaign_id == campaign && b->hour == hour && b->klen == klen &&
            !memcmp(b->key, k, klen))
            return b;
    }
    if (!add)
        return NULL;
    bucket *b = &t->v[j];
    if (!(b->key = malloc(klen))) {
        t->oom = 1;
        return NULL;
    }
    memcpy(b->key, k, klen);
    b->h = h, b->campaign_id = campaign, b->hour = hour, b->klen = klen;
    t->n++;
    return b;
}

static void tally_row(tally *t, const store_logrow *r)
{
    char kb[512], *k;
    size_t klen;
    int64_t hour = r->at - r->at % STORE_COUNT_HOUR_MS;
    bucket *b = (k = pack(kb, sizeof kb, r->channel, r->event, r->code, &klen))
                    ? tally_find(t, r->campaign_id, hour, k, klen, 1)
                    : NULL;
    if (b)
        b->rows++;
    else
        t->oom = 1;
    if (k != kb)
        free(k);
}

static void tally_free(tally *t)
{
    for (size_t i = 0; i < t->cap; i++)
        free(t->v[i].key);
    free(t->v);
    memset(t, 0, sizeof *t);
}

/* Where the walk stands: the last row proven. */
typedef struct walk {
    verify_result *r;
    const verify_opts *o;
    int64_t seq;
    unsigned char hash[AUDIT_HASH_LEN];
    int broken;
    int pin_found;
    long *count;                /* rows proven in this piece */
    const char *where;          /* "" or " of FILE" */
    int64_t anchor_seq;         /* the piece starts at the database's anchor: say so */
    tally *tally;               /* the database's rows, per count bucket */
} walk;

static int step(const store_logrow *row, void *arg)
{
    walk *w = arg;
    if (row->seq != w->seq + 1) {
        if (row->seq > w->seq + 1)
            problem(w->r, "rows %" PRId64 "-%" PRId64 " were removed (the chain jumps from row "
                    "%" PRId64 " to row %" PRId64 "%s)", w->seq + 1, row->seq - 1, w->seq,
                    row->seq, w->where);
        else
            problem(w->r, "row %" PRId64 "%s is out of order (after row %" PRId64 ")", row->seq,
                    w->where, w->seq);
        w->broken = 1;
        return 1;
    }
    unsigned char h[AUDIT_HASH_LEN];
    audit_hash(w->hash, row->seq, row->at, row->message_id, row->campaign_id, row->user_id,
               row->event, row->channel, row->reason, row->code, row->detail, row->target, h);
    if (!row->hash || memcmp(h, row->hash, AUDIT_HASH_LEN)) {
        char anchor[96] = "";
        if (w->anchor_seq && w->seq == w->anchor_seq)
            snprintf(anchor, sizeof anchor, ", or the archive anchor before it (row %" PRId64
                     ") was forged", w->anchor_seq);
        problem(w->r, "row %" PRId64 "%s (%s, message %" PRId64 ") does not match its hash: it "
                "was altered or inserted%s", row->seq, w->where, row->event ? row->event : "?",
                row->message_id, anchor);
        w->broken = 1;
        return 1;
    }
    if (w->o->pinned && row->seq == w->o->pin_seq) {
        if (memcmp(row->hash, w->o->pin_hash, AUDIT_HASH_LEN)) {
            problem(w->r, "row %" PRId64 "%s is not the pinned head: the log was rewritten at "
                    "or before it", row->seq, w->where);
            w->broken = 1;
            return 1;
        }
        w->pin_found = 1;
    }
    w->seq = row->seq;
    memcpy(w->hash, row->hash, AUDIT_HASH_LEN);
    (*w->count)++;
    if (w->tally)
        tally_row(w->tally, row);
    return 0;
}

/* ---- archive files ------------------------------------------------------------------ */

typedef struct piece {
    arch_reader rd;
    int open;
} piece;

static int by_start(const void *a, const void *b)
{
    const piece *x = a, *y = b;
    return x->rd.after_seq < y->rd.after_seq ? -1 : x->rd.after_seq > y->rd.after_seq;
}

/* One file: its header must continue the chain (unless it is the first), then its rows. */
static void walk_file(walk *w, arch_reader *rd, int first)
{
    char hex[AUDIT_HEX_LEN + 1], where[600];
    snprintf(where, sizeof where, " of %s", rd->path);
    w->where = where;
    if (first) {
        w->seq = rd->after_seq;
        memcpy(w->hash, rd->after_hash, AUDIT_HASH_LEN);
        w->r->from_seq = rd->after_seq;
    } else if (rd->after_seq != w->seq) {
        if (rd->after_seq > w->seq)
            problem(w->r, "rows %" PRId64 "-%" PRId64 " are in none of the archives given (%s "
                    "starts after row %" PRId64 ")", w->seq + 1, rd->after_seq, rd->path,
                    rd->after_seq);
        else
            problem(w->r, "%s overlaps the archive before it (it starts after row %" PRId64
                    ", that one ends at row %" PRId64 ")", rd->path, rd->after_seq, w->seq);
        w->broken = 1;
        return;
    } else if (memcmp(rd->after_hash, w->hash, AUDIT_HASH_LEN)) {
        audit_hex(rd->after_hash, hex);
        problem(w->r, "%s says row %" PRId64 " has hash %.16s…, the archive before it ends with "
                "another: one of them was changed", rd->path, rd->after_seq, hex);
        w->broken = 1;
        return;
    }
    w->count = &w->r->archived_rows;
    store_logrow row;
    cherr e;
    int got;
    while ((got = arch_next(rd, &row, &e)) > 0)
        if (step(&row, w))
            return;
    if (got < 0) {
        problem(w->r, "%s", e.msg);
        w->broken = 1;
    }
}

static void walk_files(walk *w, const verify_opts *o)
{
    piece *p = calloc((size_t)o->narchives, sizeof *p);
    if (!p) {
        problem(w->r, "out of memory");
        w->broken = 1;
        return;
    }
    for (int i = 0; i < o->narchives; i++) {
        cherr e;
        if (arch_open(&p[i].rd, o->archives[i], &e) < 0) {
            problem(w->r, "%s", e.msg);
            w->broken = 1;
        } else {
            p[i].open = 1;
        }
    }
    if (!w->broken) {
        qsort(p, (size_t)o->narchives, sizeof *p, by_start);
        for (int i = 0; i < o->narchives && !w->broken; i++)
            walk_file(w, &p[i].rd, i == 0);
    }
    for (int i = 0; i < o->narchives; i++)
        if (p[i].open)
            arch_close(&p[i].rd);
    free(p);
}

/* ---- the database -------------------------------------------------------------------- */

static int first_row(const store_logrow *row, void *arg)
{
    *(int64_t *)arg = row->seq;
    return 1;
}

/* From the anchor (or where the archives ended, which must be the anchor) on. */
static int walk_db(walk *w, store *st, int after_files, tally *t, cherr *e)
{
    const store_anchor *an = &w->r->anchor;
    char hex[AUDIT_HEX_LEN + 1];
    if (!after_files) {
        w->seq = an->seq;
        memcpy(w->hash, an->hash, AUDIT_HASH_LEN);
        w->r->from_seq = an->seq;
    } else if (w->seq < an->seq) {
        problem(w->r, "rows %" PRId64 "-%" PRId64 " were archived (to %s) but are in none of the "
                "archives given", w->seq + 1, an->seq, an->file);
        w->broken = 1;
        return 0;
    } else if (w->seq > an->seq) {
        problem(w->r, "the archives run to row %" PRId64 ", past the database's archive anchor "
                "(row %" PRId64 ")", w->seq, an->seq);
        w->broken = 1;
        return 0;
    } else if (memcmp(w->hash, an->hash, AUDIT_HASH_LEN)) {
        audit_hex(an->hash, hex);
        problem(w->r, "the database's archive anchor (row %" PRId64 ", hash %.16s…) is not the "
                "archive's row %" PRId64 ": the anchor was forged or the archive changed",
                an->seq, hex, an->seq);
        w->broken = 1;
        return 0;
    }
    w->where = "";
    w->anchor_seq = after_files ? 0 : an->seq;
    w->count = &w->r->db_rows;
    w->tally = t;
    store_logq q = {.after_seq = an->seq, .by_seq = 1};
    if (store_log_each(st, &q, step, w, e) < 0)
        return -1;
    int64_t first = 0;
    store_logq fq = {.limit = 1, .by_seq = 1};
    if (an->seq && store_log_each(st, &fq, first_row, &first, e) < 0)
        return -1;
    if (first && first <= an->seq)
        problem(w->r, "row %" PRId64 " is at or before the archive anchor (row %" PRId64 "): it "
                "was inserted", first, an->seq);
    return 0;
}

/* ---- what the database allows to cross-check ----------------------------------------- */

static int check_head(verify_result *r, store *st, cherr *e)
{
    store_head rec, last;
    if (store_log_head(st, &rec, &last, e) < 0)
        return -1;
    if (rec.seq > last.seq)
        problem(r, "rows %" PRId64 "-%" PRId64 " were removed from the end of the log (the head "
                "recorded at the last commit is row %" PRId64 ")", last.seq + 1, rec.seq, rec.seq);
    else if (rec.seq < last.seq)
        problem(r, "rows %" PRId64 "-%" PRId64 " were appended behind chuda's back (the head "
                "recorded at the last commit is row %" PRId64 ")", rec.seq + 1, last.seq, rec.seq);
    else if (memcmp(rec.hash, last.hash, AUDIT_HASH_LEN))
        problem(r, "row %" PRId64 " is not the row chuda committed last: its hash is not the "
                "recorded head's", rec.seq);
    return 0;
}

/* Compares each count bucket with the rows tallied: exactly in hours after the latest
 * archived row, at most as many rows before (the rest were archived). */
typedef struct count_cmp {
    tally *t;
    int64_t archived_hour;      /* -1: nothing archived */
    verify_result *r;
    int reported;
} count_cmp;

static void bucket_problem(count_cmp *c, int64_t campaign, int64_t hour, const char *ch,
                           const char *ev, const char *code, int64_t counted, int64_t rows)
{
    char ts[32];
    if (c->reported++)
        return;
    problem(c->r, "log_counts: campaign %" PRId64 ", hour %s, channel '%s', event '%s', code "
            "'%s' counts %" PRId64 ", the log has %" PRId64 " such rows", campaign,
            tu_format_min(hour, ts, sizeof ts), ch, ev, code, counted, rows);
}

static int compare_bucket(const store_countgroup *g, void *arg)
{
    count_cmp *c = arg;
    char kb[512], *k;
    size_t klen;
    if (!(k = pack(kb, sizeof kb, g->channel, g->event, g->code, &klen))) {
        c->t->oom = 1;
        return 1;
    }
    bucket *b = tally_find(c->t, g->campaign_id, g->hour, k, klen, 0);
    if (k != kb)
        free(k);
    int64_t rows = b ? b->rows : 0;
    if (b)
        b->seen = 1;
    if (rows > g->n || (rows != g->n && g->hour > c->archived_hour))
        bucket_problem(c, g->campaign_id, g->hour, g->channel ? g->channel : "",
                       g->event ? g->event : "", g->code ? g->code : "", g->n, rows);
    return 0;
}

static int check_buckets(verify_result *r, store *st, tally *t, cherr *e)
{
    const store_anchor *an = &r->anchor;
    count_cmp c = {t, an->seq ? an->max_at - an->max_at % STORE_COUNT_HOUR_MS : -1, r, 0};
    if (store_log_counts_each(st, compare_bucket, &c, e) < 0)
        return -1;
    if (t->oom)
        return err_set(e, "log verify: out of memory comparing log_counts with the rows");
    for (size_t i = 0; i < t->cap && !c.reported; i++) {
        const bucket *b = &t->v[i];
        if (b->h && !b->seen) {
            const char *ev = b->key + strlen(b->key) + 1, *code = ev + strlen(ev) + 1;
            bucket_problem(&c, b->campaign_id, b->hour, b->key, ev, code, 0, b->rows);
        }
    }
    return 0;
}

static int check_counts(verify_result *r, store *st, tally *t, int walked, cherr *e)
{
    const store_anchor *an = &r->anchor;
    store_logcheck c;
    if (store_log_check(st, an, &c, e) < 0)
        return -1;
    if (c.counted != c.live + an->nrows)
        problem(r, "log_counts adds up to %" PRId64 " rows, the log holds %" PRId64 " and %" PRId64
                " were archived: rows were removed or inserted, or log_counts was edited",
                c.counted, c.live, an->nrows);
    /* the buckets only when every row was walked; not a word of "intact" without them */
    if (walked && t->oom)
        return err_set(e, "log verify: out of memory tallying the rows per count bucket");
    if (walked && check_buckets(r, st, t, e) < 0)
        return -1;
    if (c.msg_missing)
        problem(r, "message %" PRId64 " has no enqueued row in the log: it was removed",
                c.msg_missing);
    return 0;
}

static void check_pin(verify_result *r, const verify_opts *o, const walk *w)
{
    if (!o->pinned || w->broken)
        return;
    if (r->from_seq > 0)
        problem(r, "the pinned head (row %" PRId64 ") is proven only from row %" PRId64 ": rows "
                "1-%" PRId64 " are archived; give their files with --archive", o->pin_seq,
                r->from_seq + 1, r->from_seq);
    else if (!w->pin_found)
        problem(r, "the log ends at row %" PRId64 ", before the pinned head (row %" PRId64 "): "
                "rows %" PRId64 "-%" PRId64 " were removed", w->seq, o->pin_seq, w->seq + 1,
                o->pin_seq);
}

int verify_log(store *st, const verify_opts *o, verify_result *r, cherr *e)
{
    memset(r, 0, sizeof *r);
    if (store_log_anchor(st, &r->anchor, e) < 0)
        return -1;
    walk w = {.r = r, .o = o, .where = ""};
    tally t = {0};
    if (o->narchives)
        walk_files(&w, o);
    int rc = !w.broken ? walk_db(&w, st, o->narchives > 0, &t, e) : 0;
    r->to_seq = w.seq;
    check_pin(r, o, &w);
    if (rc == 0)
        rc = check_head(r, st, e) < 0 || check_counts(r, st, &t, !w.broken, e) < 0 ? -1 : 0;
    tally_free(&t);
    return rc;
}
