/* ckpt.h — WAL checkpoints on a thread of their own, for one writer connection.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL past its
 * threshold: the writer copies pages into the database and waits for two fdatasyncs.
 * With a checkpointer, the writer's COMMIT only signals a thread, which checkpoints
 * PASSIVE on a connection of its own (it never blocks the writer, and copies only what
 * is committed). Used by `chuda run`, whose writer is the scheduler's loop. */
#ifndef CHUDA_CKPT_H
#define CHUDA_CKPT_H

#include <sqlite3.h>

#include "err.h"

typedef struct ckpt ckpt;

/* Take over `writer`'s checkpoints (its automatic checkpoint is turned off): one on the
 * thread every `frames` WAL frames committed, and one by the writer itself, to let the
 * WAL start over, when it reaches 4 x `frames` (most of them copied by then). `path` is
 * the database file, opened again on the checkpointer's thread. */
ckpt *ckpt_start(sqlite3 *writer, const char *path, int frames, cherr *e);

/* Checkpoints run so far (each one PASSIVE, possibly partial). */
long ckpt_count(ckpt *k);

/* Stop the thread (a checkpoint under way finishes first), close its connection and
 * give `writer` its automatic checkpoint back. Before `writer` is closed. */
void ckpt_stop(ckpt *k);

#endif
