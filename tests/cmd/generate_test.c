/*
 * tests/cmd/generate_test.c - `refute model gen gpt` and `refute generate`
 * as users meet them: tokens, text, trace roots that agree across thread
 * counts and processes, JSON, --save-graph, and one-line errors for every
 * generation a cheater or a typo would try (tokens out of the vocabulary,
 * beyond the context, sampler parameters out of range).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testlib.h"

static char tmpdir[256];
static const char *refute;

static int
run(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
run(char *out, size_t cap, const char *fmt, ...)
{
	char args[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	return test_shell(out, cap, tmpdir, 1, "%s %s", refute, args);
}

static int
setup(void)
{
	refute = test_refute();
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rf-gen-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		return 1;
	}
	char out[4096];
	/* Byte-level (256) tied, and a small untied one. */
	return run(out, sizeof(out), "model gen gpt --layers 2 --d-model 32 "
	    "--heads 4 --vocab 256 --context 48 --seed 3 -o g.rfm") != 0 ||
	    run(out, sizeof(out), "model gen gpt --layers 1 --d-model 16 "
	    "--heads 2 --vocab 40 --context 16 --untied -o u.rfm") != 0;
}

static int
teardown(void)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) != 0;
}

/* The "trace root <hex>" part of an output, or "". */
static void
root_of(const char *out, char *root, size_t cap)
{
	const char *r = strstr(out, "trace root ");
	root[0] = '\0';
	if (r != NULL) {
		snprintf(root, cap, "%.75s", r);
	}
}

static void
test_gen_and_generate(void)
{
	char a[8192], b[8192], ra[128], rb[128];
	CU_ASSERT_EQUAL(run(a, sizeof(a), "model info g.rfm"), 0);
	CU_ASSERT(strstr(a, "gpt") != NULL);
	CU_ASSERT_EQUAL(run(a, sizeof(a), "generate g.rfm --text 'Hello' "
	    "--new 12 --trace --threads 1"), 0);
	CU_ASSERT(strstr(a, "tokens: ") != NULL);
	CU_ASSERT(strstr(a, "text: \"") != NULL);
	CU_ASSERT(strstr(a, "new tokens/s") != NULL);
	root_of(a, ra, sizeof(ra));
	CU_ASSERT(strlen(ra) == 75);
	/* The same prompt as ids; another thread count; every section
	 * split across threads. */
	CU_ASSERT_EQUAL(run(b, sizeof(b), "generate g.rfm --tokens "
	    "72,101,108,108,111 --new 12 --trace --threads 2"), 0);
	root_of(b, rb, sizeof(rb));
	CU_ASSERT_STRING_EQUAL(ra, rb);
	setenv("RF_PAR_MIN_WORK", "0", 1);
	CU_ASSERT_EQUAL(run(b, sizeof(b), "generate g.rfm --text Hello "
	    "--new 12 --trace --threads 2"), 0);
	unsetenv("RF_PAR_MIN_WORK");
	root_of(b, rb, sizeof(rb));
	CU_ASSERT_STRING_EQUAL(ra, rb);
	/* --prompt-file: the file's bytes. */
	CU_ASSERT_EQUAL(test_shell(b, sizeof(b), tmpdir, 1,
	    "printf Hello > p.txt"), 0);
	CU_ASSERT_EQUAL(run(b, sizeof(b), "generate g.rfm --prompt-file p.txt "
	    "--new 12 --trace"), 0);
	root_of(b, rb, sizeof(rb));
	CU_ASSERT_STRING_EQUAL(ra, rb);
	/* --low-memory draws the same tokens. */
	const char *ta = strstr(a, "tokens: ");
	CU_ASSERT_EQUAL(run(b, sizeof(b), "generate g.rfm --text Hello "
	    "--new 12 --low-memory"), 0);
	CU_ASSERT(ta != NULL && strncmp(strstr(b, "tokens: "), ta,
	    strcspn(ta, "\n")) == 0);
}

static void
test_sampling_json(void)
{
	char a[8192], b[8192];
	const char *args = "generate u.rfm --tokens 1,2,3 --new 8 "
	    "--temperature 0.9 --top-k 20 --top-p 0.9 --trace --json";
	CU_ASSERT_EQUAL(run(a, sizeof(a), "%s --seed 5", args), 0);
	CU_ASSERT(strstr(a, "\"tokens\":[") != NULL);
	CU_ASSERT(strstr(a, "\"seed\":5") != NULL);
	CU_ASSERT(strstr(a, "\"trace_root\":\"") != NULL);
	CU_ASSERT(strstr(a, "text") == NULL); /* not byte-level */
	/* JSON is the same bytes run to run, and across thread counts. */
	CU_ASSERT_EQUAL(run(b, sizeof(b), "%s --seed 5 --threads 2", args), 0);
	CU_ASSERT_STRING_EQUAL(a, b);
	/* Another seed, another trace. */
	CU_ASSERT_EQUAL(run(b, sizeof(b), "%s --seed 6", args), 0);
	CU_ASSERT(strcmp(a, b) != 0);
	/* The saved generation graph is an ordinary model file. */
	CU_ASSERT_EQUAL(run(a, sizeof(a), "generate u.rfm --tokens 1,2,3 "
	    "--new 4 --trace --save-graph ug.rfm"), 0);
	CU_ASSERT_EQUAL(run(b, sizeof(b), "model info ug.rfm > info.txt && head -3 info.txt"), 0);
	CU_ASSERT(strstr(b, "gpt.gen") != NULL);
}

/* Every bad generation: one line, exit 2 (usage) or 1, nothing run. */
static void
test_bad_generations(void)
{
	char o[4096];
	static const struct {
		const char *args;
		int rc;
		const char *says;
	} bad[] = {
		{ "g.rfm --tokens 1,2 --new 47", 2, "context" },
		{ "g.rfm --tokens 1,2 --new 0", 2, "at least one" },
		{ "g.rfm --tokens 1,256 --new 2", 2, "vocabulary" },
		{ "g.rfm --tokens 1,-2 --new 2", 2, "decimal" },
		{ "g.rfm --tokens '' --new 2", 2, "empty" },
		{ "g.rfm --tokens 1 --new 2 --temperature -1", 2, "temperature" },
		{ "g.rfm --tokens 1 --new 2 --temperature nan", 2, "number" },
		{ "g.rfm --tokens 1 --new 2 --temperature 101", 2, "temperature" },
		{ "g.rfm --tokens 1 --new 2 --temperature 1 --top-p 0", 2, "top-p" },
		{ "g.rfm --tokens 1 --new 2 --temperature 1 --top-p 1.5", 2,
		    "top-p" },
		{ "g.rfm --tokens 1 --new 2 --temperature 1 --top-k 257", 2,
		    "top-k" },
		{ "g.rfm --tokens 1 --new 2 --top-k 3", 2, "greedy" },
		{ "g.rfm --new 2", 2, "one of" },
		{ "g.rfm --tokens 1 --text a --new 2", 2, "one of" },
		{ "u.rfm --text hi --new 2", 2, "byte" },
		{ "g.rfm --tokens 1", 2, "--new" },
		{ "nope.rfm --tokens 1 --new 1", 1, "nope.rfm" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = run(o, sizeof(o), "generate %s", bad[i].args);
		CU_ASSERT_EQUAL(rc, bad[i].rc);
		CU_ASSERT(strstr(o, bad[i].says) != NULL);
		if (rc != bad[i].rc || strstr(o, bad[i].says) == NULL) {
			fprintf(stderr, "generate %s: rc %d: %s\n", bad[i].args,
			    rc, o);
		}
	}
	/* Not a language model. */
	CU_ASSERT_EQUAL(run(o, sizeof(o), "model gen mlp -o m.rfm"), 0);
	CU_ASSERT_EQUAL(run(o, sizeof(o), "generate m.rfm --tokens 1 --new 1"),
	    1);
	CU_ASSERT(strstr(o, "not a gpt layout") != NULL);
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "gen gpt, generate: text, roots, threads", test_gen_and_generate },
		{ "sampling, JSON, --save-graph", test_sampling_json },
		{ "bad generations", test_bad_generations },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "refute generate", setup, teardown, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
