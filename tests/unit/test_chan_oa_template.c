/* test_chan_oa_template.c — the official-account template channel (providers.md §3):
 * the exact request for a rendered message (URL, headers, body bytes), client_msg_id
 * stable across attempts, the stable_token request, template checks, and every code
 * of its table and the transport cases classified with the right `until`. */
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

extern const chan_ops chan_oa_template;

#define NEXT_CN_DAY 1795449600000LL     /* 2026-11-24T00:00+08:00 */

static const char conf[] =
    "[channel.oa_template]\n"
    "appid = wxoa0000000000001\n"
    "secret_env = TEST_OA_SECRET\n";

static int setup(void **state)
{
    return fix_setup(state, &chan_oa_template, conf, "TEST_OA_SECRET", "oa-secret-value-123");
}

static void test_build_exact(void **state)
{
    fix_chan *fx = *state;
    render_out f = fix_fields("template_id", "TPL_OA_1", "url", "https://shop.example/cart",
                              "data.thing1", "羊绒围巾", "data.time2", "2026年11月23日 18:00",
                              NULL);
    chan_msg m = {42, 1, "u1", "oX7k0EQhP2erUlgqzX3naCzcF-Jc", &f};
    http_req req = {0};
    cherr e;
    fix_build_json(fx->c, &m, "TOKEN_abc", &req,
                   "https://api.weixin.qq.com/cgi-bin/message/template/send?access_token=TOKEN_abc",
                   "{\"touser\":\"oX7k0EQhP2erUlgqzX3naCzcF-Jc\",\"template_id\":\"TPL_OA_1\","
                   "\"url\":\"https://shop.example/cart\",\"client_msg_id\":\"chuda-42\","
                   "\"data\":{\"thing1\":{\"value\":\"羊绒围巾\"},"
                   "\"time2\":{\"value\":\"2026年11月23日 18:00\"}}}");
    /* the retry sends the same client_msg_id: the provider drops the duplicate */
    http_req again = {0};
    chan_msg m2 = m;
    m2.attempt = 2;
    assert_int_equal(chan_oa_template.build(fx->c, &m2, "TOKEN_new", FIX_NOW + 5000, &again, &e),
                     0);
    assert_string_equal(again.body, req.body);
    assert_true(chan_oa_template.dedup);
    http_req_clear(&req);
    http_req_clear(&again);
    render_out_free(&f);
}

static void test_build_miniprogram(void **state)
{
    fix_chan *fx = *state;
    render_out f = fix_fields("template_id", "T2", "miniprogram.appid", "wxmini01",
                              "miniprogram.pagepath", "pages/cart/index?from=oa",
                              "data.keyword1", "x", NULL);
    chan_msg m = {7, 1, "u1", "oOPENID", &f};
    http_req req = {0};
    cherr e;
    assert_int_equal(chan_oa_template.build(fx->c, &m, "T", FIX_NOW, &req, &e), 0);
    assert_string_equal(req.body,
                        "{\"touser\":\"oOPENID\",\"template_id\":\"T2\",\"miniprogram\":"
                        "{\"appid\":\"wxmini01\",\"pagepath\":\"pages/cart/index?from=oa\"},"
                        "\"client_msg_id\":\"chuda-7\",\"data\":{\"keyword1\":{\"value\":\"x\"}}}");
    http_req_clear(&req);
    render_out_free(&f);
}

static void test_token_request(void **state)
{
    fix_chan *fx = *state;
    http_req req = {0};
    cherr e;
    assert_int_equal(chan_oa_template.token_request(fx->c, 0, &req, &e), 0);
    assert_string_equal(req.url, "https://api.weixin.qq.com/cgi-bin/stable_token");
    assert_string_equal(req.body, "{\"grant_type\":\"client_credential\",\"appid\":"
                                  "\"wxoa0000000000001\",\"secret\":\"oa-secret-value-123\","
                                  "\"force_refresh\":false}");
    http_req_clear(&req);
    /* a wrong AppSecret on the token call is configuration, not a stale token */
    char tok[600];
    int64_t ttl;
    chan_outcome o = {0};
    http_resp r = fix_reply(200, "{\"errcode\":40001,\"errmsg\":\"invalid credential\"}");
    assert_int_equal(chan_oa_template.token_parse(fx->c, &r, tok, sizeof tok, &ttl, &o), -1);
    assert_int_equal(o.cls, CHAN_PERMANENT);
    r = fix_reply(200, "{\"access_token\":\"ACCESS\",\"expires_in\":7000}");
    assert_int_equal(chan_oa_template.token_parse(fx->c, &r, tok, sizeof tok, &ttl, &o), 0);
    assert_string_equal(tok, "ACCESS");
    assert_int_equal(ttl, 7000 * TU_SEC);
}

static void test_codes(void **state)
{
    fix_chan *fx = *state;
    render_out f = fix_fields("template_id", "T", "data.k", "v", NULL);
    chan_msg m = {1, 1, "u1", "oOPENID", &f};
    static const fix_code rows[] = {
        {0, CHAN_OK, 0, 0},
        {43004, CHAN_REFUSED, 1, 0},
        {40003, CHAN_PERMANENT, 1, 0},
        {40036, CHAN_PERMANENT, 0, 0},
        {40037, CHAN_PERMANENT, 0, 0},
        {43116, CHAN_PERMANENT, 0, 0},
        {43117, CHAN_BACKOFF, 1, FIX_NOW + 60 * TU_SEC},
        {45065, CHAN_OK, 0, 0},
        {47001, CHAN_PERMANENT, 0, 0},
        {48001, CHAN_PERMANENT, 0, 0},
        {45009, CHAN_BACKOFF, 0, NEXT_CN_DAY},
        {-1, CHAN_RETRY, 0, 0},
        {40001, CHAN_REFRESH, 0, 0},
        {40014, CHAN_REFRESH, 0, 0},
        {41001, CHAN_REFRESH, 0, 0},
        {42001, CHAN_REFRESH, 0, 0},
        {99999, CHAN_PERMANENT, 0, 0},
    };
    fix_check_codes(fx->c, &m, rows, sizeof rows / sizeof rows[0], "200228332");
    render_out_free(&f);
}

static void test_transport(void **state)
{
    fix_chan *fx = *state;
    render_out f = fix_fields("template_id", "T", "data.k", "v", NULL);
    chan_msg m = {1, 1, "u1", "oOPENID", &f};
    fix_check_transport(fx->c, &m);    /* a resend after a timeout is safe: client_msg_id */
    render_out_free(&f);
}

static void test_template_check(void **state)
{
    fix_check_tpl("[template]\nclass = lifecycle\n[oa_template]\ntemplate_id = T\ndata.k = v\n",
              NULL);
    fix_check_tpl("[template]\nclass = lifecycle\n[oa_template]\ndata.k = v\n",
              "template_id is missing");
    fix_check_tpl("[template]\nclass = lifecycle\n[oa_template]\ntemplate_id = T\n",
              "no data.KEY lines");
    fix_check_tpl("[template]\nclass = lifecycle\n[oa_template]\ntemplate_id = T\ndata.k = v\n"
              "page = x\n", "t.ini:6: [oa_template] unknown key 'page'");
    fix_check_tpl("[template]\nclass = lifecycle\n[oa_template]\ntemplate_id = T\ndata.k = v\n"
              "miniprogram.pagepath = p\n", "needs miniprogram.appid");
    fix_check_tpl("[template]\nclass = lifecycle\n[oa_template]\ntemplate_id = T\ndata.k = v\n"
              "[oa_template.tier.dormant]\ndata.k = w\n", NULL);
}

static void test_config(void **state)
{
    fix_chan fx;
    assert_int_equal(fix_open(&fx, &chan_oa_template, "[channel.oa_template]\n"
                                                      "secret_env = TEST_OA_SECRET\n"), -1);
    assert_non_null(strstr(fx.e.msg, "appid is missing"));
    cfg_free(&fx.cfg);
    unsetenv("TEST_OA_UNSET");
    assert_int_equal(fix_open(&fx, &chan_oa_template, "[channel.oa_template]\nappid = wx1\n"
                                                      "secret_env = TEST_OA_UNSET\n"), -1);
    assert_non_null(strstr(fx.e.msg, "TEST_OA_UNSET is not set"));
    cfg_free(&fx.cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_build_exact, setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_build_miniprogram, setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_token_request, setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_codes, setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_transport, setup, fix_teardown),
        cmocka_unit_test(test_template_check),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
