/* cbapply.h — what a provider's push changes: the events callback.c parsed, applied to
 * the store inside the caller's transaction (the scheduler's, for the HTTP API).
 *
 *   delivered / failed  a receipt: its message is found by the provider's id (recorded
 *           when the provider accepted the send), else by the id chuda sent with it (Aliyun
 *           out_id, Tencent SessionContext) when that message exists. The message's first
 *           receipt writes a `delivered` or `failed` audit row (code: the provider's
 *           status, detail: provider_id=…); a repeat changes nothing.
 *   optout  with a receipt (a blacklisted SMS number, OA "failed:user block"): the
 *           message's user opts out of that channel (source `provider`) — only when the
 *           receipt itself was new. An SMS reply (TD, T, N, R, 退订): every user with that
 *           phone opts out of sms (source `reply`).
 *   credit  one more subscription credit for the user with that mini-program openid and
 *           template; credit_zero sets them to zero.
 * Replies and subscription events are applied once per push, keyed by what identifies
 * it (the phone, time and text of a reply; the openid, template and CreateTime of an
 * event), so a provider's re-push changes nothing. Those keys are remembered
 * STORE_CALLBACK_KEEP_MS after they arrive, so a reply or an event dated more than
 * CBA_MAX_AGE_MS before `now`, or more than CBA_AHEAD_MS after it, changes nothing and is
 * counted `stale`: its key may be forgotten (a captured push replayed a week later), and
 * no provider pushes that late (one saying no time is taken). A receipt that names no known message
 * changes nothing and is counted `unmatched`: it may have overtaken the provider's answer
 * to the send, so the caller should ask for it again. */
#ifndef CHUDA_CBAPPLY_H
#define CHUDA_CBAPPLY_H

#include <stdint.h>

#include "callback.h"
#include "err.h"
#include "store.h"

/* How far an event's own time may be ahead of chuda's clock, and behind it: together no
 * more than the keys are remembered. */
#define CBA_AHEAD_MS (86400 * INT64_C(1000))
#define CBA_MAX_AGE_MS (STORE_CALLBACK_KEEP_MS - CBA_AHEAD_MS)

typedef struct cba_counts {
    int applied;            /* events that changed something */
    int repeated;           /* already applied by an earlier push */
    int unmatched;          /* receipts for no message chuda knows */
    int unknown;            /* replies and events for no user chuda knows */
    int stale;              /* replies and events dated outside the window above */
    int64_t first_stale_at; /* the time (UTC ms) the first stale one says */
    char first_unmatched[96];   /* the provider id of the first unmatched receipt */
} cba_counts;

/* Apply every event of `l` at `now` (UTC ms). -1 only on a storage error. */
int cba_apply(store *st, const cb_list *l, int64_t now, cba_counts *c, cherr *e);

#endif
