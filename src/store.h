/* store.h — the storage interface: a table of operations (DESIGN.md decision 1).
 *
 * store_sqlite.c is the embedded default; another backend (PostgreSQL) implements the
 * same table. No file but the backend knows SQL. Callers group writes: begin, any
 * number of operations, commit (the scheduler commits once per loop iteration).
 *
 * Layout (decision 2): a message is written once into the message table (immutable),
 * and while pending it has one row in the ready queue, clustered by (due_at, id).
 * Claiming sets a lease; deferring or retrying re-inserts with a new due time;
 * finishing removes the queue row and records the final state. The audit log is
 * append-only and hash-chained (audit.h).
 *
 * All times are UTC milliseconds. Strings in returned structs are malloc'd and owned
 * by the struct: free them with the matching *_free. */
#ifndef CHUDA_STORE_H
#define CHUDA_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

typedef struct store store;

#define STORE_MANY 64            /* rows per multi-row statement (users_peek, enqueue_many) */
/* What mark_inflight, reschedule and finish found instead of the claimed row: another
 * process (or the API) cancelled the message, or a campaign pause held it, while the
 * run held it unsent. Nothing was written but the hold's lease given back. */
#define STORE_CANCELLED 1
#define STORE_HELD 2

typedef struct store_user {
    char *user_id, *tier, *segment, *tz;
    char *mp_openid, *oa_openid, *phone, *wecom_userid, *wecom_external_userid;
    char *attrs;                 /* JSON object text: the CSV's extra columns */
} store_user;

typedef struct store_msg {
    int64_t id;
    int64_t due_at;
    int64_t created_at;
    int64_t expires_at;          /* 0: never */
    int64_t campaign_id;         /* 0: none */
    int attempts;                /* provider attempts made so far */
    char *user_id, *tmpl, *klass, *tag, *channel, *idem_key, *vars, *window;
    char *inflight;              /* set on claim: the channel whose request may have left
                                    when a previous holder died (uncertain), else NULL */
    char *skip;                  /* comma list of channels ruled out for this message */
} store_msg;

/* One audit log row as written. NULL strings are stored as NULL. */
typedef struct store_event {
    int64_t at;
    int64_t message_id;          /* 0: not about a message */
    int64_t campaign_id;
    const char *user_id, *event, *channel, *reason, *code, *detail;
    const char *target;          /* the address used (phone, openid); masked on output */
    const char *tier;            /* the user's tier, for the aggregate counts (not hashed) */
} store_event;

/* One audit log row as read back. */
typedef struct store_logrow {
    int64_t seq, at, message_id, campaign_id;
    const char *user_id, *event, *channel, *reason, *code, *detail, *target;
    const unsigned char *hash;   /* 32 bytes */
} store_logrow;

typedef struct store_logq {
    int64_t message_id;          /* 0: any */
    const char *user_id;         /* NULL: any */
    const char *event, *channel; /* NULL: any */
    int64_t campaign_id;         /* 0: any */
    int64_t since, until;        /* 0: open */
    int64_t after_seq;           /* rows with seq > after_seq */
    long limit;                  /* 0: no limit */
    int by_seq;                  /* in seq order (walking the chain); else by at, then seq */
} store_logq;

/* A message's state for `chuda show`. */
typedef struct store_msgstate {
    char state[16];              /* queued, held (its campaign paused; due_at is its own
                                    due time), leased, or the final state (sent, ...) */
    char channel[32], code[64];
    int64_t finished_at;
} store_msgstate;

typedef int (*store_log_fn)(const store_logrow *row, void *arg);

/* Where the verifiable chain starts: after the last archived row (seq 0: the start). */
typedef struct store_anchor {
    int64_t seq;
    unsigned char hash[32];
    int64_t archived_at;
    char file[512];
    int64_t nrows;               /* rows archived in all */
    int64_t msg_id;              /* the largest message id whose enqueued row was archived */
    int64_t max_at;              /* the latest `at` among archived rows */
} store_anchor;

/* The head: the last row chuda committed, kept beside the log (moved by each commit
 * that logged). seq 0: nothing logged yet. */
typedef struct store_head {
    int64_t seq;
    unsigned char hash[32];
} store_head;

/* What `chuda log verify` cross-checks beyond the chain, for the rows after `an`. */
typedef struct store_logcheck {
    int64_t counted;             /* sum of the aggregate counts: every row ever logged */
    int64_t live;                /* rows in the log now */
    int64_t msg_missing;         /* the first message after an->msg_id with no enqueued row
                                    (its own, or its campaign's without a message id); 0: none */
} store_logcheck;

/* The aggregate counts bucket log rows by campaign_id, the hour of `at` (at - at % this),
 * channel and code ("" for NULL), event, and the user's tier. */
#define STORE_COUNT_HOUR_MS 3600000

/* One bucket summed over tiers (the log rows do not keep the tier). Strings valid for
 * the call. */
typedef struct store_countgroup {
    int64_t campaign_id, hour, n;
    const char *channel, *event, *code;
} store_countgroup;
typedef int (*store_count_fn)(const store_countgroup *g, void *arg);

/* A stats query over the aggregate counts. `by` is a subset of "channel", "tier",
 * "event", "code", "hour", "day", "campaign". */
typedef struct store_statq {
    int64_t campaign_id;         /* 0: all */
    int64_t since, until;        /* 0: open (hour granularity) */
    const char *by[8];
    int nby;
} store_statq;

/* One group: the values of the `by` dimensions in order (hour/day as ISO text), n. */
typedef int (*store_stat_fn)(const char *const *values, int nvalues, int64_t n, void *arg);

/* A send in the ledger (for caps and monthly channel limits). */
typedef struct store_send {
    int64_t at;
    char channel[32];
    int uncapped;                /* of an uncapped class (transactional): counts for the
                                    channels' monthly limits, not for tier caps */
} store_send;

/* An opt-out: channel "*" = all channels, category "*" = all categories. */
typedef struct store_optout {
    char channel[32];
    char category[32];
    int64_t at;
    char source[16];
    char reason[128];
} store_optout;

/* ---- campaigns and segments ---------------------------------------------------- */

/* A campaign (db table campaigns). Strings are malloc'd (store_campaign_free), except
 * in a campaign_each callback, where they are valid for the call only. */
typedef struct store_campaign {
    int64_t id;
    char *name, *tmpl;
    char *source;                /* the recipients file, or "segment: EXPR" */
    char *state;                 /* active | paused | cancelled */
    int64_t at, spread, total, created_at;
} store_campaign;

/* A campaign_each callback: 0 goes on, > 0 stops, < 0 stops with an error (the
 * callback set it) that campaign_each returns as -1. */
typedef int (*store_campaign_fn)(const store_campaign *c, void *arg);

/* A campaign's messages still in the queue. */
typedef struct store_campcounts {
    long queued;                 /* every pending message, held ones included */
    long held;                   /* held by a pause: never due until released */
    long leased;                 /* being decided or sent right now */
} store_campcounts;

/* A segment: users selected by conditions on their fields and attributes, as a postfix
 * program (operands before their operator): "tier=dormant and city=X" is
 * [EQ tier dormant] [EQ attr city X] [AND]. The backend turns it into a query from fixed
 * fragments with every name and value bound as a parameter. An attribute the user does
 * not have compares as "". No nodes: every user. */
typedef enum store_seg_kind { STORE_SEG_EQ, STORE_SEG_NE, STORE_SEG_AND, STORE_SEG_OR } store_seg_kind;
typedef enum store_seg_field {
    STORE_SEG_USER_ID, STORE_SEG_TIER, STORE_SEG_SEGMENT, STORE_SEG_TZ, STORE_SEG_ATTR,
} store_seg_field;

typedef struct store_seg_node {
    store_seg_kind kind;
    store_seg_field field;       /* EQ, NE */
    const char *attr;            /* STORE_SEG_ATTR: the attribute's name */
    const char *value;           /* EQ, NE */
} store_seg_node;

typedef struct store_seg {
    const store_seg_node *v;
    int n;
} store_seg;

/* A user of a segment; strings valid for the call only. 0 goes on, > 0 stops, < 0 stops
 * with an error (the callback set it) that users_each returns as -1. */
typedef int (*store_user_fn)(const store_user *u, void *arg);

/* ---- provider callbacks ------------------------------------------------------------ */

/* The address a callback names a user by. */
typedef enum store_addr { STORE_ADDR_PHONE, STORE_ADDR_MP_OPENID, STORE_ADDR_OA_OPENID } store_addr;

/* How long a callback key is remembered: a week. */
#define STORE_CALLBACK_KEEP_MS (7 * 86400 * INT64_C(1000))
/* How long a provider's id is kept at least after the send, for its receipt: a week. */
#define STORE_PROVIDER_ID_KEEP_MS (7 * 86400 * INT64_C(1000))

typedef struct store_ops {
    const char *name;
    void (*close)(store *s);
    /* create or migrate the schema; reports the user_version before and after */
    int (*migrate)(store *s, int *from, int *to, cherr *e);
    int (*begin)(store *s, cherr *e);
    int (*commit)(store *s, cherr *e);
    void (*rollback)(store *s);

    int (*user_put)(store *s, const store_user *u, cherr *e);
    /* 1 found, 0 not found, -1 error */
    int (*user_get)(store *s, const char *user_id, store_user *out, cherr *e);
    /* The same into one caller's buffer (the strings point into `scratch`, valid until
     * it changes; not to be freed): bulk checks that read a user and move on. */
    int (*user_peek)(store *s, const char *user_id, store_user *out, buf *scratch, cherr *e);
    /* Up to STORE_MANY users at once, for checking messages: out[i] for ids[i] with
     * user_id, tier, segment, tz and attrs (the addresses NULL), found[i] 0 or 1,
     * strings in `scratch` as for user_peek. An id may be asked twice. */
    int (*users_peek)(store *s, const char *const *ids, int n, store_user *out, int *found,
                      buf *scratch, cherr *e);
    /* Write n (<= STORE_MANY) new messages without idempotency keys (a campaign's): each
     * gets the next id (v[i].id set) and its queue row, in a few statements. After an
     * error some of them may be written: the caller rolls its transaction back. */
    int (*enqueue_many)(store *s, store_msg *v, int n, cherr *e);

    /* Insert a message and its queue row; sets m->id. With an idempotency key already
     * used, sets *dup = 1 and m->id to the first message's id and writes nothing. */
    int (*enqueue)(store *s, store_msg *m, int *dup, cherr *e);
    /* Remove pending messages (any not marked in flight: queued, or claimed by the run
     * and not sent yet) by key, or by user + tag;
     * returns them (id, user_id, campaign_id filled) for the caller to log and record
     * as finished. */
    int (*cancel)(store *s, const char *key, const char *user_id, const char *tag, int64_t now,
                  store_msg **out, int *n, cherr *e);
    /* Lease up to `max` messages due at `now` (ordered by due time, then id). */
    int (*claim)(store *s, int64_t now, int64_t lease_until, int max, store_msg **out, int *n,
                 cherr *e);
    /* Extend every lease held to `lease_until`. One `chuda run` holds a database (its run
     * lock) and recovery drops older leases at its start, so every lease is that run's:
     * renewed while it lives, a job waiting longer than `lease` is never claimed twice. */
    int (*renew)(store *s, int64_t lease_until, cherr *e);
    /* Earliest due time among unleased messages: 1 and *due set, 0 if queue empty. */
    int (*next_due)(store *s, int64_t now, int64_t *due, cherr *e);
    /* A number that changes whenever another connection (another process) commits to
     * the database, and not for this connection's own commits. Cheap: no table is
     * read. `chuda run` uses it to notice what other processes enqueued. */
    int (*data_version)(store *s, int64_t *v, cherr *e);
    /* Record that the request for m over `channel` may leave the machine. Returns
     * STORE_CANCELLED or STORE_HELD when m is no longer queued as claimed: the request
     * must not leave. */
    int (*mark_inflight)(store *s, const store_msg *m, const char *channel, cherr *e);
    /* Put m back in the queue at `due` with its attempts and skip list; lease dropped.
     * STORE_CANCELLED / STORE_HELD as for mark_inflight (nothing put back). */
    int (*reschedule)(store *s, const store_msg *m, int64_t due, cherr *e);
    /* Give back a claimed m untouched: only its lease is dropped (its in-flight mark, if
     * a run died with its request out, stays for the next claim to see), also when a
     * pause held it meanwhile. */
    int (*unlease)(store *s, const store_msg *m, cherr *e);
    /* Remove m from the queue and record its final state. STORE_CANCELLED / STORE_HELD
     * as for mark_inflight when m->due_at is set and its row is not there (nothing
     * recorded: the canceller recorded it). */
    int (*finish)(store *s, const store_msg *m, const char *state, const char *channel,
                  const char *code, int64_t now, cherr *e);
    /* Start-up: every lease is dropped, with the reservations (send ledger) of the
     * messages that held them. Messages whose request may have left are returned (with
     * inflight set) so the caller can log them uncertain. */
    int (*recover)(store *s, store_msg **out, int *n, cherr *e);
    /* Counts for `until-idle` and metrics: all queued, due now, leased, and waiting to
     * retry (unleased, with at least one attempt made). Any pointer may be NULL. */
    int (*counts)(store *s, int64_t now, long *queued, long *due, long *leased, long *retrying,
                  cherr *e);

    /* Append an audit row (hash-chained). */
    int (*log)(store *s, const store_event *ev, cherr *e);
    int (*log_each)(store *s, const store_logq *q, store_log_fn fn, void *arg, cherr *e);

    /* 1 found, 0 not found. */
    int (*msg_get)(store *s, int64_t id, store_msg *out, store_msgstate *st, cherr *e);

    /* The send ledger, what the caps and monthly limits count (reserved or sent), oldest
     * first (*n set): the user's capped sends at or after `since`, the newest `max`, and
     * their uncapped sends at or after `month_since` over a channel of `monthly`
     * (",sms,wecom_customer,"; "" none), the newest `max` too: `out` holds 2 * max. One
     * kind of send does not push the other out of the history. */
    int (*sends_since)(store *s, const char *user_id, int64_t since, int64_t month_since,
                       const char *monthly, store_send *out, int max, int *n, cherr *e);
    int (*send_reserve)(store *s, const char *user_id, int64_t message_id, const char *channel,
                        int uncapped, int64_t at, cherr *e);
    /* sent: confirm the reservation (its time becomes `at`); else drop it */
    int (*send_settle)(store *s, int64_t message_id, int sent, int64_t at, cherr *e);

    /* Opt-outs of a user (all of them, *n set, at most max). */
    int (*optouts_get)(store *s, const char *user_id, store_optout *out, int max, int *n,
                       cherr *e);
    int (*optout_put)(store *s, const char *user_id, const store_optout *o, cherr *e);
    /* 1 removed, 0 there was none */
    int (*optout_del)(store *s, const char *user_id, const char *channel, const char *category,
                      cherr *e);

    /* The audit log's anchor (seq 0 when nothing was archived). */
    int (*log_anchor)(store *s, store_anchor *a, cherr *e);
    /* Archive every row up to the last one written before `before`: each row goes to
     * `fn` in order (a non-zero return aborts), then the rows leave the log and the
     * anchor moves to the last of them, and so do the provider ids recorded before
     * `before` and more than STORE_PROVIDER_ID_KEEP_MS ago (a receipt that late finds
     * no message). One transaction (the caller's). *n set. */
    int (*log_archive)(store *s, int64_t before, const char *file, store_log_fn fn, void *arg,
                       long *n, cherr *e);
    /* The head recorded at the last commit that logged, and the log's last row as it is
     * (the anchor when the log is empty). */
    int (*log_head)(store *s, store_head *recorded, store_head *last, cherr *e);
    int (*log_check)(store *s, const store_anchor *an, store_logcheck *out, cherr *e);
    /* Every bucket of the aggregate counts, by hour, campaign, channel, event, code. */
    int (*log_counts_each)(store *s, store_count_fn fn, void *arg, cherr *e);
    int (*stats)(store *s, const store_statq *q, store_stat_fn fn, void *arg, cherr *e);

    /* Subscription credits: -1 when never granted (unknown), else the count. */
    int (*credits_get)(store *s, const char *user_id, const char *template_id, long *n,
                       cherr *e);
    /* add `delta` (may be negative, floor 0); with `set`, set to delta */
    int (*credits_add)(store *s, const char *user_id, const char *template_id, long delta,
                       int set, int64_t now, cherr *e);

    /* Campaigns. Insert one (c->id set). */
    int (*campaign_add)(store *s, store_campaign *c, cherr *e);
    /* 1 found, 0 not found. */
    int (*campaign_get)(store *s, int64_t id, store_campaign *out, cherr *e);
    /* Every campaign, oldest first. */
    int (*campaign_each)(store *s, store_campaign_fn fn, void *arg, cherr *e);
    int (*campaign_update)(store *s, int64_t id, const char *state, int64_t total, cherr *e);
    /* Record the campaign's messages: ids [first, last], written in its one transaction
     * (consecutive); the campaign operations below find them by this range. */
    int (*campaign_ids)(store *s, int64_t id, int64_t first, int64_t last, cherr *e);
    /* A second connection to the same database, read-only, for another thread: open,
     * use and close it (store_close) on that thread only. It reads one snapshot, taken
     * at its first read: opened while this store holds the write lock (store_begin),
     * it sees what this store sees but for this store's own uncommitted writes. For
     * users_peek and the other lookups; writes fail. */
    int (*reader_open)(store *s, store **out, cherr *e);
    /* From now until close, checkpoint the log of commits (SQLite's WAL) mostly on a
     * thread of its own rather than inside the commits that fill it (ckpt.h): for a
     * long-running writer whose commits must stay short (`chuda run`'s loop). */
    int (*checkpoint_behind)(store *s, cherr *e);
    /* Hold the campaign's pending messages (not marked in flight): they keep
     * their due time but are not due, nor claimed, until released. *n: how many. */
    int (*campaign_hold)(store *s, int64_t id, int64_t now, long *n, cherr *e);
    /* Release held messages to their own due times. *n: how many. */
    int (*campaign_release)(store *s, int64_t id, long *n, cherr *e);
    /* Pending messages of the campaign (held or not) with id > after_id, by id, at most
     * `max`: id, due_at, user_id and campaign_id filled, for the caller to finish. */
    int (*campaign_pending)(store *s, int64_t id, int64_t now, int64_t after_id, int max,
                            store_msg **out, int *n, cherr *e);
    int (*campaign_counts)(store *s, int64_t id, int64_t now, store_campcounts *out, cherr *e);
    /* A user with two messages among ids [first, last] (one campaign's, written in one
     * transaction): 1 with *user (caller frees) and the two ids set, 0 when none. Of all
     * repeats, the first in id order (id2), and the message it repeats (id1). */
    int (*campaign_dup)(store *s, int64_t first, int64_t last, char **user, int64_t *id1,
                        int64_t *id2, cherr *e);
    /* Users of a segment: how many, and each in user_id order. */
    int (*users_count)(store *s, const store_seg *seg, long *n, cherr *e);
    int (*users_each)(store *s, const store_seg *seg, store_user_fn fn, void *arg, cherr *e);

    /* Provider callbacks. The provider behind `channel` accepted message `message_id`
     * and calls it `provider_id`; a repeat of the pair changes nothing. */
    int (*provider_id_put)(store *s, const char *channel, const char *provider_id,
                           int64_t message_id, int64_t at, cherr *e);
    /* A receipt (`state`: delivered | failed) for (channel, provider_id). *message_id:
     * the message it names — by the provider id, else by `ref_id` (the id chuda gave the
     * provider, 0: none) when that message exists — or 0 when unknown (nothing written).
     * *fresh: 1 for the message's first receipt (recorded), 0 for a repeat. */
    int (*receipt_once)(store *s, const char *channel, const char *provider_id, int64_t ref_id,
                        const char *state, int64_t at, int64_t *message_id, int *fresh,
                        cherr *e);
    /* Any other callback event, by its key: 1 the first time (recorded), 0 after. Keys
     * are kept STORE_CALLBACK_KEEP_MS after `at` (a provider re-pushes within minutes). */
    int (*callback_once)(store *s, const char *key, int64_t at, cherr *e);
    /* Users whose address is `value`; a phone matches as E.164 ("+8613800000000"), without
     * the "+", and for +86 as the national number. Strings valid for the call only; fn as
     * for users_each. */
    int (*users_by_addr)(store *s, store_addr field, const char *value, store_user_fn fn,
                         void *arg, cherr *e);
} store_ops;

struct store {
    const store_ops *ops;
};

/* Open the SQLite store at `path`. With `create` (chuda init) the file is created
 * (mode 0600) if missing and the caller migrates; without, the schema must be current. */
int store_sqlite_open(const char *path, int create, store **out, cherr *e);

void store_user_free(store_user *u);
void store_msg_free(store_msg *m);
void store_msgs_free(store_msg *v, int n);

/* Thin wrappers so callers read store_claim(s, ...) rather than s->ops->claim(s, ...). */
static inline void store_close(store *s) { if (s) s->ops->close(s); }
static inline int store_migrate(store *s, int *f, int *t, cherr *e) { return s->ops->migrate(s, f, t, e); }
static inline int store_begin(store *s, cherr *e) { return s->ops->begin(s, e); }
static inline int store_commit(store *s, cherr *e) { return s->ops->commit(s, e); }
static inline void store_rollback(store *s) { s->ops->rollback(s); }
static inline int store_user_put(store *s, const store_user *u, cherr *e) { return s->ops->user_put(s, u, e); }
static inline int store_user_get(store *s, const char *id, store_user *u, cherr *e) { return s->ops->user_get(s, id, u, e); }
static inline int store_users_peek(store *s, const char *const *ids, int n, store_user *o, int *f, buf *b, cherr *e) { return s->ops->users_peek(s, ids, n, o, f, b, e); }
static inline int store_enqueue_many(store *s, store_msg *v, int n, cherr *e) { return s->ops->enqueue_many(s, v, n, e); }
static inline int store_user_peek(store *s, const char *id, store_user *u, buf *b, cherr *e) { return s->ops->user_peek(s, id, u, b, e); }
static inline int store_enqueue(store *s, store_msg *m, int *dup, cherr *e) { return s->ops->enqueue(s, m, dup, e); }
static inline int store_cancel(store *s, const char *k, const char *u, const char *t, int64_t now, store_msg **o, int *n, cherr *e) { return s->ops->cancel(s, k, u, t, now, o, n, e); }
static inline int store_claim(store *s, int64_t now, int64_t lu, int max, store_msg **o, int *n, cherr *e) { return s->ops->claim(s, now, lu, max, o, n, e); }
static inline int store_renew(store *s, int64_t lu, cherr *e) { return s->ops->renew(s, lu, e); }
static inline int store_next_due(store *s, int64_t now, int64_t *d, cherr *e) { return s->ops->next_due(s, now, d, e); }
static inline int store_data_version(store *s, int64_t *v, cherr *e) { return s->ops->data_version(s, v, e); }
static inline int store_mark_inflight(store *s, const store_msg *m, const char *c, cherr *e) { return s->ops->mark_inflight(s, m, c, e); }
static inline int store_reschedule(store *s, const store_msg *m, int64_t due, cherr *e) { return s->ops->reschedule(s, m, due, e); }
static inline int store_unlease(store *s, const store_msg *m, cherr *e) { return s->ops->unlease(s, m, e); }
static inline int store_finish(store *s, const store_msg *m, const char *st, const char *ch, const char *code, int64_t now, cherr *e) { return s->ops->finish(s, m, st, ch, code, now, e); }
static inline int store_recover(store *s, store_msg **o, int *n, cherr *e) { return s->ops->recover(s, o, n, e); }
static inline int store_counts(store *s, int64_t now, long *q, long *d, long *l, long *r, cherr *e) { return s->ops->counts(s, now, q, d, l, r, e); }
static inline int store_log(store *s, const store_event *ev, cherr *e) { return s->ops->log(s, ev, e); }
static inline int store_log_each(store *s, const store_logq *q, store_log_fn fn, void *a, cherr *e) { return s->ops->log_each(s, q, fn, a, e); }
static inline int store_msg_get(store *s, int64_t id, store_msg *m, store_msgstate *st, cherr *e) { return s->ops->msg_get(s, id, m, st, e); }

static inline int store_sends_since(store *s, const char *u, int64_t since, int64_t month_since, const char *monthly, store_send *o, int max, int *n, cherr *e) { return s->ops->sends_since(s, u, since, month_since, monthly, o, max, n, e); }
static inline int store_send_reserve(store *s, const char *u, int64_t id, const char *ch, int64_t at, cherr *e) { return s->ops->send_reserve(s, u, id, ch, 0, at, e); }
static inline int store_send_reserve_uncapped(store *s, const char *u, int64_t id, const char *ch, int64_t at, cherr *e) { return s->ops->send_reserve(s, u, id, ch, 1, at, e); }
static inline int store_send_settle(store *s, int64_t id, int sent, int64_t at, cherr *e) { return s->ops->send_settle(s, id, sent, at, e); }
static inline int store_optouts_get(store *s, const char *u, store_optout *o, int max, int *n, cherr *e) { return s->ops->optouts_get(s, u, o, max, n, e); }
static inline int store_optout_put(store *s, const char *u, const store_optout *o, cherr *e) { return s->ops->optout_put(s, u, o, e); }
static inline int store_optout_del(store *s, const char *u, const char *ch, const char *cat, cherr *e) { return s->ops->optout_del(s, u, ch, cat, e); }
static inline int store_log_anchor(store *s, store_anchor *a, cherr *e) { return s->ops->log_anchor(s, a, e); }
static inline int store_log_archive(store *s, int64_t before, const char *f, store_log_fn fn, void *arg, long *n, cherr *e) { return s->ops->log_archive(s, before, f, fn, arg, n, e); }
static inline int store_log_head(store *s, store_head *h, store_head *l, cherr *e) { return s->ops->log_head(s, h, l, e); }
static inline int store_log_check(store *s, const store_anchor *an, store_logcheck *o, cherr *e) { return s->ops->log_check(s, an, o, e); }
static inline int store_log_counts_each(store *s, store_count_fn fn, void *a, cherr *e) { return s->ops->log_counts_each(s, fn, a, e); }
static inline int store_stats(store *s, const store_statq *q, store_stat_fn fn, void *arg, cherr *e) { return s->ops->stats(s, q, fn, arg, e); }
static inline int store_credits_get(store *s, const char *u, const char *t, long *n, cherr *e) { return s->ops->credits_get(s, u, t, n, e); }
static inline int store_credits_add(store *s, const char *u, const char *t, long d, int set, int64_t now, cherr *e) { return s->ops->credits_add(s, u, t, d, set, now, e); }

void store_campaign_free(store_campaign *c);
static inline int store_campaign_add(store *s, store_campaign *c, cherr *e) { return s->ops->campaign_add(s, c, e); }
static inline int store_campaign_get(store *s, int64_t id, store_campaign *c, cherr *e) { return s->ops->campaign_get(s, id, c, e); }
static inline int store_campaign_each(store *s, store_campaign_fn fn, void *arg, cherr *e) { return s->ops->campaign_each(s, fn, arg, e); }
static inline int store_campaign_update(store *s, int64_t id, const char *state, int64_t total, cherr *e) { return s->ops->campaign_update(s, id, state, total, e); }
static inline int store_reader_open(store *s, store **out, cherr *e) { return s->ops->reader_open(s, out, e); }
static inline int store_checkpoint_behind(store *s, cherr *e) { return s->ops->checkpoint_behind(s, e); }
static inline int store_campaign_ids(store *s, int64_t id, int64_t first, int64_t last, cherr *e) { return s->ops->campaign_ids(s, id, first, last, e); }
static inline int store_campaign_hold(store *s, int64_t id, int64_t now, long *n, cherr *e) { return s->ops->campaign_hold(s, id, now, n, e); }
static inline int store_campaign_release(store *s, int64_t id, long *n, cherr *e) { return s->ops->campaign_release(s, id, n, e); }
static inline int store_campaign_pending(store *s, int64_t id, int64_t now, int64_t after, int max, store_msg **o, int *n, cherr *e) { return s->ops->campaign_pending(s, id, now, after, max, o, n, e); }
static inline int store_campaign_counts(store *s, int64_t id, int64_t now, store_campcounts *o, cherr *e) { return s->ops->campaign_counts(s, id, now, o, e); }
static inline int store_users_count(store *s, const store_seg *seg, long *n, cherr *e) { return s->ops->users_count(s, seg, n, e); }
static inline int store_campaign_dup(store *s, int64_t first, int64_t last, char **user, int64_t *a, int64_t *b, cherr *e) { return s->ops->campaign_dup(s, first, last, user, a, b, e); }
static inline int store_users_each(store *s, const store_seg *seg, store_user_fn fn, void *arg, cherr *e) { return s->ops->users_each(s, seg, fn, arg, e); }

static inline int store_provider_id_put(store *s, const char *ch, const char *pid, int64_t id, int64_t at, cherr *e) { return s->ops->provider_id_put(s, ch, pid, id, at, e); }
static inline int store_receipt_once(store *s, const char *ch, const char *pid, int64_t ref, const char *state, int64_t at, int64_t *id, int *fresh, cherr *e) { return s->ops->receipt_once(s, ch, pid, ref, state, at, id, fresh, e); }
static inline int store_callback_once(store *s, const char *key, int64_t at, cherr *e) { return s->ops->callback_once(s, key, at, e); }
static inline int store_users_by_addr(store *s, store_addr f, const char *v, store_user_fn fn, void *arg, cherr *e) { return s->ops->users_by_addr(s, f, v, fn, arg, e); }

#endif
