/* map.c - string-keyed hash map with separate chaining; see map.h. */
#include "map.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static unsigned fnv1a(const char *s)
{
    unsigned h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

void smap_init(struct smap *m, void (*free_val)(void *val))
{
    m->nb = 64;
    m->n = 0;
    m->b = su_xcalloc(m->nb, sizeof *m->b);
    m->free_val = free_val;
}

static struct smap_ent **find(const struct smap *m, const char *key,
                              unsigned h)
{
    struct smap_ent **e = &m->b[h & (m->nb - 1)];
    while (*e && ((*e)->hash != h || strcmp((*e)->key, key) != 0))
        e = &(*e)->next;
    return e;
}

void *smap_get(const struct smap *m, const char *key)
{
    struct smap_ent *e = *find(m, key, fnv1a(key));
    return e ? e->val : NULL;
}

static void grow(struct smap *m)
{
    size_t nb = m->nb * 2;
    struct smap_ent **b = calloc(nb, sizeof *b);
    if (!b)
        return;   /* keep the longer chains */
    for (size_t i = 0; i < m->nb; i++) {
        struct smap_ent *e = m->b[i], *next;
        for (; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
        }
    }
    free(m->b);
    m->b = b;
    m->nb = nb;
}

void smap_put(struct smap *m, const char *key, void *val)
{
    unsigned h = fnv1a(key);
    struct smap_ent **slot = find(m, key, h);
    if (*slot) {
        if (m->free_val && (*slot)->val != val)
            m->free_val((*slot)->val);
        (*slot)->val = val;
        return;
    }
    struct smap_ent *e = su_xmalloc(sizeof *e);
    e->next = NULL;
    e->hash = h;
    e->key = su_strdup(key);
    e->val = val;
    *slot = e;
    if (++m->n > m->nb)
        grow(m);
}

static void ent_free(struct smap *m, struct smap_ent *e)
{
    if (m->free_val)
        m->free_val(e->val);
    free(e->key);
    free(e);
}

bool smap_del(struct smap *m, const char *key)
{
    struct smap_ent **slot = find(m, key, fnv1a(key));
    struct smap_ent *e = *slot;
    if (!e)
        return false;
    *slot = e->next;
    ent_free(m, e);
    m->n--;
    return true;
}

void smap_filter(struct smap *m, bool (*fn)(const char *key, void *val,
                                            void *arg), void *arg)
{
    for (size_t i = 0; i < m->nb; i++) {
        struct smap_ent **p = &m->b[i];
        while (*p) {
            struct smap_ent *e = *p;
            if (fn(e->key, e->val, arg)) {
                *p = e->next;
                ent_free(m, e);
                m->n--;
            } else {
                p = &e->next;
            }
        }
    }
}

static bool all(const char *key, void *val, void *arg)
{
    (void)key, (void)val, (void)arg;
    return true;
}

void smap_clear(struct smap *m)
{
    if (m->b)
        smap_filter(m, all, NULL);
}

size_t smap_count(const struct smap *m)
{
    return m->n;
}

void smap_free(struct smap *m)
{
    smap_clear(m);
    free(m->b);
    m->b = NULL;
    m->nb = 0;
}
