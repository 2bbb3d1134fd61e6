#!/usr/bin/env bash
# End to end against Pebble (default random validation delay, nonce
# rejection): issue two certificates with "run --once", check files, state,
# hooks; a second pass does nothing; "renew --force" re-issues just one.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

C=$T/config S=$T/state O=$T/out HOOKLOG=$T/hook.log
mkdir -p "$C" "$O"

start_pebble
ROOT=$T/pebble/pebble-root.pem

# The hook appends one record per run: its argv and the ACMED_* environment.
cat >"$T/hook.sh" <<'EOF'
#!/bin/bash
{
    echo "BEGIN"
    for a in "$@"; do echo "ARG=$a"; done
    env | grep '^ACMED_' | LC_ALL=C sort
    echo "END"
} >>"$HOOK_LOG"
EOF
chmod 755 "$T/hook.sh"
export HOOK_LOG=$HOOKLOG

cat >"$C/acmed.yaml" <<EOF
cas:
  - name: pebble
    directory: $PEBBLE_DIR_URL
    contact: [mailto:admin@example.org]
    ca_bundle: $PEBBLE_CA_BUNDLE
certificates:
  - name: www
    domains: [www.example.org, Example.ORG.]
    challenge: {type: http-01, listen: "127.0.0.1:5002"}
    output: $O/www
    reload: [$T/hook.sh, www-arg, "two words"]
  - name: mail
    domains: [Mail.Example.NET]
    challenge: {type: http-01, listen: "127.0.0.1:5002"}
    output: $O/mail
    reload: [$T/hook.sh, mail-arg]
EOF

declare -A NAMES=([www]="example.org www.example.org" [mail]="mail.example.net")
declare -A DOMAINS_ENV=([www]="www.example.org example.org" [mail]="mail.example.net")
declare -A ARGS=([www]=$'www-arg\ntwo words' [mail]="mail-arg")

acmed() { "$ACMED" --config-dir "$C" --state-dir "$S" "$@"; }
sql() { sqlite3 -batch -noheader "$S/acmed.db" "$@"; }

leaf_serial() { normserial "$(openssl x509 -in "$O/$1/cert.pem" -noout -serial)"; }
leaf_not_after() {
    date -u -d "$(openssl x509 -in "$O/$1/cert.pem" -noout -enddate | cut -d= -f2)" +%s
}
leaf_names() { # SAN DNS names, sorted, space separated
    openssl x509 -in "$O/$1/cert.pem" -noout -ext subjectAltName |
        grep -o 'DNS:[^,[:space:]]*' | sed 's/^DNS://' | LC_ALL=C sort | paste -sd' '
}
file_ids() { # inode and mtime (ns) of every output file
    local f
    for f in privkey cert chain fullchain; do
        stat -L -c "%n %i %.9Y" "$O/$1/$f.pem"
    done
}
# hook_records NAME: the records (BEGIN..END) whose ACMED_CERT_NAME is NAME
hook_records() {
    [[ -f $HOOKLOG ]] || return 0
    awk -v want="ACMED_CERT_NAME=$1" '
        /^BEGIN$/ { rec = ""; hit = 0; next }
        /^END$/   { if (hit) printf "%s--\n", rec; next }
        { rec = rec $0 "\n"; if ($0 == want) hit = 1 }' "$HOOKLOG"
}
hook_count() { hook_records "$1" | grep -c '^--$'; }
hook_last() { hook_records "$1" | awk '/^--$/ { last = cur; cur = ""; next } { cur = cur $0 "\n" } END { printf "%s", last }'; }

check_installed() { # check_installed NAME: files, key, names, DB row
    local n=$1 d=$O/$1 serial na row
    check "$n: openssl verify of cert.pem with chain.pem up to Pebble's root" \
        openssl verify -CAfile "$ROOT" -untrusted "$d/chain.pem" "$d/cert.pem"
    check "$n: fullchain.pem = cert.pem + chain.pem" \
        cmp -s "$d/fullchain.pem" <(cat "$d/cert.pem" "$d/chain.pem")
    expect_eq "$n: privkey.pem has mode 0600" "$(stat -L -c %a "$d/privkey.pem" 2>&1)" 600
    expect_eq "$n: private key matches the leaf's public key" \
        "$(openssl pkey -in "$d/privkey.pem" -pubout 2>&1)" \
        "$(openssl x509 -in "$d/cert.pem" -noout -pubkey | openssl pkey -pubin -pubout 2>&1)"
    expect_eq "$n: leaf names are exactly the configured (normalised) names" \
        "$(leaf_names "$n")" "${NAMES[$n]}"
    serial=$(leaf_serial "$n")
    na=$(leaf_not_after "$n")
    row=$(sql "SELECT serial, not_after, quote(last_error), failures FROM certificates WHERE name = '$n'")
    IFS='|' read -r db_serial db_na db_err db_fail <<<"$row"
    expect_eq "$n: DB serial = leaf serial" "$(normserial "${db_serial:-}")" "$serial"
    expect_eq "$n: DB not_after = leaf notAfter" "${db_na:-}" "$na"
    expect_eq "$n: DB last_error is NULL and failures 0" "${db_err:-}|${db_fail:-}" "NULL|0"
}

check_hook_env() { # check_hook_env NAME: the latest hook record for NAME
    local n=$1 d=$O/$1 want
    want=$(
        while IFS= read -r a; do echo "ARG=$a"; done <<<"${ARGS[$n]}"
        LC_ALL=C sort <<EOF
ACMED_CERT_FILE=$d/cert.pem
ACMED_CERT_NAME=$n
ACMED_CHAIN_FILE=$d/chain.pem
ACMED_DOMAINS=${DOMAINS_ENV[$n]}
ACMED_FULLCHAIN_FILE=$d/fullchain.pem
ACMED_KEY_FILE=$d/privkey.pem
ACMED_NOT_AFTER=$(date -u -d "@$(leaf_not_after "$n")" +%Y-%m-%dT%H:%M:%SZ)
ACMED_OUTPUT_DIR=$d
ACMED_SERIAL=$(leaf_serial "$n")
EOF
    )
    # ACMED_SERIAL may carry a leading zero; compare it normalised.
    expect_eq "$n: hook argv and ACMED_* environment" \
        "$(hook_last "$n" | while IFS= read -r l; do
            if [[ $l == ACMED_SERIAL=* ]]; then echo "ACMED_SERIAL=$(normserial "${l#ACMED_SERIAL=}")"; else echo "$l"; fi
        done)" "$want"
}

# ---- first pass: both certificates are issued --------------------------
SECONDS=0
acmed run --once >"$T/run1.log" 2>&1
rc=$?
expect_eq "first run --once exits 0 (took ${SECONDS}s)" "$rc" 0
[[ $rc -eq 0 ]] || sed 's/^/      | /' "$T/run1.log" | tail -n 30

for n in www mail; do
    if [[ ! -s $O/$n/cert.pem ]]; then
        fail "$n: certificate files were installed" "$(ls -la "$O/$n" 2>&1)"
        continue
    fi
    check_installed "$n"
    expect_eq "$n: reload hook ran exactly once" "$(hook_count "$n")" 1
    check_hook_env "$n"
done
expect_eq "accounts table has exactly one row" "$(sql 'SELECT count(*) FROM accounts')" 1
expect_eq "certificates table has exactly two rows" "$(sql 'SELECT count(*) FROM certificates')" 2
check "the account key is 0600" test "$(stat -c %a "$S/accounts/pebble.key" 2>&1)" = 600

# status --json: a stable set of keys per certificate, and what they hold.
expect_eq "status --json: the documented keys, for both certificates" \
    "$(acmed status --json | /usr/bin/python3 -c 'import json, sys
for c in json.load(sys.stdin):
    print(c["name"], " ".join(sorted(c)))')" \
    "www ari_chosen ari_window_end ari_window_start ca failures hook_status last_attempt last_error name names next_reason next_renewal not_after not_before output profile_issued profile_requested serial
mail ari_chosen ari_window_end ari_window_start ca failures hook_status last_attempt last_error name names next_reason next_renewal not_after not_before output profile_issued profile_requested serial"
expect_eq "status --json: www's serial, hook status and renewal reason" \
    "$(acmed status --json www | /usr/bin/python3 -c 'import json, sys
c = json.load(sys.stdin)[0]
print(c["serial"], c["hook_status"], c["next_reason"], c["not_after"] > c["next_renewal"] > c["not_before"])')" \
    "$(sql "SELECT serial FROM certificates WHERE name = 'www'") 0 lifetime fraction True"

# ---- second pass: nothing is due -----------------------------------------
declare -A SER IDS
for n in www mail; do
    SER[$n]=$(leaf_serial "$n")
    IDS[$n]=$(file_ids "$n" 2>&1)
done
hooklines=$(wc -l <"$HOOKLOG" 2>/dev/null || echo 0)
acmed run --once >"$T/run2.log" 2>&1
expect_eq "second run --once exits 0" "$?" 0
for n in www mail; do
    expect_eq "$n: second pass keeps the serial" "$(leaf_serial "$n")" "${SER[$n]}"
    expect_eq "$n: second pass leaves the files alone (inode, mtime)" "$(file_ids "$n" 2>&1)" "${IDS[$n]}"
    expect_eq "$n: second pass runs no hook" "$(hook_count "$n")" 1
done
expect_eq "second pass appends nothing to the hook log" "$(wc -l <"$HOOKLOG" 2>/dev/null || echo 0)" "$hooklines"

# ---- status -----------------------------------------------------------------
acmed status >"$T/status.out" 2>"$T/status.err"
expect_eq "status exits 0" "$?" 0
for n in www mail; do
    check "status names $n" grep -q "^$n\$" "$T/status.out"
    # The status serial may differ from openssl's only in leading zeros/case.
    got=$(awk -v n="$n" '$0 == n { in_it = 1; next } /^[^ ]/ { in_it = 0 } in_it && $1 == "serial:" { print $2 }' "$T/status.out")
    expect_eq "status shows $n's serial" "$(normserial "${got:-none}")" "${SER[$n]}"
done

# ---- renew --force www: only www is re-issued ------------------------------
SECONDS=0
acmed renew --force www >"$T/renew.log" 2>&1
rc=$?
expect_eq "renew --force www exits 0 (took ${SECONDS}s)" "$rc" 0
[[ $rc -eq 0 ]] || sed 's/^/      | /' "$T/renew.log" | tail -n 30
new=$(leaf_serial www)
check "www: forced renewal gives a new serial" test -n "$new" -a "$new" != "${SER[www]}"
check_installed www
expect_eq "www: hook ran once more" "$(hook_count www)" 2
check_hook_env www
expect_eq "mail: serial untouched by renew --force www" "$(leaf_serial mail)" "${SER[mail]}"
expect_eq "mail: files untouched by renew --force www" "$(file_ids mail 2>&1)" "${IDS[mail]}"
expect_eq "mail: hook did not run again" "$(hook_count mail)" 1
expect_eq "accounts table still has one row" "$(sql 'SELECT count(*) FROM accounts')" 1

# ---- running out: loud logs (on a fake clock) --------------------------------
IFS='|' read -r nb na <<<"$(sql "SELECT not_before, not_after FROM certificates WHERE name = 'mail'")"
life=$((na - nb))
ACMED_FAKE_NOW=$((na - life / 6 + 3600)) acmed renew mail >"$T/late.log" 2>&1
check "1/6 of the lifetime left: an error says when mail expires" \
    grep -q "error: mail: the installed certificate expires at .* (1/6 of its lifetime left)" "$T/late.log"
IFS='|' read -r nb na <<<"$(sql "SELECT not_before, not_after FROM certificates WHERE name = 'mail'")"
ACMED_FAKE_NOW=$((na + 3600)) acmed renew mail >"$T/expired.log" 2>&1
check "past its expiry: an error says mail EXPIRED" \
    grep -q "error: mail: the installed certificate EXPIRED at" "$T/expired.log"

sanitizer_check "$T"/*.log "$T/status.err"
finish
