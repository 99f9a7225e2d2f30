/*
 * tests/sim/sim_test.c - the network simulator: the same seed gives the
 * same bytes; p = 1 catches every fraud and no challengers catch none;
 * the measured detection rate lies within a 99.9% interval of
 * 1 - (1 - p)^c; the ledger invariant holds after every run; disputes
 * decided by bisect/ find the lied-at operator (also on a real model);
 * each adversary loses the way the protocol says; configuration errors
 * are reported by line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bisect/bisect.h"
#include "sim/sim.h"
#include "tests/testlib.h"

static char tmpdir[] = "/tmp/rf-sim-test-XXXXXX";

/* A small, fast network: one model, fast compute and links, a long
 * window, so every sim_sampled claim is verified in time. */
static void
small(struct sim_config *c)
{
	sim_config_init(c);
	c->executors = 40;
	c->challengers = 1;
	c->clients = 20;
	c->models = 1;
	c->jobs = 3000;
	c->rate = 200.0;
	c->ops = 40;
	c->op_us = 10;
	c->latency_us = 1000;
	c->jitter_us = 500;
	c->loss = 0.0;
	c->window_us = 60000000;
	c->clock_us = 10000000;
}

static void
set(struct sim_config *c, const char *k, const char *v)
{
	struct rf_errinfo ei = { "" };
	int err = sim_config_set(c, k, v, &ei);
	if (err != RF_OK) {
		fprintf(stderr, "set %s=%s: %s\n", k, v, ei.msg);
	}
	CU_ASSERT_FATAL(err == RF_OK);
}

static void
run(const struct sim_config *c, struct sim_result *r)
{
	struct rf_errinfo ei = { "" };
	int err = sim_run(c, r, NULL, NULL, &ei);
	if (err != RF_OK) {
		fprintf(stderr, "sim_run: %s\n", ei.msg);
	}
	CU_ASSERT_FATAL(err == RF_OK);
	/* After every run: total == minted, recounted from the parts. */
	CU_ASSERT(r->ledger_ok);
	CU_ASSERT_EQUAL(r->total, r->minted);
	CU_ASSERT_EQUAL(r->honest_invalid, 0);
}

static uint64_t
sum(const uint64_t *v)
{
	uint64_t s = 0;
	for (int k = 1; k < SIM_EX_COUNT; k++) {
		s += v[k];
	}
	return s;
}

/* ------------------------------------------------------------------ */

static void
test_closed_forms(void)
{
	CU_ASSERT_DOUBLE_EQUAL(sim_closed_detection(0.1, 3), 0.271, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(sim_closed_detection(0.5, 1), 0.5, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(sim_closed_detection(1.0, 2), 1.0, 0);
	CU_ASSERT_DOUBLE_EQUAL(sim_closed_detection(0.3, 0), 0.0, 0);
	/* A fractional c interpolates: 1 - 0.9^2.5. */
	CU_ASSERT_DOUBLE_EQUAL(sim_closed_detection(0.1, 2.5),
	    1.0 - 0.76843347142993, 1e-9);
	/* S* = ((1 - P) g - P (f - w)) / P: P = 0.1, g = 4, f = 10, w = 4
	 * gives (3.6 - 0.6) / 0.1 = 30. */
	CU_ASSERT_DOUBLE_EQUAL(sim_min_stake(0.1, 4, 10, 4), 30.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(sim_min_stake(1.0, 4, 10, 4), 0.0, 0);
	double lo, hi;
	sim_wilson(50, 100, 3.2905, &lo, &hi);
	/* By hand: centre 0.5, half-width 0.1563. */
	CU_ASSERT(lo > 0.343 && lo < 0.344 && hi > 0.656 && hi < 0.657);
	sim_wilson(0, 100, 3.2905, &lo, &hi);
	CU_ASSERT(lo < 1e-12 && hi > 0.097 && hi < 0.098);
}

static void
test_config(void)
{
	struct sim_config c;
	struct rf_errinfo ei = { "" };
	sim_config_init(&c);
	CU_ASSERT_EQUAL(sim_config_set(&c, "window", "90s", &ei), RF_OK);
	CU_ASSERT_EQUAL(c.window_us, 90000000);
	CU_ASSERT_EQUAL(sim_config_set(&c, "latency", "2.5ms", &ei), RF_OK);
	CU_ASSERT_EQUAL(c.latency_us, 2500);
	CU_ASSERT_EQUAL(sim_config_set(&c, "nodes", "1000", &ei), RF_OK);
	CU_ASSERT(c.executors == 500 && c.challengers == 100 &&
	    c.clients == 400);
	CU_ASSERT_EQUAL(sim_config_set(&c, "ex.collude", "0.25", &ei), RF_OK);
	CU_ASSERT_DOUBLE_EQUAL(c.ex_mix[SIM_EX_COLLUDE], 0.25, 0);
	CU_ASSERT_EQUAL(sim_config_set(&c, "policy", "value", &ei), RF_OK);
	CU_ASSERT_EQUAL(c.policy, SIM_POLICY_VALUE);
	CU_ASSERT_EQUAL(sim_config_set(&c, "hash", "blake2b", &ei), RF_OK);
	CU_ASSERT_EQUAL(c.suite, PROTO_HASH_BLAKE2B);
	CU_ASSERT_EQUAL(sim_config_set(&c, "nope", "1", &ei), RF_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(sim_config_set(&c, "ex.nope", "1", &ei),
	    RF_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(sim_config_set(&c, "jobs", "-3", &ei), RF_ERR_INVAL);
	CU_ASSERT_EQUAL(sim_config_set(&c, "p", "x", &ei), RF_ERR_INVAL);
	CU_ASSERT_EQUAL(sim_config_set(&c, "window", "5h", &ei), RF_ERR_INVAL);
	CU_ASSERT_EQUAL(sim_config_set(&c, "ex.random", "1.5", &ei),
	    RF_ERR_INVAL);
	CU_ASSERT_EQUAL(sim_config_check(&c, &ei), RF_OK);
	c.ex_mix[SIM_EX_RANDOM] = 0.9;
	CU_ASSERT_EQUAL(sim_config_check(&c, &ei), RF_ERR_RANGE);
	c.ex_mix[SIM_EX_RANDOM] = 0;
	c.arity = 1;
	CU_ASSERT_EQUAL(sim_config_check(&c, &ei), RF_ERR_RANGE);

	/* A config file: sweeps, experiment keys, and errors by line. */
	char path[128];
	snprintf(path, sizeof(path), "%s/x.conf", tmpdir);
	const char *good = "# a comment\nname = t1\nplot = detection\n"
	    "p = 0.2   # trailing comment\nsweep p = 0.1, 0.2 0.3\n"
	    "sweep challengers = 1 2\n";
	CU_ASSERT_FATAL(test_write_file(path, good, strlen(good), 0644) == 0);
	struct sim_experiment e;
	sim_experiment_init(&e);
	CU_ASSERT_EQUAL(sim_experiment_load(&e, path, &ei), RF_OK);
	CU_ASSERT_STRING_EQUAL(e.name, "t1");
	CU_ASSERT_EQUAL(e.plot, SIM_PLOT_DETECTION);
	CU_ASSERT_EQUAL(e.n_axes, 2);
	CU_ASSERT_EQUAL(e.axes[0].n, 3);
	CU_ASSERT_STRING_EQUAL(e.axes[0].values[2], "0.3");
	CU_ASSERT_EQUAL(e.axes[1].n, 2);
	const char *bad = "jobs = 10\n\nsweep p = 0.1 lots\n";
	CU_ASSERT_FATAL(test_write_file(path, bad, strlen(bad), 0644) == 0);
	sim_experiment_init(&e);
	CU_ASSERT_EQUAL(sim_experiment_load(&e, path, &ei), RF_ERR_INVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(ei.msg, ":3:"));
	CU_ASSERT_EQUAL(sim_experiment_set(&e, "plot", "pie", false, &ei),
	    RF_ERR_INVAL);
}

/* Reads dir/name whole. */
static uint8_t *
slurp(const char *dir, const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return test_read_file(path, len);
}

static void
run_experiment(const char *sub, uint64_t seed, char *dir, size_t len)
{
	struct sim_experiment e;
	struct rf_errinfo ei = { "" };
	sim_experiment_init(&e);
	small(&e.base);
	e.base.seed = seed;
	e.base.challengers = 3;
	e.base.p = 0.3;
	e.base.ex_mix[SIM_EX_LIE_AT_OP] = 0.2;
	e.base.ex_mix[SIM_EX_EQUIVOCATE] = 0.05;
	e.base.ex_mix[SIM_EX_SILENT] = 0.05;
	e.base.ex_mix[SIM_EX_RATIONAL] = 0.05;
	e.base.ch_mix[SIM_CH_FALSE] = 0.34;
	e.base.cheat_rate = 0.3;
	e.base.restake = true;
	e.base.loss = 0.05;
	e.base.retry_us = 20000;
	snprintf(e.format, sizeof(e.format), "svg");
	CU_ASSERT_FATAL(sim_experiment_set(&e, "jobs", "2000 3000", true,
	    &ei) == RF_OK);
	snprintf(dir, len, "%s/%s", tmpdir, sub);
	int err = sim_experiment_run(&e, dir, NULL, NULL, NULL, &ei);
	if (err != RF_OK) {
		fprintf(stderr, "experiment: %s\n", ei.msg);
	}
	CU_ASSERT_FATAL(err == RF_OK);
}

static void
test_same_seed_same_bytes(void)
{
	char a[256], b[256], c[256];
	run_experiment("a", 7, a, sizeof(a));
	run_experiment("b", 7, b, sizeof(b));
	run_experiment("c", 8, c, sizeof(c));
	const char *files[] = { "runs.csv", "disputes.csv", "load.csv" };
	for (size_t i = 0; i < 3; i++) {
		size_t la, lb, lc;
		uint8_t *pa = slurp(a, files[i], &la);
		uint8_t *pb = slurp(b, files[i], &lb);
		uint8_t *pc = slurp(c, files[i], &lc);
		CU_ASSERT_FATAL(pa != NULL && pb != NULL && pc != NULL);
		CU_ASSERT(la > 30);
		CU_ASSERT(la == lb && memcmp(pa, pb, la) == 0);
		/* Another seed, another history. */
		CU_ASSERT(la != lc || memcmp(pa, pc, la) != 0);
		free(pa);
		free(pb);
		free(pc);
	}
	size_t ls;
	char *s = (char *)slurp(a, "summary.txt", &ls);
	CU_ASSERT_FATAL(s != NULL);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "experiment default: 2 runs"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "ledger invariant held"));
	free(s);
}

static void
test_p_one_catches_all(void)
{
	struct sim_config c;
	struct sim_result r;
	small(&c);
	c.p = 1.0;
	c.restake = true;
	set(&c, "ex.lie-at-op", "0.2");
	set(&c, "ex.lie-output", "0.1");
	set(&c, "ex.random", "0.1");
	set(&c, "ex.bad-proof", "0.05");
	set(&c, "ex.silent", "0.05");
	set(&c, "ex.equivocate", "0.05");
	run(&c, &r);
	uint64_t frauds = sum(r.frauds), caught = sum(r.caught);
	CU_ASSERT(frauds > 500);
	CU_ASSERT_EQUAL(caught, frauds);
	for (int k = 1; k < SIM_EX_COUNT; k++) {
		CU_ASSERT_EQUAL(r.caught[k], r.frauds[k]);
	}
	CU_ASSERT_DOUBLE_EQUAL(r.closed_detection, 1.0, 0);
	CU_ASSERT(r.by_reason[PROTO_VERDICT_BAD_PROOF] > 0);
	CU_ASSERT(r.by_reason[PROTO_VERDICT_TIMEOUT] > 0);
	CU_ASSERT(r.equivocations > 0);
	CU_ASSERT(r.slashed > 0 && r.rewards > 0 && r.rewards < r.slashed);
	sim_result_free(&r);
}

static void
test_no_challengers_catch_none(void)
{
	struct sim_config c;
	struct sim_result r;
	small(&c);
	c.challengers = 0;
	c.p = 1.0;
	set(&c, "ex.lie-at-op", "0.3");
	set(&c, "ex.random", "0.2");
	run(&c, &r);
	CU_ASSERT(sum(r.frauds) > 1000);
	CU_ASSERT_EQUAL(sum(r.caught), 0);
	CU_ASSERT_EQUAL(r.disputes, 0);
	CU_ASSERT_EQUAL(r.invalid, 0);
	CU_ASSERT_EQUAL(r.final, r.jobs);
	CU_ASSERT_DOUBLE_EQUAL(r.closed_detection, 0.0, 0);
	sim_result_free(&r);
}

/*
 * On a fixed seed, with c = 3 challengers each sampling at p = 0.1, the
 * share of frauds caught lies inside the 99.9% Wilson interval around the
 * measurement, and that interval holds 1 - 0.9^3 = 0.271. (A fraud is
 * one trial; with the seed fixed the test is deterministic.)
 */
static void
test_detection_matches_closed_form(void)
{
	const double ps[] = { 0.1, 0.3 };
	const uint32_t cs[] = { 3, 2 };
	for (size_t i = 0; i < 2; i++) {
		struct sim_config c;
		struct sim_result r;
		small(&c);
		c.seed = 11;
		c.jobs = 8000;
		c.challengers = cs[i];
		c.p = ps[i];
		c.restake = true;
		set(&c, "ex.lie-at-op", "0.5");
		run(&c, &r);
		uint64_t n = sum(r.frauds), k = sum(r.caught);
		double lo, hi;
		sim_wilson(k, n, 3.2905, &lo, &hi);
		double want = sim_closed_detection(ps[i], cs[i]);
		CU_ASSERT_DOUBLE_EQUAL(r.closed_detection, want, 1e-12);
		CU_ASSERT(n > 3000);
		CU_ASSERT(want >= lo && want <= hi);
		if (!(want >= lo && want <= hi)) {
			fprintf(stderr, "p %.2f c %u: %llu of %llu, [%f, %f], want "
			    "%f\n", ps[i], cs[i], (unsigned long long)k,
			    (unsigned long long)n, lo, hi, want);
		}
		sim_result_free(&r);
	}
}

/* Every recomputed dispute against a lying executor ends at the operator
 * it lied at, in at most ceil(log_k ops) rounds, for k = 2, 3, 8. */
static void
test_disputes_find_the_lie(void)
{
	const uint32_t arity[] = { 2, 3, 8 };
	for (size_t i = 0; i < 3; i++) {
		struct sim_config c;
		struct sim_result r;
		small(&c);
		c.jobs = 600;
		c.ops = 100;
		c.p = 1.0;
		c.arity = arity[i];
		c.restake = true;
		set(&c, "ex.lie-at-op", "0.3");
		set(&c, "ex.lie-output", "0.1");
		set(&c, "ex.random", "0.1");
		run(&c, &r);
		CU_ASSERT(r.lie_disputes > 50);
		CU_ASSERT_EQUAL(r.lie_found, r.lie_disputes);
		size_t checked = 0;
		for (size_t d = 0; d < r.n_recs; d++) {
			const struct sim_dispute_rec *x = &r.recs[d];
			if (x->reason != PROTO_VERDICT_RECOMPUTED) {
				continue;
			}
			CU_ASSERT(!x->executor_won && x->challenger_right);
			CU_ASSERT_EQUAL(x->op, x->lie_op);
			CU_ASSERT(x->rounds <= bisect_max_rounds(100, arity[i]));
			CU_ASSERT(x->slashed == c.stake &&
			    x->reward == c.stake / 2);
			if (x->exec_kind == SIM_EX_LIE_OUTPUT) {
				CU_ASSERT_EQUAL(x->op, 99);
			}
			if (x->exec_kind == SIM_EX_RANDOM) {
				CU_ASSERT_EQUAL(x->op, 0);
			}
			checked++;
		}
		CU_ASSERT(checked > 50);
		sim_result_free(&r);
	}
}

/* --real-model: disputes on a generated MLP, through the chunked one step
 * (bisect_reveal_chunk). */
static void
test_real_model(void)
{
	struct sim_config c;
	struct sim_result r;
	small(&c);
	c.jobs = 300;
	c.ops = 12;
	c.p = 1.0;
	c.real_model = 6;
	c.restake = true;
	set(&c, "hash", "blake2b");
	set(&c, "ex.lie-at-op", "0.3");
	set(&c, "ch.false", "1");
	run(&c, &r);
	CU_ASSERT_EQUAL(r.real_disputes, 6);
	size_t real = 0;
	for (size_t d = 0; d < r.n_recs; d++) {
		const struct sim_dispute_rec *x = &r.recs[d];
		if (!x->real) {
			continue;
		}
		real++;
		CU_ASSERT_EQUAL(x->reason, PROTO_VERDICT_RECOMPUTED);
		if (x->lie_op >= 0) {
			CU_ASSERT(!x->executor_won);
			CU_ASSERT_EQUAL(x->op, x->lie_op);
		} else {
			/* A false challenge on a correct claim: the engine
			 * recomputes the last operator and the executor wins. */
			CU_ASSERT(x->executor_won);
			CU_ASSERT_EQUAL(x->op, 11);
		}
	}
	CU_ASSERT_EQUAL(real, 6);
	sim_result_free(&r);
}

/* Each adversary loses the way the protocol says it should. */
static void
test_adversaries(void)
{
	struct sim_config c;
	struct sim_result r;
	small(&c);
	c.challengers = 6;
	c.p = 0.5;
	c.jobs = 4000;
	set(&c, "ex.silent", "0.1");
	set(&c, "ex.bad-proof", "0.1");
	set(&c, "ex.collude", "0.1");
	set(&c, "ex.equivocate", "0.1");
	set(&c, "ch.false", "0.17");
	set(&c, "ch.silent", "0.17");
	set(&c, "ch.collude", "0.17");
	c.cheat_rate = 0.2;
	c.restake = true;
	run(&c, &r);
	size_t lost[SIM_CH_COUNT] = { 0 }, won_false = 0;
	for (size_t d = 0; d < r.n_recs; d++) {
		const struct sim_dispute_rec *x = &r.recs[d];
		if (x->reason == PROTO_VERDICT_SETTLED) {
			continue;
		}
		if (x->lie_op < 0) {
			/* A correct claim: the accuser always loses, by the one
			 * step (false) or by its clock (silent). */
			CU_ASSERT(x->executor_won);
			CU_ASSERT(x->chal_kind == SIM_CH_FALSE ||
			    x->chal_kind == SIM_CH_SILENT);
			CU_ASSERT_EQUAL(x->reason, x->chal_kind == SIM_CH_SILENT ?
			    PROTO_VERDICT_TIMEOUT : PROTO_VERDICT_RECOMPUTED);
			lost[x->chal_kind]++;
			continue;
		}
		if (x->exec_kind == SIM_EX_SILENT && x->chal_kind != SIM_CH_SILENT) {
			CU_ASSERT(!x->executor_won);
			CU_ASSERT_EQUAL(x->reason, PROTO_VERDICT_TIMEOUT);
		}
		if (x->exec_kind == SIM_EX_BAD_PROOF) {
			CU_ASSERT(!x->executor_won);
			CU_ASSERT_EQUAL(x->reason, PROTO_VERDICT_BAD_PROOF);
		}
		/* The colluding challenger never challenges its partner (it
		 * may challenge other colluders of the model). */
		won_false += x->executor_won && x->chal_kind != SIM_CH_SILENT;
	}
	CU_ASSERT(lost[SIM_CH_FALSE] > 10 && lost[SIM_CH_SILENT] > 10);
	CU_ASSERT_EQUAL(won_false, 0);
	CU_ASSERT(r.frauds[SIM_EX_EQUIVOCATE] > 0);
	CU_ASSERT_EQUAL(r.caught[SIM_EX_EQUIVOCATE], r.frauds[SIM_EX_EQUIVOCATE]);
	CU_ASSERT_EQUAL(r.equivocations, r.frauds[SIM_EX_EQUIVOCATE]);
	CU_ASSERT(r.bonds_lost == 0);
	sim_result_free(&r);

	/* A colluding pair alone: the only challenger is the partner. */
	small(&c);
	c.executors = 1;
	c.challengers = 1;
	c.p = 1.0;
	c.jobs = 200;
	set(&c, "ex.collude", "1");
	set(&c, "ch.collude", "1");
	run(&c, &r);
	CU_ASSERT_EQUAL(r.frauds[SIM_EX_COLLUDE], 200);
	CU_ASSERT_EQUAL(r.caught[SIM_EX_COLLUDE], 0);
	CU_ASSERT_EQUAL(r.verifications, 0);
	sim_result_free(&r);
}

/* The rational cheater cheats below S* and stops at it. With belief
 * P = 0.1, g = 4, f = 10, w = 4: S* = 30. */
static void
test_rational_cheater(void)
{
	const uint64_t stakes[] = { 20, 29, 31, 60 };
	for (size_t i = 0; i < 4; i++) {
		struct sim_config c;
		struct sim_result r;
		small(&c);
		c.jobs = 500;
		c.stake = stakes[i];
		c.min_stake = 1;
		c.belief = 0.1;
		c.p = 0.0;
		set(&c, "ex.rational", "1");
		run(&c, &r);
		CU_ASSERT_EQUAL(r.rational_jobs, 500);
		CU_ASSERT_EQUAL(r.rational_cheats, stakes[i] < 30 ? 500 : 0);
		sim_result_free(&r);
	}
}

/* Policies: value-weighted samples dear jobs more; reputation samples new
 * executors more. */
static void
test_policies(void)
{
	struct sim_config c;
	struct sim_result fixed, value, rep;
	small(&c);
	c.fee = 1;
	c.fee_max = 19;
	c.p = 0.1;
	run(&c, &fixed);
	c.policy = SIM_POLICY_VALUE;
	run(&c, &value);
	c.policy = SIM_POLICY_REPUTATION;
	c.p_new = 1.0;
	c.new_claims = 10;
	run(&c, &rep);
	/* Same mean rate for value-weighted; 40 executors x 10 new claims
	 * all checked under reputation. */
	double f = (double)fixed.verifications, v = (double)value.verifications;
	CU_ASSERT(v > 0.85 * f && v < 1.15 * f);
	CU_ASSERT(rep.verifications >= fixed.verifications + 300);
	sim_result_free(&fixed);
	sim_result_free(&value);
	sim_result_free(&rep);
}

static void
test_trace_arrivals(void)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/arrivals.txt", tmpdir);
	FILE *f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fprintf(f, "# time_us fee model\n");
	for (int i = 0; i < 120; i++) {
		fprintf(f, "%d %d\n", i * 5000, 5 + i % 3);
	}
	fclose(f);
	struct sim_config c;
	struct sim_result r;
	small(&c);
	set(&c, "trace", path);
	run(&c, &r);
	CU_ASSERT_EQUAL(r.jobs, 120);
	CU_ASSERT_EQUAL(r.final, 120);
	CU_ASSERT_EQUAL(r.fees_paid, 40 * (5 + 6 + 7));
	sim_result_free(&r);

	f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fprintf(f, "100\n50\n");
	fclose(f);
	struct rf_errinfo ei = { "" };
	CU_ASSERT_EQUAL(sim_run(&c, &r, NULL, NULL, &ei), RF_ERR_FORMAT);
	CU_ASSERT_PTR_NOT_NULL(strstr(ei.msg, ":2:"));
}

static int
init(void)
{
	if (proto_init() != RF_OK || mkdtemp(tmpdir) == NULL) {
		return 1;
	}
	return 0;
}

static int
cleanup(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) != 0;
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "closed forms", test_closed_forms },
		{ "configuration and config files", test_config },
		{ "same seed, same bytes", test_same_seed_same_bytes },
		{ "p = 1 catches every fraud", test_p_one_catches_all },
		{ "no challengers catch none", test_no_challengers_catch_none },
		{ "detection within 99.9% of 1-(1-p)^c",
		    test_detection_matches_closed_form },
		{ "disputes find the lied-at operator", test_disputes_find_the_lie },
		{ "disputes on a real model", test_real_model },
		{ "adversaries lose as the protocol says", test_adversaries },
		{ "the rational cheater stops at S*", test_rational_cheater },
		{ "sampling policies", test_policies },
		{ "arrivals from a trace file", test_trace_arrivals },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "sim", init, cleanup, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
