#!/usr/bin/env bash
# Install the Debian packages mdlsafe needs to build and test.
#   scripts/install-deps.sh           build + test dependencies
#   scripts/install-deps.sh --build   only what building and packaging need
#   scripts/install-deps.sh --bench   also the benchmark tools
# Skips packages already installed; runs `apt-get update` only when something
# is missing. Works unattended (CI=true, no stdin). Never starts, stops or
# configures the system MariaDB server: tests use tests/sandbox/ instead.
set -euo pipefail

# file and dpkg-dev: CPack finds the package's dependencies with dpkg-shlibdeps.
BUILD_PACKAGES="build-essential cmake pkg-config libmariadb-dev libzstd-dev libxxhash-dev libjansson-dev file dpkg-dev"
# man-db and groff-base: the install test reads the man pages as man shows them.
TEST_PACKAGES="libcmocka-dev mariadb-server mariadb-client zstd man-db groff-base"
BENCH_PACKAGES="sysbench mydumper percona-toolkit time mariadb-backup"

say() { printf 'install-deps: %s\n' "$*"; }
die() { printf 'install-deps: error: %s\n' "$*" >&2; exit 1; }

want="$BUILD_PACKAGES $TEST_PACKAGES"
for arg in "$@"; do
    case $arg in
        --build) want="$BUILD_PACKAGES" ;;
        --bench) want="$want $BENCH_PACKAGES" ;;
        -h | --help)
            sed -n '2,8s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
            exit 0
            ;;
        *) die "unknown argument: $arg (usage: install-deps.sh [--build | --bench])" ;;
    esac
done

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    die "needs a Debian-like system with dpkg and apt-get"
fi

is_installed() {
    dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
total=0
for pkg in $want; do
    total=$((total + 1))
    is_installed "$pkg" || missing+=("$pkg")
done

if [ "${#missing[@]}" -eq 0 ]; then
    say "all $total packages already installed"
    exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 ||
        die "not root and sudo is not installed; run as root: apt-get install ${missing[*]}"
    SUDO=(sudo -n) # never prompt: CI has no terminal
fi

export DEBIAN_FRONTEND=noninteractive
log=$(mktemp "${TMPDIR:-/tmp}/install-deps.XXXXXX")
trap 'rm -f "$log"' EXIT

apt() { # run apt-get quietly; show its output only on failure
    if ! ${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive \
        apt-get -q -o DPkg::Lock::Timeout=300 "$@" </dev/null >"$log" 2>&1; then
        cat "$log" >&2
        die "apt-get $1 failed"
    fi
}

say "apt-get update (missing: ${missing[*]})"
apt update
say "installing: ${missing[*]}"
apt install -y --no-install-recommends "${missing[@]}"

still=()
for pkg in "${missing[@]}"; do
    is_installed "$pkg" || still+=("$pkg")
done
[ "${#still[@]}" -eq 0 ] || die "still not installed after apt-get: ${still[*]}"
say "installed ${#missing[@]} package(s)"
