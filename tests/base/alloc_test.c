/*
 * tests/base/alloc_test.c - the allocation-failure harness of
 * tests/testlib.c checks itself: the countdown fails exactly the Nth call
 * of each wrapped function (in the test and in the library), the loop
 * finds leaks, wrong error codes and swallowed failures, and counts calls
 * made from other threads.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/rf.h"
#include "engine/engine.h"
#include "tests/testlib.h"

/* Kept in a volatile global so the compiler cannot drop a malloc/free
 * pair whose block nobody reads. */
static void *volatile sink;

static void
test_countdown_single(void)
{
	testlib_alloc_fail_at(2, 0);
	void *a = malloc(16);
	sink = a;
	void *b = malloc(16);
	sink = b;
	void *c = malloc(16);
	sink = c;
	long fails = testlib_alloc_failures();
	long calls = testlib_alloc_calls();
	testlib_alloc_fail_off();
	CU_ASSERT_PTR_NOT_NULL(a);
	CU_ASSERT_PTR_NULL(b);
	CU_ASSERT_PTR_NOT_NULL(c);
	CU_ASSERT_EQUAL(fails, 1);
	CU_ASSERT_EQUAL(calls, 3);
	free(a);
	free(c);
}

static void
test_countdown_persist(void)
{
	testlib_alloc_fail_at(1, 1);
	void *a = malloc(16);
	sink = a;
	void *b = calloc(2, 8);
	sink = b;
	long fails = testlib_alloc_failures();
	testlib_alloc_fail_off();
	CU_ASSERT_PTR_NULL(a);
	CU_ASSERT_PTR_NULL(b);
	CU_ASSERT_EQUAL(fails, 2);
	/* Disarmed: allocations work again. */
	void *c = malloc(16);
	sink = c;
	CU_ASSERT_PTR_NOT_NULL(c);
	free(c);
}

static void
test_every_function(void)
{
	char *old = malloc(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(old);
	memcpy(old, "abcdefg", 8);

	testlib_alloc_fail_at(1, 0);
	void *c = calloc(4, 4);
	sink = c;
	testlib_alloc_fail_at(1, 0);
	char *r = realloc(old, 4096);
	testlib_alloc_fail_at(1, 0);
	char *s = strdup("refute");
	testlib_alloc_fail_at(1, 0);
	void *al = aligned_alloc(64, 128);
	sink = al;
	long fails = testlib_alloc_failures();
	testlib_alloc_fail_off();

	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT_PTR_NULL(r);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT_PTR_NULL(al);
	CU_ASSERT_EQUAL(fails, 1);
	if (r == NULL) {
		/* A failed realloc leaves the old block as it was. */
		CU_ASSERT_STRING_EQUAL(old, "abcdefg");
		free(old);
	} else {
		free(r);
	}
}

/* The library's objects are wrapped too, not only the test's. */
static void
test_library_wrapped(void)
{
	static const float v[3] = { 1, 2, 3 };
	struct tensor t;
	memset(&t, 0, sizeof(t));
	t.dtype = TENSOR_F32;
	t.rank = 1;
	t.dims[0] = 3;
	t.count = 3;
	t.data = (void *)v;
	uint8_t *buf = NULL;
	size_t len = 0;
	testlib_alloc_fail_at(1, 1);
	int err = engine_tensor_npy_encode(&t, &buf, &len);
	long fails = testlib_alloc_failures();
	testlib_alloc_fail_off();
	CU_ASSERT_EQUAL(err, RF_ERR_NOMEM);
	CU_ASSERT(fails >= 1);
	CU_ASSERT_PTR_NULL(buf);
	err = engine_tensor_npy_encode(&t, &buf, &len);
	CU_ASSERT_EQUAL(err, RF_OK);
	free(buf);
}

/* ---- The loop on operations that behave and that do not ------------- */

/* Three blocks; any failure releases what was taken. */
static int
op_good(void *ctx)
{
	(void)ctx;
	void *a = malloc(10), *b = NULL, *c = NULL;
	int err = RF_ERR_NOMEM;
	if (a == NULL || (b = calloc(1, 10)) == NULL ||
	    (c = strdup("x")) == NULL) {
		goto out;
	}
	err = RF_OK;
out:
	free(a);
	free(b);
	free(c);
	return err;
}

static void
test_loop_good(void)
{
	struct testlib_alloc_report rep;
	int rc = testlib_alloc_fail_run(op_good, NULL, 0, &rep);
	CU_ASSERT_EQUAL(rc, 0);
	/* Three single failures, three persistent ones. */
	CU_ASSERT_EQUAL(rep.runs, 6);
	CU_ASSERT_EQUAL(rep.max_fail, 3);
	CU_ASSERT_EQUAL(rep.leaks, 0);
	CU_ASSERT_EQUAL(testlib_alloc_fail_loop(op_good, NULL), 6);
}

static void *leaked;

/* Forgets the first block when the second allocation fails. */
static int
op_leaky(void *ctx)
{
	(void)ctx;
	void *a = malloc(10);
	if (a == NULL) {
		return RF_ERR_NOMEM;
	}
	void *b = malloc(10);
	if (b == NULL) {
		free(leaked); /* the previous run's (untracked by now) */
		leaked = a;   /* freed by the test, after the loop */
		return RF_ERR_NOMEM;
	}
	free(a);
	free(b);
	return RF_OK;
}

static void
test_loop_finds_leak(void)
{
	struct testlib_alloc_report rep;
	int rc = testlib_alloc_fail_run(op_leaky, NULL, 0, &rep);
	free(leaked);
	leaked = NULL;
	CU_ASSERT_EQUAL(rc, -1);
	CU_ASSERT(rep.leaks >= 1);
	CU_ASSERT_EQUAL(rep.leak_run, 2);
	CU_ASSERT_EQUAL(rep.leak_seq, 1);
}

/* Reports a failed allocation as bad input. */
static int
op_wrong_code(void *ctx)
{
	(void)ctx;
	void *a = malloc(10);
	sink = a;
	if (a == NULL) {
		return RF_ERR_FORMAT;
	}
	free(a);
	return RF_OK;
}

static void
test_loop_wrong_code(void)
{
	struct testlib_alloc_report rep;
	CU_ASSERT_EQUAL(testlib_alloc_fail_run(op_wrong_code, NULL, 0, &rep),
	    -1);
	CU_ASSERT_EQUAL(rep.bad_rc, 2);
	CU_ASSERT_EQUAL(rep.first_bad, RF_ERR_FORMAT);
	CU_ASSERT_EQUAL(rep.first_bad_run, 1);
	/* Allowed when the caller says the code is documented. */
	CU_ASSERT_EQUAL(testlib_alloc_fail_run(op_wrong_code, NULL,
	    1u << RF_ERR_FORMAT, &rep), 0);
}

/* Swallows the failure and returns a short result; the checker sees it. */
static int
op_swallow(void *ctx)
{
	(void)ctx;
	char *s = strdup("refute");
	int ok = s != NULL && strcmp(s, "refute") == 0;
	free(s);
	return ok ? RF_OK : TESTLIB_WRONG;
}

static void
test_loop_wrong_result(void)
{
	struct testlib_alloc_report rep;
	CU_ASSERT_EQUAL(testlib_alloc_fail_run(op_swallow, NULL, 0, &rep), -1);
	CU_ASSERT_EQUAL(rep.wrong, 2);
}

/* An operation that fails without any injected failure is reported. */
static int
op_broken(void *ctx)
{
	(void)ctx;
	return RF_ERR_INVAL;
}

static void
test_loop_broken(void)
{
	struct testlib_alloc_report rep;
	CU_ASSERT_EQUAL(testlib_alloc_fail_run(op_broken, NULL, 0, &rep), -1);
	CU_ASSERT_EQUAL(rep.clean_rc, RF_ERR_INVAL);
	CU_ASSERT_EQUAL(rep.runs, 0);
}

static void *
thread_alloc(void *arg)
{
	void *p = malloc(32);
	*(void **)arg = p;
	return NULL;
}

static void
test_other_thread(void)
{
	void *p = (void *)1;
	pthread_t th;
	/* Thread creation may allocate inside libc, which is not wrapped;
	 * the thread's own malloc is. */
	testlib_alloc_fail_at(1, 0);
	int rc = pthread_create(&th, NULL, thread_alloc, &p);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	pthread_join(th, NULL);
	long fails = testlib_alloc_failures();
	testlib_alloc_fail_off();
	CU_ASSERT_PTR_NULL(p);
	CU_ASSERT_EQUAL(fails, 1);
}

static CU_TestInfo harness_tests[] = {
	{ "countdown fails the nth call once", test_countdown_single },
	{ "persistent failure fails every call after", test_countdown_persist },
	{ "calloc realloc strdup aligned_alloc", test_every_function },
	{ "library objects are wrapped", test_library_wrapped },
	{ "loop passes a clean operation", test_loop_good },
	{ "loop finds a leak", test_loop_finds_leak },
	{ "loop finds a wrong error code", test_loop_wrong_code },
	{ "loop finds a swallowed failure", test_loop_wrong_result },
	{ "loop reports an operation that always fails", test_loop_broken },
	{ "allocations from other threads count", test_other_thread },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "testlib allocation failures", NULL, NULL, NULL, NULL,
	    harness_tests },
	CU_SUITE_INFO_NULL,
};

int
main(void)
{
	return test_main(suites);
}
