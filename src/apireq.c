/* apireq.c — parsing the HTTP API's request bodies (see apireq.h). */
#include "apireq.h"

#include <string.h>

#include "channel.h"
#include "jsonf.h"
#include "store.h"

json_t *apireq_body(const char *body, size_t len, cherr *e)
{
    json_error_t je;
    /* a field given twice is refused, not read as its last value */
    json_t *j = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        err_set(e, "body: not JSON (%s at line %d column %d)", je.text, je.line, je.column);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        err_set(e, "body: expected a JSON object");
        return NULL;
    }
    return j;
}

int apireq_scope(const char *ch, const char *cat, cherr *e)
{
    if (ch && strcmp(ch, "*") && !chan_ops_find(ch))
        return err_set(e, "channel: unknown channel");
    if (cat && strcmp(cat, "*") && strcmp(cat, "marketing") && strcmp(cat, "service"))
        return err_set(e, "category: marketing, service or *");
    return 0;
}

int apireq_optout_parse(json_t *obj, apireq_optout *o, cherr *e)
{
    static const char *const known[] = {"user", "channel", "category", "reason", NULL};
    if (jf_known(obj, known, e) < 0 || jf_str(obj, "user", &o->user, e) < 0 ||
        jf_str(obj, "channel", &o->channel, e) < 0 ||
        jf_str(obj, "category", &o->category, e) < 0 || jf_str(obj, "reason", &o->reason, e) < 0)
        return -1;
    if (o->reason && strlen(o->reason) >= sizeof ((store_optout *)0)->reason)
        return err_set(e, "reason: longer than %zu bytes",
                       sizeof ((store_optout *)0)->reason - 1);
    return apireq_scope(o->channel, o->category, e);
}

int apireq_credits_parse(json_t *obj, apireq_credits *c, cherr *e)
{
    static const char *const known[] = {"user", "template_id", "n", NULL};
    if (jf_known(obj, known, e) < 0 || jf_str(obj, "user", &c->user, e) < 0 ||
        jf_str(obj, "template_id", &c->template_id, e) < 0)
        return -1;
    if (!c->template_id || !*c->template_id)
        return err_set(e, "template_id: missing");
    json_t *nj = json_object_get(obj, "n");
    c->n = 1;
    if (nj && !json_is_null(nj)) {
        if (!json_is_integer(nj) || json_integer_value(nj) < 1 ||
            json_integer_value(nj) > 1000000)
            return err_set(e, "n: a whole number from 1 to 1000000");
        c->n = (long)json_integer_value(nj);
    }
    return 0;
}
