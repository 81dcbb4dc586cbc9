/* `mdlsafe prune`: options and one line per decision on stderr. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "store/prune.h"

enum { OPT_KEEP_HOURLY = 500, OPT_KEEP_DAILY, OPT_ARCHIVE, OPT_DRY_RUN, OPT_JSON };

struct prune_cli {
	struct prune_opts o;
	bool json;
};

static const struct cli_opt prune_opts[] = {
	{ "keep-hourly", OPT_KEEP_HOURLY, CLI_REQUIRED_ARG, "N",
	  "keep the newest backup of each of the last N hours that have one" },
	{ "keep-daily", OPT_KEEP_DAILY, CLI_REQUIRED_ARG, "N",
	  "keep the newest backup of each of the last N days (UTC) that have one" },
	{ "binlog-archive", OPT_ARCHIVE, CLI_REQUIRED_ARG, "DIR",
	  "also remove the archived binlog files older than every kept backup's binlog position" },
	{ "dry-run", OPT_DRY_RUN, CLI_NO_ARG, NULL, "say what would be removed, remove nothing" },
	{ "json", OPT_JSON, CLI_NO_ARG, NULL,
	  "print each backup kept or removed (and why) and the binlog files removed, as JSON on stdout" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cli_command_spec prune_spec = {
	"prune",
	"mdlsafe prune BACKUP_ROOT --keep-hourly N|--keep-daily N [--binlog-archive DIR] [--dry-run]",
	"Removes the backups in BACKUP_ROOT (one per subdirectory) that the retention rule does\n"
	"not keep, and with --binlog-archive the archived binlog files no kept backup needs.\n"
	"Never removes the newest backup that passes verify, whatever the rule says, nor a\n"
	"binlog file from the oldest kept backup's position on. Directories that are not\n"
	"finished backups are left alone. Try --dry-run first. Needs no server.",
	prune_opts,
	"Examples:\n"
	"  mdlsafe prune /backups/app --keep-hourly 24 --keep-daily 14 --dry-run\n"
	"  mdlsafe prune /backups/app --keep-daily 7 --binlog-archive /backups/binlog\n"
	"  mdlsafe prune /backups/app --keep-daily 7 --dry-run --json | jq -r '.backups[] | select(.kept | not) | .name'",
	false,
};

static int prune_option(void *ctx, int id, const char *arg, struct ms_err *e)
{
	struct prune_cli *a = ctx;
	struct prune_opts *o = &a->o;

	switch (id) {
	case OPT_KEEP_HOURLY:
		return cli_parse_uint("--keep-hourly", arg, 0, 100000, &o->keep_hourly, e);
	case OPT_KEEP_DAILY:
		return cli_parse_uint("--keep-daily", arg, 0, 100000, &o->keep_daily, e);
	case OPT_ARCHIVE:
		o->binlog_archive = arg;
		return 0;
	case OPT_DRY_RUN:
		o->dry_run = true;
		return 0;
	case OPT_JSON:
		a->json = true;
		return 0;
	}
	return ms_fail(e, MS_INTERNAL, "unhandled option %d", id);
}

/* The --json document: what was decided, and on failure why it stopped. */
static void print_json(const struct prune_cli *a, unsigned removed, int rc, const struct ms_err *e)
{
	json_t *doc = rc ? cli_failed_json(e) : json_pack("{s:s}", "status", "ok");

	json_object_set_new(doc, "root", json_string(a->o.root));
	json_object_set_new(doc, "dry_run", json_boolean(a->o.dry_run));
	json_object_set_new(doc, "removed", json_integer(removed));
	json_object_set_new(doc, "binlog_archive",
			    a->o.binlog_archive ? json_string(a->o.binlog_archive) : json_null());
	json_object_update(doc, a->o.report);
	cli_print_json(doc);
	json_decref(doc);
}

int cmd_prune(int argc, char **argv)
{
	struct prune_cli a;
	struct prune_opts *o = &a.o;
	struct cli_progress lines;
	struct ms_err e;
	unsigned removed = 0;
	int first, rc;

	memset(&a, 0, sizeof(a));
	ms_err_clear(&e);
	rc = cli_parse(&prune_spec, argc, argv, NULL, prune_option, &a, &first, &e);
	if (rc == 0 && argc - first != 1)
		rc = ms_fail(&e, MS_USAGE, "give one directory of backups: mdlsafe prune BACKUP_ROOT --keep-daily N");
	if (rc == 0 && !o->keep_hourly && !o->keep_daily)
		rc = ms_fail(&e, MS_USAGE, "say what to keep: --keep-hourly N and/or --keep-daily N");
	if (rc)
		return rc > 0 ? MS_OK : cli_report_error("prune", &e);
	o->root = argv[first];
	cli_progress_init(&lines, "mdlsafe prune: ");
	o->note = cli_note;
	o->ctx = &lines;
	if (a.json && !(o->report = json_object())) {
		ms_oom(&e);
		return cli_report_error("prune", &e);
	}
	rc = prune_run(o, &removed, &e);
	if (a.json)
		print_json(&a, removed, rc, &e);
	json_decref(o->report);
	if (rc)
		return cli_report_error("prune", &e);
	fprintf(stderr, "mdlsafe prune: %s %u\n", o->dry_run ? "would remove" : "removed", removed);
	return MS_OK;
}
