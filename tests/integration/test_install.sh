#!/usr/bin/env bash
# "make install DESTDIR=... PREFIX=/usr" installs every file where the
# README and acmed(8) say, with sane modes, and what it installs works: the
# binary runs, the unit's ExecStart= exists inside DESTDIR and the unit
# verifies, the installed example configuration is not read (*.yaml only).
# Runs make from the repository root, so it builds the default variant if
# needed (nothing when "make check" already built it).
source "$(dirname "$0")/lib.sh"
top=$(cd "$TESTS_DIR/../.." && pwd)
dest=$T/dest

# The environment of "make check" (MAKEFLAGS, SANITIZE, ...) must not leak
# into this make.
if ! out=$(env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS -u SANITIZE \
    make --no-print-directory -C "$top" install DESTDIR="$dest" PREFIX=/usr 2>&1); then
    die "make install DESTDIR=\$T/dest PREFIX=/usr succeeds" "$(tail -n 20 <<<"$out")"
fi
ok "make install DESTDIR=\$T/dest PREFIX=/usr succeeds"

# With PREFIX=/usr the examples and man pages name the hooks where they are.
check "PREFIX=/usr: the installed examples name /usr/share/acmed/hooks" \
    grep -q 'reload: \[/usr/share/acmed/hooks/reload-nginx\]' "$dest/usr/share/doc/acmed/examples/letsencrypt-staging.yaml"
check "PREFIX=/usr: no installed example, hook or man page names a /usr/local path" \
    not grep -rqE "/usr/local/(share|sbin)" "$dest/usr/share/doc/acmed/examples" "$dest/usr/share/man" "$dest/usr/share/acmed/hooks"
check "PREFIX=/usr: the staging example's hook is installed where it says" \
    test -x "$dest/usr/share/acmed/hooks/reload-nginx"

mode_is() { # mode_is PATH MODE: a regular file (or directory) with MODE
    [[ -e $1 ]] || { echo "missing: $1"; return 1; }
    local m
    m=$(stat -c '%a' "$1")
    [[ $m == "$2" ]] || { echo "$1: mode $m, want $2"; return 1; }
}

while read -r path mode; do
    check "installed $path ($mode)" mode_is "$dest$path" "$mode"
done <<'EOF'
/usr/sbin/acmed 755
/lib/systemd/system/acmed.service 644
/usr/lib/sysusers.d/acmed.conf 644
/usr/lib/tmpfiles.d/acmed.conf 644
/usr/share/man/man8/acmed.8 644
/usr/share/man/man5/acmed.yaml.5 644
/etc/acmed 755
/etc/acmed/acmed.yaml.example 644
/usr/share/acmed/hooks/reload-nginx 755
/usr/share/acmed/hooks/haproxy-combined 755
/usr/share/acmed/hooks/dns-nsupdate 755
/usr/share/acmed/hooks/log-renewal 755
/usr/share/acmed/polkit/50-acmed.rules 644
/usr/share/bash-completion/completions/acmed 644
/usr/share/doc/acmed/README.md 644
/usr/share/doc/acmed/LICENSE 644
/usr/share/doc/acmed/examples/letsencrypt-staging.yaml 644
/usr/share/doc/acmed/examples/letsencrypt-production.yaml 644
/usr/share/doc/acmed/examples/eab-ca.yaml 644
EOF

# Nothing outside the expected trees, nothing world-writable, no stray
# temporary files.
check "only /etc, /lib and /usr are written" \
    test "$(cd "$dest" && ls | tr '\n' ' ')" = "etc lib usr "
check "no world-writable file or directory" \
    test -z "$(find "$dest" -perm -0002 ! -type l)"
check "no setuid or setgid file" test -z "$(find "$dest" -perm /6000)"
check "every hook in contrib/hooks is installed" \
    diff <(cd "$top/contrib/hooks" && ls) <(cd "$dest/usr/share/acmed/hooks" && ls)
check "the installed binary is the one built (acmed --help runs)" "$dest/usr/sbin/acmed" --help
for page in man8/acmed.8 man5/acmed.yaml.5; do
    check "the installed $page renders" \
        sh -c 'mandoc -T markdown "$1" | grep -q "^# NAME"' sh "$dest/usr/share/man/$page"
done

# The unit: paths filled in for PREFIX=/usr, ExecStart= inside DESTDIR.
unit=$dest/lib/systemd/system/acmed.service
check "the unit has no placeholder left" not grep -Eq '@[A-Z_]+@' "$unit"
while IFS='=' read -r key cmdline; do
    exe=${cmdline%% *}
    exe=${exe#[-@:+!]}
    check "$key=$exe is installed in DESTDIR" test -x "$dest$exe"
done < <(grep -E '^Exec(Start|StartPre)=' "$unit")
expect_eq "ExecStart= is /usr/sbin/acmed run" "$(sed -n 's/^ExecStart=//p' "$unit")" "/usr/sbin/acmed run"
check "Documentation= points at the installed README" \
    grep -q '^Documentation=.*file:///usr/share/doc/acmed/README.md' "$unit"
# systemd-analyze verify checks ExecStart= on the real root, so verify a
# copy whose paths point into DESTDIR.
mkdir -p "$T/verify"
sed "s|=/usr/sbin/acmed|=$dest/usr/sbin/acmed|" "$unit" >"$T/verify/acmed.service"
if command -v systemd-analyze >/dev/null; then
    vout=$(systemd-analyze verify --man=no "$T/verify/acmed.service" 2>&1)
    vrc=$?
    vout=$(grep -i acmed <<<"$vout")
    if [[ $vrc -eq 0 && -z $vout ]]; then
        ok "the installed unit verifies (systemd-analyze verify)"
    else
        fail "the installed unit verifies (systemd-analyze verify)" "$vout"
    fi
fi

# The default PREFIX: /usr/local in the unit, the units still in /lib.
dest2=$T/dest2
if out=$(env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS -u SANITIZE \
    make --no-print-directory -C "$top" install DESTDIR="$dest2" 2>&1); then
    expect_eq "default PREFIX: ExecStart= is /usr/local/sbin/acmed run" \
        "$(sed -n 's/^ExecStart=//p' "$dest2/lib/systemd/system/acmed.service")" "/usr/local/sbin/acmed run"
    check "default PREFIX: binary in /usr/local/sbin" test -x "$dest2/usr/local/sbin/acmed"
    check "default PREFIX: man page in /usr/local/share/man/man8" test -f "$dest2/usr/local/share/man/man8/acmed.8"
    check "default PREFIX: sysusers.d still in /usr/lib" test -f "$dest2/usr/lib/sysusers.d/acmed.conf"
else
    fail "make install DESTDIR=\$T/dest2 (default PREFIX) succeeds" "$(tail -n 20 <<<"$out")"
fi

# The installed /etc/acmed only holds the example, which is not read.
out=$("$dest/usr/sbin/acmed" --config-dir "$dest/etc/acmed" check 2>&1)
expect_eq "the installed acmed.yaml.example is not loaded" "$out" \
    "$dest/etc/acmed: 0 CA(s), 0 certificate(s): OK"
mkdir -p "$T/active"
cp "$dest/etc/acmed/acmed.yaml.example" "$T/active/acmed.yaml"
check "the example is valid once copied to acmed.yaml" \
    "$dest/usr/sbin/acmed" --config-dir "$T/active" check
check "the example is commented" grep -q '^#' "$dest/etc/acmed/acmed.yaml.example"

# Installing twice is fine (upgrades).
check "make install is repeatable" env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS -u SANITIZE \
    make --no-print-directory -C "$top" install DESTDIR="$dest" PREFIX=/usr

finish
