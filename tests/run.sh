#!/usr/bin/env bash
# Test runner for `make check`.  Usage: tests/run.sh STAGE...
# A STAGE is BUILD_DIR:WHAT[:valgrind] with WHAT one of unit, integration,
# all.  Runs every unit test binary of BUILD_DIR/tests (under valgrind if
# asked) and every tests/integration/test_*.sh against BUILD_DIR/acmed,
# sums the "N passed, N failed" lines they print, and ends with one
# overall line.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
passed=0 failed=0

count() { # count LOGFILE EXIT_STATUS NAME
    local line p f
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -n 1)
    if [[ -z $line ]]; then
        echo "  $3: no result line (exit $2)"
        failed=$((failed + 1))
        return
    fi
    p=${line%% passed*}
    f=${line#*, }
    f=${f%% failed*}
    passed=$((passed + p))
    failed=$((failed + f))
    if [[ $2 -ne 0 && $f -eq 0 ]]; then
        echo "  $3: exit $2 without a counted failure"
        failed=$((failed + 1))
    fi
}

run_one() { # run_one NAME CMD...
    local name=$1 log rc
    shift
    log=$(mktemp)
    "$@" >"$log" 2>&1
    rc=$?
    echo "== $name: $(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1) (exit $rc)"
    if [[ $rc -ne 0 ]] || grep -q 'FAIL' "$log"; then
        sed 's/^/    /' "$log" | tail -n 60
    fi
    count "$log" "$rc" "$name"
    rm -f "$log"
}

valgrind_cmd=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect
              --error-exitcode=99 --track-fds=no)
for stage in "$@"; do
    IFS=: read -r build what vg <<<"$stage"
    prefix=()
    [[ ${vg:-} == valgrind ]] && prefix=("${valgrind_cmd[@]}")
    if [[ $what == all || $what == unit ]]; then
        for t in "$build"/tests/test_*; do
            [[ -x $t && ! -d $t ]] || continue
            run_one "$build ${vg:+$vg }unit $(basename "$t")" "${prefix[@]}" "$t"
        done
    fi
    if [[ $what == all || $what == integration ]]; then
        for t in "$top"/tests/integration/test_*.sh; do
            [[ -f $t ]] || continue
            run_one "$build integration $(basename "$t" .sh)" env ACMED="$top/$build/acmed" bash "$t"
        done
    fi
done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
