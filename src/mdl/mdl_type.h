/* Metadata-lock request types as the server names them, and the server's
 * compatibility rules between them: the vocabulary of the wait graph. */
#ifndef MDLSAFE_MDL_TYPE_H
#define MDLSAFE_MDL_TYPE_H

#include <stdbool.h>

/* Ordered from weakest to strongest, as in the server's MDL subsystem. */
enum mdl_type {
	MDL_TYPE_UNKNOWN = 0,
	MDL_TYPE_INTENTION_EXCLUSIVE, /* IX: schema / global scope locks */
	MDL_TYPE_SHARED,              /* S */
	MDL_TYPE_SHARED_HIGH_PRIO,    /* SH: SHOW, information_schema */
	MDL_TYPE_SHARED_READ,         /* SR: SELECT */
	MDL_TYPE_SHARED_WRITE,        /* SW: INSERT/UPDATE/DELETE */
	MDL_TYPE_SHARED_WRITE_LOW_PRIO, /* SWLP: LOW_PRIORITY writes */
	MDL_TYPE_SHARED_UPGRADABLE,   /* SU: first phase of ALTER */
	MDL_TYPE_SHARED_READ_ONLY,    /* SRO: LOCK TABLES ... READ on InnoDB */
	MDL_TYPE_SHARED_NO_WRITE,     /* SNW: FLUSH ... FOR EXPORT, ALTER copy */
	MDL_TYPE_SHARED_NO_READ_WRITE, /* SNRW: LOCK TABLES ... WRITE */
	MDL_TYPE_EXCLUSIVE,           /* X: DDL */
};

/* Parses "SHARED_READ" (performance_schema) or "MDL_SHARED_READ"
 * (metadata_lock_info); anything else is MDL_TYPE_UNKNOWN. */
enum mdl_type mdl_type_parse(const char *name);

/* Short server name without prefix, e.g. "SHARED_READ". Never NULL. */
const char *mdl_type_name(enum mdl_type type);

/* True when a request of type `req` cannot be granted while another
 * session holds `granted` on the same object. */
bool mdl_conflicts_with_granted(enum mdl_type req, enum mdl_type granted);

/* True when a new request of type `req` must queue behind an earlier
 * pending request of type `pending` on the same object (the reason one
 * stuck ALTER freezes every later SELECT). */
bool mdl_conflicts_with_pending(enum mdl_type req, enum mdl_type pending);

#endif
