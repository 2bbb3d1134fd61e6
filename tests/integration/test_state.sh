#!/usr/bin/env bash
# The state database (daemon/store.c): WAL with synchronous=FULL at the
# current schema version; "acmed status" only reads (creates nothing,
# migrates nothing, works while the daemon holds the database); an older
# schema is migrated with its data kept, a newer one and a damaged file are
# refused with a message naming the file, and nothing else is touched.
# Needs no Pebble: the CA is https://127.0.0.1:1/dir, where nothing listens.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

CURRENT=4 # the number of migrations in store.c
C=$T/config O=$T/out
mkdir -p "$C"
cat >"$C/acmed.yaml" <<EOF
cas:
  - name: down
    directory: https://127.0.0.1:1/dir
certificates:
  - name: www
    domains: [www.example.org]
    challenge: {type: http-01, listen: "127.0.0.1:5999"}
    output: $O/www
EOF
acmed() { local s=$1; shift; "$ACMED" --config-dir "$C" --state-dir "$s" "$@"; }
sql() { sqlite3 -batch -noheader "$1/acmed.db" "$2"; }
alive() { [[ -e /proc/$1 && $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }
listing() { (cd "$1" && find . -printf '%p %s %T@\n' | sort); }
logs=()

# ---- status on a state directory that does not exist ----------------------------
S=$T/fresh
acmed "$S" status >"$T/st1.out" 2>"$T/st1.err"
expect_eq "status without any state exits 0" "$?" 0
check "status without any state: www was never issued" grep -q '^  serial:   (none issued yet)$' "$T/st1.out"
check "status without any state: www renews now (new certificate)" grep -q '^  renews:   now (new certificate)$' "$T/st1.out"
check "status without any state creates no state directory" test ! -e "$S"
mkdir -p "$S"
acmed "$S" status --json >"$T/st2.out" 2>"$T/st2.err"
expect_eq "status --json on an empty state directory exits 0" "$?" 0
check "status --json: serial null, failures 0" grep -q '"serial":null.*"failures":0' "$T/st2.out"
expect_eq "status on an empty state directory creates nothing in it" "$(ls -A "$S")" ""
logs+=("$T/st1.err" "$T/st2.err")

# ---- the writer's connection: WAL, synchronous=FULL, current version -------------
acmed "$S" -v run --once >"$T/run1.log" 2>&1
expect_eq "run --once with the CA down exits 1" "$?" 1
logs+=("$T/run1.log")
check "the debug log shows the connection's journal_mode=wal synchronous=2 (FULL) user_version=$CURRENT" \
    grep -q "state database $(re_quote "$S/acmed.db"): journal_mode=wal synchronous=2 user_version=$CURRENT$" "$T/run1.log"
expect_eq "the file is in WAL mode (sqlite3 CLI)" "$(sql "$S" 'PRAGMA journal_mode')" wal
expect_eq "user_version is the current schema version" "$(sql "$S" 'PRAGMA user_version')" "$CURRENT"
expect_eq "the failure was recorded" "$(sql "$S" "SELECT failures FROM certificates WHERE name = 'www'")" 1

# ---- status does not write (no pruning, no files) ----------------------------------
sql "$S" "INSERT INTO attempts (name, ca, identifiers, time, outcome) VALUES ('old', 'down', 'old.example.org', strftime('%s','now') - 200 * 86400, 'failed')"
before=$(listing "$S") sum=$(sha256sum <"$S/acmed.db")
acmed "$S" status >"$T/st3.out" 2>"$T/st3.err"
expect_eq "status on a recorded state exits 0" "$?" 0
check "status shows the recorded failure" grep -q '^  error:    .*(1 failure(s) in a row)$' "$T/st3.out"
expect_eq "status changes no file in the state directory (and creates no -wal/-shm)" "$(listing "$S")" "$before"
expect_eq "status leaves acmed.db byte for byte" "$(sha256sum <"$S/acmed.db")" "$sum"
expect_eq "status leaves an old attempt alone (it used to prune them)" \
    "$(sql "$S" "SELECT count(*) FROM attempts WHERE name = 'old'")" 1
logs+=("$T/st3.err")

# ---- status while the daemon holds the database ---------------------------------
"$ACMED" --config-dir "$C" --state-dir "$S" run >"$T/daemon.log" 2>&1 &
DPID=$!
track_pid "$DPID"
logs+=("$T/daemon.log")
check "the daemon holds the database (its -wal file exists)" wait_for 5 test -e "$S/acmed.db-wal"
acmed "$S" status >"$T/st4.out" 2>"$T/st4.err"
expect_eq "status while the daemon runs exits 0" "$?" 0
check "status while the daemon runs shows the state" grep -q '^  error:    .*failure(s) in a row)$' "$T/st4.out"
acmed "$S" status --json >"$T/st5.out" 2>"$T/st5.err"
expect_eq "status --json while the daemon runs exits 0" "$?" 0
check "status --json while the daemon runs names www" grep -q '"name":"www"' "$T/st5.out"
check "status said nothing on stderr" test ! -s "$T/st4.err" -a ! -s "$T/st5.err"
check "the daemon is still running" alive "$DPID"
kill -TERM "$DPID"
wait "$DPID"
expect_eq "the daemon stops with status 0" "$?" 0
logs+=("$T/st4.err" "$T/st5.err")

# ---- an older schema (version 1) is migrated, its data kept ------------------------
S=$T/v1
mkdir -p "$S"
sqlite3 -batch "$S/acmed.db" <<'EOF'
CREATE TABLE certificates ( name TEXT PRIMARY KEY NOT NULL, ca TEXT, domains TEXT, fingerprint TEXT, profile_requested TEXT, profile_issued TEXT, serial TEXT, not_before INTEGER, not_after INTEGER, last_attempt INTEGER, last_success INTEGER, last_error TEXT, failures INTEGER NOT NULL DEFAULT 0, next_check INTEGER, next_reason TEXT);
CREATE TABLE accounts ( ca_url TEXT PRIMARY KEY NOT NULL, account_url TEXT NOT NULL, created INTEGER NOT NULL DEFAULT (strftime('%s','now')));
INSERT INTO certificates (name, ca, domains, fingerprint, serial, not_before, not_after, last_success, failures)
    VALUES ('www', 'down', 'www.example.org', 'from-v1', 'abc123', 1700000000, 1900000000, 1700000000, 0);
INSERT INTO accounts (ca_url, account_url, created) VALUES ('https://127.0.0.1:1/dir', 'https://127.0.0.1:1/acct/7', 1700000000);
PRAGMA user_version = 1;
EOF
acmed "$S" status >"$T/st6.out" 2>"$T/st6.err"
expect_eq "status on a version 1 database exits 1" "$?" 1
check "status says the schema version differs and how to migrate" \
    grep -q "state database $(re_quote "$S/acmed.db") has schema version 1, this acmed reads version $CURRENT; \"acmed run\" or \"acmed renew\" migrates it" "$T/st6.err"
expect_eq "status did not migrate it" "$(sql "$S" 'PRAGMA user_version')" 1
acmed "$S" run --once >"$T/run2.log" 2>&1
expect_eq "run --once on the version 1 database (CA down) exits 1" "$?" 1
logs+=("$T/st6.err" "$T/run2.log")
expect_eq "the database was migrated to version $CURRENT" "$(sql "$S" 'PRAGMA user_version')" "$CURRENT"
expect_eq "the certificate row kept its serial, validity and last success" \
    "$(sql "$S" "SELECT serial, not_before, not_after, last_success FROM certificates WHERE name = 'www'")" \
    "abc123|1700000000|1900000000|1700000000"
expect_eq "the account row was kept" "$(sql "$S" 'SELECT ca_url, account_url, created FROM accounts')" \
    "https://127.0.0.1:1/dir|https://127.0.0.1:1/acct/7|1700000000"
expect_eq "the later columns and tables exist" \
    "$(sql "$S" "SELECT count(*) FROM pragma_table_info('certificates') WHERE name IN ('ari_id', 'ari_next_fetch', 'revoked_at', 'hook_pending', 'hook_status');
        SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name)")" \
    "$(printf '5\naccounts,attempts,certificates,orders')"
acmed "$S" status >"$T/st7.out" 2>"$T/st7.err"
expect_eq "status on the migrated database exits 0" "$?" 0
check "status shows the serial kept from version 1" grep -q '^  serial:   abc123$' "$T/st7.out"
logs+=("$T/st7.err")

# ---- a newer schema version is refused -------------------------------------------
sql "$S" 'PRAGMA user_version = 99'
sum=$(sha256sum <"$S/acmed.db")
acmed "$S" run --once >"$T/run3.log" 2>&1
expect_eq "run --once on a version 99 database exits 1" "$?" 1
check "the error names the file and both versions" \
    grep -q "state database $(re_quote "$S/acmed.db"): schema version 99 is newer than this acmed ($CURRENT); refusing to use it" "$T/run3.log"
check "no renewal was attempted" not grep -q 'renewing' "$T/run3.log"
expect_eq "the version stays 99" "$(sql "$S" 'PRAGMA user_version')" 99
acmed "$S" status >"$T/st8.out" 2>"$T/st8.err"
expect_eq "status on a version 99 database exits 1" "$?" 1
check "status says a newer acmed wrote it" \
    grep -q "state database $(re_quote "$S/acmed.db") has schema version 99, this acmed reads version $CURRENT (written by a newer acmed)" "$T/st8.err"
logs+=("$T/run3.log" "$T/st8.err")

# ---- a damaged file is refused and nothing is touched -----------------------------
mkdir -p "$O/www"
for f in privkey cert chain fullchain; do echo "installed $f" >"$O/www/$f.pem"; done
damaged() { # damaged DIR LABEL: every command refuses DIR/acmed.db, naming it
    local s=$1 label=$2 out_before db_sum cmd i=0
    out_before=$(listing "$O") db_sum=$(sha256sum <"$s/acmed.db")
    for cmd in "run --once" "renew --all" "renew --force www" "status"; do
        i=$((i + 1))
        # shellcheck disable=SC2086
        acmed "$s" $cmd >"$T/dmg-$label-$i.log" 2>&1
        expect_eq "$label: \"$cmd\" exits 1" "$?" 1
        check "$label: \"$cmd\" names the file and says it is damaged" \
            grep -q "state database $(re_quote "$s/acmed.db").*damaged" "$T/dmg-$label-$i.log"
        logs+=("$T/dmg-$label-$i.log")
    done
    check "$label: no renewal was attempted" not grep -qh 'renewing' "$T"/dmg-"$label"-*.log
    expect_eq "$label: the certificate files are untouched" "$(listing "$O")" "$out_before"
    expect_eq "$label: the database file is left as it was" "$(sha256sum <"$s/acmed.db")" "$db_sum"
}
S=$T/garbage
mkdir -p "$S"
head -c 16384 /dev/urandom >"$S/acmed.db"
damaged "$S" garbage

# A real database with one page overwritten (it has enough rows for several).
S=$T/page
acmed "$S" run --once >/dev/null 2>&1
sql "$S" "PRAGMA wal_checkpoint(TRUNCATE); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)
    INSERT INTO attempts (name, ca, identifiers, time, outcome, detail) SELECT 'n' || i, 'down', 'x', strftime('%s','now'), 'failed', hex(randomblob(100)) FROM n;
    PRAGMA journal_mode = DELETE" >/dev/null
pages=$(sql "$S" 'PRAGMA page_count')
check "the database has several pages ($pages)" test "${pages:-0}" -ge 8
psize=$(sql "$S" 'PRAGMA page_size')
sql "$S" 'PRAGMA journal_mode = WAL' >/dev/null
rm -f "$S/acmed.db-wal" "$S/acmed.db-shm"
head -c "$psize" /dev/urandom | dd of="$S/acmed.db" bs="$psize" seek=$((pages - 2)) conv=notrunc status=none
damaged "$S" page

sanitizer_check "${logs[@]}"
finish
