/* sign.h - request signing for the SMS providers.
 *
 * Owns the two signature schemes chuda needs, shared by the sender (which
 * signs) and the provider simulator (which verifies by recomputing):
 *
 *   sign_tc3()     Tencent Cloud API 3.0, TC3-HMAC-SHA256 (providers.md 5.4)
 *   sign_aliyun()  Aliyun RPC signature v1, HMAC-SHA1 (providers.md 6.2)
 *   sign_wechat_push()  the signature WeChat puts on its pushes (消息推送)
 *
 * Everything is pure: no global state, no clock (the caller passes the
 * timestamp), no I/O.  Functions return 0 (SIGN_OK) or a negative SIGN_E_*
 * code; sign_strerror() turns the code into a reason.
 */
#ifndef CHUDA_SIGN_H
#define CHUDA_SIGN_H

#include <stddef.h>
#include <stdint.h>

enum sign_err {
    SIGN_OK = 0,
    SIGN_E_ARG = -1,     /* a required argument is NULL or malformed */
    SIGN_E_SPACE = -2,   /* the output buffer is too small */
    SIGN_E_CRYPTO = -3,  /* mbedtls reported an error */
    SIGN_E_NOMEM = -4    /* out of memory */
};

const char *sign_strerror(int err);

/* ---- Tencent TC3-HMAC-SHA256 ------------------------------------------ */

/* The signed headers are always "content-type;host;x-tc-action". */
#define SIGN_TC3_SIGNED_HEADERS "content-type;host;x-tc-action"

/* Room for an Authorization value: fixed text + SecretId + scope + 64 hex. */
#define SIGN_TC3_AUTH_MAX 512

/* Intermediate values of one TC3 computation (lower-case hex), for tests
 * and for the simulator's error messages. */
struct sign_tc3_trace {
    char date[11];                   /* YYYY-MM-DD, UTC */
    char payload_hash[65];           /* HashedRequestPayload */
    char canonical_request_hash[65]; /* hex SHA-256 of CanonicalRequest */
    char secret_date[65];
    char secret_service[65];
    char secret_signing[65];
    char signature[65];
};

/* Build the Authorization header value for a POST to "/" with an empty
 * query:  "TC3-HMAC-SHA256 Credential=ID/DATE/SERVICE/tc3_request,
 * SignedHeaders=content-type;host;x-tc-action, Signature=HEX".
 *
 * host and content_type must be exactly what the HTTP client sends (the
 * canonical form lower-cases and trims them); payload is the exact body.
 * trace may be NULL.  out receives a NUL-terminated string. */
int sign_tc3(const char *secret_id, const char *secret_key,
             const char *service, const char *host, const char *action,
             int64_t timestamp, const void *payload, size_t payload_len,
             const char *content_type, char *out, size_t out_size,
             struct sign_tc3_trace *trace);

/* ---- Aliyun RPC signature v1 ------------------------------------------ */

struct sign_param {
    const char *name;
    const char *value;
};

/* RFC 3986 percent-encoding of len bytes of s as Aliyun wants it: keep
 * A-Z a-z 0-9 - _ . ~, everything else (UTF-8 bytes included) as %XY with
 * upper-case hex.  Returns a malloc'd NUL-terminated string or NULL when
 * out of memory. */
char *sign_pct_encode(const char *s, size_t len);

/* CanonicalizedQueryString: every param (the caller leaves "Signature"
 * out) encoded, sorted by encoded name, joined "n=v&n=v".  malloc'd. */
int sign_aliyun_canonical(const struct sign_param *params, size_t n,
                          char **out);

/* StringToSign = METHOD & %2F & pct(canonical).  malloc'd. */
int sign_aliyun_string_to_sign(const char *method, const char *canonical,
                               char **out);

/* Signature = base64(HMAC-SHA1(secret + "&", StringToSign)), not
 * percent-encoded.  out needs at least 29 bytes. */
#define SIGN_ALIYUN_SIG_MAX 29
int sign_aliyun(const char *method, const char *access_key_secret,
                const struct sign_param *params, size_t n,
                char *out, size_t out_size);

/* The full signed query string (also usable as a form body):
 * canonical query + "&Signature=" + pct(signature).  malloc'd. */
int sign_aliyun_query(const char *method, const char *access_key_secret,
                      const struct sign_param *params, size_t n, char **out);

/* ---- WeChat push signature ---------------------------------------------- */

/* signature = hex(SHA-1(the three strings token, timestamp, nonce sorted and
 * concatenated)), lower-case: what WeChat sends with every push to the
 * server URL (GET with echostr for the handshake, POST for events) and what
 * the receiver recomputes with the Token configured in the console. */
#define SIGN_WECHAT_MAX 41
int sign_wechat_push(const char *token, const char *timestamp, const char *nonce,
                     char out[SIGN_WECHAT_MAX]);

#endif
