# reload.sh — SIGHUP is all or nothing. A running `chuda run` is sent SIGHUP with a new
# set (a changed copy, a new template, a policy change, another default_tz) plus one
# error each time: a missing secret, an unknown config key, a broken template, an
# unreadable ca_file, a busy-polling poll. Each time it says "reload failed" with the
# reason, and every message after it is sent under the old set entirely: old copy, old
# zone, old policy, the new template unknown. Then the same set without the error is
# taken whole; ca_file is reloaded too (without the test CA nothing verifies: the channel
# pauses, and the reload that brings the CA back ends the pause); a reload
# while a request is out lets it finish and log its A/B variant.
. tests/lib.sh "$1"
cd "$T_WORK"
chuda_setup "" "[chuda]
default_tz = UTC
[policy]
quiet_hours = none
[channel.mp_subscribe]
credits = off"
cp chuda.conf base.conf
# the daemon reads run.conf and templates/; the other commands read chuda.conf (always
# valid) and cli/, which has what the daemon is being offered minus the error
cp chuda.conf run.conf
mkdir cli && cp templates/*.ini cli/
printf '[chuda]\ntemplates = cli\n' >> chuda.conf

cat > users.csv <<'CSV'
user_id,tier,segment,tz,mp_openid
r1,new,,,oR1xxxxxxxxxxxxxxxxxxxxxxxxx
r2,potential,,,oR2xxxxxxxxxxxxxxxxxxxxxxxxx
r3,high_value,,,oR3xxxxxxxxxxxxxxxxxxxxxxxxx
CSV
t_ok "users import" chuda users import users.csv
note() {    # note BODY: the note template with this copy
    cat <<EOF
[template]
class = transactional
vars = product, at
[copy]
body = $1{{product}}
[mp_subscribe]
template_id = TPL_NOTE
data.thing1 = {{body}}
data.time2 = {{at|time:%H:%M}}
EOF
}
note 旧文案 > templates/note.ini
note 旧文案 > cli/note.ini

t_ok "run started" run_bg run.conf run.log

final() { case $(msg_state "$1") in sent|failed|suppressed|expired|cancelled) ;; *) return 1 ;; esac; }
body_of() {     # body_of OPENID: the last mini-program body the simulator got for it
    sim_requests /cgi-bin/message/subscribe/send | python3 -c '
import json, sys
b = [json.loads(json.loads(l)["body"]) for l in sys.stdin]
b = [x for x in b if x["touser"] == sys.argv[1]]
print(b[-1]["data"]["thing1"]["value"] + " " + b[-1]["data"]["time2"]["value"] if b else "none")' "$1"
}
all_final() { for id in "$@"; do final "$id" || return 1; done; }
# Enqueue on note (r1, r2) and on the new template fresh (r3); wait for the outcomes.
probe() {   # probe LABEL: sets P1 P2 P3 (message ids)
    P1=$(chuda enqueue --user r1 --template note --var product=围巾 --var at=2026-11-23T02:00:00Z)
    P2=$(chuda enqueue --user r2 --template note --var product=手套 --var at=2026-11-23T02:00:00Z)
    P3=$(chuda enqueue --user r3 --template fresh --var product=帽子)
    t_ok "$1: messages done" wait_for 20 all_final $P1 $P2 $P3
}
hups=0
hup() {     # hup WHAT: SIGHUP, wait until run.log has one more reload line
    hups=$((hups + 1))
    kill -HUP $RUN
    wait_for 15 sh -c "test \$(grep -c -e 'reload failed' -e 'reloaded config' run.log) -ge $hups"
}

# --- what every reload offers: new copy, a new template, a policy change, another zone --
offer() {   # offer DIR: the new templates into DIR
    note 新文案 > "$1/note.ini"
    cat > "$1/fresh.ini" <<'EOF'
[template]
class = transactional
vars = product
[mp_subscribe]
template_id = TPL_FRESH
data.thing1 = 新模板{{product}}
EOF
}
offer cli
new_conf() {    # the base config with the changes; an error may follow
    cat base.conf
    printf '[chuda]\ndefault_tz = Asia/Shanghai\n[tier.potential]\nchannels = oa_template\n'
}

old_set_kept() {    # old_set_kept CASE
    probe "$1"
    t_eq "$1: old copy and old zone" "旧文案围巾 02:00" "$(body_of oR1xxxxxxxxxxxxxxxxxxxxxxxxx)"
    t_eq "$1: old policy (potential may use mp_subscribe)" sent "$(msg_state "$P2")"
    t_eq "$1: the new template is not there" failed "$(msg_state "$P3")"
    t_match "$1: ... and said so" "template 'fresh' no longer exists" "$(chuda show "$P3")"
}

# 1. the repro: a new channel whose secret is not set
offer templates
{ new_conf; printf '[channel.oa_template]\nbase_url = %s\nappid = wxoa0000000009\nsecret_env = CHUDA_TEST_UNSET\n' "$SIM_URL"; } > run.conf
unset CHUDA_TEST_UNSET
hup
t_match "missing secret: reload refused with the reason" "reload failed, keeping the running config: .*CHUDA_TEST_UNSET is not set" "$(grep -e 'reload failed' -e 'reloaded config' run.log | tail -1)"
old_set_kept "missing secret"

# 2. a config error
{ new_conf; printf '[chuda]\nbatchsize = 10\n'; } > run.conf
hup
t_match "config error: refused, file and line named" "reload failed, keeping the running config: .*run.conf:[0-9]+: .*batchsize" "$(grep -e 'reload failed' -e 'reloaded config' run.log | tail -1)"
old_set_kept "config error"

# 3. a broken template
new_conf > run.conf
printf '[template]\nclass = lifecycle\n[mp_subscribe]\ntemplate_id = T\ndata.thing1 = {{oops\n' > templates/broken.ini
hup
t_match "bad template: refused, file and line named" "reload failed, keeping the running config: .*broken.ini:5" "$(grep -e 'reload failed' -e 'reloaded config' run.log | tail -1)"
old_set_kept "bad template"
rm templates/broken.ini

# 4. an unreadable ca_file
{ new_conf; printf '[chuda]\nca_file = %s/no-such-ca.pem\n' "$T_WORK"; } > run.conf
hup
t_match "bad ca_file: refused" "reload failed, keeping the running config: .*ca_file: cannot read" "$(grep -e 'reload failed' -e 'reloaded config' run.log | tail -1)"
old_set_kept "bad ca_file"

# 5. a loop setting out of range (checked after the rest was built)
{ new_conf; printf '[chuda]\npoll = 5ms\n'; } > run.conf
hup
t_match "bad poll: refused" "reload failed, keeping the running config: .*poll: at least 10ms" "$(grep -e 'reload failed' -e 'reloaded config' run.log | tail -1)"
old_set_kept "bad poll"

# --- the same set without an error is taken whole ------------------------------------
new_conf > run.conf
hup
t_match "good reload" "reloaded config and [0-9]+ templates" "$(grep -e 'reload failed' -e 'reloaded config' run.log | tail -1)"
probe "good reload"
t_eq "new copy, new default_tz" "新文案围巾 10:00" "$(body_of oR1xxxxxxxxxxxxxxxxxxxxxxxxx)"
t_eq "new policy: potential has no usable channel" suppressed "$(msg_state "$P2")"
t_eq "the new template is sent" sent "$(msg_state "$P3")"

# --- ca_file is reloaded: without the test CA the simulator's certificate fails --------
{ new_conf; printf '[channel.mp_subscribe]\nmax_attempts = 1\n'; } | grep -v '^ca_file' > run.conf
hup
t_match "reload without ca_file" "reloaded config" "$(grep -e 'reload failed' -e 'reloaded config' run.log | tail -1)"
id=$(chuda enqueue --user r1 --template note --var product=围巾 --var at=0)
# (a certificate failure pauses the channel, the message waits: README, Guarantees)
t_ok "without the test CA: deferred" wait_for 20 sh -c \
    "\"$CHUDA\" -c chuda.conf log --format json --message $id --event deferred | grep -q '\"code\":\"tls\"'"
t_eq "without the test CA: not sent, still queued" queued "$(msg_state "$id")"
t_match "the reason is the certificate" "TLS verification failed .*certificate" \
    "$(chuda log --format json --message "$id" --event deferred)"
new_conf > run.conf
hup
id=$(chuda enqueue --user r1 --template note --var product=围巾 --var at=0)
t_ok "with the test CA again: sent (the reload ends the TLS pause)" wait_for 20 msg_is "$id" sent

# --- a reload while a request is out: it finishes and logs its variant -------------------
sim_ctl POST /_sim/fault '{"path":"/cgi-bin/message/subscribe/send","count":1,"delay_ms":1500}' >/dev/null
id=$(chuda enqueue --user r1 --template recall_30d)
t_ok "request in flight" wait_for 10 sh -c "test \$(sqlite3 chuda.db 'select count(*) from queue where inflight is not null') -ge 1"
hup
t_ok "in-flight request finished after the reload" wait_for 20 final "$id"
want=$(python3 -c '
import hashlib
h = int.from_bytes(hashlib.sha256(b"variant\0recall_30d\0r1").digest()[:8], "big")
print("ab"[h % 100 >= 50])')
t_match "its variant is logged" "variant=$want" "$(chuda log --format json --message "$id" --event sent)"

kill -TERM $RUN; wait $RUN; rc=$?
t_eq "SIGTERM after the reloads: exit 0" 0 "$rc"
t_done
