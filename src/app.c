/* app.c — opening the config, store, templates and policy for a command (see app.h). */
#include "app.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int load_paths(app *a, const char *db_override, cherr *e)
{
    a->db_path = db_override ? strdup(db_override) : cfg_path(&a->cfg, "chuda", "db", "chuda.db");
    a->templates_dir = cfg_path(&a->cfg, "chuda", "templates", "templates");
    a->ca_file = cfg_path(&a->cfg, "chuda", "ca_file", NULL);
    a->default_tz = strdup(cfg_str(&a->cfg, "chuda", "default_tz", "Asia/Shanghai"));
    if (a->ca_file && access(a->ca_file, R_OK) != 0)
        return err_set(e, "%s:%d: [chuda] ca_file: cannot read %s",
                       a->cfg.ini.path ? a->cfg.ini.path : "config",
                       cfg_line(&a->cfg, "chuda", "ca_file"), a->ca_file);
    return 0;
}

int app_open(app *a, const char *cfg_path_arg, const char *db_override, unsigned what, cherr *e)
{
    memset(a, 0, sizeof *a);
    const char *cp = cfg_path_arg ? cfg_path_arg : getenv("CHUDA_CONFIG");
    if (cp && *cp)
        a->cfg_path = strdup(cp);
    if (cfg_load(&a->cfg, a->cfg_path, e) < 0)
        goto fail;
    if (load_paths(a, db_override, e) < 0 || fr_limits_load(&a->fr, &a->cfg, e) < 0)
        goto fail;
    if ((what & APP_POLICY) && policy_load(&a->pol, &a->cfg, e) < 0)
        goto fail;
    if ((what & APP_TEMPLATES) && tpl_set_load(&a->tpls, a->templates_dir, e) < 0)
        goto fail;
    if ((what & APP_DB) && store_sqlite_open(a->db_path, (what & APP_CREATE) != 0, &a->st, e) < 0)
        goto fail;
    return 0;
fail:
    app_close(a);
    return -1;
}

void app_close(app *a)
{
    store_close(a->st);
    tpl_set_free(&a->tpls);
    policy_free(&a->pol);
    cfg_free(&a->cfg);
    free(a->cfg_path);
    free(a->db_path);
    free(a->templates_dir);
    free(a->ca_file);
    free(a->default_tz);
    memset(a, 0, sizeof *a);
}

int app_reload_prepare(const app *a, app *next, cherr *e)
{
    /* the same database: a different `db` takes effect at the next start */
    return app_open(next, a->cfg_path, a->db_path, APP_POLICY | APP_TEMPLATES, e);
}

void app_reload_commit(app *a, app *next)
{
    app old = *a;
    *a = *next;
    /* what a reload does not change: where the config is, the database, the store */
    a->cfg_path = old.cfg_path, a->db_path = old.db_path, a->st = old.st;
    old.cfg_path = next->cfg_path, old.db_path = next->db_path, old.st = next->st;
    *next = old;
    app_close(next);        /* the old set */
}
