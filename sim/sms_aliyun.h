/* sms_aliyun.h - the fake Aliyun SMS SendSms, RPC version 2017-05-25
 * (providers.md 6): signature v1 check, nonce reuse, timestamp skew,
 * per-number flow control, JSON or XML replies, SmsReport callbacks.
 * Prefix alisim_. */
#ifndef SIM_SMS_ALIYUN_H
#define SIM_SMS_ALIYUN_H

#include "conf.h"
#include "router.h"

void alisim_init(const struct scfg *cfg);
void alisim_shutdown(void);
void alisim_handle(struct sim_req *r);        /* GET/POST /?Action=... */
/* A gateway-style error in the request's Format (JSON or XML); the HTTP
 * status follows the code (400 for signature/timestamp/nonce errors). */
void alisim_reply_error(struct sim_req *r, const char *code, const char *msg);
void alisim_reset(void);

#endif
