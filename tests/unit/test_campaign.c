/* test_campaign.c — campaigns: the segment expression parser (the postfix program it
 * builds, precedence, quoting, and each refusal with its position); creating a campaign
 * from a CSV file and from a segment (variables, keys, tags, spread due times); every
 * refusal with its FILE:LINE and nothing written; pause, resume and cancel against the
 * queue; the funnel as JSON. Times are fixed numbers, never the clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "buf.h"
#include "campaign.h"
#include "enqueue.h"
#include "import.h"
#include "timeutil.h"
#include "tmpdir.h"

#define T0 INT64_C(1795000000000)          /* "now" in every test */

/* ---- the segment parser ----------------------------------------------------------- */

/* The postfix program as text: "tier=dormant city=上海 and". */
static char *seg_text(const campaign_seg *s)
{
    static const char *const fields[] = {"user_id", "tier", "segment", "tz", "attr:"};
    buf b = {0};
    buf_add(&b, "", 0);
    for (int i = 0; i < s->n; i++) {
        const store_seg_node *n = &s->v[i];
        if (i)
            buf_puts(&b, " ");
        if (n->kind == STORE_SEG_AND || n->kind == STORE_SEG_OR) {
            buf_puts(&b, n->kind == STORE_SEG_AND ? "and" : "or");
            continue;
        }
        buf_printf(&b, "%s%s%s%s", fields[n->field], n->field == STORE_SEG_ATTR ? n->attr : "",
                   n->kind == STORE_SEG_EQ ? "=" : "!=", n->value);
    }
    return buf_take(&b);
}

static void seg_ok(const char *expr, const char *want)
{
    campaign_seg s;
    cherr e;
    if (campaign_seg_parse(expr, &s, &e) < 0)
        fail_msg("%s: %s", expr, e.msg);
    char *got = seg_text(&s);
    if (strcmp(got, want))
        fail_msg("%s:\n want %s\n got  %s", expr, want, got);
    free(got);
    campaign_seg_free(&s);
}

static void seg_bad(const char *expr, const char *want)
{
    campaign_seg s;
    cherr e = {{0}};
    if (campaign_seg_parse(expr, &s, &e) == 0)
        fail_msg("%s: parsed, expected \"%s\"", expr, want);
    if (strcmp(e.msg, want))
        fail_msg("%s:\n want %s\n got  %s", expr, want, e.msg);
}

static void test_seg_parse(void **state)
{
    (void)state;
    seg_ok("tier=dormant", "tier=dormant");
    seg_ok("tier=dormant and city=上海", "tier=dormant attr:city=上海 and");
    seg_ok("  tier = dormant   AND  city != 上海 ", "tier=dormant attr:city!=上海 and");
    /* and binds tighter than or */
    seg_ok("tier=new or tier=potential and city=x",
           "tier=new tier=potential attr:city=x and or");
    seg_ok("(tier=new or tier=potential) and city=x",
           "tier=new tier=potential or attr:city=x and");
    seg_ok("a=1 Or b=2 oR c=3", "attr:a=1 attr:b=2 or attr:c=3 or");
    /* quoting: spaces, keywords as values, escapes, empty */
    seg_ok("city=\"New York\" and note='a b'", "attr:city=New York attr:note=a b and");
    seg_ok("note='it\\'s' and x=\"a\\\"b\\\\\"", "attr:note=it's attr:x=a\"b\\ and");
    seg_ok("city=\"\" or v=and", "attr:city= attr:v=and or");
    seg_ok("segment=mom_baby and tz=Asia/Shanghai and user_id==u1",
           "segment=mom_baby tz=Asia/Shanghai and user_id=u1 and");
    seg_ok("城市=上海\xE3\x80\x80" "and\xE3\x80\x80" "会员.等级=金", "attr:城市=上海 attr:会员.等级=金 and");
}

static void test_seg_errors(void **state)
{
    (void)state;
    seg_bad("", "segment: empty expression (e.g. tier=dormant and city=上海)");
    seg_bad("tier", "segment: position 5: expected '=' or '!=' after 'tier'");
    seg_bad("city>上海", "segment: position 5: expected '=' or '!=' after 'city', found '>'");
    seg_bad("城市 ~ 上海", "segment: position 4: expected '=' or '!=' after '城市', found '~'");
    seg_bad("tier=", "segment: position 6: expected a value after '=' (write \"\" for an empty "
                     "one)");
    seg_bad("tier=dormant and", "segment: position 17: expected a condition (field=value) at "
                                "the end");
    seg_bad("tier=dormant xor city=a",
            "segment: position 14: unexpected 'xor' (expected 'and', 'or' or the end)");
    seg_bad("tier=dormant city=a",
            "segment: position 14: unexpected 'city' (expected 'and', 'or' or the end)");
    seg_bad("and tier=x", "segment: position 1: expected a condition (field=value), found 'and'");
    seg_bad("=x", "segment: position 1: expected a field name (tier, segment, tz, user_id or an "
                  "attribute), found '='");
    seg_bad("(tier=new or tier=potential",
            "segment: position 28: expected ')' to close the '(' at position 1");
    seg_bad("(tier=new x", "segment: position 11: unexpected 'x' (expected 'and', 'or' or ')' to "
                           "close the '(' at position 1)");
    seg_bad("tier=new)", "segment: position 9: unexpected ')' (expected 'and', 'or' or the end)");
    seg_bad("city=\"上海", "segment: position 6: the quote opened here is never closed");
    seg_bad("city=a\"b", "segment: position 7: a quote inside a bare value: quote the whole "
                         "value (city=\"a b\")");
    seg_bad("phone=138", "segment: position 1: 'phone' cannot be selected on (fields: tier, "
                         "segment, tz, user_id, or an attribute)");
    seg_bad("tier=\xff", "segment: invalid UTF-8 at byte 6");
    buf deep = {0};
    for (int i = 0; i < 40; i++)
        buf_puts(&deep, "(");
    seg_bad(deep.s, "segment: position 33: parentheses nested deeper than 32");
    buf_free(&deep);
    buf longx = {0};
    for (int i = 0; i < 200; i++)
        buf_printf(&longx, "%sa=%d", i ? " or " : "", i);
    campaign_seg s;
    cherr e;
    assert_int_equal(campaign_seg_parse(longx.s, &s, &e), -1);
    assert_non_null(strstr(e.msg, "the expression is too long (at most 256 terms)"));
    buf_free(&longx);
}

/* ---- a database with users and templates ------------------------------------------- */

typedef struct fx {
    char dir[64];
    char path[160];
    app a;
} fx;

static const char tpl_promo[] =
    "[template]\nclass = marketing\nvars = product\n"
    "[copy]\nbody = {{product}}上新了\n"
    "[mp_subscribe]\ntemplate_id = TPL_PROMO\npage = pages/index\n"
    "data.thing1 = {{product}}\ndata.thing2 = {{body}}\n";

static const char tpl_city[] =
    "[template]\nclass = marketing\n"
    "[mp_subscribe]\ntemplate_id = TPL_CITY\ndata.thing1 = {{city}}\n";

static const char tpl_timed[] =
    "[template]\nclass = marketing\nvars = product, due\n"
    "[mp_subscribe]\ntemplate_id = TPL_TIMED\ndata.thing1 = {{product}}\n"
    "data.time2 = {{due|time:%m月%d日 %H:%M}}\n";

static const char users_csv[] =
    "user_id,tier,segment,mp_openid,city\n"
    "u1,dormant,,o1,上海\n"
    "u2,dormant,,o2,北京\n"
    "u3,new,,o3,上海\n"
    "u4,potential,mom_baby,o4,\n"
    "u5,dormant,,o5,\n";

static void put_file(const fx *f, const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", f->dir, name);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static const char *fpath(fx *f, const char *name)
{
    snprintf(f->path, sizeof f->path, "%s/%s", f->dir, name);
    return f->path;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (tmpdir_make(f->dir, sizeof f->dir, "camp") < 0)
        return -1;
    char sub[128];
    snprintf(sub, sizeof sub, "%s/templates", f->dir);
    mkdir(sub, 0700);
    put_file(f, "templates/promo.ini", tpl_promo);
    put_file(f, "templates/city.ini", tpl_city);
    put_file(f, "templates/timed.ini", tpl_timed);
    put_file(f, "chuda.conf", "[chuda]\ndb = t.db\ntemplates = templates\n"
                              "[channel.mp_subscribe]\nappid = wxtest\n"
                              "secret_env = CHUDA_TEST_UNSET\n");
    put_file(f, "users.csv", users_csv);
    cherr e;
    int from, to;
    char cfg[128];
    snprintf(cfg, sizeof cfg, "%s/chuda.conf", f->dir);
    if (app_open(&f->a, cfg, NULL, APP_DB | APP_CREATE | APP_TEMPLATES | APP_POLICY, &e) < 0 ||
        store_migrate(f->a.st, &from, &to, &e) < 0 ||
        imp_users(f->a.st, fpath(f, "users.csv"), NULL, NULL, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    app_close(&f->a);
    if (tmpdir_remove(f->dir) < 0)
        return -1;
    free(f);
    return 0;
}

/* Row counts of everything a campaign writes: "campaigns msg queue log log_counts". */
static char *counts(fx *f)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    char p[160];
    snprintf(p, sizeof p, "%s/t.db", f->dir);
    assert_int_equal(sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
        "SELECT (SELECT count(*) FROM campaigns)||' '||(SELECT count(*) FROM msg)||' '||"
        "(SELECT count(*) FROM queue)||' '||(SELECT count(*) FROM log)||' '||"
        "(SELECT coalesce(sum(n),0) FROM log_counts)", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    char *out = strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(db);
    return out;
}

static int create_csv(fx *f, const char *csv, const char *tmpl, json_t *vars, int64_t spread,
                      campaign_result *res, cherr *e)
{
    put_file(f, "r.csv", csv);
    campaign_spec sp = {.name = "test", .tmpl = tmpl, .recipients = fpath(f, "r.csv"),
                        .vars = vars, .spread = spread, .at = "+10s"};
    return campaign_create(&f->a, &sp, T0, NULL, NULL, res, e);
}

static int create_seg(fx *f, const char *expr, campaign_result *res, cherr *e)
{
    json_t *vars = json_pack("{s:s}", "product", "围巾");
    campaign_spec sp = {.name = "seg", .tmpl = "promo", .segment = expr, .vars = vars};
    int rc = campaign_create(&f->a, &sp, T0, NULL, NULL, res, e);
    json_decref(vars);
    return rc;
}

/* The users of a campaign's pending messages, in id order: "u1 u3". */
static char *recipients(fx *f, int64_t id)
{
    store_msg *v;
    int n;
    cherr e;
    assert_int_equal(store_campaign_pending(f->a.st, id, T0, 0, 1000, &v, &n, &e), 0);
    buf b = {0};
    buf_add(&b, "", 0);
    for (int i = 0; i < n; i++)
        buf_printf(&b, "%s%s", i ? " " : "", v[i].user_id);
    store_msgs_free(v, n);
    return buf_take(&b);
}

/* ---- create from a file ------------------------------------------------------------- */

static void test_create_csv(void **state)
{
    fx *f = *state;
    campaign_result res;
    cherr e;
    json_t *vars = json_pack("{s:s}", "product", "默认");
    if (create_csv(f, "user_id,product\nu1,围巾\nu2,\n\"u3\",\"帽子, 蓝\"\n", "promo", vars, 0,
                   &res, &e) < 0)
        fail_msg("%s", e.msg);
    json_decref(vars);
    assert_int_equal(res.id, 1);
    assert_int_equal(res.queued, 3);
    assert_int_equal(res.first_due, T0 + 10000);
    assert_int_equal(res.last_due, T0 + 10000);

    const char *want_vars[] = {"{\"product\":\"围巾\"}", "{\"product\":\"默认\"}",
                               "{\"product\":\"帽子, 蓝\"}"};
    for (int i = 0; i < 3; i++) {
        store_msg m;
        store_msgstate st;
        assert_int_equal(store_msg_get(f->a.st, i + 1, &m, &st, &e), 1);
        assert_null(m.idem_key);    /* the campaign and the user identify it */
        assert_null(m.tag);
        assert_int_equal(m.campaign_id, 1);
        assert_string_equal(m.vars, want_vars[i]);
        assert_string_equal(m.klass, "marketing");
        assert_string_equal(st.state, "queued");
        assert_int_equal(m.due_at, T0 + 10000);
        store_msg_free(&m);
    }
    store_campaign c;
    assert_int_equal(store_campaign_get(f->a.st, 1, &c, &e), 1);
    assert_string_equal(c.name, "test");
    assert_string_equal(c.tmpl, "promo");
    assert_string_equal(c.state, "active");
    assert_int_equal(c.total, 3);
    assert_int_equal(c.at, T0 + 10000);
    assert_non_null(strstr(c.source, "r.csv"));
    store_campaign_free(&c);
    /* one audit row for the campaign, not one per message */
    char *n = counts(f);
    assert_string_equal(n, "1 3 3 1 1");
    free(n);
    /* a second campaign to the same users is another campaign */
    assert_int_equal(create_csv(f, "user_id\nu1\n", "promo", NULL, 0, &res, &e), -1);
    if (create_csv(f, "user_id,product\nu1,x\n", "promo", NULL, 0, &res, &e) < 0)
        fail_msg("%s", e.msg);
    assert_int_equal(res.id, 2);
}

/* --spread: recipient i of N is due at AT + i*S/N. */
static void test_create_spread(void **state)
{
    fx *f = *state;
    campaign_result res;
    cherr e;
    json_t *vars = json_pack("{s:s}", "product", "p");
    if (create_csv(f, "user_id\nu4\nu2\n\"u\n1\"\nu3\n", "promo", vars, 4000, &res, &e) == 0)
        fail_msg("a user id with a line break is not a user");
    assert_string_equal(e.msg + strlen(e.msg) - strlen("user: no user 'u\n1' (import it with "
                        "`chuda users import`)"), "user: no user 'u\n1' (import it with `chuda "
                        "users import`)");
    if (create_csv(f, "user_id\nu4\nu2\n\nu1\nu3\n", "promo", vars, 4000, &res, &e) < 0)
        fail_msg("%s", e.msg);
    json_decref(vars);
    assert_int_equal(res.queued, 4);
    int64_t want[] = {0, 1000, 2000, 3000};
    for (int i = 0; i < 4; i++) {
        store_msg m;
        store_msgstate st;
        assert_int_equal(store_msg_get(f->a.st, i + 1, &m, &st, &e), 1);
        assert_int_equal(m.due_at, T0 + 10000 + want[i]);
        store_msg_free(&m);
    }
    assert_int_equal(res.first_due, T0 + 10000);
    assert_int_equal(res.last_due, T0 + 13000);
    /* 3 over 1000 ms: 0, 333, 666 */
    vars = json_pack("{s:s}", "product", "p");
    if (create_csv(f, "user_id\nu1\nu2\nu3\n", "promo", vars, 1000, &res, &e) < 0)
        fail_msg("%s", e.msg);
    json_decref(vars);
    assert_int_equal(res.last_due - res.first_due, 666);
}

/* Each refusal: its exact message, and not one row written anywhere. */
static void expect_refused(fx *f, const char *csv, const char *tmpl, const char *want)
{
    char *before = counts(f);
    campaign_result res;
    cherr e = {{0}};
    json_t *vars = json_pack("{s:s}", "product", "p");
    int rc = create_csv(f, csv, tmpl, vars, 1000, &res, &e);
    json_decref(vars);
    char full[300];
    snprintf(full, sizeof full, "%s/%s", f->dir, want);
    if (rc != -1 || (strcmp(e.msg, full) && strcmp(e.msg, want)))
        fail_msg("want \"%s\"\n got \"%s\" (rc %d)", full, rc ? e.msg : "success", rc);
    char *after = counts(f);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

/* enq_one tells a refused request (-1, nothing written) from a store failure
 * (ENQ_STORAGE: part of the message may be in the transaction, which the API then rolls
 * back instead of committing). The failure: another connection dropped the queue table,
 * so the message row is written and its queue row is not. */
static void test_enq_one_storage(void **state)
{
    fx *f = *state;
    cherr e;
    int64_t id;
    int dup;
    json_t *vars = json_pack("{s:s}", "product", "p");
    enq_request bad = {.user = "zz", .tmpl = "promo", .vars = vars};
    enq_request good = {.user = "u1", .tmpl = "promo", .vars = vars};
    assert_int_equal(store_begin(f->a.st, &e), 0);
    assert_int_equal(enq_one(&f->a, &bad, T0, &id, &dup, &e), -1);
    assert_string_equal(e.msg, "user: no user 'zz' (import it with `chuda users import`)");
    store_rollback(f->a.st);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(fpath(f, "t.db"), &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "DROP TABLE queue", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_begin(f->a.st, &e), 0);
    assert_int_equal(enq_one(&f->a, &good, T0, &id, &dup, &e), ENQ_STORAGE);
    assert_non_null(strstr(e.msg, "queue"));
    store_rollback(f->a.st);
    json_decref(vars);
}

/* An empty idempotency key is refused, not taken as a key: else every message given ""
 * (a job whose key came out empty) after the first, for any user, was a "duplicate"
 * and never queued. */
static void test_enq_one_empty_key(void **state)
{
    fx *f = *state;
    cherr e;
    int64_t id;
    int dup = 0;
    char *before = counts(f);
    json_t *vars = json_pack("{s:s}", "product", "p");
    enq_request r1 = {.user = "u1", .tmpl = "promo", .vars = vars, .key = ""};
    assert_int_equal(store_begin(f->a.st, &e), 0);
    assert_int_equal(enq_one(&f->a, &r1, T0, &id, &dup, &e), -1);
    assert_string_equal(e.msg, "key: empty (leave it out for a message without one)");
    assert_int_equal(store_commit(f->a.st, &e), 0);
    char *after = counts(f);
    assert_string_equal(before, after);
    free(before);
    free(after);
    json_decref(vars);
}

static void test_create_refusals(void **state)
{
    fx *f = *state;
    campaign_result res;
    cherr e;
    json_t *vars = json_pack("{s:s}", "product", "p");
    assert_int_equal(create_csv(f, "user_id\nu1\n", "promo", vars, 0, &res, &e), 0);
    json_decref(vars);
    expect_refused(f, "user_id\nu1\nzz\n", "promo",
                   "r.csv:3: user: no user 'zz' (import it with `chuda users import`)");
    expect_refused(f, "user_id\nu1\nu2\n\"multi\nline\"\n", "promo",
                   "r.csv:4: user: no user 'multi\nline' (import it with `chuda users "
                   "import`)");
    expect_refused(f, "user_id,x\nu1,a\nu2,b\nu3,c\nu2,d\n", "promo",
                   "r.csv:5: user_id 'u2' already on line 3");
    /* the first repeated row is named, as users import names it: not the first user's
     * later repeat, nor a user's last of three */
    expect_refused(f, "user_id\nu1\nu2\nu2\nu1\n", "promo",
                   "r.csv:4: user_id 'u2' already on line 3");
    expect_refused(f, "user_id\nu1\nu1\nu1\n", "promo", "r.csv:3: user_id 'u1' already on line 2");
    /* the first bad recipient is named, whatever comes after it: a repeat before an
     * unknown user, a bad column count or bad quoting (repeats are checked once the
     * rows are written) */
    expect_refused(f, "user_id\nu1\nu2\nu2\nu3\nu4\nzz\n", "promo",
                   "r.csv:4: user_id 'u2' already on line 3");
    expect_refused(f, "user_id,product\nu1,a\nu1,b\nu2,b,c\n", "promo",
                   "r.csv:3: user_id 'u1' already on line 2");
    expect_refused(f, "user_id,product\nu1,a\nu1,b\nu2,\"b\"c\n", "promo",
                   "r.csv:3: user_id 'u1' already on line 2");
    /* rows wait in chunks before their users are looked up: one refused by the parse
     * (a bad column count, bad quoting, invalid UTF-8, an empty user_id) comes after an
     * unknown user waiting in the chunk */
    expect_refused(f, "user_id,product\nu1,a\nzz,b\nu2,b,c\n", "promo",
                   "r.csv:3: user: no user 'zz' (import it with `chuda users import`)");
    expect_refused(f, "user_id,product\nu1,a\nzz,b\nu2,\"b\"c\n", "promo",
                   "r.csv:3: user: no user 'zz' (import it with `chuda users import`)");
    expect_refused(f, "user_id,product\nzz,a\nu2,b\xff\n", "promo",
                   "r.csv:2: user: no user 'zz' (import it with `chuda users import`)");
    expect_refused(f, "user_id,product\nu1,a\nzz,b\n,c\n", "promo",
                   "r.csv:3: user: no user 'zz' (import it with `chuda users import`)");
    expect_refused(f, "user_id,product\nu1,a\nu2,b\xff\n", "promo",
                   "r.csv:3: product: invalid UTF-8 at byte 2");
    expect_refused(f, "user_id,product\nu1,a\nu2,b,c\n", "promo",
                   "r.csv:3: 3 fields, the header has 2");
    expect_refused(f, "user_id,product\nu1,a\n,b\n", "promo", "r.csv:3: user_id: empty");
    expect_refused(f, "uid,product\nu1,a\n", "promo",
                   "r.csv:1: the header has no user_id column (a campaign's recipients are "
                   "user ids; other columns become template variables)");
    expect_refused(f, "User_Id\nu1\n", "promo",
                   "r.csv:1: column 'User_Id': did you mean 'user_id'? (column names are lower "
                   "case)");
    expect_refused(f, "user_id,a,a\nu1,x,y\n", "promo",
                   "r.csv:1: column 'a' appears twice in the header (columns 2 and 3)");
    expect_refused(f, "user_id,{{x}}\nu1,y\n", "promo",
                   "r.csv:1: column 2: '{{x}}' cannot be a column name (no braces, '|' or "
                   "line breaks: columns are used as {{name}})");
    expect_refused(f, "user_id,product\nu1,a\nu2,\"b\"c\n", "promo",
                   "r.csv:3: bad quoting (error parsing data while strict checking enabled): a "
                   "field with a quote, comma or line break must be quoted in full, and a quote "
                   "inside written twice (\"a \"\"b\"\"\")");
    expect_refused(f, "user_id\n", "promo", "r.csv: no recipients: the file has a header and no "
                                            "rows");
    expect_refused(f, "", "promo", "r.csv: empty file: expected a header row naming the "
                                   "columns (user_id,...)");
    /* the same shape on lines 2-4, then a value that breaks a filter: refused on its own
     * line, however often the shape passed before */
    expect_refused(f, "user_id,product,due\nu1,围巾,2026-12-01T10:00:00+08:00\n"
                      "u2,围巾,1796000000\nu3,围巾,2026-12-01T10:00:00Z\nu4,围巾,明天\n", "timed",
                   "r.csv:5: due: time: '明天' is not an ISO 8601 time with an offset, or epoch "
                   "seconds");
    /* a value too long for mp_subscribe's thing1 (20 characters) is not refused here: the
     * length rules are checked when the message is sent, where another channel may fit */
    vars = json_pack("{s:s}", "product", "p");
    assert_int_equal(create_csv(f, "user_id,product\nu4,一二三四五六七八九十一二三四五六七八九十一\n",
                                "promo", vars, 0, &res, &e), 0);
    json_decref(vars);
    /* u5 has no city: the attribute the template needs is missing on line 3 */
    char *before = counts(f);
    assert_int_equal(create_csv(f, "user_id\nu1\nu5\n", "city", NULL, 0, &res, &e), -1);
    char want[200];
    snprintf(want, sizeof want, "%s/r.csv:3: ", f->dir);
    assert_memory_equal(e.msg, want, strlen(want));
    assert_non_null(strstr(e.msg, "missing variable 'city'"));
    char *after = counts(f);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

static void test_create_spec_refusals(void **state)
{
    fx *f = *state;
    campaign_result res;
    cherr e;
    campaign_spec sp = {.name = "x", .tmpl = "nope", .segment = "tier=new"};
    assert_int_equal(campaign_create(&f->a, &sp, T0, NULL, NULL, &res, &e), -1);
    assert_non_null(strstr(e.msg, "template: unknown template 'nope'"));
    sp.tmpl = "promo";
    sp.recipients = "r.csv";
    assert_int_equal(campaign_create(&f->a, &sp, T0, NULL, NULL, &res, &e), -1);
    assert_string_equal(e.msg, "recipients: give either a CSV file (--recipients) or a segment "
                               "(--segment), not both");
    sp.recipients = NULL;
    sp.at = "tomorrow";
    assert_int_equal(campaign_create(&f->a, &sp, T0, NULL, NULL, &res, &e), -1);
    assert_memory_equal(e.msg, "at: ", 4);
    sp.at = NULL;
    sp.klass = "spam";
    assert_int_equal(campaign_create(&f->a, &sp, T0, NULL, NULL, &res, &e), -1);
    assert_string_equal(e.msg, "class: 'spam' is not transactional, lifecycle or marketing");
    sp.klass = NULL;
    sp.recipients = fpath(f, "missing.csv");
    sp.segment = NULL;
    assert_int_equal(campaign_create(&f->a, &sp, T0, NULL, NULL, &res, &e), -1);
    assert_non_null(strstr(e.msg, "missing.csv: cannot open: No such file"));
    /* a bad --var is the command line's fault, not the file's header (line 1): said
     * without a file position, as for a segment */
    json_t *vars = json_pack("{s:s}", "due", "明天");
    const char *bad_due = "due: time: '明天' is not an ISO 8601 time with an offset, or epoch "
                          "seconds";
    assert_int_equal(create_csv(f, "user_id,product\nu1,x\n", "timed", vars, 0, &res, &e), -1);
    assert_string_equal(e.msg, bad_due);
    campaign_spec ss = {.name = "x", .tmpl = "timed", .segment = "tier=new", .vars = vars};
    assert_int_equal(campaign_create(&f->a, &ss, T0, NULL, NULL, &res, &e), -1);
    assert_string_equal(e.msg, bad_due);
    json_decref(vars);
    char *n = counts(f);
    assert_string_equal(n, "0 0 0 0 0");
    free(n);
}

/* ---- create from a segment ---------------------------------------------------------- */

static void test_create_segment(void **state)
{
    fx *f = *state;
    campaign_result res;
    cherr e;
    static const struct {
        const char *expr, *want;
    } cases[] = {
        {"tier=dormant and city=上海", "u1"},
        {"tier=dormant", "u1 u2 u5"},
        {"tier=dormant and city!=上海", "u2 u5"},            /* u5 has no city */
        {"city=\"\"", "u4 u5"},
        {"(tier=new or tier=potential) and city!=北京", "u3 u4"},
        {"segment=mom_baby or user_id=u2", "u2 u4"},
        {"tier!=dormant", "u3 u4"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (create_seg(f, cases[i].expr, &res, &e) < 0)
            fail_msg("%s: %s", cases[i].expr, e.msg);
        char *got = recipients(f, res.id);
        if (strcmp(got, cases[i].want))
            fail_msg("%s: want %s, got %s", cases[i].expr, cases[i].want, got);
        free(got);
        store_campaign c;
        assert_int_equal(store_campaign_get(f->a.st, res.id, &c, &e), 1);
        char src[128];
        snprintf(src, sizeof src, "segment: %s", cases[i].expr);
        assert_string_equal(c.source, src);
        store_campaign_free(&c);
    }
    char *before = counts(f);
    assert_int_equal(create_seg(f, "tier=vip", &res, &e), -1);
    assert_string_equal(e.msg, "segment: position 6: unknown tier 'vip' (known: high_value, "
                               "potential, new, dormant, churned)");
    assert_int_equal(create_seg(f, "city=杭州", &res, &e), -1);
    assert_string_equal(e.msg, "segment: no user matches 'city=杭州': nothing queued");
    assert_int_equal(create_seg(f, "city=杭州 and", &res, &e), -1);
    assert_string_equal(e.msg, "segment: position 12: expected a condition (field=value) at the "
                               "end");
    /* a user the template cannot render for stops it all */
    campaign_spec sp = {.name = "c", .tmpl = "city", .segment = "tier=dormant"};
    assert_int_equal(campaign_create(&f->a, &sp, T0, NULL, NULL, &res, &e), -1);
    assert_memory_equal(e.msg, "user 'u5': ", 11);
    assert_non_null(strstr(e.msg, "missing variable 'city'"));
    char *after = counts(f);
    assert_string_equal(before, after);
    free(before);
    free(after);
    /* the segment's spread runs in user_id order */
    json_t *vars = json_pack("{s:s}", "product", "p");
    campaign_spec sp2 = {.name = "s", .tmpl = "promo", .segment = "tier=dormant", .vars = vars,
                         .spread = 3000};
    assert_int_equal(campaign_create(&f->a, &sp2, T0, NULL, NULL, &res, &e), 0);
    json_decref(vars);
    assert_int_equal(res.first_due, T0);
    assert_int_equal(res.last_due, T0 + 2000);
}

/* ---- pause, resume, cancel ------------------------------------------------------------ */

static int claim(fx *f, int64_t now, int max)
{
    store_msg *v;
    int n;
    cherr e;
    assert_int_equal(store_begin(f->a.st, &e), 0);
    assert_int_equal(store_claim(f->a.st, now, now + 60000, max, &v, &n, &e), 0);
    assert_int_equal(store_commit(f->a.st, &e), 0);
    store_msgs_free(v, n);
    return n;
}

static void test_pause_resume_cancel(void **state)
{
    fx *f = *state;
    campaign_result res;
    cherr e;
    long n;
    assert_int_equal(create_seg(f, "tier=dormant", &res, &e), 0);        /* 3, due T0 */
    assert_int_equal(create_seg(f, "tier=new", &res, &e), 0);            /* 1, another one */
    assert_int_equal(campaign_pause(&f->a, 1, T0, &n, &e), 0);
    assert_int_equal(n, 3);
    store_campcounts qc;
    assert_int_equal(store_campaign_counts(f->a.st, 1, T0, &qc, &e), 0);
    assert_int_equal(qc.queued, 3);
    assert_int_equal(qc.held, 3);
    /* nothing of campaign 1 is due, now or in a year; campaign 2 still is */
    assert_int_equal(claim(f, T0 + 365 * TU_DAY, 100), 1);
    long due;
    assert_int_equal(store_counts(f->a.st, T0 + 365 * TU_DAY, NULL, &due, NULL, NULL, &e), 0);
    assert_int_equal(due, 0);
    store_campaign c;
    assert_int_equal(store_campaign_get(f->a.st, 1, &c, &e), 1);
    assert_string_equal(c.state, "paused");
    store_campaign_free(&c);
    /* a held message is shown as held, with its own due time (not shifted years ahead) */
    store_msg m;
    store_msgstate st;
    assert_int_equal(store_msg_get(f->a.st, 1, &m, &st, &e), 1);
    assert_string_equal(st.state, "held");
    assert_int_equal(m.due_at, T0);
    store_msg_free(&m);
    /* pausing again holds nothing more; resume releases to the original due times */
    assert_int_equal(campaign_pause(&f->a, 1, T0, &n, &e), 0);
    assert_int_equal(n, 0);
    assert_int_equal(campaign_resume(&f->a, 1, T0, &n, &e), 0);
    assert_int_equal(n, 3);
    assert_int_equal(store_msg_get(f->a.st, 1, &m, &st, &e), 1);
    assert_string_equal(st.state, "queued");
    assert_int_equal(m.due_at, T0);
    store_msg_free(&m);
    /* one is being sent: cancel leaves it, removes the other two and logs them */
    store_msg *v;
    int nv;
    assert_int_equal(store_begin(f->a.st, &e), 0);
    assert_int_equal(store_claim(f->a.st, T0, T0 + 60000, 1, &v, &nv, &e), 0);
    assert_int_equal(nv, 1);
    assert_int_equal(store_mark_inflight(f->a.st, &v[0], "sms", &e), 0);
    assert_int_equal(store_commit(f->a.st, &e), 0);
    assert_int_equal(campaign_cancel(&f->a, 1, T0 + 1, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_int_equal(store_campaign_counts(f->a.st, 1, T0 + 1, &qc, &e), 0);
    assert_int_equal(qc.queued, 1);
    assert_int_equal(qc.leased, 1);
    assert_int_equal(store_msg_get(f->a.st, 2, &m, &st, &e), 1);
    assert_string_equal(st.state, "cancelled");
    store_msg_free(&m);
    assert_int_equal(campaign_pause(&f->a, 1, T0, &n, &e), -1);
    assert_string_equal(e.msg, "campaign 1 is cancelled: nothing to pause");
    assert_int_equal(campaign_resume(&f->a, 1, T0, &n, &e), -1);
    assert_int_equal(campaign_cancel(&f->a, 9, T0, &n, &e), -1);
    assert_string_equal(e.msg, "no campaign 9");
    /* not even once its lease ran out (its run died: the request may have left) */
    assert_int_equal(campaign_cancel(&f->a, 1, T0 + 120000, &n, &e), 0);
    assert_int_equal(n, 0);
    /* back in the queue (a retry), a second cancel catches the straggler */
    assert_int_equal(store_begin(f->a.st, &e), 0);
    assert_int_equal(store_reschedule(f->a.st, &v[0], T0 + 5000, &e), 0);
    assert_int_equal(store_commit(f->a.st, &e), 0);
    store_msgs_free(v, nv);
    assert_int_equal(campaign_cancel(&f->a, 1, T0 + 120000, &n, &e), 0);
    assert_int_equal(n, 1);
}

/* A pause holds the messages `chuda run` claimed but has not sent yet (they may wait for a
 * rate or a slot), not one whose request is out; the run's in-flight mark sees the hold,
 * gives up its lease, and the message is due again at resume. */
static void test_pause_claimed(void **state)
{
    fx *f = *state;
    campaign_result res;
    cherr e;
    long n;
    assert_int_equal(create_seg(f, "tier=dormant", &res, &e), 0);        /* 3, due T0 */
    store_msg *v;
    int nv;
    assert_int_equal(store_begin(f->a.st, &e), 0);
    assert_int_equal(store_claim(f->a.st, T0, T0 + 60000, 10, &v, &nv, &e), 0);
    assert_int_equal(nv, 3);
    assert_int_equal(store_mark_inflight(f->a.st, &v[0], "sms", &e), 0);   /* its request out */
    assert_int_equal(store_commit(f->a.st, &e), 0);
    assert_int_equal(campaign_pause(&f->a, 1, T0 + 1, &n, &e), 0);
    assert_int_equal(n, 2);                           /* the two still waiting */
    assert_int_equal(store_begin(f->a.st, &e), 0);
    assert_int_equal(store_mark_inflight(f->a.st, &v[1], "sms", &e), STORE_HELD);
    assert_int_equal(store_commit(f->a.st, &e), 0);
    /* a cancel removes the other held one: its mark finds it gone */
    assert_int_equal(campaign_cancel(&f->a, 1, T0 + 2, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_int_equal(store_begin(f->a.st, &e), 0);
    assert_int_equal(store_mark_inflight(f->a.st, &v[2], "sms", &e), STORE_CANCELLED);
    assert_int_equal(store_commit(f->a.st, &e), 0);
    store_msgs_free(v, nv);
    store_campcounts qc;
    assert_int_equal(store_campaign_counts(f->a.st, 1, T0 + 2, &qc, &e), 0);
    assert_int_equal(qc.queued, 1);                   /* only the one in flight */
}

static void test_pause_released(void **state)
{
    fx *f = *state;
    campaign_result res;
    cherr e;
    long n;
    assert_int_equal(create_seg(f, "tier=dormant", &res, &e), 0);        /* 3, due T0 */
    store_msg *v;
    int nv;
    assert_int_equal(store_begin(f->a.st, &e), 0);
    assert_int_equal(store_claim(f->a.st, T0, T0 + 60000, 1, &v, &nv, &e), 0);
    assert_int_equal(store_commit(f->a.st, &e), 0);
    assert_int_equal(campaign_pause(&f->a, 1, T0 + 1, &n, &e), 0);
    assert_int_equal(n, 3);
    assert_int_equal(store_begin(f->a.st, &e), 0);
    assert_int_equal(store_mark_inflight(f->a.st, &v[0], "sms", &e), STORE_HELD);
    assert_int_equal(store_commit(f->a.st, &e), 0);
    store_msgs_free(v, nv);
    /* its lease given back: resumed, it is claimed again (and renewals skip it) */
    assert_int_equal(campaign_resume(&f->a, 1, T0 + 2, &n, &e), 0);
    assert_int_equal(n, 3);
    assert_int_equal(claim(f, T0 + 3, 10), 3);
}

/* The run decided (reserved) the claimed messages and was killed; meanwhile a pause held
 * them, then a cancel took them. The next start drops the reservations whatever became of
 * the messages: held, they are decided again at resume; cancelled, they were never sent
 * and count against no cap. */
static int sends_of(fx *f, const char *user)
{
    cherr e;
    store_send s[8];
    int n;
    assert_int_equal(store_sends_since(f->a.st, user, 0, 0, "", s, 8, &n, &e), 0);
    return n;
}

static void claim_reserve_kill(fx *f, int want)
{
    cherr e;
    store_msg *v;
    int nv;
    assert_int_equal(store_begin(f->a.st, &e), 0);
    assert_int_equal(store_claim(f->a.st, T0, T0 + 60000, 10, &v, &nv, &e), 0);
    assert_int_equal(nv, want);
    for (int i = 0; i < nv; i++)
        assert_int_equal(store_send_reserve(f->a.st, v[i].user_id, v[i].id, "mp_subscribe",
                                            T0, &e), 0);
    assert_int_equal(store_commit(f->a.st, &e), 0);
    store_msgs_free(v, nv);
}

static void recover_start(fx *f)
{
    cherr e;
    store_msg *v;
    int nv;
    assert_int_equal(store_begin(f->a.st, &e), 0);
    assert_int_equal(store_recover(f->a.st, &v, &nv, &e), 0);
    assert_int_equal(store_commit(f->a.st, &e), 0);
    assert_int_equal(nv, 0);
    free(v);
}

static void test_pause_cancel_crashed(void **state)
{
    fx *f = *state;
    campaign_result res;
    cherr e;
    long n;
    assert_int_equal(create_seg(f, "tier=dormant", &res, &e), 0);        /* 3, due T0 */
    claim_reserve_kill(f, 3);
    assert_int_equal(campaign_pause(&f->a, 1, T0 + 1, &n, &e), 0);
    assert_int_equal(n, 3);
    recover_start(f);
    assert_int_equal(sends_of(f, "u1") + sends_of(f, "u2") + sends_of(f, "u5"), 0);
    store_campcounts qc;
    assert_int_equal(store_campaign_counts(f->a.st, 1, T0 + 2, &qc, &e), 0);
    assert_int_equal(qc.held, 3);
    assert_int_equal(qc.leased, 0);

    assert_int_equal(campaign_resume(&f->a, 1, T0 + 2, &n, &e), 0);
    claim_reserve_kill(f, 3);
    assert_int_equal(campaign_pause(&f->a, 1, T0 + 3, &n, &e), 0);
    assert_int_equal(campaign_cancel(&f->a, 1, T0 + 4, &n, &e), 0);
    assert_int_equal(n, 3);
    recover_start(f);
    assert_int_equal(sends_of(f, "u1") + sends_of(f, "u2") + sends_of(f, "u5"), 0);
}

/* SIGTERM gives back the claimed messages not started yet (sched.c feed_release): one a
 * pause held meanwhile gets its lease back too, as an in-flight mark does, and shows held,
 * not leased by a run that has stopped. */
static void test_pause_unleased(void **state)
{
    fx *f = *state;
    campaign_result res;
    cherr e;
    long n;
    assert_int_equal(create_seg(f, "tier=dormant", &res, &e), 0);        /* 3, due T0 */
    store_msg *v;
    int nv;
    assert_int_equal(store_begin(f->a.st, &e), 0);
    assert_int_equal(store_claim(f->a.st, T0, T0 + 60000, 10, &v, &nv, &e), 0);
    assert_int_equal(store_commit(f->a.st, &e), 0);
    assert_int_equal(nv, 3);
    assert_int_equal(campaign_pause(&f->a, 1, T0 + 1, &n, &e), 0);
    assert_int_equal(n, 3);
    assert_int_equal(store_begin(f->a.st, &e), 0);
    for (int i = 0; i < nv; i++)
        assert_int_equal(store_unlease(f->a.st, &v[i], &e), 0);
    assert_int_equal(store_commit(f->a.st, &e), 0);
    store_msg m;
    store_msgstate ms;
    assert_int_equal(store_msg_get(f->a.st, v[0].id, &m, &ms, &e), 1);
    assert_string_equal(ms.state, "held");
    store_msg_free(&m);
    store_msgs_free(v, nv);
    store_campcounts qc;
    assert_int_equal(store_campaign_counts(f->a.st, 1, T0 + 2, &qc, &e), 0);
    assert_int_equal(qc.held, 3);
    assert_int_equal(qc.leased, 0);
    long q, d, l;
    assert_int_equal(store_counts(f->a.st, T0 + 2, &q, &d, &l, NULL, &e), 0);
    assert_int_equal(l, 0);                           /* /metrics: none leased */
}

/* ---- the funnel ----------------------------------------------------------------------- */

static void log_ev(fx *f, int64_t mid, const char *event, const char *code)
{
    cherr e;
    store_event ev = {.at = T0 + 1000, .message_id = mid, .campaign_id = 1, .user_id = "u1",
                      .event = event, .code = code, .channel = "mp_subscribe",
                      .tier = "dormant"};
    assert_int_equal(store_begin(f->a.st, &e), 0);
    assert_int_equal(store_log(f->a.st, &ev, &e), 0);
    assert_int_equal(store_commit(f->a.st, &e), 0);
}

static json_int_t jget(json_t *o, const char *path)
{
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s", path);
    json_t *cur = o;
    for (char *k = strtok(tmp, "."); k && cur; k = strtok(NULL, "."))
        cur = json_object_get(cur, k);
    if (!json_is_integer(cur))
        fail_msg("%s: not an integer", path);
    return json_integer_value(cur);
}

static void test_show_json(void **state)
{
    fx *f = *state;
    campaign_result res;
    cherr e;
    assert_int_equal(create_seg(f, "tier=dormant or tier=new", &res, &e), 0);   /* 4 */
    log_ev(f, 1, "sent", NULL);
    log_ev(f, 1, "delivered", NULL);
    log_ev(f, 2, "deferred", "quiet_hours");
    log_ev(f, 2, "suppressed", "cap");
    log_ev(f, 3, "suppressed", "optout");
    log_ev(f, 4, "failed", "47003");
    long n;
    assert_int_equal(campaign_pause(&f->a, 1, T0, &n, &e), 0);
    json_t *o;
    assert_int_equal(campaign_show_json(&f->a, 1, &o, &e), 1);
    assert_string_equal(json_string_value(json_object_get(o, "name")), "seg");
    assert_string_equal(json_string_value(json_object_get(o, "state")), "paused");
    assert_string_equal(json_string_value(json_object_get(o, "source")),
                        "segment: tier=dormant or tier=new");
    assert_int_equal(jget(o, "total"), 4);
    assert_int_equal(jget(o, "funnel.queued"), 4);
    assert_int_equal(jget(o, "funnel.held"), 4);
    assert_int_equal(jget(o, "funnel.sending"), 0);
    assert_int_equal(jget(o, "funnel.enqueued"), 4);
    assert_int_equal(jget(o, "funnel.sent"), 1);
    assert_int_equal(jget(o, "funnel.delivered"), 1);
    assert_int_equal(jget(o, "funnel.deferred"), 1);
    assert_int_equal(jget(o, "funnel.suppressed.total"), 2);
    assert_int_equal(jget(o, "funnel.suppressed.by_reason.cap"), 1);
    assert_int_equal(jget(o, "funnel.suppressed.by_reason.optout"), 1);
    assert_int_equal(jget(o, "funnel.failed.total"), 1);
    assert_int_equal(jget(o, "funnel.failed.by_code.47003"), 1);
    assert_int_equal(jget(o, "funnel.cancelled"), 0);
    char ts[32];
    assert_string_equal(json_string_value(json_object_get(o, "at")), tu_format(T0, ts, sizeof ts));
    json_decref(o);
    assert_int_equal(campaign_show_json(&f->a, 7, &o, &e), 0);
    assert_null(o);
    assert_string_equal(e.msg, "no campaign 7");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seg_parse),
        cmocka_unit_test(test_seg_errors),
        T(test_create_csv),
        T(test_create_spread),
        T(test_create_refusals),
        T(test_enq_one_storage),
        T(test_enq_one_empty_key),
        T(test_create_spec_refusals),
        T(test_create_segment),
        T(test_pause_resume_cancel),
        T(test_pause_claimed),
        T(test_pause_released),
        T(test_pause_cancel_crashed),
        T(test_pause_unleased),
        T(test_show_json),
    };
    return cmocka_run_group_tests_name("campaign", tests, NULL, NULL);
}
