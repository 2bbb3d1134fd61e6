#!/usr/bin/env bash
# The daemon ("acmed run") and the sd_notify protocol: READY=1 at once even
# with its CA down, STATUS= lines that follow the passes, WATCHDOG=1 from
# the scheduler loop at half of WATCHDOG_USEC (also while a worker hangs),
# RELOADING=1/READY=1 around SIGHUP (a broken config is reported and the
# old one kept), STOPPING=1 and exit 0 on SIGTERM.
# Needs no Pebble: the CA is https://127.0.0.1:1/dir, where nothing listens.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
C=$T/config S=$T/state SOCK=$T/notify.sock MSGS=$T/notify.txt LOG=$T/daemon.log
mkdir -p "$C"
[[ -x $PY ]] || die "$PY is available"

# Records every datagram's assignments, one per line, as "PID<TAB>LINE".
cat >"$T/notify_listener.py" <<'EOF'
import os, socket, struct, sys

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
with open(out, "a", buffering=1) as f:
    f.write("0\tLISTENING\n")
    while True:
        data, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(12) * 4)
        pid = 0
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", cdata[:12])[0]
        for line in data.decode("utf-8", "replace").split("\n"):
            if line:
                f.write("%d\t%s\n" % (pid, line))
EOF
"$PY" "$T/notify_listener.py" "$SOCK" "$MSGS" 2>"$T/listener.err" &
track_pid $!
wait_for 5 grep -q LISTENING "$MSGS" 2>/dev/null || die "notify listener starts" "$(cat "$T/listener.err")"

config_one() {
    cat >"$C/acmed.yaml" <<EOF
cas:
  - name: down
    directory: https://127.0.0.1:1/dir
    contact: [mailto:admin@example.org]
certificates:
  - name: www
    domains: [www.example.org]
    challenge: {type: http-01, listen: "127.0.0.1:5999"}
    output: $T/out/www
EOF
}
msgs() { cut -f2 "$MSGS"; }                   # all received assignments
count() { msgs | grep -cx -- "$1"; }           # how often exactly "$1" came
statuses() { msgs | sed -n 's/^STATUS=//p'; }
# The documented shape: "N certificate(s), next: NAME in 2d 4h, K failing".
STATUS_RE='^[0-9]+ certificate\(s\), next: [^ ]+ (now|in [0-9]+[dhms]( [0-9]+[hms])?), [0-9]+ failing(, renewing)?$'
pings() { grep -c $'^'"$1"$'\tWATCHDOG=1$' "$MSGS"; } # WATCHDOG=1 sent by pid $1
alive() { [[ -e /proc/$1 && $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }
stopped() { ! alive "$1"; }

config_one

# ---- start: READY=1 within 5 s ------------------------------------------------
# WATCHDOG_USEC of 2 s: the loop must ping about every second.
NOTIFY_SOCKET=$SOCK WATCHDOG_USEC=2000000 "$ACMED" --config-dir "$C" --state-dir "$S" run >"$LOG" 2>&1 &
DPID=$!
track_pid "$DPID"
SECONDS=0
if wait_for 5 grep -q $'\tREADY=1$' "$MSGS"; then
    ok "READY=1 arrives within 5 s of the start (CA down)"
else
    fail "READY=1 arrives within 5 s of the start (CA down)" "received:" "$(cat "$MSGS")" "log:" "$(cat "$LOG")"
fi
rpid=$(grep -m1 $'\tREADY=1$' "$MSGS" | cut -f1)
if [[ ${rpid:-0} != 0 ]]; then
    expect_eq "READY=1 is sent by the main process" "$rpid" "$DPID"
fi
check "the daemon is running" alive "$DPID"

# ---- one daemon per state directory -------------------------------------------
SECONDS=0
timeout 10 "$ACMED" --config-dir "$C" --state-dir "$S" run >"$T/second.log" 2>&1
expect_eq "a second daemon on the same state directory exits 1 at once (${SECONDS}s)" "$?" 1
check "it says another daemon is running there" \
    grep -q "another acmed daemon is running on the state directory $(re_quote "$S")" "$T/second.log"
check "the first daemon is unaffected" alive "$DPID"
# ---- STATUS=: documented shape, and it follows the pass -------------------------
# The first pass runs at once (www was never issued) and fails (the CA is
# down): "0 failing, renewing" while the worker runs, then "1 failing".
wait_for 10 grep -q $'\tSTATUS=.*, 1 failing' "$MSGS"
first=$(statuses | head -n 1)
expect_eq "the first STATUS= is sent while the first pass runs" "$first" \
    "1 certificate(s), next: www now, 0 failing, renewing"
after=$(statuses | grep -m1 ', 1 failing' || true)
check "after the failed pass STATUS= says 1 failing, next www in N s (\"$after\")" \
    grep -Eq '^1 certificate\(s\), next: www in [0-9]+(s|m [0-9]+s), 1 failing$' <<<"$after"
bad=$(statuses | grep -Ev "$STATUS_RE" || true)
expect_eq "every STATUS= line has the documented shape" "$bad" ""

# ---- WATCHDOG=1 from the daemon's own loop ---------------------------------------
n0=$(pings "$DPID")
sleep 3
n1=$(pings "$DPID")
check "WATCHDOG_USEC=2s: the daemon sent WATCHDOG=1 at least twice in 3 s ($n0 -> $n1)" \
    test "$((n1 - n0))" -ge 2
expect_eq "every WATCHDOG=1 comes from the main process" \
    "$(grep $'\tWATCHDOG=1$' "$MSGS" | cut -f1 | sort -u | grep -vx "$DPID" || true)" ""

# ---- SIGHUP with a broken file: keep running, report file:line ---------------
cat >"$C/zz-broken.yaml" <<EOF
certificates:
  - name: other
    domains: [other.example.org]
    challenge: {type: http-01, listen: "127.0.0.1:5999"}
    outptu: $T/out/other
EOF
kill -HUP "$DPID"
sleep 1
check "after SIGHUP with a broken config the daemon is still alive" alive "$DPID"
wait_for 5 grep -q "$(re_quote "$C/zz-broken.yaml"):5:" "$LOG"
check "the reload error names the file and line (zz-broken.yaml:5:)" \
    grep -q "$(re_quote "$C/zz-broken.yaml"):5:[0-9]*: .*outptu" "$LOG"
wait_for 5 test "$(count READY=1)" -ge 2
expect_eq "RELOADING=1 then READY=1 after the failed reload" \
    "$(msgs | grep -Ex 'READY=1|RELOADING=1|STOPPING=1' | paste -sd,)" "READY=1,RELOADING=1,READY=1"
check "a failed reload does not say \"configuration reloaded\"" \
    not grep -q 'configuration reloaded' "$LOG"
# Workers renew with the daemon's validated copy, which the broken edit did
# not reach: STATE/config.PID.N still holds the old files, and they check out.
copy() { local d; for d in "$S"/config.*/; do [[ -d $d ]] && printf '%s\n' "${d%/}"; done; }
expect_eq "one copy of the configuration in the state directory" "$(copy | wc -l)" 1
check "the workers' copy still has the valid configuration" cmp -s "$(copy)/acmed.yaml" "$C/acmed.yaml"
check "the broken file is not in the workers' copy" test ! -e "$(copy)/zz-broken.yaml"
check "the workers' copy passes acmed check" "$ACMED" --config-dir "$(copy)" check

# ---- SIGHUP with the file fixed -----------------------------------------------
sed -i 's/outptu:/output:/' "$C/zz-broken.yaml"
kill -HUP "$DPID"
wait_for 5 grep -q "configuration reloaded" "$LOG"
check "after SIGHUP with a fixed config the log says \"configuration reloaded\"" \
    grep -q "configuration reloaded" "$LOG"
check "the reloaded configuration has 2 certificates" \
    grep -q "configuration reloaded: 2 certificate" "$LOG"
wait_for 5 test "$(count READY=1)" -ge 3
expect_eq "RELOADING=1 then READY=1 after the good reload" \
    "$(msgs | grep -Ex 'READY=1|RELOADING=1|STOPPING=1' | paste -sd,)" \
    "READY=1,RELOADING=1,READY=1,RELOADING=1,READY=1"
check "the daemon is still running after two reloads" alive "$DPID"
check "after the good reload the newest copy has the fixed file" \
    cmp -s "$(copy | sort -t. -k3 -n | tail -n 1)/zz-broken.yaml" "$C/zz-broken.yaml"
check "after the reload STATUS= counts 2 certificates" \
    wait_for 5 grep -Eq $'\tSTATUS=2 certificate\\(s\\), next: ' "$MSGS"

# ---- SIGTERM: STOPPING=1, exit 0 within 10 s ------------------------------------
kill -TERM "$DPID"
SECONDS=0
if wait_for 10 stopped "$DPID"; then
    ok "SIGTERM: the daemon exits within 10 s (${SECONDS}s)"
    wait "$DPID"
    expect_eq "SIGTERM: exit status 0" "$?" 0
else
    fail "SIGTERM: the daemon exits within 10 s" "log:" "$(tail -n 20 "$LOG")"
fi
expect_eq "SIGTERM: the daemon's copies of the configuration are removed" "$(copy | grep -c .)" 0
wait_for 2 grep -q $'\tSTOPPING=1$' "$MSGS"
check "STOPPING=1 was received" grep -q $'\tSTOPPING=1$' "$MSGS"
check "no acmed worker is left behind" not pgrep -f -- "--state-dir $(re_quote "$S") renew"

# ---- SIGTERM while a renewal worker hangs on a CA that never answers ----------
# A TCP listener that accepts and then says nothing: the worker waits in TLS.
cat >"$T/blackhole.py" <<'EOF'
import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
conns = []
while True:
    c, _ = s.accept()
    conns.append(c)
EOF
"$PY" "$T/blackhole.py" "$T/blackhole.port" 2>"$T/blackhole.err" &
track_pid $!
wait_for 5 test -s "$T/blackhole.port" || die "black-hole CA listener starts" "$(cat "$T/blackhole.err")"
C2=$T/config2 S2=$T/state2 LOG2=$T/daemon2.log
mkdir -p "$C2"
sed "s|https://127.0.0.1:1/dir|https://127.0.0.1:$(<"$T/blackhole.port")/dir|" "$C/acmed.yaml" >"$C2/acmed.yaml"
: >"$MSGS"
NOTIFY_SOCKET=$SOCK WATCHDOG_USEC=2000000 "$ACMED" --config-dir "$C2" --state-dir "$S2" run >"$LOG2" 2>&1 &
DPID=$!
track_pid "$DPID"
check "hanging CA: READY=1 within 5 s" wait_for 5 grep -q $'\tREADY=1$' "$MSGS"
worker() { pgrep -f -- "--state-dir $(re_quote "$S2") renew" >/dev/null; }
check "hanging CA: a renewal worker is running" wait_for 5 worker
check "hanging CA: the worker reads the daemon's copy of the configuration" \
    grep -Eq -- "--config-dir $(re_quote "$S2/config.")[0-9]+\.[0-9]+ " <<<"$(pgrep -af -- "--state-dir $(re_quote "$S2") renew")"
sleep 0.5 # let the worker reach the CA
# libcurl is opened where a CA is talked to: in the worker, never the daemon.
wpid=$(pgrep -f -- "--state-dir $(re_quote "$S2") renew" | head -n 1)
check "hanging CA: the daemon has not loaded libcurl" not grep -q libcurl "/proc/$DPID/maps"
check "hanging CA: its worker has (pid ${wpid:-none})" grep -q libcurl "/proc/${wpid:-0}/maps"
n0=$(pings "$DPID")
sleep 3
n1=$(pings "$DPID")
check "hanging CA: WATCHDOG=1 goes on while the worker hangs ($n0 -> $n1 in 3 s)" \
    test "$((n1 - n0))" -ge 2
check "hanging CA: the worker is still running (so the pings came during it)" worker
check "hanging CA: STATUS= says renewing" grep -q $'\tSTATUS=.*, renewing$' "$MSGS"
kill -TERM "$DPID"
SECONDS=0
if wait_for 10 stopped "$DPID"; then
    ok "hanging CA: SIGTERM ends the daemon within 10 s (${SECONDS}s)"
    wait "$DPID"
    expect_eq "hanging CA: exit status 0" "$?" 0
else
    fail "hanging CA: SIGTERM ends the daemon within 10 s" "log:" "$(tail -n 20 "$LOG2")"
fi
check "hanging CA: STOPPING=1 was received" wait_for 2 grep -q $'\tSTOPPING=1$' "$MSGS"
check "hanging CA: the worker was stopped too" wait_for 2 not worker

sanitizer_check "$LOG" "$LOG2"
finish
