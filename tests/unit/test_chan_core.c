/* test_chan_core.c — what every channel shares (channel.c, token.c), with a fixed clock:
 * the retry delay (exponential from retry_base, capped at retry_cap, ±20 % jitter), the
 * token bucket (rate + burst, refunds), the transport outcomes, stable_token's forced
 * refresh quota (20 a China day, 30 s apart), and the paused-recipient map the scheduler
 * keeps per channel (strset with numbers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chan_fixture.h"
#include "cn_time.h"
#include "strset.h"
#include "timeutil.h"
#include "token.h"

extern const chan_ops chan_mp_subscribe;

static fix_chan *open_with(const char *extra)
{
    static char conf[512];
    snprintf(conf, sizeof conf, "[channel.mp_subscribe]\nappid = wxmp1\n"
             "secret_env = TEST_CORE_SECRET\n%s", extra);
    setenv("TEST_CORE_SECRET", "s", 1);
    fix_chan *fx = calloc(1, sizeof *fx);
    if (fix_open(fx, &chan_mp_subscribe, conf) < 0)
        fail_msg("open: %s", fx->e.msg);
    return fx;
}

static void close_fx(fix_chan *fx)
{
    fix_close(fx);
    free(fx);
}

/* attempt 2 waits retry_base, then doubles up to retry_cap; jitter stays within ±20 % */
static void test_retry_delay(void **state)
{
    fix_chan *fx = open_with("retry_base = 1s\nretry_cap = 10s\n");
    static const int64_t want[] = {0, 0, 1000, 2000, 4000, 8000, 10000, 10000, 10000};
    for (int a = 2; a <= 8; a++) {
        assert_int_equal(chan_retry_delay(fx->c, a, 0.5), want[a]);
        int64_t lo = chan_retry_delay(fx->c, a, 0.0), hi = chan_retry_delay(fx->c, a, 0.999999);
        assert_int_equal(lo, want[a] - want[a] / 5);
        assert_true(hi <= want[a] + want[a] / 5 && hi > want[a]);
    }
    /* many attempts: no overflow, still the cap */
    assert_int_equal(chan_retry_delay(fx->c, 90, 0.5), 10000);
    assert_int_equal(fx->c->max_attempts, 5);
    close_fx(fx);
    fx = open_with("max_attempts = 3\n");
    assert_int_equal(fx->c->max_attempts, 3);
    assert_int_equal(fx->c->retry_base, 1000);
    assert_int_equal(fx->c->retry_cap, 60000);
    close_fx(fx);
}

/* rate = 2/s, burst = 3: three at once, then one every 500 ms; a refund gives one back */
static void test_rate_bucket(void **state)
{
    fix_chan *fx = open_with("rate = 2\nburst = 3\n");
    chan *c = fx->c;
    int64_t t = FIX_NOW, wait = 0;
    c->bucket_at = t;
    for (int i = 0; i < 3; i++)
        assert_true(chan_rate_take(c, t, &wait));
    assert_false(chan_rate_take(c, t, &wait));
    assert_int_equal(wait, 501);
    assert_false(chan_rate_take(c, t + 499, &wait));
    assert_true(chan_rate_take(c, t + 500, &wait));
    chan_rate_refund(c);
    assert_true(chan_rate_take(c, t + 500, &wait));
    assert_false(chan_rate_take(c, t + 500, &wait));
    /* idle for long: the bucket holds no more than burst */
    int n = 0;
    while (chan_rate_take(c, t + 3600000, &wait))
        n++;
    assert_int_equal(n, 3);
    /* over a minute: at most burst + rate * 60 */
    n = 0;
    for (int64_t x = t + 3600000; x < t + 3660000; x += 10)
        n += chan_rate_take(c, x, &wait);
    assert_true(n <= 120 + 1 && n >= 119);
    close_fx(fx);
    fx = open_with("");         /* no rate: never waits */
    for (int i = 0; i < 1000; i++)
        assert_true(chan_rate_take(fx->c, t, &wait));
    assert_int_equal(fx->c->concurrency, 16);
    close_fx(fx);
}

static void test_transport(void **state)
{
    chan_outcome o;
    http_resp r = fix_timeout();
    memset(&o, 0, sizeof o);
    assert_int_equal(chan_transport_outcome(&r, &o), 1);
    assert_int_equal(o.cls, CHAN_RETRY);
    assert_true(o.uncertain);
    assert_string_equal(o.code, "curl 28");
    r.curl_code = CURLE_COULDNT_CONNECT;    /* it never left */
    r.may_have_sent = 0;
    memset(&o, 0, sizeof o);
    assert_int_equal(chan_transport_outcome(&r, &o), 1);
    assert_int_equal(o.cls, CHAN_RETRY);
    assert_false(o.uncertain);
    /* a certificate we do not trust is the configuration's fault: the channel pauses
     * (until 0: the scheduler's default pause), nothing was sent */
    static const int tls[] = {CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE,
                              CURLE_SSL_CERTPROBLEM, CURLE_SSL_ISSUER_ERROR,
                              CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_CRL_BADFILE};
    for (size_t i = 0; i < sizeof tls / sizeof tls[0]; i++) {
        r.curl_code = tls[i];
        r.may_have_sent = 0;
        memset(&o, 0, sizeof o);
        assert_int_equal(chan_transport_outcome(&r, &o), 1);
        assert_int_equal(o.cls, CHAN_BACKOFF);
        assert_string_equal(o.code, "tls");
        assert_false(o.recipient);
        assert_false(o.uncertain);
        assert_int_equal(o.until, 0);
        assert_non_null(strstr(o.reason, "TLS verification failed"));
    }
    /* the same failure on the fresh connection of a resend (the request had gone out on
     * the first one): not a pause, a retry, uncertain */
    r.curl_code = CURLE_PEER_FAILED_VERIFICATION;
    r.may_have_sent = 1;
    memset(&o, 0, sizeof o);
    assert_int_equal(chan_transport_outcome(&r, &o), 1);
    assert_int_equal(o.cls, CHAN_RETRY);
    assert_true(o.uncertain);
    assert_string_equal(o.code, "curl 60");
    r.may_have_sent = 0;
    r.curl_code = CURLE_SSL_CONNECT_ERROR;     /* a handshake that broke: transient */
    memset(&o, 0, sizeof o);
    chan_transport_outcome(&r, &o);
    assert_int_equal(o.cls, CHAN_RETRY);
    static const struct {
        long status;
        chan_class cls;
        int uncertain;
    } rows[] = {
        {429, CHAN_BACKOFF, 0}, {500, CHAN_RETRY, 1}, {503, CHAN_RETRY, 1},
        {400, CHAN_PERMANENT, 0}, {404, CHAN_PERMANENT, 0}, {302, CHAN_PERMANENT, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        r = fix_reply(rows[i].status, "x");
        memset(&o, 0, sizeof o);
        assert_int_equal(chan_transport_outcome(&r, &o), 1);
        assert_int_equal(o.cls, rows[i].cls);
        assert_int_equal(o.uncertain, rows[i].uncertain);
    }
    r = fix_reply(200, "{}");
    memset(&o, 0, sizeof o);
    assert_int_equal(chan_transport_outcome(&r, &o), 0);
}

/* providers.md §1.2: force_refresh at most 20 a day and at least 30 s apart; the day is
 * China's (UTC+8) */
static void test_force_quota(void **state)
{
    token_force f = {0};
    int64_t t = FIX_NOW;
    assert_true(token_force_take(&f, 20, t));
    assert_false(token_force_take(&f, 20, t + 29999));
    assert_true(token_force_take(&f, 20, t + 30000));
    int64_t day_end = cn_next_day(t);
    int64_t x = t + 30000;
    int taken = 2;
    for (x += 30000; x < day_end; x += 30000)
        taken += token_force_take(&f, 20, x);
    assert_int_equal(taken, 20);
    assert_false(token_force_take(&f, 20, day_end - 1));
    assert_true(token_force_take(&f, 20, day_end));      /* a new China day */
    assert_int_equal(f.count, 1);
    token_force none = {0};
    assert_false(token_force_take(&none, 0, t));          /* force_refresh_daily = 0 */
}

static void test_paused_map(void **state)
{
    strset s = {0};
    int64_t v = 0;
    assert_false(strset_get(&s, "+8613800000001", &v));
    char key[32];
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "+86138%08d", i);
        assert_int_equal(strset_put(&s, key, 1000 + i), 0);
    }
    assert_int_equal(strset_put(&s, "+8613800000007", 5000), 0);    /* update */
    assert_true(strset_get(&s, "+8613800000007", &v));
    assert_int_equal(v, 5000);
    assert_true(strset_get(&s, "+8613800000299", &v));
    assert_int_equal(v, 1299);
    strset_del_below(&s, 1200);     /* the pauses that ended before 1200 go */
    assert_int_equal(s.live, 101);
    assert_false(strset_get(&s, "+8613800000199", &v));
    assert_true(strset_get(&s, "+8613800000200", &v));
    assert_true(strset_get(&s, "+8613800000007", &v));
    assert_int_equal(strset_add(&s, "+8613800000007"), 0);
    assert_true(strset_has(&s, "+8613800000250"));
    strset_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_delay),
        cmocka_unit_test(test_rate_bucket),
        cmocka_unit_test(test_transport),
        cmocka_unit_test(test_force_quota),
        cmocka_unit_test(test_paused_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
