/* The binary log as files: event headers, scanning a file event by event,
 * and the archive's index (DIR/index.json) that `binlog` writes and
 * `restore --until` and `verify` read. */
#ifndef MDLSAFE_BINLOG_H
#define MDLSAFE_BINLOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"

#define BINLOG_MAGIC "\xfe\x62\x69\x6e"
#define BINLOG_MAGIC_LEN 4
#define BINLOG_HEADER_LEN 19

enum {
	BINLOG_QUERY = 2,
	BINLOG_STOP = 3,
	BINLOG_ROTATE = 4,
	BINLOG_FORMAT_DESCRIPTION = 15,
	BINLOG_XID = 16,
	BINLOG_HEARTBEAT = 27,
	BINLOG_GTID = 162,
	BINLOG_FLAG_ARTIFICIAL = 0x20,
};

/* The 19-byte common header of every event. */
struct binlog_header {
	uint32_t when; /* seconds since the epoch */
	uint8_t type;
	uint32_t server_id;
	uint32_t len;	  /* of the whole event, header and checksum included */
	uint32_t log_pos; /* where the event ends in its file; 0 for artificial ones */
	uint16_t flags;
};

struct binlog_gtid {
	uint32_t domain, server;
	uint64_t seq;
};

/* The last GTID of each domain: where a GTID replica would continue. */
#define BINLOG_GTID_DOMAINS 64
struct binlog_gtid_state {
	struct binlog_gtid v[BINLOG_GTID_DOMAINS];
	size_t n;
};

/* The entry of g's domain, or NULL. */
struct binlog_gtid *binlog_gtid_state_find(struct binlog_gtid_state *st, uint32_t domain);
/* Records g as its domain's last; -1 when there are too many domains. */
int binlog_gtid_state_set(struct binlog_gtid_state *st, const struct binlog_gtid *g);
/* "0-1-42,1-1-7" (a new string the caller frees; "" when empty), and back
 * (-1 when s is not such a list). */
char *binlog_gtid_state_str(const struct binlog_gtid_state *st);
int binlog_gtid_state_parse(const char *s, struct binlog_gtid_state *st);

/* Reads a header from at least BINLOG_HEADER_LEN bytes. */
void binlog_header_parse(const unsigned char *p, struct binlog_header *h);

/* The GTID of a GTID event (whole event in ev). */
void binlog_gtid_parse(const unsigned char *ev, const struct binlog_header *h, struct binlog_gtid *g);

/* "0-1-42" into g; -1 when s is not one GTID. */
int binlog_gtid_from_string(const char *s, struct binlog_gtid *g);

/* Whether the format description event ev (whole) says events carry a
 * 4-byte CRC32 at their end. */
bool binlog_fde_has_checksum(const unsigned char *ev, const struct binlog_header *h);

/* The file a ROTATE event names (whole event in ev), as a new string the
 * caller frees; NULL on a malformed event. */
char *binlog_rotate_target(const unsigned char *ev, const struct binlog_header *h, bool checksum);

/*
 * What one file holds, as the index records it: kept up to date while an
 * event at a time is added (binlog_info_add), so a file being written and a
 * file scanned from disk are summarised the same way.
 */
struct binlog_info {
	char *name;              /* in the archive: s<server_id>-<source> (format 2), or as the server named it
				    (format 1) */
	char *source;            /* the server's name for it, e.g. mariadb-bin.000003 */
	uint32_t server_id;      /* of the server it was archived from */
	unsigned long long from; /* the first event new to the archive: events before it (4 but in the
				    first file after a change of server) were archived from the
				    server before */
	unsigned long long size; /* bytes, magic included */
	char xxh3[17];		 /* of the whole file, once complete */
	bool has_gtid;
	struct binlog_gtid first_gtid, last_gtid;
	uint32_t first_time, last_time; /* of its events (0: none yet) */
	char *next;			/* the file its ROTATE names; NULL while none */
	bool checksum;			/* events end in a CRC32 (from its format description) */
	bool stopped;			/* ends with the server's STOP event */
	bool complete;
	/* Transaction boundaries, for a change of server: where the events
	 * outside a transaction end and the GTID of the last whole transaction
	 * (a transaction cut off by a stop is asked for again, whole, from the
	 * next server). */
	unsigned long long group_end;
	bool in_group, standalone, has_done;
	struct binlog_gtid done_gtid;
};

void binlog_info_release(struct binlog_info *f);
/* Accounts for one whole event ev (header h) appended at offset. Fails only
 * on out of memory (a ROTATE's name). */
int binlog_info_add(struct binlog_info *f, const unsigned char *ev, const struct binlog_header *h, struct ms_err *e);

/*
 * Reads the binlog file at path from the magic on, event by event, calling
 * fn (may be NULL) for each whole one with its offset. Stops at the end or
 * at the first event that is cut short or out of step (its log_pos is not
 * where it ends): *good_end is then the offset after the last whole event,
 * which is where a torn file is cut back to. info (may be NULL) is filled
 * with what the whole events hold. Fails (MS_IO/MS_INCOMPLETE) only when the
 * file cannot be read or does not start with the binlog magic.
 */
typedef int (*binlog_event_fn)(void *ctx, const unsigned char *ev, const struct binlog_header *h,
			       unsigned long long offset, struct ms_err *e);
int binlog_scan_file(const char *path, unsigned long long *good_end, struct binlog_info *info, binlog_event_fn fn,
		     void *ctx, struct ms_err *e);

/* ---- the index ---------------------------------------------------------- */

#define BINLOG_INDEX "index.json"
#define BINLOG_PARTIAL_SUFFIX ".partial"

/* "2026-12-05T12:30:00Z" for the epoch seconds t; out has room for 21 bytes. */
void binlog_format_time(uint32_t t, char out[21]);
/* The inverse; -1 when s is not in that form. */
int binlog_parse_time(const char *s, uint32_t *t);

json_t *binlog_info_json(const struct binlog_info *f);
/* Fills f from one entry of the index; -1 with e on a malformed entry. */
int binlog_info_from_json(json_t *j, struct binlog_info *f, struct ms_err *e);

/* The name a file of server_id's is archived under: s<server_id>-<source>. */
char *binlog_archive_name(uint32_t server_id, const char *source);

/* The files an index lists, in order, the .partial (complete false) last.
 * Entries of a format-1 index get the index's server_id and their name as
 * source. The caller releases with binlog_entries_release. */
struct binlog_entries {
	struct binlog_info *v;
	size_t n;
};
int binlog_entries_load(json_t *index, struct binlog_entries *en, struct ms_err *e);
void binlog_entries_release(struct binlog_entries *en);

/* The first entry, in the archive's order, holding the server's file
 * `source` at byte pos (a backup's consistency point): the .partial too.
 * -1 when none. */
ssize_t binlog_entries_find_source(const struct binlog_entries *en, const char *source, unsigned long long pos);

/* Whether the archiver went on from prev to f by GTID: f is another
 * server's (a failover), or the server no longer had the file prev's
 * ROTATE names; f's new events start at its `from`. */
bool binlog_info_continues_by_gtid(const struct binlog_info *prev, const struct binlog_info *f);
/* Whether f continues prev with no event missing: the file prev's ROTATE
 * names, or a continuation by GTID. */
bool binlog_info_follows(const struct binlog_info *prev, const struct binlog_info *f);

/* Reads DIR/index.json (*out NULL when there is none yet). */
int binlog_index_load(const char *dir, json_t **out, struct ms_err *e);
/* Replaces DIR/index.json durably. */
int binlog_index_save(const char *dir, json_t *index, struct ms_err *e);

#endif

/* ---- checking an archive ------------------------------------------------ */

struct binlog_verify_result {
	size_t files; /* complete files checked (the .partial not counted) */
	unsigned long long bytes, transactions;
	char *first_bad_file; /* NULL when all good */
};

void binlog_verify_result_release(struct binlog_verify_result *r);

/*
 * Checks the archive dir without a server: every complete file listed
 * exists with its size and XXH3, reads as whole events to its end, and
 * names the next file, which is the next one listed (or the .partial); the
 * .partial reads as whole events; in each GTID domain the sequence numbers
 * go up by one from file to file and transaction to transaction. Fails
 * with MS_INCOMPLETE naming the first problem.
 */
int binlog_verify_archive(const char *dir, struct binlog_verify_result *r, struct ms_err *e);

/* True when dir looks like a binlog archive (has index.json, no manifest.json). */
bool binlog_is_archive(const char *dir);
