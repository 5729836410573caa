/* enqueue.c — validating and writing messages (see enqueue.h): one at a time
 * (enq_one), or many of one template in a batch (enq_batch, campaigns). */
#include "enqueue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "channel.h"
#include "fieldrule.h"
#include "fixstr.h"
#include "jsonf.h"
#include "render.h"
#include "strset.h"
#include "timeutil.h"

/* Render every section the message could use, so that a missing variable fails now.
 * Field rules (lengths) are checked too, but a message is refused for them only when
 * no channel can carry it: SMS's 12-character parameters should not refuse a message
 * the mini program can send. */
static int check_renders(const app *a, const tpl *t, const store_user *u, json_t *vars,
                         json_t *attrs, const char *only_channel, int rules, cherr *e)
{
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
        if (rc_ok == 0 && rules && configured && chan_address(chan_ops_find(*n), u)) {
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
    if (r->key && !*r->key)     /* else every later "" would be its duplicate */
        return err_set(e, "key: empty (leave it out for a message without one)");
    if (r->klass && !tpl_class_valid(r->klass))
        return err_set(e, "class: '%s' is not transactional, lifecycle or marketing", r->klass);
    if (r->channel && !chan_ops_find(r->channel))
        return err_set(e, "channel: unknown channel '%s'", r->channel);
    if (r->window && strcmp(r->window, "best"))
        return err_set(e, "window: '%s' is not a window (the only one is 'best')", r->window);
    if (r->channel && !tpl_has_section(t, r->channel))
        return err_set(e, "channel: template %s has no [%s] section", t->name, r->channel);
    store_user u = {0};
    int found = store_user_get(a->st, r->user, &u, e);
    if (found < 0)
        return ENQ_STORAGE;
    if (!found)
        return err_set(e, "user: no user '%s' (import it with `chuda users import`)", r->user);
    json_t *vars = r->vars ? json_incref(r->vars) : json_object();
    json_t *attrs = u.attrs ? json_loads(u.attrs, 0, NULL) : NULL;
    int rc = check_renders(a, t, &u, vars, attrs, r->channel, 1, e);
    json_decref(attrs);
    if (rc < 0) {               /* a variable missing, empty or too long for every channel */
        store_user_free(&u);
        json_decref(vars);
        return err_prefix(e, "vars: ");
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
    return rc < 0 ? ENQ_STORAGE : 0;
}

/* ---- batches ------------------------------------------------------------------------ */

#define BATCH_MAX_NAMES 64          /* placeholder names a batch tracks */
#define BATCH_MAX_CACHED 65536      /* checked combinations it remembers */

/* A message waiting for its chunk to be checked and written. */
typedef struct pend {
    size_t user, vtext;         /* offsets of its strings in the batch's text */
    char state[BATCH_MAX_NAMES + 1];    /* per name, from the message's variables: m
                                           present, M present but empty, - absent */
    int64_t due, exp;
    long line;
} pend;

struct enq_batch {
    app *a;
    const tpl *t;
    const char *klass;
    int64_t now, expires_abs, expires_dur;   /* one of the two, or neither */
    int64_t campaign_id;
    const char *names[BATCH_MAX_NAMES];      /* every placeholder name of the template */
    unsigned filters[BATCH_MAX_NAMES];       /* RENDER_F_* it is used with */
    int col_of[BATCH_MAX_NAMES];             /* its column, or -1 */
    char base_state[BATCH_MAX_NAMES];        /* its state from `vars` alone (see pend) */
    char namebuf[BATCH_MAX_NAMES][256];
    int nnames;
    const char *const *columns;
    int ncolumns;
    json_t *vars;
    int *var_shadowed;          /* per key of vars (in order): also a column */
    buf vtext;
    strset ok;                  /* combinations that rendered: tier, segment, variant,
                                   and per name whether the message or the user has it */
    pend p[STORE_MANY];
    int np;
    buf text;                   /* the waiting messages' strings, each NUL-terminated */
    store *users;
    enq_sink_fn sink;
    void *sink_arg;
    buf key, users_buf;
    long fail_line;             /* the message an error is about */
    const char *fail_user;
};

static int batch_name(const char *name, unsigned filters, void *arg)
{
    enq_batch *b = arg;
    if (b->nnames == BATCH_MAX_NAMES)
        return -1;
    fs_copy(b->namebuf[b->nnames], sizeof b->namebuf[0], name);
    b->names[b->nnames] = b->namebuf[b->nnames];
    b->filters[b->nnames++] = filters;
    return 0;
}

int enq_batch_new(app *a, const enq_batch_spec *s, enq_batch **out, cherr *e)
{
    *out = NULL;
    const tpl *t = s->tmpl ? tpl_find(&a->tpls, s->tmpl) : NULL;
    if (!t)
        return err_set(e, "template: unknown template '%s' (no %s/%s.ini)",
                       s->tmpl ? s->tmpl : "", a->templates_dir, s->tmpl ? s->tmpl : "");
    if (s->klass && !tpl_class_valid(s->klass))
        return err_set(e, "class: '%s' is not transactional, lifecycle or marketing", s->klass);
    enq_batch *b = calloc(1, sizeof *b);
    if (!b)
        return err_set(e, "out of memory");
    b->a = a;
    b->t = t;
    b->klass = s->klass ? s->klass : t->klass;
    b->now = s->now;
    b->campaign_id = s->campaign_id;
    b->users = s->users ? s->users : a->st;
    b->sink = s->sink;
    b->sink_arg = s->sink_arg;
    if (s->expires) {
        cherr e2;
        if (tu_parse_duration(s->expires, &b->expires_dur, &e2) < 0 &&
            tu_parse_time(s->expires, s->now, &b->expires_abs, e) < 0) {
            free(b);
            return err_prefix(e, "expires: ");
        }
    }
    int rc = render_names(t, batch_name, b);
    for (char **v = t->vars; rc == 0 && v && *v; v++) {   /* required, maybe not shown */
        int seen = 0;
        for (int i = 0; i < b->nnames && !seen; i++)
            seen = !strcmp(b->names[i], *v);
        if (!seen)
            rc = batch_name(*v, 0, b);
    }
    if (rc < 0) {
        free(b);
        return err_set(e, "template %s uses more than %d variable names", t->name,
                       BATCH_MAX_NAMES);
    }
    b->columns = s->columns;
    while (s->columns && s->columns[b->ncolumns])
        b->ncolumns++;
    b->vars = s->vars ? json_incref(s->vars) : json_object();
    b->var_shadowed = calloc(json_object_size(b->vars) + 1, sizeof *b->var_shadowed);
    if (!b->vars || !b->var_shadowed) {
        enq_batch_free(b);
        return err_set(e, "out of memory");
    }
    const char *k;
    json_t *v;
    size_t vi = 0;
    json_object_foreach(b->vars, k, v) {
        if (!json_is_string(v)) {
            enq_batch_free(b);
            return err_set(e, "vars.%s: expected a string", k);
        }
        for (int c = 0; c < b->ncolumns && !b->var_shadowed[vi]; c++)
            b->var_shadowed[vi] = !strcmp(b->columns[c], k);
        vi++;
    }
    for (int i = 0; i < b->nnames; i++) {
        b->col_of[i] = -1;
        for (int c = 0; c < b->ncolumns && b->col_of[i] < 0; c++)
            if (!strcmp(b->columns[c], b->names[i]))
                b->col_of[i] = c;
        const char *dv = json_string_value(json_object_get(b->vars, b->names[i]));
        b->base_state[i] = dv ? (*dv ? 'm' : 'M') : '-';
        if (dv && *dv && b->filters[i] && render_value_check(b->names[i], dv, b->filters[i], e) < 0) {
            enq_batch_free(b);
            return -1;
        }
    }
    *out = b;
    return 0;
}

static void pend_clear(enq_batch *b)
{
    buf_reset(&b->text);
    b->np = 0;
}

void enq_batch_free(enq_batch *b)
{
    if (!b)
        return;
    pend_clear(b);
    strset_free(&b->ok);
    buf_free(&b->key);
    buf_free(&b->users_buf);
    buf_free(&b->vtext);
    buf_free(&b->text);
    json_decref(b->vars);
    free(b->var_shadowed);
    free(b);
}

long enq_batch_fail_line(const enq_batch *b)
{
    return b->fail_line;
}

const char *enq_batch_fail_user(const enq_batch *b)
{
    return b->fail_user;
}

/* The string value of `name` in obj, or NULL. */
static const char *str_of(json_t *obj, const char *name)
{
    json_t *v = obj ? json_object_get(obj, name) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Could the user's attributes (JSON object text written by jansson) have `name` as a
 * key? When the quoted name appears nowhere in the text, they cannot; a name needing
 * escapes is never ruled out. Saves parsing attributes the template does not use. */
static int attrs_may_have(const char *attrs, const char *name)
{
    if (strpbrk(name, "\"\\"))
        return 1;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20)
            return 1;
    size_t n = strlen(name);
    for (const char *p = attrs; (p = strstr(p, name)); p += n)
        if (p > attrs && p[-1] == '"' && p[n] == '"')
            return 1;
    return 0;
}

/* Check one waiting message against its user (found by the chunk's lookup). */
static int check_pend(enq_batch *b, const pend *p, const store_user *u, cherr *e)
{
    const tpl *t = b->t;
    json_t *attrs = NULL;
    for (int i = 0; i < b->nnames && !attrs && u->attrs; i++)
        if (p->state[i] == '-' && attrs_may_have(u->attrs, b->names[i]))
            attrs = json_loads(u->attrs, 0, NULL);
    const char *variant = tpl_variant_for(t, u->user_id);
    /* what decides the render's outcome; the values themselves only matter to filters */
    buf_reset(&b->key);
    buf_puts(&b->key, u->tier);
    buf_puts(&b->key, "\x1f");
    buf_puts(&b->key, u->segment ? u->segment : "");
    buf_puts(&b->key, "\x1f");
    buf_puts(&b->key, variant ? variant : "");
    buf_puts(&b->key, "\x1f");
    int rc = 0;
    for (int i = 0; i < b->nnames && rc == 0; i++) {
        char st = p->state[i];
        const char *v;
        if (st == '-' && (v = str_of(attrs, b->names[i]))) {
            st = *v ? 'a' : 'A';
            if (*v && b->filters[i])
                rc = render_value_check(b->names[i], v, b->filters[i], e);
        }
        buf_add(&b->key, &st, 1);
    }
    if (rc == 0 && !strset_has(&b->ok, b->key.s)) {
        json_t *vars = json_loads(b->text.s + p->vtext, 0, NULL);
        if (!attrs && u->attrs)     /* the full check sees every attribute */
            attrs = json_loads(u->attrs, 0, NULL);
        rc = check_renders(b->a, t, u, vars, attrs, NULL, 0, e);
        json_decref(vars);
        if (rc == 0 && b->ok.live < BATCH_MAX_CACHED && strset_add(&b->ok, b->key.s) < 0)
            rc = err_set(e, "out of memory");
    }
    json_decref(attrs);
    return rc;
}

int enq_chunk_write(store *st, enq_chunk *ch, int64_t *last_id, cherr *e)
{
    *last_id = 0;
    if (!ch->n)
        return 0;
    if (store_enqueue_many(st, ch->m, ch->n, e) < 0)
        return -1;
    *last_id = ch->m[ch->n - 1].id;
    return 0;
}

void enq_chunk_free(enq_chunk *ch)
{
    if (!ch)
        return;
    free(ch->text);
    free(ch);
}

/* The waiting messages as a chunk whose strings are in `text` (not copied). */
static void chunk_fill(enq_batch *b, enq_chunk *ch, const char *text)
{
    for (int i = 0; i < b->np; i++) {
        const pend *p = &b->p[i];
        ch->m[i] = (store_msg){
            .due_at = p->due, .created_at = b->now, .expires_at = p->exp,
            .campaign_id = b->campaign_id, .user_id = (char *)text + p->user,
            .tmpl = b->t->name, .klass = (char *)b->klass, .vars = (char *)text + p->vtext,
        };
    }
    ch->n = b->np;
    ch->line = b->p[b->np - 1].line;
}

/* Check the waiting chunk (one lookup for its users), then write it or hand it over. */
static int flush(enq_batch *b, int64_t *last_id, cherr *e)
{
    if (!b->np)
        return 0;
    const char *ids[STORE_MANY];
    store_user us[STORE_MANY];
    int found[STORE_MANY];
    for (int i = 0; i < b->np; i++)
        ids[i] = b->text.s + b->p[i].user;
    if (store_users_peek(b->users, ids, b->np, us, found, &b->users_buf, e) < 0)
        return -1;
    for (int i = 0; i < b->np; i++) {
        b->fail_line = b->p[i].line;
        b->fail_user = ids[i];
        if (!found[i])
            return err_set(e, "user: no user '%s' (import it with `chuda users import`)",
                           ids[i]);
        if (check_pend(b, &b->p[i], &us[i], e) < 0)
            return -1;
    }
    b->fail_line = 0;
    b->fail_user = NULL;
    if (!b->sink) {
        enq_chunk ch;
        chunk_fill(b, &ch, b->text.s);
        int64_t last;
        if (enq_chunk_write(b->a->st, &ch, &last, e) < 0)
            return -1;
        if (last_id)
            *last_id = last;
        pend_clear(b);
        return 0;
    }
    enq_chunk *ch = malloc(sizeof *ch);
    char *text = ch ? buf_take(&b->text) : NULL;
    if (!text) {
        free(ch);
        return err_set(e, "out of memory");
    }
    chunk_fill(b, ch, text);
    ch->text = text;
    pend_clear(b);
    return b->sink(b->sink_arg, ch, e);
}

/* The message's variables as JSON text: its columns that have a value, then the
 * batch's `vars` that no column overrides... unless the column is empty here. */
static int vars_text(enq_batch *b, const char *const *values, const size_t *lens)
{
    buf *o = &b->vtext;
    buf_reset(o);
    int rc = buf_add(o, "{", 1), first = 1;
    for (int c = 0; c < b->ncolumns && rc == 0; c++) {
        if (!lens[c])
            continue;
        rc = (first ? 0 : buf_add(o, ",", 1)) | buf_json_str(o, b->columns[c], strlen(b->columns[c])) |
             buf_add(o, ":", 1) | buf_json_str(o, values[c], lens[c]);
        first = 0;
    }
    const char *k;
    json_t *v;
    size_t vi = 0;
    json_object_foreach(b->vars, k, v) {
        int col = -1;
        for (int c = 0; b->var_shadowed[vi] && c < b->ncolumns && col < 0; c++)
            if (!strcmp(b->columns[c], k))
                col = c;
        vi++;
        if (col >= 0 && lens[col])
            continue;
        rc |= (first ? 0 : buf_add(o, ",", 1)) | buf_json_str(o, k, strlen(k)) |
              buf_add(o, ":", 1) | buf_json_str(o, json_string_value(v), json_string_length(v));
        first = 0;
    }
    return rc | buf_add(o, "}", 1);
}

int enq_batch_add(enq_batch *b, const char *user, const char *const *values,
                  const size_t *lens, int64_t due, long line, int64_t *last_id, cherr *e)
{
    b->fail_line = line;
    b->fail_user = user;
    int64_t exp = b->expires_abs ? b->expires_abs : b->expires_dur ? due + b->expires_dur : 0;
    if (exp && exp <= due)
        return err_set(e, "expires: the message would expire before it is due");
    pend *p = &b->p[b->np];
    memset(p, 0, sizeof *p);
    for (int i = 0; i < b->nnames; i++) {
        int c = b->col_of[i];
        if (c < 0 || !lens[c]) {
            p->state[i] = b->base_state[i];
            continue;
        }
        p->state[i] = 'm';
        if (b->filters[i] && render_value_check(b->names[i], values[c], b->filters[i], e) < 0)
            return -1;
    }
    p->user = b->text.len;
    p->vtext = p->user + strlen(user) + 1;
    if (vars_text(b, values, lens) < 0 || buf_add(&b->text, user, p->vtext - p->user) < 0 ||
        buf_add(&b->text, b->vtext.s, b->vtext.len + 1) < 0) {
        b->text.len = p->user;
        return err_set(e, "out of memory");
    }
    p->due = due;
    p->exp = exp;
    p->line = line;
    b->np++;
    if (last_id)
        *last_id = 0;
    b->fail_line = 0;
    b->fail_user = NULL;
    return b->np == STORE_MANY ? flush(b, last_id, e) : 0;
}

int enq_batch_finish(enq_batch *b, int64_t *last_id, cherr *e)
{
    if (last_id)
        *last_id = 0;
    return flush(b, last_id, e);
}

int enq_from_json(json_t *obj, enq_request *r, cherr *e)
{
    memset(r, 0, sizeof *r);
    static const char *const known[] = {"user", "template", "vars", "at", "expires", "key",
                                        "class", "tag", "channel", "window", NULL};
    if (jf_known(obj, known, e) < 0 || jf_str(obj, "user", &r->user, e) < 0 ||
        jf_str(obj, "template", &r->tmpl, e) < 0 || jf_str(obj, "at", &r->at, e) < 0 ||
        jf_str(obj, "expires", &r->expires, e) < 0 || jf_str(obj, "key", &r->key, e) < 0 ||
        jf_str(obj, "class", &r->klass, e) < 0 || jf_str(obj, "tag", &r->tag, e) < 0 ||
        jf_str(obj, "channel", &r->channel, e) < 0 || jf_str(obj, "window", &r->window, e) < 0)
        return -1;
    const char *k;
    json_t *v;
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
