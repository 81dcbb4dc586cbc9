#!/usr/bin/env bash
# Stop the throwaway MariaDB sandbox started by tests/sandbox/start.sh.
#   stop.sh          shut the server down, keep $SANDBOX_DIR
#   stop.sh --wipe   also delete $SANDBOX_DIR
# Exits 0 if nothing is running. Only touches the server whose pidfile and
# datadir are in $SANDBOX_DIR, and only deletes $SANDBOX_DIR itself.
set -euo pipefail

# shellcheck source=tests/sandbox/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

MARKER="$SANDBOX_DIR/.mdlsafe-sandbox"
WAIT_SECS=30

say() { printf 'sandbox: %s\n' "$*"; }
die() { printf 'sandbox: error: %s\n' "$*" >&2; exit 1; }

wipe=0
for arg in "$@"; do
    case $arg in
        --wipe) wipe=1 ;;
        -h | --help)
            sed -n '2,6s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
            exit 0
            ;;
        *) die "unknown argument: $arg (usage: stop.sh [--wipe])" ;;
    esac
done

ADMIN=$(command -v mariadb-admin || command -v mysqladmin || true)

sandbox_pid() { # same check as start.sh: pidfile + live process on our datadir
    local pid cmd
    [ -r "$SANDBOX_PIDFILE" ] || return 1
    pid=$(tr -dc '0-9' <"$SANDBOX_PIDFILE" 2>/dev/null) || return 1
    [ -n "$pid" ] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    if [ -r "/proc/$pid/cmdline" ]; then
        cmd=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
        case $'\n'"$cmd"$'\n' in
            *$'\n'"--datadir=$SANDBOX_DATADIR"$'\n'*) ;;
            *) return 1 ;;
        esac
    fi
    printf '%s\n' "$pid"
}

wait_gone() { # pid seconds
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    return 1
}

if pid=$(sandbox_pid); then
    how=""
    if [ -n "$ADMIN" ] && [ -r "$SANDBOX_CNF" ] &&
        timeout "$((WAIT_SECS + 10))" "$ADMIN" --defaults-file="$SANDBOX_CNF" \
            --protocol=socket --connect-timeout=5 --shutdown-timeout="$WAIT_SECS" \
            shutdown </dev/null >/dev/null 2>&1 &&
        wait_gone "$pid" "$WAIT_SECS"; then
        how="shutdown"
    else
        kill -TERM "$pid" 2>/dev/null || true
        if wait_gone "$pid" "$WAIT_SECS"; then
            how="SIGTERM"
        else
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" 5 || die "mariadbd pid $pid survived SIGKILL"
            how="SIGKILL"
        fi
    fi
    rm -f -- "$SANDBOX_PIDFILE"
    [ -S "$SANDBOX_SOCKET" ] && rm -f -- "$SANDBOX_SOCKET"
    say "stopped mariadbd pid $pid ($how)"
elif [ -n "$ADMIN" ] && [ -S "$SANDBOX_SOCKET" ] && [ -r "$SANDBOX_CNF" ] &&
    "$ADMIN" --defaults-file="$SANDBOX_CNF" --protocol=socket --connect-timeout=2 \
        ping </dev/null >/dev/null 2>&1; then
    # No usable pidfile, but a server answers on our socket with our password.
    timeout "$((WAIT_SECS + 10))" "$ADMIN" --defaults-file="$SANDBOX_CNF" \
        --protocol=socket --connect-timeout=5 --shutdown-timeout="$WAIT_SECS" \
        shutdown </dev/null >/dev/null 2>&1 || die "shutdown via $SANDBOX_SOCKET failed"
    say "stopped the server on $SANDBOX_SOCKET (shutdown)"
else
    say "not running"
fi

if [ "$wipe" -eq 1 ] && [ -e "$SANDBOX_DIR" ]; then
    dir=$(realpath -m -- "$SANDBOX_DIR")
    case $dir in
        / | /var/lib/mysql | /var/lib/mysql/*) die "refusing to delete $dir" ;;
    esac
    if [ ! -e "$MARKER" ] && [ -n "$(ls -A -- "$SANDBOX_DIR" 2>/dev/null)" ]; then
        die "refusing to delete $SANDBOX_DIR: no $(basename "$MARKER") marker (not made by start.sh)"
    fi
    rm -rf -- "$SANDBOX_DIR"
    say "wiped $SANDBOX_DIR"
fi
