/*
 * engine/op_norm.c - Softmax, LayerNormalization and BatchNormalization.
 *
 * Canonical orders (docs/determinism.md): every sum here is accumulated in
 * double, sequentially in index order, and each result is rounded to float
 * once at the end. Maxima are taken left to right.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

/* Splits dims at axis into outer (before), n (at) and inner (after). */
static void
split_at(const struct tensor *x, int axis, size_t *outer, size_t *n,
    size_t *inner)
{
	size_t o = 1, in = 1;
	for (int d = 0; d < axis; d++) {
		o *= (size_t)x->dims[d];
	}
	for (int d = axis + 1; d < x->rank; d++) {
		in *= (size_t)x->dims[d];
	}
	*outer = o;
	*n = (size_t)x->dims[axis];
	*inner = in;
}

int
engine_op_softmax_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	static const char *const known[] = { "axis", NULL };
	int64_t axis;
	int err = engine_op_attrs_only(at, known, "Softmax", ei);
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "axis", -1, -TENSOR_MAX_RANK,
		    TENSOR_MAX_RANK - 1, &axis, ei);
	}
	if (err == RF_OK) {
		OP_PARAMS_PUT(p, axis);
	}
	return err;
}

/*
 * y_i = exp(x_i - max) / sum_j exp(x_j - max): max left to right, the
 * differences and exponentials in double (engine_det_exp), their sum in double
 * in index order, and one division rounded to float per element.
 */
struct softmax_lines {
	const float *xd;
	float *yd;
	size_t n, inner;
	_Atomic int err;
};

/* Lines [begin, end): line l is outer index l / inner, inner l % inner. */
static void
softmax_run(void *ctx, size_t begin, size_t end)
{
	struct softmax_lines *p = ctx;
	size_t n = p->n, inner = p->inner;
	double *e = malloc(n * sizeof(double));
	if (e == NULL) {
		atomic_store(&p->err, RF_ERR_NOMEM);
		return;
	}
	for (size_t l = begin; l < end; l++) {
		size_t o = l / inner, in = l % inner;
		const float *xs = p->xd + o * n * inner + in;
		float *ys = p->yd + o * n * inner + in;
		float m = xs[0];
		for (size_t i = 1; i < n; i++) {
			if (xs[i * inner] > m) {
				m = xs[i * inner];
			}
		}
		double sum = 0.0;
		for (size_t i = 0; i < n; i++) {
			e[i] = engine_det_exp((double)xs[i * inner] - (double)m);
			sum = sum + e[i];
		}
		for (size_t i = 0; i < n; i++) {
			ys[i * inner] = (float)(e[i] / sum);
		}
	}
	free(e);
}

int
engine_op_softmax_eval(const struct op_call *c)
{
	int64_t axis64;
	OP_PARAMS_GET(c->params, axis64);
	int err = engine_op_need_dtype(c, 0, TENSOR_F32);
	const struct tensor *x = c->in[0];
	int axis;
	if (err == RF_OK) {
		err = engine_op_axis(c, axis64, x->rank, &axis);
	}
	if (err == RF_OK) {
		err = engine_op_out_alloc(c, 0, TENSOR_F32, x->rank, x->dims);
	}
	if (err != RF_OK) {
		return err;
	}
	size_t outer, n, inner;
	split_at(x, axis, &outer, &n, &inner);
	if (x->count == 0) {
		return RF_OK;
	}
	/* Each (outer, inner) line is independent: threads take ranges of
	 * lines, each summing its own line in the one order. */
	struct softmax_lines sl = { x->data, c->out[0].data, n, inner, RF_OK };
	engine_par_range(outer * inner, 32 * n, 1, softmax_run, &sl);
	if (atomic_load(&sl.err) != RF_OK) {
		engine_tensor_fini(&c->out[0]);
		return RF_ERR_NOMEM;
	}
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* LayerNormalization                                                   */
/* ------------------------------------------------------------------ */

struct layernorm_params {
	int64_t axis;
	float epsilon;
};

int
engine_op_layernorm_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	static const char *const known[] = { "axis", "epsilon", "stash_type",
		NULL };
	struct layernorm_params lp;
	int64_t stash;
	int err = engine_op_attrs_only(at, known, "LayerNormalization", ei);
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "axis", -1, -TENSOR_MAX_RANK,
		    TENSOR_MAX_RANK - 1, &lp.axis, ei);
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_float(at, "epsilon", 1e-5f, &lp.epsilon, ei);
	}
	if (err == RF_OK) {
		/* We always accumulate in double, which is at least as wide as
		 * any stash type; only float (1) is a valid ONNX choice. */
		err = engine_op_attr_get_int(at, "stash_type", 1, 1, 1, &stash, ei);
	}
	if (err == RF_OK && !(lp.epsilon >= 0.0f)) {
		err = rf_errf(ei, RF_ERR_INVAL, "epsilon must be >= 0");
	}
	if (err == RF_OK) {
		OP_PARAMS_PUT(p, lp);
	}
	return err;
}

/* Scale and bias: one value, or exactly the normalized shape (leading 1s
 * allowed). */
static int
norm_param_ok(const struct op_call *c, size_t i, const struct tensor *x,
    int axis, size_t n)
{
	const struct tensor *t = c->in[i];
	int err = engine_op_need_dtype(c, i, TENSOR_F32);
	if (err != RF_OK) {
		return err;
	}
	if (t->count == 1) {
		return RF_OK;
	}
	int nr = x->rank - axis;
	bool ok = t->count == n && t->rank >= nr;
	for (int d = 0; ok && d < t->rank; d++) {
		int xd = d - (t->rank - nr);
		int64_t want = xd >= 0 ? x->dims[axis + xd] : 1;
		ok = t->dims[d] == want;
	}
	if (!ok) {
		return rf_errf(c->ei, RF_ERR_SHAPE,
		    "input %zu does not match the normalized shape", i);
	}
	return RF_OK;
}

/*
 * mean = sum(x) / n, var = sum((x - mean)^2) / n, both sums in double in
 * index order; inv = 1 / sqrt(var + eps);
 * y = (float)(((x - mean) * inv) * scale + bias), evaluated in double.
 */
struct layernorm_rows {
	const float *xd, *sd, *bd;
	size_t s_step, b_step;
	float *yd, *mean_out, *inv_out;
	size_t n;
	float epsilon;
};

static void
layernorm_run(void *ctx, size_t begin, size_t end)
{
	const struct layernorm_rows *p = ctx;
	size_t n = p->n;
	for (size_t o = begin; o < end; o++) {
		const float *xs = p->xd + o * n;
		float *ys = p->yd + o * n;
		double sum = 0.0;
		for (size_t i = 0; i < n; i++) {
			sum = sum + (double)xs[i];
		}
		double mean = sum / (double)n;
		double sq = 0.0;
		for (size_t i = 0; i < n; i++) {
			double d = (double)xs[i] - mean;
			sq = sq + d * d;
		}
		double var = sq / (double)n;
		double inv = 1.0 / __builtin_sqrt(var + (double)p->epsilon);
		for (size_t i = 0; i < n; i++) {
			double t = ((double)xs[i] - mean) * inv;
			t = t * (double)p->sd[i * p->s_step];
			if (p->bd != NULL) {
				t = t + (double)p->bd[i * p->b_step];
			}
			ys[i] = (float)t;
		}
		if (p->mean_out != NULL) {
			p->mean_out[o] = (float)mean;
		}
		if (p->inv_out != NULL) {
			p->inv_out[o] = (float)inv;
		}
	}
}

int
engine_op_layernorm_eval(const struct op_call *c)
{
	struct layernorm_params lp;
	OP_PARAMS_GET(c->params, lp);
	int err = engine_op_need_dtype(c, 0, TENSOR_F32);
	const struct tensor *x = c->in[0];
	const struct tensor *bias = c->n_in > 2 ? c->in[2] : NULL;
	int axis = 0;
	if (err == RF_OK) {
		err = engine_op_axis(c, lp.axis, x->rank, &axis);
	}
	size_t outer = 1, n = 1;
	if (err == RF_OK) {
		for (int d = 0; d < axis; d++) {
			outer *= (size_t)x->dims[d];
		}
		for (int d = axis; d < x->rank; d++) {
			n *= (size_t)x->dims[d];
		}
		err = norm_param_ok(c, 1, x, axis, n);
	}
	if (err == RF_OK && bias != NULL) {
		err = norm_param_ok(c, 2, x, axis, n);
	}
	if (err == RF_OK) {
		err = engine_op_out_alloc(c, 0, TENSOR_F32, x->rank, x->dims);
	}
	int64_t sdims[TENSOR_MAX_RANK];
	for (int d = 0; d < x->rank; d++) {
		sdims[d] = d < axis ? x->dims[d] : 1;
	}
	for (size_t i = 1; err == RF_OK && i < c->n_out; i++) {
		err = engine_op_out_alloc(c, i, TENSOR_F32, x->rank, sdims);
	}
	if (err != RF_OK) {
		for (size_t i = 0; i < c->n_out; i++) {
			engine_tensor_fini(&c->out[i]);
		}
		return err;
	}
	struct layernorm_rows lr = { x->data, c->in[1]->data,
		bias != NULL ? bias->data : NULL,
		c->in[1]->count == 1 ? 0 : 1,
		bias != NULL && bias->count == 1 ? 0 : 1, c->out[0].data,
		c->n_out > 1 ? c->out[1].data : NULL,
		c->n_out > 2 ? c->out[2].data : NULL, n, lp.epsilon };
	if (n > 0) {
		/* Rows are independent; each keeps its own sums' order. */
		engine_par_range(outer, 4 * n, 1, layernorm_run, &lr);
	}
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* BatchNormalization (inference)                                        */
/* ------------------------------------------------------------------ */

int
engine_op_batchnorm_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	static const char *const known[] = { "epsilon", "momentum", "spatial",
		"training_mode", NULL };
	float eps, momentum;
	int64_t training, spatial;
	int err = engine_op_attrs_only(at, known, "BatchNormalization", ei);
	if (err == RF_OK) {
		err = engine_op_attr_get_float(at, "epsilon", 1e-5f, &eps, ei);
	}
	if (err == RF_OK) {
		/* Only used in training; accepted and ignored. */
		err = engine_op_attr_get_float(at, "momentum", 0.9f, &momentum, ei);
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "training_mode", 0, 0, 0, &training,
		    ei);
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "spatial", 1, 1, 1, &spatial, ei);
	}
	if (err == RF_OK && !(eps >= 0.0f)) {
		err = rf_errf(ei, RF_ERR_INVAL, "epsilon must be >= 0");
	}
	if (err == RF_OK) {
		OP_PARAMS_PUT(p, eps);
	}
	return err;
}

/*
 * Per channel, in double: a = scale / sqrt(var + eps);
 * y = (float)((x - mean) * a + bias).
 */
int
engine_op_batchnorm_eval(const struct op_call *c)
{
	float eps;
	OP_PARAMS_GET(c->params, eps);
	int err = RF_OK;
	for (size_t i = 0; err == RF_OK && i < 5; i++) {
		err = engine_op_need_dtype(c, i, TENSOR_F32);
	}
	if (err != RF_OK) {
		return err;
	}
	const struct tensor *x = c->in[0];
	if (x->rank < 2) {
		return rf_errf(c->ei, RF_ERR_SHAPE, "X must be [N, C, ...]");
	}
	size_t ch = (size_t)x->dims[1];
	for (size_t i = 1; i < 5; i++) {
		if (c->in[i]->rank != 1 || (size_t)c->in[i]->dims[0] != ch) {
			return rf_errf(c->ei, RF_ERR_SHAPE,
			    "input %zu must have shape [%zu]", i, ch);
		}
	}
	err = engine_op_out_alloc(c, 0, TENSOR_F32, x->rank, x->dims);
	if (err != RF_OK) {
		return err;
	}
	size_t outer, n, inner;
	split_at(x, 1, &outer, &n, &inner);
	const float *scale = c->in[1]->data;
	const float *bias = c->in[2]->data;
	const float *mean = c->in[3]->data;
	const float *var = c->in[4]->data;
	const float *xd = x->data;
	float *yd = c->out[0].data;
	for (size_t k = 0; k < ch; k++) {
		double a = (double)scale[k] /
		    __builtin_sqrt((double)var[k] + (double)eps);
		double mu = (double)mean[k];
		double b = (double)bias[k];
		for (size_t o = 0; o < outer; o++) {
			size_t base = (o * ch + k) * inner;
			for (size_t i = 0; i < inner; i++) {
				double t = ((double)xd[base + i] - mu) * a + b;
				yd[base + i] = (float)t;
			}
		}
	}
	return RF_OK;
}
