/* Secondary indexes after the data: a CREATE TABLE without its plain KEYs,
 * and the ALTER that adds them once the rows are in (sorted index build). */
#ifndef MDLSAFE_RESTORE_KEYS_H
#define MDLSAFE_RESTORE_KEYS_H

#include <stddef.h>

/*
 * Reads a CREATE TABLE as SHOW CREATE TABLE prints it (one definition per
 * line, two spaces in front) and takes out its plain secondary indexes
 * ("  KEY `name` (...)"). UNIQUE, FULLTEXT, SPATIAL and the primary key stay:
 * they shape the data or cannot be built as cheaply later.
 *
 * Returns NULL (nothing to defer, or not safe to) when the table has no
 * plain KEY, is not InnoDB, has a FOREIGN KEY (it needs its index while
 * rows arrive) or has an AUTO_INCREMENT column that only a plain KEY
 * indexes (the server refuses such a table). Otherwise returns the new
 * statement (caller frees) and sets *adds to "ADD KEY `a` (`x`), ADD KEY
 * ..." (caller frees). Pure.
 */
char *restore_keys_defer(const char *stmt, size_t len, char **adds);

#endif
