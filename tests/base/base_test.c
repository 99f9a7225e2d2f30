/*
 * tests/base/base_test.c - base/: the error codes and their detail lines
 * (rf.c), the bounded byte reader and the growing writer (bytes.c), and
 * the log (log.c): level names and the environment's override, one event
 * per line whatever the message holds, and the per-site rate limit.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/bytes.h"
#include "base/log.h"
#include "base/rf.h"
#include "tests/testlib.h"

/* ---- rf.c ------------------------------------------------------------- */

static void
test_strerror(void)
{
	/* Every code has its own text; anything else is "unknown error". */
	for (int i = 0; i < RF_ERR_COUNT; i++) {
		const char *s = rf_strerror(i);
		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		CU_ASSERT(strcmp(s, "unknown error") != 0);
		for (int j = 0; j < i; j++) {
			CU_ASSERT(strcmp(s, rf_strerror(j)) != 0);
		}
	}
	CU_ASSERT_STRING_EQUAL(rf_strerror(RF_OK), "success");
	CU_ASSERT_STRING_EQUAL(rf_strerror(RF_ERR_NOMEM), "out of memory");
	CU_ASSERT_STRING_EQUAL(rf_strerror(-1), "unknown error");
	CU_ASSERT_STRING_EQUAL(rf_strerror(RF_ERR_COUNT), "unknown error");
	CU_ASSERT_STRING_EQUAL(rf_strerror(1 << 30), "unknown error");
}

static void
test_errf(void)
{
	struct rf_errinfo ei;
	memset(&ei, 'x', sizeof(ei));
	CU_ASSERT_EQUAL(rf_errf(&ei, RF_ERR_FORMAT, "bad %s at %d", "magic", 7),
	    RF_ERR_FORMAT);
	CU_ASSERT_STRING_EQUAL(ei.msg, "bad magic at 7");
	/* No errinfo: the code comes back all the same. */
	CU_ASSERT_EQUAL(rf_errf(NULL, RF_ERR_RANGE, "ignored"), RF_ERR_RANGE);
	/* A message longer than the buffer is cut and terminated. */
	char longer[600];
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	rf_errf(&ei, RF_ERR_INVAL, "%s", longer);
	CU_ASSERT_EQUAL(strlen(ei.msg), sizeof(ei.msg) - 1);
}

static void
test_errctx(void)
{
	struct rf_errinfo ei;
	rf_errf(&ei, RF_ERR_SHAPE, "attribute 'pads' has 3 values");
	CU_ASSERT_EQUAL(rf_errctx(&ei, RF_ERR_SHAPE, "op %d (%s): ", 3,
	    "Conv"), RF_ERR_SHAPE);
	CU_ASSERT_STRING_EQUAL(ei.msg,
	    "op 3 (Conv): attribute 'pads' has 3 values");
	/* Nested context reads outermost first. */
	rf_errctx(&ei, RF_ERR_SHAPE, "model 'm': ");
	CU_ASSERT_STRING_EQUAL(ei.msg,
	    "model 'm': op 3 (Conv): attribute 'pads' has 3 values");
	/* Without a message yet, the code's text stands in for it. */
	memset(&ei, 0, sizeof(ei));
	rf_errctx(&ei, RF_ERR_NOMEM, "op 1: ");
	CU_ASSERT_STRING_EQUAL(ei.msg, "op 1: out of memory");
	/* A long old message is cut, never the prefix. */
	char longer[300];
	memset(longer, 'b', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	rf_errf(&ei, RF_ERR_INVAL, "%s", longer);
	rf_errctx(&ei, RF_ERR_INVAL, "prefix: ");
	CU_ASSERT_EQUAL(strncmp(ei.msg, "prefix: bbb", 11), 0);
	CU_ASSERT_EQUAL(strlen(ei.msg), sizeof(ei.msg) - 1);
	CU_ASSERT_EQUAL(rf_errctx(NULL, RF_ERR_IO, "x"), RF_ERR_IO);
}

static void
test_size_arith(void)
{
	size_t r = 42;
	CU_ASSERT(rf_size_mul(3, 5, &r) && r == 15);
	r = 42;
	CU_ASSERT(!rf_size_mul(SIZE_MAX / 2 + 1, 2, &r));
	CU_ASSERT_EQUAL(r, 42); /* untouched on overflow */
	CU_ASSERT(rf_size_add(SIZE_MAX - 1, 1, &r) && r == SIZE_MAX);
	r = 42;
	CU_ASSERT(!rf_size_add(SIZE_MAX, 1, &r));
	CU_ASSERT_EQUAL(r, 42);
}

/* ---- bytes.c: the reader ---------------------------------------------- */

static void
test_reader_values(void)
{
	static const uint8_t b[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
		0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0xff, 0xff, 0xff,
		0xff, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct rf_reader r;
	rf_reader_init(&r, b, sizeof(b));
	CU_ASSERT_EQUAL(rf_read_u8(&r), 0x01);
	CU_ASSERT_EQUAL(rf_read_u16(&r), 0x0302);
	CU_ASSERT_EQUAL(rf_read_u32(&r), 0x07060504u);
	CU_ASSERT_EQUAL(rf_read_u64(&r), 0x0f0e0d0c0b0a0908ull);
	CU_ASSERT_EQUAL(rf_read_i32(&r), -1);
	CU_ASSERT_EQUAL(rf_read_i64(&r), -2);
	CU_ASSERT_EQUAL(r.left, 0);
	CU_ASSERT_EQUAL(r.err, RF_OK);
}

static void
test_reader_bounds(void)
{
	static const uint8_t b[5] = { 1, 2, 3, 4, 5 };
	/* Each width, from every length short of it: zero, truncated, the
	 * cursor emptied, and never a read past the buffer (ASan). */
	for (size_t len = 0; len < 8; len++) {
		uint8_t *copy = malloc(len ? len : 1);
		CU_ASSERT_FATAL(copy != NULL);
		memcpy(copy, b, len < 5 ? len : 5);
		struct rf_reader r;
		rf_reader_init(&r, copy, len);
		uint64_t v = rf_read_u64(&r);
		CU_ASSERT_EQUAL(v, 0);
		CU_ASSERT_EQUAL(r.err, RF_ERR_TRUNCATED);
		CU_ASSERT_EQUAL(r.left, 0);
		if (len < 4) {
			rf_reader_init(&r, copy, len);
			CU_ASSERT_EQUAL(rf_read_u32(&r), 0);
			CU_ASSERT_EQUAL(r.err, RF_ERR_TRUNCATED);
		}
		free(copy);
	}
	/* Errors are sticky: a read that would fit after a failed one
	 * still gives nothing. */
	struct rf_reader r;
	rf_reader_init(&r, b, sizeof(b));
	CU_ASSERT_PTR_NULL(rf_read_bytes(&r, 6));
	CU_ASSERT_EQUAL(r.err, RF_ERR_TRUNCATED);
	CU_ASSERT_EQUAL(rf_read_u8(&r), 0);
	CU_ASSERT_PTR_NULL(rf_read_bytes(&r, 0));
	/* A huge length does not wrap around the pointer. */
	rf_reader_init(&r, b, sizeof(b));
	CU_ASSERT_EQUAL(rf_read_u8(&r), 1);
	CU_ASSERT_PTR_NULL(rf_read_bytes(&r, SIZE_MAX));
	CU_ASSERT_EQUAL(r.err, RF_ERR_TRUNCATED);
	/* Exactly what is left is fine; zero bytes at the end too. */
	rf_reader_init(&r, b, sizeof(b));
	const uint8_t *p = rf_read_bytes(&r, 5);
	CU_ASSERT_PTR_EQUAL(p, b);
	CU_ASSERT_PTR_NOT_NULL(rf_read_bytes(&r, 0));
	CU_ASSERT_EQUAL(r.err, RF_OK);
	CU_ASSERT_EQUAL(r.left, 0);
}

/* ---- bytes.c: the writer ---------------------------------------------- */

static void
test_writer(void)
{
	struct rf_writer w;
	rf_writer_init(&w, 1 << 20);
	rf_write_u8(&w, 0xab);
	rf_write_u16(&w, 0x0201);
	rf_write_u32(&w, 0x06050403u);
	rf_write_u64(&w, 0);
	rf_write_bytes(&w, "xyz", 3);
	rf_write_u64_at(&w, 7, 0x0e0d0c0b0a090807ull);
	uint8_t *buf = NULL;
	size_t len = 0;
	CU_ASSERT_EQUAL_FATAL(rf_writer_finish(&w, &buf, &len), RF_OK);
	static const uint8_t want[] = { 0xab, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
		11, 12, 13, 14, 'x', 'y', 'z' };
	CU_ASSERT_EQUAL(len, sizeof(want));
	CU_ASSERT(memcmp(buf, want, sizeof(want)) == 0);
	free(buf);
	/* The writer was reset: it can be finished again, empty. */
	CU_ASSERT_EQUAL(rf_writer_finish(&w, &buf, &len), RF_OK);
	CU_ASSERT_EQUAL(len, 0);
	CU_ASSERT_PTR_NOT_NULL(buf); /* a buffer to free, even empty */
	free(buf);
}

static void
test_writer_limits(void)
{
	struct rf_writer w;
	/* Growing past max is RF_ERR_RANGE, sticky, and finish frees. */
	rf_writer_init(&w, 10);
	rf_write_u64(&w, 1);
	rf_write_u16(&w, 2);
	CU_ASSERT_EQUAL(w.err, RF_OK);
	CU_ASSERT_EQUAL(w.len, 10);
	rf_write_u8(&w, 3);
	CU_ASSERT_EQUAL(w.err, RF_ERR_RANGE);
	CU_ASSERT_EQUAL(w.len, 10);
	uint8_t *buf = (uint8_t *)&w;
	size_t len = 99;
	CU_ASSERT_EQUAL(rf_writer_finish(&w, &buf, &len), RF_ERR_RANGE);
	CU_ASSERT_PTR_EQUAL(buf, (uint8_t *)&w); /* untouched */
	CU_ASSERT_EQUAL(len, 99);
	CU_ASSERT_PTR_NULL(w.buf);
	/* A length whose sum with len overflows. */
	rf_writer_init(&w, SIZE_MAX);
	rf_write_u8(&w, 1);
	rf_write_bytes(&w, "", SIZE_MAX);
	CU_ASSERT_EQUAL(w.err, RF_ERR_RANGE);
	rf_writer_fini(&w);
	/* Patching outside what was written is refused. */
	rf_writer_init(&w, 100);
	rf_write_u32(&w, 0);
	rf_write_u64_at(&w, 0, 1);
	CU_ASSERT_EQUAL(w.err, RF_ERR_INVAL);
	rf_writer_fini(&w);
	rf_writer_init(&w, 100);
	rf_write_u64(&w, 0);
	rf_write_u64_at(&w, 1, 1);
	CU_ASSERT_EQUAL(w.err, RF_ERR_INVAL);
	rf_write_u64_at(&w, SIZE_MAX, 1);
	rf_writer_fini(&w);
}

/* Every allocation of an encoding failing in turn: RF_ERR_NOMEM from
 * finish, the partial buffer freed. */
static int
writer_op(void *ctx)
{
	(void)ctx;
	struct rf_writer w;
	rf_writer_init(&w, 1 << 20);
	for (int i = 0; i < 300; i++) {
		rf_write_u64(&w, (uint64_t)i);
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	int err = rf_writer_finish(&w, &buf, &len);
	if (err != RF_OK) {
		return buf == NULL ? err : TESTLIB_WRONG;
	}
	bool ok = len == 2400 && buf[8 * 299] == (uint8_t)299;
	free(buf);
	return ok ? RF_OK : TESTLIB_WRONG;
}

static int
writer_empty_op(void *ctx)
{
	(void)ctx;
	struct rf_writer w;
	rf_writer_init(&w, 16);
	uint8_t *buf = NULL;
	size_t len = 1;
	int err = rf_writer_finish(&w, &buf, &len);
	if (err == RF_OK) {
		free(buf);
		return len == 0 ? RF_OK : TESTLIB_WRONG;
	}
	return err;
}

static void
test_writer_nomem(void)
{
	/* 256 bytes, doubling to 4096: five allocations. */
	CU_ASSERT_EQUAL(testlib_alloc_fail_loop(writer_op, NULL), 10);
	CU_ASSERT_EQUAL(testlib_alloc_fail_loop(writer_empty_op, NULL), 2);
}

/* ---- log.c ------------------------------------------------------------ */

/* Log lines go to a temporary file; captured() returns what was written
 * since log_capture(). */
static char log_path[64];
static int log_fd = -1;

static void
log_capture(enum log_level min)
{
	snprintf(log_path, sizeof(log_path), "/tmp/rf-base-log-XXXXXX");
	log_fd = mkstemp(log_path);
	CU_ASSERT_FATAL(log_fd >= 0);
	rf_log_set_fd(log_fd);
	rf_log_init("basetest", min);
}

static char *
captured(size_t *len)
{
	rf_log_set_fd(2);
	close(log_fd);
	log_fd = -1;
	uint8_t *b = test_read_file(log_path, len);
	unlink(log_path);
	CU_ASSERT_FATAL(b != NULL);
	char *s = realloc(b, *len + 1);
	CU_ASSERT_FATAL(s != NULL);
	s[*len] = '\0';
	return s;
}

static size_t
count_lines(const char *s)
{
	size_t n = 0;
	for (; *s != '\0'; s++) {
		n += *s == '\n';
	}
	return n;
}

static void
test_log_levels(void)
{
	enum log_level lv = LOG_LEVEL_COUNT;
	CU_ASSERT(rf_log_level_parse("debug", &lv) == 0 && lv == LOG_LEVEL_DEBUG);
	CU_ASSERT(rf_log_level_parse("INFO", &lv) == 0 && lv == LOG_LEVEL_INFO);
	CU_ASSERT(rf_log_level_parse("Warning", &lv) == 0 &&
	    lv == LOG_LEVEL_WARN);
	CU_ASSERT(rf_log_level_parse("warn", &lv) == 0 && lv == LOG_LEVEL_WARN);
	CU_ASSERT(rf_log_level_parse("error", &lv) == 0 &&
	    lv == LOG_LEVEL_ERROR);
	lv = LOG_LEVEL_COUNT;
	static const char *const bad[] = { "", "err", "errors", "info ",
		" info", "3", "trace", "debugx" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(rf_log_level_parse(bad[i], &lv), -1);
	}
	CU_ASSERT_EQUAL(rf_log_level_parse(NULL, &lv), -1);
	CU_ASSERT_EQUAL(lv, LOG_LEVEL_COUNT); /* untouched */
	CU_ASSERT_STRING_EQUAL(rf_log_level_name(LOG_LEVEL_WARN), "WARN");
	CU_ASSERT_STRING_EQUAL(rf_log_level_name(LOG_LEVEL_COUNT), "?");
	CU_ASSERT_STRING_EQUAL(rf_log_level_name((enum log_level)-1), "?");
}

static void
test_log_env(void)
{
	/* RF_LOG_LEVEL wins over what the program asks for... */
	setenv("RF_LOG_LEVEL", "error", 1);
	rf_log_init("basetest", LOG_LEVEL_DEBUG);
	CU_ASSERT(!rf_log_enabled(LOG_LEVEL_WARN));
	CU_ASSERT(rf_log_enabled(LOG_LEVEL_ERROR));
	/* ...unless it is not a level name. */
	setenv("RF_LOG_LEVEL", "loud", 1);
	rf_log_init("basetest", LOG_LEVEL_DEBUG);
	CU_ASSERT(rf_log_enabled(LOG_LEVEL_DEBUG));
	unsetenv("RF_LOG_LEVEL");
	rf_log_init("basetest", LOG_LEVEL_WARN);
	CU_ASSERT(!rf_log_enabled(LOG_LEVEL_INFO));
	CU_ASSERT(rf_log_enabled(LOG_LEVEL_WARN));
	/* An out-of-range level means INFO. */
	rf_log_init("basetest", (enum log_level)77);
	CU_ASSERT(rf_log_enabled(LOG_LEVEL_INFO));
	CU_ASSERT(!rf_log_enabled(LOG_LEVEL_DEBUG));
}

static void
test_log_lines(void)
{
	log_capture(LOG_LEVEL_INFO);
	log_info("claim posted job=%s", "ab12");
	log_debug("not written");
	/* A peer's text with a newline and an escape cannot forge a line. */
	log_warn("reason: %s", "ok\n2026-01-01T00:00:00.000Z INFO  referee: "
	    "forged\x1b[2J");
	char longer[LOG_LINE_MAX * 2];
	memset(longer, 'z', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	log_error("%s", longer);
	size_t len;
	char *s = captured(&len);
	CU_ASSERT_EQUAL(count_lines(s), 3);
	char *l1 = s, *l2 = strchr(l1, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
	/* "2026-11-25T13:20:00.123Z INFO  basetest: claim posted job=ab12" */
	CU_ASSERT(strlen(l1) > 25 && l1[4] == '-' && l1[10] == 'T' &&
	    l1[23] == 'Z' && l1[24] == ' ');
	CU_ASSERT_EQUAL(strncmp(l1 + 25, "INFO  basetest: claim posted "
	    "job=ab12\n", 38), 0);
	CU_ASSERT_EQUAL(strncmp(l2 + 25, "WARN  basetest: reason: ok?2026", 31),
	    0);
	CU_ASSERT_PTR_NOT_NULL(strstr(l2, "forged?[2J\n"));
	/* Cut at LOG_LINE_MAX with "..." before the newline. */
	size_t n3 = strlen(l3);
	CU_ASSERT_EQUAL(n3, LOG_LINE_MAX);
	CU_ASSERT(n3 >= 4 && strcmp(l3 + n3 - 4, "...\n") == 0);
	free(s);
	rf_log_init("basetest", LOG_LEVEL_INFO);
}

static void
test_log_limited(void)
{
	/* A window far longer than the test: only the burst is written. */
	struct log_limit a = { "site-a", 3600000, 3, 0, 0, 0, 0 };
	struct log_limit b = { "site-b", 3600000, 2, 0, 0, 0, 0 };
	log_capture(LOG_LEVEL_INFO);
	unsigned long long before = rf_log_suppressed_total();
	for (int i = 0; i < 10; i++) {
		rf_log_limited(&a, LOG_LEVEL_WARN, "a %d", i);
	}
	/* Each site has its own budget. */
	for (int i = 0; i < 5; i++) {
		rf_log_limited(&b, LOG_LEVEL_WARN, "b %d", i);
	}
	/* Lines below the level are neither written nor counted. */
	rf_log_limited(&b, LOG_LEVEL_DEBUG, "quiet");
	CU_ASSERT_EQUAL(rf_log_suppressed_total() - before, 7 + 3);
	CU_ASSERT_EQUAL(a.suppressed, 7);
	CU_ASSERT_EQUAL(b.suppressed, 3);
	/* The window ends (moved back rather than waited for): the next
	 * line is preceded by the count of what was held back. */
	a.start_ms -= 3600000;
	rf_log_limited(&a, LOG_LEVEL_WARN, "a again");
	CU_ASSERT_EQUAL(a.suppressed, 0);
	size_t len;
	char *s = captured(&len);
	CU_ASSERT_EQUAL(count_lines(s), 3 + 2 + 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "basetest: a 2\n"));
	CU_ASSERT_PTR_NULL(strstr(s, "basetest: a 3\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "basetest: b 1\n"));
	CU_ASSERT_PTR_NULL(strstr(s, "basetest: b 2\n"));
	CU_ASSERT_PTR_NULL(strstr(s, "quiet"));
	char *summary = strstr(s, "... 7 similar lines suppressed (site-a)\n");
	char *again = strstr(s, "basetest: a again\n");
	CU_ASSERT(summary != NULL && again != NULL && summary < again);
	free(s);
}

static CU_TestInfo rf_tests[] = {
	{ "every code has its own text", test_strerror },
	{ "rf_errf formats and returns the code", test_errf },
	{ "rf_errctx prefixes and keeps the prefix whole", test_errctx },
	{ "checked size arithmetic", test_size_arith },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo bytes_tests[] = {
	{ "reader values little-endian", test_reader_values },
	{ "reader bounds: truncated, sticky, no wrap", test_reader_bounds },
	{ "writer round trip", test_writer },
	{ "writer limits and bad patches", test_writer_limits },
	{ "writer out of memory", test_writer_nomem },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo log_tests[] = {
	{ "level names", test_log_levels },
	{ "RF_LOG_LEVEL overrides", test_log_env },
	{ "one event per line, cut when long", test_log_lines },
	{ "rate limit per site and the summary line", test_log_limited },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "rf errors", NULL, NULL, NULL, NULL, rf_tests },
	{ "bytes", NULL, NULL, NULL, NULL, bytes_tests },
	{ "log", NULL, NULL, NULL, NULL, log_tests },
	CU_SUITE_INFO_NULL,
};

int
main(void)
{
	unsetenv("RF_LOG_LEVEL");
	return test_main(suites);
}
