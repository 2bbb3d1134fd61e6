# shellcheck shell=bash
# Pebble test harness for acmed integration tests.  SOURCE this file, then:
#
#   pebble_start DIR   # throwaway TLS CA + Pebble + pebble-challtestsrv (DNS only)
#   pebble_stop DIR    # stop both (safe to call twice / from an EXIT trap)
#
# Ports (env, all on 127.0.0.1): PEBBLE_PORT=14000 PEBBLE_MGMT_PORT=15000
#   CHALL_HTTP_PORT=5002 CHALL_TLS_PORT=5001 (left free for acmed's own
#   responders) DNS_PORT=8053 CHALLSRV_MGMT_PORT=8055.
# Pebble env: PEBBLE_WFE_NONCEREJECT defaults to 30; PEBBLE_VA_NOSLEEP,
#   PEBBLE_VA_ALWAYS_VALID, PEBBLE_AUTHZREUSE, ... pass through if exported.
# Config from env (optional): PEBBLE_EAB_KID + PEBBLE_EAB_KEY (base64url MAC
#   key) -> externalAccountBindingRequired with that one key;
#   PEBBLE_CERT_VALIDITY (seconds) -> certificateValidityPeriod.
# pebble_start exports PEBBLE_DIR_URL, PEBBLE_CA_BUNDLE (trust for the ACME
#   listener), PEBBLE_MGMT_URL, CHALLSRV_MGMT_URL.
# Files in DIR: ca.pem cert.pem key.pem pebble-config.json pebble-root.pem
#   pebble-intermediate.pem pebble.log challtestsrv.log *.pid
# Never touches the caller's shell options; uses `return`, never `exit`.

# _pebble_port_busy PORT [tcp|udp] -> 0 if something listens on PORT.
_pebble_port_busy() {
    local port=$1 proto=${2:-tcp}
    if command -v ss >/dev/null 2>&1; then
        local flag=-ltn
        [[ $proto == udp ]] && flag=-lun
        [[ -n $(ss -H "$flag" "sport = :$port" 2>/dev/null) ]]
    elif [[ $proto == tcp ]]; then
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
    else
        return 1
    fi
}

# _pebble_kill DIR NAME: stop the process recorded in DIR/NAME.pid, if it is ours.
_pebble_kill() {
    local pidfile=$1/$2.pid pid comm state i
    [[ -f $pidfile ]] || return 0
    pid=$(<"$pidfile")
    rm -f "$pidfile"
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 0
    [[ $comm == pebble* ]] || return 0        # pid reused by something else
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || break
        [[ $state == Z ]] && break
        sleep 0.1
    done
    if [[ ${state:-} != Z && -e /proc/$pid ]]; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true  # reaps it if it is our child; else no-op
    return 0
}

_pebble_fail() {
    local dir=$1 f
    shift
    echo "pebble_start: ERROR: $*" >&2
    for f in challtestsrv.log pebble.log; do
        [[ -s $dir/$f ]] || continue
        echo "---- tail of $dir/$f ----" >&2
        tail -n 20 "$dir/$f" >&2
    done
    pebble_stop "$dir"
    return 1
}

pebble_start() {
    local dir=${1:?usage: pebble_start DIR}
    local pport=${PEBBLE_PORT:-14000} mport=${PEBBLE_MGMT_PORT:-15000}
    local hport=${CHALL_HTTP_PORT:-5002} tport=${CHALL_TLS_PORT:-5001}
    local dport=${DNS_PORT:-8053} cport=${CHALLSRV_MGMT_PORT:-8055}
    local p busy="" i ok

    for p in "$pport" "$mport" "$cport" "$dport"; do
        _pebble_port_busy "$p" tcp && busy+=" $p/tcp"
    done
    _pebble_port_busy "$dport" udp && busy+=" $dport/udp"
    if [[ -n $busy ]]; then
        echo "pebble_start: ERROR: port(s) already in use:$busy" \
             "(stale pebble from an earlier run? see: ss -ltnup)" >&2
        return 1
    fi
    for p in "$hport" "$tport"; do
        _pebble_port_busy "$p" tcp &&
            echo "pebble_start: WARNING: challenge port $p is already in use" >&2
    done

    mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || return 1
    rm -f "$dir"/*.log "$dir"/pebble-root.pem "$dir"/pebble-intermediate.pem

    # Throwaway CA and listener certificate (SAN localhost + 127.0.0.1).
    printf '%s\n' 'basicConstraints=critical,CA:FALSE' \
        'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth' \
        'subjectAltName=DNS:localhost,IP:127.0.0.1' >"$dir/leaf.ext"
    if ! { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
               -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 30 \
               -subj "/CN=acmed test listener CA" \
               -addext "basicConstraints=critical,CA:TRUE" \
               -addext "keyUsage=critical,keyCertSign,cRLSign" &&
           openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
               -keyout "$dir/key.pem" -out "$dir/cert.csr" -subj "/CN=localhost" &&
           openssl x509 -req -in "$dir/cert.csr" -CA "$dir/ca.pem" \
               -CAkey "$dir/ca.key" -CAcreateserial -days 30 \
               -extfile "$dir/leaf.ext" -out "$dir/cert.pem"; } >"$dir/openssl.log" 2>&1
    then
        cat "$dir/openssl.log" >&2
        echo "pebble_start: ERROR: openssl failed" >&2
        return 1
    fi

    # Optional: External Account Binding required with one MAC key, and a
    # certificate lifetime in seconds (2.4.0 honours certificateValidityPeriod).
    local eab='"externalAccountBindingRequired": false' validity=""
    if [[ -n ${PEBBLE_EAB_KID:-} ]]; then
        [[ ${PEBBLE_EAB_KID} =~ ^[A-Za-z0-9_.-]+$ && ${PEBBLE_EAB_KEY:-} =~ ^[A-Za-z0-9_-]+$ ]] || {
            echo "pebble_start: ERROR: PEBBLE_EAB_KID/PEBBLE_EAB_KEY must be a plain id and base64url" >&2
            return 1
        }
        eab='"externalAccountBindingRequired": true,
    "externalAccountMACKeys": { "'$PEBBLE_EAB_KID'": "'$PEBBLE_EAB_KEY'" }'
    fi
    if [[ -n ${PEBBLE_CERT_VALIDITY:-} ]]; then
        [[ $PEBBLE_CERT_VALIDITY =~ ^[0-9]+$ ]] || {
            echo "pebble_start: ERROR: PEBBLE_CERT_VALIDITY must be a number of seconds" >&2
            return 1
        }
        validity=',
    "certificateValidityPeriod": '$PEBBLE_CERT_VALIDITY
    fi

    cat >"$dir/pebble-config.json" <<JSON
{
  "pebble": {
    "listenAddress": "127.0.0.1:$pport",
    "managementListenAddress": "127.0.0.1:$mport",
    "certificate": "$dir/cert.pem",
    "privateKey": "$dir/key.pem",
    "httpPort": $hport,
    "tlsPort": $tport,
    "ocspResponderURL": "",
    $eab$validity
  }
}
JSON

    # DNS + management only: the HTTP-01/TLS-ALPN-01 ports stay free for acmed.
    pebble-challtestsrv -dns01 "127.0.0.1:$dport" -http01 "" -https01 "" \
        -tlsalpn01 "" -management "127.0.0.1:$cport" \
        -defaultIPv4 127.0.0.1 -defaultIPv6 "" \
        </dev/null >"$dir/challtestsrv.log" 2>&1 &
    echo $! >"$dir/challtestsrv.pid"

    PEBBLE_WFE_NONCEREJECT=${PEBBLE_WFE_NONCEREJECT:-30} \
        pebble -config "$dir/pebble-config.json" -dnsserver "127.0.0.1:$dport" \
        </dev/null >"$dir/pebble.log" 2>&1 &
    echo $! >"$dir/pebble.pid"

    # Wait (max ~20 s) for the ACME directory and both management APIs.
    ok=""
    for ((i = 0; i < 100; i++)); do
        for p in pebble challtestsrv; do
            kill -0 "$(<"$dir/$p.pid")" 2>/dev/null ||
                { _pebble_fail "$dir" "$p exited during startup"; return 1; }
        done
        if curl -sf -o /dev/null --cacert "$dir/ca.pem" "https://127.0.0.1:$pport/dir" &&
           curl -s -o /dev/null --cacert "$dir/ca.pem" "https://127.0.0.1:$mport/" &&
           curl -s -o /dev/null "http://127.0.0.1:$cport/"; then
            ok=1
            break
        fi
        sleep 0.2
    done
    [[ -n $ok ]] || { _pebble_fail "$dir" "pebble/challtestsrv not ready after 20 s"; return 1; }

    if ! { curl -sf --cacert "$dir/ca.pem" -o "$dir/pebble-root.pem" \
               "https://127.0.0.1:$mport/roots/0" &&
           curl -sf --cacert "$dir/ca.pem" -o "$dir/pebble-intermediate.pem" \
               "https://127.0.0.1:$mport/intermediates/0"; }; then
        _pebble_fail "$dir" "cannot fetch Pebble root/intermediate"
        return 1
    fi

    export PEBBLE_DIR_URL="https://127.0.0.1:$pport/dir"
    export PEBBLE_CA_BUNDLE="$dir/ca.pem"
    export PEBBLE_MGMT_URL="https://127.0.0.1:$mport"
    export CHALLSRV_MGMT_URL="http://127.0.0.1:$cport"
}

pebble_stop() {
    local dir=${1:?usage: pebble_stop DIR}
    _pebble_kill "$dir" pebble
    _pebble_kill "$dir" challtestsrv
    return 0
}
