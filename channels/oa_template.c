/* oa_template.c — WeChat official-account (服务号) template message (providers.md §3).
 *
 * Token: POST /cgi-bin/stable_token (shared with mp_subscribe, wechat.c), one per appid.
 * Send: POST /cgi-bin/message/template/send?access_token=T with
 *   touser         the user's openid for this official account (address: oa_openid)
 *   template_id    [oa_template] template_id
 *   url            [oa_template] url (optional jump)
 *   miniprogram    {"appid":..,"pagepath":..} from miniprogram.appid / miniprogram.pagepath
 *                  (optional; WeChat prefers it to url, old clients fall back to url)
 *   client_msg_id  "chuda-<message id>": the provider sends one message per openid +
 *                  client_msg_id within 10 minutes, so a resend after a timeout (same
 *                  id on every attempt) cannot reach the user twice — hence .dedup
 *   data           {"KEY":{"value":".."}} from the data.KEY lines, in file order
 * Codes: 43004 (user does not follow) refused; 43117 (too frequent for this openid)
 * backoff for this recipient, 60 s; 40003 permanent for this recipient; 40036, 40037,
 * 43116, 47001, 48001 permanent; 45065 (client_msg_id already used) is the earlier
 * send, so ok; 45009 backoff to the next China day; -1 retry; 40001/40014/41001/42001
 * refresh the token (wechat.c). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "fixstr.h"
#include "section.h"
#include "timeutil.h"
#include "wechat.h"

typedef struct oa_priv {
    char appid[64];
    char secret[256];
} oa_priv;

/* Template-send codes (§3); the shared WeChat codes are in wechat.c. */
static const wx_code oa_codes[] = {
    {43004, CHAN_REFUSED, 1, 0, "require subscribe: the user does not follow the account"},
    {40003, CHAN_PERMANENT, 1, 0, "invalid openid"},
    {40036, CHAN_PERMANENT, 0, 0, "invalid template_id size"},
    {40037, CHAN_PERMANENT, 0, 0, "invalid template_id"},
    {43116, CHAN_PERMANENT, 0, 0, "template_id is banned"},
    {43117, CHAN_BACKOFF, 1, 60 * TU_SEC, "sending to this openid too frequently"},
    {45065, CHAN_OK, 0, 0, "client_msg_id already sent"},
    {47001, CHAN_PERMANENT, 0, 0, "data format error"},
    {48001, CHAN_PERMANENT, 0, 0, "api unauthorized (no template permission)"},
    {0, 0, 0, 0, NULL},
};

static int oa_init(chan *c, const config *cfg, const char *section, cherr *e)
{
    oa_priv *p = calloc(1, sizeof *p);
    if (!p)
        return err_set(e, "out of memory");
    const char *appid = cfg_str(cfg, section, "appid", NULL);
    if (!appid || !*appid || strlen(appid) >= sizeof p->appid) {
        free(p);
        return err_set(e, "[%s] appid is missing", section);
    }
    fs_copy(p->appid, sizeof p->appid, appid);
    if (cfg_secret(cfg, section, "secret", p->secret, sizeof p->secret, e) < 0) {
        free(p);
        return -1;
    }
    c->priv = p;
    return 0;
}

static void oa_fini(chan *c)
{
    oa_priv *p = c->priv;
    if (p)
        memset(p->secret, 0, sizeof p->secret);
    free(p);
}

static int oa_check_template(const tpl *t, const char *section, cherr *e)
{
    static const char *const keys[] = {"template_id", "url", "miniprogram.appid",
                                       "miniprogram.pagepath", NULL};
    static const char *const prefixes[] = {"data.", NULL};
    if (sec_check_keys(t, section, keys, prefixes,
                       "template_id, url, miniprogram.appid, miniprogram.pagepath, data.KEY",
                       e) < 0)
        return -1;
    if (sec_is_override(section))
        return 0;
    if (!sec_has(t, section, "template_id"))
        return err_set(e, "%s: [%s] template_id is missing", t->ini.path, section);
    if (!sec_count_prefix(t, section, "data."))
        return err_set(e, "%s: [%s] has no data.KEY lines", t->ini.path, section);
    if (sec_has(t, section, "miniprogram.pagepath") && !sec_has(t, section, "miniprogram.appid"))
        return err_set(e, "%s: [%s] miniprogram.pagepath needs miniprogram.appid", t->ini.path,
                       section);
    return 0;
}

static int oa_token_request(chan *c, int force, http_req *req, cherr *e)
{
    oa_priv *p = c->priv;
    return wx_stable_token_request(c, p->appid, p->secret, force, req, e);
}

static int oa_token_parse(chan *c, const http_resp *r, char *token, size_t toklen,
                          int64_t *ttl_ms, chan_outcome *o)
{
    return wx_token_parse(r, wx_token_codes, token, toklen, ttl_ms, o);
}

static int oa_build(chan *c, const chan_msg *m, const char *token, int64_t now, http_req *req,
                    cherr *e)
{
    const char *tid = render_get(m->f, "template_id");
    if (!tid || !*tid)
        return err_set(e, "[oa_template] template_id renders empty");
    buf_jw w = {0};
    buf_jw_open(&w, NULL, '{');
    buf_jw_str(&w, "touser", m->to);
    buf_jw_str(&w, "template_id", tid);
    if (w.err)
        return chan_json_body(&w, req, "[oa_template] touser or template_id is not valid UTF-8", e);
    const char *url = render_get(m->f, "url");
    if (url && *url)
        buf_jw_str(&w, "url", url);
    const char *mpid = render_get(m->f, "miniprogram.appid");
    if (mpid && *mpid) {
        buf_jw_open(&w, "miniprogram", '{');
        buf_jw_str(&w, "appid", mpid);
        const char *path = render_get(m->f, "miniprogram.pagepath");
        if (path && *path)
            buf_jw_str(&w, "pagepath", path);
        buf_jw_close(&w, '}');
    }
    char cmid[40];
    snprintf(cmid, sizeof cmid, "chuda-%lld", (long long)m->id);
    buf_jw_str(&w, "client_msg_id", cmid);
    wx_data(&w, m->f);
    buf_jw_close(&w, '}');
    if (chan_json_body(&w, req, "[oa_template] a value is not valid UTF-8", e) < 0)
        return -1;
    char *tok = http_escape(token ? token : "");
    int rc = tok ? asprintf(&req->url, "%s/cgi-bin/message/template/send?access_token=%s",
                            c->base_url, tok) : -1;
    free(tok);
    if (rc < 0) {
        req->url = NULL;
        return err_set(e, "out of memory");
    }
    req->method = "POST";
    req->headers = http_headers_add(NULL, "Content-Type: application/json");
    return 0;
}

static void oa_parse(chan *c, const chan_msg *m, const http_resp *r, int64_t now,
                     chan_outcome *o)
{
    json_t *j;
    long errcode;
    if (wx_parse(r, &j, &errcode, o) < 0)
        return;
    wx_classify(errcode, json_string_value(json_object_get(j, "errmsg")), oa_codes, now, o);
    wx_msgid(j, o);
    json_decref(j);
}

const chan_ops chan_oa_template = {
    .name = "oa_template",
    .address = "oa_openid",
    .default_base_url = "https://api.weixin.qq.com",
    .dedup = 1,
    .init = oa_init,
    .fini = oa_fini,
    .check_template = oa_check_template,
    .token_force = 1,
    .token_request = oa_token_request,
    .token_parse = oa_token_parse,
    .build = oa_build,
    .parse = oa_parse,
};
