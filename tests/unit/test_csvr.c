/* test_csvr.c — the shared streaming CSV reader: records and their first physical line
 * (quoted line breaks, CRLF, blank lines, a BOM, files longer than a read block), the
 * header's column count, UTF-8 checks with the caller's column labels, the field cap,
 * bad quoting, an unclosed quote, an empty file, and a callback's own FILE:LINE error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "csvr.h"

/* What the callbacks saw: "LINE:f1|f2|...\n" per record, the header as "H:..." */
typedef struct seen {
    buf out;
    long fail_on_line;          /* on_record fails on this line (0: never) */
    uint64_t last_offset;
} seen;

static void dump(csvr *r, seen *s, const char *tag)
{
    size_t n = csvr_ncols(r) ? csvr_ncols(r) : csvr_nfields(r);
    buf_printf(&s->out, "%s%ld:", tag, csvr_line(r));
    for (size_t i = 0; i < n; i++)
        buf_printf(&s->out, "%s%s", i ? "|" : "", csvr_field(r, i));
    buf_puts(&s->out, "\n");
}

static int on_header(csvr *r, void *arg)
{
    dump(r, arg, "H");
    return 0;
}

static int on_record(csvr *r, void *arg)
{
    seen *s = arg;
    s->last_offset = csvr_offset(r);
    if (s->fail_on_line == csvr_line(r))
        return csvr_fail(r, "%s: no such user", csvr_field(r, 0));
    dump(r, s, "");
    return 0;
}

static void label(void *arg, size_t col, char *out, size_t len)
{
    (void)arg;
    snprintf(out, len, "column '%c'", (int)('a' + col));
}

/* Read `len` bytes (strlen when 0) as data.csv with a header. */
static int read_mem(const char *csv, size_t len, int header, seen *s, long *n, cherr *e)
{
    FILE *fp = fmemopen((void *)csv, len ? len : strlen(csv), "r");
    assert_non_null(fp);
    csvr_opts o = {.name = "data.csv", .header = header, .check_utf8 = 1,
                   .header_hint = "a,b,c", .on_header = on_header, .on_record = on_record,
                   .label = label, .arg = s};
    int rc = csvr_read(fp, &o, n, e);
    fclose(fp);
    return rc;
}

static void expect(const char *csv, size_t len, const char *want_seen)
{
    seen s = {0};
    cherr e = {{0}};
    long n = -1;
    if (read_mem(csv, len, 1, &s, &n, &e) < 0)
        fail_msg("unexpected error: %s", e.msg);
    assert_string_equal(s.out.s ? s.out.s : "", want_seen);
    buf_free(&s.out);
}

static void expect_err(const char *csv, size_t len, const char *want)
{
    seen s = {0};
    cherr e = {{0}};
    long n;
    assert_int_equal(read_mem(csv, len, 1, &s, &n, &e), -1);
    assert_string_equal(e.msg, want);
    buf_free(&s.out);
}

static void test_records_and_lines(void **state)
{
    (void)state;
    expect("a,b,c\n1,2,3\n4,5,6\n", 0, "H1:a|b|c\n2:1|2|3\n3:4|5|6\n");
    /* a quoted line break: the record is named by its first line; blank lines count */
    expect("a,b,c\n\n1,\"two\nlines\",3\n\n4,5,6", 0,
           "H1:a|b|c\n3:1|two\nlines|3\n6:4|5|6\n");
    /* CRLF, a BOM, quotes doubled, spaces around unquoted fields trimmed */
    expect("\xEF\xBB\xBF" "a,b,c\r\n\"x,y\",\"say \"\"hi\"\"\",  z  \r\n", 0,
           "H1:a|b|c\n2:x,y|say \"hi\"|z\n");
    /* a header alone */
    expect("a,b,c\n", 0, "H1:a|b|c\n");
    /* CR alone ends a line too (old Mac files), in quotes and out; CRLF is one */
    expect("a,b,c\r1,2,3\r\r4,\"x\ry\",6\r7,8,9\r\n10,11,12", 0,
           "H1:a|b|c\n2:1|2|3\n4:4|x\ry|6\n6:7|8|9\n7:10|11|12\n");
    expect_err("a,b,c\r1,2,3\r1,2\r", 0, "data.csv:3: 2 fields, the header has 3");
}

static void test_count_without_header(void **state)
{
    (void)state;
    FILE *fp = fmemopen((void *)"x\ny\n\"m\nl\"\nz", 11, "r");
    csvr_opts o = {.name = "n.csv"};
    long n = 0;
    cherr e;
    assert_int_equal(csvr_read(fp, &o, &n, &e), 0);
    assert_int_equal(n, 4);
    fclose(fp);
}

/* Longer than one 64 KiB read block, with multi-line records: lines stay right. */
static void test_long_file(void **state)
{
    (void)state;
    buf csv = {0};
    buf_puts(&csv, "a,b,c\n");
    long line = 2;
    for (int i = 0; i < 20000; i++) {
        if (i % 9 == 0) {
            buf_printf(&csv, "%d,\"x\ny\",z\n", i);
            line += 2;
        } else {
            buf_printf(&csv, "%d,b%d,c\n", i, i);
            line++;
        }
    }
    buf_printf(&csv, "u_last,b,c\n");
    seen s = {.fail_on_line = line};
    cherr e;
    long n;
    assert_int_equal(read_mem(csv.s, csv.len, 1, &s, &n, &e), -1);
    char want[100];
    snprintf(want, sizeof want, "data.csv:%ld: u_last: no such user", line);
    assert_string_equal(e.msg, want);
    assert_true(s.last_offset > 64 * 1024);
    buf_free(&s.out);
    /* a CRLF split by the block's end is one line end */
    buf crlf = {0};
    buf_puts(&crlf, "a,b,c\r\n");
    line = 2;
    while (crlf.len < 64 * 1024 - 16) {
        buf_printf(&crlf, "%ld,b,c\r\n", line);
        line++;
    }
    while (crlf.len < 64 * 1024 - 5)
        buf_puts(&crlf, "x");
    buf_printf(&crlf, ",b,c\r\n");                  /* its \r ends the first block */
    assert_int_equal(crlf.s[64 * 1024 - 1], '\r');
    buf_printf(&crlf, "u_last,b,c\r\n");
    seen s2 = {.fail_on_line = line + 1};
    assert_int_equal(read_mem(crlf.s, crlf.len, 1, &s2, &n, &e), -1);
    snprintf(want, sizeof want, "data.csv:%ld: u_last: no such user", line + 1);
    assert_string_equal(e.msg, want);
    buf_free(&s2.out);
    buf_free(&crlf);
    /* and without the failure every record is counted */
    s = (seen){0};
    assert_int_equal(read_mem(csv.s, csv.len, 1, &s, &n, &e), 0);
    assert_int_equal(n, 20001);
    buf_free(&s.out);
    buf_free(&csv);
}

static void test_err_count_and_utf8(void **state)
{
    (void)state;
    expect_err("a,b,c\n1,2,3\n1,2\n", 0, "data.csv:3: 2 fields, the header has 3");
    expect_err("a,b,c\n1,2,3,4\n", 0, "data.csv:2: 4 fields, the header has 3");
    expect_err("a,b,c\n1\n", 0, "data.csv:2: 1 field, the header has 3");
    expect_err("a,b,c\n1,\xff,3\n", 0, "data.csv:2: column 'b': invalid UTF-8 at byte 1");
    expect_err("a,b,c\n1,2,ok\xc0\xaf\n", 0, "data.csv:2: column 'c': invalid UTF-8 at byte 3");
    static const char nul[] = "a,b,c\n1,x\0y,3\n";
    expect_err(nul, sizeof nul - 1, "data.csv:2: column 'b': NUL byte at byte 2");
    /* the count is checked before the text */
    expect_err("a,b,c\n1,\xff\n", 0, "data.csv:2: 2 fields, the header has 3");
}

static void test_err_field_cap(void **state)
{
    (void)state;
    size_t big = 70000;
    char *csv = malloc(big + 32);
    memcpy(csv, "a,b,c\n1,", 8);
    memset(csv + 8, 'x', big);
    memcpy(csv + 8 + big, ",3\n", 4);
    expect_err(csv, 0, "data.csv:2: column 'b': field of 70000 bytes is over the 65536-byte "
               "limit");
    free(csv);
    /* a cap of the caller's choosing */
    FILE *fp = fmemopen((void *)"a,b\nabcdef,x\n", 13, "r");
    csvr_opts o = {.name = "s.csv", .header = 1, .field_max = 5};
    cherr e;
    assert_int_equal(csvr_read(fp, &o, NULL, &e), -1);
    assert_string_equal(e.msg, "s.csv:2: field 1: field of 6 bytes is over the 5-byte limit");
    fclose(fp);
}

static void test_err_quotes_and_empty(void **state)
{
    (void)state;
    expect_err("a,b,c\n1,\"two\nlines\",3\n4,\"5\"x,6\n", 0,
               "data.csv:4: bad quoting (error parsing data while strict checking enabled): a "
               "field with a quote, comma or line break must be quoted in full, and a quote "
               "inside written twice (\"a \"\"b\"\"\")");
    expect_err("a,b,c\n1,2,3\n4,\"never closed\n5,6\n", 0,
               "data.csv:3: a quoted field is never closed (the quote opened in this record "
               "runs to the end of the file)");
    expect_err("", 0, "data.csv: empty file: expected a header row naming the columns (a,b,c)");
    expect_err("\n \r\n", 0,
               "data.csv: empty file: expected a header row naming the columns (a,b,c)");
    buf hdr = {0};
    for (int i = 0; i < CSVR_MAX_COLS + 1; i++)
        buf_printf(&hdr, "%sc%d", i ? "," : "", i);
    buf_puts(&hdr, "\n");
    expect_err(hdr.s, 0, "data.csv:1: the header has more than 256 columns");
    buf_free(&hdr);
}

static void test_utf8_bad(void **state)
{
    (void)state;
    assert_int_equal(csvr_utf8_bad("plain", 5), 0);
    assert_int_equal(csvr_utf8_bad("上海", strlen("上海")), 0);
    assert_int_equal(csvr_utf8_bad("\xF0\x9F\x91\x8D", 4), 0);      /* 👍 */
    assert_int_equal(csvr_utf8_bad("ab\xff", 3), 3);
    assert_int_equal(csvr_utf8_bad("\xed\xa0\x80", 3), 1);           /* a surrogate */
    assert_int_equal(csvr_utf8_bad("\xe4\xb8", 2), 1);               /* cut short */
    assert_int_equal(csvr_utf8_bad("a\0b", 3), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_and_lines),
        cmocka_unit_test(test_count_without_header),
        cmocka_unit_test(test_long_file),
        cmocka_unit_test(test_err_count_and_utf8),
        cmocka_unit_test(test_err_field_cap),
        cmocka_unit_test(test_err_quotes_and_empty),
        cmocka_unit_test(test_utf8_bad),
    };
    return cmocka_run_group_tests_name("csvr", tests, NULL, NULL);
}
