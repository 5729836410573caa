/* sign.c - TC3-HMAC-SHA256 (Tencent) and RPC v1 HMAC-SHA1 (Aliyun) request
 * signatures, and the SHA-1 signature of WeChat's pushes.  See sign.h for the
 * contract and providers.md 5.4 / 6.2 for the algorithms, step by step.
 * Pure functions over mbedtls; no state. */
#include "sign.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>

const char *sign_strerror(int err)
{
    switch (err) {
    case SIGN_OK:       return "ok";
    case SIGN_E_ARG:    return "missing or malformed argument";
    case SIGN_E_SPACE:  return "output buffer too small";
    case SIGN_E_CRYPTO: return "crypto library error";
    case SIGN_E_NOMEM:  return "out of memory";
    default:            return "unknown signing error";
    }
}

/* ---- small helpers ----------------------------------------------------- */

static void hex_encode(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    if (mbedtls_sha256_ret(data, len, md, 0) != 0)
        return SIGN_E_CRYPTO;
    hex_encode(md, sizeof md, out);
    return SIGN_OK;
}

static int hmac(mbedtls_md_type_t type, const void *key, size_t klen,
                const void *msg, size_t mlen, unsigned char *out)
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(type);
    if (!md || mbedtls_md_hmac(md, key, klen, msg, mlen, out) != 0)
        return SIGN_E_CRYPTO;
    return SIGN_OK;
}

/* A growable string; the only allocation pattern in this file. */
struct sbuf {
    char *p;
    size_t len, cap;
    int err;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->err)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->err = SIGN_E_NOMEM;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* Append lowercase(trim(s)) - the TC3 canonical header value. */
static void sb_lower_trim(struct sbuf *b, const char *s)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    for (size_t i = 0; i < n; i++) {
        char c = (char)tolower((unsigned char)s[i]);
        sb_add(b, &c, 1);
    }
}

/* Hand the buffer to the caller, or free it and return its error. */
static int sb_finish(struct sbuf *b, char **out)
{
    if (!b->err && !b->p)
        sb_add(b, "", 0);
    if (b->err) {
        free(b->p);
        *out = NULL;
        return b->err;
    }
    *out = b->p;
    return SIGN_OK;
}

/* ---- TC3-HMAC-SHA256 ------------------------------------------------------ */

int sign_tc3(const char *secret_id, const char *secret_key,
             const char *service, const char *host, const char *action,
             int64_t timestamp, const void *payload, size_t payload_len,
             const char *content_type, char *out, size_t out_size,
             struct sign_tc3_trace *trace)
{
    struct sign_tc3_trace t;
    struct sbuf cr = {0};
    unsigned char k_date[32], k_service[32], k_signing[32], sig[32];
    char key[256], scope[128], sts[256];
    int rc;

    if (!secret_id || !secret_key || !service || !host || !action ||
        !content_type || !out || (!payload && payload_len) || timestamp < 0)
        return SIGN_E_ARG;

    /* 1. Date is the UTC day of the timestamp. */
    time_t ts = (time_t)timestamp;
    struct tm tm;
    if (!gmtime_r(&ts, &tm) ||
        strftime(t.date, sizeof t.date, "%Y-%m-%d", &tm) != 10)
        return SIGN_E_ARG;

    /* 2. HashedRequestPayload. */
    if ((rc = sha256_hex(payload ? payload : "", payload_len,
                         t.payload_hash)) != SIGN_OK)
        return rc;

    /* 3. CanonicalRequest: method, URI, empty query, headers, signed
     *    headers, payload hash.  Each header line ends in '\n', so an empty
     *    line separates the header block from SignedHeaders. */
    sb_str(&cr, "POST\n/\n\ncontent-type:");
    sb_lower_trim(&cr, content_type);
    sb_str(&cr, "\nhost:");
    sb_lower_trim(&cr, host);
    sb_str(&cr, "\nx-tc-action:");
    sb_lower_trim(&cr, action);
    sb_str(&cr, "\n\n" SIGN_TC3_SIGNED_HEADERS "\n");
    sb_str(&cr, t.payload_hash);
    if (cr.err) {
        free(cr.p);
        return cr.err;
    }
    rc = sha256_hex(cr.p, cr.len, t.canonical_request_hash);
    free(cr.p);
    if (rc != SIGN_OK)
        return rc;

    /* 4. StringToSign. */
    int n = snprintf(scope, sizeof scope, "%s/%s/tc3_request", t.date, service);
    if (n < 0 || (size_t)n >= sizeof scope)
        return SIGN_E_ARG;
    n = snprintf(sts, sizeof sts, "TC3-HMAC-SHA256\n%lld\n%s\n%s",
                 (long long)timestamp, scope, t.canonical_request_hash);
    if (n < 0 || (size_t)n >= sizeof sts)
        return SIGN_E_ARG;

    /* 5. Derived keys, chained as raw 32-byte values. */
    n = snprintf(key, sizeof key, "TC3%s", secret_key);
    if (n < 0 || (size_t)n >= sizeof key)
        return SIGN_E_ARG;
    if ((rc = hmac(MBEDTLS_MD_SHA256, key, (size_t)n, t.date, 10, k_date)) ||
        (rc = hmac(MBEDTLS_MD_SHA256, k_date, 32, service, strlen(service),
                   k_service)) ||
        (rc = hmac(MBEDTLS_MD_SHA256, k_service, 32, "tc3_request", 11,
                   k_signing)) ||
        (rc = hmac(MBEDTLS_MD_SHA256, k_signing, 32, sts, strlen(sts), sig)))
        return rc;
    hex_encode(k_date, 32, t.secret_date);
    hex_encode(k_service, 32, t.secret_service);
    hex_encode(k_signing, 32, t.secret_signing);
    hex_encode(sig, 32, t.signature);

    /* 6. The header value. */
    n = snprintf(out, out_size,
                 "TC3-HMAC-SHA256 Credential=%s/%s, SignedHeaders="
                 SIGN_TC3_SIGNED_HEADERS ", Signature=%s",
                 secret_id, scope, t.signature);
    if (n < 0 || (size_t)n >= out_size)
        return SIGN_E_SPACE;
    if (trace)
        *trace = t;
    return SIGN_OK;
}

/* ---- Aliyun RPC v1 -------------------------------------------------------- */

static int pct_keep(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
           c == '~';
}

static void sb_pct(struct sbuf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (pct_keep(c)) {
            sb_add(b, (const char *)&c, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            sb_add(b, e, 3);
        }
    }
}

char *sign_pct_encode(const char *s, size_t len)
{
    struct sbuf b = {0};
    char *out;
    if (!s)
        return NULL;
    sb_pct(&b, s, len);
    return sb_finish(&b, &out) == SIGN_OK ? out : NULL;
}

struct enc_pair {
    char *name, *value;
};

static int enc_pair_cmp(const void *a, const void *b)
{
    return strcmp(((const struct enc_pair *)a)->name,
                  ((const struct enc_pair *)b)->name);
}

int sign_aliyun_canonical(const struct sign_param *params, size_t n,
                          char **out)
{
    struct sbuf b = {0};
    struct enc_pair *v;
    int rc = SIGN_OK;

    if (!out || (!params && n))
        return SIGN_E_ARG;
    *out = NULL;
    v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return SIGN_E_NOMEM;
    for (size_t i = 0; i < n && rc == SIGN_OK; i++) {
        if (!params[i].name || !params[i].value) {
            rc = SIGN_E_ARG;
            break;
        }
        v[i].name = sign_pct_encode(params[i].name, strlen(params[i].name));
        v[i].value = sign_pct_encode(params[i].value, strlen(params[i].value));
        if (!v[i].name || !v[i].value)
            rc = SIGN_E_NOMEM;
    }
    if (rc == SIGN_OK) {
        qsort(v, n, sizeof *v, enc_pair_cmp);
        for (size_t i = 0; i < n; i++) {
            if (i)
                sb_add(&b, "&", 1);
            sb_str(&b, v[i].name);
            sb_add(&b, "=", 1);
            sb_str(&b, v[i].value);
        }
        rc = sb_finish(&b, out);
    }
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].value);
    }
    free(v);
    return rc;
}

int sign_aliyun_string_to_sign(const char *method, const char *canonical,
                               char **out)
{
    struct sbuf b = {0};
    if (!method || !*method || !canonical || !out)
        return SIGN_E_ARG;
    sb_str(&b, method);
    sb_str(&b, "&%2F&");
    sb_pct(&b, canonical, strlen(canonical));
    return sb_finish(&b, out);
}

int sign_aliyun(const char *method, const char *access_key_secret,
                const struct sign_param *params, size_t n,
                char *out, size_t out_size)
{
    char *canonical = NULL, *sts = NULL, *key = NULL;
    unsigned char mac[20];
    size_t olen = 0;
    int rc;

    if (!access_key_secret || !out)
        return SIGN_E_ARG;
    if ((rc = sign_aliyun_canonical(params, n, &canonical)) != SIGN_OK)
        return rc;
    rc = sign_aliyun_string_to_sign(method, canonical, &sts);
    free(canonical);
    if (rc != SIGN_OK)
        return rc;

    size_t klen = strlen(access_key_secret);
    key = malloc(klen + 2);
    if (!key) {
        free(sts);
        return SIGN_E_NOMEM;
    }
    memcpy(key, access_key_secret, klen);
    key[klen] = '&';
    key[klen + 1] = '\0';
    rc = hmac(MBEDTLS_MD_SHA1, key, klen + 1, sts, strlen(sts), mac);
    free(key);
    free(sts);
    if (rc != SIGN_OK)
        return rc;
    if (out_size < SIGN_ALIYUN_SIG_MAX)
        return SIGN_E_SPACE;
    if (mbedtls_base64_encode((unsigned char *)out, out_size, &olen, mac,
                              sizeof mac) != 0)
        return SIGN_E_SPACE;
    out[olen] = '\0';
    return SIGN_OK;
}

int sign_aliyun_query(const char *method, const char *access_key_secret,
                      const struct sign_param *params, size_t n, char **out)
{
    char sig[SIGN_ALIYUN_SIG_MAX];
    char *canonical = NULL;
    struct sbuf b = {0};
    int rc;

    if (!out)
        return SIGN_E_ARG;
    *out = NULL;
    if ((rc = sign_aliyun(method, access_key_secret, params, n, sig,
                          sizeof sig)) != SIGN_OK)
        return rc;
    if ((rc = sign_aliyun_canonical(params, n, &canonical)) != SIGN_OK)
        return rc;
    sb_str(&b, canonical);
    free(canonical);
    sb_str(&b, b.len ? "&Signature=" : "Signature=");
    sb_pct(&b, sig, strlen(sig));
    return sb_finish(&b, out);
}

/* ---- WeChat push signature ---------------------------------------------- */

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int sign_wechat_push(const char *token, const char *timestamp, const char *nonce,
                     char out[SIGN_WECHAT_MAX])
{
    if (!token || !timestamp || !nonce || !out)
        return SIGN_E_ARG;
    const char *v[3] = {token, timestamp, nonce};
    qsort(v, 3, sizeof v[0], str_cmp);
    mbedtls_sha1_context c;
    unsigned char md[20];
    mbedtls_sha1_init(&c);
    int bad = mbedtls_sha1_starts_ret(&c) != 0;
    for (int i = 0; i < 3 && !bad; i++)
        bad = mbedtls_sha1_update_ret(&c, (const unsigned char *)v[i], strlen(v[i])) != 0;
    bad = bad || mbedtls_sha1_finish_ret(&c, md) != 0;
    mbedtls_sha1_free(&c);
    if (bad)
        return SIGN_E_CRYPTO;
    hex_encode(md, sizeof md, out);
    return SIGN_OK;
}
