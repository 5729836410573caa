# sched_signals.sh — SIGINT and SIGTERM while requests are in flight (the simulator holds
# its replies back):
#  1. SIGINT with one request out: it finishes, its result is committed, exit 0.
#  2. SIGTERM with one request out and two waiting behind concurrency = 1 — one of them
#     built, recorded in flight and waiting in the HTTP thread for the slot (a channel has
#     twice its concurrency in hand), the other still in the scheduler: the one out
#     finishes (sent), the waiting two go back to the queue unsent and untouched (no
#     attempt, not uncertain), exit 0; the next start sends them, resending nothing.
#  3. SIGTERM with replies slower than shutdown_grace: it exits 0 at the grace, before
#     the replies, saying how many were left; the messages stay marked in flight and the
#     next start logs each `uncertain` and (lifecycle: on_uncertain = retry) resends it.
#  4. SIGTERM while a message waits for its access token (the token endpoint is slow): it
#     is unsent, so it goes back to the queue untouched when the token comes; no request.
. tests/lib.sh "$1"
cd "$T_WORK"
chuda_setup "" "$PIPELINE_ONLY"
{ echo "user_id,tier,mp_openid"; for n in 1 2 3 4 5 6 7 8; do echo "s$n,potential,oS${n}xxxxxxxxxxxxxxxxxxxxxxxxxxx"; done; } > users.csv
t_ok "users import" chuda users import users.csv
enq() { chuda enqueue --user "$1" --template cart_abandoned --var product=围巾$1; }
attempts() { chuda show "$1" | sed -n 's/^  attempts *//p'; }
sends() { sim_requests /cgi-bin/message/subscribe/send | wc -l; }
inflight() { test "$(sqlite3 chuda.db 'select count(*) from queue where inflight is not null')" -ge "$1"; }
delay() { sim_ctl POST /_sim/fault "{\"path\":\"/cgi-bin/message/subscribe/send\",\"count\":$1,\"delay_ms\":$2}" >/dev/null; }

# --- 1. SIGINT with a request out -----------------------------------------------------
delay 1 1500
t_ok "run started" run_bg chuda.conf run1.log
a=$(enq s1)
t_ok "1: the request is out" wait_for 10 inflight 1
kill -INT $RUN; wait $RUN; rc=$?
t_eq "SIGINT: exit 0" 0 "$rc"
t_match "SIGINT: it said it finishes what is in flight" "Interrupt: finishing requests in flight" "$(cat run1.log)"
t_eq "SIGINT: the request in flight finished and was committed" sent "$(msg_state "$a")"

# --- 2. SIGTERM, one out, two waiting --------------------------------------------------
cp chuda.conf conc1.conf
printf '[channel.mp_subscribe]\nconcurrency = 1\n' >> conc1.conf
n0=$(sends)
delay 1 2000
b1=$(enq s2); b2=$(enq s3); b3=$(enq s4)
t_ok "run (concurrency 1) started" run_bg conc1.conf run2.log
t_ok "2: one request out, one waiting for its slot (both recorded in flight)" wait_for 10 inflight 2
kill -TERM $RUN; wait $RUN; rc=$?
t_eq "SIGTERM: exit 0" 0 "$rc"
t_eq "SIGTERM: one request had left" 1 "$(( $(sends) - n0 ))"
out=""; waiting=""
for id in $b1 $b2 $b3; do
    case $(msg_state "$id") in sent) out="$out $id" ;; queued) waiting="$waiting $id" ;; esac
done
t_eq "SIGTERM: the one in flight finished (sent)" 1 "$(echo $out | wc -w)"
t_eq "SIGTERM: the two waiting went back to the queue" 2 "$(echo $waiting | wc -w)"
for id in $waiting; do
    t_eq "message $id: no attempt spent" 0 "$(attempts "$id")"
done
t_eq "SIGTERM: nothing uncertain" 0 "$(log_count uncertain)"
t_ok "next start sends the two" chuda run --until-idle
for id in $waiting; do t_eq "message $id sent at the next start" sent "$(msg_state "$id")"; done
t_eq "nothing was resent" 3 "$(( $(sends) - n0 ))"
t_eq "still nothing uncertain" 0 "$(log_count uncertain)"

# --- 3. SIGTERM, replies slower than the grace period -------------------------------------
cp chuda.conf grace.conf
printf '[chuda]\nshutdown_grace = 1s\n' >> grace.conf
delay 3 6000
c1=$(enq s5); c2=$(enq s6); c3=$(enq s7)
t_ok "run (grace 1s) started" run_bg grace.conf run3.log
t_ok "3: three requests out" wait_for 10 inflight 3
out_at=$(date +%s)
kill -TERM $RUN; wait $RUN; rc=$?
t_eq "past the grace: exit 0" 0 "$rc"
t_match "past the grace: it says what is left" "3 requests still in flight after the grace period; they will be marked uncertain at the next start" "$(cat run3.log)"
t_eq "past the grace: it did not wait for the replies (none sent)" 0 "$(chuda log --format json --event sent | grep -c -e "\"message_id\":$c1," -e "\"message_id\":$c2," -e "\"message_id\":$c3,")"
t_ok "past the grace: the three stay marked in flight" inflight 3
# the simulator holds those openids busy (43108 to another send) until its 6 s delay is
# over, even though nobody waits for the replies: let that pass before the next start
while [ $(( $(date +%s) - out_at )) -lt 8 ]; do sleep 0.5; done
t_ok "next start" chuda run --until-idle
for id in $c1 $c2 $c3; do
    t_eq "message $id logged uncertain at the next start" 1 "$(log_count uncertain "$id")"
    t_eq "message $id resent (lifecycle: on_uncertain = retry)" sent "$(msg_state "$id")"
done

# --- 4. SIGTERM while a message waits for its token ---------------------------------------
n0=$(sends)
sim_ctl POST /_sim/fault '{"path":"/cgi-bin/stable_token","count":1,"delay_ms":2000}' >/dev/null
d1=$(enq s8)
t_ok "run (a fresh token to fetch) started" run_bg chuda.conf run4.log
t_ok "4: it asked for its token" wait_for 10 sh -c "sim_ctl() { curl -s --cacert '$CA/ca.pem' \"$SIM_URL\$1\"; }; sim_ctl /_sim/stats | grep -q '\"delayed\": *1'"
kill -TERM $RUN; wait $RUN; rc=$?
t_eq "token wait: exit 0" 0 "$rc"
t_eq "token wait: no request for the message after SIGTERM" 0 "$(( $(sends) - n0 ))"
t_eq "token wait: back in the queue, no attempt spent" "queued 0" "$(msg_state "$d1") $(attempts "$d1")"
t_eq "token wait: nothing uncertain" 0 "$(log_count uncertain "$d1")"
t_done
