/* inifile.c — libinih with line numbers, joined continuations and a line-length check. */
#include "inifile.h"

#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    if (!en->section || !en->key || !en->value) {
        free(en->section), free(en->key), free(en->value);
        return 0;
    }
    unescape(en->value);
    f->n++;
    snprintf(st->last_section, sizeof st->last_section, "%s", section);
    snprintf(st->last_key, sizeof st->last_key, "%s", key);
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
    return 0;
}

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
    memset(f, 0, sizeof *f);
}

const inif_entry *inif_find(const inif *f, const char *section, const char *key)
{
    for (size_t i = f->n; i-- > 0;)
        if (!strcmp(f->v[i].section, section) && !strcmp(f->v[i].key, key))
            return &f->v[i];
    return NULL;
}
