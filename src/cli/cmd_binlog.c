/* `mdlsafe binlog`: options, signals, human lines on stderr. */
#include <stdio.h>
#include <string.h>

#include "binlog/archive.h"
#include "cli/commands.h"
#include "cli/options.h"

enum {
	OPT_ARCHIVE = 500,
	OPT_ONCE,
	OPT_SERVER_ID,
	OPT_HEARTBEAT,
	OPT_START_FILE,
	OPT_METRICS,
	OPT_JSON,
};

static const struct cli_opt binlog_opts[] = {
	{ "archive", OPT_ARCHIVE, CLI_REQUIRED_ARG, "DIR", "the archive directory (created if missing; required)" },
	{ "once", OPT_ONCE, CLI_NO_ARG, NULL,
	  "copy what the server has up to its current position, then exit 0 (for "
	  "cron and tests)" },
	{ "server-id", OPT_SERVER_ID, CLI_REQUIRED_ARG, "N",
	  "server_id of the replica connection, unique among the server's replicas "
	  "(default: derived from the host and DIR)" },
	{ "heartbeat", OPT_HEARTBEAT, CLI_REQUIRED_ARG, "SECONDS",
	  "the server sends a heartbeat after this long without events, so a quiet "
	  "server is not taken for a lost one (default 1)" },
	{ "start-file", OPT_START_FILE, CLI_REQUIRED_ARG, "NAME",
	  "where an empty archive starts (default: the oldest binlog file the "
	  "server has)" },
	{ "metrics-file", OPT_METRICS, CLI_REQUIRED_ARG, "FILE",
	  "Prometheus text format (lag in bytes and seconds), rewritten atomically "
	  "every second" },
	{ "json", OPT_JSON, CLI_NO_ARG, NULL,
	  "at the end, print what the archive holds and what this run copied (files, .partial, bytes, last GTID "
	  "per domain) as JSON on stdout" },
	{ NULL, 0, 0, NULL, NULL },
};

struct binlog_cli {
	struct binlog_archive_opts o;
	bool json;
};

static const struct cli_command_spec binlog_spec = {
	"binlog",
	"mdlsafe binlog --archive DIR [options] [connection options]",
	"Archives the server's binary logs as they are written, connected as a "
	"replica, so a backup\n"
	"can be rolled forward to any second (restore --binlog-archive --until). "
	"The server's file NAME\n"
	"is written as s<server_id>-NAME.partial, fsynced, and renamed to "
	"s<server_id>-NAME when the\n"
	"server rotates; DIR/index.json lists the files with size, XXH3 checksum, "
	"first/last GTID and\n"
	"event time. After a restart it continues from the last whole event, "
	"losing and repeating\n"
	"nothing; pointed at another server of the same GTID domain (a new "
	"primary after a failover)\n"
	"it continues after the archive's last GTID, or refuses naming the GTID "
	"the server lacks. A\n"
	"lost connection or a server restart is retried with backoff; "
	"SIGTERM/SIGINT end it cleanly.\n"
	"Needs REPLICATION SLAVE (and REPLICATION CLIENT or BINLOG MONITOR for "
	"SHOW BINARY LOGS).",
	binlog_opts,
	"Examples:\n"
	"  mdlsafe binlog --archive /backups/binlog --metrics-file "
	"/var/lib/node_exporter/mdlsafe-binlog.prom\n"
	"  mdlsafe binlog --archive /backups/binlog --once\n"
	"  mdlsafe binlog --archive /backups/binlog --once --json | jq -r .gtid_state\n"
	"  A systemd unit: contrib/mdlsafe-binlog.service",
	true,
};

static int binlog_option(void *ctx, int id, const char *arg, struct ms_err *e)
{
	struct binlog_cli *a = ctx;
	struct binlog_archive_opts *o = &a->o;

	switch (id) {
	case OPT_ARCHIVE:
		o->dir = arg;
		return 0;
	case OPT_ONCE:
		o->once = true;
		return 0;
	case OPT_SERVER_ID:
		return cli_parse_uint("--server-id", arg, 1, 4294967295u, &o->server_id, e);
	case OPT_HEARTBEAT:
		return cli_parse_double("--heartbeat", arg, 0.1, 3600, &o->heartbeat_s, e);
	case OPT_START_FILE:
		o->start_file = arg;
		return 0;
	case OPT_METRICS:
		o->metrics_file = arg;
		return 0;
	case OPT_JSON:
		a->json = true;
		return 0;
	}
	return ms_fail(e, MS_INTERNAL, "unhandled option %d", id);
}

int cmd_binlog(int argc, char **argv)
{
	struct binlog_cli a;
	struct binlog_archive_opts *o = &a.o;
	struct db_params conn;
	struct ms_err e;
	int first, rc;

	memset(&a, 0, sizeof(a));
	memset(&conn, 0, sizeof(conn));
	ms_err_clear(&e);
	o->heartbeat_s = 1;
	o->sync_s = 1;
	rc = cli_parse(&binlog_spec, argc, argv, &conn, binlog_option, &a, &first, &e);
	if (rc == 0 && first < argc)
		rc = ms_fail(&e, MS_USAGE, "unexpected argument '%s'; see 'mdlsafe binlog --help'", argv[first]);
	if (rc == 0 && !o->dir)
		rc = ms_fail(&e, MS_USAGE, "say where to archive: mdlsafe binlog --archive DIR");
	if (rc == 0 && a.json && !(o->report = json_pack("{s:s}", "status", "ok")))
		rc = ms_oom(&e);
	if (rc == 0) {
		if (!o->server_id)
			o->server_id = binlog_default_server_id(o->dir);
		o->conn = &conn;
		o->stop = cli_stop_on_signals();
		o->say = cli_say_timed;
		o->ctx = (void *)"binlog";
		rc = binlog_archive_run(o, &e);
		if (o->report) {
			/* A failure still says what the archive holds. */
			if (rc < 0)
				json_object_update_new(o->report, cli_failed_json(&e));
			cli_print_json(o->report);
		}
	}
	json_decref(o->report);
	db_params_release(&conn);
	if (rc > 0)
		return MS_OK;
	if (rc < 0)
		return cli_report_error("binlog", &e);
	return MS_OK;
}
