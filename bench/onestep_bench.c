/*
 * bench/onestep_bench.c - what the referee's one step costs next to the
 * inference it replaces: the time of bisect_reveal (checking every proof
 * of the revealed inputs and weights, recomputing the one operator and
 * folding its leaf onto the agreed prefix) as a share of one full
 * inference of the same model, for deep MLPs of 10, 100 and 1000
 * operators and the generated transformer. Single thread; best of many.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bisect/bisect.h"
#include "engine/engine.h"


static double
now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

struct variant {
	const char *label;
	enum engine_gen_kind kind;
	int64_t ops;
};

/* Best time of fn over a time budget. */
#define BEST_OF(budget, best, body)                                        \
	do {                                                               \
		double start_ = now();                                     \
		int reps_ = 0;                                             \
		(best) = 1e30;                                             \
		while (now() - start_ < (budget) || reps_ < 3) {           \
			double t0_ = now();                                \
			body;                                              \
			double t_ = now() - t0_;                           \
			if (t_ < (best)) {                                 \
				(best) = t_;                               \
			}                                                  \
			reps_++;                                           \
		}                                                          \
	} while (0)

static int
bench(const struct variant *v, enum proto_hash SUITE)
{
	struct engine_gen_opts o;
	struct engine_model *m;
	engine_gen_opts_init(&o, v->kind);
	if (v->kind == ENGINE_GEN_MLP) {
		o.ops = v->ops;
		o.hidden = 256;
		o.in_features = 256;
		o.batch = 16;
	}
	if (engine_model_generate(&o, &m, NULL) != RF_OK) {
		return 1;
	}
	size_t n_in = engine_model_input_count(m);
	struct tensor in[ENGINE_MAX_GRAPH_IO], out[ENGINE_MAX_GRAPH_IO];
	struct proto_digest *leaves, root, *ml;
	size_t n, nml;
	if (engine_inputs_random(m, 1, in, NULL) != RF_OK ||
	    proto_trace_run(SUITE, m, in, n_in, out, ENGINE_KERNELS_FAST,
	    &leaves, &n, &root, NULL) != RF_OK ||
	    proto_model_leaves(SUITE, m, &ml, &nml) != RF_OK) {
		return 1;
	}
	engine_tensor_fini(&out[0]);
	struct proto_digest model_id;
	proto_merkle_root(SUITE, ml, nml, &model_id);
	free(ml);

	/* A lie at the middle operator; play to the reveal. */
	size_t op = engine_model_op_count(m) / 2;
	struct proto_digest *bad = malloc(n * sizeof(*bad));
	memcpy(bad, leaves, n * sizeof(*bad));
	bad[n_in + op].b[0] ^= 1;
	struct proto_digest bad_root;
	proto_merkle_root(SUITE, bad, n, &bad_root);
	struct bisect_game g, g0;
	if (bisect_start(&g, SUITE, 2, 1000000, n, (uint32_t)n_in, leaves,
	    &bad_root, &root, 0) != RF_OK) {
		return 1;
	}
	static const struct proto_digest id;
	while (g.phase == BISECT_PHASE_QUERY) {
		struct proto_bisect_query q;
		struct proto_bisect_answer a, b;
		bisect_query(&g, &id, &q);
		if (bisect_answer_build(SUITE, bad, n, &q, &a) != RF_OK) {
			return 1;
		}
		if (bisect_answer_build(SUITE, leaves, n, &q, &b) != RF_OK) {
			proto_bisect_answer_free(&a);
			return 1;
		}
		bool ok = bisect_answer(&g, BISECT_EXECUTOR, &a, 1, NULL) ==
		    BISECT_ACCEPTED &&
		    bisect_answer(&g, BISECT_CHALLENGER, &b, 1, NULL) ==
		    BISECT_ACCEPTED;
		proto_bisect_answer_free(&a);
		proto_bisect_answer_free(&b);
		if (!ok) {
			return 1;
		}
	}
	struct proto_reveal rv;
	memset(&rv, 0, sizeof(rv));
	if (bisect_reveal_build(SUITE, m, in, bad, n, g.op, &rv,
	    NULL) != RF_OK) {
		return 1;
	}
	g0 = g;
	uint8_t *graph;
	size_t glen;
	struct engine_model *go;
	if (engine_model_encode_graph(m, &graph, &glen) != RF_OK ||
	    engine_model_decode_graph(graph, glen, &go, NULL) != RF_OK) {
		return 1;
	}
	free(graph);

	double t_full, t_step;
	int bad_outcome = 0;
	BEST_OF(1.0, t_full, {
		if (engine_run(m, in, n_in, out, NULL, NULL) == RF_OK) {
			engine_tensor_fini(&out[0]);
		}
	});
	BEST_OF(1.0, t_step, {
		g = g0;
		if (bisect_reveal(&g, go, &model_id, (uint32_t)nml, &rv, 2,
		    NULL) != BISECT_ACCEPTED || g.executor_won) {
			bad_outcome++;
		}
	});
	struct engine_op_info oi;
	engine_model_op(m, op, &oi);
	printf("%-12s %-12s %6zu %7u %-8s %10.3f %12.4f %9.3f%%%s\n",
	    v->label, proto_hash_name(SUITE), engine_model_op_count(m), g0.rounds,
	    engine_op_name(oi.op), t_full * 1e3, t_step * 1e3,
	    100.0 * t_step / t_full, bad_outcome ? "  WRONG VERDICT" : "");
	proto_reveal_free(&rv);
	engine_model_free(go);
	engine_model_free(m);
	free(bad);
	free(leaves);
	for (size_t i = 0; i < n_in; i++) {
		engine_tensor_fini(&in[i]);
	}
	return bad_outcome != 0;
}

int
main(void)
{
	if (proto_init() != RF_OK) {
		return 1;
	}
	static const struct variant variants[] = {
		{ "mlp", ENGINE_GEN_MLP, 10 },
		{ "mlp", ENGINE_GEN_MLP, 100 },
		{ "mlp", ENGINE_GEN_MLP, 1000 },
		{ "transformer", ENGINE_GEN_TRANSFORMER, 0 },
	};
	printf("Referee one step (verify the reveal's proofs, recompute one "
	    "operator, fold its leaf)\nagainst one full inference; lie at the "
	    "middle operator; single thread, best of runs.\n\n");
	printf("%-12s %-12s %6s %7s %-8s %10s %12s %10s\n", "model", "hash",
	    "ops", "rounds", "op", "full ms", "one step ms", "share");
	static const enum proto_hash suites[] = { PROTO_HASH_BLAKE2B,
		PROTO_HASH_XXH3 };
	for (size_t s = 0; s < 2; s++) {
		for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]);
		    i++) {
			if (bench(&variants[i], suites[s]) != 0) {
				fprintf(stderr, "onestep_bench: %s failed\n",
				    variants[i].label);
				return 1;
			}
		}
	}
	printf("\nThe one step must hash every tensor it is shown (inputs and "
	    "weights) to check\nit against a commitment; for a wide Gemm that "
	    "hashing, not the arithmetic,\nis most of its cost.\n");
	return 0;
}
