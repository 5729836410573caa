/* strset.c — open-addressing string set with tombstones (see strset.h). */
#include "strset.h"

#include "hashset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char tomb;
#define TOMBSTONE (&tomb)

static uint64_t hash(const char *k)
{
    return hashset_hash(k, strlen(k));
}

/* Slot holding key, or the slot where it would go (first tombstone or empty). */
static size_t find(const strset *s, const char *k, int *found)
{
    size_t mask = s->cap - 1, i = (size_t)hash(k) & mask, first_tomb = (size_t)-1;
    for (;;) {
        char *v = s->slot[i];
        if (!v) {
            *found = 0;
            return first_tomb != (size_t)-1 ? first_tomb : i;
        }
        if (v == TOMBSTONE) {
            if (first_tomb == (size_t)-1)
                first_tomb = i;
        } else if (!strcmp(v, k)) {
            *found = 1;
            return i;
        }
        i = (i + 1) & mask;
    }
}

static int grow(strset *s)
{
    size_t cap = s->cap ? s->cap * 2 : 64;
    if (s->cap && s->live * 4 < s->cap)
        cap = s->cap;   /* mostly tombstones: rehash at the same size */
    char **old = s->slot;
    int64_t *oldval = s->val;
    size_t oldcap = s->cap;
    s->slot = calloc(cap, sizeof *s->slot);
    s->val = calloc(cap, sizeof *s->val);
    if (!s->slot || !s->val) {
        free(s->slot);
        free(s->val);
        s->slot = old;
        s->val = oldval;
        return -1;
    }
    s->cap = cap;
    s->used = s->live = 0;
    for (size_t i = 0; i < oldcap; i++) {
        if (old[i] && old[i] != TOMBSTONE) {
            int found;
            size_t j = find(s, old[i], &found);
            s->slot[j] = old[i];
            s->val[j] = oldval[i];
            s->used++;
            s->live++;
        }
    }
    free(old);
    free(oldval);
    return 0;
}

static void drop(strset *s, size_t i)
{
    free(s->slot[i]);
    s->slot[i] = TOMBSTONE;
    s->live--;
}

int strset_has(const strset *s, const char *key)
{
    int found = 0;
    if (s->cap)
        find(s, key, &found);
    return found;
}

/* The slot of `key`, inserted (number 0) when absent; *added says which. -1: no memory. */
static long slot_for(strset *s, const char *key, int *added)
{
    *added = 0;
    if ((s->used + 1) * 2 > s->cap && grow(s) < 0)
        return -1;
    int found;
    size_t i = find(s, key, &found);
    if (found)
        return (long)i;
    char *dup = strdup(key);
    if (!dup)
        return -1;
    if (!s->slot[i])
        s->used++;
    s->slot[i] = dup;
    s->val[i] = 0;
    s->live++;
    *added = 1;
    return (long)i;
}

int strset_add(strset *s, const char *key)
{
    int added;
    return slot_for(s, key, &added) < 0 ? -1 : added;
}

int strset_put(strset *s, const char *key, int64_t v)
{
    int added;
    long i = slot_for(s, key, &added);
    if (i < 0)
        return -1;
    s->val[i] = v;
    return 0;
}

int strset_get(const strset *s, const char *key, int64_t *v)
{
    int found = 0;
    size_t i = s->cap ? find(s, key, &found) : 0;
    if (found)
        *v = s->val[i];
    return found;
}

void strset_del_below(strset *s, int64_t limit)
{
    for (size_t i = 0; i < s->cap; i++)
        if (s->slot[i] && s->slot[i] != TOMBSTONE && s->val[i] < limit)
            drop(s, i);
}

void strset_del(strset *s, const char *key)
{
    if (!s->cap)
        return;
    int found;
    size_t i = find(s, key, &found);
    if (found)
        drop(s, i);
}

void strset_free(strset *s)
{
    for (size_t i = 0; i < s->cap; i++)
        if (s->slot[i] && s->slot[i] != TOMBSTONE)
            free(s->slot[i]);
    free(s->slot);
    free(s->val);
    memset(s, 0, sizeof *s);
}
