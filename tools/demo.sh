#!/bin/sh
# make demo: chuda end to end against the provider simulator on loopback, with an
# embedded SQLite database, in build/demo. Every channel is configured: mini-program
# subscription, official-account template, SMS (Tencent), WeCom app message, WeCom
# customer broadcast and the WeCom group robot. Prints what was sent, per channel.
set -eu
build=${1:-build}
top=$(pwd)
work="$top/build/demo"
rm -rf "$work"
mkdir -p "$work"
cd "$work"

rnd() { od -An -N8 -tx8 /dev/urandom | tr -d ' '; }
export CHUDA_DEMO_MP_SECRET="demo-mp-secret-$(rnd)"
export CHUDA_DEMO_OA_SECRET="demo-oa-secret-$(rnd)"
export CHUDA_DEMO_SMS_KEY="demo-sms-key-$(rnd)"
export CHUDA_DEMO_WECOM_SECRET="demo-wecom-secret-$(rnd)"
export CHUDA_DEMO_ROBOT_KEY="demo-robot-$(rnd)"
cat > sim.ini <<EOF2
[wechat.wxdemo00000000001]
secret = $CHUDA_DEMO_MP_SECRET
[wechat.wxdemooa000000001]
secret = $CHUDA_DEMO_OA_SECRET
[tencent.AKIDdemo0000000000000001]
secret_key = $CHUDA_DEMO_SMS_KEY
sdk_app_id = 1400006666
[wecom.wwdemo0000000001]
secret = $CHUDA_DEMO_WECOM_SECRET
agentid = 1000002
robot_keys = $CHUDA_DEMO_ROBOT_KEY
EOF2
"$top/$build/chuda-sim" --cert "$top/build/ca/sim.pem" --key "$top/build/ca/sim.key" \
    --config sim.ini --port 0 --port-file sim.port --record sim.jsonl >sim.log 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null; wait $sim 2>/dev/null' EXIT
i=0
while [ ! -s sim.port ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
port=$(cat sim.port)
url="https://127.0.0.1:$port"
echo "== provider simulator: $url (test CA build/ca/ca.pem)"

# the shipped templates; the cart reminder also as a WeCom customer broadcast (the
# member `sales01` confirms it in WeCom); and one for the sales group's robot
mkdir templates
cp "$top"/templates/*.ini templates/
grep -q '^\[wecom_customer\]' templates/cart_abandoned.ini || cat >> templates/cart_abandoned.ini <<'EOF2'

[wecom_customer]
content = {{body}}，{{hint}}
link.title = 你的购物车
link.url = https://shop.example.com/cart
EOF2
cat > templates/cart_group_alert.ini <<'EOF2'
; cart_group_alert — tells the sales team's WeCom group that a high-value customer
; left something in the cart (the group is the recipient, the user is the subject).
[template]
class = transactional
vars = product
[wecom_robot]
msgtype = markdown
content = **{{name|客户}}**（{{user_id}}）的购物车里还有 {{product}}，记得跟进
EOF2

cat > chuda.conf <<EOF2
[chuda]
db = chuda.db
templates = templates
ca_file = $top/build/ca/ca.pem
[policy]
; the demo sends right away at any hour; in production users' quiet hours apply
quiet_hours = none
[tier.high_value]
channels = wecom, wecom_customer, mp_subscribe, oa_template, sms
[channel.mp_subscribe]
base_url = $url
appid = wxdemo00000000001
secret_env = CHUDA_DEMO_MP_SECRET
[channel.oa_template]
base_url = $url
appid = wxdemooa000000001
secret_env = CHUDA_DEMO_OA_SECRET
[channel.sms]
base_url = $url
provider = tencent
secret_id = AKIDdemo0000000000000001
secret_env = CHUDA_DEMO_SMS_KEY
sdk_app_id = 1400006666
sign_name = 触达商城
[channel.wecom]
base_url = $url
corpid = wwdemo0000000001
secret_env = CHUDA_DEMO_WECOM_SECRET
agentid = 1000002
[channel.wecom_customer]
base_url = $url
corpid = wwdemo0000000001
secret_env = CHUDA_DEMO_WECOM_SECRET
sender = sales01
[channel.wecom_robot]
base_url = $url
key_env = CHUDA_DEMO_ROBOT_KEY
EOF2
chuda() { "$top/$build/chuda" -c chuda.conf "$@"; }
users="$top/etc/users.example.csv"

echo "== chuda init"; chuda init
echo "== chuda users import etc/users.example.csv"; chuda users import "$users"
echo "== subscription credits: the first five users accepted the cart template"
for u in $(sed 1d "$users" | cut -d, -f1 | head -5); do chuda credits grant "$u" TPL_CART_1 >/dev/null; done
echo "== enqueue: a cart reminder for every user, one due in 2 s, one cancelled;"
echo "   the sales group hears about high-value carts"
n=0
sed 1d "$users" | cut -d, -f1,2 | while IFS=, read -r u tier; do
    n=$((n + 1))
    case $n in
        3) at=+2s ;;
        *) at=now ;;
    esac
    chuda enqueue --user "$u" --template cart_abandoned --var "product=第${n}号商品" \
        --key "demo:cart:$u" --tag cart --at "$at" >/dev/null
    if [ "$tier" = high_value ]; then
        chuda enqueue --user "$u" --template cart_group_alert --var "product=第${n}号商品" \
            --key "demo:alert:$u" --channel wecom_robot >/dev/null
    fi
done
first=$(sed -n 2p "$users" | cut -d, -f1)
echo "   $(chuda cancel --user "$first" --tag cart) (user $first paid)"
echo "== chuda run --until-idle"
chuda run --until-idle
echo "== the audit log (sent, suppressed, cancelled)"
chuda log | awk 'NR == 1 || $5 != "enqueued"'
echo "== what the simulator received, per channel (one example each)"
python3 - sim.jsonl <<'EOF2'
import json, sys
names = {
    "/cgi-bin/message/subscribe/send": "mp_subscribe",
    "/cgi-bin/message/template/send": "oa_template",
    "/cgi-bin/message/send": "wecom",
    "/cgi-bin/externalcontact/add_msg_template": "wecom_customer",
    "/cgi-bin/webhook/send": "wecom_robot",
}
seen = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    name = names.get(r["path"]) or ("sms (tencent)" if r.get("provider") == "tencent" else None)
    if name:
        seen.setdefault(name, []).append(r)
for name in ["mp_subscribe", "oa_template", "sms (tencent)", "wecom", "wecom_customer",
             "wecom_robot"]:
    rs = seen.get(name, [])
    ok = sum(1 for r in rs if r["delivered"])
    print(f"-- {name}: {len(rs)} requests, {ok} delivered")
    if rs:
        body = json.loads(rs[0]["body"])
        print("   " + json.dumps(body, ensure_ascii=False))
EOF2
echo "== done: database build/demo/chuda.db, simulator record build/demo/sim.jsonl"
