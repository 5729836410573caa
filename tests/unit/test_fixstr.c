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

static void test_utf8_clip(void **state)
{
    (void)state;
    char b[16];
    /* "退订原因" is 12 bytes, 3 a character: 7 or 8 kept is two and a part of the third,
     * 9 is three, 10 three and a part */
    for (size_t n = 8; n <= 11; n++) {
        fs_copy(b, n, "退订原因");
        assert_string_equal(fs_utf8_clip(b), n <= 9 ? "退订" : "退订原");
    }
    assert_string_equal(fs_utf8_clip(strcpy(b, "退订原因")), "退订原因");  /* whole */
    assert_string_equal(fs_utf8_clip(strcpy(b, "ab\xc3")), "ab");     /* 2-byte lead */
    assert_string_equal(fs_utf8_clip(strcpy(b, "ab\xc3\xa9")), "ab\xc3\xa9");
    assert_string_equal(fs_utf8_clip(strcpy(b, "a\xf0\x9f\x98")), "a");  /* 4-byte, 3 kept */
    assert_string_equal(fs_utf8_clip(strcpy(b, "a\xf0\x9f\x98\x80")), "a\xf0\x9f\x98\x80");
    assert_string_equal(fs_utf8_clip(strcpy(b, "")), "");
    assert_string_equal(fs_utf8_clip(strcpy(b, "plain")), "plain");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_cat),
        cmocka_unit_test(test_utf8_clip),
    };
    return cmocka_run_group_tests_name("fixstr", tests, NULL, NULL);
}
