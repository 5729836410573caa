# policy_week.sh — 1,000 users of mixed tiers and time zones through a simulated week.
#
# Every chuda process runs at a chosen instant under libfaketime (the clock then runs
# normally from there): messages are enqueued for the whole week up front, opt-outs
# happen at their instants, and `chuda run --until-idle` runs once per simulated hour.
# Then, from the audit log, the queue and what the simulator received:
#   no user over their tier's cap in any rolling window, nothing non-transactional sent
#   in the user's local quiet hours, nothing sent after a matching opt-out, and every
#   message accounted for exactly once.
. tests/lib.sh "$1"
cd "$T_WORK"
if ! command -v faketime >/dev/null; then
    echo "not ok - faketime is not installed (tools/deps.sh installs it)"
    exit 1
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"
export FAKETIME_DONT_FAKE_MONOTONIC=1
# next Monday 00:00 UTC (after the test certificate's notBefore, which is today)
START=$(python3 -c 'import datetime as d; t=d.date.today()+d.timedelta(days=1); t+=d.timedelta(days=(7-t.weekday())%7); print(t.strftime("%Y-%m-%d 00:00:00"))')

chuda_setup "" "[chuda]
poll = 200ms
[channel.mp_subscribe]
credits = off
[tier.high_value]
channels = mp_subscribe
[tier.potential]
channels = mp_subscribe
[tier.new]
channels = mp_subscribe
[tier.dormant]
channels = mp_subscribe
[tier.churned]
channels = mp_subscribe"

at() {  # at "YYYY-MM-DD HH:MM:SS" CMD...: run CMD with the clock starting then
    t=$1; shift
    faketime -f "@$t" "$@"
}

python3 - "$START" <<'PY'
import json, random, sys, datetime as dt
random.seed(7)
start = dt.datetime.fromisoformat(sys.argv[1]).replace(tzinfo=dt.timezone.utc)
tiers = ["high_value"] * 15 + ["potential"] * 35 + ["new"] * 20 + ["dormant"] * 20 + ["churned"] * 10
zones = ["Asia/Shanghai"] * 7 + ["America/New_York", "Europe/London", "Asia/Tokyo"]
with open("users.csv", "w") as f:
    f.write("user_id,tier,tz,mp_openid\n")
    for i in range(1000):
        f.write(f"w{i},{random.choice(tiers)},{random.choice(zones)},oW{i:026d}\n")
msgs = []
for i in range(1000):
    for k in range(10):
        klass = "transactional" if k == 0 else "marketing" if k < 4 else "lifecycle"
        t = start + dt.timedelta(seconds=random.randrange(0, 7 * 86400))
        msgs.append({"user": f"w{i}", "template": "cart_abandoned", "class": klass,
                     "vars": {"product": f"商品{k}"}, "at": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "key": f"w{i}:{k}"})
with open("msgs.jsonl", "w") as f:
    for m in msgs:
        f.write(json.dumps(m, ensure_ascii=False) + "\n")
# opt-outs at random instants: 60 global, 60 marketing-only
opts = []
for i in random.sample(range(1000), 120):
    t = start + dt.timedelta(seconds=random.randrange(3600, 6 * 86400))
    opts.append((t.strftime("%Y-%m-%d %H:%M:%S"), f"w{i}", "*" if len(opts) < 60 else "marketing"))
opts.sort()
with open("optouts.txt", "w") as f:
    for o in opts:
        f.write("|".join(o) + "\n")
PY

t_ok "import 1000 users" chuda users import users.csv
at "$START" "$CHUDA" -c chuda.conf enqueue --from msgs.jsonl >ids.txt 2>enq.err
t_eq "10000 messages queued" 10000 "$(wc -l < ids.txt)"

# the week, hour by hour; each opt-out is applied at its instant, before the next hourly run
python3 - "$START" >steps.txt <<'PY'
import sys, datetime as dt
start = dt.datetime.fromisoformat(sys.argv[1])
acts = [(l.split("|")[0], "optout", l.strip()) for l in open("optouts.txt")]
acts += [((start + dt.timedelta(hours=h)).strftime("%Y-%m-%d %H:%M:%S"), "run", "")
         for h in range(7 * 24 + 1)]
for t, kind, arg in sorted(acts):
    print(f"{kind}|{t}|{arg}")
PY
runs_ok=0
while IFS='|' read -r kind t ot ou ocat; do
    if [ "$kind" = optout ]; then
        if [ "$ocat" = "*" ]; then
            at "$t" "$CHUDA" -c chuda.conf optout add "$ou" >/dev/null
        else
            at "$t" "$CHUDA" -c chuda.conf optout add "$ou" --category "$ocat" >/dev/null
        fi
        echo "$t|$ou|$ocat" >>applied.txt
    elif at "$t" "$CHUDA" -c chuda.conf run --until-idle 2>>run.err; then
        runs_ok=$((runs_ok + 1))
    fi
done <steps.txt
t_eq "every hourly run exits 0" 169 "$runs_ok"

chuda log --format json >log.jsonl
sqlite3 chuda.db "select id from queue" >queued.txt
t_ok "week invariants hold" python3 - <<'PY'
import json, sys, collections, datetime as dt
from zoneinfo import ZoneInfo
users = {}
for line in open("users.csv").read().splitlines()[1:]:
    uid, tier, tz, _ = line.split(",")
    users[uid] = (tier, tz)
caps = {"high_value": (5, 7), "potential": (3, 7), "new": (3, 7), "dormant": (2, 30), "churned": (1, 30)}
ids = [int(x) for x in open("ids.txt").read().split()]
msgs = [json.loads(l) for l in open("msgs.jsonl")]
klass = {i: m["class"] for i, m in zip(ids, msgs)}
events = [json.loads(l) for l in open("log.jsonl")]
parse = lambda s: dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
bad = []
# every message accounted for exactly once
terminal = {"sent", "failed", "suppressed", "expired", "cancelled"}
ends = collections.Counter(e["message_id"] for e in events if e["event"] in terminal)
queued = set(int(x) for x in open("queued.txt").read().split())
for i in ids:
    n = ends[i] + (1 if i in queued else 0)
    if n != 1:
        bad.append(f"message {i}: {ends[i]} terminal events, queued={i in queued}")
sent = [e for e in events if e["event"] == "sent"]
# caps per rolling window, non-transactional only
per_user = collections.defaultdict(list)
for e in sent:
    if klass[e["message_id"]] != "transactional":
        per_user[e["user_id"]].append(parse(e["at"]))
for u, times in per_user.items():
    n, days = caps[users[u][0]]
    times.sort()
    for a in range(len(times)):
        inside = [t for t in times[a:] if t - times[a] < dt.timedelta(days=days)]
        if len(inside) > n:
            bad.append(f"{u} ({users[u][0]}): {len(inside)} sends within {days}d from {times[a]}")
            break
# quiet hours 23:00-08:00 local, non-transactional
for e in sent:
    if klass[e["message_id"]] == "transactional":
        continue
    local = parse(e["at"]).astimezone(ZoneInfo(users[e["user_id"]][1]))
    if local.hour >= 23 or local.hour < 8:
        bad.append(f"message {e['message_id']} sent at {local} local to {e['user_id']}")
# nothing after a matching opt-out
for line in open("applied.txt").read().splitlines():
    t, u, cat = line.split("|")
    t = dt.datetime.fromisoformat(t).replace(tzinfo=dt.timezone.utc)
    for e in sent:
        if e["user_id"] == u and parse(e["at"]) > t + dt.timedelta(seconds=1):
            if cat == "*" or klass[e["message_id"]] != "transactional":
                bad.append(f"message {e['message_id']} sent to {u} after opt-out {cat} at {t}")
sup = collections.Counter(e["code"] for e in events if e["event"] == "suppressed")
defer = collections.Counter(e["code"] for e in events if e["event"] == "deferred")
print(f"sent {len(sent)}, suppressed {dict(sup)}, deferred {dict(defer)}, still queued {len(queued)}")
if not sent or not sup.get("cap") or not defer.get("quiet_hours") or not sup.get("optout"):
    bad.append("the week did not exercise caps, quiet hours and opt-outs")
for b in bad[:20]:
    print(b)
sys.exit(1 if bad else 0)
PY
sed 's/^/    # /' "$T_WORK/.out" | head -3
sent=$(grep -c '"event":"sent"' log.jsonl)
unc=$(grep -c '"event":"uncertain"' log.jsonl)
got=$(sim_requests /cgi-bin/message/subscribe/send | grep -c '"delivered": true')
t_ok "the simulator delivered every sent message; extras only for uncertain ones ($got vs $sent, $unc uncertain)" \
    test "$got" -ge "$sent" -a "$((got - sent))" -le "$unc"
t_done
