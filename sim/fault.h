/* fault.h - injected faults: a FIFO of fault specs per provider path,
 * each consumed `count` times by matching requests.  Thread-safe.
 * Prefix sflt_.
 *
 * A spec is the JSON object posted to /_sim/fault:
 *   {"path":"/cgi-bin/message/subscribe/send" | "tencent" | "*", "count":N (1),
 *    "match":"substring of query or body" (optional),
 *    one or more of: "errcode":N ["errmsg":"..."], "status":N,
 *    "delay_ms":N, "reset":true, "body":"raw text", "code":"SmsCode"
 *    ["message":"..."], "reset_after":true, "partial":true;
 *    "rate":P (0..1, default 1): each matching request takes it with
 *    probability P (the others pass untouched, `count` is not spent)}
 * delay_ms, reset_after and partial alone let the request be processed
 * normally: the reply is held back, never sent, or cut in half.          */
#ifndef SIM_FAULT_H
#define SIM_FAULT_H

#include <stddef.h>

#include <jansson.h>

/* Validate and queue a spec.  -1 with the reason in err. */
int sflt_add(json_t *spec, char *err, size_t errsz);

/* The next fault for a request, as a new reference (NULL when none).
 * Entries for the exact path are tried first, then those naming the
 * request's provider ("wechat", "wecom", "tencent", "aliyun"), then "*". */
json_t *sflt_take(const char *path, const char *provider, const char *query,
                  const char *body);

json_t *sflt_pending(void);   /* array of queued specs with "left" */
void sflt_clear(void);

#endif
