# campaign.sh — an operator's campaigns end to end: a bad recipients file aborts with
# FILE:LINE and leaves the database byte-for-byte as it was; a campaign from a CSV file
# with per-recipient variables and --spread; a campaign from a segment; pause (nothing
# sent by `chuda run`) and resume; cancel (logged, nothing sent); list; and `show`'s
# funnel matching what the simulator received.
. tests/lib.sh "$1"
cd "$T_WORK"
chuda_setup "" "[policy]
quiet_hours = none
[channel.mp_subscribe]
credits = off"
SEND=/cgi-bin/message/subscribe/send

cat > users.csv <<'CSV'
user_id,tier,mp_openid,city
c1,potential,oC1xxxxxxxxxxxxxxxxxxxxxxxxx,上海
c2,potential,oC2xxxxxxxxxxxxxxxxxxxxxxxxx,上海
c3,potential,oC3xxxxxxxxxxxxxxxxxxxxxxxxx,上海
c4,potential,oC4xxxxxxxxxxxxxxxxxxxxxxxxx,北京
c5,potential,oC5xxxxxxxxxxxxxxxxxxxxxxxxx,北京
c6,potential,oC6xxxxxxxxxxxxxxxxxxxxxxxxx,
d1,dormant,oD1xxxxxxxxxxxxxxxxxxxxxxxxx,上海
n1,new,oN1xxxxxxxxxxxxxxxxxxxxxxxxx,杭州
CSV
chuda users import users.csv >/dev/null

dbsum() { sqlite3 chuda.db .dump | md5sum; }
sent_to() {     # sent_to OPENID_PREFIX...: how many requests the simulator got for them
    sim_requests $SEND | python3 -c '
import json, sys
pre = sys.argv[1:]
print(sum(1 for l in sys.stdin if any(json.loads(json.loads(l)["body"])["touser"].startswith(p) for p in pre)))' "$@"
}
funnel() {      # funnel ID KEY[.KEY]: a number from `campaign show --format json`
    chuda campaign show "$1" --format json | python3 -c '
import json, sys
o = json.load(sys.stdin)["funnel"]
for k in sys.argv[1].split("."):
    o = o.get(k, 0) if isinstance(o, dict) else 0
print(o)' "$2"
}

# --- a bad row aborts everything, nothing written ---------------------------------------
before=$(dbsum)
printf 'user_id,product\nc1,围巾\nc2,帽子\nzz,手套\nc3,袜子\n' > bad.csv
chuda campaign create --name bad --template cart_abandoned --recipients bad.csv 2>err.txt
t_eq "unknown user: exit 1" 1 $?
t_eq "unknown user: FILE:LINE" "chuda: bad.csv:4: user: no user 'zz' (import it with \`chuda users import\`)" "$(cat err.txt)"
printf 'user_id,product\nc1,围巾\nc2,帽子\nc1,手套\n' > dup.csv
chuda campaign create --name bad --template cart_abandoned --recipients dup.csv 2>err.txt
t_eq "duplicate user named with both lines" "chuda: dup.csv:4: user_id 'c1' already on line 2" "$(cat err.txt)"
printf 'user_id,product\nc1,围巾\nc2,\377\n' > utf.csv
chuda campaign create --name bad --template cart_abandoned --recipients utf.csv 2>err.txt
t_eq "invalid UTF-8 named" "chuda: utf.csv:3: product: invalid UTF-8 at byte 1" "$(cat err.txt)"
printf 'user_id,product\nc1,围巾\nc2,a,b\n' > cols.csv
chuda campaign create --name bad --template cart_abandoned --recipients cols.csv 2>err.txt
t_eq "wrong column count named" "chuda: cols.csv:3: 3 fields, the header has 2" "$(cat err.txt)"
printf 'user_id\nc1\nc2\n' > novar.csv
chuda campaign create --name bad --template cart_abandoned --recipients novar.csv 2>err.txt
t_match "missing variable named with FILE:LINE" "^chuda: novar.csv:2: .*missing variable 'product'" "$(cat err.txt)"
t_eq "database unchanged after every refusal" "$before" "$(dbsum)"
t_eq "no campaign written" "no campaigns" "$(chuda campaign list)"

# --- a bad segment is refused naming the position ----------------------------------------
chuda campaign create --name bad --template cart_abandoned --segment 'tier=potential and city>上海' --var product=x 2>err.txt
t_eq "segment syntax error names the position" "chuda: segment: position 24: expected '=' or '!=' after 'city', found '>'" "$(cat err.txt)"
chuda campaign create --name bad --template cart_abandoned --segment 'tier=vip' --var product=x 2>err.txt
t_match "unknown tier refused" "unknown tier 'vip'" "$(cat err.txt)"
t_fails "no recipients at all is a usage error" chuda campaign create --name x --template cart_abandoned
t_eq "database still unchanged" "$before" "$(dbsum)"

# --- campaign 1: from a CSV file, per-recipient variables, spread -------------------------
printf 'user_id,product\nc1,羊绒围巾\nc2,\n"c3","帽子"\nd1,手套\n' > spring.csv
out=$(chuda campaign create --name 春季 --template cart_abandoned --recipients spring.csv --var product=默认 --spread 2s 2>stderr.txt)
t_match "create prints the id and the count" "^campaign 1: 4 messages queued, due .* to " "$out"
t_eq "no progress bar when stderr is not a terminal" "" "$(cat stderr.txt)"
t_eq "due times spread evenly (ms after the first)" "0 500 1000 1500" "$(sqlite3 chuda.db \
    "select group_concat(q.due_at - (select min(due_at) from queue), ' ') from (select q.due_at from queue q join msg m on m.id=q.id where m.campaign_id=1 order by m.id) q")"
t_eq "one audit row for the campaign's enqueue, naming its messages" "1|4 messages|messages=1-4" \
    "$(chuda log --campaign 1 --event enqueued --format json | python3 -c '
import json, re, sys
rows = [json.loads(l) for l in sys.stdin]
print("%d|%s|%s" % (len(rows), re.search(r"\d+ messages", rows[0]["reason"]).group(0), rows[0]["detail"]))')"
t_eq "a column overrides --var, an empty cell keeps it" '{"product":"羊绒围巾"}|{"product":"默认"}|{"product":"帽子"}' \
    "$(sqlite3 chuda.db "select group_concat(vars, '|') from (select vars from msg where campaign_id=1 and user_id like 'c%' order by id)")"
sleep 2
chuda run --until-idle 2>/dev/null
t_eq "the simulator got the three potential users" 3 "$(sent_to oC1 oC2 oC3)"
t_eq "the dormant user was suppressed (no mp channel for dormant)" "suppressed" \
    "$(chuda log --format json --campaign 1 --user d1 | python3 -c 'import json,sys; print(json.loads(sys.stdin.readlines()[-1])["event"])')"
body=$(sim_requests $SEND | python3 -c '
import json, sys
for l in sys.stdin:
    b = json.loads(json.loads(l)["body"])
    if b["touser"].startswith("oC2"): print(b["data"]["thing1"]["value"])')
t_eq "the variable reached the provider" "默认" "$body"
t_eq "show: sent = what the simulator received" 3 "$(funnel 1 sent)"
t_eq "show: suppressed by reason" 1 "$(funnel 1 suppressed.by_reason.no_channel)"
t_eq "show: nothing left queued" 0 "$(funnel 1 queued)"
t_match "show as text" "sent +3" "$(chuda campaign show 1)"
t_match "show names the reason" "no_channel +1" "$(chuda campaign show 1)"

# --- campaign 2: from a segment; pause, run (nothing sent), resume, run --------------------
out=$(chuda campaign create --name seg --template cart_abandoned --segment 'city=上海 or tier=new' --var product=围巾)
t_match "segment campaign" "^campaign 2: 5 messages queued" "$out"
t_eq "segment recipients" "c1 c2 c3 d1 n1" "$(sqlite3 chuda.db "select group_concat(user_id, ' ') from (select user_id from msg where campaign_id=2 order by id)")"
m2=$(sqlite3 chuda.db "select min(id) from msg where campaign_id=2")
due2=$(chuda show $m2 | sed -n 's/^  due *//p')
t_eq "pause holds all five" "campaign 2 paused: 5 queued messages held" "$(chuda campaign pause 2)"
n_before=$(sim_requests $SEND | wc -l)
chuda run --until-idle 2>/dev/null
t_eq "paused: run sends nothing" "$n_before" "$(sim_requests $SEND | wc -l)"
t_eq "paused: nothing claimed, nothing logged" 0 "$(chuda log --format json --campaign 2 | grep -vc '"enqueued"')"
t_eq "show: held by pause" 5 "$(funnel 2 held)"
t_eq "a held message: chuda show says held, due when it was due" "held|$due2" \
    "$(chuda show $m2 | sed -n 's/^  state *//p')|$(chuda show $m2 | sed -n 's/^  due *//p')"
t_match "list shows the state" "2 +paused +5 " "$(chuda campaign list)"
t_eq "resume releases them" "campaign 2 resumed: 5 messages released" "$(chuda campaign resume 2)"
chuda run --until-idle 2>/dev/null
t_eq "resumed: sent to the four with a channel" 4 "$(( $(sim_requests $SEND | wc -l) - n_before ))"
t_eq "show: sent = the simulator's count" 4 "$(funnel 2 sent)"
t_eq "show: held is back to 0" 0 "$(funnel 2 held)"

# --- campaign 3: cancel ------------------------------------------------------------------
chuda campaign create --name later --template cart_abandoned --segment 'tier=potential' --var product=围巾 --at +1h >/dev/null
t_eq "no campaign:ID:USER key to cancel by (the help promised one)" "0 cancelled" "$(chuda cancel --key campaign:3:c4)"
t_match "the help says how one user's campaign message is cancelled" "no key: one user's is cancelled with.chuda cancel --user USER --tag campaign:ID" \
    "$(chuda campaign --help | tr '\n' ' ')"
t_eq "one user's campaign message: cancel --user --tag campaign:ID" "1 cancelled" "$(chuda cancel --user c4 --tag campaign:3)"
t_eq "... only that user's" "c4" "$(chuda log --format json --campaign 3 --event cancelled | python3 -c 'import json,sys; print(" ".join(json.loads(l)["user_id"] for l in sys.stdin))')"
t_eq "cancel" "campaign 3 cancelled: 5 queued messages cancelled" "$(chuda campaign cancel 3)"
t_eq "each cancel is logged" 6 "$(chuda log --format json --campaign 3 --event cancelled | wc -l)"
t_eq "show: cancelled" 6 "$(funnel 3 cancelled)"
t_eq "nothing of it left in the queue" 0 "$(funnel 3 queued)"
t_fails "a cancelled campaign cannot resume" chuda campaign resume 3
t_match "list" "3 +cancelled +6 " "$(chuda campaign list)"
t_fails "show of an unknown campaign" chuda campaign show 99
# --- campaign 4: pause and cancel reach what `chuda run` claimed but has not sent --------
# one request a second: the run claims all six at once and sends them one by one; a pause
# after the first holds the ones still waiting for the rate, a cancel removes one
sed 's/^credits = off$/credits = off\nrate = 1\nburst = 1/' chuda.conf > rate.conf
n0=$(sim_requests $SEND | wc -l)
chuda campaign create --name slow --template cart_abandoned --segment 'tier=potential' --var product=围巾 >/dev/null
sent4() { [ "$(chuda log --format json --campaign 4 --event sent | wc -l)" -ge "$1" ]; }
run_bg rate.conf slow.log
wait_for 10 sent4 1
chuda campaign pause 4 >/dev/null
c4=$(sqlite3 chuda.db "select user_id from msg m join queue q on q.id=m.id where m.campaign_id=4 and q.inflight is null order by m.id desc limit 1")
t_eq "a claimed one is cancelled too" "1 cancelled" "$(chuda cancel --user "$c4" --tag campaign:4)"
sleep 3
held=$(funnel 4 held)
t_eq "paused mid-run: only what was under way was sent" 6 "$(( $(funnel 4 sent) + held + 1 ))"
t_eq "... nothing more reached the simulator" "$(funnel 4 sent)" "$(( $(sim_requests $SEND | wc -l) - n0 ))"
chuda campaign resume 4 >/dev/null
wait_for 20 sent4 5
t_eq "resumed: the held ones go, the cancelled one never" "5 1" "$(funnel 4 sent) $(funnel 4 cancelled)"
t_eq "each recipient once" 5 "$(( $(sim_requests $SEND | wc -l) - n0 ))"
kill $RUN; wait $RUN
t_match "the run says what was taken from it" "cancelled or held \(campaign pause\) while they waited" "$(cat slow.log)"
t_ok "the audit chain is intact" chuda log verify
t_done
