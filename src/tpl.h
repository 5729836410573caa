/* tpl.h — copy templates: one INI file per template in the templates directory.
 *
 *   [template]            class = transactional|lifecycle|marketing, vars = a, b,
 *                         default.NAME = ..., holdout = 5%, description = ...
 *   [copy]                wording keys, usable as {{key}} in the channel sections
 *   [copy.tier.T] [copy.segment.S]       key-by-key overrides (render.h)
 *   [mp_subscribe] ...    one section per channel the template can go out on, each
 *                         with its own .tier.T / .segment.S overrides
 *   [variant.NAME]        an A/B variant: weight = N, plus copy keys it overrides
 *   [variant.NAME.CHANNEL] channel keys it overrides (e.g. another template_id)
 *
 * A template set is loaded all or nothing: one bad file fails the load with
 * "file:line: reason", and a running daemon keeps its last good set. Loading checks
 * syntax, filters, and every value against its channel's field rules (fieldrule.h):
 * a literal value must pass them, and a value with variables must fit even when the
 * variables are empty — for every tier, segment and variant the file mentions.
 *
 * Variant and holdout assignment is deterministic per (template, user): SHA-256 of
 * the two names, first 8 bytes as a big-endian integer, taken modulo the total
 * weight (variants) or 10000 (holdout, in basis points). The two hashes use
 * different prefixes, so being held out says nothing about one's variant. */
#ifndef CHUDA_TPL_H
#define CHUDA_TPL_H

#include <stddef.h>

#include "err.h"
#include "inifile.h"

typedef struct tpl_variant {
    char *name;
    unsigned weight;
    int line;                   /* of its weight key */
} tpl_variant;

typedef struct tpl {
    char *name;                 /* file name without .ini */
    char *klass;                /* transactional, lifecycle, marketing */
    char **vars;                /* required variables, NULL-terminated */
    inif ini;                   /* every section and key, with line numbers */
    tpl_variant *variants;      /* in file order */
    size_t nvariants;
    unsigned total_weight;
    int holdout_bp;             /* holdout share in basis points (500 = 5%) */
} tpl;

typedef struct tpl_set {
    tpl **v;
    size_t n;
} tpl_set;

int tpl_set_load(tpl_set *s, const char *dir, cherr *e);
void tpl_set_free(tpl_set *s);
const tpl *tpl_find(const tpl_set *s, const char *name);

/* Parse one template from text (tests, fuzzing). `name` as in a file name. */
int tpl_parse(tpl *t, const char *name, const char *text, cherr *e);
int tpl_load_file(tpl *t, const char *path, cherr *e);
void tpl_free(tpl *t);

/* Does the template have a section for this channel? */
int tpl_has_section(const tpl *t, const char *section);

/* Is this a known class name? */
int tpl_class_valid(const char *klass);

/* The A/B variant of this user (a name from [variant.NAME]), the same on every call;
 * NULL when the template has no variants (or all weigh 0). */
const char *tpl_variant_for(const tpl *t, const char *user_id);
/* Is this user in the template's holdout (control) group? 0 when there is none. */
int tpl_in_holdout(const tpl *t, const char *user_id);
/* Parse a share: "5%", "2.5%", "0%" (the % is required) -> basis points. */
int tpl_parse_share(const char *s, int *bp);

#endif
