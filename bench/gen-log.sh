#!/bin/sh
# gen-log.sh — a large, verifiable audit log for benchmarks and for measuring queries:
#   sh bench/gen-log.sh [-b BUILD] DB ROWS [USERS]
# makes DB with `chuda init` and fills it as the last month of operation would: USERS
# users (default ROWS/50) of mixed tiers, messages (about ROWS/2.7) in blocks of 50,000,
# every other block a campaign (with a name), each message logged enqueued, then
# suppressed, deferred, retried, sent, failed or delivered over mp_subscribe, sms,
# oa_template or wecom, with the address used as target. Rows carry correct chained
# hashes (tools/auditchain.py), log_counts and the head agree with them, the last
# campaign is still partly queued: `chuda log verify` says intact. 10,000,000 rows take
# about 7 minutes.
set -eu
build=build
[ "${1:-}" = "-b" ] && { build=$2; shift 2; }
[ $# -ge 2 ] || { echo "usage: sh bench/gen-log.sh [-b BUILD] DB ROWS [USERS]" >&2; exit 2; }
db=$1 rows=$2 users=${3:-$(( $2 / 50 + 1 ))}
top=$(cd "$(dirname "$0")/.." && pwd)
[ -e "$db" ] && { echo "gen-log.sh: $db exists" >&2; exit 1; }
"$top/$build/chuda" -d "$db" init >/dev/null
PYTHONPATH="$top/tools" python3 - "$db" "$rows" "$users" <<'PY'
import random, sqlite3, sys, time
from auditchain import row_hash

db, rows, users = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
con = sqlite3.connect(db)
con.execute("PRAGMA synchronous=OFF")
rnd = random.Random(1)
tiers = ["high_value", "potential", "new", "dormant", "churned"]
channels = ["mp_subscribe", "mp_subscribe", "sms", "oa_template", "wecom"]
supp = [("cap", "weekly cap reached: 2 of 2 in 7 days"), ("optout", "opted out of every channel"),
        ("quiet_hours", "quiet hours 22:00-08:00 Asia/Shanghai"), ("no_credit", "no subscription credit")]
fails = {"mp_subscribe": ["43101", "40003", "47003"], "oa_template": ["43004", "40003"],
         "sms": ["isv.MOBILE_NUMBER_ILLEGAL", "FailedOperation.PhoneNumberInBlacklist"],
         "wecom": ["81013"]}

def target(ch, u):
    if ch == "sms":
        return "+86138%08d" % u
    if ch == "wecom":
        return "zhang%d" % u
    return "o%s%018d" % ("mp" if ch == "mp_subscribe" else "oa", u) + "xxxxxxx"

t_start = int(time.time() * 1000) - 30 * 86400000
nmsg = max(1, int(rows / 2.6))          # about 2.7 rows each: the log ends before now
span = 30 * 86400000 // nmsg
block = 50000
con.executemany("INSERT INTO users(user_id, tier, tz, phone) VALUES(?,?,?,?)",
                ((f"u{i}", tiers[i % 5], "Asia/Shanghai", "+86138%08d" % i) for i in range(users)))
prev, seq, mid = b"\x00" * 32, 0, 0
counts = {}
log_sql = ("INSERT INTO log(seq, at, message_id, user_id, campaign_id, event, channel, reason,"
           " code, detail, target, hash) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)")
batch_log, batch_msg, batch_q = [], [], []

def log(at, m, u, c, ev, ch=None, reason=None, code=None, detail=None, tgt=None):
    global prev, seq
    seq += 1
    prev = row_hash(prev, seq, at, m, c, u, ev, ch, reason, code, detail, tgt)
    batch_log.append((seq, at, m, u, c, ev, ch, reason, code, detail, tgt, prev))
    key = (c, at - at % 3600000, ch or "", tiers[int(u[1:]) % 5], ev, code or "")
    counts[key] = counts.get(key, 0) + 1

def flush():
    con.executemany(log_sql, batch_log)
    con.executemany("INSERT INTO msg(id, user_id, template, class, campaign_id, created_at)"
                    " VALUES(?,?,'cart_abandoned','marketing',?,?)", batch_msg)
    con.executemany("INSERT INTO queue(due_at, id) VALUES(?,?)", batch_q)
    con.commit()
    batch_log.clear(); batch_msg.clear(); batch_q.clear()

camp, nblocks = 0, (nmsg + block - 1) // block
while seq < rows:
    mid += 1
    b = (mid - 1) // block
    if (mid - 1) % block == 0 and b % 2 == 1:
        camp += 1
        con.execute("INSERT INTO campaigns(id, name, template, source, state, at, spread, total,"
                    " created_at) VALUES(?,?,?,?,?,?,?,?,?)",
                    (camp, f"活动 {camp}", "cart_abandoned", f"list{camp}.csv", "active",
                     t_start + mid * span, 0, block, t_start + mid * span))
    c = camp if b % 2 == 1 else 0
    u = rnd.randrange(users)
    uid, at = f"u{u}", t_start + mid * span
    batch_msg.append((mid, uid, c, at))
    log(at, mid, uid, c, "enqueued", detail="campaign:%d" % c if c else "cart")
    if c and b >= nblocks - 2 and rnd.random() < 0.2:
        batch_q.append((at + 86400000, mid))          # the last campaign: still queued
        continue
    r, ch = rnd.random(), rnd.choice(channels)
    at += rnd.randrange(50, 2000)
    if r < 0.08:
        code, why = rnd.choice(supp)
        log(at, mid, uid, c, "suppressed", None, why, code)
        continue
    if r < 0.12:
        log(at, mid, uid, c, "deferred", ch, "quiet hours until 08:00", "quiet_hours")
        at += 3600000
    if r > 0.95:
        code = rnd.choice(fails[ch])
        log(at, mid, uid, c, "failed", ch, "provider refused: " + code, code, None, target(ch, u))
        continue
    if r > 0.92:
        log(at, mid, uid, c, "retry", ch, "attempt 1 of 5: system busy", "-1", None, target(ch, u))
        at += 1000
    log(at, mid, uid, c, "sent", ch, None, "0", "%d" % (7000000000 + mid), target(ch, u))
    if rnd.random() < 0.7:
        log(at + 5000, mid, uid, c, "delivered", ch, "receipt", "DELIVRD", None, target(ch, u))
    if len(batch_log) >= 100000:
        flush()
flush()
con.executemany("INSERT INTO log_counts(campaign_id, hour, channel, tier, event, code, n)"
                " VALUES(?,?,?,?,?,?,?)", (k + (n,) for k, n in counts.items()))
if "first_id" in [r[1] for r in con.execute("PRAGMA table_info(campaigns)")]:
    # schema 10: a campaign's messages are found by their id range
    con.execute("UPDATE campaigns SET first_id=r.a, last_id=r.b FROM (SELECT campaign_id, "
                "min(id) a, max(id) b FROM msg WHERE campaign_id!=0 GROUP BY 1) r "
                "WHERE r.campaign_id=campaigns.id")
cols = [r[1] for r in con.execute("PRAGMA table_info(log_meta)")]
if "head_seq" in cols:
    con.execute("UPDATE log_meta SET head_seq=?, head_hash=? WHERE id=1", (seq, prev))
con.commit()
print(f"{db}: {seq} log rows, {mid} messages, {camp} campaigns, {users} users, "
      f"{len(counts)} log_counts rows", file=sys.stderr)
PY
