/* policy.h — who is touched, when, and through which channel (DESIGN.md decision 5).
 *
 * policy_decide() is a pure function of (message, user, template, channel state, now,
 * config): no I/O, the clock is passed in. It answers send via channel X, defer until
 * T (reason), suppress (reason) or expired. Every reason is a sentence an auditor can
 * read, with the figures behind it. The rules are applied in one fixed order, each in
 * its own function below policy_decide in policy.c. */
#ifndef CHUDA_POLICY_H
#define CHUDA_POLICY_H

#include <stdint.h>

#include "config.h"
#include "err.h"
#include "store.h"
#include "tpl.h"

#define POLICY_MAX_CHANNELS 8

typedef struct policy_tier {
    char name[32];
    char channels[POLICY_MAX_CHANNELS][32];
    int nchannels;
} policy_tier;

typedef struct policy {
    policy_tier *tiers;
    int ntiers;
} policy;

/* What the scheduler knows about each channel at decision time. */
typedef struct policy_chan {
    const char *name;
    int configured;             /* a [channel.NAME] section opened it */
    int64_t paused_until;       /* provider backoff */
} policy_chan;

typedef struct policy_input {
    const store_msg *m;
    const store_user *u;
    const tpl *t;
    const policy_chan *chans;
    int nchans;
    int64_t now;
} policy_input;

typedef enum policy_verdict {
    POLICY_SEND,
    POLICY_DEFER,
    POLICY_SUPPRESS,
    POLICY_EXPIRE,
} policy_verdict;

typedef struct policy_decision {
    policy_verdict verdict;
    char channel[32];           /* SEND */
    int64_t until;              /* DEFER */
    char code[32];              /* short reason: no_channel, paused, expired, ... */
    char reason[512];           /* the sentence for the log */
} policy_decision;

/* Tiers from [tier.NAME], the shipped defaults for tiers not configured. */
int policy_load(policy *p, const config *cfg, cherr *e);
void policy_free(policy *p);
const policy_tier *policy_tier_find(const policy *p, const char *name);
/* Comma-separated tier names, for error messages. */
void policy_tier_names(const policy *p, char *out, size_t len);

void policy_decide(const policy *p, const policy_input *in, policy_decision *d);

/* Is `channel` in the comma-separated list `list`? */
int policy_in_list(const char *list, const char *channel);

#endif
