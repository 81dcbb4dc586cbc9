/* Statement ends and row counts of data files, read a piece at a time; see
 * rowscan.h for the layout and why reading it this way is exact. */
#include "store/rowscan.h"

#include <string.h>

enum {
	ST_START,     /* at the start of a line between statements */
	ST_INSERT,    /* the line began with part of "INSERT" */
	ST_DASHES,    /* the line began with part of "-- " */
	ST_COMMENT,   /* in a comment or blank line between statements */
	ST_HEAD,      /* in the head of an INSERT, up to its first unquoted newline */
	ST_OTHER,     /* in any other statement */
	ST_ROW_START, /* at the start of a row line */
	ST_ROW,       /* in a row line */
};

static const char insert_kw[] = "INSERT";
static const char comment_kw[] = "-- ";

void rowscan_init(struct rowscan *s)
{
	memset(s, 0, sizeof(*s));
	s->state = ST_START;
}

static void tail_push(struct rowscan *s, char c)
{
	s->tail[0] = s->tail[1];
	s->tail[1] = c;
}

static void tail_add(struct rowscan *s, const char *p, size_t n)
{
	if (n >= 2) {
		s->tail[0] = p[n - 2];
		s->tail[1] = p[n - 1];
	} else if (n == 1) {
		tail_push(s, p[0]);
	}
}

/* At a newline outside quotes: did the line end the statement? Forgets the
 * line either way. */
static bool line_ends_statement(struct rowscan *s)
{
	bool end = s->tail[1] == ';' || (s->tail[1] == '\r' && s->tail[0] == ';');

	s->tail[0] = s->tail[1] = 0;
	return end;
}

enum rowscan_event rowscan_next(struct rowscan *s, const char *data, size_t len, size_t *used)
{
	size_t i = 0;

	while (i < len) {
		char c = data[i];
		const char *nl;

		switch (s->state) {
		case ST_START:
			if (c == '\n') {
				*used = i + 1;
				return ROWSCAN_FILLER;
			}
			if (c == '\r') {
				s->state = ST_COMMENT;
				i++;
			} else if (c == insert_kw[0] || c == comment_kw[0]) {
				s->state = c == insert_kw[0] ? ST_INSERT : ST_DASHES;
				s->match = 1;
				tail_push(s, c);
				i++;
			} else {
				s->state = ST_OTHER;
			}
			continue;
		case ST_INSERT:
		case ST_DASHES: {
			const char *kw = s->state == ST_INSERT ? insert_kw : comment_kw;

			/* A mismatch leaves c to the statement the line starts;
			 * the bytes matched so far hold no quote. */
			if (c != kw[s->match]) {
				s->state = ST_OTHER;
				continue;
			}
			tail_push(s, c);
			i++;
			if (kw[++s->match] == '\0') {
				s->state = s->state == ST_INSERT ? ST_HEAD : ST_COMMENT;
				if (s->state == ST_COMMENT)
					s->tail[0] = s->tail[1] = 0;
			}
			continue;
		}
		case ST_COMMENT:
			nl = memchr(data + i, '\n', len - i);
			if (!nl) {
				i = len;
				continue;
			}
			s->state = ST_START;
			*used = (size_t)(nl - data) + 1;
			return ROWSCAN_FILLER;
		case ST_HEAD:
		case ST_OTHER:
			i++;
			if (s->escaped) {
				s->escaped = false;
			} else if (s->quote) {
				if (c == s->quote)
					s->quote = 0;
				else if (c == '\\' && s->quote != '`')
					s->escaped = true;
			} else if (c == '\n') {
				if (line_ends_statement(s)) {
					s->state = ST_START;
					*used = i;
					return ROWSCAN_STATEMENT;
				}
				if (s->state == ST_HEAD)
					s->state = ST_ROW_START;
				continue;
			} else if (c == '\'' || c == '"' || c == '`') {
				s->quote = c;
			}
			tail_push(s, c);
			continue;
		case ST_ROW_START:
			if (c == '(')
				s->rows++;
			s->state = ST_ROW;
			continue;
		default: /* ST_ROW: values hold no raw newline, so the next one ends the row */
			nl = memchr(data + i, '\n', len - i);
			if (!nl) {
				tail_add(s, data + i, len - i);
				i = len;
				continue;
			}
			tail_add(s, data + i, (size_t)(nl - data) - i);
			i = (size_t)(nl - data) + 1;
			if (line_ends_statement(s)) {
				s->state = ST_START;
				*used = i;
				return ROWSCAN_STATEMENT;
			}
			s->state = ST_ROW_START;
			continue;
		}
	}
	*used = len;
	return ROWSCAN_MORE;
}

unsigned long long rowscan_count(struct rowscan *s, const char *data, size_t len)
{
	unsigned long long before = s->rows;
	size_t used;

	while (len) {
		rowscan_next(s, data, len, &used);
		data += used;
		len -= used;
	}
	return s->rows - before;
}
