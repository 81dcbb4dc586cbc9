#!/usr/bin/env bash
# Point-in-time recovery: the archiver's CPU and the lag it keeps while
# sysbench writes, and the replay rate of `restore --until` against piping
# mariadb-binlog into the mariadb client by hand over the same events.
#
#   bash bench/pitr.sh [MDLSAFE]          (default: build/mdlsafe)
#
# Environment (all optional):
#   PITR_SECONDS=30       sysbench oltp_write_only run while the archiver runs
#   PITR_THREADS=4        sysbench threads
#   PITR_ROWS=100000      rows in each of the 4 sysbench tables
#   PITR_PORT=23396       the private sandbox's port
#
# Starts its own sandbox (tests/sandbox/start.sh) in <repo>/.sandbox-pitr and
# stops and wipes it on exit. Prints a Markdown table on stdout; progress on stderr.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"
say() { printf 'pitr: %s\n' "$*" >&2; }
die() { printf 'pitr: error: %s\n' "$*" >&2; exit 1; }

MDLSAFE=${1:-build/mdlsafe}
case $MDLSAFE in /*) ;; *) MDLSAFE=$ROOT/$MDLSAFE ;; esac
[ -f "$MDLSAFE" ] && [ -x "$MDLSAFE" ] || die "$MDLSAFE is not an executable file (pass the binary, e.g. build/mdlsafe)"
command -v sysbench >/dev/null || die "sysbench not found (make bench installs it)"
DUR=${PITR_SECONDS:-30}
THREADS=${PITR_THREADS:-4}
ROWS=${PITR_ROWS:-100000}
HZ=$(getconf CLK_TCK)

unset SANDBOX_SOCKET SANDBOX_DATADIR SANDBOX_PIDFILE SANDBOX_LOG SANDBOX_CNF \
    SANDBOX_NOPROC_CNF SANDBOX_BUFFER_POOL SANDBOX_ROOT_PASSWORD
export MDLSAFE_ROOT=$ROOT
export SANDBOX_DIR=$ROOT/.sandbox-pitr
export SANDBOX_PORT=${PITR_PORT:-23396}
. "$ROOT/tests/sandbox/env.sh"
CNF=$SANDBOX_CNF
WORK=$SANDBOX_DIR/work
SQL() { mariadb --defaults-file="$CNF" -N -B -e "$1"; }

ARCH_PID=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ -n "$ARCH_PID" ] && kill -TERM "$ARCH_PID" 2>/dev/null && wait "$ARCH_PID" 2>/dev/null || true
    bash "$ROOT/tests/sandbox/stop.sh" --wipe >&2 || true
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "starting the sandbox in $SANDBOX_DIR (port $SANDBOX_PORT)"
bash "$ROOT/tests/sandbox/start.sh" >&2
mkdir -p "$WORK"
SB=(sysbench --db-driver=mysql --mysql-socket="$SANDBOX_SOCKET" --mysql-user=root
    --mysql-password="$SANDBOX_ROOT_PASSWORD" --mysql-db=sbtest --tables=4 --table-size="$ROWS")
SQL "CREATE DATABASE sbtest"
say "sysbench prepare: 4 tables x $ROWS rows"
"${SB[@]}" oltp_write_only prepare >/dev/null
SQL "FLUSH BINARY LOGS"
START_FILE=$(SQL "SHOW MASTER STATUS" | cut -f1)
"$MDLSAFE" backup --defaults-file="$CNF" -B sbtest -o "$WORK/backup" 2>/dev/null

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
metric() { awk -v m="$1" '$1 == m { print $2 }' "$WORK/binlog.prom" 2>/dev/null; }

say "archiver running; sysbench oltp_write_only, $THREADS threads, $DUR s"
"$MDLSAFE" binlog --defaults-file="$CNF" --archive "$WORK/archive" --start-file "$START_FILE" \
    --metrics-file "$WORK/binlog.prom" 2>"$WORK/archiver.log" &
ARCH_PID=$!
sleep 2
c0=$(cpu_ticks "$ARCH_PID")
"${SB[@]}" oltp_write_only --threads="$THREADS" --time="$DUR" --report-interval=0 run >"$WORK/sysbench.out" &
SB_PID=$!
: >"$WORK/lag.tsv"
while kill -0 "$SB_PID" 2>/dev/null; do
    printf '%s\t%s\n' "$(metric mdlsafe_binlog_lag_bytes)" "$(metric mdlsafe_binlog_lag_seconds)" >>"$WORK/lag.tsv"
    sleep 1
done
wait "$SB_PID"
c1=$(cpu_ticks "$ARCH_PID")
TPS=$(awk '/transactions:/ { gsub(/[(]/, "", $3); print $3 }' "$WORK/sysbench.out")
for _ in $(seq 100); do
    [ "$(metric mdlsafe_binlog_lag_bytes)" = 0 ] && break
    sleep 0.2
done
kill -TERM "$ARCH_PID"
wait "$ARCH_PID" || die "the archiver failed: $(tail -3 "$WORK/archiver.log")"
ARCH_PID=""
CPU_PCT=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v d="$DUR" 'BEGIN { printf "%.1f", (b - a) / hz / d * 100 }')
read -r LAG_B_MAX LAG_B_MEAN LAG_S_MAX < <(awk -F'\t' '$1 != "" { n++; s += $1; if ($1 > m) m = $1; if ($2 > ms) ms = $2 }
    END { printf "%d %.0f %.2f\n", m, n ? s / n : 0, ms }' "$WORK/lag.tsv")
ARCH_BYTES=$(du -cb "$WORK"/archive/mariadb-bin.* | tail -1 | cut -f1)
"$MDLSAFE" verify "$WORK/archive" >&2

# The replay: the same events both ways, each after a plain restore under a new name.
LAST_GTID=$(SQL "SELECT @@gtid_binlog_pos")
read -r BFILE BPOS < <(jq -r '.consistency_point | "\(.binlog_file) \(.binlog_position)"' "$WORK/backup/manifest.json")
mapfile -t FILES < <(cd "$WORK/archive" && ls mariadb-bin.* | sort | awk -v f="$BFILE" '$0 >= f')
LAST=${FILES[-1]}
STOP=$(stat -c %s "$WORK/archive/$LAST")
EVENTS=$(cd "$WORK/archive" && mariadb-binlog --start-position="$BPOS" --stop-position="$STOP" --database=sbtest \
    "${FILES[@]}" | grep -c '^# at ' || true)
REPLAY_BYTES=$(( $(cd "$WORK/archive" && cat "${FILES[@]}" | wc -c) - BPOS ))

say "restore --until-gtid $LAST_GTID (mdlsafe)"
t0=$EPOCHREALTIME
"$MDLSAFE" restore --defaults-file="$CNF" "$WORK/backup" --rename sbtest:r_mdlsafe \
    --binlog-archive "$WORK/archive" --until-gtid "$LAST_GTID" 2>"$WORK/restore1.log"
t1=$EPOCHREALTIME
REPLAY1=$(sed -n 's/.*replayed .* in \([0-9.]*\) s$/\1/p' "$WORK/restore1.log")
grep 'replayed' "$WORK/restore1.log" >&2 || die "no replay line in the restore's output: $(tail -3 "$WORK/restore1.log")"
say "mdlsafe: restore and replay $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s, of which the replay $REPLAY1 s"

say "restore, then mariadb-binlog | mariadb by hand"
"$MDLSAFE" restore --defaults-file="$CNF" "$WORK/backup" --rename sbtest:r_hand 2>/dev/null
t2=$EPOCHREALTIME
(cd "$WORK/archive" && mariadb-binlog --start-position="$BPOS" --stop-position="$STOP" --database=sbtest \
    --rewrite-db='sbtest->r_hand' "${FILES[@]}" | mariadb --defaults-file="$CNF" --binary-mode)
t3=$EPOCHREALTIME
REPLAY2=$(awk -v a="$t2" -v b="$t3" 'BEGIN { printf "%.2f", b - a }')
say "by hand: the replay $REPLAY2 s"

for t in 1 2 3 4; do
    a=$(SQL "CHECKSUM TABLE sbtest.sbtest$t" | cut -f2)
    b=$(SQL "CHECKSUM TABLE r_mdlsafe.sbtest$t" | cut -f2)
    c=$(SQL "CHECKSUM TABLE r_hand.sbtest$t" | cut -f2)
    [ "$a" = "$b" ] && [ "$a" = "$c" ] || die "sbtest$t differs after the replay: source $a, mdlsafe $b, by hand $c"
done
say "all 4 tables identical to the source after both replays"

rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
mbs() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", (s > 0 ? n / s / 1e6 : 0) }'; }
cat <<EOT
MariaDB $(SQL "SELECT VERSION()"), $(nproc) CPUs, sysbench oltp_write_only 4 x $ROWS rows, $THREADS threads, $DUR s ($TPS tps)

| archiver under load | value |
|---|---|
| binlog archived | $((ARCH_BYTES / 1000000)) MB |
| archiver CPU | $CPU_PCT % of one core |
| lag, bytes (mean / max of 1 s samples) | $LAG_B_MEAN / $LAG_B_MAX |
| lag, seconds (max) | $LAG_S_MAX |

| replay of $EVENTS events, $((REPLAY_BYTES / 1000000)) MB of binlog | seconds | events/s | MB/s |
|---|---|---|---|
| mdlsafe restore --until-gtid (replay part) | $REPLAY1 | $(rate "$EVENTS" "$REPLAY1") | $(mbs "$REPLAY_BYTES" "$REPLAY1") |
| mariadb-binlog \\| mariadb by hand | $REPLAY2 | $(rate "$EVENTS" "$REPLAY2") | $(mbs "$REPLAY_BYTES" "$REPLAY2") |
EOT
