/* test_policy.c — every rule of policy_decide at its edges, with a fixed clock:
 * rolling caps (the instant the window frees), per-channel caps, on_cap, quiet hours
 * across midnight and across DST changes (New York, London), opt-outs by channel and
 * category, subscription credits, fallback, paused channels, expiry, best time, and
 * the reservation that keeps two messages in one batch under the cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"
#include "timeutil.h"
#include "tz.h"

static const char tpl_text[] =
    "[template]\nclass = lifecycle\n"
    "[copy]\nbody = hi\n"
    "[mp_subscribe]\ntemplate_id = TPL_A\ndata.thing1 = {{body}}\n";

typedef struct fx {
    char dir[64];
    config cfg;
    policy pol;
    tpl t;
    store_msg m;
    store_user u;
    policy_chan chans[2];
    store_send sends[64];
    store_optout outs[8];
    policy_input in;
    policy_decision d;
} fx;

static int64_t T(const char *iso)
{
    int64_t ms;
    cherr e;
    assert_int_equal(tu_parse_time(iso, 0, &ms, &e), 0);
    return ms;
}

/* Build a fixture from extra config lines; user in Asia/Shanghai, tier potential. */
static fx *setup_cfg(const char *conf)
{
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/chuda-policy-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char path[128];
    snprintf(path, sizeof path, "%s/c.conf", f->dir);
    FILE *fp = fopen(path, "w");
    fputs(conf, fp);
    fclose(fp);
    cherr e;
    if (cfg_load(&f->cfg, path, &e) < 0)
        fail_msg("%s", e.msg);
    if (policy_load(&f->pol, &f->cfg, &e) < 0)
        fail_msg("%s", e.msg);
    if (tpl_parse(&f->t, "t.ini", tpl_text, &e) < 0)
        fail_msg("%s", e.msg);
    f->m = (store_msg){.id = 42, .klass = "lifecycle", .user_id = "u1"};
    f->u = (store_user){.user_id = "u1", .tier = "potential", .tz = "Asia/Shanghai",
                        .mp_openid = "oX"};
    f->chans[0] = (policy_chan){"mp_subscribe", 1, 0, 0, 0};
    f->in = (policy_input){.m = &f->m, .u = &f->u, .t = &f->t, .chans = f->chans, .nchans = 1,
                           .sends = f->sends, .optouts = f->outs, .mp_template_id = "TPL_A",
                           .mp_credits = -1, .active_hour = -1};
    return f;
}

static int setup(void **state)
{
    *state = setup_cfg("[policy]\nquiet_hours = 23:00-08:00\n");
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    policy_free(&f->pol);
    tpl_free(&f->t);
    char path[128];
    snprintf(path, sizeof path, "%s/c.conf", f->dir);
    unlink(path);
    rmdir(f->dir);
    cfg_free(&f->cfg);
    free(f);
    return 0;
}

static void decide_at(fx *f, const char *iso)
{
    f->in.now = T(iso);
    policy_decide(&f->pol, &f->in, &f->d);
}

static void add_send(fx *f, const char *iso, const char *ch)
{
    f->sends[f->in.nsends].at = T(iso);
    snprintf(f->sends[f->in.nsends].channel, 32, "%s", ch);
    f->in.nsends++;
}

/* ---- caps ---- */

static void cap_under_limit_sends(void **state)
{
    fx *f = *state;
    add_send(f, "2026-11-17T02:02:00Z", "mp_subscribe");
    add_send(f, "2026-11-18T02:02:00Z", "mp_subscribe");
    decide_at(f, "2026-11-19T04:00:00Z");   /* 12:00 Shanghai */
    assert_int_equal(f->d.verdict, POLICY_SEND);
    assert_string_equal(f->d.channel, "mp_subscribe");
}

static void cap_reached_defers_with_figures(void **state)
{
    fx *f = *state;
    add_send(f, "2026-11-17T10:02:00Z", "mp_subscribe");
    add_send(f, "2026-11-18T10:02:00Z", "mp_subscribe");
    add_send(f, "2026-11-19T03:00:00Z", "mp_subscribe");
    decide_at(f, "2026-11-20T04:00:00Z");
    assert_int_equal(f->d.verdict, POLICY_DEFER);
    assert_string_equal(f->d.code, "cap");
    assert_true(f->d.until == T("2026-11-24T10:02:00Z") + 1);
    assert_string_equal(f->d.reason, "cap 3/7d reached: 3 sends since 2026-11-17T10:02Z, "
                                     "next free 2026-11-24T10:02Z");
}

static void cap_window_frees_at_the_instant(void **state)
{
    fx *f = *state;
    add_send(f, "2026-11-17T04:00:00Z", "mp_subscribe");
    add_send(f, "2026-11-18T04:00:00Z", "mp_subscribe");
    add_send(f, "2026-11-19T04:00:00Z", "mp_subscribe");
    f->in.now = T("2026-11-24T04:00:00Z");      /* exactly 7 days: still counted */
    policy_decide(&f->pol, &f->in, &f->d);
    assert_int_equal(f->d.verdict, POLICY_DEFER);
    f->in.now = T("2026-11-24T04:00:00Z") + 1;  /* one ms later: free */
    policy_decide(&f->pol, &f->in, &f->d);
    assert_int_equal(f->d.verdict, POLICY_SEND);
}

static void marketing_dropped_at_cap(void **state)
{
    fx *f = *state;
    f->m.klass = "marketing";
    for (int i = 0; i < 3; i++)
        add_send(f, "2026-11-18T04:00:00Z", "mp_subscribe");
    decide_at(f, "2026-11-19T04:00:00Z");
    assert_int_equal(f->d.verdict, POLICY_SUPPRESS);
    assert_string_equal(f->d.code, "cap");
    assert_non_null(strstr(f->d.reason, "marketing messages are dropped at the cap"));
}

static void transactional_never_capped_nor_quiet(void **state)
{
    fx *f = *state;
    f->m.klass = "transactional";
    for (int i = 0; i < 10; i++)
        add_send(f, "2026-11-18T04:00:00Z", "mp_subscribe");
    decide_at(f, "2026-11-18T17:00:00Z");   /* 01:00 Shanghai: quiet for others */
    assert_int_equal(f->d.verdict, POLICY_SEND);
}

static void dormant_cap_is_two_per_30_days(void **state)
{
    fx *f = *state;
    f->u.tier = "dormant";
    const policy_tier *t = policy_tier_find(&f->pol, "dormant");
    assert_non_null(t);
    assert_int_equal(t->cap.n, 2);
    assert_true(t->cap.window_ms == 30 * TU_DAY);
    add_send(f, "2026-10-25T04:00:00Z", "oa_template");
    add_send(f, "2026-11-01T04:00:00Z", "oa_template");
    decide_at(f, "2026-11-20T04:00:00Z");
    assert_int_equal(f->d.verdict, POLICY_DEFER);
    assert_true(f->d.until == T("2026-11-24T04:00:00Z") + 1);
}

static void per_channel_cap_defers(void **state)
{
    fx *f = setup_cfg("[tier.potential]\ncap = 5/7d\ncap.mp_subscribe = 1/7d\n"
                      "channels = mp_subscribe\n");
    add_send(f, "2026-11-18T04:00:00Z", "mp_subscribe");
    decide_at(f, "2026-11-19T04:00:00Z");
    assert_int_equal(f->d.verdict, POLICY_DEFER);
    assert_non_null(strstr(f->d.reason, "cap.mp_subscribe 1/7d reached"));
    assert_true(f->d.until == T("2026-11-25T04:00:00Z") + 1);
    *state = f;
}

/* ---- quiet hours ---- */

static void quiet_hours_across_midnight(void **state)
{
    fx *f = *state;
    decide_at(f, "2026-11-19T15:30:00Z");   /* 23:30 Shanghai */
    assert_int_equal(f->d.verdict, POLICY_DEFER);
    assert_string_equal(f->d.code, "quiet_hours");
    int64_t end = T("2026-11-20T08:00:00+08:00");
    assert_true(f->d.until >= end && f->d.until < end + 30 * TU_MIN);
    assert_non_null(strstr(f->d.reason, "quiet hours 23:00-08:00 in Asia/Shanghai (local 23:30)"));
    decide_at(f, "2026-11-19T23:59:00Z");   /* 07:59 */
    assert_int_equal(f->d.verdict, POLICY_DEFER);
    assert_true(f->d.until >= end && f->d.until < end + 30 * TU_MIN);
    decide_at(f, "2026-11-20T00:00:00Z");   /* 08:00: open */
    assert_int_equal(f->d.verdict, POLICY_SEND);
    decide_at(f, "2026-11-19T14:59:00Z");   /* 22:59: open */
    assert_int_equal(f->d.verdict, POLICY_SEND);
}

static void quiet_release_is_spread_and_stable(void **state)
{
    fx *f = *state;
    int64_t lo = INT64_MAX, hi = 0;
    for (int id = 1; id <= 200; id++) {
        f->m.id = id;
        decide_at(f, "2026-11-19T16:00:00Z");
        int64_t u1 = f->d.until;
        decide_at(f, "2026-11-19T17:00:00Z");
        assert_true(f->d.until == u1);      /* the same message, the same slot */
        lo = u1 < lo ? u1 : lo;
        hi = u1 > hi ? u1 : hi;
    }
    assert_true(hi - lo > 20 * TU_MIN);     /* spread over the 30 minutes */
    assert_true(hi - lo < 30 * TU_MIN);
}

static void quiet_hours_new_york_spring_forward(void **state)
{
    fx *f = setup_cfg("[policy]\nquiet_release_spread = 0s\n");
    f->u.tz = "America/New_York";
    /* 2026-03-08 02:00 EST -> 03:00 EDT: 08:00 that morning is 12:00Z, not 13:00Z */
    decide_at(f, "2026-03-08T06:30:00Z");   /* 01:30 EST */
    assert_int_equal(f->d.verdict, POLICY_DEFER);
    assert_true(f->d.until == T("2026-03-08T12:00:00Z"));
    decide_at(f, "2026-03-08T12:00:00Z");
    assert_int_equal(f->d.verdict, POLICY_SEND);
    *state = f;
}

static void quiet_hours_new_york_fall_back(void **state)
{
    fx *f = setup_cfg("[policy]\nquiet_release_spread = 0s\n");
    f->u.tz = "America/New_York";
    /* 2026-11-01 02:00 EDT -> 01:00 EST: 08:00 is 13:00Z */
    decide_at(f, "2026-11-01T05:30:00Z");   /* 01:30 EDT */
    assert_int_equal(f->d.verdict, POLICY_DEFER);
    assert_true(f->d.until == T("2026-11-01T13:00:00Z"));
    decide_at(f, "2026-11-01T12:59:00Z");   /* 07:59 EST: still quiet */
    assert_int_equal(f->d.verdict, POLICY_DEFER);
    *state = f;
}

static void quiet_hours_london(void **state)
{
    fx *f = setup_cfg("[policy]\nquiet_release_spread = 0s\n");
    f->u.tz = "Europe/London";
    /* 2026-03-29 01:00 GMT -> 02:00 BST: 08:00 BST is 07:00Z */
    decide_at(f, "2026-03-29T00:30:00Z");
    assert_int_equal(f->d.verdict, POLICY_DEFER);
    assert_true(f->d.until == T("2026-03-29T07:00:00Z"));
    /* 2026-10-25 back to GMT: 08:00 is 08:00Z; 07:30Z is 07:30 GMT, quiet */
    decide_at(f, "2026-10-25T07:30:00Z");
    assert_int_equal(f->d.verdict, POLICY_DEFER);
    assert_true(f->d.until == T("2026-10-25T08:00:00Z"));
    *state = f;
}

static void quiet_hours_per_tier_and_class(void **state)
{
    fx *f = setup_cfg("[tier.potential]\nquiet_hours = 21:00-09:00\n"
                      "[class.marketing]\nquiet_hours = none\n");
    decide_at(f, "2026-11-19T13:30:00Z");   /* 21:30 Shanghai: tier says quiet */
    assert_int_equal(f->d.verdict, POLICY_DEFER);
    f->m.klass = "marketing";                /* the class override wins */
    decide_at(f, "2026-11-19T13:30:00Z");
    assert_int_equal(f->d.verdict, POLICY_SEND);
    *state = f;
}

/* ---- opt-outs ---- */

static void global_optout_suppresses_by_category(void **state)
{
    fx *f = *state;
    f->outs[0] = (store_optout){"*", "marketing", T("2026-11-19T00:00:00Z"), "operator", ""};
    f->in.noptouts = 1;
    decide_at(f, "2026-11-19T04:00:00Z");
    assert_int_equal(f->d.verdict, POLICY_SUPPRESS);
    assert_string_equal(f->d.code, "optout");
    assert_non_null(strstr(f->d.reason, "opted out"));
    f->m.klass = "transactional";           /* service messages still go */
    decide_at(f, "2026-11-19T04:00:00Z");
    assert_int_equal(f->d.verdict, POLICY_SEND);
}

static void channel_optout_leaves_no_channel(void **state)
{
    fx *f = *state;
    f->outs[0] = (store_optout){"mp_subscribe", "*", T("2026-11-19T00:00:00Z"), "provider", ""};
    f->in.noptouts = 1;
    decide_at(f, "2026-11-19T04:00:00Z");
    assert_int_equal(f->d.verdict, POLICY_SUPPRESS);
    assert_non_null(strstr(f->d.reason, "mp_subscribe: opted out of mp_subscribe"));
    assert_int_equal(policy_optout_match(&f->pol, "lifecycle", "mp_subscribe", f->outs, 1) != NULL,
                     1);
    assert_null(policy_optout_match(&f->pol, "lifecycle", NULL, f->outs, 1));
}

/* ---- credits, fallback, pauses ---- */

static void credits_gate_mp_subscribe(void **state)
{
    fx *f = *state;
    f->chans[0].credits = 1;
    f->in.mp_credits = -1;
    decide_at(f, "2026-11-19T04:00:00Z");
    assert_int_equal(f->d.verdict, POLICY_SUPPRESS);
    assert_non_null(strstr(f->d.reason, "no subscription credit for TPL_A (never granted)"));
    f->in.mp_credits = 0;
    decide_at(f, "2026-11-19T04:00:00Z");
    assert_non_null(strstr(f->d.reason, "(all used)"));
    f->in.mp_credits = 1;
    decide_at(f, "2026-11-19T04:00:00Z");
    assert_int_equal(f->d.verdict, POLICY_SEND);
}

static void refused_channel_is_skipped(void **state)
{
    fx *f = *state;
    f->m.skip = "mp_subscribe";
    decide_at(f, "2026-11-19T04:00:00Z");
    assert_int_equal(f->d.verdict, POLICY_SUPPRESS);
    assert_string_equal(f->d.code, "no_channel");
    assert_non_null(strstr(f->d.reason, "mp_subscribe: refused earlier for this message"));
    assert_non_null(strstr(f->d.reason, "oa_template: not configured"));
}

static void paused_channel_defers(void **state)
{
    fx *f = *state;
    f->chans[0].paused_until = T("2026-11-19T16:00:00Z");
    decide_at(f, "2026-11-19T04:00:00Z");
    assert_int_equal(f->d.verdict, POLICY_DEFER);
    assert_true(f->d.until == T("2026-11-19T16:00:00Z"));
    assert_non_null(strstr(f->d.reason, "paused by provider until 2026-11-19T16:00Z"));
}

static void no_address_no_channel(void **state)
{
    fx *f = *state;
    f->u.mp_openid = NULL;
    decide_at(f, "2026-11-19T04:00:00Z");
    assert_int_equal(f->d.verdict, POLICY_SUPPRESS);
    assert_non_null(strstr(f->d.reason, "mp_subscribe: user has no mp_openid"));
}

static void marketing_sms_only_in_the_day(void **state)
{
    fx *f = setup_cfg("[tier.potential]\nchannels = sms\n");
    static const char sms_tpl[] = "[template]\nclass = marketing\n"
                                  "[sms]\ntemplate_id = 1234\nparams = hi\n";
    cherr e;
    tpl_free(&f->t);
    if (tpl_parse(&f->t, "s.ini", sms_tpl, &e) < 0)
        fail_msg("%s", e.msg);
    f->u.phone = "+8613800000000";
    f->chans[0] = (policy_chan){"sms", 1, 0, 0, 0};
    f->m.klass = "marketing";
    decide_at(f, "2026-11-19T22:30:00+08:00");   /* before quiet hours, after 22:00 */
    assert_int_equal(f->d.verdict, POLICY_DEFER);
    assert_true(f->d.until == T("2026-11-20T08:00:00+08:00"));
    assert_non_null(strstr(f->d.reason, "sms: marketing SMS only 08:00-22:00 China time"));
    f->m.klass = "lifecycle";                     /* the rule is for marketing only */
    decide_at(f, "2026-11-19T22:30:00+08:00");
    assert_int_equal(f->d.verdict, POLICY_SEND);
    assert_string_equal(f->d.channel, "sms");
    *state = f;
}

static void monthly_limit_is_a_calendar_month_in_china(void **state)
{
    fx *f = setup_cfg("[tier.potential]\ncap = 10/7d\n");   /* the tier cap stays out of it */
    *state = f;
    f->chans[0].monthly_limit = 2;
    add_send(f, "2026-11-30T20:00:00+08:00", "mp_subscribe");   /* November, China time */
    add_send(f, "2026-12-01T00:30:00+08:00", "mp_subscribe");   /* December */
    decide_at(f, "2026-12-02T10:00:00+08:00");
    assert_int_equal(f->d.verdict, POLICY_SEND);                /* 1 of 2 this month */
    add_send(f, "2026-12-02T10:00:00+08:00", "mp_subscribe");
    decide_at(f, "2026-12-03T10:00:00+08:00");
    assert_int_equal(f->d.verdict, POLICY_DEFER);
    assert_true(f->d.until == T("2027-01-01T00:00:00+08:00"));
    assert_non_null(strstr(f->d.reason, "2 of 2 this month"));
    assert_true(policy_history(&f->pol, T("2026-12-31T23:00:00+08:00")) >= 30 * TU_DAY);
}

/* ---- expiry, best time ---- */

static void expiry_and_deferral_past_expiry(void **state)
{
    fx *f = *state;
    f->m.expires_at = T("2026-11-19T04:00:00Z");
    decide_at(f, "2026-11-19T04:00:00Z");
    assert_int_equal(f->d.verdict, POLICY_EXPIRE);
    f->m.expires_at = T("2026-11-20T01:00:00+08:00");
    decide_at(f, "2026-11-19T23:30:00+08:00");   /* quiet until 08:00: past expiry */
    assert_int_equal(f->d.verdict, POLICY_EXPIRE);
    assert_non_null(strstr(f->d.reason, "would wait past its expiry"));
}

static void best_time_moves_to_active_hour(void **state)
{
    fx *f = *state;
    f->m.window = "best";
    f->in.active_hour = 20;
    decide_at(f, "2026-11-19T10:00:00+08:00");
    assert_int_equal(f->d.verdict, POLICY_DEFER);
    assert_true(f->d.until == T("2026-11-19T20:00:00+08:00"));
    decide_at(f, "2026-11-19T20:15:00+08:00");
    assert_int_equal(f->d.verdict, POLICY_SEND);
    f->in.active_hour = 2;                       /* inside quiet hours: ignored */
    decide_at(f, "2026-11-19T10:00:00+08:00");
    assert_int_equal(f->d.verdict, POLICY_SEND);
    f->in.active_hour = 20;                      /* no occurrence before expiry: now */
    f->m.expires_at = T("2026-11-19T12:00:00+08:00");
    decide_at(f, "2026-11-19T10:00:00+08:00");
    assert_int_equal(f->d.verdict, POLICY_SEND);
}

/* ---- one batch: the reservation written with the decision is seen by the next ---- */

static void two_messages_one_batch_respect_the_cap(void **state)
{
    fx *f = *state;
    char db[128];
    snprintf(db, sizeof db, "%s/p.db", f->dir);
    store *st;
    cherr e;
    int from, to, sent = 0;
    assert_int_equal(store_sqlite_open(db, 1, &st, &e), 0);
    assert_int_equal(store_migrate(st, &from, &to, &e), 0);
    int64_t now = T("2026-11-19T04:00:00Z");
    assert_int_equal(store_begin(st, &e), 0);
    store_send_reserve(st, "u1", 1, "mp_subscribe", now - TU_DAY, &e);
    store_send_settle(st, 1, 1, now - TU_DAY, &e);
    store_send_reserve(st, "u1", 2, "mp_subscribe", now - TU_HOUR, &e);
    store_send_settle(st, 2, 1, now - TU_HOUR, &e);
    for (int id = 10; id < 14; id++) {     /* four messages claimed together */
        f->m.id = id;
        assert_int_equal(store_sends_since(st, "u1", now - 7 * TU_DAY, f->sends, 64,
                                           &f->in.nsends, &e), 0);
        f->in.now = now;
        policy_decide(&f->pol, &f->in, &f->d);
        if (f->d.verdict == POLICY_SEND) {
            sent++;
            assert_int_equal(store_send_reserve(st, "u1", id, f->d.channel, now, &e), 0);
        }
    }
    assert_int_equal(sent, 1);              /* 3/7d: two earlier, one more */
    /* a failed send gives its reservation back */
    int64_t sent_id = 10;
    assert_int_equal(store_sends_since(st, "u1", 0, f->sends, 64, &f->in.nsends, &e), 0);
    assert_int_equal(f->in.nsends, 3);
    assert_int_equal(store_send_settle(st, sent_id, 0, now, &e), 0);
    assert_int_equal(store_sends_since(st, "u1", 0, f->sends, 64, &f->in.nsends, &e), 0);
    assert_int_equal(f->in.nsends, 2);
    store_commit(st, &e);
    store_close(st);
    unlink(db);
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", db);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", db);
    unlink(wal);
}

/* ---- config ---- */

static void config_errors_name_the_line(void **state)
{
    (void)state;
    policy_cap c;
    policy_hours h;
    cherr e;
    assert_int_equal(policy_parse_cap("3/7d", &c, &e), 0);
    assert_int_equal(c.n, 3);
    assert_int_equal(policy_parse_cap("3 per week", &c, &e), -1);
    assert_int_equal(policy_parse_cap("3/0d", &c, &e), -1);
    assert_int_equal(policy_parse_hours("23:00-08:00", &h, &e), 0);
    assert_int_equal(h.start, 23 * 60);
    assert_int_equal(policy_parse_hours("none", &h, &e), 0);
    assert_int_equal(h.set, 0);
    assert_int_equal(policy_parse_hours("25:00-08:00", &h, &e), -1);
    char dir[] = "/tmp/chuda-pcfg-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/c.conf", dir);
    FILE *fp = fopen(path, "w");
    fputs("[tier.vip]\nchannels = mp_subscribe\ncap = lots\n", fp);
    fclose(fp);
    config cfg;
    policy p;
    assert_int_equal(cfg_load(&cfg, path, &e), 0);
    assert_int_equal(policy_load(&p, &cfg, &e), -1);
    assert_non_null(strstr(e.msg, "c.conf:3: [tier.vip] cap: cap 'lots'"));
    cfg_free(&cfg);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(cap_under_limit_sends, setup, teardown),
        cmocka_unit_test_setup_teardown(cap_reached_defers_with_figures, setup, teardown),
        cmocka_unit_test_setup_teardown(cap_window_frees_at_the_instant, setup, teardown),
        cmocka_unit_test_setup_teardown(marketing_dropped_at_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(transactional_never_capped_nor_quiet, setup, teardown),
        cmocka_unit_test_setup_teardown(dormant_cap_is_two_per_30_days, setup, teardown),
        cmocka_unit_test_teardown(per_channel_cap_defers, teardown),
        cmocka_unit_test_setup_teardown(quiet_hours_across_midnight, setup, teardown),
        cmocka_unit_test_setup_teardown(quiet_release_is_spread_and_stable, setup, teardown),
        cmocka_unit_test_teardown(quiet_hours_new_york_spring_forward, teardown),
        cmocka_unit_test_teardown(quiet_hours_new_york_fall_back, teardown),
        cmocka_unit_test_teardown(quiet_hours_london, teardown),
        cmocka_unit_test_teardown(quiet_hours_per_tier_and_class, teardown),
        cmocka_unit_test_setup_teardown(global_optout_suppresses_by_category, setup, teardown),
        cmocka_unit_test_setup_teardown(channel_optout_leaves_no_channel, setup, teardown),
        cmocka_unit_test_setup_teardown(credits_gate_mp_subscribe, setup, teardown),
        cmocka_unit_test_setup_teardown(refused_channel_is_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(paused_channel_defers, setup, teardown),
        cmocka_unit_test_setup_teardown(no_address_no_channel, setup, teardown),
        cmocka_unit_test_teardown(marketing_sms_only_in_the_day, teardown),
        cmocka_unit_test_teardown(monthly_limit_is_a_calendar_month_in_china, teardown),
        cmocka_unit_test_setup_teardown(expiry_and_deferral_past_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(best_time_moves_to_active_hour, setup, teardown),
        cmocka_unit_test_setup_teardown(two_messages_one_batch_respect_the_cap, setup, teardown),
        cmocka_unit_test(config_errors_name_the_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
