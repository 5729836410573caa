/* test_ckpt.c — WAL checkpoints on the checkpointer's thread (ckpt.c): they happen while
 * the writer holds its write lock (so the writer is not the one doing them), they are
 * triggered by the WAL's growth, and stopping gives the writer its automatic checkpoint
 * back. Real SQLite files in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "ckpt.h"
#include "store.h"
#include "tmpdir.h"

typedef struct fx {
    char dir[64];
    char db[128];
    sqlite3 *w;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f || tmpdir_make(f->dir, sizeof f->dir, "ckpt") < 0)
        return -1;
    snprintf(f->db, sizeof f->db, "%s/t.db", f->dir);
    if (sqlite3_open(f->db, &f->w) != SQLITE_OK ||
        sqlite3_exec(f->w, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                           "CREATE TABLE t(x BLOB)", NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    sqlite3_close(f->w);
    if (tmpdir_remove(f->dir) < 0)
        return -1;
    free(f);
    return 0;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* n commits of one 3,000-byte row each: a page of its own, two or three WAL frames a
 * commit */
static void commits(fx *f, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(sqlite3_exec(f->w, "INSERT INTO t VALUES(zeroblob(3000))", NULL, NULL,
                                      NULL), SQLITE_OK);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Until the database file is at least `bytes` long (copied pages), at most 20 s. */
static long wait_size(fx *f, long bytes)
{
    long sz = file_size(f->db);
    for (int i = 0; i < 2000 && sz < bytes; i++) {
        sleep_ms(10);
        sz = file_size(f->db);
    }
    return sz;
}

static void test_checkpoints_beside_the_writer(void **state)
{
    fx *f = *state;
    cherr e;
    long before = file_size(f->db);
    ckpt *k = ckpt_start(f->w, f->db, 50, 1000, &e);
    assert_non_null(k);
    commits(f, 5);                          /* under the threshold: no checkpoint */
    sleep_ms(100);
    assert_int_equal(ckpt_count(k), 0);
    assert_int_equal(file_size(f->db), before);
    commits(f, 40);                         /* past 50 frames, short of the writer's 200 */
    /* the writer takes its write lock and keeps it: a checkpoint done by its own commits
     * could not happen now, the checkpointer's PASSIVE one can */
    assert_int_equal(sqlite3_exec(f->w, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    long after = wait_size(f, before + 30 * 4096);
    assert_true(after >= before + 30 * 4096);
    for (int i = 0; i < 2000 && ckpt_count(k) < 1; i++)   /* the pass ends with its sync */
        sleep_ms(10);
    assert_true(ckpt_count(k) >= 1);
    assert_int_equal(sqlite3_exec(f->w, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    ckpt_stop(k);
    /* everything committed is readable from a fresh connection */
    sqlite3 *r;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open(f->db, &r), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(r, "SELECT count(*) FROM t", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 45);
    sqlite3_finalize(s);
    sqlite3_close(r);
}

/* Under a steady stream of commits the thread's passes never catch up with the last
 * commit, and the WAL is only started over once every frame is copied: the writer's own
 * pass at 4 x `frames` keeps it near that (without it: some 4,500 frames here). */
static void test_wal_stays_bounded(void **state)
{
    fx *f = *state;
    cherr e;
    ckpt *k = ckpt_start(f->w, f->db, 50, 1000, &e);
    assert_non_null(k);
    for (int i = 0; i < 1500; i++) {        /* ~3 frames each, a commit a millisecond */
        commits(f, 1);
        sleep_ms(1);
    }
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", f->db);
    long frame = 4096 + 24, sz = file_size(wal);
    assert_true(ckpt_count(k) >= 1);
    assert_true(sz > 0);
    assert_true(sz <= 32 + (4 * 50 + 300) * frame);
    ckpt_stop(k);
}

static void test_stop_gives_back_autocheckpoint(void **state)
{
    fx *f = *state;
    cherr e;
    ckpt *k = ckpt_start(f->w, f->db, 100000, 2000, &e);   /* never reached */
    assert_non_null(k);
    long before = file_size(f->db);
    commits(f, 600);                        /* 1,200-1,800 frames: past SQLite's 1,000 */
    assert_int_equal(file_size(f->db), before);      /* nobody checkpointed */
    assert_int_equal(ckpt_count(k), 0);
    ckpt_stop(k);
    commits(f, 1);                          /* under the 2,000 given back */
    assert_int_equal(file_size(f->db), before);
    commits(f, 600);                        /* past them: the writer's own checkpoint */
    assert_true(file_size(f->db) > before);
}

static store *store_at(const char *db)
{
    cherr e;
    store *st;
    int from, to;
    assert_int_equal(store_sqlite_open(db, 1, &st, &e), 0);
    assert_int_equal(store_migrate(st, &from, &to, &e), 0);
    return st;
}

/* n users, one commit each: a page or two a commit */
static void user_commits(store *st, int from, int n)
{
    cherr e;
    for (int i = from; i < from + n; i++) {
        char id[16];
        snprintf(id, sizeof id, "u%d", i);
        store_user u = {.user_id = id, .tier = "new", .segment = "", .tz = "", .attrs = "{}"};
        assert_int_equal(store_begin(st, &e), 0);
        assert_int_equal(store_user_put(st, &u, &e), 0);
        assert_int_equal(store_commit(st, &e), 0);
    }
}

/* A CLI command's connection leaves the WAL to a running scheduler's checkpointer: its
 * own automatic checkpoint waits for 10,000 frames, not SQLite's 1,000. */
static void test_store_leaves_wal_alone(void **state)
{
    fx *f = *state;
    char db[160];
    snprintf(db, sizeof db, "%s/s.db", f->dir);
    store *st = store_at(db);
    long before = file_size(db);
    user_commits(st, 0, 1500);              /* past 1,000 frames, short of 10,000 */
    assert_int_equal(file_size(db), before);
    store_close(st);
}

static void test_store_checkpoint_behind(void **state)
{
    fx *f = *state;
    cherr e;
    char db[160];
    snprintf(db, sizeof db, "%s/s.db", f->dir);
    store *st = store_at(db);
    assert_int_equal(store_checkpoint_behind(st, &e), 0);
    assert_int_equal(store_checkpoint_behind(st, &e), 0);   /* once is enough */
    long before = file_size(db);
    user_commits(st, 0, 1500);              /* past 1,000 frames, short of 4,000 */
    /* with the write lock held, only the checkpointer's thread can copy them */
    assert_int_equal(store_begin(st, &e), 0);
    for (int i = 0; i < 2000 && file_size(db) == before; i++)
        sleep_ms(10);
    assert_true(file_size(db) > before);
    store_rollback(st);
    char wal[200];
    snprintf(wal, sizeof wal, "%s-wal", db);
    store_close(st);                        /* stops the thread, then checkpoints */
    assert_int_equal(file_size(wal), -1);   /* the last connection removed the WAL */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_checkpoints_beside_the_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_stays_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_gives_back_autocheckpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_leaves_wal_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_checkpoint_behind, setup, teardown),
    };
    return cmocka_run_group_tests_name("ckpt", tests, NULL, NULL);
}
