/* archive.h — the send log's archive files (`chuda log archive`, `verify --archive`).
 *
 * gzip of JSON lines. The first line is a header, where the chain stands before the
 * file's first row:
 *     {"chuda_archive":1,"after_seq":S,"after_hash":"<64 hex>"}
 * then one object per row, in seq order, with every hashed field exactly as stored:
 *     seq, at (ISO 8601, for reading), at_ms, message_id, user_id, campaign_id, event,
 *     channel, reason, code, detail, target, hash (64 hex)
 * NULL as null; text that is not valid UTF-8 as {"hex":"..."}. Nothing is masked (the
 * file must re-hash to the chain), so it is created owner-only (0600).
 *
 * A file is written under a temporary name beside it and linked to its name only once
 * complete and on disk (fsync); an existing file of that name is never replaced. */
#ifndef CHUDA_ARCHIVE_H
#define CHUDA_ARCHIVE_H

#include <jansson.h>
#include <stdint.h>
#include <zlib.h>

#include "audit.h"
#include "buf.h"
#include "err.h"
#include "store.h"

/* A row as JSON. exact: the archive's form (at_ms, hash, non-UTF-8 text as hex);
 * otherwise the listing's (`chuda log --format json`). NULL on out of memory. */
json_t *arch_row_json(const store_logrow *r, int exact);

typedef struct arch_writer {
    gzFile gz;
    int fd;                     /* a second descriptor of the file, for fsync */
    char *path, *tmp;
    long rows;
} arch_writer;

/* Refuses a path that exists. */
int arch_create(arch_writer *w, const char *path, int64_t after_seq,
                const unsigned char after_hash[AUDIT_HASH_LEN], cherr *e);
int arch_put(arch_writer *w, const store_logrow *r, cherr *e);
/* Finish the file, fsync it, link it to its name (never over an existing file) and
 * fsync the directory. The writer is closed either way; on failure nothing is left. */
int arch_commit(arch_writer *w, cherr *e);
/* Close and remove the temporary file. */
void arch_abort(arch_writer *w);

typedef struct arch_reader {
    gzFile gz;
    char *path;
    long line;
    int64_t after_seq;
    unsigned char after_hash[AUDIT_HASH_LEN];
    buf text;                   /* the current line */
    json_t *row;                /* the current row's object (owns its strings) */
    buf hexed[7];               /* text fields given as hex, decoded */
    unsigned char hash[AUDIT_HASH_LEN];
} arch_reader;

/* Open and read the header. */
int arch_open(arch_reader *r, const char *path, cherr *e);
/* The next row: 1, 0 at the end, -1 on a bad line ("FILE:LINE: field: reason"). The
 * row's strings are valid until the next call. */
int arch_next(arch_reader *r, store_logrow *row, cherr *e);
void arch_close(arch_reader *r);

#endif
