/*
 * engine/op_reduce.c - reductions of classification heads and pooling
 * layers people export: ReduceSum, ReduceMax, ReduceMin, ReduceProd,
 * ReduceL2, ArgMax and LogSoftmax.
 *
 * Canonical orders (docs/determinism.md): for each output element the
 * reduced elements are visited in increasing input index order.
 *
 *   ReduceSum   f32: summed in double from +0.0, rounded to float once;
 *               integers: wrapping sum.
 *   ReduceProd  f32: multiplied in double from 1.0, rounded once;
 *               integers: wrapping product.
 *   ReduceL2    squares summed in double from +0.0, IEEE sqrt in double,
 *               rounded to float once.
 *   ReduceMax/Min  left to right: a NaN wins (the first one), else a
 *               strictly larger (smaller) element replaces the current
 *               one, so of equal elements (+0 and -0) the first stays.
 *               An empty reduction is -inf (+inf), or the integer type's
 *               MIN (MAX).
 *   ArgMax      the index of the largest element, NaN counting as larger
 *               than everything; ties go to the first index (the last
 *               with select_last_index).
 *   LogSoftmax  m = max as Softmax, s = sum det_exp(x_i - m) in double,
 *               y_i = (float)((x_i - m) - det_log(s)) in double.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

enum reduce_kind { RED_SUM, RED_PROD, RED_L2, RED_MAX, RED_MIN };

struct reduce_params {
	int64_t axes[TENSOR_MAX_RANK];
	int64_t n; /* 0: every axis, unless noop */
	int64_t keepdims;
	int64_t noop; /* noop_with_empty_axes */
};

static int
reduce_parse(const struct op_attrs *at, struct op_params *p, const char *op,
    struct rf_errinfo *ei)
{
	static const char *const known[] = { "axes", "keepdims",
		"noop_with_empty_axes", NULL };
	struct reduce_params rp;
	memset(&rp, 0, sizeof(rp));
	size_t n = 0;
	int err = engine_op_attrs_only(at, known, op, ei);
	if (err == RF_OK) {
		err = engine_op_attr_get_ints(at, "axes", 0, TENSOR_MAX_RANK,
		    rp.axes, &n, ei);
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "keepdims", 1, 0, 1,
		    &rp.keepdims, ei);
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "noop_with_empty_axes", 0, 0,
		    1, &rp.noop, ei);
	}
	if (err != RF_OK) {
		return err;
	}
	for (size_t i = 0; i < n; i++) {
		if (rp.axes[i] < -TENSOR_MAX_RANK ||
		    rp.axes[i] >= TENSOR_MAX_RANK) {
			return rf_errf(ei, RF_ERR_INVAL,
			    "attribute 'axes' value %lld is out of range",
			    (long long)rp.axes[i]);
		}
	}
	rp.n = (int64_t)n;
	OP_PARAMS_PUT(p, rp);
	return RF_OK;
}

int
engine_op_reducesum_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	return reduce_parse(at, p, "ReduceSum", ei);
}

int
engine_op_reducemax_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	return reduce_parse(at, p, "ReduceMax", ei);
}

int
engine_op_reducemin_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	return reduce_parse(at, p, "ReduceMin", ei);
}

int
engine_op_reduceprod_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	return reduce_parse(at, p, "ReduceProd", ei);
}

int
engine_op_reducel2_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	return reduce_parse(at, p, "ReduceL2", ei);
}

/*
 * The walk of one reduction: kept axes index output elements, reduced
 * ones the terms; both step through the input's row-major strides.
 */
struct red_walk {
	int nk, nr;
	int64_t kdims[TENSOR_MAX_RANK], rdims[TENSOR_MAX_RANK];
	size_t kst[TENSOR_MAX_RANK], rst[TENSOR_MAX_RANK];
	size_t terms;
	int rank;
	int64_t dims[TENSOR_MAX_RANK];
};

static int
red_plan(const struct op_call *c, const bool *red, bool keepdims,
    struct red_walk *w)
{
	const struct tensor *x = c->in[0];
	size_t st[TENSOR_MAX_RANK], s = 1;
	for (int d = x->rank - 1; d >= 0; d--) {
		st[d] = s;
		s *= (size_t)x->dims[d];
	}
	memset(w, 0, sizeof(*w));
	w->terms = 1;
	for (int d = 0; d < x->rank; d++) {
		if (red[d]) {
			w->rdims[w->nr] = x->dims[d];
			w->rst[w->nr++] = st[d];
			w->terms *= (size_t)x->dims[d];
			if (keepdims) {
				w->dims[w->rank++] = 1;
			}
		} else {
			w->kdims[w->nk] = x->dims[d];
			w->kst[w->nk++] = st[d];
			w->dims[w->rank++] = x->dims[d];
		}
	}
	return RF_OK;
}

/* Which axes are reduced; RF_ERR_INVAL for one out of range or twice. */
static int
red_axes(const struct op_call *c, const int64_t *axes, int64_t n, bool *red)
{
	int r = c->in[0]->rank;
	for (int d = 0; d < r; d++) {
		red[d] = n == 0;
	}
	for (int64_t i = 0; i < n; i++) {
		int a;
		int err = engine_op_axis(c, axes[i], r, &a);
		if (err != RF_OK) {
			return err;
		}
		if (red[a]) {
			return rf_errf(c->ei, RF_ERR_INVAL,
			    "axis %d is listed twice", a);
		}
		red[a] = true;
	}
	return RF_OK;
}

/* Offsets of the terms of every output element, in order, through fn. */
#define RED_WALK(w, BASE_VAR, OFF_VAR, INIT, STEP, FINISH)                   \
	do {                                                                 \
		int64_t ki_[TENSOR_MAX_RANK] = { 0 };                        \
		size_t BASE_VAR = 0;                                         \
		for (size_t o_ = 0; o_ < out_count; o_++) {                  \
			int64_t ri_[TENSOR_MAX_RANK] = { 0 };                \
			size_t OFF_VAR = BASE_VAR;                           \
			INIT;                                                \
			for (size_t t_ = 0; t_ < (w)->terms; t_++) {         \
				STEP;                                        \
				for (int d_ = (w)->nr - 1; d_ >= 0; d_--) {  \
					OFF_VAR += (w)->rst[d_];             \
					if (++ri_[d_] < (w)->rdims[d_]) {    \
						break;                       \
					}                                    \
					OFF_VAR -= (w)->rst[d_] *            \
					    (size_t)(w)->rdims[d_];          \
					ri_[d_] = 0;                         \
				}                                            \
			}                                                    \
			FINISH;                                              \
			for (int d_ = (w)->nk - 1; d_ >= 0; d_--) {          \
				BASE_VAR += (w)->kst[d_];                    \
				if (++ki_[d_] < (w)->kdims[d_]) {            \
					break;                               \
				}                                            \
				BASE_VAR -= (w)->kst[d_] *                   \
				    (size_t)(w)->kdims[d_];                  \
				ki_[d_] = 0;                                 \
			}                                                    \
		}                                                            \
	} while (0)

static float
f_inf(bool neg)
{
	uint32_t u = neg ? UINT32_C(0xff800000) : UINT32_C(0x7f800000);
	float f;
	memcpy(&f, &u, sizeof(f));
	return f;
}

static void
reduce_f32(enum reduce_kind k, const struct red_walk *w, const float *xd,
    float *yd, size_t out_count)
{
	switch (k) {
	case RED_SUM:
		RED_WALK(w, base, off, double acc = 0.0,
		    acc = acc + (double)xd[off], yd[o_] = (float)acc);
		break;
	case RED_PROD:
		RED_WALK(w, base, off, double acc = 1.0,
		    acc = acc * (double)xd[off], yd[o_] = (float)acc);
		break;
	case RED_L2:
		RED_WALK(w, base, off, double acc = 0.0,
		    acc = acc + (double)xd[off] * (double)xd[off],
		    yd[o_] = (float)__builtin_sqrt(acc));
		break;
	case RED_MAX:
	case RED_MIN: {
		bool mx = k == RED_MAX;
		RED_WALK(w, base, off, float m = f_inf(mx),
		    {
			    float v = xd[off];
			    if (m == m && (v != v || (mx ? v > m : v < m))) {
				    m = v;
			    }
		    },
		    yd[o_] = m);
		break;
	}
	}
}

#define DEFINE_REDUCE_INT(NAME, T, UT, TMIN, TMAX)                          \
	static void NAME(enum reduce_kind k, const struct red_walk *w,       \
	    const T *xd, T *yd, size_t out_count)                            \
	{                                                                    \
		switch (k) {                                                 \
		case RED_SUM:                                                \
			RED_WALK(w, base, off, UT acc = 0,                   \
			    acc = acc + (UT)xd[off], yd[o_] = (T)acc);       \
			break;                                               \
		case RED_PROD:                                               \
			RED_WALK(w, base, off, UT acc = 1,                   \
			    acc = acc * (UT)xd[off], yd[o_] = (T)acc);       \
			break;                                               \
		case RED_MAX:                                                \
			RED_WALK(w, base, off, T m = TMIN,                   \
			    m = xd[off] > m ? xd[off] : m, yd[o_] = m);      \
			break;                                               \
		default:                                                     \
			RED_WALK(w, base, off, T m = TMAX,                   \
			    m = xd[off] < m ? xd[off] : m, yd[o_] = m);      \
			break;                                               \
		}                                                            \
	}
DEFINE_REDUCE_INT(reduce_i32, int32_t, uint32_t, INT32_MIN, INT32_MAX)
DEFINE_REDUCE_INT(reduce_i64, int64_t, uint64_t, INT64_MIN, INT64_MAX)

static int
reduce_eval(const struct op_call *c, enum reduce_kind k)
{
	struct reduce_params rp;
	OP_PARAMS_GET(c->params, rp);
	const struct tensor *x = c->in[0];
	bool ints = x->dtype == TENSOR_I32 || x->dtype == TENSOR_I64;
	int err = ints && k != RED_L2 ? RF_OK :
	    engine_op_need_dtype(c, 0, TENSOR_F32);
	if (err != RF_OK) {
		return err;
	}
	if (rp.n == 0 && rp.noop) {
		/* No axes and noop_with_empty_axes: the input unchanged. */
		err = engine_op_out_alloc(c, 0, x->dtype, x->rank, x->dims);
		if (err == RF_OK && x->count > 0) {
			memcpy(c->out[0].data, x->data, engine_tensor_nbytes(x));
		}
		return err;
	}
	bool red[TENSOR_MAX_RANK];
	err = red_axes(c, rp.axes, rp.n, red);
	struct red_walk w;
	if (err == RF_OK) {
		err = red_plan(c, red, rp.keepdims != 0, &w);
	}
	if (err == RF_OK) {
		err = engine_op_out_alloc(c, 0, x->dtype, w.rank, w.dims);
	}
	if (err != RF_OK) {
		return err;
	}
	size_t n = c->out[0].count;
	switch (x->dtype) {
	case TENSOR_F32:
		reduce_f32(k, &w, x->data, c->out[0].data, n);
		break;
	case TENSOR_I32:
		reduce_i32(k, &w, x->data, c->out[0].data, n);
		break;
	default:
		reduce_i64(k, &w, x->data, c->out[0].data, n);
		break;
	}
	return RF_OK;
}

int
engine_op_reducesum_eval(const struct op_call *c)
{
	return reduce_eval(c, RED_SUM);
}

int
engine_op_reducemax_eval(const struct op_call *c)
{
	return reduce_eval(c, RED_MAX);
}

int
engine_op_reducemin_eval(const struct op_call *c)
{
	return reduce_eval(c, RED_MIN);
}

int
engine_op_reduceprod_eval(const struct op_call *c)
{
	return reduce_eval(c, RED_PROD);
}

int
engine_op_reducel2_eval(const struct op_call *c)
{
	return reduce_eval(c, RED_L2);
}

/* ------------------------------------------------------------------ */
/* ArgMax                                                               */
/* ------------------------------------------------------------------ */

struct argmax_params {
	int64_t axis, keepdims, last;
};

int
engine_op_argmax_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	static const char *const known[] = { "axis", "keepdims",
		"select_last_index", NULL };
	struct argmax_params ap;
	int err = engine_op_attrs_only(at, known, "ArgMax", ei);
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "axis", 0, -TENSOR_MAX_RANK,
		    TENSOR_MAX_RANK - 1, &ap.axis, ei);
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "keepdims", 1, 0, 1,
		    &ap.keepdims, ei);
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "select_last_index", 0, 0, 1,
		    &ap.last, ei);
	}
	if (err == RF_OK) {
		OP_PARAMS_PUT(p, ap);
	}
	return err;
}

/* Whether element i beats the current best b: strictly larger, NaN
 * larger than any number; equal ones (NaN and NaN too) only with last. */
static bool
arg_beats(const struct tensor *x, size_t i, size_t b, bool last)
{
	switch (x->dtype) {
	case TENSOR_F32: {
		float v = ((const float *)x->data)[i];
		float m = ((const float *)x->data)[b];
		if (m != m) {
			return last && v != v;
		}
		if (v != v) {
			return true;
		}
		return v > m || (last && v == m);
	}
#define ARG_INT(T)                                                          \
	{                                                                   \
		T v = ((const T *)x->data)[i], m = ((const T *)x->data)[b]; \
		return v > m || (last && v == m);                           \
	}
	case TENSOR_I8:
		ARG_INT(int8_t);
	case TENSOR_I32:
		ARG_INT(int32_t);
	default:
		ARG_INT(int64_t);
#undef ARG_INT
	}
}

int
engine_op_argmax_eval(const struct op_call *c)
{
	struct argmax_params ap;
	OP_PARAMS_GET(c->params, ap);
	const struct tensor *x = c->in[0];
	int axis;
	int err = engine_op_axis(c, ap.axis, x->rank, &axis);
	if (err != RF_OK) {
		return err;
	}
	if (x->dims[axis] == 0) {
		return rf_errf(c->ei, RF_ERR_SHAPE,
		    "ArgMax over an empty axis %d", axis);
	}
	int64_t dims[TENSOR_MAX_RANK];
	int r = 0;
	size_t outer = 1, inner = 1, n = (size_t)x->dims[axis];
	for (int d = 0; d < x->rank; d++) {
		if (d == axis) {
			if (ap.keepdims) {
				dims[r++] = 1;
			}
			continue;
		}
		dims[r++] = x->dims[d];
		if (d < axis) {
			outer *= (size_t)x->dims[d];
		} else {
			inner *= (size_t)x->dims[d];
		}
	}
	err = engine_op_out_alloc(c, 0, TENSOR_I64, r, dims);
	if (err != RF_OK) {
		return err;
	}
	int64_t *yd = c->out[0].data;
	for (size_t o = 0; o < outer; o++) {
		for (size_t in = 0; in < inner; in++) {
			size_t base = o * n * inner + in, best = 0;
			for (size_t i = 1; i < n; i++) {
				if (arg_beats(x, base + i * inner,
				        base + best * inner, ap.last != 0)) {
					best = i;
				}
			}
			yd[o * inner + in] = (int64_t)best;
		}
	}
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* LogSoftmax                                                           */
/* ------------------------------------------------------------------ */

int
engine_op_logsoftmax_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	static const char *const known[] = { "axis", NULL };
	int64_t axis;
	int err = engine_op_attrs_only(at, known, "LogSoftmax", ei);
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "axis", -1, -TENSOR_MAX_RANK,
		    TENSOR_MAX_RANK - 1, &axis, ei);
	}
	if (err == RF_OK) {
		OP_PARAMS_PUT(p, axis);
	}
	return err;
}

struct logsoftmax_lines {
	const float *xd;
	float *yd;
	size_t n, inner;
};

static void
logsoftmax_run(void *ctx, size_t begin, size_t end)
{
	const struct logsoftmax_lines *p = ctx;
	size_t n = p->n, inner = p->inner;
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
			sum = sum +
			    engine_det_exp((double)xs[i * inner] - (double)m);
		}
		/* With m finite, 1 <= sum <= n; otherwise it is NaN (from
		 * inf - inf or a NaN) and so is every output. */
		double lse = sum == sum ? engine_det_log(sum) : sum;
		for (size_t i = 0; i < n; i++) {
			double d = (double)xs[i * inner] - (double)m;
			ys[i * inner] = (float)(d - lse);
		}
	}
}

int
engine_op_logsoftmax_eval(const struct op_call *c)
{
	int64_t axis64;
	OP_PARAMS_GET(c->params, axis64);
	int err = engine_op_need_dtype(c, 0, TENSOR_F32);
	const struct tensor *x = c->in[0];
	int axis = 0;
	if (err == RF_OK) {
		err = engine_op_axis(c, axis64, x->rank, &axis);
	}
	if (err == RF_OK) {
		err = engine_op_out_alloc(c, 0, TENSOR_F32, x->rank, x->dims);
	}
	if (err != RF_OK || x->count == 0) {
		return err;
	}
	size_t outer = 1, inner = 1, n = (size_t)x->dims[axis];
	for (int d = 0; d < axis; d++) {
		outer *= (size_t)x->dims[d];
	}
	for (int d = axis + 1; d < x->rank; d++) {
		inner *= (size_t)x->dims[d];
	}
	/* Lines are independent: threads take ranges of them. */
	struct logsoftmax_lines ll = { x->data, c->out[0].data, n, inner };
	engine_par_range(outer * inner, 32 * n, 1, logsoftmax_run, &ll);
	return RF_OK;
}
