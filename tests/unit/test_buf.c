/* test_buf.c — the JSON writer that builds the provider request bodies (buf_jw): the
 * exact text for hostile strings (quotes, backslashes, every control character, DEL,
 * '/', CJK, emoji, U+2028, empty), the same bytes as jansson's json_dumps of the same
 * tree, commas and nesting, numbers and booleans, and every kind of invalid UTF-8
 * refused (jansson's rules), the failure sticky and reported once by buf_jw_take. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <limits.h>

#include "buf.h"

/* The strings no body may get wrong. */
static const char *const hostile[] = {
    "", "a", "\"", "\\", "\"\\\"\\\\", "/", "</script>", "\x01\x1f", "\b\f\n\r\t", "\x7f",
    "王小明", "😀👍🏻", "\xe2\x80\xa8\xe2\x80\xa9", "e\xcc\x81", "{\"k\":[1,2]}",
    "\xef\xbb\xbf", "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf", "\xee\x80\x80", "a\x0b" "b\x1a" "c",
};

static char *one_string(const char *s)
{
    buf_jw w = {0};
    buf_jw_str(&w, NULL, s);
    return buf_jw_take(&w, NULL);
}

static void test_exact_text(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } rows[] = {
        {"", "\"\""},
        {"\"", "\"\\\"\""},
        {"\\", "\"\\\\\""},
        {"a\"b\\c", "\"a\\\"b\\\\c\""},
        {"/</script>", "\"/</script>\""},                /* '/' as it is */
        {"\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\""},
        {"\x01\x0b\x1a\x1f", "\"\\u0001\\u000B\\u001A\\u001F\""},    /* jansson's upper case */
        {"\x7f", "\"\x7f\""},                             /* DEL is not a control character */
        {"王小明", "\"王小明\""},
        {"😀👍🏻", "\"😀👍🏻\""},
        {"\xe2\x80\xa8", "\"\xe2\x80\xa8\""},             /* U+2028 as it is, as jansson */
        {"\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""},     /* U+10FFFF, the last code point */
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        char *s = one_string(rows[i].in);
        assert_non_null(s);
        assert_string_equal(s, rows[i].out);
        free(s);
    }
}

/* Every control character, one by one */
static void test_controls(void **state)
{
    (void)state;
    for (int c = 1; c < 0x20; c++) {
        char in[2] = {(char)c, 0}, want[16];
        const char *shortform = c == '\b' ? "\\b" : c == '\f' ? "\\f" : c == '\n' ? "\\n"
                                : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
        if (shortform)
            snprintf(want, sizeof want, "\"%s\"", shortform);
        else
            snprintf(want, sizeof want, "\"\\u%04X\"", (unsigned)c);
        char *s = one_string(in);
        assert_string_equal(s, want);
        free(s);
    }
}

/* A body of hostile keys and values: the bytes jansson writes for the same tree */
static void test_same_as_jansson(void **state)
{
    (void)state;
    size_t n = sizeof hostile / sizeof *hostile;
    buf_jw w = {0};
    json_t *j = json_object();
    buf_jw_open(&w, NULL, '{');
    buf_jw_int(&w, "n", -42);
    json_object_set_new(j, "n", json_integer(-42));
    buf_jw_open(&w, "list", '[');
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        buf_jw_str(&w, NULL, hostile[i]);
        json_array_append_new(list, json_string(hostile[i]));
    }
    buf_jw_close(&w, ']');
    json_object_set_new(j, "list", list);
    for (size_t i = 1; i < n; i++) {         /* "" is a key like another, once */
        char key[64];
        snprintf(key, sizeof key, "%s%zu", hostile[i], i);
        buf_jw_open(&w, key, '{');
        buf_jw_str(&w, "value", hostile[n - 1 - i]);
        buf_jw_bool(&w, "b", (int)(i & 1));
        buf_jw_close(&w, '}');
        json_object_set_new(j, key, json_pack("{s:s, s:b}", "value", hostile[n - 1 - i], "b",
                                              (int)(i & 1)));
    }
    buf_jw_open(&w, "empty", '{');
    buf_jw_close(&w, '}');
    json_object_set_new(j, "empty", json_object());
    buf_jw_close(&w, '}');
    size_t len;
    char *mine = buf_jw_take(&w, &len);
    char *theirs = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_non_null(mine);
    assert_non_null(theirs);
    assert_string_equal(mine, theirs);
    assert_int_equal(len, strlen(theirs));
    free(mine);
    free(theirs);
    json_decref(j);
}

static void test_nesting_and_numbers(void **state)
{
    (void)state;
    buf_jw w = {0};
    buf_jw_open(&w, NULL, '{');
    buf_jw_open(&w, "a", '[');
    buf_jw_open(&w, NULL, '[');
    buf_jw_close(&w, ']');
    buf_jw_open(&w, NULL, '{');
    buf_jw_int(&w, "min", LLONG_MIN);
    buf_jw_int(&w, "max", LLONG_MAX);
    buf_jw_close(&w, '}');
    buf_jw_bool(&w, NULL, 0);
    buf_jw_close(&w, ']');
    buf_jw_bool(&w, "t", 1);
    buf_jw_strn(&w, "cut", "abcdef", 3);
    buf_jw_close(&w, '}');
    char *s = buf_jw_take(&w, NULL);
    assert_string_equal(s, "{\"a\":[[],{\"min\":-9223372036854775808,\"max\":"
                           "9223372036854775807},false],\"t\":true,\"cut\":\"abc\"}");
    free(s);
}

/* What jansson's json_string refuses, refused here, as a value or as a key */
static void test_invalid_utf8(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\xff", "ok\xff", "\x80", "a\xc3", "\xc0\xaf", "\xc1\xbf",   /* stray, cut, overlong */
        "\xe0\x80\xaf", "\xf0\x80\x80\xaf",                           /* overlong */
        "\xed\xa0\x80", "\xed\xbf\xbf",                               /* surrogates */
        "\xe4\xb8", "\xe4\x41\x41",                                   /* cut, bad continuation */
        "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xfe",               /* past U+10FFFF */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *j = json_string(bad[i]);
        assert_null(j);                             /* the rule is jansson's */
        for (int as_key = 0; as_key <= 1; as_key++) {
            buf_jw w = {0};
            buf_jw_open(&w, NULL, '{');
            buf_jw_str(&w, "before", "x");
            if (as_key)
                buf_jw_str(&w, bad[i], "v");
            else
                buf_jw_str(&w, "k", bad[i]);
            assert_int_equal(w.err, BUF_JW_UTF8);
            buf_jw_str(&w, "after", "y");           /* ignored: the failure sticks */
            buf_jw_close(&w, '}');
            assert_int_equal(w.err, BUF_JW_UTF8);
            assert_null(buf_jw_take(&w, NULL));
            assert_null(w.b.s);                     /* released */
        }
    }
    buf_jw w = {0};
    buf_jw_str(&w, NULL, NULL);                     /* no string at all */
    assert_int_equal(w.err, BUF_JW_UTF8);
    assert_null(buf_jw_take(&w, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_text),
        cmocka_unit_test(test_controls),
        cmocka_unit_test(test_same_as_jansson),
        cmocka_unit_test(test_nesting_and_numbers),
        cmocka_unit_test(test_invalid_utf8),
    };
    return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
