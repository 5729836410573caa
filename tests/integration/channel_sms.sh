# channel_sms.sh — the sms channel against the simulator, with each provider
# (providers.md §5, §6): the exact request (fields, headers, the signature the simulator
# recomputes and accepts), and the outcome of each class of reply: ok, refused
# (blacklist), per-number backoff with its window (30 s, next China day, 08:00 China time,
# Aliyun's minute flow control), retry (InternalError / isp.SYSTEM_ERROR, logged
# uncertain since SMS has no dedup; a stale timestamp), permanent (bad signature), and a
# timeout (uncertain, resent by the transactional class).
. tests/lib.sh "$1"
cd "$T_WORK"
TC_ID=AKIDchudatest000000000001
ALI_ID=LTAIchudatest0001
export CHUDA_TEST_TC_KEY=tc-secret-key-0123456789
export CHUDA_TEST_ALI_SECRET=ali-secret-0123456789
export CHUDA_TEST_BAD=wrong-secret
chuda_setup "[tencent.$TC_ID]
secret_key = $CHUDA_TEST_TC_KEY
sdk_app_id = 1400006666
sign_names = 触达测试
templates = 1234
blacklist = +8613800000013
per_number_30s = 100
per_number_daily = 100
[aliyun.$ALI_ID]
secret = $CHUDA_TEST_ALI_SECRET
sign_names = 触达测试
templates = SMS_1
per_number_minute = 1
per_number_daily = 100" "[policy]
quiet_hours = none"
common=$(cat chuda.conf)
sms_conf() {    # sms_conf FILE DB PROVIDER SECRET_ENV
    printf '%s\n' "$common" | sed "s|^db = .*|db = $2|" >"$1"
    cat >>"$1" <<EOF
[channel.sms]
base_url = $SIM_URL
provider = $3
secret_id = $([ "$3" = tencent ] && echo $TC_ID || echo $ALI_ID)
secret_env = $4
sign_name = 触达测试
$([ "$3" = tencent ] && echo "sdk_app_id = 1400006666")
timeout = 1000
retry_base = 100ms
retry_cap = 400ms
EOF
}
sms_conf tc.conf tc.db tencent CHUDA_TEST_TC_KEY
sms_conf ali.conf ali.db aliyun CHUDA_TEST_ALI_SECRET
sms_conf tcbad.conf tc.db tencent CHUDA_TEST_BAD
sms_conf alibad.conf ali.db aliyun CHUDA_TEST_BAD
cat >templates/sms_test.ini <<'EOF'
[template]
class = transactional
vars = product
[sms]
template_id.tencent = 1234
template_id.aliyun = SMS_1
params = {{product}}, 3
param.product = {{product}}
param.days = 3
EOF
cat >users.csv <<'CSV'
user_id,tier,tz,phone
s1,churned,Asia/Shanghai,+8613800000001
s2,churned,Asia/Shanghai,+8613800000002
s3,churned,Asia/Shanghai,+8613800000013
s4,churned,Asia/Shanghai,+8613800000004
s5,churned,Asia/Shanghai,+8613800000005
s6,churned,Asia/Shanghai,+8613800000006
s7,churned,Asia/Shanghai,+8613800000007
s8,churned,Asia/Shanghai,+8613800000008
CSV
CHUDA_CONF=tc.conf
c() { chuda "$@"; }
t_ok "init + import (tencent)" sh -c "\"$CHUDA\" -c tc.conf init >/dev/null && \"$CHUDA\" -c tc.conf users import users.csv"
t_ok "init + import (aliyun)" sh -c "\"$CHUDA\" -c ali.conf init >/dev/null && \"$CHUDA\" -c ali.conf users import users.csv"

send() { c enqueue --user "$1" --template sms_test --var "product=$2" --channel sms; }
# the simulator's records of "/" for one number, as JSON lines
recs() {
    sim_requests / | python3 -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    if sys.argv[1] in r["body"] or sys.argv[1] in r["query"]:
        print(l.strip())' "$1"
}
cn_midnight=$(python3 -c '
import datetime
cn = datetime.timezone(datetime.timedelta(hours=8))
d = (datetime.datetime.now(cn) + datetime.timedelta(days=1)).date()
print(datetime.datetime(d.year, d.month, d.day, tzinfo=cn).astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M"))')
cn_0800=$(python3 -c '
import datetime
cn = datetime.timezone(datetime.timedelta(hours=8))
now = datetime.datetime.now(cn)
t = now.replace(hour=8, minute=0, second=0, microsecond=0)
if t <= now: t += datetime.timedelta(days=1)
print(t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M"))')

# ==== Tencent ===========================================================================
id=$(send s1 羊绒围巾)
t_ok "tencent: run" c run --until-idle
t_eq "tencent: sent" sent "$(msg_state "$id")"
req=$(recs +8613800000001 | python3 -c '
import json, sys, time
r = json.loads(sys.stdin.readline())
h = r["headers"]
print(r["method"], r["outcome"], r["delivered"])
print(r["body"])
print(h["content-type"], "|", h["x-tc-action"], h["x-tc-version"], h["x-tc-region"])
print(abs(int(h["x-tc-timestamp"]) - time.time()) < 120, h["host"] == sys.argv[1])
day = time.strftime("%Y-%m-%d", time.gmtime(int(h["x-tc-timestamp"])))
want = "TC3-HMAC-SHA256 Credential=" + sys.argv[2] + "/" + day + "/sms/tc3_request, SignedHeaders=content-type;host;x-tc-action, Signature="
print(h["authorization"].startswith(want), len(h["authorization"]) - len(want))' "127.0.0.1:$SIM_PORT" "$TC_ID")
t_eq "tencent: exact request, signature accepted by the simulator" "POST Ok True
{\"PhoneNumberSet\":[\"+8613800000001\"],\"SmsSdkAppId\":\"1400006666\",\"SignName\":\"触达测试\",\"TemplateId\":\"1234\",\"TemplateParamSet\":[\"羊绒围巾\",\"3\"],\"SessionContext\":\"$id\"}
application/json; charset=utf-8 | SendSms 2021-01-11 ap-guangzhou
True True
True 64" "$req"
t_match "tencent: SerialNo as the provider id" '^provider_id=2433:[0-9]+$' "$(msg_field "$id" sent detail)"
t_eq "tencent: SecretKey in no log row" 0 "$(c log --format json | grep -c "$CHUDA_TEST_TC_KEY")"

# a value with an ASCII comma would split `params` into one more parameter and move the
# later ones: the field rules refuse it wherever the message is checked, and nothing is sent
comma='\[sms\] params: parameter 1: \{\{product\}\} renders with an ASCII comma, which would split it in two \(write ， instead\)'
t_fails_with "tencent comma: enqueue refused, naming section, parameter, variable" \
    "no channel can carry it: $comma" c enqueue --user s1 --template sms_test --var product=A,B --channel sms
t_fails_with "tencent comma: preview fails the same way" "$comma" \
    c preview --template sms_test --user s1 --var product=A,B --channel sms
printf 'user_id,product\ns1,围巾\ns2,"A,B"\n' >comma.csv
t_ok "tencent comma: a campaign row queues (rows are checked per combination)" \
    c campaign create --name comma --template sms_test --recipients comma.csv
before=$(sim_requests / | grep -c +8613800000002)
c run --until-idle 2>/dev/null
cid=$(c log --format json --campaign 1 --event failed | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["message_id"])')
t_eq "tencent comma: at send it fails, code field_rule" "field_rule" "$(msg_field "$cid" failed code)"
t_match "tencent comma: the log names the parameter and the variable" "^$comma" "$(msg_field "$cid" failed reason)"
t_eq "tencent comma: nothing was sent to that number" "$before" "$(sim_requests / | grep -c +8613800000002)"

# refused: the number is blacklisted (unsubscribed)
id=$(send s3 围巾)
c run --until-idle 2>/dev/null
t_eq "tencent blacklist: refused, no channel left" "enqueued,retry,suppressed" "$(msg_events "$id")"
t_eq "tencent blacklist code" FailedOperation.PhoneNumberInBlacklist "$(msg_field "$id" retry code)"
t_match "tencent blacklist records an opt-out of sms" \
    "^sms +\* .* provider +sms FailedOperation.PhoneNumberInBlacklist" "$(c optout list s3)"

# per-number limits, each status on its own: 30 s, the natural day, marketing hours
status() {  # status NUMBER CODE: a SendSms reply with one SendStatus
    printf '{"path":"/","count":1,"match":"%s","body":"{\\"Response\\":{\\"SendStatusSet\\":[{\\"SerialNo\\":\\"\\",\\"PhoneNumber\\":\\"%s\\",\\"Fee\\":0,\\"SessionContext\\":\\"\\",\\"Code\\":\\"%s\\",\\"Message\\":\\"limit\\",\\"IsoCode\\":\\"CN\\"}],\\"RequestId\\":\\"x\\"}}"}' "$1" "$1" "$2"
}
sim_fault "$(status +8613800000002 LimitExceeded.PhoneNumberThirtySecondLimit)"
sim_fault "$(status +8613800000004 LimitExceeded.PhoneNumberDailyLimit)"
sim_fault "$(status +8613800000005 FailedOperation.MarketingSendTimeConstraint)"
id2=$(send s2 手套)
id4=$(send s4 帽子)
id5=$(send s5 雨伞)
c run --until-idle 2>/dev/null
t_eq "tencent 30 s limit: deferred" "enqueued,deferred" "$(msg_events "$id2")"
t_match "tencent 30 s limit: this number only, ~30 s" "sms limit for this recipient until .*per-number 30-second limit" "$(msg_field "$id2" deferred reason)"
t_ok "tencent 30 s limit: due in 25..35 s" python3 -c '
import datetime, json, re, sys
r = json.loads(sys.argv[1])
t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
until = re.search(r"until (\S+Z)", r["reason"]).group(1)
sys.exit(0 if 25 <= (t(until) - t(r["at"])).total_seconds() <= 35 else 1)' \
    "$(c log --format json --message "$id2" --event deferred | tail -1)"
t_match "tencent daily limit: until the next China midnight" "sms limit for this recipient until ${cn_midnight}" "$(msg_field "$id4" deferred reason)"
t_match "tencent marketing hours: until 08:00 China time" "sms holds this message until ${cn_0800}" "$(msg_field "$id5" deferred reason)"

# retry: InternalError (the SMS may have gone: logged uncertain, resent by the class)
sim_fault '{"path":"/","count":1,"match":"+8613800000006","code":"InternalError.SendAndRecvFail","message":"internal"}'
id=$(send s6 水杯)
c run --until-idle 2>/dev/null
t_eq "tencent InternalError: uncertain, retried, sent" "enqueued,uncertain,retry,sent" "$(msg_events "$id")"

# a timeout: no dedup, so uncertain; transactional resends
sim_fault '{"path":"/","count":1,"match":"+8613800000007","delay_ms":2500}'
id=$(send s7 毛衣)
c run --until-idle 2>/dev/null
t_eq "tencent timeout: uncertain, retried, sent" "enqueued,uncertain,retry,sent" "$(msg_events "$id")"
t_match "tencent timeout code" "curl 28" "$(msg_field "$id" uncertain code)"

# permanent: a wrong SecretKey (the simulator recomputes the signature)
CHUDA_CONF=tcbad.conf
id=$(send s8 外套)
c run --until-idle 2>/dev/null
t_eq "tencent bad signature: failed" "enqueued,failed" "$(msg_events "$id")"
t_eq "tencent bad signature code" AuthFailure.SignatureFailure "$(msg_field "$id" failed code)"
t_eq "tencent: the wrong key is in no log row" 0 "$(c log --format json | grep -c "$CHUDA_TEST_BAD")"

# ==== Aliyun ============================================================================
CHUDA_CONF=ali.conf
sim_ctl POST /_sim/reset '{}' >/dev/null
id=$(send s1 羊绒围巾)
t_ok "aliyun: run" c run --until-idle
t_eq "aliyun: sent" sent "$(msg_state "$id")"
req=$(recs PhoneNumbers=13800000001 | python3 -c '
import json, sys, urllib.parse
r = json.loads(sys.stdin.readline())
p = dict(urllib.parse.parse_qsl(r["body"], keep_blank_values=True))
print(r["method"], r["headers"]["content-type"], r["outcome"], r["delivered"], r["query"] == "")
for k in ["AccessKeyId", "Action", "Format", "OutId", "PhoneNumbers", "RegionId", "SignName",
          "SignatureMethod", "SignatureVersion", "TemplateCode", "TemplateParam", "Version"]:
    print(k, p[k])
print(len(p["SignatureNonce"]), len(p["Signature"]), p["Timestamp"].endswith("Z"), len(p))')
t_eq "aliyun: exact request, signature accepted by the simulator" "POST application/x-www-form-urlencoded OK True True
AccessKeyId $ALI_ID
Action SendSms
Format JSON
OutId $id
PhoneNumbers 13800000001
RegionId cn-hangzhou
SignName 触达测试
SignatureMethod HMAC-SHA1
SignatureVersion 1.0
TemplateCode SMS_1
TemplateParam {\"product\":\"羊绒围巾\",\"days\":\"3\"}
Version 2017-05-25
36 28 True 15" "$req"
t_match "aliyun: BizId as the provider id" '^provider_id=[0-9]+\^0$' "$(msg_field "$id" sent detail)"

# per-number flow control, window read from the message (the simulator allows 1 a minute)
id=$(send s1 手套)
c run --until-idle 2>/dev/null
t_eq "aliyun flow control: deferred" "enqueued,deferred" "$(msg_events "$id")"
t_eq "aliyun flow control code" isv.BUSINESS_LIMIT_CONTROL "$(msg_field "$id" deferred code)"
t_match "aliyun flow control: minute window, this number" "sms limit for this recipient until .*触发分钟级流控" "$(msg_field "$id" deferred reason)"

# retry: isp.SYSTEM_ERROR (uncertain) and a stale timestamp (HTTP 400, re-signed)
sim_fault '{"path":"/","count":1,"match":"13800000002","code":"isp.SYSTEM_ERROR","message":"系统错误"}'
sim_fault '{"path":"/","count":1,"match":"13800000004","code":"InvalidTimeStamp.Expired","message":"expired"}'
id2=$(send s2 围巾)
id4=$(send s4 帽子)
c run --until-idle 2>/dev/null
t_eq "aliyun isp.SYSTEM_ERROR: uncertain, retried, sent" "enqueued,uncertain,retry,sent" "$(msg_events "$id2")"
t_eq "aliyun stale timestamp: retried, sent" "enqueued,retry,sent" "$(msg_events "$id4")"
t_eq "aliyun: every request had its own nonce" 0 "$(sim_requests / | python3 -c '
import json, sys, urllib.parse, collections
c = collections.Counter(dict(urllib.parse.parse_qsl(json.loads(l)["body"])).get("SignatureNonce") for l in sys.stdin)
print(sum(v - 1 for v in c.values()))')"

# permanent: a wrong AccessKeySecret
CHUDA_CONF=alibad.conf
id=$(send s5 外套)
c run --until-idle 2>/dev/null
t_eq "aliyun bad signature: failed" "enqueued,failed" "$(msg_events "$id")"
t_eq "aliyun bad signature code" SignatureDoesNotMatch "$(msg_field "$id" failed code)"
t_eq "aliyun: no secret in any log row" 0 "$(c log --format json | grep -c -e "$CHUDA_TEST_BAD" -e "$CHUDA_TEST_ALI_SECRET")"
t_done
