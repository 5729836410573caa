/* cmd_msg.c — `chuda enqueue`, `chuda cancel`, `chuda show`: messages from the command
 * line. What enqueue checks and writes is enqueue.c's; this file parses arguments. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "channel.h"
#include "buf.h"
#include "cmd.h"
#include "enqueue.h"
#include "fixstr.h"
#include "mask.h"
#include "render.h"
#include "timeutil.h"

static const char enqueue_usage[] =
    "usage: chuda enqueue --user U --template T [--var k=v]... [--at TIME]\n"
    "                     [--expires TIME|DURATION] [--key IDEMPOTENCY_KEY]\n"
    "                     [--class transactional|lifecycle|marketing] [--tag TAG] [--channel C]\n"
    "                     [--window best]\n"
    "       chuda enqueue --from FILE.jsonl\n\n"
    "Queue one message and print its id. TIME is ISO 8601 with an offset\n"
    "(2026-11-23T10:00:00+08:00) or relative (+90s, +1h, +2d); --at defaults to now.\n"
    "--expires DURATION counts from --at. --key makes the call idempotent: the same key\n"
    "again prints the first message's id, says it was a duplicate, and queues nothing.\n"
    "--class defaults to the template's class. --channel restricts the message to one\n"
    "channel. --window best moves it to the user's active_hour. An unknown user or\n"
    "template, or a missing variable, queues nothing.\n"
    "--from reads one JSON object per line (user, template, vars, at, expires, key, class,\n"
    "tag, channel, window) and queues them all in one transaction, or none: the first bad\n"
    "line stops it with FILE:LINE: field: reason. Prints one id per line.\n";

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

/* --from FILE.jsonl: every line one message, one transaction. */
static int enqueue_file(app *a, const char *path, cherr *e)
{
    FILE *fp = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!fp)
        return err_set(e, "%s: %m", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0, n = 0, dups = 0;
    int64_t now = tu_now();
    int rc = 0;
    buf out = {0};
    if (store_begin(a->st, e) < 0) {
        rc = -1;
        goto done;
    }
    while ((len = getline(&line, &cap, fp)) > 0) {
        lineno++;
        if (len == 1 && line[0] == '\n')
            continue;
        json_error_t je;
        json_t *obj = json_loadb(line, (size_t)len, 0, &je);
        enq_request r;
        int64_t id;
        int dup;
        if (!obj) {
            rc = err_set(e, "%s:%ld: not JSON: %s", path, lineno, je.text);
        } else if (enq_from_json(obj, &r, e) < 0 || enq_one(a, &r, now, &id, &dup, e) < 0) {
            rc = err_prefix(e, "%s:%ld: ", path, lineno);
        } else {
            buf_printf(&out, "%lld\n", (long long)id);
            n++;
            dups += dup;
        }
        json_decref(obj);
        if (rc < 0)
            break;
    }
    if (rc == 0 && ferror(fp))
        rc = err_set(e, "%s: read error", path);
    if (rc < 0) {
        store_rollback(a->st);
        goto done;
    }
    if (store_commit(a->st, e) < 0) {
        rc = -1;
        goto done;
    }
    if (out.s)
        fputs(out.s, stdout);
    fprintf(stderr, "chuda: %ld messages queued%s", n - dups, dups ? "" : "\n");
    if (dups)
        fprintf(stderr, ", %ld duplicates of earlier keys not queued again\n", dups);
done:
    buf_free(&out);
    free(line);
    if (fp != stdin)
        fclose(fp);
    return rc;
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
        {"from", required_argument, 0, 'f'},     {0, 0, 0, 0},
    };
    enq_request r = {0};
    const char *from = NULL;
    json_t *vars = json_object();
    int c, status = 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'u': r.user = optarg; break;
        case 't': r.tmpl = optarg; break;
        case 'a': r.at = optarg; break;
        case 'x': r.expires = optarg; break;
        case 'k': r.key = optarg; break;
        case 'C': r.klass = optarg; break;
        case 'g': r.tag = optarg; break;
        case 'c': r.channel = optarg; break;
        case 'w': r.window = optarg; break;
        case 'f': from = optarg; break;
        case 'v': {
            int rv = add_var(vars, optarg);
            if (rv < 0) {
                cmd_error("--var %s: %s", optarg, rv == -1 ? "expected name=value"
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
    if (optind < argc || (from && (r.user || r.tmpl)) || (!from && (!r.user || !r.tmpl))) {
        cmd_error(from ? "--from takes no other message options"
                       : "enqueue needs --user and --template (or --from FILE)");
        fputs(enqueue_usage, stderr);
        json_decref(vars);
        return 2;
    }
    r.vars = vars;
    app a;
    cherr e;
    if (cmd_app_open(&a, g, APP_DB | APP_TEMPLATES) < 0) {
        json_decref(vars);
        return 1;
    }
    if (from) {
        status = enqueue_file(&a, from, &e) < 0;
        if (status)
            cmd_error("%s", e.msg);
        goto out;
    }
    int64_t id;
    int dup = 0;
    if (store_begin(a.st, &e) < 0 || enq_one(&a, &r, tu_now(), &id, &dup, &e) < 0 ||
        store_commit(a.st, &e) < 0) {
        store_rollback(a.st);
        cmd_error("%s", e.msg);
        goto out;
    }
    printf("%lld\n", (long long)id);
    if (dup)
        fprintf(stderr, "chuda: duplicate: key '%s' already queued message %lld; nothing new "
                        "was queued\n", r.key, (long long)id);
    status = 0;
out:
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
    if (cmd_app_open(&a, g, APP_DB) < 0)
        return 1;
    store_msg *v = NULL;
    int n = 0, status = 1;
    int64_t now = tu_now();
    if (store_begin(a.st, &e) < 0 || store_cancel(a.st, key, user, tag, now, &v, &n, &e) < 0)
        goto fail;
    for (int i = 0; i < n; i++) {
        char reason[200];
        if (key)
            snprintf(reason, sizeof reason, "cancelled by key %s", key);
        else
            snprintf(reason, sizeof reason, "cancelled by user %s tag %s", user, tag);
        fs_utf8_clip(reason);   /* a long key or tag: cut between characters */
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
    "usage: chuda show MESSAGE_ID [--unmasked]\n\n"
    "Print a message: who, which template, its state (queued, held by its campaign's\n"
    "pause, leased, sent, failed, suppressed, expired, cancelled, uncertain), and every\n"
    "audit event about it. Phone\n"
    "numbers and openids are masked wherever they appear (as in chuda log), the key\n"
    "whole, unless --unmasked is given and [chuda] allow_unmasked = yes.\n";

/* What show prints of a text field: personal data masked as chuda log masks it, and
 * `known` (a log row's target, the message's key) masked whole wherever it appears; as it
 * is when unmasked; NULL when out of memory. */
static const char *shown(buf *b, const char *s, const char *known, int unmasked)
{
    if (unmasked || !s)
        return s;
    buf_reset(b);
    return mask_text(s, known, b) < 0 ? NULL : b->s ? b->s : "";
}

typedef struct {
    int unmasked;
    buf b;
    int oom;
} show_ctx;

static int show_row(const store_logrow *r, void *arg)
{
    show_ctx *c = arg;
    char ts[32];
    const char *reason = shown(&c->b, r->reason ? r->reason : "", r->target, c->unmasked);
    if (!reason) {
        c->oom = 1;
        return -1;
    }
    printf("  %s  %-10s %-13s %-10s %s\n", tu_format(r->at, ts, sizeof ts), r->event,
           r->channel ? r->channel : "-", r->code ? r->code : "-", reason);
    return 0;
}

int cmd_show(const cmd_globals *g, int argc, char **argv)
{
    if (cmd_help(argc, argv, show_usage))
        return 0;
    show_ctx c = {0};
    const char *idarg = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--unmasked"))
            c.unmasked = 1;
        else if (!strcmp(argv[i], "--"))
            continue;
        else if (!idarg && argv[i][0] != '-')
            idarg = argv[i];
        else
            idarg = "";     /* a second id, an unknown option */
    }
    if (!idarg || !*idarg) {
        fputs(show_usage, stderr);
        return 2;
    }
    char *end;
    long long id = strtoll(idarg, &end, 10);
    if (*end || id <= 0) {
        cmd_error("'%s' is not a message id", idarg);
        return 2;
    }
    app a;
    cherr e;
    if (cmd_app_open(&a, g, APP_DB) < 0)
        return 1;
    if (c.unmasked && cmd_unmasked_allowed(&a) < 0) {
        app_close(&a);
        return 2;
    }
    store_msg m;
    store_msgstate st;
    int found = store_msg_get(a.st, id, &m, &st, &e), status = 1;
    if (found <= 0) {
        cmd_error(found < 0 ? "%s" : "no message %s", found < 0 ? e.msg : idarg);
        app_close(&a);
        return 1;
    }
    char t1[32], t2[32];
    /* the message's own text, masked as its audit rows are: user id, tag and variables as
     * free text; the key whole, as an identifier (first and last four), since a key made
     * of a phone number and a prefix ("cart_139...") does not stand alone */
    const char *text[4] = {m.user_id, m.tag, m.idem_key, m.vars ? m.vars : "{}"};
    const char *whole[4] = {NULL, NULL, m.idem_key, NULL};
    buf tb[4] = {{0}};
    for (int i = 0; i < 4; i++)
        if (text[i] && !(text[i] = shown(&tb[i], text[i], whole[i], c.unmasked)))
            c.oom = 1;
    if (c.oom)
        goto done;
    printf("message %lld\n", id);
    printf("  user      %s\n  template  %s\n  class     %s\n", text[0], m.tmpl, m.klass);
    if (m.tag)
        printf("  tag       %s\n", text[1]);
    if (m.channel)
        printf("  channel   %s (restricted)\n", m.channel);
    if (m.idem_key)
        printf("  key       %s\n", text[2]);
    printf("  vars      %s\n", text[3]);
    printf("  created   %s\n", tu_format(m.created_at, t1, sizeof t1));
    if (m.expires_at)
        printf("  expires   %s\n", tu_format(m.expires_at, t1, sizeof t1));
    printf("  state     %s\n", st.state);
    if (!strcmp(st.state, "queued") || !strcmp(st.state, "held") ||
        !strcmp(st.state, "leased"))
        printf("  due       %s\n  attempts  %d\n", tu_format(m.due_at, t1, sizeof t1), m.attempts);
    else
        printf("  finished  %s%s%s%s%s\n", tu_format(st.finished_at, t2, sizeof t2),
               st.channel[0] ? " via " : "", st.channel, st.code[0] ? " code " : "", st.code);
    printf("history:\n");
    store_logq q = {.message_id = id};
    if (store_log_each(a.st, &q, show_row, &c, &e) < 0)
        cmd_error("%s", e.msg);
    else if (!c.oom)
        status = 0;
done:
    if (c.oom)
        cmd_error("show: out of memory");
    for (int i = 0; i < 4; i++)
        buf_free(&tb[i]);
    buf_free(&c.b);
    store_msg_free(&m);
    app_close(&a);
    return status;
}
