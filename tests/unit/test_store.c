/* test_store.c — the SQLite store: schema and opening, the ready queue (ordering, due
 * times, leases, idempotency keys, cancel, reschedule, finish, recovery, counts) and
 * the append-only, hash-chained audit log. Times are fixed numbers, never the clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "audit.h"
#include "store.h"
#include "tmpdir.h"

typedef struct fx {
    char dir[64];
    char db[128];
    store *st;
} fx;

static int fx_open(fx *f)
{
    cherr e;
    int from, to;
    if (store_sqlite_open(f->db, 1, &f->st, &e) < 0 || store_migrate(f->st, &from, &to, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    return 0;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (tmpdir_make(f->dir, sizeof f->dir, "store") < 0)
        return -1;
    snprintf(f->db, sizeof f->db, "%s/t.db", f->dir);
    *state = f;
    return fx_open(f);
}

static int teardown(void **state)
{
    fx *f = *state;
    store_close(f->st);
    if (tmpdir_remove(f->dir) < 0)
        return -1;
    free(f);
    return 0;
}

/* Enqueue one message in its own transaction; returns its id. */
static int64_t put(fx *f, const char *user, int64_t due, const char *key, const char *tag,
                   int *dup)
{
    cherr e;
    int d = 0;
    store_msg m = {
        .due_at = due, .created_at = 1, .user_id = (char *)user, .tmpl = "welcome",
        .klass = "lifecycle", .tag = (char *)tag, .idem_key = (char *)key,
    };
    assert_int_equal(store_begin(f->st, &e), 0);
    if (store_enqueue(f->st, &m, &d, &e) < 0)
        fail_msg("%s", e.msg);
    assert_int_equal(store_commit(f->st, &e), 0);
    if (dup)
        *dup = d;
    return m.id;
}

/* Claim in a transaction; the caller frees with store_msgs_free. */
static store_msg *claim(fx *f, int64_t now, int64_t lease_until, int max, int *n)
{
    cherr e;
    store_msg *v;
    assert_int_equal(store_begin(f->st, &e), 0);
    if (store_claim(f->st, now, lease_until, max, &v, n, &e) < 0)
        fail_msg("%s", e.msg);
    assert_int_equal(store_commit(f->st, &e), 0);
    return v;
}

static long queued(fx *f)
{
    cherr e;
    long q;
    assert_int_equal(store_counts(f->st, 0, &q, NULL, NULL, NULL, &e), 0);
    return q;
}

/* ---- schema and opening ----------------------------------------------------------- */

static int sql_int(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void test_migrate(void **state)
{
    fx *f = *state;
    cherr e;
    int from, to;
    /* setup migrated from 0; a second run is a no-op at the same version */
    assert_int_equal(store_migrate(f->st, &from, &to, &e), 0);
    assert_int_equal(from, to);
    assert_true(to >= 1);
    assert_int_equal(sql_int(f->db, "PRAGMA user_version"), to);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM sqlite_master WHERE name IN "
                                    "('users','msg','queue','done','log')"), 5);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM sqlite_master WHERE type='trigger' "
                                    "AND tbl_name='log'"),
                     2);
    struct stat sb;
    assert_int_equal(stat(f->db, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);       /* the database is private */

    /* reopening the migrated file without create works */
    store *s2;
    if (store_sqlite_open(f->db, 0, &s2, &e) < 0)
        fail_msg("%s", e.msg);
    store_close(s2);
}

static void test_open_needs_init(void **state)
{
    fx *f = *state;
    cherr e;
    store *s;
    char path[160];
    /* a missing file */
    snprintf(path, sizeof path, "%s/missing.db", f->dir);
    assert_int_equal(store_sqlite_open(path, 0, &s, &e), -1);
    assert_non_null(strstr(e.msg, "chuda init"));
    assert_non_null(strstr(e.msg, "missing.db"));
    /* a fresh file that was never migrated */
    snprintf(path, sizeof path, "%s/fresh.db", f->dir);
    assert_int_equal(store_sqlite_open(path, 1, &s, &e), 0);
    store_close(s);
    assert_int_equal(store_sqlite_open(path, 0, &s, &e), -1);
    assert_non_null(strstr(e.msg, "chuda init"));
    assert_non_null(strstr(e.msg, "fresh.db"));
}

/* ---- the queue -------------------------------------------------------------------- */

static void test_claim_order(void **state)
{
    fx *f = *state;
    int64_t a = put(f, "u1", 300, NULL, NULL, NULL);
    int64_t b = put(f, "u2", 100, NULL, NULL, NULL);
    int64_t c = put(f, "u3", 200, NULL, NULL, NULL);
    int64_t d = put(f, "u4", 100, NULL, NULL, NULL);   /* same due as b, later id */
    int n;
    store_msg *v = claim(f, 1000, 2000, 10, &n);
    assert_int_equal(n, 4);
    assert_int_equal(v[0].id, b);
    assert_int_equal(v[1].id, d);
    assert_int_equal(v[2].id, c);
    assert_int_equal(v[3].id, a);
    assert_int_equal(v[0].due_at, 100);
    assert_string_equal(v[0].user_id, "u2");
    assert_string_equal(v[0].tmpl, "welcome");
    assert_string_equal(v[0].klass, "lifecycle");
    assert_string_equal(v[0].vars, "{}");
    assert_null(v[0].inflight);
    store_msgs_free(v, n);
}

static void test_claim_max(void **state)
{
    fx *f = *state;
    for (int i = 0; i < 5; i++)
        put(f, "u1", 100 + i, NULL, NULL, NULL);
    int n;
    store_msg *v = claim(f, 1000, 2000, 2, &n);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].due_at, 100);
    assert_int_equal(v[1].due_at, 101);
    store_msgs_free(v, n);
    v = claim(f, 1000, 2000, 10, &n);                 /* the rest */
    assert_int_equal(n, 3);
    assert_int_equal(v[0].due_at, 102);
    store_msgs_free(v, n);
}

static void test_claim_respects_now(void **state)
{
    fx *f = *state;
    cherr e;
    int64_t now_id = put(f, "u1", 1000, NULL, NULL, NULL);
    int64_t later = put(f, "u1", 5000, NULL, NULL, NULL);
    int n;
    store_msg *v = claim(f, 999, 3000, 10, &n);       /* nothing due yet */
    assert_int_equal(n, 0);
    free(v);
    int64_t due;
    assert_int_equal(store_next_due(f->st, 999, &due, &e), 1);
    assert_int_equal(due, 1000);
    v = claim(f, 1000, 3000, 10, &n);                 /* due exactly now */
    assert_int_equal(n, 1);
    assert_int_equal(v[0].id, now_id);
    store_msgs_free(v, n);
    long q, d, l;
    assert_int_equal(store_counts(f->st, 1000, &q, &d, &l, NULL, &e), 0);
    assert_int_equal(q, 2);
    assert_int_equal(d, 0);
    assert_int_equal(l, 1);
    /* the leased one is skipped by next_due; the later one is next */
    assert_int_equal(store_next_due(f->st, 1000, &due, &e), 1);
    assert_int_equal(due, 5000);
    v = claim(f, 4000, 6000, 10, &n);                 /* only the expired lease */
    assert_int_equal(n, 1);
    assert_int_equal(v[0].id, now_id);
    store_msgs_free(v, n);
    v = claim(f, 5000, 6000, 10, &n);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].id, later);
    store_msgs_free(v, n);
}

static void test_lease(void **state)
{
    fx *f = *state;
    int64_t id = put(f, "u1", 100, NULL, NULL, NULL);
    int n;
    store_msg *v = claim(f, 1000, 2000, 10, &n);
    assert_int_equal(n, 1);
    store_msgs_free(v, n);
    v = claim(f, 1999, 3000, 10, &n);                 /* lease still held */
    assert_int_equal(n, 0);
    free(v);
    v = claim(f, 2000, 3000, 10, &n);                 /* lease over: claimed again */
    assert_int_equal(n, 1);
    assert_int_equal(v[0].id, id);
    store_msgs_free(v, n);
    v = claim(f, 2500, 4000, 10, &n);                 /* under the new lease */
    assert_int_equal(n, 0);
    free(v);
}

/* unlease gives a claimed message back as it was: claimable at once, attempts and
 * in-flight mark kept (a reschedule would drop the mark) */
static void test_unlease(void **state)
{
    fx *f = *state;
    cherr e;
    int64_t id = put(f, "u1", 100, NULL, NULL, NULL);
    int n;
    store_msg *v = claim(f, 1000, 99999, 10, &n);
    assert_int_equal(n, 1);
    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_mark_inflight(f->st, &v[0], "mp_subscribe", &e), 0);
    assert_int_equal(store_commit(f->st, &e), 0);
    store_msgs_free(v, n);
    v = claim(f, 1000, 99999, 10, &n);                /* leased: nothing to claim */
    assert_int_equal(n, 0);
    free(v);
    store_msg m = {.id = id, .due_at = 100};
    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_unlease(f->st, &m, &e), 0);
    assert_int_equal(store_commit(f->st, &e), 0);
    v = claim(f, 1000, 99999, 10, &n);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].id, id);
    assert_int_equal(v[0].due_at, 100);
    assert_int_equal(v[0].attempts, 1);
    assert_non_null(v[0].inflight);
    assert_string_equal(v[0].inflight, "mp_subscribe");
    store_msgs_free(v, n);
}

static void test_idempotency_key(void **state)
{
    fx *f = *state;
    cherr e;
    int dup;
    int64_t first = put(f, "u1", 100, "order-42-paid", NULL, &dup);
    assert_int_equal(dup, 0);
    assert_int_equal(queued(f), 1);
    int64_t second = put(f, "u1", 999, "order-42-paid", NULL, &dup);
    assert_int_equal(dup, 1);
    assert_int_equal(second, first);
    assert_int_equal(queued(f), 1);                   /* nothing written */
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM msg"), 1);
    store_msg m;
    store_msgstate ms;
    assert_int_equal(store_msg_get(f->st, first, &m, &ms, &e), 1);
    assert_int_equal(m.due_at, 100);                  /* the first one's due time stands */
    store_msg_free(&m);
    /* a different key is a different message */
    put(f, "u1", 100, "order-43-paid", NULL, &dup);
    assert_int_equal(dup, 0);
    assert_int_equal(queued(f), 2);
}

static void test_cancel(void **state)
{
    fx *f = *state;
    cherr e;
    int64_t leased = put(f, "u1", 50, NULL, "cart", NULL);
    int64_t c1 = put(f, "u1", 100, NULL, "cart", NULL);
    int64_t c2 = put(f, "u1", 200, NULL, "cart", NULL);
    int64_t other_tag = put(f, "u1", 300, NULL, "welcome", NULL);
    int64_t other_user = put(f, "u2", 400, NULL, "cart", NULL);
    int64_t keyed = put(f, "u3", 500, "k-1", NULL, NULL);
    int n;
    store_msg *v = claim(f, 60, 10000, 1, &n);        /* leases only the first */
    assert_int_equal(n, 1);
    assert_int_equal(v[0].id, leased);
    assert_int_equal(store_begin(f->st, &e), 0);      /* ... and its request is out */
    assert_int_equal(store_mark_inflight(f->st, &v[0], "mp_subscribe", &e), 0);
    assert_int_equal(store_commit(f->st, &e), 0);
    store_msgs_free(v, n);

    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_cancel(f->st, NULL, "u1", "cart", 100, &v, &n, &e), 0);
    assert_int_equal(store_commit(f->st, &e), 0);
    assert_int_equal(n, 2);                           /* not the one in flight */
    int64_t got[2] = {v[0].id, v[1].id};
    assert_true((got[0] == c1 && got[1] == c2) || (got[0] == c2 && got[1] == c1));
    assert_string_equal(v[0].user_id, "u1");
    store_msgs_free(v, n);
    assert_int_equal(queued(f), 4);                   /* in flight, other tag/user, keyed */

    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_cancel(f->st, "k-1", NULL, NULL, 100, &v, &n, &e), 0);
    assert_int_equal(store_commit(f->st, &e), 0);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].id, keyed);
    assert_string_equal(v[0].user_id, "u3");
    store_msgs_free(v, n);
    assert_int_equal(queued(f), 3);

    /* nothing left to cancel: an empty answer, not an error */
    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_cancel(f->st, "k-1", NULL, NULL, 100, &v, &n, &e), 0);
    assert_int_equal(store_commit(f->st, &e), 0);
    assert_int_equal(n, 0);
    free(v);


    store_msg m;
    store_msgstate ms;
    assert_int_equal(store_msg_get(f->st, other_tag, &m, &ms, &e), 1);
    assert_string_equal(ms.state, "queued");
    store_msg_free(&m);
    assert_int_equal(store_msg_get(f->st, other_user, &m, &ms, &e), 1);
    assert_string_equal(ms.state, "queued");
    store_msg_free(&m);
    assert_int_equal(store_msg_get(f->st, leased, &m, &ms, &e), 1);
    assert_string_equal(ms.state, "leased");
    store_msg_free(&m);

    /* back in the queue (a retry), it can be cancelled */
    store_msg back = {.id = leased, .due_at = 50, .attempts = 1};
    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_reschedule(f->st, &back, 900, &e), 0);
    assert_int_equal(store_cancel(f->st, NULL, "u1", "cart", 10000, &v, &n, &e), 0);
    assert_int_equal(store_commit(f->st, &e), 0);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].id, leased);
    store_msgs_free(v, n);
}

/* A claimed message whose request has not been built yet can still be cancelled (it may
 * wait minutes for a rate or a slot): the run's in-flight mark then finds its row gone
 * and says so, and nothing leaves. One marked in flight cannot be, not even once its
 * lease ran out after a crash: its request may have left, and the next start logs it
 * uncertain. */
static void test_cancel_claimed(void **state)
{
    fx *f = *state;
    cherr e;
    int64_t a = put(f, "u1", 100, NULL, "cart", NULL);
    int64_t b = put(f, "u1", 100, NULL, "cart", NULL);
    int n;
    store_msg *v = claim(f, 1000, 2000, 10, &n);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].id, a);
    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_mark_inflight(f->st, &v[0], "mp_subscribe", &e), 0);   /* a out */
    assert_int_equal(store_commit(f->st, &e), 0);

    store_msg *c;
    int nc;
    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_cancel(f->st, NULL, "u1", "cart", 1500, &c, &nc, &e), 0);
    assert_int_equal(store_commit(f->st, &e), 0);
    assert_int_equal(nc, 1);                          /* b, still waiting in the run */
    assert_int_equal(c[0].id, b);
    store_msgs_free(c, nc);
    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_mark_inflight(f->st, &v[1], "mp_subscribe", &e), STORE_CANCELLED);
    assert_int_equal(store_commit(f->st, &e), 0);
    store_msgs_free(v, n);
}

/* After a crash, before the next start: the message marked in flight is not cancelled
 * once the dead run's lease is over (its request may have left); the next start logs
 * it uncertain. */
static void test_cancel_inflight_crashed(void **state)
{
    fx *f = *state;
    cherr e;
    int64_t a = put(f, "u1", 100, NULL, "cart", NULL);
    int n;
    store_msg *v = claim(f, 1000, 2000, 10, &n);
    assert_int_equal(n, 1);
    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_mark_inflight(f->st, &v[0], "mp_subscribe", &e), 0);
    assert_int_equal(store_commit(f->st, &e), 0);
    store_msgs_free(v, n);
    store_msg *c;
    int nc;
    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_cancel(f->st, NULL, "u1", "cart", 5000, &c, &nc, &e), 0);
    assert_int_equal(store_commit(f->st, &e), 0);
    assert_int_equal(nc, 0);
    free(c);
    store_msg m;
    store_msgstate ms;
    assert_int_equal(store_msg_get(f->st, a, &m, &ms, &e), 1);
    assert_string_equal(m.inflight, "mp_subscribe");  /* left for recovery: uncertain */
    store_msg_free(&m);
}

static void test_reschedule(void **state)
{
    fx *f = *state;
    cherr e;
    int64_t id = put(f, "u1", 100, NULL, NULL, NULL);
    int n;
    store_msg *v = claim(f, 1000, 2000, 10, &n);
    assert_int_equal(n, 1);
    v[0].attempts = 2;
    free(v[0].skip);
    v[0].skip = strdup("sms");
    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_reschedule(f->st, &v[0], 7000, &e), 0);
    assert_int_equal(store_commit(f->st, &e), 0);
    store_msgs_free(v, n);

    store_msg m;
    store_msgstate ms;
    assert_int_equal(store_msg_get(f->st, id, &m, &ms, &e), 1);
    assert_string_equal(ms.state, "queued");          /* the lease is dropped */
    assert_int_equal(m.due_at, 7000);
    assert_int_equal(m.attempts, 2);
    assert_string_equal(m.skip, "sms");
    store_msg_free(&m);
    assert_int_equal(queued(f), 1);

    v = claim(f, 6999, 9000, 10, &n);                 /* not before its new time */
    assert_int_equal(n, 0);
    free(v);
    v = claim(f, 7000, 9000, 10, &n);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].attempts, 2);
    assert_string_equal(v[0].skip, "sms");
    store_msgs_free(v, n);
}

static void test_finish(void **state)
{
    fx *f = *state;
    cherr e;
    int64_t id = put(f, "u1", 100, NULL, NULL, NULL);
    put(f, "u2", 100, NULL, NULL, NULL);
    int n;
    store_msg *v = claim(f, 1000, 2000, 1, &n);
    assert_int_equal(v[0].id, id);
    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_finish(f->st, &v[0], "sent", "mp_subscribe", "0", 1500, &e), 0);
    assert_int_equal(store_commit(f->st, &e), 0);
    store_msgs_free(v, n);
    assert_int_equal(queued(f), 1);

    store_msg m;
    store_msgstate ms;
    assert_int_equal(store_msg_get(f->st, id, &m, &ms, &e), 1);
    assert_string_equal(ms.state, "sent");
    assert_string_equal(ms.channel, "mp_subscribe");
    assert_string_equal(ms.code, "0");
    assert_int_equal(ms.finished_at, 1500);
    assert_string_equal(m.user_id, "u1");
    store_msg_free(&m);
    assert_int_equal(store_msg_get(f->st, 999999, &m, &ms, &e), 0);   /* unknown id */

    /* a finished message is never claimed again */
    v = claim(f, 5000, 6000, 10, &n);
    assert_int_equal(n, 1);
    assert_int_not_equal(v[0].id, id);
    store_msgs_free(v, n);
}

static void test_recover(void **state)
{
    fx *f = *state;
    cherr e;
    int64_t a = put(f, "u1", 100, NULL, NULL, NULL);
    int64_t b = put(f, "u2", 200, NULL, NULL, NULL);
    put(f, "u3", 300, NULL, NULL, NULL);
    int n;
    store_msg *v = claim(f, 1000, 99999, 2, &n);      /* a and b leased */
    assert_int_equal(n, 2);
    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_mark_inflight(f->st, &v[0], "mp_subscribe", &e), 0);  /* a only */
    assert_int_equal(store_commit(f->st, &e), 0);
    store_msgs_free(v, n);

    store_msg m;
    store_msgstate ms;
    assert_int_equal(store_msg_get(f->st, a, &m, &ms, &e), 1);
    assert_int_equal(m.attempts, 1);                  /* marking counts the attempt */
    assert_string_equal(m.inflight, "mp_subscribe");
    store_msg_free(&m);

    /* "restart": a new connection recovers */
    store_close(f->st);
    assert_int_equal(store_sqlite_open(f->db, 0, &f->st, &e), 0);
    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_recover(f->st, &v, &n, &e), 0);
    assert_int_equal(store_commit(f->st, &e), 0);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].id, a);
    assert_string_equal(v[0].inflight, "mp_subscribe");
    assert_int_equal(v[0].attempts, 1);
    store_msgs_free(v, n);

    long q, d, l;
    assert_int_equal(store_counts(f->st, 1000, &q, &d, &l, NULL, &e), 0);
    assert_int_equal(q, 3);
    assert_int_equal(d, 3);                           /* every lease dropped */
    assert_int_equal(l, 0);
    v = claim(f, 1000, 2000, 10, &n);
    assert_int_equal(n, 3);
    assert_int_equal(v[0].id, a);
    assert_null(v[0].inflight);                       /* cleared by recovery */
    assert_int_equal(v[1].id, b);
    store_msgs_free(v, n);

    /* nothing in flight: recover returns nothing */
    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_recover(f->st, &v, &n, &e), 0);
    assert_int_equal(store_commit(f->st, &e), 0);
    assert_int_equal(n, 0);
    free(v);
}

/* Reservations outstanding at a start are a dead run's: the message's own (claimed, still
 * queued, held by a pause) and one another process cancelled before the run reached it,
 * which would count against the user's cap for the whole window for a send that never
 * happened. Recovery drops them all; a confirmed send stays. */
static int64_t reserved_sends(fx *f, const char *user)
{
    cherr e;
    store_send s[8];
    int n;
    assert_int_equal(store_sends_since(f->st, user, 0, 0, "", s, 8, &n, &e), 0);
    return n;
}

static void test_recover_reservations(void **state)
{
    fx *f = *state;
    cherr e;
    int64_t a = put(f, "u1", 100, NULL, "cart", NULL);
    int64_t b = put(f, "u1", 100, NULL, "news", NULL);
    int64_t c = put(f, "u1", 100, NULL, "news", NULL);
    int n;
    store_msg *v = claim(f, 1000, 99999, 10, &n);
    assert_int_equal(n, 3);
    assert_int_equal(store_begin(f->st, &e), 0);     /* decided: a, b and c reserved */
    assert_int_equal(store_send_reserve(f->st, "u1", a, "sms", 1000, &e), 0);
    assert_int_equal(store_send_reserve(f->st, "u1", b, "sms", 1000, &e), 0);
    assert_int_equal(store_send_reserve(f->st, "u1", c, "sms", 1001, &e), 0);
    assert_int_equal(store_send_settle(f->st, c, 1, 1002, &e), 0);     /* c sent */
    assert_int_equal(store_finish(f->st, &v[2], "sent", "sms", "0", 1002, &e), 0);
    assert_int_equal(store_commit(f->st, &e), 0);
    store_msgs_free(v, n);
    store_msg *x;
    int nx;
    assert_int_equal(store_begin(f->st, &e), 0);     /* `chuda cancel` takes a */
    assert_int_equal(store_cancel(f->st, NULL, "u1", "cart", 1100, &x, &nx, &e), 0);
    assert_int_equal(nx, 1);
    assert_int_equal(store_finish(f->st, &x[0], "cancelled", NULL, NULL, 1100, &e), 0);
    assert_int_equal(store_commit(f->st, &e), 0);
    store_msgs_free(x, nx);
    assert_int_equal(reserved_sends(f, "u1"), 3);

    /* the run is killed; the next start recovers */
    store_close(f->st);
    assert_int_equal(store_sqlite_open(f->db, 0, &f->st, &e), 0);
    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_recover(f->st, &v, &n, &e), 0);
    assert_int_equal(store_commit(f->st, &e), 0);
    assert_int_equal(n, 0);
    free(v);
    assert_int_equal(reserved_sends(f, "u1"), 1);    /* only c, the one sent */
}

static void test_counts(void **state)
{
    fx *f = *state;
    cherr e;
    for (int i = 0; i < 4; i++)
        put(f, "u1", 100 * (i + 1), NULL, NULL, NULL);     /* 100..400 */
    put(f, "u1", 10000, NULL, NULL, NULL);
    int n;
    store_msg *v = claim(f, 150, 5000, 1, &n);        /* 100 leased until 5000 */
    store_msgs_free(v, n);
    v = NULL;
    long q, d, l, r;
    assert_int_equal(store_counts(f->st, 300, &q, &d, &l, &r, &e), 0);
    assert_int_equal(q, 5);
    assert_int_equal(d, 2);                           /* 200, 300 */
    assert_int_equal(l, 1);
    assert_int_equal(r, 0);
    /* a message put back after an attempt is "retrying" */
    v = claim(f, 300, 5000, 1, &n);                   /* 200 */
    assert_int_equal(n, 1);
    assert_int_equal(v[0].due_at, 200);
    v[0].attempts = 1;
    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_reschedule(f->st, &v[0], 4000, &e), 0);
    assert_int_equal(store_commit(f->st, &e), 0);
    store_msgs_free(v, n);
    assert_int_equal(store_counts(f->st, 300, &q, &d, &l, &r, &e), 0);
    assert_int_equal(q, 5);
    assert_int_equal(d, 1);                           /* 300 */
    assert_int_equal(l, 1);
    assert_int_equal(r, 1);
    assert_int_equal(store_counts(f->st, 5000, &q, &d, &l, &r, &e), 0);
    assert_int_equal(d, 4);                           /* the lease ran out at 5000 */
    assert_int_equal(l, 0);
    /* NULL pointers are allowed */
    assert_int_equal(store_counts(f->st, 5000, NULL, NULL, NULL, &r, &e), 0);
    assert_int_equal(r, 1);
}

/* Reads leave no snapshot open: another process's write does not make our next
 * write transaction fail. */
static void test_no_stale_snapshot(void **state)
{
    fx *f = *state;
    cherr e;
    store_user u = {.user_id = "u1", .tier = "new"};
    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_user_put(f->st, &u, &e), 0);
    assert_int_equal(store_commit(f->st, &e), 0);
    put(f, "u1", 100, "k", NULL, NULL);

    store_user got = {0};
    assert_int_equal(store_user_get(f->st, "u1", &got, &e), 1);    /* a read ... */
    store_user_free(&got);
    int dup;
    put(f, "u1", 100, "k", NULL, &dup);                             /* ... a dup lookup */
    assert_int_equal(dup, 1);

    sqlite3 *db;                                      /* another writer */
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "INSERT INTO users(user_id,tier) VALUES('u9','new')",
                                  NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    u.user_id = "u2";
    assert_int_equal(store_begin(f->st, &e), 0);
    if (store_user_put(f->st, &u, &e) < 0)
        fail_msg("%s", e.msg);
    assert_int_equal(store_commit(f->st, &e), 0);
    assert_int_equal(store_user_get(f->st, "u9", &got, &e), 1);    /* sees the other write */
    store_user_free(&got);
}

/* The data version changes for another connection's commit, not for our own. */
/* Callback keys: once each, then forgotten a week after they arrived (a provider re-pushes
 * within minutes), so the table does not grow with every push ever received. */
static void test_callback_keys(void **state)
{
    fx *f = *state;
    cherr e;
    const int64_t t0 = INT64_C(1795000000000), day = 86400 * INT64_C(1000);
    assert_int_equal(store_begin(f->st, &e), 0);
    assert_int_equal(store_callback_once(f->st, "old", t0, &e), 1);
    assert_int_equal(store_callback_once(f->st, "old", t0 + 60000, &e), 0);   /* a re-push */
    assert_int_equal(store_callback_once(f->st, "recent", t0 + 2 * day, &e), 1);
    /* eight days on: "old" (8 days) is let go, "recent" (6 days) is kept */
    assert_int_equal(store_callback_once(f->st, "new", t0 + 8 * day, &e), 1);
    assert_int_equal(store_callback_once(f->st, "recent", t0 + 8 * day, &e), 0);
    assert_int_equal(store_callback_once(f->st, "old", t0 + 8 * day, &e), 1);
    assert_int_equal(store_commit(f->st, &e), 0);
}

static void test_data_version(void **state)
{
    fx *f = *state;
    cherr e;
    int64_t v0, v1, v2;
    assert_int_equal(store_data_version(f->st, &v0, &e), 0);
    put(f, "u1", 100, NULL, NULL, NULL);                            /* our own commit */
    assert_int_equal(store_data_version(f->st, &v1, &e), 0);
    assert_true(v1 == v0);
    store *other;                                   /* another process's chuda enqueue */
    assert_int_equal(store_sqlite_open(f->db, 0, &other, &e), 0);
    store_msg m = {.due_at = 50, .created_at = 1, .user_id = "u2", .tmpl = "welcome",
                   .klass = "lifecycle"};
    int dup;
    assert_int_equal(store_begin(other, &e), 0);
    assert_int_equal(store_enqueue(other, &m, &dup, &e), 0);
    assert_int_equal(store_data_version(f->st, &v2, &e), 0);
    assert_true(v2 == v1);                          /* not committed yet */
    assert_int_equal(store_commit(other, &e), 0);
    store_close(other);
    assert_int_equal(store_data_version(f->st, &v2, &e), 0);
    assert_true(v2 != v1);
    int64_t due;                                    /* and the new message is seen */
    assert_int_equal(store_next_due(f->st, 0, &due, &e), 1);
    assert_int_equal(due, 50);
}

/* ---- the audit log ---------------------------------------------------------------- */

typedef struct rows {
    int n;
    int64_t seq[16], msg[16];
    char event[16][32], user[16][16];
    unsigned char hash[16][AUDIT_HASH_LEN];
    int chain_ok;
    unsigned char prev[AUDIT_HASH_LEN];
} rows;

static int collect(const store_logrow *r, void *arg)
{
    rows *o = arg;
    if (o->n >= 16)
        return 1;
    unsigned char h[AUDIT_HASH_LEN];
    audit_hash(o->prev, r->seq, r->at, r->message_id, r->campaign_id, r->user_id, r->event,
               r->channel, r->reason, r->code, r->detail, r->target, h);
    if (!r->hash || memcmp(h, r->hash, AUDIT_HASH_LEN))
        o->chain_ok = 0;
    memcpy(o->prev, h, AUDIT_HASH_LEN);
    o->seq[o->n] = r->seq;
    o->msg[o->n] = r->message_id;
    snprintf(o->event[o->n], sizeof o->event[0], "%s", r->event);
    snprintf(o->user[o->n], sizeof o->user[0], "%s", r->user_id ? r->user_id : "-");
    memcpy(o->hash[o->n], r->hash ? r->hash : h, AUDIT_HASH_LEN);
    o->n++;
    return 0;
}

static void log_rows(fx *f)
{
    cherr e;
    const store_event ev[] = {
        {.at = 1000, .message_id = 1, .user_id = "u1", .event = "enqueue"},
        {.at = 1001, .message_id = 1, .user_id = "u1", .event = "decision", .reason = "send"},
        {.at = 1002, .message_id = 2, .user_id = "u2", .event = "enqueue"},
        {.at = 1003, .message_id = 1, .user_id = "u1", .event = "attempt",
         .channel = "mp_subscribe"},
        {.at = 1004, .message_id = 1, .user_id = "u1", .event = "result", .code = "0",
         .detail = "{\"msgid\":7}"},
        {.at = 1005, .event = "reload", .detail = "templates"},
    };
    /* two transactions, so the chain continues across them */
    assert_int_equal(store_begin(f->st, &e), 0);
    for (int i = 0; i < 3; i++)
        if (store_log(f->st, &ev[i], &e) < 0)
            fail_msg("%s", e.msg);
    assert_int_equal(store_commit(f->st, &e), 0);
    assert_int_equal(store_begin(f->st, &e), 0);
    for (int i = 3; i < 6; i++)
        if (store_log(f->st, &ev[i], &e) < 0)
            fail_msg("%s", e.msg);
    assert_int_equal(store_commit(f->st, &e), 0);
}

static void test_log_chain(void **state)
{
    fx *f = *state;
    cherr e;
    log_rows(f);
    rows r = {.chain_ok = 1};
    store_logq q = {0};
    assert_int_equal(store_log_each(f->st, &q, collect, &r, &e), 0);
    assert_int_equal(r.n, 6);
    assert_true(r.chain_ok);
    for (int i = 0; i < 6; i++)
        assert_int_equal(r.seq[i], i + 1);
    /* the first row chains from 32 zero bytes */
    unsigned char zero[AUDIT_HASH_LEN] = {0}, h[AUDIT_HASH_LEN];
    audit_hash(zero, 1, 1000, 1, 0, "u1", "enqueue", NULL, NULL, NULL, NULL, NULL, h);
    assert_memory_equal(h, r.hash[0], AUDIT_HASH_LEN);
    /* a changed field changes the hash */
    audit_hash(zero, 1, 1000, 1, 0, "u2", "enqueue", NULL, NULL, NULL, NULL, NULL, h);
    assert_memory_not_equal(h, r.hash[0], AUDIT_HASH_LEN);

    /* logging outside a transaction is refused */
    store_event ev = {.at = 1, .event = "x"};
    assert_int_equal(store_log(f->st, &ev, &e), -1);
}

static void test_log_append_only(void **state)
{
    fx *f = *state;
    log_rows(f);
    sqlite3 *db;
    char *msg = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db, "UPDATE log SET event='tampered' WHERE seq=2", NULL,
                                      NULL, &msg), SQLITE_OK);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "append-only"));
    sqlite3_free(msg);
    msg = NULL;
    assert_int_not_equal(sqlite3_exec(db, "DELETE FROM log WHERE seq=6", NULL, NULL, &msg),
                         SQLITE_OK);
    assert_non_null(strstr(msg, "append-only"));
    sqlite3_free(msg);
    sqlite3_close(db);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM log"), 6);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM log WHERE event='tampered'"), 0);
}

static void test_log_filters(void **state)
{
    fx *f = *state;
    cherr e;
    log_rows(f);
    rows r = {.chain_ok = 1};
    store_logq q = {.message_id = 1};
    assert_int_equal(store_log_each(f->st, &q, collect, &r, &e), 0);
    assert_int_equal(r.n, 4);
    assert_string_equal(r.event[0], "enqueue");
    assert_string_equal(r.event[3], "result");

    memset(&r, 0, sizeof r);
    q = (store_logq){.user_id = "u2"};
    assert_int_equal(store_log_each(f->st, &q, collect, &r, &e), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.msg[0], 2);

    memset(&r, 0, sizeof r);
    q = (store_logq){.event = "enqueue"};
    assert_int_equal(store_log_each(f->st, &q, collect, &r, &e), 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.user[0], "u1");
    assert_string_equal(r.user[1], "u2");

    memset(&r, 0, sizeof r);
    q = (store_logq){.message_id = 1, .event = "attempt"};
    assert_int_equal(store_log_each(f->st, &q, collect, &r, &e), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.seq[0], 4);

    memset(&r, 0, sizeof r);
    q = (store_logq){.after_seq = 4, .limit = 1};
    assert_int_equal(store_log_each(f->st, &q, collect, &r, &e), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.seq[0], 5);

    memset(&r, 0, sizeof r);
    q = (store_logq){.user_id = "nobody"};
    assert_int_equal(store_log_each(f->st, &q, collect, &r, &e), 0);
    assert_int_equal(r.n, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_migrate),
        T(test_open_needs_init),
        T(test_claim_order),
        T(test_claim_max),
        T(test_claim_respects_now),
        T(test_lease),
        T(test_unlease),
        T(test_idempotency_key),
        T(test_cancel),
        T(test_cancel_claimed),
        T(test_cancel_inflight_crashed),
        T(test_reschedule),
        T(test_finish),
        T(test_recover),
        T(test_recover_reservations),
        T(test_counts),
        T(test_no_stale_snapshot),
        T(test_data_version),
        T(test_callback_keys),
        T(test_log_chain),
        T(test_log_append_only),
        T(test_log_filters),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
