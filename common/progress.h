/* progress: what a long command shows while it waits (iscadm create --wait,
 * cleanse, snapshot; isc-image build and export). On a terminal one live
 * line, rewritten in place with \r and cleared at the end; on a pipe or a
 * file one line per milestone, each said once; the seconds since the start
 * on every line; nothing at all when quiet (--json, --quiet). The text is
 * escaped for the terminal (escape.h): a milestone may carry what a dock
 * or guest said. Pure but for the clock: the _at functions take the time,
 * so a test drives it with a FILE * and is_tty. */
#ifndef ISC_PROGRESS_H
#define ISC_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define PROGRESS_TEXT_MAX 160 /* a milestone's text, escaped, before the time */

struct progress {
	FILE *pg_out;
	bool pg_tty;                     /* a live line (else: milestone lines) */
	bool pg_quiet;                   /* print nothing */
	unsigned pg_cols;                /* the terminal's width: the live line stays on one row */
	int64_t pg_t0_ms;                /* the start, monotonic */
	char pg_what[96];                /* the subject: "create web1" */
	char pg_text[PROGRESS_TEXT_MAX]; /* the milestone now */
	bool pg_drawn;                   /* the live line is on the screen */
};

/* The monotonic clock in milliseconds: what the functions without _at use. */
int64_t progress_now_ms(void);

/* Start: `what` names the subject of every line. pg_cols defaults to 80
 * (progress_init_stream asks the terminal). */
void progress_init_at(struct progress *p, FILE *out, bool is_tty, bool quiet, const char *what,
		      int64_t now_ms);
/* The same for a stream: is_tty from isatty, the width from the terminal. */
void progress_init(struct progress *p, FILE *out, bool quiet, const char *what);

/* A milestone. On a pipe "WHAT: TEXT (Ns)" once per new text (a repeat is
 * not said again); on a terminal the live line redrawn. */
__attribute__((format(printf, 3, 4))) void progress_step_at(struct progress *p, int64_t now_ms,
							    const char *fmt, ...);
__attribute__((format(printf, 2, 3))) void progress_step(struct progress *p, const char *fmt, ...);
/* A row of a block redrawn together, a row per subject (lab up's nodes).
 * On a terminal the row is written whole with its newline ("WHAT: TEXT
 * (Ns)", cut to the width, old text erased) and not left live: the
 * caller moves up the block's rows (progress_rows_up) before drawing it
 * again. On a pipe the same as progress_step_at. */
__attribute__((format(printf, 3, 4))) void progress_row_at(struct progress *p, int64_t now_ms,
							   const char *fmt, ...);
/* On a terminal, the cursor up n rows (to the block's first); else nothing. */
void progress_rows_up(const struct progress *p, size_t n);
/* Time passes: on a terminal the live line redrawn with the new seconds;
 * on a pipe nothing. */
void progress_tick_at(struct progress *p, int64_t now_ms);
void progress_tick(struct progress *p);
/* Before other output on the same stream (a log line): the live line is
 * cleared, and drawn again at the next step or tick. NULL: whichever
 * progress has its live line on the screen (one per process). */
void progress_hold(struct progress *p);
/* The end: the live line cleared; then, when text is not NULL, a last
 * line "WHAT: TEXT (Ns)" that stays (terminal and pipe alike). */
void progress_end_at(struct progress *p, int64_t now_ms, const char *text);
void progress_end(struct progress *p, const char *text);

#endif
