/* config.c — loading and validating the INI config (see config.h).
 *
 * The schema below is the one list of every section and key chuda accepts. A new key
 * is one line here plus its documentation in etc/chuda.conf.example. */
#include "config.h"

#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "timeutil.h"

/* Section pattern, then the keys it accepts (fnmatch patterns), NULL-terminated. */
typedef struct schema_sect {
    const char *section;
    const char *keys[48];
} schema_sect;

static const schema_sect schema[] = {
    {"chuda", {"db", "templates", "ca_file", "default_tz", "batch", "lease", "max_inflight",
               "poll", "watch", "shutdown_grace", "allow_unmasked", NULL}},
    {"channel.*", {"base_url", "appid", "secret_env", "secret_file", "concurrency", "rate",
                   "burst", "timeout", "miniprogram_state", "lang", "max_attempts", "retry_base",
                   "retry_cap", "credits", "provider", "secret_id", "sign_name", "sdk_app_id",
                   "region", "corpid", "agentid", "duplicate_check_interval",
                   "member_per_minute", "member_per_hour", "sender", "monthly_limit",
                   "key_env", "key_file", "param_max_chars", "content_max_chars",
                   "force_refresh_daily", "limit_pause", NULL}},
    {"tier.*", {"channels", "cap", "cap.*", "quiet_hours", NULL}},
    {"class.*", {"on_uncertain", "on_cap", "quiet_hours", "category", NULL}},
    {"policy", {"quiet_hours", "quiet_release_spread", "marketing_sms_hours", NULL}},
    {"api", {"listen", "token_env", "token_file", "max_body", "wechat_token_env",
             "wechat_token_file", "callback_key_env", "callback_key_file", NULL}},
};

static const schema_sect *find_schema(const char *section)
{
    for (size_t i = 0; i < sizeof schema / sizeof schema[0]; i++)
        if (!fnmatch(schema[i].section, section, 0))
            return &schema[i];
    return NULL;
}

static int validate(const config *c, cherr *e)
{
    for (size_t i = 0; i < c->ini.n; i++) {
        const inif_entry *en = &c->ini.v[i];
        const schema_sect *s = find_schema(en->section);
        if (!s)
            return err_set(e, "%s:%d: unknown section [%s]", c->ini.path, en->line, en->section);
        int ok = 0;
        for (int k = 0; s->keys[k] && !ok; k++)
            ok = !fnmatch(s->keys[k], en->key, 0);
        if (!ok)
            return err_set(e, "%s:%d: unknown key '%s' in [%s]", c->ini.path, en->line, en->key,
                           en->section);
    }
    return 0;
}

int cfg_load(config *c, const char *path, cherr *e)
{
    memset(c, 0, sizeof *c);
    if (!path) {
        c->dir = strdup(".");
        return 0;
    }
    if (inif_load(&c->ini, path, e) < 0)
        return -1;
    const char *slash = strrchr(path, '/');
    c->dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
    if (slash == path) {
        free(c->dir);
        c->dir = strdup("/");
    }
    if (validate(c, e) < 0) {
        cfg_free(c);
        return -1;
    }
    return 0;
}

int cfg_load_string(config *c, const char *name, const char *text, cherr *e)
{
    memset(c, 0, sizeof *c);
    if (inif_load_string(&c->ini, name, text, e) < 0)
        return -1;
    c->dir = strdup(".");
    if (validate(c, e) < 0) {
        cfg_free(c);
        return -1;
    }
    return 0;
}

void cfg_free(config *c)
{
    inif_free(&c->ini);
    free(c->dir);
    memset(c, 0, sizeof *c);
}

const char *cfg_str(const config *c, const char *section, const char *key, const char *def)
{
    const inif_entry *en = inif_find(&c->ini, section, key);
    return en ? en->value : def;
}

int cfg_line(const config *c, const char *section, const char *key)
{
    const inif_entry *en = inif_find(&c->ini, section, key);
    return en ? en->line : 0;
}

char *cfg_path(const config *c, const char *section, const char *key, const char *def)
{
    const char *v = cfg_str(c, section, key, def);
    if (!v)
        return NULL;
    /* defaults are relative to the working directory; values in the file to the file */
    if (v[0] == '/' || !inif_find(&c->ini, section, key))
        return strdup(v);
    char *p;
    if (asprintf(&p, "%s/%s", c->dir, v) < 0)
        return NULL;
    return p;
}

static int where(const config *c, const char *section, const char *key, cherr *e)
{
    return err_prefix(e, "%s:%d: [%s] %s: ", c->ini.path ? c->ini.path : "config",
                      cfg_line(c, section, key), section, key);
}

int cfg_int(const config *c, const char *section, const char *key, long def, long min, long max,
            long *out, cherr *e)
{
    const char *v = cfg_str(c, section, key, NULL);
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < min || n > max) {
        err_set(e, "'%s' is not a whole number from %ld to %ld", v, min, max);
        return where(c, section, key, e);
    }
    *out = n;
    return 0;
}

int cfg_num(const config *c, const char *section, const char *key, double def, double min,
            double max, double *out, cherr *e)
{
    const char *v = cfg_str(c, section, key, NULL);
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    double n = strtod(v, &end);
    if (errno || end == v || *end || n < min || n > max) {
        err_set(e, "'%s' is not a number from %g to %g", v, min, max);
        return where(c, section, key, e);
    }
    *out = n;
    return 0;
}

int cfg_duration(const config *c, const char *section, const char *key, const char *def,
                 int64_t *out, cherr *e)
{
    const char *v = cfg_str(c, section, key, def);
    if (tu_parse_duration(v, out, e) < 0)
        return where(c, section, key, e);
    return 0;
}

int cfg_each_section(const config *c, const char *prefix,
                     int (*fn)(const char *section, void *arg), void *arg)
{
    size_t plen = strlen(prefix);
    for (size_t i = 0; i < c->ini.n; i++) {
        const char *s = c->ini.v[i].section;
        if (strncmp(s, prefix, plen))
            continue;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !strcmp(c->ini.v[j].section, s);
        if (!seen && fn(s, arg) < 0)
            return -1;
    }
    return 0;
}

static int read_secret_file(const char *path, char *out, size_t outlen, cherr *e)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return err_set(e, "secret file %s: cannot open: %m", path);
    struct stat st;
    if (fstat(fileno(fp), &st) < 0 || (st.st_mode & 077)) {
        fclose(fp);
        return err_set(e, "secret file %s: must be readable by its owner only (chmod 600)", path);
    }
    size_t n = fread(out, 1, outlen - 1, fp);
    fclose(fp);
    out[n] = '\0';
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
        out[--n] = '\0';
    return 0;
}

int cfg_secret(const config *c, const char *section, const char *what, char *out, size_t outlen,
               cherr *e)
{
    char envkey[32], filekey[32];
    snprintf(envkey, sizeof envkey, "%s_env", what);
    snprintf(filekey, sizeof filekey, "%s_file", what);
    const char *env = cfg_str(c, section, envkey, NULL);
    const char *file = cfg_str(c, section, filekey, NULL);
    const char *path = c->ini.path ? c->ini.path : "config";
    if (env) {
        const char *v = getenv(env);
        if (!v || !*v)
            err_set(e, "environment variable %s is not set", env);
        else if (strlen(v) >= outlen)
            err_set(e, "the value of %s is too long", env);
        else {
            memcpy(out, v, strlen(v) + 1);
            return 0;
        }
        return where(c, section, envkey, e);
    }
    if (file) {
        char *p = cfg_path(c, section, filekey, NULL);
        int rc = read_secret_file(p, out, outlen, e);
        free(p);
        return rc < 0 ? where(c, section, filekey, e) : 0;
    }
    return err_set(e, "%s: [%s]: no %s or %s: say where the secret comes from", path, section,
                   envkey, filekey);
}
