/* cmd_policy.c — `chuda optout` and `chuda credits`: what the policy remembers about a
 * user, set by an operator (the HTTP API and provider callbacks set the same). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "channel.h"
#include "cmd.h"
#include "csvr.h"
#include "fixstr.h"
#include "timeutil.h"

static const char optout_usage[] =
    "usage: chuda optout add USER [--channel C] [--category marketing|service] [--reason TEXT]\n"
    "       chuda optout remove USER [--channel C] [--category marketing|service]\n"
    "       chuda optout list USER\n\n"
    "Opt a user out of every channel, or of one (--channel), for every category of\n"
    "message, or one (--category: marketing, or service — what transactional messages\n"
    "are). Checked at send time: an opt-out stops a message queued before it.\n";

/* Does the user exist? Prints the error when not. */
static int user_exists(app *a, const char *user)
{
    store_user u = {0};
    cherr e;
    int found = store_user_get(a->st, user, &u, &e);
    store_user_free(&u);
    if (found < 0)
        cmd_error("%s", e.msg);
    else if (!found)
        cmd_error("no user '%s'", user);
    return found == 1;
}

int cmd_optout(const cmd_globals *g, int argc, char **argv)
{
    if (cmd_help(argc, argv, optout_usage))
        return 0;
    if (argc < 3) {
        fputs(optout_usage, stderr);
        return 2;
    }
    const char *verb = argv[1], *user = argv[2];
    static const struct option opts[] = {
        {"channel", required_argument, 0, 'c'}, {"category", required_argument, 0, 'k'},
        {"reason", required_argument, 0, 'r'},  {0, 0, 0, 0},
    };
    const char *channel = "*", *category = "*", *reason = "";
    int c;
    optind = 3;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c': channel = optarg; break;
        case 'k': category = optarg; break;
        case 'r': reason = optarg; break;
        default: fputs(optout_usage, stderr); return 2;
        }
    }
    if (optind != argc || (strcmp(verb, "add") && strcmp(verb, "remove") && strcmp(verb, "list"))) {
        fputs(optout_usage, stderr);
        return 2;
    }
    if (strcmp(channel, "*") && !chan_ops_find(channel)) {
        cmd_error("--channel %s: unknown channel", channel);
        return 2;
    }
    if (strcmp(category, "*") && strcmp(category, "marketing") && strcmp(category, "service")) {
        cmd_error("--category %s: marketing or service", category);
        return 2;
    }
    /* the reason goes into the log's sentences whole: refused, not cut (as the API) */
    if (strlen(reason) >= sizeof ((store_optout *)0)->reason) {
        cmd_error("--reason: longer than %zu bytes", sizeof ((store_optout *)0)->reason - 1);
        return 2;
    }
    if (csvr_utf8_bad(reason, strlen(reason))) {
        cmd_error("--reason: not valid UTF-8");
        return 2;
    }
    app a;
    cherr e;
    if (cmd_app_open(&a, g, APP_DB) < 0)
        return 1;
    int status = 1;
    if (!user_exists(&a, user))
        goto out;
    if (!strcmp(verb, "list")) {
        store_optout v[64];
        int n;
        if (store_optouts_get(a.st, user, v, 64, &n, &e) < 0) {
            cmd_error("%s", e.msg);
            goto out;
        }
        for (int i = 0; i < n; i++) {
            char t[32];
            printf("%-13s %-10s %s  %-9s %s\n", v[i].channel, v[i].category,
                   tu_format(v[i].at, t, sizeof t), v[i].source, v[i].reason);
        }
        if (!n)
            printf("%s has no opt-outs\n", user);
        status = 0;
        goto out;
    }
    if (store_begin(a.st, &e) < 0)
        goto fail;
    if (!strcmp(verb, "add")) {
        store_optout o = {.at = tu_now()};
        fs_copy(o.channel, sizeof o.channel, channel);
        fs_copy(o.category, sizeof o.category, category);
        snprintf(o.source, sizeof o.source, "operator");
        fs_copy(o.reason, sizeof o.reason, reason);
        if (store_optout_put(a.st, user, &o, &e) < 0)
            goto fail;
        if (store_commit(a.st, &e) < 0)
            goto fail;
        printf("%s opted out of %s (%s)\n", user, strcmp(channel, "*") ? channel : "every channel",
               strcmp(category, "*") ? category : "every category");
    } else {
        int r = store_optout_del(a.st, user, channel, category, &e);
        if (r < 0 || store_commit(a.st, &e) < 0)
            goto fail;
        printf(r ? "opt-out removed\n" : "no such opt-out\n");
    }
    status = 0;
    goto out;
fail:
    store_rollback(a.st);
    cmd_error("%s", e.msg);
out:
    app_close(&a);
    return status;
}

static const char credits_usage[] =
    "usage: chuda credits grant USER TEMPLATE_ID [N]\n"
    "       chuda credits show USER TEMPLATE_ID\n\n"
    "Mini-program one-time subscription credits, per user and WeChat template id (the\n"
    "id the user accepted in wx.requestSubscribeMessage). Each accept grants one; a\n"
    "successful send spends one; a 43101 refusal sets them to zero. grant adds N (1).\n";

int cmd_credits(const cmd_globals *g, int argc, char **argv)
{
    if (cmd_help(argc, argv, credits_usage))
        return 0;
    if (argc < 4 || argc > 5 || (strcmp(argv[1], "grant") && strcmp(argv[1], "show")) ||
        (!strcmp(argv[1], "show") && argc != 4)) {
        fputs(credits_usage, stderr);
        return 2;
    }
    long n = 1;
    if (argc == 5) {
        char *end;
        n = strtol(argv[4], &end, 10);
        if (*end || n < 1 || n > 1000000) {
            cmd_error("N must be a whole number from 1 to 1000000");
            return 2;
        }
    }
    app a;
    cherr e;
    if (cmd_app_open(&a, g, APP_DB) < 0)
        return 1;
    int status = 1;
    long have;
    if (!user_exists(&a, argv[2]))
        goto out;
    if (!strcmp(argv[1], "grant")) {
        if (store_begin(a.st, &e) < 0 ||
            store_credits_add(a.st, argv[2], argv[3], n, 0, tu_now(), &e) < 0 ||
            store_commit(a.st, &e) < 0) {
            store_rollback(a.st);
            cmd_error("%s", e.msg);
            goto out;
        }
    }
    if (store_credits_get(a.st, argv[2], argv[3], &have, &e) < 0) {
        cmd_error("%s", e.msg);
        goto out;
    }
    printf("%s %s: %ld credit%s\n", argv[2], argv[3], have < 0 ? 0 : have, have == 1 ? "" : "s");
    status = 0;
out:
    app_close(&a);
    return status;
}
