/* channel.h — the interface every provider channel implements (DESIGN.md decision 6).
 *
 * A channel turns one rendered message into one HTTPS request and classifies the
 * reply into an outcome class (providers.md §9). It knows its provider's endpoints,
 * fields, signing and error codes, and nothing about queues, policy or the log.
 * Adding a channel is one file here and one line in channel.c's table.
 *
 * Token-based providers (WeChat, WeCom) also implement token_request/token_parse;
 * token.c caches the token per channel, single-flight, refreshed before expiry. */
#ifndef CHUDA_CHANNEL_H
#define CHUDA_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "err.h"
#include "http.h"
#include "render.h"
#include "store.h"
#include "tpl.h"

typedef enum chan_class {
    CHAN_OK,          /* accepted by the provider */
    CHAN_RETRY,       /* transient: retry with backoff */
    CHAN_REFRESH,     /* credential stale: refresh the token once, resend once */
    CHAN_REFUSED,     /* the user cannot receive this (no credit, unfollowed, blacklisted) */
    CHAN_PERMANENT,   /* the request is wrong: do not retry */
    CHAN_BACKOFF,     /* rate or quota window: wait until `until` */
} chan_class;

typedef struct chan_outcome {
    chan_class cls;
    char code[64];          /* the provider's code as text: "43101", "Ok", "http 503", "curl 28" */
    char reason[256];       /* what happened, for the log; never holds a secret */
    char provider_id[96];   /* the provider's message id on success */
    int64_t until;          /* BACKOFF: end of the window (UTC ms) */
    int recipient;          /* concerns this recipient only (BACKOFF pauses only them:
                               their other messages on the channel wait too; PERMANENT
                               falls back to the next channel) */
    int this_message;       /* BACKOFF: only this message waits, not the recipient (a rule
                               about its kind: marketing SMS hours) */
    int uncertain;          /* no reply; the request may have reached the provider */
} chan_outcome;

typedef struct chan chan;

/* One message, rendered, as a channel sees it. */
typedef struct chan_msg {
    int64_t id;
    int attempt;                /* 1 for the first provider attempt */
    const char *user_id;
    const char *to;             /* the user's address on this channel */
    const render_out *f;        /* the template's channel section, rendered */
} chan_msg;

typedef struct chan_ops {
    const char *name;
    const char *address;        /* store_user field holding the address ("mp_openid") */
    const char *default_base_url;
    int dedup;                  /* the provider drops a resent duplicate (client_msg_id,
                                   enable_duplicate_check): a resend after no reply is safe */
    int credits;                /* a send spends a per (user, template_id) subscription credit
                                   (mp_subscribe); a refusal zeroes it instead of opting out */
    int (*init)(chan *c, const config *cfg, const char *section, cherr *e);
    void (*fini)(chan *c);
    /* load-time check of a template's section for this channel (required keys) */
    int (*check_template)(const tpl *t, const char *section, cherr *e);
    /* token providers only; NULL for stateless signing */
    int token_force;            /* token_request honours `force` (WeChat stable_token's
                                   force_refresh); WeCom's gettoken has no such thing */
    int (*token_request)(chan *c, int force, http_req *req, cherr *e);
    int (*token_parse)(chan *c, const http_resp *r, char *token, size_t toklen, int64_t *ttl_ms,
                       chan_outcome *o);
    /* the send request; `token` is NULL for stateless channels */
    int (*build)(chan *c, const chan_msg *m, const char *token, int64_t now, http_req *req,
                 cherr *e);
    /* classify the reply (transport failures included) */
    void (*parse)(chan *c, const chan_msg *m, const http_resp *r, int64_t now, chan_outcome *o);
    /* Optional (NULL: always go ahead). May this message be sent now? For limits the
     * provider enforces by silently dropping the excess, which no reply would reveal
     * (WeCom: 30 app messages per member per minute, 1000 per hour). Called once per
     * attempt, before the token and the build; a yes is counted as a send. Returns 1 to
     * go ahead, or 0 with `o` set to CHAN_BACKOFF, `until` and `recipient` = 1: the
     * message waits until then, no attempt spent, the channel is not paused. */
    int (*admit)(chan *c, const chan_msg *m, int64_t now, chan_outcome *o);
} chan_ops;

typedef struct chan_token chan_token;   /* token.c */

/* A configured channel instance: its provider settings and its runtime limits. */
struct chan {
    const chan_ops *ops;
    char name[32];
    char *base_url;
    void *priv;                 /* the channel's own settings (appid, secret, ...) */
    int concurrency;            /* requests under way at the provider at most (the
                                   HTTP layer's lane holds them to it) */
    int inflight;               /* requests in hand: built and not yet answered, up to
                                   twice `concurrency` (deliver.c, DLV_IN_HAND) */
    double rate, burst;         /* token bucket: requests per second, bucket size */
    double bucket;              /* tokens available */
    int64_t bucket_at;          /* when `bucket` was last topped up */
    int64_t paused_until;       /* provider backoff for the whole channel */
    int paused_config;          /* ... because of the configuration (TLS): a reload that
                                   may have fixed it does not carry the pause over */
    int credits;                /* track subscription credits ([channel.X] credits = on) */
    int monthly_limit;          /* sends per user per calendar month, China time (0: none) */
    int max_attempts;
    int64_t retry_base, retry_cap;
    long timeout_ms;
    chan_token *token;          /* NULL for stateless channels */
    int force_daily;            /* forced token refreshes per China day (token_force) */
};

const chan_ops *chan_ops_find(const char *name);
/* Names of all channels, NULL-terminated (for help and validation). */
const char *const *chan_names(void);

/* Open the channel configured in [channel.NAME] (generic keys, then ops->init). */
int chan_open(chan **out, const chan_ops *ops, const config *cfg, cherr *e);
void chan_close(chan *c);

const char *chan_class_name(chan_class k);

/* Token bucket: may one more request start at `now`? Takes a token if so; else sets
 * *wait_ms to the time until one is available. */
int chan_rate_take(chan *c, int64_t now, int64_t *wait_ms);
/* Give back a token taken for a request that did not start. */
void chan_rate_refund(chan *c);

/* The retry delay before attempt `attempt` (>= 2): base * 2^(attempt-2), capped,
 * with +-20% jitter from `rnd` in [0,1). */
int64_t chan_retry_delay(const chan *c, int attempt, double rnd);

/* Shared by the channels: classify a transport failure or a non-2xx HTTP status.
 * Returns 1 when it filled `o` (the reply is not the provider's JSON). */
int chan_transport_outcome(const http_resp *r, chan_outcome *o);
void chan_outcome_set(chan_outcome *o, chan_class k, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The JSON body written in `w` (buf.h) as req->body and body_len. Returns 0, or -1 with
 * `e` set to `bad_utf8` when a key or value was not valid UTF-8, else to "out of memory"
 * (w's buffer is released either way). */
int chan_json_body(buf_jw *w, http_req *req, const char *bad_utf8, cherr *e);

/* A message's address on this channel, or NULL when the user has none. */
const char *chan_address(const chan_ops *ops, const store_user *u);

#endif
