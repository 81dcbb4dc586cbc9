#!/usr/bin/env bash
# `make demo`: replays seed 004 on a throwaway server. One idle transaction,
# a CREATE INDEX stuck behind it, SELECTs queued behind the CREATE INDEX;
# `mdlsafe locks` names the culprit and the KILL; we run it; the table thaws.
# Then the same incident under `mdlsafe ddl`, a copy-only change with
# `ddl --online`, and the main job: a backup of the live server, verified,
# restored beside it and swapped in.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
MDLSAFE="$PWD/$BUILD/mdlsafe"

. tests/sandbox/env.sh
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    bash tests/sandbox/stop.sh --wipe >/dev/null 2>&1 || true
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
sql() { mariadb --defaults-file="$SANDBOX_CNF" "$@"; }

step "Starting a throwaway MariaDB server in $SANDBOX_DIR"
bash tests/sandbox/start.sh
sql < tests/sandbox/sample.sql
# A DBA who wants exact answers enables this instrument in my.cnf; on a stock
# server mdlsafe falls back to the processlist and marks holders as candidates.
"$MDLSAFE" locks --defaults-file="$SANDBOX_CNF" --enable-instrumentation >/dev/null

step "Seed 004: an application session opens a transaction, reads shop.users, goes idle"
(echo "BEGIN; SELECT id FROM shop.users WHERE id = 1;"; sleep 60) | sql >/dev/null &
pids+=($!)
sleep 0.5
step "A DBA runs CREATE INDEX ... ALGORITHM=INPLACE LOCK=NONE: it waits for a metadata lock"
sql -e "CREATE INDEX IDX__users__email ON shop.users (email) ALGORITHM=INPLACE LOCK=NONE" &
pids+=($!)
sleep 0.5
step "Application queries on shop.users now queue behind the CREATE INDEX"
for i in 1 2 3; do
    sql -e "SELECT COUNT(*) FROM shop.users WHERE username LIKE 'user$i%'" >/dev/null &
    pids+=($!)
done
sleep 2

step "mdlsafe locks"
"$MDLSAFE" locks --defaults-file="$SANDBOX_CNF" | tee "$SANDBOX_DIR/locks.txt"

kill_stmt=$(grep -o 'KILL [0-9]*;' "$SANDBOX_DIR/locks.txt" | head -n 1)
[ -n "$kill_stmt" ] || { echo "demo: mdlsafe named no root blocker" >&2; exit 1; }
step "Running what mdlsafe suggests: $kill_stmt"
sql -e "$kill_stmt"
sleep 1

step "mdlsafe locks, again"
"$MDLSAFE" locks --defaults-file="$SANDBOX_CNF"
sql -e "SHOW INDEX FROM shop.users WHERE Key_name = 'IDX__users__email'" | grep -q IDX__users__email &&
    echo "The CREATE INDEX completed and the queued SELECTs ran."
step "The same incident with mdlsafe ddl: it gives way every --max-stall and names the blocker"
(echo "BEGIN; SELECT id FROM shop.users WHERE id = 1;"; sleep 3; echo "COMMIT;") | sql >/dev/null &
pids+=($!)
sleep 0.5
"$MDLSAFE" ddl --defaults-file="$SANDBOX_CNF" -D shop "CREATE INDEX IDX__users__name ON users (username)"
echo "The idle transaction committed after 3 s. Each wait of the CREATE INDEX lasted at most the budget, so no query on shop.users queued behind it for longer."

step "mdlsafe ddl --online: INT -> BIGINT, a change only a copy of the table can make, while a transaction holds it"
(echo "BEGIN; SELECT id FROM shop.orders WHERE id = 1;"; sleep 2; echo "COMMIT;") | sql >/dev/null &
pids+=($!)
sleep 0.5
"$MDLSAFE" ddl --online --defaults-file="$SANDBOX_CNF" "ALTER TABLE shop.orders MODIFY user_id BIGINT NOT NULL"
sql -e "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'orders' AND COLUMN_NAME = 'user_id'" | grep -q bigint &&
    echo "shop.orders was copied into its new shape and swapped in; no query on it waited longer than the budget."

step "mdlsafe backup: a consistent backup of the live server, then verify it"
rm -rf "$SANDBOX_DIR/backup" "$SANDBOX_DIR/backup.partial"
"$MDLSAFE" backup --defaults-file="$SANDBOX_CNF" -B shop -o "$SANDBOX_DIR/backup" --json |
    grep -E '"(status|tables|rows|bytes|stored_bytes|yields|method|binlog_file|binlog_position|gtid|commit_block_ms)"'
"$MDLSAFE" verify "$SANDBOX_DIR/backup"
echo "Files (restorable by hand: zstdcat shop/T.*.sql.zst | mariadb DB):"
(cd "$SANDBOX_DIR/backup" && find . -type f | sort | sed 's/^/  /')

step "mdlsafe restore: the backup as shop_copy, then swapped over the live shop"
sql -e "DROP DATABASE IF EXISTS shop_copy"
"$MDLSAFE" restore "$SANDBOX_DIR/backup" --defaults-file="$SANDBOX_CNF" --rename shop:shop_copy --verify
sql -e "CHECKSUM TABLE shop.users, shop_copy.users, shop.orders, shop_copy.orders"
"$MDLSAFE" restore "$SANDBOX_DIR/backup" --defaults-file="$SANDBOX_CNF" --if-exists swap

step "Stopping the server"
