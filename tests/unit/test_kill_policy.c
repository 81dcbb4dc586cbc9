/* --kill-blockers policies: which blockers of a waiting schema change the user
 * lets mdlsafe kill, and the sessions that stay safe whatever the policy says. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdl/killpolicy.h"

/* An ordinary application session, not in a transaction; tests change what
 * the incident needs. */
static struct mdl_session app_session(void)
{
	struct mdl_session s;

	memset(&s, 0, sizeof(s));
	s.id = 42;
	s.user = "app";
	s.host = "10.0.0.5:51234";
	s.command = "Sleep";
	return s;
}

static struct mdl_session idle_in_trx(const char *user, double idle_s)
{
	struct mdl_session s = app_session();

	s.user = (char *)user;
	s.has_trx = true;
	s.time_s = idle_s;
	s.trx_age_s = idle_s;
	return s;
}

static struct kill_policy *parse_ok(const char *text)
{
	struct kill_policy *p = NULL;
	struct ms_err e = { 0 };

	if (kill_policy_parse(text, &p, &e))
		fail_msg("'%s' did not parse: %s", text, e.msg);
	assert_non_null(p);
	return p;
}

static bool policy_matches(const char *text, const struct mdl_session *s)
{
	struct kill_policy *p = parse_ok(text);
	bool m = kill_policy_matches(p, s, NULL);

	kill_policy_free(p);
	return m;
}

/* Matches and returns why not (copied, so the policy can go). */
static bool policy_matches_why(const char *text, const struct mdl_session *s, char *why, size_t why_size)
{
	struct kill_policy *p = parse_ok(text);
	const char *w = "unset";
	bool m = kill_policy_matches(p, s, &w);

	if (m)
		assert_null(w);
	snprintf(why, why_size, "%s", w ? w : "");
	kill_policy_free(p);
	return m;
}

static void assert_usage_error(const char *text, const char *needle)
{
	struct kill_policy *p = (struct kill_policy *)&p; /* non-NULL: a failed parse must reset it */
	struct ms_err e = { 0 };

	assert_int_equal(kill_policy_parse(text, &p, &e), -1);
	assert_null(p);
	assert_int_equal(e.status, MS_USAGE);
	if (!strstr(e.msg, needle))
		fail_msg("error for '%s' does not mention '%s': %s", text, needle, e.msg);
	assert_null(strchr(e.msg, '\n'));
}

static void assert_describes(const char *text, const char *want)
{
	struct kill_policy *p = parse_ok(text);
	char *got = kill_policy_describe(p);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
	kill_policy_free(p);
}

static void test_idle_matches_from_exactly_the_duration(void **state)
{
	struct mdl_session s = idle_in_trx("app", 30);
	char why[128];

	(void)state;
	assert_true(policy_matches("idle>30s", &s));
	s.time_s = 31;
	assert_true(policy_matches("idle>30s", &s));
	s.time_s = 29.9;
	assert_false(policy_matches_why("idle>30s", &s, why, sizeof(why)));
	assert_string_equal(why, "idle for less than 30 s");
}

static void test_idle_means_sleeping_inside_an_open_transaction(void **state)
{
	struct mdl_session s = app_session();
	char why[128];

	(void)state;
	/* Sleeping for an hour but autocommit: holds no transaction, not "idle in transaction". */
	s.time_s = 3600;
	assert_false(policy_matches_why("idle>30s", &s, why, sizeof(why)));
	assert_string_equal(why, "no open transaction");

	/* A long statement inside a transaction is working, not idle. */
	s = idle_in_trx("app", 600);
	s.command = "Query";
	assert_false(policy_matches_why("idle>30s", &s, why, sizeof(why)));
	assert_string_equal(why, "not idle (command is not Sleep)");

	s.command = "sleep";
	assert_true(policy_matches("idle>30s", &s));
	s.command = NULL;
	assert_false(policy_matches("idle>30s", &s));
}

static void test_trx_matches_from_exactly_the_transaction_age(void **state)
{
	struct mdl_session s = idle_in_trx("app", 5);
	char why[128];

	(void)state;
	s.command = "Query"; /* trx> does not care whether it is idle */
	s.trx_age_s = 120;
	assert_true(policy_matches("trx>120s", &s));
	s.trx_age_s = 119.9;
	assert_false(policy_matches_why("trx>120s", &s, why, sizeof(why)));
	assert_string_equal(why, "transaction open for less than 120 s");

	s.has_trx = false;
	s.trx_age_s = 500;
	assert_false(policy_matches_why("trx>120s", &s, why, sizeof(why)));
	assert_string_equal(why, "no open transaction");
}

static void test_durations_take_s_m_h_decimals_and_bare_seconds(void **state)
{
	struct mdl_session s = idle_in_trx("app", 0);

	(void)state;
	s.time_s = 120;
	assert_true(policy_matches("idle>2m", &s));
	s.time_s = 119.9;
	assert_false(policy_matches("idle>2m", &s));

	s.time_s = 5400;
	assert_true(policy_matches("idle>1.5h", &s));
	s.time_s = 5399.9;
	assert_false(policy_matches("idle>1.5h", &s));

	s.time_s = 45;
	assert_true(policy_matches("idle>45", &s));
	s.time_s = 44.9;
	assert_false(policy_matches("idle>45", &s));

	/* Decimal minutes land on the exact second, not a hair above it. */
	s.time_s = 6;
	assert_true(policy_matches("idle>0.1m", &s));
	s.time_s = 0.5;
	assert_true(policy_matches("idle>0.5s", &s));
	s.time_s = 0.4;
	assert_false(policy_matches("idle>0.5s", &s));

	/* ">=" says the same thing; spacing and keyword case do not matter. */
	s.time_s = 30;
	assert_true(policy_matches("idle>=30s", &s));
	assert_true(policy_matches("  IDLE > 30s  ", &s));
	s.time_s = 29;
	assert_false(policy_matches("idle >= 30s", &s));
}

static void test_user_matches_exactly_or_by_glob(void **state)
{
	struct mdl_session s = app_session();
	char why[128];

	(void)state;
	s.user = "reporting";
	assert_true(policy_matches("user=reporting", &s));
	assert_true(policy_matches("user = reporting", &s));
	assert_true(policy_matches("user=report*", &s));
	s.user = "report_ro";
	assert_true(policy_matches("user=report*", &s));
	assert_false(policy_matches("user=reporting", &s));
	s.user = "reporting2";
	assert_false(policy_matches("user=reporting", &s));
	s.user = "Reporting";
	assert_false(policy_matches("user=reporting", &s));
	s.user = "app";
	assert_false(policy_matches_why("user=report*", &s, why, sizeof(why)));
	assert_string_equal(why, "user does not match 'report*'");
}

static void test_host_pattern_ignores_the_client_port(void **state)
{
	struct mdl_session s = app_session();
	char why[128];

	(void)state;
	s.host = "10.0.0.5:51234";
	assert_true(policy_matches("host=10.0.0.5", &s));
	assert_true(policy_matches("host=10.0.0.*", &s));
	assert_false(policy_matches("host=10.0.0.50", &s));
	/* The port is not part of the host: "*4" must not match via port 51234. */
	assert_false(policy_matches_why("host=*4", &s, why, sizeof(why)));
	assert_string_equal(why, "host does not match '*4'");

	s.host = "10.0.0.50:3306";
	assert_false(policy_matches("host=10.0.0.5", &s));

	s.host = "localhost";
	assert_true(policy_matches("host=localhost", &s));

	s.host = "Batch-01.example.com:40000";
	assert_true(policy_matches("host=batch-*.example.com", &s));

	s.host = "fe80::1:51234";
	assert_true(policy_matches("host=fe80::1", &s));

	s.host = NULL;
	assert_false(policy_matches("host=*", &s));
}

static void test_any_matches_every_ordinary_session(void **state)
{
	struct mdl_session s = app_session();

	(void)state;
	assert_true(policy_matches("any", &s));
	s = idle_in_trx("reporting", 3);
	s.command = "Query";
	assert_true(policy_matches(" any ", &s));
}

static void test_every_term_of_one_policy_must_match(void **state)
{
	struct mdl_session s = idle_in_trx("reporting", 40);
	char why[128];

	(void)state;
	assert_true(policy_matches("idle>30s, user=reporting", &s));
	assert_true(policy_matches("idle>30s,user=reporting,host=10.0.0.*,trx>40", &s));

	s.user = "app";
	assert_false(policy_matches_why("idle>30s, user=reporting", &s, why, sizeof(why)));
	assert_string_equal(why, "user does not match 'reporting'");

	s = idle_in_trx("reporting", 40);
	s.command = "Query";
	assert_false(policy_matches("idle>30s, user=reporting", &s));
	assert_false(policy_matches("user=reporting,trx>41s", &s));
}

static void test_any_one_of_several_policies_is_enough(void **state)
{
	struct kill_policies ps = { 0 };
	struct ms_err e = { 0 };
	struct mdl_session s;

	(void)state;
	assert_int_equal(kill_policies_add(&ps, "user=reporting", &e), 0);
	assert_int_equal(kill_policies_add(&ps, "trx>120s", &e), 0);
	assert_int_equal(ps.n, 2);

	s = app_session();
	s.user = "reporting";
	assert_true(kill_policies_match(&ps, &s, NULL, 0));

	s = idle_in_trx("app", 10);
	s.trx_age_s = 200;
	assert_true(kill_policies_match(&ps, &s, NULL, 0));

	s.trx_age_s = 10;
	assert_false(kill_policies_match(&ps, &s, NULL, 0));
	kill_policies_release(&ps);
	assert_int_equal(ps.n, 0);
	assert_null(ps.v);
}

static void test_without_a_policy_nothing_is_killed(void **state)
{
	struct kill_policies ps = { 0 };
	struct mdl_session s = idle_in_trx("reporting", 86400);

	(void)state;
	assert_false(kill_policies_match(&ps, &s, NULL, 0));
	assert_false(kill_policies_match(NULL, &s, NULL, 0));
	kill_policies_release(&ps);
}

static void assert_spared_by_any(const struct mdl_session *s, const char *want_why)
{
	struct kill_policies ps = { 0 };
	struct ms_err e = { 0 };
	char why[128];

	assert_false(policy_matches_why("any", s, why, sizeof(why)));
	assert_string_equal(why, want_why);
	assert_false(policy_matches("any,idle>0s", s));
	assert_int_equal(kill_policies_add(&ps, "any", &e), 0);
	assert_false(kill_policies_match(&ps, s, NULL, 0));
	kill_policies_release(&ps);
}

static void test_safety_rules_beat_even_any(void **state)
{
	struct mdl_session s;

	(void)state;
	s = idle_in_trx("app", 600);
	s.is_mdlsafe = true;
	assert_spared_by_any(&s, "mdlsafe's own session");

	s = idle_in_trx("app", 600);
	s.owner_unknown = true;
	assert_spared_by_any(&s, "the server refuses GET_LOCK, so mdlsafe's own sessions cannot be told apart");

	s = idle_in_trx("app", 600);
	s.is_system = true;
	assert_spared_by_any(&s, "server or replication thread");

	s = idle_in_trx("system user", 600);
	assert_spared_by_any(&s, "system user");

	s = idle_in_trx("event_scheduler", 600);
	assert_spared_by_any(&s, "event scheduler");

	s = idle_in_trx("", 600);
	assert_spared_by_any(&s, "no user name");

	s = idle_in_trx(NULL, 600);
	assert_spared_by_any(&s, "no user name");
}

/* Only the session lock makes a session mdlsafe's: a statement that starts
 * with mdlsafe's comment is anyone's to write. */
static void test_mdlsafe_comment_in_the_statement_protects_nothing(void **state)
{
	struct mdl_session s = idle_in_trx("app", 600);

	(void)state;
	s.command = "Query";
	s.info = "/* mdlsafe worker-1 */ SELECT SLEEP(600)";
	assert_true(policy_matches("trx>10s", &s));
	assert_true(policy_matches("any", &s));
}

static void test_protected_connection_ids_are_never_killed(void **state)
{
	struct kill_policies ps = { 0 };
	struct ms_err e = { 0 };
	const unsigned long long ours[] = { 7, 42 };
	struct mdl_session s = idle_in_trx("app", 600);

	(void)state;
	assert_int_equal(kill_policies_add(&ps, "any", &e), 0);
	assert_false(kill_policies_match(&ps, &s, ours, 2));
	s.id = 43;
	assert_true(kill_policies_match(&ps, &s, ours, 2));
	assert_true(kill_policies_match(&ps, &s, NULL, 0));
	kill_policies_release(&ps);
}

static void test_bad_policies_are_usage_errors_naming_the_term(void **state)
{
	struct kill_policy *p = NULL;
	struct ms_err e = { 0 };

	(void)state;
	assert_int_equal(kill_policy_parse("idle>3x", &p, &e), -1);
	assert_int_equal(e.status, MS_USAGE);
	assert_string_equal(e.msg, "--kill-blockers 'idle>3x': bad duration '3x' (use e.g. 30s, 2m, 1h)");

	assert_usage_error("", "empty policy");
	assert_usage_error("   ", "empty policy");
	assert_usage_error(NULL, "empty policy");
	assert_usage_error("idle>30s,", "empty term");
	assert_usage_error("idle>30s,,user=x", "empty term");

	assert_usage_error("foo=1", "unknown term 'foo=1'");
	assert_usage_error("foo=1", "idle>DURATION, trx>DURATION, user=NAME, host=PATTERN or any");
	assert_usage_error("idle>30s, usr=reporting", "unknown term 'usr=reporting'");
	assert_usage_error("30s", "unknown term '30s'");

	assert_usage_error("user=", "'user=' needs a value");
	assert_usage_error("host = ", "'host =' needs a value");
	assert_usage_error("idle", "'idle' needs a value");
	assert_usage_error("trx>", "'trx>' needs a value");

	assert_usage_error("idle<30s", "wrong operator in 'idle<30s' (use idle>DURATION");
	assert_usage_error("idle=30s", "'idle=30s'");
	assert_usage_error("trx=>2m", "'trx=>2m'");
	assert_usage_error("idle30s", "'idle30s'");
	assert_usage_error("user==x", "wrong operator in 'user==x' (use user=NAME)");
	assert_usage_error("user!=x", "'user!=x'");
	assert_usage_error("host>x", "'host>x'");
	assert_usage_error("any=1", "unexpected value in 'any=1'");

	assert_usage_error("trx>-5s", "bad duration '-5s'");
	assert_usage_error("trx>1e3", "bad duration '1e3'");
	assert_usage_error("trx>1.s", "bad duration '1.s'");
	assert_usage_error("trx>.5s", "bad duration '.5s'");
	assert_usage_error("trx>30 s", "bad duration '30 s'");
	assert_usage_error("trx>30d", "bad duration '30d'");
	assert_usage_error("trx>0x10", "bad duration '0x10'");
	assert_usage_error("trx>inf", "bad duration 'inf'");
}

static void test_describe_reads_the_policy_back_in_words(void **state)
{
	(void)state;
	assert_describes("idle>30s, user=reporting", "idle in transaction >= 30 s, user = reporting");
	assert_describes(" trx>2m ,host=10.0.0.*,ANY", "transaction open >= 120 s, host = 10.0.0.*, any session");
	assert_describes("idle>1.5s", "idle in transaction >= 1.5 s");
	assert_describes("idle>=0.25m", "idle in transaction >= 15 s");
	assert_describes("trx>1.5h", "transaction open >= 5400 s");
	assert_describes("trx>0.125", "transaction open >= 0.125 s");
	assert_describes("user=report*", "user = report*");
}

static void test_a_bad_policy_leaves_the_set_as_it_was(void **state)
{
	struct kill_policies ps = { 0 };
	struct ms_err e = { 0 };
	struct mdl_session s = idle_in_trx("app", 60);

	(void)state;
	assert_int_equal(kill_policies_add(&ps, "idle>30s", &e), 0);
	assert_int_equal(kill_policies_add(&ps, "idle<30s", &e), -1);
	assert_int_equal(e.status, MS_USAGE);
	assert_int_equal(ps.n, 1);
	assert_true(kill_policies_match(&ps, &s, NULL, 0));
	kill_policies_release(&ps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_matches_from_exactly_the_duration),
		cmocka_unit_test(test_idle_means_sleeping_inside_an_open_transaction),
		cmocka_unit_test(test_trx_matches_from_exactly_the_transaction_age),
		cmocka_unit_test(test_durations_take_s_m_h_decimals_and_bare_seconds),
		cmocka_unit_test(test_user_matches_exactly_or_by_glob),
		cmocka_unit_test(test_host_pattern_ignores_the_client_port),
		cmocka_unit_test(test_any_matches_every_ordinary_session),
		cmocka_unit_test(test_every_term_of_one_policy_must_match),
		cmocka_unit_test(test_any_one_of_several_policies_is_enough),
		cmocka_unit_test(test_without_a_policy_nothing_is_killed),
		cmocka_unit_test(test_safety_rules_beat_even_any),
		cmocka_unit_test(test_mdlsafe_comment_in_the_statement_protects_nothing),
		cmocka_unit_test(test_protected_connection_ids_are_never_killed),
		cmocka_unit_test(test_bad_policies_are_usage_errors_naming_the_term),
		cmocka_unit_test(test_describe_reads_the_policy_back_in_words),
		cmocka_unit_test(test_a_bad_policy_leaves_the_set_as_it_was),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
