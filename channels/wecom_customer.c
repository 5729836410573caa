/* wecom_customer.c — WeCom customer broadcast (企业群发) to an external contact
 * (providers.md §4.3): the way to reach a user who is a corp's customer
 * (wecom_external_userid) rather than a member (wecom_userid, channel `wecom`). Put it
 * after `wecom` in a tier's channel list and a user without a member id gets this.
 *
 * It is a channel of its own, not a mode of `wecom`, because everything that matters to
 * the scheduler differs: the address, the secret (the customer-contact secret or an app
 * with customer-contact rights), no duplicate check (a resend after no reply creates a
 * second task: .dedup = 0, so the class's on_uncertain decides), no per-member minute
 * limit, and a per-customer monthly limit instead.
 *
 * Token: GET /cgi-bin/gettoken (wechat.c), one per corp + secret.
 * Send: POST /cgi-bin/externalcontact/add_msg_template?access_token=T with
 *   chat_type        "single"
 *   external_userid  [the user's external userid]
 *   sender           the member who sends it: [wecom_customer] sender, else the config's
 *   text             {"content": ..} from content
 *   attachments      link (link.title, link.url, link.desc, link.picurl), miniprogram
 *                    (miniprogram.title, .appid, .page, .pic_media_id), image
 *                    (image.media_id or image.pic_url), in that order, when present
 * It does not deliver: it creates a task the sender confirms in WeCom. Reply: errcode 0
 * with our customer in `fail_list` is permanent for this recipient (next channel); 40096
 * and 41048 likewise; 41063 retries; the rest as wechat.c wc_codes.
 * A customer receives at most `monthly_limit` broadcasts a month (default 4, the corp
 * may have another rule, providers.md §4.3); WeCom drops the excess silently, so the
 * limit must be counted before the request: channel.c reads it into chan.monthly_limit
 * and the policy counts it from the send ledger (China calendar months). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "fixstr.h"
#include "section.h"
#include "timeutil.h"
#include "wechat.h"

typedef struct wcc_priv {
    wc_app app;
    char sender[128];           /* may be empty when every template names one */
} wcc_priv;

static int wcc_init(chan *c, const config *cfg, const char *section, cherr *e)
{
    wcc_priv *p = calloc(1, sizeof *p);
    if (!p)
        return err_set(e, "out of memory");
    const char *sender = cfg_str(cfg, section, "sender", "");
    if (strlen(sender) >= sizeof p->sender) {
        free(p);
        return err_set(e, "[%s] sender is too long", section);
    }
    fs_copy(p->sender, sizeof p->sender, sender);
    if (wc_app_init(&p->app, cfg, section, e) < 0) {
        memset(p->app.secret, 0, sizeof p->app.secret);
        free(p);
        return -1;
    }
    c->priv = p;
    return 0;
}

static void wcc_fini(chan *c)
{
    wcc_priv *p = c->priv;
    if (p)
        memset(p->app.secret, 0, sizeof p->app.secret);
    free(p);
}

static int wcc_check_template(const tpl *t, const char *section, cherr *e)
{
    static const char *const keys[] = {
        "content", "sender", "link.title", "link.url", "link.desc", "link.picurl",
        "miniprogram.title", "miniprogram.appid", "miniprogram.page", "miniprogram.pic_media_id",
        "image.media_id", "image.pic_url", NULL};
    if (sec_check_keys(t, section, keys, NULL,
                       "content, sender, link.title/url/desc/picurl, "
                       "miniprogram.title/appid/page/pic_media_id, image.media_id/pic_url",
                       e) < 0)
        return -1;
    if (sec_is_override(section))
        return 0;
    int link = sec_count_prefix(t, section, "link."), mini = sec_count_prefix(t, section,
                                                                            "miniprogram.");
    int image = sec_count_prefix(t, section, "image.");
    if (!sec_has(t, section, "content") && !link && !mini && !image)
        return err_set(e, "%s: [%s] needs content or an attachment (link.*, miniprogram.*, "
                       "image.*)", t->ini.path, section);
    if (link && (!sec_has(t, section, "link.title") || !sec_has(t, section, "link.url")))
        return err_set(e, "%s: [%s] a link needs link.title and link.url", t->ini.path, section);
    if (mini && mini != 4)
        return err_set(e, "%s: [%s] a miniprogram needs miniprogram.title, .appid, .page and "
                       ".pic_media_id", t->ini.path, section);
    return 0;
}

static int wcc_token_req(chan *c, int force, http_req *req, cherr *e)
{
    wcc_priv *p = c->priv;
    return wc_token_request(c, &p->app, req, e);
}

static int wcc_token_parse(chan *c, const http_resp *r, char *token, size_t toklen,
                           int64_t *ttl_ms, chan_outcome *o)
{
    return wx_token_parse(r, wc_token_codes, token, toklen, ttl_ms, o);
}

/* TYPE.FIELD's rendered value, NULL when it is absent or empty. */
static const char *att_value(const render_out *f, const char *type, const char *field)
{
    char key[64];
    snprintf(key, sizeof key, "%s.%s", type, field);
    const char *v = render_get(f, key);
    return v && *v ? v : NULL;
}

/* {"msgtype":TYPE,TYPE:{fields from TYPE.FIELD}} when any TYPE.* key is set, in the
 * "attachments" array (opened by the first; *open says whether it is). */
static void attach(buf_jw *w, int *open, const render_out *f, const char *type,
                   const char *const *fields)
{
    const char *const *k = fields;
    while (*k && !att_value(f, type, *k))
        k++;
    if (!*k)
        return;
    if (!*open)
        buf_jw_open(w, "attachments", '[');
    *open = 1;
    buf_jw_open(w, NULL, '{');
    buf_jw_str(w, "msgtype", type);
    buf_jw_open(w, type, '{');
    for (; *k; k++) {
        const char *v = att_value(f, type, *k);
        if (v)
            buf_jw_str(w, *k, v);
    }
    buf_jw_close(w, '}');
    buf_jw_close(w, '}');
}

static int wcc_build(chan *c, const chan_msg *m, const char *token, int64_t now, http_req *req,
                     cherr *e)
{
    wcc_priv *p = c->priv;
    const char *sender = render_get(m->f, "sender");
    if (!sender || !*sender)
        sender = p->sender;
    if (!*sender)
        return err_set(e, "[wecom_customer] no sender: set it in [channel.wecom_customer] or "
                       "the template");
    buf_jw w = {0};
    buf_jw_open(&w, NULL, '{');
    buf_jw_str(&w, "chat_type", "single");
    buf_jw_open(&w, "external_userid", '[');
    buf_jw_str(&w, NULL, m->to);
    buf_jw_close(&w, ']');
    buf_jw_str(&w, "sender", sender);
    if (w.err)
        return chan_json_body(&w, req, "[wecom_customer] external_userid or sender is not "
                              "valid UTF-8", e);
    const char *content = render_get(m->f, "content");
    if (content && *content) {
        buf_jw_open(&w, "text", '{');
        buf_jw_str(&w, "content", content);
        buf_jw_close(&w, '}');
    }
    static const char *const link[] = {"title", "picurl", "desc", "url", NULL};
    static const char *const mini[] = {"title", "pic_media_id", "appid", "page", NULL};
    static const char *const image[] = {"media_id", "pic_url", NULL};
    int open = 0;
    attach(&w, &open, m->f, "link", link);
    attach(&w, &open, m->f, "miniprogram", mini);
    attach(&w, &open, m->f, "image", image);
    if (open)
        buf_jw_close(&w, ']');
    buf_jw_close(&w, '}');
    if (chan_json_body(&w, req, "[wecom_customer] a value is not valid UTF-8", e) < 0)
        return -1;
    char *tok = http_escape(token ? token : "");
    int rc = tok ? asprintf(&req->url, "%s/cgi-bin/externalcontact/add_msg_template"
                            "?access_token=%s", c->base_url, tok) : -1;
    free(tok);
    if (rc < 0) {
        req->url = NULL;
        return err_set(e, "out of memory");
    }
    req->method = "POST";
    req->headers = http_headers_add(NULL, "Content-Type: application/json");
    return 0;
}

static void wcc_parse(chan *c, const chan_msg *m, const http_resp *r, int64_t now,
                      chan_outcome *o)
{
    json_t *j;
    long errcode;
    if (wx_parse(r, &j, &errcode, o) < 0)
        return;
    wx_classify(errcode, json_string_value(json_object_get(j, "errmsg")), wc_codes, now, o);
    if (o->cls == CHAN_OK) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(j, "fail_list"), i, v) {
            if (json_is_string(v) && !strcmp(json_string_value(v), m->to)) {
                chan_outcome_set(o, CHAN_PERMANENT, "fail_list",
                                 "WeCom cannot send to this customer (fail_list)");
                o->recipient = 1;
                break;
            }
        }
    }
    wx_msgid(j, o);
    json_decref(j);
}

const chan_ops chan_wecom_customer = {
    .name = "wecom_customer",
    .address = "wecom_external_userid",
    .default_base_url = "https://qyapi.weixin.qq.com",
    .dedup = 0,
    .init = wcc_init,
    .fini = wcc_fini,
    .check_template = wcc_check_template,
    .token_request = wcc_token_req,
    .token_parse = wcc_token_parse,
    .build = wcc_build,
    .parse = wcc_parse,
};
