/* audit.c — computing the audit log's chained row hash (see audit.h). */
#include "audit.h"

#include <mbedtls/sha256.h>
#include <string.h>

static void put_u64(mbedtls_sha256_context *c, unsigned char tag, uint64_t v)
{
    unsigned char b[9];
    b[0] = tag;
    for (int i = 0; i < 8; i++)
        b[1 + i] = (unsigned char)(v >> (56 - 8 * i));
    mbedtls_sha256_update_ret(c, b, sizeof b);
}

static void put_int(mbedtls_sha256_context *c, int64_t v)
{
    put_u64(c, 0x01, (uint64_t)v);
}

static void put_str(mbedtls_sha256_context *c, const char *s)
{
    if (!s) {
        mbedtls_sha256_update_ret(c, (const unsigned char *)"\0", 1);
        return;
    }
    size_t n = strlen(s);
    put_u64(c, 0x02, (uint64_t)n);
    mbedtls_sha256_update_ret(c, (const unsigned char *)s, n);
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
