#!/usr/bin/env bash
# The kept fuzz corpus (tests/fuzz/corpus/HARNESS/) replays cleanly through
# every harness, built with tests/fuzz/replay.c next to the acmed under
# test (so under ASan+UBSan in the sanitizer pass): each harness exists,
# reads every input, and exits 0 without a sanitizer report.  Also keeps
# the corpus small (at most 40 files and 200 KB per harness) and makes
# sure every harness has a corpus.
source "$(dirname "$0")/lib.sh"
top=$(cd "$TESTS_DIR/../.." && pwd)
bins=$(dirname "$ACMED")/tests/fuzz
corpus=$top/tests/fuzz/corpus

harnesses=()
for src in "$top"/tests/fuzz/fuzz_*.c; do
    harnesses+=("$(basename "$src" .c)")
done
((${#harnesses[@]} > 0)) || die "tests/fuzz has harnesses"

for h in "${harnesses[@]}"; do
    dir=$corpus/$h
    if [[ ! -d $dir ]]; then
        fail "$h: has a corpus in tests/fuzz/corpus/$h"
        continue
    fi
    n=$(find "$dir" -maxdepth 1 -type f | wc -l)
    bytes=$(find "$dir" -maxdepth 1 -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
    if ((n >= 1 && n <= 40 && bytes <= 200 * 1024)); then
        ok "$h: corpus is small ($n files, $bytes bytes)"
    else
        fail "$h: corpus is small" "$n files, $bytes bytes (1-40 files, at most 200 KB)"
    fi
    if [[ ! -x $bins/$h ]]; then
        fail "$h: replay binary is built" "missing: $bins/$h"
        continue
    fi
    log=$T/$h.log
    "$bins/$h" "$dir" >"$log" 2>&1
    rc=$?
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    if [[ $rc -eq 0 && $line == "$n passed, 0 failed" ]]; then
        ok "$h: replays its $n inputs"
    else
        fail "$h: replays its $n inputs" "exit $rc, result: ${line:-none}"
        grep -E -A12 'ERROR: |runtime error:|Aborted|SUMMARY' "$log" | head -n 30 | sed 's/^/      | /'
    fi
    if grep -Eq 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$log"; then
        fail "$h: no sanitizer reports" "see the replay log above"
    fi
done
finish
