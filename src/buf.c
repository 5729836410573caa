/* buf.c — growable byte strings (see buf.h). */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(buf *b, size_t need)
{
    if (b->len + need + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + need + 1)
        cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s)
        return -1;
    b->s = s;
    b->cap = cap;
    return 0;
}

int buf_add(buf *b, const char *s, size_t n)
{
    if (grow(b, n) < 0)
        return -1;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
    return 0;
}

int buf_puts(buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

/* Length of the UTF-8 sequence that starts s[0] (a byte >= 0x80) within s[0..n), or 0
 * when it is not valid: jansson's and utf8proc's rules (no overlong form, no surrogate,
 * nothing past U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (!len || len > n)
        return 0;
    unsigned long cp = c & (0x7Fu >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3Fu);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)))
        return 0;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))
        return 0;
    return len;
}

/* Append s[0..n) as a JSON string literal, escaped as jansson escapes (\uXXXX in upper
 * case). Returns 0, -1 out of memory, or -2 when `check` and s is not valid UTF-8
 * (nothing appended then). */
static int json_text(buf *b, const char *s, size_t n, int check)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t start = b->len;
    if (grow(b, n + 2) < 0)
        return -1;
    b->s[b->len++] = '"';
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80 && check) {
            size_t k = utf8_seq((const unsigned char *)s + i, n - i);
            if (!k) {
                b->len = start;
                b->s[start] = '\0';
                return -2;
            }
            i += k - 1;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        char esc[7] = {'\\', (char)c, 0};
        size_t el = 2;
        switch (c) {
        case '"': case '\\': break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
        }
        if (buf_add(b, s + from, i - from) < 0 || buf_add(b, esc, el) < 0)
            return -1;
        from = i + 1;
    }
    if (buf_add(b, s + from, n - from) < 0)
        return -1;
    return buf_add(b, "\"", 1);
}

int buf_json_str(buf *b, const char *s, size_t n)
{
    return json_text(b, s, n, 0);
}

int buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || grow(b, (size_t)n) < 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *buf_take(buf *b)
{
    char *s = b->s ? b->s : strdup("");
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}

void buf_reset(buf *b)
{
    b->len = 0;
    if (b->s)
        b->s[0] = '\0';
}

void buf_free(buf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

/* ---- the JSON writer ------------------------------------------------------------ */

/* Record the first failure of a json_text/buf_add result; returns rc. */
static int jw_status(buf_jw *w, int rc)
{
    if (rc && !w->err)
        w->err = rc == -2 ? BUF_JW_UTF8 : BUF_JW_NOMEM;
    return rc;
}

/* What goes before a value: the comma after an earlier member, the key and its colon. */
static int jw_member(buf_jw *w, const char *key)
{
    if (w->err)
        return -1;
    if (w->more && jw_status(w, buf_add(&w->b, ",", 1)) < 0)
        return -1;
    if (!key)
        return 0;
    if (jw_status(w, json_text(&w->b, key, strlen(key), 1)) < 0)
        return -1;
    return jw_status(w, buf_add(&w->b, ":", 1));
}

void buf_jw_open(buf_jw *w, const char *key, char bracket)
{
    if (jw_member(w, key) == 0 && jw_status(w, buf_add(&w->b, &bracket, 1)) == 0)
        w->more = 0;
}

void buf_jw_close(buf_jw *w, char bracket)
{
    if (!w->err && jw_status(w, buf_add(&w->b, &bracket, 1)) == 0)
        w->more = 1;
}

void buf_jw_strn(buf_jw *w, const char *key, const char *s, size_t n)
{
    if (jw_member(w, key) < 0)
        return;
    if (!s)
        w->err = BUF_JW_UTF8;       /* as jansson refuses a NULL string */
    else if (jw_status(w, json_text(&w->b, s, n, 1)) == 0)
        w->more = 1;
}

void buf_jw_str(buf_jw *w, const char *key, const char *s)
{
    buf_jw_strn(w, key, s, s ? strlen(s) : 0);
}

void buf_jw_int(buf_jw *w, const char *key, long long v)
{
    char d[24];
    int n = snprintf(d, sizeof d, "%lld", v);
    if (jw_member(w, key) == 0 && jw_status(w, buf_add(&w->b, d, (size_t)n)) == 0)
        w->more = 1;
}

void buf_jw_bool(buf_jw *w, const char *key, int v)
{
    if (jw_member(w, key) == 0 && jw_status(w, buf_puts(&w->b, v ? "true" : "false")) == 0)
        w->more = 1;
}

char *buf_jw_take(buf_jw *w, size_t *len)
{
    if (w->err) {
        buf_free(&w->b);
        return NULL;
    }
    if (len)
        *len = w->b.len;
    char *s = buf_take(&w->b);
    if (!s)
        w->err = BUF_JW_NOMEM;
    return s;
}
