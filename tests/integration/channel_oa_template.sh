# channel_oa_template.sh — the official-account template channel against the simulator
# (providers.md §3): the exact request the provider received, the outcome of each class of
# reply (ok, refused 43004, backoff 43117 and 45009, retry -1, permanent 40037, refresh
# after an expired token), and a retry after a timeout that does not reach the user twice
# (client_msg_id).
. tests/lib.sh "$1"
cd "$T_WORK"
chuda_setup "[wechat.$OA_APPID]
secret = $CHUDA_TEST_OA_SECRET" "[policy]
quiet_hours = none"
oa_channel
echo "timeout = 1000" >>chuda.conf
cat >templates/oa_test.ini <<'EOF'
[template]
class = transactional
vars = product
[copy]
body = {{product}}已发货
[oa_template]
template_id = TPL_OA_1
url = https://shop.example/orders
data.thing1 = {{product}}
data.thing2 = {{body}}
EOF
cat >users.csv <<'CSV'
user_id,tier,tz,oa_openid
a1,potential,Asia/Shanghai,oOA1xxxxxxxxxxxxxxxxxxxxxxxxx
a2,potential,Asia/Shanghai,oOA2xxxxxxxxxxxxxxxxxxxxxxxxx
a3,potential,Asia/Shanghai,oOA3xxxxxxxxxxxxxxxxxxxxxxxxx
a4,potential,Asia/Shanghai,oOA4xxxxxxxxxxxxxxxxxxxxxxxxx
a5,potential,Asia/Shanghai,oOA5xxxxxxxxxxxxxxxxxxxxxxxxx
a6,potential,Asia/Shanghai,oOA6xxxxxxxxxxxxxxxxxxxxxxxxx
a7,potential,Asia/Shanghai,oOA7xxxxxxxxxxxxxxxxxxxxxxxxx
a8,potential,Asia/Shanghai,oOA8xxxxxxxxxxxxxxxxxxxxxxxxx
CSV
t_ok "users import" chuda users import users.csv
SEND=/cgi-bin/message/template/send

send() { chuda enqueue --user "$1" --template oa_test --var "product=$2" --channel oa_template; }

# --- ok: the exact request -------------------------------------------------------------
id=$(send a1 羊绒围巾)
t_ok "run" chuda run --until-idle
t_eq "sent" sent "$(msg_state "$id")"
req=$(sim_requests $SEND | python3 -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    print(json.dumps(json.loads(r["body"]), ensure_ascii=False, sort_keys=True))
    print(r["headers"].get("content-type"))
    print("token" if r["query"].startswith("access_token=") and len(r["query"]) > 20 else "no token")
    print(r["outcome"], r["delivered"])')
t_eq "exact request" "{\"client_msg_id\": \"chuda-$id\", \"data\": {\"thing1\": {\"value\": \"羊绒围巾\"}, \"thing2\": {\"value\": \"羊绒围巾已发货\"}}, \"template_id\": \"TPL_OA_1\", \"touser\": \"oOA1xxxxxxxxxxxxxxxxxxxxxxxxx\", \"url\": \"https://shop.example/orders\"}
application/json
token
0 True" "$req"
t_match "sent with the provider's msgid" '^provider_id=[0-9]+$' "$(msg_field "$id" sent detail)"
t_eq "one stable_token call" 1 "$(sim_requests /cgi-bin/stable_token | wc -l)"
t_eq "AppSecret in no log row" 0 "$(chuda log --format json | grep -c "$CHUDA_TEST_OA_SECRET")"

# --- refused: the user does not follow the account (43004) ---------------------------
sim_ctl POST /_sim/follow "{\"appid\":\"$OA_APPID\",\"openid\":\"oOA2xxxxxxxxxxxxxxxxxxxxxxxxx\",\"follow\":false}" >/dev/null
id=$(send a2 围巾)
chuda run --until-idle 2>/dev/null
t_eq "43004: refused, then no channel left" "enqueued,retry,suppressed" "$(msg_events "$id")"
t_eq "43004 code logged" 43004 "$(msg_field "$id" retry code)"
t_match "43004 reason" "oa_template refused: require subscribe" "$(msg_field "$id" retry reason)"
t_match "43004 records an opt-out of the channel from the provider" \
    "^oa_template +\* .* provider +oa_template 43004" "$(chuda optout list a2)"

# --- backoff for this recipient (43117): deferred, no attempt spent, channel not paused --
sim_fault "{\"path\":\"$SEND\",\"count\":1,\"match\":\"oOA3\",\"errcode\":43117,\"errmsg\":\"Sending messages to this openid too frequently, please try later\"}"
id=$(send a3 手套)
id_a=$(send a3 袜子)
id_b=$(send a4 帽子)
chuda run --until-idle 2>/dev/null
t_eq "43117: deferred" "enqueued,deferred" "$(msg_events "$id")"
t_match "43117: waits about a minute for this recipient only" "limit for this recipient until" "$(msg_field "$id" deferred reason)"
t_eq "another user is sent meanwhile" sent "$(msg_state "$id_b")"
t_match "43117 message still queued" "queued" "$(msg_state "$id")"
# the recipient is paused, not only the message: their next one waits without a request
t_eq "43117: the user's other message waits too" "enqueued,deferred" "$(msg_events "$id_a")"
t_eq "43117: held by the recipient's pause" recipient_paused "$(msg_field "$id_a" deferred code)"
t_eq "43117: one request to that openid" 1 "$(sim_requests $SEND | grep -c oOA3)"
t_eq "43117: both wait until the same instant" \
    "$(msg_field "$id" deferred reason | grep -o 'until [^ ]*')" \
    "$(msg_field "$id_a" deferred reason | grep -o 'until [^ ]*')"

# --- retry: system busy (-1), then sent --------------------------------------------------
sim_fault "{\"path\":\"$SEND\",\"count\":1,\"errcode\":-1}"
id=$(send a5 雨伞)
chuda run --until-idle 2>/dev/null
t_eq "-1: retried, then sent" "enqueued,retry,sent" "$(msg_events "$id")"

# --- permanent: invalid template_id (40037) ----------------------------------------------
sim_fault "{\"path\":\"$SEND\",\"count\":1,\"errcode\":40037,\"errmsg\":\"invalid template_id\"}"
id=$(send a5 水杯)
chuda run --until-idle 2>/dev/null
t_eq "40037: failed" "enqueued,failed" "$(msg_events "$id")"
t_eq "40037 code" 40037 "$(msg_field "$id" failed code)"

# --- refresh: the provider rejects the token (42001): refreshed once in the run, resent --
before=$(sim_requests /cgi-bin/stable_token | wc -l)
sim_fault "{\"path\":\"$SEND\",\"count\":1,\"errcode\":42001,\"errmsg\":\"access_token expired\"}"
id=$(send a6 毛衣)
chuda run --until-idle 2>/dev/null
t_eq "42001: refreshed and resent, no attempt spent" "enqueued,sent" "$(msg_events "$id")"
# the run's first token, the refresh (stable_token hands the same one back), the forced one
t_eq "42001: the token was refreshed in the same run, then forced" "3 1" \
    "$(( $(sim_requests /cgi-bin/stable_token | wc -l) - before )) $(sim_requests \
        /cgi-bin/stable_token | python3 -c '
import json, sys
print(sum(json.loads(json.loads(l)["body"])["force_refresh"] for l in sys.stdin))')"

# --- a timeout, then the retry: the user gets it once ---------------------------------------
sim_fault "{\"path\":\"$SEND\",\"count\":1,\"delay_ms\":2500,\"match\":\"oOA7\"}"
id=$(send a7 跑鞋)
t_ok "run through a timeout" chuda run --until-idle
t_eq "timeout: retried, then sent" "enqueued,retry,sent" "$(msg_events "$id")"
t_match "the timeout is logged" "curl 28" "$(msg_field "$id" retry code)"
t_eq "not logged uncertain (the provider dedups)" 0 "$(log_count uncertain "$id")"
n=0   # the delayed first request is recorded when its late reply leaves
while [ "$(sim_requests $SEND | grep -c oOA7)" -lt 2 ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
dl=$(sim_requests $SEND | python3 -c '
import json, sys
rs = [json.loads(l) for l in sys.stdin]
rs = [r for r in rs if json.loads(r["body"])["touser"].startswith("oOA7")]
ids = {json.loads(r["body"])["client_msg_id"] for r in rs}
print(len(rs), sum(r["delivered"] for r in rs), sum(r["duplicate"] for r in rs), len(ids))')
t_eq "two requests, one delivered, one duplicate, one client_msg_id" "2 1 1 1" "$dl"

# --- backoff for the whole channel: daily quota (45009) until the next China midnight --------
sim_fault "{\"path\":\"$SEND\",\"count\":1,\"errcode\":45009,\"errmsg\":\"reach max api daily quota limit\"}"
id=$(send a8 外套)
chuda run --until-idle 2>/dev/null
t_eq "45009: deferred" "enqueued,deferred" "$(msg_events "$id")"
want=$(python3 -c '
import datetime
cn = datetime.timezone(datetime.timedelta(hours=8))
d = (datetime.datetime.now(cn) + datetime.timedelta(days=1)).date()
print(datetime.datetime(d.year, d.month, d.day, tzinfo=cn).astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M"))')
t_match "45009: paused until the next China midnight" "oa_template paused by provider until $want" "$(msg_field "$id" deferred reason)"
t_done
