# policy.sh — the policy through the whole scheduler: subscription credits (granted,
# spent, zeroed by a 43101 refusal), an opt-out that lands between the decision and the
# request, a tier cap, and quiet hours at a chosen local time.
. tests/lib.sh "$1"
cd "$T_WORK"
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"
export FAKETIME_DONT_FAKE_MONOTONIC=1
chuda_setup "credits = on" "[policy]
quiet_hours = none"
cat > users.csv <<'CSV'
user_id,tier,tz,mp_openid
c1,potential,Asia/Shanghai,oC1xxxxxxxxxxxxxxxxxxxxxxxxx
c2,potential,Asia/Shanghai,oC2xxxxxxxxxxxxxxxxxxxxxxxxx
o1,potential,Asia/Shanghai,oO1xxxxxxxxxxxxxxxxxxxxxxxxx
p1,potential,Asia/Shanghai,oP1xxxxxxxxxxxxxxxxxxxxxxxxx
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

# --- a tier cap through the scheduler (potential: 3/7d), credits plentiful -------------
chuda credits grant p1 TPL_CART_1 10 >/dev/null
sim_ctl POST /_sim/credits "{\"appid\":\"$MP_APPID\",\"openid\":\"oP1xxxxxxxxxxxxxxxxxxxxxxxxx\",\"template_id\":\"TPL_CART_1\",\"n\":10}" >/dev/null
ids=""
for n in 1 2 3 4; do ids="$ids $(chuda enqueue --user p1 --template cart_abandoned --var product=P$n)"; done
chuda run --until-idle 2>/dev/null
t_eq "three sent under the cap" 3 "$(chuda log --format json --user p1 --event sent | wc -l)"
t_match "the fourth deferred with the figures" "deferred.*cap 3/7d reached: 3 sends since .*, next free" \
    "$(chuda log --user p1 --event deferred)"

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
else
    echo "not ok - faketime is not installed (tools/deps.sh installs it)"; T_FAILED=$((T_FAILED + 1))
fi
t_done
