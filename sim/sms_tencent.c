/* sms_tencent.c - the fake Tencent SMS SendSms (see sms_tencent.h;
 * providers.md 5).
 *
 * Request-level checks (headers, TC3 signature recomputed with sign_tc3
 * over the Host and Content-Type the client actually sent, skew, body)
 * answer {"Response":{"Error":...}}; after that every number gets its own
 * SendStatus: bad number, blacklist, 30-second / hourly / daily limits, or
 * "Ok".  Per-number windows are kept per SecretId account. */
#include "sms_tencent.h"
#include "callback.h"
#include "map.h"

#include "sign.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct number {
    struct su_win s30, hour;
    int64_t day;
    long day_n;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const struct scfg *cfg_;
static struct smap numbers;       /* secret_id,+E164 -> struct number */
static uint64_t serial;

static void number_free(void *v)
{
    struct number *n = v;
    su_win_free(&n->s30);
    su_win_free(&n->hour);
    free(n);
}

void tcsim_init(const struct scfg *cfg)
{
    cfg_ = cfg;
    smap_init(&numbers, number_free);
    serial = su_rand_id() % 1000000000000ULL;
}

void tcsim_shutdown(void)
{
    smap_free(&numbers);
}

void tcsim_reset(void)
{
    pthread_mutex_lock(&lock);
    smap_clear(&numbers);
    pthread_mutex_unlock(&lock);
}

void tcsim_reply_error(struct sim_req *r, const char *code, const char *msg)
{
    char rid[37];
    su_uuid(rid);
    json_t *o = json_pack("{s:{s:{s:s,s:s},s:s}}", "Response", "Error",
                          "Code", code, "Message", msg, "RequestId", rid);
    sim_reply_json(r, 200, o);
    r->ctype = "application/json";
    sim_outcome(r, "%s", code);
}

/* "TC3-HMAC-SHA256 Credential=ID/DATE/SERVICE/tc3_request,
 *  SignedHeaders=a;b;c, Signature=HEX" -> the three parts. */
static bool parse_auth(const char *a, char *id, size_t idsz, char *scope,
                       size_t scsz, char *signed_hdrs, size_t shsz,
                       char *sig, size_t sigsz)
{
    static const char pfx[] = "TC3-HMAC-SHA256 ";
    if (!a || strncmp(a, pfx, sizeof pfx - 1))
        return false;
    const char *cred = strstr(a, "Credential=");
    const char *sh = strstr(a, "SignedHeaders=");
    const char *sg = strstr(a, "Signature=");
    if (!cred || !sh || !sg)
        return false;
    cred += 11, sh += 14, sg += 10;
    size_t n = strcspn(cred, ",");
    const char *slash = memchr(cred, '/', n);
    if (!slash || (size_t)(slash - cred) >= idsz ||
        (size_t)(cred + n - slash - 1) >= scsz)
        return false;
    snprintf(id, idsz, "%.*s", (int)(slash - cred), cred);
    snprintf(scope, scsz, "%.*s", (int)(cred + n - slash - 1), slash + 1);
    n = strcspn(sh, ", ");
    if (n >= shsz)
        return false;
    snprintf(signed_hdrs, shsz, "%.*s", (int)n, sh);
    n = strcspn(sg, ", ");
    if (n >= sigsz)
        return false;
    snprintf(sig, sigsz, "%.*s", (int)n, sg);
    return true;
}

/* Verify headers and signature; returns the account or NULL after
 * replying with the error. */
static const struct scfg_tencent *authenticate(struct sim_req *r)
{
    const char *action = sim_req_header(r, "X-TC-Action");
    const char *version = sim_req_header(r, "X-TC-Version");
    const char *ts = sim_req_header(r, "X-TC-Timestamp");
    const char *ct = sim_req_header(r, "Content-Type");
    const char *host = sim_req_header(r, "Host");
    char id[128], scope[128], sh[128], sig[100], msg[300];

    if (strcmp(r->method, "POST") != 0) {
        tcsim_reply_error(r, "UnsupportedProtocol",
                         "chuda-sim supports POST with TC3 signing only");
        return NULL;
    }
    if (!action || strcmp(action, "SendSms") != 0) {
        snprintf(msg, sizeof msg, "The action `%s` is not supported.",
                 action ? action : "");
        tcsim_reply_error(r, "InvalidAction", msg);
        return NULL;
    }
    if (!version || !ts || !sim_req_header(r, "X-TC-Region") || !ct ||
        !host) {
        tcsim_reply_error(r, "MissingParameter", "X-TC-Version, X-TC-Timestamp,"
                         " X-TC-Region, Content-Type and Host are required.");
        return NULL;
    }
    if (strcmp(version, "2021-01-11") != 0) {
        tcsim_reply_error(r, "NoSuchVersion", "The API version is not "
                         "2021-01-11.");
        return NULL;
    }
    if (!parse_auth(sim_req_header(r, "Authorization"), id, sizeof id, scope,
                    sizeof scope, sh, sizeof sh, sig, sizeof sig)) {
        tcsim_reply_error(r, "AuthFailure.InvalidAuthorization",
                         "Authorization is not a TC3-HMAC-SHA256 header.");
        return NULL;
    }
    const struct scfg_tencent *acct = scfg_tencent_find(cfg_, id);
    if (!acct) {
        tcsim_reply_error(r, "AuthFailure.SecretIdNotFound",
                         "The SecretId is not found, please ensure that your "
                         "SecretId is correct.");
        return NULL;
    }
    char *end;
    long long t = strtoll(ts, &end, 10);
    long long now = r->at_ms / 1000;
    if (*end || t < 0) {
        tcsim_reply_error(r, "InvalidParameter", "X-TC-Timestamp is not an "
                         "integer.");
        return NULL;
    }
    if (t > now + cfg_->tencent_max_skew || t < now - cfg_->tencent_max_skew) {
        snprintf(msg, sizeof msg, "Signature expired. Timestamp %lld differs "
                 "from server time %lld by more than %ld seconds.", t, now,
                 cfg_->tencent_max_skew);
        tcsim_reply_error(r, "AuthFailure.SignatureExpire", msg);
        return NULL;
    }
    char want[SIGN_TC3_AUTH_MAX];
    struct sign_tc3_trace tr;
    int rc = sign_tc3(id, acct->secret_key, "sms", host, action, t,
                      r->body.p ? r->body.p : "", r->body.len, ct, want,
                      sizeof want, &tr);
    char want_scope[64];
    snprintf(want_scope, sizeof want_scope, "%s/sms/tc3_request", tr.date);
    if (rc != SIGN_OK || strcmp(sh, SIGN_TC3_SIGNED_HEADERS) != 0 ||
        strcmp(scope, want_scope) != 0 || strcmp(sig, tr.signature) != 0) {
        snprintf(msg, sizeof msg, "The provided credentials could not be "
                 "validated. (chuda-sim expects scope %s, SignedHeaders "
                 SIGN_TC3_SIGNED_HEADERS ", host '%s', content-type '%s')",
                 want_scope, host, ct);
        tcsim_reply_error(r, "AuthFailure.SignatureFailure", msg);
        return NULL;
    }
    return acct;
}

static const struct { const char *cc, *iso; } countries[] = {
    {"+86", "CN"}, {"+852", "HK"}, {"+853", "MO"}, {"+886", "TW"},
    {"+1", "US"}, {"+44", "GB"}, {"+65", "SG"}, {"+81", "JP"},
    {"+82", "KR"}, {"+61", "AU"}, {NULL, NULL}
};

static const char *iso_code(const char *e164)
{
    for (size_t i = 0; countries[i].cc; i++)
        if (!strncmp(e164, countries[i].cc, strlen(countries[i].cc)))
            return countries[i].iso;
    return "DEF";
}

/* Digits of the country code ("86" of "+86138..."); 2 when unknown. */
static size_t cc_len(const char *e164)
{
    for (size_t i = 0; countries[i].cc; i++)
        if (!strncmp(e164, countries[i].cc, strlen(countries[i].cc)))
            return strlen(countries[i].cc) - 1;
    return 2;
}

/* The per-number verdict; counts the send when it is "Ok". */
static const char *number_code(const struct scfg_tencent *a, const char *raw,
                               const char *e164, int kind, int64_t now,
                               const char **msg)
{
    char k[256];
    if (!kind) {
        *msg = "the phone number is invalid";
        return "InvalidParameterValue.IncorrectPhoneNumber";
    }
    if (su_list_has(&a->blacklist, e164) || su_list_has(&a->blacklist, raw)) {
        *msg = "the phone number is in the blacklist (unsubscribed)";
        return "FailedOperation.PhoneNumberInBlacklist";
    }
    snprintf(k, sizeof k, "%s\x1f%s", a->secret_id, e164);
    struct number *n = smap_get(&numbers, k);
    if (!n) {
        n = su_xcalloc(1, sizeof *n);
        smap_put(&numbers, k, n);
    }
    int64_t day = su_beijing_day(now);
    if (n->day != day)
        n->day = day, n->day_n = 0;
    if (su_win_count(&n->s30, now, 30000) >= (size_t)a->per_number_30s) {
        *msg = "the number exceeded the 30-second frequency limit";
        return "LimitExceeded.PhoneNumberThirtySecondLimit";
    }
    if (a->per_number_hour &&
        su_win_count(&n->hour, now, 3600000) >= (size_t)a->per_number_hour) {
        *msg = "the number exceeded the hourly frequency limit";
        return "LimitExceeded.PhoneNumberOneHourLimit";
    }
    if (n->day_n >= a->per_number_daily) {
        *msg = "the number exceeded the daily frequency limit";
        return "LimitExceeded.PhoneNumberDailyLimit";
    }
    su_win_add(&n->s30, now);
    if (a->per_number_hour)
        su_win_add(&n->hour, now);
    n->day_n++;
    *msg = "send success";
    return "Ok";
}

/* Body checks that fail the whole request; returns the error code. */
static const char *check_body(const struct scfg_tencent *a, json_t *req,
                              const char **msg)
{
    json_t *set = json_object_get(req, "PhoneNumberSet");
    json_t *params = json_object_get(req, "TemplateParamSet");
    json_t *ctx = json_object_get(req, "SessionContext");
    const char *appid = json_string_value(json_object_get(req, "SmsSdkAppId"));
    const char *tpl = json_string_value(json_object_get(req, "TemplateId"));
    const char *sign = json_string_value(json_object_get(req, "SignName"));
    size_t i;
    json_t *v;

    *msg = "PhoneNumberSet is empty";
    if (!json_is_array(set) || json_array_size(set) == 0)
        return "MissingParameter.EmptyPhoneNumberSet";
    *msg = "more than 200 numbers in one request";
    if (json_array_size(set) > 200)
        return "LimitExceeded.PhoneNumberCountLimit";
    *msg = "SmsSdkAppId does not match the account";
    if (!appid || strcmp(appid, a->sdk_app_id) != 0)
        return "UnauthorizedOperation.SmsSdkAppIdVerifyFail";
    *msg = "the template is missing or not approved";
    if (!tpl || !*tpl || !su_list_has(&a->templates, tpl))
        return "FailedOperation.TemplateIncorrectOrUnapproved";
    *msg = "TemplateParamSet must be an array of strings";
    if (params && !json_is_array(params))
        return "InvalidParameterValue.TemplateParameterFormatError";
    json_array_foreach(params, i, v)
        if (!json_is_string(v))
            return "InvalidParameterValue.TemplateParameterFormatError";
    *msg = "SessionContext must be a string shorter than 512 bytes";
    if (ctx && (!json_is_string(ctx) || json_string_length(ctx) >= 512))
        return "InvalidParameterValue.SessionContextLengthLimit";

    bool domestic = false, intl = false;
    json_array_foreach(set, i, v) {
        char e164[32];
        int kind = json_is_string(v)
            ? su_phone_normalize(json_string_value(v), e164, sizeof e164) : 0;
        domestic |= kind == 1;
        intl |= kind == 2;
    }
    *msg = "domestic and international numbers in one request";
    if (domestic && intl)
        return "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber";
    *msg = "the signature is missing or not approved";
    if ((domestic && !sign) ||
        (sign && (!*sign || !su_list_has(&a->sign_names, sign))))
        return "FailedOperation.SignatureIncorrectOrUnapproved";
    return NULL;
}

static json_t *status_report(const char *e164, const char *serial_no,
                             int64_t now)
{
    char when[20];
    su_beijing_time(now, when);
    char nation[8];
    snprintf(nation, sizeof nation, "%.*s", (int)cc_len(e164), e164 + 1);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
                     "user_receive_time", when, "nationcode", nation,
                     "mobile", e164 + 1 + strlen(nation),
                     "report_status", "SUCCESS", "errmsg", "DELIVRD",
                     "description", "用户短信送达成功", "sid", serial_no);
}

void tcsim_send(struct sim_req *r)
{
    json_t *req = NULL;
    const struct scfg_tencent *a = authenticate(r);
    if (!a)
        return;
    json_error_t jerr;
    req = json_loadb(r->body.p ? r->body.p : "", r->body.len, 0, &jerr);
    if (!json_is_object(req)) {
        tcsim_reply_error(r, "FailedOperation.JsonParseFail",
                         "the request body is not valid JSON");
        json_decref(req);
        return;
    }
    const char *msg;
    const char *code = check_body(a, req, &msg);
    if (code) {
        tcsim_reply_error(r, code, msg);
        json_decref(req);
        return;
    }
    if (sim_busy(r)) {
        tcsim_reply_error(r, "InternalError", "internal error, please retry");
        json_decref(req);
        return;
    }
    const char *ctx = json_string_value(json_object_get(req, "SessionContext"));
    json_t *set = json_object_get(req, "PhoneNumberSet");
    json_t *statuses = json_array(), *codes = json_array();
    json_t *reports = scb_wanted("tencent") ? json_array() : NULL;
    size_t i, ok = 0;
    json_t *v;
    const char *first = NULL;
    bool mixed = false;

    pthread_mutex_lock(&lock);
    json_array_foreach(set, i, v) {
        const char *raw = json_string_value(v) ? json_string_value(v) : "";
        char e164[32] = "", serial_no[48] = "";
        int kind = su_phone_normalize(raw, e164, sizeof e164);
        code = number_code(a, raw, e164, kind, r->at_ms, &msg);
        bool is_ok = !strcmp(code, "Ok");
        if (is_ok) {
            snprintf(serial_no, sizeof serial_no, "2433:%" PRIu64 "%016" PRIu64,
                     ++serial, (uint64_t)(su_rand_id() % 10000000000000000ULL));
            if (reports)
                json_array_append_new(reports, status_report(e164, serial_no,
                                                             r->at_ms));
            ok++;
        }
        json_array_append_new(statuses, json_pack(
            "{s:s,s:s,s:i,s:s,s:s,s:s,s:s}", "SerialNo", serial_no,
            "PhoneNumber", kind ? e164 : raw, "Fee", is_ok ? 1 : 0,
            "SessionContext", ctx ? ctx : "", "Code", code, "Message", msg,
            "IsoCode", kind ? iso_code(e164) : "DEF"));
        json_array_append_new(codes, json_string(code));
        if (!first)
            first = code;
        else if (strcmp(first, code) != 0)
            mixed = true;
    }
    pthread_mutex_unlock(&lock);

    char rid[37];
    su_uuid(rid);
    sim_reply_json(r, 200, json_pack("{s:{s:o,s:s}}", "Response",
                                     "SendStatusSet", statuses,
                                     "RequestId", rid));
    r->ctype = "application/json";
    sim_outcome(r, "%s", mixed ? "mixed" : first);
    sim_record_set(r, "codes", codes);
    r->delivered = ok > 0;
    if (ok && reports)
        scb_push("tencent", reports);
    else
        json_decref(reports);
    json_decref(req);
}
