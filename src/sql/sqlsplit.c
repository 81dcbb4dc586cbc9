/* Statement splitting and CREATE/INSERT head reading for restore; see
 * sqlsplit.h for the rules, which follow the mariadb client and server. */
#include "sql/sqlsplit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Bytes of an unquoted identifier; >= 0x80 covers UTF-8 letters. */
static bool is_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '$' || c >= 0x80;
}

/* Compares n bytes of s with the upper-case ASCII keyword kw. */
static bool keyword_eq(const char *s, const char *kw, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 'a' && c <= 'z')
			c -= 'a' - 'A';
		if (c != (unsigned char)kw[i])
			return false;
	}
	return true;
}

/* Offset of the '\n' ending the line that holds p, or n. */
static size_t line_end(const char *t, size_t n, size_t p)
{
	const char *nl = memchr(t + p, '\n', n - p);

	return nl ? (size_t)(nl - t) : n;
}

/* "--" starts a comment only when whitespace or the end of text follows:
 * "5--1" is five minus minus one. */
static bool at_dash_comment(const char *t, size_t n, size_t p)
{
	return n - p >= 2 && t[p] == '-' && t[p + 1] == '-' && (n - p == 2 || is_space(t[p + 2]));
}

static bool at_block_comment(const char *t, size_t n, size_t p)
{
	return n - p >= 2 && t[p] == '/' && t[p + 1] == '*';
}

/* At a comment's opening: is it an executable comment, whose content the
 * server runs? */
static bool is_exec_comment(const char *t, size_t n, size_t p)
{
	return (n - p >= 3 && t[p + 2] == '!') || (n - p >= 4 && t[p + 2] == 'M' && t[p + 3] == '!');
}

/* From the opening at *p, moves *p past the closing mark; false when the
 * comment never closes. The opening's star cannot also close it: a comment
 * that starts slash-star-slash is still open. */
static bool skip_block_comment(const char *t, size_t n, size_t *p)
{
	for (size_t i = *p + 2; i + 1 < n; i++) {
		if (t[i] == '*' && t[i + 1] == '/') {
			*p = i + 2;
			return true;
		}
	}
	return false;
}

/* From the quote at *p, moves *p past the closing quote; false when it never
 * closes. A doubled quote needs no case of its own: it closes the string
 * and the caller's next step opens another at once. */
static bool skip_quoted(const char *t, size_t n, size_t *p, bool backslash_escapes)
{
	char q = t[*p];
	bool esc = backslash_escapes && q != '`';

	for (size_t i = *p + 1; i < n; i++) {
		if (t[i] == q) {
			*p = i + 1;
			return true;
		}
		if (t[i] == '\\' && esc)
			i++;
	}
	return false;
}

void sqlsplit_init(struct sqlsplit *s, const char *text, size_t len)
{
	memset(s, 0, sizeof(*s));
	s->text = text;
	s->len = len;
	s->delim[0] = ';';
	s->delim_len = 1;
	s->line = 1;
}

/* Line of offset `at`. Offsets asked for never go backwards, so the whole
 * text is counted once however many statements it holds. */
static unsigned line_at(struct sqlsplit *s, size_t at)
{
	const char *p = s->text + s->counted, *end = s->text + at;

	if (at <= s->counted)
		return s->line;
	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		s->line++;
		p++;
	}
	s->counted = at;
	return s->line;
}

static int split_fail(struct sqlsplit *s, size_t at, int code)
{
	s->error_line = line_at(s, at);
	s->error = code;
	return code;
}

static bool at_delim(const struct sqlsplit *s, size_t p)
{
	return s->len - p >= s->delim_len && memcmp(s->text + p, s->delim, s->delim_len) == 0;
}

#define DELIMITER_CMD "DELIMITER"
#define DELIMITER_CMD_LEN (sizeof(DELIMITER_CMD) - 1)

static bool at_delimiter_command(const char *t, size_t n, size_t p)
{
	if (n - p < DELIMITER_CMD_LEN || !keyword_eq(t + p, DELIMITER_CMD, DELIMITER_CMD_LEN))
		return false;
	p += DELIMITER_CMD_LEN;
	return p == n || t[p] == ' ' || t[p] == '\t';
}

/* Runs the DELIMITER command at *p and moves *p to the end of its line. */
static int set_delimiter(struct sqlsplit *s, size_t *p)
{
	const char *t = s->text;
	size_t eol = line_end(t, s->len, *p), i = *p + DELIMITER_CMD_LEN, word;

	while (i < eol && is_space((unsigned char)t[i]))
		i++;
	word = i;
	while (i < eol && !is_space((unsigned char)t[i]))
		i++;
	/* The client refuses a backslash: it would read as one of its commands. */
	if (i == word || i - word > SQLSPLIT_DELIM_MAX || memchr(t + word, '\\', i - word))
		return split_fail(s, *p, SQLSPLIT_BAD_DELIMITER);
	memcpy(s->delim, t + word, i - word);
	s->delim[i - word] = '\0';
	s->delim_len = i - word;
	*p = eol;
	return 0;
}

/* Moves *p from a statement's first token to the delimiter that ends it, or
 * to the end of the text. */
static int scan_statement(struct sqlsplit *s, size_t *p)
{
	const char *t = s->text;
	size_t n = s->len, i = *p, open;
	char d0 = s->delim[0];

	while (i < n) {
		char c = t[i];

		/* The client looks for the delimiter before anything else. */
		if (c == d0 && at_delim(s, i))
			break;
		switch (c) {
		case '\'':
		case '"':
		case '`':
			open = i;
			if (!skip_quoted(t, n, &i, !s->no_backslash_escapes))
				return split_fail(s, open, SQLSPLIT_UNTERMINATED);
			continue;
		case '#':
			i = line_end(t, n, i);
			continue;
		case '-':
			if (at_dash_comment(t, n, i)) {
				i = line_end(t, n, i);
				continue;
			}
			break;
		case '/':
			if (!at_block_comment(t, n, i))
				break;
			if (is_exec_comment(t, n, i)) {
				i += 2;
				continue;
			}
			open = i;
			if (!skip_block_comment(t, n, &i))
				return split_fail(s, open, SQLSPLIT_UNTERMINATED);
			continue;
		default:
			break;
		}
		i++;
	}
	*p = i;
	return 0;
}

int sqlsplit_next(struct sqlsplit *s, struct sqlsplit_stmt *out)
{
	const char *t = s->text;
	size_t n = s->len, p = s->pos, start, end;
	int rc;

	if (s->error)
		return s->error;
	/* Between statements: nothing here reaches the server. */
	for (;;) {
		while (p < n && is_space((unsigned char)t[p]))
			p++;
		if (p >= n) {
			s->pos = n;
			return 0;
		}
		if (at_delim(s, p)) {
			p += s->delim_len;
		} else if (t[p] == '#' || at_dash_comment(t, n, p)) {
			p = line_end(t, n, p);
		} else if (at_block_comment(t, n, p) && !is_exec_comment(t, n, p)) {
			size_t open = p;
			if (!skip_block_comment(t, n, &p))
				return split_fail(s, open, SQLSPLIT_UNTERMINATED);
		} else if (at_delimiter_command(t, n, p)) {
			rc = set_delimiter(s, &p);
			if (rc)
				return rc;
		} else {
			break;
		}
	}
	start = p;
	rc = scan_statement(s, &p);
	if (rc)
		return rc;
	end = p;
	while (end > start && is_space((unsigned char)t[end - 1]))
		end--;
	s->pos = p < n ? p + s->delim_len : n;
	out->text = t + start;
	out->len = end - start;
	out->line = line_at(s, start);
	return 1;
}

int sqlsplit_each(const char *text, size_t len,
		  int (*fn)(void *ctx, const char *stmt, size_t stmt_len, unsigned line), void *ctx)
{
	struct sqlsplit s;
	struct sqlsplit_stmt st;
	int rc;

	sqlsplit_init(&s, text, len);
	while ((rc = sqlsplit_next(&s, &st)) == 1) {
		rc = fn(ctx, st.text, st.len, st.line);
		if (rc)
			return rc;
	}
	return rc;
}

/*
 * Statement heads: a cursor over one statement that reads a token at a time
 * and never further than asked.
 */
struct lex {
	const char *s;
	size_t n, p;
};

/* Skips whitespace, comments and executable-comment marks up to the next token. */
static void lex_skip(struct lex *l)
{
	const char *s = l->s;
	size_t n = l->n;

	while (l->p < n) {
		size_t p = l->p;

		if (is_space((unsigned char)s[p])) {
			l->p++;
		} else if (s[p] == '#' || at_dash_comment(s, n, p)) {
			l->p = line_end(s, n, p);
		} else if (at_block_comment(s, n, p) && is_exec_comment(s, n, p)) {
			p += s[p + 2] == 'M' ? 4 : 3;
			while (p < n && s[p] >= '0' && s[p] <= '9')
				p++;
			l->p = p;
		} else if (at_block_comment(s, n, p)) {
			if (!skip_block_comment(s, n, &p))
				p = n;
			l->p = p;
		} else if (n - p >= 2 && s[p] == '*' && s[p + 1] == '/') {
			l->p += 2;
		} else {
			return;
		}
	}
}

/* Consumes the upper-case keyword kw when it is the next token (a whole
 * word: "TABLES" is not "TABLE"). Looks at no more than kw's length + 1. */
static bool lex_keyword(struct lex *l, const char *kw)
{
	size_t k = strlen(kw);

	lex_skip(l);
	if (l->n - l->p < k || !keyword_eq(l->s + l->p, kw, k))
		return false;
	if (l->n - l->p > k && is_word((unsigned char)l->s[l->p + k]))
		return false;
	l->p += k;
	return true;
}

static bool lex_any_word(struct lex *l)
{
	size_t p;

	lex_skip(l);
	for (p = l->p; p < l->n && is_word((unsigned char)l->s[p]); p++)
		;
	if (p == l->p)
		return false;
	l->p = p;
	return true;
}

static bool lex_punct(struct lex *l, char c)
{
	lex_skip(l);
	if (l->p >= l->n || l->s[l->p] != c)
		return false;
	l->p++;
	return true;
}

/* Reads a bare or `quoted` identifier into out[SQLSPLIT_NAME_MAX + 1],
 * unquoted; *start is where it begins. Gives up past SQLSPLIT_NAME_MAX
 * bytes, so a stray backtick costs no more than that. */
static bool lex_ident(struct lex *l, char *out, size_t *start)
{
	const char *s = l->s;
	size_t n = l->n, i, o = 0;

	lex_skip(l);
	i = *start = l->p;
	if (i < n && s[i] == '`') {
		for (i++;; i++) {
			if (i >= n)
				return false;
			if (s[i] == '`') {
				if (i + 1 >= n || s[i + 1] != '`')
					break;
				i++;
			}
			if (o == SQLSPLIT_NAME_MAX)
				return false;
			out[o++] = s[i];
		}
		i++;
	} else {
		while (i < n && is_word((unsigned char)s[i])) {
			if (o == SQLSPLIT_NAME_MAX)
				return false;
			out[o++] = s[i++];
		}
	}
	if (o == 0)
		return false;
	out[o] = '\0';
	l->p = i;
	return true;
}

/* Reads name or schema.name. */
static bool lex_name(struct lex *l, struct sqlsplit_name *nm)
{
	size_t part, after_first;

	if (!lex_ident(l, nm->name, &nm->start))
		return false;
	nm->end = after_first = l->p;
	nm->schema[0] = '\0';
	if (!lex_punct(l, '.')) {
		l->p = after_first;
		return true;
	}
	memcpy(nm->schema, nm->name, sizeof(nm->schema));
	if (!lex_ident(l, nm->name, &part))
		return false;
	nm->end = l->p;
	return true;
}

/* One part of an account: `x`, 'x', "x", or a bare word (a bare host may
 * also hold . % -). */
static bool lex_account_part(struct lex *l, bool host)
{
	const char *s = l->s;
	size_t n = l->n, i = l->p;

	if (i >= n)
		return false;
	if (s[i] == '`' || s[i] == '\'' || s[i] == '"') {
		if (!skip_quoted(s, n, &i, true))
			return false;
		/* A doubled quote continues the same name. */
		while (i < n && s[i] == s[l->p])
			if (!skip_quoted(s, n, &i, true))
				return false;
		l->p = i;
		return true;
	}
	while (i < n && (is_word((unsigned char)s[i]) ||
			 (host && (s[i] == '.' || s[i] == '%' || s[i] == '-'))))
		i++;
	if (i == l->p)
		return false;
	l->p = i;
	return true;
}

static bool lex_account(struct lex *l)
{
	size_t after;

	if (lex_keyword(l, "CURRENT_USER") || lex_keyword(l, "CURRENT_ROLE")) {
		after = l->p;
		if (!lex_punct(l, '(') || !lex_punct(l, ')'))
			l->p = after;
		return true;
	}
	if (!lex_account_part(l, false))
		return false;
	after = l->p;
	if (!lex_punct(l, '@')) {
		l->p = after; /* a role has no host */
		return true;
	}
	lex_skip(l);
	return lex_account_part(l, true);
}

static const struct {
	const char *word;
	enum sqlsplit_kind kind;
} create_kinds[] = {
	{ "TABLE", SQLSPLIT_TABLE },
	{ "VIEW", SQLSPLIT_VIEW },
	{ "TRIGGER", SQLSPLIT_TRIGGER },
	{ "FUNCTION", SQLSPLIT_FUNCTION },
	{ "PROCEDURE", SQLSPLIT_PROCEDURE },
	{ "EVENT", SQLSPLIT_EVENT },
	{ "PACKAGE", SQLSPLIT_PACKAGE },
	{ "DATABASE", SQLSPLIT_DATABASE },
	{ "SCHEMA", SQLSPLIT_DATABASE },
	{ "SEQUENCE", SQLSPLIT_SEQUENCE },
};

const char *sqlsplit_kind_name(enum sqlsplit_kind kind)
{
	switch (kind) {
	case SQLSPLIT_TABLE: return "TABLE";
	case SQLSPLIT_VIEW: return "VIEW";
	case SQLSPLIT_TRIGGER: return "TRIGGER";
	case SQLSPLIT_FUNCTION: return "FUNCTION";
	case SQLSPLIT_PROCEDURE: return "PROCEDURE";
	case SQLSPLIT_EVENT: return "EVENT";
	case SQLSPLIT_PACKAGE: return "PACKAGE";
	case SQLSPLIT_PACKAGE_BODY: return "PACKAGE BODY";
	case SQLSPLIT_DATABASE: return "DATABASE";
	case SQLSPLIT_SEQUENCE: return "SEQUENCE";
	case SQLSPLIT_NONE: break;
	}
	return "";
}

/*
 * Reads "CREATE [OR REPLACE] options kind" and leaves l after the kind
 * keyword. The options come in any order, as the server's grammar does not
 * hold every object to the same one.
 */
static bool read_create_head(struct lex *l, enum sqlsplit_kind *kind, struct sqlsplit_definer *definer,
			     bool *has_definer)
{
	*has_definer = false;
	if (!lex_keyword(l, "CREATE"))
		return false;
	if (lex_keyword(l, "OR") && !lex_keyword(l, "REPLACE"))
		return false;
	for (;;) {
		if (lex_keyword(l, "ALGORITHM")) {
			if (!lex_punct(l, '=') || !lex_any_word(l))
				return false;
		} else if (lex_keyword(l, "DEFINER")) {
			definer->start = l->p - strlen("DEFINER");
			if (!lex_punct(l, '='))
				return false;
			lex_skip(l);
			definer->account_start = l->p;
			if (!lex_account(l))
				return false;
			definer->account_end = definer->end = l->p;
			*has_definer = true;
		} else if (lex_keyword(l, "SQL")) {
			if (!lex_keyword(l, "SECURITY") || !lex_any_word(l))
				return false;
		} else if (!lex_keyword(l, "TEMPORARY") && !lex_keyword(l, "AGGREGATE")) {
			break;
		}
	}
	for (size_t i = 0; i < sizeof(create_kinds) / sizeof(create_kinds[0]); i++) {
		if (lex_keyword(l, create_kinds[i].word)) {
			*kind = create_kinds[i].kind;
			if (*kind == SQLSPLIT_PACKAGE && lex_keyword(l, "BODY"))
				*kind = SQLSPLIT_PACKAGE_BODY;
			return true;
		}
	}
	return false;
}

/* Skips "{BEFORE|AFTER} event [OR event ...] ON" after a trigger's name. */
static bool skip_to_trigger_table(struct lex *l)
{
	static const char *const words[] = { "BEFORE", "AFTER", "INSERT", "UPDATE", "DELETE", "OR" };

	for (int steps = 0; steps < 8; steps++) {
		size_t i;

		if (lex_keyword(l, "ON"))
			return steps >= 2;
		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (lex_keyword(l, words[i]))
				break;
		if (i == sizeof(words) / sizeof(words[0]))
			return false;
	}
	return false;
}

static bool read_create_object(const char *stmt, size_t len, struct sqlsplit_object *o)
{
	struct lex l = { stmt, len, 0 };
	struct sqlsplit_definer definer;
	bool has_definer;

	if (!read_create_head(&l, &o->kind, &definer, &has_definer))
		return false;
	if (lex_keyword(&l, "IF") && (!lex_keyword(&l, "NOT") || !lex_keyword(&l, "EXISTS")))
		return false;
	if (!lex_name(&l, &o->name))
		return false;
	if (o->kind == SQLSPLIT_DATABASE && o->name.schema[0])
		return false;
	if (o->kind == SQLSPLIT_TRIGGER)
		return skip_to_trigger_table(&l) && lex_name(&l, &o->table);
	return true;
}

bool sqlsplit_create_object(const char *stmt, size_t len, struct sqlsplit_object *out)
{
	memset(out, 0, sizeof(*out));
	if (read_create_object(stmt, len, out))
		return true;
	memset(out, 0, sizeof(*out));
	return false;
}

bool sqlsplit_find_definer(const char *stmt, size_t len, struct sqlsplit_definer *out)
{
	struct lex l = { stmt, len, 0 };
	enum sqlsplit_kind kind;
	bool has_definer;

	memset(out, 0, sizeof(*out));
	if (read_create_head(&l, &kind, out, &has_definer) && has_definer)
		return true;
	memset(out, 0, sizeof(*out));
	return false;
}

char *sqlsplit_replace_definer(const char *stmt, size_t len, const char *replacement)
{
	struct sqlsplit_definer d;
	size_t rlen = 0, cut = len, resume = len;
	char *out;

	if (sqlsplit_find_definer(stmt, len, &d)) {
		rlen = strlen(replacement);
		cut = d.start;
		resume = d.end;
	}
	if (rlen > SIZE_MAX - len - 1)
		return NULL;
	out = malloc(len - (resume - cut) + rlen + 1);
	if (!out)
		return NULL;
	memcpy(out, stmt, cut);
	memcpy(out + cut, replacement, rlen);
	memcpy(out + cut + rlen, stmt + resume, len - resume);
	out[cut + rlen + len - resume] = '\0';
	return out;
}

bool sqlsplit_insert_target(const char *stmt, size_t len, struct sqlsplit_name *out)
{
	static const char *const options[] = { "LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE" };
	struct lex l = { stmt, len, 0 };

	memset(out, 0, sizeof(*out));
	if (!lex_keyword(&l, "INSERT"))
		return false;
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		lex_keyword(&l, options[i]);
	if (lex_keyword(&l, "INTO") && lex_name(&l, out))
		return true;
	memset(out, 0, sizeof(*out));
	return false;
}

/*
 * Database names: a cursor over the whole statement, one token at a time.
 */
enum ref_tok { REF_END, REF_NAME, REF_DOT, REF_STAR, REF_OPEN, REF_OTHER, REF_BAD };

struct ref_token {
	enum ref_tok kind;
	size_t start, end;
	bool bare; /* REF_NAME: an unquoted word, which may be a keyword */
};

/* From the quote at *p, past the closing one; a doubled quote continues. */
static bool skip_quoted_run(const char *s, size_t n, size_t *p, bool backslash_escapes)
{
	char q = s[*p];

	do {
		if (!skip_quoted(s, n, p, backslash_escapes))
			return false;
	} while (*p < n && s[*p] == q);
	return true;
}

static enum ref_tok ref_next(struct lex *l, bool no_backslash_escapes, struct ref_token *t)
{
	const char *s = l->s;
	size_t n = l->n, p;
	bool digits = true;

	lex_skip(l);
	p = t->start = l->p;
	t->bare = false;
	t->kind = REF_OTHER;
	if (p >= n) {
		t->end = p;
		return t->kind = REF_END;
	}
	switch (s[p]) {
	case '\'':
	case '"':
	case '`':
		if (!skip_quoted_run(s, n, &p, s[p] != '`' && !no_backslash_escapes))
			return t->kind = REF_BAD;
		/* "x" is a name under ANSI_QUOTES; elsewhere a string that no
		 * dot can follow, so reading it as a name loses nothing. */
		if (s[t->start] != '\'')
			t->kind = REF_NAME;
		break;
	case '@':
		/* @var, @@session.var, @`var`: none is a database name. */
		while (p < n && s[p] == '@')
			p++;
		if (p < n && (s[p] == '`' || s[p] == '\'' || s[p] == '"')) {
			if (!skip_quoted_run(s, n, &p, s[p] != '`' && !no_backslash_escapes))
				return t->kind = REF_BAD;
		} else {
			while (p < n && (is_word((unsigned char)s[p]) || s[p] == '.'))
				p++;
		}
		break;
	case '.': p++; t->kind = REF_DOT; break;
	case '*': p++; t->kind = REF_STAR; break;
	case '(': p++; t->kind = REF_OPEN; break;
	default:
		if (!is_word((unsigned char)s[p])) {
			p++;
			break;
		}
		for (; p < n && is_word((unsigned char)s[p]); p++)
			digits = digits && s[p] >= '0' && s[p] <= '9';
		/* A bare number (the 1 of 1.5) is not a name. */
		if (!digits) {
			t->kind = REF_NAME;
			t->bare = true;
		}
		break;
	}
	t->end = l->p = p;
	return t->kind;
}

static bool ref_is_keyword(const struct lex *l, const struct ref_token *t, const char *kw)
{
	size_t k = strlen(kw);

	return t->kind == REF_NAME && t->bare && t->end - t->start == k && keyword_eq(l->s + t->start, kw, k);
}

/* The token after the cursor, without moving past it. */
static enum ref_tok ref_peek(struct lex *l, bool no_backslash_escapes, struct ref_token *t)
{
	size_t at = l->p;
	enum ref_tok k = ref_next(l, no_backslash_escapes, t);

	l->p = at;
	return k;
}

/* Unquoted copy of a name token; false when longer than SQLSPLIT_NAME_MAX. */
static bool ref_name(const char *s, const struct ref_token *t, char *out)
{
	size_t o = 0, i = t->start, end = t->end;

	if (!t->bare) {
		i++;
		end--;
	}
	for (; i < end; i++) {
		if (!t->bare && s[i] == s[t->start] && i + 1 < end)
			i++; /* a doubled quote stands for one */
		if (o == SQLSPLIT_NAME_MAX)
			return false;
		out[o++] = s[i];
	}
	out[o] = '\0';
	return o > 0;
}

int sqlsplit_db_refs(const char *stmt, size_t len, bool no_backslash_escapes,
		     int (*fn)(void *ctx, const struct sqlsplit_ref *ref), void *ctx)
{
	struct lex l = { stmt, len, 0 };
	struct ref_token cur, next, after;
	enum ref_tok prev = REF_OTHER;
	bool first = true, want_db = false;
	int rc;

	while (ref_next(&l, no_backslash_escapes, &cur) != REF_END) {
		struct sqlsplit_ref ref;

		if (cur.kind == REF_BAD)
			return SQLSPLIT_UNTERMINATED;
		memset(&ref, 0, sizeof(ref));
		if (cur.kind == REF_NAME && want_db &&
		    (ref_is_keyword(&l, &cur, "IF") || ref_is_keyword(&l, &cur, "NOT") ||
		     ref_is_keyword(&l, &cur, "EXISTS"))) {
			prev = cur.kind;
			continue;
		}
		if (cur.kind == REF_NAME && prev != REF_DOT) {
			if (want_db) {
				ref.ref_end = cur.end;
			} else if (ref_peek(&l, no_backslash_escapes, &next) == REF_DOT) {
				size_t at = l.p;

				ref_next(&l, no_backslash_escapes, &next);
				if (ref_next(&l, no_backslash_escapes, &after) == REF_NAME || after.kind == REF_STAR) {
					ref.qualifier = true;
					ref.ref_end = after.end;
				}
				l.p = at;
			}
			if (ref.ref_end && ref_name(stmt, &cur, ref.name)) {
				ref.start = cur.start;
				ref.end = cur.end;
				if ((rc = fn(ctx, &ref)) != 0)
					return rc;
			}
		}
		want_db = (first && ref_is_keyword(&l, &cur, "USE")) ||
			  ((ref_is_keyword(&l, &cur, "DATABASE") || ref_is_keyword(&l, &cur, "SCHEMA")) &&
			   ref_peek(&l, no_backslash_escapes, &next) != REF_OPEN);
		prev = cur.kind;
		first = false;
	}
	return 0;
}
