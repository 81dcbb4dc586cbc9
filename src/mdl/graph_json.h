/* The wait graph as JSON: the stable, documented schema of `locks --json`
 * (schema_version 1; fields are only ever added, never renamed). */
#ifndef MDLSAFE_GRAPH_JSON_H
#define MDLSAFE_GRAPH_JSON_H

#include <jansson.h>

#include "mdl/graph.h"

/* Returns a new reference, or NULL when out of memory. */
json_t *mdl_graph_to_json(const struct mdl_graph *g);

/* One session as JSON (shared with other commands that name blockers). */
json_t *mdl_session_to_json(const struct mdl_session *s);

#endif
