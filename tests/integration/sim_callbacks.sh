#!/bin/sh
# sim_callbacks.sh — delivery receipts pushed by the simulator after successful sends
# (providers.md 5.5, 6.4, 7).  A second chuda-sim is the receiver: it records every
# request, and injected faults make it answer 200 (or 500 once, to see the re-push).
# Usage: sh tests/integration/sim_callbacks.sh BUILD
. tests/lib.sh "$1"
cd "$T_WORK"

C="curl -sS --cacert $CA/ca.pem"
jget() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

# the receiver
"$SIM" --cert "$CA/sim.pem" --key "$CA/sim.key" --port-file rx.port >rx.log 2>&1 &
RX_PID=$!
T_PIDS="$T_PIDS $RX_PID"
wait_for 5 test -s rx.port
RX="https://127.0.0.1:$(cat rx.port)"
rx_ctl() { $C -X "$1" ${3:+-d "$3"} "$RX$2"; }
rx_ctl POST /_sim/fault '{"path":"/cb/wechat","status":500,"body":"busy"}' >/dev/null
rx_ctl POST /_sim/fault '{"path":"*","status":200,"body":"{\"result\":0,\"code\":0}","count":100}' >/dev/null

cat > sim.ini <<EOF
[sim]
callback_wechat = $RX/cb/wechat
callback_tencent = $RX/cb/tencent
callback_aliyun = $RX/cb/aliyun
callback_ca = $CA/ca.pem
callback_retry_ms = 300
[wechat.wxcb]
secret = s
[tencent.AKIDcb]
secret_key = k
[aliyun.LTAIcb]
secret = a
blacklist = 13800000099
EOF
sim_start "$T_WORK/sim.ini"
post() { $C -H 'Content-Type: application/json' --data-binary "$2" "$SIM_URL$1"; }
rx_bodies() {   # rx_bodies PATH: the JSON bodies the receiver got on PATH, one per line
    rx_ctl GET "/_sim/requests?path=$1" | python3 -c '
import json, sys
for r in json.load(sys.stdin): print(r["body"])'
}
rx_count() { rx_bodies "$1" | wc -l | tr -d ' '; }
rx_has() { test "$(rx_count "$1")" = "$2"; }    # rx_has PATH N

# --- WeChat: subscribe_msg_sent_event, first push fails (500) and is re-pushed ------------
T=$(post /cgi-bin/stable_token '{"grant_type":"client_credential","appid":"wxcb","secret":"s"}' | jget 'd["access_token"]')
msgid=$(post "/cgi-bin/message/subscribe/send?access_token=$T" '{"touser":"oCb","template_id":"TPL","data":{"thing1":{"value":"x"}}}' | jget 'd["msgid"]')
t_ok "wechat event pushed twice (500, then retry)" wait_for 5 rx_has /cb/wechat 2
ev=$(rx_bodies /cb/wechat | tail -1)
t_eq "subscribe_msg_sent_event shape" "subscribe_msg_sent_event oCb TPL $msgid 0 success" \
    "$(printf '%s' "$ev" | jget '" ".join(str(x) for x in (d["Event"], d["FromUserName"], d["List"]["TemplateId"], d["List"]["MsgID"], d["List"]["ErrorCode"], d["List"]["ErrorStatus"]))')"
t_eq "receiver saw the provider header" wechat \
    "$(rx_ctl GET '/_sim/requests?path=/cb/wechat' | jget 'd[-1]["headers"]["x-chuda-sim-provider"]')"

# --- Tencent: status report array, sid = SerialNo ----------------------------------------
CT='application/json; charset=utf-8'
printf '%s' '{"PhoneNumberSet":["+8613800000001"],"SmsSdkAppId":"1400006666","TemplateId":"1","SignName":"S","TemplateParamSet":[]}' > tc.body
ts=$(date +%s)
auth=$("$SIM" --sign-tc3 AKIDcb k "127.0.0.1:$SIM_PORT" "$ts" "$CT" < tc.body)
serial=$($C -H "Content-Type: $CT" -H 'X-TC-Action: SendSms' -H 'X-TC-Version: 2021-01-11' \
    -H 'X-TC-Region: ap-guangzhou' -H "X-TC-Timestamp: $ts" -H "Authorization: $auth" \
    --data-binary @tc.body "$SIM_URL/" | jget 'd["Response"]["SendStatusSet"][0]["SerialNo"]')
t_ok "tencent status report pushed" wait_for 5 rx_has /cb/tencent 1
t_eq "tencent report shape" "$serial SUCCESS DELIVRD 86 13800000001" \
    "$(rx_bodies /cb/tencent | jget '" ".join((d[0]["sid"], d[0]["report_status"], d[0]["errmsg"], d[0]["nationcode"], d[0]["mobile"]))')"

# --- Aliyun: SmsReport array; the blacklisted number fails in the receipt -------------------
q=$("$SIM" --sign-aliyun GET a AccessKeyId=LTAIcb Action=SendSms Format=JSON \
    PhoneNumbers=13800000001,13800000099 SignName=S SignatureMethod=HMAC-SHA1 SignatureNonce=n1 \
    SignatureVersion=1.0 TemplateCode=SMS_1 OutId=job-7 "Timestamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    Version=2017-05-25)
biz=$($C "$SIM_URL/?$q" | jget 'd["BizId"]')
t_ok "aliyun report pushed" wait_for 5 rx_has /cb/aliyun 1
t_eq "aliyun report shape" "13800000001 True DELIVERED $biz job-7 | 13800000099 False DB:0141" \
    "$(rx_bodies /cb/aliyun | jget '" ".join(str(x) for x in (d[0]["phone_number"], d[0]["success"], d[0]["err_code"], d[0]["biz_id"], d[0]["out_id"], "|", d[1]["phone_number"], d[1]["success"], d[1]["err_code"]))')"
t_eq "blacklisted number recorded, message still delivered to the other" "['+8613800000099'] True" \
    "$(sim_ctl GET '/_sim/requests?path=/' | jget 'str(d[-1]["blacklisted"]) + " " + str(d[-1]["delivered"])')"
t_eq "stats count the pushes" "3 1" "$(sim_ctl GET /_sim/stats | jget 'str(d["callbacks_ok"]) + " " + str(d["callbacks_failed"])')"
t_done
