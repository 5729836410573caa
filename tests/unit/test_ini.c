/* test_ini.c — inifile (line numbers, continuations, "\n", over-long lines) and config
 * (schema errors with file:line, typed getters, secrets from the environment or from a
 * private file, never echoed in errors). */
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

#include "config.h"
#include "inifile.h"
#include "timeutil.h"
#include "tmpdir.h"

#define SECRET "s3cr3t-Value-9f8e7d"

typedef struct fx {
    char dir[64];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (tmpdir_make(f->dir, sizeof f->dir, "ini") < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    if (tmpdir_remove(f->dir) < 0)
        return -1;
    free(f);
    unsetenv("CHUDA_TEST_SECRET");
    return 0;
}

/* Write `text` to DIR/name with `mode`; returns the path (static buffer per call site). */
static void write_file(const fx *f, const char *name, const char *text, mode_t mode, char *path,
                       size_t len)
{
    snprintf(path, len, "%s/%s", f->dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    assert_int_equal(chmod(path, mode), 0);
}

/* ---- inifile -------------------------------------------------------------------- */

static void test_ini_lines(void **state)
{
    (void)state;
    inif f;
    cherr e;
    const char *text =
        "; a comment\n"                                 /* 1 */
        "[copy]\n"                                      /* 2 */
        "title = Hello\n"                               /* 3 */
        "\n"                                            /* 4 */
        "body = a\\nb\n"                                /* 5 */
        "# another comment\n"                           /* 6 */
        "[mp_subscribe]\n"                              /* 7 */
        "template_id = T1\n"                            /* 8 */
        "title = again\n";                              /* 9 */
    if (inif_load_string(&f, "t.ini", text, &e) < 0)
        fail_msg("%s", e.msg);
    assert_int_equal(f.n, 4);
    assert_string_equal(f.path, "t.ini");
    assert_string_equal(f.v[0].section, "copy");
    assert_string_equal(f.v[0].key, "title");
    assert_string_equal(f.v[0].value, "Hello");
    assert_int_equal(f.v[0].line, 3);
    assert_string_equal(f.v[1].value, "a\nb");          /* the \n escape */
    assert_int_equal(f.v[1].line, 5);
    assert_int_equal(f.v[2].line, 8);
    const inif_entry *en = inif_find(&f, "mp_subscribe", "title");
    assert_non_null(en);
    assert_int_equal(en->line, 9);
    assert_null(inif_find(&f, "copy", "missing"));
    assert_null(inif_find(&f, "nosuch", "title"));
    inif_free(&f);
}

static void test_ini_continuation(void **state)
{
    (void)state;
    inif f;
    cherr e;
    const char *text =
        "[copy]\n"                                      /* 1 */
        "body = 欢迎来到\n"                              /* 2 */
        "  我们的小店，\n"                                /* 3 */
        "\t首单立减\\n十元\n"                            /* 4 */
        "hint = short\n"                                /* 5 */
        "  tail\n"                                      /* 6 */
        "next = x\n";                                   /* 7 */
    if (inif_load_string(&f, "c.ini", text, &e) < 0)
        fail_msg("%s", e.msg);
    assert_int_equal(f.n, 3);
    /* indented lines continue the value, joined without a separator */
    assert_string_equal(f.v[0].value, "欢迎来到我们的小店，首单立减\n十元");
    assert_string_equal(f.v[1].value, "shorttail");
    assert_string_equal(f.v[2].key, "next");
    assert_int_equal(f.v[2].line, 7);                   /* lines after a continuation */
    inif_free(&f);
}

static void test_ini_long_line(void **state)
{
    fx *fx_ = *state;
    inif f;
    cherr e;
    char line[300];
    memset(line, 'x', sizeof line);
    line[sizeof line - 1] = '\0';
    char *text;
    assert_true(asprintf(&text, "[copy]\na = 1\nb = %s\nc = 2\n", line) > 0);
    assert_int_equal(inif_load_string(&f, "long.ini", text, &e), -1);
    assert_string_equal(e.msg, "long.ini:3: line longer than 199 bytes; continue the value on an "
                               "indented next line");
    free(text);

    /* exactly 199 bytes is fine */
    char ok[200];
    memset(ok, 'y', sizeof ok);
    memcpy(ok, "k = ", 4);
    ok[199] = '\0';
    assert_true(asprintf(&text, "[copy]\n%s\n", ok) > 0);
    if (inif_load_string(&f, "ok.ini", text, &e) < 0)
        fail_msg("%s", e.msg);
    assert_int_equal(strlen(inif_find(&f, "copy", "k")->value), 195);
    inif_free(&f);
    free(text);

    /* a very long line (beyond any read buffer), from a file */
    size_t big = 20000;
    text = malloc(big + 64);
    strcpy(text, "[copy]\n\nz = ");
    size_t l = strlen(text);
    memset(text + l, 'z', big);
    strcpy(text + l + big, "\nafter = 1\n");
    char path[160];
    write_file(fx_, "big.ini", text, 0644, path, sizeof path);
    assert_int_equal(inif_load(&f, path, &e), -1);
    char want[256];
    snprintf(want, sizeof want, "%s:3: line longer than 199 bytes; continue the value on an "
             "indented next line", path);
    assert_string_equal(e.msg, want);
    assert_int_equal(inif_load_string(&f, "big.ini", text, &e), -1);
    assert_string_equal(e.msg, "big.ini:3: line longer than 199 bytes; continue the value on an "
                               "indented next line");
    free(text);
}

static void test_ini_errors(void **state)
{
    (void)state;
    inif f;
    cherr e;
    assert_int_equal(inif_load_string(&f, "bad.ini", "[copy]\nok = 1\nnot an ini line\n", &e),
                     -1);
    assert_string_equal(e.msg, "bad.ini:3: not an INI line (expected [section], key = value, or a "
                               "comment)");
    assert_int_equal(inif_load(&f, "/nonexistent/x.ini", &e), -1);
    assert_non_null(strstr(e.msg, "/nonexistent/x.ini: cannot open"));
}

/* ---- config --------------------------------------------------------------------- */

static void test_cfg_unknown(void **state)
{
    fx *f = *state;
    config c;
    cherr e;
    char path[160], want[300];
    write_file(f, "a.conf", "[chuda]\nbatch = 100\n\n[chaos]\nx = 1\n", 0644, path, sizeof path);
    assert_int_equal(cfg_load(&c, path, &e), -1);
    snprintf(want, sizeof want, "%s:5: unknown section [chaos]", path);
    assert_string_equal(e.msg, want);

    write_file(f, "b.conf", "[chuda]\nbatch = 100\nbach = 5\n", 0644, path, sizeof path);
    assert_int_equal(cfg_load(&c, path, &e), -1);
    snprintf(want, sizeof want, "%s:3: unknown key 'bach' in [chuda]", path);
    assert_string_equal(e.msg, want);

    write_file(f, "c.conf", "[channel.mp_subscribe]\nappid = wx1\nsecret = " SECRET "\n", 0644,
               path, sizeof path);
    assert_int_equal(cfg_load(&c, path, &e), -1);
    snprintf(want, sizeof want, "%s:3: unknown key 'secret' in [channel.mp_subscribe]", path);
    assert_string_equal(e.msg, want);

    /* no file: every key at its default */
    assert_int_equal(cfg_load(&c, NULL, &e), 0);
    long v;
    assert_int_equal(cfg_int(&c, "chuda", "batch", 500, 1, 10000, &v, &e), 0);
    assert_int_equal(v, 500);
    cfg_free(&c);
}

static void test_cfg_values(void **state)
{
    fx *f = *state;
    config c;
    cherr e;
    char path[160];
    write_file(f, "v.conf",
               "[chuda]\n"                               /* 1 */
               "batch = 250\n"                           /* 2 */
               "lease = 90s\n"                           /* 3 */
               "db = data/chuda.db\n"                    /* 4 */
               "templates = /srv/tpl\n"                  /* 5 */
               "[channel.sms]\n"                         /* 6 */
               "rate = 2.5\n"                            /* 7 */
               "[channel.wecom]\n"                       /* 8 */
               "concurrency = 4\n", 0644, path, sizeof path);
    if (cfg_load(&c, path, &e) < 0)
        fail_msg("%s", e.msg);
    long v;
    assert_int_equal(cfg_int(&c, "chuda", "batch", 500, 1, 10000, &v, &e), 0);
    assert_int_equal(v, 250);
    assert_int_equal(cfg_line(&c, "chuda", "batch"), 2);
    assert_int_equal(cfg_line(&c, "chuda", "poll"), 0);
    int64_t ms;
    assert_int_equal(cfg_duration(&c, "chuda", "lease", "5m", &ms, &e), 0);
    assert_int_equal(ms, 90 * TU_SEC);
    assert_int_equal(cfg_duration(&c, "chuda", "poll", "1s", &ms, &e), 0);   /* default */
    assert_int_equal(ms, TU_SEC);
    double d;
    assert_int_equal(cfg_num(&c, "channel.sms", "rate", 0, 0, 1e6, &d, &e), 0);
    assert_true(d > 2.49 && d < 2.51);
    /* relative paths are relative to the config file; absolute ones stay */
    char *p = cfg_path(&c, "chuda", "db", "chuda.db"), want[200];
    snprintf(want, sizeof want, "%s/data/chuda.db", f->dir);
    assert_string_equal(p, want);
    free(p);
    p = cfg_path(&c, "chuda", "templates", "templates");
    assert_string_equal(p, "/srv/tpl");
    free(p);
    p = cfg_path(&c, "chuda", "ca_file", NULL);
    assert_null(p);
    cfg_free(&c);
}

static int count_sections(const char *section, void *arg)
{
    char *acc = arg;
    strcat(acc, section);
    strcat(acc, ";");
    return 0;
}

static void test_cfg_sections(void **state)
{
    fx *f = *state;
    config c;
    cherr e;
    char path[160], acc[256] = "";
    write_file(f, "s.conf", "[channel.sms]\nrate = 1\n[chuda]\nbatch = 1\n[channel.wecom]\n"
               "rate = 1\n[channel.sms]\nburst = 2\n", 0644, path, sizeof path);
    if (cfg_load(&c, path, &e) < 0)
        fail_msg("%s", e.msg);
    assert_int_equal(cfg_each_section(&c, "channel.", count_sections, acc), 0);
    assert_string_equal(acc, "channel.sms;channel.wecom;");   /* file order, once each */
    cfg_free(&c);
}

static void test_cfg_int_range(void **state)
{
    fx *f = *state;
    config c;
    cherr e;
    char path[160], want[300];
    write_file(f, "r.conf", "[chuda]\nbatch = 0\nmax_inflight = lots\npoll = 5 parsecs\n"
               "[channel.sms]\nrate = -1\nconcurrency = 99999999999999999999\n", 0644, path,
               sizeof path);
    if (cfg_load(&c, path, &e) < 0)
        fail_msg("%s", e.msg);
    long v = 7;
    assert_int_equal(cfg_int(&c, "chuda", "batch", 500, 1, 10000, &v, &e), -1);
    snprintf(want, sizeof want, "%s:2: [chuda] batch: '0' is not a whole number from 1 to 10000",
             path);
    assert_string_equal(e.msg, want);
    assert_int_equal(v, 7);                             /* untouched on error */
    assert_int_equal(cfg_int(&c, "chuda", "max_inflight", 2000, 1, 100000, &v, &e), -1);
    snprintf(want, sizeof want, "%s:3: [chuda] max_inflight: 'lots' is not a whole number from 1 "
             "to 100000", path);
    assert_string_equal(e.msg, want);
    assert_int_equal(cfg_int(&c, "channel.sms", "concurrency", 16, 1, 1000, &v, &e), -1);
    assert_non_null(strstr(e.msg, ":7: [channel.sms] concurrency: "));
    double d;
    assert_int_equal(cfg_num(&c, "channel.sms", "rate", 0, 0, 1e6, &d, &e), -1);
    assert_non_null(strstr(e.msg, ":6: [channel.sms] rate: '-1' is not a number from 0 to"));
    int64_t ms;
    assert_int_equal(cfg_duration(&c, "chuda", "poll", "1s", &ms, &e), -1);
    snprintf(want, sizeof want, "%s:4: [chuda] poll: ", path);
    assert_non_null(strstr(e.msg, want));
    cfg_free(&c);
}

static void test_secret_env(void **state)
{
    fx *f = *state;
    config c;
    cherr e;
    char path[160], out[64];
    write_file(f, "e.conf", "[channel.mp_subscribe]\nappid = wx1\nsecret_env = CHUDA_TEST_SECRET\n",
               0644, path, sizeof path);
    if (cfg_load(&c, path, &e) < 0)
        fail_msg("%s", e.msg);
    unsetenv("CHUDA_TEST_SECRET");
    assert_int_equal(cfg_secret(&c, "channel.mp_subscribe", "secret", out, sizeof out, &e), -1);
    assert_non_null(strstr(e.msg, "CHUDA_TEST_SECRET is not set"));
    setenv("CHUDA_TEST_SECRET", SECRET, 1);
    assert_int_equal(cfg_secret(&c, "channel.mp_subscribe", "secret", out, sizeof out, &e), 0);
    assert_string_equal(out, SECRET);
    /* too long for the caller's buffer: refused, and the value is not in the message */
    char small[8];
    assert_int_equal(cfg_secret(&c, "channel.mp_subscribe", "secret", small, sizeof small, &e),
                     -1);
    assert_null(strstr(e.msg, SECRET));
    assert_null(strstr(e.msg, "s3cr3t"));
    cfg_free(&c);

    /* neither secret_env nor secret_file */
    write_file(f, "n.conf", "[channel.mp_subscribe]\nappid = wx1\n", 0644, path, sizeof path);
    assert_int_equal(cfg_load(&c, path, &e), 0);
    assert_int_equal(cfg_secret(&c, "channel.mp_subscribe", "secret", out, sizeof out, &e), -1);
    assert_non_null(strstr(e.msg, "secret_env"));
    cfg_free(&c);
}

static void test_secret_file(void **state)
{
    fx *f = *state;
    config c;
    cherr e;
    char path[160], spath[160], out[64];
    /* relative to the config file's directory; the trailing newline is not part of it */
    write_file(f, "mp.secret", SECRET "\n", 0600, spath, sizeof spath);
    write_file(f, "f.conf", "[channel.mp_subscribe]\nappid = wx1\nsecret_file = mp.secret\n", 0644,
               path, sizeof path);
    if (cfg_load(&c, path, &e) < 0)
        fail_msg("%s", e.msg);
    if (cfg_secret(&c, "channel.mp_subscribe", "secret", out, sizeof out, &e) < 0)
        fail_msg("%s", e.msg);
    assert_string_equal(out, SECRET);

    /* 0400 is fine too */
    assert_int_equal(chmod(spath, 0400), 0);
    assert_int_equal(cfg_secret(&c, "channel.mp_subscribe", "secret", out, sizeof out, &e), 0);

    /* readable by others: refused, without the secret in the message */
    const mode_t loose[] = {0644, 0640, 0604, 0660};
    for (size_t i = 0; i < sizeof loose / sizeof loose[0]; i++) {
        assert_int_equal(chmod(spath, loose[i]), 0);
        memset(out, 0, sizeof out);
        e.msg[0] = '\0';
        assert_int_equal(cfg_secret(&c, "channel.mp_subscribe", "secret", out, sizeof out, &e),
                         -1);
        assert_non_null(strstr(e.msg, "chmod 600"));
        assert_non_null(strstr(e.msg, "mp.secret"));
        assert_null(strstr(e.msg, SECRET));
        assert_null(strstr(out, SECRET));                /* nothing leaked into out either */
    }
    /* missing file */
    assert_int_equal(unlink(spath), 0);
    assert_int_equal(cfg_secret(&c, "channel.mp_subscribe", "secret", out, sizeof out, &e), -1);
    assert_non_null(strstr(e.msg, "cannot open"));
    cfg_free(&c);
}

/* The (section, key) index: the last of a repeated key wins, as in a scan; sections are
 * numbered; inif_add keeps both; a file of many entries finds each of them. */
static void test_ini_index(void **state)
{
    inif f;
    cherr e;
    assert_int_equal(inif_load_string(&f, "x.ini", "[a]\nk = 1\nj = 2\n[b]\nk = 3\n[a]\nk = 4\n",
                                      &e), 0);
    assert_true(inif_indexed(&f));
    assert_string_equal(inif_find(&f, "a", "k")->value, "4");
    assert_int_equal(inif_find(&f, "a", "k")->line, 7);
    assert_string_equal(inif_find(&f, "b", "k")->value, "3");
    assert_null(inif_find(&f, "b", "j"));
    assert_null(inif_find(&f, "c", "k"));
    assert_int_equal(inif_section(&f, "a"), 0);
    assert_int_equal(inif_section(&f, "b"), 1);
    assert_int_equal(inif_section(&f, "c"), -1);
    assert_int_equal(f.v[3].sec, 0);     /* [a] again: the same section */
    assert_int_equal(inif_add(&f, "c", "k", "5", 0), 0);
    assert_true(inif_indexed(&f));
    assert_string_equal(inif_find(&f, "c", "k")->value, "5");
    assert_int_equal(inif_section(&f, "c"), 2);
    assert_int_equal(inif_add(&f, "a", "k", "6", 0), 0);
    assert_string_equal(inif_find(&f, "a", "k")->value, "6");
    inif_free(&f);
    /* enough entries to grow the index several times */
    char *big = calloc(1, 200000), *p = big;
    for (int i = 0; i < 3000; i++)
        p += sprintf(p, "[s%d]\nk%d = v%d\n", i % 70, i, i);
    assert_int_equal(inif_load_string(&f, "big.ini", big, &e), 0);
    for (int i = 0; i < 3000; i++) {
        char sec[16], key[16], val[16];
        snprintf(sec, sizeof sec, "s%d", i % 70);
        snprintf(key, sizeof key, "k%d", i);
        snprintf(val, sizeof val, "v%d", i);
        const inif_entry *en = inif_find(&f, sec, key);
        assert_non_null(en);
        assert_string_equal(en->value, val);
        assert_null(inif_find(&f, "s999", key));
    }
    assert_int_equal(inif_section(&f, "s69"), 69);
    inif_free(&f);
    free(big);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_ini_lines),
        T(test_ini_continuation),
        T(test_ini_long_line),
        T(test_ini_errors),
        T(test_ini_index),
        T(test_cfg_unknown),
        T(test_cfg_values),
        T(test_cfg_sections),
        T(test_cfg_int_range),
        T(test_secret_env),
        T(test_secret_file),
    };
    return cmocka_run_group_tests_name("ini", tests, NULL, NULL);
}
