# storage.sh — storage faults: the database locked by another process beyond the busy
# timeout (5 s), a full disk (a small tmpfs), a read-only database file. For each: a clear
# error naming the database and the cause, a non-zero exit, nothing half-written (the
# dump is the same before and after), and recovery once the condition clears. A lock
# taken while `chuda run` has a request in flight stops the scheduler (exit 1, the
# message stays leased) and the next run finishes it: resent, logged uncertain, sent. A
# POST to the HTTP API that cannot write is answered 503 and stops the run, writing nothing.
. tests/lib.sh "$1"
cd "$T_WORK"
chuda_setup "" "[policy]
quiet_hours = none
[channel.mp_subscribe]
credits = off"
cp "$TOP/tests/data/marker.ini" templates/
cat >users.csv <<'CSV'
user_id,tier,tz,mp_openid
s1,new,Asia/Shanghai,oSTOR1xxxxxxxxxxxxxxxxxxxxxx
s2,new,Asia/Shanghai,oSTOR2xxxxxxxxxxxxxxxxxxxxxx
s3,new,Asia/Shanghai,oSTOR3xxxxxxxxxxxxxxxxxxxxxx
CSV
python3 -c '
print("user_id,tier,note")
for i in range(4000): print("b%d,new,%s" % (i, "x" * 400))' >big.csv
t_ok "users import" chuda users import users.csv
send() { chuda enqueue --user "$1" --template marker --var "n=$2"; }
dump() { sqlite3 "${1:-chuda.db}" .dump; }
same_dump() {   # same_dump BEFORE_FILE [DB]: the database holds exactly what it held
    dump "${2:-chuda.db}" >dump.now
    cmp -s "$1" dump.now
}

# ==== the database locked by another process ===============================================
# lock: BEGIN EXCLUSIVE from another process (python3's sqlite3), held until ./release
lock_start() {
    rm -f locked release
    python3 -c '
import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
open("locked", "w").close()
for _ in range(2400):
    if os.path.exists("release"):
        break
    time.sleep(0.05)
c.execute("ROLLBACK")' "${1:-chuda.db}" &
    LOCK_PID=$!
    wait_for 60 test -f locked
}
lock_stop() { touch release; wait "$LOCK_PID"; }

m1=$(send s1 围巾)
dump >dump.before
lock_start
t_fails_with "locked: enqueue fails, naming the database and the lock" \
    '^chuda: .*chuda.db: begin: database is locked by another process \(tried for 5 s\)$' send s2 帽子
t_fails_with "locked: users import fails" 'database is locked by another process' \
    chuda users import big.csv
t_fails_with "locked: chuda run fails at start-up" 'database is locked by another process' \
    chuda run --until-idle
t_ok "locked: reading still works (WAL)" chuda show "$m1"
t_ok "locked: nothing was written" same_dump dump.before
lock_stop
t_ok "lock released: enqueue works again" send s2 帽子
t_ok "lock released: import works again" chuda users import big.csv
t_ok "lock released: run sends the queue" chuda run --until-idle
t_eq "lock released: the message held back is sent" sent "$(msg_state "$m1")"

# while a request is in flight: the reply cannot be committed, the scheduler stops
sim_ctl POST /_sim/fault '{"path":"/cgi-bin/message/subscribe/send","delay_ms":3000}' >/dev/null
m2=$(send s3 手套)
"$CHUDA" -c chuda.conf run >run.out 2>run.err &
RUN=$!
t_ok "in flight: the request is out" wait_for 20 sh -c \
    "[ \"\$(sqlite3 chuda.db 'select inflight from queue where id=$m2')\" = mp_subscribe ]"
lock_start
dump >dump.locked
wait $RUN
rc=$?
t_eq "in flight: the scheduler stops with exit 1 when it cannot commit" 1 "$rc"
t_match "in flight: and says why" \
    'chuda: storage error, stopping: .*chuda.db: .*database is locked by another process' "$(cat run.err)"
t_ok "in flight: nothing was written while locked" same_dump dump.locked
lock_stop
t_ok "in flight: the next run finishes it" chuda run --until-idle
t_eq "in flight: resent after the stop, logged uncertain, sent" "enqueued,uncertain,sent" \
    "$(msg_events "$m2")"
t_eq "in flight: delivered twice at most, and only because it is logged uncertain" 2 \
    "$(sim_requests /cgi-bin/message/subscribe/send | grep -c 手套)"
t_ok "log verify after the lock" chuda log verify

# through the HTTP API: a POST that cannot begin its write is a 503, the run stops
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export CHUDA_TEST_API_TOKEN=tok-storage-0123456789abcdef
cp chuda.conf api.conf
printf '[api]\nlisten = 127.0.0.1:%s\ntoken_env = CHUDA_TEST_API_TOKEN\n' "$PORT" >>api.conf
"$CHUDA" -c api.conf run >run.out 2>run.err &
RUN=$!
t_ok "api: run started" wait_for 15 curl -sf "http://127.0.0.1:$PORT/healthz"
lock_start
dump >dump.locked
answer=$(curl -s -w ' %{http_code}' -X POST -H "Authorization: Bearer $CHUDA_TEST_API_TOKEN" \
    -d '{"user":"s1","template":"marker","vars":{"n":"API"}}' "http://127.0.0.1:$PORT/v1/messages")
t_match "api: locked: POST /v1/messages answers 503" '"error":"storage: unavailable".* 503$' "$answer"
wait $RUN
t_eq "api: locked: the scheduler stops with exit 1" 1 "$?"
t_match "api: locked: and says why" 'chuda: storage error, stopping: .*database is locked' \
    "$(cat run.err)"
lock_stop
t_ok "api: locked: nothing was written" same_dump dump.locked

# ==== a full disk =============================================================================
mkdir full
if [ "$(id -u)" -ne 0 ] || ! mount -t tmpfs -o size=8m tmpfs full 2>mount.err; then
    echo "ok - # SKIP disk full: cannot mount a small tmpfs here ($(id -u) = uid; $(cat mount.err 2>/dev/null))"
else
    trap 'umount "$T_WORK/full" 2>/dev/null; t_cleanup' EXIT
    sed 's|^db = chuda.db|db = full/chuda.db|' chuda.conf >full.conf
    f() { "$CHUDA" -c full.conf "$@"; }
    f init >/dev/null
    f users import users.csv >/dev/null
    f1=$(f enqueue --user s1 --template marker --var n=FULL1)
    # the WAL emptied into the database, then every free block taken (on a full disk even
    # reading a WAL database fails: its -shm cannot be made; the checks of what it holds
    # come once space is freed, before anything else is written)
    dump full/chuda.db >dump.full
    sqlite3 full/chuda.db 'pragma wal_checkpoint(TRUNCATE)' >/dev/null
    dd if=/dev/zero of=full/filler bs=4096 2>/dev/null
    t_match "disk full: the file system is full" '^0$' "$(df --output=avail full | tail -1 | tr -d ' ')"
    t_fails_with "disk full: import fails, saying so" '^chuda: .*full/chuda.db: .*disk full$' \
        f users import big.csv
    t_fails_with "disk full: enqueue fails" 'disk full' \
        f enqueue --user s2 --template marker --var n=FULL2
    t_fails_with "disk full: chuda run fails" 'disk full' f run --until-idle
    rm full/filler
    t_ok "disk full: nothing was written" same_dump dump.full full/chuda.db
    t_eq "disk full: the queued message is still queued" 1 \
        "$(sqlite3 full/chuda.db "select count(*) from queue where id=$f1")"
    t_ok "space freed: import works again" f users import big.csv
    f2=$(f enqueue --user s2 --template marker --var n=FULL2)
    t_ok "space freed: enqueue works again" test -n "$f2"
    t_ok "space freed: run sends the queue" f run --until-idle
    t_eq "space freed: both messages sent" "sent sent" \
        "$("$CHUDA" -c full.conf show "$f1" | sed -n 's/^  state *//p') $("$CHUDA" -c full.conf show "$f2" | sed -n 's/^  state *//p')"
    t_ok "space freed: log verify" f log verify
    umount full
fi

# ==== a read-only database file ================================================================
# as root the file mode would not stop us: the commands run as nobody then
mkdir ro
sed 's|^db = chuda.db|db = ro/chuda.db|' chuda.conf >ro.conf
r() { "$CHUDA" -c ro.conf "$@"; }
as_owner=""
if [ "$(id -u)" -eq 0 ]; then
    as_owner="setpriv --reuid=65534 --regid=65534 --clear-groups"
fi
ro() { $as_owner "$CHUDA" -c ro.conf "$@"; }
r init >/dev/null
r users import users.csv >/dev/null
r1=$(r enqueue --user s1 --template marker --var n=RO1)
chmod -R a+rX . 2>/dev/null
[ -n "$as_owner" ] && chown -R 65534 ro
chmod 0400 ro/chuda.db
dump ro/chuda.db >dump.ro
t_fails_with "read-only: import fails, saying so" \
    '^chuda: .*ro/chuda.db: begin: database is read-only \(its file permissions or file system\): nothing was written$' \
    ro users import big.csv
t_fails_with "read-only: enqueue fails" 'database is read-only' \
    ro enqueue --user s2 --template marker --var n=RO2
t_fails_with "read-only: chuda run fails" 'database is read-only' ro run --until-idle
t_ok "read-only: reading still works" ro show "$r1"
t_ok "read-only: nothing was written" same_dump dump.ro ro/chuda.db
chmod 0600 ro/chuda.db*      # with its -wal and -shm, which took its mode
t_ok "writable again: enqueue works" ro enqueue --user s2 --template marker --var n=RO2
t_ok "writable again: run sends the queue" ro run --until-idle
t_eq "writable again: the held message is sent" sent "$(ro show "$r1" | sed -n 's/^  state *//p')"
t_done
