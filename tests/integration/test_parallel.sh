#!/usr/bin/env bash
# One pass over 20 certificates at Pebble with the default max_parallel (4),
# and one more at a CA that completes TLS and then does not answer.  One of
# the 20 fails: its dns-01 hook holds its thread until the other 19 are
# installed, then fails; the silent CA holds the first request of its
# session setup just as long, then hangs up.  So the 19 are installed while
# both are in progress: had they waited for either, that gate would have
# given up after 25 s and said so.  Both failures are recorded with errors.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

export PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0
C=$T/config S=$T/state O=$T/out HP=${CHALL_HTTP_PORT:-5002}
PY=/usr/bin/python3
N=20
mkdir -p "$C" "$O"

start_pebble
ROOT=$T/pebble/pebble-root.pem

# gate_open: are the other certificates all installed?
cat >"$T/gate_open.sh" <<EOF
#!/bin/bash
(( \$(ls "$O"/good*/cert.pem 2>/dev/null | wc -l) == $((N - 1)) ))
EOF
chmod 755 "$T/gate_open.sh"

# A CA that completes TLS, reads the request and answers nothing until the
# other certificates are all installed (at most 25 s); then it hangs up.
cat >"$T/silent.py" <<'EOF'
import os, socket, ssl, subprocess, sys, threading, time
portfile, cert, key, gate, log = sys.argv[1:6]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(portfile + ".tmp", portfile)
def serve(c):
    try:
        t = ctx.wrap_socket(c, server_side=True)
        t.recv(65536)
        for i in range(250):
            if subprocess.call([gate]) == 0:
                msg = "silent CA: hung up once the others were installed"
                break
            time.sleep(0.1)
        else:
            msg = "silent CA: timed out"
        with open(log, "a") as f:
            f.write(msg + "\n")
        t.close()
    except (OSError, ssl.SSLError) as e:
        with open(log, "a") as f:
            f.write("silent CA: %s\n" % e)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
"$PY" "$T/silent.py" "$T/silent.port" "$T/pebble/cert.pem" "$T/pebble/key.pem" "$T/gate_open.sh" "$T/silent.log" 2>"$T/silent.err" &
track_pid $!
wait_for 5 test -s "$T/silent.port" || die "the silent CA listens" "$(cat "$T/silent.err")"

# The failing certificate's dns-01 hook: on "add", wait until the other
# certificates are all installed (at most 25 s), then fail.
cat >"$T/gate.sh" <<EOF
#!/bin/bash
[[ \$1 == add ]] || exit 0
for ((i = 0; i < 250; i++)); do
    if "$T/gate_open.sh"; then
        echo "dns-01 hook: failed once the others were installed" >>"$T/gate.log"
        exit 1
    fi
    sleep 0.1
done
echo "dns-01 hook: timed out" >>"$T/gate.log"
exit 1
EOF
chmod 755 "$T/gate.sh"

{
    cat <<EOF
cas:
  - name: silent
    directory: https://127.0.0.1:$(<"$T/silent.port")/dir
    contact: [mailto:admin@example.org]
    ca_bundle: $PEBBLE_CA_BUNDLE
  - name: pebble
    directory: $PEBBLE_DIR_URL
    contact: [mailto:admin@example.org]
    ca_bundle: $PEBBLE_CA_BUNDLE
certificates:
  - name: hang
    ca: silent
    domains: [hang.example.org]
    challenge: {type: http-01, listen: "127.0.0.1:$HP"}
    output: $O/hang
  - name: failing
    ca: pebble
    domains: [failing.example.org]
    challenge: {type: dns-01, hook: [$T/gate.sh]}
    output: $O/failing
EOF
    for ((i = 1; i < N; i++)); do
        cat <<EOF
  - name: good$i
    ca: pebble
    domains: [good$i.example.org]
    challenge: {type: http-01, listen: "127.0.0.1:$HP"}
    output: $O/good$i
EOF
    done
} >"$C/acmed.yaml"
"$ACMED" --config-dir "$C" check >"$T/check.log" 2>&1 || die "the configuration is valid" "$(cat "$T/check.log")"

sql() { sqlite3 -batch -noheader "$S/acmed.db" "$@"; }

SECONDS=0
"$ACMED" --config-dir "$C" --state-dir "$S" renew --all >"$T/renew.log" 2>&1 &
RPID=$!
track_pid "$RPID"
wait_for 40 not test -e "/proc/$RPID/stat"
wait "$RPID"
rc=$?
echo "the pass took ${SECONDS}s"
expect_eq "the pass exits 1 (two certificates failed)" "$rc" 1
expect_eq "the failing certificate's hook failed only once the others were installed" "$(cat "$T/gate.log" 2>/dev/null)" \
    "dns-01 hook: failed once the others were installed"
expect_eq "the silent CA held its request until the others were installed" "$(cat "$T/silent.log" 2>/dev/null)" \
    "silent CA: hung up once the others were installed"
check "the pass logs $((N - 1)) renewed, 2 failed" grep -q "pass done: $((N - 1)) renewed, 0 not due, 2 failed" "$T/renew.log"

installed=0 verified=0
for ((i = 1; i < N; i++)); do
    [[ -s $O/good$i/cert.pem ]] && installed=$((installed + 1))
    openssl verify -CAfile "$ROOT" -untrusted "$O/good$i/chain.pem" "$O/good$i/cert.pem" >/dev/null 2>&1 &&
        verified=$((verified + 1))
done
expect_eq "all $((N - 1)) good certificates installed" "$installed" $((N - 1))
expect_eq "all $((N - 1)) verify up to Pebble's root" "$verified" $((N - 1))
expect_eq "the state records $((N - 1)) successes" \
    "$(sql "SELECT count(*) FROM certificates WHERE name LIKE 'good%' AND serial IS NOT NULL AND failures = 0")" $((N - 1))
# From the state's own times: every success was recorded no later than the
# two failures (which the gates held back until then).
expect_eq "no good certificate finished after the failing ones" \
    "$(sql "SELECT count(*) FROM certificates g, certificates f WHERE f.name IN ('failing', 'hang') AND g.name LIKE 'good%' AND g.last_success > f.last_attempt")" 0
expect_eq "the failing certificate: no serial, one failure" \
    "$(sql "SELECT quote(serial), failures FROM certificates WHERE name = 'failing'")" "NULL|1"
check "the failing certificate's error names its challenge" grep -q 'dns-01' <<<"$(sql "SELECT last_error FROM certificates WHERE name = 'failing'")"
expect_eq "the failing certificate has no files" "$(ls -A "$O/failing" 2>/dev/null)" ""
expect_eq "the silent CA's certificate: no serial, one failure" \
    "$(sql "SELECT quote(serial), failures FROM certificates WHERE name = 'hang'")" "NULL|1"

sanitizer_check "$T/renew.log"
finish
