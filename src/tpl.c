/* tpl.c — loading and checking copy templates, A/B variant and holdout assignment
 * (see tpl.h). */
#include "tpl.h"

#include <dirent.h>
#include <mbedtls/sha256.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "fieldrule.h"
#include "render.h"

#define MAX_COMBOS 512      /* tier x segment x variant combinations checked at load */
#define MAX_WEIGHT 1000000

int tpl_class_valid(const char *k)
{
    return k && (!strcmp(k, "transactional") || !strcmp(k, "lifecycle") ||
                 !strcmp(k, "marketing"));
}

void tpl_free(tpl *t)
{
    free(t->name);
    free(t->klass);
    for (char **v = t->vars; v && *v; v++)
        free(*v);
    free(t->vars);
    for (size_t i = 0; i < t->nvariants; i++)
        free(t->variants[i].name);
    free(t->variants);
    inif_free(&t->ini);
    memset(t, 0, sizeof *t);
}

/* Split "a, b ,c" into a NULL-terminated array of trimmed names. */
static char **split_list(const char *s)
{
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    char **v = calloc(n + 1, sizeof *v);
    if (!v)
        return NULL;
    size_t k = 0;
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *q = p;
        while (*q && *q != ',')
            q++;
        const char *end = q;
        while (end > p && end[-1] == ' ')
            end--;
        if (end > p)
            v[k++] = strndup(p, (size_t)(end - p));
        p = q;
    }
    return v;
}

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

/* The variant name of [variant.NAME] or [variant.NAME.CHANNEL] (into out), or NULL. */
static const char *variant_of(const char *sec, char *out, size_t len, const char **channel)
{
    if (strncmp(sec, "variant.", 8))
        return NULL;
    const char *n = sec + 8, *q = n;
    while (name_char(*q))
        q++;
    if (q == n || (size_t)(q - n) >= len || (*q && *q != '.'))
        return NULL;
    memcpy(out, n, (size_t)(q - n));
    out[q - n] = '\0';
    *channel = *q ? q + 1 : NULL;
    return out;
}

/* The channel a section belongs to: CHANNEL, CHANNEL.tier.X, CHANNEL.segment.X or
 * variant.NAME.CHANNEL (the channel registered), else NULL. */
static const chan_ops *section_channel(const char *sec)
{
    char vb[64], base[64];
    const char *ch = NULL;
    if (variant_of(sec, vb, sizeof vb, &ch))
        return ch ? chan_ops_find(ch) : NULL;
    const char *dot = strchr(sec, '.');
    size_t bl = dot ? (size_t)(dot - sec) : strlen(sec);
    if (bl >= sizeof base)
        return NULL;
    memcpy(base, sec, bl);
    base[bl] = '\0';
    return chan_ops_find(base);
}

/* Is `section` one a template may have? [template], [copy], [copy.tier.X],
 * [copy.segment.X], [variant.X], [variant.X.CHANNEL], a channel name, or
 * CHANNEL.tier.X / CHANNEL.segment.X. */
static int section_known(const char *sec)
{
    if (!strcmp(sec, "template") || !strcmp(sec, "copy"))
        return 1;
    char vb[64];
    const char *ch = NULL;
    if (variant_of(sec, vb, sizeof vb, &ch))
        return !ch || chan_ops_find(ch) != NULL;
    char base[64];
    const char *dot = strchr(sec, '.');
    size_t bl = dot ? (size_t)(dot - sec) : strlen(sec);
    if (bl >= sizeof base)
        return 0;
    memcpy(base, sec, bl);
    base[bl] = '\0';
    if (dot && strncmp(dot, ".tier.", 6) && strncmp(dot, ".segment.", 9))
        return 0;
    if (dot && !dot[dot[1] == 't' ? 6 : 9])
        return 0;
    return !strcmp(base, "copy") || chan_ops_find(base) != NULL;
}

int tpl_parse_share(const char *s, int *bp)
{
    long whole = 0, frac = 0;
    int nd = 0, nf = 0;
    const char *p = s;
    while (*p == ' ')
        p++;
    for (; *p >= '0' && *p <= '9' && nd < 4; p++, nd++)
        whole = whole * 10 + (*p - '0');
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9' && nf < 2; p++, nf++)
            frac = frac * 10 + (*p - '0');
    if (nf == 1)
        frac *= 10;
    if (!nd || *p != '%' || p[1] || whole * 100 + frac > 10000)
        return -1;
    *bp = (int)(whole * 100 + frac);
    return 0;
}

/* [variant.NAME] weight = N for every variant a section names. */
static int load_variants(tpl *t, cherr *e)
{
    const char *path = t->ini.path;
    for (size_t i = 0; i < t->ini.n; i++) {
        const inif_entry *en = &t->ini.v[i];
        char vb[64];
        const char *ch = NULL, *name = variant_of(en->section, vb, sizeof vb, &ch);
        if (!name)
            continue;
        size_t k = 0;
        while (k < t->nvariants && strcmp(t->variants[k].name, name))
            k++;
        if (k == t->nvariants) {
            tpl_variant *v = realloc(t->variants, (k + 1) * sizeof *v);
            if (!v)
                return err_set(e, "out of memory");
            t->variants = v;
            t->variants[k] = (tpl_variant){strdup(name), 0, -en->line};
            t->nvariants++;
        }
        if (!ch && !strcmp(en->key, "weight")) {
            char *end;
            long w = strtol(en->value, &end, 10);
            if (end == en->value || *end || w < 0 || w > MAX_WEIGHT)
                return err_set(e, "%s:%d: [%s] weight must be a whole number from 0 to %d",
                               path, en->line, en->section, MAX_WEIGHT);
            t->variants[k].weight = (unsigned)w;
            t->variants[k].line = en->line;
        }
    }
    for (size_t k = 0; k < t->nvariants; k++) {
        if (t->variants[k].line < 0)
            return err_set(e, "%s:%d: variant '%s' has no weight ([variant.%s] weight = N)", path,
                           -t->variants[k].line, t->variants[k].name, t->variants[k].name);
        t->total_weight += t->variants[k].weight;
    }
    const inif_entry *h = inif_find(&t->ini, "template", "holdout");
    if (h) {
        if (tpl_parse_share(h->value, &t->holdout_bp) < 0)
            return err_set(e, "%s:%d: holdout '%s' is not a share such as 5%% (0%% to 100%%)",
                           path, h->line, h->value);
        if (t->holdout_bp && !strcmp(t->klass, "transactional"))
            return err_set(e, "%s:%d: a transactional template cannot have a holdout", path,
                           h->line);
    }
    return 0;
}

/* ---- field rules at load time ----------------------------------------------------------- */

/* Distinct override names: sections "*.tier.X" (what = ".tier.") into list. */
static size_t collect(const tpl *t, const char *what, const char **list, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < t->ini.n; i++) {
        const char *sec = t->ini.v[i].section, *p = strstr(sec, what);
        if (!p || !strncmp(sec, "variant.", 8))
            continue;
        p += strlen(what);
        size_t k = 0;
        while (k < n && strcmp(list[k], p))
            k++;
        if (k == n && n < max)
            list[n++] = p;
    }
    return n;
}

static void combo_name(char *out, size_t len, const char *tier, const char *seg,
                       const char *variant)
{
    snprintf(out, len, "%s%s%s%s%s%s", tier ? "tier " : "", tier ? tier : "",
             seg ? (tier ? ", segment " : "segment ") : "", seg ? seg : "",
             variant ? ((tier || seg) ? ", variant " : "variant ") : "",
             variant ? variant : "");
    if (!*out)
        snprintf(out, len, "every user");
}

/* Render each channel section as short as it can be for one combination and check
 * the field rules. */
static int check_combo(const tpl *t, const char *tier, const char *seg, const char *variant,
                       cherr *e)
{
    render_ctx c = {.t = t, .tier = tier, .segment = seg, .variant = variant ? variant : ""};
    fr_limits lim;          /* the SMS parameter length is the account's: checked at send */
    fr_limits_default(&lim);
    lim.sms_param_chars = 0;
    for (const char *const *ch = chan_names(); *ch; ch++) {
        if (!tpl_has_section(t, *ch))
            continue;
        render_out out;
        int *dyn, *origin;
        if (render_channel_min(&c, *ch, &out, &dyn, &origin, e) < 0)
            return -1;
        fr_report rep;
        cherr fe;
        int rc = fr_check_bound(*ch, &out, dyn, &lim, &rep, &fe);
        if (rc < 0) {
            for (size_t i = 0; i < rep.n; i++) {
                if (rep.v[i].ok)
                    continue;
                char who[200];
                combo_name(who, sizeof who, tier, seg, variant);
                size_t ix = rep.v[i].index < out.n ? rep.v[i].index : 0;
                err_set(e, "%s:%d: %s (%s)", t->ini.path, out.n ? origin[ix] : 0,
                        rep.v[i].reason, who);
                break;
            }
        }
        fr_report_free(&rep);
        render_out_free(&out);
        free(dyn);
        free(origin);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int check_fields(const tpl *t, cherr *e)
{
    for (size_t i = 0; i < t->ini.n; i++) {
        const inif_entry *en = &t->ini.v[i];
        const chan_ops *ops = section_channel(en->section);
        if (ops && fr_key_check(ops->name, en->key, e) < 0)
            return err_prefix(e, "%s:%d: ", t->ini.path, en->line);
    }
    const char *tiers[64], *segs[64], *vars[64];
    size_t nt = collect(t, ".tier.", tiers, 64), ns = collect(t, ".segment.", segs, 64), nv = 0;
    for (size_t k = 0; k < t->nvariants && nv < 64; k++)
        if (t->variants[k].weight)
            vars[nv++] = t->variants[k].name;
    if (!nv)
        vars[nv++] = NULL;
    if ((nt + 1) * (ns + 1) * nv <= MAX_COMBOS) {
        for (size_t v = 0; v < nv; v++)
            for (size_t a = 0; a <= nt; a++)
                for (size_t b = 0; b <= ns; b++)
                    if (check_combo(t, a ? tiers[a - 1] : NULL, b ? segs[b - 1] : NULL, vars[v],
                                    e) < 0)
                        return -1;
        return 0;
    }
    /* too many to try every combination: each override on its own */
    for (size_t v = 0; v < nv; v++)
        if (check_combo(t, NULL, NULL, vars[v], e) < 0)
            return -1;
    for (size_t a = 0; a < nt; a++)
        if (check_combo(t, tiers[a], NULL, vars[0], e) < 0)
            return -1;
    for (size_t b = 0; b < ns; b++)
        if (check_combo(t, NULL, segs[b], vars[0], e) < 0)
            return -1;
    return 0;
}

static int check(tpl *t, cherr *e)
{
    const char *path = t->ini.path;
    const inif_entry *cls = inif_find(&t->ini, "template", "class");
    if (!cls)
        return err_set(e, "%s: [template] class is missing (transactional, lifecycle or "
                          "marketing)", path);
    if (!tpl_class_valid(cls->value))
        return err_set(e, "%s:%d: class '%s' is not transactional, lifecycle or marketing", path,
                       cls->line, cls->value);
    t->klass = strdup(cls->value);
    const inif_entry *vars = inif_find(&t->ini, "template", "vars");
    t->vars = split_list(vars ? vars->value : "");
    int channels = 0;
    for (size_t i = 0; i < t->ini.n; i++) {
        const inif_entry *en = &t->ini.v[i];
        if (!section_known(en->section))
            return err_set(e, "%s:%d: unknown section [%s]", path, en->line, en->section);
        if (!strcmp(en->section, "template") && strcmp(en->key, "class") &&
            strcmp(en->key, "vars") && strncmp(en->key, "default.", 8) &&
            strcmp(en->key, "holdout") && strcmp(en->key, "description"))
            return err_set(e, "%s:%d: unknown key '%s' in [template]", path, en->line, en->key);
        if (render_check(en->value, e) < 0)
            return err_prefix(e, "%s:%d: %s: ", path, en->line, en->key);
        if (chan_ops_find(en->section))
            channels++;
    }
    if (!channels)
        return err_set(e, "%s: no channel section ([mp_subscribe], [oa_template], [sms], [wecom] "
                          "or [wecom_robot])", path);
    /* each channel section must satisfy its channel's required keys, and its overrides
     * ([CHANNEL.tier.X], [CHANNEL.segment.S], [variant.V.CHANNEL]) take only its keys */
    for (size_t i = 0; i < t->ini.n; i++) {
        const chan_ops *ops = section_channel(t->ini.v[i].section);
        if (ops && ops->check_template && (i == 0 || strcmp(t->ini.v[i - 1].section,
                                                            t->ini.v[i].section)))
            if (ops->check_template(t, t->ini.v[i].section, e) < 0)
                return -1;
    }
    if (load_variants(t, e) < 0)
        return -1;
    return check_fields(t, e);
}

static int finish(tpl *t, const char *name, cherr *e)
{
    size_t len = strlen(name);
    if (len > 4 && !strcmp(name + len - 4, ".ini"))
        len -= 4;
    t->name = strndup(name, len);
    if (check(t, e) < 0) {
        tpl_free(t);
        return -1;
    }
    return 0;
}

int tpl_parse(tpl *t, const char *name, const char *text, cherr *e)
{
    memset(t, 0, sizeof *t);
    if (inif_load_string(&t->ini, name, text, e) < 0)
        return -1;
    return finish(t, name, e);
}

int tpl_load_file(tpl *t, const char *path, cherr *e)
{
    memset(t, 0, sizeof *t);
    if (inif_load(&t->ini, path, e) < 0)
        return -1;
    const char *base = strrchr(path, '/');
    return finish(t, base ? base + 1 : path, e);
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(tpl *const *)a)->name, (*(tpl *const *)b)->name);
}

int tpl_set_load(tpl_set *s, const char *dir, cherr *e)
{
    memset(s, 0, sizeof *s);
    DIR *d = opendir(dir);
    if (!d)
        return err_set(e, "templates directory %s: %m", dir);
    struct dirent *de;
    size_t cap = 0;
    int rc = 0;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".ini") || de->d_name[0] == '.')
            continue;
        char *path;
        if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
            rc = err_set(e, "out of memory");
            break;
        }
        tpl *t = calloc(1, sizeof *t);
        if (!t || tpl_load_file(t, path, e) < 0) {
            free(t);
            free(path);
            rc = -1;
            break;
        }
        free(path);
        if (s->n == cap) {
            cap = cap ? cap * 2 : 16;
            tpl **v = realloc(s->v, cap * sizeof *v);
            if (!v) {
                tpl_free(t);
                free(t);
                rc = err_set(e, "out of memory");
                break;
            }
            s->v = v;
        }
        s->v[s->n++] = t;
    }
    closedir(d);
    if (rc < 0) {
        tpl_set_free(s);
        return -1;
    }
    if (s->n)
        qsort(s->v, s->n, sizeof *s->v, by_name);
    return 0;
}

void tpl_set_free(tpl_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        tpl_free(s->v[i]);
        free(s->v[i]);
    }
    free(s->v);
    memset(s, 0, sizeof *s);
}

const tpl *tpl_find(const tpl_set *s, const char *name)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(name, s->v[mid]->name);
        if (!c)
            return s->v[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

int tpl_has_section(const tpl *t, const char *section)
{
    for (size_t i = 0; i < t->ini.n; i++)
        if (!strcmp(t->ini.v[i].section, section))
            return 1;
    return 0;
}

/* First 8 bytes of SHA-256(prefix NUL template NUL user), big-endian. */
static uint64_t assign_hash(const char *prefix, const tpl *t, const char *user_id)
{
    unsigned char out[32];
    mbedtls_sha256_context c;
    mbedtls_sha256_init(&c);
    mbedtls_sha256_starts_ret(&c, 0);
    mbedtls_sha256_update_ret(&c, (const unsigned char *)prefix, strlen(prefix) + 1);
    mbedtls_sha256_update_ret(&c, (const unsigned char *)t->name, strlen(t->name) + 1);
    mbedtls_sha256_update_ret(&c, (const unsigned char *)user_id, strlen(user_id));
    mbedtls_sha256_finish_ret(&c, out);
    mbedtls_sha256_free(&c);
    uint64_t h = 0;
    for (int i = 0; i < 8; i++)
        h = h << 8 | out[i];
    return h;
}

const char *tpl_variant_for(const tpl *t, const char *user_id)
{
    if (!t->total_weight || !user_id)
        return NULL;
    uint64_t r = assign_hash("variant", t, user_id) % t->total_weight;
    for (size_t i = 0; i < t->nvariants; i++) {
        if (r < t->variants[i].weight)
            return t->variants[i].name;
        r -= t->variants[i].weight;
    }
    return NULL;
}

int tpl_in_holdout(const tpl *t, const char *user_id)
{
    if (!t->holdout_bp || !user_id)
        return 0;
    return assign_hash("holdout", t, user_id) % 10000 < (uint64_t)t->holdout_bp;
}
