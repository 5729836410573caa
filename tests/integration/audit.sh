# audit.sh — what an auditor relies on: the log refuses UPDATE and DELETE, phone numbers
# and openids are masked in every output, `chuda log verify` proves the chain and names
# the first altered, removed or inserted row, `chuda log archive` moves old rows to a
# gzip file and the chain stays verifiable, `chuda stats` counts from the aggregates.
. tests/lib.sh "$1"
cd "$T_WORK"
chuda_setup "" "[policy]
quiet_hours = none
[channel.mp_subscribe]
credits = off"
cat > users.csv <<'CSV'
user_id,tier,mp_openid,phone
a1,high_value,oAUDIT1xxxxxxxxxxxxxxxxxxxxx,+8613800001111
a2,potential,oAUDIT2xxxxxxxxxxxxxxxxxxxxx,
CSV
chuda users import users.csv >/dev/null
for n in 1 2 3; do chuda enqueue --user a1 --template cart_abandoned --var product=P$n >/dev/null; done
chuda enqueue --user a2 --template cart_abandoned --var product=Q >/dev/null
chuda run --until-idle 2>/dev/null

# --- masking ---
t_match "table shows the openid masked" "oAUD\*\*\*\*xxxx" "$(chuda log --event sent)"
t_eq "no full openid in any format" 0 \
    "$(for f in table csv json; do chuda log --format $f; done | grep -c oAUDIT1xxxxxxxxxxxxxxxxxxxxx)"
t_fails "--unmasked needs the config's consent" chuda log --unmasked
printf '[chuda]\nallow_unmasked = yes\n' >>chuda.conf
t_match "--unmasked when allowed" "oAUDIT1xxxxxxxxxxxxxxxxxxxxx" "$(chuda log --unmasked --event sent)"

# --- formats and filters ---
t_eq "csv header" "seq,at,message_id,user_id,campaign_id,event,channel,target,code,reason,detail" \
    "$(chuda log --format csv | head -1)"
t_eq "csv rows = json rows" "$(chuda log --format json | wc -l)" "$(( $(chuda log --format csv | wc -l) - 1 ))"
t_eq "filter by user and event" 3 "$(chuda log --format json --user a1 --event sent | wc -l)"

# --- stats from the aggregates ---
t_match "stats by event" "sent +4" "$(chuda stats)"
t_match "stats by tier,event as csv" "high_value,sent,3" "$(chuda stats --by tier,event --format csv)"
t_match "stats json" '"channel":"mp_subscribe","n":4' "$(chuda stats --by channel --format json)"
t_fails "stats rejects an unknown dimension" chuda stats --by colour
t_match "report writes a page" "report written to r.html" "$(chuda report --since -1d --html r.html)"
t_ok "the page shows the sends and the channel" sh -c 'grep -q "mp_subscribe" r.html && grep -q "<svg" r.html && ! grep -qi "<script" r.html'

# --- the log is append-only, and verify proves the chain ---
t_fails "UPDATE is refused" sqlite3 chuda.db "update log set reason='x' where seq=2"
t_fails "DELETE is refused" sqlite3 chuda.db "delete from log where seq=2"
t_ok "verify: intact" chuda log verify
cp chuda.db pristine.db
sqlite3 chuda.db "drop trigger log_no_update; update log set reason='nothing to see' where seq=4"
t_fails "verify fails after an edit" chuda log verify
t_match "and names the row" "row 4 .*altered or inserted" "$(chuda log verify)"
cp pristine.db chuda.db
sqlite3 chuda.db "drop trigger log_no_delete; delete from log where seq in (5,6)"
t_match "a removed row is named" "rows 5-6 were removed" "$(chuda log verify)"
cp pristine.db chuda.db

# --- the head: the last row chuda committed, to pin outside the database ---
last=$(sqlite3 chuda.db "select max(seq) from log")
t_match "log head prints SEQ:HASH of the last row" "^$last:[0-9a-f]{64}$" "$(chuda log head)"
t_fails "the head cannot move back" sqlite3 chuda.db "update log_meta set head_seq=2, head_hash=(select hash from log where seq=2)"
t_fails "log_meta keeps its one row" sqlite3 chuda.db "delete from log_meta"
sqlite3 chuda.db "drop trigger log_no_delete; delete from log where seq=$last"
t_fails "the tail removed: log head refuses" chuda log head
t_match "and says so" "the log ends at row $((last - 1)) but chuda's last commit recorded row $last" "$(chuda log head 2>&1)"
cp pristine.db chuda.db

# --- archive keeps the chain verifiable across the cut ---
cut=$(chuda log --format json | sed -n 6p | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["at"])')
sleep 0.01
t_match "archive old rows" "rows archived to old.jsonl.gz" "$(chuda log archive --before "$cut" old.jsonl.gz)"
t_ok "the archive is gzip JSON lines with hashes" sh -c 'zcat old.jsonl.gz | python3 -c "
import json,sys
rows=[json.loads(l) for l in sys.stdin]
assert rows and all(len(r[\"hash\"])==64 for r in rows)"'
t_ok "verify after the archive" chuda log verify
t_match "verify says where it starts" "after the archive anchor" "$(chuda log verify)"
chuda enqueue --user a2 --template cart_abandoned --var product=R >/dev/null
chuda run --until-idle 2>/dev/null
t_ok "new rows chain on after the cut" chuda log verify
t_ok "archived rows are gone from the log, the rest stayed" sh -c 'zcat old.jsonl.gz >old.jsonl; "$0" -c chuda.conf log --format json | python3 -c "
import json,sys
old=[json.loads(l)[\"seq\"] for l in open(\"old.jsonl\")]
now=[json.loads(l)[\"seq\"] for l in sys.stdin]
assert old and now and max(old) < min(now) and min(now) == max(old) + 1, (old, now)"' "$CHUDA"
t_done
