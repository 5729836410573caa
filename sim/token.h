/* token.h - opaque access tokens with an owner, an expiry and a
 * "superseded at" time (the old token of a rotation stays valid for a grace
 * period).  Not thread-safe: the owner module holds its lock.
 * Prefix stok_. */
#ifndef SIM_TOKEN_H
#define SIM_TOKEN_H

#include <stdint.h>

#include "map.h"

#define STOK_LEN 97          /* 96 characters + NUL */

enum stok_state {
    STOK_OK,
    STOK_UNKNOWN,            /* never issued here */
    STOK_EXPIRED,            /* past its expiry */
    STOK_STALE               /* superseded longer than the grace period */
};

struct stok_entry {
    char owner[128];         /* appid / corpid */
    int kind;                /* caller-defined (stable, classic, ...) */
    int64_t expires_ms;
    int64_t superseded_ms;   /* 0 while current */
};

struct stok_store {
    struct smap map;         /* token -> struct stok_entry */
};

void stok_init(struct stok_store *s);
void stok_free(struct stok_store *s);
/* Issue a new token into out[STOK_LEN]. */
void stok_issue(struct stok_store *s, const char *owner, int kind,
                int64_t now_ms, int64_t ttl_ms, char out[STOK_LEN]);
enum stok_state stok_check(struct stok_store *s, const char *token,
                           int64_t now_ms, int64_t grace_ms,
                           const struct stok_entry **e);
/* Mark token superseded now; it stays valid for the grace period, but
 * never beyond its own expiry. */
void stok_supersede(struct stok_store *s, const char *token, int64_t now_ms);
/* Expire every token of owner (NULL = all) now.  Returns how many. */
int stok_expire(struct stok_store *s, const char *owner, int64_t now_ms);

#endif
