/* mask.c — masking phone numbers and identifiers for output (see mask.h). */
#include "mask.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

void mask_phone(const char *in, char *out, size_t len)
{
    size_t n = strlen(in), head = 0;
    const char *p = in;
    char cc[8] = "";
    if (*p == '+' && n > 3 && !strncmp(p, "+86", 3)) {
        snprintf(cc, sizeof cc, "+86");
        p += 3;
    } else if (*p == '+') {
        size_t k = 1;
        while (k < 4 && isdigit((unsigned char)p[k]))
            k++;
        snprintf(cc, sizeof cc, "%.*s", (int)k, p);
        p += k;
    }
    n = strlen(p);
    if (n < 8) {
        snprintf(out, len, "%s****%s", cc, n > 2 ? p + n - 2 : "");
        return;
    }
    head = 3;
    snprintf(out, len, "%s%.*s****%s", cc, (int)head, p, p + n - 4);
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
