/* test_render.c — templates and rendering: where {{name}} comes from (message vars,
 * user attributes, user fields, [copy], default.NAME, inline default), tier and segment
 * overrides key by key, the recursion limit, syntax checks, and tpl_parse errors with
 * file:line. The channel section used is [mp_subscribe] (template_id, data.KEY). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "render.h"
#include "tpl.h"

static const char cart_ini[] =
    "[template]\n"                                      /* 1 */
    "class = marketing\n"                               /* 2 */
    "vars = product, price\n"                           /* 3 */
    "default.greeting = 你好\n"                          /* 4 */
    "default.sign = {{shop}}敬上\n"                      /* 5 */
    "description = cart reminder\n"                     /* 6 */
    "\n"                                                /* 7 */
    "[copy]\n"                                          /* 8 */
    "shop = 小铺\n"                                      /* 9 */
    "title = {{greeting}}，{{name|朋友}}\n"               /* 10 */
    "body = {{product}}还在购物车里\n"                     /* 11 */
    "hint = base hint\n"                                /* 12 */
    "offer = base offer\n"                              /* 13 */
    "\n"                                                /* 14 */
    "[copy.tier.high_value]\n"                          /* 15 */
    "hint = tier hint\n"                                /* 16 */
    "offer = tier offer\n"                              /* 17 */
    "\n"                                                /* 18 */
    "[copy.segment.mom_baby]\n"                         /* 19 */
    "hint = segment hint\n"                             /* 20 */
    "\n"                                                /* 21 */
    "[mp_subscribe]\n"                                  /* 22 */
    "template_id = TPL_CART\n"                          /* 23 */
    "data.thing1 = {{body}}\n"                          /* 24 */
    "data.thing2 = {{hint}}\n"                          /* 25 */
    "data.amount3 = {{price}}\n"                        /* 26 */
    "\n"                                                /* 27 */
    "[mp_subscribe.segment.beauty]\n"                   /* 28 */
    "data.thing2 = 美妆专享：{{offer}}\n"                 /* 29 */
    "page = pages/beauty\n";                            /* 30 */

typedef struct fx {
    tpl t;
    json_t *vars, *attrs;
    render_ctx c;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    cherr e;
    if (tpl_parse(&f->t, "cart.ini", cart_ini, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    f->vars = json_pack("{s:s, s:i}", "product", "奶粉", "price", 199);
    f->attrs = json_pack("{s:s, s:s}", "name", "王芳", "city", "杭州");
    f->c = (render_ctx){.t = &f->t, .vars = f->vars, .attrs = f->attrs, .user_id = "u1001",
                        .tier = "potential", .segment = "digital"};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    tpl_free(&f->t);
    json_decref(f->vars);
    json_decref(f->attrs);
    free(f);
    return 0;
}

/* Render `src` and compare; returns nothing, fails the test on a mismatch. */
static void render_is(const render_ctx *c, const char *src, const char *want)
{
    buf b = {0};
    cherr e;
    if (render_string(c, src, &b, &e) < 0)
        fail_msg("'%s': %s", src, e.msg);
    if (strcmp(b.s ? b.s : "", want))
        fail_msg("'%s' rendered \"%s\", want \"%s\"", src, b.s ? b.s : "", want);
    buf_free(&b);
}

static void render_fails(const render_ctx *c, const char *src, const char *want)
{
    buf b = {0};
    cherr e = {{0}};
    if (render_string(c, src, &b, &e) == 0)
        fail_msg("'%s' rendered \"%s\", want error \"%s\"", src, b.s ? b.s : "", want);
    buf_free(&b);
    if (strcmp(e.msg, want))
        fail_msg("'%s': error \"%s\", want \"%s\"", src, e.msg, want);
}

/* ---- render_string ------------------------------------------------------------- */

static void test_sources(void **state)
{
    fx *f = *state;
    render_is(&f->c, "plain text", "plain text");
    render_is(&f->c, "", "");
    render_is(&f->c, "{{product}}", "奶粉");                       /* message variable */
    render_is(&f->c, "¥{{price}}", "¥199");                          /* integer variable */
    render_is(&f->c, "{{name}}在{{city}}", "王芳在杭州");              /* user attributes */
    render_is(&f->c, "{{user_id}}/{{tier}}/{{segment}}", "u1001/potential/digital");
    render_is(&f->c, "{{body}}", "奶粉还在购物车里");                  /* [copy], rendered */
    render_is(&f->c, "{{greeting}}", "你好");                         /* default.NAME */
    render_is(&f->c, "{{sign}}", "小铺敬上");                          /* a default that renders */
    render_is(&f->c, "{{coupon|满99减10}}", "满99减10");               /* inline default */
    render_is(&f->c, "{{coupon|}}!", "!");                           /* an empty inline default */
    render_is(&f->c, "{{ product }}", "奶粉");                        /* spaces trimmed */
    render_is(&f->c, "{{title}}", "你好，王芳");
    render_is(&f->c, "a {single} brace", "a {single} brace");
}

static void test_precedence(void **state)
{
    fx *f = *state;
    /* a message variable beats an attribute, a [copy] key and a default */
    json_object_set_new(f->vars, "name", json_string("客官"));
    json_object_set_new(f->vars, "hint", json_string("var hint"));
    json_object_set_new(f->vars, "greeting", json_string("嗨"));
    render_is(&f->c, "{{name}}", "客官");
    render_is(&f->c, "{{hint}}", "var hint");
    render_is(&f->c, "{{greeting}}", "嗨");
    /* an attribute beats the inline default */
    render_is(&f->c, "{{city|上海}}", "杭州");
    /* without attributes the inline default is used */
    render_ctx bare = f->c;
    bare.attrs = NULL;
    render_is(&bare, "{{city|上海}}", "上海");
    render_is(&bare, "{{title}}", "嗨，客官");                        /* name from the vars */
    bare.vars = NULL;
    render_is(&bare, "{{title}}", "你好，朋友");
    /* JSON types other than strings */
    json_object_set_new(f->vars, "flag", json_true());
    json_object_set_new(f->vars, "ratio", json_real(0.5));
    json_object_set_new(f->vars, "nothing", json_null());
    render_is(&f->c, "{{flag}} {{ratio}} {{nothing|none}}", "true 0.5 none");
}

static void test_missing(void **state)
{
    fx *f = *state;
    render_fails(&f->c, "Hi {{nickname}}", "missing variable 'nickname'");
    render_ctx bare = f->c;
    bare.vars = NULL;
    render_fails(&bare, "{{body}}", "missing variable 'product'");   /* inside a copy key */
    render_fails(&f->c, "{{ }}", "empty placeholder");
    render_fails(&f->c, "open {{product", "unclosed '{{'");
}

/* ---- overrides ---------------------------------------------------------------- */

static void test_overrides(void **state)
{
    fx *f = *state;
    render_ctx c = f->c;
    struct { const char *tier, *segment, *hint, *offer; } cases[] = {
        {"potential", "digital", "base hint", "base offer"},
        {"high_value", "digital", "tier hint", "tier offer"},       /* tier over base */
        {"potential", "mom_baby", "segment hint", "base offer"},    /* segment over base */
        {"high_value", "mom_baby", "segment hint", "tier offer"},   /* segment over tier, key by key */
        {"", "", "base hint", "base offer"},
        {NULL, NULL, "base hint", "base offer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        c.tier = cases[i].tier;
        c.segment = cases[i].segment;
        render_is(&c, "{{hint}}", cases[i].hint);
        render_is(&c, "{{offer}}", cases[i].offer);
    }
}

static void test_render_channel(void **state)
{
    fx *f = *state;
    render_out o;
    cherr e;
    render_ctx c = f->c;
    c.tier = "high_value";
    c.segment = "mom_baby";
    if (render_channel(&c, "mp_subscribe", &o, &e) < 0)
        fail_msg("%s", e.msg);
    assert_int_equal(o.n, 4);
    assert_string_equal(o.v[0].key, "template_id");
    assert_string_equal(render_get(&o, "template_id"), "TPL_CART");
    assert_string_equal(render_get(&o, "data.thing1"), "奶粉还在购物车里");
    assert_string_equal(render_get(&o, "data.thing2"), "segment hint");
    assert_string_equal(render_get(&o, "data.amount3"), "199");
    assert_null(render_get(&o, "page"));
    assert_int_equal(o.v[1].line, 24);
    render_out_free(&o);

    /* a channel section override: its keys replace the base's, new keys are added */
    c.segment = "beauty";
    if (render_channel(&c, "mp_subscribe", &o, &e) < 0)
        fail_msg("%s", e.msg);
    assert_int_equal(o.n, 5);
    assert_string_equal(render_get(&o, "data.thing2"), "美妆专享：tier offer");
    assert_string_equal(render_get(&o, "page"), "pages/beauty");
    for (size_t i = 0; i < o.n; i++)
        if (!strcmp(o.v[i].key, "data.thing2"))
            assert_int_equal(o.v[i].line, 29);
    render_out_free(&o);

    /* an error names the template file, line and key */
    c.vars = NULL;
    assert_int_equal(render_channel(&c, "mp_subscribe", &o, &e), -1);
    assert_string_equal(e.msg, "cart.ini:24: [mp_subscribe] data.thing1: missing variable "
                               "'product'");
}

/* render_key gives what render_channel gives for that key, overrides included */
static void test_render_key(void **state)
{
    fx *f = *state;
    render_ctx c = f->c;
    const char *tiers[] = {"potential", "high_value", ""}, *segs[] = {"digital", "mom_baby",
                                                                       "beauty", ""};
    const char *keys[] = {"template_id", "data.thing1", "data.thing2", "data.amount3", "page"};
    cherr e;
    for (size_t t = 0; t < 3; t++)
        for (size_t g = 0; g < 4; g++) {
            c.tier = tiers[t];
            c.segment = segs[g];
            render_out o;
            if (render_channel(&c, "mp_subscribe", &o, &e) < 0)
                fail_msg("%s", e.msg);
            for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
                buf b = {0};
                int r = render_key(&c, "mp_subscribe", keys[k], &b, &e);
                const char *want = render_get(&o, keys[k]);
                if (r < 0)
                    fail_msg("%s: %s", keys[k], e.msg);
                if (r != (want != NULL) || (want && strcmp(b.s, want)))
                    fail_msg("tier %s segment %s %s: render_key %d \"%s\", render_channel \"%s\"",
                             tiers[t], segs[g], keys[k], r, b.s ? b.s : "", want ? want : "");
                buf_free(&b);
            }
            render_out_free(&o);
        }
    buf b = {0};
    assert_int_equal(render_key(&c, "oa_template", "template_id", &b, &e), 0);
    c.vars = NULL;
    assert_int_equal(render_key(&c, "mp_subscribe", "data.thing1", &b, &e), -1);
    assert_string_equal(e.msg, "cart.ini:24: [mp_subscribe] data.thing1: missing variable "
                               "'product'");
    buf_free(&b);
}

/* ---- recursion ------------------------------------------------------------------ */

static void test_recursion(void **state)
{
    (void)state;
    tpl t;
    cherr e;
    const char *loop =
        "[template]\nclass = lifecycle\ndefault.d1 = <{{d1}}>\n"
        "[copy]\na = {{b}}\nb = x{{a}}\nself = {{self}}\n"
        "[mp_subscribe]\ntemplate_id = T\ndata.thing1 = hi\n";
    if (tpl_parse(&t, "loop.ini", loop, &e) < 0)
        fail_msg("%s", e.msg);
    render_ctx c = {.t = &t};
    render_fails(&c, "{{a}}", "copy key 'a' refers to itself (or nests deeper than 8)");
    render_fails(&c, "{{self}}", "copy key 'self' refers to itself (or nests deeper than 8)");
    render_fails(&c, "{{d1}}", "default.d1 refers to itself (or nests deeper than 8)");
    tpl_free(&t);

    /* eight levels of copy keys are fine; nine are too deep */
    char text[1024];
    size_t n = (size_t)snprintf(text, sizeof text, "[template]\nclass = lifecycle\n[copy]\n");
    for (int i = 1; i <= 9; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "k%d = %d{{k%d}}\n", i, i, i + 1);
    n += (size_t)snprintf(text + n, sizeof text - n, "k10 = end\n");
    snprintf(text + n, sizeof text - n, "[mp_subscribe]\ntemplate_id = T\ndata.thing1 = hi\n");
    if (tpl_parse(&t, "deep.ini", text, &e) < 0)
        fail_msg("%s", e.msg);
    c.t = &t;
    render_is(&c, "{{k3}}", "3456789end");             /* k3 .. k10: 8 levels */
    render_fails(&c, "{{k2}}", "copy key 'k10' refers to itself (or nests deeper than 8)");
    tpl_free(&t);
}

/* ---- render_check ---------------------------------------------------------------- */

static void test_check(void **state)
{
    (void)state;
    cherr e;
    assert_int_equal(render_check("no placeholders", &e), 0);
    assert_int_equal(render_check("{{a}} and {{b|x}} and {{ c }}", &e), 0);
    assert_int_equal(render_check("single { and } braces", &e), 0);
    assert_int_equal(render_check("Hello {{name", &e), -1);
    assert_string_equal(e.msg, "unclosed '{{'");
    assert_int_equal(render_check("{{a}} then {{", &e), -1);
    assert_string_equal(e.msg, "unclosed '{{'");
    assert_int_equal(render_check("{{}}", &e), -1);
    assert_string_equal(e.msg, "empty placeholder '{{}}'");
    assert_int_equal(render_check("{{ |default}}", &e), -1);
    assert_string_equal(e.msg, "empty placeholder '{{}}'");
    assert_int_equal(render_check("{{a{{b}}", &e), -1);
    assert_string_equal(e.msg, "'{{' inside a placeholder");
}

/* ---- tpl_parse errors ------------------------------------------------------------- */

static void parse_fails(const char *name, const char *text, const char *want)
{
    tpl t;
    cherr e = {{0}};
    if (tpl_parse(&t, name, text, &e) == 0) {
        tpl_free(&t);
        fail_msg("parsed, want \"%s\"", want);
    }
    if (strcmp(e.msg, want))
        fail_msg("error \"%s\", want \"%s\"", e.msg, want);
}

#define CH "[mp_subscribe]\ntemplate_id = T\ndata.thing1 = hi\n"

static void test_tpl_errors(void **state)
{
    (void)state;
    parse_fails("a.ini", "[copy]\nx = 1\n" CH,
                "a.ini: [template] class is missing (transactional, lifecycle or marketing)");
    parse_fails("b.ini", "[template]\nclass = promo\n" CH,
                "b.ini:2: class 'promo' is not transactional, lifecycle or marketing");
    parse_fails("c.ini", "[template]\nclass = marketing\n[coppy]\nx = 1\n" CH,
                "c.ini:4: unknown section [coppy]");
    parse_fails("d.ini", "[template]\nclass = marketing\ncolour = red\n" CH,
                "d.ini:3: unknown key 'colour' in [template]");
    parse_fails("e.ini", "[template]\nclass = marketing\n[copy.tier.]\nx = 1\n" CH,
                "e.ini:4: unknown section [copy.tier.]");
    parse_fails("f.ini", "[template]\nclass = marketing\n[sms_bulk]\ntext = hi\n" CH,
                "f.ini:4: unknown section [sms_bulk]");
    parse_fails("g.ini", "[template]\nclass = marketing\n[copy]\nx = {{oops\n" CH,
                "g.ini:4: x: unclosed '{{'");
    parse_fails("h.ini", "[template]\nclass = marketing\n[copy]\nx = 1\n",
                "h.ini: no channel section ([mp_subscribe], [oa_template], [sms], [wecom] or "
                "[wecom_robot])");
    parse_fails("i.ini", "[template]\nclass = marketing\n[mp_subscribe]\ndata.thing1 = hi\n",
                "i.ini: [mp_subscribe] template_id is missing");
    parse_fails("j.ini", "[template]\nclass = marketing\n[mp_subscribe]\ntemplate_id = T\n"
                "colour = red\ndata.thing1 = hi\n",
                "j.ini:5: [mp_subscribe] unknown key 'colour' (template_id, page, data.KEY)");
    parse_fails("k.ini", "[template]\nclass = marketing\n[mp_subscribe]\ntemplate_id = T\n",
                "k.ini: [mp_subscribe] has no data.KEY lines");
    parse_fails("l.ini", "[template]\nclass = marketing\nthis is not ini\n" CH,
                "l.ini:3: not an INI line (expected [section], key = value, or a comment)");
    /* override sections take their channel's keys too: a misspelt key there would
     * otherwise be rendered and silently left out of the request */
    parse_fails("m.ini", "[template]\nclass = marketing\n" CH "[mp_subscribe.tier.new]\n"
                "tempalte_id = T2\n",
                "m.ini:7: [mp_subscribe.tier.new] unknown key 'tempalte_id' (template_id, page, "
                "data.KEY)");
    parse_fails("n.ini", "[template]\nclass = marketing\n" CH "[variant.b]\nweight = 1\n"
                "[variant.b.mp_subscribe]\npgae = p\n",
                "n.ini:9: [variant.b.mp_subscribe] unknown key 'pgae' (template_id, page, "
                "data.KEY)");
    parse_fails("o.ini", "[template]\nclass = marketing\n" CH "[sms]\ntemplate_id = 1\n"
                "[sms.segment.vip]\nparms = a\n",
                "o.ini:9: [sms.segment.vip] unknown key 'parms' (template_id, "
                "template_id.tencent, template_id.aliyun, params, param.NAME)");
}

static void test_tpl_ok(void **state)
{
    fx *f = *state;
    assert_string_equal(f->t.name, "cart");            /* ".ini" dropped */
    assert_string_equal(f->t.klass, "marketing");
    assert_non_null(f->t.vars);
    assert_string_equal(f->t.vars[0], "product");
    assert_string_equal(f->t.vars[1], "price");
    assert_null(f->t.vars[2]);
    assert_true(tpl_has_section(&f->t, "mp_subscribe"));
    assert_false(tpl_has_section(&f->t, "sms"));
    assert_true(tpl_class_valid("transactional"));
    assert_false(tpl_class_valid("Marketing"));
    assert_false(tpl_class_valid(NULL));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_sources),
        T(test_precedence),
        T(test_missing),
        T(test_overrides),
        T(test_render_channel),
        T(test_render_key),
        T(test_recursion),
        T(test_check),
        T(test_tpl_errors),
        T(test_tpl_ok),
    };
    return cmocka_run_group_tests_name("render", tests, NULL, NULL);
}
