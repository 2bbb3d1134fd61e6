# shellcheck shell=bash
# Shared helpers for acmed integration tests.  SOURCE this file first thing:
#
#   source "$(dirname "$0")/lib.sh"
#
# It provides
#   $ACMED            the binary under test (from the environment; required)
#   $T                a fresh per-test temp dir (mktemp -d), removed on exit
#                     unless KEEP_TMP=1
#   check DESC CMD... run CMD; PASS/FAIL line for DESC by its exit status
#   ok DESC / fail DESC [DETAIL...]   count a result directly
#   expect_eq DESC GOT WANT           PASS if the two strings are equal
#   die DESC          count a failure, print the result line and exit 1
#   finish            print "N passed, N failed"; returns non-zero on failure
#   start_pebble      pebble_start "$T/pebble" (dies if it cannot start)
#   not CMD...        succeeds if CMD fails
#   wait_for SECS CMD...  poll CMD every 0.1 s until it succeeds or SECS pass
#   normserial SERIAL     hex serial in lower case without leading zeros
#   re_quote STRING       STRING escaped for use in grep -E
#   sanitizer_check LOG...  FAIL if ASan/UBSan/LSan reported anything
# and an EXIT trap that always stops Pebble (if started), kills processes
# registered with `track_pid PID`, and removes $T.

set -u

: "${ACMED:?ACMED must point to the acmed binary under test}"
case $ACMED in
/*) ;;
*) ACMED=$PWD/$ACMED ;;
esac
[[ -x $ACMED ]] || {
    echo "FAIL: acmed binary $ACMED is not executable"
    echo "0 passed, 1 failed"
    exit 1
}

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/pebble.sh
source "$TESTS_DIR/pebble.sh"

# Sanitizer builds: leaks count, and reports must not be lost; harmless otherwise.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Deterministic logs: never the journal prefix format.
unset JOURNAL_STREAM NOTIFY_SOCKET ACMED_FAKE_NOW ACMED_DEBUG

_passed=0
_failed=0
_pebble_started=""
_tracked_pids=()

T=$(mktemp -d "${TMPDIR:-/tmp}/acmed-it.XXXXXXXX") || {
    echo "FAIL: mktemp -d"
    echo "0 passed, 1 failed"
    exit 1
}

ok() {
    _passed=$((_passed + 1))
    echo "PASS: $1"
}

fail() {
    local desc=$1
    shift
    _failed=$((_failed + 1))
    echo "FAIL: $desc"
    local l
    for l in "$@"; do
        printf '      %s\n' "$l"
    done
}

check() { # output of CMD is shown only when it fails
    local desc=$1 out
    shift
    if out=$("$@" 2>&1); then
        ok "$desc"
    else
        fail "$desc" "command: $*"
        [[ -n $out ]] && printf '%s\n' "$out" | head -n 20 | sed 's/^/      | /'
    fi
    return 0
}

expect_eq() { # expect_eq DESC GOT WANT
    if [[ $2 == "$3" ]]; then
        ok "$1"
    else
        fail "$1" "got:  $2" "want: $3"
    fi
}

finish() {
    echo "$_passed passed, $_failed failed"
    [[ $_failed -eq 0 ]]
}

die() {
    fail "$@"
    finish
    exit 1
}

track_pid() {
    _tracked_pids+=("$1")
}

not() { ! "$@"; } # for check: "check DESC not grep -q ..."

wait_for() { # wait_for SECS CMD... : 0 once CMD succeeds, 1 on timeout
    local secs=$1 i
    shift
    for ((i = 0; i < secs * 10; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    "$@"
}

start_pebble() {
    _pebble_started=1
    pebble_start "$T/pebble" || die "Pebble starts (see the messages above)"
}

normserial() { # hex, lower case, no "serial=", no colons, no leading zeros
    local s=${1#serial=}
    s=${s//:/}
    s=$(tr 'A-F' 'a-f' <<<"$s")
    while [[ $s == 0?* ]]; do s=${s#0}; done
    printf '%s\n' "$s"
}

re_quote() { # re_quote STRING: STRING as a literal in an extended regex
    # shellcheck disable=SC2001
    sed 's/[][\\.*^$+?(){}|]/\\&/g' <<<"$1"
}

sanitizer_check() { # sanitizer_check LOGFILE...
    local f hits=""
    for f in "$@"; do
        [[ -f $f ]] || continue
        if grep -Eq 'ERROR: (Address|Leak|Undefined|Memory|Thread)Sanitizer|Sanitizer has encountered a fatal error|runtime error:|SUMMARY: [A-Za-z]+Sanitizer' "$f"; then
            hits+=" $f"
        fi
    done
    if [[ -z $hits ]]; then
        ok "no sanitizer reports in acmed's logs"
    else
        fail "no sanitizer reports in acmed's logs" "see:$hits"
        for f in $hits; do
            grep -E -A12 'ERROR: |fatal error|runtime error:' "$f" | head -n 40 | sed 's/^/      | /'
        done
    fi
}

_lib_running() { # running and not a zombie
    local st
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [[ $st != Z ]]
}

_lib_cleanup() {
    local pid i
    for pid in "${_tracked_pids[@]}"; do
        [[ $pid =~ ^[0-9]+$ ]] || continue
        if _lib_running "$pid"; then
            kill -TERM "$pid" 2>/dev/null
            for ((i = 0; i < 30; i++)); do
                _lib_running "$pid" || break
                sleep 0.1
            done
            _lib_running "$pid" && kill -KILL "$pid" 2>/dev/null
        fi
        wait "$pid" 2>/dev/null
    done
    [[ -n $_pebble_started ]] && pebble_stop "$T/pebble"
    if [[ ${KEEP_TMP:-0} == 1 ]]; then
        echo "(KEEP_TMP=1: files kept in $T)" >&2
    else
        rm -rf "$T"
    fi
}
trap _lib_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
