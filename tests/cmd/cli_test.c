/*
 * tests/cmd/cli_test.c - the `refute` command as users meet it: help and
 * exit codes, one-line errors for wrong flags and files, model gen/info/run
 * end to end, .npy in and out, and byte-identical repeated runs.
 *
 * Runs the real binary named by RF_REFUTE (make check sets it).
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
static char verifier[512];

/* Runs `refute ARGS`, captures stdout+stderr; returns the exit code. */
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

static void
write_file(const char *name, const void *data, size_t len)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	FILE *f = fopen(p, "wb");
	CU_ASSERT_FATAL(f != NULL);
	fwrite(data, 1, len, f);
	fclose(f);
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
	if (realpath("tests/tools/verify_trace.py", verifier) == NULL) {
		verifier[0] = '\0';
	}
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rf-cli-XXXXXX");
	return mkdtemp(tmpdir) == NULL;
}

static int
teardown(void)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) != 0;
}

/* keygen --show prints the key keygen printed, and checks the file as
 * every node does (mode, format). Exit codes are in --help. */
static void
test_keygen_show(void)
{
	char out[4096], pub[4096];
	CU_ASSERT_EQUAL(run(out, sizeof(out), "keygen -o show.key -f"), 0);
	snprintf(pub, sizeof(pub), "%s", out);
	CU_ASSERT_EQUAL(strlen(pub), 65);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "keygen --show show.key"), 0);
	CU_ASSERT_STRING_EQUAL(out, pub);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "keygen --show show.key -o "
	    "x.key"), 2);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "keygen --show nothere.key"), 1);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "keygen --show m.rfm"), 1);
	char p[512];
	snprintf(p, sizeof(p), "%s/open.key", tmpdir);
	CU_ASSERT_EQUAL(test_write_file(p, "refute-identity 1\n", 18, 0644),
	    0);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "keygen --show open.key"), 1);
	CU_ASSERT(strstr(out, "chmod 600") != NULL);
	const char *cmds[] = { "submit", "job", "disputes", "status" };
	for (size_t i = 0; i < 4; i++) {
		CU_ASSERT_EQUAL(run(out, sizeof(out), "%s --help", cmds[i]), 0);
		CU_ASSERT(strstr(out, "4 timed\nout") != NULL ||
		    strstr(out, "4 timed out") != NULL);
		CU_ASSERT(strstr(out, "6 the referee could not") != NULL);
	}
}

/* Every plot a sim writes has a title and both axes labelled: each
 * 'set output' of plot.gp is followed, before the next one, by a title,
 * an xlabel and a ylabel. */
static void
test_sim_plots(void)
{
	static const char *const kinds[] = { "run", "detection", "cost",
		"stake", "dispute", "load" };
	char out[4096];
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		CU_ASSERT_EQUAL(run(out, sizeof(out), "sim --out sim_%s --plot %s "
		    "--set jobs=200 --sweep challengers=1,2 --quiet", kinds[k],
		    kinds[k]), 0);
		char p[512];
		size_t len;
		snprintf(p, sizeof(p), "%s/sim_%s/plot.gp", tmpdir, kinds[k]);
		uint8_t *raw = test_read_file(p, &len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
		/* As text: test_read_file does not end it with a NUL. */
		char *gp = malloc(len + 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(gp);
		memcpy(gp, raw, len);
		gp[len] = '\0';
		free(raw);
		int plots = 0;
		for (char *o = strstr(gp, "set output"); o != NULL; plots++) {
			char *next = strstr(o + 1, "set output");
			size_t n = next ? (size_t)(next - o) : strlen(o);
			char save = o[n];
			o[n] = '\0';
			bool ok = strstr(o, "set title '") != NULL &&
			    strstr(o, "set xlabel '") != NULL &&
			    strstr(o, "set ylabel '") != NULL;
			CU_ASSERT(ok);
			if (!ok) {
				printf("\n  %s: a plot without title or labels:\n%s",
				    kinds[k], o);
			}
			o[n] = save;
			o = next;
		}
		CU_ASSERT(plots >= 1);
		free(gp);
	}
}

static void
conf(const char *name, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	CU_ASSERT_EQUAL(test_write_file(p, text, strlen(text), 0644), 0);
}

/* Node config files: options applied from the file (what the node checks
 * before it reaches the referee shows it), the command line over them,
 * and every bad line named by file and line. */
static void
test_node_config(void)
{
	char out[4096];
	CU_ASSERT_EQUAL(run(out, sizeof(out), "keygen -o cfg.key -f"), 0);
	CU_ASSERT_EQUAL(test_shell(out, sizeof(out), tmpdir, 1, "cp cfg.key "
	    "open.key && chmod 644 open.key"), 0);
	conf("a.conf", "# an executor\n\nidentity open.key   # the key\n"
	    "  model  m.rfm\nhash nope\n");
	/* identity and model from the file (else: missing --identity,
	 * give a --model), then its hash refused. */
	CU_ASSERT_EQUAL(run(out, sizeof(out), "executor --config a.conf"), 2);
	CU_ASSERT(strstr(out, "--hash must be") != NULL);
	/* The command line's --hash wins: on to the key, the file's. */
	CU_ASSERT_EQUAL(run(out, sizeof(out), "executor --hash blake3 -c "
	    "a.conf"), 1);
	CU_ASSERT(strstr(out, "'open.key' is accessible by others") != NULL);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "executor -c a.conf --hash "
	    "blake3"), 1);
	CU_ASSERT(strstr(out, "accessible by others") != NULL);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "challenger --config=a.conf "
	    "--hash=blake3"), 1);
	CU_ASSERT(strstr(out, "accessible by others") != NULL);
	/* Flags: alone, true or false. */
	conf("f.conf", "no-dispute\nidentity open.key\nhash blake3\n");
	CU_ASSERT_EQUAL(run(out, sizeof(out), "challenger -c f.conf"), 1);
	CU_ASSERT(strstr(out, "accessible by others") != NULL);

	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "stake 10\nbogus 1\n", "b.conf: line 2: unknown option 'bogus'" },
		{ "\n\nstake ten\n", "b.conf: line 3: --stake needs an integer" },
		{ "db a.db\ndb b.db\n", "line 2: 'db' is given twice (first on "
		    "line 1)" },
		{ "db\n", "line 1: 'db' needs a value ('db FILE')" },
		{ "listen   # no value\n", "line 1: 'listen' needs a value" },
		{ "config other.conf\n", "cannot name another" },
		{ "--stake -5\n", "line 1: --stake needs a non-negative" },
		{ "identity a\0b\n", "holds a NUL byte" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char p[512];
		snprintf(p, sizeof(p), "%s/b.conf", tmpdir);
		size_t n = strlen(bad[i].text);
		if (strstr(bad[i].want, "NUL") != NULL) {
			n = 12;
		}
		CU_ASSERT_EQUAL(test_write_file(p, bad[i].text, n, 0644), 0);
		CU_ASSERT_EQUAL(run(out, sizeof(out), "executor -c b.conf"), 2);
		CU_ASSERT(strstr(out, bad[i].want) != NULL);
		CU_ASSERT_EQUAL(count_lines(out), 1);
		if (strstr(out, bad[i].want) == NULL) {
			printf("\n  config %zu: %s", i, out);
		}
	}
	conf("c.conf", "no-dispute maybe\n");
	CU_ASSERT_EQUAL(run(out, sizeof(out), "challenger -c c.conf"), 2);
	CU_ASSERT(strstr(out, "'no-dispute' is a flag") != NULL);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "referee -c nothere.conf"), 2);
	CU_ASSERT(strstr(out, "nothere.conf") != NULL);
	/* --help needs no readable config. */
	CU_ASSERT_EQUAL(run(out, sizeof(out), "executor -c nothere.conf "
	    "--help"), 0);
	CU_ASSERT(strstr(out, "--config FILE") != NULL);
}

static void
test_help_and_usage_errors(void)
{
	char out[16384];
	CU_ASSERT_EQUAL(run(out, sizeof(out), "--help"), 0);
	CU_ASSERT(strstr(out, "model run") != NULL);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model run --help"), 0);
	CU_ASSERT(strstr(out, "--input") != NULL);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model --help"), 0);
	CU_ASSERT(strstr(out, "gen") != NULL);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "%s", ""), 2);
	/* Wrong command, wrong flag, missing value: one line, exit 2. */
	CU_ASSERT_EQUAL(run(out, sizeof(out), "frobnicate"), 2);
	CU_ASSERT(count_lines(out) == 1 && strstr(out, "unknown command"));
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model run x.rfm --bogus"), 2);
	CU_ASSERT(count_lines(out) == 1 && strstr(out, "'--bogus'"));
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model gen mlp --seed"), 2);
	CU_ASSERT(count_lines(out) == 1 && strstr(out, "needs a value"));
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model gen mlp -o m.rfm "
	    "--seed abc"), 2);
	CU_ASSERT(count_lines(out) == 1);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model gen rnn -o m.rfm"), 2);
	CU_ASSERT(strstr(out, "unknown model kind 'rnn'") != NULL);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model gen mlp"), 2);
	CU_ASSERT(strstr(out, "--output") != NULL);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model gen transformer "
	    "--d-model 10 --heads 3 -o t.rfm"), 2);
	CU_ASSERT(strstr(out, "multiple of heads") != NULL);
	/* A 3000x3000 layer could not be defended in a dispute (its
	 * reveal exceeds a verdict's transcript): refused, by name, and
	 * nothing written. */
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model gen mlp --in 3000 "
	    "--hidden 3000 -o big.rfm"), 1);
	CU_ASSERT(count_lines(out) == 1 &&
	    strstr(out, "operator 0 ('fc0', Gemm)") != NULL &&
	    strstr(out, "transcript") != NULL);
	CU_ASSERT_NOT_EQUAL(run(out, sizeof(out), "model info big.rfm"), 0);
}

static void
test_bad_files(void)
{
	char out[16384];
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model info missing.rfm"), 1);
	CU_ASSERT(count_lines(out) == 1 &&
	    strstr(out, "No such file") != NULL);
	write_file("junk.rfm", "not a model at all, clearly", 27);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model info junk.rfm"), 1);
	CU_ASSERT(count_lines(out) == 1 && strstr(out, "bad magic"));
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model run ."), 1);
	CU_ASSERT(strstr(out, "not a regular file") != NULL);
}

static void
test_gen_info_run(void)
{
	char out[65536];
	CU_ASSERT_EQUAL(run(out, sizeof(out),
	    "model gen cnn --seed 5 --image 16 -o cnn.rfm"), 0);
	CU_ASSERT_EQUAL(run(out, sizeof(out),
	    "model gen cnn --seed 5 --image 16 -o cnn2.rfm"), 0);
	CU_ASSERT(same_file("cnn.rfm", "cnn2.rfm"));
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model info cnn.rfm"), 0);
	CU_ASSERT(strstr(out, "Conv") != NULL &&
	    strstr(out, "image f32[1,3,16,16]") != NULL);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model info --json cnn.rfm"), 0);
	CU_ASSERT(strncmp(out, "{\"file\":\"cnn.rfm\"", 17) == 0);
	CU_ASSERT(strstr(out, "\"operators\":11") != NULL);

	/* Two runs, and a reference-kernel run: identical output bytes. */
	CU_ASSERT_EQUAL(run(out, sizeof(out),
	    "model run cnn.rfm --seed 3 -o y1.npy"), 0);
	CU_ASSERT(strstr(out, "output probs f32[1,10]") != NULL);
	CU_ASSERT_EQUAL(run(out, sizeof(out),
	    "model run cnn.rfm --seed 3 -o y2.npy"), 0);
	CU_ASSERT_EQUAL(run(out, sizeof(out),
	    "model run cnn.rfm --seed 3 --kernels ref -o y3.npy"), 0);
	CU_ASSERT(same_file("y1.npy", "y2.npy"));
	CU_ASSERT(same_file("y1.npy", "y3.npy"));
	char j1[8192], j2[8192];
	CU_ASSERT_EQUAL(run(j1, sizeof(j1), "model run cnn.rfm --json"), 0);
	CU_ASSERT_EQUAL(run(j2, sizeof(j2), "model run cnn.rfm --json"), 0);
	CU_ASSERT(strcmp(j1, j2) == 0);
	CU_ASSERT(strstr(j1, "\"shape\":[1,10]") != NULL);
}

/* --repeat times runs in-process: the format of what it prints (never
 * the times themselves), and the outputs are those of a plain run. */
static void
test_run_repeat(void)
{
	char out[65536];
	CU_ASSERT_EQUAL(run(out, sizeof(out),
	    "model gen mlp --seed 2 -o rep.rfm"), 0);
	CU_ASSERT_EQUAL(run(out, sizeof(out),
	    "model run rep.rfm --seed 4 -o rep0.npy"), 0);
	CU_ASSERT(strstr(out, "time per run") == NULL);
	CU_ASSERT_EQUAL(run(out, sizeof(out),
	    "model run rep.rfm --seed 4 --repeat 3 -o rep1.npy"), 0);
	CU_ASSERT(same_file("rep0.npy", "rep1.npy"));
	double mn = -1.0, med = -1.0;
	long long n = 0;
	const char *line = strstr(out, "time per run: ");
	CU_ASSERT_PTR_NOT_NULL_FATAL(line);
	CU_ASSERT_EQUAL(sscanf(line, "time per run: min %lf ms, median %lf ms "
	    "(%lld runs after a warm-up)", &mn, &med, &n), 3);
	CU_ASSERT(n == 3 && mn >= 0.0 && med >= mn);

	/* JSON: "repeat" and "run_ms": {"min", "median"}; with --trace the
	 * root is the one a plain traced run prints. */
	char j0[65536];
	CU_ASSERT_EQUAL(run(j0, sizeof(j0),
	    "model run rep.rfm --seed 4 --trace --json"), 0);
	CU_ASSERT(strstr(j0, "run_ms") == NULL);
	CU_ASSERT_EQUAL(run(out, sizeof(out),
	    "model run rep.rfm --seed 4 --trace --json --repeat 4"), 0);
	CU_ASSERT(strstr(out, "\"repeat\":4,") != NULL);
	const char *rm = strstr(out, "\"run_ms\":{\"min\":");
	CU_ASSERT_PTR_NOT_NULL_FATAL(rm);
	CU_ASSERT_EQUAL(sscanf(rm, "\"run_ms\":{\"min\":%lf,\"median\":%lf}",
	    &mn, &med), 2);
	CU_ASSERT(mn >= 0.0 && med >= mn);
	const char *r0 = strstr(j0, "\"trace_root\":\"");
	const char *r1 = strstr(out, "\"trace_root\":\"");
	CU_ASSERT_FATAL(r0 != NULL && r1 != NULL);
	CU_ASSERT(strncmp(r0, r1, 15 + 64) == 0);

	/* Bad counts are usage errors. */
	CU_ASSERT_EQUAL(run(out, sizeof(out),
	    "model run rep.rfm --repeat -2"), 2);
	CU_ASSERT_EQUAL(run(out, sizeof(out),
	    "model run rep.rfm --repeat 1000001"), 2);
	CU_ASSERT(strstr(out, "--repeat is at most 1000000") != NULL);
	CU_ASSERT_EQUAL(run(out, sizeof(out),
	    "model run rep.rfm --repeat many"), 2);
}

static void
test_npy_input(void)
{
	char out[65536];
	CU_ASSERT_EQUAL(run(out, sizeof(out),
	    "model gen mlp --batch 2 --in 4 --hidden 8 --out 3 -o m.rfm"), 0);
	/* A float32 [2, 4] array in NumPy 1.0 format, written by hand. */
	const char hdr[] = "{'descr': '<f4', 'fortran_order': False, "
	    "'shape': (2, 4), }";
	uint8_t file[128 + 32];
	memset(file, ' ', 128);
	memcpy(file, "\x93NUMPY\x01\x00", 8);
	file[8] = 118;
	file[9] = 0;
	memcpy(file + 10, hdr, sizeof(hdr) - 1);
	file[127] = '\n';
	float x[8] = { 1, -2, 3, -4, 0.5f, 0.25f, -1, 2 };
	memcpy(file + 128, x, sizeof(x));
	write_file("x.npy", file, 128 + sizeof(x));
	CU_ASSERT_EQUAL(run(out, sizeof(out),
	    "model run m.rfm --input x.npy -o y.npy"), 0);
	CU_ASSERT(strstr(out, "input from file") != NULL);
	/* Feeding the output back in as an input is the wrong shape. */
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model run m.rfm -i y.npy"), 1);
	CU_ASSERT(strstr(out, "dimension 1 must be 4") != NULL);
	/* A truncated .npy gets a clear one-line error. */
	write_file("bad.npy", file, 100);
	CU_ASSERT_EQUAL(run(out, sizeof(out), "model run m.rfm -i bad.npy"), 1);
	CU_ASSERT(count_lines(out) == 1 && strstr(out, "npy:") != NULL);
	CU_ASSERT_EQUAL(run(out, sizeof(out),
	    "model run m.rfm -i x.npy --seed 2"), 2);
}

static void
test_trace_root(void)
{
	char a[4096], b[4096], c[4096];
	CU_ASSERT_EQUAL(run(a, sizeof(a),
	    "model gen transformer --seed 2 -o t.rfm"), 0);
	/* Two processes, two kernel kinds: one root. */
	CU_ASSERT_EQUAL(run(a, sizeof(a), "model run t.rfm --seed 9 --trace"), 0);
	CU_ASSERT_EQUAL(run(b, sizeof(b), "model run t.rfm --seed 9 --trace "
	    "--kernels ref"), 0);
	const char *ra = strstr(a, "trace root ");
	const char *rb = strstr(b, "trace root ");
	CU_ASSERT_FATAL(ra != NULL && rb != NULL);
	CU_ASSERT(strcmp(ra, rb) == 0);
	CU_ASSERT(strstr(ra, "(blake3-256, 35 leaves)") != NULL);
	/* Another input, another root; the xxh3 suite is shorter. */
	CU_ASSERT_EQUAL(run(c, sizeof(c), "model run t.rfm --seed 10 --trace"), 0);
	CU_ASSERT(strcmp(ra, strstr(c, "trace root ")) != 0);
	CU_ASSERT_EQUAL(run(c, sizeof(c), "model run t.rfm --trace --hash xxh3"),
	    0);
	CU_ASSERT(strstr(c, "(xxh3-128, 35 leaves)") != NULL);
	/* blake2b, the suite of networks without a suite line, gives
	 * another root over the same trace. */
	CU_ASSERT_EQUAL(run(c, sizeof(c), "model run t.rfm --seed 9 --trace "
	    "--hash blake2b"), 0);
	CU_ASSERT(strstr(c, "(blake2b-256, 35 leaves)") != NULL);
	CU_ASSERT(strncmp(ra, strstr(c, "trace root "), 75) != 0);
	CU_ASSERT_EQUAL(run(c, sizeof(c), "model run t.rfm --hash sha1"), 2);
	/* An independent implementation (Python hashlib) agrees with the
	 * root and with the output tensor's leaf. */
	CU_ASSERT_FATAL(verifier[0] != '\0');
	CU_ASSERT_EQUAL(run(c, sizeof(c), "model run t.rfm --seed 9 --trace "
	    "--json --hash blake2b -o y.npy | python3 %s y.npy", verifier), 0);
	CU_ASSERT_STRING_EQUAL(c, "ok\n");
}

/* --threads: every count gives one trace root, also with every section
 * split (RF_PAR_MIN_WORK=0); JSON names the count and the load time; too
 * many threads is a usage error. */
static void
test_threads(void)
{
	char a[4096], b[4096];
	CU_ASSERT_EQUAL(run(a, sizeof(a),
	    "model gen transformer --seed 3 -o th.rfm"), 0);
	CU_ASSERT_EQUAL(run(a, sizeof(a), "model run th.rfm --seed 9 --trace "
	    "--threads 1"), 0);
	const char *ra = strstr(a, "trace root ");
	CU_ASSERT_FATAL(ra != NULL);
	const char *counts[] = { "2", "3", "7", "0" };
	for (size_t i = 0; i < 4; i++) {
		CU_ASSERT_EQUAL(run(b, sizeof(b), "model run th.rfm --seed 9 "
		    "--trace --threads %s", counts[i]), 0);
		CU_ASSERT(strstr(b, ra) != NULL);
	}
	setenv("RF_PAR_MIN_WORK", "0", 1);
	CU_ASSERT_EQUAL(run(b, sizeof(b), "model run th.rfm --seed 9 --trace "
	    "--threads 3"), 0);
	unsetenv("RF_PAR_MIN_WORK");
	CU_ASSERT(strstr(b, ra) != NULL);
	CU_ASSERT_EQUAL(run(b, sizeof(b), "model run th.rfm --seed 9 --json "
	    "--threads 2 --repeat 1"), 0);
	CU_ASSERT(strstr(b, "\"threads\":2") != NULL);
	CU_ASSERT(strstr(b, "\"load_ms\":") != NULL);
	CU_ASSERT_EQUAL(run(b, sizeof(b), "model run th.rfm --threads 257"), 2);
	CU_ASSERT(strstr(b, "at most 256") != NULL);
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "help and usage errors", test_help_and_usage_errors },
		{ "bad files", test_bad_files },
		{ "gen, info, run", test_gen_info_run },
		{ "npy input and output", test_npy_input },
		{ "model run --repeat", test_run_repeat },
		{ "trace root: processes, kernels, Python", test_trace_root },
		{ "model run --threads", test_threads },
		{ "keygen --show, exit codes in --help", test_keygen_show },
		{ "node config files", test_node_config },
		{ "sim plots have titles and axis labels", test_sim_plots },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "refute command", setup, teardown, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
