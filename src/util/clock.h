/* The one clock mdlsafe measures budgets, deadlines and durations with.
 * Wall-clock seconds, because deadlines also feed pthread_cond_timedwait. */
#ifndef MDLSAFE_CLOCK_H
#define MDLSAFE_CLOCK_H

/* Seconds since the epoch (CLOCK_REALTIME), as a double. Some values are
 * printed as dates and turned into pthread_cond_timedwait deadlines, so this
 * is the wall clock, not CLOCK_MONOTONIC. */
double ms_now(void);

#endif
