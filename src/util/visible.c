/* Visible escapes for foreign text on a terminal; see visible.h. */
#include "util/visible.h"

#include <string.h>

/* Length of the valid UTF-8 sequence at p (one of 2..4 bytes, no overlong
 * form, no surrogate, at most U+10FFFF) and its code point, or 0. */
static size_t utf8_sequence(const unsigned char *p, uint32_t *cp)
{
	size_t n;
	uint32_t c, min;

	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2, c = p[0] & 0x1f, min = 0x80;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3, c = p[0] & 0x0f, min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4, c = p[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

static bool is_hidden_format(uint32_t c)
{
	return (c >= 0x80 && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

bool buf_add_visible(struct buf *b, const char *s, size_t max_chars)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t taken = 0;

	if (!s)
		return false;
	while (*p) {
		const unsigned char *run = p;
		uint32_t cp;
		size_t n;

		if (taken == max_chars)
			return true;
		/* Printable ASCII is the common case: copy it in runs. */
		while (*p >= 0x20 && *p < 0x7f && taken < max_chars)
			p++, taken++;
		if (p > run) {
			buf_add(b, run, (size_t)(p - run));
			continue;
		}
		if (*p < 0x80) {
			if (*p == '\t' || *p == '\n' || *p == '\r' || *p == '\v' || *p == '\f')
				buf_addch(b, ' ');
			else
				buf_addf(b, "\\x%02x", *p);
			p++;
		} else if ((n = utf8_sequence(p, &cp)) == 0) {
			buf_addf(b, "\\x%02x", *p);
			p++;
		} else {
			if (is_hidden_format(cp))
				buf_addf(b, "\\u%04x", (unsigned)cp);
			else
				buf_add(b, p, n);
			p += n;
		}
		taken++;
	}
	return false;
}

bool fput_visible(FILE *f, const char *s, size_t max_chars)
{
	struct buf b = BUF_INIT;
	bool cut = buf_add_visible(&b, s, max_chars);

	if (b.len)
		fwrite(b.data, 1, b.len, f);
	buf_release(&b);
	return cut;
}
