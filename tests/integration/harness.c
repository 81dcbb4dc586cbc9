/* Integration-test helpers; see harness.h. Failures call cmocka's fail_msg so
 * a broken setup is reported as a failed test, not a hang. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *it_cnf(void)
{
	const char *c = getenv("MDLSAFE_TEST_CNF");
	if (!c)
		fail_msg("MDLSAFE_TEST_CNF is not set: run integration tests through 'make test'");
	return c;
}

const char *it_noproc_cnf(void)
{
	const char *c = getenv("MDLSAFE_TEST_NOPROC_CNF");
	if (!c)
		fail_msg("MDLSAFE_TEST_NOPROC_CNF is not set: run integration tests through 'make test'");
	return c;
}

const char *it_cnf_b(void)
{
	const char *c = getenv("MDLSAFE_TEST_CNF_B");
	if (!c)
		fail_msg("MDLSAFE_TEST_CNF_B is not set: run integration tests through 'make test'");
	return c;
}

static MYSQL *connect_with(const char *cnf)
{
	MYSQL *m = mysql_init(NULL);

	mysql_optionsv(m, MYSQL_READ_DEFAULT_FILE, cnf);
	mysql_optionsv(m, MYSQL_READ_DEFAULT_GROUP, "client");
	if (!mysql_real_connect(m, NULL, NULL, NULL, NULL, 0, NULL, CLIENT_MULTI_STATEMENTS))
		fail_msg("cannot connect to the sandbox (%s): %s", cnf, mysql_error(m));
	return m;
}

MYSQL *it_connect(void)
{
	return connect_with(it_cnf());
}

MYSQL *it_connect_b(void)
{
	return connect_with(it_cnf_b());
}

static void it_vexec(MYSQL *m, bool must, char **value, const char *fmt, va_list ap)
{
	char sql[8192];
	MYSQL_RES *r;

	vsnprintf(sql, sizeof(sql), fmt, ap);
	if (mysql_query(m, sql)) {
		if (must)
			fail_msg("SQL failed: %s: %s", sql, mysql_error(m));
		return;
	}
	do {
		r = mysql_store_result(m);
		if (r) {
			MYSQL_ROW row = mysql_fetch_row(r);
			if (value && !*value && row && row[0])
				*value = strdup(row[0]);
			mysql_free_result(r);
		}
	} while (mysql_next_result(m) == 0);
}

void it_exec(MYSQL *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	it_vexec(m, true, NULL, fmt, ap);
	va_end(ap);
}

char *it_value(MYSQL *m, const char *fmt, ...)
{
	char *v = NULL;
	va_list ap;
	va_start(ap, fmt);
	it_vexec(m, true, &v, fmt, ap);
	va_end(ap);
	return v;
}

unsigned long it_id(MYSQL *m)
{
	return mysql_thread_id(m);
}

static void *it_bg_main(void *arg)
{
	struct it_bg *b = arg;

	if (mysql_query(b->m, b->sql))
		b->err = mysql_errno(b->m);
	else {
		MYSQL_RES *r = mysql_store_result(b->m);
		if (r)
			mysql_free_result(r);
	}
	b->done = true;
	return NULL;
}

struct it_bg *it_bg_start(const char *sql)
{
	return it_bg_start_on(it_connect(), sql);
}

struct it_bg *it_bg_start_on(MYSQL *m, const char *sql)
{
	struct it_bg *b = calloc(1, sizeof(*b));

	b->m = m;
	b->id = it_id(b->m);
	b->sql = strdup(sql);
	if (pthread_create(&b->thread, NULL, it_bg_main, b))
		fail_msg("pthread_create failed");
	return b;
}

unsigned it_bg_join(struct it_bg *b)
{
	unsigned err;

	pthread_join(b->thread, NULL);
	err = b->err;
	mysql_close(b->m);
	free(b->sql);
	free(b);
	return err;
}

void it_wait_state(MYSQL *m, unsigned long id, const char *state, double timeout_s)
{
	struct timespec step = { 0, 20 * 1000 * 1000 };

	for (double t = 0; t < timeout_s; t += 0.02) {
		char *s = it_value(m, "SELECT STATE FROM information_schema.PROCESSLIST WHERE ID = %lu", id);
		bool hit = s && strstr(s, state);
		free(s);
		if (hit)
			return;
		nanosleep(&step, NULL);
	}
	fail_msg("session %lu did not reach state '%s' within %.0f s", id, state, timeout_s);
}

void it_settle(void)
{
	struct timespec t = { 0, 250 * 1000 * 1000 };
	nanosleep(&t, NULL);
}

/* Reads both pipes until the child closes them, without deadlocking on a
 * full pipe. With timeout_s >= 0, kills `pid` once that has passed (the
 * pipes then close) and returns false. */
static bool it_drain(int out_fd, int err_fd, char **out, char **err, pid_t pid, double timeout_s)
{
	size_t n[2] = { 0, 0 }, cap[2] = { 4096, 4096 };
	char *buf[2] = { malloc(4096), malloc(4096) };
	struct pollfd p[2] = { { out_fd, POLLIN, 0 }, { err_fd, POLLIN, 0 } };
	double deadline = it_now() + timeout_s;
	bool in_time = true;
	int open_fds = 2;

	while (open_fds > 0) {
		if (timeout_s >= 0 && in_time && it_now() > deadline) {
			kill(pid, SIGKILL);
			in_time = false;
		}
		if (poll(p, 2, timeout_s >= 0 ? 100 : -1) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			ssize_t got;
			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			if (n[i] + 4096 > cap[i]) {
				cap[i] *= 2;
				buf[i] = realloc(buf[i], cap[i]);
			}
			got = read(p[i].fd, buf[i] + n[i], 4095);
			if (got <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				open_fds--;
			} else {
				n[i] += (size_t)got;
			}
		}
	}
	buf[0][n[0]] = '\0';
	buf[1][n[1]] = '\0';
	*out = buf[0];
	*err = buf[1];
	return in_time;
}

/* Forks MDLSAFE_BIN with argv; see it_mdlsafe_start for own_session and tty. */
static pid_t it_spawn(char **argv, bool own_session, const char *tty, int *out_fd, int *err_fd)
{
	int out_pipe[2], err_pipe[2];
	pid_t pid;

	if (pipe(out_pipe) || pipe(err_pipe))
		fail_msg("pipe failed");
	pid = fork();
	if (pid < 0)
		fail_msg("fork failed: %s", strerror(errno));
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		if (own_session)
			setsid();
		if (tty) {
			/* Opened by a session leader without one, it becomes the
			 * controlling terminal; kept open as fd 3 so the master
			 * reads EIO only once the child is gone. */
			int t = open(tty, O_RDWR);
			if (t < 0 || ioctl(t, TIOCSCTTY, 0) < 0)
				_exit(126);
			if (t != 3) {
				dup2(t, 3);
				close(t);
			}
		}
		dup2(devnull, 0);
		dup2(out_pipe[1], 1);
		dup2(err_pipe[1], 2);
		close(out_pipe[0]);
		close(err_pipe[0]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(out_pipe[1]);
	close(err_pipe[1]);
	*out_fd = out_pipe[0];
	*err_fd = err_pipe[0];
	return pid;
}

static const char *it_bin(void)
{
	const char *bin = getenv("MDLSAFE_BIN");

	if (!bin)
		fail_msg("MDLSAFE_BIN is not set: run integration tests through ctest");
	return bin;
}

static int it_status(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void it_mdlsafe(struct it_run *r, bool with_cnf, ...)
{
	char *argv[64], cnf_arg[1024];
	int out_fd, err_fd, st, argc = 0;
	va_list ap;
	pid_t pid;

	argv[argc++] = (char *)it_bin();
	va_start(ap, with_cnf);
	for (const char *a; (a = va_arg(ap, const char *)) && argc < 60;)
		argv[argc++] = (char *)a;
	va_end(ap);
	if (with_cnf) {
		snprintf(cnf_arg, sizeof(cnf_arg), "--defaults-file=%s", it_cnf());
		argv[argc++] = cnf_arg;
	}
	argv[argc] = NULL;
	pid = it_spawn(argv, false, NULL, &out_fd, &err_fd);
	it_drain(out_fd, err_fd, &r->out, &r->err, pid, -1);
	waitpid(pid, &st, 0);
	r->status = it_status(st);
}

void it_mdlsafe_start(struct it_child *c, const char *const *args, const char *tty)
{
	char *argv[64];
	int argc = 0;

	argv[argc++] = (char *)it_bin();
	for (; *args && argc < 63; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	c->pid = it_spawn(argv, true, tty, &c->out_fd, &c->err_fd);
}

void it_mdlsafe_finish(struct it_child *c, int sig, double timeout_s, struct it_run *r)
{
	bool in_time;
	int st;

	if (sig)
		kill(c->pid, sig);
	in_time = it_drain(c->out_fd, c->err_fd, &r->out, &r->err, c->pid, timeout_s);
	waitpid(c->pid, &st, 0);
	r->status = it_status(st);
	c->pid = -1;
	if (!in_time)
		fail_msg("mdlsafe did not exit within %.0f s and was killed; stdout: %s; stderr: %s", timeout_s,
			 r->out, r->err);
}

int it_pty_open(char *name, size_t n)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);

	if (m < 0 || grantpt(m) || unlockpt(m) || !ptsname(m))
		fail_msg("cannot open a pseudo-terminal: %s", strerror(errno));
	snprintf(name, n, "%s", ptsname(m));
	fcntl(m, F_SETFD, FD_CLOEXEC);
	return m;
}

bool it_read_until(int fd, char *buf, size_t cap, size_t *len, const char *want, double timeout_s)
{
	double deadline = it_now() + timeout_s;

	buf[*len] = '\0';
	while (!(want && strstr(buf, want))) {
		struct pollfd p = { fd, POLLIN, 0 };
		double left = deadline - it_now();
		ssize_t got;

		if (left <= 0 || *len + 1 >= cap)
			return false;
		if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		got = read(fd, buf + *len, cap - *len - 1);
		if (got <= 0)
			return want == NULL;
		*len += (size_t)got;
		buf[*len] = '\0';
	}
	return true;
}

void it_run_release(struct it_run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

json_t *it_json(const struct it_run *r)
{
	json_error_t je;
	json_t *j = json_loads(r->out, 0, &je);

	if (!j)
		fail_msg("mdlsafe printed invalid JSON (%s); stdout: %s; stderr: %s", je.text, r->out, r->err);
	return j;
}

json_t *it_find_id(json_t *array, unsigned long id)
{
	size_t i;
	json_t *v;

	json_array_foreach(array, i, v)
		if ((unsigned long)json_integer_value(json_object_get(v, "id")) == id)
			return v;
	return NULL;
}

void it_fresh_db(MYSQL *m, const char *name)
{
	it_exec(m, "DROP DATABASE IF EXISTS `%s`", name);
	it_exec(m, "CREATE DATABASE `%s`", name);
	for (int t = 1; t <= 2; t++) {
		it_exec(m, "CREATE TABLE `%s`.t%d (id INT PRIMARY KEY, v INT) ENGINE=InnoDB", name, t);
		it_exec(m, "INSERT INTO `%s`.t%d SELECT seq, seq FROM `%s`.seq_1_to_10", name, t, name);
	}
}

void it_set_sources(MYSQL *m, bool pfs_instrument, bool plugin)
{
	char *installed;

	it_exec(m, "UPDATE performance_schema.setup_instruments SET ENABLED = '%s', TIMED = '%s' "
		   "WHERE NAME = 'wait/lock/metadata/sql/mdl'",
		pfs_instrument ? "YES" : "NO", pfs_instrument ? "YES" : "NO");
	installed = it_value(m, "SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'METADATA_LOCK_INFO'");
	if (plugin && installed && !strcmp(installed, "0"))
		it_exec(m, "INSTALL SONAME 'metadata_lock_info'");
	if (!plugin && installed && strcmp(installed, "0"))
		it_exec(m, "UNINSTALL SONAME 'metadata_lock_info'");
	free(installed);
}

/* ---- every column type ------------------------------------------------- */

/* Every type mdlsafe can meet, with a VIRTUAL and a STORED generated column
 * and names that need quoting. */
static const char ALL_TYPES[] =
	"CREATE TABLE `all types` ("
	" id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
	" ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,"
	" mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED ZEROFILL,"
	" bi BIGINT, biu BIGINT UNSIGNED,"
	" dec65 DECIMAL(65,30), dec10 DECIMAL(10,2) UNSIGNED,"
	" f FLOAT, d DOUBLE, f72 FLOAT(7,2), d124 DOUBLE(12,4), fu FLOAT UNSIGNED,"
	" b1 BIT(1), b64 BIT(64), b7 BIT(7),"
	" ch CHAR(10), vc VARCHAR(100), vl VARCHAR(300) CHARACTER SET latin1,"
	" vj VARCHAR(20) CHARACTER SET cp932, v5 VARCHAR(20) CHARACTER SET big5, vu CHAR(5) CHARACTER SET ucs2,"
	" tx TEXT, ltx LONGTEXT,"
	" bn BINARY(16), vb VARBINARY(300), bl BLOB, lb LONGBLOB,"
	" en ENUM('a','b','c d'), st SET('x','y','z'), en_l ENUM('é','ü') CHARACTER SET latin1,"
	" js JSON,"
	" dt DATE, dtm DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME(6), yr YEAR,"
	" geo GEOMETRY, pt POINT, pg POLYGON,"
	" ip INET6, uu UUID,"
	" vgen INT AS (ti + 1) VIRTUAL,"
	" sgen VARCHAR(120) AS (CONCAT(vc, '!')) STORED,"
	" `we``ird col` INT, inv INT INVISIBLE"
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";

static void hex_of_all_bytes(char *out, int from)
{
	for (int i = from; i < 256; i++)
		sprintf(out + 2 * (i - from), "%02X", i);
}

void it_fill_all_types(MYSQL *m, const char *db)
{
	char all[513], latin[513];

	hex_of_all_bytes(all, 0);
	hex_of_all_bytes(latin, 1);
	it_exec(m, "DROP DATABASE IF EXISTS `%s`", db);
	it_exec(m, "CREATE DATABASE `%s`", db);
	if (mysql_select_db(m, db))
		fail_msg("USE %s: %s", db, mysql_error(m));
	it_exec(m, "%s", ALL_TYPES);
	/* Zero dates, AUTO_INCREMENT 0 and TIMESTAMPs read in another zone. */
	it_exec(m, "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', SESSION time_zone = '+05:30'");

	/* Row 0: the minimums, empty values, zero dates. */
	it_exec(m, "INSERT INTO `all types` SET id = 0,"
		   " ti = -128, tiu = 0, si = -32768, siu = 0, mi = -8388608, miu = 0, i = -2147483648, iu = 0,"
		   " bi = -9223372036854775808, biu = 0,"
		   " dec65 = -99999999999999999999999999999999999.999999999999999999999999999999, dec10 = 0,"
		   " f = -3.4028234663852886e38, d = -1.7976931348623157e308, f72 = -99999.99, d124 = -99999999.9999,"
		   " fu = 0, b1 = b'0', b64 = b'0', b7 = 0,"
		   " ch = '', vc = '', vl = '', vj = '', v5 = '', vu = '', tx = '', ltx = '',"
		   " bn = 0x00000000000000000000000000000000, vb = '', bl = '', lb = '',"
		   " en = 'a', st = '', en_l = 'é', js = '[]',"
		   " dt = '0000-00-00', dtm = '0000-00-00 00:00:00.000000', ts = '0000-00-00 00:00:00',"
		   " tm = '-838:59:59.000000', yr = 0,"
		   " geo = ST_GeomFromText('POINT(0 0)'), pt = POINT(0, 0),"
		   " pg = ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))'),"
		   " ip = '::', uu = '00000000-0000-0000-0000-000000000000', `we``ird col` = 0");
	/* Row 1: the maximums, every byte, every special character. A 3 MiB
	 * LONGBLOB makes one row bigger than a statement. */
	it_exec(m, "INSERT INTO `all types` SET id = 1,"
		   " ti = 127, tiu = 255, si = 32767, siu = 65535, mi = 8388607, miu = 16777215,"
		   " i = 2147483647, iu = 4294967295, bi = 9223372036854775807, biu = 18446744073709551615,"
		   " dec65 = 99999999999999999999999999999999999.999999999999999999999999999999, dec10 = 99999999.99,"
		   " f = 3.4028234663852886e38, d = 1.7976931348623157e308, f72 = 99999.99, d124 = 99999999.9999,"
		   " fu = 3.4028234663852886e38, b1 = b'1', b64 = 0xFFFFFFFFFFFFFFFF, b7 = b'1111111',"
		   " ch = 'abc', vc = _utf8mb4 0x%s, vl = _latin1 0x%s,"
		   " vj = _cp932 0xED40FA5C8341, v5 = _big5 0xA1C3A2CE, vu = _ucs2 0x00E9D55C,"
		   " tx = _utf8mb4 0x%s, ltx = REPEAT('line\\n', 10000),"
		   " bn = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF, vb = 0x00FF000A0D5C27, bl = 0x%s,"
		   " lb = REPEAT(0x00FF0A275C1A, 524288),"
		   " en = 'c d', st = 'x,z', en_l = 'ü',"
		   " js = '{\"k\": \"v\\\\n\\\\u00e9\\\\\"\", \"n\": [1, 2.5e300, -0.0]}',"
		   " dt = '9999-12-31', dtm = '9999-12-31 23:59:59.999999', ts = '2038-01-19 08:44:07.999999',"
		   " tm = '838:59:59.000000', yr = 2155,"
		   " geo = ST_GeomFromText('LINESTRING(0 0, 1 1.5, -2.25 1e300)', 4326), pt = POINT(1.5, -2.25),"
		   " pg = ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0),(1 1,2 1,2 2,1 1))'),"
		   " ip = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', uu = 'ffffffff-ffff-ffff-ffff-ffffffffffff',"
		   " `we``ird col` = 1, inv = 42",
		/* emoji, snowman, G clef, tab, and a backslash-n pair */
		"F09F9880E29883F09D849E095C6E", latin,
		/* \n \r \0 ' " \\ 0x1a between letters */
		"610A620D6300642765226623675C681A69", all);
	/* Row 2: NULL in every nullable column. */
	it_exec(m, "INSERT INTO `all types` (id) VALUES (2)");
	/* Row 3: float edges, partial zero dates, IPv4-mapped and 16-character
	 * INET6 text (not to be read as 16 binary bytes). */
	it_exec(m, "INSERT INTO `all types` SET id = 3,"
		   " f = 1.1754943508222875e-38, d = 2.2250738585072014e-308, f72 = 0.1, d124 = 0.0001,"
		   " fu = 1.401298464324817e-45, dec65 = 0.000000000000000000000000000001, dec10 = 0.01,"
		   " b64 = b'1000000000000000000000000000000000000000000000000000000000000001', b7 = 0x2A,"
		   " ch = 'trail  ', vc = 'trail  ', tx = 'é', js = 'null',"
		   " dt = '2020-00-15', dtm = '2020-02-29 12:34:56.000001', ts = '1970-01-01 05:30:01',"
		   " tm = '00:00:00.5', yr = 1901, ip = '::ffff:1.2.3.4', uu = '123e4567-e89b-12d3-a456-426655440000',"
		   " en = '', st = 'x,y,z'");
	it_exec(m, "INSERT INTO `all types` SET id = 4,"
		   " f = -1e-60, d = 4.9406564584124654e-324, f72 = 12.34, d124 = 1234.5678, fu = 16777217,"
		   " ip = '1:2:3:4:5:6:7:88', tm = '-00:00:00.000001'");
	it_exec(m, "SET SESSION sql_mode = DEFAULT, SESSION time_zone = DEFAULT");
}

void it_sleep_ms(int ms)
{
	struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&t, NULL);
}

double it_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void it_assert_within_budget(double waited_s, double budget_s, const char *what)
{
	if (waited_s > budget_s + IT_STALL_SLACK_S)
		fail_msg("%s waited %.3f s: over the %.3f s budget plus the %.3f s test slack", what, waited_s,
			 budget_s, IT_STALL_SLACK_S);
}

char *it_binlog_file(MYSQL *m)
{
	MYSQL_RES *res = NULL;
	MYSQL_ROW row;
	char *f;

	if (mysql_query(m, "SHOW MASTER STATUS") || !(res = mysql_store_result(m)) || !(row = mysql_fetch_row(res)))
		fail_msg("SHOW MASTER STATUS: %s", mysql_error(m));
	f = strdup(row[0]);
	mysql_free_result(res);
	return f;
}
