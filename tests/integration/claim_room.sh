# claim_room.sh — free room is claimed at once while other jobs wait. batch = 10,
# max_inflight = 11: eight mini-program messages are claimed and wait for their channel's
# rate (one a second), leaving room for three, less than a batch. An official-account
# message queued then (by another process) is claimed when the run notices it and sent
# while most of the mini-program ones still wait. (Claiming only whole batches while jobs
# are active would have held it until seven of them were done.)
. tests/lib.sh "$1"
cd "$T_WORK"
chuda_setup "[wechat.$OA_APPID]
secret = $CHUDA_TEST_OA_SECRET" "$PIPELINE_ONLY
[chuda]
batch = 10
max_inflight = 11
[channel.mp_subscribe]
rate = 1
burst = 1"
oa_channel
{ echo "user_id,tier,mp_openid,oa_openid"
  for n in 1 2 3 4 5 6 7 8 9; do echo "r$n,potential,oR${n}xxxxxxxxxxxxxxxxxxxxxxxxxx,oOR${n}xxxxxxxxxxxxxxxxxxxxxxxxx"; done; } > users.csv
t_ok "users import" chuda users import users.csv
for n in 1 2 3 4 5 6 7 8; do
    chuda enqueue --user r$n --template cart_abandoned --var product=围巾 --channel mp_subscribe >/dev/null
done
chuda_daemon run
mp_sent() { sim_requests /cgi-bin/message/subscribe/send | wc -l; }
mp_at_least() { [ "$(mp_sent)" -ge "$1" ]; }
oa_sent() { [ -n "$(sim_requests /cgi-bin/message/template/send)" ]; }
t_ok "the first mini-program message reaches the simulator" wait_for 20 mp_at_least 1
t_match "an official-account message is queued" '^[0-9]+$' \
    "$(chuda enqueue --user r9 --template cart_abandoned --var product=围巾 --channel oa_template)"
t_ok "... and reaches the simulator" wait_for 20 oa_sent
n=$(mp_sent)
t_ok "... while mini-program messages still wait their turn ($n of 8 sent)" test "$n" -le 4
t_ok "every mini-program message is sent in the end" wait_for 30 mp_at_least 8
kill -TERM "$RUN"; wait "$RUN" 2>/dev/null
t_eq "9 sent rows" 9 "$(log_count sent)"
t_done
