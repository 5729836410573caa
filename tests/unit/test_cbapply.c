/* test_cbapply.c — provider pushes applied to a real SQLite store: receipts found by the
 * provider's id or by the id chuda sent, written once however often they are pushed;
 * a blacklisted number and an OA user block opt the message's user out; SMS replies opt
 * out every user with that phone, once; popup accepts add one credit per push, a
 * settings reject zeroes them, and a re-push of an old reject does not undo a later
 * accept; receipts for unknown messages change nothing and are counted. Fixed times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "callback.h"
#include "cbapply.h"
#include "store.h"
#include "tmpdir.h"
#include "verify.h"

#define NOW 1795399200000LL

typedef struct fx {
    char dir[64];
    char db[128];
    store *st;
    int64_t m1, m2, m3;         /* messages to u1 (sms), u2 (sms), u3 (oa_template) */
} fx;

static void put_user(fx *f, const char *id, const char *phone, const char *mp, const char *oa)
{
    cherr e;
    store_user u = {.user_id = (char *)id, .tier = "potential", .phone = (char *)phone,
                    .mp_openid = (char *)mp, .oa_openid = (char *)oa};
    if (store_user_put(f->st, &u, &e) < 0)
        fail_msg("%s", e.msg);
}

static int64_t put_msg(fx *f, const char *user)
{
    cherr e;
    int dup = 0;
    store_msg m = {.due_at = NOW, .created_at = NOW, .user_id = (char *)user, .tmpl = "t",
                   .klass = "lifecycle", .campaign_id = 7};
    if (store_enqueue(f->st, &m, &dup, &e) < 0)
        fail_msg("%s", e.msg);
    return m.id;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (tmpdir_make(f->dir, sizeof f->dir, "cba") < 0)
        return -1;
    snprintf(f->db, sizeof f->db, "%s/t.db", f->dir);
    cherr e;
    int from, to;
    if (store_sqlite_open(f->db, 1, &f->st, &e) < 0 || store_migrate(f->st, &from, &to, &e) < 0 ||
        store_begin(f->st, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    put_user(f, "u1", "13800000001", "oMP1", NULL);          /* a national number */
    put_user(f, "u1b", "+8613800000001", NULL, NULL);        /* the same phone, E.164 */
    put_user(f, "u2", "+8613800000002", NULL, NULL);
    put_user(f, "u3", NULL, NULL, "oOA3");
    f->m1 = put_msg(f, "u1");
    f->m2 = put_msg(f, "u2");
    f->m3 = put_msg(f, "u3");
    if (store_provider_id_put(f->st, "sms", "2019:1", f->m1, NOW, &e) < 0 ||
        store_provider_id_put(f->st, "sms", "2019:2", f->m2, NOW, &e) < 0 ||
        store_provider_id_put(f->st, "oa_template", "200163840", f->m3, NOW, &e) < 0 ||
        store_commit(f->st, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    store_close(f->st);
    if (tmpdir_remove(f->dir) < 0)
        return -1;
    free(f);
    return 0;
}

/* Parse and apply one body in its own transaction, at `now`. */
static cba_counts apply_at(fx *f, cb_provider p, const char *body, int64_t now)
{
    cb_list l = {0};
    cba_counts c;
    cherr e;
    if (cb_parse(p, body, strlen(body), &l, &e) < 0)
        fail_msg("parse: %s", e.msg);
    if (store_begin(f->st, &e) < 0 || cba_apply(f->st, &l, now, &c, &e) < 0 ||
        store_commit(f->st, &e) < 0)
        fail_msg("apply: %s", e.msg);
    cb_list_free(&l);
    return c;
}

static cba_counts apply(fx *f, cb_provider p, const char *body)
{
    return apply_at(f, p, body, NOW);
}

typedef struct rows {
    int n;
    char event[8][16], code[8][32], detail[8][128], user[8][16];
    int64_t msg[8], campaign[8];
} rows;

static int collect(const store_logrow *r, void *arg)
{
    rows *w = arg;
    if (w->n < 8) {
        snprintf(w->event[w->n], sizeof w->event[0], "%s", r->event);
        snprintf(w->code[w->n], sizeof w->code[0], "%s", r->code ? r->code : "");
        snprintf(w->detail[w->n], sizeof w->detail[0], "%s", r->detail ? r->detail : "");
        snprintf(w->user[w->n], sizeof w->user[0], "%s", r->user_id ? r->user_id : "");
        w->msg[w->n] = r->message_id;
        w->campaign[w->n] = r->campaign_id;
    }
    w->n++;
    return 0;
}

/* The receipt rows (delivered, failed) of a message. */
static rows receipts(fx *f, int64_t id)
{
    rows w = {0};
    cherr e;
    store_logq q = {.message_id = id, .event = "delivered"};
    if (store_log_each(f->st, &q, collect, &w, &e) < 0)
        fail_msg("%s", e.msg);
    q.event = "failed";
    if (store_log_each(f->st, &q, collect, &w, &e) < 0)
        fail_msg("%s", e.msg);
    return w;
}

/* The opt-outs of a user as "channel/source" (first one), and how many. */
static int optouts(fx *f, const char *user, char *first, size_t len)
{
    store_optout v[8];
    int n = 0;
    cherr e;
    if (store_optouts_get(f->st, user, v, 8, &n, &e) < 0)
        fail_msg("%s", e.msg);
    if (first)
        snprintf(first, len, "%s/%s", n ? v[0].channel : "", n ? v[0].source : "");
    return n;
}

static long credits(fx *f, const char *user, const char *tid)
{
    long n;
    cherr e;
    if (store_credits_get(f->st, user, tid, &n, &e) < 0)
        fail_msg("%s", e.msg);
    return n;
}

static int collect_none(const store_logrow *r, void *arg)
{
    (void)r;
    (void)arg;
    return 0;
}

/* How many of test_pids_archived's provider ids the store keeps. */
static int pids(fx *f)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM provider_ids WHERE provider_id LIKE '9:%'", -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

static const char tencent_batch[] =
    "[{\"report_status\":\"SUCCESS\",\"sid\":\"2019:1\",\"mobile\":\"13800000001\","
    "\"errmsg\":\"DELIVRD\",\"description\":\"用户短信送达成功\","
    "\"user_receive_time\":\"2026-11-23 10:00:05\"},"
    "{\"report_status\":\"FAIL\",\"sid\":\"2019:2\",\"mobile\":\"13800000002\","
    "\"errmsg\":\"DB:0141\",\"description\":\"黑名单\"},"
    "{\"report_status\":\"SUCCESS\",\"sid\":\"2019:999\",\"mobile\":\"13800000009\"}]";

static void test_receipts_once(void **state)
{
    fx *f = *state;
    cba_counts c = apply(f, CB_TENCENT_STATUS, tencent_batch);
    assert_int_equal(c.applied, 3);                   /* delivered, failed, its opt-out */
    assert_int_equal(c.unmatched, 1);
    assert_string_equal(c.first_unmatched, "2019:999");
    rows r = receipts(f, f->m1);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.event[0], "delivered");
    assert_string_equal(r.code[0], "DELIVRD");
    assert_string_equal(r.user[0], "u1");
    assert_int_equal(r.campaign[0], 7);
    assert_string_equal(r.detail[0], "provider_id=2019:1 provider_at=2026-11-23T02:00:05.000Z");
    r = receipts(f, f->m2);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.event[0], "failed");
    assert_string_equal(r.code[0], "DB:0141");
    char first[64];
    assert_int_equal(optouts(f, "u2", first, sizeof first), 1);
    assert_string_equal(first, "sms/provider");

    /* the provider pushes it all again: nothing changes, the unknown one still unknown */
    cherr e;
    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_optout_del(f->st, "u2", "sms", "*", &e), 1);
    assert_int_equal(store_commit(f->st, &e), 0);
    c = apply(f, CB_TENCENT_STATUS, tencent_batch);
    assert_int_equal(c.applied, 0);
    assert_int_equal(c.repeated, 2);
    assert_int_equal(c.unmatched, 1);
    assert_int_equal(receipts(f, f->m1).n, 1);
    assert_int_equal(receipts(f, f->m2).n, 1);
    assert_int_equal(optouts(f, "u2", NULL, 0), 0);     /* the removed opt-out stays removed */
}

static void test_receipt_by_ref(void **state)
{
    fx *f = *state;
    /* Aliyun: the biz_id is not known (the receipt overtook the send's reply), the out_id
     * is the message id chuda sent */
    char body[400];
    snprintf(body, sizeof body,
             "[{\"phone_number\":\"13800000001\",\"success\":true,\"err_code\":\"DELIVERED\","
             "\"biz_id\":\"9006^0\",\"out_id\":\"%lld\"},"
             "{\"phone_number\":\"13800000001\",\"success\":true,\"biz_id\":\"9007^0\","
             "\"out_id\":\"999999\"}]", (long long)f->m1);
    cba_counts c = apply(f, CB_ALIYUN_REPORT, body);
    assert_int_equal(c.applied, 1);
    assert_int_equal(c.unmatched, 1);                  /* no message 999999 */
    assert_int_equal(receipts(f, f->m1).n, 1);
    /* the send's reply arrives later: recording its id does not forget the receipt */
    cherr e;
    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_provider_id_put(f->st, "sms", "9006^0", f->m1, NOW, &e), 0);
    assert_int_equal(store_commit(f->st, &e), 0);
    c = apply(f, CB_ALIYUN_REPORT, body);
    assert_int_equal(c.applied, 0);
    assert_int_equal(c.repeated, 1);
    assert_int_equal(receipts(f, f->m1).n, 1);
}

static void test_oa_user_block(void **state)
{
    fx *f = *state;
    const char *body = "{\"FromUserName\":\"oOA3\",\"CreateTime\":1395658984,\"Event\":"
                       "\"TEMPLATESENDJOBFINISH\",\"MsgID\":\"200163840\",\"Status\":"
                       "\"failed:user block\"}";
    for (int i = 0; i < 2; i++) {
        apply(f, CB_WECHAT, body);
        rows r = receipts(f, f->m3);
        assert_int_equal(r.n, 1);
        assert_string_equal(r.event[0], "failed");
        assert_string_equal(r.code[0], "failed:user block");
        char first[64];
        assert_int_equal(optouts(f, "u3", first, sizeof first), 1);
        assert_string_equal(first, "oa_template/provider");
    }
}

static void test_reply_optout(void **state)
{
    fx *f = *state;
    const char *td = "{\"mobile\":\"13800000001\",\"nationcode\":\"86\",\"sign\":\"触达\","
                     "\"text\":\"TD\",\"time\":1795399200}";
    cba_counts c = apply(f, CB_TENCENT_REPLY, td);
    assert_int_equal(c.applied, 1);
    char first[64];
    assert_int_equal(optouts(f, "u1", first, sizeof first), 1);     /* stored nationally */
    assert_string_equal(first, "sms/reply");
    assert_int_equal(optouts(f, "u1b", first, sizeof first), 1);    /* stored as E.164 */
    assert_int_equal(optouts(f, "u2", NULL, 0), 0);
    /* the operator lifts it; the same reply pushed again does not put it back */
    cherr e;
    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_optout_del(f->st, "u1", "sms", "*", &e), 1);
    assert_int_equal(store_commit(f->st, &e), 0);
    c = apply(f, CB_TENCENT_REPLY, td);
    assert_int_equal(c.repeated, 1);
    assert_int_equal(optouts(f, "u1", NULL, 0), 0);
    /* a later reply is a new one; a number nobody has is counted unknown */
    c = apply(f, CB_TENCENT_REPLY, "{\"mobile\":\"13800000001\",\"text\":\"退订\",\"time\":1795399300}");
    assert_int_equal(c.applied, 1);
    assert_int_equal(optouts(f, "u1", NULL, 0), 1);
    c = apply(f, CB_TENCENT_REPLY, "{\"mobile\":\"13900000000\",\"text\":\"R\",\"time\":1795399201}");
    assert_int_equal(c.unknown, 1);
    /* anything else is not an opt-out */
    c = apply(f, CB_TENCENT_REPLY, "{\"mobile\":\"13800000002\",\"text\":\"好的\",\"time\":1795399202}");
    assert_int_equal(c.applied + c.repeated + c.unknown, 0);
    assert_int_equal(optouts(f, "u2", NULL, 0), 0);
}

static void test_credits(void **state)
{
    fx *f = *state;
    const char *popup = "{\"FromUserName\":\"oMP1\",\"CreateTime\":1795399100,\"Event\":"
                        "\"subscribe_msg_popup_event\",\"List\":[{\"TemplateId\":\"TPL_A\","
                        "\"SubscribeStatusString\":\"accept\"},{\"TemplateId\":\"TPL_B\","
                        "\"SubscribeStatusString\":\"reject\"}]}";
    apply(f, CB_WECHAT, popup);
    apply(f, CB_WECHAT, popup);                        /* WeChat's re-push */
    assert_int_equal(credits(f, "u1", "TPL_A"), 1);
    assert_int_equal(credits(f, "u1", "TPL_B"), -1);   /* a popup reject grants nothing */
    const char *reject = "{\"FromUserName\":\"oMP1\",\"CreateTime\":1795399150,\"Event\":"
                         "\"subscribe_msg_change_event\",\"List\":{\"TemplateId\":\"TPL_A\","
                         "\"SubscribeStatusString\":\"reject\"}}";
    apply(f, CB_WECHAT, reject);
    assert_int_equal(credits(f, "u1", "TPL_A"), 0);
    /* a new accept, then the old reject pushed again: the credit stays */
    apply(f, CB_WECHAT, "{\"FromUserName\":\"oMP1\",\"CreateTime\":1795399180,\"Event\":"
                        "\"subscribe_msg_popup_event\",\"List\":{\"TemplateId\":\"TPL_A\","
                        "\"SubscribeStatusString\":\"accept\"}}");
    cba_counts c = apply(f, CB_WECHAT, reject);
    assert_int_equal(c.repeated, 1);
    assert_int_equal(credits(f, "u1", "TPL_A"), 1);
    /* an openid chuda does not know */
    c = apply(f, CB_WECHAT, "{\"FromUserName\":\"oNobody\",\"CreateTime\":1795399001,\"Event\":"
                            "\"subscribe_msg_popup_event\",\"List\":{\"TemplateId\":\"TPL_A\","
                            "\"SubscribeStatusString\":\"accept\"}}");
    assert_int_equal(c.unknown, 1);
}

/* A receipt's code is the provider's text, up to CB_MAX_FIELD bytes: `log verify` still
 * compares its count bucket with the rows, so a count moved out of that bucket (the
 * total unchanged) is found. */
static int counts_problem(fx *f)
{
    verify_opts o = {0};
    verify_result r;
    cherr e;
    if (verify_log(f->st, &o, &r, &e) < 0)
        fail_msg("verify: %s", e.msg);
    int n = 0;
    for (int i = 0; i < r.nproblems; i++)
        n += strstr(r.problem[i], "log_counts: campaign") != NULL;
    return n;
}

static void test_long_code_verified(void **state)
{
    fx *f = *state;
    char code[701], body[1200];
    memset(code, 'E', sizeof code - 1);
    code[sizeof code - 1] = '\0';
    snprintf(body, sizeof body, "[{\"success\":false,\"biz_id\":\"2019:1\",\"phone_number\":"
             "\"13800000001\",\"err_code\":\"%s\"},{\"success\":true,\"biz_id\":\"2019:2\","
             "\"phone_number\":\"13800000002\",\"err_code\":\"DELIVERED\"}]", code);
    cba_counts c = apply(f, CB_ALIYUN_REPORT, body);
    assert_int_equal(c.applied, 2);
    assert_int_equal(counts_problem(f), 0);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE log_counts SET n=n+1 WHERE code='DELIVERED';"
                                      "UPDATE log_counts SET n=n-1 WHERE length(code)>500",
                                  NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_close(db);
    assert_int_equal(counts_problem(f), 1);
}

/* A blacklisted number's receipt opts its message's user out whatever the length of the
 * provider's id (up to CB_MAX_FIELD) and of the user's id: neither is cut on the way. */
static void test_long_ids_optout(void **state)
{
    fx *f = *state;
    char pid[301], user[201], body[1200];
    memset(pid, 'p', sizeof pid - 1);
    pid[sizeof pid - 1] = '\0';
    memset(user, 'u', sizeof user - 1);
    user[sizeof user - 1] = '\0';
    cherr e;
    assert_int_equal(store_begin(f->st, &e), 0);
    put_user(f, user, "+8613800000007", NULL, NULL);
    int64_t mu = put_msg(f, user);      /* a long user id, a short provider id */
    assert_int_equal(store_provider_id_put(f->st, "sms", "2019:7", mu, NOW, &e), 0);
    assert_int_equal(store_provider_id_put(f->st, "sms", pid, f->m2, NOW, &e), 0);
    assert_int_equal(store_commit(f->st, &e), 0);
    snprintf(body, sizeof body,
             "[{\"report_status\":\"FAIL\",\"sid\":\"%s\",\"mobile\":\"13800000002\","
             "\"errmsg\":\"DB:0141\",\"description\":\"黑名单\"},"
             "{\"report_status\":\"FAIL\",\"sid\":\"2019:7\",\"mobile\":\"13800000007\","
             "\"errmsg\":\"DB:0141\",\"description\":\"黑名单\"}]", pid);
    cba_counts c = apply(f, CB_TENCENT_STATUS, body);
    assert_int_equal(c.applied, 4);                     /* two failed, two opt-outs */
    assert_int_equal(receipts(f, f->m2).n, 1);
    assert_int_equal(optouts(f, "u2", NULL, 0), 1);
    assert_int_equal(optouts(f, user, NULL, 0), 1);
    user[127] = '\0';                                   /* nobody else is opted out */
    assert_int_equal(optouts(f, user, NULL, 0), 0);
}

/* A receipt's detail names the provider's id; one too long for it is cut between two
 * UTF-8 characters, not inside one. */
static void test_long_pid_detail_utf8(void **state)
{
    fx *f = *state;
    char pid[300] = "xx", body[600];
    for (int i = 0; i < 70; i++)
        strcat(pid, "中");
    cherr e;
    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_provider_id_put(f->st, "sms", pid, f->m1, NOW, &e), 0);
    assert_int_equal(store_commit(f->st, &e), 0);
    snprintf(body, sizeof body, "[{\"report_status\":\"SUCCESS\",\"sid\":\"%s\","
             "\"mobile\":\"13800000001\",\"errmsg\":\"DELIVRD\"}]", pid);
    assert_int_equal(apply(f, CB_TENCENT_STATUS, body).applied, 1);
    sqlite3 *db;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT detail FROM log WHERE event='delivered'",
                                        -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    const char *d = (const char *)sqlite3_column_text(s, 0);
    assert_int_equal(strncmp(d, "provider_id=xx中", 17), 0);
    assert_int_equal(strlen(d), 12 + 2 + 61 * 3);       /* 199 bytes would cut a 中 */
    sqlite3_finalize(s);
    sqlite3_close(db);
}

/* A reply or an event is remembered a week after it arrives; one dated more than
 * CBA_MAX_AGE_MS before chuda's clock or more than CBA_AHEAD_MS after it could be a
 * forgotten one pushed again (a captured push replayed), so it changes nothing. */
#define DAY (86400 * 1000LL)
static void test_replay_after_week(void **state)
{
    fx *f = *state;
    char popup[300], td[200], other[300];
    snprintf(popup, sizeof popup, "{\"FromUserName\":\"oMP1\",\"CreateTime\":%lld,\"Event\":"
             "\"subscribe_msg_popup_event\",\"List\":{\"TemplateId\":\"TPL_A\","
             "\"SubscribeStatusString\":\"accept\"}}", NOW / 1000);
    snprintf(td, sizeof td, "{\"mobile\":\"13800000001\",\"text\":\"TD\",\"time\":%lld}",
             NOW / 1000);
    assert_int_equal(apply(f, CB_WECHAT, popup).applied, 1);
    assert_int_equal(apply(f, CB_TENCENT_REPLY, td).applied, 1);
    cherr e;
    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_optout_del(f->st, "u1", "sms", "*", &e), 1);
    assert_int_equal(store_commit(f->st, &e), 0);
    /* eight days on, a new push lets the week-old keys go; the old pushes come back */
    int64_t later = NOW + 8 * DAY;
    snprintf(other, sizeof other, "{\"FromUserName\":\"oMP1\",\"CreateTime\":%lld,\"Event\":"
             "\"subscribe_msg_popup_event\",\"List\":{\"TemplateId\":\"TPL_B\","
             "\"SubscribeStatusString\":\"accept\"}}", (long long)(later / 1000));
    assert_int_equal(apply_at(f, CB_WECHAT, other, later).applied, 1);
    cba_counts c = apply_at(f, CB_WECHAT, popup, later);
    assert_int_equal(c.applied, 0);
    assert_int_equal(c.stale, 1);
    assert_int_equal(c.first_stale_at, NOW);
    assert_int_equal(credits(f, "u1", "TPL_A"), 1);
    c = apply_at(f, CB_TENCENT_REPLY, td, later);
    assert_int_equal(c.applied + c.stale, 1);
    assert_int_equal(c.stale, 1);
    assert_int_equal(optouts(f, "u1", NULL, 0), 0);     /* the lifted opt-out stays lifted */
    /* the edges: CBA_MAX_AGE_MS old and CBA_AHEAD_MS ahead are taken, a second more not */
    snprintf(popup, sizeof popup, "{\"FromUserName\":\"oMP1\",\"CreateTime\":%lld,\"Event\":"
             "\"subscribe_msg_popup_event\",\"List\":{\"TemplateId\":\"TPL_C\","
             "\"SubscribeStatusString\":\"accept\"}}", (long long)((later - CBA_MAX_AGE_MS) / 1000));
    assert_int_equal(apply_at(f, CB_WECHAT, popup, later).applied, 1);
    snprintf(popup, sizeof popup, "{\"FromUserName\":\"oMP1\",\"CreateTime\":%lld,\"Event\":"
             "\"subscribe_msg_popup_event\",\"List\":{\"TemplateId\":\"TPL_C\","
             "\"SubscribeStatusString\":\"accept\"}}", (long long)((later - CBA_MAX_AGE_MS) / 1000 - 1));
    assert_int_equal(apply_at(f, CB_WECHAT, popup, later).stale, 1);
    snprintf(popup, sizeof popup, "{\"FromUserName\":\"oMP1\",\"CreateTime\":%lld,\"Event\":"
             "\"subscribe_msg_popup_event\",\"List\":{\"TemplateId\":\"TPL_C\","
             "\"SubscribeStatusString\":\"accept\"}}", (long long)((later + CBA_AHEAD_MS) / 1000));
    assert_int_equal(apply_at(f, CB_WECHAT, popup, later).applied, 1);
    snprintf(popup, sizeof popup, "{\"FromUserName\":\"oMP1\",\"CreateTime\":%lld,\"Event\":"
             "\"subscribe_msg_popup_event\",\"List\":{\"TemplateId\":\"TPL_C\","
             "\"SubscribeStatusString\":\"accept\"}}", (long long)((later + CBA_AHEAD_MS) / 1000 + 1));
    assert_int_equal(apply_at(f, CB_WECHAT, popup, later).stale, 1);
    assert_int_equal(credits(f, "u1", "TPL_C"), 2);
    /* an event that says no time is taken as before */
    assert_int_equal(apply_at(f, CB_TENCENT_REPLY, "{\"mobile\":\"13800000001\",\"text\":\"R\"}",
                              later).applied, 1);
}

/* A provider's id is kept for its receipt while the log rows of its message are, and
 * at least STORE_PROVIDER_ID_KEEP_MS after the send: `chuda log archive --before T` lets
 * go of those recorded before T and more than that long ago, so the table does not keep
 * a row for every message ever sent, and a receipt days late still finds its message. */
static void test_pids_archived(void **state)
{
    fx *f = *state;
    cherr e;
    int64_t now = (int64_t)time(NULL) * 1000;
    static const struct { const char *pid; int64_t age; } p[] = {
        {"9:old", 15 * DAY}, {"9:week", 8 * DAY}, {"9:day", 1 * DAY},
    };
    assert_int_equal(store_begin(f->st, &e), 0);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(store_provider_id_put(f->st, "sms", p[i].pid, f->m1, now - p[i].age,
                                               &e), 0);
    store_event ev = {.at = now - 20 * DAY, .message_id = f->m1, .user_id = "u1",
                      .event = "enqueued", .tier = "potential"};
    assert_int_equal(store_log(f->st, &ev, &e), 0);
    ev.at = now - 2 * DAY;
    ev.event = "sent";
    ev.channel = "sms";
    assert_int_equal(store_log(f->st, &ev, &e), 0);
    assert_int_equal(store_commit(f->st, &e), 0);
    long n;
    /* rows before 10 days ago: the 15-day-old id goes, the 8-day-old one's rows stay */
    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_log_archive(f->st, now - 10 * DAY, "/x", collect_none, NULL, &n, &e),
                     0);
    assert_int_equal(n, 1);
    assert_int_equal(store_commit(f->st, &e), 0);
    assert_int_equal(pids(f), 2);
    /* all rows: the 8-day-old id goes, the 1-day-old one is kept for its receipt */
    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_log_archive(f->st, now, "/x", collect_none, NULL, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_int_equal(store_commit(f->st, &e), 0);
    assert_int_equal(pids(f), 1);
    char body[200];
    for (size_t i = 0; i < 3; i++) {
        snprintf(body, sizeof body, "[{\"report_status\":\"SUCCESS\",\"sid\":\"%s\","
                 "\"mobile\":\"13800000001\",\"errmsg\":\"DELIVRD\"}]", p[i].pid);
        cba_counts c = apply_at(f, CB_TENCENT_STATUS, body, now);
        assert_int_equal(c.applied, i == 2);
        assert_int_equal(c.unmatched, i != 2);
    }
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_receipts_once), T(test_receipt_by_ref), T(test_oa_user_block),
        T(test_reply_optout), T(test_credits), T(test_long_code_verified),
        T(test_long_ids_optout), T(test_long_pid_detail_utf8),
        T(test_replay_after_week), T(test_pids_archived),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
