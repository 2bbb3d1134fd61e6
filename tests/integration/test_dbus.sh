#!/usr/bin/env bash
# reload_units: after a pass, each listed systemd unit is reloaded over
# D-Bus exactly once, however many certificates changed; a failing unit is
# logged and does not stop the others; post_renew_hook runs once per pass
# with ACMED_RENEWED.  systemd is not PID 1 here, so a private dbus-daemon
# stands in for the system bus and tests/helpers/fake_systemd for the
# manager object (it prints each ReloadUnit call).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

FAKE=$(dirname "$ACMED")/tests/helpers/fake_systemd
C=$T/config S=$T/state O=$T/out
mkdir -p "$C" "$O"

cat >"$T/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$T/bus.sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
EOF
dbus-daemon --config-file="$T/bus.conf" --nofork --nopidfile >"$T/dbus.log" 2>&1 &
track_pid $!
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T/bus.sock
wait_for 5 test -S "$T/bus.sock" || die "private dbus-daemon did not start"
"$FAKE" >"$T/reloads.log" 2>"$T/fake.err" &
track_pid $!
wait_for 5 grep -q ready "$T/reloads.log" || die "fake systemd manager did not start: $(cat "$T/fake.err")"

export PEBBLE_VA_NOSLEEP=1
start_pebble
cat >"$T/post.sh" <<EOF
#!/bin/sh
echo "post \$ACMED_RENEWED" >>"$T/post.log"
EOF
chmod 755 "$T/post.sh"
cat >"$C/acmed.yaml" <<EOF
global:
  post_renew_hook: [$T/post.sh]
cas:
  - name: pebble
    directory: $PEBBLE_DIR_URL
    ca_bundle: $PEBBLE_CA_BUNDLE
certificates:
  - name: www
    domains: [www.example.org]
    challenge: {type: http-01, listen: "127.0.0.1:${CHALL_HTTP_PORT:-5002}"}
    output: $O/www
    reload_units: [nginx.service, fail-missing.service]
  - name: api
    domains: [api.example.org]
    challenge: {type: http-01, listen: "127.0.0.1:${CHALL_HTTP_PORT:-5002}"}
    output: $O/api
    reload_units: [nginx.service, haproxy.service]
EOF
acmed() { "$ACMED" --config-dir "$C" --state-dir "$S" "$@"; }

acmed run --once >"$T/run1.log" 2>&1
expect_eq "run --once exits 0" "$?" 0
expect_eq "each unit reloaded exactly once, in order, mode replace" \
    "$(grep ReloadUnit "$T/reloads.log" | paste -sd,)" \
    "ReloadUnit nginx.service replace,ReloadUnit fail-missing.service replace,ReloadUnit haproxy.service replace"
check "the failing unit is logged with systemd's error" grep -q "reloading fail-missing.service failed: Unit fail-missing.service not found" "$T/run1.log"
check "the good units are logged as reloaded" grep -q "asked systemd to reload haproxy.service" "$T/run1.log"
expect_eq "post_renew_hook ran once with both names" "$(cat "$T/post.log")" "post www api"

acmed run --once >"$T/run2.log" 2>&1
expect_eq "second pass: nothing renewed, no reload, no post hook" \
    "$(grep -c ReloadUnit "$T/reloads.log"),$(wc -l <"$T/post.log")" "3,1"

acmed renew --force api >"$T/run3.log" 2>&1
expect_eq "renew --force api reloads only api's units" \
    "$(grep ReloadUnit "$T/reloads.log" | tail -n 2 | paste -sd,)" \
    "ReloadUnit nginx.service replace,ReloadUnit haproxy.service replace"
expect_eq "post hook names only api" "$(tail -n 1 "$T/post.log")" "post api"

sanitizer_check "$T"/run*.log
finish
