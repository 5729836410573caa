/* test_chan_wecom_robot.c — the WeCom group robot webhook (providers.md §4.4): the exact
 * request for each msgtype, the 20-per-minute default bucket, every code (token codes
 * are permanent here: the webhook has no token), the configurable 45009 pause, and that
 * the key (it is in the URL) never appears in a reason, whatever the server or curl said. */
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

extern const chan_ops chan_wecom_robot;

#define KEY "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"

static int setup(void **state)
{
    setenv("TEST_ROBOT_KEY", KEY, 1);
    fix_chan *fx = calloc(1, sizeof *fx);
    if (fix_open(fx, &chan_wecom_robot, "[channel.wecom_robot]\nkey_env = TEST_ROBOT_KEY\n") < 0) {
        fprintf(stderr, "open: %s\n", fx->e.msg);
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static void check_body(fix_chan *fx, render_out *f, const char *want)
{
    chan_msg m = {5, 1, "u1001", "u1001", f};
    http_req req = {0};
    cherr e;
    if (chan_wecom_robot.build(fx->c, &m, NULL, FIX_NOW, &req, &e) < 0)
        fail_msg("build: %s", e.msg);
    assert_string_equal(req.method, "POST");
    assert_string_equal(req.url, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" KEY);
    assert_string_equal(fix_header(&req, "Content-Type"), "application/json");
    assert_int_equal(fix_nheaders(&req), 1);
    assert_string_equal(req.body, want);
    http_req_clear(&req);
    render_out_free(f);
}

static void test_build(void **state)
{
    fix_chan *fx = *state;
    render_out f = fix_fields("content", "今晚八点直播", "mentioned_list", "wangqing, @all",
                              "mentioned_mobile_list", "13800001111", NULL);
    check_body(fx, &f, "{\"msgtype\":\"text\",\"text\":{\"content\":\"今晚八点直播\","
                       "\"mentioned_list\":[\"wangqing\",\"@all\"],"
                       "\"mentioned_mobile_list\":[\"13800001111\"]}}");
    f = fix_fields("msgtype", "markdown", "content", "# 周报\n> 新增 **3**", NULL);
    check_body(fx, &f, "{\"msgtype\":\"markdown\",\"markdown\":{\"content\":"
                       "\"# 周报\\n> 新增 **3**\"}}");
    f = fix_fields("msgtype", "news", "title", "上新", "url", "https://shop.example/new",
                   "picurl", "https://shop.example/p.png", NULL);
    check_body(fx, &f, "{\"msgtype\":\"news\",\"news\":{\"articles\":[{\"title\":\"上新\","
                       "\"url\":\"https://shop.example/new\",\"picurl\":"
                       "\"https://shop.example/p.png\"}]}}");
}

/* 20 per minute per robot: at most burst + rate * 60 in any minute */
static void test_default_rate(void **state)
{
    fix_chan *fx = *state;
    assert_true(fx->c->burst + fx->c->rate * 60 <= 20.0 + 1e-9);
    assert_true(fx->c->rate > 0);
    int sent = 0;
    int64_t wait;
    fx->c->bucket_at = FIX_NOW;
    for (int64_t t = FIX_NOW; t < FIX_NOW + 60000; t += 100)
        sent += chan_rate_take(fx->c, t, &wait);
    assert_true(sent <= 20);
    assert_true(sent >= 19);
    fix_chan other;
    assert_int_equal(fix_open(&other, &chan_wecom_robot, "[channel.wecom_robot]\n"
                                                         "key_env = TEST_ROBOT_KEY\nrate = 5\n"), 0);
    assert_true(other.c->rate == 5.0);
    fix_close(&other);
}

static void test_codes(void **state)
{
    fix_chan *fx = *state;
    render_out f = fix_fields("content", "x", NULL);
    chan_msg m = {5, 1, "u1001", "u1001", &f};
    static const struct {
        long errcode;
        chan_class cls;
        int64_t until;
    } rows[] = {
        {0, CHAN_OK, 0},
        {-1, CHAN_RETRY, 0},
        {45009, CHAN_BACKOFF, FIX_NOW + 60 * TU_SEC},
        {93000, CHAN_PERMANENT, 0},
        /* no token to refresh: WeChat's shared "refresh" rows must not apply */
        {40001, CHAN_PERMANENT, 0},
        {40014, CHAN_PERMANENT, 0},
        {41001, CHAN_PERMANENT, 0},
        {42001, CHAN_PERMANENT, 0},
        {48001, CHAN_PERMANENT, 0},
        {40008, CHAN_PERMANENT, 0},
        {44004, CHAN_PERMANENT, 0},
        {45002, CHAN_PERMANENT, 0},
        {12345, CHAN_PERMANENT, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char body[300];
        /* a server that echoes the webhook URL must not get the key into our log */
        snprintf(body, sizeof body, "{\"errcode\":%ld,\"errmsg\":\"invalid webhook url "
                 "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" KEY "\"}",
                 rows[i].errcode);
        chan_outcome o = fix_parse(fx->c, &m, body, FIX_NOW);
        assert_int_equal(o.cls, rows[i].cls);
        assert_int_equal(o.recipient, 0);
        if (rows[i].until)
            assert_int_equal(o.until, rows[i].until);
        assert_null(strstr(o.reason, KEY));
    }
    chan_outcome o = {0};
    http_resp r = fix_timeout();
    r.error = "Failed to connect to qyapi.weixin.qq.com: /cgi-bin/webhook/send?key=" KEY;
    chan_wecom_robot.parse(fx->c, &m, &r, FIX_NOW, &o);
    assert_int_equal(o.cls, CHAN_RETRY);
    assert_true(o.uncertain);
    assert_false(chan_wecom_robot.dedup);
    assert_null(strstr(o.reason, KEY));
    assert_non_null(strstr(o.reason, "key=***"));
    memset(&o, 0, sizeof o);
    r = fix_reply(502, "x");
    chan_wecom_robot.parse(fx->c, &m, &r, FIX_NOW, &o);
    assert_int_equal(o.cls, CHAN_RETRY);
    render_out_free(&f);
}

/* providers.md §4.4 marks the penalty after 45009 [C/U]: limit_pause says how long */
static void test_limit_pause(void **state)
{
    setenv("TEST_ROBOT_KEY", KEY, 1);
    fix_chan fx;
    assert_int_equal(fix_open(&fx, &chan_wecom_robot, "[channel.wecom_robot]\n"
                                                      "key_env = TEST_ROBOT_KEY\n"
                                                      "limit_pause = 10m\n"), 0);
    render_out f = fix_fields("content", "x", NULL);
    chan_msg m = {5, 1, "u1001", "u1001", &f};
    chan_outcome o = fix_parse(fx.c, &m, "{\"errcode\":45009,\"errmsg\":\"api freq out of "
                                         "limit\"}", FIX_NOW);
    assert_int_equal(o.cls, CHAN_BACKOFF);
    assert_int_equal(o.recipient, 0);
    assert_int_equal(o.until, FIX_NOW + 10 * TU_MIN);
    fix_close(&fx);
    assert_int_equal(fix_open(&fx, &chan_wecom_robot, "[channel.wecom_robot]\n"
                                                      "key_env = TEST_ROBOT_KEY\n"
                                                      "limit_pause = soon\n"), -1);
    assert_non_null(strstr(fx.e.msg, "limit_pause"));
    cfg_free(&fx.cfg);
    render_out_free(&f);
}

static void test_config(void **state)
{
    fix_chan fx;
    assert_int_equal(fix_open(&fx, &chan_wecom_robot, "[channel.wecom_robot]\n"), -1);
    assert_non_null(strstr(fx.e.msg, "no key_env or key_file"));
    cfg_free(&fx.cfg);
    unsetenv("TEST_ROBOT_NOPE");
    assert_int_equal(fix_open(&fx, &chan_wecom_robot, "[channel.wecom_robot]\n"
                                                      "key_env = TEST_ROBOT_NOPE\n"), -1);
    assert_null(strstr(fx.e.msg, KEY));
    cfg_free(&fx.cfg);
}

static void test_template_check(void **state)
{
    fix_check_tpl("[template]\nclass = marketing\n[wecom_robot]\ncontent = x\n", NULL);
    fix_check_tpl("[template]\nclass = marketing\n[wecom_robot]\nmsgtype = news\ntitle = t\n",
              "needs title and url");
    fix_check_tpl("[template]\nclass = marketing\n[wecom_robot]\nmsgtype = image\n",
              "msgtype 'image' is not");
    fix_check_tpl("[template]\nclass = marketing\n[wecom_robot]\nmsgtype = markdown\n",
              "needs content");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_build, setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_default_rate, setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_codes, setup, fix_teardown),
        cmocka_unit_test(test_limit_pause),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_template_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
