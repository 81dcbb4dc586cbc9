/* The server's metadata-lock compatibility rules for table-scope locks, as
 * tables, so the wait graph can say exactly who blocks whom. */
#include "mdl/mdl_type.h"

#include <string.h>
#include <strings.h>

static const struct {
	enum mdl_type type;
	const char *name;
} mdl_type_names[] = {
	{ MDL_TYPE_INTENTION_EXCLUSIVE, "INTENTION_EXCLUSIVE" },
	{ MDL_TYPE_SHARED, "SHARED" },
	{ MDL_TYPE_SHARED_HIGH_PRIO, "SHARED_HIGH_PRIO" },
	{ MDL_TYPE_SHARED_READ, "SHARED_READ" },
	{ MDL_TYPE_SHARED_WRITE, "SHARED_WRITE" },
	{ MDL_TYPE_SHARED_WRITE_LOW_PRIO, "SHARED_WRITE_LOW_PRIO" },
	{ MDL_TYPE_SHARED_UPGRADABLE, "SHARED_UPGRADABLE" },
	{ MDL_TYPE_SHARED_READ_ONLY, "SHARED_READ_ONLY" },
	{ MDL_TYPE_SHARED_NO_WRITE, "SHARED_NO_WRITE" },
	{ MDL_TYPE_SHARED_NO_READ_WRITE, "SHARED_NO_READ_WRITE" },
	{ MDL_TYPE_EXCLUSIVE, "EXCLUSIVE" },
};

enum mdl_type mdl_type_parse(const char *name)
{
	if (!name)
		return MDL_TYPE_UNKNOWN;
	if (strncasecmp(name, "MDL_", 4) == 0)
		name += 4;
	for (size_t i = 0; i < sizeof(mdl_type_names) / sizeof(mdl_type_names[0]); i++)
		if (strcasecmp(name, mdl_type_names[i].name) == 0)
			return mdl_type_names[i].type;
	return MDL_TYPE_UNKNOWN;
}

const char *mdl_type_name(enum mdl_type type)
{
	for (size_t i = 0; i < sizeof(mdl_type_names) / sizeof(mdl_type_names[0]); i++)
		if (mdl_type_names[i].type == type)
			return mdl_type_names[i].name;
	return "UNKNOWN";
}

/*
 * Rows: the request; columns: the other lock, in the order
 * S SH SR SW SWLP SU SRO SNW SNRW X. '1' means the two conflict.
 * Transcribed from the server's MDL_object_lock matrices (sql/mdl.cc).
 */
#define NT 10
static const char granted_conflicts[NT][NT + 1] = {
	/*         S SH SR SW WL SU RO NW NR X */
	/* S    */ "0000000001",
	/* SH   */ "0000000001",
	/* SR   */ "0000000011",
	/* SW   */ "0000001111",
	/* SWLP */ "0000001111",
	/* SU   */ "0000010111",
	/* SRO  */ "0001100011",
	/* SNW  */ "0001110111",
	/* SNRW */ "0011111111",
	/* X    */ "1111111111",
};

/* A pending X blocks every later weaker request but SH (so SHOW and
 * information_schema keep working); a pending SNW/SNRW blocks later writers. */
static const char pending_conflicts[NT][NT + 1] = {
	/*         S SH SR SW WL SU RO NW NR X */
	/* S    */ "0000000001",
	/* SH   */ "0000000000",
	/* SR   */ "0000000011",
	/* SW   */ "0000000111",
	/* SWLP */ "0000000111", /* MariaDB has no SWLP: LOW_PRIORITY writes take SW */
	/* SU   */ "0000000001",
	/* SRO  */ "0001100011",
	/* SNW  */ "0000000001",
	/* SNRW */ "0000000001",
	/* X    */ "0000000000",
};

/* Index into the matrices, or -1 for types outside table scope. */
static int mdl_type_index(enum mdl_type t)
{
	if (t < MDL_TYPE_SHARED || t > MDL_TYPE_EXCLUSIVE)
		return -1;
	return (int)t - (int)MDL_TYPE_SHARED;
}

/* Unknown types (backup, global and scope locks we do not model) are
 * assumed to conflict: naming a possible blocker beats hiding a real one. */
static bool mdl_lookup(const char m[NT][NT + 1], enum mdl_type a, enum mdl_type b)
{
	int i = mdl_type_index(a), j = mdl_type_index(b);

	if (a == MDL_TYPE_INTENTION_EXCLUSIVE && b == MDL_TYPE_INTENTION_EXCLUSIVE)
		return false;
	if (i < 0 || j < 0)
		return true;
	return m[i][j] == '1';
}

bool mdl_conflicts_with_granted(enum mdl_type req, enum mdl_type granted)
{
	return mdl_lookup(granted_conflicts, req, granted);
}

bool mdl_conflicts_with_pending(enum mdl_type req, enum mdl_type pending)
{
	return mdl_lookup(pending_conflicts, req, pending);
}
