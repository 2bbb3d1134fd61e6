#!/usr/bin/env bash
# Under journald (JOURNAL_STREAM names acmed's stderr), log lines go to the
# journal as structured entries: ACMED_CERT, ACMED_CA, ACMED_PROFILE and a
# stable MESSAGE_ID for events.  systemd is not PID 1 here, so the test runs
# acmed in a private mount namespace where /run/systemd/journal/socket is a
# datagram socket it owns (tests/integration/journal_sink.py), which really
# exercises libsystemd's sending code.  Without a journal socket the lines
# go to stderr with "<N>" syslog priority prefixes (journald reads those on
# the stream); with a JOURNAL_STREAM that is not stderr, plain lines.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
ISSUED=2c6e9a0f3b5d4e7f8a1b2c3d4e5f6a71
FAILED=7d1f3a5b9c2e4f60a8b7c6d5e4f3a2b1
HOOK_FAILED=b4e2c8a6d0f14e3a9b5c7d2e1f0a3b6c
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
    reload: [$T/hook.sh]
  - name: broken
    domains: [broken.example.org]
    challenge: {type: http-01, listen: "127.0.0.1:5999"}
    output: $O/broken
  - name: prof
    domains: [prof.example.org]
    challenge: {type: http-01, listen: "127.0.0.1:${CHALL_HTTP_PORT:-5002}"}
    output: $O/prof
    profile: shortlived
    profile_mode: preferred
EOF
# shellcheck disable=SC2016 # expanded by the hook, not here
printf '#!/bin/sh\necho "reloading $ACMED_CERT_NAME"\nexit 4\n' >"$T/hook.sh"
chmod 755 "$T/hook.sh"

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
check "the failed reload hook carries its MESSAGE_ID, ACMED_CERT=www and PRIORITY=3" \
    grep -q 'hook .* exited with status 4$' <<<"$(q MESSAGE_ID=$HOOK_FAILED ACMED_CERT=www ACMED_CA=pebble PRIORITY=3)"
check "the hook's output is logged with ACMED_CERT=www" \
    grep -q 'hook .*: reloading www$' <<<"$(q ACMED_CERT=www PRIORITY=6)"
check "a configured profile is in ACMED_PROFILE (on its issued event)" \
    test -n "$(q MESSAGE_ID=$ISSUED ACMED_CERT=prof ACMED_PROFILE=shortlived)"
expect_eq "entries of a certificate without a profile have no ACMED_PROFILE" \
    "$(/usr/bin/python3 -c "
import json
print(sum(1 for l in open('$T/entries.jsonl') if json.loads(l).get('ACMED_CERT') == 'www' and 'ACMED_PROFILE' in json.loads(l)))")" 0
check "every entry names SYSLOG_IDENTIFIER=acmed" \
    test "$(q SYSLOG_IDENTIFIER=acmed | wc -l)" -eq "$(wc -l <"$T/entries.jsonl")"
check "nothing but sanitizer output went to stderr" not grep -v -e '^$' -e 'AddressSanitizer' "$T/stderr.log"

# ---- fallbacks: no journal socket, and a JOURNAL_STREAM that is not stderr ------
# The CA is down here, so the pass logs info lines and a failure.
C2=$T/config2
mkdir -p "$C2"
cat >"$C2/acmed.yaml" <<EOF
cas:
  - name: down
    directory: https://127.0.0.1:1/dir
certificates:
  - name: www
    domains: [www.example.org]
    challenge: {type: http-01, listen: "127.0.0.1:5999"}
    output: $O/down
EOF
cat >"$T/fallback.sh" <<EOF
set -e
mount -t tmpfs tmpfs /run
test ! -e /run/systemd/journal/socket
exec 2>"$T/nosock.log"
JOURNAL_STREAM=\$(stat -c '%d:%i' "$T/nosock.log") "$ACMED" --config-dir "$C2" --state-dir "$T/state2" run --once || true
exec 2>"$T/mismatch.log"
JOURNAL_STREAM=\$(stat -c '%d:%i' "$T/nosock.log") "$ACMED" --config-dir "$C2" --state-dir "$T/state3" run --once || true
exec 2>"$T/bogus.log"
JOURNAL_STREAM=garbage "$ACMED" --config-dir "$C2" --state-dir "$T/state4" run --once || true
EOF
unshare -m --propagation private bash "$T/fallback.sh"
check "no journal socket: info lines go to stderr as <6>" grep -q '^<6>www: renewing (new certificate)$' "$T/nosock.log"
check "no journal socket: the failure goes to stderr as <3>" grep -q '^<3>www: renewal failed: ' "$T/nosock.log"
check "no journal socket: the lines are not lost (sd_journal_send drops them silently)" test -s "$T/nosock.log"
check "no journal socket: every line has a <N> prefix" not grep -v -e '^<[0-7]>' -e '^$' "$T/nosock.log"
check "JOURNAL_STREAM of another file: plain \"acmed: info:\" lines" \
    grep -q '^acmed: info: www: renewing (new certificate)$' "$T/mismatch.log"
check "JOURNAL_STREAM of another file: plain \"acmed: error:\" for the failure" \
    grep -q '^acmed: error: www: renewal failed: ' "$T/mismatch.log"
check "JOURNAL_STREAM of another file: no <N> prefixes" not grep -q '^<[0-7]>' "$T/mismatch.log"
check "JOURNAL_STREAM not dev:ino: plain lines" grep -q '^acmed: error: www: renewal failed: ' "$T/bogus.log"

sanitizer_check "$T/stderr.log" "$T/nosock.log" "$T/mismatch.log" "$T/bogus.log"
finish
