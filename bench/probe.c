/* bench_probe: a stand-in for the application during a backup.
 *
 * One connection runs short autocommit statements by primary key against one
 * table, alternating a point SELECT and a point UPDATE, sleeping INTERVAL ms
 * between them, and records how long each one took. It stops on SIGTERM or
 * SIGINT or after DURATION seconds, then prints one JSON line on stdout:
 *
 *   {"queries": N, "max_ms": x, "p99_ms": y, "p50_ms": z, "errors": k, ...}
 *
 * Latencies go into a fixed histogram of 1 % wide buckets (memory does not
 * grow with the run); max_ms is exact, p99/p50 are the upper edge of their
 * bucket (at most 1 % high). Queries slower than -s MS are also logged on
 * stderr with their wall-clock time, to line them up with the ALTER.
 *
 * Usage: bench_probe [-t DB.TABLE] [-n MAX_ID] [-i INTERVAL_MS] [-s SLOW_MS]
 *                    [-r READY_FILE] OPTION_FILE DURATION_S
 * The connection (socket, user, password) comes from OPTION_FILE, read by
 * Connector/C itself (MYSQL_READ_DEFAULT_FILE, groups [client] and
 * [client-mariadb]).
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mysql.h>
#include <errmsg.h>

#define BUCKET_RATIO 1.01
#define N_BUCKETS 2400 /* 1.01^2400 us ~ 2.3e10 us: far above any run */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct stats {
	unsigned long long hist[N_BUCKETS];
	unsigned long long n, errors, over_slow;
	double max_ms, max_at_s, sum_ms;
	double max_ms_kind[2];
};

static int bucket_of(double ms)
{
	double us = ms * 1000.0;
	int b;

	if (us < 1.0)
		return 0;
	b = (int)(log(us) / log(BUCKET_RATIO));
	if (b < 0)
		b = 0;
	if (b >= N_BUCKETS)
		b = N_BUCKETS - 1;
	return b;
}

static double bucket_upper_ms(int b)
{
	return pow(BUCKET_RATIO, b + 1) / 1000.0;
}

static double percentile(const struct stats *s, double p)
{
	unsigned long long want, seen = 0;
	double v;

	if (s->n == 0)
		return 0;
	want = (unsigned long long)ceil(p * (double)s->n);
	if (want < 1)
		want = 1;
	for (int b = 0; b < N_BUCKETS; b++) {
		seen += s->hist[b];
		if (seen >= want) {
			v = bucket_upper_ms(b);
			return v < s->max_ms ? v : s->max_ms;
		}
	}
	return s->max_ms;
}

static MYSQL *connect_db(const char *cnf, unsigned read_timeout)
{
	MYSQL *m = mysql_init(NULL);
	unsigned connect_timeout = 10;

	if (!m)
		return NULL;
	mysql_options(m, MYSQL_READ_DEFAULT_FILE, cnf);
	mysql_options(m, MYSQL_READ_DEFAULT_GROUP, "client-mariadb");
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
	/* Bounds a single blocked statement, so the probe always ends. */
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &read_timeout);
	mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &read_timeout);
	mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (!mysql_real_connect(m, NULL, NULL, NULL, NULL, 0, NULL, 0)) {
		fprintf(stderr, "bench_probe: cannot connect: %s\n", mysql_error(m));
		mysql_close(m);
		return NULL;
	}
	if (mysql_query(m, "SET SESSION autocommit = 1")) {
		fprintf(stderr, "bench_probe: %s\n", mysql_error(m));
		mysql_close(m);
		return NULL;
	}
	return m;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_probe [-t DB.TABLE] [-n MAX_ID] [-i INTERVAL_MS] [-s SLOW_MS] [-r READY_FILE] "
			"OPTION_FILE DURATION_S\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *table = "sbtest.sbtest1", *ready = NULL, *cnf;
	unsigned long max_id = 250000;
	double interval_ms = 5, slow_ms = 100, duration_s, t_start, t_end, wall0;
	unsigned read_timeout;
	static struct stats s;
	struct sigaction sa;
	MYSQL *m;
	int opt, reconnects = 0;
	unsigned long long seq = 0;

	while ((opt = getopt(argc, argv, "t:n:i:s:r:h")) != -1) {
		switch (opt) {
		case 't': table = optarg; break;
		case 'n': max_id = strtoul(optarg, NULL, 10); break;
		case 'i': interval_ms = strtod(optarg, NULL); break;
		case 's': slow_ms = strtod(optarg, NULL); break;
		case 'r': ready = optarg; break;
		default: usage();
		}
	}
	if (argc - optind != 2 || max_id == 0 || interval_ms < 0)
		usage();
	cnf = argv[optind];
	duration_s = strtod(argv[optind + 1], NULL);
	if (!(duration_s > 0) || duration_s > 86400)
		usage();
	if (strlen(table) > 128 || strspn(table, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.") != strlen(table)) {
		fprintf(stderr, "bench_probe: -t takes DB.TABLE made of [A-Za-z0-9_]\n");
		return 2;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: a sleep ends at once */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	read_timeout = (unsigned)duration_s + 5;
	if (!(m = connect_db(cnf, read_timeout)))
		return 3;
	srand((unsigned)getpid());
	if (ready) {
		FILE *f = fopen(ready, "w");
		if (f)
			fclose(f);
	}

	t_start = now_mono();
	wall0 = now_wall();
	while (!stop_flag && now_mono() - t_start < duration_s) {
		char sql[256];
		int kind = (int)(seq++ & 1); /* 0 = SELECT, 1 = UPDATE */
		unsigned long id = 1 + (unsigned long)rand() % max_id;
		double t0, ms;
		int failed = 0;
		unsigned err = 0;

		if (kind == 0)
			snprintf(sql, sizeof(sql), "SELECT c FROM %s WHERE id = %lu", table, id);
		else
			snprintf(sql, sizeof(sql), "UPDATE %s SET k = k + 1 WHERE id = %lu", table, id);
		t0 = now_mono();
		if (mysql_real_query(m, sql, strlen(sql))) {
			failed = 1;
		} else if (kind == 0) {
			MYSQL_RES *r = mysql_store_result(m);
			if (r)
				mysql_free_result(r);
			else if (mysql_errno(m))
				failed = 1;
		}
		ms = (now_mono() - t0) * 1000.0;
		if (failed)
			err = mysql_errno(m);

		s.hist[bucket_of(ms)]++;
		s.n++;
		s.sum_ms += ms;
		if (ms > s.max_ms) {
			s.max_ms = ms;
			s.max_at_s = t0 - t_start;
		}
		if (ms > s.max_ms_kind[kind])
			s.max_ms_kind[kind] = ms;
		if (ms >= slow_ms) {
			s.over_slow++;
			fprintf(stderr, "slow: wall=%.3f kind=%s ms=%.1f err=%u\n", wall0 + (t0 - t_start),
				kind ? "update" : "select", ms, err);
		}
		if (failed) {
			s.errors++;
			if (s.errors <= 20)
				fprintf(stderr, "bench_probe: %s: error %u: %s\n", kind ? "UPDATE" : "SELECT", err,
					mysql_error(m));
			if (err == CR_SERVER_GONE_ERROR || err == CR_SERVER_LOST) {
				mysql_close(m);
				m = NULL;
				while (!stop_flag && reconnects < 20 && !(m = connect_db(cnf, read_timeout))) {
					reconnects++;
					sleep(1);
				}
				if (!m)
					break;
				reconnects++;
			}
		}
		if (interval_ms > 0 && !stop_flag) {
			struct timespec ts = { (time_t)(interval_ms / 1000),
					       (long)((interval_ms - 1000.0 * (double)(time_t)(interval_ms / 1000)) * 1e6) };
			nanosleep(&ts, NULL);
		}
	}
	t_end = now_mono();
	if (m)
		mysql_close(m);

	printf("{\"queries\": %llu, \"max_ms\": %.3f, \"p99_ms\": %.3f, \"p50_ms\": %.3f, \"errors\": %llu, "
	       "\"mean_ms\": %.3f, \"select_max_ms\": %.3f, \"update_max_ms\": %.3f, \"max_at_s\": %.3f, "
	       "\"over_slow\": %llu, \"slow_ms\": %.1f, \"duration_s\": %.3f, \"reconnects\": %d}\n",
	       s.n, s.max_ms, percentile(&s, 0.99), percentile(&s, 0.50), s.errors, s.n ? s.sum_ms / (double)s.n : 0.0,
	       s.max_ms_kind[0], s.max_ms_kind[1], s.max_at_s, s.over_slow, slow_ms, t_end - t_start, reconnects);
	return 0;
}
