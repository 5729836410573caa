/* fuzz_api.c — libFuzzer harness: the input is an HTTP API request body. The first byte
 * picks the endpoint: POST /v1/messages (apireq_body, enq_from_json, then enq_one — every
 * check before a write: user, template, class, channel, window, times, variables on every
 * channel — inside a transaction that is rolled back), POST /v1/optouts or POST
 * /v1/credits (apireq_*_parse). A refusal must say why; what is accepted must hold
 * (credits: n in 1..1000000, a template id; a message: an id). The app
 * (config, shipped templates, a real SQLite database with two users) is made once in a
 * temporary directory; run from the top of the tree. Build and run with `make fuzz`. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "apireq.h"
#include "app.h"
#include "enqueue.h"

static app a;
static char dir[] = "/tmp/chuda-fuzz-api-XXXXXX";

static void cleanup(void)
{
    static const char *const files[] = {"chuda.conf", "f.db", "f.db-wal", "f.db-shm"};
    char path[96];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void open_app(void)
{
    char conf[96], cwd[4096];
    cherr e;
    if (!mkdtemp(dir) || !getcwd(cwd, sizeof cwd))
        abort();
    atexit(cleanup);
    snprintf(conf, sizeof conf, "%s/chuda.conf", dir);
    FILE *f = fopen(conf, "w");
    if (!f)
        abort();
    fprintf(f, "[chuda]\ndb = %s/f.db\ntemplates = %s/templates\n", dir, cwd);
    fclose(f);
    int from, to;
    if (app_open(&a, conf, NULL, APP_DB | APP_CREATE, &e) < 0 ||
        store_migrate(a.st, &from, &to, &e) < 0) {
        fprintf(stderr, "fuzz_api: %s\n", e.msg);
        abort();
    }
    app_close(&a);
    if (app_open(&a, conf, NULL, APP_DB | APP_TEMPLATES | APP_POLICY, &e) < 0) {
        fprintf(stderr, "fuzz_api: %s\n", e.msg);
        abort();
    }
    store_user u1 = {.user_id = "u1", .tier = "potential", .segment = "", .tz = "Asia/Shanghai",
                     .mp_openid = "oFuzz1", .phone = "+8613800000001", .attrs = "{}"};
    store_user u2 = {.user_id = "u2", .tier = "dormant", .segment = "vip", .tz = "",
                     .oa_openid = "oFuzz2", .attrs = "{\"name\":\"王芳\"}"};
    if (store_begin(a.st, &e) < 0 || store_user_put(a.st, &u1, &e) < 0 ||
        store_user_put(a.st, &u2, &e) < 0 || store_commit(a.st, &e) < 0) {
        fprintf(stderr, "fuzz_api: %s\n", e.msg);
        abort();
    }
}

/* A refusal says why. */
static void refused(const char *msg)
{
    if (!msg[0]) {
        fprintf(stderr, "a refusal without a reason\n");
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!a.st)
        open_app();
    if (!size)
        return 0;
    cherr e;
    json_t *j = apireq_body((const char *)data + 1, size - 1, &e);
    if (!j) {
        refused(e.msg);
        return 0;
    }
    switch (data[0] % 3) {
    case 0: {
        enq_request r;
        int64_t id;
        int dup;
        if (enq_from_json(j, &r, &e) < 0) {
            refused(e.msg);
            break;
        }
        if (store_begin(a.st, &e) < 0)
            abort();
        if (enq_one(&a, &r, 1795428930000LL, &id, &dup, &e) < 0)
            refused(e.msg);
        else if (id <= 0)
            abort();
        store_rollback(a.st);
        break;
    }
    case 1: {
        apireq_optout o;
        if (apireq_optout_parse(j, &o, &e) < 0)
            refused(e.msg);
        break;
    }
    default: {
        apireq_credits c;
        if (apireq_credits_parse(j, &c, &e) < 0)
            refused(e.msg);
        else if (c.n < 1 || c.n > 1000000 || !c.template_id)
            abort();
        break;
    }
    }
    json_decref(j);
    return 0;
}
