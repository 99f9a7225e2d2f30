/*
 * tests/executor/executor_test.c - the executor's computation
 * (executor/compute.c) on a small generated model, without a network:
 * the honest trace is the one a challenger recomputes, each testing
 * fault lies exactly where it says (so the dispute game finds that
 * operator, and the referee's one-step recomputation from the revealed
 * inputs gives the honest leaf, not the claimed one), and running out of
 * memory fails cleanly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "executor/executor_int.h"
#include "tests/testlib.h"

#define SUITE PROTO_HASH_BLAKE2B
#define N_OPS 3

/* x f32[2,3] -> MatMul w f32[3,4] -> Relu -> Add b f32[4]. */
static struct engine_model *
small_model(void)
{
	struct engine_model *m = engine_model_alloc("small");
	CU_ASSERT_FATAL(m != NULL);
	struct engine_rng rng;
	engine_rng_seed(&rng, 7);
	int x, w, b, y, z, o;
	static const int64_t xd[2] = { 2, 3 }, wd[2] = { 3, 4 }, bd[1] = { 4 };
	CU_ASSERT_FATAL(engine_model_add_input(m, "x", TENSOR_F32, 2, xd, &x,
	    NULL) == RF_OK);
	struct tensor wt, bt;
	CU_ASSERT_FATAL(engine_tensor_init(&wt, TENSOR_F32, 2, wd) == RF_OK);
	CU_ASSERT_FATAL(engine_tensor_init(&bt, TENSOR_F32, 1, bd) == RF_OK);
	for (size_t i = 0; i < wt.count; i++) {
		((float *)wt.data)[i] = engine_rng_uniform(&rng, -1, 1);
	}
	for (size_t i = 0; i < bt.count; i++) {
		((float *)bt.data)[i] = engine_rng_uniform(&rng, -1, 1);
	}
	CU_ASSERT_FATAL(engine_model_add_weight(m, "w", &wt, &w, NULL) ==
	    RF_OK);
	CU_ASSERT_FATAL(engine_model_add_weight(m, "b", &bt, &b, NULL) ==
	    RF_OK);
	const char *yn[1] = { "y" }, *zn[1] = { "z" }, *on[1] = { "o" };
	int mm[2] = { x, w };
	CU_ASSERT_FATAL(engine_model_add_op(m, ENGINE_OP_MATMUL, "mm", mm, 2,
	    yn, 1, NULL, 0, &y, NULL) == RF_OK);
	CU_ASSERT_FATAL(engine_model_add_op(m, ENGINE_OP_RELU, "relu", &y, 1,
	    zn, 1, NULL, 0, &z, NULL) == RF_OK);
	int add[2] = { z, b };
	CU_ASSERT_FATAL(engine_model_add_op(m, ENGINE_OP_ADD, "add", add, 2,
	    on, 1, NULL, 0, &o, NULL) == RF_OK);
	CU_ASSERT_FATAL(engine_model_add_output(m, o, NULL) == RF_OK);
	return m;
}

/* One executor with a configuration, a model and a job. */
struct fix {
	struct executor x;
	struct executor_config cfg;
	struct node_model nm;
	struct proto_job_info job;
	/* What a challenger computes: proto_trace_run. */
	struct proto_digest *leaves;
	size_t n;
	struct proto_digest root;
};

static struct fix *
fix_new(enum executor_fault fault, uint32_t fault_op, double rate)
{
	struct fix *f = calloc(1, sizeof(*f));
	CU_ASSERT_FATAL(f != NULL);
	f->cfg.node.suite = SUITE;
	f->cfg.fault = fault;
	f->cfg.fault_op = fault_op;
	f->cfg.fault_rate = rate;
	f->x.cfg = &f->cfg;
	engine_rng_seed(&f->x.fault_rng, 11);
	f->nm.model = small_model();
	CU_ASSERT_FATAL(proto_model_id(SUITE, f->nm.model, &f->nm.id) ==
	    RF_OK);
	static const int64_t xd[2] = { 2, 3 };
	f->job.n_inputs = 1;
	CU_ASSERT_FATAL(engine_tensor_init(&f->job.inputs[0], TENSOR_F32, 2,
	    xd) == RF_OK);
	for (size_t i = 0; i < 6; i++) {
		((float *)f->job.inputs[0].data)[i] = (float)i - 2.5f;
	}
	proto_hash(SUITE, "job", 3, &f->job.job_id);
	f->job.model_id = f->nm.id;
	struct tensor out;
	CU_ASSERT_FATAL(proto_trace_run(SUITE, f->nm.model, f->job.inputs, 1,
	    &out, ENGINE_KERNELS_FAST, &f->leaves, &f->n, &f->root, NULL) ==
	    RF_OK);
	engine_tensor_fini(&out);
	return f;
}

static void
fix_free(struct fix *f)
{
	free(f->leaves);
	engine_tensor_fini(&f->job.inputs[0]);
	engine_model_free(f->nm.model);
	free(f);
}

/* Which of run's leaves differ from the honest ones: a bit per entry. */
static unsigned
differing(const struct fix *f, const struct executor_run *run)
{
	unsigned d = 0;
	CU_ASSERT_EQUAL_FATAL(run->n, f->n);
	for (size_t i = 0; i < f->n; i++) {
		if (!proto_digest_equal(SUITE, &run->leaves[i], &f->leaves[i])) {
			d |= 1u << i;
		}
	}
	return d;
}

static void
test_faults_named(void)
{
	for (int i = EXECUTOR_FAULT_NONE; i <= EXECUTOR_FAULT_EQUIVOCATE; i++) {
		enum executor_fault f = EXECUTOR_FAULT_SILENT;
		const char *name = executor_fault_name((enum executor_fault)i);
		CU_ASSERT(strcmp(name, "?") != 0);
		CU_ASSERT_EQUAL(executor_fault_parse(name, &f), RF_OK);
		CU_ASSERT_EQUAL((int)f, i);
	}
	enum executor_fault f = EXECUTOR_FAULT_SILENT;
	CU_ASSERT_EQUAL(executor_fault_parse("lie", &f), RF_ERR_INVAL);
	CU_ASSERT_EQUAL(executor_fault_parse("", &f), RF_ERR_INVAL);
	CU_ASSERT_EQUAL(f, EXECUTOR_FAULT_SILENT);
	CU_ASSERT_STRING_EQUAL(executor_fault_name((enum executor_fault)99),
	    "?");
}

static void
test_honest(void)
{
	struct fix *f = fix_new(EXECUTOR_FAULT_NONE, 0, 1.0);
	struct executor_run run;
	struct rf_errinfo ei = { "" };
	CU_ASSERT_EQUAL_FATAL(executor_compute(&f->x, &f->nm, &f->job, &run,
	    &ei), RF_OK);
	CU_ASSERT(!run.faulty);
	CU_ASSERT_EQUAL(run.n, 1 + N_OPS);
	CU_ASSERT_EQUAL(differing(f, &run), 0);
	CU_ASSERT(proto_digest_equal(SUITE, &run.root, &f->root));
	executor_run_free(&run);
	CU_ASSERT_PTR_NULL(run.leaves);
	/* A job with the wrong number of inputs is refused before running. */
	f->job.n_inputs = 2;
	memset(&run, 0x5a, sizeof(run));
	CU_ASSERT_EQUAL(executor_compute(&f->x, &f->nm, &f->job, &run, &ei),
	    RF_ERR_INVAL);
	CU_ASSERT_PTR_NULL(run.leaves);
	f->job.n_inputs = 1;
	fix_free(f);
}

/* The honest tensors of every trace entry, for the referee's step. */
struct entries {
	struct tensor t[1 + N_OPS];
};

static int
keep_entry(void *ctx, size_t index, const struct tensor *const *t, size_t n)
{
	struct entries *e = ctx;
	if (index >= 1 + N_OPS || n != 1) {
		return 1;
	}
	return engine_tensor_copy(&e->t[index], t[0]) == RF_OK ? 0 : 1;
}

/* What the referee does with a reveal of operator k: evaluates it on the
 * revealed inputs (here the honest ones) and hashes its outputs. */
static void
recompute(const struct fix *f, const struct entries *e, size_t k,
    struct proto_digest *leaf)
{
	const struct engine_model *m = f->nm.model;
	struct engine_op_info oi;
	CU_ASSERT_FATAL(engine_model_op(m, k, &oi) == RF_OK);
	const struct tensor *in[ENGINE_MAX_OP_INPUTS];
	for (size_t i = 0; i < oi.n_inputs; i++) {
		struct engine_value_info vi;
		CU_ASSERT_FATAL(engine_model_value(m, oi.inputs[i], &vi) ==
		    RF_OK);
		if (vi.kind == ENGINE_VALUE_WEIGHT) {
			in[i] = vi.weight;
		} else if (vi.kind == ENGINE_VALUE_INPUT) {
			in[i] = &e->t[0];
		} else {
			in[i] = &e->t[1 + (size_t)vi.producer];
		}
	}
	struct tensor out[ENGINE_MAX_OP_OUTPUTS];
	CU_ASSERT_FATAL(engine_op_eval(m, k, in, out, ENGINE_KERNELS_REF,
	    NULL) == RF_OK);
	const struct tensor *o = &out[0];
	proto_tensor_leaf(SUITE, &o, 1, leaf);
	engine_tensor_fini(&out[0]);
}

static void
test_lie_at_op(void)
{
	for (uint32_t k = 0; k < N_OPS + 2; k++) {
		struct fix *f = fix_new(EXECUTOR_FAULT_LIE_AT_OP, k, 1.0);
		struct executor_run run;
		CU_ASSERT_EQUAL_FATAL(executor_compute(&f->x, &f->nm, &f->job,
		    &run, NULL), RF_OK);
		CU_ASSERT(run.faulty);
		/* Exactly the entry of operator k (the last one past the
		 * end): the first difference, which bisection finds. */
		uint32_t at = k < N_OPS ? k : N_OPS - 1;
		CU_ASSERT_EQUAL(differing(f, &run), 1u << (1 + at));
		CU_ASSERT(!proto_digest_equal(SUITE, &run.root, &f->root));
		/* Revealing operator at's inputs, the referee recomputes the
		 * honest leaf: the claimed one loses, the challenger's wins. */
		struct entries e;
		memset(&e, 0, sizeof(e));
		struct engine_run_opts o;
		engine_run_opts_init(&o);
		o.trace = keep_entry;
		o.trace_ctx = &e;
		struct tensor out;
		CU_ASSERT_FATAL(engine_run(f->nm.model, f->job.inputs, 1, &out,
		    &o, NULL) == RF_OK);
		engine_tensor_fini(&out);
		struct proto_digest leaf;
		recompute(f, &e, at, &leaf);
		CU_ASSERT(proto_digest_equal(SUITE, &leaf, &f->leaves[1 + at]));
		CU_ASSERT(!proto_digest_equal(SUITE, &leaf,
		    &run.leaves[1 + at]));
		for (size_t i = 0; i < 1 + N_OPS; i++) {
			engine_tensor_fini(&e.t[i]);
		}
		executor_run_free(&run);
		fix_free(f);
	}
}

static void
test_other_faults(void)
{
	struct executor_run run;
	/* lie-output: only the output entry. */
	struct fix *f = fix_new(EXECUTOR_FAULT_LIE_OUTPUT, 0, 1.0);
	CU_ASSERT_EQUAL_FATAL(executor_compute(&f->x, &f->nm, &f->job, &run,
	    NULL), RF_OK);
	CU_ASSERT_EQUAL(differing(f, &run), 1u << N_OPS);
	executor_run_free(&run);
	fix_free(f);
	/* random: the true input leaves (the referee checks them), every
	 * other leaf made up. */
	f = fix_new(EXECUTOR_FAULT_RANDOM, 0, 1.0);
	CU_ASSERT_EQUAL_FATAL(executor_compute(&f->x, &f->nm, &f->job, &run,
	    NULL), RF_OK);
	CU_ASSERT(run.faulty);
	CU_ASSERT_EQUAL(differing(f, &run), ((1u << (1 + N_OPS)) - 1) & ~1u);
	executor_run_free(&run);
	fix_free(f);
	/* equivocate: the first claim is honest (the lie is the second). */
	f = fix_new(EXECUTOR_FAULT_EQUIVOCATE, 0, 1.0);
	CU_ASSERT_EQUAL_FATAL(executor_compute(&f->x, &f->nm, &f->job, &run,
	    NULL), RF_OK);
	CU_ASSERT(run.faulty);
	CU_ASSERT_EQUAL(differing(f, &run), 0);
	executor_run_free(&run);
	fix_free(f);
}

static void
test_fault_rate(void)
{
	/* Rate 0: a fault configured but never applied. */
	struct fix *f = fix_new(EXECUTOR_FAULT_LIE_AT_OP, 1, 0.0);
	struct executor_run run;
	for (int i = 0; i < 32; i++) {
		CU_ASSERT_EQUAL_FATAL(executor_compute(&f->x, &f->nm, &f->job,
		    &run, NULL), RF_OK);
		CU_ASSERT(!run.faulty);
		CU_ASSERT_EQUAL(differing(f, &run), 0);
		executor_run_free(&run);
	}
	fix_free(f);
	/* Rate 0.5: some of each; a faulty run is exactly one that lies. */
	f = fix_new(EXECUTOR_FAULT_LIE_AT_OP, 1, 0.5);
	int faulty = 0;
	for (int i = 0; i < 64; i++) {
		CU_ASSERT_EQUAL_FATAL(executor_compute(&f->x, &f->nm, &f->job,
		    &run, NULL), RF_OK);
		faulty += run.faulty;
		CU_ASSERT_EQUAL(differing(f, &run), run.faulty ? 1u << 2 : 0);
		executor_run_free(&run);
	}
	CU_ASSERT(faulty > 8 && faulty < 56);
	fix_free(f);
}

static int
compute_op(void *ctx)
{
	struct fix *f = ctx;
	struct executor_run run;
	int err = executor_compute(&f->x, &f->nm, &f->job, &run, NULL);
	if (err != RF_OK) {
		return err;
	}
	bool ok = proto_digest_equal(SUITE, &run.root, &f->root) &&
	    run.n == f->n;
	executor_run_free(&run);
	return ok ? RF_OK : TESTLIB_WRONG;
}

static int
compute_lie_op(void *ctx)
{
	struct fix *f = ctx;
	struct executor_run run;
	int err = executor_compute(&f->x, &f->nm, &f->job, &run, NULL);
	if (err != RF_OK) {
		return err;
	}
	bool ok = run.n == f->n && run.faulty &&
	    !proto_digest_equal(SUITE, &run.leaves[2], &f->leaves[2]);
	executor_run_free(&run);
	return ok ? RF_OK : TESTLIB_WRONG;
}

static int
compute_random_op(void *ctx)
{
	struct fix *f = ctx;
	struct executor_run run;
	int err = executor_compute(&f->x, &f->nm, &f->job, &run, NULL);
	if (err != RF_OK) {
		return err;
	}
	bool ok = run.n == f->n && run.faulty &&
	    proto_digest_equal(SUITE, &run.leaves[0], &f->leaves[0]);
	executor_run_free(&run);
	return ok ? RF_OK : TESTLIB_WRONG;
}

static void
test_nomem(void)
{
	struct fix *f = fix_new(EXECUTOR_FAULT_NONE, 0, 1.0);
	CU_ASSERT(testlib_alloc_fail_loop(compute_op, f) > 0);
	fix_free(f);
	/* The lying path copies the entry it perturbs. */
	f = fix_new(EXECUTOR_FAULT_LIE_AT_OP, 1, 1.0);
	CU_ASSERT(testlib_alloc_fail_loop(compute_lie_op, f) > 0);
	fix_free(f);
	/* The made-up trace grows its own leaf array. */
	f = fix_new(EXECUTOR_FAULT_RANDOM, 0, 1.0);
	CU_ASSERT(testlib_alloc_fail_loop(compute_random_op, f) > 0);
	fix_free(f);
}

static int
init(void)
{
	return proto_init() == RF_OK ? 0 : 1;
}

static CU_TestInfo tests[] = {
	{ "fault names", test_faults_named },
	{ "the honest trace is the challenger's", test_honest },
	{ "lie-at-op lies at that operator, recompute exposes it",
	    test_lie_at_op },
	{ "lie-output, random, equivocate", test_other_faults },
	{ "the fault rate", test_fault_rate },
	{ "out of memory", test_nomem },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "executor compute", init, NULL, NULL, NULL, tests },
	CU_SUITE_INFO_NULL,
};

int
main(void)
{
	return test_main(suites);
}
