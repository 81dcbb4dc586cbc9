#!/usr/bin/env bash
# mdlsafe benchmark, online schema change: INT -> BIGINT on a sysbench-sized
# table (`ALTER TABLE sbtest1 MODIFY k BIGINT NOT NULL DEFAULT 0`, a change the
# server can only make by copying the table) with plain ALTER (ALGORITHM=COPY),
# pt-online-schema-change and `mdlsafe ddl --online`, while the application's
# probe reads and writes the table every 20 ms and sysbench's oltp_read_write
# runs against it at a fixed rate. Each tool runs three times: alone; with one
# idle transaction that read the table 0.5 s before the tool started and stays
# open BENCH_ONLINE_IDLE_S seconds ("yes"); and with the same transaction
# arriving mid-run ("mid"), once the shadow table holds BENCH_ONLINE_MID_PCT
# percent of the rows, so that it is open when the tool swaps the tables and
# drops its triggers (plain ALTER has no shadow table: it skips "mid").
# See bench/README.md.
#
#   bash bench/online_ddl.sh [BUILD_DIR]
#   BENCH_ONLY=online bash bench/run.sh [BUILD_DIR]     (same thing)
#
# Environment (all optional):
#   BENCH_ONLINE_ROWS=1500000        rows of bench_online.sbtest1
#   BENCH_ONLINE_IDLE_S=10           how long the idle transaction stays open
#   BENCH_ONLINE_IDLE_MODES="no yes mid"   which idle-transaction runs to make
#   BENCH_ONLINE_MID_PCT=90          "mid": the copy's progress (percent of the
#                                    rows in the shadow table) at which it arrives
#   BENCH_ONLINE_TOOL_TIMEOUT=1800   seconds before a tool run is killed
#   BENCH_ONLINE_LOAD_TPS=10         sysbench oltp_read_write transactions per
#                                    second (2 threads) during each run; 0: none
#   BENCH_ONLINE_CONFIGS="alter pt-osc mdlsafe"   the tools to run
#   BENCH_RESULTS_DIR=bench/results  online-ddl.md, online-ddl.tsv and logs/online-* go there
#   BENCH_ONLINE_SANDBOX_DIR=<repo>/.sandbox-online  BENCH_ONLINE_SANDBOX_PORT=23406
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"

BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
ROWS=${BENCH_ONLINE_ROWS:-1500000}
IDLE_S=${BENCH_ONLINE_IDLE_S:-10}
MID_PCT=${BENCH_ONLINE_MID_PCT:-90}
read -r -a IDLE_MODES <<<"${BENCH_ONLINE_IDLE_MODES:-no yes mid}"
TOOL_TIMEOUT=${BENCH_ONLINE_TOOL_TIMEOUT:-1800}
LOAD_TPS=${BENCH_ONLINE_LOAD_TPS:-10}
case $LOAD_TPS in '' | *[!0-9]*) echo "bench-online: BENCH_ONLINE_LOAD_TPS must be a number, got '$LOAD_TPS'" >&2; exit 2 ;; esac
for v in ROWS IDLE_S TOOL_TIMEOUT MID_PCT; do
    case ${!v} in '' | *[!0-9]* | 0) echo "bench-online: $v must be a positive integer, got '${!v}'" >&2; exit 2 ;; esac
done

unset SANDBOX_SOCKET SANDBOX_DATADIR SANDBOX_PIDFILE SANDBOX_LOG SANDBOX_CNF SANDBOX_NOPROC_CNF
export SANDBOX_DIR=${BENCH_ONLINE_SANDBOX_DIR:-$ROOT/.sandbox-online}
export SANDBOX_PORT=${BENCH_ONLINE_SANDBOX_PORT:-23406}
export SANDBOX_BUFFER_POOL=${BENCH_ONLINE_BUFFER_POOL:-1G}
# shellcheck source=tests/sandbox/env.sh
. "$ROOT/tests/sandbox/env.sh"
CNF=$SANDBOX_CNF
DB=bench_online
MDLSAFE=$BUILD/mdlsafe
PROBE=$BUILD/bench_probe
RESULTS=${BENCH_RESULTS_DIR:-$ROOT/bench/results}
LOGS=$RESULTS/logs
TSV=$RESULTS/online-ddl.tsv
OUT_MD=$RESULTS/online-ddl.md
ALTER='MODIFY k BIGINT NOT NULL DEFAULT 0'
read -r -a CONFIGS <<<"${BENCH_ONLINE_CONFIGS:-alter pt-osc mdlsafe}"

say() { printf 'bench-online: %s\n' "$*" >&2; }
die() { printf 'bench-online: error: %s\n' "$*" >&2; exit 1; }
sql() { mariadb --defaults-file="$CNF" -N -B -e "$1"; }
jget() { grep -o "\"$2\": [-0-9.]*" "$1" 2>/dev/null | head -n1 | awk '{ print $2 }'; }

[ -x "$MDLSAFE" ] && [ -x "$PROBE" ] || die "build first: $MDLSAFE and $PROBE are needed (make build)"
command -v pt-online-schema-change >/dev/null || die "pt-online-schema-change is missing: scripts/install-deps.sh --bench"
[ "$LOAD_TPS" = 0 ] || command -v sysbench >/dev/null || die "sysbench is missing: scripts/install-deps.sh --bench"
mkdir -p "$LOGS"

BG_PIDS=()
cleanup() {
    for p in "${BG_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    bash "$ROOT/tests/sandbox/stop.sh" --wipe >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bash "$ROOT/tests/sandbox/start.sh" >&2
MARIADB_VERSION=$(sql 'SELECT VERSION()')
PTOSC_VERSION=$(pt-online-schema-change --version 2>&1 | head -n1)

# The sysbench table layout (oltp_common.lua), filled server-side; copied
# fresh from a source table before every run.
say "making $DB.src with $ROWS rows"
sql "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB"
mariadb --defaults-file="$CNF" -D "$DB" -e "
    CREATE TABLE src (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL DEFAULT 0,
                      c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', KEY k_1 (k)) ENGINE=InnoDB;
    INSERT INTO src SELECT seq, FLOOR(RAND(seq) * $ROWS), CONCAT_WS('-', MD5(seq), MD5(seq + 1), MD5(seq + 2)),
                           CONCAT_WS('-', MD5(seq + 3), LEFT(MD5(seq + 4), 20)) FROM seq_1_to_$ROWS;"
TABLE_MIB=$(sql "SELECT ROUND((DATA_LENGTH + INDEX_LENGTH) / 1048576) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '$DB' AND TABLE_NAME = 'src'")

fresh_table() {
    mariadb --defaults-file="$CNF" -D "$DB" -e "DROP TABLE IF EXISTS sbtest1; CREATE TABLE sbtest1 LIKE src;
        INSERT INTO sbtest1 SELECT * FROM src; ANALYZE TABLE sbtest1;" >/dev/null
}

run_tool() { # CONFIG
    local T=(timeout -s TERM "$TOOL_TIMEOUT")
    case $1 in
        # What the server does by itself: writes blocked for the whole copy.
        alter) "${T[@]}" mariadb --defaults-file="$CNF" -D "$DB" -e "ALTER TABLE sbtest1 $ALTER, ALGORITHM=COPY" ;;
        # Defaults, as an operator would run it.
        pt-osc) "${T[@]}" pt-online-schema-change --alter "$ALTER" "F=$CNF,D=$DB,t=sbtest1" --execute ;;
        # Defaults: --max-stall 500, --chunk-time 0.5, nobody killed.
        mdlsafe) "${T[@]}" "$MDLSAFE" ddl --defaults-file="$CNF" --online --json "ALTER TABLE $DB.sbtest1 $ALTER" ;;
    esac
}

# "mid": waits until the copy into the shadow table (both tools name it
# _sbtest1_new, and copy in key order) has passed MID_PCT% of the rows, notes
# when, then reads the table and sits idle in its transaction for IDLE_S
# seconds. The copy has passed a key when the 1000 keys below it are nearly
# all there: the triggers add only a few scattered rows (sysbench deletes
# and re-inserts random ids), which MAX(id) would mistake for progress.
idle_mid() { # BASE
    local want=$((ROWS * MID_PCT / 100)) n
    for _ in $(seq 1 $((TOOL_TIMEOUT * 10))); do
        n=$(sql "SELECT COUNT(*) FROM $DB._sbtest1_new WHERE id BETWEEN $((want - 999)) AND $want" 2>/dev/null) || n=0
        [ "${n:-0}" -ge 900 ] && break
        sleep 0.1
    done
    date +%s.%N >"$1.idle.at"
    mariadb --defaults-file="$CNF" -N -B -e "START TRANSACTION; SELECT id FROM $DB.sbtest1 LIMIT 1; DO SLEEP($IDLE_S); COMMIT"
}

printf 'tool\tidle_trx\trc\tcompleted\twall_s\trows_per_s\tprobe_queries\tprobe_max_ms\tprobe_p99_ms\tprobe_errors\tload_tps\tload_worst_p99_ms\tload_errors\tidle_arrived_s\n' >"$TSV"
for idle in "${IDLE_MODES[@]}"; do
    for cfg in "${CONFIGS[@]}"; do
        [ "$idle:$cfg" != mid:alter ] || continue
        base=$LOGS/online-$cfg-idle-$idle
        say "run: $cfg, idle transaction: $idle"
        fresh_table
        sync
        ready=$SANDBOX_DIR/probe-ready
        rm -f "$ready"
        "$PROBE" -t "$DB.sbtest1" -n "$ROWS" -i 10 -s 100 -r "$ready" "$CNF" "$((TOOL_TIMEOUT + 120))" \
            >"$base.probe.json" 2>"$base.probe.err" &
        probe_pid=$!
        BG_PIDS+=("$probe_pid")
        for _ in $(seq 1 250); do [ -e "$ready" ] && break; sleep 0.02; done
        [ -e "$ready" ] || die "the probe did not connect: $(cat "$base.probe.err")"
        load_pid=''
        if [ "$LOAD_TPS" != 0 ]; then
            # The sysbench load: point and range reads, index and non-index
            # updates, a delete and re-insert per transaction (the row count
            # stays); deadlock and lock-wait errors are counted, not fatal.
            sysbench oltp_read_write --db-driver=mysql --mysql-socket="$SANDBOX_SOCKET" --mysql-user=root \
                --mysql-password="$SANDBOX_ROOT_PASSWORD" --mysql-db="$DB" --tables=1 --table-size="$ROWS" --threads=2 --rate="$LOAD_TPS" \
                --time="$((TOOL_TIMEOUT + 120))" --report-interval=1 --percentile=99 \
                --mysql-ignore-errors=1213,1205 run >"$base.load.log" 2>&1 &
            load_pid=$!
            BG_PIDS+=("$load_pid")
        fi
        sleep 0.5
        [ -z "$load_pid" ] || kill -0 "$load_pid" 2>/dev/null || die "sysbench stopped: $(tail -n 3 "$base.load.log")"
        idle_pid=''
        if [ "$idle" = yes ]; then
            # Reads the table, then sits idle in its transaction.
            mariadb --defaults-file="$CNF" -N -B -e "START TRANSACTION; SELECT id FROM $DB.sbtest1 LIMIT 1; DO SLEEP($IDLE_S); COMMIT" \
                >"$base.idle.out" 2>&1 &
            idle_pid=$!
            BG_PIDS+=("$idle_pid")
            sleep 0.5
        fi
        t0=$(date +%s.%N)
        if [ "$idle" = mid ]; then
            rm -f "$base.idle.at"
            idle_mid "$base" >"$base.idle.out" 2>&1 &
            idle_pid=$!
            BG_PIDS+=("$idle_pid")
        fi
        rc=0
        run_tool "$cfg" >"$base.tool.log" 2>&1 </dev/null || rc=$?
        t1=$(date +%s.%N)
        # Still waiting for the copy to get that far: it never did.
        [ "$idle" != mid ] || [ -e "$base.idle.at" ] || { kill -TERM "$idle_pid" 2>/dev/null || true; }
        sleep 0.5
        kill -TERM "$probe_pid" 2>/dev/null || true
        wait "$probe_pid" 2>/dev/null || true
        [ -z "$load_pid" ] || { kill -TERM "$load_pid" 2>/dev/null || true; wait "$load_pid" 2>/dev/null || true; }
        [ -z "$idle_pid" ] || wait "$idle_pid" 2>/dev/null || true
        BG_PIDS=()
        type=$(sql "SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '$DB' AND TABLE_NAME = 'sbtest1' AND COLUMN_NAME = 'k'")
        n=$(sql "SELECT COUNT(*) FROM $DB.sbtest1")
        completed=no
        [ "$rc" = 0 ] && [ "$type" = bigint ] && [ "$n" = "$ROWS" ] && completed=yes
        wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
        rate=$(awk -v r="$ROWS" -v w="$wall" 'BEGIN { printf "%.0f", r / w }')
        # sysbench's one-second reports while the tool ran: mean tps, the
        # worst second's 99th percentile latency, errors in all.
        load=$(awk '/^\[ *[0-9]+s \]/ { for (i = 1; i <= NF; i++) { if ($i == "tps:") { t += $(i + 1); n++ }
                                                   if ($i == "(ms,99%):" && $(i + 1) > w) w = $(i + 1)
                                                   if ($i == "err/s:") e += $(i + 1) } }
                   END { if (n) printf "%.1f\t%s\t%.0f", t / n, w, e; else printf "-\t-\t-" }' "$base.load.log" 2>/dev/null ||
            printf -- '-\t-\t-')
        case $idle in
            yes) arrived=-0.5 ;;
            mid) arrived=$([ -e "$base.idle.at" ] && awk -v a="$t0" -v b="$(cat "$base.idle.at")" 'BEGIN { printf "%.1f", b - a }' || echo never) ;;
            *) arrived=- ;;
        esac
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cfg" "$idle" "$rc" "$completed" "$wall" "$rate" \
            "$(jget "$base.probe.json" queries)" "$(jget "$base.probe.json" max_ms)" \
            "$(jget "$base.probe.json" p99_ms)" "$(jget "$base.probe.json" errors)" "$load" "$arrived" >>"$TSV"
        say "  $cfg idle=$idle: rc $rc, completed $completed, $wall s, worst probe $(jget "$base.probe.json" max_ms) ms"
    done
done

{
    echo "## Online schema change (bench/online_ddl.sh)"
    echo
    echo "$(date -u +%Y-%m-%d), git $(git -C "$ROOT" rev-parse --short HEAD), $(nproc) CPUs, MariaDB $MARIADB_VERSION, $PTOSC_VERSION."
    echo "\`ALTER TABLE sbtest1 $ALTER\` on $ROWS rows ($TABLE_MIB MiB); probe: point SELECT + UPDATE every 20 ms;"
    echo "sysbench oltp_read_write load: $LOAD_TPS transactions/s, 2 threads (0: none);"
    echo "idle transaction, open $IDLE_S s: \"yes\" read the table 0.5 s before the tool started, \"mid\" once the shadow"
    echo "table held $MID_PCT% of the rows (\"arrived s\": after the tool started)."
    echo
    echo "| tool | idle transaction | arrived s | completed | total s | rows/s | worst probe ms | p99 probe ms | probe errors | load tps | load worst-second p99 ms | load errors |"
    echo "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    tail -n +2 "$TSV" | awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $14, $4, $5, $6, $8, $9, $10, $11, $12, $13 }'
} >"$OUT_MD"
cat "$OUT_MD"
