#!/usr/bin/env bash
# Crash safety: kill -9 the daemon ("acmed run"), its "acmed renew --due"
# worker, or both, at random moments while four certificates are issued and
# renewed against Pebble (through the extension proxy), restarting each time.
# After every kill: each certificate that had a live pair still has one, key
# and certificate matching; nothing but the design's names in the output
# directories; PRAGMA integrity_check = ok.  Then fixed cases: killed
# mid-authorization, before finalize and before download, the restart
# resumes the order and places none; SIGTERM mid-issuance exits in bounded
# time with the order kept; a reload hook killed mid-run runs again.  In the
# end all certificates verify against Pebble's root and the new orders at
# Pebble are bounded by kills + issuances.
# CRASH_KILLS (default 20) sets the number of random kills; CRASH_SEED the
# random seed (printed, for a re-run).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/acmeproxy.sh
source "$TESTS_DIR/acmeproxy.sh"

# No authorization reuse: every order has challenges to answer (and to be
# killed in), so each stall rule below has a request to catch.
export PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0
C=$T/config S=$T/state O=$T/out HP=${CHALL_HTTP_PORT:-5002}
KILLS=${CRASH_KILLS:-20}
SEED=${CRASH_SEED:-$$}
RANDOM=$SEED
NAMES=(c1 c2 c3 c4)
mkdir -p "$C" "$O"
echo "random seed: CRASH_SEED=$SEED"

SECONDS=0
start_pebble
proxy_start "$T/pebble" || die "the ACME extension proxy starts"
ROOT=$T/pebble/pebble-root.pem

# The reload hook records its start and end with the serial; how long it
# sleeps in between is read from a file, so that each phase can set it.
echo 0.2 >"$T/hook_sleep"
cat >"$T/hook.sh" <<EOF
#!/bin/sh
serial=\$(echo "\$ACMED_SERIAL" | tr A-F a-f | sed 's/^0*//')
echo "start \$ACMED_CERT_NAME \$serial \$\$" >>"$T/hooks.log"
sleep "\$(cat "$T/hook_sleep")"
echo "done \$ACMED_CERT_NAME \$serial \$\$" >>"$T/hooks.log"
EOF
chmod 755 "$T/hook.sh"
: >"$T/hooks.log"

# config NAME=KEYTYPE...: the certificates to declare, each with its key
# type (a changed key type makes that certificate due: a renewal).
declare -A KEY=()
config() {
    local n
    {
        cat <<EOF
cas:
  - name: px
    directory: $PROXY_DIR_URL
    contact: [mailto:admin@example.org]
    ca_bundle: $PEBBLE_CA_BUNDLE
certificates:
EOF
        for n in "${NAMES[@]}"; do
            [[ -n ${KEY[$n]:-} ]] || continue
            cat <<EOF
  - name: $n
    domains: [$n.example.org, www.$n.example.org]
    key: ${KEY[$n]}
    challenge: {type: http-01, listen: "127.0.0.1:$HP"}
    output: $O/$n
    reload: [$T/hook.sh]
EOF
        done
    } >"$C/acmed.yaml"
}

acmed() { "$ACMED" --config-dir "$C" --state-dir "$S" "$@"; }
sql() { sqlite3 -batch -noheader "$S/acmed.db" "$@"; }
new_orders() { grep -c 'POST /order-plz' "$T/pebble/pebble.log"; }
alive() { [[ -e /proc/$1 && $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }
pubkey_of() { # pubkey_of key|cert FILE: the SubjectPublicKeyInfo, hashed
    if [[ $1 == key ]]; then
        openssl pkey -in "$2" -pubout 2>/dev/null | sha256sum
    else
        openssl x509 -in "$2" -noout -pubkey 2>/dev/null | sha256sum
    fi
}
serial_of() { normserial "$(openssl x509 -in "$1" -noout -serial 2>/dev/null)"; }
curve_of() { openssl x509 -in "$1" -noout -text 2>/dev/null | grep -Eo 'prime256v1|secp384r1' | head -n 1; }
want_curve() { [[ ${KEY[$1]} == ec-p384 ]] && echo secp384r1 || echo prime256v1; }

# The daemon in its own process group (setsid: its pid is the group's id).
DLOG_N=0
start_daemon() {
    DLOG_N=$((DLOG_N + 1))
    setsid "$ACMED" --config-dir "$C" --state-dir "$S" run >"$T/daemon-$DLOG_N.log" 2>&1 &
    DPID=$!
    track_pid "$DPID"
    disown "$DPID" # no "Killed" notices; lib.sh still reaps it
}
worker_pid() { pgrep -P "$DPID" 2>/dev/null | head -n 1; }
# Hooks run in their own process groups and would outlive a killed worker;
# a crash of the machine would not let them finish either.
declare -A HOOK_SEEN=()
kill_hooks() {
    local pid
    for pid in $(awk '$1 == "start" { print $4 }' "$T/hooks.log"); do
        [[ -n ${HOOK_SEEN[$pid]:-} ]] && continue
        HOOK_SEEN[$pid]=1
        # Only our hook (its process group: the script and its sleep).
        { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF "$T/hook.sh" &&
            kill -KILL -- "-$pid" 2>/dev/null
    done
    return 0
}
reap() { # reap PID...: wait until gone
    local pid
    for pid in "$@"; do
        [[ -n $pid ]] || continue
        wait_for 10 not alive "$pid"
        wait "$pid" 2>/dev/null
    done
    return 0
}

# Live serial per certificate, "" if none; LIVE is updated by check_state.
declare -A LIVE=()
VIOLATIONS=()
violation() { VIOLATIONS+=("after kill $KILLNO ($MODE): $*"); }

# The invariants that must hold whenever no acmed process is running.
check_state() {
    local n d v f entry serial kp cp
    for n in "${NAMES[@]}"; do
        d=$O/$n
        if [[ ! -L $d/.live ]]; then
            [[ -n ${LIVE[$n]:-} ]] && violation "$n: its live pair ${LIVE[$n]} is gone"
            for f in privkey.pem cert.pem chain.pem fullchain.pem; do
                [[ -e $d/$f || -L $d/$f ]] && violation "$n: $f exists without .live"
            done
        else
            v=$d/$(readlink "$d/.live")
            for f in privkey.pem cert.pem chain.pem fullchain.pem; do
                [[ -s $v/$f ]] || violation "$n: live $f missing or empty"
                cmp -s "$d/$f" "$v/$f" || violation "$n: $f is not the live version's"
            done
            [[ $(stat -c %a "$v/privkey.pem" 2>/dev/null) == 600 ]] || violation "$n: live privkey.pem is not mode 0600"
            kp=$(pubkey_of key "$v/privkey.pem")
            cp=$(pubkey_of cert "$v/cert.pem")
            [[ $kp == "$cp" && -n $cp ]] || violation "$n: live key and certificate do not match"
            serial=$(serial_of "$v/cert.pem")
            [[ $(normserial "$(basename "$v" | sed "s/^\.v-//")") == "$serial" ]] || violation "$n: .live points to $(basename "$v"), cert serial $serial"
            # The live version is complete: its four files and nothing else.
            [[ $(ls -A "$v" | sort | paste -sd' ') == "cert.pem chain.pem fullchain.pem privkey.pem" ]] ||
                violation "$n: live version holds: $(ls -A "$v" | paste -sd' ')"
            LIVE[$n]=$serial
        fi
        [[ -d $d ]] || continue
        for entry in "$d"/* "$d"/.[!.]*; do
            [[ -e $entry || -L $entry ]] || continue
            entry=${entry##*/}
            case $entry in
            privkey.pem | cert.pem | chain.pem | fullchain.pem | .live | .v-[0-9a-f]*) ;;
            # A staging link of a killed install: the next pass removes it.
            *.tmp.[0-9]*) [[ $MODE == final ]] && violation "$n: staging link $entry left behind" ;;
            *) violation "$n: unexpected entry $entry in the output directory" ;;
            esac
        done
    done
    [[ $(sql 'PRAGMA integrity_check' 2>&1) == ok ]] || violation "integrity_check: $(sql 'PRAGMA integrity_check' 2>&1 | head -n 3)"
}

round_done() { # every declared certificate live with its current key type, hook done
    local n
    for n in "${NAMES[@]}"; do
        [[ -n ${KEY[$n]:-} ]] || continue
        [[ -L $O/$n/.live && $(curve_of "$O/$n/cert.pem") == "$(want_curve "$n")" ]] || return 1
        [[ $(normserial "$(sql "SELECT serial FROM certificates WHERE name = '$n' AND hook_pending = 0" 2>/dev/null)") == "$(serial_of "$O/$n/cert.pem")" ]] || return 1
    done
}

# ---- calibration: c1 and c2 issued without interruption -------------------------
KEY=([c1]=ec-p256 [c2]=ec-p256)
config
t0=$(date +%s%N)
acmed run --once >"$T/calibrate.log" 2>&1
expect_eq "calibration: run --once issues c1 and c2 (exit 0)" "$?" 0
calib_ms=$((($(date +%s%N) - t0) / 1000000))
# Kill delays spread over about what one uninterrupted pass takes.
DMAX_MS=$((calib_ms + 100))
echo "calibration pass: ${calib_ms} ms; kill delays 0..${DMAX_MS} ms"
KILLNO=0 MODE=calibration
check_state
ISSUES=2 # issuances the configuration asked for so far
orders_before_loop=$(new_orders)

# ---- random kills: c3, c4 issued, then every certificate renewed ---------------
KEY=([c1]=ec-p384 [c2]=ec-p384 [c3]=ec-p256 [c4]=ec-p256)
ISSUES=$((ISSUES + 4))
config
ROUNDS=1 INFLIGHT=0
declare -A MODES=()
loop_start=$SECONDS
while ((KILLNO < KILLS)); do
    if round_done; then
        # Next round: flip every key type (a renewal of each).
        for n in "${NAMES[@]}"; do
            [[ ${KEY[$n]} == ec-p256 ]] && KEY[$n]=ec-p384 || KEY[$n]=ec-p256
        done
        config
        ROUNDS=$((ROUNDS + 1))
        ISSUES=$((ISSUES + ${#NAMES[@]}))
    fi
    KILLNO=$((KILLNO + 1))
    start_daemon
    delay=$((RANDOM * 32768 + RANDOM))
    delay=$((delay % (DMAX_MS + 1)))
    sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
    wpid=$(worker_pid)
    case $((RANDOM % 3)) in
    0)
        MODE=both
        kill -KILL -- "-$DPID"
        ;;
    1)
        MODE=worker
        [[ -n $wpid ]] && kill -KILL "$wpid" 2>/dev/null
        sleep 0.$((RANDOM % 3))
        kill -KILL -- "-$DPID"
        ;;
    2)
        # The daemon alone: its worker carries on, and dies a moment later.
        MODE=daemon
        kill -KILL "$DPID"
        sleep "0.$((RANDOM % 10))"
        kill -KILL -- "-$DPID" 2>/dev/null
        ;;
    esac
    MODES[$MODE]=$((${MODES[$MODE]:-0} + 1))
    reap "$DPID" "$wpid"
    kill_hooks
    check_state
    round_done || INFLIGHT=$((INFLIGHT + 1))
done
echo "random kills: $KILLNO ($INFLIGHT with work left) in $((SECONDS - loop_start)) s, ${ROUNDS} round(s); modes: both=${MODES[both]:-0} worker=${MODES[worker]:-0} daemon=${MODES[daemon]:-0}"
if ((${#VIOLATIONS[@]} == 0)); then
    ok "after each of $KILLNO random kills: live pairs kept and matching, output dirs clean, integrity ok"
else
    fail "after each of $KILLNO random kills: live pairs kept and matching, output dirs clean, integrity ok" "${VIOLATIONS[@]:0:10}"
fi
VIOLATIONS=()

# Let the last round finish without interruption.  A kill while Pebble
# validated can make a resumed authorization fail (a recorded failure, in
# backoff): then a second pass with the clock past that backoff.
failed() { [[ $(sql 'SELECT count(*) FROM certificates WHERE failures > 0') != 0 ]]; }
done_or_failed() { round_done || failed; }
MODE=settle
start_daemon
wait_for 30 done_or_failed
kill -TERM "$DPID"
reap "$DPID"
if ! round_done && failed; then
    echo "after the kills: $(sql "SELECT name || ': ' || last_error FROM certificates WHERE failures > 0" | paste -sd';') -- once more past the backoff"
    ACMED_FAKE_NOW=$(($(date +%s) + 700)) start_daemon
    wait_for 30 round_done
    kill -TERM "$DPID"
    reap "$DPID"
fi
check_state
check "the last round completes after the kills" round_done
resumed=$(cat "$T"/daemon-*.log | grep -c 'resuming order')
loop_orders=$(($(new_orders) - orders_before_loop))
loop_issues=$((ISSUES - 2))
echo "during the random kills: $loop_orders new order(s) for $loop_issues issuance(s), $resumed resumption(s)"
check "new orders during the kills ($loop_orders) <= kills + issuances ($KILLNO + $loop_issues)" \
    test "$loop_orders" -le $((KILLNO + loop_issues))

# ---- fixed cases: an order in flight at a kill is resumed, not placed again ------
# Three renewals at once, each held in the proxy at another step: the first
# challenge answer (that certificate's order is pending), the first finalize
# (another's order is ready) and the first download (the third's is valid).
# A stalled certificate gets no further, so each rule catches a different one.
flip() { local n; for n in "$@"; do [[ ${KEY[$n]} == ec-p256 ]] && KEY[$n]=ec-p384 || KEY[$n]=ec-p256; done; }
stalled() { [[ $(proxy_ctl /injections | tr -d ' \n') == "[]" ]]; }
stall_rule() { printf '{"match": "%s", "action": "stall", "seconds": 60}' "$1"; }
# stall_start KIND... : inject one stall per KIND, start the daemon and wait
# until every one holds a request.
stall_start() {
    local rules="" k
    for k in "$@"; do rules+="${rules:+, }$(stall_rule "$k")"; done
    proxy_ctl /reset '{}' >/dev/null
    proxy_ctl /inject "{\"rules\": [$rules]}" >/dev/null
    start_daemon
    if ! wait_for 20 stalled; then
        fail "the renewals reach the stalled requests ($*)" "$(proxy_ctl /injections | tr -d ' \n')" "$(tail -n 12 "$T/daemon-$DLOG_N.log")" \
            "$(sql 'SELECT name, failures, last_error FROM certificates WHERE failures > 0')"
        kill -KILL -- "-$DPID"
        reap "$DPID"
        return 1
    fi
    ORDERS_AT_KILL=$(new_orders)
    WPID_AT_KILL=$(worker_pid)
}
# resume_after DESC NAME...: restart; the certificates are renewed by the
# orders placed before, no new one.
resume_after() {
    local desc=$1 n
    shift
    declare -A before=()
    MODE=$desc
    check_state
    for n in "$@"; do before[$n]=${LIVE[$n]}; done
    expect_eq "$desc: the orders are kept for resumption" "$(sql "SELECT count(*) FROM orders")" "$#"
    start_daemon
    wait_for 20 round_done
    kill -TERM "$DPID"
    reap "$DPID"
    check_state
    for n in "$@"; do
        check "$desc: after the restart $n is renewed" test "${LIVE[$n]}" != "${before[$n]}" -a "$(curve_of "$O/$n/cert.pem")" == "$(want_curve "$n")"
        check "$desc: the restart resumes $n's order" grep -q "$n: resuming order" "$T/daemon-$DLOG_N.log"
    done
    expect_eq "$desc: the restart placed no new order" "$(new_orders)" "$ORDERS_AT_KILL"
}

flip c1 c2 c3
config
ISSUES=$((ISSUES + 3))
if stall_start challenge finalize cert; then
    for n in c1 c2 c3; do
        grep -Eq "$n: order .* is (pending|ready)" "$T/daemon-$DLOG_N.log" || fail "$n: an order was placed before the kill"
    done
    kill -KILL -- "-$DPID"
    reap "$DPID"
    kill_hooks
    resume_after "killed mid-authorization, before finalize and before download" c1 c2 c3
fi

# SIGTERM while a challenge is in flight: bounded exit, state kept.
flip c4
config
ISSUES=$((ISSUES + 1))
if stall_start challenge; then
    t0=$(date +%s%N)
    kill -TERM "$DPID"
    reap "$DPID"
    ms=$((($(date +%s%N) - t0) / 1000000))
    check "SIGTERM mid-issuance: the daemon exits within 5 s (${ms} ms)" test "$ms" -lt 5000
    check "SIGTERM mid-issuance: the worker ended too" not alive "${WPID_AT_KILL:-0}"
    check "SIGTERM mid-issuance: the pending key is kept" test -s "$S/pending/c4.key"
    resume_after "SIGTERM mid-issuance" c4
fi
proxy_ctl /reset '{}' >/dev/null

# ---- a reload hook killed while it runs is run again after the restart ------------
echo 30 >"$T/hook_sleep"
flip c2
config
ISSUES=$((ISSUES + 1))
orders=$(new_orders)
# What a crash mid-staging would leave (of a process that is gone): a link
# beside the stable names and a copy of a pending key.  The pass removes both.
dead=$(sh -c 'echo $$')
ln -s .live/cert.pem "$O/c1/cert.pem.tmp.$dead"
ln -s .v-0 "$O/c3/.live.tmp.$dead"
mkdir -p "$S/pending"
echo junk >"$S/pending/c2.key.tmp.$dead.0"
hl=$(wc -l <"$T/hooks.log")
hooks() { tail -n "+$((hl + 1))" "$T/hooks.log"; }
hook_started() { hooks | grep -q '^start c2 '; }
start_daemon
if wait_for 20 hook_started; then
    serial=$(hooks | awk '$1 == "start" && $2 == "c2" { print $3 }' | head -n 1)
    kill -KILL -- "-$DPID"
    reap "$DPID"
    kill_hooks
    expect_eq "mid-hook kill: the hook had not finished" "$(hooks | grep -c '^done c2')" 0
    expect_eq "a dead process's staging links are removed" "$(find "$O/c1" "$O/c3" -maxdepth 1 -name '*.tmp.*' | wc -l)" 0
    expect_eq "a dead process's staged pending key is removed" "$(find "$S/pending" -name '*.tmp.*' | wc -l)" 0
    expect_eq "mid-hook kill: the state says the hook is pending for the installed serial" \
        "$(sql "SELECT hook_pending FROM certificates WHERE name = 'c2'") $(normserial "$(sql "SELECT serial FROM certificates WHERE name = 'c2'")")" "1 $(normserial "$serial")"
    echo 0 >"$T/hook_sleep"
    start_daemon
    hook_recorded() { [[ $(sql "SELECT hook_pending FROM certificates WHERE name = 'c2'") == 0 ]]; }
    wait_for 20 hook_recorded
    kill -TERM "$DPID"
    reap "$DPID"
    expect_eq "mid-hook kill: after the restart the hook ran again for the same serial" \
        "$(hooks | awk '$1 == "start" && $2 == "c2" { print $3 }' | paste -sd' ')" "$serial $serial"
    check "mid-hook kill: the second run finished" grep -q "^done c2 $serial " <(hooks)
    expect_eq "mid-hook kill: hook_pending cleared, hook status 0" \
        "$(sql "SELECT hook_pending, hook_status FROM certificates WHERE name = 'c2'")" "0|0"
    expect_eq "mid-hook kill: no new order, no new certificate" \
        "$(new_orders) $(serial_of "$O/c2/cert.pem")" "$((orders + 1)) $serial"
else
    fail "mid-hook kill: the hook starts" "$(tail -n 5 "$T/daemon-$DLOG_N.log")"
fi

# ---- the end: everything valid, verified, clean ----------------------------------
MODE=final
check_state
if ((${#VIOLATIONS[@]} == 0)); then
    ok "fixed cases: live pairs kept and matching, output dirs clean, integrity ok"
else
    fail "fixed cases: live pairs kept and matching, output dirs clean, integrity ok" "${VIOLATIONS[@]:0:10}"
fi
for n in "${NAMES[@]}"; do
    check "$n: verifies with its chain up to Pebble's root" \
        openssl verify -CAfile "$ROOT" -untrusted "$O/$n/chain.pem" "$O/$n/cert.pem"
    check "$n: valid for at least a day" openssl x509 -in "$O/$n/cert.pem" -noout -checkend 86400
    expect_eq "$n: the state records the live serial, no error, hook done" \
        "$(normserial "$(sql "SELECT serial || '|' || failures || '|' || quote(last_error) || '|' || hook_pending FROM certificates WHERE name = '$n'")")" \
        "${LIVE[$n]}|0|NULL|0"
    # After an install only the live version and the one before remain.
    nv=$(find "$O/$n" -maxdepth 1 -name '.v-*' | wc -l)
    check "$n: at most two versions kept ($nv)" test "$nv" -le 2
    check "$n: the hook finished for the live serial" grep -q "^done $n ${LIVE[$n]} " "$T/hooks.log"
done
expect_eq "no order left in flight" "$(sql 'SELECT count(*) FROM orders')" 0
expect_eq "no pending key left" "$(ls -A "$S/pending" 2>/dev/null)" ""
total=$(new_orders)
echo "new orders at Pebble: $total for $ISSUES issuance(s) and $((KILLNO + 3)) kill(s)"
check "all new orders ($total) <= issuances + kills ($ISSUES + $KILLNO + 3)" test "$total" -le $((ISSUES + KILLNO + 3))
echo "whole test: ${SECONDS}s"

sanitizer_check "$T"/*.log
finish
