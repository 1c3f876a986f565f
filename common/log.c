/* log: stderr (foreground) or syslog (daemon), filtered by level. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static enum log_level log_level = LOG_LVL_INFO;
static bool log_syslog;
static const char *log_ident = "isc";
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const struct {
	const char *name;
	int prio;
} log_levels[] = {
	[LOG_LVL_CRIT] = { "critical", LOG_CRIT },   [LOG_LVL_ERR] = { "error", LOG_ERR },
	[LOG_LVL_WARN] = { "warning", LOG_WARNING }, [LOG_LVL_INFO] = { "info", LOG_INFO },
	[LOG_LVL_DEBUG] = { "debug", LOG_DEBUG },
};

void log_init(const char *ident, enum log_level level, bool to_syslog)
{
	log_ident = ident;
	log_level = level;
	log_syslog = to_syslog;
	if (to_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
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
	char ts[32];
	struct tm tm;
	time_t now;

	if (level > log_level)
		return;
	if (log_syslog) {
		vsyslog(log_levels[level].prio, fmt, ap);
		return;
	}
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s %s[%s]: ", ts, log_ident, log_levels[level].name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
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
