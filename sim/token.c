/* token.c - the token table shared in shape by the WeChat and WeCom fakes
 * (see token.h).  Dead tokens are dropped a day after they stop working so
 * a long benchmark does not grow the table without bound. */
#include "token.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEAD_KEEP_MS (24LL * 3600 * 1000)

void stok_init(struct stok_store *s)
{
    smap_init(&s->map, free);
}

void stok_free(struct stok_store *s)
{
    smap_free(&s->map);
}

static bool prune_dead(const char *key, void *val, void *arg)
{
    (void)key;
    const struct stok_entry *e = val;
    int64_t now = *(const int64_t *)arg;
    return e->expires_ms + DEAD_KEEP_MS < now;
}

void stok_issue(struct stok_store *s, const char *owner, int kind,
                int64_t now_ms, int64_t ttl_ms, char out[STOK_LEN])
{
    struct stok_entry *e = su_xcalloc(1, sizeof *e);
    snprintf(e->owner, sizeof e->owner, "%s", owner);
    e->kind = kind;
    e->expires_ms = now_ms + ttl_ms;
    if (smap_count(&s->map) > 10000)
        smap_filter(&s->map, prune_dead, &now_ms);
    do
        su_rand_token(out, STOK_LEN);
    while (smap_get(&s->map, out));
    smap_put(&s->map, out, e);
}

enum stok_state stok_check(struct stok_store *s, const char *token,
                           int64_t now_ms, int64_t grace_ms,
                           const struct stok_entry **out)
{
    const struct stok_entry *e = smap_get(&s->map, token);
    if (out)
        *out = e;
    if (!e)
        return STOK_UNKNOWN;
    if (e->superseded_ms && now_ms >= e->superseded_ms + grace_ms)
        return STOK_STALE;
    if (now_ms >= e->expires_ms)
        return STOK_EXPIRED;
    return STOK_OK;
}

void stok_supersede(struct stok_store *s, const char *token, int64_t now_ms)
{
    struct stok_entry *e = smap_get(&s->map, token);
    if (e && !e->superseded_ms)
        e->superseded_ms = now_ms;
}

struct expire_arg {
    const char *owner;
    int64_t now;
    int n;
};

static bool expire_one(const char *key, void *val, void *arg)
{
    (void)key;
    struct stok_entry *e = val;
    struct expire_arg *a = arg;
    if ((!a->owner || !strcmp(a->owner, e->owner)) && e->expires_ms > a->now) {
        e->expires_ms = a->now;
        /* an expired token answers 42001, not 40001 */
        e->superseded_ms = 0;
        a->n++;
    }
    return false;
}

int stok_expire(struct stok_store *s, const char *owner, int64_t now_ms)
{
    struct expire_arg a = {owner, now_ms, 0};
    smap_filter(&s->map, expire_one, &a);
    return a.n;
}
