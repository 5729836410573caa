/* tpl.h — copy templates: one INI file per template in the templates directory.
 *
 *   [template]            class = transactional|lifecycle|marketing, vars = a, b
 *   [copy]                wording keys, usable as {{key}} in the channel sections
 *   [mp_subscribe] ...    one section per channel the template can go out on
 *
 * A template set is loaded all or nothing: one bad file fails the load with
 * "file:line: reason", and a running daemon keeps its last good set. */
#ifndef CHUDA_TPL_H
#define CHUDA_TPL_H

#include <stddef.h>

#include "err.h"
#include "inifile.h"

typedef struct tpl {
    char *name;                 /* file name without .ini */
    char *klass;                /* transactional, lifecycle, marketing */
    char **vars;                /* required variables, NULL-terminated */
    inif ini;                   /* every section and key, with line numbers */
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

#endif
