/* fault.c - the fault queue behind POST /_sim/fault (see fault.h). */
#include "fault.h"
#include "util.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fault {
    struct fault *next;
    char *path;
    char *match;     /* NULL = any request */
    long left;
    double rate;     /* chance that a matching request takes it (1: every one) */
    json_t *spec;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct fault *head, **tail = &head;

static bool is_int(json_t *v, long min, long max)
{
    return json_is_integer(v) && json_integer_value(v) >= min &&
           json_integer_value(v) <= max;
}

int sflt_add(json_t *spec, char *err, size_t errsz)
{
    static const char *const known[] = {
        "path", "count", "match", "errcode", "errmsg", "status", "delay_ms",
        "reset", "body", "code", "message", "reset_after", "partial", "rate", NULL
    };
    const char *key;
    json_t *v;

    if (!json_is_object(spec)) {
        snprintf(err, errsz, "a fault must be a JSON object");
        return -1;
    }
    json_object_foreach(spec, key, v) {
        size_t i = 0;
        while (known[i] && strcmp(known[i], key))
            i++;
        if (!known[i]) {
            snprintf(err, errsz, "unknown fault field '%s'", key);
            return -1;
        }
    }
    json_t *path = json_object_get(spec, "path");
    json_t *count = json_object_get(spec, "count");
    json_t *match = json_object_get(spec, "match");
    if (!json_is_string(path) || json_string_value(path)[0] == '\0') {
        snprintf(err, errsz, "'path' must be a provider path or \"*\"");
        return -1;
    }
    if (count && !is_int(count, 1, 1000000000)) {
        snprintf(err, errsz, "'count' must be a positive integer");
        return -1;
    }
    if (match && !json_is_string(match)) {
        snprintf(err, errsz, "'match' must be a string");
        return -1;
    }
    if ((v = json_object_get(spec, "errcode")) && !json_is_integer(v)) {
        snprintf(err, errsz, "'errcode' must be an integer");
        return -1;
    }
    if ((v = json_object_get(spec, "status")) && !is_int(v, 100, 599)) {
        snprintf(err, errsz, "'status' must be an HTTP status (100-599)");
        return -1;
    }
    if ((v = json_object_get(spec, "delay_ms")) && !is_int(v, 0, 3600000)) {
        snprintf(err, errsz, "'delay_ms' must be 0..3600000");
        return -1;
    }
    static const char *const bools[] = {"reset", "reset_after", "partial", NULL};
    for (size_t i = 0; bools[i]; i++)
        if ((v = json_object_get(spec, bools[i])) && !json_is_boolean(v)) {
            snprintf(err, errsz, "'%s' must be true or false", bools[i]);
            return -1;
        }
    json_t *rate = json_object_get(spec, "rate");
    if (rate && (!json_is_number(rate) || json_number_value(rate) <= 0 ||
                 json_number_value(rate) > 1)) {
        snprintf(err, errsz, "'rate' must be a number in (0, 1]");
        return -1;
    }
    static const char *const strs[] = {"body", "code", "errmsg", "message",
                                       NULL};
    for (size_t i = 0; strs[i]; i++)
        if ((v = json_object_get(spec, strs[i])) && !json_is_string(v)) {
            snprintf(err, errsz, "'%s' must be a string", strs[i]);
            return -1;
        }
    if (!json_object_get(spec, "errcode") && !json_object_get(spec, "status")
        && !json_object_get(spec, "delay_ms") && !json_is_true(
            json_object_get(spec, "reset")) && !json_object_get(spec, "body")
        && !json_object_get(spec, "code") && !json_is_true(json_object_get(
            spec, "reset_after")) && !json_is_true(json_object_get(spec,
            "partial"))) {
        snprintf(err, errsz, "a fault needs one of errcode, status, delay_ms, "
                 "reset, reset_after, partial, body, code");
        return -1;
    }

    struct fault *f = su_xcalloc(1, sizeof *f);
    f->path = su_strdup(json_string_value(path));
    f->match = match ? su_strdup(json_string_value(match)) : NULL;
    f->left = count ? (long)json_integer_value(count) : 1;
    f->rate = rate ? json_number_value(rate) : 1.0;
    f->spec = json_incref(spec);
    pthread_mutex_lock(&lock);
    *tail = f;
    tail = &f->next;
    pthread_mutex_unlock(&lock);
    return 0;
}

static void fault_free(struct fault *f)
{
    free(f->path);
    free(f->match);
    json_decref(f->spec);
    free(f);
}

static bool matches(const struct fault *f, const char *path,
                    const char *query, const char *body)
{
    if (strcmp(f->path, path) != 0)
        return false;
    return !f->match || (query && strstr(query, f->match)) ||
           (body && strstr(body, f->match));
}

json_t *sflt_take(const char *path, const char *provider, const char *query,
                  const char *body)
{
    json_t *spec = NULL;
    pthread_mutex_lock(&lock);
    if (!head) {
        pthread_mutex_unlock(&lock);
        return NULL;
    }
    struct fault **p = NULL;
    for (int pass = 0; pass < 3 && !p; pass++) {
        const char *want = pass == 0 ? path : pass == 1 ? provider : "*";
        for (struct fault **q = &head; *q; q = &(*q)->next)
            if (matches(*q, want, query, body) &&
                ((*q)->rate >= 1.0 || su_rand_fault() < (*q)->rate)) {
                p = q;
                break;
            }
    }
    if (p) {
        struct fault *f = *p;
        spec = json_incref(f->spec);
        if (--f->left == 0) {
            *p = f->next;
            if (tail == &f->next)
                tail = p;
            fault_free(f);
        }
    }
    pthread_mutex_unlock(&lock);
    return spec;
}

json_t *sflt_pending(void)
{
    json_t *a = json_array();
    pthread_mutex_lock(&lock);
    for (struct fault *f = head; f; f = f->next) {
        json_t *o = json_deep_copy(f->spec);
        json_object_set_new(o, "left", json_integer(f->left));
        json_array_append_new(a, o);
    }
    pthread_mutex_unlock(&lock);
    return a;
}

void sflt_clear(void)
{
    pthread_mutex_lock(&lock);
    while (head) {
        struct fault *f = head;
        head = f->next;
        fault_free(f);
    }
    tail = &head;
    pthread_mutex_unlock(&lock);
}
