/* test_fixstr.c — copies into fixed-size arrays: the same bytes snprintf("%s") writes,
 * truncated at the array's end and always NUL-terminated; concatenations likewise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fixstr.h"

static void test_copy(void **state)
{
    (void)state;
    char b[8], ref[8];
    const char *in[] = {"", "a", "1234567", "12345678", "123456789abc", "用户名"};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        memset(b, 'x', sizeof b);
        snprintf(ref, sizeof ref, "%s", in[i]);
        assert_string_equal(fs_copy(b, sizeof b, in[i]), ref);
    }
    assert_string_equal(fs_copy(b, sizeof b, NULL), "");
    assert_string_equal(fs_copy(b, 1, "abc"), "");
    assert_ptr_equal(fs_copy(b, sizeof b, "z"), b);
    memcpy(b, "keep", 5);                        /* n == 0: nothing written, as snprintf */
    fs_copy(b, 0, "abc");
    fs_cat(b, 0, "abc", NULL);
    assert_string_equal(b, "keep");
}

static void test_cat(void **state)
{
    (void)state;
    char b[16], ref[32];
    assert_string_equal(fs_cat(b, sizeof b, "mp.", "tier.", "gold", NULL), "mp.tier.gold");
    assert_string_equal(fs_cat(b, sizeof b, NULL), "");
    snprintf(ref, sizeof ref, "%s.segment.%s", "mp_subscribe", "vip");
    ref[sizeof b - 1] = '\0';                   /* what snprintf into b[16] keeps */
    assert_string_equal(fs_cat(b, sizeof b, "mp_subscribe", ".segment.", "vip", NULL), ref);
    assert_int_equal(strlen(b), sizeof b - 1);  /* cut within a piece */
    assert_string_equal(fs_cat(b, 4, "ab", "cd", NULL), "abc");  /* cut between pieces */
    assert_string_equal(fs_cat(b, 3, "ab", "cd", NULL), "ab");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_cat),
    };
    return cmocka_run_group_tests_name("fixstr", tests, NULL, NULL);
}
