/* fixstr.h — strings into fixed-size char arrays: copies and concatenations that
 * truncate and always NUL-terminate (and a cut moved back to a UTF-8 character), as snprintf(dst, n, "%s...", ...) does, without
 * parsing a format on every call (the scheduler makes a dozen such copies a message). */
#ifndef CHUDA_FIXSTR_H
#define CHUDA_FIXSTR_H

#include <stddef.h>

/* src (NULL: "") into dst[n] (n == 0: nothing written). Returns dst. */
char *fs_copy(char *dst, size_t n, const char *src);
/* The pieces up to the NULL, one after another, into dst[n] (n == 0: nothing written).
 * Returns dst. */
char *fs_cat(char *dst, size_t n, ...) __attribute__((sentinel));
/* v as exactly `n` decimal digits at p, zero-padded, no NUL (0 <= v < 10^n), as
 * snprintf's "%0Nd" would write them. */
void fs_digits(char *p, int v, int n);
/* Cut s where a truncating copy (fs_copy, fs_cat, snprintf) may have cut it inside a
 * UTF-8 character: a partial last character is removed, so text that was valid UTF-8
 * (a user's reason, a key, a tag) stays so in the log. Returns s. */
char *fs_utf8_clip(char *s);

#endif
