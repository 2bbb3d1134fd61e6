#!/usr/bin/env bash
# Server errors through the extension proxy (SPEC-NOTES 3, obligations 27,
# 28, 31, 32): rateLimited 429 and 503 with Retry-After defer only that
# certificate and nothing is sent before the time; subproblems are reported
# per identifier; empty, non-JSON, truncated and oversized bodies fail one
# certificate cleanly; challenge tokens outside base64url are refused before
# any file is written.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/acmeproxy.sh
source "$TESTS_DIR/acmeproxy.sh"

# No authorization reuse: every order must fetch its authorizations; no
# nonce rejection: "skip" in injection rules counts requests exactly.
export PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=0 PEBBLE_WFE_NONCEREJECT=0
C=$T/config S=$T/state O=$T/out W=$T/www HP=${CHALL_HTTP_PORT:-5002}
PY=/usr/bin/python3
mkdir -p "$C" "$O" "$W"

start_pebble
proxy_start "$T/pebble" || die "the ACME extension proxy starts"
ORIGIN=${PROXY_DIR_URL%/dir}

http() { printf '    challenge: {type: http-01, listen: "127.0.0.1:%s"}\n' "$HP"; }
cat >"$C/acmed.yaml" <<EOF
cas:
  - name: px
    directory: $PROXY_DIR_URL
    contact: [mailto:admin@example.org]
    ca_bundle: $PEBBLE_CA_BUNDLE
certificates:
  - name: rl
    domains: [rl.example.org]
$(http)
    output: $O/rl
  - name: other
    domains: [other.example.org]
$(http)
    output: $O/other
  - name: sub
    domains: [sub1.example.org, sub2.example.org]
$(http)
    output: $O/sub
  - name: body
    domains: [body.example.org]
$(http)
    output: $O/body
EOF

acmed() { "$ACMED" --config-dir "$C" --state-dir "$S" "$@"; }
sql() { sqlite3 -batch -noheader "$S/acmed.db" "$@"; }
col() { sql "SELECT $2 FROM certificates WHERE name = '$1'"; }
at() { local t=$1; shift; ACMED_FAKE_NOW=$t acmed "$@"; }
in_range() { [[ $1 =~ ^-?[0-9]+$ ]] && (($1 >= $2 && $1 <= $3)); }
save_log() { proxy_ctl /log >"$T/proxy-$1.json" || fail "proxy log can be read"; }
norders() { # norders LOG DOMAIN: newOrder attempts for DOMAIN (badNonce replays left out)
    "$PY" -c '
import json, sys
n = 0
for e in json.load(open(sys.argv[1])):
    p = e.get("payload")
    if e["kind"] == "newOrder" and isinstance(p, dict) and not (e.get("problem") or "").endswith(":badNonce") \
            and sys.argv[2] in [i.get("value") for i in p.get("identifiers", [])]:
        n += 1
print(n)' "$1" "$2"
}
inject() { proxy_ctl /inject "{\"rules\": [$1]}" >/dev/null || fail "proxy accepts the rule $1"; }
problem() { # problem TYPE DETAIL STATUS [EXTRA-JSON-MEMBERS]
    printf '{"type": "urn:ietf:params:acme:error:%s", "detail": "%s", "status": %s%s}' "$1" "$2" "$3" "${4:+, $4}"
}

# ---- 1. rateLimited 429 + Retry-After: only rl waits, and for that long ------------
proxy_ctl /reset '{}' >/dev/null
inject "{\"match\": \"newOrder\", \"status\": 429, \"retry_after\": \"3600\", \"headers\": {\"Link\": \"<https://ca.example/docs/rate-limits>;rel=\\\"help\\\"\"}, \"body\": $(problem rateLimited "too many certificates already issued for this exact set of identifiers" 429)}"
T0=$(date +%s)
acmed renew rl >"$T/rl-1.log" 2>&1
expect_eq "429 rateLimited: renew rl exits 1" "$?" 1
save_log rl-1
expect_eq "429: exactly one newOrder" "$(norders "$T/proxy-rl-1.json" rl.example.org)" 1
check "429: the server's detail is recorded" grep -q 'too many certificates' <<<"$(col rl last_error)"
check "429: the wait the CA asked for is logged" grep -q '3600 s' "$T/rl-1.log"
check "429: next attempt not before Retry-After (next_check $(($(col rl next_check) - T0)) s from the start)" \
    in_range $(($(col rl next_check) - T0)) 3600 3700
check "429: status names the CA's Retry-After as the reason" \
    grep -q 'renews:.*(Retry-After from the CA)' <(acmed status rl 2>&1)
proxy_ctl /reset '{}' >/dev/null
acmed run --once >"$T/rl-2.log" 2>&1
save_log rl-2
expect_eq "a pass right after: nothing sent for rl" "$(norders "$T/proxy-rl-2.json" rl.example.org)" 0
check "a pass right after: the other certificates are issued" test -s "$O/other/cert.pem" -a -s "$O/sub/cert.pem"
proxy_ctl /reset '{}' >/dev/null
at $((T0 + 3000)) run --once >"$T/rl-3.log" 2>&1
save_log rl-3
expect_eq "50 min later (backoff over, Retry-After not): still nothing sent for rl" "$(norders "$T/proxy-rl-3.json" rl.example.org)" 0
at $((T0 + 3700)) run --once >"$T/rl-4.log" 2>&1
expect_eq "after Retry-After: the pass renews rl (exit 0)" "$?" 0
check "rl: installed" test -s "$O/rl/cert.pem"

# 503 with an HTTP-date Retry-After (LE's load balancer): same deferral.
proxy_ctl /reset '{}' >/dev/null
T0=$(date +%s)
inject "{\"match\": \"newOrder\", \"status\": 503, \"retry_after\": \"$(LC_ALL=C date -u -d "@$((T0 + 7200))" '+%a, %d %b %Y %H:%M:%S GMT')\", \"body\": $(problem serverInternal "service busy" 503)}"
acmed renew --force rl >"$T/rl-5.log" 2>&1
expect_eq "503 with an HTTP-date Retry-After: renew exits 1" "$?" 1
# (rl is installed and valid: its next attempt is its normal renewal time,
# but never before the date.)
check "503: next attempt not before the date ($(($(col rl next_check) - T0)) s)" \
    test $(($(col rl next_check) - T0)) -ge 7190
proxy_ctl /reset '{}' >/dev/null
at $((T0 + 7000)) run --once >"$T/rl-6.log" 2>&1
save_log rl-6
expect_eq "503: nothing sent for rl before the date" "$(norders "$T/proxy-rl-6.json" rl.example.org)" 0

# ---- 2. subproblems, per identifier ----------------------------------------------------
SUBS='"subproblems": [{"type": "urn:ietf:params:acme:error:rejectedIdentifier", "detail": "policy forbids sub1 here", "identifier": {"type": "dns", "value": "sub1.example.org"}}, {"type": "urn:ietf:params:acme:error:caa", "detail": "CAA forbids sub2 here", "identifier": {"type": "dns", "value": "sub2.example.org"}}]'
proxy_ctl /reset '{}' >/dev/null
inject "{\"match\": \"newOrder\", \"status\": 400, \"body\": $(problem rejectedIdentifier "cannot issue for 2 identifiers" 400 "$SUBS")}"
acmed renew --force sub >"$T/sub-1.log" 2>&1
expect_eq "newOrder rejected with subproblems: renew exits 1" "$?" 1
check "newOrder subproblem for sub1 logged with its identifier" grep -Eq 'sub1\.example\.org.*rejectedIdentifier.*policy forbids sub1 here' "$T/sub-1.log"
check "newOrder subproblem for sub2 logged with its identifier" grep -Eq 'sub2\.example\.org.*caa.*CAA forbids sub2 here' "$T/sub-1.log"
# An order that turns invalid with an error holding subproblems.
proxy_ctl /reset '{}' >/dev/null
inject "{\"match\": \"order\", \"status\": 200, \"body\": {\"status\": \"invalid\", \"identifiers\": [{\"type\": \"dns\", \"value\": \"sub1.example.org\"}, {\"type\": \"dns\", \"value\": \"sub2.example.org\"}], \"authorizations\": [\"$ORIGIN/authZ/x1\", \"$ORIGIN/authZ/x2\"], \"finalize\": \"$ORIGIN/finalize-order/x\", \"error\": $(problem compound "several problems" 403 "$SUBS")}}"
acmed renew --force sub >"$T/sub-2.log" 2>&1
expect_eq "order invalid with subproblems: renew exits 1" "$?" 1
check "order error: subproblem for sub1 logged with its identifier" grep -Eq 'sub1\.example\.org.*rejectedIdentifier.*policy forbids sub1 here' "$T/sub-2.log"
check "order error: subproblem for sub2 logged with its identifier" grep -Eq 'sub2\.example\.org.*caa.*CAA forbids sub2 here' "$T/sub-2.log"

# ---- 3. bodies that are empty, not JSON, cut short or too large ------------------------
i=0
for spec in 'authz|{"match": "authz", "status": 404, "body": "", "content_type": "text/plain"}|404' \
    'newOrder|{"match": "newOrder", "status": 500, "body": "<html><h1>500</h1></html>", "content_type": "text/html"}|500' \
    'order|{"match": "order", "action": "nonjson"}|JSON' \
    'finalize|{"match": "finalize", "action": "truncate"}|.' \
    'cert|{"match": "cert", "action": "huge", "size": 3000000}|large'; do
    IFS='|' read -r what rule want <<<"$spec"
    i=$((i + 1))
    proxy_ctl /reset '{}' >/dev/null
    inject "$rule"
    acmed renew --force body >"$T/body-$i.log" 2>&1
    rc=$?
    expect_eq "$what answered badly ($rule): that certificate fails cleanly (exit 1)" "$rc" 1
    check "$what: the error is recorded ($want)" grep -q -- "$want" <<<"$(col body last_error)"
done
proxy_ctl /reset '{}' >/dev/null
acmed renew --force body >"$T/body-ok.log" 2>&1
expect_eq "body: fine again once the server is" "$?" 0

# ---- 4. challenge tokens outside base64url are refused before any file write ----------
cat >>"$C/acmed.yaml" <<EOF
  - name: tok
    domains: [tok.example.org]
    challenge: {type: http-01, webroot: $W}
    output: $O/tok
EOF
j=0
for token in '../../../../../tmp/acmed-evil-token' 'abcdefghijklmnop%2e%2e%2fx' 'AAAAAAAAAAAAAAAA\nBBBB' 'AAAAAAAAAAAAAAAAAAAA=' 'short'; do
    j=$((j + 1))
    proxy_ctl /reset '{}' >/dev/null
    inject "{\"match\": \"authz\", \"status\": 200, \"body\": {\"identifier\": {\"type\": \"dns\", \"value\": \"tok.example.org\"}, \"status\": \"pending\", \"challenges\": [{\"type\": \"http-01\", \"url\": \"$ORIGIN/chalZ/fake$j\", \"token\": \"$token\", \"status\": \"pending\"}]}}"
    acmed renew --force tok >"$T/tok-$j.log" 2>&1
    expect_eq "token \"$token\": the certificate fails (exit 1)" "$?" 1
    save_log "tok-$j"
    check "token \"$token\": refused as not base64url" grep -q 'base64url' <<<"$(col tok last_error)"
    expect_eq "token \"$token\": nothing written under the webroot" "$(find "$W" -type f | head -n 3)" ""
    expect_eq "token \"$token\": the challenge was never answered" \
        "$("$PY" -c 'import json,sys; print(sum(1 for e in json.load(open(sys.argv[1])) if e["kind"] == "challenge"))' "$T/proxy-tok-$j.json")" 0
done
check "no stray file from a token outside the webroot" test ! -e /tmp/acmed-evil-token

# ---- 5. polling honours Retry-After, in seconds and as an HTTP-date (obligation 24) --
# The second authorization fetch (the first poll after answering the
# challenge) says "pending" with a Retry-After; the next poll must wait it out.
# One certificate per form, so that neither can get a reused authorization
# (Pebble may reuse a valid one even at PEBBLE_AUTHZREUSE=0).
cat >>"$C/acmed.yaml" <<EOF
  - name: poll
    domains: [poll.example.org]
$(http)
    output: $O/poll
  - name: polld
    domains: [polld.example.org]
$(http)
    output: $O/polld
EOF
for ra in 3 date; do
    proxy_ctl /reset '{}' >/dev/null
    pc=poll
    [[ $ra == date ]] && pc=polld
    [[ $ra == date ]] && ra_val=$(LC_ALL=C date -u -d "@$(($(date +%s) + 4))" '+%a, %d %b %Y %H:%M:%S GMT') || ra_val=$ra
    inject "{\"match\": \"authz\", \"skip\": 1, \"status\": 200, \"retry_after\": \"$ra_val\", \"body\": {\"status\": \"pending\", \"identifier\": {\"type\": \"dns\", \"value\": \"$pc.example.org\"}, \"challenges\": []}}"
    acmed renew "$pc" >"$T/poll-$ra.log" 2>&1
    expect_eq "authorization pending with Retry-After $ra: issued in the end" "$?" 0
    save_log "poll-$ra"
    gap=$("$PY" -c '
import json, sys
t = [e["time"] for e in json.load(open(sys.argv[1])) if e["kind"] == "authz"]
print("%.1f" % (t[2] - t[1]) if len(t) >= 3 else "only %d authz requests" % len(t))' "$T/proxy-poll-$ra.json")
    check "Retry-After $ra: the next poll waited for it (${gap} s)" \
        "$PY" -c 'import sys; g = float(sys.argv[1]); sys.exit(0 if 2.0 <= g <= 8 else 1)' "$gap"
done

# ---- 6. orderNotReady at finalize: poll, finalize again; the CSR (obligation 25) ------
cat >>"$C/acmed.yaml" <<EOF
  - name: onr
    domains: [onr.example.org, www.onr.example.org]
$(http)
    output: $O/onr
EOF
proxy_ctl /reset '{}' >/dev/null
inject "{\"match\": \"finalize\", \"status\": 403, \"body\": $(problem orderNotReady "order is not ready yet" 403)}"
acmed renew onr >"$T/onr.log" 2>&1
expect_eq "orderNotReady at finalize: issued in the end (exit 0)" "$?" 0
save_log onr
expect_eq "orderNotReady: the order was fetched again, then finalized once more" "$("$PY" -c '
import json, sys
seq = [(e["kind"], e["status"]) for e in json.load(open(sys.argv[1])) if e["kind"] in ("finalize", "order")]
fin = [i for i, (k, st) in enumerate(seq) if k == "finalize"]
ok = len(fin) == 2 and seq[fin[0]][1] == 403 and seq[fin[1]][1] == 200 and \
    any(k == "order" for k, _ in seq[fin[0] + 1:fin[1]])
print("ok" if ok else seq)' "$T/proxy-onr.json")" ok
expect_eq "the CSR names exactly the order's identifiers, is self-signed, and its key is the certificate's, not the account's" \
    "$("$PY" - "$T/proxy-onr.json" "$O/onr/cert.pem" <<'EOF'
import base64, json, sys
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
def spki(k):
    return k.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
log = json.load(open(sys.argv[1]))
fin = [e for e in log if e["kind"] == "finalize" and e["status"] == 200][-1]
csr = x509.load_der_x509_csr(b64d(fin["payload"]["csr"]))
sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
order = [e for e in log if e["kind"] == "newOrder" and e["status"] == 201][-1]
ids = sorted(i["value"] for i in order["payload"]["identifiers"])
jwk = [e for e in log if e["kind"] == "newAccount"][-1]["protected"]["jwk"]
acct = ec.EllipticCurvePublicNumbers(int.from_bytes(b64d(jwk["x"]), "big"), int.from_bytes(b64d(jwk["y"]), "big"),
                                     ec.SECP256R1()).public_key()
leaf = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
bad = []
if sorted(sans) != ids:
    bad.append("CSR SANs %s != order %s" % (sorted(sans), ids))
if not csr.is_signature_valid:
    bad.append("CSR signature")
if spki(csr.public_key()) == spki(acct):
    bad.append("CSR key is the account key")
if spki(csr.public_key()) != spki(leaf.public_key()):
    bad.append("CSR key is not the certificate's")
print("; ".join(bad) or "ok")
EOF
)" ok

# ---- 7. key rollover refused with 409 (new key in use): nothing changes (obligation 29) --
ls -A "$S/accounts" >"$T/accounts-before.txt"
key_before=$(sha256sum <"$S/accounts/px.key")
proxy_ctl /reset '{}' >/dev/null
inject "{\"match\": \"other\", \"method\": \"POST\", \"status\": 409, \"headers\": {\"Location\": \"$ORIGIN/my-account/someone-else\"}, \"body\": $(problem malformed "new key is already in use for a different account" 409)}"
acmed rollover px >"$T/rollover-409.log" 2>&1
expect_eq "rollover answered 409: exits 1" "$?" 1
check "rollover 409: reported as a key already in use" grep -q 'already in use' "$T/rollover-409.log"
save_log rollover-409
expect_eq "rollover 409: the request was a keyChange (inner JWS with the new key's jwk)" "$("$PY" -c '
import base64, json, sys
e = [e for e in json.load(open(sys.argv[1])) if e["kind"] == "other" and e["method"] == "POST"][0]
inner = e["payload"]
prot = json.loads(base64.urlsafe_b64decode(inner["protected"] + "=" * (-len(inner["protected"]) % 4)))
pl = json.loads(base64.urlsafe_b64decode(inner["payload"] + "=" * (-len(inner["payload"]) % 4)))
ok = "jwk" in prot and "nonce" not in prot and prot["url"] == e["protected"]["url"] and \
    pl["account"] == e["protected"]["kid"] and pl["oldKey"] != prot["jwk"]
print("ok" if ok else (prot, pl))' "$T/proxy-rollover-409.json")" ok
expect_eq "rollover 409: the account key file is unchanged" "$(sha256sum <"$S/accounts/px.key")" "$key_before"
expect_eq "rollover 409: no staged key file left behind" "$(ls -A "$S/accounts")" "$(cat "$T/accounts-before.txt")"
proxy_ctl /reset '{}' >/dev/null
acmed rollover px >"$T/rollover-ok.log" 2>&1
expect_eq "rollover without the fault: exits 0" "$?" 0
check "rollover: the key file changed" test "$(sha256sum <"$S/accounts/px.key")" != "$key_before"
acmed renew --force onr >"$T/onr-after.log" 2>&1
expect_eq "issuance with the rolled-over key works" "$?" 0

# ---- 8. badNonce forever: retries are bounded (BAD_NONCE_TRIES in acme_int.h) --------
# Only bn's newOrder carries "profile", so the rule hits bn alone; nb in the
# same pass must be issued.
cat >>"$C/acmed.yaml" <<EOF
  - name: bn
    domains: [bn.example.org]
    profile: classic
$(http)
    output: $O/bn
  - name: nb
    domains: [nb.example.org]
$(http)
    output: $O/nb
EOF
proxy_ctl /reset '{}' >/dev/null
inject "{\"match\": \"newOrder\", \"has\": \"profile\", \"count\": -1, \"status\": 400, \"body\": $(problem badNonce "JWS has an invalid anti-replay nonce" 400)}"
acmed renew bn nb >"$T/bn.log" 2>&1
expect_eq "badNonce on every newOrder of bn: the pass exits 1" "$?" 1
save_log bn
# The bound, as the code has it (30: at 50 % rejection 1 request in 10^9 fails).
TRIES=$(sed -n 's/^#define BAD_NONCE_TRIES \([0-9]*\).*/\1/p' "$TESTS_DIR/../../daemon/acme_int.h")
check "badNonce: the bound is a number from 5 to 30 ($TRIES)" in_range "${TRIES:-0}" 5 30
expect_eq "badNonce: bn's newOrder was sent exactly $TRIES times, each answered badNonce" "$("$PY" -c '
import json, sys
bn = [e for e in json.load(open(sys.argv[1])) if e["kind"] == "newOrder" and isinstance(e.get("payload"), dict)
      and "profile" in e["payload"]]
bad = [e for e in bn if e["status"] == 400 and (e.get("problem") or "").endswith(":badNonce")]
print(len(bn) if len(bad) == len(bn) else "%d of %d badNonce" % (len(bad), len(bn)))' "$T/proxy-bn.json")" "$TRIES"
check "badNonce: the bound is reported in bn's last error" grep -q "rejected $TRIES nonces in a row" <<<"$(col bn last_error)"
check "badNonce: the bound is logged" grep -q "rejected $TRIES nonces in a row" "$T/bn.log"
check "badNonce: bn has no certificate" test ! -e "$O/bn/cert.pem"
check "badNonce: nb in the same pass is issued" test -s "$O/nb/cert.pem"
expect_eq "badNonce: nb has no error recorded" "$(col nb last_error)" ""
expect_eq "badNonce: nb's single newOrder succeeded" "$(norders "$T/proxy-bn.json" nb.example.org)" 1

# ---- 9. the overall polling deadline (global.order_timeout) and order Retry-After --------
# A second configuration with order_timeout: 5 (same proxy, its own state).
C2=$T/config-to S2=$T/state-to
mkdir -p "$C2"
cat >"$C2/acmed.yaml" <<EOF
global:
  order_timeout: 5
cas:
  - name: px
    directory: $PROXY_DIR_URL
    ca_bundle: $PEBBLE_CA_BUNDLE
certificates:
  - name: to
    domains: [to.example.org]
$(http)
    output: $O/to
  - name: tord
    domains: [tord.example.org]
$(http)
    output: $O/tord
EOF
acmed2() { "$ACMED" --config-dir "$C2" --state-dir "$S2" "$@"; }
col2() { sqlite3 -batch -noheader "$S2/acmed.db" "SELECT $2 FROM certificates WHERE name = '$1'"; }
count_kind() { # count_kind LOG KIND: requests of KIND that an injection answered
    "$PY" -c 'import json, sys; print(sum(1 for e in json.load(open(sys.argv[1])) if e["kind"] == sys.argv[2] and e.get("injected")))' "$1" "$2"
}
# The first authorization fetch is real (its challenge is answered); every
# poll after it says "pending" with Retry-After: 1, forever.
proxy_ctl /reset '{}' >/dev/null
inject "{\"match\": \"authz\", \"skip\": 1, \"count\": -1, \"status\": 200, \"retry_after\": \"1\", \"body\": {\"status\": \"pending\", \"identifier\": {\"type\": \"dns\", \"value\": \"to.example.org\"}, \"challenges\": []}}"
T0=$(date +%s)
acmed2 renew to >"$T/to.log" 2>&1
rc=$? T1=$(date +%s)
expect_eq "authorization pending forever, order_timeout 5: renew exits 1" "$rc" 1
save_log to
check "order_timeout: the failure names the deadline" grep -q 'authorization still pending after 5 s' "$T/to.log"
check "order_timeout: the error is recorded" grep -q 'still pending after 5 s' <<<"$(col2 to last_error)"
check "order_timeout: gave up within the bound ($((T1 - T0)) s for the whole renew)" in_range $((T1 - T0)) 4 40
n=$(count_kind "$T/proxy-to.json" authz)
check "order_timeout: polled while pending, spaced by Retry-After ($n polls in 5 s)" in_range "$n" 2 6
check "order_timeout: no certificate" test ! -e "$O/to/cert.pem"
# The order itself stuck in "processing" after finalize: the same bound.
# (acmed fetches the order only after finalize: every fetch is answered.)
proxy_ctl /reset '{}' >/dev/null
inject "{\"match\": \"order\", \"count\": -1, \"status\": 200, \"retry_after\": \"1\", \"body\": {\"status\": \"processing\", \"identifiers\": [{\"type\": \"dns\", \"value\": \"tord.example.org\"}], \"authorizations\": [\"$ORIGIN/authZ/x1\"], \"finalize\": \"$ORIGIN/finalize-order/x\"}}"
T0=$(date +%s)
acmed2 renew tord >"$T/tord.log" 2>&1
rc=$? T1=$(date +%s)
expect_eq "order processing forever, order_timeout 5: renew exits 1" "$rc" 1
save_log tord
check "order_timeout: the order's failure names the deadline" grep -Eq 'order .* did not settle within 5 s' <<<"$(col2 tord last_error)"
check "order_timeout: the order gave up within the bound ($((T1 - T0)) s)" in_range $((T1 - T0)) 4 40
check "order_timeout: the order was polled while processing ($(count_kind "$T/proxy-tord.json" order) polls)" \
    in_range "$(count_kind "$T/proxy-tord.json" order)" 1 6

# Order polling honours Retry-After: one "processing" answer with
# Retry-After: 2 to the first fetch after finalize, then the real order.
cat >>"$C/acmed.yaml" <<EOF
  - name: orp
    domains: [orp.example.org]
$(http)
    output: $O/orp
EOF
proxy_ctl /reset '{}' >/dev/null
inject "{\"match\": \"order\", \"status\": 200, \"retry_after\": \"2\", \"body\": {\"status\": \"processing\", \"identifiers\": [{\"type\": \"dns\", \"value\": \"orp.example.org\"}], \"authorizations\": [\"$ORIGIN/authZ/x1\"], \"finalize\": \"$ORIGIN/finalize-order/x\"}}"
acmed renew orp >"$T/orp.log" 2>&1
expect_eq "order processing once with Retry-After 2: issued in the end" "$?" 0
save_log orp
gap=$("$PY" -c '
import json, sys
t = [(e["time"], e.get("injected")) for e in json.load(open(sys.argv[1])) if e["kind"] == "order"]
i = [k for k, (_, inj) in enumerate(t) if inj]
print("%.1f" % (t[i[0] + 1][0] - t[i[0]][0]) if len(i) == 1 and i[0] + 1 < len(t) else "order fetches: %s" % t)' "$T/proxy-orp.json")
check "order Retry-After 2: the next order fetch waited for it (${gap} s)" \
    "$PY" -c 'import sys; sys.exit(0 if 2.0 <= float(sys.argv[1]) <= 10 else 1)' "$gap"

# ---- 10. errors at finalize carry the server's detail, and are not retried -------------
cat >>"$C/acmed.yaml" <<EOF
  - name: fin
    domains: [fin.example.org]
$(http)
    output: $O/fin
EOF
for spec in 'unauthorized|403|finalize-refused-7f3a9c: account may not finalize this order' \
    'malformed|400|finalize-malformed-2b81e4: CSR is not acceptable'; do
    IFS='|' read -r type status detail <<<"$spec"
    proxy_ctl /reset '{}' >/dev/null
    inject "{\"match\": \"finalize\", \"status\": $status, \"body\": $(problem "$type" "$detail" "$status")}"
    acmed renew --force fin >"$T/fin-$type.log" 2>&1
    expect_eq "finalize answered $status $type: renew exits 1" "$?" 1
    save_log "fin-$type"
    check "finalize $type: the server's detail is in last_error" grep -qF "$detail" <<<"$(col fin last_error)"
    check "finalize $type: the server's detail is logged" grep -qF "$detail" "$T/fin-$type.log"
    check "finalize $type: the problem type is logged" grep -q "$type" "$T/fin-$type.log"
    expect_eq "finalize $type: exactly one finalize request (no loop)" \
        "$("$PY" -c 'import json, sys; print(sum(1 for e in json.load(open(sys.argv[1])) if e["kind"] == "finalize"))' "$T/proxy-fin-$type.json")" 1
    check "finalize $type: no certificate installed" test ! -e "$O/fin/cert.pem"
done
proxy_ctl /reset '{}' >/dev/null
acmed renew --force fin >"$T/fin-ok.log" 2>&1
expect_eq "fin: issued once finalize works (the refused order was not resumed)" "$?" 0
save_log fin-ok
expect_eq "fin: a new order was placed" "$(norders "$T/proxy-fin-ok.json" fin.example.org)" 1

# ---- 11. no order fetch between the authorizations and finalize (RFC 8555 7.1.6) --------
proxy_ctl /reset '{}' >/dev/null
acmed renew --force body >"$T/body-seq.log" 2>&1
expect_eq "single-name issuance: exits 0" "$?" 0
save_log body-seq
expect_eq "with every authorization valid, finalize follows the last authorization poll directly" "$("$PY" -c '
import json, sys
seq = [e["kind"] for e in json.load(open(sys.argv[1])) if e["kind"] in ("newOrder", "authz", "challenge", "order", "finalize", "cert")]
ok = seq[:1] == ["newOrder"] and "finalize" in seq and "order" not in seq[:seq.index("finalize")] and seq[-1] == "cert"
print("ok" if ok else seq)' "$T/proxy-body-seq.json")" ok

# ---- 12. a parallel pass shares one session: one directory, one nonce (RFC 8555 7.2) -----
proxy_ctl /reset '{}' >/dev/null
acmed renew --force rl other body onr poll >"$T/all-par.log" 2>&1
expect_eq "renew --force of 5 certificates, 4 at a time: exits 0" "$?" 0
save_log all-par
expect_eq "the threads of the pass ask for one directory and one nonce, and issue all 5" "$("$PY" -c '
import collections, json, sys
k = collections.Counter(e["kind"] for e in json.load(open(sys.argv[1])))
print(k["directory"], k["nonce"], k["cert"])' "$T/proxy-all-par.json")" "1 1 5"

# ---- 13. the known account: onlyReturnExisting, and accountDoesNotExist (RFC 8555 7.3.1) ---
# A later pass looks its account up with {"onlyReturnExisting": true} only.
accounts() { "$PY" -c '
import json, sys
for e in json.load(open(sys.argv[1])):
    if e["kind"] == "newAccount":
        print(",".join(sorted(e["payload"] or {})), e["status"])' "$1"; }
proxy_ctl /reset '{}' >/dev/null
acmed renew --force body >"$T/acct-1.log" 2>&1
expect_eq "known account: renew exits 0" "$?" 0
save_log acct-1
expect_eq "known account: one newAccount, with onlyReturnExisting alone, answered 200" \
    "$(accounts "$T/proxy-acct-1.json")" "onlyReturnExisting 200"
# The CA forgot the account (a CA reset): accountDoesNotExist, then a new
# registration with the same key, and the certificate is still issued.
proxy_ctl /reset '{}' >/dev/null
inject "{\"match\": \"newAccount\", \"has\": \"onlyReturnExisting\", \"status\": 400, \"body\": $(problem accountDoesNotExist "no account for this key" 400)}"
acmed renew --force body >"$T/acct-2.log" 2>&1
expect_eq "account unknown to the CA: renew exits 0" "$?" 0
save_log acct-2
expect_eq "account unknown to the CA: the lookup, then a registration agreeing to the terms" \
    "$(accounts "$T/proxy-acct-2.json")" "$(printf '%s\n' 'onlyReturnExisting 400' 'contact,termsOfServiceAgreed 200')"
check "account unknown to the CA: the new account URL is kept" \
    test -n "$(sqlite3 -batch -noheader "$S/acmed.db" 'SELECT account_url FROM accounts')"

sanitizer_check "$T"/*.log
finish
