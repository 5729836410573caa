/* http.h — asynchronous HTTPS: libcurl's multi-socket API on a libev loop of its own.
 *
 * DESIGN.md decision 7. Sockets curl wants watched become ev_io watchers, curl's one
 * timeout becomes one ev_timer, finished transfers are drained with
 * curl_multi_info_read after every action and handed to the caller's callback —
 * never from inside a curl callback. That loop runs on a thread of its own, so TLS and
 * HTTP use the second core while the caller's thread decides, renders and writes the
 * store; every callback is still called from the caller's loop (woken by an ev_async),
 * and an http is used from that one thread only. Keep-alive and HTTP/2 multiplexing
 * stay on.
 * TLS peer and host verification are always on; `ca_file` only chooses which CAs
 * to trust. Rate limits are the caller's (per provider account); a concurrency limit is
 * the caller's too, enforced here, where requests end, by lanes (http_req.lane). */
#ifndef CHUDA_HTTP_H
#define CHUDA_HTTP_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct http http;

typedef struct http_header {
    char *line;                 /* "Name: value" */
} http_header;

/* A request. http_submit takes ownership of every pointer in it. */
typedef struct http_req {
    const char *method;         /* "GET" or "POST" (static string) */
    char *url;
    char **headers;             /* "Name: value" lines, NULL-terminated, or NULL */
    char *body;                 /* POST body (may contain any bytes) */
    size_t body_len;
    long timeout_ms;            /* whole transfer, from the moment it starts; 0: 10 s */
    /* A lane: requests submitted with the same non-NULL `lane` (a name, the caller's for
     * one provider account: chuda's channel name, the same across SIGHUP's instances; at
     * most 63 bytes count) are under way at most `lane_limit` at a time. The HTTP thread
     * starts the others, in the order they were submitted, as the lane's requests end: a
     * provider sees at most `lane_limit` of them (the waiting one's own limit), while the
     * caller may hand over more than that, ready for a free slot. */
    const char *lane;
    int lane_limit;
} http_req;

typedef struct http_resp {
    long status;                /* HTTP status, 0 when there was no reply */
    int curl_code;              /* CURLE_OK on a completed exchange */
    const char *error;          /* curl's reason when curl_code != 0 */
    int may_have_sent;          /* the request may have reached the server */
    int resends;                /* times libcurl sent the request again by itself: a reused
                                   connection died before any reply, so it retried on a
                                   fresh one (the first copy may have been processed) */
    int not_started;            /* it waited in its lane and was withdrawn
                                   (http_stop_waiting, http_withdraw_lane): it never left */
    const char *body;           /* NUL-terminated; body_len excludes the NUL */
    size_t body_len;
    double seconds;             /* total time */
} http_resp;

typedef void (*http_done_fn)(void *arg, const http_resp *r);

/* `ca_file` NULL: the system's CA bundle. */
http *http_new(struct ev_loop *loop, const char *ca_file, cherr *e);
void http_free(http *h);
/* Trust `ca_file` (NULL: the system's) from the next request on (SIGHUP). -1 when out
 * of memory, the old one kept. curl does not reuse a connection verified otherwise. */
int http_set_ca_file(http *h, const char *ca_file, cherr *e);

/* Start a request; `fn` is called once with the result, from the loop. On failure
 * to start, returns -1 and `fn` is not called; the request is freed either way. */
int http_submit(http *h, http_req *req, http_done_fn fn, void *arg, cherr *e);

/* Shutting down: from now on no request waits in a lane. The ones waiting, and any
 * submitted later that would have to wait, come back (to their callbacks, from the loop)
 * with not_started set; the ones under way finish as usual. */
void http_stop_waiting(http *h);
/* The provider paused the account of lane `name`: its requests waiting for a slot come back with
 * not_started set (those under way finish; later ones wait as usual). At most 32 lanes
 * are asked at once: beyond that, the waiting ones go out and meet the provider's pause. */
void http_withdraw_lane(http *h, const char *name);
/* Requests submitted and not yet finished (a lane's waiting ones included). */
int http_inflight(const http *h);
/* CPU time the HTTP thread has used so far, in seconds (-1 if the system cannot say). */
double http_thread_cpu(const http *h);

/* Helpers to build requests. */
char **http_headers_add(char **headers, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void http_req_clear(http_req *req);
/* RFC 3986 §2.3 unreserved: A-Z a-z 0-9 - _ . ~, what a URL carries as it is. */
static inline int http_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}
/* Percent-encode for a query string value (unreserved kept). malloc'd. */
char *http_escape(const char *s);

#endif
