/* record.c - request recording and statistics (see record.h).
 *
 * Lines are formatted outside the lock (jansson), then appended under one
 * mutex to a stdio buffer and to a ring of the last `keep` lines.  A small
 * thread flushes the file every 100 ms when something was written. */
#include "record.h"
#include "map.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct line {
    int64_t seq;
    char *path;
    char *text;
};

struct path_stats {
    long count;
    struct smap outcomes;   /* outcome -> (long *) */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static FILE *file;
static bool dirty, stopping;
static pthread_t flusher;
static bool flusher_running;

static struct line *ring;
static size_t ring_cap, ring_start, ring_n;
static int64_t next_seq = 1;

static struct smap paths;          /* path -> struct path_stats */
static long n_total, n_delivered, n_duplicate, n_dropped, n_faults;
static long n_cb_ok, n_cb_fail;

static void path_stats_free(void *v)
{
    struct path_stats *ps = v;
    smap_free(&ps->outcomes);
    free(ps);
}

static void *flush_loop(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    while (!stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&wake, &lock, &ts);
        if (dirty && file) {
            fflush(file);
            dirty = false;
        }
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

int srec_open(const char *path, size_t keep, char *err, size_t errsz)
{
    if (path) {
        file = fopen(path, "a");
        if (!file) {
            snprintf(err, errsz, "%s: %s", path, strerror(errno));
            return -1;
        }
        setvbuf(file, NULL, _IOFBF, 1 << 16);
    }
    ring_cap = keep;
    ring = ring_cap ? su_xcalloc(ring_cap, sizeof *ring) : NULL;
    smap_init(&paths, path_stats_free);
    if (pthread_create(&flusher, NULL, flush_loop, NULL) != 0) {
        snprintf(err, errsz, "cannot start the record flusher thread");
        return -1;
    }
    flusher_running = true;
    return 0;
}

static void count(const struct srec_meta *m)
{
    struct path_stats *ps = smap_get(&paths, m->path);
    if (!ps) {
        ps = su_xcalloc(1, sizeof *ps);
        smap_init(&ps->outcomes, free);
        smap_put(&paths, m->path, ps);
    }
    ps->count++;
    long *n = smap_get(&ps->outcomes, m->outcome);
    if (!n) {
        n = su_xcalloc(1, sizeof *n);
        smap_put(&ps->outcomes, m->outcome, n);
    }
    (*n)++;
    n_total++;
    n_delivered += m->delivered;
    n_duplicate += m->duplicate;
    n_dropped += m->dropped;
    n_faults += m->fault;
}

bool srec_keeps(void)
{
    return file != NULL || ring_cap > 0;    /* both set once, before any request */
}

void srec_add(const char *line, size_t len, const struct srec_meta *m)
{
    if (!line) {
        pthread_mutex_lock(&lock);
        next_seq++;
        count(m);
        pthread_mutex_unlock(&lock);
        return;
    }
    /* "{...}" -> "{"seq":N,...}" */
    char *text = su_xmalloc(len + 32);
    char *path = ring_cap ? su_strdup(m->path) : NULL;
    if (len < 2 || line[0] != '{')
        line = "{}", len = 2;

    pthread_mutex_lock(&lock);
    int64_t seq = next_seq++;
    int n = snprintf(text, 32, "{\"seq\":%lld%s", (long long)seq,
                     len > 2 ? "," : "");
    memcpy(text + n, line + 1, len - 1);
    text[n + len - 1] = '\0';
    if (file) {
        fwrite(text, 1, (size_t)n + len - 1, file);
        fputc('\n', file);
        dirty = true;
    }
    if (ring_cap) {
        struct line *l;
        if (ring_n < ring_cap) {
            l = &ring[(ring_start + ring_n++) % ring_cap];
        } else {
            l = &ring[ring_start];
            ring_start = (ring_start + 1) % ring_cap;
            free(l->path);
            free(l->text);
        }
        l->seq = seq;
        l->path = path;
        l->text = text;
        text = NULL;
    }
    count(m);
    pthread_mutex_unlock(&lock);
    free(text);
}

char *srec_list(int64_t since, size_t limit, const char *path_filter)
{
    struct su_buf b = {0};
    size_t n = 0;
    su_buf_add(&b, "[", 1);
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < ring_n && (!limit || n < limit); i++) {
        struct line *l = &ring[(ring_start + i) % ring_cap];
        if (l->seq <= since || (path_filter && strcmp(l->path, path_filter)))
            continue;
        if (n++)
            su_buf_add(&b, ",\n", 2);
        su_buf_str(&b, l->text);
    }
    pthread_mutex_unlock(&lock);
    su_buf_add(&b, "]\n", 2);
    return b.p;
}

static bool stats_path(const char *key, void *val, void *arg)
{
    struct path_stats *ps = val;
    json_t *o = json_object(), *out = json_object();
    json_object_set_new(o, "count", json_integer(ps->count));
    for (size_t i = 0; i < ps->outcomes.nb; i++)
        for (struct smap_ent *e = ps->outcomes.b[i]; e; e = e->next)
            json_object_set_new(out, e->key,
                                json_integer(*(long *)e->val));
    json_object_set_new(o, "outcomes", out);
    json_object_set_new(arg, key, o);
    return false;
}

char *srec_stats(void)
{
    json_t *s = json_object(), *p = json_object();
    pthread_mutex_lock(&lock);
    json_object_set_new(s, "requests", json_integer(n_total));
    json_object_set_new(s, "delivered", json_integer(n_delivered));
    json_object_set_new(s, "duplicate", json_integer(n_duplicate));
    json_object_set_new(s, "dropped", json_integer(n_dropped));
    json_object_set_new(s, "faults", json_integer(n_faults));
    json_object_set_new(s, "callbacks_ok", json_integer(n_cb_ok));
    json_object_set_new(s, "callbacks_failed", json_integer(n_cb_fail));
    json_object_set_new(s, "last_seq", json_integer(next_seq - 1));
    smap_filter(&paths, stats_path, p);
    pthread_mutex_unlock(&lock);
    json_object_set_new(s, "paths", p);
    char *text = json_dumps(s, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(s);
    return text;
}

void srec_count_callback(const char *provider, int ok)
{
    (void)provider;
    pthread_mutex_lock(&lock);
    if (ok)
        n_cb_ok++;
    else
        n_cb_fail++;
    pthread_mutex_unlock(&lock);
}

void srec_clear(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < ring_n; i++) {
        struct line *l = &ring[(ring_start + i) % ring_cap];
        free(l->path);
        free(l->text);
    }
    ring_start = ring_n = 0;
    smap_clear(&paths);
    n_total = n_delivered = n_duplicate = n_dropped = n_faults = 0;
    n_cb_ok = n_cb_fail = 0;
    pthread_mutex_unlock(&lock);
}

void srec_flush(void)
{
    pthread_mutex_lock(&lock);
    if (file)
        fflush(file);
    dirty = false;
    pthread_mutex_unlock(&lock);
}

void srec_close(void)
{
    pthread_mutex_lock(&lock);
    stopping = true;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    if (flusher_running)
        pthread_join(flusher, NULL);
    flusher_running = false;
    srec_clear();
    if (file)
        fclose(file);
    file = NULL;
    free(ring);
    ring = NULL;
    ring_cap = 0;
    smap_free(&paths);
}
