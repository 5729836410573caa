/* render.h — filling a template's {{placeholders}} for one user and one message.
 *
 * {{name}} takes, in order: the message's variables, the user's attributes (extra
 * CSV columns), the user's own fields (user_id, tier, segment), a copy key (itself
 * rendered), the template's [template] default.name, and finally an inline default
 * written {{name|default}}. Anything else is a missing variable: an error, never an
 * empty string.
 *
 * Copy keys and channel keys are looked up most specific first: the user's A/B
 * variant ([variant.NAME] for copy, [variant.NAME.CHANNEL] for a channel section),
 * then [SECTION.segment.S], then [SECTION.tier.T], then the base section. Each
 * override replaces single keys, never a whole section.
 *
 * Filters follow the name, each after a '|', applied left to right to the value:
 *   {{due|time:%m月%d日 %H:%M}}  an instant (ISO 8601 with offset, or epoch seconds /
 *                               milliseconds) as wall time in the user's zone (ctx.tz)
 *   {{amount|yuan}}             an integer amount in fen as "¥12.50"
 *   {{product|trunc:10}}        at most 10 characters, cut between graphemes, "…" last
 *   {{name|朋友}}                an inline default: the first segment when it is not a
 *                               filter, or anywhere as default:TEXT. It is used as
 *                               written when the variable is missing (no filter runs).
 * An unknown filter, or a bad argument, is an error at load time (render_check). */
#ifndef CHUDA_RENDER_H
#define CHUDA_RENDER_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"
#include "tpl.h"

typedef struct render_ctx {
    const tpl *t;
    json_t *vars;               /* message variables (object) or NULL */
    json_t *attrs;              /* user attributes (object) or NULL */
    const char *user_id, *tier, *segment;
    const char *variant;        /* A/B variant: NULL = assign from user_id
                                   (tpl_variant_for), "" = none (base copy) */
    const char *tz;             /* IANA zone for |time: the user's, else the configured
                                   default_tz; NULL = UTC */
} render_ctx;

typedef struct render_field {
    char *key;
    char *value;
    int line;                   /* template line the key came from */
    int split;                  /* [sms] params, a list whose items the template's own
                                   ASCII commas separate: the item (1-based) where a
                                   placeholder rendered a comma, which would split it in
                                   two; 0: none (fieldrule.c refuses it) */
    char *split_by;             /* that placeholder's name (owned), else NULL */
} render_field;

typedef struct render_out {
    render_field *v;
    size_t n;
} render_out;

/* Syntax only: every {{ closed, names non-empty, every filter known with a valid
 * argument. Errors say what is wrong ("unknown filter 'yaun'"); the caller adds
 * file:line. */
int render_check(const char *src, cherr *e);
int render_string(const render_ctx *c, const char *src, buf *out, cherr *e);
/* Render every key of a channel's section (with its variant/tier/segment overrides). */
int render_channel(const render_ctx *c, const char *channel, render_out *out, cherr *e);
/* Render one key of a channel's section, overrides applied, appended to `out`: 1, or 0
 * when the section has no such key, or -1 (e set, naming file, line and key). */
int render_key(const render_ctx *c, const char *channel, const char *key, buf *out, cherr *e);
const char *render_get(const render_out *o, const char *key);
void render_out_free(render_out *o);

/* The variant render uses for `c` (NULL when none). */
const char *render_variant(const render_ctx *c);

/* Value-sensitive filters: what a variable's value must be for them to succeed. */
#define RENDER_F_TIME 1u        /* |time, |date: an instant */
#define RENDER_F_YUAN 2u        /* |yuan: an integer amount in fen */

/* Every placeholder name in the template's values (every section: copy keys, channel
 * sections, overrides, variants, defaults), each once, in file order, with the
 * value-sensitive filters it is used with anywhere (RENDER_F_*). Stops at the first
 * callback that returns non-zero and returns that. */
typedef int (*render_name_fn)(const char *name, unsigned filters, void *arg);
int render_names(const tpl *t, render_name_fn fn, void *arg);

/* Would variable `name` = `value` pass the filters `filters` (RENDER_F_*)? 0, or -1
 * with e set ("due: time: 'x' is not an ISO 8601 time..."). */
int render_value_check(const char *name, const char *value, unsigned filters, cherr *e);

/* Load-time helper: render a channel section as short as it can ever be. Every
 * variable (message var, attribute, user field) renders empty, so only the literal
 * text and the copy keys remain. `dynamic` (parallel to out->v, caller frees) says
 * which values depended on a variable: the others are exactly what every user gets.
 * `origin` gets, per value, the line of the copy key that supplied most of it (or
 * the channel key's own line). */
int render_channel_min(const render_ctx *c, const char *channel, render_out *out, int **dynamic,
                       int **origin, cherr *e);

#endif
