#!/usr/bin/env bash
# Runs every test (unit and integration) for each build directory given,
# against a private sandbox server that is stopped and wiped afterwards,
# whether the tests pass or not. Exit status: ctest's.
# TESTS=regex runs only the tests whose name matches (ctest -R), e.g.
#     TESTS=it_restore bash scripts/run-tests.sh build
set -euo pipefail
cd "$(dirname "$0")/.."

# A sandbox of its own, so a demo server (.sandbox, port 23306) is untouched.
export SANDBOX_DIR="${SANDBOX_DIR:-$PWD/.sandbox-test}"
export SANDBOX_PORT="${SANDBOX_PORT:-23316}"
unset SANDBOX_SOCKET SANDBOX_DATADIR SANDBOX_PIDFILE SANDBOX_LOG SANDBOX_CNF SANDBOX_NOPROC_CNF
. tests/sandbox/env.sh

# A second server, for restoring a physical backup into another server, and
# for what must work without performance_schema (off, as MariaDB ships).
SANDBOX_B_DIR="${SANDBOX_B_DIR:-$PWD/.sandbox-test-b}"
sandbox_b() { # start.sh|stop.sh [args]: the script, run for server B
    local script=$1; shift
    env -u SANDBOX_SOCKET -u SANDBOX_DATADIR -u SANDBOX_PIDFILE -u SANDBOX_LOG -u SANDBOX_CNF \
        -u SANDBOX_NOPROC_CNF SANDBOX_DIR="$SANDBOX_B_DIR" SANDBOX_PORT="${SANDBOX_B_PORT:-23326}" \
        SANDBOX_PERFORMANCE_SCHEMA=OFF \
        bash "tests/sandbox/$script" "$@"
}

trap 'bash tests/sandbox/stop.sh --wipe >/dev/null 2>&1 || true; sandbox_b stop.sh --wipe >/dev/null 2>&1 || true' EXIT
bash tests/sandbox/start.sh
sandbox_b start.sh
export MDLSAFE_TEST_CNF_B="$SANDBOX_B_DIR/client.cnf"

export MDLSAFE_TEST_CNF="$SANDBOX_CNF"
export MDLSAFE_TEST_NOPROC_CNF="$SANDBOX_NOPROC_CNF"
export MDLSAFE_TEST_ROOT_PASSWORD="$SANDBOX_ROOT_PASSWORD"
# How a test restarts the server under a running mdlsafe (data kept).
export MDLSAFE_TEST_SANDBOX_RESTART="bash $PWD/tests/sandbox/stop.sh >/dev/null && bash $PWD/tests/sandbox/start.sh --keep-data >/dev/null"
# Connector/C keeps a few process-wide allocations until exit; everything
# else must be leak-free.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

status=0
for build in "$@"; do
    echo "== ctest in $build"
    (cd "$build" && ctest --output-on-failure --timeout 600 ${TESTS:+-R "$TESTS"}) || status=1
done
exit $status
