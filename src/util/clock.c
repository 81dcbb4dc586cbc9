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
