/* test_audit.c — the audit log's row hash: fixed vectors (computed independently by
 * tools/auditchain.py), and the encoding is unambiguous: text moved between adjacent
 * fields, NULL against "", and the previous hash all change the result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "audit.h"

static const unsigned char zero[AUDIT_HASH_LEN];

static void hex(const unsigned char h[AUDIT_HASH_LEN], char out[2 * AUDIT_HASH_LEN + 1])
{
    for (int i = 0; i < AUDIT_HASH_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static void test_vectors(void **state)
{
    (void)state;
    unsigned char h[AUDIT_HASH_LEN];
    char x[2 * AUDIT_HASH_LEN + 1];
    audit_hash(zero, 1, 1795392000000LL, 7, 0, "u1", "sent", "sms", "ok", "0", "Serial:1",
               "+8613800001111", h);
    hex(h, x);
    assert_string_equal(x, "ff57545b1e53558f05e90da43e864ebc6df9e8a04df10164acde4d625191feda");
    audit_hash(zero, 2, 5, 0, 3, "ab", "c", NULL, "", "x\x1fy", "中文", NULL, h);
    hex(h, x);
    assert_string_equal(x, "db62542ca5e5cb62ab89d686cd3157c3e051c28ef0b2c484a7e6c04dd8aab09c");
}

/* The old encoding joined fields with 0x1f: ("a\x1fb", "c") and ("a", "b\x1fc") hashed
 * alike. Every shift of text across a field boundary must change the hash. */
static void test_fields_do_not_bleed(void **state)
{
    (void)state;
    unsigned char a[AUDIT_HASH_LEN], b[AUDIT_HASH_LEN];
    audit_hash(zero, 1, 2, 3, 4, "u", "sent", "sms", "a\x1f" "b", "c", "d", "t", a);
    audit_hash(zero, 1, 2, 3, 4, "u", "sent", "sms", "a", "b\x1f" "c", "d", "t", b);
    assert_memory_not_equal(a, b, AUDIT_HASH_LEN);
    audit_hash(zero, 1, 2, 3, 4, "u", "sent", "sms", "ab", "c", "d", "t", a);
    audit_hash(zero, 1, 2, 3, 4, "u", "sent", "sms", "a", "bc", "d", "t", b);
    assert_memory_not_equal(a, b, AUDIT_HASH_LEN);
    /* NULL is not "" */
    audit_hash(zero, 1, 2, 3, 4, "u", "sent", NULL, "r", "c", "d", "t", a);
    audit_hash(zero, 1, 2, 3, 4, "u", "sent", "", "r", "c", "d", "t", b);
    assert_memory_not_equal(a, b, AUDIT_HASH_LEN);
    /* a NUL-like text byte is not the NULL marker */
    audit_hash(zero, 1, 2, 3, 4, "u", "sent", NULL, "", "c", "d", "t", a);
    audit_hash(zero, 1, 2, 3, 4, "u", "sent", "", NULL, "c", "d", "t", b);
    assert_memory_not_equal(a, b, AUDIT_HASH_LEN);
    /* integers are fixed width: 12,3 is not 1,23 */
    audit_hash(zero, 12, 3, 3, 4, "u", "sent", NULL, "", "c", "d", "t", a);
    audit_hash(zero, 1, 23, 3, 4, "u", "sent", NULL, "", "c", "d", "t", b);
    assert_memory_not_equal(a, b, AUDIT_HASH_LEN);
}

static void test_chained(void **state)
{
    (void)state;
    unsigned char a[AUDIT_HASH_LEN], b[AUDIT_HASH_LEN], prev[AUDIT_HASH_LEN];
    memset(prev, 0, sizeof prev);
    prev[31] = 1;
    audit_hash(zero, 1, 2, 0, 0, "u", "sent", NULL, NULL, NULL, NULL, NULL, a);
    audit_hash(prev, 1, 2, 0, 0, "u", "sent", NULL, NULL, NULL, NULL, NULL, b);
    assert_memory_not_equal(a, b, AUDIT_HASH_LEN);
    audit_hash(prev, 1, 2, 0, 0, "u", "sent", NULL, NULL, NULL, NULL, NULL, a);
    assert_memory_equal(a, b, AUDIT_HASH_LEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_fields_do_not_bleed),
        cmocka_unit_test(test_chained),
    };
    return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
