/* fuzz_config.c — libFuzzer harness: the input is a config file. It is parsed from
 * memory (cfg_load_string: INI, continuation lines, the schema of sections and keys)
 * and, when it loads, read the way the commands read it: the policy (tiers, caps,
 * classes, quiet hours), the field limits, the scheduler's options, and every
 * [channel.NAME] opened (generic keys, then the channel's own: appid, provider, ...,
 * the secret from an environment variable). Inputs naming a *_file key are only parsed:
 * the harness does not read files the input names. Build and run with `make fuzz`. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "channel.h"
#include "config.h"
#include "fieldrule.h"
#include "policy.h"

static int open_channel(const char *section, void *arg)
{
    const config *cfg = arg;
    const chan_ops *ops = chan_ops_find(section + strlen("channel."));
    chan *c;
    cherr e;
    if (ops && chan_open(&c, ops, cfg, &e) == 0)
        chan_close(c);
    return 0;
}

static void read_all(const config *cfg)
{
    cherr e;
    policy pol;
    if (policy_load(&pol, cfg, &e) == 0)
        policy_free(&pol);
    fr_limits fr;
    (void)fr_limits_load(&fr, cfg, &e);
    long n;
    int64_t ms;
    (void)cfg_int(cfg, "chuda", "batch", 500, 1, 100000, &n, &e);
    (void)cfg_int(cfg, "api", "max_body", 1048576, 1024, 64 << 20, &n, &e);
    (void)cfg_duration(cfg, "chuda", "lease", "5m", &ms, &e);
    (void)cfg_duration(cfg, "chuda", "poll", "1s", &ms, &e);
    free(cfg_path(cfg, "chuda", "db", "chuda.db"));
    for (size_t i = 0; i < cfg->ini.n; i++) {
        size_t kl = strlen(cfg->ini.v[i].key);
        if (kl >= 5 && !strcmp(cfg->ini.v[i].key + kl - 5, "_file"))
            return;
    }
    (void)cfg_each_section(cfg, "channel.", open_channel, (void *)cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int env;
    if (!env) {
        setenv("CHUDA_MP_SECRET", "fuzz-secret", 1);
        setenv("CHUDA_SMS_SECRET", "fuzz-secret", 1);
        setenv("CHUDA_FUZZ_SECRET", "fuzz-secret", 1);
        env = 1;
    }
    char *text = fuzz_text(data, size);
    if (!text)
        return 0;
    config cfg;
    cherr e;
    if (cfg_load_string(&cfg, "fuzz.conf", text, &e) == 0) {
        read_all(&cfg);
        cfg_free(&cfg);
    } else if (strncmp(e.msg, "fuzz.conf", 9) != 0) {
        fprintf(stderr, "error without the file name: %s\n", e.msg);
        abort();
    }
    free(text);
    return 0;
}
