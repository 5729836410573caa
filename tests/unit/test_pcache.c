/* test_pcache.c — the page cache layer (pcache.c): a truncate drops every page at or
 * above its limit and keeps the rest, whatever rekeys came before (a random sequence
 * checked against a model), a truncate that can find nothing is not passed on, and a
 * real database that balances, rolls back and grows again stays intact, every truncate
 * of it (skipped or not) leaving no page at or above its limit.
 *
 * Beneath the layer sits a counting one over SQLite's default cache, installed first,
 * so that the test sees what reaches the default cache; above it, for the database, an
 * oracle that knows every key the layer was given and checks each truncate's result. */
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
static int oracle_truncates, oracle_bad; /* truncates the oracle checked; pages it found left */

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

/* The oracle: over the layer, a bit for every key it handed out or moved a page to (a
 * superset of what the cache holds: discards and evictions are not seen). After each
 * truncate, no key at or above the limit may still be found. It hands SQLite the layer's
 * own caches, found again by pointer, so the methods it does not watch are the layer's. */
#define ORC_KEYS (TEMP_KEY + 64)
#define ORC_CACHES 16

typedef struct {
    sqlite3_pcache *c;              /* the layer's cache */
    uint64_t bits[ORC_KEYS / 64 + 1];
} orc_cache;

static orc_cache *orcs[ORC_CACHES];

static orc_cache *orc_of(sqlite3_pcache *c)
{
    for (int i = 0; i < ORC_CACHES; i++)
        if (orcs[i] && orcs[i]->c == c)
            return orcs[i];
    oracle_bad++;                       /* a cache the oracle did not create */
    return NULL;
}

static void orc_set(orc_cache *o, unsigned k, int on)
{
    if (!o || k >= ORC_KEYS) {
        oracle_bad++;                   /* beyond what this test's databases reach */
        return;
    }
    if (on)
        o->bits[k / 64] |= 1ULL << (k % 64);
    else
        o->bits[k / 64] &= ~(1ULL << (k % 64));
}

static sqlite3_pcache *orc_create(int szPage, int szExtra, int bPurgeable)
{
    sqlite3_pcache *c = layer.xCreate(szPage, szExtra, bPurgeable);
    for (int i = 0; c && i < ORC_CACHES; i++)
        if (!orcs[i]) {
            if ((orcs[i] = calloc(1, sizeof *orcs[i])))
                orcs[i]->c = c;
            return c;
        }
    oracle_bad++;                       /* more caches than the oracle can watch */
    return c;
}

static sqlite3_pcache_page *orc_fetch(sqlite3_pcache *c, unsigned key, int create)
{
    sqlite3_pcache_page *pg = layer.xFetch(c, key, create);
    if (pg)
        orc_set(orc_of(c), key, 1);
    return pg;
}

static void orc_rekey(sqlite3_pcache *c, sqlite3_pcache_page *pg, unsigned from, unsigned to)
{
    orc_cache *o = orc_of(c);
    layer.xRekey(c, pg, from, to);
    orc_set(o, from, 0);
    orc_set(o, to, 1);
}

static void orc_truncate(sqlite3_pcache *c, unsigned limit)
{
    orc_cache *o = orc_of(c);
    layer.xTruncate(c, limit);
    oracle_truncates++;
    for (unsigned k = limit; o && k < ORC_KEYS; k++) {
        if (!(o->bits[k / 64] >> (k % 64) & 1))
            continue;
        if (layer.xFetch(c, k, 0))
            oracle_bad++;               /* a page the truncate should have dropped */
        orc_set(o, k, 0);
    }
}

static void orc_destroy(sqlite3_pcache *c)
{
    for (int i = 0; i < ORC_CACHES; i++)
        if (orcs[i] && orcs[i]->c == c) {
            free(orcs[i]);
            orcs[i] = NULL;
        }
    layer.xDestroy(c);
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

static void test_many_pages_moved_high(void **state)
{
    /* more pages above the bound than the layer lists (8): the bound itself moves up */
    sqlite3_pcache *c = layer.xCreate(4096, 64, 1);
    layer.xCachesize(c, 1000);
    sqlite3_pcache_page *pg[10];
    for (unsigned i = 0; i < 10; i++) {
        pg[i] = layer.xFetch(c, 1 + i, 2);
        layer.xRekey(c, pg[i], 1 + i, 300000 + i);
    }
    for (unsigned i = 0; i < 8; i++)    /* the listed ones come back down */
        layer.xRekey(c, pg[i], 300000 + i, 20 + i);
    layer.xTruncate(c, 100);
    for (unsigned i = 0; i < 10; i++)
        if (i < 8)
            assert_ptr_equal(layer.xFetch(c, 20 + i, 0), pg[i]);
        else
            assert_null(layer.xFetch(c, 300000 + i, 0));
    /* a page discarded at a listed key: the key stays listed, the truncate still works */
    sqlite3_pcache_page *d = layer.xFetch(c, 40, 2);
    layer.xRekey(c, d, 40, 400000);
    layer.xUnpin(c, d, 1);
    sqlite3_pcache_page *e = layer.xFetch(c, 400000, 2);
    assert_non_null(e);
    layer.xTruncate(c, 100);
    assert_null(layer.xFetch(c, 400000, 0));
    assert_ptr_equal(layer.xFetch(c, 20, 0), pg[0]);
    assert_int_equal(pcache_install(), -1);     /* SQLite is running: refused, harmless */
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
    max_rekey = 0;
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
    assert_true(oracle_truncates >= 50);
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
    assert_int_equal(oracle_bad, 0);        /* no truncate, skipped or not, left a page */
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
        pcache_install() != 0 ||        /* a second call leaves the first in place */
        sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &layer) != SQLITE_OK ||
        layer.xTruncate == count_truncate)
        return 1;
    sqlite3_pcache_methods2 oracle = layer;
    oracle.xCreate = orc_create;
    oracle.xFetch = orc_fetch;
    oracle.xRekey = orc_rekey;
    oracle.xTruncate = orc_truncate;
    oracle.xDestroy = orc_destroy;
    if (sqlite3_config(SQLITE_CONFIG_PCACHE2, &oracle) != SQLITE_OK ||
        sqlite3_initialize() != SQLITE_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncate_matches_model),
        cmocka_unit_test(test_truncate_beyond_everything_is_skipped),
        cmocka_unit_test(test_many_pages_moved_high),
        cmocka_unit_test(test_database_balances_rolls_back_and_grows),
    };
    return cmocka_run_group_tests_name("pcache", tests, NULL, NULL);
}
