# channel_deliver.sh — a message's way from claim to outcome (src/deliver.c) through the
# scheduler, against the simulator: what the log, the send ledger and the simulator's
# record show for each behaviour, one section each (the ==== lines).
. tests/lib.sh "$1"
cd "$T_WORK"
chuda_setup "[wechat.$OA_APPID]
secret = $CHUDA_TEST_OA_SECRET" "[policy]
quiet_hours = none
[channel.mp_subscribe]
credits = off
timeout = 5000
[tier.once]
cap = 1/7d
channels = mp_subscribe
[tier.hourly]
cap = 1/1h
channels = mp_subscribe
[tier.mponly]
channels = mp_subscribe"
oa_channel
cat >users.csv <<'CSV'
user_id,tier,tz,mp_openid,oa_openid
v1,potential,Asia/Shanghai,oV1xxxxxxxxxxxxxxxxxxxxxxxxx,
v2,potential,Asia/Shanghai,oV2xxxxxxxxxxxxxxxxxxxxxxxxx,
v3,potential,Asia/Shanghai,oV3xxxxxxxxxxxxxxxxxxxxxxxxx,
f1,potential,Asia/Shanghai,oF1xxxxxxxxxxxxxxxxxxxxxxxxx,oOF1xxxxxxxxxxxxxxxxxxxxxxxx
f2,mponly,Asia/Shanghai,oF2xxxxxxxxxxxxxxxxxxxxxxxxx,oOF2xxxxxxxxxxxxxxxxxxxxxxxx
b1,potential,Asia/Shanghai,oB1xxxxxxxxxxxxxxxxxxxxxxxxx,oOB1xxxxxxxxxxxxxxxxxxxxxxxx
l1,once,Asia/Shanghai,oL1xxxxxxxxxxxxxxxxxxxxxxxxx,
h1,hourly,Asia/Shanghai,oH1xxxxxxxxxxxxxxxxxxxxxxxxx,
z1,once,Asia/Shanghai,oZ1xxxxxxxxxxxxxxxxxxxxxxxxx,
c1,potential,Asia/Shanghai,oC1xxxxxxxxxxxxxxxxxxxxxxxxx,
c2,potential,Asia/Shanghai,oC2xxxxxxxxxxxxxxxxxxxxxxxxx,
c3,potential,Asia/Shanghai,oC3xxxxxxxxxxxxxxxxxxxxxxxxx,
c4,potential,Asia/Shanghai,oC4xxxxxxxxxxxxxxxxxxxxxxxxx,
c5,potential,Asia/Shanghai,oC5xxxxxxxxxxxxxxxxxxxxxxxxx,
c6,potential,Asia/Shanghai,oC6xxxxxxxxxxxxxxxxxxxxxxxxx,
q1,potential,Asia/Shanghai,oQ1xxxxxxxxxxxxxxxxxxxxxxxxx,
q2,potential,Asia/Shanghai,oQ2xxxxxxxxxxxxxxxxxxxxxxxxx,
p1,potential,Asia/Shanghai,oP1xxxxxxxxxxxxxxxxxxxxxxxxx,
p2,potential,Asia/Shanghai,oP2xxxxxxxxxxxxxxxxxxxxxxxxx,
p3,potential,Asia/Shanghai,oP3xxxxxxxxxxxxxxxxxxxxxxxxx,
p4,potential,Asia/Shanghai,oP4xxxxxxxxxxxxxxxxxxxxxxxxx,
p5,potential,Asia/Shanghai,oP5xxxxxxxxxxxxxxxxxxxxxxxxx,
CSV
t_ok "users import" chuda users import users.csv
MP=/cgi-bin/message/subscribe/send
OA=/cgi-bin/message/template/send
cart() { chuda enqueue --user "$1" --template cart_abandoned --var "product=$2"; }
# what the simulator answered to requests for OPENID on PATH, in order
answers() {
    sim_requests "$1" | python3 -c '
import json, sys
print(" ".join(json.loads(l)["outcome"] for l in sys.stdin if sys.argv[1] in json.loads(l)["body"]))' "$2"
}
inflight() { test "$(sqlite3 chuda.db 'select count(*) from queue where inflight is not null')" -ge "$1"; }

# ==== the A/B variant: copied into the job, logged on every row, safe across SIGHUP ======
# v2 and v3 are in the test arms (one in each), v1 in the 5 % holdout
variant() { chuda preview --template recall_30d --user "$1" --channel mp_subscribe | sed -n '1s/.*· variant //p'; }
va=$(variant v3)
vb=$(variant v2)
t_eq "v3 and v2 are in the two variants" "a b" "$va $vb"
t_match "v1 is held out" "v1 IS held out" "$(chuda preview --template recall_30d --user v1 --channel mp_subscribe)"
sim_fault "{\"path\":\"$MP\",\"count\":1,\"match\":\"oV2\",\"errcode\":-1}"
sim_fault "{\"path\":\"$MP\",\"count\":2,\"match\":\"oV\",\"delay_ms\":2500}"
r0=$(chuda enqueue --user v1 --template recall_30d)
r1=$(chuda enqueue --user v3 --template recall_30d)
r2=$(chuda enqueue --user v2 --template recall_30d)
chuda_daemon hup
t_ok "both variant requests held in flight" wait_for 15 inflight 2
kill -HUP $RUN        # frees the template set the jobs were rendered from
t_ok "SIGHUP reloads while they are out" wait_for 15 grep -q "reloaded config" hup.log
t_ok "both sent after the reload" wait_for 20 sh -c "test \"\$(sqlite3 chuda.db \"select count(*) from done where state='sent' and id in ($r1,$r2)\")\" = 2"
kill -TERM $RUN; wait $RUN
t_match "v3's sent row names its variant" "(^| )variant=$va\$" "$(msg_field "$r1" sent detail)"
t_match "v2's sent row names its variant" "(^| )variant=$vb\$" "$(msg_field "$r2" sent detail)"
t_eq "v2 was retried once" "enqueued,retry,sent" "$(msg_events "$r2")"
t_eq "the retry row names the variant too" "variant=$vb" "$(msg_field "$r2" retry detail)"
t_eq "the control group's row names none" "holdout " \
    "$(msg_field "$r0" suppressed code) $(msg_field "$r0" suppressed detail)"

# ==== a field rule rules one channel out; the next one carries the message =============
long=$(python3 -c 'print("超长的羊绒围巾商品名称" * 2 + "限量")')       # 24 characters
cat >templates/ft.ini <<'EOF'
[template]
class = lifecycle
vars = product
[mp_subscribe]
template_id = TPL_FT
data.thing1 = {{product}}
[oa_template]
template_id = OA_FT
data.keyword1 = 新品到货
data.remark = {{product}}
EOF
t1=$(chuda enqueue --user f1 --template ft --var "product=$long")
t2=$(chuda enqueue --user f2 --template ft --var "product=$long")
t_match "enqueue accepts it (oa_template can carry it)" "^[0-9]+ [0-9]+$" "$t1 $t2"
chuda run --until-idle 2>/dev/null
t_eq "mp_subscribe ruled out by its field rule, oa_template sent" "enqueued,retry,sent" "$(msg_events "$t1")"
t_eq "the fallback row's code" field_rule "$(msg_field "$t1" retry code)"
t_match "the fallback row names the field and its length" \
    "\[mp_subscribe\] data.thing1: 24 characters, limit 20; trying oa_template" "$(msg_field "$t1" retry reason)"
t_eq "sent over oa_template" oa_template "$(msg_field "$t1" sent channel)"
t_eq "no request for the value mp_subscribe cannot carry" "" "$(answers $MP oF1)"
t_eq "no channel left: failed" "enqueued,failed" "$(msg_events "$t2")"
t_eq "failed with code field_rule" field_rule "$(msg_field "$t2" failed code)"
t_match "the failure names the field and its length" "data.thing1: 24 characters, limit 20" \
    "$(msg_field "$t2" failed reason)"

# ==== a refusal falls back: one message, one cap unit; 43101 is about the template ======
sim_fault "{\"path\":\"$MP\",\"count\":1,\"match\":\"oB1\",\"errcode\":43101,\"errmsg\":\"user refuse to accept the msg\"}"
b=$(cart b1 围巾)
chuda run --until-idle 2>/dev/null
t_eq "43101 on mp_subscribe, then sent over oa_template" "enqueued,retry,sent" "$(msg_events "$b")"
t_eq "one row in the send ledger for the message" "1 sent oa_template" \
    "$(sqlite3 chuda.db "select count(*), state, channel from sends where message_id=$b" | tr '|' ' ')"
t_match "the sent row has the decision's figures" \
    "^accepted by oa_template; cap 1/3 in 7d; passed over mp_subscribe: refused earlier for this message" \
    "$(msg_field "$b" sent reason)"
t_match "credits off: 43101 opts the user out of nothing" "has no opt-outs" "$(chuda optout list b1)"
t_eq "credits off: 43101 is recorded against the template (zero credits)" 0 \
    "$(sqlite3 chuda.db "select n from credits where user_id='b1' and template_id='TPL_CART_1'")"
b2=$(cart b1 手套)
chuda run --until-idle 2>/dev/null
t_eq "the refused template is not tried again" "enqueued,sent" "$(msg_events "$b2")"
t_eq "one mini-program request in all" "43101" "$(answers $MP oB1)"
t_match "the decision says why" "passed over mp_subscribe: the user refused TPL_CART_1" \
    "$(msg_field "$b2" sent reason)"

# ==== every class in the ledger: monthly limits count them, tier caps do not ============
sed 's/^credits = off$/credits = off\nmonthly_limit = 2/' chuda.conf >monthly.conf
CHUDA_CONF=monthly.conf
s1=$(chuda enqueue --user l1 --template order_shipped --var product=围巾 --var order_no=E1001 --var carrier=顺丰 --var tracking_no=SF1)
s2=$(cart l1 手套)
s3=$(chuda enqueue --user l1 --template order_shipped --var product=帽子 --var order_no=E1002 --var carrier=顺丰 --var tracking_no=SF2)
chuda run --until-idle 2>/dev/null
t_eq "transactional sent" sent "$(msg_state "$s1")"
t_eq "lifecycle sent: a transactional send does not count toward the tier cap (1/7d)" sent "$(msg_state "$s2")"
t_eq "the third is held by the monthly limit of 2, whatever its class" "enqueued,deferred" "$(msg_events "$s3")"
t_match "... counting both" "mp_subscribe: 2 of 2 this month" "$(msg_field "$s3" deferred reason)"
t_eq "both in the ledger, the transactional one uncapped" "$s1|1 $s2|0" \
    "$(sqlite3 chuda.db "select message_id, uncapped from sends where user_id='l1' order by message_id" | tr '\n' ' ' | sed 's/ $//')"
t_match "the sent row: not capped" "^accepted by mp_subscribe; transactional: not capped, mp_subscribe 1/2 this month" \
    "$(msg_field "$s1" sent reason)"
t_match "the sent row: the cap with this send" "^accepted by mp_subscribe; cap 1/1 in 7d, mp_subscribe 2/2 this month" \
    "$(msg_field "$s2" sent reason)"
CHUDA_CONF=

# ==== more sends than the policy reads: the newest count =================================
now=$(python3 -c 'import time; print(int(time.time() * 1000))')
sqlite3 chuda.db "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
  INSERT INTO sends(user_id, at, message_id, channel, state)
  SELECT 'h1', $now - 2 * 86400000 + i, 900000 + i, 'mp_subscribe', 'sent' FROM n;
  INSERT INTO sends(user_id, at, message_id, channel, state)
  VALUES ('h1', $now - 600000, 900999, 'mp_subscribe', 'sent');"
h=$(cart h1 围巾)
chuda run --until-idle 2>/dev/null
t_eq "301 sends, the last 10 minutes ago: the 1/1h cap holds" "enqueued,deferred" "$(msg_events "$h")"
t_match "... with the newest send's figures" "cap 1/1h reached: 1 sends since" "$(msg_field "$h" deferred reason)"

# ==== killed during the request: the message is not deferred by its own reservation =====
sim_fault "{\"path\":\"$MP\",\"count\":1,\"match\":\"oZ1\",\"delay_ms\":2500}"
sed -e 's/^retry_base = 100ms$/retry_base = 1s/' -e 's/^retry_cap = 400ms$/retry_cap = 5s/' chuda.conf >crash.conf  # outwaits a 43108
z=$(cart z1 围巾)
chuda_daemon crash
t_ok "the request is out" wait_for 15 inflight 1
t_eq "its reservation is in the ledger" reserved "$(sqlite3 chuda.db "select state from sends where message_id=$z")"
kill -KILL $RUN; wait $RUN 2>/dev/null
CHUDA_CONF=crash.conf chuda run --until-idle 2>/dev/null
# (a retry is possible: the simulator may still hold the openid busy, 43108)
t_match "restart: uncertain, resent, sent (lifecycle retries), not held by the 1/7d cap" \
    "^enqueued,uncertain,(retry,)*sent$" "$(msg_events "$z")"
t_match "the uncertain row counts for the user's tier" "once +uncertain +1" \
    "$(chuda stats --by tier,event)"
t_eq "one send in the ledger" "1 sent" \
    "$(sqlite3 chuda.db "select count(*), min(state) from sends where user_id='z1'" | tr '|' ' ')"

# ==== the concurrency cap, counted at the simulator ======================================
sed 's/^timeout = 5000$/timeout = 5000\nconcurrency = 2/' chuda.conf >conc.conf
sim_fault "{\"path\":\"$MP\",\"count\":6,\"match\":\"oC\",\"delay_ms\":800}"
for u in c1 c2 c3 c4 c5 c6; do cart $u 围巾 >/dev/null; done
CHUDA_CONF=conc.conf chuda run --until-idle 2>/dev/null
t_eq "six requests, each held 800 ms" 6 "$(sim_requests $MP | grep -c '"delay_ms": 800')"
t_eq "at most two in flight at the simulator, and two at times" 2 "$(sim_requests $MP | python3 -c '
import json, sys
iv = [(r["at_ms"], r["at_ms"] + r["delay_ms"]) for r in map(json.loads, sys.stdin) if r.get("delay_ms") == 800]
print(max(sum(1 for a, b in iv if a <= t < b) for t, _ in iv))')"

# ==== a channel pause withdraws the requests waiting in the HTTP thread for a slot ========
# concurrency 2, so four in hand: p1 and p2 out (held at the simulator), p3 and p4 built
# and waiting. p1's reply pauses the channel (45009, the daily quota); p3 takes its slot
# before the scheduler has read that reply, and is held too; p4, still waiting when the
# pause is read, comes back and is deferred without a request. p5, not yet in hand (it
# waits in the scheduler for a slot), must not take the slot p1's reply frees: it is
# deferred without a request too.
sed 's/^timeout = 5000$/timeout = 5000\nconcurrency = 2/' chuda.conf >two.conf
sim_fault "{\"path\":\"$MP\",\"count\":1,\"match\":\"oP1\",\"delay_ms\":800,\"errcode\":45009,\"errmsg\":\"reach max api daily quota limit\"}"
sim_fault "{\"path\":\"$MP\",\"count\":1,\"match\":\"oP2\",\"delay_ms\":2500}"
sim_fault "{\"path\":\"$MP\",\"count\":1,\"match\":\"oP3\",\"delay_ms\":2500}"
p1=$(cart p1 围巾); p2=$(cart p2 手套); p3=$(cart p3 帽子); p4=$(cart p4 袜子); p5=$(cart p5 围巾)
CHUDA_CONF=two.conf chuda run --until-idle 2>/dev/null
t_eq "the pausing reply's message: deferred" "enqueued,deferred" "$(msg_events "$p1")"
t_eq "the two under way when the pause came: sent" "sent sent" "$(msg_state "$p2") $(msg_state "$p3")"
t_eq "the one waiting for a slot: deferred, before any request" "enqueued,deferred" "$(msg_events "$p4")"
t_match "... by the channel's pause" "paused while the message waited" "$(msg_field "$p4" deferred reason)"
t_eq "... no attempt spent" 0 "$(chuda show "$p4" | sed -n 's/^  attempts *//p')"
t_eq "... and nothing for it reached the simulator" 0 "$(sim_requests $MP | grep -c oP4)"
t_eq "the one not yet in hand: deferred, no request after the pause was read" \
    "enqueued,deferred 0" "$(msg_events "$p5") $(sim_requests $MP | grep -c oP5)"

# ==== a thousand jobs waiting for a paused channel: deferred one after another ===========
# concurrency 1, a database of its own with 1000 messages: the first reply pauses the
# channel while the others wait in the scheduler for a slot. Each is deferred when its
# turn comes (build_and_park sees the pause, and giving its slot back pumps the channel
# again): that must be a loop, not a recursion 1000 deep (~18 KB of stack a level).
sed -e 's/^db = chuda.db$/db = many.db/' -e 's/^timeout = 5000$/timeout = 5000\nconcurrency = 1/' \
    chuda.conf >many.conf
CHUDA_CONF=many.conf
chuda init >/dev/null
python3 -c "
print('user_id,tier,tz,mp_openid')
for i in range(1000): print('m%d,mponly,Asia/Shanghai,oM%dxxxxxxxxxxxxxxxxxxxxxxxxx' % (i, i))" >many.csv
python3 -c "
import json
for i in range(1000): print(json.dumps({'user': 'm%d' % i, 'template': 'cart_abandoned', 'vars': {'product': '围巾'}}))" >many.jsonl
chuda users import many.csv >/dev/null && chuda enqueue --from many.jsonl >/dev/null
sim_fault "{\"path\":\"$MP\",\"count\":1,\"match\":\"oM0x\",\"delay_ms\":1500,\"errcode\":45009,\"errmsg\":\"reach max api daily quota limit\"}"
chuda run --until-idle 2>many.log
t_eq "1000 waiting on a paused channel: chuda run exits 0" 0 $?
t_eq "... every one queued again or sent, none left leased" "1000 0" \
    "$(sqlite3 many.db "select (select count(*) from queue) + (select count(*) from done),
      (select count(*) from queue where inflight is not null or lease_until>0)" | tr '|' ' ')"
CHUDA_CONF=

# ==== a message that waited past 23:00 behind a slow rate is held by quiet hours =========
if command -v faketime >/dev/null; then
    export FAKETIME_DONT_FAKE_MONOTONIC=1
    export ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"
    # a database of its own: what earlier scenarios deferred would be due in 3 days
    sed -e 's/^quiet_hours = none$/quiet_hours = 23:00-08:00/' -e 's/^db = chuda.db$/db = slow.db/' \
        -e 's/^timeout = 5000$/timeout = 5000\nrate = 0.1\nburst = 1/' chuda.conf >slow.conf
    day=$(python3 -c 'import datetime as d; print((d.date.today() + d.timedelta(days=3)).isoformat())')
    CHUDA_CONF=slow.conf
    chuda init >/dev/null && chuda users import users.csv >/dev/null
    # (each faked clock starts anew: enqueued at :40 and :41, both due when the run starts)
    q1=$(faketime -f "@$day 14:59:40" "$CHUDA" -c slow.conf enqueue --user q1 --template cart_abandoned --var product=围巾)
    q2=$(faketime -f "@$day 14:59:41" "$CHUDA" -c slow.conf enqueue --user q2 --template cart_abandoned --var product=手套)
    faketime -f "@$day 14:59:50" "$CHUDA" -c slow.conf run --until-idle 2>/dev/null
    t_eq "22:59:50 Shanghai: the first goes" sent "$(msg_state "$q1")"
    t_eq "the second waits 10 s for the rate, past 23:00: deferred" "enqueued,deferred" "$(msg_events "$q2")"
    t_eq "... by quiet hours" quiet_hours "$(msg_field "$q2" deferred code)"
    t_match "... checked again before the send" "quiet hours 23:00-08:00 in Asia/Shanghai \(local 23:0[0-9]\).*checked again before the send" \
        "$(msg_field "$q2" deferred reason)"
    t_eq "no request for it" "" "$(answers $MP oQ2)"
    CHUDA_CONF=
else
    echo "not ok - faketime is not installed (tools/deps.sh installs it)"; T_FAILED=$((T_FAILED + 1))
fi
t_done
