/* main.c - chuda-sim: command line, start-up order, signals, shutdown.
 *
 * chuda-sim fakes the WeChat, WeCom, Tencent SMS and Aliyun SMS HTTPS APIs
 * on one 127.0.0.1 port for chuda's tests, demo and benchmarks.  See
 * sim/README.md.  Two hidden helpers sign requests for shell tests:
 *   chuda-sim --sign-tc3 SECRET_ID SECRET_KEY HOST TIMESTAMP CONTENT_TYPE
 *             (body on stdin; prints the Authorization header value)
 *   chuda-sim --sign-aliyun METHOD SECRET name=value...
 *             (prints the signed query string) */
#include "callback.h"
#include "conf.h"
#include "record.h"
#include "router.h"
#include "sms_aliyun.h"
#include "sms_tencent.h"
#include "wechat.h"
#include "wecom.h"

#include "sign.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fputs(
"usage: chuda-sim --cert FILE --key FILE [options]\n"
"\n"
"Fake WeChat / WeCom / Tencent SMS / Aliyun SMS HTTPS server for tests.\n"
"Listens on 127.0.0.1 only.\n"
"\n"
"  --cert FILE          server certificate (PEM)\n"
"  --key FILE           server private key (PEM)\n"
"  --port N             port to bind (default 0: an ephemeral port)\n"
"  --port-file FILE     write the bound port here once accepting\n"
"  --config FILE        INI configuration (accounts, limits); see README\n"
"  --record FILE        append one JSON line per provider request\n"
"  --callback-url URL   push delivery receipts to URL\n"
"  --callback-ca FILE   CA bundle trusted for the callback URL\n"
"  --threads N          HTTP worker threads (default: CPU count)\n"
"  --help               this text\n"
"\n"
"Control API: /_sim/fault, /_sim/credits, /_sim/follow, /_sim/expire_tokens,\n"
"/_sim/reset, /_sim/requests, /_sim/stats (see sim/README.md).\n", f);
}

static char *read_file(const char *path, char *err, size_t errsz)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct su_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        su_buf_add(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad || !b.p) {
        snprintf(err, errsz, "%s: cannot read (or empty)", path);
        su_buf_free(&b);
        return NULL;
    }
    return b.p;
}

static int write_port_file(const char *path, unsigned port)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

/* ---- hidden signing helpers --------------------------------------------- */

static int cmd_sign_tc3(int argc, char **argv)
{
    if (argc != 7) {
        fputs("usage: chuda-sim --sign-tc3 SECRET_ID SECRET_KEY HOST "
              "TIMESTAMP CONTENT_TYPE < body\n", stderr);
        return 2;
    }
    struct su_buf body = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        su_buf_add(&body, chunk, n);
    char auth[SIGN_TC3_AUTH_MAX];
    int rc = sign_tc3(argv[2], argv[3], "sms", argv[4], "SendSms",
                      strtoll(argv[5], NULL, 10), body.p ? body.p : "",
                      body.len, argv[6], auth, sizeof auth, NULL);
    su_buf_free(&body);
    if (rc != SIGN_OK) {
        fprintf(stderr, "chuda-sim: sign_tc3: %s\n", sign_strerror(rc));
        return 1;
    }
    puts(auth);
    return 0;
}

static int cmd_sign_aliyun(int argc, char **argv)
{
    if (argc < 4) {
        fputs("usage: chuda-sim --sign-aliyun METHOD SECRET name=value...\n",
              stderr);
        return 2;
    }
    size_t n = (size_t)argc - 4;
    struct sign_param *p = su_xcalloc(n, sizeof *p);
    char **copies = su_xcalloc(n, sizeof *copies);
    for (size_t i = 0; i < n; i++) {
        copies[i] = su_strdup(argv[4 + i]);
        char *eq = strchr(copies[i], '=');
        p[i].name = copies[i];
        p[i].value = "";
        if (eq) {
            *eq = '\0';
            p[i].value = eq + 1;
        }
    }
    char *q = NULL;
    int rc = sign_aliyun_query(argv[2], argv[3], p, n, &q);
    for (size_t i = 0; i < n; i++)
        free(copies[i]);
    free(copies);
    free(p);
    if (rc != SIGN_OK) {
        fprintf(stderr, "chuda-sim: sign_aliyun: %s\n", sign_strerror(rc));
        return 1;
    }
    puts(q);
    free(q);
    return 0;
}

/* ---- main ---------------------------------------------------------------- */

struct args {
    const char *cert, *key, *port_file, *config, *record, *cb_url, *cb_ca;
    long port, threads;
};

/* Returns -1 to go on, else the exit code (0 after --help). */
static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        {"cert", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"port", required_argument, NULL, 'p'},
        {"port-file", required_argument, NULL, 'P'},
        {"config", required_argument, NULL, 'f'},
        {"record", required_argument, NULL, 'r'},
        {"callback-url", required_argument, NULL, 'u'},
        {"callback-ca", required_argument, NULL, 'a'},
        {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}
    };
    int c;
    char *end;

    memset(a, 0, sizeof *a);
    a->threads = -1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c': a->cert = optarg; break;
        case 'k': a->key = optarg; break;
        case 'P': a->port_file = optarg; break;
        case 'f': a->config = optarg; break;
        case 'r': a->record = optarg; break;
        case 'u': a->cb_url = optarg; break;
        case 'a': a->cb_ca = optarg; break;
        case 'p':
            a->port = strtol(optarg, &end, 10);
            if (*end || a->port < 0 || a->port > 65535) {
                fprintf(stderr, "chuda-sim: --port: not a port: %s\n", optarg);
                return 2;
            }
            break;
        case 't':
            a->threads = strtol(optarg, &end, 10);
            if (*end || a->threads < 1 || a->threads > 256) {
                fprintf(stderr, "chuda-sim: --threads: want 1..256: %s\n",
                        optarg);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "chuda-sim: unexpected argument: %s\n", argv[optind]);
        return 2;
    }
    if (!a->cert || !a->key) {
        fputs("chuda-sim: --cert and --key are required\n", stderr);
        usage(stderr);
        return 2;
    }
    return -1;
}


int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--sign-tc3"))
        return cmd_sign_tc3(argc, argv);
    if (argc > 1 && !strcmp(argv[1], "--sign-aliyun"))
        return cmd_sign_aliyun(argc, argv);

    struct args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;

    /* Block the stop signals before any thread exists; main waits for them
     * with sigwait, every other thread inherits the mask. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct scfg cfg;
    char err[512];
    scfg_defaults(&cfg);
    if (a.config && scfg_load(&cfg, a.config, err, sizeof err) != 0) {
        fprintf(stderr, "chuda-sim: %s\n", err);
        scfg_free(&cfg);
        return 2;
    }
    if (a.cb_url)
        cfg.callback_url = su_strdup(a.cb_url);
    if (a.cb_ca) {
        free(cfg.callback_ca);
        cfg.callback_ca = su_strdup(a.cb_ca);
    }
    if (a.threads > 0)
        cfg.threads = a.threads;

    char *cert_pem = read_file(a.cert, err, sizeof err);
    char *key_pem = cert_pem ? read_file(a.key, err, sizeof err) : NULL;
    if (!cert_pem || !key_pem) {
        fprintf(stderr, "chuda-sim: %s\n", err);
        free(cert_pem);
        scfg_free(&cfg);
        return 2;
    }

    su_rand_seed(cfg.seed);
    if (srec_open(a.record, (size_t)cfg.keep_requests, err, sizeof err) != 0) {
        fprintf(stderr, "chuda-sim: --record %s\n", err);
        return 2;
    }
    wxsim_init(&cfg);
    wcsim_init(&cfg);
    tcsim_init(&cfg);
    alisim_init(&cfg);
    if (scb_init(&cfg) != 0) {
        fputs("chuda-sim: cannot start the callback worker\n", stderr);
        return 1;
    }

    struct sim_server_opts so = {
        .cfg = &cfg, .cert_pem = cert_pem, .key_pem = key_pem,
        .port = (unsigned)a.port, .threads = (unsigned)cfg.threads,
    };
    unsigned bound = sim_server_start(&so, err, sizeof err);
    rc = 0;
    if (!bound) {
        fprintf(stderr, "chuda-sim: %s\n", err);
        rc = 1;
        goto out;
    }
    printf("chuda-sim listening on https://127.0.0.1:%u\n", bound);
    fflush(stdout);
    if (a.port_file && write_port_file(a.port_file, bound) != 0) {
        fprintf(stderr, "chuda-sim: --port-file %s: %s\n", a.port_file,
                strerror(errno));
        rc = 1;
    } else {
        int sig;
        sigwait(&stop, &sig);
    }
    sim_server_stop();
out:
    scb_shutdown();
    srec_close();
    alisim_shutdown();
    tcsim_shutdown();
    wcsim_shutdown();
    wxsim_shutdown();
    scfg_free(&cfg);
    free(cert_pem);
    free(key_pem);
    return rc;
}
