/* The rule, as a thread: a second connection watches the tables our sessions
 * hold and interrupts the holder (KILL QUERY) once anyone else has waited on
 * one of them for close to the stall budget. The holder then yields. */
#ifndef MDLSAFE_WATCHDOG_H
#define MDLSAFE_WATCHDOG_H

#include <stdbool.h>

#include "db/db.h"
#include "util/error.h"

struct watchdog;

struct watchdog_opts {
	double max_stall_s;   /* the budget: nobody waits on us longer than this */
	double poll_s;        /* how often to look (default 0.1 s) */
};

/* What the watchdog saw and did when it made one of our sessions yield. */
struct watchdog_yield {
	unsigned long victim_id;       /* our session that was interrupted */
	char schema[DB_NAME_MAX + 1], table[DB_NAME_MAX + 1];
	unsigned long long waiter_id;  /* the session that waited */
	double waited_s;
	char waiter_statement[160];
};

typedef void (*watchdog_yield_fn)(void *ctx, const struct watchdog_yield *y);

/* Opens the watchdog's own connection and starts its thread. `on_yield` is
 * called from the watchdog thread after each KILL QUERY it sends. `p` is
 * borrowed and must outlive the watchdog (it reconnects with it). */
int watchdog_start(struct watchdog **out, const struct db_params *p, const struct watchdog_opts *o,
		   watchdog_yield_fn on_yield, void *ctx, struct ms_err *e);

/* Session `id` (ours) now holds a metadata lock on schema.table. Thread-safe;
 * a session holds at most one watched table at a time (a new call replaces). */
void watchdog_hold(struct watchdog *w, unsigned long id, const char *schema, const char *table);
/* Session `id` holds nothing any more. */
void watchdog_release(struct watchdog *w, unsigned long id);

/* Our sessions the watchdog must never count as waiters (workers, coordinator). */
void watchdog_ignore(struct watchdog *w, unsigned long id);

unsigned watchdog_yields(struct watchdog *w);
/* Polls that failed (each followed by a reconnect). */
unsigned watchdog_poll_errors(struct watchdog *w);

/* Stops the thread and closes the connection; returns the first error the
 * thread met (e.g. lost connection), 0 if none. */
int watchdog_stop(struct watchdog *w, struct ms_err *e);

#endif
