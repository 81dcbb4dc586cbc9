/* The one printer-to-callback for progress and log lines (see note.h). */
#include "util/note.h"

#include <stdio.h>

void ms_vnote(ms_note_fn *fn, void *ctx, const char *fmt, va_list ap)
{
	char line[MS_NOTE_MAX];

	if (!fn)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	fn(ctx, line);
}

void ms_note(ms_note_fn *fn, void *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ms_vnote(fn, ctx, fmt, ap);
	va_end(ap);
}
