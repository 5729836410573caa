/* test_chan_wecom.c — WeCom app messages (channel wecom) and customer broadcasts
 * (channel wecom_customer), providers.md §4.1-§4.3: gettoken (40001 is a bad secret
 * here), the exact request for each msgtype with the duplicate check on, invaliduser and
 * fail_list naming our user, every code of the table, the transport cases, the
 * per-member 30/minute and 1000/hour windows of the admit hook, config and templates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chan_fixture.h"
#include "timeutil.h"

extern const chan_ops chan_wecom, chan_wecom_customer;

static const char conf[] =
    "[channel.wecom]\n"
    "corpid = ww0000000000000001\n"
    "secret_env = TEST_WC_SECRET\n"
    "agentid = 1000002\n";

static const char cconf[] =
    "[channel.wecom_customer]\n"
    "corpid = ww0000000000000001\n"
    "secret_env = TEST_WC_SECRET\n"
    "sender = zhangsan\n";

static int open_app(void **state)
{
    return fix_setup(state, &chan_wecom, conf, "TEST_WC_SECRET", "wc secret&1");
}

static int open_customer(void **state)
{
    return fix_setup(state, &chan_wecom_customer, cconf, "TEST_WC_SECRET", "wc secret&1");
}

static void test_token(void **state)
{
    fix_chan *fx = *state;
    http_req req = {0};
    cherr e;
    assert_int_equal(fx->c->ops->token_request(fx->c, 0, &req, &e), 0);
    assert_string_equal(req.method, "GET");
    assert_string_equal(req.url, "https://qyapi.weixin.qq.com/cgi-bin/gettoken"
                                 "?corpid=ww0000000000000001&corpsecret=wc%20secret%261");
    http_req_clear(&req);
    char tok[600];
    int64_t ttl;
    static const struct {
        const char *body;
        chan_class cls;
    } rows[] = {
        {"{\"errcode\":40001,\"errmsg\":\"invalid secret\"}", CHAN_PERMANENT},
        {"{\"errcode\":40013,\"errmsg\":\"invalid corpid\"}", CHAN_PERMANENT},
        {"{\"errcode\":40091,\"errmsg\":\"secret invalid\"}", CHAN_PERMANENT},
        {"{\"errcode\":41002,\"errmsg\":\"corpid missing\"}", CHAN_PERMANENT},
        {"{\"errcode\":41004,\"errmsg\":\"corpsecret missing\"}", CHAN_PERMANENT},
        {"{\"errcode\":48002,\"errmsg\":\"api forbidden\"}", CHAN_PERMANENT},
        {"{\"errcode\":60020,\"errmsg\":\"not allow to access from your ip\"}", CHAN_PERMANENT},
        {"{\"errcode\":-1,\"errmsg\":\"busy\"}", CHAN_RETRY},
        {"{\"errcode\":45033,\"errmsg\":\"api concurrent out of limit\"}", CHAN_RETRY},
        {"{\"errcode\":45009,\"errmsg\":\"api freq out of limit\"}", CHAN_BACKOFF},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        chan_outcome o = {0};
        http_resp r = fix_reply(200, rows[i].body);
        assert_int_equal(fx->c->ops->token_parse(fx->c, &r, tok, sizeof tok, &ttl, &o), -1);
        assert_int_equal(o.cls, rows[i].cls);
        assert_null(strstr(o.reason, "wc secret"));
    }
    chan_outcome o = {0};
    http_resp r = fix_reply(200, "{\"errcode\":0,\"errmsg\":\"ok\",\"access_token\":"
                                 "\"accesstoken000001\",\"expires_in\":7200}");
    assert_int_equal(fx->c->ops->token_parse(fx->c, &r, tok, sizeof tok, &ttl, &o), 0);
    assert_string_equal(tok, "accesstoken000001");
    assert_int_equal(ttl, 7200 * TU_SEC);
    /* gettoken has no force_refresh: asking again with force would be the same call */
    assert_false(chan_wecom.token_force);
    assert_false(chan_wecom_customer.token_force);
    assert_int_equal(fx->c->ops->token_request(fx->c, 1, &req, &e), 0);
    assert_string_equal(req.url, "https://qyapi.weixin.qq.com/cgi-bin/gettoken"
                                 "?corpid=ww0000000000000001&corpsecret=wc%20secret%261");
    http_req_clear(&req);
}

static void check_body(fix_chan *fx, render_out *f, const char *want)
{
    chan_msg m = {42, 1, "u1", "zhangwei", f};
    http_req req = {0};
    cherr e;
    if (chan_wecom.build(fx->c, &m, "TOKEN", FIX_NOW, &req, &e) < 0)
        fail_msg("build: %s", e.msg);
    assert_string_equal(req.method, "POST");
    assert_string_equal(req.url, "https://qyapi.weixin.qq.com/cgi-bin/message/send"
                                 "?access_token=TOKEN");
    assert_string_equal(fix_header(&req, "Content-Type"), "application/json");
    assert_string_equal(req.body, want);
    /* every attempt sends the same bytes: the duplicate check makes a resend safe */
    http_req again = {0};
    m.attempt = 2;
    assert_int_equal(chan_wecom.build(fx->c, &m, "TOKEN2", FIX_NOW + 3000, &again, &e), 0);
    assert_string_equal(again.body, req.body);
    http_req_clear(&req);
    http_req_clear(&again);
    render_out_free(f);
}

static void test_build(void **state)
{
    fix_chan *fx = *state;
    render_out f = fix_fields("content", "羊绒围巾还在购物车里等你", NULL);
    check_body(fx, &f,
               "{\"touser\":\"zhangwei\",\"msgtype\":\"text\",\"agentid\":1000002,"
               "\"text\":{\"content\":\"羊绒围巾还在购物车里等你\"},"
               "\"enable_duplicate_check\":1,\"duplicate_check_interval\":1800}");
    f = fix_fields("msgtype", "markdown", "content", "**提醒**", NULL);
    check_body(fx, &f,
               "{\"touser\":\"zhangwei\",\"msgtype\":\"markdown\",\"agentid\":1000002,"
               "\"markdown\":{\"content\":\"**提醒**\"},"
               "\"enable_duplicate_check\":1,\"duplicate_check_interval\":1800}");
    f = fix_fields("msgtype", "textcard", "title", "购物车提醒", "description", "羊绒围巾",
                   "url", "https://shop.example/cart", "btntxt", "去看看", NULL);
    check_body(fx, &f,
               "{\"touser\":\"zhangwei\",\"msgtype\":\"textcard\",\"agentid\":1000002,"
               "\"textcard\":{\"title\":\"购物车提醒\",\"description\":\"羊绒围巾\","
               "\"url\":\"https://shop.example/cart\",\"btntxt\":\"去看看\"},"
               "\"enable_duplicate_check\":1,\"duplicate_check_interval\":1800}");
    f = fix_fields("msgtype", "miniprogram_notice", "appid", "wxmini01", "page",
                   "pages/cart/index", "title", "购物车提醒", "description", "十一月二十三日",
                   "emphasis_first_item", "true", "item.商品", "羊绒围巾", "item.价格", "¥199",
                   NULL);
    check_body(fx, &f,
               "{\"touser\":\"zhangwei\",\"msgtype\":\"miniprogram_notice\",\"agentid\":1000002,"
               "\"miniprogram_notice\":{\"appid\":\"wxmini01\",\"page\":\"pages/cart/index\","
               "\"title\":\"购物车提醒\",\"description\":\"十一月二十三日\","
               "\"emphasis_first_item\":true,\"content_item\":[{\"key\":\"商品\",\"value\":"
               "\"羊绒围巾\"},{\"key\":\"价格\",\"value\":\"¥199\"}]},"
               "\"enable_duplicate_check\":1,\"duplicate_check_interval\":1800}");
    assert_true(chan_wecom.dedup);
}

typedef struct row {
    long errcode;
    chan_class cls;
    int recipient;
    int64_t until;
} row;

static const row app_rows[] = {
    {0, CHAN_OK, 0, 0},
    {-1, CHAN_RETRY, 0, 0},
    {40001, CHAN_PERMANENT, 0, 0},          /* a bad secret on WeCom, not a stale token */
    {40013, CHAN_PERMANENT, 0, 0},
    {40014, CHAN_REFRESH, 0, 0},
    {41001, CHAN_REFRESH, 0, 0},
    {42001, CHAN_REFRESH, 0, 0},
    {40056, CHAN_PERMANENT, 0, 0},
    {40003, CHAN_PERMANENT, 1, 0},
    {46004, CHAN_PERMANENT, 1, 0},
    {60111, CHAN_PERMANENT, 1, 0},
    {44004, CHAN_PERMANENT, 0, 0},
    {45002, CHAN_PERMANENT, 0, 0},
    {45009, CHAN_BACKOFF, 0, FIX_NOW + 60 * TU_SEC},
    {45033, CHAN_RETRY, 0, 0},
    {48002, CHAN_PERMANENT, 0, 0},
    {50002, CHAN_PERMANENT, 1, 0},
    {60020, CHAN_PERMANENT, 0, 0},
    {81013, CHAN_PERMANENT, 1, 0},
    {82001, CHAN_PERMANENT, 0, 0},
    {82002, CHAN_PERMANENT, 0, 0},
    {82003, CHAN_PERMANENT, 0, 0},
    {90201, CHAN_PERMANENT, 0, 0},
    {90202, CHAN_PERMANENT, 0, 0},
    {90203, CHAN_PERMANENT, 0, 0},
    {90204, CHAN_PERMANENT, 0, 0},
    {41063, CHAN_RETRY, 0, 0},
    {40096, CHAN_PERMANENT, 1, 0},
    {41048, CHAN_PERMANENT, 1, 0},
    {41064, CHAN_PERMANENT, 0, 0},
    {41065, CHAN_PERMANENT, 0, 0},
};

static void run_rows(fix_chan *fx, const char *to)
{
    render_out f = fix_fields("content", "x", NULL);
    chan_msg m = {1, 1, "u1", to, &f};
    for (size_t i = 0; i < sizeof app_rows / sizeof app_rows[0]; i++) {
        char body[300];
        snprintf(body, sizeof body, "{\"errcode\":%ld,\"errmsg\":\"e, hint: [123]\","
                 "\"invaliduser\":\"\",\"msgid\":\"MSGID1\"}", app_rows[i].errcode);
        chan_outcome o = fix_parse(fx->c, &m, body, FIX_NOW);
        if (o.cls != app_rows[i].cls || o.recipient != app_rows[i].recipient ||
            (app_rows[i].until && o.until != app_rows[i].until))
            fail_msg("%ld: got %s recipient=%d", app_rows[i].errcode, chan_class_name(o.cls),
                     o.recipient);
        if (!app_rows[i].errcode)
            assert_string_equal(o.provider_id, "MSGID1");
    }
    render_out_free(&f);
}

static void test_app_codes(void **state)
{
    run_rows(*state, "zhangwei");
}

static void test_customer_codes(void **state)
{
    run_rows(*state, "wmF2p1oLfDYkHLib3OPx3akCl1RXiU4S");
}

static void test_invaliduser(void **state)
{
    fix_chan *fx = *state;
    render_out f = fix_fields("content", "x", NULL);
    chan_msg m = {1, 1, "u1", "ZhangWei", &f};
    /* WeCom lists invalid userids lower-cased */
    chan_outcome o = fix_parse(fx->c, &m, "{\"errcode\":0,\"errmsg\":\"ok\",\"invaliduser\":"
                                          "\"lisi|zhangwei\",\"msgid\":\"M\"}", FIX_NOW);
    assert_int_equal(o.cls, CHAN_PERMANENT);
    assert_int_equal(o.recipient, 1);
    assert_string_equal(o.code, "invaliduser");
    o = fix_parse(fx->c, &m, "{\"errcode\":0,\"errmsg\":\"ok\",\"invaliduser\":\"zhangwei2\","
                             "\"unlicenseduser\":\"\",\"msgid\":\"M\"}", FIX_NOW);
    assert_int_equal(o.cls, CHAN_OK);
    o = fix_parse(fx->c, &m, "{\"errcode\":0,\"errmsg\":\"ok\",\"unlicenseduser\":\"zhangwei\"}",
                  FIX_NOW);
    assert_int_equal(o.cls, CHAN_PERMANENT);
    assert_int_equal(o.recipient, 1);
    /* transport */
    memset(&o, 0, sizeof o);
    http_resp r = fix_timeout();
    chan_wecom.parse(fx->c, &m, &r, FIX_NOW, &o);
    assert_int_equal(o.cls, CHAN_RETRY);
    memset(&o, 0, sizeof o);
    r = fix_reply(500, "oops");
    chan_wecom.parse(fx->c, &m, &r, FIX_NOW, &o);
    assert_int_equal(o.cls, CHAN_RETRY);
    memset(&o, 0, sizeof o);
    r = fix_reply(200, "[]");
    chan_wecom.parse(fx->c, &m, &r, FIX_NOW, &o);
    assert_int_equal(o.cls, CHAN_RETRY);
    assert_true(o.uncertain);
    render_out_free(&f);
}

static void test_member_limit(void **state)
{
    fix_chan *fx = *state;
    render_out f = fix_fields("content", "x", NULL);
    chan_msg a = {1, 1, "u1", "zhangwei", &f}, b = {2, 1, "u2", "lisi", &f};
    chan_outcome o;
    /* 30 in the first 29 s go; the 31st waits until the first is a minute old */
    for (int i = 0; i < 30; i++)
        assert_int_equal(chan_wecom.admit(fx->c, &a, FIX_NOW + i * 1000, &o), 1);
    memset(&o, 0, sizeof o);
    assert_int_equal(chan_wecom.admit(fx->c, &a, FIX_NOW + 30000, &o), 0);
    assert_int_equal(o.cls, CHAN_BACKOFF);
    assert_int_equal(o.recipient, 1);
    assert_int_equal(o.until, FIX_NOW + 60000);
    assert_string_equal(o.code, "member_limit");
    /* another member is not affected */
    assert_int_equal(chan_wecom.admit(fx->c, &b, FIX_NOW + 30000, &o), 1);
    /* a minute after the first send there is room for one */
    assert_int_equal(chan_wecom.admit(fx->c, &a, FIX_NOW + 60000, &o), 1);
    assert_int_equal(chan_wecom.admit(fx->c, &a, FIX_NOW + 60500, &o), 0);
    assert_int_equal(o.until, FIX_NOW + 61000);
    render_out_free(&f);
}

static void test_member_hour_limit(void **state)
{
    fix_chan fx;
    setenv("TEST_WC_SECRET", "s", 1);
    assert_int_equal(fix_open(&fx, &chan_wecom, "[channel.wecom]\ncorpid = ww1\nagentid = 1\n"
                                                "secret_env = TEST_WC_SECRET\n"
                                                "member_per_minute = 0\nmember_per_hour = 3\n"), 0);
    render_out f = fix_fields("content", "x", NULL);
    chan_msg a = {1, 1, "u1", "zhangwei", &f};
    chan_outcome o;
    int64_t t0 = FIX_NOW - FIX_NOW % TU_MIN;     /* 10:15:00 */
    assert_int_equal(chan_wecom.admit(fx.c, &a, t0 + 1000, &o), 1);
    assert_int_equal(chan_wecom.admit(fx.c, &a, t0 + 2000, &o), 1);
    assert_int_equal(chan_wecom.admit(fx.c, &a, t0 + 10 * TU_MIN, &o), 1);
    assert_int_equal(chan_wecom.admit(fx.c, &a, t0 + 20 * TU_MIN, &o), 0);
    assert_int_equal(o.until, t0 + 60 * TU_MIN);        /* the 10:15 bucket expires at 11:15 */
    assert_int_equal(chan_wecom.admit(fx.c, &a, t0 + 60 * TU_MIN, &o), 1);
    render_out_free(&f);
    fix_close(&fx);
}

static void test_customer_build(void **state)
{
    fix_chan *fx = *state;
    render_out f = fix_fields("content", "羊绒围巾还在购物车里等你", "link.title", "购物车",
                              "link.url", "https://shop.example/cart", NULL);
    chan_msg m = {42, 1, "u1", "wmF2p1oLfDYkHLib3OPx3akCl1RXiU4S", &f};
    http_req req = {0};
    cherr e;
    assert_int_equal(chan_wecom_customer.build(fx->c, &m, "TOKEN", FIX_NOW, &req, &e), 0);
    assert_string_equal(req.url, "https://qyapi.weixin.qq.com/cgi-bin/externalcontact/"
                                 "add_msg_template?access_token=TOKEN");
    assert_string_equal(req.body,
                        "{\"chat_type\":\"single\",\"external_userid\":"
                        "[\"wmF2p1oLfDYkHLib3OPx3akCl1RXiU4S\"],\"sender\":\"zhangsan\","
                        "\"text\":{\"content\":\"羊绒围巾还在购物车里等你\"},\"attachments\":"
                        "[{\"msgtype\":\"link\",\"link\":{\"title\":\"购物车\","
                        "\"url\":\"https://shop.example/cart\"}}]}");
    http_req_clear(&req);
    render_out_free(&f);
    /* the template may name its own sender */
    f = fix_fields("content", "x", "sender", "lisi", NULL);
    assert_int_equal(chan_wecom_customer.build(fx->c, &m, "TOKEN", FIX_NOW, &req, &e), 0);
    assert_non_null(strstr(req.body, "\"sender\":\"lisi\""));
    http_req_clear(&req);
    render_out_free(&f);
    assert_false(chan_wecom_customer.dedup);     /* a resend would create a second task */
    assert_null(chan_wecom_customer.admit);
}

static void test_fail_list(void **state)
{
    fix_chan *fx = *state;
    render_out f = fix_fields("content", "x", NULL);
    chan_msg m = {1, 1, "u1", "wmCUSTOMER", &f};
    chan_outcome o = fix_parse(fx->c, &m, "{\"errcode\":0,\"errmsg\":\"ok\",\"fail_list\":"
                                          "[\"wmCUSTOMER\"],\"msgid\":\"msgGCAAA\"}", FIX_NOW);
    assert_int_equal(o.cls, CHAN_PERMANENT);
    assert_int_equal(o.recipient, 1);
    assert_string_equal(o.code, "fail_list");
    o = fix_parse(fx->c, &m, "{\"errcode\":0,\"errmsg\":\"ok\",\"fail_list\":[],"
                             "\"msgid\":\"msgGCAAA\"}", FIX_NOW);
    assert_int_equal(o.cls, CHAN_OK);
    assert_string_equal(o.provider_id, "msgGCAAA");
    render_out_free(&f);
}

static void test_config(void **state)
{
    fix_chan fx;
    setenv("TEST_WC_SECRET", "s", 1);
    assert_int_equal(fix_open(&fx, &chan_wecom, "[channel.wecom]\ncorpid = ww1\n"
                                                "secret_env = TEST_WC_SECRET\n"), -1);
    assert_non_null(strstr(fx.e.msg, "agentid is missing"));
    cfg_free(&fx.cfg);
    assert_int_equal(fix_open(&fx, &chan_wecom, "[channel.wecom]\nagentid = 1\n"
                                                "secret_env = TEST_WC_SECRET\n"), -1);
    assert_non_null(strstr(fx.e.msg, "corpid is missing"));
    cfg_free(&fx.cfg);
    assert_int_equal(fix_open(&fx, &chan_wecom, "[channel.wecom]\ncorpid = w\nagentid = 1\n"
                                                "secret_env = TEST_WC_SECRET\n"
                                                "duplicate_check_interval = 99999\n"), -1);
    cfg_free(&fx.cfg);
    assert_int_equal(fix_open(&fx, &chan_wecom_customer, "[channel.wecom_customer]\n"
                                                         "corpid = w\nsecret_env = TEST_WC_SECRET\n"
                                                         "monthly_limit = 40\n"), -1);
    cfg_free(&fx.cfg);
    /* no sender anywhere: a clear build error */
    assert_int_equal(fix_open(&fx, &chan_wecom_customer, "[channel.wecom_customer]\n"
                                                         "corpid = w\nsecret_env = TEST_WC_SECRET\n"),
                     0);
    render_out f = fix_fields("content", "x", NULL);
    chan_msg m = {1, 1, "u1", "wm1", &f};
    http_req req = {0};
    cherr e;
    assert_int_equal(chan_wecom_customer.build(fx.c, &m, "T", FIX_NOW, &req, &e), -1);
    assert_non_null(strstr(e.msg, "no sender"));
    render_out_free(&f);
    fix_close(&fx);
}

static void test_template_check(void **state)
{
    const char *h = "[template]\nclass = lifecycle\n";
    char t[400];
    snprintf(t, sizeof t, "%s[wecom]\ncontent = x\n", h);
    fix_check_tpl(t, NULL);
    snprintf(t, sizeof t, "%s[wecom]\nmsgtype = textcard\ntitle = t\ndescription = d\n", h);
    fix_check_tpl(t, "msgtype textcard needs url");
    snprintf(t, sizeof t, "%s[wecom]\nmsgtype = news\ncontent = x\n", h);
    fix_check_tpl(t, "msgtype 'news' is not");
    snprintf(t, sizeof t, "%s[wecom]\ncontent = x\ncolor = red\n", h);
    fix_check_tpl(t, "t.ini:5: [wecom] unknown key 'color'");
    snprintf(t, sizeof t, "%s[wecom_customer]\nlink.title = t\n", h);
    fix_check_tpl(t, "a link needs link.title and link.url");
    snprintf(t, sizeof t, "%s[wecom_customer]\nsender = a\n", h);
    fix_check_tpl(t, "needs content or an attachment");
    snprintf(t, sizeof t, "%s[wecom_customer]\ncontent = x\n", h);
    fix_check_tpl(t, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_token, open_app, fix_teardown),
        cmocka_unit_test_setup_teardown(test_token, open_customer, fix_teardown),
        cmocka_unit_test_setup_teardown(test_build, open_app, fix_teardown),
        cmocka_unit_test_setup_teardown(test_app_codes, open_app, fix_teardown),
        cmocka_unit_test_setup_teardown(test_customer_codes, open_customer, fix_teardown),
        cmocka_unit_test_setup_teardown(test_invaliduser, open_app, fix_teardown),
        cmocka_unit_test_setup_teardown(test_member_limit, open_app, fix_teardown),
        cmocka_unit_test(test_member_hour_limit),
        cmocka_unit_test_setup_teardown(test_customer_build, open_customer, fix_teardown),
        cmocka_unit_test_setup_teardown(test_fail_list, open_customer, fix_teardown),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_template_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
