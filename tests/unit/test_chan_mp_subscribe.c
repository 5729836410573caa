/* test_chan_mp_subscribe.c — the mini-program subscription channel (providers.md §2): the
 * exact request, the stable_token request (force_refresh as asked, the channel honours
 * it), every code of §2.1 one by one with its class, recipient flag and window, the
 * token endpoint's own table (wx_token_codes, all twelve rows, §1.1), the transport
 * cases, and the channel's config (credits, force_refresh_daily). */
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
#include "wechat.h"

extern const chan_ops chan_mp_subscribe;

#define NEXT_CN_DAY 1795449600000LL     /* 2026-11-24T00:00+08:00 */
#define SECRET "mp-secret-value-456"

static const char conf[] =
    "[channel.mp_subscribe]\n"
    "appid = wxmp0000000000001\n"
    "secret_env = TEST_MP_SECRET\n";

static int setup(void **state)
{
    return fix_setup(state, &chan_mp_subscribe, conf, "TEST_MP_SECRET", SECRET);
}

static void test_build_exact(void **state)
{
    fix_chan *fx = *state;
    render_out f = fix_fields("template_id", "TPL_CART_1", "page", "pages/cart/index",
                              "data.thing1", "羊绒围巾", "data.time2", "11月23日 18:00", NULL);
    chan_msg m = {42, 1, "u1", "oU1xxxxxxxxxxxxxxxxxxxxxxxxx", &f};
    http_req req = {0};
    fix_build_json(fx->c, &m, "TOKEN_abc", &req,
                   "https://api.weixin.qq.com/cgi-bin/message/subscribe/send"
                   "?access_token=TOKEN_abc",
                   "{\"touser\":\"oU1xxxxxxxxxxxxxxxxxxxxxxxxx\",\"template_id\":"
                   "\"TPL_CART_1\",\"page\":\"pages/cart/index\",\"data\":{\"thing1\":"
                   "{\"value\":\"羊绒围巾\"},\"time2\":{\"value\":\"11月23日 18:00\"}},"
                   "\"miniprogram_state\":\"formal\",\"lang\":\"zh_CN\"}");
    assert_false(chan_mp_subscribe.dedup);      /* no dedup key: a lost reply is uncertain */
    assert_true(chan_mp_subscribe.credits);
    http_req_clear(&req);
    render_out_free(&f);
}

/* Values that must be escaped, and ones that must not be: the exact bytes sent; a value
 * that is not UTF-8 is an error, never a body without it */
static void test_build_hostile(void **state)
{
    fix_chan *fx = *state;
    render_out f = fix_fields("template_id", "T\"1", "page", "pages/a?x=1&y=\"2\"",
                              "data.thing1", "引号\"和\\反斜杠", "data.k\"ey", "行1\n行2\t\x01\x1f",
                              "data.emoji", "😀👍🏻\xe2\x80\xa8</script>", "data.empty", "", NULL);
    chan_msg m = {42, 1, "u1", "o\\U1", &f};
    http_req req = {0};
    cherr e;
    assert_int_equal(chan_mp_subscribe.build(fx->c, &m, "TOK", FIX_NOW, &req, &e), 0);
    assert_string_equal(req.body,
                        "{\"touser\":\"o\\\\U1\",\"template_id\":\"T\\\"1\",\"page\":"
                        "\"pages/a?x=1&y=\\\"2\\\"\",\"data\":{\"thing1\":{\"value\":"
                        "\"引号\\\"和\\\\反斜杠\"},\"k\\\"ey\":{\"value\":\"行1\\n行2\\t"
                        "\\u0001\\u001F\"},\"emoji\":{\"value\":\"😀👍🏻\xe2\x80\xa8</script>\"},"
                        "\"empty\":{\"value\":\"\"}},\"miniprogram_state\":\"formal\","
                        "\"lang\":\"zh_CN\"}");
    assert_int_equal(req.body_len, strlen(req.body));
    http_req_clear(&req);
    render_out_free(&f);

    f = fix_fields("template_id", "T1", "data.thing1", "ok\xff", NULL);
    assert_int_equal(chan_mp_subscribe.build(fx->c, &m, "TOK", FIX_NOW, &req, &e), -1);
    assert_string_equal(e.msg, "a template value is not valid UTF-8");
    http_req_clear(&req);
    render_out_free(&f);
    f = fix_fields("template_id", "T1", "data.thing1", "v", NULL);
    m.to = "o\xc0\xaf";
    assert_int_equal(chan_mp_subscribe.build(fx->c, &m, "TOK", FIX_NOW, &req, &e), -1);
    assert_string_equal(e.msg, "a template value is not valid UTF-8");
    http_req_clear(&req);
    render_out_free(&f);
}

static void test_token_request(void **state)
{
    fix_chan *fx = *state;
    assert_true(chan_mp_subscribe.token_force);
    for (int force = 0; force <= 1; force++) {
        http_req req = {0};
        cherr e;
        char want[200];
        assert_int_equal(chan_mp_subscribe.token_request(fx->c, force, &req, &e), 0);
        assert_string_equal(req.method, "POST");
        assert_string_equal(req.url, "https://api.weixin.qq.com/cgi-bin/stable_token");
        snprintf(want, sizeof want, "{\"grant_type\":\"client_credential\",\"appid\":"
                 "\"wxmp0000000000001\",\"secret\":\"" SECRET "\",\"force_refresh\":%s}",
                 force ? "true" : "false");
        assert_string_equal(req.body, want);
        assert_null(strstr(req.url, SECRET));       /* the secret is only in the body */
        http_req_clear(&req);
    }
}

/* §2.1's table, the codes every WeChat business API shares, and one nobody documented */
static void test_codes(void **state)
{
    fix_chan *fx = *state;
    render_out f = fix_fields("template_id", "T", "data.thing1", "v", NULL);
    chan_msg m = {1, 1, "u1", "oOPENID", &f};
    static const fix_code rows[] = {
        {0, CHAN_OK, 0, 0},
        {40003, CHAN_PERMANENT, 1, 0},      /* openid of another app: next channel */
        {40037, CHAN_PERMANENT, 0, 0},
        {41030, CHAN_PERMANENT, 0, 0},
        {43101, CHAN_REFUSED, 1, 0},        /* no credit left / unsubscribed */
        {43108, CHAN_RETRY, 1, 0},          /* concurrent call to the same openid */
        {45009, CHAN_BACKOFF, 0, NEXT_CN_DAY},
        {47003, CHAN_PERMANENT, 0, 0},
        {45168, CHAN_PERMANENT, 0, 0},
        {-1, CHAN_RETRY, 0, 0},
        {40001, CHAN_REFRESH, 0, 0},        /* on a business call: the token is stale */
        {40014, CHAN_REFRESH, 0, 0},
        {41001, CHAN_REFRESH, 0, 0},
        {42001, CHAN_REFRESH, 0, 0},
        {48001, CHAN_PERMANENT, 0, 0},
        {99999, CHAN_PERMANENT, 0, 0},
    };
    fix_check_codes(fx->c, &m, rows, sizeof rows / sizeof rows[0], "1988810812324364291");
    fix_check_transport(fx->c, &m);
    render_out_free(&f);
}

/* wx_token_codes, the token endpoint's table (§1.1, §9 "WeChat token"), all rows: on the
 * token call 40001 is a wrong AppSecret, not a stale token */
static void test_token_codes(void **state)
{
    fix_chan *fx = *state;
    static const fix_code rows[] = {
        {-1, CHAN_RETRY, 0, 0},
        {40001, CHAN_PERMANENT, 0, 0},
        {40002, CHAN_PERMANENT, 0, 0},
        {40013, CHAN_PERMANENT, 0, 0},
        {40125, CHAN_PERMANENT, 0, 0},
        {40164, CHAN_PERMANENT, 0, 0},
        {40243, CHAN_PERMANENT, 0, 0},
        {41004, CHAN_PERMANENT, 0, 0},
        {50004, CHAN_PERMANENT, 0, 0},
        {50007, CHAN_PERMANENT, 0, 0},
        {45009, CHAN_BACKOFF, 0, 0},        /* the next China day (from the real clock) */
        {45011, CHAN_BACKOFF, 0, 60 * TU_SEC},
    };
    size_t n = 0;
    while (wx_token_codes[n].meaning)
        n++;
    assert_int_equal(n, sizeof rows / sizeof rows[0]);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(wx_token_codes[i].errcode, rows[i].errcode);
        char body[120], tok[600];
        int64_t ttl = 0;
        snprintf(body, sizeof body, "{\"errcode\":%ld,\"errmsg\":\"e\"}", rows[i].errcode);
        chan_outcome o = {0};
        http_resp r = fix_reply(200, body);
        int64_t before = tu_now();
        assert_int_equal(chan_mp_subscribe.token_parse(fx->c, &r, tok, sizeof tok, &ttl, &o), -1);
        if (o.cls != rows[i].cls)
            fail_msg("token %ld: got %s", rows[i].errcode, chan_class_name(o.cls));
        if (rows[i].errcode == 45009)
            assert_int_equal(o.until, wx_next_day(before));
        else if (rows[i].until)
            assert_true(o.until >= before + rows[i].until && o.until <= tu_now() + rows[i].until);
        assert_null(strstr(o.reason, SECRET));
    }
    char tok[600];
    int64_t ttl;
    chan_outcome o = {0};
    http_resp r = fix_reply(200, "{\"access_token\":\"ACCESS_1\",\"expires_in\":300}");
    assert_int_equal(chan_mp_subscribe.token_parse(fx->c, &r, tok, sizeof tok, &ttl, &o), 0);
    assert_string_equal(tok, "ACCESS_1");
    assert_int_equal(ttl, 300 * TU_SEC);
    r = fix_reply(200, "{\"expires_in\":300}");
    assert_int_equal(chan_mp_subscribe.token_parse(fx->c, &r, tok, sizeof tok, &ttl, &o), -1);
    assert_int_equal(o.cls, CHAN_RETRY);
    /* a token that would change the send's URL: refused, not pasted in */
    const char *bad[] = {"AB&openid=x", "AB#frag", "AB CD", "A%41", "\u4e2d"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[120];
        snprintf(body, sizeof body, "{\"access_token\":\"%s\",\"expires_in\":300}", bad[i]);
        r = fix_reply(200, body);
        strcpy(tok, "unchanged");
        assert_int_equal(chan_mp_subscribe.token_parse(fx->c, &r, tok, sizeof tok, &ttl, &o), -1);
        assert_int_equal(o.cls, CHAN_RETRY);
        assert_non_null(strstr(o.reason, "URL"));
        assert_string_equal(tok, "unchanged");
    }
    r = fix_reply(200, "{\"access_token\":\"a-b_c.d~9\",\"expires_in\":300}");
    assert_int_equal(chan_mp_subscribe.token_parse(fx->c, &r, tok, sizeof tok, &ttl, &o), 0);
    assert_string_equal(tok, "a-b_c.d~9");
}

static void test_config(void **state)
{
    fix_chan *fx = *state;
    assert_int_equal(fx->c->force_daily, 20);       /* providers.md §1.2 */
    assert_true(fx->c->credits);
    fix_chan other;
    assert_int_equal(fix_open(&other, &chan_mp_subscribe,
                              "[channel.mp_subscribe]\nappid = wxmp1\nsecret_env = TEST_MP_SECRET\n"
                              "force_refresh_daily = 3\ncredits = off\n"
                              "miniprogram_state = trial\n"), 0);
    assert_int_equal(other.c->force_daily, 3);
    assert_false(other.c->credits);
    fix_close(&other);
    assert_int_equal(fix_open(&other, &chan_mp_subscribe,
                              "[channel.mp_subscribe]\nappid = wxmp1\nsecret_env = TEST_MP_SECRET\n"
                              "miniprogram_state = beta\n"), -1);
    assert_non_null(strstr(other.e.msg, "miniprogram_state"));
    cfg_free(&other.cfg);
    assert_int_equal(fix_open(&other, &chan_mp_subscribe,
                              "[channel.mp_subscribe]\nsecret_env = TEST_MP_SECRET\n"), -1);
    assert_non_null(strstr(other.e.msg, "appid is missing"));
    cfg_free(&other.cfg);
}

static void test_template_check(void **state)
{
    fix_check_tpl("[template]\nclass = lifecycle\n[mp_subscribe]\ntemplate_id = T\n"
                  "data.thing1 = x\n", NULL);
    fix_check_tpl("[template]\nclass = lifecycle\n[mp_subscribe]\ndata.thing1 = x\n",
                  "template_id is missing");
    fix_check_tpl("[template]\nclass = lifecycle\n[mp_subscribe]\ntemplate_id = T\n",
                  "no data.KEY lines");
    fix_check_tpl("[template]\nclass = lifecycle\n[mp_subscribe]\ntemplate_id = T\n"
                  "data.thing1 = x\nurl = y\n", "unknown key 'url'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_build_exact, setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_build_hostile, setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_token_request, setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_codes, setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_token_codes, setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_config, setup, fix_teardown),
        cmocka_unit_test(test_template_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
