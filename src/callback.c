/* callback.c — provider pushes parsed into normalised events (see callback.h).
 *
 * Every body is parsed whole into a private list first and only appended to the
 * caller's list when all of it was good, so a bad item never leaves half a batch
 * applied. XML (WeChat's default format) is turned by expat into the same JSON shape
 * the JSON form has, then takes the same path; without CHUDA_WITH_EXPAT it is refused
 * with a reason. Field errors name the field as the provider spells it, with the item's
 * index: "[2].report_status", "List[1].TemplateId". */
#include "callback.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#ifdef CHUDA_WITH_EXPAT
#include <expat.h>
#endif

#include "buf.h"
#include "fixstr.h"
#include "timeutil.h"

#define CB_XML_DEPTH 8           /* WeChat's XML is 4 deep: xml / Wrapper / List / field */

/* ---- the list ------------------------------------------------------------------------- */

static void ev_free(cb_event *ev)
{
    free(ev->provider_msg_id);
    free(ev->ref);
    free(ev->phone);
    free(ev->openid);
    free(ev->account);
    free(ev->template_id);
    free(ev->code);
    free(ev->text);
    memset(ev, 0, sizeof *ev);
}

void cb_list_free(cb_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        ev_free(&l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Move `ev` into the list (ev is emptied). */
static int push(cb_list *l, cb_event *ev, cherr *e)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        cb_event *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return err_set(e, "out of memory");
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *ev;
    memset(ev, 0, sizeof *ev);
    return 0;
}

static char *dup_or_null(const char *s, int *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = 1;
    return d;
}

/* Push a copy of `src` as another kind (a failure that is also an opt-out). */
static int push_copy(cb_list *l, const cb_event *src, cb_kind kind, cherr *e)
{
    int oom = 0;
    cb_event ev = {
        .kind = kind,
        .channel = src->channel,
        .provider_msg_id = dup_or_null(src->provider_msg_id, &oom),
        .ref = dup_or_null(src->ref, &oom),
        .phone = dup_or_null(src->phone, &oom),
        .openid = dup_or_null(src->openid, &oom),
        .account = dup_or_null(src->account, &oom),
        .template_id = dup_or_null(src->template_id, &oom),
        .code = dup_or_null(src->code, &oom),
        .text = dup_or_null(src->text, &oom),
        .at_ms = src->at_ms,
    };
    if (oom || push(l, &ev, e) < 0) {
        ev_free(&ev);
        return err_set(e, "out of memory");
    }
    return 0;
}

const char *cb_kind_name(cb_kind k)
{
    static const char *const n[] = {"delivered", "failed", "optout", "credit", "credit_zero"};
    return (unsigned)k < sizeof n / sizeof n[0] ? n[k] : "?";
}

const char *cb_provider_name(cb_provider p)
{
    static const char *const n[] = {"tencent_status", "tencent_reply", "aliyun_report", "wechat"};
    return (unsigned)p < sizeof n / sizeof n[0] ? n[p] : "?";
}

/* ---- fields ------------------------------------------------------------------------- */

enum { F_OPT = 0, F_REQ = 1, F_NUM = 2 };   /* F_NUM: an integer is taken as its digits */

static void field_name(char *out, size_t len, const char *base, const char *key)
{
    snprintf(out, len, "%s%s%s", base, base[0] ? "." : "", key);
}

/* The text of o[key] (malloc'd; NULL when absent or null and not F_REQ). */
static int get_text(json_t *o, const char *base, const char *key, int flags, char **out,
                    cherr *e)
{
    char f[96];
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (!(flags & F_REQ))
            return 0;
        field_name(f, sizeof f, base, key);
        return err_set(e, "%s: missing", f);
    }
    if (json_is_string(v)) {
        if (json_string_length(v) > CB_MAX_FIELD) {
            field_name(f, sizeof f, base, key);
            return err_set(e, "%s: longer than %d bytes", f, CB_MAX_FIELD);
        }
        *out = strdup(json_string_value(v));
    } else if ((flags & F_NUM) && json_is_integer(v)) {
        char num[32];
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        *out = strdup(num);
    } else {
        field_name(f, sizeof f, base, key);
        return err_set(e, "%s: expected a string%s", f, flags & F_NUM ? " or an integer" : "");
    }
    return *out ? 0 : err_set(e, "out of memory");
}

static int all_digits(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

/* Unix seconds (digits) to ms. */
static int unix_seconds(const char *s, const char *field, int64_t *ms, cherr *e)
{
    if (!all_digits(s, 1, 11))
        return err_set(e, "%s: expected unix seconds, got '%.40s'", field, s);
    *ms = strtoll(s, NULL, 10) * TU_SEC;
    return 0;
}

/* "2015-10-17 08:03:04", China time (UTC+8, no DST), to UTC ms. */
static int china_time(const char *s, const char *field, int64_t *ms, cherr *e)
{
    static const char pat[] = "dddd-dd-dd dd:dd:dd";
    int ok = strlen(s) == sizeof pat - 1;
    for (size_t i = 0; ok && i < sizeof pat - 1; i++)
        ok = pat[i] == 'd' ? isdigit((unsigned char)s[i]) != 0 : s[i] == pat[i];
    char iso[40];
    cherr te;
    if (ok) {
        snprintf(iso, sizeof iso, "%s+08:00", s);
        ok = tu_parse_time(iso, 0, ms, &te) == 0;
    }
    return ok ? 0 : err_set(e, "%s: expected YYYY-MM-DD HH:MM:SS, got '%.40s'", field, s);
}

/* Tencent: "+" nationcode mobile (no nationcode, or an empty one: 86); a mobile that
 * already starts with "+" is taken whole. */
static int tencent_phone(const char *cc, const char *mobile, const char *base, char **out,
                         cherr *e)
{
    char f[96], num[40];
    if (mobile[0] == '+') {
        fs_copy(num, sizeof num, mobile);
    } else {
        if (cc && cc[0] && !all_digits(cc, 1, 4)) {
            field_name(f, sizeof f, base, "nationcode");
            return err_set(e, "%s: expected 1 to 4 digits, got '%.20s'", f, cc);
        }
        snprintf(num, sizeof num, "+%s%.24s", cc && cc[0] ? cc : "86", mobile);
    }
    if (!all_digits(num + 1, 6, 15)) {
        field_name(f, sizeof f, base, "mobile");
        return err_set(e, "%s: expected a phone number, got '%.24s'", f, mobile);
    }
    return (*out = strdup(num)) ? 0 : err_set(e, "out of memory");
}

/* Aliyun sends mainland numbers without +86 and others with their country code but
 * without "+": 11 digits 1[3-9]… are mainland. A masked number ("1381111****") is kept
 * as sent: receipts are matched on biz_id. */
static int aliyun_phone(const char *s, const char *base, char **out, cherr *e)
{
    char f[96], num[40];
    const char *d = s[0] == '+' ? s + 1 : strncmp(s, "00", 2) ? s : s + 2;
    size_t n = strlen(d), digits = 0, stars = 0;
    for (size_t i = 0; i < n; i++)
        digits += isdigit((unsigned char)d[i]) != 0, stars += d[i] == '*';
    if (n < 6 || n > 15 || digits + stars != n || (stars && d != s)) {
        field_name(f, sizeof f, base, "phone_number");
        return err_set(e, "%s: expected a phone number, got '%.24s'", f, s);
    }
    if (stars)
        fs_copy(num, sizeof num, s);
    else if (d == s && n == 11 && s[0] == '1' && s[1] >= '3')
        snprintf(num, sizeof num, "+86%s", s);
    else
        snprintf(num, sizeof num, "+%s", d);
    return (*out = strdup(num)) ? 0 : err_set(e, "out of memory");
}

/* The reply words that mean "stop": TD, T, N, R, 退订 — after trimming (ASCII and
 * ideographic spaces), folding full-width letters to ASCII and upper-casing. */
static int is_optout_reply(const char *text)
{
    char w[32];
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)text;
    for (;;) {
        if (*p && isspace(*p))
            p++;
        else if (p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80)
            p += 3;
        else
            break;
    }
    while (*p) {
        if (o + 4 >= sizeof w)
            return 0;                       /* longer than any stop word */
        if (p[0] == 0xEF && ((p[1] == 0xBC && p[2] >= 0xA1 && p[2] <= 0xBA) ||
                             (p[1] == 0xBD && p[2] >= 0x81 && p[2] <= 0x9A))) {
            w[o++] = (char)(p[1] == 0xBC ? 'A' + (p[2] - 0xA1) : 'A' + (p[2] - 0x81));
            p += 3;
        } else if (p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80) {
            w[o++] = ' ';
            p += 3;
        } else {
            w[o++] = (char)toupper(*p);
            p++;
        }
    }
    while (o && isspace((unsigned char)w[o - 1]))
        o--;
    w[o] = '\0';
    static const char *const stop[] = {"TD", "T", "N", "R", "退订"};
    for (size_t i = 0; i < sizeof stop / sizeof stop[0]; i++)
        if (!strcmp(w, stop[i]))
            return 1;
    return 0;
}

static int is_blacklist(const char *code, const char *text)
{
    return (code && !strcmp(code, "DB:0141")) ||
           (text && (strstr(text, "黑名单") || strcasestr(text, "blacklist"))) ||
           (code && strcasestr(code, "blacklist"));
}

/* ---- Tencent SMS (§5.5) ---------------------------------------------------------------- */

static int tencent_status_item(json_t *o, const char *base, cb_list *l, cherr *e)
{
    cb_event ev = {.channel = "sms"};
    char *status = NULL, *cc = NULL, *mobile = NULL, *when = NULL, f[96];
    int rc = -1;
    if (get_text(o, base, "report_status", F_REQ, &status, e) < 0 ||
        get_text(o, base, "sid", F_REQ | F_NUM, &ev.provider_msg_id, e) < 0 ||
        get_text(o, base, "mobile", F_REQ | F_NUM, &mobile, e) < 0 ||
        get_text(o, base, "nationcode", F_NUM, &cc, e) < 0 ||
        get_text(o, base, "user_receive_time", 0, &when, e) < 0 ||
        get_text(o, base, "errmsg", 0, &ev.code, e) < 0 ||
        get_text(o, base, "description", 0, &ev.text, e) < 0 ||
        get_text(o, base, "SessionContext", F_NUM, &ev.ref, e) < 0)
        goto out;
    if (ev.ref && !ev.ref[0]) {
        free(ev.ref);
        ev.ref = NULL;
    }
    if (!strcmp(status, "SUCCESS"))
        ev.kind = CB_DELIVERED;
    else if (!strcmp(status, "FAIL"))
        ev.kind = CB_FAILED;
    else {
        field_name(f, sizeof f, base, "report_status");
        err_set(e, "%s: expected SUCCESS or FAIL, got '%.40s'", f, status);
        goto out;
    }
    if (!ev.provider_msg_id[0]) {
        field_name(f, sizeof f, base, "sid");
        err_set(e, "%s: empty", f);
        goto out;
    }
    field_name(f, sizeof f, base, "user_receive_time");
    if (tencent_phone(cc, mobile, base, &ev.phone, e) < 0 ||
        (when && when[0] && china_time(when, f, &ev.at_ms, e) < 0))
        goto out;
    int optout = ev.kind == CB_FAILED && is_blacklist(ev.code, ev.text);
    if (push(l, &ev, e) < 0 || (optout && push_copy(l, &l->v[l->n - 1], CB_OPTOUT, e) < 0))
        goto out;
    rc = 0;
out:
    ev_free(&ev);
    free(status);
    free(cc);
    free(mobile);
    free(when);
    return rc;
}

static int tencent_status(json_t *root, cb_list *l, cherr *e)
{
    if (!json_is_array(root))
        return err_set(e, "body: expected a JSON array of status reports");
    for (size_t i = 0; i < json_array_size(root); i++) {
        json_t *o = json_array_get(root, i);
        char base[32];
        snprintf(base, sizeof base, "[%zu]", i);
        if (!json_is_object(o))
            return err_set(e, "%s: expected an object", base);
        if (tencent_status_item(o, base, l, e) < 0)
            return -1;
        l->items++;
    }
    return 0;
}

static int tencent_reply(json_t *root, cb_list *l, cherr *e)
{
    if (!json_is_object(root))
        return err_set(e, "body: expected a JSON object (one reply)");
    cb_event ev = {.kind = CB_OPTOUT, .channel = "sms"};
    char *cc = NULL, *mobile = NULL, *time = NULL;
    int rc = -1;
    if (get_text(root, "", "mobile", F_REQ | F_NUM, &mobile, e) < 0 ||
        get_text(root, "", "nationcode", F_NUM, &cc, e) < 0 ||
        get_text(root, "", "text", F_REQ, &ev.text, e) < 0 ||
        get_text(root, "", "sign", 0, &ev.account, e) < 0 ||
        get_text(root, "", "time", F_NUM, &time, e) < 0 ||
        tencent_phone(cc, mobile, "", &ev.phone, e) < 0 ||
        (time && unix_seconds(time, "time", &ev.at_ms, e) < 0))
        goto out;
    l->items++;
    if (is_optout_reply(ev.text)) {
        if (!(ev.code = strdup("reply"))) {
            err_set(e, "out of memory");
            goto out;
        }
        if (push(l, &ev, e) < 0)
            goto out;
    }
    rc = 0;
out:
    ev_free(&ev);
    free(cc);
    free(mobile);
    free(time);
    return rc;
}

/* ---- Aliyun SMS (§6.4) -------------------------------------------------------------- */

static int aliyun_item(json_t *o, const char *base, cb_list *l, cherr *e)
{
    cb_event ev = {.channel = "sms"};
    char *phone = NULL, *when = NULL, f[96];
    int rc = -1;
    json_t *ok = json_object_get(o, "success");
    field_name(f, sizeof f, base, "success");
    if (!ok) {
        err_set(e, "%s: missing", f);
        goto out;
    }
    if (!json_is_boolean(ok)) {
        err_set(e, "%s: expected true or false", f);
        goto out;
    }
    ev.kind = json_is_true(ok) ? CB_DELIVERED : CB_FAILED;
    if (get_text(o, base, "biz_id", F_REQ | F_NUM, &ev.provider_msg_id, e) < 0 ||
        get_text(o, base, "out_id", F_NUM, &ev.ref, e) < 0 ||
        get_text(o, base, "phone_number", F_REQ | F_NUM, &phone, e) < 0 ||
        get_text(o, base, "err_code", 0, &ev.code, e) < 0 ||
        get_text(o, base, "err_msg", 0, &ev.text, e) < 0 ||
        get_text(o, base, "report_time", 0, &when, e) < 0 ||
        aliyun_phone(phone, base, &ev.phone, e) < 0)
        goto out;
    if (!ev.provider_msg_id[0]) {
        field_name(f, sizeof f, base, "biz_id");
        err_set(e, "%s: empty", f);
        goto out;
    }
    if (ev.ref && !ev.ref[0]) {
        free(ev.ref);
        ev.ref = NULL;
    }
    field_name(f, sizeof f, base, "report_time");
    if (when && when[0] && china_time(when, f, &ev.at_ms, e) < 0)
        goto out;
    int optout = ev.kind == CB_FAILED && is_blacklist(ev.code, ev.text);
    if (push(l, &ev, e) < 0 || (optout && push_copy(l, &l->v[l->n - 1], CB_OPTOUT, e) < 0))
        goto out;
    rc = 0;
out:
    ev_free(&ev);
    free(phone);
    free(when);
    return rc;
}

static int aliyun_report(json_t *root, cb_list *l, cherr *e)
{
    if (!json_is_array(root))
        return err_set(e, "body: expected a JSON array of reports");
    for (size_t i = 0; i < json_array_size(root); i++) {
        json_t *o = json_array_get(root, i);
        char base[32];
        snprintf(base, sizeof base, "[%zu]", i);
        if (!json_is_object(o))
            return err_set(e, "%s: expected an object", base);
        if (aliyun_item(o, base, l, e) < 0)
            return -1;
        l->items++;
    }
    return 0;
}

/* ---- WeChat (§7) ------------------------------------------------------------------- */

/* What the three subscription events carry, and where. */
typedef struct wx_kind {
    const char *event, *wrapper;
    int (*item)(json_t *o, const char *base, const cb_event *head, cb_list *l, cherr *e);
} wx_kind;

/* A copy of the event's head (openid, account, time) for one item. */
static int head_copy(const cb_event *head, cb_event *ev, cherr *e)
{
    int oom = 0;
    *ev = (cb_event){.channel = "mp_subscribe", .at_ms = head->at_ms};
    ev->openid = dup_or_null(head->openid, &oom);
    ev->account = dup_or_null(head->account, &oom);
    if (oom) {
        ev_free(ev);
        return err_set(e, "out of memory");
    }
    return 0;
}

/* popup: accept (or acceptWithAudio) -> credit; change: reject -> credit_zero. */
static int wx_choice_item(json_t *o, const char *base, const cb_event *head, cb_list *l,
                          int popup, cherr *e)
{
    cb_event ev;
    if (head_copy(head, &ev, e) < 0)
        return -1;
    int rc = -1;
    if (get_text(o, base, "TemplateId", F_REQ, &ev.template_id, e) < 0 ||
        get_text(o, base, "SubscribeStatusString", F_REQ, &ev.code, e) < 0)
        goto out;
    if (!ev.template_id[0]) {
        char f[96];
        field_name(f, sizeof f, base, "TemplateId");
        err_set(e, "%s: empty", f);
        goto out;
    }
    if (popup && (!strcmp(ev.code, "accept") || !strcmp(ev.code, "acceptWithAudio"))) {
        ev.kind = CB_CREDIT;
        if (push(l, &ev, e) < 0)
            goto out;
    } else if (!popup && !strcmp(ev.code, "reject")) {
        ev.kind = CB_CREDIT_ZERO;
        if (push(l, &ev, e) < 0)
            goto out;
    }
    rc = 0;
out:
    ev_free(&ev);
    return rc;
}

static int wx_popup_item(json_t *o, const char *base, const cb_event *head, cb_list *l,
                         cherr *e)
{
    return wx_choice_item(o, base, head, l, 1, e);
}

static int wx_change_item(json_t *o, const char *base, const cb_event *head, cb_list *l,
                          cherr *e)
{
    return wx_choice_item(o, base, head, l, 0, e);
}

/* sent: ErrorCode 0 -> delivered, anything else -> failed. */
static int wx_sent_item(json_t *o, const char *base, const cb_event *head, cb_list *l,
                        cherr *e)
{
    cb_event ev;
    if (head_copy(head, &ev, e) < 0)
        return -1;
    int rc = -1;
    char f[96];
    if (get_text(o, base, "TemplateId", 0, &ev.template_id, e) < 0 ||
        get_text(o, base, "MsgID", F_REQ | F_NUM, &ev.provider_msg_id, e) < 0 ||
        get_text(o, base, "ErrorCode", F_REQ | F_NUM, &ev.code, e) < 0 ||
        get_text(o, base, "ErrorStatus", 0, &ev.text, e) < 0)
        goto out;
    const char *c = ev.code[0] == '-' ? ev.code + 1 : ev.code;
    if (!all_digits(c, 1, 10)) {
        field_name(f, sizeof f, base, "ErrorCode");
        err_set(e, "%s: expected an integer, got '%.40s'", f, ev.code);
        goto out;
    }
    if (!all_digits(ev.provider_msg_id, 1, 24)) {
        field_name(f, sizeof f, base, "MsgID");
        err_set(e, "%s: expected digits, got '%.40s'", f, ev.provider_msg_id);
        goto out;
    }
    ev.kind = strtol(ev.code, NULL, 10) == 0 ? CB_DELIVERED : CB_FAILED;
    if (push(l, &ev, e) < 0)
        goto out;
    rc = 0;
out:
    ev_free(&ev);
    return rc;
}

static const wx_kind wx_kinds[] = {
    {"subscribe_msg_popup_event", "SubscribeMsgPopupEvent", wx_popup_item},
    {"subscribe_msg_change_event", "SubscribeMsgChangeEvent", wx_change_item},
    {"subscribe_msg_sent_event", "SubscribeMsgSentEvent", wx_sent_item},
};

/* The items: a top-level List, else the wrapper — {"List": …}, an array, or one item.
 * A List is an object for one item and an array for several. */
static int wx_items(json_t *root, const wx_kind *k, const cb_event *head, cb_list *l,
                    cherr *e)
{
    char name[96];
    json_t *list = json_object_get(root, "List");
    snprintf(name, sizeof name, "List");
    if (!list) {
        json_t *w = json_object_get(root, k->wrapper);
        if (!w)
            return err_set(e, "List: missing (nor %s)", k->wrapper);
        if (json_is_object(w) && json_object_get(w, "List")) {
            list = json_object_get(w, "List");
            snprintf(name, sizeof name, "%s.List", k->wrapper);
        } else {
            list = w;
            fs_copy(name, sizeof name, k->wrapper);
        }
    }
    if (json_is_object(list)) {
        if (k->item(list, name, head, l, e) < 0)
            return -1;
        l->items++;
        return 0;
    }
    if (!json_is_array(list))
        return err_set(e, "%s: expected an object or an array", name);
    if (!json_array_size(list))
        return err_set(e, "%s: empty", name);
    for (size_t i = 0; i < json_array_size(list); i++) {
        char base[128];
        snprintf(base, sizeof base, "%s[%zu]", name, i);
        json_t *o = json_array_get(list, i);
        if (!json_is_object(o))
            return err_set(e, "%s: expected an object", base);
        if (k->item(o, base, head, l, e) < 0)
            return -1;
        l->items++;
    }
    return 0;
}

/* OA template message: success -> delivered; failed:user block -> failed + optout;
 * failed: system failed (or any other failed…) -> failed. */
static int wx_job_finish(json_t *root, const cb_event *head, cb_list *l, cherr *e)
{
    cb_event ev;
    if (head_copy(head, &ev, e) < 0)
        return -1;
    ev.channel = "oa_template";
    int rc = -1, block = 0;
    if (get_text(root, "", "MsgID", F_REQ | F_NUM, &ev.provider_msg_id, e) < 0 ||
        get_text(root, "", "Status", F_REQ, &ev.code, e) < 0)
        goto out;
    if (!all_digits(ev.provider_msg_id, 1, 24)) {
        err_set(e, "MsgID: expected digits, got '%.40s'", ev.provider_msg_id);
        goto out;
    }
    if (!strcmp(ev.code, "success")) {
        ev.kind = CB_DELIVERED;
    } else if (!strncmp(ev.code, "failed", 6)) {
        const char *why = ev.code + 6;
        why += *why == ':';
        while (*why == ' ')
            why++;
        ev.kind = CB_FAILED;
        block = !strcmp(why, "user block");
        if (!(ev.text = strdup(why))) {
            err_set(e, "out of memory");
            goto out;
        }
    } else {
        err_set(e, "Status: expected success or failed:…, got '%.40s'", ev.code);
        goto out;
    }
    if (push(l, &ev, e) < 0 || (block && push_copy(l, &l->v[l->n - 1], CB_OPTOUT, e) < 0))
        goto out;
    l->items++;
    rc = 0;
out:
    ev_free(&ev);
    return rc;
}

static int wechat(json_t *root, cb_list *l, cherr *e)
{
    if (!json_is_object(root))
        return err_set(e, "body: expected an object");
    cb_event head = {0};
    char *event = NULL, *when = NULL;
    int rc = -1;
    if (get_text(root, "", "Event", 0, &event, e) < 0)
        return -1;
    if (!event && json_object_get(root, "Encrypt"))
        return err_set(e, "Encrypt: an encrypted push (安全模式) cannot be read: set the "
                          "message encryption mode to plaintext (明文模式) or compatible (兼容模式)");
    if (!event)
        return 0;               /* a user message, not an event: nothing for chuda */
    fs_copy(l->event, sizeof l->event, event);
    const wx_kind *k = NULL;
    for (size_t i = 0; i < sizeof wx_kinds / sizeof wx_kinds[0]; i++)
        if (!strcmp(event, wx_kinds[i].event))
            k = &wx_kinds[i];
    if (!k && strcmp(event, "TEMPLATESENDJOBFINISH")) {
        free(event);
        return 0;               /* subscribe, unsubscribe, view, ...: not ours */
    }
    if (get_text(root, "", "FromUserName", F_REQ, &head.openid, e) < 0 ||
        get_text(root, "", "ToUserName", 0, &head.account, e) < 0 ||
        get_text(root, "", "CreateTime", F_NUM, &when, e) < 0 ||
        (when && unix_seconds(when, "CreateTime", &head.at_ms, e) < 0))
        goto out;
    if (!head.openid[0]) {
        err_set(e, "FromUserName: empty");
        goto out;
    }
    rc = k ? wx_items(root, k, &head, l, e) : wx_job_finish(root, &head, l, e);
out:
    ev_free(&head);
    free(event);
    free(when);
    return rc;
}

/* ---- XML, WeChat's default: turned into the JSON form ---------------------------------- */

#ifdef CHUDA_WITH_EXPAT
/* Each element becomes a member of its parent: its text when it has no child elements,
 * else an object of its children; a name seen twice becomes an array (so one <List> is
 * an object and several are an array, as in the JSON form). Attributes are ignored;
 * a DOCTYPE (and with it every entity) is refused. */
typedef struct xframe {
    char *name;
    json_t *obj;                /* NULL until a child element appears */
    buf text;
} xframe;

typedef struct xconv {
    XML_Parser p;
    xframe st[CB_XML_DEPTH];
    int depth;
    json_t *root;
    char err[160];
} xconv;

static void x_fail(xconv *x, const char *msg)
{
    if (!x->err[0])
        fs_copy(x->err, sizeof x->err, msg);
    XML_StopParser(x->p, XML_FALSE);
}

/* An element's name for a message: at most 60 bytes, not cut inside a character. */
static const char *x_name(const char *name, char out[64])
{
    size_t n = strlen(name);
    if (n > 60)
        for (n = 60; n && ((unsigned char)name[n] & 0xC0) == 0x80; n--)
            ;
    memcpy(out, name, n);
    out[n] = '\0';
    return out;
}

static void XMLCALL x_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    xconv *x = ud;
    (void)attrs;
    if (x->err[0])
        return;
    if (x->depth == CB_XML_DEPTH) {
        char msg[120], nm[64];
        snprintf(msg, sizeof msg, "XML <%s>: nested too deep (at most %d levels)",
                 x_name(name, nm), CB_XML_DEPTH);
        x_fail(x, msg);
        return;
    }
    if (x->depth && !x->st[x->depth - 1].obj && !(x->st[x->depth - 1].obj = json_object())) {
        x_fail(x, "out of memory");
        return;
    }
    xframe *f = &x->st[x->depth++];
    *f = (xframe){.name = strdup(name)};
    if (!f->name)
        x_fail(x, "out of memory");
}

static void XMLCALL x_text(void *ud, const XML_Char *s, int len)
{
    xconv *x = ud;
    if (x->err[0] || !x->depth)
        return;
    xframe *f = &x->st[x->depth - 1];
    if (f->obj)
        return;                 /* whitespace between child elements */
    if (f->text.len + (size_t)len > CB_MAX_FIELD) {
        char msg[120], nm[64];
        snprintf(msg, sizeof msg, "XML <%s>: text longer than %d bytes", x_name(f->name, nm),
                 CB_MAX_FIELD);
        x_fail(x, msg);
        return;
    }
    if (buf_add(&f->text, s, (size_t)len) < 0)
        x_fail(x, "out of memory");
}

static int x_member(json_t *parent, const char *name, json_t *v)
{
    json_t *old = json_object_get(parent, name);
    if (!old)
        return json_object_set_new(parent, name, v);
    if (json_is_array(old))
        return json_array_append_new(old, v);
    json_t *arr = json_array();
    if (!arr) {
        json_decref(v);
        return -1;
    }
    if (json_array_append(arr, old) < 0 || json_array_append_new(arr, v) < 0) {
        json_decref(arr);
        return -1;
    }
    return json_object_set_new(parent, name, arr);
}

static void x_frame_free(xframe *f)
{
    free(f->name);
    json_decref(f->obj);
    buf_free(&f->text);
}

static void XMLCALL x_end(void *ud, const XML_Char *name)
{
    xconv *x = ud;
    (void)name;
    if (x->err[0] || !x->depth)
        return;
    xframe *f = &x->st[--x->depth];
    json_t *v = f->obj ? json_incref(f->obj)
                       : json_stringn(f->text.s ? f->text.s : "", f->text.len);
    if (!v) {
        x_frame_free(f);
        x_fail(x, "XML text is not UTF-8");
        return;
    }
    if (x->depth == 0) {
        json_decref(x->root);
        x->root = json_is_object(v) ? v : (json_decref(v), json_object());
    } else if (x_member(x->st[x->depth - 1].obj, f->name, v) < 0) {
        x_fail(x, "out of memory");
    }
    x_frame_free(f);
}

static void XMLCALL x_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                              const XML_Char *pubid, int internal)
{
    (void)name, (void)sysid, (void)pubid, (void)internal;
    x_fail(ud, "XML DOCTYPE not allowed");
}

static json_t *xml_to_json(const char *body, size_t len, cherr *e)
{
    xconv x = {0};
    if (!(x.p = XML_ParserCreate("UTF-8"))) {
        err_set(e, "out of memory");
        return NULL;
    }
    XML_SetUserData(x.p, &x);
    XML_SetElementHandler(x.p, x_start, x_end);
    XML_SetCharacterDataHandler(x.p, x_text);
    XML_SetStartDoctypeDeclHandler(x.p, x_doctype);
    int ok = XML_Parse(x.p, body, (int)len, 1) == XML_STATUS_OK;
    if (!ok && !x.err[0])
        snprintf(x.err, sizeof x.err, "not XML: %s at line %lu",
                 XML_ErrorString(XML_GetErrorCode(x.p)),
                 (unsigned long)XML_GetCurrentLineNumber(x.p));
    while (x.depth)
        x_frame_free(&x.st[--x.depth]);
    XML_ParserFree(x.p);
    if (x.err[0] || !x.root) {
        json_decref(x.root);
        err_set(e, "body: %s", x.err[0] ? x.err : "no root element");
        return NULL;
    }
    return x.root;
}
#else
static json_t *xml_to_json(const char *body, size_t len, cherr *e)
{
    (void)body, (void)len;
    err_set(e, "body: XML pushes need chuda built with expat (CHUDA_WITH_EXPAT); "
               "set the push format to JSON");
    return NULL;
}
#endif

/* ---- entry points ------------------------------------------------------------------ */

int cb_parse(cb_provider p, const char *body, size_t len, cb_list *out, cherr *e)
{
    static const char *const what[] = {"tencent status", "tencent reply", "aliyun report",
                                       "wechat"};
    if ((unsigned)p >= sizeof what / sizeof what[0])
        return err_set(e, "callback: unknown provider %d", (int)p);
    if (!body || !len)
        return err_set(e, "%s: body: empty", what[p]);
    if (len > CB_MAX_BODY)
        return err_set(e, "%s: body: %zu bytes, at most %d", what[p], len, CB_MAX_BODY);
    size_t lead = 0;
    while (lead < len && isspace((unsigned char)body[lead]))
        lead++;
    json_t *root;
    if (p == CB_WECHAT && lead < len && body[lead] == '<') {
        if (!(root = xml_to_json(body, len, e)))
            return err_prefix(e, "%s: ", what[p]);
    } else {
        json_error_t je;
        if (!(root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je)))
            return err_set(e, "%s: body: not JSON: %s (line %d, column %d)", what[p], je.text,
                           je.line, je.column);
    }
    cb_list l = {0};
    int rc;
    switch (p) {
    case CB_TENCENT_STATUS: rc = tencent_status(root, &l, e); break;
    case CB_TENCENT_REPLY:  rc = tencent_reply(root, &l, e); break;
    case CB_ALIYUN_REPORT:  rc = aliyun_report(root, &l, e); break;
    default:                rc = wechat(root, &l, e); break;
    }
    json_decref(root);
    if (rc == 0 && out->n + l.n > out->cap) {
        cb_event *v = realloc(out->v, (out->n + l.n) * sizeof *v);
        if (!v)
            rc = err_set(e, "out of memory");
        else
            out->v = v, out->cap = out->n + l.n;
    }
    if (rc < 0) {
        cb_list_free(&l);
        return err_prefix(e, "%s: ", what[p]);
    }
    if (l.n)
        memcpy(out->v + out->n, l.v, l.n * sizeof *l.v);
    out->n += l.n;
    out->items += l.items;
    memcpy(out->event, l.event, sizeof out->event);
    free(l.v);
    return 0;
}

cb_reply cb_reply_for(cb_provider p, cb_ack ack)
{
    static const char *const json = "application/json; charset=utf-8";
    static const char *const text = "text/plain; charset=utf-8";
    static const int status[] = {200, 400, 500};
    int s = (unsigned)ack < 3 ? status[ack] : 500;
    switch (p) {
    case CB_TENCENT_STATUS:
    case CB_TENCENT_REPLY:
        return (cb_reply){s, json, ack == CB_ACK_OK ? "{\"result\":0,\"errmsg\":\"OK\"}"
                                   : ack == CB_ACK_BAD ? "{\"result\":1,\"errmsg\":\"bad request\"}"
                                   : "{\"result\":1,\"errmsg\":\"try again later\"}"};
    case CB_ALIYUN_REPORT:
        return (cb_reply){s, json, ack == CB_ACK_OK ? "{\"code\":0,\"msg\":\"接收成功\"}"
                                   : ack == CB_ACK_BAD ? "{\"code\":1,\"msg\":\"bad request\"}"
                                   : "{\"code\":1,\"msg\":\"try again later\"}"};
    default:
        return (cb_reply){s, text, ack == CB_ACK_OK ? "success" : ""};
    }
}
