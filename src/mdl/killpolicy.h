/* Kill policies for `ddl --kill-blockers`: which root blockers of a waiting
 * schema change the user allows mdlsafe to kill. Pure; reads no server. */
#ifndef MDLSAFE_MDL_KILLPOLICY_H
#define MDLSAFE_MDL_KILLPOLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "mdl/snapshot.h"
#include "util/error.h"

/* One --kill-blockers value: terms joined by ',', ALL of which must match.
 * Whitespace around terms (and around the operator) is ignored.
 *
 *   idle>DURATION  idle in a transaction for at least DURATION: a transaction
 *                  is open, the command is Sleep (any case), and time_s >=
 *                  DURATION. A Sleep session without a transaction, or one
 *                  running a statement inside a transaction, is not idle.
 *   trx>DURATION   a transaction has been open for at least DURATION
 *                  (trx_age_s >= DURATION).
 *   user=NAME      the user name, exactly and case-sensitively; NAME may be
 *                  an fnmatch glob ("report*").
 *   host=PATTERN   fnmatch glob, case-insensitive, on the client host with
 *                  the trailing ":port" dropped ("10.0.0.5:51234" is matched
 *                  as "10.0.0.5"; "localhost" as is).
 *   any            every session: an explicit opt-in to kill any root blocker.
 *
 * '>' reads "at least" (idle>30s matches a session idle exactly 30 s);
 * ">=" is accepted as the same thing. DURATION is a whole or decimal number
 * with an optional unit s, m or h (30s, 2m, 1.5h; a bare number is seconds),
 * kept to the millisecond. Keywords are case-insensitive. A NAME or PATTERN
 * cannot contain ','.
 *
 * Hard safety rule, whatever the policy says (even "any"): a session never
 * matches when it is mdlsafe's own (is_mdlsafe: it holds its session lock,
 * see DB_SESSION_LOCK; a statement comment proves nothing), may be (the
 * server cannot mark sessions: owner_unknown), is a server or replication
 * thread (is_system), or its user is "system user", "event_scheduler", or
 * empty/unknown. */
struct kill_policy;

/* Parses one --kill-blockers value into a new policy (*out, freed with
 * kill_policy_free). On a bad value returns -1 with MS_USAGE and a one-line
 * message naming the term and the valid forms, e.g.
 * "--kill-blockers 'idle>3x': bad duration '3x' (use e.g. 30s, 2m, 1h)";
 * *out is then NULL. MS_INTERNAL when out of memory. */
int kill_policy_parse(const char *text, struct kill_policy **out, struct ms_err *e);

/* True when the session passes the safety rule and every term of p. When it
 * does not and why_not is non-NULL, *why_not says why in a few words for a
 * log line ("no open transaction", "user does not match 'reporting'",
 * "mdlsafe's own session"); the string is static or owned by p, so it stays
 * valid while p lives. *why_not is NULL on a match. */
bool kill_policy_matches(const struct kill_policy *p, const struct mdl_session *s, const char **why_not);

/* The policy in canonical words, terms joined by ", ", e.g.
 * "idle in transaction >= 30 s, user = reporting". Caller frees; NULL when
 * out of memory. */
char *kill_policy_describe(const struct kill_policy *p);

void kill_policy_free(struct kill_policy *p);

/* All --kill-blockers options of a run: a session may be killed when ANY of
 * them matches. Zero-initialize; owns the policies in v. */
struct kill_policies {
	struct kill_policy **v;
	size_t n;
};

/* Parses text (as kill_policy_parse) and appends it. Returns -1 with e filled
 * on a bad value or out of memory, leaving ps as it was. */
int kill_policies_add(struct kill_policies *ps, const char *text, struct ms_err *e);

/* True when the session may be killed: it is not one of protected_ids (our
 * own connections; n_protected may be 0), passes the hard safety rule, and
 * at least one policy matches. No policy at all (n == 0) matches nothing:
 * without --kill-blockers nothing is killed. */
bool kill_policies_match(const struct kill_policies *ps, const struct mdl_session *s,
			 const unsigned long long *protected_ids, size_t n_protected);

/* Frees every policy and leaves ps empty and reusable. */
void kill_policies_release(struct kill_policies *ps);

#endif
