/* campaign.h — campaigns: one template to many users at once, queued in one transaction,
 * then paused, resumed, cancelled and measured as a whole.
 *
 * Recipients come from a CSV file (header with a user_id column; every other column is
 * a per-recipient variable, overriding --var; an empty cell leaves the variable unset)
 * or from a segment expression over the users table (below). Every message goes through
 * an enq_batch (enqueue.h) with campaign_id set and no key or tag of its own: the tag
 * "campaign:<id>" names the campaign's messages (chuda cancel --user U --tag). The first bad recipient aborts the whole campaign with
 * "FILE:LINE: reason" (or "user 'U': reason" for a segment) and nothing is written, not
 * even the campaign row. The file is streamed: memory stays flat however long it is.
 *
 * Spread: with a spread S over N recipients, recipient i (0-based, in file order or
 * user_id order for a segment) is due at AT + i*S/N: evenly over [AT, AT+S). N is
 * counted first — a streaming pass over the file that only parses, or a count query.
 *
 * Segment expressions (case-insensitive keywords, 'and' binds tighter than 'or'):
 *
 *   expr  := term { "or" term }
 *   term  := cond { "and" cond }
 *   cond  := "(" expr ")" | field ("=" | "!=") value
 *   field := tier | segment | tz | user_id | ATTRIBUTE     (letters, digits, _ - . and
 *                                                          any non-ASCII character)
 *   value := a bare word (anything up to a space or a parenthesis)
 *          | "quoted" or 'quoted' (\" \' \\ inside)
 *
 * e.g. `tier=dormant and city=上海`, `(tier=new or tier=potential) and city!=""`. An
 * attribute a user does not have compares as "": `city=""` selects users without one,
 * `city!=上海` includes them. Anything else is refused naming the character position.
 *
 * Pause holds the campaign's queued messages (they keep their due time but are neither
 * due nor claimed); resume releases them; cancel removes them, logging each `cancelled`.
 * A message being sent at that moment is not touched: it finishes. Pause and cancel may
 * be repeated to catch a message that was being sent and came back to the queue. */
#ifndef CHUDA_CAMPAIGN_H
#define CHUDA_CAMPAIGN_H

#include <jansson.h>
#include <stdint.h>

#include "app.h"
#include "err.h"
#include "store.h"

/* ---- segment expressions ------------------------------------------------------------ */

typedef struct campaign_seg {
    store_seg_node *v;          /* postfix (store.h), names and values owned */
    int *pos;                   /* parallel to v: 1-based character position in the text
                                   (of the value, for a condition) */
    int n, cap;
} campaign_seg;

/* Parse `expr`. Errors: "segment: position 12: expected '=' or '!=' after 'city'". */
int campaign_seg_parse(const char *expr, campaign_seg *out, cherr *e);
void campaign_seg_free(campaign_seg *s);

/* ---- create --------------------------------------------------------------------------- */

typedef struct campaign_spec {
    const char *name, *tmpl;
    const char *recipients;     /* a CSV file, or NULL */
    const char *segment;        /* an expression, or NULL (exactly one of the two) */
    const char *at;             /* TIME (timeutil.h), NULL: now */
    int64_t spread;             /* ms, 0: every message due at `at` */
    json_t *vars;               /* --var k=v (object of strings), or NULL */
    const char *klass;          /* NULL: the template's */
    const char *expires;        /* TIME or DURATION from each message's due time, or NULL */
} campaign_spec;

/* Progress while queueing: `fraction` of the work done (0..1, -1 unknown), `rows`
 * queued so far. Called every few thousand rows and once at the end. */
typedef void (*campaign_progress_fn)(void *arg, double fraction, long rows);

typedef struct campaign_result {
    int64_t id;
    long queued;
    int64_t first_due, last_due;
} campaign_result;

int campaign_create(app *a, const campaign_spec *s, int64_t now, campaign_progress_fn progress,
                    void *arg, campaign_result *out, cherr *e);

/* ---- control -------------------------------------------------------------------------- */

/* Each is one transaction; *n says how many messages it touched. */
int campaign_pause(app *a, int64_t id, int64_t now, long *n, cherr *e);
int campaign_resume(app *a, int64_t id, int64_t now, long *n, cherr *e);
int campaign_cancel(app *a, int64_t id, int64_t now, long *n, cherr *e);

/* ---- the funnel ----------------------------------------------------------------------- */

/* The campaign and its funnel as a JSON object (served by GET /v1/campaigns/{id}):
 *   id, name, template, source, state, at, spread_ms, total, created_at,
 *   funnel: { queued, held, sending, enqueued, sent, delivered, deferred, retry,
 *             suppressed: {total, by_reason: {code: n}}, failed: {total, by_code: {code: n}},
 *             expired, cancelled, uncertain }
 * queued/held/sending are messages in the queue now; the rest count audit events
 * (log_counts), so `deferred` counts deferrals, not messages. Returns 1 with *out set
 * (caller decrefs), 0 when there is no such campaign (e says so), -1 on error. */
int campaign_show_json(app *a, int64_t id, json_t **out, cherr *e);

#endif
