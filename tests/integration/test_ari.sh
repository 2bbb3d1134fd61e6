#!/usr/bin/env bash
# ACME Renewal Information (RFC 9773; SPEC-NOTES 2, obligations 10-18)
# through the extension proxy in front of Pebble: the unauthenticated GET
# for the right certID after issuance, a stored time in the window that
# survives restarts, Retry-After (both forms, clamped, missing), 5xx and
# reset backoff, broken and 404 answers, a past window that renews now with
# "replaces", one retry without "replaces" after 409/alreadyReplaced/500,
# a CA without renewalInfo; then the lifetime rule without ARI (1/3 of a
# 5-year certificate, 1/2 of a 10-minute one) with ACMED_FAKE_NOW.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/acmeproxy.sh
source "$TESTS_DIR/acmeproxy.sh"

export PEBBLE_VA_NOSLEEP=1
C=$T/config S=$T/state O=$T/out HP=${CHALL_HTTP_PORT:-5002}
PY=/usr/bin/python3
ARI_PATH=/draft-ietf-acme-ari-03/renewalInfo
mkdir -p "$C" "$O"

start_pebble
proxy_start "$T/pebble" || die "the ACME extension proxy starts"

write_cfg() { # write_cfg DIRECTORY-URL CA-BUNDLE
    cat >"$C/acmed.yaml" <<EOF
cas:
  - name: px
    directory: $1
    contact: [mailto:admin@example.org]
    ca_bundle: $2
certificates:
  - name: a1
    domains: [a1.example.org]
    challenge: {type: http-01, listen: "127.0.0.1:$HP"}
    output: $O/a1
EOF
}
write_cfg "$PROXY_DIR_URL" "$PEBBLE_CA_BUNDLE"

acmed() { "$ACMED" --config-dir "$C" --state-dir "$S" "$@"; }
sql() { sqlite3 -batch -noheader "$S/acmed.db" "$@"; }
col() { sql "SELECT $1 FROM certificates WHERE name = 'a1'"; }
# at EPOCH CMD...: run acmed with ACMED_FAKE_NOW=EPOCH
at() { local t=$1; shift; ACMED_FAKE_NOW=$t acmed "$@"; }
leaf_serial() { normserial "$(openssl x509 -in "$O/a1/cert.pem" -noout -serial)"; }
epoch_of() { date -u -d "$(openssl x509 -in "$O/a1/cert.pem" -noout "-$1" | cut -d= -f2)" +%s; }
in_range() { [[ $1 =~ ^-?[0-9]+$ ]] && (($1 >= $2 && $1 <= $3)); } # in_range V LO HI
save_log() { proxy_ctl /log >"$T/proxy-$1.json" || fail "proxy log can be read"; }
# certid SERIAL: the certID the proxy computed for a certificate it served
certid() {
    proxy_ctl /certs | "$PY" -c '
import json, sys
for c in json.load(sys.stdin):
    if c["serial"] == sys.argv[1]:
        print(c["certID"])' "$1"
}
# ari_gets LOG: the path of each renewalInfo request, one per line
ari_gets() {
    "$PY" -c '
import json, sys
for e in json.load(open(sys.argv[1])):
    if e["kind"] == "renewalInfo":
        print(e["method"], e["path"])' "$1"
}
# neworders LOG: per newOrder attempt (badNonce replays left out) its
# "replaces" value or "-", then the status.
neworders() {
    "$PY" -c '
import json, sys
for e in json.load(open(sys.argv[1])):
    p = e.get("payload")
    if e["kind"] != "newOrder" or not isinstance(p, dict):
        continue
    if (e.get("problem") or "").endswith(":badNonce"):
        continue
    print(p.get("replaces", "-"), e["status"])' "$1"
}
status_field() { # status_field KEY: from `status --json` (at $FAKE if set)
    ACMED_FAKE_NOW=${FAKE:-} acmed status --json 2>/dev/null | "$PY" -c '
import json, sys
print(json.load(sys.stdin)[0][sys.argv[1]])' "$1"
}
# window_body START END: a renewalInfo document
window_body() { printf '{"suggestedWindow": {"start": "%s", "end": "%s"}}' "$1" "$2"; }
rfc3339() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
httpdate() { LC_ALL=C date -u -d "@$1" '+%a, %d %b %Y %H:%M:%S GMT'; }
# override JSON-FIELDS: one /renewal-info override for a1's current certID
override() { proxy_ctl /renewal-info "{\"certID\": \"$ID\", $1}" >/dev/null || fail "proxy accepts the override $1"; }
# fetch_at EPOCH LABEL: a pass at EPOCH (after the next fetch time), log saved
fetch_at() {
    FAKE=$1
    at "$1" run --once >"$T/run-$2.log" 2>&1
    RC=$?
}
next_fetch_delay() { echo $(($(col ari_next_fetch) - FAKE)); }

# ---- 1. issuance, then the renewalInfo GET ------------------------------------
acmed run --once >"$T/run-issue.log" 2>&1
expect_eq "a1: issued through the proxy (exit 0)" "$?" 0
save_log issue
L=$T/proxy-issue.json
SERIAL=$(leaf_serial)
ID=$(certid "$SERIAL")
NB=$(epoch_of startdate) NA=$(epoch_of enddate)
LIFE=$((NA - NB))
check "the proxy knows a1's certID" test -n "$ID"
expect_eq "DB ari_id is the RFC 9773 certID of the installed certificate" "$(col ari_id)" "$ID"
expect_eq "renewalInfo fetched right after issuance: one GET for exactly that certID" \
    "$(ari_gets "$L")" "GET $ARI_PATH/$ID"
expect_eq "the renewalInfo request is unauthenticated (no JWS, no body, no JOSE type)" "$("$PY" -c '
import json, sys
bad = [e for e in json.load(open(sys.argv[1])) if e["kind"] == "renewalInfo" and
       (e["protected"] is not None or e["raw_payload"] is not None or e["payload"] is not None or
        "Content-Type" in e["headers"])]
print(len(bad))' "$L")" 0
check "the renewalInfo GET comes after the certificate download" "$PY" -c '
import json, sys
log = json.load(open(sys.argv[1]))
cert = max(i for i, e in enumerate(log) if e["kind"] == "cert")
ari = [i for i, e in enumerate(log) if e["kind"] == "renewalInfo"]
sys.exit(0 if ari and ari[0] > cert else 1)' "$L"
# The proxy's default window: notAfter - lifetime/3 -/+ 1 h.
mid=$((NA - LIFE / 3))
START=$(col ari_start) END=$(col ari_end) CHOSEN=$(col ari_chosen)
check "DB window start is the CA's ($START; want $((mid - 3600)) +/- 1 s)" in_range "$START" $((mid - 3601)) $((mid - 3599))
check "DB window end is the CA's ($END; want $((mid + 3600)) +/- 1 s)" in_range "$END" $((mid + 3599)) $((mid + 3601))
check "DB ari_chosen lies in the window" in_range "$CHOSEN" "$START" "$END"
now=$(date +%s)
check "next renewalInfo fetch follows Retry-After 21600 ($(($(col ari_next_fetch) - now)) s from now)" \
    in_range $(($(col ari_next_fetch) - now)) 21500 21601
expect_eq "status: a1 renews at the time chosen in the ARI window" "$(status_field next_renewal)" "$CHOSEN"
expect_eq "status: the reason is the ARI window" "$(status_field next_reason)" "ARI window"
expect_eq "status --json shows the window start" "$(status_field ari_window_start)" "$START"

# A second pass now: nothing due, no renewalInfo request before Retry-After.
proxy_ctl /reset '{}' >/dev/null
acmed run --once >"$T/run-idle.log" 2>&1
expect_eq "second pass exits 0" "$?" 0
save_log idle
expect_eq "second pass: no renewalInfo request before Retry-After has passed" "$(ari_gets "$T/proxy-idle.json")" ""

# ---- 2. after Retry-After: the same window keeps the chosen time ---------------
# (the directory's renewalInfo now ends in "/": still exactly one "/")
proxy_ctl /reset '{}' >/dev/null
proxy_ctl /inject "$(curl -sf --cacert "$PEBBLE_CA_BUNDLE" "$PROXY_DIR_URL" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
d["renewalInfo"] += "/"
print(json.dumps({"rules": [{"match": "directory", "count": -1, "status": 200, "body": d}]}))')" >/dev/null
fetch_at $(($(col ari_next_fetch) + 5)) refetch
expect_eq "pass after Retry-After exits 0" "$RC" 0
save_log refetch
expect_eq "renewalInfo base ending in \"/\": one GET with exactly one \"/\" before the certID" \
    "$(ari_gets "$T/proxy-refetch.json")" "GET $ARI_PATH/$ID"
expect_eq "the same window keeps the chosen time (persisted across runs)" "$(col ari_chosen)" "$CHOSEN"
expect_eq "next fetch again 21600 s later" "$(next_fetch_delay)" 21600
expect_eq "still the same certificate" "$(leaf_serial)" "$SERIAL"

# ---- 3. Retry-After: clamped to [60 s, 1 day], HTTP-date, missing -> 6 h -------
BODY=$(window_body "$(rfc3339 "$START")" "$(rfc3339 "$END")")
for spec in "30:60" "0:60" "200000:86400" "3600:3600" "date+7200:7200" "none:21600" "soon:21600"; do
    ra=${spec%%:*} want=${spec#*:}
    proxy_ctl /reset '{}' >/dev/null
    F=$(($(col ari_next_fetch) + 1))
    case $ra in
    none) override "\"status\": 200, \"body\": $(printf '%s' "$BODY" | "$PY" -c 'import json,sys; print(json.dumps(sys.stdin.read()))')" ;;
    date*) override "\"status\": 200, \"retry_after\": \"$(httpdate $((F + ${ra#date+})))\", \"body\": $(printf '%s' "$BODY" | "$PY" -c 'import json,sys; print(json.dumps(sys.stdin.read()))')" ;;
    *) override "\"status\": 200, \"retry_after\": \"$ra\", \"body\": $(printf '%s' "$BODY" | "$PY" -c 'import json,sys; print(json.dumps(sys.stdin.read()))')" ;;
    esac
    fetch_at "$F" "ra-$ra"
    save_log "ra-$ra"
    check "Retry-After \"$ra\": renewalInfo was fetched" grep -q "GET $ARI_PATH/$ID" <(ari_gets "$T/proxy-ra-$ra.json")
    expect_eq "Retry-After \"$ra\": next fetch in $want s" "$(next_fetch_delay)" "$want"
done
expect_eq "window unchanged through all of that: chosen time kept" "$(col ari_chosen)" "$CHOSEN"

# ---- 4. temporary errors: 5xx and a reset back off, capped, then 6 h ----------
proxy_ctl /reset '{}' >/dev/null
override '"status": 503, "body": "", "content_type": "text/plain"'
delays=""
for k in 1 2 3 4 5 6 7; do
    fetch_at $(($(col ari_next_fetch) + 1)) "5xx-$k"
    delays+="$(next_fetch_delay) "
done
delays=${delays% }
"$PY" - "$delays" <<'EOF' >"$T/delays.txt"
import sys
d = [int(x) for x in sys.argv[1].split()]
ok = d[0] == 60 and all(b > a for a, b in zip(d[:4], d[1:5])) and max(d) <= 21600 and d[-1] == 21600
print("ok" if ok else "delays %s" % d)
EOF
expect_eq "503s: backoff starts at 60 s, grows, is capped and ends at 6 h ($delays)" "$(cat "$T/delays.txt")" ok
expect_eq "503s: ari_failures counted" "$(col ari_failures)" 7
expect_eq "503s: the chosen time is kept through temporary errors" "$(col ari_chosen)" "$CHOSEN"
proxy_ctl /reset '{}' >/dev/null
fetch_at $(($(col ari_next_fetch) + 1)) ok-again
expect_eq "a good answer clears ari_failures" "$(col ari_failures)" 0
# (count -1: libcurl transparently retries once on a reused connection)
proxy_ctl /inject '{"rules": [{"match": "renewalInfo", "action": "reset", "count": -1}]}' >/dev/null
fetch_at $(($(col ari_next_fetch) + 1)) reset
expect_eq "connection reset: temporary error, retry in 60 s" "$(next_fetch_delay)" 60
expect_eq "connection reset: pass still exits 0" "$RC" 0

# ---- 5. long-term errors: broken documents and 404 -> lifetime schedule, 6 h ----
LIFEPOINT_LO=$((NA - LIFE / 3 - LIFE / 50 - 1)) LIFEPOINT_HI=$((NA - LIFE / 3))
for spec in "junk:<html>nope</html>" "end-before-start:$(window_body "$(rfc3339 "$END")" "$(rfc3339 "$START")")" \
    "empty-window:$(window_body "$(rfc3339 "$START")" "$(rfc3339 "$START")")" \
    "no-end:{\"suggestedWindow\": {\"start\": \"$(rfc3339 "$START")\"}}" "not-object:[1,2]" "404:"; do
    what=${spec%%:*} body=${spec#*:}
    proxy_ctl /reset '{}' >/dev/null
    # first a good answer (so there is a chosen time to lose) ...
    fetch_at $(($(col ari_next_fetch) + 1)) "good-$what"
    check "$what: a good answer first (chosen time set)" test "$(col ari_chosen)" -gt 0
    if [[ $what == 404 ]]; then
        override "\"status\": 404, \"content_type\": \"application/problem+json\", \"body\": {\"type\": \"urn:ietf:params:acme:error:malformed\", \"detail\": \"unknown certificate\", \"status\": 404}"
    else
        override "\"status\": 200, \"retry_after\": \"120\", \"body\": $(printf '%s' "$body" | "$PY" -c 'import json,sys; print(json.dumps(sys.stdin.read()))')"
    fi
    fetch_at $(($(col ari_next_fetch) + 1)) "bad-$what"
    expect_eq "$what: pass exits 0 (no crash)" "$RC" 0
    expect_eq "$what: window and chosen time dropped" "$(col ari_start)|$(col ari_end)|$(col ari_chosen)" "0|0|0"
    expect_eq "$what: next fetch in 6 h" "$(next_fetch_delay)" 21600
    expect_eq "$what: schedule falls back to the lifetime rule" "$(status_field next_reason)" "lifetime fraction"
    check "$what: next renewal is the lifetime point" in_range "$(status_field next_renewal)" "$LIFEPOINT_LO" "$LIFEPOINT_HI"
    expect_eq "$what: certificate untouched" "$(leaf_serial)" "$SERIAL"
done

# ---- 6. a window in the past: renew now, with replaces and the explanation -------
proxy_ctl /reset '{}' >/dev/null
F=$(($(col ari_next_fetch) + 1))
proxy_ctl /renewal-window "{\"serial\": \"$SERIAL\", \"start\": \"$(rfc3339 $((F - 7200)))\", \"end\": \"$(rfc3339 $((F - 3600)))\", \"explanationURL\": \"https://ca.example/incident/42\"}" >/dev/null
fetch_at "$F" past
expect_eq "past window: the pass renews and exits 0" "$RC" 0
save_log past
L=$T/proxy-past.json
NEW_SERIAL=$(leaf_serial)
check "past window: a new certificate is installed" test "$NEW_SERIAL" != "$SERIAL"
expect_eq "past window: the newOrder carries replaces = the old certID" "$(neworders "$L")" "$ID 201"
check "past window: the explanationURL is logged" grep -q 'https://ca.example/incident/42' "$T/run-past.log"
check "past window: the renewal reason is the ARI window" grep -q 'a1: renewing (ARI window)' "$T/run-past.log"
OLD_ID=$ID
ID=$(certid "$NEW_SERIAL")
expect_eq "past window: DB ari_id is the new certificate's certID" "$(col ari_id)" "$ID"
expect_eq "past window: after the renewal only the new certificate is polled" \
    "$(ari_gets "$L" | tail -n 1)" "GET $ARI_PATH/$ID"
expect_eq "past window: the replaced certificate is not polled after its renewal" "$("$PY" -c '
import json, sys
log = json.load(open(sys.argv[1]))
order = min(i for i, e in enumerate(log) if e["kind"] == "newOrder")
print(sum(1 for e in log[order:] if e["kind"] == "renewalInfo" and e["path"].endswith(sys.argv[2])))' "$L" "$OLD_ID")" 0
NB=$(epoch_of startdate) NA=$(epoch_of enddate) LIFE=$((NA - NB))

# ---- 7. replaces rejected: one retry without it ---------------------------------
i=0
for spec in '409|{"match": "newOrder", "has": "replaces", "action": "alreadyReplaced"}' \
    '409|{"match": "newOrder", "has": "replaces", "status": 409, "body": {"type": "urn:ietf:params:acme:error:malformed", "detail": "certificate already has a successor", "status": 409}}' \
    '500|{"match": "newOrder", "has": "replaces", "status": 500, "body": {"type": "urn:ietf:params:acme:error:serverInternal", "detail": "no shared identifier with the replaced certificate (replaces)", "status": 500}}'; do
    i=$((i + 1))
    first=${spec%%|*} rule=${spec#*|}
    proxy_ctl /reset '{}' >/dev/null
    proxy_ctl /inject "{\"rules\": [$rule]}" >/dev/null
    before=$(leaf_serial)
    acmed renew --force a1 >"$T/run-rep-$i.log" 2>&1
    expect_eq "replaces rejection $i ($first): renew exits 0" "$?" 0
    save_log "rep-$i"
    expect_eq "replaces rejection $i ($first): two newOrders, the first with replaces, the retry without" \
        "$(neworders "$T/proxy-rep-$i.json" | paste -sd' ')" "$ID $first - 201"
    check "replaces rejection $i: a new certificate is installed" test "$(leaf_serial)" != "$before"
    check "replaces rejection $i: the retry is logged" grep -q 'without "replaces"' "$T/run-rep-$i.log"
    ID=$(col ari_id)
done
# An unrelated rejection is not retried without replaces.
proxy_ctl /reset '{}' >/dev/null
proxy_ctl /inject '{"rules": [{"match": "newOrder", "has": "replaces", "status": 400, "body": {"type": "urn:ietf:params:acme:error:rejectedIdentifier", "detail": "policy forbids this name", "status": 400}}]}' >/dev/null
acmed renew --force a1 >"$T/run-rep-other.log" 2>&1
expect_eq "unrelated 400 with replaces: renew fails" "$?" 1
save_log rep-other
expect_eq "unrelated 400 with replaces: no retry" "$(neworders "$T/proxy-rep-other.json" | paste -sd' ')" "$ID 400"

# ---- 7b. an expired certificate: renewalInfo is not polled, no replaces --------
proxy_ctl /reset '{}' >/dev/null
NA=$(epoch_of enddate)
check "a1 has a pending renewalInfo fetch before it expires" test "$(col ari_next_fetch)" -lt "$NA"
FAKE=$((NA + 3600))
at "$FAKE" run --once >"$T/run-expired.log" 2>&1
save_log expired
expect_eq "expired: no renewalInfo request for an expired certificate" "$(ari_gets "$T/proxy-expired.json")" ""
expect_eq "expired: the renewal does not name the expired predecessor" "$(neworders "$T/proxy-expired.json")" "- 201"
FAKE=

# ---- 8. the CA drops renewalInfo: no polling, no replaces, lifetime schedule -----
proxy_ctl /reset '{}' >/dev/null
proxy_ctl /ari '{"enabled": false}' >/dev/null
fetch_at $(($(col ari_next_fetch) + 1)) noari
save_log noari
expect_eq "without renewalInfo: no renewalInfo request" "$(ari_gets "$T/proxy-noari.json")" ""
expect_eq "without renewalInfo: no further fetch scheduled, no ARI time" "$(col ari_next_fetch)|$(col ari_chosen)" "0|0"
proxy_ctl /reset '{}' >/dev/null
proxy_ctl /ari '{"enabled": false}' >/dev/null
acmed renew --force a1 >"$T/run-noari-renew.log" 2>&1
expect_eq "without renewalInfo: renew exits 0" "$?" 0
save_log noari-renew
expect_eq "without renewalInfo: the newOrder has no replaces" "$(neworders "$T/proxy-noari-renew.json")" "- 201"
expect_eq "without renewalInfo: no renewalInfo request after issuance" "$(ari_gets "$T/proxy-noari-renew.json")" ""
expect_eq "without renewalInfo: no certID stored" "$(sql "SELECT quote(ari_id) FROM certificates WHERE name = 'a1'")" NULL

# ---- 9. lifetime rule without ARI: 5-year certificate, 1/3 left (minus jitter) -----
NB=$(epoch_of startdate) NA=$(epoch_of enddate) LIFE=$((NA - NB))
SERIAL=$(leaf_serial)
FAKE=
expect_eq "without ARI: the reason is the lifetime fraction" "$(status_field next_reason)" "lifetime fraction"
check "without ARI: next renewal within [notAfter - life/3 - life/50, notAfter - life/3]" \
    in_range "$(status_field next_renewal)" $((NA - LIFE / 3 - LIFE / 50 - 1)) $((NA - LIFE / 3))
at $((NA - LIFE / 3 - LIFE / 50 - 3600)) renew a1 >"$T/run-life-early.log" 2>&1
expect_eq "5-year certificate just before 2/3 of its life minus the jitter: not due (renew exits 2)" "$?" 2
at $((NA - LIFE / 3 - LIFE / 50 - 3600)) run --once >"$T/run-life-early2.log" 2>&1
expect_eq "... and run --once leaves it alone" "$(leaf_serial)" "$SERIAL"
at $((NA - LIFE / 3 + 60)) run --once >"$T/run-life-due.log" 2>&1
expect_eq "5-year certificate past the 1/3-left point: run --once renews (exit 0)" "$?" 0
check "... a new certificate is installed" test "$(leaf_serial)" != "$SERIAL"
check "... for the lifetime reason" grep -q 'a1: renewing (lifetime fraction)' "$T/run-life-due.log"

# ---- 10. a 10-minute certificate renews at 1/2 of its life, not every pass ----------
proxy_stop "$T/pebble"
pebble_stop "$T/pebble"
PEBBLE_CERT_VALIDITY=600 start_pebble
write_cfg "$PEBBLE_DIR_URL" "$PEBBLE_CA_BUNDLE"
acmed renew --force a1 >"$T/run-short.log" 2>&1
expect_eq "10-minute certificate from Pebble's certificateValidityPeriod: issued" "$?" 0
NB=$(epoch_of startdate) NA=$(epoch_of enddate) LIFE=$((NA - NB))
SERIAL=$(leaf_serial)
check "its lifetime is about 10 minutes ($LIFE s)" in_range "$LIFE" 590 610
check "next renewal at half its life, minus the jitter" \
    in_range "$(status_field next_renewal)" $((NA - LIFE / 2 - LIFE / 50 - 1)) $((NA - LIFE / 2))
acmed renew a1 >"$T/run-short-now.log" 2>&1
expect_eq "a pass right after issuance: not due (exit 2)" "$?" 2
at $((NA - LIFE / 2 - LIFE / 50 - 2)) renew a1 >"$T/run-short-early.log" 2>&1
expect_eq "just before half its life minus the jitter: not due (exit 2)" "$?" 2
at $((NA - LIFE / 2 + 1)) run --once >"$T/run-short-due.log" 2>&1
expect_eq "past half its life: run --once renews (exit 0)" "$?" 0
check "... a new certificate is installed" test "$(leaf_serial)" != "$SERIAL"
acmed renew a1 >"$T/run-short-again.log" 2>&1
expect_eq "the renewed short certificate is not due at the next pass (exit 2)" "$?" 2

sanitizer_check "$T"/*.log
finish
