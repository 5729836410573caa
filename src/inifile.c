/* inifile.c — libinih with line numbers, joined continuations and a line-length check. */
#include "inifile.h"

#include <ini.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixstr.h"

/* What the reader and the handler share while one file is parsed. */
typedef struct parse_state {
    inif *f;
    FILE *fp;           /* file input, or NULL for string input */
    const char *s;      /* string input cursor */
    int line;           /* line most recently handed to inih */
    int too_long;       /* line number of an over-long line, 0 if none */
    int indented;       /* the current line starts with white space (a continuation) */
    char last_section[200], last_key[200];
    int last_line;
    cherr *e;
} parse_state;

/* inih's INI_MAX_LINE on Debian 12 is 200 bytes including the NUL. */
#define LINE_MAX_BYTES 199

static char *reader(char *buf, int num, void *stream)
{
    parse_state *st = stream;
    char tmp[8192];
    size_t len = 0;
    if (st->fp) {
        if (!fgets(tmp, sizeof tmp, st->fp))
            return NULL;
        len = strlen(tmp);
        /* swallow the rest of a very long line so it is not read as new lines */
        if (len == sizeof tmp - 1 && tmp[len - 1] != '\n') {
            int c;
            while ((c = fgetc(st->fp)) != EOF && c != '\n')
                len++;
        }
    } else {
        if (!*st->s)
            return NULL;
        const char *nl = strchr(st->s, '\n');
        size_t n = nl ? (size_t)(nl - st->s + 1) : strlen(st->s);
        len = n;
        size_t c = n < sizeof tmp - 1 ? n : sizeof tmp - 1;
        memcpy(tmp, st->s, c);
        tmp[c] = '\0';
        st->s += n;
    }
    st->line++;
    st->indented = tmp[0] == ' ' || tmp[0] == '\t';
    /* a line longer than tmp was cut (and the rest swallowed): look only at what is in tmp */
    size_t body = len < sizeof tmp - 1 ? len : sizeof tmp - 1;
    while (body && (tmp[body - 1] == '\n' || tmp[body - 1] == '\r'))
        body--;
    if ((body > LINE_MAX_BYTES || len >= sizeof tmp - 1) && !st->too_long)
        st->too_long = st->line;
    /* inih strips the line end itself: the whole buffer is for the line (199 bytes) */
    if (body > (size_t)num - 1)
        body = (size_t)num - 1;
    memcpy(buf, tmp, body);
    buf[body] = '\0';
    return buf;
}

/* Replace the two-character escape "\n" with a newline, in place. */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] == 'n') {
            *w++ = '\n';
            r++;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

static void index_more(inif *f);

static int handler(void *user, const char *section, const char *key, const char *value)
{
    parse_state *st = user;
    inif *f = st->f;
    /* inih calls again with the same key for an indented continuation line */
    if (f->n && st->indented && st->last_line && !strcmp(st->last_section, section) && !strcmp(st->last_key, key) &&
        st->line > st->last_line) {
        inif_entry *prev = &f->v[f->n - 1];
        char *joined;
        if (asprintf(&joined, "%s%s", prev->value, value) < 0)
            return 0;
        unescape(joined);
        free(prev->value);
        prev->value = joined;
        st->last_line = st->line;   /* errors about the value name the key's line */
        return 1;
    }
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 32;
        inif_entry *v = realloc(f->v, cap * sizeof *v);
        if (!v)
            return 0;
        f->v = v;
        f->cap = cap;
    }
    inif_entry *en = &f->v[f->n];
    en->section = strdup(section);
    en->key = strdup(key);
    en->value = strdup(value);
    en->line = st->line;
    en->sec = -1;
    if (!en->section || !en->key || !en->value) {
        free(en->section), free(en->key), free(en->value);
        return 0;
    }
    unescape(en->value);
    f->n++;
    fs_copy(st->last_section, sizeof st->last_section, section);
    fs_copy(st->last_key, sizeof st->last_key, key);
    st->last_line = st->line;
    return 1;
}

static int run(inif *f, parse_state *st, const char *name, cherr *e)
{
    int rc = ini_parse_stream(reader, st, handler, st);
    if (st->too_long)
        return err_set(e, "%s:%d: line longer than %d bytes; continue the value on an indented "
                          "next line", name, st->too_long, LINE_MAX_BYTES);
    if (rc > 0)
        return err_set(e, "%s:%d: not an INI line (expected [section], key = value, or a comment)",
                       name, rc);
    if (rc < 0)
        return err_set(e, "%s: cannot parse (out of memory)", name);
    index_more(f);
    return 0;
}

/* ---- the index ------------------------------------------------------------------ */

static uint64_t hash2(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = a; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (const char *p = b ? b : ""; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

/* Section number of `name`, or -1. */
static int sec_find(const inif_index *x, const char *name)
{
    if (!x->nsec_slot)
        return -1;
    for (size_t i = hash2(name, NULL) % x->nsec_slot;; i = (i + 1) % x->nsec_slot) {
        size_t v = x->sec_slot[i];
        if (!v)
            return -1;
        if (!strcmp(x->secs[v - 1], name))
            return (int)(v - 1);
    }
}

/* Section number of `name`, adding it; -1 when out of memory. */
static int sec_add(inif_index *x, const char *name)
{
    int k = sec_find(x, name);
    if (k >= 0)
        return k;
    if ((x->nsecs + 1) * 2 > x->nsec_slot) {         /* grow: rehash every name */
        size_t ns = x->nsec_slot ? x->nsec_slot * 2 : 16;
        size_t *slot = calloc(ns, sizeof *slot);
        if (!slot)
            return -1;
        for (size_t j = 0; j < x->nsecs; j++) {
            size_t i = hash2(x->secs[j], NULL) % ns;
            while (slot[i])
                i = (i + 1) % ns;
            slot[i] = j + 1;
        }
        free(x->sec_slot);
        x->sec_slot = slot;
        x->nsec_slot = ns;
    }
    char **secs = realloc(x->secs, (x->nsecs + 1) * sizeof *secs);
    if (!secs)
        return -1;
    x->secs = secs;
    if (!(x->secs[x->nsecs] = strdup(name)))
        return -1;
    size_t i = hash2(name, NULL) % x->nsec_slot;
    while (x->sec_slot[i])
        i = (i + 1) % x->nsec_slot;
    x->sec_slot[i] = x->nsecs + 1;
    return (int)x->nsecs++;
}

static void slot_put(inif *f, size_t idx)
{
    inif_index *x = &f->ix;
    const inif_entry *en = &f->v[idx];
    for (size_t i = hash2(en->section, en->key) % x->nslot;; i = (i + 1) % x->nslot) {
        size_t v = x->slot[i];
        if (!v || (!strcmp(f->v[v - 1].section, en->section) && !strcmp(f->v[v - 1].key, en->key))) {
            x->slot[i] = idx + 1;       /* a later entry for the same key wins */
            return;
        }
    }
}

/* Index entries [ix.n, n); on no memory the index is dropped (lookups scan). */
static void index_more(inif *f)
{
    inif_index *x = &f->ix;
    if (f->n * 2 > x->nslot) {
        size_t ns = x->nslot ? x->nslot : 64;
        while (f->n * 2 > ns)
            ns *= 2;
        size_t *slot = calloc(ns, sizeof *slot);
        if (!slot)
            goto drop;
        free(x->slot);
        x->slot = slot;
        x->nslot = ns;
        x->n = 0;                       /* rebuild the key slots */
    }
    for (size_t i = x->n; i < f->n; i++) {
        if ((f->v[i].sec = sec_add(x, f->v[i].section)) < 0)
            goto drop;
        slot_put(f, i);
    }
    x->n = f->n;
    return;
drop:
    free(x->slot);
    x->slot = NULL;
    x->nslot = 0;
    x->n = 0;
}

static void index_free(inif_index *x)
{
    for (size_t i = 0; i < x->nsecs; i++)
        free(x->secs[i]);
    free(x->secs);
    free(x->sec_slot);
    free(x->slot);
    memset(x, 0, sizeof *x);
}

int inif_add(inif *f, const char *section, const char *key, const char *value, int line)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 32;
        inif_entry *v = realloc(f->v, cap * sizeof *v);
        if (!v)
            return -1;
        f->v = v;
        f->cap = cap;
    }
    inif_entry *en = &f->v[f->n];
    *en = (inif_entry){strdup(section), strdup(key), strdup(value), line, -1};
    if (!en->section || !en->key || !en->value) {
        free(en->section), free(en->key), free(en->value);
        return -1;
    }
    f->n++;
    if (f->ix.n == f->n - 1)
        index_more(f);
    return 0;
}

int inif_indexed(const inif *f)
{
    return f->ix.nslot && f->ix.n == f->n;
}

int inif_section(const inif *f, const char *name)
{
    return inif_indexed(f) ? sec_find(&f->ix, name) : -1;
}

/* ---- loading ----------------------------------------------------------------------- */

int inif_load(inif *f, const char *path, cherr *e)
{
    memset(f, 0, sizeof *f);
    f->path = strdup(path);
    parse_state st = {.f = f, .e = e};
    st.fp = fopen(path, "r");
    if (!st.fp) {
        err_set(e, "%s: cannot open: %m", path);
        inif_free(f);
        return -1;
    }
    int rc = run(f, &st, path, e);
    fclose(st.fp);
    if (rc < 0)
        inif_free(f);
    return rc;
}

int inif_load_string(inif *f, const char *name, const char *text, cherr *e)
{
    memset(f, 0, sizeof *f);
    f->path = strdup(name);
    parse_state st = {.f = f, .s = text, .e = e};
    int rc = run(f, &st, name, e);
    if (rc < 0)
        inif_free(f);
    return rc;
}

void inif_free(inif *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->v[i].section);
        free(f->v[i].key);
        free(f->v[i].value);
    }
    free(f->v);
    free(f->path);
    index_free(&f->ix);
    memset(f, 0, sizeof *f);
}

const inif_entry *inif_find(const inif *f, const char *section, const char *key)
{
    const inif_index *x = &f->ix;
    if (x->nslot && x->n == f->n) {
        for (size_t i = hash2(section, key) % x->nslot;; i = (i + 1) % x->nslot) {
            size_t v = x->slot[i];
            if (!v)
                return NULL;
            if (!strcmp(f->v[v - 1].key, key) && !strcmp(f->v[v - 1].section, section))
                return &f->v[v - 1];
        }
    }
    for (size_t i = f->n; i-- > 0;)
        if (!strcmp(f->v[i].section, section) && !strcmp(f->v[i].key, key))
            return &f->v[i];
    return NULL;
}
