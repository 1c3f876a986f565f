/* Unit tests of common/progress.c: the live line on a terminal, milestone
 * lines on a pipe, quiet, escaping and the width of the live line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "progress.h"

struct capture {
	char *cp_buf;
	size_t cp_len;
	FILE *cp_f;
};

static void cap_open(struct capture *c)
{
	c->cp_buf = NULL;
	c->cp_len = 0;
	c->cp_f = open_memstream(&c->cp_buf, &c->cp_len);
	assert_non_null(c->cp_f);
}

/* What was written, valid until cap_free. */
static const char *cap_text(struct capture *c)
{
	fflush(c->cp_f);
	return c->cp_buf;
}

static void cap_free(struct capture *c)
{
	fclose(c->cp_f);
	free(c->cp_buf);
}

/* On a pipe: one line per new milestone with the seconds, a repeat said
 * once, ticks silent, the end's text a last line. */
static void test_pipe(void **st)
{
	struct capture c;
	struct progress p;
	(void)st;
	cap_open(&c);
	progress_init_at(&p, c.cp_f, false, false, "create web1", 1000);
	progress_step_at(&p, 1200, "created");
	progress_step_at(&p, 2500, "booting");
	progress_tick_at(&p, 3000);
	progress_step_at(&p, 3500, "booting"); /* the same: not again */
	progress_step_at(&p, 13999, "agent hello (%s)", "0.4.0");
	progress_end_at(&p, 43000, "healthy");
	assert_string_equal(cap_text(&c),
			    "create web1: created (0s)\n"
			    "create web1: booting (1s)\n"
			    "create web1: agent hello (0.4.0) (12s)\n"
			    "create web1: healthy (42s)\n");
	cap_free(&c);
}

/* On a terminal: one line rewritten with \r, erased to its right, redrawn
 * on a tick with the new seconds, cleared at the end. */
static void test_tty(void **st)
{
	struct capture c;
	struct progress p;
	(void)st;
	cap_open(&c);
	progress_init_at(&p, c.cp_f, true, false, "cleanse web1", 0);
	progress_tick_at(&p, 500); /* nothing to show yet */
	progress_step_at(&p, 1000, "shutdown");
	progress_tick_at(&p, 2100);
	progress_step_at(&p, 5000, "rekey");
	progress_end_at(&p, 9000, NULL);
	assert_string_equal(cap_text(&c),
			    "\rcleanse web1: shutdown (1s)\033[K"
			    "\rcleanse web1: shutdown (2s)\033[K"
			    "\rcleanse web1: rekey (5s)\033[K"
			    "\r\033[K");
	cap_free(&c);
	/* The end with a text: cleared, then a line that stays. */
	cap_open(&c);
	progress_init_at(&p, c.cp_f, true, false, "build micro", 0);
	progress_step_at(&p, 0, "initramfs");
	progress_end_at(&p, 3000, "built");
	assert_string_equal(cap_text(&c),
			    "\rbuild micro: initramfs (0s)\033[K"
			    "\r\033[K"
			    "build micro: built (3s)\n");
	cap_free(&c);
}

/* A log line in between: the live line is cleared first (hold), drawn
 * again at the next tick; hold(NULL) finds the live one. */
static void test_hold(void **st)
{
	struct capture c;
	struct progress p;
	(void)st;
	cap_open(&c);
	progress_init_at(&p, c.cp_f, true, false, "x", 0);
	progress_step_at(&p, 0, "a");
	progress_hold(NULL);
	fputs("log line\n", c.cp_f);
	progress_hold(NULL); /* nothing on the screen: nothing to clear */
	progress_tick_at(&p, 1000);
	progress_end_at(&p, 1000, NULL);
	assert_string_equal(cap_text(&c),
			    "\rx: a (0s)\033[K\r\033[Klog line\n"
			    "\rx: a (1s)\033[K\r\033[K");
	cap_free(&c);
}

/* Quiet (--json): nothing at all, in either mode. */
static void test_quiet(void **st)
{
	struct capture c;
	struct progress p;
	(void)st;
	for (int tty = 0; tty < 2; tty++) {
		cap_open(&c);
		progress_init_at(&p, c.cp_f, tty, true, "create web1", 0);
		progress_step_at(&p, 0, "created");
		progress_tick_at(&p, 1000);
		progress_hold(NULL);
		progress_end_at(&p, 2000, "healthy");
		assert_true(cap_text(&c) == NULL || cap_text(&c)[0] == '\0');
		cap_free(&c);
	}
}

/* What a dock or guest said is escaped; the live line keeps to one row of
 * the terminal, cut on a character. */
static void test_escape_width(void **st)
{
	struct capture c;
	struct progress p;
	const char *out;
	(void)st;
	cap_open(&c);
	progress_init_at(&p, c.cp_f, false, false, "n\033]0;", 0);
	progress_step_at(&p, 0, "row %s", "audit\033[2J\n");
	assert_string_equal(cap_text(&c), "n\\x1b]0;: row audit\\x1b[2J\\x0a (0s)\n");
	cap_free(&c);
	cap_open(&c);
	progress_init_at(&p, c.cp_f, true, false, "w", 0);
	p.pg_cols = 10;
	progress_step_at(&p, 0, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
	out = cap_text(&c);
	/* 9 characters: "w: " and six of the seven e-acutes. */
	assert_string_equal(out, "\rw: \xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\033[K");
	cap_free(&c);
}

/* Rows: on a terminal each written whole with its newline, the block
 * redrawn after the cursor goes up its rows; on a pipe milestone lines. */
static void test_rows(void **st)
{
	struct capture c;
	struct progress a, b;
	(void)st;
	cap_open(&c);
	progress_init_at(&a, c.cp_f, true, false, "shop-web", 0);
	progress_init_at(&b, c.cp_f, true, false, "shop-db", 0);
	progress_row_at(&a, 1000, "waiting");
	progress_row_at(&b, 1000, "create: %s", "luks");
	progress_rows_up(&a, 2);
	progress_row_at(&a, 4000, "running");
	progress_row_at(&b, 4000, "create: boot\x1b]");
	assert_string_equal(cap_text(&c),
			    "\rshop-web: waiting (1s)\033[K\n"
			    "\rshop-db: create: luks (1s)\033[K\n"
			    "\033[2A"
			    "\rshop-web: running (4s)\033[K\n"
			    "\rshop-db: create: boot\\x1b] (4s)\033[K\n");
	cap_free(&c);
	cap_open(&c);
	progress_init_at(&a, c.cp_f, false, false, "shop-web", 0);
	progress_row_at(&a, 1000, "waiting");
	progress_rows_up(&a, 1);
	progress_row_at(&a, 2000, "waiting");
	progress_row_at(&a, 3000, "running");
	assert_string_equal(cap_text(&c), "shop-web: waiting (1s)\nshop-web: running (3s)\n");
	cap_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipe),         cmocka_unit_test(test_tty),
		cmocka_unit_test(test_hold),         cmocka_unit_test(test_quiet),
		cmocka_unit_test(test_escape_width), cmocka_unit_test(test_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
