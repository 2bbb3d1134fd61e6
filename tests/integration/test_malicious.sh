#!/usr/bin/env bash
# A hostile CA, through the extension proxy's "rewrite" and "forge" rules:
# URLs that leave the CA's origin or hide path tricks, challenge tokens made
# to escape a webroot, forged certificates (wrong key, wrong names, expired,
# a private key or junk in the chain, a broken signature), oversized and
# deeply nested JSON, terminal escapes in error text, unusable nonces, a
# huge Retry-After and Location headers to other origins.
#
# Every case must: exit 1 (a clean failure, not a crash, no sanitizer
# report), end with "NAME: renewal failed: <what was wrong>" and record
# that as the certificate's last error, change no file outside the state
# directory and the webroot's challenge directory (the certificates already
# installed stay byte-identical, inodes included), run no reload hook, and
# leave no order behind that the next case would resume.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/acmeproxy.sh
source "$TESTS_DIR/acmeproxy.sh"

# Authorizations are reused (fast passes); cases that need a pending
# authorization patch its status.  No nonce rejection: rules count requests.
export PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=100 PEBBLE_WFE_NONCEREJECT=0
C=$T/config S=$T/state O=$T/out W=$T/www L=$T/logs HP=${CHALL_HTTP_PORT:-5002}
PY=/usr/bin/python3
mkdir -p "$C" "$O" "$W" "$L"

start_pebble
proxy_start "$T/pebble" || die "the ACME extension proxy starts"
IKEY=$T/pebble/intermediate-key.pem
curl -sf --cacert "$PEBBLE_CA_BUNDLE" -o "$IKEY" "$PEBBLE_MGMT_URL/intermediate-keys/0" ||
    die "Pebble's intermediate key can be fetched"
# Another origin: same host, another port (never listened on), and a name.
ELSEWHERE=https://127.0.0.2:14443

cat >"$C/acmed.yaml" <<EOF
cas:
  - name: px
    directory: $PROXY_DIR_URL
    contact: [mailto:admin@example.org]
    ca_bundle: $PEBBLE_CA_BUNDLE
certificates:
  - name: live
    domains: [live.example.org]
    challenge: {type: http-01, listen: "127.0.0.1:$HP"}
    output: $O/live
  - name: victim
    domains: [victim.example.org, www.victim.example.org]
    challenge: {type: http-01, listen: "127.0.0.1:$HP", webroot: $W}
    output: $O/victim
    reload: [$T/hook.sh]
EOF
cat >"$T/hook.sh" <<EOF
#!/bin/sh
echo "\$ACMED_SERIAL" >>"$T/hook.log"
EOF
chmod 755 "$T/hook.sh"

acmed() { "$ACMED" --config-dir "$C" --state-dir "$S" "$@"; }
sql() { sqlite3 -batch -noheader "$S/acmed.db" "$@"; }

# Everything under $T but the state, the CA's own files, our logs and the
# webroot's challenge directory: type, mode, owner, size, inode, link
# target, and a checksum of each file.
snapshot() {
    (cd "$T" && find . \( -path ./state -o -path ./pebble -o -path ./logs \
        -o -path ./www/.well-known/acme-challenge \) -prune \
        -o -printf '%p %y %m %U:%G %s %i %l\n' | LC_ALL=C sort
     cd "$T" && find . \( -path ./state -o -path ./pebble -o -path ./logs \
        -o -path ./www/.well-known/acme-challenge \) -prune \
        -o -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}

acmed run --once >"$L/initial.log" 2>&1
rc=$?
expect_eq "both certificates are issued first (run --once exits 0)" "$rc" 0
[[ -s $O/victim/cert.pem && -s $O/live/cert.pem ]] || die "initial issuance" "$(tail -n 5 "$L/initial.log")"
SNAP0=$(snapshot)
printf '%s\n' "$SNAP0" >"$L/snapshot-0.txt"

# Authorizations are reused, so orders come back "ready": these two rules
# make the order pending and its first authorization pending with the given
# challenges (or the given body).
ORDER_PENDING='{"match": "newOrder", "action": "rewrite", "patch": [{"op": "replace", "path": "/status", "value": "pending"}]}'
pending_authz() { # pending_authz CHALLENGES-JSON
    printf '%s, {"match": "authz", "action": "rewrite", "patch": [{"op": "replace", "path": "/status", "value": "pending"}, {"op": "replace", "path": "/challenges", "value": %s}]}' "$ORDER_PENDING" "$1"
}
challenge() { # challenge URL TOKEN
    printf '[{"type": "http-01", "status": "pending", "url": "%s", "token": "%s"}]' "$1" "$2"
}
GOODTOKEN=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
# finalize and order answers, forever: rewrite the certificate URL.
cert_url_sub() { # cert_url_sub PATTERN REPL
    local op="{\"op\": \"sub\", \"path\": \"/certificate\", \"pattern\": \"$1\", \"repl\": \"$2\"}"
    printf '{"match": "finalize", "count": -1, "action": "rewrite", "patch": [%s]}, {"match": "order", "count": -1, "action": "rewrite", "patch": [%s]}' "$op" "$op"
}
forge() { printf '{"match": "cert", "action": "forge", "forge": "%s", "issuer_key": "%s"}' "$1" "$IKEY"; }
nested() { # nested DEPTH: an authorization with a value nested DEPTH deep
    printf '%s, ' "$ORDER_PENDING"
    "$PY" -c 'import json, sys; d = int(sys.argv[1]); print(json.dumps({"action": "rewrite", "match": "authz", "body": "{\"status\": \"pending\", \"x\": " + "[" * d + "]" * d + "}"}))' "$1"
}
inject() { # inject RULES (through a file: some are too long for argv)
    printf '{"rules": [%s]}' "$1" >"$L/rules.json"
    curl -sS --fail-with-body -o /dev/null -X POST -H 'Content-Type: application/json' \
        --data-binary @"$L/rules.json" "$PROXY_CTRL/inject"
}

ncases=0
# run_case NAME WANT-ERE RULE... : one hostile answer (or a few) per case.
run_case() {
    local name=$1 want=$2 rules log rc why=() lasterr fired before
    shift 2
    rules=$(IFS=,; echo "$*")
    ncases=$((ncases + 1))
    log=$L/case-$ncases.log
    # (no 409 alreadyReplaced for the refused certificates' predecessor)
    if ! proxy_ctl /reset '{}' >/dev/null || ! proxy_ctl /replaces '{"enforce": false}' >/dev/null; then
        fail "$name: proxy reset"
        return
    fi
    inject "$rules" || { fail "$name: the proxy takes the rules" "$(cut -c1-300 <<<"$rules")"; return; }
    before=$(snapshot)
    acmed renew --force victim >"$log" 2>&1
    rc=$?
    ((rc == 1)) || why+=("exit status $rc, want 1")
    fired=$(proxy_ctl /log | "$PY" -c 'import json, sys; print(sum(1 for e in json.load(sys.stdin) if e["injected"] is not None))')
    ((fired > 0)) || why+=("no rule fired (the case tested nothing)")
    grep -Eq "^acmed: error: victim: renewal failed: .*($want)" "$log" ||
        why+=("no line \"acmed: error: victim: renewal failed: ...$want\"")
    lasterr=$(sql "SELECT last_error FROM certificates WHERE name = 'victim'")
    grep -Eq -- "$want" <<<"$lasterr" || why+=("last_error \"$lasterr\" does not match")
    # A refused order is not resumed: the next case starts a new one.
    ! grep -q 'resuming order' "$log" || why+=("an earlier refused order was resumed")
    [[ $(snapshot) == "$before" ]] || why+=("files outside the state changed: $(diff <(printf '%s\n' "$before") <(snapshot) | head -n 4 | tr '\n' ' ')")
    if ((${#why[@]} == 0)); then
        ok "case $ncases, $name: $(grep -Eo "renewal failed: .*" "$log" | head -n 1 | cut -c17-150)"
    else
        fail "case $ncases, $name" "${why[@]}" "log: $log" "$(grep -E 'error' "$log" | head -n 3)"
    fi
}

# ---- URLs in the directory ---------------------------------------------------
run_case "directory: newOrder is http://" 'newOrder URL "http://[^"]*" is not https on the CA' \
    '{"match": "directory", "action": "rewrite", "patch": [{"op": "sub", "path": "/newOrder", "pattern": "^https:", "repl": "http:"}]}'
run_case "directory: newAccount on another origin" 'newAccount URL "https://127\.0\.0\.2[^"]*" is not https on the CA' \
    "{\"match\": \"directory\", \"action\": \"rewrite\", \"patch\": [{\"op\": \"replace\", \"path\": \"/newAccount\", \"value\": \"$ELSEWHERE/sign-me-up\"}]}"
run_case "directory: newNonce with userinfo (origin@elsewhere)" 'newNonce URL "[^"]*@evil\.example\.org[^"]*" is not https on the CA' \
    '{"match": "directory", "action": "rewrite", "patch": [{"op": "replace", "path": "/newNonce", "value": "{origin}@evil.example.org/nonce-plz"}]}'
run_case "directory: revokeCert climbs with .." 'revokeCert URL "[^"]*/\.\./[^"]*" has a "." or ".." path segment' \
    '{"match": "directory", "action": "rewrite", "patch": [{"op": "replace", "path": "/revokeCert", "value": "{origin}/dir/../../../revoke-cert"}]}'

# ---- order, authorization, challenge, finalize and certificate URLs ------------
run_case "newOrder: Location on another origin" 'order URL "https://127\.0\.0\.2[^"]*" is not https' \
    "{\"match\": \"newOrder\", \"action\": \"rewrite\", \"headers\": {\"Location\": \"$ELSEWHERE/my-order/x\"}}"
run_case "newAccount: Location on another origin" 'account URL "https://127\.0\.0\.2[^"]*" is not https' \
    "{\"match\": \"newAccount\", \"action\": \"rewrite\", \"headers\": {\"Location\": \"$ELSEWHERE/my-account/1\"}}"
run_case "order: authorization URL is http://" 'authorization URL "http://[^"]*" is not https' \
    '{"match": "newOrder", "action": "rewrite", "patch": [{"op": "sub", "path": "/authorizations/0", "pattern": "^https:", "repl": "http:"}]}'
run_case "order: authorization URL with userinfo" 'authorization URL "https://[^"]*@[^"]*" is not https' \
    '{"match": "newOrder", "action": "rewrite", "patch": [{"op": "sub", "path": "/authorizations/0", "pattern": "^https://[^/]+", "repl": "{origin}@127.0.0.2:14443"}]}'
run_case "order: finalize URL climbs with /../" 'finalize URL "[^"]*/\.\./[^"]*" has a "." or ".." path segment' \
    '{"match": "newOrder", "action": "rewrite", "patch": [{"op": "sub", "path": "/finalize", "pattern": "/finalize-order/", "repl": "/finalize-order/../../revoke-cert/"}]}'
run_case "order: finalize URL climbs with %2e%2e" 'finalize URL "[^"]*%2[eE]%2[eE][^"]*" has .*an encoded dot' \
    '{"match": "newOrder", "action": "rewrite", "patch": [{"op": "sub", "path": "/finalize", "pattern": "/finalize-order/", "repl": "/finalize-order/%2e%2E/%2E%2e/"}]}'
run_case "challenge URL on another origin" 'challenge URL "https://127\.0\.0\.2[^"]*" is not https' \
    "$(pending_authz "$(challenge "$ELSEWHERE/chalZ/x" "$GOODTOKEN")")"
run_case "challenge URL is http://" 'challenge URL "http://[^"]*" is not https' \
    "$(pending_authz "$(challenge "http://127.0.0.1:14443/chalZ/x" "$GOODTOKEN")")"
run_case "challenge URL with /./ and /../" 'challenge URL "[^"]*/\./\.\./[^"]*" has a "." or ".." path segment' \
    "$(pending_authz "$(challenge "{origin}/chalZ/./../../my-account/1" "$GOODTOKEN")")"
run_case "certificate URL is http://" 'certificate URL "http://[^"]*" is not https' \
    "$(cert_url_sub '^https:' 'http:')"
run_case "certificate URL on another origin" 'certificate URL "https://127\.0\.0\.2[^"]*" is not https' \
    "$(cert_url_sub '^https://[^/]+' "$ELSEWHERE")"
run_case "certificate URL with %2e%2e%2f" 'certificate URL "[^"]*%2[eE][^"]*" has .*an encoded dot' \
    "$(cert_url_sub '/certZ/' '/certZ/%2e%2e%2f%2e%2e%2fmy-account%2f')"

# shellcheck disable=SC2016 # (meant literally)
SHELLTOKEN='AAAAAAAAAAAAAAAA$(touch pwned);`id`|x&y>z'
# ---- challenge tokens ----------------------------------------------------------
run_case "token with /" 'token is missing or not base64url' \
    "$(pending_authz "$(challenge "{origin}/chalZ/x" "AAAAAAAAAAAAAAAAAAAA/BBBBBBBBBBBBBBBBBBBB")")"
run_case "token with .. climbing out of the webroot" 'token is missing or not base64url' \
    "$(pending_authz "$(challenge "{origin}/chalZ/x" "AAAAAAAAAAAAAAAA/../../../../../../acmed-evil-token")")"
run_case "token with shell metacharacters" 'token is missing or not base64url' \
    "$(pending_authz "$(challenge "{origin}/chalZ/x" "$SHELLTOKEN")")"
run_case "token of 300 characters" 'token is missing or not base64url' \
    "$(pending_authz "$(challenge "{origin}/chalZ/x" "$(printf 'A%.0s' {1..300})")")"

# ---- forged certificates ---------------------------------------------------------
run_case "certificate for another key" 'refusing the new certificate: certificate is not for our key' \
    "$(forge wrong_key)"
run_case "certificate with an extra name" 'refusing the new certificate: its names \(victim\.example\.org www\.victim\.example\.org extra\.example\.org\) differ' \
    "$(forge extra_name)"
run_case "certificate missing a name" 'refusing the new certificate: its names \(victim\.example\.org\) differ' \
    "$(forge missing_name)"
run_case "certificate whose name hides a NUL (www.victim.example.org\\0.evil.example)" 'refusing the new certificate: certificate has a DNS name with a control' \
    "$(forge nul_name)"
run_case "certificate already expired" 'refusing the new certificate: it has already expired' \
    "$(forge expired)"
run_case "chain holding a PRIVATE KEY block" 'refusing the new certificate: chain holds a PEM block of type "PRIVATE KEY"' \
    "$(forge private_key)"
run_case "chain with a junk certificate block" 'refusing the new certificate: (certificate 2 in the chain does not parse|chain holds a PEM block that does not parse)' \
    "$(forge junk)"
run_case "leaf not signed by the chain's intermediate" 'refusing the new certificate: certificate 1 is not signed by the next one' \
    "$(forge bad_signature)"
run_case "certificate download is not PEM at all" 'refusing the new certificate: no certificate in the chain' \
    '{"match": "cert", "action": "rewrite", "body": "\u0000\u0001 MZ binary junk \u00ff"}'
run_case "certificate download refused (403)" 'certificate download: HTTP 403' \
    '{"match": "cert", "status": 403}'

# ---- JSON the parser must not choke on -------------------------------------------
run_case "oversized authorization (3 MiB)" 'too large|size cap' \
    "$ORDER_PENDING, {\"match\": \"authz\", \"action\": \"huge\", \"size\": 3000000}"
run_case "authorization nested 40 deep" 'nested deeper than' "$(nested 40)"
run_case "authorization nested 100000 deep" 'nested deeper than|maximum parsing depth|JSON' "$(nested 100000)"
run_case "order status is not a status" 'order has no valid status' \
    '{"match": "newOrder", "action": "rewrite", "patch": [{"op": "replace", "path": "/status", "value": "\u001b[2Jvalid"}]}'

# ---- headers ---------------------------------------------------------------------
run_case "Replay-Nonce with characters outside base64url" 'no usable Replay-Nonce' \
    '{"match": "any", "count": -1, "action": "rewrite", "headers": {"Replay-Nonce": "abc+/def=;id"}}'
run_case "Replay-Nonce of 300 characters" 'no usable Replay-Nonce' \
    "{\"match\": \"any\", \"count\": -1, \"action\": \"rewrite\", \"headers\": {\"Replay-Nonce\": \"$(printf 'N%.0s' {1..300})\"}}"

# ---- error text with terminal escapes and control characters ---------------------
ESCDETAIL='\u001b[31mRED\u001b[0m\r\nacmed: notice: forged line\u0007\u007f\u009b2J'
run_case "problem detail with ANSI escapes and CR/LF" 'HTTP 400 malformed: \\x1b\[31mRED\\x1b\[0m\\x0d\\x0aacmed: notice: forged line\\x07\\x7f\\xc2\\x9b2J' \
    "{\"match\": \"newOrder\", \"status\": 400, \"body\": {\"type\": \"urn:ietf:params:acme:error:malformed\", \"detail\": \"$ESCDETAIL\", \"status\": 400}}"
esc_log=$L/case-$ncases.log
if LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f-\xff]' "$esc_log"; then
    fail "the log of the escape case holds no raw control or 8-bit byte" "$(LC_ALL=C grep -n $'[\x01-\x09\x0b-\x1f\x7f-\xff]' "$esc_log" | cat -v | head -n 3)"
else
    ok "the log of the escape case holds no raw control or 8-bit byte"
fi
check "no forged log line was created by the CR/LF" not grep -q '^acmed: notice: forged line' "$esc_log"
acmed status >"$L/status-esc.out" 2>&1
if LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f-\xff]' "$L/status-esc.out"; then
    fail "acmed status shows the error without raw control bytes"
else
    ok "acmed status shows the error without raw control bytes"
fi

# ---- Retry-After far in the future -----------------------------------------------
run_case "429 with a Retry-After of 10^20 s" 'HTTP 429' \
    '{"match": "newOrder", "status": 429, "retry_after": "100000000000000000000"}'
check "the huge Retry-After is capped at a week" grep -q 'victim: newOrder: the CA asks for 604800 s before a retry' "$L/case-$ncases.log"
next=$(sql "SELECT next_check FROM certificates WHERE name = 'victim'")
check "  and the next attempt is a sane time (before 2100: $next)" test "${next:-x}" -lt 4102444800
acmed status >"$L/status-ra.out" 2>&1
expect_eq "acmed status copes with it (exit 0)" "$?" 0

# ---- afterwards ------------------------------------------------------------------
expect_eq "malicious cases run" "$((ncases >= 20))" 1
if [[ $(snapshot) == "$SNAP0" ]]; then
    ok "after all cases, every file outside the state is as after the first issuance (byte for byte, same inodes)"
else
    fail "after all cases, every file outside the state is as after the first issuance" \
        "$(diff <(printf '%s\n' "$SNAP0") <(snapshot) | head -n 6)"
fi
check "no stray token file outside the webroot" test ! -e "$T/acmed-evil-token" -a ! -e /acmed-evil-token
check "no shell ran a token (no file \"pwned\")" test -z "$(find "$T" -name pwned)"
expect_eq "the reload hook never ran for a refused certificate" "$(wc -l <"$T/hook.log" 2>/dev/null || echo 0)" 1
expect_eq "the webroot's challenge directory is empty again" \
    "$(find "$W" -type f | head -n 3)" ""
proxy_ctl /reset '{}' >/dev/null
acmed renew --force victim >"$L/final.log" 2>&1
expect_eq "with an honest CA again, victim renews (exit 0)" "$?" 0
check "  and its new certificate verifies" \
    openssl verify -CAfile "$T/pebble/pebble-root.pem" -untrusted "$O/victim/chain.pem" "$O/victim/cert.pem"

sanitizer_check "$L"/*.log
finish
