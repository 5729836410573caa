/* cmd_campaign.c — `chuda campaign create|list|show|pause|resume|cancel`: argument parsing,
 * the progress bar and the printed funnel. The work is campaign.c's. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "campaign.h"
#include "cmd.h"
#include "timeutil.h"

static const char campaign_usage[] =
    "usage: chuda campaign create --name N --template T (--recipients FILE.csv | --segment EXPR)\n"
    "                             [--at TIME] [--spread DURATION] [--var k=v]... [--class C]\n"
    "                             [--expires TIME|DURATION]\n"
    "       chuda campaign list\n"
    "       chuda campaign show ID [--format text|json]\n"
    "       chuda campaign pause ID | resume ID | cancel ID\n\n"
    "create queues one message per recipient in one transaction and prints the campaign\n"
    "id and the count. --recipients: a CSV file whose header has a user_id column; every\n"
    "other column is a per-recipient template variable (overriding --var; an empty cell\n"
    "leaves it unset). --segment: users selected by tier, segment, tz, user_id and\n"
    "attributes, e.g. 'tier=dormant and city=上海' (=, !=, and, or, parentheses; quote\n"
    "values with spaces). A bad recipient aborts everything with FILE:LINE: reason and\n"
    "nothing is written. --spread spaces the due times evenly over [AT, AT+DURATION).\n"
    "Each message carries the campaign's id and no key: one user's is cancelled with\n"
    "chuda cancel --user USER --tag campaign:ID.\n"
    "pause holds the queued messages (not sent, not claimed) until resume; cancel removes\n"
    "them, logging each `cancelled`. Messages being sent at that moment finish.\n"
    "show prints the funnel: queued, sent, delivered, deferred, suppressed by reason,\n"
    "failed by code, expired, cancelled.\n";

/* ---- the progress bar ----------------------------------------------------------------- */

typedef struct bar {
    int64_t start, last;
    int drawn;
} bar;

static void bar_draw(void *arg, double fraction, long rows)
{
    bar *b = arg;
    int64_t now = tu_now();
    if (fraction < 1.0 && now - b->last < 100)
        return;
    b->last = now;
    char cells[31];
    int k = fraction < 0 ? 0 : (int)(fraction * 30 + 0.5);
    for (int i = 0; i < 30; i++)
        cells[i] = i < k ? '#' : '.';
    cells[30] = '\0';
    double secs = (double)(now - b->start) / 1000.0;
    fprintf(stderr, "\r[%s] %3d%%  %ld rows  %.0f rows/s ", cells,
            fraction < 0 ? 0 : (int)(fraction * 100 + 0.5), rows,
            secs > 0 ? (double)rows / secs : 0.0);
    b->drawn = 1;
    if (fraction >= 1.0)
        fputc('\n', stderr);
    fflush(stderr);
}

/* ---- create --------------------------------------------------------------------------- */

static int add_var(json_t *vars, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return -1;
    char *k = strndup(kv, (size_t)(eq - kv));
    json_t *v = json_string(eq + 1);
    int rc = !k ? -1 : !v ? -2 : json_object_set_new(vars, k, v) < 0 ? -2 : 0;
    if (rc == -1)
        json_decref(v);
    free(k);
    return rc;
}

static int create(const cmd_globals *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, 0, 'n'},       {"template", required_argument, 0, 't'},
        {"recipients", required_argument, 0, 'r'}, {"segment", required_argument, 0, 's'},
        {"at", required_argument, 0, 'a'},         {"spread", required_argument, 0, 'p'},
        {"var", required_argument, 0, 'v'},        {"class", required_argument, 0, 'C'},
        {"expires", required_argument, 0, 'x'},    {0, 0, 0, 0},
    };
    campaign_spec sp = {0};
    json_t *vars = json_object();
    cherr e;
    int c, status = 2;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'n': sp.name = optarg; break;
        case 't': sp.tmpl = optarg; break;
        case 'r': sp.recipients = optarg; break;
        case 's': sp.segment = optarg; break;
        case 'a': sp.at = optarg; break;
        case 'C': sp.klass = optarg; break;
        case 'x': sp.expires = optarg; break;
        case 'p':
            if (tu_parse_duration(optarg, &sp.spread, &e) < 0) {
                cmd_error("--spread: %s", e.msg);
                goto out;
            }
            break;
        case 'v': {
            int rv = add_var(vars, optarg);
            if (rv < 0) {
                cmd_error("--var %s: %s", optarg, rv == -1 ? "expected name=value"
                                                           : "value is not valid UTF-8");
                goto out;
            }
            break;
        }
        default:
            fputs(campaign_usage, stderr);
            goto out;
        }
    }
    if (optind < argc || !sp.name || !sp.tmpl || !sp.recipients == !sp.segment) {
        cmd_error("campaign create needs --name, --template and one of --recipients FILE or "
                  "--segment EXPR");
        fputs(campaign_usage, stderr);
        goto out;
    }
    sp.vars = vars;
    app a;
    status = 1;
    if (cmd_app_open(&a, g, APP_DB | APP_TEMPLATES | APP_POLICY) < 0)
        goto out;
    int64_t now = tu_now();
    bar b = {.start = now};
    campaign_result res;
    int tty = isatty(STDERR_FILENO);
    if (campaign_create(&a, &sp, now, tty ? bar_draw : NULL, &b, &res, &e) < 0) {
        if (b.drawn)
            fputc('\n', stderr);
        cmd_error("%s", e.msg);
    } else {
        char t1[32], t2[32];
        printf("campaign %" PRId64 ": %ld messages queued, due %s", res.id, res.queued,
               tu_format(res.first_due, t1, sizeof t1));
        if (res.last_due != res.first_due)
            printf(" to %s", tu_format(res.last_due, t2, sizeof t2));
        putchar('\n');
        status = 0;
    }
    app_close(&a);
out:
    json_decref(vars);
    return status;
}

/* ---- list, show ----------------------------------------------------------------------- */

static int list_row(const store_campaign *c, void *arg)
{
    char ts[32];
    int *n = arg;
    if (!(*n)++)
        printf("%-6s %-10s %9s  %-20s %-24s %s\n", "ID", "STATE", "MESSAGES", "TEMPLATE", "AT",
               "NAME");
    printf("%-6" PRId64 " %-10s %9" PRId64 "  %-20s %-24s %s\n", c->id, c->state, c->total,
           c->tmpl, tu_format(c->at, ts, sizeof ts), c->name);
    return 0;
}

static int jint(json_t *o, const char *k)
{
    return (int)json_integer_value(json_object_get(o, k));
}

static void print_breakdown(json_t *f, const char *event, const char *by)
{
    json_t *o = json_object_get(f, event);
    printf("  %-12s %9d\n", event, jint(o, "total"));
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(o, by), k, v)
        printf("    %-18s %7" JSON_INTEGER_FORMAT "\n", k, json_integer_value(v));
}

static void print_show(json_t *o)
{
    json_t *f = json_object_get(o, "funnel");
    int64_t spread = json_integer_value(json_object_get(o, "spread_ms"));
    printf("campaign %" JSON_INTEGER_FORMAT "  %s\n", json_integer_value(json_object_get(o, "id")),
           json_string_value(json_object_get(o, "name")));
    printf("  template   %s\n", json_string_value(json_object_get(o, "template")));
    printf("  source     %s\n", json_string_value(json_object_get(o, "source")));
    printf("  state      %s\n", json_string_value(json_object_get(o, "state")));
    printf("  at         %s", json_string_value(json_object_get(o, "at")));
    if (spread)
        printf("  spread over %" PRId64 "s", spread / 1000);
    printf("\n  created    %s\n", json_string_value(json_object_get(o, "created_at")));
    printf("  messages   %d\nfunnel:\n", jint(o, "total"));
    printf("  %-12s %9d  (held by pause %d, being sent %d)\n", "queued", jint(f, "queued"),
           jint(f, "held"), jint(f, "sending"));
    static const char *const plain[] = {"enqueued", "sent", "delivered", "deferred", "retry", NULL};
    for (const char *const *p = plain; *p; p++)
        printf("  %-12s %9d\n", *p, jint(f, *p));
    print_breakdown(f, "suppressed", "by_reason");
    print_breakdown(f, "failed", "by_code");
    static const char *const tail[] = {"expired", "cancelled", "uncertain", NULL};
    for (const char *const *p = tail; *p; p++)
        printf("  %-12s %9d\n", *p, jint(f, *p));
}

/* ---- dispatch ------------------------------------------------------------------------- */

static int parse_id(const char *s, int64_t *id)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end || v <= 0 || end == s) {
        cmd_error("'%s' is not a campaign id", s);
        return -1;
    }
    *id = v;
    return 0;
}

int cmd_campaign(const cmd_globals *g, int argc, char **argv)
{
    if (argc < 2 || cmd_help(argc, argv, campaign_usage)) {
        if (argc < 2)
            fputs(campaign_usage, stderr);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "create"))
        return create(g, argc - 1, argv + 1);
    int is_list = !strcmp(sub, "list"), is_show = !strcmp(sub, "show");
    int is_ctl = !strcmp(sub, "pause") || !strcmp(sub, "resume") || !strcmp(sub, "cancel");
    int json = 0;
    if (is_show && argc == 5 && !strcmp(argv[3], "--format") &&
        (!strcmp(argv[4], "json") || !strcmp(argv[4], "text"))) {
        json = !strcmp(argv[4], "json");
        argc -= 2;
    }
    if (!(is_list && argc == 2) && !((is_show || is_ctl) && argc == 3)) {
        if (!is_list && !is_show && !is_ctl)
            cmd_error("unknown campaign command '%s'", sub);
        fputs(campaign_usage, stderr);
        return 2;
    }
    int64_t id = 0;
    if (!is_list && parse_id(argv[2], &id) < 0)
        return 2;
    app a;
    cherr e;
    if (cmd_app_open(&a, g, APP_DB) < 0)
        return 1;
    int rc = 0;
    long n = 0;
    int64_t now = tu_now();
    if (is_list) {
        int rows = 0;
        rc = store_campaign_each(a.st, list_row, &rows, &e);
        if (rc == 0 && !rows)
            printf("no campaigns\n");
    } else if (is_show) {
        json_t *o;
        rc = campaign_show_json(&a, id, &o, &e) > 0 ? 0 : -1;
        if (rc == 0 && json) {
            char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            if (s)
                puts(s);
            free(s);
        } else if (rc == 0) {
            print_show(o);
        }
        if (rc == 0)
            json_decref(o);
    } else if (!strcmp(sub, "pause")) {
        if ((rc = campaign_pause(&a, id, now, &n, &e)) == 0)
            printf("campaign %" PRId64 " paused: %ld queued messages held\n", id, n);
    } else if (!strcmp(sub, "resume")) {
        if ((rc = campaign_resume(&a, id, now, &n, &e)) == 0)
            printf("campaign %" PRId64 " resumed: %ld messages released\n", id, n);
    } else {
        if ((rc = campaign_cancel(&a, id, now, &n, &e)) == 0)
            printf("campaign %" PRId64 " cancelled: %ld queued messages cancelled\n", id, n);
    }
    if (rc < 0)
        cmd_error("%s", e.msg);
    app_close(&a);
    return rc < 0 ? 1 : 0;
}
