/* cmd_log.c — what auditors and operators read: `chuda log` (filtered listing as a
 * table, CSV or JSON lines, personal data masked), `chuda log verify` (the chain,
 * through archive files, to a pinned head; the cross-checks: verify.h), `chuda log
 * head` (what to pin), `chuda log archive` (old rows to a gzip file: archive.h), and
 * `chuda stats` (counts from the pre-aggregated table). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "archive.h"
#include "audit.h"
#include "cmd.h"
#include "fixstr.h"
#include "mask.h"
#include "timeutil.h"
#include "verify.h"

static const char log_usage[] =
    "usage: chuda log [--format table|csv|json] [--message ID] [--user U] [--campaign C]\n"
    "                 [--event E] [--channel C] [--since TIME] [--until TIME] [--limit N]\n"
    "                 [--unmasked]\n"
    "       chuda log verify [--head SEQ:HASH] [--archive FILE]...\n"
    "       chuda log head\n"
    "       chuda log archive --before TIME FILE.jsonl.gz\n\n"
    "Print the audit log, oldest first (by time, then seq). json: one object per line\n"
    "with seq, at (ISO 8601 UTC), message_id, user_id, campaign_id, event, channel,\n"
    "reason, code, detail, target. Events: enqueued, deferred, suppressed, sent, retry,\n"
    "failed, cancelled, expired, uncertain, delivered. Phone numbers and openids are\n"
    "masked wherever they appear unless --unmasked is given and [chuda] allow_unmasked\n"
    "= yes.\n"
    "verify recomputes the hash chain (through the archive files given, in any order)\n"
    "and cross-checks the recorded head, the aggregate counts and every message's\n"
    "enqueued row; it names the first row altered, removed or inserted; exit 0 only when\n"
    "intact. --head SEQ:HASH (from `chuda log head`, kept outside the database) must be\n"
    "on the chain, proven from the first row. archive verifies, then moves every row\n"
    "written before TIME to a new gzip file of JSON lines (never over an existing file)\n"
    "and keeps the chain verifiable across the cut.\n";

/* "--campaign 12": a positive integer, or a one-line error. */
static int parse_id(const char *opt, const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v <= 0) {
        cmd_error("%s '%s': expected a positive integer", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_format(const char *format, int *out)
{
    static const char *const names[] = {"table", "csv", "json"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(format, names[i])) {
            *out = i;
            return 0;
        }
    cmd_error("--format '%s': expected table, csv or json", format);
    return -1;
}

/* --since/--until (either may be NULL: open) into ms; a one-line error naming which. */
static int parse_period(const char *since, const char *until, int64_t *s, int64_t *u)
{
    cherr e;
    int64_t now = tu_now();
    if (since && tu_parse_time(since, now, s, &e) < 0) {
        cmd_error("--since: %s", e.msg);
        return -1;
    }
    if (until && tu_parse_time(until, now, u, &e) < 0) {
        cmd_error("--until: %s", e.msg);
        return -1;
    }
    return 0;
}

/* ---- the listing -------------------------------------------------------------------- */

typedef struct out_ctx {
    int format;                 /* 0 table, 1 csv, 2 json */
    int unmasked;
    buf m[3];                   /* masked user_id, reason, detail */
    int oom;                    /* a row could not be printed: the listing stopped there */
} out_ctx;

/* RFC 4180: quote when needed, double the quotes. */
static void csv_field(const char *s, int last)
{
    if (!s)
        s = "";
    if (strpbrk(s, ",\"\r\n")) {
        putchar('"');
        for (; *s; s++) {
            if (*s == '"')
                putchar('"');
            putchar(*s);
        }
        putchar('"');
    } else {
        fputs(s, stdout);
    }
    putchar(last ? '\n' : ',');
}

/* The row as printed: personal data masked in every text field (unless unmasked). */
static int masked_row(out_ctx *o, const store_logrow *r, store_logrow *out, char *target,
                      size_t tlen)
{
    *out = *r;
    if (o->unmasked)
        return 0;
    if (r->target)
        mask_target(r->target, target, tlen);
    out->target = r->target ? target : NULL;
    const char *in[3] = {r->user_id, r->reason, r->detail};
    const char **dst[3] = {&out->user_id, &out->reason, &out->detail};
    for (int i = 0; i < 3; i++) {
        buf_reset(&o->m[i]);
        if (in[i] && mask_text(in[i], r->target, &o->m[i]) < 0)
            return -1;
        *dst[i] = in[i] ? o->m[i].s : NULL;
    }
    return 0;
}

static void print_csv(const store_logrow *r)
{
    char ts[32], num[3][24];
    snprintf(num[0], sizeof num[0], "%" PRId64, r->seq);
    snprintf(num[1], sizeof num[1], "%" PRId64, r->message_id);
    snprintf(num[2], sizeof num[2], "%" PRId64, r->campaign_id);
    csv_field(num[0], 0);
    csv_field(tu_format(r->at, ts, sizeof ts), 0);
    csv_field(r->message_id ? num[1] : "", 0);
    csv_field(r->user_id, 0);
    csv_field(r->campaign_id ? num[2] : "", 0);
    csv_field(r->event, 0);
    csv_field(r->channel, 0);
    csv_field(r->target, 0);
    csv_field(r->code, 0);
    csv_field(r->reason, 0);
    csv_field(r->detail, 1);
}

static int print_row(const store_logrow *raw, void *arg)
{
    out_ctx *o = arg;
    char target[160], ts[32];
    store_logrow r;
    if (masked_row(o, raw, &r, target, sizeof target) < 0) {
        o->oom = 1;
        return -1;
    }
    if (o->format == 2) {
        json_t *j = arch_row_json(&r, 0);
        char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(j);
        if (!s) {
            o->oom = 1;
            return -1;
        }
        puts(s);
        free(s);
    } else if (o->format == 1) {
        print_csv(&r);
    } else {
        printf("%-7" PRId64 " %s  %-7" PRId64 " %-12s %-10s %-13s %-16s %-10s %s\n", r.seq,
               tu_format(r.at, ts, sizeof ts), r.message_id, r.user_id ? r.user_id : "-",
               r.event, r.channel ? r.channel : "-", r.target ? r.target : "-",
               r.code ? r.code : "-", r.reason ? r.reason : "");
    }
    return 0;
}

/* ---- verify, head ------------------------------------------------------------------ */

/* "SEQ:HASH" */
static int parse_head(const char *s, verify_opts *o)
{
    char *end;
    errno = 0;
    long long seq = strtoll(s, &end, 10);
    if (errno || seq <= 0 || *end != ':' || audit_unhex(end + 1, o->pin_hash) < 0) {
        cmd_error("--head '%s': expected SEQ:HASH as `chuda log head` prints it", s);
        return -1;
    }
    o->pinned = 1;
    o->pin_seq = seq;
    return 0;
}

/* Run the proof and say what it found; 0 intact, 1 broken or unreadable. */
static int run_verify(app *a, const verify_opts *o)
{
    cherr e;
    verify_result r;
    if (verify_log(a->st, o, &r, &e) < 0) {
        cmd_error("%s", e.msg);
        return 1;
    }
    for (int i = 0; i < r.nproblems; i++)
        printf("audit log BROKEN: %s\n", r.problem[i]);
    fflush(stdout);             /* before any error that follows on stderr */
    if (r.nproblems)
        return 1;
    const store_anchor *an = &r.anchor;
    if (o->narchives)
        printf("audit log intact: rows %" PRId64 "-%" PRId64 ", %ld from %d archive file%s and "
               "%ld in the database%s\n", r.from_seq + 1, r.to_seq, r.archived_rows,
               o->narchives, o->narchives > 1 ? "s" : "", r.db_rows,
               r.from_seq ? " (the archives before them were not given)" : "");
    else if (an->seq)
        printf("audit log intact: %ld rows after the archive anchor (row %" PRId64 ", %s); rows "
               "1-%" PRId64 " are proven only with --archive\n", r.db_rows, an->seq, an->file,
               an->seq);
    else
        printf("audit log intact: %ld rows\n", r.db_rows);
    if (o->pinned)
        printf("the pinned head, row %" PRId64 ", is on the chain\n", o->pin_seq);
    return 0;
}

static int log_verify(app *a, int argc, char **argv)
{
    verify_opts o = {0};
    const char **files = calloc((size_t)argc, sizeof *files);
    int rc = 2;
    if (!files)
        return 1;
    o.archives = files;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--archive") && i + 1 < argc) {
            files[o.narchives++] = argv[++i];
        } else if (!strcmp(argv[i], "--head") && i + 1 < argc) {
            if (parse_head(argv[++i], &o) < 0)
                goto out;
        } else {
            fputs(log_usage, stderr);
            goto out;
        }
    }
    rc = run_verify(a, &o);
out:
    free(files);
    return rc;
}

static int log_head(app *a)
{
    cherr e;
    store_head rec, last;
    if (store_log_head(a->st, &rec, &last, &e) < 0) {
        cmd_error("%s", e.msg);
        return 1;
    }
    if (rec.seq != last.seq || memcmp(rec.hash, last.hash, AUDIT_HASH_LEN)) {
        cmd_error("the log ends at row %" PRId64 " but chuda's last commit recorded row %" PRId64
                  ": run `chuda log verify`", last.seq, rec.seq);
        return 1;
    }
    char hex[AUDIT_HEX_LEN + 1];
    audit_hex(last.hash, hex);
    printf("%" PRId64 ":%s\n", last.seq, hex);
    return 0;
}

/* ---- archive ---------------------------------------------------------------------- */

static int archive_row(const store_logrow *r, void *arg)
{
    cherr e;
    if (arch_put(arg, r, &e) < 0) {
        cmd_error("%s", e.msg);
        return 1;
    }
    return 0;
}

/* FILE as an absolute path, for the anchor. */
static char *abs_path(const char *file)
{
    char cwd[4096], *out = NULL;
    if (file[0] == '/')
        return strdup(file);
    if (!getcwd(cwd, sizeof cwd) || asprintf(&out, "%s/%s", cwd, file) < 0)
        return NULL;
    return out;
}

/* Inside the transaction: verify, write the file, move the rows, link the file. */
static int archive_tx(app *a, int64_t before, const char *file, long *n)
{
    cherr e;
    verify_opts none = {0};
    if (run_verify(a, &none) != 0) {
        cmd_error("not archiving a broken log: nothing was changed");
        return -1;
    }
    store_anchor an;
    arch_writer w;
    char *path = abs_path(file);
    if (!path || store_log_anchor(a->st, &an, &e) < 0 ||
        arch_create(&w, file, an.seq, an.hash, &e) < 0) {
        cmd_error("%s", path ? e.msg : "out of memory");
        free(path);
        return -1;
    }
    int rc = store_log_archive(a->st, before, path, archive_row, &w, n, &e);
    free(path);
    if (rc < 0) {
        cmd_error("%s", e.msg);
        arch_abort(&w);
        return -1;
    }
    if (*n == 0) {
        arch_abort(&w);
        return 0;
    }
    /* the file is complete on disk before the rows leave the database */
    if (arch_commit(&w, &e) < 0) {
        cmd_error("%s", e.msg);
        return -1;
    }
    return 0;
}

static int log_archive(app *a, int argc, char **argv)
{
    const char *before = NULL, *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--before") && i + 1 < argc)
            before = argv[++i];
        else if (argv[i][0] != '-' && !file)
            file = argv[i];
        else {
            fputs(log_usage, stderr);
            return 2;
        }
    }
    cherr e;
    int64_t t;
    if (!before || !file) {
        cmd_error("archive needs --before TIME and a FILE");
        return 2;
    }
    if (tu_parse_time(before, tu_now(), &t, &e) < 0) {
        cmd_error("--before: %s", e.msg);
        return 2;
    }
    if (access(file, F_OK) == 0) {
        cmd_error("%s: exists: an archive is never overwritten", file);
        return 1;
    }
    long n = 0;
    if (store_begin(a->st, &e) < 0) {
        cmd_error("%s", e.msg);
        return 1;
    }
    if (archive_tx(a, t, file, &n) < 0) {
        store_rollback(a->st);
        return 1;
    }
    if (store_commit(a->st, &e) < 0) {
        cmd_error("%s (%s was written; the rows are still in the log)", e.msg, file);
        return 1;
    }
    if (n)
        printf("%ld rows archived to %s\n", n, file);
    else
        printf("nothing to archive before %s\n", before);
    return 0;
}

static int log_list(const cmd_globals *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, 0, 'f'},  {"message", required_argument, 0, 'm'},
        {"user", required_argument, 0, 'u'},    {"event", required_argument, 0, 'e'},
        {"channel", required_argument, 0, 'c'}, {"since", required_argument, 0, 's'},
        {"until", required_argument, 0, 't'},   {"limit", required_argument, 0, 'l'},
        {"campaign", required_argument, 0, 'C'}, {"unmasked", no_argument, 0, 'U'},
        {0, 0, 0, 0},
    };
    const char *since = NULL, *until = NULL;
    store_logq q = {0};
    out_ctx o = {0};
    int c, bad = 0;
    int64_t limit = 0;
    optind = 1;
    while (!bad && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'f': bad = parse_format(optarg, &o.format); break;
        case 'm': bad = parse_id("--message", optarg, &q.message_id); break;
        case 'u': q.user_id = optarg; break;
        case 'e': q.event = optarg; break;
        case 'c': q.channel = optarg; break;
        case 's': since = optarg; break;
        case 't': until = optarg; break;
        case 'l': bad = parse_id("--limit", optarg, &limit); break;
        case 'C': bad = parse_id("--campaign", optarg, &q.campaign_id); break;
        case 'U': o.unmasked = 1; break;
        default: fputs(log_usage, stderr); return 2;
        }
    }
    if (bad)
        return 2;
    if (optind != argc) {
        fputs(log_usage, stderr);
        return 2;
    }
    q.limit = (long)limit;
    cherr e;
    if (parse_period(since, until, &q.since, &q.until) < 0)
        return 2;
    app a;
    if (cmd_app_open(&a, g, APP_DB) < 0)
        return 1;
    if (o.unmasked && cmd_unmasked_allowed(&a) < 0) {
        app_close(&a);
        return 2;
    }
    if (o.format == 0)
        printf("%-7s %-24s  %-7s %-12s %-10s %-13s %-16s %-10s %s\n", "seq", "at", "message",
               "user", "event", "channel", "target", "code", "reason");
    else if (o.format == 1)
        puts("seq,at,message_id,user_id,campaign_id,event,channel,target,code,reason,detail");
    int rc = store_log_each(a.st, &q, print_row, &o, &e);
    if (rc < 0)
        cmd_error("%s", e.msg);
    else if (o.oom) {
        cmd_error("log: out of memory: the listing stopped before its end");
        rc = -1;
    }
    for (int i = 0; i < 3; i++)
        buf_free(&o.m[i]);
    app_close(&a);
    return rc < 0 ? 1 : 0;
}

int cmd_log(const cmd_globals *g, int argc, char **argv)
{
    if (cmd_help(argc, argv, log_usage))
        return 0;
    static const char *const subs[] = {"verify", "head", "archive"};
    int sub = -1;
    for (int i = 0; argc >= 2 && i < 3; i++)
        if (!strcmp(argv[1], subs[i]))
            sub = i;
    if (sub < 0)
        return log_list(g, argc, argv);
    if (sub == 1 && argc != 2) {
        fputs(log_usage, stderr);
        return 2;
    }
    app a;
    if (cmd_app_open(&a, g, APP_DB) < 0)
        return 1;
    int rc = sub == 0 ? log_verify(&a, argc - 1, argv + 1)
           : sub == 1 ? log_head(&a) : log_archive(&a, argc - 1, argv + 1);
    app_close(&a);
    return rc;
}

/* ---- stats ------------------------------------------------------------------------- */

static const char stats_usage[] =
    "usage: chuda stats [--campaign C] [--since TIME] [--until TIME]\n"
    "                   [--by channel,tier,event,code,campaign,hour,day] [--format table|csv|json]\n\n"
    "Counts of audit events, grouped (default: by event), from the aggregate table kept\n"
    "with the log: fast on millions of rows. Hour granularity for --since/--until.\n";

typedef struct stat_ctx {
    int format;
    const store_statq *q;
    int rows;
} stat_ctx;

/* The header (table, csv), once: before the first group, or alone when there is none
 * (the store has checked the dimensions by then). */
static void stat_header(stat_ctx *sc)
{
    if (sc->rows++ || sc->format == 2)
        return;
    for (int i = 0; i < sc->q->nby; i++) {
        if (sc->format == 1)
            csv_field(sc->q->by[i], 0);
        else
            printf("%-16s ", sc->q->by[i]);
    }
    printf("n\n");
}

static int print_stat(const char *const *v, int nv, int64_t n, void *arg)
{
    stat_ctx *sc = arg;
    stat_header(sc);
    if (sc->format == 2) {
        json_t *o = json_object();
        for (int i = 0; i < nv; i++)
            json_object_set_new(o, sc->q->by[i], json_string(v[i] ? v[i] : ""));
        json_object_set_new(o, "n", json_integer(n));
        char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (s)
            puts(s);
        free(s);
        json_decref(o);
        return 0;
    }
    for (int i = 0; i < nv; i++) {
        if (sc->format == 1)
            csv_field(v[i], 0);
        else
            printf("%-16s ", v[i] && *v[i] ? v[i] : "-");
    }
    printf("%lld\n", (long long)n);
    return 0;
}

int cmd_stats(const cmd_globals *g, int argc, char **argv)
{
    if (cmd_help(argc, argv, stats_usage))
        return 0;
    static const struct option opts[] = {
        {"campaign", required_argument, 0, 'C'}, {"since", required_argument, 0, 's'},
        {"until", required_argument, 0, 't'},    {"by", required_argument, 0, 'b'},
        {"format", required_argument, 0, 'f'},   {0, 0, 0, 0},
    };
    const char *since = NULL, *until = NULL;
    char by[200] = "event";
    store_statq q = {0};
    stat_ctx sc = {.q = &q};
    int c, bad = 0;
    optind = 1;
    while (!bad && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'C': bad = parse_id("--campaign", optarg, &q.campaign_id); break;
        case 's': since = optarg; break;
        case 't': until = optarg; break;
        case 'b': fs_copy(by, sizeof by, optarg); break;
        case 'f': bad = parse_format(optarg, &sc.format); break;
        default: fputs(stats_usage, stderr); return 2;
        }
    }
    if (bad || parse_period(since, until, &q.since, &q.until) < 0)
        return 2;
    if (optind != argc) {
        fputs(stats_usage, stderr);
        return 2;
    }
    for (char *save, *tok = strtok_r(by, ",", &save); tok && q.nby < 8;
         tok = strtok_r(NULL, ",", &save))
        q.by[q.nby++] = tok;
    cherr e;
    app a;
    if (cmd_app_open(&a, g, APP_DB) < 0)
        return 1;
    int rc = store_stats(a.st, &q, print_stat, &sc, &e);
    if (rc < 0)
        cmd_error("%s", e.msg);
    else if (!sc.rows)
        stat_header(&sc);
    app_close(&a);
    return rc < 0 ? (strstr(e.msg, "--by") ? 2 : 1) : 0;
}
