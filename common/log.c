/* log: stderr (foreground) or syslog (daemon), filtered by level; when
 * stderr is systemd's journal, lines carry a "<N>" priority prefix and no
 * timestamp of ours (sd-daemon(3): journald stamps them). Every
 * line is escaped as a whole once formatted (escape.h), so a name, an
 * error or evidence that came from a guest or a client cannot forge a
 * line or reach a terminal as controls, whatever its reader let through. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>

#include "escape.h"

/* A formatted message is cut (on a character) at this many bytes. */
#define LOG_MSG_MAX 4096

/* Read by every thread, set at start-up and by a reload (SIGHUP). */
static enum log_level log_level = LOG_LVL_INFO;
static bool log_syslog;
static bool log_journal;
static const char *log_ident = "isc";
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
/* The escaped line, under log_lock (too big for every thread's stack). */
static char log_line[ESCAPE_SIZE(LOG_MSG_MAX)];

static const struct {
	const char *name;
	int prio;
} log_levels[] = {
	[LOG_LVL_CRIT] = { "critical", LOG_CRIT },   [LOG_LVL_ERR] = { "error", LOG_ERR },
	[LOG_LVL_WARN] = { "warning", LOG_WARNING }, [LOG_LVL_INFO] = { "info", LOG_INFO },
	[LOG_LVL_DEBUG] = { "debug", LOG_DEBUG },
};

bool log_journal_matches(const char *journal_stream, unsigned long long dev, unsigned long long ino)
{
	unsigned long long d, i;
	char tail;

	return journal_stream != NULL &&
		sscanf(journal_stream, "%llu:%llu%c", &d, &i, &tail) == 2 && d == dev && i == ino;
}

void log_init(const char *ident, enum log_level level, bool to_syslog)
{
	struct stat st;

	log_ident = ident;
	log_set_level(level);
	log_syslog = to_syslog;
	/* systemd sets JOURNAL_STREAM to the device and inode of the stream
	 * it connected; stderr redirected elsewhere since no longer matches. */
	log_journal = !to_syslog && fstat(2, &st) == 0 &&
		log_journal_matches(getenv("JOURNAL_STREAM"), (unsigned long long)st.st_dev,
				    (unsigned long long)st.st_ino);
	if (to_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_level(enum log_level level)
{
	__atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

int log_parse_level(const char *s, enum log_level *out)
{
	for (size_t i = LOG_LVL_ERR; i < sizeof(log_levels) / sizeof(log_levels[0]); i++) {
		if (strcmp(s, log_levels[i].name) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

__attribute__((format(printf, 2, 0))) static void log_v(enum log_level level, const char *fmt,
							va_list ap)
{
	char ts[32], msg[LOG_MSG_MAX];
	struct tm tm;
	time_t now;
	int n;

	if (level > __atomic_load_n(&log_level, __ATOMIC_RELAXED))
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	/* Cut short: end on a whole character (the byte after the last one
	 * kept is still there to say whether it continues a sequence). */
	if ((size_t)n >= sizeof(msg))
		n = (int)escape_cut(msg, sizeof(msg) - 1, sizeof(msg) - 2);
	pthread_mutex_lock(&log_lock);
	escape_buf(log_line, sizeof(log_line), msg, (size_t)n, 0);
	if (log_syslog) {
		syslog(log_levels[level].prio, "%s", log_line);
	} else if (log_journal) {
		fprintf(stderr, "<%d>%s\n", log_levels[level].prio, log_line);
	} else {
		now = time(NULL);
		gmtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		fprintf(stderr, "%s %s[%s]: %s\n", ts, log_ident, log_levels[level].name, log_line);
	}
	pthread_mutex_unlock(&log_lock);
}

#define LOG_FN(fn, lvl)               \
	void fn(const char *fmt, ...) \
	{                             \
		va_list ap;           \
		va_start(ap, fmt);    \
		log_v(lvl, fmt, ap);  \
		va_end(ap);           \
	}

LOG_FN(log_crit, LOG_LVL_CRIT)
LOG_FN(log_err, LOG_LVL_ERR)
LOG_FN(log_warn, LOG_LVL_WARN)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_debug, LOG_LVL_DEBUG)
