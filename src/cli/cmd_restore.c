/* `mdlsafe restore`: options, progress on stderr, the --json summary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "binlog/replay.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "physical/prestore.h"
#include "restore/restore.h"
#include "store/verify.h"
#include "util/buf.h"

enum {
	OPT_DB = 'B',
	OPT_JOBS = 'j',
	OPT_TABLES = 500,
	OPT_EXCLUDE,
	OPT_RENAME,
	OPT_IF_EXISTS,
	OPT_DEFINER,
	OPT_NO_BINLOG,
	OPT_RESUME,
	OPT_JOURNAL,
	OPT_VERIFY,
	OPT_MAX_STALL,
	OPT_TIMEOUT,
	OPT_JSON,
	OPT_INDEXES,
	OPT_PHYSICAL,
	OPT_SNAPSHOT_DIR,
	OPT_BINLOG_ARCHIVE,
	OPT_UNTIL,
	OPT_UNTIL_GTID,
};

static const struct cli_opt restore_opts[] = {
	{ "databases", 'B', CLI_REQUIRED_ARG, "DB", "restore this database of the backup (repeatable; default: all)" },
	{ "tables", OPT_TABLES, CLI_REQUIRED_ARG, "DB.T", "restore this table (repeatable; its database's views, routines and events are not restored)" },
	{ "exclude", OPT_EXCLUDE, CLI_REQUIRED_ARG, "PATTERN", "leave out tables matching this glob on DB.T (repeatable)" },
	{ "rename", OPT_RENAME, CLI_REQUIRED_ARG, "DB:NEWDB", "restore database DB as NEWDB (repeatable)" },
	{ "jobs", 'j', CLI_REQUIRED_ARG, "N", "parallel loading connections (default: number of CPUs)" },
	{ "if-exists", OPT_IF_EXISTS, CLI_REQUIRED_ARG, "MODE",
	  "fail (default: refuse before changing anything), skip (leave existing tables and objects alone), "
	  "replace (drop, then load: the table is empty while it loads), swap (load a shadow copy, then swap it in "
	  "with one atomic RENAME TABLE per database)" },
	{ "definer", OPT_DEFINER, CLI_REQUIRED_ARG, "auto|keep|current",
	  "views, triggers, routines, events: keep their DEFINER when the account exists, else create them as "
	  "yourself with a warning (auto, default); always keep it (keep); always yourself (current)" },
	{ "no-binlog", OPT_NO_BINLOG, CLI_NO_ARG, NULL, "do not write the restore to the binary log (replicas will not get it; needs SUPER or BINLOG ADMIN)" },
	{ "resume", OPT_RESUME, CLI_NO_ARG, NULL, "continue an interrupted restore from its journal, without duplicating rows" },
	{ "journal", OPT_JOURNAL, CLI_REQUIRED_ARG, "FILE", "where progress is recorded (default: DIR.restore-journal, next to the backup; the backup is never modified)" },
	{ "verify", OPT_VERIFY, CLI_NO_ARG, NULL, "afterwards, read every restored table back and compare it with the backup's checksums" },
	{ "indexes", OPT_INDEXES, CLI_REQUIRED_ARG, "after|during",
	  "InnoDB: build plain secondary indexes after a table's rows are in, sorted (after, default: faster), or "
	  "keep them in CREATE TABLE (during)" },
	{ "max-stall", OPT_MAX_STALL, CLI_REQUIRED_ARG, "MS", "longest any query may queue behind one of our DROP/RENAME/CREATE TRIGGER (default 500)" },
	{ "timeout", OPT_TIMEOUT, CLI_REQUIRED_ARG, "SECONDS", "give up after this long (the journal keeps the progress)" },
	{ "json", OPT_JSON, CLI_NO_ARG, NULL, "print a JSON summary on stdout at the end" },
	{ "physical", OPT_PHYSICAL, CLI_NO_ARG, NULL, "restore a backup --physical: import its table files (on the database host, as root or mysql; --if-exists fail|replace)" },
	{ "binlog-archive", OPT_BINLOG_ARCHIVE, CLI_REQUIRED_ARG, "DIR",
	  "after the restore, roll the restored databases forward with the events of this archive (mdlsafe binlog), "
	  "from the backup's binlog position to --until or --until-gtid" },
	{ "until", OPT_UNTIL, CLI_REQUIRED_ARG, "DATETIME",
	  "with --binlog-archive: replay the transactions that began before this local time ('YYYY-MM-DD HH:MM:SS'), none from it on" },
	{ "until-gtid", OPT_UNTIL_GTID, CLI_REQUIRED_ARG, "D-S-N",
	  "with --binlog-archive: replay up to and including the transaction with this GTID" },
	{ "snapshot-dir", OPT_SNAPSHOT_DIR, CLI_REQUIRED_ARG, "DIR", "--physical: the data directory of the mounted snapshot a --snapshot-cmd backup took" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cli_command_spec restore_spec = {
	"restore",
	"mdlsafe restore DIR [options] [connection options]",
	"Puts an mdlsafe backup back on a live server. The whole backup is verified first; a\n"
	"damaged or unfinished one is refused, naming the bad file, before anything is sent.\n"
	"Tables are created, then chunks load in parallel in 2 MiB transactions, with\n"
	"unique and foreign-key checks off, secondary indexes built after the rows; then\n"
	"triggers, routines, views and events.\n"
	"Every DROP, RENAME or CREATE TRIGGER on a live name waits at most --max-stall, then\n"
	"gives way and retries with backoff, naming who is in the way, so no application\n"
	"query queues behind it longer than that. Progress is journaled per chunk: a killed\n"
	"or failed restore continues with --resume. Needs CREATE, INSERT, DELETE, DROP, ALTER,\n"
	"INDEX, CREATE VIEW, CREATE ROUTINE, TRIGGER, EVENT on the targets, and PROCESS to\n"
	"name blockers; SET USER (or SUPER) to keep other accounts as definers.",
	restore_opts,
	"Examples:\n"
	"  mdlsafe restore /backups/2026-11-21 -S /run/mysqld/mysqld.sock -u admin\n"
	"  mdlsafe restore /backups/app --rename app:app_copy --verify\n"
	"  mdlsafe restore /backups/app -B app --if-exists swap -j 4\n"
	"  mdlsafe restore /backups/app --resume      # after a failure or kill\n"
	"  mdlsafe restore --physical /backups/app-phys --rename app:app_copy\n"
	"  mdlsafe restore /backups/app --binlog-archive /backups/binlog --until '2026-11-21 14:03:00'",
	true,
};

struct restore_args {
	struct cli_progress progress; /* first: the ctx of the library's callbacks */
	struct restore_opts o;
	bool physical;
	const char *snapshot_dir;
	bool json;
	unsigned long long last_bytes;
	const char *last_phase;
	const char *archive, *until, *until_gtid;
	struct binlog_target target;
	struct binlog_replay_plan plan;
};

static int add_rename(struct restore_opts *o, const char *arg, struct ms_err *e)
{
	const char *colon = strchr(arg, ':');
	struct restore_rename *grown;

	if (!colon || colon == arg || !colon[1] || strchr(colon + 1, ':'))
		return ms_fail(e, MS_USAGE, "--rename %s: give it as DB:NEWDB", arg);
	for (size_t i = 0; i < o->n_renames; i++)
		if (!strncmp(o->renames[i].from, arg, (size_t)(colon - arg)) && !o->renames[i].from[colon - arg])
			return ms_fail(e, MS_USAGE, "--rename %s: %.*s is renamed twice", arg, (int)(colon - arg), arg);
	grown = realloc(o->renames, (o->n_renames + 1) * sizeof(*grown));
	if (!grown)
		return ms_oom(e);
	o->renames = grown;
	grown[o->n_renames].from = strndup(arg, (size_t)(colon - arg));
	grown[o->n_renames].to = strdup(colon + 1);
	o->n_renames++;
	return 0;
}

static int restore_option(void *ctx, int id, const char *arg, struct ms_err *e)
{
	struct restore_args *a = ctx;
	struct restore_opts *o = &a->o;
	double d;

	switch (id) {
	case OPT_DB:
		return cli_add_str(&o->filter.dbs, &o->filter.n_dbs, arg, e);
	case OPT_TABLES:
		return cli_add_str(&o->filter.tables, &o->filter.n_tables, arg, e);
	case OPT_EXCLUDE:
		return cli_add_str(&o->filter.exclude, &o->filter.n_exclude, arg, e);
	case OPT_RENAME:
		return add_rename(o, arg, e);
	case OPT_JOBS:
		return cli_parse_uint("--jobs", arg, 1, 256, &o->jobs, e);
	case OPT_IF_EXISTS:
		if (!strcmp(arg, "fail"))
			o->if_exists = RESTORE_FAIL;
		else if (!strcmp(arg, "skip"))
			o->if_exists = RESTORE_SKIP;
		else if (!strcmp(arg, "replace"))
			o->if_exists = RESTORE_REPLACE;
		else if (!strcmp(arg, "swap"))
			o->if_exists = RESTORE_SWAP;
		else
			return ms_fail(e, MS_USAGE, "--if-exists: '%s' is not fail, skip, replace or swap", arg);
		return 0;
	case OPT_DEFINER:
		if (!strcmp(arg, "auto"))
			o->definer = RESTORE_DEFINER_AUTO;
		else if (!strcmp(arg, "keep"))
			o->definer = RESTORE_DEFINER_KEEP;
		else if (!strcmp(arg, "current"))
			o->definer = RESTORE_DEFINER_CURRENT;
		else
			return ms_fail(e, MS_USAGE, "--definer: '%s' is not auto, keep or current", arg);
		return 0;
	case OPT_NO_BINLOG:
		o->no_binlog = true;
		return 0;
	case OPT_RESUME:
		o->resume = true;
		return 0;
	case OPT_JOURNAL:
		o->journal = arg;
		return 0;
	case OPT_VERIFY:
		o->verify = true;
		return 0;
	case OPT_MAX_STALL:
		if (cli_parse_double("--max-stall", arg, 50, 3600000, &d, e))
			return -1;
		o->max_stall_s = d / 1000.0;
		return 0;
	case OPT_TIMEOUT:
		return cli_parse_double("--timeout", arg, 1, 31536000, &o->timeout_s, e);
	case OPT_JSON:
		a->json = true;
		return 0;
	case OPT_PHYSICAL:
		a->physical = true;
		return 0;
	case OPT_SNAPSHOT_DIR:
		a->snapshot_dir = arg;
		return 0;
	case OPT_BINLOG_ARCHIVE:
		a->archive = arg;
		return 0;
	case OPT_UNTIL:
		a->until = arg;
		return binlog_parse_until(arg, &a->target.until, e);
	case OPT_UNTIL_GTID:
		a->until_gtid = arg;
		a->target.by_gtid = true;
		if (binlog_gtid_from_string(arg, &a->target.gtid))
			return ms_fail(e, MS_USAGE, "--until-gtid %s: give one GTID as DOMAIN-SERVER-SEQUENCE, e.g. 0-1-1257",
				       arg);
		return 0;
	case OPT_INDEXES:
		if (!strcmp(arg, "after"))
			o->keys_after_data = true;
		else if (!strcmp(arg, "during"))
			o->keys_after_data = false;
		else
			return ms_fail(e, MS_USAGE, "--indexes: '%s' is not after or during", arg);
		return 0;
	}
	return ms_fail(e, MS_INTERNAL, "unhandled option %d", id);
}

static void on_progress(void *ctx, const struct restore_progress *p)
{
	struct restore_args *a = ctx;
	struct cli_progress *pr = &a->progress;
	char done[32], total[32], rate[32], eta[32] = "";
	double r = p->elapsed_s > 0 ? (double)p->bytes / p->elapsed_s : 0;

	/* Without a terminal: a line also when the phase changes and when the
	 * data is all in. */
	if (!cli_progress_due(pr, p->elapsed_s,
			      a->last_phase != p->phase || (p->bytes == p->bytes_total && a->last_bytes != p->bytes)))
		return;
	a->last_bytes = p->bytes;
	a->last_phase = p->phase;
	if (!strcmp(p->phase, "verify")) {
		/* The tables are not read yet: say what is being checked. */
		cli_human_bytes(done, sizeof(done), (double)p->verified_bytes);
		cli_progress_show(pr, "verify: checking the backup's checksums: %s%s%s%s",
				  p->verify_file ? p->verify_file : "", p->verified_bytes ? ", " : "",
				  p->verified_bytes ? done : "", p->verified_bytes ? " read" : "");
		return;
	}
	cli_human_bytes(done, sizeof(done), (double)p->bytes);
	cli_human_bytes(total, sizeof(total), (double)p->bytes_total);
	cli_human_bytes(rate, sizeof(rate), r);
	if (!strcmp(p->phase, "load") && r > 0 && p->bytes < p->bytes_total)
		snprintf(eta, sizeof(eta), ", ETA %.0f s", (double)(p->bytes_total - p->bytes) / r);
	cli_progress_show(pr, "%s: %zu/%zu tables, %llu rows, %s of %s, %s/s%s", p->phase, p->tables_done,
			  p->tables_total, p->rows, done, total, rate, eta);
}

/* Lines of --rename rewrites the text output shows; --json has them all. */
#define REWRITES_SHOWN 20

/* --rename: each database name changed in the backup's SQL, one line each. */
static void print_rewrites(json_t *rewrites)
{
	size_t i;
	json_t *r;

	json_array_foreach(rewrites, i, r) {
		const char *file = json_string_value(json_object_get(r, "file"));
		long long line = (long long)json_integer_value(json_object_get(r, "line"));

		if (i == REWRITES_SHOWN) {
			fprintf(stderr, "mdlsafe restore: --rename: and %zu more names (--json lists them all)\n",
				json_array_size(rewrites) - i);
			break;
		}
		struct buf text = BUF_INIT;

		/* Names from the backup: shown, never sent to the terminal as is. */
		buf_addf(&text, "%s line %lld: %s -> %s", file ? file : "?", line,
			 json_string_value(json_object_get(r, "from")), json_string_value(json_object_get(r, "to")));
		cli_print_line(stderr, "mdlsafe restore: --rename: ", text.failed ? "(out of memory)" : buf_str(&text));
		buf_release(&text);
	}
}

/* --physical: one database, T alone in --tables names a table of it (read
 * from the manifest), no journal to resume, no swap. */
static int check_mode(struct restore_args *a, struct ms_err *e)
{
	const char *db, *unq;
	struct ms_err ignored;
	json_t *m;
	int rc;

	if (!a->physical) {
		if (a->snapshot_dir)
			return ms_fail(e, MS_USAGE, "--snapshot-dir goes with --physical");
		unq = cli_unqualified_table(a->o.filter.tables, a->o.filter.n_tables);
		if (unq)
			return ms_fail(e, MS_USAGE, "--tables %s: give the table as DB.T", unq);
		return 0;
	}
	if (a->o.resume || a->o.if_exists == RESTORE_SWAP || a->o.if_exists == RESTORE_SKIP)
		return ms_fail(e, MS_USAGE, "--physical takes --if-exists fail or replace, and has no --resume: run it again "
					    "with --if-exists replace after a failure");
	unq = cli_unqualified_table(a->o.filter.tables, a->o.filter.n_tables);
	if (!unq)
		return 0;
	m = backup_manifest_peek(a->o.dir, &ignored);
	db = json_string_value(json_object_get(m, "database"));
	if (!db)
		rc = ms_fail(e, MS_USAGE,
			     "--tables %s: cannot read the backup's database from %s/manifest.json; give DB.T", unq,
			     a->o.dir);
	else
		rc = cli_qualify_tables(a->o.filter.tables, a->o.filter.n_tables, db, false, e);
	json_decref(m);
	return rc;
}

/* --binlog-archive: checked and planned before anything is restored, so a
 * gap or an archive that falls short is reported before the work. */
static int pitr_plan(struct restore_args *a, struct ms_err *e)
{
	json_t *m, *cp;
	const char *file;
	int rc;

	if (!a->archive)
		return a->until || a->until_gtid ? ms_fail(e, MS_USAGE, "--until and --until-gtid go with --binlog-archive DIR")
						 : 0;
	if (!a->until == !a->until_gtid)
		return ms_fail(e, MS_USAGE, "--binlog-archive needs one target: --until 'YYYY-MM-DD HH:MM:SS' or "
					    "--until-gtid GTID");
	if (a->physical || a->o.filter.n_tables || a->o.filter.n_exclude)
		return ms_fail(e, MS_USAGE, "--binlog-archive replays whole databases: it does not go with --physical, "
					    "--tables or --exclude");
	if (!(m = backup_manifest_peek(a->o.dir, e)))
		return -1;
	cp = json_object_get(m, "consistency_point");
	file = json_string_value(json_object_get(cp, "binlog_file"));
	if (!file || !json_is_integer(json_object_get(cp, "binlog_position"))) {
		json_decref(m);
		return ms_fail(e, MS_USAGE, "the backup %s records no binlog position (the server ran without --log-bin): "
					    "it cannot be rolled forward", a->o.dir);
	}
	rc = binlog_replay_plan(a->archive, file,
				(unsigned long long)json_integer_value(json_object_get(cp, "binlog_position")), &a->target,
				&a->plan, e);
	json_decref(m);
	return rc;
}

static int pitr_apply(struct restore_args *a, const struct db_params *conn, json_t *summary, struct ms_err *e)
{
	json_t *dbs = json_object_get(summary, "databases");
	struct binlog_replay_db *v = calloc(json_array_size(dbs) + 1, sizeof(*v));
	struct db db;
	int rc;

	if (!v)
		return ms_oom(e);
	for (size_t i = 0; i < json_array_size(dbs); i++) {
		v[i].from = json_string_value(json_object_get(json_array_get(dbs, i), "from"));
		v[i].to = json_string_value(json_object_get(json_array_get(dbs, i), "to"));
	}
	rc = db_open(&db, conn, "replay", NULL, e);
	if (rc == 0) {
		rc = binlog_replay_apply(&a->plan, &db, conn, v, json_array_size(dbs), a->o.no_binlog, cli_note, &a->progress, e);
		db_close(&db);
	}
	free(v);
	if (rc == 0)
		json_object_set_new(summary, "binlog_replay",
				    json_pack("{s:s, s:I, s:I, s:s}", "archive", a->archive, "transactions",
					      (json_int_t)a->plan.transactions, "bytes", (json_int_t)a->plan.bytes, "until",
					      a->until ? a->until : a->until_gtid));
	return rc;
}

static void args_release(struct restore_args *a)
{
	binlog_replay_plan_release(&a->plan);
	dump_filter_release(&a->o.filter);
	for (size_t i = 0; i < a->o.n_renames; i++) {
		free(a->o.renames[i].from);
		free(a->o.renames[i].to);
	}
	free(a->o.renames);
}

int cmd_restore(int argc, char **argv)
{
	struct restore_args a;
	struct db_params conn;
	struct ms_err e;
	json_t *summary = NULL;
	int first, rc;

	memset(&a, 0, sizeof(a));
	memset(&conn, 0, sizeof(conn));
	ms_err_clear(&e);
	a.o.max_stall_s = 0.5;
	a.o.jobs = cli_cpu_count();
	a.o.keys_after_data = true;
	rc = cli_parse(&restore_spec, argc, argv, &conn, restore_option, &a, &first, &e);
	if (rc == 0 && first >= argc)
		rc = ms_fail(&e, MS_USAGE, "say which backup to restore: mdlsafe restore DIR; see 'mdlsafe restore --help'");
	if (rc == 0 && first + 1 < argc)
		rc = ms_fail(&e, MS_USAGE, "unexpected argument '%s': give one backup directory", argv[first + 1]);
	if (rc) {
		args_release(&a);
		db_params_release(&conn);
		return rc > 0 ? MS_OK : cli_report_error("restore", &e);
	}
	a.o.dir = argv[first];
	if (check_mode(&a, &e) || pitr_plan(&a, &e)) {
		args_release(&a);
		db_params_release(&conn);
		return cli_report_error("restore", &e);
	}
	a.o.conn = &conn;
	a.o.progress = on_progress;
	a.o.note = cli_note;
	a.o.ctx = &a;
	cli_progress_init(&a.progress, "mdlsafe restore: ");
	if (a.physical) {
		struct prestore_opts po = { a.o, a.snapshot_dir };
		rc = prestore_run(&po, &summary, &e);
	} else {
		rc = restore_run(&a.o, &summary, &e);
		if (rc == 0 && a.archive)
			rc = pitr_apply(&a, &conn, summary, &e);
	}
	cli_progress_end(&a.progress);
	if (a.json) {
		json_t *out = summary ? json_incref(summary) : cli_failed_json(&e);
		if (rc && summary) {
			json_object_set_new(out, "error", json_string(e.msg));
			json_object_set_new(out, "exit_code", json_integer(e.status));
		}
		cli_print_json(out);
		json_decref(out);
	}
	args_release(&a);
	db_params_release(&conn);
	if (rc) {
		json_decref(summary);
		return cli_report_error("restore", &e);
	}
	if (!a.json) {
		print_rewrites(json_object_get(summary, "rewrites"));
		print_rewrites(json_object_get(json_object_get(summary, "logical"), "rewrites"));
	}
	if (!a.json && a.physical)
		fprintf(stderr, "mdlsafe restore: done: %zu tables imported into %s, %lld rows from SQL, in %.1f s\n",
			json_array_size(json_object_get(summary, "imported")),
			json_string_value(json_object_get(summary, "database")),
			(long long)json_integer_value(json_object_get(json_object_get(summary, "logical"), "rows")),
			json_real_value(json_object_get(summary, "duration_seconds")));
	else if (!a.json)
		fprintf(stderr, "mdlsafe restore: done: %lld tables (%lld skipped), %lld rows in %.1f s%s\n",
			(long long)json_integer_value(json_object_get(summary, "tables")),
			(long long)json_integer_value(json_object_get(summary, "tables_skipped")),
			(long long)json_integer_value(json_object_get(summary, "rows")),
			json_real_value(json_object_get(summary, "duration_seconds")),
			a.o.verify ? "; --verify: identical to the backup" : "");
	json_decref(summary);
	return MS_OK;
}
