/* Unit tests for buf_add_visible: foreign text shown on a terminal can
 * neither act on the terminal nor start a line of its own. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/visible.h"

/* s made visible, all of it (the result is static: one check at a time). */
static const char *shown(const char *s)
{
	static char out[512];
	struct buf b = BUF_INIT;

	assert_false(buf_add_visible(&b, s, VISIBLE_ALL));
	assert_false(b.failed);
	snprintf(out, sizeof(out), "%s", buf_str(&b));
	buf_release(&b);
	return out;
}

static void test_plain_text_is_copied_as_it_is(void **state)
{
	(void)state;
	assert_string_equal(shown("SELECT * FROM `t` WHERE a = 'x\\y';"), "SELECT * FROM `t` WHERE a = 'x\\y';");
	assert_string_equal(shown(""), "");
}

static void test_escape_sequences_cannot_reach_the_terminal(void **state)
{
	(void)state;
	/* Erase the line, move up: what an attacker uses to rewrite a KILL line. */
	assert_string_equal(shown("SELECT 1 \x1b[2K\x1b[1A KILL 1;"), "SELECT 1 \\x1b[2K\\x1b[1A KILL 1;");
	assert_string_equal(shown("bell\a nul-less \x01 del\x7f"), "bell\\x07 nul-less \\x01 del\\x7f");
	assert_string_equal(shown("back\bspace"), "back\\x08space");
}

static void test_line_breaks_and_tabs_become_spaces(void **state)
{
	(void)state;
	assert_string_equal(shown("SELECT a,\n\tb\r\nFROM t\v\f"), "SELECT a,  b  FROM t  ");
}

static void test_c1_controls_and_bidi_overrides_are_escaped(void **state)
{
	(void)state;
	/* U+009B is CSI for terminals that take 8-bit controls. */
	assert_string_equal(shown("a\xc2\x9b" "2Kb"), "a\\u009b2Kb");
	assert_string_equal(shown("\xc2\x80\xc2\x9f"), "\\u0080\\u009f");
	/* U+202E RIGHT-TO-LEFT OVERRIDE, U+2066 LEFT-TO-RIGHT ISOLATE. */
	assert_string_equal(shown("x\xe2\x80\xae" "y\xe2\x81\xa6"), "x\\u202ey\\u2066");
	/* Neighbours that are plain characters stay: U+00A0, U+2029 are not
	 * in the lists, U+202F NARROW NO-BREAK SPACE neither. */
	assert_string_equal(shown("\xc2\xa0\xe2\x80\xaf"), "\xc2\xa0\xe2\x80\xaf");
}

static void test_valid_utf8_is_kept(void **state)
{
	(void)state;
	assert_string_equal(shown("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80"),
			    "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80");
}

static void test_invalid_utf8_is_escaped_byte_by_byte(void **state)
{
	(void)state;
	assert_string_equal(shown("a\xff" "b"), "a\\xffb");
	assert_string_equal(shown("cut \xe2\x80"), "cut \\xe2\\x80");          /* truncated */
	assert_string_equal(shown("\xc0\xaf"), "\\xc0\\xaf");                   /* overlong '/' */
	assert_string_equal(shown("\xe0\x80\x9b"), "\\xe0\\x80\\x9b");          /* overlong CSI */
	assert_string_equal(shown("\xed\xa0\x80"), "\\xed\\xa0\\x80");          /* surrogate */
	assert_string_equal(shown("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80"); /* above U+10FFFF */
	assert_string_equal(shown("\x9b" "2K"), "\\x9b2K");                     /* raw 8-bit CSI */
}

static void test_max_chars_cuts_between_characters(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	assert_true(buf_add_visible(&b, "abcdef", 3));
	assert_string_equal(buf_str(&b), "abc");
	buf_reset(&b);
	assert_false(buf_add_visible(&b, "abc", 3));
	assert_string_equal(buf_str(&b), "abc");
	buf_reset(&b);
	assert_true(buf_add_visible(&b, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 2));
	assert_string_equal(buf_str(&b), "\xe6\x97\xa5\xe6\x9c\xac");
	buf_reset(&b);
	/* An escape counts as one character and is never split. */
	assert_true(buf_add_visible(&b, "a\x1b[2K", 2));
	assert_string_equal(buf_str(&b), "a\\x1b");
	buf_reset(&b);
	assert_false(buf_add_visible(&b, NULL, VISIBLE_ALL));
	assert_string_equal(buf_str(&b), "");
	buf_release(&b);
}

static void test_fput_visible_writes_the_same(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	assert_true(fput_visible(f, "user\x1b]0;pwned\a@host", 10));
	fclose(f);
	assert_string_equal(text, "user\\x1b]0;pw"); /* ESC counts as one */
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_text_is_copied_as_it_is),
		cmocka_unit_test(test_escape_sequences_cannot_reach_the_terminal),
		cmocka_unit_test(test_line_breaks_and_tabs_become_spaces),
		cmocka_unit_test(test_c1_controls_and_bidi_overrides_are_escaped),
		cmocka_unit_test(test_valid_utf8_is_kept),
		cmocka_unit_test(test_invalid_utf8_is_escaped_byte_by_byte),
		cmocka_unit_test(test_max_chars_cuts_between_characters),
		cmocka_unit_test(test_fput_visible_writes_the_same),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
