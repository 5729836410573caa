/* http.c — libcurl's multi-socket API on libev, on a thread of its own (see http.h).
 *
 * The caller's thread builds each transfer (easy handle and options) in http_submit and
 * hands it over; the HTTP thread adds it to the multi handle, drives curl from its own
 * loop, and hands finished transfers back with their results; the caller's loop is woken
 * (ev_async) and calls each transfer's callback there. So TLS and HTTP run beside the
 * scheduler's store and policy work — on the other core — and callbacks still come from
 * the caller's loop, never from inside curl. The threads share only the two hand-over
 * lists, two flags (stop, no_wait) and the lanes to empty (withdraw), under one mutex;
 * everything else belongs to one side:
 *   caller: loop, done_w, inflight, ca_file, spare;
 *   HTTP thread: wloop, multi, timer, xfers, lanes.
 *
 * Lanes (http_req.lane) hold a channel's requests to its concurrency where they end:
 * the HTTP thread starts a lane's next request the moment one of its requests ends,
 * without waiting for the caller's thread to see the reply and send another (a round
 * trip through a busy loop: bench/README, round eight).
 *
 * Easy handles are reused (curl_easy_reset), as libcurl advises: a finished transfer's
 * handle comes back with its result and waits in `spare` for the next http_submit. A
 * fresh handle a request, created on the caller's thread and freed on the HTTP thread,
 * cost both threads malloc work (bench/README, round six). A kept handle keeps its
 * download buffer and its TLS session cache (libcurl matches a session against the TLS
 * settings, CA file included): ~80 KiB each, at most HTTP_SPARE of them. */
#include "http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

#define MAX_BODY (4 * 1024 * 1024)   /* a provider reply larger than this is broken */
#define HTTP_SPARE 256                /* easy handles kept for reuse, at most */
#define HTTP_WITHDRAW 32              /* lanes asked to empty, not yet emptied, at most */
#define HTTP_LANE_NAME 64

struct http {
    /* the caller's side */
    struct ev_loop *loop;
    ev_async done_w;            /* finished transfers are waiting in `out` */
    int inflight;               /* submitted, callback not yet called; the loop is
                                   referenced (kept running) while it is > 0 */
    char *ca_file;
    CURL *spare[HTTP_SPARE];    /* finished transfers' handles, reset, for reuse */
    int nspare;
    /* shared, under mu */
    pthread_mutex_t mu;
    struct xfer *in, **in_tail;     /* submitted, not yet taken by the HTTP thread */
    struct xfer *out, **out_tail;   /* finished, callback not yet called */
    int stop;
    int no_wait;                /* http_stop_waiting: lanes keep no request waiting */
    char withdraw[HTTP_WITHDRAW][HTTP_LANE_NAME];   /* http_withdraw_lane, not yet done */
    int nwithdraw;
    /* the HTTP thread's side */
    pthread_t th;
    struct ev_loop *wloop;
    ev_async wake_w;            /* something in `in`, or stop */
    CURLM *multi;
    ev_timer timer;
    struct xfer *xfers;         /* in the multi handle, for http_free */
    struct lane *lanes;         /* lanes with requests under way or waiting */
};

/* A lane's requests on the HTTP thread: how many are under way, and the ones waiting
 * for a slot, in order. It goes when the last of them ends. */
typedef struct lane {
    struct lane *next;
    char name[HTTP_LANE_NAME];
    int running;
    struct xfer *head, **tail;  /* waiting, linked by qnext */
} lane;

/* One socket curl asked us to watch. */
typedef struct sock {
    ev_io io;
    curl_socket_t fd;
    http *h;
} sock;

/* One transfer. */
typedef struct xfer {
    struct xfer *next, *prev;   /* h->xfers (HTTP thread) */
    struct xfer *qnext;         /* h->in or h->out */
    http *h;
    CURL *easy;
    struct curl_slist *hdrs;
    http_req req;
    char *buf;
    size_t len, cap;
    int too_big;
    int sends;                  /* times the request was about to be sent (prereq) */
    int finished;               /* curl ran it to its end: the handle can be reused */
    lane *lane;                 /* its lane while under way (HTTP thread), or NULL */
    http_done_fn fn;
    void *arg;
    http_resp r;                /* the result, filled by the HTTP thread (body: buf) */
    char errbuf[CURL_ERROR_SIZE];
} xfer;

static void check_done(http *h);

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    sock *s = w->data;
    int running, action = (revents & EV_READ ? CURL_CSELECT_IN : 0) |
                          (revents & EV_WRITE ? CURL_CSELECT_OUT : 0);
    http *h = s->h;            /* s may be freed inside socket_action */
    curl_multi_socket_action(h->multi, s->fd, action, &running);
    check_done(h);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    http *h = w->data;
    int running;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(h);
}

/* CURLMOPT_SOCKETFUNCTION: (re)arm or drop the watcher for one socket. */
static int sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *sockp)
{
    http *h = userp;
    sock *s = sockp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            ev_io_stop(h->wloop, &s->io);
            free(s);
            curl_multi_assign(h->multi, fd, NULL);
        }
        return 0;
    }
    int events = (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return 0;       /* curl would fail the transfer; never return -1 */
        s->h = h;
        curl_multi_assign(h->multi, fd, s);
    } else {
        ev_io_stop(h->wloop, &s->io);
    }
    s->fd = fd;
    ev_io_init(&s->io, on_io, fd, events);
    s->io.data = s;
    ev_io_start(h->wloop, &s->io);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: one ev_timer, seconds = ms / 1000.0; -1 stops it. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    http *h = userp;
    ev_timer_stop(h->wloop, &h->timer);
    if (timeout_ms >= 0) {
        ev_timer_set(&h->timer, (double)timeout_ms / 1000.0, 0.);
        ev_timer_start(h->wloop, &h->timer);
    }
    return 0;
}

static size_t write_cb(char *data, size_t size, size_t n, void *userp)
{
    xfer *x = userp;
    size_t len = size * n;
    if (x->len + len + 1 > MAX_BODY) {
        x->too_big = 1;
        return 0;
    }
    if (x->len + len + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 1024;
        while (cap < x->len + len + 1)
            cap *= 2;
        char *b = realloc(x->buf, cap);
        if (!b)
            return 0;
        x->buf = b;
        x->cap = cap;
    }
    memcpy(x->buf + x->len, data, len);
    x->len += len;
    x->buf[x->len] = '\0';
    return len;
}

/* CURLOPT_PREREQFUNCTION: called each time the request is about to go out on a
 * connection — more than once when libcurl retries on a fresh connection by itself. */
static int prereq_cb(void *userp, char *conn_primary_ip, char *conn_local_ip,
                     int conn_primary_port, int conn_local_port)
{
    xfer *x = userp;
    x->sends++;
    return CURL_PREREQFUNC_OK;
}

static void unlink_xfer(xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else if (x->h->xfers == x)
        x->h->xfers = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->next = x->prev = NULL;
}

/* Caller's thread: keep a finished transfer's handle for the next request, or free it. */
static void easy_put(http *h, CURL *easy, int reuse)
{
    if (reuse && h->nspare < HTTP_SPARE) {
        curl_easy_reset(easy);
        h->spare[h->nspare++] = easy;
    } else {
        curl_easy_cleanup(easy);
    }
}

/* Caller's thread: free a transfer that is in no list of the HTTP thread (not in
 * h->xfers, not in the multi handle). */
static void xfer_free(xfer *x)
{
    if (x->easy)
        easy_put(x->h, x->easy, x->finished);
    curl_slist_free_all(x->hdrs);
    http_req_clear(&x->req);
    free(x->buf);
    free(x);
}

/* Did any of the request leave the machine? Errors before the request was written
 * (connect, resolve, TLS handshake, certificate) mean it did not. */
static int may_have_sent(CURL *easy, CURLcode code)
{
    switch (code) {
    case CURLE_OK:
        return 1;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return 0;
    default:
        break;
    }
    long sent = 0;
    curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &sent);
    return sent > 0;
}

/* ---- the hand-over lists ------------------------------------------------------------ */

static void list_append(xfer **head, xfer ***tail, xfer *first, xfer **last_next)
{
    if (!first)
        return;
    if (!*head)
        *head = first;
    else
        **tail = first;
    *tail = last_next;
}

/* Take a whole hand-over list; with `stop`, nothing once http_free asked the HTTP thread
 * to stop (*stop set: what is left is the caller's to free, after the join). */
static xfer *list_take(http *h, xfer **head, xfer ***tail, int *stop)
{
    xfer *l = NULL;
    pthread_mutex_lock(&h->mu);
    if (stop)
        *stop = h->stop;
    if (!stop || !*stop) {
        l = *head;
        *head = NULL;
        *tail = head;
    }
    pthread_mutex_unlock(&h->mu);
    return l;
}

/* HTTP thread: pass finished transfers (a list linked by qnext) back to the caller. */
static void hand_back(http *h, xfer *first, xfer **last_next)
{
    if (!first)
        return;
    pthread_mutex_lock(&h->mu);
    list_append(&h->out, &h->out_tail, first, last_next);
    pthread_mutex_unlock(&h->mu);
    ev_async_send(h->loop, &h->done_w);
}

/* ---- the HTTP thread ------------------------------------------------------------------ */

/* Record the result of a transfer that ended (out of the multi handle by now); its easy
 * handle goes back with it, for reuse. */
static void finish_xfer(http *h, xfer *x, CURLcode code)
{
    http_resp *r = &x->r;
    r->curl_code = (int)code;
    if (code == CURLE_OK) {
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r->status);
    } else {
        r->error = x->too_big ? "reply larger than 4 MiB"
                              : (x->errbuf[0] ? x->errbuf : curl_easy_strerror(code));
    }
    /* the request was on its way on some connection (libcurl then failed to make its
     * fresh one, say): it may have reached the provider whatever the last error */
    r->may_have_sent = x->sends > 0 || may_have_sent(x->easy, code);
    r->resends = x->sends > 1 ? x->sends - 1 : 0;
    curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME, &r->seconds);
    unlink_xfer(x);
    x->finished = 1;
}

/* A finished list being gathered for hand_back. */
typedef struct done_list {
    xfer *first, **last;
} done_list;

static void done_add(done_list *d, xfer *x)
{
    x->qnext = NULL;
    *d->last = x;
    d->last = &x->qnext;
}

static int lane_limit(const xfer *x)
{
    return x->req.lane_limit > 0 ? x->req.lane_limit : 1;
}

static lane *lane_find(http *h, const char *name)
{
    for (lane *l = h->lanes; l; l = l->next)
        if (!strncmp(l->name, name, sizeof l->name - 1))
            return l;
    return NULL;
}

/* The lane of that name, made when its first request comes; NULL when out of memory. */
static lane *lane_get(http *h, const char *name)
{
    lane *l = lane_find(h, name);
    if (!l && (l = calloc(1, sizeof *l))) {
        snprintf(l->name, sizeof l->name, "%s", name);
        l->tail = &l->head;
        l->next = h->lanes;
        h->lanes = l;
    }
    return l;
}

static void lane_drop(http *h, lane *l)
{
    for (lane **p = &h->lanes; *p; p = &(*p)->next)
        if (*p == l) {
            *p = l->next;
            free(l);
            return;
        }
}

/* Into the multi handle, or onto `d` when curl refuses it. */
static void start_xfer(http *h, xfer *x, lane *l, done_list *d)
{
    if (curl_multi_add_handle(h->multi, x->easy) != CURLM_OK) {
        x->r.curl_code = CURLE_FAILED_INIT;
        x->r.error = "curl_multi_add_handle failed";
        done_add(d, x);
        return;
    }
    x->lane = l;
    if (l)
        l->running++;
    x->next = h->xfers;
    x->prev = NULL;
    if (h->xfers)
        h->xfers->prev = x;
    h->xfers = x;
}

static void not_started(xfer *x, done_list *d)
{
    x->r.not_started = 1;
    x->r.curl_code = CURLE_ABORTED_BY_CALLBACK;     /* a failure that never left */
    x->r.error = "withdrawn before it started";
    done_add(d, x);
}

/* Every request waiting in the lane back, not started. The lane itself goes when its
 * last one under way ends. */
static void lane_empty(lane *l, done_list *d)
{
    while (l->head) {
        xfer *x = l->head;
        l->head = x->qnext;
        not_started(x, d);
    }
    l->tail = &l->head;
}

/* A lane's request ended: start the next waiting one in its slot, unless shutting down
 * (no_wait: they go back), or the lane goes. */
static void lane_next(http *h, lane *l, int no_wait, done_list *d)
{
    l->running--;
    if (no_wait)
        lane_empty(l, d);
    while (l->head && l->running < lane_limit(l->head)) {
        xfer *x = l->head;
        if (!(l->head = x->qnext))
            l->tail = &l->head;
        start_xfer(h, x, l, d);
    }
    if (!l->running && !l->head)
        lane_drop(h, l);
}

static int no_wait_now(http *h)
{
    pthread_mutex_lock(&h->mu);
    int no_wait = h->no_wait;
    pthread_mutex_unlock(&h->mu);
    return no_wait;
}

static void check_done(http *h)
{
    CURLMsg *m;
    int left, no_wait = -1;     /* read at the first lane's request that ended */
    done_list d = {NULL, &d.first};
    while ((m = curl_multi_info_read(h->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode code = m->data.result;
        curl_multi_remove_handle(h->multi, x->easy);
        finish_xfer(h, x, code);
        lane *l = x->lane;
        x->lane = NULL;
        done_add(&d, x);
        if (l) {
            if (no_wait < 0)
                no_wait = no_wait_now(h);
            lane_next(h, l, no_wait, &d);
        }
    }
    hand_back(h, d.first, d.last);
}

/* Submitted transfers into the multi handle, or to wait in their lane (or back at once
 * when curl refuses one). */
static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
    http *h = w->data;
    int stop;
    xfer *x = list_take(h, &h->in, &h->in_tail, &stop);
    if (stop) {
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    char withdraw[HTTP_WITHDRAW][HTTP_LANE_NAME];
    pthread_mutex_lock(&h->mu);
    int no_wait = h->no_wait, nw = h->nwithdraw;
    memcpy(withdraw, h->withdraw, (size_t)nw * sizeof withdraw[0]);
    h->nwithdraw = 0;
    pthread_mutex_unlock(&h->mu);
    done_list d = {NULL, &d.first};
    for (lane *l = h->lanes; l; l = l->next) {
        int empty = no_wait;
        for (int i = 0; i < nw && !empty; i++)
            empty = !strcmp(l->name, withdraw[i]);
        if (empty)
            lane_empty(l, &d);
    }
    while (x) {
        xfer *next = x->qnext;
        lane *l = x->req.lane ? lane_get(h, x->req.lane) : NULL;
        int full = l && (l->head || l->running >= lane_limit(x));
        if (x->req.lane && !l) {
            x->r.curl_code = CURLE_OUT_OF_MEMORY;
            x->r.error = "out of memory";
            done_add(&d, x);
        } else if (full && no_wait) {
            not_started(x, &d);
        } else if (full) {
            x->qnext = NULL;            /* waits for a slot, behind the lane's others */
            *l->tail = x;
            l->tail = &x->qnext;
        } else {
            start_xfer(h, x, l, &d);
            if (l && !l->running && !l->head)   /* curl refused a new lane's first */
                lane_drop(h, l);
        }
        x = next;
    }
    hand_back(h, d.first, d.last);
}

static void *http_main(void *arg)
{
    http *h = arg;
    ev_run(h->wloop, 0);
    return NULL;
}

/* ---- the caller's side ---------------------------------------------------------------- */

/* Finished transfers: each callback, from the caller's loop. */
static void on_done(struct ev_loop *loop, ev_async *w, int revents)
{
    http *h = w->data;
    xfer *x = list_take(h, &h->out, &h->out_tail, NULL);
    while (x) {
        xfer *next = x->qnext;
        x->r.body = x->buf ? x->buf : "";
        x->r.body_len = x->len;
        if (--h->inflight == 0)
            ev_unref(h->loop);      /* nothing more to wait for */
        x->fn(x->arg, &x->r);
        xfer_free(x);
        x = next;
    }
}

static void free_list(xfer *x)
{
    while (x) {
        xfer *next = x->qnext;
        xfer_free(x);
        x = next;
    }
}

http *http_new(struct ev_loop *loop, const char *ca_file, cherr *e)
{
    static int global_done;
    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            err_set(e, "curl_global_init failed");
            return NULL;
        }
        global_done = 1;
    }
    http *h = calloc(1, sizeof *h);
    if (!h) {
        err_set(e, "out of memory");
        return NULL;
    }
    h->loop = loop;
    h->in_tail = &h->in;
    h->out_tail = &h->out;
    pthread_mutex_init(&h->mu, NULL);
    h->ca_file = ca_file ? strdup(ca_file) : NULL;
    h->multi = curl_multi_init();
    h->wloop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
    if (!h->multi || !h->wloop || (ca_file && !h->ca_file)) {
        if (h->multi)
            curl_multi_cleanup(h->multi);
        if (h->wloop)
            ev_loop_destroy(h->wloop);
        pthread_mutex_destroy(&h->mu);
        free(h->ca_file);
        free(h);
        err_set(e, "http: out of memory");
        return NULL;
    }
    ev_timer_init(&h->timer, on_timer, 0., 0.);
    h->timer.data = h;
    ev_async_init(&h->wake_w, on_wake);
    h->wake_w.data = h;
    ev_async_start(h->wloop, &h->wake_w);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, 256L);
    ev_async_init(&h->done_w, on_done);
    h->done_w.data = h;
    ev_async_start(loop, &h->done_w);
    ev_unref(loop);             /* only transfers in flight keep the caller's loop running */
    /* signals stay with the caller's thread (its loop's signal watchers) */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&h->th, NULL, http_main, h);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        ev_ref(loop);
        ev_async_stop(loop, &h->done_w);
        ev_async_stop(h->wloop, &h->wake_w);
        ev_loop_destroy(h->wloop);
        curl_multi_cleanup(h->multi);
        pthread_mutex_destroy(&h->mu);
        free(h->ca_file);
        free(h);
        err_set(e, "http: cannot start its thread: %s", strerror(rc));
        return NULL;
    }
    return h;
}

void http_free(http *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->stop = 1;
    pthread_mutex_unlock(&h->mu);
    ev_async_send(h->wloop, &h->wake_w);
    pthread_join(h->th, NULL);
    /* abandon transfers still running (shutdown after the grace period), and those
     * handed over either way but not yet taken: no callbacks */
    while (h->xfers) {
        xfer *x = h->xfers;
        unlink_xfer(x);
        curl_multi_remove_handle(h->multi, x->easy);
        xfer_free(x);
    }
    while (h->lanes) {          /* the waiting ones; those under way are freed above */
        lane *l = h->lanes;
        h->lanes = l->next;
        free_list(l->head);
        free(l);
    }
    free_list(h->in);
    free_list(h->out);
    while (h->nspare)
        curl_easy_cleanup(h->spare[--h->nspare]);
    ev_timer_stop(h->wloop, &h->timer);
    ev_async_stop(h->wloop, &h->wake_w);
    curl_multi_cleanup(h->multi);       /* after the handles, its sockets' watchers */
    ev_loop_destroy(h->wloop);
    if (h->inflight == 0)
        ev_ref(h->loop);                /* balance the unref of an idle watcher */
    ev_async_stop(h->loop, &h->done_w);
    pthread_mutex_destroy(&h->mu);
    free(h->ca_file);
    free(h);
}

int http_set_ca_file(http *h, const char *ca_file, cherr *e)
{
    char *ca = NULL;
    if (ca_file && !(ca = strdup(ca_file)))
        return err_set(e, "out of memory");
    free(h->ca_file);
    h->ca_file = ca;
    return 0;
}

int http_submit(http *h, http_req *req, http_done_fn fn, void *arg, cherr *e)
{
    xfer *x = calloc(1, sizeof *x);
    if (!x) {
        http_req_clear(req);
        return err_set(e, "out of memory");
    }
    x->h = h;
    x->req = *req;
    memset(req, 0, sizeof *req);
    x->fn = fn;
    x->arg = arg;
    x->easy = h->nspare ? h->spare[--h->nspare] : curl_easy_init();
    if (!x->easy) {
        xfer_free(x);
        return err_set(e, "curl_easy_init failed");
    }
    CURL *c = x->easy;
    for (char **l = x->req.headers; l && *l; l++)
        x->hdrs = curl_slist_append(x->hdrs, *l);
    x->hdrs = curl_slist_append(x->hdrs, "Expect:");   /* no 100-continue round trip */
    curl_easy_setopt(c, CURLOPT_URL, x->req.url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(c, CURLOPT_PRIVATE, x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PREREQFUNCTION, prereq_cb);
    curl_easy_setopt(c, CURLOPT_PREREQDATA, x);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, x->req.timeout_ms > 0 ? x->req.timeout_ms : 10000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    /* providers are reached over verified TLS only, redirects included (none are followed) */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    /* verification is curl's default and is never turned off; only the trust anchors vary */
    if (h->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
    if (!strcmp(x->req.method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, x->req.body ? x->req.body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->req.body_len);
    } else if (strcmp(x->req.method, "GET")) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, x->req.method);
    }
    /* to the HTTP thread; from here the transfer is its until it comes back */
    if (h->inflight++ == 0)
        ev_ref(h->loop);
    pthread_mutex_lock(&h->mu);
    list_append(&h->in, &h->in_tail, x, &x->qnext);
    pthread_mutex_unlock(&h->mu);
    ev_async_send(h->wloop, &h->wake_w);
    return 0;
}

void http_stop_waiting(http *h)
{
    pthread_mutex_lock(&h->mu);
    h->no_wait = 1;
    pthread_mutex_unlock(&h->mu);
    ev_async_send(h->wloop, &h->wake_w);
}

void http_withdraw_lane(http *h, const char *name)
{
    pthread_mutex_lock(&h->mu);
    int i = 0;
    while (i < h->nwithdraw && strcmp(h->withdraw[i], name))
        i++;
    if (i == h->nwithdraw && i < HTTP_WITHDRAW)     /* full: the waiting ones go out */
        snprintf(h->withdraw[h->nwithdraw++], HTTP_LANE_NAME, "%s", name);
    pthread_mutex_unlock(&h->mu);
    ev_async_send(h->wloop, &h->wake_w);
}

int http_inflight(const http *h)
{
    return h->inflight;
}

double http_thread_cpu(const http *h)
{
    clockid_t cid;
    return pthread_getcpuclockid(h->th, &cid) == 0 ? tu_clock_seconds(cid) : -1;
}

char **http_headers_add(char **headers, const char *fmt, ...)
{
    size_t n = 0;
    while (headers && headers[n])
        n++;
    char **v = realloc(headers, (n + 2) * sizeof *v);
    if (!v)
        return headers;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&v[n], fmt, ap) < 0)
        v[n] = NULL;
    va_end(ap);
    v[n + 1] = NULL;
    return v;
}

void http_req_clear(http_req *req)
{
    free(req->url);
    for (char **l = req->headers; l && *l; l++)
        free(*l);
    free(req->headers);
    free(req->body);
    memset(req, 0, sizeof *req);
}

char *http_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *o = malloc(3 * n + 1), *w = o;
    if (!o)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (http_unreserved(*p)) {
            *w++ = (char)*p;
        } else {
            *w++ = '%';
            *w++ = hex[*p >> 4];
            *w++ = hex[*p & 15];
        }
    }
    *w = '\0';
    return o;
}
