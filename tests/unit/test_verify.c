/* Unit tests for verify_backup: a good backup passes, and every kind of damage
 * or incompleteness fails with MS_INCOMPLETE naming the file to blame. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <xxhash.h>

#include "store/store.h"
#include "store/verify.h"

/* ---- fixture: a finalized backup in a private temporary directory ------- */

#define SCHEMA_FILE "shop/users.schema.sql"
#define DATA0 "shop/users.00000.sql.zst"
#define DATA1 "shop/users.00001.sql.zst"

struct fx {
	char base[64];
	char dir[128];
	unsigned long long bytes, rows; /* what the backup holds */
};

static const char SCHEMA[] =
	"CREATE TABLE `users` (\n  `id` int NOT NULL,\n  `name` varchar(255),\n"
	"  PRIMARY KEY (`id`)\n);\n";

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static char *path_join(const char *a, const char *b)
{
	char *p = malloc(strlen(a) + strlen(b) + 2);

	assert_non_null(p);
	sprintf(p, "%s/%s", a, b);
	return p;
}

/* Rows first..first+n-1 as the row writer emits them. */
static char *rows_sql(int first, int n)
{
	size_t cap = 64 + (size_t)n * 64, len;
	char *s = malloc(cap);

	assert_non_null(s);
	len = (size_t)snprintf(s, cap, "INSERT INTO `users` VALUES\n");
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "(%d,'user %d (x)')%s\n", first + i,
					first + i, i + 1 < n ? "," : ";");
	return s;
}

static void put(struct store *st, json_t *files, const char *rel, enum store_compress c,
		const char *content, bool rows, struct fx *fx)
{
	struct store_file *f = NULL;
	struct store_file_info info;
	struct ms_err e;

	if (store_file_create(st, rel, c, 0, &f, &e) != 0)
		fail_msg("create %s: %s", rel, e.msg);
	if (rows)
		store_file_count_rows(f);
	if (store_file_write(f, content, strlen(content), &e) != 0 ||
	    store_file_close(f, &info, &e) != 0)
		fail_msg("write %s: %s", rel, e.msg);
	json_array_append_new(files, store_file_info_to_json(&info));
	fx->bytes += info.bytes;
	if (info.rows > 0)
		fx->rows += (unsigned long long)info.rows;
	store_file_info_release(&info);
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct store *st = NULL;
	json_t *files = json_array(), *m;
	char *text, *d0 = rows_sql(1, 1000), *d1 = rows_sql(1001, 234);
	struct ms_err e;

	strcpy(fx->base, "/tmp/test_verify.XXXXXX");
	if (!mkdtemp(fx->base))
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "%s/bk", fx->base);
	if (store_open(fx->dir, &st, NULL, &e) != 0)
		return -1;
	put(st, files, SCHEMA_FILE, STORE_COMPRESS_NONE, SCHEMA, false, fx);
	put(st, files, DATA0, STORE_COMPRESS_ZSTD, d0, true, fx);
	put(st, files, DATA1, STORE_COMPRESS_ZSTD, d1, true, fx);
	m = json_pack("{s:s, s:i, s:b, s:o}", "format", "mdlsafe-backup", "format_version", 1,
		      "complete", 1, "files", files);
	text = json_dumps(m, JSON_INDENT(2));
	if (store_finalize(st, text, &e) != 0)
		return -1;
	store_close(st);
	free(text);
	json_decref(m);
	free(d0);
	free(d1);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	nftw(fx->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */

/* Runs verify and checks it fails with MS_INCOMPLETE blaming `file`, with
 * `words` in the message. */
static void verify_fails(const char *dir, const char *file, const char *words)
{
	struct verify_result r;
	struct ms_err e;
	int rc = verify_backup(dir, NULL, NULL, &r, &e);

	if (rc != -1)
		fail_msg("verify passed; expected it to blame %s", file);
	if (e.status != MS_INCOMPLETE)
		fail_msg("status %d (%s), expected MS_INCOMPLETE", (int)e.status, e.msg);
	if (!r.first_bad_file || strcmp(r.first_bad_file, file))
		fail_msg("first_bad_file %s, expected %s (%s)",
			 r.first_bad_file ? r.first_bad_file : "(null)", file, e.msg);
	if (strncmp(e.msg, file, strlen(file)))
		fail_msg("message does not start with %s: %s", file, e.msg);
	if (!strstr(e.msg, words))
		fail_msg("message lacks \"%s\": %s", words, e.msg);
	verify_result_release(&r);
}

static void byte_flip(const char *dir, const char *rel, long at_from_end)
{
	char *p = path_join(dir, rel);
	int fd = open(p, O_RDWR);
	off_t size = lseek(fd, 0, SEEK_END);
	unsigned char c;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, size - at_from_end), 1);
	c ^= 0x20;
	assert_int_equal(pwrite(fd, &c, 1, size - at_from_end), 1);
	close(fd);
	free(p);
}

static off_t size_of(const char *dir, const char *rel)
{
	char *p = path_join(dir, rel);
	struct stat sb;

	assert_int_equal(stat(p, &sb), 0);
	free(p);
	return sb.st_size;
}

/* Loads manifest.json, lets edit() change it, writes it back. */
static void manifest_edit(const char *dir, void (*edit)(json_t *m))
{
	char *p = path_join(dir, "manifest.json");
	json_t *m = json_load_file(p, 0, NULL);

	assert_non_null(m);
	edit(m);
	assert_int_equal(json_dump_file(m, p, JSON_INDENT(2)), 0);
	json_decref(m);
	free(p);
}

static json_t *entry_of(json_t *m, const char *rel)
{
	json_t *files = json_object_get(m, "files"), *f;
	size_t i;

	json_array_foreach(files, i, f)
		if (!strcmp(json_string_value(json_object_get(f, "path")), rel))
			return f;
	fail_msg("%s not in manifest", rel);
	return NULL;
}

/* ---- a good backup ------------------------------------------------------ */

struct progress_log {
	unsigned calls;
	unsigned long long last;
	bool went_back;
};

static void progress_note(void *ctx, const char *path, unsigned long long done)
{
	struct progress_log *l = ctx;

	assert_non_null(path);
	if (done < l->last)
		l->went_back = true;
	l->last = done;
	l->calls++;
}

static void test_good_backup_verifies_with_files_rows_and_bytes(void **state)
{
	struct fx *fx = *state;
	struct progress_log log = { 0 };
	struct verify_result r;
	struct ms_err e;

	if (verify_backup(fx->dir, progress_note, &log, &r, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(r.files_checked, 3);
	assert_int_equal(r.rows, 1234);
	assert_int_equal(r.rows, fx->rows);
	assert_int_equal(r.bytes, fx->bytes);
	assert_null(r.first_bad_file);
	/* Progress counts stored bytes over the whole backup. */
	assert_true(log.calls >= 3);
	assert_false(log.went_back);
	assert_int_equal(log.last, (unsigned long long)(size_of(fx->dir, SCHEMA_FILE) +
							size_of(fx->dir, DATA0) +
							size_of(fx->dir, DATA1)));
	verify_result_release(&r);
}

/* Sizes where a zstd frame ends exactly as the decoder's output buffer
 * (128 KiB) fills: the end of such a frame must not look like a cut. */
static void test_content_in_whole_zstd_blocks_verifies(void **state)
{
	struct fx *fx = *state;
	const size_t sizes[] = { 131071, 131072, 131073, 262144, 1 << 20 };
	char dir[200];

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct fx one = { 0 };
		json_t *files = json_array(), *m;
		struct verify_result r;
		struct store *st = NULL;
		struct ms_err e;
		char *text, *data = malloc(sizes[k] + 1);

		for (size_t i = 0; i < sizes[k]; i++)
			data[i] = "(1,'x')\n"[i % 8];
		data[sizes[k]] = '\0';
		snprintf(dir, sizeof(dir), "%s/blocks%zu", fx->base, k);
		assert_int_equal(store_open(dir, &st, NULL, &e), 0);
		put(st, files, DATA0, STORE_COMPRESS_ZSTD, data, true, &one);
		m = json_pack("{s:s, s:i, s:b, s:o}", "format", "mdlsafe-backup", "format_version", 1,
			      "complete", 1, "files", files);
		text = json_dumps(m, 0);
		assert_int_equal(store_finalize(st, text, &e), 0);
		store_close(st);
		if (verify_backup(dir, NULL, NULL, &r, &e) != 0)
			fail_msg("%zu bytes: %s", sizes[k], e.msg);
		assert_int_equal(r.bytes, sizes[k]);
		assert_int_equal(r.rows, one.rows);
		verify_result_release(&r);
		free(text);
		json_decref(m);
		free(data);
	}
}

static void test_trailing_slash_is_accepted(void **state)
{
	struct fx *fx = *state;
	struct verify_result r;
	struct ms_err e;
	char d[200];

	snprintf(d, sizeof(d), "%s/", fx->dir);
	assert_int_equal(verify_backup(d, NULL, NULL, &r, &e), 0);
	verify_result_release(&r);
}

static void test_extra_unlisted_file_is_ignored(void **state)
{
	struct fx *fx = *state;
	struct verify_result r;
	struct ms_err e;
	char *p = path_join(fx->dir, "shop/notes.txt");
	FILE *fp = fopen(p, "w");

	fputs("added by hand\n", fp);
	fclose(fp);
	assert_int_equal(verify_backup(fx->dir, NULL, NULL, &r, &e), 0);
	assert_int_equal(r.files_checked, 3);
	verify_result_release(&r);
	free(p);
}

/* ---- damaged files ------------------------------------------------------ */

static void test_flipped_byte_in_compressed_data_file_is_named(void **state)
{
	struct fx *fx = *state;

	byte_flip(fx->dir, DATA0, size_of(fx->dir, DATA0) / 2);
	verify_fails(fx->dir, DATA0, "cannot be trusted");
}

static void test_flipped_byte_in_uncompressed_file_is_a_checksum_mismatch(void **state)
{
	struct fx *fx = *state;

	byte_flip(fx->dir, SCHEMA_FILE, 3);
	verify_fails(fx->dir, SCHEMA_FILE,
		     "checksum mismatch (expected ");
}

static void test_truncated_file_is_named(void **state)
{
	struct fx *fx = *state;
	char *p = path_join(fx->dir, DATA1);

	assert_int_equal(truncate(p, size_of(fx->dir, DATA1) - 10), 0);
	verify_fails(fx->dir, DATA1, "truncated");
	free(p);
}

static void stored_bytes_grow_by_4(json_t *m)
{
	json_t *f = entry_of(m, DATA1);

	json_object_set_new(f, "stored_bytes",
			    json_integer(json_integer_value(json_object_get(f, "stored_bytes")) + 4));
}

static void test_trailing_garbage_after_the_zstd_frame_is_damage(void **state)
{
	struct fx *fx = *state;
	char *p = path_join(fx->dir, DATA1);
	FILE *fp = fopen(p, "ab");

	/* Sizes agree with the manifest, so only decoding can tell. */
	fputs("junk", fp);
	fclose(fp);
	manifest_edit(fx->dir, stored_bytes_grow_by_4);
	verify_fails(fx->dir, DATA1, "zstd cannot decompress it");
	free(p);
}

static void test_frame_cut_short_with_matching_size_is_truncated(void **state)
{
	struct fx *fx = *state;
	char *p = path_join(fx->dir, DATA1);
	off_t size = size_of(fx->dir, DATA1);
	json_t *m;
	char *mp = path_join(fx->dir, "manifest.json");

	/* A manifest that agrees with a cut file: only the frame end tells. */
	assert_int_equal(truncate(p, size - 10), 0);
	m = json_load_file(mp, 0, NULL);
	json_object_set_new(entry_of(m, DATA1), "stored_bytes", json_integer(size - 10));
	json_dump_file(m, mp, 0);
	json_decref(m);
	verify_fails(fx->dir, DATA1, "truncated");
	free(p);
	free(mp);
}

static void test_missing_listed_file_is_named(void **state)
{
	struct fx *fx = *state;
	char *p = path_join(fx->dir, DATA1);

	assert_int_equal(unlink(p), 0);
	verify_fails(fx->dir, DATA1, "missing (listed in manifest.json)");
	free(p);
}

static void rows_off_by_one(json_t *m)
{
	json_t *f = entry_of(m, DATA0);

	json_object_set_new(f, "rows", json_integer(json_integer_value(json_object_get(f, "rows")) + 1));
}

static void test_row_count_disagreeing_with_manifest_is_named(void **state)
{
	struct fx *fx = *state;

	manifest_edit(fx->dir, rows_off_by_one);
	verify_fails(fx->dir, DATA0, "rows, manifest.json says 1001");
}

/* ---- bad or unfinished manifests ---------------------------------------- */

static void not_complete(json_t *m)
{
	json_object_set_new(m, "complete", json_false());
}

static void test_manifest_not_marked_complete_fails(void **state)
{
	struct fx *fx = *state;

	manifest_edit(fx->dir, not_complete);
	verify_fails(fx->dir, "manifest.json", "not marked complete");
}

static void newer_version(json_t *m)
{
	json_object_set_new(m, "format_version", json_integer(2));
}

static void test_newer_format_version_is_refused(void **state)
{
	struct fx *fx = *state;

	manifest_edit(fx->dir, newer_version);
	verify_fails(fx->dir, "manifest.json", "newer than this mdlsafe understands");
}

static void escaping_path(json_t *m)
{
	json_object_set_new(entry_of(m, DATA0), "path", json_string("shop/../../etc/passwd"));
}

static void test_manifest_path_with_dotdot_is_refused(void **state)
{
	struct fx *fx = *state;

	manifest_edit(fx->dir, escaping_path);
	verify_fails(fx->dir, "manifest.json", "files[1] has a \"path\" that is not a plain relative path");
}

static void listed_twice(json_t *m)
{
	json_array_append(json_object_get(m, "files"), entry_of(m, DATA0));
}

static void test_file_listed_twice_is_refused(void **state)
{
	struct fx *fx = *state;

	manifest_edit(fx->dir, listed_twice);
	verify_fails(fx->dir, "manifest.json", "listed twice");
}

static void test_manifest_that_is_not_json_is_named(void **state)
{
	struct fx *fx = *state;
	char *p = path_join(fx->dir, "manifest.json");
	FILE *fp = fopen(p, "w");

	fputs("{\"format\": \"mdlsafe-backup\", \"files\": [", fp);
	fclose(fp);
	verify_fails(fx->dir, "manifest.json", "not valid JSON");
	free(p);
}

static void test_missing_manifest_is_named(void **state)
{
	struct fx *fx = *state;
	char *p = path_join(fx->dir, "manifest.json");

	assert_int_equal(unlink(p), 0);
	verify_fails(fx->dir, "manifest.json", "not a complete mdlsafe backup");
	free(p);
}

/* ---- paths that leave the directory, and files that are not files ------- */

/* Seconds a test may take before SIGALRM ends it: reading a FIFO must fail
 * the test, not hang the suite. */
#define HANG_GUARD_S 10

static void test_listed_file_under_a_symlinked_directory_is_refused(void **state)
{
	struct fx *fx = *state;
	char *shop = path_join(fx->dir, "shop"), *elsewhere = path_join(fx->base, "elsewhere");

	/* The same files, one link away: a manifest could vouch for anything. */
	assert_int_equal(rename(shop, elsewhere), 0);
	assert_int_equal(symlink(elsewhere, shop), 0);
	verify_fails(fx->dir, SCHEMA_FILE, "symbolic link");
	free(shop);
	free(elsewhere);
}

static void test_listed_fifo_does_not_hang_verify(void **state)
{
	struct fx *fx = *state;
	char *p = path_join(fx->dir, DATA0);

	assert_int_equal(unlink(p), 0);
	assert_int_equal(mkfifo(p, 0600), 0);
	alarm(HANG_GUARD_S);
	verify_fails(fx->dir, DATA0, "not a regular file");
	alarm(0);
	free(p);
}

static void test_manifest_that_is_a_fifo_does_not_hang_verify(void **state)
{
	struct fx *fx = *state;
	char *p = path_join(fx->dir, "manifest.json");

	assert_int_equal(unlink(p), 0);
	assert_int_equal(mkfifo(p, 0600), 0);
	alarm(HANG_GUARD_S);
	verify_fails(fx->dir, "manifest.json", "not a regular file");
	alarm(0);
	free(p);
}

/* Reads a whole file into memory. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	data = malloc((size_t)n + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return data;
}

static void test_verified_directory_and_manifest_are_handed_over(void **state)
{
	struct fx *fx = *state;
	struct verified_backup vb;
	struct verify_result r;
	struct ms_err e;
	char *p = path_join(fx->dir, "manifest.json"), *moved = path_join(fx->base, "moved"), *text;
	char want[17];
	struct stat a, b;
	size_t len;

	text = slurp(p, &len);
	snprintf(want, sizeof(want), "%016llx", (unsigned long long)XXH3_64bits(text, len));
	if (verify_backup_keep(fx->dir, NULL, NULL, &r, &vb, &e) != 0)
		fail_msg("%s", e.msg);
	assert_string_equal(vb.manifest_xxh3, want);
	assert_int_equal(json_array_size(json_object_get(vb.manifest, "files")), 3);
	/* The descriptor is the directory verified, wherever its name goes. */
	assert_int_equal(rename(fx->dir, moved), 0);
	assert_int_equal(mkdir(fx->dir, 0700), 0);
	assert_int_equal(fstat(vb.dir_fd, &a), 0);
	assert_int_equal(stat(moved, &b), 0);
	assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	verified_backup_release(&vb);
	assert_int_equal(vb.dir_fd, -1);
	assert_null(vb.manifest);
	verify_result_release(&r);

	/* A backup that fails hands nothing over. */
	assert_int_equal(verify_backup_keep(fx->dir, NULL, NULL, &r, &vb, &e), -1);
	assert_int_equal(vb.dir_fd, -1);
	assert_null(vb.manifest);
	verified_backup_release(&vb);
	verify_result_release(&r);
	assert_int_equal(rmdir(fx->dir), 0);
	assert_int_equal(rename(moved, fx->dir), 0);
	free(text);
	free(p);
	free(moved);
}

/* A multi-tenant server's manifest: this many tables (each with a schema
 * file and chunks) came to over 64 MiB, where restore used to stop. */
#define MANY_TABLES 72000
#define BIG_MANIFEST_BYTES (70ULL << 20)

static void many_tables(json_t *m)
{
	json_t *tables = json_array();

	for (int i = 0; i < MANY_TABLES; i++) {
		char name[64], schema[128], chunk[128], where[160];
		json_t *chunks = json_array();

		snprintf(name, sizeof(name), "tenant_%05d_order_line_items_archive", i);
		snprintf(schema, sizeof(schema), "shop/%s.schema.sql", name);
		for (int c = 0; c < 3; c++) {
			snprintf(chunk, sizeof(chunk), "shop/%s.%05d.sql.zst", name, c);
			snprintf(where, sizeof(where), "`tenant_id` >= %d AND `tenant_id` < %d AND `id` >= %d",
				 c * 1000000, (c + 1) * 1000000, c * 333333);
			json_array_append_new(chunks, json_pack("{s:s, s:i, s:s}", "file", chunk, "rows",
								1000000 + c, "where", where));
		}
		json_array_append_new(tables,
				      json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:n, s:o, s:[]}", "name",
						name, "engine", "InnoDB", "consistency", "snapshot", "rows",
						3000003, "yields", 0, "schema_file", schema, "triggers_file",
						"chunks", chunks, "notes"));
	}
	json_object_set_new(m, "databases",
			    json_pack("[{s:s, s:o}]", "name", "shop", "tables", tables));
}

static void test_manifest_over_64_mib_is_read_whole(void **state)
{
	struct fx *fx = *state;
	struct verified_backup vb;
	struct verify_result r;
	struct ms_err e;
	json_t *tables;

	manifest_edit(fx->dir, many_tables);
	assert_true((unsigned long long)size_of(fx->dir, "manifest.json") > BIG_MANIFEST_BYTES);
	if (verify_backup_keep(fx->dir, NULL, NULL, &r, &vb, &e) != 0)
		fail_msg("%s", e.msg);
	tables = json_object_get(json_array_get(json_object_get(vb.manifest, "databases"), 0), "tables");
	assert_int_equal(json_array_size(tables), MANY_TABLES);
	assert_string_equal(json_string_value(json_object_get(json_array_get(tables, MANY_TABLES - 1), "name")),
			    "tenant_71999_order_line_items_archive");
	verified_backup_release(&vb);
	verify_result_release(&r);
}

/* ---- the directory itself ----------------------------------------------- */

static void test_partial_dir_is_an_unfinished_backup(void **state)
{
	struct fx *fx = *state;
	struct verify_result r;
	struct ms_err e;
	char partial[200];

	/* As a killed run leaves it: the same tree, still named .partial. */
	snprintf(partial, sizeof(partial), "%s.partial", fx->dir);
	assert_int_equal(rename(fx->dir, partial), 0);

	assert_int_equal(verify_backup(partial, NULL, NULL, &r, &e), -1);
	assert_int_equal(e.status, MS_INCOMPLETE);
	assert_non_null(strstr(e.msg, "is an unfinished backup (interrupted or still running)"));
	verify_result_release(&r);

	/* Asked for DIR while only DIR.partial exists. */
	assert_int_equal(verify_backup(fx->dir, NULL, NULL, &r, &e), -1);
	assert_int_equal(e.status, MS_INCOMPLETE);
	assert_non_null(strstr(e.msg, "unfinished"));
	verify_result_release(&r);
}

static void test_missing_dir_is_a_usage_error(void **state)
{
	struct fx *fx = *state;
	struct verify_result r;
	struct ms_err e;
	char d[200];

	snprintf(d, sizeof(d), "%s/nope", fx->base);
	assert_int_equal(verify_backup(d, NULL, NULL, &r, &e), -1);
	assert_int_equal(e.status, MS_USAGE);
	assert_non_null(strstr(e.msg, "does not exist"));
	assert_null(r.first_bad_file);
	verify_result_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_good_backup_verifies_with_files_rows_and_bytes),
		T(test_content_in_whole_zstd_blocks_verifies),
		T(test_trailing_slash_is_accepted),
		T(test_extra_unlisted_file_is_ignored),
		T(test_flipped_byte_in_compressed_data_file_is_named),
		T(test_flipped_byte_in_uncompressed_file_is_a_checksum_mismatch),
		T(test_truncated_file_is_named),
		T(test_trailing_garbage_after_the_zstd_frame_is_damage),
		T(test_frame_cut_short_with_matching_size_is_truncated),
		T(test_missing_listed_file_is_named),
		T(test_row_count_disagreeing_with_manifest_is_named),
		T(test_manifest_not_marked_complete_fails),
		T(test_newer_format_version_is_refused),
		T(test_manifest_path_with_dotdot_is_refused),
		T(test_file_listed_twice_is_refused),
		T(test_manifest_that_is_not_json_is_named),
		T(test_missing_manifest_is_named),
		T(test_listed_file_under_a_symlinked_directory_is_refused),
		T(test_listed_fifo_does_not_hang_verify),
		T(test_manifest_that_is_a_fifo_does_not_hang_verify),
		T(test_verified_directory_and_manifest_are_handed_over),
		T(test_manifest_over_64_mib_is_read_whole),
		T(test_partial_dir_is_an_unfinished_backup),
		T(test_missing_dir_is_a_usage_error),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
