/* token.c — single-flight access-token cache (see token.h). */
#include "token.h"

#include <stdlib.h>
#include <string.h>

#include "cn_time.h"
#include "fixstr.h"
#include "timeutil.h"

#define EARLY_MS (5 * TU_MIN)        /* refresh when less than this is left */

typedef struct waiter {
    struct waiter *next;
    token_cb cb;
    void *arg;
} waiter;

struct chan_token {
    char value[600];
    int64_t expires_at;             /* 0: no token */
    int refreshing;
    int force;                      /* next refresh uses force_refresh */
    int forced;                     /* the refresh in flight is a forced one */
    char rejected[600];             /* last token a business call rejected */
    int64_t rejected_ttl;           /* its ttl when the normal refresh handed it back */
    token_force quota;
    int64_t retry_at;               /* after a failed refresh, not before this */
    int64_t fail_delay;
    chan_outcome last_fail;
    long refreshes;
    waiter *waiters, **tail;
    chan *c;
    http *h;
};

chan_token *token_new(void)
{
    chan_token *t = calloc(1, sizeof *t);
    if (t)
        t->tail = &t->waiters;
    return t;
}

void token_free(chan_token *t)
{
    if (!t)
        return;
    while (t->waiters) {
        waiter *w = t->waiters;
        t->waiters = w->next;
        free(w);
    }
    free(t);
}

long token_refreshes(const chan *c)
{
    return c->token ? c->token->refreshes : 0;
}

int token_refreshing(const chan *c)
{
    return c->token && c->token->refreshing;
}

int token_force_take(token_force *f, int daily, int64_t now)
{
    int64_t day = (now + CN_OFFSET) / TU_DAY;
    if (day != f->day) {
        f->day = day;
        f->count = 0;
    }
    if (f->count >= daily || (f->last && now - f->last < TOKEN_FORCE_SPACING_MS))
        return 0;
    f->count++;
    f->last = now;
    return 1;
}

static void install(chan_token *t, const char *token, int64_t ttl, int64_t now)
{
    t->fail_delay = 0;
    t->retry_at = 0;
    if (token != t->value)
        fs_copy(t->value, sizeof t->value, token);
    t->expires_at = now + ttl;
    t->rejected[0] = '\0';
}

static void wake(chan_token *t, const char *token, const chan_outcome *fail)
{
    waiter *w = t->waiters;
    t->waiters = NULL;
    t->tail = &t->waiters;
    while (w) {
        waiter *next = w->next;
        w->cb(w->arg, token, fail);
        free(w);
        w = next;
    }
}

static void start_refresh(chan_token *t, int64_t now);

/* A forced refresh failed: go on with the token the normal call returned (the channel
 * is never paused for the force quota). */
static void force_failed(chan_token *t, int64_t now)
{
    install(t, t->rejected, t->rejected_ttl, now);
    wake(t, t->value, NULL);
}

static void on_token_reply(void *arg, const http_resp *r)
{
    chan_token *t = arg;
    chan *c = t->c;
    int64_t now = tu_now();
    char token[sizeof t->value];
    int64_t ttl = 0;
    chan_outcome o;
    memset(&o, 0, sizeof o);
    int forced = t->forced;
    t->refreshing = 0;
    t->forced = 0;
    t->refreshes++;
    if (c->ops->token_parse(c, r, token, sizeof token, &ttl, &o) < 0 || o.cls != CHAN_OK) {
        if (forced) {
            /* no more forcing today once the provider says its quota is used up */
            if (o.cls == CHAN_BACKOFF)
                t->quota.count = c->force_daily;
            force_failed(t, now);
            return;
        }
        t->fail_delay = t->fail_delay ? t->fail_delay * 2 : TU_SEC;
        if (t->fail_delay > TU_MIN)
            t->fail_delay = TU_MIN;
        t->retry_at = o.cls == CHAN_BACKOFF && o.until > now ? o.until : now + t->fail_delay;
        if (o.cls == CHAN_OK)
            chan_outcome_set(&o, CHAN_RETRY, "token", "token endpoint gave no token");
        snprintf(o.reason + strlen(o.reason), sizeof o.reason - strlen(o.reason),
                 " (token refresh)");
        t->last_fail = o;
        /* a token that is still valid keeps serving while the refresh failed */
        if (t->expires_at > now) {
            wake(t, t->value, NULL);
            return;
        }
        wake(t, NULL, &o);
        return;
    }
    /* stable_token hands back the rejected token until forced */
    if (c->ops->token_force && !forced && t->rejected[0] && !strcmp(token, t->rejected) &&
        token_force_take(&t->quota, c->force_daily, now)) {
        t->rejected_ttl = ttl;
        t->force = 1;
        start_refresh(t, now);
        return;
    }
    install(t, token, ttl, now);
    wake(t, t->value, NULL);
}

static void start_refresh(chan_token *t, int64_t now)
{
    chan *c = t->c;
    http_req req = {0};
    cherr e;
    int force = t->force;
    t->force = 0;
    t->forced = force;
    if (c->ops->token_request(c, force, &req, &e) < 0) {
        if (force) {
            force_failed(t, now);
            return;
        }
        chan_outcome o = {0};
        chan_outcome_set(&o, CHAN_PERMANENT, "token", "%s", e.msg);
        t->last_fail = o;
        t->retry_at = now + TU_MIN;
        wake(t, NULL, &o);
        return;
    }
    req.timeout_ms = c->timeout_ms;
    t->refreshing = 1;
    if (http_submit(t->h, &req, on_token_reply, t, &e) < 0) {
        t->refreshing = 0;
        t->forced = 0;
        if (force) {
            force_failed(t, now);
            return;
        }
        chan_outcome o = {0};
        chan_outcome_set(&o, CHAN_RETRY, "token", "%s", e.msg);
        t->retry_at = now + TU_SEC;
        t->last_fail = o;
        wake(t, NULL, &o);
    }
}

void token_get(chan *c, http *h, int64_t now, token_cb cb, void *arg)
{
    chan_token *t = c->token;
    t->c = c;
    t->h = h;
    int valid = t->expires_at > now && t->value[0];
    if (valid && (t->refreshing || t->expires_at - now > EARLY_MS)) {
        cb(arg, t->value, NULL);
        return;
    }
    if (valid) {
        /* still good: serve it and refresh in the background */
        if (now >= t->retry_at)
            start_refresh(t, now);
        cb(arg, t->value, NULL);
        return;
    }
    if (!t->refreshing && now < t->retry_at) {
        chan_outcome o = t->last_fail;
        o.cls = CHAN_BACKOFF;
        o.until = t->retry_at;
        cb(arg, NULL, &o);
        return;
    }
    waiter *w = malloc(sizeof *w);
    if (!w) {
        chan_outcome o = {0};
        chan_outcome_set(&o, CHAN_RETRY, "token", "out of memory");
        cb(arg, NULL, &o);
        return;
    }
    w->next = NULL;
    w->cb = cb;
    w->arg = arg;
    *t->tail = w;
    t->tail = &w->next;
    if (!t->refreshing)
        start_refresh(t, now);
}

void token_invalidate(chan *c, const char *bad)
{
    chan_token *t = c->token;
    if (!t || !bad || strcmp(t->value, bad))
        return;      /* a newer token is already cached */
    fs_copy(t->rejected, sizeof t->rejected, bad);
    t->value[0] = '\0';
    t->expires_at = 0;
    t->retry_at = 0;
}
