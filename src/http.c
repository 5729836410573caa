/* http.c — libcurl multi-socket driven by libev (see http.h). */
#include "http.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BODY (4 * 1024 * 1024)   /* a provider reply larger than this is broken */

struct http {
    struct ev_loop *loop;
    CURLM *multi;
    ev_timer timer;
    char *ca_file;
    int inflight;
    struct xfer *xfers;         /* transfers in flight, for http_free */
};

/* One socket curl asked us to watch. */
typedef struct sock {
    ev_io io;
    curl_socket_t fd;
    http *h;
} sock;

/* One transfer. */
typedef struct xfer {
    struct xfer *next, *prev;
    http *h;
    CURL *easy;
    struct curl_slist *hdrs;
    http_req req;
    char *buf;
    size_t len, cap;
    int too_big;
    int sends;                  /* times the request was about to be sent (prereq) */
    http_done_fn fn;
    void *arg;
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
            ev_io_stop(h->loop, &s->io);
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
        ev_io_stop(h->loop, &s->io);
    }
    s->fd = fd;
    ev_io_init(&s->io, on_io, fd, events);
    s->io.data = s;
    ev_io_start(h->loop, &s->io);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: one ev_timer, seconds = ms / 1000.0; -1 stops it. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    http *h = userp;
    ev_timer_stop(h->loop, &h->timer);
    if (timeout_ms >= 0) {
        ev_timer_set(&h->timer, (double)timeout_ms / 1000.0, 0.);
        ev_timer_start(h->loop, &h->timer);
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

static void xfer_free(xfer *x)
{
    unlink_xfer(x);
    if (x->easy)
        curl_easy_cleanup(x->easy);
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

static void check_done(http *h)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(h->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode code = m->data.result;
        curl_multi_remove_handle(h->multi, x->easy);
        h->inflight--;
        http_resp r = {0};
        r.curl_code = (int)code;
        if (code == CURLE_OK) {
            curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r.status);
        } else {
            r.error = x->too_big ? "reply larger than 4 MiB"
                                 : (x->errbuf[0] ? x->errbuf : curl_easy_strerror(code));
        }
        /* the request was on its way on some connection (libcurl then failed to make
         * its fresh one, say): it may have reached the provider whatever the last error */
        r.may_have_sent = x->sends > 0 || may_have_sent(x->easy, code);
        r.resends = x->sends > 1 ? x->sends - 1 : 0;
        curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME, &r.seconds);
        r.body = x->buf ? x->buf : "";
        r.body_len = x->len;
        x->fn(x->arg, &r);
        xfer_free(x);
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
    h->ca_file = ca_file ? strdup(ca_file) : NULL;
    h->multi = curl_multi_init();
    ev_timer_init(&h->timer, on_timer, 0., 0.);
    h->timer.data = h;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, 256L);
    return h;
}

void http_free(http *h)
{
    if (!h)
        return;
    /* abandon transfers still running (shutdown after the grace period) */
    while (h->xfers) {
        xfer *x = h->xfers;
        curl_multi_remove_handle(h->multi, x->easy);
        xfer_free(x);
    }
    ev_timer_stop(h->loop, &h->timer);
    curl_multi_cleanup(h->multi);
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
    x->easy = curl_easy_init();
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
    if (curl_multi_add_handle(h->multi, c) != CURLM_OK) {
        xfer_free(x);
        return err_set(e, "curl_multi_add_handle failed");
    }
    x->next = h->xfers;
    if (h->xfers)
        h->xfers->prev = x;
    h->xfers = x;
    h->inflight++;
    return 0;
}

int http_inflight(const http *h)
{
    return h->inflight;
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
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
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
