/* sms_aliyun.c - the fake Aliyun SMS SendSms (see sms_aliyun.h;
 * providers.md 6).
 *
 * Parameters come from the query string and, for POST, the form body.
 * Gateway checks answer HTTP 400/404 with {"RequestId","HostId","Code",
 * "Message"}: missing parameters, unknown AccessKeyId, timestamp skew,
 * signature (recomputed with sign_aliyun over every parameter except
 * Signature, with the request's own method), nonce reuse.  Business
 * results are HTTP 200 with "Code".  Format=JSON answers JSON, anything
 * else the minimal XML form.
 *
 * Blacklisted numbers: accepted with "OK" at send time (as the real
 * service does for numbers that opted out by replying T/R), not
 * delivered, and their SmsReport says success=false with the account's
 * blacklist_err_code (default "DB:0141"). */
#include "sms_aliyun.h"
#include "callback.h"
#include "map.h"

#include "sign.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct number {
    struct su_win minute, hour;
    int64_t day;
    long day_n;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const struct scfg *cfg_;
static struct smap numbers;       /* key id,+E164 -> struct number */
static struct smap nonces;        /* key id,nonce -> int64_t first use */
static uint64_t biz_seq;

static void number_free(void *v)
{
    struct number *n = v;
    su_win_free(&n->minute);
    su_win_free(&n->hour);
    free(n);
}

void alisim_init(const struct scfg *cfg)
{
    cfg_ = cfg;
    smap_init(&numbers, number_free);
    smap_init(&nonces, free);
    biz_seq = su_rand_id() % 1000000000ULL;
}

void alisim_shutdown(void)
{
    smap_free(&numbers);
    smap_free(&nonces);
}

void alisim_reset(void)
{
    pthread_mutex_lock(&lock);
    smap_clear(&numbers);
    smap_clear(&nonces);
    pthread_mutex_unlock(&lock);
}

/* ---- parameters and replies ---------------------------------------------------- */

struct params {
    struct su_kv *kv;
    size_t n;
};

static void params_load(struct sim_req *r, struct params *p)
{
    p->kv = NULL;
    p->n = 0;
    su_parse_query(r->query, strlen(r->query), &p->kv, &p->n);
    if (!strcmp(r->method, "POST") && r->body.len)
        su_parse_query(r->body.p, r->body.len, &p->kv, &p->n);
}

static const char *param(const struct params *p, const char *name)
{
    return su_kv_get(p->kv, p->n, name);
}

static bool want_json(const struct params *p)
{
    const char *f = param(p, "Format");
    return f && !strcasecmp(f, "JSON");
}

static void xml_escape(struct su_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': su_buf_str(b, "&amp;"); break;
        case '<': su_buf_str(b, "&lt;"); break;
        case '>': su_buf_str(b, "&gt;"); break;
        case '"': su_buf_str(b, "&quot;"); break;
        default: su_buf_add(b, s, 1);
        }
    }
}

/* Reply with a flat object {k1:v1, k2:v2, ...} (NULL-terminated pairs) as
 * JSON or as <root><k1>v1</k1>...</root>. */
static void reply_flat(struct sim_req *r, const struct params *p,
                       unsigned status, const char *root,
                       const char *const *kv)
{
    if (want_json(p)) {
        json_t *o = json_object();
        for (size_t i = 0; kv[i]; i += 2)
            json_object_set_new(o, kv[i], json_string(kv[i + 1]));
        sim_reply_json(r, status, o);
        r->ctype = "application/json;charset=utf-8";
        return;
    }
    struct su_buf b = {0};
    su_buf_printf(&b, "<?xml version='1.0' encoding='UTF-8'?><%s>", root);
    for (size_t i = 0; kv[i]; i += 2) {
        su_buf_printf(&b, "<%s>", kv[i]);
        xml_escape(&b, kv[i + 1]);
        su_buf_printf(&b, "</%s>", kv[i]);
    }
    su_buf_printf(&b, "</%s>", root);
    sim_reply(r, status, "text/xml;charset=utf-8", b.p, b.len);
    su_buf_free(&b);
}

static void request_id(char out[37])
{
    su_uuid(out);
    for (char *c = out; *c; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char)(*c - 'a' + 'A');
}

/* HTTP status of gateway-level codes; business codes are 200. */
static unsigned code_status(const char *code)
{
    if (!strcmp(code, "InvalidAccessKeyId.NotFound") ||
        !strcmp(code, "InvalidAction.NotFound"))
        return 404;
    if (!strncmp(code, "isv.", 4) || !strncmp(code, "isp.", 4) ||
        !strcmp(code, "OK"))
        return 200;
    return 400;
}

static void reply_error(struct sim_req *r, const struct params *p,
                        const char *code, const char *msg)
{
    char rid[37];
    request_id(rid);
    unsigned status = code_status(code);
    if (status == 200) {
        const char *kv[] = {"Code", code, "Message", msg, "RequestId", rid,
                            NULL};
        reply_flat(r, p, status, "SendSmsResponse", kv);
    } else {
        const char *kv[] = {"RequestId", rid, "HostId",
                            "dysmsapi.aliyuncs.com", "Code", code, "Message",
                            msg, NULL};
        reply_flat(r, p, status, "Error", kv);
    }
    sim_outcome(r, "%s", code);
}

void alisim_reply_error(struct sim_req *r, const char *code, const char *msg)
{
    struct params p;
    params_load(r, &p);
    reply_error(r, &p, code, msg);
    su_kv_free(p.kv, p.n);
}

/* ---- gateway checks ----------------------------------------------------------------- */

static bool parse_timestamp(const char *s, int64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
    if (!end || *end)
        return false;
    *out = (int64_t)timegm(&tm);
    return true;
}

static bool old_nonce(const char *key, void *val, void *arg)
{
    (void)key;
    return *(int64_t *)val < *(int64_t *)arg;
}

/* Returns the account, or NULL after replying. */
static const struct scfg_aliyun *authenticate(struct sim_req *r,
                                              const struct params *p)
{
    static const char *const required[] = {
        "AccessKeyId", "SignatureMethod", "SignatureNonce",
        "SignatureVersion", "Timestamp", "Version", "Signature", NULL
    };
    char msg[1200];
    for (size_t i = 0; required[i]; i++)
        if (!param(p, required[i]) || !*param(p, required[i])) {
            snprintf(msg, sizeof msg, "The input parameter \"%s\" that is "
                     "mandatory for processing this request is not supplied.",
                     required[i]);
            reply_error(r, p, "MissingParameter", msg);
            return NULL;
        }
    if (strcmp(param(p, "Action"), "SendSms") != 0) {
        snprintf(msg, sizeof msg, "Specified api is not found, please check "
                 "your url and method. (%s)", param(p, "Action"));
        reply_error(r, p, "InvalidAction.NotFound", msg);
        return NULL;
    }
    if (strcmp(param(p, "Version"), "2017-05-25") != 0) {
        reply_error(r, p, "InvalidVersion", "Specified parameter Version is "
                    "not valid.");
        return NULL;
    }
    if (strcmp(param(p, "SignatureMethod"), "HMAC-SHA1") != 0 ||
        strcmp(param(p, "SignatureVersion"), "1.0") != 0) {
        reply_error(r, p, "InvalidSignatureMethod", "chuda-sim supports "
                    "SignatureMethod HMAC-SHA1, SignatureVersion 1.0.");
        return NULL;
    }
    const struct scfg_aliyun *a = scfg_aliyun_find(cfg_,
                                                   param(p, "AccessKeyId"));
    if (!a) {
        reply_error(r, p, "InvalidAccessKeyId.NotFound",
                    "Specified access key is not found.");
        return NULL;
    }
    int64_t ts;
    if (!parse_timestamp(param(p, "Timestamp"), &ts)) {
        reply_error(r, p, "InvalidTimeStamp.Format", "Specified time stamp "
                    "or date value is not well formatted.");
        return NULL;
    }
    int64_t now = r->at_ms / 1000;
    if (ts > now + cfg_->aliyun_max_skew || ts < now - cfg_->aliyun_max_skew) {
        reply_error(r, p, "InvalidTimeStamp.Expired", "Specified time stamp "
                    "or date value is expired.");
        return NULL;
    }

    /* signature over every parameter but Signature itself */
    struct sign_param *sp = su_xcalloc(p->n, sizeof *sp);
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->kv[i].name, "Signature") != 0) {
            sp[n].name = p->kv[i].name;
            sp[n].value = p->kv[i].value;
            n++;
        }
    char sig[SIGN_ALIYUN_SIG_MAX];
    int rc = sign_aliyun(r->method, a->secret, sp, n, sig, sizeof sig);
    if (rc != SIGN_OK || strcmp(sig, param(p, "Signature")) != 0) {
        char *canon = NULL, *sts = NULL;
        if (sign_aliyun_canonical(sp, n, &canon) == SIGN_OK)
            sign_aliyun_string_to_sign(r->method, canon, &sts);
        snprintf(msg, sizeof msg, "Specified signature is not matched with "
                 "our calculation. server string to sign is:%s",
                 sts ? sts : "?");
        free(canon);
        free(sts);
        free(sp);
        reply_error(r, p, "SignatureDoesNotMatch", msg);
        return NULL;
    }
    free(sp);

    /* nonce: once per access key within the skew window */
    char k[512];
    snprintf(k, sizeof k, "%s\x1f%s", a->access_key_id,
             param(p, "SignatureNonce"));
    pthread_mutex_lock(&lock);
    bool used = smap_get(&nonces, k) != NULL;
    if (!used) {
        if (smap_count(&nonces) > 100000) {
            int64_t cutoff = r->at_ms - 2 * cfg_->aliyun_max_skew * 1000;
            smap_filter(&nonces, old_nonce, &cutoff);
        }
        int64_t *t = su_xmalloc(sizeof *t);
        *t = r->at_ms;
        smap_put(&nonces, k, t);
    }
    pthread_mutex_unlock(&lock);
    if (used) {
        reply_error(r, p, "SignatureNonceUsed", "Specified signature nonce "
                    "was used already.");
        return NULL;
    }
    return a;
}

/* ---- SendSms -------------------------------------------------------------------------- */

/* The window state of one number of an account. */
static struct number *number_state(const struct scfg_aliyun *a,
                                   const char *e164, int64_t now)
{
    char k[256];
    snprintf(k, sizeof k, "%s\x1f%s", a->access_key_id, e164);
    struct number *n = smap_get(&numbers, k);
    if (!n) {
        n = su_xcalloc(1, sizeof *n);
        smap_put(&numbers, k, n);
    }
    int64_t day = su_beijing_day(now);
    if (n->day != day)
        n->day = day, n->day_n = 0;
    return n;
}

/* Per-number flow control, all or nothing: if any number is over a limit
 * nothing is counted and msg says which window; else every number is
 * counted.  Returns 0 when the send may go. */
static int flow_control(const struct scfg_aliyun *a, char (*e164)[32],
                        size_t count, int64_t now, char *msg, size_t msgsz)
{
    int rc = 0;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < count && !rc; i++) {
        struct number *n = number_state(a, e164[i], now);
        rc = -1;
        if (su_win_count(&n->minute, now, 60000) >=
            (size_t)a->per_number_minute)
            snprintf(msg, msgsz, "触发分钟级流控Permits:%ld",
                     a->per_number_minute);
        else if (a->per_number_hour &&
                 su_win_count(&n->hour, now, 3600000) >=
                     (size_t)a->per_number_hour)
            snprintf(msg, msgsz, "触发小时级流控Permits:%ld",
                     a->per_number_hour);
        else if (n->day_n >= a->per_number_daily)
            snprintf(msg, msgsz, "触发天级流控Permits:%ld",
                     a->per_number_daily);
        else
            rc = 0;
    }
    for (size_t i = 0; i < count && !rc; i++) {
        struct number *n = number_state(a, e164[i], now);
        su_win_add(&n->minute, now);
        if (a->per_number_hour)
            su_win_add(&n->hour, now);
        n->day_n++;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

/* PhoneNumbers -> E.164 array (malloc'd); returns an error code or NULL. */
static const char *parse_numbers(const char *text, char (**out)[32],
                                 size_t *count)
{
    char *list = su_strdup(text), *save = NULL;
    char (*e164)[32] = NULL;
    const char *code = NULL;
    size_t n = 0;
    for (char *t = strtok_r(list, ",", &save); t && !code;
         t = strtok_r(NULL, ",", &save)) {
        char (*grown)[32] = n < 1000 ? realloc(e164, (n + 1) * sizeof *e164)
                                     : NULL;
        if (!grown)
            code = n < 1000 ? "isp.SYSTEM_ERROR" : "isv.MOBILE_COUNT_OVER_LIMIT";
        else if (!su_phone_normalize(t, (e164 = grown)[n], sizeof *e164))
            code = "isv.MOBILE_NUMBER_ILLEGAL";
        else
            n++;
    }
    free(list);
    if (!code && !n)
        code = "isv.MOBILE_NUMBER_ILLEGAL";
    *out = e164;
    *count = n;
    return code;
}

static const char *check_business(const struct scfg_aliyun *a,
                                  const struct params *p)
{
    const char *sign = param(p, "SignName");
    const char *tpl = param(p, "TemplateCode");
    const char *tp = param(p, "TemplateParam");
    if (!sign || !*sign || !su_list_has(&a->sign_names, sign))
        return "isv.SMS_SIGNATURE_ILLEGAL";
    if (!tpl || !*tpl || !su_list_has(&a->templates, tpl))
        return "isv.SMS_TEMPLATE_ILLEGAL";
    if (tp && *tp) {
        json_error_t e;
        json_t *j = json_loads(tp, 0, &e);
        bool ok = json_is_object(j);
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
            ok = ok && json_is_string(v);
        json_decref(j);
        if (!ok)
            return "isv.INVALID_JSON_PARAM";
    }
    return NULL;
}

static const char *const messages[][2] = {
    {"isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名"},
    {"isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板"},
    {"isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值"},
    {"isv.MOBILE_NUMBER_ILLEGAL", "非法手机号"},
    {"isv.MOBILE_COUNT_OVER_LIMIT", "手机号码数量超过限制"},
    {"isp.SYSTEM_ERROR", "系统错误"},
    {NULL, NULL}
};

static const char *message_of(const char *code)
{
    for (size_t i = 0; messages[i][0]; i++)
        if (!strcmp(messages[i][0], code))
            return messages[i][1];
    return code;
}

/* The number as Aliyun writes it: no "+86" for mainland, else no "+". */
static const char *local_number(const char *e164)
{
    return !strncmp(e164, "+86", 3) ? e164 + 3 : e164 + 1;
}

static json_t *sms_report(const struct scfg_aliyun *a, const char *e164,
                          bool ok, const char *biz_id, const char *out_id,
                          int64_t now)
{
    char when[20];
    su_beijing_time(now, when);
    return json_pack("{s:s,s:s,s:s,s:b,s:s,s:s,s:s,s:s,s:s}",
                     "phone_number", local_number(e164), "send_time", when,
                     "report_time", when, "success", ok,
                     "err_code", ok ? "DELIVERED" : a->blacklist_err_code,
                     "err_msg", ok ? "用户接收成功" : "黑名单",
                     "sms_size", "1", "biz_id", biz_id,
                     "out_id", out_id ? out_id : "");
}

static void send_sms(struct sim_req *r, const struct scfg_aliyun *a,
                     const struct params *p)
{
    static const char *const req[] = {"PhoneNumbers", "SignName",
                                      "TemplateCode", NULL};
    for (size_t i = 0; req[i]; i++)
        if (!param(p, req[i]) || !*param(p, req[i])) {
            char code[64], msg[128];
            snprintf(code, sizeof code, "Missing%s", req[i]);
            snprintf(msg, sizeof msg, "%s is mandatory for this action.",
                     req[i]);
            reply_error(r, p, code, msg);
            return;
        }
    const char *code = check_business(a, p);
    if (code) {
        reply_error(r, p, code, message_of(code));
        return;
    }

    char (*e164)[32] = NULL;
    size_t n = 0;
    char limit_msg[64];
    code = parse_numbers(param(p, "PhoneNumbers"), &e164, &n);
    if (!code && sim_busy(r))
        code = "isp.SYSTEM_ERROR";
    if (code) {
        free(e164);
        reply_error(r, p, code, message_of(code));
        return;
    }
    if (flow_control(a, e164, n, r->at_ms, limit_msg, sizeof limit_msg)) {
        free(e164);
        reply_error(r, p, "isv.BUSINESS_LIMIT_CONTROL", limit_msg);
        return;
    }
    pthread_mutex_lock(&lock);
    uint64_t seq = ++biz_seq;
    pthread_mutex_unlock(&lock);

    char biz[48], rid[37];
    snprintf(biz, sizeof biz, "%" PRIu64 "%06" PRIu64 "^0", seq,
             su_rand_id() % 1000000);
    request_id(rid);
    const char *kv[] = {"Code", "OK", "Message", "OK", "BizId", biz,
                        "RequestId", rid, NULL};
    reply_flat(r, p, 200, "SendSmsResponse", kv);
    sim_outcome(r, "OK");
    sim_record_set(r, "biz_id", json_string(biz));

    json_t *reports = scb_wanted("aliyun") ? json_array() : NULL;
    json_t *black = json_array();
    size_t delivered = 0;
    for (size_t i = 0; i < n; i++) {
        bool bl = su_list_has(&a->blacklist, e164[i]) ||
                  su_list_has(&a->blacklist, local_number(e164[i]));
        if (bl)
            json_array_append_new(black, json_string(e164[i]));
        else
            delivered++;
        if (reports)
            json_array_append_new(reports, sms_report(a, e164[i], !bl, biz,
                                                      param(p, "OutId"),
                                                      r->at_ms));
    }
    free(e164);
    r->delivered = delivered > 0;
    if (json_array_size(black))
        sim_record_set(r, "blacklisted", black);
    else
        json_decref(black);
    if (reports)
        scb_push("aliyun", reports);
}

void alisim_handle(struct sim_req *r)
{
    struct params p;
    params_load(r, &p);
    const struct scfg_aliyun *a = authenticate(r, &p);
    if (a)
        send_sms(r, a, &p);
    su_kv_free(p.kv, p.n);
}
