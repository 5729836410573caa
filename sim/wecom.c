/* wecom.c - the fake WeCom API (see wecom.h; providers.md 4 and 8).
 *
 * State behind one mutex: per-corp current token, the token table,
 * per-member send windows (minute/hour, excess silently dropped), the
 * duplicate-check window, per-customer monthly mass-message counts and
 * per-robot minute windows. */
#include "wecom.h"
#include "map.h"
#include "token.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


struct corp {
    const struct scfg_wecom *cfg;
    char token[STOK_LEN];
};

struct member {
    struct su_win minute, hour;
};

struct monthly {
    int64_t month;
    long n;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const struct scfg *cfg_;
static struct smap corps;        /* corpid -> struct corp */
static struct stok_store tokens;
static struct smap members;      /* corp,userid -> struct member */
static struct smap dupes;        /* corp,hash -> int64_t time of first send */
static struct smap customers;    /* corp,external_userid -> struct monthly */
static struct smap robots;       /* key -> struct su_win */

static void member_free(void *v)
{
    struct member *m = v;
    su_win_free(&m->minute);
    su_win_free(&m->hour);
    free(m);
}

static void win_free(void *v)
{
    su_win_free(v);
    free(v);
}

void wcsim_init(const struct scfg *cfg)
{
    cfg_ = cfg;
    smap_init(&corps, free);
    stok_init(&tokens);
    smap_init(&members, member_free);
    smap_init(&dupes, free);
    smap_init(&customers, free);
    smap_init(&robots, win_free);
    for (const struct scfg_wecom *w = cfg->wecom; w; w = w->next) {
        struct corp *c = su_xcalloc(1, sizeof *c);
        c->cfg = w;
        smap_put(&corps, w->corpid, c);
    }
}

void wcsim_shutdown(void)
{
    smap_free(&corps);
    stok_free(&tokens);
    smap_free(&members);
    smap_free(&dupes);
    smap_free(&customers);
    smap_free(&robots);
}

/* ---- helpers ------------------------------------------------------------------ */

static json_t *parse_body(struct sim_req *r)
{
    json_error_t e;
    json_t *o = json_loadb(r->body.p ? r->body.p : "", r->body.len, 0, &e);
    if (!json_is_object(o)) {
        json_decref(o);
        sim_reply_errcode(r, 47001, "data format error");
        return NULL;
    }
    return o;
}

static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* A string field of obj: its value, or NULL when missing/empty. */
static const char *field(json_t *obj, const char *k)
{
    const char *s = json_string_value(json_object_get(obj, k));
    return s && *s ? s : NULL;
}

/* Letters and digits, as WeCom's; never starting with 'o' or 'w', so that no id looks
 * like an openid to chuda's masking of exports (mask.c masks such words by their look:
 * a test reading the id back from `chuda log` would see it masked, once in ~60 runs). */
static void random_msgid(char *out, size_t n)
{
    su_rand_token(out, n);
    for (char *p = out; *p; p++)
        if (*p == '-' || *p == '_')
            *p = 'A';
    if (out[0] == 'o' || out[0] == 'w')
        out[0] = 'A';
}

/* Check ?access_token=; replies and returns NULL on failure. */
static struct corp *check_token(struct sim_req *r)
{
    const char *tok = sim_req_arg(r, "access_token");
    const struct stok_entry *e = NULL;
    if (!tok || !*tok) {
        sim_reply_errcode(r, 41001, "access_token missing");
        return NULL;
    }
    enum stok_state st = stok_check(&tokens, tok, r->at_ms, 0, &e);
    struct corp *c = e ? smap_get(&corps, e->owner) : NULL;
    if (!c || st == STOK_UNKNOWN) {
        sim_reply_errcode(r, 40014, "invalid access_token");
        return NULL;
    }
    if (st != STOK_OK) {
        sim_reply_errcode(r, 42001, "access_token expired");
        return NULL;
    }
    return c;
}

/* ---- gettoken ------------------------------------------------------------------- */

void wcsim_gettoken(struct sim_req *r)
{
    const char *corpid = sim_req_arg(r, "corpid");
    const char *secret = sim_req_arg(r, "corpsecret");
    pthread_mutex_lock(&lock);
    struct corp *c = corpid && *corpid ? smap_get(&corps, corpid) : NULL;
    const struct stok_entry *e = NULL;
    if (!corpid || !*corpid) {
        sim_reply_errcode(r, 41002, "corpid missing");
    } else if (!c) {
        sim_reply_errcode(r, 40013, "invalid corpid");
    } else if (!secret || !*secret) {
        sim_reply_errcode(r, 41004, "corpsecret missing");
    } else if (*c->cfg->secret && strcmp(secret, c->cfg->secret) != 0) {
        sim_reply_errcode(r, 40001, "invalid secret");
    } else {
        /* the same token while it is valid */
        if (!*c->token ||
            stok_check(&tokens, c->token, r->at_ms, 0, &e) != STOK_OK)
            stok_issue(&tokens, c->cfg->corpid, 1, r->at_ms,
                       c->cfg->token_ttl * 1000, c->token);
        stok_check(&tokens, c->token, r->at_ms, 0, &e);
        json_t *o = json_object();
        json_object_set_new(o, "errcode", json_integer(0));
        json_object_set_new(o, "errmsg", json_string("ok"));
        json_object_set_new(o, "access_token", json_string(c->token));
        json_object_set_new(o, "expires_in",
                            json_integer((e->expires_ms - r->at_ms + 999) /
                                         1000));
        sim_reply_json(r, 200, o);
        sim_outcome(r, "0");
    }
    pthread_mutex_unlock(&lock);
}

/* ---- message/send ------------------------------------------------------------------ */

/* Validate the payload of msgtype; returns 0 or the errcode to answer. */
static long check_payload(const char *type, json_t *req, bool to_all,
                          const char **why)
{
    json_t *p = json_object_get(req, type);
    *why = "empty content";
    if (!strcmp(type, "text") || !strcmp(type, "markdown")) {
        const char *s = field(p, "content");
        if (!s)
            return 44004;
        *why = "content size out of limit";
        return strlen(s) > 2048 ? 45002 : 0;
    }
    if (!strcmp(type, "textcard")) {
        const char *url = field(p, "url");
        if (!field(p, "title") || !field(p, "description") || !url)
            return 44004;
        *why = "invalid url";
        if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
            return 44004;
        *why = "url size out of limit";
        return strlen(url) > 2048 ? 45002 : 0;
    }
    if (!strcmp(type, "miniprogram_notice")) {
        if (!field(p, "appid") || !field(p, "title"))
            return 44004;
        *why = "miniprogram_notice cannot be sent to @all";
        if (to_all)
            return 48002;
        const char *page = field(p, "page");
        *why = "invalid page";
        if (page && strlen(page) > 1024)
            return 90204;
        json_t *items = json_object_get(p, "content_item");
        *why = "too many content_item";
        if (items && (!json_is_array(items) || json_array_size(items) > 10))
            return 90201;
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
            const char *k = field(it, "key"), *v = field(it, "value");
            *why = "invalid content_item key length";
            if (!k || chars(k) > 10)
                return 90202;
            *why = "invalid content_item value length";
            if (!v || chars(v) > 30)
                return 90203;
        }
        return 0;
    }
    static const char *const others[] = {
        "image", "voice", "video", "file", "news", "mpnews", "template_card",
        NULL
    };
    for (size_t i = 0; others[i]; i++)
        if (!strcmp(type, others[i]))
            return json_is_object(p) ? 0 : 44004;
    *why = "invalid message type";
    return 40008;
}

static bool member_allows(const struct scfg_wecom *c, const char *user,
                          int64_t now)
{
    char k[512];
    snprintf(k, sizeof k, "%s\x1f%s", c->corpid, user);
    struct member *m = smap_get(&members, k);
    if (!m) {
        m = su_xcalloc(1, sizeof *m);
        smap_put(&members, k, m);
    }
    if (su_win_count(&m->minute, now, 60000) >=
            (size_t)c->member_minute_limit ||
        su_win_count(&m->hour, now, 3600000) >= (size_t)c->member_hour_limit)
        return false;
    su_win_add(&m->minute, now);
    su_win_add(&m->hour, now);
    return true;
}

static unsigned long long fnv64(const char *s, size_t n)
{
    unsigned long long h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

/* enable_duplicate_check: true when an identical body was sent within the
 * interval (then nothing is delivered). */
static bool duplicate(struct sim_req *r, const struct scfg_wecom *c,
                      json_t *req)
{
    json_t *on = json_object_get(req, "enable_duplicate_check");
    if (json_integer_value(on) != 1)
        return false;
    json_int_t iv = json_integer_value(json_object_get(req,
                                               "duplicate_check_interval"));
    if (iv <= 0)
        iv = 1800;
    if (iv > 4 * 3600)
        iv = 4 * 3600;
    char k[256];
    snprintf(k, sizeof k, "%s\x1f%016llx-%zu", c->corpid,
             fnv64(r->body.p, r->body.len), r->body.len);
    int64_t *t = smap_get(&dupes, k);
    if (t && r->at_ms - *t < iv * 1000)
        return true;
    if (!t) {
        t = su_xmalloc(sizeof *t);
        smap_put(&dupes, k, t);
    }
    *t = r->at_ms;
    return false;
}

/* Count the valid members of "a|b|c"; the others go, lower-cased and
 * '|'-joined, into invalid. */
static size_t check_users(const struct scfg_wecom *c, const char *touser,
                          struct su_buf *invalid)
{
    size_t valid = 0;
    char *list = su_strdup(touser), *save = NULL;
    for (char *u = strtok_r(list, "|", &save); u;
         u = strtok_r(NULL, "|", &save)) {
        if (su_list_has(&c->users, u)) {
            valid++;
            continue;
        }
        for (char *q = u; *q; q++)
            *q = (char)tolower((unsigned char)*q);
        if (invalid->len)
            su_buf_add(invalid, "|", 1);
        su_buf_str(invalid, u);
    }
    free(list);
    return valid;
}

/* Count a send for each valid member; members over their rate are
 * silently dropped (listed in dropped).  Returns how many got it. */
static size_t deliver_members(const struct scfg_wecom *c, const char *touser,
                              int64_t now, json_t *dropped)
{
    size_t delivered = 0;
    char *list = su_strdup(touser), *save = NULL;
    for (char *u = strtok_r(list, "|", &save); u;
         u = strtok_r(NULL, "|", &save)) {
        if (!su_list_has(&c->users, u))
            continue;
        if (member_allows(c, u, now))
            delivered++;
        else
            json_array_append_new(dropped, json_string(u));
    }
    free(list);
    return delivered;
}

void wcsim_send(struct sim_req *r)
{
    json_t *req = NULL;
    struct su_buf invalid = {0};
    json_t *dropped_users = json_array();
    pthread_mutex_lock(&lock);
    struct corp *corp = check_token(r);
    if (!corp || !(req = parse_body(r)))
        goto out;
    const struct scfg_wecom *c = corp->cfg;

    json_t *agent = json_object_get(req, "agentid");
    long agentid = json_is_integer(agent) ? (long)json_integer_value(agent)
                 : json_is_string(agent) ? strtol(json_string_value(agent),
                                                  NULL, 10) : -1;
    if (agentid != c->agentid) {
        sim_reply_errcode(r, 40056, "invalid agentid");
        goto out;
    }
    const char *type = field(req, "msgtype");
    const char *touser = field(req, "touser");
    const char *toparty = field(req, "toparty");
    const char *totag = field(req, "totag");
    if (!type) {
        sim_reply_errcode(r, 40008, "invalid message type");
        goto out;
    }
    if (!touser && !toparty && !totag) {
        sim_reply_errcode(r, 82001, "All touser & toparty & totag invalid");
        goto out;
    }
    bool to_all = touser && !strcmp(touser, "@all");
    const char *why;
    long ec = check_payload(type, req, to_all, &why);
    if (ec) {
        sim_reply_errcode(r, ec, why);
        goto out;
    }

    size_t valid = to_all ? 1 : touser ? check_users(c, touser, &invalid) : 0;
    if (!valid && !toparty && !totag) {
        sim_reply_errcode(r, 81013, "user & party & tag all invalid");
        sim_record_set(r, "invaliduser", json_string(invalid.p ? invalid.p
                                                              : ""));
        goto out;
    }
    if (sim_busy(r)) {
        sim_reply_errcode(r, -1, "system busy");
        goto out;
    }
    bool dup = duplicate(r, c, req);
    size_t delivered = to_all ? 1 : 0;
    if (!dup && touser && !to_all)
        delivered = deliver_members(c, touser, r->at_ms, dropped_users);
    char msgid[41];
    random_msgid(msgid, sizeof msgid);
    json_t *o = json_object();
    json_object_set_new(o, "errcode", json_integer(0));
    json_object_set_new(o, "errmsg", json_string("ok"));
    json_object_set_new(o, "invaliduser", json_string(invalid.p ? invalid.p
                                                                : ""));
    json_object_set_new(o, "invalidparty", json_string(""));
    json_object_set_new(o, "invalidtag", json_string(""));
    json_object_set_new(o, "unlicenseduser", json_string(""));
    json_object_set_new(o, "msgid", json_string(msgid));
    json_object_set_new(o, "response_code", json_string(""));
    sim_reply_json(r, 200, o);
    sim_outcome(r, "0");
    if (dup) {
        r->duplicate = true;
    } else if (delivered || toparty || totag) {
        r->delivered = true;
    } else {
        r->dropped = true;
    }
    if (json_array_size(dropped_users))
        sim_record_set(r, "dropped_users", json_incref(dropped_users));
out:
    pthread_mutex_unlock(&lock);
    json_decref(req);
    json_decref(dropped_users);
    su_buf_free(&invalid);
}

/* ---- externalcontact/add_msg_template -------------------------------------------- */

void wcsim_add_msg_template(struct sim_req *r)
{
    json_t *req = NULL;
    pthread_mutex_lock(&lock);
    struct corp *corp = check_token(r);
    if (!corp || !(req = parse_body(r)))
        goto out;
    const struct scfg_wecom *c = corp->cfg;
    const char *chat_type = field(req, "chat_type");
    json_t *ext = json_object_get(req, "external_userid");
    json_t *text = json_object_get(req, "text");
    json_t *att = json_object_get(req, "attachments");
    const char *sender = field(req, "sender");

    if (chat_type && strcmp(chat_type, "single") && strcmp(chat_type, "group")) {
        sim_reply_errcode(r, 40058, "invalid chat_type");
        goto out;
    }
    if ((ext && !json_is_array(ext)) || (att && !json_is_array(att)) ||
        (text && !json_is_object(text))) {
        sim_reply_errcode(r, 40058, "invalid parameter");
        goto out;
    }
    const char *content = field(text, "content");
    if (!content && json_array_size(att) == 0) {
        sim_reply_errcode(r, 44004, "empty content");
        goto out;
    }
    if (content && strlen(content) > 4000) {
        sim_reply_errcode(r, 45002, "content size out of limit");
        goto out;
    }
    if (json_array_size(att) > 9) {
        sim_reply_errcode(r, 40058, "too many attachments");
        goto out;
    }
    if (json_array_size(ext) == 0 && !sender) {
        sim_reply_errcode(r, 41048, "no customer to send");
        goto out;
    }
    if (sim_busy(r)) {
        sim_reply_errcode(r, -1, "system busy");
        goto out;
    }
    json_t *fail = json_array(), *over = json_array();
    size_t i, reach = 0;
    json_t *v;
    int64_t month = su_beijing_month(r->at_ms);
    json_array_foreach(ext, i, v) {
        const char *id = json_string_value(v);
        if (!id || !su_list_has(&c->external_users, id)) {
            json_array_append(fail, v);
            continue;
        }
        char k[512];
        snprintf(k, sizeof k, "%s\x1f%s", c->corpid, id);
        struct monthly *m = smap_get(&customers, k);
        if (!m) {
            m = su_xcalloc(1, sizeof *m);
            smap_put(&customers, k, m);
        }
        if (m->month != month)
            m->month = month, m->n = 0;
        if (m->n >= c->external_monthly_limit) {
            json_array_append(over, v);   /* result status 3, no API error */
            continue;
        }
        m->n++;
        reach++;
    }
    char msgid[41] = "msg";
    random_msgid(msgid + 3, sizeof msgid - 3);
    json_t *o = json_object();
    json_object_set_new(o, "errcode", json_integer(0));
    json_object_set_new(o, "errmsg", json_string("ok"));
    json_object_set_new(o, "fail_list", fail);
    json_object_set_new(o, "msgid", json_string(msgid));
    sim_reply_json(r, 200, o);
    sim_outcome(r, "0");
    r->delivered = reach > 0 || json_array_size(ext) == 0;
    sim_record_set(r, "over_limit", json_boolean(json_array_size(over) > 0));
    sim_record_set(r, "over_limit_users", over);
out:
    pthread_mutex_unlock(&lock);
    json_decref(req);
}

/* ---- webhook (group robot) ------------------------------------------------------------ */

static const struct scfg_wecom *robot_owner(const char *key)
{
    for (const struct scfg_wecom *w = cfg_->wecom; w; w = w->next)
        if (su_list_has(&w->robot_keys, key))
            return w;
    return NULL;
}

void wcsim_webhook(struct sim_req *r)
{
    json_t *req = NULL;
    const char *key = sim_req_arg(r, "key");
    const struct scfg_wecom *c = key && *key ? robot_owner(key) : NULL;
    pthread_mutex_lock(&lock);
    if (!c) {
        sim_reply_errcode(r, 93000, "invalid webhook url");
        goto out;
    }
    if (!(req = parse_body(r)))
        goto out;
    const char *type = field(req, "msgtype");
    json_t *p = type ? json_object_get(req, type) : NULL;
    if (!type) {
        sim_reply_errcode(r, 40008, "invalid message type");
        goto out;
    }
    if (!strcmp(type, "text") || !strcmp(type, "markdown") ||
        !strcmp(type, "markdown_v2")) {
        const char *s = field(p, "content");
        size_t max = strcmp(type, "text") ? 4096 : 2048;
        if (!s) {
            sim_reply_errcode(r, 44004, "empty content");
            goto out;
        }
        if (strlen(s) > max) {
            sim_reply_errcode(r, 45002, "content size out of limit");
            goto out;
        }
    } else if (strcmp(type, "image") && strcmp(type, "news") &&
               strcmp(type, "file") && strcmp(type, "voice") &&
               strcmp(type, "template_card")) {
        sim_reply_errcode(r, 40008, "invalid message type");
        goto out;
    } else if (!json_is_object(p)) {
        sim_reply_errcode(r, 44004, "empty content");
        goto out;
    }
    struct su_win *w = smap_get(&robots, key);
    if (!w) {
        w = su_xcalloc(1, sizeof *w);
        smap_put(&robots, key, w);
    }
    if (su_win_count(w, r->at_ms, 60000) >= (size_t)c->robot_minute_limit) {
        sim_reply_errcode(r, 45009, "api freq out of limit");
        goto out;
    }
    if (sim_busy(r)) {
        sim_reply_errcode(r, -1, "system busy");
        goto out;
    }
    su_win_add(w, r->at_ms);
    sim_reply_errcode(r, 0, "ok");
    r->delivered = true;
out:
    pthread_mutex_unlock(&lock);
    json_decref(req);
}

/* ---- control --------------------------------------------------------------------------- */

int wcsim_expire_tokens(const char *corpid)
{
    pthread_mutex_lock(&lock);
    int n = stok_expire(&tokens, corpid, su_now_ms());
    pthread_mutex_unlock(&lock);
    return n;
}

void wcsim_reset(void)
{
    pthread_mutex_lock(&lock);
    smap_clear(&members);
    smap_clear(&dupes);
    smap_clear(&customers);
    smap_clear(&robots);
    pthread_mutex_unlock(&lock);
}
