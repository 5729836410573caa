# callbacks.sh — provider callbacks served by `chuda run` (providers.md §5.5, §6.4, §7):
# authentication (the SMS providers' secret key, WeChat's signature, the GET echostr
# handshake; refusals logged without the secret), bad bodies, and every shape posted twice
# — Tencent status and reply, Aliyun SmsReport, WeChat subscribe_msg_sent_event,
# popup and change events (JSON and XML), TEMPLATESENDJOBFINISH — changing the log,
# opt-outs and credits once. Then end to end: chuda sends through the simulator, the
# simulator pushes the receipts to chuda's API, chuda logs `delivered` (and `failed` with
# an opt-out for a blacklisted number), and a campaign's funnel counts them.
. tests/lib.sh "$1"
cd "$T_WORK"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
API="http://127.0.0.1:$PORT"
OA_APPID=wxoa0000000000009
TC_ID=AKIDcallbacktest00000000001
ALI_ID=LTAIcallbacktest01
export CHUDA_TEST_API_TOKEN=api-token-0123456789-secret
export CHUDA_TEST_WX_TOKEN=wx-push-token-0123456789
export CHUDA_TEST_CB_KEY=cb-key-0123456789abcdef
export CHUDA_TEST_OA_SECRET=oa-secret-0123456789
export CHUDA_TEST_TC_KEY=tc-secret-key-0123456789
export CHUDA_TEST_ALI_SECRET=ali-secret-0123456789
SIMCONF="[wechat.$OA_APPID]
secret = $CHUDA_TEST_OA_SECRET
[tencent.$TC_ID]
secret_key = $CHUDA_TEST_TC_KEY
[aliyun.$ALI_ID]
secret = $CHUDA_TEST_ALI_SECRET
blacklist = +8613800000099"
chuda_setup "$SIMCONF" "[policy]
quiet_hours = none
[channel.mp_subscribe]
credits = off"
base=$(cat chuda.conf)
# chuda.conf for a simulator URL and an SMS provider
conf() {    # conf SIM_URL tencent|aliyun
    printf '%s\n' "$base" | sed "s|^base_url = .*|base_url = $1|"
    cat <<EOF
[channel.oa_template]
base_url = $1
appid = $OA_APPID
secret_env = CHUDA_TEST_OA_SECRET
[channel.sms]
base_url = $1
provider = $2
secret_id = $([ "$2" = tencent ] && echo $TC_ID || echo $ALI_ID)
secret_env = $([ "$2" = tencent ] && echo CHUDA_TEST_TC_KEY || echo CHUDA_TEST_ALI_SECRET)
sign_name = 触达测试
$([ "$2" = tencent ] && echo "sdk_app_id = 1400006666")
[api]
listen = 127.0.0.1:$PORT
token_env = CHUDA_TEST_API_TOKEN
wechat_token_env = CHUDA_TEST_WX_TOKEN
callback_key_env = CHUDA_TEST_CB_KEY
EOF
}
cat >templates/cb_test.ini <<'EOF'
[template]
class = transactional
vars = product
[copy]
body = {{product}}已发货
[mp_subscribe]
template_id = TPL_CB_1
page = pages/index
data.thing1 = {{product}}
data.thing2 = {{body}}
[oa_template]
template_id = OA_CB_1
url = https://shop.example/orders
data.keyword1 = {{product}}
[sms]
template_id = SMS_CB_1
params = {{product}}
param.product = {{product}}
EOF
cat >users.csv <<'CSV'
user_id,tier,mp_openid,oa_openid,phone
c1,high_value,oMP1xxxxxxxxxxxxxxxxxxxxxxxxx,oOA1xxxxxxxxxxxxxxxxxxxxxxxxx,+8613800000001
c2,high_value,oMP2xxxxxxxxxxxxxxxxxxxxxxxxx,oOA2xxxxxxxxxxxxxxxxxxxxxxxxx,13800000002
c3,high_value,oMP3xxxxxxxxxxxxxxxxxxxxxxxxx,oOA3xxxxxxxxxxxxxxxxxxxxxxxxx,+8613800000003
c4,high_value,oMP4xxxxxxxxxxxxxxxxxxxxxxxxx,oOA4xxxxxxxxxxxxxxxxxxxxxxxxx,+8613800000004
c5,high_value,oMP5xxxxxxxxxxxxxxxxxxxxxxxxx,oOA5xxxxxxxxxxxxxxxxxxxxxxxxx,+8613800000099
CSV
conf "$SIM_URL" tencent >chuda.conf
chuda users import users.csv >/dev/null

RUN_PID=
start() {   # start chuda run with chuda.conf, wait for its API
    "$CHUDA" -c chuda.conf run >>run.log 2>&1 &
    RUN_PID=$!
    T_PIDS="$T_PIDS $RUN_PID"
    wait_for 10 curl -sf "$API/healthz"
}
stop() { kill "$RUN_PID"; wait "$RUN_PID" 2>/dev/null; }
start

api() {     # api METHOD PATH [BODY]: "STATUS BODY"
    curl -s -o body.out -w '%{http_code}' -X "$1" -H "Authorization: Bearer $CHUDA_TEST_API_TOKEN" \
        ${3:+-H 'Content-Type: application/json' --data-binary "$3"} "$API$2"
    printf ' %s' "$(cat body.out)"
}
post() {    # post PATH?QUERY BODY: "STATUS BODY" (no Bearer token: providers have none)
    curl -s -o body.out -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        --data-binary "$2" "$API$1"
    printf ' %s' "$(cat body.out)"
}
sms() { post "/v1/callbacks/$1?key=$CHUDA_TEST_CB_KEY" "$2"; }   # sms tencent/status BODY
# WeChat's query: signature = sha1(sorted(token, timestamp, nonce)), computed here
# independently of chuda and the simulator
wxq() {     # wxq [TOKEN [TIMESTAMP]]
    ts=${2:-$(date +%s)}; nonce=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
    sig=$(python3 -c 'import hashlib, sys; print(hashlib.sha1("".join(sorted(sys.argv[1:])).encode()).hexdigest())' \
        "${1:-$CHUDA_TEST_WX_TOKEN}" "$ts" "$nonce")
    printf 'signature=%s&timestamp=%s&nonce=%s' "$sig" "$ts" "$nonce"
}
wx() { post "/v1/callbacks/wechat?$(wxq)" "$1"; }                 # wx BODY
twice() {   # twice NAME EXPECTED_ANSWER_REGEX CMD...: the same push twice, both answered
    name=$1 re=$2; shift 2
    t_match "$name (first push)" "$re" "$("$@")"
    t_match "$name (second push)" "$re" "$("$@")"
}
sq() { sqlite3 chuda.db "$1"; }
ev_count() { log_count "$1" "$2"; }                                # ev_count EVENT MSG
send() {    # send USER CHANNEL PRODUCT: enqueue, print the id
    api POST /v1/messages "{\"user\":\"$1\",\"template\":\"cb_test\",\"channel\":\"$2\",\"vars\":{\"product\":\"$3\"}}" |
        sed -n 's/^201 {"id":\([0-9]*\).*/\1/p'
}
pid_of() {  # pid_of ID: the provider id of a sent message
    chuda log --format json --event sent --message "$1" | python3 -c '
import json, sys
for l in sys.stdin:
    d = json.loads(l).get("detail") or ""
    for w in d.split():
        if w.startswith("provider_id="): print(w[12:])'
}
sent() { test -n "$(pid_of "$1")"; }
TC_OK='^200 \{"result":0,"errmsg":"OK"\}$'
ALI_OK='^200 \{"code":0,"msg":"接收成功"\}$'

# ---- authentication ------------------------------------------------------------------
t_match "SMS callback without the key: 403" '^403 .*"field":"key"' \
    "$(post /v1/callbacks/tencent/status '[]')"
t_match "wrong key: 403" '^403 ' "$(post '/v1/callbacks/tencent/reply?key=nope' '{}')"
t_match "aliyun, wrong key: 403" '^403 ' "$(post '/v1/callbacks/aliyun/report?key=nope' '[]')"
t_match "the API token is not a callback key" '^403$' \
    "$(curl -s -w '%{http_code}' -o /dev/null -X POST -H "Authorization: Bearer $CHUDA_TEST_API_TOKEN" -d '[]' "$API/v1/callbacks/aliyun/report")"
t_match "WeChat push without a signature: 403" '^403 .*"field":"signature"' \
    "$(post /v1/callbacks/wechat '{}')"
t_match "WeChat push signed with another token: 403" '^403 ' \
    "$(post "/v1/callbacks/wechat?$(wxq other-token)" '{}')"
q=$(wxq)
t_match "a tampered signature: 403" '^403 ' "$(post "/v1/callbacks/wechat?$(echo "$q" | sed 's/signature=0/signature=1/; t; s/signature=./signature=0/')" '{}')"
t_eq "WeChat's GET handshake echoes echostr" "200 hello-123" \
    "$(curl -s -o body.out -w '%{http_code}' "$API/v1/callbacks/wechat?$(wxq)&echostr=hello-123"; printf ' %s' "$(cat body.out)")"
t_eq "handshake with a bad signature: 403" 403 \
    "$(curl -s -o /dev/null -w '%{http_code}' "$API/v1/callbacks/wechat?$(wxq other-token)&echostr=x")"
# a signed push captured (a URL in a proxy's log) and replayed later with a body of its own
OLDPOP='{"ToUserName":"gh_1","FromUserName":"oMP1xxxxxxxxxxxxxxxxxxxxxxxxx","CreateTime":'"$(date +%s)"',"MsgType":"event","Event":"subscribe_msg_popup_event","List":{"TemplateId":"TPL_OLD","SubscribeStatusString":"accept"}}'
t_match "a push signed eight days ago: 403" '^403 .*"field":"timestamp"' \
    "$(post "/v1/callbacks/wechat?$(wxq "$CHUDA_TEST_WX_TOKEN" $(($(date +%s) - 8 * 86400)))" "$OLDPOP")"
t_match "a push signed ten minutes ahead: 403" '^403 .*"field":"timestamp"' \
    "$(post "/v1/callbacks/wechat?$(wxq "$CHUDA_TEST_WX_TOKEN" $(($(date +%s) + 600)))" "$OLDPOP")"
t_eq "... granted nothing" 0 "$(sq "select count(*) from credits where template_id='TPL_OLD'")"
t_match "... logged with the skew" 'callbacks/wechat from 127.0.0.1: signed at [0-9]*, 6912[0-9][0-9] s before chuda.s clock \(at most 300 s either way\)' "$(cat run.log)"
t_match "refusals are logged" 'callbacks/tencent/status from 127.0.0.1: no key' "$(cat run.log)"
t_match "... with the reason" 'callbacks/wechat from 127.0.0.1: wrong signature' "$(cat run.log)"
t_eq "no secret in the log" 0 \
    "$(grep -c -e "$CHUDA_TEST_CB_KEY" -e "$CHUDA_TEST_WX_TOKEN" -e "$CHUDA_TEST_API_TOKEN" run.log)"
t_match "GET on an SMS callback: 405" '^405 ' \
    "$(curl -s -o body.out -w '%{http_code}' "$API/v1/callbacks/tencent/status?key=$CHUDA_TEST_CB_KEY"; printf ' %s' "$(cat body.out)")"
t_match "unknown callback: 404" '^404 ' "$(sms nobody/status '[]')"

# ---- bad bodies ------------------------------------------------------------------------
t_match "malformed JSON: 400 naming the body" '^400 .*"field":"body"' "$(sms tencent/status '[{"sid": ')"
t_match "wrong type: 400 naming the item's field" '^400 .*"field":"\[0\]\.report_status"' \
    "$(sms tencent/status '[{"report_status":1,"sid":"x","mobile":"13800000001"}]')"
t_match "missing field: 400" '^400 .*"field":"\[0\]\.biz_id"' "$(sms aliyun/report '[{"success":true,"phone_number":"13800000001"}]')"
t_match "reply: 400 naming text" '^400 .*"field":"text"' "$(sms tencent/reply '{"mobile":"13800000001"}')"
t_match "WeChat XML with a DOCTYPE: 400" '^400 ' "$(wx '<!DOCTYPE x [<!ENTITY a "b">]><xml><Event>&a;</Event></xml>')"
t_match "an encrypted WeChat push: 400 saying why" '^400 .*"field":"Encrypt"' "$(wx '{"ToUserName":"gh_1","Encrypt":"abc"}')"
head -c 2000000 /dev/zero | tr '\0' ' ' >big.json
t_eq "oversize body: 413" 413 \
    "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @big.json "$API/v1/callbacks/aliyun/report?key=$CHUDA_TEST_CB_KEY")"
t_match "bad bodies are logged with the reason" 'callback tencent_status: refused the body: .*report_status' "$(cat run.log)"
t_eq "bad pushes changed nothing" "0 0" "$(echo $(sq 'select count(*) from optouts') $(sq "select count(*) from log where event in ('delivered','failed')"))"

# ---- Tencent: status and replies, each twice ----------------------------------------------
m1=$(send c1 sms 围巾)
m2=$(send c2 sms 雨伞)
mp1=$(send c1 mp_subscribe 手套)
mp2=$(send c2 mp_subscribe 帽子)
oa3=$(send c3 oa_template 茶杯)
oa4=$(send c4 oa_template 书包)
for m in $m1 $m2 $mp1 $mp2 $oa3 $oa4; do t_ok "message $m sent" wait_for 10 sent "$m"; done
sid1=$(pid_of "$m1"); sid2=$(pid_of "$m2")
twice "tencent status SUCCESS" "$TC_OK" sms tencent/status \
    "[{\"user_receive_time\":\"2026-11-23 10:00:05\",\"nationcode\":\"86\",\"mobile\":\"13800000001\",\"report_status\":\"SUCCESS\",\"errmsg\":\"DELIVRD\",\"description\":\"用户短信送达成功\",\"sid\":\"$sid1\"}]"
t_eq "one delivered row" 1 "$(ev_count delivered "$m1")"
t_match "it names the receipt" '"event":"delivered","channel":"sms",.*"code":"DELIVRD"' \
    "$(chuda log --format json --event delivered --message "$m1")"
t_match "GET /v1/messages shows it" '"event":"delivered"' "$(api GET /v1/messages/$m1)"
twice "tencent status FAIL, blacklisted" "$TC_OK" sms tencent/status \
    "[{\"nationcode\":\"86\",\"mobile\":\"13800000002\",\"report_status\":\"FAIL\",\"errmsg\":\"DB:0141\",\"description\":\"黑名单\",\"sid\":\"$sid2\"}]"
t_eq "one failed row" 1 "$(ev_count failed "$m2")"
t_eq "c2 opted out of sms by the provider, once" "1 sms|provider" \
    "$(sq "select count(*) from optouts where user_id='c2'") $(sq "select channel||'|'||source from optouts where user_id='c2'")"
at0=$(sq "select at from optouts where user_id='c2'")
twice "tencent status, pushed again" "$TC_OK" sms tencent/status \
    "[{\"mobile\":\"13800000002\",\"report_status\":\"FAIL\",\"errmsg\":\"DB:0141\",\"sid\":\"$sid2\"}]"
t_eq "opt-out untouched by the repeat" "$at0" "$(sq "select at from optouts where user_id='c2'")"
t_eq "still one failed row" 1 "$(ev_count failed "$m2")"

t0=$(( $(date +%s) - 600 ))   # pushes dated now (ten minutes ago), as providers send them
REPLY='{"extend":"","mobile":"13800000003","nationcode":"86","sign":"触达测试","text":" td ","time":'"$t0"'}'
twice "tencent reply TD" "$TC_OK" sms tencent/reply "$REPLY"
t_eq "c3 opted out of sms by its reply" "sms|reply" "$(sq "select channel||'|'||source from optouts where user_id='c3'")"
at3=$(sq "select at from optouts where user_id='c3'")
t_match "removed by the operator" '^200 \{"removed":1\}$' "$(api DELETE '/v1/optouts?user=c3&channel=sms')"
t_match "the same reply pushed again" "$TC_OK" "$(sms tencent/reply "$REPLY")"
t_eq "... does not put it back" 0 "$(sq "select count(*) from optouts where user_id='c3'")"
twice "a reply that is not a stop word" "$TC_OK" sms tencent/reply \
    '{"mobile":"13800000004","nationcode":"86","text":"谢谢","time":'"$((t0 + 1))"'}'
twice "退订 from a number nobody has" "$TC_OK" sms tencent/reply \
    '{"mobile":"13900000000","nationcode":"86","text":"退订","time":'"$((t0 + 2))"'}'
t_eq "neither opted anyone out" 0 "$(sq "select count(*) from optouts where user_id in ('c3','c4')")"

# ---- WeChat: sent events, job finish, popups, changes — each twice ---------------------------
msgid1=$(pid_of "$mp1"); msgid2=$(pid_of "$mp2"); oaid3=$(pid_of "$oa3"); oaid4=$(pid_of "$oa4")
twice "subscribe_msg_sent_event (JSON)" '^200 success$' wx \
    "{\"ToUserName\":\"gh_1\",\"FromUserName\":\"oMP1xxxxxxxxxxxxxxxxxxxxxxxxx\",\"CreateTime\":$t0,\"MsgType\":\"event\",\"Event\":\"subscribe_msg_sent_event\",\"List\":{\"TemplateId\":\"TPL_CB_1\",\"MsgID\":\"$msgid1\",\"ErrorCode\":0,\"ErrorStatus\":\"success\"}}"
t_eq "one delivered row (mp)" 1 "$(ev_count delivered "$mp1")"
SENT_XML="<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oMP2xxxxxxxxxxxxxxxxxxxxxxxxx]]></FromUserName><CreateTime>$t0</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe_msg_sent_event]]></Event><SubscribeMsgSentEvent><List><TemplateId><![CDATA[TPL_CB_1]]></TemplateId><MsgID>$msgid2</MsgID><ErrorCode>10002</ErrorCode><ErrorStatus><![CDATA[fail]]></ErrorStatus></List></SubscribeMsgSentEvent></xml>"
twice "subscribe_msg_sent_event failed (XML)" '^200 success$' wx "$SENT_XML"
t_eq "one failed row (mp), code 10002" "1 10002" \
    "$(ev_count failed "$mp2") $(chuda log --format json --event failed --message "$mp2" | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["code"])')"
twice "TEMPLATESENDJOBFINISH success" '^200 success$' wx \
    "{\"ToUserName\":\"gh_2\",\"FromUserName\":\"oOA3xxxxxxxxxxxxxxxxxxxxxxxxx\",\"CreateTime\":$t0,\"MsgType\":\"event\",\"Event\":\"TEMPLATESENDJOBFINISH\",\"MsgID\":$oaid3,\"Status\":\"success\"}"
t_eq "one delivered row (oa)" 1 "$(ev_count delivered "$oa3")"
twice "TEMPLATESENDJOBFINISH failed:user block (XML)" '^200 success$' wx \
    "<xml><ToUserName><![CDATA[gh_2]]></ToUserName><FromUserName><![CDATA[oOA4xxxxxxxxxxxxxxxxxxxxxxxxx]]></FromUserName><CreateTime>$t0</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>$oaid4</MsgID><Status><![CDATA[failed:user block]]></Status></xml>"
t_eq "one failed row (oa)" 1 "$(ev_count failed "$oa4")"
t_eq "c4 refused oa_template" "1 oa_template|provider" \
    "$(sq "select count(*) from optouts where user_id='c4'") $(sq "select channel||'|'||source from optouts where user_id='c4'")"

POPUP='{"ToUserName":"gh_1","FromUserName":"oMP1xxxxxxxxxxxxxxxxxxxxxxxxx","CreateTime":"'"$((t0 + 100))"'","MsgType":"event","Event":"subscribe_msg_popup_event","List":{"TemplateId":"TPL_CB_1","SubscribeStatusString":"accept","PopupScene":"0"}}'
twice "popup accept (JSON)" '^200 success$' wx "$POPUP"
t_eq "one credit" 1 "$(sq "select n from credits where user_id='c1' and template_id='TPL_CB_1'")"
POPUP_XML='<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oMP2xxxxxxxxxxxxxxxxxxxxxxxxx]]></FromUserName><CreateTime>'"$((t0 + 101))"'</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe_msg_popup_event]]></Event><SubscribeMsgPopupEvent><List><TemplateId><![CDATA[TPL_X]]></TemplateId><SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString><PopupScene>0</PopupScene></List><List><TemplateId><![CDATA[TPL_CB_1]]></TemplateId><SubscribeStatusString><![CDATA[accept]]></SubscribeStatusString><PopupScene>0</PopupScene></List></SubscribeMsgPopupEvent></xml>'
twice "popup accept + reject (XML)" '^200 success$' wx "$POPUP_XML"
t_eq "one credit for the accepted template, none for the rejected" "1 0" \
    "$(sq "select n from credits where user_id='c2' and template_id='TPL_CB_1'") $(sq "select count(*) from credits where template_id='TPL_X'")"
t_match "a later accept is a new push" '^200 success$' "$(wx "$(echo "$POPUP" | sed "s/$((t0 + 100))/$((t0 + 200))/")")"
t_eq "two credits" 2 "$(sq "select n from credits where user_id='c1' and template_id='TPL_CB_1'")"
CHANGE='{"ToUserName":"gh_1","FromUserName":"oMP1xxxxxxxxxxxxxxxxxxxxxxxxx","CreateTime":'"$((t0 + 300))"',"MsgType":"event","Event":"subscribe_msg_change_event","List":[{"TemplateId":"TPL_CB_1","SubscribeStatusString":"reject"}]}'
twice "subscribe_msg_change_event reject" '^200 success$' wx "$CHANGE"
t_eq "credits zero" 0 "$(sq "select n from credits where user_id='c1' and template_id='TPL_CB_1'")"
# a push dated beyond the week its key is remembered: a captured push replayed, not a re-push
t_match "a popup dated eight days ago: answered as taken" '^200 success$' \
    "$(wx "$(echo "$POPUP" | sed "s/$((t0 + 100))/$((t0 - 8 * 86400))/")")"
t_eq "... grants nothing" 0 "$(sq "select n from credits where user_id='c1' and template_id='TPL_CB_1'")"
t_match "... said on stderr" "callback wechat: refused 1 event dated more than 6 days before or 1 day after chuda's clock \\(first: $(date -u -d "@$((t0 - 8 * 86400))" +%Y-%m-%dT%H:%M:%S)" "$(cat run.log)"
t_match "a TD reply dated two days ahead: answered as taken" "$TC_OK" \
    "$(sms tencent/reply "$(echo "$REPLY" | sed "s/$t0/$((t0 + 2 * 86400))/")")"
t_eq "... opts nobody out" 0 "$(sq "select count(*) from optouts where user_id='c3'")"
t_match "a user's text message is not an event" '^200 success$' \
    "$(wx '{"ToUserName":"gh_1","FromUserName":"oMP1xxxxxxxxxxxxxxxxxxxxxxxxx","CreateTime":1,"MsgType":"text","Content":"hi"}')"

# ---- receipts for messages chuda does not know ----------------------------------------------
t_match "unknown sid: 500, so the provider pushes again" '^500 \{"result":1' \
    "$(sms tencent/status '[{"mobile":"13800000001","report_status":"SUCCESS","sid":"9999:0"}]')"
t_match "... said on stderr" 'callback tencent_status: 1 receipt for no message chuda knows \(first: 9999:0\)' "$(cat run.log)"
t_eq "receipts in the log: the ones above, once each" 6 "$(sq "select count(*) from log where event in ('delivered','failed')")"

# ---- Aliyun: SmsReport twice ------------------------------------------------------------------
stop
conf "$SIM_URL" aliyun >chuda.conf
start
a1=$(send c1 sms 围巾)
a2=$(send c4 sms 雨伞)
for m in $a1 $a2; do t_ok "message $m sent (aliyun)" wait_for 10 sent "$m"; done
biz1=$(pid_of "$a1"); biz2=$(pid_of "$a2")
t_match "BizId recorded as the provider id" '\^0$' "$biz1"
twice "aliyun report success" "$ALI_OK" sms aliyun/report \
    "[{\"phone_number\":\"13800000001\",\"send_time\":\"2026-11-23 10:00:00\",\"report_time\":\"2026-11-23 10:00:04\",\"success\":true,\"err_code\":\"DELIVERED\",\"err_msg\":\"用户接收成功\",\"sms_size\":\"1\",\"biz_id\":\"$biz1\",\"out_id\":\"$a1\"}]"
t_eq "one delivered row (aliyun)" 1 "$(ev_count delivered "$a1")"
twice "a receipt found by out_id alone (its biz_id not known yet)" "$ALI_OK" sms aliyun/report \
    "[{\"phone_number\":\"13800000004\",\"success\":false,\"err_code\":\"UNDELIV\",\"err_msg\":\"用户接收失败\",\"biz_id\":\"early-1^0\",\"out_id\":\"$a2\"}]"
t_eq "one failed row (aliyun)" 1 "$(ev_count failed "$a2")"
t_match "an out_id that is no message of ours: 500" '^500 ' "$(sms aliyun/report \
    '[{"phone_number":"13800000004","success":true,"biz_id":"early-2^0","out_id":"99999"}]')"
stop

# ---- end to end: the simulator pushes the receipts ----------------------------------------------
kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null
cat >sim2.ini <<EOF
[sim]
callback_wechat = $API/v1/callbacks/wechat
callback_wechat_token = $CHUDA_TEST_WX_TOKEN
callback_aliyun = $API/v1/callbacks/aliyun/report?key=$CHUDA_TEST_CB_KEY
callback_retry_ms = 200,500,1000,2000
[wechat.$MP_APPID]
secret = $CHUDA_TEST_MP_SECRET
$SIMCONF
EOF
sim_start "$T_WORK/sim2.ini"
conf "$SIM_URL" aliyun >chuda.conf
start
e1=$(send c3 sms 围巾)
e2=$(send c5 sms 雨伞)
e3=$(send c3 oa_template 茶杯)
printf 'user_id\nc1\nc2\nc3\n' >recipients.csv
cid=$(chuda campaign create --name e2e --template cb_test --recipients recipients.csv --var product=手套 |
    sed -n 's/.*campaign \([0-9]*\).*/\1/p')
t_match "campaign created" '^[0-9]+$' "$cid"
delivered() { test "$(sq "select count(*) from log where event='delivered' and message_id=$1")" = 1; }
t_ok "SMS delivered, pushed by the simulator (aliyun)" wait_for 15 delivered "$e1"
t_ok "OA template delivered (TEMPLATESENDJOBFINISH, signed)" wait_for 15 delivered "$e3"
failed_once() { test "$(sq "select count(*) from log where event='failed' and message_id=$1")" = 1; }
t_ok "blacklisted number: failed by its receipt" wait_for 15 failed_once "$e2"
t_eq "... and c5 opted out of sms" "sms|provider" "$(sq "select channel||'|'||source from optouts where user_id='c5'")"
campaign_delivered() { test "$(sq "select count(*) from log where event='delivered' and campaign_id=$cid")" = 3; }
t_ok "the campaign's three mini-program messages delivered" wait_for 15 campaign_delivered
t_match "chuda campaign show counts them" 'delivered +3' "$(chuda campaign show "$cid")"
t_match "GET /v1/campaigns/ID too" '"sent":3,"delivered":3' "$(api GET /v1/campaigns/$cid)"
t_match "the simulator's pushes were answered 2xx" '"callbacks_ok":[1-9]' "$(sim_ctl GET /_sim/stats)"
t_eq "each receipt logged once" 6 "$(sq "select count(*) from log where event in ('delivered','failed') and message_id in ($e1,$e2,$e3) or campaign_id=$cid and event='delivered'")"
t_done
