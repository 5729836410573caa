/* report.h — the operator's HTML report: aggregated figures in, one page out.
 *
 * report_html() is a pure generator: no I/O, no clock, no database. It turns a JSON
 * object of figures (the stats query builds it) into one self-contained HTML page:
 * inline CSS and inline SVG charts, no JavaScript, no fonts, scripts or images from
 * anywhere — it renders the same with no network. Every string taken from the data
 * (titles, campaign names, reasons, codes, channels) is HTML-escaped, so a campaign
 * named "<script>…" shows as text.
 *
 * Input schema (every member optional unless marked; counts are integers >= 0):
 *
 *   {
 *     "title":        "string",            page title (default "chuda 触达报告")
 *     "generated_at": "ISO 8601",          shown as given
 *     "since":        "ISO 8601" | null,   the period, shown as given (null: open)
 *     "until":        "ISO 8601" | null,
 *     "hourly":     [ {"hour": "2026-11-23T10:00Z",   required, ISO 8601 with offset;
 *                      "channel": "sms",              required
 *                      "sent": 12} ],                 required count
 *     "suppressed": [ {"reason": "cap", "n": 5} ],    both required
 *     "campaigns":  [ {"id": 1, "name": "双11召回",    id required (integer), name optional
 *                      "queued": 1000, "sent": 800, "delivered": 700,
 *                      "deferred": 30, "suppressed": 120, "failed": 50} ],  counts optional (0)
 *     "errors":     [ {"channel": "mp_subscribe", "code": "43101", "n": 3} ],  all required;
 *                                                      code may also be an integer
 *     "totals":     {"enqueued":, "sent":, "delivered":, "failed":, "suppressed":,
 *                    "expired":, "cancelled":}          each optional (absent shows "—")
 *   }
 *
 * Unknown members are ignored (the stats query may add more). Rows repeating a key
 * (same hour+channel, reason, channel+code) are summed. Charts: sends per hour by
 * channel as stacked bars (hours with no sends stay as gaps; a period longer than
 * ten days is drawn per day, longer than 240 days per week), suppressions by reason
 * and error codes as horizontal bars (largest first, the tail folded into "other"),
 * and one funnel per campaign (queued → sent → delivered, then deferred / suppressed
 * / failed). Times on the axis are UTC.
 */
#ifndef CHUDA_REPORT_H
#define CHUDA_REPORT_H

#include <jansson.h>

#include "buf.h"
#include "err.h"

/* Append the page for `data` to `out`. On bad input returns -1 and names the member
 * ("hourly[3].sent: expected an integer >= 0"); `out` may then hold a partial page. */
int report_html(json_t *data, buf *out, cherr *e);

#endif
