/* ckpt.c — WAL checkpoints on a thread of their own (ckpt.h).
 *
 * The writer's WAL hook runs after each of its commits with the WAL's length in frames;
 * once `frames` more have been committed since the last signal, it wakes the thread.
 * The thread runs a PASSIVE checkpoint on its own connection: it copies committed frames
 * into the database and syncs it, and never takes a lock the writer waits for. When
 * every frame is copied and no reader still needs them, the writer starts the WAL over at
 * its next transaction, and the hook sees a short WAL again; at 4 x `frames` the writer
 * makes sure of that with a pass of its own (on_wal). */
#include "ckpt.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ckpt {
    sqlite3 *writer, *db;             /* db: the thread's own connection */
    char *path;
    int frames;                       /* signal the thread every `frames` frames committed */
    int cap;                          /* the writer's own pass at this length */
    int restore;                      /* the writer's automatic checkpoint, given back */
    int mark;                         /* the WAL's length at the last signal (writer only) */
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int pending, stop;                /* under mu */
    long count;                       /* passes done, under mu */
    int failing[2];                   /* a failure told: the thread's [0], the writer's [1] */
};

/* A pass by either side. BUSY: the other side's pass (or another process's) is under
 * way. A failure (a full disk) is told once until a pass succeeds again; the WAL keeps
 * every commit meanwhile, and the next pass tries again. */
static int pass(ckpt *k, sqlite3 *db, int who)
{
    int nlog = 0, ncopied = 0;
    int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &ncopied);
    if (rc == SQLITE_OK && k->failing[who]) {
        k->failing[who] = 0;
        fprintf(stderr, "chuda: %s: checkpoints working again\n", k->path);
    } else if (rc != SQLITE_OK && rc != SQLITE_BUSY && !k->failing[who]) {
        k->failing[who] = 1;
        fprintf(stderr, "chuda: %s: checkpoint failed (the WAL keeps every commit; tried again "
                        "as it grows): %s\n", k->path, sqlite3_errmsg(db));
    }
    return rc;
}

/* On the writer's thread, inside its COMMIT: a signal, and now and then a pass of its own.
 * The writer starts the WAL over (at its next transaction) only when every frame has
 * been copied, and under a steady stream of commits the thread's passes never quite
 * catch up: each ends with the frames committed while it ran still to copy, and the WAL
 * would grow without end. So at `cap` frames, once the thread has been told of them, the
 * writer checkpoints itself, as SQLite's automatic checkpoint would: the thread has
 * copied most of them and the writer copies the rest (or meets the thread's pass under
 * way, SQLITE_BUSY, and tries at its next commit). Frames another process left (a
 * campaign's) go to the thread first, like any others. */
static int on_wal(void *arg, sqlite3 *db, const char *name, int nframes)
{
    ckpt *k = arg;
    if (nframes < k->mark)      /* the WAL was started over */
        k->mark = 0;
    if (nframes - k->mark >= k->frames) {
        k->mark = nframes;
        pthread_mutex_lock(&k->mu);
        k->pending = 1;
        pthread_cond_signal(&k->cv);
        pthread_mutex_unlock(&k->mu);
    } else if (nframes >= k->cap) {
        pass(k, db, 1);
    }
    return SQLITE_OK;
}

static void *ckpt_main(void *arg)
{
    ckpt *k = arg;
    pthread_mutex_lock(&k->mu);
    for (;;) {
        while (!k->pending && !k->stop)
            pthread_cond_wait(&k->cv, &k->mu);
        if (k->stop)
            break;
        k->pending = 0;
        pthread_mutex_unlock(&k->mu);
        int rc = pass(k, k->db, 0);
        pthread_mutex_lock(&k->mu);
        if (rc == SQLITE_OK)
            k->count++;
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

ckpt *ckpt_start(sqlite3 *writer, const char *path, int frames, int restore, cherr *e)
{
    ckpt *k = calloc(1, sizeof *k);
    if (!k || !(k->path = strdup(path))) {
        free(k);
        err_set(e, "out of memory");
        return NULL;
    }
    k->writer = writer;
    k->frames = frames > 0 ? frames : 1000;
    k->cap = 4 * k->frames;
    k->restore = restore;
    /* NOMUTEX: this connection is used by the checkpointer's thread alone (opened here,
     * before the thread starts, and closed after it has stopped) */
    if (sqlite3_open_v2(path, &k->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        err_set(e, "%s: cannot open database for checkpoints: %s", path,
                k->db ? sqlite3_errmsg(k->db) : "out of memory");
        goto fail;
    }
    sqlite3_wal_autocheckpoint(k->db, 0);
    sqlite3_busy_timeout(k->db, 5000);
    /* a first read opens the connection's WAL: until then a checkpoint does nothing */
    if (sqlite3_exec(k->db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL) !=
        SQLITE_OK) {
        err_set(e, "%s: cannot read database for checkpoints: %s", path, sqlite3_errmsg(k->db));
        goto fail;
    }
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    sigset_t all, old;          /* signals stay with the loop's thread */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&k->th, NULL, ckpt_main, k);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        err_set(e, "%s: cannot start the checkpointer's thread: %s", path, strerror(rc));
        pthread_cond_destroy(&k->cv);
        pthread_mutex_destroy(&k->mu);
        goto fail;
    }
    /* replaces the automatic checkpoint, which is itself a WAL hook */
    sqlite3_wal_hook(writer, on_wal, k);
    return k;
fail:
    sqlite3_close(k->db);
    free(k->path);
    free(k);
    return NULL;
}

long ckpt_count(ckpt *k)
{
    pthread_mutex_lock(&k->mu);
    long n = k->count;
    pthread_mutex_unlock(&k->mu);
    return n;
}

void ckpt_stop(ckpt *k)
{
    if (!k)
        return;
    sqlite3_wal_autocheckpoint(k->writer, k->restore);  /* its hook again, not ours */
    pthread_mutex_lock(&k->mu);
    k->stop = 1;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    pthread_join(k->th, NULL);
    pthread_cond_destroy(&k->cv);
    pthread_mutex_destroy(&k->mu);
    sqlite3_close(k->db);
    free(k->path);
    free(k);
}
