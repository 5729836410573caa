/* enqueue.c — validating and writing one message (see enqueue.h). */
#include "enqueue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "fieldrule.h"
#include "render.h"
#include "timeutil.h"

/* Render every section the message could use, so a missing variable fails now. */
/* Render every section the message could use, so that a missing variable fails now.
 * Field rules (lengths) are checked too, but a message is refused for them only when
 * no channel can carry it: SMS's 12-character parameters should not refuse a message
 * the mini program can send. */
static int check_renders(const app *a, const tpl *t, const store_user *u, json_t *vars,
                         const char *only_channel, cherr *e)
{
    json_t *attrs = u->attrs ? json_loads(u->attrs, 0, NULL) : NULL;
    render_ctx rc = {.t = t, .vars = vars, .attrs = attrs, .user_id = u->user_id,
                     .tier = u->tier, .segment = u->segment,
                     .tz = u->tz && *u->tz ? u->tz : a->default_tz};
    int rc_ok = 0, any = 0, fits = 0, usable = 0;
    cherr first_rule = {{0}};
    for (const char *const *n = chan_names(); *n && rc_ok == 0; n++) {
        if (only_channel && strcmp(*n, only_channel))
            continue;
        if (!tpl_has_section(t, *n))
            continue;
        any = 1;
        render_out out;
        if (render_channel(&rc, *n, &out, e) < 0) {
            rc_ok = -1;
            break;
        }
        for (size_t i = 0; i < out.n && rc_ok == 0; i++)
            if (!out.v[i].value[0] && strcmp(out.v[i].key, "page"))
                rc_ok = err_set(e, "%s:%d: [%s] %s renders empty for user %s", t->ini.path,
                                out.v[i].line, *n, out.v[i].key, u->user_id);
        /* only a channel that is configured and that the user has an address for can
         * carry the message */
        char section[48];
        snprintf(section, sizeof section, "channel.%s", *n);
        int configured = 0;
        for (size_t i = 0; i < a->cfg.ini.n && !configured; i++)
            configured = !strcmp(a->cfg.ini.v[i].section, section);
        cherr fe;
        if (rc_ok == 0 && configured && chan_address(chan_ops_find(*n), u)) {
            usable = 1;
            if (fr_check(*n, &out, &a->fr, NULL, &fe) == 0)
                fits = 1;
            else if (!first_rule.msg[0])
                first_rule = fe;
        }
        render_out_free(&out);
    }
    for (char **v = t->vars; rc_ok == 0 && v && *v; v++)
        if (!json_object_get(vars, *v) && !(attrs && json_object_get(attrs, *v)))
            rc_ok = err_set(e, "template %s needs variable '%s' (--var %s=...)", t->name, *v, *v);
    json_decref(attrs);
    if (rc_ok == 0 && only_channel && !any)
        return err_set(e, "template %s has no [%s] section", t->name, only_channel);
    if (rc_ok == 0 && usable && !fits)
        return err_set(e, "no channel can carry it: %s", first_rule.msg);
    return rc_ok;
}

int enq_one(app *a, const enq_request *r, int64_t now, int64_t *id, int *dup, cherr *e)
{
    int64_t due = now, exp = 0;
    if (!r->user || !*r->user)
        return err_set(e, "user: missing");
    if (!r->tmpl || !*r->tmpl)
        return err_set(e, "template: missing");
    const tpl *t = tpl_find(&a->tpls, r->tmpl);
    if (!t)
        return err_set(e, "template: unknown template '%s' (no %s/%s.ini)", r->tmpl,
                       a->templates_dir, r->tmpl);
    if (r->at && tu_parse_time(r->at, now, &due, e) < 0)
        return err_prefix(e, "at: ");
    if (r->expires) {
        int64_t d;
        cherr e2;
        if (tu_parse_duration(r->expires, &d, &e2) == 0)
            exp = due + d;
        else if (tu_parse_time(r->expires, now, &exp, e) < 0)
            return err_prefix(e, "expires: ");
        if (exp <= due)
            return err_set(e, "expires: the message would expire before it is due");
    }
    if (r->klass && !tpl_class_valid(r->klass))
        return err_set(e, "class: '%s' is not transactional, lifecycle or marketing", r->klass);
    if (r->channel && !chan_ops_find(r->channel))
        return err_set(e, "channel: unknown channel '%s'", r->channel);
    if (r->window && strcmp(r->window, "best"))
        return err_set(e, "window: '%s' is not a window (the only one is 'best')", r->window);
    store_user u = {0};
    int found = store_user_get(a->st, r->user, &u, e);
    if (found < 0)
        return -1;
    if (!found)
        return err_set(e, "user: no user '%s' (import it with `chuda users import`)", r->user);
    json_t *vars = r->vars ? json_incref(r->vars) : json_object();
    int rc = check_renders(a, t, &u, vars, r->channel, e);
    if (rc < 0) {
        store_user_free(&u);
        json_decref(vars);
        return -1;
    }
    char *vtext = json_dumps(vars, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(vars);
    store_msg m = {
        .due_at = due, .created_at = now, .expires_at = exp, .campaign_id = r->campaign_id,
        .user_id = (char *)r->user, .tmpl = (char *)r->tmpl,
        .klass = (char *)(r->klass ? r->klass : t->klass), .tag = (char *)r->tag,
        .channel = (char *)r->channel, .idem_key = (char *)r->key, .vars = vtext,
        .window = (char *)r->window,
    };
    rc = store_enqueue(a->st, &m, dup, e);
    if (rc == 0 && !*dup) {
        char reason[200], ts[32];
        snprintf(reason, sizeof reason, "template %s, class %s, due %s", r->tmpl, m.klass,
                 tu_format(due, ts, sizeof ts));
        store_event ev = {.at = now, .message_id = m.id, .campaign_id = r->campaign_id,
                          .user_id = r->user, .event = "enqueued", .channel = r->channel,
                          .reason = reason, .detail = r->tag, .tier = u.tier};
        rc = store_log(a->st, &ev, e);
    }
    store_user_free(&u);
    free(vtext);
    *id = m.id;
    return rc;
}

/* A string field, or NULL when absent/null; -1 when of another type. */
static int str_field(json_t *obj, const char *name, const char **out, cherr *e)
{
    json_t *v = json_object_get(obj, name);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return err_set(e, "%s: expected a string", name);
    *out = json_string_value(v);
    return 0;
}

int enq_from_json(json_t *obj, enq_request *r, cherr *e)
{
    memset(r, 0, sizeof *r);
    if (!json_is_object(obj))
        return err_set(e, "expected a JSON object");
    static const char *const known[] = {"user", "template", "vars", "at", "expires", "key",
                                        "class", "tag", "channel", "window", NULL};
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        int ok = 0;
        for (int i = 0; known[i] && !ok; i++)
            ok = !strcmp(k, known[i]);
        if (!ok)
            return err_set(e, "%s: unknown field", k);
    }
    if (str_field(obj, "user", &r->user, e) < 0 || str_field(obj, "template", &r->tmpl, e) < 0 ||
        str_field(obj, "at", &r->at, e) < 0 || str_field(obj, "expires", &r->expires, e) < 0 ||
        str_field(obj, "key", &r->key, e) < 0 || str_field(obj, "class", &r->klass, e) < 0 ||
        str_field(obj, "tag", &r->tag, e) < 0 || str_field(obj, "channel", &r->channel, e) < 0 ||
        str_field(obj, "window", &r->window, e) < 0)
        return -1;
    json_t *vars = json_object_get(obj, "vars");
    if (vars && !json_is_null(vars)) {
        if (!json_is_object(vars))
            return err_set(e, "vars: expected an object of strings");
        json_object_foreach(vars, k, v) {
            if (!json_is_string(v))
                return err_set(e, "vars.%s: expected a string", k);
        }
        r->vars = vars;
    }
    return 0;
}
