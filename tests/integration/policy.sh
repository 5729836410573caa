# policy.sh — the policy through the whole scheduler: subscription credits (granted,
# spent, zeroed by a 43101 refusal), an opt-out that lands between the decision and the
# request, a tier cap, several messages to one user in one claimed batch against a 2/7d
# cap, config errors, quiet hours and --window best at chosen local times (faketime).
. tests/lib.sh "$1"
cd "$T_WORK"
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"
export FAKETIME_DONT_FAKE_MONOTONIC=1
chuda_setup "credits = on" "[policy]
quiet_hours = none
[tier.pair]
cap = 2/7d
channels = mp_subscribe"
cat > users.csv <<'CSV'
user_id,tier,tz,mp_openid
c1,potential,Asia/Shanghai,oC1xxxxxxxxxxxxxxxxxxxxxxxxx
c2,potential,Asia/Shanghai,oC2xxxxxxxxxxxxxxxxxxxxxxxxx
o1,potential,Asia/Shanghai,oO1xxxxxxxxxxxxxxxxxxxxxxxxx
p1,potential,Asia/Shanghai,oP1xxxxxxxxxxxxxxxxxxxxxxxxx
b1,pair,Asia/Shanghai,oB1xxxxxxxxxxxxxxxxxxxxxxxxx
CSV
chuda users import users.csv >/dev/null
state() { chuda show "$1" | sed -n 's/^  state *//p'; }
sends() { sim_requests /cgi-bin/message/subscribe/send | grep -c "$1"; }

# --- credits ------------------------------------------------------------------------
m1=$(chuda enqueue --user c1 --template cart_abandoned --var product=A)
chuda run --until-idle 2>/dev/null
t_eq "no credit: suppressed" suppressed "$(state "$m1")"
t_match "the reason names the template id" "no subscription credit for TPL_CART_1 \(never granted\)" "$(chuda show "$m1")"
t_match "grant a credit" "c1 TPL_CART_1: 1 credit$" "$(chuda credits grant c1 TPL_CART_1)"
sim_ctl POST /_sim/credits "{\"appid\":\"$MP_APPID\",\"openid\":\"oC1xxxxxxxxxxxxxxxxxxxxxxxxx\",\"template_id\":\"TPL_CART_1\",\"n\":1}" >/dev/null
m2=$(chuda enqueue --user c1 --template cart_abandoned --var product=B)
m3=$(chuda enqueue --user c1 --template cart_abandoned --var product=C --at +1s)
chuda run --until-idle 2>/dev/null
sleep 1.2; chuda run --until-idle 2>/dev/null
t_eq "with a credit: sent" sent "$(state "$m2")"
t_eq "the credit was spent" "c1 TPL_CART_1: 0 credits" "$(chuda credits show c1 TPL_CART_1)"
t_match "the next one finds it spent" "suppressed.*\(all used\)" "$(chuda show "$m3")"

# chuda believes in a credit the user no longer has: 43101, credits zeroed, no other channel
chuda credits grant c2 TPL_CART_1 2 >/dev/null
m4=$(chuda enqueue --user c2 --template cart_abandoned --var product=D)
chuda run --until-idle 2>/dev/null
t_match "43101 is logged as a refusal" "retry .*43101.*refused" "$(chuda show "$m4" | tr -s ' ')"
t_eq "then suppressed: no channel left" suppressed "$(state "$m4")"
t_eq "43101 set the credits to zero" "c2 TPL_CART_1: 0 credits" "$(chuda credits show c2 TPL_CART_1)"

# --- an opt-out between the decision and the request ----------------------------------
chuda credits grant o1 TPL_CART_1 >/dev/null
sim_ctl POST /_sim/credits "{\"appid\":\"$MP_APPID\",\"openid\":\"oO1xxxxxxxxxxxxxxxxxxxxxxxxx\",\"template_id\":\"TPL_CART_1\",\"n\":1}" >/dev/null
sim_ctl POST /_sim/expire_tokens '{}' >/dev/null
sim_ctl POST /_sim/fault '{"path":"/cgi-bin/stable_token","count":1,"delay_ms":1500}' >/dev/null
m5=$(chuda enqueue --user o1 --template cart_abandoned --var product=E)
"$CHUDA" -c chuda.conf run --until-idle 2>run5.err &
RUN=$!
sleep 0.5          # decided, waiting for the (slow) token
t_ok "opt out while the message waits" chuda optout add o1 --reason "回复TD"
wait $RUN
t_eq "not sent" 0 "$(sends oO1)"
t_match "suppressed: opted out" "suppressed.*opted out since .* \(operator: 回复TD\)" "$(chuda show "$m5")"
t_match "optout list" "^\* +\* .*operator +回复TD" "$(chuda optout list o1)"
t_ok "optout remove" chuda optout remove o1
t_match "list is empty again" "has no opt-outs" "$(chuda optout list o1)"
# a reason the opt-out cannot hold whole is refused (as the API does), not cut inside a
# character: the cut bytes went into every suppressed row and emptied its JSON reason
long=$(python3 -c 'print("用户在客服电话中明确要求退订所有营销消息" * 3)')
t_fails_with "optout add: a reason over 127 bytes is refused" "--reason: longer than 127 bytes" \
    chuda optout add o1 --reason "$long"
t_fails_with "optout add: a reason that is not UTF-8 is refused" "--reason: not valid UTF-8" \
    chuda optout add o1 --reason "$(printf 'TD \315\313\266\251')"
t_match "neither was recorded" "has no opt-outs" "$(chuda optout list o1)"

# --- a tier cap through the scheduler (potential: 3/7d), credits plentiful -------------
chuda credits grant p1 TPL_CART_1 10 >/dev/null
sim_ctl POST /_sim/credits "{\"appid\":\"$MP_APPID\",\"openid\":\"oP1xxxxxxxxxxxxxxxxxxxxxxxxx\",\"template_id\":\"TPL_CART_1\",\"n\":10}" >/dev/null
ids=""
for n in 1 2 3 4; do ids="$ids $(chuda enqueue --user p1 --template cart_abandoned --var product=P$n)"; done
chuda run --until-idle 2>/dev/null
t_eq "three sent under the cap" 3 "$(chuda log --format json --user p1 --event sent | wc -l)"
t_match "the fourth deferred with the figures" "deferred.*cap 3/7d reached: 3 sends since .*, next free" \
    "$(chuda log --user p1 --event deferred)"

# --- one claimed batch: five lifecycle messages and one transactional, one user, due at
# the same instant, tier cap 2/7d --------------------------------------------------------
chuda credits grant b1 TPL_CART_1 10 >/dev/null
sim_ctl POST /_sim/credits "{\"appid\":\"$MP_APPID\",\"openid\":\"oB1xxxxxxxxxxxxxxxxxxxxxxxxx\",\"template_id\":\"TPL_CART_1\",\"n\":10}" >/dev/null
due=$(python3 -c 'import datetime as d; print((d.datetime.now(d.timezone.utc)+d.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))')
python3 - "$due" >batch.jsonl <<'PY'
import json, sys
for n in range(1, 6):
    print(json.dumps({"user": "b1", "template": "cart_abandoned", "vars": {"product": f"B{n}"},
                      "at": sys.argv[1]}))
print(json.dumps({"user": "b1", "template": "cart_abandoned", "vars": {"product": "T1"},
                  "at": sys.argv[1], "class": "transactional"}))
PY
t_eq "six messages due at one instant" 6 "$(chuda enqueue --from batch.jsonl | wc -l)"
sleep 1.2
chuda run --until-idle 2>batch.err
t_match "claimed together: 3 sent, 3 deferred" "claimed 6: sent 3, retried 0, deferred 3" "$(cat batch.err)"
t_match "the run says its threads' CPU time" \
    '^chuda: CPU: scheduler thread [0-9]+\.[0-9]{2} s, HTTP thread [0-9]+\.[0-9]{2} s$' "$(tail -n 1 batch.err)"
b1_got=$(sim_requests /cgi-bin/message/subscribe/send | python3 -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    b = json.loads(r["body"])
    if r["delivered"] and b["touser"].startswith("oB1x"):
        print(b["data"]["thing1"]["value"])' | sort | tr '\n' ' ')
t_match "the simulator got two lifecycle messages and the transactional one (not capped, not counted)" \
    "^B[1-5] B[1-5] T1 $" "$b1_got"
chuda log --format json --user b1 >b1.jsonl
t_ok "three deferred with the figures, decided before any send was confirmed" python3 - <<'PY'
import json, re, sys
ev = [json.loads(l) for l in open("b1.jsonl")]
d = [e for e in ev if e["event"] == "deferred"]
s = [e for e in ev if e["event"] == "sent"]
assert len(d) == 3 and len(s) == 3, (len(d), len(s))
for e in d:
    assert e["code"] == "cap", e
    assert re.fullmatch(r"cap 2/7d reached: 2 sends since \S+Z, next free \S+Z", e["reason"]), e
assert max(e["seq"] for e in d) < min(e["seq"] for e in s), "a deferral came after a send"
PY
t_eq "no reservation left over; the transactional send in the ledger too, uncapped" "0|2|sent 1|1|sent" \
    "$(sqlite3 chuda.db "select uncapped, count(*), group_concat(distinct state) from sends where user_id = 'b1' group by uncapped order by uncapped" | tr '\n' ' ' | sed 's/ $//')"

# --- config errors name the file and line ------------------------------------------------
cp chuda.conf bad.conf
printf '[class.transactional]\nquiet_hours = 22:00-07:00\n' >>bad.conf
out=$("$CHUDA" -c bad.conf run --until-idle 2>&1); rc=$?
t_eq "transactional quiet hours: refused" 1 "$rc"
t_match "  ... naming file:line" "bad.conf:$(grep -c '' bad.conf): \[class.transactional\] quiet_hours: transactional messages are never held by quiet hours" "$out"
cp chuda.conf bad.conf
printf '[policy]\nquiet_hours = 23:00-08:00\nquiet_release_spread = 16h\n' >>bad.conf
t_match "a spread longer than the open hours: refused" "bad.conf:$(grep -c '' bad.conf): \[policy\] quiet_release_spread: 16h is not shorter than" \
    "$("$CHUDA" -c bad.conf run --until-idle 2>&1)"
# however many tiers are configured, users can be in any of them
python3 -c 'print("\n".join(f"[tier.t{i:02d}]\ncap = 3/7d\nchannels = sms" for i in range(70)))' >tiers.ini
sed 's/^db = .*/db = tiers.db/' chuda.conf | cat - tiers.ini >tiers.conf
"$CHUDA" -c tiers.conf init >/dev/null
printf 'user_id,tier\nx1,t69\nx2,t00\n' >tiers.csv
t_match "users import knows the 70th tier" "2 users imported" "$("$CHUDA" -c tiers.conf users import tiers.csv 2>&1)"

# --- quiet hours at 23:30 Shanghai (faketime) ------------------------------------------
if command -v faketime >/dev/null; then
    sed -i 's/^quiet_hours = none$/quiet_hours = 23:00-08:00/' chuda.conf
    night=$(python3 -c 'import datetime as d; t=d.date.today()+d.timedelta(days=2); print(t.strftime("%Y-%m-%d 15:30:00"))')
    later=$(python3 -c 'import datetime as d; t=d.date.today()+d.timedelta(days=2); print(t.strftime("%Y-%m-%d 15:30:05"))')
    chuda credits grant c1 TPL_CART_1 >/dev/null
    m6=$(faketime -f "@$night" "$CHUDA" -c chuda.conf enqueue --user c1 --template cart_abandoned --var product=Q)
    faketime -f "@$later" "$CHUDA" -c chuda.conf run --until-idle 2>/dev/null
    t_match "quiet hours defer to 08:00 local" "deferred.*quiet hours 23:00-08:00 in Asia/Shanghai \(local 23:30\): deferred to .*T00:[0-2][0-9]Z" \
        "$(chuda show "$m6" | tr -s ' ')"

    # --window best: bt1 is most active at 20:00 Shanghai; enqueued at 10:00 it waits
    printf 'user_id,tier,tz,mp_openid,active_hour\nbt1,potential,Asia/Shanghai,oBT1xxxxxxxxxxxxxxxxxxxxxxxx,20\n' >bt.csv
    chuda users import bt.csv >/dev/null
    chuda credits grant bt1 TPL_CART_1 >/dev/null
    sim_ctl POST /_sim/credits "{\"appid\":\"$MP_APPID\",\"openid\":\"oBT1xxxxxxxxxxxxxxxxxxxxxxxx\",\"template_id\":\"TPL_CART_1\",\"n\":1}" >/dev/null
    day=$(python3 -c 'import datetime as d; print((d.date.today()+d.timedelta(days=3)).isoformat())')
    m7=$(faketime -f "@$day 02:00:00" "$CHUDA" -c chuda.conf enqueue --user bt1 --template cart_abandoned --var product=BT --window best)
    faketime -f "@$day 02:00:05" "$CHUDA" -c chuda.conf run --until-idle 2>/dev/null
    t_match "best time: deferred to 20:00 Shanghai" "deferred.*best time: user is most active at 20:00 Asia/Shanghai, deferred to ${day}T12:00Z" \
        "$(chuda show "$m7" | tr -s ' ')"
    t_eq "nothing sent before" 0 "$(sends oBT1)"
    faketime -f "@$day 11:59:50" "$CHUDA" -c chuda.conf run --until-idle 2>/dev/null
    t_eq "not at 19:59:50 either" 0 "$(sends oBT1)"
    faketime -f "@$day 12:00:02" "$CHUDA" -c chuda.conf run --until-idle 2>/dev/null
    t_eq "sent in the active hour" sent "$(state "$m7")"
    t_eq "the simulator got it once" 1 "$(sends oBT1)"
    t_match "the log says when" "\"at\":\"${day}T12:00:0[2-9]" "$(chuda log --format json --message "$m7" --event sent)"
else
    echo "not ok - faketime is not installed (tools/deps.sh installs it)"; T_FAILED=$((T_FAILED + 1))
fi
t_done
