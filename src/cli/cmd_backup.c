/* `mdlsafe backup`: options, progress on stderr, the --json summary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "dump/backup.h"
#include "physical/pbackup.h"
#include "util/buf.h"

enum {
	OPT_OUT = 'o',
	OPT_DB = 'B',
	OPT_JOBS = 'j',
	OPT_TABLES = 500,
	OPT_EXCLUDE,
	OPT_COMPRESS,
	OPT_COMPRESS_LEVEL,
	OPT_MAX_STALL,
	OPT_ON_DDL,
	OPT_TIMEOUT,
	OPT_CHUNK_ROWS,
	OPT_CHUNK_BYTES,
	OPT_NO_DATA,
	OPT_NO_ROUTINES,
	OPT_JSON,
	OPT_PHYSICAL,
	OPT_COPY,
	OPT_SNAPSHOT_CMD,
	OPT_MAX_FREEZE,
	OPT_UNSUPPORTED,
};

static const struct cli_opt backup_opts[] = {
	{ "output", 'o', CLI_REQUIRED_ARG, "DIR", "write the backup to DIR (must not exist; built in DIR.partial)" },
	{ "databases", 'B', CLI_REQUIRED_ARG, "DB", "back up this database (repeatable; default: all user databases)" },
	{ "tables", OPT_TABLES, CLI_REQUIRED_ARG, "DB.T", "back up this table (repeatable; with --physical, T alone names a table of -B)" },
	{ "exclude", OPT_EXCLUDE, CLI_REQUIRED_ARG, "PATTERN", "leave out tables matching this glob on DB.T, e.g. 'app._*_audit' (repeatable)" },
	{ "jobs", 'j', CLI_REQUIRED_ARG, "N", "worker connections (default: number of CPUs)" },
	{ "compress", OPT_COMPRESS, CLI_REQUIRED_ARG, "zstd|none", "data file compression (default zstd)" },
	{ "compress-level", OPT_COMPRESS_LEVEL, CLI_REQUIRED_ARG, "N", "zstd level: -1000..-1 fast (literals coded), 1..19 regular (default -5: 1.1-1.6x faster than 1, 2-13% larger; -10: less CPU, more disk)" },
	{ "max-stall", OPT_MAX_STALL, CLI_REQUIRED_ARG, "MS", "longest anyone may wait on a lock we hold (default 500)" },
	{ "on-ddl", OPT_ON_DDL, CLI_REQUIRED_ARG, "yield|abort", "when a schema change needs a table being read: let it through and re-read the table (yield, default) or fail (abort)" },
	{ "timeout", OPT_TIMEOUT, CLI_REQUIRED_ARG, "SECONDS", "give up after this long, keeping nothing (default: none)" },
	{ "chunk-rows", OPT_CHUNK_ROWS, CLI_REQUIRED_ARG, "N", "split tables with more rows than N by primary key" },
	{ "chunk-bytes", OPT_CHUNK_BYTES, CLI_REQUIRED_ARG, "N", "split tables bigger than N bytes by primary key (default 256 MiB)" },
	{ "no-data", OPT_NO_DATA, CLI_NO_ARG, NULL, "definitions only" },
	{ "no-routines", OPT_NO_ROUTINES, CLI_NO_ARG, NULL, "leave out procedures, functions and events" },
	{ "json", OPT_JSON, CLI_NO_ARG, NULL, "print a JSON summary on stdout at the end" },
	{ "physical", OPT_PHYSICAL, CLI_NO_ARG, NULL, "copy one database's table files during a short, bounded freeze (on the database host; needs -B DB)" },
	{ "copy", OPT_COPY, CLI_REQUIRED_ARG, "auto|reflink|copy", "--physical: reflink when the filesystem can, else a kernel copy (auto, default); reflink only; never reflink" },
	{ "snapshot-cmd", OPT_SNAPSHOT_CMD, CLI_REQUIRED_ARG, "CMD", "--physical: run CMD (sh -c) while frozen instead of copying the data files (LVM/ZFS/cloud snapshot); env MDLSAFE_DATADIR, MDLSAFE_DB, MDLSAFE_DB_DIR" },
	{ "max-freeze", OPT_MAX_FREEZE, CLI_REQUIRED_ARG, "SECONDS", "--physical: unfreeze and fail if the freeze lasts longer (default 60)" },
	{ "unsupported", OPT_UNSUPPORTED, CLI_REQUIRED_ARG, "logical|refuse", "--physical: tables that cannot be copied as files (partitioned, encrypted, shared tablespace, other engines) are dumped as SQL (logical, default) or refuse the backup" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cli_command_spec backup_spec = {
	"backup",
	"mdlsafe backup -o DIR [options] [connection options]",
	"Makes a consistent logical backup of a live server without freezing it. All InnoDB\n"
	"tables are read from one instant, shared by the -j workers through BACKUP STAGE\n"
	"BLOCK_COMMIT (commits pause for milliseconds; no FLUSH TABLES WITH READ LOCK, no LOCK\n"
	"TABLES). Each worker holds a metadata lock only on the table it is reading; when any\n"
	"session queues behind it for --max-stall, the worker lets go and the table is read\n"
	"again after the schema change, in a fresh snapshot (noted in the manifest).\n"
	"MyISAM/Aria tables are read under a short, bounded LOCK TABLES ... READ each.\n"
	"Data files are multi-row INSERTs: zstdcat DIR/DB/T.*.sql.zst | mariadb DB restores by hand.\n"
	"Needs SELECT, SHOW VIEW, TRIGGER, EVENT, RELOAD (BACKUP STAGE) and PROCESS; SUPER or\n"
	"BINLOG ADMIN lets workers release each table's lock on servers with binary logging.\n"
	"\n"
	"--physical -B DB copies the database's InnoDB (.ibd + .cfg), MyISAM and Aria files\n"
	"instead: FLUSH TABLES ... FOR EXPORT / WITH READ LOCK, each attempt waiting at most\n"
	"--max-stall, then the copy (or --snapshot-cmd), then UNLOCK. Writers to DB wait for\n"
	"the freeze, which is reported and bounded by --max-freeze. Run it on the database host\n"
	"as root or mysql; needs RELOAD and LOCK TABLES besides the above. Views, routines,\n"
	"triggers, events, sequences and tables that are not files go to DIR/logical/.",
	backup_opts,
	"Examples:\n"
	"  mdlsafe backup -o /backups/$(date +%F) -S /run/mysqld/mysqld.sock -u backup\n"
	"  mdlsafe backup -o /backups/app -B app --exclude 'app._*_audit' -j 4\n"
	"  mdlsafe verify /backups/app\n"
	"  mdlsafe backup --physical -B app -o /backups/app-phys --max-freeze 30\n"
	"  mdlsafe backup --physical -B app -o /backups/app-snap --snapshot-cmd 'zfs snapshot tank/mysql@app'",
	true,
};

struct backup_args {
	struct cli_progress progress; /* the ctx of the library's callbacks */
	struct backup_opts o;
	struct pbackup_opts p;
	bool physical, physical_option;
	bool json;
};

static int backup_option(void *ctx, int id, const char *arg, struct ms_err *e)
{
	struct backup_args *a = ctx;
	struct backup_opts *o = &a->o;
	double d;
	unsigned u;

	switch (id) {
	case OPT_OUT:
		o->dir = arg;
		return 0;
	case OPT_DB:
		return cli_add_str(&o->filter.dbs, &o->filter.n_dbs, arg, e);
	case OPT_TABLES:
		return cli_add_str(&o->filter.tables, &o->filter.n_tables, arg, e);
	case OPT_EXCLUDE:
		return cli_add_str(&o->filter.exclude, &o->filter.n_exclude, arg, e);
	case OPT_JOBS:
		return cli_parse_uint("--jobs", arg, 1, 256, &o->jobs, e);
	case OPT_COMPRESS:
		if (!strcmp(arg, "zstd"))
			o->compress = STORE_COMPRESS_ZSTD;
		else if (!strcmp(arg, "none"))
			o->compress = STORE_COMPRESS_NONE;
		else
			return ms_fail(e, MS_USAGE, "--compress: '%s' is not zstd or none", arg);
		return 0;
	case OPT_COMPRESS_LEVEL:
		/* -1000..-1: zstd's fast levels, literals still coded (store.h). */
		if (arg[0] == '-' ? cli_parse_uint("--compress-level", arg + 1, 1, 1000, &u, e)
				  : cli_parse_uint("--compress-level", arg, 1, 19, &u, e))
			return ms_fail(e, MS_USAGE, "--compress-level: '%s' is not a zstd level: -1000..-1 (fast) or 1..19",
				       arg);
		o->compress_level = arg[0] == '-' ? -(int)u : (int)u;
		return 0;
	case OPT_MAX_STALL:
		if (cli_parse_double("--max-stall", arg, 50, 3600000, &d, e))
			return -1;
		o->max_stall_s = d / 1000.0;
		return 0;
	case OPT_ON_DDL:
		if (!strcmp(arg, "yield"))
			o->on_ddl_abort = false;
		else if (!strcmp(arg, "abort"))
			o->on_ddl_abort = true;
		else
			return ms_fail(e, MS_USAGE, "--on-ddl: '%s' is not yield or abort", arg);
		return 0;
	case OPT_TIMEOUT:
		return cli_parse_double("--timeout", arg, 1, 31536000, &o->timeout_s, e);
	case OPT_CHUNK_ROWS:
		if (cli_parse_double("--chunk-rows", arg, 1000, 1e15, &d, e))
			return -1;
		o->chunk_rows = (unsigned long long)d;
		return 0;
	case OPT_CHUNK_BYTES:
		if (cli_parse_double("--chunk-bytes", arg, 1 << 20, 1e18, &d, e))
			return -1;
		o->chunk_bytes = (unsigned long long)d;
		return 0;
	case OPT_NO_DATA:
		o->no_data = true;
		return 0;
	case OPT_NO_ROUTINES:
		o->no_routines = true;
		return 0;
	case OPT_JSON:
		a->json = true;
		return 0;
	case OPT_PHYSICAL:
		a->physical = true;
		return 0;
	}
	a->physical_option = true;
	switch (id) {
	case OPT_COPY:
		if (copy_mode_parse(arg) < 0)
			return ms_fail(e, MS_USAGE, "--copy: '%s' is not auto, reflink or copy", arg);
		a->p.copy = (enum copy_mode)copy_mode_parse(arg);
		return 0;
	case OPT_SNAPSHOT_CMD:
		if (!arg[0])
			return ms_fail(e, MS_USAGE, "--snapshot-cmd: the command is empty");
		a->p.snapshot_cmd = arg;
		return 0;
	case OPT_MAX_FREEZE:
		return cli_parse_double("--max-freeze", arg, 0.1, 86400, &a->p.max_freeze_s, e);
	case OPT_UNSUPPORTED:
		if (strcmp(arg, "logical") && strcmp(arg, "refuse"))
			return ms_fail(e, MS_USAGE, "--unsupported: '%s' is not logical or refuse", arg);
		a->p.refuse_unsupported = !strcmp(arg, "refuse");
		return 0;
	}
	return ms_fail(e, MS_INTERNAL, "unhandled option %d", id);
}

static int logical_check(struct backup_args *a, struct ms_err *e)
{
	if (a->physical_option)
		return ms_fail(e, MS_USAGE, "--copy, --snapshot-cmd, --max-freeze and --unsupported go with --physical");
	for (size_t i = 0; i < a->o.filter.n_tables; i++)
		if (!strchr(a->o.filter.tables[i], '.'))
			return ms_fail(e, MS_USAGE, "--tables %s: give the table as DB.T", a->o.filter.tables[i]);
	return 0;
}

/* --physical backs up one database: its options, with T alone in --tables
 * meaning a table of it. */
static int physical_setup(struct backup_args *a, struct ms_err *e)
{
	struct pbackup_opts *p = &a->p;

	if (a->o.filter.n_dbs != 1)
		return ms_fail(e, MS_USAGE, "--physical backs up one database: give exactly one -B DB (%zu given)",
			       a->o.filter.n_dbs);
	if (a->o.no_data || a->o.no_routines || a->o.on_ddl_abort)
		return ms_fail(e, MS_USAGE, "--no-data, --no-routines and --on-ddl are for logical backups, not --physical");
	p->database = a->o.filter.dbs[0];
	if (cli_qualify_tables(a->o.filter.tables, a->o.filter.n_tables, p->database, true, e))
		return -1;
	p->dir = a->o.dir;
	p->filter = a->o.filter;
	p->max_stall_s = a->o.max_stall_s;
	p->timeout_s = a->o.timeout_s;
	p->jobs = a->o.jobs;
	if (p->max_freeze_s == 0)
		p->max_freeze_s = 60;
	return 0;
}

/* The line shows the whole backup once the last table is done. */
static void on_progress(void *ctx, const struct backup_progress *p)
{
	struct cli_progress *pr = ctx;
	char raw[32], stored[32], rate[32], eta[32] = "";
	double r = p->elapsed_s > 0 ? (double)p->bytes_raw / p->elapsed_s : 0;

	if (!cli_progress_due(pr, p->elapsed_s, p->tables_done == p->tables_total))
		return;
	cli_human_bytes(raw, sizeof(raw), (double)p->bytes_raw);
	cli_human_bytes(stored, sizeof(stored), (double)p->bytes_stored);
	cli_human_bytes(rate, sizeof(rate), r);
	if (p->est_bytes_total && p->est_bytes_done && p->est_bytes_done < p->est_bytes_total)
		snprintf(eta, sizeof(eta), ", ETA %.0f s",
			 p->elapsed_s * (double)(p->est_bytes_total - p->est_bytes_done) / (double)p->est_bytes_done);
	cli_progress_show(pr, "%zu/%zu tables, %llu rows, %s (%s stored), %s/s%s, %u yield%s", p->tables_done,
			  p->tables_total, p->rows, raw, stored, rate, eta, p->yields, p->yields == 1 ? "" : "s");
}

int cmd_backup(int argc, char **argv)
{
	struct backup_args a;
	struct db_params conn;
	struct ms_err e;
	json_t *summary = NULL;
	int first, rc;

	memset(&a, 0, sizeof(a));
	memset(&conn, 0, sizeof(conn));
	ms_err_clear(&e);
	a.o.compress = STORE_COMPRESS_ZSTD;
	a.o.max_stall_s = 0.5;
	a.o.chunk_bytes = 256ULL << 20;
	a.o.jobs = cli_cpu_count();
	rc = cli_parse(&backup_spec, argc, argv, &conn, backup_option, &a, &first, &e);
	if (rc == 0 && first < argc)
		rc = ms_fail(&e, MS_USAGE, "unexpected argument '%s'; the target directory goes after -o", argv[first]);
	if (rc == 0 && !a.o.dir)
		rc = ms_fail(&e, MS_USAGE, "say where to write the backup with -o DIR; see 'mdlsafe backup --help'");
	if (rc == 0)
		rc = a.physical ? physical_setup(&a, &e) : logical_check(&a, &e);
	if (rc) {
		dump_filter_release(&a.o.filter);
		db_params_release(&conn);
		return rc > 0 ? MS_OK : cli_report_error("backup", &e);
	}
	a.o.conn = &conn;
	a.o.progress = on_progress;
	a.o.note = cli_note;
	a.o.ctx = &a.progress;
	cli_progress_init(&a.progress, "mdlsafe backup: ");
	if (a.physical) {
		a.p.conn = &conn;
		a.p.note = cli_note;
		a.p.ctx = &a.progress;
		rc = pbackup_run(&a.p, &summary, &e);
	} else {
		rc = backup_run(&a.o, &summary, &e);
	}
	cli_progress_end(&a.progress);
	dump_filter_release(&a.o.filter);
	db_params_release(&conn);
	if (rc) {
		if (a.json) {
			json_t *j = cli_failed_json(&e);
			cli_print_json(j);
			json_decref(j);
		}
		return cli_report_error("backup", &e);
	}
	if (a.json) {
		cli_print_json(summary);
	} else if (a.physical) {
		json_t *k = json_object_get(summary, "tables");
		fprintf(stderr,
			"mdlsafe backup: done: %s (%lld InnoDB, %lld MyISAM, %lld Aria tables as files, %lld as SQL) in %.1f s; "
			"frozen %.0f ms\n",
			json_string_value(json_object_get(summary, "directory")),
			(long long)json_integer_value(json_object_get(k, "innodb")),
			(long long)json_integer_value(json_object_get(k, "myisam")),
			(long long)json_integer_value(json_object_get(k, "aria")),
			(long long)json_integer_value(json_object_get(k, "logical")),
			json_real_value(json_object_get(summary, "duration_seconds")),
			json_real_value(json_object_get(summary, "freeze_ms")));
	} else {
		fprintf(stderr, "mdlsafe backup: done: %s (%lld tables, %lld rows, %lld yields) in %.1f s\n",
			json_string_value(json_object_get(summary, "directory")),
			(long long)json_integer_value(json_object_get(summary, "tables")),
			(long long)json_integer_value(json_object_get(summary, "rows")),
			(long long)json_integer_value(json_object_get(summary, "yields")),
			json_real_value(json_object_get(summary, "duration_seconds")));
	}
	json_decref(summary);
	return MS_OK;
}
