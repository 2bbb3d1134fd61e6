#!/usr/bin/env bash
# Open file descriptors stay flat.
#
# 1. The daemon: one "acmed run" through 100 renewal passes.  Each pass is
#    what an operator does: change the certificate's key type in the
#    configuration and send SIGHUP; the daemon reloads, finds the
#    certificate due and execs a worker that renews it.  The daemon's
#    /proc/PID/fd is the same after the 100th pass as after the first
#    issuance.  (ACMED_RESPAWN_MIN_S=0 lifts the one-worker-a-minute limit.)
# 2. One worker renewing 20 certificates in one process (max_parallel 1):
#    its reload hook records the worker's open descriptors after each
#    installation; the count after the last equals the count after the
#    second, and the hook itself inherits nothing but stdin/out/err.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

export PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=100
HP=${CHALL_HTTP_PORT:-5002} PASSES=${FD_PASSES:-100} NCERTS=12
start_pebble

fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
fd_list() { # fd_list PID: "fd -> target", one a line (sockets by type only)
    local f
    for f in /proc/"$1"/fd/*; do
        printf '%s -> %s\n' "${f##*/}" "$(readlink "$f" | sed 's/:\[[0-9]*\]$//')"
    done | sort -n
}

# ---- 1. the daemon through 100 passes ----------------------------------------------
C=$T/config S=$T/state O=$T/out
mkdir -p "$C"
write_config() { # write_config KEYTYPE
    cat >"$C/acmed.yaml.new" <<EOF
cas:
  - name: pebble
    directory: $PEBBLE_DIR_URL
    contact: [mailto:admin@example.org]
    ca_bundle: $PEBBLE_CA_BUNDLE
certificates:
  - name: flip
    domains: [flip.example.org]
    key: $1
    challenge: {type: http-01, listen: "127.0.0.1:$HP"}
    output: $O/flip
EOF
    mv "$C/acmed.yaml.new" "$C/acmed.yaml"
}
installs() { grep -c 'flip: installed certificate' "$T/daemon.log"; }
worker_running() { [[ -n $(cat "/proc/$DPID/task/$DPID/children" 2>/dev/null) ]]; }
settled() { # settled N: N installations logged and no worker left
    (($(installs) >= $1)) && ! worker_running
}

write_config ec-p256
ACMED_RESPAWN_MIN_S=0 "$ACMED" --config-dir "$C" --state-dir "$S" run >"$T/daemon.log" 2>&1 &
DPID=$!
track_pid "$DPID"
wait_for 30 settled 1 || die "the daemon issues the certificate first" "$(tail -n 5 "$T/daemon.log")"
before=$(fds "$DPID")
fd_list "$DPID" >"$T/fds-before.txt"

SECONDS=0
done_passes=0
for ((i = 1; i <= PASSES; i++)); do
    if ((i % 2)); then write_config ec-p384; else write_config ec-p256; fi
    kill -HUP "$DPID"
    if ! wait_for 20 settled $((i + 1)); then
        fail "pass $i: the daemon renews after SIGHUP" "$(tail -n 5 "$T/daemon.log")"
        break
    fi
    done_passes=$i
done
expect_eq "the daemon ran $PASSES renewal passes (${SECONDS}s)" "$done_passes" "$PASSES"
expect_eq "every pass installed a new certificate" "$(installs)" $((PASSES + 1))
check "the daemon is still running" kill -0 "$DPID"
after=$(fds "$DPID")
fd_list "$DPID" >"$T/fds-after.txt"
if [[ $after == "$before" ]] && cmp -s "$T/fds-before.txt" "$T/fds-after.txt"; then
    ok "the daemon's open descriptors are the same after $PASSES passes ($before: $(awk '{print $3}' "$T/fds-after.txt" | sort | uniq -c | awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}'))"
else
    fail "the daemon's open descriptors are the same after $PASSES passes" "before: $before, after: $after" \
        "$(diff "$T/fds-before.txt" "$T/fds-after.txt" | head -n 10)"
fi
check "no worker failed" not grep -q 'renewal worker exited with status' "$T/daemon.log"
kill -TERM "$DPID"
wait_for 10 not kill -0 "$DPID" 2>/dev/null
check "the daemon stops on SIGTERM" not kill -0 "$DPID" 2>/dev/null

# ---- 2. one worker, many certificates -----------------------------------------------
# Same state, so same account: every certificate names flip.example.org, whose
# authorization is valid already (fast orders).
C2=$T/config2 O2=$T/out2
mkdir -p "$C2"
{
    cat <<EOF
global:
  max_parallel: 1
cas:
  - name: pebble
    directory: $PEBBLE_DIR_URL
    contact: [mailto:admin@example.org]
    ca_bundle: $PEBBLE_CA_BUNDLE
certificates:
EOF
    for ((i = 1; i <= NCERTS; i++)); do
        cat <<EOF
  - name: c$i
    domains: [flip.example.org]
    challenge: {type: http-01, listen: "127.0.0.1:$HP"}
    output: $O2/c$i
    reload: [/usr/bin/python3, $T/hook.py, $T/hook-fds.txt]
EOF
    done
} >"$C2/acmed.yaml"
# The hook's parent is the worker (hooks are forked and exec'ed by it):
# record the worker's descriptor count and the ones the hook inherited.
cat >"$T/hook.py" <<'EOF'
import os, sys
inherited = []
for fd in range(3, 1024):
    try:
        os.fstat(fd)
        inherited.append(str(fd))
    except OSError:
        pass
with open(sys.argv[1], "a") as f:
    f.write("%s %d %s\n" % (os.environ["ACMED_CERT_NAME"],
                            len(os.listdir("/proc/%d/fd" % os.getppid())),
                            ",".join(inherited) or "none"))
EOF
SECONDS=0
"$ACMED" --config-dir "$C2" --state-dir "$S" renew --force --all >"$T/worker.log" 2>&1
expect_eq "one worker renews $NCERTS certificates (exit 0, ${SECONDS}s)" "$?" 0
expect_eq "the hook ran once per certificate" "$(wc -l <"$T/hook-fds.txt")" "$NCERTS"
counts=$(awk '{print $2}' "$T/hook-fds.txt" | paste -sd' ')
second=$(awk 'NR == 2 {print $2}' "$T/hook-fds.txt")
last=$(awk 'END {print $2}' "$T/hook-fds.txt")
check "the worker's open descriptors do not grow over $NCERTS certificates ($counts)" test "${last:-x}" -le "${second:-0}"
expect_eq "hooks inherit no descriptor beyond stdin, stdout and stderr" \
    "$(awk '{print $3}' "$T/hook-fds.txt" | sort -u | paste -sd' ')" none

sanitizer_check "$T"/*.log
finish
