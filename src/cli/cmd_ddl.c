/* `mdlsafe ddl`: options, statements from argv or a file, the outcome. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "ddl/ddl.h"
#include "ddl/online.h"
#include "sql/sqlsplit.h"
#include "util/buf.h"

enum {
	OPT_FILE = 'e',
	OPT_MAX_STALL = 500,
	OPT_DEADLINE,
	OPT_KILL,
	OPT_MAX_QUEUE,
	OPT_DRY_RUN,
	OPT_ALLOW_COPY,
	OPT_ALLOW_UNPARSED,
	OPT_JSON,
	OPT_ONLINE,
	OPT_CHUNK_TIME,
	OPT_MAX_LOAD,
	OPT_PAUSE_FILE,
	OPT_POSTPONE,
	OPT_KEEP_OLD,
	OPT_RESUME,
	OPT_NO_VERIFY,
	OPT_MAX_LAG,
	OPT_REPLICA,
};

static const struct cli_opt ddl_opts[] = {
	{ "file", 'e', CLI_REQUIRED_ARG, "FILE", "read the statements from FILE (';'-separated, DELIMITER understood)" },
	{ "max-stall", OPT_MAX_STALL, CLI_REQUIRED_ARG, "MS", "longest any query may queue behind our DDL at a time (default 500)" },
	{ "deadline", OPT_DEADLINE, CLI_REQUIRED_ARG, "SECONDS", "give up after this long, exit 11, nothing half-applied (default 3600)" },
	{ "kill-blockers", OPT_KILL, CLI_REQUIRED_ARG, "POLICY",
	  "kill root blockers of our DDL that match, e.g. 'idle>30s' (idle in a transaction 30 s+), 'trx>120s', "
	  "'user=reporting', terms joined by ',' all must match; repeatable (any may match). KILL ends the session: "
	  "its transaction rolls back. Never our own sessions, replication or system threads. Default: kill nobody" },
	{ "max-queue", OPT_MAX_QUEUE, CLI_REQUIRED_ARG, "N", "give way early when N sessions queue behind our DDL (default 10)" },
	{ "dry-run", OPT_DRY_RUN, CLI_NO_ARG, NULL, "show the plan and who holds the tables; run nothing (an empty scratch copy of the table is created and dropped to learn the algorithm)" },
	{ "allow-copy", OPT_ALLOW_COPY, CLI_NO_ARG, NULL, "allow ALGORITHM=COPY, which blocks every write to the table for the whole copy" },
	{ "allow-unparsed", OPT_ALLOW_UNPARSED, CLI_NO_ARG, NULL, "run statements whose tables mdlsafe cannot tell (bounded the same way)" },
	{ "json", OPT_JSON, CLI_NO_ARG, NULL, "print the plan and outcome as JSON on stdout" },
	{ "online", OPT_ONLINE, CLI_OPTIONAL_ARG, "copy",
	  "make one ALTER TABLE without blocking writes: a change the server makes without copying the table "
	  "(INSTANT, or in place without a rebuild) runs as one bounded ALTER; any other goes through a shadow "
	  "copy (triggers capture changes, rows are copied in chunks and verified, one RENAME swaps the tables). "
	  "--online=copy always takes the shadow copy. Every lock request is bounded by --max-stall" },
	{ "chunk-time", OPT_CHUNK_TIME, CLI_REQUIRED_ARG, "SECONDS", "--online: target time of one copy chunk (default 0.5)" },
	{ "max-load", OPT_MAX_LOAD, CLI_REQUIRED_ARG, "N", "--online: pause the copy while Threads_running exceeds N (default: never)" },
	{ "max-lag", OPT_MAX_LAG, CLI_REQUIRED_ARG, "SECONDS",
	  "--online: pause the copy while a --replica lags more than this, or does not apply changes (default 1 with --replica)" },
	{ "replica", OPT_REPLICA, CLI_REQUIRED_ARG, "HOST:PORT",
	  "--online: a replica whose lag --max-lag watches (same user and password); repeatable" },
	{ "pause-file", OPT_PAUSE_FILE, CLI_REQUIRED_ARG, "FILE", "--online: pause the copy while FILE exists" },
	{ "postpone-cutover", OPT_POSTPONE, CLI_REQUIRED_ARG, "FILE",
	  "--online: do not swap the tables while FILE exists (the triggers keep the copy current)" },
	{ "keep-old", OPT_KEEP_OLD, CLI_NO_ARG, NULL, "--online: keep the original table as _T_old after the swap" },
	{ "resume", OPT_RESUME, CLI_NO_ARG, NULL, "--online: continue an interrupted change from its checkpoint" },
	{ "no-verify", OPT_NO_VERIFY, CLI_NO_ARG, NULL, "--online: skip comparing the copy with the original before the swap" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cli_command_spec ddl_spec = {
	"ddl",
	"mdlsafe ddl [options] [connection options] [-D DB] \"SQL\" [\"SQL\"...] | -e FILE",
	"Runs schema changes (ALTER TABLE, CREATE/DROP INDEX, CREATE/DROP TRIGGER, RENAME,\n"
	"TRUNCATE, OPTIMIZE, DROP TABLE, ...) so that no query queues behind them longer\n"
	"than --max-stall. Each statement is planned first: its table, the algorithm the\n"
	"server will use (INSTANT, else INPLACE with LOCK=NONE; COPY is refused unless\n"
	"--allow-copy), and who holds the table now. It then runs in attempts: a watcher\n"
	"connection cancels an attempt (KILL QUERY on our own statement) once it has waited\n"
	"--max-stall for a metadata lock, or as soon as --max-queue sessions queue behind it;\n"
	"queries drain, and it retries with backoff until --deadline. Only the waiting is\n"
	"interrupted: a long INPLACE ALTER doing its work is left alone. Blockers are named\n"
	"while waiting, and killed only when --kill-blockers says so.",
	ddl_opts,
	"Examples:\n"
	"  mdlsafe ddl -D shop \"ALTER TABLE users ADD INDEX idx_email (email)\"\n"
	"  mdlsafe ddl --kill-blockers 'idle>30s' -e migration.sql\n"
	"  mdlsafe ddl --online --kill-blockers 'idle>30s' \"ALTER TABLE shop.orders MODIFY qty BIGINT\"\n"
	"  mdlsafe ddl --dry-run \"CREATE TRIGGER t_ai AFTER INSERT ON shop.orders FOR EACH ROW SET @n = 1\"",
	true,
};

struct ddl_args {
	struct ddl_opts o;
	const char *file;
	bool json;
	bool online, online_copy; /* --online, --online=copy */
	json_t *route;            /* {route, route_reason} when the shadow copy makes the change */
	struct online_opts on;
	const char **replicas;
	struct cli_progress progress; /* the ctx of the library's callbacks */
};

static int ddl_option(void *ctx, int id, const char *arg, struct ms_err *e)
{
	struct ddl_args *a = ctx;
	struct ddl_opts *o = &a->o;
	double d;

	switch (id) {
	case OPT_FILE:
		a->file = arg;
		return 0;
	case OPT_MAX_STALL:
		if (cli_parse_double("--max-stall", arg, 100, 3600000, &d, e))
			return -1;
		o->max_stall_s = d / 1000.0;
		return 0;
	case OPT_DEADLINE:
		return cli_parse_double("--deadline", arg, 1, 31536000, &o->deadline_s, e);
	case OPT_KILL:
		return kill_policies_add(&o->kill, arg, e);
	case OPT_MAX_QUEUE:
		return cli_parse_uint("--max-queue", arg, 1, 100000, &o->max_queue, e);
	case OPT_DRY_RUN:
		o->dry_run = true;
		return 0;
	case OPT_ALLOW_COPY:
		o->allow_copy = true;
		return 0;
	case OPT_ALLOW_UNPARSED:
		o->allow_unparsed = true;
		return 0;
	case OPT_JSON:
		a->json = true;
		return 0;
	case OPT_ONLINE:
		a->online = true;
		if (arg && strcmp(arg, "copy"))
			return ms_fail(e, MS_USAGE, "--online=%s: the only value is 'copy' (always take the shadow copy)", arg);
		a->online_copy = arg != NULL;
		return 0;
	case OPT_CHUNK_TIME:
		return cli_parse_double("--chunk-time", arg, 0.01, 60, &a->on.chunk_time_s, e);
	case OPT_MAX_LOAD:
		return cli_parse_uint("--max-load", arg, 1, 100000, &a->on.max_load, e);
	case OPT_PAUSE_FILE:
		a->on.pause_file = arg;
		return 0;
	case OPT_POSTPONE:
		a->on.postpone_file = arg;
		return 0;
	case OPT_KEEP_OLD:
		a->on.keep_old = true;
		return 0;
	case OPT_RESUME:
		a->on.resume = true;
		return 0;
	case OPT_NO_VERIFY:
		a->on.no_verify = true;
		return 0;
	case OPT_MAX_LAG:
		return cli_parse_double("--max-lag", arg, 0.1, 86400, &a->on.max_lag_s, e);
	case OPT_REPLICA: {
		const char **grown = realloc(a->replicas, (a->on.n_replicas + 1) * sizeof(*grown));
		if (!grown)
			return ms_oom(e);
		a->replicas = grown;
		grown[a->on.n_replicas++] = arg;
		a->on.replicas = grown;
		return 0;
	}
	}
	return ms_fail(e, MS_INTERNAL, "unhandled option %d", id);
}

static void on_progress(void *ctx, const struct online_progress *p)
{
	struct cli_progress *pr = ctx;
	double left = p->rows_per_s > 0 && p->rows_estimated > p->rows_done
			      ? (double)(p->rows_estimated - p->rows_done) / p->rows_per_s
			      : 0;

	if (!cli_progress_due(pr, p->elapsed_s, false))
		return;
	cli_progress_show(pr, "%s %llu/~%llu rows (%.0f%%), %.0f rows/s, ETA %.0f s%s", p->phase, p->rows_done,
			  p->rows_estimated,
			  p->rows_estimated ? 100.0 * (double)p->rows_done / (double)p->rows_estimated : 0.0,
			  p->rows_per_s, left, p->paused ? ", paused" : "");
}

static volatile sig_atomic_t online_stop;

static void on_online_signal(int sig)
{
	(void)sig;
	online_stop = 1;
}

static int run_online(struct ddl_args *a, struct db_params *conn, json_t **report, struct ms_err *e)
{
	struct online_opts *on = &a->on;
	struct sigaction sa;

	if (!on->chunk_time_s)
		on->chunk_time_s = 0.5;
	if (on->max_lag_s && !on->n_replicas)
		return ms_fail(e, MS_USAGE, "--max-lag needs the replicas to watch: --replica HOST:PORT (repeatable)");
	if (on->n_replicas && !on->max_lag_s)
		on->max_lag_s = 1;
	on->conn = conn;
	on->database = conn->database;
	on->statement = a->o.statements[0];
	on->max_stall_s = a->o.max_stall_s;
	on->deadline_s = a->o.deadline_s;
	on->kill = &a->o.kill;
	on->dry_run = a->o.dry_run;
	on->note = cli_note;
	on->progress = on_progress;
	on->ctx = &a->progress;
	/* The first SIGINT/SIGTERM stops the change before the swap and drops
	 * the triggers and the shadow; a second one ends the process at once. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_online_signal;
	sa.sa_flags = SA_RESTART | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	on->stop = &online_stop;
	return online_run(on, report, e);
}

/* --online: the ddl planner probes the change; one the server makes without
 * copying the table runs there as one bounded ALTER (its report is left in
 * *report); any other is left for the shadow copy (*report stays NULL and
 * a->route says why). --online=copy and --resume go to the copy at once. */
static int route_online(struct ddl_args *a, struct db_params *conn, json_t **report, struct ms_err *e)
{
	int rc;

	if (a->online_copy || a->on.resume) {
		a->route = json_pack("{s:s, s:s}", "route", "copy", "route_reason",
				     a->online_copy ? "--online=copy asks for it" : "--resume continues one");
		cli_note(&a->progress, a->online_copy
					       ? "route: a shadow copy of the table, because --online=copy asks for it"
					       : "route: a shadow copy of the table, because --resume continues one");
		return 0;
	}
	a->o.conn = conn;
	a->o.database = conn->database;
	a->o.note = cli_note;
	a->o.ctx = &a->progress;
	a->o.online = true;
	rc = ddl_run(&a->o, report, e);
	if (rc != DDL_ROUTED_TO_COPY) {
		if (rc == 0 && (a->on.chunk_time_s || a->on.max_load || a->on.pause_file || a->on.postpone_file ||
				a->on.keep_old || a->on.no_verify || a->on.n_replicas))
			cli_note(&a->progress,
				 "--chunk-time, --max-load, --replica, --pause-file, --postpone-cutover, --keep-old "
				 "and --no-verify did not apply: no shadow copy was needed");
		return rc;
	}
	a->route = json_pack("{s:O?, s:O?}", "route", json_object_get(*report, "route"), "route_reason",
			     json_object_get(*report, "route_reason"));
	json_decref(*report);
	*report = NULL;
	return 0;
}

static int add_stmt(void *ctx, const char *stmt, size_t len, unsigned line)
{
	struct ddl_opts *o = ctx;
	char **grown = realloc(o->statements, (o->n_statements + 1) * sizeof(char *));

	(void)line;
	if (!grown)
		return -1;
	o->statements = grown;
	if (!(grown[o->n_statements] = strndup(stmt, len)))
		return -1;
	o->n_statements++;
	return 0;
}

static int read_file(struct ddl_args *a, struct ms_err *e)
{
	struct buf text = BUF_INIT;
	char chunk[65536];
	size_t n;
	FILE *f = fopen(a->file, "rb");
	int rc;

	if (!f)
		return ms_fail(e, MS_USAGE, "-e %s: cannot open it", a->file);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&text, chunk, n);
	fclose(f);
	if (text.failed)
		return buf_release(&text), ms_oom(e);
	rc = sqlsplit_each(text.data ? text.data : "", text.len, add_stmt, &a->o);
	buf_release(&text);
	if (rc == -1)
		return ms_oom(e);
	if (rc < -1)
		return ms_fail(e, MS_USAGE, "-e %s: a quote or comment is not closed, or a DELIMITER line is bad", a->file);
	return 0;
}

int cmd_ddl(int argc, char **argv)
{
	struct ddl_args a;
	struct db_params conn;
	struct ms_err e;
	json_t *report = NULL;
	int first, rc;

	memset(&a, 0, sizeof(a));
	memset(&conn, 0, sizeof(conn));
	ms_err_clear(&e);
	a.o.max_stall_s = 0.5;
	a.o.deadline_s = 3600;
	a.o.max_queue = 10;
	cli_progress_init(&a.progress, "mdlsafe ddl: ");
	rc = cli_parse(&ddl_spec, argc, argv, &conn, ddl_option, &a, &first, &e);
	if (rc == 0 && a.file && first < argc)
		rc = ms_fail(&e, MS_USAGE, "give the statements as arguments or with -e FILE, not both");
	if (rc == 0 && a.file)
		rc = read_file(&a, &e);
	for (int i = first; rc == 0 && !a.file && i < argc; i++)
		if (add_stmt(&a.o, argv[i], strlen(argv[i]), 0))
			rc = ms_oom(&e);
	if (rc == 0 && a.o.n_statements == 0)
		rc = ms_fail(&e, MS_USAGE, "no statement to run: mdlsafe ddl \"ALTER TABLE ...\"; see 'mdlsafe ddl --help'");
	if (rc == 0 && !a.online &&
	    (a.on.chunk_time_s || a.on.max_load || a.on.pause_file || a.on.postpone_file || a.on.keep_old || a.on.resume ||
	     a.on.no_verify || a.on.max_lag_s || a.on.n_replicas))
		rc = ms_fail(&e, MS_USAGE, "--chunk-time, --max-load, --max-lag, --replica, --pause-file, --postpone-cutover, "
					   "--keep-old, --resume and --no-verify go with --online");
	if (rc == 0 && a.online && a.o.n_statements != 1)
		rc = ms_fail(&e, MS_USAGE, "--online takes exactly one ALTER TABLE statement, got %zu", a.o.n_statements);
	if (rc == 0 && a.online) {
		rc = route_online(&a, &conn, &report, &e);
		if (rc == 0 && !report) {
			rc = run_online(&a, &conn, &report, &e);
			if (report) {
				json_object_set(report, "route", json_object_get(a.route, "route"));
				json_object_set(report, "route_reason", json_object_get(a.route, "route_reason"));
			}
		}
		cli_progress_end(&a.progress);
		if (a.json && report)
			cli_print_json(report);
		if (rc == 0 && !a.json)
			fprintf(stderr, "mdlsafe ddl: %s\n", a.o.dry_run ? "dry run, nothing changed" : "done");
	} else if (rc == 0) {
		a.o.conn = &conn;
		a.o.database = conn.database;
		a.o.note = cli_note;
		a.o.ctx = &a.progress;
		rc = ddl_run(&a.o, &report, &e);
		if (a.json && report)
			cli_print_json(report);
		if (rc == 0 && !a.json)
			fprintf(stderr, "mdlsafe ddl: %s: %zu statement%s\n", a.o.dry_run ? "dry run, nothing changed" : "done",
				a.o.n_statements, a.o.n_statements == 1 ? "" : "s");
	}
	json_decref(report);
	json_decref(a.route);
	for (size_t i = 0; i < a.o.n_statements; i++)
		free(a.o.statements[i]);
	free(a.o.statements);
	kill_policies_release(&a.o.kill);
	free(a.replicas);
	db_params_release(&conn);
	if (rc > 0)
		return MS_OK;
	return rc ? cli_report_error("ddl", &e) : MS_OK;
}
