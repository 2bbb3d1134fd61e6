#!/usr/bin/env bash
# make fuzz: run each libFuzzer harness of BUILD/tests/fuzz for SECONDS,
# starting from a scratch copy of its kept corpus (tests/fuzz/corpus/NAME,
# which is never written to), with tests/fuzz/NAME.dict when there is one.
# Prints the executions per harness; crashes, leaks and other findings are
# kept in BUILD/fuzz-out/NAME/ (crash-*, leak-*, timeout-*).  Exit status 1
# if any harness found something.
# Usage: tests/fuzz/run.sh BUILD SECONDS NAME...
set -u
build=$1 secs=$2
shift 2
top=$(cd "$(dirname "$0")/../.." && pwd)
found=0
printf '%-14s %12s %10s  %s\n' harness executions exec/s result
for name in "$@"; do
    bin=$top/$build/tests/fuzz/$name
    out=$top/$build/fuzz-out/$name
    rm -rf "$out"
    mkdir -p "$out/corpus"
    cp "$top/tests/fuzz/corpus/$name"/* "$out/corpus/" 2>/dev/null
    dict=()
    [[ -f $top/tests/fuzz/$name.dict ]] && dict=("-dict=$top/tests/fuzz/$name.dict")
    (cd "$out" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$out/" "${dict[@]}" "$out/corpus" >"$out/log" 2>&1)
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/log" | tail -n 1)
    result=ok
    if [[ $rc -ne 0 ]] || compgen -G "$out/crash-*" >/dev/null || compgen -G "$out/leak-*" >/dev/null ||
        compgen -G "$out/timeout-*" >/dev/null || compgen -G "$out/oom-*" >/dev/null; then
        result="FOUND (exit $rc): see $out/log and $out/"
        found=1
    fi
    printf '%-14s %12s %10s  %s\n' "$name" "${execs:-?}" "${rate:-?}" "$result"
done
exit $found
