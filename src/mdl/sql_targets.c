/* Small hand-written SQL reader: tokenizes one statement from PROCESSLIST.INFO
 * and finds its target tables plus the metadata lock requested on each. */

#include "mdl/sql_targets.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Past this many distinct tables the rest are dropped: duplicate detection
 * is a linear search, and no real statement we care about comes close. */
#define SQL_TARGETS_MAX_TABLES 4096

/* Paren nesting tracked in detail by scan_tables(); deeper levels are still
 * counted but never yield tables. */
#define SCAN_MAX_DEPTH 64

#define NO_TOKEN SIZE_MAX

enum tok_kind {
	TOK_WORD,     /* unquoted identifier, keyword or number */
	TOK_BACKTICK, /* `quoted identifier` */
	TOK_STRING,   /* 'string' or "string" (see .quote) */
	TOK_PUNCT,    /* any other single byte */
};

struct token {
	enum tok_kind kind;
	char quote;       /* opening quote of TOK_BACKTICK / TOK_STRING */
	const char *text; /* points into the statement; inside the quotes */
	size_t len;
};

struct token_list {
	struct token *v;
	size_t n, cap;
};

struct parser {
	const struct token *tok;
	size_t n;
	size_t *close;  /* close[i]: matching ')' of the '(' at i, or n */
	char **ctes;    /* WITH names: look like tables but are not */
	size_t n_ctes, cap_ctes;
	struct sql_targets *out;
	bool oom;
};

/* ---- tokenizer ---------------------------------------------------------- */

/* ASCII-only on purpose: the server's keywords and these rules are ASCII,
 * and <ctype.h> would depend on the locale and on char signedness. */
static bool char_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}

static bool char_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Bytes >= 0x80 count as identifier characters, as in the server. */
static bool char_is_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       char_is_digit(c) || c == '_' || c == '$' || c >= 0x80;
}

static char char_upper(char c)
{
	return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

static int tokens_push(struct token_list *tl, enum tok_kind kind, char quote,
		       const char *text, size_t len)
{
	if (tl->n == tl->cap) {
		size_t cap = tl->cap ? tl->cap * 2 : 32;
		struct token *v;

		if (cap > SIZE_MAX / sizeof(*v))
			return -1;
		v = realloc(tl->v, cap * sizeof(*v));
		if (!v)
			return -1;
		tl->v = v;
		tl->cap = cap;
	}
	tl->v[tl->n++] = (struct token){ kind, quote, text, len };
	return 0;
}

/* Returns the closing quote of a quoted token whose body starts at s, or
 * NULL when the text ends first (PROCESSLIST.INFO may be cut short).
 * Backslash escapes apply to strings only, never to `identifiers`. */
static const char *quote_find_end(const char *s, char q)
{
	while (*s) {
		if (*s == '\\' && q != '`') {
			if (s[1] == '\0')
				return NULL;
			s += 2;
			continue;
		}
		if (*s == q) {
			if (s[1] != q)
				return s;
			s += 2; /* doubled quote stands for one */
			continue;
		}
		s++;
	}
	return NULL;
}

/* Splits sql into tokens up to the first ';' (later statements of a
 * multi-statement string do not matter). Comments disappear, except that
 * the body of an executable comment (slash-star-bang) is read as SQL:
 * mysqldump hides real keywords there. An unterminated string or comment
 * ends the token stream. Returns -1 only on allocation failure. */
static int tokenize(const char *sql, struct token_list *tl)
{
	const char *s = sql;
	bool in_exec_comment = false;

	while (*s) {
		unsigned char c = (unsigned char)*s;

		if (char_is_space(c)) {
			s++;
			continue;
		}
		/* "--" opens a comment only when followed by a space or a
		 * control character; "a--1" is arithmetic. */
		if (c == '#' ||
		    (c == '-' && s[1] == '-' && (unsigned char)s[2] <= ' ')) {
			while (*s && *s != '\n')
				s++;
			continue;
		}
		if (c == '/' && s[1] == '*') {
			if (s[2] == '!' || (s[2] == 'M' && s[3] == '!')) {
				s += s[2] == '!' ? 3 : 4;
				/* version number: we read every version */
				while (char_is_digit((unsigned char)*s))
					s++;
				in_exec_comment = true;
				continue;
			}
			s = strstr(s + 2, "*/");
			if (!s)
				break;
			s += 2;
			continue;
		}
		if (in_exec_comment && c == '*' && s[1] == '/') {
			in_exec_comment = false;
			s += 2;
			continue;
		}
		if (c == ';')
			break;
		if (c == '\'' || c == '"' || c == '`') {
			const char *end = quote_find_end(s + 1, (char)c);

			if (!end)
				break;
			if (tokens_push(tl, c == '`' ? TOK_BACKTICK : TOK_STRING,
					(char)c, s + 1, (size_t)(end - s - 1)))
				return -1;
			s = end + 1;
			continue;
		}
		if (char_is_word(c)) {
			const char *start = s;

			while (char_is_word((unsigned char)*s))
				s++;
			if (tokens_push(tl, TOK_WORD, 0, start,
					(size_t)(s - start)))
				return -1;
			continue;
		}
		if (tokens_push(tl, TOK_PUNCT, 0, s, 1))
			return -1;
		s++;
	}
	return 0;
}

/* ---- token helpers ------------------------------------------------------ */

/* kw must be upper case. Only unquoted words are keywords: `select` is a
 * table name. */
static bool tok_is_kw(const struct parser *p, size_t i, const char *kw)
{
	const struct token *t;
	size_t len = strlen(kw);

	if (i >= p->n || p->tok[i].kind != TOK_WORD)
		return false;
	t = &p->tok[i];
	if (t->len != len)
		return false;
	for (size_t k = 0; k < len; k++)
		if (char_upper(t->text[k]) != kw[k])
			return false;
	return true;
}

static bool tok_is_punct(const struct parser *p, size_t i, char c)
{
	return i < p->n && p->tok[i].kind == TOK_PUNCT && p->tok[i].text[0] == c;
}

/* A "string" is accepted as an identifier too, for sql_mode=ANSI_QUOTES. */
static bool tok_is_ident(const struct parser *p, size_t i)
{
	if (i >= p->n)
		return false;
	return p->tok[i].kind == TOK_WORD || p->tok[i].kind == TOK_BACKTICK ||
	       (p->tok[i].kind == TOK_STRING && p->tok[i].quote == '"');
}

/* Copies token i without its quotes and with escapes resolved. */
static char *tok_dup(struct parser *p, size_t i)
{
	const struct token *t = &p->tok[i];
	char *s = malloc(t->len + 1);
	size_t o = 0;

	if (!s) {
		p->oom = true;
		return NULL;
	}
	for (size_t k = 0; k < t->len; k++) {
		char c = t->text[k];

		if (t->kind != TOK_WORD && k + 1 < t->len) {
			if (c == t->quote && t->text[k + 1] == t->quote)
				k++;
			else if (c == '\\' && t->kind == TOK_STRING)
				c = t->text[++k];
		}
		s[o++] = c;
	}
	s[o] = '\0';
	return s;
}

/* Index just past the ')' matching the '(' at i (or the end). */
static size_t skip_parens(const struct parser *p, size_t i)
{
	return p->close[i] < p->n ? p->close[i] + 1 : p->n;
}

/* First keyword kw at or after i outside any parentheses, or NO_TOKEN. */
static size_t find_kw(const struct parser *p, size_t i, const char *kw)
{
	while (i < p->n) {
		if (tok_is_punct(p, i, '(')) {
			i = skip_parens(p, i);
			continue;
		}
		if (tok_is_kw(p, i, kw))
			return i;
		i++;
	}
	return NO_TOKEN;
}

/* Skips "IF EXISTS" / "IF NOT EXISTS" at i, or what is left of it when the
 * text was cut short: IF is reserved, so it can never be a bare name. */
static size_t skip_if_exists(const struct parser *p, size_t i)
{
	if (!tok_is_kw(p, i, "IF"))
		return i;
	i++;
	if (tok_is_kw(p, i, "NOT"))
		i++;
	if (tok_is_kw(p, i, "EXISTS"))
		i++;
	return i;
}

/* Reads [schema.]name at i; *schema is NO_TOKEN when unqualified and *name
 * is NO_TOKEN when there is no identifier at all. Returns the next index. */
static size_t parse_name(const struct parser *p, size_t i, size_t *schema,
			 size_t *name)
{
	*schema = NO_TOKEN;
	*name = NO_TOKEN;
	if (!tok_is_ident(p, i))
		return i;
	if (tok_is_punct(p, i + 1, '.') && tok_is_ident(p, i + 2)) {
		*schema = i;
		*name = i + 2;
		return i + 3;
	}
	*name = i;
	return i + 1;
}

/* ---- result building ---------------------------------------------------- */

static bool name_is_cte(const struct parser *p, const char *name)
{
	for (size_t k = 0; k < p->n_ctes; k++)
		if (strcmp(p->ctes[k], name) == 0)
			return true;
	return false;
}

static bool same_schema(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Records a table; a table already seen keeps the stronger of the two
 * locks (the enum is ordered weakest to strongest). */
static void add_table(struct parser *p, size_t schema_i, size_t name_i,
		      enum mdl_type lock)
{
	struct sql_targets *out = p->out;
	char *schema = NULL, *name = NULL;

	if (name_i == NO_TOKEN || p->oom)
		return;
	name = tok_dup(p, name_i);
	if (schema_i != NO_TOKEN)
		schema = tok_dup(p, schema_i);
	if (p->oom || name[0] == '\0')
		goto drop;
	if (!schema && name_is_cte(p, name))
		goto drop;
	for (size_t k = 0; k < out->n_tables; k++) {
		struct sql_table_ref *t = &out->tables[k];

		if (same_schema(t->schema, schema) && strcmp(t->name, name) == 0) {
			if (lock > t->lock)
				t->lock = lock;
			goto drop;
		}
	}
	if (out->n_tables >= SQL_TARGETS_MAX_TABLES)
		goto drop;
	{
		struct sql_table_ref *v = realloc(out->tables,
			(out->n_tables + 1) * sizeof(*v));

		if (!v) {
			p->oom = true;
			goto drop;
		}
		out->tables = v;
		v[out->n_tables++] = (struct sql_table_ref){ schema, name, lock };
	}
	return;
drop:
	free(schema);
	free(name);
}

/* Reads "[schema.]name [, ...]" at i, adding each with `lock`. */
static size_t add_table_list(struct parser *p, size_t i, enum mdl_type lock)
{
	for (;;) {
		size_t schema, name;

		i = parse_name(p, i, &schema, &name);
		if (name == NO_TOKEN)
			return i;
		add_table(p, schema, name, lock);
		if (!tok_is_punct(p, i, ','))
			return i;
		i++;
	}
}

static void add_cte(struct parser *p, size_t name_i)
{
	char *name;

	if (p->n_ctes == p->cap_ctes) {
		size_t cap = p->cap_ctes ? p->cap_ctes * 2 : 8;
		char **v = realloc(p->ctes, cap * sizeof(*v));

		if (!v) {
			p->oom = true;
			return;
		}
		p->ctes = v;
		p->cap_ctes = cap;
	}
	name = tok_dup(p, name_i);
	if (name)
		p->ctes[p->n_ctes++] = name;
}

/* ---- table scanning for queries ----------------------------------------- */

/* Keywords that close a FROM / JOIN / UPDATE table list. */
static bool tok_ends_table_list(const struct parser *p, size_t i)
{
	static const char *const enders[] = {
		"WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "UNION", "EXCEPT",
		"INTERSECT", "MINUS", "LOCK", "INTO", "WINDOW", "PROCEDURE",
		"RETURNING", "DUPLICATE", "SET", "VALUES", "VALUE", "SELECT",
		"OFFSET", "FETCH",
	};

	for (size_t k = 0; k < sizeof(enders) / sizeof(enders[0]); k++)
		if (tok_is_kw(p, i, enders[k]))
			return true;
	/* FOR UPDATE ends it, but not FOR SYSTEM_TIME (a temporal table
	 * clause) nor an index hint's FOR JOIN / ORDER BY / GROUP BY. */
	return tok_is_kw(p, i, "FOR") && !tok_is_kw(p, i + 1, "SYSTEM_TIME") &&
	       !tok_is_kw(p, i + 1, "JOIN") && !tok_is_kw(p, i + 1, "ORDER") &&
	       !tok_is_kw(p, i + 1, "GROUP");
}

/* DELETE FROM t USING t JOIN u; JOIN ... USING (col) is a column list. */
static bool tok_is_delete_using(const struct parser *p, size_t i)
{
	return tok_is_kw(p, i, "USING") && !tok_is_punct(p, i + 1, '(');
}

static bool tok_starts_table_list(const struct parser *p, size_t i)
{
	/* an index hint's FOR JOIN (i1) names indexes, not tables */
	if (tok_is_kw(p, i, "JOIN"))
		return i == 0 || !tok_is_kw(p, i - 1, "FOR");
	return tok_is_kw(p, i, "FROM") || tok_is_kw(p, i, "STRAIGHT_JOIN") ||
	       tok_is_delete_using(p, i);
}

static bool tok_starts_subquery(const struct parser *p, size_t i)
{
	return tok_is_kw(p, i, "SELECT") || tok_is_kw(p, i, "WITH") ||
	       tok_is_kw(p, i, "VALUES");
}

struct scan_level {
	bool query;   /* FROM here belongs to a query, not to EXTRACT(x FROM y) */
	bool in_list; /* inside a table list: ',' announces another table */
	bool expect;  /* the next identifier is a table name */
};

/* Collects the tables of FROM / JOIN lists in tokens [from, to): those at
 * paren depth top_depth get top_lock, the ones in subqueries other_lock.
 * A table name is only taken right after FROM, JOIN, USING or a list comma,
 * which keeps aliases, columns and index hints out without parsing them.
 * start_in_list: the range starts with a table list (UPDATE t1, t2 SET). */
static void scan_tables(struct parser *p, size_t from, size_t to,
			size_t top_depth, enum mdl_type top_lock,
			enum mdl_type other_lock, bool start_in_list)
{
	struct scan_level lv[SCAN_MAX_DEPTH];
	size_t depth = 0;

	lv[0] = (struct scan_level){ true, start_in_list, start_in_list };
	for (size_t i = from; i < to && !p->oom; i++) {
		struct scan_level *l = depth < SCAN_MAX_DEPTH ? &lv[depth] : NULL;
		bool expect = l && l->expect;

		if (tok_is_punct(p, i, '(')) {
			/* A paren where a table is expected is a derived
			 * table or a parenthesised join; otherwise only a
			 * paren opening a subquery can contain a FROM. */
			depth++;
			if (depth < SCAN_MAX_DEPTH)
				lv[depth] = (struct scan_level){
					expect || tok_starts_subquery(p, i + 1),
					expect, expect };
			if (l)
				l->expect = false;
			continue;
		}
		if (tok_is_punct(p, i, ')')) {
			if (depth > 0)
				depth--;
			continue;
		}
		if (!l || !l->query)
			continue;
		if (tok_is_punct(p, i, ',')) {
			l->expect = l->in_list;
			continue;
		}
		if (tok_starts_table_list(p, i)) {
			l->in_list = l->expect = true;
			continue;
		}
		if (tok_ends_table_list(p, i)) {
			l->in_list = l->expect = false;
			continue;
		}
		l->expect = false;
		if (expect && tok_is_ident(p, i)) {
			size_t schema, name;
			size_t next = parse_name(p, i, &schema, &name);

			/* FROM DUAL and table functions like JSON_TABLE(...) */
			if (tok_is_punct(p, next, '(') ||
			    (schema == NO_TOKEN && tok_is_kw(p, name, "DUAL")))
				continue;
			add_table(p, schema, name,
				  depth == top_depth ? top_lock : other_lock);
			i = next - 1;
		}
	}
}

/* ---- statements --------------------------------------------------------- */

/* Reads "[RECURSIVE] name [(cols)] AS (...) [, ...]" at i (just after
 * WITH). Returns the index of the statement body, or NO_TOKEN when this is
 * not a CTE list (WITH ROLLUP, WITH READ LOCK, ...). Records the names when
 * `record` is set. */
static size_t cte_list_end(struct parser *p, size_t i, bool record)
{
	if (tok_is_kw(p, i, "RECURSIVE"))
		i++;
	for (;;) {
		size_t name = i;

		if (!tok_is_ident(p, i))
			return NO_TOKEN;
		i++;
		if (tok_is_punct(p, i, '('))
			i = skip_parens(p, i);
		if (!tok_is_kw(p, i, "AS") || !tok_is_punct(p, i + 1, '('))
			return NO_TOKEN;
		if (record)
			add_cte(p, name);
		i = skip_parens(p, i + 1);
		if (!tok_is_punct(p, i, ','))
			return i;
		i++;
	}
}

/* SELECT, WITH ... SELECT and (SELECT ...) UNION (...); tokens from start,
 * the first SELECT (or its opening parens) at body. */
static int parse_select(struct parser *p, size_t start, size_t body)
{
	size_t top = 0, depth = 0;
	bool for_update = false;

	p->out->kind = SQL_STMT_SELECT;
	while (tok_is_punct(p, body, '(')) {
		body++;
		top++;
	}
	/* FOR UPDATE upgrades only the tables of the query it ends, not
	 * those of its subqueries: the server does the same. */
	for (size_t i = start; i < p->n; i++) {
		if (tok_is_punct(p, i, '('))
			depth++;
		else if (tok_is_punct(p, i, ')') && depth > 0)
			depth--;
		else if (depth == top && tok_is_kw(p, i, "FOR") &&
			 tok_is_kw(p, i + 1, "UPDATE"))
			for_update = true;
	}
	scan_tables(p, start, p->n, top,
		    for_update ? MDL_TYPE_SHARED_WRITE : MDL_TYPE_SHARED_READ,
		    MDL_TYPE_SHARED_READ, false);
	return 0;
}

/* INSERT / REPLACE [LOW_PRIORITY|DELAYED|HIGH_PRIORITY] [IGNORE] [INTO] t */
static int parse_insert(struct parser *p, size_t i, enum sql_stmt_kind kind)
{
	enum mdl_type lock = MDL_TYPE_SHARED_WRITE;
	size_t schema, name;

	p->out->kind = kind;
	for (;; i++) {
		if (tok_is_kw(p, i, "LOW_PRIORITY"))
			lock = MDL_TYPE_SHARED_WRITE_LOW_PRIO;
		else if (!tok_is_kw(p, i, "DELAYED") &&
			 !tok_is_kw(p, i, "HIGH_PRIORITY") &&
			 !tok_is_kw(p, i, "IGNORE"))
			break;
	}
	if (tok_is_kw(p, i, "INTO"))
		i++;
	i = parse_name(p, i, &schema, &name);
	add_table(p, schema, name, lock);
	/* INSERT ... SELECT reads its sources */
	scan_tables(p, i, p->n, 0, MDL_TYPE_SHARED_READ, MDL_TYPE_SHARED_READ,
		    false);
	return 0;
}

/* The server maps LOW_PRIORITY writes to their own lock type for every DML
 * statement, not only INSERT. */
static size_t skip_dml_modifiers(const struct parser *p, size_t i,
				 enum mdl_type *lock)
{
	*lock = MDL_TYPE_SHARED_WRITE;
	for (;; i++) {
		if (tok_is_kw(p, i, "LOW_PRIORITY"))
			*lock = MDL_TYPE_SHARED_WRITE_LOW_PRIO;
		else if (!tok_is_kw(p, i, "IGNORE") && !tok_is_kw(p, i, "QUICK"))
			return i;
	}
}

static int parse_update(struct parser *p, size_t i)
{
	enum mdl_type lock;

	p->out->kind = SQL_STMT_UPDATE;
	i = skip_dml_modifiers(p, i, &lock);
	scan_tables(p, i, p->n, 0, lock, MDL_TYPE_SHARED_READ, true);
	return 0;
}

/* DELETE ... FROM t, and the multi-table forms "DELETE t1 FROM t1 JOIN t2"
 * and "DELETE FROM t1 USING t1 JOIN t2". The names before FROM (or between
 * FROM and USING) only repeat or alias tables of the join that follows, so
 * scanning starts at the last of FROM / USING. */
static int parse_delete(struct parser *p, size_t i)
{
	enum mdl_type lock;
	size_t using;

	p->out->kind = SQL_STMT_DELETE;
	i = skip_dml_modifiers(p, i, &lock);
	i = find_kw(p, i, "FROM");
	if (i == NO_TOKEN)
		return 0;
	for (using = i + 1; using < p->n; using++) {
		if (tok_is_punct(p, using, '(')) {
			using = skip_parens(p, using) - 1;
			continue;
		}
		if (tok_is_delete_using(p, using)) {
			i = using;
			break;
		}
	}
	scan_tables(p, i, p->n, 0, lock, MDL_TYPE_SHARED_READ, false);
	return 0;
}

/* ALTER TABLE waits for SU at its start and X at its end; X is the one that
 * blocks everybody, so that is what we report. Other tables an ALTER
 * touches: RENAME [TO|AS] new, EXCHANGE PARTITION p WITH TABLE t2,
 * CONVERT PARTITION p TO TABLE t2, CONVERT TABLE t2 TO PARTITION p. */
static int parse_alter_table(struct parser *p, size_t i)
{
	size_t schema, name;

	p->out->kind = SQL_STMT_ALTER_TABLE;
	i = skip_if_exists(p, i);
	i = parse_name(p, i, &schema, &name);
	add_table(p, schema, name, MDL_TYPE_EXCLUSIVE);
	while (i < p->n) {
		size_t j = i + 1;

		if (tok_is_punct(p, i, '(')) {
			i = skip_parens(p, i);
			continue;
		}
		if (tok_is_kw(p, i, "RENAME")) {
			if (tok_is_kw(p, j, "COLUMN") || tok_is_kw(p, j, "INDEX") ||
			    tok_is_kw(p, j, "KEY") || tok_is_kw(p, j, "CONSTRAINT")) {
				i = j;
				continue;
			}
			if (tok_is_kw(p, j, "TO") || tok_is_kw(p, j, "AS") ||
			    tok_is_punct(p, j, '='))
				j++;
		} else if (!tok_is_kw(p, i, "TABLE")) {
			i++;
			continue;
		}
		i = parse_name(p, j, &schema, &name);
		add_table(p, schema, name, MDL_TYPE_EXCLUSIVE);
		if (i == j)
			i++;
	}
	return 0;
}

static int parse_alter(struct parser *p, size_t i)
{
	while (tok_is_kw(p, i, "ONLINE") || tok_is_kw(p, i, "OFFLINE") ||
	       tok_is_kw(p, i, "IGNORE"))
		i++;
	if (tok_is_kw(p, i, "TABLE"))
		return parse_alter_table(p, i + 1);
	p->out->kind = SQL_STMT_OTHER_DDL;
	return 0;
}

/* CREATE INDEX, DROP INDEX and CREATE TRIGGER all name their table after
 * the first ON. */
static void add_table_after_on(struct parser *p, size_t i)
{
	size_t schema, name;

	i = find_kw(p, i, "ON");
	if (i == NO_TOKEN)
		return;
	parse_name(p, i + 1, &schema, &name);
	add_table(p, schema, name, MDL_TYPE_EXCLUSIVE);
}

/* CREATE [OR REPLACE] [TEMPORARY] TABLE [IF NOT EXISTS] t
 *   { LIKE s | (LIKE s) | [(...)] [options] [AS] SELECT ... } */
static int parse_create_table(struct parser *p, size_t i)
{
	size_t schema, name;

	p->out->kind = SQL_STMT_CREATE_TABLE;
	i = skip_if_exists(p, i);
	i = parse_name(p, i, &schema, &name);
	add_table(p, schema, name, MDL_TYPE_EXCLUSIVE);
	if (tok_is_punct(p, i, '(') && tok_is_kw(p, i + 1, "LIKE"))
		i++;
	if (tok_is_kw(p, i, "LIKE")) {
		parse_name(p, i + 1, &schema, &name);
		add_table(p, schema, name, MDL_TYPE_SHARED_READ);
		return 0;
	}
	scan_tables(p, i, p->n, 0, MDL_TYPE_SHARED_READ, MDL_TYPE_SHARED_READ,
		    false);
	return 0;
}

/* Object words after CREATE that we do not analyse any further. */
static bool tok_is_other_object(const struct parser *p, size_t i)
{
	static const char *const objects[] = {
		"VIEW", "DATABASE", "SCHEMA", "PROCEDURE", "FUNCTION", "EVENT",
		"SEQUENCE", "USER", "ROLE", "SERVER", "TABLESPACE", "PACKAGE",
		"LOGFILE",
	};

	for (size_t k = 0; k < sizeof(objects) / sizeof(objects[0]); k++)
		if (tok_is_kw(p, i, objects[k]))
			return true;
	return false;
}

/* Everything between CREATE and the object word is modifiers (OR REPLACE,
 * UNIQUE, TEMPORARY, DEFINER = `u`@`h`, ALGORITHM = MERGE, ...), so we
 * simply look for the first object word. */
static int parse_create(struct parser *p, size_t i)
{
	for (; i < p->n; i++) {
		if (tok_is_punct(p, i, '(')) {
			i = skip_parens(p, i) - 1; /* CURRENT_USER() */
			continue;
		}
		if (tok_is_kw(p, i, "TABLE"))
			return parse_create_table(p, i + 1);
		if (tok_is_kw(p, i, "INDEX")) {
			p->out->kind = SQL_STMT_CREATE_INDEX;
			add_table_after_on(p, i + 1);
			return 0;
		}
		if (tok_is_kw(p, i, "TRIGGER")) {
			p->out->kind = SQL_STMT_CREATE_TRIGGER;
			add_table_after_on(p, i + 1);
			return 0;
		}
		if (tok_is_other_object(p, i))
			break;
	}
	p->out->kind = SQL_STMT_OTHER_DDL;
	return 0;
}

static int parse_drop(struct parser *p, size_t i)
{
	size_t schema, name;

	if (tok_is_kw(p, i, "PREPARE"))
		return -1; /* DROP PREPARE stmt: not DDL */
	while (tok_is_kw(p, i, "TEMPORARY") || tok_is_kw(p, i, "ONLINE") ||
	       tok_is_kw(p, i, "OFFLINE"))
		i++;
	if (tok_is_kw(p, i, "TABLE") || tok_is_kw(p, i, "TABLES")) {
		p->out->kind = SQL_STMT_DROP_TABLE;
		add_table_list(p, skip_if_exists(p, i + 1), MDL_TYPE_EXCLUSIVE);
	} else if (tok_is_kw(p, i, "INDEX")) {
		p->out->kind = SQL_STMT_DROP_INDEX;
		add_table_after_on(p, i + 1);
	} else if (tok_is_kw(p, i, "TRIGGER")) {
		/* the table is not in the statement: the caller looks it up */
		p->out->kind = SQL_STMT_DROP_TRIGGER;
		parse_name(p, skip_if_exists(p, i + 1), &schema, &name);
		if (schema != NO_TOKEN)
			p->out->trigger_schema = tok_dup(p, schema);
		if (name != NO_TOKEN)
			p->out->trigger_name = tok_dup(p, name);
	} else {
		p->out->kind = SQL_STMT_OTHER_DDL;
	}
	return 0;
}

/* RENAME TABLE[S] [IF EXISTS] a [WAIT n|NOWAIT] TO b [, c TO d] ... */
static int parse_rename(struct parser *p, size_t i)
{
	if (!tok_is_kw(p, i, "TABLE") && !tok_is_kw(p, i, "TABLES"))
		return -1; /* RENAME USER */
	p->out->kind = SQL_STMT_RENAME_TABLE;
	i = skip_if_exists(p, i + 1);
	while (i < p->n) {
		size_t schema, name;

		i = parse_name(p, i, &schema, &name);
		if (name == NO_TOKEN)
			break;
		add_table(p, schema, name, MDL_TYPE_EXCLUSIVE);
		while (i < p->n && !tok_is_kw(p, i, "TO") && !tok_is_punct(p, i, ','))
			i++;
		if (tok_is_kw(p, i, "TO")) {
			i = parse_name(p, i + 1, &schema, &name);
			add_table(p, schema, name, MDL_TYPE_EXCLUSIVE);
			while (i < p->n && !tok_is_punct(p, i, ','))
				i++;
		}
		if (!tok_is_punct(p, i, ','))
			break;
		i++;
	}
	return 0;
}

static int parse_truncate(struct parser *p, size_t i)
{
	size_t schema, name;

	p->out->kind = SQL_STMT_TRUNCATE;
	if (tok_is_kw(p, i, "TABLE"))
		i++;
	parse_name(p, i, &schema, &name);
	add_table(p, schema, name, MDL_TYPE_EXCLUSIVE);
	return 0;
}

static size_t skip_no_binlog(const struct parser *p, size_t i)
{
	if (tok_is_kw(p, i, "NO_WRITE_TO_BINLOG") || tok_is_kw(p, i, "LOCAL"))
		return i + 1;
	return i;
}

/* InnoDB implements OPTIMIZE as a table rebuild, which ends with X. */
static int parse_optimize(struct parser *p, size_t i)
{
	i = skip_no_binlog(p, i);
	if (!tok_is_kw(p, i, "TABLE") && !tok_is_kw(p, i, "TABLES"))
		return -1;
	p->out->kind = SQL_STMT_OPTIMIZE;
	add_table_list(p, i + 1, MDL_TYPE_EXCLUSIVE);
	return 0;
}

/* LOCK TABLE[S] t [[AS] alias] {READ [LOCAL] | [LOW_PRIORITY] WRITE |
 * WRITE CONCURRENT} [, ...]. READ LOCAL (mysqldump writes it as
 * READ followed by an executable-comment LOCAL) still lets others insert. */
static int parse_lock(struct parser *p, size_t i)
{
	if (!tok_is_kw(p, i, "TABLE") && !tok_is_kw(p, i, "TABLES"))
		return -1;
	p->out->kind = SQL_STMT_LOCK_TABLES;
	i++;
	while (i < p->n) {
		size_t schema, name;
		enum mdl_type lock = MDL_TYPE_UNKNOWN;

		i = parse_name(p, i, &schema, &name);
		if (name == NO_TOKEN)
			break;
		for (; i < p->n && !tok_is_punct(p, i, ','); i++) {
			if (tok_is_kw(p, i, "READ"))
				lock = tok_is_kw(p, i + 1, "LOCAL")
					? MDL_TYPE_SHARED_READ
					: MDL_TYPE_SHARED_READ_ONLY;
			else if (tok_is_kw(p, i, "WRITE"))
				lock = tok_is_kw(p, i + 1, "CONCURRENT")
					? MDL_TYPE_SHARED_WRITE
					: MDL_TYPE_SHARED_NO_READ_WRITE;
		}
		add_table(p, schema, name, lock);
		if (!tok_is_punct(p, i, ','))
			break;
		i++;
	}
	return 0;
}

/* FLUSH [NO_WRITE_TO_BINLOG|LOCAL] TABLE[S] [t1, ...] [WITH READ LOCK |
 * FOR EXPORT]. With a list and a lock clause the server takes SNW on each
 * table. A plain "FLUSH TABLES t1" takes no MDL (it waits for the table
 * cache), so its tables are reported with MDL_TYPE_UNKNOWN. */
static int parse_flush(struct parser *p, size_t i)
{
	i = skip_no_binlog(p, i);
	if (!tok_is_kw(p, i, "TABLE") && !tok_is_kw(p, i, "TABLES"))
		return -1;
	p->out->kind = SQL_STMT_FLUSH_TABLES;
	i++;
	if (tok_is_kw(p, i, "WITH") || tok_is_kw(p, i, "FOR"))
		return 0;
	i = add_table_list(p, i, MDL_TYPE_UNKNOWN);
	if ((tok_is_kw(p, i, "WITH") && tok_is_kw(p, i + 1, "READ")) ||
	    (tok_is_kw(p, i, "FOR") && tok_is_kw(p, i + 1, "EXPORT"))) {
		for (size_t k = 0; k < p->out->n_tables; k++)
			p->out->tables[k].lock = MDL_TYPE_SHARED_NO_WRITE;
	}
	return 0;
}

static int parse_statement(struct parser *p, size_t i);

/* WITH cte AS (...) followed by SELECT, or by a DML statement (MySQL 8
 * syntax; harmless to accept). The CTE bodies are read-only. */
static int parse_with(struct parser *p, size_t i)
{
	size_t body = cte_list_end(p, i + 1, false);
	size_t j = body;

	if (body == NO_TOKEN)
		return -1;
	while (tok_is_punct(p, j, '('))
		j++;
	if (tok_is_kw(p, j, "SELECT"))
		return parse_select(p, i, body);
	if (!tok_is_kw(p, body, "INSERT") && !tok_is_kw(p, body, "REPLACE") &&
	    !tok_is_kw(p, body, "UPDATE") && !tok_is_kw(p, body, "DELETE"))
		return -1;
	if (parse_statement(p, body))
		return -1;
	scan_tables(p, i, body, 0, MDL_TYPE_SHARED_READ, MDL_TYPE_SHARED_READ,
		    false);
	return 0;
}

static int parse_statement(struct parser *p, size_t i)
{
	/* SET STATEMENT var=value[, ...] FOR <statement> */
	while (tok_is_kw(p, i, "SET") && tok_is_kw(p, i + 1, "STATEMENT")) {
		i = find_kw(p, i + 2, "FOR");
		if (i == NO_TOKEN)
			return -1;
		i++;
	}
	if (tok_is_punct(p, i, '(')) {
		size_t j = i;

		while (tok_is_punct(p, j, '('))
			j++;
		if (tok_is_kw(p, j, "SELECT") || tok_is_kw(p, j, "WITH"))
			return parse_select(p, i, i);
		return -1;
	}
	if (tok_is_kw(p, i, "SELECT"))
		return parse_select(p, i, i);
	if (tok_is_kw(p, i, "WITH"))
		return parse_with(p, i);
	if (tok_is_kw(p, i, "INSERT"))
		return parse_insert(p, i + 1, SQL_STMT_INSERT);
	if (tok_is_kw(p, i, "REPLACE"))
		return parse_insert(p, i + 1, SQL_STMT_REPLACE);
	if (tok_is_kw(p, i, "UPDATE"))
		return parse_update(p, i + 1);
	if (tok_is_kw(p, i, "DELETE"))
		return parse_delete(p, i + 1);
	if (tok_is_kw(p, i, "ALTER"))
		return parse_alter(p, i + 1);
	if (tok_is_kw(p, i, "CREATE"))
		return parse_create(p, i + 1);
	if (tok_is_kw(p, i, "DROP"))
		return parse_drop(p, i + 1);
	if (tok_is_kw(p, i, "RENAME"))
		return parse_rename(p, i + 1);
	if (tok_is_kw(p, i, "TRUNCATE"))
		return parse_truncate(p, i + 1);
	if (tok_is_kw(p, i, "OPTIMIZE"))
		return parse_optimize(p, i + 1);
	if (tok_is_kw(p, i, "LOCK"))
		return parse_lock(p, i + 1);
	if (tok_is_kw(p, i, "FLUSH"))
		return parse_flush(p, i + 1);
	return -1;
}

/* ---- public API --------------------------------------------------------- */

/* close[i] for every '(' in one pass, so that skipping a parenthesised
 * group is O(1) and hostile input with thousands of '(' stays linear. */
static int match_parens(struct parser *p)
{
	size_t *stack, top = 0;

	p->close = malloc((p->n ? p->n : 1) * sizeof(*p->close));
	stack = malloc((p->n ? p->n : 1) * sizeof(*stack));
	if (!p->close || !stack) {
		free(stack);
		return -1;
	}
	for (size_t i = 0; i < p->n; i++) {
		p->close[i] = p->n;
		if (tok_is_punct(p, i, '('))
			stack[top++] = i;
		else if (tok_is_punct(p, i, ')') && top > 0)
			p->close[stack[--top]] = i;
	}
	free(stack);
	return 0;
}

/* CTE names anywhere (INSERT INTO t WITH c AS (...) SELECT ... FROM c) are
 * collected up front so add_table() can leave them out. */
static void collect_ctes(struct parser *p)
{
	for (size_t i = 0; i < p->n && !p->oom; i++)
		if (tok_is_kw(p, i, "WITH"))
			cte_list_end(p, i + 1, true);
}

static bool kind_is_ddl(enum sql_stmt_kind kind)
{
	switch (kind) {
	case SQL_STMT_ALTER_TABLE:
	case SQL_STMT_CREATE_INDEX:
	case SQL_STMT_DROP_INDEX:
	case SQL_STMT_CREATE_TRIGGER:
	case SQL_STMT_DROP_TRIGGER:
	case SQL_STMT_RENAME_TABLE:
	case SQL_STMT_TRUNCATE:
	case SQL_STMT_OPTIMIZE:
	case SQL_STMT_DROP_TABLE:
	case SQL_STMT_CREATE_TABLE:
	case SQL_STMT_OTHER_DDL:
		return true;
	default:
		return false;
	}
}

int sql_targets_parse(const char *sql, struct sql_targets *out)
{
	struct token_list tl = { NULL, 0, 0 };
	struct parser p;
	int rc = -1;

	if (!out)
		return -1;
	memset(out, 0, sizeof(*out));
	if (!sql)
		return -1;
	if (tokenize(sql, &tl))
		goto out;
	memset(&p, 0, sizeof(p));
	p.tok = tl.v;
	p.n = tl.n;
	p.out = out;
	if (match_parens(&p) == 0) {
		collect_ctes(&p);
		if (!p.oom)
			rc = parse_statement(&p, 0);
	}
	if (p.oom)
		rc = -1;
	for (size_t k = 0; k < p.n_ctes; k++)
		free(p.ctes[k]);
	free(p.ctes);
	free(p.close);
out:
	free(tl.v);
	if (rc != 0) {
		sql_targets_release(out);
		return -1;
	}
	out->is_ddl = kind_is_ddl(out->kind);
	return 0;
}

void sql_targets_release(struct sql_targets *t)
{
	if (!t)
		return;
	for (size_t k = 0; k < t->n_tables; k++) {
		free(t->tables[k].schema);
		free(t->tables[k].name);
	}
	free(t->tables);
	free(t->trigger_schema);
	free(t->trigger_name);
	memset(t, 0, sizeof(*t));
}

const char *sql_stmt_kind_name(enum sql_stmt_kind kind)
{
	switch (kind) {
	case SQL_STMT_SELECT: return "SELECT";
	case SQL_STMT_INSERT: return "INSERT";
	case SQL_STMT_UPDATE: return "UPDATE";
	case SQL_STMT_DELETE: return "DELETE";
	case SQL_STMT_REPLACE: return "REPLACE";
	case SQL_STMT_ALTER_TABLE: return "ALTER TABLE";
	case SQL_STMT_CREATE_INDEX: return "CREATE INDEX";
	case SQL_STMT_DROP_INDEX: return "DROP INDEX";
	case SQL_STMT_CREATE_TRIGGER: return "CREATE TRIGGER";
	case SQL_STMT_DROP_TRIGGER: return "DROP TRIGGER";
	case SQL_STMT_RENAME_TABLE: return "RENAME TABLE";
	case SQL_STMT_TRUNCATE: return "TRUNCATE";
	case SQL_STMT_OPTIMIZE: return "OPTIMIZE";
	case SQL_STMT_DROP_TABLE: return "DROP TABLE";
	case SQL_STMT_CREATE_TABLE: return "CREATE TABLE";
	case SQL_STMT_LOCK_TABLES: return "LOCK TABLES";
	case SQL_STMT_FLUSH_TABLES: return "FLUSH TABLES";
	case SQL_STMT_OTHER_DDL: return "OTHER DDL";
	case SQL_STMT_UNKNOWN: break;
	}
	return "UNKNOWN";
}
