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

#include "csvr.h"
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
    policy_chan chans[4];
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

/* Replace the fixture's template. */
static void use_tpl(fx *f, const char *text)
{
    cherr e;
    tpl_free(&f->t);
    if (tpl_parse(&f->t, "t2.ini", text, &e) < 0)
        fail_msg("%s", e.msg);
}

/* A template for sms and mp_subscribe, channels configured in that order. */
static const char sms_mp_tpl[] = "[template]\nclass = lifecycle\n"
                                 "[copy]\nbody = hi\n"
                                 "[sms]\ntemplate_id = 1234\nparams = hi\n"
                                 "[mp_subscribe]\ntemplate_id = TPL_A\ndata.thing1 = {{body}}\n";

static void use_sms_mp(fx *f)
{
    use_tpl(f, sms_mp_tpl);
    f->u.phone = "+8613800000000";
    f->chans[0] = (policy_chan){"sms", 1, 0, 0, 0};
    f->chans[1] = (policy_chan){"mp_subscribe", 1, 0, 0, 0};
    f->in.nchans = 2;
}

/* policy_load on a config text: 0, or -1 with the error in e. */
static int load_text(const char *conf, cherr *e)
{
    char dir[] = "/tmp/chuda-pcfg-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/c.conf", dir);
    FILE *fp = fopen(path, "w");
    fputs(conf, fp);
    fclose(fp);
    config cfg;
    policy p;
    int rc = cfg_load(&cfg, path, e);
    if (rc == 0) {
        rc = policy_load(&p, &cfg, e);
        if (rc == 0)
            policy_free(&p);
        cfg_free(&cfg);
    }
    unlink(path);
    rmdir(dir);
    return rc;
}

/* decide at ISO: sent, via CHANNEL */
static void sent_via(fx *f, const char *iso, const char *channel)
{
    decide_at(f, iso);
    if (f->d.verdict != POLICY_SEND || strcmp(f->d.channel, channel))
        fail_msg("%s: want sent via %s, got verdict %d (%s) %s", iso, channel, f->d.verdict,
                 f->d.channel, f->d.reason);
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

/* At the cap (3 sends on 2026-11-18, potential 3/7d), a KLASS message is dropped. */
static void dropped_at_cap(fx *f, char *klass)
{
    f->m.klass = klass;
    if (!f->in.nsends)
        for (int i = 0; i < 3; i++)
            add_send(f, "2026-11-18T04:00:00Z", "mp_subscribe");
    decide_at(f, "2026-11-19T04:00:00Z");
    char want[96];
    snprintf(want, sizeof want, "; %s messages are dropped at the cap", klass);
    if (f->d.verdict != POLICY_SUPPRESS || strcmp(f->d.code, "cap") || !strstr(f->d.reason, want))
        fail_msg("%s: not dropped at the cap: %d %s", klass, f->d.verdict, f->d.reason);
}

static void marketing_dropped_at_cap(void **state)
{
    dropped_at_cap(*state, "marketing");
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

/* Opt-out reasons are the user's words (up to 127 bytes, often Chinese): a sentence that
 * cannot hold them all is cut at a character, never inside one (a log row of bytes that
 * are not UTF-8 shows as one U+FFFD in the JSON export). */
static void optout_reasons_cut_at_a_character(void **state)
{
    fx *f = setup_cfg("[tier.potential]\nchannels = wecom_customer, sms, mp_subscribe\n");
    *state = f;
    use_tpl(f, "[template]\nclass = lifecycle\n[copy]\nbody = hi\n"
               "[wecom_customer]\ncontent = hi\n"
               "[sms]\ntemplate_id = 1234\nparams = hi\n"
               "[mp_subscribe]\ntemplate_id = TPL_A\ndata.thing1 = {{body}}\n");
    f->u.phone = "+8613800000000";
    f->u.wecom_external_userid = "wmX";
    f->chans[0] = (policy_chan){"wecom_customer", 1, 0, 0, 0};
    f->chans[1] = (policy_chan){"sms", 1, 0, 0, 0};
    f->chans[2] = (policy_chan){"mp_subscribe", 1, 0, 0, 0};
    f->in.nchans = 3;
    char why[128] = "x";                    /* 1 + 42 characters of 3 bytes: 127 bytes */
    for (int i = 0; i < 42; i++)
        strcat(why, "退");
    const char *chs[] = {"wecom_customer", "sms", "mp_subscribe"};
    for (int i = 0; i < 3; i++) {
        f->outs[i] = (store_optout){"", "marketing", T("2026-11-19T00:00:00Z"), "operator", ""};
        strcpy(f->outs[i].channel, chs[i]);
        strcpy(f->outs[i].reason, why);
    }
    f->in.noptouts = 3;
    decide_at(f, "2026-11-19T04:00:00Z");
    assert_int_equal(f->d.verdict, POLICY_SUPPRESS);
    assert_non_null(strstr(f->d.reason, "wecom_customer: opted out of wecom_customer"));
    if (csvr_utf8_bad(f->d.reason, strlen(f->d.reason)))
        fail_msg("reason not UTF-8 at byte %zu: %s",
                 csvr_utf8_bad(f->d.reason, strlen(f->d.reason)), f->d.reason);
    /* a deferral past the expiry quotes the reason it would have waited for, cut too */
    f->chans[2].paused_until = T("2026-11-20T00:00:00Z");
    f->m.expires_at = T("2026-11-19T12:00:00Z");
    f->outs[2].channel[0] = 'X';            /* mp_subscribe not opted out: paused */
    decide_at(f, "2026-11-19T04:00:00Z");
    assert_int_equal(f->d.verdict, POLICY_EXPIRE);
    if (csvr_utf8_bad(f->d.reason, strlen(f->d.reason)))
        fail_msg("expiry reason not UTF-8 at byte %zu: %s",
                 csvr_utf8_bad(f->d.reason, strlen(f->d.reason)), f->d.reason);
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

/* A real store in the fixture's directory, migrated, with a transaction open. */
static store *db_open(const fx *f, const char *name, char *db, size_t n)
{
    store *st;
    cherr e;
    int from, to;
    snprintf(db, n, "%s/%s", f->dir, name);
    assert_int_equal(store_sqlite_open(db, 1, &st, &e), 0);
    assert_int_equal(store_migrate(st, &from, &to, &e), 0);
    assert_int_equal(store_begin(st, &e), 0);
    return st;
}

/* Commit, close and remove it (the WAL and shared-memory files too). */
static void db_done(store *st, const char *db)
{
    cherr e;
    char side[160];
    store_commit(st, &e);
    store_close(st);
    unlink(db);
    snprintf(side, sizeof side, "%s-wal", db);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", db);
    unlink(side);
}

static void two_messages_one_batch_respect_the_cap(void **state)
{
    fx *f = *state;
    char db[128];
    cherr e;
    int sent = 0;
    store *st = db_open(f, "p.db", db, sizeof db);
    int64_t now = T("2026-11-19T04:00:00Z");
    store_send_reserve(st, "u1", 1, "mp_subscribe", now - TU_DAY, &e);
    store_send_settle(st, 1, 1, now - TU_DAY, &e);
    store_send_reserve(st, "u1", 2, "mp_subscribe", now - TU_HOUR, &e);
    store_send_settle(st, 2, 1, now - TU_HOUR, &e);
    for (int id = 10; id < 14; id++) {     /* four messages claimed together */
        f->m.id = id;
        assert_int_equal(store_sends_since(st, "u1", now - 7 * TU_DAY, 0, "", f->sends, 32,
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
    assert_int_equal(store_sends_since(st, "u1", 0, 0, "", f->sends, 32, &f->in.nsends, &e), 0);
    assert_int_equal(f->in.nsends, 3);
    assert_int_equal(store_send_settle(st, sent_id, 0, now, &e), 0);
    assert_int_equal(store_sends_since(st, "u1", 0, 0, "", f->sends, 32, &f->in.nsends, &e), 0);
    assert_int_equal(f->in.nsends, 2);
    /* a message reserved again (a retry, later) holds one reservation, the newer */
    assert_int_equal(store_send_reserve(st, "u1", 20, "sms", now - 60000, &e), 0);
    assert_int_equal(store_send_reserve(st, "u1", 20, "mp_subscribe", now, &e), 0);
    assert_int_equal(store_sends_since(st, "u1", 0, 0, "", f->sends, 32, &f->in.nsends, &e), 0);
    assert_int_equal(f->in.nsends, 3);
    assert_true(f->sends[2].at == now);
    assert_string_equal(f->sends[2].channel, "mp_subscribe");
    db_done(st, db);
}

/* More transactional sends than the history holds do not push the capped ones out: the
 * tier cap and a channel's monthly limit (which counts every class) still see theirs. */
static void uncapped_flood_keeps_caps_and_monthly_limits(void **state)
{
    fx *f = *state;
    char db[128];
    cherr e;
    store *st = db_open(f, "flood.db", db, sizeof db);
    int64_t now = T("2026-11-19T04:00:00Z");
    for (int id = 1; id <= 3; id++)         /* the cap, 3/7d, reached early in the week */
        assert_int_equal(store_send_reserve(st, "u1", id, "mp_subscribe", now - 3 * TU_DAY + id,
                                            &e), 0);
    for (int id = 100; id < 100 + 2 * POLICY_MAX_CAP; id++)   /* then codes by SMS */
        assert_int_equal(store_send_reserve_uncapped(st, "u1", id, "sms", now - TU_DAY + id, &e),
                         0);
    static store_send sends[POLICY_MAX_SENDS];
    f->in.sends = sends;
    int64_t since, month_since;
    char monthly[64];
    policy_history_args(&f->pol, f->chans, 1, now, &since, &month_since, monthly, sizeof monthly);
    assert_string_equal(monthly, "");
    assert_int_equal(store_sends_since(st, "u1", since, month_since, monthly, sends,
                                       POLICY_MAX_CAP, &f->in.nsends, &e), 0);
    assert_int_equal(f->in.nsends, 3);
    f->in.now = now;
    policy_decide(&f->pol, &f->in, &f->d);
    assert_int_equal(f->d.verdict, POLICY_DEFER);
    assert_string_equal(f->d.code, "cap");
    assert_non_null(strstr(f->d.reason, "3 sends since"));
    /* a monthly limit of 2 on mp_subscribe, reached by transactional sends: a
     * transactional message is not capped, but the limit holds it */
    for (int id = 4; id <= 5; id++)
        assert_int_equal(store_send_reserve_uncapped(st, "u1", id, "mp_subscribe",
                                                     now - 2 * TU_DAY + id, &e), 0);
    f->chans[0].monthly_limit = 2;
    f->m.klass = "transactional";
    policy_history_args(&f->pol, f->chans, 1, now, &since, &month_since, monthly, sizeof monthly);
    assert_string_equal(monthly, ",mp_subscribe,");
    assert_int_equal(store_sends_since(st, "u1", since, month_since, monthly, sends,
                                       POLICY_MAX_CAP, &f->in.nsends, &e), 0);
    assert_int_equal(f->in.nsends, 5);
    policy_decide(&f->pol, &f->in, &f->d);
    assert_int_not_equal(f->d.verdict, POLICY_SEND);
    assert_non_null(strstr(f->d.reason, "5 of 2 this month"));
    db_done(st, db);
}

/* ---- tiers: the shipped table ---- */

static void default_tiers_table(void **state)
{
    fx *f = *state;
    static const struct {
        const char *name;
        int n, days;
        const char *channels[4];
    } want[] = {
        {"high_value", 5, 7, {"wecom", "mp_subscribe", "oa_template", "sms"}},
        {"potential", 3, 7, {"mp_subscribe", "oa_template", "sms"}},
        {"new", 3, 7, {"mp_subscribe", "oa_template", "wecom"}},
        {"dormant", 2, 30, {"oa_template", "sms"}},
        {"churned", 1, 30, {"sms"}},
    };
    assert_int_equal(f->pol.ntiers, 5);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const policy_tier *t = policy_tier_find(&f->pol, want[i].name);
        assert_non_null(t);
        assert_int_equal(t->cap.n, want[i].n);
        assert_true(t->cap.window_ms == want[i].days * TU_DAY);
        assert_int_equal(t->nchcap, 0);
        assert_int_equal(t->has_quiet, 0);
        int n = 0;
        while (n < 4 && want[i].channels[n])
            n++;
        assert_int_equal(t->nchannels, n);
        for (int c = 0; c < n; c++)
            assert_string_equal(t->channels[c], want[i].channels[c]);
    }
    assert_null(policy_tier_find(&f->pol, "vip"));
}

static void configured_tier_keeps_the_defaults_it_does_not_set(void **state)
{
    fx *f = setup_cfg("[tier.potential]\ncap = 4/14d\n[tier.vip]\ncap = 9/7d\nchannels = sms\n");
    *state = f;
    const policy_tier *t = policy_tier_find(&f->pol, "potential");
    assert_int_equal(t->cap.n, 4);
    assert_true(t->cap.window_ms == 14 * TU_DAY);
    assert_int_equal(t->nchannels, 3);                  /* the shipped order, untouched */
    assert_string_equal(t->channels[0], "mp_subscribe");
    assert_string_equal(t->channels[2], "sms");
    t = policy_tier_find(&f->pol, "vip");
    assert_non_null(t);
    assert_int_equal(f->pol.ntiers, 6);
    assert_int_equal(t->cap.n, 9);
    assert_int_equal(t->nchannels, 1);
}

/* ---- caps: per channel, on_cap, expiry ---- */

static void channel_cap_frees_at_the_instant(void **state)
{
    fx *f = setup_cfg("[policy]\nquiet_hours = none\n"
                      "[tier.potential]\ncap = 5/7d\ncap.sms = 1/7d\nchannels = sms, mp_subscribe\n");
    *state = f;
    use_sms_mp(f);
    f->u.mp_openid = NULL;                              /* sms is the only way */
    add_send(f, "2026-11-18T04:00:00Z", "sms");
    add_send(f, "2026-11-19T04:00:00Z", "mp_subscribe");   /* not an SMS: not counted */
    decide_at(f, "2026-11-25T04:00:00Z");               /* exactly 7 days: still counted */
    assert_int_equal(f->d.verdict, POLICY_DEFER);
    assert_string_equal(f->d.code, "no_channel_now");
    assert_true(f->d.until == T("2026-11-25T04:00:00Z") + 1);
    assert_non_null(strstr(f->d.reason, "sms: cap.sms 1/7d reached: 1 sends since "
                                        "2026-11-18T04:00Z, next free 2026-11-25T04:00Z"));
    f->in.now = T("2026-11-25T04:00:00Z") + 1;          /* the window has freed */
    policy_decide(&f->pol, &f->in, &f->d);
    assert_int_equal(f->d.verdict, POLICY_SEND);
    assert_string_equal(f->d.channel, "sms");
    /* with an openid, a capped SMS falls through to the next channel at once */
    f->u.mp_openid = "oX";
    sent_via(f, "2026-11-20T04:00:00Z", "mp_subscribe");
}

static void channel_cap_on_cap_drop(void **state)
{
    fx *f = setup_cfg("[policy]\nquiet_hours = none\n"
                      "[tier.potential]\ncap = 5/7d\ncap.sms = 1/7d\nchannels = sms, mp_subscribe\n");
    *state = f;
    use_sms_mp(f);
    f->u.mp_openid = NULL;
    f->m.klass = "marketing";                           /* on_cap = drop */
    add_send(f, "2026-11-18T04:00:00Z", "sms");
    decide_at(f, "2026-11-20T04:00:00Z");               /* 12:00 China: SMS hours allow */
    assert_int_equal(f->d.verdict, POLICY_SUPPRESS);
    assert_string_equal(f->d.code, "no_channel");
    assert_non_null(strstr(f->d.reason, "sms: cap.sms 1/7d reached"));
}

/* cap = 0/D is "at most 0": the tier gets none of the capped classes (it was read as no
 * cap at all, and every message went); a deferral would never end, so it is dropped
 * whatever on_cap says. A per-channel 0 rules the channel out, and says so without dates. */
static void cap_of_zero_is_none(void **state)
{
    fx *f = setup_cfg("[tier.potential]\ncap = 0/30d\n[policy]\nquiet_hours = none\n");
    *state = f;
    decide_at(f, "2026-11-19T04:00:00Z");               /* lifecycle: on_cap = defer */
    assert_int_equal(f->d.verdict, POLICY_SUPPRESS);
    assert_string_equal(f->d.code, "cap");
    assert_string_equal(f->d.reason, "cap 0/30d: the tier gets no lifecycle messages");
    f->m.klass = "marketing";
    decide_at(f, "2026-11-19T04:00:00Z");
    assert_int_equal(f->d.verdict, POLICY_SUPPRESS);
    f->m.klass = "transactional";                       /* never capped */
    decide_at(f, "2026-11-19T04:00:00Z");
    assert_int_equal(f->d.verdict, POLICY_SEND);
    fx *g = setup_cfg("[tier.potential]\ncap.mp_subscribe = 0/7d\n[policy]\nquiet_hours = none\n");
    decide_at(g, "2026-11-19T04:00:00Z");
    assert_int_equal(g->d.verdict, POLICY_SUPPRESS);
    assert_string_equal(g->d.code, "no_channel");
    assert_non_null(strstr(g->d.reason, "mp_subscribe: cap.mp_subscribe 0/7d: none allowed"));
    teardown((void **)&g);
}

static void cap_deferral_past_expiry_is_expired(void **state)
{
    fx *f = *state;
    add_send(f, "2026-11-17T10:02:00Z", "mp_subscribe");
    add_send(f, "2026-11-18T10:02:00Z", "mp_subscribe");
    add_send(f, "2026-11-19T03:00:00Z", "mp_subscribe");
    int64_t next_free = T("2026-11-24T10:02:00Z") + 1;
    f->m.expires_at = next_free + 1;                    /* the window frees just in time */
    decide_at(f, "2026-11-20T04:00:00Z");
    assert_int_equal(f->d.verdict, POLICY_DEFER);
    assert_true(f->d.until == next_free);
    f->m.expires_at = next_free;                        /* expires as it would free */
    decide_at(f, "2026-11-20T04:00:00Z");
    assert_int_equal(f->d.verdict, POLICY_EXPIRE);
    assert_string_equal(f->d.code, "expired");
    assert_string_equal(f->d.reason, "would wait past its expiry 2026-11-24T10:02Z: cap 3/7d "
                                     "reached: 3 sends since 2026-11-17T10:02Z, next free "
                                     "2026-11-24T10:02Z");
}

static void channel_cap_deferral_past_expiry_is_expired(void **state)
{
    fx *f = setup_cfg("[policy]\nquiet_hours = none\n"
                      "[tier.potential]\ncap = 5/7d\ncap.sms = 1/7d\nchannels = sms\n");
    *state = f;
    use_sms_mp(f);
    add_send(f, "2026-11-18T04:00:00Z", "sms");
    f->m.expires_at = T("2026-11-25T04:00:00Z");
    decide_at(f, "2026-11-20T04:00:00Z");
    assert_int_equal(f->d.verdict, POLICY_EXPIRE);
    assert_non_null(strstr(f->d.reason, "would wait past its expiry 2026-11-25T04:00Z: no "
                                        "channel now (sms: cap.sms 1/7d reached"));
}

static void on_cap_is_per_class(void **state)
{
    fx *f = setup_cfg("[class.lifecycle]\non_cap = drop\n[class.marketing]\non_cap = defer\n");
    *state = f;
    dropped_at_cap(f, "lifecycle");
    f->m.klass = "marketing";
    decide_at(f, "2026-11-19T04:00:00Z");
    assert_int_equal(f->d.verdict, POLICY_DEFER);
    assert_string_equal(f->d.code, "cap");
    assert_true(f->d.until == T("2026-11-25T04:00:00Z") + 1);
    f->m.klass = "transactional";                       /* not capped at all */
    decide_at(f, "2026-11-19T04:00:00Z");
    assert_int_equal(f->d.verdict, POLICY_SEND);
    cherr e;
    assert_int_equal(load_text("[class.marketing]\non_cap = later\n", &e), -1);
    assert_non_null(strstr(e.msg, "c.conf:2: [class.marketing] on_cap: 'later' is not defer "
                                  "or drop"));
}

static void transactional_ignores_every_cap_and_quiet_window(void **state)
{
    fx *f = setup_cfg("[policy]\nquiet_hours = 20:00-10:00\n"
                      "[tier.potential]\ncap = 1/30d\ncap.mp_subscribe = 1/30d\n"
                      "quiet_hours = 12:00-11:00\n");
    *state = f;
    for (int i = 0; i < 5; i++)
        add_send(f, "2026-11-19T03:00:00Z", "mp_subscribe");
    decide_at(f, "2026-11-19T04:00:00Z");               /* 12:00 China: the tier's window */
    assert_int_equal(f->d.verdict, POLICY_DEFER);
    assert_string_equal(f->d.code, "quiet_hours");
    f->m.klass = "transactional";
    sent_via(f, "2026-11-19T04:00:00Z", "mp_subscribe");
    decide_at(f, "2026-11-19T15:00:00Z");               /* 23:00 China: the default's too */
    assert_int_equal(f->d.verdict, POLICY_SEND);
}

static void transactional_quiet_hours_are_refused(void **state)
{
    (void)state;
    cherr e;
    assert_int_equal(load_text("[chuda]\n\n[class.transactional]\nquiet_hours = 22:00-07:00\n", &e),
                     -1);
    assert_non_null(strstr(e.msg, "c.conf:4: [class.transactional] quiet_hours: transactional "
                                  "messages are never held by quiet hours"));
    assert_int_equal(load_text("[class.transactional]\nquiet_hours = none\n", &e), 0);
    assert_int_equal(load_text("[class.lifecycle]\nquiet_hours = 22:00-07:00\n", &e), 0);
}

static void marketing_sms_hours_exact_edges(void **state)
{
    fx *f = setup_cfg("[policy]\nquiet_hours = none\n[tier.potential]\nchannels = sms\n");
    *state = f;
    use_sms_mp(f);
    f->m.klass = "marketing";
    f->u.tz = "America/New_York";                       /* China time decides, not the user's */
    decide_at(f, "2026-11-19T21:59:59.999+08:00");
    assert_int_equal(f->d.verdict, POLICY_SEND);
    decide_at(f, "2026-11-19T22:00:00+08:00");
    assert_int_equal(f->d.verdict, POLICY_DEFER);
    assert_string_equal(f->d.code, "no_channel_now");
    assert_true(f->d.until == T("2026-11-20T08:00:00+08:00"));
    decide_at(f, "2026-11-20T07:59:59.999+08:00");
    assert_int_equal(f->d.verdict, POLICY_DEFER);
    assert_true(f->d.until == T("2026-11-20T08:00:00+08:00"));
    sent_via(f, "2026-11-20T08:00:00+08:00", "sms");
}

/* ---- quiet hours at their edges ---- */

/* decide at ISO: deferred for quiet hours to exactly UNTIL, or sent when UNTIL is NULL */
static void quiet_at(fx *f, const char *iso, const char *until)
{
    decide_at(f, iso);
    if (!until) {
        if (f->d.verdict != POLICY_SEND)
            fail_msg("%s (%s): not sent: %s", iso, f->u.tz, f->d.reason);
        return;
    }
    char b[32];
    if (f->d.verdict != POLICY_DEFER || strcmp(f->d.code, "quiet_hours") ||
        f->d.until != T(until))
        fail_msg("%s (%s): want quiet until %s, got verdict %d until %s: %s", iso, f->u.tz,
                 until, f->d.verdict, tu_format(f->d.until, b, sizeof b), f->d.reason);
}

static void quiet_hours_exact_edges(void **state)
{
    fx *f = setup_cfg("[policy]\nquiet_release_spread = 0s\n");
    *state = f;
    quiet_at(f, "2026-11-19T22:59:59.999+08:00", NULL);
    quiet_at(f, "2026-11-19T23:00:00+08:00", "2026-11-20T08:00:00+08:00");
    assert_non_null(strstr(f->d.reason, "(local 23:00)"));
    quiet_at(f, "2026-11-20T00:00:00+08:00", "2026-11-20T08:00:00+08:00");
    quiet_at(f, "2026-11-20T07:59:59.999+08:00", "2026-11-20T08:00:00+08:00");
    quiet_at(f, "2026-11-20T08:00:00+08:00", NULL);
}

static void quiet_hours_class_tier_default(void **state)
{
    fx *f = setup_cfg("[policy]\nquiet_release_spread = 0s\n"
                      "[tier.potential]\nquiet_hours = 12:00-14:00\n"
                      "[class.lifecycle]\nquiet_hours = 21:00-07:00\n");
    *state = f;
    /* lifecycle: its class window wins over the tier's and the default */
    quiet_at(f, "2026-11-19T12:30:00+08:00", NULL);
    quiet_at(f, "2026-11-19T21:00:00+08:00", "2026-11-20T07:00:00+08:00");
    quiet_at(f, "2026-11-19T23:30:00+08:00", "2026-11-20T07:00:00+08:00");
    quiet_at(f, "2026-11-20T07:00:00+08:00", NULL);
    /* marketing has no class window: the tier's replaces the default */
    f->m.klass = "marketing";
    quiet_at(f, "2026-11-19T11:59:59.999+08:00", NULL);
    quiet_at(f, "2026-11-19T12:00:00+08:00", "2026-11-19T14:00:00+08:00");
    quiet_at(f, "2026-11-19T13:59:59.999+08:00", "2026-11-19T14:00:00+08:00");
    quiet_at(f, "2026-11-19T14:00:00+08:00", NULL);
    quiet_at(f, "2026-11-19T23:30:00+08:00", NULL);
    /* a tier without a window: the default */
    f->u.tier = "new";
    quiet_at(f, "2026-11-19T12:30:00+08:00", NULL);
    quiet_at(f, "2026-11-19T23:30:00+08:00", "2026-11-20T08:00:00+08:00");
}

static void quiet_end_in_a_dst_gap(void **state)
{
    fx *f = setup_cfg("[policy]\nquiet_release_spread = 0s\nquiet_hours = 23:00-02:30\n");
    *state = f;
    /* New York 2026-03-08: 02:00 EST -> 03:00 EDT, so 02:30 never happens: 03:00 EDT */
    f->u.tz = "America/New_York";
    quiet_at(f, "2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z");          /* 01:00 EST */
    quiet_at(f, "2026-03-08T06:59:59.999Z", "2026-03-08T07:00:00Z");
    quiet_at(f, "2026-03-08T07:00:00Z", NULL);                            /* 03:00 EDT */
    /* Auckland 2026-09-27: 02:00 NZST (+12) -> 03:00 NZDT: the night ends at 03:00 NZDT,
     * not at 02:30 a day later */
    f->u.tz = "Pacific/Auckland";
    quiet_at(f, "2026-09-26T13:30:00Z", "2026-09-26T14:00:00Z");          /* 01:30 NZST */
    quiet_at(f, "2026-09-26T14:00:00Z", NULL);                            /* 03:00 NZDT */
    /* London 2026-03-29: 01:00 GMT -> 02:00 BST; a 23:00-01:30 window ends at 02:00 BST */
    f->u.tz = "Europe/London";
    f->pol.quiet.end = 90;
    quiet_at(f, "2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z");
    quiet_at(f, "2026-03-29T01:00:00Z", NULL);
    /* a window starting in the gap starts when the gap ends */
    f->pol.quiet = (policy_hours){1, 150, 480};                           /* 02:30-08:00 */
    f->u.tz = "America/New_York";
    quiet_at(f, "2026-03-08T06:59:59.999Z", NULL);                        /* 01:59 EST */
    quiet_at(f, "2026-03-08T07:00:00Z", "2026-03-08T12:00:00Z");          /* 03:00 EDT */
}

static void quiet_end_in_a_repeated_hour(void **state)
{
    fx *f = setup_cfg("[policy]\nquiet_release_spread = 0s\nquiet_hours = 23:00-01:30\n");
    *state = f;
    /* New York 2026-11-01: 02:00 EDT -> 01:00 EST, 01:30 happens at 05:30Z and 06:30Z.
     * The night ends at the first 01:30; the second 01:00-01:30 is not quiet again. */
    f->u.tz = "America/New_York";
    quiet_at(f, "2026-11-01T04:30:00Z", "2026-11-01T05:30:00Z");          /* 00:30 EDT */
    quiet_at(f, "2026-11-01T05:30:00Z", NULL);                            /* 01:30 EDT */
    quiet_at(f, "2026-11-01T06:10:00Z", NULL);                            /* 01:10 EST */
    quiet_at(f, "2026-11-02T04:30:00Z", "2026-11-02T06:30:00Z");          /* next night */
    /* London 2026-10-25: 02:00 BST -> 01:00 GMT */
    f->u.tz = "Europe/London";
    quiet_at(f, "2026-10-25T00:10:00Z", "2026-10-25T00:30:00Z");          /* 01:10 BST */
    quiet_at(f, "2026-10-25T01:10:00Z", NULL);                            /* 01:10 GMT */
}

static void quiet_start_in_a_repeated_hour(void **state)
{
    fx *f = setup_cfg("[policy]\nquiet_release_spread = 0s\nquiet_hours = 01:30-08:00\n");
    *state = f;
    /* the night starts at the first 01:30 and stays quiet through the repeated hour */
    f->u.tz = "America/New_York";
    quiet_at(f, "2026-11-01T05:29:59.999Z", NULL);                        /* 01:29 EDT */
    quiet_at(f, "2026-11-01T05:30:00Z", "2026-11-01T13:00:00Z");          /* 01:30 EDT */
    quiet_at(f, "2026-11-01T06:10:00Z", "2026-11-01T13:00:00Z");          /* 01:10 EST */
    quiet_at(f, "2026-11-01T13:00:00Z", NULL);                            /* 08:00 EST */
    f->u.tz = "Europe/London";
    quiet_at(f, "2026-10-25T00:30:00Z", "2026-10-25T08:00:00Z");          /* 01:30 BST */
    quiet_at(f, "2026-10-25T01:10:00Z", "2026-10-25T08:00:00Z");          /* 01:10 GMT */
    quiet_at(f, "2026-10-26T01:10:00Z", NULL);                            /* 01:10, a day on */
}

/* ---- the release spread ---- */

static void release_spread_within_and_stable(void **state)
{
    fx *f = setup_cfg("[policy]\nquiet_release_spread = 10m\n");
    *state = f;
    int64_t end = T("2026-11-20T08:00:00+08:00");
    int used[10] = {0};
    for (int id = 1; id <= 300; id++) {
        f->m.id = id;
        decide_at(f, "2026-11-19T23:00:00+08:00");
        int64_t u = f->d.until;
        if (u < end || u >= end + 10 * TU_MIN)
            fail_msg("message %d released at %lld ms after 08:00", id, (long long)(u - end));
        used[(u - end) / TU_MIN]++;
        decide_at(f, "2026-11-20T03:00:00+08:00");
        assert_true(f->d.until == u);                   /* the same slot all night */
        decide_at(f, "2026-11-20T07:59:59.999+08:00");
        assert_true(f->d.until == u);
        f->in.now = u;                                  /* and at its slot it goes */
        policy_decide(&f->pol, &f->in, &f->d);
        assert_int_equal(f->d.verdict, POLICY_SEND);
    }
    for (int m = 0; m < 10; m++)                        /* every minute of the spread used */
        if (used[m] < 10)
            fail_msg("minute %d of the spread got %d of 300", m, used[m]);
}

static void release_spread_must_fit_the_open_hours(void **state)
{
    (void)state;
    cherr e;
    assert_int_equal(load_text("[policy]\nquiet_release_spread = 899m\n", &e), 0);
    assert_int_equal(load_text("[policy]\nquiet_release_spread = 15h\n", &e), -1);
    assert_string_equal(e.msg + strlen(e.msg) - strlen("next quiet hours"), "next quiet hours");
    assert_non_null(strstr(e.msg, "c.conf:2: [policy] quiet_release_spread: 15h is not shorter "
                                  "than the 15h00m that [policy] quiet_hours leaves open "
                                  "(08:00-23:00)"));
    /* the default spread against a tier's or a class's window: named by that line */
    assert_int_equal(load_text("[chuda]\n[tier.potential]\nquiet_hours = 08:00-07:45\n", &e), -1);
    assert_non_null(strstr(e.msg, "c.conf:3: [policy] quiet_release_spread: 30m is not shorter "
                                  "than the 0h15m that [tier.potential] quiet_hours leaves open "
                                  "(07:45-08:00)"));
    assert_int_equal(load_text("[class.marketing]\nquiet_hours = 22:00-21:50\n"
                               "[policy]\nquiet_release_spread = 10m\n", &e), -1);
    assert_non_null(strstr(e.msg, "c.conf:4: [policy] quiet_release_spread: 10m is not shorter "
                                  "than the 0h10m that [class.marketing] quiet_hours"));
    assert_int_equal(load_text("[class.marketing]\nquiet_hours = none\n"
                               "[policy]\nquiet_hours = none\nquiet_release_spread = 2d\n", &e), 0);
}

/* ---- best time across a DST change ---- */

static void best_time_across_dst(void **state)
{
    fx *f = setup_cfg("[policy]\nquiet_hours = none\n");
    *state = f;
    f->m.window = "best";
    f->u.tz = "America/New_York";
    f->in.active_hour = 20;
    decide_at(f, "2026-10-31T21:00:00-04:00");          /* the evening before fall-back */
    assert_int_equal(f->d.verdict, POLICY_DEFER);
    assert_string_equal(f->d.code, "best_time");
    assert_true(f->d.until == T("2026-11-01T20:00:00-05:00"));   /* 24 h on the wall, 24+1 */
    decide_at(f, "2026-03-07T21:00:00-05:00");          /* the evening before spring-forward */
    assert_true(f->d.until == T("2026-03-08T20:00:00-04:00"));
    f->in.now = T("2026-03-08T20:00:00-04:00");
    policy_decide(&f->pol, &f->in, &f->d);
    assert_int_equal(f->d.verdict, POLICY_SEND);
    f->u.tz = "Europe/London";
    f->in.active_hour = 9;
    decide_at(f, "2026-03-28T12:00:00Z");
    assert_true(f->d.until == T("2026-03-29T09:00:00+01:00"));
    decide_at(f, "2026-10-24T12:00:00+01:00");
    assert_true(f->d.until == T("2026-10-25T09:00:00Z"));
    /* an active hour the clocks skip that night: the instant after the gap, and then it
     * goes (it is not moved again to the next day) */
    f->u.tz = "America/New_York";
    f->in.active_hour = 2;
    decide_at(f, "2026-03-07T12:00:00-05:00");
    assert_int_equal(f->d.verdict, POLICY_DEFER);
    assert_true(f->d.until == T("2026-03-08T07:00:00Z"));
    f->in.now = T("2026-03-08T07:00:00Z");
    policy_decide(&f->pol, &f->in, &f->d);
    assert_int_equal(f->d.verdict, POLICY_SEND);
}

/* ---- opt-outs: which one stops which message ---- */

static void optout_match_combinations(void **state)
{
    fx *f = setup_cfg("[class.marketing]\ncategory = service\n");   /* remapped */
    *state = f;
    static const struct {
        const char *channel, *category;     /* the opt-out */
        const char *klass, *send_on;        /* the message, the channel (NULL: global check) */
        int match;
    } v[] = {
        {"*", "*", "lifecycle", NULL, 1},
        {"*", "*", "transactional", "sms", 1},
        {"*", "marketing", "lifecycle", NULL, 1},
        {"*", "marketing", "lifecycle", "sms", 1},
        {"*", "marketing", "transactional", NULL, 0},   /* service */
        {"*", "marketing", "marketing", NULL, 0},       /* remapped to service */
        {"*", "service", "transactional", "mp_subscribe", 1},
        {"*", "service", "marketing", "mp_subscribe", 1},
        {"*", "service", "lifecycle", "mp_subscribe", 0},
        {"sms", "*", "lifecycle", "sms", 1},
        {"sms", "*", "transactional", "sms", 1},
        {"sms", "*", "lifecycle", "mp_subscribe", 0},
        {"sms", "*", "lifecycle", NULL, 0},             /* a channel opt-out is not global */
        {"sms", "marketing", "lifecycle", "sms", 1},
        {"sms", "marketing", "transactional", "sms", 0},
        {"sms", "marketing", "lifecycle", "oa_template", 0},
        {"sms", "service", "transactional", "sms", 1},
        {"sms", "service", "lifecycle", "sms", 0},
        {"*", "marketing", "unknown_class", NULL, 1},   /* an unknown class counts as marketing */
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        store_optout o = {"", "", 0, "operator", ""};
        snprintf(o.channel, sizeof o.channel, "%s", v[i].channel);
        snprintf(o.category, sizeof o.category, "%s", v[i].category);
        const store_optout *m = policy_optout_match(&f->pol, v[i].klass, v[i].send_on, &o, 1);
        if ((m != NULL) != v[i].match)
            fail_msg("opt-out %s/%s, %s message on %s: match %d, want %d", v[i].channel,
                     v[i].category, v[i].klass, v[i].send_on ? v[i].send_on : "(global)",
                     m != NULL, v[i].match);
        assert_true(!m || m == &o);
    }
    /* several opt-outs: the one that matches is returned */
    store_optout two[2] = {{"oa_template", "*", 1, "provider", "43004"},
                           {"*", "service", 2, "operator", ""}};
    assert_ptr_equal(policy_optout_match(&f->pol, "transactional", "sms", two, 2), &two[1]);
    assert_ptr_equal(policy_optout_match(&f->pol, "lifecycle", "oa_template", two, 2), &two[0]);
    assert_null(policy_optout_match(&f->pol, "lifecycle", "sms", two, 2));
    assert_null(policy_optout_match(&f->pol, "lifecycle", "sms", two, 0));
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
    /* a cap larger than the sends the policy is shown could never be reached */
    assert_int_equal(policy_parse_cap("256/7d", &c, &e), 0);
    assert_int_equal(policy_parse_cap("257/7d", &c, &e), -1);
    fp = fopen(path, "w");
    fputs("[tier.vip]\nchannels = sms\ncap = 5/7d\ncap.sms = 1000/30d\n", fp);
    fclose(fp);
    assert_int_equal(cfg_load(&cfg, path, &e), 0);
    assert_int_equal(policy_load(&p, &cfg, &e), -1);
    assert_non_null(strstr(e.msg, "c.conf:4: [tier.vip] cap.sms: cap '1000/30d': N is at most 256"));
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
        cmocka_unit_test_teardown(optout_reasons_cut_at_a_character, teardown),
        cmocka_unit_test_setup_teardown(credits_gate_mp_subscribe, setup, teardown),
        cmocka_unit_test_setup_teardown(refused_channel_is_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(paused_channel_defers, setup, teardown),
        cmocka_unit_test_setup_teardown(no_address_no_channel, setup, teardown),
        cmocka_unit_test_teardown(marketing_sms_only_in_the_day, teardown),
        cmocka_unit_test_teardown(monthly_limit_is_a_calendar_month_in_china, teardown),
        cmocka_unit_test_setup_teardown(expiry_and_deferral_past_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(best_time_moves_to_active_hour, setup, teardown),
        cmocka_unit_test_setup_teardown(two_messages_one_batch_respect_the_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(uncapped_flood_keeps_caps_and_monthly_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(default_tiers_table, setup, teardown),
        cmocka_unit_test_teardown(configured_tier_keeps_the_defaults_it_does_not_set, teardown),
        cmocka_unit_test_teardown(channel_cap_frees_at_the_instant, teardown),
        cmocka_unit_test_teardown(channel_cap_on_cap_drop, teardown),
        cmocka_unit_test_teardown(cap_of_zero_is_none, teardown),
        cmocka_unit_test_setup_teardown(cap_deferral_past_expiry_is_expired, setup, teardown),
        cmocka_unit_test_teardown(channel_cap_deferral_past_expiry_is_expired, teardown),
        cmocka_unit_test_teardown(on_cap_is_per_class, teardown),
        cmocka_unit_test_teardown(transactional_ignores_every_cap_and_quiet_window, teardown),
        cmocka_unit_test(transactional_quiet_hours_are_refused),
        cmocka_unit_test_teardown(marketing_sms_hours_exact_edges, teardown),
        cmocka_unit_test_teardown(quiet_hours_exact_edges, teardown),
        cmocka_unit_test_teardown(quiet_hours_class_tier_default, teardown),
        cmocka_unit_test_teardown(quiet_end_in_a_dst_gap, teardown),
        cmocka_unit_test_teardown(quiet_end_in_a_repeated_hour, teardown),
        cmocka_unit_test_teardown(quiet_start_in_a_repeated_hour, teardown),
        cmocka_unit_test_teardown(release_spread_within_and_stable, teardown),
        cmocka_unit_test(release_spread_must_fit_the_open_hours),
        cmocka_unit_test_teardown(best_time_across_dst, teardown),
        cmocka_unit_test_teardown(optout_match_combinations, teardown),
        cmocka_unit_test(config_errors_name_the_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
