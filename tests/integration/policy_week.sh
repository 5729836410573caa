# policy_week.sh — 1,000 users of mixed tiers and time zones through a simulated week
# that crosses both autumn DST changes (Europe/London on the last Sunday of October,
# America/New_York a week later), over three channels with fallback.
#
# Every chuda process runs at a chosen instant under libfaketime (the clock then runs
# normally from there): messages are enqueued for the whole week up front, opt-outs
# happen at their instants (most between runs, some while a run waits for a slow
# WeChat token, after it has decided and before the request leaves), and
# `chuda run --until-idle` runs once per simulated hour, and every ten minutes in the
# half hour after 08:00 in each zone, where the quiet-hours release spread shows.
# Channels: the shipped tiers' lists with mp_subscribe, oa_template and Tencent SMS
# configured (wecom is not, and is skipped); some users lack an openid, some have
# unfollowed the official account (43004: refused, the next channel in the same
# message), a few phones are blacklisted; potential users may get one SMS a week.
# Then, from the audit log, the opt-out table, the queue and the simulator's record:
#   no user over their tier's cap (or cap.sms) in any rolling window, nothing
#   non-transactional in the user's local quiet hours (zoneinfo, DST-correct), no
#   marketing SMS outside 08:00-22:00 China time, nothing after a matching opt-out
#   (operator or provider), every message accounted for exactly once, quiet-hours
#   releases spread over 08:00-08:30 local on every morning (the DST ones too), and
#   what the simulator delivered matches what the log says was sent.
. tests/lib.sh "$1"
cd "$T_WORK"
if ! command -v faketime >/dev/null; then
    echo "not ok - faketime is not installed (tools/deps.sh installs it)"
    exit 1
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"
export FAKETIME_DONT_FAKE_MONOTONIC=1
OA_APPID=wxoa0000000000001
TC_ID=AKIDchudatest000000000001
export CHUDA_TEST_OA_SECRET=oa-secret-0123456789
export CHUDA_TEST_TC_KEY=tc-secret-key-0123456789

# The first autumn after the test certificate's notBefore (today): Saturday 20:00 UTC
# before London falls back, to Sunday 16:00 UTC after New York does, 188 hours.
python3 >week.txt <<'PY'
import datetime as dt
from zoneinfo import ZoneInfo
today = dt.date.today()
for year in range(today.year, today.year + 3):
    d = dt.date(year, 10, 31)
    london = d - dt.timedelta(days=(d.weekday() + 1) % 7)       # last Sunday of October
    start = dt.datetime.combine(london - dt.timedelta(days=1), dt.time(20), dt.timezone.utc)
    if start.date() > today:
        break
end = start + dt.timedelta(hours=188)
for z in ("Europe/London", "America/New_York"):                  # both changes inside
    assert start.astimezone(ZoneInfo(z)).utcoffset() != end.astimezone(ZoneInfo(z)).utcoffset(), z
print(start.strftime("%Y-%m-%d %H:%M:%S"), end.strftime("%Y-%m-%d %H:%M:%S"))
PY
read -r START_D START_T END_D END_T <week.txt
START="$START_D $START_T"
echo "# week: $START to $END_D $END_T UTC"

python3 - "$START" <<'PY'
import json, random, sys, datetime as dt
random.seed(7)
start = dt.datetime.fromisoformat(sys.argv[1]).replace(tzinfo=dt.timezone.utc)
tiers = ["high_value"] * 15 + ["potential"] * 35 + ["new"] * 20 + ["dormant"] * 20 + ["churned"] * 10
zones = ["Asia/Shanghai"] * 4 + ["America/New_York"] * 2 + ["Europe/London"] * 3 + ["Asia/Tokyo"]
with open("users.csv", "w") as f:
    f.write("user_id,tier,tz,mp_openid,oa_openid,phone\n")
    for i in range(1000):
        mp = f"oW{i:026d}" if random.random() < 0.75 else ""
        oa = f"oA{i:026d}" if random.random() < 0.9 else ""
        ph = f"+86139{i:08d}" if random.random() < 0.95 else ""
        f.write(f"w{i},{random.choice(tiers)},{random.choice(zones)},{mp},{oa},{ph}\n")
msgs = []
for i in range(1000):
    for k in range(10):
        klass = "transactional" if k == 0 else "marketing" if k < 4 else "lifecycle"
        t = start + dt.timedelta(seconds=random.randrange(0, 184 * 3600))
        m = {"user": f"w{i}", "template": "cart_abandoned", "class": klass,
             "vars": {"product": f"商品{k}"}, "at": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
             "key": f"w{i}:{k}"}
        if klass == "marketing":
            m["expires"] = "510m"
        msgs.append(m)
with open("msgs.jsonl", "w") as f:
    for m in msgs:
        f.write(json.dumps(m, ensure_ascii=False) + "\n")
# who cannot receive what at the provider, and the operator's opt-outs at random instants
# (60 global, 40 marketing-only, 20 of SMS only), each user at most once
picked = random.sample(range(1000), 170)
unfollow, blacklist, opt = picked[:40], picked[40:50], picked[50:]
open("unfollowed.txt", "w").write("".join(f"oA{i:026d}\n" for i in unfollow))
open("blacklist.txt", "w").write(",".join(f"+86139{i:08d}" for i in blacklist))
opts = []
for n, i in enumerate(opt):
    t = start + dt.timedelta(seconds=random.randrange(3600, 184 * 3600))
    ch, cat = ("*", "*") if n < 60 else ("*", "marketing") if n < 100 else ("sms", "*")
    opts.append((t.strftime("%Y-%m-%d %H:%M:%S"), f"w{i}", ch, cat))
with open("optouts.txt", "w") as f:
    for o in sorted(opts):
        f.write("|".join(o) + "\n")
PY

chuda_setup "[wechat.$OA_APPID]
secret = $CHUDA_TEST_OA_SECRET
[tencent.$TC_ID]
secret_key = $CHUDA_TEST_TC_KEY
sdk_app_id = 1400006666
blacklist = $(cat blacklist.txt)
per_number_30s = 100000
per_number_daily = 100000
[sim]
tencent_max_skew = 100000000" "[chuda]
poll = 20ms
[channel.mp_subscribe]
credits = off
[tier.potential]
cap.sms = 1/7d"
cat >>chuda.conf <<EOF
[channel.oa_template]
base_url = $SIM_URL
appid = $OA_APPID
secret_env = CHUDA_TEST_OA_SECRET
retry_base = 100ms
retry_cap = 400ms
[channel.sms]
base_url = $SIM_URL
provider = tencent
secret_id = $TC_ID
secret_env = CHUDA_TEST_TC_KEY
sign_name = 触达测试
sdk_app_id = 1400006666
retry_base = 100ms
retry_cap = 400ms
EOF
while read -r oa; do
    sim_ctl POST /_sim/follow "{\"appid\":\"$OA_APPID\",\"openid\":\"$oa\",\"follow\":false}" >/dev/null
done <unfollowed.txt

at() {  # at "YYYY-MM-DD HH:MM:SS" CMD...: run CMD with the clock starting then
    t=$1; shift
    faketime -f "@$t" "$@"
}

t_ok "import 1000 users" chuda users import users.csv
at "$START" "$CHUDA" -c chuda.conf enqueue --from msgs.jsonl >ids.txt 2>enq.err
t_eq "10000 messages queued" 10000 "$(wc -l < ids.txt)"

# the steps: a run every hour (six of them with a slow token and opt-outs landing
# while they wait), a run every 10 minutes from 08:10 to 08:30 local in each zone, each
# operator opt-out at its instant
python3 - "$START" >steps.txt <<'PY'
import sys, datetime as dt
from zoneinfo import ZoneInfo
start = dt.datetime.fromisoformat(sys.argv[1]).replace(tzinfo=dt.timezone.utc)
end = start + dt.timedelta(hours=188)
fmt = lambda t: t.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
acts = [(l.split("|")[0], "optout", l.strip()) for l in open("optouts.txt")]
midrun = {10 + 29 * k for k in range(6)}
acts += [(fmt(start + dt.timedelta(hours=h)), "midrun" if h in midrun else "run", "")
         for h in range(189)]
for z in ("Asia/Shanghai", "Asia/Tokyo", "Europe/London", "America/New_York"):
    day = start.date() - dt.timedelta(days=1)
    while day <= end.date():
        for m in (10, 20, 30):
            t = dt.datetime.combine(day, dt.time(8, m), ZoneInfo(z))
            if start < t < end:
                acts.append((fmt(t), "run", ""))
        day += dt.timedelta(days=1)
for t, kind, arg in sorted(set(acts)):
    print(f"{kind}|{t}|{arg}")
PY
token_wait() {  # a decided message is waiting for the (slow) WeChat token
    [ "$(sqlite3 -cmd '.timeout 2000' chuda.db "select count(*) from sends where state = 'reserved' and channel in ('mp_subscribe', 'oa_template')")" -gt 0 ]
}
midrun() {      # midrun T: a run whose WeChat tokens take 2 s; opt out up to 3 users meanwhile
    sim_ctl DELETE /_sim/fault >/dev/null
    sim_ctl POST /_sim/fault '{"path":"/cgi-bin/stable_token","count":2,"delay_ms":2000}' >/dev/null
    r0=$(date +%s.%N)
    at "$1" "$CHUDA" -c chuda.conf run --until-idle 2>>run.err &
    pid=$!
    if wait_for 5 token_wait; then
        sqlite3 -cmd '.timeout 2000' chuda.db "select user_id, message_id from sends where state = 'reserved' and channel in ('mp_subscribe', 'oa_template') and user_id in (select user_id from sends where state = 'reserved' and channel in ('mp_subscribe', 'oa_template') group by user_id limit 3)" >victims.txt
        # the opt-out's clock: the run's, rounded up to the next second
        ot=$(python3 -c 'import sys, math, time, datetime as d; print((d.datetime.fromisoformat(sys.argv[1]) + d.timedelta(seconds=math.ceil(time.time() - float(sys.argv[2])))).strftime("%Y-%m-%d %H:%M:%S"))' "$1" "$r0")
        for u in $(cut -d'|' -f1 victims.txt | sort -u); do
            at "$ot" "$CHUDA" -c chuda.conf optout add "$u" --reason mid-run >/dev/null
        done
        cat victims.txt >>midrun.txt
    fi
    wait $pid
    rc=$?
    sim_ctl DELETE /_sim/fault >/dev/null
    return $rc
}
: >midrun.txt       # user|message: decided, waiting for the token as the user opted out
runs=0
runs_ok=0
while IFS='|' read -r kind t ot ou och ocat; do
    case $kind in
    optout)
        at "$t" "$CHUDA" -c chuda.conf optout add "$ou" --channel "$och" --category "$ocat" >/dev/null
        continue ;;
    midrun) midrun "$t" ;;
    run) at "$t" "$CHUDA" -c chuda.conf run --until-idle 2>>run.err ;;
    esac && runs_ok=$((runs_ok + 1))
    runs=$((runs + 1))
done <steps.txt
t_eq "every run exits 0 ($runs runs)" "$runs" "$runs_ok"

chuda log --format json >log.jsonl
sqlite3 chuda.db "select id from queue" >queued.txt
sqlite3 -separator '|' chuda.db "select user_id, channel, category, at, source from optouts" >optouts.db.txt
sim_ctl GET /_sim/requests >sim.json
t_ok "week invariants hold" python3 - <<'PY'
import json, re, sys, collections, datetime as dt
from zoneinfo import ZoneInfo
users = {}
for line in open("users.csv").read().splitlines()[1:]:
    uid, tier, tz = line.split(",")[:3]
    users[uid] = (tier, ZoneInfo(tz))
caps = {"high_value": (5, 7), "potential": (3, 7), "new": (3, 7), "dormant": (2, 30), "churned": (1, 30)}
ids = [int(x) for x in open("ids.txt").read().split()]
msgs = [json.loads(l) for l in open("msgs.jsonl")]
klass = {i: m["class"] for i, m in zip(ids, msgs)}
category = lambda i: "service" if klass[i] == "transactional" else "marketing"
events = [json.loads(l) for l in open("log.jsonl")]
parse = lambda s: dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
local = lambda e: parse(e["at"]).astimezone(users[e["user_id"]][1])
bad = []
# every message accounted for exactly once
terminal = {"sent", "failed", "suppressed", "expired", "cancelled"}
ends = collections.Counter(e["message_id"] for e in events if e["event"] in terminal)
queued = set(int(x) for x in open("queued.txt").read().split())
for i in ids:
    if ends[i] + (1 if i in queued else 0) != 1:
        bad.append(f"message {i}: {ends[i]} terminal events, queued={i in queued}")
sent = [e for e in events if e["event"] == "sent"]
# caps per rolling window (tier, and potential's cap.sms = 1/7d), non-transactional only;
# a send's time is the log's, the policy's is its reservation: allow them a second
def over(times, n, days, what):
    times.sort()
    for a in range(len(times)):
        inside = [t for t in times[a:] if t - times[a] < dt.timedelta(days=days, seconds=-1)]
        if len(inside) > n:
            return f"{what}: {len(inside)} sends within {days}d from {times[a]}"
per_user, per_sms = collections.defaultdict(list), collections.defaultdict(list)
for e in sent:
    if klass[e["message_id"]] != "transactional":
        per_user[e["user_id"]].append(parse(e["at"]))
        if e["channel"] == "sms" and users[e["user_id"]][0] == "potential":
            per_sms[e["user_id"]].append(parse(e["at"]))
for u, times in per_user.items():
    bad.append(over(times, *caps[users[u][0]], f"{u} ({users[u][0]})"))
for u, times in per_sms.items():
    bad.append(over(times, 1, 7, f"{u} cap.sms"))
bad = [b for b in bad if b]
# quiet hours 23:00-08:00 local (the user's zone, DST-correct), non-transactional
for e in sent:
    if klass[e["message_id"]] != "transactional":
        l = local(e)
        if l.hour >= 23 or l.hour < 8:
            bad.append(f"message {e['message_id']} sent at {l} local to {e['user_id']}")
# marketing SMS only 08:00-22:00 China time
for e in sent:
    if klass[e["message_id"]] == "marketing" and e["channel"] == "sms":
        c = parse(e["at"]).astimezone(ZoneInfo("Asia/Shanghai"))
        if not 8 <= c.hour < 22:
            bad.append(f"marketing SMS {e['message_id']} at {c} China time")
# nothing after a matching opt-out, the operator's or the provider's
optouts = [l.split("|") for l in open("optouts.db.txt").read().splitlines()]
by_user = collections.defaultdict(list)
for e in sent:
    by_user[e["user_id"]].append(e)
for u, ch, cat, at, source in optouts:
    t = dt.datetime.fromtimestamp(int(at) / 1000, dt.timezone.utc)
    for e in by_user[u]:
        if parse(e["at"]) > t + dt.timedelta(seconds=1) and ch in ("*", e["channel"]) \
                and cat in ("*", category(e["message_id"])):
            bad.append(f"message {e['message_id']} sent to {u} on {e['channel']} after {source} opt-out {ch}/{cat} at {t}")
# the opt-outs that landed while their message waited for its token stopped it
midrun = [l.split("|") for l in open("midrun.txt").read().splitlines()]
stopped = {e["message_id"] for e in events if "just before the send" in (e["reason"] or "")}
sent_ids = {e["message_id"] for e in sent}
for u, mid in midrun:
    if int(mid) in sent_ids:
        bad.append(f"message {mid} to {u} sent although {u} opted out while it waited")
if len(midrun) < 5 or len(stopped) < 5:
    bad.append(f"only {len(midrun)} messages waited for a token as their user opted out, "
               f"{len(stopped)} stopped just before the send")
# fallback: refused by the official account (43004), sent by SMS in the same message
refused = {e["message_id"] for e in events if e["event"] == "retry" and e["code"] == "43004"}
fell_back = [e for e in sent if e["message_id"] in refused and e["channel"] == "sms"]
provider_outs = [o for o in optouts if o[4] == "provider"]
chans = collections.Counter(e["channel"] for e in sent)
if len(chans) < 3 or not fell_back or len(provider_outs) < 5:
    bad.append(f"channels {dict(chans)}, {len(fell_back)} fell back from 43004 to SMS, "
               f"{len(provider_outs)} provider opt-outs")
# the release spread: every quiet-hours deferral ends in 08:00-08:30 local; what leaves
# right after one is spread over the 08:10, 08:20 and 08:30 runs, on the DST mornings too
last = {}
released = collections.Counter()
dst_mornings = set()
for e in events:
    i = e["message_id"]
    if e["event"] == "deferred" and e["code"] == "quiet_hours":
        m = re.search(r"deferred to (\S+Z)$", e["reason"])
        until = parse(m.group(1)).astimezone(users[e["user_id"]][1])
        if not (until.hour == 8 and until.minute < 30):
            bad.append(f"message {i} released at {until} local")
        if until.utcoffset() != local(e).utcoffset():
            dst_mornings.add(str(users[e["user_id"]][1]))
    if e["event"] == "sent" and last.get(i) == "quiet_hours":
        l = local(e)
        slot = (l.hour * 60 + l.minute - 480) // 10
        if not 0 <= slot <= 3:
            bad.append(f"message {i} released from quiet hours at {l} local")
        released[slot] += 1
    last[i] = e["code"] if e["event"] == "deferred" else e["event"]
n = sum(released.values())
if n < 300 or len([s for s in released if released[s] > n / 10]) < 3 or max(released.values()) > n * 0.6:
    bad.append(f"quiet-hours releases by 10 minutes after 08:00: {dict(sorted(released.items()))}")
if dst_mornings != {"Europe/London", "America/New_York"}:
    bad.append(f"released across a DST change only in {dst_mornings}")
sup = collections.Counter(e["code"] for e in events if e["event"] == "suppressed")
defer = collections.Counter(e["code"] for e in events if e["event"] == "deferred")
print(f"sent {len(sent)} {dict(chans)}, suppressed {dict(sup)}, deferred {dict(defer)}, "
      f"expired {sum(1 for e in events if e['event'] == 'expired')}, still queued {len(queued)}; "
      f"{len(fell_back)} fell back 43004 -> sms; released from quiet hours by 10 min: "
      f"{dict(sorted(released.items()))}; {len(stopped)} stopped just before the send")
if not sup.get("cap") or not defer.get("cap") or not sup.get("optout"):
    bad.append("the week did not exercise caps (drop and defer) and opt-outs")
for b in bad[:20]:
    print(b)
sys.exit(1 if bad else 0)
PY
sed 's/^/    # /' "$T_WORK/.out" | head -3
t_ok "the simulator delivered what the log says was sent; extras only for uncertain ones" python3 - <<'PY'
import json, collections
sent = collections.Counter()
unc = collections.Counter()
for l in open("log.jsonl"):
    e = json.loads(l)
    if e["event"] in ("sent", "uncertain"):
        (sent if e["event"] == "sent" else unc)[e["channel"]] += 1
got = collections.Counter()
for r in json.load(open("sim.json")):
    if r["delivered"]:
        ch = {"/cgi-bin/message/subscribe/send": "mp_subscribe",
              "/cgi-bin/message/template/send": "oa_template"}.get(r["path"], "sms")
        got[ch] += 1
print("sent", dict(sent), "delivered", dict(got), "uncertain", dict(unc))
assert set(got) == set(sent), (got, sent)
for ch in sent:
    assert sent[ch] <= got[ch] <= sent[ch] + unc[ch], ch
PY
sed 's/^/    # /' "$T_WORK/.out" | head -1
t_done
