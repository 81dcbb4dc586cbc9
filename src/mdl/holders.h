/* Who holds tables right now: the sessions a lock request of ours would
 * wait for, named before we ask (ddl, backup --physical). */
#ifndef MDLSAFE_HOLDERS_H
#define MDLSAFE_HOLDERS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "db/db.h"
#include "mdl/snapshot.h"

/*
 * Sessions other than mdlsafe's, system threads and `ignore` that hold a
 * granted metadata lock on a table of `schema` named in `tables` (a JSON
 * object used as a set of names; NULL: any table of the schema), or whose
 * transaction has been open min_trx_age_s or longer (the lock source may not
 * show what such a session holds). Each is {"id", "user", "host", "command",
 * "transaction_age_seconds", "holds_table", "table" (or null), "statement"}.
 * Always returns an array (empty when the wait graph cannot be read).
 */
json_t *mdl_holders(struct db *db, const char *schema, json_t *tables, double min_trx_age_s,
		    const unsigned long *ignore, size_t n_ignore);

/*
 * The same selection as mdl_holders(), one session at a time: fn gets each
 * holder's session (borrowed, valid during the call) and the table it holds
 * (NULL when it is listed for its transaction's age). Returns -1 with e
 * filled when the wait graph cannot be read.
 */
typedef void (*mdl_holder_fn)(void *ctx, struct db *db, const struct mdl_session *s, const char *held);
int mdl_holders_each(struct db *db, const char *schema, json_t *tables, double min_trx_age_s,
		     const unsigned long *ignore, size_t n_ignore, mdl_holder_fn fn, void *ctx, struct ms_err *e);

/* "session 12 (app@10.0.0.5, transaction open 40 s, Sleep) holds `shop`.`orders`"
 * for one entry of mdl_holders(), into out. */
void mdl_holder_line(json_t *h, const char *schema, char *out, size_t n);

#endif
