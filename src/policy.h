/* policy.h — who is touched, when, and through which channel (DESIGN.md decision 5).
 *
 * policy_decide() is a pure function of (message, user, template, send history,
 * opt-outs, credits, channel state, now, config): no I/O, the clock is passed in. It
 * answers: send via channel X, defer until T, suppress, or expired — always with a
 * sentence for the audit log that carries the figures behind it
 * ("cap 3/7d reached: 3 sends since 2026-11-17T10:02Z, next free 2026-11-24T10:02Z").
 *
 * The rules, in the order policy_decide applies them (each is one function in
 * policy.c):
 *   1. expiry          a message past --expires is expired
 *   2. global opt-out  opted out of every channel (for the message's category)
 *   3. quiet hours     user-local window (default 23:00-08:00), deferred to its end,
 *                      spread over quiet_release_spread; never for transactional. Near
 *                      a DST change the window is the stretch from its start to the end
 *                      that follows (a repeated hour does not reopen or re-close it)
 *   4. best time       --window best: the user's active_hour
 *   5. tier cap        N sends per rolling window per tier; on_cap defer or drop;
 *                      never for transactional
 *   6. channel choice  the tier's ordered channels: the first the user can receive now
 *                      (configured, template section, address, not refused for this
 *                      message, not opted out, credit, not paused, per-channel cap,
 *                      marketing SMS hours)
 * A deferral past the message's expiry becomes expired. */
#ifndef CHUDA_POLICY_H
#define CHUDA_POLICY_H

#include <stdint.h>

#include "config.h"
#include "err.h"
#include "store.h"
#include "tpl.h"

#define POLICY_MAX_CHANNELS 8
#define POLICY_MAX_CAP 256      /* a cap's N at most: the newest capped sends the policy sees */
/* the history policy_decide is given: the newest POLICY_MAX_CAP capped sends, and as many
 * uncapped ones over channels with a monthly limit (store_sends_since) */
#define POLICY_MAX_SENDS (2 * POLICY_MAX_CAP)

typedef struct policy_cap {
    int n;                      /* 0: none allowed (window_ms 0: no cap set) */
    int64_t window_ms;
} policy_cap;

/* A daily wall-clock window [start, end), may wrap midnight; minutes after 00:00. */
typedef struct policy_hours {
    int set;                    /* 0: no window */
    int start, end;
} policy_hours;

typedef struct policy_tier {
    char name[32];
    char channels[POLICY_MAX_CHANNELS][32];
    int nchannels;
    policy_cap cap;
    char capch[POLICY_MAX_CHANNELS][32];    /* per-channel caps: cap.CHANNEL */
    policy_cap chcap[POLICY_MAX_CHANNELS];
    int nchcap;
    int has_quiet;
    policy_hours quiet;
} policy_tier;

typedef struct policy_class {
    char name[16];
    int capped;                 /* transactional: 0 */
    int on_cap_drop;            /* 1 drop, 0 defer */
    int has_quiet;              /* class overrides tier and default */
    policy_hours quiet;
    char category[16];          /* marketing | service: what opt-outs are about */
} policy_class;

typedef struct policy {
    policy_tier *tiers;
    int ntiers;
    policy_class classes[3];    /* transactional, lifecycle, marketing */
    policy_hours quiet;         /* [policy] quiet_hours */
    int64_t quiet_spread;       /* [policy] quiet_release_spread */
    policy_hours marketing_sms; /* allowed window for marketing SMS, China time */
    char default_tz[64];
} policy;

/* What the scheduler knows about each channel at decision time. */
typedef struct policy_chan {
    const char *name;
    int configured;             /* a [channel.NAME] section opened it */
    int64_t paused_until;       /* provider backoff */
    int credits;                /* sending needs a subscription credit (mp_subscribe) */
    int monthly_limit;          /* sends per user per calendar month, China time (0: none) */
} policy_chan;

typedef struct policy_input {
    const store_msg *m;
    const store_user *u;
    const tpl *t;
    const policy_chan *chans;
    int nchans;
    int64_t now;
    const store_send *sends;    /* the user's sends (reserved or sent), oldest first: the
                                   capped ones since now - policy_history(p), the uncapped
                                   ones this month over channels with a monthly limit
                                   (policy_history_args); caps count the capped ones,
                                   monthly limits all */
    int nsends;
    const store_optout *optouts;
    int noptouts;
    const char *mp_template_id; /* WeChat template id the mp_subscribe section sends */
    long mp_credits;            /* its credits; -1 never granted */
    int active_hour;            /* user attribute active_hour, -1 unknown */
} policy_input;

typedef enum policy_verdict {
    POLICY_SEND,
    POLICY_DEFER,
    POLICY_SUPPRESS,
    POLICY_EXPIRE,
} policy_verdict;

typedef struct policy_decision {
    policy_verdict verdict;
    char channel[32];           /* SEND */
    int64_t until;              /* DEFER */
    char code[32];              /* short reason: cap, quiet_hours, optout, no_channel, ... */
    char reason[640];           /* the sentence for the log */
} policy_decision;

/* Tiers, classes and windows from config; the shipped defaults where not configured. */
int policy_load(policy *p, const config *cfg, cherr *e);
void policy_free(policy *p);
const policy_tier *policy_tier_find(const policy *p, const char *name);
const policy_class *policy_class_find(const policy *p, const char *name);
/* Comma-separated tier names, for error messages. */
void policy_tier_names(const policy *p, char *out, size_t len);
/* How far back (ms before `now`) the send history must reach for every cap and for
 * this calendar month (monthly channel limits). */
int64_t policy_history(const policy *p, int64_t now);

void policy_decide(const policy *p, const policy_input *in, policy_decision *d);

/* The rules about the time of day, again at the moment the request for `m` over
 * `channel` leaves (it may have waited for rate, concurrency or a token since the
 * decision): quiet hours and marketing SMS hours. 1 with `d` a deferral, else 0. */
int policy_recheck(const policy *p, const store_msg *m, const store_user *u,
                   const char *channel, int64_t now, policy_decision *d);

/* The opt-out that stops a `klass` message on `channel` (NULL: any channel, i.e. a
 * global opt-out only), or NULL. */
const store_optout *policy_optout_match(const policy *p, const char *klass, const char *channel,
                                        const store_optout *v, int n);

/* Is `channel` in the comma-separated list `list`? */
int policy_in_list(const char *list, const char *channel);
/* What to read of the send ledger for a decision at `now` (store_sends_since): capped
 * sends since *since, uncapped ones since *month_since over the channels of `chans`
 * with a monthly limit, as ",a,b," in `monthly` (len bytes; "" none). */
void policy_history_args(const policy *p, const policy_chan *chans, int nchans, int64_t now,
                         int64_t *since, int64_t *month_since, char *monthly, size_t len);
/* Parse "N/7d" and "23:00-08:00" / "none" (exposed for tests). */
int policy_parse_cap(const char *s, policy_cap *c, cherr *e);
int policy_parse_hours(const char *s, policy_hours *h, cherr *e);

#endif
