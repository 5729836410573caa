/* mp_subscribe.c — WeChat mini-program subscription message (providers.md §2).
 *
 * Token: POST /cgi-bin/stable_token. Send: POST /cgi-bin/message/subscribe/send with
 * touser (the user's mini-program openid), template_id, optional page, data as
 * {"thing1":{"value":"..."}} from the template's data.KEY lines, miniprogram_state
 * and lang from config. 43101 (no subscription credit) is refused. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "fixstr.h"
#include "section.h"
#include "timeutil.h"
#include "wechat.h"

typedef struct mp_priv {
    char appid[64];
    char secret[256];
    char state[16];             /* miniprogram_state: developer, trial, formal */
    char lang[8];
} mp_priv;

/* Subscribe-send codes (§2.1); the shared WeChat codes are in wechat.c. */
static const wx_code mp_codes[] = {
    {40003, CHAN_PERMANENT, 1, 0, "touser openid invalid"},
    {40037, CHAN_PERMANENT, 0, 0, "template_id invalid"},
    {43101, CHAN_REFUSED, 1, 0, "user refuses the message: no subscription credit"},
    {47003, CHAN_PERMANENT, 0, 0, "template data invalid"},
    {41030, CHAN_PERMANENT, 0, 0, "page invalid"},
    {43108, CHAN_RETRY, 1, 0, "concurrent calls to the same openid"},
    {45168, CHAN_PERMANENT, 0, 0, "content rejected"},
    {0, 0, 0, 0, NULL},
};

static int mp_init(chan *c, const config *cfg, const char *section, cherr *e)
{
    mp_priv *p = calloc(1, sizeof *p);
    if (!p)
        return err_set(e, "out of memory");
    const char *appid = cfg_str(cfg, section, "appid", NULL);
    if (!appid || !*appid) {
        free(p);
        return err_set(e, "[%s] appid is missing", section);
    }
    fs_copy(p->appid, sizeof p->appid, appid);
    fs_copy(p->state, sizeof p->state, cfg_str(cfg, section, "miniprogram_state", "formal"));
    fs_copy(p->lang, sizeof p->lang, cfg_str(cfg, section, "lang", "zh_CN"));
    if (strcmp(p->state, "formal") && strcmp(p->state, "trial") && strcmp(p->state, "developer")) {
        free(p);
        return err_set(e, "[%s] miniprogram_state must be formal, trial or developer", section);
    }
    if (cfg_secret(cfg, section, "secret", p->secret, sizeof p->secret, e) < 0) {
        free(p);
        return -1;
    }
    c->priv = p;
    return 0;
}

static void mp_fini(chan *c)
{
    mp_priv *p = c->priv;
    if (p)
        memset(p->secret, 0, sizeof p->secret);
    free(p);
}

static int mp_check_template(const tpl *t, const char *section, cherr *e)
{
    static const char *const keys[] = {"template_id", "page", NULL};
    static const char *const prefixes[] = {"data.", NULL};
    if (sec_check_keys(t, section, keys, prefixes, "template_id, page, data.KEY", e) < 0)
        return -1;
    if (sec_is_override(section))
        return 0;    /* tier/segment/variant overrides need not repeat required keys */
    if (!sec_has(t, section, "template_id"))
        return err_set(e, "%s: [%s] template_id is missing", t->ini.path, section);
    if (!sec_count_prefix(t, section, "data."))
        return err_set(e, "%s: [%s] has no data.KEY lines", t->ini.path, section);
    return 0;
}

static int mp_token_request(chan *c, int force, http_req *req, cherr *e)
{
    mp_priv *p = c->priv;
    return wx_stable_token_request(c, p->appid, p->secret, force, req, e);
}

static int mp_token_parse(chan *c, const http_resp *r, char *token, size_t toklen,
                          int64_t *ttl_ms, chan_outcome *o)
{
    return wx_token_parse(r, wx_token_codes, token, toklen, ttl_ms, o);
}

static int mp_build(chan *c, const chan_msg *m, const char *token, int64_t now, http_req *req,
                    cherr *e)
{
    mp_priv *p = c->priv;
    const char *tid = render_get(m->f, "template_id");
    if (!tid || !*tid)
        return err_set(e, "[mp_subscribe] template_id renders empty");
    buf_jw w = {0};
    buf_jw_open(&w, NULL, '{');
    buf_jw_str(&w, "touser", m->to);
    buf_jw_str(&w, "template_id", tid);
    const char *page = render_get(m->f, "page");
    if (page && *page)
        buf_jw_str(&w, "page", page);
    wx_data(&w, m->f);
    buf_jw_str(&w, "miniprogram_state", p->state);
    buf_jw_str(&w, "lang", p->lang);
    buf_jw_close(&w, '}');
    if (chan_json_body(&w, req, "a template value is not valid UTF-8", e) < 0)
        return -1;
    req->method = "POST";
    if (asprintf(&req->url, "%s/cgi-bin/message/subscribe/send?access_token=%s", c->base_url,
                 token) < 0) {
        req->url = NULL;
        return err_set(e, "out of memory");
    }
    req->headers = http_headers_add(NULL, "Content-Type: application/json");
    return 0;
}

static void mp_parse(chan *c, const chan_msg *m, const http_resp *r, int64_t now,
                     chan_outcome *o)
{
    json_t *j;
    long errcode;
    if (wx_parse(r, &j, &errcode, o) < 0)
        return;
    wx_classify(errcode, json_string_value(json_object_get(j, "errmsg")), mp_codes, now, o);
    wx_msgid(j, o);
    json_decref(j);
}

const chan_ops chan_mp_subscribe = {
    .name = "mp_subscribe",
    .address = "mp_openid",
    .default_base_url = "https://api.weixin.qq.com",
    .credits = 1,
    .init = mp_init,
    .fini = mp_fini,
    .check_template = mp_check_template,
    .token_force = 1,
    .token_request = mp_token_request,
    .token_parse = mp_token_parse,
    .build = mp_build,
    .parse = mp_parse,
};
