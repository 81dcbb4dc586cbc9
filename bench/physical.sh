#!/usr/bin/env bash
# mdlsafe benchmark, physical part: `mdlsafe backup --physical` (file copy and
# --snapshot-cmd) against mdlsafe's logical backup, mariadb-backup (backup +
# prepare --export) and a plain `cp` + `sync` of the same .ibd files; then
# `mdlsafe restore --physical` against the logical `mdlsafe restore`.
# See docs/benchmarks.md ("Physical backup and restore").
#
#   bash bench/physical.sh [BUILD_DIR]
#   BENCH_ONLY=physical bash bench/run.sh [BUILD_DIR]     (same thing; BENCH_ONLY=all runs it last)
#
# Environment (all optional):
#   BENCH_RUNS=3                     timed runs per configuration (median reported)
#   BENCH_PHYS_TABLES=8              sysbench tables in database phys
#   BENCH_PHYS_TABLE_SIZE=1200000    rows per table (1100000 gives exactly 2.00 GiB)
#   BENCH_PHYS_MIN_MIB=2048          fail if the .ibd files of phys sum to less than this
#   BENCH_PHYS_TOOL_TIMEOUT=1800     seconds before any single tool run is killed
#   BENCH_PHYS_DROP_CACHES=1         drop the page cache before each run (0: leave it warm)
#   BENCH_PHYS_CHECKSUM=1            compare CHECKSUM TABLE ... EXTENDED after each restore run
#   BENCH_PHYS_RESTORE=1             run the restore part (0: backups only)
#   BENCH_PHYS_WIPE=0                1: wipe the sandbox (and the dataset) at the end
#   BENCH_QUIET_WAIT=120             before each run, wait up to this long for other processes to go quiet
#   BENCH_RESULTS_DIR=bench/results  physical.md, physical-runs.tsv and logs/phys-* go there
#   BENCH_PHYS_SANDBOX_DIR=<repo>/.sandbox-phys  BENCH_PHYS_SANDBOX_PORT=23396
#   BENCH_PHYS_BUFFER_POOL=1G
#
# Its own sandbox server (tests/sandbox/start.sh), separate from run.sh's. The
# sysbench dataset (~2.3 GiB of .ibd, several minutes to make) is kept in the
# sandbox's datadir between runs: the server is stopped at the end, not wiped,
# and started again on the kept datadir next time (marker .phys-dataset).
# Backups and restores go to $SANDBOX_DIR/work (same filesystem as the
# datadir), removed between runs and at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"

BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
RUNS=${BENCH_RUNS:-3}
TABLES=${BENCH_PHYS_TABLES:-8}
TABLE_SIZE=${BENCH_PHYS_TABLE_SIZE:-1200000}
MIN_MIB=${BENCH_PHYS_MIN_MIB:-2048}
TOOL_TIMEOUT=${BENCH_PHYS_TOOL_TIMEOUT:-1800}
QUIET_WAIT=${BENCH_QUIET_WAIT:-120}
DROP_CACHES=${BENCH_PHYS_DROP_CACHES:-1}
CHECKSUM=${BENCH_PHYS_CHECKSUM:-1}
DO_RESTORE=${BENCH_PHYS_RESTORE:-1}
WIPE=${BENCH_PHYS_WIPE:-0}
for v in RUNS TABLES TABLE_SIZE TOOL_TIMEOUT; do
    case ${!v} in '' | *[!0-9]* | 0) echo "bench-phys: $v must be a positive integer, got '${!v}'" >&2; exit 2 ;; esac
done
for v in MIN_MIB QUIET_WAIT; do
    case ${!v} in '' | *[!0-9]*) echo "bench-phys: $v must be a number, got '${!v}'" >&2; exit 2 ;; esac
done
for v in DROP_CACHES CHECKSUM DO_RESTORE WIPE; do
    case ${!v} in 0 | 1) ;; *) echo "bench-phys: $v must be 0 or 1, got '${!v}'" >&2; exit 2 ;; esac
done

# Our own sandbox, whatever the caller (run.sh) exported for its own.
unset SANDBOX_SOCKET SANDBOX_DATADIR SANDBOX_PIDFILE SANDBOX_LOG SANDBOX_CNF SANDBOX_NOPROC_CNF
export SANDBOX_DIR=${BENCH_PHYS_SANDBOX_DIR:-$ROOT/.sandbox-phys}
export SANDBOX_PORT=${BENCH_PHYS_SANDBOX_PORT:-23396}
export SANDBOX_BUFFER_POOL=${BENCH_PHYS_BUFFER_POOL:-1G}
# shellcheck source=tests/sandbox/env.sh
. "$ROOT/tests/sandbox/env.sh"
CNF=$SANDBOX_CNF
DB=phys
DB_R=phys_r # physical restore target
DB_L=phys_l # logical restore target

RESULTS=${BENCH_RESULTS_DIR:-$ROOT/bench/results}
LOGS=$RESULTS/logs
TSV=$RESULTS/physical-runs.tsv
OUT_MD=$RESULTS/physical.md
WORK=$SANDBOX_DIR/work
DATASET_MARK=$SANDBOX_DIR/.phys-dataset
DATASET_WANT="tables=$TABLES table_size=$TABLE_SIZE"

say() { printf 'bench-phys: %s\n' "$*" >&2; }
die() { printf 'bench-phys: error: %s\n' "$*" >&2; exit 1; }

### Tools
for t in mariadb timeout sysbench mariadb-backup; do
    command -v "$t" >/dev/null 2>&1 || die "$t not found: run 'bash scripts/install-deps.sh --bench'"
done
[ -x /usr/bin/time ] || die "/usr/bin/time not found: run 'bash scripts/install-deps.sh --bench' (package time)"
[ -x "$BUILD/mdlsafe" ] || die "$BUILD/mdlsafe not found: build it first (make build, or cmake --build $BUILD)"

### Cleanup: the server is stopped (kept, with the dataset, unless BENCH_PHYS_WIPE=1), scratch removed
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    rm -rf -- "$WORK" 2>/dev/null || true
    if [ "$WIPE" = 1 ]; then
        bash "$ROOT/tests/sandbox/stop.sh" --wipe >&2 || true
    else
        bash "$ROOT/tests/sandbox/stop.sh" >&2 || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

### Start the sandbox (on the kept datadir when the dataset is there)
mkdir -p "$LOGS"
rm -f "$LOGS"/phys-* 2>/dev/null || true
if [ -f "$DATASET_MARK" ] && [ -d "$SANDBOX_DATADIR/mysql" ]; then
    say "starting sandbox in $SANDBOX_DIR on the kept datadir (port $SANDBOX_PORT, buffer pool $SANDBOX_BUFFER_POOL)"
    bash "$ROOT/tests/sandbox/start.sh" --keep-data >&2
else
    say "starting a fresh sandbox in $SANDBOX_DIR (port $SANDBOX_PORT, buffer pool $SANDBOX_BUFFER_POOL)"
    bash "$ROOT/tests/sandbox/start.sh" >&2
fi
rm -rf -- "$WORK"
mkdir -p "$WORK/bin"
# Private copy: a rebuild of $BUILD during the run changes nothing here.
cp "$BUILD/mdlsafe" "$WORK/bin/mdlsafe"
MDLSAFE=$WORK/bin/mdlsafe

sql() { mariadb --defaults-file="$CNF" -N -B -e "$1"; }
now() { date +%s.%N; }
SERVER_PID=$(tr -dc '0-9' <"$SANDBOX_PIDFILE")
CLK_TCK=$(getconf CLK_TCK)
server_cpu() { awk -v hz="$CLK_TCK" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/$SERVER_PID/stat"; }
machine_cpu() { awk -v hz="$CLK_TCK" '/^cpu / { printf "%.2f\n", ($2 + $3 + $4 + $7 + $8) / hz; exit }' /proc/stat; }
DB_DIR=$(sql 'SELECT @@datadir' | sed 's:/*$::')/$DB

# Leftovers of an interrupted run.
sql "DROP DATABASE IF EXISTS $DB_R; DROP DATABASE IF EXISTS $DB_L"
purge_binlogs() { sql 'FLUSH BINARY LOGS' && sql 'PURGE BINARY LOGS BEFORE NOW()'; }

### Dataset: sysbench, kept between runs
ibd_bytes() { find "$DB_DIR" -maxdepth 1 -name '*.ibd' -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
have_dataset() {
    [ -f "$DATASET_MARK" ] && [ "$(cat "$DATASET_MARK")" = "$DATASET_WANT" ] || return 1
    [ "$(sql "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '$DB' AND table_name LIKE 'sbtest%'")" = "$TABLES" ]
}
if have_dataset; then
    say "reusing the dataset in $DB_DIR ($DATASET_WANT)"
else
    rm -f -- "$DATASET_MARK"
    say "preparing the dataset: sysbench $TABLES tables x $TABLE_SIZE rows in database $DB (takes minutes)"
    sql "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB"
    threads=$(nproc)
    [ "$threads" -gt "$TABLES" ] && threads=$TABLES
    t0=$(now)
    sysbench oltp_read_write --db-driver=mysql --mysql-socket="$SANDBOX_SOCKET" --mysql-user=root \
        --mysql-password="$SANDBOX_ROOT_PASSWORD" --mysql-db="$DB" --tables="$TABLES" \
        --table-size="$TABLE_SIZE" --threads="$threads" prepare >"$LOGS/phys-sysbench-prepare.log" 2>&1 ||
        { tail -n 20 "$LOGS/phys-sysbench-prepare.log" >&2; die "sysbench prepare failed"; }
    say "dataset prepared in $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }') s"
    sql "ANALYZE TABLE $(seq -s, -f "$DB.sbtest%g" 1 "$TABLES")" >/dev/null
    purge_binlogs # the load's binary log (GiBs) is of no use here
    got=$(ibd_bytes)
    [ "$got" -ge $((MIN_MIB * 1048576)) ] ||
        die "the .ibd files of $DB sum to $((got / 1048576)) MiB, less than BENCH_PHYS_MIN_MIB=$MIN_MIB: raise BENCH_PHYS_TABLE_SIZE"
    sync
    printf '%s\n' "$DATASET_WANT" >"$DATASET_MARK"
fi
IBD_BYTES=$(ibd_bytes)
IBD_FILES=$(find "$DB_DIR" -maxdepth 1 -name '*.ibd' | wc -l)
IBD_MIB=$(awk -v b="$IBD_BYTES" 'BEGIN { printf "%.1f", b / 1048576 }')
IBD_GIB=$(awk -v b="$IBD_BYTES" 'BEGIN { printf "%.2f", b / 1073741824 }')
read -r DATA_B INDEX_B ROWS_EST <<<"$(sql "SELECT SUM(data_length), SUM(index_length), SUM(table_rows) FROM information_schema.tables WHERE table_schema = '$DB'")"
say "dataset: $IBD_FILES .ibd files, $IBD_MIB MiB ($IBD_GIB GiB); InnoDB data $((DATA_B / 1048576)) MiB + index $((INDEX_B / 1048576)) MiB, ~$ROWS_EST rows"
purge_binlogs

### Machine facts
MARIADB_VERSION=$(sql 'SELECT VERSION()')
MDLSAFE_VERSION=$("$MDLSAFE" --version | head -n1)
MBACKUP_VERSION=$(mariadb-backup --version 2>&1 | head -n1 | sed 's/ based on MariaDB server / /')
SYSBENCH_VERSION=$(sysbench --version | head -n1)
CP_VERSION=$(cp --version | head -n1)
GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
if [ -n "$(git -C "$ROOT" status --porcelain -- src 2>/dev/null)" ]; then GIT_REV="$GIT_REV + uncommitted changes in src/"; fi
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
NPROC=$(nproc)
MEM=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
KERNEL=$(uname -r)
FS=$(df -hT "$SANDBOX_DIR" | awk 'NR == 2 { print $2 " on " $1 }')
FS_OPTS=$(findmnt -no OPTIONS -T "$SANDBOX_DIR" 2>/dev/null || true)
[ -n "$FS_OPTS" ] && FS="$FS (mount options $FS_OPTS)"
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
SERVER_SETTINGS=$(sql "SELECT CONCAT('buffer pool ', @@innodb_buffer_pool_size DIV 1048576, 'M, innodb_flush_method=', @@innodb_flush_method, ', log_bin=', IF(@@log_bin, 'ON', 'OFF'), ' (', @@binlog_format, '), sync_binlog=', @@sync_binlog, ', innodb_flush_log_at_trx_commit=', @@innodb_flush_log_at_trx_commit, ', innodb_log_file_size=', @@innodb_log_file_size DIV 1048576, 'M')")

# Page cache: dropped before each run when we may (root, not in a container
# that forbids it), else every run is warm-cache and the report says so.
drop_caches() { sync; { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; }
CACHE=warm
CACHE_NOTE="page cache not dropped (BENCH_PHYS_DROP_CACHES=0): all runs warm-cache"
if [ "$DROP_CACHES" = 1 ]; then
    if drop_caches; then
        CACHE=cold
        CACHE_NOTE="page cache dropped (echo 3 > /proc/sys/vm/drop_caches) before every run: cold-cache reads"
    else
        CACHE_NOTE="could not drop the page cache (no permission on /proc/sys/vm/drop_caches): all runs warm-cache"
    fi
fi
say "$CACHE_NOTE"

### Before each run
# No dirty pages left over (the page cleaner is told to flush everything, then
# put back as it was); prints the dirty pages left if it gave up.
flush_dirty() {
    local k d=0 pct lwm
    read -r pct lwm <<<"$(sql 'SELECT @@innodb_max_dirty_pages_pct, @@innodb_max_dirty_pages_pct_lwm')"
    sql 'SET GLOBAL innodb_max_dirty_pages_pct_lwm = 0, innodb_max_dirty_pages_pct = 0'
    for ((k = 0; k < QUIET_WAIT * 2 + 20; k++)); do
        d=$(sql "SELECT variable_value FROM information_schema.global_status WHERE variable_name = 'INNODB_BUFFER_POOL_PAGES_DIRTY'")
        [ "$d" -le 0 ] && break
        sleep 0.5
    done
    sql "SET GLOBAL innodb_max_dirty_pages_pct = $pct, innodb_max_dirty_pages_pct_lwm = $lwm"
    [ "$d" -le 0 ] || echo "dirty-pages=$d"
}
# Waits (at most BENCH_QUIET_WAIT s) until other processes use less than 10 %
# of one CPU over 1 s. Prints "busy" when it gave up.
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
# Prints the notes for the run (dirty pages left, machine busy), if any.
before_run() {
    local notes="" d b
    d=$(flush_dirty)
    [ -n "$d" ] && notes=$d
    sync
    if [ "$CACHE" = cold ]; then drop_caches || notes="${notes:+$notes }cache-not-dropped"; fi
    b=$(wait_quiet)
    [ -n "$b" ] && notes="${notes:+$notes }machine-busy"
    printf '%s\n' "$notes"
}

### Helpers
# Numbers and strings out of mdlsafe's --json summary (no jq needed).
json_num() { tr -d ' \n\t' <"$2" 2>/dev/null | grep -o "\"$1\":[-0-9.eE+]*" | head -n1 | cut -d: -f2 || true; }
json_str() { tr -d '\n' <"$2" 2>/dev/null | grep -o "\"$1\": *\"[^\"]*\"" | head -n1 | sed 's/^[^:]*: *"//; s/"$//' || true; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", b - a }'; }
# T TIMEFILE CMD...: CMD under timeout and /usr/bin/time (peak RSS in KiB).
T() { timeout -s TERM "$TOOL_TIMEOUT" /usr/bin/time -o "$1" -f '%M' "${@:2}"; }
rss_of() { tail -n1 "$1" 2>/dev/null | tr -dc '0-9' || true; }
# First line of an error log, for the report (tabs and pipes would break the tables).
first_err() {
    local l
    l=$(grep -iE 'error|fail|unknown|usage' "$1" 2>/dev/null | head -n1 || true)
    [ -n "$l" ] || l=$(grep -v '^[[:space:]]*$' "$1" 2>/dev/null | tail -n1 || true)
    printf '%s\n' "$l" | tr '\t|`' '   ' | cut -c1-240
}
dir_bytes() { du -sb "$1" 2>/dev/null | cut -f1 || echo 0; }

# TSV: one row per run.
#   wall_s   the whole configuration (mariadb-backup: backup + sync + prepare; cp: cp + sync)
#   step1_s  mdlsafe: duration_seconds of its JSON; mariadb-backup: --backup; cp: cp
#   flush_s  mariadb-backup: sync after --backup; cp: sync after cp
#   step2_s  mariadb-backup: --prepare --export
printf 'config\trun\trc\twall_s\tstep1_s\tflush_s\tstep2_s\tfreeze_ms\tbytes\tpeak_rss_kib\tcopy\tnote\n' >"$TSV"
row() { # config run rc wall step1 flush step2 freeze bytes rss copy note
    local IFS=$'\t'
    printf '%s\n' "$*" >>"$TSV"
}

### Backups
SRC_PHYS=$WORK/src-phys    # last physical backup, kept for the restore runs
SRC_LOGICAL=$WORK/src-logical
BACKUP_CONFIGS=(phys-copy phys-snap-true phys-snap-sync logical mariabackup cp)
label() {
    case $1 in
        phys-copy) echo "mdlsafe backup --physical -B $DB" ;;
        phys-snap-true) echo "mdlsafe backup --physical -B $DB --snapshot-cmd 'true'" ;;
        phys-snap-sync) echo "mdlsafe backup --physical -B $DB --snapshot-cmd 'sync'" ;;
        logical) echo "mdlsafe backup -B $DB -j 2" ;;
        mariabackup) echo "mariadb-backup --backup --databases=$DB + sync + --prepare --export" ;;
        cp) echo "cp $DB/*.ibd DIR/ + sync" ;;
        restore-phys) echo "mdlsafe restore --physical DIR --rename $DB:$DB_R" ;;
        restore-logical) echo "mdlsafe restore DIR --rename $DB:$DB_L -j 2" ;;
    esac
}

# backup_run CONFIG RUN NOTES: one timed run; appends its row to the TSV.
backup_run() {
    local cfg=$1 i=$2 notes=$3
    local out=$WORK/out-$cfg log=$LOGS/phys-$cfg-$i tf=$WORK/time-$cfg
    local rc=0 t0 t1 t2 t3 wall step1='' flush='' step2='' freeze='' bytes='' rss='' copy='' e
    rm -rf -- "$out" "$out.partial" "$tf" "$tf.2"
    case $cfg in
        phys-copy | phys-snap-true | phys-snap-sync)
            local extra=()
            [ "$cfg" = phys-snap-true ] && extra=(--snapshot-cmd true)
            [ "$cfg" = phys-snap-sync ] && extra=(--snapshot-cmd sync)
            t0=$(now)
            T "$tf" "$MDLSAFE" backup --defaults-file "$CNF" --physical -B "$DB" -o "$out" \
                ${extra[@]+"${extra[@]}"} --json >"$log.json" 2>"$log.err" || rc=$?
            t1=$(now)
            wall=$(sub "$t0" "$t1")
            step1=$(json_num duration_seconds "$log.json")
            freeze=$(json_num freeze_ms "$log.json")
            bytes=$(json_num bytes_copied "$log.json")
            copy=$(json_str copy "$log.json")
            rss=$(rss_of "$tf")
            ;;
        logical)
            t0=$(now)
            T "$tf" "$MDLSAFE" backup --defaults-file "$CNF" -B "$DB" -o "$out" -j 2 --json >"$log.json" 2>"$log.err" || rc=$?
            t1=$(now)
            wall=$(sub "$t0" "$t1")
            step1=$(json_num duration_seconds "$log.json")
            bytes=$(dir_bytes "$out")
            rss=$(rss_of "$tf")
            ;;
        mariabackup)
            t0=$(now)
            T "$tf" mariadb-backup --defaults-file="$CNF" --backup --databases="$DB" --target-dir="$out" \
                --datadir="$SANDBOX_DATADIR" >"$log.backup.log" 2>&1 || rc=$?
            t1=$(now)
            sync # mariadb-backup does not fsync what it wrote; mdlsafe does
            t2=$(now)
            bytes=$(dir_bytes "$out")
            rss=$(rss_of "$tf")
            if [ "$rc" -eq 0 ]; then
                T "$tf.2" mariadb-backup --prepare --export --target-dir="$out" >"$log.prepare.log" 2>&1 || rc=$?
            fi
            t3=$(now)
            step1=$(sub "$t0" "$t1"); flush=$(sub "$t1" "$t2"); step2=$(sub "$t2" "$t3")
            wall=$(sub "$t0" "$t3")
            e=$(rss_of "$tf.2"); [ -n "$e" ] && [ -n "$rss" ] && [ "$e" -gt "$rss" ] && rss=$e
            [ "$rc" -ne 0 ] && cat "$log.backup.log" "$log.prepare.log" >"$log.err" 2>/dev/null
            ;;
        cp)
            mkdir -p "$out"
            t0=$(now)
            cp --reflink=auto -- "$DB_DIR"/*.ibd "$out"/ 2>"$log.err" || rc=$?
            t1=$(now)
            sync
            t2=$(now)
            step1=$(sub "$t0" "$t1"); flush=$(sub "$t1" "$t2"); wall=$(sub "$t0" "$t2")
            bytes=$(dir_bytes "$out")
            copy="cp --reflink=auto"
            ;;
        *) die "unknown configuration $cfg" ;;
    esac
    if [ "$rc" -ne 0 ]; then
        e=$(first_err "$log.err")
        notes="${notes:+$notes }error: ${e:-exit $rc, see $log.*}"
        say "run $i $cfg FAILED (exit $rc): ${e:-see $log.*}"
    else
        say "run $i $cfg: wall ${wall}s${freeze:+ freeze ${freeze}ms}${step2:+ (backup ${step1}s, sync ${flush}s, prepare ${step2}s)}"
    fi
    row "$cfg" "$i" "$rc" "$wall" "$step1" "$flush" "$step2" "$freeze" "$bytes" "$rss" "$copy" "$notes"
    # Keep the last good physical and logical backups for the restore runs; remove the rest.
    if [ "$rc" -eq 0 ] && [ "$cfg" = phys-copy ] && [ "$DO_RESTORE" = 1 ]; then
        rm -rf -- "$SRC_PHYS" && mv -- "$out" "$SRC_PHYS"
    elif [ "$rc" -eq 0 ] && [ "$cfg" = logical ] && [ "$DO_RESTORE" = 1 ]; then
        rm -rf -- "$SRC_LOGICAL" && mv -- "$out" "$SRC_LOGICAL"
    fi
    rm -rf -- "$out" "$out.partial" "$tf" "$tf.2"
}

for ((i = 1; i <= RUNS; i++)); do
    # Round robin: drift (other load, disk) touches every configuration alike.
    for cfg in "${BACKUP_CONFIGS[@]}"; do
        notes=$(before_run)
        backup_run "$cfg" "$i" "$notes"
    done
done

### Restores
RESTORE_CONFIGS=(restore-phys restore-logical)
checksums() { # DB: "table checksum" lines, sorted
    local list
    list=$(sql "SELECT GROUP_CONCAT(CONCAT('\`$1\`.\`', table_name, '\`') ORDER BY table_name) FROM information_schema.tables WHERE table_schema = '$1' AND table_type = 'BASE TABLE'")
    [ -n "$list" ] && [ "$list" != NULL ] || return 0
    sql "CHECKSUM TABLE $list EXTENDED" | awk -F'\t' '{ sub(/^[^.]*\./, "", $1); print $1, $2 }' | sort
}
restore_run() {
    local cfg=$1 i=$2 notes=$3 log=$LOGS/phys-$1-$2 tf=$WORK/time-$1 rc=0 t0 t1 wall step1='' rss='' src target e ck=''
    case $cfg in
        restore-phys) src=$SRC_PHYS target=$DB_R ;;
        restore-logical) src=$SRC_LOGICAL target=$DB_L ;;
    esac
    rm -rf -- "$src".restore-journal* "$tf"
    if [ ! -d "$src" ]; then
        rc=-1
        notes="${notes:+$notes }error: no backup to restore (every run of its backup failed)"
        row "$cfg" "$i" "$rc" '' '' '' '' '' '' '' '' "$notes"
        return 0
    fi
    t0=$(now)
    case $cfg in
        restore-phys)
            T "$tf" "$MDLSAFE" restore --defaults-file "$CNF" --physical "$src" --rename "$DB:$DB_R" --json \
                >"$log.json" 2>"$log.err" || rc=$?
            ;;
        restore-logical)
            T "$tf" "$MDLSAFE" restore --defaults-file "$CNF" "$src" --rename "$DB:$DB_L" -j 2 --json \
                >"$log.json" 2>"$log.err" || rc=$?
            ;;
    esac
    t1=$(now)
    wall=$(sub "$t0" "$t1")
    step1=$(json_num duration_seconds "$log.json")
    rss=$(rss_of "$tf")
    if [ "$rc" -ne 0 ]; then
        e=$(first_err "$log.err")
        notes="${notes:+$notes }error: ${e:-exit $rc, see $log.err}"
        say "run $i $cfg FAILED (exit $rc): ${e:-see $log.err}"
    else
        if [ "$CHECKSUM" = 1 ]; then
            checksums "$target" >"$log.checksums"
            if cmp -s "$WORK/checksums-orig" "$log.checksums"; then ck=ok; else
                ck=DIFFERENT
                RESTORE_BAD=$((RESTORE_BAD + 1))
                say "run $i $cfg: CHECKSUM TABLE of $target differs from $DB:"
                diff "$WORK/checksums-orig" "$log.checksums" >&2 || true
            fi
        fi
        say "run $i $cfg: wall ${wall}s${ck:+ checksums $ck}"
    fi
    row "$cfg" "$i" "$rc" "$wall" "$step1" '' '' '' "$IBD_BYTES" "$rss" "" "${ck:+checksums=$ck }$notes"
}
RESTORE_BAD=0
if [ "$DO_RESTORE" = 1 ]; then
    if [ "$CHECKSUM" = 1 ]; then
        say "CHECKSUM TABLE ... EXTENDED of $DB (reference for the restores)"
        checksums "$DB" >"$WORK/checksums-orig"
        cp "$WORK/checksums-orig" "$LOGS/phys-checksums-orig"
    fi
    for ((i = 1; i <= RUNS; i++)); do
        for cfg in "${RESTORE_CONFIGS[@]}"; do
            sql "DROP DATABASE IF EXISTS $DB_R; DROP DATABASE IF EXISTS $DB_L"
            purge_binlogs # the logical restore writes GiBs of binary log
            notes=$(before_run)
            restore_run "$cfg" "$i" "$notes"
        done
    done
    sql "DROP DATABASE IF EXISTS $DB_R; DROP DATABASE IF EXISTS $DB_L"
    purge_binlogs
fi
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

### Report
# colstat CONFIG COLUMN median|max: over the runs that succeeded; FAIL when none did.
colstat() {
    awk -F'\t' -v c="$1" -v k="$2" -v how="$3" 'NR > 1 && $1 == c && $3 == 0 && $k != "" { v[n++] = $k + 0 }
        END {
            if (n == 0) { print "FAIL"; exit }
            for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
            if (how == "max") print v[n - 1]
            else if (n % 2) print v[(n - 1) / 2]
            else print (v[n / 2 - 1] + v[n / 2]) / 2
        }' "$TSV"
}
n_ok() { awk -F'\t' -v c="$1" 'NR > 1 && $1 == c && $3 == 0' "$TSV" | wc -l; }
n_all() { awk -F'\t' -v c="$1" 'NR > 1 && $1 == c' "$TSV" | wc -l; }
fmt() { # value printf-format [divisor]
    case $1 in FAIL | '') echo 'n/a' ;; *) awk -v v="$1" -v f="$2" -v d="${3:-1}" 'BEGIN { printf f, v / d }' ;; esac
}
rate() { # bytes seconds -> MiB/s
    case "$1 $2" in *FAIL* | *n/a*) echo '-'; return ;; esac
    awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0 && b > 0) printf "%.0f", b / 1048576 / s; else print "-" }'
}
okmark() { local ok; ok=$(n_ok "$1"); if [ "$ok" -lt "$(n_all "$1")" ]; then echo " ($ok/$(n_all "$1") ok)"; fi; }
errs() { # distinct errors of a configuration's failed runs
    awk -F'\t' -v c="$1" 'NR > 1 && $1 == c && $3 != 0 { sub(/.*error: /, "", $12); if (!seen[$12]++) print $12 }' "$TSV"
}

{
    echo "## Benchmark: mdlsafe physical backup"
    echo
    echo "$DATE. One run of \`bench/physical.sh\`, configurations interleaved round-robin, median of $RUNS runs each."
    echo
    echo "- Machine: $NPROC CPUs ($CPU_MODEL), $MEM RAM, Linux $KERNEL, $FS; load average at start $LOAD_START, at end $LOAD_END"
    echo "- Server: MariaDB $MARIADB_VERSION (sandbox on the same machine): $SERVER_SETTINGS; clients over the unix socket"
    echo "- Dataset: database \`$DB\`, sysbench ($SYSBENCH_VERSION) oltp schema, $TABLES tables x $TABLE_SIZE rows, **$IBD_FILES .ibd files, $IBD_MIB MiB ($IBD_GIB GiB) on disk** (InnoDB data $((DATA_B / 1048576)) MiB + secondary index $((INDEX_B / 1048576)) MiB, ~$ROWS_EST rows); backups written to the same filesystem"
    echo "- Cache: $CACHE_NOTE. Before every run the buffer pool's dirty pages are flushed, then \`sync\`, then a wait for a quiet machine"
    echo "- Tools: $MDLSAFE_VERSION (git $GIT_REV); $MBACKUP_VERSION; $CP_VERSION"
    echo
    echo "### Backup of \`$DB\` (median of $RUNS runs)"
    echo
    echo "| configuration | wall s | freeze ms | copied MiB | MiB/s (wall) | MiB/s (in freeze) | peak RSS MiB | copy |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|"
    for cfg in phys-copy phys-snap-true phys-snap-sync; do
        w=$(colstat "$cfg" 4 median); f=$(colstat "$cfg" 8 median); b=$(colstat "$cfg" 9 median)
        copy=$(awk -F'\t' -v c="$cfg" 'NR > 1 && $1 == c && $3 == 0 { print $11; exit }' "$TSV")
        if [ "$cfg" = phys-copy ]; then rw=$(rate "$b" "$w"); rf=$(rate "$b" "$(awk -v f="$f" 'BEGIN { print (f == "FAIL") ? "FAIL" : f / 1000 }')"); else rw='-'; rf='-'; fi
        printf '| `%s` | %s%s | %s | %s | %s | %s | %s | %s |\n' "$(label "$cfg")" "$(fmt "$w" '%.2f')" "$(okmark "$cfg")" \
            "$(fmt "$f" '%.0f')" "$(fmt "$b" '%.1f' 1048576)" "$rw" "$rf" "$(fmt "$(colstat "$cfg" 10 max)" '%.1f' 1024)" "${copy:--}"
    done
    w=$(colstat logical 4 median); b=$(colstat logical 9 median)
    printf '| `%s` (logical, zstd) | %s%s | - | %s (output) | %s | - | %s | - |\n' "$(label logical)" "$(fmt "$w" '%.2f')" "$(okmark logical)" \
        "$(fmt "$b" '%.1f' 1048576)" "$(rate "$IBD_BYTES" "$w")" "$(fmt "$(colstat logical 10 max)" '%.1f' 1024)"
    w=$(colstat cp 4 median); b=$(colstat cp 9 median)
    printf '| `%s` (copy reference) | %s%s | - | %s | %s | - | - | %s |\n' "$(label cp)" "$(fmt "$w" '%.2f')" "$(okmark cp)" \
        "$(fmt "$b" '%.1f' 1048576)" "$(rate "$b" "$w")" "cp --reflink=auto"
    echo
    echo "MiB/s (wall) = bytes copied (logical: the .ibd size) / wall. MiB/s (in freeze) = bytes_copied / freeze_ms"
    echo "from mdlsafe's JSON: the copy happens while \`$DB\` is frozen (FLUSH TABLES ... FOR EXPORT); the copies"
    echo "are fsynced after the unlock (inside wall, not freeze), so compare wall with cp + sync. Freeze ms and copied MiB come from"
    echo "\`--json\`. Peak RSS: \`/usr/bin/time -f %M\`, largest of the runs."
    echo
    echo "### mariadb-backup (median of $RUNS runs)"
    echo
    echo "| step | s |"
    echo "|---|---:|"
    printf '| `mariadb-backup --backup --databases=%s` | %s |\n' "$DB" "$(fmt "$(colstat mariabackup 5 median)" '%.2f')"
    printf '| `sync` after it (it does not fsync its files) | %s |\n' "$(fmt "$(colstat mariabackup 6 median)" '%.2f')"
    printf '| `mariadb-backup --prepare --export` | %s |\n' "$(fmt "$(colstat mariabackup 7 median)" '%.2f')"
    printf '| **total**%s | **%s** |\n' "$(okmark mariabackup)" "$(fmt "$(colstat mariabackup 4 median)" '%.2f')"
    printf '| output MiB (after --backup; includes ibdata1 and the redo log) | %s |\n' "$(fmt "$(colstat mariabackup 9 median)" '%.0f' 1048576)"
    echo
    echo "### Targets"
    echo
    f=$(colstat phys-copy 8 median); b=$(colstat phys-copy 9 median); cw=$(colstat cp 4 median); cb=$(colstat cp 9 median)
    if [ "$f" != FAIL ] && [ "$cw" != FAIL ]; then
        awk -v f="$f" -v b="$b" -v cw="$cw" -v cb="$cb" 'BEGIN {
            m = b / 1048576 / (f / 1000); c = cb / 1048576 / cw
            printf "- Copy throughput: mdlsafe in freeze **%.0f MiB/s** (bytes_copied / freeze_ms) vs `cp` + `sync` **%.0f MiB/s** = **%.0f %%** (target >= 90 %%)\n", m, c, 100 * m / c }'
    else
        echo "- Copy throughput: n/a (mdlsafe physical or cp failed)"
    fi
    for cfg in phys-snap-true phys-snap-sync; do
        f=$(colstat "$cfg" 8 median); fm=$(colstat "$cfg" 8 max)
        if [ "$f" != FAIL ]; then
            printf -- "- Freeze with %s: median **%.0f ms**, worst %.0f ms (target < 1000 ms whatever the size)\n" "\`--snapshot-cmd '${cfg#phys-snap-}'\`" "$f" "$fm"
        else
            printf -- "- Freeze with %s: n/a\n" "\`--snapshot-cmd '${cfg#phys-snap-}'\`"
        fi
    done
    w=$(colstat phys-copy 4 median); l=$(colstat logical 4 median); m=$(colstat mariabackup 4 median)
    if [ "$w" != FAIL ] && [ "$l" != FAIL ]; then
        awk -v w="$w" -v l="$l" 'BEGIN { printf "- Backup wall: physical / logical = %.2f (%.1fx faster)\n", w / l, l / w }'
    fi
    if [ "$w" != FAIL ] && [ "$m" != FAIL ]; then
        awk -v w="$w" -v m="$m" 'BEGIN { printf "- Backup wall: physical / mariadb-backup (backup + sync + prepare) = %.2f\n", w / m }'
    fi
    echo
    if [ "$DO_RESTORE" = 1 ]; then
        echo "### Restore into a new database (median of $RUNS runs)"
        echo
        echo "| configuration | wall s | MiB/s | peak RSS MiB | CHECKSUM TABLE |"
        echo "|---|---:|---:|---:|---|"
        for cfg in "${RESTORE_CONFIGS[@]}"; do
            w=$(colstat "$cfg" 4 median)
            nck=$(awk -F'\t' -v c="$cfg" 'NR > 1 && $1 == c && $12 ~ /checksums=ok/' "$TSV" | wc -l)
            nbad=$(awk -F'\t' -v c="$cfg" 'NR > 1 && $1 == c && $12 ~ /checksums=DIFFERENT/' "$TSV" | wc -l)
            if [ "$CHECKSUM" = 0 ]; then ckd='not checked'
            elif [ "$nbad" -gt 0 ]; then ckd="**DIFFERENT** ($nbad runs)"
            elif [ "$nck" -gt 0 ]; then ckd="equal ($nck/$(n_all "$cfg") runs)"
            else ckd='-'; fi
            if [ "$w" = FAIL ]; then
                printf '| `%s` | n/a: %s | - | - | - |\n' "$(label "$cfg")" "$(errs "$cfg" | head -n1)"
            else
                printf '| `%s` | %s%s | %s | %s | %s |\n' "$(label "$cfg")" "$(fmt "$w" '%.2f')" "$(okmark "$cfg")" \
                    "$(rate "$IBD_BYTES" "$w")" "$(fmt "$(colstat "$cfg" 10 max)" '%.1f' 1024)" "$ckd"
            fi
        done
        echo
        echo "Sources: the last physical and the last logical backup of the runs above. \`$DB_R\` and \`$DB_L\` are"
        echo "dropped and the binary logs purged before every run. MiB/s = .ibd size of \`$DB\` / wall. The logical"
        echo "restore writes the rows to the binary log (on, ROW). CHECKSUM TABLE: after every run (untimed), every"
        echo "restored table's \`CHECKSUM TABLE ... EXTENDED\` must equal the original's."
        echo
    fi
    failed=""
    all_configs=("${BACKUP_CONFIGS[@]}")
    [ "$DO_RESTORE" = 1 ] && all_configs+=("${RESTORE_CONFIGS[@]}")
    for cfg in "${all_configs[@]}"; do
        while IFS= read -r e; do
            [ -n "$e" ] && failed="$failed- \`$(label "$cfg")\`: $e"$'\n'
        done < <(errs "$cfg")
    done
    if [ -n "$failed" ]; then
        echo "### Failures"
        echo
        printf '%s' "$failed"
        echo
    fi
    echo "<details><summary>every run</summary>"
    echo
    echo '```'
    column -t -s $'\t' "$TSV" 2>/dev/null || cat "$TSV"
    echo '```'
    echo
    echo "</details>"
} >"$OUT_MD.new"
mv -f "$OUT_MD.new" "$OUT_MD"
cat "$OUT_MD"
say "results: $OUT_MD (runs: $TSV; logs: $LOGS/phys-*)"
[ "$RESTORE_BAD" -eq 0 ] || die "RESTORE IS WRONG: CHECKSUM TABLE differs in $RESTORE_BAD restore run(s) (see $TSV and $LOGS/phys-*.checksums)"
