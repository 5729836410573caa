/* sched.c — the scheduler's loop: wake, claim, group commit, signals (see sched.h). */
#include "sched.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "api.h"
#include "timeutil.h"
#include "token.h"

const double sched_lat_bounds[SCHED_LAT_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1,
                                                    0.25, 0.5, 1, 2.5, 10};

/* ---- shared helpers -------------------------------------------------------------- */

int sched_tx(sched *s)
{
    if (s->failed)
        return -1;
    if (s->in_tx)
        return 0;
    cherr e;
    if (store_begin(s->a->st, &e) < 0) {
        sched_fail(s, &e);
        return -1;
    }
    s->in_tx = 1;
    return 0;
}

void sched_fail(sched *s, const cherr *e)
{
    if (s->failed)
        return;
    s->failed = 1;
    s->fatal = *e;
    fprintf(stderr, "chuda: storage error, stopping: %s\n", e->msg);
    if (s->in_tx) {
        store_rollback(s->a->st);
        s->in_tx = 0;
    }
    api_failed(s->api);
    ev_break(s->loop, EVBREAK_ALL);
}

void sched_kick(sched *s)
{
    if (s->stopping || s->failed)
        return;
    ev_timer_stop(s->loop, &s->wake);
    ev_timer_set(&s->wake, 0., 0.);
    ev_timer_start(s->loop, &s->wake);
}

double sched_random(sched *s)
{
    /* xorshift64*: jitter only, not security */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return (double)((s->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

void sched_log(sched *s, const store_msg *m, const char *tier, const char *event,
               const char *channel, const char *code, const char *reason, const char *detail)
{
    sched_log_to(s, m, tier, NULL, event, channel, code, reason, detail);
}

void sched_log_to(sched *s, const store_msg *m, const char *tier, const char *target,
                  const char *event, const char *channel, const char *code, const char *reason,
                  const char *detail)
{
    if (sched_tx(s) < 0)
        return;
    store_event ev = {
        .at = tu_now(),
        .message_id = m ? m->id : 0,
        .campaign_id = m ? m->campaign_id : 0,
        .user_id = m ? m->user_id : NULL,
        .event = event,
        .channel = channel,
        .reason = reason,
        .code = code,
        .detail = detail,
        .target = target,
        .tier = tier,
    };
    cherr e;
    if (store_log(s->a->st, &ev, &e) < 0) {
        sched_fail(s, &e);
        return;
    }
    if (s->opts.verbose)
        fprintf(stderr, "chuda: msg %lld %s%s%s%s%s\n", (long long)(m ? m->id : 0), event,
                channel ? " via " : "", channel ? channel : "", reason ? ": " : "",
                reason ? reason : "");
}

const char *sched_on_uncertain(sched *s, const char *klass)
{
    char section[48];
    snprintf(section, sizeof section, "class.%s", klass ? klass : "");
    return cfg_str(&s->a->cfg, section, "on_uncertain",
                   klass && !strcmp(klass, "marketing") ? "drop" : "retry");
}

sched_chan *sched_chan_find(sched *s, const char *name)
{
    for (int i = 0; i < s->nchans; i++)
        if (!strcmp(s->chans[i].c->name, name))
            return &s->chans[i];
    return NULL;
}

/* A channel instance something still refers to: requests in hand (or waiting for its
 * token), or a token refresh out with no waiter (a background one), whose reply comes
 * back to the instance's token. */
static int chan_busy(const chan *c)
{
    return c->inflight > 0 || token_refreshing(c);
}

void sched_chan_idle(sched *s, chan *c)
{
    for (int i = 0; i < s->nretired; i++) {
        if (s->retired[i] == c && !chan_busy(c)) {
            chan_close(c);
            s->retired[i] = s->retired[--s->nretired];
            return;
        }
    }
}

/* Retired instances that became idle with no job to say so (a background token refresh
 * came back): freed from the top of the loop, where no caller still holds one. */
static void retired_sweep(sched *s)
{
    for (int i = 0; i < s->nretired;) {
        if (!chan_busy(s->retired[i])) {
            chan_close(s->retired[i]);
            s->retired[i] = s->retired[--s->nretired];
        } else {
            i++;
        }
    }
}

/* ---- channels ------------------------------------------------------------------- */

typedef struct open_ctx {
    sched_chan *v;
    int n;
    const config *cfg;
    cherr *e;
} open_ctx;

static int open_one(const char *section, void *arg)
{
    open_ctx *oc = arg;
    const char *name = section + strlen("channel.");
    const chan_ops *ops = chan_ops_find(name);
    if (!ops) {
        int line = 0;
        for (size_t i = 0; i < oc->cfg->ini.n && !line; i++)
            if (!strcmp(oc->cfg->ini.v[i].section, section))
                line = oc->cfg->ini.v[i].line;
        char known[200] = "";
        for (const char *const *n = chan_names(); *n; n++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
                     known[0] ? ", " : "", *n);
        return err_set(oc->e, "%s:%d: unknown channel [%s] (known: %s)",
                       oc->cfg->ini.path ? oc->cfg->ini.path : "config", line, section, known);
    }
    if (oc->n == SCHED_MAX_CHANNELS)
        return err_set(oc->e, "too many channels");
    chan *c;
    if (chan_open(&c, ops, oc->cfg, oc->e) < 0)
        return -1;
    oc->v[oc->n].c = c;
    oc->v[oc->n].dedup = ops->dedup;
    oc->n++;
    return 0;
}

static int open_channels(const config *cfg, sched_chan *v, int *n, cherr *e)
{
    open_ctx oc = {v, 0, cfg, e};
    int rc = cfg_each_section(cfg, "channel.", open_one, &oc);
    if (rc < 0) {
        for (int i = 0; i < oc.n; i++)
            chan_close(v[i].c);
        return -1;
    }
    *n = oc.n;
    return 0;
}

/* [chuda] settings of the loop, parsed apart from applying them so that a reload can
 * check everything before it changes anything. */
typedef struct tuning {
    long batch, max_active;
    int64_t lease_ms, poll_ms, grace_ms, watch_ms;
} tuning;

static int tuning_load(const config *cfg, tuning *t, cherr *e)
{
    if (cfg_int(cfg, "chuda", "batch", 500, 1, 100000, &t->batch, e) < 0 ||
        cfg_int(cfg, "chuda", "max_inflight", 2000, 1, 1000000, &t->max_active, e) < 0 ||
        cfg_duration(cfg, "chuda", "lease", "5m", &t->lease_ms, e) < 0 ||
        cfg_duration(cfg, "chuda", "poll", "1s", &t->poll_ms, e) < 0 ||
        cfg_duration(cfg, "chuda", "watch", "100ms", &t->watch_ms, e) < 0 ||
        cfg_duration(cfg, "chuda", "shutdown_grace", "10s", &t->grace_ms, e) < 0)
        return -1;
    /* a shorter poll or watch would be busy polling; a lease is renewed every third of it */
    const char *key = t->poll_ms < 10 ? "poll" : t->watch_ms && t->watch_ms < 10 ? "watch"
                    : t->lease_ms < 1000 ? "lease" : NULL;
    if (key)
        return err_set(e, "%s:%d: [chuda] %s: at least %s%s",
                       cfg->ini.path ? cfg->ini.path : "config", cfg_line(cfg, "chuda", key), key,
                       strcmp(key, "lease") ? "10ms" : "1s",
                       strcmp(key, "watch") ? "" : " (0s turns it off)");
    return 0;
}

static void tuning_apply(sched *s, const tuning *t)
{
    s->batch = (int)t->batch;
    s->max_active = (int)t->max_active;
    s->lease_ms = t->lease_ms;
    s->poll_ms = t->poll_ms;
    s->grace_ms = t->grace_ms;
    s->watch_ms = t->watch_ms;
}

static void watch_start(sched *s);
static void renew_start(sched *s);

/* The running channels give way to the new set: a channel still configured hands its
 * waiting jobs and its state to its successor; a removed one puts its jobs back in the
 * queue. Old instances with requests out are freed when idle. */
static void channels_replace(sched *s, sched_chan *nv, int nn)
{
    for (int i = 0; i < s->nchans; i++) {
        sched_chan *old = &s->chans[i];
        sched_chan *nw = NULL;
        for (int k = 0; k < nn; k++)
            if (!strcmp(nv[k].c->name, old->c->name))
                nw = &nv[k];
        if (nw) {
            nw->head = old->head, nw->tail = old->tail, nw->waiting = old->waiting;
            nw->busy = old->busy;
            nw->paused = old->paused;
            if (!old->c->paused_config)    /* a TLS pause: the new config may fix it */
                nw->c->paused_until = old->c->paused_until;
            memset(&old->busy, 0, sizeof old->busy);
            memset(&old->paused, 0, sizeof old->paused);
        } else {
            dlv_release_chan(s, old);
            strset_free(&old->busy);
            strset_free(&old->paused);
        }
        if (chan_busy(old->c))
            s->retired[s->nretired++] = old->c;
        else
            chan_close(old->c);
    }
    memcpy(s->chans, nv, sizeof s->chans);
    s->nchans = nn;
}

/* SIGHUP: config, templates, policy, ca_file, default_tz, the loop's settings and the
 * channels. All or nothing: everything is built and checked first, and only then
 * swapped in; a failure leaves the running set as it was. The database and [api]
 * change at the next start. */
static void reload(sched *s)
{
    cherr e;
    app next;
    tuning t;
    sched_chan nv[SCHED_MAX_CHANNELS];
    int nn = 0;
    memset(nv, 0, sizeof nv);
    if (s->nretired + s->nchans > (int)(sizeof s->retired / sizeof s->retired[0])) {
        err_set(&e, "earlier reloads' channels still have requests out; try again shortly");
        goto fail;
    }
    if (app_reload_prepare(s->a, &next, &e) < 0)
        goto fail;
    if (tuning_load(&next.cfg, &t, &e) < 0 || open_channels(&next.cfg, nv, &nn, &e) < 0 ||
        http_set_ca_file(s->http, next.ca_file, &e) < 0) {
        for (int i = 0; i < nn; i++)
            chan_close(nv[i].c);
        app_close(&next);
        goto fail;
    }
    /* nothing can fail from here on */
    app_reload_commit(s->a, &next);
    tuning_apply(s, &t);
    channels_replace(s, nv, nn);
    fprintf(stderr, "chuda: reloaded config and %zu templates (%d channel%s); db and [api] "
            "change at the next start\n", s->a->tpls.n, s->nchans, s->nchans == 1 ? "" : "s");
    watch_start(s);
    renew_start(s);
    for (int i = 0; i < s->nchans; i++)
        dlv_pump(s, &s->chans[i]);
    sched_kick(s);      /* a new poll takes effect now */
    return;
fail:
    fprintf(stderr, "chuda: reload failed, keeping the running config: %s\n", e.msg);
}

/* ---- the loop ----------------------------------------------------------------------- */

/* How long the loop may sleep: until the next message is due, at most `poll`.
 * -1 after a storage error. */
static int64_t wake_delay(sched *s)
{
    int64_t now = tu_now(), due, delay = s->poll_ms;
    cherr e;
    int r = store_next_due(s->a->st, now, &due, &e);
    if (r < 0) {
        sched_fail(s, &e);
        return -1;
    }
    if (r == 1 && due - now < delay)
        delay = due > now ? due - now : 0;
    return delay;
}

static void arm_wake(sched *s, int64_t delay)
{
    ev_timer_stop(s->loop, &s->wake);
    ev_timer_set(&s->wake, (double)delay / 1000.0, 0.);
    ev_timer_start(s->loop, &s->wake);
}

static void schedule_wake(sched *s)
{
    if (s->stopping || s->failed)
        return;
    int64_t delay = wake_delay(s);
    if (delay >= 0)
        arm_wake(s, delay);
}

/* Something was queued (by this process: its own commits leave PRAGMA data_version
 * alone, or by another, seen by on_watch): if the loop is sleeping, wake earlier when the
 * next due time is now sooner. One indexed query. */
void sched_wake_sooner(sched *s)
{
    int64_t delay;
    if (s->stopping || s->failed || !ev_is_active(&s->wake))
        return;
    if ((delay = wake_delay(s)) >= 0 &&
        (double)delay / 1000.0 < ev_timer_remaining(s->loop, &s->wake))
        arm_wake(s, delay);
}

/* Every `watch`: has another process (chuda enqueue, a campaign, a cancel) committed?
 * One PRAGMA data_version, no query. If so, and the loop is sleeping, wake earlier
 * when something became due sooner. */
static void on_watch(struct ev_loop *loop, ev_timer *w, int revents)
{
    sched *s = w->data;
    int64_t v;
    cherr e;
    if (s->stopping || s->failed)
        return;
    if (store_data_version(s->a->st, &v, &e) < 0) {
        sched_fail(s, &e);
        return;
    }
    if (v == s->data_version)
        return;
    s->data_version = v;
    sched_wake_sooner(s);
}

static void watch_start(sched *s)
{
    ev_timer_stop(s->loop, &s->watch);
    if (s->watch_ms <= 0 || s->stopping)
        return;
    ev_timer_set(&s->watch, (double)s->watch_ms / 1000.0, (double)s->watch_ms / 1000.0);
    ev_timer_start(s->loop, &s->watch);
}

/* Every lease / 3: extend every lease this run holds. A job can wait longer than `lease`
 * for a channel slot, the rate or a token; with its lease run out, the next claim would
 * take the same message again and send it twice. */
static void on_renew(struct ev_loop *loop, ev_timer *w, int revents)
{
    sched *s = w->data;
    cherr e;
    if (s->failed || sched_tx(s) < 0)
        return;
    if (store_renew(s->a->st, tu_now() + s->lease_ms, &e) < 0)
        sched_fail(s, &e);
}

static void renew_start(sched *s)
{
    double every = (double)s->lease_ms / 3000.0;
    ev_timer_stop(s->loop, &s->renew);
    ev_timer_set(&s->renew, every, every);
    ev_timer_start(s->loop, &s->renew);
}

static void stop(sched *s);

/* Messages of a claim not started yet go back to the queue as they were (stopping). */
static void feed_release(sched *s)
{
    cherr e;
    for (; s->feed_i < s->feed_n; s->feed_i++)
        if (!s->failed && sched_tx(s) == 0 &&
            store_unlease(s->a->st, &s->feed[s->feed_i], &e) < 0)
            sched_fail(s, &e);
    store_msgs_free(s->feed, s->feed_n);
    s->feed = NULL;
    s->feed_n = s->feed_i = 0;
}

static void on_wake(struct ev_loop *loop, ev_timer *w, int revents)
{
    sched *s = w->data;
    cherr e;
    if (s->stopping || s->failed)
        return;
    if (!s->feed) {
        int room = s->max_active - s->active;
        if (room <= 0) {
            s->full = 1;    /* a finishing job kicks us */
            return;
        }
        int n = room < s->batch ? room : s->batch;
        int64_t now = tu_now();
        int got;
        if (sched_tx(s) < 0)
            return;
        if (store_claim(s->a->st, now, now + s->lease_ms, n, &s->feed, &got, &e) < 0) {
            sched_fail(s, &e);
            return;
        }
        s->feed_n = got;
        s->feed_i = 0;
        s->feed_more = got == n;
    }
    /* start them SCHED_FEED at a time, one slice per loop iteration: replies, and the
     * requests the HTTP thread waits for, are served between slices, not after the
     * whole batch */
    int end = s->feed_n - s->feed_i > SCHED_FEED ? s->feed_i + SCHED_FEED : s->feed_n;
    while (s->feed_i < end && !s->failed)
        dlv_start(s, &s->feed[s->feed_i++]);
    if (s->failed)
        return;
    if (s->feed_i < s->feed_n) {
        sched_kick(s);
        return;
    }
    int more = s->feed_more;
    store_msgs_free(s->feed, s->feed_n);
    s->feed = NULL;
    s->feed_n = s->feed_i = 0;
    if (more) {
        /* more is due: claim again at once only for a whole batch. Every claim steps
         * over the leased rows at the queue's front (up to max_inflight of them), so
         * claiming the few slots freed meanwhile costs as much as a full claim. job_end
         * kicks when a batch is free; until then the poll (or a message queued to be
         * due sooner, sched_wake_sooner) claims whatever room there is, so a message
         * for an idle channel never waits behind a slow one's jobs for long */
        if (s->active > 0 && s->max_active - s->active < sched_claim_min(s)) {
            s->full = 1;
            arm_wake(s, s->poll_ms);
            return;
        }
        sched_kick(s);
        return;
    }
    if (s->opts.until_idle && s->active == 0 && !s->parked) {
        /* idle: nothing due now, nothing in flight, no retry of ours still to come */
        long due;
        if (store_counts(s->a->st, tu_now(), NULL, &due, NULL, NULL, &e) < 0) {
            sched_fail(s, &e);
            return;
        }
        if (due == 0 && tu_now() >= s->retry_until) {
            stop(s);
            return;
        }
    }
    schedule_wake(s);
}

static void on_pump(struct ev_loop *loop, ev_timer *w, int revents)
{
    sched *s = w->data;
    for (int i = 0; i < s->nchans; i++)
        dlv_pump(s, &s->chans[i]);
}

/* Before the loop blocks: commit what this iteration wrote, then let parked requests
 * leave. A request never leaves before its "in flight" mark is durable. */
static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
    sched *s = w->data;
    if (s->nretired)
        retired_sweep(s);
    if (s->in_tx && !s->failed) {
        cherr e;
        s->in_tx = 0;
        if (store_commit(s->a->st, &e) < 0) {
            sched_fail(s, &e);
            return;
        }
    }
    api_committed(s->api);
    if (s->parked && !s->failed)
        dlv_send_parked(s);
    if (s->stopping && s->active == 0 && !s->in_tx)
        ev_break(loop, EVBREAK_ALL);
}

static void on_grace(struct ev_loop *loop, ev_timer *w, int revents)
{
    sched *s = w->data;
    fprintf(stderr, "chuda: %d requests still in flight after the grace period; they will be "
                    "marked uncertain at the next start\n", s->active);
    ev_break(loop, EVBREAK_ALL);
}

static void stop(sched *s)
{
    if (s->stopping)
        return;
    s->stopping = 1;
    ev_timer_stop(s->loop, &s->wake);
    feed_release(s);
    ev_timer_stop(s->loop, &s->watch);
    ev_timer_stop(s->loop, &s->pump);
    dlv_release_waiting(s);
    http_stop_waiting(s->http);     /* requests not yet out come back: withdrawn() */
    ev_timer_set(&s->grace, (double)s->grace_ms / 1000.0, 0.);
    ev_timer_start(s->loop, &s->grace);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    sched *s = w->data;
    if (w->signum == SIGHUP) {
        if (!s->stopping)   /* draining: the next start reads the new config */
            reload(s);
        return;
    }
    if (s->opts.verbose)
        fprintf(stderr, "chuda: %s: finishing requests in flight\n", strsignal(w->signum));
    stop(s);
}

/* Recovery at start-up: every lease is dropped. A message whose request may have left
 * before the last stop is logged `uncertain`; unless its channel de-duplicates resends,
 * its class's on_uncertain decides: retry (it stays queued) or drop (failed, not resent). */
static int recover(sched *s, cherr *e)
{
    store_msg *v;
    int n;
    int64_t now = tu_now();
    if (store_begin(s->a->st, e) < 0)
        return -1;
    s->in_tx = 1;
    if (store_recover(s->a->st, &v, &n, e) < 0) {
        store_rollback(s->a->st);
        s->in_tx = 0;
        return -1;
    }
    for (int i = 0; i < n && !s->failed; i++) {
        store_msg *m = &v[i];
        sched_chan *sc = sched_chan_find(s, m->inflight);
        store_user u = {0};
        if (store_user_get(s->a->st, m->user_id, &u, e) < 0) {
            sched_fail(s, e);
            break;
        }
        char why[256];
        snprintf(why, sizeof why, "request over %s may have reached the provider before the "
                 "last stop", m->inflight);
        sched_log(s, m, u.tier, "uncertain", m->inflight, NULL, why, NULL);
        s->stats.uncertain++;
        if (!(sc && sc->dedup) && !strcmp(sched_on_uncertain(s, m->klass), "drop")) {
            /* not resent, so it counts as a touch (it may have reached the user): the
             * reservation recovery dropped is written again, confirmed */
            const policy_class *pk = policy_class_find(&s->a->pol, m->klass);
            store *st = s->a->st;
            if ((pk && !pk->capped
                     ? store_send_reserve_uncapped(st, m->user_id, m->id, m->inflight, now, e)
                     : store_send_reserve(st, m->user_id, m->id, m->inflight, now, e)) < 0 ||
                store_send_settle(st, m->id, 1, now, e) < 0 ||
                store_finish(st, m, "uncertain", m->inflight, "uncertain", now, e) < 0)
                sched_fail(s, e);
            else
                sched_log(s, m, u.tier, "failed", m->inflight, "uncertain",
                          "not resent: class policy on_uncertain = drop", NULL);
        }
        store_user_free(&u);
    }
    store_msgs_free(v, n);
    if (s->failed) {
        *e = s->fatal;
        return -1;
    }
    s->in_tx = 0;
    if (store_commit(s->a->st, e) < 0)
        return -1;
    if (n && s->opts.verbose)
        fprintf(stderr, "chuda: %d messages were in flight at the last stop (logged uncertain)\n",
                n);
    return 0;
}

/* One scheduler per database: a lock file beside it. */
static int lock_db(const char *db, int *fd, cherr *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s.run.lock", db);
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (*fd < 0)
        return err_set(e, "%s: %m", path);
    if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
        close(*fd);
        return err_set(e, "another `chuda run` is using %s", db);
    }
    return 0;
}

int sched_run(app *a, const sched_opts *o, cherr *e)
{
    sched *s = calloc(1, sizeof *s);
    if (!s)
        return err_set(e, "out of memory");
    int lockfd = -1, rc = -1;
    s->a = a;
    s->opts = *o;
    e->msg[0] = '\0';
    s->rng = (uint64_t)tu_now() ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ULL;
    s->loop = ev_default_loop(EVFLAG_AUTO);
    tuning t;
    if (tuning_load(&a->cfg, &t, e) < 0 || lock_db(a->db_path, &lockfd, e) < 0)
        goto out;
    tuning_apply(s, &t);
    if (open_channels(&a->cfg, s->chans, &s->nchans, e) < 0)
        goto out;
    if (!(s->http = http_new(s->loop, a->ca_file, e)))
        goto out;
    /* the stored message carries its inflight mark; recovery frees the lease */
    if (recover(s, e) < 0)
        goto out;
    /* the loop's commits stay short: the WAL is copied into the database elsewhere */
    if (store_checkpoint_behind(a->st, e) < 0)
        goto out;
    s->api = api_start(s, e);
    if (!s->api && e->msg[0])
        goto out;
    if (o->verbose)
        fprintf(stderr, "chuda: running on %s with %d channel%s\n", a->db_path, s->nchans,
                s->nchans == 1 ? "" : "s");

    ev_timer_init(&s->wake, on_wake, 0., 0.);
    ev_timer_init(&s->pump, on_pump, 0., 0.);
    ev_timer_init(&s->grace, on_grace, 0., 0.);
    ev_timer_init(&s->watch, on_watch, 0., 0.);
    ev_timer_init(&s->renew, on_renew, 0., 0.);
    ev_prepare_init(&s->commit, on_prepare);
    ev_signal_init(&s->sig_term, on_signal, SIGTERM);
    ev_signal_init(&s->sig_int, on_signal, SIGINT);
    ev_signal_init(&s->sig_hup, on_signal, SIGHUP);
    s->wake.data = s->pump.data = s->grace.data = s->watch.data = s->renew.data = s;
    s->commit.data = s;
    s->sig_term.data = s->sig_int.data = s->sig_hup.data = s;
    ev_prepare_start(s->loop, &s->commit);
    ev_signal_start(s->loop, &s->sig_term);
    ev_signal_start(s->loop, &s->sig_int);
    ev_signal_start(s->loop, &s->sig_hup);
    signal(SIGPIPE, SIG_IGN);
    if (store_data_version(a->st, &s->data_version, e) < 0)
        goto out;
    watch_start(s);
    renew_start(s);
    sched_kick(s);

    ev_run(s->loop, 0);

    if (s->in_tx && !s->failed) {
        s->in_tx = 0;
        cherr ce;
        if (store_commit(a->st, &ce) < 0)
            sched_fail(s, &ce);
    }
    if (s->failed) {
        *e = s->fatal;
        goto out;
    }
    if (o->verbose || o->until_idle) {
        fprintf(stderr, "chuda: claimed %ld: sent %ld, retried %ld, deferred %ld, suppressed %ld, "
                "expired %ld, failed %ld, uncertain %ld\n", s->stats.claimed, s->stats.sent,
                s->stats.retried, s->stats.deferred, s->stats.suppressed, s->stats.expired,
                s->stats.failed, s->stats.uncertain);
        if (s->stats.withdrawn)
            fprintf(stderr, "chuda: %ld cancelled or held (campaign pause) while they waited, "
                    "not sent\n", s->stats.withdrawn);
        /* where the run's CPU went: this loop's thread (store, policy, render, channels)
         * and libcurl's (HTTP, TLS) */
        fprintf(stderr, "chuda: CPU: scheduler thread %.2f s, HTTP thread %.2f s\n",
                tu_clock_seconds(CLOCK_THREAD_CPUTIME_ID), http_thread_cpu(s->http));
    }
    rc = 0;
out:
    api_stop(s->api);
    ev_prepare_stop(s->loop, &s->commit);
    ev_signal_stop(s->loop, &s->sig_term);
    ev_signal_stop(s->loop, &s->sig_int);
    ev_signal_stop(s->loop, &s->sig_hup);
    ev_timer_stop(s->loop, &s->wake);
    ev_timer_stop(s->loop, &s->pump);
    ev_timer_stop(s->loop, &s->grace);
    ev_timer_stop(s->loop, &s->watch);
    ev_timer_stop(s->loop, &s->renew);
    dlv_free_all(s);
    store_msgs_free(s->feed, s->feed_n);    /* a failed run's unstarted claim: its leases
                                               are recovered by the next run */
    http_free(s->http);
    for (int i = 0; i < s->nchans; i++) {
        chan_close(s->chans[i].c);
        strset_free(&s->chans[i].busy);
        strset_free(&s->chans[i].paused);
    }
    for (int i = 0; i < s->nretired; i++)
        chan_close(s->retired[i]);
    if (lockfd >= 0)
        close(lockfd);
    free(s);
    return rc;
}
