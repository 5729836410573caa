/* fieldrule.c — the providers' field rules, per channel and field (see fieldrule.h).
 *
 * Values are decoded to code points once; each rule then looks at the code points
 * (character rules) or the byte length (WeCom). A rule has a maximum length, an
 * optional minimum, and optionally a shape (time, amount, phrase, ...). In bound mode
 * (load time, variables rendered empty) only maximum lengths, control characters and
 * invalid UTF-8 are checked: the value can only grow. */
#include "fieldrule.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>

#include "fixstr.h"

/* ---- code points and character classes ------------------------------------------- */

typedef struct cps {
    int32_t *v;
    size_t n;
    size_t bad_byte;            /* invalid UTF-8: offset of the first bad byte */
    int ok;
} cps;

static int decode(const char *s, cps *t)
{
    size_t len = strlen(s);
    memset(t, 0, sizeof *t);
    t->v = malloc((len + 1) * sizeof *t->v);
    if (!t->v)
        return -1;
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    size_t i = 0;
    while (i < len) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &c);
        if (k <= 0) {
            t->bad_byte = i;
            return 0;
        }
        t->v[t->n++] = c;
        i += (size_t)k;
    }
    t->ok = 1;
    return 0;
}

long fr_chars(const char *s)
{
    cps t;
    if (decode(s, &t) < 0)
        return -1;
    long n = t.ok ? (long)t.n : -1;
    free(t.v);
    return n;
}

static int is_cjk(int32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2EBEF) || (c >= 0xF900 && c <= 0xFAFF) || c == 0x3007;
}

static int is_digit(int32_t c) { return c >= '0' && c <= '9'; }
static int is_alpha(int32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_space(int32_t c) { return c == ' ' || c == 0x3000 || c == 0xA0; }

/* Punctuation or symbol, ASCII or not (，。！¥ …). */
static int is_symbol(int32_t c)
{
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO: case UTF8PROC_CATEGORY_SM: case UTF8PROC_CATEGORY_SC:
    case UTF8PROC_CATEGORY_SK: case UTF8PROC_CATEGORY_SO:
        return 1;
    default:
        return 0;
    }
}

static int is_control(int32_t c)
{
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP;
}

/* ---- time and date shapes (providers.md §2.2) ------------------------------------------ */

typedef struct cur {
    const cps *t;
    size_t i;
} cur;

static int32_t peek(const cur *c) { return c->i < c->t->n ? c->t->v[c->i] : 0; }

static void skip_space(cur *c)
{
    while (c->i < c->t->n && is_space(c->t->v[c->i]))
        c->i++;
}

static int digits(cur *c, int max, long *val)
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

/* H:MM or H:MM:SS, 24-hour. */
static int shape_clock(cur *c)
{
    size_t save = c->i;
    long h, m, s;
    if (!digits(c, 2, &h) || h > 24 || peek(c) != ':')
        goto no;
    c->i++;
    if (digits(c, 2, &m) != 2 || m > 59)
        goto no;
    if (peek(c) == ':') {
        c->i++;
        if (digits(c, 2, &s) != 2 || s > 59)
            goto no;
    }
    return 1;
no:
    c->i = save;
    return 0;
}

static int md_ok(long m, long d) { return m >= 1 && m <= 12 && (d < 0 || (d >= 1 && d <= 31)); }

/* Y-M-D, Y/M/D, Y.M.D, Y-M, M-D, Y年M月[D日], M月D日. */
static int shape_day(cur *c)
{
    size_t save = c->i;
    long a, b, d = -1;
    int na = digits(c, 4, &a);
    int32_t sep = peek(c);
    if (!na)
        goto no;
    if (sep == 0x5E74) {                /* 年 */
        c->i++;
        if (na != 4 || !digits(c, 2, &b) || peek(c) != 0x6708)
            goto no;
        c->i++;
        size_t s2 = c->i;
        if (digits(c, 2, &d) && peek(c) == 0x65E5)
            c->i++;
        else {
            c->i = s2;
            d = -1;
        }
        if (!md_ok(b, d))
            goto no;
        return 1;
    }
    if (sep == 0x6708) {                /* M月D日 */
        c->i++;
        if (na > 2 || !digits(c, 2, &b) || peek(c) != 0x65E5 || !md_ok(a, b))
            goto no;
        c->i++;
        return 1;
    }
    if (sep != '-' && sep != '/' && sep != '.')
        goto no;
    c->i++;
    if (!digits(c, 2, &b))
        goto no;
    if (na == 4) {
        if (peek(c) == sep) {
            c->i++;
            if (!digits(c, 2, &d))
                goto no;
        }
        if (!md_ok(b, d))
            goto no;
    } else if (na > 2 || !md_ok(a, b))
        goto no;
    return 1;
no:
    c->i = save;
    return 0;
}

static int shape_item(cur *c, int want_time)
{
    skip_space(c);
    size_t save = c->i;
    if (want_time) {
        if (shape_clock(c))
            return 1;
        if (!shape_day(c))
            return 0;
        skip_space(c);
        if (shape_clock(c))
            return 1;
        c->i = save;
        return 0;
    }
    if (!shape_day(c))
        return 0;
    size_t after = c->i;
    skip_space(c);
    if (!shape_clock(c))
        c->i = after;
    return 1;
}

static int shape_when(const cps *t, int want_time)
{
    cur c = {t, 0};
    if (!shape_item(&c, want_time))
        return 0;
    skip_space(&c);
    if (peek(&c) == '~' || peek(&c) == 0xFF5E) {
        c.i++;
        if (!shape_item(&c, want_time))
            return 0;
        skip_space(&c);
    }
    return c.i == t->n;
}

static int shape_time(const cps *t) { return shape_when(t, 1); }
static int shape_date(const cps *t) { return shape_when(t, 0); }

/* ---- the other keyword shapes -------------------------------------------------------- */

static int shape_number(const cps *t)
{
    size_t i = 0, dots = 0, nd = 0;
    if (t->n && (t->v[0] == '-' || t->v[0] == '+'))
        i++;
    for (; i < t->n; i++) {
        if (t->v[i] == '.')
            dots++;
        else if (is_digit(t->v[i]))
            nd++;
        else
            return 0;
    }
    return nd > 0 && dots <= 1 && t->v[t->n - 1] != '.';
}

static int shape_amount(const cps *t)
{
    size_t i = 0, n = t->n, nd = 0, nf = 0;
    if (n && utf8proc_category(t->v[0]) == UTF8PROC_CATEGORY_SC)
        i++;
    if (n > i && t->v[n - 1] == 0x5143)         /* 元 */
        n--;
    for (; i < n && (is_digit(t->v[i]) || t->v[i] == ','); i++)
        nd += is_digit(t->v[i]) != 0;
    if (i < n && t->v[i] == '.') {
        for (i++; i < n && is_digit(t->v[i]); i++)
            nf++;
        if (!nf)
            return 0;
    }
    return i == n && nd >= 1 && nd <= 10;
}

static int all(const cps *t, int (*ok)(int32_t))
{
    for (size_t i = 0; i < t->n; i++)
        if (!ok(t->v[i]))
            return 0;
    return 1;
}

static int cs_char(int32_t c) { return c > 0x20 && c < 0x7F; }
static int phone_char(int32_t c) { return is_digit(c) || is_symbol(c) || c == ' '; }
static int shape_letters(const cps *t) { return all(t, is_alpha); }
static int shape_symbols(const cps *t) { return all(t, is_symbol); }
static int shape_cs(const cps *t) { return all(t, cs_char); }
static int shape_phone(const cps *t) { return all(t, phone_char); }
static int shape_phrase(const cps *t) { return all(t, is_cjk); }

static int shape_car(const cps *t)
{
    for (size_t i = 0; i < t->n; i++) {
        int32_t c = t->v[i];
        int edge = i == 0 || i == t->n - 1;
        if (!(is_alpha(c) || is_digit(c) || (edge && is_cjk(c))))
            return 0;
    }
    return 1;
}

/* A name counts as Chinese (limit 10) when any character is not Latin. */
static int name_wide(const cps *t)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i] > 0x7F && !is_symbol(t->v[i]))
            return 1;
    return 0;
}

static int shape_name(const cps *t)
{
    for (size_t i = 0; i < t->n; i++) {
        int32_t c = t->v[i];
        if (is_digit(c))
            return 0;
        if (!is_alpha(c) && !is_symbol(c) && !is_space(c) && !is_cjk(c) && c != 0xB7 &&
            utf8proc_category(c) > UTF8PROC_CATEGORY_LO)
            return 0;
    }
    return 1;
}

/* ---- the mini-program keyword table ---------------------------------------------------- */

typedef struct kwtype {
    const char *name;
    int max;                    /* characters; 0 = no length rule */
    int (*shape)(const cps *t);
    const char *what;           /* the rule, for messages */
} kwtype;

static const kwtype kwtypes[] = {
    {"thing", 20, NULL, "at most 20 characters"},
    {"number", 32, shape_number, "at most 32 digits, optional sign and decimal point"},
    {"letter", 32, shape_letters, "at most 32 Latin letters"},
    {"symbol", 5, shape_symbols, "at most 5 symbols"},
    {"character_string", 32, shape_cs, "at most 32 digits, letters or symbols"},
    {"time", 0, shape_time, "a 24-hour time, optionally after a date; ranges with ~"},
    {"date", 0, shape_date, "a date such as 2019年10月1日 or 2019-10-01, optionally with a time"},
    {"amount", 0, shape_amount, "a currency symbol and at most 10 digits, optional 元"},
    {"phone_number", 17, shape_phone, "at most 17 digits and symbols"},
    {"car_number", 8, shape_car, "at most 8 letters and digits, Chinese only first or last"},
    {"name", 20, shape_name, "at most 10 Chinese characters or 20 letters, no digits"},
    {"phrase", 5, shape_phrase, "at most 5 Chinese characters, nothing else"},
    {"enum", 0, NULL, "one of the template's values"},
};

static const kwtype *kwtype_of(const char *key)
{
    size_t kl = strlen(key);
    while (kl && key[kl - 1] >= '0' && key[kl - 1] <= '9')
        kl--;
    for (size_t i = 0; i < sizeof kwtypes / sizeof kwtypes[0]; i++)
        if (strlen(kwtypes[i].name) == kl && !strncmp(key, kwtypes[i].name, kl))
            return &kwtypes[i];
    return NULL;
}

/* ---- verdicts ---------------------------------------------------------------------------- */

typedef struct ck {
    const char *channel;
    const fr_limits *lim;
    const int *dynamic;
    fr_report *rep;
    cherr *e;
    int failed;
} ck;

static int add_verdict(ck *k, size_t index, const char *field, const char *value, long length,
                       long limit, const char *unit, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

/* Record one verdict (fmt NULL = pass). The first failure goes to k->e. */
static int add_verdict(ck *k, size_t index, const char *field, const char *value, long length,
                       long limit, const char *unit, const char *fmt, ...)
{
    char reason[256] = "";
    if (fmt) {
        char why[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof why, fmt, ap);
        va_end(ap);
        snprintf(reason, sizeof reason, "[%s] %s: %s", k->channel, field, why);
        if (!k->failed)
            err_set(k->e, "%s", reason);
        k->failed = 1;
    }
    if (!k->rep)
        return 0;
    fr_verdict *v = realloc(k->rep->v, (k->rep->n + 1) * sizeof *v);
    if (!v)
        return -1;
    k->rep->v = v;
    v += k->rep->n++;
    memset(v, 0, sizeof *v);
    v->index = index;
    fs_copy(v->field, sizeof v->field, field);
    v->value = strdup(value ? value : "");
    v->length = length;
    v->limit = limit;
    v->unit = unit;
    v->ok = fmt == NULL;
    fs_copy(v->reason, sizeof v->reason, reason);
    return 0;
}

/* Common to every value: valid UTF-8, and no control characters unless allowed.
 * Returns 1 when the value failed (verdict recorded). */
static int basic(ck *k, size_t index, const char *field, const char *value, const cps *t,
                 int allow_newline)
{
    if (!t->ok)
        return add_verdict(k, index, field, value, -1, -1, "characters",
                           "not valid UTF-8 (byte %zu)", t->bad_byte), 1;
    for (size_t i = 0; i < t->n; i++) {
        int32_t c = t->v[i];
        if (allow_newline && (c == '\n' || c == '\r' || c == '\t'))
            continue;
        if (is_control(c)) {
            if (c == '\n' || c == '\r' || c == 0x2028 || c == 0x2029)
                add_verdict(k, index, field, value, (long)t->n, -1, "characters",
                            "a line break at character %zu (not allowed here)", i + 1);
            else
                add_verdict(k, index, field, value, (long)t->n, -1, "characters",
                            "control character U+%04X at character %zu", (unsigned)c, i + 1);
            return 1;
        }
    }
    return 0;
}

/* A length rule: chars (or bytes) in [min, max]; max 0 = none. */
static void length_rule(ck *k, size_t index, const char *field, const char *value, long len,
                        long min, long max, const char *unit, int bound)
{
    if (max && len > max)
        add_verdict(k, index, field, value, len, max, unit, "%s%ld %s, limit %ld",
                    bound ? "at least " : "", len, unit, max);
    else if (!bound && min && len < min)
        add_verdict(k, index, field, value, len, max, unit, "%ld %s, at least %ld needed", len,
                    unit, min);
    else
        add_verdict(k, index, field, value, len, max ? max : -1, unit, NULL);
}

static int is_bound(const ck *k, size_t i) { return k->dynamic && k->dynamic[i]; }

/* A field with only the basic rules (ids, pages, URLs). */
static void plain(ck *k, size_t i, const char *key, const char *value, long max_bytes)
{
    cps t;
    if (decode(value, &t) < 0)
        return;
    if (!basic(k, i, key, value, &t, 0))
        length_rule(k, i, key, value, (long)strlen(value), 0, max_bytes, "bytes", is_bound(k, i));
    free(t.v);
}

/* ---- per channel ---------------------------------------------------------------------------- */

static long count_digits(const cps *t)
{
    long n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += is_digit(t->v[i]) != 0;
    return n;
}

static void mp_field(ck *k, size_t i, const char *key, const char *value)
{
    if (strncmp(key, "data.", 5)) {
        plain(k, i, key, value, 0);
        return;
    }
    cps t;
    if (decode(value, &t) < 0)
        return;
    int bound = is_bound(k, i);
    const kwtype *kt = kwtype_of(key + 5);
    if (basic(k, i, key, value, &t, 0))
        ;
    else if (!t.n && !bound)
        add_verdict(k, i, key, value, 0, -1, "characters", "renders empty");
    else if (!kt)   /* unknown types are refused at load (fr_key_check) */
        add_verdict(k, i, key, value, (long)t.n, -1, "characters", NULL);
    else {
        long max = kt->max;
        if (!strcmp(kt->name, "name") && name_wide(&t))
            max = 10;
        /* a number's limit counts its digits: sign and point are free (§2.2) */
        int digits_only = !strcmp(kt->name, "number");
        long len = digits_only ? count_digits(&t) : (long)t.n;
        const char *unit = digits_only ? "digits" : "characters";
        if (max && len > max)
            length_rule(k, i, key, value, len, 0, max, unit, bound);
        else if (!bound && kt->shape && !kt->shape(&t))
            add_verdict(k, i, key, value, len, max ? max : -1, unit,
                        "'%.60s' is not a %s (%s)", value, kt->name, kt->what);
        else
            add_verdict(k, i, key, value, len, max ? max : -1, unit, NULL);
    }
    free(t.v);
}

static void oa_field(ck *k, size_t i, const char *key, const char *value)
{
    if (strncmp(key, "data.", 5)) {
        plain(k, i, key, value, 0);
        return;
    }
    cps t;
    if (decode(value, &t) < 0)
        return;
    /* since 2023-05 first and remark are not shown; every other keyword shows at most
     * 20 characters, on one line (providers.md §3) */
    int shown = strcmp(key, "data.first") && strcmp(key, "data.remark");
    if (!basic(k, i, key, value, &t, 0))
        length_rule(k, i, key, value, (long)t.n, 0, shown ? 20 : 0, "characters",
                    is_bound(k, i));
    free(t.v);
}

/* Tencent refuses URLs inside template parameters; so do Aliyun's PARAM_NOT_SUPPORT_URL. */
static int has_url(const char *s)
{
    static const char *const tlds[] = {".com", ".cn", ".net", ".org", ".top", ".xyz",
                                       ".cc", ".io", ".me", ".vip", ".shop", ".link"};
    if (strstr(s, "://") || strcasestr(s, "www."))
        return 1;
    for (size_t i = 0; i < sizeof tlds / sizeof tlds[0]; i++) {
        const char *p = s;
        size_t tl = strlen(tlds[i]);
        while ((p = strcasestr(p, tlds[i]))) {
            unsigned char after = (unsigned char)p[tl];
            int word_end = !((after >= 'a' && after <= 'z') || (after >= 'A' && after <= 'Z') ||
                             (after >= '0' && after <= '9'));
            int host_before = p > s && ((p[-1] >= 'a' && p[-1] <= 'z') ||
                                        (p[-1] >= 'A' && p[-1] <= 'Z') ||
                                        (p[-1] >= '0' && p[-1] <= '9') || p[-1] == '-');
            if (word_end && host_before)
                return 1;
            p += tl;
        }
    }
    return 0;
}

/* One SMS parameter: no control characters, not empty, no URL, at most the account's
 * per-parameter length. Adds its length to *total. */
static void sms_param(ck *k, size_t i, const char *field, const char *one, long *total)
{
    int bound = is_bound(k, i);
    cps t;
    if (decode(one, &t) < 0)
        return;
    if (basic(k, i, field, one, &t, 0))
        ;
    else if (!t.n && !bound)
        add_verdict(k, i, field, one, 0, -1, "characters", "renders empty");
    else if (has_url(one))
        add_verdict(k, i, field, one, (long)t.n, -1, "characters",
                    "a URL is not allowed in an SMS parameter");
    else
        length_rule(k, i, field, one, (long)t.n, 0, k->lim->sms_param_chars, "characters",
                    bound);
    *total += (long)t.n;
    free(t.v);
}

/* `params = a, b, c`: split at ASCII commas, each trimmed of spaces and tabs, as the
 * sms channel does; "params =" is no parameter at all. A placeholder that rendered an
 * ASCII comma (render.h, `split`) would split its parameter and move every later one
 * to another slot: refused, and the parameters after it are not checked. */
static void sms_params(ck *k, size_t i, const render_field *f, long *total)
{
    const char *value = f->value;
    const char *p = value + strspn(value, " \t");
    if (!*p)
        return;
    for (int n = 1;; n++) {
        const char *comma = strchr(p, ',');
        size_t l = comma ? (size_t)(comma - p) : strlen(p);
        while (l && (*p == ' ' || *p == '\t')) {
            p++;
            l--;
        }
        while (l && (p[l - 1] == ' ' || p[l - 1] == '\t'))
            l--;
        char *one = strndup(p, l), field[32];
        if (!one)
            return;
        snprintf(field, sizeof field, "param %d", n);
        if (n == f->split) {
            add_verdict(k, i, "params", value, -1, -1, "characters",
                        "parameter %d: {{%s}} renders with an ASCII comma, which would split "
                        "it in two (write ， instead)", n, f->split_by ? f->split_by : "?");
            free(one);
            break;
        }
        sms_param(k, i, field, one, total);
        free(one);
        if (!comma)
            break;
        p = comma + 1;
    }
}

/* Does `provider` get this [sms] key? Tencent gets `params` (else the param.NAME
 * values in order), Aliyun the param.NAME values; each its own template_id.PROVIDER.
 * An unknown provider (NULL, load time) gets everything checked. */
static int sms_sent(const char *provider, const render_out *out, const char *key)
{
    if (!provider)
        return 1;
    int aliyun = !strcmp(provider, "aliyun");
    if (!strcmp(key, "params"))
        return !aliyun;
    if (!strncmp(key, "param.", 6))
        return aliyun || !render_get(out, "params");
    if (!strncmp(key, "template_id.", 12))
        return !strcmp(key + 12, provider);
    return 1;
}

/* WeCom limits (providers.md §4.2 app messages, §4.3 customer broadcast, §4.4 group
 * robot). `type` NULL: any msgtype; a key ending in '.' is a prefix (item.KEY). */
typedef struct wrule {
    const char *channel, *type, *key;
    int bytes;                  /* count bytes (else characters) */
    long min, max;
    int newlines;               /* line breaks allowed */
} wrule;

static const wrule wrules[] = {
    {"wecom", "text", "content", 1, 0, 2048, 1},
    {"wecom", "markdown", "content", 1, 0, 2048, 1},
    {"wecom", "textcard", "title", 1, 0, 128, 0},
    {"wecom", "textcard", "description", 1, 0, 512, 1},
    {"wecom", "textcard", "url", 1, 0, 2048, 0},
    {"wecom", "textcard", "btntxt", 0, 0, 4, 0},
    {"wecom", "miniprogram_notice", "title", 0, 4, 12, 0},
    {"wecom", "miniprogram_notice", "description", 0, 4, 12, 0},
    {"wecom", "miniprogram_notice", "page", 1, 0, 1024, 0},
    {"wecom", "miniprogram_notice", "item.", 0, 0, 30, 0},
    {"wecom_customer", NULL, "content", 1, 0, 4000, 1},
    {"wecom_customer", NULL, "link.title", 1, 0, 128, 0},
    {"wecom_customer", NULL, "link.desc", 1, 0, 512, 1},
    {"wecom_customer", NULL, "link.url", 1, 0, 2048, 0},
    {"wecom_customer", NULL, "miniprogram.title", 1, 0, 64, 0},
    {"wecom_robot", "text", "content", 1, 0, 2048, 1},
    {"wecom_robot", "markdown", "content", 1, 0, 4096, 1},
    {"wecom_robot", "markdown_v2", "content", 1, 0, 4096, 1},
    {"wecom_robot", "news", "title", 1, 0, 128, 0},
    {"wecom_robot", "news", "description", 1, 0, 512, 1},
    {"wecom_robot", "news", "url", 1, 0, 2048, 0},
};

static const wrule *wrule_find(const char *channel, const char *type, const char *key)
{
    for (size_t i = 0; i < sizeof wrules / sizeof wrules[0]; i++) {
        const wrule *r = &wrules[i];
        size_t kl = strlen(r->key);
        if (strcmp(r->channel, channel) || (r->type && strcmp(r->type, type)))
            continue;
        if (r->key[kl - 1] == '.' ? !strncmp(key, r->key, kl) && key[kl] : !strcmp(key, r->key))
            return r;
    }
    return NULL;
}

static void wecom_field(ck *k, const render_out *o, size_t i)
{
    const char *key = o->v[i].key, *value = o->v[i].value, *type = render_get(o, "msgtype");
    if (!type || !*type)
        type = "text";
    const wrule *r = wrule_find(k->channel, type, key);
    cps t;
    if (decode(value, &t) < 0)
        return;
    if (!basic(k, i, key, value, &t, r ? r->newlines : 0)) {
        if (!r)
            add_verdict(k, i, key, value, (long)strlen(value), -1, "bytes", NULL);
        else
            length_rule(k, i, key, value, r->bytes ? (long)strlen(value) : (long)t.n, r->min,
                        r->max, r->bytes ? "bytes" : "characters", is_bound(k, i));
        if (r && !strncmp(key, "item.", 5)) {       /* miniprogram_notice content_item key */
            long kl = fr_chars(key + 5);
            char kf[80];
            snprintf(kf, sizeof kf, "%s (key)", key);
            if (kl > 10)
                add_verdict(k, i, kf, key + 5, kl, 10, "characters", "%ld characters, limit 10",
                            kl);
        }
    }
    free(t.v);
}

static int check(const char *channel, const render_out *out, const int *dynamic,
                 const fr_limits *lim, fr_report *rep, cherr *e)
{
    fr_limits dl;
    if (!lim) {
        fr_limits_default(&dl);
        lim = &dl;
    }
    if (rep)
        memset(rep, 0, sizeof *rep);
    ck k = {channel, lim, dynamic, rep, e, 0};
    long sms_total = 0, items = 0;
    int is_sms = !strcmp(channel, "sms");
    for (size_t i = 0; i < out->n; i++) {
        const char *key = out->v[i].key, *value = out->v[i].value;
        if (!strcmp(channel, "mp_subscribe"))
            mp_field(&k, i, key, value);
        else if (!strcmp(channel, "oa_template"))
            oa_field(&k, i, key, value);
        else if (is_sms && !sms_sent(lim->sms_provider, out, key))
            continue;
        else if (is_sms && !strcmp(key, "params"))
            sms_params(&k, i, &out->v[i], &sms_total);
        else if (is_sms && !strncmp(key, "param.", 6)) {
            long ignored = 0;   /* with `params`, Tencent sends those and not these */
            sms_param(&k, i, key, value, render_get(out, "params") ? &ignored : &sms_total);
        }
        else if (!strncmp(channel, "wecom", 5))
            wecom_field(&k, out, i);
        else
            plain(&k, i, key, value, 0);
        items += !strcmp(channel, "wecom") && !strncmp(key, "item.", 5);
    }
    if (items > 10)
        add_verdict(&k, 0, "item.*", "", items, 10, "items", "%ld content items, limit 10", items);
    /* the whole SMS: the approved template's own text is not known here, so this counts
     * the parameters and the signature, a lower bound of what the provider counts */
    if (is_sms && lim->sms_content_chars) {
        long sign = lim->sms_sign_name ? fr_chars(lim->sms_sign_name) + 2 : 0;
        long whole = sms_total + (sign > 0 ? sign : 0);
        if (whole > lim->sms_content_chars)
            add_verdict(&k, 0, "whole SMS", "", whole, lim->sms_content_chars, "characters",
                        "at least %ld characters with the signature, limit %d", whole,
                        lim->sms_content_chars);
    }
    return k.failed ? -1 : 0;
}

int fr_check(const char *channel, const render_out *out, const fr_limits *lim, fr_report *rep,
             cherr *e)
{
    return check(channel, out, NULL, lim, rep, e);
}

int fr_check_bound(const char *channel, const render_out *out, const int *dynamic,
                   const fr_limits *lim, fr_report *rep, cherr *e)
{
    return check(channel, out, dynamic, lim, rep, e);
}

int fr_key_check(const char *channel, const char *key, cherr *e)
{
    if (strcmp(channel, "mp_subscribe") || strncmp(key, "data.", 5))
        return 0;
    const char *kw = key + 5;
    size_t kl = strlen(kw), tl = kl;
    while (tl && kw[tl - 1] >= '0' && kw[tl - 1] <= '9')
        tl--;
    if (tl == kl)
        return err_set(e, "[%s] %s: a keyword is a type and a number (thing1, time2, ...)",
                       channel, key);
    if (!kwtype_of(kw))
        return err_set(e, "[%s] %s: unknown keyword type '%.*s' (thing, number, letter, symbol, "
                          "character_string, time, date, amount, phone_number, car_number, "
                          "name, phrase, enum)", channel, key, (int)tl, kw);
    return 0;
}

void fr_limits_default(fr_limits *lim)
{
    lim->sms_param_chars = 12;
    lim->sms_content_chars = 500;
    lim->sms_sign_name = NULL;
    lim->sms_provider = NULL;
}

int fr_limits_load(fr_limits *lim, const config *cfg, cherr *e)
{
    fr_limits_default(lim);
    long p, c;
    if (cfg_int(cfg, "channel.sms", "param_max_chars", lim->sms_param_chars, 0, 1000, &p, e) < 0 ||
        cfg_int(cfg, "channel.sms", "content_max_chars", lim->sms_content_chars, 0, 5000, &c,
                e) < 0)
        return -1;
    lim->sms_param_chars = (int)p;
    lim->sms_content_chars = (int)c;
    const char *sign = cfg_str(cfg, "channel.sms", "sign_name", NULL);
    lim->sms_sign_name = sign && *sign ? sign : NULL;
    lim->sms_provider = cfg_str(cfg, "channel.sms", "provider", NULL);
    return 0;
}

void fr_report_free(fr_report *rep)
{
    if (!rep)
        return;
    for (size_t i = 0; i < rep->n; i++)
        free(rep->v[i].value);
    free(rep->v);
    memset(rep, 0, sizeof *rep);
}
