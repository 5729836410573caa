/* control.c - /_sim/ endpoints (see control.h and sim/README.md). */
#include "control.h"
#include "fault.h"
#include "record.h"
#include "sms_aliyun.h"
#include "sms_tencent.h"
#include "wechat.h"
#include "wecom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ok(struct sim_req *r, json_t *extra)
{
    json_t *o = json_object();
    json_object_set_new(o, "ok", json_true());
    if (extra)
        json_object_update(o, extra);
    json_decref(extra);
    sim_reply_json(r, 200, o);
}

static void fail(struct sim_req *r, unsigned status, const char *why)
{
    json_t *o = json_object();
    json_object_set_new(o, "ok", json_false());
    json_object_set_new(o, "error", json_string(why));
    sim_reply_json(r, status, o);
}

static json_t *body_json(struct sim_req *r, bool allow_empty)
{
    json_error_t e;
    if (allow_empty && r->body.len == 0)
        return json_object();
    json_t *j = json_loadb(r->body.p ? r->body.p : "", r->body.len, 0, &e);
    if (!j) {
        char msg[300];
        snprintf(msg, sizeof msg, "bad JSON body: %s", e.text);
        fail(r, 400, msg);
    }
    return j;
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s && *s ? s : NULL;
}

static void do_fault(struct sim_req *r)
{
    if (!strcmp(r->method, "GET")) {
        ok(r, json_pack("{s:o}", "faults", sflt_pending()));
        return;
    }
    if (!strcmp(r->method, "DELETE")) {
        sflt_clear();
        ok(r, NULL);
        return;
    }
    json_t *j = body_json(r, false);
    if (!j)
        return;
    char err[200];
    size_t n = 0;
    if (json_is_array(j)) {
        json_t *v;
        size_t i;
        json_array_foreach(j, i, v) {
            if (sflt_add(v, err, sizeof err) != 0) {
                char msg[260];
                snprintf(msg, sizeof msg, "fault %zu: %s (earlier ones queued)",
                         i, err);
                fail(r, 400, msg);
                json_decref(j);
                return;
            }
            n++;
        }
    } else if (sflt_add(j, err, sizeof err) != 0) {
        fail(r, 400, err);
        json_decref(j);
        return;
    } else {
        n = 1;
    }
    json_decref(j);
    ok(r, json_pack("{s:I}", "queued", (json_int_t)n));
}

static void do_credits(struct sim_req *r)
{
    if (!strcmp(r->method, "GET")) {
        const char *a = sim_req_arg(r, "appid"), *o = sim_req_arg(r, "openid"),
                   *t = sim_req_arg(r, "template_id");
        if (!a || !o || !t) {
            fail(r, 400, "need ?appid=&openid=&template_id=");
            return;
        }
        ok(r, json_pack("{s:I}", "n", (json_int_t)wxsim_get_credits(a, o, t)));
        return;
    }
    json_t *j = body_json(r, false);
    if (!j)
        return;
    json_t *n = json_object_get(j, "n");
    if (!str(j, "appid") || !str(j, "openid") || !str(j, "template_id") ||
        !json_is_integer(n) || json_integer_value(n) < 0)
        fail(r, 400, "need appid, openid, template_id (strings) and n >= 0");
    else if (wxsim_set_credits(str(j, "appid"), str(j, "openid"),
                            str(j, "template_id"),
                            (long)json_integer_value(n)) != 0)
        fail(r, 404, "unknown appid (no [wechat.APPID] section)");
    else
        ok(r, NULL);
    json_decref(j);
}

static void do_follow(struct sim_req *r)
{
    json_t *j = body_json(r, false);
    if (!j)
        return;
    json_t *f = json_object_get(j, "follow");
    if (!str(j, "appid") || !str(j, "openid") || !json_is_boolean(f))
        fail(r, 400, "need appid, openid and follow (true/false)");
    else if (wxsim_set_follow(str(j, "appid"), str(j, "openid"),
                           json_is_true(f)) != 0)
        fail(r, 404, "unknown appid (no [wechat.APPID] section)");
    else
        ok(r, NULL);
    json_decref(j);
}

static void do_expire(struct sim_req *r)
{
    json_t *j = body_json(r, true);
    if (!j)
        return;
    const char *id = str(j, "appid");
    if (!id)
        id = str(j, "corpid");
    int n = wxsim_expire_tokens(id) + wcsim_expire_tokens(id);
    json_decref(j);
    ok(r, json_pack("{s:i}", "expired", n));
}

static void do_requests(struct sim_req *r)
{
    const char *since = sim_req_arg(r, "since");
    const char *limit = sim_req_arg(r, "limit");
    char *text = srec_list(since ? strtoll(since, NULL, 10) : 0,
                           limit ? (size_t)strtoul(limit, NULL, 10) : 0,
                           sim_req_arg(r, "path"));
    sim_reply(r, 200, "application/json; charset=utf-8", text, strlen(text));
    free(text);
}

static void do_stats(struct sim_req *r)
{
    char *text = srec_stats();
    json_t *o = json_loads(text, 0, NULL);
    free(text);
    if (!json_is_object(o)) {
        json_decref(o);
        sim_reply(r, 500, "text/plain", "stats unavailable\n", 18);
        return;
    }
    /* replies held back by a delay fault, not yet recorded */
    json_object_set_new(o, "delayed", json_integer(sim_delayed_pending()));
    sim_reply_json(r, 200, o);
}

void sctl_handle(struct sim_req *r)
{
    const char *p = r->path + 5;   /* after "/_sim" */
    bool get = !strcmp(r->method, "GET");
    bool post = !strcmp(r->method, "POST");

    if (!strcmp(p, "/fault")) {
        do_fault(r);
    } else if (!strcmp(p, "/credits") && (get || post)) {
        do_credits(r);
    } else if (!strcmp(p, "/follow") && post) {
        do_follow(r);
    } else if (!strcmp(p, "/expire_tokens") && post) {
        do_expire(r);
    } else if (!strcmp(p, "/reset") && post) {
        srec_clear();
        sflt_clear();
        wxsim_reset();
        wcsim_reset();
        tcsim_reset();
        alisim_reset();
        ok(r, NULL);
    } else if (!strcmp(p, "/requests") && get) {
        do_requests(r);
    } else if (!strcmp(p, "/stats") && get) {
        do_stats(r);
    } else if (!strcmp(p, "/flush") && post) {
        srec_flush();
        ok(r, NULL);
    } else if (!strcmp(p, "/health") && get) {
        ok(r, NULL);
    } else {
        fail(r, 404, "unknown control endpoint or method; see sim/README.md");
    }
}
