/* test_mask.c — personal data in output: phone numbers and openids masked as targets and
 * wherever they appear in free text (reasons, details, user ids), and nothing else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "mask.h"

static void text_is(const char *in, const char *known, const char *want)
{
    buf b = {0};
    assert_int_equal(mask_text(in, known, &b), 0);
    assert_string_equal(b.s, want);
    buf_free(&b);
}

static void test_targets(void **state)
{
    (void)state;
    char m[64];
    mask_target("+8613812340000", m, sizeof m);
    assert_string_equal(m, "+86138****0000");
    mask_target("13812340000", m, sizeof m);
    assert_string_equal(m, "138****0000");
    mask_target("oAbcdefghijklmnopqrstuvwxyz1", m, sizeof m);
    assert_string_equal(m, "oAbc****xyz1");
    mask_target("zhang", m, sizeof m);
    assert_string_equal(m, "****");
}

static void test_phones_in_text(void **state)
{
    (void)state;
    text_is("FailedOperation.PhoneNumberInBlacklist: +8613800001111 is blacklisted", NULL,
            "FailedOperation.PhoneNumberInBlacklist: +86138****1111 is blacklisted");
    text_is("号码13800001111无效", NULL, "号码138****1111无效");
    text_is("13800001111", NULL, "138****1111");
    text_is("+14155550100,+442079460000", NULL, "+141****0100,+4420****0000");
}

static void test_openids_in_text(void **state)
{
    (void)state;
    text_is("openid oAUDIT1xxxxxxxxxxxxxxxxxxxxx unfollowed", NULL,
            "openid oAUD****xxxx unfollowed");
    text_is("external wmAbcdefghijklmnopqrstuvwxyz0123 gone", NULL,
            "external wmAb****0123 gone");
}

static void test_known_target(void **state)
{
    (void)state;
    /* a WeCom userid does not look like anything, but it is the row's address */
    text_is("invaliduser: zhangsan|lisi", "zhangsan", "invaliduser: ****|lisi");
    text_is("no target here", "", "no target here");
    /* wherever it appears: inside a longer word too (a user id built from the address) */
    text_is("user mp_oAbcdefghijklmnopqrstuvwxyz12 left", "oAbcdefghijklmnopqrstuvwxyz12",
            "user mp_oAbc****yz12 left");
    text_is("u13812340000", "13812340000", "u138****0000");
}

static void test_leaves_the_rest(void **state)
{
    (void)state;
    /* provider message ids, codes, times and words stay as they are */
    text_is("attempt 1 of 5: system busy; next at 2026-11-23T10:00:00Z", NULL,
            "attempt 1 of 5: system busy; next at 2026-11-23T10:00:00Z");
    text_is("1234567890123456789", NULL, "1234567890123456789");
    text_is("2640:1234567890123456789 isv.BUSINESS_LIMIT_CONTROL 43101", NULL,
            "2640:1234567890123456789 isv.BUSINESS_LIMIT_CONTROL 43101");
    text_is("12345678901", NULL, "12345678901");           /* not 1[3-9]... */
    text_is("x13800001111", NULL, "x13800001111");         /* part of a word */
    text_is("oa_template: not configured", NULL, "oa_template: not configured");
    text_is("", NULL, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_phones_in_text),
        cmocka_unit_test(test_openids_in_text),
        cmocka_unit_test(test_known_target),
        cmocka_unit_test(test_leaves_the_rest),
    };
    return cmocka_run_group_tests_name("mask", tests, NULL, NULL);
}
