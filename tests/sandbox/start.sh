#!/usr/bin/env bash
# Start (or reuse) a throwaway MariaDB server for mdlsafe's tests.
# Everything lives in $SANDBOX_DIR (default <repo>/.sandbox); the system
# server, /var/lib/mysql and /etc/mysql are never used or touched.
# See tests/sandbox/README.md.
set -euo pipefail

# shellcheck source=tests/sandbox/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

NOPROC_PASSWORD='noproc-pw'
# --keep-data: start the server again on the datadir a plain stop.sh left
# (tests that restart the server under a running mdlsafe use it).
KEEP_DATA=0
[ "${1:-}" = --keep-data ] && KEEP_DATA=1
MARKER="$SANDBOX_DIR/.mdlsafe-sandbox"
SETUP_DONE="$SANDBOX_DIR/.setup-done"
WAIT_SECS=60

say() { printf 'sandbox: %s\n' "$*"; }
die() { printf 'sandbox: error: %s\n' "$*" >&2; exit 1; }

find_prog() { # first of the given names found in PATH or /usr/sbin, /usr/bin
    local name dir
    for name in "$@"; do
        if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
        for dir in /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin; do
            if [ -x "$dir/$name" ]; then printf '%s\n' "$dir/$name"; return 0; fi
        done
    done
    return 1
}

MARIADBD=$(find_prog mariadbd mysqld) || die "mariadbd not found (run scripts/install-deps.sh)"
INSTALL_DB=$(find_prog mariadb-install-db mysql_install_db) || die "mariadb-install-db not found (run scripts/install-deps.sh)"
ADMIN=$(find_prog mariadb-admin mysqladmin) || die "mariadb-admin not found (run scripts/install-deps.sh)"
CLIENT=$(find_prog mariadb mysql) || die "mariadb client not found (run scripts/install-deps.sh)"

# Pid of *this* sandbox's mariadbd (pidfile + live process whose command line
# names our datadir), or nothing.
sandbox_pid() {
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

# `ping` exits 0 whenever the server is up, even if access is denied.
ping_server() {
    [ -S "$SANDBOX_SOCKET" ] || return 1
    "$ADMIN" --no-defaults --protocol=socket -S "$SANDBOX_SOCKET" -uroot \
        --connect-timeout=2 ping >/dev/null 2>&1
}

# Refuse to operate on a directory that is obviously not a sandbox.
check_sandbox_dir() {
    local dir root
    [ -n "$SANDBOX_DIR" ] || die "SANDBOX_DIR is empty"
    dir=$(realpath -m -- "$SANDBOX_DIR")
    root=$(realpath -m -- "$MDLSAFE_ROOT")
    case $dir in
        / | /var/lib/mysql | /var/lib/mysql/* | /var/lib | /var | /etc | /etc/* | /usr | /usr/* | /tmp | /home)
            die "refusing to use SANDBOX_DIR=$SANDBOX_DIR (resolves to $dir)" ;;
    esac
    if [ -n "${HOME:-}" ] && [ "$dir" = "$(realpath -m -- "$HOME")" ]; then
        die "refusing to use SANDBOX_DIR=$SANDBOX_DIR: it is \$HOME"
    fi
    case $root/ in
        "$dir"/*) die "refusing to use SANDBOX_DIR=$SANDBOX_DIR: it contains the repository" ;;
    esac
    # Only wipe a directory that is absent, empty, or made by us earlier.
    if [ -e "$SANDBOX_DIR" ] && [ ! -e "$MARKER" ] &&
        [ -n "$(ls -A -- "$SANDBOX_DIR" 2>/dev/null)" ]; then
        die "refusing to wipe $SANDBOX_DIR: not empty and has no $(basename "$MARKER") marker"
    fi
}

sql_str() { # SQL single-quoted string literal
    local s=${1//\\/\\\\}
    s=${s//\'/\\\'}
    printf "'%s'" "$s"
}

cnf_value() { # value for a my.cnf option line
    local s=$1
    case $s in *$'\n'*) die "passwords with newlines are not supported" ;; esac
    s=${s//\\/\\\\}
    case $s in
        *\"*\'* | *\'*\"*) die "passwords with both quote characters are not supported" ;;
        *\"*) printf "'%s'" "$s" ;;
        *) printf '"%s"' "$s" ;;
    esac
}

write_cnf() { # file user password
    local tmp="$1.tmp.$$"
    (
        umask 077
        {
            printf '# written by tests/sandbox/start.sh\n[client]\n'
            printf 'user=%s\n' "$2"
            printf 'password=%s\n' "$(cnf_value "$3")"
            printf 'socket=%s\n' "$SANDBOX_SOCKET"
            printf 'port=%s\n' "$SANDBOX_PORT"
        } >"$tmp"
    )
    chmod 0600 "$tmp"
    mv -f "$tmp" "$1"
}

# Accounts, test database and client option files. Safe to re-run.
setup_server() {
    local sock_args=(--no-defaults --protocol=socket -S "$SANDBOX_SOCKET" -uroot)
    local conn=() extra_drops pw
    pw=$(sql_str "$SANDBOX_ROOT_PASSWORD")

    write_cnf "$SANDBOX_CNF" root "$SANDBOX_ROOT_PASSWORD"
    write_cnf "$SANDBOX_NOPROC_CNF" noproc "$NOPROC_PASSWORD"

    # Fresh datadir from `mariadb-install-db --auth-root-authentication-method=normal`:
    # root@localhost has no password. On a re-run it already has ours.
    if "$CLIENT" "${sock_args[@]}" -e 'SELECT 1' >/dev/null 2>&1; then
        conn=("${sock_args[@]}")
    elif "$CLIENT" --defaults-file="$SANDBOX_CNF" --protocol=socket -e 'SELECT 1' >/dev/null 2>&1; then
        conn=(--defaults-file="$SANDBOX_CNF" --protocol=socket)
    else
        die "cannot log in as root@localhost via $SANDBOX_SOCKET (neither without password nor with SANDBOX_ROOT_PASSWORD)"
    fi

    # install-db also creates passwordless root@<hostname> and root@::1: drop them.
    extra_drops=$("$CLIENT" "${conn[@]}" -N -B -e \
        "SELECT CONCAT('DROP USER ', QUOTE(user), '@', QUOTE(host), ';') FROM mysql.user WHERE user = 'root' AND host NOT IN ('localhost', '127.0.0.1')") ||
        die "cannot list root accounts"

    "$CLIENT" "${conn[@]}" <<SQL || die "account setup SQL failed"
SET SESSION sql_log_bin = 0;
ALTER USER 'root'@'localhost' IDENTIFIED BY $pw;
CREATE OR REPLACE USER 'root'@'127.0.0.1' IDENTIFIED BY $pw;
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
$extra_drops
CREATE DATABASE IF NOT EXISTS mdlsafe_test;
CREATE OR REPLACE USER 'noproc'@'localhost' IDENTIFIED BY $(sql_str "$NOPROC_PASSWORD");
CREATE OR REPLACE USER 'noproc'@'127.0.0.1' IDENTIFIED BY $(sql_str "$NOPROC_PASSWORD");
GRANT SELECT ON mdlsafe_test.* TO 'noproc'@'localhost';
GRANT SELECT ON mdlsafe_test.* TO 'noproc'@'127.0.0.1';
SQL

    "$CLIENT" --defaults-file="$SANDBOX_CNF" -e 'SELECT 1' >/dev/null 2>&1 ||
        die "root login with $SANDBOX_CNF failed after setup"
    : >"$SETUP_DONE"
}

report() { # prefix
    local version
    version=$("$CLIENT" --defaults-file="$SANDBOX_CNF" -N -B -e 'SELECT VERSION()' 2>/dev/null) || version='?'
    printf '%s MariaDB %s running: socket=%s port=%s\n' "$1" "$version" "$SANDBOX_SOCKET" "$SANDBOX_PORT"
}

# Close every inherited fd above 2 so the server never holds a caller's pipe
# open (make's $(shell ...), `out=$(...)`, bats' fd 3, jobserver fds).
close_inherited_fds() {
    local fd
    for fd in /proc/"$BASHPID"/fd/*; do
        fd=${fd##*/}
        case $fd in '' | *[!0-9]*) continue ;; esac
        [ "$fd" -le 2 ] && continue
        eval "exec $fd>&-" 2>/dev/null || true
    done
}

### 1. Already running?
case $SANDBOX_PORT in '' | *[!0-9]*) die "SANDBOX_PORT must be a number, got '$SANDBOX_PORT'" ;; esac

if pid=$(sandbox_pid); then
    for ((i = 0; i < WAIT_SECS * 2; i++)); do
        ping_server && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    if ping_server; then
        if [ ! -e "$SETUP_DONE" ] || [ ! -r "$SANDBOX_CNF" ]; then
            setup_server
        fi
        report "sandbox already up:"
        exit 0
    fi
    if kill -0 "$pid" 2>/dev/null; then
        die "sandbox mariadbd (pid $pid) is alive but does not answer on $SANDBOX_SOCKET; run tests/sandbox/stop.sh"
    fi
fi
if ping_server; then
    die "a server answers on $SANDBOX_SOCKET but $SANDBOX_PIDFILE does not name it; run tests/sandbox/stop.sh"
fi

### 2. Pre-flight checks
if [ "${#SANDBOX_SOCKET}" -gt 107 ]; then
    die "socket path too long for a unix socket (${#SANDBOX_SOCKET} > 107 bytes): $SANDBOX_SOCKET; set SANDBOX_DIR or SANDBOX_SOCKET to a shorter path"
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$SANDBOX_PORT") 2>/dev/null; then
    die "something already listens on 127.0.0.1:$SANDBOX_PORT; set SANDBOX_PORT to a free port"
fi
check_sandbox_dir

user_args=()
if [ "$(id -u)" -eq 0 ]; then
    user_args=(--user="$(id -un)") # root must name itself, or mariadbd refuses to run
fi

### 3. Fresh sandbox directory and datadir (or the kept one)
if [ "$KEEP_DATA" -eq 1 ] && [ -e "$MARKER" ] && [ -d "$SANDBOX_DATADIR/mysql" ]; then
    say "starting again on the kept datadir $SANDBOX_DATADIR"
else
rm -rf -- "$SANDBOX_DIR"
mkdir -p -- "$SANDBOX_DIR"
chmod 0700 -- "$SANDBOX_DIR"
: >"$MARKER"
printf '*\n' >"$SANDBOX_DIR/.gitignore" # keep the sandbox out of `git status`
mkdir -p -- "$SANDBOX_DIR/binlog" "$SANDBOX_DIR/files" "$SANDBOX_DIR/tmp" \
    "$(dirname "$SANDBOX_DATADIR")" "$(dirname "$SANDBOX_SOCKET")" \
    "$(dirname "$SANDBOX_PIDFILE")" "$(dirname "$SANDBOX_LOG")"

install_log="$SANDBOX_DIR/install-db.log"
if ! "$INSTALL_DB" --no-defaults --datadir="$SANDBOX_DATADIR" \
    --auth-root-authentication-method=normal --skip-test-db \
    ${user_args[@]+"${user_args[@]}"} </dev/null >"$install_log" 2>&1; then
    cat "$install_log" >&2
    die "mariadb-install-db failed (log: $install_log)"
fi
fi

### 4. Start mariadbd, detached
server_args=(
    --no-defaults
    --datadir="$SANDBOX_DATADIR"
    --socket="$SANDBOX_SOCKET"
    --pid-file="$SANDBOX_PIDFILE"
    --log-error="$SANDBOX_LOG"
    --port="$SANDBOX_PORT"
    --bind-address=127.0.0.1
    --skip-name-resolve
    --performance-schema="$SANDBOX_PERFORMANCE_SCHEMA"
    --log-bin="$SANDBOX_DIR/binlog/mariadb-bin"
    --server-id=1
    --binlog-format=ROW
    # A replica's binlog holds what it applies, so it can take over as the
    # primary an archiver follows (it_pitr_failover).
    --log-slave-updates=ON
    --innodb-buffer-pool-size="$SANDBOX_BUFFER_POOL"
    --innodb-log-file-size=64M
    --max-connections=200
    --secure-file-priv="$SANDBOX_DIR/files"
    --tmpdir="$SANDBOX_DIR/tmp"
    # What Debian's packaged server runs with (50-server.cnf): tests and
    # benchmarks see the character set production servers use.
    --character-set-server=utf8mb4
    --collation-server=utf8mb4_general_ci
)
# --lc-messages-dir is not needed: the compiled-in default (/usr/share/mysql
# on Debian) is used even with --no-defaults.
server_args+=(${user_args[@]+"${user_args[@]}"})

launcher=()
command -v setsid >/dev/null 2>&1 && launcher=(setsid) # own session: immune to the caller's Ctrl-C / SIGHUP
(
    close_inherited_fds
    exec ${launcher[@]+"${launcher[@]}"} nohup "$MARIADBD" "${server_args[@]}" \
        </dev/null >>"$SANDBOX_DIR/mariadbd.out" 2>&1
) &
bg_pid=$!

### 5. Wait for it to answer
up=0
for ((i = 0; i < WAIT_SECS * 2; i++)); do
    if ping_server; then
        up=1
        break
    fi
    kill -0 "$bg_pid" 2>/dev/null || break # died during startup
    sleep 0.5
done
if [ "$up" -ne 1 ]; then
    if kill -0 "$bg_pid" 2>/dev/null; then
        msg="mariadbd did not answer within ${WAIT_SECS}s"
        kill "$bg_pid" 2>/dev/null || true
    else
        msg="mariadbd exited during startup"
    fi
    {
        echo "---- tail of $SANDBOX_LOG ----"
        tail -n 30 "$SANDBOX_LOG" 2>/dev/null || true
        if [ -s "$SANDBOX_DIR/mariadbd.out" ]; then
            echo "---- $SANDBOX_DIR/mariadbd.out ----"
            tail -n 30 "$SANDBOX_DIR/mariadbd.out"
        fi
    } >&2
    die "$msg"
fi

### 6. Accounts and option files
setup_server
report "sandbox"
