/* test_report.c — the HTML report: a two-day fixture (four channels, suppressions,
 * campaigns with Chinese and hostile names, provider errors) renders to one
 * self-contained page; every string from the data is escaped; bad figures are refused
 * naming the member; long periods switch to days and weeks; output is deterministic.
 * (tests/integration/report_chromium.sh renders a page `chuda report` made from a real
 * database in headless Chromium.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "report.h"
#include "timeutil.h"

#define HOSTILE_CAMPAIGN "<script>alert('x')</script>清仓 & \"特卖\""

/* 48 hours from 2026-11-23T00:00Z, a daily curve per channel, fixed pseudo-random noise. */
static json_t *fixture(void)
{
    static const char *const ch[] = {"mp_subscribe", "sms", "oa_template", "wecom"};
    static const int scale[] = {120, 60, 35, 12};
    static const int curve[24] = {2, 1, 1, 0, 0, 1, 3, 6, 9, 12, 14, 13,
                                  11, 10, 12, 13, 12, 11, 9, 10, 12, 10, 6, 3};
    json_t *hourly = json_array();
    unsigned seed = 7;
    const int64_t t0 = 1795392000000LL;                 /* 2026-11-23T00:00:00Z */
    for (int h = 0; h < 48; h++) {
        if (h == 30)
            continue;                                   /* an hour with nothing sent */
        char iso[32];
        tu_format(t0 + h * TU_HOUR, iso, sizeof iso);
        for (int c = 0; c < 4; c++) {
            seed = seed * 1103515245u + 12345u;
            int n = curve[h % 24] * scale[c] / 10 + (int)((seed >> 16) % 7);
            if (c == 3 && h % 24 < 9)
                continue;                               /* WeCom only in office hours */
            json_array_append_new(hourly, json_pack("{s:s,s:s,s:i}", "hour", iso,
                                                    "channel", ch[c], "sent", n));
        }
    }
    return json_pack(
        "{s:s,s:s,s:s,s:s,s:o,"
        "s:[{s:s,s:i},{s:s,s:i},{s:s,s:i},{s:s,s:i},{s:s,s:i},{s:s,s:i}],"
        "s:[{s:I,s:s,s:i,s:i,s:i,s:i,s:i,s:i},{s:I,s:s,s:i,s:i,s:i,s:i,s:i,s:i},"
        "{s:I,s:s,s:i,s:i,s:i,s:i,s:i,s:i}],"
        "s:[{s:s,s:s,s:i},{s:s,s:s,s:i},{s:s,s:s,s:i},{s:s,s:i,s:i},{s:s,s:s,s:i}],"
        "s:{s:i,s:i,s:i,s:i,s:i,s:i,s:i}}",
        "title", "触达周报 · 双11 大促", "generated_at", "2026-11-25T01:00:00Z",
        "since", "2026-11-23T00:00:00Z", "until", "2026-11-25T00:00:00Z",
        "hourly", hourly,
        "suppressed",
        "reason", "cap", "n", 812, "reason", "quiet_hours", "n", 407, "reason", "optout", "n", 96,
        "reason", "no_credit", "n", 233, "reason", "holdout", "n", 150, "reason", "cap", "n", 88,
        "campaigns",
        "id", (json_int_t)1, "name", "双11 会员召回", "queued", 12000, "sent", 10450,
        "delivered", 9800, "deferred", 600, "suppressed", 700, "failed", 250,
        "id", (json_int_t)2, "name", HOSTILE_CAMPAIGN, "queued", 3000, "sent", 2100,
        "delivered", 1500, "deferred", 300, "suppressed", 450, "failed", 150,
        "id", (json_int_t)3, "name", "购物车提醒 cart_abandoned", "queued", 800, "sent", 790,
        "delivered", 770, "deferred", 0, "suppressed", 10, "failed", 0,
        "errors",
        "channel", "mp_subscribe", "code", "43101", "n", 320,
        "channel", "sms", "code", "LimitExceeded.PhoneNumberDailyLimit", "n", 41,
        "channel", "mp_subscribe", "code", "47003", "n", 12,
        "channel", "oa_template", "code", 43004, "n", 57,
        "channel", "sms", "code", "isv.BUSINESS_LIMIT_CONTROL", "n", 9,
        "totals",
        "enqueued", 15800, "sent", 13340, "delivered", 12070, "failed", 400,
        "suppressed", 1786, "expired", 30, "cancelled", 244);
}

static char *render_ok(json_t *data)
{
    buf b = {0};
    cherr e = {{0}};
    if (report_html(data, &b, &e) < 0)
        fail_msg("report_html: %s", e.msg);
    return buf_take(&b);
}

static void render_bad(const char *json, const char *want)
{
    json_error_t je;
    json_t *d = json_loads(json, 0, &je);
    if (!d)
        fail_msg("fixture is not JSON: %s", json);
    buf b = {0};
    cherr e = {{0}};
    if (report_html(d, &b, &e) == 0)
        fail_msg("accepted: %s", json);
    if (!strstr(e.msg, want))
        fail_msg("%s: message \"%s\" lacks \"%s\"", json, e.msg, want);
    buf_free(&b);
    json_decref(d);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void must_have(const char *html, const char *s)
{
    if (!strstr(html, s))
        fail_msg("page lacks \"%s\"", s);
}

static void must_lack(const char *html, const char *s)
{
    if (strstr(html, s))
        fail_msg("page has \"%s\"", s);
}

/* Strict UTF-8 check: truncation must never split a character. */
static int valid_utf8(const unsigned char *s)
{
    while (*s) {
        int n = *s < 0x80 ? 0 : (*s & 0xE0) == 0xC0 ? 1 : (*s & 0xF0) == 0xE0 ? 2
                : (*s & 0xF8) == 0xF0 ? 3 : -1;
        if (n < 0)
            return 0;
        s++;
        for (int i = 0; i < n; i++, s++)
            if ((*s & 0xC0) != 0x80)
                return 0;
    }
    return 1;
}

static void test_fixture_page(void **state)
{
    (void)state;
    json_t *d = fixture();
    char *html = render_ok(d);
    must_have(html, "<!DOCTYPE html>");
    must_have(html, "<meta charset=\"utf-8\">");
    must_have(html, "<title>触达周报 · 双11 大促</title>");
    must_have(html, "2026-11-23T00:00:00Z");
    /* totals with thousands separators, and rates */
    must_have(html, ">15,800<");
    must_have(html, ">13,340<");
    must_have(html, ">12,070<");
    must_have(html, "送达率 90.5%");
    /* charts: one stacked-bar svg, two horizontal-bar svgs, three funnels */
    assert_int_equal(count(html, "<svg"), 1 + 2 + 3);
    must_have(html, "每小时 per hour");
    must_have(html, "小程序订阅消息 mp_subscribe");
    must_have(html, "短信 sms");
    /* repeated reasons are summed: cap 812 + 88 */
    must_have(html, "频次上限 cap: 900");
    must_have(html, "用户未订阅（无额度）");
    must_have(html, "<code>43004</code>");          /* an integer code */
    must_have(html, "#1 双11 会员召回");
    must_have(html, "购物车提醒 cart_abandoned");
    /* the hostile campaign name is text */
    must_have(html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;清仓 &amp; &quot;特卖&quot;");
    must_lack(html, "<script");
    assert_true(valid_utf8((const unsigned char *)html));
    free(html);
    json_decref(d);
}

static void test_self_contained(void **state)
{
    (void)state;
    json_t *d = fixture();
    char *html = render_ok(d);
    static const char *const banned[] = {
        "http:", "https:", "//cdn", "src=", "href=", "url(", "@import", "<link", "<img",
        "<script", "<iframe", "@font-face", "javascript:",
    };
    for (size_t i = 0; i < sizeof banned / sizeof banned[0]; i++)
        must_lack(html, banned[i]);
    free(html);
    json_decref(d);
}

static void test_every_string_escaped(void **state)
{
    (void)state;
    const char *evil = "<img src=x onerror=alert(1)>\"'&\x01";
    json_t *d = json_pack(
        "{s:s,s:s,s:s,s:s,s:[{s:s,s:s,s:i}],s:[{s:s,s:i}],s:[{s:I,s:s,s:i}],"
        "s:[{s:s,s:s,s:i}]}",
        "title", evil, "generated_at", evil, "since", evil, "until", evil,
        "hourly", "hour", "2026-11-23T10:00Z", "channel", evil, "sent", 5,
        "suppressed", "reason", evil, "n", 2,
        "campaigns", "id", (json_int_t)9, "name", evil, "queued", 4,
        "errors", "channel", evil, "code", evil, "n", 1);
    char *html = render_ok(d);
    must_lack(html, "<img");
    must_lack(html, "\x01");
    must_have(html, "&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;");
    /* the only tags are ours: no quote from the data closes an attribute */
    must_lack(html, "\"'&");
    free(html);
    json_decref(d);
}

static void test_truncation_keeps_utf8(void **state)
{
    (void)state;
    char name[3 * 300 + 1] = "";
    for (int i = 0; i < 300; i++)
        strcat(name, "长");
    json_t *d = json_pack("{s:[{s:I,s:s,s:i}],s:[{s:s,s:i}]}",
                          "campaigns", "id", (json_int_t)1, "name", name, "queued", 1,
                          "suppressed", "reason", name, "n", 1);
    char *html = render_ok(d);
    assert_true(valid_utf8((const unsigned char *)html));
    must_have(html, "…");
    must_lack(html, name);
    free(html);
    json_decref(d);
}

static void test_empty(void **state)
{
    (void)state;
    json_t *d = json_object();
    char *html = render_ok(d);
    must_have(html, "<title>chuda 触达报告</title>");
    must_have(html, "No sends in this period");
    must_have(html, "Nothing suppressed");
    must_have(html, "No provider errors");
    must_have(html, "No campaigns in this period");
    must_have(html, ">—<");
    must_lack(html, "<svg");
    free(html);
    json_decref(d);
    /* null members are as good as absent */
    d = json_pack("{s:n,s:n,s:n,s:n}", "since", "hourly", "totals", "campaigns");
    html = render_ok(d);
    must_have(html, "开始 start");
    free(html);
    json_decref(d);
}

static void test_bad_input(void **state)
{
    (void)state;
    render_bad("[]", "expected a JSON object");
    render_bad("{\"title\":5}", "title: expected a string");
    render_bad("{\"hourly\":{}}", "hourly: expected an array");
    render_bad("{\"hourly\":[7]}", "hourly[0]: expected an object");
    render_bad("{\"hourly\":[{\"hour\":\"2026-11-23T10:00Z\",\"channel\":\"sms\",\"sent\":1},"
               "{\"hour\":\"2026-11-23T11:00Z\",\"channel\":\"sms\",\"sent\":-1}]}",
               "hourly[1].sent: expected an integer >= 0");
    render_bad("{\"hourly\":[{\"hour\":\"2026-11-23T10:00Z\",\"channel\":\"sms\",\"sent\":1.5}]}",
               "hourly[0].sent: expected an integer >= 0");
    render_bad("{\"hourly\":[{\"hour\":\"2026-11-23 10:00\",\"channel\":\"sms\",\"sent\":1}]}",
               "hourly[0].hour: expected ISO 8601");
    render_bad("{\"hourly\":[{\"hour\":\"+1h\",\"channel\":\"sms\",\"sent\":1}]}",
               "hourly[0].hour: expected ISO 8601");
    render_bad("{\"hourly\":[{\"hour\":\"2026-11-23T10:00Z\",\"sent\":1}]}",
               "hourly[0].channel: missing");
    render_bad("{\"suppressed\":[{\"reason\":\"cap\"}]}", "suppressed[0].n: missing");
    render_bad("{\"errors\":[{\"channel\":\"sms\",\"code\":true,\"n\":1}]}",
               "errors[0].code: expected a string or an integer");
    render_bad("{\"errors\":[{\"channel\":\"sms\",\"n\":1}]}", "errors[0].code: missing");
    render_bad("{\"campaigns\":[{\"name\":\"x\"}]}", "campaigns[0].id: missing");
    render_bad("{\"campaigns\":[{\"id\":\"1\"}]}", "campaigns[0].id: expected an integer");
    render_bad("{\"campaigns\":[{\"id\":1,\"failed\":\"3\"}]}",
               "campaigns[0].failed: expected an integer >= 0");
    render_bad("{\"totals\":[]}", "totals: expected an object");
    render_bad("{\"totals\":{\"sent\":\"12\"}}", "totals.sent: expected an integer >= 0");
    render_bad("{\"since\":20261123}", "since: expected a string");
}

/* Spans decide the bar width: up to 240 hours per hour, then per day, then per week. */
static void test_long_periods(void **state)
{
    (void)state;
    const int64_t t0 = 1795392000000LL;   /* 2026-11-23T00:00Z, a Monday */
    const struct { int64_t span; const char *unit, *label; } c[] = {
        {239 * TU_HOUR, "每小时 per hour", ">11-23 00:00<"},
        {20 * TU_DAY, "每天 per day", ">11-23<"},
        {400 * TU_DAY, "每周 per week", ">2026-11-23<"},
        {4000 * TU_DAY, "每几周 per weeks", ">2026-11-23<"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char a[32], b[32];
        tu_format(t0, a, sizeof a);
        tu_format(t0 + c[i].span, b, sizeof b);
        json_t *d = json_pack("{s:[{s:s,s:s,s:i},{s:s,s:s,s:i}]}", "hourly",
                              "hour", a, "channel", "sms", "sent", 3,
                              "hour", b, "channel", "sms", "sent", 4);
        char *html = render_ok(d);
        must_have(html, c[i].unit);
        must_have(html, c[i].label);
        assert_true(count(html, "<rect") <= 240 + 2);
        free(html);
        json_decref(d);
    }
}

static void test_many_channels_fold(void **state)
{
    (void)state;
    json_t *hourly = json_array();
    for (int i = 0; i < 20; i++) {
        char ch[16];
        snprintf(ch, sizeof ch, "chan%02d", i);
        json_array_append_new(hourly, json_pack("{s:s,s:s,s:i}", "hour", "2026-11-23T10:00Z",
                                                "channel", ch, "sent", 100 - i));
    }
    json_t *d = json_pack("{s:o}", "hourly", hourly);
    char *html = render_ok(d);
    must_have(html, "其他 other · ");
    must_have(html, "chan00");
    must_lack(html, "chan19");
    free(html);
    json_decref(d);
}

static void test_deterministic(void **state)
{
    (void)state;
    json_t *d = fixture();
    char *a = render_ok(d), *b = render_ok(d);
    assert_string_equal(a, b);
    free(a);
    free(b);
    json_decref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_page),
        cmocka_unit_test(test_self_contained),
        cmocka_unit_test(test_every_string_escaped),
        cmocka_unit_test(test_truncation_keeps_utf8),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_long_periods),
        cmocka_unit_test(test_many_channels_fold),
        cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
