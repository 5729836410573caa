# preview.sh — `chuda preview` prints exactly the request body each channel sends: for
# messages on every registered channel (mp_subscribe, oa_template, sms over Tencent,
# wecom, wecom_customer, wecom_robot), the body the simulator received equals, byte for
# byte, what `chuda preview --user U --message-id ID --body` prints for the same message;
# over Aliyun SMS every form field but the three made fresh for each request (Timestamp,
# SignatureNonce, Signature) is equal, in order. Also: the verdict listing (each SMS
# provider's own parameters), a field-rule failure (exit 1, reason with length and
# limit), the user's variant and holdout computed independently, usage errors, and that
# previewing needs no secret.
. tests/lib.sh "$1"
cd "$T_WORK"

export CHUDA_TEST_OA_SECRET=oa-secret-0123456789
export CHUDA_TEST_TC_SECRET=tc-secret-key-0123456789
export CHUDA_TEST_WC_SECRET=wc-secret-0123456789
export CHUDA_TEST_ALI_SECRET=ali-secret-0123456789
chuda_setup "[wechat.wxoa0000000001]
secret = $CHUDA_TEST_OA_SECRET
[wecom.wwcorp0000001]
secret = $CHUDA_TEST_WC_SECRET
agentid = 1000002
robot_keys = robot-key-preview
[tencent.AKIDpreviewtest]
secret_key = $CHUDA_TEST_TC_SECRET
sdk_app_id = 1400006666
sign_names = 好物小铺
[aliyun.LTAIpreviewtest]
secret = $CHUDA_TEST_ALI_SECRET
sign_names = 好物小铺
templates = *"
cat >> chuda.conf <<EOF
[chuda]
default_tz = UTC
[policy]
quiet_hours = none
[channel.mp_subscribe]
credits = off
[channel.oa_template]
base_url = $SIM_URL
appid = wxoa0000000001
secret_env = CHUDA_TEST_OA_SECRET
[channel.sms]
provider = tencent
base_url = $SIM_URL
secret_id = AKIDpreviewtest
secret_env = CHUDA_TEST_TC_SECRET
sdk_app_id = 1400006666
sign_name = 好物小铺
[channel.wecom]
base_url = $SIM_URL
corpid = wwcorp0000001
secret_env = CHUDA_TEST_WC_SECRET
agentid = 1000002
[channel.wecom_customer]
base_url = $SIM_URL
corpid = wwcorp0000001
secret_env = CHUDA_TEST_WC_SECRET
sender = zhangsan
[channel.wecom_robot]
base_url = $SIM_URL
key_env = CHUDA_TEST_ROBOT_KEY
EOF
export CHUDA_TEST_ROBOT_KEY=robot-key-preview
# the shipped templates have no robot sections (a robot posts to a group, not to a
# user): one made for this
cat > templates/group_note.ini <<'EOF'
[template]
class = transactional
vars = product
[copy]
line = **{{product|trunc:10}}** 已补货
[wecom_robot]
msgtype = markdown
content = {{line}}\n> 到货时间：{{at|time:%-m月%-d日 %H:%M}}
EOF
cat > users.csv <<'CSV'
user_id,tier,segment,tz,mp_openid,oa_openid,phone,wecom_userid,wecom_external_userid,name
p1,high_value,,,oP1xxxxxxxxxxxxxxxxxxxxxxxxx,oA1xxxxxxxxxxxxxxxxxxxxxxxxx,+8613800000101,p1member,wmP1customer,张三
p2,potential,,,oP2xxxxxxxxxxxxxxxxxxxxxxxxx,oA2xxxxxxxxxxxxxxxxxxxxxxxxx,+8613800000102,p2member,wmP2customer,李四
p3,potential,,,oP3xxxxxxxxxxxxxxxxxxxxxxxxx,oA3xxxxxxxxxxxxxxxxxxxxxxxxx,+8613800000103,p3member,wmP3customer,王五
p4,potential,,,oP4xxxxxxxxxxxxxxxxxxxxxxxxx,oA4xxxxxxxxxxxxxxxxxxxxxxxxx,+8613800000104,p4member,wmP4customer,赵六
p5,potential,,,oP5xxxxxxxxxxxxxxxxxxxxxxxxx,oA5xxxxxxxxxxxxxxxxxxxxxxxxx,+8613800000105,p5member,wmP5customer,孙七
p6,high_value,,,oP6xxxxxxxxxxxxxxxxxxxxxxxxx,oA6xxxxxxxxxxxxxxxxxxxxxxxxx,+8613800000106,p6member,wmP6customer,周八
CSV
t_ok "users import" chuda users import users.csv

# One message per (user, template, channel); the vars of each line are used twice:
# for the enqueue and for the preview.
cat > cases.txt <<'EOF'
p1 cart_abandoned mp_subscribe product=羊绒围巾
p2 welcome_24h mp_subscribe expires=2026-11-24T12:00:00Z coupon=1990
p3 recall_30d mp_subscribe
p4 member_day oa_template day=2026-11-28T00:00:00Z
p5 order_shipped sms order_no=SO20261123000123 product=Apple苹果iPhone15手机壳超薄磨砂防摔款 carrier=顺丰速运 tracking_no=SF1234567890123
p6 order_shipped wecom order_no=SO20261123000124 product=羊绒围巾 carrier=京东快递 tracking_no=JD0012345678 shipped_at=1795000000
p1 member_day wecom_customer day=2026-11-28T00:00:00Z
p2 group_note wecom_robot product=山茶花护手霜礼盒装 at=2026-11-23T08:30:00Z
EOF
while read -r user tpl ch vars; do
    set --
    for kv in $vars; do set -- "$@" --var "$kv"; done
    id=$(chuda enqueue --user "$user" --template "$tpl" --channel "$ch" "$@")
    t_match "enqueue $tpl for $user on $ch" '^[0-9]+$' "$id"
    echo "$user $tpl $ch $id $vars" >> ids.txt
done < cases.txt
t_ok "run --until-idle" chuda run --until-idle
t_eq "all sent" 8 "$(log_count sent)"

# the body the simulator received for a request whose body mentions ADDRESS, as bytes
sim_body() {    # sim_body PATH ADDRESS OUTFILE
    sim_ctl GET /_sim/requests | python3 -c '
import json, sys
path, addr, out = sys.argv[1:4]
bodies = [r["body"] for r in json.load(sys.stdin) if r["path"] == path and addr in r["body"]]
open(out, "wb").write(bodies[-1].encode("utf-8") if bodies else b"")' "$1" "$2" "$3"
}

while read -r user tpl ch id vars; do
    set --
    for kv in $vars; do set -- "$@" --var "$kv"; done
    chuda preview --template "$tpl" --user "$user" --channel "$ch" --message-id "$id" --body \
        "$@" > "preview.$id" 2>"preview.$id.err"
    rc=$?
    case $ch in
        mp_subscribe) path=/cgi-bin/message/subscribe/send addr=$(grep "^$user," users.csv | cut -d, -f5) ;;
        oa_template) path=/cgi-bin/message/template/send addr=$(grep "^$user," users.csv | cut -d, -f6) ;;
        sms) path=/ addr=$(grep "^$user," users.csv | cut -d, -f7) ;;
        wecom) path=/cgi-bin/message/send addr=$(grep "^$user," users.csv | cut -d, -f8) ;;
        wecom_customer) path=/cgi-bin/externalcontact/add_msg_template addr=$(grep "^$user," users.csv | cut -d, -f9) ;;
        wecom_robot) path=/cgi-bin/webhook/send addr=已补货 ;;
    esac
    case $ch in wecom_robot) ;; *) addr="\"$addr\"" ;; esac
    sim_body "$path" "$addr" "sim.$id"
    t_eq "preview of $tpl on $ch exits 0" 0 "$rc"
    t_ok "sim received a $ch request for $user" test -s "sim.$id"
    t_ok "$tpl on $ch: preview body = received body, byte for byte" cmp "preview.$id" "sim.$id"
done < ids.txt

# --- Aliyun SMS: the same message through the other provider (its own database) -----------
sed -e 's/^provider = tencent$/provider = aliyun/' -e 's/^secret_id = AKIDpreviewtest$/secret_id = LTAIpreviewtest/' \
    -e 's/^secret_env = CHUDA_TEST_TC_SECRET$/secret_env = CHUDA_TEST_ALI_SECRET/' \
    -e '/^sdk_app_id = /d' -e 's/^db = chuda.db$/db = ali.db/' chuda.conf > ali.conf
ali() { "$CHUDA" -c ali.conf "$@"; }
ali init >/dev/null && ali users import users.csv >/dev/null
set -- --var order_no=SO20261123000125 --var product=羊绒围巾 --var carrier=顺丰速运 --var tracking_no=SF1234567890124
aid=$(ali enqueue --user p3 --template order_shipped --channel sms "$@")
t_ok "aliyun: run --until-idle" ali run --until-idle
t_match "aliyun: sent" 'state +sent' "$(ali show "$aid")"
ali preview --template order_shipped --user p3 --channel sms --message-id "$aid" --body "$@" > preview.ali
t_eq "aliyun preview exits 0" 0 "$?"
sim_body / "PhoneNumbers=13800000103" sim.ali
t_eq "aliyun: preview = received form, field by field, but Timestamp, SignatureNonce, Signature" ok "$(python3 -c '
import sys, urllib.parse
fresh = {"Timestamp", "SignatureNonce", "Signature"}
p, r = (urllib.parse.parse_qsl(open(f, encoding="utf-8").read(), keep_blank_values=True) for f in sys.argv[1:3])
if not r: sys.exit("the simulator got no Aliyun request")
for name, pairs in (("preview", p), ("received", r)):
    missing = fresh - {k for k, v in pairs if v}
    if missing: sys.exit(name + " lacks " + ", ".join(sorted(missing)))
p = [kv for kv in p if kv[0] not in fresh]; r = [kv for kv in r if kv[0] not in fresh]
print("ok" if p == r else "differ:\n preview  %s\n received %s" % (p, r))' preview.ali sim.ali)"
out=$(ali preview --template order_shipped --user p3 --channel sms "$@")
t_match "aliyun verdicts name Aliyun's parameters" '✓ param.product +4/12 characters +羊绒围巾' "$out"
t_eq "aliyun verdicts list no Tencent params" 0 "$(printf '%s\n' "$out" | grep -c -e '✓ param [0-9]' -e 'template_id.tencent')"
out=$(chuda preview --template order_shipped --user p3 --channel sms "$@")
t_match "tencent verdicts name Tencent's parameters" '✓ param 1 +4/12 characters +羊绒围巾' "$out"
t_eq "tencent verdicts list no Aliyun param.NAME" 0 "$(printf '%s\n' "$out" | grep -c '✓ param\.')"

t_eq "the robot's key is in no preview" 0 "$(chuda preview --template group_note --user p2 --var product=x --var at=0 | grep -c robot-key-preview)"

# --- the full listing ------------------------------------------------------------------
out=$(chuda preview --template cart_abandoned --tier high_value --var product=羊绒围巾)
t_match "header" '^template cart_abandoned \(lifecycle\) · tier high_value' "$out"
t_match "mp_subscribe request line" 'POST /cgi-bin/message/subscribe/send\?access_token=PREVIEW_TOKEN' "$out"
t_match "sms request line" '== sms' "$out"
t_match "verdict with length and limit" '✓ data.thing3 +16/20 characters +会员专享包邮，今天下单最快明天到' "$out"
t_match "sms parameter verdict" '✓ param 1 +4/12 characters +羊绒围巾' "$out"
t_eq "no secret in the preview" 0 "$(printf '%s' "$out" | grep -c -e "$CHUDA_TEST_MP_SECRET" -e "$CHUDA_TEST_TC_SECRET")"

out=$(chuda preview --template cart_abandoned --tier dormant --var product=这是一个非常非常非常非常长的商品名称超过二十个字)
rc=$?
t_eq "a broken field rule exits 1" 1 "$rc"
t_match "the reason names field, length and limit" '✗ data.thing1 +24/20 characters' "$out"
t_match "the reason line" '\[mp_subscribe\] data.thing1: 24 characters, limit 20' "$out"
t_match "trunc keeps the sms parameter in its limit" '✓ param 1 +12/12 characters +这是一个非常非常非常非…' "$out"

# the user's variant and holdout, computed here as README says: the first 8 bytes of
# SHA-256 over (prefix NUL template NUL user), modulo the total weight (a, b: 50 each) or
# 10000 (holdout 5% = 500)
ab() {      # ab TEMPLATE USER: "VARIANT HELD|kept"
    python3 -c '
import hashlib, sys
t, u = sys.argv[1:3]
h = lambda p: int.from_bytes(hashlib.sha256(b"%s\0%s\0%s" % (p.encode(), t.encode(), u.encode())).digest()[:8], "big")
print("ab"[h("variant") % 100 >= 50], "HELD" if h("holdout") % 10000 < 500 else "kept")' "$@"
}
for u in p3 p5; do
    set -- $(ab recall_30d $u)
    out=$(chuda preview --template recall_30d --user $u)
    t_match "preview shows $u's own variant ($1)" "· variant $1\$" "$(printf '%s\n' "$out" | head -1)"
    [ "$2" = HELD ] && want="$u IS held out" || want="$u is not held out"
    t_match "preview says whether $u is held out ($2)" "^holdout: 5.00% of users; $want" "$out"
    [ "$1" = b ] && title=这个月上了不少新品 || title=好久不见，想你了
    t_match "$u's mp_subscribe title is variant $1's" "\"thing1\":\{\"value\":\"$title\"\}" "$out"
done

# --- errors -----------------------------------------------------------------------------
t_fails "no --user or --tier" chuda preview --template cart_abandoned
t_fails "unknown tier" chuda preview --template cart_abandoned --tier vip
t_match "unknown tier named" "unknown tier" "$(chuda preview --template cart_abandoned --tier vip 2>&1)"
t_fails "unknown template" chuda preview --template nope --tier new
t_fails "--body needs --channel" chuda preview --template cart_abandoned --tier new --body
t_match "missing variable named" "missing variable 'product'" \
    "$(chuda preview --template cart_abandoned --tier new 2>&1)"
t_fails "unknown variant" chuda preview --template recall_30d --tier new --variant z
t_done
