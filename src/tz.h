/* tz.h — user-local calendar arithmetic in IANA zones, DST-correct.
 *
 * Quiet hours, best hour and provider windows are wall-clock rules in a user's zone.
 * This module answers two questions: what is the local time at a UTC instant, and
 * which UTC instant is a given local wall time. It uses the C library's zone database
 * (/usr/share/zoneinfo) through localtime_r/mktime under a switched TZ, and memoises
 * each (zone, UTC hour) offset so the zone file is not re-read per message. The memo
 * is the module's own state (a process-wide cache of facts, not of decisions). */
#ifndef CHUDA_TZ_H
#define CHUDA_TZ_H

#include <stdint.h>

typedef struct tz_local {
    int year, month, day;       /* calendar date */
    int hour, min, sec;
    int wday;                   /* 0 = Sunday */
    int offset_min;             /* local - UTC, minutes */
} tz_local;

/* The zone directory when none is configured. */
#define TZ_DIR "/usr/share/zoneinfo"

/* The longest zone name taken (the IANA names are under 40 bytes). */
#define TZ_NAME_MAX 60

/* Is `name` shaped like a zone name: 1..TZ_NAME_MAX bytes of letters, digits, '/', '_',
 * '+', '-', no leading or trailing '/', no "//" (so no "..", no path out of the zone
 * directory)? */
int tz_name_shape(const char *name);

/* Is `name` (of that shape) a zone file, a regular file starting "TZif", under `dir`
 * (NULL: /usr/share/zoneinfo)? A directory ("America") or the database's other files
 * ("zone.tab") are not zones. No memo: each call opens the file. */
int tz_zone_file(const char *dir, const char *name);

/* Is `zone` a zone the database knows? ("Asia/Shanghai" yes, "Mars/Base" and "America"
 * no) The answer is memoised per name. */
int tz_valid(const char *zone);

/* Local time of `utc_ms` in `zone` (an unknown zone is treated as UTC). */
void tz_to_local(const char *zone, int64_t utc_ms, tz_local *out);

/* The first instant >= `from_ms` whose local wall time in `zone` is hh:mm. A wall time
 * skipped by a DST change resolves to the first instant after the gap. */
int64_t tz_next_wall(const char *zone, int64_t from_ms, int hh, int mm);

/* How many times the zone database has been loaded (TZ switched and tzset run): a
 * figure for tests that the memo spares the file reads. */
unsigned long tz_loads(void);

#endif
