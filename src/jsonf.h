/* jsonf.h — the fields of a JSON request object, read strictly: the same rules for
 * every door that takes one (the HTTP API's bodies, `chuda enqueue --from`).
 *
 * A field not in the list is an error ("chanel: unknown field"); a field of the wrong
 * type is an error naming it ("channel: expected a string"); an absent or null field
 * is "not given". Strings are borrowed from the object. */
#ifndef CHUDA_JSONF_H
#define CHUDA_JSONF_H

#include <jansson.h>

#include "err.h"

/* `obj` is an object whose fields are all in `known` (NULL-terminated). */
int jf_known(json_t *obj, const char *const *known, cherr *e);

/* A string field, *out NULL when absent or null. */
int jf_str(json_t *obj, const char *name, const char **out, cherr *e);

#endif
