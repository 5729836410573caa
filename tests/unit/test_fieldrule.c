/* test_fieldrule.c — the providers' field rules at their edges: exactly 20 characters
 * and 21, emoji with a skin-tone modifier, combining marks, mixed CJK and Latin, every
 * mini-program keyword type, line breaks and control characters, invalid UTF-8,
 * official-account keywords, SMS parameters (configurable length, URLs, the whole
 * SMS), WeCom byte and character limits, the verdict list, and bound (load-time) mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fieldrule.h"

#define THUMB "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBB"     /* 👍🏻: 2 code points */
#define E_ACUTE "e\xCC\x81"                           /* e + U+0301: 2 code points */

/* A render_out of key/value pairs (NULL-terminated list). */
static render_out make(const char *k1, ...)
{
    render_out o = {0};
    va_list ap;
    va_start(ap, k1);
    for (const char *k = k1; k; k = va_arg(ap, const char *)) {
        const char *v = va_arg(ap, const char *);
        o.v = realloc(o.v, (o.n + 1) * sizeof *o.v);
        o.v[o.n] = (render_field){.key = strdup(k), .value = strdup(v), .line = (int)o.n + 1};
        o.n++;
    }
    va_end(ap);
    return o;
}

/* Check one field of a channel; want NULL = passes, else the exact reason. */
static void one(const char *channel, const char *key, const char *value, const fr_limits *lim,
                const char *want)
{
    render_out o = make(key, value, NULL);
    cherr e = {{0}};
    int rc = fr_check(channel, &o, lim, NULL, &e);
    render_out_free(&o);
    if (!want && rc != 0)
        fail_msg("[%s] %s = '%s': %s", channel, key, value, e.msg);
    if (want && rc == 0)
        fail_msg("[%s] %s = '%s' passed, want \"%s\"", channel, key, value, want);
    if (want && strcmp(e.msg, want))
        fail_msg("[%s] %s = '%s': \"%s\",\n   want \"%s\"", channel, key, value, e.msg, want);
}

#define MP_OK(k, v) one("mp_subscribe", k, v, NULL, NULL)
#define MP_BAD(k, v, w) one("mp_subscribe", k, v, NULL, w)

static void test_lengths(void **state)
{
    (void)state;
    assert_int_equal(fr_chars("王芳"), 2);
    assert_int_equal(fr_chars(THUMB), 2);
    assert_int_equal(fr_chars("caf" E_ACUTE), 5);
    assert_int_equal(fr_chars("caf\xC3\xA9"), 4);                    /* precomposed é */
    assert_int_equal(fr_chars("iPhone 15 手机壳"), 13);
    assert_int_equal(fr_chars("\xE4\xB8"), -1);                      /* cut UTF-8 */
    assert_int_equal(fr_chars(""), 0);

    MP_OK("data.thing1", "一二三四五六七八九十一二三四五六七八九十");            /* 20 */
    MP_BAD("data.thing1", "一二三四五六七八九十一二三四五六七八九十一",          /* 21 */
           "[mp_subscribe] data.thing1: 21 characters, limit 20");
    MP_OK("data.thing2", "Apple苹果iPhone15手机壳特惠");                   /* 20 mixed */
    MP_BAD("data.thing2", "Apple苹果iPhone15手机壳特惠!",
           "[mp_subscribe] data.thing2: 21 characters, limit 20");
    /* 18 CJK + 👍🏻 = 20 code points; 19 + 👍🏻 = 21 */
    MP_OK("data.thing3", "一二三四五六七八九十一二三四五六七八" THUMB);
    MP_BAD("data.thing3", "一二三四五六七八九十一二三四五六七八九" THUMB,
           "[mp_subscribe] data.thing3: 21 characters, limit 20");
    /* combining marks count: 16 + "café" with e + U+0301 (5) = 21 */
    MP_OK("data.thing4", "一二三四五六七八九十一二三四五caf" E_ACUTE);
    MP_BAD("data.thing4", "一二三四五六七八九十一二三四五六caf" E_ACUTE,
           "[mp_subscribe] data.thing4: 21 characters, limit 20");
    MP_BAD("data.thing5", "", "[mp_subscribe] data.thing5: renders empty");
}

static void test_keyword_types(void **state)
{
    (void)state;
    MP_OK("data.number1", "12345678901234567890123456789012");
    MP_OK("data.number2", "-3.14");
    MP_BAD("data.number3", "123456789012345678901234567890123",
           "[mp_subscribe] data.number3: 33 digits, limit 32");
    /* the limit counts digits (providers.md §2.2): sign and point come on top */
    MP_OK("data.number5", "-1234567890123456789012345678901.2");        /* 32 digits, 34 chars */
    MP_BAD("data.number6", "+12345678901234567890123456789012.3",
           "[mp_subscribe] data.number6: 33 digits, limit 32");
    MP_BAD("data.number4", "1.2.3", "[mp_subscribe] data.number4: '1.2.3' is not a number "
                                    "(at most 32 digits, optional sign and decimal point)");
    MP_OK("data.letter1", "ABCxyz");
    MP_BAD("data.letter2", "ABC1", "[mp_subscribe] data.letter2: 'ABC1' is not a letter (at "
                                   "most 32 Latin letters)");
    MP_OK("data.symbol1", "!@#￥%");
    MP_BAD("data.symbol2", "!!!!!!", "[mp_subscribe] data.symbol2: 6 characters, limit 5");
    MP_OK("data.character_string1", "SO-2026-0001/A");
    MP_BAD("data.character_string2", "订单123", "[mp_subscribe] data.character_string2: "
           "'订单123' is not a character_string (at most 32 digits, letters or symbols)");
    MP_OK("data.time1", "15:01");
    MP_OK("data.time2", "2019年10月1日 15:01");
    MP_OK("data.time3", "2026-11-23 10:00 ~ 2026-11-23 12:00");
    MP_BAD("data.time4", "明天下午", "[mp_subscribe] data.time4: '明天下午' is not a time "
           "(a 24-hour time, optionally after a date; ranges with ~)");
    MP_OK("data.date1", "2019年10月1日");
    MP_OK("data.date2", "2018.01.01");
    MP_OK("data.date3", "01-01");
    MP_OK("data.date4", "11月23日");
    MP_BAD("data.date5", "2018-13-01", "[mp_subscribe] data.date5: '2018-13-01' is not a date "
           "(a date such as 2019年10月1日 or 2019-10-01, optionally with a time)");
    MP_OK("data.amount1", "¥12.50");
    MP_OK("data.amount2", "￥1,299元");
    MP_BAD("data.amount3", "十二元", "[mp_subscribe] data.amount3: '十二元' is not a amount (a "
           "currency symbol and at most 10 digits, optional 元)");
    MP_OK("data.phone_number1", "+86-0766-66888866");
    MP_BAD("data.phone_number2", "+86-0766-668888661", "[mp_subscribe] data.phone_number2: 18 "
           "characters, limit 17");
    MP_OK("data.car_number1", "粤A12345");
    MP_BAD("data.car_number2", "粤A1234567", "[mp_subscribe] data.car_number2: 9 characters, "
           "limit 8");
    MP_OK("data.name1", "欧阳娜娜");
    MP_OK("data.name2", "Elizabeth Alexandra");                          /* 19 Latin */
    MP_BAD("data.name3", "欧阳Elizabeth", "[mp_subscribe] data.name3: 11 characters, limit 10");
    MP_OK("data.phrase1", "配送中");
    MP_BAD("data.phrase2", "配送中啦啦啦", "[mp_subscribe] data.phrase2: 6 characters, limit 5");
    MP_BAD("data.phrase3", "OK了", "[mp_subscribe] data.phrase3: 'OK了' is not a phrase (at "
           "most 5 Chinese characters, nothing else)");
    MP_OK("data.enum1", "已发货");
    MP_OK("template_id", "TPL_1");
}

static void test_bad_characters(void **state)
{
    (void)state;
    MP_BAD("data.thing1", "第一行\n第二行",
           "[mp_subscribe] data.thing1: a line break at character 4 (not allowed here)");
    MP_BAD("data.thing1", "tab\there",
           "[mp_subscribe] data.thing1: control character U+0009 at character 4");
    MP_BAD("data.thing1", "ab\xE2\x80\xA8" "cd",
           "[mp_subscribe] data.thing1: a line break at character 3 (not allowed here)");
    MP_BAD("data.thing1", "ok\xFF", "[mp_subscribe] data.thing1: not valid UTF-8 (byte 2)");
    MP_BAD("page", "pages/a\x01", "[mp_subscribe] page: control character U+0001 at character 8");
    one("oa_template", "data.keyword1", "第一行\r\n", NULL,
        "[oa_template] data.keyword1: a line break at character 4 (not allowed here)");
    one("wecom", "content", "\xC0\xAF", NULL, "[wecom] content: not valid UTF-8 (byte 0)");
}

static void test_oa(void **state)
{
    (void)state;
    one("oa_template", "data.keyword1", "一二三四五六七八九十一二三四五六七八九十", NULL, NULL);
    one("oa_template", "data.keyword1", "一二三四五六七八九十一二三四五六七八九十一", NULL,
        "[oa_template] data.keyword1: 21 characters, limit 20");
    one("oa_template", "data.thing2", "Apple苹果iPhone15手机壳特惠" THUMB, NULL,
        "[oa_template] data.thing2: 22 characters, limit 20");
    /* not shown since 2023: no length rule */
    one("oa_template", "data.remark", "一二三四五六七八九十一二三四五六七八九十一二三", NULL, NULL);
    one("oa_template", "url", "https://shop.example.com/o/1", NULL, NULL);
}

static void test_sms(void **state)
{
    (void)state;
    fr_limits lim;
    fr_limits_default(&lim);
    assert_int_equal(lim.sms_param_chars, 12);
    assert_int_equal(lim.sms_content_chars, 500);
    one("sms", "params", "王芳, 一二三四五六七八九十一二", &lim, NULL);          /* 12 */
    one("sms", "params", "王芳, 一二三四五六七八九十一二三四", &lim,
        "[sms] param 2: 14 characters, limit 12");
    one("sms", "params", "王芳,\t羊绒围巾 ,  3", &lim, NULL);                  /* trimmed */
    one("sms", "params", "王芳, , 3", &lim, "[sms] param 2: renders empty");
    one("sms", "params", "", &lim, NULL);                                        /* none */
    one("sms", "params", "详见 https://s.example.com/x", &lim,
        "[sms] param 1: a URL is not allowed in an SMS parameter");
    one("sms", "params", "shop.example.com", &lim,
        "[sms] param 1: a URL is not allowed in an SMS parameter");
    one("sms", "params", "www.a.b", &lim,
        "[sms] param 1: a URL is not allowed in an SMS parameter");
    one("sms", "params", "3.5折", &lim, NULL);                                  /* no URL */
    one("sms", "param.code", "一二三四五六七八九十一二三", &lim,
        "[sms] param.code: 13 characters, limit 12");
    /* the limit is the account's: an enterprise account allows more, 0 = unchecked */
    lim.sms_param_chars = 20;
    one("sms", "params", "一二三四五六七八九十一二三四", &lim, NULL);
    lim.sms_param_chars = 0;
    one("sms", "params", "一二三四五六七八九十一二三四五六七八九十一二三四五六七八", &lim, NULL);
    /* the whole SMS: parameters plus 【signature】 */
    lim.sms_content_chars = 20;
    lim.sms_sign_name = "小铺";
    one("sms", "params", "一二三四五六七八, 九十一二三四五六", &lim, NULL);   /* 16 + 4 */
    one("sms", "params", "一二三四五六七八, 九十一二三四五六七", &lim,
        "[sms] whole SMS: at least 21 characters with the signature, limit 20");
}

static char *repeat(const char *s, int n)
{
    size_t l = strlen(s);
    char *r = malloc(l * (size_t)n + 1);
    for (int i = 0; i < n; i++)
        memcpy(r + l * (size_t)i, s, l);
    r[l * (size_t)n] = '\0';
    return r;
}

static void wecom_is(const char *channel, const char *type, const char *key, const char *value,
                     const char *want)
{
    render_out o = make("msgtype", type, key, value, NULL);
    cherr e = {{0}};
    int rc = fr_check(channel, &o, NULL, NULL, &e);
    render_out_free(&o);
    if (!want && rc)
        fail_msg("%s %s: %s", type, key, e.msg);
    if (want && (rc == 0 || strcmp(e.msg, want)))
        fail_msg("%s %s: \"%s\", want \"%s\"", type, key, rc ? e.msg : "(passed)", want);
}

static void test_wecom(void **state)
{
    (void)state;
    char *s2048 = repeat("a", 2048), *s2049 = repeat("a", 2049);
    char *cjk682 = repeat("中", 682), *cjk683 = repeat("中", 683);   /* 2046 / 2049 bytes */
    wecom_is("wecom", "text", "content", s2048, NULL);
    wecom_is("wecom", "text", "content", s2049, "[wecom] content: 2049 bytes, limit 2048");
    wecom_is("wecom", "text", "content", cjk682, NULL);
    wecom_is("wecom", "text", "content", cjk683, "[wecom] content: 2049 bytes, limit 2048");
    wecom_is("wecom", "text", "content", "第一行\n第二行", NULL);     /* newlines are fine */
    wecom_is("wecom", "markdown", "content", s2049, "[wecom] content: 2049 bytes, limit 2048");
    wecom_is("wecom_robot", "markdown", "content", s2049, NULL);      /* robot: 4096 */
    wecom_is("wecom_robot", "text", "content", s2049,
             "[wecom_robot] content: 2049 bytes, limit 2048");
    char *t128 = repeat("a", 128), *t129 = repeat("a", 129);
    wecom_is("wecom", "textcard", "title", t128, NULL);
    wecom_is("wecom", "textcard", "title", t129, "[wecom] title: 129 bytes, limit 128");
    wecom_is("wecom", "textcard", "btntxt", "去看看吧", NULL);
    wecom_is("wecom", "textcard", "btntxt", "去看看吧!", "[wecom] btntxt: 5 characters, limit 4");
    wecom_is("wecom", "miniprogram_notice", "title", "发货", "[wecom] title: 2 characters, at "
             "least 4 needed");
    wecom_is("wecom", "miniprogram_notice", "title", "您的订单已发货", NULL);
    wecom_is("wecom", "miniprogram_notice", "description", "一二三四五六七八九十一二三",
             "[wecom] description: 13 characters, limit 12");
    wecom_is("wecom", "miniprogram_notice", "item.商品",
             "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一",
             "[wecom] item.商品: 31 characters, limit 30");
    wecom_is("wecom", "miniprogram_notice", "item.一二三四五六七八九十一", "好",
             "[wecom] item.一二三四五六七八九十一 (key): 11 characters, limit 10");
    char *c4000 = repeat("a", 4000), *c4001 = repeat("a", 4001);
    wecom_is("wecom_customer", "text", "content", c4000, NULL);
    wecom_is("wecom_customer", "text", "content", c4001,
             "[wecom_customer] content: 4001 bytes, limit 4000");
    wecom_is("wecom_robot", "news", "title", t129, "[wecom_robot] title: 129 bytes, limit 128");
    free(c4000);
    free(c4001);
    /* no msgtype: text */
    render_out o = make("content", s2049, NULL);
    cherr e;
    assert_int_equal(fr_check("wecom", &o, NULL, NULL, &e), -1);
    assert_string_equal(e.msg, "[wecom] content: 2049 bytes, limit 2048");
    render_out_free(&o);
    free(s2048);
    free(s2049);
    free(cjk682);
    free(cjk683);
    free(t128);
    free(t129);
}

static void test_report(void **state)
{
    (void)state;
    render_out o = make("template_id", "T", "data.thing1", "王芳", "data.phrase2", "配送中啦啦啦",
                        "data.time3", "15:01", NULL);
    fr_report rep;
    cherr e;
    assert_int_equal(fr_check("mp_subscribe", &o, NULL, &rep, &e), -1);
    assert_string_equal(e.msg, "[mp_subscribe] data.phrase2: 6 characters, limit 5");
    assert_int_equal(rep.n, 4);
    assert_true(rep.v[1].ok);
    assert_string_equal(rep.v[1].field, "data.thing1");
    assert_string_equal(rep.v[1].value, "王芳");
    assert_int_equal(rep.v[1].length, 2);
    assert_int_equal(rep.v[1].limit, 20);
    assert_string_equal(rep.v[1].unit, "characters");
    assert_false(rep.v[2].ok);
    assert_int_equal(rep.v[2].index, 2);
    assert_int_equal(rep.v[2].length, 6);
    assert_int_equal(rep.v[2].limit, 5);
    assert_true(rep.v[3].ok);
    assert_int_equal(rep.v[3].limit, -1);
    fr_report_free(&rep);
    render_out_free(&o);

    /* sms: one verdict per parameter */
    o = make("template_id", "1234", "params", "a, bb, ccc", NULL);
    assert_int_equal(fr_check("sms", &o, NULL, &rep, &e), 0);
    assert_int_equal(rep.n, 4);
    assert_string_equal(rep.v[3].field, "param 3");
    assert_string_equal(rep.v[3].value, "ccc");
    assert_int_equal(rep.v[3].length, 3);
    assert_int_equal(rep.v[3].limit, 12);
    fr_report_free(&rep);
    render_out_free(&o);
}

/* The fields a report has verdicts for, joined with '|'. */
static const char *fields(const fr_report *r, char *out, size_t len)
{
    out[0] = '\0';
    for (size_t i = 0; i < r->n; i++)
        snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? "|" : "", r->v[i].field);
    return out;
}

/* Each SMS provider's verdicts are about what it is sent: Tencent `params` (else the
 * param.NAME values), Aliyun param.NAME, and its own template_id.PROVIDER. */
static void test_sms_provider(void **state)
{
    (void)state;
    fr_limits lim;
    fr_limits_default(&lim);
    render_out o = make("template_id.tencent", "1234", "template_id.aliyun", "SMS_1",
                        "params", "王芳, 一二三四五六七八九十一二三", "param.name", "王芳",
                        "param.gift", "礼券", NULL);
    fr_report rep;
    cherr e;
    char seen[200];
    lim.sms_provider = "aliyun";        /* params (13 characters) is not sent: no failure */
    assert_int_equal(fr_check("sms", &o, &lim, &rep, &e), 0);
    assert_string_equal(fields(&rep, seen, sizeof seen),
                        "template_id.aliyun|param.name|param.gift");
    fr_report_free(&rep);
    lim.sms_provider = "tencent";
    assert_int_equal(fr_check("sms", &o, &lim, &rep, &e), -1);
    assert_string_equal(e.msg, "[sms] param 2: 13 characters, limit 12");
    assert_string_equal(fields(&rep, seen, sizeof seen), "template_id.tencent|param 1|param 2");
    fr_report_free(&rep);
    lim.sms_provider = NULL;            /* unknown (load time): everything */
    assert_int_equal(fr_check("sms", &o, &lim, &rep, &e), -1);
    assert_int_equal(rep.n, 6);
    fr_report_free(&rep);
    render_out_free(&o);
    /* Tencent without `params` is sent the param.NAME values */
    o = make("template_id", "1234", "param.a", "一二三四五六七八九十一二三", NULL);
    lim.sms_provider = "tencent";
    assert_int_equal(fr_check("sms", &o, &lim, NULL, &e), -1);
    assert_string_equal(e.msg, "[sms] param.a: 13 characters, limit 12");
    render_out_free(&o);
}

static void test_bound(void **state)
{
    (void)state;
    /* a lower bound: lengths count ("at least"), shapes do not (the variable is missing) */
    render_out o = make("data.thing1", "一二三四五六七八九十一二三四五六七八九十一",
                        "data.time2", "", "data.amount3", "元", "data.thing4", "短", NULL);
    int dyn[] = {1, 1, 1, 0};
    cherr e;
    assert_int_equal(fr_check_bound("mp_subscribe", &o, dyn, NULL, NULL, &e), -1);
    assert_string_equal(e.msg, "[mp_subscribe] data.thing1: at least 21 characters, limit 20");
    free(o.v[0].value);
    o.v[0].value = strdup("一二三四五六七八九十");
    assert_int_equal(fr_check_bound("mp_subscribe", &o, dyn, NULL, NULL, &e), 0);
    dyn[1] = 0;      /* an exact empty time is an error */
    assert_int_equal(fr_check_bound("mp_subscribe", &o, dyn, NULL, NULL, &e), -1);
    assert_string_equal(e.msg, "[mp_subscribe] data.time2: renders empty");
    render_out_free(&o);

    cherr ke;
    assert_int_equal(fr_key_check("mp_subscribe", "data.thing12", &ke), 0);
    assert_int_equal(fr_key_check("mp_subscribe", "data.character_string3", &ke), 0);
    assert_int_equal(fr_key_check("mp_subscribe", "template_id", &ke), 0);
    assert_int_equal(fr_key_check("oa_template", "data.keyword1", &ke), 0);
    assert_int_equal(fr_key_check("mp_subscribe", "data.keyword1", &ke), -1);
    assert_int_equal(fr_key_check("mp_subscribe", "data.thing", &ke), -1);
}

static void test_limits_config(void **state)
{
    (void)state;
    config cfg = {0};
    cherr e;
    if (inif_load_string(&cfg.ini, "c.ini", "[channel.sms]\nparam_max_chars = 20\n"
                         "content_max_chars = 300\nsign_name = 小铺\n", &e) < 0)
        fail_msg("%s", e.msg);
    fr_limits lim;
    assert_int_equal(fr_limits_load(&lim, &cfg, &e), 0);
    assert_int_equal(lim.sms_param_chars, 20);
    assert_int_equal(lim.sms_content_chars, 300);
    assert_string_equal(lim.sms_sign_name, "小铺");
    assert_null(lim.sms_provider);
    inif_free(&cfg.ini);
    config none = {0};
    assert_int_equal(fr_limits_load(&lim, &none, &e), 0);
    assert_int_equal(lim.sms_param_chars, 12);
    assert_null(lim.sms_sign_name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_keyword_types),
        cmocka_unit_test(test_bad_characters),
        cmocka_unit_test(test_oa),
        cmocka_unit_test(test_sms),
        cmocka_unit_test(test_sms_provider),
        cmocka_unit_test(test_wecom),
        cmocka_unit_test(test_report),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_limits_config),
    };
    return cmocka_run_group_tests_name("fieldrule", tests, NULL, NULL);
}
