/* audit.c — computing the audit log's chained row hash (see audit.h). */
#include "audit.h"

#include <mbedtls/sha256.h>
#include <stdio.h>
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

void audit_hex(const unsigned char h[AUDIT_HASH_LEN], char out[AUDIT_HEX_LEN + 1])
{
    for (int i = 0; i < AUDIT_HASH_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int audit_unhex(const char *s, unsigned char h[AUDIT_HASH_LEN])
{
    if (!s || strlen(s) != AUDIT_HEX_LEN)
        return -1;
    for (int i = 0; i < AUDIT_HASH_LEN; i++) {
        int a = hexval(s[2 * i]), b = hexval(s[2 * i + 1]);
        if (a < 0 || b < 0)
            return -1;
        h[i] = (unsigned char)(a << 4 | b);
    }
    return 0;
}
