/* csvr.h — the streaming CSV reader every CSV import shares (users, campaign recipients).
 *
 * libcsv does the RFC 4180 parsing (strict). csvr reads the stream in blocks, skips a
 * UTF-8 byte order mark, tracks the physical line each record starts on (quoted fields
 * may span lines), refuses a field over `field_max` bytes without buffering it all, keeps
 * one record's fields in a reused buffer (each NUL-terminated) and hands each record to a
 * callback. Memory is bounded by the longest record, whatever the file's length.
 *
 * With `header`, the first record names the columns (`on_header`); every later record
 * must have as many fields ("4 fields, the header has 5") and, with `check_utf8`, each
 * field must be UTF-8 without NUL — checked in that order, before `on_record` sees it.
 *
 * Every error reads "NAME:LINE: reason", LINE being the first physical line of the
 * record at fault. A callback reports its own errors the same way with csvr_fail. */
#ifndef CHUDA_CSVR_H
#define CHUDA_CSVR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

#define CSVR_FIELD_MAX 65536          /* the default field size cap, in bytes */
#define CSVR_MAX_COLS  256            /* columns a header may have */

typedef struct csvr csvr;

/* A record callback: 0 to go on, -1 to stop (after csvr_fail, or with csvr_error set). */
typedef int (*csvr_fn)(csvr *r, void *arg);
/* How messages name column `col` (0-based): "tier", "attrs column 'note'". */
typedef void (*csvr_label_fn)(void *arg, size_t col, char *out, size_t len);

typedef struct csvr_opts {
    const char *name;           /* file name in messages */
    int header;                 /* the first record is a header */
    int check_utf8;             /* data fields must be UTF-8 without NUL */
    size_t field_max;           /* 0: CSVR_FIELD_MAX */
    const char *header_hint;    /* an empty file (header expected) says "expected a header
                                   row naming the columns (HINT)" */
    csvr_fn on_header;          /* may be NULL */
    csvr_fn on_record;          /* may be NULL (counting) */
    csvr_fn on_end;             /* after the last record, when all went well; may be NULL */
    csvr_label_fn label;        /* NULL: "field N" */
    void *arg;
} csvr_opts;

/* Read the whole stream. 0 when every record passed; -1 with `e` set otherwise.
 * `records`, if not NULL, gets the number of data records handed to on_record. */
int csvr_read(FILE *fp, const csvr_opts *o, long *records, cherr *e);

/* Inside a callback: the current record. */
size_t csvr_nfields(const csvr *r);        /* fields in the record (may exceed the header) */
size_t csvr_ncols(const csvr *r);          /* the header's column count (0 before it) */
char *csvr_field(csvr *r, size_t i);       /* field i (< ncols, or < nfields for the header),
                                              NUL-terminated, may be edited in place */
size_t csvr_len(const csvr *r, size_t i);
long csvr_line(const csvr *r);             /* the record's first physical line, 1-based */
uint64_t csvr_offset(const csvr *r);       /* bytes read from the stream so far */

/* Fail the read with "NAME:LINE: " + reason (the first failure wins). Returns -1. */
int csvr_fail(csvr *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for an earlier record, by its line (a callback that works in chunks). */
int csvr_fail_at(csvr *r, long line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Inside on_header: header field i as a column name — UTF-8, trimmed of blanks, not
 * empty, usable as {{name}} (no braces, '|' or line breaks), not one of seen[0..i).
 * Returns the name (in place), or NULL after csvr_fail. */
char *csvr_column_name(csvr *r, size_t i, char *const *seen);

/* 0 if s[0..n) is UTF-8 without NUL; else the 1-based byte of the first bad sequence. */
size_t csvr_utf8_bad(const char *s, size_t n);

#endif
