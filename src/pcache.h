/* pcache.h — SQLite's default page cache, wrapped so that a commit does not scan the
 * whole cache for pages beyond the database's end that it cannot hold (pcache.c). */
#ifndef CHUDA_PCACHE_H
#define CHUDA_PCACHE_H

/* Install the wrapper as SQLite's page cache, before SQLite initialises (before the
 * first connection is opened); a second call does nothing. -1 if SQLite refused (it had
 * already initialised), in which case its default cache stays, unwrapped. */
int pcache_install(void);

#endif
