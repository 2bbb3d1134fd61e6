#!/usr/bin/env bash
# File modes after a whole lifecycle (run --once, renew --force, revoke, the
# replacement pass), started under umask 000 and under umask 022: private
# keys (installed, pending, account) are 0600 (the configuration has no
# group setting), the state database and its -wal/-shm have no group or
# other bits, and no directory holding a key is group- or world-writable.
#
# And "key bytes never touch a file that had wider bits": under strace,
# every file that receives a PEM private key was created by an open with
# O_CREAT and mode 0600 (so whatever the umask, it never had more), and is
# never chmod'ed afterwards to anything but 0600 (not even down).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

export PEBBLE_VA_NOSLEEP=1
PY=/usr/bin/python3
HP=${CHALL_HTTP_PORT:-5002}
start_pebble

# analyse TRACE...: check strace logs (-f -y); print "ok N files" or the
# problems found.
analyse() {
    "$PY" - "$@" <<'EOF'
import re, sys
# With -y every fd argument reads fd<path>.
open_re = re.compile(r'^(\d+) +open(?:at)?\((?:AT_FDCWD(?:<[^>]*>)?, )?"([^"]+)", ([A-Z_|]+)(?:, (0\d+))?\) = (\d+)<([^>]+)>')
creat_re = re.compile(r'^(\d+) +creat\("([^"]+)", (0\d+)\) = (\d+)<([^>]+)>')
write_re = re.compile(r'^(\d+) +write\((\d+)<([^>]+)>, "((?:[^"\\]|\\.)*)"')
fchmod_re = re.compile(r'^(\d+) +fchmod\((\d+)<([^>]+)>, (0\d+)\)')
chmod_re = re.compile(r'^(\d+) +(?:chmod\("([^"]+)"|fchmodat\(AT_FDCWD(?:<[^>]*>)?, "([^"]+)"), (0\d+)')
rename_re = re.compile(r'^(\d+) +rename(?:at2?)?\((?:AT_FDCWD(?:<[^>]*>)?, )?"([^"]+)", (?:AT_FDCWD(?:<[^>]*>)?, )?"([^"]+)"')
created = {}      # path -> mode given with O_CREAT (first creation)
chmods = []       # (path, mode)
renames = []      # (old, new)
keyfiles = set()
problems = []
for trace in sys.argv[1:]:
    for line in open(trace, errors="replace"):
        m = open_re.match(line)
        if m:
            path, flags, mode, real = m.group(2), m.group(3), m.group(4), m.group(6)
            if "O_CREAT" in flags:
                created.setdefault(real, mode)
            continue
        m = creat_re.match(line)
        if m:
            created.setdefault(m.group(5), m.group(3))
            continue
        m = write_re.match(line)
        if m:
            data = m.group(4)
            if data.startswith("-----BEGIN") and "PRIVATE KEY" in data:
                keyfiles.add(m.group(3))
            continue
        m = fchmod_re.match(line)
        if m:
            chmods.append((m.group(3), m.group(4)))
            continue
        m = chmod_re.match(line)
        if m:
            chmods.append((m.group(2) or m.group(3), m.group(4)))
            continue
        m = rename_re.match(line)
        if m:
            renames.append((m.group(2), m.group(3)))
for f in sorted(keyfiles):
    mode = created.get(f)
    if mode is None:
        problems.append("%s: key written, but no O_CREAT open of it was traced" % f)
    elif mode != "0600":
        problems.append("%s: key written into a file created with mode %s" % (f, mode))
    names = {f} | {new for old, new in renames if old == f}
    for path, m in chmods:
        if path in names and m != "0600":
            problems.append("%s: chmod'ed to %s after the key was written" % (path, m))
kinds = {"account key": r"/accounts/[^/]+\.key",
         "pending key": r"/pending/[^/]+\.key",
         "installed privkey.pem": r"/\.v-[0-9a-f]+/privkey\.pem"}
for what, rx in kinds.items():
    if not any(re.search(rx, f) for f in keyfiles):
        problems.append("no key write to an %s was traced (the check would prove nothing)" % what)
print("\n".join(problems) if problems else "ok %d files" % len(keyfiles))
EOF
}

lifecycle() { # lifecycle UMASK
    local um=$1 D=$T/u$1 rc
    local C=$D/config S=$D/state O=$D/out
    mkdir -p "$C" "$D/trace"
    cat >"$C/acmed.yaml" <<EOF
cas:
  - name: pebble
    directory: $PEBBLE_DIR_URL
    contact: [mailto:admin@example.org]
    ca_bundle: $PEBBLE_CA_BUNDLE
certificates:
  - name: www
    domains: [www$um.example.org]
    challenge: {type: http-01, listen: "127.0.0.1:$HP"}
    output: $O/live/www
    reload: [$D/hook.sh]
  - name: rsa
    domains: [rsa$um.example.org]
    key: rsa-2048
    challenge: {type: http-01, listen: "127.0.0.1:$HP"}
    output: $O/live/rsa
EOF
    # While the worker runs its reload hook its database connection is
    # open, so the -wal and -shm files exist: record their modes then.
    cat >"$D/hook.sh" <<EOF
#!/bin/sh
stat -c '%a %n' "$S"/acmed.db* >>"$D/dbmodes.txt"
EOF
    chmod 755 "$D/hook.sh"
    step() { # step NAME ARGS...: one acmed command under strace, in umask $um
        local name=$1
        shift
        # (LeakSanitizer cannot run under ptrace; the other tests check leaks.)
        (umask "$um" && ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0 exec strace -f -qq -y -s 64 -o "$D/trace/$name" \
            -e trace=open,openat,creat,write,fchmod,chmod,fchmodat,rename,renameat,renameat2 \
            "$ACMED" --config-dir "$C" --state-dir "$S" "$@") >"$D/$name.log" 2>&1
        rc=$?
        expect_eq "umask $um: acmed $* exits 0" "$rc" 0
    }
    step run run --once
    step renew renew --force www
    step revoke revoke www
    step replace run --once
    check "umask $um: the revoked certificate was replaced" grep -q 'www: installed certificate' "$D/replace.log"

    expect_eq "umask $um: strace: every key went into a file created 0600 and never chmod'ed" \
        "$(analyse "$D"/trace/* | sed 's/^ok [0-9]* files$/ok/')" ok
    echo "      ($(analyse "$D"/trace/*) with a key traced)"

    # Modes on disk.
    local bad="" f m n=0
    while IFS= read -r f; do
        m=$(stat -c '%a' "$f")
        n=$((n + 1))
        [[ $m == 600 ]] || bad+=" $f=$m"
    done < <(find "$S/accounts" "$S/pending" "$O" -type f \( -name '*.key' -o -name 'privkey.pem' \) 2>/dev/null)
    expect_eq "umask $um: all $n key files on disk (account, pending, every installed version) are 0600" "${bad:-none}" none
    check "umask $um: there are installed keys of both certificates" \
        test -n "$(find "$O/live/www" "$O/live/rsa" -name privkey.pem -type f)"
    bad=""
    for f in "$S"/acmed.db*; do
        m=$(stat -c '%a' "$f")
        (((8#$m & 8#077) == 0)) || bad+=" $f=$m"
    done
    while read -r m f; do
        (((8#$m & 8#077) == 0)) || bad+=" $f=$m(during the pass)"
    done <"$D/dbmodes.txt"
    expect_eq "umask $um: the state database has no group or other bits" "${bad:-none}" none
    check "umask $um: the -wal and -shm files were seen during the pass" \
        grep -qzE 'acmed\.db-wal.*acmed\.db-shm|acmed\.db-shm.*acmed\.db-wal' "$D/dbmodes.txt"
    bad=""
    while IFS= read -r f; do
        m=$(stat -c '%a' "$f")
        (((8#$m & 8#022) == 0)) || bad+=" $f=$m"
    done < <(find "$S" "$O" -type d)
    expect_eq "umask $um: no directory in the state or output tree is group- or world-writable" "${bad:-none}" none
    expect_eq "umask $um: the state directory and its key directories are 0700" \
        "$(stat -c '%a' "$S" "$S/accounts" "$S/pending" | paste -sd' ')" "700 700 700"
}

lifecycle 000
lifecycle 022

sanitizer_check "$T"/u*/*.log
finish
