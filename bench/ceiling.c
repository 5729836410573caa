/* ceiling.c — the dispatch benchmark's ceiling: a bare client that posts a fixed body
 * to a simulator endpoint with a fixed number of requests in flight, over the same
 * HTTP layer chuda uses (libcurl multi on libev, keep-alive, TLS verified) but with no
 * queue, policy, rendering or log. Each request goes to a different recipient
 * (OPENID_TEMPLATE's %d), as chuda's do. Prints JSON with requests per second.
 * Usage: ceiling URL BODY_TEMPLATE_FILE CA_FILE TOTAL CONCURRENCY */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "timeutil.h"

typedef struct run {
    http *h;
    const char *url, *body;
    long total, started, done, failed, concurrency;
} run;

static void start_one(run *r);

static void on_done(void *arg, const http_resp *resp)
{
    run *r = arg;
    r->done++;
    if (resp->curl_code || resp->status != 200 || !strstr(resp->body, "\"errcode\":0"))
        r->failed++;
    if (r->started < r->total)
        start_one(r);
    else if (r->done == r->total)
        ev_break(EV_DEFAULT, EVBREAK_ALL);
}

static void start_one(run *r)
{
    http_req q = {.method = "POST", .url = strdup(r->url)};
    if (asprintf(&q.body, r->body, (int)r->started) < 0)
        exit(1);
    q.body_len = strlen(q.body);
    q.headers = http_headers_add(NULL, "Content-Type: application/json");
    cherr e;
    r->started++;
    if (http_submit(r->h, &q, on_done, r, &e) < 0) {
        fprintf(stderr, "ceiling: %s\n", e.msg);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: ceiling URL BODY_FILE CA_FILE TOTAL CONCURRENCY\n");
        return 2;
    }
    static char body[65536];
    FILE *fp = fopen(argv[2], "r");
    if (!fp || !fgets(body, sizeof body, fp)) {
        fprintf(stderr, "ceiling: cannot read %s\n", argv[2]);
        return 2;
    }
    fclose(fp);
    body[strcspn(body, "\n")] = '\0';
    cherr e;
    run r = {.url = argv[1], .body = body, .total = atol(argv[4]), .concurrency = atol(argv[5])};
    if (!(r.h = http_new(EV_DEFAULT, argv[3], &e))) {
        fprintf(stderr, "ceiling: %s\n", e.msg);
        return 1;
    }
    int64_t t0 = tu_now();
    for (long i = 0; i < r.concurrency && i < r.total; i++)
        start_one(&r);
    ev_run(EV_DEFAULT, 0);
    double secs = (double)(tu_now() - t0) / 1000.0;
    printf("{\"requests\": %ld, \"failed\": %ld, \"seconds\": %.3f, \"per_second\": %.0f, "
           "\"http_thread_cpu_seconds\": %.3f}\n",
           r.total, r.failed, secs, (double)r.total / secs, http_thread_cpu(r.h));
    http_free(r.h);
    return r.failed ? 1 : 0;
}
