/* buf.h — a growable byte string (always NUL-terminated), and JSON text written
 * straight into one (buf_jw: provider request bodies, no jansson tree). */
#ifndef CHUDA_BUF_H
#define CHUDA_BUF_H

#include <stddef.h>

typedef struct buf {
    char *s;
    size_t len, cap;
} buf;

int buf_add(buf *b, const char *s, size_t n);
int buf_puts(buf *b, const char *s);
int buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s[0..n) — valid UTF-8 — as a JSON string literal, quotes included: '"', '\\'
 * and control characters escaped, everything else as it is (as jansson writes it). */
int buf_json_str(buf *b, const char *s, size_t n);
/* Take the string out (caller frees); the buf is empty afterwards. Never NULL. */
char *buf_take(buf *b);
void buf_reset(buf *b);
void buf_free(buf *b);

/* A JSON writer: compact text, members in the order written, strings escaped as
 * buf_json_str (jansson's JSON_COMPACT | JSON_PRESERVE_ORDER output, byte for byte).
 * Every key and string is checked to be valid UTF-8 (no overlong forms, surrogates or
 * code points past U+10FFFF: what jansson refuses); NULL counts as invalid. The first
 * failure sticks in `err` and later calls do nothing, so a body is written whole and
 * checked once, by buf_jw_take. `key` is the member's name inside an object, NULL for
 * an array element or the outermost value. Start from buf_jw w = {0}. */
enum { BUF_JW_NOMEM = 1, BUF_JW_UTF8 = 2 };

typedef struct buf_jw {
    buf b;
    int more;                   /* the open object or array has a member: ',' next */
    int err;                    /* 0, BUF_JW_NOMEM or BUF_JW_UTF8 */
} buf_jw;

void buf_jw_open(buf_jw *w, const char *key, char bracket);    /* '{' or '[' */
void buf_jw_close(buf_jw *w, char bracket);                    /* '}' or ']' */
void buf_jw_str(buf_jw *w, const char *key, const char *s);
void buf_jw_strn(buf_jw *w, const char *key, const char *s, size_t n);
void buf_jw_int(buf_jw *w, const char *key, long long v);
void buf_jw_bool(buf_jw *w, const char *key, int v);
/* The text (caller frees; *len its length when len is not NULL), or NULL when a call
 * failed (w->err says why). Either way w's buffer is released. */
char *buf_jw_take(buf_jw *w, size_t *len);

#endif
