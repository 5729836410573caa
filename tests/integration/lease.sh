# lease.sh — a job that waits longer than its lease is not claimed twice. With lease = 2s
# and the channel at one request a second, eight claimed messages wait up to 8 s for
# the rate: the run renews its leases every lease / 3, so each message reaches the
# simulator once and is logged sent once, none uncertain. (Before the renewal the
# next claim took the waiting ones again: 17 requests for 8 messages.) A lease under
# 1 s is refused with its file:line.
. tests/lib.sh "$1"
cd "$T_WORK"
chuda_setup "" "$PIPELINE_ONLY
[chuda]
lease = 2s
[channel.mp_subscribe]
rate = 1
burst = 1"
{ echo "user_id,tier,mp_openid"; for n in 1 2 3 4 5 6 7 8; do echo "w$n,potential,oW${n}xxxxxxxxxxxxxxxxxxxxxxxxxxx"; done; } > users.csv
t_ok "users import" chuda users import users.csv
for n in 1 2 3 4 5 6 7 8; do
    chuda enqueue --user w$n --template cart_abandoned --var product=围巾 >/dev/null
done
t_ok "run --until-idle at one request a second, lease 2 s" \
    timeout 120 "$CHUDA" -c chuda.conf run --until-idle -v
per_user=$(sim_requests /cgi-bin/message/subscribe/send | python3 -c '
import collections, json, sys
c = collections.Counter(json.loads(json.loads(l)["body"])["touser"] for l in sys.stdin)
print(" ".join(str(c[k]) for k in sorted(c)))')
t_eq "the simulator got each of the 8 messages once" "1 1 1 1 1 1 1 1" "$per_user"
t_eq "8 sent rows" 8 "$(log_count sent)"
t_eq "none uncertain" 0 "$(log_count uncertain)"
t_eq "nothing left queued" "" "$(chuda show 1 >/dev/null; for i in 1 2 3 4 5 6 7 8; do msg_state $i; done | grep -v sent)"

printf '[chuda]\nlease = 500ms\n' >> chuda.conf
t_fails_with "a lease under 1 s is refused" 'chuda.conf:[0-9]+: \[chuda\] lease: at least 1s' \
    chuda run --until-idle
t_done
