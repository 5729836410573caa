/* util.c - clock, PRNGs, buffers, comma lists, sliding windows, phone
 * normalisation and query parsing for the simulator (see util.h). */
#include "util.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- clock ---------------------------------------------------------------- */

int64_t su_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t su_beijing_day(int64_t now_ms)
{
    return (now_ms / 1000 + 8 * 3600) / 86400;
}

int64_t su_beijing_month(int64_t now_ms)
{
    time_t t = (time_t)(now_ms / 1000 + 8 * 3600);
    struct tm tm;
    gmtime_r(&t, &tm);
    return (int64_t)(tm.tm_year + 1900) * 12 + tm.tm_mon;
}

void su_beijing_time(int64_t ms, char out[20])
{
    time_t t = (time_t)(ms / 1000 + 8 * 3600);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 20, "%Y-%m-%d %H:%M:%S", &tm);
}

/* ---- randomness (splitmix64, one mutex) ------------------------------------ */

static pthread_mutex_t rand_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t rand_fault_state = 1;
static uint64_t rand_id_state;

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void su_rand_seed(uint64_t seed)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    pthread_mutex_lock(&rand_lock);
    rand_fault_state = seed;
    rand_id_state = seed ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)ts.tv_nsec ^
                    ((uint64_t)getpid() << 40);
    pthread_mutex_unlock(&rand_lock);
}

double su_rand_fault(void)
{
    pthread_mutex_lock(&rand_lock);
    uint64_t r = splitmix64(&rand_fault_state);
    pthread_mutex_unlock(&rand_lock);
    return (double)(r >> 11) / 9007199254740992.0;
}

uint64_t su_rand_id(void)
{
    pthread_mutex_lock(&rand_lock);
    uint64_t r = splitmix64(&rand_id_state);
    pthread_mutex_unlock(&rand_lock);
    return r;
}

void su_rand_token(char *out, size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint64_t r = 0;
    if (!len)
        return;
    for (size_t i = 0; i + 1 < len; i++) {
        if (i % 10 == 0)
            r = su_rand_id();
        out[i] = alphabet[r & 63];
        r >>= 6;
    }
    out[len - 1] = '\0';
}

void su_uuid(char out[37])
{
    uint64_t a = su_rand_id(), b = su_rand_id();
    snprintf(out, 37, "%08x-%04x-4%03x-%04x-%012llx",
             (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
             (unsigned)a & 0xfff, (unsigned)(0x8000 | ((b >> 48) & 0x3fff)),
             (unsigned long long)(b & 0xffffffffffffULL));
}

/* ---- allocation ------------------------------------------------------------ */

void *su_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fputs("chuda-sim: out of memory\n", stderr);
        abort();
    }
    return p;
}

void *su_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fputs("chuda-sim: out of memory\n", stderr);
        abort();
    }
    return p;
}

char *su_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(su_xmalloc(n), s, n);
}

/* ---- buffer ---------------------------------------------------------------- */

int su_buf_add(struct su_buf *b, const void *data, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int su_buf_str(struct su_buf *b, const char *s)
{
    return su_buf_add(b, s, strlen(s));
}

int su_buf_printf(struct su_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof small)
        return su_buf_add(b, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big)
        return -1;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = su_buf_add(b, big, (size_t)n);
    free(big);
    return rc;
}

void su_buf_free(struct su_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t min, cp;
    if (s[0] < 0xC2 || s[0] > 0xF4)
        return 0;
    if (s[0] < 0xE0)
        len = 2, min = 0x80, cp = s[0] & 0x1F;
    else if (s[0] < 0xF0)
        len = 3, min = 0x800, cp = s[0] & 0x0F;
    else
        len = 4, min = 0x10000, cp = s[0] & 0x07;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

bool su_buf_json_str(struct su_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    bool valid = true;
    size_t run = 0;   /* bytes of p[i - run .. i) still to copy verbatim */

    su_buf_add(b, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++, run++;
            continue;
        }
        size_t k = c >= 0x80 ? utf8_seq(p + i, n - i) : 0;
        if (k) {
            i += k, run += k;
            continue;
        }
        su_buf_add(b, p + i - run, run);
        run = 0;
        char esc[8] = {'\\', 0};
        switch (c) {
        case '"': esc[1] = '"'; su_buf_add(b, esc, 2); break;
        case '\\': esc[1] = '\\'; su_buf_add(b, esc, 2); break;
        case '\n': esc[1] = 'n'; su_buf_add(b, esc, 2); break;
        case '\r': esc[1] = 'r'; su_buf_add(b, esc, 2); break;
        case '\t': esc[1] = 't'; su_buf_add(b, esc, 2); break;
        default:
            if (c < 0x20) {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                su_buf_add(b, esc, 6);
            } else {
                su_buf_add(b, "\\ufffd", 6);
                valid = false;
            }
        }
        i++;
    }
    su_buf_add(b, p + n - run, run);
    su_buf_add(b, "\"", 1);
    return valid;
}

/* ---- comma lists ----------------------------------------------------------- */

int su_list_parse(struct su_list *l, const char *text)
{
    su_list_free(l);
    const char *p = text;
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && isspace((unsigned char)t[-1]))
            t--;
        if (t - p == 1 && *p == '*') {
            l->any = true;
        } else {
            char **v = realloc(l->v, (l->n + 1) * sizeof *v);
            if (!v)
                return -1;
            l->v = v;
            l->v[l->n] = su_xmalloc((size_t)(t - p) + 1);
            memcpy(l->v[l->n], p, (size_t)(t - p));
            l->v[l->n][t - p] = '\0';
            l->n++;
        }
        p = e;
    }
    return 0;
}

bool su_list_has(const struct su_list *l, const char *s)
{
    if (l->any)
        return true;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return true;
    return false;
}

void su_list_free(struct su_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
    l->any = false;
}

/* ---- sliding windows ------------------------------------------------------- */

size_t su_win_count(struct su_win *w, int64_t now_ms, int64_t window_ms)
{
    size_t keep = 0;
    while (keep < w->n && w->t[keep] <= now_ms - window_ms)
        keep++;
    if (keep) {
        memmove(w->t, w->t + keep, (w->n - keep) * sizeof *w->t);
        w->n -= keep;
    }
    return w->n;
}

void su_win_add(struct su_win *w, int64_t now_ms)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 4;
        int64_t *t = realloc(w->t, cap * sizeof *t);
        if (!t)
            return;   /* under memory pressure a limit may under-count */
        w->t = t;
        w->cap = cap;
    }
    w->t[w->n++] = now_ms;
}

void su_win_free(struct su_win *w)
{
    free(w->t);
    w->t = NULL;
    w->n = w->cap = 0;
}

/* ---- phones ---------------------------------------------------------------- */

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return n > 0;
}

static int phone_cn(const char *d, size_t n, char *out, size_t outsz)
{
    /* mainland mobile: 11 digits, 1[3-9]x xxxx xxxx */
    if (n != 11 || !all_digits(d, n) || d[0] != '1' || d[1] < '3')
        return 0;
    snprintf(out, outsz, "+86%s", d);
    return 1;
}

int su_phone_normalize(const char *in, char *out, size_t outsz)
{
    bool plus = in[0] == '+';
    const char *d = in + plus;
    size_t n = strlen(d);

    if (!all_digits(d, n) || outsz < 20)
        return 0;
    if (plus && strncmp(d, "86", 2) == 0)
        return phone_cn(d + 2, n - 2, out, outsz);
    if (!plus && n == 15 && strncmp(d, "0086", 4) == 0)
        return phone_cn(d + 4, n - 4, out, outsz);
    if (!plus && n == 13 && strncmp(d, "86", 2) == 0)
        return phone_cn(d + 2, n - 2, out, outsz);
    if (!plus && n == 11)
        return phone_cn(d, n, out, outsz);
    /* international: country code + number, E.164 allows 15 digits */
    if (n < 7 || n > 15 || d[0] == '0')
        return 0;
    snprintf(out, outsz, "+%s", d);
    return 2;
}

/* ---- query strings ----------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static char *pct_decode(const char *s, size_t n)
{
    char *out = su_xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            *o++ = ' ';
        } else if (s[i] == '%' && i + 2 < n &&
                   hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            *o++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

int su_parse_query(const char *s, size_t len, struct su_kv **kv, size_t *n)
{
    size_t i = 0;
    int count = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && s[e] != '&')
            e++;
        if (e > i) {
            size_t eq = i;
            while (eq < e && s[eq] != '=')
                eq++;
            struct su_kv *v = realloc(*kv, (*n + 1) * sizeof **kv);
            if (!v)
                return -1;
            *kv = v;
            v[*n].name = pct_decode(s + i, eq - i);
            v[*n].value = eq < e ? pct_decode(s + eq + 1, e - eq - 1)
                                 : su_strdup("");
            (*n)++;
            count++;
        }
        i = e + 1;
    }
    return count;
}

const char *su_kv_get(const struct su_kv *kv, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].name, name) == 0)
            return kv[i].value;
    return NULL;
}

void su_kv_free(struct su_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].name);
        free(kv[i].value);
    }
    free(kv);
}
