/*
 * engine/run.c - runs a model: checks the job's inputs, evaluates the
 * operators in their stored order, reports each trace entry to the hook,
 * and frees every intermediate after its last reader so memory stays
 * bounded by the widest point of the graph.
 */
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "engine/model_int.h"

void
engine_run_opts_init(struct engine_run_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->kernels = ENGINE_KERNELS_FAST;
	o->stop_after = SIZE_MAX;
	o->keep_packed = true;
}

size_t
engine_trace_length(const struct engine_model *m)
{
	return m->n_inputs + m->n_ops;
}

static int
check_input(const struct engine_model *m, size_t i, const struct tensor *t,
    struct rf_errinfo *ei)
{
	const struct model_value *v = &m->values[m->inputs[i]];
	if (t->dtype != v->dtype) {
		return rf_errf(ei, RF_ERR_DTYPE, "input '%s' must be %s, got %s",
		    v->name, engine_tensor_dtype_name(v->dtype),
		    engine_tensor_dtype_name(t->dtype));
	}
	if (t->rank != v->rank) {
		return rf_errf(ei, RF_ERR_SHAPE,
		    "input '%s' must have rank %d, got %d", v->name, v->rank,
		    t->rank);
	}
	for (int d = 0; d < v->rank; d++) {
		if (v->dims[d] >= 0 && v->dims[d] != t->dims[d]) {
			return rf_errf(ei, RF_ERR_SHAPE,
			    "input '%s' dimension %d must be %lld, got %lld",
			    v->name, d, (long long)v->dims[d],
			    (long long)t->dims[d]);
		}
	}
	size_t count;
	int err = engine_tensor_shape_check(t->rank, t->dims, &count, ei);
	if (err != RF_OK) {
		return rf_errctx(ei, err, "input '%s': ", v->name);
	}
	if (count != t->count || (count > 0 && t->data == NULL)) {
		return rf_errf(ei, RF_ERR_INVAL,
		    "input '%s' has an inconsistent element count", v->name);
	}
	return RF_OK;
}

/*
 * IEEE 754 leaves the payload of a NaN made by an invalid operation to the
 * hardware (x86 gives 0xffc00000, ARM 0x7fc00000). NaN payloads cannot
 * change any non-NaN result, so rewriting every NaN an operator outputs to
 * one canonical quiet NaN makes outputs and traces identical everywhere.
 */
#define CANONICAL_NAN 0x7fc00000u

/* Whether any of the n floats at p is a NaN (read-only: most outputs have
 * none, and then the pass writes nothing). The bits are compared as
 * integers, which is exact and order-free. */
static bool
any_nan(const unsigned char *p, size_t n)
{
	size_t i = 0;
#if defined(__SSE2__)
	const __m128i absmask = _mm_set1_epi32(0x7fffffff);
	const __m128i inf = _mm_set1_epi32(0x7f800000);
	__m128i acc = _mm_setzero_si128();
	for (; i + 16 <= n; i += 16) {
		/* |bits| > inf as signed ints: both are non-negative. */
		for (size_t q = 0; q < 16; q += 4) {
			__m128i v = _mm_loadu_si128(
			    (const __m128i *)(p + 4 * (i + q)));
			acc = _mm_or_si128(acc, _mm_cmpgt_epi32(
			    _mm_and_si128(v, absmask), inf));
		}
	}
	if (_mm_movemask_epi8(acc) != 0) {
		return true;
	}
#endif
	for (; i < n; i++) {
		uint32_t b;
		memcpy(&b, p + 4 * i, 4); /* bits of a float, no aliasing */
		if ((b & 0x7fffffffu) > 0x7f800000u) {
			return true;
		}
	}
	return false;
}

void
engine_canonicalize_nans(struct tensor *t)
{
	if (t->dtype != TENSOR_F32 || !any_nan(t->data, t->count)) {
		return;
	}
	unsigned char *p = t->data;
	for (size_t i = 0; i < t->count; i++) {
		uint32_t b;
		memcpy(&b, p + 4 * i, 4);
		if ((b & 0x7fffffffu) > 0x7f800000u) {
			b = CANONICAL_NAN;
			memcpy(p + 4 * i, &b, 4);
		}
	}
}

/*
 * op_call.packed_b inside a run: input i of the op, when it is the model's
 * own weight (the very buffer, not a caller's copy), packed once and kept
 * with the model, so a Gemm or MatMul on a constant weight does not pack
 * it again on every call. A weight used with another layout than the
 * first gets NULL (packed per call as before).
 */
struct run_op {
	const struct engine_model *m;
	size_t k; /* the op */
};

static const struct engine_packed_b *
run_packed_b(const struct op_call *c, size_t i, bool trans_b, size_t k,
    size_t n, size_t ldb)
{
	const struct run_op *ro = c->run_ctx;
	const struct model_op *o = &ro->m->ops[ro->k];
	if (i >= o->n_inputs || o->inputs[i] == ENGINE_NO_VALUE) {
		return NULL;
	}
	struct engine_model *m = (struct engine_model *)ro->m; /* the memo */
	struct model_value *v = &m->values[o->inputs[i]];
	if (v->kind != ENGINE_VALUE_WEIGHT || v->weight.data == NULL ||
	    c->in[i]->data != v->weight.data) {
		return NULL;
	}
	const struct engine_packed_b *pb = NULL;
	pthread_mutex_lock(&m->pack_mu);
	if (v->packed == NULL) {
		struct engine_packed_b *fresh;
		if (engine_sgemm_pack_b(trans_b, k, n, v->weight.data, ldb,
		        &fresh) == RF_OK) {
			v->packed = fresh;
		}
	}
	if (engine_packed_b_fits(v->packed, trans_b, k, n, ldb)) {
		pb = v->packed;
	}
	pthread_mutex_unlock(&m->pack_mu);
	return pb;
}

/* Evaluates op k given its input tensors; outputs are cleared first. */
static int
eval_op(const struct engine_model *m, size_t k,
    const struct tensor *const *in, struct tensor *out,
    enum engine_kernels kernels, bool keep_packed, struct rf_errinfo *ei)
{
	const struct model_op *o = &m->ops[k];
	const struct op_def *def = engine_op_def_get(o->op);
	for (size_t i = 0; i < def->min_in; i++) {
		if (in[i] == NULL) {
			return rf_errf(ei, RF_ERR_INVAL,
			    "op %zu (%s '%s'): input %zu is missing", k,
			    def->name, o->name, i);
		}
	}
	memset(out, 0, o->n_outputs * sizeof(*out));
	struct run_op rop = { m, k };
	struct op_call call = {
		.params = &o->params,
		.in = in,
		.n_in = o->n_inputs,
		.out = out,
		.n_out = o->n_outputs,
		.kernels = kernels,
		.ei = ei,
		.packed_b = keep_packed ? run_packed_b : NULL,
		.run_ctx = &rop,
	};
	if (ei != NULL) {
		ei->msg[0] = '\0';
	}
	int err = def->eval(&call);
	if (err != RF_OK) {
		for (size_t i = 0; i < o->n_outputs; i++) {
			engine_tensor_fini(&out[i]);
		}
		return rf_errctx(ei, err, "op %zu (%s '%s'): ", k, def->name,
		    o->name);
	}
	for (size_t i = 0; i < o->n_outputs; i++) {
		engine_canonicalize_nans(&out[i]);
	}
	return RF_OK;
}

int
engine_op_eval(const struct engine_model *m, size_t op,
    const struct tensor *const *inputs, struct tensor *outputs,
    enum engine_kernels kernels, struct rf_errinfo *ei)
{
	if (op >= m->n_ops) {
		return rf_errf(ei, RF_ERR_RANGE, "no operator %zu (model has %zu)",
		    op, m->n_ops);
	}
	return eval_op(m, op, inputs, outputs, kernels, false, ei);
}

static int
call_hook(const struct engine_run_opts *o, size_t index,
    const struct tensor *const *t, size_t n, struct rf_errinfo *ei)
{
	if (o->trace == NULL) {
		return RF_OK;
	}
	if (o->trace(o->trace_ctx, index, t, n) != 0) {
		return rf_errf(ei, RF_ERR_ABORTED,
		    "trace hook stopped the run at entry %zu", index);
	}
	return RF_OK;
}

int
engine_run(const struct engine_model *m, const struct tensor *inputs,
    size_t n_inputs, struct tensor *outputs, const struct engine_run_opts *o,
    struct rf_errinfo *ei)
{
	struct engine_run_opts defaults;
	if (o == NULL) {
		engine_run_opts_init(&defaults);
		o = &defaults;
	}
	if (m->graph_only) {
		return rf_errf(ei, RF_ERR_INVAL,
		    "a graph without weights cannot run whole");
	}
	if (n_inputs != m->n_inputs) {
		return rf_errf(ei, RF_ERR_INVAL,
		    "model takes %zu inputs, got %zu", m->n_inputs, n_inputs);
	}
	for (size_t i = 0; i < n_inputs; i++) {
		int err = check_input(m, i, &inputs[i], ei);
		if (err != RF_OK) {
			return err;
		}
	}

	/* One slot per value: inputs and weights are borrowed views,
	 * operator outputs are owned until their last reader has run. */
	struct tensor *slot = calloc(m->n_values ? m->n_values : 1,
	    sizeof(*slot));
	if (slot == NULL) {
		return RF_ERR_NOMEM;
	}
	const struct tensor **in = NULL;
	size_t max_in = 1;
	for (size_t k = 0; k < m->n_ops; k++) {
		if (m->ops[k].n_inputs > max_in) {
			max_in = m->ops[k].n_inputs;
		}
	}
	in = calloc(max_in, sizeof(*in));
	if (in == NULL) {
		free(slot);
		return RF_ERR_NOMEM;
	}
	for (size_t v = 0; v < m->n_values; v++) {
		if (m->values[v].kind == ENGINE_VALUE_WEIGHT) {
			slot[v] = m->values[v].weight;
			slot[v].owned = false;
		}
	}

	int err = RF_OK;
	size_t entry = 0;
	bool stopped = false;
	struct op_bufpool pool = { { NULL }, { 0 }, 0 };
	struct op_bufpool *outer_pool = engine_op_bufpool_set(&pool);
	for (size_t i = 0; i < n_inputs && !stopped; i++, entry++) {
		slot[m->inputs[i]] = inputs[i];
		slot[m->inputs[i]].owned = false;
		const struct tensor *t = &inputs[i];
		err = call_hook(o, entry, &t, 1, ei);
		if (err != RF_OK) {
			goto done;
		}
		stopped = entry == o->stop_after;
	}
	for (size_t k = 0; k < m->n_ops && !stopped; k++, entry++) {
		const struct model_op *op = &m->ops[k];
		struct tensor out[ENGINE_MAX_OP_OUTPUTS];
		for (size_t i = 0; i < op->n_inputs; i++) {
			int v = op->inputs[i];
			in[i] = v == ENGINE_NO_VALUE ? NULL : &slot[v];
		}
		err = eval_op(m, k, in, out, o->kernels, o->keep_packed, ei);
		if (err != RF_OK) {
			goto done;
		}
		const struct tensor *produced[ENGINE_MAX_OP_OUTPUTS];
		for (size_t i = 0; i < op->n_outputs; i++) {
			slot[op->outputs[i]] = out[i];
			produced[i] = &slot[op->outputs[i]];
		}
		err = call_hook(o, entry, produced, op->n_outputs, ei);
		if (err != RF_OK) {
			goto done;
		}
		stopped = entry == o->stop_after;
		for (size_t i = 0; i < op->n_inputs; i++) {
			int v = op->inputs[i];
			if (v != ENGINE_NO_VALUE && m->values[v].last_use == (int)k &&
			    !m->values[v].is_output) {
				engine_op_tensor_release(&slot[v]);
			}
		}
		/* An output nobody reads is dead at once. */
		for (size_t i = 0; i < op->n_outputs; i++) {
			int v = op->outputs[i];
			if (m->values[v].last_use < 0 && !m->values[v].is_output) {
				engine_op_tensor_release(&slot[v]);
			}
		}
	}
	if (!stopped) {
		/* Hand the outputs over; a value listed as output twice is
		 * rejected by add_output, so each slot moves once. */
		for (size_t i = 0; i < m->n_outputs; i++) {
			outputs[i] = slot[m->outputs[i]];
			memset(&slot[m->outputs[i]], 0, sizeof(slot[0]));
		}
	}
done:
	engine_op_bufpool_set(outer_pool);
	engine_op_bufpool_drain(&pool);
	for (size_t v = 0; v < m->n_values; v++) {
		engine_tensor_fini(&slot[v]); /* borrowed views are not freed */
	}
	free(in);
	free(slot);
	return err;
}

/* ------------------------------------------------------------------ */
/* Random inputs                                                        */
/* ------------------------------------------------------------------ */

void
engine_rng_seed(struct engine_rng *r, uint64_t seed)
{
	r->state = seed;
}

uint64_t
engine_rng_next(struct engine_rng *r)
{
	/* splitmix64 (Steele, Lea, Flood 2014): tiny, well mixed. */
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

float
engine_rng_uniform(struct engine_rng *r, float lo, float hi)
{
	/* 24 random bits give every float in [0, 1) on a 2^-24 grid. */
	float u = (float)(engine_rng_next(r) >> 40) * 0x1p-24f;
	return lo + (hi - lo) * u;
}

/* Smallest Gather axis that value v indexes, or 0 if none is known. */
static int64_t
gather_bound(const struct engine_model *m, int v)
{
	int64_t best = 0;
	for (size_t k = 0; k < m->n_ops; k++) {
		const struct model_op *o = &m->ops[k];
		if (o->op != ENGINE_OP_GATHER || o->inputs[1] != v) {
			continue;
		}
		const struct model_value *data = &m->values[o->inputs[0]];
		if (data->kind == ENGINE_VALUE_OP) {
			continue;
		}
		struct op_attrs at = { o->attrs, o->n_attrs };
		const struct engine_attr *a = engine_op_attr_find(&at, "axis");
		int64_t axis = a != NULL ? a->v.ints[0] : 0;
		if (axis < 0) {
			axis += data->rank;
		}
		if (axis < 0 || axis >= data->rank || data->dims[axis] <= 0) {
			continue;
		}
		if (best == 0 || data->dims[axis] < best) {
			best = data->dims[axis];
		}
	}
	return best;
}

int
engine_inputs_random(const struct engine_model *m, uint64_t seed,
    struct tensor *inputs, struct rf_errinfo *ei)
{
	struct engine_rng rng;
	engine_rng_seed(&rng, seed);
	for (size_t i = 0; i < m->n_inputs; i++) {
		const struct model_value *v = &m->values[m->inputs[i]];
		int64_t dims[TENSOR_MAX_RANK];
		for (int d = 0; d < v->rank; d++) {
			dims[d] = v->dims[d] < 0 ? 1 : v->dims[d];
		}
		struct tensor t;
		int err = engine_tensor_init(&t, v->dtype, v->rank, dims);
		if (err != RF_OK) {
			for (size_t j = 0; j < i; j++) {
				engine_tensor_fini(&inputs[j]);
			}
			return rf_errf(ei, err, "input '%s': %s", v->name,
			    rf_strerror(err));
		}
		int64_t bound = gather_bound(m, m->inputs[i]);
		if (bound == 0) {
			bound = 128;
		}
		for (size_t e = 0; e < t.count; e++) {
			uint64_t r = engine_rng_next(&rng);
			int64_t n = (int64_t)(r % (uint64_t)bound);
			switch (t.dtype) {
			case TENSOR_F32:
				((float *)t.data)[e] = (float)(r >> 40) *
				    0x1p-23f - 1.0f;
				break;
			case TENSOR_I8:
				((int8_t *)t.data)[e] = (int8_t)(n > 127 ? 127 : n);
				break;
			case TENSOR_I32:
				((int32_t *)t.data)[e] = (int32_t)n;
				break;
			case TENSOR_I64:
				((int64_t *)t.data)[e] = n;
				break;
			}
		}
		inputs[i] = t;
	}
	return RF_OK;
}
