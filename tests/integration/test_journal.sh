#!/usr/bin/env bash
# Under journald (JOURNAL_STREAM names acmed's stderr), log lines go to the
# journal as structured entries: ACMED_CERT, ACMED_CA, ACMED_PROFILE and a
# stable MESSAGE_ID for events.  systemd is not PID 1 here, so the test runs
# acmed in a private mount namespace where /run/systemd/journal/socket is a
# datagram socket it owns (tests/integration/journal_sink.py), which really
# exercises libsystemd's sending code.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
ISSUED=2c6e9a0f3b5d4e7f8a1b2c3d4e5f6a71
FAILED=7d1f3a5b9c2e4f60a8b7c6d5e4f3a2b1
C=$T/config S=$T/state O=$T/out
mkdir -p "$C" "$O"

if ! unshare -m true 2>/dev/null; then
    die "unshare -m is not permitted here (needs root and mount namespaces)"
fi
export PEBBLE_VA_NOSLEEP=1
start_pebble
cat >"$C/acmed.yaml" <<EOF
cas:
  - name: pebble
    directory: $PEBBLE_DIR_URL
    ca_bundle: $PEBBLE_CA_BUNDLE
certificates:
  - name: www
    domains: [www.example.org]
    challenge: {type: http-01, listen: "127.0.0.1:${CHALL_HTTP_PORT:-5002}"}
    output: $O/www
  - name: broken
    domains: [broken.example.org]
    challenge: {type: http-01, listen: "127.0.0.1:5999"}
    output: $O/broken
EOF

# Inside the namespace: a fresh /run with our socket, then acmed with its
# stderr marked as the journal stream.
cat >"$T/inner.sh" <<EOF
set -e
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/journal
/usr/bin/python3 "$HERE/journal_sink.py" /run/systemd/journal/socket "$T/entries.jsonl" &
sink=\$!
for i in \$(seq 50); do [ -e "$T/entries.jsonl.ready" ] && break; sleep 0.1; done
exec 2>"$T/stderr.log"
export JOURNAL_STREAM=\$(stat -c '%d:%i' "$T/stderr.log")
set +e
"$ACMED" --config-dir "$C" --state-dir "$S" run --once
echo \$? >"$T/rc"
sleep 0.3
kill \$sink
EOF
unshare -m --propagation private bash "$T/inner.sh"
expect_eq "run --once exits 1 (one certificate fails)" "$(cat "$T/rc" 2>/dev/null)" 1
check "entries reached the journal socket" test -s "$T/entries.jsonl"

q() { /usr/bin/python3 -c "
import json,sys
for line in open('$T/entries.jsonl'):
    e=json.loads(line)
    if all(e.get(k)==v for k,v in (a.split('=',1) for a in sys.argv[1:])):
        print(e.get('MESSAGE',''))
" "$@"; }
check "the issued event carries MESSAGE_ID, ACMED_CERT, ACMED_CA and PRIORITY=5" \
    test -n "$(q MESSAGE_ID=$ISSUED ACMED_CERT=www ACMED_CA=pebble PRIORITY=5)"
check "the failure event carries its MESSAGE_ID, ACMED_CERT=broken and PRIORITY=3" \
    test -n "$(q MESSAGE_ID=$FAILED ACMED_CERT=broken ACMED_CA=pebble PRIORITY=3)"
check "ordinary lines of a certificate carry ACMED_CERT too" \
    test -n "$(q ACMED_CERT=www PRIORITY=6)"
check "every entry names SYSLOG_IDENTIFIER=acmed" \
    test "$(q SYSLOG_IDENTIFIER=acmed | wc -l)" -eq "$(wc -l <"$T/entries.jsonl")"
check "nothing but sanitizer output went to stderr" not grep -v -e '^$' -e 'AddressSanitizer' "$T/stderr.log"
sanitizer_check "$T/stderr.log"
finish
