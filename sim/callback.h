/* callback.h - delivery receipts pushed to the client after successful
 * sends (providers.md 5.5, 6.4, 7), by one worker thread with libcurl.
 * Each provider's URL is [sim] callback_<provider>, else --callback-url;
 * without a URL nothing is pushed.  Failed pushes are retried on the
 * [sim] callback_retry_ms schedule.  Prefix scb_. */
#ifndef SIM_CALLBACK_H
#define SIM_CALLBACK_H

#include <stdbool.h>

#include <jansson.h>

#include "conf.h"

int scb_init(const struct scfg *cfg);
/* Queue body (reference stolen) for provider "wechat", "tencent" or
 * "aliyun".  Cheap when no URL is configured. */
void scb_push(const char *provider, json_t *body);
/* True when pushes for provider go somewhere (skip building them if not). */
bool scb_wanted(const char *provider);
void scb_shutdown(void);   /* stop the worker; pending pushes are dropped */

#endif
