/* progress: the live line on a terminal, milestone lines on a pipe
 * (progress.h). One live line per process can be on the screen: the one
 * progress_hold(NULL) clears before a log line. */
#include "progress.h"

#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "escape.h"

/* The progress whose live line is on the screen now, if any. */
static struct progress *progress_live;

int64_t progress_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void progress_init_at(struct progress *p, FILE *out, bool is_tty, bool quiet, const char *what,
		      int64_t now_ms)
{
	memset(p, 0, sizeof(*p));
	p->pg_out = out;
	p->pg_tty = is_tty;
	p->pg_quiet = quiet;
	p->pg_cols = 80;
	p->pg_t0_ms = now_ms;
	escape_str(p->pg_what, sizeof(p->pg_what), what ? what : "", 0);
}

void progress_init(struct progress *p, FILE *out, bool quiet, const char *what)
{
	struct winsize ws;
	int fd = fileno(out);
	bool tty = fd >= 0 && isatty(fd);

	progress_init_at(p, out, tty, quiet, what, progress_now_ms());
	if (tty && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		p->pg_cols = ws.ws_col;
}

/* "WHAT: TEXT (Ns)" into buf; the live line's is cut to max characters
 * (a character: a byte that does not continue a UTF-8 sequence). */
static void progress_line(const struct progress *p, int64_t now_ms, char *buf, size_t size,
			  size_t max)
{
	int64_t s = (now_ms - p->pg_t0_ms) / 1000;
	size_t chars = 0, i;

	snprintf(buf, size, "%s%s%s (%llds)", p->pg_what, p->pg_what[0] ? ": " : "", p->pg_text,
		 (long long)(s < 0 ? 0 : s));
	for (i = 0; buf[i] != '\0'; i++)
		if (((unsigned char)buf[i] & 0xc0) != 0x80 && ++chars > max)
			break;
	buf[i] = '\0';
}

static void progress_draw(struct progress *p, int64_t now_ms)
{
	char line[sizeof(p->pg_what) + PROGRESS_TEXT_MAX + 32];

	progress_line(p, now_ms, line, sizeof(line), p->pg_cols > 1 ? p->pg_cols - 1 : 1);
	/* \r to the start of the row, the line, then erase what an older,
	 * longer one left to its right. */
	fprintf(p->pg_out, "\r%s\033[K", line);
	fflush(p->pg_out);
	p->pg_drawn = true;
	progress_live = p;
}

static void progress_say(struct progress *p, int64_t now_ms)
{
	char line[sizeof(p->pg_what) + PROGRESS_TEXT_MAX + 32];

	progress_line(p, now_ms, line, sizeof(line), sizeof(line));
	fprintf(p->pg_out, "%s\n", line);
	fflush(p->pg_out);
}

__attribute__((format(printf, 3, 0))) static void progress_vstep(struct progress *p, int64_t now_ms,
								 const char *fmt, va_list ap)
{
	char raw[PROGRESS_TEXT_MAX], text[PROGRESS_TEXT_MAX];

	if (p->pg_quiet)
		return;
	vsnprintf(raw, sizeof(raw), fmt, ap);
	escape_str(text, sizeof(text), raw, 0);
	if (!p->pg_tty && strcmp(text, p->pg_text) == 0)
		return; /* a pipe hears each milestone once */
	memcpy(p->pg_text, text, sizeof(text));
	if (p->pg_tty)
		progress_draw(p, now_ms);
	else
		progress_say(p, now_ms);
}

void progress_row_at(struct progress *p, int64_t now_ms, const char *fmt, ...)
{
	char raw[PROGRESS_TEXT_MAX], line[sizeof(p->pg_what) + PROGRESS_TEXT_MAX + 32];
	va_list ap;

	va_start(ap, fmt);
	if (!p->pg_tty) {
		progress_vstep(p, now_ms, fmt, ap);
		va_end(ap);
		return;
	}
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	if (p->pg_quiet)
		return;
	escape_str(p->pg_text, sizeof(p->pg_text), raw, 0);
	progress_line(p, now_ms, line, sizeof(line), p->pg_cols > 1 ? p->pg_cols - 1 : 1);
	fprintf(p->pg_out, "\r%s\033[K\n", line);
	fflush(p->pg_out);
}

void progress_rows_up(const struct progress *p, size_t n)
{
	if (!p->pg_quiet && p->pg_tty && n > 0) {
		fprintf(p->pg_out, "\033[%zuA", n);
		fflush(p->pg_out);
	}
}

void progress_step_at(struct progress *p, int64_t now_ms, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	progress_vstep(p, now_ms, fmt, ap);
	va_end(ap);
}

void progress_step(struct progress *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	progress_vstep(p, progress_now_ms(), fmt, ap);
	va_end(ap);
}

void progress_tick_at(struct progress *p, int64_t now_ms)
{
	if (!p->pg_quiet && p->pg_tty && p->pg_text[0] != '\0')
		progress_draw(p, now_ms);
}

void progress_tick(struct progress *p)
{
	progress_tick_at(p, progress_now_ms());
}

void progress_hold(struct progress *p)
{
	if (p == NULL)
		p = progress_live;
	if (p == NULL || !p->pg_drawn)
		return;
	fputs("\r\033[K", p->pg_out);
	fflush(p->pg_out);
	p->pg_drawn = false;
	if (progress_live == p)
		progress_live = NULL;
}

void progress_end_at(struct progress *p, int64_t now_ms, const char *text)
{
	if (p->pg_quiet)
		return;
	progress_hold(p);
	if (text == NULL)
		return;
	escape_str(p->pg_text, sizeof(p->pg_text), text, 0);
	progress_say(p, now_ms);
}

void progress_end(struct progress *p, const char *text)
{
	progress_end_at(p, progress_now_ms(), text);
}
