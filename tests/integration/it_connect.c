/* How `mdlsafe` connects, against a real server: option files and their
 * precedence, the password prompt and its hiding, --watch and Ctrl-C, TLS,
 * and the messages a DBA gets when the connection cannot be made. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TEXT_MAX 2048
#define ENV_MAX 8

struct saved_env {
	const char *name;
	char *value; /* NULL: was unset */
};

/* What a test leaves to its teardown, so that a failed assertion leaves no
 * files, environment changes or running mdlsafe behind. */
static struct {
	char dir[512];                 /* private temporary directory, "" if none */
	struct saved_env env[ENV_MAX]; /* variables to put back, in reverse order */
	int n_env;
	struct it_child child;         /* pid > 0 while it may be running */
	int master;                    /* pty master, -1 if none */
	char *socket, *port;           /* the sandbox's, from sandbox() */
	bool sources_changed;          /* lock sources to put back to off */
} g;

static int test_setup(void **state)
{
	(void)state;
	g.dir[0] = '\0';
	g.n_env = 0;
	g.child.pid = -1;
	g.master = -1;
	g.socket = g.port = NULL;
	g.sources_changed = false;
	return 0;
}

static void env_save(struct saved_env *s, const char *name)
{
	const char *v = getenv(name);

	s->name = name;
	s->value = v ? strdup(v) : NULL;
}

static void env_restore(struct saved_env *s)
{
	if (s->value)
		setenv(s->name, s->value, 1);
	else
		unsetenv(s->name);
	free(s->value);
	s->value = NULL;
}

/* Sets (value NULL: unsets) a variable for the rest of the test. */
static void env_set(const char *name, const char *value)
{
	if (g.n_env == ENV_MAX)
		fail_msg("env_set: more than %d variables changed", ENV_MAX);
	env_save(&g.env[g.n_env++], name);
	if (value)
		setenv(name, value, 1);
	else
		unsetenv(name);
}

static void tmp_remove(void)
{
	DIR *d;
	struct dirent *de;
	char path[1024];

	if (!g.dir[0] || !(d = opendir(g.dir)))
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", g.dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(g.dir);
	g.dir[0] = '\0';
}

static int test_teardown(void **state)
{
	(void)state;
	if (g.child.pid > 0) {
		kill(g.child.pid, SIGKILL);
		close(g.child.out_fd);
		close(g.child.err_fd);
		waitpid(g.child.pid, NULL, 0);
		g.child.pid = -1;
	}
	if (g.master >= 0)
		close(g.master);
	g.master = -1;
	while (g.n_env > 0)
		env_restore(&g.env[--g.n_env]);
	tmp_remove();
	free(g.socket);
	free(g.port);
	g.socket = g.port = NULL;
	if (g.sources_changed) {
		MYSQL *m = it_connect();
		it_set_sources(m, false, false);
		mysql_close(m);
	}
	return 0;
}

/* The test's private temporary directory, made on first use. */
static const char *tmp_dir(void)
{
	const char *base = getenv("TMPDIR");

	if (g.dir[0])
		return g.dir;
	snprintf(g.dir, sizeof(g.dir), "%s/it_connect-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(g.dir)) {
		int err = errno;
		g.dir[0] = '\0';
		fail_msg("mkdtemp in %s: %s", base && *base ? base : "/tmp", strerror(err));
	}
	return g.dir;
}

/* Writes `text` to file `name` in the temporary directory; returns its path,
 * which is put in out (n bytes). */
static const char *tmp_write(const char *name, char *out, size_t n, const char *text)
{
	FILE *f;

	snprintf(out, n, "%s/%s", tmp_dir(), name);
	f = fopen(out, "w");
	if (!f || fputs(text, f) < 0 || fclose(f))
		fail_msg("cannot write %s: %s", out, strerror(errno));
	return out;
}

/* The entries of the temporary directory, joined by spaces. */
static void tmp_list(char *out, size_t n)
{
	DIR *d = opendir(tmp_dir());
	struct dirent *de;
	size_t len = 0;

	out[0] = '\0';
	if (!d)
		fail_msg("opendir %s: %s", g.dir, strerror(errno));
	while ((de = readdir(d)) && len < n)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			len += (size_t)snprintf(out + len, n - len, "%s ", de->d_name);
	closedir(d);
}

/* Learns the sandbox's socket and port from the server into g. */
static void sandbox(void)
{
	MYSQL *m = it_connect();

	g.socket = it_value(m, "SELECT @@socket");
	g.port = it_value(m, "SELECT @@port");
	mysql_close(m);
	if (!g.socket || !g.port)
		fail_msg("cannot learn the sandbox's socket and port");
}

static const char *root_password(void)
{
	const char *pw = getenv("MDLSAFE_TEST_ROOT_PASSWORD");

	if (!pw || strlen(pw) < 4)
		fail_msg("MDLSAFE_TEST_ROOT_PASSWORD is not set (or too short to search for): run through 'make test'");
	return pw;
}

static void sleep_s(double s)
{
	struct timespec t = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
	nanosleep(&t, NULL);
}

/* Waits until the running child has printed something (without reading
 * it), so it is past option parsing and connected. */
static void wait_first_output(double timeout_s)
{
	struct pollfd p = { g.child.out_fd, POLLIN, 0 };
	struct it_run r;

	if (poll(&p, 1, (int)(timeout_s * 1000)) == 1)
		return;
	it_mdlsafe_finish(&g.child, SIGKILL, 10, &r);
	fail_msg("mdlsafe printed nothing within %.0f s; stderr: %s", timeout_s, r.err);
}

/* [mdlsafe] is one of the groups mdlsafe reads; [mysql] belongs to the
 * mariadb client and must be ignored. MYSQL_UNIX_PORT points nowhere, so a
 * connection only succeeds with the file's socket. */
static void test_defaults_file_mdlsafe_group_is_read(void **state)
{
	struct it_run r;
	char text[TEXT_MAX], path[1024], arg[1100];

	(void)state;
	sandbox();
	env_set("MYSQL_UNIX_PORT", "/nonexistent/it_connect.sock");

	snprintf(text, sizeof(text), "[mdlsafe]\nsocket=%s\nuser=root\npassword=\"%s\"\n", g.socket, root_password());
	snprintf(arg, sizeof(arg), "--defaults-file=%s", tmp_write("mdlsafe.cnf", path, sizeof(path), text));
	it_mdlsafe(&r, false, "locks", arg, NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "no metadata-lock waits"));
	it_run_release(&r);

	snprintf(text, sizeof(text), "[mysql]\nsocket=%s\nuser=root\npassword=\"%s\"\n", g.socket, root_password());
	snprintf(arg, sizeof(arg), "--defaults-file=%s", tmp_write("mysql.cnf", path, sizeof(path), text));
	it_mdlsafe(&r, false, "locks", arg, NULL);
	if (r.status != 3 && r.status != 4)
		fail_msg("the [mysql] group was used: exit %d; stderr: %s", r.status, r.err);
	assert_null(strstr(r.err, g.socket));
	assert_non_null(strstr(r.err, "/nonexistent/it_connect.sock"));
	it_run_release(&r);
}

/* HOME's .my.cnf gives the socket and user with a wrong password; the extra
 * file, read after it, gives the right one. */
static void test_defaults_extra_file_is_read_after_usual_files(void **state)
{
	struct it_run r;
	char text[TEXT_MAX], path[1024], arg[1100], left[TEXT_MAX];

	(void)state;
	sandbox();
	env_set("HOME", tmp_dir());
	env_set("MARIADB_HOME", NULL);
	env_set("MYSQL_HOME", NULL);
	/* mdlsafe's own temporary option file goes here too: it must be gone
	 * afterwards. */
	env_set("TMPDIR", tmp_dir());

	snprintf(text, sizeof(text), "[client]\nsocket=%s\nuser=root\npassword=not-the-password\n", g.socket);
	tmp_write(".my.cnf", path, sizeof(path), text);
	snprintf(text, sizeof(text), "[client]\npassword=\"%s\"\n", root_password());
	snprintf(arg, sizeof(arg), "--defaults-extra-file=%s", tmp_write("extra.cnf", path, sizeof(path), text));

	it_mdlsafe(&r, false, "locks", arg, NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "no metadata-lock waits"));
	it_run_release(&r);

	/* Without it, ~/.my.cnf alone: its socket and user, its wrong password. */
	it_mdlsafe(&r, false, "locks", NULL);
	assert_int_equal(r.status, 4);
	assert_non_null(strstr(r.err, g.socket));
	assert_non_null(strstr(r.err, "access denied"));
	it_run_release(&r);

	tmp_list(left, sizeof(left));
	if (strstr(left, "mdlsafe-defaults"))
		fail_msg("mdlsafe left its temporary option file behind in TMPDIR: %s", left);
}

static void test_command_line_beats_option_file(void **state)
{
	struct it_run r;
	char text[TEXT_MAX], path[1024], arg[1100];

	(void)state;
	sandbox();
	snprintf(text, sizeof(text), "[client]\nsocket=/nonexistent/it_connect.sock\nuser=root\npassword=\"%s\"\n",
		 root_password());
	snprintf(arg, sizeof(arg), "--defaults-file=%s", tmp_write("wrong-socket.cnf", path, sizeof(path), text));

	/* The file alone fails, which makes the next run meaningful. */
	it_mdlsafe(&r, false, "locks", arg, NULL);
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.err, "/nonexistent/it_connect.sock"));
	it_run_release(&r);

	it_mdlsafe(&r, false, "locks", arg, "-S", g.socket, NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "no metadata-lock waits"));
	it_run_release(&r);
}

/* `-p` alone asks on the terminal, with echo off: run inside a pty and type
 * the password when the prompt shows. stdin stays /dev/null. */
static void test_password_prompt_reads_from_terminal(void **state)
{
	struct it_run r;
	char text[TEXT_MAX], path[1024], arg[1100], tty[256], screen[4096], typed[256];
	const char *args[] = { "locks", "-p", arg, NULL };
	size_t len = 0;

	(void)state;
	sandbox();
	snprintf(text, sizeof(text), "[client]\nsocket=%s\nuser=root\n", g.socket);
	snprintf(arg, sizeof(arg), "--defaults-file=%s", tmp_write("no-password.cnf", path, sizeof(path), text));

	g.master = it_pty_open(tty, sizeof(tty));
	it_mdlsafe_start(&g.child, args, tty);
	if (!it_read_until(g.master, screen, sizeof(screen), &len, "Enter password:", 30)) {
		it_mdlsafe_finish(&g.child, SIGKILL, 10, &r);
		fail_msg("no password prompt on the terminal; terminal: %s; stderr: %s", screen, r.err);
	}
	snprintf(typed, sizeof(typed), "%s\n", root_password());
	assert_int_equal(write(g.master, typed, strlen(typed)), (ssize_t)strlen(typed));
	/* Everything else the terminal shows, until mdlsafe closes it. */
	if (!it_read_until(g.master, screen, sizeof(screen), &len, NULL, 30)) {
		it_mdlsafe_finish(&g.child, SIGKILL, 10, &r);
		fail_msg("mdlsafe did not finish after the password was typed; terminal: %s; stdout: %s; stderr: %s",
			 screen, r.out, r.err);
	}
	it_mdlsafe_finish(&g.child, 0, 30, &r);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "no metadata-lock waits"));
	if (strstr(screen, root_password()))
		fail_msg("the password was echoed on the terminal: %s", screen);
	assert_null(strstr(r.out, root_password()));
	assert_null(strstr(r.err, root_password()));
	it_run_release(&r);
}

/* Under cron or CI there is no terminal: -p must fail at once, saying what
 * to do instead, rather than hang or read stdin. */
static void test_password_prompt_without_terminal_is_clear_error(void **state)
{
	struct it_run r;
	char arg[1100];
	const char *args[] = { "locks", "-p", arg, NULL };

	(void)state;
	snprintf(arg, sizeof(arg), "--defaults-file=%s", it_cnf());
	it_mdlsafe_start(&g.child, args, NULL); /* own session: no controlling terminal */
	it_mdlsafe_finish(&g.child, 0, 30, &r);
	assert_int_equal(r.status, 2);
	if (!strstr(r.err, "MYSQL_PWD") && !strstr(r.err, "option file"))
		fail_msg("the message does not say how to give the password: %s", r.err);
	it_run_release(&r);
}

/* Reads /proc/PID/cmdline with the NULs turned into spaces. */
static void read_cmdline(pid_t pid, char *out, size_t n)
{
	char path[64];
	size_t got;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	f = fopen(path, "r");
	if (!f)
		fail_msg("cannot read %s: %s", path, strerror(errno));
	got = fread(out, 1, n - 1, f);
	fclose(f);
	for (size_t i = 0; i < got; i++)
		if (out[i] == '\0')
			out[i] = ' ';
	out[got] = '\0';
}

static void test_password_is_blanked_in_process_arguments(void **state)
{
	struct it_run r;
	char cnf[1100], pw[512], cmdline[4096];
	const char *args[] = { "locks", "--watch", "1", pw, cnf, NULL };
	int st;

	(void)state;
	snprintf(cnf, sizeof(cnf), "--defaults-file=%s", it_cnf());
	snprintf(pw, sizeof(pw), "-p%s", root_password());
	it_mdlsafe_start(&g.child, args, NULL);
	wait_first_output(30);
	sleep_s(0.5);
	assert_int_equal(waitpid(g.child.pid, &st, WNOHANG), 0); /* still watching */
	read_cmdline(g.child.pid, cmdline, sizeof(cmdline));
	assert_non_null(strstr(cmdline, "--watch 1"));
	if (strstr(cmdline, root_password()))
		fail_msg("the password is visible in /proc/%d/cmdline: %s", (int)g.child.pid, cmdline);
	it_mdlsafe_finish(&g.child, SIGINT, 10, &r);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "no metadata-lock waits"));
	it_run_release(&r);
}

static void test_watch_json_prints_one_document_per_line_and_stops_on_sigint(void **state)
{
	struct it_run r;
	char cnf[1100];
	const char *args[] = { "locks", "--watch", "0.2", "--json", cnf, NULL };
	int lines = 0;

	(void)state;
	snprintf(cnf, sizeof(cnf), "--defaults-file=%s", it_cnf());
	it_mdlsafe_start(&g.child, args, NULL);
	wait_first_output(30);
	sleep_s(1.0);
	it_mdlsafe_finish(&g.child, SIGINT, 10, &r);
	assert_int_equal(r.status, 0);
	for (char *line = r.out, *nl; *line; line = nl + 1) {
		json_error_t je;
		json_t *j;

		nl = strchr(line, '\n');
		if (!nl)
			fail_msg("the last document is not ended by a newline: %s", line);
		*nl = '\0';
		j = json_loads(line, 0, &je);
		if (!j || !json_is_object(j))
			fail_msg("line %d is not a JSON object (%s): %s", lines + 1, j ? "not an object" : je.text, line);
		assert_int_equal(json_integer_value(json_object_get(j, "schema_version")), 1);
		json_decref(j);
		lines++;
	}
	if (lines < 2)
		fail_msg("only %d document(s) in about a second at --watch 0.2; stderr: %s", lines, r.err);
	it_run_release(&r);
}

/* The sandbox has no certificate: --ssl must refuse the plain-text session
 * the connector would otherwise settle for, over TCP and over the socket. */
static void test_ssl_required_against_server_without_tls_fails_clearly(void **state)
{
	MYSQL *m = it_connect();
	char *have_ssl = it_value(m, "SELECT @@have_ssl");
	bool server_has_tls = have_ssl && !strcmp(have_ssl, "YES");
	struct it_run r;

	(void)state;
	mysql_close(m);
	free(have_ssl);
	if (server_has_tls)
		skip(); /* e.g. MariaDB 11.4+, which makes its own certificate */
	sandbox();

	it_mdlsafe(&r, true, "locks", "--ssl", "-h", "127.0.0.1", "-P", g.port, NULL);
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.err, "TLS"));
	assert_non_null(strstr(r.err, "127.0.0.1:"));
	assert_null(strstr(r.out, "no metadata-lock waits"));
	it_run_release(&r);

	it_mdlsafe(&r, true, "locks", "--ssl", NULL);
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.err, "TLS"));
	it_run_release(&r);

	/* Verifying the certificate fails in the connector itself: same code. */
	it_mdlsafe(&r, true, "locks", "--ssl-verify-server-cert", "-h", "127.0.0.1", "-P", g.port, NULL);
	assert_int_equal(r.status, 3);
	assert_true(strstr(r.err, "TLS") || strstr(r.err, "SSL"));
	it_run_release(&r);

	/* Without --ssl the same server is fine. */
	it_mdlsafe(&r, true, "locks", "-h", "127.0.0.1", "-P", g.port, NULL);
	assert_int_equal(r.status, 0);
	it_run_release(&r);
}

/* `--port` is also meant by -P. */
static void assert_usage_error_names(const char *option, const char *value)
{
	const char *name = strcmp(option, "-P") ? option : "--port";
	struct it_run r;

	it_mdlsafe(&r, false, "locks", "--no-defaults", option, value, NULL);
	assert_int_equal(r.status, 2);
	if (!strstr(r.err, name) || !strstr(r.err, value))
		fail_msg("the error for %s %s does not name the option and value: %s", option, value, r.err);
	it_run_release(&r);
}

static void test_connect_timeout_rejects_non_number(void **state)
{
	(void)state;
	assert_usage_error_names("--connect-timeout", "abc");
	assert_usage_error_names("--connect-timeout", "5s");
	assert_usage_error_names("--connect-timeout", "0");
	assert_usage_error_names("--connect-timeout", "-1");
}

static void test_port_out_of_range(void **state)
{
	(void)state;
	assert_usage_error_names("--port", "70000");
	assert_usage_error_names("--port", "0");
	assert_usage_error_names("-P", "65536");
	assert_usage_error_names("-P", "http");
}

static void test_unknown_host_is_named(void **state)
{
	struct it_run r;

	(void)state;
	it_mdlsafe(&r, false, "locks", "-h", "nonexistent.invalid", "--no-defaults", "-u", "root",
		   "--connect-timeout", "5", NULL);
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.err, "nonexistent.invalid"));
	it_run_release(&r);
}

static void test_tcp_refused_names_host_and_port(void **state)
{
	struct it_run r;

	(void)state;
	it_mdlsafe(&r, false, "locks", "-h", "127.0.0.1", "-P", "1", "--no-defaults", "-u", "root", NULL);
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.err, "127.0.0.1:1 "));
	assert_non_null(strstr(r.err, "-h/-P"));
	it_run_release(&r);
}

static void test_help_lists_connection_options_and_exit_codes(void **state)
{
	struct it_run r;

	(void)state;
	it_mdlsafe(&r, false, "locks", "--help", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "--defaults-extra-file"));
	assert_non_null(strstr(r.out, "--ssl-verify-server-cert"));
	assert_non_null(strstr(r.out, "--connect-timeout"));
	assert_non_null(strstr(r.out, "Exit codes"));
	it_run_release(&r);

	it_mdlsafe(&r, false, "--help", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "locks"));
	assert_non_null(strstr(r.out, "Exit codes"));
	it_run_release(&r);

	it_mdlsafe(&r, false, "nosuchcmd", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "nosuchcmd"));
	it_run_release(&r);

	it_mdlsafe(&r, false, "--version", NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(strncmp(r.out, "mdlsafe ", 8), 0);
	it_run_release(&r);
}

static void test_enable_instrumentation_switches_on_pfs_source(void **state)
{
	MYSQL *admin = it_connect();
	struct it_run r;
	char *enabled;
	json_t *j;

	(void)state;
	g.sources_changed = true;
	it_set_sources(admin, false, false);

	/* Asking for the exact source while it is off says how to get it. */
	it_mdlsafe(&r, true, "locks", "--source", "performance_schema", "--json", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--enable-instrumentation"));
	it_run_release(&r);

	it_mdlsafe(&r, true, "locks", "--enable-instrumentation", "--json", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "enabled the performance_schema instrument"));
	j = it_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "source")), "performance_schema");
	json_decref(j);
	it_run_release(&r);

	enabled = it_value(admin, "SELECT ENABLED FROM performance_schema.setup_instruments "
				  "WHERE NAME = 'wait/lock/metadata/sql/mdl'");
	assert_non_null(enabled);
	assert_string_equal(enabled, "YES");
	free(enabled);

	/* It stays on for the next run, which needs no option. */
	it_mdlsafe(&r, true, "locks", "--json", NULL);
	assert_int_equal(r.status, 0);
	j = it_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "source")), "performance_schema");
	json_decref(j);
	it_run_release(&r);

	mysql_close(admin); /* the teardown switches the instrument off again */
}

/* Variables that would change how every run here connects. */
static const char *const conn_env[] = { "MYSQL_HOST", "MYSQL_TCP_PORT", "MYSQL_UNIX_PORT", "MYSQL_PWD" };
#define N_CONN_ENV (sizeof(conn_env) / sizeof(conn_env[0]))
static struct saved_env conn_env_saved[N_CONN_ENV];

static int group_setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_CONN_ENV; i++) {
		env_save(&conn_env_saved[i], conn_env[i]);
		unsetenv(conn_env[i]);
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_CONN_ENV; i++)
		env_restore(&conn_env_saved[i]);
	return 0;
}

#define IT_TEST(f) cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		IT_TEST(test_defaults_file_mdlsafe_group_is_read),
		IT_TEST(test_defaults_extra_file_is_read_after_usual_files),
		IT_TEST(test_command_line_beats_option_file),
		IT_TEST(test_password_prompt_reads_from_terminal),
		IT_TEST(test_password_prompt_without_terminal_is_clear_error),
		IT_TEST(test_password_is_blanked_in_process_arguments),
		IT_TEST(test_watch_json_prints_one_document_per_line_and_stops_on_sigint),
		IT_TEST(test_ssl_required_against_server_without_tls_fails_clearly),
		IT_TEST(test_connect_timeout_rejects_non_number),
		IT_TEST(test_port_out_of_range),
		IT_TEST(test_unknown_host_is_named),
		IT_TEST(test_tcp_refused_names_host_and_port),
		IT_TEST(test_help_lists_connection_options_and_exit_codes),
		IT_TEST(test_enable_instrumentation_switches_on_pfs_source),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
