/* channel.c — the channel table, generic channel config, rate limiting, retry delays
 * and transport-level outcome classification shared by every provider. */
#include "channel.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fixstr.h"
#include "timeutil.h"
#include "token.h"

extern const chan_ops chan_mp_subscribe, chan_oa_template, chan_sms, chan_wecom,
    chan_wecom_customer, chan_wecom_robot;

/* Every channel chuda knows. Adding one is a line here. */
static const chan_ops *const all_channels[] = {
    &chan_mp_subscribe,
    &chan_oa_template,
    &chan_sms,
    &chan_wecom,
    &chan_wecom_customer,
    &chan_wecom_robot,
};

#define N_CHANNELS (sizeof all_channels / sizeof all_channels[0])

const chan_ops *chan_ops_find(const char *name)
{
    for (size_t i = 0; i < N_CHANNELS; i++)
        if (!strcmp(all_channels[i]->name, name))
            return all_channels[i];
    return NULL;
}

const char *const *chan_names(void)
{
    static const char *names[N_CHANNELS + 1];
    for (size_t i = 0; i < N_CHANNELS; i++)
        names[i] = all_channels[i]->name;
    names[N_CHANNELS] = NULL;
    return names;
}

const char *chan_class_name(chan_class k)
{
    static const char *const n[] = {"ok", "retry", "refresh_token", "refused", "permanent",
                                     "backoff"};
    return k <= CHAN_BACKOFF ? n[k] : "?";
}

int chan_open(chan **out, const chan_ops *ops, const config *cfg, cherr *e)
{
    char section[64];
    snprintf(section, sizeof section, "channel.%s", ops->name);
    chan *c = calloc(1, sizeof *c);
    if (!c)
        return err_set(e, "out of memory");
    c->ops = ops;
    fs_copy(c->name, sizeof c->name, ops->name);
    long conc, attempts, timeout;
    double rate, burst;
    if (cfg_int(cfg, section, "concurrency", 16, 1, 4096, &conc, e) < 0 ||
        cfg_num(cfg, section, "rate", 0, 0, 1e6, &rate, e) < 0 ||
        cfg_num(cfg, section, "burst", 0, 0, 1e6, &burst, e) < 0 ||
        cfg_int(cfg, section, "max_attempts", 5, 1, 100, &attempts, e) < 0 ||
        cfg_int(cfg, section, "timeout", 10000, 100, 600000, &timeout, e) < 0 ||
        cfg_duration(cfg, section, "retry_base", "1s", &c->retry_base, e) < 0 ||
        cfg_duration(cfg, section, "retry_cap", "60s", &c->retry_cap, e) < 0) {
        free(c);
        return -1;
    }
    const char *cr = cfg_str(cfg, section, "credits", "on");
    if (strcmp(cr, "on") && strcmp(cr, "off")) {
        free(c);
        err_set(e, "'%s' is not on or off", cr);
        return err_prefix(e, "%s:%d: [%s] credits: ", cfg->ini.path ? cfg->ini.path : "config",
                          cfg_line(cfg, section, "credits"), section);
    }
    c->credits = ops->credits && !strcmp(cr, "on");
    long monthly = 0;
    if (cfg_str(cfg, section, "monthly_limit", NULL) &&
        cfg_int(cfg, section, "monthly_limit", 0, 0, 31, &monthly, e) < 0) {
        free(c);
        return -1;
    }
    if (!strcmp(ops->name, "wecom_customer") && !cfg_str(cfg, section, "monthly_limit", NULL))
        monthly = 4;        /* providers.md §4.3; the channel's own default */
    c->monthly_limit = (int)monthly;
    long force = 0;
    if (ops->token_force &&
        cfg_int(cfg, section, "force_refresh_daily", 20, 0, 1000, &force, e) < 0) {
        free(c);
        return -1;
    }
    c->force_daily = (int)force;
    c->concurrency = (int)conc;
    c->rate = rate;
    c->burst = burst > 0 ? burst : (rate > 0 ? (rate < 1 ? 1 : rate) : 0);
    c->bucket = c->burst;
    c->max_attempts = (int)attempts;
    c->timeout_ms = timeout;
    const char *url = cfg_str(cfg, section, "base_url", ops->default_base_url);
    if (strncasecmp(url, "https://", 8) || !url[8]) {
        free(c);
        err_set(e, "'%s' is not an https:// URL (providers are reached over verified TLS only)",
                url);
        return err_prefix(e, "%s:%d: [%s] base_url: ", cfg->ini.path ? cfg->ini.path : "config",
                          cfg_line(cfg, section, "base_url"), section);
    }
    c->base_url = strdup(url);
    size_t bl = strlen(c->base_url);
    while (bl && c->base_url[bl - 1] == '/')
        c->base_url[--bl] = '\0';
    if (ops->init(c, cfg, section, e) < 0) {
        free(c->base_url);
        free(c);
        return -1;
    }
    if (ops->token_request)
        c->token = token_new();
    *out = c;
    return 0;
}

void chan_close(chan *c)
{
    if (!c)
        return;
    if (c->ops->fini)
        c->ops->fini(c);
    token_free(c->token);
    free(c->base_url);
    free(c);
}

int chan_rate_take(chan *c, int64_t now, int64_t *wait_ms)
{
    if (c->rate <= 0)
        return 1;
    if (now > c->bucket_at) {
        c->bucket += (double)(now - c->bucket_at) * c->rate / 1000.0;
        if (c->bucket > c->burst)
            c->bucket = c->burst;
        c->bucket_at = now;
    }
    if (c->bucket >= 1.0) {
        c->bucket -= 1.0;
        return 1;
    }
    *wait_ms = (int64_t)((1.0 - c->bucket) * 1000.0 / c->rate) + 1;
    return 0;
}

void chan_rate_refund(chan *c)
{
    if (c->rate > 0 && c->bucket + 1.0 <= c->burst)
        c->bucket += 1.0;
}

int64_t chan_retry_delay(const chan *c, int attempt, double rnd)
{
    int64_t d = c->retry_base;
    for (int i = 2; i < attempt && d < c->retry_cap; i++)
        d *= 2;
    if (d > c->retry_cap)
        d = c->retry_cap;
    return d + (int64_t)((double)d * 0.4 * (rnd - 0.5));
}

int chan_json_body(buf_jw *w, http_req *req, const char *bad_utf8, cherr *e)
{
    req->body = buf_jw_take(w, &req->body_len);
    if (req->body)
        return 0;
    return err_set(e, "%s", w->err == BUF_JW_UTF8 ? bad_utf8 : "out of memory");
}

void chan_outcome_set(chan_outcome *o, chan_class k, const char *code, const char *fmt, ...)
{
    o->cls = k;
    fs_copy(o->code, sizeof o->code, code ? code : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->reason, sizeof o->reason, fmt, ap);
    va_end(ap);
}

/* A certificate or trust problem: the configuration is wrong (a CA file, a base_url
 * naming another host, a provider certificate we do not trust), not this message. */
static int tls_config_fault(int curl_code)
{
    switch (curl_code) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_CRL_BADFILE:
        return 1;
    default:
        return 0;
    }
}

int chan_transport_outcome(const http_resp *r, chan_outcome *o)
{
    if (r->curl_code != CURLE_OK) {
        char code[32];
        snprintf(code, sizeof code, "curl %d", r->curl_code);
        if (tls_config_fault(r->curl_code) && !r->may_have_sent) {
            /* nothing left the machine: pause the whole channel (no attempt spent, the
             * message waits) until someone fixes the trust configuration. (A failure on
             * the fresh connection of a resend is a retry, uncertain, below.) */
            chan_outcome_set(o, CHAN_BACKOFF, "tls", "TLS verification failed (%s): %s",
                             code, r->error ? r->error : "certificate not trusted");
            o->until = 0;       /* the caller's default channel pause */
            return 1;
        }
        chan_outcome_set(o, CHAN_RETRY, code, "%s", r->error ? r->error : "transfer failed");
        o->uncertain = r->may_have_sent;
        return 1;
    }
    if (r->status == 429) {
        chan_outcome_set(o, CHAN_BACKOFF, "http 429", "HTTP 429 Too Many Requests");
        return 1;
    }
    if (r->status >= 500) {
        char code[32];
        snprintf(code, sizeof code, "http %ld", r->status);
        chan_outcome_set(o, CHAN_RETRY, code, "HTTP %ld from provider", r->status);
        o->uncertain = 1;
        return 1;
    }
    if (r->status < 200 || r->status >= 300) {
        char code[32];
        snprintf(code, sizeof code, "http %ld", r->status);
        chan_outcome_set(o, CHAN_PERMANENT, code, "HTTP %ld from provider", r->status);
        return 1;
    }
    return 0;
}

const char *chan_address(const chan_ops *ops, const store_user *u)
{
    const char *a = NULL;
    if (!strcmp(ops->address, "mp_openid"))
        a = u->mp_openid;
    else if (!strcmp(ops->address, "oa_openid"))
        a = u->oa_openid;
    else if (!strcmp(ops->address, "phone"))
        a = u->phone;
    else if (!strcmp(ops->address, "wecom_userid"))
        a = u->wecom_userid;
    else if (!strcmp(ops->address, "wecom_external_userid"))
        a = u->wecom_external_userid;
    else if (!strcmp(ops->address, "user_id"))
        a = u->user_id;
    return a && *a ? a : NULL;
}
