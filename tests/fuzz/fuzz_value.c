/* fuzz_value.c — libFuzzer harness: the input is one value as a variable would bring
 * it (any bytes, valid UTF-8 or not). The first byte picks a channel and a field; the
 * value is checked by fr_check and pushed through every filter (trunc at several
 * lengths, time in two zones, yuan), whose results must be valid UTF-8 and, for trunc,
 * within the limit. Build and run with `make fuzz`. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fieldrule.h"
#include "render.h"
#include "tpl.h"

static const char *const fields[][2] = {
    {"mp_subscribe", "data.thing1"},   {"mp_subscribe", "data.time2"},
    {"mp_subscribe", "data.date3"},    {"mp_subscribe", "data.amount4"},
    {"mp_subscribe", "data.name5"},    {"mp_subscribe", "data.phrase6"},
    {"mp_subscribe", "data.number7"},  {"mp_subscribe", "data.car_number8"},
    {"oa_template", "data.keyword1"},  {"sms", "params"},
    {"wecom", "content"},              {"wecom", "btntxt"},
    {"wecom_robot", "content"},        {"wecom_customer", "link.title"},
};

static const char *const filters[] = {
    "{{v|trunc:1}}", "{{v|trunc:5}}", "{{v|trunc:20}}", "{{v|time:%Y-%m-%d %H:%M %z %a}}",
    "{{v|yuan}}", "{{v|date}}", "{{v}}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tpl t;
    static int loaded;
    if (!loaded) {
        cherr e;
        if (tpl_parse(&t, "v.ini", "[template]\nclass = transactional\n[mp_subscribe]\n"
                                   "template_id = T\ndata.thing1 = hi\n", &e) < 0)
            abort();
        loaded = 1;
    }
    if (!size)
        return 0;
    size_t pick = data[0] % (sizeof fields / sizeof fields[0]);
    char *value = fuzz_text(data + 1, size - 1);
    if (!value)
        return 0;

    render_field f = {(char *)fields[pick][1], value, 1};
    render_out out = {&f, 1};
    fr_report rep;
    cherr e;
    (void)fr_check(fields[pick][0], &out, NULL, &rep, &e);
    fr_report_free(&rep);

    json_t *vars = json_object();
    json_object_set_new(vars, "v", json_stringn_nocheck(value, strlen(value)));
    render_ctx c = {.t = &t, .vars = vars, .user_id = "u1", .tz = data[0] & 1 ? "Asia/Shanghai"
                                                                             : "America/New_York"};
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
        buf b = {0};
        if (render_string(&c, filters[i], &b, &e) == 0 && b.s) {
            long n = fr_chars(b.s);
            if (i < 3 && fr_chars(value) >= 0 && n < 0)
                abort();        /* trunc of valid UTF-8 must stay valid */
            if (i < 3 && n > (long)(i == 0 ? 1 : i == 1 ? 5 : 20))
                abort();        /* and within its limit */
        }
        buf_free(&b);
    }
    json_decref(vars);
    free(value);
    return 0;
}
