/* router.c - the libmicrohttpd daemon of chuda-sim and the life of one
 * request in it (see router.h):
 *
 *   URI log callback   allocate the struct sim_req, keep the raw URI
 *   access handler     read the body; then control API or fault or fake
 *                      provider; queue the reply (or suspend the connection
 *                      for a delayed reply, or close it for a "reset")
 *   completed callback release per-request holds (on_done) and free
 *
 * A small timer thread resumes suspended connections when their delay is
 * over.  Every provider request is recorded when its reply is queued. */
#include "router.h"
#include "control.h"
#include "fault.h"
#include "record.h"
#include "sms_aliyun.h"
#include "sms_tencent.h"
#include "wechat.h"
#include "wecom.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/base64.h>
#include <microhttpd.h>

#define BODY_MAX (8u << 20)

enum { ST_NEW, ST_BODY, ST_DELAYED, ST_QUEUED };

static struct MHD_Daemon *daemon_;
static const struct scfg *cfg_;

/* ---- helpers for handlers ----------------------------------------------- */

const char *sim_req_header(struct sim_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *sim_req_arg(struct sim_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

void sim_reply(struct sim_req *r, unsigned status, const char *ctype,
               const char *body, size_t len)
{
    free(r->resp);
    r->resp = su_xmalloc(len + 1);
    memcpy(r->resp, body, len);
    r->resp[len] = '\0';
    r->resp_len = len;
    r->status = status;
    r->ctype = ctype;
}

void sim_reply_json(struct sim_req *r, unsigned status, json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (!text) {
        sim_reply(r, 500, "text/plain", "out of memory\n", 14);
        return;
    }
    free(r->resp);
    r->resp = text;
    r->resp_len = strlen(text);
    r->status = status;
    r->ctype = "application/json; charset=utf-8";
}

void sim_reply_errcode(struct sim_req *r, long errcode, const char *errmsg)
{
    char msg[512];
    if (errcode != 0 && cfg_->errmsg_rid) {
        uint64_t x = su_rand_id();
        snprintf(msg, sizeof msg, "%s rid: %08llx-%08llx-%08llx", errmsg,
                 (unsigned long long)(r->at_ms / 1000) & 0xffffffffULL,
                 (unsigned long long)(x >> 32),
                 (unsigned long long)(x & 0xffffffffULL));
        errmsg = msg;
    }
    json_t *o = json_object();
    json_object_set_new(o, "errcode", json_integer(errcode));
    json_object_set_new(o, "errmsg", json_string(errmsg));
    sim_reply_json(r, 200, o);
    sim_outcome(r, "%ld", errcode);
}

void sim_record_set(struct sim_req *r, const char *key, json_t *val)
{
    if (!r->extra)
        r->extra = json_object();
    json_object_set_new(r->extra, key, val);
}

void sim_outcome(struct sim_req *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->outcome, sizeof r->outcome, fmt, ap);
    va_end(ap);
}

bool sim_busy(struct sim_req *r)
{
    return r->cfg->busy_rate > 0 && su_rand_fault() < r->cfg->busy_rate;
}

/* ---- routing -------------------------------------------------------------- */

struct route {
    const char *path;
    const char *provider;
    void (*handler)(struct sim_req *r);
};

static const struct route routes[] = {
    {"/cgi-bin/stable_token", "wechat", wxsim_stable_token},
    {"/cgi-bin/token", "wechat", wxsim_token},
    {"/cgi-bin/message/subscribe/send", "wechat", wxsim_subscribe_send},
    {"/cgi-bin/message/template/send", "wechat", wxsim_template_send},
    {"/cgi-bin/gettoken", "wecom", wcsim_gettoken},
    {"/cgi-bin/message/send", "wecom", wcsim_send},
    {"/cgi-bin/externalcontact/add_msg_template", "wecom",
     wcsim_add_msg_template},
    {"/cgi-bin/webhook/send", "wecom", wcsim_webhook},
    {NULL, NULL, NULL}
};

static const struct route route_tencent = {"/", "tencent", tcsim_send};
static const struct route route_aliyun = {"/", "aliyun", alisim_handle};

static bool form_has_action(struct sim_req *r)
{
    const char *ct = sim_req_header(r, "Content-Type");
    if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33))
        return false;
    const char *b = r->body.p ? r->body.p : "";
    return !strncmp(b, "Action=", 7) || strstr(b, "&Action=");
}

static const struct route *find_route(struct sim_req *r)
{
    for (const struct route *rt = routes; rt->path; rt++)
        if (!strcmp(rt->path, r->path))
            return rt;
    if (!strcmp(r->path, "/")) {
        if (sim_req_header(r, "X-TC-Action"))
            return &route_tencent;
        if (sim_req_arg(r, "Action") || form_has_action(r))
            return &route_aliyun;
    }
    return NULL;
}

/* Answer from an injected fault (other than a pure delay). */
static void apply_fault(struct sim_req *r, const struct route *rt,
                        json_t *spec)
{
    json_t *v;
    unsigned status = 200;
    if ((v = json_object_get(spec, "status")))
        status = (unsigned)json_integer_value(v);
    const char *msg = json_string_value(json_object_get(spec, "message"));

    if (json_is_true(json_object_get(spec, "reset"))) {
        r->reset = true;
        sim_outcome(r, "reset");
    } else if ((v = json_object_get(spec, "body"))) {
        sim_reply(r, status, "application/json; charset=utf-8",
                  json_string_value(v), json_string_length(v));
        sim_outcome(r, "body");
    } else if ((v = json_object_get(spec, "code"))) {
        const char *code = json_string_value(v);
        if (!msg)
            msg = "injected fault";
        if (rt && !strcmp(rt->provider, "tencent"))
            tcsim_reply_error(r, code, msg);
        else
            alisim_reply_error(r, code, msg);
        r->status = status != 200 ? status : r->status;
    } else if ((v = json_object_get(spec, "errcode"))) {
        long ec = (long)json_integer_value(v);
        const char *em = json_string_value(json_object_get(spec, "errmsg"));
        sim_reply_errcode(r, ec, em ? em : ec == -1 ? "system error"
                                                    : "injected fault");
        r->status = status;
    } else {
        char page[200];
        int n = snprintf(page, sizeof page,
                         "<html><body><h1>%u</h1>%s</body></html>\n", status,
                         msg ? msg : "injected fault");
        sim_reply(r, status, "text/html", page, (size_t)n);
        sim_outcome(r, "http_%u", status);
    }
}

/* A fault with only delay_ms, reset_after or partial lets the request be
 * processed normally (the provider acts); only the reply is affected. */
static bool fault_lets_process(json_t *spec)
{
    return !json_object_get(spec, "errcode") &&
           !json_object_get(spec, "status") &&
           !json_is_true(json_object_get(spec, "reset")) &&
           !json_object_get(spec, "body") && !json_object_get(spec, "code");
}

static void process(struct sim_req *r)
{
    if (!strncmp(r->path, "/_sim/", 6) || !strcmp(r->path, "/_sim")) {
        sctl_handle(r);
        return;
    }
    const struct route *rt = find_route(r);
    r->provider = rt ? rt->provider : "none";
    json_t *spec = sflt_take(r->path, r->provider, r->query, r->body.p);
    if (spec) {
        r->fault = spec;
        json_t *d = json_object_get(spec, "delay_ms");
        r->delay_ms = d ? json_integer_value(d) : 0;
        if (!fault_lets_process(spec)) {
            apply_fault(r, rt, spec);
            return;
        }
    }
    if (!rt) {
        json_t *o = json_object();
        json_object_set_new(o, "errcode", json_integer(404));
        json_object_set_new(o, "errmsg", json_string("chuda-sim: no such "
                                                     "provider endpoint"));
        sim_reply_json(r, 404, o);
        sim_outcome(r, "404");
        return;
    }
    rt->handler(r);
    if (!r->resp && !r->reset) {
        sim_reply(r, 500, "text/plain", "handler gave no reply\n", 22);
        sim_outcome(r, "http_500");
    }
    /* processed (and recorded with its outcome), but the client never learns it */
    if (spec && json_is_true(json_object_get(spec, "reset_after")))
        r->reset = true;
    else if (spec && json_is_true(json_object_get(spec, "partial")))
        r->partial = true;
}

/* ---- recording -------------------------------------------------------------- */

/* The record line is written by hand (not through jansson objects): it is
 * built for every provider request and is the simulator's hottest code. */

struct hdr_ctx {
    struct su_buf *b;
    int n;
};

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind,
                                  const char *key, const char *value)
{
    (void)kind;
    struct hdr_ctx *h = cls;
    char name[128];
    size_t i;
    for (i = 0; key[i] && i + 1 < sizeof name; i++)
        name[i] = (char)tolower((unsigned char)key[i]);
    name[i] = '\0';
    if (h->n++)
        su_buf_add(h->b, ",", 1);
    su_buf_json_str(h->b, name, i);
    su_buf_add(h->b, ":", 1);
    su_buf_json_str(h->b, value ? value : "", value ? strlen(value) : 0);
    return MHD_YES;
}

/* ,"key":"bytes" and, when they are not valid UTF-8, ,"key_base64":"..." */
static void put_bytes(struct su_buf *b, const char *key, const char *s,
                      size_t n)
{
    su_buf_printf(b, ",\"%s\":", key);
    if (su_buf_json_str(b, s ? s : "", s ? n : 0))
        return;
    size_t olen = 0;
    mbedtls_base64_encode(NULL, 0, &olen, (const unsigned char *)s, n);
    char *enc = su_xmalloc(olen + 1);
    if (mbedtls_base64_encode((unsigned char *)enc, olen + 1, &olen,
                              (const unsigned char *)s, n) == 0)
        su_buf_printf(b, ",\"%s_base64\":\"%.*s\"", key, (int)olen, enc);
    free(enc);
}

static void put_json(struct su_buf *b, const char *key, json_t *v)
{
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
                            JSON_PRESERVE_ORDER);
    if (t) {
        su_buf_printf(b, ",\"%s\":%s", key, t);
        free(t);
    }
}

static void record(struct sim_req *r)
{
    struct srec_meta m = {
        .path = r->path, .outcome = r->outcome, .delivered = r->delivered,
        .duplicate = r->duplicate, .dropped = r->dropped,
        .fault = r->fault != NULL,
    };
    if (!srec_keeps()) {        /* counted in the stats only: the line would go nowhere */
        srec_add(NULL, 0, &m);
        return;
    }
    struct su_buf b = {0};
    struct hdr_ctx h = {&b, 0};
    su_buf_printf(&b, "{\"at_ms\":%lld,\"method\":", (long long)r->at_ms);
    su_buf_json_str(&b, r->method, strlen(r->method));
    put_bytes(&b, "path", r->path, strlen(r->path));
    put_bytes(&b, "query", r->query, strlen(r->query));
    su_buf_str(&b, ",\"headers\":{");
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, add_header, &h);
    su_buf_str(&b, "}");
    put_bytes(&b, "body", r->body.p, r->body.len);
    su_buf_printf(&b, ",\"status\":%u", r->reset ? 0 : r->status);
    put_bytes(&b, "response", r->resp, r->resp_len);
    su_buf_printf(&b, ",\"delivered\":%s,\"duplicate\":%s,\"dropped\":%s,"
                  "\"provider\":\"%s\",\"outcome\":",
                  r->delivered ? "true" : "false",
                  r->duplicate ? "true" : "false",
                  r->dropped ? "true" : "false", r->provider);
    su_buf_json_str(&b, r->outcome, strlen(r->outcome));
    if (r->fault)
        put_json(&b, "fault", r->fault);
    if (r->delay_ms)
        su_buf_printf(&b, ",\"delay_ms\":%lld", (long long)r->delay_ms);
    const char *key;
    json_t *v;
    json_object_foreach(r->extra, key, v)
        put_json(&b, key, v);
    su_buf_add(&b, "}", 1);
    if (b.p)
        srec_add(b.p, b.len, &m);
    su_buf_free(&b);
}

/* ---- delayed replies ---------------------------------------------------------- */

struct pending {
    struct pending *next;
    int64_t due_ms;
    struct MHD_Connection *conn;
};

static pthread_mutex_t delay_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t delay_cond = PTHREAD_COND_INITIALIZER;
static struct pending *delayed;
static bool delay_stop;
static pthread_t delay_thread;
static int n_suspended;

static void *delay_loop(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&delay_lock);
    for (;;) {
        int64_t now = su_now_ms();
        while (delayed && (delayed->due_ms <= now || delay_stop)) {
            struct pending *p = delayed;
            delayed = p->next;
            MHD_resume_connection(p->conn);
            free(p);
        }
        if (delay_stop && !delayed)
            break;
        struct timespec ts;
        int64_t until = delayed ? delayed->due_ms : now + 1000;
        ts.tv_sec = (time_t)(until / 1000);
        ts.tv_nsec = (long)(until % 1000) * 1000000L;
        pthread_cond_timedwait(&delay_cond, &delay_lock, &ts);
    }
    pthread_mutex_unlock(&delay_lock);
    return NULL;
}

int sim_delayed_pending(void)
{
    pthread_mutex_lock(&delay_lock);
    int n = n_suspended;
    pthread_mutex_unlock(&delay_lock);
    return n;
}

/* Called from the access handler with the connection just suspended. */
static void delay_add(struct MHD_Connection *conn, int64_t due_ms)
{
    struct pending *p = su_xmalloc(sizeof *p), **q;
    p->due_ms = due_ms;
    p->conn = conn;
    pthread_mutex_lock(&delay_lock);
    for (q = &delayed; *q && (*q)->due_ms <= due_ms; q = &(*q)->next)
        ;
    p->next = *q;
    *q = p;
    n_suspended++;
    pthread_cond_signal(&delay_cond);
    pthread_mutex_unlock(&delay_lock);
}

/* ---- MHD callbacks -------------------------------------------------------------- */

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    struct sim_req *r = su_xcalloc(1, sizeof *r);
    r->conn = conn;
    r->cfg = cfg_;
    r->at_ms = su_now_ms();
    r->uri = su_strdup(uri ? uri : "/");
    char *q = strchr(r->uri, '?');
    size_t plen = q ? (size_t)(q - r->uri) : strlen(r->uri);
    r->path = su_xmalloc(plen + 1);
    memcpy(r->path, r->uri, plen);
    r->path[plen] = '\0';
    r->query = su_strdup(q ? q + 1 : "");
    r->status = 200;
    r->provider = "none";
    return r;
}

/* A "partial" reply: the full Content-Length is announced, half the body is
 * sent, then the connection is closed. */
struct partial {
    char *p;
    size_t len;
};

static ssize_t partial_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct partial *pr = cls;
    size_t half = pr->len / 2;
    if (pos >= half)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = half - (size_t)pos;
    if (n > max)
        n = max;
    memcpy(buf, pr->p + pos, n);
    return (ssize_t)n;
}

static void partial_free(void *cls)
{
    struct partial *pr = cls;
    free(pr->p);
    free(pr);
}

static struct MHD_Response *partial_response(struct sim_req *r)
{
    struct partial *pr = su_xcalloc(1, sizeof *pr);
    pr->p = r->resp;
    pr->len = r->resp_len;
    r->resp = NULL;
    r->resp_len = 0;
    return MHD_create_response_from_callback(pr->len, 4096, partial_read, pr,
                                             partial_free);
}

static enum MHD_Result send_reply(struct sim_req *r)
{
    if (strncmp(r->path, "/_sim", 5) != 0)
        record(r);
    r->state = ST_QUEUED;
    if (r->reset)
        return MHD_NO;
    struct MHD_Response *resp = r->partial && r->resp_len ? partial_response(r) :
        MHD_create_response_from_buffer(r->resp_len, r->resp ? r->resp : (char *)"",
                                        MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    if (r->ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->ctype);
    enum MHD_Result ret = MHD_queue_response(r->conn, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn,
                                      const char *url, const char *method,
                                      const char *version,
                                      const char *upload_data,
                                      size_t *upload_data_size, void **ctx)
{
    (void)cls, (void)url, (void)version;
    struct sim_req *r = *ctx;
    if (!r)
        return MHD_NO;   /* cannot happen: uri_log always allocates */

    switch (r->state) {
    case ST_NEW:
        snprintf(r->method, sizeof r->method, "%s", method);
        r->state = ST_BODY;
        return MHD_YES;
    case ST_BODY:
        if (*upload_data_size) {
            if (r->body.len + *upload_data_size > BODY_MAX ||
                su_buf_add(&r->body, upload_data, *upload_data_size) != 0)
                return MHD_NO;
            *upload_data_size = 0;
            return MHD_YES;
        }
        process(r);
        if (r->delay_ms > 0) {
            r->state = ST_DELAYED;
            MHD_suspend_connection(conn);
            delay_add(conn, su_now_ms() + r->delay_ms);
            return MHD_YES;
        }
        return send_reply(r);
    case ST_DELAYED:
        pthread_mutex_lock(&delay_lock);
        n_suspended--;
        pthread_mutex_unlock(&delay_lock);
        return send_reply(r);
    default:
        return MHD_YES;
    }
}

static void completed(void *cls, struct MHD_Connection *conn, void **ctx,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    struct sim_req *r = *ctx;
    if (!r)
        return;
    if (r->state == ST_DELAYED) {
        /* the client left while its reply was held back: MHD ended the request
         * without resuming the handler; what the provider did is recorded anyway */
        pthread_mutex_lock(&delay_lock);
        n_suspended--;
        pthread_mutex_unlock(&delay_lock);
        if (strncmp(r->path, "/_sim", 5) != 0) {
            sim_record_set(r, "client_gone", json_true());
            record(r);
        }
    }
    if (r->on_done)
        r->on_done(r->on_done_arg);
    free(r->uri);
    free(r->path);
    free(r->query);
    su_buf_free(&r->body);
    free(r->resp);
    json_decref(r->extra);
    json_decref(r->fault);
    free(r);
    *ctx = NULL;
}

/* ---- start / stop ---------------------------------------------------------------- */

unsigned sim_server_start(const struct sim_server_opts *o, char *err,
                          size_t errsz)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)o->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    cfg_ = o->cfg;
    unsigned threads = o->threads;
    if (!threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 2;
    }
    if (pthread_create(&delay_thread, NULL, delay_loop, NULL) != 0) {
        snprintf(err, errsz, "cannot start the delay thread");
        return 0;
    }
    unsigned flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_TURBO;
    daemon_ = MHD_start_daemon(
        flags, 0, NULL, NULL, access_handler, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_HTTPS_MEM_CERT, o->cert_pem,
        MHD_OPTION_HTTPS_MEM_KEY, o->key_pem,
        MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_URI_LOG_CALLBACK, uri_log, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->cfg->idle_timeout,
        MHD_OPTION_CONNECTION_LIMIT, 20000u,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        /* MHD zeroes a connection's pool after every request: 16 KiB (default 32)
         * holds any provider request's headers; bodies stream past it */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
        MHD_OPTION_END);
    if (!daemon_) {
        snprintf(err, errsz, "cannot start the HTTPS server on 127.0.0.1:%u "
                 "(port in use, or a bad certificate/key)", o->port);
        sim_server_stop();
        return 0;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_LISTEN_FD);
    struct sockaddr_in bound;
    socklen_t blen = sizeof bound;
    if (!info || getsockname(info->listen_fd, (struct sockaddr *)&bound,
                             &blen) != 0) {
        snprintf(err, errsz, "cannot read the bound port");
        sim_server_stop();
        return 0;
    }
    return ntohs(bound.sin_port);
}

void sim_server_stop(void)
{
    /* Resume every delayed reply first: MHD must not stop with suspended
     * connections. */
    pthread_mutex_lock(&delay_lock);
    delay_stop = true;
    pthread_cond_signal(&delay_cond);
    pthread_mutex_unlock(&delay_lock);
    pthread_join(delay_thread, NULL);
    if (daemon_) {
        for (int i = 0; i < 200; i++) {
            pthread_mutex_lock(&delay_lock);
            int n = n_suspended;
            pthread_mutex_unlock(&delay_lock);
            if (n <= 0)
                break;
            usleep(10000);
        }
        MHD_stop_daemon(daemon_);
        daemon_ = NULL;
    }
}
