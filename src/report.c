/* report.c — the operator's HTML report (see report.h for the input schema).
 *
 * Two steps: read and check the figures into plain arrays (every bad member is named),
 * then write the page — summary cards, sends per hour by channel (stacked SVG bars),
 * suppressions by reason, provider error codes (bars and a table), one funnel per
 * campaign. Everything from the data goes through w_esc(); nothing else writes data
 * into the page. No I/O, no clock: the same figures give the same bytes. */
#include "report.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixstr.h"
#include "timeutil.h"

#define RPT_MAX_ROWS    500000      /* per array: more is not a report, it is a dump */
#define RPT_MAX_BUCKETS 240         /* bars on the time axis */
#define RPT_MAX_CHANNELS 8          /* coloured series; the rest fold into "other" */
#define RPT_MAX_HBARS   12          /* bars per horizontal chart; the rest fold into "other" */
#define RPT_MAX_ERRROWS 200         /* rows of the error table */
#define RPT_MAX_FUNNELS 60          /* campaign funnels drawn */

/* ---- output: a buf plus a sticky out-of-memory flag ------------------------------ */

typedef struct wr {
    buf *b;
    int oom;
} wr;

static void w_add(wr *w, const char *s, size_t n)
{
    if (!w->oom && buf_add(w->b, s, n) < 0)
        w->oom = 1;
}

static void w_puts(wr *w, const char *s)
{
    w_add(w, s, strlen(s));
}

static void w_printf(wr *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void w_printf(wr *w, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        w->oom = 1;
        return;
    }
    if ((size_t)n < sizeof tmp) {
        w_add(w, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        w->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    w_add(w, big, (size_t)n);
    free(big);
}

/* HTML-escape `s` (text and attribute values alike). Control characters become spaces.
 * With maxchars > 0, at most that many characters (code points) are written, then "…". */
static void w_esc(wr *w, const char *s, size_t maxchars)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xC0) != 0x80 && maxchars && chars++ == maxchars) {
            w_puts(w, "…");
            return;
        }
        switch (*p) {
        case '&': w_puts(w, "&amp;"); break;
        case '<': w_puts(w, "&lt;"); break;
        case '>': w_puts(w, "&gt;"); break;
        case '"': w_puts(w, "&quot;"); break;
        case '\'': w_puts(w, "&#39;"); break;
        case 0x7F: break;
        default:
            if (*p < 0x20)
                w_puts(w, " ");
            else
                w_add(w, (const char *)p, 1);
        }
    }
}

/* 1234567 -> "1,234,567" */
static const char *fmt_n(int64_t v, char out[32])
{
    char raw[24];
    snprintf(raw, sizeof raw, "%" PRId64, v);
    size_t len = strlen(raw), o = 0, lead = len % 3 ? len % 3 : 3;
    for (size_t i = 0; i < len; i++) {
        if (i && i >= lead && (i - lead) % 3 == 0)
            out[o++] = ',';
        out[o++] = raw[i];
    }
    out[o] = '\0';
    return out;
}

static const char *fmt_pct(int64_t num, int64_t den, char out[16])
{
    if (den <= 0)
        snprintf(out, 16, "—");
    else
        snprintf(out, 16, "%.1f%%", 100.0 * (double)num / (double)den);
    return out;
}

/* ---- reading the figures ------------------------------------------------------------ */

/* One row of a keyed list: hourly (a = channel, t = hour), suppressed (a = reason),
 * errors (a = channel, b = code). */
typedef struct item {
    const char *a, *b;
    char num[24];               /* b when the code came as an integer */
    int64_t t, n;
} item;

static const char *item_b(const item *it)
{
    return it->b ? it->b : it->num;
}

typedef struct campaign {
    int64_t id;
    const char *name;
    int64_t queued, sent, delivered, deferred, suppressed, failed;
} campaign;

enum { T_ENQUEUED, T_SENT, T_DELIVERED, T_FAILED, T_SUPPRESSED, T_EXPIRED, T_CANCELLED, T_N };
static const char *const total_key[T_N] = {
    "enqueued", "sent", "delivered", "failed", "suppressed", "expired", "cancelled",
};

typedef struct figures {
    const char *title, *generated_at, *since, *until;
    item *hourly, *supp, *errs;
    size_t nhourly, nsupp, nerrs;
    campaign *camps;
    size_t ncamps;
    int64_t total[T_N];
    int have_total[T_N];
} figures;

static void figures_free(figures *f)
{
    free(f->hourly);
    free(f->supp);
    free(f->errs);
    free(f->camps);
}

/* "hourly[3].sent" or "totals.sent" or "title" */
static void where(char *out, size_t len, const char *arr, size_t i, const char *key)
{
    if (arr && i != (size_t)-1)
        snprintf(out, len, "%s[%zu].%s", arr, i, key);
    else if (arr)
        snprintf(out, len, "%s.%s", arr, key);
    else
        fs_copy(out, len, key);
}

static int get_count(json_t *o, const char *key, int required, const char *arr, size_t i,
                     int64_t *out, cherr *e)
{
    char w[96];
    json_t *v = json_object_get(o, key);
    *out = 0;
    if (!v || json_is_null(v)) {
        if (!required)
            return 0;
        where(w, sizeof w, arr, i, key);
        return err_set(e, "%s: missing", w);
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        where(w, sizeof w, arr, i, key);
        return err_set(e, "%s: expected an integer >= 0", w);
    }
    *out = (int64_t)json_integer_value(v);
    return 0;
}

static int get_str(json_t *o, const char *key, int required, const char *arr, size_t i,
                   const char **out, cherr *e)
{
    char w[96];
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (!required)
            return 0;
        where(w, sizeof w, arr, i, key);
        return err_set(e, "%s: missing", w);
    }
    if (!json_is_string(v)) {
        where(w, sizeof w, arr, i, key);
        return err_set(e, "%s: expected a string", w);
    }
    *out = json_string_value(v);
    return 0;
}

/* The array `key` of `data` (absent or null: empty) as objects; allocates `size` bytes
 * per element. */
static int get_rows(json_t *data, const char *key, size_t size, void **rows, size_t *n,
                    cherr *e)
{
    json_t *a = json_object_get(data, key);
    *rows = NULL;
    *n = 0;
    if (!a || json_is_null(a))
        return 0;
    if (!json_is_array(a))
        return err_set(e, "%s: expected an array", key);
    size_t len = json_array_size(a);
    if (len > RPT_MAX_ROWS)
        return err_set(e, "%s: %zu rows, at most %d", key, len, RPT_MAX_ROWS);
    for (size_t i = 0; i < len; i++)
        if (!json_is_object(json_array_get(a, i)))
            return err_set(e, "%s[%zu]: expected an object", key, i);
    if (len && !(*rows = calloc(len, size)))
        return err_set(e, "%s: out of memory", key);
    *n = len;
    return 0;
}

static int read_hourly(json_t *data, figures *f, cherr *e)
{
    if (get_rows(data, "hourly", sizeof(item), (void **)&f->hourly, &f->nhourly, e) < 0)
        return -1;
    json_t *a = json_object_get(data, "hourly");
    for (size_t i = 0; i < f->nhourly; i++) {
        json_t *o = json_array_get(a, i);
        item *it = &f->hourly[i];
        const char *hour;
        if (get_str(o, "hour", 1, "hourly", i, &hour, e) < 0 ||
            get_str(o, "channel", 1, "hourly", i, &it->a, e) < 0 ||
            get_count(o, "sent", 1, "hourly", i, &it->n, e) < 0)
            return -1;
        cherr te;
        if (hour[0] < '0' || hour[0] > '9' || tu_parse_time(hour, 0, &it->t, &te) < 0)
            return err_set(e, "hourly[%zu].hour: expected ISO 8601 with an offset "
                           "(2026-11-23T10:00Z)", i);
    }
    return 0;
}

static int read_suppressed(json_t *data, figures *f, cherr *e)
{
    if (get_rows(data, "suppressed", sizeof(item), (void **)&f->supp, &f->nsupp, e) < 0)
        return -1;
    json_t *a = json_object_get(data, "suppressed");
    for (size_t i = 0; i < f->nsupp; i++) {
        json_t *o = json_array_get(a, i);
        if (get_str(o, "reason", 1, "suppressed", i, &f->supp[i].a, e) < 0 ||
            get_count(o, "n", 1, "suppressed", i, &f->supp[i].n, e) < 0)
            return -1;
    }
    return 0;
}

static int read_errors(json_t *data, figures *f, cherr *e)
{
    if (get_rows(data, "errors", sizeof(item), (void **)&f->errs, &f->nerrs, e) < 0)
        return -1;
    json_t *a = json_object_get(data, "errors");
    for (size_t i = 0; i < f->nerrs; i++) {
        json_t *o = json_array_get(a, i);
        item *it = &f->errs[i];
        if (get_str(o, "channel", 1, "errors", i, &it->a, e) < 0 ||
            get_count(o, "n", 1, "errors", i, &it->n, e) < 0)
            return -1;
        json_t *c = json_object_get(o, "code");
        if (json_is_integer(c))
            snprintf(it->num, sizeof it->num, "%" JSON_INTEGER_FORMAT, json_integer_value(c));
        else if (json_is_string(c))
            it->b = json_string_value(c);
        else if (!c || json_is_null(c))
            return err_set(e, "errors[%zu].code: missing", i);
        else
            return err_set(e, "errors[%zu].code: expected a string or an integer", i);
    }
    return 0;
}

static int read_campaigns(json_t *data, figures *f, cherr *e)
{
    if (get_rows(data, "campaigns", sizeof(campaign), (void **)&f->camps, &f->ncamps, e) < 0)
        return -1;
    json_t *a = json_object_get(data, "campaigns");
    for (size_t i = 0; i < f->ncamps; i++) {
        json_t *o = json_array_get(a, i);
        campaign *c = &f->camps[i];
        json_t *id = json_object_get(o, "id");
        if (!id)
            return err_set(e, "campaigns[%zu].id: missing", i);
        if (!json_is_integer(id))
            return err_set(e, "campaigns[%zu].id: expected an integer", i);
        c->id = (int64_t)json_integer_value(id);
        if (get_str(o, "name", 0, "campaigns", i, &c->name, e) < 0 ||
            get_count(o, "queued", 0, "campaigns", i, &c->queued, e) < 0 ||
            get_count(o, "sent", 0, "campaigns", i, &c->sent, e) < 0 ||
            get_count(o, "delivered", 0, "campaigns", i, &c->delivered, e) < 0 ||
            get_count(o, "deferred", 0, "campaigns", i, &c->deferred, e) < 0 ||
            get_count(o, "suppressed", 0, "campaigns", i, &c->suppressed, e) < 0 ||
            get_count(o, "failed", 0, "campaigns", i, &c->failed, e) < 0)
            return -1;
    }
    return 0;
}

static int read_figures(json_t *data, figures *f, cherr *e)
{
    if (!json_is_object(data))
        return err_set(e, "report data: expected a JSON object");
    if (get_str(data, "title", 0, NULL, 0, &f->title, e) < 0 ||
        get_str(data, "generated_at", 0, NULL, 0, &f->generated_at, e) < 0 ||
        get_str(data, "since", 0, NULL, 0, &f->since, e) < 0 ||
        get_str(data, "until", 0, NULL, 0, &f->until, e) < 0)
        return -1;
    json_t *t = json_object_get(data, "totals");
    if (t && !json_is_null(t)) {
        if (!json_is_object(t))
            return err_set(e, "totals: expected an object");
        for (int k = 0; k < T_N; k++) {
            json_t *v = json_object_get(t, total_key[k]);
            if (get_count(t, total_key[k], 0, "totals", (size_t)-1, &f->total[k], e) < 0)
                return -1;
            f->have_total[k] = v && !json_is_null(v);
        }
    }
    return read_hourly(data, f, e) < 0 || read_suppressed(data, f, e) < 0 ||
           read_errors(data, f, e) < 0 || read_campaigns(data, f, e) < 0 ? -1 : 0;
}

/* ---- grouping -------------------------------------------------------------------- */

static int64_t sat_add(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static int cmp_ab(const void *x, const void *y)
{
    const item *p = x, *q = y;
    int c = strcmp(p->a, q->a);
    return c ? c : strcmp(item_b(p), item_b(q));
}

static int cmp_n_desc(const void *x, const void *y)
{
    const item *p = x, *q = y;
    if (p->n != q->n)
        return p->n < q->n ? 1 : -1;
    return cmp_ab(x, y);
}

/* Merge rows with the same (a, b), then order by n, largest first. Returns the new count. */
static size_t group(item *v, size_t n)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof *v, cmp_ab);
    size_t o = 0;
    for (size_t i = 1; i < n; i++) {
        if (!cmp_ab(&v[o], &v[i]))
            v[o].n = sat_add(v[o].n, v[i].n);
        else
            v[++o] = v[i];
    }
    qsort(v, o + 1, sizeof *v, cmp_n_desc);
    return o + 1;
}

/* ---- words --------------------------------------------------------------------------- */

typedef struct word {
    const char *key, *zh;
} word;

static const word channel_words[] = {
    {"mp_subscribe", "小程序订阅消息"}, {"oa_template", "服务号模板消息"}, {"sms", "短信"},
    {"wecom", "企业微信应用消息"}, {"wecom_customer", "企业微信客户群发"},
    {"wecom_robot", "企业微信群机器人"}, {NULL, NULL},
};

static const word reason_words[] = {
    {"cap", "频次上限"}, {"optout", "已退订"}, {"no_channel", "无可用渠道"},
    {"no_credit", "无订阅额度"}, {"quiet_hours", "免打扰时段"}, {"holdout", "对照组留出"},
    {"unknown_tier", "未知用户分层"}, {"expired", "已过期"}, {"unfollowed", "未关注"},
    {"blacklist", "黑名单"}, {NULL, NULL},
};

static const word code_words[] = {
    {"-1", "系统繁忙"}, {"40001", "access_token 无效"}, {"40003", "openid 无效"},
    {"40037", "模板 ID 无效"}, {"42001", "access_token 过期"}, {"43004", "用户未关注"},
    {"43101", "用户未订阅（无额度）"}, {"43108", "并发下发"}, {"43116", "模板被封禁"},
    {"43117", "发送过于频繁"}, {"45009", "接口调用超过每日限额"}, {"47003", "模板参数不准确"},
    {"48001", "接口未授权"}, {"81013", "接收人无效"}, {"93000", "机器人 webhook 无效"},
    {"FailedOperation.PhoneNumberInBlacklist", "号码在黑名单"},
    {"FailedOperation.PhoneNumberOnBlacklist", "号码在黑名单"},
    {"FailedOperation.MarketingSendTimeConstraint", "营销短信发送时段限制"},
    {"LimitExceeded.PhoneNumberDailyLimit", "单号码日发送上限"},
    {"LimitExceeded.PhoneNumberThirtySecondLimit", "单号码 30 秒内限发"},
    {"InvalidParameterValue.IncorrectPhoneNumber", "号码格式错误"},
    {"isv.BUSINESS_LIMIT_CONTROL", "触发号码流控"}, {"isv.MOBILE_NUMBER_ILLEGAL", "号码格式错误"},
    {"isv.AMOUNT_NOT_ENOUGH", "账户余额不足"}, {"isv.DAY_LIMIT_CONTROL", "账户日发送上限"},
    {"isp.SYSTEM_ERROR", "服务端系统错误"}, {NULL, NULL},
};

static const char *word_for(const word *t, const char *key)
{
    for (; t->key; t++)
        if (!strcmp(t->key, key))
            return t->zh;
    return NULL;
}

/* A label: "短信 sms" for a known key, the key itself otherwise (escaped, truncated). */
static void w_label(wr *w, const word *t, const char *key, size_t maxchars)
{
    const char *zh = word_for(t, key);
    if (zh) {
        w_puts(w, zh);
        w_puts(w, " ");
    }
    w_esc(w, key, maxchars);
}

/* ---- colours ------------------------------------------------------------------------- */

#define OTHER_COLOUR "#bab0ac"

/* Fixed colours for the known channels, so a page reads the same week after week. */
static const char *channel_colour(const char *ch, size_t rank)
{
    static const char *const fixed[][2] = {
        {"mp_subscribe", "#59a14f"}, {"oa_template", "#4e79a7"}, {"sms", "#f28e2b"},
        {"wecom", "#76b7b2"}, {"wecom_customer", "#edc948"}, {"wecom_robot", "#b07aa1"},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (!strcmp(fixed[i][0], ch))
            return fixed[i][1];
    static const char *const rest[] = {"#e15759", "#ff9da7", "#9c755f", "#4e79a7", "#f28e2b"};
    return rest[rank % (sizeof rest / sizeof rest[0])];
}

/* ---- the page: head and summary --------------------------------------------------- */

static const char page_css[] =
    ":root{--fg:#1f2933;--muted:#616e7c;--bg:#f5f7fa;--card:#fff;--line:#e4e7eb}"
    "*{box-sizing:border-box}"
    "body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.5 \"Noto Sans CJK SC\","
    "\"Source Han Sans SC\",\"WenQuanYi Micro Hei\",\"PingFang SC\",\"Microsoft YaHei\","
    "system-ui,sans-serif}"
    "main{max-width:1080px;margin:0 auto;padding:24px}"
    "h1{font-size:24px;margin:0 0 4px;overflow-wrap:anywhere}"
    "h2{font-size:17px;margin:0 0 4px}"
    ".sub{color:var(--muted);margin:0 0 12px;font-size:13px}"
    ".period{color:var(--muted);margin:0 0 20px}"
    ".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(128px,1fr));gap:12px;"
    "margin-bottom:20px}"
    ".card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px;"
    "border-top:4px solid var(--c,#4e79a7)}"
    ".card .k{color:var(--muted);font-size:12px}"
    ".card .v{font-size:24px;font-weight:600;font-variant-numeric:tabular-nums}"
    ".card .s{font-size:12px;color:var(--muted)}"
    "section{background:var(--card);border:1px solid var(--line);border-radius:8px;"
    "padding:16px 18px;margin-bottom:20px}"
    ".grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:20px}"
    ".grid2{margin-bottom:20px}.grid2>section{margin-bottom:0}"
    "svg{display:block;width:100%;height:auto}"
    "svg text{font-size:12px;fill:#3e4c59}"
    "svg .axis{stroke:#9aa5b1;stroke-width:1}"
    "svg .grid{stroke:#e4e7eb;stroke-width:1}"
    ".legend{display:flex;flex-wrap:wrap;gap:6px 18px;margin-top:8px;font-size:13px}"
    ".sw{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;"
    "vertical-align:-1px}"
    "table{border-collapse:collapse;width:100%;font-size:13px;margin-top:12px}"
    "th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);"
    "overflow-wrap:anywhere}"
    "th{color:var(--muted);font-weight:500}"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "td.b{width:30%}td.m{color:var(--muted)}"
    ".bar{height:10px;background:#e15759;border-radius:2px;min-width:1px}"
    ".empty{color:var(--muted);font-style:italic;margin:8px 0}"
    ".funnels{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:14px;"
    "margin-top:8px}"
    ".funnel{border:1px solid var(--line);border-radius:6px;padding:10px 12px}"
    ".funnel h3{font-size:14px;margin:0 0 2px;overflow-wrap:anywhere}"
    ".funnel .sub{margin:0 0 6px}"
    "footer{color:var(--muted);font-size:12px;text-align:center;padding:8px 0 24px}"
    "@media print{body{background:#fff}section,.card{break-inside:avoid}}";

static void write_head(wr *w, const figures *f)
{
    const char *title = f->title && f->title[0] ? f->title : "chuda 触达报告";
    w_puts(w, "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n"
              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
              "<meta name=\"generator\" content=\"chuda report\">\n<title>");
    w_esc(w, title, 200);
    w_puts(w, "</title>\n<style>");
    w_puts(w, page_css);
    w_puts(w, "</style>\n</head>\n<body>\n<main>\n<header>\n<h1 id=\"title\">");
    w_esc(w, title, 200);
    w_puts(w, "</h1>\n<p class=\"period\" id=\"period\">统计区间 Period: ");
    w_esc(w, f->since ? f->since : "开始 start", 64);
    w_puts(w, " → ");
    w_esc(w, f->until ? f->until : "现在 now", 64);
    if (f->generated_at) {
        w_puts(w, " · 生成于 generated ");
        w_esc(w, f->generated_at, 64);
    }
    w_puts(w, "</p>\n</header>\n");
}

static void write_cards(wr *w, const figures *f)
{
    static const char *const label[T_N] = {
        "入队 enqueued", "已发送 sent", "已送达 delivered", "失败 failed",
        "被拦截 suppressed", "过期 expired", "已取消 cancelled",
    };
    static const char *const colour[T_N] = {
        "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#9aa5b1", "#b07aa1", "#bab0ac",
    };
    char n[32], p[16];
    w_puts(w, "<div class=\"cards\" id=\"totals\">\n");
    for (int k = 0; k < T_N; k++) {
        w_printf(w, "<div class=\"card\" style=\"--c:%s\" id=\"total-%s\"><div class=\"k\">%s</div>"
                 "<div class=\"v\">%s</div>", colour[k], total_key[k], label[k],
                 f->have_total[k] ? fmt_n(f->total[k], n) : "—");
        if (k == T_SENT && f->have_total[T_ENQUEUED] && f->have_total[T_SENT])
            w_printf(w, "<div class=\"s\">%s 的入队</div>",
                     fmt_pct(f->total[T_SENT], f->total[T_ENQUEUED], p));
        else if (k == T_DELIVERED && f->have_total[T_SENT] && f->have_total[T_DELIVERED])
            w_printf(w, "<div class=\"s\">送达率 %s</div>",
                     fmt_pct(f->total[T_DELIVERED], f->total[T_SENT], p));
        else if (k != T_ENQUEUED && f->have_total[T_ENQUEUED] && f->have_total[k])
            w_printf(w, "<div class=\"s\">%s 的入队</div>", fmt_pct(f->total[k],
                     f->total[T_ENQUEUED], p));
        w_puts(w, "</div>\n");
    }
    w_puts(w, "</div>\n");
}

/* ---- sends over time: stacked bars ------------------------------------------------- */

/* A "nice" tick step (1, 2 or 5 times a power of ten) for about five ticks up to max. */
static int64_t nice_step(int64_t max)
{
    if (max <= 5)
        return 1;
    double raw = (double)max / 5.0, mag = pow(10.0, floor(log10(raw))), r = raw / mag;
    double s = r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10;
    return (int64_t)(s * mag);
}

typedef struct timeaxis {
    int64_t start, bucket;      /* first bucket's start (UTC ms), bucket length */
    size_t n;
    const char *unit;           /* "每小时 per hour" ... */
} timeaxis;

static void choose_axis(int64_t tmin, int64_t tmax, timeaxis *ax)
{
    /* weekly buckets start on Monday: the epoch was a Thursday */
    static const int64_t monday = 4 * TU_DAY;
    ax->bucket = TU_HOUR;
    ax->unit = "每小时 per hour";
    if ((tmax - tmin) / TU_HOUR + 1 > RPT_MAX_BUCKETS) {
        ax->bucket = TU_DAY;
        ax->unit = "每天 per day";
    }
    if (ax->bucket == TU_DAY && (tmax - tmin) / TU_DAY + 1 > RPT_MAX_BUCKETS) {
        int64_t weeks = (tmax - tmin) / (7 * TU_DAY) + 2;
        ax->bucket = 7 * TU_DAY * ((weeks + RPT_MAX_BUCKETS - 1) / RPT_MAX_BUCKETS);
        ax->unit = ax->bucket == 7 * TU_DAY ? "每周 per week" : "每几周 per weeks";
    }
    /* the first bucket starts at tmin's hour, day or Monday */
    int64_t off = ax->bucket >= 7 * TU_DAY ? monday : 0;
    int64_t unit = ax->bucket >= 7 * TU_DAY ? 7 * TU_DAY : ax->bucket;
    int64_t fl = (tmin - off) / unit * unit;
    if (fl > tmin - off)
        fl -= unit;
    ax->start = fl + off;
    ax->n = (size_t)((tmax - ax->start) / ax->bucket + 1);
}

static void axis_label(const timeaxis *ax, size_t i, char *out, size_t len)
{
    char iso[32];
    tu_format(ax->start + (int64_t)i * ax->bucket, iso, sizeof iso);   /* 2026-11-23T10:00:00.000Z */
    if (ax->bucket == TU_HOUR)
        snprintf(out, len, "%.5s %.5s", iso + 5, iso + 11);
    else if (ax->bucket == TU_DAY)
        snprintf(out, len, "%.5s", iso + 5);
    else
        snprintf(out, len, "%.10s", iso);
}

typedef struct series {
    const char *name;           /* NULL: "other" */
    const char *colour;
    int64_t total;
} series;

static void write_hourly(wr *w, figures *f)
{
    w_puts(w, "<section id=\"hourly\">\n<h2>发送量（按渠道） Sends by channel</h2>\n");
    int64_t tmin = INT64_MAX, tmax = INT64_MIN, sum = 0;
    for (size_t i = 0; i < f->nhourly; i++) {
        if (f->hourly[i].t < tmin)
            tmin = f->hourly[i].t;
        if (f->hourly[i].t > tmax)
            tmax = f->hourly[i].t;
        sum = sat_add(sum, f->hourly[i].n);
    }
    if (!f->nhourly || !sum) {
        w_puts(w, "<p class=\"empty\">本期没有发送 No sends in this period.</p>\n</section>\n");
        return;
    }
    timeaxis ax;
    choose_axis(tmin, tmax, &ax);

    /* channels by total sends: the first RPT_MAX_CHANNELS get a colour, the rest "other" */
    item *byc = malloc(f->nhourly * sizeof *byc);
    series ser[RPT_MAX_CHANNELS + 1];
    int64_t *cell = NULL, *stack = NULL;
    if (!byc) {
        w->oom = 1;
        return;
    }
    for (size_t i = 0; i < f->nhourly; i++) {
        byc[i] = f->hourly[i];
        byc[i].b = "";
    }
    size_t nch = group(byc, f->nhourly);
    size_t ns = nch <= RPT_MAX_CHANNELS ? nch : RPT_MAX_CHANNELS - 1;
    for (size_t i = 0; i < ns; i++)
        ser[i] = (series){byc[i].a, channel_colour(byc[i].a, i), byc[i].n};
    if (ns < nch) {
        int64_t rest = 0;
        for (size_t i = ns; i < nch; i++)
            rest = sat_add(rest, byc[i].n);
        ser[ns++] = (series){NULL, OTHER_COLOUR, rest};
    }
    free(byc);

    cell = calloc(ax.n * ns, sizeof *cell);
    stack = calloc(ax.n, sizeof *stack);
    if (!cell || !stack) {
        w->oom = 1;
        goto out;
    }
    for (size_t i = 0; i < f->nhourly; i++) {
        size_t b = (size_t)((f->hourly[i].t - ax.start) / ax.bucket), s = ns - 1;
        for (size_t k = 0; k < ns; k++)
            if (ser[k].name && !strcmp(ser[k].name, f->hourly[i].a)) {
                s = k;
                break;
            }
        cell[b * ns + s] = sat_add(cell[b * ns + s], f->hourly[i].n);
        stack[b] = sat_add(stack[b], f->hourly[i].n);
    }
    size_t peak = 0;
    for (size_t b = 0; b < ax.n; b++)
        if (stack[b] > stack[peak])
            peak = b;

    char n1[32], n2[32], lab[32];
    axis_label(&ax, peak, lab, sizeof lab);
    w_printf(w, "<p class=\"sub\">%s · UTC · 共 %s 条 total · 峰值 peak %s UTC: %s</p>\n",
             ax.unit, fmt_n(sum, n1), lab, fmt_n(stack[peak], n2));

    const double W = 1000, H = 320, ml = 64, mr = 12, mt = 12, mb = 40;
    const double pw = W - ml - mr, ph = H - mt - mb;
    int64_t step = nice_step(stack[peak]);
    int64_t ymax = (stack[peak] + step - 1) / step * step;
    if (ymax <= 0)
        ymax = 1;
    w_printf(w, "<svg viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"sends by channel\">\n",
             W, H);
    for (int64_t v = 0; v <= ymax; v += step) {
        double y = mt + ph - ph * (double)v / (double)ymax;
        w_printf(w, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
                 "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                 ml, W - mr, y, y, ml - 6, y + 4, fmt_n(v, n1));
    }
    double slot = pw / (double)ax.n, bw = slot * 0.78 < 1 ? slot : slot * 0.78;
    for (size_t b = 0; b < ax.n; b++) {
        double x = ml + slot * (double)b + (slot - bw) / 2, y = mt + ph;
        axis_label(&ax, b, lab, sizeof lab);
        for (size_t s = 0; s < ns; s++) {
            int64_t v = cell[b * ns + s];
            if (!v)
                continue;
            double h = ph * (double)v / (double)ymax;
            y -= h;
            w_printf(w, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\">"
                     "<title>%s UTC · ", x, y, bw, h, ser[s].colour, lab);
            if (ser[s].name)
                w_label(w, channel_words, ser[s].name, 40);
            else
                w_puts(w, "其他 other");
            w_printf(w, ": %s</title></rect>\n", fmt_n(v, n1));
        }
    }
    w_printf(w, "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>\n",
             ml, W - mr, mt + ph, mt + ph);
    size_t every = (ax.n + 9) / 10;
    for (size_t b = 0; b < ax.n; b += every) {
        axis_label(&ax, b, lab, sizeof lab);
        double x = ml + slot * ((double)b + 0.5);
        w_printf(w, "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
                 "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                 x, x, mt + ph, mt + ph + 4, x, mt + ph + 20, lab);
    }
    w_puts(w, "</svg>\n<div class=\"legend\">");
    for (size_t s = 0; s < ns; s++) {
        w_printf(w, "<span><i class=\"sw\" style=\"background:%s\"></i>", ser[s].colour);
        if (ser[s].name)
            w_label(w, channel_words, ser[s].name, 40);
        else
            w_puts(w, "其他 other");
        w_printf(w, " · %s</span>", fmt_n(ser[s].total, n1));
    }
    w_puts(w, "</div>\n");
out:
    w_puts(w, "</section>\n");
    free(cell);
    free(stack);
}

/* ---- horizontal bars ---------------------------------------------------------------- */

/* Bars for grouped rows (largest first); rows past RPT_MAX_HBARS fold into "other".
 * `label` writes a row's label. */
static void write_hbars(wr *w, const item *v, size_t n, const char *colour,
                        void (*label)(wr *, const item *))
{
    size_t shown = n > RPT_MAX_HBARS ? RPT_MAX_HBARS - 1 : n;
    int64_t rest = 0, max = 1, sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (i >= shown)
            rest = sat_add(rest, v[i].n);
        sum = sat_add(sum, v[i].n);
    }
    for (size_t i = 0; i < shown; i++)
        if (v[i].n > max)
            max = v[i].n;
    if (rest > max)
        max = rest;
    size_t rows = shown + (rest || n > shown ? 1 : 0);
    const double W = 520, rowh = 26, lw = 210, vw = 92;
    char n1[32], p[16];
    w_printf(w, "<svg viewBox=\"0 0 %.0f %.0f\" role=\"img\">\n", W, rowh * (double)rows + 6);
    for (size_t i = 0; i < rows; i++) {
        int64_t val = i < shown ? v[i].n : rest;
        double y = 4 + rowh * (double)i, bw = (W - lw - vw) * (double)val / (double)max;
        w_printf(w, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">", lw - 8, y + 15);
        if (i < shown)
            label(w, &v[i]);
        else
            w_printf(w, "其他 other (%zu)", n - shown);
        w_printf(w, "</text><rect x=\"%.0f\" y=\"%.1f\" width=\"%.2f\" height=\"16\" rx=\"2\" "
                 "fill=\"%s\"><title>", lw, y + 3, bw < 1 && val ? 1 : bw,
                 i < shown ? colour : OTHER_COLOUR);
        if (i < shown)
            label(w, &v[i]);
        else
            w_puts(w, "其他 other");
        w_printf(w, ": %s</title></rect><text x=\"%.2f\" y=\"%.1f\">%s · %s</text>\n",
                 fmt_n(val, n1), lw + bw + 6, y + 15, n1, fmt_pct(val, sum, p));
    }
    w_puts(w, "</svg>\n");
}

static void label_reason(wr *w, const item *it)
{
    w_label(w, reason_words, it->a, 24);
}

static void label_error(wr *w, const item *it)
{
    w_esc(w, it->a, 16);
    w_puts(w, " · ");
    w_esc(w, item_b(it), 24);
}

static void write_suppressed(wr *w, figures *f)
{
    f->nsupp = group(f->supp, f->nsupp);
    int64_t sum = 0;
    for (size_t i = 0; i < f->nsupp; i++)
        sum = sat_add(sum, f->supp[i].n);
    char n1[32];
    w_puts(w, "<section id=\"suppressed\">\n<h2>拦截原因 Suppressions by reason</h2>\n");
    if (!sum) {
        w_puts(w, "<p class=\"empty\">本期没有拦截 Nothing suppressed.</p>\n</section>\n");
        return;
    }
    w_printf(w, "<p class=\"sub\">共 %s 条 total</p>\n", fmt_n(sum, n1));
    write_hbars(w, f->supp, f->nsupp, "#9aa5b1", label_reason);
    w_puts(w, "</section>\n");
}

static void write_errors(wr *w, figures *f)
{
    f->nerrs = group(f->errs, f->nerrs);
    int64_t sum = 0;
    for (size_t i = 0; i < f->nerrs; i++)
        sum = sat_add(sum, f->errs[i].n);
    char n1[32];
    w_puts(w, "<section id=\"errors\">\n<h2>供应商错误码 Provider error codes</h2>\n");
    if (!sum) {
        w_puts(w, "<p class=\"empty\">本期没有供应商错误 No provider errors.</p>\n</section>\n");
        return;
    }
    w_printf(w, "<p class=\"sub\">共 %s 次 total · 明细见下表 details below</p>\n",
             fmt_n(sum, n1));
    write_hbars(w, f->errs, f->nerrs, "#e15759", label_error);
    w_puts(w, "</section>\n");
}

/* The error codes as a table: channel, code, what it means, count, share, a bar. */
static void write_error_table(wr *w, const figures *f)
{
    int64_t sum = 0, max = 1;
    for (size_t i = 0; i < f->nerrs; i++) {
        sum = sat_add(sum, f->errs[i].n);
        if (f->errs[i].n > max)
            max = f->errs[i].n;
    }
    if (!sum)
        return;
    char n1[32], p[16];
    w_puts(w, "<section id=\"error-table\">\n<h2>错误码明细 Error codes</h2>\n<table>\n<thead><tr><th>渠道 channel</th><th>错误码 code</th><th>含义 meaning</th>"
              "<th class=\"n\">次数 n</th><th class=\"n\">占比</th><th></th></tr></thead>\n<tbody>\n");
    size_t rows = f->nerrs > RPT_MAX_ERRROWS ? RPT_MAX_ERRROWS : f->nerrs;
    for (size_t i = 0; i < rows; i++) {
        const item *it = &f->errs[i];
        const char *zh = word_for(code_words, item_b(it));
        w_puts(w, "<tr><td>");
        w_label(w, channel_words, it->a, 40);
        w_puts(w, "</td><td><code>");
        w_esc(w, item_b(it), 64);
        w_printf(w, "</code></td><td class=\"m\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
                 "<td class=\"b\"><div class=\"bar\" style=\"width:%.1f%%\"></div></td></tr>\n",
                 zh ? zh : "", fmt_n(it->n, n1), fmt_pct(it->n, sum, p),
                 100.0 * (double)it->n / (double)max);
    }
    w_puts(w, "</tbody>\n</table>\n");
    if (rows < f->nerrs)
        w_printf(w, "<p class=\"sub\">另有 %zu 种错误码未列出 %zu more codes not listed.</p>\n",
                 f->nerrs - rows, f->nerrs - rows);
    w_puts(w, "</section>\n");
}

/* ---- campaign funnels ---------------------------------------------------------------- */

#define FUNNEL_CX 238.0         /* the funnel's axis in a 470-wide box */
#define FUNNEL_W  220.0         /* its widest bar */

static void funnel_bar(wr *w, double y, const char *label, int64_t v, int64_t max,
                       const char *colour, const char *note)
{
    const double cx = FUNNEL_CX, fw = FUNNEL_W;
    double bw = fw * (double)v / (double)max;
    char n1[32];
    w_printf(w, "<text x=\"0\" y=\"%.1f\">%s</text>"
             "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"20\" rx=\"2\" fill=\"%s\"/>"
             "<text x=\"470\" y=\"%.1f\" text-anchor=\"end\">%s%s</text>\n",
             y + 15, label, cx - bw / 2, y + 1, bw < 1 && v ? 1 : bw, colour,
             y + 15, fmt_n(v, n1), note);
}

static void write_funnel(wr *w, const campaign *c)
{
    int64_t max = c->queued;
    const int64_t other[] = {c->sent, c->delivered, sat_add(sat_add(c->deferred, c->suppressed),
                                                            c->failed)};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        if (other[i] > max)
            max = other[i];
    if (max <= 0)
        max = 1;
    char p1[16], p2[16], note[48], n1[32], n2[32], n3[32];
    w_printf(w, "<div class=\"funnel\" id=\"campaign-%" PRId64 "\">\n<h3>#%" PRId64 " ", c->id,
             c->id);
    if (c->name && c->name[0])
        w_esc(w, c->name, 80);
    else
        w_puts(w, "（未命名 unnamed）");
    w_printf(w, "</h3>\n<p class=\"sub\">发送率 sent/queued %s · 送达率 delivered/sent %s</p>\n",
             fmt_pct(c->sent, c->queued, p1), fmt_pct(c->delivered, c->sent, p2));
    w_puts(w, "<svg viewBox=\"0 0 470 142\" role=\"img\">\n");
    funnel_bar(w, 2, "排队 queued", c->queued, max, "#4e79a7", "");
    snprintf(note, sizeof note, " · %s", fmt_pct(c->sent, c->queued, p1));
    funnel_bar(w, 30, "已发送 sent", c->sent, max, "#f28e2b", note);
    snprintf(note, sizeof note, " · %s", fmt_pct(c->delivered, c->queued, p1));
    funnel_bar(w, 58, "已送达 delivered", c->delivered, max, "#59a14f", note);

    /* what did not go: one stacked bar, left-aligned under the funnel */
    const double fw = FUNNEL_W;
    double x = FUNNEL_CX - FUNNEL_W / 2;
    const struct { int64_t v; const char *colour, *name; } part[] = {
        {c->deferred, "#edc948", "延后 deferred"},
        {c->suppressed, "#9aa5b1", "拦截 suppressed"},
        {c->failed, "#e15759", "失败 failed"},
    };
    w_puts(w, "<text x=\"0\" y=\"103\">未发出 not sent</text>");
    for (size_t i = 0; i < 3; i++) {
        double bw = fw * (double)part[i].v / (double)max;
        if (!part[i].v)
            continue;
        w_printf(w, "<rect x=\"%.2f\" y=\"89\" width=\"%.2f\" height=\"20\" fill=\"%s\">"
                 "<title>%s: %s</title></rect>", x, bw < 1 ? 1 : bw, part[i].colour,
                 part[i].name, fmt_n(part[i].v, n1));
        x += bw < 1 ? 1 : bw;
    }
    w_printf(w, "\n<text x=\"0\" y=\"134\"><tspan fill=\"#b08d00\">■</tspan> 延后 %s  "
             "<tspan fill=\"#7b8794\">■</tspan> 拦截 %s  <tspan fill=\"#e15759\">■</tspan> 失败 %s"
             "</text>\n</svg>\n</div>\n", fmt_n(c->deferred, n1), fmt_n(c->suppressed, n2),
             fmt_n(c->failed, n3));
}

static void write_campaigns(wr *w, const figures *f)
{
    w_puts(w, "<section id=\"campaigns\">\n<h2>活动漏斗 Campaign funnels</h2>\n");
    if (!f->ncamps) {
        w_puts(w, "<p class=\"empty\">本期没有活动 No campaigns in this period.</p>\n</section>\n");
        return;
    }
    w_puts(w, "<p class=\"sub\">排队 → 已发送 → 已送达；下方为未发出的消息（延后、拦截、失败）</p>\n"
              "<div class=\"funnels\">\n");
    size_t n = f->ncamps > RPT_MAX_FUNNELS ? RPT_MAX_FUNNELS : f->ncamps;
    for (size_t i = 0; i < n; i++)
        write_funnel(w, &f->camps[i]);
    w_puts(w, "</div>\n");
    if (n < f->ncamps)
        w_printf(w, "<p class=\"sub\">另有 %zu 个活动未画出 %zu more campaigns not drawn "
                 "(chuda campaign list).</p>\n", f->ncamps - n, f->ncamps - n);
    w_puts(w, "</section>\n");
}

/* ---- entry point ------------------------------------------------------------------- */

int report_html(json_t *data, buf *out, cherr *e)
{
    figures f = {0};
    if (read_figures(data, &f, e) < 0) {
        figures_free(&f);
        return err_prefix(e, "report: ");
    }
    wr w = {out, 0};
    write_head(&w, &f);
    write_cards(&w, &f);
    write_hourly(&w, &f);
    w_puts(&w, "<div class=\"grid2\">\n");
    write_suppressed(&w, &f);
    write_errors(&w, &f);
    w_puts(&w, "</div>\n");
    write_error_table(&w, &f);
    write_campaigns(&w, &f);
    w_puts(&w, "<footer>chuda · 本页自包含，无需网络 self-contained, no network needed</footer>\n"
               "</main>\n</body>\n</html>\n");
    figures_free(&f);
    if (w.oom)
        return err_set(e, "report: out of memory");
    return 0;
}
