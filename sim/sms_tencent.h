/* sms_tencent.h - the fake Tencent Cloud SMS SendSms, API 3.0 version
 * 2021-01-11 (providers.md 5): TC3 signature check, per-number statuses,
 * frequency limits, blacklist, status-report callbacks.  Prefix tcsim_. */
#ifndef SIM_SMS_TENCENT_H
#define SIM_SMS_TENCENT_H

#include "conf.h"
#include "router.h"

void tcsim_init(const struct scfg *cfg);
void tcsim_shutdown(void);
void tcsim_send(struct sim_req *r);          /* POST / with X-TC-Action */
/* {"Response":{"Error":{"Code":..,"Message":..},"RequestId":..}} */
void tcsim_reply_error(struct sim_req *r, const char *code, const char *msg);
void tcsim_reset(void);

#endif
