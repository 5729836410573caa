/* apireq.h — the HTTP API's request bodies as values: the JSON body itself, and the
 * opt-out and credits bodies (POST /v1/optouts, POST /v1/credits), parsed and checked
 * apart from api.c's HTTP handling so they can be tested and fuzzed alone. A message
 * body goes through enq_from_json (enqueue.h). Fields are read strictly (jsonf.h). Every
 * error starts with the field it is about ("n: a whole number from 1 to 1000000"), which
 * the API answers as "field". Strings are borrowed from the JSON object. */
#ifndef CHUDA_APIREQ_H
#define CHUDA_APIREQ_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

typedef struct apireq_optout {
    const char *user;           /* NULL when missing: the caller answers it */
    const char *channel;        /* NULL or "*": every channel */
    const char *category;       /* NULL or "*": every category */
    const char *reason;
} apireq_optout;

typedef struct apireq_credits {
    const char *user;
    const char *template_id;
    long n;                     /* 1 when not given */
} apireq_credits;

/* The body as a JSON object (a new reference), or NULL with "body: ..." in `e`. */
json_t *apireq_body(const char *body, size_t len, cherr *e);

/* An opt-out's scope: "*" (or NULL) for all, else a known channel / a category. */
int apireq_scope(const char *channel, const char *category, cherr *e);

int apireq_optout_parse(json_t *obj, apireq_optout *o, cherr *e);
int apireq_credits_parse(json_t *obj, apireq_credits *c, cherr *e);

#endif
