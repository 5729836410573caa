/* fuzz_csv.c — libFuzzer harness: the input is a users CSV file, imported with
 * imp_users_fp (the csvr reader: header, quoting, line tracking, field caps, UTF-8;
 * then tier and zone checks, duplicates, attributes) through fmemopen into a real SQLite
 * database made once in a temporary directory. An import is all or nothing: on error the
 * message must name the input ("fuzz.csv:"). Build and run with `make fuzz`. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "import.h"
#include "store.h"

static const char *const tiers[] = {"high_value", "potential", "new", "dormant", "churned",
                                    NULL};

static char dir[] = "/tmp/chuda-fuzz-csv-XXXXXX";

static void cleanup(void)
{
    static const char *const files[] = {"f.db", "f.db-wal", "f.db-shm"};
    char path[96];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

static store *open_db(void)
{
    char path[64];
    cherr e;
    store *st;
    int from, to;
    if (!mkdtemp(dir))
        abort();
    atexit(cleanup);
    snprintf(path, sizeof path, "%s/f.db", dir);
    if (store_sqlite_open(path, 1, &st, &e) < 0 || store_migrate(st, &from, &to, &e) < 0) {
        fprintf(stderr, "fuzz_csv: %s\n", e.msg);
        abort();
    }
    store_close(st);
    if (store_sqlite_open(path, 0, &st, &e) < 0) {
        fprintf(stderr, "fuzz_csv: %s\n", e.msg);
        abort();
    }
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static store *st;
    if (!st)
        st = open_db();
    if (!size)
        return 0;
    FILE *fp = fmemopen((void *)data, size, "rb");
    if (!fp)
        return 0;
    imp_rules rules = {.tiers = tiers};
    imp_stats stats;
    cherr e;
    store_seg all = {NULL, 0};
    long before = 0, after = 0;
    if (store_users_count(st, &all, &before, &e) < 0)
        abort();
    if (imp_users_fp(st, fp, "fuzz.csv", &rules, &stats, &e) < 0) {
        if (strncmp(e.msg, "fuzz.csv", 8) != 0) {
            fprintf(stderr, "error without the file name: %s\n", e.msg);
            abort();
        }
        if (store_users_count(st, &all, &after, &e) < 0 || after != before) {
            fprintf(stderr, "a failed import wrote users: %ld -> %ld\n", before, after);
            abort();        /* nothing half-written */
        }
    }
    fclose(fp);
    return 0;
}
