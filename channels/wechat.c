/* wechat.c — WeChat-family reply envelope, shared code tables, token replies. */
#include "wechat.h"

#include <stdio.h>
#include <string.h>

#include "timeutil.h"

/* getAccessToken / stable_token (providers.md §1.1, §1.2). */
const wx_code wx_token_codes[] = {
    {-1, CHAN_RETRY, 0, 0, "system busy"},
    {40001, CHAN_PERMANENT, 0, 0, "AppSecret wrong"},
    {40002, CHAN_PERMANENT, 0, 0, "invalid grant_type"},
    {40013, CHAN_PERMANENT, 0, 0, "invalid appid"},
    {40125, CHAN_PERMANENT, 0, 0, "invalid appsecret"},
    {40164, CHAN_PERMANENT, 0, 0, "caller IP not in the whitelist"},
    {40243, CHAN_PERMANENT, 0, 0, "AppSecret frozen"},
    {41004, CHAN_PERMANENT, 0, 0, "secret missing"},
    {50004, CHAN_PERMANENT, 0, 0, "token API forbidden for this account"},
    {50007, CHAN_PERMANENT, 0, 0, "account frozen"},
    {45009, CHAN_BACKOFF, 0, -1, "daily token quota reached"},
    {45011, CHAN_BACKOFF, 0, 60 * TU_SEC, "minute token quota reached"},
    {0, 0, 0, 0, NULL},
};

/* Codes every WeChat business API shares (§1, §9 "WeChat business (any)"). */
static const wx_code common_codes[] = {
    {-1, CHAN_RETRY, 0, 0, "system busy"},
    {40001, CHAN_REFRESH, 0, 0, "access_token invalid or not latest"},
    {40014, CHAN_REFRESH, 0, 0, "invalid access_token"},
    {41001, CHAN_REFRESH, 0, 0, "access_token missing"},
    {42001, CHAN_REFRESH, 0, 0, "access_token expired"},
    {45009, CHAN_BACKOFF, 0, -1, "daily quota reached"},
    {48001, CHAN_PERMANENT, 0, 0, "api unauthorized"},
    {0, 0, 0, 0, NULL},
};

int64_t wx_next_day(int64_t now)
{
    int64_t local = now + 8 * TU_HOUR;
    return (local / TU_DAY + 1) * TU_DAY - 8 * TU_HOUR;
}

void wx_errmsg_clean(const char *in, char *out, size_t len)
{
    snprintf(out, len, "%s", in ? in : "");
    char *cut = strstr(out, " rid:");
    if (!cut)
        cut = strstr(out, " hint:");
    if (!cut)
        cut = strstr(out, ", rid:");
    if (cut)
        *cut = '\0';
}

int wx_parse(const http_resp *r, json_t **root, long *errcode, chan_outcome *o)
{
    *root = NULL;
    if (chan_transport_outcome(r, o))
        return -1;
    json_error_t je;
    json_t *j = json_loadb(r->body, r->body_len, 0, &je);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        /* a 200 with a broken body: the provider may have acted on it */
        chan_outcome_set(o, CHAN_RETRY, "bad reply", "provider reply is not a JSON object "
                         "(%zu bytes)", r->body_len);
        o->uncertain = 1;
        return -1;
    }
    json_t *ec = json_object_get(j, "errcode");
    *errcode = json_is_integer(ec) ? (long)json_integer_value(ec) : 0;
    if (ec && !json_is_integer(ec)) {
        json_decref(j);
        chan_outcome_set(o, CHAN_RETRY, "bad reply", "provider reply has a non-integer errcode");
        o->uncertain = 1;
        return -1;
    }
    *root = j;
    return 0;
}

static const wx_code *find(const wx_code *t, long code)
{
    for (; t && t->meaning; t++)
        if (t->errcode == code)
            return t;
    return NULL;
}

void wx_classify(long errcode, const char *errmsg, const wx_code *table, int64_t now,
                 chan_outcome *o)
{
    char code[24], msg[200];
    snprintf(code, sizeof code, "%ld", errcode);
    wx_errmsg_clean(errmsg, msg, sizeof msg);
    if (errcode == 0) {
        chan_outcome_set(o, CHAN_OK, "0", "ok");
        return;
    }
    const wx_code *row = find(table, errcode);
    if (!row)
        row = find(common_codes, errcode);
    if (!row) {
        /* an errcode nobody documented: do not retry blindly, do not lose it */
        chan_outcome_set(o, CHAN_PERMANENT, code, "unknown errcode %ld: %s", errcode, msg);
        return;
    }
    chan_outcome_set(o, row->cls, code, "%s (%s)", row->meaning, msg);
    o->recipient = row->recipient;
    if (row->cls == CHAN_BACKOFF)
        o->until = row->backoff_ms < 0 ? wx_next_day(now) : now + row->backoff_ms;
}

int wx_token_parse(const http_resp *r, const wx_code *table, char *token, size_t toklen,
                   int64_t *ttl_ms, chan_outcome *o)
{
    json_t *j;
    long errcode;
    if (wx_parse(r, &j, &errcode, o) < 0) {
        o->uncertain = 0;    /* asking for a token twice is harmless */
        return -1;
    }
    json_t *tok = json_object_get(j, "access_token");
    json_t *exp = json_object_get(j, "expires_in");
    if (errcode == 0 && json_is_string(tok) && json_string_length(tok) > 0 &&
        json_string_length(tok) < toklen) {
        snprintf(token, toklen, "%s", json_string_value(tok));
        long long ttl = json_is_integer(exp) ? json_integer_value(exp) : 7200;
        if (ttl <= 0)
            ttl = 1;
        *ttl_ms = ttl * TU_SEC;
        chan_outcome_set(o, CHAN_OK, "0", "token issued");
        json_decref(j);
        return 0;
    }
    if (errcode == 0)
        chan_outcome_set(o, CHAN_RETRY, "bad reply", "token reply without a usable access_token");
    else
        wx_classify(errcode, json_string_value(json_object_get(j, "errmsg")), table,
                    tu_now(), o);
    json_decref(j);
    return -1;
}
