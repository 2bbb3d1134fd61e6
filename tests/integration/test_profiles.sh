#!/usr/bin/env bash
# ACME profiles (draft-ietf-acme-profiles; SPEC-NOTES 1 and obligations 1-8)
# through the extension proxy in front of Pebble: three certificates on
# three profiles, required/preferred when not offered, a CA without
# meta.profiles, no profile configured, newOrder and finalize rejections,
# orders that omit or change the profile, and `acmed profiles CA`.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/acmeproxy.sh
source "$TESTS_DIR/acmeproxy.sh"

export PEBBLE_VA_NOSLEEP=1
S=$T/state O=$T/out HP=${CHALL_HTTP_PORT:-5002}
PY=/usr/bin/python3
mkdir -p "$O"

start_pebble
proxy_start "$T/pebble" || die "the ACME extension proxy starts"
ROOT=$T/pebble/pebble-root.pem

# write_cfg DIR CERT-YAML: one CA (the proxy) and the given certificates.
write_cfg() {
    mkdir -p "$1"
    {
        cat <<EOF
cas:
  - name: px
    directory: $PROXY_DIR_URL
    contact: [mailto:admin@example.org]
    ca_bundle: $PEBBLE_CA_BUNDLE
certificates:
EOF
        printf '%s\n' "$2"
    } >"$1/acmed.yaml"
}
# cert NAME DOMAIN [EXTRA-YAML-LINES]: one certificate entry.
cert() {
    printf '  - name: %s\n    domains: [%s]\n' "$1" "$2"
    [[ -n ${3:-} ]] && printf '%s\n' "$3"
    printf '    challenge: {type: http-01, listen: "127.0.0.1:%s"}\n    output: %s\n' "$HP" "$O/$1"
}

acmed() { "$ACMED" --config-dir "$CFG" --state-dir "$S" "$@"; }
sql() { sqlite3 -batch -noheader "$S/acmed.db" "$@"; }

# The proxy's log of this phase, saved to a file for the queries below.
save_log() { proxy_ctl /log >"$T/proxy-$1.json" || fail "proxy log can be read"; }
# orders LOG DOMAIN: one line per newOrder attempt for exactly DOMAIN (badNonce
# rejections are replays of the same request, not attempts): the payload,
# keys sorted, then the status the client got.
orders() {
    "$PY" - "$@" <<'EOF'
import json, sys
log, want = json.load(open(sys.argv[1])), sys.argv[2:]
for e in log:
    p = e.get("payload")
    if e["kind"] != "newOrder" or e["method"] != "POST" or not isinstance(p, dict):
        continue
    if (e.get("problem") or "").endswith(":badNonce"):
        continue
    if sorted(i.get("value") for i in p.get("identifiers", [])) == sorted(want):
        print(json.dumps(p, sort_keys=True), e["status"])
EOF
}
norders() { orders "$@" | grep -c .; }
# payload_has LOG DOMAIN KEY: "yes" per order of DOMAIN whose payload has KEY, else "no"
payload_key() {
    orders "$1" "$2" | "$PY" -c '
import json, sys
for line in sys.stdin:
    p = json.loads(line.rsplit(" ", 1)[0])
    print(repr(p[sys.argv[1]]) if sys.argv[1] in p else "absent")' "$3" | paste -sd' '
}
status_json() { # status_json NAME KEY: a field of `status --json` (repr, None for null)
    acmed status --json 2>/dev/null | "$PY" -c '
import json, sys
for c in json.load(sys.stdin):
    if c["name"] == sys.argv[1]:
        print(c[sys.argv[2]])' "$1" "$2"
}
installed() { openssl verify -CAfile "$ROOT" -untrusted "$O/$1/chain.pem" "$O/$1/cert.pem" >/dev/null 2>&1; }

# ---- 1. three profiles, not offered (required / preferred / case), none ------
CFG=$T/c1
write_cfg "$CFG" "$(
    cert p-missing missing.example.org "    profile: nosuch"
    cert p-classic classic.example.org "    profile: classic"
    cert p-short short.example.org "    profile: shortlived
    profile_mode: required"
    cert p-tls tls.example.org "    profile: tlsserver"
    cert p-none none.example.org
    cert p-pref pref.example.org "    profile: gold
    profile_mode: preferred"
    cert p-case case.example.org "    profile: Classic"
)"
proxy_ctl /reset '{}' >/dev/null
SECONDS=0
acmed run --once >"$T/run1.log" 2>&1
rc=$?
expect_eq "pass 1: run --once exits 1 (two certificates fail; took ${SECONDS}s)" "$rc" 1
save_log 1
L=$T/proxy-1.json

declare -A PROF=([p-classic]=classic [p-short]=shortlived [p-tls]=tlsserver)
declare -A DOM=([p-classic]=classic.example.org [p-short]=short.example.org [p-tls]=tls.example.org)
for n in p-classic p-short p-tls; do
    p=${PROF[$n]}
    expect_eq "$n: exactly one newOrder, with \"profile\":\"$p\", answered 201" \
        "$(orders "$L" "${DOM[$n]}" | "$PY" -c 'import json,sys; [print(json.loads(l.rsplit(" ",1)[0]).get("profile"), l.rsplit(" ",1)[1].strip()) for l in sys.stdin]')" "$p 201"
    check "$n: certificate installed and verifies" installed "$n"
    expect_eq "$n: state DB profile_requested|profile_issued" \
        "$(sql "SELECT profile_requested || '|' || profile_issued FROM certificates WHERE name = '$n'")" "$p|$p"
    expect_eq "$n: status --json profile_requested" "$(status_json "$n" profile_requested)" "$p"
    expect_eq "$n: status --json profile_issued" "$(status_json "$n" profile_issued)" "$p"
    check "$n: status text shows the asked and issued profile" \
        grep -q "profile:  $p (asked), $p (issued)" <(acmed status "$n" 2>&1)
done
# The three really are on three profiles: three distinct issued values.
expect_eq "three certificates, three different issued profiles" \
    "$(sql "SELECT count(DISTINCT profile_issued) FROM certificates WHERE name IN ('p-classic','p-short','p-tls')")" 3

expect_eq "p-none: one newOrder, without any \"profile\" key" "$(payload_key "$L" none.example.org profile)" absent
check "p-none: raw payload text has no \"profile\" at all (not \"\", not null)" \
    not grep -q '"profile"' <("$PY" -c '
import json, sys
for e in json.load(open(sys.argv[1])):
    if e["kind"] == "newOrder" and "none.example.org" in (e.get("raw_payload") or ""):
        print(e["raw_payload"])' "$L")
check "p-none: installed" installed p-none

expect_eq "p-missing (required, not offered): no newOrder at all" "$(norders "$L" missing.example.org)" 0
err=$(sql "SELECT last_error FROM certificates WHERE name = 'p-missing'")
for w in nosuch classic shortlived tlsserver; do
    check "p-missing: recorded error names \"$w\"" grep -q "$w" <<<"$err"
done
check "p-missing: the log names the profile and what is offered" \
    grep -E 'p-missing.*"nosuch".*classic, shortlived, tlsserver' "$T/run1.log"
check "p-missing: nothing installed" test ! -e "$O/p-missing/cert.pem"
check "p-missing: status shows the error" grep -q 'error:.*nosuch' <(acmed status p-missing 2>&1)

expect_eq "p-case (\"Classic\" vs offered \"classic\"): compared exactly, no newOrder" \
    "$(norders "$L" case.example.org)" 0
check "p-case: the error names \"Classic\"" grep -q '"Classic"' <<<"$(sql "SELECT last_error FROM certificates WHERE name = 'p-case'")"

expect_eq "p-pref (preferred, not offered): one newOrder without \"profile\"" \
    "$(payload_key "$L" pref.example.org profile)" absent
check "p-pref: a warning names the profile it could not get" grep -Eq 'p-pref.*"gold".*not offered' "$T/run1.log"
check "p-pref: installed" installed p-pref
expect_eq "p-pref: profile_requested stays \"gold\"" "$(sql "SELECT profile_requested FROM certificates WHERE name = 'p-pref'")" gold

# The JWS wire format of that whole pass (obligations 20, 21, 26): "url" is
# the request URL, newAccount alone signs with "jwk", every POST has a nonce,
# fetches are POST-as-GET with payload "", a challenge answer is "{}", and
# the certificate is asked for as application/pem-certificate-chain.
expect_eq "pass 1: JWS headers, POST-as-GET and challenge payloads as RFC 8555 says" "$("$PY" - "$L" "${PROXY_DIR_URL%/dir}" <<'EOF'
import json, sys
log, origin = json.load(open(sys.argv[1])), sys.argv[2]
bad = []
for e in log:
    if e["method"] != "POST" or e["kind"] == "renewalInfo":
        continue
    p, k = e["protected"] or {}, e["kind"]
    if p.get("url") != origin + e["path"]:
        bad.append("%s: url %r" % (k, p.get("url")))
    if not p.get("nonce") or p.get("alg") != "ES256":
        bad.append("%s: nonce/alg %r" % (k, p))
    if ("jwk" in p) != (k == "newAccount") or ("kid" in p) == (k == "newAccount"):
        bad.append("%s: jwk/kid %r" % (k, sorted(p)))
    if e.get("headers", {}).get("Content-Type") != "application/jose+json":
        bad.append("%s: content type" % k)
    if k in ("order", "authz", "cert") and e["raw_payload"] != "":
        bad.append("%s: payload %r" % (k, e["raw_payload"]))
    if k == "challenge" and e["raw_payload"] != "{}":
        bad.append("challenge payload %r" % e["raw_payload"])
    if k == "cert" and e["headers"].get("Accept") != "application/pem-certificate-chain":
        bad.append("cert Accept %r" % e["headers"].get("Accept"))
kinds = {e["kind"] for e in log}
for k in ("newAccount", "newOrder", "authz", "challenge", "finalize", "cert"):
    if k not in kinds:
        bad.append("no %s request seen" % k)
print("; ".join(bad[:5]) or "ok")
EOF
)" ok

# ---- 2. a CA without meta.profiles (Pebble 2.4.0 as it is) --------------------
CFG=$T/c2
write_cfg "$CFG" "$(
    cert q-req qreq.example.org "    profile: classic"
    cert q-pref qpref.example.org "    profile: classic
    profile_mode: preferred"
)"
proxy_ctl /reset '{}' >/dev/null
proxy_ctl /profiles '{"profiles": null}' >/dev/null
acmed renew q-req q-pref >"$T/run2.log" 2>&1
expect_eq "no meta.profiles: renew exits 1 (q-req fails)" "$?" 1
save_log 2
L=$T/proxy-2.json
expect_eq "q-req (required): no newOrder" "$(norders "$L" qreq.example.org)" 0
check "q-req: the error says the CA offers no profiles" \
    grep -q 'offers no profiles' <<<"$(sql "SELECT last_error FROM certificates WHERE name = 'q-req'")"
expect_eq "q-pref (preferred): one newOrder without \"profile\"" "$(payload_key "$L" qpref.example.org profile)" absent
check "q-pref: a warning is logged" grep -Eq 'q-pref.*"classic".*not offered.*offers no profiles' "$T/run2.log"
check "q-pref: installed" installed q-pref
expect_eq "q-pref: no issued profile recorded" "$(sql "SELECT quote(profile_issued) FROM certificates WHERE name = 'q-pref'")" NULL
check "no request of this phase carried \"profile\"" not grep -q '"profile"' <("$PY" -c '
import json, sys
for e in json.load(open(sys.argv[1])):
    print(e.get("raw_payload") or "")' "$L")

acmed profiles px >"$T/prof-null.out" 2>&1
expect_eq "profiles px without meta.profiles exits 0" "$?" 0
check "profiles px says the CA offers no profiles" grep -q 'offers no profiles' "$T/prof-null.out"
proxy_ctl /profiles '{"profiles": {}}' >/dev/null
acmed profiles px >"$T/prof-empty.out" 2>&1
check "profiles px with an empty map says the CA offers none" grep -q 'offers no profiles' "$T/prof-empty.out"
acmed renew --force q-req >"$T/run2b.log" 2>&1
check "q-req with an empty profile map: no newOrder, \"offers no profiles\"" \
    grep -q 'offers no profiles' "$T/run2b.log"

# ---- 3. newOrder rejected: invalidProfile 400, unauthorized 403, malformed 400 -
CFG=$T/c3
write_cfg "$CFG" "$(cert r-err rerr.example.org "    profile: classic")"
i=0
for spec in "400 invalidProfile" "403 unauthorized" "400 malformed"; do
    read -r st type <<<"$spec"
    i=$((i + 1))
    detail="acmeproxy case $i: $type for profile classic"
    proxy_ctl /reset '{}' >/dev/null
    proxy_ctl /inject "{\"rules\": [{\"match\": \"newOrder\", \"status\": $st, \"body\": {\"type\": \"urn:ietf:params:acme:error:$type\", \"detail\": \"$detail\", \"status\": $st}}]}" >/dev/null
    acmed renew --force r-err >"$T/run3-$i.log" 2>&1
    expect_eq "newOrder $st $type: renew exits 1" "$?" 1
    save_log "3-$i"
    expect_eq "newOrder $st $type: exactly one newOrder (no retry loop)" "$(norders "$T/proxy-3-$i.json" rerr.example.org)" 1
    check "newOrder $st $type: the recorded error carries the server's detail" \
        grep -qF "$detail" <<<"$(sql "SELECT last_error FROM certificates WHERE name = 'r-err'")"
    check "newOrder $st $type: the log carries the server's detail" grep -qF "$detail" "$T/run3-$i.log"
    check "newOrder $st $type: nothing installed" test ! -e "$O/r-err/cert.pem"
done
# The next pass right away does not retry (backoff); the next forced one works.
proxy_ctl /reset '{}' >/dev/null
acmed run --once >"$T/run3-next.log" 2>&1
save_log 3-next
expect_eq "after the rejection the next pass sends no newOrder (backoff)" "$(norders "$T/proxy-3-next.json" rerr.example.org)" 0
acmed renew --force r-err >"$T/run3-ok.log" 2>&1
expect_eq "r-err: a later cycle without the error succeeds" "$?" 0

# ---- 4. invalidProfile at finalize ------------------------------------------------
CFG=$T/c4
write_cfg "$CFG" "$(cert f-fin fin.example.org "    profile: shortlived")"
proxy_ctl /reset '{}' >/dev/null
proxy_ctl /inject '{"rules": [{"match": "finalize", "action": "invalidProfile"}]}' >/dev/null
acmed renew f-fin >"$T/run4a.log" 2>&1
expect_eq "finalize invalidProfile once: renew exits 0" "$?" 0
save_log 4a
L=$T/proxy-4a.json
expect_eq "finalize invalidProfile once: exactly two newOrders" "$(norders "$L" fin.example.org)" 2
# Order of events: the rejected finalize, then a directory GET, then the new order.
expect_eq "finalize invalidProfile once: the directory is read again before the fresh order" \
    "$("$PY" - "$L" <<'EOF'
import json, sys
log = json.load(open(sys.argv[1]))
rej = [i for i, e in enumerate(log) if e["kind"] == "finalize" and e.get("injected") == "invalidProfile"]
orders = [i for i, e in enumerate(log) if e["kind"] == "newOrder" and e["status"] == 201]
dirs = [i for i, e in enumerate(log) if e["kind"] == "directory" and e["method"] == "GET"]
print("ok" if rej and len(orders) == 2 and any(rej[0] < d < orders[1] for d in dirs) else
      "rejected finalize at %s, orders at %s, directory GETs at %s" % (rej, orders, dirs))
EOF
)" ok
check "f-fin: installed after the fresh order" installed f-fin
check "f-fin: the re-read is logged" grep -q 'f-fin.*re-reading' "$T/run4a.log"

proxy_ctl /reset '{}' >/dev/null
proxy_ctl /inject '{"rules": [{"match": "finalize", "action": "invalidProfile", "count": 5}]}' >/dev/null
acmed renew --force f-fin >"$T/run4b.log" 2>&1
expect_eq "finalize invalidProfile every time: renew exits 1" "$?" 1
save_log 4b
expect_eq "finalize invalidProfile every time: at most one fresh order (two in all)" \
    "$(norders "$T/proxy-4b.json" fin.example.org)" 2
check "finalize invalidProfile every time: the error says invalidProfile" \
    grep -q invalidProfile <<<"$(sql "SELECT last_error FROM certificates WHERE name = 'f-fin'")"

# The re-read directory no longer offers the profile: no second order at all.
proxy_ctl /reset '{}' >/dev/null
dir_wo=$(curl -sf --cacert "$PEBBLE_CA_BUNDLE" "$PROXY_DIR_URL" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
del d["meta"]["profiles"]["shortlived"]
print(json.dumps({"rules": [{"match": "directory", "skip": 1, "status": 200, "body": d}]}))')
proxy_ctl /inject "$dir_wo" >/dev/null
proxy_ctl /inject '{"rules": [{"match": "finalize", "action": "invalidProfile"}]}' >/dev/null
acmed renew --force f-fin >"$T/run4c.log" 2>&1
expect_eq "profile withdrawn at finalize and from the directory: renew exits 1" "$?" 1
save_log 4c
expect_eq "profile withdrawn: no fresh order after the re-read" "$(norders "$T/proxy-4c.json" fin.example.org)" 1
check "profile withdrawn: the error says shortlived is no longer offered, lists the rest" \
    grep -Eq '"shortlived".*classic, tlsserver' <<<"$(sql "SELECT last_error FROM certificates WHERE name = 'f-fin'")"

# Several certificates in one parallel pass, some finalizations refused with
# invalidProfile: each refused one re-reads the directory while the others
# keep ordering on the shared CA session (under ASan a use-after-free of the
# session's URLs showed up here).
CFG=$T/c4p
write_cfg "$CFG" "$(for k in 1 2 3 4 5 6; do cert "par$k" "par$k.example.org" "    profile: shortlived"; done)"
sed -i '1i global:\n  max_parallel: "6"' "$CFG/acmed.yaml"
proxy_ctl /reset '{}' >/dev/null
proxy_ctl /inject '{"rules": [{"match": "finalize", "action": "invalidProfile", "count": 4}]}' >/dev/null
acmed renew --all >"$T/run4p.log" 2>&1
rc=$?
check "parallel pass with invalidProfile at finalize: exits 0 or 1, no crash (exit $rc)" test "$rc" -le 1
save_log 4p
for k in 1 2 3 4 5 6; do
    n=$(norders "$T/proxy-4p.json" "par$k.example.org")
    check "par$k: one or two orders ($n)" test "$n" -ge 1 -a "$n" -le 2
    if [[ -e $O/par$k/cert.pem ]]; then
        ok "par$k: installed"
    else
        check "par$k: not installed, and the error says invalidProfile" \
            grep -q invalidProfile <<<"$(sql "SELECT last_error FROM certificates WHERE name = 'par$k'")"
    fi
done
expect_eq "parallel pass: all four refusals were used" "$(proxy_ctl /injections | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')" 0

# ---- 5. orders that omit the profile, or show another one --------------------------
CFG=$T/c5
write_cfg "$CFG" "$(
    cert o-none onone.example.org
    cert o-classic oclassic.example.org "    profile: classic"
)"
proxy_ctl /reset '{}' >/dev/null
proxy_ctl /order-profile-mode '{"mode": "omit"}' >/dev/null
acmed renew o-none o-classic >"$T/run5a.log" 2>&1
expect_eq "omit mode: renew exits 0" "$?" 0
check "o-none: installed from an order without \"profile\"" installed o-none
expect_eq "o-none: no issued profile recorded" "$(sql "SELECT quote(profile_issued) FROM certificates WHERE name = 'o-none'")" NULL
expect_eq "o-none: status --json profile_issued is null" "$(status_json o-none profile_issued)" None
expect_eq "o-classic: installed with the echoed profile" "$(sql "SELECT profile_issued FROM certificates WHERE name = 'o-classic'")" classic

# A CA that lists profiles but does not echo the field in the order (Boulder's
# default): the directory offers them, the order object has no "profile".
write_cfg "$CFG" "$(cert o-quiet oquiet.example.org "    profile: classic")"
proxy_ctl /reset '{}' >/dev/null
dir_with=$(curl -sf --cacert "$PEBBLE_CA_BUNDLE" "$PROXY_DIR_URL" | "$PY" -c '
import json, sys
print(json.dumps({"rules": [{"match": "directory", "count": -1, "status": 200, "body": json.load(sys.stdin)}]}))')
proxy_ctl /profiles '{"profiles": null}' >/dev/null
proxy_ctl /inject "$dir_with" >/dev/null
acmed renew o-quiet >"$T/run5b.log" 2>&1
expect_eq "order without \"profile\" after asking for classic: accepted (exit 0)" "$?" 0
save_log 5b
expect_eq "o-quiet: the order was asked for classic" "$(payload_key "$T/proxy-5b.json" oquiet.example.org profile)" "'classic'"
check "o-quiet: installed" installed o-quiet
expect_eq "o-quiet: requested classic, issued unknown (NULL)" \
    "$(sql "SELECT profile_requested || '|' || quote(profile_issued) FROM certificates WHERE name = 'o-quiet'")" "classic|NULL"

write_cfg "$CFG" "$(cert m-mis mis.example.org "    profile: classic")"
proxy_ctl /reset '{}' >/dev/null
proxy_ctl /order-profile-mode '{"mode": "mismatch"}' >/dev/null
acmed renew m-mis >"$T/run5c.log" 2>&1
expect_eq "order shows another profile: renew exits 1" "$?" 1
save_log 5c
check "m-mis: nothing installed" test ! -e "$O/m-mis/cert.pem"
expect_eq "m-mis: no serial recorded" "$(sql "SELECT quote(serial) FROM certificates WHERE name = 'm-mis'")" NULL
check "m-mis: the error names the asked profile" grep -q '"classic"' <<<"$(sql "SELECT last_error FROM certificates WHERE name = 'm-mis'")"
expect_eq "m-mis: the order was never finalized" \
    "$("$PY" -c 'import json,sys; print(sum(1 for e in json.load(open(sys.argv[1])) if e["kind"] == "finalize"))' "$T/proxy-5c.json")" 0

# ---- 6. a changed profile makes the certificate due for reissue ---------------------
CFG=$T/c1
sed -i 's/^    profile: classic$/    profile: tlsserver/' "$CFG/acmed.yaml"
proxy_ctl /reset '{}' >/dev/null
expect_eq "p-classic asked for tlsserver now: status says the configuration changed" \
    "$(status_json p-classic next_reason)" "configuration changed"
acmed renew p-classic >"$T/run6.log" 2>&1
expect_eq "p-classic with a changed profile: renew (not forced) reissues" "$?" 0
save_log 6
expect_eq "p-classic: the new order asks for tlsserver" "$(payload_key "$T/proxy-6.json" classic.example.org profile)" "'tlsserver'"
expect_eq "p-classic: DB now has tlsserver asked and issued" \
    "$(sql "SELECT profile_requested || '|' || profile_issued FROM certificates WHERE name = 'p-classic'")" "tlsserver|tlsserver"

# ---- 6b. a global default profile: inherited, or opted out of with "" ---------------
CFG=$T/c6b
write_cfg "$CFG" "$(
    cert g-inherit ginherit.example.org
    cert g-none gnone.example.org '    profile: ""'
)"
sed -i '1i global: {profile: shortlived}' "$CFG/acmed.yaml"
proxy_ctl /reset '{}' >/dev/null
acmed run --once >"$T/run6b.log" 2>&1
expect_eq "global profile: run --once exits 0" "$?" 0
save_log 6b
expect_eq "g-inherit: its order asks for the global profile" \
    "$(payload_key "$T/proxy-6b.json" ginherit.example.org profile)" "'shortlived'"
expect_eq "g-inherit: DB has shortlived asked and issued" \
    "$(sql "SELECT profile_requested || '|' || profile_issued FROM certificates WHERE name = 'g-inherit'")" "shortlived|shortlived"
expect_eq "g-none (profile: \"\"): its order has no \"profile\" key" \
    "$(payload_key "$T/proxy-6b.json" gnone.example.org profile)" absent

# ---- 7. acmed profiles CA: many, long, non-ASCII, escaped and URL descriptions ------
proxy_ctl /reset '{}' >/dev/null
"$PY" - >"$T/profiles.json" <<'EOF'
import json
p = {
    "classic": "The classic profile",
    "Classic": "Upper-case twin: names are case-sensitive",
    "url": "https://ca.example/docs/profiles#url?x=1&y=2",
    "unicode": "Zertifikat f\u00fcr Pr\u00fcfungen \u2013 6 Tage \u2713",
    "escaped": "line1\nline2\t\"quoted\" back\\slash \u0001 end",
    "empty": "",
    "long": "".join("long-%03d;" % i for i in range(45)),
}
for i in range(12):
    p["p%02d" % i] = "profile number %d" % i
print(json.dumps({"profiles": p}))
EOF
proxy_ctl /profiles "$(cat "$T/profiles.json")" >/dev/null
acmed profiles px >"$T/prof.out" 2>"$T/prof.err"
expect_eq "profiles px exits 0" "$?" 0
acmed profiles "$PROXY_DIR_URL" >"$T/prof-url.out" 2>"$T/prof-url.err"
expect_eq "profiles DIRECTORY-URL (of a configured CA) exits 0" "$?" 0
check "profiles by URL prints the same as by name" cmp -s "$T/prof.out" "$T/prof-url.out"
# Each profile on its own line, "name<TAB>description"; decoding \xNN escapes
# must give back exactly the advertised UTF-8 text (nothing lost or invented).
expect_eq "profiles: one line per profile, every description exact" "$("$PY" - "$T/profiles.json" "$T/prof.out" <<'EOF'
import json, re, sys
want = json.load(open(sys.argv[1]))["profiles"]
raw = open(sys.argv[2], "rb").read()
problems = []
if any(b < 0x20 and b not in (0x09, 0x0a) for b in raw):
    problems.append("raw control bytes in the output")
lines = raw.decode("utf-8", "replace").split("\n")
if lines and lines[-1] == "":
    lines.pop()
got = {}
for line in lines:
    if "\t" not in line:
        problems.append("line without a tab: %r" % line)
        continue
    name, desc = line.split("\t", 1)
    dec = re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), desc.encode())
    got[name] = dec.decode("utf-8", "replace")
if len(lines) != len(want):
    problems.append("%d lines for %d profiles" % (len(lines), len(want)))
for k, v in want.items():
    if got.get(k) != v:
        problems.append("%s: %r != %r" % (k, got.get(k), v))
print("; ".join(problems) or "ok")
EOF
)" ok
acmed profiles no-such-ca >"$T/prof-bad.out" 2>&1
expect_eq "profiles of an unknown CA name exits 1" "$?" 1

sanitizer_check "$T"/*.log "$T"/*.err "$T"/*.out
finish
