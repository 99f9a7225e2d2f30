/*
 * engine/check.c - a model's static check: can every operator run on what
 * the graph feeds it?
 *
 * Each operator's eval function already checks everything about its
 * inputs (dtypes, ranks, axes, windows, broadcastable shapes) before it
 * allocates its outputs. The check calls the eval functions on stand-in
 * tensors of the shapes the graph determines, with a probe set
 * (engine_int.h) that records each output's shape and stops the eval at
 * its last output, so no operator computes anything and the checks are
 * exactly the ones a run makes.
 *
 * Stand-ins are calloc'd: a large one costs address space, not memory,
 * because nothing reads it. Small f32 stand-ins hold 1.0 so checks that
 * look at a scalar (a quantization scale must be positive) see a value a
 * real model could hold. Where a shape depends on a dynamic input
 * dimension or on run-time data (a Reshape whose target is computed, or
 * a weight the graph-only decode has no bytes for) the value is unknown
 * and the operators reading it are left to run time.
 * engine_model_check_inputs makes the same check with concrete input
 * shapes in place of the declared ones, so a job's sizes for a dynamic
 * dimension can be checked before it runs.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/model_int.h"

/* Small enough that filling it is free. */
#define ONES_MAX 64
/* What one probe may allocate for real (the outputs before the last of a
 * multi-output operator, which its eval fills as it goes), and what all
 * the stand-ins and probes of one check may add up to: an eval may read
 * a stand-in before it allocates (Gather checks every index), so a
 * hostile graph of many wide operators must not make a referee touch
 * gigabytes at registration. Past the budget, operators are left to run
 * time. */
#define PROBE_CAP ((size_t)16 << 20)
#define PROBE_BUDGET ((size_t)2 << 30)

struct standin {
	struct tensor t;
	void *base;
};

static int
standin_make(const struct engine_shape *s, struct standin *out,
    size_t *budget)
{
	size_t count;
	if (engine_tensor_shape_check(s->rank, s->dims, &count, NULL) != RF_OK) {
		return RF_ERR_RANGE;
	}
	size_t bytes;
	if (!rf_size_mul(count, engine_tensor_dtype_size(s->dtype), &bytes) ||
	    !rf_size_add(bytes, 64, &bytes) || bytes > *budget) {
		return RF_ERR_RANGE;
	}
	*budget -= bytes;
	void *base = calloc(1, bytes);
	if (base == NULL) {
		return RF_ERR_NOMEM;
	}
	memset(out, 0, sizeof(*out));
	out->base = base;
	out->t.dtype = s->dtype;
	out->t.rank = s->rank;
	memcpy(out->t.dims, s->dims, sizeof(out->t.dims));
	out->t.count = count;
	out->t.data = (void *)(((uintptr_t)base + 63) & ~(uintptr_t)63);
	if (s->dtype == TENSOR_F32 && count <= ONES_MAX) {
		float *f = out->t.data;
		for (size_t i = 0; i < count; i++) {
			f[i] = 1.0f;
		}
	}
	return RF_OK;
}

static void
value_shape(const struct model_value *v, struct engine_shape *s)
{
	memset(s, 0, sizeof(*s));
	s->dtype = v->dtype;
	s->rank = v->rank;
	s->known = true;
	for (int d = 0; d < v->rank; d++) {
		s->dims[d] = v->dims[d];
		s->known = s->known && v->dims[d] >= 0;
	}
}

/* Probes op k: its outputs' shapes into sh, or an error naming it. */
static int
probe_op(const struct engine_model *m, size_t k, struct engine_shape *sh,
    size_t *budget, struct rf_errinfo *ei)
{
	const struct model_op *o = &m->ops[k];
	const struct op_def *def = engine_op_def_get(o->op);
	const struct tensor *in[ENGINE_MAX_OP_INPUTS];
	struct standin st[ENGINE_MAX_OP_INPUTS];
	size_t n_st = 0;
	bool known = o->n_outputs == 1 || *budget > 0;
	int err = RF_OK;
	for (size_t i = 0; i < o->n_inputs && known; i++) {
		int v = o->inputs[i];
		in[i] = NULL;
		if (v == ENGINE_NO_VALUE) {
			continue;
		}
		const struct model_value *mv = &m->values[v];
		bool real = mv->kind == ENGINE_VALUE_WEIGHT && !m->graph_only;
		/* A Reshape target is data: only a weight's bytes give it. */
		if (o->op == ENGINE_OP_RESHAPE && i == 1 && !real) {
			known = false;
			break;
		}
		if (real) {
			in[i] = &mv->weight;
			continue;
		}
		if (!sh[v].known) {
			known = false;
			break;
		}
		int e = standin_make(&sh[v], &st[n_st], budget);
		if (e == RF_ERR_NOMEM) {
			err = e; /* memory ran out: no verdict on this graph */
			known = false;
			break;
		}
		if (e != RF_OK) {
			known = false; /* too large to stand in for: run time */
			break;
		}
		in[i] = &st[n_st++].t;
	}
	for (size_t i = 0; known && i < def->min_in; i++) {
		if (in[i] == NULL) {
			err = rf_errf(ei, RF_ERR_INVAL, "op %zu (%s '%s'): input %zu "
			    "is missing", k, def->name, o->name, i);
		}
	}
	if (known && err == RF_OK) {
		struct tensor out[ENGINE_MAX_OP_OUTPUTS];
		struct op_probe p;
		memset(out, 0, sizeof(out));
		memset(&p, 0, sizeof(p));
		struct op_call call = {
			.params = &o->params,
			.in = in,
			.n_in = o->n_inputs,
			.out = out,
			.n_out = o->n_outputs,
			.kernels = ENGINE_KERNELS_REF,
			.ei = ei,
		};
		if (ei != NULL) {
			ei->msg[0] = '\0';
		}
		struct op_probe *old = engine_op_probe_set(&p);
		size_t old_cap = engine_alloc_cap_set(PROBE_CAP);
		err = def->eval(&call);
		bool capped = engine_alloc_capped();
		engine_alloc_cap_set(old_cap);
		engine_op_probe_set(old);
		for (size_t j = 0; j < o->n_outputs; j++) {
			engine_tensor_fini(&out[j]);
		}
		if (err == RF_ERR_ABORTED) {
			err = RF_OK;
			for (size_t j = 0; j < o->n_outputs; j++) {
				known = known && p.out[j].known;
			}
			/* What the outputs before the last cost for real. */
			for (size_t j = 0; known && j + 1 < o->n_outputs; j++) {
				size_t c = 1;
				for (int d = 0; d < p.out[j].rank; d++) {
					c *= (size_t)p.out[j].dims[d];
				}
				c *= engine_tensor_dtype_size(p.out[j].dtype);
				*budget = c < *budget ? *budget - c : 0;
			}
			/* QLinearMatMul requantizes its int32 product to int8
			 * after the probe stopped it. */
			if (o->op == ENGINE_OP_QLINEARMATMUL) {
				p.out[0].dtype = TENSOR_I8;
			}
			for (size_t j = 0; known && j < o->n_outputs; j++) {
				sh[o->outputs[j]] = p.out[j];
			}
		} else if (err == RF_ERR_NOMEM && capped) {
			err = RF_OK; /* over the probe's cap: run time */
			known = false;
		} else if (err == RF_OK) {
			known = false; /* an eval that allocates otherwise */
		} else {
			err = rf_errctx(ei, err, "op %zu (%s '%s'): ", k, def->name,
			    o->name);
		}
	}
	for (size_t i = 0; i < n_st; i++) {
		free(st[i].base);
	}
	if (!known) {
		for (size_t j = 0; j < o->n_outputs; j++) {
			sh[o->outputs[j]].known = false;
		}
	}
	return err;
}

/* Sets the inputs' shapes from in (n of them) over the declared ones: a
 * shape the declaration does not allow is refused, naming the input. */
static int
inputs_set(const struct engine_model *m, const struct engine_shape *in,
    size_t n, struct engine_shape *sh, struct rf_errinfo *ei)
{
	if (n != m->n_inputs) {
		return rf_errf(ei, RF_ERR_SHAPE, "the model takes %zu inputs, "
		    "not %zu", m->n_inputs, n);
	}
	for (size_t i = 0; i < n; i++) {
		const struct model_value *mv = &m->values[m->inputs[i]];
		bool ok = in[i].dtype == mv->dtype && in[i].rank == mv->rank;
		for (int d = 0; ok && d < mv->rank; d++) {
			ok = in[i].dims[d] >= 0 && (mv->dims[d] < 0 ||
			    in[i].dims[d] == mv->dims[d]);
		}
		if (!ok) {
			return rf_errf(ei, in[i].dtype != mv->dtype ? RF_ERR_DTYPE :
			    RF_ERR_SHAPE, "input %zu ('%s') has a dtype, rank or "
			    "size its declaration does not allow", i, mv->name);
		}
		struct engine_shape *s = &sh[m->inputs[i]];
		memset(s, 0, sizeof(*s));
		s->dtype = in[i].dtype;
		s->rank = in[i].rank;
		s->known = true;
		memcpy(s->dims, in[i].dims, (size_t)in[i].rank *
		    sizeof(s->dims[0]));
	}
	return RF_OK;
}

/* The check, on the declared input shapes or (in not NULL) on n given
 * ones: the same probes under the same budget. */
static int
check_run(const struct engine_model *m, const struct engine_shape *in,
    size_t n, struct engine_shape *shapes, size_t budget,
    struct rf_errinfo *ei)
{
	struct engine_shape *sh = calloc(m->n_values ? m->n_values : 1,
	    sizeof(*sh));
	if (sh == NULL) {
		return RF_ERR_NOMEM;
	}
	for (size_t v = 0; v < m->n_values; v++) {
		if (m->values[v].kind != ENGINE_VALUE_OP) {
			value_shape(&m->values[v], &sh[v]);
		}
	}
	int err = in != NULL ? inputs_set(m, in, n, sh, ei) : RF_OK;
	for (size_t k = 0; k < m->n_ops && err == RF_OK; k++) {
		err = probe_op(m, k, sh, &budget, ei);
	}
	if (err == RF_OK && shapes != NULL) {
		memcpy(shapes, sh, m->n_values * sizeof(*sh));
	}
	free(sh);
	return err;
}

int
engine_model_check(const struct engine_model *m, struct engine_shape *shapes,
    struct rf_errinfo *ei)
{
	return check_run(m, NULL, 0, shapes, PROBE_BUDGET, ei);
}

int
engine_model_check_inputs(const struct engine_model *m,
    const struct engine_shape *inputs, size_t n, struct engine_shape *shapes,
    struct rf_errinfo *ei)
{
	return check_run(m, inputs, n, shapes, PROBE_BUDGET, ei);
}

/* Stand-ins are calloc'd (pages the probes never touch cost nothing)
 * and freed after each operator, and probes stop before any work, so
 * only the sum is large: what a trace layout needs is every shape. */
#define SHAPES_BUDGET ((size_t)1 << 40)

int
engine_model_shapes(const struct engine_model *m,
    const struct engine_shape *inputs, size_t n, struct engine_shape *shapes,
    struct rf_errinfo *ei)
{
	return check_run(m, inputs, inputs != NULL ? n : 0, shapes,
	    SHAPES_BUDGET, ei);
}

int
engine_model_check_input_values(const struct engine_model *m,
    const struct tensor *inputs, size_t n, struct rf_errinfo *ei)
{
	size_t n_ops = engine_model_op_count(m);
	for (size_t k = 0; k < n_ops; k++) {
		struct engine_op_info oi;
		struct engine_value_info di;
		if (engine_model_op(m, k, &oi) != RF_OK ||
		    oi.op != ENGINE_OP_GATHER || oi.n_inputs < 2 ||
		    engine_model_value(m, oi.inputs[0], &di) != RF_OK ||
		    di.kind != ENGINE_VALUE_WEIGHT) {
			continue;
		}
		size_t p = n;
		for (size_t i = 0; i < n; i++) {
			if (engine_model_input(m, i) == oi.inputs[1]) {
				p = i;
			}
		}
		if (p == n) {
			continue;
		}
		int64_t axis = 0;
		for (size_t a = 0; a < oi.n_attrs; a++) {
			if (strcmp(oi.attrs[a].name, "axis") == 0) {
				axis = oi.attrs[a].v.ints[0];
			}
		}
		if (axis < 0) {
			axis += di.rank;
		}
		if (axis < 0 || axis >= di.rank) {
			continue; /* the operator's own check refuses it */
		}
		int64_t size = di.dims[axis];
		const struct tensor *t = &inputs[p];
		for (size_t e = 0; e < t->count; e++) {
			int64_t v;
			if (t->dtype == TENSOR_I64) {
				v = ((const int64_t *)t->data)[e];
			} else if (t->dtype == TENSOR_I32) {
				v = ((const int32_t *)t->data)[e];
			} else {
				break;
			}
			if (v < -size || v >= size) {
				return rf_errf(ei, RF_ERR_RANGE, "input %zu element "
				    "%zu is %lld, outside -%lld..%lld, the indices "
				    "op %zu (Gather '%s') can take", p, e,
				    (long long)v, (long long)size,
				    (long long)size - 1, k, oi.name);
			}
		}
	}
	return RF_OK;
}
