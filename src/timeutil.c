/* timeutil.c — clock, ISO 8601 and duration parsing, UTC formatting (see timeutil.h). */
#include "timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixstr.h"

int64_t tu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double tu_clock_seconds(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return -1;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int tu_parse_duration(const char *s, int64_t *ms, cherr *e)
{
    if (!s || !isdigit((unsigned char)*s))
        return err_set(e, "bad duration '%s': expected a number and a unit (ms, s, m, h, d, w)",
                       s ? s : "");
    errno = 0;
    char *end;
    long long n = strtoll(s, &end, 10);
    if (errno || n < 0 || n > 100000000LL)
        return err_set(e, "bad duration '%s': number out of range", s);
    int64_t unit;
    if (!strcmp(end, "ms"))
        unit = 1;
    else if (!strcmp(end, "s"))
        unit = TU_SEC;
    else if (!strcmp(end, "m"))
        unit = TU_MIN;
    else if (!strcmp(end, "h"))
        unit = TU_HOUR;
    else if (!strcmp(end, "d"))
        unit = TU_DAY;
    else if (!strcmp(end, "w"))
        unit = 7 * TU_DAY;
    else
        return err_set(e, "bad duration '%s': unit must be ms, s, m, h, d or w", s);
    *ms = n * unit;
    return 0;
}

/* Read exactly `n` digits. */
static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

/* Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

int tu_parse_time(const char *s, int64_t now, int64_t *ms, cherr *e)
{
    if (!s || !*s)
        return err_set(e, "empty time");
    if (!strcmp(s, "now")) {
        *ms = now;
        return 0;
    }
    if (*s == '+' || *s == '-') {
        int64_t d;
        if (tu_parse_duration(s + 1, &d, e) < 0)
            return err_prefix(e, "bad relative time: ");
        *ms = *s == '+' ? now + d : now - d;
        return 0;
    }
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
        goto bad;
    if (*p != 'T' && *p != ' ')
        goto bad;
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
        goto bad;
    if (*p == ':') {
        p++;
        if (digits(&p, 2, &sec))
            goto bad;
        if (*p == '.' || *p == ',') {
            p++;
            int scale = 100, nd = 0;
            while (isdigit((unsigned char)*p)) {
                if (nd++ < 3)
                    frac += (*p - '0') * scale, scale /= 10;
                p++;
            }
            if (!nd)
                goto bad;
        }
    }
    int off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
        if (digits(&p, 2, &oh))
            goto bad;
        if (*p == ':') {
            p++;
            if (digits(&p, 2, &om))
                goto bad;
        } else if (*p && digits(&p, 2, &om)) {
            goto bad;
        }
        if (oh > 14 || om > 59)
            goto bad;
        off = sign * (oh * 60 + om);
    } else if (*p == '\0') {
        return err_set(e, "time '%s' has no UTC offset: add Z or +08:00", s);
    } else {
        goto bad;
    }
    if (*p)
        goto bad;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
        return err_set(e, "time '%s' is not a valid calendar time", s);
    int64_t days = days_from_civil(y, mo, d);
    *ms = ((days * 86400 + h * 3600 + mi * 60 + sec) - (int64_t)off * 60) * 1000 + frac;
    return 0;
bad:
    return err_set(e, "bad time '%s': expected ISO 8601 with an offset "
                      "(2026-11-23T10:00:00+08:00) or +DURATION / -DURATION (+90s, -1h, +2d)", s);
}

char *tu_format(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int rem = (int)(ms - (int64_t)t * 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rem);
    return buf;
}

char *tu_format_min(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000 - (ms % 1000 < 0));      /* floor, as tu_format */
    struct tm tm;
    gmtime_r(&t, &tm);
    int year = tm.tm_year + 1900;
    if (len < sizeof "YYYY-MM-DDTHH:MMZ" || year < 0 || year > 9999) {
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02dZ", year, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min);
        return buf;
    }
    /* what the snprintf above writes, without its format parsing (a deferral's reason
     * names its time: one call a message) */
    memcpy(buf, "YYYY-MM-DDTHH:MMZ", sizeof "YYYY-MM-DDTHH:MMZ");
    fs_digits(buf, year, 4);
    fs_digits(buf + 5, tm.tm_mon + 1, 2);
    fs_digits(buf + 8, tm.tm_mday, 2);
    fs_digits(buf + 11, tm.tm_hour, 2);
    fs_digits(buf + 14, tm.tm_min, 2);
    return buf;
}
