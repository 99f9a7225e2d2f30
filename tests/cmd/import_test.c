/*
 * tests/cmd/import_test.c - `refute model import` as users meet it: help,
 * usage errors (exit 2), one-line failures naming the node (exit 1) with
 * nothing written, byte-identical repeated imports, and an imported model
 * that `refute model run` runs, traced.
 *
 * Runs the real binary named by RF_REFUTE (make check sets it) on the
 * fixtures in tests/data/onnx.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/testlib.h"

static char tmpdir[256];
static const char *refute;
static char onnx_dir[512];

/* Runs `refute ARGS` in tmpdir, captures stdout+stderr; returns the exit
 * code. */
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

static size_t
count_lines(const char *s)
{
	size_t n = 0;
	for (; *s; s++) {
		n += *s == '\n';
	}
	return n;
}

static bool
exists(const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	return access(p, F_OK) == 0;
}

static bool
same_file(const char *a, const char *b)
{
	char pa[512], pb[512];
	size_t la, lb;
	snprintf(pa, sizeof(pa), "%s/%s", tmpdir, a);
	snprintf(pb, sizeof(pb), "%s/%s", tmpdir, b);
	uint8_t *ba = test_read_file(pa, &la);
	uint8_t *bb = test_read_file(pb, &lb);
	bool same = ba && bb && la == lb && memcmp(ba, bb, la) == 0;
	free(ba);
	free(bb);
	return same;
}

static int
setup(void)
{
	refute = getenv("RF_REFUTE");
	if (refute == NULL) {
		refute = "bin/refute";
	}
	char abs[512];
	if (refute[0] != '/' && realpath(refute, abs) != NULL) {
		refute = strdup(abs);
	}
	char rel[512];
	snprintf(rel, sizeof(rel), "%s/onnx", test_data_dir());
	if (realpath(rel, onnx_dir) == NULL) {
		return 1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rf-import-XXXXXX");
	return mkdtemp(tmpdir) == NULL;
}

static int
teardown(void)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) != 0;
}

static void
test_help_and_usage(void)
{
	char out[8192];
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model import --help"), 0);
	CU_ASSERT(strstr(out, "--dim") != NULL && strstr(out, "ONNX") != NULL);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model --help"), 0);
	CU_ASSERT(strstr(out, "import") != NULL);
	/* No output file, no input, a --dim without a value: exit 2. */
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model import "
	    "%s/mlp_digits.onnx", onnx_dir), 2);
	CU_ASSERT(count_lines(out) == 1 && strstr(out, "--output") != NULL);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model import -o m.rfm"), 2);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model import %s/gpt_dyn.onnx "
	    "-o m.rfm --dim seq", onnx_dir), 2);
	CU_ASSERT(count_lines(out) == 1 && strstr(out, "NAME=N") != NULL);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model import %s/gpt_dyn.onnx "
	    "-o m.rfm --dim seq=-1", onnx_dir), 2);
	CU_ASSERT(!exists("m.rfm"));
}

static void
test_import_and_run(void)
{
	char out[16384];
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model import "
	    "%s/lenet_digits.onnx -o a.rfm", onnx_dir), 0);
	CU_ASSERT(strstr(out, "wrote a.rfm") != NULL &&
	    strstr(out, "model_id ") != NULL);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model import "
	    "%s/lenet_digits.onnx -o b.rfm", onnx_dir), 0);
	CU_ASSERT(same_file("a.rfm", "b.rfm"));
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model info a.rfm"), 0);
	CU_ASSERT(strstr(out, "Conv") != NULL &&
	    strstr(out, "logits") != NULL);
	/* The imported model runs like a native one, twice the same. */
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model run a.rfm -i "
	    "%s/lenet_digits.in0.npy -o y1.npy --trace", onnx_dir), 0);
	CU_ASSERT(strstr(out, "trace root") != NULL);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model run a.rfm -i "
	    "%s/lenet_digits.in0.npy -o y2.npy --kernels ref", onnx_dir), 0);
	CU_ASSERT(same_file("y1.npy", "y2.npy"));

	/* Symbolic dimensions take their values from --dim. */
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model import %s/gpt_dyn.onnx "
	    "-o g.rfm -d batch=1 -d seq=8 --name gpt", onnx_dir), 0);
	CU_ASSERT(strstr(out, "gpt,") != NULL);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model run g.rfm -i "
	    "%s/gpt_dyn.in0.npy --trace", onnx_dir), 0);
}

static void
test_failures(void)
{
	char out[8192];
	/* Refused by name, one line plus one per node, exit 1, nothing
	 * written. */
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model import "
	    "%s/bad_unsupported_op.onnx -o x.rfm", onnx_dir), 1);
	CU_ASSERT(count_lines(out) == 2);
	CU_ASSERT(strstr(out, "node 'my_rnn' (RNN)") != NULL);
	CU_ASSERT(!exists("x.rfm"));
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model import "
	    "%s/bad_many_unsupported.onnx -o x.rfm", onnx_dir), 1);
	CU_ASSERT(count_lines(out) == 4);
	CU_ASSERT(strstr(out, "Einsum x2") != NULL);
	CU_ASSERT(strstr(out, "  node 'ein1' (Einsum)") != NULL);
	CU_ASSERT(strstr(out, "  node #2 (NonZero)") != NULL);
	CU_ASSERT(strstr(out, "  node 'ein2' (Einsum)") != NULL);
	CU_ASSERT(!exists("x.rfm"));
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model import %s/gpt_dyn.onnx "
	    "-o x.rfm", onnx_dir), 1);
	CU_ASSERT(count_lines(out) == 3 &&
	    strstr(out, "--dim batch=N --dim seq=N") != NULL);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model import %s/gpt_dyn.onnx "
	    "-o x.rfm -d batch=1 -d seqlen=8", onnx_dir), 1);
	CU_ASSERT(strstr(out, "'seqlen'") != NULL);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model import "
	    "%s/bad_opset18.onnx -o x.rfm", onnx_dir), 1);
	CU_ASSERT(strstr(out, "opset 18") != NULL);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model import nothere.onnx "
	    "-o x.rfm"), 1);
	CU_ASSERT(!exists("x.rfm"));
}

static CU_TestInfo tests[] = {
	{ "help and usage errors", test_help_and_usage },
	{ "import, info, run", test_import_and_run },
	{ "failures name the node, write nothing", test_failures },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "refute model import", setup, teardown, NULL, NULL, tests },
	CU_SUITE_INFO_NULL,
};

int
main(void)
{
	return test_main(suites);
}
