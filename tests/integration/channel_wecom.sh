# channel_wecom.sh — the WeCom channels against the simulator (providers.md §4): wecom
# (app message to a member), wecom_customer (customer broadcast task) and wecom_robot
# (group webhook). For each: the exact request, and the outcome of each class of reply:
# ok, permanent for this recipient (81013, invaliduser, fail_list) falling back, refresh
# (40014), permanent (40001 = bad secret on WeCom, 93000 bad robot key), backoff (45009),
# and a timeout (app messages: the duplicate check drops the resend; broadcasts and the
# robot: uncertain).
. tests/lib.sh "$1"
cd "$T_WORK"
CORP=ww0000000000000001
export CHUDA_TEST_WC_SECRET=wc-secret-0123456789
export CHUDA_TEST_ROBOT_KEY=693a91f6-7a1b-4bc4-97a0-0ec2aaaa5aaa
export CHUDA_TEST_ROBOT_BAD=00000000-dead-beef-0000-000000000000
chuda_setup "[wecom.$CORP]
secret = $CHUDA_TEST_WC_SECRET
agentid = 1000002
users = zhangwei,lisi,wangwu,zhaoliu,sunqi,zhouba,wujiu,zhengshi
member_minute_limit = 2
external_users = wmCUST0001,wmCUST0003
robot_keys = $CHUDA_TEST_ROBOT_KEY
robot_minute_limit = 2" "[policy]
quiet_hours = none"
cat >>chuda.conf <<EOF
[channel.wecom]
base_url = $SIM_URL
corpid = $CORP
secret_env = CHUDA_TEST_WC_SECRET
agentid = 1000002
member_per_minute = 2
timeout = 1000
retry_base = 100ms
retry_cap = 400ms
[channel.wecom_customer]
base_url = $SIM_URL
corpid = $CORP
secret_env = CHUDA_TEST_WC_SECRET
sender = zhangsan
timeout = 1000
retry_base = 100ms
retry_cap = 400ms
[channel.wecom_robot]
base_url = $SIM_URL
key_env = CHUDA_TEST_ROBOT_KEY
rate = 100
timeout = 1000
retry_base = 100ms
retry_cap = 400ms
EOF
sed 's/^key_env = CHUDA_TEST_ROBOT_KEY/key_env = CHUDA_TEST_ROBOT_BAD/' chuda.conf >robotbad.conf
cat >templates/wc_test.ini <<'EOF'
[template]
class = transactional
vars = product
[copy]
body = {{product}}还在购物车里等你
[wecom]
msgtype = textcard
title = 购物车提醒
description = {{body}}
url = https://shop.example/cart
btntxt = 去看看
[wecom_customer]
content = {{body}}
link.title = 购物车
link.url = https://shop.example/cart
[wecom_robot]
msgtype = markdown
content = **{{user_id}}**：{{body}}
EOF
cat >users.csv <<'CSV'
user_id,tier,tz,wecom_userid,wecom_external_userid
w1,high_value,Asia/Shanghai,zhangwei,
w2,high_value,Asia/Shanghai,ghost,
w3,high_value,Asia/Shanghai,lisi,
w4,high_value,Asia/Shanghai,wangwu,
w5,high_value,Asia/Shanghai,zhaoliu,
w6,high_value,Asia/Shanghai,sunqi,
w7,high_value,Asia/Shanghai,zhouba,
w8,high_value,Asia/Shanghai,wujiu,
w9,high_value,Asia/Shanghai,zhengshi,
c1,high_value,Asia/Shanghai,,wmCUST0001
c2,high_value,Asia/Shanghai,,wmCUST0002
c3,high_value,Asia/Shanghai,,wmCUST0003
CSV
t_ok "users import" chuda users import users.csv

CHUDA_CONF=chuda.conf
c() { chuda "$@"; }
send() { c enqueue --user "$1" --template wc_test --var "product=$2" --channel "$3"; }
SEND=/cgi-bin/message/send
TASK=/cgi-bin/externalcontact/add_msg_template
HOOK=/cgi-bin/webhook/send
# records of PATH whose body mentions WHO: count, delivered, duplicate, dropped
tally() {
    sim_requests "$1" | python3 -c '
import json, sys
rs = [json.loads(l) for l in sys.stdin if sys.argv[1] in json.loads(l)["body"]]
print(len(rs), sum(r["delivered"] for r in rs), sum(r["duplicate"] for r in rs), sum(r["dropped"] for r in rs))' "$2"
}

# ==== wecom: app message to a member ====================================================
id=$(send w1 羊绒围巾 wecom)
t_ok "wecom: run" c run --until-idle
t_eq "wecom: sent" sent "$(msg_state "$id")"
t_eq "wecom: exact request" '{"touser":"zhangwei","msgtype":"textcard","agentid":1000002,"textcard":{"title":"购物车提醒","description":"羊绒围巾还在购物车里等你","url":"https://shop.example/cart","btntxt":"去看看"},"enable_duplicate_check":1,"duplicate_check_interval":1800}
application/json 0 True' "$(sim_requests $SEND | python3 -c '
import json, sys
r = json.loads(sys.stdin.readline())
print(r["body"]); print(r["headers"]["content-type"], r["outcome"], r["delivered"])')"
t_eq "wecom: gettoken with corpid and corpsecret" "corpid=$CORP&corpsecret=$CHUDA_TEST_WC_SECRET 0" \
    "$(sim_requests /cgi-bin/gettoken | python3 -c '
import json, sys
r = json.loads(sys.stdin.readline()); print(r["query"], r["outcome"])')"
t_match "wecom: msgid as the provider id" '^provider_id=[A-Za-z0-9]+$' "$(msg_field "$id" sent detail)"
t_eq "wecom: secret in no log row" 0 "$(c log --format json | grep -c "$CHUDA_TEST_WC_SECRET")"

# permanent for this recipient: not a member (81013), listed in invaliduser
id2=$(send w2 围巾 wecom)
sim_fault "{\"path\":\"$SEND\",\"count\":1,\"match\":\"lisi\",\"body\":\"{\\\"errcode\\\":0,\\\"errmsg\\\":\\\"ok\\\",\\\"invaliduser\\\":\\\"lisi\\\",\\\"msgid\\\":\\\"x\\\"}\"}"
id3=$(send w3 帽子 wecom)
c run --until-idle 2>/dev/null
t_eq "wecom 81013: rejected this recipient, no channel left" "enqueued,retry,suppressed" "$(msg_events "$id2")"
t_eq "wecom 81013 code" 81013 "$(msg_field "$id2" retry code)"
t_eq "wecom invaliduser: rejected this recipient" "enqueued,retry,suppressed" "$(msg_events "$id3")"
t_eq "wecom invaliduser code" invaliduser "$(msg_field "$id3" retry code)"

# refresh: the token is rejected (40014), refreshed in the run, resent. gettoken has no
# force_refresh: one call for the run, one for the refresh, no third when the same token
# comes back
before=$(sim_requests /cgi-bin/gettoken | wc -l)
sim_fault "{\"path\":\"$SEND\",\"count\":1,\"errcode\":40014,\"errmsg\":\"invalid access_token\"}"
id=$(send w4 手套 wecom)
c run --until-idle 2>/dev/null
t_eq "wecom 40014: refreshed and resent" "enqueued,sent" "$(msg_events "$id")"
t_eq "wecom 40014: gettoken once more for the stale token, not twice" 2 \
    $(( $(sim_requests /cgi-bin/gettoken | wc -l) - before ))
# a GET after a POST on the same curl handle (http.c reuses them): the first send is done
# and its handle free when the second's 40014 comes back, 300 ms later, and the refresh
# takes that handle; curl_easy_reset must have dropped the POST
sim_fault "{\"path\":\"$SEND\",\"count\":1,\"match\":\"zhengshi\",\"errcode\":40014,\"errmsg\":\"invalid access_token\",\"delay_ms\":300}"
before=$(sim_requests /cgi-bin/gettoken | wc -l)
a=$(send w8 手表 wecom); b=$(send w9 手表 wecom)
c run --until-idle 2>/dev/null
t_eq "wecom reused handle: both sent" "enqueued,sent enqueued,sent" "$(msg_events "$a") $(msg_events "$b")"
t_eq "wecom reused handle: gettoken for the run and for the refresh" 2 \
    $(( $(sim_requests /cgi-bin/gettoken | wc -l) - before ))
t_eq "wecom reused handle: every gettoken a GET, the refresh too" GET \
    "$(sim_requests /cgi-bin/gettoken | python3 -c '
import json, sys
print(" ".join(sorted({json.loads(l)["method"] for l in sys.stdin})))')"

# permanent: 40001 on WeCom is a bad secret, not a stale token
sim_fault "{\"path\":\"$SEND\",\"count\":1,\"errcode\":40001,\"errmsg\":\"invalid secret\"}"
id=$(send w4 雨伞 wecom)
c run --until-idle 2>/dev/null
t_eq "wecom 40001: failed" "enqueued,failed" "$(msg_events "$id")"

# a timeout: resent, and the duplicate check keeps it from reaching the member twice
sim_fault "{\"path\":\"$SEND\",\"count\":1,\"match\":\"sunqi\",\"delay_ms\":2500}"
id=$(send w6 跑鞋 wecom)
c run --until-idle 2>/dev/null
t_eq "wecom timeout: retried, sent, not uncertain" "enqueued,retry,sent" "$(msg_events "$id")"
n=0   # the delayed first request is recorded when its late reply leaves
while [ "$(sim_requests $SEND | grep -c sunqi)" -lt 2 ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
t_eq "wecom timeout: two requests, delivered once, one duplicate" "2 1 1 0" "$(tally $SEND sunqi)"

# the per-member limit (2 a minute here): held back before sending, never dropped
a=$(send w5 货品一 wecom); b=$(send w5 货品二 wecom); x=$(send w5 货品三 wecom)
c run --until-idle 2>/dev/null
t_eq "wecom member limit: nothing dropped by WeCom" 0 "$(tally $SEND zhaoliu | cut -d' ' -f4)"
t_eq "wecom member limit: two sent" "sent sent" "$(msg_state "$a") $(msg_state "$b")"
t_eq "wecom member limit: the third waits" "enqueued,deferred" "$(msg_events "$x")"
t_eq "wecom member limit code" member_limit "$(msg_field "$x" deferred code)"

# backoff: 45009 pauses the channel for a minute
sim_fault "{\"path\":\"$SEND\",\"count\":1,\"errcode\":45009,\"errmsg\":\"api freq out of limit\"}"
id=$(send w7 外套 wecom)
c run --until-idle 2>/dev/null
t_eq "wecom 45009: deferred" "enqueued,deferred" "$(msg_events "$id")"
t_match "wecom 45009: channel paused" "wecom paused by provider until" "$(msg_field "$id" deferred reason)"

# ==== wecom_customer: broadcast task to a customer ======================================
id=$(send c1 羊绒围巾 wecom_customer)
c run --until-idle 2>/dev/null
t_eq "customer: sent" sent "$(msg_state "$id")"
t_eq "customer: exact request" '{"chat_type":"single","external_userid":["wmCUST0001"],"sender":"zhangsan","text":{"content":"羊绒围巾还在购物车里等你"},"attachments":[{"msgtype":"link","link":{"title":"购物车","url":"https://shop.example/cart"}}]}
0 True' "$(sim_requests $TASK | python3 -c '
import json, sys
r = json.loads(sys.stdin.readline())
print(r["body"]); print(r["outcome"], r["delivered"])')"
t_match "customer: msgid as the provider id" '^provider_id=msg' "$(msg_field "$id" sent detail)"

id=$(send c2 围巾 wecom_customer)
c run --until-idle 2>/dev/null
t_eq "customer fail_list: rejected this recipient" "enqueued,retry,suppressed" "$(msg_events "$id")"
t_eq "customer fail_list code" fail_list "$(msg_field "$id" retry code)"

# a timeout: no duplicate check on broadcasts, so uncertain; transactional resends
sim_fault "{\"path\":\"$TASK\",\"count\":1,\"match\":\"wmCUST0003\",\"delay_ms\":2500}"
id=$(send c3 帽子 wecom_customer)
c run --until-idle 2>/dev/null
t_eq "customer timeout: uncertain, retried, sent" "enqueued,uncertain,retry,sent" "$(msg_events "$id")"

# ==== wecom_robot: the group webhook ====================================================
r1=$(send w1 羊绒围巾 wecom_robot)
c run --until-idle 2>/dev/null
t_eq "robot: sent" sent "$(msg_state "$r1")"
t_eq "robot: exact request" "key=$CHUDA_TEST_ROBOT_KEY
{\"msgtype\":\"markdown\",\"markdown\":{\"content\":\"**w1**：羊绒围巾还在购物车里等你\"}}
application/json 0 True" "$(sim_requests $HOOK | python3 -c '
import json, sys
r = json.loads(sys.stdin.readline())
print(r["query"]); print(r["body"]); print(r["headers"]["content-type"], r["outcome"], r["delivered"])')"

# 20 a minute per robot (2 in this simulator): the third is deferred, the channel paused
r2=$(send w3 围巾 wecom_robot); r3=$(send w4 帽子 wecom_robot)
c run --until-idle 2>/dev/null
# r2 and r3 are in flight together: either may be the one over the limit
t_eq "robot limit: one more sent, one deferred" "deferred sent" \
    "$(printf '%s\n%s\n' "$(msg_events "$r2")" "$(msg_events "$r3")" | sed 's/.*,//' | sort | tr '\n' ' ' | sed 's/ $//')"
over=$r3; [ "$(msg_state "$r2")" = sent ] || over=$r2
t_eq "robot 45009 code" 45009 "$(msg_field "$over" deferred code)"
t_match "robot 45009: channel paused a minute" "wecom_robot paused by provider until" "$(msg_field "$over" deferred reason)"

# a bad key: permanent, and the key appears nowhere
CHUDA_CONF=robotbad.conf
r4=$(send w6 手套 wecom_robot)
c run --until-idle >run.out 2>&1
t_eq "robot 93000: failed" "enqueued,failed" "$(msg_events "$r4")"
t_eq "robot 93000 code" 93000 "$(msg_field "$r4" failed code)"
t_eq "robot keys in no log row or output" 0 \
    "$({ cat run.out; c log --format json; } | grep -c -e "$CHUDA_TEST_ROBOT_KEY" -e "$CHUDA_TEST_ROBOT_BAD")"
t_done
