/* wecom.h - the fake WeCom (企业微信) API (providers.md 4): gettoken, app
 * messages, external-contact mass-message tasks and group-robot webhooks.
 * Prefix wcsim_. */
#ifndef SIM_WECOM_H
#define SIM_WECOM_H

#include "conf.h"
#include "router.h"

void wcsim_init(const struct scfg *cfg);
void wcsim_shutdown(void);

void wcsim_gettoken(struct sim_req *r);          /* GET  /cgi-bin/gettoken */
void wcsim_send(struct sim_req *r);              /* POST /cgi-bin/message/send */
void wcsim_add_msg_template(struct sim_req *r);  /* POST .../add_msg_template */
void wcsim_webhook(struct sim_req *r);           /* POST /cgi-bin/webhook/send */

int wcsim_expire_tokens(const char *corpid);     /* NULL = every corp */
void wcsim_reset(void);

#endif
