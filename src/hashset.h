/* hashset.h — a set of 64-bit string hashes (open addressing, no deletion): "have I
 * seen this string before?" in 11–21 bytes a key (the table is 3/8 to 3/4 full), without
 * keeping the strings: 16 MiB for a campaign of 1,000,000 recipients.
 * A hash already present means *perhaps* seen (two strings can share a hash, one
 * chance in 2^64 a pair): callers confirm a hit exactly, elsewhere. Used by campaign
 * creation to skip the exact duplicate-recipient check when no user id repeats. */
#ifndef CHUDA_HASHSET_H
#define CHUDA_HASHSET_H

#include <stddef.h>
#include <stdint.h>

typedef struct hashset {
    uint64_t *slot;             /* 0: empty (a hash of 0 is stored as 1) */
    size_t cap, used;
} hashset;

/* FNV-1a of the `n` bytes at `s`. */
uint64_t hashset_hash(const char *s, size_t n);
/* 1 added, 0 already present, -1 out of memory. */
int hashset_add(hashset *h, uint64_t v);
/* Add the n hashes at v: how many were already present (a repeat within v counts), or
 * -1 out of memory (then none was added: room is made first). */
long hashset_add_many(hashset *h, const uint64_t *v, size_t n);
void hashset_free(hashset *h);

#endif
