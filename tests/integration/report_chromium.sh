# report_chromium.sh — the HTML report as an operator sees it: the fixture page
# (written by test_report when CHUDA_REPORT_HTML is set) is rendered by Debian's headless
# Chromium with every network request made impossible; the DOM must show the title,
# the totals, the campaign names and the hostile name as text, and the screenshot must
# show the charts in their colours. Needs the `chromium` package (and a CJK font such as
# fonts-wqy-microhei for the Chinese labels); without Chromium the test fails.
. tests/lib.sh "$1"

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
    echo "not ok - chromium is not installed"
    exit 1
fi
REPORT_TEST="$TOP/$BUILD/tests/test_report"
if [ ! -x "$REPORT_TEST" ]; then
    echo "not ok - $REPORT_TEST is not built (make $BUILD/tests/test_report)"
    exit 1
fi

cd "$T_WORK"
t_ok "fixture page written" env CHUDA_REPORT_HTML="$T_WORK/report.html" "$REPORT_TEST"

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
t_match "DOM: title" '<h1 id="title">触达周报 · 双11 大促</h1>' "$dom"
t_match "DOM: period" '2026-11-23T00:00:00Z → 2026-11-25T00:00:00Z' "$dom"
t_match "DOM: enqueued total" 'id="total-enqueued".*>15,800<' "$dom"
t_match "DOM: delivered total and rate" '>12,070<.*送达率 90.5%' "$dom"
t_match "DOM: campaign 1 by name" '#1 双11 会员召回' "$dom"
t_match "DOM: campaign 3 by name" '#3 购物车提醒 cart_abandoned' "$dom"
t_match "DOM: hostile name shown as text" \
    "#2 &lt;script&gt;alert\('x'\)&lt;/script&gt;清仓 &amp; \"特卖\"" "$dom"
t_eq "DOM: no script element" 0 "$(grep -c -i '<script' dom.html)"
t_eq "DOM: six charts" 6 "$(grep -o '<svg' dom.html | wc -l | tr -d ' ')"
t_match "DOM: channel legend" '小程序订阅消息 mp_subscribe · 4,449' "$dom"
t_match "DOM: suppression reasons summed" '频次上限 cap: 900' "$dom"
t_match "DOM: error table" '<code>43101</code></td><td class="m">用户未订阅' "$dom"

chromium_run --screenshot="$T_WORK/report.png" >chromium-shot.log 2>&1
t_ok "screenshot written" test -s report.png

# A tiny PNG decoder (zlib from the standard library): the page is not blank, and the
# charts' fill colours cover real areas (series bars, error bars, funnels).
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
                  ("oa_template blue", "4e79a7"), ("wecom teal", "76b7b2"),
                  ("error red", "e15759"), ("suppressed grey", "9aa5b1")]:
    print("%s %d" % (name, near(rgb)))
PY
stats=$(python3 pngcheck.py report.png 2>&1)
printf '%s\n' "$stats" | sed 's/^/    # /'
t_match "screenshot: full size" '^size 1120x2100 ' "$stats"
colours=$(printf '%s\n' "$stats" | sed -n 's/.* colours \([0-9]*\) .*/\1/p')
t_ok "screenshot: many colours (not blank)" test "${colours:-0}" -ge 200
nonlight=$(printf '%s\n' "$stats" | sed -n 's/.* non-light \([0-9]*\)\..*/\1/p')
t_ok "screenshot: ink on the page (>= 8% non-light)" test "${nonlight:-0}" -ge 8
for series in "mp_subscribe green" "sms orange" "oa_template blue" "wecom teal" \
              "error red" "suppressed grey"; do
    n=$(printf '%s\n' "$stats" | sed -n "s/^$series \([0-9]*\)$/\1/p")
    t_ok "screenshot: $series drawn (>= 1500 px)" test "${n:-0}" -ge 1500
done
[ -n "${CHUDA_REPORT_PNG:-}" ] && cp report.png "$CHUDA_REPORT_PNG"
t_done
