/* `mdlsafe verify DIR`: re-reads every file of a backup and checks it against
 * the manifest. Needs no server. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "binlog/binlog.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "store/verify.h"

enum { OPT_JSON = 600 };

static const struct cli_opt verify_opts[] = {
	{ "json", OPT_JSON, CLI_NO_ARG, NULL, "print the result as JSON on stdout" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cli_command_spec verify_spec = {
	"verify",
	"mdlsafe verify DIR [--json]",
	"Checks a backup made by 'mdlsafe backup': the manifest is complete, and every file it\n"
	"lists exists, decompresses, and has the recorded size, XXH3 checksum and row count.\n"
	"Checks a binlog archive ('mdlsafe binlog --archive DIR'): every file has its recorded\n"
	"size and XXH3, reads as whole events and rotates to the next one archived, and each\n"
	"GTID domain's sequence numbers have no gap.\n"
	"Exits 10 naming the first bad file. Reads only; needs no server.",
	verify_opts,
	NULL,
	false,
};

static int verify_option(void *ctx, int id, const char *arg, struct ms_err *e)
{
	(void)arg;
	if (id == OPT_JSON) {
		*(bool *)ctx = true;
		return 0;
	}
	return ms_fail(e, MS_INTERNAL, "unhandled option %d", id);
}

/* Prints j (with error and first_bad_file added on failure) and frees it. */
static void print_json(json_t *j, int rc, const struct ms_err *e, const char *first_bad_file)
{
	if (rc) {
		json_object_set_new(j, "error", json_string(e->msg));
		json_object_set_new(j, "first_bad_file", first_bad_file ? json_string(first_bad_file) : json_null());
	}
	cli_print_json(j);
	json_decref(j);
}

static int verify_archive(const char *dir, bool json)
{
	struct binlog_verify_result r;
	struct ms_err e;
	int rc;

	ms_err_clear(&e);
	rc = binlog_verify_archive(dir, &r, &e);
	if (json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "status", rc ? "failed" : "ok", "directory", dir,
				      "kind", "binlog-archive", "files_checked", (json_int_t)r.files, "transactions",
				      (json_int_t)r.transactions, "bytes", (json_int_t)r.bytes);
		print_json(j, rc, &e, r.first_bad_file);
	}
	if (!rc && !json)
		printf("%s: OK, binlog archive: %zu complete files, %llu transactions, %llu bytes verified\n", dir, r.files,
		       r.transactions, r.bytes);
	binlog_verify_result_release(&r);
	return rc ? cli_report_error("verify", &e) : MS_OK;
}

int cmd_verify(int argc, char **argv)
{
	struct verify_result r;
	struct ms_err e;
	bool json = false;
	int first, rc;

	memset(&r, 0, sizeof(r));
	ms_err_clear(&e);
	rc = cli_parse(&verify_spec, argc, argv, NULL, verify_option, &json, &first, &e);
	if (rc == 0 && argc - first != 1)
		rc = ms_fail(&e, MS_USAGE, "give exactly one backup directory: mdlsafe verify DIR");
	if (rc)
		return rc > 0 ? MS_OK : cli_report_error("verify", &e);
	if (binlog_is_archive(argv[first]))
		return verify_archive(argv[first], json);
	rc = verify_backup(argv[first], NULL, NULL, &r, &e);
	if (json) {
		json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:I}", "status", rc ? "failed" : "ok", "directory", argv[first],
				      "files_checked", (json_int_t)r.files_checked, "rows", (json_int_t)r.rows, "bytes",
				      (json_int_t)r.bytes);
		print_json(j, rc, &e, r.first_bad_file);
	}
	if (rc) {
		verify_result_release(&r);
		return cli_report_error("verify", &e);
	}
	if (!json)
		printf("%s: OK, %zu files, %llu rows, %llu bytes verified\n", argv[first], r.files_checked, r.rows, r.bytes);
	verify_result_release(&r);
	return MS_OK;
}
