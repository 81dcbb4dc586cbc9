/* A growable NUL-terminated byte buffer with a hard size cap, for building
 * SQL text and output lines without fixed-size truncation surprises. */
#ifndef MDLSAFE_BUF_H
#define MDLSAFE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;   /* always NUL-terminated once anything was added */
	size_t len;
	size_t alloc;
	size_t cap;   /* 0: default cap (64 MiB) */
	int failed;   /* sticky: an append ran out of memory or hit the cap */
};

#define BUF_INIT { NULL, 0, 0, 0, 0 }

void buf_init(struct buf *b, size_t cap);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);

/* Appends; on failure sets b->failed and leaves the content as it was.
 * Check b->failed once after a series of appends. */
void buf_add(struct buf *b, const void *data, size_t len);
void buf_adds(struct buf *b, const char *s);
void buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vaddf(struct buf *b, const char *fmt, va_list ap);
void buf_addch(struct buf *b, char c);

/* Makes room for extra more bytes (and the NUL) without adding any, so a
 * caller can encode straight into data + len and then advance len itself.
 * Returns -1 and sets b->failed when out of memory or over the cap. */
int buf_reserve(struct buf *b, size_t extra);

/* Returns the content ("" when empty); borrowed, valid until the next append. */
const char *buf_str(const struct buf *b);

/* Hands the allocated string to the caller (who frees it) and resets b. */
char *buf_detach(struct buf *b);

/* A new string formatted like printf, the caller's to free; NULL when out of
 * memory. For one-off names and paths where no buf is being built. */
char *ms_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
