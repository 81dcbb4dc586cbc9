/* The metadata-lock wait graph: for each object with waiters, the pending head
 * request, who it waits for, who queues behind it; and the root blockers. */
#ifndef MDLSAFE_GRAPH_H
#define MDLSAFE_GRAPH_H

#include <stdbool.h>
#include <stddef.h>

#include "mdl/snapshot.h"
#include "util/error.h"

struct mdl_request_ref {
	size_t session;        /* index into the snapshot's sessions */
	size_t lock;           /* index into the snapshot's locks */
};

struct mdl_blocker {
	size_t session;
	long lock;             /* granted lock that conflicts, -1 for a candidate */
	bool candidate;        /* not proven: the source cannot see granted locks */
	const char *reason;    /* static text */
};

struct mdl_object_wait {
	const struct mdl_lock *object;   /* any pending lock on it, for names */
	struct mdl_request_ref *heads;   /* pending, waiting only for holders */
	size_t n_heads;
	struct mdl_blocker *blockers;    /* holders the heads wait for */
	size_t n_blockers;
	struct mdl_request_ref *queued;  /* pending behind another pending request */
	size_t n_queued;
	double oldest_wait_s;
};

struct mdl_root {
	size_t session;
	bool candidate;
	size_t n_frozen;        /* waiting sessions that (transitively) wait for it */
	char kill[48];          /* the statement that would release its locks */
	const char *why;        /* static: why that statement */
};

struct mdl_graph {
	const struct mdl_snapshot *snap;  /* borrowed; must outlive the graph */
	struct mdl_object_wait *objects;
	size_t n_objects;
	struct mdl_root *roots;
	size_t n_roots;
	size_t n_waiting;        /* distinct sessions waiting for a metadata lock */
	double oldest_wait_s;
};

/* Builds the graph from a snapshot. Pure: no I/O. */
int mdl_graph_build(const struct mdl_snapshot *s, struct mdl_graph *g, struct ms_err *e);
void mdl_graph_release(struct mdl_graph *g);

/* "no metadata-lock waits" or "N sessions frozen on M objects, oldest S s,
 * root blockers: ...". Caller frees. */
char *mdl_graph_verdict(const struct mdl_graph *g);

/* `db`.`t` for tables, "BACKUP lock" etc. for other objects. Caller frees. */
char *mdl_object_label(const struct mdl_lock *l);

#endif
