/* strset.h — a set of strings (open addressing), for "which recipients have a request
 * in flight on this channel". Owns copies of its strings. */
#ifndef CHUDA_STRSET_H
#define CHUDA_STRSET_H

#include <stddef.h>

typedef struct strset {
    char **slot;                /* NULL empty, TOMBSTONE deleted, else a string */
    size_t cap, used, live;
} strset;

int strset_has(const strset *s, const char *key);
int strset_add(strset *s, const char *key);      /* 1 added, 0 present, -1 no memory */
void strset_del(strset *s, const char *key);
void strset_free(strset *s);

#endif
