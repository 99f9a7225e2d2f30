/*
 * tests/bisect/bisect_test.c - the dispute game on real traces of
 * generated models: the honest side wins from every fault position, rounds
 * are ceil(log_k N), every wrong move a cheater could make is caught with
 * the right loser, and clocks bound the game.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bisect/bisect.h"
#include "engine/engine.h"
#include "tests/adversary/adv.h"
#include "tests/testlib.h"

#define SUITE PROTO_HASH_BLAKE2B
#define CLOCK 10000

/* A job on a generated deep MLP: the model, its input, honest leaves. */
struct job {
	struct engine_model *m;
	struct tensor in[1];
	struct proto_digest *leaves;
	size_t n;
	struct proto_digest model_id;
	uint32_t model_leaves;
};

static void
job_make_sized(struct job *j, int64_t ops, int64_t width)
{
	struct engine_gen_opts o;
	engine_gen_opts_init(&o, ENGINE_GEN_MLP);
	o.ops = ops;
	o.hidden = width;
	o.in_features = width > 6 ? width : 5;
	o.batch = 2;
	memset(j, 0, sizeof(*j));
	CU_ASSERT_FATAL(engine_model_generate(&o, &j->m, NULL) == RF_OK);
	CU_ASSERT_FATAL(engine_inputs_random(j->m, 3, j->in, NULL) == RF_OK);
	struct proto_digest root;
	struct tensor out[1];
	CU_ASSERT_FATAL(proto_trace_run(SUITE, j->m, j->in, 1, out,
	    ENGINE_KERNELS_FAST, &j->leaves, &j->n, &root, NULL) == RF_OK);
	engine_tensor_fini(&out[0]);
	struct proto_digest *ml;
	size_t nml;
	CU_ASSERT_FATAL(proto_model_leaves(SUITE, j->m, &ml, &nml) == RF_OK);
	proto_merkle_root(SUITE, ml, nml, &j->model_id);
	j->model_leaves = (uint32_t)nml;
	free(ml);
}

static void
job_make(struct job *j, int64_t ops)
{
	job_make_sized(j, ops, 6);
}

static void
job_free(struct job *j)
{
	free(j->leaves);
	engine_tensor_fini(&j->in[0]);
	engine_model_free(j->m);
}

/* A copy of the honest leaves with leaf at changed (and, if cascade,
 * every later one) replaced: a lie at that trace entry. */
static struct proto_digest *
lie(const struct job *j, size_t at, bool cascade)
{
	struct proto_digest *l = malloc(j->n * sizeof(*l));
	memcpy(l, j->leaves, j->n * sizeof(*l));
	for (size_t i = at; i < j->n; i++) {
		if (i == at || cascade) {
			l[i].b[0] ^= 0x5a;
			l[i].b[1] ^= (uint8_t)i;
		}
	}
	return l;
}

static void
root_of(const struct proto_digest *l, size_t n, struct proto_digest *r)
{
	proto_merkle_root(SUITE, l, n, r);
}

static int
start(struct bisect_game *g, const struct job *j,
    const struct proto_digest *exl, const struct proto_digest *chl,
    uint32_t arity, uint64_t now)
{
	struct proto_digest re, rc;
	root_of(exl, j->n, &re);
	root_of(chl, j->n, &rc);
	return bisect_start(g, SUITE, arity, CLOCK, j->n, 1, j->leaves, &re, &rc,
	    now);
}

static const struct proto_digest dispute_id;

/* Both sides answer every round from their leaves; then the executor
 * reveals from the real model. Returns the game's final state. */
static void
play(struct bisect_game *g, const struct job *j,
    const struct proto_digest *exl, const struct proto_digest *chl,
    uint64_t *now)
{
	while (g->phase == BISECT_PHASE_QUERY) {
		struct proto_bisect_query q;
		struct proto_bisect_answer a;
		bisect_query(g, &dispute_id, &q);
		CU_ASSERT_FATAL(bisect_answer_build(SUITE, exl, j->n, &q, &a) ==
		    RF_OK);
		*now += 3;
		CU_ASSERT_EQUAL_FATAL(bisect_answer(g, BISECT_EXECUTOR, &a, *now,
		    NULL), BISECT_ACCEPTED);
		proto_bisect_answer_free(&a);
		CU_ASSERT_FATAL(bisect_answer_build(SUITE, chl, j->n, &q, &a) ==
		    RF_OK);
		*now += 5;
		CU_ASSERT_EQUAL_FATAL(bisect_answer(g, BISECT_CHALLENGER, &a, *now,
		    NULL), BISECT_ACCEPTED);
		proto_bisect_answer_free(&a);
	}
	if (g->phase == BISECT_PHASE_REVEAL) {
		struct adv_msg rv;
		adv_msg_init(&rv, PROTO_MSG_REVEAL, SUITE);
		struct rf_errinfo ei = { "" };
		CU_ASSERT_FATAL(bisect_reveal_build(SUITE, j->m, j->in, exl, j->n,
		    g->op, &rv.u.reveal, &ei) == RF_OK);
		*now += 7;
		CU_ASSERT_EQUAL(bisect_reveal(g, j->m, &j->model_id,
		    j->model_leaves, &rv.u.reveal, *now, &ei), BISECT_ACCEPTED);
		adv_msg_free(&rv);
	}
	CU_ASSERT_EQUAL(g->phase, BISECT_PHASE_DONE);
}

/* ------------------------------------------------------------------ */

static void
test_honest_wins_everywhere(void)
{
	struct job j;
	job_make(&j, 13);
	for (size_t k = 0; k < 13; k++) {
		for (int cascade = 0; cascade < 2; cascade++) {
			uint64_t now = 1000;
			struct bisect_game g;
			/* The executor lies at operator k: it loses, at k. */
			struct proto_digest *bad = lie(&j, 1 + k, cascade);
			CU_ASSERT_FATAL(start(&g, &j, bad, j.leaves, 2, now) == RF_OK);
			play(&g, &j, bad, j.leaves, &now);
			CU_ASSERT(!g.executor_won && g.challenger_right);
			CU_ASSERT_EQUAL(g.op, k);
			CU_ASSERT_EQUAL(g.reason, PROTO_VERDICT_RECOMPUTED);
			/* The challenger lies at k about a correct claim: it
			 * loses. */
			CU_ASSERT_FATAL(start(&g, &j, j.leaves, bad, 2, now) == RF_OK);
			play(&g, &j, j.leaves, bad, &now);
			CU_ASSERT(g.executor_won && !g.challenger_right);
			CU_ASSERT_EQUAL(g.op, k);
			free(bad);
		}
	}
	/* Both wrong, differently: the claim falls, the challenger is not
	 * right either. */
	struct proto_digest *a = lie(&j, 5, false);
	struct proto_digest *b = lie(&j, 5, false);
	b[5].b[3] ^= 1;
	struct bisect_game g;
	uint64_t now = 1;
	CU_ASSERT_FATAL(start(&g, &j, a, b, 2, now) == RF_OK);
	play(&g, &j, a, b, &now);
	CU_ASSERT(!g.executor_won && !g.challenger_right);
	free(a);
	free(b);
	/* Equal roots are no dispute. */
	struct proto_digest r;
	root_of(j.leaves, j.n, &r);
	CU_ASSERT(bisect_start(&g, SUITE, 2, CLOCK, j.n, 1, j.leaves, &r, &r,
	    0) == RF_ERR_INVAL);
	job_free(&j);
}

/* Weights above ENGINE_CHUNK_ONE_LEAF are committed in chunks inside
 * model_id; a reveal of the whole weight is proven by its chunks' root. */
static void
test_chunked_weights(void)
{
	struct job j;
	job_make_sized(&j, 3, 300); /* Gemm [300,300], Relu, Gemm [300,300] */
	struct engine_op_info oi;
	struct engine_value_info vi;
	CU_ASSERT_FATAL(engine_model_op(j.m, 0, &oi) == RF_OK);
	engine_model_value(j.m, oi.inputs[1], &vi);
	CU_ASSERT_FATAL(vi.kind == ENGINE_VALUE_WEIGHT &&
	    engine_chunk_count(vi.weight->dtype, vi.weight->rank,
	    vi.weight->dims) > 1);
	for (size_t k = 0; k < 3; k++) {
		uint64_t now = 1000;
		struct bisect_game g;
		struct proto_digest *bad = lie(&j, 1 + k, true);
		CU_ASSERT_FATAL(start(&g, &j, bad, j.leaves, 2, now) == RF_OK);
		play(&g, &j, bad, j.leaves, &now);
		CU_ASSERT(!g.executor_won && g.challenger_right);
		CU_ASSERT_EQUAL(g.op, k);
		CU_ASSERT_FATAL(start(&g, &j, j.leaves, bad, 2, now) == RF_OK);
		play(&g, &j, j.leaves, bad, &now);
		CU_ASSERT(g.executor_won && !g.challenger_right);
		CU_ASSERT_EQUAL(g.reason, PROTO_VERDICT_RECOMPUTED);
		free(bad);
	}
	/* One element of the revealed weight altered: its chunks' root no
	 * longer matches model_id, and the executor loses on the proof. */
	struct proto_digest *bad = lie(&j, 1, true);
	struct bisect_game g;
	uint64_t now = 1;
	CU_ASSERT_FATAL(start(&g, &j, j.leaves, bad, 2, now) == RF_OK);
	while (g.phase == BISECT_PHASE_QUERY) {
		struct proto_bisect_query q;
		struct proto_bisect_answer a;
		bisect_query(&g, &dispute_id, &q);
		CU_ASSERT_FATAL(bisect_answer_build(SUITE, j.leaves, j.n, &q, &a) ==
		    RF_OK);
		CU_ASSERT_FATAL(bisect_answer(&g, BISECT_EXECUTOR, &a, now, NULL) ==
		    BISECT_ACCEPTED);
		proto_bisect_answer_free(&a);
		CU_ASSERT_FATAL(bisect_answer_build(SUITE, bad, j.n, &q, &a) ==
		    RF_OK);
		CU_ASSERT_FATAL(bisect_answer(&g, BISECT_CHALLENGER, &a, now,
		    NULL) == BISECT_ACCEPTED);
		proto_bisect_answer_free(&a);
	}
	CU_ASSERT_FATAL(g.phase == BISECT_PHASE_REVEAL && g.op == 0);
	struct adv_msg rv;
	adv_msg_init(&rv, PROTO_MSG_REVEAL, SUITE);
	CU_ASSERT_FATAL(bisect_reveal_build(SUITE, j.m, j.in, j.leaves, j.n, 0,
	    &rv.u.reveal, NULL) == RF_OK);
	struct tensor *w = &rv.u.reveal.inputs[1].tensors[0];
	((float *)w->data)[w->count - 1] += 1.0f;
	CU_ASSERT_EQUAL(bisect_reveal(&g, j.m, &j.model_id, j.model_leaves,
	    &rv.u.reveal, now, NULL), BISECT_LOST);
	CU_ASSERT(!g.executor_won && g.reason == PROTO_VERDICT_BAD_PROOF);
	adv_msg_free(&rv);
	free(bad);
	job_free(&j);
}

/* ------------------------------------------------------------------ */
/* Chunked traces: the one step below the operator                      */
/* ------------------------------------------------------------------ */

struct cjob {
	struct engine_model *m;
	struct tensor in[1];
	struct proto_trace_layout l;
	struct proto_digest *leaves;
	size_t n;
	struct proto_digest model_id;
	uint32_t model_leaves;
};

static void
cjob_make(struct cjob *j, struct engine_gen_opts *o)
{
	memset(j, 0, sizeof(*j));
	CU_ASSERT_FATAL(engine_model_generate(o, &j->m, NULL) == RF_OK);
	CU_ASSERT_FATAL(engine_inputs_random(j->m, 3, j->in, NULL) == RF_OK);
	CU_ASSERT_FATAL(proto_trace_layout_make(j->m, NULL, 0, &j->l, NULL) ==
	    RF_OK);
	struct proto_digest root;
	struct tensor out[1];
	CU_ASSERT_FATAL(proto_trace_run_chunked(SUITE, j->m, &j->l, j->in, 1,
	    out, ENGINE_KERNELS_FAST, &j->leaves, &j->n, &root, NULL) == RF_OK);
	engine_tensor_fini(&out[0]);
	CU_ASSERT_FATAL(j->n == j->l.n_leaves);
	CU_ASSERT_FATAL(j->n > 1 + engine_model_op_count(j->m));
	struct proto_digest *ml;
	size_t nml;
	CU_ASSERT_FATAL(proto_model_leaves(SUITE, j->m, &ml, &nml) == RF_OK);
	proto_merkle_root(SUITE, ml, nml, &j->model_id);
	j->model_leaves = (uint32_t)nml;
	free(ml);
}

static void
cjob_free(struct cjob *j)
{
	free(j->leaves);
	proto_trace_layout_free(&j->l);
	engine_tensor_fini(&j->in[0]);
	engine_model_free(j->m);
}

static struct proto_digest *
clie(const struct cjob *j, size_t at)
{
	struct proto_digest *l = malloc(j->n * sizeof(*l));
	memcpy(l, j->leaves, j->n * sizeof(*l));
	for (size_t i = at; i < j->n; i++) {
		l[i].b[0] ^= 0x5a;
		l[i].b[1] ^= (uint8_t)i;
	}
	return l;
}

/* Plays the rounds; the game then waits for the reveal of leaf lo. */
static void
cplay_rounds(struct bisect_game *g, const struct cjob *j,
    const struct proto_digest *exl, const struct proto_digest *chl,
    uint64_t n)
{
	struct proto_digest re, rc;
	proto_merkle_root(SUITE, exl, n, &re);
	proto_merkle_root(SUITE, chl, n, &rc);
	CU_ASSERT_FATAL(bisect_start(g, SUITE, 2, CLOCK, n, 1, j->leaves, &re,
	    &rc, 0) == RF_OK);
	while (g->phase == BISECT_PHASE_QUERY) {
		struct proto_bisect_query q;
		struct proto_bisect_answer a;
		bisect_query(g, &dispute_id, &q);
		CU_ASSERT_FATAL(bisect_answer_build(SUITE, exl, n, &q, &a) ==
		    RF_OK);
		CU_ASSERT_FATAL(bisect_answer(g, BISECT_EXECUTOR, &a, 1, NULL) ==
		    BISECT_ACCEPTED);
		proto_bisect_answer_free(&a);
		CU_ASSERT_FATAL(bisect_answer_build(SUITE, chl, n, &q, &a) ==
		    RF_OK);
		CU_ASSERT_FATAL(bisect_answer(g, BISECT_CHALLENGER, &a, 1, NULL) ==
		    BISECT_ACCEPTED);
		proto_bisect_answer_free(&a);
	}
}

static void
chunked_game(struct engine_gen_opts *o, size_t stride)
{
	struct cjob j;
	cjob_make(&j, o);
	size_t games = 0, wrong = 0;
	for (size_t at = 1; at < j.n; at += (at + stride < j.n ||
	    at == j.n - 1) ? stride : j.n - 1 - at) {
		struct proto_digest *bad = clie(&j, at);
		for (int liar = 0; liar < 2; liar++) {
			struct bisect_game g;
			const struct proto_digest *exl = liar ? bad : j.leaves;
			const struct proto_digest *chl = liar ? j.leaves : bad;
			cplay_rounds(&g, &j, exl, chl, j.n);
			CU_ASSERT_FATAL(g.phase == BISECT_PHASE_REVEAL);
			CU_ASSERT_EQUAL(g.lo, at);
			CU_ASSERT(g.rounds <= bisect_max_rounds(j.n - 1, 2));
			struct bisect_chunk_reveal rv;
			struct rf_errinfo ei = { "" };
			CU_ASSERT_FATAL(bisect_chunk_reveal_build(SUITE, j.m, &j.l,
			    j.in, exl, j.n, g.lo, &rv, &ei) == RF_OK);
			CU_ASSERT_EQUAL(bisect_reveal_chunk(&g, j.m, &j.l, &j.model_id,
			    j.model_leaves, &rv, 2, &ei), BISECT_ACCEPTED);
			wrong += g.executor_won == (liar != 0) ||
			    g.reason != PROTO_VERDICT_RECOMPUTED;
			if (g.executor_won == (liar != 0)) {
				fprintf(stderr, "leaf %zu liar %d: %s\n", at, liar,
				    g.why);
			}
			games++;
			bisect_chunk_reveal_free(&rv);
		}
		free(bad);
	}
	CU_ASSERT(games > 0);
	CU_ASSERT_EQUAL(wrong, 0);
	cjob_free(&j);
}

static void
test_chunked_game(void)
{
	struct engine_gen_opts o;
	engine_gen_opts_init(&o, ENGINE_GEN_MLP);
	o.in_features = 300;
	o.hidden = 300;
	o.out_features = 70;
	o.layers = 3;
	o.batch = 100;
	chunked_game(&o, 1);
	engine_gen_opts_init(&o, ENGINE_GEN_TRANSFORMER);
	o.vocab = 300;
	o.d_model = 128;
	o.heads = 4;
	o.d_ff = 256;
	o.blocks = 1;
	o.batch = 160;
	chunked_game(&o, 29);
}

/* The leaf of the first chunk of operator op's output. */
static size_t
leaf_of(const struct cjob *j, size_t op, size_t chunk)
{
	return j->l.first[1 + op] + chunk;
}

static enum bisect_result
cheat(struct cjob *j, size_t leaf, uint64_t n,
    void (*spoil)(struct cjob *, struct bisect_chunk_reveal *, void *),
    void *ctx, struct bisect_game *g)
{
	struct proto_digest *bad = clie(j, leaf);
	cplay_rounds(g, j, j->leaves, bad, n);
	CU_ASSERT_FATAL(g->phase == BISECT_PHASE_REVEAL && g->lo == leaf);
	struct bisect_chunk_reveal rv;
	CU_ASSERT_FATAL(bisect_chunk_reveal_build(SUITE, j->m, &j->l, j->in,
	    j->leaves, j->n, leaf, &rv, NULL) == RF_OK);
	spoil(j, &rv, ctx);
	struct rf_errinfo ei = { "" };
	enum bisect_result res = bisect_reveal_chunk(g, j->m, &j->l, &j->model_id,
	    j->model_leaves, &rv, 2, &ei);
	bisect_chunk_reveal_free(&rv);
	free(bad);
	return res;
}

/* The first item of the given source kind (weight or trace chunk). */
static struct bisect_chunk_item *
item_of(struct bisect_chunk_reveal *rv, bool weight)
{
	for (size_t k = 0; k < rv->n_items; k++) {
		/* Weight items of a chunked weight have a longer proof than
		 * the trace ones of this small trace; operand 1 of a Gemm
		 * is its weight. */
		if ((rv->items[k].operand == 1) == weight) {
			return &rv->items[k];
		}
	}
	return NULL;
}

static void
spoil_none(struct cjob *j, struct bisect_chunk_reveal *rv, void *ctx)
{
	(void)j;
	(void)rv;
	(void)ctx;
}

/* A chunk of another tensor at the same index (same tile shape). */
static void
spoil_other_tensor(struct cjob *j, struct bisect_chunk_reveal *rv, void *ctx)
{
	(void)j;
	struct bisect_chunk_item *it = item_of(rv, false);
	const struct tensor *other = ctx;
	struct tensor x;
	CU_ASSERT_FATAL(it != NULL);
	CU_ASSERT_FATAL(engine_chunk_copy(other, it->chunk, &x) == RF_OK);
	CU_ASSERT_FATAL(x.count == it->tensors[0].count);
	engine_tensor_fini(&it->tensors[0]);
	it->tensors[0] = x;
}

static void
spoil_index(struct cjob *j, struct bisect_chunk_reveal *rv, void *ctx)
{
	(void)j;
	(void)ctx;
	item_of(rv, false)->chunk += 1;
}

/* The proof of the item against the whole committed tree, not the
 * agreed prefix. */
static void
spoil_root(struct cjob *j, struct bisect_chunk_reveal *rv, void *ctx)
{
	(void)ctx;
	struct bisect_chunk_item *it = item_of(rv, false);
	struct proto_digest path[MERKLE_MAX_PROOF];
	size_t plen;
	CU_ASSERT_FATAL(proto_merkle_inclusion_proof(SUITE, j->leaves, j->n,
	    j->l.first[1] + it->chunk, path, &plen) == RF_OK);
	free(it->proof);
	CU_ASSERT_FATAL(proto_proof_dup(path, plen, &it->proof) == RF_OK);
	it->proof_len = (uint8_t)plen;
}

/* The same chunk of the same weight of another model, with its proof
 * against that model's id. */
static void
spoil_other_model(struct cjob *j, struct bisect_chunk_reveal *rv, void *ctx)
{
	(void)j;
	struct engine_model *other = ctx;
	struct bisect_chunk_item *it = item_of(rv, true);
	CU_ASSERT_FATAL(it != NULL);
	struct engine_op_info oi;
	engine_model_op(other, 0, &oi);
	struct engine_value_info vi;
	engine_model_value(other, oi.inputs[1], &vi);
	struct tensor x;
	CU_ASSERT_FATAL(engine_chunk_copy(vi.weight, it->chunk, &x) == RF_OK);
	engine_tensor_fini(&it->tensors[0]);
	it->tensors[0] = x;
	struct proto_digest path[MERKLE_MAX_PROOF];
	size_t plen;
	CU_ASSERT_FATAL(proto_model_chunk_proof(SUITE, other, oi.inputs[1],
	    it->chunk, path, &plen) == RF_OK);
	free(it->proof);
	CU_ASSERT_FATAL(proto_proof_dup(path, plen, &it->proof) == RF_OK);
	it->proof_len = (uint8_t)plen;
}

static void
spoil_drop(struct cjob *j, struct bisect_chunk_reveal *rv, void *ctx)
{
	(void)j;
	(void)ctx;
	struct bisect_chunk_item last = rv->items[--rv->n_items];
	engine_tensor_fini(&last.tensors[0]);
	free(last.proof);
}

static void
spoil_twice(struct cjob *j, struct bisect_chunk_reveal *rv, void *ctx)
{
	(void)j;
	(void)ctx;
	struct bisect_chunk_item *ni = realloc(rv->items, (rv->n_items + 1) *
	    sizeof(*ni));
	CU_ASSERT_FATAL(ni != NULL);
	rv->items = ni;
	struct bisect_chunk_item *it = &ni[rv->n_items];
	*it = ni[0];
	CU_ASSERT_FATAL(engine_tensor_copy(&it->tensors[0], &ni[0].tensors[0]) ==
	    RF_OK);
	CU_ASSERT_FATAL(proto_proof_dup(ni[0].proof, ni[0].proof_len,
	    &it->proof) == RF_OK);
	rv->n_items++;
}

static void
test_chunked_cheats(void)
{
	struct engine_gen_opts o;
	engine_gen_opts_init(&o, ENGINE_GEN_MLP);
	o.in_features = 300;
	o.hidden = 300;
	o.out_features = 70;
	o.layers = 3;
	o.batch = 100;
	struct cjob j;
	cjob_make(&j, &o);
	o.seed = 99;
	struct engine_model *other;
	CU_ASSERT_FATAL(engine_model_generate(&o, &other, NULL) == RF_OK);
	/* Op 2 is the second Gemm: relu0 [100,300] (a chunked entry) times
	 * fc1.weight [300,300] (a chunked weight). */
	struct engine_op_info oi;
	CU_ASSERT_FATAL(engine_model_op(j.m, 2, &oi) == RF_OK &&
	    oi.op == ENGINE_OP_GEMM);
	CU_ASSERT_FATAL(j.l.count[1 + 1] > 1 && j.l.count[1 + 2] > 1);
	size_t leaf = leaf_of(&j, 2, 5);
	struct bisect_game g;
	/* The honest reveal wins. */
	CU_ASSERT_EQUAL(cheat(&j, leaf, j.n, spoil_none, NULL, &g),
	    BISECT_ACCEPTED);
	CU_ASSERT(g.executor_won);
	/* A tile of another tensor: fc0's output (op 0, same shape). */
	struct tensor fc0;
	{
		struct engine_run_opts ro;
		struct tensor outs[1];
		engine_run_opts_init(&ro);
		ro.stop_after = 1;
		/* Cheaper: the Relu input is op 0's output; take it from a
		 * whole run of op 0 on the job input. */
		struct engine_value_info vi;
		engine_model_op(j.m, 0, &oi);
		const struct tensor *args[3];
		engine_model_value(j.m, oi.inputs[1], &vi);
		args[0] = &j.in[0];
		args[1] = vi.weight;
		engine_model_value(j.m, oi.inputs[2], &vi);
		args[2] = vi.weight;
		CU_ASSERT_FATAL(engine_op_eval(j.m, 0, args, outs,
		    ENGINE_KERNELS_FAST, NULL) == RF_OK);
		fc0 = outs[0];
		/* Relu made the negatives 0, so fc0 differs from relu0. */
	}
	CU_ASSERT_EQUAL(cheat(&j, leaf, j.n, spoil_other_tensor, &fc0, &g),
	    BISECT_LOST);
	CU_ASSERT(!g.executor_won && g.reason == PROTO_VERDICT_BAD_PROOF);
	engine_tensor_fini(&fc0);
	CU_ASSERT_EQUAL(cheat(&j, leaf, j.n, spoil_index, NULL, &g),
	    BISECT_LOST);
	CU_ASSERT_EQUAL(cheat(&j, leaf, j.n, spoil_root, NULL, &g),
	    BISECT_LOST);
	CU_ASSERT_EQUAL(cheat(&j, leaf, j.n, spoil_other_model, other, &g),
	    BISECT_LOST);
	CU_ASSERT_EQUAL(cheat(&j, leaf, j.n, spoil_drop, NULL, &g), BISECT_LOST);
	CU_ASSERT_EQUAL(cheat(&j, leaf, j.n, spoil_twice, NULL, &g),
	    BISECT_LOST);
	/* A claim whose n is not the graph's (its trace one leaf short), the
	 * challenger playing on the same n: the executor, whose claim it is,
	 * loses at the one step, however right its chunk. */
	struct proto_digest *bad = clie(&j, leaf);
	CU_ASSERT_FATAL(j.n > leaf + 1);
	cplay_rounds(&g, &j, j.leaves, bad, j.n - 1);
	CU_ASSERT_FATAL(g.phase == BISECT_PHASE_REVEAL && g.lo == leaf);
	struct bisect_chunk_reveal rv;
	CU_ASSERT_FATAL(bisect_chunk_reveal_build(SUITE, j.m, &j.l, j.in,
	    j.leaves, j.n, g.lo, &rv, NULL) == RF_OK);
	CU_ASSERT_EQUAL(bisect_reveal_chunk(&g, j.m, &j.l, &j.model_id,
	    j.model_leaves, &rv, 2, NULL), BISECT_LOST);
	CU_ASSERT(!g.executor_won && g.reason == PROTO_VERDICT_BAD_PROOF);
	bisect_chunk_reveal_free(&rv);
	free(bad);
	engine_model_free(other);
	cjob_free(&j);
}

/* A model whose embedding and head are each one 154 MB weight (50257 x
 * 768 f32): a dispute at a leaf that reads either reveals a few of its
 * chunks, and the honest side wins both ways. */
static void
test_chunked_150mb(void)
{
	struct engine_gen_opts o;
	engine_gen_opts_init(&o, ENGINE_GEN_TRANSFORMER);
	o.vocab = 50257;
	o.d_model = 768;
	o.heads = 12;
	o.d_ff = 64;
	o.blocks = 1;
	o.batch = 8;
	struct cjob j;
	cjob_make(&j, &o);
	struct engine_op_info first, last;
	size_t nops = engine_model_op_count(j.m);
	CU_ASSERT_FATAL(engine_model_op(j.m, 0, &first) == RF_OK &&
	    first.op == ENGINE_OP_GATHER);
	CU_ASSERT_FATAL(engine_model_op(j.m, nops - 1, &last) == RF_OK &&
	    last.op == ENGINE_OP_MATMUL);
	struct engine_value_info vi;
	engine_model_value(j.m, first.inputs[0], &vi);
	CU_ASSERT_FATAL(vi.kind == ENGINE_VALUE_WEIGHT &&
	    engine_tensor_nbytes(vi.weight) > (size_t)150000000);
	/* The embedding's one leaf (8 x 768 is 24 KiB: one chunk) and the
	 * first and last chunk of the logits. */
	size_t at[3] = { j.l.first[1], j.l.first[nops], j.n - 1 };
	for (size_t a = 0; a < 3; a++) {
		struct proto_digest *bad = clie(&j, at[a]);
		for (int liar = 0; liar < 2; liar++) {
			struct bisect_game g;
			const struct proto_digest *exl = liar ? bad : j.leaves;
			const struct proto_digest *chl = liar ? j.leaves : bad;
			cplay_rounds(&g, &j, exl, chl, j.n);
			CU_ASSERT_FATAL(g.phase == BISECT_PHASE_REVEAL &&
			    g.lo == at[a]);
			struct bisect_chunk_reveal rv;
			struct rf_errinfo ei = { "" };
			CU_ASSERT_FATAL(bisect_chunk_reveal_build(SUITE, j.m, &j.l,
			    j.in, exl, j.n, g.lo, &rv, &ei) == RF_OK);
			CU_ASSERT(bisect_chunk_reveal_size(&rv, SUITE) <= 1 << 20);
			CU_ASSERT_EQUAL(bisect_reveal_chunk(&g, j.m, &j.l, &j.model_id,
			    j.model_leaves, &rv, 2, &ei), BISECT_ACCEPTED);
			CU_ASSERT(g.executor_won == !liar);
			CU_ASSERT(g.challenger_right == !!liar);
			CU_ASSERT_EQUAL(g.reason, PROTO_VERDICT_RECOMPUTED);
			bisect_chunk_reveal_free(&rv);
		}
		free(bad);
	}
	cjob_free(&j);
}

static uint32_t
ceil_log(uint64_t n, uint32_t k)
{
	uint32_t r = 0;
	uint64_t x = 1;
	while (x < n) {
		x *= k;
		r++;
	}
	return r;
}

static void
test_rounds(void)
{
	static const int64_t sizes[] = { 1, 2, 3, 100, 1000 };
	static const uint32_t arities[] = { 2, 4, 16 };
	for (size_t s = 0; s < 5; s++) {
		struct job j;
		job_make(&j, sizes[s]);
		for (size_t a = 0; a < 3; a++) {
			uint32_t k = arities[a];
			uint32_t want = ceil_log((uint64_t)sizes[s], k);
			CU_ASSERT_EQUAL(bisect_max_rounds((uint64_t)sizes[s], k), want);
			/* A lie at the first operator takes the longest path; any
			 * other never takes longer. */
			for (size_t pos = 0; pos < (size_t)sizes[s];
			    pos += (size_t)sizes[s] / 7 + 1) {
				struct bisect_game g;
				uint64_t now = 0;
				struct proto_digest *bad = lie(&j, 1 + pos, true);
				CU_ASSERT_FATAL(start(&g, &j, bad, j.leaves, k, now) ==
				    RF_OK);
				play(&g, &j, bad, j.leaves, &now);
				if (pos == 0) {
					CU_ASSERT_EQUAL(g.rounds, want);
					if (g.rounds != want) {
						printf("N=%lld k=%u: %u rounds, want %u\n",
						    (long long)sizes[s], k, g.rounds, want);
					}
				}
				CU_ASSERT(g.rounds <= want);
				CU_ASSERT_EQUAL(g.op, pos);
				CU_ASSERT(!g.executor_won);
				free(bad);
			}
		}
		job_free(&j);
	}
}

/* A game at its first query, executor lying at operator 6 of 20. */
static void
game_at_query(struct bisect_game *g, struct job *j,
    struct proto_digest **bad, struct proto_bisect_query *q,
    struct proto_bisect_answer *honest)
{
	job_make(j, 20);
	*bad = lie(j, 7, true);
	CU_ASSERT_FATAL(start(g, j, *bad, j->leaves, 2, 100) == RF_OK);
	bisect_query(g, &dispute_id, q);
	CU_ASSERT_FATAL(bisect_answer_build(SUITE, *bad, j->n, q, honest) ==
	    RF_OK);
}

static void
test_wrong_answers(void)
{
	struct bisect_game g;
	struct job j;
	struct proto_digest *bad;
	struct proto_bisect_query q;
	struct proto_bisect_answer a, x;
	struct rf_errinfo ei;

	/* A flipped bit in a consistency proof: the executor loses. */
	game_at_query(&g, &j, &bad, &q, &a);
	x = a;
	x.roots[0].proof[0].b[4] ^= 0x10;
	CU_ASSERT_EQUAL(bisect_answer(&g, BISECT_EXECUTOR, &x, 101, &ei),
	    BISECT_LOST);
	CU_ASSERT(g.phase == BISECT_PHASE_DONE && !g.executor_won &&
	    g.reason == PROTO_VERDICT_BAD_PROOF);
	proto_bisect_answer_free(&a);
	free(bad);
	job_free(&j);

	/* A root of another size than asked. */
	game_at_query(&g, &j, &bad, &q, &a);
	x = a;
	x.roots[0].size += 1;
	CU_ASSERT_EQUAL(bisect_answer(&g, BISECT_CHALLENGER, &x, 101, &ei),
	    BISECT_LOST);
	CU_ASSERT(g.executor_won && g.loser_side == BISECT_CHALLENGER);
	proto_bisect_answer_free(&a);
	free(bad);
	job_free(&j);

	/* A real prefix root of the wrong size, with a valid proof for that
	 * size: still not what was asked. */
	game_at_query(&g, &j, &bad, &q, &a);
	struct proto_bisect_query q2 = q;
	q2.sizes[0] = q.sizes[0] - 1;
	CU_ASSERT_FATAL(bisect_answer_build(SUITE, bad, j.n, &q2, &x) == RF_OK);
	CU_ASSERT_EQUAL(bisect_answer(&g, BISECT_EXECUTOR, &x, 101, &ei),
	    BISECT_LOST);
	proto_bisect_answer_free(&a);
	proto_bisect_answer_free(&x);
	free(bad);
	job_free(&j);

	/* A root that is not a prefix of the side's committed root (the
	 * other side's, say). */
	game_at_query(&g, &j, &bad, &q, &a);
	CU_ASSERT_FATAL(bisect_answer_build(SUITE, j.leaves, j.n, &q, &x) ==
	    RF_OK);
	x.roots[0].root.b[0] ^= 1;
	CU_ASSERT_EQUAL(bisect_answer(&g, BISECT_EXECUTOR, &x, 101, &ei),
	    BISECT_LOST);
	proto_bisect_answer_free(&a);
	proto_bisect_answer_free(&x);
	free(bad);
	job_free(&j);

	/* Too many or too few roots. */
	game_at_query(&g, &j, &bad, &q, &a);
	x = a;
	x.n_roots = 0;
	CU_ASSERT_EQUAL(bisect_answer(&g, BISECT_EXECUTOR, &x, 101, &ei),
	    BISECT_LOST);
	proto_bisect_answer_free(&a);
	free(bad);
	job_free(&j);

	/* Out of turn: another round, or the same answer twice: ignored,
	 * nothing changes; the game goes on. */
	game_at_query(&g, &j, &bad, &q, &a);
	x = a;
	x.round = q.round + 1;
	CU_ASSERT_EQUAL(bisect_answer(&g, BISECT_EXECUTOR, &x, 101, &ei),
	    BISECT_IGNORED);
	CU_ASSERT_EQUAL(g.phase, BISECT_PHASE_QUERY);
	CU_ASSERT_EQUAL(bisect_answer(&g, BISECT_EXECUTOR, &a, 102, &ei),
	    BISECT_ACCEPTED);
	CU_ASSERT_EQUAL(bisect_answer(&g, BISECT_EXECUTOR, &a, 103, &ei),
	    BISECT_IGNORED);
	struct adv_msg rv;
	adv_msg_init(&rv, PROTO_MSG_REVEAL, SUITE);
	CU_ASSERT_EQUAL(bisect_reveal(&g, j.m, &j.model_id, j.model_leaves,
	    &rv.u.reveal, 104, &ei), BISECT_IGNORED);
	CU_ASSERT_EQUAL(g.phase, BISECT_PHASE_QUERY);
	proto_bisect_answer_free(&a);
	free(bad);
	job_free(&j);
}

/* Plays to the reveal phase with the executor lying at operator k. */
static void
game_at_reveal(struct bisect_game *g, struct job *j,
    struct proto_digest **bad, struct adv_msg *rv, size_t k)
{
	job_make(j, 12);
	*bad = lie(j, 1 + k, true);
	CU_ASSERT_FATAL(start(g, j, *bad, j->leaves, 2, 0) == RF_OK);
	while (g->phase == BISECT_PHASE_QUERY) {
		struct proto_bisect_query q;
		struct proto_bisect_answer a;
		bisect_query(g, &dispute_id, &q);
		CU_ASSERT_FATAL(bisect_answer_build(SUITE, *bad, j->n, &q, &a) ==
		    RF_OK);
		bisect_answer(g, BISECT_EXECUTOR, &a, 1, NULL);
		proto_bisect_answer_free(&a);
		CU_ASSERT_FATAL(bisect_answer_build(SUITE, j->leaves, j->n, &q,
		    &a) == RF_OK);
		bisect_answer(g, BISECT_CHALLENGER, &a, 1, NULL);
		proto_bisect_answer_free(&a);
	}
	CU_ASSERT_FATAL(g->phase == BISECT_PHASE_REVEAL && g->op == k);
	/* The reveal's query asks for no sizes, only operator k. */
	struct proto_bisect_query rq;
	bisect_query(g, &dispute_id, &rq);
	CU_ASSERT(rq.n_sizes == 0 && rq.hi == rq.lo + 1 && rq.lo == 1 + k);
	adv_msg_init(rv, PROTO_MSG_REVEAL, SUITE);
	CU_ASSERT_FATAL(bisect_reveal_build(SUITE, j->m, j->in, *bad, j->n,
	    (uint32_t)k, &rv->u.reveal, NULL) == RF_OK);
}

static void
test_wrong_reveals(void)
{
	struct bisect_game g;
	struct job j;
	struct proto_digest *bad;
	struct adv_msg rv;
	struct rf_errinfo ei;
	/* Operator 4 is a Gemm: input 0 an activation, 1 and 2 weights. */
	enum { FLIP_TENSOR, FLIP_WEIGHT, WRONG_LEAF, WRONG_OUTPUT, FLIP_PROOF,
		BAD_FRONTIER, MISSING, WRONG_OP, NONE };
	for (int fault = FLIP_TENSOR; fault <= NONE; fault++) {
		game_at_reveal(&g, &j, &bad, &rv, 4);
		struct proto_reveal *r = &rv.u.reveal;
		enum bisect_result want = BISECT_LOST;
		switch (fault) {
		case FLIP_TENSOR:
			((float *)r->inputs[0].tensors[0].data)[1] += 1.0f;
			break;
		case FLIP_WEIGHT:
			((float *)r->inputs[1].tensors[0].data)[0] *= 2.0f;
			break;
		case WRONG_LEAF:
			r->inputs[0].leaf -= 1;
			break;
		case WRONG_OUTPUT:
			r->inputs[0].output = 1;
			break;
		case FLIP_PROOF:
			r->inputs[2].proof[0].b[7] ^= 0x80;
			break;
		case BAD_FRONTIER:
			r->frontier[0].b[0] ^= 1;
			break;
		case MISSING:
			r->n_inputs = 2;
			break;
		case WRONG_OP:
			r->op = 3;
			want = BISECT_IGNORED;
			break;
		case NONE:
			/* The honest reveal: the liar still loses on the
			 * recomputation, not on a proof. */
			want = BISECT_ACCEPTED;
			break;
		}
		CU_ASSERT_EQUAL(bisect_reveal(&g, j.m, &j.model_id, j.model_leaves,
		    r, 5, &ei), want);
		if (want == BISECT_LOST) {
			CU_ASSERT(!g.executor_won &&
			    g.reason == PROTO_VERDICT_BAD_PROOF);
		} else if (want == BISECT_ACCEPTED) {
			CU_ASSERT(!g.executor_won &&
			    g.reason == PROTO_VERDICT_RECOMPUTED);
		} else {
			CU_ASSERT_EQUAL(g.phase, BISECT_PHASE_REVEAL);
		}
		if (fault == MISSING) {
			r->n_inputs = 3;
		}
		adv_msg_free(&rv);
		free(bad);
		job_free(&j);
	}
}

static void
test_clocks(void)
{
	struct job j;
	job_make(&j, 64);
	struct proto_digest *bad = lie(&j, 40, true);
	uint64_t start_ms = 5000;

	/* Both sides wait until the last instant of every move: the game
	 * still ends within the sum of both clocks, and the honest side
	 * still wins. */
	struct bisect_game g;
	CU_ASSERT_FATAL(start(&g, &j, bad, j.leaves, 2, start_ms) == RF_OK);
	uint64_t now = start_ms;
	while (g.phase == BISECT_PHASE_QUERY) {
		struct proto_bisect_query q;
		struct proto_bisect_answer a;
		bisect_query(&g, &dispute_id, &q);
		uint64_t de = bisect_deadline(&g, BISECT_EXECUTOR);
		uint64_t dc = bisect_deadline(&g, BISECT_CHALLENGER);
		CU_ASSERT_FATAL(bisect_answer_build(SUITE, bad, j.n, &q, &a) ==
		    RF_OK);
		CU_ASSERT(!bisect_tick(&g, de - 1));
		CU_ASSERT_EQUAL(bisect_answer(&g, BISECT_EXECUTOR, &a, de, NULL),
		    BISECT_ACCEPTED);
		proto_bisect_answer_free(&a);
		CU_ASSERT_FATAL(bisect_answer_build(SUITE, j.leaves, j.n, &q, &a) ==
		    RF_OK);
		now = dc > de ? dc : de;
		CU_ASSERT_EQUAL(bisect_answer(&g, BISECT_CHALLENGER, &a, now,
		    NULL), BISECT_ACCEPTED);
		proto_bisect_answer_free(&a);
	}
	CU_ASSERT_EQUAL(g.phase, BISECT_PHASE_REVEAL);
	now = bisect_deadline(&g, BISECT_EXECUTOR);
	struct adv_msg rv;
	adv_msg_init(&rv, PROTO_MSG_REVEAL, SUITE);
	CU_ASSERT_FATAL(bisect_reveal_build(SUITE, j.m, j.in, bad, j.n, g.op,
	    &rv.u.reveal, NULL) == RF_OK);
	CU_ASSERT_EQUAL(bisect_reveal(&g, j.m, &j.model_id, j.model_leaves,
	    &rv.u.reveal, now, NULL), BISECT_ACCEPTED);
	adv_msg_free(&rv);
	CU_ASSERT(!g.executor_won);
	CU_ASSERT(now - start_ms <= 2 * CLOCK);

	/* One millisecond late: the late side loses, on the clock. */
	CU_ASSERT_FATAL(start(&g, &j, bad, j.leaves, 2, start_ms) == RF_OK);
	struct proto_bisect_query q;
	struct proto_bisect_answer a;
	bisect_query(&g, &dispute_id, &q);
	CU_ASSERT_FATAL(bisect_answer_build(SUITE, j.leaves, j.n, &q, &a) ==
	    RF_OK);
	CU_ASSERT_EQUAL(bisect_answer(&g, BISECT_CHALLENGER, &a,
	    start_ms + CLOCK + 1, NULL), BISECT_LOST);
	proto_bisect_answer_free(&a);
	CU_ASSERT(g.executor_won && g.reason == PROTO_VERDICT_TIMEOUT);

	/* Silence: the tick decides. The executor silent loses; the
	 * challenger silent loses; both silent, the claim stands. */
	for (int who = 0; who < 3; who++) {
		CU_ASSERT_FATAL(start(&g, &j, bad, j.leaves, 2, start_ms) == RF_OK);
		bisect_query(&g, &dispute_id, &q);
		if (who != 0) {
			CU_ASSERT_FATAL(bisect_answer_build(SUITE, bad, j.n, &q, &a) ==
			    RF_OK);
			bisect_answer(&g, BISECT_EXECUTOR, &a, start_ms + 1, NULL);
			proto_bisect_answer_free(&a);
		}
		if (who != 1) {
			CU_ASSERT_FATAL(bisect_answer_build(SUITE, j.leaves, j.n, &q,
			    &a) == RF_OK);
			bisect_answer(&g, BISECT_CHALLENGER, &a, start_ms + 1, NULL);
			proto_bisect_answer_free(&a);
		}
		if (who == 2) {
			/* Both answered round 1; now both go quiet. */
			CU_ASSERT(bisect_tick(&g, start_ms + 2 * CLOCK + 2));
			CU_ASSERT(g.executor_won);
			continue;
		}
		CU_ASSERT(!bisect_tick(&g, start_ms + CLOCK - 1));
		CU_ASSERT(bisect_tick(&g, start_ms + CLOCK));
		CU_ASSERT_EQUAL(g.executor_won, who == 1);
		CU_ASSERT_EQUAL(g.reason, PROTO_VERDICT_TIMEOUT);
	}
	free(bad);
	job_free(&j);
}

static int
init(void)
{
	return proto_init() != RF_OK;
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "the honest side wins from every fault", test_honest_wins_everywhere },
		{ "rounds are ceil(log_k N)", test_rounds },
		{ "wrong answers lose or are ignored", test_wrong_answers },
		{ "wrong reveals lose", test_wrong_reveals },
		{ "weights in chunks are proven whole", test_chunked_weights },
		{ "chunked traces: the honest side wins at every leaf",
		    test_chunked_game },
		{ "chunked traces: a cheater's reveals lose", test_chunked_cheats },
		{ "chunked traces: a 154 MB weight is disputed by chunks",
		    test_chunked_150mb },
		{ "clocks bound the game", test_clocks },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "bisect", init, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
