/* jsonf.c — strict reading of a JSON request's fields (see jsonf.h). */
#include "jsonf.h"

#include <string.h>

int jf_known(json_t *obj, const char *const *known, cherr *e)
{
    if (!json_is_object(obj))
        return err_set(e, "expected a JSON object");
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        int ok = 0;
        for (int i = 0; known[i] && !ok; i++)
            ok = !strcmp(k, known[i]);
        if (!ok)
            return err_set(e, "%s: unknown field", k);
    }
    return 0;
}

int jf_str(json_t *obj, const char *name, const char **out, cherr *e)
{
    json_t *v = json_object_get(obj, name);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return err_set(e, "%s: expected a string", name);
    *out = json_string_value(v);
    return 0;
}
