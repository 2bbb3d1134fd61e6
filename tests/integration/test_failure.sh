#!/usr/bin/env bash
# One certificate whose http-01 challenge cannot succeed (its responder
# listens on 127.0.0.1:5999, Pebble validates on port 5002) next to a good
# one: the good one is installed, the bad one is recorded as failed with the
# server's reason, and the next pass honours the backoff.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

C=$T/config S=$T/state O=$T/out
mkdir -p "$C" "$O"

start_pebble
ROOT=$T/pebble/pebble-root.pem

# The bad certificate comes first: its failure must not stop the pass.
cat >"$C/acmed.yaml" <<EOF
cas:
  - name: pebble
    directory: $PEBBLE_DIR_URL
    contact: [mailto:admin@example.org]
    ca_bundle: $PEBBLE_CA_BUNDLE
certificates:
  - name: bad
    domains: [bad.example.org]
    challenge: {type: http-01, listen: "127.0.0.1:5999"}
    output: $O/bad
    reload: [$T/hook.sh]
  - name: good
    domains: [good.example.org]
    challenge: {type: http-01, listen: "127.0.0.1:5002"}
    output: $O/good
    reload: [$T/hook.sh]
EOF
cat >"$T/hook.sh" <<EOF
#!/bin/sh
echo "\$ACMED_CERT_NAME" >>"$T/hook.log"
EOF
chmod 755 "$T/hook.sh"

acmed() { "$ACMED" --config-dir "$C" --state-dir "$S" "$@"; }
sql() { sqlite3 -batch -noheader "$S/acmed.db" "$@"; }
row() { sql "SELECT failures, last_attempt, quote(serial), quote(last_error) FROM certificates WHERE name = '$1'"; }
# Orders Pebble created ("POST /order-plz" is logged again for a badNonce retry).
new_orders() { grep -c '^Pebble .* Added order "' "$T/pebble/pebble.log"; }

# ---- first pass: good installed, bad failed -------------------------------------
SECONDS=0
acmed run --once >"$T/run1.log" 2>&1
rc=$?
expect_eq "run --once with one failing certificate exits 1 (took ${SECONDS}s)" "$rc" 1

check "good: openssl verify of cert.pem with chain.pem up to Pebble's root" \
    openssl verify -CAfile "$ROOT" -untrusted "$O/good/chain.pem" "$O/good/cert.pem"
check "good: fullchain.pem = cert.pem + chain.pem" \
    cmp -s "$O/good/fullchain.pem" <(cat "$O/good/cert.pem" "$O/good/chain.pem")
expect_eq "good: DB row is a success" \
    "$(sql "SELECT failures, quote(last_error), serial IS NOT NULL FROM certificates WHERE name = 'good'")" "0|NULL|1"
expect_eq "hook ran for good only" "$(paste -sd' ' "$T/hook.log" 2>/dev/null)" "good"

expect_eq "bad: no files in its output directory" "$(ls -A "$O/bad" 2>/dev/null)" ""
IFS='|' read -r failures attempt serial error <<<"$(row bad)"
expect_eq "bad: DB failures = 1" "${failures:-}" 1
expect_eq "bad: DB serial is NULL" "${serial:-}" NULL
check "bad: DB last_attempt is set" test "${attempt:-0}" -gt 0

# The server's own words: Pebble's authorization error detail, as it logged
# it, must be what acmed recorded (e.g. "... connection refused").
error=${error#\'}
error=${error%\'}
check "bad: last_error names the identifier" grep -q 'bad\.example\.org' <<<"$error"
check "bad: last_error carries the server's problem (connection/unauthorized)" \
    grep -Eqi 'connection|unauthorized|refused|404' <<<"$error"
url=$(grep -o 'http://bad\.example\.org:5002/\.well-known/acme-challenge/[A-Za-z0-9_-]*' <<<"$error" | head -n 1)
if [[ -n $url ]] && grep -qF "Attempting to validate w/ HTTP: $url" "$T/pebble/pebble.log"; then
    ok "bad: last_error has the challenge URL Pebble tried (from the server's detail)"
else
    fail "bad: last_error has the challenge URL Pebble tried (from the server's detail)" \
        "last_error: $error" "pebble.log: $(grep 'validate w/' "$T/pebble/pebble.log" | head -n 2)"
fi
check "the failure is logged" grep -q 'bad: renewal failed' "$T/run1.log"

acmed status >"$T/status.out" 2>"$T/status.err"
expect_eq "status exits 0" "$?" 0
bad_status=$(awk '$0 == "bad" { on = 1; next } /^[^ ]/ { on = 0 } on' "$T/status.out")
check "status shows bad's error" grep -q "error:.*$(re_quote "${error:0:60}")" <<<"$bad_status"
check "status shows bad's failure count" grep -q '1 failure' <<<"$bad_status"
check "status shows bad is in backoff" grep -q 'backoff' <<<"$bad_status"
check "status shows good's serial" grep -q "serial:   [0-9a-f]" \
    <<<"$(awk '$0 == "good" { on = 1; next } /^[^ ]/ { on = 0 } on' "$T/status.out")"

# ---- second pass at once: the failed certificate is not retried ------------------
before=$(row bad)
orders=$(new_orders)
good_ids=$(stat -c '%i %.9Y' "$O/good/cert.pem")
acmed run --once >"$T/run2.log" 2>&1
expect_eq "second run --once exits 0 (nothing due)" "$?" 0
expect_eq "bad: not retried (failures, last_attempt unchanged)" "$(row bad)" "$before"
expect_eq "no new order reached Pebble" "$(new_orders)" "$orders"
check "second pass does not try to renew" not grep -q 'renewing' "$T/run2.log"
expect_eq "good: untouched by the second pass" "$(stat -c '%i %.9Y' "$O/good/cert.pem")" "$good_ids"

# "renew NAME" without --force honours the backoff too (exit 2: nothing done).
acmed renew bad >"$T/renew.log" 2>&1
expect_eq "renew bad (not forced) in backoff exits 2" "$?" 2
expect_eq "bad: still not retried" "$(row bad)" "$before"
expect_eq "hook ran for good only, once" "$(paste -sd' ' "$T/hook.log" 2>/dev/null)" "good"

# ---- the per-CA attempt ledger and the failed-validation guard ------------------
ledger() { sql "SELECT count(*) FROM attempts WHERE name = '$1' AND outcome = '$2'"; }
expect_eq "ledger: good has one issued attempt" "$(ledger good issued)" 1
expect_eq "ledger: bad has one failed attempt" "$(ledger bad failed)" 1
check "ledger: the failure keeps the server's error type" \
    test -n "$(sql "SELECT error_type FROM attempts WHERE name = 'bad' AND outcome = 'failed'")"

# Four more failures for bad's names within the hour make five: the next due
# attempt (after the 1 min backoff, on a fake clock) is deferred without an
# order, and a deferral is no failure the CA saw, so it does not extend itself.
now=$(date +%s)
for i in 1 2 3 4; do
    sql "INSERT INTO attempts (name, ca, identifiers, time, outcome) VALUES ('bad', 'pebble', 'bad.example.org', $((now - 60 * i)), 'failed')"
done
orders=$(new_orders)
ACMED_FAKE_NOW=$((now + 300)) acmed renew bad >"$T/guard1.log" 2>&1
expect_eq "guard: renew bad with 5 failures in the last hour fails (exit 1)" "$?" 1
check "guard: the deferral is logged" grep -q 'bad: 5 failed attempts for these names in the last hour; deferring' "$T/guard1.log"
expect_eq "guard: no new order reached Pebble" "$(new_orders)" "$orders"
expect_eq "guard: recorded as deferred" "$(ledger bad deferred)" 1
expect_eq "guard: the deferral is not counted as a failure" "$(ledger bad failed)" 5

# --force is exempt: it reaches the CA (and fails there again).
ACMED_FAKE_NOW=$((now + 300)) acmed renew --force bad >"$T/guard2.log" 2>&1
expect_eq "guard: renew --force bad still fails at the CA (exit 1)" "$?" 1
expect_eq "guard: --force placed one new order" "$(new_orders)" "$((orders + 1))"
expect_eq "guard: that failure is counted" "$(ledger bad failed)" 6

sanitizer_check "$T"/*.log "$T/status.err"
finish
