/* test_callback.c — provider pushes to events: Tencent status and reply callbacks,
 * Aliyun SmsReport, WeChat subscription events (List as object and as array, in a
 * wrapper or at the top, CreateTime as number and string), TEMPLATESENDJOBFINISH,
 * the XML form (when built with expat), the replies each provider expects, and hostile
 * bodies that must fail naming the field and leave nothing behind.
 * Fixtures: tests/data/callbacks/ (run from the top of the tree, as tests/run does). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "callback.h"

#define FIXTURES "tests/data/callbacks/"
#define T_2026_11_23_0200Z 1795399200000LL

static char *slurp(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof path, FIXTURES "%s", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    char *s = malloc(CB_MAX_BODY + 1);
    *len = fread(s, 1, CB_MAX_BODY, f);
    fclose(f);
    s[*len] = '\0';
    return s;
}

/* Parse a fixture file; fail the test on error. */
static void parse_file(cb_provider p, const char *name, cb_list *l)
{
    size_t len;
    char *body = slurp(name, &len);
    cherr e = {{0}};
    memset(l, 0, sizeof *l);
    if (cb_parse(p, body, len, l, &e) < 0)
        fail_msg("%s: %s", name, e.msg);
    free(body);
}

static void parse_str(cb_provider p, const char *body, cb_list *l)
{
    cherr e = {{0}};
    memset(l, 0, sizeof *l);
    if (cb_parse(p, body, strlen(body), l, &e) < 0)
        fail_msg("%s: %s", body, e.msg);
}

/* Must fail with `want` in the message, appending nothing to a list that holds one event. */
static void parse_bad_n(cb_provider p, const char *body, size_t len, const char *want)
{
    cb_list l = {0};
    cherr e = {{0}};
    parse_str(CB_WECHAT, "{\"FromUserName\":\"oX\",\"Event\":\"TEMPLATESENDJOBFINISH\","
                         "\"MsgID\":1,\"Status\":\"success\"}", &l);
    assert_int_equal(l.n, 1);
    if (cb_parse(p, body, len, &l, &e) == 0)
        fail_msg("accepted: %.200s", body);
    if (!strstr(e.msg, want))
        fail_msg("%.200s: message \"%s\" lacks \"%s\"", body, e.msg, want);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.items, 1);
    cb_list_free(&l);
}

static void parse_bad(cb_provider p, const char *body, const char *want)
{
    parse_bad_n(p, body, strlen(body), want);
}

static void eq(const char *want, const char *got)
{
    if (!want) {
        if (got)
            fail_msg("expected NULL, got \"%s\"", got);
        return;
    }
    if (!got)
        fail_msg("expected \"%s\", got NULL", want);
    assert_string_equal(want, got);
}

/* ---- Tencent ---------------------------------------------------------------------------- */

static void test_tencent_status(void **state)
{
    (void)state;
    cb_list l;
    parse_file(CB_TENCENT_STATUS, "tencent_status_batch.json", &l);
    assert_int_equal(l.items, 3);
    assert_int_equal(l.n, 4);                           /* the blacklisted one opts out too */
    assert_int_equal(l.v[0].kind, CB_DELIVERED);
    eq("sms", l.v[0].channel);
    eq("2019:6789123456789012345", l.v[0].provider_msg_id);
    eq("+8613800000001", l.v[0].phone);
    eq("DELIVRD", l.v[0].code);
    eq("用户短信送达成功", l.v[0].text);
    assert_int_equal(l.v[0].at_ms, T_2026_11_23_0200Z + 5000);   /* 10:00:05 China time */
    eq(NULL, l.v[0].openid);
    assert_int_equal(l.v[1].kind, CB_FAILED);
    eq("MK:0005", l.v[1].code);
    eq("+8613800000002", l.v[1].phone);
    assert_int_equal(l.v[2].kind, CB_FAILED);
    eq("+85261234567", l.v[2].phone);
    eq("DB:0141", l.v[2].code);
    assert_int_equal(l.v[3].kind, CB_OPTOUT);
    eq("+85261234567", l.v[3].phone);
    eq("2019:6789123456789012347", l.v[3].provider_msg_id);
    assert_int_equal(l.v[3].at_ms, T_2026_11_23_0200Z + 60000);
    cb_list_free(&l);

    parse_file(CB_TENCENT_STATUS, "tencent_status_one.json", &l);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.v[0].kind, CB_DELIVERED);
    eq(NULL, l.v[0].ref);
    cb_list_free(&l);

    /* a SessionContext, when there is one, is what chuda sent: its message id */
    parse_str(CB_TENCENT_STATUS, "[{\"report_status\":\"SUCCESS\",\"sid\":\"s1\",\"mobile\":"
                                 "\"13800000001\",\"SessionContext\":\"42\"}]", &l);
    eq("42", l.v[0].ref);
    cb_list_free(&l);

    /* an empty batch is fine */
    parse_str(CB_TENCENT_STATUS, "[]", &l);
    assert_int_equal(l.n, 0);
    cb_list_free(&l);

    /* the documentation's placeholder number is refused, naming the item and field */
    size_t len;
    char *doc = slurp("tencent_status_doc_placeholder.json", &len);
    parse_bad_n(CB_TENCENT_STATUS, doc, len, "[0].mobile: expected a phone number");
    free(doc);
}

static void test_tencent_reply(void **state)
{
    (void)state;
    static const struct { const char *file, *phone; int64_t at; } optout[] = {
        {"tencent_reply_td.json", "+8613800000001", T_2026_11_23_0200Z},
        {"tencent_reply_unsubscribe_cn.json", "+8613800000003", T_2026_11_23_0200Z + 60000},
        {"tencent_reply_fullwidth.json", "+8613800000004", T_2026_11_23_0200Z + 120000},
    };
    for (size_t i = 0; i < sizeof optout / sizeof optout[0]; i++) {
        cb_list l;
        parse_file(CB_TENCENT_REPLY, optout[i].file, &l);
        assert_int_equal(l.items, 1);
        assert_int_equal(l.n, 1);
        assert_int_equal(l.v[0].kind, CB_OPTOUT);
        eq("sms", l.v[0].channel);
        eq(optout[i].phone, l.v[0].phone);
        eq("触达商城", l.v[0].account);
        eq("reply", l.v[0].code);
        assert_int_equal(l.v[0].at_ms, optout[i].at);
        cb_list_free(&l);
    }
    cb_list l;
    parse_file(CB_TENCENT_REPLY, "tencent_reply_other.json", &l);
    assert_int_equal(l.items, 1);                       /* parsed ... */
    assert_int_equal(l.n, 0);                           /* ... but no opt-out */
    cb_list_free(&l);

    static const char *const stop[] = {"TD", "td", "t", "N", " n\n", "R", "r\t", "退订",
                                       " 退订 ", "ＴＤ", "ｔｄ", "　退订　"};
    static const char *const keep[] = {"", "TDD", "T D", "好", "退订了", "RR", "NO",
                                       "ＴＤ２", "请退订", "STOP"};
    for (size_t i = 0; i < sizeof stop / sizeof stop[0] + sizeof keep / sizeof keep[0]; i++) {
        int is_stop = i < sizeof stop / sizeof stop[0];
        const char *t = is_stop ? stop[i] : keep[i - sizeof stop / sizeof stop[0]];
        char body[256];
        snprintf(body, sizeof body, "{\"mobile\":\"13800000001\",\"nationcode\":\"86\","
                 "\"text\":\"%s\",\"time\":1}", t);
        for (char *p = body; *p; p++)                   /* JSON-escape \n and \t */
            if (*p == '\n' || *p == '\t') {
                memmove(p + 2, p + 1, strlen(p + 1) + 1);
                p[1] = *p == '\n' ? 'n' : 't';
                *p++ = '\\';
            }
        parse_str(CB_TENCENT_REPLY, body, &l);
        if ((int)l.n != is_stop)
            fail_msg("reply '%s': %zu events", t, l.n);
        cb_list_free(&l);
    }
    /* a number already in E.164 keeps its own country code */
    parse_str(CB_TENCENT_REPLY, "{\"mobile\":\"+85261234567\",\"nationcode\":\"86\","
              "\"text\":\"T\"}", &l);
    eq("+85261234567", l.v[0].phone);
    assert_int_equal(l.v[0].at_ms, 0);
    cb_list_free(&l);
    /* an empty nationcode is no country code said: mainland, as when it is absent */
    parse_str(CB_TENCENT_REPLY, "{\"extend\":\"\",\"mobile\":\"13800000001\","
              "\"nationcode\":\"\",\"text\":\"TD\"}", &l);
    eq("+8613800000001", l.v[0].phone);
    cb_list_free(&l);
}

/* ---- Aliyun ------------------------------------------------------------------------------ */

static void test_aliyun_report(void **state)
{
    (void)state;
    cb_list l;
    parse_file(CB_ALIYUN_REPORT, "aliyun_report.json", &l);
    assert_int_equal(l.items, 4);
    assert_int_equal(l.n, 5);
    assert_int_equal(l.v[0].kind, CB_DELIVERED);
    eq("sms", l.v[0].channel);
    eq("900619063925000000^0", l.v[0].provider_msg_id);
    eq("4242", l.v[0].ref);
    eq("+8613800000001", l.v[0].phone);
    eq("DELIVERED", l.v[0].code);
    assert_int_equal(l.v[0].at_ms, T_2026_11_23_0200Z + 4000);
    assert_int_equal(l.v[1].kind, CB_FAILED);
    eq("DB:0141", l.v[1].code);
    eq("黑名单", l.v[1].text);
    assert_int_equal(l.v[2].kind, CB_OPTOUT);           /* blacklist: also an opt-out */
    eq("+8613800000002", l.v[2].phone);
    eq("4243", l.v[2].ref);
    assert_int_equal(l.v[3].kind, CB_FAILED);
    eq("+85261234567", l.v[3].phone);                   /* international: cc, no "+" */
    eq(NULL, l.v[3].ref);                               /* empty out_id */
    assert_int_equal(l.v[4].kind, CB_DELIVERED);
    eq("1381111****", l.v[4].phone);                    /* masked: kept as sent */
    eq("12345", l.v[4].provider_msg_id);
    cb_list_free(&l);

    parse_str(CB_ALIYUN_REPORT, "[{\"success\":true,\"biz_id\":123,\"phone_number\":"
              "\"+447700900123\"},{\"success\":false,\"biz_id\":\"9\",\"phone_number\":"
              "\"0085261234567\"}]", &l);
    eq("123", l.v[0].provider_msg_id);
    eq("+447700900123", l.v[0].phone);
    eq("+85261234567", l.v[1].phone);
    assert_int_equal(l.v[0].at_ms, 0);
    cb_list_free(&l);
}

/* ---- WeChat ------------------------------------------------------------------------------ */

static void test_wechat_popup(void **state)
{
    (void)state;
    cb_list l;
    /* one item: List is an object; CreateTime is a string */
    parse_file(CB_WECHAT, "wechat_popup_one.json", &l);
    eq("subscribe_msg_popup_event", l.event);
    assert_int_equal(l.items, 1);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.v[0].kind, CB_CREDIT);
    eq("mp_subscribe", l.v[0].channel);
    eq("o7esq5OI1Uej6Xixw1lA2H7XDVbc", l.v[0].openid);
    eq("gh_123456789abc", l.v[0].account);
    eq("hD-ixGOhYmUfjOnI8MCzQMPshzGVeux_2vzyvQu7O68", l.v[0].template_id);
    eq("accept", l.v[0].code);
    assert_int_equal(l.v[0].at_ms, 1620973045000LL);
    cb_list_free(&l);

    /* several: List is an array; CreateTime a number; reject and ban give nothing */
    parse_file(CB_WECHAT, "wechat_popup_many.json", &l);
    assert_int_equal(l.items, 4);
    assert_int_equal(l.n, 2);
    eq("TPL_CART_1", l.v[0].template_id);
    eq("TPL_VOICE_1", l.v[1].template_id);
    assert_int_equal(l.v[1].kind, CB_CREDIT);
    assert_int_equal(l.v[1].at_ms, 1620973045000LL);
    cb_list_free(&l);

    /* the wrapper form: SubscribeMsgPopupEvent {"List": [...]} */
    parse_file(CB_WECHAT, "wechat_popup_wrapped.json", &l);
    assert_int_equal(l.n, 2);
    eq("TPL_SHIP_1", l.v[1].template_id);
    cb_list_free(&l);

    /* the wrapper holding the items directly (seen in the wild) */
    parse_str(CB_WECHAT, "{\"FromUserName\":\"oA\",\"CreateTime\":1,\"Event\":"
              "\"subscribe_msg_popup_event\",\"SubscribeMsgPopupEvent\":[{\"TemplateId\":\"T1\","
              "\"SubscribeStatusString\":\"accept\",\"PopupScene\":\"0\"}]}", &l);
    assert_int_equal(l.n, 1);
    eq("T1", l.v[0].template_id);
    cb_list_free(&l);
}

static void test_wechat_change_and_sent(void **state)
{
    (void)state;
    cb_list l;
    parse_file(CB_WECHAT, "wechat_change.json", &l);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.v[0].kind, CB_CREDIT_ZERO);
    eq("VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", l.v[0].template_id);
    cb_list_free(&l);

    parse_str(CB_WECHAT, "{\"FromUserName\":\"oA\",\"Event\":\"subscribe_msg_change_event\","
              "\"List\":{\"TemplateId\":\"T\",\"SubscribeStatusString\":\"accept\"}}", &l);
    assert_int_equal(l.items, 1);
    assert_int_equal(l.n, 0);                           /* only reject matters */
    cb_list_free(&l);

    parse_file(CB_WECHAT, "wechat_sent_one.json", &l);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.v[0].kind, CB_DELIVERED);
    eq("1700827132819554304", l.v[0].provider_msg_id);
    eq("0", l.v[0].code);
    eq("success", l.v[0].text);
    assert_int_equal(l.v[0].at_ms, 1620963428000LL);
    cb_list_free(&l);

    parse_file(CB_WECHAT, "wechat_sent_many.json", &l);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.v[0].kind, CB_DELIVERED);
    eq("1700827132819554304", l.v[0].provider_msg_id);  /* a number, as its digits */
    assert_int_equal(l.v[1].kind, CB_FAILED);
    eq("10005", l.v[1].code);
    eq("fail: user refuse to accept the msg", l.v[1].text);
    cb_list_free(&l);
}

static void test_wechat_job_finish(void **state)
{
    (void)state;
    cb_list l;
    parse_file(CB_WECHAT, "wechat_job_success.json", &l);
    eq("TEMPLATESENDJOBFINISH", l.event);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.v[0].kind, CB_DELIVERED);
    eq("oa_template", l.v[0].channel);
    eq("200163836", l.v[0].provider_msg_id);
    eq("oia2TjuEGTNoeX76QEjQNrcURxG8", l.v[0].openid);
    assert_int_equal(l.v[0].at_ms, 1395658920000LL);
    cb_list_free(&l);

    parse_file(CB_WECHAT, "wechat_job_block.json", &l);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.v[0].kind, CB_FAILED);
    eq("failed:user block", l.v[0].code);
    eq("user block", l.v[0].text);
    assert_int_equal(l.v[1].kind, CB_OPTOUT);
    eq("oa_template", l.v[1].channel);
    eq("oia2TjuEGTNoeX76QEjQNrcURxG8", l.v[1].openid);
    cb_list_free(&l);

    parse_file(CB_WECHAT, "wechat_job_system.json", &l);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.v[0].kind, CB_FAILED);
    eq("system failed", l.v[0].text);
    cb_list_free(&l);

    parse_str(CB_WECHAT, "{\"FromUserName\":\"oA\",\"Event\":\"TEMPLATESENDJOBFINISH\","
              "\"MsgID\":7,\"Status\":\"failed:system failed\"}", &l);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.v[0].kind, CB_FAILED);
    eq("system failed", l.v[0].text);
    cb_list_free(&l);
}

static void test_wechat_not_ours(void **state)
{
    (void)state;
    cb_list l;
    parse_file(CB_WECHAT, "wechat_text_message.json", &l);
    assert_int_equal(l.n, 0);
    assert_int_equal(l.items, 0);
    eq("", l.event);
    cb_list_free(&l);
    parse_str(CB_WECHAT, "{\"FromUserName\":\"oA\",\"MsgType\":\"event\",\"Event\":\"subscribe\"}",
              &l);
    assert_int_equal(l.n, 0);
    eq("subscribe", l.event);
    cb_list_free(&l);
    /* an encrypted push cannot be read: an error, not silence */
    parse_bad(CB_WECHAT, "{\"ToUserName\":\"gh_1\",\"Encrypt\":\"b64...\"}",
              "Encrypt: an encrypted push");
}

static void test_wechat_xml(void **state)
{
    (void)state;
#ifdef CHUDA_WITH_EXPAT
    cb_list l;
    parse_file(CB_WECHAT, "wechat_popup.xml", &l);      /* two <List>: an array */
    assert_int_equal(l.items, 2);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.v[0].kind, CB_CREDIT);
    eq("IHfdMu-oSryLsdvEQqEjB-tKMW8h6g0h2Joj0wTPNdY", l.v[0].template_id);
    eq("osKp_4j-PO0TsnJhZ1h0GV3alV5U", l.v[0].openid);
    eq("gh_df0deeb82b8a", l.v[0].account);
    assert_int_equal(l.v[0].at_ms, 1676138120000LL);
    cb_list_free(&l);

    parse_file(CB_WECHAT, "wechat_sent.xml", &l);       /* one <List>: an object */
    assert_int_equal(l.n, 1);
    assert_int_equal(l.v[0].kind, CB_DELIVERED);
    eq("2794188253209100289", l.v[0].provider_msg_id);
    cb_list_free(&l);

    parse_file(CB_WECHAT, "wechat_job_block.xml", &l);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.v[1].kind, CB_OPTOUT);
    cb_list_free(&l);

    parse_bad(CB_WECHAT, "<xml><Event>subscribe_msg_sent_event</Event>", "not XML");
    parse_bad(CB_WECHAT, "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\">]>"
              "<xml><Event>&a;</Event></xml>", "DOCTYPE not allowed");
    parse_bad(CB_WECHAT, "<a><b><c><d><e><f><g><h><i>1</i></h></g></f></e></d></c></b></a>",
              "<i>: nested too deep");
    /* an element's text over the limit is named, as a JSON field is */
    char *big = malloc(CB_MAX_FIELD + 200);
    int len = snprintf(big, 200, "<xml><FromUserName>oA</FromUserName><Event>x</Event>"
                       "<ErrorStatus>");
    memset(big + len, 'x', CB_MAX_FIELD + 1);
    strcpy(big + len + CB_MAX_FIELD + 1, "</ErrorStatus></xml>");
    parse_bad(CB_WECHAT, big, "<ErrorStatus>: text longer than 2048 bytes");
    free(big);
    parse_bad(CB_WECHAT, "<xml><FromUserName>oA</FromUserName><Event>subscribe_msg_sent_event"
              "</Event><List><MsgID>1</MsgID></List></xml>", "wechat: List.ErrorCode: missing");
#else
    parse_bad(CB_WECHAT, "  <xml><Event>subscribe_msg_sent_event</Event></xml>",
              "XML pushes need chuda built with expat");
#endif
}

/* ---- bad input ---------------------------------------------------------------------------- */

static void test_bad_input(void **state)
{
    (void)state;
    parse_bad(CB_TENCENT_STATUS, "", "body: empty");
    parse_bad(CB_TENCENT_STATUS, "not json", "tencent status: body: not JSON");
    parse_bad(CB_TENCENT_STATUS, "{\"sid\":\"1\"}", "body: expected a JSON array");
    parse_bad(CB_TENCENT_STATUS, "[1]", "[0]: expected an object");
    parse_bad(CB_TENCENT_STATUS, "[{\"report_status\":\"SUCCESS\",\"sid\":\"a\","
              "\"mobile\":\"13800000001\"},{\"report_status\":\"DELIVRD\",\"sid\":\"b\","
              "\"mobile\":\"13800000001\"}]", "[1].report_status: expected SUCCESS or FAIL");
    parse_bad(CB_TENCENT_STATUS, "[{\"report_status\":\"SUCCESS\",\"mobile\":\"13800000001\"}]",
              "[0].sid: missing");
    parse_bad(CB_TENCENT_STATUS, "[{\"report_status\":\"SUCCESS\",\"sid\":\"\","
              "\"mobile\":\"13800000001\"}]", "[0].sid: empty");
    parse_bad(CB_TENCENT_STATUS, "[{\"report_status\":true,\"sid\":\"a\",\"mobile\":\"1\"}]",
              "[0].report_status: expected a string");
    parse_bad(CB_TENCENT_STATUS, "[{\"report_status\":\"FAIL\",\"sid\":\"a\","
              "\"mobile\":\"13800000001\",\"user_receive_time\":\"2026-11-23T10:00:00Z\"}]",
              "[0].user_receive_time: expected YYYY-MM-DD HH:MM:SS");
    parse_bad(CB_TENCENT_STATUS, "[{\"report_status\":\"FAIL\",\"sid\":\"a\","
              "\"mobile\":\"13800000001\",\"user_receive_time\":\"2026-02-30 10:00:00\"}]",
              "[0].user_receive_time");
    parse_bad(CB_TENCENT_STATUS, "[{\"report_status\":\"FAIL\",\"sid\":\"a\","
              "\"mobile\":\"13800000001\",\"nationcode\":\"+86\"}]",
              "[0].nationcode: expected 1 to 4 digits");
    parse_bad(CB_TENCENT_STATUS, "[{\"report_status\":\"SUCCESS\",\"sid\":\"a\",\"sid\":\"b\","
              "\"mobile\":\"13800000001\"}]", "duplicate");
    parse_bad(CB_TENCENT_STATUS, "[{\"report_status\":\"SUCCESS\",\"sid\":1.5,"
              "\"mobile\":\"13800000001\"}]", "[0].sid: expected a string or an integer");
    parse_bad(CB_TENCENT_STATUS, "[{\"report_status\":\"SUCCESS\",\"sid\":\"a\","
              "\"mobile\":\"13800000001\",\"description\":\"\\u0000\"}]", "not JSON");

    parse_bad(CB_TENCENT_REPLY, "[]", "body: expected a JSON object");
    parse_bad(CB_TENCENT_REPLY, "{\"mobile\":\"13800000001\"}", "text: missing");
    parse_bad(CB_TENCENT_REPLY, "{\"mobile\":\"13800000001\",\"text\":5}",
              "text: expected a string");
    parse_bad(CB_TENCENT_REPLY, "{\"mobile\":\"1380000000x\",\"text\":\"TD\"}",
              "tencent reply: mobile: expected a phone number");
    parse_bad(CB_TENCENT_REPLY, "{\"mobile\":\"13800000001\",\"text\":\"TD\",\"time\":\"soon\"}",
              "time: expected unix seconds");
    parse_bad(CB_TENCENT_REPLY, "{\"mobile\":\"13800000001\",\"text\":\"TD\",\"time\":-5}",
              "time: expected unix seconds");

    parse_bad(CB_ALIYUN_REPORT, "{}", "aliyun report: body: expected a JSON array");
    parse_bad(CB_ALIYUN_REPORT, "[{\"biz_id\":\"1\",\"phone_number\":\"13800000001\"}]",
              "[0].success: missing");
    parse_bad(CB_ALIYUN_REPORT, "[{\"success\":\"true\",\"biz_id\":\"1\","
              "\"phone_number\":\"13800000001\"}]", "[0].success: expected true or false");
    parse_bad(CB_ALIYUN_REPORT, "[{\"success\":true,\"phone_number\":\"13800000001\"}]",
              "[0].biz_id: missing");
    parse_bad(CB_ALIYUN_REPORT, "[{\"success\":true,\"biz_id\":\"1\",\"phone_number\":"
              "\"<script>\"}]", "[0].phone_number: expected a phone number");
    parse_bad(CB_ALIYUN_REPORT, "[{\"success\":true,\"biz_id\":\"1\",\"phone_number\":"
              "\"+86138****0000\"}]", "[0].phone_number: expected a phone number");
    parse_bad(CB_ALIYUN_REPORT, "[{\"success\":true,\"biz_id\":\"1\",\"phone_number\":"
              "\"13800000001\",\"report_time\":7}]", "[0].report_time: expected a string");

    parse_bad(CB_WECHAT, "[]", "wechat: body: expected an object");
    parse_bad(CB_WECHAT, "{\"Event\":5}", "Event: expected a string");
    parse_bad(CB_WECHAT, "{\"Event\":\"subscribe_msg_popup_event\",\"List\":{}}",
              "FromUserName: missing");
    parse_bad(CB_WECHAT, "{\"FromUserName\":\"\",\"Event\":\"subscribe_msg_popup_event\"}",
              "FromUserName: empty");
    parse_bad(CB_WECHAT, "{\"FromUserName\":\"oA\",\"Event\":\"subscribe_msg_popup_event\"}",
              "List: missing");
    parse_bad(CB_WECHAT, "{\"FromUserName\":\"oA\",\"Event\":\"subscribe_msg_popup_event\","
              "\"List\":\"accept\"}", "List: expected an object or an array");
    parse_bad(CB_WECHAT, "{\"FromUserName\":\"oA\",\"Event\":\"subscribe_msg_popup_event\","
              "\"List\":[]}", "List: empty");
    parse_bad(CB_WECHAT, "{\"FromUserName\":\"oA\",\"Event\":\"subscribe_msg_popup_event\","
              "\"List\":[{\"TemplateId\":\"T\",\"SubscribeStatusString\":\"accept\"},"
              "{\"SubscribeStatusString\":\"accept\"}]}", "List[1].TemplateId: missing");
    parse_bad(CB_WECHAT, "{\"FromUserName\":\"oA\",\"Event\":\"subscribe_msg_popup_event\","
              "\"SubscribeMsgPopupEvent\":{\"List\":[7]}}",
              "SubscribeMsgPopupEvent.List[0]: expected an object");
    parse_bad(CB_WECHAT, "{\"FromUserName\":\"oA\",\"CreateTime\":\"yesterday\","
              "\"Event\":\"subscribe_msg_change_event\",\"List\":{}}",
              "CreateTime: expected unix seconds");
    parse_bad(CB_WECHAT, "{\"FromUserName\":\"oA\",\"CreateTime\":1.5,"
              "\"Event\":\"subscribe_msg_change_event\",\"List\":{}}",
              "CreateTime: expected a string or an integer");
    parse_bad(CB_WECHAT, "{\"FromUserName\":\"oA\",\"Event\":\"subscribe_msg_sent_event\","
              "\"List\":{\"MsgID\":\"1\",\"ErrorCode\":\"ok\"}}",
              "List.ErrorCode: expected an integer");
    parse_bad(CB_WECHAT, "{\"FromUserName\":\"oA\",\"Event\":\"subscribe_msg_sent_event\","
              "\"List\":{\"MsgID\":\"1;drop\",\"ErrorCode\":0}}", "List.MsgID: expected digits");
    parse_bad(CB_WECHAT, "{\"FromUserName\":\"oA\",\"Event\":\"TEMPLATESENDJOBFINISH\","
              "\"MsgID\":1,\"Status\":\"delivered\"}", "Status: expected success or failed");
    parse_bad(CB_WECHAT, "{\"FromUserName\":\"oA\",\"Event\":\"TEMPLATESENDJOBFINISH\","
              "\"Status\":\"success\"}", "MsgID: missing");
}

static void test_oversize(void **state)
{
    (void)state;
    /* a body over the limit */
    size_t n = CB_MAX_BODY + 10;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    big[0] = '[';
    big[n - 1] = ']';
    big[n] = '\0';
    parse_bad_n(CB_ALIYUN_REPORT, big, n, "body: 1048586 bytes, at most 1048576");
    free(big);

    /* a field over the limit */
    char *body = malloc(CB_MAX_FIELD + 200);
    int len = snprintf(body, 200, "{\"mobile\":\"13800000001\",\"text\":\"");
    memset(body + len, 'x', CB_MAX_FIELD + 1);
    strcpy(body + len + CB_MAX_FIELD + 1, "\"}");
    parse_bad(CB_TENCENT_REPLY, body, "text: longer than 2048 bytes");
    free(body);

    /* deep nesting is refused by the JSON parser, not by the stack */
    char deep[4100];
    memset(deep, '[', 4096);
    deep[4096] = '\0';
    parse_bad(CB_TENCENT_STATUS, deep, "not JSON");
}

/* Hostile text goes through untouched (escaping is the page's and the log's business)
 * and the list stays intact when a later body fails. */
static void test_hostile_text_kept_verbatim(void **state)
{
    (void)state;
    cb_list l;
    parse_str(CB_TENCENT_STATUS, "[{\"report_status\":\"FAIL\",\"sid\":\"<b>\","
              "\"mobile\":\"13800000001\",\"description\":\"<script>alert(1)</script>\"}]", &l);
    eq("<script>alert(1)</script>", l.v[0].text);
    eq("<b>", l.v[0].provider_msg_id);
    cherr e = {{0}};
    const char *bad = "[{\"report_status\":\"SUCCESS\",\"sid\":\"x\",\"mobile\":\"13800000001\"},"
                      "{\"report_status\":\"SUCCESS\"}]";
    assert_int_equal(cb_parse(CB_TENCENT_STATUS, bad, strlen(bad), &l, &e), -1);
    assert_int_equal(l.n, 1);                           /* nothing of the bad batch */
    cb_list_free(&l);
}

static void test_replies(void **state)
{
    (void)state;
    cb_reply r = cb_reply_for(CB_TENCENT_STATUS, CB_ACK_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"result\":0,\"errmsg\":\"OK\"}");
    assert_non_null(strstr(r.content_type, "application/json"));
    r = cb_reply_for(CB_TENCENT_REPLY, CB_ACK_OK);
    assert_string_equal(r.body, "{\"result\":0,\"errmsg\":\"OK\"}");
    r = cb_reply_for(CB_TENCENT_REPLY, CB_ACK_BAD);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "\"result\":1"));
    r = cb_reply_for(CB_ALIYUN_REPORT, CB_ACK_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"code\":0,\"msg\":\"接收成功\"}");
    r = cb_reply_for(CB_ALIYUN_REPORT, CB_ACK_RETRY);
    assert_int_equal(r.status, 500);                    /* Aliyun re-pushes after 1, 5, 10 min */
    r = cb_reply_for(CB_WECHAT, CB_ACK_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "success");
    assert_non_null(strstr(r.content_type, "text/plain"));
    r = cb_reply_for(CB_WECHAT, CB_ACK_RETRY);
    assert_int_equal(r.status, 500);

    assert_string_equal(cb_kind_name(CB_CREDIT_ZERO), "credit_zero");
    assert_string_equal(cb_kind_name(CB_OPTOUT), "optout");
    assert_string_equal(cb_provider_name(CB_ALIYUN_REPORT), "aliyun_report");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tencent_status),
        cmocka_unit_test(test_tencent_reply),
        cmocka_unit_test(test_aliyun_report),
        cmocka_unit_test(test_wechat_popup),
        cmocka_unit_test(test_wechat_change_and_sent),
        cmocka_unit_test(test_wechat_job_finish),
        cmocka_unit_test(test_wechat_not_ours),
        cmocka_unit_test(test_wechat_xml),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_oversize),
        cmocka_unit_test(test_hostile_text_kept_verbatim),
        cmocka_unit_test(test_replies),
    };
    return cmocka_run_group_tests_name("callback", tests, NULL, NULL);
}
