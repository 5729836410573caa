/* import.h — `chuda users import FILE.csv`: a user list (CSV, RFC 4180) into the store.
 *
 * The header row names the columns, in any order: user_id and tier are required;
 * segment, tz, mp_openid, oa_openid, phone, wecom_userid, wecom_external_userid are
 * known; any other column is a user attribute (a template variable), stored as a JSON
 * object of strings. The file is streamed (memory stays flat however long it is) and
 * written in one store transaction: the first bad record aborts the import with
 * "FILE:LINE: column: reason" and nothing is written. Each user is upserted. */
#ifndef CHUDA_IMPORT_H
#define CHUDA_IMPORT_H

#include <stdio.h>

#include "err.h"
#include "store.h"

/* The longest field accepted, in bytes. */
#define IMP_FIELD_MAX 65536

typedef struct imp_rules {
    const char *const *tiers;   /* valid tier names, NULL-terminated; NULL: any non-empty tier */
    const char *zoneinfo;       /* IANA zone directory; NULL: /usr/share/zoneinfo */
} imp_rules;

typedef struct imp_stats {
    long rows;                  /* data records read (the header not counted) */
    long inserted;              /* users that were new */
    long updated;               /* users that already existed and were overwritten */
    long attrs;                 /* attribute columns in the header */
} imp_stats;

/* Import the CSV file at `path`. On error nothing is written and `e` says
 * "path:line: column: reason". `out` may be NULL. */
int imp_users(store *st, const char *path, const imp_rules *rules, imp_stats *out, cherr *e);

/* The same from an open stream (tests, fuzzing, stdin); `name` is used in messages. */
int imp_users_fp(store *st, FILE *fp, const char *name, const imp_rules *rules, imp_stats *out,
                 cherr *e);

#endif
