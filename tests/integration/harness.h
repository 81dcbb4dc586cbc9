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

/* Option file of the sandbox (MDLSAFE_TEST_CNF), as root. */
const char *it_cnf(void);
/* Option file of a user without the PROCESS privilege (MDLSAFE_TEST_NOPROC_CNF). */
const char *it_noproc_cnf(void);

/* A new root connection to the sandbox; fails the test when impossible. */
MYSQL *it_connect(void);
/* Runs SQL, failing the test on error. */
void it_exec(MYSQL *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
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

/* Parses r->out as JSON, failing the test if it is not. */
json_t *it_json(const struct it_run *r);

/* Finds the element of a JSON array whose "id" equals id, or NULL. */
json_t *it_find_id(json_t *array, unsigned long id);

/* Creates a fresh database `name` with InnoDB tables t1, t2 (id, v) of 10 rows. */
void it_fresh_db(MYSQL *m, const char *name);

/* Sets the lock source the server offers: performance_schema instrument on or
 * off, metadata_lock_info plugin installed or not. */
void it_set_sources(MYSQL *m, bool pfs_instrument, bool plugin);

#endif
