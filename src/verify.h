/* verify.h — proving the send log (`chuda log verify`, and `log archive` before it moves
 * anything).
 *
 * The hash chain is walked from its start through the archive files given (in the
 * order of their headers) and on through the database from its archive anchor; every
 * row must follow the one before it (seq + 1) and re-hash to its stored hash. A pinned
 * head (seq and hash written down outside the database) must be on that chain, and the
 * chain must then start at the first row: an anchor alone is only the database's word.
 * Then what the database allows to cross-check: the head recorded at the last commit
 * against the log's last row, the aggregate counts against the rows, every message
 * against its `enqueued` row. What this proves and what it cannot: README, "For
 * auditors". */
#ifndef CHUDA_VERIFY_H
#define CHUDA_VERIFY_H

#include <stdint.h>

#include "audit.h"
#include "err.h"
#include "store.h"

#define VERIFY_MAX_PROBLEMS 8

typedef struct verify_opts {
    const char *const *archives;    /* archive files, in any order */
    int narchives;
    int pinned;                     /* prove that this row is on the chain */
    int64_t pin_seq;
    unsigned char pin_hash[AUDIT_HASH_LEN];
} verify_opts;

typedef struct verify_result {
    int nproblems;                  /* 0: intact */
    char problem[VERIFY_MAX_PROBLEMS][400];
    int64_t from_seq;               /* the chain was proven from after this row (0: all) */
    int64_t to_seq;                 /* ... to this row */
    long archived_rows;             /* rows read from archive files */
    long db_rows;                   /* rows read from the database */
    store_anchor anchor;
} verify_result;

/* -1 only when the database cannot be read (e set); problems are in r. */
int verify_log(store *st, const verify_opts *o, verify_result *r, cherr *e);

#endif
