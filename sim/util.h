/* util.h - small helpers shared by the simulator modules: clock, PRNG,
 * random ids, growable buffers, comma lists, sliding-window counters,
 * phone-number normalisation, query-string parsing.  Prefix su_. */
#ifndef SIM_UTIL_H
#define SIM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- clock ---- */
int64_t su_now_ms(void);                  /* wall clock, ms since epoch */
int64_t su_beijing_day(int64_t now_ms);   /* natural day index in UTC+8 */
int64_t su_beijing_month(int64_t now_ms); /* year*12+month in UTC+8 */
/* "YYYY-MM-DD HH:MM:SS" in UTC+8, the time format of SMS receipts. */
void su_beijing_time(int64_t ms, char out[20]);

/* ---- randomness ----
 * Two generators: the "fault" one is seeded by [sim] seed only, so random
 * faults (busy_rate) repeat from run to run; the "id" one also mixes in the
 * time and pid, so tokens and ids differ between runs.  Both thread-safe. */
void su_rand_seed(uint64_t seed);
double su_rand_fault(void);           /* [0,1) from the seeded generator */
uint64_t su_rand_id(void);            /* 64 random bits for ids */
void su_rand_token(char *out, size_t len);   /* len-1 chars [A-Za-z0-9_-] */
void su_uuid(char out[37]);                  /* random v4-looking UUID */

/* ---- growable byte buffer (always NUL-terminated) ---- */
struct su_buf {
    char *p;
    size_t len, cap;
};
int su_buf_add(struct su_buf *b, const void *data, size_t n); /* 0 / -1 */
int su_buf_str(struct su_buf *b, const char *s);
int su_buf_printf(struct su_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void su_buf_free(struct su_buf *b);
/* Append n bytes of s as a quoted JSON string.  Invalid UTF-8 bytes become
 * U+FFFD; returns false when that happened (the caller may add the exact
 * bytes some other way). */
bool su_buf_json_str(struct su_buf *b, const char *s, size_t n);

/* ---- comma lists from the config: "*" means any value ---- */
struct su_list {
    bool any;
    char **v;
    size_t n;
};
int su_list_parse(struct su_list *l, const char *text);  /* 0 / -1 */
bool su_list_has(const struct su_list *l, const char *s);
void su_list_free(struct su_list *l);

/* ---- sliding window of event times (rate limits) ---- */
struct su_win {
    int64_t *t;
    size_t n, cap;
};
/* Events in (now - window_ms, now]; prunes older ones. */
size_t su_win_count(struct su_win *w, int64_t now_ms, int64_t window_ms);
void su_win_add(struct su_win *w, int64_t now_ms);
void su_win_free(struct su_win *w);

/* ---- phones ----
 * Normalise a number to E.164 in out ("+86138..."), domestic forms
 * (11 digits starting with 1, 86..., 0086..., +86...) become +86.
 * Returns 1 for mainland China, 2 for international, 0 if invalid. */
int su_phone_normalize(const char *in, char *out, size_t outsz);

/* ---- query strings / form bodies ---- */
struct su_kv {
    char *name, *value;   /* percent-decoded ('+' is a space) */
};
/* Parse "a=1&b=2"; appends to *kv (realloc'd).  Returns count or -1. */
int su_parse_query(const char *s, size_t len, struct su_kv **kv, size_t *n);
const char *su_kv_get(const struct su_kv *kv, size_t n, const char *name);
void su_kv_free(struct su_kv *kv, size_t n);

/* Copy s into a fresh malloc'd string, aborting on out-of-memory (the
 * simulator is a test tool: running out of memory is fatal). */
char *su_strdup(const char *s);
void *su_xmalloc(size_t n);
void *su_xcalloc(size_t n, size_t size);

#endif
