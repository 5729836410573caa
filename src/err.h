/* err.h — how chuda reports a failure: a return code plus a human-readable reason.
 *
 * Functions that can fail return 0 on success and -1 on failure, and fill a
 * caller-owned `cherr` with one line naming what failed and where
 * ("users.csv:12: tier: unknown tier 'vip'"). Nothing here is global. */
#ifndef CHUDA_ERR_H
#define CHUDA_ERR_H

#include <stddef.h>

typedef struct cherr {
    char msg[512];
} cherr;

/* Set the reason (printf-style). Always returns -1 so callers can `return err_set(...)`. */
int err_set(cherr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefix the existing reason with more context ("users.csv:12: " + reason). Returns -1. */
int err_prefix(cherr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
