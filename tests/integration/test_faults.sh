#!/usr/bin/env bash
# A hostile world.  1. Hundreds of injected faults (5xx and 429 with and
# without Retry-After, resets, stalls past acmed's timeout, truncated,
# non-JSON, mistyped and 10 MiB bodies, untrusted TLS certificates) over
# every request kind and ten certificates, through the extension proxy
# (faultrun.py drives the rounds and checks them: no crash, live files
# untouched, every Retry-After honoured, all issued at the first retry
# after the faults stop).  2. Pebble rejecting half of all nonces: 100 of
# 100 issuances succeed.  3. The CA down: "acmed run" with 100
# certificates is READY within 2 s and runs no hook.
# FAULT_ROUNDS=N runs N faulty rounds (debugging; fewer than the default
# fail the fault-count checks).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/acmeproxy.sh
source "$TESTS_DIR/acmeproxy.sh"

PY=/usr/bin/python3
HP=${CHALL_HTTP_PORT:-5002}
export PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=0
SECONDS=0

# A reload hook that only records that it ran.
cat >"$T/hook.sh" <<EOF
#!/bin/sh
echo "\$1" >>"$T/hook.log"
EOF
chmod 755 "$T/hook.sh"

# ---- 1. faults through the proxy -------------------------------------------------
# No nonce rejection here: the faults are the proxy's.
PEBBLE_WFE_NONCEREJECT=0 start_pebble
proxy_start "$T/pebble" || die "the ACME extension proxy starts"
C1=$T/config1 S1=$T/state1 O1=$T/out1 L1=$T/logs1
mkdir -p "$C1" "$O1" "$L1"
"$PY" "$TESTS_DIR/faultrun.py" --acmed "$ACMED" --config "$C1" --state "$S1" \
    --out "$O1" --ctrl "$PROXY_CTRL" --dir-url "$PROXY_DIR_URL" \
    --ca-bundle "$PEBBLE_CA_BUNDLE" --hook "$T/hook.sh" --hook-log "$T/hook.log" \
    --logdir "$L1" --http-port "$HP" ${FAULT_ROUNDS:+--rounds "$FAULT_ROUNDS"} >"$T/faultrun.out" 2>&1
rc=$?
while IFS= read -r line; do
    case $line in
    "PASS: "*) ok "faults: ${line#PASS: }" ;;
    "FAIL: "*) fail "faults: ${line#FAIL: }" ;;
    "      "*) echo "$line" ;;
    [0-9]*" passed, "*) ;;
    *) echo "$line" ;;
    esac
done <"$T/faultrun.out"
expect_eq "faultrun.py exits 0 (no Python error)" "$rc" "$(grep -q '^FAIL: ' "$T/faultrun.out" && echo 1 || echo 0)"
grep -q '^faults: ' "$T/faultrun.out" || fail "faultrun.py printed its fault count" "$(tail -n 20 "$T/faultrun.out")"
sanitizer_check "$L1"/*.log
echo "(part 1 took ${SECONDS}s)"
proxy_stop "$T/pebble"
pebble_stop "$T/pebble"

# certs_yaml CA-NAME DIRECTORY N PREFIX OUT: a configuration of N certificates.
certs_yaml() {
    local i
    printf 'global:\n  max_parallel: 32\n  post_renew_hook: [%s, post]\n' "$T/hook.sh"
    printf 'cas:\n  - name: %s\n    directory: %s\n    contact: [mailto:admin@example.org]\n' "$1" "$2"
    [[ -n ${PEBBLE_CA_BUNDLE:-} ]] && printf '    ca_bundle: %s\n' "$PEBBLE_CA_BUNDLE"
    echo "certificates:"
    for ((i = 0; i < $3; i++)); do
        printf '  - name: %s%d\n    domains: [%s%d.example.org]\n' "$4" "$i" "$4" "$i"
        printf '    challenge: {type: http-01, listen: "127.0.0.1:%s"}\n' "$HP"
        printf '    output: %s/%s%d\n    reload: [%s, %s%d]\n' "$5" "$4" "$i" "$T/hook.sh" "$4" "$i"
    done
}

# ---- 2. half of all nonces rejected: 100 of 100 issuances ------------------------
SECONDS=0
PEBBLE_WFE_NONCEREJECT=50 start_pebble
C2=$T/config2 S2=$T/state2 O2=$T/out2
mkdir -p "$C2" "$O2"
certs_yaml pebble "$PEBBLE_DIR_URL" 100 n "$O2" >"$C2/acmed.yaml"
: >"$T/hook.log"
ACMED_DEBUG=1 "$ACMED" --config-dir "$C2" --state-dir "$S2" renew --all >"$T/nonce.log" 2>&1
expect_eq "PEBBLE_WFE_NONCEREJECT=50: renew --all of 100 certificates exits 0" "$?" 0
issued=$(sqlite3 -batch -noheader "$S2/acmed.db" \
    "SELECT count(DISTINCT serial) FROM certificates WHERE serial IS NOT NULL AND failures = 0")
expect_eq "100 of 100 issuances succeeded (distinct serials, no failure recorded)" "$issued" 100
expect_eq "100 certificates installed whose serial is the recorded one" "$("$PY" - "$S2/acmed.db" "$O2" <<'EOF2'
import os, sqlite3, sys
from cryptography import x509
n = 0
for name, serial in sqlite3.connect(sys.argv[1]).execute("SELECT name, serial FROM certificates"):
    try:
        with open(os.path.join(sys.argv[2], name, "cert.pem"), "rb") as f:
            c = x509.load_pem_x509_certificate(f.read())
    except (OSError, ValueError):
        continue
    names = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    n += "%x" % c.serial_number == serial.lstrip("0") and names == [name + ".example.org"]
print(n)
EOF2
)" 100
bad_nonces=$(grep -c 'badNonce, retrying' "$T/nonce.log")
check "badNonce answers were met and retried ($bad_nonces of them)" test "$bad_nonces" -ge 100
expect_eq "each reload hook ran once, then the post-renew hook" \
    "$(sort "$T/hook.log" | uniq -c | awk '$1 != 1' | wc -l) $(grep -c . "$T/hook.log") $(tail -n 1 "$T/hook.log")" "0 101 post"
check "no certificate hit the badNonce bound" not grep -q 'nonces in a row' "$T/nonce.log"
echo "(part 2: 100 issuances, $bad_nonces badNonce retries, ${SECONDS}s)"
pebble_stop "$T/pebble"

# ---- 3. the CA down: READY=1 within 2 s with 100 certificates, no hook -----------
unset PEBBLE_CA_BUNDLE
C3=$T/config3 S3=$T/state3 O3=$T/out3 SOCK=$T/notify.sock MSGS=$T/notify.txt LOG3=$T/daemon.log
mkdir -p "$C3"
certs_yaml down https://127.0.0.1:1/dir 100 d "$O3" >"$C3/acmed.yaml"
: >"$T/hook.log"
# Records every datagram's lines as "UNIXTIME<TAB>LINE".
cat >"$T/listener.py" <<'EOF2'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    f.write("%.3f\tLISTENING\n" % time.time())
    while True:
        data = s.recv(65536)
        now = time.time()
        for line in data.decode("utf-8", "replace").split("\n"):
            if line:
                f.write("%.3f\t%s\n" % (now, line))
EOF2
"$PY" "$T/listener.py" "$SOCK" "$MSGS" 2>"$T/listener.err" &
track_pid $!
wait_for 5 grep -q LISTENING "$MSGS" 2>/dev/null || die "notify listener starts" "$(cat "$T/listener.err")"
start=$(date +%s.%N)
NOTIFY_SOCKET=$SOCK "$ACMED" --config-dir "$C3" --state-dir "$S3" run >"$LOG3" 2>&1 &
DPID=$!
track_pid "$DPID"
wait_for 5 grep -q $'\tREADY=1$' "$MSGS"
ready=$(awk -F'\t' '$2 == "READY=1" { print $1; exit }' "$MSGS")
if [[ -n $ready ]] && "$PY" -c 'import sys; sys.exit(0 if float(sys.argv[2]) - float(sys.argv[1]) <= 2.0 else 1)' "$start" "$ready"; then
    ok "CA down, 100 certificates: READY=1 within 2 s of the start ($("$PY" -c 'import sys; print("%.2f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$start" "$ready") s)"
else
    fail "CA down, 100 certificates: READY=1 within 2 s of the start" "start $start, READY at ${ready:-never}" "$(tail -n 5 "$LOG3")"
fi
# The worker tries all 100 against the dead CA; then the daemon waits.
failing() { [[ $(sqlite3 -batch -noheader "$S3/acmed.db" "SELECT count(*) FROM certificates WHERE failures > 0" 2>/dev/null) == 100 ]]; }
check "CA down: the first pass records all 100 certificates as failed" wait_for 30 failing
check "CA down: the daemon reports 100 failing" wait_for 5 grep -q $'\tSTATUS=.*100 failing' "$MSGS"
check "CA down: the daemon is still running" kill -0 "$DPID"
check "CA down: no live file was written" test ! -e "$O3"
expect_eq "CA down: no hook ran" "$(cat "$T/hook.log")" ""
kill -TERM "$DPID"
wait_for 10 not kill -0 "$DPID" 2>/dev/null
wait "$DPID"
expect_eq "CA down: SIGTERM, exit 0" "$?" 0
sanitizer_check "$T/nonce.log" "$LOG3"

finish
