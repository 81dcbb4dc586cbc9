/* Text other sessions control (statements, user, host and object names,
 * server messages) made safe to show on a terminal or in a text log. */
#ifndef MDLSAFE_VISIBLE_H
#define MDLSAFE_VISIBLE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util/buf.h"

/* No limit on the characters taken. */
#define VISIBLE_ALL SIZE_MAX

/*
 * Appends s to b with everything a terminal would act on replaced by
 * something visible, so foreign text can neither move the cursor, erase or
 * rewrite a line (say a suggested KILL), nor start a new log line:
 *
 *   tab, newline, carriage return, VT, FF   one space (a statement stays on
 *                                           its line)
 *   other C0 controls, ESC, DEL             \xNN (ESC is \x1b)
 *   C1 controls U+0080..U+009F, the         \uNNNN
 *   bidirectional overrides and isolates
 *   (U+202A..U+202E, U+2066..U+2069)
 *   a byte that is not part of valid UTF-8  \xNN
 *
 * Everything else, including any other UTF-8 character, is copied as it
 * is; a backslash is not doubled. At most max_chars characters of s are
 * taken (an escape counts as one), cut between characters. Returns true
 * when s had more. A NULL s appends nothing. JSON output never goes
 * through here: jansson escapes it exactly.
 */
bool buf_add_visible(struct buf *b, const char *s, size_t max_chars);

/* Writes s to f as buf_add_visible would append it; same return value. */
bool fput_visible(FILE *f, const char *s, size_t max_chars);

#endif
