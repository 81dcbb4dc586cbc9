/* Opening and using server sessions. Connection parameters resolve like the
 * mariadb client: command line, then option files, then the environment. */
#include "db/db.h"

#include <errmsg.h>
#include <errno.h>
#include <mysqld_error.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"

#define DB_DEFAULT_SOCKET "/run/mysqld/mysqld.sock"
#define DB_DEFAULT_PORT 3306

void db_params_release(struct db_params *p)
{
	if (p->password)
		memset(p->password, 0, strlen(p->password));
	free(p->host);
	free(p->user);
	free(p->password);
	free(p->socket);
	free(p->database);
	free(p->defaults_file);
	free(p->defaults_extra_file);
	free(p->ssl_ca);
	free(p->ssl_cert);
	free(p->ssl_key);
	memset(p, 0, sizeof(*p));
}

static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

/*
 * The environment is the weakest source, so it is applied as connector
 * options before connecting: values read from option files at connect time
 * replace them, and explicit mysql_real_connect() arguments beat both.
 */
static void db_apply_environment(MYSQL *m)
{
	const char *v;

	if ((v = nonempty(getenv("MYSQL_HOST"))))
		mysql_optionsv(m, MARIADB_OPT_HOST, v);
	if ((v = nonempty(getenv("MYSQL_TCP_PORT")))) {
		unsigned port = (unsigned)strtoul(v, NULL, 10);
		if (port)
			mysql_optionsv(m, MARIADB_OPT_PORT, &port);
	}
	if ((v = nonempty(getenv("MYSQL_UNIX_PORT"))))
		mysql_optionsv(m, MARIADB_OPT_UNIXSOCKET, v);
	if ((v = getenv("MYSQL_PWD")))
		mysql_optionsv(m, MARIADB_OPT_PASSWORD, v);
}

/*
 * Connector/C reads either the usual files or exactly one file. For
 * --defaults-extra-file we hand it one private file that includes the usual
 * ones, in the connector's own order, and then the extra one, so the extra
 * file wins. Missing includes are skipped by the connector. Returns the
 * path of that file (caller unlinks and frees) or NULL.
 */
static char *db_write_extra_defaults(const char *extra, struct ms_err *e)
{
	const char *tmp = nonempty(getenv("TMPDIR")) ? getenv("TMPDIR") : "/tmp";
	const char *home_dir = nonempty(getenv("MARIADB_HOME")) ? getenv("MARIADB_HOME") : getenv("MYSQL_HOME");
	struct buf path = BUF_INIT, text = BUF_INIT;
	char *out = NULL;
	int fd;

	buf_addf(&path, "%s/mdlsafe-defaults-XXXXXX", tmp);
	buf_adds(&text, "[client]\n!include /etc/my.cnf\n!include /etc/mysql/my.cnf\n");
	if (nonempty(home_dir))
		buf_addf(&text, "!include %s/my.cnf\n", home_dir);
	if (nonempty(getenv("HOME")))
		buf_addf(&text, "!include %s/.my.cnf\n", getenv("HOME"));
	buf_addf(&text, "!include %s\n", extra);
	if (path.failed || text.failed) {
		ms_oom(e);
		goto out;
	}
	fd = mkstemp(path.data); /* mode 0600 */
	if (fd < 0) {
		ms_fail(e, MS_IO, "cannot create a temporary option file in %s: %s; set TMPDIR", tmp, strerror(errno));
		goto out;
	}
	if (write(fd, text.data, text.len) != (ssize_t)text.len) {
		ms_fail(e, MS_IO, "cannot write %s: %s", path.data, strerror(errno));
		close(fd);
		unlink(path.data);
		goto out;
	}
	close(fd);
	out = buf_detach(&path);
out:
	buf_release(&path);
	buf_release(&text);
	return out;
}

static void db_apply_option_files(MYSQL *m, const struct db_params *p, const char *extra_file)
{
	if (p->no_defaults)
		return;
	if (p->defaults_file)
		mysql_optionsv(m, MYSQL_READ_DEFAULT_FILE, p->defaults_file);
	else if (extra_file)
		mysql_optionsv(m, MYSQL_READ_DEFAULT_FILE, extra_file);
	/* Setting the group makes the connector read the usual files (or only
	 * defaults_file) for [client], [client-server], [client-mariadb] and
	 * [mdlsafe] when connecting. */
	mysql_optionsv(m, MYSQL_READ_DEFAULT_GROUP, "mdlsafe");
}

/* --ssl, or an option that implies it. */
static bool db_tls_required(const struct db_params *p)
{
	return p->ssl || p->ssl_ca || p->ssl_cert || p->ssl_key || p->ssl_verify_server_cert;
}

static void db_apply_tls(MYSQL *m, const struct db_params *p)
{
	if (db_tls_required(p)) {
		my_bool on = 1;
		mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &on);
	}
	if (p->ssl_ca)
		mysql_optionsv(m, MYSQL_OPT_SSL_CA, p->ssl_ca);
	if (p->ssl_cert)
		mysql_optionsv(m, MYSQL_OPT_SSL_CERT, p->ssl_cert);
	if (p->ssl_key)
		mysql_optionsv(m, MYSQL_OPT_SSL_KEY, p->ssl_key);
	if (p->ssl_verify_server_cert) {
		my_bool on = 1;
		mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
	}
}

/* Describes where the connector went (or would go) and as whom, from the
 * explicit parameters, then what option files and environment supplied. */
static void db_describe_target(MYSQL *m, const struct db_params *p, char *out, size_t n)
{
	const char *host = nonempty(p->host), *sock = nonempty(p->socket), *user = nonempty(p->user);
	unsigned port = p->port;

	if (!host)
		host = nonempty(m->options.host);
	if (!sock)
		sock = nonempty(m->options.unix_socket);
	if (!user)
		user = nonempty(m->options.user);
	if (!user)
		user = nonempty(getenv("USER"));
	if (!user) {
		struct passwd *pw = getpwuid(geteuid());
		user = pw ? pw->pw_name : NULL;
	}
	if (!port)
		port = m->options.port;
	if (!port)
		port = DB_DEFAULT_PORT;
	if (!host || strcmp(host, "localhost") == 0)
		snprintf(out, n, "socket %s as %s", sock ? sock : DB_DEFAULT_SOCKET,
			 user ? user : "(current user)");
	else
		snprintf(out, n, "%s:%u as %s", host, port, user ? user : "(current user)");
}

static bool db_target_is_socket(const char *target)
{
	return strncmp(target, "socket ", 7) == 0;
}

/* Maps a failed connect to a category and a message that says what to do. */
static int db_fail_connect(MYSQL *m, const char *target, bool password_given, struct ms_err *e)
{
	unsigned no = mysql_errno(m);
	const char *srv = mysql_error(m);
	int rc;

	switch (no) {
	case ER_ACCESS_DENIED_ERROR:
	case ER_ACCESS_DENIED_NO_PASSWORD_ERROR:
		rc = ms_fail(e, MS_AUTH, "access denied connecting to %s (%s); %s", target, srv,
			     password_given ? "check the password (-p prompts for it) and the user's host part"
					    : "no password was given: use -p to be prompted, or set password in the [client] group of ~/.my.cnf");
		break;
	case CR_CONNECTION_ERROR: /* the connector reports refused TCP with this code too */
	case CR_CONN_HOST_ERROR:
		if (db_target_is_socket(target))
			rc = ms_fail(e, MS_CONNECT, "cannot connect to %s (%s); is the server running? give its socket with -S, or use -h 127.0.0.1 -P PORT for TCP", target, srv);
		else
			rc = ms_fail(e, MS_CONNECT, "cannot connect to %s (%s); is the server running and listening there? check -h/-P and bind-address", target, srv);
		break;
	case CR_SERVER_LOST:
		rc = ms_fail(e, MS_CONNECT, "connection to %s dropped during the handshake (%s); is it a MariaDB/MySQL server, overloaded, or is --connect-timeout too short?", target, srv);
		break;
	case CR_UNKNOWN_HOST:
		rc = ms_fail(e, MS_CONNECT, "cannot resolve the host of %s (%s); check -h", target, srv);
		break;
	case ER_BAD_DB_ERROR:
		rc = ms_fail(e, MS_USAGE, "connected to %s but the database does not exist (%s); check -D or the database named in the option file", target, srv);
		break;
	case CR_SSL_CONNECTION_ERROR:
		rc = ms_fail(e, MS_CONNECT, "TLS failed connecting to %s (%s); check --ssl-ca/--ssl-cert/--ssl-key, or drop --ssl-verify-server-cert for a self-signed server", target, srv);
		break;
	default:
		rc = ms_fail(e, MS_CONNECT, "cannot connect to %s (%s)%s", target, srv,
			     db_target_is_socket(target) ? "; is the server running? check -S" : "; check -h/-P and that the server is up");
		break;
	}
	e->sql_errno = no;
	snprintf(e->sqlstate, sizeof(e->sqlstate), "%s", mysql_sqlstate(m));
	return rc;
}

static void db_parse_version(struct db *db)
{
	const char *v = mysql_get_server_info(db->mysql);
	unsigned maj = 0, min = 0, pat = 0;

	db->server_version = mysql_get_server_version(db->mysql);
	db->is_mariadb = v && strstr(v, "MariaDB") != NULL;
	/* Some proxies report "5.5.5-10.11.19-MariaDB": trust the suffix. */
	if (v && sscanf(v, "5.5.5-%u.%u.%u", &maj, &min, &pat) == 3)
		db->server_version = maj * 10000UL + min * 100UL + pat;
}

static int db_setup_session(struct db *db, const struct db_session_opts *o, struct ms_err *e)
{
	struct db_session_opts d = { 1.0, 300, 300, 0, 0 };
	char sql[512];
	int n;

	if (o) {
		if (o->lock_wait_timeout > 0)
			d.lock_wait_timeout = o->lock_wait_timeout;
		if (o->wait_timeout)
			d.wait_timeout = o->wait_timeout;
		if (o->idle_trx_timeout)
			d.idle_trx_timeout = o->idle_trx_timeout;
		d.max_statement_time = o->max_statement_time;
	}
	/* lock_wait_timeout is whole seconds on MySQL, fractional on MariaDB. */
	n = snprintf(sql, sizeof(sql),
		     "SET SESSION lock_wait_timeout = %.0f, SESSION wait_timeout = %u, "
		     "SESSION interactive_timeout = %u",
		     d.lock_wait_timeout < 1 ? 1 : d.lock_wait_timeout, d.wait_timeout, d.wait_timeout);
	if (db->is_mariadb) {
		/* MariaDB ends a connection idle in a transaction after this long:
		 * a hung mdlsafe then cannot keep a lock. */
		n += snprintf(sql + n, sizeof(sql) - (size_t)n,
			      ", SESSION idle_transaction_timeout = %u, SESSION max_statement_time = %.3f",
			      d.idle_trx_timeout, d.max_statement_time);
	} else {
		n += snprintf(sql + n, sizeof(sql) - (size_t)n, ", SESSION max_execution_time = %lu",
			      (unsigned long)(d.max_statement_time * 1000));
	}
	if (db_exec(db, sql, e))
		return ms_fail_context(e, "setting up the session");
	return 0;
}

/* Takes DB_SESSION_LOCK for this connection (see db.h). Another session
 * holding our name is refused: it would pass for us. */
static int db_mark_session(struct db *db, struct ms_err *e)
{
	MYSQL_RES *r;
	MYSQL_ROW row;
	int rc = 0;

	/* MySQL before 5.7 holds one user lock per session: a second GET_LOCK
	 * would silently drop the first. */
	if (!db->is_mariadb && db->server_version < 50700)
		return 0;
	if (db_query(db, "SELECT GET_LOCK(CONCAT('" DB_SESSION_LOCK "', CONNECTION_ID()), 0), "
			 "IS_USED_LOCK(CONCAT('" DB_SESSION_LOCK "', CONNECTION_ID()))", &r, e)) {
		if (e && e->sql_errno == ER_NOT_SUPPORTED_YET) /* Galera: user locks are not allowed */
			return 0;
		return ms_fail_context(e, "marking the session as mdlsafe's");
	}
	row = r ? mysql_fetch_row(r) : NULL;
	if (row && row[0] && !strcmp(row[0], "1")) {
		db->marked = true;
	} else {
		rc = ms_fail(e, MS_SERVER,
			     "session %s of %s already holds the user lock " DB_SESSION_LOCK "%lu that marks this "
			     "connection as mdlsafe's, so another mdlsafe could mistake it for ours; end that "
			     "session (KILL %s) and run again",
			     row && row[1] ? row[1] : "?", db->target, db->thread_id, row && row[1] ? row[1] : "ID");
	}
	if (r)
		mysql_free_result(r);
	return rc;
}

int db_open(struct db *db, const struct db_params *p, const char *role,
	    const struct db_session_opts *opts, struct ms_err *e)
{
	unsigned timeout = p->connect_timeout ? p->connect_timeout : 10;
	char attr[64], *extra = NULL;
	bool connected;

	memset(db, 0, sizeof(*db));
	snprintf(db->role, sizeof(db->role), "%s", role ? role : "main");
	db->mysql = mysql_init(NULL);
	if (!db->mysql)
		return ms_fail(e, MS_INTERNAL, "out of memory creating a connection");

	if (p->defaults_extra_file && !p->defaults_file && !p->no_defaults) {
		extra = db_write_extra_defaults(p->defaults_extra_file, e);
		if (!extra) {
			db_close(db);
			return -1;
		}
	}
	db_apply_environment(db->mysql);
	db_apply_option_files(db->mysql, p, extra);
	db_apply_tls(db->mysql, p);
	mysql_optionsv(db->mysql, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	if (opts && opts->read_timeout)
		mysql_optionsv(db->mysql, MYSQL_OPT_READ_TIMEOUT, &opts->read_timeout);
	mysql_optionsv(db->mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_optionsv(db->mysql, MYSQL_OPT_CONNECT_ATTR_ADD, "program_name", "mdlsafe");
	snprintf(attr, sizeof(attr), "%s", db->role);
	mysql_optionsv(db->mysql, MYSQL_OPT_CONNECT_ATTR_ADD, "mdlsafe_role", attr);

	connected = mysql_real_connect(db->mysql, nonempty(p->host), nonempty(p->user),
				       p->password_set ? p->password : NULL, nonempty(p->database), p->port,
				       nonempty(p->socket), CLIENT_REMEMBER_OPTIONS) != NULL;
	if (extra) {
		unlink(extra);
		free(extra);
	}
	if (!connected) {
		bool pw = p->password_set || nonempty(db->mysql->options.password) || getenv("MYSQL_PWD");
		db_describe_target(db->mysql, p, db->target, sizeof(db->target));
		db_fail_connect(db->mysql, db->target, pw, e);
		db_close(db);
		return -1;
	}
	db_describe_target(db->mysql, p, db->target, sizeof(db->target));
	/* Connector/C 3.3 takes MYSQL_OPT_SSL_ENFORCE as "use TLS if the server
	 * offers it": unless the certificate is verified, a server without TLS
	 * silently gets a plain-text session. --ssl promises TLS, so check
	 * what we got. */
	if (db_tls_required(p) && !mysql_get_ssl_cipher(db->mysql)) {
		ms_fail(e, MS_CONNECT,
			"TLS was required (--ssl) but the connection to %s is not encrypted: the server offers "
			"no TLS (its have_ssl is not YES); configure ssl_cert/ssl_key on the server, or connect without --ssl",
			db->target);
		if (e) {
			e->sql_errno = CR_SSL_CONNECTION_ERROR;
			snprintf(e->sqlstate, sizeof(e->sqlstate), "%s", "HY000");
		}
		db_close(db);
		return -1;
	}
	db->thread_id = mysql_thread_id(db->mysql);
	db_parse_version(db);
	if (db_setup_session(db, opts, e) || db_mark_session(db, e)) {
		db_close(db);
		return -1;
	}
	return 0;
}

void db_close(struct db *db)
{
	if (db->mysql)
		mysql_close(db->mysql);
	db->mysql = NULL;
}

int db_fail(struct db *db, struct ms_err *e, const char *what)
{
	unsigned no = mysql_errno(db->mysql);
	const char *srv = mysql_error(db->mysql);
	enum ms_status st = MS_SERVER;
	const char *hint = "";

	switch (no) {
	case ER_SPECIFIC_ACCESS_DENIED_ERROR:
	case ER_TABLEACCESS_DENIED_ERROR:
	case ER_DBACCESS_DENIED_ERROR:
	case ER_COLUMNACCESS_DENIED_ERROR:
	case ER_ACCESS_DENIED_ERROR:
		st = MS_PRIVILEGE;
		hint = "; grant the missing privilege to this user or connect as one that has it";
		break;
	case CR_SERVER_GONE_ERROR:
	case CR_SERVER_LOST:
		st = MS_CONNECT;
		hint = "; the server went away or killed this session: check the server's error log";
		break;
	case ER_LOCK_WAIT_TIMEOUT:
		hint = "; a lock request timed out: run 'mdlsafe locks' to see who holds it";
		break;
	default:
		break;
	}
	ms_fail(e, st, "%s failed: %s (error %u)%s", what, srv, no, hint);
	if (e) {
		e->sql_errno = no;
		snprintf(e->sqlstate, sizeof(e->sqlstate), "%s", mysql_sqlstate(db->mysql));
	}
	return -1;
}

/* Prefixes the statement with our marker so it is recognisable on the server. */
static int db_send(struct db *db, const char *sql, struct ms_err *e)
{
	struct buf b = BUF_INIT;
	int rc = 0;

	buf_addf(&b, DB_STATEMENT_MARK " %s */ %s", db->role, sql);
	if (b.failed) {
		buf_release(&b);
		return ms_fail(e, MS_INTERNAL, "out of memory building a statement");
	}
	if (mysql_real_query(db->mysql, b.data, (unsigned long)b.len)) {
		char what[160];
		snprintf(what, sizeof(what), "%.120s%s", sql, strlen(sql) > 120 ? "..." : "");
		rc = db_fail(db, e, what);
	}
	buf_release(&b);
	return rc;
}

int db_exec(struct db *db, const char *sql, struct ms_err *e)
{
	if (db_send(db, sql, e))
		return -1;
	/* Drain any result so the connection stays usable. */
	do {
		MYSQL_RES *r = mysql_store_result(db->mysql);
		if (r)
			mysql_free_result(r);
	} while (mysql_next_result(db->mysql) == 0);
	return 0;
}

int db_statement_mark(const struct db *db, char *out, size_t n)
{
	return snprintf(out, n, DB_STATEMENT_MARK " %s */ ", db->role);
}

int db_exec_marked(struct db *db, const char *sql, size_t len, struct ms_err *e)
{
	if (mysql_real_query(db->mysql, sql, (unsigned long)len)) {
		char what[160];
		size_t mark = strlen(DB_STATEMENT_MARK " ") + strlen(db->role) + strlen(" */ ");
		const char *s = len > mark ? sql + mark : sql;
		size_t n = len > mark ? len - mark : len;
		snprintf(what, sizeof(what), "%.*s%s", (int)(n > 120 ? 120 : n), s, n > 120 ? "..." : "");
		return db_fail(db, e, what);
	}
	do {
		MYSQL_RES *r = mysql_store_result(db->mysql);
		if (r)
			mysql_free_result(r);
	} while (mysql_next_result(db->mysql) == 0);
	return 0;
}

int db_query(struct db *db, const char *sql, MYSQL_RES **res, struct ms_err *e)
{
	*res = NULL;
	if (db_send(db, sql, e))
		return -1;
	*res = mysql_store_result(db->mysql);
	if (!*res && mysql_field_count(db->mysql))
		return db_fail(db, e, "reading a result");
	return 0;
}

int db_stream(struct db *db, const char *sql, MYSQL_RES **res, struct ms_err *e)
{
	*res = NULL;
	if (db_send(db, sql, e))
		return -1;
	*res = mysql_use_result(db->mysql);
	if (!*res && mysql_field_count(db->mysql))
		return db_fail(db, e, "reading rows");
	return 0;
}

int db_query_value(struct db *db, const char *sql, char **out, struct ms_err *e)
{
	MYSQL_RES *r;
	MYSQL_ROW row;

	*out = NULL;
	if (db_query(db, sql, &r, e))
		return -1;
	if (r && (row = mysql_fetch_row(r)) && row[0]) {
		*out = strdup(row[0]);
		if (!*out) {
			mysql_free_result(r);
			return ms_oom(e);
		}
	}
	if (r)
		mysql_free_result(r);
	return 0;
}

void buf_add_ident(struct buf *b, const char *ident)
{
	buf_addch(b, '`');
	for (const char *p = ident; *p; p++) {
		if (*p == '`')
			buf_addch(b, '`');
		buf_addch(b, *p);
	}
	buf_addch(b, '`');
}

void buf_add_qualified(struct buf *b, const char *schema, const char *name)
{
	buf_add_ident(b, schema);
	buf_addch(b, '.');
	buf_add_ident(b, name);
}

char *db_quote_ident(const char *ident)
{
	struct buf b = BUF_INIT;

	buf_add_ident(&b, ident);
	if (b.failed) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b);
}

char *db_quote_string(struct db *db, const char *s)
{
	size_t len = strlen(s);
	char *out = malloc(len * 2 + 3);

	if (!out)
		return NULL;
	out[0] = '\'';
	len = mysql_real_escape_string(db->mysql, out + 1, s, (unsigned long)len);
	out[len + 1] = '\'';
	out[len + 2] = '\0';
	return out;
}
