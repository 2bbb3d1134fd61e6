#!/usr/bin/env bash
# What a restart must not change, and what a reload must change, with the
# settable clock (ACMED_FAKE_NOW):
#  1. the backoff ladder (1 min, 10 min, 100 min, 6 h, each plus a stable
#     jitter of up to a tenth) is kept in the state: a daemon started
#     within the wait adds no attempt (attempt ledger, failure count and
#     Pebble's orders unchanged); at the stored time the next attempt runs.
#     (Retry-After across separate processes: test_problems.sh.)
#  2. SIGHUP with a broken configuration (two errors, both logged) keeps the
#     running configuration in use, also by the renewal worker it starts;
#     a fixed configuration is swapped in and its new certificate issued at
#     once.  (Notify protocol and file:line diagnostics: test_notify.sh.)
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

export PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0
C=$T/config S=$T/state O=$T/out HP=${CHALL_HTTP_PORT:-5002}
PY=/usr/bin/python3 SOCK=$T/notify.sock MSGS=$T/notify.txt
mkdir -p "$C" "$O"

start_pebble

# Every sd_notify datagram, one assignment per line.
cat >"$T/notify_listener.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    f.write("LISTENING\n")
    while True:
        for line in s.recv(65536).decode("utf-8", "replace").split("\n"):
            if line:
                f.write(line + "\n")
EOF
"$PY" "$T/notify_listener.py" "$SOCK" "$MSGS" 2>"$T/listener.err" &
track_pid $!
wait_for 5 grep -q LISTENING "$MSGS" 2>/dev/null || die "notify listener starts" "$(cat "$T/listener.err")"

cert() { # cert NAME PORT
    cat <<EOF
  - name: $1
    domains: [$1.example.org]
    challenge: {type: http-01, listen: "127.0.0.1:$2"}
    output: $O/$1
EOF
}
head_cfg() {
    cat <<EOF
cas:
  - name: pebble
    directory: $PEBBLE_DIR_URL
    contact: [mailto:admin@example.org]
    ca_bundle: $PEBBLE_CA_BUNDLE
certificates:
EOF
}

acmed() { "$ACMED" --config-dir "$C" --state-dir "$S" "$@"; }
sql() { sqlite3 -batch -noheader "$S/acmed.db" "$@"; }
new_orders() { grep -c 'POST /order-plz' "$T/pebble/pebble.log"; }
alive() { [[ -e /proc/$1 && $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }
DN=0
start_daemon() { # start_daemon [FAKE_NOW]
    DN=$((DN + 1))
    : >"$MSGS"
    ACMED_FAKE_NOW=${1:-} NOTIFY_SOCKET=$SOCK "$ACMED" --config-dir "$C" --state-dir "$S" run >"$T/daemon-$DN.log" 2>&1 &
    DPID=$!
    track_pid "$DPID"
}
stop_daemon() {
    kill -TERM "$DPID"
    wait_for 10 not alive "$DPID"
    wait "$DPID" 2>/dev/null
}
status_line() { grep '^STATUS=' "$MSGS" | tail -n 1; }
idle() { status_line | grep -q 'next: ' && ! status_line | grep -q 'renewing'; }

# ---- 1. the backoff ladder across restarts ---------------------------------------
{
    head_cfg
    cert bad 5999 # Pebble validates on $HP: this one always fails
} >"$C/acmed.yaml"
T0=$(date +%s)
ACMED_FAKE_NOW=$T0 acmed run --once >"$T/bad-1.log" 2>&1
expect_eq "bad: the first attempt fails (exit 1)" "$?" 1
ladder() { sql "SELECT failures, last_attempt, next_check FROM certificates WHERE name = 'bad'"; }
attempts() { sql "SELECT count(*) FROM attempts WHERE name = 'bad' AND outcome = 'failed'"; }
steps=(60 600 6000 21600 21600)
for k in 1 2 3 4 5; do
    IFS='|' read -r failures last next <<<"$(ladder)"
    step=${steps[$((k - 1))]}
    wait_s=$((next - last))
    expect_eq "after failure $k: the state counts $k failure(s) and $k attempt(s)" "$failures $(attempts)" "$k $k"
    check "after failure $k: the next attempt waits $wait_s s: ${step} s plus at most a tenth" \
        test "$wait_s" -ge "$step" -a "$wait_s" -le $((step + step / 10))
    ((k == 5)) && break
    # A daemon started one second before that time: no worker, no attempt.
    before="$(ladder) $(attempts) $(new_orders)"
    start_daemon $((next - 1))
    if wait_for 10 idle; then
        ok "failure $k: a daemon started 1 s before the retry time sleeps ($(status_line))"
    else
        fail "failure $k: a daemon started 1 s before the retry time sleeps" "$(status_line)" "$(tail -n 3 "$T/daemon-$DN.log")"
    fi
    stop_daemon
    expect_eq "failure $k: that restart added no attempt, no failure and no order at Pebble" \
        "$(ladder) $(attempts) $(new_orders)" "$before"
    # At the stored time, the next attempt.
    ACMED_FAKE_NOW=$next acmed run --once >"$T/bad-$((k + 1)).log" 2>&1
    expect_eq "failure $k: at the retry time the pass tries again (and fails, exit 1)" "$?" 1
done

# ---- 2. SIGHUP: a broken configuration keeps the running one in use ---------------
{
    head_cfg
    cert h1 "$HP"
} >"$C/acmed.yaml"
acmed run --once >"$T/h1.log" 2>&1
expect_eq "h1 is issued (exit 0)" "$?" 0
serial1=$(openssl x509 -in "$O/h1/cert.pem" -noout -serial)
start_daemon
wait_for 10 idle || fail "the daemon starts and sleeps" "$(status_line)"

# Broken: an unknown key and a certificate without domains.  And h1's
# files are gone, so the running configuration has work for a worker.
cat >"$C/zz-new.yaml" <<EOF
certificates:
  - name: h2
    domains: [h2.example.org]
    challenge: {type: http-01, listen: "127.0.0.1:$HP"}
    outptu: $O/h2
  - name: h3
    challenge: {type: http-01, listen: "127.0.0.1:$HP"}
    output: $O/h3
EOF
rm -rf "$O/h1"
orders=$(new_orders)
kill -HUP "$DPID"
wait_for 10 grep -q 'keeping the running configuration' "$T/daemon-$DN.log"
check "broken reload: the first error is logged with file and line (outptu)" \
    grep -q "zz-new.yaml:5:[0-9]*: .*outptu" "$T/daemon-$DN.log"
check "broken reload: the second error is logged with file and line (domains)" \
    grep -Eq "zz-new.yaml:[67]:[0-9]*: .*domains" "$T/daemon-$DN.log"
check "broken reload: the daemon keeps running" alive "$DPID"
wait_for 20 test -s "$O/h1/cert.pem"
check "broken reload: the running configuration still renews h1 (its files were removed)" test -s "$O/h1/cert.pem"
serial_new=$(openssl x509 -in "$O/h1/cert.pem" -noout -serial 2>/dev/null)
check "broken reload: h1 got a new certificate" test -n "$serial_new" -a "$serial_new" != "$serial1"
check "broken reload: nothing of the broken file is used (no h2, h3)" test ! -e "$O/h2" -a ! -e "$O/h3"
check "broken reload: the worker did not fail on the broken files" not grep -q 'renewal worker exited with status 78' "$T/daemon-$DN.log"

# Fixed: h2 is swapped in and issued now, not at the next wake.
cat >"$C/zz-new.yaml" <<EOF
certificates:
  - name: h2
    domains: [h2.example.org]
    challenge: {type: http-01, listen: "127.0.0.1:$HP"}
    output: $O/h2
EOF
SECONDS=0
kill -HUP "$DPID"
wait_for 10 grep -q 'configuration reloaded: 2 certificate' "$T/daemon-$DN.log"
check "good reload: the new configuration (2 certificates) is swapped in" grep -q 'configuration reloaded: 2 certificate' "$T/daemon-$DN.log"
wait_for 20 test -s "$O/h2/cert.pem"
check "good reload: the new certificate h2 is issued at once (${SECONDS}s)" test -s "$O/h2/cert.pem"
stop_daemon
expect_eq "orders at Pebble: one for h1 and one for h2" "$(new_orders)" $((orders + 2))

sanitizer_check "$T"/*.log
finish
