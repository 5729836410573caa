/* conf.c - defaults and INI parsing for chuda-sim (see conf.h).  Keys are
 * described by tables (name, type, offset) so adding one is one line. */
#include "conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

enum kt { KT_STR, KT_LONG, KT_RATE, KT_BOOL, KT_LIST, KT_U64, KT_FOLLOW };

struct key {
    const char *name;
    enum kt type;
    size_t off;
};

#define K(st, type, field) { #field, type, offsetof(struct st, field) }

static const struct key sim_keys[] = {
    K(scfg, KT_U64, seed),
    K(scfg, KT_RATE, busy_rate),
    K(scfg, KT_LONG, keep_requests),
    K(scfg, KT_LONG, threads),
    K(scfg, KT_LONG, idle_timeout),
    K(scfg, KT_BOOL, errmsg_rid),
    K(scfg, KT_LONG, tencent_max_skew),
    K(scfg, KT_LONG, aliyun_max_skew),
    K(scfg, KT_STR, callback_wechat),
    K(scfg, KT_STR, callback_tencent),
    K(scfg, KT_STR, callback_aliyun),
    K(scfg, KT_STR, callback_wechat_token),
    K(scfg, KT_STR, callback_ca),
    K(scfg, KT_LONG, callback_delay_ms),
    K(scfg, KT_LIST, callback_retry_ms),
    {NULL, KT_STR, 0}
};

static const struct key wechat_keys[] = {
    K(scfg_wechat, KT_STR, secret),
    K(scfg_wechat, KT_LONG, token_ttl),
    K(scfg_wechat, KT_LONG, token_daily_quota),
    K(scfg_wechat, KT_LONG, token_grace),
    K(scfg_wechat, KT_LONG, token_rotate_before),
    K(scfg_wechat, KT_LONG, force_refresh_daily),
    K(scfg_wechat, KT_LONG, force_refresh_gap),
    K(scfg_wechat, KT_BOOL, credits),
    {"followers", KT_FOLLOW, offsetof(struct scfg_wechat, followers_all)},
    K(scfg_wechat, KT_LIST, templates),
    K(scfg_wechat, KT_LIST, openids),
    K(scfg_wechat, KT_LIST, pages),
    K(scfg_wechat, KT_LONG, per_openid_minute),
    K(scfg_wechat, KT_LONG, client_msg_id_window),
    {NULL, KT_STR, 0}
};

static const struct key wcsim_keys[] = {
    K(scfg_wecom, KT_STR, secret),
    K(scfg_wecom, KT_LONG, agentid),
    K(scfg_wecom, KT_LONG, token_ttl),
    K(scfg_wecom, KT_LIST, users),
    K(scfg_wecom, KT_LONG, member_minute_limit),
    K(scfg_wecom, KT_LONG, member_hour_limit),
    K(scfg_wecom, KT_LIST, external_users),
    K(scfg_wecom, KT_LONG, external_monthly_limit),
    K(scfg_wecom, KT_LIST, robot_keys),
    K(scfg_wecom, KT_LONG, robot_minute_limit),
    {NULL, KT_STR, 0}
};

static const struct key tencent_keys[] = {
    K(scfg_tencent, KT_STR, secret_key),
    K(scfg_tencent, KT_STR, sdk_app_id),
    K(scfg_tencent, KT_LIST, sign_names),
    K(scfg_tencent, KT_LIST, templates),
    K(scfg_tencent, KT_LIST, blacklist),
    K(scfg_tencent, KT_LONG, per_number_30s),
    K(scfg_tencent, KT_LONG, per_number_hour),
    K(scfg_tencent, KT_LONG, per_number_daily),
    {NULL, KT_STR, 0}
};

static const struct key aliyun_keys[] = {
    K(scfg_aliyun, KT_STR, secret),
    K(scfg_aliyun, KT_LIST, sign_names),
    K(scfg_aliyun, KT_LIST, templates),
    K(scfg_aliyun, KT_LIST, blacklist),
    K(scfg_aliyun, KT_LONG, per_number_minute),
    K(scfg_aliyun, KT_LONG, per_number_hour),
    K(scfg_aliyun, KT_LONG, per_number_daily),
    K(scfg_aliyun, KT_STR, blacklist_err_code),
    {NULL, KT_STR, 0}
};

static void list_set(struct su_list *l, const char *text)
{
    if (su_list_parse(l, text) != 0) {
        fputs("chuda-sim: out of memory\n", stderr);
        abort();
    }
}

void scfg_defaults(struct scfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = 1;
    cfg->busy_rate = 0;
    cfg->keep_requests = 100000;
    cfg->threads = 0;
    cfg->idle_timeout = 60;
    cfg->errmsg_rid = true;
    cfg->tencent_max_skew = 300;
    cfg->aliyun_max_skew = 900;
    cfg->callback_delay_ms = 0;
    list_set(&cfg->callback_retry_ms, "60000,300000,600000");
}

static struct scfg_wechat *wechat_new(const char *appid)
{
    struct scfg_wechat *w = su_xcalloc(1, sizeof *w);
    w->appid = su_strdup(appid);
    w->secret = su_strdup("");
    w->token_ttl = 7200;
    w->token_daily_quota = 2000;
    w->token_grace = 300;
    w->token_rotate_before = 300;
    w->force_refresh_daily = 20;
    w->force_refresh_gap = 30;
    w->credits = false;
    w->followers_all = true;
    list_set(&w->templates, "*");
    list_set(&w->openids, "*");
    list_set(&w->pages, "*");
    w->per_openid_minute = 0;
    w->client_msg_id_window = 600;
    return w;
}

static struct scfg_wecom *wcsim_new(const char *corpid)
{
    struct scfg_wecom *w = su_xcalloc(1, sizeof *w);
    w->corpid = su_strdup(corpid);
    w->secret = su_strdup("");
    w->agentid = 1000002;
    w->token_ttl = 7200;
    list_set(&w->users, "*");
    w->member_minute_limit = 30;
    w->member_hour_limit = 1000;
    list_set(&w->external_users, "*");
    w->external_monthly_limit = 4;
    list_set(&w->robot_keys, "");
    w->robot_minute_limit = 20;
    return w;
}

static struct scfg_tencent *tencent_new(const char *id)
{
    struct scfg_tencent *t = su_xcalloc(1, sizeof *t);
    t->secret_id = su_strdup(id);
    t->secret_key = su_strdup("");
    t->sdk_app_id = su_strdup("1400006666");
    list_set(&t->sign_names, "*");
    list_set(&t->templates, "*");
    list_set(&t->blacklist, "");
    t->per_number_30s = 1;
    t->per_number_hour = 0;
    t->per_number_daily = 10;
    return t;
}

static struct scfg_aliyun *aliyun_new(const char *id)
{
    struct scfg_aliyun *a = su_xcalloc(1, sizeof *a);
    a->access_key_id = su_strdup(id);
    a->secret = su_strdup("");
    list_set(&a->sign_names, "*");
    list_set(&a->templates, "*");
    list_set(&a->blacklist, "");
    a->per_number_minute = 1;
    a->per_number_hour = 0;
    a->per_number_daily = 10;
    a->blacklist_err_code = su_strdup("DB:0141");
    return a;
}

/* ---- parsing ------------------------------------------------------------- */

struct parse_ctx {
    struct scfg *cfg;
    char err[200];
    /* the section being read and its key table */
    const struct key *keys;
    void *obj;
    char section[256];
};

static bool parse_long(const char *v, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < 0)
        return false;
    *out = n;
    return true;
}

static int set_value(struct parse_ctx *pc, const struct key *k,
                     const char *v)
{
    char *field = (char *)pc->obj + k->off;
    switch (k->type) {
    case KT_STR:
        free(*(char **)field);
        *(char **)field = su_strdup(v);
        return 0;
    case KT_LONG:
        if (parse_long(v, (long *)field))
            return 0;
        snprintf(pc->err, sizeof pc->err,
                 "%s: expected a non-negative integer, got '%s'", k->name, v);
        return -1;
    case KT_U64: {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (!errno && end != v && !*end) {
            *(uint64_t *)field = n;
            return 0;
        }
        snprintf(pc->err, sizeof pc->err, "%s: expected an integer, got '%s'",
                 k->name, v);
        return -1;
    }
    case KT_RATE: {
        char *end;
        double d = strtod(v, &end);
        if (end != v && !*end && d >= 0 && d <= 1) {
            *(double *)field = d;
            return 0;
        }
        snprintf(pc->err, sizeof pc->err,
                 "%s: expected a number from 0 to 1, got '%s'", k->name, v);
        return -1;
    }
    case KT_BOOL:
        if (!strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "yes") ||
            !strcmp(v, "1")) {
            *(bool *)field = true;
            return 0;
        }
        if (!strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "no") ||
            !strcmp(v, "0")) {
            *(bool *)field = false;
            return 0;
        }
        snprintf(pc->err, sizeof pc->err, "%s: expected on or off, got '%s'",
                 k->name, v);
        return -1;
    case KT_FOLLOW:
        if (!strcmp(v, "all") || !strcmp(v, "off")) {
            *(bool *)field = !strcmp(v, "all");
            return 0;
        }
        snprintf(pc->err, sizeof pc->err, "%s: expected all or off, got '%s'",
                 k->name, v);
        return -1;
    case KT_LIST:
        list_set((struct su_list *)field, v);
        return 0;
    }
    return -1;
}

/* Find or create the object for a section; sets pc->keys/pc->obj. */
static int enter_section(struct parse_ctx *pc, const char *section)
{
    struct scfg *cfg = pc->cfg;
    const char *dot = strchr(section, '.');
    const char *id = dot ? dot + 1 : "";
    size_t plen = dot ? (size_t)(dot - section) : strlen(section);

    snprintf(pc->section, sizeof pc->section, "%s", section);
    pc->keys = NULL;
    pc->obj = NULL;
    if (!dot && !strcmp(section, "sim")) {
        pc->keys = sim_keys;
        pc->obj = cfg;
        return 0;
    }
    if (dot && !*id) {
        snprintf(pc->err, sizeof pc->err, "[%s]: missing account id after '.'",
                 section);
        return -1;
    }
#define SECTION(prefix, type, list, idfield, ctor, keytab)                  \
    if (dot && plen == strlen(prefix) && !strncmp(section, prefix, plen)) { \
        struct type *o = list;                                              \
        while (o && strcmp(o->idfield, id))                                 \
            o = o->next;                                                    \
        if (!o) {                                                           \
            o = ctor(id);                                                   \
            o->next = list;                                                 \
            list = o;                                                       \
        }                                                                   \
        pc->keys = keytab;                                                  \
        pc->obj = o;                                                        \
        return 0;                                                           \
    }
    SECTION("wechat", scfg_wechat, cfg->wechat, appid, wechat_new, wechat_keys)
    SECTION("wecom", scfg_wecom, cfg->wecom, corpid, wcsim_new, wcsim_keys)
    SECTION("tencent", scfg_tencent, cfg->tencent, secret_id, tencent_new,
            tencent_keys)
    SECTION("aliyun", scfg_aliyun, cfg->aliyun, access_key_id, aliyun_new,
            aliyun_keys)
#undef SECTION
    snprintf(pc->err, sizeof pc->err,
             "unknown section [%s] (want sim, wechat.ID, wecom.ID, "
             "tencent.ID or aliyun.ID)", section);
    return -1;
}

static int on_ini_value(void *user, const char *section, const char *name,
                       const char *value)
{
    struct parse_ctx *pc = user;
    if (pc->err[0])
        return 0;   /* report only the first error */
    if (strcmp(section, pc->section) != 0 || !pc->keys) {
        if (!*section) {
            snprintf(pc->err, sizeof pc->err, "key '%s' outside a section",
                     name ? name : "");
            return 0;
        }
        if (enter_section(pc, section) != 0)
            return 0;
    }
    if (!name)
        return 1;
    for (const struct key *k = pc->keys; k->name; k++)
        if (!strcmp(k->name, name))
            return set_value(pc, k, value ? value : "") == 0;
    snprintf(pc->err, sizeof pc->err, "[%s]: unknown key '%s'", section, name);
    return 0;
}

int scfg_load(struct scfg *cfg, const char *path, char *err, size_t errsz)
{
    struct parse_ctx pc;
    memset(&pc, 0, sizeof pc);
    pc.cfg = cfg;
    int rc = ini_parse(path, on_ini_value, &pc);
    if (rc < 0) {
        snprintf(err, errsz, "%s: cannot read: %s", path,
                 rc == -1 ? strerror(errno) : "out of memory");
        return -1;
    }
    if (rc > 0) {
        snprintf(err, errsz, "%s:%d: %s", path, rc,
                 pc.err[0] ? pc.err : "syntax error");
        return -1;
    }
    return 0;
}

/* ---- lookup and release ------------------------------------------------- */

const struct scfg_wechat *scfg_wechat_find(const struct scfg *cfg,
                                           const char *appid)
{
    const struct scfg_wechat *w = cfg->wechat;
    while (w && strcmp(w->appid, appid))
        w = w->next;
    return w;
}

const struct scfg_wecom *scfg_wecom_find(const struct scfg *cfg,
                                         const char *corpid)
{
    const struct scfg_wecom *w = cfg->wecom;
    while (w && strcmp(w->corpid, corpid))
        w = w->next;
    return w;
}

const struct scfg_tencent *scfg_tencent_find(const struct scfg *cfg,
                                             const char *secret_id)
{
    const struct scfg_tencent *t = cfg->tencent;
    while (t && strcmp(t->secret_id, secret_id))
        t = t->next;
    return t;
}

const struct scfg_aliyun *scfg_aliyun_find(const struct scfg *cfg,
                                           const char *access_key_id)
{
    const struct scfg_aliyun *a = cfg->aliyun;
    while (a && strcmp(a->access_key_id, access_key_id))
        a = a->next;
    return a;
}

void scfg_free(struct scfg *cfg)
{
    while (cfg->wechat) {
        struct scfg_wechat *w = cfg->wechat;
        cfg->wechat = w->next;
        free(w->appid);
        free(w->secret);
        su_list_free(&w->templates);
        su_list_free(&w->openids);
        su_list_free(&w->pages);
        free(w);
    }
    while (cfg->wecom) {
        struct scfg_wecom *w = cfg->wecom;
        cfg->wecom = w->next;
        free(w->corpid);
        free(w->secret);
        su_list_free(&w->users);
        su_list_free(&w->external_users);
        su_list_free(&w->robot_keys);
        free(w);
    }
    while (cfg->tencent) {
        struct scfg_tencent *t = cfg->tencent;
        cfg->tencent = t->next;
        free(t->secret_id);
        free(t->secret_key);
        free(t->sdk_app_id);
        su_list_free(&t->sign_names);
        su_list_free(&t->templates);
        su_list_free(&t->blacklist);
        free(t);
    }
    while (cfg->aliyun) {
        struct scfg_aliyun *a = cfg->aliyun;
        cfg->aliyun = a->next;
        free(a->access_key_id);
        free(a->secret);
        su_list_free(&a->sign_names);
        su_list_free(&a->templates);
        su_list_free(&a->blacklist);
        free(a->blacklist_err_code);
        free(a);
    }
    free(cfg->callback_url);
    free(cfg->callback_wechat);
    free(cfg->callback_tencent);
    free(cfg->callback_aliyun);
    free(cfg->callback_wechat_token);
    free(cfg->callback_ca);
    su_list_free(&cfg->callback_retry_ms);
}
