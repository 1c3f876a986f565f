/* log: the dock's tiny logging module. Messages start with their subject
 * ("node web1: ..."); the function that decides logs, once. */
#ifndef ISC_LOG_H
#define ISC_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_CRIT, LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_init(const char *ident, enum log_level level, bool to_syslog);
int log_parse_level(const char *s, enum log_level *out);
/* Change the level at run time (a reload); any thread may log meanwhile. */
void log_set_level(enum log_level level);
/* Whether JOURNAL_STREAM ("DEV:INO", systemd's) names this stream: then
 * log_init writes "<N>message" lines, no timestamp (journald adds one). */
bool log_journal_matches(const char *journal_stream, unsigned long long dev,
			 unsigned long long ino);

/* Critical: always shown, whatever the level (syslog LOG_CRIT). */
void log_crit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
