/* Option parsing and help generation shared by every command. */
#include "cli/options.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/visible.h"

enum {
	OPT_HELP = 'H' + 1000,
	OPT_DEFAULTS_FILE = 300,
	OPT_DEFAULTS_EXTRA_FILE,
	OPT_NO_DEFAULTS,
	OPT_SSL,
	OPT_SSL_CA,
	OPT_SSL_CERT,
	OPT_SSL_KEY,
	OPT_SSL_VERIFY,
	OPT_CONNECT_TIMEOUT,
};

static const struct cli_opt conn_opts[] = {
	{ "host", 'h', CLI_REQUIRED_ARG, "HOST", "server host (default: localhost, via the socket)" },
	{ "port", 'P', CLI_REQUIRED_ARG, "PORT", "TCP port (default 3306; MYSQL_TCP_PORT)" },
	{ "socket", 'S', CLI_REQUIRED_ARG, "PATH", "unix socket (MYSQL_UNIX_PORT)" },
	{ "user", 'u', CLI_REQUIRED_ARG, "USER", "user name (default: your login name)" },
	{ "password", 'p', CLI_OPTIONAL_ARG, "PASSWORD",
	  "password; -p alone prompts on the terminal. Prefer an option file or MYSQL_PWD: a password in argv is visible to other users" },
	{ "database", 'D', CLI_REQUIRED_ARG, "DB", "default database" },
	{ "defaults-file", OPT_DEFAULTS_FILE, CLI_REQUIRED_ARG, "FILE", "read options only from FILE" },
	{ "defaults-extra-file", OPT_DEFAULTS_EXTRA_FILE, CLI_REQUIRED_ARG, "FILE",
	  "read FILE after the usual option files" },
	{ "no-defaults", OPT_NO_DEFAULTS, CLI_NO_ARG, NULL, "read no option files" },
	{ "ssl", OPT_SSL, CLI_NO_ARG, NULL, "require TLS" },
	{ "ssl-ca", OPT_SSL_CA, CLI_REQUIRED_ARG, "FILE", "CA certificate (implies --ssl)" },
	{ "ssl-cert", OPT_SSL_CERT, CLI_REQUIRED_ARG, "FILE", "client certificate (implies --ssl)" },
	{ "ssl-key", OPT_SSL_KEY, CLI_REQUIRED_ARG, "FILE", "client key (implies --ssl)" },
	{ "ssl-verify-server-cert", OPT_SSL_VERIFY, CLI_NO_ARG, NULL, "verify the server's certificate and host name" },
	{ "connect-timeout", OPT_CONNECT_TIMEOUT, CLI_REQUIRED_ARG, "SECONDS", "give up connecting after this long (default 10)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cli_opt help_opt = { "help", OPT_HELP, CLI_NO_ARG, NULL, "show this help" };

static size_t count_opts(const struct cli_opt *o)
{
	size_t n = 0;
	while (o && o[n].long_name)
		n++;
	return n;
}

static int set_string(char **dst, const char *arg, struct ms_err *e)
{
	free(*dst);
	*dst = strdup(arg);
	return *dst ? 0 : ms_oom(e);
}

static int conn_option(struct db_params *p, int id, char *arg, struct ms_err *e)
{
	switch (id) {
	case 'h': return set_string(&p->host, arg, e);
	case 'S': return set_string(&p->socket, arg, e);
	case 'u': return set_string(&p->user, arg, e);
	case 'D': return set_string(&p->database, arg, e);
	case 'P': return cli_parse_uint("--port", arg, 1, 65535, &p->port, e);
	case 'p':
		if (arg) {
			if (set_string(&p->password, arg, e))
				return -1;
			/* Blank the argv copy so it does not linger in /proc/PID/cmdline. */
			memset(arg, 'x', strlen(arg));
			p->password_set = true;
			return 0;
		}
		{
			char *typed;
			if (cli_read_password("Enter password: ", &typed, e))
				return -1;
			if (p->password) /* a repeated -p replaces the first */
				memset(p->password, 0, strlen(p->password));
			free(p->password);
			p->password = typed;
		}
		p->password_set = true;
		return 0;
	case OPT_DEFAULTS_FILE:
		if (access(arg, R_OK))
			return ms_fail(e, MS_USAGE, "--defaults-file %s: %s", arg, strerror(errno));
		return set_string(&p->defaults_file, arg, e);
	case OPT_DEFAULTS_EXTRA_FILE:
		if (access(arg, R_OK))
			return ms_fail(e, MS_USAGE, "--defaults-extra-file %s: %s", arg, strerror(errno));
		return set_string(&p->defaults_extra_file, arg, e);
	case OPT_NO_DEFAULTS: p->no_defaults = true; return 0;
	case OPT_SSL: p->ssl = true; return 0;
	case OPT_SSL_CA: return set_string(&p->ssl_ca, arg, e);
	case OPT_SSL_CERT: return set_string(&p->ssl_cert, arg, e);
	case OPT_SSL_KEY: return set_string(&p->ssl_key, arg, e);
	case OPT_SSL_VERIFY: p->ssl_verify_server_cert = true; return 0;
	case OPT_CONNECT_TIMEOUT:
		return cli_parse_uint("--connect-timeout", arg, 1, 3600, &p->connect_timeout, e);
	}
	return 1; /* not a connection option */
}

struct buf_short {
	char s[128];
	size_t n;
};

static void add_long(struct option *lo, size_t *n, const struct cli_opt *o, struct buf_short *sh)
{
	lo[*n].name = o->long_name;
	lo[*n].has_arg = o->has_arg;
	lo[*n].flag = NULL;
	lo[*n].val = o->id;
	(*n)++;
	if (o->id > 0 && o->id < 128 && sh->n + 3 < sizeof(sh->s)) {
		sh->s[sh->n++] = (char)o->id;
		if (o->has_arg == CLI_REQUIRED_ARG)
			sh->s[sh->n++] = ':';
		else if (o->has_arg == CLI_OPTIONAL_ARG) {
			sh->s[sh->n++] = ':';
			sh->s[sh->n++] = ':';
		}
		sh->s[sh->n] = '\0';
	}
}

static const char *option_text(const char *argv_i)
{
	return argv_i ? argv_i : "?";
}

int cli_parse(const struct cli_command_spec *spec, int argc, char **argv, struct db_params *conn,
	      cli_opt_fn fn, void *ctx, int *first_arg, struct ms_err *e)
{
	size_t n_cmd = count_opts(spec->opts), n_conn = spec->connects ? count_opts(conn_opts) : 0;
	struct option *lo = calloc(n_cmd + n_conn + 2, sizeof(*lo));
	/* Leading ':' makes getopt report a missing argument distinctly. */
	struct buf_short sh = { ":", 1 };
	size_t n = 0;
	int c, rc = 0;

	if (!lo)
		return ms_oom(e);
	for (size_t i = 0; i < n_conn; i++)
		add_long(lo, &n, &conn_opts[i], &sh);
	for (size_t i = 0; i < n_cmd; i++)
		add_long(lo, &n, &spec->opts[i], &sh);
	add_long(lo, &n, &help_opt, &sh);

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, sh.s, lo, NULL)) != -1) {
		const char *bad = option_text(argv[optind - 1]);
		if (c == '?') {
			rc = ms_fail(e, MS_USAGE, "unknown option %s for '%s'; see 'mdlsafe %s --help'", bad,
				     spec->name, spec->name);
			break;
		}
		if (c == ':') {
			rc = ms_fail(e, MS_USAGE, "option %s needs a value; see 'mdlsafe %s --help'", bad,
				     spec->name);
			break;
		}
		if (c == OPT_HELP) {
			cli_print_help(stdout, spec);
			rc = 1;
			break;
		}
		if (spec->connects) {
			int r = conn_option(conn, c, optarg, e);
			if (r < 0) {
				rc = -1;
				break;
			}
			if (r == 0)
				continue;
		}
		if (fn(ctx, c, optarg, e)) {
			rc = -1;
			break;
		}
	}
	*first_arg = optind;
	free(lo);
	return rc;
}

enum { HELP_COLUMN = 35 }; /* where an option's text starts in --help */

static void print_opt(FILE *out, const struct cli_opt *o)
{
	char left[64];
	int n = 0;

	if (o->id > 0 && o->id < 128)
		n = snprintf(left, sizeof(left), "  -%c, --%s", o->id, o->long_name);
	else
		n = snprintf(left, sizeof(left), "      --%s", o->long_name);
	if (o->arg_name && n > 0 && (size_t)n < sizeof(left))
		snprintf(left + n, sizeof(left) - (size_t)n, o->has_arg == CLI_OPTIONAL_ARG ? "[=%s]" : " %s",
			 o->arg_name);
	/* At least two spaces between the option and its text, as in GNU
	 * --help: the man page and completion generators (dist/) split there. */
	if (strlen(left) > HELP_COLUMN - 2)
		fprintf(out, "%s\n%*s%s\n", left, HELP_COLUMN, "", o->help);
	else
		fprintf(out, "%-*s%s\n", HELP_COLUMN, left, o->help);
}

void cli_print_exit_codes(FILE *out)
{
	fputs("Exit codes:\n"
	      "  0  success (locks: no wait older than --max-wait with --check)\n"
	      "  1  --check found a wait older than --max-wait; restore --verify found a difference;\n"
	      "     guard --once saw a pile-up\n"
	      "  2  usage error: unknown option, bad value; restore would overwrite; ddl refuses\n"
	      "     a COPY or a statement it cannot read\n"
	      "  3  cannot connect: server down, wrong socket/host/port, TLS failure,\n"
	      "     connection lost\n"
	      "  4  access denied: wrong user or password\n"
	      "  5  missing privilege (the message names it)\n"
	      "  6  a statement failed on the server\n"
	      "  7  local I/O error (file, terminal)\n"
	      "  8  internal error (out of memory, bug)\n"
	      "  9  busy: another mdlsafe run holds the target directory, journal or server\n"
	      " 10  verify, restore: the backup is damaged or incomplete (the message names the file)\n"
	      " 11  --timeout (ddl: --deadline) expired; nothing half-done was kept\n",
	      out);
}

void cli_print_help(FILE *out, const struct cli_command_spec *spec)
{
	fprintf(out, "Usage: %s\n\n%s\n\nOptions:\n", spec->usage, spec->summary);
	for (size_t i = 0; spec->opts && spec->opts[i].long_name; i++)
		print_opt(out, &spec->opts[i]);
	print_opt(out, &help_opt);
	if (spec->connects) {
		fputs("\nConnection options (as for the mariadb client; also read from the [client] and\n"
		      "[mdlsafe] groups of the usual option files, e.g. ~/.my.cnf; MYSQL_HOST,\n"
		      "MYSQL_TCP_PORT, MYSQL_UNIX_PORT and MYSQL_PWD are honoured):\n",
		      out);
		for (size_t i = 0; conn_opts[i].long_name; i++)
			print_opt(out, &conn_opts[i]);
	}
	if (spec->epilog)
		fprintf(out, "\n%s\n", spec->epilog);
	fputc('\n', out);
	cli_print_exit_codes(out);
}

int cli_parse_double(const char *opt, const char *arg, double min, double max, double *out,
		     struct ms_err *e)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || v < min || v > max)
		return ms_fail(e, MS_USAGE, "%s: '%s' is not a number between %g and %g", opt, arg, min, max);
	*out = v;
	return 0;
}

int cli_parse_uint(const char *opt, const char *arg, unsigned min, unsigned max, unsigned *out,
		   struct ms_err *e)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v < min || v > max)
		return ms_fail(e, MS_USAGE, "%s: '%s' is not a whole number between %u and %u", opt, arg, min, max);
	*out = (unsigned)v;
	return 0;
}

int cli_read_password(const char *prompt, char **out, struct ms_err *e)
{
	struct termios old, quiet;
	char line[1024];
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY);
	ssize_t n = 0;
	size_t len = 0;

	if (fd < 0)
		return ms_fail(e, MS_USAGE,
			       "-p without a value prompts on a terminal, and there is none; give the password in an option file (--defaults-extra-file) or MYSQL_PWD");
	/* Echo goes off before the prompt appears: whatever is typed after
	 * seeing it is neither echoed nor flushed away by TCSAFLUSH. */
	if (tcgetattr(fd, &old)) {
		close(fd);
		return ms_fail(e, MS_IO, "cannot prompt for a password on the terminal: %s", strerror(errno));
	}
	quiet = old;
	quiet.c_lflag &= (tcflag_t)~(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	if (tcsetattr(fd, TCSAFLUSH, &quiet) || write(fd, prompt, strlen(prompt)) < 0) {
		int err = errno;
		tcsetattr(fd, TCSAFLUSH, &old);
		close(fd);
		return ms_fail(e, MS_IO, "cannot prompt for a password on the terminal: %s", strerror(err));
	}
	while (len + 1 < sizeof(line) && (n = read(fd, line + len, 1)) == 1 && line[len] != '\n')
		len++;
	tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0) { /* the prompt line still needs ending */ }
	close(fd);
	if (n < 0)
		return ms_fail(e, MS_IO, "reading the password failed: %s", strerror(errno));
	line[len] = '\0';
	*out = strdup(line);
	memset(line, 0, sizeof(line));
	return *out ? 0 : ms_oom(e);
}

void cli_print_line(FILE *f, const char *lead, const char *line)
{
	fputs(lead, f);
	fput_visible(f, line, VISIBLE_ALL);
	fputc('\n', f);
}

int cli_report_error(const char *cmd, const struct ms_err *e)
{
	char lead[64];

	snprintf(lead, sizeof(lead), "mdlsafe%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	cli_print_line(stderr, lead, e->msg);
	return e->status ? (int)e->status : MS_INTERNAL;
}

int cli_add_str(char ***v, size_t *n, const char *s, struct ms_err *e)
{
	char **grown = realloc(*v, (*n + 1) * sizeof(char *));

	if (!grown || !(grown[*n] = strdup(s))) {
		if (grown)
			*v = grown;
		return ms_oom(e);
	}
	*v = grown;
	(*n)++;
	return 0;
}

void cli_human_bytes(char *out, size_t n, double b)
{
	const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (b >= 1024 && u < 4) {
		b /= 1024;
		u++;
	}
	snprintf(out, n, "%.1f %s", b, units[u]);
}

void cli_progress_init(struct cli_progress *pr, const char *lead)
{
	pr->lead = lead;
	pr->tty = isatty(STDERR_FILENO);
	pr->last_log = 0;
}

bool cli_progress_due(struct cli_progress *pr, double elapsed_s, bool force)
{
	if (!pr->tty && !force && elapsed_s - pr->last_log < 10)
		return false;
	pr->last_log = elapsed_s;
	return true;
}

void cli_progress_show(const struct cli_progress *pr, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s%s", pr->tty ? "\r\033[K" : "", pr->lead);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (!pr->tty)
		fputc('\n', stderr);
	fflush(stderr);
}

void cli_note(void *ctx, const char *line)
{
	const struct cli_progress *pr = ctx;

	if (pr->tty)
		fputs("\r\033[K", stderr);
	cli_print_line(stderr, pr->lead, line);
}

void cli_progress_end(const struct cli_progress *pr)
{
	if (pr->tty)
		fputc('\n', stderr);
}

int cli_qualify_tables(char **tables, size_t n, const char *db, bool only_db, struct ms_err *e)
{
	size_t dl = strlen(db);

	for (size_t i = 0; i < n; i++) {
		char *full;

		if (strchr(tables[i], '.')) {
			if (only_db && (strncmp(tables[i], db, dl) || tables[i][dl] != '.'))
				return ms_fail(e, MS_USAGE, "--tables %s: --physical backs up `%s` only", tables[i],
					       db);
			continue;
		}
		full = ms_asprintf("%s.%s", db, tables[i]);
		if (!full)
			return ms_oom(e);
		free(tables[i]);
		tables[i] = full;
	}
	return 0;
}

const char *cli_unqualified_table(char *const *tables, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr(tables[i], '.'))
			return tables[i];
	return NULL;
}

void cli_print_json(const json_t *doc)
{
	json_t *out = json_object();

	if (!json_object_get(doc, "schema_version"))
		json_object_set_new(out, "schema_version", json_integer(CLI_JSON_SCHEMA_VERSION));
	json_object_update(out, (json_t *)doc);
	json_dumpf(out, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	fflush(stdout);
	json_decref(out);
}

json_t *cli_failed_json(const struct ms_err *e)
{
	return json_pack("{s:s, s:s, s:i}", "status", "failed", "error", e->msg, "exit_code", e->status);
}

unsigned cli_cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

static volatile sig_atomic_t stop_flag;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

volatile sig_atomic_t *cli_stop_on_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	return &stop_flag;
}

void cli_say_timed(void *ctx, const char *line)
{
	char lead[64];
	time_t t = time(NULL);
	struct tm tm;
	size_t n;

	localtime_r(&t, &tm);
	n = strftime(lead, sizeof(lead), "%H:%M:%S ", &tm);
	snprintf(lead + n, sizeof(lead) - n, "mdlsafe %s: ", (const char *)ctx);
	cli_print_line(stderr, lead, line);
}
