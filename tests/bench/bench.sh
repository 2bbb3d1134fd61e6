#!/usr/bin/env bash
# make bench: acmed's figures against its targets (not part of make check).
#
#   bash tests/bench/bench.sh [ACMED]        (default: $ACMED, else ./acmed)
#
# 1. 1,000 and 10,000 certificates, none due (state seeded by seed.py):
#    configuration load + schedule ("run --once" that finds nothing due),
#    idle RSS of "acmed run", and its wake-ups per minute while nothing is
#    due: context switches of all its threads over BENCH_IDLE_S seconds,
#    then completed poll/sleep calls under strace over as long again; a
#    control daemon (watchdog every 1 s) must show about 60 a minute.
# 2. "run --once" over 20 certificates, none due: time and peak RSS.
# 3. "run --once" issuing BENCH_ISSUE (50) certificates from a local Pebble
#    (PEBBLE_VA_NOSLEEP=1, no nonce rejection, no authorization reuse)
#    through tests/integration/acmeproxy.py, which counts the requests by
#    kind at the CA side; max_parallel 1, then the default (4).
# Times are medians over BENCH_RUNS runs (default 10; 5 for 10,000).  Peak
# RSS is the largest ru_maxrss a run reports (the worker included).
# Starts listeners on 127.0.0.1 (Pebble's and the proxy's ports): on a
# shared machine run it in its own network namespace:
#   unshare -n bash -c 'ip link set lo up && make bench'
# Exit status: 0 if every measurement could be made (whether or not the
# targets were met), 1 otherwise.
ACMED=${1:-${ACMED:-./acmed}}
export ACMED
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=tests/integration/acmeproxy.sh
source "$TESTS_DIR/acmeproxy.sh"

BENCH=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
IDLE_S=${BENCH_IDLE_S:-60}
RUNS=${BENCH_RUNS:-10}
NISSUE=${BENCH_ISSUE:-50}
NOWHERE=https://127.0.0.1:9/dir # the CA of the idle scenarios: never asked
WAITS='poll|ppoll|epoll_wait|epoll_pwait|clock_nanosleep|nanosleep|select|pselect6'
broken=0
table=()

note() { printf '%s\n' "$*"; }
bad() {
    broken=1
    printf 'BENCH ERROR: %s\n' "$*"
}
# result FIGURE TARGET MEASURED VERDICT: one row of the final table
result() {
    table+=("$1|$2|$3|$4")
    printf '  %-44s target %-10s measured %-14s %s\n' "$1" "$2" "$3" "$4"
}
# verdict VALUE LIMIT: "ok" if VALUE < LIMIT (or both 0), else "MISSED"
verdict() {
    awk -v v="$1" -v l="$2" 'BEGIN { print ((v < l || (v == 0 && l == 0)) ? "ok" : "MISSED") }'
}
mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }
at() { local top=$1; shift; "$ACMED" --config-dir "$top/config" --state-dir "$top/state" "$@"; }
status_of() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
ctxt() { # context switches of every thread of PID
    cat /proc/"$1"/task/*/status 2>/dev/null |
        awk '/^(non)?voluntary_ctxt_switches:/ { n += $2 } END { print n + 0 }'
}

# seed TOP N: N certificates, none due; checked with "status --json".
seed() {
    local top=$1 n=$2 notdue
    mkdir -p "$top"
    $PY "$BENCH/seed.py" config "$top" "$n" "$NOWHERE" || return 1
    # The schema: a pass with no certificates creates it ("status" only reads).
    mkdir -p "$top/empty"
    "$ACMED" --config-dir "$top/empty" --state-dir "$top/state" run --once >/dev/null || return 1
    $PY "$BENCH/seed.py" state "$top" "$n" "$NOWHERE" || return 1
    notdue=$(at "$top" status --json | $PY -c '
import json, sys, time
now = time.time()
print(sum(1 for c in json.load(sys.stdin) if c["next_renewal"] > now + 86400))')
    [[ $notdue == "$n" ]] || {
        bad "$n certificates seeded, but only ${notdue:-none} are not due"
        return 1
    }
}

note "acmed benchmark: $ACMED ($(nproc) CPUs, $(date -u +%FT%TZ))"
note ""

# ---- 1. 1,000 and 10,000 certificates, nothing due --------------------------------
declare -A DPID
for n in 1000 10000; do
    top=$T/idle-$n
    seed "$top" "$n" || continue
    runs=$RUNS
    ((n >= 10000 && runs > 5)) && runs=5
    if read -r med min max peak cpu < <($PY "$BENCH/runstat.py" "$runs" "$ACMED" \
        --config-dir "$top/config" check); then
        note "$n certificates: \"check\" (configuration load only): median $med ms (min $min, max $max), CPU $cpu ms"
    fi
    if read -r med min max peak cpu < <($PY "$BENCH/runstat.py" "$runs" "$ACMED" \
        --config-dir "$top/config" --state-dir "$top/state" run --once); then
        note "$n certificates: \"run --once\", nothing due: median $med ms (min $min, max $max), CPU $cpu ms, peak RSS $(mb "$peak")"
        result "$n certs: config load + schedule" "< 1000 ms" "$med ms (CPU $cpu)" "$(verdict "$med" 1000)"
    else
        bad "run --once with $n certificates failed"
    fi
    "$ACMED" --config-dir "$top/config" --state-dir "$top/state" run >"$top/daemon.log" 2>&1 &
    DPID[$n]=$!
    track_pid "${DPID[$n]}"
done
# The control: 20 certificates and a systemd watchdog of 2 s, so the daemon
# wakes once a second (from its loop, at half the interval).  Both
# counters must see those wake-ups, or their zeros above mean nothing.
if seed "$T/idle-ctl" 20; then
    WATCHDOG_USEC=2000000 "$ACMED" --config-dir "$T/idle-ctl/config" --state-dir "$T/idle-ctl/state" run \
        >"$T/idle-ctl/daemon.log" 2>&1 &
    DPID[ctl]=$!
    track_pid "${DPID[ctl]}"
fi
for n in "${!DPID[@]}"; do
    wait_for 60 grep -q 'started:' "$T/idle-$n/daemon.log" || bad "acmed run ($n) did not start"
done
sleep 2 # past start-up: the daemon is asleep in poll()
declare -A C0 C1
for n in "${!DPID[@]}"; do C0[$n]=$(ctxt "${DPID[$n]}"); done
note ""
note "idle daemons: counting context switches for $IDLE_S s ..."
sleep "$IDLE_S"
for n in "${!DPID[@]}"; do C1[$n]=$(ctxt "${DPID[$n]}"); done
declare -A SPID
note "idle daemons: counting completed poll/sleep calls under strace for $IDLE_S s ..."
command -v strace >/dev/null || note "(strace is not installed: only the context switch count)"
for n in "${!DPID[@]}"; do
    command -v strace >/dev/null || break
    strace -f -qq -e trace="${WAITS//|/,}" -o "$T/strace-$n.txt" -p "${DPID[$n]}" 2>/dev/null &
    SPID[$n]=$!
done
sleep "$IDLE_S"
for n in "${!SPID[@]}"; do
    kill -INT "${SPID[$n]}" 2>/dev/null
    wait "${SPID[$n]}" 2>/dev/null
done
for n in 1000 10000 ctl; do
    pid=${DPID[$n]:-}
    [[ -n $pid ]] || continue
    rss=$(status_of "$pid" VmRSS) anon=$(status_of "$pid" RssAnon) file=$(status_of "$pid" RssFile)
    if [[ -z $rss ]]; then
        bad "acmed run ($n) is gone"
        continue
    fi
    sw=$(awk -v d="$((C1[$n] - C0[$n]))" -v s="$IDLE_S" 'BEGIN { printf "%g", d * 60 / s }')
    calls=-
    if [[ -f $T/strace-$n.txt ]]; then
        calls=$(grep -cE "^([0-9]+ +)?($WAITS)\(.*\) += " "$T/strace-$n.txt")
        calls=$(awk -v d="$calls" -v s="$IDLE_S" 'BEGIN { printf "%g", d * 60 / s }')
    fi
    if [[ $n == ctl ]]; then
        note "control (20 certificates, watchdog every 1 s): $sw context switches/min, $calls waits/min"
        for v in "$sw" ${SPID[ctl]:+"$calls"}; do
            awk -v v="$v" 'BEGIN { exit !(v >= 30) }' ||
                bad "the wake-up counters missed the control's wake-ups (measured $v/min, about 60 expected)"
        done
        result "control, a wake-up every 1 s: wake-ups/min" "~60" "$sw / $calls" "(check)"
    else
        note "$n certificates: idle \"acmed run\": VmRSS $(mb "$rss") = $(mb "$anon") private (RssAnon) + $(mb "$file") file-backed (RssFile: shared libraries)"
        result "$n certs: idle RSS of acmed run" "< 10 MB" "$(mb "$rss")" "$(verdict "$rss" 10240)"
        result "$n certs: idle private memory (RssAnon)" "-" "$(mb "$anon")" "(info)"
        result "$n certs: wake-ups/min (context switches)" "0" "$sw" "$(verdict "$sw" 0)"
        [[ $calls != - ]] &&
            result "$n certs: wake-ups/min (strace: waits that returned)" "0" "$calls" "$(verdict "$calls" 0)"
    fi
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    if [[ $rc != 0 ]] || ! grep -q 'stopped' "$T/idle-$n/daemon.log"; then
        bad "acmed run ($n) did not stop cleanly (exit $rc)"
    fi
done

# ---- 2. "run --once" over 20 certificates, nothing due ------------------------------
note ""
top=$T/idle-20
if seed "$top" 20 && read -r med min max peak cpu < <($PY "$BENCH/runstat.py" "$((RUNS * 2))" \
    "$ACMED" --config-dir "$top/config" --state-dir "$top/state" run --once); then
    note "20 certificates: \"run --once\", nothing due: median $med ms (min $min, max $max), CPU $cpu ms, peak RSS $(mb "$peak")"
    result "20 certs, nothing due: run --once time" "< 20 ms" "$med ms (CPU $cpu)" "$(verdict "$med" 20)"
    result "20 certs, nothing due: run --once peak RSS" "< 8 MB" "$(mb "$peak")" "$(verdict "$peak" 8192)"
else
    bad "run --once over 20 certificates failed"
fi
if read -r med min max peak cpu < <($PY "$BENCH/runstat.py" 5 "$ACMED" --help); then
    note "for comparison, \"acmed --help\" (the binary and its shared libraries loaded, nothing else): peak RSS $(mb "$peak")"
    result "acmed --help peak RSS (libraries alone)" "-" "$(mb "$peak")" "(info)"
fi

# ---- 3. issuing certificates from Pebble ------------------------------------------
note ""
export PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0
start_pebble
proxy_start "$T/pebble" || die "the ACME extension proxy starts"
export BENCH_CA_BUNDLE=$PEBBLE_CA_BUNDLE
for mode in sequential parallel; do
    top=$T/issue-$mode
    mp=() label="max_parallel 1"
    if [[ $mode == sequential ]]; then mp=(--max-parallel 1); else label="max_parallel default (4)"; fi
    $PY "$BENCH/seed.py" config "$top" "$NISSUE" "$PROXY_DIR_URL" --prefix "${mode:0:1}" "${mp[@]}" || {
        bad "cannot write the configuration"
        continue
    }
    # As Pebble 2.4.0 itself: no profiles, no ARI; and a clean request log.
    if ! { proxy_ctl /reset '{}' && proxy_ctl /profiles '{"profiles": null}' &&
        proxy_ctl /ari '{"enabled": false}'; } >/dev/null; then
        bad "the proxy's control API"
    fi
    if ! read -r med min max peak cpu < <(RUNSTAT_LOG=$top/run.log $PY "$BENCH/runstat.py" 1 \
        "$ACMED" --config-dir "$top/config" --state-dir "$top/state" run --once); then
        bad "run --once issuing $NISSUE certificates ($label) failed; see below"
        tail -n 20 "$top/run.log"
        continue
    fi
    issued=$(at "$top" status --json | $PY -c '
import json, sys
print(sum(1 for c in json.load(sys.stdin) if c["serial"]))')
    [[ $issued == "$NISSUE" ]] || bad "$label: only $issued of $NISSUE certificates were issued"
    proxy_ctl /log >"$top/ca-log.json" || bad "proxy log"
    note "issuing $NISSUE certificates, $label: $(awk -v m="$med" 'BEGIN { printf "%.2f s", m / 1000 }') (acmed's CPU $cpu ms), peak RSS $(mb "$peak")"
    result "issue $NISSUE, $label: wall time" "-" "$(awk -v m="$med" 'BEGIN { printf "%.2f s", m / 1000 }')" "(info)"
    result "issue $NISSUE, $label: peak RSS" "-" "$(mb "$peak")" "(info)"
    while IFS='|' read -r fig target measured v; do
        result "$fig" "$target" "$measured" "$v"
    done < <($PY - "$top/ca-log.json" "$NISSUE" "$label" <<'EOF'
import collections, json, sys

log, n, label = json.load(open(sys.argv[1])), int(sys.argv[2]), sys.argv[3]
kinds = collections.Counter(e["kind"] for e in log)
once = ("directory", "nonce", "newAccount")
per_cert = {"newOrder": 1, "authz": 2, "challenge": 1, "finalize": 1, "order": 1, "cert": 1}
total = sum(kinds.values())
cert_reqs = total - sum(kinds[k] for k in once)
print("issue %d, %s: CA requests per certificate|7|%.2f|%s" % (
    n, label, cert_reqs / n, "ok" if cert_reqs <= 7 * n else "MISSED"))
print("issue %d, %s: directory+nonce+account per run|3|%d|%s" % (
    n, label, sum(kinds[k] for k in once), "ok" if all(kinds[k] == 1 for k in once) else "MISSED"))
detail = ", ".join("%s %d" % (k, kinds[k]) for k in list(once) + list(per_cert) + sorted(set(kinds) - set(once) - set(per_cert)))
sys.stderr.write("  by kind (%s): %s; %d in all\n" % (label, detail, total))
# Polls: authorization fetches per authorization URL (1 + polls), order
# fetches per order URL (polls after finalize).
for kind, base in (("authz", 1), ("order", 0)):
    per = collections.Counter(e["path"] for e in log if e["kind"] == kind)
    dist = collections.Counter(c - base for c in per.values())
    sys.stderr.write("  %s polls per certificate: %s\n" % (
        "authorization" if kind == "authz" else "order",
        ", ".join("%d poll(s) x%d" % (k, v) for k, v in sorted(dist.items()))))
extra = {k: kinds[k] - v * n for k, v in per_cert.items() if kinds[k] != v * n}
if extra:
    sys.stderr.write("  beyond the target: %s\n" % ", ".join("%s %+d" % kv for kv in extra.items()))
EOF
)
done
proxy_stop "$T/pebble"

# ---- the table ----------------------------------------------------------------------
note ""
note "| figure | target | measured | |"
note "|---|---|---|---|"
for r in "${table[@]}"; do
    IFS='|' read -r f t m v <<<"$r"
    note "| $f | $t | $m | $v |"
done
[[ $broken == 0 ]]
