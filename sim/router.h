/* router.h - the HTTP side of chuda-sim: one libmicrohttpd daemon, a
 * request context per request, dispatch by path to the fake providers and
 * to the control API, fault injection, delayed replies, and recording.
 *
 * Provider handlers receive a struct sim_req with the request already read
 * in full, and answer with one of the sim_reply*() calls.  They mark what
 * happened (delivered/duplicate/dropped, outcome) for the record.
 * Prefix sim_. */
#ifndef SIM_ROUTER_H
#define SIM_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "conf.h"
#include "util.h"

struct MHD_Connection;
struct MHD_Daemon;

struct sim_req {
    struct MHD_Connection *conn;
    const struct scfg *cfg;
    int64_t at_ms;              /* arrival time */
    char method[16];
    char *uri;                  /* request target as received */
    char *path;                 /* before '?' */
    char *query;                /* after '?', raw, "" when none */
    struct su_buf body;         /* raw body bytes */
    int state;                  /* router-private */

    /* the reply */
    unsigned status;
    char *resp;
    size_t resp_len;
    const char *ctype;
    bool reset;                 /* close without a reply */
    bool partial;               /* send the headers and half the body, then close */

    /* what happened, for the record and the stats */
    const char *provider;       /* "wechat", "wecom", "tencent", "aliyun" */
    char outcome[64];           /* errcode or Code, e.g. "0", "43101" */
    bool delivered, duplicate, dropped;
    json_t *extra;              /* extra record fields, NULL or an object */
    json_t *fault;              /* the fault applied, if any */
    int64_t delay_ms;

    /* called once when the request is finished (sent or aborted) */
    void (*on_done)(void *arg);
    void *on_done_arg;
};

/* ---- for provider handlers ---- */
const char *sim_req_header(struct sim_req *r, const char *name);
const char *sim_req_arg(struct sim_req *r, const char *name); /* query */

void sim_reply(struct sim_req *r, unsigned status, const char *ctype,
               const char *body, size_t len);
/* Compact JSON; takes the reference to obj. */
void sim_reply_json(struct sim_req *r, unsigned status, json_t *obj);
/* WeChat/WeCom style {"errcode":N,"errmsg":"..."}; also sets outcome. */
void sim_reply_errcode(struct sim_req *r, long errcode, const char *errmsg);
/* Add a field to the record line; takes the reference to val. */
void sim_record_set(struct sim_req *r, const char *key, json_t *val);
void sim_outcome(struct sim_req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* True with probability [sim] busy_rate. */
bool sim_busy(struct sim_req *r);

/* ---- lifecycle ---- */
struct sim_server_opts {
    const struct scfg *cfg;
    const char *cert_pem, *key_pem;   /* file contents */
    unsigned port;                    /* 0 = ephemeral */
    unsigned threads;                 /* 0 = auto */
};

/* Start listening on 127.0.0.1; returns the bound port, 0 on error (with
 * the reason in err). */
unsigned sim_server_start(const struct sim_server_opts *o, char *err,
                          size_t errsz);
void sim_server_stop(void);

/* Replies held back by a delay fault and not sent (nor recorded) yet. */
int sim_delayed_pending(void);

#endif
