/* prune_run() (see prune.h): the backups are read through their manifests,
 * the newest good one found with verify, the rest follows the rule. */
#include "store/prune.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "binlog/binlog.h"
#include "store/verify.h"
#include "util/buf.h"

struct bk {
	char *name;
	uint32_t finished; /* UTC seconds */
	char *binlog_file; /* consistency point; NULL without a binary log */
	unsigned long long binlog_pos;
	const char *why;   /* kept because; NULL: removed */
};

/* Appends v to the array `key` of the report (created when missing). */
static void report_add(const struct prune_opts *o, const char *key, json_t *v)
{
	json_t *a;

	if (!o->report) {
		json_decref(v);
		return;
	}
	if (!(a = json_object_get(o->report, key))) {
		a = json_array();
		json_object_set_new(o->report, key, a);
	}
	json_array_append_new(a, v);
}

static int by_newest(const void *a, const void *b)
{
	const struct bk *x = a, *y = b;

	return x->finished < y->finished ? 1 : x->finished > y->finished ? -1 : strcmp(y->name, x->name);
}

static int list_backups(const struct prune_opts *o, struct bk **out, size_t *n, struct ms_err *e)
{
	DIR *d = opendir(o->root);
	struct dirent *de;
	struct bk *v = NULL;
	size_t cap = 0;

	*n = 0;
	if (!d)
		return ms_fail(e, MS_IO, "cannot list %s: %s", o->root, strerror(errno));
	while ((de = readdir(d))) {
		char *path = ms_asprintf("%s/%s", o->root, de->d_name);
		struct ms_err ignored;
		json_t *m;
		struct stat sb;
		size_t len = strlen(de->d_name);

		if (!path) {
			closedir(d);
			return ms_oom(e);
		}
		if (de->d_name[0] == '.' || (len > 8 && !strcmp(de->d_name + len - 8, ".partial")) ||
		    lstat(path, &sb) != 0 || !S_ISDIR(sb.st_mode) || !(m = backup_manifest_peek(path, &ignored))) {
			free(path);
			continue;
		}
		free(path);
		if (*n == cap) {
			struct bk *grown = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));
			if (!grown) {
				json_decref(m);
				closedir(d);
				*out = v;
				return ms_oom(e);
			}
			v = grown;
		}
		memset(&v[*n], 0, sizeof(v[*n]));
		v[*n].name = strdup(de->d_name);
		{
			const char *f = json_string_value(
				json_object_get(json_object_get(m, "consistency_point"), "binlog_file"));
			v[*n].binlog_file = f ? strdup(f) : NULL;
			v[*n].binlog_pos = (unsigned long long)json_integer_value(
				json_object_get(json_object_get(m, "consistency_point"), "binlog_position"));
		}
		binlog_parse_time(json_string_value(json_object_get(m, "finished_at")), &v[*n].finished);
		json_decref(m);
		(*n)++;
	}
	closedir(d);
	*out = v;
	if (*n)
		qsort(v, *n, sizeof(*v), by_newest);
	return 0;
}

/* The newest backup of each of the first `keep` distinct buckets. */
static void keep_per_bucket(struct bk *v, size_t n, unsigned keep, uint32_t width, const char *why)
{
	uint32_t last = UINT32_MAX;
	unsigned kept = 0;

	for (size_t i = 0; i < n && kept < keep; i++) {
		uint32_t b = v[i].finished / width;
		if (b == last)
			continue;
		last = b;
		kept++;
		if (!v[i].why)
			v[i].why = why;
	}
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) == 0 ? 0 : -1;
}

static int remove_backup(const struct prune_opts *o, const char *name, struct ms_err *e)
{
	char *path = ms_asprintf("%s/%s", o->root, name);
	int rc = 0;

	if (!path)
		return ms_oom(e);
	if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		rc = ms_fail(e, MS_IO, "cannot remove %s: %s", path, strerror(errno));
	free(path);
	return rc;
}

/* The archived files before the first one a kept backup needs, in the
 * index's order: the files of several servers after a failover share no
 * order of names, only the index's. A backup whose position is in the
 * .partial needs none of the complete files. */
static int prune_binlogs(const struct prune_opts *o, const struct bk *v, size_t n, unsigned *removed, struct ms_err *e)
{
	json_t *index = NULL, *files;
	struct binlog_entries en = { NULL, 0 };
	size_t i, cut = SIZE_MAX;
	int rc = 0;

	if (binlog_index_load(o->binlog_archive, &index, e))
		return -1;
	if (!index)
		return ms_fail(e, MS_USAGE, "%s has no %s: it is not a binlog archive", o->binlog_archive,
			       BINLOG_INDEX);
	files = json_object_get(index, "files");
	if (o->report)
		json_object_set_new(o->report, "binlog_files_removed", json_array());
	if (binlog_entries_load(index, &en, e)) {
		rc = -1;
		goto out;
	}
	for (i = 0; i < n; i++) {
		ssize_t at;

		if (!v[i].why || !v[i].binlog_file)
			continue;
		if ((at = binlog_entries_find_source(&en, v[i].binlog_file, v[i].binlog_pos)) < 0) {
			ms_note(o->note, o->ctx,
				"binlog archive: %s:%llu (the position of the kept backup %s) is not in the archive; no "
				"binlog file removed",
				v[i].binlog_file, v[i].binlog_pos, v[i].name);
			goto out;
		}
		if ((size_t)at < cut)
			cut = (size_t)at;
	}
	if (cut == SIZE_MAX) {
		ms_note(o->note, o->ctx, "binlog archive: no kept backup records a binlog position; nothing removed");
		goto out;
	}
	if (cut > json_array_size(files))
		cut = json_array_size(files);
	for (i = 0; i < cut && rc == 0; i++) {
		const char *name = json_string_value(json_object_get(json_array_get(files, i), "name"));
		char *path = ms_asprintf("%s/%s", o->binlog_archive, name);

		ms_note(o->note, o->ctx, "%s binlog %s", o->dry_run ? "would remove" : "remove", name);
		report_add(o, "binlog_files_removed", json_string(name));
		(*removed)++;
		if (!path)
			rc = ms_oom(e);
		else if (!o->dry_run && unlink(path) != 0 && errno != ENOENT)
			rc = ms_fail(e, MS_IO, "cannot remove %s: %s", path, strerror(errno));
		free(path);
	}
	/* The archiver drops entries whose files are gone when it next writes
	 * the index; written here too, for an archive no archiver writes now. */
	if (rc == 0 && !o->dry_run && cut) {
		for (i = 0; i < cut; i++)
			json_array_remove(files, 0);
		rc = binlog_index_save(o->binlog_archive, index, e);
	}
out:
	binlog_entries_release(&en);
	json_decref(index);
	return rc;
}

int prune_run(const struct prune_opts *o, unsigned *removed, struct ms_err *e)
{
	struct bk *v = NULL;
	size_t n = 0, i;
	int rc;

	*removed = 0;
	if ((rc = list_backups(o, &v, &n, e)))
		goto out;
	/* The newest backup that verifies, whatever the rule says. */
	for (i = 0; i < n; i++) {
		struct verify_result r;
		struct ms_err why;
		char *path = ms_asprintf("%s/%s", o->root, v[i].name);
		int bad;

		ms_err_clear(&why);
		bad = !path || verify_backup(path, NULL, NULL, &r, &why);

		if (path)
			verify_result_release(&r);
		free(path);
		if (!bad) {
			v[i].why = "the newest good backup";
			break;
		}
		ms_note(o->note, o->ctx, "%s does not verify (%s); looking at an older one", v[i].name, why.msg);
	}
	if (i == n && n) {
		rc = ms_fail(e, MS_INCOMPLETE, "no backup in %s verifies: nothing is removed", o->root);
		goto out;
	}
	keep_per_bucket(v, n, o->keep_hourly, 3600, "hourly");
	keep_per_bucket(v, n, o->keep_daily, 86400, "daily");
	if (o->report)
		json_object_set_new(o->report, "backups", json_array());
	for (i = 0; i < n; i++) {
		report_add(o, "backups",
			   json_pack("{s:s, s:b, s:s?}", "name", v[i].name, "kept", v[i].why != NULL, "why", v[i].why));
		if (v[i].why) {
			ms_note(o->note, o->ctx, "keep %s (%s)", v[i].name, v[i].why);
			continue;
		}
		ms_note(o->note, o->ctx, "%s %s", o->dry_run ? "would remove" : "remove", v[i].name);
		(*removed)++;
		if (!o->dry_run && (rc = remove_backup(o, v[i].name, e)))
			goto out;
	}
	if (o->binlog_archive)
		rc = prune_binlogs(o, v, n, removed, e);
out:
	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].binlog_file);
	}
	free(v);
	return rc;
}
