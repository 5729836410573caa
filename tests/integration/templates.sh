# templates.sh — the shipped templates (templates/*.ini, as installed) preview clean:
# every template × every tier × every channel it has a section for (SMS over Tencent
# and over Aliyun), and every segment and A/B variant it mentions, exit 0 from
# `chuda preview`; and no tier, segment or variant override repeats the value it
# overrides (a copy that says nothing new).
. tests/lib.sh "$1"
cd "$T_WORK"
cat > tencent.conf <<EOF
[chuda]
templates = $TOP/templates
default_tz = Asia/Shanghai
EOF
cp tencent.conf aliyun.conf
printf '[channel.sms]\nprovider = aliyun\nsecret_id = LTAIpreview\nsecret_env = NOT_SET\nsign_name = 好物小铺\n' >> aliyun.conf
# a value for every variable a shipped template takes (the product name fits 20
# characters: cart_abandoned shows it whole, as its comment says)
set -- --var product=iPhone15手机壳超薄磨砂防摔款 --var suggestion=钢化膜两片装 \
    --var expires=2026-11-24T12:00:00+08:00 --var day=2026-11-28T00:00:00+08:00 \
    --var order_no=SO20261123000123 --var carrier=顺丰速运 --var tracking_no=SF1234567890123 \
    --var shipped_at=2026-11-23T09:30:00+08:00 --var coupon=1990 --var points=100 --var name=欧阳娜娜
VARS="$*"
tiers="high_value potential new dormant churned"
n=0
for f in "$TOP"/templates/*.ini; do
    t=$(basename "$f" .ini)
    chans=$(sed -n 's/^\[\(mp_subscribe\|oa_template\|sms\|wecom\|wecom_customer\|wecom_robot\)\].*/\1/p' "$f")
    segs=$(sed -n 's/^\[[a-z_]*\.segment\.\([a-z_0-9]*\)\].*/\1/p' "$f" | sort -u)
    vars=$(sed -n 's/^\[variant\.\([a-z_0-9]*\)\].*/\1/p' "$f" | sort -u)
    for tier in $tiers; do
        bad=""
        for ch in $chans; do
            for conf in tencent aliyun; do
                [ $conf = aliyun ] && [ $ch != sms ] && continue
                n=$((n + 1))
                "$CHUDA" -c $conf.conf preview --template "$t" --tier $tier --channel $ch $VARS \
                    >out.txt 2>&1 || bad="$bad $ch($conf): $(grep -m1 -e '✗' -e 'chuda:' -e '^      ' out.txt)"
            done
        done
        t_eq "$t, tier $tier: every channel ($(echo $chans)) previews clean" "" "$bad"
    done
    for seg in $segs; do
        t_ok "$t, segment $seg previews clean" "$CHUDA" -c tencent.conf preview --template "$t" --tier potential --segment $seg $VARS
        n=$((n + 1))
    done
    for v in $vars; do
        for tier in $tiers; do
            n=$((n + 1))
            "$CHUDA" -c tencent.conf preview --template "$t" --tier $tier --variant $v $VARS >out.txt 2>&1 ||
                { echo "not ok - $t, variant $v, tier $tier"; sed 's/^/    # /' out.txt | grep -e '✗' -e 'chuda:' | head -3; T_FAILED=$((T_FAILED + 1)); }
        done
        echo "ok - $t: variant $v previewed for every tier"
    done
done
echo "# $n previews"
t_ok "at least 12 templates × 5 tiers × 4 channels were previewed ($n)" test $n -ge 240

# no override that repeats what it overrides
t_eq "no override repeats the value it overrides" "" "$(python3 - "$TOP"/templates/*.ini <<'EOF'
import re, sys
for f in sys.argv[1:]:
    secs, cur = {}, None
    for line in open(f, encoding="utf-8"):
        l = line.strip()
        if not l or l[0] in ";#":
            continue
        m = re.match(r"\[([^\]]+)\]", l)
        if m:
            cur = m.group(1)
            secs.setdefault(cur, {})
            continue
        k, _, v = l.partition("=")
        secs[cur][k.strip()] = v.strip()
    for s, kv in secs.items():
        parts = s.split(".")
        if parts[0] == "variant":
            base = secs.get("copy" if len(parts) == 2 else parts[2], {})
        elif len(parts) == 3 and parts[1] in ("tier", "segment"):
            base = secs.get(parts[0], {})
        else:
            continue
        for k, v in kv.items():
            if k != "weight" and base.get(k) == v:
                print("%s [%s] %s = %s repeats the default" % (f.rsplit("/", 1)[1], s, k, v))
EOF
)"
t_done
