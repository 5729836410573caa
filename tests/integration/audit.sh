# audit.sh — what an auditor relies on: phone numbers and openids are masked wherever
# they appear (target, user id, reason, detail) in table, CSV and JSON; bad input to
# `chuda log` and `chuda stats` is refused naming it; the database refuses UPDATE and
# DELETE on the log, its anchor and its head; `chuda log verify` catches a tampered
# database behind chuda's back (an edit, removed rows, the tail, everything, an
# inserted row, a forged anchor, edited counts, a rewritten chain against a pinned head)
# and names the row; `chuda log archive` refuses a broken log and an existing file,
# and `verify --archive` proves the chain across archive files.
. tests/lib.sh "$1"
cd "$T_WORK"
chuda_setup "$(tc_sim_lines "blacklist = +8613900003333")" "[policy]
quiet_hours = none
[channel.mp_subscribe]
credits = off"
tc_channel
cat > users.csv <<'CSV'
user_id,tier,mp_openid,phone
a1,high_value,oAUDIT1xxxxxxxxxxxxxxxxxxxxx,+8613800001111
a2,potential,oAUDIT2xxxxxxxxxxxxxxxxxxxxx,
13900002222,churned,,+8613900002222
b3,churned,,+8613900003333
CSV
chuda users import users.csv >/dev/null
for n in 1 2 3; do chuda enqueue --user a1 --template cart_abandoned --var product=P$n >/dev/null; done
chuda enqueue --user a2 --template cart_abandoned --var product=Q >/dev/null
sms=$(chuda enqueue --user 13900002222 --template cart_abandoned --var product=S --tag call:13900004444)
chuda enqueue --user b3 --template cart_abandoned --var product=B >/dev/null
chuda run --until-idle 2>/dev/null
# a reason that names a phone number: a cancel by user and tag
later=$(chuda enqueue --user 13900002222 --template cart_abandoned --var product=L \
    --var callback=13900005555 --tag call:13900004444 --key cart_13900006666 --at +1h)
chuda cancel --user 13900002222 --tag call:13900004444 >/dev/null
PY="env PYTHONPATH=$TOP/tools python3"

# --- masking: every format, every field ---
t_match "table shows the openid masked" "oAUD\*\*\*\*xxxx" "$(chuda log --event sent)"
all=$(for f in table csv json; do chuda log --format $f; done)
for secret in oAUDIT1xxxxxxxxxxxxxxxxxxxxx 13900002222 13900004444 13900003333 13800001111; do
    t_eq "no $secret in table, csv or json" 0 "$(printf '%s\n' "$all" | grep -c "$secret")"
done
t_eq "sms row in json: phone user id, target and tag detail masked" \
    '139****2222 +86139****2222 call:139****4444' \
    "$(chuda log --format json --message "$sms" | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
sent = [r for r in rows if r["event"] == "sent"][0]
enq = [r for r in rows if r["event"] == "enqueued"][0]
print(sent["user_id"], sent["target"], enq["detail"])')"
t_match "sms row in csv" "^[0-9]+,[^,]+,$sms,139\*\*\*\*2222,,sent,sms,\+86139\*\*\*\*2222," \
    "$(chuda log --format csv --message "$sms")"
t_match "sms row in the table" " 139\*\*\*\*2222 +sent +sms +\+86139\*\*\*\*2222 " \
    "$(chuda log --message "$sms")"
t_match "csv detail masked" ",call:139\*\*\*\*4444$" "$(chuda log --format csv --message "$sms" --event enqueued)"
t_fails "--unmasked needs the config's consent" chuda log --unmasked
# chuda show masks as the log does: the message's user id, tag, variables and the
# history's reasons; its key whole
show=$(chuda show "$sms"; chuda show "$later")
for secret in 13900002222 13900004444 13900005555 13900006666; do
    t_eq "show: no $secret" 0 "$(printf '%s\n' "$show" | grep -c "$secret")"
done
t_match "show: the key masked whole" "^  key +cart\*\*\*\*6666$" "$show"
t_match "show: a variable masked" '"callback": ?"139\*\*\*\*5555"' "$show"
t_match "show: the user id masked" "^  user +139\*\*\*\*2222$" "$show"
t_match "show: the tag masked" "^  tag +call:139\*\*\*\*4444$" "$show"
t_match "show: the cancel's reason masked" \
    " cancelled .* cancelled by user 139\*\*\*\*2222 tag call:139\*\*\*\*4444$" "$show"
t_fails_with "show --unmasked needs the config's consent" "is not allowed by this config" \
    chuda show "$later" --unmasked
printf '[chuda]\nallow_unmasked = yes\n' >>chuda.conf
t_match "--unmasked when allowed" "oAUDIT1xxxxxxxxxxxxxxxxxxxxx" "$(chuda log --unmasked --event sent)"
t_match "--unmasked shows the phone" "13900002222,,sent,sms,\+8613900002222," \
    "$(chuda log --unmasked --format csv --message "$sms")"
unmasked=$(chuda show --unmasked "$later")
t_match "show --unmasked when allowed: the reason" \
    " cancelled by user 13900002222 tag call:13900004444$" "$unmasked"
t_match "show --unmasked: the user" "^  user +13900002222$" "$unmasked"
t_match "show --unmasked: the key" "^  key +cart_13900006666$" "$unmasked"
t_fails_with "show: an unknown id is named" "no message 99999$" chuda show --unmasked 99999

# --- formats and filters ---
t_eq "csv header" "seq,at,message_id,user_id,campaign_id,event,channel,target,code,reason,detail" \
    "$(chuda log --format csv | head -1)"
t_eq "csv rows = json rows" "$(chuda log --format json | wc -l)" "$(( $(chuda log --format csv | wc -l) - 1 ))"
t_eq "filter by user and event" 3 "$(chuda log --format json --user a1 --event sent | wc -l)"
t_eq "filter by channel" 1 "$(chuda log --format json --channel sms --event sent | wc -l)"
t_eq "--limit" 2 "$(chuda log --format json --limit 2 | wc -l)"
t_eq "--since the future: nothing" 0 "$(chuda log --format json --since +1h | wc -l)"
t_eq "--until the past: nothing" 0 "$(chuda log --format json --until -1h | wc -l)"
t_eq "--since/--until around now: everything" "$(chuda log --format json | wc -l)" \
    "$(chuda log --format json --since -1h --until +1h | wc -l)"

# --- bad input: one line naming it, exit 2, nothing printed on stdout ---
bad() {     # bad NAME PATTERN CMD...: exit 2, stderr matches, stdout empty
    name=$1 pat=$2; shift 2
    "$@" >bad.out 2>bad.err; rc=$?
    t_eq "$name: exit 2" 2 "$rc"
    t_match "$name: says why" "$pat" "$(cat bad.err)"
    t_eq "$name: nothing on stdout" "" "$(cat bad.out)"
}
bad "log --format xml" "--format 'xml': expected table, csv or json" chuda log --format xml
bad "stats --format xml" "--format 'xml': expected table, csv or json" chuda stats --format xml
bad "log --since garbage" "--since: " chuda log --since yesterday-ish
bad "log --until garbage" "--until: " chuda log --until 2026-13-45
bad "stats --since garbage" "--since: " chuda stats --since soon
bad "log --campaign x" "--campaign 'x': expected a positive integer" chuda log --campaign x
bad "log --message 0" "--message '0': expected a positive integer" chuda log --message 0
bad "log --limit -1" "--limit '-1': expected a positive integer" chuda log --limit -1
bad "stats --campaign 2x" "--campaign '2x': expected a positive integer" chuda stats --campaign 2x
bad "stats --by colour" "--by colour: not one of" chuda stats --by colour
bad "archive without --before" "archive needs --before TIME and a FILE" chuda log archive x.jsonl.gz
bad "archive --before garbage" "--before: " chuda log archive --before someday x.jsonl.gz
bad "verify --head garbage" "--head 'x:y': expected SEQ:HASH" chuda log verify --head x:y
t_ok "nothing was archived by the bad calls" test ! -e x.jsonl.gz

# --- stats from the aggregates ---
t_match "stats by event" "sent +5" "$(chuda stats)"
t_match "stats by tier,event as csv" "high_value,sent,3" "$(chuda stats --by tier,event --format csv)"
t_match "stats json" '"channel":"mp_subscribe","n":4' "$(chuda stats --by channel --format json)"
# the hour and day of the first row, not of the clock now (a run that crosses an hour)
first=$(chuda log --format json | head -1 | python3 -c 'import json, sys; print(json.load(sys.stdin)["at"])')
hour=$(echo "$first" | cut -c1-13):00Z day=$(echo "$first" | cut -c1-10)
t_match "stats --by hour,day" "^$hour,$day,[0-9]+$" "$(chuda stats --by hour,day --format csv | sed -n 2p)"
t_eq "stats --since the future: only the header" "event,n" "$(chuda stats --since +2h --format csv)"
t_eq "stats --since an hour ago: all" "$(chuda stats --format csv)" "$(chuda stats --since -1h --format csv)"
printf 'user_id\na1\na2\n' >camp.csv
camp=$(chuda campaign create --name 审计 --template cart_abandoned --recipients camp.csv --var product=C | sed -n 's/^campaign \([0-9]*\).*/\1/p')
chuda run --until-idle 2>/dev/null
# (a campaign is logged enqueued once for all its messages, or once per message)
cstats=$(chuda stats --campaign "$camp" --format csv | sed 1d)
t_eq "stats --campaign: that campaign's events" "enqueued sent 2" \
    "$(printf '%s\n' "$cstats" | awk -F, '$1 == "enqueued" && ($2 == 1 || $2 == 2) {e = 1} $1 == "sent" {s = $2} END {print (e ? "enqueued" : "?"), "sent", s}')"
t_eq "log --campaign: its rows, as many as stats counts" \
    "$(printf '%s\n' "$cstats" | awk -F, '{n += $2} END {print n}')" \
    "$(chuda log --format json --campaign "$camp" | wc -l)"
t_eq "stats --campaign of another: nothing" "event,n" "$(chuda stats --campaign 999 --format csv)"

# --- the report: a whole page or nothing (report_chromium.sh looks at the page) ---
t_match "report writes a page" "report written to r.html" "$(chuda report --since -1d --html r.html)"
t_ok "the page shows the campaign by name and the channel" sh -c 'grep -q "#$0 审计" r.html && grep -q "mp_subscribe" r.html && ! grep -qi "<script" r.html' "$camp"
chuda report --since -1d --html nodir/r.html >rep.out 2>&1; rc=$?
t_eq "report into a missing directory: exit 1" 1 "$rc"
t_match "report into a missing directory: says where" "nodir/r.html: cannot create" "$(cat rep.out)"
mkdir r2.html
chuda report --since -1d --html r2.html >rep.out 2>&1; rc=$?
t_eq "report over a directory: exit 1" 1 "$rc"
t_ok "and no temporary file is left" sh -c '! ls r2.html.* r.html.* 2>/dev/null'
bad "report --since garbage" "--since: bad time" chuda report --since whenever --html r3.html
t_ok "the bad call wrote nothing" test ! -e r3.html

# --- the database refuses what would hide tampering ---
t_fails "UPDATE of the log is refused" sqlite3 chuda.db "update log set reason='x' where seq=2"
t_fails "DELETE from the log is refused" sqlite3 chuda.db "delete from log where seq=2"
t_fails "the head cannot move back" sqlite3 chuda.db "update log_meta set head_seq=2, head_hash=(select hash from log where seq=2)"
t_fails "log_meta keeps its one row" sqlite3 chuda.db "delete from log_meta"
t_fails "an anchor must be a row of the log" sqlite3 chuda.db "insert into log_anchor(id,seq,hash,archived_at,file,nrows) values(1,3,randomblob(32),0,'x',3)"
t_fails "an anchor must count its rows" sqlite3 chuda.db "insert into log_anchor(id,seq,hash,archived_at,file,nrows) values(1,3,(select hash from log where seq=3),0,'x',2)"
t_ok "verify: intact" chuda log verify
t_match "verify says how many rows" "^audit log intact: [0-9]+ rows$" "$(chuda log verify)"
last=$(sqlite3 chuda.db "select max(seq) from log")
pin=$(chuda log head)
t_match "log head prints SEQ:HASH of the last row" "^$last:[0-9a-f]{64}$" "$pin"
t_ok "verify --head: the pinned head is on the chain" chuda log verify --head "$pin"
cp chuda.db pristine.db
restore() { cp pristine.db chuda.db; rm -f chuda.db-wal chuda.db-shm; }
verify_says() {     # verify_says NAME PATTERN [VERIFY ARGS]: exit 1 and the line
    name=$1 pat=$2; shift 2
    chuda log verify "$@" >v.out 2>&1; rc=$?
    t_eq "$name: verify exits 1" 1 "$rc"
    t_match "$name: named" "$pat" "$(cat v.out)"
}
sq() { sqlite3 chuda.db "$@"; }

# an edited row
sq "drop trigger log_no_update; update log set reason='nothing to see' where seq=4"
verify_says "edit" "BROKEN: row 4 .*altered or inserted"
restore
# rows removed from the middle
sq "drop trigger log_no_delete; delete from log where seq in (5,6)"
verify_says "removed rows" "BROKEN: rows 5-6 were removed"
restore
# the tail removed: the chain is whole, the head and the counts say otherwise
sq "drop trigger log_no_delete; delete from log where seq=$last"
verify_says "the tail" "BROKEN: rows $last-$last were removed from the end of the log \(the head recorded at the last commit is row $last\)"
t_match "the tail: the counts disagree too" "log_counts adds up to $last rows, the log holds $((last - 1))" "$(cat v.out)"
t_fails "the tail: log head refuses to print a head" chuda log head
restore
# everything removed
sq "drop trigger log_no_delete; delete from log"
verify_says "all rows" "BROKEN: rows 1-$last were removed from the end of the log"
t_match "all rows: the messages have no enqueued row" "message 1 has no enqueued row" "$(cat v.out)"
restore
# a row inserted at the end: with a bad hash, and with a correct one
sq "insert into log(seq,at,user_id,event,hash) values($((last + 1)),1,'a1','sent',randomblob(32))"
verify_says "inserted, bad hash" "BROKEN: row $((last + 1)) \(sent, message 0\) does not match its hash"
restore
$PY -c 'import sqlite3, auditchain as a
db = sqlite3.connect("chuda.db"); a.append(db, at=1, user_id="a1", event="sent", channel="sms"); db.commit()'
verify_says "inserted, correct hash" "BROKEN: rows $((last + 1))-$((last + 1)) were appended behind chuda's back"
t_match "inserted: the counts disagree" "log_counts: campaign 0, hour 1970-01-01T00:00Z, channel 'sms', event 'sent', code '' counts 0, the log has 1" "$(cat v.out)"
restore
# edited counts: stats would lie, verify says where
sq "update log_counts set n=n+100 where event='sent' and channel='mp_subscribe' and campaign_id=0 and tier='high_value'"
t_match "edited counts: stats are fooled" "sent +10[0-9]" "$(chuda stats)"
verify_says "edited counts" "BROKEN: log_counts: campaign 0, hour .*, channel 'mp_subscribe', event 'sent', code '[^']*' counts 10[0-9], the log has [0-9] such rows"
restore
# a consistent rewrite (row 3 edited, every hash after it recomputed, the head moved):
# the database alone cannot tell; the head pinned before can
$PY -c 'import sqlite3, auditchain as a
db = sqlite3.connect("chuda.db")
db.executescript("drop trigger log_no_update; drop trigger log_meta_head;")
db.execute("update log set reason=? where seq=3", ("rewritten",))
h = a.rechain(db, 3)
db.execute("update log_meta set head_hash=?", (h,)); db.commit()'
t_ok "rewritten chain: the database alone says intact (the documented limit)" chuda log verify
verify_says "rewritten chain, pinned head" "BROKEN: row $last is not the pinned head: the log was rewritten at or before it" --head "$pin"
restore
# a forged anchor: rows 1-3 deleted behind chuda's back
sq "drop trigger log_no_delete; drop trigger log_anchor_first; delete from log where seq<=3;
    insert into log_anchor(id,seq,hash,archived_at,file,nrows) values(1,3,randomblob(32),0,'old.gz',3)"
verify_says "forged anchor, made up hash" "BROKEN: row 4 .*does not match its hash: .* or the archive anchor before it \(row 3\) was forged"
restore
# ... with the hash of row 3 and the count right: the cross-checks still see rows gone
sq "insert into log_anchor(id,seq,hash,archived_at,file,nrows) values(1,3,(select hash from log where seq=3),0,'none.gz',3); delete from log where seq<=3"
verify_says "SQL archive without the marks" "BROKEN: message 1 has no enqueued row in the log: it was removed"
t_match "SQL archive without the marks: the counts of that hour" "BROKEN: log_counts: campaign 0, hour .*, channel '', event 'enqueued', code '' counts [0-9]+, the log has [0-9]+ such rows" "$(cat v.out)"
restore
# ... and made fully consistent (the marks too): an archive without a file, which only
# the archive files or a pinned head can refute
sq "insert into log_anchor(id,seq,hash,archived_at,file,nrows,msg_id,max_at) values(1,3,
    (select hash from log where seq=3),0,'none.gz',3,
    (select max(message_id) from log where seq<=3 and event='enqueued'),
    (select max(at) from log where seq<=3)); delete from log where seq<=3"
t_match "anchor without a file: verify says rows 1-3 are only proven with --archive" \
    "intact: .* after the archive anchor \(row 3, none.gz\); rows 1-3 are proven only with --archive" "$(chuda log verify)"
verify_says "anchor without a file, pinned head" "BROKEN: the pinned head \(row $last\) is proven only from row 4: rows 1-3 are archived" --head "$pin"
restore

# --- archive ---
sq "drop trigger log_no_update; update log set reason='tampered' where seq=2"
chuda log archive --before +1m broken.jsonl.gz >a.out 2>&1; rc=$?
t_eq "archive refuses a broken log" 1 "$rc"
t_match "archive says why" "BROKEN: row 2 .*not archiving a broken log: nothing was changed" "$(tr '\n' ' ' <a.out)"
t_ok "no archive file was made" sh -c '! ls broken.jsonl.gz* 2>/dev/null'
t_eq "every row is still there" "$last" "$(sq 'select count(*) from log')"
restore
echo keep >exists.jsonl.gz
chuda log archive --before +1m exists.jsonl.gz >a.out 2>&1; rc=$?
t_eq "archive refuses an existing file" 1 "$rc"
t_match "and names it" "exists.jsonl.gz: exists: an archive is never overwritten" "$(cat a.out)"
t_eq "the file is untouched" keep "$(cat exists.jsonl.gz)"
t_eq "the log is untouched" "$last" "$(sq 'select count(*) from log')"

cut=$(chuda log --format json | sed -n 6p | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["at"])')
sleep 0.01
t_match "archive old rows" "rows archived to old.jsonl.gz" "$(chuda log archive --before "$cut" old.jsonl.gz)"
t_eq "the archive is owner-only" 600 "$(stat -c %a old.jsonl.gz)"
t_ok "no temporary file is left" sh -c '! ls old.jsonl.gz.* 2>/dev/null'
t_ok "the archive: a header, then rows with hashes" sh -c 'zcat old.jsonl.gz | python3 -c "
import json,sys
lines=[json.loads(l) for l in sys.stdin]
h, rows = lines[0], lines[1:]
assert h[\"chuda_archive\"] == 1 and h[\"after_seq\"] == 0 and h[\"after_hash\"] == \"0\" * 64, h
assert rows and all(len(r[\"hash\"]) == 64 for r in rows)
assert [r[\"seq\"] for r in rows] == list(range(1, len(rows) + 1))"'
cutseq=$(zcat old.jsonl.gz | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["seq"])')
t_ok "verify after the archive" chuda log verify
t_match "verify says where it starts" "after the archive anchor \(row $cutseq, $T_WORK/old.jsonl.gz\)" "$(chuda log verify)"
t_match "verify --archive proves it from the first row" \
    "intact: rows 1-$last, $cutseq from 1 archive file and $((last - cutseq)) in the database$" \
    "$(chuda log verify --archive old.jsonl.gz)"
t_ok "verify --archive --head: the pin is proven" chuda log verify --archive old.jsonl.gz --head "$pin"
verify_says "pinned head without the archive" "proven only from row $((cutseq + 1))" --head "$pin"
t_match "archiving again before the same time: nothing" "nothing to archive" \
    "$(chuda log archive --before "$cut" again.jsonl.gz)"
t_ok "and no file for it" test ! -e again.jsonl.gz

chuda enqueue --user a2 --template cart_abandoned --var product=R >/dev/null
chuda run --until-idle 2>/dev/null
t_ok "new rows chain on after the cut" chuda log verify
t_ok "archived rows are gone from the log, the rest stayed" sh -c 'zcat old.jsonl.gz | sed 1d >old.jsonl; "$0" -c chuda.conf log --format json | python3 -c "
import json,sys
old=[json.loads(l)[\"seq\"] for l in open(\"old.jsonl\")]
now=[json.loads(l)[\"seq\"] for l in sys.stdin]
assert old and now and max(old) < min(now) and min(now) == max(old) + 1, (old, now)"' "$CHUDA"
t_match "a second archive" "rows archived to new.jsonl.gz" "$(chuda log archive --before +1m new.jsonl.gz)"
end=$(chuda log head | cut -d: -f1)
t_match "verify --archive, files in any order" "intact: rows 1-$end, $end from 2 archive files and 0 in the database" \
    "$(chuda log verify --archive new.jsonl.gz --archive old.jsonl.gz)"
t_match "verify --archive of the newer file alone" "intact: rows $((cutseq + 1))-$end, .*\(the archives before them were not given\)" \
    "$(chuda log verify --archive new.jsonl.gz)"
verify_says "verify --archive of the older file alone" "rows $((cutseq + 1))-$end were archived \(to .*new.jsonl.gz\) but are in none of the archives given" --archive old.jsonl.gz
t_ok "the pin, proven through both files" chuda log verify --archive old.jsonl.gz --archive new.jsonl.gz --head "$pin"
# a tampered archive file, a truncated one
zcat old.jsonl.gz | sed '3s/"event":"enqueued"/"event":"cancelled"/' | gzip >edited.jsonl.gz
verify_says "an edited archive" "BROKEN: row 2 of edited.jsonl.gz \(cancelled, message 2\) does not match its hash" --archive edited.jsonl.gz --archive new.jsonl.gz
zcat old.jsonl.gz | sed '$d' | gzip >short.jsonl.gz
verify_says "a truncated archive" "BROKEN: rows $cutseq-$cutseq are in none of the archives given \(new.jsonl.gz starts after row $cutseq\)" --archive short.jsonl.gz --archive new.jsonl.gz
head -c 100 old.jsonl.gz >cut.jsonl.gz
verify_says "a cut gzip file" "cut.jsonl.gz:[0-9]+: the file is truncated|cut.jsonl.gz:.*(truncated|no end)" --archive cut.jsonl.gz
t_done
