/* render.h — filling a template's {{placeholders}} for one user and one message.
 *
 * {{name}} takes, in order: the message's variables, the user's attributes (extra
 * CSV columns), the user's own fields (user_id, tier, segment), a [copy] key (itself
 * rendered), the template's [template] default.name, and finally an inline default
 * written {{name|default}}. Anything else is a missing variable: an error, never an
 * empty string. Sections specialised by tier or segment ([copy.tier.dormant],
 * [sms.segment.vip]) override the base section key by key: segment, then tier, then
 * the base. */
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
} render_ctx;

typedef struct render_field {
    char *key;
    char *value;
    int line;                   /* template line the key came from */
} render_field;

typedef struct render_out {
    render_field *v;
    size_t n;
} render_out;

/* Syntax only: every {{ closed, names non-empty. */
int render_check(const char *src, cherr *e);
int render_string(const render_ctx *c, const char *src, buf *out, cherr *e);
/* Render every key of a channel's section (with its tier/segment overrides). */
int render_channel(const render_ctx *c, const char *channel, render_out *out, cherr *e);
const char *render_get(const render_out *o, const char *key);
void render_out_free(render_out *o);

#endif
