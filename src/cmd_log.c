/* cmd_log.c — what auditors and operators read: `chuda log` (filtered listing as a
 * table, CSV or JSON lines, personal data masked), `chuda log verify` (the hash
 * chain), `chuda log archive` (old rows to a gzip file, chain kept verifiable), and
 * `chuda stats` (counts from the pre-aggregated table). */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "app.h"
#include "audit.h"
#include "cmd.h"
#include "mask.h"
#include "timeutil.h"

static const char log_usage[] =
    "usage: chuda log [--format table|csv|json] [--message ID] [--user U] [--campaign C]\n"
    "                 [--event E] [--channel C] [--since TIME] [--until TIME] [--limit N]\n"
    "                 [--unmasked]\n"
    "       chuda log verify\n"
    "       chuda log head\n"
    "       chuda log archive --before TIME FILE.jsonl.gz\n\n"
    "Print the audit log, oldest first. json: one object per line with seq, at (ISO 8601\n"
    "UTC), message_id, user_id, campaign_id, event, channel, reason, code, detail, target.\n"
    "Events: enqueued, deferred, suppressed, sent, retry, failed, cancelled, expired,\n"
    "uncertain, delivered. Phone numbers and openids (target) are masked unless\n"
    "--unmasked is given and [chuda] allow_unmasked = yes.\n"
    "verify recomputes the hash chain and names the first row that was altered, removed\n"
    "or inserted; exit 0 only when intact. head prints SEQ:HASH of the last row, to keep\n"
    "outside the database. archive moves every row written before TIME\n"
    "to a gzip file of JSON lines (with hashes) and keeps the chain verifiable.\n";

typedef struct out_ctx {
    int format;                 /* 0 table, 1 csv, 2 json */
    int unmasked;
    gzFile gz;                  /* archive */
} out_ctx;

static void target_text(const out_ctx *o, const char *t, char *out, size_t len)
{
    if (!t)
        out[0] = '\0';
    else if (o->unmasked)
        snprintf(out, len, "%s", t);
    else
        mask_target(t, out, len);
}

static json_t *row_json(const store_logrow *r, const char *target, int with_hash)
{
    char ts[32];
    json_t *o = json_object();
    json_object_set_new(o, "seq", json_integer(r->seq));
    json_object_set_new(o, "at", json_string(tu_format(r->at, ts, sizeof ts)));
    json_object_set_new(o, "message_id", r->message_id ? json_integer(r->message_id) : json_null());
    json_object_set_new(o, "user_id", r->user_id ? json_string(r->user_id) : json_null());
    json_object_set_new(o, "campaign_id",
                        r->campaign_id ? json_integer(r->campaign_id) : json_null());
    json_object_set_new(o, "event", json_string(r->event));
    json_object_set_new(o, "channel", r->channel ? json_string(r->channel) : json_null());
    json_object_set_new(o, "reason", r->reason ? json_string(r->reason) : json_null());
    json_object_set_new(o, "code", r->code ? json_string(r->code) : json_null());
    json_object_set_new(o, "detail", r->detail ? json_string(r->detail) : json_null());
    json_object_set_new(o, "target", target && *target ? json_string(target) : json_null());
    if (with_hash && r->hash) {
        char hex[2 * AUDIT_HASH_LEN + 1];
        for (int i = 0; i < AUDIT_HASH_LEN; i++)
            snprintf(hex + 2 * i, 3, "%02x", r->hash[i]);
        json_object_set_new(o, "at_ms", json_integer(r->at));
        json_object_set_new(o, "hash", json_string(hex));
    }
    return o;
}

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

static int print_row(const store_logrow *r, void *arg)
{
    out_ctx *o = arg;
    char target[160], ts[32], num[3][24];
    target_text(o, r->target, target, sizeof target);
    if (o->format == 2) {
        json_t *j = row_json(r, target, 0);
        char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (s)
            puts(s);
        free(s);
        json_decref(j);
    } else if (o->format == 1) {
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
        csv_field(target, 0);
        csv_field(r->code, 0);
        csv_field(r->reason, 0);
        csv_field(r->detail, 1);
    } else {
        printf("%-7" PRId64 " %s  %-7" PRId64 " %-12s %-10s %-13s %-16s %-10s %s\n", r->seq,
               tu_format(r->at, ts, sizeof ts), r->message_id, r->user_id ? r->user_id : "-",
               r->event, r->channel ? r->channel : "-", target[0] ? target : "-",
               r->code ? r->code : "-", r->reason ? r->reason : "");
    }
    return 0;
}

/* ---- verify ----------------------------------------------------------------------- */

typedef struct verify_ctx {
    unsigned char prev[AUDIT_HASH_LEN];
    int64_t prev_seq;
    long rows;
    char problem[400];
} verify_ctx;

static int verify_row(const store_logrow *r, void *arg)
{
    verify_ctx *v = arg;
    if (r->seq != v->prev_seq + 1) {
        if (r->seq > v->prev_seq + 1)
            snprintf(v->problem, sizeof v->problem, "rows %" PRId64 "-%" PRId64
                     " were removed (the chain jumps from %" PRId64 " to %" PRId64 ")",
                     v->prev_seq + 1, r->seq - 1, v->prev_seq, r->seq);
        else
            snprintf(v->problem, sizeof v->problem, "row %" PRId64 " is out of order", r->seq);
        return 1;
    }
    unsigned char h[AUDIT_HASH_LEN];
    audit_hash(v->prev, r->seq, r->at, r->message_id, r->campaign_id, r->user_id, r->event,
               r->channel, r->reason, r->code, r->detail, r->target, h);
    if (!r->hash || memcmp(h, r->hash, AUDIT_HASH_LEN)) {
        /* is the row's stored hash consistent with different content (altered), or does
         * the chain break here because a row was slipped in? Either way it starts here. */
        snprintf(v->problem, sizeof v->problem, "row %" PRId64 " (%s, message %" PRId64
                 ") does not match its hash: it was altered or inserted", r->seq,
                 r->event ? r->event : "?", r->message_id);
        return 1;
    }
    memcpy(v->prev, r->hash, AUDIT_HASH_LEN);
    v->prev_seq = r->seq;
    v->rows++;
    return 0;
}

static int first_seq(const store_logrow *r, void *arg)
{
    *(int64_t *)arg = r->seq;
    return 1;
}

static int log_verify(app *a)
{
    cherr e;
    store_anchor an;
    if (store_log_anchor(a->st, &an, &e) < 0) {
        cmd_error("%s", e.msg);
        return 1;
    }
    verify_ctx v = {.prev_seq = an.seq};
    memcpy(v.prev, an.hash, AUDIT_HASH_LEN);
    store_logq q = {.after_seq = an.seq, .by_seq = 1};
    if (store_log_each(a->st, &q, verify_row, &v, &e) < 0) {
        cmd_error("%s", e.msg);
        return 1;
    }
    if (!v.problem[0] && an.seq) {
        /* a row at or before the anchor was put back after archiving */
        store_logq first = {.after_seq = 0, .limit = 1, .by_seq = 1};
        int64_t seq = 0;
        if (store_log_each(a->st, &first, first_seq, &seq, &e) < 0) {
            cmd_error("%s", e.msg);
            return 1;
        }
        if (seq && seq <= an.seq)
            snprintf(v.problem, sizeof v.problem, "row %" PRId64 " is at or before the archive "
                     "anchor (row %" PRId64 "): it was inserted", seq, an.seq);
    }
    if (v.problem[0]) {
        printf("audit log BROKEN: %s\n", v.problem);
        return 1;
    }
    if (an.seq)
        printf("audit log intact: %ld rows after the archive anchor (row %" PRId64 ", %s)\n",
               v.rows, an.seq, an.file);
    else
        printf("audit log intact: %ld rows\n", v.rows);
    return 0;
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
    out_ctx *o = arg;
    json_t *j = row_json(r, r->target, 1);
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!s)
        return 1;
    int ok = gzputs(o->gz, s) >= 0 && gzputc(o->gz, '\n') >= 0;
    free(s);
    return !ok;
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
    out_ctx o = {0};
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", file);
    o.gz = gzopen(tmp, "wbx9");
    if (!o.gz) {
        cmd_error("%s: cannot create (does it exist already?)", tmp);
        return 1;
    }
    long n = 0;
    if (store_begin(a->st, &e) < 0 || store_log_archive(a->st, t, file, archive_row, &o, &n, &e) < 0) {
        store_rollback(a->st);
        gzclose(o.gz);
        remove(tmp);
        cmd_error("%s", e.msg);
        return 1;
    }
    /* the file is complete on disk before the rows leave the database */
    if (gzclose(o.gz) != Z_OK || rename(tmp, file) < 0) {
        store_rollback(a->st);
        remove(tmp);
        cmd_error("%s: cannot write the archive", file);
        return 1;
    }
    if (store_commit(a->st, &e) < 0) {
        cmd_error("%s (the archive file %s was written; the rows are still in the log)", e.msg,
                  file);
        return 1;
    }
    printf("%ld rows archived to %s\n", n, file);
    return 0;
}

int cmd_log(const cmd_globals *g, int argc, char **argv)
{
    if (cmd_help(argc, argv, log_usage))
        return 0;
    app a;
    cherr e;
    if (argc >= 2 && (!strcmp(argv[1], "verify") || !strcmp(argv[1], "archive") ||
                      !strcmp(argv[1], "head"))) {
        if (strcmp(argv[1], "archive") && argc != 2) {
            fputs(log_usage, stderr);
            return 2;
        }
        if (app_open(&a, g->config, g->db, APP_DB, &e) < 0) {
            cmd_error("%s", e.msg);
            return 1;
        }
        int rc = !strcmp(argv[1], "verify") ? log_verify(&a)
               : !strcmp(argv[1], "head")   ? log_head(&a) : log_archive(&a, argc - 1, argv + 1);
        app_close(&a);
        return rc;
    }
    static const struct option opts[] = {
        {"format", required_argument, 0, 'f'},  {"message", required_argument, 0, 'm'},
        {"user", required_argument, 0, 'u'},    {"event", required_argument, 0, 'e'},
        {"channel", required_argument, 0, 'c'}, {"since", required_argument, 0, 's'},
        {"until", required_argument, 0, 't'},   {"limit", required_argument, 0, 'l'},
        {"campaign", required_argument, 0, 'C'}, {"unmasked", no_argument, 0, 'U'},
        {0, 0, 0, 0},
    };
    const char *format = "table", *since = NULL, *until = NULL;
    store_logq q = {0};
    out_ctx o = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'f': format = optarg; break;
        case 'm': q.message_id = strtoll(optarg, NULL, 10); break;
        case 'u': q.user_id = optarg; break;
        case 'e': q.event = optarg; break;
        case 'c': q.channel = optarg; break;
        case 's': since = optarg; break;
        case 't': until = optarg; break;
        case 'l': q.limit = strtol(optarg, NULL, 10); break;
        case 'C': q.campaign_id = strtoll(optarg, NULL, 10); break;
        case 'U': o.unmasked = 1; break;
        default: fputs(log_usage, stderr); return 2;
        }
    }
    if (optind != argc) {
        fputs(log_usage, stderr);
        return 2;
    }
    if (!strcmp(format, "table"))
        o.format = 0;
    else if (!strcmp(format, "csv"))
        o.format = 1;
    else if (!strcmp(format, "json"))
        o.format = 2;
    else {
        cmd_error("--format %s: table, csv or json", format);
        return 2;
    }
    int64_t now = tu_now();
    if ((since && tu_parse_time(since, now, &q.since, &e) < 0) ||
        (until && tu_parse_time(until, now, &q.until, &e) < 0)) {
        cmd_error("%s", e.msg);
        return 2;
    }
    if (app_open(&a, g->config, g->db, APP_DB, &e) < 0) {
        cmd_error("%s", e.msg);
        return 1;
    }
    if (o.unmasked && strcmp(cfg_str(&a.cfg, "chuda", "allow_unmasked", "no"), "yes")) {
        cmd_error("--unmasked is not allowed by this config ([chuda] allow_unmasked = yes)");
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
    app_close(&a);
    return rc < 0 ? 1 : 0;
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

static int print_stat(const char *const *v, int nv, int64_t n, void *arg)
{
    stat_ctx *sc = arg;
    sc->rows++;
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
    const char *since = NULL, *until = NULL, *format = "table";
    char by[200] = "event";
    store_statq q = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'C': q.campaign_id = strtoll(optarg, NULL, 10); break;
        case 's': since = optarg; break;
        case 't': until = optarg; break;
        case 'b': snprintf(by, sizeof by, "%s", optarg); break;
        case 'f': format = optarg; break;
        default: fputs(stats_usage, stderr); return 2;
        }
    }
    stat_ctx sc = {.q = &q};
    if (!strcmp(format, "csv"))
        sc.format = 1;
    else if (!strcmp(format, "json"))
        sc.format = 2;
    else if (strcmp(format, "table")) {
        cmd_error("--format %s: table, csv or json", format);
        return 2;
    }
    for (char *save, *tok = strtok_r(by, ",", &save); tok && q.nby < 8;
         tok = strtok_r(NULL, ",", &save))
        q.by[q.nby++] = tok;
    cherr e;
    int64_t now = tu_now();
    if ((since && tu_parse_time(since, now, &q.since, &e) < 0) ||
        (until && tu_parse_time(until, now, &q.until, &e) < 0)) {
        cmd_error("%s", e.msg);
        return 2;
    }
    app a;
    if (app_open(&a, g->config, g->db, APP_DB, &e) < 0) {
        cmd_error("%s", e.msg);
        return 1;
    }
    if (sc.format == 0) {
        for (int i = 0; i < q.nby; i++)
            printf("%-16s ", q.by[i]);
        printf("n\n");
    } else if (sc.format == 1) {
        for (int i = 0; i < q.nby; i++)
            csv_field(q.by[i], 0);
        printf("n\n");
    }
    int rc = store_stats(a.st, &q, print_stat, &sc, &e);
    if (rc < 0)
        cmd_error("%s", e.msg);
    app_close(&a);
    return rc < 0 ? (strstr(e.msg, "--by") ? 2 : 1) : 0;
}
