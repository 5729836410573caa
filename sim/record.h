/* record.h - the request recording: one JSON line per provider request,
 * appended to the --record file (buffered, flushed every 100 ms and at
 * exit) and kept in a bounded in-memory ring for GET /_sim/requests.
 * Also the counters behind GET /_sim/stats.  Thread-safe.  Prefix srec_. */
#ifndef SIM_RECORD_H
#define SIM_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* path may be NULL (memory only).  keep = lines kept in memory. */
int srec_open(const char *path, size_t keep, char *err, size_t errsz);
struct srec_meta {
    const char *path, *outcome;
    bool delivered, duplicate, dropped, fault;
};
/* Whether a line is written or kept at all (a --record file, keep_requests
 * > 0): without either, building one is wasted work. */
bool srec_keeps(void);
/* Record one request: line is its JSON object "{...}" without "seq";
 * seq is assigned here and spliced in first.  Counts it in the stats.
 * line NULL: count it and take a seq only (nothing keeps lines). */
void srec_add(const char *line, size_t len, const struct srec_meta *m);
/* JSON array text of kept records with seq > since (at most limit, 0 = all);
 * malloc'd. */
char *srec_list(int64_t since, size_t limit, const char *path_filter);
char *srec_stats(void);          /* JSON object text, malloc'd */
void srec_count_callback(const char *provider, int ok);
void srec_clear(void);           /* forget records and counters */
void srec_flush(void);
void srec_close(void);

#endif
