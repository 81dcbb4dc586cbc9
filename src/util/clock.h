/* The one clock mdlsafe measures budgets, deadlines and durations with.
 * Wall-clock seconds, because deadlines also feed pthread_cond_timedwait. */
#ifndef MDLSAFE_CLOCK_H
#define MDLSAFE_CLOCK_H

#include <signal.h>

/* Seconds since the epoch (CLOCK_REALTIME), as a double. Some values are
 * printed as dates and turned into pthread_cond_timedwait deadlines, so this
 * is the wall clock, not CLOCK_MONOTONIC. */
double ms_now(void);

/* Sleeps s seconds (nothing when s <= 0). */
void ms_sleep(double s);

/* Sleeps s seconds in steps of at most 0.2 s, returning early once *stop is
 * set: a long wait a signal handler can end promptly. */
void ms_nap(double s, const volatile sig_atomic_t *stop);

#endif
