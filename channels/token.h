/* token.h — access-token cache for token-based providers (WeChat, WeCom).
 *
 * One token per channel instance (per appid, per corp + app). One refresh in flight
 * at a time: callers arriving meanwhile wait for it. The token is refreshed in the
 * background once it has less than 5 minutes left, and on demand after a business
 * call answers "token invalid" (token_invalidate). A stable_token refresh that
 * returns the very token that was just rejected is repeated once with
 * force_refresh (at most every 30 s). A failing token endpoint is not hammered: the
 * next attempt waits out a growing delay, or the provider's quota window. */
#ifndef CHUDA_TOKEN_H
#define CHUDA_TOKEN_H

#include <stdint.h>

#include "channel.h"

/* Called once: with the token, or with `token` NULL and the failure in `fail`. */
typedef void (*token_cb)(void *arg, const char *token, const chan_outcome *fail);

chan_token *token_new(void);
void token_free(chan_token *t);

void token_get(chan *c, http *h, int64_t now, token_cb cb, void *arg);
/* `bad` was rejected by the provider; forget it unless a newer one is already cached. */
void token_invalidate(chan *c, const char *bad);
/* Refreshes performed (for metrics and tests). */
long token_refreshes(const chan *c);

#endif
