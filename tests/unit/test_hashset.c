/* test_hashset.c — the set of string hashes campaign creation uses to skip its exact
 * duplicate check: every hash added is found again, also after the table grows many
 * times and when added many at once; a hash of 0 is a hash like any other; FNV-1a gives
 * its published values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hashset.h"

static void test_fnv1a(void **state)
{
    (void)state;
    /* the FNV-1a 64-bit test values (draft-eastlake-fnv) */
    assert_true(hashset_hash("", 0) == UINT64_C(0xcbf29ce484222325));
    assert_true(hashset_hash("a", 1) == UINT64_C(0xaf63dc4c8601ec8c));
    assert_true(hashset_hash("foobar", 6) == UINT64_C(0x85944171f73967e8));
    /* the length counts, not a NUL */
    assert_true(hashset_hash("u1\0x", 4) != hashset_hash("u1", 2));
}

static void test_add_and_grow(void **state)
{
    (void)state;
    hashset h = {0};
    char id[32];
    for (int i = 0; i < 100000; i++) {           /* grows from 1024 slots, eight times */
        int n = snprintf(id, sizeof id, "u%d", i);
        assert_int_equal(hashset_add(&h, hashset_hash(id, (size_t)n)), 1);
    }
    assert_int_equal((int)h.used, 100000);
    assert_true(h.cap * 3 >= 4 * h.used);         /* at most 3/4 full */
    for (int i = 0; i < 100000; i += 7) {        /* each one still there */
        int n = snprintf(id, sizeof id, "u%d", i);
        assert_int_equal(hashset_add(&h, hashset_hash(id, (size_t)n)), 0);
    }
    assert_int_equal(hashset_add(&h, hashset_hash("u100000", 7)), 1);
    assert_int_equal((int)h.used, 100001);
    hashset_free(&h);
    assert_null(h.slot);
    assert_int_equal(hashset_add(&h, 42), 1);    /* usable again after free */
    hashset_free(&h);
}

static void test_zero_hash(void **state)
{
    (void)state;
    hashset h = {0};
    assert_int_equal(hashset_add(&h, 0), 1);
    assert_int_equal(hashset_add(&h, 0), 0);
    assert_int_equal(hashset_add(&h, 2), 1);
    assert_int_equal((int)h.used, 2);
    hashset_free(&h);
}

/* Many at once, as the campaign writer adds a chunk: the count of those already
 * present, a repeat inside the same batch included, across the table's growth. */
static void test_add_many(void **state)
{
    (void)state;
    hashset h = {0};
    uint64_t v[64];
    char id[32];
    long present = 0;
    for (int i = 0; i < 64 * 100; i += 64) {     /* 6,400 keys: grows from 1024 slots */
        for (int k = 0; k < 64; k++) {
            int n = snprintf(id, sizeof id, "u%d", i + k);
            v[k] = hashset_hash(id, (size_t)n);
        }
        long r = hashset_add_many(&h, v, 64);
        assert_true(r >= 0);
        present += r;
    }
    assert_int_equal(present, 0);
    assert_int_equal((int)h.used, 6400);
    assert_true(h.cap * 3 >= 4 * h.used);
    v[0] = hashset_hash("u5", 2);                /* present before */
    v[1] = hashset_hash("new", 3);
    v[2] = hashset_hash("new", 3);               /* a repeat within the batch */
    v[3] = 0;                                    /* stored as 1 */
    v[4] = 1;
    assert_int_equal(hashset_add_many(&h, v, 5), 3);
    assert_int_equal((int)h.used, 6402);
    assert_int_equal(hashset_add_many(&h, v, 0), 0);
    assert_int_equal(hashset_add(&h, hashset_hash("u6399", 5)), 0);
    hashset_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fnv1a),
        cmocka_unit_test(test_add_and_grow),
        cmocka_unit_test(test_zero_hash),
        cmocka_unit_test(test_add_many),
    };
    return cmocka_run_group_tests_name("hashset", tests, NULL, NULL);
}
