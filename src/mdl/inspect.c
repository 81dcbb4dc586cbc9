/* Loads a wait-graph snapshot from the server: sessions and transactions from
 * the processlist and INNODB_TRX, locks from the most exact source available. */
#include "mdl/inspect.h"

#include "mdl/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

/* Longest statement text kept per session: enough to recognise it, small
 * enough that a server full of huge INSERTs does not cost megabytes. */
#define INFO_MAX 2048

static bool query_bool(struct db *db, const char *sql, bool *out, struct ms_err *e)
{
	char *v = NULL;

	if (db_query_value(db, sql, &v, e))
		return false;
	*out = v && (!strcmp(v, "1") || !strcasecmp(v, "YES") || !strcasecmp(v, "ON"));
	free(v);
	return true;
}

int mdl_inspect_probe(struct db *db, struct mdl_capabilities *caps, struct ms_err *e)
{
	struct ms_err ignored;

	memset(caps, 0, sizeof(*caps));
	if (!query_bool(db, "SELECT @@performance_schema", &caps->pfs_on, e))
		return -1;
	/* Readable setup tables are not guaranteed; an unreadable instrument
	 * just means the source is unusable, not an error. */
	if (caps->pfs_on &&
	    !query_bool(db, "SELECT ENABLED FROM performance_schema.setup_instruments "
			    "WHERE NAME = 'wait/lock/metadata/sql/mdl'", &caps->pfs_mdl_instrument, &ignored))
		caps->pfs_mdl_instrument = false;
	if (!query_bool(db, "SELECT COUNT(*) > 0 FROM information_schema.PLUGINS "
			    "WHERE PLUGIN_NAME = 'METADATA_LOCK_INFO' AND PLUGIN_STATUS = 'ACTIVE'",
			&caps->plugin_active, e))
		return -1;
	/* PROCESS may come from the user or from its current role. */
	if (!query_bool(db,
			"SELECT COUNT(*) > 0 FROM information_schema.USER_PRIVILEGES "
			"WHERE PRIVILEGE_TYPE = 'PROCESS' AND GRANTEE IN ("
			"CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', "
			"SUBSTRING_INDEX(CURRENT_USER(), '@', -1), ''''), "
			"CONCAT('''', IFNULL(CURRENT_ROLE(), ''), ''''))",
			&caps->has_process_priv, e))
		return -1;
	if (!query_bool(db, "SELECT COUNT(*) > 0 FROM information_schema.TABLES "
			    "WHERE TABLE_SCHEMA = 'information_schema' AND TABLE_NAME = 'INNODB_TRX'",
			&caps->has_innodb_trx, e))
		return -1;
	return 0;
}

int mdl_inspect_require(struct db *db, const struct mdl_capabilities *caps, struct ms_err *e)
{
	char *user = NULL;

	if (caps->has_process_priv)
		return 0;
	if (db_query_value(db, "SELECT CURRENT_USER()", &user, e))
		return -1;
	ms_fail(e, MS_PRIVILEGE,
		"user %s lacks the PROCESS privilege, so the server shows it only its own sessions; "
		"run as a user that has it, or GRANT PROCESS ON *.* TO the user",
		user ? user : "(unknown)");
	free(user);
	return -1;
}

int mdl_inspect_choose(const struct mdl_capabilities *caps, enum mdl_source want,
		       enum mdl_source *out, struct ms_err *e)
{
	bool pfs = caps->pfs_on && caps->pfs_mdl_instrument;

	switch (want) {
	case MDL_SOURCE_AUTO:
		*out = pfs ? MDL_SOURCE_PFS : caps->plugin_active ? MDL_SOURCE_PLUGIN : MDL_SOURCE_PROCESSLIST;
		return 0;
	case MDL_SOURCE_PFS:
		if (!caps->pfs_on)
			return ms_fail(e, MS_USAGE, "performance_schema is OFF on this server; it can only be switched on at startup (performance_schema=ON in my.cnf); use --source auto");
		if (!caps->pfs_mdl_instrument)
			return ms_fail(e, MS_USAGE, "the performance_schema instrument wait/lock/metadata/sql/mdl is disabled; run with --enable-instrumentation to switch it on");
		break;
	case MDL_SOURCE_PLUGIN:
		if (!caps->plugin_active)
			return ms_fail(e, MS_USAGE, "the metadata_lock_info plugin is not installed; run with --enable-instrumentation (or INSTALL SONAME 'metadata_lock_info')");
		break;
	case MDL_SOURCE_PROCESSLIST:
		break;
	}
	*out = want;
	return 0;
}

static double now_unix(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static bool is_system_session(const char *user, const char *command)
{
	static const char *const commands[] = { "Daemon", "Binlog Dump", "Binlog Dump GTID",
						"Slave_IO", "Slave_SQL", "Slave_worker", "Connect" };

	if (user && (!strcmp(user, "system user") || !strcmp(user, "event_scheduler")))
		return true;
	for (size_t i = 0; command && i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(command, commands[i]))
			return true;
	return false;
}

static int load_sessions(struct db *db, const struct mdl_capabilities *caps, struct mdl_snapshot *s,
			 struct ms_err *e)
{
	char sql[1024];
	MYSQL_RES *r;
	MYSQL_ROW row;

	/* TIME_MS (MariaDB) gives sub-second waits; MySQL has whole seconds.
	 * mdlsafe's own sessions are told by the user lock each holds, read in
	 * the same query, so the answer is as fresh as the rest of the row. */
	snprintf(sql, sizeof(sql),
		 "SELECT p.ID, p.USER, p.HOST, p.DB, p.COMMAND, %s, p.STATE, LEFT(p.INFO, %d), "
		 "%s, %s FROM information_schema.PROCESSLIST p %s WHERE p.ID <> CONNECTION_ID()",
		 db->is_mariadb ? "p.TIME_MS / 1000" : "p.TIME", INFO_MAX,
		 db->marked ? "IS_USED_LOCK(CONCAT('" DB_SESSION_LOCK "', p.ID)) = p.ID" : "0",
		 caps->has_innodb_trx
			 ? "t.trx_mysql_thread_id IS NOT NULL, TIMESTAMPDIFF(MICROSECOND, t.trx_started, NOW(6)) / 1e6, t.trx_rows_modified"
			 : "0, 0, 0",
		 caps->has_innodb_trx ? "LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID" : "");
	if (db_query(db, sql, &r, e))
		return ms_fail_context(e, "reading the processlist");
	while ((row = mysql_fetch_row(r))) {
		struct mdl_session t;

		memset(&t, 0, sizeof(t));
		t.id = strtoull(row[0], NULL, 10);
		t.user = row[1];
		t.host = row[2];
		t.db = row[3];
		t.command = row[4];
		t.time_s = row[5] ? strtod(row[5], NULL) : 0;
		t.state = row[6];
		t.info = row[7];
		t.has_trx = row[9] && !strcmp(row[9], "1");
		t.trx_age_s = row[10] ? strtod(row[10], NULL) : 0;
		t.trx_rows_modified = row[11] ? strtoull(row[11], NULL, 10) : 0;
		t.waiting_mdl = mdl_state_is_mdl_wait(t.state);
		t.is_mdlsafe = row[8] && !strcmp(row[8], "1");
		t.owner_unknown = !db->marked;
		t.is_system = is_system_session(t.user, t.command);
		if (mdl_snapshot_add_session(s, &t) < 0) {
			mysql_free_result(r);
			return ms_fail(e, MS_INTERNAL, "out of memory reading the processlist");
		}
	}
	mysql_free_result(r);
	return 0;
}

static long session_index(const struct mdl_snapshot *s, unsigned long long id)
{
	for (size_t i = 0; i < s->n_sessions; i++)
		if (s->sessions[i].id == id)
			return (long)i;
	return -1;
}

/* Rows are (processlist id, object type, schema, name, lock type, granted). */
static int load_lock_rows(struct db *db, const char *sql, struct mdl_snapshot *s, struct ms_err *e)
{
	MYSQL_RES *r;
	MYSQL_ROW row;

	if (db_query(db, sql, &r, e))
		return -1;
	while ((row = mysql_fetch_row(r))) {
		long i = row[0] ? session_index(s, strtoull(row[0], NULL, 10)) : -1;
		const char *schema = row[2] && *row[2] ? row[2] : NULL;
		const char *name = row[3] && *row[3] ? row[3] : NULL;

		if (i < 0) /* ended between the two reads, or our own */
			continue;
		if (mdl_snapshot_add_lock(s, (size_t)i, row[1], schema, name, row[4],
					  row[5] && !strcmp(row[5], "1"), false)) {
			mysql_free_result(r);
			return ms_fail(e, MS_INTERNAL, "out of memory reading locks");
		}
	}
	mysql_free_result(r);
	return 0;
}

static int load_row_waits(struct db *db, struct mdl_snapshot *s, struct ms_err *e)
{
	MYSQL_RES *r;
	MYSQL_ROW row;
	const char *sql =
		"SELECT rq.trx_mysql_thread_id, bl.trx_mysql_thread_id, l.lock_table, "
		"TIMESTAMPDIFF(MICROSECOND, rq.trx_wait_started, NOW(6)) / 1e6 "
		"FROM information_schema.INNODB_LOCK_WAITS w "
		"JOIN information_schema.INNODB_TRX rq ON rq.trx_id = w.requesting_trx_id "
		"JOIN information_schema.INNODB_TRX bl ON bl.trx_id = w.blocking_trx_id "
		"LEFT JOIN information_schema.INNODB_LOCKS l ON l.lock_id = w.requested_lock_id";

	if (!db->is_mariadb) /* MySQL 8 moved these to performance_schema.data_lock_waits */
		return 0;
	if (db_query(db, sql, &r, e))
		return ms_fail_context(e, "reading InnoDB row-lock waits");
	while ((row = mysql_fetch_row(r))) {
		struct mdl_row_wait *grown = realloc(s->row_waits, (s->n_row_waits + 1) * sizeof(*grown));
		if (!grown) {
			mysql_free_result(r);
			return ms_oom(e);
		}
		s->row_waits = grown;
		grown[s->n_row_waits].waiting_id = row[0] ? strtoull(row[0], NULL, 10) : 0;
		grown[s->n_row_waits].blocking_id = row[1] ? strtoull(row[1], NULL, 10) : 0;
		grown[s->n_row_waits].table = strdup(row[2] ? row[2] : "?");
		grown[s->n_row_waits].wait_s = row[3] ? strtod(row[3], NULL) : 0;
		s->n_row_waits++;
	}
	mysql_free_result(r);
	s->row_waits_loaded = true;
	return 0;
}

int mdl_inspect_load(struct db *db, const struct mdl_inspect_opts *o, struct mdl_snapshot *s,
		     struct ms_err *e)
{
	struct mdl_capabilities caps;
	int rc = -1;

	memset(s, 0, sizeof(*s));
	if (o->caps)
		caps = *o->caps;
	else if (mdl_inspect_probe(db, &caps, e) || mdl_inspect_require(db, &caps, e))
		return -1;
	if (mdl_inspect_choose(&caps, o->source, &s->source, e))
		return -1;
	s->server_version = strdup(mysql_get_server_info(db->mysql));
	s->self_id = db->thread_id;
	s->taken_at = now_unix();
	if (load_sessions(db, &caps, s, e))
		goto out;
	switch (s->source) {
	case MDL_SOURCE_PFS:
		/* MariaDB 10.11 reports SHARED_READ_ONLY (LOCK TABLES ... READ)
		 * with an empty LOCK_TYPE. */
		s->holders_exact = true;
		rc = load_lock_rows(db,
				    "SELECT th.PROCESSLIST_ID, m.OBJECT_TYPE, m.OBJECT_SCHEMA, m.OBJECT_NAME, "
				    "IF(m.LOCK_TYPE = '' AND m.OBJECT_TYPE = 'TABLE', 'SHARED_READ_ONLY', m.LOCK_TYPE), "
				    "m.LOCK_STATUS = 'GRANTED' "
				    "FROM performance_schema.metadata_locks m "
				    "JOIN performance_schema.threads th ON th.THREAD_ID = m.OWNER_THREAD_ID "
				    "WHERE th.PROCESSLIST_ID IS NOT NULL",
				    s, e);
		break;
	case MDL_SOURCE_PLUGIN:
		/* The plugin lists granted locks only (exactly); waits come from
		 * the processlist, their types from the statement text. */
		s->holders_exact = true;
		rc = load_lock_rows(db,
				    "SELECT THREAD_ID, CASE LOCK_TYPE WHEN 'Table metadata lock' THEN 'TABLE' "
				    "WHEN 'Schema metadata lock' THEN 'SCHEMA' WHEN 'Backup lock' THEN 'BACKUP' "
				    "ELSE UPPER(LOCK_TYPE) END, TABLE_SCHEMA, TABLE_NAME, LOCK_MODE, 1 "
				    "FROM information_schema.METADATA_LOCK_INFO",
				    s, e);
		break;
	default:
		rc = 0;
		break;
	}
	if (rc) {
		ms_fail_context(e, "reading metadata locks from %s", mdl_source_name(s->source));
		goto out;
	}
	if (s->source != MDL_SOURCE_PFS && mdl_snapshot_infer_waits(s)) {
		ms_oom(e);
		goto out;
	}
	if (o->row_locks && caps.has_innodb_trx && load_row_waits(db, s, e))
		goto out;
	return 0;
out:
	mdl_snapshot_release(s);
	return -1;
}

int mdl_inspect_enable(struct db *db, const struct mdl_capabilities *caps, const char **what,
		       struct ms_err *e)
{
	if (caps->pfs_on) {
		*what = "enabled the performance_schema instrument wait/lock/metadata/sql/mdl "
			"(until the server restarts; add performance-schema-instrument='wait/lock/metadata/sql/mdl=ON' "
			"to my.cnf to keep it)";
		if (caps->pfs_mdl_instrument)
			return 0;
		if (db_exec(db, "UPDATE performance_schema.setup_instruments SET ENABLED = 'YES', TIMED = 'YES' "
				"WHERE NAME = 'wait/lock/metadata/sql/mdl'", e))
			return ms_fail_context(e, "enabling the MDL instrument (needs UPDATE on performance_schema)");
		return 0;
	}
	*what = "installed the metadata_lock_info plugin (UNINSTALL SONAME 'metadata_lock_info' removes it)";
	if (caps->plugin_active)
		return 0;
	if (db_exec(db, "INSTALL SONAME 'metadata_lock_info'", e))
		return ms_fail_context(e, "installing metadata_lock_info (needs INSERT on mysql.plugin)");
	return 0;
}

char *mdl_verdict_now(struct db *db)
{
	struct mdl_inspect_opts io = { MDL_SOURCE_AUTO, false, NULL };
	struct mdl_snapshot snap;
	struct mdl_graph g;
	struct ms_err e;
	char *v = NULL;

	if (!db->mysql || mdl_inspect_load(db, &io, &snap, &e))
		return NULL;
	if (mdl_graph_build(&snap, &g, &e) == 0) {
		v = mdl_graph_verdict(&g);
		mdl_graph_release(&g);
	}
	mdl_snapshot_release(&snap);
	return v;
}
