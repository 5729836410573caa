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

/* The slot of `v`, or the empty one where it goes (the table is never full). */
static size_t find(const hashset *h, uint64_t v)
{
    size_t mask = h->cap - 1, i = (size_t)(v ^ v >> 29) & mask;
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

int hashset_add(hashset *h, uint64_t v)
{
    if (!v)
        v = 1;
    if ((h->used + 1) * 4 > h->cap * 3 && grow(h) < 0)     /* at most 3/4 full */
        return -1;
    size_t i = find(h, v);
    if (h->slot[i])
        return 0;
    h->slot[i] = v;
    h->used++;
    return 1;
}

void hashset_free(hashset *h)
{
    free(h->slot);
    h->slot = NULL;
    h->cap = h->used = 0;
}
