/* sms_aliyun.c — Aliyun SMS (dysmsapi) SendSms, RPC style, version 2017-05-25
 * (providers.md §6), the `aliyun` provider of the sms channel.
 *
 * Request: POST https://dysmsapi.aliyuncs.com/ with an application/x-www-form-urlencoded
 * body of AccessKeyId, Action=SendSms, Format=JSON (the default would be XML),
 * OutId=<message id>, PhoneNumbers (mainland numbers without +86, others without +),
 * RegionId, SignName, SignatureMethod=HMAC-SHA1, SignatureNonce (a fresh random UUID per
 * request, from getrandom), SignatureVersion=1.0, TemplateCode, TemplateParam (a JSON
 * object of string values, when the template has parameters), Timestamp (UTC),
 * Version=2017-05-25, and Signature (v1: HMAC-SHA1 over the canonical query, src/sign.c).
 * Reply: {"Code":"OK","Message":"OK","BizId":..,"RequestId":..}; gateway errors come
 * with HTTP 4xx and the same Code field. Codes (§6.3, §9): isv.BUSINESS_LIMIT_CONTROL
 * backs off this number for the window its Message names (分钟级 60 s, 小时级 to the
 * next hour, 天级 to the next China day); day/month account caps, throttling and an empty
 * balance pause the channel; isp.SYSTEM_ERROR retries (uncertain); a stale timestamp or a
 * reused nonce retries with a fresh signature; everything else isv.* and the credential
 * codes are permanent. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "buf.h"
#include "fixstr.h"
#include "sign.h"
#include "sms.h"
#include "timeutil.h"

#define ALI_BALANCE_WAIT (30 * TU_MIN)

/* §6.3; exact codes first, then the longest "X.*" prefix. */
static const sms_code ali_codes[] = {
    {"OK", CHAN_OK, 0, 0, 0, "accepted"},
    {"isv.BUSINESS_LIMIT_CONTROL", CHAN_BACKOFF, 1, 0, SMS_FROM_MESSAGE,
     "per-number flow control"},
    {"isv.DAY_LIMIT_CONTROL", CHAN_BACKOFF, 0, 0, SMS_NEXT_DAY, "account daily cap (alert)"},
    {"isv.MONTH_LIMIT_CONTROL", CHAN_BACKOFF, 0, 0, SMS_NEXT_MONTH,
     "account monthly cap (alert)"},
    {"Throttling.*", CHAN_BACKOFF, 0, 0, TU_SEC, "QPS throttling"},
    {"isp.SYSTEM_ERROR", CHAN_RETRY, 0, 1, 0, "provider system error"},
    {"isv.AMOUNT_NOT_ENOUGH", CHAN_BACKOFF, 0, 0, ALI_BALANCE_WAIT, "no balance (alert)"},
    {"isv.OUT_OF_SERVICE", CHAN_BACKOFF, 0, 0, ALI_BALANCE_WAIT, "service stopped (alert)"},
    {"InvalidTimeStamp.Expired", CHAN_RETRY, 0, 0, 0, "timestamp skew over 15 minutes"},
    {"SignatureNonceUsed", CHAN_RETRY, 0, 0, 0, "signature nonce reused"},
    {"isv.MOBILE_NUMBER_ILLEGAL", CHAN_PERMANENT, 1, 0, 0, "invalid phone number"},
    {"isv.MOBILE_COUNT_OVER_LIMIT", CHAN_PERMANENT, 0, 0, 0, "too many numbers"},
    {"isv.TEMPLATE_MISSING_PARAMETERS", CHAN_PERMANENT, 0, 0, 0, "template variables missing"},
    {"isv.TEMPLATE_PARAMS_ILLEGAL", CHAN_PERMANENT, 0, 0, 0, "forbidden words in a variable"},
    {"isv.INVALID_JSON_PARAM", CHAN_PERMANENT, 0, 0, 0, "TemplateParam not valid JSON"},
    {"isv.INVALID_PARAMETERS", CHAN_PERMANENT, 0, 0, 0, "parameter error"},
    {"isv.PARAM_LENGTH_LIMIT", CHAN_PERMANENT, 0, 0, 0, "variable too long"},
    {"isv.PARAM_NOT_SUPPORT_URL", CHAN_PERMANENT, 0, 0, 0, "URL in a variable"},
    {"isv.BLACK_KEY_CONTROL_LIMIT", CHAN_PERMANENT, 0, 0, 0, "blacklisted keyword"},
    {"isv.SMS_TEMPLATE_ILLEGAL", CHAN_PERMANENT, 0, 0, 0, "template invalid or unapproved"},
    {"isv.SMS_SIGNATURE_ILLEGAL", CHAN_PERMANENT, 0, 0, 0, "signature invalid or unapproved"},
    {"isv.SMS_SIGN_ILLEGAL", CHAN_PERMANENT, 0, 0, 0, "signature invalid"},
    {"isv.SMS_SIGNATURE_SCENE_ILLEGAL", CHAN_PERMANENT, 0, 0, 0, "signature of the wrong type"},
    {"isv.SIGN_STATE_ILLEGAL", CHAN_PERMANENT, 0, 0, 0, "signature not filed"},
    {"isv.SMS_CONTENT_ILLEGAL", CHAN_PERMANENT, 0, 0, 0, "forbidden content"},
    {"isv.DENY_IP_RANGE", CHAN_PERMANENT, 0, 0, 0, "source IP region forbidden"},
    {"isv.*", CHAN_PERMANENT, 0, 0, 0, "rejected"},
    {"isp.RAM_PERMISSION_DENY", CHAN_PERMANENT, 0, 0, 0, "RAM permission denied"},
    {"Forbidden.RAM", CHAN_PERMANENT, 0, 0, 0, "RAM permission denied"},
    {"SignatureDoesNotMatch", CHAN_PERMANENT, 0, 0, 0, "bad signature"},
    {"InvalidAccessKeyId.*", CHAN_PERMANENT, 0, 0, 0, "AccessKeyId not found or inactive"},
    {NULL, 0, 0, 0, 0, NULL},
};

int sms_nonce(char *out, size_t len)
{
    unsigned char r[16];
    if (len < 37 || getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        return -1;
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);     /* version 4 */
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);     /* RFC 4122 variant */
    snprintf(out, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
             r[13], r[14], r[15]);
    return 0;
}

/* E.164 as PhoneNumbers takes it: mainland without +86, others without the +. */
static const char *ali_number(const char *e164)
{
    if (!strncmp(e164, "+86", 3) && strlen(e164) == 14)
        return e164 + 3;
    return e164[0] == '+' ? e164 + 1 : e164;
}

int sms_aliyun_request(const sms_conf *p, const char *base_url, const sms_send *s,
                       const char *method, const char *format, const char *nonce, int64_t now,
                       http_req *req, cherr *e)
{
    char ts[32];
    time_t sec = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char *tparam = NULL;
    if (s->n) {
        buf_jw w = {0};
        buf_jw_open(&w, NULL, '{');
        for (size_t i = 0; i < s->n && !w.err; i++) {
            if (!s->names || !s->names[i])
                w.err = BUF_JW_UTF8;      /* a parameter without a name, refused as before */
            else
                buf_jw_str(&w, s->names[i], s->values[i]);
        }
        buf_jw_close(&w, '}');
        tparam = buf_jw_take(&w, NULL);
        if (!tparam)
            return err_set(e, w.err == BUF_JW_UTF8 ? "[sms] TemplateParam: a name or value is "
                                                     "not valid UTF-8" : "out of memory");
    }
    struct sign_param sp[] = {
        {"AccessKeyId", p->secret_id},
        {"Action", "SendSms"},
        {"Format", format},
        {"OutId", s->ref},
        {"PhoneNumbers", ali_number(s->phone)},
        {"RegionId", p->region},
        {"SignName", p->sign_name},
        {"SignatureMethod", "HMAC-SHA1"},
        {"SignatureNonce", nonce},
        {"SignatureVersion", "1.0"},
        {"TemplateCode", s->template_id},
        {"Timestamp", ts},
        {"Version", "2017-05-25"},
        {"TemplateParam", tparam},      /* last: left out when there are no parameters */
    };
    size_t n = sizeof sp / sizeof sp[0] - (tparam ? 0 : 1);
    char *query = NULL;
    int rc = sign_aliyun_query(method, p->secret, sp, n, &query);
    free(tparam);
    if (rc != SIGN_OK)
        return err_set(e, "[sms] Aliyun signing failed: %s", sign_strerror(rc));
    int get = !strcmp(method, "GET");
    if (asprintf(&req->url, "%s/%s%s", base_url, get ? "?" : "", get ? query : "") < 0) {
        req->url = NULL;
        free(query);
        return err_set(e, "out of memory");
    }
    req->method = get ? "GET" : "POST";
    if (get) {
        free(query);
        return 0;
    }
    req->body = query;
    req->body_len = strlen(query);
    req->headers = http_headers_add(NULL, "Content-Type: application/x-www-form-urlencoded");
    return req->headers ? 0 : err_set(e, "out of memory");
}

static int ali_build(const sms_conf *p, const char *base_url, const sms_send *s, int64_t now,
                     http_req *req, cherr *e)
{
    char nonce[40];
    if (sms_nonce(nonce, sizeof nonce) < 0)
        return err_set(e, "[sms] no random bytes for SignatureNonce");
    return sms_aliyun_request(p, base_url, s, "POST", "JSON", nonce, now, req, e);
}

static void ali_parse(const char *phone, const http_resp *r, int64_t now, chan_outcome *o)
{
    if (r->curl_code != 0 || r->status >= 500) {
        chan_transport_outcome(r, o);
        return;
    }
    json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
    const char *code = json_string_value(json_object_get(j, "Code"));
    if (!code || !*code) {      /* an empty Code says as little as none */
        json_decref(j);
        if (chan_transport_outcome(r, o))
            return;
        /* a 200 we cannot read: the SMS may have been sent */
        chan_outcome_set(o, CHAN_RETRY, "bad reply", "Aliyun reply has no Code (%zu bytes)",
                         r->body_len);
        o->uncertain = 1;
        return;
    }
    sms_classify(ali_codes, code, json_string_value(json_object_get(j, "Message")), now, o);
    const char *biz = json_string_value(json_object_get(j, "BizId"));
    if (o->cls == CHAN_OK && biz)
        fs_copy(o->provider_id, sizeof o->provider_id, biz);
    json_decref(j);
}

const sms_provider sms_aliyun = {
    .name = "aliyun",
    .default_base_url = "https://dysmsapi.aliyuncs.com",
    .default_region = "cn-hangzhou",
    .needs_names = 1,
    .build = ali_build,
    .parse = ali_parse,
};
