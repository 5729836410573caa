/* wecom.c — WeCom (企业微信) app message to a corp member (providers.md §4.1, §4.2).
 *
 * Token: GET /cgi-bin/gettoken?corpid=..&corpsecret=.. (wechat.c), one per corp + app.
 * On WeCom 40001 means a wrong secret (permanent); 40014/41001/42001 refresh the token.
 * Send: POST /cgi-bin/message/send?access_token=T with
 *   touser                    the member's userid (address: wecom_userid)
 *   msgtype                   [wecom] msgtype: text (default), textcard, markdown or
 *                             miniprogram_notice, and its object:
 *     text, markdown          content
 *     textcard                title, description, url, btntxt (optional)
 *     miniprogram_notice      appid, page, title, description, emphasis_first_item
 *                             (true/false), content_item from item.KEY = value lines
 *   agentid                   [channel.wecom] agentid
 *   enable_duplicate_check=1  with duplicate_check_interval (config, default 1800 s): the
 *                             same request again within the interval is not delivered, so
 *                             a resend after no reply is safe (.dedup). Every attempt of a
 *                             message sends the same bytes.
 * Reply: errcode 0 with `invaliduser` / `unlicenseduser` naming our member (lower-cased)
 * is permanent for this recipient (the next channel is tried), as is 81013 (all
 * recipients invalid) and 40003/46004/60111/50002; 45009 pauses the channel 60 s; -1
 * and 45033 retry; the rest of §4.2's table is permanent (wechat.c wc_codes).
 * WeCom silently drops more than 30 messages per member per minute (1000 per hour):
 * the admit hook keeps a sliding window per member in memory (member_per_minute,
 * member_per_hour) and holds a message back until the window has room. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "channel.h"
#include "section.h"
#include "timeutil.h"
#include "wechat.h"

#define MEMBER_BUCKETS 4096
#define SWEEP_EVERY 4096            /* admits between sweeps of idle members */

/* One member's recent sends: the last `per_minute` send times (a ring), and sends per
 * minute over the last hour (60 one-minute buckets). */
typedef struct member {
    struct member *next;
    int64_t last;                   /* last admitted send */
    int n, pos;                     /* entries in ring, next slot */
    int64_t bucket_min[60];         /* minute number of each bucket */
    int count[60];
    char *id;
    int64_t ring[];                 /* per_minute entries */
} member;

typedef struct wc_priv {
    wc_app app;
    long agentid;
    long dup_interval;              /* duplicate_check_interval, s */
    long per_minute, per_hour;      /* per member; 0: no limit */
    member *members[MEMBER_BUCKETS];
    long admits;
} wc_priv;

static int wc_init(chan *c, const config *cfg, const char *section, cherr *e)
{
    wc_priv *p = calloc(1, sizeof *p);
    if (!p)
        return err_set(e, "out of memory");
    if (wc_app_init(&p->app, cfg, section, e) < 0 ||
        cfg_int(cfg, section, "agentid", -1, 0, 2147483647L, &p->agentid, e) < 0 ||
        cfg_int(cfg, section, "duplicate_check_interval", 1800, 1, 4 * 3600, &p->dup_interval,
                e) < 0 ||
        cfg_int(cfg, section, "member_per_minute", 30, 0, 100000, &p->per_minute, e) < 0 ||
        cfg_int(cfg, section, "member_per_hour", 1000, 0, 1000000, &p->per_hour, e) < 0) {
        memset(p->app.secret, 0, sizeof p->app.secret);
        free(p);
        return -1;
    }
    if (p->agentid < 0) {
        memset(p->app.secret, 0, sizeof p->app.secret);
        free(p);
        return err_set(e, "[%s] agentid is missing", section);
    }
    c->priv = p;
    return 0;
}

static void wc_fini(chan *c)
{
    wc_priv *p = c->priv;
    if (!p)
        return;
    for (size_t i = 0; i < MEMBER_BUCKETS; i++)
        while (p->members[i]) {
            member *m = p->members[i];
            p->members[i] = m->next;
            free(m->id);
            free(m);
        }
    memset(p->app.secret, 0, sizeof p->app.secret);
    free(p);
}

/* ---- template ----------------------------------------------------------------------- */

static int known_type(const char *t)
{
    return !strcmp(t, "text") || !strcmp(t, "markdown") || !strcmp(t, "textcard") ||
           !strcmp(t, "miniprogram_notice");
}

static int wc_check_template(const tpl *t, const char *section, cherr *e)
{
    static const char *const keys[] = {"msgtype", "content", "title", "description", "url",
                                       "btntxt", "appid", "page", "emphasis_first_item", NULL};
    static const char *const prefixes[] = {"item.", NULL};
    if (sec_check_keys(t, section, keys, prefixes,
                       "msgtype, content, title, description, url, btntxt, appid, page, "
                       "emphasis_first_item, item.KEY", e) < 0)
        return -1;
    if (sec_is_override(section))
        return 0;
    const inif_entry *mt = inif_find(&t->ini, section, "msgtype");
    const char *type = mt ? mt->value : "text";
    if (!known_type(type))
        return err_set(e, "%s:%d: [%s] msgtype '%s' is not text, textcard, markdown or "
                       "miniprogram_notice", t->ini.path, mt->line, section, type);
    static const char *const need_text[] = {"content", NULL};
    static const char *const need_card[] = {"title", "description", "url", NULL};
    static const char *const need_mini[] = {"appid", "title", NULL};
    const char *const *need = !strcmp(type, "textcard") ? need_card
                              : !strcmp(type, "miniprogram_notice") ? need_mini : need_text;
    for (; *need; need++)
        if (!sec_has(t, section, *need))
            return err_set(e, "%s: [%s] msgtype %s needs %s", t->ini.path, section, type, *need);
    return 0;
}

/* ---- token -------------------------------------------------------------------------- */

static int wc_token_req(chan *c, int force, http_req *req, cherr *e)
{
    wc_priv *p = c->priv;
    return wc_token_request(c, &p->app, req, e);
}

static int wc_token_parse(chan *c, const http_resp *r, char *token, size_t toklen,
                          int64_t *ttl_ms, chan_outcome *o)
{
    return wx_token_parse(r, wc_token_codes, token, toklen, ttl_ms, o);
}

/* ---- the message ---------------------------------------------------------------------- */

/* "TYPE":{..}, the message itself. */
static void payload(buf_jw *w, const char *type, const render_out *f)
{
    static const char *const text[] = {"content", NULL};
    static const char *const card[] = {"title", "description", "url", "btntxt", NULL};
    static const char *const mini[] = {"appid", "page", "title", "description", NULL};
    buf_jw_open(w, type, '{');
    if (!strcmp(type, "text") || !strcmp(type, "markdown")) {
        wx_fields(w, f, text);
    } else if (!strcmp(type, "textcard")) {
        wx_fields(w, f, card);
    } else {
        wx_fields(w, f, mini);
        const char *em = render_get(f, "emphasis_first_item");
        if (em && *em)
            buf_jw_bool(w, "emphasis_first_item", !strcmp(em, "true") || !strcmp(em, "1"));
        buf_jw_open(w, "content_item", '[');
        for (size_t i = 0; i < f->n; i++) {
            if (strncmp(f->v[i].key, "item.", 5))
                continue;
            buf_jw_open(w, NULL, '{');
            buf_jw_str(w, "key", f->v[i].key + 5);
            buf_jw_str(w, "value", f->v[i].value);
            buf_jw_close(w, '}');
        }
        buf_jw_close(w, ']');
    }
    buf_jw_close(w, '}');
}

static int wc_build(chan *c, const chan_msg *m, const char *token, int64_t now, http_req *req,
                    cherr *e)
{
    wc_priv *p = c->priv;
    const char *type = render_get(m->f, "msgtype");
    if (!type || !*type)
        type = "text";
    if (!known_type(type))
        return err_set(e, "[wecom] msgtype '%s' is not text, textcard, markdown or "
                       "miniprogram_notice", type);
    buf_jw w = {0};
    buf_jw_open(&w, NULL, '{');
    buf_jw_str(&w, "touser", m->to);
    if (w.err)
        return chan_json_body(&w, req, "[wecom] touser is not valid UTF-8", e);
    buf_jw_str(&w, "msgtype", type);
    buf_jw_int(&w, "agentid", p->agentid);
    payload(&w, type, m->f);
    buf_jw_int(&w, "enable_duplicate_check", 1);
    buf_jw_int(&w, "duplicate_check_interval", p->dup_interval);
    buf_jw_close(&w, '}');
    if (chan_json_body(&w, req, "[wecom] a value is not valid UTF-8", e) < 0)
        return -1;
    char *tok = http_escape(token ? token : "");
    int rc = tok ? asprintf(&req->url, "%s/cgi-bin/message/send?access_token=%s", c->base_url,
                            tok) : -1;
    free(tok);
    if (rc < 0) {
        req->url = NULL;
        return err_set(e, "out of memory");
    }
    req->method = "POST";
    req->headers = http_headers_add(NULL, "Content-Type: application/json");
    return 0;
}

/* Is `who` in the '|'-separated `list` (WeCom lower-cases the userids it lists)? */
static int listed(const char *list, const char *who)
{
    size_t n = strlen(who);
    for (const char *s = list; s && *s;) {
        const char *bar = strchr(s, '|');
        size_t len = bar ? (size_t)(bar - s) : strlen(s);
        if (len == n && !strncasecmp(s, who, n))
            return 1;
        s = bar ? bar + 1 : NULL;
    }
    return 0;
}

static void wc_parse(chan *c, const chan_msg *m, const http_resp *r, int64_t now,
                     chan_outcome *o)
{
    json_t *j;
    long errcode;
    if (wx_parse(r, &j, &errcode, o) < 0)
        return;
    wx_classify(errcode, json_string_value(json_object_get(j, "errmsg")), wc_codes, now, o);
    if (o->cls == CHAN_OK) {
        const char *inv = json_string_value(json_object_get(j, "invaliduser"));
        const char *unl = json_string_value(json_object_get(j, "unlicenseduser"));
        if (listed(inv, m->to)) {
            chan_outcome_set(o, CHAN_PERMANENT, "invaliduser",
                             "WeCom lists the member as invalid (invaliduser)");
            o->recipient = 1;
        } else if (listed(unl, m->to)) {
            chan_outcome_set(o, CHAN_PERMANENT, "unlicenseduser",
                             "the member has no WeCom interface licence (unlicenseduser)");
            o->recipient = 1;
        }
    }
    wx_msgid(j, o);
    json_decref(j);
}

/* ---- the per-member limit (admit) ---------------------------------------------------- */

static unsigned long hash(const char *s)
{
    unsigned long h = 5381;
    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h % MEMBER_BUCKETS;
}

/* Forget members with no send in the last hour: their windows are empty. */
static void sweep(wc_priv *p, int64_t now)
{
    for (size_t i = 0; i < MEMBER_BUCKETS; i++)
        for (member **pm = &p->members[i]; *pm;) {
            member *m = *pm;
            if (m->last <= now - TU_HOUR) {
                *pm = m->next;
                free(m->id);
                free(m);
            } else {
                pm = &m->next;
            }
        }
}

static member *member_get(wc_priv *p, const char *id)
{
    unsigned long h = hash(id);
    for (member *m = p->members[h]; m; m = m->next)
        if (!strcmp(m->id, id))
            return m;
    size_t ring = p->per_minute > 0 ? (size_t)p->per_minute : 1;
    member *m = calloc(1, sizeof *m + ring * sizeof m->ring[0]);
    if (!m || !(m->id = strdup(id))) {
        free(m);
        return NULL;
    }
    m->next = p->members[h];
    p->members[h] = m;
    return m;
}

static int wc_admit(chan *c, const chan_msg *m, int64_t now, chan_outcome *o)
{
    wc_priv *p = c->priv;
    if (++p->admits % SWEEP_EVERY == 0)
        sweep(p, now);
    member *mb = member_get(p, m->to);
    if (!mb)
        return 1;       /* out of memory: do not hold messages back for bookkeeping */
    char t[32];
    if (p->per_minute > 0 && mb->n == p->per_minute && mb->ring[mb->pos] > now - TU_MIN) {
        o->until = mb->ring[mb->pos] + TU_MIN;
        chan_outcome_set(o, CHAN_BACKOFF, "member_limit",
                         "WeCom drops more than %ld messages per member per minute: held "
                         "until %s", p->per_minute, tu_format(o->until, t, sizeof t));
        o->recipient = 1;
        return 0;
    }
    int64_t minute = now / TU_MIN, oldest = minute;
    long hour = 0;
    for (int i = 0; i < 60; i++)
        if (mb->count[i] && mb->bucket_min[i] > minute - 60) {
            hour += mb->count[i];
            if (mb->bucket_min[i] < oldest)
                oldest = mb->bucket_min[i];
        }
    if (p->per_hour > 0 && hour >= p->per_hour) {
        o->until = (oldest + 60) * TU_MIN;
        chan_outcome_set(o, CHAN_BACKOFF, "member_limit",
                         "WeCom drops more than %ld messages per member per hour: held until %s",
                         p->per_hour, tu_format(o->until, t, sizeof t));
        o->recipient = 1;
        return 0;
    }
    if (p->per_minute > 0) {
        mb->ring[mb->pos] = now;
        mb->pos = (int)((mb->pos + 1) % p->per_minute);
        if (mb->n < p->per_minute)
            mb->n++;
    }
    int slot = (int)(minute % 60);
    if (mb->bucket_min[slot] != minute) {
        mb->bucket_min[slot] = minute;
        mb->count[slot] = 0;
    }
    mb->count[slot]++;
    mb->last = now;
    return 1;
}

const chan_ops chan_wecom = {
    .name = "wecom",
    .address = "wecom_userid",
    .default_base_url = "https://qyapi.weixin.qq.com",
    .dedup = 1,
    .init = wc_init,
    .fini = wc_fini,
    .check_template = wc_check_template,
    .token_request = wc_token_req,
    .token_parse = wc_token_parse,
    .build = wc_build,
    .parse = wc_parse,
    .admit = wc_admit,
};
