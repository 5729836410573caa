/* app.h — what every command opens: the config, the store, the templates, the policy.
 *
 * Paths come from the command line (-c CONFIG, -d DB) or $CHUDA_CONFIG, else the
 * config's [chuda] db / templates, else ./chuda.db and ./templates. */
#ifndef CHUDA_APP_H
#define CHUDA_APP_H

#include "config.h"
#include "err.h"
#include "fieldrule.h"
#include "policy.h"
#include "store.h"
#include "tpl.h"

enum {
    APP_DB = 1,          /* open the store (schema must be current) */
    APP_CREATE = 2,      /* with APP_DB: create the file if missing (chuda init) */
    APP_TEMPLATES = 4,
    APP_POLICY = 8,
};

typedef struct app {
    char *cfg_path;             /* NULL: no config file */
    char *db_path;
    char *templates_dir;
    char *ca_file;              /* NULL: system bundle */
    char *default_tz;
    config cfg;
    store *st;
    tpl_set tpls;
    policy pol;
    fr_limits fr;               /* channel field limits that depend on config (SMS) */
} app;

int app_open(app *a, const char *cfg_path, const char *db_override, unsigned what, cherr *e);
void app_close(app *a);

/* Reload (SIGHUP) in two steps, so that a caller with more to build from the new
 * config (the scheduler's channels) stays all or nothing:
 * app_reload_prepare loads the config, ca_file, default_tz, field limits, policy and
 * templates into `next` without touching `a` (-1 with the reason, `next` then empty);
 * app_reload_commit swaps them into `a` and frees the old ones; to give up instead,
 * app_close(next). The store is not reopened: `db` changes at the next start. */
int app_reload_prepare(const app *a, app *next, cherr *e);
void app_reload_commit(app *a, app *next);

#endif
