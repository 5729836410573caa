/* tpl.c — loading and checking copy templates (see tpl.h). */
#include "tpl.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "render.h"

int tpl_class_valid(const char *k)
{
    return k && (!strcmp(k, "transactional") || !strcmp(k, "lifecycle") ||
                 !strcmp(k, "marketing"));
}

void tpl_free(tpl *t)
{
    free(t->name);
    free(t->klass);
    for (char **v = t->vars; v && *v; v++)
        free(*v);
    free(t->vars);
    inif_free(&t->ini);
    memset(t, 0, sizeof *t);
}

/* Split "a, b ,c" into a NULL-terminated array of trimmed names. */
static char **split_list(const char *s)
{
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    char **v = calloc(n + 1, sizeof *v);
    if (!v)
        return NULL;
    size_t k = 0;
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *q = p;
        while (*q && *q != ',')
            q++;
        const char *end = q;
        while (end > p && end[-1] == ' ')
            end--;
        if (end > p)
            v[k++] = strndup(p, (size_t)(end - p));
        p = q;
    }
    return v;
}

/* Is `section` one a template may have? [template], [copy], [copy.tier.X],
 * [copy.segment.X], [variant.X], a channel name, or CHANNEL.tier.X / CHANNEL.segment.X. */
static int section_known(const char *sec)
{
    if (!strcmp(sec, "template") || !strcmp(sec, "copy") || !strncmp(sec, "variant.", 8))
        return 1;
    char base[64];
    const char *dot = strchr(sec, '.');
    size_t bl = dot ? (size_t)(dot - sec) : strlen(sec);
    if (bl >= sizeof base)
        return 0;
    memcpy(base, sec, bl);
    base[bl] = '\0';
    if (dot && strncmp(dot, ".tier.", 6) && strncmp(dot, ".segment.", 9))
        return 0;
    if (dot && !dot[dot[1] == 't' ? 6 : 9])
        return 0;
    return !strcmp(base, "copy") || chan_ops_find(base) != NULL;
}

static int check(tpl *t, cherr *e)
{
    const char *path = t->ini.path;
    const inif_entry *cls = inif_find(&t->ini, "template", "class");
    if (!cls)
        return err_set(e, "%s: [template] class is missing (transactional, lifecycle or "
                          "marketing)", path);
    if (!tpl_class_valid(cls->value))
        return err_set(e, "%s:%d: class '%s' is not transactional, lifecycle or marketing", path,
                       cls->line, cls->value);
    t->klass = strdup(cls->value);
    const inif_entry *vars = inif_find(&t->ini, "template", "vars");
    t->vars = split_list(vars ? vars->value : "");
    int channels = 0;
    for (size_t i = 0; i < t->ini.n; i++) {
        const inif_entry *en = &t->ini.v[i];
        if (!section_known(en->section))
            return err_set(e, "%s:%d: unknown section [%s]", path, en->line, en->section);
        if (!strcmp(en->section, "template") && strcmp(en->key, "class") &&
            strcmp(en->key, "vars") && strncmp(en->key, "default.", 8) &&
            strcmp(en->key, "holdout") && strcmp(en->key, "description"))
            return err_set(e, "%s:%d: unknown key '%s' in [template]", path, en->line, en->key);
        if (render_check(en->value, e) < 0)
            return err_prefix(e, "%s:%d: %s: ", path, en->line, en->key);
        if (chan_ops_find(en->section))
            channels++;
    }
    if (!channels)
        return err_set(e, "%s: no channel section ([mp_subscribe], [oa_template], [sms], [wecom] "
                          "or [wecom_robot])", path);
    /* each channel section must satisfy its channel's required keys */
    for (size_t i = 0; i < t->ini.n; i++) {
        const chan_ops *ops = chan_ops_find(t->ini.v[i].section);
        if (ops && ops->check_template && (i == 0 || strcmp(t->ini.v[i - 1].section,
                                                            t->ini.v[i].section)))
            if (ops->check_template(t, t->ini.v[i].section, e) < 0)
                return -1;
    }
    return 0;
}

static int finish(tpl *t, const char *name, cherr *e)
{
    size_t len = strlen(name);
    if (len > 4 && !strcmp(name + len - 4, ".ini"))
        len -= 4;
    t->name = strndup(name, len);
    if (check(t, e) < 0) {
        tpl_free(t);
        return -1;
    }
    return 0;
}

int tpl_parse(tpl *t, const char *name, const char *text, cherr *e)
{
    memset(t, 0, sizeof *t);
    if (inif_load_string(&t->ini, name, text, e) < 0)
        return -1;
    return finish(t, name, e);
}

int tpl_load_file(tpl *t, const char *path, cherr *e)
{
    memset(t, 0, sizeof *t);
    if (inif_load(&t->ini, path, e) < 0)
        return -1;
    const char *base = strrchr(path, '/');
    return finish(t, base ? base + 1 : path, e);
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(tpl *const *)a)->name, (*(tpl *const *)b)->name);
}

int tpl_set_load(tpl_set *s, const char *dir, cherr *e)
{
    memset(s, 0, sizeof *s);
    DIR *d = opendir(dir);
    if (!d)
        return err_set(e, "templates directory %s: %m", dir);
    struct dirent *de;
    size_t cap = 0;
    int rc = 0;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".ini") || de->d_name[0] == '.')
            continue;
        char *path;
        if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
            rc = err_set(e, "out of memory");
            break;
        }
        tpl *t = calloc(1, sizeof *t);
        if (!t || tpl_load_file(t, path, e) < 0) {
            free(t);
            free(path);
            rc = -1;
            break;
        }
        free(path);
        if (s->n == cap) {
            cap = cap ? cap * 2 : 16;
            tpl **v = realloc(s->v, cap * sizeof *v);
            if (!v) {
                tpl_free(t);
                free(t);
                rc = err_set(e, "out of memory");
                break;
            }
            s->v = v;
        }
        s->v[s->n++] = t;
    }
    closedir(d);
    if (rc < 0) {
        tpl_set_free(s);
        return -1;
    }
    if (s->n)
        qsort(s->v, s->n, sizeof *s->v, by_name);
    return 0;
}

void tpl_set_free(tpl_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        tpl_free(s->v[i]);
        free(s->v[i]);
    }
    free(s->v);
    memset(s, 0, sizeof *s);
}

const tpl *tpl_find(const tpl_set *s, const char *name)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(name, s->v[mid]->name);
        if (!c)
            return s->v[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

int tpl_has_section(const tpl *t, const char *section)
{
    for (size_t i = 0; i < t->ini.n; i++)
        if (!strcmp(t->ini.v[i].section, section))
            return 1;
    return 0;
}
