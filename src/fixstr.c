/* fixstr.c — strings into fixed-size char arrays (see fixstr.h). */
#include "fixstr.h"

#include <stdarg.h>
#include <string.h>

/* Append src to dst[0..*at) within n bytes (room for the NUL kept). */
static void put(char *dst, size_t n, size_t *at, const char *src)
{
    size_t len = strlen(src), room = n - 1 - *at;
    if (len > room)
        len = room;
    memcpy(dst + *at, src, len);
    *at += len;
}

char *fs_copy(char *dst, size_t n, const char *src)
{
    if (!n)
        return dst;             /* as snprintf: nothing written */
    size_t at = 0;
    put(dst, n, &at, src ? src : "");
    dst[at] = '\0';
    return dst;
}

void fs_digits(char *p, int v, int n)
{
    while (n--) {
        p[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

char *fs_cat(char *dst, size_t n, ...)
{
    if (!n)
        return dst;
    size_t at = 0;
    va_list ap;
    va_start(ap, n);
    for (const char *s; (s = va_arg(ap, const char *));)
        put(dst, n, &at, s);
    va_end(ap);
    dst[at] = '\0';
    return dst;
}

char *fs_utf8_clip(char *s)
{
    size_t n = strlen(s), i = n;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
        i--;                    /* back over the continuation bytes at the end */
    if (i > 0 && (unsigned char)s[i - 1] >= 0xC0) {
        unsigned char lead = (unsigned char)s[i - 1];
        size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
        if (n - (i - 1) < need)
            s[i - 1] = '\0';
    }
    return s;
}
