#!/usr/bin/env bash
# mdlsafe benchmark: backup wall time, peak memory and output size against
# mydumper and mariadb-dump, the application stall each tool causes when an
# ALTER arrives during the backup, restore wall time, CPU and memory against
# myloader and the mariadb client, and the application stall a schema change
# behind an idle transaction causes with plain ALTER, pt-online-schema-change
# and mdlsafe ddl. See docs/benchmarks.md.
#
#   bash bench/run.sh [BUILD_DIR]        (make bench: BUILD_DIR=build)
#
# Environment (all optional):
#   BENCH_ONLY=all            all, backup (timed backups + stall), restore (restore runs only),
#                             ddl (schema change behind an idle transaction only) or physical
#                             (bench/physical.sh: mdlsafe backup --physical against logical,
#                             mariadb-backup and cp, in its own sandbox; `all` runs it last)
#                             or online (bench/online_ddl.sh: ddl --online against plain
#                             ALTER and pt-online-schema-change, own sandbox; `all` runs it last)
#   BENCH_RUNS=3              timed runs per configuration (median reported), backup and restore
#   BENCH_STALL_RUNS=5        stall runs per tool and table size (worst reported)
#   BENCH_TABLES=8            sysbench tables
#   BENCH_TABLE_SIZE=250000   rows per table
#   BENCH_TOOL_TIMEOUT=900    seconds before any single tool run is killed
#   BENCH_STALL_BIG_ROWS=1500000  sbtest1's size for the second set of stall runs
#                             (no second set when not above BENCH_TABLE_SIZE)
#   BENCH_DDL_RUNS=3          DDL runs per tool (median and max reported)
#   BENCH_DDL_ROWS=100000     rows of the DDL table bench_ddl.t
#   BENCH_DDL_IDLE_S=10       how long the idle transaction stays open in each DDL run
#   BENCH_QUIET_WAIT=120      before each run, wait up to this long for other processes to go quiet
#   BENCH_KEEP_SANDBOX=1      stop the server at the end but keep its directory
#   BENCH_RESULTS_DIR=bench/results  where latest.md, the TSVs and logs/ go
#   (BENCH_ONLY=restore leaves latest-runs.tsv and latest-stall.tsv alone and
#   writes latest.md with the restore section only; BENCH_ONLY=ddl leaves the
#   other TSVs and logs alone and appends its section to latest.md, replacing
#   the DDL section of an earlier run)
#   SANDBOX_DIR, SANDBOX_PORT, SANDBOX_BUFFER_POOL  (defaults: <repo>/.sandbox-bench, 23376, 1G)
#
# Starts its own private sandbox server (tests/sandbox/start.sh; unix socket and
# 127.0.0.1 only) and stops and wipes it on exit, even on failure or Ctrl-C.
# Results: bench/results/latest.md (tables ready for docs/benchmarks.md), plus per-run
# details in bench/results/latest-runs.tsv and logs in bench/results/logs/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"

BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
RUNS=${BENCH_RUNS:-3}
STALL_RUNS=${BENCH_STALL_RUNS:-5}
TABLES=${BENCH_TABLES:-8}
TABLE_SIZE=${BENCH_TABLE_SIZE:-250000}
TOOL_TIMEOUT=${BENCH_TOOL_TIMEOUT:-900}
STALL_BIG_ROWS=${BENCH_STALL_BIG_ROWS:-1500000}
QUIET_WAIT=${BENCH_QUIET_WAIT:-120}
DDL_RUNS=${BENCH_DDL_RUNS:-3}
DDL_ROWS=${BENCH_DDL_ROWS:-100000}
DDL_IDLE_S=${BENCH_DDL_IDLE_S:-10}
ONLY=${BENCH_ONLY:-all}
DO_PHYSICAL=0 DO_ONLINE=0
case $ONLY in
    all) DO_BACKUP=1 DO_RESTORE=1 DO_DDL=1 DO_PHYSICAL=1 DO_ONLINE=1 ;;
    backup) DO_BACKUP=1 DO_RESTORE=0 DO_DDL=0 ;;
    restore) DO_BACKUP=0 DO_RESTORE=1 DO_DDL=0 ;;
    ddl) DO_BACKUP=0 DO_RESTORE=0 DO_DDL=1 ;;
    # Its own script, sandbox and results (bench/results/physical.md); nothing here is needed.
    physical) exec bash "$ROOT/bench/physical.sh" "$BUILD" ;;
    online) exec bash "$ROOT/bench/online_ddl.sh" "$BUILD" ;;
    *) echo "bench: BENCH_ONLY must be all, backup, restore, ddl, physical or online, got '$ONLY'" >&2; exit 2 ;;
esac
for v in RUNS STALL_RUNS TABLES TABLE_SIZE TOOL_TIMEOUT DDL_RUNS DDL_ROWS DDL_IDLE_S; do
    case ${!v} in '' | *[!0-9]* | 0) echo "bench: $v must be a positive integer, got '${!v}'" >&2; exit 2 ;; esac
done
case $STALL_BIG_ROWS in '' | *[!0-9]*) echo "bench: BENCH_STALL_BIG_ROWS must be a number, got '$STALL_BIG_ROWS'" >&2; exit 2 ;; esac
case $QUIET_WAIT in '' | *[!0-9]*) echo "bench: BENCH_QUIET_WAIT must be a number of seconds, got '$QUIET_WAIT'" >&2; exit 2 ;; esac

export SANDBOX_DIR=${SANDBOX_DIR:-$ROOT/.sandbox-bench}
export SANDBOX_PORT=${SANDBOX_PORT:-23376}
export SANDBOX_BUFFER_POOL=${SANDBOX_BUFFER_POOL:-1G}
# shellcheck source=tests/sandbox/env.sh
. "$ROOT/tests/sandbox/env.sh"
CNF=$SANDBOX_CNF

RESULTS=${BENCH_RESULTS_DIR:-$ROOT/bench/results}
LOGS=$RESULTS/logs
WORK=$SANDBOX_DIR/bench # dumps and scratch files; wiped with the sandbox
RUNS_TSV=$RESULTS/latest-runs.tsv
STALL_TSV=$RESULTS/latest-stall.tsv
RESTORE_TSV=$RESULTS/latest-restore.tsv
DDL_TSV=$RESULTS/latest-ddl.tsv
OUT_MD=$RESULTS/latest.md

say() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

### Tools
NEED_TOOLS="mariadb timeout"
if [ "$DO_BACKUP" = 1 ] || [ "$DO_RESTORE" = 1 ]; then NEED_TOOLS="$NEED_TOOLS sysbench mydumper myloader mariadb-dump zstd"; fi
if [ "$DO_DDL" = 1 ]; then NEED_TOOLS="$NEED_TOOLS pt-online-schema-change"; fi
for t in $NEED_TOOLS; do
    command -v "$t" >/dev/null 2>&1 || die "$t not found: run 'bash scripts/install-deps.sh --bench' (or make bench)"
done
[ -x /usr/bin/time ] || die "/usr/bin/time not found: run 'bash scripts/install-deps.sh --bench' (package time)"
[ -x "$BUILD/mdlsafe" ] || die "$BUILD/mdlsafe not found: run 'make build'"
if [ ! -x "$BUILD/bench_probe" ]; then
    say "building bench_probe in $BUILD"
    cmake --build "$BUILD" --target bench_probe >/dev/null || die "cannot build bench_probe"
fi

### Cleanup: everything we start stops when we stop
BG_PIDS=()
POLL_PID=""
cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    for p in ${BG_PIDS[@]+"${BG_PIDS[@]}"} $POLL_PID; do
        [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true
    done
    if [ "${BENCH_KEEP_SANDBOX:-0}" = 1 ]; then
        bash "$ROOT/tests/sandbox/stop.sh" >&2 || true
    else
        bash "$ROOT/tests/sandbox/stop.sh" --wipe >&2 || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

### Start the sandbox
mkdir -p "$LOGS"
if [ "$ONLY" = ddl ]; then
    rm -f "$LOGS"/ddl-* 2>/dev/null || true # the other sections' logs stay with their results
else
    rm -f "$LOGS"/*.log "$LOGS"/*.err "$LOGS"/*.json "$LOGS"/*.out 2>/dev/null || true
fi
say "starting sandbox in $SANDBOX_DIR (port $SANDBOX_PORT, buffer pool $SANDBOX_BUFFER_POOL)"
bash "$ROOT/tests/sandbox/start.sh" >&2
rm -rf -- "$WORK"
mkdir -p "$WORK/bin"
# Private copies: a rebuild of $BUILD during the run changes nothing here.
cp "$BUILD/mdlsafe" "$WORK/bin/mdlsafe"
cp "$BUILD/bench_probe" "$WORK/bin/bench_probe"
MDLSAFE=$WORK/bin/mdlsafe
PROBE=$WORK/bin/bench_probe

sql() { mariadb --defaults-file="$CNF" -N -B -e "$1"; }
now() { date +%s.%N; }
SERVER_PID=$(tr -dc '0-9' <"$SANDBOX_PIDFILE")
CLK_TCK=$(getconf CLK_TCK)
server_cpu() { awk -v hz="$CLK_TCK" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/$SERVER_PID/stat"; }
# CPU seconds used by the whole machine (all CPUs), to spot other load.
machine_cpu() { awk -v hz="$CLK_TCK" '/^cpu / { printf "%.2f\n", ($2 + $3 + $4 + $7 + $8) / hz; exit }' /proc/stat; }

### Machine facts
MARIADB_VERSION=$(sql 'SELECT VERSION()')
MCLIENT_VERSION=$(mariadb --version | head -n1 | tr -s ' ')
if [ "$DO_BACKUP" = 1 ] || [ "$DO_RESTORE" = 1 ]; then
    MYDUMPER_VERSION=$(mydumper --version 2>&1 | head -n1)
    MYLOADER_VERSION=$(myloader --version 2>&1 | head -n1)
    MDUMP_VERSION=$(mariadb-dump --version | head -n1 | tr -s ' ')
    ZSTD_VERSION=$(zstd --version | head -n1 | tr -d '*' | sed 's/^ *//; s/ *$//; s/, by .*//')
    SYSBENCH_VERSION=$(sysbench --version | head -n1)
fi
if [ "$DO_DDL" = 1 ]; then
    PTOSC_VERSION=$(pt-online-schema-change --version 2>&1 | head -n1)
fi
MDLSAFE_VERSION=$("$MDLSAFE" --version | head -n1)
GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
if [ -n "$(git -C "$ROOT" status --porcelain -- src 2>/dev/null)" ]; then GIT_REV="$GIT_REV + uncommitted changes in src/"; fi
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
NPROC=$(nproc)
MEM=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
KERNEL=$(uname -r)
FS=$(df -hT "$SANDBOX_DIR" | awk 'NR == 2 { print $2 " on " $1 }')
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
SERVER_SETTINGS=$(sql "SELECT CONCAT('log_bin=', IF(@@log_bin, 'ON', 'OFF'), ', binlog_format=', @@binlog_format, ', sync_binlog=', @@sync_binlog, ', innodb_flush_log_at_trx_commit=', @@innodb_flush_log_at_trx_commit, ', innodb_log_file_size=', @@innodb_log_file_size DIV 1048576, 'M, innodb_doublewrite=', @@innodb_doublewrite)")

### Dataset (for the backup and restore sections; the DDL section makes its own table)
dataset() {
    say "preparing sysbench dataset: $TABLES tables x $TABLE_SIZE rows"
    sql 'DROP DATABASE IF EXISTS sbtest; CREATE DATABASE sbtest'
    threads=$((NPROC < TABLES ? NPROC : TABLES))
    sysbench oltp_read_write --db-driver=mysql --mysql-socket="$SANDBOX_SOCKET" --mysql-user=root \
        --mysql-password="$SANDBOX_ROOT_PASSWORD" --mysql-db=sbtest --tables="$TABLES" \
        --table-size="$TABLE_SIZE" --threads="$threads" prepare >"$LOGS/sysbench-prepare.log" 2>&1 ||
        { tail -n 20 "$LOGS/sysbench-prepare.log" >&2; die "sysbench prepare failed"; }
    say "warming the buffer pool"
    for ((t = 1; t <= TABLES; t++)); do
        sql "SELECT COUNT(*), SUM(LENGTH(c)), SUM(LENGTH(pad)) FROM sbtest.sbtest$t" >/dev/null
        sql "ANALYZE TABLE sbtest.sbtest$t" >/dev/null
    done
    read -r DATA_B INDEX_B ROWS_EST <<<"$(sql "SELECT SUM(data_length), SUM(index_length), SUM(table_rows) FROM information_schema.tables WHERE table_schema = 'sbtest'")"
    DATASET_B=$((DATA_B + INDEX_B))
    DATASET_MIB=$(awk -v b="$DATASET_B" 'BEGIN { printf "%.1f", b / 1048576 }')
    BP_PAGES=$(sql "SELECT COUNT(*) FROM information_schema.innodb_buffer_page WHERE table_name LIKE '\`sbtest\`.%'" 2>/dev/null || echo '?')
    BINLOG_SIZE=$(sql 'SHOW BINARY LOGS' | awk 'END { printf "%s (%.0f MiB)", $1, $2 / 1048576 }')
    say "dataset: $DATASET_MIB MiB (data $((DATA_B / 1048576)) MiB + secondary index $((INDEX_B / 1048576)) MiB), ~$ROWS_EST rows (estimate), $BP_PAGES pages in the buffer pool; current binlog $BINLOG_SIZE"
}
if [ "$DO_BACKUP" = 1 ] || [ "$DO_RESTORE" = 1 ]; then dataset; fi

# Waits (at most BENCH_QUIET_WAIT s) until other processes use less than 10 %
# of one CPU over a 1 s window, so a run does not share the CPUs with
# something else. Prints "busy" when it gave up waiting.
wait_quiet() {
    local k m0 m1 c0 c1 other
    for ((k = 0; k < QUIET_WAIT; k++)); do
        m0=$(machine_cpu); c0=$(server_cpu)
        sleep 1
        m1=$(machine_cpu); c1=$(server_cpu)
        other=$(awk -v a="$m0" -v b="$m1" -v c="$c0" -v d="$c1" 'BEGIN { printf "%d", ((b - a) - (d - c)) * 100 }')
        if [ "$other" -lt 10 ]; then return 0; fi
    done
    echo busy
}

### The configurations
# run_tool CONFIG OUTDIR TIMEFILE: runs one backup under /usr/bin/time;
# TIMEFILE gets "elapsed maxrss_kb user_s sys_s" (a pipeline: RSS and CPU summed).
TIMEFMT='%e %M %U %S'
T() { timeout -s TERM "$TOOL_TIMEOUT" /usr/bin/time -o "$1" -f "$TIMEFMT" "${@:2}"; }
run_tool() {
    local cfg=$1 out=$2 tf=$3 rc=0
    case $cfg in
        mdlsafe-zstd) T "$tf" "$MDLSAFE" backup --defaults-file "$CNF" -B sbtest -j 2 -o "$out" --json ;;
        mdlsafe-zstd-fast) T "$tf" "$MDLSAFE" backup --defaults-file "$CNF" -B sbtest -j 2 --compress-level -10 -o "$out" --json ;;
        mdlsafe-none) T "$tf" "$MDLSAFE" backup --defaults-file "$CNF" -B sbtest -j 2 --compress none -o "$out" --json ;;
        mydumper) T "$tf" mydumper --defaults-file "$CNF" -B sbtest -t 2 -v 2 -o "$out" ;;
        mydumper-gz) T "$tf" mydumper --defaults-file "$CNF" -B sbtest -t 2 -c -v 2 -o "$out" ;;
        mariadb-dump)
            mkdir -p "$out"
            T "$tf" mariadb-dump --defaults-file="$CNF" --single-transaction --databases sbtest >"$out/sbtest.sql"
            ;;
        mariadb-dump-zstd)
            mkdir -p "$out"
            T "$tf.a" mariadb-dump --defaults-file="$CNF" --single-transaction --databases sbtest |
                T "$tf.b" zstd -1 -q >"$out/sbtest.sql.zst" || rc=$?
            if [ -s "$tf.a" ] && [ -s "$tf.b" ]; then
                awk '{ e = $1 > e ? $1 : e; m += $2; u += $3; s += $4 } END { print e, m, u, s }' "$tf.a" "$tf.b" >"$tf"
            fi
            return "$rc"
            ;;
        *) die "unknown configuration $cfg" ;;
    esac
}
label_tool() {
    case $1 in
        mdlsafe-zstd) echo 'mdlsafe backup -j 2' ;;
        mdlsafe-zstd-fast) echo 'mdlsafe backup -j 2 --compress-level -10' ;;
        mdlsafe-none) echo 'mdlsafe backup -j 2 --compress none' ;;
        mydumper) echo 'mydumper -t 2' ;;
        mydumper-gz) echo 'mydumper -t 2 -c' ;;
        mariadb-dump) echo 'mariadb-dump --single-transaction > file' ;;
        mariadb-dump-zstd) echo 'mariadb-dump --single-transaction \| zstd -1' ;;
        none) echo '(no backup running)' ;;
    esac
}
label_comp() {
    case $1 in
        mdlsafe-zstd) echo 'zstd (fast level -5, literals coded), per file' ;;
        mdlsafe-zstd-fast) echo 'zstd (fast level -10, literals coded), per file' ;;
        mydumper-gz) echo 'gzip (zlib, default level), per file' ;;
        mariadb-dump-zstd) echo 'zstd -1, one stream' ;;
        *) echo 'none' ;;
    esac
}
CONFIGS=(mdlsafe-zstd mdlsafe-zstd-fast mdlsafe-none mydumper mydumper-gz mariadb-dump mariadb-dump-zstd)

### 1. Wall time, peak memory, output size
TIMED_RUNS=$RUNS
[ "${BENCH_SKIP_TIMED:-0}" = 1 ] && TIMED_RUNS=0 # for debugging the stall part
if [ "$DO_BACKUP" = 1 ]; then
    printf 'config\trun\trc\twall_s\twall_plus_fsync_s\tpeak_rss_kib\ttool_cpu_s\tserver_cpu_s\tother_cpu_s\toutput_bytes\tnote\n' >"$RUNS_TSV"
else
    TIMED_RUNS=0
fi
for ((i = 1; i <= TIMED_RUNS; i++)); do
    # Round robin: drift (other load, page cache) touches every tool alike.
    for cfg in "${CONFIGS[@]}"; do
        out=$WORK/out-$cfg
        tf=$WORK/time-$cfg
        log=$LOGS/run-$cfg-$i.log
        rm -rf -- "$out" "$tf" "$tf.a" "$tf.b"
        sync
        busy=$(wait_quiet)
        c0=$(server_cpu); m0=$(machine_cpu); t0=$(now)
        rc=0
        run_tool "$cfg" "$out" "$tf" >"$log" 2>&1 || rc=$?
        t1=$(now); c1=$(server_cpu); m1=$(machine_cpu)
        # The others do not fsync what they wrote; mdlsafe does. Flush it, timed.
        if [ -d "$out" ]; then find "$out" -type f -exec sync -- {} + 2>/dev/null || true; fi
        t2=$(now)
        read -r _el rss u s <"$tf" 2>/dev/null || { rss=0; u=0; s=0; }
        bytes=$(du -sb "$out" 2>/dev/null | cut -f1 || echo 0)
        note=""
        case $cfg in mdlsafe-*)
            note=$(tr -d ' \n' <"$log" | grep -o '"commit_block_ms":[0-9.]*' | head -n1 | cut -d: -f2 || true)
            [ -n "$note" ] && note="commit_block_ms=$(printf '%.0f' "$note")"
            ;;
        esac
        [ -n "$busy" ] && note="${note:+$note }machine-busy"
        read -r wall wsync tcpu scpu ocpu <<<"$(awk -v t0="$t0" -v t1="$t1" -v t2="$t2" -v u="$u" -v s="$s" \
            -v c0="$c0" -v c1="$c1" -v m0="$m0" -v m1="$m1" 'BEGIN {
                o = (m1 - m0) - (u + s) - (c1 - c0); if (o < 0) o = 0;
                printf "%.3f %.3f %.2f %.2f %.2f\n", t1 - t0, t2 - t0, u + s, c1 - c0, o }')"
        printf '%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cfg" "$i" "$rc" "$wall" "$wsync" "$rss" \
            "$tcpu" "$scpu" "$ocpu" "$bytes" "$note" >>"$RUNS_TSV"
        if [ "$rc" -ne 0 ]; then
            say "run $i $cfg FAILED (exit $rc); log: $log"
            tail -n 5 "$log" >&2 || true
        else
            say "run $i $cfg: ${wall}s (+fsync ${wsync}s), peak RSS $((rss / 1024)) MiB, output $((bytes / 1048576)) MiB, tool CPU ${tcpu}s, server CPU ${scpu}s, other CPU ${ocpu}s ${note}"
        fi
        rm -rf -- "$out"
    done
done

### 2. Restore: the same data back into a fresh database
# Each tool restores its own backup of sbtest (made here, untimed, from the
# same data as the timed backups) into sbtest_r, dropped before every run.
# Correctness: CHECKSUM TABLE of every restored table must equal the original's.
RESTORE_CONFIGS=(mdlsafe mdlsafe-nobinlog myloader myloader-binlog mariadb)
RDB=sbtest_r
RSRC=$WORK/restore-src
RESTORE_BAD=0
run_restore() { # CONFIG TIMEFILE
    local cfg=$1 tf=$2
    case $cfg in
        mdlsafe) T "$tf" "$MDLSAFE" restore "$RSRC/mdlsafe" --defaults-file "$CNF" -j 2 --rename "sbtest:$RDB" --json ;;
        mdlsafe-nobinlog) T "$tf" "$MDLSAFE" restore "$RSRC/mdlsafe" --defaults-file "$CNF" -j 2 --rename "sbtest:$RDB" --no-binlog --json ;;
        myloader) T "$tf" myloader --defaults-file "$CNF" -d "$RSRC/mydumper" -B "$RDB" -t 2 -v 2 ;;
        myloader-binlog) T "$tf" myloader --defaults-file "$CNF" -d "$RSRC/mydumper" -B "$RDB" -t 2 -e -v 2 ;;
        mariadb) T "$tf" mariadb --defaults-file="$CNF" "$RDB" <"$RSRC/mariadb-dump/sbtest.sql" ;;
        *) die "unknown restore configuration $cfg" ;;
    esac
}
label_restore() {
    case $1 in
        mdlsafe) echo 'mdlsafe restore -j 2' ;;
        mdlsafe-nobinlog) echo 'mdlsafe restore -j 2 --no-binlog' ;;
        myloader) echo 'myloader -t 2' ;;
        myloader-binlog) echo 'myloader -t 2 -e' ;;
        mariadb) echo 'mariadb sbtest_r < dump.sql' ;;
    esac
}
label_restore_binlog() {
    case $1 in
        mdlsafe) echo 'on' ;;
        mdlsafe-nobinlog) echo 'off (`--no-binlog`)' ;;
        myloader) echo 'off (myloader default)' ;;
        myloader-binlog) echo 'on (`-e`)' ;;
        mariadb) echo 'on' ;;
    esac
}
restore_src() { # CONFIG: which backup it reads
    case $1 in
        mdlsafe*) echo mdlsafe ;;
        myloader*) echo mydumper ;;
        mariadb) echo mariadb-dump ;;
    esac
}
# "TABLE CHECKSUM" per line, sorted, for every base table of DB
checksums() {
    local list
    list=$(sql "SELECT IFNULL(GROUP_CONCAT(CONCAT('\`', table_schema, '\`.\`', table_name, '\`') ORDER BY table_name), '') FROM information_schema.tables WHERE table_schema = '$1' AND table_type = 'BASE TABLE'")
    [ -n "$list" ] || return 0
    sql "CHECKSUM TABLE $list EXTENDED" | awk -F'\t' '{ sub(/^[^.]*\./, "", $1); print $1, $2 }' | sort
}
binlog_bytes() { sql 'SHOW BINARY LOGS' | awk '{ s += $2 } END { printf "%.0f\n", s }'; }
# Before each run: no dirty pages left over from the previous one (the page
# cleaner is told to flush everything, then put back as it was), so a run
# does not pay for its predecessor's writes. Prints the dirty pages left if
# it gave up after BENCH_QUIET_WAIT s.
flush_dirty() {
    local k d=0 pct lwm
    read -r pct lwm <<<"$(sql 'SELECT @@innodb_max_dirty_pages_pct, @@innodb_max_dirty_pages_pct_lwm')"
    sql 'SET GLOBAL innodb_max_dirty_pages_pct_lwm = 0, innodb_max_dirty_pages_pct = 0'
    for ((k = 0; k < QUIET_WAIT * 2; k++)); do
        d=$(sql "SELECT variable_value FROM information_schema.global_status WHERE variable_name = 'INNODB_BUFFER_POOL_PAGES_DIRTY'")
        [ "$d" -le 0 ] && break
        sleep 0.5
    done
    sql "SET GLOBAL innodb_max_dirty_pages_pct = $pct, innodb_max_dirty_pages_pct_lwm = $lwm"
    [ "$d" -le 0 ] || echo "dirty-pages=$d"
}

restore_section() {
    local cfg i tf log rc busy dirty c0 c1 m0 m1 t0 t1 b0 b1 rss u s note ck wall tcpu scpu ocpu
    say "restore: making the backups to restore (untimed): mdlsafe backup -j 2, mydumper -t 2, mariadb-dump sbtest"
    rm -rf -- "$RSRC"
    mkdir -p "$RSRC/mariadb-dump"
    "$MDLSAFE" backup --defaults-file "$CNF" -B sbtest -j 2 -o "$RSRC/mdlsafe" --json >"$LOGS/restore-src-mdlsafe.log" 2>&1 ||
        { tail -n 5 "$LOGS/restore-src-mdlsafe.log" >&2; die "mdlsafe backup for the restore runs failed"; }
    mydumper --defaults-file "$CNF" -B sbtest -t 2 -v 2 -o "$RSRC/mydumper" >"$LOGS/restore-src-mydumper.log" 2>&1 ||
        { tail -n 5 "$LOGS/restore-src-mydumper.log" >&2; die "mydumper for the restore runs failed"; }
    # Without --databases: no CREATE DATABASE / USE, so the file loads into whatever database the client names.
    mariadb-dump --defaults-file="$CNF" --single-transaction sbtest >"$RSRC/mariadb-dump/sbtest.sql" 2>"$LOGS/restore-src-mariadb-dump.log" ||
        { tail -n 5 "$LOGS/restore-src-mariadb-dump.log" >&2; die "mariadb-dump for the restore runs failed"; }
    ! grep -q -m1 -E '^(USE|CREATE DATABASE) ' "$RSRC/mariadb-dump/sbtest.sql" || die "the mariadb-dump file names a database; it would not load into $RDB"
    SRC_BYTES_mdlsafe=$(du -sb "$RSRC/mdlsafe" | cut -f1)
    SRC_BYTES_mydumper=$(du -sb "$RSRC/mydumper" | cut -f1)
    SRC_BYTES_mariadb_dump=$(du -sb "$RSRC/mariadb-dump" | cut -f1)

    say "restore: checksumming the original tables"
    ORIG_CK=$(checksums sbtest)
    [ "$(wc -l <<<"$ORIG_CK")" -eq "$TABLES" ] || die "CHECKSUM TABLE on sbtest gave $(wc -l <<<"$ORIG_CK") tables, expected $TABLES"
    printf '%s\n' "$ORIG_CK" >"$LOGS/restore-checksums-sbtest.txt"

    printf 'config\trun\trc\twall_s\tpeak_rss_kib\ttool_cpu_s\tserver_cpu_s\tother_cpu_s\tbinlog_bytes\tchecksums\tnote\n' >"$RESTORE_TSV"
    for ((i = 1; i <= RUNS; i++)); do
        for cfg in "${RESTORE_CONFIGS[@]}"; do
            tf=$WORK/time-restore-$cfg
            log=$LOGS/restore-$cfg-$i.log
            rm -f -- "$tf" "$RSRC/mdlsafe.restore-journal"
            sql "DROP DATABASE IF EXISTS $RDB"
            # mdlsafe and myloader create the database themselves; the mariadb client needs it to exist.
            [ "$cfg" = mariadb ] && sql "CREATE DATABASE $RDB"
            dirty=$(flush_dirty)
            sync
            busy=$(wait_quiet)
            b0=$(binlog_bytes)
            c0=$(server_cpu); m0=$(machine_cpu); t0=$(now)
            rc=0
            run_restore "$cfg" "$tf" >"$log" 2>&1 || rc=$?
            t1=$(now); c1=$(server_cpu); m1=$(machine_cpu)
            b1=$(binlog_bytes)
            read -r _el rss u s <"$tf" 2>/dev/null || { rss=0; u=0; s=0; }
            read -r wall tcpu scpu ocpu <<<"$(awk -v t0="$t0" -v t1="$t1" -v u="$u" -v s="$s" \
                -v c0="$c0" -v c1="$c1" -v m0="$m0" -v m1="$m1" 'BEGIN {
                    o = (m1 - m0) - (u + s) - (c1 - c0); if (o < 0) o = 0;
                    printf "%.3f %.2f %.2f %.2f\n", t1 - t0, u + s, c1 - c0, o }')"
            ck=ok
            got=$(checksums "$RDB") || got="(CHECKSUM TABLE failed)"
            if [ "$got" != "$ORIG_CK" ]; then
                ck=MISMATCH
                RESTORE_BAD=$((RESTORE_BAD + 1))
                printf '%s\n' "$got" >"$LOGS/restore-checksums-$cfg-$i.txt"
            fi
            note=""
            case $cfg in mdlsafe*)
                note=$(tr -d ' \n' <"$log" | grep -o '"lock_retries":[0-9]*' | head -n1 | tr -d '"' | tr : = || true)
                ;;
            esac
            [ -n "$dirty" ] && note="${note:+$note }$dirty"
            [ -n "$busy" ] && note="${note:+$note }machine-busy"
            printf '%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cfg" "$i" "$rc" "$wall" "$rss" "$tcpu" "$scpu" "$ocpu" \
                "$((b1 - b0))" "$ck" "$note" >>"$RESTORE_TSV"
            if [ "$rc" -ne 0 ]; then
                say "restore $i $cfg FAILED (exit $rc); log: $log"
                tail -n 5 "$log" >&2 || true
            else
                say "restore $i $cfg: ${wall}s, peak RSS $((rss / 1024)) MiB, tool CPU ${tcpu}s, server CPU ${scpu}s, other CPU ${ocpu}s, binlog +$(((b1 - b0) / 1048576)) MiB, checksums $ck ${note}"
            fi
            if [ "$ck" != ok ]; then
                say "!!!!!!!! restore $i $cfg: CHECKSUM TABLE of $RDB differs from sbtest !!!!!!!!"
                diff <(printf '%s\n' "$ORIG_CK") <(printf '%s\n' "$got") | sed 's/^/bench:   /' >&2 || true
            fi
        done
    done
    sql "DROP DATABASE IF EXISTS $RDB"
    rm -rf -- "$RSRC" "$RSRC.restore-journal" "$RSRC/mdlsafe.restore-journal"
}
if [ "$DO_RESTORE" = 1 ]; then restore_section; fi

### 3. Stall: an ALTER on sbtest1 while the tool reads it
# The ALTER is sent the moment the processlist shows the tool's SELECT on
# sbtest1 running (so the tool holds the table's metadata lock): for every
# tool that is the worst moment. A probe runs point SELECT/UPDATE on sbtest1
# from 1 s before the tool starts until 1 s after the ALTER and the tool end.
POLL_SQL="SELECT IFNULL((SELECT CONCAT(ID, ' ', USER, ' ', REPLACE(LEFT(INFO, 100), '\n', ' '))
  FROM information_schema.PROCESSLIST
  WHERE COMMAND = 'Query' AND ID <> CONNECTION_ID()
    AND INFO LIKE '%SELECT %FROM %\`sbtest1\`%' AND INFO NOT LIKE '%information_schema%' AND INFO NOT LIKE '%LIMIT 0%'
  LIMIT 1), '-');"
POLL_SQL=${POLL_SQL//$'\n'/ }
ALTER_SQL="SET @t0 = NOW(6); SET STATEMENT max_statement_time = 300, lock_wait_timeout = 300 FOR ALTER TABLE sbtest.sbtest1 ADD COLUMN bench_x INT, ALGORITHM = INSTANT; SELECT TIMESTAMPDIFF(MICROSECOND, @t0, NOW(6)) / 1e6;"
PROBE_LIMIT=$((TOOL_TIMEOUT + 60))

poll_once() {
    printf '%s\n' "$POLL_SQL" >&"${POLL[1]}"
    local line=""
    read -r -t 10 line <&"${POLL[0]}" || return 1
    printf '%s\n' "$line"
}

wait_bounded() { # pid seconds: wait for a child, killing it after the limit; returns its status
    local pid=$1 limit=$2 k rc=0
    for ((k = 0; k < limit * 10; k++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "pid $pid still running after ${limit}s: killing it"
        kill -TERM "$pid" 2>/dev/null || true
        sleep 2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || rc=$?
    return "$rc"
}

jget() { # file key: a number from the probe's one-line JSON
    grep -o "\"$2\": [-0-9.]*" "$1" 2>/dev/null | head -n1 | awk '{ print $2 }'
}

stall_header() {
    printf 'scenario\tsbtest1_rows\tconfig\trun\ttool_rc\ttool_wall_s\ttool_peak_rss_kib\tcaught\tcaught_after_s\tcaught_query\talter_rc\talter_waited_s\tprobe_queries\tprobe_max_ms\tprobe_p99_ms\tprobe_p50_ms\tprobe_errors\tprobe_over_50ms\tnote\n' >"$STALL_TSV"
}
STALL_CONFIGS=(none mdlsafe-zstd mydumper mariadb-dump)

# stall_phase SCENARIO SBTEST1_ROWS: STALL_RUNS rounds over STALL_CONFIGS.
stall_phase() {
    local scen=$1 rows=$2 i cfg out tf base ready probe_pid tool_pid caught caught_q caught_after line k
    local alter_pid t_tool0 t_tool1 t_alter0 tool_rc alter_rc tool_wall alter_waited pj note yields cb busy rss
    for ((i = 1; i <= STALL_RUNS; i++)); do
        for cfg in "${STALL_CONFIGS[@]}"; do
            out=$WORK/stall-$cfg
            tf=$WORK/time-stall-$cfg
            base=$LOGS/stall-$scen-$cfg-$i
            ready=$WORK/probe-ready
            rm -rf -- "$out" "$tf" "$tf.a" "$tf.b" "$ready"
            sql 'ALTER TABLE sbtest.sbtest1 DROP COLUMN IF EXISTS bench_x' >/dev/null
            sync
            busy=$(wait_quiet)

            "$PROBE" -t sbtest.sbtest1 -n "$rows" -i 5 -s 50 -r "$ready" "$CNF" "$PROBE_LIMIT" \
                >"$base.probe.json" 2>"$base.probe.err" &
            probe_pid=$!
            BG_PIDS+=("$probe_pid")
            for ((k = 0; k < 100; k++)); do
                [ -e "$ready" ] && break
                sleep 0.1
            done
            [ -e "$ready" ] || { cat "$base.probe.err" >&2; die "the probe did not connect"; }
            sleep 1

            tool_pid=""
            t_tool0=$(now)
            if [ "$cfg" != none ]; then
                run_tool "$cfg" "$out" "$tf" >"$base.tool.log" 2>&1 &
                tool_pid=$!
                BG_PIDS+=("$tool_pid")
            fi
            caught=0 caught_q='' caught_after=''
            if [ -n "$tool_pid" ]; then
                for ((k = 0; k < (TOOL_TIMEOUT * 1000) / 20; k++)); do
                    kill -0 "$tool_pid" 2>/dev/null || break
                    line=$(poll_once) || die "processlist polling connection lost"
                    if [ "$line" != '-' ]; then
                        caught=1 caught_q=$line
                        break
                    fi
                    sleep 0.02
                done
            else
                sleep 1
                caught=1 caught_q='(nothing to wait for)'
            fi
            alter_pid=""
            t_alter0=$(now)
            if [ "$caught" = 1 ]; then
                caught_after=$(awk -v a="$t_tool0" -v b="$t_alter0" 'BEGIN { printf "%.2f", b - a }')
                mariadb --defaults-file="$CNF" -N -B -e "$ALTER_SQL" >"$base.alter.out" 2>&1 &
                alter_pid=$!
                BG_PIDS+=("$alter_pid")
            fi

            tool_rc=0
            if [ -n "$tool_pid" ]; then wait_bounded "$tool_pid" "$((TOOL_TIMEOUT + 30))" || tool_rc=$?; fi
            t_tool1=$(now)
            alter_rc=0
            if [ -n "$alter_pid" ]; then wait_bounded "$alter_pid" 330 || alter_rc=$?; fi
            sleep 1
            kill -TERM "$probe_pid" 2>/dev/null || true
            wait_bounded "$probe_pid" 30 || true
            BG_PIDS=()

            tool_wall='-' rss=''
            if [ "$cfg" != none ]; then
                tool_wall=$(awk -v a="$t_tool0" -v b="$t_tool1" 'BEGIN { printf "%.2f", b - a }')
                rss=$(awk '{ print $2 }' "$tf" 2>/dev/null || true)
            fi
            alter_waited=$(tail -n1 "$base.alter.out" 2>/dev/null | awk '/^[0-9.]+$/ { printf "%.3f", $1 }' || true)
            [ "$alter_rc" -ne 0 ] && alter_waited=''
            pj=$base.probe.json
            note=""
            case $cfg in mdlsafe-*)
                yields=$(tr -d ' \n' <"$base.tool.log" | grep -o '"yields":[0-9]*' | head -n1 | cut -d: -f2 || true)
                note="yields=${yields:-?}"
                cb=$(tr -d ' \n' <"$base.tool.log" | grep -o '"commit_block_ms":[0-9.]*' | head -n1 | cut -d: -f2 || true)
                [ -n "$cb" ] && note="$note commit_block_ms=$(printf '%.0f' "$cb")"
                ;;
            esac
            [ -n "$busy" ] && note="${note:+$note }machine-busy"
            printf '%s\t%s\t%s\t%d\t%d\t%s\t%s\t%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scen" "$rows" \
                "$cfg" "$i" "$tool_rc" "$tool_wall" "${rss:--}" "$caught" "$caught_after" "${caught_q//$'\t'/ }" \
                "$alter_rc" "$alter_waited" "$(jget "$pj" queries)" "$(jget "$pj" max_ms)" "$(jget "$pj" p99_ms)" \
                "$(jget "$pj" p50_ms)" "$(jget "$pj" errors)" "$(jget "$pj" over_slow)" "$note" >>"$STALL_TSV"
            say "stall $scen $i $cfg: tool exit $tool_rc in ${tool_wall}s; ALTER sent ${caught_after:-never}s after start (seeing: $caught_q), waited ${alter_waited:-?}s (exit $alter_rc); probe max $(jget "$pj" max_ms) ms, p99 $(jget "$pj" p99_ms) ms, errors $(jget "$pj" errors) $note"
            if [ "$tool_rc" -ne 0 ]; then
                say "stall $scen $i $cfg: the tool failed; log: $base.tool.log"
                tail -n 5 "$base.tool.log" >&2 || true
            fi
            rm -rf -- "$out"
        done
    done
}

stall_section() {
    stall_header
    # One client connection for the polling (no process per poll).
    coproc POLL { exec mariadb --defaults-file="$CNF" -N -B --unbuffered 2>&1; }
    POLL_PID=$POLL_PID
    poll_once >/dev/null || die "processlist polling connection does not answer"

    # a. sbtest1 as in the timed runs: its read is shorter than the stall budget.
    stall_phase small "$TABLE_SIZE"

    # b. sbtest1 grown so that reading it takes several times the budget: the
    #    case where mdlsafe has to step aside (and the others freeze longer).
    if [ "$STALL_BIG_ROWS" -gt "$TABLE_SIZE" ]; then
        say "growing sbtest1 to $STALL_BIG_ROWS rows for the long-read stall runs"
        sql 'ALTER TABLE sbtest.sbtest1 DROP COLUMN IF EXISTS bench_x' >/dev/null
        for ((k = 0; k < 64; k++)); do
            have=$(sql 'SELECT COUNT(*) FROM sbtest.sbtest1')
            [ "$have" -ge "$STALL_BIG_ROWS" ] && break
            sql "INSERT INTO sbtest.sbtest1 (k, c, pad) SELECT k, c, pad FROM sbtest.sbtest1 ORDER BY id LIMIT $((STALL_BIG_ROWS - have < 250000 ? STALL_BIG_ROWS - have : 250000))" ||
                die "growing sbtest1 failed"
        done
        sql 'ANALYZE TABLE sbtest.sbtest1' >/dev/null
        sql 'SELECT COUNT(*), SUM(LENGTH(c)), SUM(LENGTH(pad)) FROM sbtest.sbtest1' >/dev/null
        BIG_MIB=$(sql "SELECT ROUND((data_length + index_length) / 1048576) FROM information_schema.tables WHERE table_schema = 'sbtest' AND table_name = 'sbtest1'")
        # Rows are numbered 1..N without gaps (auto-increment), as the probe assumes.
        stall_phase big "$(sql 'SELECT MAX(id) FROM sbtest.sbtest1')"
    fi
    sql 'ALTER TABLE sbtest.sbtest1 DROP COLUMN IF EXISTS bench_x' >/dev/null || true
}
if [ "$DO_BACKUP" = 1 ]; then stall_section; fi

### 4. DDL: a schema change behind an idle transaction (seed 004)
# An application session has read bench_ddl.t in a transaction and gone idle
# for DDL_IDLE_S s. 0.5 s after it started, each tool adds an index to the
# table. A probe (one point SELECT and one point UPDATE on the table every
# 20 ms) runs from 0.5 s before the DDL starts until 0.5 s after it ends; its
# worst latency is how long the application was frozen.
DDL_DB=bench_ddl
DDL_ALTER='ADD INDEX idx_v (v)'
DDL_CONFIGS=(alter pt-osc mdlsafe)
run_ddl() { # CONFIG
    local T=(timeout -s TERM "$TOOL_TIMEOUT")
    case $1 in
        # The server's default lock_wait_timeout (86400 s): it waits as long as it takes.
        alter) "${T[@]}" mariadb --defaults-file="$CNF" -D "$DDL_DB" -e "ALTER TABLE t $DDL_ALTER" ;;
        # Defaults, as an operator would run it: for its session it sets
        # lock_wait_timeout=60 and innodb_lock_wait_timeout=1, and it retries
        # each step (create_triggers 10 tries, 1 s apart, ...).
        pt-osc) "${T[@]}" pt-online-schema-change --alter "$DDL_ALTER" "F=$CNF,D=$DDL_DB,t=t" --execute ;;
        # Defaults: --max-stall 500, --deadline 3600, nobody killed.
        mdlsafe) "${T[@]}" "$MDLSAFE" ddl --defaults-file "$CNF" -D "$DDL_DB" --json "ALTER TABLE t $DDL_ALTER" ;;
        *) die "unknown DDL configuration $1" ;;
    esac
}
label_ddl() {
    case $1 in
        alter) echo 'mariadb -e "ALTER TABLE t ADD INDEX idx_v (v)"' ;;
        pt-osc) echo 'pt-online-schema-change --alter "ADD INDEX idx_v (v)" D=bench_ddl,t=t --execute' ;;
        mdlsafe) echo 'mdlsafe ddl "ALTER TABLE t ADD INDEX idx_v (v)"' ;;
    esac
}
label_ddl_short() {
    case $1 in
        alter) echo 'plain ALTER TABLE' ;;
        pt-osc) echo 'pt-online-schema-change (defaults)' ;;
        mdlsafe) echo 'mdlsafe ddl (--max-stall 500)' ;;
    esac
}

# A fresh table for every run: pt-online-schema-change replaces it, the others
# add the index in place.
ddl_table() {
    sql "DROP DATABASE IF EXISTS $DDL_DB; CREATE DATABASE $DDL_DB" || die "cannot create database $DDL_DB"
    mariadb --defaults-file="$CNF" -N -B -D "$DDL_DB" -e "
        CREATE TABLE t (id INT UNSIGNED NOT NULL PRIMARY KEY, k INT NOT NULL, c VARCHAR(120) NOT NULL,
                        v VARCHAR(64) NOT NULL) ENGINE = InnoDB;
        INSERT INTO t SELECT seq, seq MOD 1000, CONCAT('c-', seq, '-', MD5(seq)), MD5(seq * 7) FROM seq_1_to_$DDL_ROWS;
        ANALYZE TABLE t;
        SELECT COUNT(*), SUM(LENGTH(c)), SUM(LENGTH(v)) FROM t;" >/dev/null || die "cannot fill $DDL_DB.t"
}

ddl_section() {
    local i cfg base ready k probe_pid probe_t0 fifo idle_pid idle_fd idle_id idle_cmd sfd t commit_at committed
    local ddl_pid done_f ddl_rc t_ddl0 t_ddl1 t_idle0 t_commit probe_stopped limit_us ddl_wall busy pj
    local completed note n_idx max_at attempts worst_wait lwt

    printf 'tool\trun\tddl_rc\tcompleted\tddl_wall_s\tddl_started_after_idle_s\tidle_trx_held_s\tprobe_queries\tprobe_max_ms\tprobe_max_at_s\tprobe_p99_ms\tprobe_p50_ms\tprobe_errors\tprobe_over_100ms\tnote\n' >"$DDL_TSV"
    DDL_TABLE_MIB=""
    # A file descriptor that never delivers data: read -t on it sleeps without a fork.
    exec {sfd}<> <(:)
    fifo=$WORK/ddl-idle.fifo
    done_f=$WORK/ddl-done
    for ((i = 1; i <= DDL_RUNS; i++)); do
        for cfg in "${DDL_CONFIGS[@]}"; do
            base=$LOGS/ddl-$cfg-$i
            ready=$WORK/probe-ready
            rm -f -- "$ready" "$fifo" "$done_f" "$done_f.tmp"
            ddl_table
            [ -n "$DDL_TABLE_MIB" ] || DDL_TABLE_MIB=$(sql "SELECT ROUND((data_length + index_length) / 1048576, 1) FROM information_schema.tables WHERE table_schema = '$DDL_DB' AND table_name = 't'")
            sync
            busy=$(wait_quiet)

            # 1. The application's probe: SELECT and UPDATE by turns, 10 ms apart,
            #    so one of each every 20 ms.
            "$PROBE" -t "$DDL_DB.t" -n "$DDL_ROWS" -i 10 -s 100 -r "$ready" "$CNF" "$PROBE_LIMIT" \
                >"$base.probe.json" 2>"$base.probe.err" &
            probe_pid=$!
            BG_PIDS+=("$probe_pid")
            for ((k = 0; k < 500; k++)); do
                [ -e "$ready" ] && break
                read -r -t 0.02 -u "$sfd" || true
            done
            [ -e "$ready" ] || { cat "$base.probe.err" >&2; die "the probe did not connect"; }
            probe_t0=${EPOCHREALTIME//[!0-9]/}

            # 2. The idle transaction: a mariadb client reading its statements from a
            #    FIFO whose write end we hold. Between statements it waits on the FIFO,
            #    so its session is idle ("Sleep") with the transaction open, holding
            #    its shared metadata lock on t, exactly like an application that read
            #    and went away. Closing the FIFO after COMMIT ends the client.
            mkfifo "$fifo"
            mariadb --defaults-file="$CNF" -N -B --unbuffered <"$fifo" >"$base.idle.out" 2>&1 &
            idle_pid=$!
            BG_PIDS+=("$idle_pid")
            exec {idle_fd}>"$fifo"
            (printf "START TRANSACTION; SELECT 'idle-trx-ready', CONNECTION_ID(), id FROM %s.t ORDER BY id LIMIT 1;\n" "$DDL_DB" >&"$idle_fd") 2>/dev/null ||
                die "the idle-transaction client did not start (see $base.idle.out)"
            for ((k = 0; k < 500; k++)); do
                grep -q '^idle-trx-ready' "$base.idle.out" 2>/dev/null && break
                read -r -t 0.02 -u "$sfd" || true
            done
            t_idle0=${EPOCHREALTIME//[!0-9]/}
            idle_id=$(awk '/^idle-trx-ready/ { print $2; exit }' "$base.idle.out")
            [ -n "$idle_id" ] || { cat "$base.idle.out" >&2; die "the idle transaction did not start"; }
            idle_cmd=$(sql "SELECT CONCAT(COMMAND, IF(t.trx_id IS NULL, ' no-trx', ' in-trx')) FROM information_schema.PROCESSLIST p LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID WHERE p.ID = $idle_id")

            # 3. The DDL, 0.5 s after the transaction started; a wrapper notes when it ends.
            t=${EPOCHREALTIME//[!0-9]/}
            k=$((t_idle0 + 500000 - t))
            [ "$k" -gt 0 ] && { read -r -t "$(printf '%d.%06d' $((k / 1000000)) $((k % 1000000)))" -u "$sfd" || true; }
            t_ddl0=${EPOCHREALTIME//[!0-9]/}
            (
                rc=0
                run_ddl "$cfg" >"$base.ddl.log" 2>&1 </dev/null || rc=$?
                t1=${EPOCHREALTIME//[!0-9]/}
                echo "$rc $t1" >"$done_f.tmp" && mv -f "$done_f.tmp" "$done_f"
            ) &
            ddl_pid=$!
            BG_PIDS+=("$ddl_pid")

            # 4. Commit the idle transaction DDL_IDLE_S s after it started; stop the
            #    probe 0.5 s after the DDL ended.
            commit_at=$((t_idle0 + DDL_IDLE_S * 1000000))
            limit_us=$((t_ddl0 + (TOOL_TIMEOUT + 60) * 1000000))
            committed=0 probe_stopped=0 ddl_rc='' t_ddl1='' t_commit=''
            while :; do
                t=${EPOCHREALTIME//[!0-9]/}
                if [ "$committed" = 0 ] && [ "$t" -ge "$commit_at" ]; then
                    (printf 'COMMIT;\n' >&"$idle_fd") 2>/dev/null || say "ddl $i $cfg: the idle-transaction client was gone before COMMIT"
                    exec {idle_fd}>&-
                    t_commit=$t committed=1
                fi
                if [ -z "$t_ddl1" ] && [ -e "$done_f" ]; then
                    read -r ddl_rc t_ddl1 <"$done_f"
                fi
                if [ -n "$t_ddl1" ] && [ "$probe_stopped" = 0 ] && [ "$t" -ge $((t_ddl1 + 500000)) ]; then
                    kill -TERM "$probe_pid" 2>/dev/null || true
                    probe_stopped=1
                fi
                [ "$committed" = 1 ] && [ "$probe_stopped" = 1 ] && break
                if [ "$t" -ge "$limit_us" ]; then
                    say "ddl $i $cfg: still running after $((TOOL_TIMEOUT + 60)) s: giving up on it"
                    kill -TERM "$probe_pid" 2>/dev/null || true
                    probe_stopped=1
                    [ "$committed" = 1 ] || { exec {idle_fd}>&-; committed=1; }
                    break
                fi
                read -r -t 0.01 -u "$sfd" || true
            done
            wait_bounded "$ddl_pid" 60 || true
            if [ -z "$t_ddl1" ]; then
                if [ -e "$done_f" ]; then read -r ddl_rc t_ddl1 <"$done_f"; else ddl_rc=124 t_ddl1=${EPOCHREALTIME//[!0-9]/}; fi
            fi
            wait_bounded "$idle_pid" 30 || true
            wait_bounded "$probe_pid" 30 || true
            BG_PIDS=()
            rm -f -- "$fifo"

            # 5. Did the change happen?
            n_idx=$(sql "SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = '$DDL_DB' AND table_name = 't' AND index_name = 'idx_v'" || echo 0)
            completed=no
            [ "$ddl_rc" = 0 ] && [ "${n_idx:-0}" -gt 0 ] && completed=yes
            pj=$base.probe.json
            ddl_wall=$(awk -v a="$t_ddl0" -v b="$t_ddl1" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')
            max_at=$(awk -v p0="$probe_t0" -v d0="$t_ddl0" -v m="$(jget "$pj" max_at_s)" 'BEGIN { if (m == "") print "-"; else printf "%.2f", (p0 - d0) / 1e6 + m }')
            note="idle_session=${idle_cmd:-?}"
            [ -n "$t_commit" ] && note="$note commit_at_s=$(awk -v a="$t_ddl0" -v b="$t_commit" 'BEGIN { printf "%.2f", (b - a) / 1e6 }')"
            case $cfg in
                mdlsafe)
                    attempts=$(tr -d ' \n' <"$base.ddl.log" | grep -o '"attempts":[0-9]*' | head -n1 | cut -d: -f2 || true)
                    worst_wait=$(tr -d ' \n' <"$base.ddl.log" | grep -o '"worst_wait_ms":[0-9.]*' | head -n1 | cut -d: -f2 || true)
                    note="$note attempts=${attempts:-?}"
                    [ -n "$worst_wait" ] && note="$note worst_wait_ms=$(printf '%.0f' "$worst_wait")"
                    ;;
                pt-osc)
                    lwt=$(grep -c 'Lock wait timeout' "$base.ddl.log" || true)
                    note="$note lock_wait_timeouts=${lwt:-0}"
                    grep -q '^Successfully altered' "$base.ddl.log" || note="$note not-successfully-altered"
                    ;;
            esac
            [ -n "$busy" ] && note="$note machine-busy"
            printf '%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cfg" "$i" "$ddl_rc" "$completed" "$ddl_wall" \
                "$(awk -v a="$t_idle0" -v b="$t_ddl0" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')" \
                "$([ -n "$t_commit" ] && awk -v a="$t_idle0" -v b="$t_commit" 'BEGIN { printf "%.3f", (b - a) / 1e6 }' || echo -)" \
                "$(jget "$pj" queries)" "$(jget "$pj" max_ms)" "$max_at" "$(jget "$pj" p99_ms)" "$(jget "$pj" p50_ms)" \
                "$(jget "$pj" errors)" "$(jget "$pj" over_slow)" "$note" >>"$DDL_TSV"
            say "ddl $i $cfg: exit $ddl_rc in ${ddl_wall}s, completed $completed; probe worst $(jget "$pj" max_ms) ms (${max_at}s after the DDL started), p99 $(jget "$pj" p99_ms) ms, errors $(jget "$pj" errors); $note"
            if [ "$ddl_rc" != 0 ]; then
                say "ddl $i $cfg: the DDL failed; log: $base.ddl.log"
                tail -n 5 "$base.ddl.log" >&2 || true
            fi
        done
    done
    exec {sfd}<&-
    sql "DROP DATABASE IF EXISTS $DDL_DB" || true
}
if [ "$DO_DDL" = 1 ]; then ddl_section; fi
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

### 5. Report
# median of the successful runs' column; "FAIL" when none succeeded
col_stat() { # config column(1-based) stat(median|max) [tsv, default the timed backups']
    awk -F'\t' -v c="$1" -v k="$2" -v st="$3" 'NR > 1 && $1 == c && $3 == 0 { print $k }' "${4:-$RUNS_TSV}" |
        sort -g | awk -v st="$3" '{ a[NR] = $1 } END {
            if (NR == 0) { print "FAIL"; exit }
            if (st == "max") { print a[NR]; exit }
            if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
n_ok() { awk -F'\t' -v c="$1" 'NR > 1 && $1 == c && $3 == 0' "${2:-$RUNS_TSV}" | wc -l; }
stall_stat() { # scenario config column stat(max|median)
    awk -F'\t' -v sc="$1" -v c="$2" -v k="$3" 'NR > 1 && $1 == sc && $3 == c && $k != "" && $k != "-" { print $k }' "$STALL_TSV" |
        sort -g | awk -v st="$4" '{ a[NR] = $1 } END {
            if (NR == 0) { print "-"; exit }
            if (st == "max") { print a[NR]; exit }
            if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "FAIL" || v == "-" || v == "") print (v == "" ? "-" : v); else printf f, v }'; }
ddl_stat() { # config column stat(median|max), over every DDL run that has a value
    awk -F'\t' -v c="$1" -v k="$2" 'NR > 1 && $1 == c && $k != "" && $k != "-" { print $k }' "$DDL_TSV" |
        sort -g | awk -v st="$3" '{ a[NR] = $1 } END {
            if (NR == 0) { print "-"; exit }
            if (st == "max") { print a[NR]; exit }
            if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# The DDL section, between markers so that BENCH_ONLY=ddl can replace it in latest.md.
ddl_report() {
    local cfg per ok n ms mx
    echo "<!-- bench-ddl -->"
    if [ "$ONLY" = ddl ]; then
        echo "## Benchmark: mdlsafe ddl against plain ALTER and pt-online-schema-change"
        echo
        echo "$DATE. Same machine, one run of \`BENCH_ONLY=ddl bench/run.sh\`, tools interleaved round-robin."
        echo
        echo "- Machine: $NPROC CPUs ($CPU_MODEL), $MEM RAM, Linux $KERNEL, $FS; load average at start $LOAD_START, at end $LOAD_END"
        echo "- Server: MariaDB $MARIADB_VERSION on the same machine, buffer pool $SANDBOX_BUFFER_POOL, binary log on (ROW), performance_schema on; clients over the unix socket"
        echo "- Tools: $MDLSAFE_VERSION (git $GIT_REV); $PTOSC_VERSION; $MCLIENT_VERSION"
        echo
    fi
    echo "### DDL: a schema change behind an idle transaction (seed 004; median of $DDL_RUNS runs)"
    echo
    echo "| tool | worst client latency ms (median) | worst client latency ms (max) | per run ms | DDL wall s (median) | completed |"
    echo "|---|---:|---:|---|---:|---|"
    for cfg in "${DDL_CONFIGS[@]}"; do
        per=$(awk -F'\t' -v c="$cfg" 'NR > 1 && $1 == c { printf "%s%.0f", (n++ ? ", " : ""), $9 }' "$DDL_TSV")
        ok=$(awk -F'\t' -v c="$cfg" 'NR > 1 && $1 == c && $4 == "yes"' "$DDL_TSV" | wc -l)
        n=$(awk -F'\t' -v c="$cfg" 'NR > 1 && $1 == c' "$DDL_TSV" | wc -l)
        printf '| %s | %s | %s | %s | %s | %s |\n' "$(label_ddl_short "$cfg")" \
            "$(fmt "$(ddl_stat "$cfg" 9 median)" '%.0f')" "$(fmt "$(ddl_stat "$cfg" 9 max)" '%.0f')" "${per:--}" \
            "$(fmt "$(ddl_stat "$cfg" 5 median)" '%.2f')" "$([ "$ok" -eq "$n" ] && echo "yes ($ok/$n)" || echo "**no** ($ok/$n completed)")"
    done
    echo
    ms=$(ddl_stat mdlsafe 9 median); mx=$(ddl_stat mdlsafe 9 max)
    if [ "$ms" != - ]; then
        awk -v ms="$ms" -v mx="$mx" -v n="$DDL_RUNS" 'BEGIN {
            printf "Target: mdlsafe worst client latency **%.0f ms** (target < 600 ms); median of %d runs, worst run %.0f ms.\n", ms, n, mx }'
        echo
    fi
    echo "Table \`$DDL_DB.t\`: $DDL_ROWS rows (id INT PRIMARY KEY, k INT, c VARCHAR(120), v VARCHAR(64); ${DDL_TABLE_MIB:-?} MiB),"
    echo "made afresh before every run. An application session runs \`START TRANSACTION; SELECT ... FROM t LIMIT 1\`"
    echo "and goes idle (\`Sleep\`) with its transaction open, holding its metadata lock on t, for $DDL_IDLE_S s, then"
    echo "\`COMMIT\`. 0.5 s after it started, the DDL adds an index to t:"
    echo
    for cfg in "${DDL_CONFIGS[@]}"; do
        echo "- $(label_ddl_short "$cfg"): \`$(label_ddl "$cfg")\`"
    done
    echo
    echo "Each tool runs with its defaults: the ALTER under the server's \`lock_wait_timeout\` (86400 s);"
    echo "pt-online-schema-change sets \`lock_wait_timeout=60\` for its session, so its \`CREATE TRIGGER\` on t"
    echo "waits for the transaction like the ALTER; mdlsafe ddl waits at most \`--max-stall\` 500 ms per attempt,"
    echo "then gives way and retries. A probe plays the application: one point \`SELECT\` and one point \`UPDATE\`"
    echo "on t every 20 ms (one statement every 10 ms, by turns, autocommit), from 0.5 s before the DDL starts"
    echo "until 0.5 s after it ends. Worst client latency: the slowest probe statement of the run, i.e. how long"
    echo "the table was frozen for the application. DDL wall: from its start to its exit, including the wait"
    echo "for the transaction. Completed: exit 0 and the index is there."
    echo
    echo "<details><summary>every DDL run</summary>"
    echo
    echo '```'
    column -t -s $'\t' "$DDL_TSV" 2>/dev/null || cat "$DDL_TSV"
    echo '```'
    echo
    echo "</details>"
    echo "<!-- /bench-ddl -->"
}

{
    case $ONLY in
        all) echo "## Benchmark: mdlsafe backup, restore and ddl against mydumper/myloader, mariadb-dump/mariadb, plain ALTER and pt-online-schema-change" ;;
        backup) echo "## Benchmark: mdlsafe backup against mydumper and mariadb-dump" ;;
        restore) echo "## Benchmark: mdlsafe restore against myloader and the mariadb client" ;;
    esac
    if [ "$ONLY" != ddl ]; then # BENCH_ONLY=ddl: ddl_report writes its own header
        echo
        echo "$DATE. Same machine, same data, one run of \`bench/run.sh\`, configurations interleaved round-robin."
        echo
        echo "- Machine: $NPROC CPUs ($CPU_MODEL), $MEM RAM, Linux $KERNEL, $FS; load average at start $LOAD_START, at end $LOAD_END"
        echo "- Server: MariaDB $MARIADB_VERSION on the same machine, buffer pool $SANDBOX_BUFFER_POOL, binary log on (ROW), performance_schema on; clients over the unix socket"
        echo "- Dataset: sysbench ($SYSBENCH_VERSION) oltp schema, $TABLES tables x $TABLE_SIZE rows, **$DATASET_MIB MiB** (InnoDB data + index), warm in the buffer pool; current binlog file $BINLOG_SIZE"
        echo "- Tools: $MDLSAFE_VERSION (git $GIT_REV); $MYDUMPER_VERSION; $MYLOADER_VERSION; $MDUMP_VERSION; $MCLIENT_VERSION; $ZSTD_VERSION${PTOSC_VERSION:+; $PTOSC_VERSION}"
        echo
    fi
    if [ "$DO_BACKUP" = 1 ]; then
        echo "### Backup of the whole dataset (median of $RUNS runs)"
        echo
        echo "| tool | compression | wall s | MiB/s | wall + fsync s | peak RSS MiB | output MiB | tool CPU s | server CPU s |"
        echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
        for cfg in "${CONFIGS[@]}"; do
            wall=$(col_stat "$cfg" 4 median)
            ok=$(n_ok "$cfg")
            rate='-'
            [ "$wall" != FAIL ] && rate=$(awk -v m="$DATASET_MIB" -v w="$wall" 'BEGIN { printf "%.0f", m / w }')
            printf '| `%s` | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(label_tool "$cfg")" "$(label_comp "$cfg")" \
                "$(fmt "$wall" '%.2f')$([ "$ok" -lt "$RUNS" ] && echo " ($ok/$RUNS ok)")" "$rate" \
                "$(fmt "$(col_stat "$cfg" 5 median)" '%.2f')" \
                "$(fmt "$(col_stat "$cfg" 6 max)" '%.0f' | awk '{ print ($1 ~ /^[0-9]+$/) ? sprintf("%.1f", $1 / 1024) : $1 }')" \
                "$(fmt "$(col_stat "$cfg" 10 median)" '%.0f' | awk '{ print ($1 ~ /^[0-9]+$/) ? sprintf("%.0f", $1 / 1048576) : $1 }')" \
                "$(fmt "$(col_stat "$cfg" 7 median)" '%.2f')" "$(fmt "$(col_stat "$cfg" 8 median)" '%.2f')"
        done
        echo
        echo "MiB/s = dataset size / wall. Wall: the command alone; wall + fsync also flushes its output files"
        echo "(\`sync FILE...\`), which mdlsafe does itself and the others do not. Peak RSS: largest of the runs"
        echo "(for the pipe, mariadb-dump + zstd). Tool CPU: user + system of the backup process(es); server"
        echo "CPU: what mariadbd used meanwhile."
        echo
        mz=$(col_stat mdlsafe-zstd 4 median); my=$(col_stat mydumper 4 median); dz=$(col_stat mariadb-dump-zstd 4 median)
        if [ "$mz" != FAIL ] && [ "$my" != FAIL ] && [ "$dz" != FAIL ]; then
            awk -v mz="$mz" -v my="$my" -v dz="$dz" -v mf="$(col_stat mdlsafe-zstd-fast 4 median)" \
                -v rss="$(col_stat mdlsafe-zstd 6 max)" 'BEGIN {
                printf "Targets: mdlsafe (zstd) / mydumper -t 2 (uncompressed) = **%.2f** (target <= 1.10", mz / my
                if (mf != "FAIL") printf "; %.2f with --compress-level -10", mf / my
                printf "); "
                printf "mariadb-dump | zstd -1 / mdlsafe = **%.2fx** (target >= 3x); ", dz / mz
                printf "mdlsafe peak RSS **%.1f MiB** (target < 64).\n", rss / 1024 }'
            echo
        fi
        echo "### Stall: an ALTER on a table the backup is reading (worst of $STALL_RUNS runs)"
        echo
        echo "| sbtest1 | tool | ALTER waited s | app max latency ms | app p99 ms | app p50 ms | tool wall s | tool peak RSS MiB |"
        echo "|---|---|---:|---:|---:|---:|---:|---:|"
        for scen in small big; do
            case $scen in
                small) sdesc="$TABLE_SIZE rows (as timed)" ;;
                big) [ "$STALL_BIG_ROWS" -gt "$TABLE_SIZE" ] || continue
                     sdesc="$STALL_BIG_ROWS rows (${BIG_MIB:-?} MiB)" ;;
            esac
            for cfg in "${STALL_CONFIGS[@]}"; do
                lbl=$(label_tool "$cfg")
                case $cfg in mdlsafe-zstd) lbl='mdlsafe backup -j 2 (--max-stall 500)' ;; esac
                rss=$(stall_stat "$scen" "$cfg" 7 max)
                [ "$rss" != - ] && rss=$(awk -v r="$rss" 'BEGIN { printf "%.1f", r / 1024 }')
                printf '| %s | `%s` | %s | %s | %s | %s | %s | %s |\n' "$sdesc" "$lbl" \
                    "$(fmt "$(stall_stat "$scen" "$cfg" 12 max)" '%.2f')" "$(fmt "$(stall_stat "$scen" "$cfg" 14 max)" '%.0f')" \
                    "$(fmt "$(stall_stat "$scen" "$cfg" 15 max)" '%.1f')" "$(fmt "$(stall_stat "$scen" "$cfg" 16 max)" '%.2f')" \
                    "$(fmt "$(stall_stat "$scen" "$cfg" 6 median)" '%.2f')" "$rss"
            done
        done
        echo
        ms=$(stall_stat small mdlsafe-zstd 14 max)
        msb=$(stall_stat big mdlsafe-zstd 14 max)
        yb=$(awk -F'\t' 'NR > 1 && $1 == "big" && $3 == "mdlsafe-zstd" { print $19 }' "$STALL_TSV" | grep -o 'yields=[0-9?]*' | cut -d= -f2 | paste -sd, - || true)
        if [ "$ms" != - ]; then
            awk -v ms="$ms" -v mb="$msb" -v yb="$yb" 'BEGIN {
                printf "Target: mdlsafe stall **%.0f ms**", ms
                if (mb != "-") printf " (short read), **%.0f ms** (long read; yields per run: %s)", mb, yb
                printf ", budget --max-stall 500 ms.\n\n" }'
        fi
        echo "A probe runs point \`SELECT c ... WHERE id = ?\` and \`UPDATE ... SET k = k + 1 WHERE id = ?\` on"
        echo "sbtest1, alternating, 5 ms apart, from 1 s before the backup starts until 1 s after both the backup"
        echo "and the ALTER have ended. \`ALTER TABLE sbtest1 ADD COLUMN bench_x INT, ALGORITHM=INSTANT\` is sent"
        echo "from another connection the moment the processlist shows the tool's \`SELECT\` on sbtest1 running,"
        echo "i.e. while the tool holds the table's metadata lock; \"ALTER waited\" is its duration measured on"
        echo "the server. Every query that arrives on sbtest1 after the ALTER queues behind it, so the app's max"
        echo "latency is how long the table was frozen. Tool wall: median, with the probe and the ALTER running."
        echo "First with sbtest1 as in the timed runs: reading it takes less than the budget, so mdlsafe's stall"
        echo "is what remains of that read. Then with sbtest1 grown to $STALL_BIG_ROWS rows, so that its read"
        echo "takes several times the budget: mdlsafe's watchdog must make the worker let go (yields) and the"
        echo "table is read again after the ALTER."
        echo
    fi
    if [ "$DO_RESTORE" = 1 ]; then
        echo "### Restore of the whole dataset into a new database (median of $RUNS runs)"
        echo
        echo "| tool | reads | binlog | wall s | MiB/s | peak RSS MiB | tool CPU s | server CPU s | binlog written MiB | CHECKSUM TABLE |"
        echo "|---|---|---|---:|---:|---:|---:|---:|---:|---|"
        for cfg in "${RESTORE_CONFIGS[@]}"; do
            wall=$(col_stat "$cfg" 4 median "$RESTORE_TSV")
            ok=$(n_ok "$cfg" "$RESTORE_TSV")
            rate='-'
            [ "$wall" != FAIL ] && rate=$(awk -v m="$DATASET_MIB" -v w="$wall" 'BEGIN { printf "%.0f", m / w }')
            src=$(restore_src "$cfg")
            case $src in
                mdlsafe) sdesc="mdlsafe backup (zstd), $((SRC_BYTES_mdlsafe / 1048576)) MiB" ;;
                mydumper) sdesc="mydumper, $((SRC_BYTES_mydumper / 1048576)) MiB" ;;
                mariadb-dump) sdesc="mariadb-dump, $((SRC_BYTES_mariadb_dump / 1048576)) MiB" ;;
            esac
            nck=$(awk -F'\t' -v c="$cfg" 'NR > 1 && $1 == c && $10 == "ok"' "$RESTORE_TSV" | wc -l)
            nrun=$(awk -F'\t' -v c="$cfg" 'NR > 1 && $1 == c' "$RESTORE_TSV" | wc -l)
            if [ "$nck" -eq "$nrun" ]; then ckdesc="equal ($nrun/$nrun runs)"; else ckdesc="**DIFFERENT** ($((nrun - nck))/$nrun runs)"; fi
            printf '| `%s` | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(label_restore "$cfg")" "$sdesc" \
                "$(label_restore_binlog "$cfg")" \
                "$(fmt "$wall" '%.2f')$([ "$ok" -lt "$RUNS" ] && echo " ($ok/$RUNS ok)")" "$rate" \
                "$(fmt "$(col_stat "$cfg" 5 max "$RESTORE_TSV")" '%.0f' | awk '{ print ($1 ~ /^[0-9]+$/) ? sprintf("%.1f", $1 / 1024) : $1 }')" \
                "$(fmt "$(col_stat "$cfg" 6 median "$RESTORE_TSV")" '%.2f')" "$(fmt "$(col_stat "$cfg" 7 median "$RESTORE_TSV")" '%.2f')" \
                "$(fmt "$(col_stat "$cfg" 9 median "$RESTORE_TSV")" '%.0f' | awk '{ print ($1 ~ /^[0-9]+$/) ? sprintf("%.0f", $1 / 1048576) : $1 }')" \
                "$ckdesc"
        done
        echo
        echo "Each tool restores its own backup of the same data into \`$RDB\`, dropped before every run:"
        echo "\`mdlsafe restore DIR -j 2 --rename sbtest:$RDB\`, \`myloader -d DIR -B $RDB -t 2\`,"
        echo "\`mariadb $RDB < dump.sql\` (a \`mariadb-dump --single-transaction sbtest\` file, created database)."
        echo "Server: $SERVER_SETTINGS. Binlog: whether the restore is written to the binary log."
        echo "myloader turns it off by default (\`SET SQL_LOG_BIN = 0\`; \`-e\` keeps it), so compare"
        echo "\`mdlsafe --no-binlog\` with \`myloader -t 2\`, and \`mdlsafe\` with \`myloader -t 2 -e\` and the"
        echo "mariadb client; \"binlog written\" is what SHOW BINARY LOGS grew by during the run. Before each run"
        echo "the buffer pool's dirty pages are flushed, so no run pays for the previous one's writes. Wall: the"
        echo "command alone (none of them fsyncs anything itself; the server's commits are durable as configured)."
        echo "Tool CPU: user + system of the client; server CPU: what mariadbd used meanwhile. Peak RSS: largest"
        echo "of the runs. CHECKSUM TABLE: every restored table's \`CHECKSUM TABLE ... EXTENDED\` equals the"
        echo "original's (the benchmark fails if not)."
        echo
        rm_=$(col_stat mdlsafe 4 median "$RESTORE_TSV"); rn=$(col_stat mdlsafe-nobinlog 4 median "$RESTORE_TSV")
        ly=$(col_stat myloader 4 median "$RESTORE_TSV"); le=$(col_stat myloader-binlog 4 median "$RESTORE_TSV")
        mc=$(col_stat mariadb 4 median "$RESTORE_TSV")
        if [ "$rm_" != FAIL ] && [ "$rn" != FAIL ] && [ "$ly" != FAIL ] && [ "$le" != FAIL ] && [ "$mc" != FAIL ]; then
            awk -v rm="$rm_" -v rn="$rn" -v ly="$ly" -v le="$le" -v mc="$mc" 'BEGIN {
                printf "Targets: mdlsafe restore / myloader -t 2, binlog off for both = **%.2f**, binlog on for both = **%.2f** (target < 1); ", rn / ly, rm / le
                printf "mariadb < dump.sql / mdlsafe restore, binlog on for both = **%.2fx** (target: several times).\n", mc / rm }'
            echo
        fi
    fi
    if [ "$DO_BACKUP" = 1 ]; then
        echo "<details><summary>every stall run</summary>"
        echo
        echo '```'
        column -t -s $'\t' "$STALL_TSV" 2>/dev/null || cat "$STALL_TSV"
        echo '```'
        echo
        echo "</details>"
        echo
        echo "<details><summary>every timed run</summary>"
        echo
        echo '```'
        column -t -s $'\t' "$RUNS_TSV" 2>/dev/null || cat "$RUNS_TSV"
        echo '```'
        echo
        echo "</details>"
        echo
    fi
    if [ "$DO_RESTORE" = 1 ]; then
        echo "<details><summary>every restore run</summary>"
        echo
        echo '```'
        column -t -s $'\t' "$RESTORE_TSV" 2>/dev/null || cat "$RESTORE_TSV"
        echo '```'
        echo
        echo "</details>"
        echo
    fi
    if [ "$DO_DDL" = 1 ]; then ddl_report; fi
} >"$OUT_MD.new"
if [ "$ONLY" = ddl ]; then
    # Appended to what is there, in place of an earlier run's DDL section.
    if [ -f "$OUT_MD" ]; then
        awk '/^<!-- bench-ddl -->$/ { skip = 1 } !skip { print } /^<!-- \/bench-ddl -->$/ { skip = 0 }' "$OUT_MD" |
            awk 'NF { while (blank-- > 0) print ""; blank = 0; print; next } { blank++ }' >"$OUT_MD.old"
        [ -s "$OUT_MD.old" ] && echo >>"$OUT_MD.old"
        cat "$OUT_MD.old" "$OUT_MD.new" >"$OUT_MD"
        rm -f "$OUT_MD.old" "$OUT_MD.new"
    else
        mv -f "$OUT_MD.new" "$OUT_MD"
    fi
    ddl_report_shown=$(awk '/^<!-- bench-ddl -->$/ { on = 1 } on { print }' "$OUT_MD")
    printf '%s\n' "$ddl_report_shown"
else
    mv -f "$OUT_MD.new" "$OUT_MD"
    cat "$OUT_MD"
fi
case $ONLY in
    all) say "results: $OUT_MD (runs: $RUNS_TSV, $STALL_TSV, $RESTORE_TSV, $DDL_TSV; logs: $LOGS)" ;;
    backup) say "results: $OUT_MD (runs: $RUNS_TSV, $STALL_TSV; logs: $LOGS)" ;;
    restore) say "results: $OUT_MD (runs: $RESTORE_TSV; logs: $LOGS)" ;;
    ddl) say "results: $OUT_MD, DDL section (runs: $DDL_TSV; logs: $LOGS/ddl-*)" ;;
esac
PHYSICAL_RC=0
if [ "$DO_PHYSICAL" = 1 ]; then
    # Stop this part's server first (the EXIT trap still wipes it): the physical
    # part starts its own, and should not share the machine with an idle one.
    bash "$ROOT/tests/sandbox/stop.sh" >&2 || true
    say "physical part: bench/physical.sh $BUILD (own sandbox, results in $RESULTS/physical.md)"
    bash "$ROOT/bench/physical.sh" "$BUILD" || PHYSICAL_RC=$?
    [ "$PHYSICAL_RC" -eq 0 ] || say "physical part FAILED (exit $PHYSICAL_RC)"
fi
ONLINE_RC=0
if [ "$DO_ONLINE" = 1 ]; then
    bash "$ROOT/tests/sandbox/stop.sh" >&2 || true
    say "online part: bench/online_ddl.sh $BUILD (own sandbox, results in $RESULTS/online-ddl.md)"
    bash "$ROOT/bench/online_ddl.sh" "$BUILD" || ONLINE_RC=$?
    [ "$ONLINE_RC" -eq 0 ] || say "online part FAILED (exit $ONLINE_RC)"
fi
if [ "$RESTORE_BAD" -gt 0 ]; then
    die "RESTORE IS WRONG: in $RESTORE_BAD restore run(s) CHECKSUM TABLE of $RDB differs from sbtest (see 'checksums' in $RESTORE_TSV and $LOGS/restore-checksums-*.txt)"
fi
[ "$PHYSICAL_RC" -eq 0 ] || die "the physical part (bench/physical.sh) failed with exit $PHYSICAL_RC"
[ "$ONLINE_RC" -eq 0 ] || die "the online part (bench/online_ddl.sh) failed with exit $ONLINE_RC"
