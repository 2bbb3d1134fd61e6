#!/usr/bin/env bash
# "acmed check": good, broken, syntactically invalid, empty and missing
# configuration directories.  Needs no CA.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

good_config() { # good_config FILE [CERTNAME]
    cat >"$1" <<EOF
cas:
  - name: pebble
    directory: https://127.0.0.1:14000/dir
    contact: [mailto:admin@example.org]
certificates:
  - name: ${2:-www}
    domains: [www.example.org, Example.ORG.]
    challenge: {type: http-01, listen: "127.0.0.1:5002"}
    output: $T/out/${2:-www}
    reload: [/bin/true, arg1]
EOF
}

# run_check DIR: sets rc, out (stdout) and err (stderr) of "acmed check"
run_check() {
    "$ACMED" --config-dir "$1" --state-dir "$T/state" check >"$T/out.txt" 2>"$T/err.txt"
    rc=$?
    out=$(<"$T/out.txt")
    err=$(<"$T/err.txt")
    cat "$T/err.txt" >>"$T/all-stderr.log"
}

stderr_has() { # stderr_has DESC EXTENDED-REGEX
    if grep -Eq -- "$2" <<<"$err"; then
        ok "$1"
    else
        fail "$1" "wanted /$2/ in stderr:" "$err"
    fi
}

QT=$(re_quote "$T") # $T as a regex

# ---- a good directory ---------------------------------------------------------
mkdir -p "$T/good"
good_config "$T/good/acmed.yaml"
echo "not yaml: [" >"$T/good/README"         # only *.yaml files are read
echo "not yaml: [" >"$T/good/acmed.yaml.bak"
run_check "$T/good"
expect_eq "good config: exit 0" "$rc" 0
check "good config: prints OK with 1 certificate" grep -Eq '1 certificate\(s\).*OK' <<<"$out"
expect_eq "good config: nothing on stderr" "$err" ""
check "check does not create the state directory" test ! -e "$T/state"

# ---- misspelled key on line 7 -----------------------------------------------------
mkdir -p "$T/bad"
good_config "$T/bad/acmed.yaml"
sed -i 's/^    domains:/    domians:/' "$T/bad/acmed.yaml"
expect_eq "(fixture) the misspelled key is on line 7" \
    "$(grep -n domians "$T/bad/acmed.yaml" | cut -d: -f1)" 7
run_check "$T/bad"
check "misspelled key: exit status is non-zero" test "$rc" -ne 0
stderr_has "misspelled key: stderr has FILE:7:COL: with the exact path" \
    "(^|[[:space:]])$QT/bad/acmed\\.yaml:7:[0-9]+: "
stderr_has "misspelled key: the message names the key" 'domians'
check "misspelled key: no OK on stdout" test -z "$out"

# ---- YAML syntax errors ----------------------------------------------------------
mkdir -p "$T/syntax"
good_config "$T/syntax/acmed.yaml"
sed -i 's/^    output: \(.*\)/    output: \1: oops/' "$T/syntax/acmed.yaml" # line 9
run_check "$T/syntax"
check "YAML syntax error: exit status is non-zero" test "$rc" -ne 0
stderr_has "YAML syntax error: reported at FILE:9:COL:" "$QT/syntax/acmed\\.yaml:9:[0-9]+: .*"
stderr_has "YAML syntax error: says it is a syntax error" '[Ss]yntax'

printf 'cas:\n\t- name: pebble\n' >"$T/syntax/acmed.yaml" # a tab on line 2
run_check "$T/syntax"
check "tab indentation: exit status is non-zero" test "$rc" -ne 0
stderr_has "tab indentation: reported at FILE:2:COL:" "$QT/syntax/acmed\\.yaml:2:[0-9]+: "

# ---- every problem of every file is reported ----------------------------------------
mkdir -p "$T/multi"
good_config "$T/multi/a.yaml" www
cat >"$T/multi/b.yaml" <<EOF
certificates:
  - name: www
    domains: [www.example.com]
    challenge: {type: http-01, listen: "127.0.0.1:5002"}
    output: $T/out/other
  - name: rel
    domains: [bad_name.example.org]
    challenge: {type: http-01, listen: "127.0.0.1:5002"}
    output: relative/path
EOF
run_check "$T/multi"
check "validation errors: exit status is non-zero" test "$rc" -ne 0
stderr_has "duplicate certificate: reported with both places" \
    "$QT/multi/b\\.yaml:2:[0-9]+: .*already defined at $QT/multi/a\\.yaml:6"
stderr_has "invalid domain name: reported at FILE:6:" "$QT/multi/b\\.yaml:6:[0-9]+: .*bad_name"
stderr_has "relative output path: reported at FILE:6:" "$QT/multi/b\\.yaml:6:[0-9]+: .*output"

# ---- empty and missing directories -------------------------------------------------
mkdir -p "$T/empty"
run_check "$T/empty"
expect_eq "empty config dir: exit 0" "$rc" 0
check "empty config dir: OK with 0 certificates" grep -Eq '0 certificate\(s\).*OK' <<<"$out"

run_check "$T/does-not-exist"
check "nonexistent config dir: exit status is non-zero" test "$rc" -ne 0
stderr_has "nonexistent config dir: message names the directory and the reason" \
    "$QT/does-not-exist.*(No such file or directory|does not exist|cannot open)"
check "nonexistent config dir: no OK on stdout" test -z "$out"

# ---- options after the command, and stray arguments -------------------------------
mkdir -p "$T/late"
good_config "$T/late/acmed.yaml" late
"$ACMED" check --config-dir "$T/late" >"$T/late.out" 2>&1
expect_eq "check --config-dir DIR (option after the command): exit 0" "$?" 0
check "check --config-dir DIR reads DIR" grep -q "^$QT/late: 1 CA(s), 1 certificate(s): OK" "$T/late.out"
"$ACMED" --config-dir "$T/late" check extra >"$T/late.out" 2>&1
expect_eq "check with a stray argument: usage error (64)" "$?" 64
check "check names the stray argument" grep -q 'acmed check: unexpected argument "extra"' "$T/late.out"
"$ACMED" --config-dir "$T/late" --state-dir "$T/late-state" status --bogus >"$T/late.out" 2>&1
expect_eq "status --bogus: usage error (64)" "$?" 64
check "status names the unknown option" grep -q 'acmed status: unexpected argument "--bogus"' "$T/late.out"

# ---- files the configuration names but this machine lacks: warnings -----------------
mkdir -p "$T/paths"
cat >"$T/paths/acmed.yaml" <<EOF
global:
  post_renew_hook: [$T/no-post-hook]
cas:
  - name: pebble
    directory: https://127.0.0.1:14000/dir
    ca_bundle: $T/no-bundle.pem
certificates:
  - name: www
    domains: [www.example.org]
    challenge: {type: http-01, webroot: $T/no-webroot}
    output: $T/out/www
    reload: [$T/no-such-hook, arg]
  - name: dns
    domains: [dns.example.org]
    challenge: {type: dns-01, hook: [/etc/passwd]}
    output: $T/out/dns
EOF
run_check "$T/paths"
expect_eq "missing files: check still exits 0 (the configuration is valid)" "$rc" 0
check "missing files: stdout says OK, with warnings" grep -q 'OK, with the warnings above' <<<"$out"
stderr_has "missing reload program: a warning at the certificate's line" \
    "warning: $QT/paths/acmed.yaml:8:1: certificate \"www\": reload program $QT/no-such-hook: No such file or directory"
stderr_has "missing webroot: a warning" "acmed.yaml:8:1: certificate \"www\": webroot $QT/no-webroot: No such file"
stderr_has "a dns-01 hook that is not executable: a warning" \
    "acmed.yaml:13:1: certificate \"dns\": dns-01 hook program /etc/passwd: Permission denied"
stderr_has "missing ca_bundle: a warning at the CA's line" "acmed.yaml:4:1: CA \"pebble\": ca_bundle $QT/no-bundle.pem: No such file"
stderr_has "missing post_renew_hook program: a warning" "post_renew_hook program $QT/no-post-hook: No such file"
good_config "$T/paths/acmed.yaml"
run_check "$T/paths"
check "present files: no warning" test -z "$err"

sanitizer_check "$T/all-stderr.log"
finish
