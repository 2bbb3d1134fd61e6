#!/usr/bin/env bash
# The manual pages: acmed(8) and acmed.yaml(5) lint clean (mandoc -T lint
# -W warning, and groff through man --warnings), and they keep up with the
# code: every configuration key of config/cfg.c's key tables, every ACMED_*
# hook variable, every command, option and exit status of acmed, and every
# journal field and MESSAGE_ID is documented.  Every YAML example in
# acmed.yaml(5) passes "acmed check".
source "$(dirname "$0")/lib.sh"
top=$(cd "$TESTS_DIR/../.." && pwd)
man8=$top/man/acmed.8
man5=$top/man/acmed.yaml.5

[[ -f $man8 && -f $man5 ]] || die "man/acmed.8 and man/acmed.yaml.5 exist"

# --- lint -----------------------------------------------------------------
lint_mandoc() { # no output at all at level warning and above
    local out
    out=$(mandoc -T lint -W warning "$1" 2>&1) || { printf '%s\n' "$out"; return 1; }
    [[ -z $out ]] || { printf '%s\n' "$out"; return 1; }
}
lint_groff() { # man(1) through groff with warnings; stderr must stay empty
    local err
    err=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$1" 2>&1 >/dev/null) || return 1
    [[ -z $err ]] || { printf '%s\n' "$err"; return 1; }
}
for page in "$man8" "$man5"; do
    name=$(basename "$page")
    if command -v mandoc >/dev/null; then
        check "mandoc -T lint -W warning $name: clean" lint_mandoc "$page"
    else
        fail "mandoc is installed (contrib/install-deps.sh installs it)"
    fi
    if command -v man >/dev/null; then
        check "man --warnings -l $name: clean" lint_groff "$page"
    fi
done
check "acmed.8 names itself ACMED 8" grep -qx '.Dt ACMED 8' "$man8"
check "acmed.yaml.5 names itself ACMED.YAML 5" grep -qx '.Dt ACMED.YAML 5' "$man5"

# --- configuration keys (config/cfg.c key tables) ---------------------------
keys=$(grep -oE '(STR|LIST)\("[a-z_]+"|\{"[a-z_]+", F_MAP' "$top/config/cfg.c" |
    sed -E 's/.*"([a-z_]+)".*/\1/' | sort -u)
[[ $(wc -w <<<"$keys") -ge 20 ]] || fail "found the key tables in config/cfg.c" "keys: $keys"
for k in $keys; do
    check "acmed.yaml.5 documents key \"$k\"" grep -qE "^\.It Ic $k( |$)" "$man5"
done
top_keys=$(grep -oE 'strcmp\(key, "[a-z_]+"\) == 0' "$top/config/cfg.c" |
    sed -E 's/.*"([a-z_]+)".*/\1/' | sort -u)
for k in $top_keys; do
    check "acmed.yaml.5 documents top-level key \"$k\"" grep -qE "^\.Ic $k( |$)" "$man5"
done
# Each key entry says its type and default ("(string, optional; default: x)").
n_entries=$(grep -cE '^\.It Ic [a-z_]+ Pq (string|string list|mapping|number|boolean), (required|optional)' "$man5")
n_keys=$(wc -w <<<"$keys")
check "every key entry states its type and whether it is required ($n_entries entries, $n_keys keys)" \
    test "$n_entries" -ge "$n_keys"
n_opt=$(grep -cE '^\.It Ic [a-z_]+ Pq .*optional' "$man5")
n_def=$(grep -cE '^\.It Ic [a-z_]+ Pq .*optional; default: ' "$man5")
expect_eq "every optional key states its default" "$n_def" "$n_opt"

# --- hook environment (every ACMED_*= the daemon sets) ---------------------
vars=$(grep -ohE '"ACMED_[A-Z_]+=' "$top"/daemon/*.c | tr -d '"=' | sort -u)
[[ -n $vars ]] || fail "found the hook variables in daemon/*.c"
for v in $vars; do
    check "acmed.yaml.5 describes \$$v" grep -qx ".It Ev $v" "$man5"
    check "acmed.8 names \$$v" grep -qE "^\.Ev $v( |$)" "$man8"
done

# --- commands, options, exit statuses --------------------------------------
help=$("$ACMED" --help)
cmds=$(awk '/^commands:/ { f = 1; next } f && /^  [a-z]/ { print $1 }' <<<"$help" | sort -u)
[[ $(wc -w <<<"$cmds") -ge 5 ]] || fail "acmed --help lists the commands" "$help"
for c in $cmds; do
    check "acmed.8 documents command \"$c\"" grep -qE "^\.It Cm $c( |$)" "$man8"
    check "acmed.8 synopsis shows \"$c\"" grep -qx ".Cm $c" "$man8"
done
for o in $(grep -oE -- '--[a-z][a-z-]+' <<<"$help" | sort -u) --help --verbose; do
    check "acmed.8 documents option $o" grep -qE "Fl -${o#--}( |$)" "$man8"
done
for code in 0 1 $(sed -nE 's/^#define EXIT_[A-Z]+ ([0-9]+)$/\1/p' "$top/daemon/main.c"); do
    check "acmed.8 EXIT STATUS lists $code" \
        awk -v c="$code" '/^\.Sh EXIT STATUS/ { f = 1; next } /^\.Sh/ { f = 0 } f && $0 == ".It " c { found = 1 } END { exit !found }' "$man8"
done
for s in SIGHUP SIGTERM SIGINT; do
    check "acmed.8 SIGNALS lists $s" grep -qE "^\.It .*Dv $s" "$man8"
done

# --- journal fields and MESSAGE_IDs ----------------------------------------
if [[ -f $top/daemon/journal.c ]]; then
    for f in $(grep -ohE '"ACMED_[A-Z_]+"' "$top/daemon/journal.c" | tr -d '"' | sort -u); do
        check "acmed.8 names journal field $f" grep -qE "^\.Ev $f( |$)" "$man8"
    done
fi
for id in $(grep -oE '"[0-9a-f]{32}"' "$top/common/log.c" | tr -d '"'); do
    check "acmed.8 lists MESSAGE_ID $id" grep -qx ".It Li $id" "$man8"
done

# --- the YAML examples of acmed.yaml(5) are valid ---------------------------
awk -v dir="$T" '/^\.Bd -literal/ { n++; f = 1; next } /^\.Ed/ { f = 0 } f { print > (dir "/block" n) }' "$man5"
nex=0
for b in "$T"/block*; do
    first=$(head -n 1 "$b")
    case $first in
    cas: | certificates: | global:) ;;
    *) continue ;;
    esac
    nex=$((nex + 1))
    mkdir -p "$b.d"
    # A certificates-only example gets a CA to refer to.
    { [[ $first == certificates: ]] && printf 'cas:\n  - name: ca\n    directory: https://ca.example/dir\n'
      cat "$b"; } >"$b.d/example.yaml"
    check "acmed.yaml.5 example $nex ($first ...) passes acmed check" \
        "$ACMED" --config-dir "$b.d" check
done
check "acmed.yaml.5 has at least 4 checked YAML examples ($nex)" test "$nex" -ge 4

finish
