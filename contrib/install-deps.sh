#!/bin/bash
# Ensure the Debian packages needed to build and test acmed are installed.
# As root: installs what is missing. Otherwise: prints the command and exits 1.
set -euo pipefail

PKGS=(build-essential pkg-config libcurl4-openssl-dev libssl-dev libyaml-dev
      libsystemd-dev libsqlite3-dev libjansson-dev pebble sqlite3 openssl curl
      python3 python3-cryptography clang libclang-rt-14-dev valgrind mandoc systemd strace)

missing=()
for p in "${PKGS[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#PKGS[@]} packages present"
    exit 0
fi

if ((EUID != 0)); then
    echo "install-deps: missing packages: ${missing[*]}" >&2
    echo "Run: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

echo "install-deps: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
