/* Parses and applies --kill-blockers policies; see killpolicy.h for the grammar
 * and the safety rule no policy can override. */
#include "mdl/killpolicy.h"

#include <ctype.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"

#define POLICY_FORMS "idle>DURATION, trx>DURATION, user=NAME, host=PATTERN or any"

enum term_kind { TERM_IDLE, TERM_TRX, TERM_USER, TERM_HOST, TERM_ANY };

struct policy_term {
	enum term_kind kind;
	double seconds; /* idle, trx: the "at least" bound, to the millisecond */
	char *pattern;  /* user, host: fnmatch glob */
	char *why;      /* reason shown when the term's own condition fails */
};

struct kill_policy {
	struct policy_term *terms;
	size_t n;
};

/* How each keyword is written, what it needs after it, and how it reads
 * when it is missing its value. */
static const struct term_syntax {
	const char *key;
	enum term_kind kind;
	const char *form; /* the valid spelling, for messages */
	const char *example;
} term_syntax[] = {
	{ "idle", TERM_IDLE, "idle>DURATION", "idle>30s" },
	{ "trx", TERM_TRX, "trx>DURATION", "trx>2m" },
	{ "user", TERM_USER, "user=NAME", "user=reporting" },
	{ "host", TERM_HOST, "host=PATTERN", "host=10.0.0.*" },
	{ "any", TERM_ANY, "any", "any" },
};

/* Whole or decimal number, optional unit s/m/h, nothing else. Parsed by hand
 * rather than strtod so locale, exponents, hex, signs and "inf" never sneak
 * in. Rounded to the millisecond so 0.1m is exactly 6 s. */
static int parse_duration(const char *s, double *out)
{
	double v = 0, scale = 0.1, mult = 1;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++)
		v = v * 10 + (*p - '0');
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		for (; isdigit((unsigned char)*p); p++, scale /= 10)
			v += (*p - '0') * scale;
	}
	if (*p == 's')
		p++;
	else if (*p == 'm')
		mult = 60, p++;
	else if (*p == 'h')
		mult = 3600, p++;
	if (*p)
		return -1;
	v = round(v * mult * 1000) / 1000;
	if (!isfinite(v))
		return -1;
	*out = v;
	return 0;
}

/* Seconds as the user would write them: "30", "1.5", "0.25". */
static void add_seconds(struct buf *b, double s)
{
	char tmp[64];
	size_t len;

	if (s == floor(s) && s < 1e15) {
		buf_addf(b, "%.0f", s);
		return;
	}
	snprintf(tmp, sizeof(tmp), "%.3f", s);
	len = strlen(tmp);
	while (len > 0 && tmp[len - 1] == '0')
		tmp[--len] = '\0';
	if (len > 0 && tmp[len - 1] == '.')
		tmp[--len] = '\0';
	buf_adds(b, tmp);
}

static void add_term_words(struct buf *b, const struct policy_term *t)
{
	switch (t->kind) {
	case TERM_IDLE:
		buf_adds(b, "idle in transaction >= ");
		add_seconds(b, t->seconds);
		buf_adds(b, " s");
		break;
	case TERM_TRX:
		buf_adds(b, "transaction open >= ");
		add_seconds(b, t->seconds);
		buf_adds(b, " s");
		break;
	case TERM_USER:
		buf_addf(b, "user = %s", t->pattern);
		break;
	case TERM_HOST:
		buf_addf(b, "host = %s", t->pattern);
		break;
	case TERM_ANY:
		buf_adds(b, "any session");
		break;
	}
}

/* The reason a term gives when its own bound or pattern is not met; built
 * once at parse time so matching never allocates. */
static char *term_why(const struct policy_term *t)
{
	struct buf b = BUF_INIT;

	switch (t->kind) {
	case TERM_IDLE:
		buf_adds(&b, "idle for less than ");
		add_seconds(&b, t->seconds);
		buf_adds(&b, " s");
		break;
	case TERM_TRX:
		buf_adds(&b, "transaction open for less than ");
		add_seconds(&b, t->seconds);
		buf_adds(&b, " s");
		break;
	case TERM_USER:
		buf_addf(&b, "user does not match '%s'", t->pattern);
		break;
	case TERM_HOST:
		buf_addf(&b, "host does not match '%s'", t->pattern);
		break;
	case TERM_ANY:
		buf_adds(&b, "never fails");
		break;
	}
	if (b.failed) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b);
}

static const char *skip_space(const char *p, const char *end)
{
	while (p < end && isspace((unsigned char)*p))
		p++;
	return p;
}

/* Parses the term [tb, te) (already trimmed) and appends it to p. `text` is
 * the whole policy, quoted in messages so the user sees which option failed. */
static int parse_term(struct kill_policy *p, const char *text, const char *tb, const char *te, struct ms_err *e)
{
	const struct term_syntax *syn = NULL;
	struct policy_term t = { 0 }, *grown;
	const char *k = tb, *op, *op_end, *val;
	int tlen = (int)(te - tb);
	size_t klen, oplen;
	bool op_ok;
	char *value;

	while (k < te && (isalpha((unsigned char)*k) || *k == '_'))
		k++;
	klen = (size_t)(k - tb);
	op = skip_space(k, te);
	for (op_end = op; op_end < te && *op_end && strchr("<>=!~", *op_end); op_end++)
		;
	oplen = (size_t)(op_end - op);
	val = skip_space(op_end, te);

	for (size_t i = 0; i < sizeof(term_syntax) / sizeof(term_syntax[0]); i++)
		if (klen == strlen(term_syntax[i].key) && !strncasecmp(tb, term_syntax[i].key, klen))
			syn = &term_syntax[i];
	if (!syn)
		return ms_fail(e, MS_USAGE, "--kill-blockers '%.200s': unknown term '%.*s' (use " POLICY_FORMS ")",
			       text, tlen, tb);

	if (syn->kind == TERM_ANY) {
		if (op < te)
			return ms_fail(e, MS_USAGE,
				       "--kill-blockers '%.200s': unexpected value in '%.*s' (write just any)", text,
				       tlen, tb);
	} else if (oplen == 0 && val == te) {
		return ms_fail(e, MS_USAGE, "--kill-blockers '%.200s': '%.*s' needs a value (e.g. %s)", text, tlen, tb,
			       syn->example);
	} else {
		if (syn->kind == TERM_IDLE || syn->kind == TERM_TRX)
			op_ok = (oplen == 1 && *op == '>') || (oplen == 2 && !strncmp(op, ">=", 2));
		else
			op_ok = oplen == 1 && *op == '=';
		if (!op_ok)
			return ms_fail(e, MS_USAGE, "--kill-blockers '%.200s': wrong operator in '%.*s' (use %s%s)",
				       text, tlen, tb, syn->form,
				       syn->kind == TERM_IDLE || syn->kind == TERM_TRX ? "; '>' means at least" : "");
		if (val == te)
			return ms_fail(e, MS_USAGE, "--kill-blockers '%.200s': '%.*s' needs a value (e.g. %s)", text,
				       tlen, tb, syn->example);
	}

	t.kind = syn->kind;
	value = strndup(val, (size_t)(te - val));
	if (!value)
		return ms_fail(e, MS_INTERNAL, "out of memory parsing --kill-blockers");
	if (t.kind == TERM_IDLE || t.kind == TERM_TRX) {
		int bad = parse_duration(value, &t.seconds);

		if (bad) {
			ms_fail(e, MS_USAGE, "--kill-blockers '%.200s': bad duration '%.100s' (use e.g. 30s, 2m, 1h)",
				text, value);
			free(value);
			return -1;
		}
		free(value);
	} else if (t.kind == TERM_USER || t.kind == TERM_HOST) {
		t.pattern = value;
	} else {
		free(value);
	}

	t.why = term_why(&t);
	grown = t.why ? realloc(p->terms, (p->n + 1) * sizeof(*p->terms)) : NULL;
	if (!grown) {
		free(t.why);
		free(t.pattern);
		return ms_fail(e, MS_INTERNAL, "out of memory parsing --kill-blockers");
	}
	p->terms = grown;
	p->terms[p->n++] = t;
	return 0;
}

int kill_policy_parse(const char *text, struct kill_policy **out, struct ms_err *e)
{
	struct kill_policy *p;
	const char *start, *end, *tb, *te;

	*out = NULL;
	if (!text)
		text = "";
	if (*skip_space(text, text + strlen(text)) == '\0')
		return ms_fail(e, MS_USAGE,
			       "--kill-blockers '%.200s': empty policy (use " POLICY_FORMS ", several joined by ',')",
			       text);
	p = calloc(1, sizeof(*p));
	if (!p)
		return ms_fail(e, MS_INTERNAL, "out of memory parsing --kill-blockers");
	for (start = text;; start = end + 1) {
		end = strchr(start, ',');
		if (!end)
			end = start + strlen(start);
		tb = skip_space(start, end);
		for (te = end; te > tb && isspace((unsigned char)te[-1]); te--)
			;
		if (tb == te) {
			kill_policy_free(p);
			return ms_fail(e, MS_USAGE, "--kill-blockers '%.200s': empty term (use " POLICY_FORMS ")",
				       text);
		}
		if (parse_term(p, text, tb, te, e)) {
			kill_policy_free(p);
			return -1;
		}
		if (!*end)
			break;
	}
	*out = p;
	return 0;
}

/* The hard rule: sessions no policy may ever select. NULL when none applies. */
static const char *never_kill_reason(const struct mdl_session *s)
{
	if (s->is_mdlsafe)
		return "mdlsafe's own session";
	if (s->owner_unknown)
		return "the server refuses GET_LOCK, so mdlsafe's own sessions cannot be told apart";
	if (s->is_system)
		return "server or replication thread";
	if (!s->user || !*s->user)
		return "no user name";
	if (!strcmp(s->user, "system user"))
		return "system user";
	if (!strcmp(s->user, "event_scheduler"))
		return "event scheduler";
	return NULL;
}

/* The processlist shows TCP clients as "addr:port"; the port changes with
 * every connection, so patterns are matched against the address alone. */
static bool host_matches(const char *pattern, const char *host)
{
	char tmp[512];
	const char *colon;
	size_t len;

	if (!host)
		return false;
	len = strlen(host);
	colon = strrchr(host, ':');
	if (colon && colon != host && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1))
		len = (size_t)(colon - host);
	if (len >= sizeof(tmp))
		return false; /* no real host is this long; never kill on doubt */
	memcpy(tmp, host, len);
	tmp[len] = '\0';
	return fnmatch(pattern, tmp, FNM_CASEFOLD) == 0;
}

static const char *term_fails(const struct policy_term *t, const struct mdl_session *s)
{
	switch (t->kind) {
	case TERM_IDLE:
		if (!s->has_trx)
			return "no open transaction";
		if (!s->command || strcasecmp(s->command, "Sleep"))
			return "not idle (command is not Sleep)";
		return s->time_s >= t->seconds ? NULL : t->why;
	case TERM_TRX:
		if (!s->has_trx)
			return "no open transaction";
		return s->trx_age_s >= t->seconds ? NULL : t->why;
	case TERM_USER:
		return s->user && fnmatch(t->pattern, s->user, 0) == 0 ? NULL : t->why;
	case TERM_HOST:
		return host_matches(t->pattern, s->host) ? NULL : t->why;
	case TERM_ANY:
		return NULL;
	}
	return "unknown term";
}

bool kill_policy_matches(const struct kill_policy *p, const struct mdl_session *s, const char **why_not)
{
	const char *why = never_kill_reason(s);

	for (size_t i = 0; !why && i < p->n; i++)
		why = term_fails(&p->terms[i], s);
	if (why_not)
		*why_not = why;
	return why == NULL;
}

char *kill_policy_describe(const struct kill_policy *p)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < p->n; i++) {
		if (i)
			buf_adds(&b, ", ");
		add_term_words(&b, &p->terms[i]);
	}
	if (b.failed) {
		buf_release(&b);
		return NULL;
	}
	return b.data ? buf_detach(&b) : strdup("");
}

void kill_policy_free(struct kill_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		free(p->terms[i].pattern);
		free(p->terms[i].why);
	}
	free(p->terms);
	free(p);
}

int kill_policies_add(struct kill_policies *ps, const char *text, struct ms_err *e)
{
	struct kill_policy *p, **grown;

	if (kill_policy_parse(text, &p, e))
		return -1;
	grown = realloc(ps->v, (ps->n + 1) * sizeof(*ps->v));
	if (!grown) {
		kill_policy_free(p);
		return ms_fail(e, MS_INTERNAL, "out of memory parsing --kill-blockers");
	}
	ps->v = grown;
	ps->v[ps->n++] = p;
	return 0;
}

bool kill_policies_match(const struct kill_policies *ps, const struct mdl_session *s,
			 const unsigned long long *protected_ids, size_t n_protected)
{
	if (!ps || ps->n == 0)
		return false;
	for (size_t i = 0; i < n_protected; i++)
		if (protected_ids[i] == s->id)
			return false;
	if (never_kill_reason(s))
		return false;
	for (size_t i = 0; i < ps->n; i++)
		if (kill_policy_matches(ps->v[i], s, NULL))
			return true;
	return false;
}

void kill_policies_release(struct kill_policies *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		kill_policy_free(ps->v[i]);
	free(ps->v);
	ps->v = NULL;
	ps->n = 0;
}
