/* callback.c - receipt pushes (see callback.h).
 *
 * Providers queue JSON bodies; one worker thread posts them in due-time
 * order with a single libcurl easy handle (so the connection is reused),
 * trusting [sim] callback_ca / --callback-ca.  WeChat pushes carry
 * signature, timestamp and nonce in the query, as WeChat's do, when
 * [sim] callback_wechat_token is set.  Any 2xx answer is success;
 * otherwise the push is retried after each delay of callback_retry_ms,
 * then dropped.  Outcomes are counted in /_sim/stats. */
#include "callback.h"
#include "record.h"
#include "sign.h"
#include "util.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <inttypes.h>

#include <curl/curl.h>

struct push {
    struct push *next;
    int64_t due_ms;
    unsigned attempt;
    const char *provider;
    const char *url;
    char *body;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static const struct scfg *cfg_;
static struct push *queue;
static bool stopping, running;
static pthread_t worker;

static const char *url_for(const char *provider)
{
    const char *u = NULL;
    if (!strcmp(provider, "wechat"))
        u = cfg_->callback_wechat;
    else if (!strcmp(provider, "tencent"))
        u = cfg_->callback_tencent;
    else if (!strcmp(provider, "aliyun"))
        u = cfg_->callback_aliyun;
    if (!u || !*u)
        u = cfg_->callback_url;
    return u && *u ? u : NULL;
}

static void enqueue(struct push *p)
{
    struct push **q = &queue;
    while (*q && (*q)->due_ms <= p->due_ms)
        q = &(*q)->next;
    p->next = *q;
    *q = p;
    pthread_cond_signal(&cond);
}

bool scb_wanted(const char *provider)
{
    return running && url_for(provider) != NULL;
}

void scb_push(const char *provider, json_t *body)
{
    const char *url = cfg_ ? url_for(provider) : NULL;
    if (!url || !running) {
        json_decref(body);
        return;
    }
    struct push *p = su_xcalloc(1, sizeof *p);
    p->provider = provider;
    p->url = url;
    p->body = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    p->due_ms = su_now_ms() + cfg_->callback_delay_ms;
    json_decref(body);
    if (!p->body) {
        free(p);
        return;
    }
    pthread_mutex_lock(&lock);
    enqueue(p);
    pthread_mutex_unlock(&lock);
}

static size_t discard(char *ptr, size_t size, size_t n, void *ud)
{
    (void)ptr, (void)ud;
    return size * n;
}

/* The URL of this attempt: WeChat's pushes are signed with the Token, a fresh
 * timestamp and nonce each time, like WeChat's own. */
static void push_url(const struct push *p, char *out, size_t len)
{
    const char *token = cfg_->callback_wechat_token;
    char ts[24], nonce[24], sig[SIGN_WECHAT_MAX];
    snprintf(out, len, "%s", p->url);
    if (strcmp(p->provider, "wechat") || !token || !*token)
        return;
    snprintf(ts, sizeof ts, "%" PRId64, su_now_ms() / 1000);
    snprintf(nonce, sizeof nonce, "%" PRIu64, (uint64_t)(su_rand_id() % 10000000000u));
    if (sign_wechat_push(token, ts, nonce, sig) == SIGN_OK)
        snprintf(out, len, "%s%csignature=%s&timestamp=%s&nonce=%s", p->url,
                 strchr(p->url, '?') ? '&' : '?', sig, ts, nonce);
}

static bool post(CURL *h, const struct push *p)
{
    struct curl_slist *hdr = NULL;
    char ph[64], url[2048];
    snprintf(ph, sizeof ph, "X-Chuda-Sim-Provider: %s", p->provider);
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    hdr = curl_slist_append(hdr, ph);
    push_url(p, url, sizeof url);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, p->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(p->body));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (cfg_->callback_ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, cfg_->callback_ca);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdr);
    return rc == CURLE_OK && status >= 200 && status < 300;
}

static void *work(void *arg)
{
    (void)arg;
    CURL *h = curl_easy_init();
    pthread_mutex_lock(&lock);
    while (!stopping) {
        int64_t now = su_now_ms();
        if (!queue || queue->due_ms > now) {
            int64_t until = queue ? queue->due_ms : now + 1000;
            struct timespec ts = {(time_t)(until / 1000),
                                  (long)(until % 1000) * 1000000L};
            pthread_cond_timedwait(&cond, &lock, &ts);
            continue;
        }
        struct push *p = queue;
        queue = p->next;
        pthread_mutex_unlock(&lock);
        bool ok = h && post(h, p);
        srec_count_callback(p->provider, ok);
        pthread_mutex_lock(&lock);
        const struct su_list *sched = &cfg_->callback_retry_ms;
        if (!ok && p->attempt < sched->n && !stopping) {
            p->due_ms = su_now_ms() + strtoll(sched->v[p->attempt], NULL, 10);
            p->attempt++;
            enqueue(p);
        } else {
            free(p->body);
            free(p);
        }
    }
    pthread_mutex_unlock(&lock);
    if (h)
        curl_easy_cleanup(h);
    return NULL;
}

int scb_init(const struct scfg *cfg)
{
    cfg_ = cfg;
    if (!url_for("wechat") && !url_for("tencent") && !url_for("aliyun"))
        return 0;   /* nothing will ever be pushed */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    if (pthread_create(&worker, NULL, work, NULL) != 0)
        return -1;
    running = true;
    return 0;
}

void scb_shutdown(void)
{
    if (!running)
        return;
    pthread_mutex_lock(&lock);
    stopping = true;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
    pthread_join(worker, NULL);
    while (queue) {
        struct push *p = queue;
        queue = p->next;
        free(p->body);
        free(p);
    }
    running = false;
    curl_global_cleanup();
}
