/* api.h — the HTTP API inside `chuda run` (libmicrohttpd on the libev loop).
 *
 * Configured by [api] (listen, default 127.0.0.1:8787; token_env or token_file; max_body;
 * wechat_token_env/_file and callback_key_env/_file for provider callbacks). Every
 * request but /healthz and the callbacks needs `Authorization: Bearer TOKEN`; JSON in and
 * out; errors are {"error": "...", "field": "..."} with a 4xx status. A request that
 * writes (enqueue, cancel, opt-out, credits, a callback) does so in the loop's current
 * transaction and gets its answer only after that transaction commits: a 201 means the
 * message is durable, a provider's "success" means its push is applied.
 *
 *   POST   /v1/messages              enqueue (the fields of `chuda enqueue --from`)
 *   DELETE /v1/messages?key=K        cancel by idempotency key
 *   DELETE /v1/messages?user=U&tag=T cancel by user and tag
 *   GET    /v1/messages/ID           state and history
 *   GET    /v1/campaigns/ID          a campaign and its funnel (campaign_show_json)
 *   POST   /v1/optouts               {"user", "channel"?, "category"?, "reason"?}
 *   DELETE /v1/optouts?user=U[&channel=C][&category=K]
 *   POST   /v1/credits               {"user", "template_id", "n"?}
 *   GET    /metrics                  Prometheus text
 *   GET    /healthz                  {"status": "ok"}
 *
 * Provider callbacks (callback.h parses, cbapply.h applies), authenticated by the
 * provider's means instead of the Bearer token — 403 otherwise, logged without secrets:
 *   POST   /v1/callbacks/tencent/status?key=K    Tencent SMS status reports
 *   POST   /v1/callbacks/tencent/reply?key=K     Tencent SMS replies
 *   POST   /v1/callbacks/aliyun/report?key=K     Aliyun SmsReport
 *   GET    /v1/callbacks/wechat?signature&timestamp&nonce&echostr   WeChat's URL check
 *   POST   /v1/callbacks/wechat?signature&timestamp&nonce           WeChat events
 * K is [api] callback_key; WeChat's signature is sign_wechat_push() with [api]
 * wechat_token. A push is answered with the provider's own success body after the
 * commit, 400 when it cannot be read, and 500 (the provider pushes again) when a
 * receipt names no message chuda knows yet. */
#ifndef CHUDA_API_H
#define CHUDA_API_H

#include "err.h"

struct sched;
typedef struct api api;

/* NULL with no error when the config has no [api] section. */
api *api_start(struct sched *s, cherr *e);
void api_stop(api *a);
/* After the loop's commit: answer the requests whose writes it made durable. */
void api_committed(api *a);
/* The storage failed: answer waiting requests with 503. */
void api_failed(api *a);

#endif
