/* One error type for the whole library: a category that maps to an exit code,
 * the server's errno/SQLSTATE when there is one, and a one-line message. */
#ifndef MDLSAFE_ERROR_H
#define MDLSAFE_ERROR_H

#include <stdarg.h>

/* Categories double as process exit codes (documented in --help and the README).
 * Keep the numbers stable: scripts depend on them. */
enum ms_status {
	MS_OK = 0,
	MS_CHECK_FAILED = 1, /* --check: a wait is older than allowed */
	MS_USAGE = 2,        /* bad option or argument */
	MS_CONNECT = 3,      /* server unreachable */
	MS_AUTH = 4,         /* access denied (user/password) */
	MS_PRIVILEGE = 5,    /* connected, but a privilege is missing */
	MS_SERVER = 6,       /* a statement failed on the server */
	MS_IO = 7,           /* local file or terminal problem */
	MS_INTERNAL = 8,     /* out of memory, bug */
	MS_BUSY = 9,         /* another run holds the target */
	MS_INCOMPLETE = 10,  /* backup damaged or incomplete (verify) */
	MS_TIMEOUT = 11,     /* --timeout expired before the work was done */
};

struct ms_err {
	enum ms_status status;
	unsigned sql_errno;  /* 0 when the error is not from the server */
	char sqlstate[6];
	char msg[768];       /* one line: what failed, why, what to do */
};

/* Fills *e (when e is non-NULL) and returns -1, so a failure is reported and
 * propagated in one line: `return ms_fail(e, MS_IO, "cannot open %s", path);` */
int ms_fail(struct ms_err *e, enum ms_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int ms_vfail(struct ms_err *e, enum ms_status status, const char *fmt, va_list ap);

/* Prepends context to an existing message: "while X: <old message>". */
int ms_fail_context(struct ms_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The one out-of-memory failure: ms_oom(e). */
int ms_oom(struct ms_err *e);

void ms_err_clear(struct ms_err *e);

/* Short name of a status for JSON output, e.g. "connect". */
const char *ms_status_name(enum ms_status status);

#endif
