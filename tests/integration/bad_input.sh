# bad_input.sh — the bad-input corpus in tests/bad: every file of tests/bad/expected fed
# the way the table says (users import, a config for chuda run, a template for enqueue,
# JSON lines for enqueue --from, a body for the HTTP API), checking the exit status or
# the HTTP status, the error text, and that the database dump is the same afterwards.
# The BOM file must import, its first column read as user_id.
. tests/lib.sh "$1"
cd "$T_WORK"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export CHUDA_TEST_API_TOKEN=tok-bad-input-0123456789
export CHUDA_BAD_SECRET=bad-input-secret-0123
unset CHUDA_BAD_SECRET_NOT_SET
chuda_setup "" "[channel.mp_subscribe]
credits = off
[api]
listen = 127.0.0.1:$PORT
token_env = CHUDA_TEST_API_TOKEN"
cp "$TOP/tests/data/marker.ini" templates/
printf 'user_id,tier,mp_openid\nb1,new,oBAD1xxxxxxxxxxxxxxxxxxxxxxx\n' >users.csv
t_ok "users import" chuda users import users.csv
# the config cases start their own `chuda run`: on a database of their own
t_ok "a database for the config cases" sh -c "\"$CHUDA\" -d cfg.db init >/dev/null && \"$CHUDA\" -d cfg.db users import users.csv"
BAD=$TOP/tests/bad
mkdir -p gen/csv gen/api
python3 -c 'print("user_id,tier,note"); print("big,new," + "x" * (1 << 20))' >gen/csv/field_1mb.csv
python3 -c '
import json
print(json.dumps({"user": "b1", "template": "marker", "vars": {"n": "x" * (10 << 20)}}))' \
    >gen/api/body_10mb.json
file_of() { [ -f "$BAD/$1" ] && echo "$BAD/$1" || echo "$T_WORK/gen/$1"; }

# every file of the corpus is in the table, and every file of the table exists
t_eq "every corpus file has an expected error" "" "$(cd "$BAD" && for f in */*; do
    grep -q "^$f|" expected || echo "$f"; done)"

"$CHUDA" -c chuda.conf run >run.log 2>&1 &
T_PIDS="$T_PIDS $!"
API="http://127.0.0.1:$PORT"
t_ok "the API is up" wait_for 10 curl -sf "$API/healthz"

# feed FILE HOW: run it; prints the exit or HTTP status, then the error text
feed() {
    f=$(file_of "$1")
    case $2 in
    import) chuda users import "$f" >out 2>&1; echo $?; cat out ;;
    run) "$CHUDA" -c "$f" -d cfg.db run --until-idle >out 2>&1; echo $?; cat out ;;
    enqueue)
        name=$(basename "$f" .ini)
        rm -rf "tpl_$name"; mkdir "tpl_$name"; cp "$f" "tpl_$name/"
        sed "s|^templates = .*|templates = tpl_$name|" chuda.conf >tpl.conf
        "$CHUDA" -c tpl.conf enqueue --user b1 --template "$name" >out 2>&1; echo $?; cat out ;;
    from) chuda enqueue --from "$f" >out 2>&1; echo $?; cat out ;;
    "POST "*)
        curl -s -o out -w '%{http_code}\n' -X POST -H "Authorization: Bearer $CHUDA_TEST_API_TOKEN" \
            -H 'Content-Type: application/json' --data-binary "@$f" "$API${2#POST }"
        python3 -c 'import json, sys; print(json.load(open("out"))["error"])' ;;
    esac
}

grep -v '^#' "$BAD/expected" | while IFS='|' read -r file how want re; do
    [ -n "$file" ] || continue
    db=chuda.db
    [ "$how" = run ] && db=cfg.db
    sqlite3 $db .dump >dump.before
    feed "$file" "$how" >result
    got=$(head -1 result)
    t_eq "$file ($how): status" "$want" "$got"
    t_match "$file ($how): says what and where" "$re" "$(sed 1d result | sed 's/^chuda: //')"
    if [ "$want" != 0 ]; then
        sqlite3 $db .dump >dump.after
        t_ok "$file ($how): the database is unchanged" cmp -s dump.before dump.after
    fi
done >checks
cat checks
T_FAILED=$((T_FAILED + $(grep -c '^not ok' checks)))

t_eq "the BOM is not part of the first column name" "杭州|new" \
    "$(sqlite3 chuda.db "select json_extract(attrs, '$.city'), tier from users where user_id='bom1'")"
t_eq "no column named after the BOM" 0 \
    "$(sqlite3 chuda.db "select count(*) from users where attrs like '%user_id%'")"
t_eq "the scheduler is still up after the bad requests" '{"status":"ok"}' "$(curl -s "$API/healthz")"
t_done
