/* `mdlsafe locks`: who freezes whom, right now, and what to kill. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/locks_render.h"
#include "cli/options.h"
#include "mdl/graph_json.h"
#include "mdl/inspect.h"
#include "util/clock.h"

enum {
	OPT_JSON = 400,
	OPT_WATCH,
	OPT_CHECK,
	OPT_MAX_WAIT,
	OPT_ALL,
	OPT_SOURCE,
	OPT_ENABLE,
};

static const struct cli_opt locks_opts[] = {
	{ "json", OPT_JSON, CLI_NO_ARG, NULL, "print JSON (schema in docs/formats.md); with --watch, one document per line" },
	{ "watch", OPT_WATCH, CLI_REQUIRED_ARG, "SECONDS", "refresh every SECONDS until Ctrl-C, like top" },
	{ "check", OPT_CHECK, CLI_NO_ARG, NULL, "for monitoring: exit 1 when a wait is older than --max-wait" },
	{ "max-wait", OPT_MAX_WAIT, CLI_REQUIRED_ARG, "SECONDS", "threshold for --check (default 10)" },
	{ "all", OPT_ALL, CLI_NO_ARG, NULL, "also list InnoDB row-lock waits" },
	{ "source", OPT_SOURCE, CLI_REQUIRED_ARG, "SRC",
	  "auto (default), performance_schema, metadata_lock_info or processlist" },
	{ "enable-instrumentation", OPT_ENABLE, CLI_NO_ARG, NULL,
	  "switch on the performance_schema MDL instrument, or install the metadata_lock_info plugin, for exact holders (needs privileges; never done silently)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cli_command_spec locks_spec = {
	"locks",
	"mdlsafe locks [options] [connection options]",
	"Shows the server's metadata-lock wait graph now: for each table with waiters, the\n"
	"pending head request (e.g. an ALTER), the sessions it waits for, and the sessions\n"
	"queued behind it; the root blockers first, with the KILL that would release them.\n"
	"Reads performance_schema.metadata_locks when its MDL instrument is on (exact), else\n"
	"the metadata_lock_info plugin (exact holders), else the processlist and INNODB_TRX\n"
	"(holders shown as candidates). Needs the PROCESS privilege. Reads only: it kills nothing.",
	locks_opts,
	"Examples:\n"
	"  mdlsafe locks -S /run/mysqld/mysqld.sock -u root\n"
	"  mdlsafe locks --json | jq '.root_blockers[].kill'\n"
	"  mdlsafe locks --check --max-wait 5      # nagios-style: exit 1 if any wait > 5 s\n"
	"  mdlsafe locks --watch 1",
	true,
};

struct locks_args {
	bool json, check, all, enable;
	double watch_s, max_wait_s;
	enum mdl_source source;
};

static int locks_option(void *ctx, int id, const char *arg, struct ms_err *e)
{
	struct locks_args *a = ctx;

	switch (id) {
	case OPT_JSON: a->json = true; return 0;
	case OPT_CHECK: a->check = true; return 0;
	case OPT_ALL: a->all = true; return 0;
	case OPT_ENABLE: a->enable = true; return 0;
	case OPT_WATCH: return cli_parse_double("--watch", arg, 0.1, 86400, &a->watch_s, e);
	case OPT_MAX_WAIT: return cli_parse_double("--max-wait", arg, 0, 31536000, &a->max_wait_s, e);
	case OPT_SOURCE:
		if (mdl_source_parse(arg, &a->source))
			return ms_fail(e, MS_USAGE, "--source: '%s' is not one of auto, performance_schema, metadata_lock_info, processlist", arg);
		return 0;
	}
	return ms_fail(e, MS_INTERNAL, "unhandled option %d", id);
}

static volatile sig_atomic_t locks_stop;

static void locks_on_signal(int sig)
{
	(void)sig;
	locks_stop = 1;
}

static int locks_print_once(struct db *db, const struct locks_args *a, bool clear, double *oldest,
			    struct ms_err *e)
{
	struct mdl_inspect_opts io = { a->source, a->all, NULL };
	struct mdl_snapshot snap;
	struct mdl_graph g;

	if (mdl_inspect_load(db, &io, &snap, e))
		return -1;
	if (mdl_graph_build(&snap, &g, e)) {
		mdl_snapshot_release(&snap);
		return -1;
	}
	*oldest = g.oldest_wait_s;
	if (a->json) {
		json_t *j = mdl_graph_to_json(&g);
		if (!j || json_dumpf(j, stdout, a->watch_s > 0 ? JSON_COMPACT : JSON_INDENT(2))) {
			json_decref(j);
			mdl_graph_release(&g);
			mdl_snapshot_release(&snap);
			return ms_fail(e, MS_IO, "cannot write JSON to standard output");
		}
		fputc('\n', stdout);
		json_decref(j);
	} else {
		if (clear)
			fputs("\033[H\033[2J", stdout);
		locks_render_text(stdout, &g);
	}
	fflush(stdout);
	mdl_graph_release(&g);
	mdl_snapshot_release(&snap);
	return 0;
}

static int locks_enable(struct db *db, struct ms_err *e)
{
	struct mdl_capabilities caps;
	const char *what = NULL;

	if (mdl_inspect_probe(db, &caps, e) || mdl_inspect_enable(db, &caps, &what, e))
		return -1;
	fprintf(stderr, "mdlsafe locks: %s\n", what);
	return 0;
}

/* --watch keeps going through a server restart: report, wait, reconnect. */
static int locks_watch(struct db *db, const struct db_params *conn, const struct locks_args *a,
		       struct ms_err *e)
{
	bool tty = isatty(STDOUT_FILENO) && !a->json;
	double oldest;

	signal(SIGINT, locks_on_signal);
	signal(SIGTERM, locks_on_signal);
	while (!locks_stop) {
		if (!db->mysql && db_open(db, conn, "locks", NULL, e) == 0)
			fprintf(stderr, "mdlsafe locks: reconnected to %s\n", db->target);
		if (db->mysql && locks_print_once(db, a, tty, &oldest, e)) {
			if (e->status != MS_CONNECT)
				return -1;
			db_close(db);
		}
		if (!db->mysql)
			cli_print_line(stderr, "mdlsafe locks: retrying after: ", e->msg);
		ms_nap(a->watch_s, &locks_stop); /* Ctrl-C ends --watch promptly */
	}
	return 0;
}

int cmd_locks(int argc, char **argv)
{
	struct locks_args a = { .max_wait_s = 10, .source = MDL_SOURCE_AUTO };
	struct db_params conn;
	struct ms_err e;
	struct db db;
	double oldest = 0;
	int first, rc;

	memset(&conn, 0, sizeof(conn));
	ms_err_clear(&e);
	rc = cli_parse(&locks_spec, argc, argv, &conn, locks_option, &a, &first, &e);
	if (rc == 0 && first < argc)
		rc = ms_fail(&e, MS_USAGE, "unexpected argument '%s'; see 'mdlsafe locks --help'", argv[first]);
	if (rc == 0 && a.check && a.watch_s > 0)
		rc = ms_fail(&e, MS_USAGE, "--check and --watch do not mix: --check answers once, for a monitoring system");
	if (rc) {
		db_params_release(&conn);
		return rc > 0 ? MS_OK : cli_report_error("locks", &e);
	}
	if (db_open(&db, &conn, "locks", NULL, &e)) {
		db_params_release(&conn);
		return cli_report_error("locks", &e);
	}
	if (a.enable && locks_enable(&db, &e))
		rc = -1;
	else if (a.watch_s > 0)
		rc = locks_watch(&db, &conn, &a, &e);
	else
		rc = locks_print_once(&db, &a, false, &oldest, &e);
	db_close(&db);
	db_params_release(&conn);
	if (rc)
		return cli_report_error("locks", &e);
	if (a.check && oldest > a.max_wait_s) {
		fprintf(stderr, "mdlsafe locks: CRITICAL: a metadata-lock wait is %.1f s old (limit %.1f s)\n", oldest,
			a.max_wait_s);
		return MS_CHECK_FAILED;
	}
	return MS_OK;
}
