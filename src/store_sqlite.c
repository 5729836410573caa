/* store_sqlite.c — the embedded SQLite store (store.h), the only file that speaks SQL.
 *
 * WAL mode, synchronous=NORMAL set explicitly, a busy timeout so another process's
 * short transaction (an enqueue from the CLI) waits rather than fails, every statement
 * prepared once at open. Writes happen inside the caller's begin/commit. The schema
 * is db/NNN_*.sql, compiled in (tools/embed-sql.sh), tracked by PRAGMA user_version. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "buf.h"
#include "ckpt.h"
#include "fixstr.h"
#include "hashset.h"
#include "pcache.h"

extern const char *const store_migrations[];

/* Every writer's automatic checkpoint, in WAL frames (4 KiB pages): above the 4,000 that
 * `chuda run`'s checkpointer lets the WAL reach (checkpoint_behind), so that a CLI
 * command's commit beside a running scheduler does not copy the scheduler's WAL and sync
 * it twice; alone, a CLI command checkpoints once the WAL holds 40 MB. */
#define SQ_AUTOCKPT 10000

enum {
    S_USER_PUT, S_USER_GET,
    S_KEY_FIND, S_MSG_INS, S_Q_INS, S_NEXT_ID,
    S_CANCEL_KEY, S_CANCEL_TAG, S_CANCEL_CAMP, S_Q_DEL_ID,
    S_CLAIM, S_LEASE, S_RENEW, S_UNLEASE, S_NEXT_DUE,
    S_INFLIGHT, S_Q_DEL, S_Q_LOST, S_DONE_INS,
    S_RECOVER_SEL, S_RECOVER_SENDS, S_RECOVER_UPD,
    S_LAST_HASH, S_LOG_INS,
    S_MSG_GET, S_Q_GET, S_DONE_GET,
    S_COUNT_Q, S_COUNT_DUE, S_COUNT_LEASED, S_COUNT_RETRY,
    S_SENDS_SINCE, S_SENDS_CAPPED, S_SEND_RESERVE, S_SEND_OK, S_SEND_DEL,
    S_OPTOUTS_GET, S_OPTOUT_PUT, S_OPTOUT_DEL,
    S_CREDITS_GET, S_CREDITS_ADD, S_CREDITS_SET,
    S_LOG_COUNT, S_ANCHOR_GET, S_HEAD_SET,
    S_PID_PUT, S_PID_GET, S_PID_RECEIPT, S_PID_REF, S_SEEN_PUT, S_SEEN_PRUNE, S_USERS_PHONE,
    S_USERS_MP,
    S_USERS_OA,
    S_DATA_VERSION,
    S_COUNT
};

/* A campaign's messages (?N: its id): the id range campaign create recorded, through msg's
 * primary key (db/010_campaign_ids.sql); a campaign that does not exist has none. */
#define CAMP_FIRST(p) "(SELECT first_id FROM campaigns WHERE id=" p ")"
#define CAMP_LAST(p)  "(SELECT last_id FROM campaigns WHERE id=" p ")"
#define CAMP_MSGS(p)  "m.id BETWEEN " CAMP_FIRST(p) " AND " CAMP_LAST(p) " AND m.campaign_id=" p
/* A held (paused) message keeps its due time, shifted this far into the future: never
 * due, never claimed, and released by shifting back. Real due times are below 2^42. */
#define HOLD_OFFSET (INT64_C(1) << 50)

#define USER_COLS "user_id,tier,segment,tz,mp_openid,oa_openid,phone,wecom_userid," \
                  "wecom_external_userid,attrs"

static const char *const sql_text[S_COUNT] = {
    [S_USER_PUT] = "INSERT INTO users(user_id,tier,segment,tz,mp_openid,oa_openid,phone,"
                   "wecom_userid,wecom_external_userid,attrs) VALUES(?,?,?,?,?,?,?,?,?,?) "
                   "ON CONFLICT(user_id) DO UPDATE SET tier=excluded.tier,"
                   "segment=excluded.segment,tz=excluded.tz,mp_openid=excluded.mp_openid,"
                   "oa_openid=excluded.oa_openid,phone=excluded.phone,"
                   "wecom_userid=excluded.wecom_userid,"
                   "wecom_external_userid=excluded.wecom_external_userid,attrs=excluded.attrs",
    [S_USER_GET] = "SELECT " USER_COLS " FROM users WHERE user_id=?",
    [S_KEY_FIND] = "SELECT id FROM msg WHERE idem_key=?",
    [S_MSG_INS] = "INSERT INTO msg(user_id,template,class,tag,channel,idem_key,vars,campaign_id,"
                  "win,created_at,expires_at) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
    [S_NEXT_ID] = "SELECT coalesce(max(id),0)+1 FROM msg",
    [S_Q_INS] = "INSERT INTO queue(due_at,id,lease_until,attempts,inflight,skip) "
                "VALUES(?,?,0,?,NULL,?)",
    /* pending: not marked in flight — queued, or claimed by a run that has not built its
     * request yet (its mark then finds the row gone: sq_mark_inflight). A marked one may
     * have reached the provider, also when its lease ran out after a crash: the next
     * start logs it uncertain. */
    [S_CANCEL_KEY] = "SELECT q.id,m.user_id,m.campaign_id FROM msg m JOIN queue q ON q.id=m.id "
                     "WHERE m.idem_key=?1 AND q.inflight IS NULL",
    [S_CANCEL_TAG] = "SELECT q.id,m.user_id,m.campaign_id FROM msg m JOIN queue q ON q.id=m.id "
                     "WHERE m.user_id=?1 AND m.tag=?3 AND q.inflight IS NULL",
    /* a campaign's messages carry no tag of their own: "campaign:ID" means them */
    [S_CANCEL_CAMP] = "SELECT q.id,m.user_id,m.campaign_id FROM msg m JOIN queue q ON q.id=m.id "
                      "WHERE " CAMP_MSGS("?3") " AND m.user_id=?1 AND q.inflight IS NULL",
    [S_Q_DEL_ID] = "DELETE FROM queue WHERE id=?",
    [S_CLAIM] = "SELECT q.due_at,q.id,q.attempts,q.inflight,q.skip,m.user_id,m.template,m.class,"
                "m.tag,m.channel,m.idem_key,m.vars,m.campaign_id,m.win,m.created_at,"
                "m.expires_at FROM queue q JOIN msg m ON m.id=q.id "
                "WHERE q.due_at<=?1 AND q.lease_until<=?1 ORDER BY q.due_at,q.id LIMIT ?2",
    /* the rows the claim just read: everything due and unleased up to the last one */
    [S_LEASE] = "UPDATE queue SET lease_until=?1 WHERE (due_at,id)>=(?3,?4) AND "
                "(due_at,id)<=(?5,?6) AND lease_until<=?2",
    [S_RENEW] = "UPDATE queue SET lease_until=?1 WHERE lease_until>0",
    [S_UNLEASE] = "UPDATE queue SET lease_until=0 WHERE due_at=?1 AND id=?2",
    [S_NEXT_DUE] = "SELECT due_at FROM queue WHERE lease_until<=?1 ORDER BY due_at,id LIMIT 1",
    [S_INFLIGHT] = "UPDATE queue SET inflight=?1, attempts=attempts+1 WHERE due_at=?2 AND id=?3",
    [S_Q_DEL] = "DELETE FROM queue WHERE due_at=?1 AND id=?2",
    /* a claimed row that moved while its run held it: held by a pause (lease given back,
     * so that a resume makes it due again), or gone (cancelled) */
    [S_Q_LOST] = "UPDATE queue SET lease_until=0 WHERE id=?1",
    [S_DONE_INS] = "INSERT OR REPLACE INTO done(id,state,channel,code,finished_at) "
                   "VALUES(?,?,?,?,?)",
    [S_RECOVER_SEL] = "SELECT q.due_at,q.id,q.attempts,q.inflight,q.skip,m.user_id,m.template,"
                      "m.class,m.tag,m.channel,m.idem_key,m.vars,m.campaign_id,m.win,"
                      "m.created_at,m.expires_at FROM queue q JOIN msg m ON m.id=q.id "
                      "WHERE q.lease_until>0 AND q.inflight IS NOT NULL",
    /* at a start every reservation belongs to an attempt that died with the process (one
     * run at a time: the run lock): of a message still queued (kept, it would count
     * against its own cap) or one another process cancelled meanwhile (a send that never
     * happened); sends_reserved holds only these */
    [S_RECOVER_SENDS] = "DELETE FROM sends WHERE state='reserved'",
    [S_RECOVER_UPD] = "UPDATE queue SET lease_until=0, inflight=NULL WHERE lease_until>0",
    [S_LAST_HASH] = "SELECT seq,hash FROM log ORDER BY seq DESC LIMIT 1",
    [S_LOG_INS] = "INSERT INTO log(seq,at,message_id,user_id,campaign_id,event,channel,reason,"
                  "code,detail,target,hash) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
    [S_LOG_COUNT] = "INSERT INTO log_counts(campaign_id,hour,channel,tier,event,code,n) "
                    "VALUES(?,?,?,?,?,?,?7) ON CONFLICT DO UPDATE SET n=n+?7",
    [S_ANCHOR_GET] = "SELECT seq,hash,archived_at,file,nrows,msg_id,max_at FROM log_anchor "
                     "WHERE id=1",
    [S_HEAD_SET] = "UPDATE log_meta SET head_seq=?1, head_hash=?2 WHERE id=1",
    [S_DATA_VERSION] = "PRAGMA data_version",
    [S_MSG_GET] = "SELECT id,user_id,template,class,tag,channel,idem_key,vars,campaign_id,win,"
                  "created_at,expires_at FROM msg WHERE id=?",
    [S_Q_GET] = "SELECT due_at,lease_until,attempts,inflight,skip FROM queue WHERE id=?",
    [S_DONE_GET] = "SELECT state,channel,code,finished_at FROM done WHERE id=?",
    [S_COUNT_Q] = "SELECT count(*) FROM queue",
    [S_COUNT_DUE] = "SELECT count(*) FROM queue WHERE due_at<=?1 AND lease_until<=?1",
    [S_COUNT_LEASED] = "SELECT count(*) FROM queue WHERE lease_until>0 AND lease_until>?1",
    [S_COUNT_RETRY] = "SELECT count(*) FROM queue WHERE attempts>0 AND lease_until<=?1",
    /* the newest `max` of each kind: a cap is about the latest capped sends, a monthly
     * limit about the channel's sends this month, transactional ones included */
    [S_SENDS_SINCE] = "SELECT at,channel,uncapped FROM (SELECT at,channel,uncapped FROM sends "
                      "WHERE user_id=?1 AND at>=?2 AND uncapped=0 ORDER BY at DESC LIMIT ?3) "
                      "UNION ALL SELECT at,channel,uncapped FROM (SELECT at,channel,uncapped "
                      "FROM sends WHERE user_id=?1 AND at>=?4 AND uncapped<>0 AND "
                      "instr(?5,','||channel||',')>0 ORDER BY at DESC LIMIT ?3) ORDER BY at",
    /* the same when no channel has a monthly limit (the usual case): the capped half alone,
     * newest first (reversed by the caller), without a second range and a sort */
    [S_SENDS_CAPPED] = "SELECT at,channel,uncapped FROM sends WHERE user_id=?1 AND at>=?2 "
                       "AND uncapped=0 ORDER BY at DESC LIMIT ?3",
    [S_SEND_RESERVE] = "INSERT OR REPLACE INTO sends(user_id,at,message_id,channel,state,uncapped) "
                       "VALUES(?,?,?,?,'reserved',?)",
    /* confirmed at the time the provider accepted it (the key moves with it) */
    [S_SEND_OK] = "UPDATE sends SET state='sent',at=?2 WHERE message_id=?1",
    [S_SEND_DEL] = "DELETE FROM sends WHERE message_id=?",
    [S_OPTOUTS_GET] = "SELECT channel,category,at,source,reason FROM optouts WHERE user_id=?",
    [S_OPTOUT_PUT] = "INSERT OR REPLACE INTO optouts(user_id,channel,category,at,source,reason) "
                     "VALUES(?,?,?,?,?,?)",
    [S_OPTOUT_DEL] = "DELETE FROM optouts WHERE user_id=? AND channel=? AND category=?",
    [S_CREDITS_GET] = "SELECT n FROM credits WHERE user_id=? AND template_id=?",
    [S_CREDITS_ADD] = "INSERT INTO credits(user_id,template_id,n,updated_at) VALUES(?1,?2,max(?3,0),?4) "
                      "ON CONFLICT(user_id,template_id) DO UPDATE SET n=max(n+?3,0),updated_at=?4",
    [S_CREDITS_SET] = "INSERT INTO credits(user_id,template_id,n,updated_at) VALUES(?1,?2,max(?3,0),?4) "
                      "ON CONFLICT(user_id,template_id) DO UPDATE SET n=max(?3,0),updated_at=?4",
    [S_PID_PUT] = "INSERT OR IGNORE INTO provider_ids(channel,provider_id,message_id,at) "
                  "VALUES(?,?,?,?)",
    [S_PID_GET] = "SELECT message_id,receipt FROM provider_ids WHERE channel=? AND provider_id=?",
    [S_PID_RECEIPT] = "UPDATE provider_ids SET receipt=?3 WHERE channel=?1 AND provider_id=?2 "
                      "AND receipt IS NULL",
    [S_PID_REF] = "INSERT INTO provider_ids(channel,provider_id,message_id,at,receipt) "
                  "SELECT ?1,?2,id,?4,?5 FROM msg WHERE id=?3",
    [S_SEEN_PUT] = "INSERT OR IGNORE INTO callback_seen(key,at) VALUES(?,?)",
    [S_SEEN_PRUNE] = "DELETE FROM callback_seen WHERE at<?",
    [S_USERS_PHONE] = "SELECT " USER_COLS " FROM users WHERE phone IN (?1,?2,?3)",
    [S_USERS_MP] = "SELECT " USER_COLS " FROM users WHERE mp_openid=?1",
    [S_USERS_OA] = "SELECT " USER_COLS " FROM users WHERE oa_openid=?1",
};

/* The aggregate counts (log_counts) of the transaction's log rows, added up in memory
 * and written at commit: one upsert per distinct key instead of one per row. */
#define COUNT_SLOTS 256
typedef struct count_slot {
    int used;
    int64_t campaign_id, hour, n;
    char channel[32], tier[32], event[16], code[64];
} count_slot;

typedef struct sq_store {
    store base;
    sqlite3 *db;
    char *path;
    sqlite3_stmt *st[S_COUNT];
    sqlite3_stmt *many_users, *many_msg, *many_queue;   /* STORE_MANY rows, made on first use */
    int in_tx;
    int hash_loaded;                   /* prev_hash/next_seq valid for this transaction */
    count_slot counts[COUNT_SLOTS];
    int ncounts;
    int logged;                        /* rows appended in this transaction: move the head */
    unsigned char prev_hash[AUDIT_HASH_LEN];
    int64_t next_seq;
    ckpt *ck;                          /* checkpoints on a thread (checkpoint_behind) */
} sq_store;

/* The last error in words an operator can act on: the lock, a full disk, a read-only
 * file (also when SQLite only saw an I/O error, e.g. creating -shm on a full disk). */
static const char *sq_cause(sq_store *q, const char *msg, char *out, size_t len)
{
    int code = sqlite3_extended_errcode(q->db), sys = sqlite3_system_errno(q->db);
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
        return "database is locked by another process (tried for 5 s)";
    if (code == SQLITE_FULL || ((code & 0xff) == SQLITE_IOERR && (sys == ENOSPC || sys == EDQUOT)))
        return "disk full";
    if ((code & 0xff) == SQLITE_READONLY || ((code & 0xff) == SQLITE_IOERR && sys == EROFS))
        return "database is read-only (its file permissions or file system): nothing was "
               "written";
    if ((code & 0xff) == SQLITE_IOERR && sys)
        snprintf(out, len, "%s (%s)", msg ? msg : sqlite3_errmsg(q->db), strerror(sys));
    else
        fs_copy(out, len, msg ? msg : sqlite3_errmsg(q->db));
    return out;
}

static int db_err(sq_store *q, cherr *e, const char *what)
{
    char why[300];
    return err_set(e, "%s: %s: %s", q->path, what, sq_cause(q, NULL, why, sizeof why));
}

static int exec(sq_store *q, const char *sql, cherr *e)
{
    char *msg = NULL;
    if (sqlite3_exec(q->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        char why[300];
        err_set(e, "%s: %s", q->path, sq_cause(q, msg, why, sizeof why));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Bind a string, or NULL for a NULL pointer. Not copied: every caller steps the
 * statement while `v` lives, and stmt() unbinds it before the next use. */
static void bind_s(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

/* malloc'd copy of a text column, or NULL. */
static char *col_s(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? strdup((const char *)t) : NULL;
}

static void copy_col(sqlite3_stmt *s, int i, char *out, size_t len)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    fs_copy(out, len, (const char *)t);         /* NULL: "" */
}

/* A user row (USER_COLS) with borrowed strings, valid until the statement moves on. */
static void user_row(sqlite3_stmt *s, store_user *u)
{
    char **f[] = {&u->user_id, &u->tier, &u->segment, &u->tz, &u->mp_openid, &u->oa_openid,
                  &u->phone, &u->wecom_userid, &u->wecom_external_userid, &u->attrs};
    for (int i = 0; i < 10; i++)
        *f[i] = (char *)sqlite3_column_text(s, i);
}

/* A prepared statement, reset and unbound. Every caller resets it again as soon as it
 * has read what it needs: a statement left mid-result holds a read snapshot open after
 * COMMIT, and the next BEGIN IMMEDIATE would fail with SQLITE_BUSY_SNAPSHOT once another
 * process has written. */
static sqlite3_stmt *stmt(sq_store *q, int which)
{
    sqlite3_stmt *s = q->st[which];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

/* ---- lifecycle ---------------------------------------------------------------- */

static void sq_close(store *base)
{
    sq_store *q = (sq_store *)base;
    ckpt_stop(q->ck);                  /* its thread first: then this close checkpoints */
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(q->st[i]);
    sqlite3_finalize(q->many_users);
    sqlite3_finalize(q->many_msg);
    sqlite3_finalize(q->many_queue);
    sqlite3_close(q->db);
    free(q->path);
    free(q);
}

static int prepare_all(sq_store *q, cherr *e)
{
    for (int i = 0; i < S_COUNT; i++) {
        if (q->st[i])
            continue;
        if (sqlite3_prepare_v3(q->db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &q->st[i],
                               NULL) != SQLITE_OK)
            return db_err(q, e, "prepare (run `chuda init` to create or migrate the database)");
    }
    return 0;
}

static int user_version(sq_store *q)
{
    sqlite3_stmt *s;
    int v = -1;
    if (sqlite3_prepare_v2(q->db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return v;
}

static int sq_migrate(store *base, int *from, int *to, cherr *e)
{
    sq_store *q = (sq_store *)base;
    int v = user_version(q);
    if (v < 0)
        return db_err(q, e, "read user_version");
    *from = v;
    int n = 0;
    while (store_migrations[n])
        n++;
    if (v > n)
        return err_set(e, "%s: schema version %d is newer than this chuda (%d)", q->path, v, n);
    for (int i = v; i < n; i++) {
        if (exec(q, "BEGIN IMMEDIATE", e) < 0)
            return -1;
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d", i + 1);
        if (exec(q, store_migrations[i], e) < 0 || exec(q, pragma, e) < 0) {
            exec(q, "ROLLBACK", NULL);
            return err_prefix(e, "migration %d: ", i + 1);
        }
        if (exec(q, "COMMIT", e) < 0)
            return -1;
    }
    *to = n;
    return prepare_all(q, e);
}

/* Write the transaction's aggregate counts. */
static int counts_flush(sq_store *q, cherr *e)
{
    for (int i = 0; i < COUNT_SLOTS && q->ncounts; i++) {
        count_slot *c = &q->counts[i];
        if (!c->used)
            continue;
        sqlite3_stmt *s = stmt(q, S_LOG_COUNT);
        sqlite3_bind_int64(s, 1, c->campaign_id);
        sqlite3_bind_int64(s, 2, c->hour);
        bind_s(s, 3, c->channel);
        bind_s(s, 4, c->tier);
        bind_s(s, 5, c->event);
        bind_s(s, 6, c->code);
        sqlite3_bind_int64(s, 7, c->n);
        if (sqlite3_step(s) != SQLITE_DONE)
            return db_err(q, e, "count audit events");
        c->used = 0;
        q->ncounts--;
    }
    return 0;
}

static void counts_drop(sq_store *q)
{
    for (int i = 0; i < COUNT_SLOTS; i++)
        q->counts[i].used = 0;
    q->ncounts = 0;
}

/* Count one log row under its key; a full table is written out first. */
static int counts_add(sq_store *q, const store_event *ev, cherr *e)
{
    const char *ch = ev->channel ? ev->channel : "", *tier = ev->tier ? ev->tier : "",
               *code = ev->code ? ev->code : "";
    int64_t hour = ev->at - ev->at % 3600000;
    if (strlen(ch) >= 32 || strlen(tier) >= 32 || strlen(ev->event) >= 16 || strlen(code) >= 64) {
        /* too long for a slot: counted on its own, as it comes */
        sqlite3_stmt *s = stmt(q, S_LOG_COUNT);
        sqlite3_bind_int64(s, 1, ev->campaign_id);
        sqlite3_bind_int64(s, 2, hour);
        bind_s(s, 3, ch);
        bind_s(s, 4, tier);
        bind_s(s, 5, ev->event);
        bind_s(s, 6, code);
        sqlite3_bind_int64(s, 7, 1);
        return sqlite3_step(s) == SQLITE_DONE ? 0 : db_err(q, e, "count audit event");
    }
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)ev->campaign_id ^ (uint64_t)hour * 31;
    for (const char *const *f = (const char *const[]){ch, tier, ev->event, code, NULL}; *f; f++)
        for (const char *p = *f; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    for (int probe = 0; probe < COUNT_SLOTS; probe++) {
        count_slot *c = &q->counts[(h + (uint64_t)probe) % COUNT_SLOTS];
        if (c->used && c->campaign_id == ev->campaign_id && c->hour == hour &&
            !strcmp(c->channel, ch) && !strcmp(c->tier, tier) && !strcmp(c->event, ev->event) &&
            !strcmp(c->code, code)) {
            c->n++;
            return 0;
        }
        if (!c->used) {
            if (q->ncounts >= COUNT_SLOTS * 3 / 4) {   /* keep probes short */
                if (counts_flush(q, e) < 0)
                    return -1;
                return counts_add(q, ev, e);
            }
            *c = (count_slot){.used = 1, .campaign_id = ev->campaign_id, .hour = hour, .n = 1};
            fs_copy(c->channel, sizeof c->channel, ch);
            fs_copy(c->tier, sizeof c->tier, tier);
            fs_copy(c->event, sizeof c->event, ev->event);
            fs_copy(c->code, sizeof c->code, code);
            q->ncounts++;
            return 0;
        }
    }
    return err_set(e, "store: count table full");
}

static int sq_begin(store *base, cherr *e)
{
    sq_store *q = (sq_store *)base;
    if (q->in_tx)
        return 0;
    /* a write-protected file opens read-only: say so before any work is done */
    if (sqlite3_db_readonly(q->db, "main") == 1)
        return err_set(e, "%s: begin: database is read-only (its file permissions or file "
                       "system): nothing was written", q->path);
    /* IMMEDIATE: take the write lock now, so two writers never deadlock on upgrade */
    if (sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_err(q, e, "begin");
    q->in_tx = 1;
    q->hash_loaded = 0;
    q->logged = 0;
    return 0;
}

static int move_head(sq_store *q, cherr *e);

static int sq_commit(store *base, cherr *e)
{
    sq_store *q = (sq_store *)base;
    if (!q->in_tx)
        return 0;
    if (counts_flush(q, e) < 0 || (q->logged && move_head(q, e) < 0)) {
        counts_drop(q);
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
        q->in_tx = 0;
        q->hash_loaded = 0;
        return -1;
    }
    if (sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        db_err(q, e, "commit");
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
        q->in_tx = 0;
        return -1;
    }
    q->in_tx = 0;
    return 0;
}

static void sq_rollback(store *base)
{
    sq_store *q = (sq_store *)base;
    if (q->in_tx)
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    q->in_tx = 0;
    q->hash_loaded = 0;
    counts_drop(q);
    q->logged = 0;
}

/* ---- users -------------------------------------------------------------------- */

static int sq_user_put(store *base, const store_user *u, cherr *e)
{
    sq_store *q = (sq_store *)base;
    sqlite3_stmt *s = stmt(q, S_USER_PUT);
    bind_s(s, 1, u->user_id);
    bind_s(s, 2, u->tier);
    bind_s(s, 3, u->segment ? u->segment : "");
    bind_s(s, 4, u->tz ? u->tz : "");
    bind_s(s, 5, u->mp_openid);
    bind_s(s, 6, u->oa_openid);
    bind_s(s, 7, u->phone);
    bind_s(s, 8, u->wecom_userid);
    bind_s(s, 9, u->wecom_external_userid);
    bind_s(s, 10, u->attrs ? u->attrs : "{}");
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_err(q, e, "store user");
    return 0;
}

static int sq_user_get(store *base, const char *id, store_user *u, cherr *e)
{
    sq_store *q = (sq_store *)base;
    sqlite3_stmt *s = stmt(q, S_USER_GET);
    bind_s(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return db_err(q, e, "read user");
    char **f[] = {&u->user_id, &u->tier, &u->segment, &u->tz, &u->mp_openid, &u->oa_openid,
                  &u->phone, &u->wecom_userid, &u->wecom_external_userid, &u->attrs};
    for (int i = 0; i < 10; i++)
        *f[i] = col_s(s, i);
    sqlite3_reset(s);
    return 1;
}

static int sq_enqueue(store *base, store_msg *m, int *dup, cherr *e);

static int sq_user_peek(store *base, const char *id, store_user *u, buf *scratch, cherr *e)
{
    sq_store *q = (sq_store *)base;
    sqlite3_stmt *s = stmt(q, S_USER_GET);
    bind_s(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return db_err(q, e, "read user");
    /* every column into one buffer, NUL after each; NULL columns stay NULL */
    size_t off[10];
    buf_reset(scratch);
    for (int i = 0; i < 10; i++) {
        const char *t = (const char *)sqlite3_column_text(s, i);
        off[i] = t ? scratch->len : (size_t)-1;
        if (t && buf_add(scratch, t, (size_t)sqlite3_column_bytes(s, i) + 1) < 0) {
            sqlite3_reset(s);
            return err_set(e, "out of memory");
        }
    }
    sqlite3_reset(s);
    char **f[] = {&u->user_id, &u->tier, &u->segment, &u->tz, &u->mp_openid, &u->oa_openid,
                  &u->phone, &u->wecom_userid, &u->wecom_external_userid, &u->attrs};
    for (int i = 0; i < 10; i++)
        *f[i] = off[i] == (size_t)-1 ? NULL : scratch->s + off[i];
    return 1;
}

/* A statement of `head` followed by STORE_MANY copies of `row` joined by commas (and
 * `tail`), prepared once and kept. */
static sqlite3_stmt *many_stmt(sq_store *q, sqlite3_stmt **slot, const char *head,
                               const char *row, const char *tail, cherr *e)
{
    if (*slot) {
        sqlite3_reset(*slot);
        sqlite3_clear_bindings(*slot);
        return *slot;
    }
    buf sql = {0};
    buf_puts(&sql, head);
    for (int i = 0; i < STORE_MANY; i++) {
        if (i)
            buf_puts(&sql, ",");
        buf_puts(&sql, row);
    }
    buf_puts(&sql, tail);
    int rc = sqlite3_prepare_v3(q->db, sql.s ? sql.s : "", -1, SQLITE_PREPARE_PERSISTENT, slot,
                                NULL);
    buf_free(&sql);
    if (rc != SQLITE_OK) {
        db_err(q, e, "prepare");
        return NULL;
    }
    return *slot;
}

/* The ids of a users_peek by hash: head[h] and next[i] chain the indexes i whose id
 * hashes to h (every place of an id asked twice). */
#define PEEK_SLOTS (2 * STORE_MANY)
typedef struct peek_index {
    int head[PEEK_SLOTS], next[STORE_MANY];
} peek_index;

static unsigned peek_slot(const char *id, size_t len)
{
    return (unsigned)(hashset_hash(id, len) % PEEK_SLOTS);
}

static int sq_users_peek(store *base, const char *const *ids, int n, store_user *out,
                         int *found, buf *scratch, cherr *e)
{
    sq_store *q = (sq_store *)base;
    if (n > STORE_MANY)
        return err_set(e, "store: more than %d users at once", STORE_MANY);
    /* what checking a message needs; the addresses stay NULL */
    sqlite3_stmt *s = many_stmt(q, &q->many_users,
                                "SELECT user_id,tier,segment,tz,attrs FROM users WHERE user_id IN (",
                                "?", ")", e);
    if (!s)
        return -1;
    for (int i = 0; i < STORE_MANY; i++)         /* unused places repeat the first id */
        bind_s(s, i + 1, ids[i < n ? i : 0]);
    peek_index ix;
    for (int h = 0; h < PEEK_SLOTS; h++)
        ix.head[h] = -1;
    for (int i = n - 1; i >= 0; i--) {
        unsigned h = peek_slot(ids[i], strlen(ids[i]));
        ix.next[i] = ix.head[h];
        ix.head[h] = i;
    }
    memset(found, 0, (size_t)n * sizeof *found);
    memset(out, 0, (size_t)n * sizeof *out);
    buf_reset(scratch);
    size_t off[STORE_MANY][5];                   /* offsets: the buffer moves as it grows */
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(s, 0);
        int k = id ? ix.head[peek_slot(id, (size_t)sqlite3_column_bytes(s, 0))] : -1;
        while (k >= 0 && strcmp(ids[k], id))
            k = ix.next[k];
        if (k < 0)
            continue;
        size_t at[5];
        for (int c = 0; c < 5 && rc == SQLITE_ROW; c++) {
            const char *t = (const char *)sqlite3_column_text(s, c);
            at[c] = t ? scratch->len : (size_t)-1;
            if (t && buf_add(scratch, t, (size_t)sqlite3_column_bytes(s, c) + 1) < 0)
                rc = SQLITE_NOMEM;
        }
        for (; rc == SQLITE_ROW && k >= 0; k = ix.next[k]) {
            if (strcmp(ids[k], id))
                continue;
            found[k] = 1;
            memcpy(off[k], at, sizeof at);
        }
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return rc == SQLITE_NOMEM ? err_set(e, "out of memory") : db_err(q, e, "read users");
    for (int i = 0; i < n; i++) {
        if (!found[i])
            continue;
        char **f[] = {&out[i].user_id, &out[i].tier, &out[i].segment, &out[i].tz, &out[i].attrs};
        for (int c = 0; c < 5; c++)
            *f[c] = off[i][c] != (size_t)-1 ? scratch->s + off[i][c] : NULL;
    }
    return 0;
}

static int sq_enqueue_many(store *base, store_msg *v, int n, cherr *e)
{
    sq_store *q = (sq_store *)base;
    if (n > STORE_MANY)
        return err_set(e, "store: more than %d messages at once", STORE_MANY);
    if (!q->in_tx)
        return err_set(e, "store: enqueue_many outside a transaction");
    int dup;
    int k = 0;
    if (n < STORE_MANY) {           /* a short batch: one row at a time */
        for (; k < n; k++)
            if (sq_enqueue(base, &v[k], &dup, e) < 0)
                return -1;
        return 0;
    }
    /* the next ids, as SQLite would pick them; the write transaction keeps them ours */
    sqlite3_stmt *s = stmt(q, S_NEXT_ID);
    int64_t next = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (!next)
        return db_err(q, e, "next message id");
    /* OR FAIL: a failing row ends the statement without undoing the rows before it, so
     * SQLite keeps no statement journal (a copy of every page the statement touches,
     * 1,100 instructions a row); the caller rolls the whole transaction back instead */
    s = many_stmt(q, &q->many_msg,
                  "INSERT OR FAIL INTO msg(id,user_id,template,class,vars,campaign_id,created_at,"
                  "expires_at,tag,channel,win) VALUES", "(?,?,?,?,?,?,?,?,NULL,NULL,NULL)", "", e);
    if (!s)
        return -1;
    for (int i = 0; i < n; i++) {
        int p = i * 8;
        v[i].id = next + i;
        sqlite3_bind_int64(s, p + 1, v[i].id);
        bind_s(s, p + 2, v[i].user_id);
        bind_s(s, p + 3, v[i].tmpl);
        bind_s(s, p + 4, v[i].klass);
        bind_s(s, p + 5, v[i].vars ? v[i].vars : "{}");
        sqlite3_bind_int64(s, p + 6, v[i].campaign_id);
        sqlite3_bind_int64(s, p + 7, v[i].created_at);
        sqlite3_bind_int64(s, p + 8, v[i].expires_at);
    }
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_err(q, e, "message insert");
    s = many_stmt(q, &q->many_queue, "INSERT OR FAIL INTO queue(due_at,id,lease_until,attempts,inflight,"
                  "skip) VALUES", "(?,?,0,0,NULL,'')", "", e);
    if (!s)
        return -1;
    for (int i = 0; i < n; i++) {
        sqlite3_bind_int64(s, i * 2 + 1, v[i].due_at);
        sqlite3_bind_int64(s, i * 2 + 2, v[i].id);
    }
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_err(q, e, "queue insert");
    return 0;
}

/* ---- the queue ---------------------------------------------------------------- */

static int q_insert(sq_store *q, int64_t due, int64_t id, int attempts, const char *skip,
                    cherr *e)
{
    sqlite3_stmt *s = stmt(q, S_Q_INS);
    sqlite3_bind_int64(s, 1, due);
    sqlite3_bind_int64(s, 2, id);
    sqlite3_bind_int(s, 3, attempts);
    bind_s(s, 4, skip ? skip : "");
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_err(q, e, "queue insert");
    return 0;
}

static int sq_enqueue(store *base, store_msg *m, int *dup, cherr *e)
{
    sq_store *q = (sq_store *)base;
    *dup = 0;
    if (m->idem_key) {
        sqlite3_stmt *s = stmt(q, S_KEY_FIND);
        bind_s(s, 1, m->idem_key);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            m->id = sqlite3_column_int64(s, 0);
            sqlite3_reset(s);
            *dup = 1;
            return 0;
        }
        if (rc != SQLITE_DONE)
            return db_err(q, e, "idempotency key lookup");
    }
    sqlite3_stmt *s = stmt(q, S_MSG_INS);
    bind_s(s, 1, m->user_id);
    bind_s(s, 2, m->tmpl);
    bind_s(s, 3, m->klass);
    bind_s(s, 4, m->tag);
    bind_s(s, 5, m->channel);
    bind_s(s, 6, m->idem_key);
    bind_s(s, 7, m->vars ? m->vars : "{}");
    sqlite3_bind_int64(s, 8, m->campaign_id);
    bind_s(s, 9, m->window);
    sqlite3_bind_int64(s, 10, m->created_at);
    sqlite3_bind_int64(s, 11, m->expires_at);
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_err(q, e, "message insert");
    m->id = sqlite3_last_insert_rowid(q->db);
    return q_insert(q, m->due_at, m->id, m->attempts, m->skip, e);
}

static int push_msg(store_msg **v, int *n, int *cap, store_msg *m)
{
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        store_msg *nv = realloc(*v, (size_t)nc * sizeof *nv);
        if (!nv)
            return -1;
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = *m;
    return 0;
}

static int sq_cancel(store *base, const char *key, const char *user, const char *tag,
                     int64_t now, store_msg **out, int *n, cherr *e)
{
    sq_store *q = (sq_store *)base;
    sqlite3_stmt *s;
    (void)now;          /* pending: not in flight (S_CANCEL_KEY), leased or not */
    if (key) {
        s = stmt(q, S_CANCEL_KEY);
        bind_s(s, 1, key);
    } else {
        s = stmt(q, S_CANCEL_TAG);
        bind_s(s, 1, user);
        bind_s(s, 3, tag);
    }
    int cap = 0, rc;
    *out = NULL;
    *n = 0;
    long long camp = 0;
    char rest;
    int by_campaign = !key && sscanf(tag, "campaign:%lld%c", &camp, &rest) == 1 && camp > 0;
    for (int pass = 0; pass < 1 + by_campaign; pass++) {
        if (pass) {
            s = stmt(q, S_CANCEL_CAMP);
            bind_s(s, 1, user);
            sqlite3_bind_int64(s, 3, camp);
        }
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            store_msg m = {0};
            m.id = sqlite3_column_int64(s, 0);
            m.user_id = col_s(s, 1);
            m.campaign_id = sqlite3_column_int64(s, 2);
            if (push_msg(out, n, &cap, &m) < 0) {
                store_msg_free(&m);
                return err_set(e, "out of memory");
            }
        }
        if (rc != SQLITE_DONE)
            return db_err(q, e, "cancel lookup");
    }
    for (int i = 0; i < *n; i++) {
        s = stmt(q, S_Q_DEL_ID);
        sqlite3_bind_int64(s, 1, (*out)[i].id);
        if (sqlite3_step(s) != SQLITE_DONE)
            return db_err(q, e, "cancel");
    }
    return 0;
}

/* Fill a store_msg from a claim/recover row (column order of S_CLAIM). */
static void read_claim_row(sqlite3_stmt *s, store_msg *m)
{
    memset(m, 0, sizeof *m);
    m->due_at = sqlite3_column_int64(s, 0);
    m->id = sqlite3_column_int64(s, 1);
    m->attempts = sqlite3_column_int(s, 2);
    m->inflight = col_s(s, 3);
    m->skip = col_s(s, 4);
    m->user_id = col_s(s, 5);
    m->tmpl = col_s(s, 6);
    m->klass = col_s(s, 7);
    m->tag = col_s(s, 8);
    m->channel = col_s(s, 9);
    m->idem_key = col_s(s, 10);
    m->vars = col_s(s, 11);
    m->campaign_id = sqlite3_column_int64(s, 12);
    m->window = col_s(s, 13);
    m->created_at = sqlite3_column_int64(s, 14);
    m->expires_at = sqlite3_column_int64(s, 15);
}

static int sq_claim(store *base, int64_t now, int64_t lease_until, int max, store_msg **out,
                    int *n, cherr *e)
{
    sq_store *q = (sq_store *)base;
    *out = NULL;
    *n = 0;
    if (max <= 0)
        return 0;
    store_msg *v = calloc((size_t)max, sizeof *v);
    if (!v)
        return err_set(e, "out of memory");
    sqlite3_stmt *s = stmt(q, S_CLAIM);
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_int(s, 2, max);
    int rc, k = 0;
    while (k < max && (rc = sqlite3_step(s)) == SQLITE_ROW)
        read_claim_row(s, &v[k++]);
    if (k < max && rc != SQLITE_DONE) {
        store_msgs_free(v, k);
        return db_err(q, e, "claim");
    }
    sqlite3_reset(s);
    if (k) {    /* one statement leases the batch */
        sqlite3_stmt *u = stmt(q, S_LEASE);
        sqlite3_bind_int64(u, 1, lease_until);
        sqlite3_bind_int64(u, 2, now);
        sqlite3_bind_int64(u, 3, v[0].due_at);
        sqlite3_bind_int64(u, 4, v[0].id);
        sqlite3_bind_int64(u, 5, v[k - 1].due_at);
        sqlite3_bind_int64(u, 6, v[k - 1].id);
        int rc2 = sqlite3_step(u);
        if (rc2 != SQLITE_DONE || sqlite3_changes(q->db) != k) {
            store_msgs_free(v, k);
            return rc2 != SQLITE_DONE ? db_err(q, e, "lease")
                                      : err_set(e, "%s: lease: the claimed rows changed", q->path);
        }
    }
    *out = v;
    *n = k;
    return 0;
}

static int sq_renew(store *base, int64_t lease_until, cherr *e)
{
    sq_store *q = (sq_store *)base;
    sqlite3_stmt *s = stmt(q, S_RENEW);
    sqlite3_bind_int64(s, 1, lease_until);
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_err(q, e, "renew leases");
    return 0;
}

static int sq_next_due(store *base, int64_t now, int64_t *due, cherr *e)
{
    sq_store *q = (sq_store *)base;
    sqlite3_stmt *s = stmt(q, S_NEXT_DUE);
    sqlite3_bind_int64(s, 1, now);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *due = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
        return 1;
    }
    if (rc != SQLITE_DONE)
        return db_err(q, e, "next due");
    return 0;
}

static int sq_data_version(store *base, int64_t *v, cherr *e)
{
    sq_store *q = (sq_store *)base;
    sqlite3_stmt *s = stmt(q, S_DATA_VERSION);
    if (sqlite3_step(s) != SQLITE_ROW)
        return db_err(q, e, "data version");
    *v = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return 0;
}

/* The claimed row of m is not where the claim left it: another process cancelled the
 * message (gone) or paused its campaign (moved by HOLD_OFFSET) between two of the run's
 * commits. A held one gets its lease back, for a resume to make it due again. */
static int q_lost(sq_store *q, const store_msg *m, cherr *e)
{
    sqlite3_stmt *s = stmt(q, S_Q_LOST);
    sqlite3_bind_int64(s, 1, m->id);
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_err(q, e, "give back a held message");
    return sqlite3_changes(q->db) ? STORE_HELD : STORE_CANCELLED;
}

static int sq_mark_inflight(store *base, const store_msg *m, const char *channel, cherr *e)
{
    sq_store *q = (sq_store *)base;
    sqlite3_stmt *s = stmt(q, S_INFLIGHT);
    bind_s(s, 1, channel);
    sqlite3_bind_int64(s, 2, m->due_at);
    sqlite3_bind_int64(s, 3, m->id);
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_err(q, e, "mark in flight");
    return sqlite3_changes(q->db) ? 0 : q_lost(q, m, e);
}

/* 1 when the row was there, 0 when not (cancelled or held meanwhile), -1 on error. */
static int q_delete(sq_store *q, const store_msg *m, cherr *e)
{
    sqlite3_stmt *s = stmt(q, S_Q_DEL);
    sqlite3_bind_int64(s, 1, m->due_at);
    sqlite3_bind_int64(s, 2, m->id);
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_err(q, e, "queue delete");
    return sqlite3_changes(q->db) > 0;
}

static int sq_reschedule(store *base, const store_msg *m, int64_t due, cherr *e)
{
    sq_store *q = (sq_store *)base;
    int rc = q_delete(q, m, e);
    if (rc <= 0)
        return rc < 0 ? -1 : q_lost(q, m, e);
    return q_insert(q, due, m->id, m->attempts, m->skip, e);
}

static int sq_unlease(store *base, const store_msg *m, cherr *e)
{
    sq_store *q = (sq_store *)base;
    sqlite3_stmt *s = stmt(q, S_UNLEASE);
    sqlite3_bind_int64(s, 1, m->due_at);
    sqlite3_bind_int64(s, 2, m->id);
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_err(q, e, "give back a claimed message");
    /* held by a pause meanwhile (moved): its lease goes back all the same */
    if (!sqlite3_changes(q->db) && q_lost(q, m, e) < 0)
        return -1;
    return 0;
}

static int sq_finish(store *base, const store_msg *m, const char *state, const char *channel,
                     const char *code, int64_t now, cherr *e)
{
    sq_store *q = (sq_store *)base;
    if (m->due_at) {
        int rc = q_delete(q, m, e);
        if (rc <= 0)
            return rc < 0 ? -1 : q_lost(q, m, e);
    }
    sqlite3_stmt *s = stmt(q, S_DONE_INS);
    sqlite3_bind_int64(s, 1, m->id);
    bind_s(s, 2, state);
    bind_s(s, 3, channel);
    bind_s(s, 4, code);
    sqlite3_bind_int64(s, 5, now);
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_err(q, e, "record final state");
    return 0;
}

static int sq_recover(store *base, store_msg **out, int *n, cherr *e)
{
    sq_store *q = (sq_store *)base;
    *out = NULL;
    *n = 0;
    int cap = 0, rc;
    sqlite3_stmt *s = stmt(q, S_RECOVER_SEL);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        store_msg m;
        read_claim_row(s, &m);
        if (push_msg(out, n, &cap, &m) < 0) {
            store_msg_free(&m);
            return err_set(e, "out of memory");
        }
    }
    if (rc != SQLITE_DONE)
        return db_err(q, e, "recover");
    s = stmt(q, S_RECOVER_SENDS);
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_err(q, e, "drop stale reservations");
    s = stmt(q, S_RECOVER_UPD);
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_err(q, e, "release leases");
    return 0;
}

static int count1(sq_store *q, int which, int64_t now, long *out, cherr *e)
{
    sqlite3_stmt *s = stmt(q, which);
    if (sqlite3_bind_parameter_count(s) > 0)
        sqlite3_bind_int64(s, 1, now);
    if (sqlite3_step(s) != SQLITE_ROW)
        return db_err(q, e, "count");
    *out = (long)sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return 0;
}

static int sq_counts(store *base, int64_t now, long *queued, long *due, long *leased,
                     long *retrying, cherr *e)
{
    sq_store *q = (sq_store *)base;
    if ((queued && count1(q, S_COUNT_Q, now, queued, e) < 0) ||
        (due && count1(q, S_COUNT_DUE, now, due, e) < 0) ||
        (leased && count1(q, S_COUNT_LEASED, now, leased, e) < 0) ||
        (retrying && count1(q, S_COUNT_RETRY, now, retrying, e) < 0))
        return -1;
    return 0;
}

/* ---- the audit log ------------------------------------------------------------ */

/* The log's last row, or the anchor when the log is empty (the chain continues from
 * the last archived row). */
static int read_last(sq_store *q, store_head *last, cherr *e)
{
    sqlite3_stmt *s = stmt(q, S_LAST_HASH);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        last->seq = sqlite3_column_int64(s, 0);
        const void *h = sqlite3_column_blob(s, 1);
        int ok = h && sqlite3_column_bytes(s, 1) == AUDIT_HASH_LEN;
        if (ok)
            memcpy(last->hash, h, AUDIT_HASH_LEN);
        sqlite3_reset(s);
        return ok ? 0 : err_set(e, "%s: audit log row %lld has no valid hash", q->path,
                                (long long)last->seq);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return db_err(q, e, "read last log hash");
    store_anchor an;
    if (q->base.ops->log_anchor(&q->base, &an, e) < 0)
        return -1;
    last->seq = an.seq;
    memcpy(last->hash, an.hash, AUDIT_HASH_LEN);
    return 0;
}

static int load_last_hash(sq_store *q, cherr *e)
{
    store_head last;
    if (read_last(q, &last, e) < 0)
        return -1;
    q->next_seq = last.seq + 1;
    memcpy(q->prev_hash, last.hash, AUDIT_HASH_LEN);
    q->hash_loaded = 1;
    return 0;
}

/* Once per transaction that logged, before COMMIT: the head is the last row appended. */
static int move_head(sq_store *q, cherr *e)
{
    if (!q->hash_loaded && load_last_hash(q, e) < 0)
        return -1;
    sqlite3_stmt *s = stmt(q, S_HEAD_SET);
    sqlite3_bind_int64(s, 1, q->next_seq - 1);
    sqlite3_bind_blob(s, 2, q->prev_hash, AUDIT_HASH_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return db_err(q, e, "move the log head");
    q->logged = 0;
    return 0;
}

static int sq_log(store *base, const store_event *ev, cherr *e)
{
    sq_store *q = (sq_store *)base;
    if (!q->in_tx)
        return err_set(e, "store: log outside a transaction");
    if (!q->hash_loaded && load_last_hash(q, e) < 0)
        return -1;
    unsigned char h[AUDIT_HASH_LEN];
    audit_hash(q->prev_hash, q->next_seq, ev->at, ev->message_id, ev->campaign_id, ev->user_id,
               ev->event, ev->channel, ev->reason, ev->code, ev->detail, ev->target, h);
    sqlite3_stmt *s = stmt(q, S_LOG_INS);
    sqlite3_bind_int64(s, 1, q->next_seq);
    sqlite3_bind_int64(s, 2, ev->at);
    if (ev->message_id)
        sqlite3_bind_int64(s, 3, ev->message_id);
    bind_s(s, 4, ev->user_id);
    sqlite3_bind_int64(s, 5, ev->campaign_id);
    bind_s(s, 6, ev->event);
    bind_s(s, 7, ev->channel);
    bind_s(s, 8, ev->reason);
    bind_s(s, 9, ev->code);
    bind_s(s, 10, ev->detail);
    bind_s(s, 11, ev->target);
    sqlite3_bind_blob(s, 12, h, AUDIT_HASH_LEN, SQLITE_TRANSIENT);
    if (sqlite3_step(s) != SQLITE_DONE) {
        q->hash_loaded = 0;
        return db_err(q, e, "append to audit log");
    }
    q->logged = 1;
    /* the aggregate the stats answer from, written at commit */
    if (counts_add(q, ev, e) < 0) {
        q->hash_loaded = 0;
        return -1;
    }
    memcpy(q->prev_hash, h, AUDIT_HASH_LEN);
    q->next_seq++;
    return 0;
}

/* One filter of a listing: the first one written leads, answered from its index on
 * (column, at), which also gives the order (at, seq); later ones get a unary + so that
 * the planner does not pick their wider index instead. */
static void log_filter(buf *sql, int *led, int set, const char *clause)
{
    if (!set)
        return;
    buf_printf(sql, " AND %s%s", *led ? "+" : "", clause);
    *led = 1;
}

/* The WHERE clause, from fixed clauses with numbered parameters (no caller text in
 * SQL), the most selective filter first. */
static void log_where(const store_logq *lq, buf *sql)
{
    int led = lq->by_seq;           /* the chain walk reads by primary key */
    log_filter(sql, &led, lq->message_id != 0, "message_id=?2");
    log_filter(sql, &led, lq->user_id != NULL, "user_id=?3");
    /* the literal term lets the partial index log_campaign serve */
    log_filter(sql, &led, lq->campaign_id != 0, "campaign_id=?6 AND campaign_id!=0");
    log_filter(sql, &led, lq->channel != NULL, "channel=?5");
    log_filter(sql, &led, lq->event != NULL, "event=?4");
    if (lq->after_seq)
        buf_puts(sql, " AND seq>?1");
    if (lq->since)
        buf_puts(sql, " AND at>=?7");
    if (lq->until)
        buf_puts(sql, " AND at<?8");
    buf_puts(sql, lq->by_seq ? " ORDER BY seq" : " ORDER BY at, seq");
    if (lq->limit)
        buf_puts(sql, " LIMIT ?9");
}

static int sq_log_each(store *base, const store_logq *lq, store_log_fn fn, void *arg, cherr *e)
{
    sq_store *q = (sq_store *)base;
    buf sql = {0};
    buf_puts(&sql, "SELECT seq,at,message_id,user_id,campaign_id,event,channel,reason,code,"
                   "detail,hash,target FROM log WHERE 1");
    log_where(lq, &sql);
    sqlite3_stmt *s = NULL;
    int rc = sql.s ? sqlite3_prepare_v2(q->db, sql.s, -1, &s, NULL) : SQLITE_NOMEM;
    buf_free(&sql);
    if (rc != SQLITE_OK)
        return db_err(q, e, "log query");
    sqlite3_bind_int64(s, 1, lq->after_seq);
    sqlite3_bind_int64(s, 2, lq->message_id);
    bind_s(s, 3, lq->user_id);
    bind_s(s, 4, lq->event);
    bind_s(s, 5, lq->channel);
    sqlite3_bind_int64(s, 6, lq->campaign_id);
    sqlite3_bind_int64(s, 7, lq->since);
    sqlite3_bind_int64(s, 8, lq->until);
    sqlite3_bind_int64(s, 9, lq->limit);
    int stop = 0;
    while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        store_logrow r = {
            .seq = sqlite3_column_int64(s, 0),
            .at = sqlite3_column_int64(s, 1),
            .message_id = sqlite3_column_int64(s, 2),
            .user_id = (const char *)sqlite3_column_text(s, 3),
            .campaign_id = sqlite3_column_int64(s, 4),
            .event = (const char *)sqlite3_column_text(s, 5),
            .channel = (const char *)sqlite3_column_text(s, 6),
            .reason = (const char *)sqlite3_column_text(s, 7),
            .code = (const char *)sqlite3_column_text(s, 8),
            .detail = (const char *)sqlite3_column_text(s, 9),
            .hash = sqlite3_column_bytes(s, 10) == AUDIT_HASH_LEN ? sqlite3_column_blob(s, 10)
                                                                  : NULL,
            .target = (const char *)sqlite3_column_text(s, 11),
        };
        stop = fn(&r, arg) != 0;
    }
    if (!stop && rc != SQLITE_DONE) {
        db_err(q, e, "log query");
        sqlite3_finalize(s);
        return -1;
    }
    sqlite3_finalize(s);
    return 0;
}

static int sq_log_anchor(store *base, store_anchor *an, cherr *e)
{
    sq_store *q = (sq_store *)base;
    memset(an, 0, sizeof *an);
    sqlite3_stmt *s = stmt(q, S_ANCHOR_GET);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        an->seq = sqlite3_column_int64(s, 0);
        if (sqlite3_column_bytes(s, 1) == AUDIT_HASH_LEN)
            memcpy(an->hash, sqlite3_column_blob(s, 1), AUDIT_HASH_LEN);
        an->archived_at = sqlite3_column_int64(s, 2);
        copy_col(s, 3, an->file, sizeof an->file);
        an->nrows = sqlite3_column_int64(s, 4);
        an->msg_id = sqlite3_column_int64(s, 5);
        an->max_at = sqlite3_column_int64(s, 6);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_err(q, e, "read log anchor");
    return 0;
}

/* Statements used a few times per command, not per row: prepared when used (below). */
static sqlite3_stmt *prep(sq_store *q, const char *sql, cherr *e);
static int run_done(sq_store *q, sqlite3_stmt *s, const char *what, long *changes, cherr *e);

/* A one-row query of integers: ?1 and ?2 bound to a and b, the first `n` columns into
 * out (NULL as 0). */
static int query_ints(sq_store *q, const char *sql, int64_t a, int64_t b, int64_t *out, int n,
                      cherr *e)
{
    sqlite3_stmt *s = prep(q, sql, e);
    if (!s)
        return -1;
    if (sqlite3_bind_parameter_count(s) >= 1)
        sqlite3_bind_int64(s, 1, a);
    if (sqlite3_bind_parameter_count(s) >= 2)
        sqlite3_bind_int64(s, 2, b);
    int rc = sqlite3_step(s);
    for (int i = 0; i < n; i++)
        out[i] = rc == SQLITE_ROW ? sqlite3_column_int64(s, i) : 0;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_err(q, e, "audit log query");
    return 0;
}

/* Hands each archived row to the caller and counts them. */
typedef struct archive_ctx {
    store_log_fn fn;
    void *arg;
    int64_t last_seq;
    long n;
} archive_ctx;

static int archive_row(const store_logrow *r, void *arg)
{
    archive_ctx *ac = arg;
    if (ac->fn(r, ac->arg))
        return 1;
    ac->last_seq = r->seq;
    ac->n++;
    return 0;
}

/* Move the anchor to row `upto` (the triggers check it is that row, all rows up to it
 * present), then let the rows at or before it go. */
static int move_anchor(sq_store *q, const store_anchor *an, int64_t upto, const char *file,
                       int64_t msg_id, int64_t max_at, cherr *e)
{
    sqlite3_stmt *s = prep(q, an->seq == 0
        ? "INSERT INTO log_anchor(id,seq,hash,archived_at,file,nrows,msg_id,max_at) "
          "VALUES(1,?1,(SELECT hash FROM log WHERE seq=?1),?2,?3,?1,?4,?5)"
        : "UPDATE log_anchor SET seq=?1,hash=(SELECT hash FROM log WHERE seq=?1),"
          "archived_at=?2,file=?3,nrows=nrows+?1-seq,msg_id=max(msg_id,?4),"
          "max_at=max(max_at,?5) WHERE id=1", e);
    if (!s)
        return -1;
    sqlite3_bind_int64(s, 1, upto);
    sqlite3_bind_int64(s, 2, (int64_t)time(NULL) * 1000);
    bind_s(s, 3, file);
    sqlite3_bind_int64(s, 4, msg_id);
    sqlite3_bind_int64(s, 5, max_at);
    if (run_done(q, s, "archive anchor", NULL, e) < 0)
        return -1;
    if (!(s = prep(q, "DELETE FROM log WHERE seq<=?1", e)))
        return -1;
    sqlite3_bind_int64(s, 1, upto);
    return run_done(q, s, "archive", NULL, e);
}

static int sq_log_archive(store *base, int64_t before, const char *file, store_log_fn fn,
                          void *arg, long *n, cherr *e)
{
    sq_store *q = (sq_store *)base;
    *n = 0;
    if (!q->in_tx)
        return err_set(e, "store: archive outside a transaction");
    store_anchor an;
    int64_t upto, mark[2];
    if (sq_log_anchor(base, &an, e) < 0 ||
        query_ints(q, "SELECT max(seq) FROM log WHERE at<?1", before, 0, &upto, 1, e) < 0)
        return -1;
    if (upto <= an.seq)
        return 0;
    /* for the cross-checks: the latest time archived, and the last message whose
     * enqueued row (its own, or its campaign's) goes with these rows */
    if (query_ints(q, "SELECT max(at), max(CASE WHEN event='enqueued' THEN coalesce(message_id,"
                      "(SELECT nullif(last_id,0) FROM campaigns WHERE id=log.campaign_id)) END) FROM log WHERE seq>?1 AND seq<=?2",
                   an.seq, upto, mark, 2, e) < 0)
        return -1;
    archive_ctx ac = {fn, arg, 0, 0};
    store_logq lq = {.after_seq = an.seq, .limit = upto - an.seq, .by_seq = 1};
    if (sq_log_each(base, &lq, archive_row, &ac, e) < 0)
        return -1;
    if (ac.last_seq != upto)
        return err_set(e, "archive: stopped at row %lld of %lld", (long long)ac.last_seq,
                       (long long)upto);
    if (move_anchor(q, &an, upto, file, mark[1], mark[0], e) < 0)
        return -1;
    /* the provider ids of the sends archived go with them, once no receipt is due */
    int64_t keep = (int64_t)time(NULL) * 1000 - STORE_PROVIDER_ID_KEEP_MS;
    sqlite3_stmt *s = prep(q, "DELETE FROM provider_ids WHERE at<?1", e);
    if (!s)
        return -1;
    sqlite3_bind_int64(s, 1, before < keep ? before : keep);
    if (run_done(q, s, "archive provider ids", NULL, e) < 0)
        return -1;
    q->hash_loaded = 0;
    *n = ac.n;
    return 0;
}

static int sq_log_head(store *base, store_head *h, store_head *last, cherr *e)
{
    sq_store *q = (sq_store *)base;
    memset(h, 0, sizeof *h);
    sqlite3_stmt *s = prep(q, "SELECT head_seq,head_hash FROM log_meta WHERE id=1", e);
    if (!s)
        return -1;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        h->seq = sqlite3_column_int64(s, 0);
        if (sqlite3_column_bytes(s, 1) == AUDIT_HASH_LEN)
            memcpy(h->hash, sqlite3_column_blob(s, 1), AUDIT_HASH_LEN);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_err(q, e, "read the log head");
    return read_last(q, last, e);
}

/* The first message after the archive's mark without an enqueued row: its own, or
 * (one row for a whole campaign) its campaign's without a message id. ?1: the mark. */
static const char msg_without_enqueue[] =
    "SELECT m.id FROM msg m WHERE m.id>?1 AND NOT EXISTS (SELECT 1 FROM log l WHERE "
    "l.message_id=m.id AND l.event='enqueued') AND NOT (m.campaign_id!=0 AND EXISTS "
    "(SELECT 1 FROM log l WHERE l.campaign_id=m.campaign_id AND l.campaign_id!=0 AND "
    "l.event='enqueued' AND l.message_id IS NULL)) ORDER BY m.id LIMIT 1";

static int sq_log_counts_each(store *base, store_count_fn fn, void *arg, cherr *e)
{
    sq_store *q = (sq_store *)base;
    sqlite3_stmt *s = prep(q, "SELECT campaign_id,hour,channel,event,code,sum(n) FROM log_counts "
                              "GROUP BY 1,2,3,4,5 ORDER BY 2,1,3,4,5", e);
    if (!s)
        return -1;
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        store_countgroup g = {
            .campaign_id = sqlite3_column_int64(s, 0),
            .hour = sqlite3_column_int64(s, 1),
            .channel = (const char *)sqlite3_column_text(s, 2),
            .event = (const char *)sqlite3_column_text(s, 3),
            .code = (const char *)sqlite3_column_text(s, 4),
            .n = sqlite3_column_int64(s, 5),
        };
        stop = fn(&g, arg) != 0;
    }
    sqlite3_finalize(s);
    if (!stop && rc != SQLITE_DONE)
        return db_err(q, e, "read the aggregate counts");
    return 0;
}

static int sq_log_check(store *base, const store_anchor *an, store_logcheck *out, cherr *e)
{
    sq_store *q = (sq_store *)base;
    memset(out, 0, sizeof *out);
    if (query_ints(q, "SELECT sum(n) FROM log_counts", 0, 0, &out->counted, 1, e) < 0 ||
        query_ints(q, "SELECT count(*) FROM log", 0, 0, &out->live, 1, e) < 0 ||
        query_ints(q, msg_without_enqueue, an->msg_id, 0, &out->msg_missing, 1, e) < 0)
        return -1;
    return 0;
}

/* The dimensions a stats query may group by, and their SQL expressions. */
static const struct {
    const char *name, *expr;
} stat_dims[] = {
    {"channel", "channel"},
    {"tier", "tier"},
    {"event", "event"},
    {"code", "code"},
    {"campaign", "campaign_id"},
    {"hour", "strftime('%Y-%m-%dT%H:00Z', hour/1000, 'unixepoch')"},
    {"day", "strftime('%Y-%m-%d', hour/1000, 'unixepoch')"},
};

static int sq_stats(store *base, const store_statq *sq, store_stat_fn fn, void *arg, cherr *e)
{
    sq_store *q = (sq_store *)base;
    if (q->in_tx && counts_flush(q, e) < 0)     /* this transaction's rows count too */
        return -1;
    buf sql = {0};
    buf grp = {0};
    buf_puts(&sql, "SELECT ");
    for (int i = 0; i < sq->nby; i++) {
        const char *expr = NULL;
        for (size_t k = 0; k < sizeof stat_dims / sizeof stat_dims[0]; k++)
            if (!strcmp(stat_dims[k].name, sq->by[i]))
                expr = stat_dims[k].expr;
        if (!expr) {
            buf_free(&sql);
            buf_free(&grp);
            return err_set(e, "--by %s: not one of channel, tier, event, code, campaign, hour, day",
                           sq->by[i]);
        }
        buf_printf(&sql, "%s, ", expr);
        buf_printf(&grp, "%s%d", i ? ", " : "", i + 1);
    }
    /* fixed clauses, so that the primary key (campaign_id, hour, ...) or log_counts_hour
     * serves them */
    buf_puts(&sql, "sum(n) FROM log_counts WHERE 1");
    if (sq->campaign_id)
        buf_puts(&sql, " AND campaign_id=?1");
    if (sq->since)
        buf_puts(&sql, " AND hour>=?2");
    if (sq->until)
        buf_puts(&sql, " AND hour<?3");
    if (sq->nby)
        buf_printf(&sql, " GROUP BY %s ORDER BY %s", grp.s, grp.s);
    sqlite3_stmt *s = NULL;
    int rc = sql.s ? sqlite3_prepare_v2(q->db, sql.s, -1, &s, NULL) : SQLITE_NOMEM;
    buf_free(&sql);
    buf_free(&grp);
    if (rc != SQLITE_OK)
        return db_err(q, e, "stats");
    sqlite3_bind_int64(s, 1, sq->campaign_id);
    sqlite3_bind_int64(s, 2, sq->since - sq->since % STORE_COUNT_HOUR_MS);
    sqlite3_bind_int64(s, 3, sq->until);
    const char *vals[8];
    int stop = 0;
    while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        for (int i = 0; i < sq->nby; i++)
            vals[i] = (const char *)sqlite3_column_text(s, i);
        if (sqlite3_column_type(s, sq->nby) == SQLITE_NULL)
            continue;   /* no rows at all */
        stop = fn(vals, sq->nby, sqlite3_column_int64(s, sq->nby), arg) != 0;
    }
    if (!stop && rc != SQLITE_DONE) {
        db_err(q, e, "stats");
        sqlite3_finalize(s);
        return -1;
    }
    sqlite3_finalize(s);
    return 0;
}

/* ---- one message --------------------------------------------------------------- */

static int sq_msg_get(store *base, int64_t id, store_msg *m, store_msgstate *st, cherr *e)
{
    sq_store *q = (sq_store *)base;
    memset(m, 0, sizeof *m);
    memset(st, 0, sizeof *st);
    sqlite3_stmt *s = stmt(q, S_MSG_GET);
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return db_err(q, e, "read message");
    m->id = sqlite3_column_int64(s, 0);
    m->user_id = col_s(s, 1);
    m->tmpl = col_s(s, 2);
    m->klass = col_s(s, 3);
    m->tag = col_s(s, 4);
    m->channel = col_s(s, 5);
    m->idem_key = col_s(s, 6);
    m->vars = col_s(s, 7);
    m->campaign_id = sqlite3_column_int64(s, 8);
    m->window = col_s(s, 9);
    m->created_at = sqlite3_column_int64(s, 10);
    m->expires_at = sqlite3_column_int64(s, 11);
    sqlite3_reset(s);

    s = stmt(q, S_Q_GET);
    sqlite3_bind_int64(s, 1, id);
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        m->due_at = sqlite3_column_int64(s, 0);
        int64_t lease = sqlite3_column_int64(s, 1);
        m->attempts = sqlite3_column_int(s, 2);
        m->inflight = col_s(s, 3);
        m->skip = col_s(s, 4);
        int held = m->due_at >= HOLD_OFFSET;        /* its campaign paused: its own time */
        if (held)
            m->due_at -= HOLD_OFFSET;
        fs_copy(st->state, sizeof st->state, lease ? "leased" : held ? "held" : "queued");
        sqlite3_reset(s);
        return 1;
    }
    if (rc != SQLITE_DONE)
        return db_err(q, e, "read queue row");
    s = stmt(q, S_DONE_GET);
    sqlite3_bind_int64(s, 1, id);
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const unsigned char *t;
        fs_copy(st->state, sizeof st->state, (const char *)sqlite3_column_text(s, 0));
        if ((t = sqlite3_column_text(s, 1)))
            fs_copy(st->channel, sizeof st->channel, (const char *)t);
        if ((t = sqlite3_column_text(s, 2)))
            fs_copy(st->code, sizeof st->code, (const char *)t);
        st->finished_at = sqlite3_column_int64(s, 3);
        sqlite3_reset(s);
        return 1;
    }
    if (rc != SQLITE_DONE)
        return db_err(q, e, "read final state");
    snprintf(st->state, sizeof st->state, "unknown");
    return 1;
}

/* ---- the policy's memory: sends, opt-outs, credits ------------------------------ */

static int sq_sends_since(store *base, const char *user, int64_t since, int64_t month_since,
                          const char *monthly, store_send *out, int max, int *n, cherr *e)
{
    sq_store *q = (sq_store *)base;
    int capped_only = !monthly || !monthly[0];
    sqlite3_stmt *s = stmt(q, capped_only ? S_SENDS_CAPPED : S_SENDS_SINCE);
    bind_s(s, 1, user);
    sqlite3_bind_int64(s, 2, since);
    sqlite3_bind_int(s, 3, max);
    if (!capped_only) {
        sqlite3_bind_int64(s, 4, month_since);
        bind_s(s, 5, monthly);
        max *= 2;                          /* up to `max` of each kind */
    }
    int rc = SQLITE_DONE, k = 0;
    while (k < max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        out[k].at = sqlite3_column_int64(s, 0);
        copy_col(s, 1, out[k].channel, sizeof out[k].channel);
        out[k].uncapped = sqlite3_column_int(s, 2);
        k++;
    }
    if (k < max && rc != SQLITE_DONE)
        return db_err(q, e, "read send ledger");
    sqlite3_reset(s);
    for (int i = 0; capped_only && i < k / 2; i++) {   /* newest first -> oldest first */
        store_send t = out[i];
        out[i] = out[k - 1 - i];
        out[k - 1 - i] = t;
    }
    *n = k;
    return 0;
}

static int sq_send_reserve(store *base, const char *user, int64_t id, const char *channel,
                           int uncapped, int64_t at, cherr *e)
{
    sq_store *q = (sq_store *)base;
    /* one reservation per message: REPLACE removes an earlier one (sends_message is
     * UNIQUE) whatever its time */
    sqlite3_stmt *s = stmt(q, S_SEND_RESERVE);
    bind_s(s, 1, user);
    sqlite3_bind_int64(s, 2, at);
    sqlite3_bind_int64(s, 3, id);
    bind_s(s, 4, channel);
    sqlite3_bind_int(s, 5, uncapped);
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_err(q, e, "reserve send");
    return 0;
}

static int sq_send_settle(store *base, int64_t id, int sent, int64_t at, cherr *e)
{
    sq_store *q = (sq_store *)base;
    sqlite3_stmt *s = stmt(q, sent ? S_SEND_OK : S_SEND_DEL);
    sqlite3_bind_int64(s, 1, id);
    if (sent)
        sqlite3_bind_int64(s, 2, at);
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_err(q, e, sent ? "record send" : "give back a reservation");
    return 0;
}

static int sq_optouts_get(store *base, const char *user, store_optout *out, int max, int *n,
                          cherr *e)
{
    sq_store *q = (sq_store *)base;
    sqlite3_stmt *s = stmt(q, S_OPTOUTS_GET);
    bind_s(s, 1, user);
    int rc, k = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (k == max)
            continue;
        copy_col(s, 0, out[k].channel, sizeof out[k].channel);
        copy_col(s, 1, out[k].category, sizeof out[k].category);
        out[k].at = sqlite3_column_int64(s, 2);
        copy_col(s, 3, out[k].source, sizeof out[k].source);
        copy_col(s, 4, out[k].reason, sizeof out[k].reason);
        k++;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return db_err(q, e, "read opt-outs");
    *n = k;
    return 0;
}

static int sq_optout_put(store *base, const char *user, const store_optout *o, cherr *e)
{
    sq_store *q = (sq_store *)base;
    sqlite3_stmt *s = stmt(q, S_OPTOUT_PUT);
    bind_s(s, 1, user);
    bind_s(s, 2, o->channel[0] ? o->channel : "*");
    bind_s(s, 3, o->category[0] ? o->category : "*");
    sqlite3_bind_int64(s, 4, o->at);
    bind_s(s, 5, o->source[0] ? o->source : "operator");
    bind_s(s, 6, o->reason[0] ? o->reason : NULL);
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_err(q, e, "record opt-out");
    return 0;
}

static int sq_optout_del(store *base, const char *user, const char *channel, const char *category,
                         cherr *e)
{
    sq_store *q = (sq_store *)base;
    sqlite3_stmt *s = stmt(q, S_OPTOUT_DEL);
    bind_s(s, 1, user);
    bind_s(s, 2, channel && *channel ? channel : "*");
    bind_s(s, 3, category && *category ? category : "*");
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_err(q, e, "remove opt-out");
    return sqlite3_changes(q->db) > 0;
}

static int sq_credits_get(store *base, const char *user, const char *tid, long *n, cherr *e)
{
    sq_store *q = (sq_store *)base;
    sqlite3_stmt *s = stmt(q, S_CREDITS_GET);
    bind_s(s, 1, user);
    bind_s(s, 2, tid);
    int rc = sqlite3_step(s);
    *n = rc == SQLITE_ROW ? (long)sqlite3_column_int64(s, 0) : -1;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_err(q, e, "read credits");
    return 0;
}

static int sq_credits_add(store *base, const char *user, const char *tid, long delta, int set,
                          int64_t now, cherr *e)
{
    sq_store *q = (sq_store *)base;
    sqlite3_stmt *s = stmt(q, set ? S_CREDITS_SET : S_CREDITS_ADD);
    bind_s(s, 1, user);
    bind_s(s, 2, tid);
    sqlite3_bind_int64(s, 3, delta);
    sqlite3_bind_int64(s, 4, now);
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_err(q, e, "update credits");
    return 0;
}

/* ---- open ---------------------------------------------------------------------- */

/* Campaigns and segments: defined at the end of the file. */
static int sq_campaign_add(store *base, store_campaign *c, cherr *e);
static int sq_campaign_get(store *base, int64_t id, store_campaign *c, cherr *e);
static int sq_campaign_each(store *base, store_campaign_fn fn, void *arg, cherr *e);
static int sq_campaign_update(store *base, int64_t id, const char *state, int64_t total,
                              cherr *e);
static int sq_campaign_ids(store *base, int64_t id, int64_t first, int64_t last, cherr *e);
static int sq_reader_open(store *base, store **out, cherr *e);

/* The thread is told every 1,000 frames (SQLite's own threshold); the loop makes the WAL
 * start over at 4,000, below the other processes' SQ_AUTOCKPT */
static int sq_checkpoint_behind(store *base, cherr *e)
{
    sq_store *q = (sq_store *)base;
    if (q->ck)
        return 0;
    return (q->ck = ckpt_start(q->db, q->path, 1000, SQ_AUTOCKPT, e)) ? 0 : -1;
}
static int sq_campaign_hold(store *base, int64_t id, int64_t now, long *n, cherr *e);
static int sq_campaign_release(store *base, int64_t id, long *n, cherr *e);
static int sq_campaign_pending(store *base, int64_t id, int64_t now, int64_t after_id, int max,
                               store_msg **out, int *n, cherr *e);
static int sq_campaign_counts(store *base, int64_t id, int64_t now, store_campcounts *out,
                              cherr *e);
static int sq_campaign_dup(store *base, int64_t first, int64_t last, char **user, int64_t *id1,
                           int64_t *id2, cherr *e);
static int sq_users_count(store *base, const store_seg *seg, long *n, cherr *e);
static int sq_users_each(store *base, const store_seg *seg, store_user_fn fn, void *arg,
                         cherr *e);

/* Provider callbacks: defined at the end of the file. */
static int sq_provider_id_put(store *base, const char *channel, const char *pid, int64_t id,
                              int64_t at, cherr *e);
static int sq_receipt_once(store *base, const char *channel, const char *pid, int64_t ref_id,
                           const char *state, int64_t at, int64_t *id, int *fresh, cherr *e);
static int sq_callback_once(store *base, const char *key, int64_t at, cherr *e);
static int sq_users_by_addr(store *base, store_addr field, const char *value, store_user_fn fn,
                            void *arg, cherr *e);

static const store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .migrate = sq_migrate,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .user_put = sq_user_put,
    .user_get = sq_user_get,
    .user_peek = sq_user_peek,
    .users_peek = sq_users_peek,
    .enqueue_many = sq_enqueue_many,
    .enqueue = sq_enqueue,
    .cancel = sq_cancel,
    .claim = sq_claim,
    .renew = sq_renew,
    .next_due = sq_next_due,
    .data_version = sq_data_version,
    .mark_inflight = sq_mark_inflight,
    .reschedule = sq_reschedule,
    .unlease = sq_unlease,
    .finish = sq_finish,
    .recover = sq_recover,
    .counts = sq_counts,
    .log = sq_log,
    .log_each = sq_log_each,
    .msg_get = sq_msg_get,
    .sends_since = sq_sends_since,
    .send_reserve = sq_send_reserve,
    .send_settle = sq_send_settle,
    .optouts_get = sq_optouts_get,
    .optout_put = sq_optout_put,
    .optout_del = sq_optout_del,
    .log_anchor = sq_log_anchor,
    .log_archive = sq_log_archive,
    .log_head = sq_log_head,
    .log_check = sq_log_check,
    .log_counts_each = sq_log_counts_each,
    .stats = sq_stats,
    .credits_get = sq_credits_get,
    .credits_add = sq_credits_add,
    .campaign_add = sq_campaign_add,
    .campaign_get = sq_campaign_get,
    .campaign_each = sq_campaign_each,
    .campaign_update = sq_campaign_update,
    .campaign_ids = sq_campaign_ids,
    .reader_open = sq_reader_open,
    .checkpoint_behind = sq_checkpoint_behind,
    .campaign_hold = sq_campaign_hold,
    .campaign_release = sq_campaign_release,
    .campaign_pending = sq_campaign_pending,
    .campaign_counts = sq_campaign_counts,
    .campaign_dup = sq_campaign_dup,
    .users_count = sq_users_count,
    .users_each = sq_users_each,
    .provider_id_put = sq_provider_id_put,
    .receipt_once = sq_receipt_once,
    .callback_once = sq_callback_once,
    .users_by_addr = sq_users_by_addr,
};

int store_sqlite_open(const char *path, int create, store **out, cherr *e)
{
    *out = NULL;
    /* create the file ourselves so it is 0600 from the first byte */
    int fd = open(path, O_RDWR | (create ? O_CREAT : 0) | O_CLOEXEC, 0600);
    if (fd < 0 && errno == ENOENT && !create)
        return err_set(e, "%s: no such database: run `chuda init` first", path);
    if (fd < 0)
        fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(e, "%s: cannot open database: %m", path);
    close(fd);
    sq_store *q = calloc(1, sizeof *q);
    if (!q)
        return err_set(e, "out of memory");
    q->base.ops = &sqlite_ops;
    q->path = strdup(path);
    /* Once per process, before SQLite initialises: its memory statistics (which nothing
     * here reads) take a global mutex on every allocation, ~130 a message; its page
     * cache scans itself whole at commits after a b-tree balance (pcache.c) */
    static int configured;
    if (!configured) {
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
        pcache_install();
        configured = 1;
    }
    /* NOMUTEX: a connection is only ever used by the thread that opened it */
    if (sqlite3_open_v2(path, &q->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        err_set(e, "%s: cannot open database: %s", path,
                q->db ? sqlite3_errmsg(q->db) : "out of memory");
        sq_close(&q->base);
        return -1;
    }
    sqlite3_busy_timeout(q->db, 5000);
    sqlite3_extended_result_codes(q->db, 1);
    /* WAL lets readers (chuda log, show) run beside the scheduler; NORMAL syncs the WAL
     * at checkpoints, not at every commit: a power cut can lose the last commits, an
     * application crash cannot. */
    if (exec(q, "PRAGMA journal_mode=WAL", e) < 0 || exec(q, "PRAGMA synchronous=NORMAL", e) < 0 ||
        exec(q, "PRAGMA foreign_keys=OFF", e) < 0 || exec(q, "PRAGMA temp_store=MEMORY", e) < 0 ||
        /* a 64 MiB ceiling (allocated as needed): imports of shuffled ids spill the
         * default 2 MiB cache and halve their speed */
        exec(q, "PRAGMA cache_size=-65536", e) < 0) {
        sq_close(&q->base);
        return -1;
    }
    sqlite3_wal_autocheckpoint(q->db, SQ_AUTOCKPT);
    /* -wal and -shm are created by SQLite with the database's mode */
    int v = user_version(q), latest = 0;
    while (store_migrations[latest])
        latest++;
    if (!create && v != latest) {
        if (v < latest)
            err_set(e, "%s: schema version %d, this chuda needs %d: run `chuda init` to %s", path,
                    v, latest, v ? "migrate it" : "create it");
        else
            err_set(e, "%s: schema version %d is newer than this chuda (%d)", path, v, latest);
        sq_close(&q->base);
        return -1;
    }
    if (v == latest && prepare_all(q, e) < 0) {
        sq_close(&q->base);
        return -1;
    }
    *out = &q->base;
    return 0;
}

static int sq_reader_open(store *base, store **out, cherr *e)
{
    sq_store *w = (sq_store *)base;
    *out = NULL;
    sq_store *q = calloc(1, sizeof *q);
    if (!q || !(q->path = strdup(w->path))) {
        free(q);
        return err_set(e, "out of memory");
    }
    q->base.ops = &sqlite_ops;
    /* NOMUTEX: the reader, too, is used by the one thread that opens it */
    if (sqlite3_open_v2(q->path, &q->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        err_set(e, "%s: cannot open database for reading: %s", q->path,
                q->db ? sqlite3_errmsg(q->db) : "out of memory");
        sq_close(&q->base);
        return -1;
    }
    sqlite3_busy_timeout(q->db, 5000);
    sqlite3_extended_result_codes(q->db, 1);
    /* the first 256 MiB of the file read through a memory map, not a system call a
     * page (a campaign's lookups of a 1,000,000-user table: 64,000 preads); then one
     * read transaction, so that every lookup sees the same snapshot */
    if (exec(q, "PRAGMA cache_size=-65536", e) < 0 ||
        exec(q, "PRAGMA mmap_size=268435456", e) < 0 || prepare_all(q, e) < 0 ||
        exec(q, "BEGIN", e) < 0) {
        sq_close(&q->base);
        return -1;
    }
    *out = &q->base;
    return 0;
}

void store_user_free(store_user *u)
{
    if (!u)
        return;
    free(u->user_id), free(u->tier), free(u->segment), free(u->tz), free(u->mp_openid);
    free(u->oa_openid), free(u->phone), free(u->wecom_userid), free(u->wecom_external_userid);
    free(u->attrs);
    memset(u, 0, sizeof *u);
}

void store_msg_free(store_msg *m)
{
    if (!m)
        return;
    free(m->user_id), free(m->tmpl), free(m->klass), free(m->tag), free(m->channel);
    free(m->idem_key), free(m->vars), free(m->window), free(m->inflight), free(m->skip);
    memset(m, 0, sizeof *m);
}

void store_msgs_free(store_msg *v, int n)
{
    for (int i = 0; i < n; i++)
        store_msg_free(&v[i]);
    free(v);
}

/* ---- campaigns ------------------------------------------------------------------ */

/* Campaign statements are few per command (never per row): prepared when used. */
static sqlite3_stmt *prep(sq_store *q, const char *sql, cherr *e)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(q->db, sql, -1, &s, NULL) != SQLITE_OK) {
        db_err(q, e, "prepare");
        sqlite3_finalize(s);
        return NULL;
    }
    return s;
}

/* Run a statement that returns no rows; finalizes it. *changes if not NULL. */
static int run_done(sq_store *q, sqlite3_stmt *s, const char *what, long *changes, cherr *e)
{
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return db_err(q, e, what);
    if (changes)
        *changes = (long)sqlite3_changes(q->db);
    return 0;
}

void store_campaign_free(store_campaign *c)
{
    if (!c)
        return;
    free(c->name), free(c->tmpl), free(c->source), free(c->state);
    memset(c, 0, sizeof *c);
}

static int sq_campaign_add(store *base, store_campaign *c, cherr *e)
{
    sq_store *q = (sq_store *)base;
    sqlite3_stmt *s = prep(q, "INSERT INTO campaigns(name,template,source,state,at,spread,total,"
                              "created_at) VALUES(?,?,?,?,?,?,?,?)", e);
    if (!s)
        return -1;
    bind_s(s, 1, c->name);
    bind_s(s, 2, c->tmpl);
    bind_s(s, 3, c->source);
    bind_s(s, 4, c->state);
    sqlite3_bind_int64(s, 5, c->at);
    sqlite3_bind_int64(s, 6, c->spread);
    sqlite3_bind_int64(s, 7, c->total);
    sqlite3_bind_int64(s, 8, c->created_at);
    if (run_done(q, s, "campaign insert", NULL, e) < 0)
        return -1;
    c->id = sqlite3_last_insert_rowid(q->db);
    return 0;
}

#define CAMPAIGN_COLS "id,name,template,source,state,at,spread,total,created_at"

static void read_campaign(sqlite3_stmt *s, store_campaign *c, int copy)
{
    c->id = sqlite3_column_int64(s, 0);
    char **f[] = {&c->name, &c->tmpl, &c->source, &c->state};
    for (int i = 0; i < 4; i++)
        *f[i] = copy ? col_s(s, i + 1) : (char *)sqlite3_column_text(s, i + 1);
    c->at = sqlite3_column_int64(s, 5);
    c->spread = sqlite3_column_int64(s, 6);
    c->total = sqlite3_column_int64(s, 7);
    c->created_at = sqlite3_column_int64(s, 8);
}

static int sq_campaign_get(store *base, int64_t id, store_campaign *c, cherr *e)
{
    sq_store *q = (sq_store *)base;
    memset(c, 0, sizeof *c);
    sqlite3_stmt *s = prep(q, "SELECT " CAMPAIGN_COLS " FROM campaigns WHERE id=?", e);
    if (!s)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        read_campaign(s, c, 1);
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_err(q, e, "read campaign");
    return rc == SQLITE_ROW;
}

static int sq_campaign_each(store *base, store_campaign_fn fn, void *arg, cherr *e)
{
    sq_store *q = (sq_store *)base;
    sqlite3_stmt *s = prep(q, "SELECT " CAMPAIGN_COLS " FROM campaigns ORDER BY id", e);
    if (!s)
        return -1;
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        store_campaign c;
        read_campaign(s, &c, 0);
        stop = fn(&c, arg);
    }
    sqlite3_finalize(s);
    if (stop < 0)
        return -1;
    if (!stop && rc != SQLITE_DONE)
        return db_err(q, e, "list campaigns");
    return 0;
}

static int sq_campaign_update(store *base, int64_t id, const char *state, int64_t total,
                              cherr *e)
{
    sq_store *q = (sq_store *)base;
    sqlite3_stmt *s = prep(q, "UPDATE campaigns SET state=?2, total=?3 WHERE id=?1", e);
    if (!s)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    bind_s(s, 2, state);
    sqlite3_bind_int64(s, 3, total);
    return run_done(q, s, "campaign update", NULL, e);
}

static int sq_campaign_ids(store *base, int64_t id, int64_t first, int64_t last, cherr *e)
{
    sq_store *q = (sq_store *)base;
    sqlite3_stmt *s = prep(q, "UPDATE campaigns SET first_id=?2, last_id=?3 WHERE id=?1", e);
    if (!s)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, first);
    sqlite3_bind_int64(s, 3, last);
    return run_done(q, s, "campaign ids", NULL, e);
}

/* The campaign queries below find its messages by their id range (CAMP_MSGS). */
static int sq_campaign_hold(store *base, int64_t id, int64_t now, long *n, cherr *e)
{
    sq_store *q = (sq_store *)base;
    sqlite3_stmt *s = prep(q, "UPDATE queue SET due_at=due_at+?2 WHERE id IN (SELECT m.id FROM "
                              "msg m WHERE " CAMP_MSGS("?1") ") AND inflight IS NULL AND due_at<?2", e);
    if (!s)
        return -1;
    /* claimed ones too, while their run has not built their request (its in-flight mark
     * then finds them held and gives them back: sq_mark_inflight) */
    (void)now;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, HOLD_OFFSET);
    return run_done(q, s, "hold campaign", n, e);
}

static int sq_campaign_release(store *base, int64_t id, long *n, cherr *e)
{
    sq_store *q = (sq_store *)base;
    sqlite3_stmt *s = prep(q, "UPDATE queue SET due_at=due_at-?2 WHERE id IN (SELECT m.id FROM "
                              "msg m WHERE " CAMP_MSGS("?1") ") AND due_at>=?2", e);
    if (!s)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, HOLD_OFFSET);
    return run_done(q, s, "release campaign", n, e);
}

static int sq_campaign_pending(store *base, int64_t id, int64_t now, int64_t after_id, int max,
                               store_msg **out, int *n, cherr *e)
{
    sq_store *q = (sq_store *)base;
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s = prep(q, "SELECT m.id,q.due_at,m.user_id,m.campaign_id FROM msg m "
                              "JOIN queue q ON q.id=m.id WHERE m.id>max(?2," CAMP_FIRST("?1") "-1) AND "
                              "m.id<=" CAMP_LAST("?1") " AND m.campaign_id=?1 AND "
                              "q.inflight IS NULL ORDER BY m.id LIMIT ?4", e);
    if (!s)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, after_id);
    (void)now;      /* pending: not in flight, claimed or not (as S_CANCEL_KEY) */
    sqlite3_bind_int(s, 4, max);
    int cap = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        store_msg m = {0};
        m.id = sqlite3_column_int64(s, 0);
        m.due_at = sqlite3_column_int64(s, 1);
        m.user_id = col_s(s, 2);
        m.campaign_id = sqlite3_column_int64(s, 3);
        if (push_msg(out, n, &cap, &m) < 0) {
            store_msg_free(&m);
            sqlite3_finalize(s);
            return err_set(e, "out of memory");
        }
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return db_err(q, e, "campaign messages");
    return 0;
}

static int sq_campaign_counts(store *base, int64_t id, int64_t now, store_campcounts *out,
                              cherr *e)
{
    sq_store *q = (sq_store *)base;
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = prep(q, "SELECT count(*),total(q.due_at>=?2),total(q.lease_until>?3) "
                              "FROM msg m JOIN queue q ON q.id=m.id WHERE " CAMP_MSGS("?1"), e);
    if (!s)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, HOLD_OFFSET);
    sqlite3_bind_int64(s, 3, now);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        out->queued = (long)sqlite3_column_int64(s, 0);
        out->held = (long)sqlite3_column_int64(s, 1);
        out->leased = (long)sqlite3_column_int64(s, 2);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW)
        return db_err(q, e, "campaign counts");
    return 0;
}

static int sq_campaign_dup(store *base, int64_t first, int64_t last, char **user, int64_t *id1,
                           int64_t *id2, cherr *e)
{
    sq_store *q = (sq_store *)base;
    *user = NULL;
    /* one sort of the written batch's user ids, instead of an index on every row; the
     * first repeat in id (file) order, with the message it repeats */
    sqlite3_stmt *s = prep(q, "SELECT user_id,prev,id FROM (SELECT user_id,id,lag(id) OVER "
                              "(PARTITION BY user_id ORDER BY id) AS prev FROM msg WHERE id "
                              "BETWEEN ?1 AND ?2) WHERE prev IS NOT NULL ORDER BY id LIMIT 1", e);
    if (!s)
        return -1;
    sqlite3_bind_int64(s, 1, first);
    sqlite3_bind_int64(s, 2, last);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *user = col_s(s, 0);
        *id1 = sqlite3_column_int64(s, 1);
        *id2 = sqlite3_column_int64(s, 2);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_err(q, e, "duplicate check");
    return rc == SQLITE_ROW;
}

/* ---- segments ------------------------------------------------------------------- */

#define SEG_MAX_NODES 512

/* The WHERE clause of a segment, from fixed fragments: every name and value is a
 * numbered parameter, bound by seg_bind in the same order. */
static int seg_where(const store_seg *seg, buf *out, cherr *e)
{
    static const char *const col[] = {
        [STORE_SEG_USER_ID] = "user_id", [STORE_SEG_TIER] = "tier",
        [STORE_SEG_SEGMENT] = "segment", [STORE_SEG_TZ] = "tz",
    };
    if (seg->n == 0)
        return buf_puts(out, "1") < 0 ? err_set(e, "out of memory") : 0;
    if (seg->n > SEG_MAX_NODES)
        return err_set(e, "segment: more than %d terms", SEG_MAX_NODES);
    buf stack[SEG_MAX_NODES];
    int sp = 0, param = 0, rc = 0;
    for (int i = 0; i < seg->n && rc == 0; i++) {
        const store_seg_node *nd = &seg->v[i];
        if (nd->kind == STORE_SEG_EQ || nd->kind == STORE_SEG_NE) {
            buf b = {0};
            const char *op = nd->kind == STORE_SEG_EQ ? "=" : "!=";
            if (nd->field == STORE_SEG_ATTR) {
                if (buf_printf(&b, "coalesce(json_extract(attrs,?%d),'')%s?%d", param + 1, op,
                               param + 2) < 0)
                    rc = err_set(e, "out of memory");
                param += 2;
            } else if ((unsigned)nd->field < sizeof col / sizeof col[0]) {
                if (buf_printf(&b, "%s%s?%d", col[nd->field], op, ++param) < 0)
                    rc = err_set(e, "out of memory");
            } else {
                rc = err_set(e, "segment: unknown field");
            }
            stack[sp++] = b;
        } else if (sp >= 2) {
            buf b = {0};
            if (buf_printf(&b, "(%s %s %s)", stack[sp - 2].s,
                           nd->kind == STORE_SEG_AND ? "AND" : "OR", stack[sp - 1].s) < 0)
                rc = err_set(e, "out of memory");
            buf_free(&stack[sp - 2]);
            buf_free(&stack[sp - 1]);
            stack[sp - 2] = b;
            sp--;
        } else {
            rc = err_set(e, "segment: an operator lacks operands");
        }
    }
    if (rc == 0 && sp != 1)
        rc = err_set(e, "segment: %d conditions are not joined by and/or", sp);
    if (rc == 0 && buf_puts(out, stack[0].s) < 0)
        rc = err_set(e, "out of memory");
    for (int i = 0; i < sp; i++)
        buf_free(&stack[i]);
    return rc < 0 ? -1 : 0;
}

/* Bind a segment's names and values, in seg_where's order. An attribute name becomes
 * the JSON path $."name" (the segment parser admits no quote or backslash in it). */
static int seg_bind(sqlite3_stmt *s, const store_seg *seg, cherr *e)
{
    int param = 0;
    for (int i = 0; i < seg->n; i++) {
        const store_seg_node *nd = &seg->v[i];
        if (nd->kind != STORE_SEG_EQ && nd->kind != STORE_SEG_NE)
            continue;
        if (nd->field == STORE_SEG_ATTR) {
            if (!nd->attr || strpbrk(nd->attr, "\"\\"))
                return err_set(e, "segment: bad attribute name");
            char *path = sqlite3_mprintf("$.\"%s\"", nd->attr);
            if (!path)
                return err_set(e, "out of memory");
            sqlite3_bind_text(s, ++param, path, -1, sqlite3_free);
        }
        bind_s(s, ++param, nd->value ? nd->value : "");
    }
    return 0;
}

static sqlite3_stmt *seg_prepare(sq_store *q, const char *select, const store_seg *seg,
                                 const char *tail, cherr *e)
{
    buf sql = {0};
    sqlite3_stmt *s = NULL;
    if (buf_puts(&sql, select) < 0 || buf_puts(&sql, " WHERE ") < 0) {
        err_set(e, "out of memory");
    } else if (seg_where(seg, &sql, e) == 0) {
        if (buf_puts(&sql, tail) < 0)
            err_set(e, "out of memory");
        else if ((s = prep(q, sql.s, e)) && seg_bind(s, seg, e) < 0) {
            sqlite3_finalize(s);
            s = NULL;
        }
    }
    buf_free(&sql);
    return s;
}

static int sq_users_count(store *base, const store_seg *seg, long *n, cherr *e)
{
    sq_store *q = (sq_store *)base;
    sqlite3_stmt *s = seg_prepare(q, "SELECT count(*) FROM users", seg, "", e);
    if (!s)
        return -1;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *n = (long)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW)
        return db_err(q, e, "segment count");
    return 0;
}

static int sq_users_each(store *base, const store_seg *seg, store_user_fn fn, void *arg,
                         cherr *e)
{
    sq_store *q = (sq_store *)base;
    sqlite3_stmt *s = seg_prepare(q, "SELECT " USER_COLS " FROM users", seg, " ORDER BY user_id",
                                  e);
    if (!s)
        return -1;
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        store_user u;
        user_row(s, &u);
        stop = fn(&u, arg);
    }
    sqlite3_finalize(s);
    if (stop < 0)
        return -1;
    if (!stop && rc != SQLITE_DONE)
        return db_err(q, e, "segment");
    return 0;
}

/* ---- provider callbacks ------------------------------------------------------------- */

static int sq_provider_id_put(store *base, const char *channel, const char *pid, int64_t id,
                              int64_t at, cherr *e)
{
    sq_store *q = (sq_store *)base;
    sqlite3_stmt *s = stmt(q, S_PID_PUT);
    bind_s(s, 1, channel);
    bind_s(s, 2, pid);
    sqlite3_bind_int64(s, 3, id);
    sqlite3_bind_int64(s, 4, at);
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_err(q, e, "record provider id");
    return 0;
}

/* Step a write statement: -1, or how many rows it changed. */
static int step_changes(sq_store *q, sqlite3_stmt *s, const char *what, cherr *e)
{
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_err(q, e, what);
    return sqlite3_changes(q->db);
}

static int sq_receipt_once(store *base, const char *channel, const char *pid, int64_t ref_id,
                           const char *state, int64_t at, int64_t *id, int *fresh, cherr *e)
{
    sq_store *q = (sq_store *)base;
    *id = 0;
    *fresh = 0;
    sqlite3_stmt *s = stmt(q, S_PID_GET);
    bind_s(s, 1, channel);
    bind_s(s, 2, pid);
    int rc = sqlite3_step(s), had = 0;
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(s, 0);
        had = sqlite3_column_type(s, 1) != SQLITE_NULL;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_err(q, e, "read provider id");
    int n = 0;
    if (*id && !had) {
        s = stmt(q, S_PID_RECEIPT);
        bind_s(s, 1, channel);
        bind_s(s, 2, pid);
        bind_s(s, 3, state);
        n = step_changes(q, s, "record receipt", e);
    } else if (!*id && ref_id > 0) {
        /* not known by the provider's id (yet): by the id chuda gave the provider */
        s = stmt(q, S_PID_REF);
        bind_s(s, 1, channel);
        bind_s(s, 2, pid);
        sqlite3_bind_int64(s, 3, ref_id);
        sqlite3_bind_int64(s, 4, at);
        bind_s(s, 5, state);
        if ((n = step_changes(q, s, "record receipt", e)) > 0)
            *id = ref_id;
    }
    if (n < 0)
        return -1;
    *fresh = n > 0;
    return 0;
}

static int sq_callback_once(store *base, const char *key, int64_t at, cherr *e)
{
    sq_store *q = (sq_store *)base;
    sqlite3_stmt *s = stmt(q, S_SEEN_PUT);
    bind_s(s, 1, key);
    sqlite3_bind_int64(s, 2, at);
    int n = step_changes(q, s, "record callback", e);
    if (n > 0) {            /* a fresh key: let go of those too old to be pushed again */
        s = stmt(q, S_SEEN_PRUNE);
        sqlite3_bind_int64(s, 1, at - STORE_CALLBACK_KEEP_MS);
        if (step_changes(q, s, "forget old callbacks", e) < 0)
            return -1;
    }
    return n < 0 ? -1 : n > 0;
}

static int sq_users_by_addr(store *base, store_addr field, const char *value, store_user_fn fn,
                            void *arg, cherr *e)
{
    sq_store *q = (sq_store *)base;
    static const int which[] = {S_USERS_PHONE, S_USERS_MP, S_USERS_OA};
    sqlite3_stmt *s = stmt(q, which[field]);
    bind_s(s, 1, value);
    if (field == STORE_ADDR_PHONE) {
        const char *plain = value[0] == '+' ? value + 1 : value;
        bind_s(s, 2, plain);
        bind_s(s, 3, !strncmp(plain, "86", 2) && strlen(plain) == 13 ? plain + 2 : plain);
    }
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        store_user u;
        user_row(s, &u);
        stop = fn(&u, arg);
    }
    sqlite3_reset(s);
    if (stop < 0)
        return -1;
    if (!stop && rc != SQLITE_DONE)
        return db_err(q, e, "find users by address");
    return 0;
}
