#!/bin/sh
# sim_wechat_rules.sh — the simulator's WeChat rules in detail: token rotation and grace,
# classic-token quota, force_refresh limits, the keyword value table of providers.md 2.2,
# OA frequency limit, and configuration errors.  Usage: sh tests/integration/sim_wechat_rules.sh BUILD
. tests/lib.sh "$1"
cd "$T_WORK"

cat > sim.ini <<'EOF'
[wechat.wxshort]
secret = s
token_ttl = 4
force_refresh_daily = 1
force_refresh_gap = 0
[wechat.wxclassic]
secret = s
token_grace = 2
token_daily_quota = 3
[wechat.wxgap]
secret = s
[wechat.wxoa]
secret = s
per_openid_minute = 2
[wechat.wxexp]
secret = s
token_ttl = 2
EOF
sim_start "$T_WORK/sim.ini"

C="curl -sS --cacert $CA/ca.pem"
jget() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
post() { $C -H 'Content-Type: application/json' --data-binary "$2" "$SIM_URL$1"; }
stable() { post /cgi-bin/stable_token "{\"grant_type\":\"client_credential\",\"appid\":\"$1\",\"secret\":\"s\"${2:+,\"force_refresh\":$2}}"; }
send() { post "/cgi-bin/message/subscribe/send?access_token=$1" '{"touser":"o1","template_id":"T","data":{"thing1":{"value":"x"}}}' | jget 'd["errcode"]'; }

# --- stable_token: same token until half the (short) TTL is left, then a new one ---------
E=$(stable wxexp | jget 'd["access_token"]')
A=$(stable wxshort | jget 'd["access_token"]')
t_eq "stable token repeats" "$A" "$(stable wxshort | jget 'd["access_token"]')"
sleep 2.2
B=$(stable wxshort | jget 'd["access_token"]')
t_ok "stable token rotates near expiry" test "$A" != "$B"
t_eq "the new token works" 0 "$(send "$B")"
t_eq "force_refresh gives another token" 1 "$(stable wxshort true | jget 'int("access_token" in d)')"
t_eq "force_refresh over the daily limit is 45009" 45009 "$(stable wxshort true | jget 'd["errcode"]')"
stable wxgap true >/dev/null
t_eq "force_refresh within 30 s is 45011" 45011 "$(stable wxgap true | jget 'd["errcode"]')"

# --- classic token: every call rotates; the old one lives for the grace period -------------
tk() { $C "$SIM_URL/cgi-bin/token?grant_type=client_credential&appid=wxclassic&secret=s"; }
C1=$(tk | jget 'd["access_token"]')
C2=$(tk | jget 'd["access_token"]')
t_ok "classic token rotates on every call" test "$C1" != "$C2"
t_eq "the old one still works at once" 0 "$(send "$C1")"
sleep 2.1
t_eq "after the grace period it is 40001" 40001 "$(send "$C1")"
t_eq "the current one works" 0 "$(send "$C2")"
t_eq "classic token daily quota is 45009" 45009 "$(tk >/dev/null; tk | jget 'd["errcode"]')"
t_eq "a token past its expiry is 42001" 42001 "$(send "$E")"

# --- keyword values (providers.md 2.2) ----------------------------------------------------
T=$(stable wxgap | jget 'd["access_token"]')
kw() {  # kw KEY VALUE EXPECTED_ERRCODE
    body=$(python3 -c 'import json,sys; print(json.dumps({"touser":"o2","template_id":"T","data":{sys.argv[1]:{"value":sys.argv[2]}}}, ensure_ascii=False))' "$1" "$2")
    t_eq "$1 '$2' -> $3" "$3" "$(post "/cgi-bin/message/subscribe/send?access_token=$T" "$body" | jget 'd["errcode"]')"
}
kw number01 123.45 0
kw number01 12a 47003
kw number01 -1234567890123456789012345678901.2 0
kw number01 123456789012345678901234567890123 47003
kw letter2 abcXYZ 0
kw letter2 ab1 47003
kw symbol3 '!?%' 0
kw symbol3 a 47003
kw character_string13 ORD-2024_001 0
kw character_string13 订单号 47003
kw time4 15:01 0
kw time4 15:01:59 0
kw time4 '2019年10月1日 15:01' 0
kw time4 '2019-10-01 15:01 ~ 2019-10-01 16:00' 0
kw time4 25:00 47003
kw time4 tomorrow 47003
kw date5 2019年10月1日 0
kw date5 2018-01-01 0
kw date5 2018/01/01 0
kw date5 2018.01.01 0
kw date5 2018-01 0
kw date5 01-01 0
kw date5 '2018-01-01 08:30' 0
kw date5 2018-13-01 47003
kw amount6 ¥100.00 0
kw amount6 100元 0
kw amount6 '$5' 0
kw amount6 ¥12345678901 47003
kw phone_number7 +86-0766-66888866 0
kw phone_number7 1234567890123456789 47003
kw car_number8 粤A12345 0
kw car_number8 粤A1234学 0
kw car_number8 粤A12345678 47003
kw name9 张三 0
kw name9 'John Smith' 0
kw name9 张三1 47003
kw name9 一二三四五六七八九十一 47003
kw phrase10 配送中 0
kw phrase10 配送中ing 47003
kw phrase10 一二三四五六 47003
kw enum11 'anything at all' 0
kw thing12 '' 47003

# --- OA per-openid frequency ----------------------------------------------------------------
O=$(stable wxoa | jget 'd["access_token"]')
oa() { post "/cgi-bin/message/template/send?access_token=$O" '{"touser":"oF","template_id":"T","data":{}}' | jget 'd["errcode"]'; }
t_eq "OA per-openid frequency limit is 43117" "0 0 43117" "$(oa) $(oa) $(oa)"

# --- configuration errors (timeout: a config that loads would start a server) ---------------------------------------------------------------------
printf '[wechat.wx1]\nsecret = s\ncolour = blue\n' > bad.ini
timeout 5 "$SIM" --cert "$CA/sim.pem" --key "$CA/sim.key" --config bad.ini >bad.out 2>bad.err
t_eq "unknown key exits 2" 2 "$?"
t_eq "unknown key named with file:line" "chuda-sim: bad.ini:3: [wechat.wx1]: unknown key 'colour'" "$(cat bad.err)"
printf '[sim]\nbusy_rate = 2\n' > bad2.ini
timeout 5 "$SIM" --cert "$CA/sim.pem" --key "$CA/sim.key" --config bad2.ini 2>bad2.err
t_match "bad value named" "bad2.ini:2: busy_rate: expected a number from 0 to 1" "$(cat bad2.err)"
printf '[nope]\nx = 1\n' > bad3.ini
timeout 5 "$SIM" --cert "$CA/sim.pem" --key "$CA/sim.key" --config bad3.ini 2>bad3.err
t_match "unknown section named" "bad3.ini:2: unknown section \[nope\]" "$(cat bad3.err)"
t_match "--help" "usage: chuda-sim --cert FILE --key FILE" "$("$SIM" --help)"
t_done
