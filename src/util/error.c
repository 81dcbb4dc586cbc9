/* Error filling helpers: format once into a fixed buffer so error paths never
 * allocate (they run when memory may be exhausted). */
#include "util/error.h"

#include <stdio.h>
#include <string.h>

int ms_vfail(struct ms_err *e, enum ms_status status, const char *fmt, va_list ap)
{
	if (!e)
		return -1;
	e->status = status;
	e->sql_errno = 0;
	e->sqlstate[0] = '\0';
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	/* Messages are one line by contract; server texts sometimes are not. */
	for (char *p = e->msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return -1;
}

int ms_fail(struct ms_err *e, enum ms_status status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ms_vfail(e, status, fmt, ap);
	va_end(ap);
	return -1;
}

int ms_fail_context(struct ms_err *e, const char *fmt, ...)
{
	char prefix[256], old[sizeof(e->msg)];
	va_list ap;

	if (!e)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	/* Truncating a long message is fine; it stays one line. */
	if (snprintf(e->msg, sizeof(e->msg), "%s: %s", prefix, old) < 0)
		e->msg[0] = '\0';
	return -1;
}

void ms_err_clear(struct ms_err *e)
{
	memset(e, 0, sizeof(*e));
}

const char *ms_status_name(enum ms_status status)
{
	switch (status) {
	case MS_OK: return "ok";
	case MS_CHECK_FAILED: return "check_failed";
	case MS_USAGE: return "usage";
	case MS_CONNECT: return "connect";
	case MS_AUTH: return "auth";
	case MS_PRIVILEGE: return "privilege";
	case MS_SERVER: return "server";
	case MS_IO: return "io";
	case MS_INTERNAL: return "internal";
	case MS_BUSY: return "busy";
	case MS_INCOMPLETE: return "incomplete";
	case MS_TIMEOUT: return "timeout";
	}
	return "unknown";
}

int ms_oom(struct ms_err *e)
{
	return ms_fail(e, MS_INTERNAL, "out of memory");
}
