#!/usr/bin/env bash
# Reload hooks (daemon/hook.c): the per-hook timeout kills the whole process
# group, output is logged and capped with a note, the exit status lands in
# the state (hook_status), a hook whose main process exits while a child
# still holds its output is done then (the child is killed), and a hanging
# hook does not hold up the other certificates (max_parallel), and a hook
# cut short by a crash of the worker runs again at the next pass.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

C=$T/config S=$T/state O=$T/out
mkdir -p "$C" "$O"
export PEBBLE_VA_NOSLEEP=1
start_pebble

alive() { [[ -e /proc/$1 && $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }
gone() { ! alive "$1"; }
sql() { sqlite3 -batch -noheader "$1/acmed.db" "$2"; }

hook() { # hook NAME BODY: an executable /bin/sh script $T/NAME.sh
    printf '#!/bin/sh\n%s\n' "$2" >"$T/$1.sh"
    chmod 755 "$T/$1.sh"
}
cert() { # cert NAME: a certificate entry with $T/NAME.sh as its reload hook
    cat <<EOF
  - name: $1
    domains: [$1.example.org]
    challenge: {type: http-01, listen: "127.0.0.1:${CHALL_HTTP_PORT:-5002}"}
    output: $O/$1
    reload: [$T/$1.sh]
EOF
}
cas() {
    cat <<EOF
cas:
  - name: pebble
    directory: $PEBBLE_DIR_URL
    ca_bundle: $PEBBLE_CA_BUNDLE
certificates:
EOF
}

# ---- pass 1: timeout, output cap, exit status, leftover child ------------------
hook hang "sleep 60 &
echo \$! >$T/hang.child
echo \$\$ >$T/hang.pid
echo 'hang: waiting'
wait"
hook loud "yes 'loud output line' | head -c 1048576"
hook fails "echo 'fails: about to fail' >&2
exit 3"
hook leftover "sleep 60 &
echo \$! >$T/leftover.child
echo 'leftover: done'
exit 0"
{
    printf 'global:\n  hook_timeout: 2\n  max_parallel: 4\n'
    cas
    for n in hang loud fails leftover; do cert $n; done
} >"$C/acmed.yaml"

"$ACMED" --config-dir "$C" --state-dir "$S" renew --all >"$T/pass1.log" 2>&1
expect_eq "renew --all with failing hooks exits 0 (hooks do not fail a renewal)" "$?" 0
for n in hang loud fails leftover; do
    check "$n: installed" test -s "$O/$n/cert.pem"
done
log=$T/pass1.log

# The timeout: the hook and the child it forked are both gone.
check "hang: the timeout is logged with the process group" \
    grep -q "hang: hook $(re_quote "$T/hang.sh") did not finish within 2 s; killing its process group" "$log"
hp=$(cat "$T/hang.pid" 2>/dev/null) hc=$(cat "$T/hang.child" 2>/dev/null)
check "hang: the hook's output before the kill was logged" grep -q "hang: hook .*: hang: waiting$" "$log"
check "hang: the hook's main process ($hp) is gone" test -n "$hp" -a ! -e "/proc/${hp:-0}/stat"
check "hang: its forked sleep 60 child ($hc) is gone too" wait_for 2 gone "${hc:-0}"
expect_eq "hang: state records the killed hook (hook_status -1, not pending)" \
    "$(sql "$S" "SELECT hook_status, hook_pending FROM certificates WHERE name = 'hang'")" "-1|0"

# Output: logged line by line, capped at 4096 bytes, with a note.
loud_bytes=$(grep -o 'loud: hook [^:]*: .*' "$log" | sed 's/^loud: hook [^:]*: //' | wc -c)
loud_lines=$(grep -c 'loud: hook [^:]*: loud output line$' "$log")
check "loud: output lines were logged ($loud_lines)" test "$loud_lines" -ge 100
check "loud: at most 4096 bytes of 1 MB were logged (+ newlines: $loud_bytes)" \
    test "$loud_bytes" -le $((4096 + loud_lines + 200))
check "loud: a note says how much was not logged (1048576 - 4096)" \
    grep -q "loud: hook .*: 1044480 more bytes of output not logged" "$log"
check "loud: its log is bounded (the whole pass log is under 64 KiB)" test "$(wc -c <"$log")" -lt 65536
expect_eq "loud: hook_status 0" "$(sql "$S" "SELECT hook_status FROM certificates WHERE name = 'loud'")" 0

# Exit status into the state; stderr is logged too.
check "fails: its stderr line is logged" grep -q "fails: hook .*: fails: about to fail$" "$log"
check "fails: the exit status is logged" grep -q "fails: hook .* exited with status 3" "$log"
expect_eq "fails: hook_status 3, not pending" \
    "$(sql "$S" "SELECT hook_status, hook_pending FROM certificates WHERE name = 'fails'")" "3|0"

# The main process exits, a child keeps the output open: done, child killed.
lc=$(cat "$T/leftover.child" 2>/dev/null)
check "leftover: its output was logged" grep -q "leftover: hook .*: leftover: done$" "$log"
check "leftover: is not treated as a timeout" not grep -q "leftover: hook .* did not finish" "$log"
check "leftover: the processes left holding its output are reported" \
    grep -q "leftover: hook .* exited, but processes it started still hold its output; killing its process group" "$log"
check "leftover: the background sleep 60 ($lc) was killed" wait_for 2 gone "${lc:-0}"
expect_eq "leftover: hook_status 0 (the main process's exit status)" \
    "$(sql "$S" "SELECT hook_status FROM certificates WHERE name = 'leftover'")" 0

# ---- pass 2: a hanging hook does not hold up the others ---------------------------
# "block" hangs until the test releases it; the hooks of "x" and "y" can
# only finish while block's hook runs (they wait for its start marker).
C2=$T/config2 S2=$T/state2
mkdir -p "$C2"
hook block "echo \$\$ >$T/block.started
i=0
while [ ! -e $T/release ] && [ \$i -lt 250 ]; do sleep 0.1; i=\$((i + 1)); done"
for n in x y; do
    hook $n "i=0
while [ ! -e $T/block.started ] && [ \$i -lt 250 ]; do sleep 0.1; i=\$((i + 1)); done
[ -e $T/block.started ] && [ ! -e $T/release ] && echo \$ACMED_CERT_NAME >>$T/during.log"
done
{
    printf 'global:\n  hook_timeout: 30\n  max_parallel: 2\n'
    cas
    for n in block x y; do cert $n; done
} >"$C2/acmed.yaml"
"$ACMED" --config-dir "$C2" --state-dir "$S2" renew --all >"$T/pass2.log" 2>&1 &
APID=$!
track_pid "$APID"
both() { [[ $(sort "$T/during.log" 2>/dev/null | paste -sd,) == x,y ]]; }
check "x and y: their hooks ran to the end while block's hook hung" wait_for 30 both
bp=$(cat "$T/block.started" 2>/dev/null)
check "block: its hook is still running then" alive "${bp:-0}"
xy() { sql "$S2" "SELECT name, hook_pending, hook_status FROM certificates WHERE name IN ('x', 'y') ORDER BY name" | paste -sd,; }
wait_for 10 test "$(xy)" = "x|0|0,y|0|0"
expect_eq "x and y: installed and recorded (hook done, status 0) while block's hook runs" "$(xy)" "x|0|0,y|0|0"
check "block: its hook is still running after that" alive "${bp:-0}"
expect_eq "block: installed, its hook still pending" \
    "$(sql "$S2" "SELECT serial IS NOT NULL, hook_pending FROM certificates WHERE name = 'block'")" "1|1"

# ---- a worker killed while the hook runs: the next pass runs it again ----------
kill -KILL "$APID"
wait "$APID" 2>/dev/null
check "the killed worker is gone" gone "$APID"
touch "$T/release"
check "block: the orphaned hook ends once released" wait_for 5 gone "${bp:-0}"
"$ACMED" --config-dir "$C2" --state-dir "$S2" renew --all >"$T/pass3.log" 2>&1
expect_eq "next pass: nothing due (exit 2)" "$?" 2
check "next pass: runs the reload hook that did not finish" \
    grep -q "block: running the reload hook that did not finish for " "$T/pass3.log"
bp2=$(cat "$T/block.started" 2>/dev/null)
check "next pass: block's hook really ran again (pid $bp -> $bp2)" test -n "$bp2" -a "$bp2" != "$bp"
expect_eq "next pass: block hook_status 0, not pending" \
    "$(sql "$S2" "SELECT hook_status, hook_pending FROM certificates WHERE name = 'block'")" "0|0"
check "next pass: x and y hooks did not run again" not grep -q "hook $(re_quote "$T")/[xy].sh" "$T/pass3.log"

sanitizer_check "$T/pass1.log" "$T/pass2.log" "$T/pass3.log"
finish
