/* test_time.c — timeutil: ISO 8601 with offsets, relative times, durations, and
 * formatting back to UTC; tz: local time and the next local wall time in IANA zones
 * across both DST changes of America/New_York and Europe/London (gaps and repeated
 * hours) and a 30-minute change (Australia/Lord_Howe). `now` is always a fixed value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "timeutil.h"
#include "tz.h"

#define T_2026_11_23_0200Z 1795399200000LL   /* 2026-11-23T02:00:00Z */
#define NOW 1795399200000LL                  /* the fixed clock of these tests */

static int64_t parse_ok(const char *s)
{
    cherr e;
    int64_t ms = -42;
    if (tu_parse_time(s, NOW, &ms, &e) < 0)
        fail_msg("'%s': %s", s, e.msg);
    return ms;
}

static void parse_bad(const char *s, const char *want_in_msg)
{
    cherr e = {{0}};
    int64_t ms = -42;
    if (tu_parse_time(s, NOW, &ms, &e) == 0)
        fail_msg("'%s' was accepted as %lld", s, (long long)ms);
    assert_int_equal(ms, -42);                         /* untouched on error */
    if (!strstr(e.msg, want_in_msg))
        fail_msg("'%s': message \"%s\" lacks \"%s\"", s, e.msg, want_in_msg);
}

static void test_utc_and_offsets(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("2026-11-23T02:00:00Z"), T_2026_11_23_0200Z);
    assert_int_equal(parse_ok("2026-11-23T02:00:00z"), T_2026_11_23_0200Z);
    assert_int_equal(parse_ok("2026-11-23T10:00:00+08:00"), T_2026_11_23_0200Z);
    assert_int_equal(parse_ok("2026-11-23T10:00:00+0800"), T_2026_11_23_0200Z);
    assert_int_equal(parse_ok("2026-11-22T20:30:00-05:30"), T_2026_11_23_0200Z);
    assert_int_equal(parse_ok("2026-11-23 10:00+08:00"), T_2026_11_23_0200Z);   /* no seconds */
    assert_int_equal(parse_ok("2026-11-23T02:00:00+00:00"), T_2026_11_23_0200Z);
    assert_int_equal(parse_ok("2026-11-23T02:00:00-00:00"), T_2026_11_23_0200Z);
    /* an offset that crosses a year boundary */
    assert_int_equal(parse_ok("2027-01-01T02:30:00+08:00"), 1798741800000LL);
}

static void test_fractional_seconds(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("2026-11-23T02:00:00.5Z"), T_2026_11_23_0200Z + 500);
    assert_int_equal(parse_ok("2026-11-23T02:00:00.123Z"), T_2026_11_23_0200Z + 123);
    assert_int_equal(parse_ok("2026-11-23T02:00:00.123456789Z"), T_2026_11_23_0200Z + 123);
    assert_int_equal(parse_ok("2026-11-23T02:00:00,25Z"), T_2026_11_23_0200Z + 250);
    assert_int_equal(parse_ok("2026-11-23T10:00:00.999+08:00"), T_2026_11_23_0200Z + 999);
    parse_bad("2026-11-23T02:00:00.Z", "expected ISO 8601");
}

static void test_relative(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("now"), NOW);
    assert_int_equal(parse_ok("+90s"), NOW + 90 * TU_SEC);
    assert_int_equal(parse_ok("+1h"), NOW + TU_HOUR);
    assert_int_equal(parse_ok("+2d"), NOW + 2 * TU_DAY);
    assert_int_equal(parse_ok("+30m"), NOW + 30 * TU_MIN);
    assert_int_equal(parse_ok("+1w"), NOW + 7 * TU_DAY);
    assert_int_equal(parse_ok("+0s"), NOW);
    parse_bad("+", "bad relative time");
    parse_bad("+1y", "bad relative time");
    parse_bad("+-1h", "bad relative time");
    assert_int_equal(parse_ok("-1h"), NOW - TU_HOUR);    /* the past, for --since */
    parse_bad("-1y", "bad relative time");
    parse_bad("Now", "expected ISO 8601");
}

static void test_rejects(void **state)
{
    (void)state;
    parse_bad("2026-11-23T10:00:00", "has no UTC offset");
    parse_bad("2026-11-23 10:00", "has no UTC offset");
    parse_bad("2026-02-30T10:00:00Z", "not a valid calendar time");
    parse_bad("2026-02-29T10:00:00Z", "not a valid calendar time");   /* 2026 is no leap year */
    parse_bad("2100-02-29T10:00:00Z", "not a valid calendar time");   /* nor is 2100 */
    parse_bad("2026-13-01T10:00:00Z", "not a valid calendar time");
    parse_bad("2026-04-31T10:00:00Z", "not a valid calendar time");
    parse_bad("2026-11-23T24:00:00Z", "not a valid calendar time");
    parse_bad("2026-11-23T10:60:00Z", "not a valid calendar time");
    parse_bad("2026-11-23T10:00:00+15:00", "expected ISO 8601");
    parse_bad("2026-11-23T10:00:00+08:60", "expected ISO 8601");
    parse_bad("2026-11-23T10:00:00+8", "expected ISO 8601");
    parse_bad("2026-11-23T10:00:00Zjunk", "expected ISO 8601");
    parse_bad("2026-11-23", "expected ISO 8601");
    parse_bad("26-11-23T10:00:00Z", "expected ISO 8601");
    parse_bad("2026/11/23T10:00:00Z", "expected ISO 8601");
    parse_bad("", "empty time");
}

static void test_leap_days(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("2028-02-29T00:00:00Z"), 1835395200000LL);
    assert_int_equal(parse_ok("2000-02-29T12:00:00Z"), 951825600000LL);
    /* the day after 2026-02-28 is March 1st */
    assert_int_equal(parse_ok("2026-03-01T00:00:00Z") - parse_ok("2026-02-28T00:00:00Z"),
                     TU_DAY);
    assert_int_equal(parse_ok("2028-03-01T00:00:00Z") - parse_ok("2028-02-28T00:00:00Z"),
                     2 * TU_DAY);
}

static void test_duration(void **state)
{
    (void)state;
    cherr e;
    int64_t ms;
    struct { const char *s; int64_t ms; } ok[] = {
        {"250ms", 250}, {"90s", 90 * TU_SEC}, {"30m", 30 * TU_MIN}, {"1h", TU_HOUR},
        {"7d", 7 * TU_DAY}, {"2w", 14 * TU_DAY}, {"0s", 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (tu_parse_duration(ok[i].s, &ms, &e) < 0)
            fail_msg("'%s': %s", ok[i].s, e.msg);
        assert_int_equal(ms, ok[i].ms);
    }
    struct { const char *s, *msg; } bad[] = {
        {"", "expected a number and a unit"},
        {"h", "expected a number and a unit"},
        {"-5s", "expected a number and a unit"},
        {"10", "unit must be"},
        {"1.5h", "unit must be"},
        {"5 s", "unit must be"},
        {"5sec", "unit must be"},
        {"999999999999d", "out of range"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        e.msg[0] = '\0';
        if (tu_parse_duration(bad[i].s, &ms, &e) == 0)
            fail_msg("'%s' accepted", bad[i].s);
        if (!strstr(e.msg, bad[i].msg))
            fail_msg("'%s': \"%s\" lacks \"%s\"", bad[i].s, e.msg, bad[i].msg);
    }
    assert_int_equal(tu_parse_duration(NULL, &ms, &e), -1);
}

static void test_format(void **state)
{
    (void)state;
    char b[32];
    assert_string_equal(tu_format(T_2026_11_23_0200Z, b, sizeof b), "2026-11-23T02:00:00.000Z");
    assert_string_equal(tu_format(T_2026_11_23_0200Z + 7, b, sizeof b),
                        "2026-11-23T02:00:00.007Z");
    assert_string_equal(tu_format(0, b, sizeof b), "1970-01-01T00:00:00.000Z");
    assert_string_equal(tu_format(-1, b, sizeof b), "1969-12-31T23:59:59.999Z");
    assert_string_equal(tu_format(1835395200000LL, b, sizeof b), "2028-02-29T00:00:00.000Z");
    assert_string_equal(tu_format_min(T_2026_11_23_0200Z + 59999, b, sizeof b),
                        "2026-11-23T02:00Z");
    /* minutes: every field two digits, and the same as a full format's first 16 bytes */
    assert_string_equal(tu_format_min(0, b, sizeof b), "1970-01-01T00:00Z");
    assert_string_equal(tu_format_min(-1, b, sizeof b), "1969-12-31T23:59Z");
    assert_string_equal(tu_format_min(1835395200000LL + 23 * 3600000 + 59 * 60000, b, sizeof b),
                        "2028-02-29T23:59Z");
    char full[32];
    for (int64_t t = -86400000LL * 400; t < 86400000LL * 40000; t += 86400000LL * 397 + 4321987) {
        tu_format(t, full, sizeof full);
        memcpy(full + 16, "Z", 2);
        assert_string_equal(tu_format_min(t, b, sizeof b), full);
    }
    char small[12];                              /* too short: truncated, as snprintf does */
    assert_string_equal(tu_format_min(0, small, sizeof small), "1970-01-01T");
}

static void test_round_trip(void **state)
{
    (void)state;
    const int64_t v[] = {
        0, 1, 999, -1000, -1, T_2026_11_23_0200Z, T_2026_11_23_0200Z + 123,
        1835395200000LL - 1,    /* the last ms of 2028-02-28 */
        951825600000LL, 4102444799999LL,   /* 2099-12-31T23:59:59.999Z */
    };
    char b[32];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        tu_format(v[i], b, sizeof b);
        int64_t back = parse_ok(b);
        if (back != v[i])
            fail_msg("%lld -> %s -> %lld", (long long)v[i], b, (long long)back);
    }
    /* and text -> ms -> text, from another offset */
    tu_format(parse_ok("2026-03-29T01:59:59.250+01:00"), b, sizeof b);
    assert_string_equal(b, "2026-03-29T00:59:59.250Z");
}

/* ---- tz ---------------------------------------------------------------------------- */

static void local_is(const char *zone, const char *utc, int y, int mo, int d, int h, int mi,
                     int sec, int off, int wday)
{
    tz_local l;
    tz_to_local(zone, parse_ok(utc), &l);
    if (l.year != y || l.month != mo || l.day != d || l.hour != h || l.min != mi ||
        l.sec != sec || l.offset_min != off || l.wday != wday)
        fail_msg("%s in %s: got %04d-%02d-%02d %02d:%02d:%02d offset %d wday %d", utc, zone,
                 l.year, l.month, l.day, l.hour, l.min, l.sec, l.offset_min, l.wday);
}

static void test_tz_local_across_dst(void **state)
{
    (void)state;
    /* New York, 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z); a Sunday */
    local_is("America/New_York", "2026-03-08T06:59:59Z", 2026, 3, 8, 1, 59, 59, -300, 0);
    local_is("America/New_York", "2026-03-08T07:00:00Z", 2026, 3, 8, 3, 0, 0, -240, 0);
    /* 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z): 01:xx happens twice */
    local_is("America/New_York", "2026-11-01T05:59:59Z", 2026, 11, 1, 1, 59, 59, -240, 0);
    local_is("America/New_York", "2026-11-01T06:00:00Z", 2026, 11, 1, 1, 0, 0, -300, 0);
    /* London, 2026-03-29 01:00 GMT -> 02:00 BST and 2026-10-25 02:00 BST -> 01:00 GMT */
    local_is("Europe/London", "2026-03-29T00:59:59Z", 2026, 3, 29, 0, 59, 59, 0, 0);
    local_is("Europe/London", "2026-03-29T01:00:00Z", 2026, 3, 29, 2, 0, 0, 60, 0);
    local_is("Europe/London", "2026-10-25T00:59:59Z", 2026, 10, 25, 1, 59, 59, 60, 0);
    local_is("Europe/London", "2026-10-25T01:00:00Z", 2026, 10, 25, 1, 0, 0, 0, 0);
    /* a change of 30 minutes, inside a UTC hour */
    local_is("Australia/Lord_Howe", "2026-10-03T15:29:59Z", 2026, 10, 4, 1, 59, 59, 630, 0);
    local_is("Australia/Lord_Howe", "2026-10-03T15:30:00Z", 2026, 10, 4, 2, 30, 0, 660, 0);
    /* no DST; the date changes with the offset; an unknown zone is UTC */
    local_is("Asia/Shanghai", "2026-11-22T16:00:00Z", 2026, 11, 23, 0, 0, 0, 480, 1);
    local_is("Mars/Base", "2026-11-22T16:00:00Z", 2026, 11, 22, 16, 0, 0, 0, 0);
    assert_true(tz_valid("America/New_York"));
    assert_false(tz_valid("Mars/Base"));
    assert_false(tz_valid("../etc/passwd"));
    assert_false(tz_valid(""));
    /* a directory of the database, or a file of it that is no zone, is no zone: once
     * accepted (readable) and then silently UTC */
    assert_false(tz_valid("America"));
    assert_false(tz_valid("Asia/"));
    assert_false(tz_valid("zone.tab"));
    assert_false(tz_valid("Asia//Shanghai"));
    assert_true(tz_valid("Etc/GMT+8"));
    assert_true(tz_name_shape("America/Argentina/Buenos_Aires"));
    assert_false(tz_name_shape("Asia/../UTC"));
    char longname[TZ_NAME_MAX + 2];
    memset(longname, 'A', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_false(tz_name_shape(longname));
    longname[TZ_NAME_MAX] = '\0';
    assert_true(tz_name_shape(longname));
}

/* Zones whose names hash alike share a memo set and must not evict each other: the
 * memo once was direct-mapped, and America/Los_Angeles and Europe/Berlin (their FNV-1a
 * hashes agree in the low 12 bits: one slot of each memo) made every other message
 * re-read a zone file. Six zones, interleaved, over one hour: after the first lookup of
 * each, no zone is loaded again. (If tz.c's hash or set count changes, check that two of
 * these still share a set, or the test no longer tests a collision.) */
static void test_tz_memo_keeps_colliding_zones(void **state)
{
    (void)state;
    static const char *zones[] = {"America/Los_Angeles", "Europe/Berlin", "Europe/London",
                                  "America/New_York", "Asia/Shanghai", "Asia/Tokyo"};
    static const int offsets[] = {-480, 60, 0, -300, 480, 540};
    int64_t t0 = parse_ok("2026-12-02T17:00:00Z");
    tz_local l;
    for (int z = 0; z < 6; z++)
        tz_to_local(zones[z], t0, &l);
    unsigned long loads = tz_loads();
    for (int i = 0; i < 6000; i++) {
        tz_to_local(zones[i % 6], t0 + (int64_t)(i % 3600) * 1000, &l);
        assert_int_equal(l.offset_min, offsets[i % 6]);
    }
    assert_int_equal(tz_loads() - loads, 0);
}

/* tz_next_wall(zone, FROM, hh, mm) == WANT */
typedef struct next_case {
    const char *zone, *from;
    int hh, mm;
    const char *want;
} next_case;

static void next_are(const next_case *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t got = tz_next_wall(v[i].zone, parse_ok(v[i].from), v[i].hh, v[i].mm);
        if (got != parse_ok(v[i].want)) {
            char b[32];
            fail_msg("next %02d:%02d in %s from %s: got %s, want %s", v[i].hh, v[i].mm,
                     v[i].zone, v[i].from, tu_format(got, b, sizeof b), v[i].want);
        }
    }
}

static void test_tz_next_wall_plain(void **state)
{
    (void)state;
    static const next_case v[] = {
        {"Asia/Shanghai", "2026-11-23T00:00:00Z", 8, 0, "2026-11-23T00:00:00Z"},  /* >= */
        {"Asia/Shanghai", "2026-11-23T00:00:00.001Z", 8, 0, "2026-11-24T00:00:00Z"},
        {"Asia/Shanghai", "2026-11-22T15:59:59.999Z", 0, 0, "2026-11-22T16:00:00Z"},
        {"Asia/Shanghai", "2026-12-31T20:00:00Z", 8, 0, "2027-01-01T00:00:00Z"},
        {"Asia/Kathmandu", "2026-11-23T00:00:00Z", 8, 0, "2026-11-23T02:15:00Z"},  /* +05:45 */
        {"America/New_York", "2026-11-23T14:00:00Z", 8, 0, "2026-11-24T13:00:00Z"},
    };
    next_are(v, sizeof v / sizeof v[0]);
}

static void test_tz_next_wall_dst_day(void **state)
{
    (void)state;
    static const next_case v[] = {
        /* 08:00 on each change day: the offset of that morning, not of the night before */
        {"America/New_York", "2026-03-08T04:00:00Z", 8, 0, "2026-03-08T12:00:00Z"},
        {"America/New_York", "2026-11-01T04:00:00Z", 8, 0, "2026-11-01T13:00:00Z"},
        {"Europe/London", "2026-03-28T23:00:00Z", 8, 0, "2026-03-29T07:00:00Z"},
        {"Europe/London", "2026-10-24T23:00:00Z", 8, 0, "2026-10-25T08:00:00Z"},
        /* across the change, a day apart on the wall is 23 or 25 hours apart */
        {"America/New_York", "2026-03-07T14:00:00.001Z", 9, 0, "2026-03-08T13:00:00Z"},
        {"America/New_York", "2026-10-31T13:00:00.001Z", 9, 0, "2026-11-01T14:00:00Z"},
    };
    next_are(v, sizeof v / sizeof v[0]);
}

static void test_tz_next_wall_gap(void **state)
{
    (void)state;
    static const next_case v[] = {
        /* a wall time the clocks skip resolves to the first instant after the gap, exactly */
        {"America/New_York", "2026-03-08T05:00:00Z", 2, 30, "2026-03-08T07:00:00Z"},
        {"America/New_York", "2026-03-08T05:00:00Z", 2, 0, "2026-03-08T07:00:00Z"},
        {"America/New_York", "2026-03-08T05:00:00Z", 2, 10, "2026-03-08T07:00:00Z"},
        {"America/New_York", "2026-03-08T05:00:00Z", 2, 59, "2026-03-08T07:00:00Z"},
        {"America/New_York", "2026-03-08T05:00:00Z", 3, 0, "2026-03-08T07:00:00Z"},
        /* the next day 02:30 exists again */
        {"America/New_York", "2026-03-08T07:00:00.001Z", 2, 30, "2026-03-09T06:30:00Z"},
        {"Europe/London", "2026-03-29T00:00:00Z", 1, 30, "2026-03-29T01:00:00Z"},
        {"Europe/London", "2026-03-29T00:00:00Z", 1, 5, "2026-03-29T01:00:00Z"},
        {"Australia/Lord_Howe", "2026-10-03T14:00:00Z", 2, 10, "2026-10-03T15:30:00Z"},
        /* offsets of 12 h and more before the change: Auckland 2026-09-27 02:00 NZST
         * (+12) -> 03:00 NZDT, Chatham 02:45 (+12:45) -> 03:45 (14:00Z both) */
        {"Pacific/Auckland", "2026-09-26T00:00:00Z", 2, 30, "2026-09-26T14:00:00Z"},
        {"Pacific/Auckland", "2026-09-26T00:00:00Z", 3, 0, "2026-09-26T14:00:00Z"},
        {"Pacific/Auckland", "2026-09-26T14:00:00.001Z", 2, 30, "2026-09-27T13:30:00Z"},
        {"Pacific/Chatham", "2026-09-26T00:00:00Z", 3, 0, "2026-09-26T14:00:00Z"},
    };
    next_are(v, sizeof v / sizeof v[0]);
}

static void test_tz_next_wall_repeated_hour(void **state)
{
    (void)state;
    static const next_case v[] = {
        /* 01:30 happens twice: the first at or after FROM */
        {"America/New_York", "2026-11-01T04:00:00Z", 1, 30, "2026-11-01T05:30:00Z"},
        {"America/New_York", "2026-11-01T05:30:00Z", 1, 30, "2026-11-01T05:30:00Z"},
        {"America/New_York", "2026-11-01T05:30:00.001Z", 1, 30, "2026-11-01T06:30:00Z"},
        {"America/New_York", "2026-11-01T06:10:00Z", 1, 30, "2026-11-01T06:30:00Z"},
        {"America/New_York", "2026-11-01T06:30:00.001Z", 1, 30, "2026-11-02T06:30:00Z"},
        {"Europe/London", "2026-10-24T23:00:00Z", 1, 30, "2026-10-25T00:30:00Z"},
        {"Europe/London", "2026-10-25T00:31:00Z", 1, 30, "2026-10-25T01:30:00Z"},
        {"Europe/London", "2026-10-25T01:31:00Z", 1, 30, "2026-10-26T01:30:00Z"},
        /* Auckland 2027-04-04 03:00 NZDT (+13) -> 02:00 NZST (14:00Z): 02:30 at 13:30Z
         * and 14:30Z */
        {"Pacific/Auckland", "2027-04-03T11:00:00Z", 2, 30, "2027-04-03T13:30:00Z"},
        {"Pacific/Auckland", "2027-04-03T13:30:00.001Z", 2, 30, "2027-04-03T14:30:00Z"},
        /* 02:00 EDT is not a wall time of that night (the clock reads 01:00 again) */
        {"America/New_York", "2026-11-01T04:00:00Z", 2, 0, "2026-11-01T07:00:00Z"},
    };
    next_are(v, sizeof v / sizeof v[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utc_and_offsets),
        cmocka_unit_test(test_fractional_seconds),
        cmocka_unit_test(test_relative),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_leap_days),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_tz_local_across_dst),
        cmocka_unit_test(test_tz_memo_keeps_colliding_zones),
        cmocka_unit_test(test_tz_next_wall_plain),
        cmocka_unit_test(test_tz_next_wall_dst_day),
        cmocka_unit_test(test_tz_next_wall_gap),
        cmocka_unit_test(test_tz_next_wall_repeated_hour),
    };
    return cmocka_run_group_tests_name("time", tests, NULL, NULL);
}
