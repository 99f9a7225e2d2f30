/*
 * tests/integration/dispute_test.c - every testing fault, with real
 * processes: `refute devnet` runs a referee, two executors (one of them
 * faulty) and a challenger that verifies everything, or honest executors
 * and a faulty challenger. For each fault the test reads the JSON report
 * and checks that the honest side won every dispute, the disputed
 * operator is the one the fault hit (where the fault names one), the
 * verdict's reason fits the fault, the liar was slashed (or the false
 * challenger lost its bond), and the ledger total did not change.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/testlib.h"

#define OUT_MAX (1 << 20)
#define FAULT_OP 2
/* The default generated MLP: Gemm, Relu, Gemm, Relu, Gemm, Softmax. */
#define LAST_OP 5

static char tmpdir[256];
static const char *refute;
static char *out;

static int
run_devnet(const char *extra)
{
	/* Flags given later (extra) override the defaults before them. */
	return test_shell(out, OUT_MAX, tmpdir, 0, "%s devnet --executors 2 "
	    "--challengers 1 --jobs 6 --window-ms 1500 --clock-ms 1500 "
	    "--timeout 90 --json %s 2>/dev/null", refute, extra);
}

/* The number after "key": at or after from (NULL if absent). */
static const char *
after(const char *from, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(from, pat);
	return p != NULL ? p + strlen(pat) : NULL;
}

static long long
num(const char *from, const char *key)
{
	const char *v = after(from, key);
	CU_ASSERT_FATAL(v != NULL);
	return strtoll(v, NULL, 10);
}

static bool
str_is(const char *from, const char *key, const char *want)
{
	const char *v = after(from, key);
	return v != NULL && *v == '"' && strncmp(v + 1, want, strlen(want)) == 0 &&
	    v[1 + strlen(want)] == '"';
}

/* What a fault's disputes must look like. */
struct expect {
	const char *flags;
	const char *winner;     /* "executor" or "challenger" */
	const char *reason;     /* verdict reason, or NULL for any */
	long long op;           /* disputed operator, -1 for any */
	bool disputes;          /* at least one dispute */
	bool executor_slashed;
};

static void
check(const struct expect *x)
{
	int rc = run_devnet(x->flags);
	if (rc != 0) {
		printf("\n%s: exit %d\n%.2000s\n", x->flags, rc, out);
	}
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(strncmp(out, "{\"ok\":true", 10) == 0);
	CU_ASSERT_EQUAL(num(out, "ledger_before"), num(out, "ledger_after"));
	CU_ASSERT_EQUAL(num(out, "minted"), num(out, "ledger_after"));
	long long slashed = num(out, "slashed");
	CU_ASSERT(x->executor_slashed ? slashed > 0 : slashed == 0);
	const char *d = after(out, "disputes");
	CU_ASSERT_FATAL(d != NULL);
	const char *end = strstr(d, "],\"nodes\"");
	CU_ASSERT_FATAL(end != NULL);
	size_t seen = 0;
	for (const char *p = strstr(d, "{\"dispute_id\""); p != NULL && p < end;
	    p = strstr(p + 1, "{\"dispute_id\"")) {
		seen++;
		const char *dec = after(p, "decided");
		CU_ASSERT(dec != NULL && strncmp(dec, "true", 4) == 0);
		if (str_is(p, "reason", "settled")) {
			continue; /* closed by another verdict on the claim */
		}
		CU_ASSERT(str_is(p, "winner", x->winner));
		if (x->reason != NULL) {
			CU_ASSERT(str_is(p, "reason", x->reason));
		}
		if (x->op >= 0) {
			CU_ASSERT_EQUAL(num(p, "op"), x->op);
		}
	}
	CU_ASSERT(x->disputes ? seen > 0 : seen == 0);
	if (x->executor_slashed) {
		/* Every claim of the faulty executor was caught. */
		CU_ASSERT(num(out, "faulty_jobs") > 0);
		CU_ASSERT_EQUAL(num(out, "faulty_caught"), num(out, "faulty_jobs"));
	}
}

static void
test_lie_at_op(void)
{
	struct expect x = { "--faulty 1 --fault lie-at-op --fault-op 2",
		"challenger", "recomputed", FAULT_OP, true, true };
	check(&x);
}

static void
test_lie_output(void)
{
	struct expect x = { "--faulty 1 --fault lie-output", "challenger",
		"recomputed", LAST_OP, true, true };
	check(&x);
}

static void
test_random(void)
{
	/* Made-up leaves differ from the first operator on. */
	struct expect x = { "--faulty 1 --fault random", "challenger",
		"recomputed", 0, true, true };
	check(&x);
}

static void
test_bad_proof(void)
{
	struct expect x = { "--faulty 1 --fault bad-proof --fault-op 2",
		"challenger", "bad-proof", -1, true, true };
	check(&x);
}

static void
test_silent_executor(void)
{
	struct expect x = { "--faulty 1 --fault silent --fault-op 2",
		"challenger", "timeout", -1, true, true };
	check(&x);
}

static void
test_equivocate(void)
{
	/* The referee holds both signed claims: slashed without a game. */
	struct expect x = { "--faulty 1 --fault equivocate", "challenger",
		NULL, -1, false, true };
	check(&x);
}

static void
test_false_challenge(void)
{
	struct expect x = { "--faulty-challengers 1 --challenger-fault "
		"false-challenge", "executor", "recomputed", LAST_OP, true, false };
	check(&x);
	/* The challenger paid its bonds to the executors. */
	const char *c = strstr(out, "\"name\":\"challenger-1\"");
	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT(num(c, "balance") < 1000000);
}

static void
test_silent_challenger(void)
{
	struct expect x = { "--faulty-challengers 1 --challenger-fault silent",
		"executor", "timeout", -1, true, false };
	check(&x);
}

/* Three challengers dispute each false claim at once: the first verdict
 * against the claim settles the other two (bonds back), the liar is
 * slashed once. */
static void
test_several_challengers(void)
{
	struct expect x = { "--challengers 3 --faulty 1 --fault lie-at-op "
		"--fault-op 2", "challenger", NULL, -1, true, true };
	check(&x);
	long long claims = num(out, "faulty_jobs");
	long long recomputed = 0, settled = 0, all = 0;
	for (const char *p = strstr(out, "{\"dispute_id\""); p != NULL;
	    p = strstr(p + 1, "{\"dispute_id\"")) {
		all++;
		recomputed += str_is(p, "reason", "recomputed");
		settled += str_is(p, "reason", "settled");
	}
	/* Each false claim is decided once; every other dispute on it (a
	 * challenger that came later may also be refused, the claim having
	 * fallen) is settled. */
	CU_ASSERT_EQUAL(recomputed, claims);
	CU_ASSERT_EQUAL(recomputed + settled, all);
	CU_ASSERT(settled <= 2 * claims);
	/* No honest challenger lost its bond. */
	for (const char *c = strstr(out, "\"role\":\"challenger\""); c != NULL;
	    c = strstr(c + 1, "\"role\":\"challenger\"")) {
		CU_ASSERT(num(c, "balance") >= 1000000);
	}
	/* One whole stake, whatever the number of verdicts. */
	CU_ASSERT_EQUAL(num(out, "slashed"), 1000);
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
	out = malloc(OUT_MAX);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rf-dispute-XXXXXX");
	return out == NULL || mkdtemp(tmpdir) == NULL;
}

static int
teardown(void)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	free(out);
	return system(cmd) != 0;
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "executor lies at an operator", test_lie_at_op },
		{ "executor lies on the output", test_lie_output },
		{ "executor makes up its output", test_random },
		{ "executor answers with a wrong proof", test_bad_proof },
		{ "executor goes silent", test_silent_executor },
		{ "executor equivocates", test_equivocate },
		{ "challenger disputes correct claims", test_false_challenge },
		{ "challenger goes silent", test_silent_challenger },
		{ "several challengers, one verdict settles",
		    test_several_challengers },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "disputes with real processes", setup, teardown, NULL, NULL,
		    tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
