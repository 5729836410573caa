/* callback.h — what providers push to chuda, parsed into normalised events.
 *
 * Pure parsers (no I/O, no clock, no store) for the receipts and events of
 * providers.md §5.5, §6.4 and §7, and the exact replies each provider expects.
 * The HTTP API hands a request body to cb_parse() and applies the events it gets
 * (log `delivered`/`failed`, opt-outs, credits); handlers must be idempotent, since
 * every provider re-pushes.
 *
 *   CB_TENCENT_STATUS  Tencent SMS status callback: JSON array of
 *                      {report_status SUCCESS|FAIL, sid, mobile, nationcode,
 *                       user_receive_time "YYYY-MM-DD HH:MM:SS" (China time), errmsg,
 *                       description, SessionContext (not documented for the callback,
 *                       taken as `ref` when present)}
 *                       -> delivered / failed (+ optout on a blacklist)
 *   CB_TENCENT_REPLY   Tencent SMS reply callback: JSON object {mobile, nationcode, text,
 *                      sign, time (unix s)}: a text of TD, T, N, R or 退订 (trimmed,
 *                      upper-cased, full-width letters folded) -> optout; any other reply
 *                      is parsed and counted in `items` but yields no event
 *   CB_ALIYUN_REPORT   Aliyun SmsReport: JSON array of {success bool, biz_id, out_id,
 *                      phone_number, err_code, err_msg, report_time (China time)}
 *                      -> delivered / failed (+ optout on a blacklist)
 *   CB_WECHAT          WeChat server push, JSON or XML (XML when the body starts with
 *                      '<'; needs chuda built with CHUDA_WITH_EXPAT):
 *                      subscribe_msg_popup_event accept/acceptWithAudio -> credit
 *                        (reject, ban, filter -> nothing);
 *                      subscribe_msg_change_event reject -> credit_zero;
 *                      subscribe_msg_sent_event ErrorCode 0 -> delivered, else failed;
 *                      TEMPLATESENDJOBFINISH Status success -> delivered,
 *                        "failed:user block" -> failed + optout (oa_template),
 *                        "failed: system failed" / "failed:system failed" (any other
 *                        "failed…") -> failed.
 *                      The items may sit in a top-level `List` or in the event's wrapper
 *                      (`SubscribeMsgPopupEvent`: {"List": …}, an array or one item);
 *                      `List` is an object for one item and an array for several;
 *                      CreateTime, MsgID, ErrorCode may be numbers or strings. Other
 *                      events and messages are not errors: they yield no event. An
 *                      encrypted push (only `Encrypt`, 安全模式) is an error: chuda reads
 *                      plaintext or compatible-mode pushes.
 *
 * "Blacklist" (local policy, providers.md §9): a failed SMS receipt whose code is
 * DB:0141 or whose text mentions 黑名单 / blacklist also yields an optout. An optout
 * that comes with a receipt (this, and OA "failed:user block") follows its CB_FAILED
 * directly and carries the same provider_msg_id; a reply's optout has none.
 *
 * Bad input — over CB_MAX_BODY, not JSON (or XML), a wrong type, a missing field, a
 * field over CB_MAX_FIELD bytes — fails the whole body with an error naming the field
 * ("tencent status: [2].report_status: expected SUCCESS or FAIL"); the list is then
 * empty. */
#ifndef CHUDA_CALLBACK_H
#define CHUDA_CALLBACK_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define CB_MAX_BODY  (1024 * 1024)
#define CB_MAX_FIELD 2048

typedef enum cb_provider {
    CB_TENCENT_STATUS,
    CB_TENCENT_REPLY,
    CB_ALIYUN_REPORT,
    CB_WECHAT,
} cb_provider;

typedef enum cb_kind {
    CB_DELIVERED,       /* the provider says the message reached the user */
    CB_FAILED,          /* ... says it did not */
    CB_OPTOUT,          /* the user refused the channel (SMS: the number; OA: user block) */
    CB_CREDIT,          /* one more mini-program subscription credit (openid, template) */
    CB_CREDIT_ZERO,     /* the user turned the template off: credits to zero */
} cb_kind;

/* One normalised event. Strings are malloc'd (owned by the list) or NULL when the
 * provider did not say. */
typedef struct cb_event {
    cb_kind kind;
    const char *channel;        /* "sms", "mp_subscribe" or "oa_template" (static) */
    char *provider_msg_id;      /* Tencent sid (= SerialNo), Aliyun biz_id, WeChat MsgID */
    char *ref;                  /* Aliyun out_id, Tencent SessionContext: what chuda sent
                                   with the message (its id) */
    char *phone;                /* E.164, "+8613800000000" (a masked number stays as sent) */
    char *openid;               /* WeChat FromUserName */
    char *account;              /* WeChat ToUserName; SMS replies: the signature (sign) */
    char *template_id;          /* WeChat TemplateId */
    char *code;                 /* carrier status, err_code, ErrorCode, Status, "reply" */
    char *text;                 /* description, err_msg, ErrorStatus, the reply's text */
    int64_t at_ms;              /* when it happened, UTC ms; 0: not said */
} cb_event;

typedef struct cb_list {
    cb_event *v;
    size_t n, cap;
    size_t items;               /* items parsed, with or without an event */
    char event[64];             /* WeChat: the Event ("" when none); others: "" */
} cb_list;

/* Parse one pushed body into `out` (appended; cb_list_free it). 0 or -1. */
int cb_parse(cb_provider p, const char *body, size_t len, cb_list *out, cherr *e);

void cb_list_free(cb_list *l);

/* "delivered", "failed", "optout", "credit", "credit_zero" */
const char *cb_kind_name(cb_kind k);

/* "tencent_status", "tencent_reply", "aliyun_report", "wechat" */
const char *cb_provider_name(cb_provider p);

/* What to answer the provider. CB_ACK_OK: the body was taken; CB_ACK_BAD: the body is
 * malformed (4xx: a re-push will not help); CB_ACK_RETRY: chuda could not store it
 * now (5xx: the provider re-pushes). */
typedef enum cb_ack { CB_ACK_OK, CB_ACK_BAD, CB_ACK_RETRY } cb_ack;

typedef struct cb_reply {
    int status;                 /* HTTP status */
    const char *content_type;
    const char *body;           /* Tencent {"result":0,"errmsg":"OK"}, Aliyun
                                   {"code":0,"msg":"接收成功"}, WeChat "success" */
} cb_reply;

cb_reply cb_reply_for(cb_provider p, cb_ack ack);

#endif
