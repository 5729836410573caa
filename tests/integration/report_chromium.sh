# report_chromium.sh — the HTML report as an operator sees it: a real database (two
# campaigns, one with a hostile name, sent through the simulator over mp_subscribe and
# SMS, with opt-outs, a blacklisted number, a provider error and a retry) is reported by
# `chuda report --since ... --html FILE`, and the page is rendered by Debian's headless
# Chromium with every network request made impossible. The DOM must show what the log
# says (totals, sends by channel, suppressions by reason, provider error codes, each
# campaign's funnel by name, the hostile name as text), and the screenshot the charts in
# their colours. Needs the `chromium` package (and a CJK font such as
# fonts-wqy-microhei for the Chinese labels); without Chromium the test fails.
. tests/lib.sh "$1"

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
    echo "not ok - chromium is not installed"
    exit 1
fi
cd "$T_WORK"
chuda_setup "$(tc_sim_lines "blacklist = +8613900000009")" "[policy]
quiet_hours = none
[channel.mp_subscribe]
credits = off
[tier.potential]
channels = mp_subscribe, sms
[tier.churned]
channels = sms"
tc_channel
{
    echo user_id,tier,mp_openid,phone
    for i in 1 2 3 4 5 6 7 8; do echo "p$i,potential,oP${i}xxxxxxxxxxxxxxxxxxxxxxxxx,+861380000000$i"; done
    for i in 1 2 3 4 5 6 7 9; do echo "c$i,churned,,+861390000000$i"; done
} >users.csv
chuda users import users.csv >/dev/null
chuda optout add p8 >/dev/null
chuda optout add c7 --channel sms >/dev/null
printf 'user_id,product\np1,羊绒围巾\np2,帽子\np3,手套\np4,袜子\np5,毛衣\np6,外套\np7,靴子\np8,围巾\n' >a.csv
printf 'user_id\nc1\nc2\nc3\nc4\nc5\nc6\nc7\nc9\n' >b.csv
sim_ctl POST /_sim/fault '{"path":"/cgi-bin/message/subscribe/send","count":1,"match":"oP3","errcode":47003,"errmsg":"argument invalid!"}' >/dev/null
sim_ctl POST /_sim/fault '{"path":"tencent","count":1,"match":"+8613900000002","code":"InternalError"}' >/dev/null
HOSTILE="<script>alert('x')</script>清仓 & \"特卖\""
chuda campaign create --name "双11 会员召回" --template cart_abandoned --recipients a.csv >/dev/null
chuda campaign create --name "$HOSTILE" --template cart_abandoned --recipients b.csv --var product=清仓 >/dev/null
chuda run --until-idle 2>/dev/null
t_match "report written" "^report written to report.html" \
    "$(chuda report --since -1h --title '触达日报 · 测试' --html report.html)"

# what the log says, to compare the page with
stat() {    # stat EVENT [KEY=VALUE...]: a count from chuda stats --by channel,event,code
    chuda stats --by channel,event,code --format json | python3 -c '
import json, sys
n = 0
for r in map(json.loads, sys.stdin):
    if r["event"] == sys.argv[1] and all(r[k] == v for k, v in (a.split("=") for a in sys.argv[2:])):
        n += r["n"]
print(n)' "$@"
}
funnel() { chuda campaign show "$1" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["funnel"][sys.argv[1]])' "$2"; }
# messages queued: each campaign's (logged enqueued once for all, or once per message)
enqueued=$(( $(funnel 1 enqueued) + $(funnel 2 enqueued) ))
sent=$(stat sent) failed=$(stat failed) suppressed=$(stat suppressed)
mp=$(stat sent channel=mp_subscribe) sms=$(stat sent channel=sms)
t_eq "the scenario: 16 queued, 12 sent (6 + 6), 1 failed, 3 suppressed" "16 12 6 6 1 3" \
    "$enqueued $sent $mp $sms $failed $suppressed"

# Headless, sandbox-less (root in CI), and offline: a proxy that refuses and a resolver
# that finds nothing, so anything the page tried to fetch would be missing.
chromium_run() {
    timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$(mktemp -d "$T_WORK/profile.XXXXXX")" \
        --proxy-server=127.0.0.1:9 --host-resolver-rules="MAP * ~NOTFOUND" \
        --hide-scrollbars --window-size=1120,2100 "$@" "file://$T_WORK/report.html"
}

chromium_run --dump-dom >dom.html 2>chromium-dom.log
t_match "DOM: rendered the page" '</html>' "$(cat dom.html)"
dom=$(cat dom.html)
# one value out of the rendered DOM: a regular expression with one group
dom_get() {
    python3 -c 'import re, sys; m = re.search(sys.argv[1], open("dom.html").read(), re.S); print(m.group(1) if m else "-")' "$1"
}
t_match "DOM: title" '<h1 id="title">触达日报 · 测试</h1>' "$dom"
for k in enqueued sent failed suppressed; do
    eval "want=\$$k"
    t_eq "DOM: the $k card says what the log says" "$want" \
        "$(dom_get "id=\"total-$k\"><div class=\"k\">[^<]*</div><div class=\"v\">([^<]*)<")"
done
t_match "DOM: sends per hour, the total" "共 $sent 条 total" "$dom"
t_match "DOM: channel legend, mp_subscribe" "小程序订阅消息 mp_subscribe · $mp<" "$dom"
t_match "DOM: channel legend, sms" "短信 sms · $sms<" "$dom"
t_match "DOM: suppressions by reason, opt-out" "已退订 optout: $(stat suppressed code=optout)<" "$dom"
t_match "DOM: suppressions by reason, no channel" "无可用渠道 no_channel: $(stat suppressed code=no_channel)<" "$dom"
t_match "DOM: provider error 47003 with its meaning" '<code>47003</code></td><td class="m">模板参数不准确' "$dom"
t_match "DOM: the SMS blacklist refusal" '<code>FailedOperation.PhoneNumberInBlacklist</code></td><td class="m">号码在黑名单' "$dom"
t_match "DOM: the SMS retry" '<code>InternalError</code>' "$dom"
t_match "DOM: campaign 1 by name" '<h3>#1 双11 会员召回</h3>' "$dom"
t_match "DOM: hostile name shown as text" \
    "<h3>#2 &lt;script&gt;alert\('x'\)&lt;/script&gt;清仓 &amp; \"特卖\"</h3>" "$dom"
for c in 1 2; do
    t_eq "DOM: campaign $c funnel: queued and sent as campaign show says" \
        "$(funnel $c enqueued) $(funnel $c sent)" \
        "$(dom_get "id=\"campaign-$c\".*?排队 queued</text><rect[^>]*></rect><text[^>]*>([0-9]+)<") $(dom_get "id=\"campaign-$c\".*?已发送 sent</text><rect[^>]*></rect><text[^>]*>([0-9]+) ")"
done
t_eq "DOM: no script element" 0 "$(grep -c -i '<script' dom.html)"
t_eq "DOM: nothing to fetch (no src, no link)" 0 "$(grep -c -i -E ' src=|<link' dom.html)"
t_eq "DOM: five charts (sends, suppressions, errors, two funnels)" 5 \
    "$(grep -o '<svg' dom.html | wc -l | tr -d ' ')"

chromium_run --screenshot="$T_WORK/report.png" >chromium-shot.log 2>&1
t_ok "screenshot written" test -s report.png

# A tiny PNG decoder (zlib from the standard library): the page is not blank, and the
# charts' fill colours cover real areas (channel bars, error and suppression bars,
# funnels).
cat >pngcheck.py <<'PY'
import struct, sys, zlib

def decode(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, "unsupported PNG"
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw, stride = zlib.decompress(idat), w * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if f == 1: line[x] = (line[x] + a) & 255
            elif f == 2: line[x] = (line[x] + b) & 255
            elif f == 3: line[x] = (line[x] + ((a + b) >> 1)) & 255
            elif f == 4:
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line)); prev = line
    return w, h, bpp, rows

w, h, bpp, rows = decode(sys.argv[1])
counts = {}
for r in rows:
    for x in range(0, len(r), bpp):
        px = r[x:x + 3]
        counts[px] = counts.get(px, 0) + 1
total = w * h
light = sum(n for px, n in counts.items() if min(px) >= 0xf0)
def near(rgb, tol=6):
    t = bytes.fromhex(rgb)
    return sum(n for px, n in counts.items() if all(abs(px[i] - t[i]) <= tol for i in range(3)))
print("size %dx%d colours %d non-light %.1f%%" % (w, h, len(counts), 100.0 * (total - light) / total))
for name, rgb in [("mp_subscribe green", "59a14f"), ("sms orange", "f28e2b"),
                  ("queued blue", "4e79a7"), ("error red", "e15759"),
                  ("suppressed grey", "9aa5b1")]:
    print("%s %d" % (name, near(rgb)))
PY
stats=$(python3 pngcheck.py report.png 2>&1)
printf '%s\n' "$stats" | sed 's/^/    # /'
t_match "screenshot: full size" '^size 1120x2100 ' "$stats"
colours=$(printf '%s\n' "$stats" | sed -n 's/.* colours \([0-9]*\) .*/\1/p')
t_ok "screenshot: many colours (not blank)" test "${colours:-0}" -ge 200
nonlight=$(printf '%s\n' "$stats" | sed -n 's/.* non-light \([0-9]*\)\..*/\1/p')
t_ok "screenshot: ink on the page (>= 8% non-light)" test "${nonlight:-0}" -ge 8
for series in "mp_subscribe green" "sms orange" "queued blue" "error red" "suppressed grey"; do
    n=$(printf '%s\n' "$stats" | sed -n "s/^$series \([0-9]*\)$/\1/p")
    t_ok "screenshot: $series drawn (>= 1500 px)" test "${n:-0}" -ge 1500
done
[ -n "${CHUDA_REPORT_PNG:-}" ] && cp report.png "$CHUDA_REPORT_PNG"
t_done
