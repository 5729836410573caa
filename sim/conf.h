/* conf.h - the simulator's configuration: defaults, the INI file (inih),
 * and the per-account sections for each fake provider.  Prefix scfg_.
 * The configuration is read once at start-up and then only read. */
#ifndef SIM_CONF_H
#define SIM_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* [wechat.APPID] - a mini program or official account */
struct scfg_wechat {
    char *appid;
    char *secret;                    /* "" accepts any secret */
    long token_ttl;                  /* expires_in of a fresh token, s */
    long token_daily_quota;          /* classic /cgi-bin/token calls/day */
    long token_grace;                /* old token valid after rotation, s */
    long token_rotate_before;        /* stable_token rotates this early, s */
    long force_refresh_daily;        /* stable_token force_refresh per day */
    long force_refresh_gap;          /* ... and at least this far apart, s */
    bool credits;                    /* one-time subscription credits */
    bool followers_all;              /* OA: everyone follows unless unfollowed */
    struct su_list templates, openids, pages;
    long per_openid_minute;          /* OA sends/min/openid, 0 = no limit */
    long client_msg_id_window;       /* OA dedup window, s */
    struct scfg_wechat *next;
};

/* [wecom.CORPID] - one self-built app of a corp */
struct scfg_wecom {
    char *corpid;
    char *secret;
    long agentid;
    long token_ttl;
    struct su_list users;            /* valid member userids */
    long member_minute_limit;        /* app messages/min/member, excess dropped */
    long member_hour_limit;
    struct su_list external_users;   /* valid external_userids */
    long external_monthly_limit;     /* mass messages/customer/month */
    struct su_list robot_keys;       /* webhook keys */
    long robot_minute_limit;
    struct scfg_wecom *next;
};

/* [tencent.SECRETID] */
struct scfg_tencent {
    char *secret_id;
    char *secret_key;
    char *sdk_app_id;
    struct su_list sign_names, templates, blacklist;
    long per_number_30s;
    long per_number_hour;            /* 0 = no hourly limit */
    long per_number_daily;
    struct scfg_tencent *next;
};

/* [aliyun.ACCESSKEYID] */
struct scfg_aliyun {
    char *access_key_id;
    char *secret;
    struct su_list sign_names, templates, blacklist;
    long per_number_minute;
    long per_number_hour;            /* 0 = no hourly limit */
    long per_number_daily;
    char *blacklist_err_code;        /* receipt err_code for blacklisted */
    struct scfg_aliyun *next;
};

struct scfg {
    /* [sim] */
    uint64_t seed;
    double busy_rate;
    long keep_requests;              /* recorded requests kept in memory */
    long threads;                    /* MHD thread pool size, 0 = auto */
    long idle_timeout;               /* close idle connections after, s */
    bool errmsg_rid;                 /* append " rid: ..." to WeChat errmsg */
    long tencent_max_skew;           /* s */
    long aliyun_max_skew;            /* s */
    char *callback_url;              /* --callback-url: all providers */
    char *callback_wechat, *callback_tencent, *callback_aliyun;
    char *callback_wechat_token;     /* sign WeChat pushes with this Token (else unsigned) */
    char *callback_ca;               /* CA bundle the callback client trusts */
    long callback_delay_ms;          /* receipt sent this long after send */
    struct su_list callback_retry_ms;/* re-push schedule after a failure */

    struct scfg_wechat *wechat;
    struct scfg_wecom *wecom;
    struct scfg_tencent *tencent;
    struct scfg_aliyun *aliyun;
};

/* Fill cfg with defaults. */
void scfg_defaults(struct scfg *cfg);
/* Read an INI file over the defaults.  On error returns -1 and writes
 * "FILE:LINE: reason" to err. */
int scfg_load(struct scfg *cfg, const char *path, char *err, size_t errsz);
void scfg_free(struct scfg *cfg);

const struct scfg_wechat *scfg_wechat_find(const struct scfg *cfg,
                                           const char *appid);
const struct scfg_wecom *scfg_wecom_find(const struct scfg *cfg,
                                         const char *corpid);
const struct scfg_tencent *scfg_tencent_find(const struct scfg *cfg,
                                             const char *secret_id);
const struct scfg_aliyun *scfg_aliyun_find(const struct scfg *cfg,
                                           const char *access_key_id);

#endif
