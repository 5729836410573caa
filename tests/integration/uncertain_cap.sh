# uncertain_cap.sh — a message its class does not resend after an uncertain request
# (marketing: on_uncertain = drop) still counts as a touch: it may have reached the user.
# A 503 from the provider makes the first marketing message uncertain, then failed; with
# the tier's cap at 1 a week, the user's next marketing message meets the cap
# (suppressed: marketing is dropped at the cap), not sent. A lifecycle message after an uncertain one (on_uncertain = retry) is resent
# and counted once.
. tests/lib.sh "$1"
cd "$T_WORK"
chuda_setup "" "$PIPELINE_ONLY
[tier.once]
cap = 1/7d
channels = mp_subscribe"
printf 'user_id,tier,mp_openid\nq1,once,oQ1xxxxxxxxxxxxxxxxxxxxxxxxx\nq2,once,oQ2xxxxxxxxxxxxxxxxxxxxxxxxx\n' >users.csv
t_ok "users import" chuda users import users.csv
sends() { sim_requests /cgi-bin/message/subscribe/send | grep -c "$1"; }

# marketing: uncertain, dropped, and counted
sim_fault '{"path":"/cgi-bin/message/subscribe/send","status":503,"count":1}'
m1=$(chuda enqueue --user q1 --template browse_abandoned --var product=围巾)
t_ok "run" chuda run --until-idle
t_eq "the 503 is uncertain, marketing drops it" "enqueued,uncertain,failed" "$(msg_events "$m1")"
m2=$(chuda enqueue --user q1 --template browse_abandoned --var product=手套)
t_ok "run again" chuda run --until-idle
t_eq "the next marketing message meets the cap (the dropped one counted)" \
    "enqueued,suppressed" "$(msg_events "$m2")"
t_match "... and says so" '^cap 1/7d reached: 1 sends since' "$(msg_field "$m2" suppressed reason)"
t_eq "the simulator saw q1 once (the 503)" 1 "$(sends oQ1x)"

# lifecycle: uncertain, resent, counted once
sim_fault '{"path":"/cgi-bin/message/subscribe/send","status":503,"count":1}'
m3=$(chuda enqueue --user q2 --template cart_abandoned --var product=帽子)
t_ok "run (lifecycle)" chuda run --until-idle
t_eq "lifecycle: uncertain, retried, sent" "enqueued,uncertain,retry,sent" \
    "$(chuda log --format json --message "$m3" | python3 -c '
import json, sys; print(",".join(json.loads(l)["event"] for l in sys.stdin))')"
t_eq "lifecycle: one confirmed send in the ledger for it" 1 \
    "$(sqlite3 chuda.db "select count(*) from sends where message_id=$m3 and state='sent'")"
t_done
