/* What the physical backup and restore agree on: which tables travel as
 * files, the names those files have in a data directory, and the manifest. */
#ifndef MDLSAFE_PHYSICAL_H
#define MDLSAFE_PHYSICAL_H

#include <stddef.h>

/* How one table travels. */
enum phys_kind {
	PHYS_INNODB,   /* .ibd + .cfg: FLUSH TABLES ... FOR EXPORT, IMPORT TABLESPACE */
	PHYS_MYISAM,   /* .MYD + .MYI under FLUSH TABLES ... WITH READ LOCK */
	PHYS_ARIA,     /* .MAD + .MAI, likewise (FOR EXPORT leaves Aria's pages in its cache) */
	PHYS_LOGICAL,  /* cannot be copied as files: dumped as SQL in logical/ */
};

#define PHYS_KIND_COUNT 4
/* The subdirectory holding the logical part (a complete logical backup). */
#define PHYS_LOGICAL_DIR "logical"
/* Suffix of the files holding SHOW CREATE TABLE as read while frozen. */
#define PHYS_DEFINITION_SUFFIX ".create.sql"

/* "innodb", "myisam", "aria", "logical". */
const char *phys_kind_name(enum phys_kind k);
/* -1 when s names no kind. */
int phys_kind_parse(const char *s);

/* The files of a table of kind k, by suffix: the data file first. */
const char *const *phys_suffixes(enum phys_kind k, size_t *n);

/* A database or table name as MariaDB names its files: ASCII letters,
 * digits and '_' stay, other ASCII characters become @00xx. NULL for names
 * with non-ASCII characters (their file names are not derived here: such
 * tables are dumped as SQL instead) or out of memory. Caller frees. */
char *phys_fs_name(const char *name);

#endif
