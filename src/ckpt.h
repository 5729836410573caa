/* ckpt.h — WAL checkpoints on a thread of their own, for one writer connection.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL past its
 * threshold: the writer copies pages into the database and waits for two fdatasyncs.
 * With a checkpointer, the writer's COMMIT mostly only signals a thread, which
 * checkpoints PASSIVE on a connection of its own (it never blocks the writer, and copies
 * only what is committed); now and then the writer copies the little the thread has not,
 * so that the WAL can start over. Used by `chuda run`, whose writer is the scheduler's
 * loop. */
#ifndef CHUDA_CKPT_H
#define CHUDA_CKPT_H

#include <sqlite3.h>

#include "err.h"

typedef struct ckpt ckpt;

/* Take over `writer`'s checkpoints (its automatic checkpoint is turned off): one on the
 * thread every `frames` WAL frames committed, and one by the writer itself, to let the
 * WAL start over, when it reaches 4 x `frames` (most of them copied by then). `path` is
 * the database file, opened again on the checkpointer's thread. `restore`: the writer's
 * automatic checkpoint (in frames) to give back at stop. */
ckpt *ckpt_start(sqlite3 *writer, const char *path, int frames, int restore, cherr *e);

/* Passes the thread has completed (PASSIVE: each copies what is committed by then). */
long ckpt_count(ckpt *k);

/* Stop the thread (a pass under way finishes first), close its connection and give
 * `writer` its automatic checkpoint back. Before `writer` is closed. */
void ckpt_stop(ckpt *k);

#endif
