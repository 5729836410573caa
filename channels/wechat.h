/* wechat.h — what the WeChat-family channels share (mini program, official account,
 * WeCom): the {"errcode":N,"errmsg":"..."} envelope, code tables, the token reply,
 * and quota windows on China time (providers.md §1, §9). */
#ifndef CHUDA_WECHAT_H
#define CHUDA_WECHAT_H

#include <jansson.h>
#include <stdint.h>

#include "buf.h"
#include "channel.h"

/* One row of a provider's code table. */
typedef struct wx_code {
    long errcode;
    chan_class cls;
    int recipient;              /* concerns this recipient only */
    int64_t backoff_ms;         /* BACKOFF: window length; -1: until the next day (UTC+8) */
    const char *meaning;
} wx_code;

/* Parse a business reply: fills *root (caller json_decref) and the errcode. Returns 0,
 * or -1 with `o` set to a permanent/retry outcome for a body that is not the JSON
 * envelope (a JSON object without an integer errcode included: "bad reply"). */
int wx_parse(const http_resp *r, json_t **root, long *errcode, chan_outcome *o);

/* Classify errcode by `table` (terminated by a row with meaning NULL), then the
 * codes every WeChat business API shares (-1, token codes, 45009, 48001). */
void wx_classify(long errcode, const char *errmsg, const wx_code *table, int64_t now,
                 chan_outcome *o);

/* Parse a token reply ({"access_token":..,"expires_in":..} or the error envelope). */
int wx_token_parse(const http_resp *r, const wx_code *table, char *token, size_t toklen,
                   int64_t *ttl_ms, chan_outcome *o);

/* The token endpoint's own codes (getAccessToken / stable_token). */
extern const wx_code wx_token_codes[];

/* Next midnight in China (UTC+8, no DST): when daily quotas reset. */
int64_t wx_next_day(int64_t now);

/* errmsg without the " rid: ..." / " hint: [...]" request-id tail. */
void wx_errmsg_clean(const char *in, char *out, size_t len);

/* "data":{"KEY":{"value":".."},..} from the data.KEY lines of `f`, in their order: the
 * template data of mini-program and official-account messages. */
void wx_data(buf_jw *w, const render_out *f);

/* A member for each of the keys `names` (NULL-terminated) that renders non-empty in
 * `f`, under its name, in the order of `names`. */
void wx_fields(buf_jw *w, const render_out *f, const char *const *names);

/* POST /cgi-bin/stable_token for appid + secret (providers.md §1.2), as mini program
 * and official account share it. The secret is only in the body. */
int wx_stable_token_request(chan *c, const char *appid, const char *secret, int force,
                            http_req *req, cherr *e);

/* On success, copy the reply's "msgid" (integer or string) to o->provider_id. */
void wx_msgid(json_t *root, chan_outcome *o);

/* ---- WeCom (providers.md §4): what the app-message and customer channels share ---- */

/* gettoken's codes: 40001 here means a wrong secret (permanent), unlike WeChat. */
extern const wx_code wc_token_codes[];
/* message/send and externalcontact codes, ahead of the shared WeChat ones. */
extern const wx_code wc_codes[];

/* A corp's self-built app: [channel.X] corpid, secret_env/secret_file. */
typedef struct wc_app {
    char corpid[64];
    char secret[256];
} wc_app;

int wc_app_init(wc_app *a, const config *cfg, const char *section, cherr *e);
/* GET /cgi-bin/gettoken?corpid=..&corpsecret=.. (§4.1). The URL carries the secret:
 * it is never logged, and no reason built from it names it. */
int wc_token_request(chan *c, const wc_app *a, http_req *req, cherr *e);

#endif
