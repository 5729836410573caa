#!/bin/sh
# make demo: chuda end to end against the provider simulator on loopback, with an
# embedded SQLite database, in build/demo. Prints what was sent.
set -eu
build=${1:-build}
top=$(pwd)
work="$top/build/demo"
rm -rf "$work"
mkdir -p "$work"
cd "$work"

export CHUDA_DEMO_MP_SECRET="demo-mp-secret-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
cat > sim.ini <<EOF2
[wechat.wxdemo00000000001]
secret = $CHUDA_DEMO_MP_SECRET
EOF2
"$top/$build/chuda-sim" --cert "$top/build/ca/sim.pem" --key "$top/build/ca/sim.key" \
    --config sim.ini --port 0 --port-file sim.port --record sim.jsonl >sim.log 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null; wait $sim 2>/dev/null' EXIT
i=0
while [ ! -s sim.port ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
port=$(cat sim.port)
echo "== provider simulator: https://127.0.0.1:$port (test CA build/ca/ca.pem)"

cat > chuda.conf <<EOF2
[chuda]
db = chuda.db
templates = $top/templates
ca_file = $top/build/ca/ca.pem
[channel.mp_subscribe]
base_url = https://127.0.0.1:$port
appid = wxdemo00000000001
secret_env = CHUDA_DEMO_MP_SECRET
EOF2
chuda() { "$top/$build/chuda" -c chuda.conf "$@"; }

echo "== chuda init"; chuda init
echo "== chuda users import etc/users.example.csv"; chuda users import "$top/etc/users.example.csv"
echo "== enqueue: a cart reminder for every user, one due in 2 s, one cancelled"
n=0
for u in $(sed 1d "$top/etc/users.example.csv" | cut -d, -f1); do
    n=$((n + 1))
    case $n in
        3) at=+2s ;;
        *) at=now ;;
    esac
    chuda enqueue --user "$u" --template cart_abandoned --var "product=第${n}号商品" \
        --key "demo:cart:$u" --tag cart --at "$at" >/dev/null
done
first=$(sed -n 2p "$top/etc/users.example.csv" | cut -d, -f1)
echo "   $(chuda cancel --user "$first" --tag cart) (user $first paid)"
echo "== chuda run --until-idle"
chuda run --until-idle
echo "== the audit log (sent, suppressed, cancelled)"
chuda log | awk 'NR == 1 || $5 != "enqueued"'
echo "== the simulator received $(grep -c subscribe/send sim.jsonl) subscribe messages; the first:"
grep -m1 subscribe/send sim.jsonl | python3 -c 'import json,sys; print(json.dumps(json.loads(json.loads(sys.stdin.read())["body"]), ensure_ascii=False, indent=1))'
echo "== done: database build/demo/chuda.db, simulator record build/demo/sim.jsonl"
