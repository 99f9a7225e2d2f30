/*
 * tests/integration/generation_test.c - generation jobs on a network of
 * real processes (docs/generation.md). The generation graph of a small
 * byte-level model (8 prompt tokens, 16 sampled ones, each job its own
 * prompt and sampling seed) is served by `refute devnet`; then:
 *
 *   - an executor that lies inside a decode step (one bit of step 10's
 *     attention, of step 7's key cache, or of the token step 12's
 *     sampler drew) is caught: every dispute ends at exactly that
 *     operator, recomputed by the referee, the challenger winning, and
 *     only the liar's jobs fall;
 *   - a false challenger disputing honest generations loses every
 *     dispute and no job falls.
 *
 * The operators are found by name in `refute model info`, so the test
 * follows the graph if its layout changes.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testlib.h"

#define OUT_MAX (1 << 20)

static char tmpdir[256];
static char *out;

static int
run(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
run(char *buf, size_t cap, const char *fmt, ...)
{
	char args[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	return test_shell(buf, cap, tmpdir, 0, "%s", args);
}

static int
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rf-generation-XXXXXX");
	out = malloc(OUT_MAX);
	if (out == NULL || mkdtemp(tmpdir) == NULL) {
		return 1;
	}
	const char *r = test_refute();
	return run(out, OUT_MAX, "%s model gen gpt --layers 2 --d-model 32 "
	    "--heads 4 --vocab 256 --context 48 --seed 1 -o base.rfm && "
	    "%s generate base.rfm --tokens 1,2,3,4,5,6,7,8 --new 16 "
	    "--temperature 0.8 --top-k 40 --top-p 0.95 --save-graph gen.rfm "
	    "&& %s model info gen.rfm > info.txt", r, r, r) != 0;
}

static int
teardown(void)
{
	char cmd[512];
	test_kill_children();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	free(out);
	return system(cmd) != 0;
}

/* The index of the operator named name in gen.rfm. */
static long
op_index(const char *name)
{
	char buf[256];
	CU_ASSERT_EQUAL_FATAL(run(buf, sizeof(buf), "awk '$3 == \"%s\" "
	    "{ print $1 }' info.txt", name), 0);
	long k = strtol(buf, NULL, 10);
	CU_ASSERT_FATAL(k > 0);
	return k;
}

/* Counts "key":value occurrences with this exact value text. */
static unsigned
count(const char *s, const char *kv)
{
	unsigned n = 0;
	for (const char *p = strstr(s, kv); p != NULL; p = strstr(p + 1, kv)) {
		n++;
	}
	return n;
}

static unsigned long
num(const char *key)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(out, pat);
	CU_ASSERT_FATAL(p != NULL);
	return strtoul(p + strlen(pat), NULL, 10);
}

static int
devnet(const char *extra)
{
	int rc = run(out, OUT_MAX, "%s devnet --model-file gen.rfm "
	    "--executors 2 --challengers 1 --jobs 6 --window-ms 1500 "
	    "--seed 500 %s --json 2>devnet.err", test_refute(), extra);
	if (rc != 0) {
		char err[4096];
		run(err, sizeof(err), "tail -5 devnet.err");
		printf("\n    devnet exit %d: %s\n%.2000s\n", rc, err, out);
	}
	return rc;
}

/* A liar at operator k: every dispute recomputed at k, the challenger
 * winning; the network's own check (ok) says no honest job fell. */
static void
liar_at(const char *name)
{
	long k = op_index(name);
	char extra[128];
	snprintf(extra, sizeof(extra), "--faulty 1 --fault lie-at-op "
	    "--fault-op %ld", k);
	CU_ASSERT_EQUAL_FATAL(devnet(extra), 0);
	CU_ASSERT(strstr(out, "\"ok\":true") != NULL);
	CU_ASSERT(strstr(out, "\"model\":\"gpt.gen\"") != NULL);
	unsigned long disputes = count(out, "\"dispute_id\":");
	CU_ASSERT(disputes >= 1);
	CU_ASSERT(num("invalid") >= 1);
	CU_ASSERT_EQUAL(num("executor_wins"), 0);
	CU_ASSERT_EQUAL(num("challenger_wins"), disputes);
	CU_ASSERT_EQUAL(num("faulty_caught"), num("faulty_jobs"));
	char op[32];
	snprintf(op, sizeof(op), "\"op\":%ld,", k);
	CU_ASSERT_EQUAL(count(out, op), disputes);
	CU_ASSERT_EQUAL(count(out, "\"reason\":\"recomputed\""), disputes);
}

static void
test_liar_in_attention(void)
{
	liar_at("step10.h1.attn");
}

static void
test_liar_in_cache(void)
{
	liar_at("step7.h0.k.cache");
}

static void
test_liar_in_sampler(void)
{
	liar_at("step12.sample");
}

static void
test_false_challenger(void)
{
	CU_ASSERT_EQUAL_FATAL(devnet("--faulty-challengers 1 "
	    "--challenger-fault false-challenge"), 0);
	CU_ASSERT(strstr(out, "\"ok\":true") != NULL);
	unsigned long disputes = count(out, "\"dispute_id\":");
	CU_ASSERT(disputes >= 1);
	CU_ASSERT_EQUAL(num("invalid"), 0);
	CU_ASSERT_EQUAL(num("challenger_wins"), 0);
	CU_ASSERT_EQUAL(num("executor_wins"), disputes);
	CU_ASSERT_EQUAL(num("final"), 6);
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "a lie in a decode step's attention is caught",
		    test_liar_in_attention },
		{ "a lie in the KV cache is caught", test_liar_in_cache },
		{ "a token the sampler did not draw is caught",
		    test_liar_in_sampler },
		{ "a false challenger loses", test_false_challenger },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "generation jobs", setup, teardown, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
