/* deliver.c — one message's way from claim to outcome (see sched.h).
 *
 *   dlv_start: decide (policy) -> render -> wait in the channel's FIFO
 *   dlv_pump:  slots in hand + rate allow it -> token -> build -> mark in flight -> park
 *   dlv_send_parked (after the commit): the request leaves
 *   on_reply:  the channel classifies the reply -> sent / retry / fallback / backoff /
 *              failed, each recorded in the store and the audit log. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fieldrule.h"
#include "fixstr.h"
#include "policy.h"
#include "render.h"
#include "sched.h"
#include "timeutil.h"
#include "token.h"

struct job {
    job *next;
    job *live_prev, *live_next;     /* every job alive (s->jobs), to free them at exit */
    sched *s;
    store_msg m;
    store_user u;
    char chname[32];            /* the chosen channel (looked up by name: SIGHUP may
                                   replace the channel table) */
    chan *c;                    /* the instance the request went to, while it is out */
    render_out f;
    chan_msg cm;
    http_req req;
    char credit_tid[128];       /* template id whose subscription credit a send spends */
    int reserved;               /* a cap reservation is held in the send ledger */
    int refreshed;              /* token refreshed once for this attempt */
    char refresh_why[160];      /* the provider's reason for rejecting the token */
    int marked;                 /* this attempt was recorded as in flight */
    char variant[64];           /* the user's A/B variant of the template ("" none): a
                                   copy, SIGHUP frees the template set */
    char token[600];
    char decided[400];          /* the policy's figures behind the send, for the sent row */
};

static void job_free(job *j)
{
    if (j->live_prev)
        j->live_prev->live_next = j->live_next;
    else
        j->s->jobs = j->live_next;
    if (j->live_next)
        j->live_next->live_prev = j->live_prev;
    store_msg_free(&j->m);
    store_user_free(&j->u);
    render_out_free(&j->f);
    http_req_clear(&j->req);
    free(j);
}

/* The job leaves the scheduler (finished, rescheduled or released). */
static void job_end(sched *s, job *j)
{
    s->active--;
    job_free(j);
    /* claim again when a good share of capacity is free, or everything is done */
    if ((s->full && s->active <= s->max_active - sched_claim_min(s)) ||
        s->active == 0) {
        s->full = 0;
        sched_kick(s);
    }
}

/* Log an event about this job: with the user's tier, the address once a channel was
 * chosen, and the A/B variant (on every row of the message, for the variant's funnel). */
static void jlog(sched *s, job *j, const char *event, const char *channel, const char *code,
                 const char *reason, const char *detail)
{
    char d[320];
    if (j->variant[0]) {
        snprintf(d, sizeof d, "%s%svariant=%s", detail ? detail : "", detail ? " " : "",
                 j->variant);
        detail = d;
    }
    sched_log_to(s, &j->m, j->u.tier, channel ? j->cm.to : NULL, event, channel, code, reason,
                 detail);
}

static void settle(sched *s, job *j, int sent);

/* Between two of the run's commits another process (or the API) cancelled the claimed
 * message, or paused its campaign, before its request was built (store.h: what the
 * store found instead of its row). Nothing is sent or written for it: the canceller
 * logged it `cancelled`, a held one is due again at resume. Its reservation goes back. */
static void lost_claim(sched *s, job *j, int what)
{
    settle(s, j, 0);
    s->stats.withdrawn++;
    if (s->opts.verbose)
        fprintf(stderr, "chuda: msg %lld %s while it waited for its channel: not sent\n",
                (long long)j->m.id, what == STORE_HELD ? "held by its campaign's pause"
                                                       : "cancelled");
}

/* 0: recorded; -1: storage failed (the run stops); STORE_CANCELLED / STORE_HELD: the
 * message was taken from the run meanwhile (lost_claim), nothing recorded. */
static int finish(sched *s, job *j, const char *state, const char *event, const char *channel,
                  const char *code, const char *reason, const char *detail)
{
    cherr e;
    if (sched_tx(s) < 0)
        return -1;
    int rc = store_finish(s->a->st, &j->m, state, channel, code, tu_now(), &e);
    if (rc < 0) {
        sched_fail(s, &e);
        return -1;
    }
    if (rc > 0) {
        lost_claim(s, j, rc);
        return rc;
    }
    jlog(s, j, event, channel, code, reason, detail);
    return 0;
}

static int reschedule(sched *s, job *j, int64_t due, const char *event, const char *channel,
                      const char *code, const char *reason)
{
    cherr e;
    if (sched_tx(s) < 0)
        return -1;
    int rc = store_reschedule(s->a->st, &j->m, due, &e);
    if (rc < 0) {
        sched_fail(s, &e);
        return -1;
    }
    if (rc > 0) {
        lost_claim(s, j, rc);
        return rc;
    }
    if (event)
        jlog(s, j, event, channel, code, reason, NULL);
    return 0;
}

/* Add `ch` to the message's skip list (the next decision will not pick it). */
static int skip_channel(job *j, const char *ch)
{
    char *n;
    if (asprintf(&n, "%s%s%s", j->m.skip && *j->m.skip ? j->m.skip : "",
                 j->m.skip && *j->m.skip ? "," : "", ch) < 0)
        return -1;
    free(j->m.skip);
    j->m.skip = n;
    return 0;
}

/* Settle the job's cap reservation: confirmed when the provider accepted the message,
 * given back otherwise. */
static void settle(sched *s, job *j, int sent)
{
    cherr e;
    if (!j->reserved || sched_tx(s) < 0)
        return;
    j->reserved = 0;
    if (store_send_settle(s->a->st, j->m.id, sent, tu_now(), &e) < 0)
        sched_fail(s, &e);
}

/* Back to the queue as it was claimed, its cap reservation given back: the job never
 * reached the provider (released at shutdown, withdrawn from its lane). */
static void put_back(sched *s, job *j)
{
    settle(s, j, 0);
    reschedule(s, j, j->m.due_at, NULL, NULL, NULL, NULL);
    job_end(s, j);
}

static void handle_outcome(sched *s, job *j, const chan_outcome *o);

/* A reply paused the channel while this job waited for its request to leave. */
static void defer_paused(sched *s, job *j, int64_t until)
{
    chan_outcome oc = {0};
    chan_outcome_set(&oc, CHAN_BACKOFF, "paused", "paused while the message waited");
    oc.until = until;
    handle_outcome(s, j, &oc);
}

/* ---- decide and render -------------------------------------------------------- */

static json_t *parse_obj(const char *text)
{
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* Render the decided channel's section and check its field rules. A value the channel
 * cannot carry rules that channel out for this message, as a refusal would, and the
 * policy decides again; `ruled` collects why ("[mp_subscribe] data.thing1: 28
 * characters, limit 20"). Returns 0 with `d` the final decision (on SEND, j->f holds
 * the rendered section), or -1 when rendering itself failed (e set). */
static int render_fitting(sched *s, job *j, const render_ctx *rc, const policy_input *in,
                          policy_decision *d, char *ruled, size_t len, cherr *e)
{
    while (d->verdict == POLICY_SEND) {
        if (render_channel(rc, d->channel, &j->f, e) < 0)
            return -1;
        cherr fe;
        if (fr_check(d->channel, &j->f, &s->a->fr, NULL, &fe) == 0)
            return 0;
        render_out_free(&j->f);
        size_t used = strlen(ruled);
        snprintf(ruled + used, len - used, "%s%.200s", used ? "; " : "", fe.msg);
        char ch[32];
        fs_copy(ch, sizeof ch, d->channel);
        if (skip_channel(j, ch) < 0)
            return err_set(e, "out of memory");
        policy_decide(&s->a->pol, in, d);
        if (d->verdict == POLICY_SEND) {
            char why[400];
            snprintf(why, sizeof why, "%.300s; trying %s", fe.msg, d->channel);
            jlog(s, j, "retry", ch, "field_rule", why, NULL);
            s->stats.retried++;
        }
    }
    return 0;
}

void dlv_start(sched *s, store_msg *m)
{
    job *j = calloc(1, sizeof *j);
    if (!j) {
        store_msg_free(m);
        return;
    }
    j->s = s;
    j->live_next = s->jobs;
    if (s->jobs)
        s->jobs->live_prev = j;
    s->jobs = j;
    j->m = *m;
    memset(m, 0, sizeof *m);
    s->active++;
    s->stats.claimed++;
    app *a = s->a;
    int64_t now = tu_now();
    cherr e;

    int found = store_user_get(a->st, j->m.user_id, &j->u, &e);
    if (found < 0) {
        sched_fail(s, &e);
        job_end(s, j);
        return;
    }

    if (j->m.inflight) {
        /* a previous holder died after the request may have left */
        char why[256];
        snprintf(why, sizeof why, "request over %s may have reached the provider before a "
                 "crash", j->m.inflight);
        sched_log(s, &j->m, j->u.tier, "uncertain", j->m.inflight, NULL, why, NULL);
        s->stats.uncertain++;
        /* its reservation from that attempt: given back when it is sent again (it would
         * count against its own cap), kept when it is dropped (it may have reached the
         * user, and counts as a touch) */
        sched_chan *sc = sched_chan_find(s, j->m.inflight);
        int drop = !(sc && sc->dedup) && !strcmp(sched_on_uncertain(s, j->m.klass), "drop");
        if (sched_tx(s) < 0 || store_send_settle(a->st, j->m.id, drop, now, &e) < 0) {
            if (!s->failed)
                sched_fail(s, &e);
            job_end(s, j);
            return;
        }
        if (drop) {
            if (finish(s, j, "uncertain", "failed", j->m.inflight, "uncertain",
                       "not resent: class policy on_uncertain = drop", NULL) == 0)
                s->stats.failed++;
            job_end(s, j);
            return;
        }
    }

    const tpl *t = tpl_find(&a->tpls, j->m.tmpl);
    if (!found || !t) {
        char why[200];
        snprintf(why, sizeof why, found ? "template '%s' no longer exists" : "user '%s' no longer exists",
                 found ? j->m.tmpl : j->m.user_id);
        if (finish(s, j, "failed", "failed", NULL, found ? "unknown_template" : "unknown_user",
                   why, NULL) == 0)
            s->stats.failed++;
        job_end(s, j);
        return;
    }

    /* what the policy needs: recent sends, opt-outs, subscription credits */
    json_t *vars = parse_obj(j->m.vars), *attrs = parse_obj(j->u.attrs);
    const char *variant = tpl_variant_for(t, j->u.user_id);
    fs_copy(j->variant, sizeof j->variant, variant);         /* none: "" */
    render_ctx rc = {.t = t, .vars = vars, .attrs = attrs, .user_id = j->u.user_id,
                     .tier = j->u.tier, .segment = j->u.segment, .variant = variant,
                     .tz = j->u.tz && *j->u.tz ? j->u.tz : a->default_tz};
    store_send sends[POLICY_MAX_SENDS];
    store_optout outs[64];
    int nsends = 0, nouts = 0;
    long credits = -1;
    policy_chan pcs[SCHED_MAX_CHANNELS];
    for (int i = 0; i < s->nchans; i++) {
        chan *c = s->chans[i].c;
        pcs[i] = (policy_chan){c->name, 1, c->paused_until, c->credits, c->monthly_limit};
    }
    int64_t since, month_since;
    char monthly[SCHED_MAX_CHANNELS * 33 + 2];
    policy_history_args(&a->pol, pcs, s->nchans, now, &since, &month_since, monthly,
                        sizeof monthly);
    if (store_sends_since(a->st, j->m.user_id, since, month_since, monthly, sends,
                          POLICY_MAX_CAP, &nsends, &e) < 0 ||
        store_optouts_get(a->st, j->m.user_id, outs, 64, &nouts, &e) < 0) {
        json_decref(vars);
        json_decref(attrs);
        sched_fail(s, &e);
        job_end(s, j);
        return;
    }
    for (int i = 0; i < s->nchans; i++) {
        chan *c = s->chans[i].c;
        /* the template id is looked up whatever [channel.X] credits says: a 43101 is
         * recorded against it (credits zero) either way */
        if (c->ops->credits && tpl_has_section(t, c->name) && !j->credit_tid[0]) {
            buf tid = {0};
            if (render_key(&rc, c->name, "template_id", &tid, &e) > 0 && tid.s)
                fs_copy(j->credit_tid, sizeof j->credit_tid, tid.s);
            buf_free(&tid);
            if (j->credit_tid[0] &&
                store_credits_get(a->st, j->m.user_id, j->credit_tid, &credits, &e) < 0) {
                json_decref(vars);
                json_decref(attrs);
                sched_fail(s, &e);
                job_end(s, j);
                return;
            }
        }
    }
    json_t *ah = attrs ? json_object_get(attrs, "active_hour") : NULL;
    int active_hour = -1;
    if (json_is_string(ah)) {
        char *end;
        long h = strtol(json_string_value(ah), &end, 10);
        if (!*end && end != json_string_value(ah) && h >= 0 && h <= 23)
            active_hour = (int)h;
    }
    policy_input in = {
        .m = &j->m, .u = &j->u, .t = t, .chans = pcs, .nchans = s->nchans, .now = now,
        .sends = sends, .nsends = nsends, .optouts = outs, .noptouts = nouts,
        .mp_template_id = j->credit_tid, .mp_credits = credits, .active_hour = active_hour,
    };
    policy_decision d;
    policy_decide(&a->pol, &in, &d);
    /* A/B holdout: the control group is decided like a send, and nothing goes out */
    if (d.verdict == POLICY_SEND && tpl_in_holdout(t, j->u.user_id)) {
        d.verdict = POLICY_SUPPRESS;
        snprintf(d.code, sizeof d.code, "holdout");
        snprintf(d.reason, sizeof d.reason, "holdout: %s keeps this user in its control group",
                 t->name);
        j->variant[0] = '\0';     /* the control group sees no variant */
    }
    char ruled[400] = "";
    int rr = render_fitting(s, j, &rc, &in, &d, ruled, sizeof ruled, &e);
    json_decref(vars);
    json_decref(attrs);
    if (rr < 0) {
        if (finish(s, j, "failed", "failed", d.channel, "render", e.msg, NULL) == 0)
            s->stats.failed++;
        job_end(s, j);
        return;
    }
    if (ruled[0] && d.verdict != POLICY_SEND) {
        char why[sizeof d.reason];
        snprintf(why, sizeof why, "%s; %s%.*s", ruled,
                 d.verdict == POLICY_SUPPRESS ? "no other channel: " : "",
                 (int)(sizeof why - sizeof ruled - 24), d.reason);
        fs_utf8_clip(why);      /* the reason quotes the user's and the operator's words */
        if (d.verdict == POLICY_SUPPRESS) {
            /* no channel left that can carry it: the values are at fault, not the user */
            if (finish(s, j, "failed", "failed", NULL, "field_rule", why, NULL) == 0)
                s->stats.failed++;
            job_end(s, j);
            return;
        }
        memcpy(d.reason, why, sizeof why);
    }
    switch (d.verdict) {
    case POLICY_EXPIRE:
        if (finish(s, j, "expired", "expired", NULL, d.code, d.reason, NULL) == 0)
            s->stats.expired++;
        job_end(s, j);
        return;
    case POLICY_SUPPRESS:
        if (finish(s, j, "suppressed", "suppressed", NULL, d.code, d.reason, NULL) == 0)
            s->stats.suppressed++;
        job_end(s, j);
        return;
    case POLICY_DEFER:
        if (reschedule(s, j, d.until, "deferred", NULL, d.code, d.reason) == 0)
            s->stats.deferred++;
        job_end(s, j);
        return;
    case POLICY_SEND:
        break;
    }

    /* the decision and the reservation are one step: the next message to this user in
     * the same batch sees the reservation. Every send is in the ledger (a channel's
     * monthly limit counts them all); transactional ones do not count toward caps. */
    const policy_class *pk = policy_class_find(&a->pol, j->m.klass);
    if (sched_tx(s) < 0 ||
        (pk && !pk->capped
             ? store_send_reserve_uncapped(a->st, j->m.user_id, j->m.id, d.channel, now, &e)
             : store_send_reserve(a->st, j->m.user_id, j->m.id, d.channel, now, &e)) < 0) {
        if (!s->failed)
            sched_fail(s, &e);
        job_end(s, j);
        return;
    }
    j->reserved = 1;
    snprintf(j->decided, sizeof j->decided, "%.*s", (int)sizeof j->decided - 1, d.reason);
    sched_chan *sc = sched_chan_find(s, d.channel);
    fs_copy(j->chname, sizeof j->chname, d.channel);
    j->cm = (chan_msg){j->m.id, j->m.attempts + 1, j->m.user_id,
                       chan_address(sc->c->ops, &j->u), &j->f};
    /* wait for a request slot on the channel */
    if (sc->tail)
        sc->tail->next = j;
    else
        sc->head = j;
    sc->tail = j;
    sc->waiting++;
    dlv_pump(s, sc);
}

/* ---- the request ---------------------------------------------------------------- */

static void on_reply(void *arg, const http_resp *r);

/* Is this outcome an uncertain request its class will not resend (on_uncertain =
 * drop, on a channel without provider-side dedup)? handle_outcome's CHAN_RETRY case
 * drops exactly these. */
static int uncertain_dropped(sched *s, const job *j, const chan_outcome *o,
                             const sched_chan *sc)
{
    return (o->cls == CHAN_RETRY || o->cls == CHAN_REFRESH) && o->uncertain &&
           !(sc && sc->dedup) && !strcmp(sched_on_uncertain(s, j->m.klass), "drop");
}


static void release_slot(sched *s, job *j);

/* Build the request and park it until the commit that records it as in flight. */
static void build_and_park(sched *s, job *j, const char *token)
{
    cherr e;
    chan *c = j->c;
    if (s->stopping) {
        /* its token came after SIGTERM: unsent, it goes back as it was claimed */
        release_slot(s, j);
        sched_chan_idle(s, c);
        put_back(s, j);
        return;
    }
    /* opt-outs are checked at send time, not only at decision time */
    store_optout outs[64];
    int nouts = 0;
    if (store_optouts_get(s->a->st, j->m.user_id, outs, 64, &nouts, &e) < 0) {
        sched_fail(s, &e);
        return;
    }
    const store_optout *op = policy_optout_match(&s->a->pol, j->m.klass, c->name, outs, nouts);
    if (op) {
        chan_outcome oc = {0};
        chan_outcome_set(&oc, CHAN_REFUSED, "optout", "opted out of %s (%s) just before the send",
                         strcmp(op->channel, "*") ? op->channel : "every channel", op->source);
        oc.recipient = 1;
        handle_outcome(s, j, &oc);
        return;
    }
    /* so are the hours: a message may have waited past 23:00 for rate or a token */
    policy_decision d;
    int64_t now = tu_now();
    if (policy_recheck(&s->a->pol, &j->m, &j->u, c->name, now, &d)) {
        chan_outcome oc = {0};
        chan_outcome_set(&oc, CHAN_BACKOFF, d.code, "%.200s (checked again before the send)",
                         d.reason);
        oc.until = d.until;
        oc.recipient = oc.this_message = 1;
        handle_outcome(s, j, &oc);
        return;
    }
    if (c->paused_until > now) {     /* a reply paused the channel while this one waited */
        defer_paused(s, j, c->paused_until);
        return;
    }
    if (token)
        fs_copy(j->token, sizeof j->token, token);
    if (c->ops->build(c, &j->cm, token, now, &j->req, &e) < 0) {
        chan_outcome o = {0};
        chan_outcome_set(&o, CHAN_PERMANENT, "build", "%s", e.msg);
        handle_outcome(s, j, &o);
        return;
    }
    j->req.timeout_ms = c->timeout_ms;
    j->req.lane = c->name;              /* the provider sees `concurrency` at most */
    j->req.lane_limit = c->concurrency;
    if (sched_tx(s) < 0)
        return;
    int rc = store_mark_inflight(s->a->st, &j->m, c->name, &e);
    if (rc < 0) {
        sched_fail(s, &e);
        return;
    }
    if (rc > 0) {       /* cancelled or held since its claim: the request stays here */
        lost_claim(s, j, rc);
        release_slot(s, j);
        sched_chan_idle(s, c);
        job_end(s, j);
        return;
    }
    j->m.attempts++;
    j->marked = 1;
    j->next = s->parked;
    s->parked = j;
}

static void on_token(void *arg, const char *token, const chan_outcome *fail)
{
    job *j = arg;
    sched *s = j->s;
    if (!token) {
        /* a failed token fetch is this message's attempt: a token endpoint that keeps
         * failing ends the message `failed` with its code, after max_attempts */
        if (fail->cls == CHAN_RETRY)
            j->m.attempts++;
        handle_outcome(s, j, fail);
        return;
    }
    build_and_park(s, j, token);
}

/* The first waiting job whose recipient has no request in flight, unlinked. */
static job *take_ready(sched_chan *sc)
{
    job *prev = NULL;
    for (job *j = sc->head; j; prev = j, j = j->next) {
        if (strset_has(&sc->busy, j->cm.to))
            continue;
        if (prev)
            prev->next = j->next;
        else
            sc->head = j->next;
        if (sc->tail == j)
            sc->tail = prev;
        j->next = NULL;
        sc->waiting--;
        return j;
    }
    return NULL;
}

#define PAUSED_SWEEP 1024          /* paused recipients kept before ended pauses go */

/* Remember a per-recipient backoff: their other messages on this channel wait too. */
static void pause_recipient(sched_chan *sc, const char *to, int64_t until, int64_t now)
{
    if (sc->paused.live >= PAUSED_SWEEP)
        strset_del_below(&sc->paused, now + 1);
    strset_put(&sc->paused, to, until);
}

/* Is `to` held back by an earlier per-recipient backoff? 1 with `o` set for the wait. */
static int recipient_paused(sched_chan *sc, const char *to, int64_t now, chan_outcome *o)
{
    int64_t until;
    if (!strset_get(&sc->paused, to, &until))
        return 0;
    if (until <= now) {
        strset_del(&sc->paused, to);
        return 0;
    }
    memset(o, 0, sizeof *o);
    chan_outcome_set(o, CHAN_BACKOFF, "recipient_paused",
                     "an earlier reply paused this recipient");
    o->until = until;
    o->recipient = 1;
    return 1;
}

/* Requests a channel has in hand at most: twice its concurrency. The provider sees
 * `concurrency` of them at most (the request's lane, http.h); the others are decided,
 * built and recorded as in flight, and wait in the HTTP thread for a slot, which they
 * take the moment a reply frees one, not after this loop has seen the reply. Twice:
 * dispatch 0.46 -> 0.55 of its ceiling (bench/README, round eight); three times gained
 * ~4 % more, and each request held here is one more "uncertain" after a crash. A
 * channel with a rate or a per-recipient window (admit) keeps `concurrency`: those are
 * counted when a request is built, so it must leave then, not a slot later. */
#define DLV_IN_HAND(c) \
    ((c)->rate > 0 || (c)->ops->admit ? (c)->concurrency : 2 * (c)->concurrency)

void dlv_pump(sched *s, sched_chan *sc)
{
    /* A job this loop starts may end before it returns (a cached token, then an
     * opt-out, the hours or a pause met in build_and_park; a token that failed a moment
     * ago): its handle_outcome gives the slot back and pumps again. Nested, that would
     * recurse once per waiting job (~18 KB of stack each, up to max_inflight of them);
     * the loop below takes the next job instead. */
    if (sc->pumping)
        return;
    sc->pumping = 1;
    chan *c = sc->c;
    int64_t now = tu_now();
    while (sc->head && c->inflight < DLV_IN_HAND(c) && !s->failed) {
        int64_t wait = 0;
        if (!chan_rate_take(c, now, &wait)) {
            if (!ev_is_active(&s->pump) || ev_timer_remaining(s->loop, &s->pump) * 1000 > wait) {
                ev_timer_stop(s->loop, &s->pump);
                ev_timer_set(&s->pump, (double)wait / 1000.0, 0.);
                ev_timer_start(s->loop, &s->pump);
            }
            break;
        }
        job *j = take_ready(sc);
        if (!j) {
            chan_rate_refund(c);
            break;      /* every waiting recipient is busy: a reply will pump again */
        }
        /* a provider limit an earlier reply put on this recipient holds it back too */
        chan_outcome po;
        if (recipient_paused(sc, j->cm.to, now, &po)) {
            chan_rate_refund(c);
            handle_outcome(s, j, &po);
            continue;
        }
        /* a provider limit the channel must honour before sending (WeCom drops the
         * excess over 30 per minute per member silently) */
        chan_outcome ao;
        memset(&ao, 0, sizeof ao);
        if (c->ops->admit && !c->ops->admit(c, &j->cm, now, &ao)) {
            chan_rate_refund(c);
            handle_outcome(s, j, &ao);      /* j->c is NULL: no slot to give back */
            continue;
        }
        strset_add(&sc->busy, j->cm.to);
        c->inflight++;
        j->c = c;
        if (c->token)
            token_get(c, s->http, now, on_token, j);
        else
            build_and_park(s, j, NULL);
    }
    sc->pumping = 0;
}

void dlv_send_parked(sched *s)
{
    job *list = s->parked;
    s->parked = NULL;
    /* parked last-first; send in arrival order */
    job *rev = NULL;
    while (list) {
        job *n = list->next;
        list->next = rev;
        rev = list;
        list = n;
    }
    while (rev) {
        job *j = rev;
        rev = rev->next;
        j->next = NULL;
        cherr e;
        if (http_submit(s->http, &j->req, on_reply, j, &e) < 0) {
            http_resp r = {0};
            r.curl_code = 7;   /* CURLE_COULDNT_CONNECT: it never left */
            r.error = e.msg;
            on_reply(j, &r);
        }
    }
}

static void record_latency(sched *s, job *j, double seconds)
{
    sched_chan *sc = sched_chan_find(s, j->chname);
    if (!sc)
        return;
    int k = 0;
    while (k < SCHED_LAT_BUCKETS && seconds > sched_lat_bounds[k])
        k++;
    sc->lat_bucket[k]++;
    sc->lat_sum += seconds;
}

/* Shutting down, the request still waited in its lane for a slot (http_stop_waiting):
 * it never left. The message goes back to the queue as it was claimed, like one still
 * waiting here: no attempt spent, no longer in flight, its cap reservation given back. */
static void withdrawn(sched *s, job *j)
{
    chan *c = j->c;
    j->m.attempts--;
    j->marked = 0;
    release_slot(s, j);
    sched_chan_idle(s, c);
    put_back(s, j);
}

static void on_reply(void *arg, const http_resp *r)
{
    job *j = arg;
    if (r->not_started && j->s->stopping) {
        withdrawn(j->s, j);
        return;
    }
    if (r->not_started) {   /* a reply paused the channel while it waited (http.h) */
        sched_chan *sc = sched_chan_find(j->s, j->chname);
        defer_paused(j->s, j, (sc ? sc->c : j->c)->paused_until);
        return;
    }
    record_latency(j->s, j, r->seconds);
    chan_outcome o;
    memset(&o, 0, sizeof o);
    j->c->ops->parse(j->c, &j->cm, r, tu_now(), &o);
    sched_chan *sc = sched_chan_find(j->s, j->chname);
    if (r->resends && !(sc && sc->dedup) && !j->s->failed) {
        /* libcurl resent the request on its own; the first copy may have been processed */
        char why[200];
        snprintf(why, sizeof why, "the connection to %s closed after the request was written "
                 "and libcurl resent it on a new one: it may have been delivered twice",
                 j->chname);
        jlog(j->s, j, "uncertain", j->chname, "resent", why, NULL);
        j->s->stats.uncertain++;
    }
    handle_outcome(j->s, j, &o);
}

/* ---- outcomes ---------------------------------------------------------------- */

/* Give the request slot back; pump the channel this job's name now maps to. The
 * instance the request went to may be one SIGHUP retired: the caller frees it
 * (sched_chan_idle) once it is done with it. */
static void release_slot(sched *s, job *j)
{
    if (!j->c)
        return;
    chan *c = j->c;
    c->inflight--;
    j->c = NULL;
    sched_chan *sc = sched_chan_find(s, j->chname);
    if (sc)
        strset_del(&sc->busy, j->cm.to);
    if (sc)
        dlv_pump(s, sc);
}

/* The provider says the user cannot receive this: on a credit channel (43101) the user
 * cannot receive that template — its credits go to zero, whether or not chuda keeps
 * count ([channel.X] credits) — else an opt-out of the channel recorded as coming from
 * the provider (43004, SMS blacklist). */
static void record_refusal(sched *s, job *j, const chan *c, const chan_outcome *o, int64_t now)
{
    cherr e;
    if (sched_tx(s) < 0)
        return;
    int rc;
    if (c->ops->credits && j->credit_tid[0]) {
        rc = store_credits_add(s->a->st, j->m.user_id, j->credit_tid, 0, 1, now, &e);
    } else {
        store_optout op = {.at = now};
        fs_copy(op.channel, sizeof op.channel, c->name);
        snprintf(op.category, sizeof op.category, "*");
        snprintf(op.source, sizeof op.source, "provider");
        snprintf(op.reason, sizeof op.reason, "%s %s", c->name, o->code);
        rc = store_optout_put(s->a->st, j->m.user_id, &op, &e);
    }
    if (rc < 0)
        sched_fail(s, &e);
}

static void retry_or_fail(sched *s, job *j, const chan_outcome *o, const char *chname,
                          const chan *c)
{
    char why[400];
    if (j->m.attempts >= c->max_attempts) {
        snprintf(why, sizeof why, "gave up after %d attempts: %s", j->m.attempts, o->reason);
        if (finish(s, j, "failed", "failed", chname, o->code, why, NULL) == 0)
            s->stats.failed++;
        return;
    }
    int64_t now = tu_now();
    int64_t due = now + chan_retry_delay(c, j->m.attempts + 1, sched_random(s));
    if (j->m.expires_at && due >= j->m.expires_at) {
        snprintf(why, sizeof why, "retry would fall after its expiry: %s", o->reason);
        if (finish(s, j, "expired", "expired", chname, o->code, why, NULL) == 0)
            s->stats.expired++;
        return;
    }
    char t[32];
    snprintf(why, sizeof why, "attempt %d of %d: %s; next at %s", j->m.attempts, c->max_attempts,
             o->reason, tu_format(due, t, sizeof t));
    if (reschedule(s, j, due, "retry", chname, o->code, why) != 0)
        return;
    if (due > s->retry_until)
        s->retry_until = due;
    s->stats.retried++;
}

/* The end of a backoff window (a minute when the provider named none). */
static int64_t backoff_until(const chan_outcome *o, int64_t now)
{
    return o->until > now ? o->until : now + 60 * TU_SEC;
}

static void handle_outcome(sched *s, job *j, const chan_outcome *o)
{
    const char *chname = j->chname;
    sched_chan *sc = sched_chan_find(s, chname);
    chan *c = j->c ? j->c : sc ? sc->c : NULL;
    int64_t now = tu_now();
    char why[400];

    cherr e;
    if (!c) {   /* the channel was removed by SIGHUP while this job waited */
        settle(s, j, 0);
        reschedule(s, j, now, NULL, NULL, NULL, NULL);
        job_end(s, j);
        return;
    }

    if (s->failed) {   /* storage is gone: leave the message leased for recovery */
        release_slot(s, j);
        sched_chan_idle(s, c);
        job_end(s, j);
        return;
    }
    if (o->cls == CHAN_REFRESH && !j->refreshed && c->token) {
        /* the token went stale: refresh once and resend this attempt */
        j->refreshed = 1;
        snprintf(j->refresh_why, sizeof j->refresh_why, "%.40s: %.110s", o->code, o->reason);
        token_invalidate(c, j->token);
        j->m.attempts--;          /* the stale-token call does not count */
        j->marked = 0;
        http_req_clear(&j->req);
        c->inflight--;
        j->c = NULL;
        sched_chan_idle(s, c);
        if (!sc) {
            settle(s, j, 0);
            reschedule(s, j, now, NULL, NULL, NULL, NULL);
            job_end(s, j);
            return;
        }
        strset_del(&sc->busy, j->cm.to);
        j->next = sc->head;
        sc->head = j;
        if (!sc->tail)
            sc->tail = j;
        sc->waiting++;
        dlv_pump(s, sc);
        return;
    }
    /* a limit on this recipient holds their other waiting messages too, and a pause of
     * the channel all of them: recorded before the slot is given back (that pumps the
     * channel's queue, which would otherwise build the next request for the provider
     * that just said to stop) */
    if (o->cls == CHAN_BACKOFF && o->recipient && !o->this_message && sc && j->cm.to)
        pause_recipient(sc, j->cm.to, backoff_until(o, now), now);
    if (o->cls == CHAN_BACKOFF && !o->recipient) {
        int64_t until = backoff_until(o, now);
        chan *cur = sc ? sc->c : c;     /* the instance that sends from now on */
        if (until > cur->paused_until) {
            char t[32];
            if (cur->paused_until <= now)   /* once per pause, not per message */
                fprintf(stderr, "chuda: channel %s paused until %s: %s\n", chname,
                        tu_format(until, t, sizeof t), o->reason);
            cur->paused_until = until;
            cur->paused_config = !strcmp(o->code, "tls");
            /* built ones waiting for a slot must not go out now: back they come */
            http_withdraw_lane(s->http, chname);
        }
    }
    release_slot(s, j);
    /* the reservation stands for a send: one that happened, or an uncertain one that is
     * not resent (it may have reached the user; a resent one reserves again) */
    settle(s, j, o->cls == CHAN_OK || uncertain_dropped(s, j, o, sc));
    if (o->cls == CHAN_OK && c->credits && j->credit_tid[0] && sched_tx(s) == 0 &&
        store_credits_add(s->a->st, j->m.user_id, j->credit_tid, -1, 0, now, &e) < 0)
        sched_fail(s, &e);
    if (o->cls == CHAN_REFUSED && strcmp(o->code, "optout"))
        record_refusal(s, j, c, o, now);

    switch (o->cls) {
    case CHAN_OK: {
        char detail[200] = "";
        if (o->provider_id[0])
            snprintf(detail, sizeof detail, "provider_id=%s", o->provider_id);
        int n = snprintf(why, sizeof why, "accepted by %s", chname);
        if (j->refreshed && n < (int)sizeof why)  /* the log says why there were two requests */
            n += snprintf(why + n, sizeof why - n, " after a token refresh (%s)", j->refresh_why);
        if (j->decided[0] && n < (int)sizeof why)
            snprintf(why + n, sizeof why - n, "; %s", j->decided);
        finish(s, j, "sent", "sent", chname, o->code, why, detail[0] ? detail : NULL);
        /* receipts name the message by the provider's id (cbapply.h) */
        if (o->provider_id[0] && sched_tx(s) == 0 &&
            store_provider_id_put(s->a->st, chname, o->provider_id, j->m.id, now, &e) < 0)
            sched_fail(s, &e);
        s->stats.sent++;
        break;
    }
    case CHAN_BACKOFF: {
        int64_t until = backoff_until(o, now);
        if (j->marked && j->m.attempts > 0)
            j->m.attempts--;      /* waiting out a window costs no attempt */
        char t[32];
        snprintf(why, sizeof why, "%s %s until %s: %s", chname,
                 o->this_message ? "holds this message"
                 : o->recipient  ? "limit for this recipient"
                                 : "paused by provider",
                 tu_format(until, t, sizeof t), o->reason);
        if (j->m.expires_at && until >= j->m.expires_at) {
            if (finish(s, j, "expired", "expired", chname, o->code, why, NULL) == 0)
                s->stats.expired++;
        } else {
            if (reschedule(s, j, until, "deferred", chname, o->code, why) == 0)
                s->stats.deferred++;
        }
        break;
    }
    case CHAN_REFUSED:
    case CHAN_PERMANENT:
        if (o->cls == CHAN_REFUSED || o->recipient) {
            /* the user cannot be reached this way: try the next channel */
            skip_channel(j, chname);
            snprintf(why, sizeof why, "%s %s: %s; trying the next channel", chname,
                     o->cls == CHAN_REFUSED ? "refused" : "rejected this recipient", o->reason);
            if (reschedule(s, j, now, "retry", chname, o->code, why) == 0)
                s->stats.retried++;
        } else {
            if (finish(s, j, "failed", "failed", chname, o->code, o->reason, NULL) == 0)
                s->stats.failed++;
        }
        break;
    case CHAN_REFRESH:   /* refreshed once already: treat as transient */
    case CHAN_RETRY:
        if (o->uncertain && !(sc && sc->dedup)) {
            snprintf(why, sizeof why, "no reply from %s, it may have been delivered: %s", chname,
                     o->reason);
            jlog(s, j, "uncertain", chname, o->code, why, NULL);
            s->stats.uncertain++;
            if (!strcmp(sched_on_uncertain(s, j->m.klass), "drop")) {
                if (finish(s, j, "uncertain", "failed", chname, o->code,
                           "not resent: class policy on_uncertain = drop", NULL) == 0)
                    s->stats.failed++;
                break;
            }
        }
        retry_or_fail(s, j, o, chname, c);
        break;
    }
    sched_chan_idle(s, c);
    job_end(s, j);
}

void dlv_release_chan(sched *s, sched_chan *sc)
{
    while (sc->head) {
        job *j = sc->head;
        sc->head = j->next;
        sc->waiting--;
        put_back(s, j);
    }
    sc->tail = NULL;
}

void dlv_release_waiting(sched *s)
{
    for (int i = 0; i < s->nchans; i++)
        dlv_release_chan(s, &s->chans[i]);
}

void dlv_free_all(sched *s)
{
    /* parked, waiting, and — past the grace period — in flight or waiting for a token:
     * nothing calls back into them any more */
    while (s->jobs)
        job_free(s->jobs);
    s->parked = NULL;
    for (int i = 0; i < s->nchans; i++) {
        s->chans[i].head = s->chans[i].tail = NULL;
        s->chans[i].waiting = 0;
    }
}
