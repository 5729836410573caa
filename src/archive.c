/* archive.c — writing and reading the send log's archive files (see archive.h). */
#include "archive.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "timeutil.h"

/* ---- a row as JSON ---------------------------------------------------------------- */

static json_t *text_json(const char *s, int exact)
{
    if (!s)
        return json_null();
    json_t *j = json_string(s);
    if (j || !exact)
        return j ? j : json_string("\xef\xbf\xbd");    /* U+FFFD for the listing */
    buf b = {0};
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        buf_printf(&b, "%02x", *p);
    j = b.s ? json_pack("{s:s}", "hex", b.s) : NULL;
    buf_free(&b);
    return j;
}

static json_t *id_json(int64_t v)
{
    return v ? json_integer(v) : json_null();
}

json_t *arch_row_json(const store_logrow *r, int exact)
{
    char ts[32], hex[AUDIT_HEX_LEN + 1];
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = json_object_set_new(o, "seq", json_integer(r->seq)) |
              json_object_set_new(o, "at", json_string(tu_format(r->at, ts, sizeof ts)));
    if (exact)
        bad |= json_object_set_new(o, "at_ms", json_integer(r->at));
    bad |= json_object_set_new(o, "message_id", id_json(r->message_id)) |
           json_object_set_new(o, "user_id", text_json(r->user_id, exact)) |
           json_object_set_new(o, "campaign_id", id_json(r->campaign_id)) |
           json_object_set_new(o, "event", text_json(r->event, exact)) |
           json_object_set_new(o, "channel", text_json(r->channel, exact)) |
           json_object_set_new(o, "reason", text_json(r->reason, exact)) |
           json_object_set_new(o, "code", text_json(r->code, exact)) |
           json_object_set_new(o, "detail", text_json(r->detail, exact)) |
           json_object_set_new(o, "target", text_json(r->target, exact));
    if (exact && r->hash) {
        audit_hex(r->hash, hex);
        bad |= json_object_set_new(o, "hash", json_string(hex));
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- writing ----------------------------------------------------------------------- */

static void writer_free(arch_writer *w)
{
    free(w->path);
    free(w->tmp);
    memset(w, 0, sizeof *w);
    w->fd = -1;
}

static int put_json(arch_writer *w, json_t *j, cherr *e)
{
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (!s)
        return err_set(e, "%s: out of memory", w->path);
    int ok = gzputs(w->gz, s) >= 0 && gzputc(w->gz, '\n') >= 0;
    free(s);
    return ok ? 0 : err_set(e, "%s: cannot write: %s", w->tmp, strerror(errno));
}

int arch_create(arch_writer *w, const char *path, int64_t after_seq,
                const unsigned char after_hash[AUDIT_HASH_LEN], cherr *e)
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
    struct stat st;
    if (lstat(path, &st) == 0)
        return err_set(e, "%s: exists: an archive is never overwritten", path);
    w->path = strdup(path);
    if (!w->path || asprintf(&w->tmp, "%s.XXXXXX", path) < 0) {
        w->tmp = NULL;
        writer_free(w);
        return err_set(e, "out of memory");
    }
    int fd = mkstemp(w->tmp);          /* mode 0600 */
    if (fd < 0) {
        err_set(e, "%s: cannot create: %s", w->tmp, strerror(errno));
        writer_free(w);
        return -1;
    }
    w->fd = dup(fd);
    if (w->fd < 0 || !(w->gz = gzdopen(fd, "wb9"))) {
        if (w->fd >= 0)
            close(w->fd);
        close(fd);
        unlink(w->tmp);
        writer_free(w);
        return err_set(e, "%s: cannot open for writing", path);
    }
    char hex[AUDIT_HEX_LEN + 1];
    audit_hex(after_hash, hex);
    if (put_json(w, json_pack("{s:i, s:I, s:s}", "chuda_archive", 1, "after_seq",
                              (json_int_t)after_seq, "after_hash", hex), e) < 0) {
        arch_abort(w);
        return -1;
    }
    return 0;
}

int arch_put(arch_writer *w, const store_logrow *r, cherr *e)
{
    if (put_json(w, arch_row_json(r, 1), e) < 0)
        return -1;
    w->rows++;
    return 0;
}

void arch_abort(arch_writer *w)
{
    if (w->gz)
        gzclose(w->gz);
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp)
        unlink(w->tmp);
    writer_free(w);
}

static void fsync_dir(const char *path)
{
    char *copy = strdup(path);
    int fd = copy ? open(dirname(copy), O_RDONLY | O_DIRECTORY) : -1;
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

int arch_commit(arch_writer *w, cherr *e)
{
    int rc = gzclose(w->gz);
    w->gz = NULL;
    if (rc != Z_OK) {
        err_set(e, "%s: cannot write (disk full?)", w->tmp);
    } else if (fsync(w->fd) < 0) {
        err_set(e, "%s: cannot sync: %s", w->tmp, strerror(errno));
    } else if (link(w->tmp, w->path) < 0) {
        if (errno == EEXIST)
            err_set(e, "%s: exists (made meanwhile): an archive is never overwritten", w->path);
        else
            err_set(e, "%s: cannot create: %s", w->path, strerror(errno));
    } else {
        unlink(w->tmp);
        fsync_dir(w->path);
        close(w->fd);
        writer_free(w);
        return 0;
    }
    arch_abort(w);
    return -1;
}

/* ---- reading ----------------------------------------------------------------------- */

/* The next line into r->text (without the newline): 1, 0 at the end, -1 on error. */
static int read_line(arch_reader *r, cherr *e)
{
    char chunk[8192];
    buf_reset(&r->text);
    for (;;) {
        if (!gzgets(r->gz, chunk, sizeof chunk)) {
            int zerr;
            const char *msg = gzerror(r->gz, &zerr);
            if (zerr != Z_OK && zerr != Z_STREAM_END)
                return err_set(e, "%s:%ld: %s", r->path, r->line + 1,
                               zerr == Z_BUF_ERROR ? "the file is truncated" : msg);
            if (r->text.len)
                return err_set(e, "%s:%ld: the last line has no end (truncated?)", r->path,
                               r->line + 1);
            return 0;
        }
        size_t n = strlen(chunk);
        if (buf_add(&r->text, chunk, n) < 0)
            return err_set(e, "out of memory");
        if (n && chunk[n - 1] == '\n') {
            r->text.s[--r->text.len] = '\0';
            r->line++;
            return 1;
        }
    }
}

static json_t *parse_line(arch_reader *r, cherr *e)
{
    json_error_t je;
    json_t *j = json_loads(r->text.s, JSON_REJECT_DUPLICATES, &je);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        err_set(e, "%s:%ld: not a JSON object (%s)", r->path, r->line, j ? "" : je.text);
        return NULL;
    }
    return j;
}

static int hash_field(arch_reader *r, json_t *o, const char *key, unsigned char h[AUDIT_HASH_LEN],
                      cherr *e)
{
    if (audit_unhex(json_string_value(json_object_get(o, key)), h) < 0)
        return err_set(e, "%s:%ld: %s: expected 64 hex digits", r->path, r->line, key);
    return 0;
}

int arch_open(arch_reader *r, const char *path, cherr *e)
{
    memset(r, 0, sizeof *r);
    r->path = strdup(path);
    r->gz = r->path ? gzopen(path, "rb") : NULL;
    if (!r->gz) {
        err_set(e, "%s: cannot open: %s", path, strerror(errno));
        arch_close(r);
        return -1;
    }
    int got = read_line(r, e);
    json_t *h = got > 0 ? parse_line(r, e) : NULL;
    if (got == 0)
        err_set(e, "%s: empty (not an archive)", path);
    int ok = h && json_integer_value(json_object_get(h, "chuda_archive")) == 1 &&
             json_is_integer(json_object_get(h, "after_seq"));
    if (h && !ok)
        err_set(e, "%s:1: not a chuda archive header", path);
    if (ok) {
        r->after_seq = json_integer_value(json_object_get(h, "after_seq"));
        ok = hash_field(r, h, "after_hash", r->after_hash, e) == 0;
    }
    json_decref(h);
    if (!ok) {
        arch_close(r);
        return -1;
    }
    return 0;
}

/* A text field: a string, null, or {"hex": "..."} (decoded into r->hexed[slot]). */
static int text_field(arch_reader *r, const char *key, int slot, int required, const char **out,
                      cherr *e)
{
    json_t *v = json_object_get(r->row, key);
    const char *hex = json_string_value(json_object_get(v, "hex"));
    *out = NULL;
    if (json_is_string(v)) {
        *out = json_string_value(v);
    } else if (hex && strlen(hex) % 2 == 0) {
        buf *b = &r->hexed[slot];
        buf_reset(b);
        for (const char *p = hex; *p; p += 2) {
            unsigned char c;
            if (sscanf(p, "%2hhx", &c) != 1 || c == 0)
                return err_set(e, "%s:%ld: %s: bad hex", r->path, r->line, key);
            if (buf_add(b, (const char *)&c, 1) < 0)
                return err_set(e, "out of memory");
        }
        *out = b->s ? b->s : "";
    } else if (!json_is_null(v) || required) {
        return err_set(e, "%s:%ld: %s: expected %s", r->path, r->line, key,
                       required ? "a string" : "a string, null or {\"hex\":...}");
    }
    return 0;
}

static int int_field(arch_reader *r, const char *key, int nullable, int64_t *out, cherr *e)
{
    json_t *v = json_object_get(r->row, key);
    *out = 0;
    if (json_is_integer(v))
        *out = json_integer_value(v);
    else if (!(nullable && json_is_null(v)))
        return err_set(e, "%s:%ld: %s: expected an integer%s", r->path, r->line, key,
                       nullable ? " or null" : "");
    return 0;
}

int arch_next(arch_reader *r, store_logrow *row, cherr *e)
{
    json_decref(r->row);
    r->row = NULL;
    int got = read_line(r, e);
    if (got <= 0)
        return got;
    if (!(r->row = parse_line(r, e)))
        return -1;
    memset(row, 0, sizeof *row);
    if (int_field(r, "seq", 0, &row->seq, e) < 0 || int_field(r, "at_ms", 0, &row->at, e) < 0 ||
        int_field(r, "message_id", 1, &row->message_id, e) < 0 ||
        int_field(r, "campaign_id", 1, &row->campaign_id, e) < 0 ||
        text_field(r, "user_id", 0, 0, &row->user_id, e) < 0 ||
        text_field(r, "event", 1, 1, &row->event, e) < 0 ||
        text_field(r, "channel", 2, 0, &row->channel, e) < 0 ||
        text_field(r, "reason", 3, 0, &row->reason, e) < 0 ||
        text_field(r, "code", 4, 0, &row->code, e) < 0 ||
        text_field(r, "detail", 5, 0, &row->detail, e) < 0 ||
        text_field(r, "target", 6, 0, &row->target, e) < 0 ||
        hash_field(r, r->row, "hash", r->hash, e) < 0)
        return -1;
    row->hash = r->hash;
    return 1;
}

void arch_close(arch_reader *r)
{
    if (r->gz)
        gzclose(r->gz);
    json_decref(r->row);
    buf_free(&r->text);
    for (size_t i = 0; i < sizeof r->hexed / sizeof r->hexed[0]; i++)
        buf_free(&r->hexed[i]);
    free(r->path);
    memset(r, 0, sizeof *r);
}
