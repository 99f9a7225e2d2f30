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

/* ------------------------------------------------------------------ */
/* The chunked one step on the GPT-2-small shape                        */
/* ------------------------------------------------------------------ */

static double
cpu_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Keeps a copy of the entries wanted while the trace hashes them all. */
struct keeper {
	struct proto_trace tr;
	size_t n_entries;
	bool *want;
	struct tensor (*copy)[ENGINE_MAX_OP_OUTPUTS];
	size_t *n_copy;
	int err;
};

static int
keep_hook(void *ctx, size_t index, const struct tensor *const *t, size_t n)
{
	struct keeper *k = ctx;
	if (index < k->n_entries && k->want[index]) {
		for (size_t i = 0; i < n; i++) {
			if (engine_tensor_copy(&k->copy[index][i], t[i]) != RF_OK) {
				k->err = RF_ERR_NOMEM;
				return 1;
			}
		}
		k->n_copy[index] = n;
	}
	return proto_trace_hook(&k->tr, index, t, n);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct kind_worst {
	const char *kind;
	size_t bytes, items, op, chunk;
	double cpu_min, cpu_med;
};

static int
bench_gpt2(void)
{
	enum proto_hash suite = PROTO_HASH_BLAKE3;
	struct engine_gen_opts o;
	struct engine_model *m;
	engine_gen_opts_init(&o, ENGINE_GEN_TRANSFORMER);
	o.vocab = 50257;
	o.d_model = 768;
	o.heads = 12;
	o.d_ff = 3072;
	o.blocks = 12;
	o.batch = 1024;
	const char *env = getenv("ONESTEP_GPT2_BATCH");
	if (env != NULL && atoll(env) > 0) {
		o.batch = atoll(env);
	}
	printf("\nChunked one step, GPT-2-small shape (12 blocks, d_model 768, 12 "
	    "heads, vocab 50257, context %lld), blake3, one thread.\n",
	    (long long)o.batch);
	if (engine_model_generate(&o, &m, NULL) != RF_OK) {
		return 1;
	}
	engine_threads_set(1);
	struct proto_trace_layout l;
	struct rf_errinfo ei = { "" };
	/* Once per model and input shape (a referee keeps it). */
	double tl0 = cpu_now();
	if (proto_trace_layout_make(m, NULL, 0, &l, &ei) != RF_OK) {
		fprintf(stderr, "layout: %s\n", ei.msg);
		return 1;
	}
	double t_layout = cpu_now() - tl0;
	size_t n_in = engine_model_input_count(m), nops = engine_model_op_count(m);
	struct tensor in[ENGINE_MAX_GRAPH_IO], out[ENGINE_MAX_GRAPH_IO];
	if (engine_inputs_random(m, 1, in, NULL) != RF_OK) {
		return 1;
	}
	/* Block 0 (and the embedding) and the head: every operator kind. */
	size_t block_end = n_in + 34, head_from = n_in + nops - 2;
	struct keeper k;
	memset(&k, 0, sizeof(k));
	k.n_entries = l.n_entries;
	k.want = calloc(l.n_entries, sizeof(bool));
	k.copy = calloc(l.n_entries, sizeof(*k.copy));
	k.n_copy = calloc(l.n_entries, sizeof(size_t));
	/* The entries the benched operators read. */
	for (size_t e = n_in; e < l.n_entries; e++) {
		struct engine_op_info oi;
		if (!(e < block_end || e >= head_from)) {
			continue;
		}
		engine_model_op(m, e - n_in, &oi);
		for (size_t i = 0; i < oi.n_inputs; i++) {
			struct engine_value_info vi;
			if (oi.inputs[i] == ENGINE_NO_VALUE) {
				continue;
			}
			engine_model_value(m, oi.inputs[i], &vi);
			if (vi.kind == ENGINE_VALUE_OP) {
				k.want[n_in + (size_t)vi.producer] = true;
			} else if (vi.kind == ENGINE_VALUE_INPUT) {
				k.want[0] = true;
			}
		}
	}
	proto_trace_init(&k.tr, suite);
	k.tr.layout = &l;
	struct engine_run_opts ro;
	engine_run_opts_init(&ro);
	ro.trace = keep_hook;
	ro.trace_ctx = &k;
	if (engine_run(m, in, n_in, out, &ro, &ei) != RF_OK || k.tr.n !=
	    l.n_leaves) {
		fprintf(stderr, "traced run: %s\n", ei.msg);
		return 1;
	}
	engine_tensor_fini(&out[0]);
	/* A forward pass bare, with the trace of one leaf per operator, and
	 * with the chunked trace. */
	double t0 = cpu_now();
	if (engine_run(m, in, n_in, out, NULL, NULL) != RF_OK) {
		return 1;
	}
	double t_full = cpu_now() - t0;
	engine_tensor_fini(&out[0]);
	struct proto_digest *tl, troot;
	size_t tn;
	t0 = cpu_now();
	if (proto_trace_run(suite, m, in, n_in, out, ENGINE_KERNELS_FAST, &tl,
	    &tn, &troot, NULL) != RF_OK) {
		return 1;
	}
	double t_ops = cpu_now() - t0;
	engine_tensor_fini(&out[0]);
	free(tl);
	t0 = cpu_now();
	if (proto_trace_run_chunked(suite, m, &l, in, n_in, out,
	    ENGINE_KERNELS_FAST, &tl, &tn, &troot, NULL) != RF_OK) {
		return 1;
	}
	double t_traced = cpu_now() - t0;
	engine_tensor_fini(&out[0]);
	free(tl);
	struct proto_digest *ml;
	size_t nml;
	if (proto_model_leaves(suite, m, &ml, &nml) != RF_OK) {
		return 1;
	}
	struct proto_digest model_id;
	proto_merkle_root(suite, ml, nml, &model_id);
	struct proto_merkle_tree tree;
	if (proto_merkle_tree_build(suite, k.tr.leaves, k.tr.n, &tree) != RF_OK) {
		return 1;
	}
	uint8_t *graph;
	size_t glen;
	struct engine_model *go;
	if (engine_model_encode_graph(m, &graph, &glen) != RF_OK ||
	    engine_model_decode_graph(graph, glen, &go, NULL) != RF_OK) {
		return 1;
	}
	free(graph);
	size_t n = l.n_leaves;
	printf("leaves %zu (entries %zu), rounds at arity 2: %u\nforward pass "
	    "%.2f s CPU; traced, one leaf per operator %.2f s (+%.1f%%); traced in "
	    "chunks %.2f s (+%.1f%%)\n", n, l.n_entries,
	    bisect_max_rounds(n - n_in, 2), t_full, t_ops,
	    100.0 * (t_ops - t_full) / t_full, t_traced,
	    100.0 * (t_traced - t_full) / t_full);
	printf("the layout (every leaf's operator and chunk, from the graph): "
	    "%.1f ms CPU, once per model and input shape\n\n", t_layout * 1e3);
	printf("%-4s %-20s %-20s %8s %6s %11s %10s %10s %9s\n", "op", "kind",
	    "name", "chunks", "items", "reveal KiB", "cpu min ms", "cpu med ms",
	    "share");
	double worst_ms = 0;
	size_t worst_bytes = 0;
	int failures = 0;
	for (size_t e = n_in; e < l.n_entries; e++) {
		if (!(e < block_end || e >= head_from)) {
			continue;
		}
		size_t op = e - n_in;
		struct engine_op_info oi;
		engine_model_op(m, op, &oi);
		const struct tensor *const *ents[ENGINE_MAX_OP_INPUTS];
		const struct tensor *ptrs[ENGINE_MAX_OP_INPUTS][ENGINE_MAX_OP_OUTPUTS];
		size_t n_ent[ENGINE_MAX_OP_INPUTS];
		for (size_t i = 0; i < oi.n_inputs; i++) {
			ents[i] = NULL;
			n_ent[i] = 0;
			struct engine_value_info vi;
			if (oi.inputs[i] == ENGINE_NO_VALUE) {
				continue;
			}
			engine_model_value(m, oi.inputs[i], &vi);
			size_t pe = vi.kind == ENGINE_VALUE_OP ?
			    n_in + (size_t)vi.producer : 0;
			if (vi.kind == ENGINE_VALUE_WEIGHT) {
				continue;
			}
			for (size_t j = 0; j < k.n_copy[pe]; j++) {
				ptrs[i][j] = &k.copy[pe][j];
			}
			ents[i] = ptrs[i];
			n_ent[i] = k.n_copy[pe];
		}
		/* The largest reveal among the first, middle and last chunk. */
		size_t cand[3] = { 0, l.count[e] / 2, l.count[e] - 1 };
		struct bisect_chunk_reveal best;
		size_t best_bytes = 0, best_chunk = 0;
		memset(&best, 0, sizeof(best));
		for (size_t c = 0; c < 3; c++) {
			struct bisect_chunk_reveal rv;
			if (bisect_chunk_reveal_from(suite, m, &l, ents, n_ent, ml, nml,
			    &tree, l.first[e] + cand[c], &rv, &ei) != RF_OK) {
				fprintf(stderr, "reveal of op %zu: %s\n", op, ei.msg);
				return 1;
			}
			size_t b = bisect_chunk_reveal_size(&rv, suite);
			if (b > best_bytes) {
				bisect_chunk_reveal_free(&best);
				best = rv;
				best_bytes = b;
				best_chunk = cand[c];
			} else {
				bisect_chunk_reveal_free(&rv);
			}
		}
		/* A game waiting for the reveal of that leaf, the executor
		 * honest (its root of size lo + 1 the true one). */
		uint64_t lo = l.first[e] + best_chunk;
		struct proto_digest root, other;
		proto_merkle_tree_root(&tree, n, &root);
		other = root;
		other.b[0] ^= 1;
		struct bisect_game g0, g;
		if (bisect_start(&g0, suite, 2, 1000000, n, (uint32_t)n_in,
		    k.tr.leaves, &root, &other, 0) != RF_OK) {
			return 1;
		}
		g0.phase = BISECT_PHASE_REVEAL;
		g0.lo = lo;
		g0.hi = lo + 1;
		g0.op = (uint32_t)(lo - n_in);
		g0.n_sizes = 0;
		proto_merkle_tree_root(&tree, lo, &g0.lo_root);
		proto_merkle_tree_root(&tree, lo + 1, &g0.hi_root[BISECT_EXECUTOR]);
		g0.hi_root[BISECT_CHALLENGER] = other;
		double t[7];
		for (int r = 0; r < 7; r++) {
			g = g0;
			double c0 = cpu_now();
			enum bisect_result res = bisect_reveal_chunk(&g, go, &l,
			    &model_id, (uint32_t)nml, &best, 1, &ei);
			t[r] = cpu_now() - c0;
			if (res != BISECT_ACCEPTED || !g.executor_won) {
				fprintf(stderr, "op %zu leaf %llu: WRONG VERDICT: %s\n", op,
				    (unsigned long long)lo, g.why);
				failures++;
				break;
			}
		}
		qsort(t, 7, sizeof(t[0]), cmp_double);
		printf("%-4zu %-20s %-20.20s %8zu %6u %11.1f %10.3f %10.3f %8.4f%%\n",
		    op, engine_op_name(oi.op), oi.name, l.count[e], best.n_items,
		    best_bytes / 1024.0, t[0] * 1e3, t[3] * 1e3,
		    100.0 * t[3] / t_full);
		if (t[3] * 1e3 > worst_ms) {
			worst_ms = t[3] * 1e3;
		}
		if (best_bytes > worst_bytes) {
			worst_bytes = best_bytes;
		}
		bisect_chunk_reveal_free(&best);
	}
	printf("\nworst reveal %.1f KiB (limit 1024), worst one step %.3f ms CPU "
	    "(limit 10), %.4f%% of a full forward pass\n", worst_bytes / 1024.0,
	    worst_ms, 100.0 * worst_ms / 1e3 / t_full);
	proto_merkle_tree_free(&tree);
	free(ml);
	for (size_t e = 0; e < l.n_entries; e++) {
		for (size_t j = 0; j < k.n_copy[e]; j++) {
			engine_tensor_fini(&k.copy[e][j]);
		}
	}
	free(k.want);
	free(k.copy);
	free(k.n_copy);
	proto_trace_fini(&k.tr);
	proto_trace_layout_free(&l);
	engine_model_free(go);
	engine_model_free(m);
	for (size_t i = 0; i < n_in; i++) {
		engine_tensor_fini(&in[i]);
	}
	return failures != 0;
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
	if (bench_gpt2() != 0) {
		fprintf(stderr, "onestep_bench: the chunked one step failed\n");
		return 1;
	}
	return 0;
}
