/* cmd_admin.c — `chuda init` and `chuda run`: the database and the scheduler. */
#include <getopt.h>
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
    if (cmd_app_open(&a, g, APP_DB | APP_CREATE) < 0)
        return 1;
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
    "outcome. Messages other processes enqueue are seen within [chuda] watch (100 ms;\n"
    "a cheap check of the database's data version) and at the latest every poll (1 s).\n"
    "  --until-idle   exit 0 once nothing is due and nothing is in flight\n"
    "  -v             print every audit event on stderr\n"
    "Signals: SIGTERM/SIGINT stop claiming, put unsent messages back, let requests in\n"
    "flight finish (bounded by [chuda] shutdown_grace; those still out are logged\n"
    "uncertain at the next start), commit and exit 0. SIGHUP reloads the config,\n"
    "templates, policy, channels, ca_file and default_tz all or nothing: a bad file\n"
    "keeps the running set and says why on stderr. db and [api] need a restart.\n";

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
    if (cmd_app_open(&a, g, APP_DB | APP_TEMPLATES | APP_POLICY) < 0)
        return 1;
    int rc = sched_run(&a, &o, &e);
    if (rc < 0)
        cmd_error("%s", e.msg);
    app_close(&a);
    return rc < 0 ? 1 : 0;
}
