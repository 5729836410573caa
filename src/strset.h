/* strset.h — a set of strings (open addressing), for "which recipients have a request
 * in flight on this channel"; each string may carry a number ("paused until when").
 * Owns copies of its strings. */
#ifndef CHUDA_STRSET_H
#define CHUDA_STRSET_H

#include <stddef.h>

#include <stdint.h>

typedef struct strset {
    char **slot;                /* NULL empty, TOMBSTONE deleted, else a string */
    int64_t *val;               /* each slot's number */
    size_t cap, used, live;
} strset;

int strset_has(const strset *s, const char *key);
int strset_add(strset *s, const char *key);      /* 1 added, 0 present, -1 no memory */
void strset_del(strset *s, const char *key);
void strset_free(strset *s);

/* Add `key` or update its number: 0, or -1 out of memory. */
int strset_put(strset *s, const char *key, int64_t v);
/* 1 with *v set when `key` is present, else 0. */
int strset_get(const strset *s, const char *key, int64_t *v);
/* Remove every key whose number is below `limit`. */
void strset_del_below(strset *s, int64_t limit);

#endif
