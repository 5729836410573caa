/* wxkw.c - keyword value rules of WeChat subscription messages.
 *
 * The value is decoded to code points first (invalid UTF-8 and control
 * characters are always rejected), then checked by the rule of the type
 * prefix.  time/date values are parsed by a small recursive-descent parser
 * over the code points: Y-M-D / Y/M/D / Y.M.D / Y-M / M-D / Y年M月D日,
 * optionally followed by H:MM[:SS], ranges joined by '~'. */
#include "wxkw.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <utf8proc.h>

#define MAXCP 512

struct text {
    int32_t cp[MAXCP];
    size_t n;
};

static bool is_cjk(int32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2EBEF) || (c >= 0xF900 && c <= 0xFAFF) ||
           c == 0x3007;
}

static bool is_digit(int32_t c) { return c >= '0' && c <= '9'; }

static bool is_alpha(int32_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Punctuation or symbol, ASCII or not (，。！¥ …). */
static bool is_symbol(int32_t c)
{
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS: case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO: case UTF8PROC_CATEGORY_SM:
    case UTF8PROC_CATEGORY_SC: case UTF8PROC_CATEGORY_SK:
    case UTF8PROC_CATEGORY_SO:
        return true;
    default:
        return false;
    }
}

static bool is_control(int32_t c)
{
    utf8proc_category_t cat = utf8proc_category(c);
    return cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_ZL ||
           cat == UTF8PROC_CATEGORY_ZP;
}

static bool is_space(int32_t c)
{
    return c == ' ' || c == 0x3000 || c == 0xA0;
}

static int decode(const char *s, size_t len, struct text *t, const char **why)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    t->n = 0;
    while (len) {
        int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(p, (utf8proc_ssize_t)len, &c);
        if (k <= 0) {
            *why = "invalid UTF-8";
            return -1;
        }
        if (is_control(c)) {
            *why = "control character";
            return -1;
        }
        if (t->n == MAXCP) {
            *why = "too long";
            return -1;
        }
        t->cp[t->n++] = c;
        p += k;
        len -= (size_t)k;
    }
    if (t->n == 0) {
        *why = "empty";
        return -1;
    }
    return 0;
}

/* ---- time / date ------------------------------------------------------- */

struct cur {
    const struct text *t;
    size_t i, end;
};

static int32_t peek(const struct cur *c)
{
    return c->i < c->end ? c->t->cp[c->i] : 0;
}

static void skip_space(struct cur *c)
{
    while (c->i < c->end && is_space(c->t->cp[c->i]))
        c->i++;
}

/* Read 1..max digits; returns the number of digits read (0 = none). */
static int digits(struct cur *c, int max, long *val)
{
    int n = 0;
    *val = 0;
    while (n < max && is_digit(peek(c))) {
        *val = *val * 10 + (peek(c) - '0');
        c->i++;
        n++;
    }
    return n;
}

static bool parse_time(struct cur *c)
{
    long h, m, s;
    size_t save = c->i;
    if (!digits(c, 2, &h) || h > 24 || peek(c) != ':')
        goto fail;
    c->i++;
    if (digits(c, 2, &m) != 2 || m > 59)
        goto fail;
    if (peek(c) == ':') {
        c->i++;
        if (digits(c, 2, &s) != 2 || s > 59)
            goto fail;
    }
    return true;
fail:
    c->i = save;
    return false;
}

static bool valid_md(long m, long d)
{
    return m >= 1 && m <= 12 && (d < 0 || (d >= 1 && d <= 31));
}

static bool parse_date(struct cur *c)
{
    size_t save = c->i;
    long a, b, d = -1;
    int na = digits(c, 4, &a);
    int32_t sep = peek(c);

    if (!na)
        goto fail;
    if (sep == 0x5E74 /* 年 */ || sep == 0x6708 /* 月 */) {
        if (sep == 0x5E74) {           /* Y年M月[D日] */
            if (na != 4)
                goto fail;
            c->i++;
            if (!digits(c, 2, &b) || peek(c) != 0x6708)
                goto fail;
            c->i++;
            size_t s2 = c->i;
            if (digits(c, 2, &d) && peek(c) == 0x65E5 /* 日 */)
                c->i++;
            else
                c->i = s2, d = -1;
            if (!valid_md(b, d))
                goto fail;
        } else {                       /* M月D日 */
            if (na > 2)
                goto fail;
            c->i++;
            if (!digits(c, 2, &b) || peek(c) != 0x65E5 || !valid_md(a, b))
                goto fail;
            c->i++;
        }
        return true;
    }
    if (sep != '-' && sep != '/' && sep != '.')
        goto fail;
    c->i++;
    int nb = digits(c, 2, &b);
    if (!nb)
        goto fail;
    if (na == 4) {                     /* Y-M[-D] */
        if (peek(c) == sep) {
            c->i++;
            if (!digits(c, 2, &d))
                goto fail;
        }
        if (!valid_md(b, d))
            goto fail;
    } else if (na <= 2) {              /* M-D */
        if (!valid_md(a, b))
            goto fail;
    } else {
        goto fail;
    }
    return true;
fail:
    c->i = save;
    return false;
}

/* One side of a range.  time: [date ws] time;  date: date [ws time]. */
static bool parse_item(struct cur *c, bool want_time)
{
    skip_space(c);
    size_t save = c->i;
    if (want_time) {
        if (parse_time(c))
            return true;
        if (!parse_date(c))
            return false;
        skip_space(c);
        if (parse_time(c))
            return true;
        c->i = save;
        return false;
    }
    if (!parse_date(c))
        return false;
    size_t after = c->i;
    skip_space(c);
    if (!parse_time(c))
        c->i = after;
    return true;
}

static bool parse_when(const struct text *t, bool want_time)
{
    struct cur c = {t, 0, t->n};
    if (!parse_item(&c, want_time))
        return false;
    skip_space(&c);
    if (peek(&c) == '~' || peek(&c) == 0xFF5E /* ～ */) {
        c.i++;
        if (!parse_item(&c, want_time))
            return false;
        skip_space(&c);
    }
    return c.i == c.end;
}

/* ---- the other types ----------------------------------------------------- */

static bool check_number(const struct text *t)
{
    size_t i = 0, dots = 0, nd = 0;
    if (t->n && (t->cp[0] == '-' || t->cp[0] == '+'))
        i++;
    for (; i < t->n; i++) {
        if (t->cp[i] == '.')
            dots++;
        else if (is_digit(t->cp[i]))
            nd++;
        else
            return false;
    }
    return nd > 0 && nd <= 32 && dots <= 1 && t->cp[t->n - 1] != '.';  /* 32 digits */
}

static bool check_amount(const struct text *t)
{
    size_t i = 0, n = t->n, nd = 0, nf = 0;
    if (n && utf8proc_category(t->cp[0]) == UTF8PROC_CATEGORY_SC)
        i++;
    if (n > i && t->cp[n - 1] == 0x5143 /* 元 */)
        n--;
    for (; i < n && (is_digit(t->cp[i]) || t->cp[i] == ','); i++)
        nd += is_digit(t->cp[i]);
    if (i < n && t->cp[i] == '.') {
        for (i++; i < n && is_digit(t->cp[i]); i++)
            nf++;
        if (!nf)
            return false;
    }
    return i == n && nd >= 1 && nd <= 10;
}

static bool all_of(const struct text *t, bool (*ok)(int32_t))
{
    for (size_t i = 0; i < t->n; i++)
        if (!ok(t->cp[i]))
            return false;
    return true;
}

static bool cs_char(int32_t c) { return c > 0x20 && c < 0x7F; }
static bool phone_char(int32_t c) { return is_digit(c) || is_symbol(c) || c == ' '; }

static bool check_car(const struct text *t)
{
    if (t->n > 8)
        return false;
    for (size_t i = 0; i < t->n; i++) {
        int32_t c = t->cp[i];
        bool edge = i == 0 || i == t->n - 1;
        if (!(is_alpha(c) || is_digit(c) || (edge && is_cjk(c))))
            return false;
    }
    return true;
}

static bool check_name(const struct text *t)
{
    bool wide = false;
    for (size_t i = 0; i < t->n; i++) {
        int32_t c = t->cp[i];
        if (is_digit(c))
            return false;
        if (is_cjk(c) || c == 0xB7 /* · */)
            wide = true;
        else if (!is_alpha(c) && !is_symbol(c) && !is_space(c) &&
                 utf8proc_category(c) > UTF8PROC_CATEGORY_LO)
            return false;
        else if (c > 0x7F && !is_symbol(c))
            wide = true;   /* other scripts count like Chinese */
    }
    return t->n <= (wide ? 10u : 20u);
}

/* ---- entry point ----------------------------------------------------------- */

int wxkw_check(const char *key, const char *value, size_t len,
               const char **why)
{
    struct text txt;
    const char *dummy;
    if (!why)
        why = &dummy;
    *why = NULL;
    if (decode(value, len, &txt, why) != 0)
        return -1;

    /* type = key without its trailing digits */
    size_t kl = strlen(key);
    while (kl && key[kl - 1] >= '0' && key[kl - 1] <= '9')
        kl--;
#define IS(name) (kl == sizeof(name) - 1 && !strncmp(key, name, kl))
    bool ok = true;
    if (IS("thing")) {
        ok = txt.n <= 20;
        *why = "thing: at most 20 characters";
    } else if (IS("number")) {
        ok = check_number(&txt);
        *why = "number: at most 32 digits with an optional decimal point";
    } else if (IS("letter")) {
        ok = txt.n <= 32 && all_of(&txt, is_alpha);
        *why = "letter: at most 32 letters";
    } else if (IS("symbol")) {
        ok = txt.n <= 5 && all_of(&txt, is_symbol);
        *why = "symbol: at most 5 symbols";
    } else if (IS("character_string")) {
        ok = txt.n <= 32 && all_of(&txt, cs_char);
        *why = "character_string: at most 32 digits, letters or symbols";
    } else if (IS("time")) {
        ok = parse_when(&txt, true);
        *why = "time: 24h time, optionally after a date, ranges with ~";
    } else if (IS("date")) {
        ok = parse_when(&txt, false);
        *why = "date: a date, optionally with a 24h time, ranges with ~";
    } else if (IS("amount")) {
        ok = check_amount(&txt);
        *why = "amount: currency symbol and at most 10 digits";
    } else if (IS("phone_number")) {
        ok = txt.n <= 17 && all_of(&txt, phone_char);
        *why = "phone_number: at most 17 digits and symbols";
    } else if (IS("car_number")) {
        ok = check_car(&txt);
        *why = "car_number: at most 8 characters, Chinese only first/last";
    } else if (IS("name")) {
        ok = check_name(&txt);
        *why = "name: at most 10 Chinese or 20 letters/symbols";
    } else if (IS("phrase")) {
        ok = txt.n <= 5 && all_of(&txt, is_cjk);
        *why = "phrase: at most 5 Chinese characters";
    }
    /* enum and unknown types: anything without control characters */
#undef IS
    if (ok)
        *why = NULL;
    return ok ? 0 : -1;
}
