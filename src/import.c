/* import.c — streaming a user CSV into the store in one transaction (see import.h).
 *
 * csvr.c reads the file (libcsv, line tracking, field cap, field count and UTF-8
 * checks); this file owns the user columns: the header's names, each record checked,
 * turned into a store_user (extra columns become a JSON object) and upserted. The
 * first error stops the import and rolls the transaction back. Memory is bounded by
 * the longest record plus the set of user ids seen (for the duplicate check). */
#include "import.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "csvr.h"
#include "fixstr.h"
#include "tz.h"

#define MAX_COLS      CSVR_MAX_COLS    /* columns in the header */
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
    const imp_rules *rules;
    const char *zoneinfo;
    imp_stats stats;
    cherr *e;
    csvr *r;                           /* the reader, during a callback */

    /* the header */
    int have_header;
    size_t ncols;
    int kind[MAX_COLS];                /* K_* per column */
    char *colname[MAX_COLS];
    int col_of[K_COUNT];               /* column of each known field, -1 if absent */

    id_set ids;
    char *tz_ok[TZ_CACHE];
    size_t n_tz_ok;
    char *json;                        /* the attrs object of the current record */
    size_t json_cap;
} imp;

/* ---- errors ----------------------------------------------------------------------- */

/* A column's name as errors show it: "tier", "attrs column 'note'" (csvr_label_fn). */
static void col_label(void *arg, size_t i, char *b, size_t len)
{
    const imp *im = arg;
    if (im->kind[i] == K_ATTR)
        snprintf(b, len, "attrs column '%.64s'", im->colname[i]);
    else
        fs_copy(b, len, im->colname[i]);
}

/* Fail the import: "FILE:LINE: " + reason (first failure wins). */
#define fail(im, ...) csvr_fail((im)->r, __VA_ARGS__)

/* ---- checks on one field ---------------------------------------------------------- */

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
    if (!tz_name_shape(tz)) {
        snprintf(why, wlen, "'%.64s' is not a zone name like Asia/Shanghai (letters, digits, "
                 "'/', '_', '+', '-'; no '..', no leading '/', at most %d bytes)", tz,
                 TZ_NAME_MAX);
        return -1;
    }
    if (!tz_zone_file(im->zoneinfo, tz)) {
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
    return csvr_field(im->r, i);
}

static size_t flen(const imp *im, size_t i)
{
    return csvr_len(im->r, i);
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

static int header(csvr *r, void *arg)
{
    imp *im = arg;
    char names[256];
    im->r = r;
    im->ncols = csvr_nfields(r);
    for (int k = 0; k < K_COUNT; k++)
        im->col_of[k] = -1;
    for (size_t i = 0; i < im->ncols; i++) {
        char *s = csvr_column_name(r, i, im->colname);
        if (!s)
            return -1;
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
    return 0;
}

/* ---- one record ------------------------------------------------------------------- */

/* The value of a known column, or NULL when the column is absent or the field empty. */
static char *known(imp *im, int k)
{
    int c = im->col_of[k];
    return c >= 0 && flen(im, (size_t)c) ? field(im, (size_t)c) : NULL;
}

static int attrs_json(imp *im)
{
    json_t *o = json_object();
    if (!o)
        return -1;
    for (size_t i = 0; i < im->ncols; i++) {
        if (im->kind[i] != K_ATTR || !flen(im, i))
            continue;           /* an empty attribute is absent: defaults apply */
        /* validated UTF-8 without NUL by csvr */
        if (json_object_set_new_nocheck(o, im->colname[i],
                                        json_stringn_nocheck(field(im, i), flen(im, i))) < 0) {
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

/* A data record: its field count and UTF-8 were checked by csvr. */
static int record(csvr *r, void *arg)
{
    imp *im = arg;
    char why[256];
    im->r = r;
    im->stats.rows++;
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
    long prev = id_add(&im->ids, u.user_id, flen(im, (size_t)im->col_of[K_USER_ID]),
                       csvr_line(r));
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
    return 0;
}

/* ---- the stream ------------------------------------------------------------------- */

int imp_users_fp(store *st, FILE *fp, const char *name, const imp_rules *rules, imp_stats *out,
                 cherr *e)
{
    imp *im = calloc(1, sizeof *im);
    if (!im)
        return err_set(e, "out of memory");
    im->st = st;
    im->rules = rules;
    im->zoneinfo = rules && rules->zoneinfo ? rules->zoneinfo : TZ_DIR;
    im->e = e;
    csvr_opts o = {
        .name = name, .header = 1, .check_utf8 = 1, .field_max = IMP_FIELD_MAX,
        .header_hint = "user_id,tier,segment,tz,...", .on_header = header, .on_record = record,
        .label = col_label, .arg = im,
    };
    int rc = store_begin(st, e);
    if (rc == 0) {
        rc = csvr_read(fp, &o, NULL, e);
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
