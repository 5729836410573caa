/* pcache.c — SQLite's own page cache behind a thin layer that skips the commit's
 * needless scan of the whole cache (see pcache.h).
 *
 * At the end of every write transaction SQLite's pager drops the cached pages beyond
 * the database's end: xTruncate(dbSize + 1). The default cache (pcache1) knows it has
 * nothing to drop only from the largest key it has ever held, iMaxKey — and a b-tree
 * balance that puts sibling pages into ascending order swaps two of them through a
 * temporary page number, (PENDING_BYTE / page size) + 1: 262,145 at 4 KiB pages. From
 * then on iMaxKey is far above the database's end, so every commit after a balance that
 * swapped pages walks every cached page (8,000 and more in `chuda run`): 13 % of the
 * scheduler's thread in bench/README's dispatch profile.
 *
 * The layer keeps its own bound: no page of the cache has a key above `top`, except
 * the keys a rekey moved a page to above it, which it lists (`moved`, a handful at
 * most: the swap's temporary key is left again within the same balance). A truncate
 * that can find nothing — its limit above `top` and every listed key — is not passed
 * on; any other is, and the bound follows it. The bound only ever overestimates what
 * the cache holds (pcache1 also drops pages on its own, which leaves `top` high:
 * harmless), so the truncates skipped are ones that would have dropped nothing. */
#include "pcache.h"

#include <sqlite3.h>
#include <stdlib.h>

#define PC_MOVED 8

typedef struct {
    sqlite3_pcache *inner;
    unsigned top;                   /* no page above this key, except in moved[] */
    unsigned moved[PC_MOVED];
    int nmoved;
} pc_cache;

static sqlite3_pcache_methods2 pc_inner;    /* the default cache's methods */

static int pc_init(void *arg)
{
    return pc_inner.xInit(arg);
}

static void pc_shutdown(void *arg)
{
    pc_inner.xShutdown(arg);
}

static sqlite3_pcache *pc_create(int szPage, int szExtra, int bPurgeable)
{
    pc_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (!(c->inner = pc_inner.xCreate(szPage, szExtra, bPurgeable))) {
        free(c);
        return NULL;
    }
    return (sqlite3_pcache *)c;
}

static void pc_cachesize(sqlite3_pcache *p, int n)
{
    pc_inner.xCachesize(((pc_cache *)p)->inner, n);
}

static int pc_pagecount(sqlite3_pcache *p)
{
    return pc_inner.xPagecount(((pc_cache *)p)->inner);
}

static int pc_is_moved(const pc_cache *c, unsigned key)
{
    for (int i = 0; i < c->nmoved; i++)
        if (c->moved[i] == key)
            return 1;
    return 0;
}

static sqlite3_pcache_page *pc_fetch(sqlite3_pcache *p, unsigned key, int create)
{
    pc_cache *c = (pc_cache *)p;
    sqlite3_pcache_page *pg = pc_inner.xFetch(c->inner, key, create);
    /* a page fetched without create already existed, so the bound holds it */
    if (pg && create && key > c->top && !pc_is_moved(c, key))
        c->top = key;
    return pg;
}

static void pc_unpin(sqlite3_pcache *p, sqlite3_pcache_page *pg, int discard)
{
    pc_inner.xUnpin(((pc_cache *)p)->inner, pg, discard);
}

static void pc_rekey(sqlite3_pcache *p, sqlite3_pcache_page *pg, unsigned from, unsigned to)
{
    pc_cache *c = (pc_cache *)p;
    pc_inner.xRekey(c->inner, pg, from, to);
    for (int i = 0; i < c->nmoved; i++)
        if (c->moved[i] == from) {          /* the page left a listed key */
            c->moved[i] = c->moved[--c->nmoved];
            break;
        }
    if (to <= c->top || pc_is_moved(c, to))
        return;
    if (c->nmoved < PC_MOVED)
        c->moved[c->nmoved++] = to;
    else
        c->top = to;                        /* list full: the plain bound, as pcache1's */
}

static void pc_truncate(sqlite3_pcache *p, unsigned limit)
{
    pc_cache *c = (pc_cache *)p;
    int any = limit <= c->top;
    for (int i = 0; i < c->nmoved && !any; i++)
        any = c->moved[i] >= limit;
    if (!any)
        return;                             /* nothing at or above limit to drop */
    pc_inner.xTruncate(c->inner, limit);
    if (c->top >= limit)
        c->top = limit ? limit - 1 : 0;     /* keys start at 1: 0 is an empty cache */
    for (int i = 0; i < c->nmoved;)
        if (c->moved[i] >= limit)
            c->moved[i] = c->moved[--c->nmoved];
        else
            i++;
}

static void pc_destroy(sqlite3_pcache *p)
{
    pc_cache *c = (pc_cache *)p;
    pc_inner.xDestroy(c->inner);
    free(c);
}

static void pc_shrink(sqlite3_pcache *p)
{
    pc_inner.xShrink(((pc_cache *)p)->inner);
}

int pcache_install(void)
{
    sqlite3_pcache_methods2 cur;
    if (sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &cur) != SQLITE_OK || !cur.xFetch)
        return -1;
    if (cur.xCreate == pc_create)
        return 0;                           /* installed already: never wrap the layer */
    pc_inner = cur;
    sqlite3_pcache_methods2 m = {
        .iVersion = 1,
        .pArg = pc_inner.pArg,
        .xInit = pc_inner.xInit ? pc_init : NULL,
        .xShutdown = pc_inner.xShutdown ? pc_shutdown : NULL,
        .xCreate = pc_create,
        .xCachesize = pc_cachesize,
        .xPagecount = pc_pagecount,
        .xFetch = pc_fetch,
        .xUnpin = pc_unpin,
        .xRekey = pc_rekey,
        .xTruncate = pc_truncate,
        .xDestroy = pc_destroy,
        .xShrink = pc_inner.xShrink ? pc_shrink : NULL,
    };
    return sqlite3_config(SQLITE_CONFIG_PCACHE2, &m) == SQLITE_OK ? 0 : -1;
}
