/* tmpdir.h — what the unit tests with files share: a scratch directory of their own under
 * /tmp (mkdtemp), and its removal with everything a test left in it. */
#ifndef CHUDA_TMPDIR_H
#define CHUDA_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>

/* dir = /tmp/chuda-TAG.XXXXXX, made 0700; 0, or -1 (dir unusable). */
static inline int tmpdir_make(char *dir, size_t n, const char *tag)
{
    snprintf(dir, n, "/tmp/chuda-%s.XXXXXX", tag);
    return mkdtemp(dir) ? 0 : -1;
}

/* rm -rf dir: 0, or -1. */
static inline int tmpdir_remove(const char *dir)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
