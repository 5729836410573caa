/* render.c — placeholder expansion and section overrides (see render.h). */
#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 8   /* copy keys may refer to copy keys, this deep */

int render_check(const char *src, cherr *e)
{
    const char *p = src;
    while ((p = strstr(p, "{{"))) {
        const char *end = strstr(p + 2, "}}");
        if (!end)
            return err_set(e, "unclosed '{{'");
        const char *q = p + 2;
        while (q < end && *q == ' ')
            q++;
        if (q == end || *q == '|')
            return err_set(e, "empty placeholder '{{}}'");
        for (const char *r = p + 2; r < end; r++)
            if (r[0] == '{' && r[1] == '{')
                return err_set(e, "'{{' inside a placeholder");
        p = end + 2;
    }
    return 0;
}

/* Value of `key` in `section`, with [section.segment.S] and [section.tier.T] first. */
static const inif_entry *lookup_section(const render_ctx *c, const char *section, const char *key)
{
    char name[160];
    const inif_entry *en;
    if (c->segment && *c->segment) {
        snprintf(name, sizeof name, "%s.segment.%s", section, c->segment);
        if ((en = inif_find(&c->t->ini, name, key)))
            return en;
    }
    if (c->tier && *c->tier) {
        snprintf(name, sizeof name, "%s.tier.%s", section, c->tier);
        if ((en = inif_find(&c->t->ini, name, key)))
            return en;
    }
    return inif_find(&c->t->ini, section, key);
}

static int expand(const render_ctx *c, const char *src, buf *out, int depth, cherr *e);

static int json_value(json_t *obj, const char *name, buf *out)
{
    json_t *v = obj ? json_object_get(obj, name) : NULL;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v))
        buf_add(out, json_string_value(v), json_string_length(v));
    else if (json_is_integer(v))
        buf_printf(out, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        buf_printf(out, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        buf_puts(out, json_is_true(v) ? "true" : "false");
    else
        return 0;
    return 1;
}

static int resolve(const render_ctx *c, const char *name, const char *dflt, buf *out, int depth,
                   cherr *e)
{
    if (json_value(c->vars, name, out) || json_value(c->attrs, name, out))
        return 0;
    if (!strcmp(name, "user_id") && c->user_id)
        return buf_puts(out, c->user_id);
    if (!strcmp(name, "tier") && c->tier)
        return buf_puts(out, c->tier);
    if (!strcmp(name, "segment") && c->segment)
        return buf_puts(out, c->segment);
    const inif_entry *en = lookup_section(c, "copy", name);
    if (en) {
        if (depth >= MAX_DEPTH)
            return err_set(e, "copy key '%s' refers to itself (or nests deeper than %d)", name,
                           MAX_DEPTH);
        return expand(c, en->value, out, depth + 1, e);
    }
    char dkey[160];
    snprintf(dkey, sizeof dkey, "default.%s", name);
    if ((en = inif_find(&c->t->ini, "template", dkey)))
        return expand(c, en->value, out, depth + 1, e);
    if (dflt)
        return buf_puts(out, dflt);
    return err_set(e, "missing variable '%s'", name);
}

static int expand(const render_ctx *c, const char *src, buf *out, int depth, cherr *e)
{
    const char *p = src;
    for (;;) {
        const char *open = strstr(p, "{{");
        if (!open)
            return buf_puts(out, p);
        buf_add(out, p, (size_t)(open - p));
        const char *close = strstr(open + 2, "}}");
        if (!close)
            return err_set(e, "unclosed '{{'");
        char inner[256];
        size_t il = (size_t)(close - open - 2);
        if (il >= sizeof inner)
            return err_set(e, "placeholder longer than %zu bytes", sizeof inner - 1);
        memcpy(inner, open + 2, il);
        inner[il] = '\0';
        char *bar = strchr(inner, '|');
        const char *dflt = NULL;
        if (bar) {
            *bar = '\0';
            dflt = bar + 1;
        }
        /* trim the name */
        char *name = inner;
        while (*name == ' ')
            name++;
        char *end = name + strlen(name);
        while (end > name && end[-1] == ' ')
            *--end = '\0';
        if (!*name)
            return err_set(e, "empty placeholder");
        if (resolve(c, name, dflt, out, depth, e) < 0)
            return -1;
        p = close + 2;
    }
}

int render_string(const render_ctx *c, const char *src, buf *out, cherr *e)
{
    return expand(c, src, out, 0, e);
}

static int add_field(render_out *o, const char *key, char *value, int line)
{
    render_field *v = realloc(o->v, (o->n + 1) * sizeof *v);
    if (!v)
        return -1;
    o->v = v;
    o->v[o->n].key = strdup(key);
    o->v[o->n].value = value;
    o->v[o->n].line = line;
    o->n++;
    return 0;
}

int render_channel(const render_ctx *c, const char *channel, render_out *out, cherr *e)
{
    memset(out, 0, sizeof *out);
    char seg[160] = "", tier[160] = "";
    if (c->segment && *c->segment)
        snprintf(seg, sizeof seg, "%s.segment.%s", channel, c->segment);
    if (c->tier && *c->tier)
        snprintf(tier, sizeof tier, "%s.tier.%s", channel, c->tier);
    /* every key of the base and override sections, once, in file order */
    for (size_t i = 0; i < c->t->ini.n; i++) {
        const inif_entry *en = &c->t->ini.v[i];
        if (strcmp(en->section, channel) && strcmp(en->section, seg) && strcmp(en->section, tier))
            continue;
        if (render_get(out, en->key))
            continue;
        const inif_entry *use = lookup_section(c, channel, en->key);
        buf b = {0};
        if (render_string(c, use->value, &b, e) < 0) {
            buf_free(&b);
            err_prefix(e, "%s:%d: [%s] %s: ", c->t->ini.path, use->line, use->section, use->key);
            render_out_free(out);
            return -1;
        }
        if (add_field(out, en->key, buf_take(&b), use->line) < 0) {
            render_out_free(out);
            return err_set(e, "out of memory");
        }
    }
    return 0;
}

const char *render_get(const render_out *o, const char *key)
{
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(o->v[i].key, key))
            return o->v[i].value;
    return NULL;
}

void render_out_free(render_out *o)
{
    for (size_t i = 0; i < o->n; i++) {
        free(o->v[i].key);
        free(o->v[i].value);
    }
    free(o->v);
    memset(o, 0, sizeof *o);
}
