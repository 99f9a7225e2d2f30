/* base/log.c - one formatted line per event, written with one write(2). */
#include "base/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define COMPONENT_MAX 32

static const char *const level_names[LOG_LEVEL_COUNT] = {
	[LOG_LEVEL_DEBUG] = "DEBUG",
	[LOG_LEVEL_INFO] = "INFO",
	[LOG_LEVEL_WARN] = "WARN",
	[LOG_LEVEL_ERROR] = "ERROR",
};

/* The lock orders whole lines on the fd and guards the component name;
 * the level and fd are atomics so a filtered-out call takes no lock. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_component[COMPONENT_MAX] = "refute";
static atomic_int log_min = LOG_LEVEL_INFO;
static atomic_int log_fd = 2;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;

int
rf_log_level_parse(const char *name, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {
		{ "debug", LOG_LEVEL_DEBUG },
		{ "info", LOG_LEVEL_INFO },
		{ "warn", LOG_LEVEL_WARN },
		{ "warning", LOG_LEVEL_WARN },
		{ "error", LOG_LEVEL_ERROR },
	};
	if (name == NULL) {
		return -1;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(name, names[i].name) == 0) {
			*out = names[i].level;
			return 0;
		}
	}
	return -1;
}

const char *
rf_log_level_name(enum log_level level)
{
	if ((int)level < 0 || level >= LOG_LEVEL_COUNT) {
		return "?";
	}
	return level_names[level];
}

/* The environment has the last word on the level, so an operator can get
 * debug output from any node without a new flag. */
static void
apply_env(void)
{
	enum log_level lv;
	if (rf_log_level_parse(getenv("RF_LOG_LEVEL"), &lv) == 0) {
		atomic_store(&log_min, (int)lv);
	}
}

void
rf_log_init(const char *component, enum log_level min_level)
{
	pthread_once(&log_once, apply_env);
	if (component == NULL || component[0] == '\0') {
		component = "refute";
	}
	if ((int)min_level < 0 || min_level >= LOG_LEVEL_COUNT) {
		min_level = LOG_LEVEL_INFO;
	}
	pthread_mutex_lock(&log_lock);
	snprintf(log_component, sizeof(log_component), "%s", component);
	atomic_store(&log_min, (int)min_level);
	apply_env();
	pthread_mutex_unlock(&log_lock);
}

void
rf_log_set_fd(int fd)
{
	/* Taking the lock means no line is half-written to the old fd when
	 * this returns, so the caller may close it right away. */
	pthread_mutex_lock(&log_lock);
	atomic_store(&log_fd, fd);
	pthread_mutex_unlock(&log_lock);
}

int
rf_log_enabled(enum log_level level)
{
	pthread_once(&log_once, apply_env);
	return (int)level >= atomic_load(&log_min);
}

/* "2026-11-25T13:20:00.123Z"; 25 bytes with the terminator. */
static void
format_time(char out[32])
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

/* One event must stay one line: a newline or escape sequence inside a
 * message (often text that came from a peer) would forge extra lines. */
static void
sanitize(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f) {
			s[i] = '?';
		}
	}
}

static void
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0) {
			if (errno == EINTR) {
				continue;
			}
			return; /* nowhere left to report a failing log */
		}
		buf += w;
		len -= (size_t)w;
	}
}

void
rf_log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	if (!rf_log_enabled(level)) {
		return;
	}
	int saved_errno = errno;
	char line[LOG_LINE_MAX];
	char ts[32];
	format_time(ts);

	pthread_mutex_lock(&log_lock);
	int head = snprintf(line, sizeof(line), "%s %-5s %s: ", ts,
	    rf_log_level_name(level), log_component);
	/* The head is short (time, level, a 31-byte name): it always fits. */
	size_t room = sizeof(line) - (size_t)head - 1; /* keep 1 for '\n' */
	int body = vsnprintf(line + head, room + 1, fmt, ap);
	size_t blen = body < 0 ? 0 : (size_t)body;
	if (blen > room) {
		blen = room;
		memcpy(line + head + blen - 3, "...", 3);
	}
	sanitize(line + head, blen);
	size_t len = (size_t)head + blen;
	line[len++] = '\n';
	write_all(atomic_load(&log_fd), line, len);
	pthread_mutex_unlock(&log_lock);
	errno = saved_errno;
}

void
rf_log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rf_log_vmsg(level, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------ */
/* Rate-limited lines                                                   */
/* ------------------------------------------------------------------ */

static pthread_mutex_t limit_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_ullong limit_total;

static unsigned long long
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000ULL +
	    (unsigned long long)ts.tv_nsec / 1000000ULL;
}

void
rf_log_limited(struct log_limit *l, enum log_level level, const char *fmt, ...)
{
	if (!rf_log_enabled(level)) {
		return;
	}
	unsigned long long now = mono_ms(), pending = 0;
	unsigned window = l->window_ms ? l->window_ms : LOG_LIMIT_WINDOW_MS;
	unsigned burst = l->burst ? l->burst : LOG_LIMIT_BURST;
	bool write_it;
	pthread_mutex_lock(&limit_lock);
	if (!l->started || now - l->start_ms >= window) {
		pending = l->suppressed;
		l->suppressed = 0;
		l->in_window = 0;
		l->start_ms = now;
		l->started = 1;
	}
	write_it = l->in_window < burst;
	if (write_it) {
		l->in_window++;
	} else {
		l->suppressed++;
		atomic_fetch_add(&limit_total, 1);
	}
	pthread_mutex_unlock(&limit_lock);
	if (pending > 0) {
		rf_log_msg(level, "... %llu similar lines suppressed (%s)", pending,
		    l->site != NULL ? l->site : "?");
	}
	if (write_it) {
		va_list ap;
		va_start(ap, fmt);
		rf_log_vmsg(level, fmt, ap);
		va_end(ap);
	}
}

unsigned long long
rf_log_suppressed_total(void)
{
	return atomic_load(&limit_total);
}
