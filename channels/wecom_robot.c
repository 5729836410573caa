/* wecom_robot.c — WeCom group robot webhook (消息推送, 群机器人; providers.md §4.4).
 *
 * Send: POST /cgi-bin/webhook/send?key=KEY, Content-Type: application/json. No token:
 * the key is the credential. It comes from [channel.wecom_robot] key_env or key_file,
 * and because it sits in the URL, no reason this channel produces may carry the URL or
 * the key (every reason is scrubbed of it). The group is the recipient: any user can
 * be "reached" (address: user_id), the message mentions nobody unless the template says.
 * Body from [wecom_robot]: msgtype text (default), markdown, markdown_v2 or news;
 *   text          content, mentioned_list and mentioned_mobile_list (comma lists)
 *   markdown(_v2) content
 *   news          one article: title, description, url, picurl
 * Limit: 20 messages per minute per robot. Unless rate/burst are configured the
 * channel's token bucket is rate = 0.3/s, burst = 2: at most 2 + 0.3 * 60 = 20 in any
 * minute. Codes: 45009 pauses the channel for `limit_pause` (60 s; providers.md §4.4 marks
 * the penalty [C/U], community reports say ~10 minutes); 93000 (invalid key) and
 * 40008/44004/45002 (bad message) are permanent, as are the token codes
 * 40001/40014/41001/42001: this channel has no token to refresh, so they can only mean a
 * wrong webhook; -1, 5xx and network errors retry (no dedup: a request without a reply
 * is uncertain). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "section.h"
#include "timeutil.h"
#include "wechat.h"

typedef struct robot_priv {
    char key[256];
    int64_t limit_pause;        /* how long a 45009 pauses the robot */
} robot_priv;

#define ROBOT_LIMIT 45009

/* The whole table: nothing falls through to WeChat's shared codes, whose token codes
 * mean "refresh" on channels that have a token. */
static const wx_code robot_codes[] = {
    {-1, CHAN_RETRY, 0, 0, "system busy"},
    {ROBOT_LIMIT, CHAN_BACKOFF, 0, 60 * TU_SEC, "robot limit of 20 messages per minute"},
    {93000, CHAN_PERMANENT, 0, 0, "invalid webhook key"},
    {40001, CHAN_PERMANENT, 0, 0, "invalid credential (the webhook has no token)"},
    {40014, CHAN_PERMANENT, 0, 0, "invalid access_token (the webhook has no token)"},
    {41001, CHAN_PERMANENT, 0, 0, "access_token missing (the webhook has no token)"},
    {42001, CHAN_PERMANENT, 0, 0, "access_token expired (the webhook has no token)"},
    {40008, CHAN_PERMANENT, 0, 0, "invalid message type"},
    {44004, CHAN_PERMANENT, 0, 0, "empty content"},
    {45002, CHAN_PERMANENT, 0, 0, "content too large"},
    {48001, CHAN_PERMANENT, 0, 0, "api unauthorized"},
    {0, 0, 0, 0, NULL},
};

static int robot_init(chan *c, const config *cfg, const char *section, cherr *e)
{
    robot_priv *p = calloc(1, sizeof *p);
    if (!p)
        return err_set(e, "out of memory");
    if (cfg_secret(cfg, section, "key", p->key, sizeof p->key, e) < 0 ||
        cfg_duration(cfg, section, "limit_pause", "60s", &p->limit_pause, e) < 0) {
        memset(p->key, 0, sizeof p->key);
        free(p);
        return -1;
    }
    /* 20 per minute per robot unless configured (see the top comment) */
    if (!cfg_str(cfg, section, "rate", NULL)) {
        c->rate = 0.3;
        if (!cfg_str(cfg, section, "burst", NULL))
            c->burst = 2;
        c->bucket = c->burst;
    }
    c->priv = p;
    return 0;
}

static void robot_fini(chan *c)
{
    robot_priv *p = c->priv;
    if (p)
        memset(p->key, 0, sizeof p->key);
    free(p);
}

static int robot_type(const char *t)
{
    return !strcmp(t, "text") || !strcmp(t, "markdown") || !strcmp(t, "markdown_v2") ||
           !strcmp(t, "news");
}

static int robot_check_template(const tpl *t, const char *section, cherr *e)
{
    static const char *const keys[] = {"msgtype", "content", "mentioned_list",
                                       "mentioned_mobile_list", "title", "description", "url",
                                       "picurl", NULL};
    if (sec_check_keys(t, section, keys, NULL,
                       "msgtype, content, mentioned_list, mentioned_mobile_list, title, "
                       "description, url, picurl", e) < 0)
        return -1;
    if (sec_is_override(section))
        return 0;
    const inif_entry *mt = inif_find(&t->ini, section, "msgtype");
    const char *type = mt ? mt->value : "text";
    if (!robot_type(type))
        return err_set(e, "%s:%d: [%s] msgtype '%s' is not text, markdown, markdown_v2 or news",
                       t->ini.path, mt->line, section, type);
    if (!strcmp(type, "news") ? !sec_has(t, section, "title") || !sec_has(t, section, "url")
                              : !sec_has(t, section, "content"))
        return err_set(e, "%s: [%s] msgtype %s needs %s", t->ini.path, section, type,
                       strcmp(type, "news") ? "content" : "title and url");
    return 0;
}

/* "KEY":["a","b","c"] from "a, b,c" */
static void list(buf_jw *w, const char *key, const char *s)
{
    buf_jw_open(w, key, '[');
    while (s && *s) {
        s += strspn(s, " \t,");
        size_t n = strcspn(s, ",");
        size_t len = n;
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        if (len)
            buf_jw_strn(w, NULL, s, len);
        s += n;
    }
    buf_jw_close(w, ']');
}

static int robot_build(chan *c, const chan_msg *m, const char *token, int64_t now,
                       http_req *req, cherr *e)
{
    robot_priv *p = c->priv;
    const char *type = render_get(m->f, "msgtype");
    if (!type || !*type)
        type = "text";
    if (!robot_type(type))
        return err_set(e, "[wecom_robot] msgtype '%s' is not text, markdown, markdown_v2 or "
                       "news", type);
    buf_jw w = {0};
    buf_jw_open(&w, NULL, '{');
    buf_jw_str(&w, "msgtype", type);
    buf_jw_open(&w, type, '{');
    const char *content = render_get(m->f, "content");
    if (!strcmp(type, "news")) {
        static const char *const f[] = {"title", "description", "url", "picurl", NULL};
        buf_jw_open(&w, "articles", '[');
        buf_jw_open(&w, NULL, '{');
        wx_fields(&w, m->f, f);
        buf_jw_close(&w, '}');
        buf_jw_close(&w, ']');
    } else {
        buf_jw_str(&w, "content", content ? content : "");
        const char *ml = render_get(m->f, "mentioned_list");
        const char *mm = render_get(m->f, "mentioned_mobile_list");
        if (!strcmp(type, "text") && ml && *ml)
            list(&w, "mentioned_list", ml);
        if (!strcmp(type, "text") && mm && *mm)
            list(&w, "mentioned_mobile_list", mm);
    }
    buf_jw_close(&w, '}');
    buf_jw_close(&w, '}');
    if (chan_json_body(&w, req, "[wecom_robot] a value is not valid UTF-8", e) < 0)
        return -1;
    char *key = http_escape(p->key);
    int rc = key ? asprintf(&req->url, "%s/cgi-bin/webhook/send?key=%s", c->base_url, key) : -1;
    if (key)
        memset(key, 0, strlen(key));
    free(key);
    if (rc < 0) {
        req->url = NULL;
        return err_set(e, "out of memory");
    }
    req->method = "POST";
    req->headers = http_headers_add(NULL, "Content-Type: application/json");
    return 0;
}

/* Replace every occurrence of `secret` in `s` with "***". */
static void scrub(char *s, const char *secret)
{
    size_t n = strlen(secret);
    char *hit;
    if (n < 4)
        return;
    while ((hit = strstr(s, secret))) {
        size_t tail = strlen(hit + n);
        memcpy(hit, "***", 3);
        memmove(hit + 3, hit + n, tail + 1);
    }
}

static void robot_parse(chan *c, const chan_msg *m, const http_resp *r, int64_t now,
                        chan_outcome *o)
{
    robot_priv *p = c->priv;
    json_t *j;
    long errcode;
    if (wx_parse(r, &j, &errcode, o) == 0) {
        wx_classify(errcode, json_string_value(json_object_get(j, "errmsg")), robot_codes, now,
                    o);
        if (errcode == ROBOT_LIMIT)
            o->until = now + p->limit_pause;
        json_decref(j);
    }
    /* the key is in the URL: whatever curl or the server said, it is not repeated */
    char *esc = http_escape(p->key);
    scrub(o->reason, p->key);
    scrub(o->code, p->key);
    if (esc) {
        scrub(o->reason, esc);
        memset(esc, 0, strlen(esc));
    }
    free(esc);
}

const chan_ops chan_wecom_robot = {
    .name = "wecom_robot",
    .address = "user_id",
    .default_base_url = "https://qyapi.weixin.qq.com",
    .dedup = 0,
    .init = robot_init,
    .fini = robot_fini,
    .check_template = robot_check_template,
    .build = robot_build,
    .parse = robot_parse,
};
