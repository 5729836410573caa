/* chan_fixture.h — what the channel unit tests (test_chan_*.c) share: a channel opened
 * from config text, a rendered section from key/value pairs, a provider reply, header
 * lookup, and a fixed clock. No network: build and parse are pure given these. */
#ifndef CHUDA_CHAN_FIXTURE_H
#define CHUDA_CHAN_FIXTURE_H

#include <curl/curl.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "channel.h"
#include "config.h"
#include "render.h"
#include "tpl.h"

/* 2026-11-23T10:15:30Z = 18:15:30 China time, a Monday */
#define FIX_NOW 1795428930000LL

typedef struct fix_chan {
    config cfg;
    chan *c;
    cherr e;
} fix_chan;

/* Open `ops` from config text; returns 0, or -1 with fx->e set. */
static inline int fix_open(fix_chan *fx, const chan_ops *ops, const char *conf)
{
    memset(fx, 0, sizeof *fx);
    fx->cfg.dir = strdup(".");
    if (inif_load_string(&fx->cfg.ini, "test.conf", conf, &fx->e) < 0)
        return -1;
    return chan_open(&fx->c, ops, &fx->cfg, &fx->e);
}

static inline void fix_close(fix_chan *fx)
{
    chan_close(fx->c);
    cfg_free(&fx->cfg);
    fx->c = NULL;
}

/* cmocka setup: set the secret `env`=`value`, open `ops` from `conf` into *state. */
static inline int fix_setup(void **state, const chan_ops *ops, const char *conf, const char *env,
                            const char *value)
{
    setenv(env, value, 1);
    fix_chan *fx = calloc(1, sizeof *fx);
    if (!fx || fix_open(fx, ops, conf) < 0) {
        fprintf(stderr, "open: %s\n", fx ? fx->e.msg : "out of memory");
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

/* cmocka teardown for fix_setup. */
static inline int fix_teardown(void **state)
{
    fix_chan *fx = *state;
    fix_close(fx);
    free(fx);
    return 0;
}

/* Parse template `text`: it must load (want_err NULL) or fail saying `want_err`. */
static inline void fix_check_tpl(const char *text, const char *want_err)
{
    tpl t;
    cherr e;
    int rc = tpl_parse(&t, "t.ini", text, &e);
    if (!want_err) {
        if (rc < 0)
            fail_msg("unexpected: %s", e.msg);
        tpl_free(&t);
        return;
    }
    assert_int_equal(rc, -1);
    if (!strstr(e.msg, want_err))
        fail_msg("'%s' does not say '%s'", e.msg, want_err);
}

/* A rendered section from "key", "value", ..., NULL. */
static inline render_out fix_fields(const char *k, ...)
{
    render_out o = {0};
    va_list ap;
    va_start(ap, k);
    for (const char *key = k; key; key = va_arg(ap, const char *)) {
        const char *value = va_arg(ap, const char *);
        o.v = realloc(o.v, (o.n + 1) * sizeof *o.v);
        o.v[o.n] = (render_field){.key = strdup(key), .value = strdup(value), .line = (int)o.n + 1};
        o.n++;
    }
    va_end(ap);
    return o;
}

/* A 200 reply with `body`. */
static inline http_resp fix_reply(long status, const char *body)
{
    http_resp r = {0};
    r.status = status;
    r.curl_code = CURLE_OK;
    r.body = body;
    r.body_len = strlen(body);
    return r;
}

/* No reply within the timeout, after the request left. */
static inline http_resp fix_timeout(void)
{
    http_resp r = {0};
    r.curl_code = CURLE_OPERATION_TIMEDOUT;
    r.error = "Operation timed out after 10001 milliseconds with 0 bytes received";
    r.may_have_sent = 1;
    r.body = "";
    return r;
}

/* The value of header `name` in the request, or NULL. */
static inline const char *fix_header(const http_req *req, const char *name)
{
    size_t n = strlen(name);
    for (char **h = req->headers; h && *h; h++)
        if (!strncasecmp(*h, name, n) && (*h)[n] == ':')
            return *h + n + 2;
    return NULL;
}

static inline int fix_nheaders(const http_req *req)
{
    int n = 0;
    for (char **h = req->headers; h && *h; h++)
        n++;
    return n;
}

/* Build `m` with `token` into *req and check it: a POST of exactly `body` to `url`, with
 * the one header Content-Type: application/json (the WeChat-family channels). The
 * caller clears *req. */
static inline void fix_build_json(chan *c, const chan_msg *m, const char *token, http_req *req,
                                  const char *url, const char *body)
{
    cherr e;
    if (c->ops->build(c, m, token, FIX_NOW, req, &e) < 0)
        fail_msg("build: %s", e.msg);
    assert_string_equal(req->method, "POST");
    assert_string_equal(req->url, url);
    assert_int_equal(fix_nheaders(req), 1);
    assert_string_equal(fix_header(req, "Content-Type"), "application/json");
    assert_string_equal(req->body, body);
    assert_int_equal(req->body_len, strlen(body));
}

/* Classify `body` (a 200) for message `m`. */
static inline chan_outcome fix_parse(chan *c, const chan_msg *m, const char *body, int64_t now)
{
    chan_outcome o;
    memset(&o, 0, sizeof o);
    http_resp r = fix_reply(200, body);
    c->ops->parse(c, m, &r, now, &o);
    return o;
}

/* The transport cases every JSON provider channel classifies alike (chan_transport_outcome
 * behind its parse): a timeout and a broken 200 are retried as possibly delivered, a 5xx
 * is retried, 429 backs off, another 4xx is permanent. */
static inline void fix_check_transport(chan *c, const chan_msg *m)
{
    static const struct {
        long status;            /* 0: a timeout after the request left */
        const char *body;
        chan_class cls;
        const char *code;       /* NULL: not checked */
        int uncertain;
    } rows[] = {
        {0, "", CHAN_RETRY, "curl 28", 1},
        {502, "<html>bad gateway</html>", CHAN_RETRY, "http 502", 1},
        {200, "<html>not json</html>", CHAN_RETRY, NULL, 1},
        /* JSON, but not the provider's answer: no errcode (Code, Response) to go by */
        {200, "{\"errmsg\":\"ok\"}", CHAN_RETRY, "bad reply", 1},
        {429, "", CHAN_BACKOFF, "http 429", 0},
        {404, "{}", CHAN_PERMANENT, "http 404", 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        chan_outcome o;
        memset(&o, 0, sizeof o);
        http_resp r = rows[i].status ? fix_reply(rows[i].status, rows[i].body) : fix_timeout();
        c->ops->parse(c, m, &r, FIX_NOW, &o);
        assert_int_equal(o.cls, rows[i].cls);
        assert_int_equal(o.uncertain, rows[i].uncertain);
        if (rows[i].code)
            assert_string_equal(o.code, rows[i].code);
    }
}

/* One row of a WeChat-family code table test: the errcode, and its classification. */
typedef struct fix_code {
    long errcode;
    chan_class cls;
    int recipient;
    int64_t until;          /* 0: not checked; else the exact end of the window */
} fix_code;

/* Classify {"errcode":N,"errmsg":"x rid: ..","msgid":MSGID} (at FIX_NOW) for each row:
 * class, recipient, window, the errcode as the code, no request id in the reason, and
 * the msgid as the provider id on success. */
static inline void fix_check_codes(chan *c, const chan_msg *m, const fix_code *rows, size_t n,
                                   const char *msgid)
{
    for (size_t i = 0; i < n; i++) {
        char body[200], code[24];
        snprintf(body, sizeof body, "{\"errcode\":%ld,\"errmsg\":\"x rid: 1234-5678\","
                 "\"msgid\":%s}", rows[i].errcode, msgid);
        chan_outcome o = fix_parse(c, m, body, FIX_NOW);
        if (o.cls != rows[i].cls || o.recipient != rows[i].recipient ||
            (rows[i].until && o.until != rows[i].until))
            fail_msg("%ld: got %s recipient=%d until=%lld", rows[i].errcode,
                     chan_class_name(o.cls), o.recipient, (long long)o.until);
        snprintf(code, sizeof code, "%ld", rows[i].errcode);
        assert_string_equal(o.code, code);
        assert_null(strstr(o.reason, "rid:"));
        assert_string_equal(o.provider_id, rows[i].cls == CHAN_OK ? msgid : "");
    }
}

#endif
