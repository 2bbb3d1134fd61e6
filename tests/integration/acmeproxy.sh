# shellcheck shell=bash
# Helpers for the ACME extension proxy (acmeproxy.py: profiles, ARI, replaces
# and fault injection in front of Debian's Pebble 2.4.0).  SOURCE this file
# after pebble.sh, then:
#
#   pebble_start DIR
#   proxy_start DIR          # proxy on https://127.0.0.1:$PROXY_PORT
#   proxy_ctl PATH [JSON]    # control API: GET without JSON, POST with it
#   proxy_stop DIR           # safe to call twice / from an EXIT trap
#   pebble_stop DIR
#
# Ports (env, 127.0.0.1): PROXY_PORT=14443 PROXY_CTRL_PORT=14480; the upstream
#   is https://127.0.0.1:$PEBBLE_PORT (14000).  The proxy serves DIR/cert.pem
#   (SAN 127.0.0.1/localhost), so clients trust DIR/ca.pem as for Pebble.
# proxy_start exports PROXY_DIR_URL and PROXY_CTRL; the proxy logs to
#   DIR/acmeproxy.log and its pid is in DIR/acmeproxy.pid.  If lib.sh's
#   track_pid is defined, the proxy is also registered with it.
# Control API summary: see the docstring at the top of acmeproxy.py.

ACMEPROXY_PY=${ACMEPROXY_PY:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/acmeproxy.py}

proxy_start() {
    local dir=${1:?usage: proxy_start DIR}
    local port=${PROXY_PORT:-14443} cport=${PROXY_CTRL_PORT:-14480}
    local pport=${PEBBLE_PORT:-14000} p pid i

    dir=$(cd "$dir" && pwd) || return 1
    [[ -f $dir/cert.pem && -f $dir/key.pem && -f $dir/ca.pem ]] || {
        echo "proxy_start: ERROR: no cert.pem/key.pem/ca.pem in $dir (run pebble_start first)" >&2
        return 1
    }
    for p in "$port" "$cport"; do
        if [[ -n $(ss -H -ltn "sport = :$p" 2>/dev/null) ]]; then
            echo "proxy_start: ERROR: port $p is already in use (see: ss -ltnp)" >&2
            return 1
        fi
    done

    /usr/bin/python3 "$ACMEPROXY_PY" --listen "127.0.0.1:$port" \
        --control "127.0.0.1:$cport" --upstream "https://127.0.0.1:$pport" \
        --cert "$dir/cert.pem" --key "$dir/key.pem" --ca "$dir/ca.pem" \
        </dev/null >"$dir/acmeproxy.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/acmeproxy.pid"
    declare -F track_pid >/dev/null && track_pid "$pid"

    # Wait (max ~15 s) for the directory through the proxy and the control API.
    for ((i = 0; i < 75; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "proxy_start: ERROR: acmeproxy exited during startup" >&2
            tail -n 20 "$dir/acmeproxy.log" >&2
            rm -f "$dir/acmeproxy.pid"
            return 1
        fi
        if curl -sf -o /dev/null --cacert "$dir/ca.pem" "https://127.0.0.1:$port/dir" &&
           curl -sf -o /dev/null "http://127.0.0.1:$cport/state"; then
            export PROXY_DIR_URL="https://127.0.0.1:$port/dir"
            export PROXY_CTRL="http://127.0.0.1:$cport"
            return 0
        fi
        sleep 0.2
    done
    echo "proxy_start: ERROR: acmeproxy not ready after 15 s" >&2
    tail -n 20 "$dir/acmeproxy.log" >&2
    proxy_stop "$dir"
    return 1
}

proxy_stop() {
    local dir=${1:?usage: proxy_stop DIR}
    local pidfile=$dir/acmeproxy.pid pid i
    [[ -f $pidfile ]] || return 0
    pid=$(<"$pidfile")
    rm -f "$pidfile"
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    # Only if that pid is still our proxy (not a reused pid).
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'acmeproxy\.py' || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] && break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
    return 0
}

# proxy_ctl PATH [JSON]: print the control API's answer; non-zero on HTTP >= 400.
proxy_ctl() {
    local path=${1:?usage: proxy_ctl PATH [JSON]}
    local base=${PROXY_CTRL:-http://127.0.0.1:${PROXY_CTRL_PORT:-14480}}
    [[ $path == /* ]] || path=/$path
    if (($# >= 2)); then
        curl -sS --fail-with-body -X POST -H 'Content-Type: application/json' \
            --data-binary "$2" "$base$path"
    else
        curl -sS --fail-with-body "$base$path"
    fi
}
