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

/* Validate and write. Sets *id (the first message's id when *dup) and *dup. */
int enq_one(app *a, const enq_request *r, int64_t now, int64_t *id, int *dup, cherr *e);

/* Fill an enq_request from a JSON object (the API's and --from's format): user,
 * template, vars, at, expires, key, class, tag, channel, window. Strings borrowed
 * from `obj`. Errors name the field. */
int enq_from_json(json_t *obj, enq_request *r, cherr *e);

#endif
