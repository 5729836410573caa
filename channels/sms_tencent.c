/* sms_tencent.c — Tencent Cloud SMS SendSms, API 3.0, version 2021-01-11
 * (providers.md §5), the `tencent` provider of the sms channel.
 *
 * Request: POST https://sms.tencentcloudapi.com/ with the body
 *   {"PhoneNumberSet":["+86..."],"SmsSdkAppId":..,"SignName":..,"TemplateId":..,
 *    "TemplateParamSet":[..],"SessionContext":"<message id>"}
 * and the headers Authorization (TC3-HMAC-SHA256 over content-type;host;x-tc-action,
 * src/sign.c), Content-Type: application/json; charset=utf-8, Host (the base URL's
 * host, sent as signed), X-TC-Action: SendSms, X-TC-Timestamp, X-TC-Version:
 * 2021-01-11, X-TC-Region.
 * Reply: {"Response":{"SendStatusSet":[{..,"Code":"Ok",..}],"RequestId":..}}, one status
 * per number, each classified on its own (we send one number), or a whole-request
 * {"Response":{"Error":{"Code":..,"Message":..}}}. Codes (§5.3, §9): blacklist refused;
 * per-number 30-second / hourly / daily limits back off that number for 30 s / to the next
 * hour / to the next China day; MarketingSendTimeConstraint until 08:00 China time;
 * app daily caps, arrears and an empty package pause the channel; InternalError.* retry
 * (uncertain: the SMS may have gone); signature, parameter and permission codes are
 * permanent. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fixstr.h"
#include "sign.h"
#include "sms.h"
#include "timeutil.h"

#define TC_CONTENT_TYPE "application/json; charset=utf-8"
#define TC_BALANCE_WAIT (30 * TU_MIN)

/* §5.3; exact codes first, then the longest "X.*" prefix. */
static const sms_code tc_codes[] = {
    {"Ok", CHAN_OK, 0, 0, 0, "accepted"},
    {"AuthFailure.SignatureExpire", CHAN_RETRY, 0, 0, 0, "timestamp skew over 5 minutes"},
    {"AuthFailure.SignatureFailure", CHAN_PERMANENT, 0, 0, 0, "bad signature"},
    {"AuthFailure.*", CHAN_PERMANENT, 0, 0, 0, "credential problem"},
    {"RequestLimitExceeded", CHAN_BACKOFF, 0, 0, TU_SEC, "API call frequency exceeded"},
    {"InternalError.RequestTimeException", CHAN_RETRY, 0, 0, 0, "request time off by 10 min"},
    {"InternalError.JsonParseFail", CHAN_PERMANENT, 0, 0, 0, "malformed body"},
    {"InternalError.*", CHAN_RETRY, 0, 1, 0, "provider internal error"},
    {"LimitExceeded.PhoneNumberThirtySecondLimit", CHAN_BACKOFF, 1, 0, 30 * TU_SEC,
     "per-number 30-second limit"},
    {"LimitExceeded.PhoneNumberOneHourLimit", CHAN_BACKOFF, 1, 0, SMS_NEXT_HOUR,
     "per-number hourly limit"},
    {"LimitExceeded.PhoneNumberDailyLimit", CHAN_BACKOFF, 1, 0, SMS_NEXT_DAY,
     "per-number daily limit"},
    {"LimitExceeded.PhoneNumberSameContentDailyLimit", CHAN_BACKOFF, 1, 0, SMS_NEXT_DAY,
     "same content to this number today"},
    {"LimitExceeded.DeliveryFrequencyLimit", CHAN_BACKOFF, 1, 0, SMS_NEXT_HOUR,
     "matched a frequency policy"},
    {"LimitExceeded.AppDailyLimit", CHAN_BACKOFF, 0, 0, SMS_NEXT_DAY, "app daily cap reached"},
    {"LimitExceeded.DailyLimit", CHAN_BACKOFF, 0, 0, SMS_NEXT_DAY,
     "international daily cap reached"},
    {"LimitExceeded.PhoneNumberCountLimit", CHAN_PERMANENT, 0, 0, 0, "more than 200 numbers"},
    {"LimitExceeded.*", CHAN_BACKOFF, 0, 0, TU_MIN, "limit exceeded"},
    {"FailedOperation.PhoneNumberInBlacklist", CHAN_REFUSED, 1, 0, 0,
     "number blacklisted (unsubscribed)"},
    {"FailedOperation.PhoneNumberOnBlacklist", CHAN_REFUSED, 1, 0, 0,
     "number blacklisted (unsubscribed)"},
    {"FailedOperation.MarketingSendTimeConstraint", CHAN_BACKOFF, SMS_THIS_MESSAGE, 0,
     SMS_AT_0800, "marketing SMS only 08:00-22:00"},
    {"FailedOperation.InsufficientBalanceInSmsPackage", CHAN_BACKOFF, 0, 0, TC_BALANCE_WAIT,
     "SMS package exhausted (alert)"},
    {"UnauthorizedOperation.SerivceSuspendDueToArrears", CHAN_BACKOFF, 0, 0, TC_BALANCE_WAIT,
     "account in arrears (alert)"},
    {"FailedOperation.SignatureIncorrectOrUnapproved", CHAN_PERMANENT, 0, 0, 0,
     "signature unapproved"},
    {"FailedOperation.TemplateIncorrectOrUnapproved", CHAN_PERMANENT, 0, 0, 0,
     "template unapproved or parameters mismatch"},
    {"FailedOperation.ContainSensitiveWord", CHAN_PERMANENT, 0, 0, 0, "sensitive words"},
    {"FailedOperation.JsonParseFail", CHAN_PERMANENT, 0, 0, 0, "malformed body"},
    {"FailedOperation.FailResolvePacket", CHAN_PERMANENT, 0, 0, 0, "malformed body"},
    {"FailedOperation.*", CHAN_PERMANENT, 0, 0, 0, "operation failed"},
    {"InvalidParameterValue.IncorrectPhoneNumber", CHAN_PERMANENT, 1, 0, 0,
     "invalid phone number"},
    {"InvalidParameterValue.*", CHAN_PERMANENT, 0, 0, 0, "invalid parameter value"},
    {"InvalidParameter.*", CHAN_PERMANENT, 0, 0, 0, "invalid parameter"},
    {"MissingParameter.*", CHAN_PERMANENT, 0, 0, 0, "missing parameter"},
    {"UnauthorizedOperation.*", CHAN_PERMANENT, 0, 0, 0, "unauthorized"},
    {"UnsupportedOperation.*", CHAN_PERMANENT, 0, 0, 0, "unsupported operation"},
    {NULL, 0, 0, 0, 0, NULL},
};

/* "https://host[:port]/path" -> "host[:port]" */
static int url_host(const char *url, char *out, size_t len)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    size_t n = strcspn(h, "/?#");
    if (!n || n >= len)
        return -1;
    memcpy(out, h, n);
    out[n] = '\0';
    return 0;
}

int sms_tencent_request(const sms_conf *p, const char *base_url, const sms_send *s,
                        int64_t now, http_req *req, cherr *e)
{
    char host[256];
    if (url_host(base_url, host, sizeof host) < 0)
        return err_set(e, "[sms] base_url has no host");
    /* the body is signed as it is: these fields in this order (the §5.4 vector) */
    buf_jw w = {0};
    buf_jw_open(&w, NULL, '{');
    buf_jw_open(&w, "PhoneNumberSet", '[');
    buf_jw_str(&w, NULL, s->phone);
    buf_jw_close(&w, ']');
    buf_jw_str(&w, "SmsSdkAppId", p->sdk_app_id);
    buf_jw_str(&w, "SignName", p->sign_name);
    buf_jw_str(&w, "TemplateId", s->template_id);
    buf_jw_open(&w, "TemplateParamSet", '[');
    for (size_t i = 0; i < s->n; i++)
        buf_jw_str(&w, NULL, s->values[i]);
    buf_jw_close(&w, ']');
    buf_jw_str(&w, "SessionContext", s->ref);
    buf_jw_close(&w, '}');
    size_t len;
    char *body = buf_jw_take(&w, &len);
    if (!body)
        return err_set(e, w.err == BUF_JW_UTF8 ? "[sms] a value is not valid UTF-8"
                                               : "out of memory");
    int64_t ts = now / 1000;
    char auth[SIGN_TC3_AUTH_MAX];
    int rc = sign_tc3(p->secret_id, p->secret, "sms", host, "SendSms", ts, body, len,
                      TC_CONTENT_TYPE, auth, sizeof auth, NULL);
    if (rc != SIGN_OK) {
        free(body);
        return err_set(e, "[sms] TC3 signing failed: %s", sign_strerror(rc));
    }
    if (asprintf(&req->url, "%s/", base_url) < 0) {
        req->url = NULL;
        free(body);
        return err_set(e, "out of memory");
    }
    req->method = "POST";
    req->body = body;
    req->body_len = len;
    char **h = http_headers_add(NULL, "Authorization: %s", auth);
    h = http_headers_add(h, "Content-Type: %s", TC_CONTENT_TYPE);
    h = http_headers_add(h, "Host: %s", host);
    h = http_headers_add(h, "X-TC-Action: SendSms");
    h = http_headers_add(h, "X-TC-Timestamp: %lld", (long long)ts);
    h = http_headers_add(h, "X-TC-Version: 2021-01-11");
    h = http_headers_add(h, "X-TC-Region: %s", p->region);
    req->headers = h;
    return h ? 0 : err_set(e, "out of memory");
}

static int tc_build(const sms_conf *p, const char *base_url, const sms_send *s, int64_t now,
                    http_req *req, cherr *e)
{
    return sms_tencent_request(p, base_url, s, now, req, e);
}

/* The SendStatus for `phone`: the one naming it, else the only one. */
static json_t *status_for(json_t *set, const char *phone)
{
    size_t i;
    json_t *st;
    json_array_foreach(set, i, st) {
        const char *pn = json_string_value(json_object_get(st, "PhoneNumber"));
        if (pn && phone && !strcmp(pn, phone))
            return st;
    }
    return json_array_size(set) == 1 ? json_array_get(set, 0) : NULL;
}

static void tc_parse(const char *phone, const http_resp *r, int64_t now, chan_outcome *o)
{
    if (chan_transport_outcome(r, o))
        return;
    json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
    json_t *resp = json_object_get(j, "Response");
    json_t *err = json_object_get(resp, "Error");
    json_t *set = json_object_get(resp, "SendStatusSet");
    json_t *st = json_is_array(set) ? status_for(set, phone) : NULL;
    const char *code = json_string_value(json_object_get(err ? err : st, "Code"));
    if (!code || !*code) {      /* an empty Code says as little as none */
        /* a 200 we cannot read: the SMS may have been sent */
        chan_outcome_set(o, CHAN_RETRY, "bad reply", "Tencent reply has no %s (%zu bytes)",
                         json_is_array(set) ? "status for this number" : "Response",
                         r->body_len);
        o->uncertain = 1;
        json_decref(j);
        return;
    }
    sms_classify(tc_codes, code, json_string_value(json_object_get(err ? err : st, "Message")),
                 now, o);
    const char *serial = json_string_value(json_object_get(st, "SerialNo"));
    if (o->cls == CHAN_OK && serial)
        fs_copy(o->provider_id, sizeof o->provider_id, serial);
    json_decref(j);
}

const sms_provider sms_tencent = {
    .name = "tencent",
    .default_base_url = "https://sms.tencentcloudapi.com",
    .default_region = "ap-guangzhou",
    .needs_names = 0,
    .build = tc_build,
    .parse = tc_parse,
};
