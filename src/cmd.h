/* cmd.h — the subcommands of `chuda`, one function each, and what they share.
 * main.c parses the global options and dispatches; each cmd_*.c parses its own. */
#ifndef CHUDA_CMD_H
#define CHUDA_CMD_H

typedef struct cmd_globals {
    const char *config;         /* -c */
    const char *db;             /* -d */
} cmd_globals;

/* Each returns the process exit status: 0 ok, 1 failure, 2 usage error. */
int cmd_init(const cmd_globals *g, int argc, char **argv);
int cmd_users(const cmd_globals *g, int argc, char **argv);
int cmd_enqueue(const cmd_globals *g, int argc, char **argv);
int cmd_cancel(const cmd_globals *g, int argc, char **argv);
int cmd_show(const cmd_globals *g, int argc, char **argv);
int cmd_preview(const cmd_globals *g, int argc, char **argv);
int cmd_log(const cmd_globals *g, int argc, char **argv);
int cmd_stats(const cmd_globals *g, int argc, char **argv);
int cmd_report(const cmd_globals *g, int argc, char **argv);
int cmd_run(const cmd_globals *g, int argc, char **argv);
int cmd_optout(const cmd_globals *g, int argc, char **argv);
int cmd_credits(const cmd_globals *g, int argc, char **argv);
int cmd_campaign(const cmd_globals *g, int argc, char **argv);

/* Shared: print "chuda: <msg>" on stderr. */
void cmd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* app_open with the global -c and -d; on failure prints "chuda: <reason>" and returns -1. */
struct app;
int cmd_app_open(struct app *a, const cmd_globals *g, unsigned what);
/* --unmasked asked for: allowed only by [chuda] allow_unmasked = yes; otherwise prints why
 * and returns -1. */
int cmd_unmasked_allowed(const struct app *a);
/* Is argv[1] --help or -h? Then print `usage` to stdout and return 1. */
int cmd_help(int argc, char **argv, const char *usage);

#endif
