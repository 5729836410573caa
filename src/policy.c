/* policy.c — the decision for one message at one instant (see policy.h). */
#include "policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "timeutil.h"

/* Shipped tier defaults (also written out in etc/chuda.conf.example). */
static const struct {
    const char *name, *channels;
} default_tiers[] = {
    {"high_value", "wecom, mp_subscribe, oa_template, sms"},
    {"potential", "mp_subscribe, oa_template, sms"},
    {"new", "mp_subscribe, oa_template, wecom"},
    {"dormant", "oa_template, sms"},
    {"churned", "sms"},
};

static int parse_channels(policy_tier *t, const char *list, const char *where, cherr *e)
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
        if (t->nchannels == POLICY_MAX_CHANNELS)
            return err_set(e, "%s: more than %d channels", where, POLICY_MAX_CHANNELS);
        size_t len = (size_t)(q - p);
        if (len >= sizeof t->channels[0])
            return err_set(e, "%s: channel name too long", where);
        memcpy(t->channels[t->nchannels], p, len);
        t->channels[t->nchannels][len] = '\0';
        if (!chan_ops_find(t->channels[t->nchannels]) &&
            strcmp(t->channels[t->nchannels], "oa_template") &&
            strcmp(t->channels[t->nchannels], "sms") && strcmp(t->channels[t->nchannels], "wecom") &&
            strcmp(t->channels[t->nchannels], "wecom_robot"))
            return err_set(e, "%s: unknown channel '%s'", where, t->channels[t->nchannels]);
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
    snprintf(t->name, sizeof t->name, "%s", name);
    return t;
}

typedef struct load_ctx {
    policy *p;
    const config *cfg;
    cherr *e;
} load_ctx;

static int load_tier(const char *section, void *arg)
{
    load_ctx *lc = arg;
    const char *name = section + strlen("tier.");
    policy_tier *t = (policy_tier *)policy_tier_find(lc->p, name);
    if (!t && !(t = add_tier(lc->p, name)))
        return err_set(lc->e, "out of memory");
    const char *ch = cfg_str(lc->cfg, section, "channels", NULL);
    if (ch) {
        char where[128];
        snprintf(where, sizeof where, "%s:%d: [%s] channels",
                 lc->cfg->ini.path ? lc->cfg->ini.path : "config",
                 cfg_line(lc->cfg, section, "channels"), section);
        return parse_channels(t, ch, where, lc->e);
    }
    return 0;
}

int policy_load(policy *p, const config *cfg, cherr *e)
{
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < sizeof default_tiers / sizeof default_tiers[0]; i++) {
        policy_tier *t = add_tier(p, default_tiers[i].name);
        if (!t || parse_channels(t, default_tiers[i].channels, "default tier", e) < 0) {
            policy_free(p);
            return t ? -1 : err_set(e, "out of memory");
        }
    }
    load_ctx lc = {p, cfg, e};
    if (cfg_each_section(cfg, "tier.", load_tier, &lc) < 0) {
        policy_free(p);
        return -1;
    }
    return 0;
}

void policy_free(policy *p)
{
    free(p->tiers);
    memset(p, 0, sizeof *p);
}

const policy_tier *policy_tier_find(const policy *p, const char *name)
{
    for (int i = 0; i < p->ntiers; i++)
        if (!strcmp(p->tiers[i].name, name))
            return &p->tiers[i];
    return NULL;
}

void policy_tier_names(const policy *p, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < p->ntiers && used < len; i++)
        used += (size_t)snprintf(out + used, len - used, "%s%s", i ? ", " : "", p->tiers[i].name);
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

static const policy_chan *chan_state(const policy_input *in, const char *name)
{
    for (int i = 0; i < in->nchans; i++)
        if (!strcmp(in->chans[i].name, name))
            return &in->chans[i];
    return NULL;
}

/* Can the user be reached on `ch` now? 1 yes; 0 no, with why appended to `why`. */
static int channel_usable(const policy_input *in, const char *ch, int64_t *paused, char *why,
                          size_t wlen)
{
    size_t used = strlen(why);
    const char *sep = used ? "; " : "";
    const policy_chan *st = chan_state(in, ch);
    const chan_ops *ops = chan_ops_find(ch);
    if (!st || !st->configured || !ops) {
        snprintf(why + used, wlen - used, "%s%s: not configured", sep, ch);
        return 0;
    }
    if (!tpl_has_section(in->t, ch)) {
        snprintf(why + used, wlen - used, "%s%s: template has no [%s] section", sep, ch, ch);
        return 0;
    }
    if (!chan_address(ops, in->u)) {
        snprintf(why + used, wlen - used, "%s%s: user has no %s", sep, ch, ops->address);
        return 0;
    }
    if (in->m->skip && policy_in_list(in->m->skip, ch)) {
        snprintf(why + used, wlen - used, "%s%s: refused earlier for this message", sep, ch);
        return 0;
    }
    if (st->paused_until > in->now) {
        char t[32];
        snprintf(why + used, wlen - used, "%s%s: paused by provider until %s", sep, ch,
                 tu_format_min(st->paused_until, t, sizeof t));
        if (!*paused || st->paused_until < *paused)
            *paused = st->paused_until;
        return 0;
    }
    return 1;
}

/* The channel: the message's own restriction, else the tier's ordered list. */
static void choose_channel(const policy *p, const policy_input *in, policy_decision *d)
{
    char why[400] = "";
    int64_t paused = 0;
    if (in->m->channel && *in->m->channel) {
        if (channel_usable(in, in->m->channel, &paused, why, sizeof why)) {
            d->verdict = POLICY_SEND;
            snprintf(d->channel, sizeof d->channel, "%s", in->m->channel);
            return;
        }
    } else {
        const policy_tier *t = policy_tier_find(p, in->u->tier);
        if (!t) {
            d->verdict = POLICY_SUPPRESS;
            snprintf(d->code, sizeof d->code, "unknown_tier");
            snprintf(d->reason, sizeof d->reason, "user's tier '%s' is not configured",
                     in->u->tier);
            return;
        }
        for (int i = 0; i < t->nchannels; i++) {
            if (channel_usable(in, t->channels[i], &paused, why, sizeof why)) {
                d->verdict = POLICY_SEND;
                snprintf(d->channel, sizeof d->channel, "%s", t->channels[i]);
                return;
            }
        }
    }
    if (paused) {
        /* the only way left is paused: wait for it rather than give up */
        d->verdict = POLICY_DEFER;
        d->until = paused;
        snprintf(d->code, sizeof d->code, "paused");
        snprintf(d->reason, sizeof d->reason, "no channel now: %s", why);
        return;
    }
    d->verdict = POLICY_SUPPRESS;
    snprintf(d->code, sizeof d->code, "no_channel");
    snprintf(d->reason, sizeof d->reason, "no eligible channel: %s", why);
}

void policy_decide(const policy *p, const policy_input *in, policy_decision *d)
{
    memset(d, 0, sizeof *d);
    if (in->m->expires_at && in->now >= in->m->expires_at) {
        char t[32];
        d->verdict = POLICY_EXPIRE;
        snprintf(d->code, sizeof d->code, "expired");
        snprintf(d->reason, sizeof d->reason, "expired at %s before it could be sent",
                 tu_format_min(in->m->expires_at, t, sizeof t));
        return;
    }
    choose_channel(p, in, d);
    if (d->verdict == POLICY_DEFER && in->m->expires_at && d->until >= in->m->expires_at) {
        char t[32], why[sizeof d->reason];
        memcpy(why, d->reason, sizeof why);
        why[200] = '\0';
        d->verdict = POLICY_EXPIRE;
        snprintf(d->code, sizeof d->code, "expired");
        snprintf(d->reason, sizeof d->reason, "would wait past its expiry %s: %s",
                 tu_format_min(in->m->expires_at, t, sizeof t), why);
    }
}
