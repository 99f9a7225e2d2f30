/*
 * engine/op_math.c - arithmetic operators added for ONNX import:
 * ReduceMean, Pow, Sqrt and Erf (all f32).
 *
 * PyTorch exports LayerNorm as ReduceMean, Sub, Pow(x, 2), ReduceMean,
 * Add, Sqrt, Div and exact Gelu as Div, Erf, Add, Mul, Mul, so these are
 * what a transformer imported from ONNX spends its time in. Canonical
 * orders (docs/determinism.md):
 *
 *   ReduceMean  for each output element, the reduced elements in
 *               increasing index order summed in double from +0.0,
 *               divided once by their count, rounded to float.
 *   Pow         in double: an integer exponent |n| <= 64 by binary
 *               powering (below), any other by
 *               engine_det_exp(y * engine_det_log|x|) (engine/detmath.c);
 *               special cases as C99 pow (Annex F); one rounding to float
 *               at the end.
 *   Sqrt        sqrtf, correctly rounded by IEEE 754.
 *   Erf         engine_det_erff.
 *
 * Nothing here calls libm: exp and log in double come from
 * engine/detmath.c.
 */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* ------------------------------------------------------------------ */
/* ReduceMean                                                           */
/* ------------------------------------------------------------------ */

struct reduce_params {
	int64_t axes[TENSOR_MAX_RANK];
	int64_t n; /* 0: every axis */
	int64_t keepdims;
};

int
engine_op_reducemean_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	static const char *const known[] = { "axes", "keepdims", NULL };
	struct reduce_params rp;
	memset(&rp, 0, sizeof(rp));
	size_t n = 0;
	int err = engine_op_attrs_only(at, known, "ReduceMean", ei);
	if (err == RF_OK) {
		err = engine_op_attr_get_ints(at, "axes", 0, TENSOR_MAX_RANK, rp.axes,
		    &n, ei);
	}
	if (err == RF_OK) {
		err =
		    engine_op_attr_get_int(at, "keepdims", 1, 0, 1, &rp.keepdims, ei);
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
engine_op_reducemean_eval(const struct op_call *c)
{
	struct reduce_params rp;
	OP_PARAMS_GET(c->params, rp);
	int err = engine_op_need_dtype(c, 0, TENSOR_F32);
	if (err != RF_OK) {
		return err;
	}
	const struct tensor *x = c->in[0];
	int r = x->rank;
	bool red[TENSOR_MAX_RANK];
	for (int d = 0; d < r; d++) {
		red[d] = rp.n == 0;
	}
	for (int64_t i = 0; i < rp.n; i++) {
		int a;
		err = engine_op_axis(c, rp.axes[i], r, &a);
		if (err != RF_OK) {
			return err;
		}
		if (red[a]) {
			return rf_errf(c->ei, RF_ERR_INVAL,
			    "axis %d is listed twice", a);
		}
		red[a] = true;
	}
	/* The kept axes index output elements, the reduced ones the terms of
	 * each sum; both walk the input's row-major strides. */
	int64_t dims[TENSOR_MAX_RANK];
	int64_t kdims[TENSOR_MAX_RANK], rdims[TENSOR_MAX_RANK];
	size_t kst[TENSOR_MAX_RANK], rst[TENSOR_MAX_RANK];
	int nk = 0, nr = 0, ro = 0;
	size_t s = 1, terms = 1;
	size_t st[TENSOR_MAX_RANK];
	for (int d = r - 1; d >= 0; d--) {
		st[d] = s;
		s *= (size_t)x->dims[d];
	}
	for (int d = 0; d < r; d++) {
		if (red[d]) {
			rdims[nr] = x->dims[d];
			rst[nr++] = st[d];
			terms *= (size_t)x->dims[d];
			if (rp.keepdims) {
				dims[ro++] = 1;
			}
		} else {
			kdims[nk] = x->dims[d];
			kst[nk++] = st[d];
			dims[ro++] = x->dims[d];
		}
	}
	err = engine_op_out_alloc(c, 0, TENSOR_F32, ro, dims);
	if (err != RF_OK) {
		return err;
	}
	const float *xd = x->data;
	float *yd = c->out[0].data;
	int64_t ki[TENSOR_MAX_RANK] = { 0 };
	size_t base = 0;
	for (size_t o = 0; o < c->out[0].count; o++) {
		int64_t ri[TENSOR_MAX_RANK] = { 0 };
		size_t off = base;
		double sum = 0.0;
		for (size_t t = 0; t < terms; t++) {
			sum = sum + (double)xd[off];
			for (int d = nr - 1; d >= 0; d--) {
				off += rst[d];
				if (++ri[d] < rdims[d]) {
					break;
				}
				off -= rst[d] * (size_t)rdims[d];
				ri[d] = 0;
			}
		}
		/* An empty reduction is 0 / 0: NaN, made canonical by the
		 * run. */
		yd[o] = (float)(sum / (double)terms);
		for (int d = nk - 1; d >= 0; d--) {
			base += kst[d];
			if (++ki[d] < kdims[d]) {
				break;
			}
			base -= kst[d] * (size_t)kdims[d];
			ki[d] = 0;
		}
	}
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Deterministic pow in double                                          */
/* ------------------------------------------------------------------ */

static uint64_t
dbits(double x)
{
	uint64_t u;
	memcpy(&u, &x, sizeof(u));
	return u;
}

/*
 * b^n for n >= 0 by binary powering in double, squaring from the right:
 * r = 1; while n: if n odd r = r * b; n >>= 1; if n: b = b * b. For
 * n = 2 that is one exact product (24 + 24 bits fit a double), so
 * Pow(x, 2) is x * x correctly rounded to float, as PyTorch computes it.
 */
static double
powi(double b, uint64_t n)
{
	double r = 1.0;
	while (n != 0) {
		if ((n & 1) != 0) {
			r = r * b;
		}
		n >>= 1;
		if (n != 0) {
			b = b * b;
		}
	}
	return r;
}

enum exp_class { EXP_FRACTION, EXP_EVEN, EXP_ODD };

/* An exponent: its value as a double, whether it is an (odd) integer,
 * and, for small integers, the integer. */
struct exponent {
	double v;
	enum exp_class cls;
	bool small; /* an integer with |n| <= 64 */
	int64_t n;
};

#define POW_SMALL 64

static struct exponent
exponent_f32(float y)
{
	struct exponent e = { (double)y, EXP_FRACTION, false, 0 };
	double a = e.v < 0 ? -e.v : e.v;
	if (!(a - a == 0.0)) {
		return e; /* inf or NaN: handled before the class matters */
	}
	if (a >= 0x1p24) {
		e.cls =
		    EXP_EVEN; /* every float this large is an even integer */
		return e;
	}
	int64_t n = (int64_t)e.v;
	if ((double)n != e.v) {
		return e;
	}
	e.cls = (n & 1) != 0 ? EXP_ODD : EXP_EVEN;
	e.small = n >= -POW_SMALL && n <= POW_SMALL;
	e.n = n;
	return e;
}

static struct exponent
exponent_int(int64_t n)
{
	struct exponent e = { (double)n, (n & 1) != 0 ? EXP_ODD : EXP_EVEN,
		n >= -POW_SMALL && n <= POW_SMALL, n };
	return e;
}

static float
fl_inf(bool neg)
{
	return neg ? -FLT_MAX * 2.0f : FLT_MAX * 2.0f;
}

/* x^y as C99 pow (Annex F.9.4.4) rounded to float; see the file head. */
static float
pow_f32(float xf, const struct exponent *e)
{
	double x = (double)xf, y = e->v;
	if (y == 0.0 || x == 1.0) {
		return 1.0f; /* even for a NaN in the other operand */
	}
	if (x != x || y != y) {
		return xf != xf ? xf : (float)y;
	}
	bool odd = e->cls == EXP_ODD;
	bool xneg = (dbits(x) >> 63) != 0;
	double ax = xneg ? -x : x;
	bool yinf = !(y - y == 0.0);
	if (x == 0.0) {
		bool neg = xneg && odd;
		if (y < 0.0) {
			return fl_inf(neg);
		}
		return neg ? -0.0f : 0.0f;
	}
	if (yinf) {
		if (ax == 1.0) {
			return 1.0f; /* (-1)^(+-inf) */
		}
		return (ax < 1.0) == (y < 0.0) ? fl_inf(false) : 0.0f;
	}
	if (!(x - x == 0.0)) {
		bool neg = xneg && odd;
		if (y < 0.0) {
			return neg ? -0.0f : 0.0f;
		}
		return fl_inf(neg);
	}
	if (xneg && e->cls == EXP_FRACTION) {
		return __builtin_nanf(""); /* canonicalized by the run */
	}
	double r;
	if (e->small) {
		uint64_t n = e->n < 0 ? (uint64_t)(-e->n) : (uint64_t)e->n;
		r = powi(ax, n);
		if (e->n < 0) {
			r = 1.0 / r;
		}
	} else {
		r = engine_det_exp(y * engine_det_log(ax));
	}
	float f = (float)r;
	return xneg && odd ? -f : f;
}

/* ------------------------------------------------------------------ */
/* Pow, Sqrt, Erf                                                       */
/* ------------------------------------------------------------------ */

/* f32 base; the exponent may be f32, i32 or i64 (ONNX Pow, opset 12+);
 * NumPy broadcasting. */
int
engine_op_pow_eval(const struct op_call *c)
{
	int err = engine_op_need_dtype(c, 0, TENSOR_F32);
	if (err != RF_OK) {
		return err;
	}
	const struct tensor *x = c->in[0], *y = c->in[1];
	if (y->dtype == TENSOR_I8) {
		return rf_errf(c->ei, RF_ERR_DTYPE,
		    "the exponent must be f32, i32 or i64, got i8");
	}
	int r;
	int64_t dims[TENSOR_MAX_RANK];
	err = engine_tensor_broadcast_shape(x->rank, x->dims, y->rank, y->dims, &r,
	    dims, c->ei);
	if (err == RF_OK) {
		err = engine_op_out_alloc(c, 0, TENSOR_F32, r, dims);
	}
	if (err != RF_OK || c->out[0].count == 0) {
		return err;
	}
	struct bcast_iter it;
	const struct tensor *ops[2] = { x, y };
	engine_bcast_iter_init(&it, r, dims, ops, 2);
	const float *xd = x->data;
	float *yd = c->out[0].data;
	for (size_t o = 0; o < c->out[0].count; o++) {
		struct exponent e;
		size_t j = it.off[1];
		switch (y->dtype) {
		case TENSOR_F32:
			e = exponent_f32(((const float *)y->data)[j]);
			break;
		case TENSOR_I32:
			e = exponent_int(((const int32_t *)y->data)[j]);
			break;
		default:
			e = exponent_int(((const int64_t *)y->data)[j]);
			break;
		}
		yd[o] = pow_f32(xd[it.off[0]], &e);
		engine_bcast_iter_next(&it);
	}
	return RF_OK;
}

/* Sqrt or Erf over elements [begin, end), each element's function
 * called directly (no pointer per element). */
struct unary_range {
	const float *xd;
	float *yd;
	bool erf;
};

static void
unary_range_run(void *ctx, size_t begin, size_t end)
{
	const struct unary_range *u = ctx;
	const float *restrict xd = u->xd;
	float *restrict yd = u->yd;
	if (u->erf) {
		for (size_t i = begin; i < end; i++) {
			yd[i] = engine_det_erff(xd[i]);
		}
	} else {
		/* IEEE 754 correctly rounded; a negative x gives NaN, which
		 * the run makes canonical. */
		for (size_t i = begin; i < end; i++) {
			yd[i] = __builtin_sqrtf(xd[i]);
		}
	}
}

static int
unary_f32(const struct op_call *c, bool erf)
{
	int err = engine_op_need_dtype(c, 0, TENSOR_F32);
	if (err != RF_OK) {
		return err;
	}
	const struct tensor *x = c->in[0];
	err = engine_op_out_alloc(c, 0, TENSOR_F32, x->rank, x->dims);
	if (err != RF_OK) {
		return err;
	}
	/* Elements are independent: threads take ranges of them. */
	struct unary_range u = { x->data, c->out[0].data, erf };
	engine_par_range(x->count, erf ? 64 : 1, 64, unary_range_run, &u);
	return RF_OK;
}

int
engine_op_sqrt_eval(const struct op_call *c)
{
	return unary_f32(c, false);
}

int
engine_op_erf_eval(const struct op_call *c)
{
	return unary_f32(c, true);
}
