/* import.c — streaming a user CSV into the store in one transaction (see import.h).
 *
 * libcsv does the RFC 4180 parsing (strict). libcsv reports no positions, so this
 * file scans the bytes beside it, tracking quotes, and hands libcsv one physical line
 * at a time: when libcsv ends a record, `rec_line` is the line the record started on.
 * Fields are copied into one reused row buffer; the record is checked, turned into a
 * store_user (extra columns become a JSON object) and upserted. The first error
 * stops the import and rolls the transaction back. Memory is bounded by the longest
 * record plus the set of user ids seen (for the duplicate check). */
#include "import.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utf8proc.h>

#include <csv.h>

#include "buf.h"

#define MAX_COLS      256              /* columns in the header */
#define CSV_BUF_CAP   (16u << 20)      /* libcsv's field buffer stops growing here */
#define CSV_BLK       (64u << 10)      /* ... and grows by this much at a time */
#define READ_BLK      (64u << 10)
#define TZ_CACHE      64               /* zone names already found valid */
#define PHONE_MIN     7
#define PHONE_MAX     20

/* The known columns; anything else in the header is an attribute. */
enum { K_USER_ID, K_TIER, K_SEGMENT, K_TZ, K_MP, K_OA, K_PHONE, K_WECOM, K_WECOM_EXT, K_COUNT,
       K_ATTR = K_COUNT };

static const char *const known_name[K_COUNT] = {
    "user_id", "tier", "segment", "tz", "mp_openid", "oa_openid", "phone", "wecom_userid",
    "wecom_external_userid",
};

/* The user ids seen so far: open addressing over 8-byte slots (32 bits of the hash and
 * an offset into `names`, 0: empty); `names` holds each id's line (4 bytes) and the id,
 * NUL-terminated. About 30 MB for a million ids. */
typedef struct id_slot {
    uint32_t tag;
    uint32_t off;
} id_slot;

typedef struct id_set {
    id_slot *v;
    size_t cap, n;
    buf names;
} id_set;

typedef struct imp {
    store *st;
    const char *name;                  /* file name for messages */
    const imp_rules *rules;
    const char *zoneinfo;
    imp_stats stats;
    cherr *e;
    int failed;

    /* where we are (the scanner beside libcsv) */
    long line;                         /* physical line being scanned, 1-based */
    long rec_line;                     /* line the current record started on */
    int in_quotes, row_open;

    /* the header */
    int have_header;
    size_t ncols;
    int kind[MAX_COLS];                /* K_* per column */
    char *colname[MAX_COLS];
    int col_of[K_COUNT];               /* column of each known field, -1 if absent */

    /* the current record */
    buf row;                           /* field bytes, each NUL-terminated */
    size_t off[MAX_COLS], len[MAX_COLS];
    size_t nfields;                    /* fields seen, even past MAX_COLS */

    id_set ids;
    char *tz_ok[TZ_CACHE];
    size_t n_tz_ok;
    char *json;                        /* the attrs object of the current record */
    size_t json_cap;
} imp;

/* ---- errors ----------------------------------------------------------------------- */

/* A column's name as errors show it: "tier", "attrs column 'note'", "field 12". */
static const char *col_label(const imp *im, size_t i, char *b, size_t len)
{
    if (!im->have_header || i >= im->ncols)
        snprintf(b, len, "field %zu", i + 1);
    else if (im->kind[i] == K_ATTR)
        snprintf(b, len, "attrs column '%.64s'", im->colname[i]);
    else
        snprintf(b, len, "%s", im->colname[i]);
    return b;
}

/* Fail the import: "FILE:LINE: " + reason (first failure wins). */
static void fail(imp *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(imp *im, const char *fmt, ...)
{
    if (im->failed)
        return;
    im->failed = 1;
    char msg[sizeof im->e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err_set(im->e, "%s:%ld: %s", im->name, im->rec_line, msg);
}

/* ---- checks on one field ---------------------------------------------------------- */

/* 0 if s[0..n) is UTF-8 without NUL; else the 1-based byte of the first bad sequence. */
static size_t utf8_bad_at(const char *s, size_t n)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        if (p[i] && p[i] < 0x80) {
            i++;
            continue;
        }
        if (!p[i])
            return i + 1;
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0)
            return i + 1;
        i += (size_t)k;
    }
    return 0;
}

static int tier_known(const imp *im, const char *t)
{
    if (!im->rules || !im->rules->tiers)
        return 1;
    for (const char *const *k = im->rules->tiers; *k; k++)
        if (!strcmp(*k, t))
            return 1;
    return 0;
}

static void tier_list(const imp *im, char *b, size_t len)
{
    size_t used = 0;
    b[0] = '\0';
    if (!im->rules || !im->rules->tiers) {
        snprintf(b, len, "any name");
        return;
    }
    for (const char *const *k = im->rules->tiers; *k; k++) {
        int n = snprintf(b + used, len - used, "%s%s", used ? ", " : "", *k);
        if (n < 0 || (size_t)n >= len - used) {
            snprintf(b + (used < len - 8 ? used : len - 8), 8, ", ...");
            return;
        }
        used += (size_t)n;
    }
    if (!used)
        snprintf(b, len, "none configured");
}

/* Is `tz` the name of a zone file (TZif) under the zoneinfo directory? */
static int tz_check(imp *im, const char *tz, char *why, size_t wlen)
{
    for (size_t i = 0; i < im->n_tz_ok; i++)
        if (!strcmp(im->tz_ok[i], tz))
            return 0;
    size_t n = strlen(tz);
    int shape = n > 0 && n <= 64 && tz[0] != '/' && tz[n - 1] != '/' && !strstr(tz, "//");
    for (size_t i = 0; shape && i < n; i++) {
        unsigned char c = (unsigned char)tz[i];
        shape = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '/' || c == '_' || c == '+' || c == '-';
    }
    if (!shape) {
        snprintf(why, wlen, "'%.64s' is not a zone name like Asia/Shanghai (letters, digits, "
                 "'/', '_', '+', '-'; no '..', no leading '/')", tz);
        return -1;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/%s", im->zoneinfo, tz);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char magic[4];
    struct stat sb;
    int ok = fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
             read(fd, magic, 4) == 4 && !memcmp(magic, "TZif", 4);
    if (fd >= 0)
        close(fd);
    if (!ok) {
        snprintf(why, wlen, "'%s' is not a time zone in %s (e.g. Asia/Shanghai)", tz,
                 im->zoneinfo);
        return -1;
    }
    char *dup = im->n_tz_ok < TZ_CACHE ? strdup(tz) : NULL;
    if (dup)                      /* a full cache only costs a recheck */
        im->tz_ok[im->n_tz_ok++] = dup;
    return 0;
}

static int phone_check(const char *s, char *why, size_t wlen)
{
    size_t n = strlen(s);
    if (n < PHONE_MIN || n > PHONE_MAX) {
        snprintf(why, wlen, "%zu characters, a phone number has %d to %d (digits, optional "
                 "leading +)", n, PHONE_MIN, PHONE_MAX);
        return -1;
    }
    for (size_t i = s[0] == '+'; i < n; i++)
        if (s[i] < '0' || s[i] > '9') {
            snprintf(why, wlen, "character %zu is not a digit (a phone number is digits with "
                     "an optional leading +)", i + 1);
            return -1;
        }
    return 0;
}

/* ---- the duplicate check ---------------------------------------------------------- */

static uint64_t id_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;             /* FNV-1a, then a finaliser */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static int id_grow(id_set *s)
{
    size_t cap = s->cap ? s->cap * 2 : 4096;
    id_slot *v = calloc(cap, sizeof *v);
    if (!v)
        return -1;
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->v[i].off)
            continue;
        const char *id = s->names.s + s->v[i].off + 4;
        size_t j = id_hash(id, strlen(id)) & (cap - 1);
        while (v[j].off)
            j = (j + 1) & (cap - 1);
        v[j] = s->v[i];
    }
    free(s->v);
    s->v = v;
    s->cap = cap;
    return 0;
}

/* Add an id first seen on `line`. Returns 0 when new, the earlier line when already
 * present, -1 when out of memory. */
static long id_add(id_set *s, const char *id, size_t n, long line)
{
    if ((s->n + 1) * 10 > s->cap * 7 && id_grow(s) < 0)
        return -1;
    if (!s->names.len && buf_add(&s->names, "", 1) < 0)   /* offset 0 means empty */
        return -1;
    uint64_t h = id_hash(id, n);
    uint32_t tag = (uint32_t)(h >> 32);
    size_t j = h & (s->cap - 1);
    for (; s->v[j].off; j = (j + 1) & (s->cap - 1)) {
        const char *at = s->names.s + s->v[j].off;
        if (s->v[j].tag == tag && !strcmp(at + 4, id)) {
            uint32_t prev;
            memcpy(&prev, at, 4);
            return (long)prev;
        }
    }
    size_t off = s->names.len;
    uint32_t l32 = (uint32_t)line;
    if (off + 4 + n + 1 > UINT32_MAX || line > (long)UINT32_MAX ||
        buf_add(&s->names, (const char *)&l32, 4) < 0 || buf_add(&s->names, id, n + 1) < 0)
        return -1;
    s->v[j] = (id_slot){.tag = tag, .off = (uint32_t)off};
    s->n++;
    return 0;
}

static void id_free(id_set *s)
{
    free(s->v);
    buf_free(&s->names);
    memset(s, 0, sizeof *s);
}

/* ---- the header ------------------------------------------------------------------- */

static char *field(imp *im, size_t i)
{
    return im->row.s + im->off[i];
}

/* "a, b, c" for messages about the header. */
static void header_names(const imp *im, char *b, size_t len)
{
    size_t used = 0;
    b[0] = '\0';
    for (size_t i = 0; i < im->ncols && used < len; i++) {
        int n = snprintf(b + used, len - used, "%s%s", i ? ", " : "", im->colname[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static void header(imp *im)
{
    char names[256];
    im->ncols = im->nfields;
    for (int k = 0; k < K_COUNT; k++)
        im->col_of[k] = -1;
    for (size_t i = 0; i < im->ncols; i++) {
        char *s = field(im, i);
        size_t n = im->len[i], bad;
        if ((bad = utf8_bad_at(s, n)))
            return fail(im, "column %zu: %s in the header at byte %zu", i + 1,
                        s[bad - 1] ? "invalid UTF-8" : "NUL byte", bad);
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            s[--n] = '\0';
        while (*s == ' ' || *s == '\t')
            s++, n--;
        if (!n)
            return fail(im, "column %zu has no name in the header", i + 1);
        if (strpbrk(s, "{}|\r\n"))
            return fail(im, "column %zu: '%.64s' cannot be a column name (no braces, '|' or "
                        "line breaks: attributes are used as {{name}})", i + 1, s);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(im->colname[j], s))
                return fail(im, "column '%.64s' appears twice in the header (columns %zu and "
                            "%zu)", s, j + 1, i + 1);
        im->kind[i] = K_ATTR;
        for (int k = 0; k < K_COUNT; k++) {
            if (!strcmp(s, known_name[k])) {
                im->kind[i] = k;
                im->col_of[k] = (int)i;
            } else if (!strcasecmp(s, known_name[k])) {
                return fail(im, "column '%.64s': did you mean '%s'? (column names are "
                            "lower case)", s, known_name[k]);
            }
        }
        if (!(im->colname[i] = strdup(s)))
            return fail(im, "out of memory");
    }
    for (int k = K_USER_ID; k <= K_TIER; k++) {
        if (im->col_of[k] < 0) {
            header_names(im, names, sizeof names);
            return fail(im, "the header has no %s column (it names: %s)", known_name[k], names);
        }
    }
    for (size_t i = 0; i < im->ncols; i++)
        im->stats.attrs += im->kind[i] == K_ATTR;
    im->have_header = 1;
}

/* ---- one record ------------------------------------------------------------------- */

/* The value of a known column, or NULL when the column is absent or the field empty. */
static char *known(imp *im, int k)
{
    int c = im->col_of[k];
    return c >= 0 && im->len[c] ? field(im, (size_t)c) : NULL;
}

static int attrs_json(imp *im)
{
    json_t *o = json_object();
    if (!o)
        return -1;
    for (size_t i = 0; i < im->ncols; i++) {
        if (im->kind[i] != K_ATTR || !im->len[i])
            continue;           /* an empty attribute is absent: defaults apply */
        /* validated UTF-8 without NUL above */
        if (json_object_set_new_nocheck(o, im->colname[i],
                                        json_stringn_nocheck(field(im, i), im->len[i])) < 0) {
            json_decref(o);
            return -1;
        }
    }
    size_t need = json_dumpb(o, im->json, im->json_cap, JSON_COMPACT);
    if (need && need + 1 > im->json_cap) {
        char *p = realloc(im->json, need + 1);
        if (!p) {
            json_decref(o);
            return -1;
        }
        im->json = p;
        im->json_cap = need + 1;
        need = json_dumpb(o, im->json, im->json_cap, JSON_COMPACT);
    }
    json_decref(o);
    if (!need)
        return -1;
    im->json[need] = '\0';
    return 0;
}

static void record(imp *im)
{
    char lab[96], why[256];
    im->stats.rows++;
    if (im->nfields != im->ncols)
        return fail(im, "%zu field%s, the header has %zu", im->nfields,
                    im->nfields == 1 ? "" : "s", im->ncols);
    for (size_t i = 0; i < im->ncols; i++) {
        size_t bad = utf8_bad_at(field(im, i), im->len[i]);
        if (bad)
            return fail(im, "%s: %s at byte %zu", col_label(im, i, lab, sizeof lab),
                        field(im, i)[bad - 1] ? "invalid UTF-8" : "NUL byte", bad);
    }
    store_user u = {
        .user_id = known(im, K_USER_ID),
        .tier = known(im, K_TIER),
        .segment = known(im, K_SEGMENT),
        .tz = known(im, K_TZ),
        .mp_openid = known(im, K_MP),
        .oa_openid = known(im, K_OA),
        .phone = known(im, K_PHONE),
        .wecom_userid = known(im, K_WECOM),
        .wecom_external_userid = known(im, K_WECOM_EXT),
    };
    if (!u.user_id)
        return fail(im, "user_id: empty");
    if (!u.tier || !tier_known(im, u.tier)) {
        tier_list(im, why, sizeof why);
        if (!u.tier)
            return fail(im, "tier: empty (known: %s)", why);
        return fail(im, "tier: unknown tier '%.64s' (known: %s)", u.tier, why);
    }
    if (u.tz && tz_check(im, u.tz, why, sizeof why) < 0)
        return fail(im, "tz: %s", why);
    if (u.phone && phone_check(u.phone, why, sizeof why) < 0)
        return fail(im, "phone: %s", why);
    long prev = id_add(&im->ids, u.user_id, im->len[im->col_of[K_USER_ID]], im->rec_line);
    if (prev < 0)
        return fail(im, "out of memory");
    if (prev)
        return fail(im, "user_id '%.100s' already on line %ld", u.user_id, prev);
    if (!u.segment)
        u.segment = "";
    if (!u.tz)
        u.tz = "";
    if (attrs_json(im) < 0)
        return fail(im, "out of memory");
    u.attrs = im->json;

    store_user old = {0};
    int found = store_user_get(im->st, u.user_id, &old, im->e);
    store_user_free(&old);
    if (found < 0 || store_user_put(im->st, &u, im->e) < 0) {
        char reason[sizeof im->e->msg];
        memcpy(reason, im->e->msg, sizeof reason);
        return fail(im, "%s", reason);
    }
    if (found)
        im->stats.updated++;
    else
        im->stats.inserted++;
}

/* ---- libcsv callbacks ------------------------------------------------------------- */

static void on_field(void *data, size_t len, void *arg)
{
    imp *im = arg;
    char lab[96];
    if (im->failed)
        return;
    size_t i = im->nfields++;
    if (len > IMP_FIELD_MAX)
        return fail(im, "%s: field of %zu bytes is over the %d-byte limit",
                    col_label(im, i, lab, sizeof lab), len, IMP_FIELD_MAX);
    if (i >= MAX_COLS) {
        if (!im->have_header)
            fail(im, "the header has more than %d columns", MAX_COLS);
        return;                /* a data record this long fails on its count */
    }
    if (im->have_header && i >= im->ncols)
        return;
    im->off[i] = im->row.len;
    im->len[i] = len;
    if (buf_add(&im->row, len ? data : "", len) < 0 || buf_add(&im->row, "", 1) < 0)
        fail(im, "out of memory");
}

static void on_record(int c, void *arg)
{
    imp *im = arg;
    (void)c;
    if (!im->failed) {
        if (im->have_header)
            record(im);
        else
            header(im);
    }
    im->nfields = 0;
    buf_reset(&im->row);
}

/* Never let libcsv buffer a field beyond CSV_BUF_CAP: past it the field is refused. */
static void *capped_realloc(void *p, size_t n)
{
    return n > CSV_BUF_CAP ? NULL : realloc(p, n);
}

/* ---- the stream ------------------------------------------------------------------- */

static int parse_chunk(imp *im, struct csv_parser *p, const char *s, size_t n)
{
    if (!n)
        return 0;
    size_t done = csv_parse(p, s, n, on_field, on_record, im);
    if (im->failed)
        return -1;
    if (done < n) {
        char lab[96];
        int err = csv_error(p);
        if (err == CSV_ENOMEM && csv_get_buffer_size(p) + CSV_BLK > CSV_BUF_CAP)
            fail(im, "%s: field of more than %u bytes is over the %d-byte limit",
                 col_label(im, im->nfields, lab, sizeof lab), CSV_BUF_CAP, IMP_FIELD_MAX);
        else if (err == CSV_EPARSE)
            fail(im, "bad quoting (%s): a field with a quote, comma or line break must be "
                 "quoted in full, and a quote inside written twice (\"a \"\"b\"\"\")",
                 csv_strerror(err));
        else
            fail(im, "%s", csv_strerror(err));
        return -1;
    }
    return 0;
}

/* Scan a block beside libcsv, feeding it up to each line end so that `rec_line` is
 * right when libcsv reports a record. */
static int scan(imp *im, struct csv_parser *p, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (im->in_quotes) {
            if (c == '"')
                im->in_quotes = 0;
            else if (c == '\n')
                im->line++;
            continue;
        }
        switch (c) {
        case '\n':
            if (parse_chunk(im, p, s + start, i + 1 - start) < 0)
                return -1;
            start = i + 1;
            im->row_open = 0;
            im->line++;
            break;
        case '\r':
            im->row_open = 0;     /* libcsv ends a record at a CR as well */
            break;
        case ' ':
        case '\t':
            break;
        case '"':
            im->in_quotes = 1;
            /* fall through */
        default:
            if (!im->row_open) {
                im->row_open = 1;
                im->rec_line = im->line;
            }
        }
    }
    return parse_chunk(im, p, s + start, n - start);
}

static int run(imp *im, FILE *fp)
{
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_APPEND_NULL | CSV_STRICT_FINI) != 0)
        return err_set(im->e, "out of memory");
    csv_set_realloc_func(&p, capped_realloc);
    csv_set_blk_size(&p, CSV_BLK);
    char *blk = malloc(READ_BLK);
    if (!blk) {
        csv_free(&p);
        return err_set(im->e, "out of memory");
    }
    int first = 1, rc = 0;
    size_t n;
    while (rc == 0 && (n = fread(blk, 1, READ_BLK, fp)) > 0) {
        size_t skip = 0;
        if (first && n >= 3 && !memcmp(blk, "\xEF\xBB\xBF", 3))
            skip = 3;              /* a UTF-8 byte order mark, as spreadsheets write */
        first = 0;
        rc = scan(im, &p, blk + skip, n - skip);
    }
    if (rc == 0 && ferror(fp)) {
        rc = err_set(im->e, "%s: read error: %s", im->name, strerror(errno));
    } else if (rc == 0 && im->in_quotes) {
        fail(im, "a quoted field is never closed (the quote opened in this record runs to "
             "the end of the file)");
        rc = -1;
    } else if (rc == 0) {
        if (csv_fini(&p, on_field, on_record, im) != 0 && !im->failed)
            fail(im, "%s", csv_strerror(csv_error(&p)));
        if (im->failed)
            rc = -1;
        else if (!im->have_header)
            rc = err_set(im->e, "%s: empty file: expected a header row naming the columns "
                         "(user_id,tier,segment,tz,...)", im->name);
    }
    free(blk);
    csv_free(&p);
    return rc;
}

int imp_users_fp(store *st, FILE *fp, const char *name, const imp_rules *rules, imp_stats *out,
                 cherr *e)
{
    imp *im = calloc(1, sizeof *im);
    if (!im)
        return err_set(e, "out of memory");
    im->st = st;
    im->name = name;
    im->rules = rules;
    im->zoneinfo = rules && rules->zoneinfo ? rules->zoneinfo : "/usr/share/zoneinfo";
    im->e = e;
    im->line = im->rec_line = 1;
    int rc = store_begin(st, e);
    if (rc == 0) {
        rc = run(im, fp);
        if (rc == 0)
            rc = store_commit(st, e);
        else
            store_rollback(st);
    }
    if (rc == 0 && out)
        *out = im->stats;
    for (size_t i = 0; i < im->ncols; i++)
        free(im->colname[i]);
    for (size_t i = 0; i < im->n_tz_ok; i++)
        free(im->tz_ok[i]);
    id_free(&im->ids);
    buf_free(&im->row);
    free(im->json);
    free(im);
    return rc;
}

int imp_users(store *st, const char *path, const imp_rules *rules, imp_stats *out, cherr *e)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return err_set(e, "%s: cannot open: %s", path, strerror(errno));
    int rc = imp_users_fp(st, fp, path, rules, out, e);
    fclose(fp);
    return rc;
}
