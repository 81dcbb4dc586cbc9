#!/usr/bin/env bash
# What `mdlsafe guard` costs the server it watches: the statements it sends
# (the server's Questions counter) and the server CPU they take (mariadbd's
# utime + stime), each measured over the same window with and without a guard
# running, and the guard's own CPU and peak RSS.
#
#   bash bench/guard_cost.sh [MDLSAFE]          (default: build/mdlsafe)
#
# Environment (all optional):
#   GUARD_COST_SECONDS=60     measuring window per configuration
#   GUARD_COST_WARMUP=3       seconds a guard runs before its window starts
#                             (its connect and first probe are not counted)
#   GUARD_COST_PFS=1          also measure with the performance_schema MDL
#                             instrument on (0: skip)
#   GUARD_COST_SESSIONS=0     idle client sessions kept open during every run
#                             (the processlist the guard reads grows with them)
#
# Configurations, in this order: baseline (no guard), guard at the default
# 250 ms, guard at 1000 ms; with GUARD_COST_PFS=1 the instrument is then
# switched on (`mdlsafe locks --enable-instrumentation`) and baseline and
# 250 ms are measured again. "attributable" = the configuration minus the
# baseline with the same instrument state.
#
# Starts its own private sandbox server (tests/sandbox/start.sh) in
# <repo>/.sandbox-guardcost on port 23386 (unix socket and 127.0.0.1 only) and
# stops and wipes it on exit, also on failure or Ctrl-C. SANDBOX_* variables
# in the environment are ignored, so another sandbox is never touched.
# Prints a Markdown table on stdout; progress goes to stderr.
set -euo pipefail
export LC_ALL=C # decimal points in printf and awk

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"

say() { printf 'guard_cost: %s\n' "$*" >&2; }
die() { printf 'guard_cost: error: %s\n' "$*" >&2; exit 1; }

[ "${BASH_VERSINFO[0]}" -ge 5 ] || die "needs bash 5 or later (EPOCHREALTIME)"

MDLSAFE=${1:-build/mdlsafe}
case $MDLSAFE in /*) ;; *) MDLSAFE=$ROOT/$MDLSAFE ;; esac
[ -x "$MDLSAFE" ] || die "$MDLSAFE not found or not executable (build it, or pass its path)"
"$MDLSAFE" guard --help >/dev/null 2>&1 || die "$MDLSAFE has no 'guard' command"

DUR=${GUARD_COST_SECONDS:-60}
WARMUP=${GUARD_COST_WARMUP:-3}
PFS=${GUARD_COST_PFS:-1}
SESSIONS=${GUARD_COST_SESSIONS:-0}
case $DUR in '' | *[!0-9]* | 0) die "GUARD_COST_SECONDS must be a positive integer, got '$DUR'" ;; esac
case $WARMUP in '' | *[!0-9]*) die "GUARD_COST_WARMUP must be a number of seconds, got '$WARMUP'" ;; esac
case $PFS in 0 | 1) ;; *) die "GUARD_COST_PFS must be 0 or 1, got '$PFS'" ;; esac
case $SESSIONS in '' | *[!0-9]*) die "GUARD_COST_SESSIONS must be a number, got '$SESSIONS'" ;; esac
[ "$SESSIONS" -le 180 ] || die "GUARD_COST_SESSIONS must be at most 180 (the sandbox allows 200 connections)"
[ -r /proc/self/stat ] || die "needs /proc"
HZ=$(getconf CLK_TCK)

CLIENT=$(command -v mariadb || command -v mysql) || die "mariadb client not found"

# The private sandbox. Everything derived from SANDBOX_DIR is reset so an
# exported SANDBOX_SOCKET or SANDBOX_CNF of another sandbox cannot leak in.
unset SANDBOX_SOCKET SANDBOX_DATADIR SANDBOX_PIDFILE SANDBOX_LOG SANDBOX_CNF \
    SANDBOX_NOPROC_CNF SANDBOX_BUFFER_POOL SANDBOX_ROOT_PASSWORD
export MDLSAFE_ROOT=$ROOT
export SANDBOX_DIR=$ROOT/.sandbox-guardcost
export SANDBOX_PORT=23386
# shellcheck source=tests/sandbox/env.sh
. "$ROOT/tests/sandbox/env.sh"
CNF=$SANDBOX_CNF
WORK=$SANDBOX_DIR/guardcost # guard logs, metrics; wiped with the sandbox

### Cleanup: everything we start stops when we stop
GUARD_PID=""
SESSION_PIDS=()
cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    for p in $GUARD_PID ${SESSION_PIDS[@]+"${SESSION_PIDS[@]}"}; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in $GUARD_PID ${SESSION_PIDS[@]+"${SESSION_PIDS[@]}"}; do
        wait "$p" 2>/dev/null || true
    done
    bash "$ROOT/tests/sandbox/stop.sh" --wipe >&2 || true
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

### Start the sandbox
say "starting the sandbox in $SANDBOX_DIR (port $SANDBOX_PORT)"
bash "$ROOT/tests/sandbox/start.sh" >&2 || die "cannot start the sandbox"
mkdir -p "$WORK"

server_pid() {
    local pid
    pid=$(tr -dc '0-9' <"$SANDBOX_PIDFILE") || return 1
    [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
    printf '%s\n' "$pid"
}
SERVER_PID=$(server_pid) || die "no live mariadbd in $SANDBOX_PIDFILE"
SERVER_VERSION=$("$CLIENT" --defaults-file="$CNF" -N -B -e 'SELECT VERSION()')

questions() {
    "$CLIENT" --defaults-file="$CNF" -N -B -e "SHOW GLOBAL STATUS LIKE 'Questions'" | awk '{ print $2 }'
}

cpu_ticks() { # utime + stime of a process, in clock ticks
    local s
    s=$(<"/proc/$1/stat") || return 1
    s=${s##*) } # after "pid (comm) ": field 3 (state) comes first
    # shellcheck disable=SC2086
    set -- $s
    printf '%s\n' "$((${12} + ${13}))"
}

peak_rss_kib() {
    awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

lock_source() {
    "$MDLSAFE" locks --json --defaults-file="$CNF" | sed -n 's/^ *"source": *"\([^"]*\)".*/\1/p'
}

### Idle sessions (optional): clients connected, reading a FIFO nobody writes
if [ "$SESSIONS" -gt 0 ]; then
    mkfifo "$WORK/idle.fifo"
    exec 7<>"$WORK/idle.fifo" # a writer that never writes: no EOF for the readers
    for ((i = 0; i < SESSIONS; i++)); do
        "$CLIENT" --defaults-file="$CNF" -N -B <"$WORK/idle.fifo" >/dev/null 2>&1 &
        SESSION_PIDS+=($!)
    done
    for ((i = 0; i < 100; i++)); do
        n=$("$CLIENT" --defaults-file="$CNF" -N -B -e \
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND = 'Sleep'")
        [ "$n" -ge "$SESSIONS" ] && break
        sleep 0.1
    done
    say "$n idle sessions connected"
fi

### One configuration: label, interval in ms (empty: no guard)
ROWS=() # label|source|interval|q/s|cpu%|guard cpu%|rss KiB|polls/s
measure() {
    local label=$1 interval=$2 src q0 q1 c0 c1 g0 g1 t0 t1 started stopped rss="" gcpu="" pollrate="" rc polls
    src=$(lock_source)
    if [ -n "$interval" ]; then
        say "$label: guard --interval $interval, source $src, ${WARMUP}s warm-up + ${DUR}s"
        rm -f "$WORK/guard.jsonl"
        started=$EPOCHREALTIME
        "$MDLSAFE" guard --defaults-file="$CNF" --interval "$interval" \
            --log "$WORK/guard.jsonl" --metrics-file "$WORK/mdlsafe_guard.prom" \
            2>>"$WORK/guard.stderr" &
        GUARD_PID=$!
        sleep "$WARMUP"
        kill -0 "$GUARD_PID" 2>/dev/null || die "$label: the guard exited during warm-up: $(tail -n 3 "$WORK/guard.stderr")"
    else
        say "$label: no guard, source $src, ${DUR}s"
    fi
    q0=$(questions)
    c0=$(cpu_ticks "$SERVER_PID")
    if [ -n "$GUARD_PID" ]; then g0=$(cpu_ticks "$GUARD_PID"); fi
    t0=$EPOCHREALTIME
    sleep "$DUR"
    if [ -n "$GUARD_PID" ] && ! kill -0 "$GUARD_PID" 2>/dev/null; then
        rc=0
        wait "$GUARD_PID" || rc=$?
        GUARD_PID=""
        cp -f "$WORK/guard.stderr" "${TMPDIR:-/tmp}/guard_cost.guard.stderr" 2>/dev/null || true
        cp -f "$WORK/guard.jsonl" "${TMPDIR:-/tmp}/guard_cost.guard.jsonl" 2>/dev/null || true
        die "$label: the guard died during the window (exit status $rc$([ "$rc" -gt 128 ] && echo ", signal $((rc - 128))")); its stderr and log are in ${TMPDIR:-/tmp}/guard_cost.guard.{stderr,jsonl}; last lines: $(tail -n 3 "$WORK/guard.stderr")"
    fi
    q1=$(questions)
    c1=$(cpu_ticks "$SERVER_PID")
    if [ -n "$GUARD_PID" ]; then g1=$(cpu_ticks "$GUARD_PID"); fi
    t1=$EPOCHREALTIME
    if [ -n "$GUARD_PID" ]; then
        rss=$(peak_rss_kib "$GUARD_PID")
        kill -TERM "$GUARD_PID"
        rc=0
        wait "$GUARD_PID" || rc=$?
        stopped=$EPOCHREALTIME
        GUARD_PID=""
        [ "$rc" -eq 0 ] || say "warning: the guard exited with status $rc on SIGTERM (expected 0)"
        polls=$(sed -n 's/.*"event":"stop".*"polls":\([0-9]*\).*/\1/p' "$WORK/guard.jsonl" | tail -n 1)
        [ -n "$polls" ] || die "no stop event in the guard's log"
        # The first poll runs at once, so polls - 1 periods fit in its lifetime.
        pollrate=$(awk -v p="$polls" -v a="$started" -v b="$stopped" 'BEGIN { printf "%.3f", (p - 1) / (b - a) }')
        gcpu=$(awk -v d="$((g1 - g0))" -v hz="$HZ" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", d / hz / (b - a) * 100 }')
    fi
    ROWS+=("$(awk -v label="$label" -v src="$src" -v iv="$interval" -v dq="$((q1 - q0))" -v dc="$((c1 - c0))" \
        -v hz="$HZ" -v a="$t0" -v b="$t1" -v gcpu="$gcpu" -v rss="$rss" -v pr="$pollrate" \
        'BEGIN { w = b - a; printf "%s|%s|%s|%.3f|%.3f|%s|%s|%s", label, src, iv, dq / w, dc / hz / w * 100, gcpu, rss, pr }')")
    say "  ${ROWS[-1]}"
}

measure "baseline (no guard)" ""
measure "guard, --interval 250 (default)" 250
measure "guard, --interval 1000" 1000
if [ "$PFS" = 1 ]; then
    say "switching on the performance_schema MDL instrument"
    "$MDLSAFE" locks --enable-instrumentation --defaults-file="$CNF" >/dev/null 2>&1 ||
        die "mdlsafe locks --enable-instrumentation failed"
    [ "$(lock_source)" = performance_schema ] || die "the instrument is on but the source is $(lock_source)"
    measure "baseline (no guard), P_S MDL instrument on" ""
    measure "guard, --interval 250, P_S MDL instrument on" 250
fi

### Report
{
    printf '## mdlsafe guard: cost on the server\n\n'
    printf 'MariaDB %s sandbox, %s idle client sessions, %s s per configuration (after a %s s warm-up for the guard), %s, %s CPUs, %s.\n' \
        "$SERVER_VERSION" "$SESSIONS" "$DUR" "$WARMUP" "$(uname -sr)" "$(nproc)" "$(date -u +%Y-%m-%dT%H:%MZ)"
    # shellcheck disable=SC2016 # the backquotes are Markdown
    printf 'Guard: %s, `mdlsafe guard --defaults-file=client.cnf --log FILE --metrics-file FILE [--interval MS]`, unix socket.\n' \
        "$("$MDLSAFE" --version 2>/dev/null | head -n 1 || echo mdlsafe)"
    printf 'Attributable = this configuration minus the baseline with the same lock source; CPU %% is of one core.\n\n'
    printf '| configuration | lock source | server queries/s (raw) | server CPU %% (raw) | guard polls/s | queries/s from the guard | queries per poll | server CPU %% from the guard | guard CPU %% | guard peak RSS |\n'
    printf '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n'
    base_q="" base_c=""
    for row in "${ROWS[@]}"; do
        IFS='|' read -r label src iv qps cpu gcpu rss pr <<<"$row"
        if [ -z "$iv" ]; then
            base_q=$qps base_c=$cpu
            printf '| %s | %s | %.2f | %.2f | — | — | — | — | — | — |\n' "$label" "$src" "$qps" "$cpu"
        else
            awk -v label="$label" -v src="$src" -v qps="$qps" -v cpu="$cpu" -v bq="$base_q" -v bc="$base_c" \
                -v gcpu="$gcpu" -v rss="$rss" -v pr="$pr" 'BEGIN {
                    dq = qps - bq
                    printf "| %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f MiB |\n",
                        label, src, qps, cpu, pr, dq, (pr > 0 ? dq / pr : 0), cpu - bc, gcpu, rss / 1024
                }'
        fi
    done
}
