/*
 * bisect/bisect.c - the dispute game: rounds, clocks and the one step.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bisect/bisect_int.h"
#include "engine/engine.h"

static const char *const side_name[2] = { "executor", "challenger" };

static void
finish(struct bisect_game *g, enum bisect_side loser, uint8_t reason,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Ends the game with loser losing. */
static void
finish(struct bisect_game *g, enum bisect_side loser, uint8_t reason,
    const char *fmt, ...)
{
	g->phase = BISECT_PHASE_DONE;
	g->loser_side = loser;
	g->executor_won = loser == BISECT_CHALLENGER;
	g->challenger_right = loser == BISECT_EXECUTOR;
	g->reason = reason;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(g->why, sizeof(g->why), fmt, ap);
	va_end(ap);
}

uint32_t
bisect_max_rounds(uint64_t n_ops, uint32_t arity)
{
	uint32_t r = 0;
	uint64_t reach = 1;
	while (reach < n_ops && arity >= 2) {
		reach = reach > UINT64_MAX / arity ? UINT64_MAX : reach * arity;
		r++;
	}
	return r;
}

/* The k - 1 sizes that cut (lo, hi) into k parts, each of at most
 * ceil((hi - lo) / k) leaves; fewer when the interval is short. */
void
bisect_split(struct bisect_game *g)
{
	uint64_t len = g->hi - g->lo;
	g->n_sizes = 0;
	for (uint32_t i = 1; i < g->arity; i++) {
		uint64_t m = g->lo + (i * len + g->arity - 1) / g->arity;
		if (m <= g->lo || m >= g->hi) {
			continue;
		}
		if (g->n_sizes > 0 && g->sizes[g->n_sizes - 1] == m) {
			continue;
		}
		g->sizes[g->n_sizes++] = m;
	}
}

/* Asks the next move at now_ms. */
static void
next_move(struct bisect_game *g, uint64_t now_ms)
{
	g->asked_ms = now_ms;
	g->answered[0] = g->answered[1] = false;
	if (g->hi - g->lo == 1) {
		/* No sizes left to ask: the query now means "reveal". */
		g->phase = BISECT_PHASE_REVEAL;
		g->op = (uint32_t)(g->lo - g->n_inputs);
		g->n_sizes = 0;
		return;
	}
	g->phase = BISECT_PHASE_QUERY;
	g->round++;
	bisect_split(g);
}

int
bisect_start(struct bisect_game *g, enum proto_hash suite, uint32_t arity,
    uint64_t clock_ms, uint64_t n, uint32_t n_inputs,
    const struct proto_digest *input_leaves,
    const struct proto_digest *executor_root,
    const struct proto_digest *challenger_root, uint64_t now_ms)
{
	if (arity < 2 || arity > PROTO_MAX_ARITY || n_inputs == 0 ||
	    n_inputs > PROTO_MAX_TENSORS || n <= n_inputs ||
	    proto_digest_equal(suite, executor_root, challenger_root)) {
		return RF_ERR_INVAL;
	}
	memset(g, 0, sizeof(*g));
	g->suite = suite;
	g->arity = arity;
	g->n = n;
	g->n_inputs = n_inputs;
	memcpy(g->input_leaves, input_leaves, n_inputs * sizeof(*input_leaves));
	g->committed[BISECT_EXECUTOR] = *executor_root;
	g->committed[BISECT_CHALLENGER] = *challenger_root;
	/* The inputs are known to everyone: their prefix is agreed by
	 * construction, whatever either side's tree says about them. */
	g->lo = n_inputs;
	proto_merkle_root(suite, input_leaves, n_inputs, &g->lo_root);
	g->hi = n;
	g->hi_root[BISECT_EXECUTOR] = *executor_root;
	g->hi_root[BISECT_CHALLENGER] = *challenger_root;
	g->clock_left[0] = g->clock_left[1] = clock_ms;
	next_move(g, now_ms);
	return RF_OK;
}

uint64_t
bisect_deadline(const struct bisect_game *g, enum bisect_side side)
{
	return g->asked_ms + g->clock_left[side];
}

bool
bisect_waiting_for(const struct bisect_game *g, enum bisect_side side)
{
	if (g->phase == BISECT_PHASE_QUERY) {
		return !g->answered[side];
	}
	return g->phase == BISECT_PHASE_REVEAL && side == BISECT_EXECUTOR;
}

void
bisect_query(const struct bisect_game *g, const struct proto_digest *id,
    struct proto_bisect_query *q)
{
	memset(q, 0, sizeof(*q));
	q->dispute_id = *id;
	q->round = g->round;
	q->lo = g->lo;
	q->hi = g->hi;
	q->n_sizes = g->n_sizes;
	memcpy(q->sizes, g->sizes, g->n_sizes * sizeof(g->sizes[0]));
	uint64_t de = bisect_deadline(g, BISECT_EXECUTOR);
	uint64_t dc = bisect_deadline(g, BISECT_CHALLENGER);
	q->deadline_ms = de > dc ? de : dc;
}

/* Both answers in: move lo and hi to the first disagreement. */
static void
resolve_round(struct bisect_game *g, uint64_t now_ms)
{
	size_t j = 0;
	while (j < g->n_sizes &&
	    proto_digest_equal(g->suite, &g->answer[0][j], &g->answer[1][j])) {
		j++;
	}
	if (j > 0) {
		g->lo = g->sizes[j - 1];
		g->lo_root = g->answer[0][j - 1];
	}
	if (j < g->n_sizes) {
		g->hi = g->sizes[j];
		g->hi_root[0] = g->answer[0][j];
		g->hi_root[1] = g->answer[1][j];
	}
	g->rounds++;
	next_move(g, now_ms);
}

enum bisect_result
bisect_answer(struct bisect_game *g, enum bisect_side side,
    const struct proto_bisect_answer *a, uint64_t now_ms,
    struct rf_errinfo *ei)
{
	if (g->phase != BISECT_PHASE_QUERY || a->round != g->round) {
		rf_errf(ei, RF_ERR_INVAL, "answer for round %u out of turn",
		    a->round);
		return BISECT_IGNORED;
	}
	if (g->answered[side]) {
		rf_errf(ei, RF_ERR_INVAL, "round %u already answered", a->round);
		return BISECT_IGNORED;
	}
	if (now_ms > bisect_deadline(g, side)) {
		finish(g, side, PROTO_VERDICT_TIMEOUT, "the %s answered round %u "
		    "after its clock ran out", side_name[side], g->round);
		rf_errf(ei, RF_ERR_TIMEOUT, "%s", g->why);
		return BISECT_LOST;
	}
	if (a->n_roots != g->n_sizes) {
		finish(g, side, PROTO_VERDICT_BAD_PROOF, "the %s gave %u roots "
		    "for %u sizes", side_name[side], a->n_roots, g->n_sizes);
		rf_errf(ei, RF_ERR_INVAL, "%s", g->why);
		return BISECT_LOST;
	}
	for (size_t i = 0; i < g->n_sizes; i++) {
		const struct proto_prefix_root *pr = &a->roots[i];
		if (pr->size != g->sizes[i]) {
			finish(g, side, PROTO_VERDICT_BAD_PROOF, "the %s answered "
			    "size %llu where %llu was asked", side_name[side],
			    (unsigned long long)pr->size,
			    (unsigned long long)g->sizes[i]);
			rf_errf(ei, RF_ERR_INVAL, "%s", g->why);
			return BISECT_LOST;
		}
		if (proto_merkle_consistency_verify(g->suite, pr->size, g->n, &pr->root,
		    &g->committed[side], pr->proof, pr->proof_len) != RF_OK) {
			finish(g, side, PROTO_VERDICT_BAD_PROOF, "the %s's root of "
			    "size %llu is not a prefix of its committed root",
			    side_name[side], (unsigned long long)pr->size);
			rf_errf(ei, RF_ERR_CRYPTO, "%s", g->why);
			return BISECT_LOST;
		}
	}
	for (size_t i = 0; i < g->n_sizes; i++) {
		g->answer[side][i] = a->roots[i].root;
	}
	uint64_t used = now_ms > g->asked_ms ? now_ms - g->asked_ms : 0;
	g->clock_left[side] -= used < g->clock_left[side] ? used :
	    g->clock_left[side];
	g->answered[side] = true;
	if (g->answered[0] && g->answered[1]) {
		resolve_round(g, now_ms);
	}
	return BISECT_ACCEPTED;
}

bool
bisect_tick(struct bisect_game *g, uint64_t now_ms)
{
	if (g->phase == BISECT_PHASE_DONE) {
		return false;
	}
	bool out_e = bisect_waiting_for(g, BISECT_EXECUTOR) &&
	    now_ms >= bisect_deadline(g, BISECT_EXECUTOR);
	bool out_c = bisect_waiting_for(g, BISECT_CHALLENGER) &&
	    now_ms >= bisect_deadline(g, BISECT_CHALLENGER);
	if (out_c) {
		/* With both silent, the claim stands: the accuser must move. */
		finish(g, BISECT_CHALLENGER, PROTO_VERDICT_TIMEOUT, "the "
		    "challenger's clock ran out%s", out_e ? " (the executor's "
		    "too)" : "");
		return true;
	}
	if (out_e) {
		finish(g, BISECT_EXECUTOR, PROTO_VERDICT_TIMEOUT, "the executor's "
		    "clock ran out %s", g->phase == BISECT_PHASE_REVEAL ?
		    "before it revealed the operator" : "in a round");
		return true;
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* The one step                                                         */
/* ------------------------------------------------------------------ */

/* Where operator input i must come from, by the model's graph. */
struct expected_input {
	uint8_t src;
	uint32_t leaf;
	uint8_t output;
	uint8_t n_tensors;
};

static int
expect_input(const struct bisect_game *g, const struct engine_model *m,
    int value, struct expected_input *x)
{
	memset(x, 0, sizeof(*x));
	if (value == ENGINE_NO_VALUE) {
		x->src = PROTO_REVEAL_ABSENT;
		return RF_OK;
	}
	struct engine_value_info vi;
	if (engine_model_value(m, value, &vi) != RF_OK) {
		return RF_ERR_INVAL;
	}
	switch (vi.kind) {
	case ENGINE_VALUE_INPUT:
		for (size_t i = 0; i < engine_model_input_count(m); i++) {
			if (engine_model_input(m, i) == value) {
				x->src = PROTO_REVEAL_TRACE;
				x->leaf = (uint32_t)i;
				x->n_tensors = 1;
				return RF_OK;
			}
		}
		return RF_ERR_INVAL;
	case ENGINE_VALUE_WEIGHT: {
		size_t leaf;
		if (proto_model_weight_leaf(m, value, &leaf) != RF_OK) {
			return RF_ERR_INVAL;
		}
		x->src = PROTO_REVEAL_WEIGHT;
		x->leaf = (uint32_t)leaf;
		x->n_tensors = 1;
		return RF_OK;
	}
	case ENGINE_VALUE_OP: {
		struct engine_op_info oi;
		if (engine_model_op(m, (size_t)vi.producer, &oi) != RF_OK) {
			return RF_ERR_INVAL;
		}
		x->src = PROTO_REVEAL_TRACE;
		x->leaf = g->n_inputs + (uint32_t)vi.producer;
		x->n_tensors = (uint8_t)oi.n_outputs;
		for (size_t j = 0; j < oi.n_outputs; j++) {
			if (oi.outputs[j] == value) {
				x->output = (uint8_t)j;
			}
		}
		return RF_OK;
	}
	}
	return RF_ERR_INVAL;
}

/* Checks one revealed input against where it must come from. */
static bool
check_input(const struct bisect_game *g, const struct proto_digest *model_id,
    uint32_t model_leaves, const struct expected_input *x,
    const struct proto_reveal_input *in, char *why, size_t why_len,
    size_t idx)
{
	if (in->src != x->src) {
		snprintf(why, why_len, "input %zu has source %u, the graph says %u",
		    idx, in->src, x->src);
		return false;
	}
	if (x->src == PROTO_REVEAL_ABSENT) {
		return true;
	}
	if (in->leaf != x->leaf || in->output != x->output ||
	    in->n_tensors != x->n_tensors) {
		snprintf(why, why_len, "input %zu reveals leaf %u output %u of "
		    "%u tensors, the graph says leaf %u output %u of %u", idx,
		    in->leaf, in->output, in->n_tensors, x->leaf, x->output,
		    x->n_tensors);
		return false;
	}
	const struct tensor *ptrs[PROTO_MAX_ENTRY_TENSORS];
	for (size_t i = 0; i < in->n_tensors; i++) {
		ptrs[i] = &in->tensors[i];
	}
	struct proto_digest leaf;
	bool ok;
	if (x->src == PROTO_REVEAL_WEIGHT) {
		/* A weight's leaf in model_id is over its chunks. */
		ok = proto_chunked_leaf(g->suite, &in->tensors[0], &leaf) ==
		    RF_OK &&
		    proto_merkle_inclusion_verify(g->suite, &leaf, in->leaf,
		    model_leaves, in->proof, in->proof_len, model_id) == RF_OK;
	} else {
		proto_tensor_leaf(g->suite, ptrs, in->n_tensors, &leaf);
		if (in->leaf < g->n_inputs) {
			/* A job input: checked against the job itself. */
			ok = proto_digest_equal(g->suite, &leaf,
			    &g->input_leaves[in->leaf]);
		} else {
			ok = in->leaf < g->lo &&
			    proto_merkle_inclusion_verify(g->suite, &leaf,
			    in->leaf, g->lo, in->proof, in->proof_len,
			    &g->lo_root) == RF_OK;
		}
	}
	if (!ok) {
		snprintf(why, why_len, "input %zu (%s leaf %u) does not match "
		    "its proof", idx, x->src == PROTO_REVEAL_WEIGHT ? "weight" :
		    "trace", in->leaf);
	}
	return ok;
}

/* Whether a revealed frontier is the agreed prefix's: one root per set
 * bit of lo, folding to lo_root. */
static bool
frontier_ok(const struct bisect_game *g, const struct proto_digest *frontier,
    size_t len)
{
	struct proto_digest fr;
	if (len != (size_t)__builtin_popcountll(g->lo)) {
		return false;
	}
	proto_merkle_frontier_root(g->suite, frontier, len, &fr);
	return proto_digest_equal(g->suite, &fr, &g->lo_root);
}

/* The one step's verdict: fold the recomputed leaf onto the agreed
 * prefix; the side whose root of size lo + 1 matches wins. */
static void
decide_leaf(struct bisect_game *g, const struct proto_digest *frontier,
    size_t len, const struct proto_digest *leaf)
{
	struct proto_digest root;
	proto_merkle_frontier_append(g->suite, frontier, len, leaf, &root);
	bool exec_ok = proto_digest_equal(g->suite, &root,
	    &g->hi_root[BISECT_EXECUTOR]);
	bool chal_ok = proto_digest_equal(g->suite, &root,
	    &g->hi_root[BISECT_CHALLENGER]);
	finish(g, exec_ok ? BISECT_CHALLENGER : BISECT_EXECUTOR,
	    PROTO_VERDICT_RECOMPUTED, "operator %u recomputed: the %s's output "
	    "is right%s", g->op, exec_ok ? "executor" : "challenger",
	    exec_ok || chal_ok ? "" : " (neither side's was)");
	g->challenger_right = chal_ok;
}

enum bisect_result
bisect_reveal(struct bisect_game *g, const struct engine_model *model,
    const struct proto_digest *model_id, uint32_t model_leaves,
    const struct proto_reveal *r, uint64_t now_ms, struct rf_errinfo *ei)
{
	if (g->phase != BISECT_PHASE_REVEAL || r->op != g->op) {
		rf_errf(ei, RF_ERR_INVAL, "reveal of operator %u out of turn",
		    r->op);
		return BISECT_IGNORED;
	}
	if (now_ms > bisect_deadline(g, BISECT_EXECUTOR)) {
		finish(g, BISECT_EXECUTOR, PROTO_VERDICT_TIMEOUT, "the executor "
		    "revealed after its clock ran out");
		rf_errf(ei, RF_ERR_TIMEOUT, "%s", g->why);
		return BISECT_LOST;
	}
	struct engine_op_info oi;
	char why[160] = "";
	if (engine_model_op(model, g->op, &oi) != RF_OK ||
	    g->lo != g->n_inputs + (uint64_t)g->op) {
		snprintf(why, sizeof(why), "operator %u is not in the model",
		    g->op);
	} else if (r->n_inputs != oi.n_inputs) {
		snprintf(why, sizeof(why), "%u inputs revealed, operator %u "
		    "takes %zu", r->n_inputs, g->op, oi.n_inputs);
	}
	for (size_t i = 0; why[0] == '\0' && i < oi.n_inputs; i++) {
		struct expected_input x;
		if (expect_input(g, model, oi.inputs[i], &x) != RF_OK) {
			snprintf(why, sizeof(why), "the graph is inconsistent at "
			    "input %zu", i);
		} else {
			check_input(g, model_id, model_leaves, &x, &r->inputs[i],
			    why, sizeof(why), i);
		}
	}
	if (why[0] == '\0' && !frontier_ok(g, r->frontier, r->frontier_len)) {
		snprintf(why, sizeof(why), "the frontier is not the agreed "
		    "prefix's");
	}
	if (why[0] != '\0') {
		finish(g, BISECT_EXECUTOR, PROTO_VERDICT_BAD_PROOF,
		    "bad reveal of operator %u: %s", g->op, why);
		rf_errf(ei, RF_ERR_CRYPTO, "%s", g->why);
		return BISECT_LOST;
	}

	/* Recompute the one operator from the proven inputs. */
	const struct tensor *args[ENGINE_MAX_OP_INPUTS];
	for (size_t i = 0; i < oi.n_inputs; i++) {
		const struct proto_reveal_input *in = &r->inputs[i];
		args[i] = in->src == PROTO_REVEAL_ABSENT ? NULL :
		    &in->tensors[in->output];
	}
	struct tensor outs[ENGINE_MAX_OP_OUTPUTS];
	struct rf_errinfo oei = { "" };
	int err = engine_op_eval(model, g->op, args, outs, ENGINE_KERNELS_FAST,
	    &oei);
	if (err != RF_OK) {
		/* The agreed inputs do not even evaluate: no honest trace
		 * could have a leaf here. */
		finish(g, BISECT_EXECUTOR, PROTO_VERDICT_RECOMPUTED, "operator %u "
		    "fails on the agreed inputs: %s", g->op, oei.msg);
		rf_errf(ei, err, "%s", g->why);
		return BISECT_ACCEPTED;
	}
	const struct tensor *optrs[ENGINE_MAX_OP_OUTPUTS];
	for (size_t i = 0; i < oi.n_outputs; i++) {
		optrs[i] = &outs[i];
	}
	struct proto_digest leaf;
	proto_tensor_leaf(g->suite, optrs, oi.n_outputs, &leaf);
	for (size_t i = 0; i < oi.n_outputs; i++) {
		engine_tensor_fini(&outs[i]);
	}
	decide_leaf(g, r->frontier, r->frontier_len, &leaf);
	return BISECT_ACCEPTED;
}

enum bisect_result
bisect_reveal_leaf(struct bisect_game *g, uint32_t op,
    const struct proto_digest *frontier, size_t frontier_len,
    const struct proto_digest *leaf, uint64_t now_ms, struct rf_errinfo *ei)
{
	if (g->phase != BISECT_PHASE_REVEAL || op != g->op) {
		rf_errf(ei, RF_ERR_INVAL, "reveal of operator %u out of turn", op);
		return BISECT_IGNORED;
	}
	if (now_ms > bisect_deadline(g, BISECT_EXECUTOR)) {
		finish(g, BISECT_EXECUTOR, PROTO_VERDICT_TIMEOUT, "the executor "
		    "revealed after its clock ran out");
		rf_errf(ei, RF_ERR_TIMEOUT, "%s", g->why);
		return BISECT_LOST;
	}
	if (!frontier_ok(g, frontier, frontier_len)) {
		finish(g, BISECT_EXECUTOR, PROTO_VERDICT_BAD_PROOF,
		    "bad reveal of operator %u: the frontier is not the agreed "
		    "prefix's", g->op);
		rf_errf(ei, RF_ERR_CRYPTO, "%s", g->why);
		return BISECT_LOST;
	}
	decide_leaf(g, frontier, frontier_len, leaf);
	return BISECT_ACCEPTED;
}

/* ------------------------------------------------------------------ */
/* The honest side's answers                                            */
/* ------------------------------------------------------------------ */

int
bisect_answer_build(enum proto_hash suite, const struct proto_digest *leaves,
    size_t n, const struct proto_bisect_query *q,
    struct proto_bisect_answer *out)
{
	if (q->n_sizes > BISECT_MAX_SIZES) {
		return RF_ERR_RANGE;
	}
	memset(out, 0, sizeof(*out));
	out->dispute_id = q->dispute_id;
	out->round = q->round;
	out->n_roots = q->n_sizes;
	for (size_t i = 0; i < q->n_sizes; i++) {
		struct proto_prefix_root *pr = &out->roots[i];
		uint64_t m = q->sizes[i];
		struct proto_digest path[MERKLE_MAX_PROOF];
		size_t plen;
		int err = RF_ERR_RANGE;
		if (m > 0 && m <= n) {
			pr->size = m;
			proto_merkle_root(suite, leaves, (size_t)m, &pr->root);
			err = proto_merkle_consistency_proof(suite, leaves, n,
			    (size_t)m, path, &plen);
		}
		if (err == RF_OK) {
			err = proto_proof_dup(path, plen, &pr->proof);
		}
		if (err != RF_OK) {
			proto_bisect_answer_free(out);
			return err;
		}
		pr->proof_len = (uint8_t)plen;
	}
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* The one step on a chunked trace                                      */
/* ------------------------------------------------------------------ */

/* Where operand value v of the disputed operator is committed. */
struct operand_src {
	enum proto_reveal_src src; /* TRACE or WEIGHT; ABSENT */
	bool job_input;
	size_t index;  /* job input index, weight leaf, or the entry */
	size_t n_chunks; /* chunks it is committed in (1: one leaf) */
	uint8_t n_tensors, output; /* a trace entry of one leaf */
};

static bool
operand_src(const struct bisect_game *g, const struct engine_model *m,
    const struct proto_trace_layout *l, int v, struct operand_src *o)
{
	memset(o, 0, sizeof(*o));
	if (v == ENGINE_NO_VALUE) {
		o->src = PROTO_REVEAL_ABSENT;
		return true;
	}
	struct engine_value_info vi;
	if (engine_model_value(m, v, &vi) != RF_OK ||
	    (size_t)v >= l->n_values) {
		return false;
	}
	const struct engine_shape *s = &l->shapes[v];
	switch (vi.kind) {
	case ENGINE_VALUE_WEIGHT:
		o->src = PROTO_REVEAL_WEIGHT;
		o->n_chunks = engine_chunk_count(s->dtype, s->rank, s->dims);
		o->n_tensors = 1;
		return proto_model_weight_leaf(m, v, &o->index) == RF_OK;
	case ENGINE_VALUE_INPUT:
		o->src = PROTO_REVEAL_TRACE;
		o->job_input = true;
		o->n_chunks = 1;
		o->n_tensors = 1;
		for (size_t i = 0; i < engine_model_input_count(m); i++) {
			if (engine_model_input(m, i) == v) {
				o->index = i;
				return i < g->n_inputs;
			}
		}
		return false;
	case ENGINE_VALUE_OP: {
		struct engine_op_info po;
		if (engine_model_op(m, (size_t)vi.producer, &po) != RF_OK) {
			return false;
		}
		o->src = PROTO_REVEAL_TRACE;
		o->index = g->n_inputs + (size_t)vi.producer;
		o->n_chunks = l->count[o->index];
		o->n_tensors = o->n_chunks > 1 ? 1 : (uint8_t)po.n_outputs;
		for (size_t j = 0; j < po.n_outputs; j++) {
			if (po.outputs[j] == v) {
				o->output = o->n_chunks > 1 ? 0 : (uint8_t)j;
			}
		}
		return true;
	}
	}
	return false;
}

static bool
shape_is(const struct tensor *t, const struct engine_shape *s)
{
	return t->dtype == s->dtype && t->rank == s->rank &&
	    memcmp(t->dims, s->dims, sizeof(int64_t) * (size_t)s->rank) == 0;
}

/* Checks item it against where it must come from; why on failure. */
static bool
check_item(const struct bisect_game *g, const struct proto_trace_layout *l,
    const struct proto_digest *model_id, uint32_t model_leaves,
    const struct operand_src *o, const struct engine_shape *s,
    const struct bisect_chunk_item *it, char *why, size_t why_len)
{
	if (it->chunk >= o->n_chunks || it->n_tensors != o->n_tensors ||
	    it->output != o->output) {
		snprintf(why, why_len, "operand %u: chunk %u of %zu, %u tensors "
		    "(output %u); the graph says %u (output %u)", it->operand,
		    it->chunk, o->n_chunks, it->n_tensors, it->output,
		    o->n_tensors, o->output);
		return false;
	}
	const struct tensor *t = &it->tensors[it->output];
	struct tensor shape;
	memset(&shape, 0, sizeof(shape));
	shape.dtype = s->dtype;
	shape.rank = s->rank;
	memcpy(shape.dims, s->dims, sizeof(shape.dims));
	bool ok;
	struct proto_digest leaf;
	if (o->n_chunks == 1 && !shape_is(t, s)) {
		ok = false;
	} else if (o->src == PROTO_REVEAL_WEIGHT) {
		ok = proto_model_chunk_verify(g->suite, model_id, model_leaves,
		    o->index, &shape, it->chunk, t, it->proof, it->proof_len) ==
		    RF_OK;
	} else if (o->job_input) {
		proto_tensor_leaf(g->suite, &t, 1, &leaf);
		ok = proto_digest_equal(g->suite, &leaf,
		    &g->input_leaves[o->index]);
	} else {
		size_t at = l->first[o->index] + it->chunk;
		if (o->n_chunks > 1) {
			ok = proto_chunk_leaf(g->suite, &shape, it->chunk, t, &leaf) ==
			    RF_OK;
		} else {
			const struct tensor *ptrs[PROTO_MAX_ENTRY_TENSORS];
			for (size_t i = 0; i < it->n_tensors; i++) {
				ptrs[i] = &it->tensors[i];
			}
			proto_tensor_leaf(g->suite, ptrs, it->n_tensors, &leaf);
			ok = true;
		}
		ok = ok && at < g->lo && proto_merkle_inclusion_verify(g->suite,
		    &leaf, at, g->lo, it->proof, it->proof_len, &g->lo_root) ==
		    RF_OK;
	}
	if (!ok) {
		snprintf(why, why_len, "operand %u chunk %u does not match its "
		    "proof", it->operand, it->chunk);
	}
	return ok;
}

enum bisect_result
bisect_reveal_chunk(struct bisect_game *g, const struct engine_model *model,
    const struct proto_trace_layout *l, const struct proto_digest *model_id,
    uint32_t model_leaves, const struct bisect_chunk_reveal *r,
    uint64_t now_ms, struct rf_errinfo *ei)
{
	if (g->phase != BISECT_PHASE_REVEAL || r->leaf != g->lo) {
		rf_errf(ei, RF_ERR_INVAL, "reveal of leaf %llu out of turn",
		    (unsigned long long)r->leaf);
		return BISECT_IGNORED;
	}
	if (now_ms > bisect_deadline(g, BISECT_EXECUTOR)) {
		finish(g, BISECT_EXECUTOR, PROTO_VERDICT_TIMEOUT, "the executor "
		    "revealed after its clock ran out");
		rf_errf(ei, RF_ERR_TIMEOUT, "%s", g->why);
		return BISECT_LOST;
	}
	char why[160] = "";
	size_t entry = 0, chunk = 0, op = 0;
	struct engine_op_info oi;
	memset(&oi, 0, sizeof(oi));
	if (g->n != l->n_leaves || l->n_entries < g->n_inputs) {
		snprintf(why, sizeof(why), "the trace has %llu leaves, the "
		    "graph %zu", (unsigned long long)g->n, l->n_leaves);
	} else if (proto_trace_layout_find(l, g->lo, &entry, &chunk) != RF_OK ||
	    entry < g->n_inputs ||
	    engine_model_op(model, entry - g->n_inputs, &oi) != RF_OK) {
		snprintf(why, sizeof(why), "leaf %llu is no operator's",
		    (unsigned long long)g->lo);
	} else {
		op = entry - g->n_inputs;
	}
	struct operand_src os[ENGINE_MAX_OP_INPUTS];
	struct engine_chunk_src src[ENGINE_MAX_OP_INPUTS];
	const struct tensor **ptr[ENGINE_MAX_OP_INPUTS] = { NULL };
	bool *used[ENGINE_MAX_OP_INPUTS] = { NULL };
	memset(src, 0, sizeof(src));
	for (size_t i = 0; why[0] == '\0' && i < oi.n_inputs; i++) {
		if (!operand_src(g, model, l, oi.inputs[i], &os[i])) {
			snprintf(why, sizeof(why), "the graph is inconsistent at "
			    "input %zu", i);
			break;
		}
		if (os[i].src == PROTO_REVEAL_ABSENT) {
			continue;
		}
		const struct engine_shape *s = &l->shapes[oi.inputs[i]];
		src[i].dtype = s->dtype;
		src[i].rank = s->rank;
		memcpy(src[i].dims, s->dims, sizeof(src[i].dims));
		src[i].n_chunks = os[i].n_chunks;
		src[i].one = os[i].n_chunks == 1;
		ptr[i] = calloc(os[i].n_chunks, sizeof(*ptr[i]));
		used[i] = calloc(os[i].n_chunks, 1);
		if (ptr[i] == NULL || used[i] == NULL) {
			snprintf(why, sizeof(why), "out of memory");
			break;
		}
		src[i].chunks = ptr[i];
		src[i].used = used[i];
	}
	for (size_t k = 0; why[0] == '\0' && k < r->n_items; k++) {
		const struct bisect_chunk_item *it = &r->items[k];
		if (it->operand >= oi.n_inputs ||
		    os[it->operand].src == PROTO_REVEAL_ABSENT) {
			snprintf(why, sizeof(why), "item %zu names operand %u", k,
			    it->operand);
		} else if (it->chunk < os[it->operand].n_chunks &&
		    ptr[it->operand][it->chunk] != NULL) {
			snprintf(why, sizeof(why), "operand %u chunk %u revealed "
			    "twice", it->operand, it->chunk);
		} else if (check_item(g, l, model_id, model_leaves, &os[it->operand],
		    &l->shapes[oi.inputs[it->operand]], it, why, sizeof(why))) {
			ptr[it->operand][it->chunk] = &it->tensors[it->output];
		}
	}
	if (why[0] == '\0' && !frontier_ok(g, r->frontier, r->frontier_len)) {
		snprintf(why, sizeof(why), "the frontier is not the agreed "
		    "prefix's");
	}
	/* Recompute the chunk (or the whole entry of one leaf). */
	struct proto_digest leaf;
	struct rf_errinfo oei = { "" };
	int err = RF_OK;
	bool missing = false;
	if (why[0] == '\0') {
		const struct engine_shape *os0 = &l->shapes[oi.outputs[0]];
		if (l->count[entry] == 1 && engine_chunk_tiled(model, op)) {
			/* A small output: the operator's chunk rule still reads
			 * only what it needs of large inputs. */
			struct tensor whole;
			err = engine_chunk_step(model, op, os0, 0, src, &whole, &oei);
			if (err == RF_OK) {
				const struct tensor *wp = &whole;
				proto_tensor_leaf(g->suite, &wp, 1, &leaf);
				engine_tensor_fini(&whole);
			}
		} else if (l->count[entry] > 1) {
			struct tensor tile, shape;
			err = engine_chunk_step(model, op, os0, chunk, src, &tile,
			    &oei);
			if (err == RF_OK) {
				memset(&shape, 0, sizeof(shape));
				shape.dtype = os0->dtype;
				shape.rank = os0->rank;
				memcpy(shape.dims, os0->dims, sizeof(shape.dims));
				err = proto_chunk_leaf(g->suite, &shape, chunk, &tile,
				    &leaf);
				engine_tensor_fini(&tile);
			}
		} else {
			struct tensor dense[ENGINE_MAX_OP_INPUTS];
			const struct tensor *args[ENGINE_MAX_OP_INPUTS];
			memset(dense, 0, sizeof(dense));
			for (size_t i = 0; err == RF_OK && i < oi.n_inputs; i++) {
				args[i] = NULL;
				if (os[i].src != PROTO_REVEAL_ABSENT) {
					err = engine_chunk_dense(&src[i], &dense[i]);
					args[i] = &dense[i];
				}
			}
			if (err != RF_OK) {
				rf_errf(&oei, err, "an input chunk was not revealed");
			}
			struct tensor outs[ENGINE_MAX_OP_OUTPUTS];
			if (err == RF_OK) {
				err = engine_op_eval(model, op, args, outs,
				    ENGINE_KERNELS_FAST, &oei);
			}
			if (err == RF_OK) {
				const struct tensor *optrs[ENGINE_MAX_OP_OUTPUTS];
				for (size_t j = 0; j < oi.n_outputs; j++) {
					optrs[j] = &outs[j];
				}
				proto_tensor_leaf(g->suite, optrs, oi.n_outputs, &leaf);
				for (size_t j = 0; j < oi.n_outputs; j++) {
					engine_tensor_fini(&outs[j]);
				}
			}
			for (size_t i = 0; i < oi.n_inputs; i++) {
				engine_tensor_fini(&dense[i]);
			}
		}
		missing = err == RF_ERR_NOTFOUND;
		if (missing) {
			snprintf(why, sizeof(why), "a chunk the step needs is "
			    "missing: %.100s", oei.msg);
		}
		/* Every item revealed must have been read. */
		for (size_t k = 0; !missing && err == RF_OK && k < r->n_items;
		    k++) {
			const struct bisect_chunk_item *it = &r->items[k];
			if (!used[it->operand][it->chunk]) {
				snprintf(why, sizeof(why), "operand %u chunk %u is "
				    "not read by leaf %llu", it->operand, it->chunk,
				    (unsigned long long)g->lo);
				break;
			}
		}
	}
	for (size_t i = 0; i < ENGINE_MAX_OP_INPUTS; i++) {
		free(ptr[i]);
		free(used[i]);
	}
	if (why[0] != '\0') {
		finish(g, BISECT_EXECUTOR, PROTO_VERDICT_BAD_PROOF,
		    "bad reveal of leaf %llu: %s", (unsigned long long)g->lo, why);
		rf_errf(ei, RF_ERR_CRYPTO, "%s", g->why);
		return BISECT_LOST;
	}
	if (err != RF_OK) {
		finish(g, BISECT_EXECUTOR, PROTO_VERDICT_RECOMPUTED, "operator %zu "
		    "fails on the agreed inputs: %s", op, oei.msg);
		rf_errf(ei, err, "%s", g->why);
		return BISECT_ACCEPTED;
	}
	decide_leaf(g, r->frontier, r->frontier_len, &leaf);
	return BISECT_ACCEPTED;
}
