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

report() { # report NAME LOG EXIT_STATUS: print and count one test's result
    echo "== $1: $(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$2" | tail -n 1) (exit $3)"
    if [[ $3 -ne 0 ]] || grep -q 'FAIL' "$2"; then
        sed 's/^/    /' "$2" | tail -n 60
    fi
    count "$2" "$3" "$1"
    rm -f "$2"
}

run_one() { # run_one NAME CMD...
    local name=$1 log rc
    shift
    log=$(mktemp)
    "$@" >"$log" 2>&1
    rc=$?
    report "$name" "$log" "$rc"
}

# Integration tests start Pebble and responders on fixed loopback ports.
# Where each can have a network namespace of its own (root, unshare), up to
# TEST_JOBS (default 3) run at once, each with a private loopback; else one
# after another.  Results are reported in the same order either way.
jobs_max=1 isolate=()
if [[ ${TEST_JOBS:-3} -gt 1 ]] && unshare -n true 2>/dev/null && command -v ip >/dev/null; then
    jobs_max=${TEST_JOBS:-3}
    isolate=(unshare -n bash -c 'ip link set lo up && exec "$@"' isolate)
fi

run_integration() { # run_integration BUILD
    local t names=() logs=() i rc
    for t in "$top"/tests/integration/test_*.sh; do
        [[ -f $t ]] || continue
        while (($(jobs -rp | wc -l) >= jobs_max)); do wait -n; done
        names+=("$1 integration $(basename "$t" .sh)")
        logs+=("$(mktemp)")
        ("${isolate[@]}" env ACMED="$top/$1/acmed" bash "$t" >"${logs[-1]}" 2>&1
         echo $? >"${logs[-1]}.rc") &
    done
    wait
    for i in "${!names[@]}"; do
        rc=$(cat "${logs[i]}.rc" 2>/dev/null || echo 99)
        rm -f "${logs[i]}.rc"
        report "${names[i]}" "${logs[i]}" "$rc"
    done
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
        run_integration "$build"
    fi
done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
