/* Human-readable rendering of the wait graph for `mdlsafe locks`. */
#ifndef MDLSAFE_LOCKS_RENDER_H
#define MDLSAFE_LOCKS_RENDER_H

#include <stdio.h>

#include "mdl/graph.h"

void locks_render_text(FILE *out, const struct mdl_graph *g);

#endif
