/* cmd_msg.c — `chuda enqueue`, `chuda cancel`, `chuda show`: one message at a time.
 *
 * Enqueue checks everything it can before writing: the user exists, the template
 * exists, every variable the template needs resolves for this user on every channel
 * it could go out on. Then one transaction writes the message, its queue row and
 * the `enqueued` audit row — or nothing. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "channel.h"
#include "cmd.h"
#include "render.h"
#include "timeutil.h"

static const char enqueue_usage[] =
    "usage: chuda enqueue --user U --template T [--var k=v]... [--at TIME]\n"
    "                     [--expires TIME|DURATION] [--key IDEMPOTENCY_KEY]\n"
    "                     [--class transactional|lifecycle|marketing] [--tag TAG] [--channel C]\n\n"
    "Queue one message and print its id. TIME is ISO 8601 with an offset\n"
    "(2026-11-23T10:00:00+08:00) or relative (+90s, +1h, +2d); --at defaults to now.\n"
    "--expires DURATION counts from --at. --key makes the call idempotent: the same key\n"
    "again prints the first message's id, says it was a duplicate, and queues nothing.\n"
    "--class defaults to the template's class. --channel restricts the message to one\n"
    "channel. An unknown user or template, or a missing variable, queues nothing.\n";

/* Parse k=v into the JSON object. */
static int add_var(json_t *vars, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return -1;
    char *k = strndup(kv, (size_t)(eq - kv));
    json_t *v = json_string(eq + 1);
    if (!v) {
        free(k);
        return -2;     /* not UTF-8 */
    }
    json_object_set_new(vars, k, v);
    free(k);
    return 0;
}

/* Render every section the message could use, so a missing variable fails now. */
static int check_renders(const app *a, const tpl *t, const store_user *u, json_t *vars,
                         const char *only_channel, cherr *e)
{
    json_t *attrs = u->attrs ? json_loads(u->attrs, 0, NULL) : NULL;
    render_ctx rc = {t, vars, attrs, u->user_id, u->tier, u->segment};
    int rc_ok = 0, any = 0;
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
        render_out_free(&out);
    }
    for (char **v = t->vars; rc_ok == 0 && v && *v; v++)
        if (!json_object_get(vars, *v) && !(attrs && json_object_get(attrs, *v)))
            rc_ok = err_set(e, "template %s needs variable '%s' (--var %s=...)", t->name, *v, *v);
    json_decref(attrs);
    if (rc_ok == 0 && only_channel && !any)
        return err_set(e, "template %s has no [%s] section", t->name, only_channel);
    return rc_ok;
}

int cmd_enqueue(const cmd_globals *g, int argc, char **argv)
{
    if (cmd_help(argc, argv, enqueue_usage))
        return 0;
    static const struct option opts[] = {
        {"user", required_argument, 0, 'u'},     {"template", required_argument, 0, 't'},
        {"var", required_argument, 0, 'v'},      {"at", required_argument, 0, 'a'},
        {"expires", required_argument, 0, 'x'},  {"key", required_argument, 0, 'k'},
        {"class", required_argument, 0, 'C'},    {"tag", required_argument, 0, 'g'},
        {"channel", required_argument, 0, 'c'},  {"window", required_argument, 0, 'w'},
        {0, 0, 0, 0},
    };
    const char *user = NULL, *tname = NULL, *at = NULL, *expires = NULL, *key = NULL;
    const char *klass = NULL, *tag = NULL, *channel = NULL, *window = NULL;
    json_t *vars = json_object();
    int c, status = 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'u': user = optarg; break;
        case 't': tname = optarg; break;
        case 'a': at = optarg; break;
        case 'x': expires = optarg; break;
        case 'k': key = optarg; break;
        case 'C': klass = optarg; break;
        case 'g': tag = optarg; break;
        case 'c': channel = optarg; break;
        case 'w': window = optarg; break;
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
            fputs(enqueue_usage, stderr);
            json_decref(vars);
            return 2;
        }
    }
    if (!user || !tname || optind < argc) {
        cmd_error("enqueue needs --user and --template");
        fputs(enqueue_usage, stderr);
        json_decref(vars);
        return 2;
    }
    app a;
    cherr e;
    store_user u = {0};
    if (app_open(&a, g->config, g->db, APP_DB | APP_TEMPLATES, &e) < 0) {
        cmd_error("%s", e.msg);
        json_decref(vars);
        return 1;
    }
    int64_t now = tu_now(), due = now, exp = 0;
    const tpl *t = tpl_find(&a.tpls, tname);
    if (at && tu_parse_time(at, now, &due, &e) < 0) {
        cmd_error("--at: %s", e.msg);
        goto out;
    }
    if (expires) {
        int64_t d;
        cherr e2;
        if (tu_parse_duration(expires, &d, &e2) == 0)
            exp = due + d;
        else if (tu_parse_time(expires, now, &exp, &e) < 0) {
            cmd_error("--expires: %s", e.msg);
            goto out;
        }
        if (exp <= due) {
            cmd_error("--expires: the message would expire before it is due");
            goto out;
        }
    }
    if (!t) {
        cmd_error("unknown template '%s' (no %s/%s.ini)", tname, a.templates_dir, tname);
        goto out;
    }
    if (klass && !tpl_class_valid(klass)) {
        cmd_error("--class %s: must be transactional, lifecycle or marketing", klass);
        goto out;
    }
    if (channel && !chan_ops_find(channel)) {
        cmd_error("--channel %s: unknown channel", channel);
        goto out;
    }
    if (window && strcmp(window, "best")) {
        cmd_error("--window %s: the only window is 'best'", window);
        goto out;
    }
    int found = store_user_get(a.st, user, &u, &e);
    if (found <= 0) {
        cmd_error("%s", found < 0 ? e.msg : "unknown user");
        if (found == 0)
            fprintf(stderr, "chuda: no user '%s' (import it with `chuda users import`)\n", user);
        goto out;
    }
    if (check_renders(&a, t, &u, vars, channel, &e) < 0) {
        cmd_error("%s", e.msg);
        goto out;
    }
    char *vtext = json_dumps(vars, JSON_COMPACT | JSON_SORT_KEYS);
    store_msg m = {
        .due_at = due, .created_at = now, .expires_at = exp,
        .user_id = (char *)user, .tmpl = (char *)tname,
        .klass = (char *)(klass ? klass : t->klass), .tag = (char *)tag,
        .channel = (char *)channel, .idem_key = (char *)key, .vars = vtext,
        .window = (char *)window,
    };
    int dup = 0;
    if (store_begin(a.st, &e) < 0 || store_enqueue(a.st, &m, &dup, &e) < 0) {
        store_rollback(a.st);
        free(vtext);
        cmd_error("%s", e.msg);
        goto out;
    }
    if (!dup) {
        char reason[160], ts[32];
        snprintf(reason, sizeof reason, "template %s, class %s, due %s", tname, m.klass,
                 tu_format(due, ts, sizeof ts));
        store_event ev = {.at = now, .message_id = m.id, .user_id = user, .event = "enqueued",
                          .channel = channel, .reason = reason, .detail = tag};
        if (store_log(a.st, &ev, &e) < 0) {
            store_rollback(a.st);
            free(vtext);
            cmd_error("%s", e.msg);
            goto out;
        }
    }
    free(vtext);
    if (store_commit(a.st, &e) < 0) {
        cmd_error("%s", e.msg);
        goto out;
    }
    printf("%" PRId64 "\n", m.id);
    if (dup)
        fprintf(stderr, "chuda: duplicate: key '%s' already queued message %" PRId64
                        "; nothing new was queued\n", key, m.id);
    status = 0;
out:
    store_user_free(&u);
    json_decref(vars);
    app_close(&a);
    return status;
}

static const char cancel_usage[] =
    "usage: chuda cancel (--key K | --user U --tag TAG)\n\n"
    "Remove pending messages: the one queued with idempotency key K, or every pending\n"
    "message for user U tagged TAG. Cancelled messages are logged and never sent.\n"
    "Prints how many were cancelled.\n";

int cmd_cancel(const cmd_globals *g, int argc, char **argv)
{
    if (cmd_help(argc, argv, cancel_usage))
        return 0;
    static const struct option opts[] = {
        {"key", required_argument, 0, 'k'}, {"user", required_argument, 0, 'u'},
        {"tag", required_argument, 0, 'g'}, {0, 0, 0, 0},
    };
    const char *key = NULL, *user = NULL, *tag = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'k': key = optarg; break;
        case 'u': user = optarg; break;
        case 'g': tag = optarg; break;
        default: fputs(cancel_usage, stderr); return 2;
        }
    }
    if (!!key == !!(user || tag) || (!key && !(user && tag))) {
        cmd_error("cancel needs --key, or --user with --tag");
        fputs(cancel_usage, stderr);
        return 2;
    }
    app a;
    cherr e;
    if (app_open(&a, g->config, g->db, APP_DB, &e) < 0) {
        cmd_error("%s", e.msg);
        return 1;
    }
    store_msg *v = NULL;
    int n = 0, status = 1;
    int64_t now = tu_now();
    if (store_begin(a.st, &e) < 0 || store_cancel(a.st, key, user, tag, &v, &n, &e) < 0)
        goto fail;
    for (int i = 0; i < n; i++) {
        char reason[200];
        if (key)
            snprintf(reason, sizeof reason, "cancelled by key %s", key);
        else
            snprintf(reason, sizeof reason, "cancelled by user %s tag %s", user, tag);
        store_event ev = {.at = now, .message_id = v[i].id, .campaign_id = v[i].campaign_id,
                          .user_id = v[i].user_id, .event = "cancelled", .reason = reason};
        if (store_finish(a.st, &v[i], "cancelled", NULL, NULL, now, &e) < 0 ||
            store_log(a.st, &ev, &e) < 0)
            goto fail;
    }
    if (store_commit(a.st, &e) < 0)
        goto fail;
    printf("%d cancelled\n", n);
    status = 0;
    goto out;
fail:
    store_rollback(a.st);
    cmd_error("%s", e.msg);
out:
    store_msgs_free(v, n);
    app_close(&a);
    return status;
}

static const char show_usage[] =
    "usage: chuda show MESSAGE_ID\n\n"
    "Print a message: who, which template, its state (queued, leased, sent, failed,\n"
    "suppressed, expired, cancelled, uncertain), and every audit event about it.\n";

static int show_row(const store_logrow *r, void *arg)
{
    char ts[32];
    printf("  %s  %-10s %-13s %-10s %s\n", tu_format(r->at, ts, sizeof ts), r->event,
           r->channel ? r->channel : "-", r->code ? r->code : "-", r->reason ? r->reason : "");
    return 0;
}

int cmd_show(const cmd_globals *g, int argc, char **argv)
{
    if (cmd_help(argc, argv, show_usage))
        return 0;
    if (argc != 2) {
        fputs(show_usage, stderr);
        return 2;
    }
    char *end;
    long long id = strtoll(argv[1], &end, 10);
    if (*end || id <= 0) {
        cmd_error("'%s' is not a message id", argv[1]);
        return 2;
    }
    app a;
    cherr e;
    if (app_open(&a, g->config, g->db, APP_DB, &e) < 0) {
        cmd_error("%s", e.msg);
        return 1;
    }
    store_msg m;
    store_msgstate st;
    int found = store_msg_get(a.st, id, &m, &st, &e), status = 1;
    if (found <= 0) {
        cmd_error(found < 0 ? "%s" : "no message %s", found < 0 ? e.msg : argv[1]);
        app_close(&a);
        return 1;
    }
    char t1[32], t2[32];
    printf("message %lld\n", id);
    printf("  user      %s\n  template  %s\n  class     %s\n", m.user_id, m.tmpl, m.klass);
    if (m.tag)
        printf("  tag       %s\n", m.tag);
    if (m.channel)
        printf("  channel   %s (restricted)\n", m.channel);
    if (m.idem_key)
        printf("  key       %s\n", m.idem_key);
    printf("  vars      %s\n", m.vars ? m.vars : "{}");
    printf("  created   %s\n", tu_format(m.created_at, t1, sizeof t1));
    if (m.expires_at)
        printf("  expires   %s\n", tu_format(m.expires_at, t1, sizeof t1));
    printf("  state     %s\n", st.state);
    if (!strcmp(st.state, "queued") || !strcmp(st.state, "leased"))
        printf("  due       %s\n  attempts  %d\n", tu_format(m.due_at, t1, sizeof t1), m.attempts);
    else
        printf("  finished  %s%s%s%s%s\n", tu_format(st.finished_at, t2, sizeof t2),
               st.channel[0] ? " via " : "", st.channel, st.code[0] ? " code " : "", st.code);
    printf("history:\n");
    store_logq q = {.message_id = id};
    if (store_log_each(a.st, &q, show_row, NULL, &e) < 0)
        cmd_error("%s", e.msg);
    else
        status = 0;
    store_msg_free(&m);
    app_close(&a);
    return status;
}
