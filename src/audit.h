/* audit.h — the audit log's hash chain (DESIGN.md decision 10).
 *
 * Each row's hash is SHA-256 over the previous row's hash (32 bytes) followed by the
 * row's canonical bytes: its eleven fields in a fixed order (seq, at, message_id,
 * campaign_id, user_id, event, channel, reason, code, detail, target), each encoded so
 * that it delimits itself:
 *
 *   integer  0x01, then 8 bytes, big-endian two's complement
 *   text     0x02, then its length in bytes (8 bytes, big-endian), then the bytes
 *   NULL     0x00
 *
 * so no text can move from one field into its neighbour without changing the bytes
 * hashed, and NULL differs from "". The first row's previous hash is 32 zero bytes;
 * after an archive, the chain continues from the last archived row's hash. */
#ifndef CHUDA_AUDIT_H
#define CHUDA_AUDIT_H

#include <stdint.h>

#define AUDIT_HASH_LEN 32
#define AUDIT_HEX_LEN (2 * AUDIT_HASH_LEN)

void audit_hash(const unsigned char prev[AUDIT_HASH_LEN], int64_t seq, int64_t at,
                int64_t message_id, int64_t campaign_id, const char *user_id, const char *event,
                const char *channel, const char *reason, const char *code, const char *detail,
                const char *target, unsigned char out[AUDIT_HASH_LEN]);

/* A hash as 64 lowercase hex digits, and back (0, or -1 unless exactly 64 hex digits). */
void audit_hex(const unsigned char h[AUDIT_HASH_LEN], char out[AUDIT_HEX_LEN + 1]);
int audit_unhex(const char *s, unsigned char h[AUDIT_HASH_LEN]);

#endif
