/* cmd_admin.c — `chuda init`, `chuda run` and `chuda log`: the database, the
 * scheduler, and reading the audit log. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "cmd.h"
#include "sched.h"
#include "timeutil.h"

static const char init_usage[] =
    "usage: chuda init\n\n"
    "Create the database (mode 0600) or migrate it to this chuda's schema. The schema\n"
    "is db/NNN_*.sql; the version is PRAGMA user_version. Safe to run again.\n";

int cmd_init(const cmd_globals *g, int argc, char **argv)
{
    if (cmd_help(argc, argv, init_usage))
        return 0;
    if (argc != 1) {
        fputs(init_usage, stderr);
        return 2;
    }
    app a;
    cherr e;
    if (app_open(&a, g->config, g->db, APP_DB | APP_CREATE, &e) < 0) {
        cmd_error("%s", e.msg);
        return 1;
    }
    int from, to;
    if (store_migrate(a.st, &from, &to, &e) < 0) {
        cmd_error("%s", e.msg);
        app_close(&a);
        return 1;
    }
    if (from == to)
        printf("%s: schema version %d, up to date\n", a.db_path, to);
    else if (from == 0)
        printf("%s: created, schema version %d\n", a.db_path, to);
    else
        printf("%s: migrated from schema version %d to %d\n", a.db_path, from, to);
    app_close(&a);
    return 0;
}

static const char run_usage[] =
    "usage: chuda run [--until-idle] [-v|--verbose]\n\n"
    "The scheduler: sleeps until the next message is due, claims due messages in\n"
    "batches under a lease, decides, renders and sends them, and records every\n"
    "outcome. Messages enqueued by other processes are picked up within 1 s.\n"
    "  --until-idle   exit 0 once nothing is due and nothing is in flight\n"
    "  -v             print every audit event on stderr\n"
    "Signals: SIGTERM/SIGINT stop claiming, let requests in flight finish (bounded by\n"
    "[chuda] shutdown_grace), commit and exit 0. SIGHUP reloads config and templates.\n";

int cmd_run(const cmd_globals *g, int argc, char **argv)
{
    if (cmd_help(argc, argv, run_usage))
        return 0;
    static const struct option opts[] = {
        {"until-idle", no_argument, 0, 'i'},
        {"verbose", no_argument, 0, 'v'},
        {0, 0, 0, 0},
    };
    sched_opts o = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
        switch (c) {
        case 'i': o.until_idle = 1; break;
        case 'v': o.verbose = 1; break;
        default: fputs(run_usage, stderr); return 2;
        }
    }
    app a;
    cherr e;
    if (app_open(&a, g->config, g->db, APP_DB | APP_TEMPLATES | APP_POLICY, &e) < 0) {
        cmd_error("%s", e.msg);
        return 1;
    }
    int rc = sched_run(&a, &o, &e);
    if (rc < 0)
        cmd_error("%s", e.msg);
    app_close(&a);
    return rc < 0 ? 1 : 0;
}

static const char log_usage[] =
    "usage: chuda log [--format table|json] [--message ID] [--user U] [--event E]\n"
    "                 [--channel C] [--since TIME] [--until TIME] [--limit N]\n\n"
    "Print the audit log, oldest first. json: one object per line with seq, at\n"
    "(ISO 8601 UTC), message_id, user_id, campaign_id, event, channel, reason, code,\n"
    "detail. Events: enqueued, deferred, suppressed, sent, retry, failed, cancelled,\n"
    "expired, uncertain, delivered.\n";

static int print_table(const store_logrow *r, void *arg)
{
    char ts[32];
    printf("%-7" PRId64 " %s  %-7" PRId64 " %-12s %-10s %-13s %-10s %s\n", r->seq,
           tu_format(r->at, ts, sizeof ts), r->message_id, r->user_id ? r->user_id : "-",
           r->event, r->channel ? r->channel : "-", r->code ? r->code : "-",
           r->reason ? r->reason : "");
    return 0;
}

static int print_json(const store_logrow *r, void *arg)
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
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (s)
        puts(s);
    free(s);
    json_decref(o);
    return 0;
}

int cmd_log(const cmd_globals *g, int argc, char **argv)
{
    if (cmd_help(argc, argv, log_usage))
        return 0;
    static const struct option opts[] = {
        {"format", required_argument, 0, 'f'}, {"message", required_argument, 0, 'm'},
        {"user", required_argument, 0, 'u'},   {"event", required_argument, 0, 'e'},
        {"channel", required_argument, 0, 'c'}, {"since", required_argument, 0, 's'},
        {"until", required_argument, 0, 't'},  {"limit", required_argument, 0, 'l'},
        {0, 0, 0, 0},
    };
    const char *format = "table", *since = NULL, *until = NULL;
    store_logq q = {0};
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
        default: fputs(log_usage, stderr); return 2;
        }
    }
    if (strcmp(format, "table") && strcmp(format, "json")) {
        cmd_error("--format %s: table or json", format);
        return 2;
    }
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
    int json = !strcmp(format, "json");
    if (!json)
        printf("%-7s %-24s  %-7s %-12s %-10s %-13s %-10s %s\n", "seq", "at", "message", "user",
               "event", "channel", "code", "reason");
    int rc = store_log_each(a.st, &q, json ? print_json : print_table, NULL, &e);
    if (rc < 0)
        cmd_error("%s", e.msg);
    app_close(&a);
    return rc < 0 ? 1 : 0;
}
