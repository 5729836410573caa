/* sms.c — the SMS channel (providers.md §5, §6): one [channel.sms] section picks its
 * provider from a small table, OpenSMTPD-style:
 *
 *   provider = tencent   SendSms 2021-01-11, TC3-HMAC-SHA256 (sms_tencent.c)
 *   provider = aliyun    dysmsapi SendSms 2017-05-25, signature v1 (sms_aliyun.c)
 *
 * Config: provider, secret_id (SecretId / AccessKeyId), secret_env or secret_file
 * (SecretKey / AccessKeySecret), sign_name, region; Tencent also sdk_app_id.
 * Template section [sms]:
 *   template_id            the provider's template (template_id.tencent and
 *                          template_id.aliyun win for their provider)
 *   params = a, b, c       ordered parameters (Tencent TemplateParamSet), split at
 *                          ASCII commas after rendering, each trimmed; a comma a
 *                          placeholder rendered is refused before (fieldrule.c)
 *   param.NAME = value     named parameters (Aliyun TemplateParam {"NAME":"value"}); for
 *                          Tencent, when there is no `params`, their values in file order
 * Address: the user's phone (E.164). One number per request; the message id is the
 * request's SessionContext (Tencent) or OutId (Aliyun), echoed in receipts. Codes are
 * classified per provider (sms_tencent.c, sms_aliyun.c) by the table walk here. */
#include "sms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cn_time.h"
#include "fixstr.h"
#include "section.h"
#include "timeutil.h"

#define SMS_MAX_PARAMS 32

typedef struct sms_priv {
    const sms_provider *prov;
    sms_conf conf;
} sms_priv;

static const sms_provider *const providers[] = {&sms_tencent, &sms_aliyun};

/* ---- code tables ------------------------------------------------------------------- */

int64_t sms_window(int64_t backoff_ms, const char *message, int64_t now)
{
    switch (backoff_ms) {
    case SMS_NEXT_HOUR:
        return cn_next_hour(now);
    case SMS_NEXT_DAY:
        return cn_next_day(now);
    case SMS_AT_0800:
        return cn_next_at(now, 8);
    case SMS_NEXT_MONTH:
        return cn_next_month(now);
    case SMS_FROM_MESSAGE:
        /* Aliyun: "触发分钟级流控Permits:1", "触发小时级流控...", "触发天级流控..." */
        if (message && strstr(message, "天级"))
            return cn_next_day(now);
        if (message && strstr(message, "小时级"))
            return cn_next_hour(now);
        return now + TU_MIN;
    default:
        return now + (backoff_ms > 0 ? backoff_ms : TU_MIN);
    }
}

static const sms_code *find_code(const sms_code *t, const char *code)
{
    const sms_code *best = NULL;
    size_t best_len = 0;
    for (; t->code; t++) {
        size_t n = strlen(t->code);
        if (n >= 2 && !strcmp(t->code + n - 2, ".*")) {
            /* "X.*" matches X itself and X.anything */
            size_t p = n - 2;
            if (!strncmp(code, t->code, p) && (code[p] == '\0' || code[p] == '.') &&
                p > best_len) {
                best = t;
                best_len = p;
            }
        } else if (!strcmp(t->code, code)) {
            return t;
        }
    }
    return best;
}

void sms_classify(const sms_code *table, const char *code, const char *message, int64_t now,
                  chan_outcome *o)
{
    const char *msg = message ? message : "";
    const sms_code *row = find_code(table, code);
    if (!row) {
        chan_outcome_set(o, CHAN_PERMANENT, code, "unknown code %s: %s", code, msg);
        return;
    }
    chan_outcome_set(o, row->cls, code, "%s (%s)", row->meaning, msg);
    o->recipient = row->recipient != 0;
    o->this_message = row->recipient == SMS_THIS_MESSAGE;
    o->uncertain = row->uncertain;
    if (row->cls == CHAN_BACKOFF)
        o->until = sms_window(row->backoff_ms, msg, now);
}

/* ---- config ------------------------------------------------------------------------- */

static int copy_key(const config *cfg, const char *section, const char *key, char *out,
                    size_t len, const char *def, cherr *e)
{
    const char *v = cfg_str(cfg, section, key, def);
    if (!v || !*v)
        return err_set(e, "[%s] %s is missing", section, key);
    if (strlen(v) >= len)
        return err_set(e, "[%s] %s is too long", section, key);
    fs_copy(out, len, v);
    return 0;
}

static int sms_init(chan *c, const config *cfg, const char *section, cherr *e)
{
    const char *name = cfg_str(cfg, section, "provider", NULL);
    const sms_provider *prov = NULL;
    for (size_t i = 0; name && i < sizeof providers / sizeof providers[0]; i++)
        if (!strcmp(providers[i]->name, name))
            prov = providers[i];
    if (!prov)
        return err_set(e, "[%s] provider must be tencent or aliyun", section);
    sms_priv *p = calloc(1, sizeof *p);
    if (!p)
        return err_set(e, "out of memory");
    p->prov = prov;
    sms_conf *k = &p->conf;
    if (copy_key(cfg, section, "secret_id", k->secret_id, sizeof k->secret_id, NULL, e) < 0 ||
        copy_key(cfg, section, "sign_name", k->sign_name, sizeof k->sign_name, NULL, e) < 0 ||
        copy_key(cfg, section, "region", k->region, sizeof k->region, prov->default_region,
                 e) < 0 ||
        (prov == &sms_tencent &&
         copy_key(cfg, section, "sdk_app_id", k->sdk_app_id, sizeof k->sdk_app_id, NULL, e) < 0) ||
        cfg_secret(cfg, section, "secret", k->secret, sizeof k->secret, e) < 0) {
        memset(k->secret, 0, sizeof k->secret);
        free(p);
        return -1;
    }
    if (!cfg_str(cfg, section, "base_url", NULL)) {
        char *u = strdup(prov->default_base_url);
        if (!u) {
            free(p);
            return err_set(e, "out of memory");
        }
        free(c->base_url);
        c->base_url = u;
    }
    c->priv = p;
    return 0;
}

static void sms_fini(chan *c)
{
    sms_priv *p = c->priv;
    if (p)
        memset(p->conf.secret, 0, sizeof p->conf.secret);
    free(p);
}

static int sms_check_template(const tpl *t, const char *section, cherr *e)
{
    static const char *const keys[] = {"template_id", "template_id.tencent",
                                       "template_id.aliyun", "params", NULL};
    static const char *const prefixes[] = {"param.", NULL};
    if (sec_check_keys(t, section, keys, prefixes,
                       "template_id, template_id.tencent, template_id.aliyun, params, "
                       "param.NAME", e) < 0)
        return -1;
    if (sec_is_override(section))
        return 0;
    if (!sec_has(t, section, "template_id") && !sec_has(t, section, "template_id.tencent") &&
        !sec_has(t, section, "template_id.aliyun"))
        return err_set(e, "%s: [%s] template_id is missing", t->ini.path, section);
    return 0;
}

/* ---- one message ----------------------------------------------------------------------- */

/* The template's parameters for this provider: values (and names) pointing into `m->f`
 * or into `split` (the rendered `params`, cut at commas in place). */
static int gather_params(const sms_provider *prov, const chan_msg *m, char **split,
                         const char **values, const char **names, size_t *n, cherr *e)
{
    *n = 0;
    *split = NULL;
    const char *list = render_get(m->f, "params");
    int named = 0;
    for (size_t i = 0; i < m->f->n; i++)
        named += !strncmp(m->f->v[i].key, "param.", 6);
    if (prov->needs_names || !list) {
        if (prov->needs_names && list && !named)
            return err_set(e, "[sms] %s needs named parameters: write param.NAME = value lines",
                           prov->name);
        for (size_t i = 0; i < m->f->n; i++) {
            const render_field *f = &m->f->v[i];
            if (strncmp(f->key, "param.", 6))
                continue;
            if (*n == SMS_MAX_PARAMS)
                return err_set(e, "[sms] more than %d parameters", SMS_MAX_PARAMS);
            names[*n] = f->key + 6;
            values[(*n)++] = f->value;
        }
        return 0;
    }
    if (!(*split = strdup(list)))
        return err_set(e, "out of memory");
    char *s = *split;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s)
        return 0;     /* "params =": none */
    for (char *tok = s;;) {
        char *comma = strchr(tok, ',');
        if (comma)
            *comma = '\0';
        while (*tok == ' ' || *tok == '\t')
            tok++;
        size_t len = strlen(tok);
        while (len && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
            tok[--len] = '\0';
        if (*n == SMS_MAX_PARAMS)
            return err_set(e, "[sms] more than %d parameters", SMS_MAX_PARAMS);
        names[*n] = NULL;
        values[(*n)++] = tok;
        if (!comma)
            break;
        tok = comma + 1;
    }
    return 0;
}

static int sms_build(chan *c, const chan_msg *m, const char *token, int64_t now, http_req *req,
                     cherr *e)
{
    sms_priv *p = c->priv;
    char key[40];
    snprintf(key, sizeof key, "template_id.%s", p->prov->name);
    const char *tid = render_get(m->f, key);
    if (!tid || !*tid)
        tid = render_get(m->f, "template_id");
    if (!tid || !*tid)
        return err_set(e, "[sms] no template_id (or %s) for provider %s", key, p->prov->name);
    const char *values[SMS_MAX_PARAMS], *names[SMS_MAX_PARAMS];
    size_t n;
    char *split;
    if (gather_params(p->prov, m, &split, values, names, &n, e) < 0) {
        free(split);
        return -1;
    }
    char ref[24];
    snprintf(ref, sizeof ref, "%lld", (long long)m->id);
    sms_send s = {m->to, tid, values, p->prov->needs_names ? names : NULL, n, ref};
    int rc = p->prov->build(&p->conf, c->base_url, &s, now, req, e);
    free(split);
    return rc;
}

static void sms_parse(chan *c, const chan_msg *m, const http_resp *r, int64_t now,
                      chan_outcome *o)
{
    sms_priv *p = c->priv;
    p->prov->parse(m->to, r, now, o);
}

const chan_ops chan_sms = {
    .name = "sms",
    .address = "phone",
    .default_base_url = "https://sms.tencentcloudapi.com",   /* per provider: sms_init */
    .dedup = 0,
    .init = sms_init,
    .fini = sms_fini,
    .check_template = sms_check_template,
    .build = sms_build,
    .parse = sms_parse,
};
