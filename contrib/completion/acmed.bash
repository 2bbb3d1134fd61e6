# bash completion for acmed(8).  Installed as
# share/bash-completion/completions/acmed; or source it from ~/.bashrc.
# Completes commands, options, and certificate and CA names read from the
# configuration (--config-dir, default /etc/acmed).

# _acmed_names SECTION DIR: the "name:" values of the "cas" or "certificates"
# items in DIR/*.yaml (block or flow style; no YAML parser needed).
_acmed_names()
{
    local section=$1 dir=$2 f
    local -a files=()
    for f in "$dir"/*.yaml; do
        [[ -r $f ]] && files+=("$f")
    done
    ((${#files[@]})) || return 0
    awk -v want="$section" '
        /^[A-Za-z_]+:/ { sub(/:.*/, ""); top = $0; next }
        top == want {
            line = $0
            while (match(line, /(^[ \t]*|[-{,][ \t]*)name:[ \t]*[^ \t,}#]+/)) {
                v = substr(line, RSTART, RLENGTH)
                sub(/.*name:[ \t]*/, "", v)
                gsub(/["\047]/, "", v)
                print v
                line = substr(line, RSTART + RLENGTH)
            }
        }' "${files[@]}" 2>/dev/null
}

_acmed()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local commands="check run renew status profiles revoke rollover"
    local globals="--config-dir --state-dir --verbose --help -c -s -v -h"
    local confdir=/etc/acmed cmd="" i w
    COMPREPLY=()

    # The command is the first word that is neither an option nor the
    # argument of --config-dir / --state-dir.
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        case $w in
        --config-dir | -c)
            ((i + 1 < COMP_CWORD)) && confdir=${COMP_WORDS[i + 1]}
            ((i++))
            ;;
        --config-dir=*) confdir=${w#--config-dir=} ;;
        --state-dir | -s) ((i++)) ;;
        -*) ;;
        *)
            cmd=$w
            break
            ;;
        esac
    done
    confdir=${confdir/#\~/$HOME}

    if [[ -z $cmd ]]; then
        case $prev in
        --config-dir | --state-dir | -c | -s)
            mapfile -t COMPREPLY < <(compgen -d -- "$cur")
            return 0
            ;;
        esac
        if [[ $cur == -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "$globals" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
        fi
        return 0
    fi

    local opts="" words=""
    case $cmd in
    check) ;;
    run) opts="--once" ;;
    renew)
        opts="--force --all"
        words=$(_acmed_names certificates "$confdir")
        ;;
    status)
        opts="--json"
        words=$(_acmed_names certificates "$confdir")
        ;;
    profiles | rollover)
        words=$(_acmed_names cas "$confdir")
        ;;
    revoke)
        if [[ $prev == --reason ]]; then
            mapfile -t COMPREPLY < <(compgen -W "0 1 2 3 4 5 6 8 9 10" -- "$cur")
            return 0
        fi
        opts="--reason --with-cert-key"
        words=$(_acmed_names certificates "$confdir")
        ;;
    esac
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
    else
        mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
    fi
    return 0
}

complete -F _acmed acmed
