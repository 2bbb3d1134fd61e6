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

finish
