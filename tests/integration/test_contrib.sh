#!/usr/bin/env bash
# contrib/: the example configurations pass "acmed check"; the reload hooks
# for nginx and haproxy do what they say (with stand-in systemctl and
# nginx programs, and a real process to signal); the bash completion
# completes commands, options and names; the polkit rule allows exactly
# reloads by the acmed user (when node is there to evaluate it).
source "$(dirname "$0")/lib.sh"
top=$(cd "$TESTS_DIR/../.." && pwd)
hooks=$top/contrib/hooks

# --- example configurations -------------------------------------------------
n=0
for ex in "$top"/contrib/examples/*.yaml "$top/config/acmed.example.yaml"; do
    [[ -f $ex ]] || continue
    n=$((n + 1))
    d=$T/examples/$n
    mkdir -p "$d"
    cp "$ex" "$d/acmed.yaml"
    check "example ${ex#"$top"/} passes acmed check" "$ACMED" --config-dir "$d" check
    # Under acmed.service only /etc/acmed/live is writable.
    outs=$(sed -nE 's/^ *output: *//p' "$ex" | grep -v '^/etc/acmed/live/')
    check "example ${ex#"$top"/} writes below /etc/acmed/live only" test -z "$outs"
done
for want in letsencrypt-staging letsencrypt-production eab-ca; do
    check "contrib/examples/$want.yaml exists" test -f "$top/contrib/examples/$want.yaml"
done
check "the staging example uses the staging directory" \
    grep -q 'directory: https://acme-staging-v02.api.letsencrypt.org/directory' "$top/contrib/examples/letsencrypt-staging.yaml"
check "the production example has a classic and a shortlived certificate" \
    sh -c 'grep -q "profile: classic" "$1" && grep -q "profile: shortlived" "$1"' sh "$top/contrib/examples/letsencrypt-production.yaml"
check "the EAB example sets kid and hmac_key_file" \
    sh -c 'grep -q "kid:" "$1" && grep -q "hmac_key_file: /" "$1"' sh "$top/contrib/examples/eab-ca.yaml"

# --- hooks: syntax ----------------------------------------------------------
for h in "$hooks"/*; do
    check "hook $(basename "$h") is executable" test -x "$h"
    check "hook $(basename "$h") parses (sh -n)" sh -n "$h"
done

# Stand-ins: "systemctl" and "nginx" record their arguments.
bin=$T/bin
mkdir -p "$bin"
for prog in systemctl nginx; do
    cat >"$bin/$prog" <<EOF
#!/bin/sh
echo "$prog \$*" >>"$T/calls"
[ -n "\${FAIL_NGINX_T:-}" ] && [ "$prog \$1" = "nginx -t" ] && exit 1
exit 0
EOF
    chmod +x "$bin/$prog"
done
calls() { cat "$T/calls" 2>/dev/null; rm -f "$T/calls"; }
hook_env=(env PATH="$bin:$PATH" ACMED_CERT_NAME=www)

# --- reload-nginx -------------------------------------------------------------
"${hook_env[@]}" "$hooks/reload-nginx" --systemd 2>/dev/null
expect_eq "reload-nginx --systemd: systemctl reload nginx.service" "$(calls)" "systemctl reload nginx.service"
"${hook_env[@]}" "$hooks/reload-nginx" --systemd nginx@blue.service 2>/dev/null
expect_eq "reload-nginx --systemd UNIT: reloads UNIT" "$(calls)" "systemctl reload nginx@blue.service"
"${hook_env[@]}" "$hooks/reload-nginx" --no-systemd 2>/dev/null
expect_eq "reload-nginx --no-systemd: nginx -t, then nginx -s reload" "$(calls)" $'nginx -t -q\nnginx -s reload'
"${hook_env[@]}" FAIL_NGINX_T=1 "$hooks/reload-nginx" --no-systemd 2>/dev/null
rc=$?
expect_eq "reload-nginx: a broken nginx configuration is not reloaded" "$rc $(calls)" "1 nginx -t -q"
"${hook_env[@]}" "$hooks/reload-nginx" 2>/dev/null
got=$(calls)
if [[ -d /run/systemd/system ]]; then want="systemctl reload nginx.service"; else want=$'nginx -t -q\nnginx -s reload'; fi
expect_eq "reload-nginx without options picks by /run/systemd/system" "$got" "$want"
"${hook_env[@]}" "$hooks/reload-nginx" --bogus 2>/dev/null
expect_eq "reload-nginx: an unknown option is a usage error" "$?" 64

# --- haproxy-combined ---------------------------------------------------------
out=$T/live/www
mkdir -p "$out"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=www.example.org \
    -days 2 -keyout "$out/privkey.pem" -out "$out/cert.pem" 2>/dev/null
chmod 0600 "$out/privkey.pem"
cp "$out/cert.pem" "$out/fullchain.pem"
hap_env=("${hook_env[@]}" ACMED_OUTPUT_DIR="$out" ACMED_KEY_FILE="$out/privkey.pem"
    ACMED_FULLCHAIN_FILE="$out/fullchain.pem")

echo "old contents" >"$out/haproxy.pem"
chmod 0644 "$out/haproxy.pem"
old_inode=$(stat -c %i "$out/haproxy.pem")
(umask 022 && "${hap_env[@]}" "$hooks/haproxy-combined" --systemd 2>/dev/null)
check "haproxy-combined: haproxy.pem is fullchain.pem then privkey.pem" \
    cmp -s "$out/haproxy.pem" <(cat "$out/fullchain.pem" "$out/privkey.pem")
expect_eq "haproxy-combined: haproxy.pem has mode 0600 (whatever the umask)" "$(stat -c %a "$out/haproxy.pem")" 600
check "haproxy-combined: replaced by rename (new inode), not rewritten in place" \
    test "$(stat -c %i "$out/haproxy.pem")" != "$old_inode"
check "haproxy-combined: no temporary file left" \
    test "$(cd "$out" && ls | tr '\n' ' ')" = "cert.pem fullchain.pem haproxy.pem privkey.pem "
expect_eq "haproxy-combined --systemd: systemctl reload haproxy.service" "$(calls)" "systemctl reload haproxy.service"
check "haproxy-combined: haproxy.pem holds a usable key and certificate" \
    sh -c 'openssl x509 -noout -in "$1" && openssl pkey -noout -in "$1"' sh "$out/haproxy.pem"

"${hap_env[@]}" "$hooks/haproxy-combined" --systemd "$T/other/combined.pem" lb.service 2>/dev/null
rc=$?
expect_eq "haproxy-combined: a PEM in a missing directory fails" "$rc $(calls)" "1 "
mkdir -p "$T/other"
"${hap_env[@]}" "$hooks/haproxy-combined" --systemd "$T/other/combined.pem" lb.service 2>/dev/null
expect_eq "haproxy-combined PEM UNIT: writes PEM, reloads UNIT" \
    "$(stat -c %a "$T/other/combined.pem" 2>&1) $(calls)" "600 systemctl reload lb.service"
"${hap_env[@]}" "$hooks/haproxy-combined" --systemd relative.pem 2>/dev/null
expect_eq "haproxy-combined: a relative PEM path is a usage error" "$?" 64
"${hook_env[@]}" "$hooks/haproxy-combined" --systemd 2>/dev/null
rc=$?
check "haproxy-combined: fails outside acmed (no ACMED_* variables)" test "$rc" -ne 0

# Without systemd: SIGUSR2 to the master process named by the pid file.
bash -c 'trap "echo reloaded >\"$1\"; exit 0" USR2; for ((i = 0; i < 300; i++)); do sleep 0.1; done' \
    sh "$T/usr2" &
master=$!
track_pid "$master"
sleep 0.2
echo "$master" >"$T/haproxy.pid"
"${hap_env[@]}" HAPROXY_PIDFILE="$T/haproxy.pid" "$hooks/haproxy-combined" --no-systemd 2>/dev/null
check "haproxy-combined --no-systemd: SIGUSR2 reaches the master" wait_for 5 test -s "$T/usr2"
echo "not-a-pid" >"$T/haproxy.pid"
"${hap_env[@]}" HAPROXY_PIDFILE="$T/haproxy.pid" "$hooks/haproxy-combined" --no-systemd 2>/dev/null
expect_eq "haproxy-combined --no-systemd: a bad pid file fails" "$?" 1

# --- bash completion -----------------------------------------------------------
comp=$top/contrib/completion/acmed.bash
check "completion parses (bash -n)" bash -n "$comp"
cfg=$T/compcfg
mkdir -p "$cfg"
cat >"$cfg/a.yaml" <<'EOF'
cas:
  - name: letsencrypt
    directory: https://acme-v02.api.letsencrypt.org/directory
  - {name: zerossl, directory: "https://acme.zerossl.com/v2/DV90"}
certificates:
  - name: www
    ca: letsencrypt
    domains: [www.example.org]
    challenge: {type: http-01, listen: "0.0.0.0:80"}
    output: /etc/acmed/live/www
  - domains: [api.example.org]
    name: "api"
    ca: zerossl
    challenge: {type: http-01, listen: "0.0.0.0:80"}
    output: /etc/acmed/live/api
EOF
check "the completion's test configuration is valid" "$ACMED" --config-dir "$cfg" check
complete_words() { # complete_words WORD...: the completions for the last word
    bash --norc --noprofile -c '
        source "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
        _acmed
        printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' sh "$comp" "$@"
}
check "complete -F _acmed acmed is registered" \
    bash --norc --noprofile -c 'source "$1"; complete -p acmed | grep -q "_acmed"' sh "$comp"
expect_eq "completes all commands" "$(complete_words acmed '')" \
    "check profiles renew revoke rollover run status "
expect_eq "completes a command prefix" "$(complete_words acmed re)" "renew revoke "
expect_eq "completes global options" "$(complete_words acmed --c)" "--config-dir "
expect_eq "completes run's option" "$(complete_words acmed run --)" "--once "
expect_eq "completes renew's options" "$(complete_words acmed --config-dir "$cfg" renew --)" "--all --force "
expect_eq "completes certificate names from --config-dir" \
    "$(complete_words acmed --config-dir "$cfg" renew '')" "api www "
expect_eq "completes certificate names with --config-dir=DIR" \
    "$(complete_words acmed --config-dir="$cfg" status w)" "www "
expect_eq "completes CA names for rollover" "$(complete_words acmed -c "$cfg" rollover '')" "letsencrypt zerossl "
expect_eq "completes CA names for profiles" "$(complete_words acmed -c "$cfg" profiles z)" "zerossl "
expect_eq "completes revoke's options" "$(complete_words acmed -c "$cfg" revoke www --)" "--reason --with-cert-key "
expect_eq "completes revocation reason codes" "$(complete_words acmed revoke www --reason 1)" "1 10 "
expect_eq "completes directories after --state-dir" \
    "$(cd "$T" && complete_words acmed --state-dir compc)" "compcfg "
# Every command and option of "acmed --help" is offered somewhere.
help=$("$ACMED" --help)
all=$(complete_words acmed '')
for c in $(awk '/^commands:/ { f = 1; next } f && /^  [a-z]/ { print $1 }' <<<"$help" | sort -u); do
    check "completion offers command $c" grep -qw -- "$c" <<<"$all"
done
check "completion knows every option of acmed --help" \
    bash -c 'for o in $(grep -oE -- "--[a-z][a-z-]+" <<<"$1" | sort -u); do
                 grep -q -- "\"[^\"]*$o[ \"]" "$2" || grep -q -- " $o[ \"]" "$2" || { echo "missing $o"; exit 1; }
             done' sh "$help" "$comp"

# --- polkit rule ------------------------------------------------------------------
rules=$top/contrib/polkit/50-acmed.rules
if command -v node >/dev/null; then
    polkit_says() { # polkit_says USER ACTION VERB UNIT
        node -e '
            const fs = require("fs");
            let rule;
            const polkit = { Result: { YES: "yes" }, addRule: (f) => { rule = f; } };
            eval(fs.readFileSync(process.argv[1], "utf8"));
            const [user, id, verb, unit] = process.argv.slice(2);
            const details = { verb, unit };
            const r = rule({ id, lookup: (k) => details[k] }, { user });
            console.log(r === undefined ? "pass" : r);' "$rules" "$@"
    }
    expect_eq "polkit: acmed may reload nginx.service" \
        "$(polkit_says acmed org.freedesktop.systemd1.manage-units reload nginx.service)" yes
    expect_eq "polkit: acmed may not restart nginx.service" \
        "$(polkit_says acmed org.freedesktop.systemd1.manage-units restart nginx.service)" pass
    expect_eq "polkit: acmed may not reload an unlisted unit" \
        "$(polkit_says acmed org.freedesktop.systemd1.manage-units reload sshd.service)" pass
    expect_eq "polkit: another user may not reload nginx.service" \
        "$(polkit_says www-data org.freedesktop.systemd1.manage-units reload nginx.service)" pass
else
    check "polkit rule calls polkit.addRule (node not installed: not evaluated)" grep -q 'polkit.addRule' "$rules"
fi

finish
