/* fieldrule.h — what each provider accepts in each field of a rendered message.
 *
 * The rules of providers.md §2.2 (mini-program keyword types), §3 (official-account
 * keywords: 20 characters shown, no line breaks), §4.2-§4.4 (WeCom byte limits) and
 * §5.3 (SMS parameters: per-account length, no URLs; the whole SMS at most 500
 * characters), checked after rendering and before the channel builds a request, so a
 * value that would be refused never leaves the machine.
 *
 * Lengths are Unicode code points — what WeChat and Tencent count ("every character
 * counts as 1"): 王 is 1, é typed as e + U+0301 is 2, 👍🏻 (thumb + skin-tone modifier)
 * is 2. WeCom counts UTF-8 bytes where providers.md says bytes. Invalid UTF-8 is
 * always an error. Prefix fr_. */
#ifndef CHUDA_FIELDRULE_H
#define CHUDA_FIELDRULE_H

#include <stddef.h>

#include "config.h"
#include "err.h"
#include "render.h"

typedef struct fr_limits {
    int sms_param_chars;        /* per SMS template parameter; 0 = unchecked */
    int sms_content_chars;      /* the whole SMS, signature included; 0 = unchecked */
    const char *sms_sign_name;  /* counted as 【name】 in the whole SMS; NULL = unknown */
    const char *sms_provider;   /* "tencent" or "aliyun": only the parameters that
                                   provider is sent are checked; NULL = unknown (all) */
} fr_limits;

/* Defaults: 12 characters per SMS parameter (Tencent, personal-certified account),
 * 500 for the whole SMS, no signature known. */
void fr_limits_default(fr_limits *lim);
/* The defaults, overridden by [channel.sms] param_max_chars (0..1000) and
 * content_max_chars (0..5000), sign_name and provider when the config has them. `lim`
 * borrows strings from `cfg`. */
int fr_limits_load(fr_limits *lim, const config *cfg, cherr *e);

/* One checked value. */
typedef struct fr_verdict {
    size_t index;               /* the render_out entry it came from */
    char field[64];             /* "data.thing1", "param 2", "content", "whole SMS" */
    char *value;                /* the value checked (owned) */
    long length;                /* in `unit`; -1 when the rule has no length */
    long limit;                 /* -1: none */
    const char *unit;           /* "characters" or "bytes" */
    int ok;
    char reason[256];           /* when !ok: "[sms] param 2: 14 characters, limit 12" */
} fr_verdict;

typedef struct fr_report {
    fr_verdict *v;
    size_t n;
} fr_report;

/* Check every value of a rendered channel section. 0 when all pass; -1 with the
 * first failure's reason in `e` ("[mp_subscribe] data.thing1: 21 characters, limit
 * 20"). `rep` (may be NULL) gets a verdict for every value checked, pass or fail. */
int fr_check(const char *channel, const render_out *out, const fr_limits *lim, fr_report *rep,
             cherr *e);

/* Load-time form: out->v[i] is exact when dynamic[i] is 0, else a lower bound of
 * what users get (variables rendered empty): then only maximum lengths are checked,
 * and a failure says "at least N". dynamic may be NULL (all exact). */
int fr_check_bound(const char *channel, const render_out *out, const int *dynamic,
                   const fr_limits *lim, fr_report *rep, cherr *e);

/* Is `key` a field name the channel's rules know? For mp_subscribe a data.KEY must
 * start with a keyword type (thing, number, ..., enum). -1 with the reason. */
int fr_key_check(const char *channel, const char *key, cherr *e);

/* Length helpers (exposed for preview and tests). -1 when not valid UTF-8. */
long fr_chars(const char *s);

void fr_report_free(fr_report *rep);

#endif
