/* api.c — the HTTP API on the scheduler's loop (see api.h).
 *
 * libmicrohttpd runs in external-epoll mode: its epoll fd is one ev_io on the libev
 * loop and its timeout one ev_timer, so requests are served by the same thread that
 * schedules, and a handler may use the store directly. Writes join the loop's open
 * transaction; the connection is suspended and resumed with its answer by
 * api_committed(), which sched.c calls right after the commit. */
#include "api.h"

#include <arpa/inet.h>
#include <limits.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apireq.h"
#include "buf.h"
#include "callback.h"
#include "campaign.h"
#include "cbapply.h"
#include "enqueue.h"
#include "fixstr.h"
#include "sched.h"
#include "sign.h"
#include "timeutil.h"
#include "token.h"

typedef struct req req;

struct api {
    sched *s;
    struct MHD_Daemon *d;
    ev_io io;
    ev_timer timer;
    char token[256];
    char wechat_token[256];     /* the Token of WeChat's push configuration, "" if none */
    char callback_key[256];     /* the SMS providers' ?key=, "" if none */
    size_t max_body;
    req *waiting;               /* suspended until the commit */
    int running, again;         /* inside MHD_run; run it again when it returns */
};

/* One request: its body as it arrives, then its answer. */
struct req {
    req *next;
    struct MHD_Connection *conn;
    buf body;
    int too_big;
    int suspended;
    int answered;
    unsigned status;
    char *answer;               /* JSON or text */
    const char *ctype;
};

/* ---- loop integration ------------------------------------------------------------ */

static void rearm(api *a)
{
    MHD_UNSIGNED_LONG_LONG ms;
    ev_timer_stop(a->s->loop, &a->timer);
    if (MHD_get_timeout(a->d, &ms) == MHD_YES) {
        ev_timer_set(&a->timer, (double)ms / 1000.0, 0.);
        ev_timer_start(a->s->loop, &a->timer);
    }
}

/* MHD_run, never from inside itself: a handler that resumes connections (a storage
 * failure answering every waiting request) asks for another run after this one. */
static void run_mhd(api *a)
{
    if (a->running) {
        a->again = 1;
        return;
    }
    a->running = 1;
    do {
        a->again = 0;
        MHD_run(a->d);
    } while (a->again);
    a->running = 0;
    rearm(a);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    run_mhd(w->data);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    run_mhd(w->data);
}

/* ---- answers ---------------------------------------------------------------------- */

static void answer(req *r, unsigned status, json_t *j)
{
    free(r->answer);
    r->answer = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    r->status = status;
    r->ctype = "application/json";
    r->answered = 1;
}

/* {"error": "...", "field": "..."}: the field is the first word of `from` (the reason,
 * or what follows its context) when it names one ("user: no user 'x'"). */
static void fail_at(req *r, unsigned status, const char *msg, const char *from)
{
    json_t *j = json_object();
    json_object_set_new(j, "error", json_string(msg));
    const char *colon = strchr(from, ':');
    if (colon && colon - from < 40 && !memchr(from, ' ', (size_t)(colon - from)))
        json_object_set_new(j, "field", json_stringn(from, (size_t)(colon - from)));
    answer(r, status, j);
}

static void fail(req *r, unsigned status, const char *msg)
{
    fail_at(r, status, msg, msg);
}

/* A text answer (metrics, a provider's expected reply). */
static void answer_text(req *r, unsigned status, const char *ctype, char *text)
{
    free(r->answer);
    r->answer = text;
    r->status = status;
    r->ctype = ctype;
    r->answered = 1;
}

static enum MHD_Result send_answer(struct MHD_Connection *c, req *r)
{
    const char *text = r->answer ? r->answer : "";
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), (void *)text,
                                                                MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", r->ctype ? r->ctype : "application/json");
    enum MHD_Result rc = MHD_queue_response(c, r->status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* ---- handlers ---------------------------------------------------------------------- */

static json_t *parse_body(req *r)
{
    cherr e;
    json_t *j = apireq_body(r->body.s, r->body.len, &e);
    if (!j)
        fail(r, 400, e.msg);
    return j;
}

/* The write went into the loop's transaction: wait for the commit to answer. */
static int defer_answer(api *a, req *r)
{
    if (a->s->failed) {
        fail(r, 503, "storage: unavailable");
        return 0;
    }
    r->suspended = 1;
    return 1;
}

/* The write failed: stop the loop (storage is gone) and say so. */
static int storage_failed(api *a, req *r, const cherr *e)
{
    if (!a->s->failed)
        sched_fail(a->s, e);
    fail(r, 503, "storage: unavailable");
    return 0;
}

static int post_message(api *a, req *r)
{
    json_t *j = parse_body(r);
    if (!j)
        return 0;
    enq_request er;
    cherr e;
    int64_t id;
    int dup = 0, rc = -1;
    if (enq_from_json(j, &er, &e) < 0 || sched_tx(a->s) < 0 ||
        (rc = enq_one(a->s->a, &er, tu_now(), &id, &dup, &e)) < 0) {
        json_decref(j);
        if (rc == ENQ_STORAGE)          /* part of it may be in the open transaction */
            return storage_failed(a, r, &e);
        fail(r, a->s->failed ? 503 : 400, a->s->failed ? "storage: unavailable" : e.msg);
        return 0;
    }
    json_decref(j);
    if (!dup)
        sched_wake_sooner(a->s);        /* due now: sent now, not at the next poll */
    answer(r, dup ? 200 : 201, json_pack("{s:I, s:b}", "id", (json_int_t)id, "duplicate", dup));
    return defer_answer(a, r);
}

static const char *arg(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static int delete_messages(api *a, req *r)
{
    const char *key = arg(r->conn, "key"), *user = arg(r->conn, "user"),
               *tag = arg(r->conn, "tag");
    if (!key == !(user && tag) || (key && (user || tag))) {
        fail(r, 400, "query: give key=K, or user=U and tag=T");
        return 0;
    }
    cherr e;
    store_msg *v = NULL;
    int n = 0;
    int64_t now = tu_now();
    store *st = a->s->a->st;
    if (sched_tx(a->s) < 0 || store_cancel(st, key, user, tag, now, &v, &n, &e) < 0)
        return storage_failed(a, r, &e);
    for (int i = 0; i < n; i++) {
        char reason[200];
        snprintf(reason, sizeof reason, key ? "cancelled by key %s (api)" : "cancelled by user %s tag %s (api)",
                 key ? key : user, tag);
        fs_utf8_clip(reason);
        store_event ev = {.at = now, .message_id = v[i].id, .campaign_id = v[i].campaign_id,
                          .user_id = v[i].user_id, .event = "cancelled", .reason = reason};
        if (store_finish(st, &v[i], "cancelled", NULL, NULL, now, &e) < 0 ||
            store_log(st, &ev, &e) < 0) {
            sched_fail(a->s, &e);
            break;
        }
    }
    store_msgs_free(v, n);
    answer(r, 200, json_pack("{s:i}", "cancelled", n));
    return defer_answer(a, r);
}

static int history_row(const store_logrow *row, void *arg)
{
    char ts[32];
    json_array_append_new(arg, json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:s?}", "seq",
                                         (json_int_t)row->seq, "at",
                                         tu_format(row->at, ts, sizeof ts), "event", row->event,
                                         "channel", row->channel, "code", row->code, "reason",
                                         row->reason));
    return 0;
}

/* A positive decimal id from a path, or 0. */
static int64_t path_id(const char *text)
{
    char *end;
    if (!*text || *text < '0' || *text > '9')
        return 0;
    long long id = strtoll(text, &end, 10);
    return *end || id <= 0 || id == LLONG_MAX ? 0 : (int64_t)id;
}

static int get_message(api *a, req *r, const char *idtext)
{
    int64_t id = path_id(idtext);
    if (!id) {
        fail(r, 400, "id: not a message id");
        return 0;
    }
    store_msg m;
    store_msgstate st;
    cherr e;
    int found = store_msg_get(a->s->a->st, id, &m, &st, &e);
    if (found <= 0) {
        fail(r, found < 0 ? 503 : 404, found < 0 ? "storage: unavailable" : "id: no such message");
        return 0;
    }
    char t1[32], t2[32];
    json_t *j = json_pack("{s:I, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s, s:s}", "id", (json_int_t)id,
                          "user", m.user_id, "template", m.tmpl, "class", m.klass, "tag", m.tag,
                          "channel", m.channel, "key", m.idem_key, "state", st.state, "created",
                          tu_format(m.created_at, t1, sizeof t1));
    if (!strcmp(st.state, "queued") || !strcmp(st.state, "held") ||
        !strcmp(st.state, "leased")) {
        json_object_set_new(j, "due", json_string(tu_format(m.due_at, t2, sizeof t2)));
        json_object_set_new(j, "attempts", json_integer(m.attempts));
    } else {
        json_object_set_new(j, "finished", json_string(tu_format(st.finished_at, t2, sizeof t2)));
        if (st.code[0])
            json_object_set_new(j, "code", json_string(st.code));
        if (st.channel[0])
            json_object_set_new(j, "sent_channel", json_string(st.channel));
    }
    json_t *hist = json_array();
    store_logq q = {.message_id = id};
    if (store_log_each(a->s->a->st, &q, history_row, hist, &e) < 0) {
        json_decref(hist);
        json_decref(j);
        store_msg_free(&m);
        fail(r, 503, "storage: unavailable");
        return 0;
    }
    json_object_set_new(j, "history", hist);
    store_msg_free(&m);
    answer(r, 200, j);
    return 0;
}

/* A user that exists, or an answer saying why not. */
static int user_ok(api *a, req *r, const char *user)
{
    store_user u = {0};
    cherr e;
    int found = user ? store_user_get(a->s->a->st, user, &u, &e) : 0;
    store_user_free(&u);
    if (found < 0)
        fail(r, 503, "storage: unavailable");
    else if (!found)
        fail(r, user ? 404 : 400, user ? "user: no such user" : "user: missing");
    return found == 1;
}

static int get_campaign(api *a, req *r, const char *idtext)
{
    int64_t id = path_id(idtext);
    if (!id) {
        fail(r, 400, "id: not a campaign id");
        return 0;
    }
    json_t *j;
    cherr e;
    int found = campaign_show_json(a->s->a, id, &j, &e);
    if (found <= 0)
        fail(r, found < 0 ? 503 : 404, found < 0 ? "storage: unavailable" : "id: no such campaign");
    else
        answer(r, 200, j);
    return 0;
}

/* An opt-out's scope: "*" (or absent) for all, else a channel / a category. */
static int scope_ok(req *r, const char *ch, const char *cat)
{
    cherr e;
    if (apireq_scope(ch, cat, &e) < 0) {
        fail(r, 400, e.msg);
        return 0;
    }
    return 1;
}

static int post_optout(api *a, req *r)
{
    json_t *j = parse_body(r);
    if (!j)
        return 0;
    apireq_optout q;
    cherr e;
    int rc = 0;
    if (apireq_optout_parse(j, &q, &e) < 0)
        fail(r, 400, e.msg);
    else if (user_ok(a, r, q.user)) {
        store_optout o = {.at = tu_now()};
        fs_copy(o.channel, sizeof o.channel, q.channel ? q.channel : "*");
        fs_copy(o.category, sizeof o.category, q.category ? q.category : "*");
        snprintf(o.source, sizeof o.source, "api");
        fs_copy(o.reason, sizeof o.reason, q.reason ? q.reason : "");
        if (sched_tx(a->s) < 0 || store_optout_put(a->s->a->st, q.user, &o, &e) < 0) {
            storage_failed(a, r, &e);
        } else {
            answer(r, 201, json_pack("{s:s, s:s, s:s}", "user", q.user, "channel", o.channel,
                                     "category", o.category));
            rc = defer_answer(a, r);
        }
    }
    json_decref(j);
    return rc;
}

static int delete_optout(api *a, req *r)
{
    const char *user = arg(r->conn, "user"), *ch = arg(r->conn, "channel"),
               *cat = arg(r->conn, "category");
    if (!scope_ok(r, ch, cat) || !user_ok(a, r, user))
        return 0;
    cherr e;
    int n;
    if (sched_tx(a->s) < 0 || (n = store_optout_del(a->s->a->st, user, ch, cat, &e)) < 0)
        return storage_failed(a, r, &e);
    answer(r, 200, json_pack("{s:i}", "removed", n));
    return defer_answer(a, r);
}

static int post_credits(api *a, req *r)
{
    json_t *j = parse_body(r);
    if (!j)
        return 0;
    apireq_credits q;
    cherr e;
    int rc = 0;
    if (apireq_credits_parse(j, &q, &e) < 0)
        fail(r, 400, e.msg);
    else if (user_ok(a, r, q.user)) {
        long have = 0;
        if (sched_tx(a->s) < 0 ||
            store_credits_add(a->s->a->st, q.user, q.template_id, q.n, 0, tu_now(), &e) < 0 ||
            store_credits_get(a->s->a->st, q.user, q.template_id, &have, &e) < 0) {
            storage_failed(a, r, &e);
        } else {
            answer(r, 201, json_pack("{s:s, s:s, s:i}", "user", q.user, "template_id",
                                     q.template_id, "credits", (int)have));
            rc = defer_answer(a, r);
        }
    }
    json_decref(j);
    return rc;
}

/* ---- metrics ---------------------------------------------------------------------- */

typedef struct metric_ctx {
    buf *b;
    const char *name;
} metric_ctx;

static int metric_row(const char *const *v, int nv, int64_t n, void *arg)
{
    metric_ctx *m = arg;
    if (!strcmp(m->name, "chuda_events_total"))
        buf_printf(m->b, "chuda_events_total{channel=\"%s\",event=\"%s\"} %lld\n", v[0] ? v[0] : "",
                   v[1] ? v[1] : "", (long long)n);
    else if (v[0] && !strcmp(v[0], "suppressed"))
        buf_printf(m->b, "chuda_suppressed_total{reason=\"%s\"} %lld\n", v[1] ? v[1] : "",
                   (long long)n);
    return 0;
}

static void get_metrics(api *a, req *r)
{
    sched *s = a->s;
    buf b = {0};
    cherr e;
    long queued = 0, due = 0, leased = 0;
    int64_t now = tu_now(), next = 0;
    store_counts(s->a->st, now, &queued, &due, &leased, NULL, &e);
    int has = store_next_due(s->a->st, now, &next, &e);
    buf_printf(&b, "# HELP chuda_queue_depth Messages in the queue.\n# TYPE chuda_queue_depth gauge\n"
                   "chuda_queue_depth %ld\n", queued);
    buf_printf(&b, "# HELP chuda_queue_due Messages due now and not yet claimed.\n"
                   "# TYPE chuda_queue_due gauge\nchuda_queue_due %ld\n", due);
    buf_printf(&b, "# HELP chuda_due_lag_seconds How late the oldest due message is.\n"
                   "# TYPE chuda_due_lag_seconds gauge\nchuda_due_lag_seconds %.3f\n",
               has == 1 && next < now ? (double)(now - next) / 1000.0 : 0.0);
    buf_printf(&b, "# HELP chuda_inflight_requests Provider requests in hand: out, or built and "
                   "waiting for a slot (twice the channel's concurrency at most).\n"
                   "# TYPE chuda_inflight_requests gauge\n");
    for (int i = 0; i < s->nchans; i++)
        buf_printf(&b, "chuda_inflight_requests{channel=\"%s\"} %d\n", s->chans[i].c->name,
                   s->chans[i].c->inflight);
    buf_printf(&b, "# HELP chuda_token_refreshes_total Access-token refreshes.\n"
                   "# TYPE chuda_token_refreshes_total counter\n");
    for (int i = 0; i < s->nchans; i++)
        if (s->chans[i].c->token)
            buf_printf(&b, "chuda_token_refreshes_total{channel=\"%s\"} %ld\n",
                       s->chans[i].c->name, token_refreshes(s->chans[i].c));
    buf_printf(&b, "# HELP chuda_provider_latency_seconds Provider request latency.\n"
                   "# TYPE chuda_provider_latency_seconds histogram\n");
    for (int i = 0; i < s->nchans; i++) {
        const sched_chan *sc = &s->chans[i];
        uint64_t cum = 0;
        for (int k = 0; k < SCHED_LAT_BUCKETS; k++) {
            cum += sc->lat_bucket[k];
            buf_printf(&b, "chuda_provider_latency_seconds_bucket{channel=\"%s\",le=\"%g\"} %llu\n",
                       sc->c->name, sched_lat_bounds[k], (unsigned long long)cum);
        }
        cum += sc->lat_bucket[SCHED_LAT_BUCKETS];
        buf_printf(&b, "chuda_provider_latency_seconds_bucket{channel=\"%s\",le=\"+Inf\"} %llu\n"
                       "chuda_provider_latency_seconds_sum{channel=\"%s\"} %.6f\n"
                       "chuda_provider_latency_seconds_count{channel=\"%s\"} %llu\n",
                   sc->c->name, (unsigned long long)cum, sc->c->name, sc->lat_sum, sc->c->name,
                   (unsigned long long)cum);
    }
    buf_printf(&b, "# HELP chuda_events_total Audit events by channel and event.\n"
                   "# TYPE chuda_events_total counter\n");
    store_statq q = {.by = {"channel", "event"}, .nby = 2};
    metric_ctx mc = {&b, "chuda_events_total"};
    store_stats(s->a->st, &q, metric_row, &mc, &e);
    buf_printf(&b, "# HELP chuda_suppressed_total Suppressed messages by reason.\n"
                   "# TYPE chuda_suppressed_total counter\n");
    store_statq q2 = {.by = {"event", "code"}, .nby = 2};
    mc.name = "chuda_suppressed_total";
    store_stats(s->a->st, &q2, metric_row, &mc, &e);
    answer_text(r, 200, "text/plain; version=0.0.4", buf_take(&b));
}

/* ---- refusals ------------------------------------------------------------------- */

/* Constant-time comparison of a presented secret with ours ("" never matches). */
static int secret_eq(const char *ours, const char *given)
{
    size_t n = strlen(ours), m = given ? strlen(given) : 0;
    unsigned char diff = (unsigned char)(n != m || !n);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(ours[i] ^ (i < m ? given[i] : 0));
    return given && !diff;
}

/* One line on stderr for a refused request: what, from where, why — never the secret. */
static void log_refusal(req *r, const char *method, const char *url, const char *why)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char ip[64] = "?";
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, ip,
                  sizeof ip);
    fprintf(stderr, "chuda: api: %s %s from %s: %s\n", method, url, ip, why);
}

static int too_big(api *a, req *r)
{
    if (!r->too_big)
        return 0;
    char msg[96];
    snprintf(msg, sizeof msg, "body: larger than %zu bytes", a->max_body);
    fail(r, 413, msg);
    return 1;
}

/* ---- provider callbacks ------------------------------------------------------------ */

typedef struct cb_route {
    const char *path;
    cb_provider p;
} cb_route;

static const cb_route cb_routes[] = {
    {"/v1/callbacks/tencent/status", CB_TENCENT_STATUS},
    {"/v1/callbacks/tencent/reply", CB_TENCENT_REPLY},
    {"/v1/callbacks/aliyun/report", CB_ALIYUN_REPORT},
    {"/v1/callbacks/wechat", CB_WECHAT},
};

/* How far WeChat's signed `timestamp` may be from chuda's clock: the signature covers no
 * more than the Token, timestamp and nonce (not the body), so a signed URL seen once (in a
 * proxy's log) would otherwise vouch for any body, for ever. WeChat pushes at once and
 * re-pushes within seconds; the SMS providers already hold chuda's clock to 5 minutes. */
#define API_WX_SKEW_S 300
#define API_STR_(x) #x
#define API_STR(x) API_STR_(x)

/* Is the push really from the provider? WeChat signs it with the Token both sides know;
 * the SMS providers cannot sign, so their URL carries our secret key. NULL when it is,
 * else why not (for the log; written into why[n] when it says more); *stale when the
 * signature is right but its timestamp too far from now. */
static const char *cb_refusal(api *a, req *r, cb_provider p, char *why, size_t n, int *stale)
{
    *stale = 0;
    if (p != CB_WECHAT) {
        if (!a->callback_key[0])
            return "SMS callbacks are off ([api] callback_key_env / callback_key_file unset)";
        const char *key = arg(r->conn, "key");
        return secret_eq(a->callback_key, key) ? NULL : key ? "wrong key" : "no key";
    }
    if (!a->wechat_token[0])
        return "WeChat pushes are off ([api] wechat_token_env / wechat_token_file unset)";
    const char *sig = arg(r->conn, "signature"), *ts = arg(r->conn, "timestamp"),
               *nonce = arg(r->conn, "nonce");
    char want[SIGN_WECHAT_MAX];
    if (!sig || !ts || !nonce)
        return "no signature";
    if (sign_wechat_push(a->wechat_token, ts, nonce, want) != SIGN_OK)
        return "cannot compute the signature";
    if (!secret_eq(want, sig))
        return "wrong signature";
    size_t len = strspn(ts, "0123456789");
    long long skew = len && len <= 11 && !ts[len] ? tu_now() / 1000 - strtoll(ts, NULL, 10)
                                                  : LLONG_MAX;
    if (skew >= -API_WX_SKEW_S && skew <= API_WX_SKEW_S)
        return NULL;
    *stale = 1;
    if (skew == LLONG_MAX)
        snprintf(why, n, "signed at '%.20s', not unix seconds", ts);
    else
        snprintf(why, n, "signed at %s, %lld s %s chuda's clock (at most %d s either way)", ts,
                 skew < 0 ? -skew : skew, skew < 0 ? "after" : "before", API_WX_SKEW_S);
    return why;
}

/* The provider's own answer (cb_reply_for), waiting for the commit when `wait`. */
static int cb_answer(api *a, req *r, cb_provider p, cb_ack ack, int wait)
{
    cb_reply rp = cb_reply_for(p, ack);
    answer_text(r, (unsigned)rp.status, rp.content_type, strdup(rp.body));
    return wait ? defer_answer(a, r) : 0;
}

static int cb_post(api *a, req *r, cb_provider p, const char *url)
{
    const char *what = cb_provider_name(p);
    cb_list l = {0};
    cherr e;
    if (cb_parse(p, r->body.s, r->body.len, &l, &e) < 0) {
        fprintf(stderr, "chuda: callback %s: refused the body: %s\n", what, e.msg);
        const char *ctx = strstr(e.msg, ": ");
        fail_at(r, 400, e.msg, ctx ? ctx + 2 : e.msg);
        return 0;
    }
    cba_counts c;
    int rc = sched_tx(a->s) < 0 ? -1 : cba_apply(a->s->a->st, &l, tu_now(), &c, &e);
    cb_list_free(&l);
    if (rc < 0) {
        if (!a->s->failed)
            sched_fail(a->s, &e);
        return cb_answer(a, r, p, CB_ACK_RETRY, 0);
    }
    if (c.unmatched)
        fprintf(stderr, "chuda: callback %s: %d receipt%s for no message chuda knows (first: "
                "%s); answered so that the provider pushes again\n", what, c.unmatched,
                c.unmatched == 1 ? "" : "s", c.first_unmatched);
    if (c.stale) {
        char t[32];
        fprintf(stderr, "chuda: callback %s: refused %d event%s dated more than %d days "
                "before or %d day after chuda's clock (first: %s): a replay, not a re-push; "
                "answered as taken, so that the provider stops\n", what, c.stale,
                c.stale == 1 ? "" : "s", (int)(CBA_MAX_AGE_MS / 86400000),
                (int)(CBA_AHEAD_MS / 86400000), tu_format(c.first_stale_at, t, sizeof t));
    }
    if (a->s->opts.verbose)
        fprintf(stderr, "chuda: callback %s %s: %d applied, %d repeated, %d unmatched, "
                "%d for unknown users\n", what, url, c.applied, c.repeated, c.unmatched,
                c.unknown);
    return cb_answer(a, r, p, c.unmatched ? CB_ACK_RETRY : CB_ACK_OK, 1);
}

/* The callback route for a path under /v1/callbacks/, or NULL. */
static const cb_route *cb_route_find(const char *url)
{
    for (size_t i = 0; i < sizeof cb_routes / sizeof cb_routes[0]; i++)
        if (!strcmp(url, cb_routes[i].path))
            return &cb_routes[i];
    return NULL;
}

/* A provider push's path, method and authentication (key or signature, not the Bearer
 * token): 1 when it is refused (answered). */
static int cb_refused(api *a, req *r, const char *method, const char *url)
{
    const cb_route *rt = cb_route_find(url);
    if (!rt) {
        fail(r, 404, "path: not found");
        return 1;
    }
    if (strcmp(method, "POST") && !(!strcmp(method, "GET") && rt->p == CB_WECHAT)) {
        fail(r, 405, "method: not allowed on this path");
        return 1;
    }
    char said[160];
    int stale;
    const char *why = cb_refusal(a, r, rt->p, said, sizeof said, &stale);
    if (why) {
        log_refusal(r, method, url, why);
        fail(r, 403, stale ? "timestamp: signed more than " API_STR(API_WX_SKEW_S) " s from chuda's clock"
                     : rt->p == CB_WECHAT ? "signature: not signed with [api] wechat_token"
                                          : "key: not the [api] callback_key");
        return 1;
    }
    return 0;
}

/* A provider push that passed cb_refused, with its body. */
static int callback(api *a, req *r, const char *method, const char *url)
{
    const cb_route *rt = cb_route_find(url);
    if (too_big(a, r))
        return 0;
    if (!strcmp(method, "GET")) {   /* WeChat's handshake when the URL is saved: echo echostr */
        const char *echo = arg(r->conn, "echostr");
        if (!echo)
            fail(r, 400, "echostr: missing");
        else
            answer_text(r, 200, "text/plain; charset=utf-8", strdup(echo));
        return 0;
    }
    return cb_post(a, r, rt->p, url);
}

/* ---- dispatch -------------------------------------------------------------------- */

/* Is the request refused from its headers alone (no Bearer token, a provider push not
 * authenticated)? Then it is answered at once, before its body is read: a client without
 * the secret cannot make chuda hold max_body bytes on each of its connections. */
static int refused(api *a, req *r, const char *method, const char *url)
{
    if (!strcmp(url, "/healthz") && !strcmp(method, "GET"))
        return 0;
    if (!strncmp(url, "/v1/callbacks/", 14))
        return cb_refused(a, r, method, url);
    const char *auth = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    if (!auth || strncmp(auth, "Bearer ", 7) || !secret_eq(a->token, auth + 7)) {
        log_refusal(r, method, url, auth ? "wrong token" : "no token");
        fail(r, 401, "authorization: a valid Bearer token is required");
        return 1;
    }
    return 0;
}

/* A request that passed `refused`, with its body; 1 when the answer waits for the
 * commit. */
static int route(api *a, req *r, const char *method, const char *url)
{
    if (!strcmp(url, "/healthz") && !strcmp(method, "GET")) {
        answer(r, a->s->failed ? 503 : 200,
               json_pack("{s:s}", "status", a->s->failed ? "storage failed" : "ok"));
        return 0;
    }
    if (!strncmp(url, "/v1/callbacks/", 14))
        return callback(a, r, method, url);
    if (too_big(a, r))
        return 0;
    if (!strcmp(url, "/metrics") && !strcmp(method, "GET")) {
        get_metrics(a, r);
        return 0;
    }
    if (!strcmp(url, "/v1/messages")) {
        if (!strcmp(method, "POST"))
            return post_message(a, r);
        if (!strcmp(method, "DELETE"))
            return delete_messages(a, r);
    } else if (!strncmp(url, "/v1/messages/", 13)) {
        if (!strcmp(method, "GET"))
            return get_message(a, r, url + 13);
    } else if (!strncmp(url, "/v1/campaigns/", 14)) {
        if (!strcmp(method, "GET"))
            return get_campaign(a, r, url + 14);
    } else if (!strcmp(url, "/v1/optouts")) {
        if (!strcmp(method, "POST"))
            return post_optout(a, r);
        if (!strcmp(method, "DELETE"))
            return delete_optout(a, r);
    } else if (!strcmp(url, "/v1/credits")) {
        if (!strcmp(method, "POST"))
            return post_credits(a, r);
    } else {
        fail(r, 404, "path: not found");
        return 0;
    }
    fail(r, 405, "method: not allowed on this path");
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    api *a = cls;
    req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->conn = conn;
        *con_cls = r;
        return refused(a, r, method, url) ? send_answer(conn, r) : MHD_YES;
    }
    if (*upload_size) {
        if (r->body.len + *upload_size > a->max_body)
            r->too_big = 1;
        else
            buf_add(&r->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->answered && !r->suspended)
        return send_answer(conn, r);       /* resumed after the commit */
    if (route(a, r, method, url)) {
        r->next = a->waiting;
        a->waiting = r;
        MHD_suspend_connection(conn);
        return MHD_YES;
    }
    return send_answer(conn, r);
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    api *a = cls;
    req *r = *con_cls;
    if (!r)
        return;
    for (req **p = &a->waiting; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    buf_free(&r->body);
    free(r->answer);
    free(r);
    *con_cls = NULL;
}

/* ---- lifecycle -------------------------------------------------------------------- */

static void resume_all(api *a)
{
    req *r = a->waiting;
    a->waiting = NULL;
    while (r) {
        req *next = r->next;
        r->suspended = 0;
        r->next = NULL;
        MHD_resume_connection(r->conn);
        r = next;
    }
    run_mhd(a);
}

void api_committed(api *a)
{
    if (a && a->waiting)
        resume_all(a);
}

void api_failed(api *a)
{
    if (!a)
        return;
    for (req *r = a->waiting; r; r = r->next)
        fail(r, 503, "storage: unavailable");
    resume_all(a);
}

/* [api] WHAT_env / WHAT_file when one is given, else "" (that kind of callback is off). */
static int optional_secret(const config *cfg, const char *what, char *out, size_t len, cherr *e)
{
    char env[48], file[48];
    snprintf(env, sizeof env, "%s_env", what);
    snprintf(file, sizeof file, "%s_file", what);
    out[0] = '\0';
    if (!cfg_str(cfg, "api", env, NULL) && !cfg_str(cfg, "api", file, NULL))
        return 0;
    if (cfg_secret(cfg, "api", what, out, len, e) < 0)
        return -1;
    if (!out[0])
        return err_set(e, "[api] %s: the secret is empty", what);
    return 0;
}

static void wipe(api *a)
{
    memset(a->token, 0, sizeof a->token);
    memset(a->wechat_token, 0, sizeof a->wechat_token);
    memset(a->callback_key, 0, sizeof a->callback_key);
}

api *api_start(sched *s, cherr *e)
{
    const config *cfg = &s->a->cfg;
    int has = 0;
    for (size_t i = 0; i < cfg->ini.n && !has; i++)
        has = !strcmp(cfg->ini.v[i].section, "api");
    if (!has)
        return NULL;
    api *a = calloc(1, sizeof *a);
    if (!a) {
        err_set(e, "out of memory");
        return NULL;
    }
    a->s = s;
    long max_body;
    if (cfg_int(cfg, "api", "max_body", 1048576, 1024, 64 << 20, &max_body, e) < 0 ||
        cfg_secret(cfg, "api", "token", a->token, sizeof a->token, e) < 0 ||
        optional_secret(cfg, "wechat_token", a->wechat_token, sizeof a->wechat_token, e) < 0 ||
        optional_secret(cfg, "callback_key", a->callback_key, sizeof a->callback_key, e) < 0)
        goto fail;
    a->max_body = (size_t)max_body;
    const char *listen = cfg_str(cfg, "api", "listen", "127.0.0.1:8787");
    struct sockaddr_in sa = {.sin_family = AF_INET};
    char host[64];
    int port;
    if (sscanf(listen, "%63[^:]:%d", host, &port) != 2 || port < 0 || port > 65535 ||
        inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        err_set(e, "[api] listen: '%s' is not IPv4:PORT (e.g. 127.0.0.1:8787)", listen);
        goto fail;
    }
    sa.sin_port = htons((uint16_t)port);
    a->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, (uint16_t)port, NULL, NULL,
                            on_request, a, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_NOTIFY_COMPLETED, on_done, a,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)512, MHD_OPTION_END);
    if (!a->d) {
        err_set(e, "[api] listen %s: cannot listen (in use?)", listen);
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(a->d, MHD_DAEMON_INFO_EPOLL_FD);
    ev_io_init(&a->io, on_io, di->epoll_fd, EV_READ);
    ev_timer_init(&a->timer, on_timer, 0., 0.);
    a->io.data = a->timer.data = a;
    ev_io_start(s->loop, &a->io);
    rearm(a);
    if (s->opts.verbose)
        fprintf(stderr, "chuda: api listening on http://%s\n", listen);
    return a;
fail:
    wipe(a);
    free(a);
    return NULL;
}

void api_stop(api *a)
{
    if (!a)
        return;
    ev_io_stop(a->s->loop, &a->io);
    ev_timer_stop(a->s->loop, &a->timer);
    api_failed(a);
    MHD_stop_daemon(a->d);
    wipe(a);
    free(a);
}
