/* control.h - the control API under /_sim/ (faults, credits, follow
 * state, token expiry, reset, recorded requests, stats).  Plain JSON, no
 * auth: chuda-sim is a test tool bound to 127.0.0.1.  Prefix sctl_. */
#ifndef SIM_CONTROL_H
#define SIM_CONTROL_H

#include "router.h"

void sctl_handle(struct sim_req *r);

#endif
