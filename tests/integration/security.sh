# security.sh — what chuda promises about secrets, the API, files and SQL:
#   1. known secrets for every channel (WeChat mini program and official account, Tencent
#      and Aliyun SMS, WeCom app and customer, the robot's webhook key) and the API token,
#      plus the access tokens the providers issue, appear in no output of any command
#      (stdout and stderr, -v, errors on the failure paths), no log export (table, csv,
#      json, unmasked), no stats, report, archive, and not in the database;
#   2. the API listens on 127.0.0.1 only by default, will not start without its token
#      (unset variable, a token file others can read) and answers 401 without it;
#   3. every file chuda creates is mode 0600 whatever the umask (database, -wal, -shm,
#      run lock, log archive, report);
#   4. every SQL statement takes its values as parameters: hostile strings as a user id,
#      tag, key, attribute, campaign name, segment and log filter are stored and matched
#      as text, and every table is intact;
#   5. TLS verification has no off switch: no such option in the code, no config key.
# (The test CA is trusted only when ca_file names it: faults.sh, "no ca_file".)
. tests/lib.sh "$1"
cd "$T_WORK"
umask 022
OA=wxoasecurity00001
CORP=wwsecurity0000001
TC_ID=AKIDchudasecurity0000001
ALI_ID=LTAIchudasecurity1
export CHUDA_TEST_OA_SECRET=SECRET-oa-7f3a9c1e5b
export CHUDA_TEST_WC_SECRET=SECRET-wecom-2d8e4f6a0c
export CHUDA_TEST_TC_KEY=SECRET-tencent-9b1d3f5e7a
export CHUDA_TEST_ALI_SECRET=SECRET-aliyun-4c6e8a0b2d
export CHUDA_TEST_ROBOT_KEY=5ec2e7a1-0000-4bc4-97a0-5ecre7robot1
export CHUDA_TEST_API_TOKEN=SECRET-api-token-1e3c5a7b9d
export CHUDA_TEST_MP_SECRET=SECRET-mp-8a6c4e2f0b
SECRETS="$CHUDA_TEST_MP_SECRET $CHUDA_TEST_OA_SECRET $CHUDA_TEST_WC_SECRET $CHUDA_TEST_TC_KEY
$CHUDA_TEST_ALI_SECRET $CHUDA_TEST_ROBOT_KEY $CHUDA_TEST_API_TOKEN"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
chuda_setup "[wechat.$OA]
secret = $CHUDA_TEST_OA_SECRET
[wecom.$CORP]
secret = $CHUDA_TEST_WC_SECRET
agentid = 1000002
robot_keys = $CHUDA_TEST_ROBOT_KEY
[tencent.$TC_ID]
secret_key = $CHUDA_TEST_TC_KEY
sdk_app_id = 1400006666
[aliyun.$ALI_ID]
secret = $CHUDA_TEST_ALI_SECRET" "[policy]
quiet_hours = none
[chuda]
allow_unmasked = yes
[api]
listen = 127.0.0.1:$PORT
token_env = CHUDA_TEST_API_TOKEN"
cp "$TOP/tests/data/marker.ini" templates/
channels() {    # channels URL SMS_PROVIDER
    cat <<EOF
[channel.mp_subscribe]
base_url = $1
credits = off
[channel.oa_template]
base_url = $1
appid = $OA
secret_env = CHUDA_TEST_OA_SECRET
retry_base = 100ms
[channel.sms]
base_url = $1
provider = $2
secret_id = $([ "$2" = tencent ] && echo $TC_ID || echo $ALI_ID)
secret_env = $([ "$2" = tencent ] && echo CHUDA_TEST_TC_KEY || echo CHUDA_TEST_ALI_SECRET)
sign_name = 触达测试
$([ "$2" = tencent ] && echo "sdk_app_id = 1400006666")
retry_base = 100ms
[channel.wecom]
base_url = $1
corpid = $CORP
secret_env = CHUDA_TEST_WC_SECRET
agentid = 1000002
retry_base = 100ms
[channel.wecom_customer]
base_url = $1
corpid = $CORP
secret_env = CHUDA_TEST_WC_SECRET
sender = zhangsan
retry_base = 100ms
[channel.wecom_robot]
base_url = $1
key_env = CHUDA_TEST_ROBOT_KEY
retry_base = 100ms
EOF
}
cp chuda.conf base.conf
{ cat base.conf; channels "$SIM_URL" tencent; } >chuda.conf
GOOD_URL=$SIM_URL
HOSTILE="x'); DROP TABLE users;--"
cat >users.csv <<CSV
user_id,tier,tz,mp_openid,oa_openid,phone,wecom_userid,wecom_external_userid,city
k1,potential,Asia/Shanghai,oSECmp1xxxxxxxxxxxxxxxxxxxxx,oSECoa1xxxxxxxxxxxxxxxxxxxxx,+8613700000001,sec1,wmSEC0001,上海
"$HOSTILE",potential,Asia/Shanghai,oSECmp2xxxxxxxxxxxxxxxxxxxxx,,,,,"杭州'); DELETE FROM log;--"
CSV

# ==== 1. secrets ==========================================================================
mkdir out
n=0
cap() {     # cap CMD...: run it, keeping stdout and stderr in out/ (any exit status)
    n=$((n + 1))
    "$@" >"out/$n.out" 2>"out/$n.err"
}
cap chuda users import users.csv
for ch in mp_subscribe oa_template sms wecom wecom_customer wecom_robot; do
    cap chuda enqueue --user k1 --template marker --var "n=S-$ch" --channel "$ch"
done
# a failure path: a reset (uncertain, resent)
sim_ctl POST /_sim/fault '{"path":"/cgi-bin/webhook/send","reset":true}' >/dev/null
cap chuda run --until-idle -v
# the other SMS provider, a provider rejecting the secret, a TLS failure for the robot
# (its key is in the URL)
sim_start "$T_WORK/sim.ini" "$CA/wronghost.pem"
WRONG_URL=$SIM_URL
SIM_URL=$GOOD_URL
sim_ctl POST /_sim/fault '{"path":"/cgi-bin/gettoken","errcode":40001,"errmsg":"invalid credential"}' >/dev/null
{ cat base.conf; channels "$GOOD_URL" aliyun; printf '[channel.wecom_robot]\nbase_url = %s\n' "$WRONG_URL"; } >chuda.conf
cap chuda enqueue --user k1 --template marker --var n=S-aliyun --channel sms
cap chuda enqueue --user k1 --template marker --var n=S-rejected --channel wecom_customer
cap chuda enqueue --user k1 --template marker --var n=S-robot-tls --channel wecom_robot
cap chuda run --until-idle -v
cap chuda preview --template marker --user k1 --var n=preview
for f in table csv json; do cap chuda log --format $f; cap chuda log --format $f --unmasked; done
for f in table csv json; do cap chuda stats --by channel,event,code --format $f; done
for id in $(seq 1 9); do cap chuda show "$id"; done
cap chuda report --since -1d --html out/report.html
# the API: its refusals and its answers
"$CHUDA" -c chuda.conf run -v >out/api-run.out 2>out/api-run.err &
APIRUN=$!
T_PIDS="$T_PIDS $APIRUN"
API="http://127.0.0.1:$PORT"
wait_for 10 curl -sf "$API/healthz"
curl -s -X POST -d '{}' "$API/v1/messages" >out/api-1.out
curl -s -H "Authorization: Bearer wrong-$CHUDA_TEST_API_TOKEN" "$API/metrics" >out/api-2.out
curl -s -H "Authorization: Bearer $CHUDA_TEST_API_TOKEN" "$API/metrics" >out/api-3.out
curl -s -H "Authorization: Bearer $CHUDA_TEST_API_TOKEN" "$API/v1/messages/1" >out/api-4.out
t_eq "the run files are 0600 whatever the umask: database, -wal, -shm, lock" \
    "600 600 600 600" "$(stat -c %a chuda.db chuda.db-wal chuda.db-shm chuda.db.run.lock | tr '\n' ' ' | sed 's/ $//')"
kill -TERM $APIRUN; wait $APIRUN
cap chuda log archive --before +1m out/archive.jsonl.gz
zcat out/archive.jsonl.gz >out/archive.jsonl
sqlite3 chuda.db .dump >out/db.dump
# the access tokens the providers issued during the run
sim_ctl GET /_sim/requests | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    if r["path"] in ("/cgi-bin/stable_token", "/cgi-bin/gettoken"):
        t = json.loads(r["response"]).get("access_token")
        if t: print(t)' | sort -u >tokens
t_ok "the providers issued access tokens during the run" test -s tokens
t_eq "every channel was reached" "mp_subscribe oa_template sms wecom wecom_customer wecom_robot aliyun" \
    "$(sim_ctl GET /_sim/requests | python3 -c '
import json, re, sys
seen = []
for r in json.load(sys.stdin):
    m = re.search("S-([a-z_]+)", r["body"] + r["query"])
    if m and m.group(1) not in seen: seen.append(m.group(1))
order = "mp_subscribe oa_template sms wecom wecom_customer wecom_robot aliyun".split()
print(" ".join(c for c in order if c in seen))')"
t_ok "the failure paths were taken (reset, rejected secret, TLS)" sh -c \
    "grep -q uncertain out/archive.jsonl && grep -q 40001 out/archive.jsonl && grep -q '\"tls\"' out/archive.jsonl"
t_ok "outputs were captured" test "$(ls out | wc -l)" -gt 40
k=0
for s in $SECRETS $(cat tokens); do
    k=$((k + 1))
    t_eq "secret $k of $(echo $SECRETS $(cat tokens) | wc -w): in no output, log, export, archive or the database" "" \
        "$(grep -rlaF -- "$s" out chuda.db* 2>/dev/null | tr '\n' ' ')"
done

# ==== 2. the API: loopback by default, only with its token ==================================
if python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 8787))' 2>/dev/null; then
    { cat chuda.conf | sed '/^listen = /d'; } >default_api.conf
    "$CHUDA" -c default_api.conf run >out/default-api.log 2>&1 &
    DRUN=$!
    T_PIDS="$T_PIDS $DRUN"
    t_ok "default listen: answers on 127.0.0.1:8787" wait_for 10 curl -sf http://127.0.0.1:8787/healthz
    t_eq "default listen: bound to 127.0.0.1 only" "0100007F:2253" "$(python3 -c '
import sys
for l in open("/proc/net/tcp").readlines()[1:]:
    f = l.split()
    if f[3] == "0A" and f[1].endswith(":2253"): print(f[1])')"
    t_fails "default listen: not on another address of this host (127.0.0.2)" \
        curl -sf --max-time 5 http://127.0.0.2:8787/healthz
    kill -TERM $DRUN; wait $DRUN
else
    echo "ok - # SKIP default listen: port 8787 is in use on this machine"
fi
sed 's/^token_env = CHUDA_TEST_API_TOKEN/token_env = CHUDA_TEST_API_UNSET/' chuda.conf >notoken.conf
t_fails_with "the API does not start without its token" \
    'token_env: environment variable CHUDA_TEST_API_UNSET is not set' \
    env -u CHUDA_TEST_API_UNSET "$CHUDA" -c notoken.conf run --until-idle
printf '%s\n' "$CHUDA_TEST_API_TOKEN" >api.token
chmod 0644 api.token
sed 's|^token_env = CHUDA_TEST_API_TOKEN|token_file = api.token|' chuda.conf >tokenfile.conf
t_fails_with "... nor with a token file others can read" 'must be readable by its owner only' \
    "$CHUDA" -c tokenfile.conf run --until-idle
t_match "no token: 401" '"error":"authorization: a valid Bearer token is required"' "$(cat out/api-1.out)"
t_match "wrong token: 401" '"field":"authorization"' "$(cat out/api-2.out)"
t_match "the right token: served" '^# (HELP|TYPE) chuda_' "$(cat out/api-3.out)"
t_match "refusals are logged on stderr, without the token" 'api: POST /v1/messages from 127.0.0.1: no token' \
    "$(cat out/api-run.err)"

# ==== 3. every file chuda creates is 0600 =====================================================
t_eq "archive and report are 0600 with umask 022" "600 600" \
    "$(stat -c %a out/archive.jsonl.gz out/report.html | tr '\n' ' ' | sed 's/ $//')"
t_eq "the database is 0600 after init with umask 022" 600 "$(chuda -d fresh.db init >/dev/null; stat -c %a fresh.db)"

# ==== 4. SQL takes values as parameters ==========================================================
{ cat base.conf; channels "$GOOD_URL" tencent; } >chuda.conf
t_eq "a hostile user id is stored as it is" "$HOSTILE" \
    "$(sqlite3 chuda.db "select user_id from users where user_id like 'x''%'")"
t_eq "... and so is a hostile attribute value" "杭州'); DELETE FROM log;--" \
    "$(sqlite3 chuda.db "select json_extract(attrs, '$.city') from users where user_id like 'x''%'")"
hid=$(chuda enqueue --user "$HOSTILE" --template marker --var "n='); DROP--" --channel mp_subscribe \
    --tag "t' OR '1'='1" --key "k\"; DELETE FROM msg; --")
t_match "enqueue for the hostile user" '^[0-9]+$' "$hid"
t_match "the same hostile key is recognised as a duplicate" "$hid" \
    "$(chuda enqueue --user "$HOSTILE" --template marker --var n=again --channel mp_subscribe \
        --key "k\"; DELETE FROM msg; --" 2>&1)"
t_eq "log --user with the hostile id: its rows only" "$HOSTILE" \
    "$(chuda log --format json --user "$HOSTILE" | python3 -c '
import json, sys
print(" ".join(sorted(set(json.loads(l)["user_id"] for l in sys.stdin))))')"
t_eq "log --user \"' OR 1=1 --\": nothing" "" "$(chuda log --format json --user "' OR 1=1 --")"
t_eq "log --event and --channel with quotes: nothing" "" \
    "$(chuda log --format json --event "sent' OR '1'='1" --channel "x' OR '1'='1")"
t_ok "optout add / remove for the hostile user" sh -c \
    "\"$CHUDA\" -c chuda.conf optout add \"\$1\" --channel sms --reason \"\$1\" && \"$CHUDA\" -c chuda.conf optout remove \"\$1\" --channel sms" sh "$HOSTILE"
t_ok "credits grant for the hostile user" chuda credits grant "$HOSTILE" "T'); DROP TABLE credits;--" 2
t_eq "credits show for the hostile user" 2 \
    "$(chuda credits show "$HOSTILE" "T'); DROP TABLE credits;--" | grep -o '[0-9]\+' | tail -1)"
t_eq "cancel by the hostile user and tag: exactly that message" '1 cancelled' \
    "$(chuda cancel --user "$HOSTILE" --tag "t' OR '1'='1")"
t_eq "... and it is cancelled" cancelled "$(msg_state "$hid")"
cid=$(chuda campaign create --name "双十一'); DROP TABLE campaigns;--" --template marker \
    --var n=seg --segment "user_id = \"$HOSTILE\" or city = \"杭州'); DELETE FROM log;--\"" 2>&1)
t_match "a campaign from a segment of hostile values: the one matching user" '^campaign [0-9]+: 1 messages queued' "$cid"
t_match "its name is kept as it is" "双十一'\\); DROP TABLE campaigns;--" "$(chuda campaign list)"
tables() { sqlite3 "$1" "select name from sqlite_master where type='table' order by name" | tr '\n' ' '; }
t_eq "every table is intact (the same as in a new database)" "$(tables fresh.db)" "$(tables chuda.db)"
t_eq "both users still there" 2 "$(sqlite3 chuda.db 'select count(*) from users')"
t_ok "the log chain is intact" chuda log verify

# ==== 5. TLS verification has no off switch ==========================================================
t_eq "no code turns peer or host verification off" "" \
    "$(grep -rnE 'SSL_VERIFY(PEER|HOST|STATUS)|PROXY_SSL_VERIFY' "$TOP/src" "$TOP/channels" || true)"
t_fails_with "no config key for it" "unknown key 'tls_verify' in \\[chuda\\]" \
    sh -c "printf '[chuda]\ntls_verify = no\n' >tv.conf && \"$CHUDA\" -c tv.conf -d fresh.db run --until-idle"
t_done
