/* Absolute deadlines for pthread_cond_timedwait (CLOCK_REALTIME timespecs). */
#ifndef MDLSAFE_TIMESPEC_H
#define MDLSAFE_TIMESPEC_H

#include <stdbool.h>
#include <time.h>

/* Moves t forward by s seconds (s >= 0). */
static inline void timespec_add(struct timespec *t, double s)
{
	long ns = (long)(s * 1e9);

	t->tv_sec += ns / 1000000000L;
	t->tv_nsec += ns % 1000000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

static inline bool timespec_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

#endif
