/* cmd_report.c — `chuda report --since TIME [--until TIME] --html FILE`: the figures
 * from the log's aggregate counts, shaped as report.h's input, into one self-contained
 * HTML page (report.c draws it). */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"
#include "buf.h"
#include "cmd.h"
#include "report.h"
#include "timeutil.h"

static const char report_usage[] =
    "usage: chuda report --since TIME [--until TIME] [--title TEXT] --html FILE\n\n"
    "Write a self-contained HTML page (no network needed to view it): sends per hour by\n"
    "channel, suppressions by reason, the funnel per campaign, provider error codes,\n"
    "totals. Figures come from the log's aggregate counts (hour granularity).\n";

typedef struct collect {
    json_t *d;
    json_t *campaigns;          /* id (text) -> object */
} collect;

static json_int_t num(const char *s)
{
    return s ? (json_int_t)strtoll(s, NULL, 10) : 0;
}

static void add_total(json_t *d, const char *event, json_int_t n)
{
    json_t *totals = json_object_get(d, "totals");
    json_int_t t = json_integer_value(json_object_get(totals, event));
    json_object_set_new(totals, event, json_integer(t + n));
}

/* by hour, channel, event, code, campaign */
static int row(const char *const *v, int nv, int64_t n, void *arg)
{
    collect *c = arg;
    const char *hour = v[0], *channel = v[1] ? v[1] : "", *event = v[2] ? v[2] : "",
               *code = v[3] ? v[3] : "", *camp = v[4] ? v[4] : "0";
    /* a campaign's messages are counted with the campaign (name_campaigns), which may
     * have logged them enqueued under one row */
    if (strcmp(event, "enqueued") || !strcmp(camp, "0"))
        add_total(c->d, event, n);
    if (!strcmp(event, "sent") && *channel)
        json_array_append_new(json_object_get(c->d, "hourly"),
                              json_pack("{s:s, s:s, s:I}", "hour", hour, "channel", channel,
                                        "sent", (json_int_t)n));
    if (!strcmp(event, "suppressed"))
        json_array_append_new(json_object_get(c->d, "suppressed"),
                              json_pack("{s:s, s:I}", "reason", *code ? code : "other", "n",
                                        (json_int_t)n));
    if ((!strcmp(event, "failed") || !strcmp(event, "retry")) && *code)
        json_array_append_new(json_object_get(c->d, "errors"),
                              json_pack("{s:s, s:s, s:I}", "channel", *channel ? channel : "-",
                                        "code", code, "n", (json_int_t)n));
    if (strcmp(camp, "0")) {
        json_t *o = json_object_get(c->campaigns, camp);
        if (!o) {
            o = json_pack("{s:I}", "id", num(camp));
            json_object_set_new(c->campaigns, camp, o);
        }
        const char *key = !strcmp(event, "enqueued") ? "queued" : event;
        if (!strcmp(key, "queued") || !strcmp(key, "sent") || !strcmp(key, "delivered") ||
            !strcmp(key, "deferred") || !strcmp(key, "suppressed") || !strcmp(key, "failed"))
            json_object_set_new(o, key, json_integer(json_integer_value(json_object_get(o, key)) + n));
    }
    return 0;
}

/* Each campaign's name from the campaigns table (the counts keep only the id), and its
 * messages queued in the period: all of them (its total) when it was enqueued then,
 * under one audit row or one per message. They count in the enqueued total. */
static int name_campaigns(store *st, collect *col, cherr *e)
{
    const char *k;
    json_t *v;
    json_object_foreach(col->campaigns, k, v) {
        store_campaign c;
        int found = store_campaign_get(st, num(k), &c, e);
        if (found < 0)
            return -1;
        json_int_t queued = json_integer_value(json_object_get(v, "queued"));
        if (found) {
            json_object_set_new(v, "name", json_string(c.name));
            if (queued > 0 && c.total > queued)
                queued = c.total;
        }
        json_object_set_new(v, "queued", json_integer(queued));
        if (queued)
            add_total(col->d, "enqueued", queued);
        store_campaign_free(&c);
    }
    return 0;
}

/* The page to FILE, whole or not at all: a temporary file beside it, renamed over it. */
static int write_page(const char *path, const buf *page, cherr *e)
{
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
        return err_set(e, "out of memory");
    int fd = mkstemp(tmp);
    FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!fp) {
        err_set(e, "%s: cannot create: %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        return -1;
    }
    int ok = fwrite(page->s, 1, page->len, fp) == page->len;
    ok = fclose(fp) == 0 && ok;     /* closed whatever happened */
    ok = ok && rename(tmp, path) == 0;     /* mkstemp's 0600, like every file chuda makes */
    if (!ok) {
        err_set(e, "%s: cannot write: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return ok ? 0 : -1;
}

int cmd_report(const cmd_globals *g, int argc, char **argv)
{
    if (cmd_help(argc, argv, report_usage))
        return 0;
    static const struct option opts[] = {
        {"since", required_argument, 0, 's'}, {"until", required_argument, 0, 'u'},
        {"html", required_argument, 0, 'h'},  {"title", required_argument, 0, 't'},
        {0, 0, 0, 0},
    };
    const char *since = NULL, *until = NULL, *html = NULL, *title = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's': since = optarg; break;
        case 'u': until = optarg; break;
        case 'h': html = optarg; break;
        case 't': title = optarg; break;
        default: fputs(report_usage, stderr); return 2;
        }
    }
    if (!since || !html || optind != argc) {
        cmd_error("report needs --since TIME and --html FILE");
        fputs(report_usage, stderr);
        return 2;
    }
    cherr e;
    int64_t now = tu_now();
    store_statq q = {.by = {"hour", "channel", "event", "code", "campaign"}, .nby = 5};
    if (tu_parse_time(since, now, &q.since, &e) < 0) {
        cmd_error("--since: %s", e.msg);
        return 2;
    }
    if (until && tu_parse_time(until, now, &q.until, &e) < 0) {
        cmd_error("--until: %s", e.msg);
        return 2;
    }
    app a;
    if (cmd_app_open(&a, g, APP_DB) < 0)
        return 1;
    char t1[32], t2[32], t3[32];
    collect col = {
        .d = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "title",
                       title ? title : "chuda 触达报告", "generated_at",
                       tu_format(now, t1, sizeof t1), "since", tu_format(q.since, t2, sizeof t2),
                       "hourly", json_array(), "suppressed", json_array(), "errors",
                       json_array(), "campaigns", json_array(), "totals", json_object()),
        .campaigns = json_object(),
    };
    if (until)
        json_object_set_new(col.d, "until", json_string(tu_format(q.until, t3, sizeof t3)));
    int status = 1;
    buf out = {0};
    if (store_stats(a.st, &q, row, &col, &e) < 0) {
        cmd_error("%s", e.msg);
        goto done;
    }
    if (name_campaigns(a.st, &col, &e) < 0) {
        cmd_error("%s", e.msg);
        goto done;
    }
    const char *k;
    json_t *v;
    json_object_foreach(col.campaigns, k, v)
        json_array_append(json_object_get(col.d, "campaigns"), v);
    if (report_html(col.d, &out, &e) < 0 || write_page(html, &out, &e) < 0) {
        cmd_error("%s", e.msg);
        goto done;
    }
    printf("report written to %s (%zu bytes)\n", html, out.len);
    status = 0;
done:
    buf_free(&out);
    json_decref(col.d);
    json_decref(col.campaigns);
    app_close(&a);
    return status;
}
