/* test_copy.c — segment copy at its edges: A/B variants (copy and channel keys,
 * deterministic assignment, distribution over 10k synthetic users), holdout share and
 * its independence from the variant, channel-section overrides by tier and segment,
 * the filters (time in Asia/Shanghai and America/New_York across both DST changes,
 * yuan, trunc that never splits a grapheme), and the load-time errors with file:line:
 * unknown filter, unclosed {{, a literal value that breaks its field rule, a value
 * that can never fit, an unknown keyword type, variants without weight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fieldrule.h"
#include "render.h"
#include "tpl.h"

static const char ab_ini[] =
    "[template]\n"                                      /* 1 */
    "class = marketing\n"                               /* 2 */
    "holdout = 5%\n"                                    /* 3 */
    "[copy]\n"                                          /* 4 */
    "title = 老朋友，好久不见\n"                          /* 5 */
    "hint = 回来看看吧\n"                                 /* 6 */
    "[copy.tier.dormant]\n"                             /* 7 */
    "hint = 送你一张回归券\n"                             /* 8 */
    "[variant.a]\n"                                     /* 9 */
    "weight = 70\n"                                     /* 10 */
    "[variant.b]\n"                                     /* 11 */
    "weight = 30\n"                                     /* 12 */
    "title = 想你了，回来逛逛\n"                           /* 13 */
    "[variant.b.mp_subscribe]\n"                        /* 14 */
    "template_id = TPL_B\n"                             /* 15 */
    "[mp_subscribe]\n"                                  /* 16 */
    "template_id = TPL_A\n"                             /* 17 */
    "data.thing1 = {{title}}\n"                         /* 18 */
    "data.thing2 = {{hint}}\n"                          /* 19 */
    "[mp_subscribe.tier.dormant]\n"                     /* 20 */
    "page = pages/coupon/index\n"                       /* 21 */
    "[mp_subscribe.segment.vip]\n"                      /* 22 */
    "data.thing2 = 会员专享：{{hint}}\n";                 /* 23 */

static tpl *load(const char *name, const char *text)
{
    tpl *t = calloc(1, sizeof *t);
    cherr e;
    if (tpl_parse(t, name, text, &e) < 0)
        fail_msg("%s", e.msg);
    return t;
}

static void drop(tpl *t)
{
    tpl_free(t);
    free(t);
}

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

static void parse_fails(const char *name, const char *text, const char *want)
{
    tpl t;
    cherr e = {{0}};
    if (tpl_parse(&t, name, text, &e) == 0) {
        tpl_free(&t);
        fail_msg("%s parsed, want \"%s\"", name, want);
    }
    if (strcmp(e.msg, want))
        fail_msg("%s: error \"%s\",\n   want \"%s\"", name, e.msg, want);
}

/* ---- variants ------------------------------------------------------------------------ */

static void test_variant_render(void **state)
{
    (void)state;
    tpl *t = load("ab.ini", ab_ini);
    assert_int_equal(t->nvariants, 2);
    assert_int_equal(t->total_weight, 100);
    assert_int_equal(t->holdout_bp, 500);
    render_ctx c = {.t = t, .user_id = "u1", .tier = "potential", .variant = "b"};
    render_is(&c, "{{title}}", "想你了，回来逛逛");            /* [variant.b] over [copy] */
    render_is(&c, "{{hint}}", "回来看看吧");                  /* not in the variant: copy */
    c.variant = "a";
    render_is(&c, "{{title}}", "老朋友，好久不见");
    c.variant = "";                                          /* no variant at all */
    render_is(&c, "{{title}}", "老朋友，好久不见");
    c.variant = "b";
    c.tier = "dormant";
    render_is(&c, "{{hint}}", "送你一张回归券");               /* tier still applies */
    render_is(&c, "{{weight|none}}", "none");                /* weight is not a copy key */

    render_out o;
    cherr e;
    c.segment = "vip";
    if (render_channel(&c, "mp_subscribe", &o, &e) < 0)
        fail_msg("%s", e.msg);
    assert_string_equal(render_get(&o, "template_id"), "TPL_B");     /* variant.b.mp_subscribe */
    assert_string_equal(render_get(&o, "data.thing1"), "想你了，回来逛逛");
    assert_string_equal(render_get(&o, "data.thing2"), "会员专享：送你一张回归券");
    assert_string_equal(render_get(&o, "page"), "pages/coupon/index");   /* tier section key */
    render_out_free(&o);

    c.variant = "a";
    c.tier = "potential";
    c.segment = NULL;
    if (render_channel(&c, "mp_subscribe", &o, &e) < 0)
        fail_msg("%s", e.msg);
    assert_string_equal(render_get(&o, "template_id"), "TPL_A");
    assert_null(render_get(&o, "page"));
    render_out_free(&o);

    /* NULL variant: assigned from the user id, the same as tpl_variant_for */
    c.variant = NULL;
    for (int i = 0; i < 50; i++) {
        char uid[16];
        snprintf(uid, sizeof uid, "user%d", i);
        c.user_id = uid;
        const char *v = tpl_variant_for(t, uid);
        assert_non_null(v);
        assert_string_equal(render_variant(&c), v);
        render_is(&c, "{{title}}", !strcmp(v, "b") ? "想你了，回来逛逛" : "老朋友，好久不见");
    }
    drop(t);
}

static void test_variant_assignment(void **state)
{
    (void)state;
    tpl *t = load("ab.ini", ab_ini);
    tpl *t2 = load("other.ini", ab_ini);        /* same weights, another template name */
    int a = 0, b = 0, held = 0, held_b = 0, differ = 0;
    for (int i = 0; i < 10000; i++) {
        char uid[24];
        snprintf(uid, sizeof uid, "u%07d", i);
        const char *v = tpl_variant_for(t, uid);
        assert_non_null(v);
        assert_string_equal(v, tpl_variant_for(t, uid));        /* stable across calls */
        a += !strcmp(v, "a");
        b += !strcmp(v, "b");
        differ += strcmp(v, tpl_variant_for(t2, uid)) != 0;
        if (tpl_in_holdout(t, uid)) {
            held++;
            held_b += !strcmp(v, "b");
        }
        assert_int_equal(tpl_in_holdout(t, uid), tpl_in_holdout(t, uid));
    }
    assert_int_equal(a + b, 10000);
    /* 70/30 within about 5 standard deviations (sd ~ 46) */
    if (a < 6770 || a > 7230)
        fail_msg("variant a: %d of 10000, want ~7000", a);
    /* holdout 5% (sd ~ 22) */
    if (held < 390 || held > 610)
        fail_msg("holdout: %d of 10000, want ~500", held);
    /* independent of the variant: the held-out users split ~70/30 too */
    if (held_b < held * 15 / 100 || held_b > held * 45 / 100)
        fail_msg("held out and in b: %d of %d, want ~30%%", held_b, held);
    /* the template name is part of the hash: another template assigns differently */
    if (differ < 3000)
        fail_msg("only %d users differ between two templates", differ);
    /* known values, so a change of hash is noticed */
    assert_null(tpl_variant_for(t, NULL));
    drop(t);
    drop(t2);

    tpl *none = load("plain.ini", "[template]\nclass = lifecycle\n[mp_subscribe]\n"
                                  "template_id = T\ndata.thing1 = hi\n");
    assert_null(tpl_variant_for(none, "u1"));
    assert_int_equal(tpl_in_holdout(none, "u1"), 0);
    drop(none);

    tpl *all = load("all.ini", "[template]\nclass = marketing\nholdout = 100%\n"
                               "[variant.only]\nweight = 1\n[mp_subscribe]\n"
                               "template_id = T\ndata.thing1 = hi\n");
    assert_string_equal(tpl_variant_for(all, "anyone"), "only");
    assert_int_equal(tpl_in_holdout(all, "anyone"), 1);
    drop(all);
}

static void test_share(void **state)
{
    (void)state;
    int bp;
    assert_int_equal(tpl_parse_share("5%", &bp), 0);
    assert_int_equal(bp, 500);
    assert_int_equal(tpl_parse_share("2.5%", &bp), 0);
    assert_int_equal(bp, 250);
    assert_int_equal(tpl_parse_share("0.25%", &bp), 0);
    assert_int_equal(bp, 25);
    assert_int_equal(tpl_parse_share("100%", &bp), 0);
    assert_int_equal(bp, 10000);
    assert_int_equal(tpl_parse_share("5", &bp), -1);
    assert_int_equal(tpl_parse_share("101%", &bp), -1);
    assert_int_equal(tpl_parse_share("-1%", &bp), -1);
    assert_int_equal(tpl_parse_share("5%%", &bp), -1);
}

/* ---- filters ------------------------------------------------------------------------------ */

static void test_time(void **state)
{
    (void)state;
    tpl *t = load("t.ini", "[template]\nclass = transactional\n[mp_subscribe]\n"
                           "template_id = T\ndata.thing1 = hi\n");
    json_t *vars = json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:s}",
                             "spring_before", "2026-03-08T06:59:00Z",
                             "spring_after", "2026-03-08T07:00:00Z",
                             "fall_first", "2026-11-01T05:30:00Z",
                             "fall_second", "2026-11-01T06:30:00Z",
                             "epoch", 1772953200, "epoch_ms", (json_int_t)1772953200000LL,
                             "bad", "明天上午");
    render_ctx c = {.t = t, .vars = vars, .tz = "America/New_York"};
    /* spring forward: 01:59 EST is followed by 03:00 EDT */
    render_is(&c, "{{spring_before|time:%H:%M %z}}", "01:59 -0500");
    render_is(&c, "{{spring_after|time:%H:%M %z}}", "03:00 -0400");
    /* fall back: 01:30 happens twice */
    render_is(&c, "{{fall_first|time:%m月%d日 %H:%M %z}}", "11月01日 01:30 -0400");
    render_is(&c, "{{fall_second|time:%m月%d日 %H:%M %z}}", "11月01日 01:30 -0500");
    render_is(&c, "{{epoch|time}}", "2026-03-08 03:00");
    render_is(&c, "{{epoch_ms|time:%F %R}}", "2026-03-08 03:00");
    c.tz = "Asia/Shanghai";
    render_is(&c, "{{spring_after|time:%m月%d日 %H:%M}}", "03月08日 15:00");
    render_is(&c, "{{spring_after|time:%-m月%-d日(%a) %-H点}}", "3月8日(周日) 15点");
    render_is(&c, "{{epoch|date}}", "2026-03-08");
    render_is(&c, "{{epoch|date:%Y年%-m月%-d日}}", "2026年3月8日");
    render_is(&c, "{{fall_first|time:%y/%m/%d %H:%M:%S %%}}", "26/11/01 13:30:00 %");
    /* an offset in the value is honoured, the user's zone decides the display */
    json_object_set_new(vars, "local", json_string("2026-11-23T10:00:00+08:00"));
    render_is(&c, "{{local|time:%H:%M}}", "10:00");
    c.tz = NULL;                                             /* no zone: UTC */
    render_is(&c, "{{local|time:%H:%M}}", "02:00");
    render_fails(&c, "{{bad|time}}",
                 "bad: time: '明天上午' is not an ISO 8601 time with an offset, or epoch seconds");
    render_is(&c, "{{missing|待定|time:%H:%M}}", "待定");     /* a default is not filtered */
    json_decref(vars);
    drop(t);
}

static void test_yuan(void **state)
{
    (void)state;
    tpl *t = load("y.ini", "[template]\nclass = transactional\n[mp_subscribe]\n"
                           "template_id = T\ndata.thing1 = hi\n");
    json_t *vars = json_pack("{s:i, s:s, s:i, s:i, s:i, s:s, s:f, s:I}", "a", 1250, "b", "5",
                             "zero", 0, "neg", -1999, "hundred", 100, "frac", "12.5",
                             "real", 12.5, "big", (json_int_t)123456789012LL);
    render_ctx c = {.t = t, .vars = vars};
    render_is(&c, "{{a|yuan}}", "¥12.50");
    render_is(&c, "{{b|yuan}}", "¥0.05");
    render_is(&c, "{{zero|yuan}}", "¥0.00");
    render_is(&c, "{{neg|yuan}}", "-¥19.99");
    render_is(&c, "{{hundred|yuan}}", "¥1.00");
    render_is(&c, "{{big|yuan}}", "¥1234567890.12");
    render_fails(&c, "{{frac|yuan}}", "frac: yuan: '12.5' is not an integer amount in fen");
    render_fails(&c, "{{real|yuan}}", "real: yuan: '12.5' is not an integer amount in fen");
    json_decref(vars);
    drop(t);
}

static void test_trunc(void **state)
{
    (void)state;
    tpl *t = load("tr.ini", "[template]\nclass = transactional\n[mp_subscribe]\n"
                            "template_id = T\ndata.thing1 = hi\n");
    json_t *vars = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
        "ten", "一二三四五六七八九十",
        "eleven", "一二三四五六七八九十百",
        "mixed", "Apple苹果iPhone15手机壳",
        "thumb", "ab\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBB" "cd",            /* ab👍🏻cd */
        "accent", "cafe\xCC\x81 au lait",                               /* café, e + U+0301 */
        "flags", "\xF0\x9F\x87\xA8\xF0\x9F\x87\xB3\xF0\x9F\x87\xA8\xF0\x9F\x87\xB3", /* 🇨🇳🇨🇳 */
        "family", "ab\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7",
        "hangul", "\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB\xE1\x84\x80\xE1\x85\xB3\xE1\x86\xAF",
        "short", "奶粉");
    render_ctx c = {.t = t, .vars = vars};
    render_is(&c, "{{ten|trunc:10}}", "一二三四五六七八九十");            /* exactly 10: kept */
    render_is(&c, "{{eleven|trunc:10}}", "一二三四五六七八九…");          /* 11: 9 + … = 10 */
    render_is(&c, "{{mixed|trunc:8}}", "Apple苹果…");
    render_is(&c, "{{short|trunc:2}}", "奶粉");
    render_is(&c, "{{short|trunc:1}}", "…");
    /* never between an emoji and its skin-tone modifier */
    render_is(&c, "{{thumb|trunc:6}}", "ab\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBB" "cd");
    render_is(&c, "{{thumb|trunc:5}}", "ab\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBB…");
    render_is(&c, "{{thumb|trunc:4}}", "ab…");
    /* never between a letter and its combining accent */
    render_is(&c, "{{accent|trunc:6}}", "cafe\xCC\x81…");
    render_is(&c, "{{accent|trunc:5}}", "caf…");
    /* regional-indicator pairs, a ZWJ sequence, Hangul jamo */
    render_is(&c, "{{flags|trunc:3}}", "\xF0\x9F\x87\xA8\xF0\x9F\x87\xB3…");
    render_is(&c, "{{family|trunc:5}}", "ab…");
    render_is(&c, "{{hangul|trunc:5}}", "\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB…");
    /* filters chain left to right */
    render_is(&c, "{{eleven|trunc:5|trunc:3}}", "一二…");
    json_decref(vars);
    drop(t);
}

/* ---- placeholder syntax ----------------------------------------------------------------------- */

static void test_syntax(void **state)
{
    (void)state;
    cherr e;
    assert_int_equal(render_check("{{a|time:%H:%M}} {{b|yuan}} {{c|trunc:10}} {{d|朋友}}", &e), 0);
    assert_int_equal(render_check("{{a|默认|trunc:5}} {{b|default:yuan}} {{c | yuan }}", &e), 0);
    assert_int_equal(render_check("{{nothing|none}} {{x|}}", &e), 0);   /* bare-word defaults */
    struct { const char *src, *err; } bad[] = {
        {"{{a|yaun}}", "unknown filter 'yaun' (did you mean 'yuan'?)"},
        {"{{a|trunk:5}}", "unknown filter 'trunk' (did you mean 'trunc'?)"},
        {"{{a|upper:1}}", "unknown filter 'upper' (filters: time, date, yuan, trunc, default)"},
        {"{{a|trunc}}", "trunc needs a length from 1 to 1000: trunc:N"},
        {"{{a|trunc:0}}", "trunc needs a length from 1 to 1000: trunc:N"},
        {"{{a|trunc:x}}", "trunc needs a length from 1 to 1000: trunc:N"},
        {"{{a|trunc:1001}}", "trunc needs a length from 1 to 1000: trunc:N"},
        {"{{a|yuan:2}}", "yuan takes no argument"},
        {"{{a|time:%H:%Q}}", "time: unknown conversion '%Q' (use %Y %y %m %d %e %H %M %S %a "
                             "%z %F %R, or %-m %-d %-H)"},
        {"{{a|time:%-M}}", "time: '%-M' is not a conversion (%-m, %-d, %-H)"},
        {"{{a|yuan|好}}", "'好' is not a filter (an inline default comes first, "
                          "{{a|default|filter}}, or write default:TEXT)"},
        {"{{a|x|default:y}}", "'a' has two defaults"},
        {"{{a|trunc:1|trunc:1|trunc:1|trunc:1|trunc:1}}", "more than 4 filters on 'a'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        e.msg[0] = '\0';
        if (render_check(bad[i].src, &e) == 0)
            fail_msg("'%s' passed, want \"%s\"", bad[i].src, bad[i].err);
        if (strcmp(e.msg, bad[i].err))
            fail_msg("'%s': \"%s\", want \"%s\"", bad[i].src, e.msg, bad[i].err);
    }
}

/* ---- load-time errors ----------------------------------------------------------------------------- */

#define HEAD "[template]\nclass = marketing\n"

static void test_load_errors(void **state)
{
    (void)state;
    parse_fails("f.ini", HEAD "[copy]\nx = {{name|yaun}}\n[mp_subscribe]\ntemplate_id = T\n"
                "data.thing1 = {{x}}\n",
                "f.ini:4: x: unknown filter 'yaun' (did you mean 'yuan'?)");
    parse_fails("u.ini", HEAD "[mp_subscribe]\ntemplate_id = T\ndata.thing1 = {{x\n",
                "u.ini:5: data.thing1: unclosed '{{'");
    /* a literal value that breaks its rule, with the line of the value */
    parse_fails("l.ini", HEAD "[mp_subscribe]\ntemplate_id = T\n"
                "data.thing1 = 这是一条超过二十个字的商品提醒文案一定会被拒收\n",
                "l.ini:5: [mp_subscribe] data.thing1: 23 characters, limit 20 (every user)");
    parse_fails("p.ini", HEAD "[mp_subscribe]\ntemplate_id = T\ndata.phrase1 = 配送中啦啦啦\n",
                "p.ini:5: [mp_subscribe] data.phrase1: 6 characters, limit 5 (every user)");
    parse_fails("d.ini", HEAD "[mp_subscribe]\ntemplate_id = T\ndata.date1 = 明天\n",
                "d.ini:5: [mp_subscribe] data.date1: '明天' is not a date (a date such as "
                "2019年10月1日 or 2019-10-01, optionally with a time) (every user)");
    parse_fails("n.ini", HEAD "[mp_subscribe]\ntemplate_id = T\ndata.thing1 = 第一行\\n第二行\n",
                "n.ini:5: [mp_subscribe] data.thing1: a line break at character 4 (not allowed "
                "here) (every user)");
    /* the copy key's own line, and the override that breaks it */
    parse_fails("c.ini", HEAD "[copy]\nhint = 回来看看\n[copy.tier.dormant]\n"
                "hint = 好久不见，给你准备了一份专属回归礼包快来领\n"
                "[mp_subscribe]\ntemplate_id = T\ndata.thing1 = {{hint}}\n",
                "c.ini:6: [mp_subscribe] data.thing1: 21 characters, limit 20 (tier dormant)");
    /* a value with a variable that can never fit: its literal part alone is too long */
    parse_fails("v.ini", HEAD "[mp_subscribe]\ntemplate_id = T\n"
                "data.thing1 = {{product}}还在购物车里等你，库存不多了赶紧下单吧哦哦\n",
                "v.ini:5: [mp_subscribe] data.thing1: at least 21 characters, limit 20 "
                "(every user)");
    parse_fails("vb.ini", HEAD "[variant.b]\nweight = 1\nhint = 这一句文案在实验组里写得实在是太长了一点点\n"
                "[copy]\nhint = 短\n[mp_subscribe]\ntemplate_id = T\ndata.thing1 = {{hint}}\n",
                "vb.ini:5: [mp_subscribe] data.thing1: 21 characters, limit 20 (variant b)");
    parse_fails("k.ini", HEAD "[mp_subscribe]\ntemplate_id = T\ndata.thingy1 = hi\n",
                "k.ini:5: [mp_subscribe] data.thingy1: unknown keyword type 'thingy' (thing, "
                "number, letter, symbol, character_string, time, date, amount, phone_number, "
                "car_number, name, phrase, enum)");
    parse_fails("k2.ini", HEAD "[mp_subscribe.tier.new]\ndata.thing = hi\n"
                "[mp_subscribe]\ntemplate_id = T\ndata.thing1 = hi\n",
                "k2.ini:4: [mp_subscribe] data.thing: a keyword is a type and a number (thing1, "
                "time2, ...)");
    parse_fails("w.ini", HEAD "[variant.a.mp_subscribe]\ntemplate_id = X\n"
                "[mp_subscribe]\ntemplate_id = T\ndata.thing1 = hi\n",
                "w.ini:4: variant 'a' has no weight ([variant.a] weight = N)");
    parse_fails("w2.ini", HEAD "[variant.a]\nweight = lots\n[mp_subscribe]\ntemplate_id = T\n"
                "data.thing1 = hi\n",
                "w2.ini:4: [variant.a] weight must be a whole number from 0 to 1000000");
    parse_fails("w3.ini", HEAD "[variant.a.sms_bulk]\nx = 1\n[mp_subscribe]\ntemplate_id = T\n"
                "data.thing1 = hi\n", "w3.ini:4: unknown section [variant.a.sms_bulk]");
    parse_fails("h.ini", HEAD "holdout = lots\n[mp_subscribe]\ntemplate_id = T\ndata.thing1 = hi\n",
                "h.ini:3: holdout 'lots' is not a share such as 5% (0% to 100%)");
    parse_fails("h2.ini", "[template]\nclass = transactional\nholdout = 5%\n[mp_subscribe]\n"
                "template_id = T\ndata.thing1 = hi\n",
                "h2.ini:3: a transactional template cannot have a holdout");
    parse_fails("y.ini", HEAD "[copy]\nprice = 十二块\n[mp_subscribe]\ntemplate_id = T\n"
                "data.amount1 = {{price|yuan}}\n",
                "y.ini:7: [mp_subscribe] data.amount1: price: yuan: '十二块' is not an integer "
                "amount in fen");

    /* fits: variables are only a lower bound, and a trunc makes any value fit */
    tpl *t = load("ok.ini", HEAD "[mp_subscribe]\ntemplate_id = T\n"
                  "data.thing1 = {{product|trunc:12}}还在购物车里\n"
                  "data.time2 = {{due|time:%Y年%-m月%-d日 %H:%M}}\n"
                  "data.amount3 = {{price|yuan}}\n");
    drop(t);
}

static void test_channel_overrides(void **state)
{
    (void)state;
    /* a tier and a segment override of a channel section, key by key */
    tpl *t = load("o.ini", HEAD "[copy]\nhint = 库存有限\n"
                  "[mp_subscribe]\ntemplate_id = T\npage = pages/a\ndata.thing1 = {{hint}}\n"
                  "data.thing2 = 基础\n"
                  "[mp_subscribe.tier.dormant]\ntemplate_id = T_DORMANT\ndata.thing2 = 沉睡\n"
                  "[mp_subscribe.segment.mom]\ndata.thing2 = 母婴\n");
    render_ctx c = {.t = t, .tier = "dormant", .segment = "mom", .variant = ""};
    render_out o;
    cherr e;
    if (render_channel(&c, "mp_subscribe", &o, &e) < 0)
        fail_msg("%s", e.msg);
    assert_string_equal(render_get(&o, "template_id"), "T_DORMANT");
    assert_string_equal(render_get(&o, "page"), "pages/a");
    assert_string_equal(render_get(&o, "data.thing1"), "库存有限");
    assert_string_equal(render_get(&o, "data.thing2"), "母婴");        /* segment over tier */
    render_out_free(&o);
    c.segment = NULL;
    if (render_channel(&c, "mp_subscribe", &o, &e) < 0)
        fail_msg("%s", e.msg);
    assert_string_equal(render_get(&o, "data.thing2"), "沉睡");
    render_out_free(&o);
    c.tier = "high_value";
    if (render_channel(&c, "mp_subscribe", &o, &e) < 0)
        fail_msg("%s", e.msg);
    assert_string_equal(render_get(&o, "template_id"), "T");
    assert_string_equal(render_get(&o, "data.thing2"), "基础");
    render_out_free(&o);
    drop(t);
}

static void test_sms_sections(void **state)
{
    (void)state;
    /* [sms.tier.dormant] and [variant.b.sms] override the SMS section key by key; a
     * literal parameter longer than 12 loads (the account's limit is checked at send) */
    tpl *t = load("s.ini", HEAD "[copy]\nhint = 库存有限\n[variant.a]\nweight = 1\n"
                  "[variant.b]\nweight = 1\n"
                  "[sms]\ntemplate_id = 1234\nparams = {{product|trunc:12}}, {{hint}}\n"
                  "[sms.tier.dormant]\nparams = {{product|trunc:12}}, 好久不见甚是想念十五个字的参数\n"
                  "[variant.b.sms]\ntemplate_id = 5678\n");
    json_t *vars = json_pack("{s:s}", "product", "羊绒围巾");
    render_ctx c = {.t = t, .vars = vars, .tier = "dormant", .variant = "b"};
    render_out o;
    cherr e;
    if (render_channel(&c, "sms", &o, &e) < 0)
        fail_msg("%s", e.msg);
    assert_string_equal(render_get(&o, "template_id"), "5678");
    assert_string_equal(render_get(&o, "params"), "羊绒围巾, 好久不见甚是想念十五个字的参数");
    render_out_free(&o);
    c.tier = "potential";
    c.variant = "a";
    if (render_channel(&c, "sms", &o, &e) < 0)
        fail_msg("%s", e.msg);
    assert_string_equal(render_get(&o, "template_id"), "1234");
    assert_string_equal(render_get(&o, "params"), "羊绒围巾, 库存有限");
    render_out_free(&o);
    json_decref(vars);
    drop(t);
    /* a URL in a literal parameter can never pass */
    parse_fails("u2.ini", HEAD "[sms]\ntemplate_id = 1\nparams = {{x}}, 详见 shop.example.com\n",
                "u2.ini:5: [sms] param 2: a URL is not allowed in an SMS parameter (every user)");
    /* an oa_template keyword whose literal part is over 20 */
    parse_fails("o2.ini", HEAD "[oa_template]\ntemplate_id = 1\n"
                "data.keyword1 = {{x}}这一段文字本身就已经超过了二十个字的上限啦\n",
                "o2.ini:5: [oa_template] data.keyword1: at least 21 characters, limit 20 "
                "(every user)");
}

/* `params` is split at its ASCII commas after rendering: a value that brings one would
 * move every later value to another of Tencent's slots. Render marks the parameter and
 * the placeholder, the field rules refuse it where `params` is sent (Tencent); a literal
 * comma separates, a full-width one is text. */
static void comma_refused(const render_ctx *c, const char *provider, const char *want)
{
    render_out o;
    cherr e = {{0}};
    if (render_channel(c, "sms", &o, &e) < 0)
        fail_msg("%s", e.msg);
    fr_limits lim;
    fr_limits_default(&lim);
    lim.sms_provider = provider;
    int rc = fr_check("sms", &o, &lim, NULL, &e);
    render_out_free(&o);
    if (!want) {
        if (rc < 0)
            fail_msg("%s", e.msg);
        return;
    }
    assert_int_equal(rc, -1);
    assert_string_equal(e.msg, want);
}

static void test_sms_params_comma(void **state)
{
    (void)state;
    tpl *t = load("c.ini", HEAD "[sms]\ntemplate_id = 1\n"
                  "params = {{product|trunc:12}}, {{n|0}}\nparam.p = {{product}}\n"
                  "[sms.tier.new]\nparams = {{n}},{{hint}}\n");
    json_t *vars = json_pack("{s:s,s:s}", "product", "A,B", "n", "3");
    render_ctx c = {.t = t, .vars = vars, .tier = "potential", .variant = ""};
    render_out o;
    cherr e = {{0}};
    if (render_channel(&c, "sms", &o, &e) < 0)
        fail_msg("%s", e.msg);
    assert_string_equal(render_get(&o, "params"), "A,B, 3");
    assert_int_equal(o.v[1].split, 1);
    assert_string_equal(o.v[1].split_by, "product");
    assert_int_equal(o.v[2].split, 0);          /* param.p is one value: its comma is text */
    render_out_free(&o);
    const char *want = "[sms] params: parameter 1: {{product}} renders with an ASCII comma, "
                       "which would split it in two (write ， instead)";
    comma_refused(&c, "tencent", want);
    comma_refused(&c, NULL, want);
    comma_refused(&c, "aliyun", NULL);          /* Aliyun is sent param.p, not params */
    json_object_set_new(vars, "product", json_string("A，B"));     /* full-width: text */
    comma_refused(&c, "tencent", NULL);
    c.tier = "new";         /* the second parameter, from a user attribute */
    json_t *attrs = json_pack("{s:s}", "hint", "快来,看看");
    c.attrs = attrs;
    comma_refused(&c, "tencent", "[sms] params: parameter 2: {{hint}} renders with an ASCII "
                                 "comma, which would split it in two (write ， instead)");
    json_decref(attrs);
    json_decref(vars);
    drop(t);
    /* at load, a copy key's or an inline default's comma in `params` is every user's */
    parse_fails("e.ini", HEAD "[copy]\nhint = a,b\n[sms]\ntemplate_id = 1\nparams = {{x}}, {{hint}}\n",
                "e.ini:4: [sms] params: parameter 2: {{hint}} renders with an ASCII comma, which "
                "would split it in two (write ， instead) (every user)");
    parse_fails("f.ini", HEAD "[sms]\ntemplate_id = 1\nparams = {{x|a,b}}\n",
                "f.ini:5: [sms] params: parameter 1: {{x}} renders with an ASCII comma, which "
                "would split it in two (write ， instead) (every user)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_variant_render),
        cmocka_unit_test(test_variant_assignment),
        cmocka_unit_test(test_share),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_yuan),
        cmocka_unit_test(test_trunc),
        cmocka_unit_test(test_syntax),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_channel_overrides),
        cmocka_unit_test(test_sms_sections),
        cmocka_unit_test(test_sms_params_comma),
    };
    return cmocka_run_group_tests_name("copy", tests, NULL, NULL);
}
