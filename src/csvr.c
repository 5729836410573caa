/* csvr.c — the streaming CSV reader (see csvr.h).
 *
 * libcsv reports no positions, so a scanner walks the bytes beside it, tracking quotes,
 * and hands libcsv one physical line at a time: when libcsv ends a record, `rec_line` is
 * the line the record started on. libcsv's callbacks cannot stop it, so the first
 * failure is remembered and everything after it ignored until the chunk is done. */
#include "csvr.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include <csv.h>

#include "buf.h"

#define CSV_BUF_CAP   (16u << 20)      /* libcsv's field buffer stops growing here */
#define CSV_BLK       (64u << 10)      /* ... and grows by this much at a time */
#define READ_BLK      (64u << 10)

struct csvr {
    const csvr_opts *o;
    cherr *e;
    int failed;
    size_t field_max;

    /* where we are (the scanner beside libcsv) */
    long line;                         /* physical line being scanned, 1-based */
    long rec_line;                     /* line the current record started on */
    int in_quotes, row_open;
    int cr_ended;                      /* the last block ended with a CR */
    uint64_t offset;

    int have_header;
    size_t ncols;
    long records;

    /* the current record */
    buf row;                           /* field bytes, each NUL-terminated */
    size_t off[CSVR_MAX_COLS], len[CSVR_MAX_COLS];
    size_t nfields;                    /* fields seen, even past CSVR_MAX_COLS */
};

/* ---- accessors -------------------------------------------------------------------- */

size_t csvr_nfields(const csvr *r) { return r->nfields; }
size_t csvr_ncols(const csvr *r) { return r->ncols; }
char *csvr_field(csvr *r, size_t i) { return r->row.s + r->off[i]; }
size_t csvr_len(const csvr *r, size_t i) { return r->len[i]; }
long csvr_line(const csvr *r) { return r->rec_line; }
uint64_t csvr_offset(const csvr *r) { return r->offset; }

static int fail_v(csvr *r, long line, const char *fmt, va_list ap)
{
    if (r->failed)
        return -1;
    r->failed = 1;
    char msg[sizeof r->e->msg];
    vsnprintf(msg, sizeof msg, fmt, ap);
    return err_set(r->e, "%s:%ld: %s", r->o->name, line, msg);
}

int csvr_fail(csvr *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = fail_v(r, r->rec_line, fmt, ap);
    va_end(ap);
    return rc;
}

int csvr_fail_at(csvr *r, long line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = fail_v(r, line, fmt, ap);
    va_end(ap);
    return rc;
}

size_t csvr_utf8_bad(const char *s, size_t n)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        if (p[i] && p[i] < 0x80) {
            i++;
            continue;
        }
        if (!p[i])
            return i + 1;
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0)
            return i + 1;
        i += (size_t)k;
    }
    return 0;
}

char *csvr_column_name(csvr *r, size_t i, char *const *seen)
{
    char *s = csvr_field(r, i);
    size_t n = csvr_len(r, i), bad;
    if ((bad = csvr_utf8_bad(s, n))) {
        csvr_fail(r, "column %zu: %s in the header at byte %zu", i + 1,
                  s[bad - 1] ? "invalid UTF-8" : "NUL byte", bad);
        return NULL;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    while (*s == ' ' || *s == '\t')
        s++, n--;
    if (!n) {
        csvr_fail(r, "column %zu has no name in the header", i + 1);
        return NULL;
    }
    if (strpbrk(s, "{}|\r\n")) {
        csvr_fail(r, "column %zu: '%.64s' cannot be a column name (no braces, '|' or line "
                  "breaks: columns are used as {{name}})", i + 1, s);
        return NULL;
    }
    for (size_t j = 0; j < i; j++) {
        if (!strcmp(seen[j], s)) {
            csvr_fail(r, "column '%.64s' appears twice in the header (columns %zu and %zu)", s,
                      j + 1, i + 1);
            return NULL;
        }
    }
    return s;
}

static const char *label(const csvr *r, size_t i, char *b, size_t len)
{
    if (r->o->label && r->have_header && i < r->ncols)
        r->o->label(r->o->arg, i, b, len);
    else
        snprintf(b, len, "field %zu", i + 1);
    return b;
}

/* ---- one record ------------------------------------------------------------------- */

static void header(csvr *r)
{
    if (r->o->on_header && r->o->on_header(r, r->o->arg) < 0) {
        csvr_fail(r, "stopped");                   /* no-op when the callback failed */
        return;
    }
    r->ncols = r->nfields;
    r->have_header = 1;
}

static void record(csvr *r)
{
    char lab[96];
    r->records++;
    if (r->o->header && r->nfields != r->ncols) {
        csvr_fail(r, "%zu field%s, the header has %zu", r->nfields, r->nfields == 1 ? "" : "s",
                  r->ncols);
        return;
    }
    size_t n = r->nfields < CSVR_MAX_COLS ? r->nfields : CSVR_MAX_COLS;
    for (size_t i = 0; r->o->check_utf8 && i < n; i++) {
        size_t bad = csvr_utf8_bad(csvr_field(r, i), r->len[i]);
        if (bad) {
            csvr_fail(r, "%s: %s at byte %zu", label(r, i, lab, sizeof lab),
                      csvr_field(r, i)[bad - 1] ? "invalid UTF-8" : "NUL byte", bad);
            return;
        }
    }
    if (r->o->on_record && r->o->on_record(r, r->o->arg) < 0)
        csvr_fail(r, "stopped");
}

/* ---- libcsv callbacks ------------------------------------------------------------- */

static void on_field(void *data, size_t len, void *arg)
{
    csvr *r = arg;
    char lab[96];
    if (r->failed)
        return;
    size_t i = r->nfields++;
    if (len > r->field_max) {
        csvr_fail(r, "%s: field of %zu bytes is over the %zu-byte limit",
                  label(r, i, lab, sizeof lab), len, r->field_max);
        return;
    }
    if (i >= CSVR_MAX_COLS) {
        if (r->o->header && !r->have_header)
            csvr_fail(r, "the header has more than %d columns", CSVR_MAX_COLS);
        return;                /* a data record this long fails on its count */
    }
    if (r->have_header && i >= r->ncols)
        return;
    r->off[i] = r->row.len;
    r->len[i] = len;
    if (buf_add(&r->row, len ? data : "", len) < 0 || buf_add(&r->row, "", 1) < 0)
        csvr_fail(r, "out of memory");
}

static void on_record(int c, void *arg)
{
    csvr *r = arg;
    (void)c;
    if (!r->failed) {
        if (r->o->header && !r->have_header)
            header(r);
        else
            record(r);
    }
    r->nfields = 0;
    buf_reset(&r->row);
}

/* Never let libcsv buffer a field beyond CSV_BUF_CAP: past it the field is refused. */
static void *capped_realloc(void *p, size_t n)
{
    return n > CSV_BUF_CAP ? NULL : realloc(p, n);
}

/* ---- the stream ------------------------------------------------------------------- */

static int parse_chunk(csvr *r, struct csv_parser *p, const char *s, size_t n)
{
    if (!n)
        return 0;
    size_t done = csv_parse(p, s, n, on_field, on_record, r);
    if (r->failed)
        return -1;
    if (done < n) {
        char lab[96];
        int err = csv_error(p);
        if (err == CSV_ENOMEM && csv_get_buffer_size(p) + CSV_BLK > CSV_BUF_CAP)
            csvr_fail(r, "%s: field of more than %u bytes is over the %zu-byte limit",
                      label(r, r->nfields, lab, sizeof lab), CSV_BUF_CAP, r->field_max);
        else if (err == CSV_EPARSE)
            csvr_fail(r, "bad quoting (%s): a field with a quote, comma or line break must be "
                      "quoted in full, and a quote inside written twice (\"a \"\"b\"\"\")",
                      csv_strerror(err));
        else
            csvr_fail(r, "%s", csv_strerror(err));
        return -1;
    }
    return 0;
}

/* Scan a block beside libcsv, feeding it up to each line end so that `rec_line` is
 * right when libcsv reports a record. A line ends at LF, CRLF or a CR alone (as libcsv
 * ends a record): a CR counts, an LF counts unless a CR is just before it. */
static int scan(csvr *r, struct csv_parser *p, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (r->in_quotes) {
            if (c == '"')
                r->in_quotes = 0;
            else if (c == '\r' || (c == '\n' && (i ? s[i - 1] != '\r' : !r->cr_ended)))
                r->line++;
            continue;
        }
        switch (c) {
        case '\n':
            if (parse_chunk(r, p, s + start, i + 1 - start) < 0)
                return -1;
            start = i + 1;
            r->row_open = 0;
            r->line += i ? s[i - 1] != '\r' : !r->cr_ended;
            break;
        case '\r':
            r->row_open = 0;      /* libcsv ends a record at a CR as well */
            r->line++;
            if (i + 1 < n && s[i + 1] == '\n')
                break;            /* the LF feeds libcsv */
            if (parse_chunk(r, p, s + start, i + 1 - start) < 0)
                return -1;
            start = i + 1;
            break;
        case ' ':
        case '\t':
            break;
        case '"':
            r->in_quotes = 1;
            /* fall through */
        default:
            if (!r->row_open) {
                r->row_open = 1;
                r->rec_line = r->line;
            }
        }
    }
    if (n)
        r->cr_ended = s[n - 1] == '\r';
    return parse_chunk(r, p, s + start, n - start);
}

static int run(csvr *r, FILE *fp)
{
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_APPEND_NULL | CSV_STRICT_FINI) != 0)
        return err_set(r->e, "out of memory");
    csv_set_realloc_func(&p, capped_realloc);
    csv_set_blk_size(&p, CSV_BLK);
    char *blk = malloc(READ_BLK);
    if (!blk) {
        csv_free(&p);
        return err_set(r->e, "out of memory");
    }
    int first = 1, rc = 0;
    size_t n;
    while (rc == 0 && (n = fread(blk, 1, READ_BLK, fp)) > 0) {
        size_t skip = 0;
        r->offset += n;
        if (first && n >= 3 && !memcmp(blk, "\xEF\xBB\xBF", 3))
            skip = 3;              /* a UTF-8 byte order mark, as spreadsheets write */
        first = 0;
        rc = scan(r, &p, blk + skip, n - skip);
    }
    if (rc == 0 && ferror(fp)) {
        rc = err_set(r->e, "%s: read error: %s", r->o->name, strerror(errno));
    } else if (rc == 0 && r->in_quotes) {
        rc = csvr_fail(r, "a quoted field is never closed (the quote opened in this record "
                       "runs to the end of the file)");
    } else if (rc == 0) {
        if (csv_fini(&p, on_field, on_record, r) != 0 && !r->failed)
            csvr_fail(r, "%s", csv_strerror(csv_error(&p)));
        if (r->failed)
            rc = -1;
        else if (r->o->header && !r->have_header)
            rc = err_set(r->e, "%s: empty file: expected a header row naming the columns (%s)",
                         r->o->name, r->o->header_hint ? r->o->header_hint : "...");
        else if (r->o->on_end && r->o->on_end(r, r->o->arg) < 0)
            rc = r->failed ? -1 : csvr_fail(r, "stopped");
    }
    free(blk);
    csv_free(&p);
    return rc;
}

int csvr_read(FILE *fp, const csvr_opts *o, long *records, cherr *e)
{
    csvr *r = calloc(1, sizeof *r);
    if (!r)
        return err_set(e, "out of memory");
    r->o = o;
    r->e = e;
    r->field_max = o->field_max ? o->field_max : CSVR_FIELD_MAX;
    r->line = r->rec_line = 1;
    int rc = run(r, fp);
    if (records)
        *records = r->records;
    buf_free(&r->row);
    free(r);
    return rc;
}
