/* cbapply.c — provider pushes applied to the store (see cbapply.h).
 *
 * One pass over the events in order. A receipt's optout comes right after its failed
 * event (callback.h), so the pass remembers the user of the last receipt it applied and
 * opts that user out only when the optout names the same provider id. */
#include "cbapply.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fixstr.h"
#include "timeutil.h"

typedef struct cba {
    store *st;
    int64_t now;
    cba_counts *c;
    cherr *e;
    /* the last receipt applied by this pass: its provider id (the event's own, which
     * outlives the pass) and its message's user (malloc'd), whole however long */
    const char *pid;
    char *user;
} cba;

/* The message id chuda sent as OutId / SessionContext, or 0. */
static int64_t ref_id(const char *ref)
{
    if (!ref || !*ref || strlen(ref) > 18)
        return 0;
    for (const char *p = ref; *p; p++)
        if (!isdigit((unsigned char)*p))
            return 0;
    return strtoll(ref, NULL, 10);
}

/* ---- receipts ----------------------------------------------------------------------- */

static int log_receipt(cba *x, const cb_event *ev, int64_t id)
{
    store_msg m;
    store_msgstate ms;
    int found = store_msg_get(x->st, id, &m, &ms, x->e);
    if (found <= 0)
        return found < 0 ? -1 : err_set(x->e, "receipt: message %lld vanished", (long long)id);
    store_user u = {0};
    if (store_user_get(x->st, m.user_id, &u, x->e) < 0) {
        store_msg_free(&m);
        return -1;
    }
    char reason[300], detail[200], t[32];
    const char *what = ev->text && *ev->text ? ev->text : ev->code ? ev->code : "";
    snprintf(reason, sizeof reason, "%s, says the %s receipt%s%s",
             ev->kind == CB_DELIVERED ? "delivered" : "not delivered", ev->channel,
             *what ? ": " : "", what);
    fs_utf8_clip(reason);
    snprintf(detail, sizeof detail, "provider_id=%s%s%s", ev->provider_msg_id,
             ev->at_ms ? " provider_at=" : "", ev->at_ms ? tu_format(ev->at_ms, t, sizeof t) : "");
    fs_utf8_clip(detail);
    store_event le = {
        .at = x->now, .message_id = id, .campaign_id = m.campaign_id, .user_id = m.user_id,
        .event = cb_kind_name(ev->kind), .channel = ev->channel, .reason = reason,
        .code = ev->code, .detail = detail, .target = ev->phone ? ev->phone : ev->openid,
        .tier = u.tier,
    };
    int rc = store_log(x->st, &le, x->e);
    x->pid = ev->provider_msg_id;
    free(x->user);
    x->user = m.user_id;        /* taken from m, which store_msg_free then leaves be */
    m.user_id = NULL;
    store_user_free(&u);
    store_msg_free(&m);
    return rc;
}

static int receipt(cba *x, const cb_event *ev)
{
    int64_t id;
    int fresh;
    x->pid = NULL;
    if (store_receipt_once(x->st, ev->channel, ev->provider_msg_id, ref_id(ev->ref),
                           cb_kind_name(ev->kind), x->now, &id, &fresh, x->e) < 0)
        return -1;
    if (!id) {
        if (!x->c->unmatched++)
            fs_copy(x->c->first_unmatched, sizeof x->c->first_unmatched, ev->provider_msg_id);
        return 0;
    }
    if (!fresh) {
        x->c->repeated++;
        return 0;
    }
    x->c->applied++;
    return log_receipt(x, ev, id);
}

/* ---- opt-outs and credits ------------------------------------------------------------- */

static int optout_put(cba *x, const char *user, const char *channel, const char *source,
                      const char *reason)
{
    store_optout o = {.at = x->now};
    fs_copy(o.channel, sizeof o.channel, channel);
    snprintf(o.category, sizeof o.category, "*");
    fs_copy(o.source, sizeof o.source, source);
    fs_copy(o.reason, sizeof o.reason, reason);
    fs_utf8_clip(o.reason);
    return store_optout_put(x->st, user, &o, x->e);
}

/* The opt-out a failed receipt carries: for the user of that receipt's message. */
static int receipt_optout(cba *x, const cb_event *ev)
{
    if (!x->pid || strcmp(x->pid, ev->provider_msg_id))
        return 0;               /* its receipt was a repeat or unmatched */
    char why[128];
    snprintf(why, sizeof why, "%s receipt: %s", ev->channel,
             ev->text && *ev->text ? ev->text : ev->code ? ev->code : "refused");
    x->c->applied++;
    return optout_put(x, x->user, ev->channel, "provider", why);
}

/* Which users an event is about, and what to do to each. */
typedef struct each_user {
    cba *x;
    const cb_event *ev;
    int n;
} each_user;

static int reply_user(const store_user *u, void *arg)
{
    each_user *w = arg;
    char why[128];
    snprintf(why, sizeof why, "SMS reply '%s'%s%s", w->ev->text,
             w->ev->account ? " to " : "", w->ev->account ? w->ev->account : "");
    w->n++;
    return optout_put(w->x, u->user_id, "sms", "reply", why);
}

static int credit_user(const store_user *u, void *arg)
{
    each_user *w = arg;
    w->n++;
    int zero = w->ev->kind == CB_CREDIT_ZERO;
    return store_credits_add(w->x->st, u->user_id, w->ev->template_id, zero ? 0 : 1, zero,
                             w->x->now, w->x->e);
}

/* A reply or a subscription event: once per push, for every user it names. */
static int once_per_push(cba *x, const cb_event *ev)
{
    if (ev->at_ms && (ev->at_ms < x->now - CBA_MAX_AGE_MS || ev->at_ms > x->now + CBA_AHEAD_MS)) {
        if (!x->c->stale++)
            x->c->first_stale_at = ev->at_ms;
        return 0;               /* its key may be forgotten: a replay, not a re-push */
    }
    buf key = {0};
    if (ev->kind == CB_OPTOUT)
        buf_printf(&key, "reply|%s|%lld|%s", ev->phone, (long long)ev->at_ms, ev->text);
    else
        buf_printf(&key, "%s|%s|%s|%lld", cb_kind_name(ev->kind), ev->openid, ev->template_id,
                   (long long)ev->at_ms);
    int first = store_callback_once(x->st, key.s, x->now, x->e);
    buf_free(&key);
    if (first <= 0) {
        x->c->repeated += first == 0;
        return first;
    }
    each_user w = {x, ev, 0};
    int rc = ev->kind == CB_OPTOUT
                 ? store_users_by_addr(x->st, STORE_ADDR_PHONE, ev->phone, reply_user, &w, x->e)
                 : store_users_by_addr(x->st, STORE_ADDR_MP_OPENID, ev->openid, credit_user, &w,
                                       x->e);
    if (rc < 0)
        return -1;
    if (w.n)
        x->c->applied++;
    else
        x->c->unknown++;
    return 0;
}

int cba_apply(store *st, const cb_list *l, int64_t now, cba_counts *c, cherr *e)
{
    memset(c, 0, sizeof *c);
    cba x = {.st = st, .now = now, .c = c, .e = e};
    int rc = 0;
    for (size_t i = 0; i < l->n; i++) {
        const cb_event *ev = &l->v[i];
        if (ev->kind == CB_DELIVERED || ev->kind == CB_FAILED)
            rc = receipt(&x, ev);
        else if (ev->kind == CB_OPTOUT && ev->provider_msg_id)
            rc = receipt_optout(&x, ev);
        else
            rc = once_per_push(&x, ev);
        if (rc < 0)
            break;
    }
    free(x.user);
    return rc < 0 ? -1 : 0;
}
