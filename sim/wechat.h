/* wechat.h - the fake WeChat API (providers.md 1-3): access tokens
 * (stable_token and classic token), mini-program subscription messages and
 * official-account template messages, plus the state the control API can
 * set (credits, follow state, token expiry).  Prefix wxsim_. */
#ifndef SIM_WECHAT_H
#define SIM_WECHAT_H

#include <stdbool.h>

#include "conf.h"
#include "router.h"

void wxsim_init(const struct scfg *cfg);
void wxsim_shutdown(void);

/* provider endpoints */
void wxsim_stable_token(struct sim_req *r);   /* POST /cgi-bin/stable_token */
void wxsim_token(struct sim_req *r);          /* GET  /cgi-bin/token */
void wxsim_subscribe_send(struct sim_req *r); /* POST .../subscribe/send */
void wxsim_template_send(struct sim_req *r);  /* POST .../template/send */

/* control API; -1 when appid is not configured */
int wxsim_set_credits(const char *appid, const char *openid,
                   const char *template_id, long n);
long wxsim_get_credits(const char *appid, const char *openid,
                    const char *template_id);
int wxsim_set_follow(const char *appid, const char *openid, bool follow);
int wxsim_expire_tokens(const char *appid);   /* NULL = every app */
void wxsim_reset(void);                       /* counters, credits, dedup */

#endif
