/* --rename applied to the statements of a backup: database names rewritten
 * through the restore's one SQL reader (sqlsplit), then checked again. */
#include "restore/rename.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db/db.h"
#include "sql/sqlsplit.h"
#include "util/buf.h"

/* The new name when --rename moves database `name`, else NULL. A rename to
 * the same name moves nothing, and a target is never moved: with
 * --rename app:App, `App` already names the copy. */
static const char *renamed_to(const struct restore_opts *o, const char *name)
{
	for (size_t i = 0; i < o->n_renames; i++)
		if (!strcmp(o->renames[i].to, name))
			return NULL;
	for (size_t i = 0; i < o->n_renames; i++)
		if (!strcasecmp(o->renames[i].from, name) && strcmp(o->renames[i].from, o->renames[i].to))
			return o->renames[i].to;
	return NULL;
}

static unsigned lines_before(const char *s, size_t at)
{
	unsigned n = 0;

	for (size_t i = 0; i < at; i++)
		n += s[i] == '\n';
	return n;
}

/* Where a statement is, for messages: "F line N: ", "F: " or "". */
static void where(char *out, size_t n, const char *file, unsigned line)
{
	if (file && line)
		snprintf(out, n, "%s line %u: ", file, line);
	else if (file)
		snprintf(out, n, "%s: ", file);
	else
		out[0] = '\0';
}

struct rewrite {
	const struct restore_opts *o;
	const char *stmt;
	struct buf out;
	size_t copied; /* stmt[0..copied) is in out */
	const char *file;
	unsigned line;
	json_t *log;
};

static void log_change(struct rewrite *rw, size_t at, const char *from, size_t from_len, const char *to,
		       size_t to_len)
{
	json_t *entry;

	if (!rw->log)
		return;
	entry = json_pack("{s:s?, s:I, s:s%, s:s%}", "file", rw->file, "line",
			  (json_int_t)(rw->line ? rw->line + lines_before(rw->stmt, at) : 0), "from", from,
			  from_len, "to", to, to_len);
	if (entry)
		json_array_append_new(rw->log, entry);
}

/* Replaces stmt[start..end) with `quoted`, logging the whole reference
 * stmt[start..ref_end) before and after. */
static void replace_span(struct rewrite *rw, size_t start, size_t end, size_t ref_end, const char *quoted)
{
	struct buf to = BUF_INIT;

	buf_add(&rw->out, rw->stmt + rw->copied, start - rw->copied);
	buf_adds(&rw->out, quoted);
	rw->copied = end;
	buf_adds(&to, quoted);
	buf_add(&to, rw->stmt + end, ref_end - end);
	if (!to.failed)
		log_change(rw, start, rw->stmt + start, ref_end - start, buf_str(&to), to.len);
	buf_release(&to);
}

static int rewrite_ref(void *ctx, const struct sqlsplit_ref *ref)
{
	struct rewrite *rw = ctx;
	const char *to = renamed_to(rw->o, ref->name);
	char *quoted;

	if (!to)
		return 0;
	if (!(quoted = db_quote_ident(to)))
		return -1;
	replace_span(rw, ref->start, ref->end, ref->ref_end, quoted);
	free(quoted);
	return rw->out.failed ? -1 : 0;
}

/* Gives a qualified object name (and a trigger's table) `target` as its
 * qualifier. sqlsplit hands the names out in statement order, so one pass
 * does. */
static int requalify(struct rewrite *rw, const char *target)
{
	struct sqlsplit_object ob;
	const struct sqlsplit_name *names[2];

	if (!sqlsplit_create_object(rw->stmt, strlen(rw->stmt), &ob) || ob.kind == SQLSPLIT_DATABASE)
		return 0;
	names[0] = &ob.name;
	names[1] = ob.kind == SQLSPLIT_TRIGGER ? &ob.table : NULL;
	for (size_t i = 0; i < 2; i++) {
		const struct sqlsplit_name *nm = names[i];
		char *q, *t;
		struct buf full = BUF_INIT;
		int rc = 0;

		if (!nm || !nm->schema[0] || !strcmp(nm->schema, target))
			continue;
		q = db_quote_ident(target);
		t = db_quote_ident(nm->name);
		buf_addf(&full, "%s.%s", q ? q : "", t ? t : "");
		if (q && t && !full.failed)
			replace_span(rw, nm->start, nm->end, nm->end, buf_str(&full));
		else
			rc = -1;
		free(q);
		free(t);
		buf_release(&full);
		if (rc)
			return -1;
	}
	return rw->out.failed ? -1 : 0;
}

/* Finishes rw->out with the rest of the statement and hands it out. */
static char *finish(struct rewrite *rw, size_t len)
{
	buf_add(&rw->out, rw->stmt + rw->copied, len - rw->copied);
	if (rw->out.failed)
		return NULL;
	return rw->out.data ? buf_detach(&rw->out) : strdup("");
}

int restore_rename_sql(const struct restore_opts *o, const char *target, const char *stmt, size_t len,
		       bool no_backslash_escapes, const char *file, unsigned line, json_t *log, char **out,
		       struct ms_err *e)
{
	struct rewrite rw = { .o = o, .stmt = stmt, .file = file, .line = line, .log = log };
	char *renamed = NULL, *own = NULL;
	int rc;

	*out = NULL;
	rc = o->n_renames ? sqlsplit_db_refs(stmt, len, no_backslash_escapes, rewrite_ref, &rw) : 0;
	if (rc == SQLSPLIT_UNTERMINATED) {
		char at[300];

		buf_release(&rw.out);
		where(at, sizeof(at), file, line);
		return ms_fail(e, MS_INCOMPLETE, "%sa quote or comment does not close; the file is damaged", at);
	}
	if (rc || !(renamed = finish(&rw, len))) {
		buf_release(&rw.out);
		return ms_oom(e);
	}
	/* The object's own name, read again in the renamed text. */
	rw.out = (struct buf)BUF_INIT;
	rw.stmt = renamed;
	rw.copied = 0;
	if (requalify(&rw, target) || !(own = finish(&rw, strlen(renamed)))) {
		buf_release(&rw.out);
		free(renamed);
		return ms_oom(e);
	}
	free(renamed);
	if (restore_rename_check(o, own, strlen(own), no_backslash_escapes, file, line, e)) {
		free(own);
		return -1;
	}
	*out = own;
	return 0;
}

struct check {
	const struct restore_opts *o;
	bool hit;
	struct sqlsplit_ref ref;
};

static int check_ref(void *ctx, const struct sqlsplit_ref *ref)
{
	struct check *c = ctx;

	if (!renamed_to(c->o, ref->name))
		return 0;
	c->ref = *ref;
	c->hit = true;
	return 1;
}

int restore_rename_check(const struct restore_opts *o, const char *stmt, size_t len, bool no_backslash_escapes,
			 const char *file, unsigned line, struct ms_err *e)
{
	struct check c = { .o = o };
	char at[300];
	size_t shown;
	int rc;

	if (!o->n_renames)
		return 0;
	rc = sqlsplit_db_refs(stmt, len, no_backslash_escapes, check_ref, &c);
	where(at, sizeof(at), file, line ? line + (c.hit ? lines_before(stmt, c.ref.start) : 0) : 0);
	if (rc == SQLSPLIT_UNTERMINATED)
		return ms_fail(e, MS_INCOMPLETE, "%sa quote or comment does not close: which databases the statement "
				"names cannot be told; the file is damaged", at);
	if (!c.hit)
		return 0;
	shown = c.ref.ref_end - c.ref.start > 120 ? 120 : c.ref.ref_end - c.ref.start;
	return ms_fail(e, MS_USAGE,
		       "%s%.*s names database %s, which --rename moves to %s: running it would change the live %s, so "
		       "the restore stops before it; restore without --rename, or load this file by hand into %s after "
		       "making its names point there (see \"Restoring by hand\" in docs/formats.md)",
		       at, (int)shown, stmt + c.ref.start, c.ref.name, renamed_to(o, c.ref.name), c.ref.name,
		       renamed_to(o, c.ref.name));
}

/* Case-insensitive search for ASCII text w in s[0..n). */
static bool has_text(const char *s, size_t n, const char *w)
{
	size_t k = strlen(w);

	for (size_t i = 0; i + k <= n; i++)
		if (!strncasecmp(s + i, w, k))
			return true;
	return false;
}

bool restore_rename_follow_mode(const char *stmt, size_t len, bool nbe)
{
	if (len < 4 || strncasecmp(stmt, "SET", 3) || !has_text(stmt, len, "sql_mode"))
		return nbe;
	return has_text(stmt, len, "NO_BACKSLASH_ESCAPES");
}
