/* test_import.c — `chuda users import`: a good file, upserts, RFC 4180 quoting, and
 * every refusal with its exact FILE:LINE message, leaving the users table as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "import.h"
#include "store.h"
#include "tmpdir.h"

static const char *const tiers[] = {"high_value", "potential", "new", "dormant", "churned", NULL};
static const imp_rules rules = {.tiers = tiers};

#define HDR "user_id,tier,segment,tz,mp_openid,oa_openid,phone,wecom_userid," \
            "wecom_external_userid,name,note\n"

typedef struct fx {
    char dir[64];
    char db[128];
    store *st;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (tmpdir_make(f->dir, sizeof f->dir, "imp") < 0)
        return -1;
    snprintf(f->db, sizeof f->db, "%s/t.db", f->dir);
    cherr e;
    int from, to;
    if (store_sqlite_open(f->db, 1, &f->st, &e) < 0 || store_migrate(f->st, &from, &to, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    store_close(f->st);
    if (tmpdir_remove(f->dir) < 0)
        return -1;
    free(f);
    return 0;
}

/* Import `len` bytes of `csv` as users.csv. */
static int import_mem(fx *f, const char *csv, size_t len, const imp_rules *r, imp_stats *st,
                      cherr *e)
{
    FILE *fp = fmemopen((void *)csv, len, "r");
    assert_non_null(fp);
    int rc = imp_users_fp(f->st, fp, "users.csv", r, st, e);
    fclose(fp);
    return rc;
}

static int import_str(fx *f, const char *csv, imp_stats *st, cherr *e)
{
    return import_mem(f, csv, strlen(csv), &rules, st, e);
}

/* The whole users table as one string, to compare before and after a failed import. */
static char *users_dump(fx *f)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
        "SELECT count(*) || ':' || coalesce(group_concat(r, '|'), '') FROM (SELECT "
        "user_id||','||tier||','||segment||','||tz||','||ifnull(mp_openid,'-')||','||"
        "ifnull(phone,'-')||','||attrs AS r FROM users ORDER BY user_id)", -1, &s, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    char *out = strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(db);
    return out;
}

static long users_count(fx *f)
{
    char *d = users_dump(f);
    long n = strtol(d, NULL, 10);
    free(d);
    return n;
}

/* ---- good imports ------------------------------------------------------------------ */

static void test_good_import(void **state)
{
    fx *f = *state;
    imp_stats st;
    cherr e;
    const char *csv =
        HDR
        "u1,high_value,mom_baby,Asia/Shanghai,oAbc0000000000000000000000001,,+8613800000001,"
        "zhangwei,,\xe5\xbc\xa0\xe4\xbc\x9f,vip since 2020\n"
        "u2,new,,,,,,,,,\n";
    assert_int_equal(import_str(f, csv, &st, &e), 0);
    assert_int_equal(st.rows, 2);
    assert_int_equal(st.inserted, 2);
    assert_int_equal(st.updated, 0);
    assert_int_equal(st.attrs, 2);

    store_user u = {0};
    assert_int_equal(store_user_get(f->st, "u1", &u, &e), 1);
    assert_string_equal(u.tier, "high_value");
    assert_string_equal(u.segment, "mom_baby");
    assert_string_equal(u.tz, "Asia/Shanghai");
    assert_string_equal(u.mp_openid, "oAbc0000000000000000000000001");
    assert_null(u.oa_openid);                       /* empty optional field: none */
    assert_string_equal(u.phone, "+8613800000001");
    assert_string_equal(u.wecom_userid, "zhangwei");
    assert_null(u.wecom_external_userid);
    assert_string_equal(u.attrs, "{\"name\":\"\xe5\xbc\xa0\xe4\xbc\x9f\",\"note\":\"vip since 2020\"}");
    store_user_free(&u);

    assert_int_equal(store_user_get(f->st, "u2", &u, &e), 1);
    assert_string_equal(u.segment, "");             /* segment and tz default to "" */
    assert_string_equal(u.tz, "");
    assert_null(u.mp_openid);
    assert_null(u.phone);
    assert_string_equal(u.attrs, "{}");             /* empty attributes are left out */
    store_user_free(&u);
}

static void test_upsert(void **state)
{
    fx *f = *state;
    imp_stats st;
    cherr e;
    assert_int_equal(import_str(f, "user_id,tier,segment,city\nu1,new,beauty,Hangzhou\n"
                                   "u2,new,beauty,\n", &st, &e), 0);
    assert_int_equal(import_str(f, "tier,user_id,city\ndormant,u1,Chengdu\npotential,u3,x\n",
                                &st, &e), 0);
    assert_int_equal(st.rows, 2);
    assert_int_equal(st.inserted, 1);
    assert_int_equal(st.updated, 1);
    store_user u = {0};
    assert_int_equal(store_user_get(f->st, "u1", &u, &e), 1);
    assert_string_equal(u.tier, "dormant");
    assert_string_equal(u.segment, "");             /* the row is replaced, not merged */
    assert_string_equal(u.attrs, "{\"city\":\"Chengdu\"}");
    store_user_free(&u);
    assert_int_equal(users_count(f), 3);
}

/* Quoted fields with commas, quotes and line breaks; CRLF; a BOM; padded header names
 * in any order; blank lines. */
static void test_quoting(void **state)
{
    fx *f = *state;
    imp_stats st;
    cherr e;
    const char *csv =
        "\xEF\xBB\xBF tier , \"user_id\" ,note\r\n"
        "new,u1,\"a, b\"\r\n"
        "\r\n"
        "new,u2,\"say \"\"hi\"\"\"\r\n"
        "new,u3,\"two\nlines\"\r\n"
        "  new  ,  u4  ,\"  kept  \"\r\n"
        "new,u5,last";                              /* no final line break */
    assert_int_equal(import_str(f, csv, &st, &e), 0);
    assert_int_equal(st.rows, 5);
    struct { const char *id, *attrs; } want[] = {
        {"u1", "{\"note\":\"a, b\"}"},
        {"u2", "{\"note\":\"say \\\"hi\\\"\"}"},
        {"u3", "{\"note\":\"two\\nlines\"}"},
        {"u4", "{\"note\":\"  kept  \"}"},
        {"u5", "{\"note\":\"last\"}"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        store_user u = {0};
        assert_int_equal(store_user_get(f->st, want[i].id, &u, &e), 1);
        assert_string_equal(u.tier, "new");
        assert_string_equal(u.attrs, want[i].attrs);
        store_user_free(&u);
    }
}

static void test_no_tier_list(void **state)
{
    fx *f = *state;
    imp_stats st;
    cherr e;
    imp_rules any = {0};
    const char *csv = "user_id,tier\nu1,whatever\n";
    assert_int_equal(import_mem(f, csv, strlen(csv), &any, &st, &e), 0);
    assert_int_equal(st.inserted, 1);
}

/* A file larger than the read block, with multi-line records: line numbers stay right. */
static void test_long_file_lines(void **state)
{
    fx *f = *state;
    imp_stats st;
    cherr e;
    size_t cap = 1 << 20, len = 0;
    char *csv = malloc(cap);
    len += (size_t)sprintf(csv + len, "user_id,tier,note\n");
    long line = 2;
    for (int i = 0; i < 6000; i++) {
        if (i % 7 == 0) {
            len += (size_t)sprintf(csv + len, "u%d,new,\"multi\nline\nnote %d\"\n", i, i);
            line += 3;
        } else {
            len += (size_t)sprintf(csv + len, "u%d,potential,plain note number %d\n", i, i);
            line += 1;
        }
    }
    assert_int_equal(import_mem(f, csv, len, &rules, &st, &e), 0);
    assert_int_equal(st.rows, 6000);
    assert_int_equal(users_count(f), 6000);
    /* now a bad tier on the last line */
    len += (size_t)sprintf(csv + len, "u_last,gold,x\n");
    assert_int_equal(import_mem(f, csv, len, &rules, &st, &e), -1);
    char want[200];
    snprintf(want, sizeof want, "users.csv:%ld: tier: unknown tier 'gold' (known: high_value, "
             "potential, new, dormant, churned)", line);
    assert_string_equal(e.msg, want);
    free(csv);
}

static void test_file_path(void **state)
{
    fx *f = *state;
    imp_stats st;
    cherr e;
    char path[160];
    snprintf(path, sizeof path, "%s/u.csv", f->dir);
    FILE *fp = fopen(path, "w");
    fputs("user_id,tier\nu9,churned\n", fp);
    fclose(fp);
    assert_int_equal(imp_users(f->st, path, &rules, &st, &e), 0);
    assert_int_equal(st.inserted, 1);
    snprintf(path, sizeof path, "%s/missing.csv", f->dir);
    assert_int_equal(imp_users(f->st, path, &rules, &st, &e), -1);
    assert_non_null(strstr(e.msg, "missing.csv: cannot open: No such file"));
}

/* The sample files shipped with the project import cleanly. */
static void test_sample_files(void **state)
{
    fx *f = *state;
    imp_stats st;
    cherr e;
    if (imp_users(f->st, "etc/users.example.csv", &rules, &st, &e) < 0)
        fail_msg("%s", e.msg);
    assert_int_equal(st.rows, 30);
    assert_int_equal(st.inserted, 30);
    assert_true(st.attrs >= 3);
    if (imp_users(f->st, "tests/data/users_quoted.csv", &rules, &st, &e) < 0)
        fail_msg("%s", e.msg);
    assert_true(st.rows > 0);
}

/* ---- refusals -------------------------------------------------------------------- */

/* Seed the table, import `csv` (which also updates u1 and adds users before the bad
 * record), check the message and that the table is unchanged. */
static void expect_error(fx *f, const char *csv, size_t len, const char *want)
{
    imp_stats st = {0};
    cherr e = {{0}};
    assert_int_equal(import_str(f, "user_id,tier,segment\nu1,new,beauty\nu2,dormant,\n", &st, &e),
                     0);
    char *before = users_dump(f);
    int rc = import_mem(f, csv, len ? len : strlen(csv), &rules, &st, &e);
    if (rc != -1 || strcmp(e.msg, want))
        fail_msg("want \"%s\"\n got \"%s\" (rc %d)", want, rc ? e.msg : "success", rc);
    char *after = users_dump(f);
    assert_string_equal(before, after);
    store_user u = {0};
    assert_int_equal(store_user_get(f->st, "u1", &u, &e), 1);
    assert_string_equal(u.tier, "new");             /* the update before the error is gone */
    assert_string_equal(u.segment, "beauty");
    store_user_free(&u);
    free(before);
    free(after);
}

/* Two good records (an update of u1 and a new u5) then whatever follows. */
#define GOOD HDR "u1,high_value,outdoor,,,,,,,Li,\nu5,new,,,,,,,,,\n"

static void test_err_field_count(void **state)
{
    expect_error(*state,
                 GOOD "u6,new,,,,,,,,\n"            /* line 4: 10 fields */
                 "u7,new,,,,,,,,,\n",
                 0, "users.csv:4: 10 fields, the header has 11");
    expect_error(*state, GOOD "u6,new,,,,,,,,,,\n", 0, "users.csv:4: 12 fields, the header has 11");
    expect_error(*state, GOOD "u6\n", 0, "users.csv:4: 1 field, the header has 11");
}

static void test_err_user_id(void **state)
{
    expect_error(*state, GOOD "u6,new,,,,,,,,,\n,new,,,,,,,,,\n", 0, "users.csv:5: user_id: empty");
    expect_error(*state, GOOD "\"\",new,,,,,,,,,\n", 0, "users.csv:4: user_id: empty");
}

static void test_err_tier(void **state)
{
    expect_error(*state, GOOD "u6,vip,,,,,,,,,\n", 0,
                 "users.csv:4: tier: unknown tier 'vip' (known: high_value, potential, new, "
                 "dormant, churned)");
    expect_error(*state, GOOD "u6,,,,,,,,,,\n", 0,
                 "users.csv:4: tier: empty (known: high_value, potential, new, dormant, churned)");
    expect_error(*state, GOOD "u6,New,,,,,,,,,\n", 0,     /* names are case-sensitive */
                 "users.csv:4: tier: unknown tier 'New' (known: high_value, potential, new, "
                 "dormant, churned)");
}

static void test_err_utf8(void **state)
{
    expect_error(*state, GOOD "u6,new,\x61\x62\xff,,,,,,,,\n", 0,
                 "users.csv:4: segment: invalid UTF-8 at byte 3");
    /* overlong encoding of '/', a lone continuation byte, a surrogate, a cut sequence */
    expect_error(*state, GOOD "u6,new,,,,,,,,\xc0\xaf,\n", 0,
                 "users.csv:4: attrs column 'name': invalid UTF-8 at byte 1");
    expect_error(*state, GOOD "u6,new,,,,,,,,,ok\x80\n", 0,
                 "users.csv:4: attrs column 'note': invalid UTF-8 at byte 3");
    expect_error(*state, GOOD "u\xed\xa0\x80,new,,,,,,,,,\n", 0,
                 "users.csv:4: user_id: invalid UTF-8 at byte 2");
    expect_error(*state, GOOD "u6,new,,,,,,,,\"\xe4\xb8\",\n", 0,
                 "users.csv:4: attrs column 'name': invalid UTF-8 at byte 1");
    static const char nul[] = GOOD "u6,new,,,,,,,,a\0b,\n";
    expect_error(*state, nul, sizeof nul - 1, "users.csv:4: attrs column 'name': NUL byte at "
                 "byte 2");
    static const char hnul[] = "user_id,tier,a\0b\nu1,new,x\n";
    expect_error(*state, hnul, sizeof hnul - 1, "users.csv:1: column 3: NUL byte in the header at "
                 "byte 2");
}

static void test_err_field_size(void **state)
{
    size_t big = 1 << 20, pre = strlen(GOOD "\n\nu6,new,,,,,,,,,");
    char *csv = malloc(pre + big + 2);
    memcpy(csv, GOOD "\n\nu6,new,,,,,,,,,", pre);      /* blank lines 4 and 5 */
    memset(csv + pre, 'x', big);
    memcpy(csv + pre + big, "\n", 2);
    expect_error(*state, csv, 0, "users.csv:6: attrs column 'note': field of 1048576 bytes is "
                 "over the 65536-byte limit");
    /* exactly the limit is fine */
    memcpy(csv + pre + 65536, "\n", 2);
    imp_stats st;
    cherr e;
    assert_int_equal(import_str(*state, csv, &st, &e), 0);
    free(csv);
}

/* A field too big for libcsv's buffer cap is refused without buffering it all. */
static void test_err_field_huge(void **state)
{
    size_t big = 17 << 20, pre = strlen(GOOD "u6,new,,,,,,,,\"");
    char *csv = malloc(pre + big + 8);
    memcpy(csv, GOOD "u6,new,,,,,,,,\"", pre);
    memset(csv + pre, 'y', big);
    memcpy(csv + pre + big, "\",\n", 4);
    expect_error(*state, csv, 0, "users.csv:4: attrs column 'name': field of more than 16777216 "
                 "bytes is over the 65536-byte limit");
    free(csv);
}

static void test_err_quotes(void **state)
{
    const char *why = "bad quoting (error parsing data while strict checking enabled): a field "
                      "with a quote, comma or line break must be quoted in full, and a quote "
                      "inside written twice (\"a \"\"b\"\"\")";
    char want[512];
    snprintf(want, sizeof want, "users.csv:4: %s", why);
    expect_error(*state, GOOD "u6,\"new\"x,,,,,,,,,\n", 0, want);
    expect_error(*state, GOOD "u6,new,,,,,,,,Li \"Bo\",\n", 0, want);
    /* a multi-line record on lines 4-5, then a bad one on line 6 */
    snprintf(want, sizeof want, "users.csv:6: %s", why);
    expect_error(*state, GOOD "u6,new,,,,,,,,\"two\nlines\",\nu7,new,\"x\"y,,,,,,,,\n", 0, want);
    expect_error(*state, GOOD "u6,new,,,,,,,,,\"never closed\nu7,new,,,,,,,,,\n", 0,
                 "users.csv:4: a quoted field is never closed (the quote opened in this record "
                 "runs to the end of the file)");
}

static void test_err_duplicate(void **state)
{
    expect_error(*state,
                 GOOD "u6,new,,,,,,,,,\nu7,new,,,,,,,,\"multi\nline\",\nu8,new,,,,,,,,,\n"
                 "u9,new,,,,,,,,,\nu10,new,,,,,,,,,\nu11,new,,,,,,,,,\nu7,new,,,,,,,,,\n",
                 0, "users.csv:11: user_id 'u7' already on line 5");
    expect_error(*state, GOOD "u1,new,,,,,,,,,\n", 0, "users.csv:4: user_id 'u1' already on line 2");
}

static void test_err_tz(void **state)
{
    fx *f = *state;
    imp_stats st;
    cherr e;
    assert_int_equal(import_str(f, "user_id,tier,tz\nu1,new,Asia/Shanghai\nu2,new,UTC\n"
                                   "u3,new,America/New_York\nu4,new,Etc/GMT+8\n", &st, &e), 0);
    expect_error(f, GOOD "u6,new,,Mars/Base,,,,,,,\n", 0,
                 "users.csv:4: tz: 'Mars/Base' is not a time zone in /usr/share/zoneinfo "
                 "(e.g. Asia/Shanghai)");
    const char *shape = "is not a zone name like Asia/Shanghai (letters, digits, '/', '_', '+', "
                        "'-'; no '..', no leading '/', at most 60 bytes)";
    char want[300];
    snprintf(want, sizeof want, "users.csv:4: tz: '../../../etc/passwd' %s", shape);
    expect_error(f, GOOD "u6,new,,../../../etc/passwd,,,,,,,\n", 0, want);
    snprintf(want, sizeof want, "users.csv:4: tz: '/usr/share/zoneinfo/UTC' %s", shape);
    expect_error(f, GOOD "u6,new,,/usr/share/zoneinfo/UTC,,,,,,,\n", 0, want);
    snprintf(want, sizeof want, "users.csv:4: tz: 'Asia/../UTC' %s", shape);
    expect_error(f, GOOD "u6,new,,Asia/../UTC,,,,,,,\n", 0, want);
    /* files in the zoneinfo directory that are not zones, and directories */
    expect_error(f, GOOD "u6,new,,Asia,,,,,,,\n", 0,
                 "users.csv:4: tz: 'Asia' is not a time zone in /usr/share/zoneinfo "
                 "(e.g. Asia/Shanghai)");
    if (access("/usr/share/zoneinfo/zone.tab", R_OK) == 0)
        expect_error(f, GOOD "u6,new,,zone-tab,,,,,,,\n", 0,
                     "users.csv:4: tz: 'zone-tab' is not a time zone in /usr/share/zoneinfo "
                     "(e.g. Asia/Shanghai)");
}

static void test_err_phone(void **state)
{
    fx *f = *state;
    imp_stats st;
    cherr e;
    assert_int_equal(import_str(f, "user_id,tier,phone\nu1,new,+8613800138000\nu2,new,1234567\n"
                                   "u3,new,+1234567890123456789\n", &st, &e), 0);
    expect_error(f, GOOD "u6,new,,,,,123456,,,,\n", 0,
                 "users.csv:4: phone: 6 characters, a phone number has 7 to 20 (digits, "
                 "optional leading +)");
    expect_error(f, GOOD "u6,new,,,,,+86138001380001234567,,,,\n", 0,
                 "users.csv:4: phone: 21 characters, a phone number has 7 to 20 (digits, "
                 "optional leading +)");
    expect_error(f, GOOD "u6,new,,,,,+86 138 0013,,,,\n", 0,
                 "users.csv:4: phone: character 4 is not a digit (a phone number is digits with "
                 "an optional leading +)");
    expect_error(f, GOOD "u6,new,,,,,138-0013-8000,,,,\n", 0,
                 "users.csv:4: phone: character 4 is not a digit (a phone number is digits with "
                 "an optional leading +)");
    expect_error(f, GOOD "u6,new,,,,,1380013800+,,,,\n", 0,
                 "users.csv:4: phone: character 11 is not a digit (a phone number is digits with "
                 "an optional leading +)");
}

static void test_err_header(void **state)
{
    expect_error(*state, "user_id,segment\nu1,x\n", 0,
                 "users.csv:1: the header has no tier column (it names: user_id, segment)");
    expect_error(*state, "tier,segment\nnew,x\n", 0,
                 "users.csv:1: the header has no user_id column (it names: tier, segment)");
    expect_error(*state, "user_id,tier,city, city\nu1,new,a,b\n", 0,
                 "users.csv:1: column 'city' appears twice in the header (columns 3 and 4)");
    expect_error(*state, "user_id,tier,,x\nu1,new,a,b\n", 0,
                 "users.csv:1: column 3 has no name in the header");
    expect_error(*state, "User_ID,tier\nu1,new\n", 0,
                 "users.csv:1: column 'User_ID': did you mean 'user_id'? (column names are lower "
                 "case)");
    expect_error(*state, "user_id,tier,{{x}}\nu1,new,a\n", 0,
                 "users.csv:1: column 3: '{{x}}' cannot be a column name (no braces, '|' or line "
                 "breaks: columns are used as {{name}})");
    expect_error(*state, "\n\nuser_id,ti\xe9r\n", 0,
                 "users.csv:3: column 2: invalid UTF-8 in the header at byte 3");
    expect_error(*state, "", 0,
                 "users.csv: empty file: expected a header row naming the columns "
                 "(user_id,tier,segment,tz,...)");
    expect_error(*state, "\n  \r\n", 0,
                 "users.csv: empty file: expected a header row naming the columns "
                 "(user_id,tier,segment,tz,...)");
}

/* A header alone is a valid (empty) import. */
static void test_header_only(void **state)
{
    fx *f = *state;
    imp_stats st;
    cherr e;
    assert_int_equal(import_str(f, "user_id,tier\n", &st, &e), 0);
    assert_int_equal(st.rows, 0);
    assert_int_equal(users_count(f), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_good_import),
        T(test_upsert),
        T(test_quoting),
        T(test_no_tier_list),
        T(test_long_file_lines),
        T(test_file_path),
        T(test_sample_files),
        T(test_header_only),
        T(test_err_field_count),
        T(test_err_user_id),
        T(test_err_tier),
        T(test_err_utf8),
        T(test_err_field_size),
        T(test_err_field_huge),
        T(test_err_quotes),
        T(test_err_duplicate),
        T(test_err_tz),
        T(test_err_phone),
        T(test_err_header),
    };
    return cmocka_run_group_tests_name("import", tests, NULL, NULL);
}
