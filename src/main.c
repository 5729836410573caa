/* main.c — `chuda [-c CONFIG] [-d DB] COMMAND ...`: global options and dispatch. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "app.h"
#include "cmd.h"

static const struct {
    const char *name;
    int (*fn)(const cmd_globals *g, int argc, char **argv);
    const char *summary;
} commands[] = {
    {"init", cmd_init, "create or migrate the database"},
    {"users", cmd_users, "import users from CSV (users import FILE.csv)"},
    {"enqueue", cmd_enqueue, "queue one message for one user"},
    {"cancel", cmd_cancel, "remove pending messages by key or by user + tag"},
    {"show", cmd_show, "a message's state and history"},
    {"preview", cmd_preview, "the request each channel would send for a template"},
    {"log", cmd_log, "the audit log: list, verify, archive"},
    {"stats", cmd_stats, "counts of events by channel, tier, event, hour..."},
    {"report", cmd_report, "a self-contained HTML report for operators"},
    {"run", cmd_run, "the scheduler"},
    {"optout", cmd_optout, "opt a user out (add, remove, list)"},
    {"credits", cmd_credits, "mini-program subscription credits (grant, show)"},
    {"campaign", cmd_campaign, "campaigns: create, list, show, pause, resume, cancel"},
};

static void usage(FILE *fp)
{
    fprintf(fp, "usage: chuda [-c CONFIG] [-d DB] COMMAND [ARGS...]\n\n"
                "  -c CONFIG   config file (default: $CHUDA_CONFIG, else none)\n"
                "  -d DB       database file (default: the config's [chuda] db, else chuda.db)\n\n"
                "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(fp, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(fp, "\n`chuda COMMAND --help` describes each.\n");
}

void cmd_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("chuda: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cmd_app_open(app *a, const cmd_globals *g, unsigned what)
{
    cherr e;
    if (app_open(a, g->config, g->db, what, &e) < 0) {
        cmd_error("%s", e.msg);
        return -1;
    }
    return 0;
}

int cmd_unmasked_allowed(const app *a)
{
    if (!strcmp(cfg_str(&a->cfg, "chuda", "allow_unmasked", "no"), "yes"))
        return 0;
    cmd_error("--unmasked is not allowed by this config ([chuda] allow_unmasked = yes)");
    return -1;
}

int cmd_help(int argc, char **argv, const char *text)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(text, stdout);
            return 1;
        }
        if (!strcmp(argv[i], "--"))
            break;
    }
    return 0;
}

int main(int argc, char **argv)
{
    /* every file chuda creates (database, -wal, -shm, lock, archive, report) is the
     * owner's only, whatever umask it was started with */
    umask(077);
    cmd_globals g = {0};
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "-c") && i + 1 < argc)
            g.config = argv[++i];
        else if (!strcmp(argv[i], "-d") && i + 1 < argc)
            g.db = argv[++i];
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-') {
            cmd_error("unknown option '%s'", argv[i]);
            usage(stderr);
            return 2;
        } else
            break;
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
        if (!strcmp(argv[i], commands[k].name))
            return commands[k].fn(&g, argc - i, argv + i);
    cmd_error("unknown command '%s'", argv[i]);
    usage(stderr);
    return 2;
}
