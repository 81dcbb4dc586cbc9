/* `mdlsafe guard`: options, signals, human lines on stderr. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "guard/guard.h"

enum {
	OPT_INTERVAL = 500,
	OPT_MAX_STALL,
	OPT_KILL_DDL,
	OPT_KILL_IDLE,
	OPT_IGNORE,
	OPT_PROTECT,
	OPT_DRY_RUN,
	OPT_LOG,
	OPT_METRICS,
	OPT_ONCE,
};

static const struct cli_opt guard_opts[] = {
	{ "interval", OPT_INTERVAL, CLI_REQUIRED_ARG, "MS", "poll period (default 250)" },
	{ "max-stall", OPT_MAX_STALL, CLI_REQUIRED_ARG, "MS", "a pile-up is any metadata-lock wait older than this (default 2000)" },
	{ "kill-waiting-ddl", OPT_KILL_DDL, CLI_NO_ARG, NULL,
	  "cancel with KILL QUERY a pending DDL, LOCK TABLES or FLUSH that others have queued behind in a pile-up "
	  "(the statement fails, its session survives)" },
	{ "kill-idle-blockers", OPT_KILL_IDLE, CLI_REQUIRED_ARG, "SECONDS",
	  "KILL root blockers of a pile-up that have been idle in a transaction this long (the session ends, its "
	  "transaction rolls back); tried before --kill-waiting-ddl" },
	{ "ignore-user", OPT_IGNORE, CLI_REQUIRED_ARG, "USER", "waits of this user do not make a pile-up (repeatable)" },
	{ "protect-user", OPT_PROTECT, CLI_REQUIRED_ARG, "USER", "never kill sessions of this user (repeatable)" },
	{ "dry-run", OPT_DRY_RUN, CLI_NO_ARG, NULL, "say what would be killed, kill nothing" },
	{ "log", OPT_LOG, CLI_REQUIRED_ARG, "FILE", "append one JSON line per event (pile-up opened/closed, action, connection lost/back)" },
	{ "metrics-file", OPT_METRICS, CLI_REQUIRED_ARG, "FILE", "Prometheus text format, rewritten atomically every poll (node_exporter textfile collector)" },
	{ "once", OPT_ONCE, CLI_NO_ARG, NULL, "one pass, then exit: 1 when a pile-up was seen, 0 when none (for cron and tests)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cli_command_spec guard_spec = {
	"guard",
	"mdlsafe guard [options] [connection options]",
	"Watches for metadata-lock pile-ups other clients cause (a cron mysqldump, a migration,\n"
	"a hand-typed CREATE INDEX) and records one event per pile-up: the table, the root\n"
	"blockers, the head request, how many queued, what was done, how long it lasted.\n"
	"Without a kill option it only reports. Kills follow the policy exactly and never touch\n"
	"mdlsafe's own sessions, replication or system threads, or --protect-user users.\n"
	"One connection, a few cheap queries per poll. A lost connection or a server restart\n"
	"is logged and retried with backoff; SIGTERM/SIGINT end it cleanly. Needs PROCESS, and\n"
	"CONNECTION ADMIN (or SUPER) to kill other users' sessions.",
	guard_opts,
	"Examples:\n"
	"  mdlsafe guard --log /var/log/mdlsafe-guard.jsonl --metrics-file /var/lib/node_exporter/mdlsafe.prom\n"
	"  mdlsafe guard --kill-waiting-ddl --max-stall 1000\n"
	"  mdlsafe guard --kill-idle-blockers 60 --protect-user replication_admin --dry-run\n"
	"  A systemd unit: contrib/mdlsafe-guard.service",
	true,
};

struct guard_args {
	struct guard_opts o;
	const char *log_path;
};

static int guard_option(void *ctx, int id, const char *arg, struct ms_err *e)
{
	struct guard_args *a = ctx;
	struct guard_opts *o = &a->o;
	double d;

	switch (id) {
	case OPT_INTERVAL:
		if (cli_parse_double("--interval", arg, 50, 3600000, &d, e))
			return -1;
		o->interval_s = d / 1000;
		return 0;
	case OPT_MAX_STALL:
		if (cli_parse_double("--max-stall", arg, 100, 86400000, &d, e))
			return -1;
		o->max_stall_s = d / 1000;
		return 0;
	case OPT_KILL_DDL:
		o->kill_waiting_ddl = true;
		return 0;
	case OPT_KILL_IDLE:
		return cli_parse_double("--kill-idle-blockers", arg, 1, 31536000, &o->kill_idle_s, e);
	case OPT_IGNORE:
		return cli_add_str(&o->ignore_users, &o->n_ignore, arg, e);
	case OPT_PROTECT:
		return cli_add_str(&o->protect_users, &o->n_protect, arg, e);
	case OPT_DRY_RUN:
		o->dry_run = true;
		return 0;
	case OPT_LOG:
		a->log_path = arg;
		return 0;
	case OPT_METRICS:
		o->metrics_file = arg;
		return 0;
	case OPT_ONCE:
		o->once = true;
		return 0;
	}
	return ms_fail(e, MS_INTERNAL, "unhandled option %d", id);
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The log holds other sessions' statements: created owner-only, appended
 * to, and never reached through a symbolic link someone else may have
 * planted at its path (nor blocked on a FIFO). */
static int open_log(const char *path, FILE **out, struct ms_err *e)
{
	struct stat sb;
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);

	if (fd < 0 && errno == ELOOP)
		return ms_fail(e, MS_IO, "--log %s: is a symbolic link, which the guard does not follow; give the "
			       "real file's path", path);
	if (fd < 0)
		return ms_fail(e, MS_IO, "--log %s: cannot open it for appending: %s", path, strerror(errno));
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return ms_fail(e, MS_IO, "--log %s: is not a regular file; give a file's path", path);
	}
	if (fcntl(fd, F_SETFL, O_APPEND) != 0 || !(*out = fdopen(fd, "a"))) {
		close(fd);
		return ms_fail(e, MS_IO, "--log %s: cannot open it for appending: %s", path, strerror(errno));
	}
	return 0;
}

int cmd_guard(int argc, char **argv)
{
	struct guard_args a;
	struct db_params conn;
	struct ms_err e;
	int first, rc;

	memset(&a, 0, sizeof(a));
	memset(&conn, 0, sizeof(conn));
	ms_err_clear(&e);
	a.o.interval_s = 0.25;
	a.o.max_stall_s = 2.0;
	rc = cli_parse(&guard_spec, argc, argv, &conn, guard_option, &a, &first, &e);
	if (rc == 0 && first < argc)
		rc = ms_fail(&e, MS_USAGE, "unexpected argument '%s'; see 'mdlsafe guard --help'", argv[first]);
	if (rc == 0 && a.log_path)
		rc = open_log(a.log_path, &a.o.log, &e);
	if (rc == 0) {
		a.o.conn = &conn;
		a.o.stop = cli_stop_on_signals();
		a.o.say = cli_say_timed;
		a.o.ctx = (void *)"guard";
		rc = guard_run(&a.o, &e);
	}
	if (a.o.log)
		fclose(a.o.log);
	free_list(a.o.ignore_users, a.o.n_ignore);
	free_list(a.o.protect_users, a.o.n_protect);
	db_params_release(&conn);
	if (rc < 0)
		return cli_report_error("guard", &e);
	return rc == 1 && a.o.once ? MS_CHECK_FAILED : MS_OK;
}
