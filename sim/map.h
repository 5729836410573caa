/* map.h - a string-keyed hash map (separate chaining, FNV-1a) used for all
 * the simulator's per-key state: tokens, credits, rate windows, nonces.
 * Not thread-safe; each owner guards its maps with its own mutex.
 * Prefix smap_. */
#ifndef SIM_MAP_H
#define SIM_MAP_H

#include <stdbool.h>
#include <stddef.h>

struct smap_ent {
    struct smap_ent *next;
    unsigned hash;
    char *key;
    void *val;
};

struct smap {
    struct smap_ent **b;
    size_t nb, n;
    void (*free_val)(void *val);   /* may be NULL */
};

void smap_init(struct smap *m, void (*free_val)(void *val));
void *smap_get(const struct smap *m, const char *key);
/* Insert or replace (the old value is freed with free_val). */
void smap_put(struct smap *m, const char *key, void *val);
bool smap_del(struct smap *m, const char *key);
/* Call fn for every entry; fn returns true to delete the entry. */
void smap_filter(struct smap *m, bool (*fn)(const char *key, void *val,
                                            void *arg), void *arg);
void smap_clear(struct smap *m);   /* remove all entries */
void smap_free(struct smap *m);    /* clear and release the table */
size_t smap_count(const struct smap *m);

#endif
