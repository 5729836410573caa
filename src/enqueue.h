/* enqueue.h — putting one message in the queue, the same way from every door: the
 * CLI (`chuda enqueue`, `--from FILE.jsonl`), the HTTP API and campaigns.
 *
 * Everything that can be checked before writing is: the user exists, the template
 * exists, class/channel/window are valid, the times parse, and every variable the
 * template needs resolves for this user on every channel it could use. Then the
 * message, its queue row and its `enqueued` audit row are written — inside the
 * caller's transaction, so a batch is all or nothing. */
#ifndef CHUDA_ENQUEUE_H
#define CHUDA_ENQUEUE_H

#include <jansson.h>
#include <stdint.h>

#include "app.h"
#include "err.h"

typedef struct enq_request {
    const char *user, *tmpl;
    json_t *vars;               /* object of string values, or NULL */
    const char *at;             /* TIME, NULL: now */
    const char *expires;        /* TIME or DURATION from `at`, NULL: never */
    const char *key, *klass, *tag, *channel, *window;
    int64_t campaign_id;
} enq_request;

/* Validate and write. Sets *id (the first message's id when *dup) and *dup. Returns 0;
 * -1 when the request is refused (nothing was written); ENQ_STORAGE when the store
 * failed, perhaps after part of the message was written into the caller's transaction:
 * the caller must roll that transaction back, not commit it. */
#define ENQ_STORAGE (-2)
int enq_one(app *a, const enq_request *r, int64_t now, int64_t *id, int *dup, cherr *e);

/* Many messages of one template, one per user, inside the caller's transaction (a
 * campaign). Each is checked as enq_one checks it — the user exists, every variable
 * resolves for this user on every channel the template has, nothing renders empty,
 * values given to |time and |yuan parse — except the channels' length rules, which
 * are checked when the message is sent (a value too long for one channel may fit
 * the next). Rendering is the costly part, and its outcome depends only on the
 * user's tier, segment and A/B variant and on which variables are present, so each
 * such combination is rendered once and remembered. No `enqueued` audit row is
 * written per message: the caller logs the batch once. */
typedef struct enq_batch enq_batch;

/* A checked chunk of a batch's messages, not yet written (a batch with a sink hands
 * them over): m[0..n-1] (ids not yet chosen), their strings in `text`, owned. */
typedef struct enq_chunk {
    store_msg m[STORE_MANY];
    int n;
    long line;                  /* the last message's `line` (enq_batch_add), for errors */
    char *text;
} enq_chunk;

/* Takes `ch` (even when it fails, with the reason in e). */
typedef int (*enq_sink_fn)(void *arg, enq_chunk *ch, cherr *e);

/* Write the chunk's messages into st's transaction (store_enqueue_many); *last_id: the
 * last one's id. */
int enq_chunk_write(store *st, enq_chunk *ch, int64_t *last_id, cherr *e);
void enq_chunk_free(enq_chunk *ch);

typedef struct enq_batch_spec {
    const char *tmpl;
    const char *klass;          /* NULL: the template's */
    const char *expires;        /* TIME, or DURATION from each message's due time; NULL */
    int64_t campaign_id;
    int64_t now;
    json_t *vars;               /* every message's variables (object of strings) or NULL */
    const char *const *columns; /* names of per-message variables (NULL-terminated, or
                                   NULL): a message's value overrides `vars` */
    store *users;               /* where users are looked up; NULL: the app's store */
    enq_sink_fn sink;           /* NULL: chunks are written to the app's store; else handed
                                   to sink(sink_arg, ...) and *last_id stays 0 */
    void *sink_arg;
} enq_batch_spec;

int enq_batch_new(app *a, const enq_batch_spec *s, enq_batch **out, cherr *e);
/* Add a message for `user` due at `due`; values[i] (lens[i] bytes, valid UTF-8) is
 * its value of columns[i], an empty one leaving `vars` to apply (values may be NULL
 * when there are no columns). `line` names it in errors (enq_batch_fail_line). It
 * waits with up to STORE_MANY others; when a chunk is full it is checked and written,
 * and *last_id gets the last id written (0 when nothing was written this call). */
int enq_batch_add(enq_batch *b, const char *user, const char *const *values,
                  const size_t *lens, int64_t due, long line, int64_t *last_id, cherr *e);
/* Check and write what is waiting; *last_id as for enq_batch_add. */
int enq_batch_finish(enq_batch *b, int64_t *last_id, cherr *e);
/* After an error: the `line` and user of the message it is about (0 / NULL: none in
 * particular; the user string lives until the next call). */
long enq_batch_fail_line(const enq_batch *b);
const char *enq_batch_fail_user(const enq_batch *b);
void enq_batch_free(enq_batch *b);

/* Fill an enq_request from a JSON object (the API's and --from's format): user,
 * template, vars, at, expires, key, class, tag, channel, window. Strings borrowed
 * from `obj`. Errors name the field. */
int enq_from_json(json_t *obj, enq_request *r, cherr *e);

#endif
