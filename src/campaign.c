/* campaign.c — campaigns (see campaign.h): the segment expression parser, queueing a
 * campaign from a CSV file or a segment through an enq_batch in one transaction, pause /
 * resume / cancel, and the funnel. SQL stays in the store; this file builds a postfix
 * segment program (store_seg) and calls store operations.
 *
 * A CSV campaign runs on two threads: a reader thread parses the file, looks its users
 * up through a read-only connection of its own (store_reader_open) and checks each
 * row; the calling thread writes the checked chunks it hands over (a relay) into the
 * campaign's transaction. The reader is joined on every path. */
#include "campaign.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "buf.h"
#include "csvr.h"
#include "enqueue.h"
#include "hashset.h"
#include "relay.h"
#include "timeutil.h"

#define SEG_MAX_NODES  256      /* conditions and operators in one expression */
#define SEG_MAX_DEPTH  32       /* nested parentheses */
#define PROGRESS_EVERY 4096     /* rows between progress reports */
#define CANCEL_BATCH   1000

/* ---- segment expressions: lexing ---------------------------------------------------- */

typedef struct segp {
    const char *s;
    size_t i;                   /* byte offset */
    campaign_seg *out;
    cherr *e;
    int depth;
} segp;

/* 1-based character (code point) position of byte offset `off`. */
static int seg_charpos(const char *s, size_t off)
{
    int pos = 1;
    for (size_t i = 0; i < off && s[i]; i++)
        pos += ((unsigned char)s[i] & 0xC0) != 0x80;
    return pos;
}

static int seg_err(segp *p, size_t off, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int seg_err(segp *p, size_t off, const char *fmt, ...)
{
    char msg[sizeof p->e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(p->e, "segment: position %d: %s", seg_charpos(p->s, off), msg);
}

/* Bytes of whitespace at s: ASCII blanks and the ideographic space U+3000. */
static size_t seg_space(const char *s)
{
    if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        return 1;
    if (s[0] == '\xE3' && s[1] == '\x80' && s[2] == '\x80')      /* short-circuits at NUL */
        return 3;
    return 0;
}

static void seg_skip(segp *p)
{
    size_t k;
    while ((k = seg_space(p->s + p->i)))
        p->i += k;
}

static int seg_namechar(unsigned char c)
{
    return isalnum(c) || c == '_' || c == '-' || c == '.' || c >= 0x80;
}

/* Length of the name at s (0: none); stops at a full-width space too. */
static size_t seg_namelen(const char *s)
{
    size_t n = 0;
    while (seg_namechar((unsigned char)s[n]) && !seg_space(s + n))
        n++;
    return n;
}

/* Is the keyword `kw` (case-insensitive) at the cursor, as a whole word? */
static int seg_keyword(const segp *p, const char *kw)
{
    size_t n = strlen(kw);
    const char *after = p->s + p->i + n;
    return !strncasecmp(p->s + p->i, kw, n) &&
           (!seg_namechar((unsigned char)*after) || seg_space(after));
}

/* What stands at `off`, for messages: the word there, or the character. */
static void seg_token(const segp *p, size_t off, char *out, size_t len)
{
    const char *s = p->s + off;
    size_t n = seg_namelen(s);
    if (!n) {
        n = 1;
        while (((unsigned char)s[n] & 0xC0) == 0x80)
            n++;
    }
    snprintf(out, len, "%.*s", (int)(n < 40 ? n : 40), s);
}

/* ---- segment expressions: parsing --------------------------------------------------- */

static int seg_emit(segp *p, store_seg_kind kind, store_seg_field field, char *attr, char *value,
                    size_t off)
{
    campaign_seg *o = p->out;
    if (o->n == SEG_MAX_NODES) {
        free(attr);
        free(value);
        return seg_err(p, off, "the expression is too long (at most %d terms)", SEG_MAX_NODES);
    }
    if (o->n == o->cap) {
        int cap = o->cap ? o->cap * 2 : 8;
        store_seg_node *v = realloc(o->v, (size_t)cap * sizeof *v);
        int *pos = v ? realloc(o->pos, (size_t)cap * sizeof *pos) : NULL;
        if (v)
            o->v = v;
        if (!v || !pos) {
            free(attr);
            free(value);
            return err_set(p->e, "out of memory");
        }
        o->pos = pos;
        o->cap = cap;
    }
    o->v[o->n] = (store_seg_node){.kind = kind, .field = field, .attr = attr, .value = value};
    o->pos[o->n] = seg_charpos(p->s, off);
    o->n++;
    return 0;
}

/* A quoted value at the cursor ('...' or "...", backslash escapes the next byte). */
static int seg_quoted(segp *p, char **out)
{
    size_t open = p->i;
    char q = p->s[p->i++];
    buf b = {0};
    buf_add(&b, "", 0);
    for (;;) {
        char c = p->s[p->i];
        if (!c) {
            buf_free(&b);
            return seg_err(p, open, "the quote opened here is never closed");
        }
        p->i++;
        if (c == q)
            break;
        if (c == '\\' && (p->s[p->i] == q || p->s[p->i] == '\\'))
            c = p->s[p->i++];
        if (buf_add(&b, &c, 1) < 0) {
            buf_free(&b);
            return err_set(p->e, "out of memory");
        }
    }
    if (!b.s) {
        buf_free(&b);
        return err_set(p->e, "out of memory");
    }
    *out = buf_take(&b);
    return 0;
}

static int seg_value(segp *p, const char *op, char **out)
{
    seg_skip(p);
    char c = p->s[p->i];
    if (c == '"' || c == '\'')
        return seg_quoted(p, out);
    size_t start = p->i;
    while (p->s[p->i] && !seg_space(p->s + p->i) && p->s[p->i] != '(' && p->s[p->i] != ')') {
        if (p->s[p->i] == '"' || p->s[p->i] == '\'')
            return seg_err(p, p->i, "a quote inside a bare value: quote the whole value "
                           "(city=\"a b\")");
        p->i++;
    }
    if (p->i == start)
        return seg_err(p, start, "expected a value after '%s' (write \"\" for an empty one)", op);
    if (!(*out = strndup(p->s + start, p->i - start)))
        return err_set(p->e, "out of memory");
    return 0;
}

static int seg_expr(segp *p);

static const struct {
    const char *name;
    store_seg_field field;
} seg_fields[] = {
    {"user_id", STORE_SEG_USER_ID}, {"tier", STORE_SEG_TIER},
    {"segment", STORE_SEG_SEGMENT}, {"tz", STORE_SEG_TZ},
};

static const char *const seg_unselectable[] = {
    "mp_openid", "oa_openid", "phone", "wecom_userid", "wecom_external_userid", "attrs", NULL,
};

/* cond := "(" expr ")" | field ("=" | "!=") value */
static int seg_cond(segp *p)
{
    char tok[64];
    seg_skip(p);
    size_t at = p->i;
    if (p->s[at] == '(') {
        if (++p->depth > SEG_MAX_DEPTH)
            return seg_err(p, at, "parentheses nested deeper than %d", SEG_MAX_DEPTH);
        p->i++;
        if (seg_expr(p) < 0)
            return -1;
        seg_skip(p);
        if (p->s[p->i] != ')') {
            if (!p->s[p->i])
                return seg_err(p, p->i, "expected ')' to close the '(' at position %d",
                               seg_charpos(p->s, at));
            seg_token(p, p->i, tok, sizeof tok);
            return seg_err(p, p->i, "unexpected '%s' (expected 'and', 'or' or ')' to close the "
                           "'(' at position %d)", tok, seg_charpos(p->s, at));
        }
        p->i++;
        p->depth--;
        return 0;
    }
    size_t n = seg_namelen(p->s + at);
    if (!n) {
        if (!p->s[at])
            return seg_err(p, at, "expected a condition (field=value) at the end");
        seg_token(p, at, tok, sizeof tok);
        return seg_err(p, at, "expected a field name (tier, segment, tz, user_id or an "
                       "attribute), found '%s'", tok);
    }
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name - 1 ? n : sizeof name - 1),
             p->s + at);
    if (n >= sizeof name)
        return seg_err(p, at, "field name longer than %zu bytes", sizeof name - 1);
    p->i += n;
    for (const char *const *u = seg_unselectable; *u; u++)
        if (!strcmp(name, *u))
            return seg_err(p, at, "'%s' cannot be selected on (fields: tier, segment, tz, "
                           "user_id, or an attribute)", name);
    if (!strcasecmp(name, "and") || !strcasecmp(name, "or"))
        return seg_err(p, at, "expected a condition (field=value), found '%s'", name);
    store_seg_field field = STORE_SEG_ATTR;
    for (size_t k = 0; k < sizeof seg_fields / sizeof seg_fields[0]; k++)
        if (!strcmp(name, seg_fields[k].name))
            field = seg_fields[k].field;
    seg_skip(p);
    size_t opat = p->i;
    store_seg_kind kind;
    const char *op;
    if (p->s[p->i] == '=') {
        kind = STORE_SEG_EQ, op = "=";
        p->i += 1 + (p->s[p->i + 1] == '=');       /* == reads as = */
    } else if (p->s[p->i] == '!' && p->s[p->i + 1] == '=') {
        kind = STORE_SEG_NE, op = "!=";
        p->i += 2;
    } else if (!p->s[p->i]) {
        return seg_err(p, opat, "expected '=' or '!=' after '%s'", name);
    } else {
        seg_token(p, opat, tok, sizeof tok);
        return seg_err(p, opat, "expected '=' or '!=' after '%s', found '%s'", name, tok);
    }
    char *value = NULL, *attr = NULL;
    seg_skip(p);
    size_t vat = p->i;                              /* errors about the value point here */
    if (seg_value(p, op, &value) < 0)
        return -1;
    if (field == STORE_SEG_ATTR && !(attr = strdup(name))) {
        free(value);
        return err_set(p->e, "out of memory");
    }
    return seg_emit(p, kind, field, attr, value, vat);
}

/* term := cond { "and" cond } */
static int seg_term(segp *p)
{
    if (seg_cond(p) < 0)
        return -1;
    for (;;) {
        seg_skip(p);
        size_t at = p->i;
        if (!seg_keyword(p, "and"))
            return 0;
        p->i += 3;
        if (seg_cond(p) < 0 || seg_emit(p, STORE_SEG_AND, 0, NULL, NULL, at) < 0)
            return -1;
    }
}

/* expr := term { "or" term } */
static int seg_expr(segp *p)
{
    if (seg_term(p) < 0)
        return -1;
    for (;;) {
        seg_skip(p);
        size_t at = p->i;
        if (!seg_keyword(p, "or"))
            return 0;
        p->i += 2;
        if (seg_term(p) < 0 || seg_emit(p, STORE_SEG_OR, 0, NULL, NULL, at) < 0)
            return -1;
    }
}

void campaign_seg_free(campaign_seg *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n; i++) {
        free((char *)s->v[i].attr);
        free((char *)s->v[i].value);
    }
    free(s->v);
    free(s->pos);
    memset(s, 0, sizeof *s);
}

int campaign_seg_parse(const char *expr, campaign_seg *out, cherr *e)
{
    memset(out, 0, sizeof *out);
    size_t bad = csvr_utf8_bad(expr, strlen(expr));
    if (bad)
        return err_set(e, "segment: invalid UTF-8 at byte %zu", bad);
    segp p = {.s = expr, .out = out, .e = e};
    seg_skip(&p);
    if (!expr[p.i])
        return err_set(e, "segment: empty expression (e.g. tier=dormant and city=上海)");
    int rc = seg_expr(&p);
    if (rc == 0) {
        seg_skip(&p);
        if (expr[p.i]) {
            char tok[64];
            seg_token(&p, p.i, tok, sizeof tok);
            rc = seg_err(&p, p.i, "unexpected '%s' (expected 'and', 'or' or the end)", tok);
        }
    }
    if (rc < 0)
        campaign_seg_free(out);
    return rc;
}

/* ---- create: shared ----------------------------------------------------------------- */

typedef struct cctx {
    app *a;
    const campaign_spec *sp;
    int64_t now, base, id;
    long total;                 /* recipients counted first (spread), 0: unknown */
    long n;                     /* queued so far */
    int64_t first_due, last_due;
    int64_t first_id, last_id;  /* the campaign's messages: one id range */
    enq_batch *batch;
    const char *vcols[CSVR_MAX_COLS + 1];   /* the columns that are variables (NULL-ended) */
    size_t vcol_at[CSVR_MAX_COLS];          /* ... and where each is in a record */
    int nvcols;
    campaign_progress_fn progress;
    void *parg;

    /* CSV */
    const char *path;
    uint64_t size;              /* the file's size, for progress */
    size_t ncols;
    int user_col;
    char *colname[CSVR_MAX_COLS];
    /* CSV: the writer's (the reader has the whole core it needs for the rest) */
    hashset seen;               /* hashes of the user ids so far */
    int maybe_dup;              /* one repeated: check_dups decides exactly */

    /* CSV: the reader thread (everything above but last_id and the two above are its
     * own until joined) */
    relay relay;                /* checked chunks, reader -> writer */
    store *reader;              /* the reader's connection */
    int rrc;                    /* the reader's outcome, and why */
    cherr rerr;
    int batch_failed;           /* the batch refused the command line (a --var): berr */
    cherr berr;
} cctx;

/* Due time of the next recipient (the n-th): evenly over [base, base + spread). */
static int64_t next_due(const cctx *c)
{
    int64_t sp = c->sp->spread;
    if (!sp || c->total <= 0)
        return c->base;
    int64_t i = c->n < c->total ? c->n : c->total - 1, n = c->total;
    return c->base + sp / n * i + sp % n * i / n;
}

/* The reader's chunks go to the writer (csv_write). */
static int rcp_sink(void *arg, enq_chunk *ch, cherr *e)
{
    cctx *c = arg;
    if (relay_put(&c->relay, ch) == 0)
        return 0;
    enq_chunk_free(ch);
    return err_set(e, "stopped: writing the campaign failed");
}

/* Start the batch the campaign's messages go through (columns known); from a file, on
 * the reader thread: users from its connection, chunks to the writer. */
static int open_batch(cctx *c, cherr *e)
{
    enq_batch_spec bs = {.tmpl = c->sp->tmpl, .klass = c->sp->klass, .expires = c->sp->expires,
                         .campaign_id = c->id, .now = c->now, .vars = c->sp->vars,
                         .columns = c->vcols, .users = c->reader,
                         .sink = c->reader ? rcp_sink : NULL, .sink_arg = c};
    return enq_batch_new(c->a, &bs, &c->batch, e);
}

/* Queue one message for `user` with these column values; `line` names it in errors. */
static int queue_one(cctx *c, const char *user, const char *const *values, const size_t *lens,
                     long line, cherr *e)
{
    int64_t due = next_due(c), last;
    if (enq_batch_add(c->batch, user, values, lens, due, line, &last, e) < 0)
        return -1;
    if (!c->n)
        c->first_due = due;
    c->last_due = due;
    c->n++;
    if (last)
        c->last_id = last;
    return 0;
}

/* Write (or hand over) what the batch holds. */
static int queue_finish(cctx *c, cherr *e)
{
    int64_t last;
    if (enq_batch_finish(c->batch, &last, e) < 0)
        return -1;
    if (last)
        c->last_id = last;
    return 0;
}

/* An error from the batch, about the message it names. */
static int batch_error(cctx *c, csvr *r, const cherr *e)
{
    long line = enq_batch_fail_line(c->batch);
    if (r)
        return line ? csvr_fail_at(r, line, "%s", e->msg) : csvr_fail(r, "%s", e->msg);
    return -1;
}

static void report(cctx *c, double fraction)
{
    if (c->progress)
        c->progress(c->parg, fraction, c->n);
}

/* ---- create: from a CSV file -------------------------------------------------------- */

static void rcp_label(void *arg, size_t i, char *b, size_t len)
{
    const cctx *c = arg;
    snprintf(b, len, "%.64s", c->colname[i] ? c->colname[i] : "?");
}

static int rcp_header(csvr *r, void *arg)
{
    cctx *c = arg;
    c->ncols = csvr_nfields(r);
    c->user_col = -1;
    for (size_t i = 0; i < c->ncols; i++) {
        char *s = csvr_column_name(r, i, c->colname);
        if (!s)
            return -1;
        if (!strcmp(s, "user_id"))
            c->user_col = (int)i;
        else if (!strcasecmp(s, "user_id"))
            return csvr_fail(r, "column '%.64s': did you mean 'user_id'? (column names are "
                             "lower case)", s);
        if (!(c->colname[i] = strdup(s)))
            return csvr_fail(r, "out of memory");
    }
    if (c->user_col < 0)
        return csvr_fail(r, "the header has no user_id column (a campaign's recipients are "
                         "user ids; other columns become template variables)");
    for (size_t i = 0; i < c->ncols; i++) {
        if ((int)i == c->user_col)
            continue;
        c->vcol_at[c->nvcols] = i;
        c->vcols[c->nvcols++] = c->colname[i];
    }
    c->vcols[c->nvcols] = NULL;
    /* what the batch refuses (a --var's value) is not the header's: read_csv says it
     * without a file position, as a segment campaign does */
    if (open_batch(c, &c->berr) < 0) {
        c->batch_failed = 1;
        return csvr_fail(r, "%s", c->berr.msg);
    }
    return 0;
}

static int rcp_record(csvr *r, void *arg)
{
    cctx *c = arg;
    const char *user = csvr_field(r, (size_t)c->user_col);
    if (!csvr_len(r, (size_t)c->user_col))
        return csvr_fail(r, "user_id: empty");
    const char *values[CSVR_MAX_COLS];
    size_t lens[CSVR_MAX_COLS];
    for (int k = 0; k < c->nvcols; k++) {
        values[k] = csvr_field(r, c->vcol_at[k]);
        lens[k] = csvr_len(r, c->vcol_at[k]);
    }
    cherr e;
    if (queue_one(c, user, values, lens, csvr_line(r), &e) < 0)
        return batch_error(c, r, &e);
    if (c->n % PROGRESS_EVERY == 0)
        report(c, c->size ? (double)csvr_offset(r) / (double)c->size : -1);
    return 0;
}

/* At the end of the file: write the last chunk (its errors name their own line). */
static int rcp_end(csvr *r, void *arg)
{
    cctx *c = arg;
    cherr e;
    return queue_finish(c, &e) < 0 ? batch_error(c, r, &e) : 0;
}

/* The line of the k-th recipient (0-based) of the file, for messages. */
typedef struct line_find {
    long k, seen, line;
} line_find;

static int line_record(csvr *r, void *arg)
{
    line_find *l = arg;
    if (l->seen++ < l->k)
        return 0;
    l->line = csvr_line(r);
    return -1;                                      /* found: stop reading */
}

static long record_line(const char *path, long k)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return 0;
    line_find l = {.k = k};
    csvr_opts o = {.name = path, .header = 1, .on_record = line_record, .arg = &l};
    cherr e;
    csvr_read(fp, &o, NULL, &e);
    fclose(fp);
    return l.line;
}

/* A user twice among the campaign's recipients: the whole campaign is refused. Only
 * when a user id's hash repeated (note_users) is the written batch checked exactly, once
 * (a sort, in the database): a campaign without a repeat costs no check at all. */
static int check_dups(cctx *c, cherr *e)
{
    char *user;
    int64_t a, b;
    if (!c->maybe_dup)
        return 0;
    int r = store_campaign_dup(c->a->st, c->first_id, c->last_id, &user, &a, &b, e);
    if (r <= 0)
        return r;
    if (c->path) {
        long la = record_line(c->path, (long)(a - c->first_id));
        long lb = record_line(c->path, (long)(b - c->first_id));
        err_set(e, "%s:%ld: user_id '%.100s' already on line %ld", c->path, lb, user, la);
    } else {
        err_set(e, "user '%.100s' is twice in the segment", user);
    }
    free(user);
    return -1;
}

/* A read that failed: the first bad recipient may be a repeat before the record refused,
 * which check_dups never sees (it checks what was written, once the file is done). The
 * file is parsed again up to that record (the line the batch names, else the one the
 * parse or rcp_record stops at) with the user ids' hashes, a hit confirmed exactly. */
typedef struct dup_find {
    const char *path;
    int col;
    long stop;                  /* the line the batch refused, 0: none */
    const char *user;           /* dup_same: the first line with this user id */
    long line, first;           /* a repeat's line and its user's first line, 0: none */
    char dup[101];              /* ... that user id (cut to 100 bytes) */
    hashset seen;
} dup_find;

static int dup_same(csvr *r, void *arg)
{
    dup_find *d = arg;
    if (strcmp(csvr_field(r, (size_t)d->col), d->user))
        return 0;
    d->first = csvr_line(r);
    return -1;                                      /* found: stop reading */
}

static int dup_record(csvr *r, void *arg)
{
    dup_find *d = arg;
    const char *user = csvr_field(r, (size_t)d->col);
    size_t n = csvr_len(r, (size_t)d->col);
    if ((d->stop && csvr_line(r) >= d->stop) || !n)
        return -1;                                  /* the record refused: no repeat before */
    int added = hashset_add(&d->seen, hashset_hash(user, n));
    if (added)
        return added < 0 ? -1 : 0;
    FILE *fp = fopen(d->path, "rb");
    if (!fp)
        return -1;
    dup_find same = {.col = d->col, .user = user};
    csvr_opts o = {.name = d->path, .header = 1, .on_record = dup_same, .arg = &same};
    cherr e;
    csvr_read(fp, &o, NULL, &e);
    fclose(fp);
    if (!same.first || same.first >= csvr_line(r))
        return 0;                                   /* another id with the same hash */
    d->line = csvr_line(r);
    d->first = same.first;
    snprintf(d->dup, sizeof d->dup, "%.100s", user);
    return -1;
}

/* After a failed read, a repeated user before the record refused is the first bad
 * recipient: `e` names it instead. */
static void first_dup(cctx *c, cherr *e)
{
    FILE *fp = fopen(c->path, "rb");
    if (!fp)
        return;
    dup_find d = {.path = c->path, .col = c->user_col, .stop = enq_batch_fail_line(c->batch)};
    csvr_opts o = {.name = c->path, .header = 1, .check_utf8 = 1, .on_record = dup_record,
                   .arg = &d};
    cherr pe;
    csvr_read(fp, &o, NULL, &pe);
    fclose(fp);
    if (d.line)
        err_set(e, "%s:%ld: user_id '%s' already on line %ld", c->path, d.line, d.dup, d.first);
    hashset_free(&d.seen);
}

/* The first pass for --spread: how many records (parsing only). A file the main pass
 * will refuse may count wrong; it never gets that far. */
static long rcp_count(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return 0;
    csvr_opts o = {.name = path};
    long n = 0;
    cherr e;
    int rc = csvr_read(fp, &o, &n, &e);
    fclose(fp);
    return rc == 0 && n > 0 ? n - 1 : 0;
}

static int read_csv(cctx *c, cherr *e)
{
    FILE *fp = fopen(c->path, "rb");
    if (!fp)
        return err_set(e, "%s: cannot open: %s", c->path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(fp), &sb) == 0 && S_ISREG(sb.st_mode))
        c->size = (uint64_t)sb.st_size;
    csvr_opts o = {
        .name = c->path, .header = 1, .check_utf8 = 1, .header_hint = "user_id,...",
        .on_header = rcp_header, .on_record = rcp_record, .on_end = rcp_end,
        .label = rcp_label, .arg = c,
    };
    int rc = csvr_read(fp, &o, NULL, e);
    fclose(fp);
    if (rc < 0 && c->batch_failed)
        rc = err_set(e, "%s", c->berr.msg);
    else if (rc < 0 && c->batch && !enq_batch_fail_line(c->batch)) {
        /* the parse refused a record: the rows before it still wait in the batch,
         * unchecked, and a bad one among them is the first bad recipient */
        cherr be;
        if (queue_finish(c, &be) < 0 && enq_batch_fail_line(c->batch))
            err_set(e, "%s:%ld: %s", c->path, enq_batch_fail_line(c->batch), be.msg);
    }
    if (rc == 0 && !c->n)
        rc = err_set(e, "%s: no recipients: the file has a header and no rows", c->path);
    return rc;
}

/* The reader thread: the file, checked, in chunks to the writer; closes the relay on
 * every path. */
static void *csv_reader(void *arg)
{
    cctx *c = arg;
    c->rrc = store_reader_open(c->a->st, &c->reader, &c->rerr);
    if (c->rrc == 0)
        c->rrc = read_csv(c, &c->rerr);
    store_close(c->reader);
    c->reader = NULL;
    relay_close(&c->relay);
    return NULL;
}

/* Note the chunk's user ids among those seen: one seen before (or twice here) sets
 * maybe_dup, for check_dups. */
static int note_users(cctx *c, const enq_chunk *ch, cherr *e)
{
    uint64_t h[STORE_MANY];                     /* a chunk holds at most STORE_MANY */
    for (int i = 0; i < ch->n; i++)
        h[i] = hashset_hash(ch->m[i].user_id, strlen(ch->m[i].user_id));
    long present = hashset_add_many(&c->seen, h, (size_t)ch->n);
    if (present < 0)
        return err_set(e, "out of memory");
    if (present)
        c->maybe_dup = 1;
    return 0;
}

/* The writer: every chunk into the transaction; after an error the rest are dropped
 * and the reader is stopped. The messages' ids are consecutive: last_id is enough. */
static int csv_write(cctx *c, cherr *e)
{
    int rc = 0;
    enq_chunk *ch;
    while ((ch = relay_take(&c->relay))) {
        int64_t last;
        if (rc == 0 && (enq_chunk_write(c->a->st, ch, &last, e) < 0 || note_users(c, ch, e) < 0)) {
            rc = err_prefix(e, "%s:%ld: ", c->path, ch->line);
            relay_abort(&c->relay);
        } else if (rc == 0) {
            c->last_id = last;
        }
        enq_chunk_free(ch);
    }
    return rc;
}

static int create_csv(cctx *c, cherr *e)
{
    int rc = relay_init(&c->relay);
    if (rc)
        return err_set(e, "cannot start reading %s: %s", c->path, strerror(rc));
    pthread_t t;
    if ((rc = pthread_create(&t, NULL, csv_reader, c))) {
        relay_destroy(&c->relay);
        return err_set(e, "cannot start reading %s: %s", c->path, strerror(rc));
    }
    rc = csv_write(c, e);
    pthread_join(t, NULL);
    relay_destroy(&c->relay);
    /* a write failed on a chunk the reader had passed: it comes first */
    if (rc == 0 && c->rrc < 0) {
        rc = err_set(e, "%s", c->rerr.msg);
        if (c->batch && c->n)
            first_dup(c, e);
    }
    return rc;
}

/* ---- create: from a segment --------------------------------------------------------- */

typedef struct seg_ctx {
    cctx *c;
    cherr *e;
} seg_ctx;

static int seg_user(const store_user *u, void *arg)
{
    seg_ctx *s = arg;
    cctx *c = s->c;
    if (queue_one(c, u->user_id, NULL, NULL, 0, s->e) < 0) {
        const char *who = enq_batch_fail_user(c->batch);
        return err_prefix(s->e, "user '%s': ", who ? who : u->user_id);
    }
    if (c->n % PROGRESS_EVERY == 0)
        report(c, c->total ? (double)c->n / (double)c->total : -1);
    return 0;
}

/* Tier values in a segment must be tiers: a typo would select nobody. */
static int seg_check_tiers(const app *a, const campaign_seg *seg, cherr *e)
{
    for (int i = 0; i < seg->n; i++) {
        const store_seg_node *nd = &seg->v[i];
        if ((nd->kind != STORE_SEG_EQ && nd->kind != STORE_SEG_NE) ||
            nd->field != STORE_SEG_TIER || policy_tier_find(&a->pol, nd->value))
            continue;
        char names[256];
        policy_tier_names(&a->pol, names, sizeof names);
        return err_set(e, "segment: position %d: unknown tier '%.64s' (known: %s)", seg->pos[i],
                       nd->value, names);
    }
    return 0;
}

static int create_segment(cctx *c, const campaign_seg *seg, cherr *e)
{
    store_seg ss = {.v = seg->v, .n = seg->n};
    if (store_users_count(c->a->st, &ss, &c->total, e) < 0 || open_batch(c, e) < 0)
        return -1;
    if (!c->total)
        return err_set(e, "segment: no user matches '%s': nothing queued", c->sp->segment);
    seg_ctx s = {.c = c, .e = e};
    if (store_users_each(c->a->st, &ss, seg_user, &s, e) < 0)
        return -1;
    if (queue_finish(c, e) < 0) {
        const char *who = enq_batch_fail_user(c->batch);
        return who ? err_prefix(e, "user '%s': ", who) : -1;
    }
    return 0;
}

/* ---- create --------------------------------------------------------------------------- */

static int check_spec(app *a, const campaign_spec *s, int64_t now, int64_t *base, cherr *e)
{
    if (!s->name || !*s->name)
        return err_set(e, "name: missing (--name)");
    if (csvr_utf8_bad(s->name, strlen(s->name)))
        return err_set(e, "name: not valid UTF-8");
    if (!s->tmpl || !*s->tmpl)
        return err_set(e, "template: missing (--template)");
    if (!tpl_find(&a->tpls, s->tmpl))
        return err_set(e, "template: unknown template '%s' (no %s/%s.ini)", s->tmpl,
                       a->templates_dir, s->tmpl);
    if (!s->recipients == !s->segment)
        return err_set(e, "recipients: give either a CSV file (--recipients) or a segment "
                       "(--segment), not %s", s->recipients ? "both" : "neither");
    if (s->klass && !tpl_class_valid(s->klass))
        return err_set(e, "class: '%s' is not transactional, lifecycle or marketing", s->klass);
    if (s->spread < 0)
        return err_set(e, "spread: must not be negative");
    *base = now;
    if (s->at && tu_parse_time(s->at, now, base, e) < 0)
        return err_prefix(e, "at: ");
    if (s->expires) {
        int64_t d, x;
        cherr e2;
        if (tu_parse_duration(s->expires, &d, &e2) < 0) {
            if (tu_parse_time(s->expires, now, &x, e) < 0)
                return err_prefix(e, "expires: ");
            if (x <= *base)
                return err_set(e, "expires: the messages would expire before they are due");
        }
    }
    return 0;
}

/* The campaign's one `enqueued` audit row: what was queued, for how many, when. */
static int log_created(cctx *c, const store_campaign *camp, cherr *e)
{
    char reason[600], t1[32], t2[32];
    snprintf(reason, sizeof reason, "campaign %" PRId64 " '%.100s': %ld messages of template %s "
             "from %.300s, due %s to %s", c->id, camp->name, c->n, camp->tmpl, camp->source,
             tu_format(c->first_due, t1, sizeof t1), tu_format(c->last_due, t2, sizeof t2));
    char detail[80];
    snprintf(detail, sizeof detail, "messages=%" PRId64 "-%" PRId64, c->first_id, c->last_id);
    store_event ev = {.at = c->now, .campaign_id = c->id, .event = "enqueued",
                      .reason = reason, .detail = detail};
    return store_log(c->a->st, &ev, e);
}

int campaign_create(app *a, const campaign_spec *s, int64_t now, campaign_progress_fn progress,
                    void *arg, campaign_result *out, cherr *e)
{
    cctx *c = calloc(1, sizeof *c);
    if (!c)
        return err_set(e, "out of memory");
    campaign_seg seg = {0};
    c->a = a;
    c->sp = s;
    c->now = now;
    c->progress = progress;
    c->parg = arg;
    c->path = s->recipients;
    int rc = check_spec(a, s, now, &c->base, e);
    if (rc == 0 && s->segment && (rc = campaign_seg_parse(s->segment, &seg, e)) == 0)
        rc = seg_check_tiers(a, &seg, e);
    if (rc == 0 && s->recipients && s->spread)
        c->total = rcp_count(s->recipients);
    if (rc < 0)
        goto done;

    buf source = {0};
    if (s->segment)
        buf_printf(&source, "segment: %s", s->segment);
    else
        buf_puts(&source, s->recipients);
    store_campaign camp = {
        .name = (char *)s->name, .tmpl = (char *)s->tmpl, .source = source.s,
        .state = "active", .at = c->base, .spread = s->spread, .total = c->total,
        .created_at = now,
    };
    if ((rc = store_begin(a->st, e)) == 0) {
        rc = store_campaign_add(a->st, &camp, e);
        c->id = camp.id;
        if (rc == 0)
            rc = s->segment ? create_segment(c, &seg, e) : create_csv(c, e);
        c->first_id = c->last_id - c->n + 1;        /* one range: consecutive ids */
        if (rc == 0)
            rc = c->path ? check_dups(c, e) : 0;
        if (rc == 0 && c->n != camp.total)
            rc = store_campaign_update(a->st, c->id, "active", c->n, e);
        if (rc == 0)
            rc = store_campaign_ids(a->st, c->id, c->first_id, c->last_id, e);
        if (rc == 0)
            rc = log_created(c, &camp, e);
        if (rc == 0)
            rc = store_commit(a->st, e);
        else
            store_rollback(a->st);
    }
    buf_free(&source);
    if (rc == 0) {
        report(c, 1.0);
        if (out)
            *out = (campaign_result){.id = c->id, .queued = c->n, .first_due = c->first_due,
                                     .last_due = c->last_due};
    }
done:
    campaign_seg_free(&seg);
    enq_batch_free(c->batch);
    hashset_free(&c->seen);
    for (size_t i = 0; i < c->ncols; i++)
        free(c->colname[i]);
    free(c);
    return rc;
}

/* ---- control -------------------------------------------------------------------------- */

/* Begin and read the campaign; on error nothing is left open. */
static int begin_get(app *a, int64_t id, store_campaign *c, const char *verb, cherr *e)
{
    if (store_begin(a->st, e) < 0)
        return -1;
    int found = store_campaign_get(a->st, id, c, e);
    if (found <= 0) {
        store_rollback(a->st);
        return found < 0 ? -1 : err_set(e, "no campaign %" PRId64, id);
    }
    if (!strcmp(c->state, "cancelled") && strcmp(verb, "cancel")) {
        store_rollback(a->st);
        store_campaign_free(c);
        return err_set(e, "campaign %" PRId64 " is cancelled: nothing to %s", id, verb);
    }
    return 0;
}

static int end(app *a, store_campaign *c, int rc, cherr *e)
{
    if (rc == 0)
        rc = store_commit(a->st, e);
    else
        store_rollback(a->st);
    store_campaign_free(c);
    return rc;
}

int campaign_pause(app *a, int64_t id, int64_t now, long *n, cherr *e)
{
    store_campaign c;
    *n = 0;
    if (begin_get(a, id, &c, "pause", e) < 0)
        return -1;
    int rc = store_campaign_hold(a->st, id, now, n, e);
    if (rc == 0)
        rc = store_campaign_update(a->st, id, "paused", c.total, e);
    return end(a, &c, rc, e);
}

int campaign_resume(app *a, int64_t id, int64_t now, long *n, cherr *e)
{
    store_campaign c;
    *n = 0;
    (void)now;
    if (begin_get(a, id, &c, "resume", e) < 0)
        return -1;
    int rc = store_campaign_release(a->st, id, n, e);
    if (rc == 0)
        rc = store_campaign_update(a->st, id, "active", c.total, e);
    return end(a, &c, rc, e);
}

int campaign_cancel(app *a, int64_t id, int64_t now, long *n, cherr *e)
{
    store_campaign c;
    *n = 0;
    if (begin_get(a, id, &c, "cancel", e) < 0)
        return -1;
    char reason[64];
    snprintf(reason, sizeof reason, "campaign %" PRId64 " cancelled", id);
    int64_t after = 0;
    int rc = 0, got;
    do {
        store_msg *v = NULL;
        got = 0;
        rc = store_campaign_pending(a->st, id, now, after, CANCEL_BATCH, &v, &got, e);
        for (int i = 0; rc == 0 && i < got; i++) {
            store_event ev = {.at = now, .message_id = v[i].id, .campaign_id = id,
                              .user_id = v[i].user_id, .event = "cancelled", .reason = reason};
            rc = store_finish(a->st, &v[i], "cancelled", NULL, NULL, now, e);
            if (rc == 0)
                rc = store_log(a->st, &ev, e);
            after = v[i].id;
            (*n)++;
        }
        store_msgs_free(v, got);
    } while (rc == 0 && got == CANCEL_BATCH);
    if (rc == 0)
        rc = store_campaign_update(a->st, id, "cancelled", c.total, e);
    return end(a, &c, rc, e);
}

/* ---- the funnel ----------------------------------------------------------------------- */

typedef struct funnel {
    json_t *f;                  /* the funnel object */
} funnel;

static json_t *iso(int64_t ms)
{
    char ts[32];
    return json_string(tu_format(ms, ts, sizeof ts));
}

/* One (event, code) group from the aggregate counts. */
static int funnel_row(const char *const *v, int nv, int64_t n, void *arg)
{
    funnel *fu = arg;
    const char *event = v[0] ? v[0] : "", *code = v[1] && *v[1] ? v[1] : "none";
    const char *by = !strcmp(event, "suppressed") ? "by_reason"
                     : !strcmp(event, "failed")   ? "by_code" : NULL;
    json_t *cur = json_object_get(fu->f, event);
    if (!by) {
        json_object_set_new(fu->f, event, json_integer((cur ? json_integer_value(cur) : 0) + n));
        return 0;
    }
    json_t *total = json_object_get(cur, "total"), *map = json_object_get(cur, by);
    json_object_set_new(cur, "total", json_integer(json_integer_value(total) + n));
    json_t *old = json_object_get(map, code);
    json_object_set_new(map, code, json_integer((old ? json_integer_value(old) : 0) + n));
    return 0;
}

int campaign_show_json(app *a, int64_t id, json_t **out, cherr *e)
{
    *out = NULL;
    store_campaign c;
    int found = store_campaign_get(a->st, id, &c, e);
    if (found <= 0) {
        if (found == 0)
            err_set(e, "no campaign %" PRId64, id);
        return found;
    }
    store_campcounts qc;
    if (store_campaign_counts(a->st, id, tu_now(), &qc, e) < 0) {
        store_campaign_free(&c);
        return -1;
    }
    json_t *f = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:{}}, "
                          "s:{s:I, s:{}}, s:I, s:I, s:I}",
                          "queued", (json_int_t)qc.queued, "held", (json_int_t)qc.held,
                          "sending", (json_int_t)qc.leased, "enqueued", (json_int_t)0,
                          "sent", (json_int_t)0, "delivered", (json_int_t)0,
                          "deferred", (json_int_t)0, "retry", (json_int_t)0,
                          "suppressed", "total", (json_int_t)0, "by_reason",
                          "failed", "total", (json_int_t)0, "by_code",
                          "expired", (json_int_t)0, "cancelled", (json_int_t)0,
                          "uncertain", (json_int_t)0);
    funnel fu = {.f = f};
    store_statq q = {.campaign_id = id, .by = {"event", "code"}, .nby = 2};
    int rc = f ? store_stats(a->st, &q, funnel_row, &fu, e) : err_set(e, "out of memory");
    /* the campaign's messages were enqueued together, under one audit row */
    if (rc == 0)
        json_object_set_new(f, "enqueued", json_integer((json_int_t)c.total));
    json_t *o = NULL;
    if (rc == 0) {
        o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:I, s:I, s:o, s:O}",
                      "id", (json_int_t)c.id, "name", c.name, "template", c.tmpl,
                      "source", c.source, "state", c.state, "at", iso(c.at),
                      "spread_ms", (json_int_t)c.spread, "total", (json_int_t)c.total,
                      "created_at", iso(c.created_at), "funnel", f);
        if (!o)
            rc = err_set(e, "out of memory");
    }
    json_decref(f);
    store_campaign_free(&c);
    if (rc < 0)
        return -1;
    *out = o;
    return 1;
}
