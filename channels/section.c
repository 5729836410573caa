/* section.c — checking a template's channel section (see section.h). */
#include "section.h"

#include <string.h>

int sec_is_override(const char *section)
{
    return strchr(section, '.') != NULL;
}

static int prefixed(const char *key, const char *const *prefixes)
{
    for (; prefixes && *prefixes; prefixes++) {
        size_t n = strlen(*prefixes);
        if (!strncmp(key, *prefixes, n) && key[n])
            return 1;
    }
    return 0;
}

static int listed(const char *key, const char *const *keys)
{
    for (; keys && *keys; keys++)
        if (!strcmp(key, *keys))
            return 1;
    return 0;
}

int sec_check_keys(const tpl *t, const char *section, const char *const *keys,
                   const char *const *prefixes, const char *hint, cherr *e)
{
    for (size_t i = 0; i < t->ini.n; i++) {
        const inif_entry *en = &t->ini.v[i];
        if (strcmp(en->section, section))
            continue;
        if (!listed(en->key, keys) && !prefixed(en->key, prefixes))
            return err_set(e, "%s:%d: [%s] unknown key '%s' (%s)", t->ini.path, en->line,
                           section, en->key, hint);
    }
    return 0;
}

int sec_has(const tpl *t, const char *section, const char *key)
{
    return inif_find(&t->ini, section, key) != NULL;
}

int sec_count_prefix(const tpl *t, const char *section, const char *prefix)
{
    int n = 0;
    const char *const p[] = {prefix, NULL};
    for (size_t i = 0; i < t->ini.n; i++)
        if (!strcmp(t->ini.v[i].section, section) && prefixed(t->ini.v[i].key, p))
            n++;
    return n;
}
