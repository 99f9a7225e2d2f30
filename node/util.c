/*
 * node/util.c - the small helpers every node and the command line share:
 * clocks, a bounded whole-file reader and short hex for log lines. One
 * copy each, so a fix (EINTR, a file that grows while read, a clock that
 * steps) is made once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "node/node.h"

/* ------------------------------------------------------------------ */
/* Clocks                                                               */
/* ------------------------------------------------------------------ */

static uint64_t
clock_us(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t
node_wall_ms(void)
{
	return clock_us(CLOCK_REALTIME) / 1000;
}

uint64_t
node_wall_us(void)
{
	return clock_us(CLOCK_REALTIME);
}

uint64_t
node_mono_ms(void)
{
	return clock_us(CLOCK_MONOTONIC) / 1000;
}

uint64_t
node_mono_us(void)
{
	return clock_us(CLOCK_MONOTONIC);
}

double
node_mono_s(void)
{
	return (double)clock_us(CLOCK_MONOTONIC) * 1e-6;
}

double
node_seconds_since(uint64_t mono_us)
{
	uint64_t now = node_mono_us();
	return now > mono_us ? (double)(now - mono_us) * 1e-6 : 0.0;
}

uint64_t
node_deadline(uint64_t ms)
{
	uint64_t now = node_mono_ms();
	return ms > UINT64_MAX - now ? UINT64_MAX : now + ms;
}

uint64_t
node_deadline_left(uint64_t deadline)
{
	uint64_t now = node_mono_ms();
	return deadline > now ? deadline - now : 0;
}

bool
node_deadline_passed(uint64_t deadline)
{
	return node_mono_ms() >= deadline;
}

void
node_sleep_ms(uint64_t ms, volatile sig_atomic_t *stop)
{
	/* In short steps, so a stop request is seen within 50 ms. */
	uint64_t end = node_deadline(ms);
	while (stop == NULL || !*stop) {
		uint64_t left = node_deadline_left(end);
		if (left == 0) {
			return;
		}
		uint64_t step = left < 50 ? left : 50;
		struct timespec ts = { 0, (long)step * 1000000L };
		nanosleep(&ts, NULL);
	}
}

/* ------------------------------------------------------------------ */
/* Files                                                                */
/* ------------------------------------------------------------------ */

int
node_file_read(const char *path, size_t max, uint8_t **buf, size_t *len,
    struct rf_errinfo *ei)
{
	if (max > SIZE_MAX / 4) {
		max = SIZE_MAX / 4; /* so that max + 2 never wraps */
	}
	/* O_NONBLOCK: opening a FIFO must not wait for a writer (it is
	 * refused below); reading a regular file ignores the flag. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		return rf_errf(ei, errno == ENOENT ? RF_ERR_NOTFOUND : RF_ERR_IO,
		    "cannot open '%s': %s", path, strerror(errno));
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return rf_errf(ei, RF_ERR_IO, "'%s' is not a regular file", path);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return rf_errf(ei, RF_ERR_RANGE, "'%s' is %lld bytes, over the "
		    "limit of %zu", path, (long long)st.st_size, max);
	}
	/* The size is a hint: the file may grow or shrink while read. Read
	 * to the end, never past max (+1 byte, to see that it grew over). */
	size_t cap = (size_t)st.st_size + 1;
	uint8_t *b = malloc(cap + 1);
	size_t got = 0;
	int err = b != NULL ? RF_OK : rf_errf(ei, RF_ERR_NOMEM,
	    "out of memory reading '%s'", path);
	while (err == RF_OK) {
		if (got == cap) {
			if (cap > max) {
				err = rf_errf(ei, RF_ERR_RANGE, "'%s' grew over the "
				    "limit of %zu bytes while read", path, max);
				break;
			}
			size_t ncap = cap <= max / 2 ? cap * 2 : max + 1;
			uint8_t *nb = realloc(b, ncap + 1);
			if (nb == NULL) {
				err = rf_errf(ei, RF_ERR_NOMEM, "out of memory "
				    "reading '%s'", path);
				break;
			}
			b = nb;
			cap = ncap;
		}
		ssize_t r = read(fd, b + got, cap - got);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r < 0) {
			err = rf_errf(ei, RF_ERR_IO, "cannot read '%s': %s", path,
			    strerror(errno));
		} else if (r == 0) {
			break;
		} else {
			got += (size_t)r;
		}
	}
	close(fd);
	if (err == RF_OK && got > max) {
		err = rf_errf(ei, RF_ERR_RANGE, "'%s' grew over the limit of %zu "
		    "bytes while read", path, max);
	}
	if (err != RF_OK) {
		free(b);
		return err;
	}
	b[got] = '\0';
	*buf = b;
	*len = got;
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Hex                                                                  */
/* ------------------------------------------------------------------ */

void
node_short_hex(const uint8_t *b, char out[NODE_SHORT_LEN])
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < (NODE_SHORT_LEN - 1) / 2; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[NODE_SHORT_LEN - 1] = '\0';
}
