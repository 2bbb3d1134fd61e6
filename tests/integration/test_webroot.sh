#!/usr/bin/env bash
# http-01 through a webroot only (no built-in responder): a plain web server
# serves the directory on Pebble's validation port; acmed writes the token
# file below .well-known/acme-challenge/, the certificate is issued, and the
# token file is gone afterwards.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

C=$T/config S=$T/state O=$T/out W=$T/www
mkdir -p "$C" "$O" "$W"
export PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=0
start_pebble
ROOT=$T/pebble/pebble-root.pem
HP=${CHALL_HTTP_PORT:-5002}

# The web server: files of $W on 127.0.0.1:$HP, with a log of what it served.
/usr/bin/python3 -m http.server "$HP" --bind 127.0.0.1 --directory "$W" >"$T/web.log" 2>&1 &
track_pid $!
wait_for 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$HP" 2>/dev/null || die "the web server listens on $HP" "$(cat "$T/web.log")"

cat >"$C/acmed.yaml" <<EOF
cas:
  - name: pebble
    directory: $PEBBLE_DIR_URL
    ca_bundle: $PEBBLE_CA_BUNDLE
certificates:
  - name: web
    domains: [web.example.org, www.web.example.org]
    challenge: {type: http-01, webroot: $W}
    output: $O/web
EOF

"$ACMED" --config-dir "$C" --state-dir "$S" run --once >"$T/run.log" 2>&1
expect_eq "webroot only: run --once exits 0" "$?" 0
check "webroot only: the chain verifies against Pebble's root" \
    openssl verify -CAfile "$ROOT" -untrusted "$O/web/chain.pem" "$O/web/cert.pem"
served=$(grep -c 'GET /.well-known/acme-challenge/[A-Za-z0-9_-]* HTTP/1.1" 200' "$T/web.log")
check "webroot only: the web server answered Pebble's challenge requests from the files ($served)" \
    test "$served" -ge 2
check "webroot only: the token directory exists" test -d "$W/.well-known/acme-challenge"
expect_eq "webroot only: no token file is left behind" "$(ls -A "$W/.well-known/acme-challenge")" ""

sanitizer_check "$T/run.log"
finish
