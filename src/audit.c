/* audit.c — computing the audit log's chained row hash (see audit.h). */
#include "audit.h"

#include <inttypes.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <string.h>

static void put_int(mbedtls_sha256_context *c, int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%" PRId64, v);
    mbedtls_sha256_update_ret(c, (const unsigned char *)b, (size_t)n);
    mbedtls_sha256_update_ret(c, (const unsigned char *)"\x1f", 1);
}

static void put_str(mbedtls_sha256_context *c, const char *s)
{
    if (s)
        mbedtls_sha256_update_ret(c, (const unsigned char *)s, strlen(s));
    else
        mbedtls_sha256_update_ret(c, (const unsigned char *)"\0", 1);
    mbedtls_sha256_update_ret(c, (const unsigned char *)"\x1f", 1);
}

void audit_hash(const unsigned char prev[AUDIT_HASH_LEN], int64_t seq, int64_t at,
                int64_t message_id, int64_t campaign_id, const char *user_id, const char *event,
                const char *channel, const char *reason, const char *code, const char *detail,
                const char *target, unsigned char out[AUDIT_HASH_LEN])
{
    mbedtls_sha256_context c;
    mbedtls_sha256_init(&c);
    mbedtls_sha256_starts_ret(&c, 0);
    mbedtls_sha256_update_ret(&c, prev, AUDIT_HASH_LEN);
    put_int(&c, seq);
    put_int(&c, at);
    put_int(&c, message_id);
    put_int(&c, campaign_id);
    put_str(&c, user_id);
    put_str(&c, event);
    put_str(&c, channel);
    put_str(&c, reason);
    put_str(&c, code);
    put_str(&c, detail);
    put_str(&c, target);
    mbedtls_sha256_finish_ret(&c, out);
    mbedtls_sha256_free(&c);
}
