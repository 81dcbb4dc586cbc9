/* The one clock: wall-clock seconds as a double (see clock.h for why the wall
 * clock). */
#include "util/clock.h"

#include <time.h>

double ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void ms_sleep(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

void ms_nap(double s, const volatile sig_atomic_t *stop)
{
	double until = ms_now() + s;

	for (double left = s; left > 0 && !*stop; left = until - ms_now())
		ms_sleep(left < 0.2 ? left : 0.2);
}
