/* relay.c — a bounded hand-off between two threads (see relay.h). */
#include "relay.h"

int relay_init(relay *r)
{
    *r = (relay){0};
    int rc = pthread_mutex_init(&r->mu, NULL);
    if (rc)
        return rc;
    if ((rc = pthread_cond_init(&r->changed, NULL)))
        pthread_mutex_destroy(&r->mu);
    return rc;
}

void relay_destroy(relay *r)
{
    pthread_cond_destroy(&r->changed);
    pthread_mutex_destroy(&r->mu);
}

/* Wait for a change (the mutex held). */
static void wait_change(relay *r)
{
    r->waiting++;
    pthread_cond_wait(&r->changed, &r->mu);
    r->waiting--;
}

/* Wake the other side if it waits (the mutex held). The consumer waits only on an
 * empty relay, the producer only on a full one, and each is woken when the relay is
 * half full: one call per RELAY_CAP/2 hand-offs, not one each. */
static void wake(relay *r)
{
    if (r->waiting)
        pthread_cond_broadcast(&r->changed);
}

int relay_put(relay *r, void *item)
{
    pthread_mutex_lock(&r->mu);
    while (r->n == RELAY_CAP && !r->aborted)
        wait_change(r);
    int rc = r->aborted ? -1 : 0;
    if (rc == 0) {
        r->item[(r->head + r->n) % RELAY_CAP] = item;
        r->n++;
        if (r->n >= RELAY_CAP / 2)
            wake(r);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void relay_close(relay *r)
{
    pthread_mutex_lock(&r->mu);
    r->closed = 1;
    wake(r);
    pthread_mutex_unlock(&r->mu);
}

void *relay_take(relay *r)
{
    pthread_mutex_lock(&r->mu);
    while (!r->n && !r->closed)
        wait_change(r);
    void *item = NULL;
    if (r->n) {
        item = r->item[r->head];
        r->head = (r->head + 1) % RELAY_CAP;
        r->n--;
        if (r->n <= RELAY_CAP / 2)
            wake(r);
    }
    pthread_mutex_unlock(&r->mu);
    return item;
}

void relay_abort(relay *r)
{
    pthread_mutex_lock(&r->mu);
    r->aborted = 1;
    wake(r);
    pthread_mutex_unlock(&r->mu);
}
