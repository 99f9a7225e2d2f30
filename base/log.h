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
 * Settings are process-wide. Before rf_log_init the component is "refute" and
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
void rf_log_init(const char *component, enum log_level min_level);

/*
 * Sends log lines to fd instead of standard error (2). The caller keeps
 * ownership of fd and must keep it open while logging may happen. For
 * tests and for a node that logs to a file.
 */
void rf_log_set_fd(int fd);

/* Parses "debug", "info", "warn" (or "warning") or "error", any case.
 * Returns 0 and sets *out, or -1 for anything else (*out untouched). */
int rf_log_level_parse(const char *name, enum log_level *out);

/* The level's name in upper case ("INFO"); "?" for out-of-range values. */
const char *rf_log_level_name(enum log_level level);

/* True when a message at level would be written (to skip costly
 * formatting of debug detail). */
int rf_log_enabled(enum log_level level);

/* Writes one line at level if level is at least the minimum. */
void rf_log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void rf_log_vmsg(enum log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/*
 * Rate-limited lines, for call sites a peer can trigger at will (a
 * rejected message, a refused request, a failing disk retried every
 * tick): without a limit, a flood of bad messages writes a line each and
 * fills the disk with log. Each call site has its own budget: at most
 * LOG_LIMIT_BURST lines per LOG_LIMIT_WINDOW_MS; the rest are counted,
 * and the first line written in a later window is preceded by one line
 *   "... 1234 similar lines suppressed (referee/serve.c:250)"
 * Use the macros below (each expands to a static struct log_limit for its
 * call site); rf_log_limited takes an explicit one (tests, or one budget
 * shared by several sites).
 */
#define LOG_LIMIT_BURST 10
#define LOG_LIMIT_WINDOW_MS 10000

struct log_limit {
	const char *site;       /* "file:line", for the summary line */
	unsigned window_ms;     /* 0: LOG_LIMIT_WINDOW_MS */
	unsigned burst;         /* 0: LOG_LIMIT_BURST */
	unsigned long long start_ms, in_window, suppressed; /* under a lock */
	int started;
};

void rf_log_limited(struct log_limit *l, enum log_level level, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

/* Lines suppressed by every limit so far (for tests and metrics). */
unsigned long long rf_log_suppressed_total(void);

#define LOG_STR2_(x) #x
#define LOG_STR_(x) LOG_STR2_(x)
#define log_limited_at_(level, ...) do {                                 \
		static struct log_limit log_site_ = {                    \
			__FILE__ ":" LOG_STR_(__LINE__), 0, 0, 0, 0, 0, 0 \
		};                                                       \
		rf_log_limited(&log_site_, level, __VA_ARGS__);             \
	} while (0)
#define log_info_limited(...) log_limited_at_(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn_limited(...) log_limited_at_(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error_limited(...) log_limited_at_(LOG_LEVEL_ERROR, __VA_ARGS__)

#define log_debug(...) rf_log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) rf_log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) rf_log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) rf_log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif /* RF_BASE_LOG_H */
