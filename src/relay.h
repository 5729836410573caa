/* relay.h — a bounded hand-off of items from one producer thread to one consumer
 * thread (a mutex and two condition variables). The producer puts items and closes the
 * relay when it is done, on every path; the consumer takes them until the relay is
 * closed and empty, and may abort it, after which puts fail and the producer stops.
 * Items are opaque pointers: whoever holds one owns it. */
#ifndef CHUDA_RELAY_H
#define CHUDA_RELAY_H

#include <pthread.h>

#define RELAY_CAP 16            /* items waiting at most; put blocks beyond */

typedef struct relay {
    pthread_mutex_t mu;
    pthread_cond_t changed;     /* an item came or went, or the relay closed or aborted */
    void *item[RELAY_CAP];
    int head, n;
    int closed, aborted;
    int waiting;                /* a side waits on `changed`: wake it (else no call) */
} relay;

/* 0, or the error number of pthread's initialisation. */
int relay_init(relay *r);
void relay_destroy(relay *r);
/* Producer: hand over `item` (waits while the relay is full). 0; -1 when the consumer
 * aborted (the item stays the caller's). */
int relay_put(relay *r, void *item);
/* Producer: nothing more will come. */
void relay_close(relay *r);
/* Consumer: the next item (waits while none is there), or NULL once closed and empty.
 * Items still waiting after an abort are handed out too, to be freed. */
void *relay_take(relay *r);
/* Consumer: stop the producer (its next put fails). */
void relay_abort(relay *r);

#endif
