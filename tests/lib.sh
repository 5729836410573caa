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
T_WORK=$(mktemp -d /tmp/chuda-test.XXXXXX)
T_PIDS=""

t_cleanup() {
    for p in $T_PIDS; do kill "$p" 2>/dev/null; done
    for p in $T_PIDS; do wait "$p" 2>/dev/null; done
    rm -rf "$T_WORK"
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

# Start the simulator on an ephemeral port with an optional config; sets SIM_PORT, SIM_URL.
sim_start() {   # sim_start [CONFIG]
    rm -f "$T_WORK/sim.port"
    set -- ${1:+--config "$1"}
    "$SIM" --cert "$CA/sim.pem" --key "$CA/sim.key" --port 0 --port-file "$T_WORK/sim.port" \
        --record "$T_WORK/sim.jsonl" "$@" >"$T_WORK/sim.log" 2>&1 &
    T_PIDS="$T_PIDS $!"
    SIM_PID=$!
    i=0
    while [ ! -s "$T_WORK/sim.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
    SIM_PORT=$(cat "$T_WORK/sim.port")
    SIM_URL="https://127.0.0.1:$SIM_PORT"
}

# curl to the simulator's control API, trusting the test CA
sim_ctl() {     # sim_ctl METHOD PATH [JSON]
    curl -s --cacert "$CA/ca.pem" -X "$1" ${3:+-H 'Content-Type: application/json' -d "$3"} "$SIM_URL$2"
}
