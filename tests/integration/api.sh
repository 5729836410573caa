# api.sh — the HTTP API inside `chuda run`: bearer authentication (401 on every endpoint,
# logged without the token), enqueue with idempotency, the answer only after the commit
# (the message is in the database when the client reads its id), message state, cancel
# by key and by user + tag, campaigns, opt-outs, credits, bad input naming the field
# (malformed JSON, wrong types, unknown fields, a 10 MB body) on every endpoint that
# takes a body, /metrics and /healthz. Provider callbacks: callbacks.sh.
. tests/lib.sh "$1"
cd "$T_WORK"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export CHUDA_TEST_API_TOKEN=tok-0123456789abcdef-secret
chuda_setup "" "[policy]
quiet_hours = none
[channel.mp_subscribe]
credits = off
[api]
listen = 127.0.0.1:$PORT
token_env = CHUDA_TEST_API_TOKEN"
printf 'user_id,tier,mp_openid\nh1,potential,oH1xxxxxxxxxxxxxxxxxxxxxxxxx\nh2,potential,oH2xxxxxxxxxxxxxxxxxxxxxxxxx\n' >users.csv
chuda users import users.csv >/dev/null
"$CHUDA" -c chuda.conf run >run.log 2>&1 &
T_PIDS="$T_PIDS $!"
API="http://127.0.0.1:$PORT"
wait_for 5 curl -sf "$API/healthz"
api() {     # api METHOD PATH [BODY]: prints "STATUS BODY"
    curl -s -o body.out -w '%{http_code}' -X "$1" -H "Authorization: Bearer $CHUDA_TEST_API_TOKEN" \
        ${3:+-H 'Content-Type: application/json' --data-binary "$3"} "$API$2"
    printf ' %s' "$(cat body.out)"
}

t_match "healthz" '^\{"status":"ok"\}$' "$(curl -s "$API/healthz")"
t_match "no token: 401" '^401 .*"field":"authorization"' "$(curl -s -w '%{http_code} ' -o body.out -X POST "$API/v1/messages" -d '{}'; cat body.out)"
t_eq "wrong token: 401" 401 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' "$API/metrics")"
for ep in "POST /v1/messages" "DELETE /v1/messages?key=k" "GET /v1/messages/1" "GET /v1/campaigns/1" \
          "POST /v1/optouts" "DELETE /v1/optouts?user=h1" "POST /v1/credits" "GET /metrics"; do
    set -- $ep
    t_eq "no token on $1 ${2%%\?*}: 401" 401 "$(curl -s -o /dev/null -w '%{http_code}' -X "$1" -d '{}' "$API$2")"
    t_eq "wrong token on $1 ${2%%\?*}: 401" 401 \
        "$(curl -s -o /dev/null -w '%{http_code}' -X "$1" -H 'Authorization: Bearer nope' -d '{}' "$API$2")"
done
t_eq "a token without Bearer: 401" 401 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $CHUDA_TEST_API_TOKEN" "$API/metrics")"
t_match "refusals are logged" "no token" "$(cat run.log)"
# refused from the headers, before the body is read: a request announcing a 1,000,000-byte
# body and sending 1000 of them is answered at once (else each connection could hold
# max_body bytes without the token)
early() {   # early PATH [HEADER]: the status line of the answer within 2 s, or "no answer"
    python3 - "$PORT" "$@" <<'PYEOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
extra = sys.argv[3] + "\r\n" if len(sys.argv) > 3 else ""
s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: 1000000\r\n\r\n" % (sys.argv[2], extra)).encode() + b"a" * 1000)
s.settimeout(2)
try:
    print(s.recv(100).split(b"\r\n")[0].decode())
except socket.timeout:
    print("no answer")
PYEOF
}
t_match "no token: refused before the body" '^HTTP/1.1 401' "$(early /v1/messages)"
t_match "wrong token: refused before the body" '^HTTP/1.1 401' "$(early /v1/optouts 'Authorization: Bearer nope')"
t_match "callback without its key: refused before the body" '^HTTP/1.1 403' "$(early /v1/callbacks/tencent/status)"
t_eq "the token: the body is read" "no answer" "$(early /v1/messages "Authorization: Bearer $CHUDA_TEST_API_TOKEN")"
t_eq "the token is never logged" 0 "$(grep -c "$CHUDA_TEST_API_TOKEN\|nope" run.log)"

r=$(api POST /v1/messages '{"user":"h1","template":"cart_abandoned","vars":{"product":"围巾"},"key":"api:1"}')
t_match "enqueue: 201 with an id" '^201 \{"id":[0-9]+,"duplicate":false\}$' "$r"
id=$(echo "$r" | sed 's/.*"id":\([0-9]*\).*/\1/')
t_eq "durable when answered" 1 "$(sqlite3 chuda.db "select count(*) from msg where id=$id")"
t_match "same key: 200 duplicate, same id" "^200 \{\"id\":$id,\"duplicate\":true\}$" \
    "$(api POST /v1/messages '{"user":"h1","template":"cart_abandoned","vars":{"product":"围巾"},"key":"api:1"}')"
t_ok "then sent" wait_for 5 sh -c "curl -s -H 'Authorization: Bearer $CHUDA_TEST_API_TOKEN' $API/v1/messages/$id | grep -q '\"state\":\"sent\"'"
t_match "message history" '"history":\[\{"seq":[0-9]+,"at":"[^"]+","event":"enqueued"' "$(api GET /v1/messages/$id)"
t_match "unknown message: 404" '^404 ' "$(api GET /v1/messages/999999)"

t_match "malformed JSON: 400 naming the body" '^400 .*"field":"body"' "$(api POST /v1/messages '{"user": ')"
t_match "wrong type: 400 naming the field" '^400 .*"field":"vars.product"' \
    "$(api POST /v1/messages '{"user":"h1","template":"cart_abandoned","vars":{"product":3}}')"
t_match "a field given twice: 400, not the last one taken" '^400 .*duplicate object key.*"field":"body"' \
    "$(api POST /v1/messages '{"user":"h1","template":"cart_abandoned","vars":{"product":"x"},"at":"+1h","key":"twice:1","key":"twice:2"}')"
t_match "a variable given twice: 400" '^400 .*duplicate object key.*"field":"body"' \
    "$(api POST /v1/messages '{"user":"h1","template":"cart_abandoned","vars":{"product":"x","product":"y"},"at":"+1h"}')"
t_match "unknown field: 400" '^400 .*"field":"colour"' "$(api POST /v1/messages '{"user":"h1","colour":"red"}')"
t_match "unknown user: 400" '^400 .*"field":"user"' \
    "$(api POST /v1/messages '{"user":"zz","template":"cart_abandoned","vars":{"product":"x"}}')"
t_match "missing variable: 400" "^400 .*missing variable 'product'" \
    "$(api POST /v1/messages '{"user":"h1","template":"cart_abandoned"}')"
t_match "missing variable: the field is vars, not the template's file" '^400 .*"field":"vars"\}$' \
    "$(api POST /v1/messages '{"user":"h1","template":"cart_abandoned"}')"
t_match "empty variable: the field is vars" '^400 .*renders empty.*"field":"vars"\}$' \
    "$(api POST /v1/messages '{"user":"h1","template":"cart_abandoned","vars":{"product":""}}')"
t_match "a channel the template has no section for: the field is channel" \
    '^400 .*no \[wecom_robot\] section.*"field":"channel"\}$' \
    "$(api POST /v1/messages '{"user":"h1","template":"cart_abandoned","vars":{"product":"x"},"channel":"wecom_robot"}')"
head -c 10485760 /dev/zero | tr '\0' 'a' >big.json
t_eq "10 MB body: 413" 413 "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $CHUDA_TEST_API_TOKEN" --data-binary @big.json "$API/v1/messages")"
t_match "wrong method: 405" '^405 ' "$(api PUT /v1/messages '{}')"
t_match "unknown path: 404" '^404 ' "$(api GET /v2/nothing)"
t_eq "bad requests queued nothing" 1 "$(sqlite3 chuda.db 'select count(*) from msg')"

later=$(api POST /v1/messages '{"user":"h2","template":"cart_abandoned","vars":{"product":"伞"},"key":"api:2","tag":"cart","at":"+1h"}')
t_match "cancel by key" '^200 \{"cancelled":1\}$' "$(api DELETE '/v1/messages?key=api:2')"
t_match "cancel needs key or user+tag" '^400 ' "$(api DELETE '/v1/messages?user=h2')"
api POST /v1/messages '{"user":"h2","template":"cart_abandoned","vars":{"product":"伞"},"key":"api:3","tag":"cart","at":"+1h"}' >/dev/null
api POST /v1/messages '{"user":"h2","template":"cart_abandoned","vars":{"product":"帽"},"key":"api:4","tag":"cart","at":"+2h"}' >/dev/null
t_match "cancel by user and tag" '^200 \{"cancelled":2\}$' "$(api DELETE '/v1/messages?user=h2&tag=cart')"
t_eq "both logged cancelled" 2 "$(chuda log --format json --event cancelled --user h2 | grep -c 'tag cart (api)')"
t_match "nothing left to cancel" '^200 \{"cancelled":0\}$' "$(api DELETE '/v1/messages?user=h2&tag=cart')"
# a key of 70 CJK characters (210 bytes) makes a reason longer than its buffer: it is cut
# between characters, not inside one (the row stays UTF-8, the history shows it)
long=$(python3 -c 'print("键" * 70)')
r=$(api POST /v1/messages "{\"user\":\"h2\",\"template\":\"cart_abandoned\",\"vars\":{\"product\":\"伞\"},\"key\":\"$long\",\"at\":\"+1h\"}")
lid=$(echo "$r" | sed 's/.*"id":\([0-9]*\).*/\1/')
t_match "cancel by a long CJK key" '^200 \{"cancelled":1\}$' \
    "$(api DELETE "/v1/messages?key=$(python3 -c 'import urllib.parse; print(urllib.parse.quote("键" * 70))')")"
t_match "its cancelled row is in the history" '"event":"cancelled".*"reason":"cancelled by key 键+' \
    "$(api GET /v1/messages/$lid)"
t_eq "its reason is UTF-8" ok "$(python3 -c '
import sqlite3, sys
c = sqlite3.connect("chuda.db"); c.text_factory = bytes
r = c.execute("select reason from log where message_id=? and event=?", (int(sys.argv[1]), "cancelled")).fetchone()[0]
r.decode("utf-8"); print("ok")' "$lid" 2>&1 | tail -1)"
# the same through the command line (another key: a key names one message for good):
# chuda cancel cuts its reason between characters too
long=$(python3 -c 'print("钥" * 70)')
r=$(api POST /v1/messages "{\"user\":\"h2\",\"template\":\"cart_abandoned\",\"vars\":{\"product\":\"伞\"},\"key\":\"$long\",\"at\":\"+1h\"}")
lid=$(echo "$r" | sed 's/.*"id":\([0-9]*\).*/\1/')
t_match "chuda cancel by a long CJK key" '^1 cancelled$' "$(chuda cancel --key "$long" 2>&1)"
t_eq "its reason is UTF-8 too" ok "$(python3 -c '
import sqlite3, sys
c = sqlite3.connect("chuda.db"); c.text_factory = bytes
r = c.execute("select reason from log where message_id=? and event=?", (int(sys.argv[1]), "cancelled")).fetchone()[0]
r.decode("utf-8"); print("ok")' "$lid" 2>&1 | tail -1)"

printf 'user_id\nh1\nh2\n' >recipients.csv
cid=$(chuda campaign create --name api-test --template cart_abandoned --recipients recipients.csv \
    --var product=围巾 --at +1h | sed -n 's/^campaign \([0-9]*\):.*/\1/p')
t_match "campaign: 200 with its funnel" "^200 \\{\"id\":$cid,\"name\":\"api-test\",.*\"funnel\":\\{\"queued\":2," \
    "$(api GET /v1/campaigns/$cid)"
t_match "campaign: the enqueued count" '"enqueued":2' "$(api GET /v1/campaigns/$cid)"
t_match "unknown campaign: 404" '^404 .*"field":"id"' "$(api GET /v1/campaigns/999999)"
t_match "non-numeric campaign id: 400" '^400 .*"field":"id"' "$(api GET /v1/campaigns/abc)"
t_match "campaign id 0: 400" '^400 ' "$(api GET /v1/campaigns/0)"
t_match "campaign id with a suffix: 400" '^400 ' "$(api GET /v1/campaigns/1x)"
t_match "campaigns: wrong method" '^405 ' "$(api DELETE /v1/campaigns/$cid)"
chuda campaign cancel "$cid" >/dev/null
t_match "opt-out" '^201 \{"user":"h2","channel":"mp_subscribe","category":"\*"\}$' \
    "$(api POST /v1/optouts '{"user":"h2","channel":"mp_subscribe","reason":"api test"}')"
t_match "opt-out is visible to the CLI" "mp_subscribe .* api .*api test" "$(chuda optout list h2)"
t_match "remove it" '^200 \{"removed":1\}$' "$(api DELETE '/v1/optouts?user=h2&channel=mp_subscribe')"
t_match "credits" '^201 \{"user":"h2","template_id":"TPL_CART_1","credits":3\}$' \
    "$(api POST /v1/credits '{"user":"h2","template_id":"TPL_CART_1","n":3}')"
t_match "credits: bad n" '^400 .*"field":"n"' "$(api POST /v1/credits '{"user":"h2","template_id":"T","n":0}')"

# strict bodies: a wrong type or an unknown field is an error naming it, never "everything"
t_match "opt-out: channel of the wrong type" '^400 .*"field":"channel"' "$(api POST /v1/optouts '{"user":"h2","channel":5}')"
t_match "opt-out: misspelled field" '^400 .*"field":"chanel"' "$(api POST /v1/optouts '{"user":"h1","chanel":"sms"}')"
t_match "opt-out: user of the wrong type" '^400 \{"error":"user: expected a string","field":"user"\}$' "$(api POST /v1/optouts '{"user":7}')"
t_match "opt-out: category of the wrong type" '^400 .*"field":"category"' "$(api POST /v1/optouts '{"user":"h1","category":["marketing"]}')"
t_match "opt-out: unknown channel" '^400 .*"field":"channel"' "$(api POST /v1/optouts '{"user":"h1","channel":"fax"}')"
t_match "opt-out: unknown category" '^400 .*"field":"category"' "$(api POST /v1/optouts '{"user":"h1","category":"promo"}')"
t_match "opt-out: no user" '^400 .*"field":"user"' "$(api POST /v1/optouts '{"channel":"sms"}')"
t_match "opt-out: unknown user" '^404 .*"field":"user"' "$(api POST /v1/optouts '{"user":"zz"}')"
t_match "opt-out: malformed JSON" '^400 .*"field":"body"' "$(api POST /v1/optouts '{"user":')"
t_match "opt-out: not an object" '^400 .*"field":"body"' "$(api POST /v1/optouts '["h1"]')"
t_eq "opt-out: 10 MB body: 413" 413 "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $CHUDA_TEST_API_TOKEN" --data-binary @big.json "$API/v1/optouts")"
t_match "opt-out removal: unknown channel" '^400 .*"field":"channel"' "$(api DELETE '/v1/optouts?user=h1&channel=fax')"
t_match "opt-out removal: no user" '^400 .*"field":"user"' "$(api DELETE '/v1/optouts?channel=sms')"
t_eq "bad opt-outs wrote nothing" 0 "$(sqlite3 chuda.db 'select count(*) from optouts')"
t_match "opt-out of everything, said explicitly" '^201 \{"user":"h1","channel":"\*","category":"marketing"\}$' \
    "$(api POST /v1/optouts '{"user":"h1","channel":"*","category":"marketing"}')"
t_match "... and removed" '^200 \{"removed":1\}$' "$(api DELETE '/v1/optouts?user=h1&category=marketing')"
t_match "credits: template_id of the wrong type" '^400 .*"field":"template_id"' "$(api POST /v1/credits '{"user":"h2","template_id":5}')"
t_match "credits: n as a string" '^400 .*"field":"n"' "$(api POST /v1/credits '{"user":"h2","template_id":"T","n":"3"}')"
t_match "credits: n as a fraction" '^400 .*"field":"n"' "$(api POST /v1/credits '{"user":"h2","template_id":"T","n":1.5}')"
t_match "credits: misspelled field" '^400 .*"field":"count"' "$(api POST /v1/credits '{"user":"h2","template_id":"T","count":3}')"
t_match "credits: user of the wrong type" '^400 .*"field":"user"' "$(api POST /v1/credits '{"user":7,"template_id":"T"}')"
t_match "credits: no template_id" '^400 .*"field":"template_id"' "$(api POST /v1/credits '{"user":"h2"}')"
t_match "credits: unknown user" '^404 .*"field":"user"' "$(api POST /v1/credits '{"user":"zz","template_id":"T"}')"
t_match "credits: malformed JSON" '^400 .*"field":"body"' "$(api POST /v1/credits '{"user":"h2",')"
t_eq "credits: 10 MB body: 413" 413 "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $CHUDA_TEST_API_TOKEN" --data-binary @big.json "$API/v1/credits")"
t_eq "bad credits wrote nothing" "3" "$(sqlite3 chuda.db "select group_concat(n) from credits")"

m=$(api GET /metrics)
t_match "metrics: queue depth" 'chuda_queue_depth [0-9]+' "$m"
t_match "metrics: events by channel" 'chuda_events_total\{channel="mp_subscribe",event="sent"\} 1' "$m"
t_match "metrics: latency histogram" 'chuda_provider_latency_seconds_count\{channel="mp_subscribe"\} 1' "$m"
t_match "metrics: token refreshes" 'chuda_token_refreshes_total\{channel="mp_subscribe"\} 1' "$m"
t_done
