/* Prints the wait graph the way a DBA reads it at 3 a.m.: verdict first, then
 * what to kill, then the detail per table. */
#include "cli/locks_render.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/visible.h"

#define STMT_WIDTH 100

/* Everything the server reports about other sessions (statement, user,
 * host, names) is theirs to choose, so it is shown through fput_visible:
 * one line, no escape sequences. */
static void print_statement(FILE *out, const char *info)
{
	if (!info) {
		fputs("-", out);
		return;
	}
	if (fput_visible(out, info, STMT_WIDTH))
		fputs("...", out);
}

static void print_text(FILE *out, const char *s)
{
	fput_visible(out, s ? s : "?", VISIBLE_ALL);
}

static void print_session(FILE *out, const struct mdl_session *s)
{
	fprintf(out, "#%llu ", s->id);
	print_text(out, s->user);
	fputc('@', out);
	print_text(out, s->host);
	if (s->db) {
		fputs(" db=", out);
		print_text(out, s->db);
	}
	fputc(' ', out);
	print_text(out, s->command);
	fprintf(out, " %.1fs", s->time_s);
	if (s->has_trx)
		fprintf(out, ", %s %.0fs", s->command && !strcmp(s->command, "Sleep") ? "IDLE in transaction for"
										     : "transaction open", s->trx_age_s);
	if (s->has_trx && s->trx_rows_modified)
		fprintf(out, " (%llu rows modified)", s->trx_rows_modified);
	if (s->is_mdlsafe)
		fputs(" [mdlsafe]", out);
	if (s->is_system)
		fputs(" [system]", out);
}

static void print_request(FILE *out, const struct mdl_graph *g, const struct mdl_request_ref *r,
			  const char *indent)
{
	const struct mdl_lock *l = &g->snap->locks[r->lock];

	fputs(indent, out);
	print_session(out, &g->snap->sessions[r->session]);
	fputs(" wants ", out);
	print_text(out, l->type_name);
	fprintf(out, "%s\n%s    ", l->inferred ? " (inferred)" : "", indent);
	print_statement(out, g->snap->sessions[r->session].info);
	fputc('\n', out);
}

static void print_roots(FILE *out, const struct mdl_graph *g)
{
	if (!g->n_roots)
		return;
	fputs("\nRoot blockers (they wait for nothing; ending one unfreezes the sessions behind it):\n", out);
	for (size_t i = 0; i < g->n_roots; i++) {
		const struct mdl_root *r = &g->roots[i];
		const struct mdl_session *s = &g->snap->sessions[r->session];

		fputs("  ", out);
		print_session(out, s);
		if (r->candidate)
			fputs("  [candidate: not proven to hold the lock]", out);
		fputs("\n    statement: ", out);
		print_statement(out, s->info);
		fprintf(out, "\n    %s;   -- %s; %zu session%s waiting behind it\n", r->kill, r->why, r->n_frozen,
			r->n_frozen == 1 ? "" : "s");
	}
}

static void print_object(FILE *out, const struct mdl_graph *g, const struct mdl_object_wait *o)
{
	char *label = mdl_object_label(o->object);

	fputc('\n', out);
	print_text(out, label);
	fprintf(out, "   oldest wait %.1fs\n", o->oldest_wait_s);
	free(label);
	for (size_t i = 0; i < o->n_heads; i++) {
		fputs("  pending:\n", out);
		print_request(out, g, &o->heads[i], "    ");
	}
	if (o->n_blockers) {
		fprintf(out, "  waits for%s:\n", g->snap->holders_exact ? "" : " (candidates)");
		for (size_t i = 0; i < o->n_blockers; i++) {
			const struct mdl_blocker *b = &o->blockers[i];
			fputs("    ", out);
			print_session(out, &g->snap->sessions[b->session]);
			if (b->lock >= 0) {
				fputs(" holds ", out);
				print_text(out, g->snap->locks[b->lock].type_name);
			}
			fprintf(out, "\n      %s%s\n", b->candidate ? "candidate: " : "", b->reason);
		}
	} else {
		fputs("  waits for: no holder visible (it may be granted any moment)\n", out);
	}
	if (o->n_queued) {
		fprintf(out, "  queued behind the pending request (%zu):\n", o->n_queued);
		for (size_t i = 0; i < o->n_queued; i++)
			print_request(out, g, &o->queued[i], "    ");
	}
	if (o->n_heads && o->n_queued) {
		const struct mdl_session *h = &g->snap->sessions[o->heads[0].session];
		fprintf(out, "  to release the queue without touching the holders: KILL QUERY %llu;  -- cancels the pending request\n",
			h->id);
	}
}

void locks_render_text(FILE *out, const struct mdl_graph *g)
{
	const struct mdl_snapshot *s = g->snap;
	char when[32], *verdict = mdl_graph_verdict(g);
	time_t t = (time_t)s->taken_at;
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(out, "mdlsafe locks  %s  server ", when);
	print_text(out, s->server_version);
	fprintf(out, "  source: %s%s\n", mdl_source_name(s->source),
		s->source == MDL_SOURCE_PLUGIN ? " (exact holders, waits inferred from statements)"
		: s->holders_exact             ? " (exact)"
					       : " (holders are candidates)");
	print_text(out, verdict);
	fputc('\n', out);
	free(verdict);
	if (!s->holders_exact && g->n_objects)
		fputs("note: this server does not expose lock holders; for exact answers enable the\n"
		      "      performance_schema MDL instrument (mdlsafe locks --enable-instrumentation)\n",
		      out);
	print_roots(out, g);
	for (size_t i = 0; i < g->n_objects; i++)
		print_object(out, g, &g->objects[i]);
	if (s->row_waits_loaded) {
		fprintf(out, "\nInnoDB row-lock waits: %zu\n", s->n_row_waits);
		for (size_t i = 0; i < s->n_row_waits; i++) {
			fprintf(out, "  #%llu waits %.1fs for a row lock held by #%llu on ", s->row_waits[i].waiting_id,
				s->row_waits[i].wait_s, s->row_waits[i].blocking_id);
			print_text(out, s->row_waits[i].table);
			fputc('\n', out);
		}
	}
}
