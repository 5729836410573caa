/* wechat.c — WeChat-family reply envelope, shared code tables, token requests and
 * replies (WeChat stable_token, WeCom gettoken). */
#include "wechat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixstr.h"
#include "timeutil.h"

/* getAccessToken / stable_token (providers.md §1.1, §1.2). */
const wx_code wx_token_codes[] = {
    {-1, CHAN_RETRY, 0, 0, "system busy"},
    {40001, CHAN_PERMANENT, 0, 0, "AppSecret wrong"},
    {40002, CHAN_PERMANENT, 0, 0, "invalid grant_type"},
    {40013, CHAN_PERMANENT, 0, 0, "invalid appid"},
    {40125, CHAN_PERMANENT, 0, 0, "invalid appsecret"},
    {40164, CHAN_PERMANENT, 0, 0, "caller IP not in the whitelist"},
    {40243, CHAN_PERMANENT, 0, 0, "AppSecret frozen"},
    {41004, CHAN_PERMANENT, 0, 0, "secret missing"},
    {50004, CHAN_PERMANENT, 0, 0, "token API forbidden for this account"},
    {50007, CHAN_PERMANENT, 0, 0, "account frozen"},
    {45009, CHAN_BACKOFF, 0, -1, "daily token quota reached"},
    {45011, CHAN_BACKOFF, 0, 60 * TU_SEC, "minute token quota reached"},
    {0, 0, 0, 0, NULL},
};

/* Codes every WeChat business API shares (§1, §9 "WeChat business (any)"). */
static const wx_code common_codes[] = {
    {-1, CHAN_RETRY, 0, 0, "system busy"},
    {40001, CHAN_REFRESH, 0, 0, "access_token invalid or not latest"},
    {40014, CHAN_REFRESH, 0, 0, "invalid access_token"},
    {41001, CHAN_REFRESH, 0, 0, "access_token missing"},
    {42001, CHAN_REFRESH, 0, 0, "access_token expired"},
    {45009, CHAN_BACKOFF, 0, -1, "daily quota reached"},
    {48001, CHAN_PERMANENT, 0, 0, "api unauthorized"},
    {0, 0, 0, 0, NULL},
};

int64_t wx_next_day(int64_t now)
{
    int64_t local = now + 8 * TU_HOUR;
    return (local / TU_DAY + 1) * TU_DAY - 8 * TU_HOUR;
}

void wx_errmsg_clean(const char *in, char *out, size_t len)
{
    fs_copy(out, len, in ? in : "");
    char *cut = strstr(out, " rid:");
    if (!cut)
        cut = strstr(out, " hint:");
    if (!cut)
        cut = strstr(out, ", rid:");
    if (cut)
        *cut = '\0';
}

/* `required`: a business reply always carries errcode (0 on success); only a token
 * reply may leave it out. */
static int parse_envelope(const http_resp *r, json_t **root, long *errcode, int required,
                          chan_outcome *o)
{
    *root = NULL;
    if (chan_transport_outcome(r, o))
        return -1;
    json_error_t je;
    json_t *j = json_loadb(r->body, r->body_len, 0, &je);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        /* a 200 with a broken body: the provider may have acted on it */
        chan_outcome_set(o, CHAN_RETRY, "bad reply", "provider reply is not a JSON object "
                         "(%zu bytes)", r->body_len);
        o->uncertain = 1;
        return -1;
    }
    json_t *ec = json_object_get(j, "errcode");
    *errcode = json_is_integer(ec) ? (long)json_integer_value(ec) : 0;
    if ((ec || required) && !json_is_integer(ec)) {
        json_decref(j);
        /* not the provider's answer: it may have acted on the request */
        chan_outcome_set(o, CHAN_RETRY, "bad reply", "provider reply has %s errcode (%zu bytes)",
                         ec ? "a non-integer" : "no", r->body_len);
        o->uncertain = 1;
        return -1;
    }
    *root = j;
    return 0;
}

int wx_parse(const http_resp *r, json_t **root, long *errcode, chan_outcome *o)
{
    return parse_envelope(r, root, errcode, 1, o);
}

static const wx_code *find(const wx_code *t, long code)
{
    for (; t && t->meaning; t++)
        if (t->errcode == code)
            return t;
    return NULL;
}

void wx_classify(long errcode, const char *errmsg, const wx_code *table, int64_t now,
                 chan_outcome *o)
{
    char code[24], msg[200];
    snprintf(code, sizeof code, "%ld", errcode);
    wx_errmsg_clean(errmsg, msg, sizeof msg);
    if (errcode == 0) {
        chan_outcome_set(o, CHAN_OK, "0", "ok");
        return;
    }
    const wx_code *row = find(table, errcode);
    if (!row)
        row = find(common_codes, errcode);
    if (!row) {
        /* an errcode nobody documented: do not retry blindly, do not lose it */
        chan_outcome_set(o, CHAN_PERMANENT, code, "unknown errcode %ld: %s", errcode, msg);
        return;
    }
    chan_outcome_set(o, row->cls, code, "%s (%s)", row->meaning, msg);
    o->recipient = row->recipient;
    if (row->cls == CHAN_BACKOFF)
        o->until = row->backoff_ms < 0 ? wx_next_day(now) : now + row->backoff_ms;
}

/* URL-unreserved characters only: what WeChat's and WeCom's tokens use */
static int url_safe(const char *s)
{
    for (; *s; s++)
        if (!http_unreserved((unsigned char)*s))
            return 0;
    return 1;
}

int wx_token_parse(const http_resp *r, const wx_code *table, char *token, size_t toklen,
                   int64_t *ttl_ms, chan_outcome *o)
{
    json_t *j;
    long errcode;
    if (parse_envelope(r, &j, &errcode, 0, o) < 0) {
        o->uncertain = 0;    /* asking for a token twice is harmless */
        return -1;
    }
    json_t *tok = json_object_get(j, "access_token");
    json_t *exp = json_object_get(j, "expires_in");
    if (errcode == 0 && json_is_string(tok) && !url_safe(json_string_value(tok))) {
        /* it goes into every send's URL as it is (?access_token=T) */
        chan_outcome_set(o, CHAN_RETRY, "bad reply",
                         "token reply: access_token has characters a URL cannot carry as they "
                         "are (only A-Z a-z 0-9 - _ . ~)");
        json_decref(j);
        return -1;
    }
    if (errcode == 0 && json_is_string(tok) && json_string_length(tok) > 0 &&
        json_string_length(tok) < toklen) {
        fs_copy(token, toklen, json_string_value(tok));
        long long ttl = json_is_integer(exp) ? json_integer_value(exp) : 7200;
        if (ttl <= 0)
            ttl = 1;
        *ttl_ms = ttl * TU_SEC;
        chan_outcome_set(o, CHAN_OK, "0", "token issued");
        json_decref(j);
        return 0;
    }
    if (errcode == 0)
        chan_outcome_set(o, CHAN_RETRY, "bad reply", "token reply without a usable access_token");
    else
        wx_classify(errcode, json_string_value(json_object_get(j, "errmsg")), table,
                    tu_now(), o);
    json_decref(j);
    return -1;
}

void wx_data(buf_jw *w, const render_out *f)
{
    buf_jw_open(w, "data", '{');
    for (size_t i = 0; i < f->n; i++) {
        if (strncmp(f->v[i].key, "data.", 5))
            continue;
        buf_jw_open(w, f->v[i].key + 5, '{');
        buf_jw_str(w, "value", f->v[i].value);
        buf_jw_close(w, '}');
    }
    buf_jw_close(w, '}');
}

void wx_fields(buf_jw *w, const render_out *f, const char *const *names)
{
    for (; *names; names++) {
        const char *v = render_get(f, *names);
        if (v && *v)
            buf_jw_str(w, *names, v);
    }
}

int wx_stable_token_request(chan *c, const char *appid, const char *secret, int force,
                            http_req *req, cherr *e)
{
    buf_jw w = {0};
    buf_jw_open(&w, NULL, '{');
    buf_jw_str(&w, "grant_type", "client_credential");
    buf_jw_str(&w, "appid", appid);
    buf_jw_str(&w, "secret", secret);
    buf_jw_bool(&w, "force_refresh", force);
    buf_jw_close(&w, '}');
    if (chan_json_body(&w, req, "appid or secret is not valid UTF-8", e) < 0)
        return -1;
    req->method = "POST";
    if (asprintf(&req->url, "%s/cgi-bin/stable_token", c->base_url) < 0) {
        req->url = NULL;
        free(req->body);
        req->body = NULL;
        return err_set(e, "out of memory");
    }
    req->headers = http_headers_add(NULL, "Content-Type: application/json");
    return 0;
}

void wx_msgid(json_t *root, chan_outcome *o)
{
    json_t *id = json_object_get(root, "msgid");
    if (o->cls != CHAN_OK)
        return;
    if (json_is_integer(id))
        snprintf(o->provider_id, sizeof o->provider_id, "%lld",
                 (long long)json_integer_value(id));
    else if (json_is_string(id))
        fs_copy(o->provider_id, sizeof o->provider_id, json_string_value(id));
}

/* ---- WeCom ------------------------------------------------------------------------ */

/* gettoken (§4.1, §4.2 table, §9 "WeCom gettoken"). */
const wx_code wc_token_codes[] = {
    {-1, CHAN_RETRY, 0, 0, "system busy"},
    {40001, CHAN_PERMANENT, 0, 0, "invalid corpsecret"},
    {40013, CHAN_PERMANENT, 0, 0, "invalid corpid"},
    {40091, CHAN_PERMANENT, 0, 0, "secret invalid"},
    {41002, CHAN_PERMANENT, 0, 0, "corpid missing"},
    {41004, CHAN_PERMANENT, 0, 0, "corpsecret missing"},
    {45009, CHAN_BACKOFF, 0, 60 * TU_SEC, "api freq out of limit"},
    {45033, CHAN_RETRY, 0, 0, "API concurrency limit"},
    {48002, CHAN_PERMANENT, 0, 0, "API forbidden"},
    {60020, CHAN_PERMANENT, 0, 0, "caller IP not in the corp's trusted IPs"},
    {0, 0, 0, 0, NULL},
};

/* message/send and externalcontact/add_msg_template (§4.2, §4.3, §9 "WeCom"). The
 * token codes 40014/41001/42001 (refresh) and -1 come from the shared WeChat table. */
const wx_code wc_codes[] = {
    {40001, CHAN_PERMANENT, 0, 0, "invalid secret"},
    {40003, CHAN_PERMANENT, 1, 0, "invalid userid"},
    {46004, CHAN_PERMANENT, 1, 0, "userid does not exist"},
    {60111, CHAN_PERMANENT, 1, 0, "userid not found"},
    {40013, CHAN_PERMANENT, 0, 0, "invalid corpid"},
    {40056, CHAN_PERMANENT, 0, 0, "invalid agentid"},
    {40091, CHAN_PERMANENT, 0, 0, "secret invalid"},
    {40096, CHAN_PERMANENT, 1, 0, "invalid external userid"},
    {41048, CHAN_PERMANENT, 1, 0, "no customer to send to"},
    {41063, CHAN_RETRY, 0, 0, "mass-message task still dispatching"},
    {41064, CHAN_PERMANENT, 0, 0, "attachment too large"},
    {41065, CHAN_PERMANENT, 0, 0, "invalid attachment type"},
    {44004, CHAN_PERMANENT, 0, 0, "empty content"},
    {45002, CHAN_PERMANENT, 0, 0, "content too large"},
    {45009, CHAN_BACKOFF, 0, 60 * TU_SEC, "api freq out of limit"},
    {45033, CHAN_RETRY, 0, 0, "API concurrency limit"},
    {48002, CHAN_PERMANENT, 0, 0, "API forbidden (no permission)"},
    {50002, CHAN_PERMANENT, 1, 0, "member outside the app's visible scope"},
    {60020, CHAN_PERMANENT, 0, 0, "caller IP not in the corp's trusted IPs"},
    {81013, CHAN_PERMANENT, 1, 0, "user, party and tag all invalid"},
    {82001, CHAN_PERMANENT, 0, 0, "user, party and tag all empty"},
    {82002, CHAN_PERMANENT, 0, 0, "more than 100 parties"},
    {82003, CHAN_PERMANENT, 0, 0, "more than 100 tags"},
    {90201, CHAN_PERMANENT, 0, 0, "miniprogram_notice: more than 10 content_item"},
    {90202, CHAN_PERMANENT, 0, 0, "miniprogram_notice: content_item key too long"},
    {90203, CHAN_PERMANENT, 0, 0, "miniprogram_notice: content_item value too long"},
    {90204, CHAN_PERMANENT, 0, 0, "miniprogram_notice: invalid page"},
    {0, 0, 0, 0, NULL},
};

int wc_app_init(wc_app *a, const config *cfg, const char *section, cherr *e)
{
    const char *corpid = cfg_str(cfg, section, "corpid", NULL);
    if (!corpid || !*corpid)
        return err_set(e, "[%s] corpid is missing", section);
    if (strlen(corpid) >= sizeof a->corpid)
        return err_set(e, "[%s] corpid is too long", section);
    fs_copy(a->corpid, sizeof a->corpid, corpid);
    return cfg_secret(cfg, section, "secret", a->secret, sizeof a->secret, e);
}

int wc_token_request(chan *c, const wc_app *a, http_req *req, cherr *e)
{
    char *id = http_escape(a->corpid), *sec = http_escape(a->secret);
    int rc = id && sec ? asprintf(&req->url, "%s/cgi-bin/gettoken?corpid=%s&corpsecret=%s",
                                  c->base_url, id, sec) : -1;
    if (sec)
        memset(sec, 0, strlen(sec));
    free(id);
    free(sec);
    if (rc < 0) {
        req->url = NULL;
        return err_set(e, "out of memory");
    }
    req->method = "GET";
    return 0;
}
