/* audit.h — the audit log's hash chain (DESIGN.md decision 10).
 *
 * Each row's hash is SHA-256 over the previous row's hash and the row's canonical
 * bytes: its fields in a fixed order, each as decimal or raw UTF-8, separated by the
 * ASCII unit separator (0x1f), NULL written as the single byte 0x00. The first row's
 * previous hash is 32 zero bytes. `chuda log verify` recomputes the chain. */
#ifndef CHUDA_AUDIT_H
#define CHUDA_AUDIT_H

#include <stdint.h>

#define AUDIT_HASH_LEN 32

void audit_hash(const unsigned char prev[AUDIT_HASH_LEN], int64_t seq, int64_t at,
                int64_t message_id, int64_t campaign_id, const char *user_id, const char *event,
                const char *channel, const char *reason, const char *code, const char *detail,
                const char *target, unsigned char out[AUDIT_HASH_LEN]);

#endif
