/*
 * tests/node/node_test.c - the node runtime every role shares: the
 * bounded file reader (limits, files that are not regular, files whose
 * size lies), short hex, the clocks and deadlines.
 *
 * No assertion depends on how fast the machine is: clocks are checked by
 * order and brackets, never by durations.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "node/node.h"
#include "tests/testlib.h"

static char dir[256];

static int
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/rf-node-%d", (int)getpid());
	mkdir(dir, 0700);
	/* A reader that blocks (a FIFO) must fail the test, not hang it. */
	alarm(120);
	return 0;
}

static int
teardown(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 0;
}

static void
at(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

/* ------------------------------------------------------------------ */
/* Files                                                                */
/* ------------------------------------------------------------------ */

static void
test_file_bounds(void)
{
	char p[300];
	at(p, sizeof(p), "ten");
	CU_ASSERT_EQUAL_FATAL(test_write_file(p, "0123456789", 10, 0600), 0);
	uint8_t *b = NULL;
	size_t n = 0;
	struct rf_errinfo ei = { "" };
	/* Exactly at the limit: read whole, NUL after the last byte. */
	CU_ASSERT_EQUAL(node_file_read(p, 10, &b, &n, &ei), RF_OK);
	CU_ASSERT_EQUAL(n, 10);
	CU_ASSERT(b != NULL && memcmp(b, "0123456789", 10) == 0 && b[10] == 0);
	free(b);
	/* One byte over: refused, outputs untouched. */
	b = (uint8_t *)"untouched";
	n = 77;
	CU_ASSERT_EQUAL(node_file_read(p, 9, &b, &n, &ei), RF_ERR_RANGE);
	CU_ASSERT(strcmp((char *)b, "untouched") == 0 && n == 77);
	CU_ASSERT(strstr(ei.msg, "over the limit") != NULL);
	CU_ASSERT_EQUAL(node_file_read(p, 0, &b, &n, &ei), RF_ERR_RANGE);
	/* An empty file is an empty buffer, still a string. */
	at(p, sizeof(p), "empty");
	CU_ASSERT_EQUAL_FATAL(test_write_file(p, "", 0, 0600), 0);
	CU_ASSERT_EQUAL(node_file_read(p, 0, &b, &n, &ei), RF_OK);
	CU_ASSERT(n == 0 && b != NULL && b[0] == 0);
	free(b);
}

static void
test_file_not_regular(void)
{
	char p[300];
	uint8_t *b = NULL;
	size_t n = 0;
	struct rf_errinfo ei = { "" };
	at(p, sizeof(p), "missing");
	CU_ASSERT_EQUAL(node_file_read(p, 100, &b, &n, &ei), RF_ERR_NOTFOUND);
	CU_ASSERT(strstr(ei.msg, "missing") != NULL);
	CU_ASSERT_EQUAL(node_file_read(dir, 100, &b, &n, &ei), RF_ERR_IO);
	CU_ASSERT(strstr(ei.msg, "not a regular file") != NULL);
	/* A FIFO with no writer: opening must not wait for one. */
	at(p, sizeof(p), "fifo");
	CU_ASSERT_EQUAL_FATAL(mkfifo(p, 0600), 0);
	CU_ASSERT_EQUAL(node_file_read(p, 100, &b, &n, &ei), RF_ERR_IO);
	CU_ASSERT(strstr(ei.msg, "not a regular file") != NULL);
}

/* A file whose size says 0 but which holds more (as /proc files do) is
 * read to its end, and never past the limit. */
static void
test_file_size_lies(void)
{
	uint8_t *b = NULL;
	size_t n = 0;
	struct rf_errinfo ei = { "" };
	struct stat st;
	CU_ASSERT_FATAL(stat("/proc/self/status", &st) == 0 && st.st_size == 0);
	CU_ASSERT_EQUAL(node_file_read("/proc/self/status", 1 << 20, &b, &n,
	    &ei), RF_OK);
	CU_ASSERT(n > 16 && b != NULL && strncmp((char *)b, "Name:", 5) == 0);
	CU_ASSERT(b != NULL && strlen((char *)b) == n);
	free(b);
	b = NULL;
	CU_ASSERT_EQUAL(node_file_read("/proc/self/status", 16, &b, &n, &ei),
	    RF_ERR_RANGE);
	CU_ASSERT(b == NULL);
	CU_ASSERT(strstr(ei.msg, "grew over the limit") != NULL);
}

/* ------------------------------------------------------------------ */
/* Hex                                                                  */
/* ------------------------------------------------------------------ */

static void
test_short_hex(void)
{
	const uint8_t b[8] = { 0x01, 0x23, 0xab, 0xcd, 0xef, 0xf0, 0x99, 0x99 };
	char out[NODE_SHORT_LEN];
	memset(out, 'x', sizeof(out));
	node_short_hex(b, out);
	CU_ASSERT_STRING_EQUAL(out, "0123abcdeff0");
	/* The same prefix as the full hex of a key and of a digest. */
	struct proto_pubkey k;
	struct proto_digest d;
	for (size_t i = 0; i < sizeof(k.b); i++) {
		k.b[i] = (uint8_t)(i * 37 + 5);
	}
	memset(&d, 0, sizeof(d));
	for (size_t i = 0; i < sizeof(d.b); i++) {
		d.b[i] = (uint8_t)(255 - i * 11);
	}
	char full[2 * PROTO_DIGEST_MAX + 65];
	proto_pubkey_hex(&k, full);
	node_short_key(&k, out);
	CU_ASSERT(strlen(out) == 12 && strncmp(out, full, 12) == 0);
	for (int s = 0; s < 2; s++) {
		enum proto_hash suite = s ? PROTO_HASH_XXH3 : PROTO_HASH_BLAKE2B;
		proto_digest_hex(suite, &d, full);
		node_short_digest(suite, &d, out);
		CU_ASSERT(strlen(out) == 12 && strncmp(out, full, 12) == 0);
	}
}

/* ------------------------------------------------------------------ */
/* Clocks                                                               */
/* ------------------------------------------------------------------ */

static void
test_clocks(void)
{
	/* The wall clock is Unix time: bracketed by time(2). */
	uint64_t before = (uint64_t)time(NULL);
	uint64_t ms = node_wall_ms(), us = node_wall_us();
	uint64_t after = (uint64_t)time(NULL);
	CU_ASSERT(ms / 1000 >= before && ms / 1000 <= after);
	CU_ASSERT(us / 1000 >= ms && us / 1000000 <= after);
	/* The monotonic clock never goes back. */
	uint64_t m0 = node_mono_ms(), u0 = node_mono_us();
	for (int i = 0; i < 1000; i++) {
		uint64_t m1 = node_mono_ms(), u1 = node_mono_us();
		CU_ASSERT_FATAL(m1 >= m0 && u1 >= u0);
		m0 = m1;
		u0 = u1;
	}
	/* Durations: never negative, whatever t0 is. */
	CU_ASSERT(node_seconds_since(node_mono_us() + 1000000000) == 0.0);
	CU_ASSERT(node_seconds_since(0) > 0.0);
}

static void
test_deadlines(void)
{
	uint64_t now = node_mono_ms();
	CU_ASSERT(node_deadline_passed(node_deadline(0)));
	CU_ASSERT(node_deadline_passed(now));
	CU_ASSERT_EQUAL(node_deadline_left(now), 0);
	CU_ASSERT_EQUAL(node_deadline_left(0), 0);
	/* Far deadlines saturate instead of wrapping into the past. */
	uint64_t far = node_deadline(UINT64_MAX - 5);
	CU_ASSERT_EQUAL(far, UINT64_MAX);
	CU_ASSERT(!node_deadline_passed(far));
	uint64_t hour = node_deadline(3600 * 1000);
	CU_ASSERT(!node_deadline_passed(hour));
	CU_ASSERT(node_deadline_left(hour) > 0 &&
	    node_deadline_left(hour) <= 3600 * 1000);
	/* A sleep asked to stop returns (an hour would trip the alarm). */
	volatile sig_atomic_t stop = 1;
	node_sleep_ms(3600 * 1000, &stop);
	node_sleep_ms(0, NULL);
	CU_PASS("sleep returned");
}

int
main(void)
{
	CU_TestInfo files[] = {
		{ "bounds", test_file_bounds },
		{ "not a regular file", test_file_not_regular },
		{ "size that lies", test_file_size_lies },
		CU_TEST_INFO_NULL,
	};
	CU_TestInfo util[] = {
		{ "short hex", test_short_hex },
		{ "clocks", test_clocks },
		{ "deadlines", test_deadlines },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "node files", setup, teardown, NULL, NULL, files },
		{ "node util", NULL, NULL, NULL, NULL, util },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
