/* cmd_preview.c — `chuda preview`: what a template sends, channel by channel.
 *
 * Renders the template for a real user (--user) or a made-up one (--tier, --segment),
 * checks every value against its channel's field rules, and has each channel build
 * its request exactly as the scheduler would — with a placeholder token (PREVIEW_TOKEN)
 * and placeholder secrets, so previewing needs no credentials — then prints the
 * method, path and body, and a ✓/✗ verdict per value. Nothing is queued or sent. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "channel.h"
#include "cmd.h"
#include "fieldrule.h"
#include "render.h"
#include "timeutil.h"

#define PREVIEW_TOKEN "PREVIEW_TOKEN"
#define PREVIEW_SECRET_ENV "CHUDA_PREVIEW_SECRET"
#define PREVIEW_SMS_PROVIDER "tencent"  /* when [channel.sms] is not configured */

static const char preview_usage[] =
    "usage: chuda preview --template T (--user U | --tier X [--segment S])\n"
    "                     [--channel C] [--var k=v]... [--variant V] [--message-id N]\n"
    "                     [--body]\n\n"
    "Print, for each channel the template has a section for (or only C), the request\n"
    "that channel would send: method, path and body, built as the scheduler builds it\n"
    "with the token PREVIEW_TOKEN and message id N (default 1); then each value with\n"
    "its field-rule verdict (✓ or ✗, length and limit). --user renders for a stored\n"
    "user (tier, segment, zone, attributes, A/B variant, holdout); --tier/--segment\n"
    "for a made-up one. --variant picks an A/B variant. --body prints only the body\n"
    "bytes of the one --channel. Exit status 1 when anything fails to render or breaks\n"
    "a field rule. Nothing is queued or sent; no secret is needed.\n";

typedef struct pv {
    app a;
    const tpl *t;
    store_user u;
    int have_user;
    render_ctx rc;
    fr_limits lim;
    int64_t msg_id;
    int body_only;
} pv;

/* ---- a channel instance without secrets ------------------------------------------------ */

/* Is `key` where a channel finds a secret (secret_env, key_file, ...)? */
static int secret_key(const char *key, char *what, size_t len)
{
    size_t n = strlen(key);
    const char *sfx = n > 4 && !strcmp(key + n - 4, "_env") ? "_env"
                      : n > 5 && !strcmp(key + n - 5, "_file") ? "_file" : NULL;
    if (!sfx)
        return 0;
    snprintf(what, len, "%.*s", (int)(n - strlen(sfx)), key);
    return 1;
}

/* Settings a channel that is not configured gets, so its request can still be shown. */
static const char *const placeholders[][2] = {
    {"appid", "PREVIEW_APPID"},       {"corpid", "PREVIEW_CORPID"},
    {"agentid", "1000002"},           {"sender", "PREVIEW_SENDER"},
    {"provider", PREVIEW_SMS_PROVIDER},          {"secret_id", "PREVIEW_SECRET_ID"},
    {"sdk_app_id", "1400000000"},     {"sign_name", "PREVIEW_SIGN"},
    {"secret_env", PREVIEW_SECRET_ENV}, {"key_env", PREVIEW_SECRET_ENV},
};

/* The real config with every secret of [channel.NAME] read from PREVIEW_SECRET_ENV; a
 * channel not configured at all gets placeholder settings (*configured = 0). */
static int preview_config(const config *real, const char *channel, config *out, int *configured)
{
    memset(out, 0, sizeof *out);
    char section[64], what[64];
    snprintf(section, sizeof section, "channel.%s", channel);
    out->ini.path = strdup(real->ini.path ? real->ini.path : "(preview)");
    out->dir = strdup(real->dir ? real->dir : ".");
    int seen = 0, rc = 0;
    for (size_t i = 0; i < real->ini.n && rc == 0; i++) {
        const inif_entry *en = &real->ini.v[i];
        if (!strcmp(en->section, section) && secret_key(en->key, what, sizeof what)) {
            char k[80];
            snprintf(k, sizeof k, "%s_env", what);
            rc = inif_add(&out->ini, en->section, k, PREVIEW_SECRET_ENV, en->line);
        } else
            rc = inif_add(&out->ini, en->section, en->key, en->value, en->line);
        seen |= !strcmp(en->section, section);
    }
    for (size_t i = 0; !seen && rc == 0 && i < sizeof placeholders / sizeof placeholders[0]; i++)
        rc = inif_add(&out->ini, section, placeholders[i][0], placeholders[i][1], 0);
    *configured = seen;
    return rc;
}

/* ---- output ----------------------------------------------------------------------------- */

/* "https://host:port/a/b?x" -> "/a/b?x" */
static const char *url_path(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    return p ? p : url;
}

/* A value on one line: control characters shown as \n, \t or \xNN. */
static void print_value(const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '\n')
            fputs("\\n", stdout);
        else if (ch == '\t')
            fputs("\\t", stdout);
        else if (ch < 0x20 || ch == 0x7f)
            printf("\\x%02x", ch);
        else
            putchar(ch);
    }
}

static void print_verdicts(const fr_report *rep)
{
    for (size_t i = 0; i < rep->n; i++) {
        const fr_verdict *v = &rep->v[i];
        char len[64] = "";
        if (v->length >= 0 && v->limit >= 0)
            snprintf(len, sizeof len, "%ld/%ld %s", v->length, v->limit, v->unit);
        else if (v->length >= 0)
            snprintf(len, sizeof len, "%ld %s", v->length, v->unit);
        printf("  %s %-22s %-16s ", v->ok ? "✓" : "✗", v->field, len);
        print_value(v->value);
        putchar('\n');
        if (!v->ok)
            printf("      %s\n", v->reason);
    }
}

/* Build the request as the channel would. 0 ok (req filled), -1 with the reason. */
static int build(pv *p, const chan_ops *ops, const render_out *out, http_req *req,
                 int *configured, cherr *e)
{
    config cfg;
    if (preview_config(&p->a.cfg, ops->name, &cfg, configured) < 0) {
        cfg_free(&cfg);
        return err_set(e, "out of memory");
    }
    chan *c = NULL;
    if (chan_open(&c, ops, &cfg, e) < 0) {
        cfg_free(&cfg);
        return err_prefix(e, "channel %s cannot be set up here: ", ops->name);
    }
    char placeholder[64];
    const char *to = p->have_user ? chan_address(ops, &p->u) : NULL;
    snprintf(placeholder, sizeof placeholder, "PREVIEW_%s", ops->address);
    for (char *q = placeholder; *q; q++)
        *q = (char)(*q >= 'a' && *q <= 'z' ? *q - 32 : *q);
    chan_msg m = {.id = p->msg_id, .attempt = 1, .user_id = p->rc.user_id,
                  .to = to ? to : placeholder, .f = out};
    int rc = ops->build(c, &m, ops->token_request ? PREVIEW_TOKEN : NULL, tu_now(), req, e);
    chan_close(c);
    cfg_free(&cfg);
    return rc;
}

/* One channel: render, check, build, print. Returns 0 when everything passed. */
static int preview_channel(pv *p, const chan_ops *ops)
{
    render_out out;
    cherr e;
    int status = 0;
    if (!p->body_only)
        printf("\n== %s\n", ops->name);
    if (render_channel(&p->rc, ops->name, &out, &e) < 0) {
        if (p->body_only)
            cmd_error("%s", e.msg);
        else
            printf("  ✗ %s\n", e.msg);
        return -1;
    }
    fr_report rep;
    cherr fe = {{0}};
    if (fr_check(ops->name, &out, &p->lim, &rep, &fe) < 0)
        status = -1;
    http_req req = {0};
    int configured = 1;
    if (build(p, ops, &out, &req, &configured, &e) < 0) {
        if (p->body_only)
            cmd_error("%s", e.msg);
        else
            printf("  (no request: %s)\n", e.msg);
        status = -1;
    } else if (p->body_only) {
        fwrite(req.body ? req.body : "", 1, req.body ? req.body_len : 0, stdout);
    } else {
        printf("%s %s\n", req.method, url_path(req.url));
        fwrite(req.body ? req.body : "", 1, req.body ? req.body_len : 0, stdout);
        printf("\n");
    }
    if (p->body_only && status < 0 && fe.msg[0] && rep.n)
        cmd_error("%s", fe.msg);
    if (!p->body_only) {
        if (!configured)
            printf("  (no [channel.%s] in the config: built with placeholder settings)\n",
                   ops->name);
        if (p->have_user && !chan_address(ops, &p->u))
            printf("  (user %s has no %s: the scheduler would skip this channel)\n",
                   p->u.user_id, ops->address);
        print_verdicts(&rep);
    }
    http_req_clear(&req);
    fr_report_free(&rep);
    render_out_free(&out);
    return status;
}

/* ---- arguments ---------------------------------------------------------------------------- */

static int add_var(json_t *vars, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return -1;
    char *k = strndup(kv, (size_t)(eq - kv));
    json_t *v = json_string(eq + 1);
    if (!v) {
        free(k);
        return -2;
    }
    json_object_set_new(vars, k, v);
    free(k);
    return 0;
}

static int known_variant(const tpl *t, const char *name)
{
    for (size_t i = 0; i < t->nvariants; i++)
        if (!strcmp(t->variants[i].name, name))
            return 1;
    return 0;
}

static void print_header(const pv *p, const char *variant)
{
    const render_ctx *c = &p->rc;
    printf("template %s (%s)", p->t->name, p->t->klass);
    if (p->have_user)
        printf(" · user %s", p->u.user_id);
    printf(" · tier %s", c->tier && *c->tier ? c->tier : "-");
    printf(" · segment %s", c->segment && *c->segment ? c->segment : "-");
    printf(" · zone %s", c->tz);
    if (variant)
        printf(" · variant %s", variant);
    printf("\n");
    if (p->t->nvariants) {
        printf("variants:");
        for (size_t i = 0; i < p->t->nvariants; i++)
            printf(" %s (weight %u)", p->t->variants[i].name, p->t->variants[i].weight);
        printf("%s\n", p->have_user ? "" : "; without --user the first is shown (--variant V)");
    }
    if (p->t->holdout_bp) {
        printf("holdout: %d.%02d%% of users", p->t->holdout_bp / 100, p->t->holdout_bp % 100);
        if (p->have_user)
            printf(tpl_in_holdout(p->t, p->u.user_id)
                       ? "; %s IS held out: nothing would be sent (suppressed, reason holdout)"
                       : "; %s is not held out", p->u.user_id);
        printf("\n");
    }
}

int cmd_preview(const cmd_globals *g, int argc, char **argv)
{
    if (cmd_help(argc, argv, preview_usage))
        return 0;
    static const struct option opts[] = {
        {"template", required_argument, 0, 't'}, {"user", required_argument, 0, 'u'},
        {"tier", required_argument, 0, 'T'},     {"segment", required_argument, 0, 's'},
        {"channel", required_argument, 0, 'c'},  {"var", required_argument, 0, 'v'},
        {"variant", required_argument, 0, 'V'},  {"message-id", required_argument, 0, 'm'},
        {"body", no_argument, 0, 'b'},           {0, 0, 0, 0},
    };
    const char *tname = NULL, *user = NULL, *tier = NULL, *segment = NULL, *channel = NULL;
    const char *variant = NULL;
    pv p;
    memset(&p, 0, sizeof p);
    p.msg_id = 1;
    json_t *vars = json_object(), *attrs = NULL;
    int c, status = 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 't': tname = optarg; break;
        case 'u': user = optarg; break;
        case 'T': tier = optarg; break;
        case 's': segment = optarg; break;
        case 'c': channel = optarg; break;
        case 'V': variant = optarg; break;
        case 'b': p.body_only = 1; break;
        case 'm': {
            char *end;
            long long id = strtoll(optarg, &end, 10);
            if (*end || id <= 0) {
                cmd_error("--message-id %s: expected a positive number", optarg);
                json_decref(vars);
                return 2;
            }
            p.msg_id = id;
            break;
        }
        case 'v': {
            int r = add_var(vars, optarg);
            if (r < 0) {
                cmd_error("--var %s: %s", optarg, r == -1 ? "expected name=value"
                                                          : "value is not valid UTF-8");
                json_decref(vars);
                return 2;
            }
            break;
        }
        default:
            fputs(preview_usage, stderr);
            json_decref(vars);
            return 2;
        }
    }
    if (!tname || !!user == !!tier || (user && segment) || optind < argc ||
        (p.body_only && !channel)) {
        cmd_error(p.body_only && !channel ? "--body needs --channel"
                                          : "preview needs --template and either --user or "
                                            "--tier (with an optional --segment)");
        fputs(preview_usage, stderr);
        json_decref(vars);
        return 2;
    }
    cherr e;
    if (app_open(&p.a, g->config, g->db, APP_TEMPLATES | APP_POLICY | (user ? APP_DB : 0),
                 &e) < 0) {
        cmd_error("%s", e.msg);
        json_decref(vars);
        return 1;
    }
    if (!(p.t = tpl_find(&p.a.tpls, tname))) {
        cmd_error("unknown template '%s' (no %s/%s.ini)", tname, p.a.templates_dir, tname);
        goto out;
    }
    p.lim = p.a.fr;
    if (!p.lim.sms_provider)    /* the verdicts of the provider the request is built for */
        p.lim.sms_provider = PREVIEW_SMS_PROVIDER;
    if (user) {
        int found = store_user_get(p.a.st, user, &p.u, &e);
        if (found <= 0) {
            cmd_error(found < 0 ? "%s" : "no user '%s' (import it with `chuda users import`)",
                      found < 0 ? e.msg : user);
            goto out;
        }
        p.have_user = 1;
        attrs = p.u.attrs ? json_loads(p.u.attrs, 0, NULL) : NULL;
        tier = p.u.tier;
        segment = p.u.segment;
    } else if (!policy_tier_find(&p.a.pol, tier)) {
        char names[256];
        policy_tier_names(&p.a.pol, names, sizeof names);
        cmd_error("--tier %s: unknown tier (%s)", tier, names);
        goto out;
    }
    if (variant && !known_variant(p.t, variant)) {
        cmd_error("--variant %s: template %s has no [variant.%s]", variant, tname, variant);
        goto out;
    }
    const chan_ops *only = NULL;
    if (channel && (!(only = chan_ops_find(channel)) || !tpl_has_section(p.t, channel))) {
        cmd_error("--channel %s: %s", channel, only ? "the template has no section for it"
                                                    : "unknown channel");
        goto out;
    }
    p.rc = (render_ctx){.t = p.t, .vars = vars, .attrs = attrs,
                        .user_id = p.have_user ? p.u.user_id : "PREVIEW_USER",
                        .tier = tier, .segment = segment,
                        .tz = p.have_user && p.u.tz && *p.u.tz ? p.u.tz : p.a.default_tz};
    if (!variant && !p.have_user && p.t->nvariants)
        for (size_t i = 0; i < p.t->nvariants && !variant; i++)
            if (p.t->variants[i].weight)
                variant = p.t->variants[i].name;
    p.rc.variant = variant;
    if (!p.body_only)
        print_header(&p, render_variant(&p.rc));
    setenv(PREVIEW_SECRET_ENV, "preview-secret-not-real", 1);
    status = 0;
    for (const char *const *n = chan_names(); *n; n++) {
        const chan_ops *ops = chan_ops_find(*n);
        if ((only && ops != only) || !tpl_has_section(p.t, *n))
            continue;
        if (preview_channel(&p, ops) < 0)
            status = 1;
    }
out:
    json_decref(vars);
    json_decref(attrs);
    if (p.have_user)
        store_user_free(&p.u);
    app_close(&p.a);
    return status;
}
