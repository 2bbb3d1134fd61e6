#!/usr/bin/env bash
# `make demo`: start Debian's Pebble on 127.0.0.1, let acmed obtain two
# certificates from it, show their status, stop Pebble.  Everything lives
# under ./demo (config, state, certificates, Pebble's files and logs).
set -euo pipefail
acmed=$(realpath "${1:?usage: demo.sh PATH-TO-ACMED}")
top=$(cd "$(dirname "$0")/.." && pwd)
demo=$top/demo
# shellcheck source=../tests/integration/pebble.sh
source "$top/tests/integration/pebble.sh"

rm -rf "$demo"
mkdir -p "$demo/etc"
export PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=${PEBBLE_WFE_NONCEREJECT:-5}
pebble_start "$demo/pebble"
trap 'pebble_stop "$demo/pebble"' EXIT

cat >"$demo/etc/demo.yaml" <<EOC
cas:
  - name: pebble
    directory: $PEBBLE_DIR_URL
    contact: [mailto:admin@example.org]
    ca_bundle: $PEBBLE_CA_BUNDLE
certificates:
  - name: www
    domains: [www.example.org, example.org]
    challenge: {type: http-01, listen: "127.0.0.1:5002"}
    output: $demo/live/www
    reload: [$top/contrib/hooks/log-renewal]
  - name: api
    domains: [api.example.org]
    challenge: {type: http-01, listen: "127.0.0.1:5002"}
    output: $demo/live/api
    reload: [$top/contrib/hooks/log-renewal]
EOC

run() { echo "+ acmed $*"; "$acmed" --config-dir "$demo/etc" --state-dir "$demo/state" "$@"; }
run check
run run --once
echo
run status
echo
echo "Certificates are in $demo/live/*/ (privkey.pem is mode 0600)."
echo "Pebble's logs: $demo/pebble/pebble.log; acmed's state: $demo/state/acmed.db"
