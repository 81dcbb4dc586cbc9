/* Helpers for integration tests against the sandbox server: sessions that
 * hold or wait for locks on background threads, and running the real binary. */
#ifndef MDLSAFE_IT_HARNESS_H
#define MDLSAFE_IT_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <mysql.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

/* Option file of the sandbox (MDLSAFE_TEST_CNF), as root. */
const char *it_cnf(void);
/* Option file of a user without the PROCESS privilege (MDLSAFE_TEST_NOPROC_CNF). */
const char *it_noproc_cnf(void);

/* Option file of the second sandbox server (MDLSAFE_TEST_CNF_B), as root:
 * performance_schema is OFF there, as MariaDB ships. */
const char *it_cnf_b(void);

/* A new root connection to the sandbox (server B); fails the test when
 * impossible. */
MYSQL *it_connect(void);
MYSQL *it_connect_b(void);
/* Runs SQL, failing the test on error. */
void it_exec(MYSQL *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The binlog file the server writes now (SHOW MASTER STATUS; caller frees);
 * fails the test without a binary log. */
char *it_binlog_file(MYSQL *m);
/* Runs SQL and returns the first column of the first row (caller frees), or NULL. */
char *it_value(MYSQL *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
unsigned long it_id(MYSQL *m);

/* A statement running on its own connection in a background thread. */
struct it_bg {
	pthread_t thread;
	MYSQL *m;
	unsigned long id;
	char *sql;
	unsigned err;      /* mysql errno after it finished, 0 on success */
	bool done;
};
struct it_bg *it_bg_start(const char *sql);
/* The same on the connection m, which it_bg_join closes. */
struct it_bg *it_bg_start_on(MYSQL *m, const char *sql);
/* Waits for the statement to finish; returns its mysql errno (0 = ok), closes it. */
unsigned it_bg_join(struct it_bg *b);

/* Polls the processlist until session `id` shows a state containing `state`;
 * fails the test after `timeout_s`. */
void it_wait_state(MYSQL *m, unsigned long id, const char *state, double timeout_s);

/* InnoDB refreshes INNODB_TRX from a cache at most every 100 ms: a
 * transaction younger than that may not be listed yet. Real incidents last
 * seconds; tests wait this long before inspecting. */
void it_settle(void);

struct it_run {
	int status;   /* exit code, or 128+signal */
	char *out;
	char *err;
};
/* Runs build/mdlsafe (MDLSAFE_BIN) with the given NULL-terminated arguments,
 * capturing stdout/stderr. If `with_cnf`, appends --defaults-file=<sandbox>. */
void it_mdlsafe(struct it_run *r, bool with_cnf, ...);
void it_run_release(struct it_run *r);

/* An mdlsafe left running, for tests that act while it runs: signals,
 * /proc/PID, a terminal. */
struct it_child {
	pid_t pid;
	int out_fd, err_fd;   /* its stdout and stderr, read by it_mdlsafe_finish */
};
/* Starts MDLSAFE_BIN with `args` (NULL-terminated, without the program name)
 * in a session of its own, stdin /dev/null, stdout and stderr to pipes. If
 * `tty` names a terminal (e.g. from it_pty_open), it becomes the child's
 * controlling terminal, the one /dev/tty opens; otherwise the child has no
 * controlling terminal, as under CI, even when the tests run from one. */
void it_mdlsafe_start(struct it_child *c, const char *const *args, const char *tty);
/* Sends `sig` to the child (0: none), then collects its output and exit
 * status into r. A child still running after timeout_s is killed and the
 * test fails. */
void it_mdlsafe_finish(struct it_child *c, int sig, double timeout_s, struct it_run *r);

/* Opens a new pseudo-terminal: returns its master (close-on-exec) and puts
 * the path of its slave, for it_mdlsafe_start, in name. */
int it_pty_open(char *name, size_t n);
/* Appends what fd yields to buf (cap bytes, kept NUL-terminated; *len is
 * the length so far) until `want` occurs in buf, or, when want is NULL,
 * until end of file or a read error (a pty master reads EIO once the slave
 * is closed). Gives up after timeout_s; returns whether it got there. */
bool it_read_until(int fd, char *buf, size_t cap, size_t *len, const char *want, double timeout_s);

/* Parses r->out as JSON, failing the test if it is not. */
json_t *it_json(const struct it_run *r);

/* Finds the element of a JSON array whose "id" equals id, or NULL. */
json_t *it_find_id(json_t *array, unsigned long id);

/* Creates a fresh database `name` with InnoDB tables t1, t2 (id, v) of 10 rows. */
void it_fresh_db(MYSQL *m, const char *name);

/* Sets the lock source the server offers: performance_schema instrument on or
 * off, metadata_lock_info plugin installed or not. */
void it_set_sources(MYSQL *m, bool pfs_instrument, bool plugin);

/* Creates database `db` (dropped first) with the table `all types`: every
 * column type mdlsafe handles, generated and invisible columns, a weird
 * column name, and 5 rows of edge values (minimums, maximums, every byte,
 * NULLs, zero dates, float edges, a 3 MiB LONGBLOB). Leaves m using db. */
void it_fill_all_types(MYSQL *m, const char *db);

/* Sleeps ms milliseconds; a monotonic clock in seconds, for timing waits. */
void it_sleep_ms(int ms);
double it_now(void);

/* How far past the stall budget a measured wait may go in a test: the
 * watchdog's poll and the 100 ms it allows for a release, a rollback of at
 * most one commit unit, and scheduling on a busy 2-core CI machine. One
 * number for every test that measures an application's wait; the budgets
 * themselves are measured, without slack, by bench/. */
#define IT_STALL_SLACK_S 0.3

/* Fails the test when waited_s > budget_s + IT_STALL_SLACK_S, naming what
 * waited and both numbers. */
void it_assert_within_budget(double waited_s, double budget_s, const char *what);

#endif
