/* wechat.c - the fake WeChat API: tokens, subscription and template
 * messages (see wechat.h; behaviour from providers.md 1-3 and 8).
 *
 * All state sits behind one mutex: the per-app token bookkeeping, the
 * token table, one-time credits, follow overrides, openids with a send in
 * flight (43108), OA client_msg_id dedup and per-openid send windows.
 * Keys of the per-user maps are "appid \x1f openid [\x1f more]". */
#include "wechat.h"
#include "callback.h"
#include "map.h"
#include "token.h"
#include "wxkw.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { KIND_STABLE = 1, KIND_CLASSIC = 2 };

struct app {
    const struct scfg_wechat *cfg;
    char stable[STOK_LEN];        /* current stable token, "" if none */
    char classic[STOK_LEN];       /* current classic token */
    int64_t classic_day;          /* quota bookkeeping (Beijing day) */
    long classic_calls;
    int64_t force_day;
    long force_calls;
    int64_t force_last_ms;
};

struct dedup {
    long long msgid;
    int64_t at_ms;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const struct scfg *cfg_;
static struct smap apps;          /* appid -> struct app */
static struct stok_store tokens;
static struct smap credits;       /* app,openid,template -> long */
static struct smap follow;        /* app,openid -> bool (override) */
static struct smap inflight;      /* app,openid -> marker */
static struct smap dedups;        /* app,openid,client_msg_id -> dedup */
static struct smap windows;       /* app,openid -> su_win (OA sends) */
static long long next_sub_msgid, next_tpl_msgid;

static void win_free(void *v)
{
    su_win_free(v);
    free(v);
}

void wxsim_init(const struct scfg *cfg)
{
    cfg_ = cfg;
    smap_init(&apps, free);
    stok_init(&tokens);
    smap_init(&credits, free);
    smap_init(&follow, free);
    smap_init(&inflight, NULL);
    smap_init(&dedups, free);
    smap_init(&windows, win_free);
    for (const struct scfg_wechat *w = cfg->wechat; w; w = w->next) {
        struct app *a = su_xcalloc(1, sizeof *a);
        a->cfg = w;
        smap_put(&apps, w->appid, a);
    }
    /* msgids look like the real ones: large for subscribe, ~9 digits OA */
    next_sub_msgid = 1900000000000000000LL +
                     (long long)(su_rand_id() % 100000000000000000ULL);
    next_tpl_msgid = 200000000LL + (long long)(su_rand_id() % 100000000ULL);
}

void wxsim_shutdown(void)
{
    smap_free(&apps);
    stok_free(&tokens);
    smap_free(&credits);
    smap_free(&follow);
    smap_free(&inflight);
    smap_free(&dedups);
    smap_free(&windows);
}

static void key2(char *out, size_t n, const char *a, const char *b)
{
    snprintf(out, n, "%s\x1f%s", a, b);
}

static void key3(char *out, size_t n, const char *a, const char *b,
                 const char *c)
{
    snprintf(out, n, "%s\x1f%s\x1f%s", a, b, c);
}

/* ---- tokens ------------------------------------------------------------------ */

static json_t *token_reply(const char *token, int64_t expires_in_s)
{
    json_t *o = json_object();
    json_object_set_new(o, "access_token", json_string(token));
    json_object_set_new(o, "expires_in", json_integer(expires_in_s));
    return o;
}

/* Common checks of both token endpoints; returns the app or NULL after
 * replying.  wrong_secret is the errcode for a bad secret. */
static struct app *check_credentials(struct sim_req *r, const char *grant,
                                     const char *appid, const char *secret,
                                     long wrong_secret)
{
    if (!grant || strcmp(grant, "client_credential") != 0) {
        sim_reply_errcode(r, 40002, "invalid grant_type");
        return NULL;
    }
    if (!appid || !*appid) {
        sim_reply_errcode(r, 41002, "appid missing");
        return NULL;
    }
    struct app *a = smap_get(&apps, appid);
    if (!a) {
        sim_reply_errcode(r, 40013, "invalid appid");
        return NULL;
    }
    if (!secret || !*secret) {
        sim_reply_errcode(r, 41004, "appsecret missing");
        return NULL;
    }
    if (*a->cfg->secret && strcmp(secret, a->cfg->secret) != 0) {
        sim_reply_errcode(r, wrong_secret, wrong_secret == 40125
                          ? "invalid appsecret"
                          : "invalid credential, access_token is invalid or "
                            "not latest");
        return NULL;
    }
    return a;
}

static void rotate(struct app *a, char *cur, int kind, int64_t now)
{
    if (*cur)
        stok_supersede(&tokens, cur, now);
    stok_issue(&tokens, a->cfg->appid, kind, now, a->cfg->token_ttl * 1000,
               cur);
}

void wxsim_stable_token(struct sim_req *r)
{
    json_error_t jerr;
    json_t *req = json_loadb(r->body.p ? r->body.p : "", r->body.len, 0, &jerr);
    if (!json_is_object(req)) {
        json_decref(req);
        sim_reply_errcode(r, 47001, "data format error");
        return;
    }
    json_t *force = json_object_get(req, "force_refresh");
    if (force && !json_is_boolean(force)) {
        json_decref(req);
        sim_reply_errcode(r, 47001, "data format error");
        return;
    }
    int64_t now = r->at_ms;
    pthread_mutex_lock(&lock);
    struct app *a = check_credentials(
        r, json_string_value(json_object_get(req, "grant_type")),
        json_string_value(json_object_get(req, "appid")),
        json_string_value(json_object_get(req, "secret")), 40125);
    if (!a)
        goto out;
    const struct scfg_wechat *c = a->cfg;
    const struct stok_entry *e = NULL;
    bool usable = *a->stable &&
        stok_check(&tokens, a->stable, now, c->token_grace * 1000, &e) ==
            STOK_OK;
    if (json_is_true(force)) {
        int64_t day = su_beijing_day(now);
        if (a->force_day != day)
            a->force_day = day, a->force_calls = 0;
        if (a->force_calls >= c->force_refresh_daily) {
            sim_reply_errcode(r, 45009, "reach max api daily quota limit");
            goto out;
        }
        if (a->force_last_ms && now - a->force_last_ms <
                                    c->force_refresh_gap * 1000) {
            sim_reply_errcode(r, 45011, "api minute-quota reach limit, must "
                              "slower, retry next minute");
            goto out;
        }
        a->force_calls++;
        a->force_last_ms = now;
        usable = false;
    }
    /* Rotate a little before expiry (never more than half the TTL early,
     * so short test TTLs still hand out the same token for a while). */
    long before = c->token_rotate_before;
    if (before * 2 > c->token_ttl)
        before = c->token_ttl / 2;
    if (!usable || e->expires_ms - now < before * 1000)
        rotate(a, a->stable, KIND_STABLE, now);
    stok_check(&tokens, a->stable, now, 0, &e);
    sim_reply_json(r, 200, token_reply(a->stable,
                                       (e->expires_ms - now + 999) / 1000));
    sim_outcome(r, "0");
out:
    pthread_mutex_unlock(&lock);
    json_decref(req);
}

void wxsim_token(struct sim_req *r)
{
    int64_t now = r->at_ms;
    pthread_mutex_lock(&lock);
    struct app *a = check_credentials(r, sim_req_arg(r, "grant_type"),
                                      sim_req_arg(r, "appid"),
                                      sim_req_arg(r, "secret"), 40001);
    if (a) {
        int64_t day = su_beijing_day(now);
        if (a->classic_day != day)
            a->classic_day = day, a->classic_calls = 0;
        if (a->classic_calls >= a->cfg->token_daily_quota) {
            sim_reply_errcode(r, 45009, "reach max api daily quota limit");
        } else {
            a->classic_calls++;
            rotate(a, a->classic, KIND_CLASSIC, now);
            sim_reply_json(r, 200, token_reply(a->classic, a->cfg->token_ttl));
            sim_outcome(r, "0");
        }
    }
    pthread_mutex_unlock(&lock);
}

/* Check ?access_token= of a business call; on failure reply and return
 * NULL.  Called with the lock held. */
static struct app *check_token_locked(struct sim_req *r)
{
    const char *tok = sim_req_arg(r, "access_token");
    const struct stok_entry *e = NULL;
    if (!tok || !*tok) {
        sim_reply_errcode(r, 41001, "access_token missing");
        return NULL;
    }
    stok_check(&tokens, tok, r->at_ms, 0, &e);   /* find the owner */
    struct app *a = e ? smap_get(&apps, e->owner) : NULL;
    if (!a) {
        sim_reply_errcode(r, 40014, "invalid access_token");
        return NULL;
    }
    switch (stok_check(&tokens, tok, r->at_ms, a->cfg->token_grace * 1000,
                       NULL)) {
    case STOK_EXPIRED:
        sim_reply_errcode(r, 42001, "access_token expired");
        return NULL;
    case STOK_STALE:
        sim_reply_errcode(r, 40001, "invalid credential, access_token is "
                          "invalid or not latest");
        return NULL;
    default:
        return a;
    }
}

/* The start of every business call: the token (answered first, like the
 * real API), then the JSON body (47001).  Parsing happens outside the
 * lock; the app and its config never change after start-up. */
static struct app *begin_call(struct sim_req *r, json_t **req)
{
    json_error_t jerr;
    *req = json_loadb(r->body.p ? r->body.p : "", r->body.len, 0, &jerr);
    pthread_mutex_lock(&lock);
    struct app *a = check_token_locked(r);
    pthread_mutex_unlock(&lock);
    if (a && !json_is_object(*req)) {
        sim_reply_errcode(r, 47001, "data format error");
        a = NULL;
    }
    return a;
}

static void reply_msgid(struct sim_req *r, long long msgid)
{
    json_t *o = json_object();
    json_object_set_new(o, "errcode", json_integer(0));
    json_object_set_new(o, "errmsg", json_string("ok"));
    json_object_set_new(o, "msgid", json_integer(msgid));
    sim_reply_json(r, 200, o);
    sim_outcome(r, "0");
    sim_record_set(r, "msgid", json_integer(msgid));
}

static bool follows(const struct app *a, const char *openid)
{
    char k[512];
    key2(k, sizeof k, a->cfg->appid, openid);
    bool *f = smap_get(&follow, k);
    return f ? *f : a->cfg->followers_all;
}

/* ---- delivery events (providers.md 7), JSON form ---------------------------- */

static json_t *event(const char *appid, const char *openid, int64_t at_ms,
                     const char *name)
{
    return json_pack("{s:s,s:s,s:I,s:s,s:s}", "ToUserName", appid,
                     "FromUserName", openid, "CreateTime",
                     (json_int_t)(at_ms / 1000), "MsgType", "event",
                     "Event", name);
}

static void push_sent_event(const char *appid, const char *openid,
                            const char *template_id, long long msgid,
                            int64_t at_ms)
{
    if (!scb_wanted("wechat"))
        return;
    char id[32];
    snprintf(id, sizeof id, "%lld", msgid);
    json_t *ev = event(appid, openid, at_ms, "subscribe_msg_sent_event");
    json_object_set_new(ev, "List", json_pack(
        "{s:s,s:s,s:i,s:s}", "TemplateId", template_id, "MsgID", id,
        "ErrorCode", 0, "ErrorStatus", "success"));
    scb_push("wechat", ev);
}

static void push_job_finish(const char *appid, const char *openid,
                            long long msgid, int64_t at_ms)
{
    if (!scb_wanted("wechat"))
        return;
    json_t *ev = event(appid, openid, at_ms, "TEMPLATESENDJOBFINISH");
    json_object_set_new(ev, "MsgID", json_integer(msgid));
    json_object_set_new(ev, "Status", json_string("success"));
    scb_push("wechat", ev);
}

/* ---- mini-program subscription message --------------------------------------- */

static void inflight_release(void *arg)
{
    pthread_mutex_lock(&lock);
    smap_del(&inflight, arg);
    pthread_mutex_unlock(&lock);
    free(arg);
}

/* Keyword data: {"thing1":{"value":"..."}, ...}.  Returns 0 or replies
 * 47003 naming the field. */
static int check_data(struct sim_req *r, json_t *data)
{
    const char *key;
    json_t *kw;
    char msg[300];
    if (!json_is_object(data) || json_object_size(data) == 0) {
        sim_reply_errcode(r, 47003, "argument invalid! data is empty");
        return -1;
    }
    json_object_foreach(data, key, kw) {
        json_t *v = json_object_get(kw, "value");
        char num[64];
        const char *s = NULL;
        size_t len = 0;
        const char *why = "not a string";
        if (json_is_string(v)) {
            s = json_string_value(v);
            len = json_string_length(v);
        } else if (json_is_number(v)) {
            len = (size_t)snprintf(num, sizeof num, "%.15g",
                                   json_number_value(v));
            s = num;
        }
        if (!s || wxkw_check(key, s, len, &why) != 0) {
            snprintf(msg, sizeof msg, "argument invalid! data.%s.value", key);
            sim_reply_errcode(r, 47003, msg);
            sim_record_set(r, "reason", json_string(why ? why : "invalid"));
            return -1;
        }
    }
    return 0;
}

static bool page_allowed(const struct su_list *pages, const char *page)
{
    char base[512];
    snprintf(base, sizeof base, "%s", page);
    base[strcspn(base, "?")] = '\0';
    return su_list_has(pages, page) || su_list_has(pages, base);
}

void wxsim_subscribe_send(struct sim_req *r)
{
    json_t *req = NULL;
    char k[600];
    struct app *a = begin_call(r, &req);
    if (!a)
        goto out;
    const struct scfg_wechat *c = a->cfg;
    const char *touser = json_string_value(json_object_get(req, "touser"));
    const char *tpl = json_string_value(json_object_get(req, "template_id"));
    json_t *page = json_object_get(req, "page");
    json_t *state = json_object_get(req, "miniprogram_state");

    if (!touser || !*touser || !su_list_has(&c->openids, touser)) {
        sim_reply_errcode(r, 40003, "invalid openid");
        goto out;
    }
    if (!tpl || !*tpl || !su_list_has(&c->templates, tpl)) {
        sim_reply_errcode(r, 40037, "invalid template id");
        goto out;
    }
    if (page && (!json_is_string(page) ||
                 (*json_string_value(page) &&
                  !page_allowed(&c->pages, json_string_value(page))))) {
        sim_reply_errcode(r, 41030, "invalid page");
        goto out;
    }
    if (state && (!json_is_string(state) ||
                  (strcmp(json_string_value(state), "developer") &&
                   strcmp(json_string_value(state), "trial") &&
                   strcmp(json_string_value(state), "formal")))) {
        sim_reply_errcode(r, 47003, "argument invalid! miniprogram_state");
        goto out;
    }
    if (check_data(r, json_object_get(req, "data")) != 0)
        goto out;
    if (sim_busy(r)) {
        sim_reply_errcode(r, -1, "system error");
        goto out;
    }

    /* One send per openid at a time: the openid stays "in flight" until
     * the reply has gone out (a delay fault widens the window). */
    long long msgid = 0;
    long ec = 0;
    pthread_mutex_lock(&lock);
    key2(k, sizeof k, c->appid, touser);
    if (smap_get(&inflight, k)) {
        ec = 43108;
    } else {
        smap_put(&inflight, k, &inflight);
        r->on_done = inflight_release;
        r->on_done_arg = su_strdup(k);
        key3(k, sizeof k, c->appid, touser, tpl);
        long *n = c->credits ? smap_get(&credits, k) : NULL;
        if (c->credits && (!n || *n <= 0))
            ec = 43101;
        else if (n)
            (*n)--;
        if (!ec)
            msgid = next_sub_msgid++;
    }
    pthread_mutex_unlock(&lock);

    if (ec == 43108) {
        sim_reply_errcode(r, 43108, "Cannot make concurrent calls to the "
                          "same OpenID, please try again");
    } else if (ec == 43101) {
        sim_reply_errcode(r, 43101, "user refuse to accept the msg");
    } else {
        reply_msgid(r, msgid);
        r->delivered = true;
        push_sent_event(c->appid, touser, tpl, msgid, r->at_ms);
    }
out:
    json_decref(req);
}

/* ---- official-account template message ------------------------------------------ */

/* The stateful part of an OA send, under the lock: follow state, dedup,
 * frequency.  Returns an errcode (0 = send); *dup_msgid is set for a
 * duplicate client_msg_id, *msgid for a new send. */
static long template_decide(const struct scfg_wechat *c, struct app *a,
                            const char *touser, const char *cmid, int64_t now,
                            long long *dup_msgid, long long *msgid)
{
    char k[800], wk[512];
    if (!follows(a, touser))
        return 43004;
    struct dedup *d = NULL;
    if (cmid) {
        key3(k, sizeof k, c->appid, touser, cmid);
        d = smap_get(&dedups, k);
        if (d && now - d->at_ms < c->client_msg_id_window * 1000) {
            *dup_msgid = d->msgid;
            return 0;
        }
    }
    if (c->per_openid_minute > 0) {
        key2(wk, sizeof wk, c->appid, touser);
        struct su_win *w = smap_get(&windows, wk);
        if (!w) {
            w = su_xcalloc(1, sizeof *w);
            smap_put(&windows, wk, w);
        }
        if (su_win_count(w, now, 60000) >= (size_t)c->per_openid_minute)
            return 43117;
        su_win_add(w, now);
    }
    *msgid = next_tpl_msgid++;
    if (cmid) {
        if (!d) {
            d = su_xmalloc(sizeof *d);
            smap_put(&dedups, k, d);
        }
        d->msgid = *msgid;
        d->at_ms = now;
    }
    return 0;
}

void wxsim_template_send(struct sim_req *r)
{
    json_t *req = NULL;
    struct app *a = begin_call(r, &req);
    if (!a)
        goto out;
    const struct scfg_wechat *c = a->cfg;
    const char *touser = json_string_value(json_object_get(req, "touser"));
    const char *tpl = json_string_value(json_object_get(req, "template_id"));
    json_t *cmid = json_object_get(req, "client_msg_id");
    json_t *data = json_object_get(req, "data");

    if (!touser || !*touser || !su_list_has(&c->openids, touser)) {
        sim_reply_errcode(r, 40003, "invalid openid");
        goto out;
    }
    if (!tpl || !*tpl || !su_list_has(&c->templates, tpl)) {
        sim_reply_errcode(r, 40037, "invalid template_id");
        goto out;
    }
    if ((data && !json_is_object(data)) || (cmid && !json_is_string(cmid))) {
        sim_reply_errcode(r, 47001, "data format error");
        goto out;
    }
    if (sim_busy(r)) {
        sim_reply_errcode(r, -1, "system error");
        goto out;
    }
    const char *id = cmid && *json_string_value(cmid)
                   ? json_string_value(cmid) : NULL;
    long long dup = 0, msgid = 0;
    pthread_mutex_lock(&lock);
    long ec = template_decide(c, a, touser, id, r->at_ms, &dup, &msgid);
    pthread_mutex_unlock(&lock);

    if (ec == 43004) {
        sim_reply_errcode(r, 43004, "require subscribe");
    } else if (ec == 43117) {
        sim_reply_errcode(r, 43117, "Sending messages to this openid too "
                          "frequently, please try later");
    } else if (dup) {
        /* same openid + client_msg_id inside the window: the original
         * msgid again, nothing delivered */
        reply_msgid(r, dup);
        r->duplicate = true;
    } else {
        reply_msgid(r, msgid);
        r->delivered = true;
        push_job_finish(c->appid, touser, msgid, r->at_ms);
    }
out:
    json_decref(req);
}

/* ---- control API ----------------------------------------------------------------- */

int wxsim_set_credits(const char *appid, const char *openid,
                   const char *template_id, long n)
{
    char k[800];
    int rc = -1;
    pthread_mutex_lock(&lock);
    if (smap_get(&apps, appid)) {
        long *v = su_xmalloc(sizeof *v);
        *v = n;
        key3(k, sizeof k, appid, openid, template_id);
        smap_put(&credits, k, v);
        rc = 0;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

long wxsim_get_credits(const char *appid, const char *openid,
                    const char *template_id)
{
    char k[800];
    key3(k, sizeof k, appid, openid, template_id);
    pthread_mutex_lock(&lock);
    long *v = smap_get(&credits, k);
    long n = v ? *v : 0;
    pthread_mutex_unlock(&lock);
    return n;
}

int wxsim_set_follow(const char *appid, const char *openid, bool on)
{
    char k[600];
    int rc = -1;
    pthread_mutex_lock(&lock);
    if (smap_get(&apps, appid)) {
        bool *v = su_xmalloc(sizeof *v);
        *v = on;
        key2(k, sizeof k, appid, openid);
        smap_put(&follow, k, v);
        rc = 0;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

int wxsim_expire_tokens(const char *appid)
{
    pthread_mutex_lock(&lock);
    int n = stok_expire(&tokens, appid, su_now_ms());
    pthread_mutex_unlock(&lock);
    return n;
}

static bool reset_app(const char *key, void *val, void *arg)
{
    (void)key, (void)arg;
    struct app *a = val;
    a->classic_day = a->force_day = 0;
    a->classic_calls = a->force_calls = 0;
    a->force_last_ms = 0;
    return false;
}

void wxsim_reset(void)
{
    pthread_mutex_lock(&lock);
    smap_filter(&apps, reset_app, NULL);
    smap_clear(&credits);
    smap_clear(&follow);
    smap_clear(&dedups);
    smap_clear(&windows);
    pthread_mutex_unlock(&lock);
}
