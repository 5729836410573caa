/* test_pcache.c — the page cache layer (pcache.c): a truncate drops every page at or
 * above its limit and keeps the rest, whatever rekeys came before (a random sequence
 * checked against a model), a truncate that can find nothing is not passed on, and a
 * real database that balances, rolls back and grows again stays intact.
 *
 * Beneath the layer sits a counting one over SQLite's default cache, installed first,
 * so that the test sees what reaches the default cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "pcache.h"
#include "tmpdir.h"

#define TEMP_KEY 262145u    /* balance_nonroot's swap key at 4 KiB pages */

static sqlite3_pcache_methods2 deflt;   /* SQLite's own cache */
static sqlite3_pcache_methods2 layer;   /* pcache.c's, as installed */
static int truncates;                   /* xTruncate calls that reached the default */
static unsigned max_rekey;              /* the largest key a rekey asked for */

static void count_truncate(sqlite3_pcache *p, unsigned limit)
{
    truncates++;
    deflt.xTruncate(p, limit);
}

static void count_rekey(sqlite3_pcache *p, sqlite3_pcache_page *pg, unsigned from, unsigned to)
{
    if (to > max_rekey)
        max_rekey = to;
    deflt.xRekey(p, pg, from, to);
}

/* ---- the layer's methods, driven directly ----------------------------------------- */

#define NKEYS 64

static void test_truncate_matches_model(void **state)
{
    sqlite3_pcache *c = layer.xCreate(4096, 64, 1);
    assert_non_null(c);
    layer.xCachesize(c, 10000);
    sqlite3_pcache_page *pages[NKEYS + 1] = {0};   /* by key; [NKEYS]: at TEMP_KEY */
    unsigned seed = 7;
    for (int step = 0; step < 20000; step++) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = seed >> 8, k = 1 + r % (NKEYS - 1);
        switch (r % 5) {
        case 0:
        case 1:     /* fetch, creating */
            if (!pages[k])
                assert_non_null(pages[k] = layer.xFetch(c, k, 2));
            break;
        case 2: {   /* swap two pages through the temporary key, as a balance does */
            unsigned j = 1 + (r / 7) % (NKEYS - 1);
            if (!pages[k] || !pages[j] || j == k || pages[NKEYS])
                break;
            layer.xRekey(c, pages[k], k, TEMP_KEY);
            layer.xRekey(c, pages[j], j, k);
            layer.xRekey(c, pages[k], TEMP_KEY, j);
            sqlite3_pcache_page *t = pages[k];
            pages[k] = pages[j];
            pages[j] = t;
            break;
        }
        case 3:     /* move a page to a free key, now and then far above the rest */
            if (pages[k] && !pages[NKEYS] && (r / 5) % 8 == 0) {
                layer.xRekey(c, pages[k], k, TEMP_KEY);
                pages[NKEYS] = pages[k];
                pages[k] = NULL;
            } else if (pages[k] && !pages[(k % (NKEYS - 1)) + 1]) {
                unsigned to = (k % (NKEYS - 1)) + 1;
                layer.xRekey(c, pages[k], k, to);
                pages[to] = pages[k];
                pages[k] = NULL;
            }
            break;
        case 4: {   /* truncate, and check what is left */
            unsigned limit = (r / 5) % (NKEYS + 2);
            layer.xTruncate(c, limit);
            for (unsigned key = 1; key < NKEYS; key++) {
                if (key >= limit)
                    pages[key] = NULL;
                sqlite3_pcache_page *got = layer.xFetch(c, key, 0);
                if (pages[key])
                    assert_ptr_equal(got, pages[key]);
                else
                    assert_null(got);
            }
            pages[NKEYS] = NULL;            /* every limit here is below TEMP_KEY */
            assert_null(layer.xFetch(c, TEMP_KEY, 0));
            break;
        }
        }
    }
    layer.xDestroy(c);
}

static void test_truncate_beyond_everything_is_skipped(void **state)
{
    sqlite3_pcache *c = layer.xCreate(4096, 64, 1);
    layer.xCachesize(c, 1000);
    sqlite3_pcache_page *a = layer.xFetch(c, 10, 2), *b = layer.xFetch(c, 20, 2);
    layer.xRekey(c, a, 10, TEMP_KEY);       /* a balance's swap */
    layer.xRekey(c, b, 20, 10);
    layer.xRekey(c, a, TEMP_KEY, 20);
    int before = truncates;
    layer.xTruncate(c, 21);                 /* a commit: dbSize + 1 */
    assert_int_equal(truncates, before);    /* nothing at or above 21: not passed on */
    assert_ptr_equal(layer.xFetch(c, 10, 0), b);
    assert_ptr_equal(layer.xFetch(c, 20, 0), a);
    layer.xTruncate(c, 15);                 /* a rollback below page 20: passed on */
    assert_int_equal(truncates, before + 1);
    assert_null(layer.xFetch(c, 20, 0));
    assert_ptr_equal(layer.xFetch(c, 10, 0), b);
    layer.xTruncate(c, 15);                 /* nothing left at or above 15 */
    assert_int_equal(truncates, before + 1);
    layer.xDestroy(c);
}

/* ---- a real database ---------------------------------------------------------------- */

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
}

static long long one_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    long long v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static void test_database_balances_rolls_back_and_grows(void **state)
{
    char dir[64], path[128];
    assert_int_equal(tmpdir_make(dir, sizeof dir, "pcache"), 0);
    snprintf(path, sizeof path, "%s/t.db", dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    exec_ok(db, "PRAGMA journal_mode=WAL; PRAGMA cache_size=-65536;"
                "CREATE TABLE t(k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;");
    /* random keys: the b-tree balances all over, swapping pages through TEMP_KEY */
    exec_ok(db, "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n "
                "WHERE i<20000) INSERT INTO t SELECT hex(randomblob(8)), printf('%.*c', "
                "50 + i % 50, 'x') FROM n; COMMIT;");
    assert_true(max_rekey >= TEMP_KEY);
    long long pages = one_int(db, "PRAGMA page_count");
    int before = truncates;
    for (int i = 0; i < 50; i++) {          /* small commits, the scheduler's kind */
        char sql[160];
        snprintf(sql, sizeof sql, "INSERT INTO t VALUES('small%d', 'y')", i);
        exec_ok(db, sql);
    }
    assert_true(truncates - before < 5);    /* with pcache1 alone, every one scans */
    /* grow, roll back, grow differently: the rolled-back pages must not come back */
    exec_ok(db, "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n "
                "WHERE i<20000) INSERT INTO t SELECT 'gone' || hex(randomblob(8)), "
                "printf('%.*c', 200, 'z') FROM n;");
    assert_true(one_int(db, "PRAGMA page_count") > pages + 100);
    exec_ok(db, "ROLLBACK");
    exec_ok(db, "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n "
                "WHERE i<5000) INSERT INTO t SELECT 'new' || hex(randomblob(8)), "
                "printf('%.*c', 120, 'w') FROM n; COMMIT;");
    assert_int_equal(one_int(db, "SELECT count(*) FROM t"), 25050);
    assert_int_equal(one_int(db, "SELECT count(*) FROM t WHERE k LIKE 'gone%'"), 0);
    assert_int_equal(one_int(db, "SELECT count(*) FROM t WHERE v LIKE '%z%'"), 0);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "ok");
    sqlite3_finalize(s);
    long long sum = one_int(db, "SELECT sum(length(v)) FROM t");
    sqlite3_close(db);
    /* and a fresh connection reads the same */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(one_int(db, "SELECT count(*) FROM t"), 25050);
    assert_int_equal(one_int(db, "SELECT sum(length(v)) FROM t"), sum);
    sqlite3_close(db);
    assert_int_equal(tmpdir_remove(dir), 0);
}

int main(void)
{
    /* before SQLite initialises: the counting cache as the default, the layer over it */
    if (sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &deflt) != SQLITE_OK)
        return 1;
    sqlite3_pcache_methods2 counting = deflt;
    counting.xTruncate = count_truncate;
    counting.xRekey = count_rekey;
    if (sqlite3_config(SQLITE_CONFIG_PCACHE2, &counting) != SQLITE_OK || pcache_install() != 0 ||
        sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &layer) != SQLITE_OK ||
        layer.xTruncate == count_truncate || sqlite3_initialize() != SQLITE_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncate_matches_model),
        cmocka_unit_test(test_truncate_beyond_everything_is_skipped),
        cmocka_unit_test(test_database_balances_rolls_back_and_grows),
    };
    return cmocka_run_group_tests_name("pcache", tests, NULL, NULL);
}
