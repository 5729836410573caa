/* tz.c — local time in IANA zones via the C library, memoised (see tz.h). The memos
 * are this file's own state: the process's TZ setting (one zone at a time), offsets per
 * (zone, hour) and which names are zones — a cache, never a source of truth. */
#include "tz.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fixstr.h"
#include "timeutil.h"

/* Both memos below are 4-way set-associative: a key hashes to a set of WAYS slots and,
 * when none holds it, replaces them in turn, so up to four keys of one set stay. Direct-
 * mapped, two zones whose hashes agree in the low bits (America/Los_Angeles and
 * Europe/Berlin do) evicted each other on every message and re-read the zone file. */
#define WAYS 4
#define MEMO_SETS 1024
#define VALID_SETS 64

/* (zone, UTC hour) -> offset in minutes. Offsets change only at transitions, which
 * happen on whole minutes; zones with offsets changing inside an hour are handled by
 * memoising per hour and checking the offset is constant across the hour. */
typedef struct memo {
    char zone[64];
    int64_t hour;
    int offset_min;
    int valid;
} memo;

static struct {
    memo way[WAYS];
    unsigned next;              /* the way a miss replaces */
} cache[MEMO_SETS];
static char current_tz[64];
static unsigned long zone_loads;

static void use_zone(const char *zone)
{
    if (!strcmp(current_tz, zone))
        return;
    fs_copy(current_tz, sizeof current_tz, zone);
    setenv("TZ", zone[0] ? zone : "UTC", 1);
    tzset();
    zone_loads++;
}

unsigned long tz_loads(void)
{
    return zone_loads;
}

/* Zone names already looked up (a file lookup each time is a system call per message),
 * with their answer. */
typedef struct valid_memo {
    char zone[64];
    int valid;
} valid_memo;

static struct {
    valid_memo way[WAYS];
    unsigned next;
} valid_cache[VALID_SETS];

static unsigned name_hash(const char *zone)
{
    unsigned h = 2166136261u;
    for (const char *p = zone; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h;
}

int tz_name_shape(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > TZ_NAME_MAX || name[0] == '/' || name[n - 1] == '/' || strstr(name, "//"))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '_' || c == '+' || c == '-'))
            return 0;
    }
    return 1;
}

int tz_zone_file(const char *dir, const char *name)
{
    if (!tz_name_shape(name))
        return 0;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : TZ_DIR, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char magic[4];
    struct stat sb;
    int ok = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && read(fd, magic, 4) == 4 &&
             !memcmp(magic, "TZif", 4);
    close(fd);
    return ok;
}

int tz_valid(const char *zone)
{
    if (!tz_name_shape(zone))
        return 0;
    unsigned set = name_hash(zone) % VALID_SETS;
    valid_memo *w = valid_cache[set].way;
    for (int i = 0; i < WAYS; i++)
        if (!strcmp(w[i].zone, zone))
            return w[i].valid;
    int ok = tz_zone_file(NULL, zone);
    valid_memo *m = &w[valid_cache[set].next++ % WAYS];
    fs_copy(m->zone, sizeof m->zone, zone);
    m->valid = ok;
    return ok;
}

static int offset_at(const char *zone, time_t t)
{
    use_zone(zone);
    struct tm tm;
    localtime_r(&t, &tm);
    return (int)(tm.tm_gmtoff / 60);
}

/* Offset (minutes) at utc_ms in zone, memoised per hour when constant over the hour. */
static int zone_offset(const char *zone, int64_t utc_ms)
{
    int64_t hour = utc_ms >= 0 ? utc_ms / TU_HOUR : (utc_ms - TU_HOUR + 1) / TU_HOUR;
    const char *z = tz_valid(zone) ? zone : "UTC";
    unsigned set = (name_hash(z) ^ (unsigned)(hour * 2654435761u)) % MEMO_SETS;
    memo *w = cache[set].way;
    for (int i = 0; i < WAYS; i++)
        if (w[i].valid && w[i].hour == hour && !strcmp(w[i].zone, z))
            return w[i].offset_min;
    time_t start = (time_t)(hour * 3600);
    int a = offset_at(z, start), b = offset_at(z, start + 3599);
    if (a != b)
        return offset_at(z, (time_t)(utc_ms / 1000));   /* a transition inside this hour */
    memo *m = &w[cache[set].next++ % WAYS];
    fs_copy(m->zone, sizeof m->zone, z);
    m->hour = hour;
    m->offset_min = a;
    m->valid = 1;
    return a;
}

static void civil(int64_t days, int *y, int *m, int *d)
{
    /* Howard Hinnant's civil_from_days */
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

void tz_to_local(const char *zone, int64_t utc_ms, tz_local *out)
{
    int off = zone_offset(zone, utc_ms);
    int64_t local = utc_ms + (int64_t)off * TU_MIN;
    int64_t days = local >= 0 ? local / TU_DAY : (local - TU_DAY + 1) / TU_DAY;
    int64_t rem = local - days * TU_DAY;
    civil(days, &out->year, &out->month, &out->day);
    out->hour = (int)(rem / TU_HOUR);
    out->min = (int)(rem % TU_HOUR / TU_MIN);
    out->sec = (int)(rem % TU_MIN / TU_SEC);
    out->wday = (int)(((days % 7) + 11) % 7);   /* 1970-01-01 was a Thursday */
    out->offset_min = off;
}

/* Local wall clock of an instant, as ms since the local epoch. */
static int64_t wall_of(const char *zone, int64_t utc_ms)
{
    return utc_ms + (int64_t)zone_offset(zone, utc_ms) * TU_MIN;
}

int64_t tz_next_wall(const char *zone, int64_t from_ms, int hh, int mm)
{
    int64_t from_wall = wall_of(zone, from_ms);
    int64_t day0 = (from_wall >= 0 ? from_wall / TU_DAY : (from_wall - TU_DAY + 1) / TU_DAY);
    for (int64_t day = day0; day < day0 + 3; day++) {
        int64_t w = day * TU_DAY + (int64_t)hh * TU_HOUR + (int64_t)mm * TU_MIN;
        /* the instant(s) whose wall time is w lie in [w - 14 h, w + 12 h] (offsets run
         * from -12:00 to +14:00): try the offsets in force just outside that stretch, so
         * a change inside it is seen also at +12:00 and more (Auckland, Chatham) */
        int64_t a = w - (int64_t)zone_offset(zone, w - 15 * TU_HOUR) * TU_MIN;
        int64_t b = w - (int64_t)zone_offset(zone, w + 13 * TU_HOUR) * TU_MIN;
        int64_t lo = a < b ? a : b, hi = a < b ? b : a, best = -1;
        if (wall_of(zone, lo) == w && lo >= from_ms)
            best = lo;
        else if (wall_of(zone, hi) == w && hi >= from_ms)
            best = hi;
        if (best >= 0)
            return best;
        if (wall_of(zone, lo) != w && wall_of(zone, hi) != w && hi > lo) {
            /* w falls in a DST gap: the first instant whose wall time passes w (to the
             * millisecond: the change itself) */
            while (hi - lo > 1) {
                int64_t mid = lo + (hi - lo) / 2;
                if (wall_of(zone, mid) >= w)
                    hi = mid;
                else
                    lo = mid;
            }
            if (hi >= from_ms)
                return hi;
        }
    }
    return from_ms;
}
