/* fuzz_template.c — libFuzzer harness: the input is a template file. It is parsed
 * (tpl_parse: INI, sections, filters, variants, load-time field rules), and when it
 * loads, every channel section is rendered for a fixed user — with message variables,
 * attributes, a tier, a segment, a zone and the user's A/B variant — and checked
 * against the channel's field rules. Build and run with `make fuzz`. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "channel.h"
#include "fieldrule.h"
#include "render.h"
#include "tpl.h"

static void render_all(const tpl *t, json_t *vars, json_t *attrs)
{
    render_ctx c = {.t = t, .vars = vars, .attrs = attrs, .user_id = "u1001",
                    .tier = "dormant", .segment = "vip", .tz = "America/New_York"};
    (void)tpl_in_holdout(t, "u1001");
    for (const char *const *n = chan_names(); *n; n++) {
        if (!tpl_has_section(t, *n))
            continue;
        render_out out;
        cherr e;
        if (render_channel(&c, *n, &out, &e) < 0)
            continue;
        fr_report rep;
        (void)fr_check(*n, &out, NULL, &rep, &e);
        fr_report_free(&rep);
        render_out_free(&out);
    }
    /* each value on its own too, with the base copy */
    c.variant = "";
    for (size_t i = 0; i < t->ini.n; i++) {
        buf b = {0};
        cherr e;
        (void)render_string(&c, t->ini.v[i].value, &b, &e);
        buf_free(&b);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *vars, *attrs;
    if (!vars) {
        vars = json_pack("{s:s, s:s, s:i, s:s, s:I}", "product", "羊绒围巾", "due",
                         "2026-03-08T07:00:00Z", "amount", 1250, "order_no", "SO2026",
                         "expires", (json_int_t)1772953200);
        attrs = json_pack("{s:s, s:s}", "name", "王芳", "city", "杭州");
    }
    char *text = fuzz_text(data, size);
    if (!text)
        return 0;
    cherr e;
    (void)render_check(text, &e);
    tpl t;
    if (tpl_parse(&t, "fuzz.ini", text, &e) == 0) {
        render_all(&t, vars, attrs);
        tpl_free(&t);
    }
    free(text);
    return 0;
}
