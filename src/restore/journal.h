/* The restore journal: a client-side JSON Lines file recording what a restore
 * has finished, so `restore --resume` continues a killed run without redoing it. */
#ifndef MDLSAFE_JOURNAL_H
#define MDLSAFE_JOURNAL_H

#include <stdbool.h>

#include <jansson.h>

#include "util/error.h"

/*
 * Contract:
 *   - The journal lives outside the backup directory (the backup is never
 *     modified); the caller picks its path, e.g. "DIR.restore-journal".
 *   - Format: JSON Lines, appended, one object per line, each line ending in
 *     '\n'. Line 1 is the header: the caller's object with two keys set by
 *     this module, "journal": "mdlsafe-restore" and "version": JOURNAL_VERSION
 *     (they replace any value the caller gave them). Every later line is an
 *     entry {"k": kind, "v": key}; readers ignore other keys in an entry, and
 *     keep entries of a kind they do not know without ever matching them.
 *   - An entry is durable once journal_record() returned 0: it was written with
 *     one write() and fdatasync'ed. A crash therefore leaves at most one torn
 *     line, the last one: a line without its '\n', or one that is not JSON.
 *     journal_open_resume() drops such a line (it was never acknowledged, even
 *     when all but its '\n' reached the disk) and truncates it away before
 *     appending. Any other damage fails with MS_INCOMPLETE.
 *   - One process at a time: the journal is held under an exclusive flock
 *     from create/open until journal_close(). Another holder gives MS_BUSY.
 *
 * Threads: journal_record() and journal_has() may be called from any number
 * of threads at once. journal_has() never waits for a record's fdatasync.
 * create/open/finish/close are for the owning thread, with no record or has
 * running.
 */

/* The format this code writes; a journal with a larger "version" is refused. */
#define JOURNAL_VERSION 1
/* The header's "journal" value, which marks a file as a restore journal. */
#define JOURNAL_MAGIC "mdlsafe-restore"

struct journal; /* opaque: one open, locked journal */

/* What an entry records as finished; its key names the thing. On disk the
 * kind is the name journal_kind_name gives ("chunk_done"), never a number. */
enum journal_kind {
	JOURNAL_TABLE_CREATED, /* key "DB.T": the table exists, empty or loaded */
	JOURNAL_CHUNK_DONE,    /* key: the data file's path in the backup */
	JOURNAL_KEYS_ADDED,    /* key "DB.T": its secondary indexes are back */
	JOURNAL_OBJECT_DONE,   /* key "KIND DB.NAME": a view, routine, trigger or event */
	JOURNAL_SWAPPED,       /* key "DB": --if-exists swap renamed the database in */
	JOURNAL_KIND_COUNT
};

/* "table_created", "chunk_done", ...; NULL for a value outside the enum. */
const char *journal_kind_name(enum journal_kind kind);

/*
 * Starts a new journal at path: creates the file exclusively (mode 0600),
 * locks it, writes header (a JSON object, borrowed; see the contract for the
 * keys added) as line 1, and fsyncs the file and its directory. Fails with
 * MS_USAGE when path exists (an earlier restore was interrupted: the message
 * says to use --resume or delete the journal) or its directory is missing or
 * not writable, MS_BUSY when another process got the new file's lock first,
 * MS_IO when writing fails (the file is then removed). On success *out is the
 * caller's (journal_close).
 */
int journal_create(const char *path, json_t *header, struct journal **out, struct ms_err *e);

/*
 * Takes over an existing journal to continue its restore: locks it, reads
 * every line, drops a torn last line, and makes the entries visible to
 * journal_has(). *header_out receives the header object (new reference: the
 * caller json_decref()s it), including "journal" and "version". Fails with
 * MS_USAGE when path does not exist (nothing to resume), is not a restore
 * journal, or comes from a newer mdlsafe; MS_BUSY when another process holds
 * it; MS_INCOMPLETE when a line other than the last is damaged (the message
 * names the line) or the header was never completely written. On success
 * *out is the caller's (journal_close); on failure *out and *header_out are
 * NULL.
 */
int journal_open_resume(const char *path, struct journal **out, json_t **header_out,
			struct ms_err *e);

/*
 * Appends the entry {"k": kind, "v": key} and fdatasyncs it; returns once it
 * is durable. kind must be one of the enum and key valid UTF-8 (MS_INTERNAL
 * otherwise). An entry journal_has() already knows is not written again.
 * On a write failure the partial line is truncated away (MS_IO naming the
 * journal); if that or the fdatasync fails the journal's state on disk is
 * unknown, and every later record fails too. Fails after journal_finish().
 */
int journal_record(struct journal *j, enum journal_kind kind, const char *key, struct ms_err *e);

/* True when the entry (kind, key) was read at resume or recorded since.
 * Constant time on average. */
bool journal_has(const struct journal *j, enum journal_kind kind, const char *key);

/* Distinct entries known, read at resume plus recorded since. */
unsigned long journal_count(const struct journal *j);

/* Borrowed: the path the journal was created or opened with. */
const char *journal_path(const struct journal *j);

/*
 * Ends recording. With remove (the restore succeeded) the journal is unlinked,
 * while still locked, and its directory fsynced; a failure there is MS_IO and
 * the message says the restore itself is complete. Without remove the file
 * stays for a later --resume. Either way journal_record() fails afterwards.
 */
int journal_finish(struct journal *j, bool remove, struct ms_err *e);

/* Releases the lock and frees j. NULL is a no-op. */
void journal_close(struct journal *j);

#endif
