/* sched.h — `chuda run`: the scheduler's loop and the state its two halves share.
 *
 * sched.c owns the loop: one libev loop, one thread. It sleeps until the next due
 * time (at most `poll`, 1 s); every `watch` (100 ms) one cheap look at the store's
 * data version tells it another process committed (an enqueue), and it wakes at
 * once if that made something due sooner. It claims due messages in batches under
 * a lease, commits every write of a loop iteration in one transaction (ev_prepare),
 * and handles SIGTERM/SIGINT (drain, commit, exit 0) and SIGHUP (reload config and
 * templates, all or nothing).
 *
 * deliver.c owns one message's way through: policy decision, rendering, the
 * channel's queue (concurrency and rate), the token, the request, the reply's
 * outcome, and what the store and the audit log record for it. */
#ifndef CHUDA_SCHED_H
#define CHUDA_SCHED_H

#include <ev.h>
#include <stdint.h>

#include "app.h"
#include "channel.h"
#include "http.h"
#include "strset.h"

#define SCHED_MAX_CHANNELS 16
#define SCHED_FEED 32            /* claimed messages started per loop iteration */
#define SCHED_LAT_BUCKETS 10

/* Upper bounds (seconds) of the provider-latency histogram buckets. */
extern const double sched_lat_bounds[SCHED_LAT_BUCKETS];

typedef struct job job;

/* A configured channel and the jobs waiting for one of its request slots. */
typedef struct sched_chan {
    chan *c;
    job *head, *tail;           /* FIFO waiting for concurrency / rate */
    int waiting;
    int dedup;                  /* the provider de-duplicates resends */
    int pumping;                /* dlv_pump is running for it (a job it starts may end at
                                   once and give its slot back: that pump is this one's) */
    strset busy;                /* recipients with a request in flight: one at a time
                                   (WeChat answers 43108 to concurrent calls per openid) */
    strset paused;              /* recipients a provider limit holds back (per-number SMS
                                   limits, 43117, WeCom's per-member limit): until when */
    uint64_t lat_bucket[SCHED_LAT_BUCKETS + 1];   /* provider latency histogram (+Inf last) */
    double lat_sum;
} sched_chan;

typedef struct sched_opts {
    int until_idle;             /* exit once nothing is due and nothing in flight */
    int verbose;                /* print every audit event on stderr */
} sched_opts;

typedef struct sched_stats {
    long claimed, sent, failed, retried, deferred, suppressed, expired, uncertain;
    long withdrawn;             /* cancelled or held by another process before the send */
} sched_stats;

struct api;

typedef struct sched {
    app *a;
    struct api *api;            /* the HTTP API, NULL when not configured */
    sched_opts opts;
    struct ev_loop *loop;
    http *http;
    sched_chan chans[SCHED_MAX_CHANNELS];
    int nchans;
    chan *retired[SCHED_MAX_CHANNELS * 4];  /* replaced by SIGHUP, freed when idle */
    int nretired;

    ev_timer wake;              /* next claim */
    ev_timer pump;              /* rate-limited channels waiting for a token */
    ev_timer grace;             /* shutdown deadline */
    ev_timer watch;             /* every `watch`: did another process commit? */
    ev_timer renew;             /* every lease / 3: extend the leases of live jobs */
    ev_prepare commit;          /* group commit, then release parked requests */
    ev_signal sig_term, sig_int, sig_hup;

    int batch;                  /* messages per claim */
    int max_active;             /* claimed and unfinished at most */
    int64_t lease_ms, poll_ms, grace_ms, watch_ms;
    int64_t data_version;       /* the store's, at the last watch */
    int active;                 /* claimed, not yet finished or returned */
    int full;                   /* stopped claiming at max_active */
    store_msg *feed;            /* the last claim's messages, started SCHED_FEED at a time */
    int feed_n, feed_i;         /* how many, how many started */
    int feed_more;              /* the claim was full: claim again after it */
    int64_t retry_until;        /* latest retry this process scheduled (--until-idle
                                   waits for it) */
    job *parked;                /* built, waiting for the commit that marks them in flight */
    job *jobs;                  /* every job alive (deliver.c), freed at exit */
    int in_tx;
    int stopping;
    int failed;                 /* a storage error stopped the loop */
    cherr fatal;
    uint64_t rng;
    sched_stats stats;
} sched;

int sched_run(app *a, const sched_opts *o, cherr *e);

/* Shared by sched.c and deliver.c. */
int sched_tx(sched *s);                 /* open the iteration's transaction if needed */
void sched_fail(sched *s, const cherr *e);   /* storage failed: stop the loop */
void sched_kick(sched *s);              /* claim again soon (capacity freed) */
/* The free capacity worth a claim: a batch, or one slot when max_inflight is smaller. */
static inline int sched_claim_min(const sched *s)
{
    return s->batch < s->max_active ? s->batch : 1;
}
void sched_wake_sooner(sched *s);       /* a message was queued: maybe due before the wake */
double sched_random(sched *s);          /* [0, 1) */
/* An audit row about message m, with the user's tier (for the counts by tier). */
void sched_log(sched *s, const store_msg *m, const char *tier, const char *event,
               const char *channel, const char *code, const char *reason, const char *detail);
/* The same, with the address used. */
void sched_log_to(sched *s, const store_msg *m, const char *tier, const char *target,
                  const char *event, const char *channel, const char *code, const char *reason,
                  const char *detail);
sched_chan *sched_chan_find(sched *s, const char *name);
/* [class.K] on_uncertain: "retry" or "drop". */
const char *sched_on_uncertain(sched *s, const char *klass);
void sched_chan_idle(sched *s, chan *c);     /* a retired channel may be freed */

/* deliver.c */
void dlv_start(sched *s, store_msg *m);      /* takes ownership of *m's strings */
void dlv_pump(sched *s, sched_chan *sc);     /* start what the channel's limits allow */
void dlv_send_parked(sched *s);              /* after commit: requests may leave */
void dlv_release_waiting(sched *s);          /* shutdown: put unsent jobs back */
void dlv_release_chan(sched *s, sched_chan *sc);
void dlv_free_all(sched *s);                 /* exit: free every job left, no writes */

#endif
