/*
 * tests/integration/devnet_test.c - the optimistic path end to end with
 * real processes: `refute devnet` runs a referee, 2 executors and 1
 * challenger that verifies every claim, and 200 jobs. The test reads its
 * JSON report and checks that every job became final exactly once, every
 * claim was verified by the challenger with no mismatch, the ledger total
 * did not change, the fees went to the executors, and every claimed trace
 * root equals the one a direct `refute model run --trace` of the same
 * model and seed prints (all 200, each in its own process). A second,
 * small network with a lying executor checks what the launcher reads
 * from the challenger's metrics and the verdicts it keeps for audit.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/testlib.h"

#define JOBS 200
#define SEED 1000
#define FEE 10
#define OUT_MAX (4 << 20)

static char tmpdir[256];
static char *out; /* devnet's stdout: the JSON report */
static int devnet_rc = -1;

/* Runs a shell command in tmpdir, capturing stdout; returns the exit
 * code. */
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

/* ---- A little JSON reading: the report's layout is ours ------------ */

/* The value after "key": inside [from, to), or NULL. */
static const char *
field(const char *from, const char *to, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(from, pat);
	if (p == NULL || (to != NULL && p >= to)) {
		return NULL;
	}
	return p + strlen(pat);
}

static unsigned long long
num(const char *from, const char *to, const char *key)
{
	const char *v = field(from, to, key);
	CU_ASSERT_FATAL(v != NULL);
	return strtoull(v, NULL, 10);
}

/* A string value into buf. */
static void
str(const char *from, const char *to, const char *key, char *buf,
    size_t cap)
{
	const char *v = field(from, to, key);
	CU_ASSERT_FATAL(v != NULL && *v == '"');
	v++;
	size_t n = 0;
	while (v[n] != '"' && v[n] != '\0' && n < cap - 1) {
		n++;
	}
	memcpy(buf, v, n);
	buf[n] = '\0';
}

static bool
flag(const char *from, const char *to, const char *key)
{
	const char *v = field(from, to, key);
	CU_ASSERT_FATAL(v != NULL);
	return strncmp(v, "true", 4) == 0;
}

/* The objects of the array under key, one at a time: *pos walks it. */
static bool
next_object(const char **pos, const char **start, const char **end)
{
	const char *p = strchr(*pos, '{');
	const char *close = strchr(*pos, ']');
	if (p == NULL || (close != NULL && close < p)) {
		return false;
	}
	/* Our objects in these arrays hold no nested objects or braces in
	 * strings (keys and hex only). */
	const char *e = strchr(p, '}');
	CU_ASSERT_FATAL(e != NULL);
	*start = p;
	*end = e;
	*pos = e + 1;
	return true;
}

/* ------------------------------------------------------------------ */

static int
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rf-devnet-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		return 1;
	}
	out = malloc(OUT_MAX);
	return out == NULL;
}

static int
teardown(void)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	free(out);
	return system(cmd) != 0;
}

static void
test_run(void)
{
	double t0 = test_seconds();
	/* The network's own timeout bounds the run; stderr (the progress
	 * lines, any log tails) goes to a file kept with the run. */
	devnet_rc = run(out, OUT_MAX, "%s devnet --executors 2 --challengers 1 "
	    "--jobs %d --seed %d --fee %d --rate 1 --window-ms 500 --timeout 60 "
	    "--dir run --keep --json 2>devnet.err", test_refute(), JOBS, SEED,
	    FEE);
	printf("\n    devnet: %.1f s, exit %d ", test_seconds() - t0, devnet_rc);
	if (devnet_rc != 0) {
		char err[8192];
		run(err, sizeof(err), "cat devnet.err");
		fprintf(stderr, "%s\n%s\n", out, err);
	}
	CU_ASSERT_EQUAL_FATAL(devnet_rc, 0);
	CU_ASSERT_FATAL(out[0] == '{');
	CU_ASSERT(flag(out, NULL, "ok"));
	CU_ASSERT(flag(out, NULL, "kept"));
	CU_ASSERT(!flag(out, NULL, "interrupted"));
}

static void
test_every_job_final_and_verified(void)
{
	CU_ASSERT_EQUAL_FATAL(devnet_rc, 0);
	CU_ASSERT_EQUAL(num(out, NULL, "jobs_wanted"), JOBS);
	CU_ASSERT_EQUAL(num(out, NULL, "submitted"), JOBS);
	CU_ASSERT_EQUAL(num(out, NULL, "claimed"), JOBS);
	CU_ASSERT_EQUAL(num(out, NULL, "final"), JOBS);
	CU_ASSERT_EQUAL(num(out, NULL, "invalid"), 0);
	CU_ASSERT_EQUAL(num(out, NULL, "verifications"), JOBS);
	CU_ASSERT_EQUAL(num(out, NULL, "mismatches"), 0);
	CU_ASSERT_EQUAL(num(out, NULL, "skipped"), 0);
	const char *pos = field(out, NULL, "jobs");
	CU_ASSERT_FATAL(pos != NULL && *pos == '[');
	const char *s, *e;
	size_t n = 0;
	while (next_object(&pos, &s, &e)) {
		char state[16];
		str(s, e, "state", state, sizeof(state));
		CU_ASSERT_STRING_EQUAL(state, "final");
		CU_ASSERT_EQUAL(num(s, e, "claim_events"), 1);
		CU_ASSERT_EQUAL(num(s, e, "final_events"), 1);
		CU_ASSERT_EQUAL(num(s, e, "disputes"), 0);
		CU_ASSERT_EQUAL(num(s, e, "seed"), SEED + n);
		n++;
	}
	CU_ASSERT_EQUAL(n, JOBS);
}

static void
test_ledger_unchanged(void)
{
	CU_ASSERT_EQUAL_FATAL(devnet_rc, 0);
	unsigned long long minted = num(out, NULL, "minted");
	CU_ASSERT(minted > 0);
	CU_ASSERT_EQUAL(num(out, NULL, "ledger_before"), minted);
	CU_ASSERT_EQUAL(num(out, NULL, "ledger_after"), minted);
	/* Every fee went from the client to the executor that earned it:
	 * genesis gave each node 1000000 (the client its fees on top). */
	const char *pos = field(out, NULL, "nodes");
	CU_ASSERT_FATAL(pos != NULL);
	const char *s, *e;
	unsigned long long earned = 0, claims = 0;
	size_t executors = 0, nodes = 0;
	while (next_object(&pos, &s, &e)) {
		char role[16];
		str(s, e, "role", role, sizeof(role));
		CU_ASSERT_EQUAL(num(s, e, "exit_code"), 0);
		CU_ASSERT(!flag(s, e, "failed"));
		nodes++;
		if (strcmp(role, "executor") == 0) {
			unsigned long long c = num(s, e, "claims");
			executors++;
			claims += c;
			/* The referee spreads jobs over both executors. */
			CU_ASSERT(c > 0);
			CU_ASSERT_EQUAL(num(s, e, "stake"), 1000);
			earned += num(s, e, "balance") + 1000 - 1000000;
			CU_ASSERT_EQUAL(num(s, e, "balance") + 1000 - 1000000,
			    c * FEE);
		} else if (strcmp(role, "client") == 0) {
			CU_ASSERT_EQUAL(num(s, e, "balance"), 1000000);
		} else if (strcmp(role, "challenger") == 0) {
			CU_ASSERT_EQUAL(num(s, e, "verified"), JOBS);
			CU_ASSERT_EQUAL(num(s, e, "mismatches"), 0);
		}
	}
	CU_ASSERT_EQUAL(nodes, 5);
	CU_ASSERT_EQUAL(executors, 2);
	CU_ASSERT_EQUAL(claims, JOBS);
	CU_ASSERT_EQUAL(earned, (unsigned long long)JOBS * FEE);
}

static void
test_trace_roots_match_model_run(void)
{
	CU_ASSERT_EQUAL_FATAL(devnet_rc, 0);
	char model[512];
	str(out, NULL, "model_file", model, sizeof(model));
	CU_ASSERT(strstr(model, "/run/model.rfm") != NULL);
	const char *pos = field(out, NULL, "jobs");
	CU_ASSERT_FATAL(pos != NULL);
	const char *s, *e;
	size_t n = 0, same = 0;
	char first[80] = "";
	bool all_equal = true;
	/* Every job, each in a process of its own: the claimed root is the
	 * root anyone gets by running the model on the job's input. */
	while (next_object(&pos, &s, &e)) {
		char root[80], buf[4096], want[160];
		str(s, e, "trace_root", root, sizeof(root));
		unsigned long long seed = num(s, e, "seed");
		int rc = run(buf, sizeof(buf), "%s model run %s --seed %llu "
		    "--trace", test_refute(), model, seed);
		CU_ASSERT_EQUAL(rc, 0);
		snprintf(want, sizeof(want), "trace root %s (blake3-256, ", root);
		if (strstr(buf, want) != NULL) {
			same++;
		} else {
			fprintf(stderr, "job %zu (seed %llu): claimed %s, model run "
			    "says:\n%s\n", n, seed, root, buf);
		}
		if (n == 0) {
			snprintf(first, sizeof(first), "%s", root);
		} else if (strcmp(first, root) != 0) {
			all_equal = false;
		}
		n++;
	}
	CU_ASSERT_EQUAL(n, JOBS);
	CU_ASSERT_EQUAL(same, JOBS);
	/* Different seeds, different inputs, different roots. */
	CU_ASSERT(!all_equal);
}

static void
test_run_folder(void)
{
	CU_ASSERT_EQUAL_FATAL(devnet_rc, 0);
	char buf[4096];
	/* Keys are private; every node left a log. */
	CU_ASSERT_EQUAL(run(buf, sizeof(buf), "stat -c '%%a %%n' run/*.key"), 0);
	CU_ASSERT(strstr(buf, "600 run/referee.key") != NULL);
	CU_ASSERT(strstr(buf, "600 run/executor-2.key") != NULL);
	CU_ASSERT(strstr(buf, "600 run/client.key") != NULL);
	CU_ASSERT(strstr(buf, "644") == NULL);
	CU_ASSERT_EQUAL(run(buf, sizeof(buf), "cat run/executor-1.log "
	    "run/executor-2.log | grep -c 'claim accepted'"), 0);
	CU_ASSERT_EQUAL(strtoul(buf, NULL, 10), JOBS);
	CU_ASSERT_EQUAL(run(buf, sizeof(buf), "grep -c 'trace root matches' "
	    "run/challenger-1.log"), 0);
	CU_ASSERT_EQUAL(strtoul(buf, NULL, 10), JOBS);
	CU_ASSERT_EQUAL(run(buf, sizeof(buf), "grep -c 'referee stopping' "
	    "run/referee.log"), 0);
}

/*
 * A lying executor: the launcher learns everything from public interfaces
 * (the referee's requests and events, the challenger's metrics), and
 * keeps each signed verdict as the referee sent it, so it can be audited
 * after the network is gone. Nothing here opens a node's database.
 */
static void
test_liar_verdicts_kept(void)
{
	char *lie = malloc(OUT_MAX);
	CU_ASSERT_FATAL(lie != NULL);
	int rc = run(lie, OUT_MAX, "%s devnet --executors 2 --challengers 1 "
	    "--jobs 12 --faulty 1 --fault lie-at-op --rate 1 --window-ms 1000 "
	    "--timeout 60 --dir liar --keep --json 2>liar.err", test_refute());
	if (rc != 0) {
		char err[8192];
		run(err, sizeof(err), "cat liar.err");
		fprintf(stderr, "%.4000s\n%s\n", lie, err);
	}
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT(flag(lie, NULL, "ok"));
	unsigned long long claimed = num(lie, NULL, "claimed");
	unsigned long long faulty = num(lie, NULL, "faulty_jobs");
	CU_ASSERT(faulty > 0);
	CU_ASSERT_EQUAL(num(lie, NULL, "faulty_caught"), faulty);
	/* The challenger's own counts, from its metrics: one record per
	 * claim, a mismatch for every lie. */
	CU_ASSERT_EQUAL(num(lie, NULL, "verifications"), claimed);
	CU_ASSERT_EQUAL(num(lie, NULL, "mismatches"), faulty);
	CU_ASSERT_EQUAL(num(lie, NULL, "skipped"), 0);
	const char *pos = field(lie, NULL, "nodes");
	CU_ASSERT_FATAL(pos != NULL);
	const char *s, *e;
	while (next_object(&pos, &s, &e)) {
		char role[16];
		str(s, e, "role", role, sizeof(role));
		if (strcmp(role, "challenger") == 0) {
			CU_ASSERT_EQUAL(num(s, e, "verified"), claimed - faulty);
			CU_ASSERT_EQUAL(num(s, e, "mismatches"), faulty);
		}
	}
	/* Every job a dispute was opened on fell, and no other. */
	pos = field(lie, NULL, "jobs");
	CU_ASSERT_FATAL(pos != NULL);
	unsigned long long disputed = 0;
	while (next_object(&pos, &s, &e)) {
		char state[16];
		str(s, e, "state", state, sizeof(state));
		bool fell = strcmp(state, "invalid") == 0;
		CU_ASSERT_EQUAL(num(s, e, "disputes") > 0, fell);
		disputed += fell;
	}
	CU_ASSERT_EQUAL(disputed, faulty);
	/* Each verdict, from its file, replays and is confirmed. */
	pos = field(lie, NULL, "disputes");
	CU_ASSERT_FATAL(pos != NULL);
	size_t audited = 0;
	while (next_object(&pos, &s, &e)) {
		char file[512], buf[4096];
		CU_ASSERT(flag(s, e, "decided"));
		str(s, e, "verdict_file", file, sizeof(file));
		CU_ASSERT(strstr(file, "/liar/verdicts/") != NULL);
		rc = run(buf, sizeof(buf), "%s audit --genesis liar/genesis %s",
		    test_refute(), file);
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT(strstr(buf, "CONFIRMED") != NULL);
		audited++;
	}
	CU_ASSERT_EQUAL(audited, num(lie, NULL, "challenger_wins"));
	CU_ASSERT(audited >= faulty);
	free(lie);
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "devnet: 2 executors, 1 challenger, 200 jobs", test_run },
		{ "every job final once, every claim verified",
		    test_every_job_final_and_verified },
		{ "ledger total unchanged, fees to executors",
		    test_ledger_unchanged },
		{ "claimed trace roots equal refute model run",
		    test_trace_roots_match_model_run },
		{ "run folder: private keys, a log per node", test_run_folder },
		{ "a liar: counts from metrics, every verdict kept and audited",
		    test_liar_verdicts_kept },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "local network", setup, teardown, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
