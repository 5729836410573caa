# sched_wake.sh — `chuda run` wakes when a message is due, not when it polls, and sees
# other processes' messages quickly without busy polling.
#  1. poll = 30s, watch off: messages enqueued for +2 s and +4 s before `chuda run`
#     starts are sent at their due times (the timer), long before a poll would fire;
#     a message enqueued while it sleeps waits for the poll (nothing else wakes it).
#  2. poll = 30s, watch on: a message another process enqueues is seen within seconds.
#  3. the default config (poll 1s, watch 100ms): messages enqueued one by one by another
#     process while run is idle are sent within 1 s of their enqueue (the median of
#     five, from the log's enqueued.at and sent.at, simulator latency included); an
#     idle run uses (next to) no CPU over 10 s.
#  4. poll = 30s, watch off, the HTTP API on: a message POSTed to /v1/messages (due now)
#     is sent at once — the run's own commits leave PRAGMA data_version alone, so only
#     the enqueue itself can wake the loop early.
# Times are compared with wide margins (seconds, against a 30 s poll), never tightly.
. tests/lib.sh "$1"
cd "$T_WORK"
chuda_setup "" "$PIPELINE_ONLY"
grep -v '^poll = ' chuda.conf > default.conf     # chuda_setup's 200ms poll removed
cp default.conf chuda.conf
printf '[chuda]\npoll = 30s\nwatch = 0s\n' >> chuda.conf
cp default.conf watch.conf
printf '[chuda]\npoll = 30s\n' >> watch.conf

{ echo "user_id,tier,mp_openid"; for n in 1 2 3 4 5 6 7 8 9; do echo "w$n,potential,oW${n}xxxxxxxxxxxxxxxxxxxxxxxxxxx"; done; } > users.csv
t_ok "users import" chuda users import users.csv
enq() { u=$1; shift; chuda enqueue --user "$u" --template cart_abandoned --var product=围巾 "$@" 2>/dev/null; }
# seconds from a message's enqueued (or due) time to its sent row
lag() {     # lag ID [due]
    chuda log --format json --message "$1" | python3 -c '
import datetime, json, sys
t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
rows = [json.loads(l) for l in sys.stdin]
enq = [r for r in rows if r["event"] == "enqueued"][0]
sent = [r for r in rows if r["event"] == "sent"]
start = t(enq["reason"].split("due ")[1]) if sys.argv[1:] == ["due"] else t(enq["at"])
print("%.3f" % (t(sent[0]["at"]) - start) if sent else "unsent")' ${2:-}
}
stop_run() { kill -TERM $RUN; wait $RUN; }

# --- 1. the due-time timer, poll = 30s, watch off --------------------------------------
a=$(enq w1 --at +2s)
b=$(enq w2 --at +4s)
t_match "two messages queued before run starts" '^[0-9]+ [0-9]+$' "$a $b"
t_ok "run (poll 30s, watch off) started" run_bg chuda.conf run1.log
t_ok "+2s message sent" wait_for 20 msg_is "$a" sent
t_ok "+4s message sent" wait_for 20 msg_is "$b" sent
for id in $a $b; do
    l=$(lag "$id" due)
    echo "# message $id: sent ${l}s after its due time"
    t_ok "message $id sent at its due time, not at the 30 s poll (${l}s late)" \
        python3 -c "import sys; sys.exit(not 0 <= float('$l') < 10)"
done
c=$(enq w3)
sleep 3
t_eq "a message enqueued meanwhile waits for the poll (nothing else wakes run)" queued "$(msg_state "$c")"
stop_run
t_eq "run 1 stops with exit 0" 0 "$?"
chuda run --until-idle >/dev/null 2>&1      # sends the waiting one

# --- 2. the watch: poll = 30s, watch 100ms ---------------------------------------------
t_ok "run (poll 30s, watch 100ms) started" run_bg watch.conf run2.log
sleep 0.5
d=$(enq w4)
t_ok "another process's message is seen without waiting for the poll" \
    wait_for 10 msg_is "$d" sent
l=$(lag "$d")
echo "# poll 30s, watch 100ms: sent ${l}s after enqueue"
t_ok "... well before the poll (${l}s)" python3 -c "import sys; sys.exit(not float('$l') < 10)"
stop_run

# --- 3. the default config: within 1 s; idle CPU --------------------------------------
t_ok "run (defaults) started" run_bg default.conf run3.log
lags=""
for n in 5 6 7 8 9; do
    sleep 0.$((n * 7 % 10))       # land at different phases of the timers
    id=$(enq w$n)
    wait_for 10 msg_is "$id" sent
    lags="$lags $(lag "$id")"
done
echo "# default config: enqueue -> sent (s):$lags"
med=$(python3 -c "import statistics, sys; v = sys.argv[1:]; print('unsent' if 'unsent' in v else statistics.median(map(float, v)))" $lags)
t_ok "median enqueue -> sent under 1 s with the defaults ($med s;$lags)" \
    python3 -c "import sys; sys.exit(not float('$med') < 1.0)"
ticks() { python3 -c 'import sys; f = open("/proc/%s/stat" % sys.argv[1]).read().rsplit(")", 1)[1].split(); print(int(f[11]) + int(f[12]))' $RUN; }
t0=$(ticks); sleep 10; t1=$(ticks)
hz=$(getconf CLK_TCK)
echo "# idle chuda run: $((t1 - t0)) CPU ticks in 10 s (${hz}/s)"
t_ok "idle: no busy polling ($((t1 - t0)) ticks of $((hz * 10)) in 10 s)" test $((t1 - t0)) -le $((hz / 2))
stop_run
t_eq "run 3 stops with exit 0" 0 "$?"

# --- 4. the API's own enqueue wakes the loop: poll = 30s, watch off ---------------------
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export CHUDA_TEST_API_TOKEN=tok-wake-0123456789abcdef
cp chuda.conf api.conf
printf '[api]\nlisten = 127.0.0.1:%s\ntoken_env = CHUDA_TEST_API_TOKEN\n' "$PORT" >> api.conf
t_ok "run (poll 30s, watch off, API on) started" run_bg api.conf run4.log
sleep 0.5                           # asleep until the 30 s poll
body='{"user":"w9","template":"cart_abandoned","vars":{"product":"围巾"},"key":"wake:api"}'
e=$(curl -s -X POST -H "Authorization: Bearer $CHUDA_TEST_API_TOKEN" -d "$body" \
    "http://127.0.0.1:$PORT/v1/messages" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
t_match "POST /v1/messages answered with an id" '^[0-9]+$' "$e"
t_ok "the API's message is sent without waiting for the poll" wait_for 10 msg_is "$e" sent
l=$(lag "$e")
echo "# poll 30s, watch off: POST -> sent ${l}s"
t_ok "... well before the 30 s poll (${l}s)" python3 -c "import sys; sys.exit(not float('$l') < 10)"
stop_run
t_eq "run 4 stops with exit 0" 0 "$?"
t_done
