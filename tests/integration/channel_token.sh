# channel_token.sh — access tokens and request limits against the simulator (channels/
# token.c, providers.md §1.2): a forced stable_token refresh that the provider refuses
# (its daily force quota) keeps the token the normal call returned and pauses nothing;
# force_refresh_daily = 0 never forces; a token endpoint that keeps failing spends the
# message's attempts and ends it `failed` with the endpoint's code; a token close to its
# expiry is refreshed in the background while it still serves, and a SIGHUP while that
# refresh is out replaces the channel safely; a burst, counted at the simulator.
. tests/lib.sh "$1"
cd "$T_WORK"
BG_APPID=wxoa0000000000009
# the mini program refuses every force_refresh (quota used up: 45009); the official
# account's tokens live 300 s, inside chuda's 5-minute refresh margin from the start
chuda_setup "force_refresh_daily = 0
[wechat.$BG_APPID]
secret = $CHUDA_TEST_OA_SECRET
token_ttl = 300" "[policy]
quiet_hours = none
[channel.mp_subscribe]
credits = off"
oa_channel $BG_APPID
cat >users.csv <<'CSV'
user_id,tier,tz,mp_openid,oa_openid
k1,potential,Asia/Shanghai,oK1xxxxxxxxxxxxxxxxxxxxxxxxx,
k2,potential,Asia/Shanghai,oK2xxxxxxxxxxxxxxxxxxxxxxxxx,
k3,potential,Asia/Shanghai,oK3xxxxxxxxxxxxxxxxxxxxxxxxx,
e1,potential,Asia/Shanghai,oE1xxxxxxxxxxxxxxxxxxxxxxxxx,
g1,potential,Asia/Shanghai,,oG1xxxxxxxxxxxxxxxxxxxxxxxxx
g2,potential,Asia/Shanghai,,oG2xxxxxxxxxxxxxxxxxxxxxxxxx
g3,potential,Asia/Shanghai,,oG3xxxxxxxxxxxxxxxxxxxxxxxxx
g4,potential,Asia/Shanghai,,oG4xxxxxxxxxxxxxxxxxxxxxxxxx
g5,potential,Asia/Shanghai,,oG5xxxxxxxxxxxxxxxxxxxxxxxxx
r1,potential,Asia/Shanghai,oR1xxxxxxxxxxxxxxxxxxxxxxxxx,
r2,potential,Asia/Shanghai,oR2xxxxxxxxxxxxxxxxxxxxxxxxx,
r3,potential,Asia/Shanghai,oR3xxxxxxxxxxxxxxxxxxxxxxxxx,
r4,potential,Asia/Shanghai,oR4xxxxxxxxxxxxxxxxxxxxxxxxx,
CSV
t_ok "users import" chuda users import users.csv
MP=/cgi-bin/message/subscribe/send
OA=/cgi-bin/message/template/send
TOK=/cgi-bin/stable_token
cart() { chuda enqueue --user "$1" --template cart_abandoned --var "product=$2"; }
# the stable_token calls since record SEQ: "normal:0 normal:0 force:45009"
token_calls() {
    sim_requests $TOK | python3 -c '
import json, sys
print(" ".join(("force" if json.loads(r["body"])["force_refresh"] else "normal") + ":" + r["outcome"]
               for r in map(json.loads, sys.stdin) if r["seq"] > int(sys.argv[1])))' "$1"
}
last_seq() { sim_ctl GET /_sim/stats | python3 -c 'import json, sys; print(json.load(sys.stdin)["last_seq"])'; }

# ==== the forced refresh is refused: go on with the token the normal call returned =====
seq0=$(last_seq)
sim_fault "{\"path\":\"$MP\",\"count\":1,\"match\":\"oK1\",\"errcode\":40001,\"errmsg\":\"invalid credential, access_token is invalid or not latest\"}"
m1=$(cart k1 围巾)
m2=$(cart k2 手套)
chuda run --until-idle 2>/dev/null
t_eq "40001, refreshed, the same token back, forced: 45009" "normal:0 normal:0 force:45009" "$(token_calls "$seq0")"
t_eq "the message is sent with the normal call's token" "enqueued,sent" "$(msg_events "$m1")"
t_eq "the channel is not paused: the next message goes too" sent "$(msg_state "$m2")"
t_eq "nobody deferred to midnight" 0 "$(log_count deferred)"

# ==== force_refresh_daily = 0: never forced ============================================
sed 's/^credits = off$/credits = off\nforce_refresh_daily = 0/' chuda.conf >noforce.conf
seq0=$(last_seq)
sim_fault "{\"path\":\"$MP\",\"count\":1,\"match\":\"oK3\",\"errcode\":40001,\"errmsg\":\"invalid credential\"}"
m3=$(cart k3 帽子)
CHUDA_CONF=noforce.conf chuda run --until-idle 2>/dev/null
t_eq "no forced call at all" "normal:0 normal:0" "$(token_calls "$seq0")"
t_eq "sent" sent "$(msg_state "$m3")"

# ==== a failing token endpoint spends attempts: failed, with its code ==================
sed 's/^credits = off$/credits = off\nmax_attempts = 3\nretry_base = 100ms/' chuda.conf >attempts.conf
seq0=$(last_seq)
sim_fault "{\"path\":\"$TOK\",\"count\":30,\"errcode\":-1,\"errmsg\":\"system error\"}"
m4=$(cart e1 雨伞)
CHUDA_CONF=attempts.conf chuda_daemon attempts
t_ok "the message ends" wait_for 30 sh -c "\"$CHUDA\" -c attempts.conf show $m4 | grep -q 'state     failed'"
kill -TERM $RUN; wait $RUN
sim_ctl DELETE /_sim/fault >/dev/null
t_eq "failed with the token endpoint's code" -1 "$(msg_field "$m4" failed code)"
t_match "after max_attempts" "gave up after 3 attempts: system busy .*\(token refresh\)" "$(msg_field "$m4" failed reason)"
t_eq "three token calls, one per attempt" "normal:-1 normal:-1 normal:-1" "$(token_calls "$seq0")"
t_eq "nothing reached the send endpoint" 0 "$(sim_requests $MP | grep -c oE1)"
t_match "the attempts are counted (attempt 1 of 3, then 2 of 3)" "attempt 1 of 3.*attempt 2 of 3" \
    "$(chuda log --format json --message "$m4" --event retry | tr '\n' ' ')"

# ==== a token near its expiry is refreshed in the background while it still serves =====
seq0=$(last_seq)
chuda_daemon refresh
g1=$(chuda enqueue --user g1 --template cart_abandoned --var product=围巾 --channel oa_template)
t_ok "the first is sent (token fetched)" wait_for 15 sh -c "\"$CHUDA\" -c chuda.conf show $g1 | grep -q 'state     sent'"
# the refresh the next message starts is answered slowly
sim_fault "{\"path\":\"$TOK\",\"count\":1,\"delay_ms\":2000}"
g2=$(chuda enqueue --user g2 --template cart_abandoned --var product=手套 --channel oa_template)
t_ok "the second is sent" wait_for 15 sh -c "\"$CHUDA\" -c chuda.conf show $g2 | grep -q 'state     sent'"
refreshed() { test "$(token_calls "$seq0" | wc -w)" -ge 2; }
t_ok "the refresh was answered" wait_for 10 refreshed
kill -TERM $RUN; wait $RUN
t_eq "two token calls: the first, then one refresh" "normal:0 normal:0" "$(token_calls "$seq0")"
answered=$(sim_requests $TOK | python3 -c '
import json, sys
r = [json.loads(l) for l in sys.stdin][-1]
print(r["at_ms"] + r.get("delay_ms", 0))')
t_eq "the second went out while the refresh was held, with the cached token" "yes same" \
    "$(sim_requests $OA | python3 -c '
import json, sys
rs = [json.loads(l) for l in sys.stdin]
g1 = [r for r in rs if "oG1" in r["body"]][0]
g2 = [r for r in rs if "oG2" in r["body"]][0]
print("yes" if g2["at_ms"] < int(sys.argv[1]) else "no", "same" if g1["query"] == g2["query"] else "other")' "$answered")"

# ==== SIGHUP while a background refresh is out: the old instance outlives its reply ======
oa() { chuda enqueue --user "$1" --template cart_abandoned --var product=围巾 --channel oa_template; }
sent() { "$CHUDA" -c chuda.conf show "$1" | grep -q 'state     sent'; }
seq0=$(last_seq)
chuda_daemon hup
g3=$(oa g3)
t_ok "hup: the first is sent (token fetched)" wait_for 15 sent "$g3"
sim_fault "{\"path\":\"$TOK\",\"count\":1,\"delay_ms\":2000}"
g4=$(oa g4)
t_ok "hup: the second is sent while the refresh is held" wait_for 15 sent "$g4"
kill -HUP $RUN
t_ok "hup: reloaded with the refresh still out" wait_for 15 grep -q "reloaded config" hup.log
t_ok "hup: the refresh was answered" wait_for 10 refreshed
sleep 0.5
g5=$(oa g5)
t_ok "hup: the run goes on after the old instance's refresh came back" wait_for 15 sent "$g5"
kill -TERM $RUN; wait $RUN
t_eq "hup: exit 0" 0 $?

# ==== a burst, counted at the simulator: two at once, the third waits ====================
sed 's/^credits = off$/credits = off\nrate = 0.1\nburst = 2/' chuda.conf >burst.conf
seq0=$(last_seq)
CHUDA_CONF=burst.conf chuda_daemon burst
for u in r1 r2 r3 r4; do cart $u 围巾 >/dev/null; done
t_ok "two are sent at once" wait_for 15 sh -c "test \"\$(sqlite3 chuda.db \"select count(*) from done d join msg m on m.id = d.id where d.state = 'sent' and m.user_id like 'r%'\")\" -ge 2"
# the bucket gives the third token 10 s after the burst: nothing more can have left yet
t_eq "... and only two reached the provider" 2 "$(sim_requests $MP | python3 -c '
import json, sys
print(sum(json.loads(json.loads(l)["body"])["touser"].startswith("oR") for l in sys.stdin))')"
kill -TERM $RUN; wait $RUN
t_eq "the other two went back to the queue" 2 \
    "$(sqlite3 chuda.db "select count(*) from queue q join msg m on m.id = q.id where m.user_id like 'r%'")"
t_done
