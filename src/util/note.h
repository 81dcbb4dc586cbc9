/* Progress and log lines from the library: formatted here, handed to the
 * caller's callback, which decides whether and where to print them. */
#ifndef MDLSAFE_NOTE_H
#define MDLSAFE_NOTE_H

#include <stdarg.h>

/* Longest line a note carries; longer ones are cut. */
#define MS_NOTE_MAX 2048

/* The callback every options struct carries as `note` (or `say`). */
typedef void ms_note_fn(void *ctx, const char *line);

/* Formats one line and calls fn(ctx, line); does nothing when fn is NULL, so
 * callers need not check whether anyone listens. */
void ms_note(ms_note_fn *fn, void *ctx, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void ms_vnote(ms_note_fn *fn, void *ctx, const char *fmt, va_list ap);

#endif
