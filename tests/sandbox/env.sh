# shellcheck shell=sh
# Settings for the throwaway MariaDB sandbox. Source it, don't run it:
#     . tests/sandbox/env.sh
# Any variable already set in the environment is kept, so several sandboxes
# can run side by side, e.g.:
#     SANDBOX_DIR=/tmp/sb2 SANDBOX_PORT=23307 bash tests/sandbox/start.sh
# POSIX sh compatible (make recipes run it under /bin/sh). Under bash the
# repo root is found from this file's location; under other shells it falls
# back to `git rev-parse --show-toplevel` from the current directory, then to
# the current directory. Set MDLSAFE_ROOT to override.

if [ -z "${MDLSAFE_ROOT:-}" ]; then
    # shellcheck disable=SC3028,SC3054,SC2128
    _sandbox_env_src=${BASH_SOURCE:-}
    if [ -n "$_sandbox_env_src" ]; then
        MDLSAFE_ROOT=$(cd "$(dirname "$_sandbox_env_src")/../.." && pwd -P)
    else
        MDLSAFE_ROOT=$(git rev-parse --show-toplevel 2>/dev/null || pwd -P)
    fi
    unset _sandbox_env_src
fi

: "${SANDBOX_DIR:=$MDLSAFE_ROOT/.sandbox}"
: "${SANDBOX_PORT:=23306}"
: "${SANDBOX_SOCKET:=$SANDBOX_DIR/mysqld.sock}"
: "${SANDBOX_DATADIR:=$SANDBOX_DIR/data}"
: "${SANDBOX_PIDFILE:=$SANDBOX_DIR/mysqld.pid}"
: "${SANDBOX_LOG:=$SANDBOX_DIR/error.log}"
: "${SANDBOX_ROOT_PASSWORD:=sandbox-root-pw}"
: "${SANDBOX_CNF:=$SANDBOX_DIR/client.cnf}"
: "${SANDBOX_NOPROC_CNF:=$SANDBOX_DIR/noproc.cnf}"
# InnoDB buffer pool of the sandbox server (mariadbd syntax: 256M, 1G, ...).
# The benchmark (bench/run.sh) raises it to 1G so its dataset stays cached.
: "${SANDBOX_BUFFER_POOL:=256M}"
# ON for the main test server (exact lock holders); OFF, as MariaDB ships,
# for server B, where the tests of what works without it run.
: "${SANDBOX_PERFORMANCE_SCHEMA:=ON}"

export MDLSAFE_ROOT SANDBOX_DIR SANDBOX_PORT SANDBOX_SOCKET SANDBOX_DATADIR \
    SANDBOX_PIDFILE SANDBOX_LOG SANDBOX_ROOT_PASSWORD SANDBOX_CNF \
    SANDBOX_NOPROC_CNF SANDBOX_BUFFER_POOL SANDBOX_PERFORMANCE_SCHEMA
