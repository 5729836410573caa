/* render.c — placeholder expansion, filters and section overrides (see render.h).
 *
 * A placeholder is parsed once into a name, an optional inline default and up to
 * MAX_FILTERS filters; render_check runs the same parser at load time, so a template
 * that loads never meets an unknown filter while sending. Character counts are
 * Unicode code points (what the providers count); truncation cuts only between
 * grapheme clusters, so a combining mark or an emoji modifier stays with its base. */
#include "render.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "fixstr.h"
#include "timeutil.h"
#include "tz.h"

#define MAX_DEPTH 8         /* copy keys may refer to copy keys, this deep */
#define MAX_PH 256          /* bytes between {{ and }} */
#define MAX_FILTERS 4
#define MAX_TRUNC 1000

enum { F_TIME, F_YUAN, F_TRUNC };

typedef struct rfilter {
    int kind;
    int n;                  /* trunc: the limit */
    char arg[96];           /* time: the format */
} rfilter;

/* One parsed placeholder; `dflt` points into the text it was parsed from. */
typedef struct ph {
    char name[MAX_PH];
    const char *dflt;
    size_t dlen;
    int has_dflt;
    rfilter f[MAX_FILTERS];
    int nf;
} ph;

/* The sections a key of `section` is looked up in, most specific first (variant,
 * segment, tier, base), those the template does not have left out: worked out once per
 * expansion, not for every key. */
typedef struct rchain {
    const char *section;    /* what `name` is for; NULL = not worked out yet */
    const char *name[4];
    int n;
    int variant;            /* name[0] is the variant's section */
    char sbuf[3][200];
} rchain;

/* One expansion: the context plus what the load-time (min) mode needs. */
typedef struct rx {
    const render_ctx *c;
    const char *variant;    /* resolved: NULL = none */
    int min;                /* variables render empty (render_channel_min) */
    int dynamic;            /* a variable was used */
    int origin;             /* line of the first copy key used at the top level */
    int list;               /* a list value ([sms] params): its ASCII commas written in
                               the template separate the items (render_section) */
    int split;              /* ... the item where a placeholder rendered one, 0: none */
    char *split_by;         /* ... that placeholder's name (owned) */
    rchain copy, chan;      /* lookup chains of [copy] and of the channel's section */
} rx;

static const char *const filter_names[] = {"time", "date", "yuan", "trunc", "default"};

/* ---- parsing placeholders --------------------------------------------------------- */

static void trim(const char **s, size_t *n)
{
    while (*n && **s == ' ') {
        (*s)++;
        (*n)--;
    }
    while (*n && (*s)[*n - 1] == ' ')
        (*n)--;
}

/* Does s[0..n) look like a filter: a lowercase word, optionally ":args"? Sets *wl. */
static int filter_like(const char *s, size_t n, size_t *wl)
{
    size_t i = 0;
    while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' ||
                     (i && s[i] >= '0' && s[i] <= '9')))
        i++;
    *wl = i;
    return i > 0 && (i == n || s[i] == ':');
}

/* Edit distance with transpositions (optimal string alignment), for "did you mean";
 * short ASCII words only. */
static int distance(const char *a, size_t al, const char *b)
{
    size_t bl = strlen(b);
    if (al > 15 || bl > 15)
        return 99;
    int d[16][16];
    for (size_t i = 0; i <= al; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= bl; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= al; i++)
        for (size_t j = 1; j <= bl; j++) {
            int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < d[i][j])
                d[i][j] = d[i - 2][j - 2] + 1;
        }
    return d[al][bl];
}

static const char *near_filter(const char *w, size_t wl)
{
    for (size_t i = 0; i < sizeof filter_names / sizeof filter_names[0]; i++)
        if (distance(w, wl, filter_names[i]) == 1)
            return filter_names[i];
    return NULL;
}

/* The conversions |time understands: %Y %y %m %d %e %H %M %S %a %z %F %R %%, and
 * %-m %-d %-H without the leading zero. %a is the Chinese weekday (周一 … 周日). */
static int time_format_check(const char *f, cherr *e)
{
    for (const char *p = f; *p; p++) {
        if (*p != '%')
            continue;
        p++;
        if (*p == '-') {
            p++;
            if (*p == 'm' || *p == 'd' || *p == 'H')
                continue;
            return err_set(e, "time: '%%-%c' is not a conversion (%%-m, %%-d, %%-H)", *p ? *p : ' ');
        }
        if (!*p || !strchr("YymdeHMSazFR%", *p))
            return err_set(e, "time: unknown conversion '%%%c' (use %%Y %%y %%m %%d %%e %%H %%M "
                              "%%S %%a %%z %%F %%R, or %%-m %%-d %%-H)", *p ? *p : ' ');
    }
    return 0;
}

/* Parse one filter segment `s` (trimmed, n bytes) into f. 1 = a filter, 0 = not
 * filter-like at all, -1 = error. */
static int parse_filter(const char *s, size_t n, rfilter *f, cherr *e)
{
    size_t wl;
    if (!filter_like(s, n, &wl))
        return 0;
    const char *arg = wl < n ? s + wl + 1 : NULL;
    size_t al = arg ? n - wl - 1 : 0;
    memset(f, 0, sizeof *f);
    if ((wl == 4 && !strncmp(s, "time", 4)) || (wl == 4 && !strncmp(s, "date", 4))) {
        f->kind = F_TIME;
        const char *dflt = s[0] == 't' ? "%Y-%m-%d %H:%M" : "%Y-%m-%d";
        if (!arg) {
            fs_copy(f->arg, sizeof f->arg, dflt);
            return 1;
        }
        if (al == 0 || al >= sizeof f->arg)
            return err_set(e, "%.4s: the format must be 1 to %zu bytes", s, sizeof f->arg - 1);
        memcpy(f->arg, arg, al);
        f->arg[al] = '\0';
        return time_format_check(f->arg, e) < 0 ? -1 : 1;
    }
    if (wl == 4 && !strncmp(s, "yuan", 4)) {
        if (arg)
            return err_set(e, "yuan takes no argument");
        f->kind = F_YUAN;
        return 1;
    }
    if (wl == 5 && !strncmp(s, "trunc", 5)) {
        long v = 0;
        size_t i = 0;
        while (arg && i < al && arg[i] >= '0' && arg[i] <= '9' && v <= MAX_TRUNC)
            v = v * 10 + (arg[i++] - '0');
        if (!arg || i == 0 || i != al || v < 1 || v > MAX_TRUNC)
            return err_set(e, "trunc needs a length from 1 to %d: trunc:N", MAX_TRUNC);
        f->kind = F_TRUNC;
        f->n = (int)v;
        return 1;
    }
    if (wl == 7 && !strncmp(s, "default", 7))
        return err_set(e, "default needs a text: default:TEXT");
    const char *near = near_filter(s, wl);
    if (near)
        return err_set(e, "unknown filter '%.*s' (did you mean '%s'?)", (int)wl, s, near);
    return err_set(e, "unknown filter '%.*s' (filters: time, date, yuan, trunc, default)",
                   (int)wl, s);
}

/* Is the first segment after the name an inline default rather than a filter? Anything
 * that is not a lowercase word is (朋友, 10:00, the empty string); so is a bare word that
 * is no filter's name and not one edit away from one ({{x|none}}). "word:..." is always
 * meant as a filter, and a misspelt filter is an error, not a default. */
static int first_is_default(const char *t, size_t tl)
{
    size_t wl;
    if (!filter_like(t, tl, &wl))
        return 1;
    if (wl != tl || near_filter(t, wl))
        return 0;
    for (size_t i = 0; i < sizeof filter_names / sizeof filter_names[0]; i++)
        if (strlen(filter_names[i]) == wl && !strncmp(t, filter_names[i], wl))
            return 0;
    return 1;
}

/* Parse the text between {{ and }}. Errors: "empty placeholder", unknown filters. */
static int ph_parse(const char *s, size_t n, ph *p, cherr *e)
{
    memset(p, 0, sizeof *p);
    if (n >= MAX_PH)
        return err_set(e, "placeholder longer than %d bytes", MAX_PH - 1);
    const char *bar = memchr(s, '|', n);
    const char *nm = s;
    size_t nl = bar ? (size_t)(bar - s) : n;
    trim(&nm, &nl);
    if (!nl)
        return err_set(e, "empty placeholder");
    memcpy(p->name, nm, nl);
    p->name[nl] = '\0';
    for (int seg = 1; bar; seg++) {
        const char *raw = bar + 1;
        bar = memchr(raw, '|', n - (size_t)(raw - s));
        size_t rl = bar ? (size_t)(bar - raw) : n - (size_t)(raw - s);
        const char *t = raw;
        size_t tl = rl;
        trim(&t, &tl);
        if (tl >= 8 && !strncmp(t, "default:", 8)) {
            if (p->has_dflt)
                return err_set(e, "'%s' has two defaults", p->name);
            p->has_dflt = 1;
            p->dflt = t + 8;
            p->dlen = tl - 8;
            continue;
        }
        if (seg == 1 && !p->has_dflt && first_is_default(t, tl)) {
            p->has_dflt = 1;            /* {{name|朋友}}: kept as written, spaces too */
            p->dflt = raw;
            p->dlen = rl;
            continue;
        }
        if (p->nf == MAX_FILTERS)
            return err_set(e, "more than %d filters on '%s'", MAX_FILTERS, p->name);
        int r = parse_filter(t, tl, &p->f[p->nf], e);
        if (r < 0)
            return -1;
        if (r == 0)
            return err_set(e, "'%.*s' is not a filter (an inline default comes first, "
                              "{{%s|default|filter}}, or write default:TEXT)", (int)tl, t,
                           p->name);
        p->nf++;
    }
    return 0;
}

int render_check(const char *src, cherr *e)
{
    const char *p = src;
    while ((p = strstr(p, "{{"))) {
        const char *end = strstr(p + 2, "}}");
        if (!end)
            return err_set(e, "unclosed '{{'");
        for (const char *r = p + 2; r < end; r++)
            if (r[0] == '{' && r[1] == '{')
                return err_set(e, "'{{' inside a placeholder");
        const char *q = p + 2;
        while (q < end && *q == ' ')
            q++;
        if (q == end || *q == '|')
            return err_set(e, "empty placeholder '{{}}'");
        ph h;
        if (ph_parse(p + 2, (size_t)(end - p - 2), &h, e) < 0)
            return -1;
        p = end + 2;
    }
    return 0;
}

/* ---- filters ------------------------------------------------------------------------ */

/* Number of code points in s, or -1 when s is not valid UTF-8. */
static long cp_count(const char *s, size_t n)
{
    long k = 0;
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    while (n) {
        utf8proc_int32_t c;
        utf8proc_ssize_t l = utf8proc_iterate(p, (utf8proc_ssize_t)n, &c);
        if (l <= 0)
            return -1;
        p += l;
        n -= (size_t)l;
        k++;
    }
    return k;
}

/* At most `limit` code points; when cut, whole grapheme clusters then "…" (which
 * counts as one). */
static int f_trunc(const char *s, size_t n, int limit, buf *out, cherr *e)
{
    long total = cp_count(s, n);
    if (total < 0)
        return err_set(e, "trunc: the value is not valid UTF-8");
    if (total <= limit)
        return buf_add(out, s, n);
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    size_t i = 0, keep = 0;     /* bytes scanned; bytes up to the last cluster boundary */
    long cps = 0;
    utf8proc_int32_t prev = -1, state = 0;
    while (cps < limit - 1) {   /* room for one more code point beside the "…" */
        utf8proc_int32_t c;
        utf8proc_ssize_t l = utf8proc_iterate(p + i, (utf8proc_ssize_t)(n - i), &c);
        if (prev >= 0 && utf8proc_grapheme_break_stateful(prev, c, &state))
            keep = i;           /* a cluster ended before c */
        prev = c;
        i += (size_t)l;
        cps++;
    }
    /* does the last code point taken end its cluster? (total > limit, so one follows) */
    utf8proc_int32_t next;
    utf8proc_iterate(p + i, (utf8proc_ssize_t)(n - i), &next);
    if (prev >= 0 && utf8proc_grapheme_break_stateful(prev, next, &state))
        keep = i;
    buf_add(out, s, keep);
    return buf_puts(out, "…");
}

static int f_yuan(const char *s, buf *out, cherr *e)
{
    const char *p = s;
    int neg = *p == '-';
    p += neg;
    long long v = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 18; p++, digits++)
        v = v * 10 + (*p - '0');
    if (!digits || *p)
        return err_set(e, "yuan: '%.40s' is not an integer amount in fen", s);
    return buf_printf(out, "%s¥%lld.%02lld", neg && v ? "-" : "", v / 100, v % 100);
}

/* An instant from a variable: ISO 8601 with an offset, or epoch seconds / ms. */
static int parse_instant(const char *s, int64_t *ms, cherr *e)
{
    const char *p = s + (*s == '-');
    size_t n = strspn(p, "0123456789");
    if (n && !p[n] && n <= 15) {
        long long v = strtoll(s, NULL, 10);
        *ms = (v > 99999999999LL || v < -99999999999LL) ? v : v * 1000;
        return 0;
    }
    cherr e2;
    if (*s == '+' || !strncmp(s, "now", 3) || tu_parse_time(s, 0, ms, &e2) < 0)
        return err_set(e, "time: '%.40s' is not an ISO 8601 time with an offset, or epoch "
                          "seconds", s);
    return 0;
}

static const char *const zh_weekday[] = {"周日", "周一", "周二", "周三", "周四", "周五", "周六"};

static int f_time(const char *s, const char *fmt, const char *zone, buf *out, cherr *e)
{
    int64_t ms;
    if (parse_instant(s, &ms, e) < 0)
        return -1;
    tz_local l;
    tz_to_local(zone && *zone ? zone : "UTC", ms, &l);
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            buf_add(out, p, 1);
            continue;
        }
        int pad = 1;
        if (*++p == '-') {
            pad = 0;
            p++;
        }
        int off = l.offset_min < 0 ? -l.offset_min : l.offset_min;
        switch (*p) {
        case 'Y': buf_printf(out, "%04d", l.year); break;
        case 'y': buf_printf(out, "%02d", l.year % 100); break;
        case 'm': buf_printf(out, pad ? "%02d" : "%d", l.month); break;
        case 'd': buf_printf(out, pad ? "%02d" : "%d", l.day); break;
        case 'e': buf_printf(out, "%d", l.day); break;
        case 'H': buf_printf(out, pad ? "%02d" : "%d", l.hour); break;
        case 'M': buf_printf(out, "%02d", l.min); break;
        case 'S': buf_printf(out, "%02d", l.sec); break;
        case 'a': buf_puts(out, zh_weekday[l.wday % 7]); break;
        case 'z': buf_printf(out, "%c%02d%02d", l.offset_min < 0 ? '-' : '+', off / 60, off % 60);
                  break;
        case 'F': buf_printf(out, "%04d-%02d-%02d", l.year, l.month, l.day); break;
        case 'R': buf_printf(out, "%02d:%02d", l.hour, l.min); break;
        case '%': buf_puts(out, "%"); break;
        default: return err_set(e, "time: unknown conversion in '%s'", fmt);
        }
    }
    return 0;
}

static int apply_filters(const rx *x, const ph *h, buf *val, cherr *e)
{
    for (int i = 0; i < h->nf; i++) {
        buf next = {0};
        int r = 0;
        const char *v = val->s ? val->s : "";
        switch (h->f[i].kind) {
        case F_TRUNC: r = f_trunc(v, val->len, h->f[i].n, &next, e); break;
        case F_YUAN: r = f_yuan(v, &next, e); break;
        case F_TIME: r = f_time(v, h->f[i].arg, x->c->tz, &next, e); break;
        }
        if (r < 0) {
            buf_free(&next);
            return err_prefix(e, "%s: ", h->name);
        }
        buf_free(val);
        *val = next;
    }
    return 0;
}

/* ---- resolving names ------------------------------------------------------------------ */

/* Add section `name` to the chain, unless the (indexed) template has no such section. */
static void chain_add(rchain *ch, const inif *ini, const char *name)
{
    if (!inif_indexed(ini) || inif_section(ini, name) >= 0)
        ch->name[ch->n++] = name;
}

static const rchain *chain_for(rx *x, const char *section)
{
    int copy = !strcmp(section, "copy");
    rchain *ch = copy ? &x->copy : &x->chan;
    if (ch->section && !strcmp(ch->section, section))
        return ch;
    const render_ctx *c = x->c;
    const inif *ini = &c->t->ini;
    memset(ch, 0, sizeof *ch);
    ch->section = copy ? "copy" : section;
    if (x->variant) {
        if (copy)
            fs_cat(ch->sbuf[0], sizeof ch->sbuf[0], "variant.", x->variant, NULL);
        else
            fs_cat(ch->sbuf[0], sizeof ch->sbuf[0], "variant.", x->variant, ".", section, NULL);
        chain_add(ch, ini, ch->sbuf[0]);
        ch->variant = ch->n == 1;
    }
    if (c->segment && *c->segment) {
        fs_cat(ch->sbuf[1], sizeof ch->sbuf[1], section, ".segment.", c->segment, NULL);
        chain_add(ch, ini, ch->sbuf[1]);
    }
    if (c->tier && *c->tier) {
        fs_cat(ch->sbuf[2], sizeof ch->sbuf[2], section, ".tier.", c->tier, NULL);
        chain_add(ch, ini, ch->sbuf[2]);
    }
    ch->name[ch->n++] = ch->section;
    return ch;
}

/* Value of `key` in `section`, most specific override first. A variant's [variant.X]
 * has its own `weight`, which is not a copy key. */
static const inif_entry *lookup_section(rx *x, const char *section, const char *key)
{
    const rchain *ch = chain_for(x, section);
    const inif_entry *en;
    for (int i = 0; i < ch->n; i++) {
        if (i == 0 && ch->variant && !strcmp(ch->section, "copy") && !strcmp(key, "weight"))
            continue;
        if ((en = inif_find(&x->c->t->ini, ch->name[i], key)))
            return en;
    }
    return NULL;
}

static int expand(rx *x, const char *src, buf *out, int depth, cherr *e);

static int json_value(json_t *obj, const char *name, buf *out)
{
    json_t *v = obj ? json_object_get(obj, name) : NULL;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v))
        buf_add(out, json_string_value(v), json_string_length(v));
    else if (json_is_integer(v))
        buf_printf(out, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        buf_printf(out, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        buf_puts(out, json_is_true(v) ? "true" : "false");
    else
        return 0;
    return 1;
}

/* 1: found (appended to out), 0: missing, -1: error. */
static int resolve(rx *x, const char *name, buf *out, int depth, cherr *e)
{
    const render_ctx *c = x->c;
    if (json_value(c->vars, name, out) || json_value(c->attrs, name, out))
        return 1;
    const char *field = !strcmp(name, "user_id") ? c->user_id
                        : !strcmp(name, "tier")  ? c->tier
                        : !strcmp(name, "segment") ? c->segment : NULL;
    if (field)
        return buf_puts(out, field) < 0 ? err_set(e, "out of memory") : 1;
    const inif_entry *en = lookup_section(x, "copy", name);
    if (en) {
        if (depth >= MAX_DEPTH)
            return err_set(e, "copy key '%s' refers to itself (or nests deeper than %d)", name,
                           MAX_DEPTH);
        if (depth == 0 && !x->origin)
            x->origin = en->line;
        return expand(x, en->value, out, depth + 1, e) < 0 ? -1 : 1;
    }
    char dkey[MAX_PH + 16];
    fs_cat(dkey, sizeof dkey, "default.", name, NULL);
    if ((en = inif_find(&c->t->ini, "template", dkey))) {
        if (depth >= MAX_DEPTH)
            return err_set(e, "default.%s refers to itself (or nests deeper than %d)", name,
                           MAX_DEPTH);
        return expand(x, en->value, out, depth + 1, e) < 0 ? -1 : 1;
    }
    return 0;
}

static int expand(rx *x, const char *src, buf *out, int depth, cherr *e)
{
    const char *p = src;
    for (;;) {
        const char *open = strstr(p, "{{");
        if (!open)
            return buf_puts(out, p);
        buf_add(out, p, (size_t)(open - p));
        const char *close = strstr(open + 2, "}}");
        if (!close)
            return err_set(e, "unclosed '{{'");
        ph h;
        if (ph_parse(open + 2, (size_t)(close - open - 2), &h, e) < 0)
            return -1;
        buf val = {0};
        size_t at = out->len;
        int r = resolve(x, h.name, &val, depth, e);
        if (r > 0 && apply_filters(x, &h, &val, e) < 0)
            r = -1;
        if (r > 0)
            buf_add(out, val.s ? val.s : "", val.len);
        buf_free(&val);
        if (r < 0)
            return -1;
        if (r == 0) {
            if (x->min && x->list && depth == 0 && h.has_dflt && memchr(h.dflt, ',', h.dlen))
                buf_add(out, h.dflt, h.dlen);   /* a default's comma: caught below */
            else if (x->min)
                x->dynamic = 1;     /* could be anything, the empty string included */
            else if (h.has_dflt)
                buf_add(out, h.dflt, h.dlen);
            else
                return err_set(e, "missing variable '%s'", h.name);
        }
        if (x->list && depth == 0 && !x->split && out->len > at &&
            memchr(out->s + at, ',', out->len - at)) {
            int item = 1;       /* every comma before it is the template's own */
            for (size_t i = 0; i < at; i++)
                item += out->s[i] == ',';
            if (!(x->split_by = strdup(h.name)))
                return err_set(e, "out of memory");
            x->split = item;
        }
        p = close + 2;
    }
}

const char *render_variant(const render_ctx *c)
{
    if (c->variant)
        return *c->variant ? c->variant : NULL;
    return c->user_id ? tpl_variant_for(c->t, c->user_id) : NULL;
}

int render_string(const render_ctx *c, const char *src, buf *out, cherr *e)
{
    rx x = {.c = c, .variant = render_variant(c)};
    return expand(&x, src, out, 0, e);
}

/* ---- names and values, for callers that check many messages at once ------------- */

typedef struct name_acc {
    char (*name)[MAX_PH];
    unsigned *filters;
    size_t n, cap;
} name_acc;

static int name_note(name_acc *a, const ph *h)
{
    unsigned f = 0;
    for (int i = 0; i < h->nf; i++)
        f |= h->f[i].kind == F_TIME ? RENDER_F_TIME : h->f[i].kind == F_YUAN ? RENDER_F_YUAN : 0;
    for (size_t i = 0; i < a->n; i++) {
        if (!strcmp(a->name[i], h->name)) {
            a->filters[i] |= f;
            return 0;
        }
    }
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 16;
        void *nn = realloc(a->name, nc * sizeof *a->name), *nf;
        if (!nn)
            return -1;
        a->name = nn;
        if (!(nf = realloc(a->filters, nc * sizeof *a->filters)))
            return -1;
        a->filters = nf;
        a->cap = nc;
    }
    memcpy(a->name[a->n], h->name, MAX_PH);
    a->filters[a->n++] = f;
    return 0;
}

int render_names(const tpl *t, render_name_fn fn, void *arg)
{
    name_acc a = {0};
    int rc = 0;
    for (size_t i = 0; i < t->ini.n && rc == 0; i++) {
        const char *p = t->ini.v[i].value, *open, *close;
        while (rc == 0 && (open = strstr(p, "{{")) && (close = strstr(open + 2, "}}"))) {
            ph h;
            cherr e;
            if (ph_parse(open + 2, (size_t)(close - open - 2), &h, &e) == 0 &&
                name_note(&a, &h) < 0)
                rc = -1;
            p = close + 2;
        }
    }
    for (size_t i = 0; i < a.n && rc == 0; i++)
        rc = fn(a.name[i], a.filters[i], arg);
    free(a.name);
    free(a.filters);
    return rc;
}

int render_value_check(const char *name, const char *value, unsigned filters, cherr *e)
{
    buf out = {0};
    int rc = 0;
    if (filters & RENDER_F_TIME) {
        int64_t ms;
        rc = parse_instant(value, &ms, e);
    }
    if (rc == 0 && (filters & RENDER_F_YUAN))
        rc = f_yuan(value, &out, e);
    buf_free(&out);
    return rc < 0 ? err_prefix(e, "%s: ", name) : 0;
}

/* ---- channel sections -------------------------------------------------------------------- */

static int add_field(render_out *o, const char *key, char *value, int line, rx *x)
{
    render_field *v = realloc(o->v, (o->n + 1) * sizeof *v);
    if (!v) {
        free(value);
        free(x->split_by);
        x->split_by = NULL;
        x->split = 0;
        return -1;
    }
    o->v = v;
    o->v[o->n].key = strdup(key);
    o->v[o->n].value = value;
    o->v[o->n].line = line;
    o->v[o->n].split = x->split;
    o->v[o->n].split_by = x->split_by;
    x->split = 0;
    x->split_by = NULL;
    o->n++;
    return 0;
}

static int add_int(int **v, size_t n, int val)
{
    int *nv = realloc(*v, (n + 1) * sizeof *nv);
    if (!nv)
        return -1;
    nv[n] = val;
    *v = nv;
    return 0;
}

static int render_section(rx *x, const char *channel, render_out *out, int **dyn, int **origin,
                          cherr *e)
{
    const render_ctx *c = x->c;
    memset(out, 0, sizeof *out);
    char seg[200] = "", tier[200] = "", var[200] = "";
    if (c->segment && *c->segment)
        fs_cat(seg, sizeof seg, channel, ".segment.", c->segment, NULL);
    if (c->tier && *c->tier)
        fs_cat(tier, sizeof tier, channel, ".tier.", c->tier, NULL);
    if (x->variant)
        fs_cat(var, sizeof var, "variant.", x->variant, ".", channel, NULL);
    /* every key of the base and override sections, once, in file order */
    const inif *ini = &c->t->ini;
    int fast = inif_indexed(ini);
    int ids[4] = {-1, -1, -1, -1};
    if (fast) {
        ids[0] = inif_section(ini, channel);
        ids[1] = seg[0] ? inif_section(ini, seg) : -1;
        ids[2] = tier[0] ? inif_section(ini, tier) : -1;
        ids[3] = var[0] ? inif_section(ini, var) : -1;
    }
    for (size_t i = 0; i < ini->n; i++) {
        const inif_entry *en = &ini->v[i];
        if (fast ? en->sec < 0 || (en->sec != ids[0] && en->sec != ids[1] &&
                                   en->sec != ids[2] && en->sec != ids[3])
                 : strcmp(en->section, channel) && strcmp(en->section, seg) &&
                       strcmp(en->section, tier) && strcmp(en->section, var))
            continue;
        if (render_get(out, en->key))
            continue;
        const inif_entry *use = lookup_section(x, channel, en->key);
        buf b = {0};
        x->dynamic = 0;
        x->origin = 0;
        x->list = !strcmp(channel, "sms") && !strcmp(en->key, "params");
        int rc = expand(x, use->value, &b, 0, e);
        x->list = 0;
        if (rc < 0) {
            buf_free(&b);
            free(x->split_by);
            x->split_by = NULL;
            x->split = 0;
            err_prefix(e, "%s:%d: [%s] %s: ", c->t->ini.path, use->line, use->section, use->key);
            render_out_free(out);
            return -1;
        }
        size_t n = out->n;
        if (add_field(out, en->key, buf_take(&b), use->line, x) < 0 ||
            (dyn && add_int(dyn, n, x->dynamic) < 0) ||
            (origin && add_int(origin, n, x->origin ? x->origin : use->line) < 0)) {
            render_out_free(out);
            return err_set(e, "out of memory");
        }
    }
    return 0;
}

int render_channel(const render_ctx *c, const char *channel, render_out *out, cherr *e)
{
    rx x = {.c = c, .variant = render_variant(c)};
    return render_section(&x, channel, out, NULL, NULL, e);
}

int render_key(const render_ctx *c, const char *channel, const char *key, buf *out, cherr *e)
{
    rx x = {.c = c, .variant = render_variant(c)};
    const inif_entry *en = lookup_section(&x, channel, key);
    if (!en)
        return 0;
    if (expand(&x, en->value, out, 0, e) < 0)
        return err_prefix(e, "%s:%d: [%s] %s: ", c->t->ini.path, en->line, en->section, en->key);
    return 1;
}

int render_channel_min(const render_ctx *c, const char *channel, render_out *out, int **dynamic,
                       int **origin, cherr *e)
{
    rx x = {.c = c, .variant = render_variant(c), .min = 1};
    *dynamic = NULL;
    *origin = NULL;
    if (render_section(&x, channel, out, dynamic, origin, e) < 0) {
        free(*dynamic);
        free(*origin);
        *dynamic = *origin = NULL;
        return -1;
    }
    return 0;
}

const char *render_get(const render_out *o, const char *key)
{
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(o->v[i].key, key))
            return o->v[i].value;
    return NULL;
}

void render_out_free(render_out *o)
{
    for (size_t i = 0; i < o->n; i++) {
        free(o->v[i].key);
        free(o->v[i].value);
        free(o->v[i].split_by);
    }
    free(o->v);
    memset(o, 0, sizeof *o);
}
