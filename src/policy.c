/* policy.c — the decision for one message at one instant (see policy.h for the rules
 * and their order). Each rule is a function that either decides or lets the next one. */
#include "policy.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "cn_time.h"
#include "fixstr.h"
#include "timeutil.h"
#include "tz.h"

/* Shipped tier defaults (also written out in etc/chuda.conf.example). */
static const struct {
    const char *name, *channels, *cap;
} default_tiers[] = {
    {"high_value", "wecom, mp_subscribe, oa_template, sms", "5/7d"},
    {"potential", "mp_subscribe, oa_template, sms", "3/7d"},
    {"new", "mp_subscribe, oa_template, wecom", "3/7d"},
    {"dormant", "oa_template, sms", "2/30d"},
    {"churned", "sms", "1/30d"},
};

static const struct {
    const char *name, *on_cap, *category;
    int capped;
} default_classes[] = {
    {"transactional", "defer", "service", 0},
    {"lifecycle", "defer", "marketing", 1},
    {"marketing", "drop", "marketing", 1},
};

#define CHINA_TZ "Asia/Shanghai"

/* minutes after midnight as "HH:MM" (out: 8 bytes) */
static char *hhmm(int min, char *out)
{
    fs_digits(out, (min / 60) % 24, 2);
    out[2] = ':';
    fs_digits(out + 3, min % 60, 2);
    out[5] = '\0';
    return out;
}

/* ---- config ---------------------------------------------------------------------- */

int policy_parse_cap(const char *s, policy_cap *c, cherr *e)
{
    char *end;
    long n = strtol(s, &end, 10);
    if (end == s || *end != '/' || n < 0)
        return err_set(e, "cap '%s': expected N/DURATION, e.g. 3/7d", s);
    if (n > POLICY_MAX_CAP)     /* more than the history shows: never reached */
        return err_set(e, "cap '%s': N is at most %d (the sends a cap can count)", s,
                       POLICY_MAX_CAP);
    if (tu_parse_duration(end + 1, &c->window_ms, e) < 0 || c->window_ms <= 0)
        return err_set(e, "cap '%s': expected N/DURATION, e.g. 3/7d", s);
    c->n = (int)n;
    return 0;
}

static int parse_hhmm(const char *s, int *min)
{
    if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != ':' ||
        !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
        return -1;
    int h = (s[0] - '0') * 10 + s[1] - '0', m = (s[3] - '0') * 10 + s[4] - '0';
    if (h > 24 || m > 59 || (h == 24 && m))
        return -1;
    *min = h * 60 + m;
    return 0;
}

int policy_parse_hours(const char *s, policy_hours *h, cherr *e)
{
    memset(h, 0, sizeof *h);
    if (!strcmp(s, "none") || !strcmp(s, "off"))
        return 0;
    if (strlen(s) != 11 || s[5] != '-' || parse_hhmm(s, &h->start) < 0 ||
        parse_hhmm(s + 6, &h->end) < 0 || h->start == h->end)
        return err_set(e, "hours '%s': expected HH:MM-HH:MM (e.g. 23:00-08:00) or none", s);
    h->set = 1;
    return 0;
}

static int parse_channels(policy_tier *t, const char *list, cherr *e)
{
    t->nchannels = 0;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *q = p;
        while (*q && *q != ',' && *q != ' ')
            q++;
        size_t len = (size_t)(q - p);
        if (t->nchannels == POLICY_MAX_CHANNELS)
            return err_set(e, "more than %d channels", POLICY_MAX_CHANNELS);
        if (len >= sizeof t->channels[0])
            return err_set(e, "channel name too long");
        char *name = t->channels[t->nchannels];
        memcpy(name, p, len);
        name[len] = '\0';
        if (!chan_ops_find(name))
            return err_set(e, "unknown channel '%s'", name);
        t->nchannels++;
        p = q;
    }
    return 0;
}

static policy_tier *add_tier(policy *p, const char *name)
{
    policy_tier *v = realloc(p->tiers, (size_t)(p->ntiers + 1) * sizeof *v);
    if (!v)
        return NULL;
    p->tiers = v;
    policy_tier *t = &p->tiers[p->ntiers++];
    memset(t, 0, sizeof *t);
    fs_copy(t->name, sizeof t->name, name);
    return t;
}

typedef struct load_ctx {
    policy *p;
    const config *cfg;
    cherr *e;
} load_ctx;

/* "file:12: [tier.x] cap: " in front of a value error */
static int where(const config *cfg, const char *section, const char *key, cherr *e)
{
    return err_prefix(e, "%s:%d: [%s] %s: ", cfg->ini.path ? cfg->ini.path : "config",
                      cfg_line(cfg, section, key), section, key);
}

static int load_tier(const char *section, void *arg)
{
    load_ctx *lc = arg;
    const char *name = section + strlen("tier.");
    policy_tier *t = (policy_tier *)policy_tier_find(lc->p, name);
    if (!t && !(t = add_tier(lc->p, name)))
        return err_set(lc->e, "out of memory");
    const char *v;
    if ((v = cfg_str(lc->cfg, section, "channels", NULL)) && parse_channels(t, v, lc->e) < 0)
        return where(lc->cfg, section, "channels", lc->e);
    if ((v = cfg_str(lc->cfg, section, "cap", NULL)) && policy_parse_cap(v, &t->cap, lc->e) < 0)
        return where(lc->cfg, section, "cap", lc->e);
    if ((v = cfg_str(lc->cfg, section, "quiet_hours", NULL))) {
        if (policy_parse_hours(v, &t->quiet, lc->e) < 0)
            return where(lc->cfg, section, "quiet_hours", lc->e);
        t->has_quiet = 1;
    }
    for (size_t i = 0; i < lc->cfg->ini.n; i++) {
        const inif_entry *en = &lc->cfg->ini.v[i];
        if (strcmp(en->section, section) || strncmp(en->key, "cap.", 4))
            continue;
        const char *ch = en->key + 4;
        if (!chan_ops_find(ch))
            return err_set(lc->e, "%s:%d: [%s] %s: unknown channel '%s'", lc->cfg->ini.path,
                           en->line, section, en->key, ch);
        if (t->nchcap == POLICY_MAX_CHANNELS)
            return err_set(lc->e, "%s:%d: too many per-channel caps", lc->cfg->ini.path, en->line);
        if (policy_parse_cap(en->value, &t->chcap[t->nchcap], lc->e) < 0)
            return where(lc->cfg, section, en->key, lc->e);
        fs_copy(t->capch[t->nchcap], sizeof t->capch[0], ch);
        t->nchcap++;
    }
    return 0;
}

static int load_classes(policy *p, const config *cfg, cherr *e)
{
    for (int i = 0; i < 3; i++) {
        policy_class *k = &p->classes[i];
        char section[32];
        fs_copy(k->name, sizeof k->name, default_classes[i].name);
        snprintf(section, sizeof section, "class.%s", k->name);
        k->capped = default_classes[i].capped;
        const char *oc = cfg_str(cfg, section, "on_cap", default_classes[i].on_cap);
        if (strcmp(oc, "defer") && strcmp(oc, "drop")) {
            err_set(e, "'%s' is not defer or drop", oc);
            return where(cfg, section, "on_cap", e);
        }
        k->on_cap_drop = !strcmp(oc, "drop");
        const char *cat = cfg_str(cfg, section, "category", default_classes[i].category);
        if (strcmp(cat, "marketing") && strcmp(cat, "service")) {
            err_set(e, "'%s' is not marketing or service", cat);
            return where(cfg, section, "category", e);
        }
        fs_copy(k->category, sizeof k->category, cat);
        const char *q = cfg_str(cfg, section, "quiet_hours", NULL);
        if (!k->capped && !q)
            q = "none";   /* transactional is never held by quiet hours */
        if (q) {
            if (policy_parse_hours(q, &k->quiet, e) < 0)
                return where(cfg, section, "quiet_hours", e);
            if (!k->capped && k->quiet.set) {
                err_set(e, "%s messages are never held by quiet hours (only 'none' here)",
                        k->name);
                return where(cfg, section, "quiet_hours", e);
            }
            k->has_quiet = 1;
        }
    }
    static const char *const known[] = {"transactional", "lifecycle", "marketing"};
    for (size_t i = 0; i < cfg->ini.n; i++) {
        const char *s = cfg->ini.v[i].section;
        if (strncmp(s, "class.", 6))
            continue;
        int ok = 0;
        for (int k = 0; k < 3; k++)
            ok |= !strcmp(s + 6, known[k]);
        if (!ok)
            return err_set(e, "%s:%d: unknown class [%s] (transactional, lifecycle, marketing)",
                           cfg->ini.path, cfg->ini.v[i].line, s);
    }
    return 0;
}

/* Does the spread end inside the part of the day that window `h` ([section] quiet_hours)
 * leaves open? 0, or -1 with the error naming the config line. */
static int spread_fits(const config *cfg, int64_t spread, const policy_hours *h,
                       const char *section, cherr *e)
{
    if (!h->set)
        return 0;
    int open = ((h->start - h->end) % 1440 + 1440) % 1440;   /* minutes from end to start */
    if (spread < open * TU_MIN)
        return 0;
    char a[8], b[8];
    int line = cfg_line(cfg, "policy", "quiet_release_spread");
    err_set(e, "%s:%d: [policy] quiet_release_spread: %s is not shorter than the %dh%02dm "
            "that [%s] quiet_hours leaves open (%s-%s): released messages would land in the "
            "next quiet hours", cfg->ini.path ? cfg->ini.path : "config",
            line ? line : cfg_line(cfg, section, "quiet_hours"),
            cfg_str(cfg, "policy", "quiet_release_spread", "30m"), open / 60, open % 60,
            section, hhmm(h->end, a), hhmm(h->start, b));
    return -1;
}

/* quiet_release_spread must end inside the open part of the day of every quiet window,
 * or a released message would be deferred again and again until it expires. */
static int check_spread(const policy *p, const config *cfg, cherr *e)
{
    char section[48];
    if (spread_fits(cfg, p->quiet_spread, &p->quiet, "policy", e) < 0)
        return -1;
    for (int i = 0; i < p->ntiers; i++) {
        snprintf(section, sizeof section, "tier.%s", p->tiers[i].name);
        if (p->tiers[i].has_quiet &&
            spread_fits(cfg, p->quiet_spread, &p->tiers[i].quiet, section, e) < 0)
            return -1;
    }
    for (int i = 0; i < 3; i++) {
        snprintf(section, sizeof section, "class.%s", p->classes[i].name);
        if (p->classes[i].has_quiet &&
            spread_fits(cfg, p->quiet_spread, &p->classes[i].quiet, section, e) < 0)
            return -1;
    }
    return 0;
}

int policy_load(policy *p, const config *cfg, cherr *e)
{
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < sizeof default_tiers / sizeof default_tiers[0]; i++) {
        policy_tier *t = add_tier(p, default_tiers[i].name);
        if (!t || parse_channels(t, default_tiers[i].channels, e) < 0 ||
            policy_parse_cap(default_tiers[i].cap, &t->cap, e) < 0) {
            policy_free(p);
            return t ? -1 : err_set(e, "out of memory");
        }
    }
    load_ctx lc = {p, cfg, e};
    if (cfg_each_section(cfg, "tier.", load_tier, &lc) < 0 || load_classes(p, cfg, e) < 0)
        goto fail;
    if (policy_parse_hours(cfg_str(cfg, "policy", "quiet_hours", "23:00-08:00"), &p->quiet, e) < 0) {
        where(cfg, "policy", "quiet_hours", e);
        goto fail;
    }
    if (policy_parse_hours(cfg_str(cfg, "policy", "marketing_sms_hours", "08:00-22:00"),
                           &p->marketing_sms, e) < 0) {
        where(cfg, "policy", "marketing_sms_hours", e);
        goto fail;
    }
    if (cfg_duration(cfg, "policy", "quiet_release_spread", "30m", &p->quiet_spread, e) < 0 ||
        check_spread(p, cfg, e) < 0)
        goto fail;
    const char *tz = cfg_str(cfg, "chuda", "default_tz", CHINA_TZ);
    if (!tz_valid(tz)) {
        err_set(e, "'%s' is not an IANA time zone", tz);
        where(cfg, "chuda", "default_tz", e);
        goto fail;
    }
    fs_copy(p->default_tz, sizeof p->default_tz, tz);
    return 0;
fail:
    policy_free(p);
    return -1;
}

void policy_free(policy *p)
{
    free(p->tiers);
    memset(p, 0, sizeof *p);
}

const policy_tier *policy_tier_find(const policy *p, const char *name)
{
    for (int i = 0; name && i < p->ntiers; i++)
        if (!strcmp(p->tiers[i].name, name))
            return &p->tiers[i];
    return NULL;
}

const policy_class *policy_class_find(const policy *p, const char *name)
{
    for (int i = 0; name && i < 3; i++)
        if (!strcmp(p->classes[i].name, name))
            return &p->classes[i];
    return NULL;
}

void policy_tier_names(const policy *p, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < p->ntiers && used < len; i++)
        used += (size_t)snprintf(out + used, len - used, "%s%s", i ? ", " : "", p->tiers[i].name);
}

int64_t policy_history(const policy *p, int64_t now)
{
    int64_t w = now - cn_month_start(now, 0);
    for (int i = 0; i < p->ntiers; i++) {
        if (p->tiers[i].cap.window_ms > w)
            w = p->tiers[i].cap.window_ms;
        for (int k = 0; k < p->tiers[i].nchcap; k++)
            if (p->tiers[i].chcap[k].window_ms > w)
                w = p->tiers[i].chcap[k].window_ms;
    }
    return w;
}

void policy_history_args(const policy *p, const policy_chan *chans, int nchans, int64_t now,
                         int64_t *since, int64_t *month_since, char *monthly, size_t len)
{
    *since = now - policy_history(p, now);
    *month_since = cn_month_start(now, 0);
    size_t used = 0;
    monthly[0] = '\0';
    for (int i = 0; i < nchans; i++) {
        size_t n = strlen(chans[i].name);
        if (chans[i].monthly_limit <= 0 || used + n + 3 > len)
            continue;
        if (!used)
            monthly[used++] = ',';
        memcpy(monthly + used, chans[i].name, n);
        used += n;
        monthly[used++] = ',';
        monthly[used] = '\0';
    }
}

int policy_in_list(const char *list, const char *channel)
{
    size_t n = strlen(channel);
    for (const char *p = list; p && *p;) {
        const char *q = strchr(p, ',');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        if (len == n && !strncmp(p, channel, n))
            return 1;
        p = q ? q + 1 : NULL;
    }
    return 0;
}

/* ---- helpers for the rules --------------------------------------------------------- */

static const char *user_zone(const policy *p, const store_user *u)
{
    return u->tz && *u->tz && tz_valid(u->tz) ? u->tz : p->default_tz;
}

static int in_window(const policy_hours *h, int minute)
{
    if (!h->set)
        return 0;
    if (h->start < h->end)
        return minute >= h->start && minute < h->end;
    return minute >= h->start || minute < h->end;   /* wraps midnight */
}

/* The latest instant <= now whose wall time in `zone` is `min` minutes after midnight
 * (a wall time skipped by DST: the change). */
static int64_t last_wall(const char *zone, int64_t now, int min)
{
    int hh = min / 60 % 24, mm = min % 60;
    int64_t t = tz_next_wall(zone, now - 26 * TU_HOUR, hh, mm), last = t;
    while (t <= now) {
        last = t;
        t = tz_next_wall(zone, t + 1, hh, mm);
    }
    return last;
}

/* Is `now` (local wall `l`) inside the window `h` in `zone`? On an ordinary day the wall
 * clock says so; within a day of a DST change the window is the stretch from its start
 * to the end that follows it, so a repeated hour neither reopens a night that ended nor
 * opens a night that began. */
static int in_window_at(const char *zone, const policy_hours *h, int64_t now, const tz_local *l)
{
    tz_local day_before;
    tz_to_local(zone, now - TU_DAY, &day_before);
    if (day_before.offset_min == l->offset_min)
        return in_window(h, l->hour * 60 + l->min);
    return h->set && last_wall(zone, now, h->start) > last_wall(zone, now, h->end);
}

/* A stable spread in [0, spread) for a message, so released messages do not all fire
 * at the window's end. */
static int64_t spread_for(int64_t id, int64_t spread)
{
    if (spread <= 0)
        return 0;
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 29;
    return (int64_t)(h % (uint64_t)spread);
}

/* Does send `i` count toward a tier cap over [since, now] (for `channel`, or any)?
 * Sends of uncapped classes are in the ledger for the monthly limits only. */
static int cap_counts(const policy_input *in, int i, int64_t since, const char *channel)
{
    const store_send *x = &in->sends[i];
    return !x->uncapped && x->at >= since && x->at <= in->now &&
           (!channel || !strcmp(x->channel, channel));
}

/* Capped sends in [now - window, now] (for `channel`, or all when NULL): count, and when
 * the cap frees again (the send that must age out + window). */
static int window_count(const policy_input *in, const char *channel, const policy_cap *cap,
                        int64_t *oldest, int64_t *next_free)
{
    int64_t since = in->now - cap->window_ms;
    int n = 0, first = -1;
    for (int i = 0; i < in->nsends; i++) {
        if (!cap_counts(in, i, since, channel))
            continue;
        if (first < 0)
            first = i;
        n++;
    }
    *oldest = first >= 0 ? in->sends[first].at : 0;
    *next_free = 0;
    if (cap->n > 0 && n >= cap->n) {
        /* the (n - cap + 1)-th oldest counted send must leave the window */
        int need = n - cap->n, seen = 0;
        for (int i = 0; i < in->nsends; i++) {
            if (!cap_counts(in, i, since, channel))
                continue;
            if (seen++ == need) {
                *next_free = in->sends[i].at + cap->window_ms + 1;
                break;
            }
        }
    }
    return n;
}

/* "7d", "12h", "90s" */
static void fmt_span(int64_t ms, char *out, size_t len)
{
    if (ms % TU_DAY == 0)
        snprintf(out, len, "%lldd", (long long)(ms / TU_DAY));
    else if (ms % TU_HOUR == 0)
        snprintf(out, len, "%lldh", (long long)(ms / TU_HOUR));
    else
        snprintf(out, len, "%llds", (long long)(ms / TU_SEC));
}

static void fmt_window(const policy_cap *c, char *out, size_t len)
{
    char span[24];
    fmt_span(c->window_ms, span, sizeof span);
    snprintf(out, len, "%d/%s", c->n, span);
}

/* "cap 3/7d reached: 3 sends since 2026-11-17T10:02Z, next free 2026-11-24T10:02Z" */
static void cap_reason(char *out, size_t len, const char *what, const policy_cap *c, int n,
                       int64_t oldest, int64_t next_free)
{
    char w[32], t1[32], t2[32];
    fmt_window(c, w, sizeof w);
    if (c->n == 0) {            /* 0/D: none at all, and it never frees */
        snprintf(out, len, "%s %s: none allowed", what, w);
        return;
    }
    snprintf(out, len, "%s %s reached: %d sends since %s, next free %s", what, w, n,
             tu_format_min(oldest, t1, sizeof t1), tu_format_min(next_free, t2, sizeof t2));
}

static const store_optout *match_optout(const store_optout *v, int n, const char *channel,
                                       const char *category)
{
    for (int i = 0; i < n; i++) {
        const store_optout *o = &v[i];
        int ch = !strcmp(o->channel, "*") || (channel && !strcmp(o->channel, channel));
        int cat = !strcmp(o->category, "*") || !strcmp(o->category, category);
        if (!channel && strcmp(o->channel, "*"))
            continue;
        if (ch && cat)
            return o;
    }
    return NULL;
}

static const store_optout *opted_out(const policy_input *in, const char *channel,
                                     const char *category)
{
    return match_optout(in->optouts, in->noptouts, channel, category);
}

const store_optout *policy_optout_match(const policy *p, const char *klass, const char *channel,
                                        const store_optout *v, int n)
{
    const policy_class *k = policy_class_find(p, klass);
    return match_optout(v, n, channel, k ? k->category : "marketing");
}

static void optout_text(const store_optout *o, char *out, size_t len)
{
    char t[32];
    snprintf(out, len, "opted out%s%s%s%s since %s (%s%s%s)", strcmp(o->channel, "*") ? " of " : "",
             strcmp(o->channel, "*") ? o->channel : "", strcmp(o->category, "*") ? ", " : "",
             strcmp(o->category, "*") ? o->category : "", tu_format_min(o->at, t, sizeof t),
             o->source, o->reason[0] ? ": " : "", o->reason);
    fs_utf8_clip(out);
}

static void defer(policy_decision *d, int64_t until, const char *code)
{
    d->verdict = POLICY_DEFER;
    d->until = until;
    fs_copy(d->code, sizeof d->code, code);
}

/* ---- the rules ----------------------------------------------------------------------- */

/* 1. */
static int rule_expiry(const policy_input *in, policy_decision *d)
{
    if (!in->m->expires_at || in->now < in->m->expires_at)
        return 0;
    char t[32];
    d->verdict = POLICY_EXPIRE;
    snprintf(d->code, sizeof d->code, "expired");
    snprintf(d->reason, sizeof d->reason, "expired at %s before it could be sent",
             tu_format_min(in->m->expires_at, t, sizeof t));
    return 1;
}

/* 2. */
static int rule_global_optout(const policy_class *k, const policy_input *in, policy_decision *d)
{
    const store_optout *o = opted_out(in, NULL, k->category);
    if (!o)
        return 0;
    char why[256];
    optout_text(o, why, sizeof why);
    d->verdict = POLICY_SUPPRESS;
    snprintf(d->code, sizeof d->code, "optout");
    fs_copy(d->reason, sizeof d->reason, why);
    return 1;
}

static const policy_hours *quiet_for(const policy *p, const policy_class *k,
                                     const policy_tier *t)
{
    if (k->has_quiet)
        return &k->quiet;
    if (t && t->has_quiet)
        return &t->quiet;
    return &p->quiet;
}

/* 3. */
static int rule_quiet_hours(const policy *p, const policy_class *k, const policy_tier *t,
                            const policy_input *in, policy_decision *d)
{
    const policy_hours *q = quiet_for(p, k, t);
    if (!q->set)
        return 0;
    const char *zone = user_zone(p, in->u);
    tz_local l;
    tz_to_local(zone, in->now, &l);
    int minute = l.hour * 60 + l.min;
    if (!in_window_at(zone, q, in->now, &l))
        return 0;
    int64_t end = tz_next_wall(zone, in->now, q->end / 60 % 24, q->end % 60);
    int64_t until = end + spread_for(in->m->id, p->quiet_spread);
    char a[8], b[8], c[8], tu[32];
    defer(d, until, "quiet_hours");
    snprintf(d->reason, sizeof d->reason, "quiet hours %s-%s in %s (local %s): deferred to %s",
             hhmm(q->start, a), hhmm(q->end, b), zone, hhmm(minute, c),
             tu_format_min(until, tu, sizeof tu));
    return 1;
}

/* 4. */
static int rule_best_time(const policy *p, const policy_class *k, const policy_tier *t,
                          const policy_input *in, policy_decision *d)
{
    if (!in->m->window || strcmp(in->m->window, "best") || in->active_hour < 0)
        return 0;
    const char *zone = user_zone(p, in->u);
    /* inside the active hour: an HH:00 within the last hour (after a DST gap, the gap's
     * end stands in for an HH:00 that did not happen) */
    if (tz_next_wall(zone, in->now - TU_HOUR + 1, in->active_hour, 0) <= in->now)
        return 0;
    /* an active hour inside quiet hours would never be reached: ignore it */
    if (in_window(quiet_for(p, k, t), in->active_hour * 60))
        return 0;
    int64_t at = tz_next_wall(zone, in->now, in->active_hour, 0);
    if (in->m->expires_at && at >= in->m->expires_at)
        return 0;   /* no occurrence before expiry: send now */
    char tu[32];
    defer(d, at, "best_time");
    snprintf(d->reason, sizeof d->reason, "best time: user is most active at %02d:00 %s, "
             "deferred to %s", in->active_hour, zone, tu_format_min(at, tu, sizeof tu));
    return 1;
}

/* 5. */
static int rule_tier_cap(const policy_class *k, const policy_tier *t, const policy_input *in,
                         policy_decision *d)
{
    if (!k->capped || !t || t->cap.window_ms <= 0)      /* no cap set */
        return 0;
    if (t->cap.n == 0) {        /* at most none: a deferral would never end */
        char w[32];
        fmt_window(&t->cap, w, sizeof w);
        d->verdict = POLICY_SUPPRESS;
        snprintf(d->code, sizeof d->code, "cap");
        snprintf(d->reason, sizeof d->reason, "cap %s: the tier gets no %s messages", w, k->name);
        return 1;
    }
    int64_t oldest, next_free;
    int n = window_count(in, NULL, &t->cap, &oldest, &next_free);
    if (n < t->cap.n)
        return 0;
    char why[256];
    cap_reason(why, sizeof why, "cap", &t->cap, n, oldest, next_free);
    if (k->on_cap_drop) {
        d->verdict = POLICY_SUPPRESS;
        snprintf(d->code, sizeof d->code, "cap");
        snprintf(d->reason, sizeof d->reason, "%s; %s messages are dropped at the cap", why,
                 k->name);
    } else {
        defer(d, next_free, "cap");
        fs_copy(d->reason, sizeof d->reason, why);
    }
    return 1;
}

static const policy_chan *chan_state(const policy_input *in, const char *name)
{
    for (int i = 0; i < in->nchans; i++)
        if (!strcmp(in->chans[i].name, name))
            return &in->chans[i];
    return NULL;
}

/* Sends to the user over `ch` this calendar month, China time (monthly limits count
 * every class). */
static int month_count(const policy_input *in, const char *ch)
{
    int64_t since = cn_month_start(in->now, 0);
    int n = 0;
    for (int i = 0; i < in->nsends; i++)
        n += in->sends[i].at >= since && in->sends[i].at <= in->now &&
             !strcmp(in->sends[i].channel, ch);
    return n;
}

/* Marketing SMS goes out only inside [policy] marketing_sms_hours, China time (a
 * provider rule): when the window opens next if `now` is outside it, else 0. */
static int64_t marketing_sms_wait(const policy *p, const policy_class *k, const char *ch,
                                  int64_t now)
{
    if (strcmp(ch, "sms") || strcmp(k->name, "marketing") || !p->marketing_sms.set)
        return 0;
    tz_local l;
    tz_to_local(CHINA_TZ, now, &l);
    if (in_window(&p->marketing_sms, l.hour * 60 + l.min))
        return 0;
    return tz_next_wall(CHINA_TZ, now, p->marketing_sms.start / 60, p->marketing_sms.start % 60);
}

/* Can the user be reached on `ch` now? 1 yes; 0 no, with why appended to `why` and
 * *later set when it will be possible at a known time (0: not for this message). */
static int channel_usable(const policy *p, const policy_class *k, const policy_tier *t,
                          const policy_input *in, const char *ch, int64_t *later, char *why,
                          size_t wlen)
{
    size_t used = strlen(why);
    char *w = why + used;
    size_t left = wlen - used;
    const char *sep = used ? "; " : "";
    const policy_chan *st = chan_state(in, ch);
    const chan_ops *ops = chan_ops_find(ch);
    *later = 0;
    if (!st || !st->configured || !ops) {
        snprintf(w, left, "%s%s: not configured", sep, ch);
        return 0;
    }
    if (!tpl_has_section(in->t, ch)) {
        snprintf(w, left, "%s%s: template has no [%s] section", sep, ch, ch);
        return 0;
    }
    if (!chan_address(ops, in->u)) {
        snprintf(w, left, "%s%s: user has no %s", sep, ch, ops->address);
        return 0;
    }
    if (in->m->skip && policy_in_list(in->m->skip, ch)) {
        snprintf(w, left, "%s%s: refused earlier for this message", sep, ch);
        return 0;
    }
    const store_optout *o = opted_out(in, ch, k->category);
    if (o) {
        char ot[200];
        optout_text(o, ot, sizeof ot);
        snprintf(w, left, "%s%s: %s", sep, ch, ot);
        return 0;
    }
    if (st->credits && in->mp_credits <= 0) {
        snprintf(w, left, "%s%s: no subscription credit for %s (%s)", sep, ch,
                 in->mp_template_id ? in->mp_template_id : "?",
                 in->mp_credits < 0 ? "never granted" : "all used");
        return 0;
    }
    if (!st->credits && ops->credits && in->mp_credits == 0) {
        /* not counting credits, but the user refused this template (43101) or cancelled
         * the subscription: until they subscribe again (a grant) */
        snprintf(w, left, "%s%s: the user refused %s (43101 or a cancelled subscription)", sep,
                 ch, in->mp_template_id ? in->mp_template_id : "?");
        return 0;
    }
    if (st->paused_until > in->now) {
        char tt[32];
        snprintf(w, left, "%s%s: paused by provider until %s", sep, ch,
                 tu_format_min(st->paused_until, tt, sizeof tt));
        *later = st->paused_until;
        return 0;
    }
    for (int i = 0; k->capped && t && i < t->nchcap; i++) {
        if (strcmp(t->capch[i], ch))
            continue;
        int64_t oldest, next_free;
        int n = window_count(in, ch, &t->chcap[i], &oldest, &next_free);
        if (n >= t->chcap[i].n) {
            char what[48], cr[200];
            snprintf(what, sizeof what, "cap.%s", ch);
            cap_reason(cr, sizeof cr, what, &t->chcap[i], n, oldest, next_free);
            snprintf(w, left, "%s%s: %s", sep, ch, cr);
            *later = k->on_cap_drop ? 0 : next_free;
            return 0;
        }
    }
    if (st->monthly_limit > 0) {
        int64_t next = cn_month_start(in->now, 1);
        int n = month_count(in, ch);
        if (n >= st->monthly_limit) {
            char t1[32];
            *later = k->on_cap_drop ? 0 : next;
            snprintf(w, left, "%s%s: %d of %d this month (China time) already, next from %s", sep,
                     ch, n, st->monthly_limit,
                     tu_format_min(next, t1, sizeof t1));
            return 0;
        }
    }
    if ((*later = marketing_sms_wait(p, k, ch, in->now))) {
        char a[8], b[8];
        snprintf(w, left, "%s%s: marketing SMS only %s-%s China time", sep, ch,
                 hhmm(p->marketing_sms.start, a), hhmm(p->marketing_sms.end, b));
        return 0;
    }
    return 1;
}

/* The figures behind a send, for the log: where the user stands against the caps with
 * this send ("cap 2/3 in 7d"), the chosen channel's own limits, and the channels passed
 * over and why. */
static void send_reason(const policy_class *k, const policy_tier *t, const policy_input *in,
                        const char *ch, const char *skipped, policy_decision *d)
{
    char *w = d->reason;
    size_t len = sizeof d->reason, used = 0;
    char span[24];
    if (!k->capped || !t || t->cap.n <= 0) {
        used += (size_t)snprintf(w, len, "%s: not capped", k->name);
    } else {
        int64_t oldest, next_free;
        fmt_span(t->cap.window_ms, span, sizeof span);
        used += (size_t)snprintf(w, len, "cap %d/%d in %s",
                                 window_count(in, NULL, &t->cap, &oldest, &next_free) + 1,
                                 t->cap.n, span);
    }
    for (int i = 0; k->capped && t && i < t->nchcap && used < len; i++) {
        if (strcmp(t->capch[i], ch))
            continue;
        int64_t oldest, next_free;
        fmt_span(t->chcap[i].window_ms, span, sizeof span);
        used += (size_t)snprintf(w + used, len - used, ", cap.%s %d/%d in %s", ch,
                                 window_count(in, ch, &t->chcap[i], &oldest, &next_free) + 1,
                                 t->chcap[i].n, span);
    }
    const policy_chan *st = chan_state(in, ch);
    if (st && st->monthly_limit > 0 && used < len)
        used += (size_t)snprintf(w + used, len - used, ", %s %d/%d this month", ch,
                                 month_count(in, ch) + 1, st->monthly_limit);
    if (skipped[0] && used < len)
        snprintf(w + used, len - used, "; passed over %s", skipped);
}

/* 6. */
static void choose_channel(const policy *p, const policy_class *k, const policy_tier *t,
                           const policy_input *in, policy_decision *d)
{
    char why[520] = "";
    int64_t soonest = 0, later;
    const char *only[1];
    const char *const *list;
    int n;
    if (in->m->channel && *in->m->channel) {
        only[0] = in->m->channel;
        list = only;
        n = 1;
    } else if (t) {
        static const char *names[POLICY_MAX_CHANNELS];
        for (int i = 0; i < t->nchannels; i++)
            names[i] = t->channels[i];
        list = names;
        n = t->nchannels;
    } else {
        d->verdict = POLICY_SUPPRESS;
        snprintf(d->code, sizeof d->code, "unknown_tier");
        snprintf(d->reason, sizeof d->reason, "user's tier '%s' is not configured",
                 in->u->tier ? in->u->tier : "");
        return;
    }
    for (int i = 0; i < n; i++) {
        int ok = channel_usable(p, k, t, in, list[i], &later, why, sizeof why);
        fs_utf8_clip(why);      /* each channel appends at the end: cut there, if at all */
        if (ok) {
            d->verdict = POLICY_SEND;
            fs_copy(d->channel, sizeof d->channel, list[i]);
            send_reason(k, t, in, list[i], why, d);
            return;
        }
        if (later && (!soonest || later < soonest))
            soonest = later;
    }
    if (soonest) {
        char tu[32];
        defer(d, soonest, "no_channel_now");
        snprintf(d->reason, sizeof d->reason, "no channel now (%s); deferred to %s", why,
                 tu_format_min(soonest, tu, sizeof tu));
        return;
    }
    d->verdict = POLICY_SUPPRESS;
    snprintf(d->code, sizeof d->code, "no_channel");
    snprintf(d->reason, sizeof d->reason, "no eligible channel: %s", why);
}

int policy_recheck(const policy *p, const store_msg *m, const store_user *u,
                   const char *channel, int64_t now, policy_decision *d)
{
    memset(d, 0, sizeof *d);
    const policy_class *k = policy_class_find(p, m->klass);
    const policy_tier *t = policy_tier_find(p, u->tier);
    if (!k)
        k = &p->classes[1];
    policy_input in = {.m = m, .u = u, .now = now};
    if (rule_quiet_hours(p, k, t, &in, d))
        return 1;
    int64_t until = marketing_sms_wait(p, k, channel, now);
    if (!until)
        return 0;
    char a[8], b[8], tu[32];
    defer(d, until, "marketing_sms_hours");
    snprintf(d->reason, sizeof d->reason, "marketing SMS only %s-%s China time: deferred to %s",
             hhmm(p->marketing_sms.start, a), hhmm(p->marketing_sms.end, b),
             tu_format_min(until, tu, sizeof tu));
    return 1;
}

void policy_decide(const policy *p, const policy_input *in, policy_decision *d)
{
    memset(d, 0, sizeof *d);
    const policy_class *k = policy_class_find(p, in->m->klass);
    const policy_tier *t = policy_tier_find(p, in->u->tier);
    if (!k)
        k = &p->classes[1];
    if (rule_expiry(in, d) || rule_global_optout(k, in, d) ||
        rule_quiet_hours(p, k, t, in, d) || rule_best_time(p, k, t, in, d) ||
        rule_tier_cap(k, t, in, d))
        ;
    else
        choose_channel(p, k, t, in, d);
    if (d->verdict == POLICY_DEFER && in->m->expires_at && d->until >= in->m->expires_at) {
        char tt[32], why[400];
        memcpy(why, d->reason, sizeof why - 1);
        why[sizeof why - 1] = '\0';
        fs_utf8_clip(why);
        d->verdict = POLICY_EXPIRE;
        snprintf(d->code, sizeof d->code, "expired");
        snprintf(d->reason, sizeof d->reason, "would wait past its expiry %s: %s",
                 tu_format_min(in->m->expires_at, tt, sizeof tt), why);
    }
    fs_utf8_clip(d->reason);
}
