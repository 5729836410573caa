/* test_sign.c - the signing vectors of providers.md 5.4 (Tencent TC3) and
 * 6.2 (Aliyun RPC v1), percent-encoding edge cases, and WeChat's push
 * signature (vectors recomputed with Python's hashlib). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sign.h"

/* ---- Tencent TC3: the SendSms vector ------------------------------------- */

static const char tc3_payload[] =
    "{\"PhoneNumberSet\":[\"+8613800000000\"],\"SmsSdkAppId\":\"1400006666\","
    "\"SignName\":\"TestSign\",\"TemplateId\":\"1234\","
    "\"TemplateParamSet\":[\"5678\",\"5\"],\"SessionContext\":\"job-42\"}";

static int tc3_vector(char *auth, size_t size, struct sign_tc3_trace *t,
                      const char *host, const char *ct)
{
    return sign_tc3("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
                    "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", "sms", host,
                    "SendSms", 1700000000, tc3_payload,
                    strlen(tc3_payload), ct, auth, size, t);
}

static void test_tc3_vector(void **state)
{
    (void)state;
    char auth[SIGN_TC3_AUTH_MAX];
    struct sign_tc3_trace t;

    assert_int_equal(tc3_vector(auth, sizeof auth, &t,
                                "sms.tencentcloudapi.com",
                                "application/json; charset=utf-8"),
                     SIGN_OK);
    assert_string_equal(t.date, "2023-11-14");
    assert_string_equal(t.payload_hash,
        "8e12e5dc912bacd2fb60ce60f8dfa2e2abce94eb33e6ad3f26974c86111b52b6");
    assert_string_equal(t.canonical_request_hash,
        "ebb29f9f7bef0ab61eee4e46acaddb460f455f4e7e2a2238708a778b8e98e071");
    assert_string_equal(t.secret_date,
        "887d0077ac19ed5cba18590a4fe79f7e1d851a9b05bd4e02a3af730156456978");
    assert_string_equal(t.secret_service,
        "7ecd95c4a08b095be11369d2e19326b69efddd7d3f6a9e780f09cea4fbf7e0db");
    assert_string_equal(t.secret_signing,
        "0a217ad592544c30baf8f92382e97794175d4d06488032639cd2c1594cb492fa");
    assert_string_equal(t.signature,
        "cd8686d2f52cd8cd54bebc54e71b4ff414f155f0a3b3b5135ff6708e341c5830");
    assert_string_equal(auth,
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/"
        "2023-11-14/sms/tc3_request, SignedHeaders=content-type;host;"
        "x-tc-action, Signature="
        "cd8686d2f52cd8cd54bebc54e71b4ff414f155f0a3b3b5135ff6708e341c5830");
}

/* The canonical headers are lower-cased and trimmed: different spelling of
 * the same values signs the same; a different value does not. */
static void test_tc3_canonical_headers(void **state)
{
    (void)state;
    char auth[SIGN_TC3_AUTH_MAX];
    struct sign_tc3_trace t;

    assert_int_equal(tc3_vector(auth, sizeof auth, &t,
                                " SMS.TencentCloudAPI.com ",
                                "Application/JSON; charset=UTF-8"),
                     SIGN_OK);
    assert_string_equal(t.signature,
        "cd8686d2f52cd8cd54bebc54e71b4ff414f155f0a3b3b5135ff6708e341c5830");

    assert_int_equal(tc3_vector(auth, sizeof auth, &t,
                                "sms.tencentcloudapi.com", "application/json"),
                     SIGN_OK);
    assert_string_not_equal(t.signature,
        "cd8686d2f52cd8cd54bebc54e71b4ff414f155f0a3b3b5135ff6708e341c5830");
}

/* 1551113065 is 2019-02-25 in UTC but 2019-02-26 in UTC+8. */
static void test_tc3_utc_date(void **state)
{
    (void)state;
    char auth[SIGN_TC3_AUTH_MAX];
    struct sign_tc3_trace t;
    assert_int_equal(sign_tc3("id", "key", "sms", "h", "SendSms", 1551113065,
                              "", 0, "application/json", auth, sizeof auth,
                              &t), SIGN_OK);
    assert_string_equal(t.date, "2019-02-25");
    /* SHA-256 of the empty string */
    assert_string_equal(t.payload_hash,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_non_null(strstr(auth, "Credential=id/2019-02-25/sms/tc3_request, "));
}

static void test_tc3_errors(void **state)
{
    (void)state;
    char small[16];
    char auth[SIGN_TC3_AUTH_MAX];
    assert_int_equal(tc3_vector(small, sizeof small, NULL,
                                "sms.tencentcloudapi.com",
                                "application/json; charset=utf-8"),
                     SIGN_E_SPACE);
    assert_int_equal(sign_tc3(NULL, "k", "sms", "h", "SendSms", 1, "", 0,
                              "application/json", auth, sizeof auth, NULL),
                     SIGN_E_ARG);
    assert_string_equal(sign_strerror(SIGN_E_SPACE), "output buffer too small");
}

/* ---- Aliyun RPC v1: the SendSms doc example ------------------------------ */

static const struct sign_param ali_params[] = {
    {"AccessKeyId", "testId"},
    {"Action", "SendSms"},
    {"Format", "XML"},
    {"OutId", "123"},
    {"PhoneNumbers", "15300000001"},
    {"RegionId", "cn-hangzhou"},
    {"SignName", "\xe9\x98\xbf\xe9\x87\x8c\xe4\xba\x91\xe7\x9f\xad\xe4\xbf\xa1"
                 "\xe6\xb5\x8b\xe8\xaf\x95\xe4\xb8\x93\xe7\x94\xa8"},
    {"SignatureMethod", "HMAC-SHA1"},
    {"SignatureNonce", "45e25e9b-0a6f-4070-8c85-2956eda1b466"},
    {"SignatureVersion", "1.0"},
    {"TemplateCode", "SMS_71390007"},
    {"TemplateParam", "{\"customer\":\"test\"}"},
    {"Timestamp", "2017-07-12T02:42:19Z"},
    {"Version", "2017-05-25"},
};
#define ALI_N (sizeof ali_params / sizeof ali_params[0])

static const char ali_canonical[] =
    "AccessKeyId=testId&Action=SendSms&Format=XML&OutId=123&PhoneNumbers="
    "15300000001&RegionId=cn-hangzhou&SignName=%E9%98%BF%E9%87%8C%E4%BA%91"
    "%E7%9F%AD%E4%BF%A1%E6%B5%8B%E8%AF%95%E4%B8%93%E7%94%A8&SignatureMethod="
    "HMAC-SHA1&SignatureNonce=45e25e9b-0a6f-4070-8c85-2956eda1b466&"
    "SignatureVersion=1.0&TemplateCode=SMS_71390007&TemplateParam=%7B%22"
    "customer%22%3A%22test%22%7D&Timestamp=2017-07-12T02%3A42%3A19Z&"
    "Version=2017-05-25";

static const char ali_sts[] =
    "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId"
    "%3D123%26PhoneNumbers%3D15300000001%26RegionId%3Dcn-hangzhou%26SignName"
    "%3D%25E9%2598%25BF%25E9%2587%258C%25E4%25BA%2591%25E7%259F%25AD%25E4%25BF"
    "%25A1%25E6%25B5%258B%25E8%25AF%2595%25E4%25B8%2593%25E7%2594%25A8%26"
    "SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D45e25e9b-0a6f-4070-8c85-"
    "2956eda1b466%26SignatureVersion%3D1.0%26TemplateCode%3DSMS_71390007%26"
    "TemplateParam%3D%257B%2522customer%2522%253A%2522test%2522%257D%26"
    "Timestamp%3D2017-07-12T02%253A42%253A19Z%26Version%3D2017-05-25";

static void test_aliyun_canonical(void **state)
{
    (void)state;
    char *c = NULL, *s = NULL;

    /* Order of the input must not matter: feed it reversed. */
    struct sign_param rev[ALI_N];
    for (size_t i = 0; i < ALI_N; i++)
        rev[i] = ali_params[ALI_N - 1 - i];

    assert_int_equal(sign_aliyun_canonical(rev, ALI_N, &c), SIGN_OK);
    assert_string_equal(c, ali_canonical);
    assert_int_equal(sign_aliyun_string_to_sign("GET", c, &s), SIGN_OK);
    assert_string_equal(s, ali_sts);
    free(c);
    free(s);
}

static void test_aliyun_signature(void **state)
{
    (void)state;
    char sig[SIGN_ALIYUN_SIG_MAX];
    char *q = NULL;

    assert_int_equal(sign_aliyun("GET", "testSecret", ali_params, ALI_N, sig,
                                 sizeof sig), SIGN_OK);
    assert_string_equal(sig, "zJDF+Lrzhj/ThnlvIToysFRq6t4=");

    assert_int_equal(sign_aliyun_query("GET", "testSecret", ali_params, ALI_N,
                                       &q), SIGN_OK);
    size_t cl = strlen(ali_canonical);
    assert_memory_equal(q, ali_canonical, cl);
    assert_string_equal(q + cl, "&Signature=zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D");
    free(q);

    /* POST signs a different StringToSign. */
    assert_int_equal(sign_aliyun("POST", "testSecret", ali_params, ALI_N, sig,
                                 sizeof sig), SIGN_OK);
    assert_string_not_equal(sig, "zJDF+Lrzhj/ThnlvIToysFRq6t4=");
}

/* Lower-case credentials are a different key: the classic mistake. */
static void test_aliyun_lowercase_credentials(void **state)
{
    (void)state;
    struct sign_param p[ALI_N];
    char sig[SIGN_ALIYUN_SIG_MAX];
    memcpy(p, ali_params, sizeof p);
    p[0].value = "testid";
    assert_int_equal(sign_aliyun("GET", "testsecret", p, ALI_N, sig,
                                 sizeof sig), SIGN_OK);
    assert_string_equal(sig, "LxugEBqtL8lacmz/6I2QOoMzw+Y=");
}

static void test_aliyun_errors(void **state)
{
    (void)state;
    char sig[8];
    assert_int_equal(sign_aliyun("GET", "testSecret", ali_params, ALI_N, sig,
                                 sizeof sig), SIGN_E_SPACE);
    assert_int_equal(sign_aliyun("GET", NULL, ali_params, ALI_N, sig,
                                 sizeof sig), SIGN_E_ARG);
    struct sign_param bad = {"Name", NULL};
    char *c = NULL;
    assert_int_equal(sign_aliyun_canonical(&bad, 1, &c), SIGN_E_ARG);
    assert_null(c);
}

/* ---- percent-encoding ---------------------------------------------------- */

static void check_pct(const char *in, const char *want)
{
    char *out = sign_pct_encode(in, strlen(in));
    assert_non_null(out);
    assert_string_equal(out, want);
    free(out);
}

static void test_pct_encode(void **state)
{
    (void)state;
    check_pct("", "");
    check_pct("a b", "a%20b");          /* space is %20, never '+' */
    check_pct("a+b", "a%2Bb");
    check_pct("*", "%2A");
    check_pct("~", "~");                /* unreserved, kept */
    check_pct("AZaz09-_.~", "AZaz09-_.~");
    check_pct("/=&%", "%2F%3D%26%25");
    check_pct("\xe9\x98\xbf", "%E9%98%BF");  /* UTF-8 bytes, upper-case hex */
    check_pct("\xf0\x9f\x98\x80", "%F0%9F%98%80");
    check_pct("\n\x7f", "%0A%7F");

    /* Embedded NUL is encoded too when the length says so. */
    char *out = sign_pct_encode("a\0b", 3);
    assert_string_equal(out, "a%00b");
    free(out);
}

/* ---- WeChat push signature ------------------------------------------------ */

static void test_wechat_push(void **state)
{
    (void)state;
    char sig[SIGN_WECHAT_MAX];
    /* sha1("1714000000" "chuda-token" "nonce123"): the three sorted, then joined */
    assert_int_equal(sign_wechat_push("chuda-token", "1714000000", "nonce123", sig), SIGN_OK);
    assert_string_equal(sig, "0a0e80a9e31370db79585d3c0a85747e2241e26d");
    /* the order of the arguments does not matter, only their sorted order */
    char again[SIGN_WECHAT_MAX];
    assert_int_equal(sign_wechat_push("nonce123", "chuda-token", "1714000000", again), SIGN_OK);
    assert_string_equal(again, sig);
    assert_int_equal(sign_wechat_push("AAAAA", "1409735669", "1320562132", sig), SIGN_OK);
    assert_string_equal(sig, "f191fcf3aa7f8d16ac46259478ef305ace6c5261");
    assert_int_equal(sign_wechat_push(NULL, "1", "2", sig), SIGN_E_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tc3_vector),
        cmocka_unit_test(test_tc3_canonical_headers),
        cmocka_unit_test(test_tc3_utc_date),
        cmocka_unit_test(test_tc3_errors),
        cmocka_unit_test(test_aliyun_canonical),
        cmocka_unit_test(test_aliyun_signature),
        cmocka_unit_test(test_aliyun_lowercase_credentials),
        cmocka_unit_test(test_aliyun_errors),
        cmocka_unit_test(test_pct_encode),
        cmocka_unit_test(test_wechat_push),
    };
    return cmocka_run_group_tests_name("sign", tests, NULL, NULL);
}
