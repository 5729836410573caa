/* fuzz_provider.c — libFuzzer harness: the input is a provider's reply. The first byte
 * picks the channel (mp_subscribe, oa_template, sms with Tencent, sms with Aliyun, wecom,
 * wecom_customer, wecom_robot), the second the transport (HTTP 200, 4xx, 429, 5xx, or a
 * transfer error), the rest is the body. Each channel is opened once from a fixed config
 * (as in tests/unit/chan_fixture.h) and its parse classifies the reply, then its
 * token_parse reads the same bytes as a token reply. Whatever the bytes, the outcome
 * must be a known class with a code, and a token only comes with CHAN_OK. Build and run
 * with `make fuzz`. */
#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "channel.h"
#include "config.h"

extern const chan_ops chan_mp_subscribe, chan_oa_template, chan_sms, chan_wecom,
    chan_wecom_customer, chan_wecom_robot;

static const struct {
    const chan_ops *ops;
    const char *conf;
    const char *to;
} fixtures[] = {
    {&chan_mp_subscribe, "[channel.mp_subscribe]\nappid = wx0123456789abcdef\n"
                         "secret_env = FUZZ_SECRET\n", "oFuzzOpenid0000000000000000"},
    {&chan_oa_template, "[channel.oa_template]\nappid = wx0123456789abcdef\n"
                        "secret_env = FUZZ_SECRET\n", "oFuzzOpenid0000000000000000"},
    {&chan_sms, "[channel.sms]\nprovider = tencent\nsecret_id = AKIDfuzz\nsecret_env = "
                "FUZZ_SECRET\nsign_name = 触达\nsdk_app_id = 1400006666\n", "+8613800000000"},
    {&chan_sms, "[channel.sms]\nprovider = aliyun\nsecret_id = LTAIfuzz\nsecret_env = "
                "FUZZ_SECRET\nsign_name = 触达\n", "+8613800000000"},
    {&chan_wecom, "[channel.wecom]\ncorpid = wwfuzz\nsecret_env = FUZZ_SECRET\n"
                  "agentid = 1000002\n", "zhangsan"},
    {&chan_wecom_customer, "[channel.wecom_customer]\ncorpid = wwfuzz\nsecret_env = "
                           "FUZZ_SECRET\nsender = lisi\n", "wmFuzzExternal"},
    {&chan_wecom_robot, "[channel.wecom_robot]\nkey_env = FUZZ_SECRET\n", "u1"},
};
#define N_FIX (sizeof fixtures / sizeof fixtures[0])

static chan *chans[N_FIX];
static config cfgs[N_FIX];

static void open_all(void)
{
    setenv("FUZZ_SECRET", "fuzz-secret-0123456789", 1);
    for (size_t i = 0; i < N_FIX; i++) {
        cherr e;
        cfgs[i].dir = strdup(".");
        if (inif_load_string(&cfgs[i].ini, "fuzz.conf", fixtures[i].conf, &e) < 0 ||
            chan_open(&chans[i], fixtures[i].ops, &cfgs[i], &e) < 0) {
            fprintf(stderr, "fuzz_provider: %s\n", e.msg);
            abort();
        }
    }
}

static void check(const chan_outcome *o)
{
    if (o->cls > CHAN_BACKOFF || !o->code[0] || !memchr(o->reason, '\0', sizeof o->reason))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[] = {200, 200, 200, 200, 400, 404, 429, 500, 503, 0};
    if (!chans[0])
        open_all();
    if (size < 2)
        return 0;
    size_t k = data[0] % N_FIX;
    long status = statuses[data[1] % (sizeof statuses / sizeof statuses[0])];
    char *body = fuzz_text(data + 2, size - 2);
    if (!body)
        return 0;

    http_resp r = {0};
    r.status = status;
    r.curl_code = status ? CURLE_OK : (data[1] & 1 ? CURLE_OPERATION_TIMEDOUT
                                                   : CURLE_PEER_FAILED_VERIFICATION);
    r.error = status ? NULL : "transfer failed";
    r.may_have_sent = data[1] & 2;
    r.body = body;
    r.body_len = size - 2;

    render_out f = {0};
    chan_msg m = {.id = 42, .attempt = 1 + (data[1] >> 4), .user_id = "u1",
                  .to = fixtures[k].to, .f = &f};
    chan *c = chans[k];
    chan_outcome o;
    memset(&o, 0, sizeof o);
    c->ops->parse(c, &m, &r, 1795428930000LL, &o);
    check(&o);
    if (c->ops->token_parse) {
        char token[600];
        int64_t ttl = 0;
        memset(&o, 0, sizeof o);
        int rc = c->ops->token_parse(c, &r, token, sizeof token, &ttl, &o);
        if (rc == 0 && (o.cls != CHAN_OK || !token[0] || ttl <= 0))
            abort();        /* a token only with ok, never empty, with a lifetime */
        if (rc < 0)
            check(&o);
    }
    free(body);
    return 0;
}
