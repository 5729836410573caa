/* mask.c — masking phone numbers and identifiers for output (see mask.h). */
#include "mask.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

void mask_phone(const char *in, char *out, size_t len)
{
    const char *p = in + (*in == '+');
    size_t n = strlen(p);
    if (n < 8)
        snprintf(out, len, "%.*s****%s", (int)(p - in), in, n > 2 ? p + n - 2 : "");
    else
        snprintf(out, len, "%.*s****%s", (int)(p - in + n - 8), in, p + n - 4);
}

void mask_id(const char *in, char *out, size_t len)
{
    size_t n = strlen(in);
    if (n < 10) {
        snprintf(out, len, "****");
        return;
    }
    snprintf(out, len, "%.4s****%s", in, in + n - 4);
}

void mask_target(const char *in, char *out, size_t len)
{
    const char *p = in + (*in == '+');
    int digits = *p != '\0';
    for (; *p && digits; p++)
        digits = isdigit((unsigned char)*p);
    if (digits)
        mask_phone(in, out, len);
    else
        mask_id(in, out, len);
}

static int is_word(unsigned char c)
{
    return isalnum(c) || c == '_' || c == '-';
}

/* Length of the phone number at p (p[-1] is not part of a word), or 0. */
static size_t phone_len(const char *p)
{
    size_t plus = *p == '+', n = plus;
    while (isdigit((unsigned char)p[n]))
        n++;
    if (is_word((unsigned char)p[n]))
        return 0;
    size_t digits = n - plus;
    if (plus)
        return digits >= 7 && digits <= 15 ? n : 0;
    return digits == 11 && p[0] == '1' && p[1] >= '3' ? n : 0;
}

/* Length of the openid-like word at p, or 0. */
static size_t openid_len(const char *p)
{
    if (!(p[0] == 'o' || (p[0] == 'w' && (p[1] == 'm' || p[1] == 'o'))))
        return 0;
    size_t n = 0;
    while (is_word((unsigned char)p[n]))
        n++;
    return n >= 20 && n <= 64 ? n : 0;
}

static int put_masked(buf *out, const char *s, size_t n, void (*fn)(const char *, char *, size_t))
{
    char in[80], m[96];
    snprintf(in, sizeof in, "%.*s", (int)n, s);
    fn(in, m, sizeof m);
    return buf_puts(out, m);
}

int mask_text(const char *in, const char *known, buf *out)
{
    size_t klen = known ? strlen(known) : 0;
    int rc = buf_add(out, "", 0);
    for (const char *p = in; *p && rc == 0;) {
        size_t n;
        if (klen >= 4 && !strncmp(p, known, klen)) {
            rc = put_masked(out, known, klen, mask_target);
            p += klen;
            continue;
        }
        int start = p == in || !(is_word((unsigned char)p[-1]) || p[-1] == '+');
        if (start && (n = phone_len(p))) {
            rc = put_masked(out, p, n, mask_phone);
        } else if (start && (n = openid_len(p))) {
            rc = put_masked(out, p, n, mask_id);
        } else {
            /* the rest of this word (up to `known`, masked wherever it appears), or one
             * other byte */
            n = 1;
            if (is_word((unsigned char)*p))
                while (is_word((unsigned char)p[n]) &&
                       !(klen >= 4 && !strncmp(p + n, known, klen)))
                    n++;
            rc = buf_add(out, p, n);
        }
        p += n;
    }
    return rc;
}
