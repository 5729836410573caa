# tests/lib.sh — helpers for integration scenarios (sourced by tests/integration/*.sh).
#
# Each scenario runs as separate processes: the simulator, `chuda` commands, and checks
# on what the simulator received, what the audit log says and what the queue holds.
# Checks print "ok - NAME" or "not ok - NAME"; t_done exits non-zero if any failed.
# Usage at the top of a scenario:   . tests/lib.sh "$1"

BUILD=${1:-build}
TOP=$(pwd)
CHUDA="$TOP/$BUILD/chuda"
SIM="$TOP/$BUILD/chuda-sim"
CA="$TOP/build/ca"
T_FAILED=0
T_WORK=$(mktemp -d "${CHUDA_TEST_TMP:-/tmp}/chuda-test.XXXXXX")
T_PIDS=""

t_cleanup() {
    for p in $T_PIDS; do kill "$p" 2>/dev/null; done
    for p in $T_PIDS; do wait "$p" 2>/dev/null; done
    [ -n "${CHUDA_TEST_KEEP:-}" ] && echo "kept $T_WORK" || rm -rf "$T_WORK"
}
trap t_cleanup EXIT

t_ok() {    # t_ok NAME CMD...: passes when CMD exits 0
    name=$1; shift
    if "$@" >"$T_WORK/.out" 2>&1; then
        echo "ok - $name"
    else
        echo "not ok - $name"; sed 's/^/    # /' "$T_WORK/.out" | head -20
        T_FAILED=$((T_FAILED + 1))
    fi
}

t_fails() { # t_fails NAME CMD...: passes when CMD exits non-zero
    name=$1; shift
    if "$@" >"$T_WORK/.out" 2>&1; then
        echo "not ok - $name (succeeded, expected failure)"; sed 's/^/    # /' "$T_WORK/.out" | head -20
        T_FAILED=$((T_FAILED + 1))
    else
        echo "ok - $name"
    fi
}

t_fails_with() {    # t_fails_with NAME REGEX CMD...: CMD exits non-zero and says REGEX
    name=$1; re=$2; shift 2
    if "$@" >"$T_WORK/.out" 2>&1; then
        echo "not ok - $name (succeeded, expected failure)"; sed 's/^/    # /' "$T_WORK/.out" | head -20
        T_FAILED=$((T_FAILED + 1))
    elif ! grep -q -E -- "$re" "$T_WORK/.out"; then
        echo "not ok - $name (failed, but not saying /$re/)"; sed 's/^/    # /' "$T_WORK/.out" | head -20
        T_FAILED=$((T_FAILED + 1))
    else
        echo "ok - $name"
    fi
}

t_eq() {    # t_eq NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then
        echo "ok - $1"
    else
        echo "not ok - $1"; echo "    # expected: $2"; echo "    # actual:   $3"
        T_FAILED=$((T_FAILED + 1))
    fi
}

t_match() { # t_match NAME REGEX TEXT
    if printf '%s' "$3" | grep -q -E -- "$2"; then
        echo "ok - $1"
    else
        echo "not ok - $1"; echo "    # pattern: $2"; printf '%s\n' "$3" | sed 's/^/    # text: /' | head -20
        T_FAILED=$((T_FAILED + 1))
    fi
}

t_done() {
    [ "$T_FAILED" -eq 0 ]
    exit $?
}

# Start the simulator on an ephemeral port with an optional config and server certificate
# (default: the test CA's for 127.0.0.1); sets SIM_PORT, SIM_URL, SIM_PID.
sim_start() {   # sim_start [CONFIG] [CERT]
    rm -f "$T_WORK/sim.port"
    cert=${2:-$CA/sim.pem}
    set -- ${1:+--config "$1"}
    "$SIM" --cert "$cert" --key "$CA/sim.key" --port 0 --port-file "$T_WORK/sim.port" \
        --record "$T_WORK/sim.jsonl" "$@" >"$T_WORK/sim.log" 2>&1 &
    T_PIDS="$T_PIDS $!"
    SIM_PID=$!
    i=0
    while [ ! -s "$T_WORK/sim.port" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
    SIM_PORT=$(cat "$T_WORK/sim.port")
    SIM_URL="https://127.0.0.1:$SIM_PORT"
}

# curl to the simulator's control API, trusting the test CA
sim_ctl() {     # sim_ctl METHOD PATH [JSON]
    curl -s --cacert "$CA/ca.pem" -X "$1" ${3:+-H 'Content-Type: application/json' -d "$3"} "$SIM_URL$2"
}

# A chuda working directory pointed at the simulator: writes $T_WORK/chuda.conf and a
# simulator config with one mini program, initialises the database. Extra lines for the
# simulator's config and for chuda's config (appended; a section may be repeated, the
# last value of a key wins) may be given.
MP_APPID=wxtest0000000001
export CHUDA_TEST_MP_SECRET=mp-secret-0123456789abcdef
# chuda's extra lines for scenarios about the pipeline, not the policy (policy.sh tests
# that): no quiet hours, no subscription-credit bookkeeping
PIPELINE_ONLY="[policy]
quiet_hours = none
[channel.mp_subscribe]
credits = off"
chuda_setup() {     # chuda_setup [SIM_EXTRA_INI_LINES] [CHUDA_EXTRA_INI_LINES]
    cat >"$T_WORK/sim.ini" <<SIMEOF
[wechat.$MP_APPID]
secret = $CHUDA_TEST_MP_SECRET
${1:-}
SIMEOF
    sim_start "$T_WORK/sim.ini"
    mkdir -p "$T_WORK/templates"
    cp "$TOP"/templates/*.ini "$T_WORK/templates/" 2>/dev/null || true
    cat >"$T_WORK/chuda.conf" <<CONFEOF
[chuda]
db = chuda.db
templates = templates
ca_file = $CA/ca.pem
poll = 200ms
[channel.mp_subscribe]
base_url = $SIM_URL
appid = $MP_APPID
secret_env = CHUDA_TEST_MP_SECRET
retry_base = 100ms
retry_cap = 400ms
CONFEOF
    [ -n "${2:-}" ] && printf '%s\n' "$2" >>"$T_WORK/chuda.conf"
    chuda init >/dev/null
}

# `chuda` with the scenario's config: $T_WORK/chuda.conf, or the file CHUDA_CONF names.
chuda() { "$CHUDA" -c "${CHUDA_CONF:-$T_WORK/chuda.conf}" "$@"; }

# An official account beside the mini program: after chuda_setup (whose simulator lines
# gave it a [wechat.APPID] section), append [channel.oa_template] for APPID (OA_APPID).
OA_APPID=wxoa0000000000001
export CHUDA_TEST_OA_SECRET=oa-secret-0123456789
oa_channel() {      # oa_channel [APPID]
    cat >>"$T_WORK/chuda.conf" <<OAEOF
[channel.oa_template]
base_url = $SIM_URL
appid = ${1:-$OA_APPID}
secret_env = CHUDA_TEST_OA_SECRET
retry_base = 100ms
retry_cap = 400ms
OAEOF
}

# `chuda run` in the background with the scenario's config, output in NAME.log; sets RUN
# (the pid), killed at exit if still running.
chuda_daemon() {    # chuda_daemon NAME
    "$CHUDA" -c "${CHUDA_CONF:-$T_WORK/chuda.conf}" run >"$T_WORK/$1.log" 2>&1 &
    RUN=$!
    T_PIDS="$T_PIDS $RUN"
}

# A message's state (queued, sent, failed, ...).
msg_state() {       # msg_state ID
    chuda show "$1" | sed -n 's/^  state *//p'
}

# A message's events in order, comma-separated ("enqueued,retry,sent").
msg_events() {      # msg_events ID
    chuda log --format json --message "$1" | python3 -c '
import json, sys
print(",".join(json.loads(l)["event"] for l in sys.stdin))'
}

# FIELD (reason, code, detail, channel, ...) of a message's last (with "first": first)
# EVENT row, "" if none.
msg_field() {       # msg_field ID EVENT FIELD [first]
    chuda log --format json --message "$1" --event "$2" | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
print((rows[0 if sys.argv[2] == "first" else -1][sys.argv[1]] or "") if rows else "")' "$3" "${4:-last}"
}

# Queue a simulator fault (README of sim/: path, count, match, errcode, delay_ms, ...).
sim_fault() {       # sim_fault JSON
    sim_ctl POST /_sim/fault "$1" >/dev/null
}

# Tencent SMS in a scenario: tc_sim_lines [EXTRA] gives the simulator's account (for
# chuda_setup's first argument); tc_channel, after chuda_setup, adds [channel.sms].
TC_ID=AKIDchudatestsms00000001
export CHUDA_TEST_TC_KEY=tc-test-key-0123456789
tc_sim_lines() {    # tc_sim_lines [EXTRA_LINES]
    printf '[tencent.%s]\nsecret_key = %s\nsdk_app_id = 1400006666\nsign_names = 触达测试\nper_number_30s = 100\n%s\n' \
        "$TC_ID" "$CHUDA_TEST_TC_KEY" "${1:-}"
}
tc_channel() {
    printf '[channel.sms]\nbase_url = %s\nprovider = tencent\nsecret_id = %s\nsecret_env = CHUDA_TEST_TC_KEY\nsdk_app_id = 1400006666\nsign_name = 触达测试\nretry_base = 100ms\nretry_cap = 200ms\n' \
        "$SIM_URL" "$TC_ID" >>"$T_WORK/chuda.conf"
}

# Start `chuda -c CONFIG run -v` in the background, stderr to LOG; RUN is its pid. Returns
# once it says it runs: its signal handlers are set, signals may be sent.
run_bg() {          # run_bg CONFIG LOG
    "$CHUDA" -c "$1" run -v >"$2" 2>&1 &
    RUN=$!; T_PIDS="$T_PIDS $RUN"
    wait_for 15 grep -q "chuda: running on" "$2"
}

# A message's state as `chuda show` prints it (queued, leased, sent, failed, ...).
msg_state() { chuda show "$1" | sed -n 's/^  state *//p'; }
msg_is() { [ "$(msg_state "$1")" = "$2" ]; }     # msg_is ID STATE

# Requests the simulator recorded for a path (JSON lines), from GET /_sim/requests.
sim_requests() {    # sim_requests PATH
    sim_ctl GET /_sim/requests | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    if r["path"] == sys.argv[1]:
        print(json.dumps(r, ensure_ascii=False))' "$1"
}

# Count of audit events of a kind (optionally for one message).
log_count() {       # log_count EVENT [MESSAGE_ID]
    chuda log --format json ${2:+--message "$2"} | python3 -c '
import json, sys
print(sum(1 for l in sys.stdin if json.loads(l)["event"] == sys.argv[1]))' "$1"
}

# Wait until CMD succeeds, up to SECONDS (polling every 0.1 s). Returns CMD's status.
wait_for() {        # wait_for SECONDS CMD...
    limit=$(( $1 * 10 )); shift
    n=0
    while ! "$@" >/dev/null 2>&1; do
        n=$((n + 1)); [ $n -ge $limit ] && return 1
        sleep 0.1
    done
}
