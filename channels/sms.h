/* sms.h — the SMS channel's providers behind one small table (sms.c picks one by
 * [channel.sms] provider = tencent | aliyun), and the string-code tables they share.
 *
 * A provider turns one SMS (one number, one template, its parameters, our reference)
 * into a signed request, and classifies the reply. Signing is stateless (no token):
 * Tencent TC3-HMAC-SHA256 (sms_tencent.c), Aliyun RPC signature v1 (sms_aliyun.c),
 * both from src/sign.c. Neither provider drops a resent duplicate, so the channel has
 * no dedup: a request that got no reply is `uncertain`, and the message's class decides
 * whether it is resent. */
#ifndef CHUDA_SMS_H
#define CHUDA_SMS_H

#include <stddef.h>
#include <stdint.h>

#include "channel.h"

/* [channel.sms], as the providers need it. */
typedef struct sms_conf {
    char secret_id[128];        /* Tencent SecretId / Aliyun AccessKeyId (not secret) */
    char secret[256];           /* SecretKey / AccessKeySecret (secret_env, secret_file) */
    char sign_name[128];        /* the approved signature text, e.g. 腾讯云 */
    char sdk_app_id[32];        /* Tencent SmsSdkAppId */
    char region[32];            /* Tencent X-TC-Region / Aliyun RegionId */
} sms_conf;

/* One SMS to one number. */
typedef struct sms_send {
    const char *phone;          /* E.164, "+8613800000000" */
    const char *template_id;
    const char *const *values;  /* template parameters, in order */
    const char *const *names;   /* their names (Aliyun TemplateParam keys), or NULL */
    size_t n;
    const char *ref;            /* SessionContext / OutId: the message id */
} sms_send;

typedef struct sms_provider {
    const char *name;           /* the `provider` config value */
    const char *default_base_url;
    const char *default_region;
    int needs_names;            /* parameters are named (Aliyun) */
    int (*build)(const sms_conf *p, const char *base_url, const sms_send *s, int64_t now,
                 http_req *req, cherr *e);
    /* `phone` is the number this request was for */
    void (*parse)(const char *phone, const http_resp *r, int64_t now, chan_outcome *o);
} sms_provider;

extern const sms_provider sms_tencent, sms_aliyun;

/* ---- code tables (string codes) ----------------------------------------------------- */

/* Backoff windows other than a fixed length (sms_code.backoff_ms < 0). */
#define SMS_NEXT_HOUR (-1)      /* the top of the next hour */
#define SMS_NEXT_DAY (-2)       /* the next natural day, China time */
#define SMS_AT_0800 (-3)        /* the next 08:00 China time (marketing hours) */
#define SMS_NEXT_MONTH (-4)     /* the 1st of next month, China time */
#define SMS_FROM_MESSAGE (-5)   /* read the window from the message (Aliyun flow control) */

#define SMS_THIS_MESSAGE 2      /* sms_code.recipient: only this message waits (a rule
                                   about its kind, not a limit of the number) */

typedef struct sms_code {
    const char *code;           /* exact, or a prefix ending in ".*" ("InternalError.*") */
    chan_class cls;
    int recipient;              /* concerns this number only (1), or this message only
                                   (SMS_THIS_MESSAGE) */
    int uncertain;              /* the SMS may have gone out anyway (server-side error) */
    int64_t backoff_ms;         /* BACKOFF: window length, or SMS_NEXT_* */
    const char *meaning;
} sms_code;

/* Classify `code` by `table` (terminated by a NULL code): an exact row first, then the
 * longest matching prefix row; an unknown code is permanent. `message` is the provider's
 * text, kept in the reason (and read for SMS_FROM_MESSAGE). */
void sms_classify(const sms_code *table, const char *code, const char *message, int64_t now,
                  chan_outcome *o);

/* The end of a backoff window. */
int64_t sms_window(int64_t backoff_ms, const char *message, int64_t now);

/* ---- the request builders, exposed for the unit tests -------------------------------- */

/* Tencent SendSms 2021-01-11: POST base_url/ with the TC3 headers; the body's fields in
 * the order of providers.md §5.4's vector. */
int sms_tencent_request(const sms_conf *p, const char *base_url, const sms_send *s,
                        int64_t now, http_req *req, cherr *e);

/* Aliyun SendSms: `method` "POST" (form body, what the channel sends) or "GET" (query
 * string, as in providers.md §6.2's example); `format` "JSON" (always, in the channel);
 * `nonce` the SignatureNonce. */
int sms_aliyun_request(const sms_conf *p, const char *base_url, const sms_send *s,
                       const char *method, const char *format, const char *nonce, int64_t now,
                       http_req *req, cherr *e);

/* A fresh random UUID (v4) for SignatureNonce; `out` needs 37 bytes. */
int sms_nonce(char *out, size_t len);

#endif
