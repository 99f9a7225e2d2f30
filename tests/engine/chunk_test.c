/*
 * tests/engine/chunk_test.c - one chunk of an operator's output computed
 * from chunks of its inputs (engine_chunk_step) is bit for bit that chunk
 * of the whole output, for every chunk of every operator of a generated
 * transformer whose activations, scores and weights are cut into many
 * chunks; given only the chunks the step reads (as a referee is), the
 * result is the same, and a missing chunk is an error, never a guess.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "tests/testlib.h"

struct kept {
	size_t n;
	struct tensor t[256];
};

static int
keep(void *ctx, size_t index, const struct tensor *const *t, size_t n)
{
	struct kept *k = ctx;
	if (index != k->n || n != 1 || k->n >= 256) {
		return 1;
	}
	return engine_tensor_copy(&k->t[k->n++], t[0]) != RF_OK;
}

/* The tensor value v holds after a run. */
static const struct tensor *
value_of(const struct engine_model *m, const struct kept *k, int v)
{
	struct engine_value_info vi;
	engine_model_value(m, v, &vi);
	if (vi.kind == ENGINE_VALUE_WEIGHT) {
		return vi.weight;
	}
	if (vi.kind == ENGINE_VALUE_INPUT) {
		for (size_t i = 0; i < engine_model_input_count(m); i++) {
			if (engine_model_input(m, i) == v) {
				return &k->t[i];
			}
		}
		return NULL;
	}
	return &k->t[engine_model_input_count(m) + (size_t)vi.producer];
}

static void
src_init(struct engine_chunk_src *s, const struct tensor *t)
{
	memset(s, 0, sizeof(*s));
	s->dtype = t->dtype;
	s->rank = t->rank;
	memcpy(s->dims, t->dims, sizeof(s->dims));
	s->n_chunks = engine_chunk_count(t->dtype, t->rank, t->dims);
}

static void
check_model(struct engine_model *m, size_t stride, enum engine_kernels kern)
{
	size_t n_in = engine_model_input_count(m);
	struct tensor in[ENGINE_MAX_GRAPH_IO], out[ENGINE_MAX_GRAPH_IO];
	CU_ASSERT_FATAL(engine_inputs_random(m, 5, in, NULL) == RF_OK);
	struct kept *k = calloc(1, sizeof(*k));
	struct engine_run_opts o;
	engine_run_opts_init(&o);
	o.trace = keep;
	o.trace_ctx = k;
	o.kernels = kern;
	for (size_t i = 0; i < n_in; i++) {
		CU_ASSERT_FATAL(engine_tensor_copy(&k->t[k->n++], &in[i]) == RF_OK);
	}
	k->n = 0;
	for (size_t i = 0; i < n_in; i++) {
		engine_tensor_fini(&k->t[i]);
	}
	CU_ASSERT_FATAL(engine_run(m, in, n_in, out, &o, NULL) == RF_OK);
	engine_tensor_fini(&out[0]);
	size_t tiled_ops = 0, many = 0, bad = 0, cheats = 0, steps = 0;
	for (size_t op = 0; op < engine_model_op_count(m); op++) {
		struct engine_op_info oi;
		engine_model_op(m, op, &oi);
		const struct tensor *y = &k->t[n_in + op];
		struct engine_shape sh = { true, y->dtype, y->rank, { 0 } };
		memcpy(sh.dims, y->dims, sizeof(sh.dims));
		size_t nc = engine_chunk_count(y->dtype, y->rank, y->dims);
		bool tiled = engine_chunk_tiled(m, op);
		tiled_ops += tiled;
		many += nc > 1;
		if (getenv("CHUNK_TEST_VERBOSE") != NULL) {
			fprintf(stderr, "op %zu %s: %zu chunks%s\n", op,
			    engine_op_name(oi.op), nc, tiled ? "" : " (no rule)");
		}
		if (nc > 1 && !tiled) {
			continue;
		}
		for (size_t c = 0; c < nc; c += (c + stride < nc || c == nc - 1) ?
		    stride : nc - 1 - c) {
			struct engine_chunk_src src[ENGINE_MAX_OP_INPUTS];
			bool *used[ENGINE_MAX_OP_INPUTS] = { NULL };
			for (size_t i = 0; i < oi.n_inputs; i++) {
				memset(&src[i], 0, sizeof(src[i]));
				if (oi.inputs[i] == ENGINE_NO_VALUE) {
					continue;
				}
				const struct tensor *x = value_of(m, k, oi.inputs[i]);
				src_init(&src[i], x);
				src[i].full = x;
				used[i] = calloc(src[i].n_chunks, 1);
				src[i].used = used[i];
			}
			struct tensor got, want;
			struct rf_errinfo ei = { "" };
			int err = engine_chunk_step(m, op, &sh, c, src, &got, &ei);
			CU_ASSERT_EQUAL_FATAL(err, RF_OK);
			CU_ASSERT_FATAL(engine_chunk_copy(y, c, &want) == RF_OK);
			if (!engine_tensor_equal(&got, &want)) {
				bad++;
				fprintf(stderr, "op %zu (%s) chunk %zu of %zu differs\n",
				    op, engine_op_name(oi.op), c, nc);
			}
			steps++;
			engine_tensor_fini(&got);
			/* As the referee: only the chunks read, cut out. */
			struct tensor *cut[ENGINE_MAX_OP_INPUTS] = { NULL };
			const struct tensor **ptr[ENGINE_MAX_OP_INPUTS] = { NULL };
			size_t last_i = 0, last_c = 0;
			bool any = false;
			for (size_t i = 0; i < oi.n_inputs; i++) {
				if (used[i] == NULL) {
					continue;
				}
				const struct tensor *x = src[i].full;
				cut[i] = calloc(src[i].n_chunks, sizeof(**cut));
				ptr[i] = calloc(src[i].n_chunks, sizeof(**ptr));
				for (size_t j = 0; j < src[i].n_chunks; j++) {
					if (used[i][j]) {
						CU_ASSERT_FATAL(engine_chunk_copy(x, j,
						    &cut[i][j]) == RF_OK);
						ptr[i][j] = &cut[i][j];
						last_i = i;
						last_c = j;
						any = true;
					}
				}
				src[i].full = NULL;
				src[i].used = NULL;
				src[i].chunks = ptr[i];
			}
			CU_ASSERT_EQUAL_FATAL(engine_chunk_step(m, op, &sh, c, src,
			    &got, &ei), RF_OK);
			bad += !engine_tensor_equal(&got, &want);
			engine_tensor_fini(&got);
			/* One chunk it read withheld: an error, not an output. */
			if (any) {
				ptr[last_i][last_c] = NULL;
				if (engine_chunk_step(m, op, &sh, c, src, &got, &ei) ==
				    RF_OK) {
					cheats++;
					engine_tensor_fini(&got);
				}
			}
			engine_tensor_fini(&want);
			for (size_t i = 0; i < oi.n_inputs; i++) {
				for (size_t j = 0; cut[i] != NULL && j < src[i].n_chunks;
				    j++) {
					engine_tensor_fini(&cut[i][j]);
				}
				free(cut[i]);
				free(ptr[i]);
				free(used[i]);
			}
		}
	}
	CU_ASSERT(tiled_ops > 0);
	CU_ASSERT(many > 0);
	CU_ASSERT(steps > 0);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(cheats, 0);
	for (size_t i = 0; i < k->n; i++) {
		engine_tensor_fini(&k->t[i]);
	}
	for (size_t i = 0; i < n_in; i++) {
		engine_tensor_fini(&in[i]);
	}
	free(k);
}

static void
test_transformer(void)
{
	struct engine_gen_opts o;
	struct engine_model *m;
	engine_gen_opts_init(&o, ENGINE_GEN_TRANSFORMER);
	o.vocab = 300;
	o.d_model = 128;
	o.heads = 4;
	o.d_ff = 256;
	o.blocks = 1;
	o.batch = 160;
	CU_ASSERT_FATAL(engine_model_generate(&o, &m, NULL) == RF_OK);
	/* The whole outputs from the reference kernels, then from the fast
	 * ones on two threads: a chunk step agrees with both. */
	check_model(m, 3, ENGINE_KERNELS_REF);
	CU_ASSERT_FATAL(engine_threads_set(2) == RF_OK);
	check_model(m, 3, ENGINE_KERNELS_FAST);
	CU_ASSERT_FATAL(engine_threads_set(1) == RF_OK);
	engine_model_free(m);
}

static void
test_mlp(void)
{
	struct engine_gen_opts o;
	struct engine_model *m;
	engine_gen_opts_init(&o, ENGINE_GEN_MLP);
	o.in_features = 300;
	o.hidden = 300;
	o.out_features = 70;
	o.layers = 3;
	o.batch = 100;
	CU_ASSERT_FATAL(engine_model_generate(&o, &m, NULL) == RF_OK);
	check_model(m, 1, ENGINE_KERNELS_FAST);
	engine_model_free(m);
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "every chunk of a transformer's operators", test_transformer },
		{ "every chunk of an MLP's Gemm layers", test_mlp },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites_info[] = {
		{ "chunk_step", NULL, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites_info);
}
