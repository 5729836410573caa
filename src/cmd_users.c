/* cmd_users.c — `chuda users import FILE.csv`. The work is import.c's; this file
 * parses the command line and says what happened. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "cmd.h"
#include "import.h"

static const char users_usage[] =
    "usage: chuda users import FILE.csv\n\n"
    "Upsert users from a CSV file (RFC 4180, UTF-8) in one transaction. The header row\n"
    "names the columns: user_id, tier (required), segment, tz, mp_openid, oa_openid,\n"
    "phone, wecom_userid, wecom_external_userid; any other column becomes a user\n"
    "attribute usable as a template variable. A bad row aborts the whole import with\n"
    "FILE:LINE: reason, and nothing is written. `-` reads standard input.\n";

int cmd_users(const cmd_globals *g, int argc, char **argv)
{
    if (cmd_help(argc, argv, users_usage))
        return 0;
    if (argc != 3 || strcmp(argv[1], "import")) {
        fputs(users_usage, stderr);
        return 2;
    }
    app a;
    cherr e;
    if (cmd_app_open(&a, g, APP_DB | APP_POLICY) < 0)
        return 1;
    /* every configured tier, however many */
    const char **tiers = calloc((size_t)a.pol.ntiers + 1, sizeof *tiers);
    if (!tiers) {
        cmd_error("out of memory");
        app_close(&a);
        return 1;
    }
    for (int i = 0; i < a.pol.ntiers; i++)
        tiers[i] = a.pol.tiers[i].name;
    imp_rules rules = {.tiers = tiers};
    imp_stats st = {0};
    int rc = !strcmp(argv[2], "-") ? imp_users_fp(a.st, stdin, "<stdin>", &rules, &st, &e)
                                   : imp_users(a.st, argv[2], &rules, &st, &e);
    if (rc < 0)
        cmd_error("%s", e.msg);
    else
        printf("%ld users imported (%ld new, %ld updated)\n", st.rows, st.inserted, st.updated);
    free(tiers);
    app_close(&a);
    return rc < 0 ? 1 : 0;
}
