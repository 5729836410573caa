/* timeutil.h — chuda's one notion of time.
 *
 * Every stored time is UTC milliseconds since the epoch (int64_t). This module
 * reads the clock, parses what users type (ISO 8601 with an offset, or relative
 * "+90s", "+1h", "+2d"), parses durations ("30m", "7d") and formats ISO 8601 UTC.
 * User-local calendar questions (quiet hours, best hour) live in tz.c. */
#ifndef CHUDA_TIMEUTIL_H
#define CHUDA_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"

#define TU_SEC  1000LL
#define TU_MIN  (60 * TU_SEC)
#define TU_HOUR (60 * TU_MIN)
#define TU_DAY  (24 * TU_HOUR)

/* Wall clock, UTC ms. */
int64_t tu_now(void);
/* A clock's reading in seconds (CLOCK_THREAD_CPUTIME_ID, a thread's CPU clock), -1 when
 * the system cannot read it. */
double tu_clock_seconds(clockid_t id);

/* Parse a duration: digits followed by ms, s, m, h, d or w ("90s", "1h", "2d"). */
int tu_parse_duration(const char *s, int64_t *ms, cherr *e);

/* Parse a point in time: "now", "+DURATION" or "-DURATION" (relative to `now`), or ISO 8601 with an
 * offset: 2026-11-23T10:00:00+08:00, 2026-11-23T02:00:00Z, fractional seconds allowed,
 * and "2026-11-23 10:00+08:00". A time without an offset is refused (ambiguous). */
int tu_parse_time(const char *s, int64_t now, int64_t *ms, cherr *e);

/* Format as ISO 8601 UTC with millisecond precision: 2026-11-23T02:00:00.000Z.
 * `buf` needs 32 bytes. Returns buf. */
char *tu_format(int64_t ms, char *buf, size_t len);

/* Format to the minute, as decision reasons show it: 2026-11-23T02:00Z. */
char *tu_format_min(int64_t ms, char *buf, size_t len);

#endif
