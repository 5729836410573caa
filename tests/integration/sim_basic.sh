#!/bin/sh
# sim_basic.sh — the provider simulator on its own, driven with curl: WeChat tokens and
# sends, keyword validation, credits, fault injection, OA dedup, WeCom, Tencent and Aliyun
# SMS signatures (signed by chuda-sim's hidden --sign-tc3/--sign-aliyun helpers, i.e. by
# src/sign.c), recording, and TLS trust.  Usage: sh tests/integration/sim_basic.sh BUILD
if [ -f tests/lib.sh ]; then
    . tests/lib.sh "$1"
else
    echo "tests/lib.sh missing: run from the repository root" >&2
    exit 1
fi
cd "$T_WORK"

cat > sim.ini <<'EOF'
[sim]
seed = 7
[wechat.wxmp1]
secret = mp-secret
pages = pages/index,pages/cart/index
[wechat.wxmp2]
secret = mp2-secret
credits = on
[wechat.wxoa1]
secret = oa-secret
followers = off
[wecom.wwcorp1]
secret = corp-secret
agentid = 1000002
users = alice,bob
member_minute_limit = 2
external_users = wmCust1,wmCust2
external_monthly_limit = 1
robot_keys = robot-key-1
robot_minute_limit = 2
[tencent.AKIDsimtest]
secret_key = tc-secret-key
sdk_app_id = 1400006666
sign_names = TestSign
templates = 1234
blacklist = +8613800000013
[aliyun.LTAIsimtest]
secret = ali-secret
sign_names = TestSign
templates = SMS_1
EOF
sim_start "$T_WORK/sim.ini"
t_match "listening line printed" '^chuda-sim listening on https://127.0.0.1:[0-9]+$' "$(cat sim.log)"

C="curl -sS --cacert $CA/ca.pem"
jget() {    # jget EXPR < json: python expression over the parsed document `d`
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}
post() {    # post PATH?QUERY JSON
    $C -H 'Content-Type: application/json' --data-binary "$2" "$SIM_URL$1"
}

# --- WeChat tokens ----------------------------------------------------------------
tok_json=$(post /cgi-bin/stable_token '{"grant_type":"client_credential","appid":"wxmp1","secret":"mp-secret"}')
TOK=$(printf '%s' "$tok_json" | jget 'd["access_token"]')
t_eq "stable_token expires_in" 7200 "$(printf '%s' "$tok_json" | jget 'd["expires_in"]')"
t_match "stable_token gives a token" '^[A-Za-z0-9_-]{32,}$' "$TOK"
TOK2=$(post /cgi-bin/stable_token '{"grant_type":"client_credential","appid":"wxmp1","secret":"mp-secret"}' | jget 'd["access_token"]')
t_eq "stable_token is stable" "$TOK" "$TOK2"
t_eq "stable_token bad secret is 40125" 40125 \
    "$(post /cgi-bin/stable_token '{"grant_type":"client_credential","appid":"wxmp1","secret":"nope"}' | jget 'd["errcode"]')"
t_eq "unknown appid is 40013" 40013 \
    "$(post /cgi-bin/stable_token '{"grant_type":"client_credential","appid":"wxzzz","secret":"x"}' | jget 'd["errcode"]')"
t_eq "classic token bad secret is 40001" 40001 \
    "$($C "$SIM_URL/cgi-bin/token?grant_type=client_credential&appid=wxmp1&secret=bad" | jget 'd["errcode"]')"

# --- subscribe send -----------------------------------------------------------------
SEND="/cgi-bin/message/subscribe/send?access_token=$TOK"
ok_body='{"touser":"oUser1","template_id":"TPL1","page":"pages/index?x=1","data":{"thing1":{"value":"羊绒围巾还在购物车里"},"time2":{"value":"2024年10月1日 15:01"},"amount3":{"value":"¥199.00"}}}'
t_match "subscribe send success shape" '^\{"errcode":0,"errmsg":"ok","msgid":[0-9]+\}$' "$(post "$SEND" "$ok_body")"
long='{"touser":"oUser1","template_id":"TPL1","data":{"thing1":{"value":"一二三四五六七八九十一二三四五六七八九十一"}}}'
r=$(post "$SEND" "$long")
t_eq "21-char thing is 47003" 47003 "$(printf '%s' "$r" | jget 'd["errcode"]')"
t_match "47003 names the field" '^argument invalid! data\.thing1\.value' "$(printf '%s' "$r" | jget 'd["errmsg"]')"
t_eq "20-char thing passes" 0 "$(post "$SEND" '{"touser":"oUser1","template_id":"TPL1","data":{"thing1":{"value":"一二三四五六七八九十一二三四五六七八九十"}}}' | jget 'd["errcode"]')"
t_eq "newline in a value is 47003" 47003 "$(post "$SEND" '{"touser":"oUser1","template_id":"TPL1","data":{"thing1":{"value":"a\nb"}}}' | jget 'd["errcode"]')"
t_eq "bad page is 41030" 41030 "$(post "$SEND" '{"touser":"oUser1","template_id":"TPL1","page":"pages/nope","data":{"thing1":{"value":"x"}}}' | jget 'd["errcode"]')"
t_eq "bad JSON is 47001" 47001 "$(post "$SEND" '{"touser":' | jget 'd["errcode"]')"
t_eq "missing token is 41001" 41001 "$(post /cgi-bin/message/subscribe/send "$ok_body" | jget 'd["errcode"]')"
t_eq "unknown token is 40014" 40014 "$(post '/cgi-bin/message/subscribe/send?access_token=zzz' "$ok_body" | jget 'd["errcode"]')"

# --- credits ------------------------------------------------------------------------
TOKC=$(post /cgi-bin/stable_token '{"grant_type":"client_credential","appid":"wxmp2","secret":"mp2-secret"}' | jget 'd["access_token"]')
csend='{"touser":"oUser2","template_id":"TPLC","data":{"thing1":{"value":"hi"}}}'
t_eq "no credit is 43101" 43101 "$(post "/cgi-bin/message/subscribe/send?access_token=$TOKC" "$csend" | jget 'd["errcode"]')"
t_match "grant one credit" '"ok":true' "$(sim_ctl POST /_sim/credits '{"appid":"wxmp2","openid":"oUser2","template_id":"TPLC","n":1}')"
t_eq "credit spent on success" 0 "$(post "/cgi-bin/message/subscribe/send?access_token=$TOKC" "$csend" | jget 'd["errcode"]')"
t_eq "then 43101 again" 43101 "$(post "/cgi-bin/message/subscribe/send?access_token=$TOKC" "$csend" | jget 'd["errcode"]')"

# --- faults ---------------------------------------------------------------------------
sim_ctl POST /_sim/fault '{"path":"/cgi-bin/message/subscribe/send","errcode":-1}' >/dev/null
t_eq "fault errcode -1 once" -1 "$(post "$SEND" "$ok_body" | jget 'd["errcode"]')"
t_eq "then success" 0 "$(post "$SEND" "$ok_body" | jget 'd["errcode"]')"
sim_ctl POST /_sim/fault '{"path":"*","reset":true}' >/dev/null
post "$SEND" "$ok_body" >/dev/null 2>&1
t_match "reset fault closes the connection (curl 52/56)" '^(52|56)$' "$?"
sim_ctl POST /_sim/fault '{"path":"*","status":503}' >/dev/null
t_eq "status fault" 503 "$($C -o /dev/null -w '%{http_code}' -d "$ok_body" "$SIM_URL$SEND")"
sim_ctl POST /_sim/fault '{"path":"*","body":"{\"errcode\":0,\"errm"}' >/dev/null
t_eq "body fault returns the raw text" '{"errcode":0,"errm' "$(post "$SEND" "$ok_body")"
# a slow reply keeps the openid busy: a concurrent send to it is 43108
sim_ctl POST /_sim/fault '{"path":"/cgi-bin/message/subscribe/send","delay_ms":2000}' >/dev/null
post "$SEND" "$ok_body" > slow.out &
slow=$!
sleep 0.5
t_eq "concurrent send to the same openid is 43108" 43108 "$(post "$SEND" "$ok_body" | jget 'd["errcode"]')"
wait $slow
t_eq "the delayed send itself succeeds" 0 "$(jget 'd["errcode"]' < slow.out)"
t_eq "faults consumed" 0 "$(sim_ctl GET /_sim/fault | jget 'len(d["faults"])')"

# --- token expiry -------------------------------------------------------------------------
sim_ctl POST /_sim/expire_tokens '{"appid":"wxmp1"}' >/dev/null
t_eq "expired token is 42001" 42001 "$(post "$SEND" "$ok_body" | jget 'd["errcode"]')"
TOK3=$(post /cgi-bin/stable_token '{"grant_type":"client_credential","appid":"wxmp1","secret":"mp-secret"}' | jget 'd["access_token"]')
t_ok "a new token after expiry" test "$TOK3" != "$TOK"

# --- OA template: follow state and client_msg_id dedup -------------------------------------
TOKO=$(post /cgi-bin/stable_token '{"grant_type":"client_credential","appid":"wxoa1","secret":"oa-secret"}' | jget 'd["access_token"]')
TPL="/cgi-bin/message/template/send?access_token=$TOKO"
oa='{"touser":"oFan1","template_id":"OATPL","client_msg_id":"job-1-u1","data":{"thing1":{"value":"hello"}}}'
t_eq "not a follower is 43004" 43004 "$(post "$TPL" "$oa" | jget 'd["errcode"]')"
sim_ctl POST /_sim/follow '{"appid":"wxoa1","openid":"oFan1","follow":true}' >/dev/null
m1=$(post "$TPL" "$oa" | jget 'd["msgid"]')
m2=$(post "$TPL" "$oa" | jget 'd["msgid"]')
t_match "OA send gives a msgid" '^[0-9]+$' "$m1"
t_eq "duplicate client_msg_id returns the original msgid" "$m1" "$m2"
t_eq "the duplicate is recorded, not delivered" "True False" \
    "$(sim_ctl GET '/_sim/requests?path=/cgi-bin/message/template/send' | jget 'str(d[-1]["duplicate"]) + " " + str(d[-1]["delivered"])')"

# --- WeCom ----------------------------------------------------------------------------------
WT=$($C "$SIM_URL/cgi-bin/gettoken?corpid=wwcorp1&corpsecret=corp-secret" | jget 'd["access_token"]')
t_eq "gettoken bad secret is 40001" 40001 "$($C "$SIM_URL/cgi-bin/gettoken?corpid=wwcorp1&corpsecret=x" | jget 'd["errcode"]')"
r=$(post "/cgi-bin/message/send?access_token=$WT" '{"touser":"alice|Zed","msgtype":"text","agentid":1000002,"text":{"content":"hi"}}')
t_eq "wecom send lists invalid users" "0 zed" "$(printf '%s' "$r" | jget 'str(d["errcode"]) + " " + d["invaliduser"]')"
t_eq "wecom all invalid is 81013" 81013 "$(post "/cgi-bin/message/send?access_token=$WT" '{"touser":"zed","msgtype":"text","agentid":1000002,"text":{"content":"hi"}}' | jget 'd["errcode"]')"
t_eq "wecom empty text is 44004" 44004 "$(post "/cgi-bin/message/send?access_token=$WT" '{"touser":"alice","msgtype":"text","agentid":1000002,"text":{"content":""}}' | jget 'd["errcode"]')"
ws() { post "/cgi-bin/message/send?access_token=$WT" "{\"touser\":\"bob\",\"msgtype\":\"text\",\"agentid\":1000002,\"text\":{\"content\":\"$1\"}$2}" >/dev/null; }
ws one; ws two; ws three
t_eq "wecom: over 2/min per member is silently dropped" "False True" \
    "$(sim_ctl GET '/_sim/requests?path=/cgi-bin/message/send' | jget 'str(d[-2]["dropped"]) + " " + str(d[-1]["dropped"])')"
ws same ',"enable_duplicate_check":1,"touser":"alice"'
ws same ',"enable_duplicate_check":1,"touser":"alice"'
t_eq "wecom: duplicate check hit is errcode 0, not delivered" "True False" \
    "$(sim_ctl GET '/_sim/requests?path=/cgi-bin/message/send' | jget 'str(d[-1]["duplicate"]) + " " + str(d[-1]["delivered"])')"
amt() { post "/cgi-bin/externalcontact/add_msg_template?access_token=$WT" '{"external_userid":["wmCust1","wmNobody"],"sender":"alice","text":{"content":"hi"}}'; }
t_eq "add_msg_template lists unknown customers in fail_list" "0 ['wmNobody']" "$(amt | jget 'str(d["errcode"]) + " " + str(d["fail_list"])')"
t_eq "monthly limit: errcode 0, recorded over_limit" "0 True" \
    "$(amt | jget 'd["errcode"]') $(sim_ctl GET '/_sim/requests?path=/cgi-bin/externalcontact/add_msg_template' | jget 'd[-1]["over_limit"]')"
hook() { post "/cgi-bin/webhook/send?key=$1" '{"msgtype":"text","text":{"content":"hi"}}' | jget 'd["errcode"]'; }
t_eq "robot send" "0 0 45009" "$(hook robot-key-1) $(hook robot-key-1) $(hook robot-key-1)"
t_eq "unknown robot key is 93000" 93000 "$(hook nokey)"

# --- Tencent SMS ------------------------------------------------------------------------------
CT='application/json; charset=utf-8'
tc_send() {     # tc_send BODY [SECRET_KEY [TIMESTAMP]]
    printf '%s' "$1" > tc.body
    ts=${3:-$(date +%s)}
    auth=$("$SIM" --sign-tc3 AKIDsimtest "${2:-tc-secret-key}" "127.0.0.1:$SIM_PORT" "$ts" "$CT" < tc.body)
    $C -H "Content-Type: $CT" -H 'X-TC-Action: SendSms' -H 'X-TC-Version: 2021-01-11' \
       -H 'X-TC-Region: ap-guangzhou' -H "X-TC-Timestamp: $ts" -H "Authorization: $auth" \
       --data-binary @tc.body "$SIM_URL/"
}
tcb='{"PhoneNumberSet":["+8613800000001","+8613800000013","12345"],"SmsSdkAppId":"1400006666","SignName":"TestSign","TemplateId":"1234","TemplateParamSet":["5678"],"SessionContext":"job-42"}'
r=$(tc_send "$tcb")
t_eq "tencent per-number codes" "Ok FailedOperation.PhoneNumberInBlacklist InvalidParameterValue.IncorrectPhoneNumber" \
    "$(printf '%s' "$r" | jget '" ".join(s["Code"] for s in d["Response"]["SendStatusSet"])')"
t_eq "tencent echoes SessionContext, Fee 1" "job-42 1 CN" \
    "$(printf '%s' "$r" | jget 'd["Response"]["SendStatusSet"][0]["SessionContext"] + " " + str(d["Response"]["SendStatusSet"][0]["Fee"]) + " " + d["Response"]["SendStatusSet"][0]["IsoCode"]')"
t_eq "tencent 30-second limit" "LimitExceeded.PhoneNumberThirtySecondLimit" \
    "$(tc_send "$tcb" | jget 'd["Response"]["SendStatusSet"][0]["Code"]')"
sim_ctl POST /_sim/fault '{"path":"tencent","code":"InternalError.Timeout"}' >/dev/null
t_eq "tencent code fault in the provider's shape" "InternalError.Timeout" \
    "$(tc_send "$tcb" | jget 'd["Response"]["Error"]["Code"]')"
t_eq "tencent bad signature" "AuthFailure.SignatureFailure" \
    "$(tc_send "$tcb" wrong-key | jget 'd["Response"]["Error"]["Code"]')"
t_eq "tencent old timestamp" "AuthFailure.SignatureExpire" \
    "$(tc_send "$tcb" tc-secret-key $(( $(date +%s) - 400 )) | jget 'd["Response"]["Error"]["Code"]')"

# --- Aliyun SMS ------------------------------------------------------------------------------
ali_query() {   # ali_query SECRET NONCE [TIMESTAMP]
    "$SIM" --sign-aliyun GET "$1" AccessKeyId=LTAIsimtest Action=SendSms Format=JSON \
        PhoneNumbers=13800000002 RegionId=cn-hangzhou SignName=TestSign SignatureMethod=HMAC-SHA1 \
        "SignatureNonce=$2" SignatureVersion=1.0 TemplateCode=SMS_1 'TemplateParam={"code":"1234"}' \
        "Timestamp=${3:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}" Version=2017-05-25
}
q=$(ali_query ali-secret nonce-1)
t_eq "aliyun signed request accepted" OK "$($C "$SIM_URL/?$q" | jget 'd["Code"]')"
t_eq "aliyun nonce reuse is HTTP 400" 400 "$($C -o ali.out -w '%{http_code}' "$SIM_URL/?$q")"
t_eq "... SignatureNonceUsed" SignatureNonceUsed "$(jget 'd["Code"]' < ali.out)"
t_eq "aliyun bad signature is HTTP 400 SignatureDoesNotMatch" "400" \
    "$($C -o ali.out -w '%{http_code}' "$SIM_URL/?$(ali_query wrong nonce-2)")"
t_eq "... with the code" SignatureDoesNotMatch "$(jget 'd["Code"]' < ali.out)"
t_eq "aliyun minute flow control" "isv.BUSINESS_LIMIT_CONTROL 触发分钟级流控Permits:1" \
    "$($C "$SIM_URL/?$(ali_query ali-secret nonce-3)" | jget 'd["Code"] + " " + d["Message"]')"
t_eq "aliyun old timestamp" InvalidTimeStamp.Expired \
    "$($C "$SIM_URL/?$(ali_query ali-secret nonce-4 2017-07-12T02:42:19Z)" | jget 'd["Code"]')"
t_match "aliyun default Format is XML" '^<\?xml.*<Code>SignatureDoesNotMatch</Code>' \
    "$($C "$SIM_URL/?$("$SIM" --sign-aliyun GET bad AccessKeyId=LTAIsimtest Action=SendSms SignatureMethod=HMAC-SHA1 SignatureNonce=n5 SignatureVersion=1.0 Timestamp=$(date -u +%Y-%m-%dT%H:%M:%SZ) Version=2017-05-25)")"
form=$("$SIM" --sign-aliyun POST ali-secret AccessKeyId=LTAIsimtest Action=SendSms Format=JSON \
    PhoneNumbers=13800000003 SignName=TestSign SignatureMethod=HMAC-SHA1 SignatureNonce=nonce-6 \
    SignatureVersion=1.0 TemplateCode=SMS_1 "Timestamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)" Version=2017-05-25)
t_eq "aliyun POST form accepted" OK "$($C --data-binary "$form" "$SIM_URL/" | jget 'd["Code"]')"

# --- recording --------------------------------------------------------------------------------
reqs=$(sim_ctl GET /_sim/requests)
t_eq "requests are numbered in order" True "$(printf '%s' "$reqs" | jget '[r["seq"] for r in d] == sorted(r["seq"] for r in d)')"
t_eq "delivered sends recorded (mp x2, credit, fault-retry, delayed, OA, wecom x4, mass, robot x2, tencent, aliyun x2)" 16 \
    "$(printf '%s' "$reqs" | jget 'sum(1 for r in d if r["delivered"])')"
t_eq "request body kept byte for byte" "$ok_body" \
    "$(printf '%s' "$reqs" | jget '[r for r in d if r["path"] == "/cgi-bin/message/subscribe/send"][0]["body"]')"
t_eq "headers are lower-cased" "application/json" \
    "$(printf '%s' "$reqs" | jget 'd[0]["headers"]["content-type"]')"
t_eq "stats count outcomes per path" "5 1 1" "$(sim_ctl GET /_sim/stats | jget '" ".join(str(d["paths"]["/cgi-bin/stable_token"]["outcomes"][k]) for k in ("0", "40125", "40013"))')"
sim_ctl POST /_sim/flush >/dev/null
t_eq "record file has a line per request" "$(printf '%s' "$reqs" | jget 'len(d)')" "$(wc -l < sim.jsonl | tr -d ' ')"
t_ok "record lines are JSON" python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' sim.jsonl

# --- TLS ------------------------------------------------------------------------------------------
t_fails "a client trusting only the rogue CA refuses the sim" \
    curl -sS --cacert "$CA/rogue-ca.pem" "$SIM_URL/_sim/health"
t_ok "the test CA is trusted" curl -sSf --cacert "$CA/ca.pem" "$SIM_URL/_sim/health"

# --- reset and stop -----------------------------------------------------------------------------
sim_ctl POST /_sim/reset >/dev/null
t_eq "reset forgets requests" 0 "$(sim_ctl GET /_sim/requests | jget 'len(d)')"
kill -TERM "$SIM_PID"
wait "$SIM_PID"
t_eq "SIGTERM exits 0" 0 "$?"
T_PIDS=""

# --- nothing kept in memory (keep_requests = 0): counted, numbered, and the --record file
# still written; with no --record either, no line is built (the benchmarks' simulator) -----
printf '[sim]\nkeep_requests = 0\n[wechat.wxmp1]\nsecret = mp-secret\n' > sim0.ini
rm -f sim0.port sim0.jsonl
"$SIM" --cert "$CA/sim.pem" --key "$CA/sim.key" --port 0 --port-file sim0.port --config sim0.ini \
    --record sim0.jsonl >sim0.log 2>&1 &
T_PIDS="$!"
i=0
while [ ! -s sim0.port ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
U0=https://127.0.0.1:$(cat sim0.port)
tok0=$($C -H 'Content-Type: application/json' \
    --data-binary '{"grant_type":"client_credential","appid":"wxmp1","secret":"mp-secret"}' \
    "$U0/cgi-bin/stable_token" | jget 'd["access_token"]')
t_eq "keep_requests = 0: a send still answers" 0 "$($C -H 'Content-Type: application/json' \
    --data-binary "$ok_body" "$U0/cgi-bin/message/subscribe/send?access_token=$tok0" | jget 'd["errcode"]')"
t_eq "... nothing is kept" 0 "$($C "$U0/_sim/requests" | jget 'len(d)')"
t_eq "... both requests are counted and numbered" "2 1 2" \
    "$($C "$U0/_sim/stats" | jget '"%d %d %d" % (d["requests"], d["delivered"], d["last_seq"])')"
t_eq "... per path" 1 \
    "$($C "$U0/_sim/stats" | jget 'd["paths"]["/cgi-bin/message/subscribe/send"]["outcomes"]["0"]')"
$C -X POST "$U0/_sim/flush" >/dev/null
t_eq "... and both written to the --record file" "1 2" \
    "$(python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print(r[0]["seq"], r[-1]["seq"])' sim0.jsonl)"
kill -TERM $T_PIDS; wait $T_PIDS
T_PIDS=""
rm -f sim0.port
"$SIM" --cert "$CA/sim.pem" --key "$CA/sim.key" --port 0 --port-file sim0.port --config sim0.ini \
    >sim0.log 2>&1 &
T_PIDS="$!"
i=0
while [ ! -s sim0.port ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
U0=https://127.0.0.1:$(cat sim0.port)
$C -H 'Content-Type: application/json' --data-binary "$ok_body" \
    "$U0/cgi-bin/message/subscribe/send?access_token=nope" >/dev/null
t_eq "no --record either: counted, nothing kept" "1 0" \
    "$($C "$U0/_sim/stats" | jget 'd["requests"]') $($C "$U0/_sim/requests" | jget 'len(d)')"
kill -TERM $T_PIDS; wait $T_PIDS
T_PIDS=""
printf '[sim]\nkeep_requests = -1\n' > simneg.ini
t_fails_with "a negative keep_requests is refused" 'simneg.ini:2: keep_requests: expected a non-negative integer' \
    "$SIM" --cert "$CA/sim.pem" --key "$CA/sim.key" --port 0 --config simneg.ini
t_done
