/* test_chan_sms.c — the sms channel and its two providers (providers.md §5, §6):
 * Tencent: providers.md §5.4's SendSms vector through the request builder (the exact
 * Authorization header), the exact request for a rendered message, each SendStatus
 * handled on its own, every code of §5.3 with its window. Aliyun: §6.2's doc example
 * through the request builder, the channel's POST form (Format=JSON, OutId, a fresh
 * nonce, a signature that verifies), every code of §6.3 and the flow-control windows
 * read from the Message. Both: transport cases, config and template checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chan_fixture.h"
#include "sign.h"
#include "sms.h"
#include "timeutil.h"

extern const chan_ops chan_sms;

#define NEXT_HOUR 1795431600000LL       /* 2026-11-23T11:00Z */
#define NEXT_CN_DAY 1795449600000LL     /* 2026-11-24T00:00+08:00 */
#define NEXT_CN_0800 1795478400000LL    /* 2026-11-24T08:00+08:00 (it is 18:15 now) */
#define NEXT_CN_MONTH 1796054400000LL   /* 2026-12-01T00:00+08:00 */

static const char tc_conf[] =
    "[channel.sms]\n"
    "provider = tencent\n"
    "secret_id = AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE\n"
    "secret_env = TEST_SMS_SECRET\n"
    "sign_name = TestSign\n"
    "sdk_app_id = 1400006666\n";

static const char ali_conf[] =
    "[channel.sms]\n"
    "provider = aliyun\n"
    "secret_id = testId\n"
    "secret_env = TEST_ALI_SECRET\n"
    "sign_name = 阿里云短信测试专用\n";

static int open_tc(void **state)
{
    return fix_setup(state, &chan_sms, tc_conf, "TEST_SMS_SECRET", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE");
}

static int open_ali(void **state)
{
    return fix_setup(state, &chan_sms, ali_conf, "TEST_ALI_SECRET", "testSecret");
}

/* ---- Tencent ------------------------------------------------------------------------ */

static const char tc_vector_body[] =
    "{\"PhoneNumberSet\":[\"+8613800000000\"],\"SmsSdkAppId\":\"1400006666\","
    "\"SignName\":\"TestSign\",\"TemplateId\":\"1234\","
    "\"TemplateParamSet\":[\"5678\",\"5\"],\"SessionContext\":\"job-42\"}";

static void test_tc_vector(void **state)
{
    sms_conf p = {"AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
                  "TestSign", "1400006666", "ap-guangzhou"};
    const char *values[] = {"5678", "5"};
    sms_send s = {"+8613800000000", "1234", values, NULL, 2, "job-42"};
    http_req req = {0};
    cherr e;
    assert_int_equal(sms_tencent_request(&p, "https://sms.tencentcloudapi.com", &s,
                                         1700000000000LL, &req, &e), 0);
    assert_string_equal(req.method, "POST");
    assert_string_equal(req.url, "https://sms.tencentcloudapi.com/");
    assert_string_equal(req.body, tc_vector_body);
    assert_string_equal(fix_header(&req, "Authorization"),
                        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/"
                        "2023-11-14/sms/tc3_request, SignedHeaders=content-type;host;x-tc-action,"
                        " Signature=cd8686d2f52cd8cd54bebc54e71b4ff414f155f0a3b3b5135ff6708e341c5830");
    assert_string_equal(fix_header(&req, "Content-Type"), "application/json; charset=utf-8");
    assert_string_equal(fix_header(&req, "Host"), "sms.tencentcloudapi.com");
    assert_string_equal(fix_header(&req, "X-TC-Action"), "SendSms");
    assert_string_equal(fix_header(&req, "X-TC-Timestamp"), "1700000000");
    assert_string_equal(fix_header(&req, "X-TC-Version"), "2021-01-11");
    assert_string_equal(fix_header(&req, "X-TC-Region"), "ap-guangzhou");
    assert_int_equal(fix_nheaders(&req), 7);
    http_req_clear(&req);
}

static void test_tc_build(void **state)
{
    fix_chan *fx = *state;
    render_out f = fix_fields("template_id", "1234", "params", " 5678 ,5", NULL);
    chan_msg m = {42, 1, "u1", "+8613800000000", &f};
    http_req req = {0};
    cherr e;
    assert_int_equal(chan_sms.build(fx->c, &m, NULL, FIX_NOW, &req, &e), 0);
    assert_string_equal(req.url, "https://sms.tencentcloudapi.com/");
    assert_string_equal(req.body,
                        "{\"PhoneNumberSet\":[\"+8613800000000\"],\"SmsSdkAppId\":\"1400006666\","
                        "\"SignName\":\"TestSign\",\"TemplateId\":\"1234\","
                        "\"TemplateParamSet\":[\"5678\",\"5\"],\"SessionContext\":\"42\"}");
    char want[SIGN_TC3_AUTH_MAX];
    assert_int_equal(sign_tc3("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
                              "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", "sms", "sms.tencentcloudapi.com",
                              "SendSms", FIX_NOW / 1000, req.body, req.body_len,
                              "application/json; charset=utf-8", want, sizeof want, NULL), 0);
    assert_string_equal(fix_header(&req, "Authorization"), want);
    http_req_clear(&req);
    render_out_free(&f);

    /* template_id.tencent wins; param.NAME values in file order when there is no params */
    f = fix_fields("template_id", "9", "template_id.tencent", "777", "param.code", "1234",
                   "param.min", "5", NULL);
    assert_int_equal(chan_sms.build(fx->c, &m, NULL, FIX_NOW, &req, &e), 0);
    assert_non_null(strstr(req.body, "\"TemplateId\":\"777\",\"TemplateParamSet\":[\"1234\","
                                     "\"5\"]"));
    http_req_clear(&req);
    render_out_free(&f);
    f = fix_fields("template_id.aliyun", "SMS_1", NULL);
    assert_int_equal(chan_sms.build(fx->c, &m, NULL, FIX_NOW, &req, &e), -1);
    assert_non_null(strstr(e.msg, "no template_id"));
    render_out_free(&f);
}

/* Parameters that must be escaped: the exact body, and the signature is over those bytes;
 * a parameter that is not UTF-8 is an error */
static void test_tc_hostile(void **state)
{
    sms_conf p = {"AKID", "KEY", "腾讯云", "1400006666", "ap-guangzhou"};
    const char *values[] = {"\"引号\"", "back\\slash", "line\nbreak\x01", "😀", ""};
    sms_send s = {"+8613800000000", "1234", values, NULL, 5, "job-\"7\""};
    http_req req = {0};
    cherr e;
    assert_int_equal(sms_tencent_request(&p, "https://sms.tencentcloudapi.com", &s, FIX_NOW,
                                         &req, &e), 0);
    assert_string_equal(req.body,
                        "{\"PhoneNumberSet\":[\"+8613800000000\"],\"SmsSdkAppId\":\"1400006666\","
                        "\"SignName\":\"腾讯云\",\"TemplateId\":\"1234\",\"TemplateParamSet\":"
                        "[\"\\\"引号\\\"\",\"back\\\\slash\",\"line\\nbreak\\u0001\",\"😀\",\"\"],"
                        "\"SessionContext\":\"job-\\\"7\\\"\"}");
    assert_int_equal(req.body_len, strlen(req.body));
    char want[SIGN_TC3_AUTH_MAX];
    assert_int_equal(sign_tc3("AKID", "KEY", "sms", "sms.tencentcloudapi.com", "SendSms",
                              FIX_NOW / 1000, req.body, req.body_len,
                              "application/json; charset=utf-8", want, sizeof want, NULL), 0);
    assert_string_equal(fix_header(&req, "Authorization"), want);
    http_req_clear(&req);
    values[1] = "\xed\xa0\x80";          /* a surrogate */
    assert_int_equal(sms_tencent_request(&p, "https://sms.tencentcloudapi.com", &s, FIX_NOW,
                                         &req, &e), -1);
    assert_string_equal(e.msg, "[sms] a value is not valid UTF-8");
    http_req_clear(&req);
}

/* a host with a port is signed and sent as it is */
static void test_tc_host_port(void **state)
{
    sms_conf p = {"AKID", "KEY", "S", "1400006666", "ap-beijing"};
    sms_send s = {"+8613800000001", "1", NULL, NULL, 0, "5"};
    http_req req = {0};
    cherr e;
    assert_int_equal(sms_tencent_request(&p, "https://127.0.0.1:8443", &s, FIX_NOW, &req, &e),
                     0);
    assert_string_equal(fix_header(&req, "Host"), "127.0.0.1:8443");
    assert_string_equal(fix_header(&req, "X-TC-Region"), "ap-beijing");
    assert_non_null(strstr(req.body, "\"TemplateParamSet\":[]"));
    char want[SIGN_TC3_AUTH_MAX];
    sign_tc3("AKID", "KEY", "sms", "127.0.0.1:8443", "SendSms", FIX_NOW / 1000, req.body,
             req.body_len, "application/json; charset=utf-8", want, sizeof want, NULL);
    assert_string_equal(fix_header(&req, "Authorization"), want);
    http_req_clear(&req);
}

typedef struct srow {
    const char *code;
    chan_class cls;
    int recipient;
    int uncertain;
    int64_t until;
} srow;

static const srow tc_rows[] = {
    {"Ok", CHAN_OK, 0, 0, 0},
    {"AuthFailure.SignatureExpire", CHAN_RETRY, 0, 0, 0},
    {"AuthFailure.SignatureFailure", CHAN_PERMANENT, 0, 0, 0},
    {"AuthFailure.SecretIdNotFound", CHAN_PERMANENT, 0, 0, 0},
    {"AuthFailure.InvalidSecretId", CHAN_PERMANENT, 0, 0, 0},
    {"AuthFailure.InvalidAuthorization", CHAN_PERMANENT, 0, 0, 0},
    {"AuthFailure.TokenFailure", CHAN_PERMANENT, 0, 0, 0},
    {"RequestLimitExceeded", CHAN_BACKOFF, 0, 0, FIX_NOW + TU_SEC},
    {"InternalError", CHAN_RETRY, 0, 1, 0},
    {"InternalError.Timeout", CHAN_RETRY, 0, 1, 0},
    {"InternalError.SendAndRecvFail", CHAN_RETRY, 0, 1, 0},
    {"InternalError.UnknownError", CHAN_RETRY, 0, 1, 0},
    {"InternalError.OtherError", CHAN_RETRY, 0, 1, 0},
    {"InternalError.RequestTimeException", CHAN_RETRY, 0, 0, 0},
    {"InternalError.JsonParseFail", CHAN_PERMANENT, 0, 0, 0},
    {"LimitExceeded.PhoneNumberThirtySecondLimit", CHAN_BACKOFF, 1, 0, FIX_NOW + 30 * TU_SEC},
    {"LimitExceeded.PhoneNumberOneHourLimit", CHAN_BACKOFF, 1, 0, NEXT_HOUR},
    {"LimitExceeded.PhoneNumberDailyLimit", CHAN_BACKOFF, 1, 0, NEXT_CN_DAY},
    {"LimitExceeded.PhoneNumberSameContentDailyLimit", CHAN_BACKOFF, 1, 0, NEXT_CN_DAY},
    {"LimitExceeded.DeliveryFrequencyLimit", CHAN_BACKOFF, 1, 0, NEXT_HOUR},
    {"LimitExceeded.AppDailyLimit", CHAN_BACKOFF, 0, 0, NEXT_CN_DAY},
    {"LimitExceeded.DailyLimit", CHAN_BACKOFF, 0, 0, NEXT_CN_DAY},
    {"LimitExceeded.PhoneNumberCountLimit", CHAN_PERMANENT, 0, 0, 0},
    {"FailedOperation.PhoneNumberInBlacklist", CHAN_REFUSED, 1, 0, 0},
    {"FailedOperation.PhoneNumberOnBlacklist", CHAN_REFUSED, 1, 0, 0},
    {"FailedOperation.MarketingSendTimeConstraint", CHAN_BACKOFF, 1, 0, NEXT_CN_0800},
    {"FailedOperation.InsufficientBalanceInSmsPackage", CHAN_BACKOFF, 0, 0,
     FIX_NOW + 30 * TU_MIN},
    {"UnauthorizedOperation.SerivceSuspendDueToArrears", CHAN_BACKOFF, 0, 0,
     FIX_NOW + 30 * TU_MIN},
    {"FailedOperation.SignatureIncorrectOrUnapproved", CHAN_PERMANENT, 0, 0, 0},
    {"FailedOperation.TemplateIncorrectOrUnapproved", CHAN_PERMANENT, 0, 0, 0},
    {"FailedOperation.ContainSensitiveWord", CHAN_PERMANENT, 0, 0, 0},
    {"InvalidParameter.DirtyWordFound", CHAN_PERMANENT, 0, 0, 0},
    {"FailedOperation.JsonParseFail", CHAN_PERMANENT, 0, 0, 0},
    {"FailedOperation.FailResolvePacket", CHAN_PERMANENT, 0, 0, 0},
    {"InvalidParameterValue.IncorrectPhoneNumber", CHAN_PERMANENT, 1, 0, 0},
    {"InvalidParameterValue.TemplateParameterFormatError", CHAN_PERMANENT, 0, 0, 0},
    {"InvalidParameterValue.TemplateParameterLengthLimit", CHAN_PERMANENT, 0, 0, 0},
    {"InvalidParameterValue.ContentLengthLimit", CHAN_PERMANENT, 0, 0, 0},
    {"InvalidParameterValue.ProhibitedUseUrlInTemplateParameter", CHAN_PERMANENT, 0, 0, 0},
    {"InvalidParameterValue.SdkAppIdNotExist", CHAN_PERMANENT, 0, 0, 0},
    {"UnauthorizedOperation.SmsSdkAppIdVerifyFail", CHAN_PERMANENT, 0, 0, 0},
    {"UnauthorizedOperation.SdkAppIdIsDisabled", CHAN_PERMANENT, 0, 0, 0},
    {"InvalidParameter.AppidAndBizId", CHAN_PERMANENT, 0, 0, 0},
    {"UnauthorizedOperation.RequestIpNotInWhitelist", CHAN_PERMANENT, 0, 0, 0},
    {"UnauthorizedOperation.IndividualUserMarketingSmsPermissionDeny", CHAN_PERMANENT, 0, 0, 0},
    {"UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber", CHAN_PERMANENT, 0, 0, 0},
    {"UnsupportedOperation.UnsuportedRegion", CHAN_PERMANENT, 0, 0, 0},
    {"MissingParameter.EmptyPhoneNumberSet", CHAN_PERMANENT, 0, 0, 0},
    {"SomethingNew.NeverSeen", CHAN_PERMANENT, 0, 0, 0},
};

static void check_row(const chan_outcome *o, const srow *w)
{
    if (strcmp(o->code, w->code) || o->cls != w->cls || o->recipient != w->recipient ||
        o->uncertain != w->uncertain || (w->until && o->until != w->until))
        fail_msg("%s: got %s/%s recipient=%d uncertain=%d until=%lld", w->code,
                 chan_class_name(o->cls), o->code, o->recipient, o->uncertain,
                 (long long)o->until);
}

static void test_tc_codes(void **state)
{
    fix_chan *fx = *state;
    render_out f = fix_fields("template_id", "1", NULL);
    chan_msg m = {9, 1, "u1", "+8613800000001", &f};
    for (size_t i = 0; i < sizeof tc_rows / sizeof tc_rows[0]; i++) {
        char body[600];
        /* per number, in SendStatusSet ... */
        snprintf(body, sizeof body,
                 "{\"Response\":{\"SendStatusSet\":[{\"SerialNo\":\"2433:1\",\"PhoneNumber\":"
                 "\"+8613800000001\",\"Fee\":1,\"SessionContext\":\"9\",\"Code\":\"%s\","
                 "\"Message\":\"m\",\"IsoCode\":\"CN\"}],\"RequestId\":\"r\"}}", tc_rows[i].code);
        chan_outcome o = fix_parse(fx->c, &m, body, FIX_NOW);
        check_row(&o, &tc_rows[i]);
        if (tc_rows[i].cls == CHAN_OK)
            assert_string_equal(o.provider_id, "2433:1");
        /* ... and for the whole request */
        snprintf(body, sizeof body, "{\"Response\":{\"Error\":{\"Code\":\"%s\",\"Message\":"
                 "\"m\"},\"RequestId\":\"r\"}}", tc_rows[i].code);
        o = fix_parse(fx->c, &m, body, FIX_NOW);
        check_row(&o, &tc_rows[i]);
    }
    render_out_free(&f);
}

/* each SendStatus on its own: ours is found by number among others */
static void test_tc_status_per_number(void **state)
{
    fix_chan *fx = *state;
    render_out f = fix_fields("template_id", "1", NULL);
    chan_msg m = {9, 1, "u1", "+8613800000002", &f};
    chan_outcome o = fix_parse(fx->c, &m,
        "{\"Response\":{\"SendStatusSet\":["
        "{\"SerialNo\":\"A\",\"PhoneNumber\":\"+8613800000001\",\"Code\":\"Ok\",\"Message\":\"ok\"},"
        "{\"SerialNo\":\"\",\"PhoneNumber\":\"+8613800000002\",\"Code\":"
        "\"FailedOperation.PhoneNumberInBlacklist\",\"Message\":\"blacklisted\"}],"
        "\"RequestId\":\"r\"}}", FIX_NOW);
    assert_int_equal(o.cls, CHAN_REFUSED);
    assert_int_equal(o.recipient, 1);
    o = fix_parse(fx->c, &m, "{\"Response\":{\"SendStatusSet\":[],\"RequestId\":\"r\"}}",
                  FIX_NOW);
    assert_int_equal(o.cls, CHAN_RETRY);
    assert_int_equal(o.uncertain, 1);
    /* marketing window: before 08:00 China time it is the same morning */
    o = fix_parse(fx->c, &m,
                  "{\"Response\":{\"Error\":{\"Code\":\"FailedOperation.MarketingSendTimeConstraint\","
                  "\"Message\":\"m\"}}}", NEXT_CN_DAY + 3 * TU_HOUR);
    assert_int_equal(o.until, NEXT_CN_0800);
    render_out_free(&f);
}

static void test_transport(void **state)
{
    fix_chan *fx = *state;
    render_out f = fix_fields("template_id", "1", NULL);
    chan_msg m = {9, 1, "u1", "+8613800000001", &f};
    chan_outcome o = {0};
    http_resp r = fix_timeout();
    chan_sms.parse(fx->c, &m, &r, FIX_NOW, &o);
    assert_int_equal(o.cls, CHAN_RETRY);
    assert_int_equal(o.uncertain, 1);       /* no dedup: the class decides on a resend */
    assert_false(chan_sms.dedup);
    memset(&o, 0, sizeof o);
    r = fix_reply(503, "busy");
    chan_sms.parse(fx->c, &m, &r, FIX_NOW, &o);
    assert_int_equal(o.cls, CHAN_RETRY);
    assert_int_equal(o.uncertain, 1);
    memset(&o, 0, sizeof o);
    r = fix_reply(200, "not json");
    chan_sms.parse(fx->c, &m, &r, FIX_NOW, &o);
    assert_int_equal(o.cls, CHAN_RETRY);
    assert_int_equal(o.uncertain, 1);
    /* an empty Code (either provider's shape) is as unreadable as none (fuzz_provider) */
    memset(&o, 0, sizeof o);
    r = fix_reply(200, "{\"Code\":\"\",\"Response\":{\"SendStatusSet\":[{\"Code\":\"\"}]}}");
    chan_sms.parse(fx->c, &m, &r, FIX_NOW, &o);
    assert_int_equal(o.cls, CHAN_RETRY);
    assert_string_equal(o.code, "bad reply");
    assert_int_equal(o.uncertain, 1);
    render_out_free(&f);
}

/* ---- Aliyun ------------------------------------------------------------------------ */

static void test_ali_doc_example(void **state)
{
    sms_conf p = {"testId", "testSecret", "阿里云短信测试专用", "", "cn-hangzhou"};
    const char *names[] = {"customer"}, *values[] = {"test"};
    sms_send s = {"+8615300000001", "SMS_71390007", values, names, 1, "123"};
    http_req req = {0};
    cherr e;
    assert_int_equal(sms_aliyun_request(&p, "https://dysmsapi.aliyuncs.com", &s, "GET", "XML",
                                        "45e25e9b-0a6f-4070-8c85-2956eda1b466", 1499827339000LL,
                                        &req, &e), 0);
    assert_string_equal(req.method, "GET");
    assert_string_equal(req.url,
        "https://dysmsapi.aliyuncs.com/?AccessKeyId=testId&Action=SendSms&Format=XML&OutId=123"
        "&PhoneNumbers=15300000001&RegionId=cn-hangzhou&SignName=%E9%98%BF%E9%87%8C%E4%BA%91"
        "%E7%9F%AD%E4%BF%A1%E6%B5%8B%E8%AF%95%E4%B8%93%E7%94%A8&SignatureMethod=HMAC-SHA1"
        "&SignatureNonce=45e25e9b-0a6f-4070-8c85-2956eda1b466&SignatureVersion=1.0"
        "&TemplateCode=SMS_71390007&TemplateParam=%7B%22customer%22%3A%22test%22%7D"
        "&Timestamp=2017-07-12T02%3A42%3A19Z&Version=2017-05-25"
        "&Signature=zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D");
    assert_null(req.body);
    http_req_clear(&req);
}

/* "a=b&c=d" -> params (decoded), for recomputing the signature */
static size_t split_form(char *s, struct sign_param *p, size_t max, const char **sig)
{
    size_t n = 0;
    for (char *tok = strtok(s, "&"); tok && n < max; tok = strtok(NULL, "&")) {
        char *eq = strchr(tok, '=');
        *eq = '\0';
        char *v = eq + 1, *w = v;
        for (char *r = v; *r; r++, w++) {
            if (*r == '%') {
                unsigned x;
                sscanf(r + 1, "%2x", &x);
                *w = (char)x;
                r += 2;
            } else {
                *w = *r;
            }
        }
        *w = '\0';
        if (!strcmp(tok, "Signature")) {
            *sig = v;
            continue;
        }
        p[n].name = tok;
        p[n].value = v;
        n++;
    }
    return n;
}

static const char *param_of(const struct sign_param *p, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(p[i].name, name))
            return p[i].value;
    return NULL;
}

static void test_ali_build(void **state)
{
    fix_chan *fx = *state;
    render_out f = fix_fields("template_id", "SMS_9", "template_id.aliyun", "SMS_71390007",
                              "param.customer", "张三", "param.code", "8 8", NULL);
    chan_msg m = {77, 1, "u1", "+8615300000001", &f};
    http_req req = {0}, req2 = {0};
    cherr e;
    assert_int_equal(chan_sms.build(fx->c, &m, NULL, 1499827339000LL, &req, &e), 0);
    assert_int_equal(chan_sms.build(fx->c, &m, NULL, 1499827339000LL, &req2, &e), 0);
    assert_string_equal(req.method, "POST");
    assert_string_equal(req.url, "https://dysmsapi.aliyuncs.com/");
    assert_string_equal(fix_header(&req, "Content-Type"), "application/x-www-form-urlencoded");
    char *body = strdup(req.body), *body2 = strdup(req2.body);
    struct sign_param p[20], p2[20];
    const char *sig = NULL, *sig2 = NULL;
    size_t n = split_form(body, p, 20, &sig), n2 = split_form(body2, p2, 20, &sig2);
    assert_int_equal(n, 14);
    assert_int_equal(n2, 14);
    assert_string_equal(param_of(p, n, "Format"), "JSON");
    assert_string_equal(param_of(p, n, "OutId"), "77");
    assert_string_equal(param_of(p, n, "PhoneNumbers"), "15300000001");
    assert_string_equal(param_of(p, n, "TemplateCode"), "SMS_71390007");
    assert_string_equal(param_of(p, n, "TemplateParam"), "{\"customer\":\"张三\",\"code\":\"8 8\"}");
    assert_string_equal(param_of(p, n, "Timestamp"), "2017-07-12T02:42:19Z");
    assert_string_equal(param_of(p, n, "SignName"), "阿里云短信测试专用");
    assert_string_equal(param_of(p, n, "RegionId"), "cn-hangzhou");
    const char *nonce = param_of(p, n, "SignatureNonce");
    assert_int_equal(strlen(nonce), 36);
    assert_int_equal(nonce[14], '4');
    assert_string_not_equal(nonce, param_of(p2, n2, "SignatureNonce"));     /* fresh each time */
    char want[SIGN_ALIYUN_SIG_MAX];
    assert_int_equal(sign_aliyun("POST", "testSecret", p, n, want, sizeof want), 0);
    assert_string_equal(sig, want);
    free(body);
    free(body2);
    http_req_clear(&req);
    http_req_clear(&req2);
    render_out_free(&f);

    /* Aliyun needs names: an ordered `params` alone is refused with the reason */
    f = fix_fields("template_id", "SMS_1", "params", "1234, 5", NULL);
    assert_int_equal(chan_sms.build(fx->c, &m, NULL, FIX_NOW, &req, &e), -1);
    assert_non_null(strstr(e.msg, "param.NAME"));
    render_out_free(&f);
    /* no parameters: no TemplateParam; international numbers lose the + only */
    f = fix_fields("template_id", "SMS_1", NULL);
    chan_msg intl = {78, 1, "u2", "+447729733135", &f};
    assert_int_equal(chan_sms.build(fx->c, &intl, NULL, FIX_NOW, &req, &e), 0);
    assert_null(strstr(req.body, "TemplateParam"));
    assert_non_null(strstr(req.body, "PhoneNumbers=447729733135&"));
    http_req_clear(&req);
    render_out_free(&f);
}

static const srow ali_rows[] = {
    {"OK", CHAN_OK, 0, 0, 0},
    {"isv.DAY_LIMIT_CONTROL", CHAN_BACKOFF, 0, 0, NEXT_CN_DAY},
    {"isv.MONTH_LIMIT_CONTROL", CHAN_BACKOFF, 0, 0, NEXT_CN_MONTH},
    {"Throttling.User", CHAN_BACKOFF, 0, 0, FIX_NOW + TU_SEC},
    {"Throttling.Api", CHAN_BACKOFF, 0, 0, FIX_NOW + TU_SEC},
    {"isp.SYSTEM_ERROR", CHAN_RETRY, 0, 1, 0},
    {"isv.MOBILE_NUMBER_ILLEGAL", CHAN_PERMANENT, 1, 0, 0},
    {"isv.MOBILE_COUNT_OVER_LIMIT", CHAN_PERMANENT, 0, 0, 0},
    {"isv.TEMPLATE_MISSING_PARAMETERS", CHAN_PERMANENT, 0, 0, 0},
    {"isv.TEMPLATE_PARAMS_ILLEGAL", CHAN_PERMANENT, 0, 0, 0},
    {"isv.INVALID_JSON_PARAM", CHAN_PERMANENT, 0, 0, 0},
    {"isv.INVALID_PARAMETERS", CHAN_PERMANENT, 0, 0, 0},
    {"isv.PARAM_LENGTH_LIMIT", CHAN_PERMANENT, 0, 0, 0},
    {"isv.PARAM_NOT_SUPPORT_URL", CHAN_PERMANENT, 0, 0, 0},
    {"isv.BLACK_KEY_CONTROL_LIMIT", CHAN_PERMANENT, 0, 0, 0},
    {"isv.SMS_TEMPLATE_ILLEGAL", CHAN_PERMANENT, 0, 0, 0},
    {"isv.SMS_SIGNATURE_ILLEGAL", CHAN_PERMANENT, 0, 0, 0},
    {"isv.SMS_SIGN_ILLEGAL", CHAN_PERMANENT, 0, 0, 0},
    {"isv.SMS_SIGNATURE_SCENE_ILLEGAL", CHAN_PERMANENT, 0, 0, 0},
    {"isv.SIGN_STATE_ILLEGAL", CHAN_PERMANENT, 0, 0, 0},
    {"isv.SMS_CONTENT_ILLEGAL", CHAN_PERMANENT, 0, 0, 0},
    {"isv.EXTEND_CODE_ERROR", CHAN_PERMANENT, 0, 0, 0},
    {"isv.DOMESTIC_NUMBER_NOT_SUPPORTED", CHAN_PERMANENT, 0, 0, 0},
    {"isv.AMOUNT_NOT_ENOUGH", CHAN_BACKOFF, 0, 0, FIX_NOW + 30 * TU_MIN},
    {"isv.OUT_OF_SERVICE", CHAN_BACKOFF, 0, 0, FIX_NOW + 30 * TU_MIN},
    {"isv.PRODUCT_UN_SUBSCRIPT", CHAN_PERMANENT, 0, 0, 0},
    {"isv.PRODUCT_UNSUBSCRIBE", CHAN_PERMANENT, 0, 0, 0},
    {"isv.ACCOUNT_NOT_EXISTS", CHAN_PERMANENT, 0, 0, 0},
    {"isv.ACCOUNT_ABNORMAL", CHAN_PERMANENT, 0, 0, 0},
    {"isp.RAM_PERMISSION_DENY", CHAN_PERMANENT, 0, 0, 0},
    {"Forbidden.RAM", CHAN_PERMANENT, 0, 0, 0},
    {"isv.DENY_IP_RANGE", CHAN_PERMANENT, 0, 0, 0},
    {"SignatureDoesNotMatch", CHAN_PERMANENT, 0, 0, 0},
    {"InvalidAccessKeyId.NotFound", CHAN_PERMANENT, 0, 0, 0},
    {"InvalidAccessKeyId.Inactive", CHAN_PERMANENT, 0, 0, 0},
    {"InvalidTimeStamp.Expired", CHAN_RETRY, 0, 0, 0},
    {"SignatureNonceUsed", CHAN_RETRY, 0, 0, 0},
};

static void test_ali_codes(void **state)
{
    fix_chan *fx = *state;
    render_out f = fix_fields("template_id", "SMS_1", NULL);
    chan_msg m = {9, 1, "u1", "+8613800000001", &f};
    for (size_t i = 0; i < sizeof ali_rows / sizeof ali_rows[0]; i++) {
        char body[400];
        snprintf(body, sizeof body, "{\"Code\":\"%s\",\"Message\":\"m\",\"BizId\":\"900619^0\","
                 "\"RequestId\":\"R\"}", ali_rows[i].code);
        chan_outcome o = fix_parse(fx->c, &m, body, FIX_NOW);
        check_row(&o, &ali_rows[i]);
        if (ali_rows[i].cls == CHAN_OK)
            assert_string_equal(o.provider_id, "900619^0");
    }
    /* gateway errors come with 4xx and are classified by their Code, not the status */
    chan_outcome o = {0};
    http_resp r = fix_reply(400, "{\"RequestId\":\"R\",\"HostId\":\"dysmsapi.aliyuncs.com\","
                                 "\"Code\":\"InvalidTimeStamp.Expired\",\"Message\":\"expired\"}");
    chan_sms.parse(fx->c, &m, &r, FIX_NOW, &o);
    assert_int_equal(o.cls, CHAN_RETRY);
    memset(&o, 0, sizeof o);
    r = fix_reply(404, "{\"Code\":\"InvalidAccessKeyId.NotFound\",\"Message\":\"x\"}");
    chan_sms.parse(fx->c, &m, &r, FIX_NOW, &o);
    assert_int_equal(o.cls, CHAN_PERMANENT);
    memset(&o, 0, sizeof o);
    r = fix_reply(400, "<html>bad</html>");
    chan_sms.parse(fx->c, &m, &r, FIX_NOW, &o);
    assert_int_equal(o.cls, CHAN_PERMANENT);
    assert_string_equal(o.code, "http 400");
    render_out_free(&f);
}

static void test_ali_flow_control_window(void **state)
{
    fix_chan *fx = *state;
    render_out f = fix_fields("template_id", "SMS_1", NULL);
    chan_msg m = {9, 1, "u1", "+8613800000001", &f};
    static const struct {
        const char *msg;
        int64_t until;
    } w[] = {
        {"触发分钟级流控Permits:1", FIX_NOW + TU_MIN},
        {"触发小时级流控Permits:5", NEXT_HOUR},
        {"触发天级流控Permits:10", NEXT_CN_DAY},
        {"flow control", FIX_NOW + TU_MIN},
    };
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        char body[300];
        snprintf(body, sizeof body, "{\"Code\":\"isv.BUSINESS_LIMIT_CONTROL\",\"Message\":\"%s\","
                 "\"RequestId\":\"R\"}", w[i].msg);
        chan_outcome o = fix_parse(fx->c, &m, body, FIX_NOW);
        assert_int_equal(o.cls, CHAN_BACKOFF);
        assert_int_equal(o.recipient, 1);
        assert_int_equal(o.until, w[i].until);
    }
    render_out_free(&f);
}

/* ---- config and templates ------------------------------------------------------------- */

static void test_config(void **state)
{
    fix_chan fx;
    setenv("TEST_SMS_SECRET", "k", 1);
    assert_int_equal(fix_open(&fx, &chan_sms, "[channel.sms]\nsecret_id = a\n"), -1);
    assert_non_null(strstr(fx.e.msg, "provider must be tencent or aliyun"));
    cfg_free(&fx.cfg);
    assert_int_equal(fix_open(&fx, &chan_sms, "[channel.sms]\nprovider = tencent\nsecret_id = a\n"
                                              "sign_name = s\nsecret_env = TEST_SMS_SECRET\n"), -1);
    assert_non_null(strstr(fx.e.msg, "sdk_app_id is missing"));
    cfg_free(&fx.cfg);
    assert_int_equal(fix_open(&fx, &chan_sms, "[channel.sms]\nprovider = aliyun\nsecret_id = a\n"
                                              "sign_name = s\nsecret_env = TEST_SMS_SECRET\n"), 0);
    assert_string_equal(fx.c->base_url, "https://dysmsapi.aliyuncs.com");
    fix_close(&fx);
    assert_int_equal(fix_open(&fx, &chan_sms, "[channel.sms]\nprovider = tencent\nsecret_id = a\n"
                                              "sign_name = s\nsdk_app_id = 1\nbase_url = https://x/\n"
                                              "secret_env = TEST_SMS_SECRET\n"), 0);
    assert_string_equal(fx.c->base_url, "https://x");
    fix_close(&fx);
}

static void test_template_check(void **state)
{
    fix_check_tpl("[template]\nclass = lifecycle\n[sms]\ntemplate_id = 1\nparams = a, b\n", NULL);
    fix_check_tpl("[template]\nclass = lifecycle\n[sms]\ntemplate_id.aliyun = SMS_1\n"
              "param.code = 1\n", NULL);
    fix_check_tpl("[template]\nclass = lifecycle\n[sms]\nparams = a\n", "template_id is missing");
    fix_check_tpl("[template]\nclass = lifecycle\n[sms]\ntemplate_id = 1\ntemplate_id.other = 2\n",
              "t.ini:5: [sms] unknown key 'template_id.other'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tc_vector),
        cmocka_unit_test_setup_teardown(test_tc_build, open_tc, fix_teardown),
        cmocka_unit_test(test_tc_hostile),
        cmocka_unit_test(test_tc_host_port),
        cmocka_unit_test_setup_teardown(test_tc_codes, open_tc, fix_teardown),
        cmocka_unit_test_setup_teardown(test_tc_status_per_number, open_tc, fix_teardown),
        cmocka_unit_test_setup_teardown(test_transport, open_tc, fix_teardown),
        cmocka_unit_test_setup_teardown(test_transport, open_ali, fix_teardown),
        cmocka_unit_test(test_ali_doc_example),
        cmocka_unit_test_setup_teardown(test_ali_build, open_ali, fix_teardown),
        cmocka_unit_test_setup_teardown(test_ali_codes, open_ali, fix_teardown),
        cmocka_unit_test_setup_teardown(test_ali_flow_control_window, open_ali, fix_teardown),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_template_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
