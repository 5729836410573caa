/* hashset.c — a set of 64-bit string hashes (see hashset.h). */
#include "hashset.h"

#include <stdlib.h>

uint64_t hashset_hash(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037ULL;   /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

/* Where the search for `v` starts. */
static size_t slot_of(uint64_t v, size_t mask)
{
    return (size_t)(v ^ v >> 29) & mask;
}

/* The slot of `v`, or the empty one where it goes (the table is never full). */
static size_t find(const hashset *h, uint64_t v)
{
    size_t mask = h->cap - 1, i = slot_of(v, mask);
    while (h->slot[i] && h->slot[i] != v)
        i = (i + 1) & mask;
    return i;
}

static int grow(hashset *h)
{
    size_t cap = h->cap ? h->cap * 2 : 1024;
    hashset n = {.slot = calloc(cap, sizeof *n.slot), .cap = cap, .used = h->used};
    if (!n.slot)
        return -1;
    for (size_t i = 0; i < h->cap; i++)
        if (h->slot[i])
            n.slot[find(&n, h->slot[i])] = h->slot[i];
    free(h->slot);
    *h = n;
    return 0;
}

/* Room for `n` more keys with the table at most 3/4 full. */
static int reserve(hashset *h, size_t n)
{
    while ((h->used + n) * 4 > h->cap * 3)
        if (grow(h) < 0)
            return -1;
    return 0;
}

/* How v is stored: 0 marks an empty slot, so a hash of 0 is kept as 1. */
static uint64_t stored(uint64_t v)
{
    return v ? v : 1;
}

/* Add v (room made): 1 added, 0 already present. */
static int put(hashset *h, uint64_t v)
{
    v = stored(v);
    size_t i = find(h, v);
    if (h->slot[i])
        return 0;
    h->slot[i] = v;
    h->used++;
    return 1;
}

int hashset_add(hashset *h, uint64_t v)
{
    return reserve(h, 1) < 0 ? -1 : put(h, v);
}

long hashset_add_many(hashset *h, const uint64_t *v, size_t n)
{
    if (reserve(h, n) < 0)
        return -1;
    /* a table of a million keys is far bigger than the cache: ask for every key's slot
     * first, so the misses overlap instead of coming one after another */
    size_t mask = h->cap - 1;
    for (size_t k = 0; k < n; k++)
        __builtin_prefetch(&h->slot[slot_of(stored(v[k]), mask)], 1);
    long present = 0;
    for (size_t k = 0; k < n; k++)
        present += !put(h, v[k]);
    return present;
}

void hashset_free(hashset *h)
{
    free(h->slot);
    h->slot = NULL;
    h->cap = h->used = 0;
}
