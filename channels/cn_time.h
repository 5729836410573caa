/* cn_time.h — quota windows on China time (UTC+8, no DST), where the Chinese providers
 * reset their per-number, per-account and per-API limits: the next hour, the next
 * natural day, a fixed hour of the day (marketing SMS may go out from 08:00), the next
 * calendar month. All times are UTC milliseconds, as everywhere in chuda. */
#ifndef CHUDA_CN_TIME_H
#define CHUDA_CN_TIME_H

#include <stdint.h>
#include <time.h>

#include "timeutil.h"

#define CN_OFFSET (8 * TU_HOUR)

/* Start of the next hour (China's hours start with UTC's). */
static inline int64_t cn_next_hour(int64_t now)
{
    return (now / TU_HOUR + 1) * TU_HOUR;
}

/* Next midnight in China. */
static inline int64_t cn_next_day(int64_t now)
{
    return ((now + CN_OFFSET) / TU_DAY + 1) * TU_DAY - CN_OFFSET;
}

/* The next time it is `hour`:00 in China (later today, else tomorrow). */
static inline int64_t cn_next_at(int64_t now, int hour)
{
    int64_t day = (now + CN_OFFSET) / TU_DAY * TU_DAY - CN_OFFSET;
    int64_t t = day + hour * TU_HOUR;
    return t > now ? t : t + TU_DAY;
}

/* Midnight China time on the 1st of the month `months` after the one of `now`
 * (0: this month's start). */
static inline int64_t cn_month_start(int64_t now, int months)
{
    time_t s = (time_t)((now + CN_OFFSET) / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    tm.tm_mday = 1;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_mon += months;
    return (int64_t)timegm(&tm) * 1000 - CN_OFFSET;
}

/* Midnight China time on the 1st of next month. */
static inline int64_t cn_next_month(int64_t now)
{
    return cn_month_start(now, 1);
}

#endif
