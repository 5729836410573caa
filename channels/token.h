/* token.h — access-token cache for token-based providers (WeChat, WeCom).
 *
 * One token per channel instance (per appid, per corp + app). One refresh in flight
 * at a time: callers arriving meanwhile wait for it. The token is refreshed in the
 * background once it has less than 5 minutes left, and on demand after a business
 * call answers "token invalid" (token_invalidate). A stable_token refresh that
 * returns the very token that was just rejected is repeated once with force_refresh
 * (chan_ops.token_force; at most every 30 s and [channel.X] force_refresh_daily times
 * a China day, default 20); when the forced call fails, the token the normal call
 * returned is used — the force quota never pauses the channel. A failing token
 * endpoint is not hammered: the next attempt waits out a growing delay, or the
 * provider's quota window. */
#ifndef CHUDA_TOKEN_H
#define CHUDA_TOKEN_H

#include <stdint.h>

#include "channel.h"

/* stable_token's forced refreshes (providers.md §1.2): at most `daily` per China day
 * and at least 30 s apart. */
typedef struct token_force {
    int64_t last;               /* the last forced refresh (0: none) */
    int64_t day;                /* China day number `count` is about */
    int count;
} token_force;

#define TOKEN_FORCE_SPACING_MS (30 * 1000)

/* May a forced refresh start at `now`, `daily` being the day's quota? Counts it if so. */
int token_force_take(token_force *f, int daily, int64_t now);

/* Called once: with the token, or with `token` NULL and the failure in `fail`. */
typedef void (*token_cb)(void *arg, const char *token, const chan_outcome *fail);

chan_token *token_new(void);
void token_free(chan_token *t);

void token_get(chan *c, http *h, int64_t now, token_cb cb, void *arg);
/* `bad` was rejected by the provider; forget it unless a newer one is already cached. */
void token_invalidate(chan *c, const char *bad);
/* Refreshes performed (for metrics and tests). */
long token_refreshes(const chan *c);
/* Is a refresh out (its reply will come back to the channel's token)? A background
 * refresh has no waiter: the channel must outlive it. */
int token_refreshing(const chan *c);

#endif
