/*
 * base/log.h - one line per event, for every Refute process.
 *
 *   2026-11-25T13:20:00.123Z INFO  referee: claim posted job=ab12cd34
 *
 * A line is: the UTC time with milliseconds, the level padded to five
 * columns, the process's component name, a colon and the message. Each
 * line is formatted into one buffer and written with a single write(2)
 * under a lock, so lines from different threads never interleave, and a
 * reader (a person, grep, a log shipper) can rely on one event per line:
 * control characters in a message (a newline in a peer's reason string)
 * are replaced by '?', and a message longer than LOG_LINE_MAX is cut and
 * ends in "...".
 *
 * Settings are process-wide. Before log_init the component is "refute" and
 * the level INFO; the environment variable RF_LOG_LEVEL (debug, info, warn
 * or error) overrides whatever level the program asks for, so an operator
 * can turn on debug output without a new flag.
 */
#ifndef RF_BASE_LOG_H
#define RF_BASE_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
	LOG_LEVEL_COUNT
};

/* The longest line written, newline included; longer messages are cut. */
#define LOG_LINE_MAX 2048

/*
 * Sets the component name (cut to 31 bytes; NULL or "" means "refute") and
 * the lowest level written. RF_LOG_LEVEL, when set to a valid name, wins
 * over min_level. May be called again (a child process after fork).
 */
void log_init(const char *component, enum log_level min_level);

/*
 * Sends log lines to fd instead of standard error (2). The caller keeps
 * ownership of fd and must keep it open while logging may happen. For
 * tests and for a node that logs to a file.
 */
void log_set_fd(int fd);

/* Parses "debug", "info", "warn" (or "warning") or "error", any case.
 * Returns 0 and sets *out, or -1 for anything else (*out untouched). */
int log_level_parse(const char *name, enum log_level *out);

/* The level's name in upper case ("INFO"); "?" for out-of-range values. */
const char *log_level_name(enum log_level level);

/* True when a message at level would be written (to skip costly
 * formatting of debug detail). */
int log_enabled(enum log_level level);

/* Writes one line at level if level is at least the minimum. */
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif /* RF_BASE_LOG_H */
