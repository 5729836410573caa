/* buf.h — a growable byte string (always NUL-terminated). */
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

#endif
