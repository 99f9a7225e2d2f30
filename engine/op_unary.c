/*
 * engine/op_unary.c - element-wise operators that real exports use around
 * their convolutions and heads: Exp, Log, Abs, Neg, Reciprocal, Clip
 * (ReLU6), LeakyRelu, HardSigmoid, HardSwish, Softplus, and the binary
 * Min and Max with NumPy broadcasting.
 *
 * Each element is one IEEE operation or one det_* function of
 * engine/detmath.c (docs/determinism.md lists the definitions), so there
 * is no order to fix and no libm. NaNs pass through and the run makes
 * them canonical.
 */
#include <stdint.h>
#include <string.h>

#include "engine/engine_int.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

enum unary_kind {
	UN_EXP,
	UN_LOG,
	UN_ABS,
	UN_NEG,
	UN_RECIP,
	UN_CLIP,
	UN_LEAKY,
	UN_HSIGMOID,
	UN_HSWISH,
	UN_SOFTPLUS,
};

/* Attributes of the parametrised ones: Clip (min, max), LeakyRelu
 * (alpha), HardSigmoid (alpha, beta). */
struct unary_params {
	float a, b;
};

static uint32_t
fbits(float x)
{
	uint32_t u;
	memcpy(&u, &x, sizeof(u));
	return u;
}

static float
ffrom(uint32_t u)
{
	float x;
	memcpy(&x, &u, sizeof(x));
	return x;
}

/*
 * log(1 + e^x) in double, rounded once: max(x, 0) + log1p(e^-|x|). For
 * e = e^-|x| below 2^-20, log1p(e) = e - e^2/2 to within 2^-60 relative;
 * above, 1 + e rounds by at most 2^-53, which moves log(1 + e) by less
 * than 2^-33 of itself.
 */
static float
softplusf(float x)
{
	if (x != x) {
		return x;
	}
	double d = (double)x;
	double ad = d < 0.0 ? -d : d;
	double e = engine_det_exp(-ad);
	double l = e < 0x1p-20 ? e - (e * e) * 0.5 : engine_det_log(1.0 + e);
	return (float)((d > 0.0 ? d : 0.0) + l);
}

/* x * clamp(x + 3, 0, 6) / 6 in double, one rounding to float (the ONNX
 * x * max(0, min(1, x / 6 + 1 / 2)), written as PyTorch computes it). */
static float
hardswishf(float x)
{
	double d = (double)x;
	double t = d + 3.0;
	t = t < 0.0 ? 0.0 : t;
	t = t > 6.0 ? 6.0 : t;
	return (float)((d * t) / 6.0);
}

struct unary_range {
	enum unary_kind k;
	struct unary_params p;
	const float *x;
	float *y;
};

static void
unary_range_run(void *ctx, size_t begin, size_t end)
{
	const struct unary_range *u = ctx;
	const float *restrict x = u->x;
	float *restrict y = u->y;
	float a = u->p.a, b = u->p.b;
	switch (u->k) {
	case UN_EXP:
		for (size_t i = begin; i < end; i++) {
			y[i] = engine_det_expf(x[i]);
		}
		break;
	case UN_LOG:
		for (size_t i = begin; i < end; i++) {
			y[i] = engine_det_logf(x[i]);
		}
		break;
	case UN_ABS:
		for (size_t i = begin; i < end; i++) {
			y[i] = ffrom(fbits(x[i]) & UINT32_C(0x7fffffff));
		}
		break;
	case UN_NEG:
		for (size_t i = begin; i < end; i++) {
			y[i] = ffrom(fbits(x[i]) ^ UINT32_C(0x80000000));
		}
		break;
	case UN_RECIP:
		for (size_t i = begin; i < end; i++) {
			y[i] = 1.0f / x[i];
		}
		break;
	case UN_CLIP:
		/* min first, then max: with min > max every element is max,
		 * as ONNX and torch.clamp define it; NaN passes. */
		for (size_t i = begin; i < end; i++) {
			float v = x[i] < a ? a : x[i];
			y[i] = v > b ? b : v;
		}
		break;
	case UN_LEAKY:
		for (size_t i = begin; i < end; i++) {
			y[i] = x[i] < 0.0f ? x[i] * a : x[i];
		}
		break;
	case UN_HSIGMOID:
		for (size_t i = begin; i < end; i++) {
			float t = a * x[i];
			t = t + b;
			t = t < 0.0f ? 0.0f : t;
			y[i] = t > 1.0f ? 1.0f : t;
		}
		break;
	case UN_HSWISH:
		for (size_t i = begin; i < end; i++) {
			y[i] = hardswishf(x[i]);
		}
		break;
	case UN_SOFTPLUS:
		for (size_t i = begin; i < end; i++) {
			y[i] = softplusf(x[i]);
		}
		break;
	}
}

/* Abs and Neg of integers wrap: |MIN| and -MIN are MIN. */
#define DEFINE_INT_UNARY(NAME, T, UT)                                       \
	static void NAME(bool neg, const T *x, T *y, size_t n)              \
	{                                                                   \
		for (size_t i = 0; i < n; i++) {                            \
			UT u = (UT)x[i];                                    \
			bool flip = neg || x[i] < 0;                        \
			y[i] = (T)(flip ? (UT)0 - u : u);                   \
		}                                                           \
	}
DEFINE_INT_UNARY(int_unary_i8, int8_t, uint8_t)
DEFINE_INT_UNARY(int_unary_i32, int32_t, uint32_t)
DEFINE_INT_UNARY(int_unary_i64, int64_t, uint64_t)

static int
unary_eval(const struct op_call *c, enum unary_kind k,
    const struct unary_params *p)
{
	const struct tensor *x = c->in[0];
	bool ints = (k == UN_ABS || k == UN_NEG) && x->dtype != TENSOR_F32;
	int err = ints ? RF_OK : engine_op_need_dtype(c, 0, TENSOR_F32);
	if (err == RF_OK) {
		err = engine_op_out_alloc(c, 0, x->dtype, x->rank, x->dims);
	}
	if (err != RF_OK) {
		return err;
	}
	if (ints) {
		bool neg = k == UN_NEG;
		switch (x->dtype) {
		case TENSOR_I8:
			int_unary_i8(neg, x->data, c->out[0].data, x->count);
			break;
		case TENSOR_I32:
			int_unary_i32(neg, x->data, c->out[0].data, x->count);
			break;
		default:
			int_unary_i64(neg, x->data, c->out[0].data, x->count);
			break;
		}
		return RF_OK;
	}
	struct unary_range u = { k, { 0.0f, 0.0f }, x->data, c->out[0].data };
	if (p != NULL) {
		u.p = *p;
	}
	bool costly = k == UN_EXP || k == UN_LOG || k == UN_SOFTPLUS;
	engine_par_range(x->count, costly ? 64 : 1, 64, unary_range_run, &u);
	return RF_OK;
}

int
engine_op_exp_eval(const struct op_call *c)
{
	return unary_eval(c, UN_EXP, NULL);
}

int
engine_op_log_eval(const struct op_call *c)
{
	return unary_eval(c, UN_LOG, NULL);
}

int
engine_op_abs_eval(const struct op_call *c)
{
	return unary_eval(c, UN_ABS, NULL);
}

int
engine_op_neg_eval(const struct op_call *c)
{
	return unary_eval(c, UN_NEG, NULL);
}

int
engine_op_reciprocal_eval(const struct op_call *c)
{
	return unary_eval(c, UN_RECIP, NULL);
}

int
engine_op_hardswish_eval(const struct op_call *c)
{
	return unary_eval(c, UN_HSWISH, NULL);
}

int
engine_op_softplus_eval(const struct op_call *c)
{
	return unary_eval(c, UN_SOFTPLUS, NULL);
}

/* ------------------------------------------------------------------ */
/* Clip, LeakyRelu, HardSigmoid                                         */
/* ------------------------------------------------------------------ */

static int
float_attr(const struct op_attrs *at, const char *name, float def, float *out,
    struct rf_errinfo *ei)
{
	int err = engine_op_attr_get_float(at, name, def, out, ei);
	if (err == RF_OK && *out != *out) {
		err = rf_errf(ei, RF_ERR_INVAL, "attribute '%s' is NaN", name);
	}
	return err;
}

/* Clip's bounds are attributes (the importer turns ONNX's constant min
 * and max inputs into them); absent, they are -inf and +inf. */
int
engine_op_clip_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	static const char *const known[] = { "max", "min", NULL };
	struct unary_params up;
	int err = engine_op_attrs_only(at, known, "Clip", ei);
	if (err == RF_OK) {
		err = float_attr(at, "min", ffrom(UINT32_C(0xff800000)), &up.a,
		    ei);
	}
	if (err == RF_OK) {
		err = float_attr(at, "max", ffrom(UINT32_C(0x7f800000)), &up.b,
		    ei);
	}
	if (err == RF_OK) {
		OP_PARAMS_PUT(p, up);
	}
	return err;
}

int
engine_op_clip_eval(const struct op_call *c)
{
	struct unary_params up;
	OP_PARAMS_GET(c->params, up);
	return unary_eval(c, UN_CLIP, &up);
}

int
engine_op_leakyrelu_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	static const char *const known[] = { "alpha", NULL };
	struct unary_params up = { 0.0f, 0.0f };
	int err = engine_op_attrs_only(at, known, "LeakyRelu", ei);
	if (err == RF_OK) {
		err = float_attr(at, "alpha", 0.01f, &up.a, ei);
	}
	if (err == RF_OK) {
		OP_PARAMS_PUT(p, up);
	}
	return err;
}

int
engine_op_leakyrelu_eval(const struct op_call *c)
{
	struct unary_params up;
	OP_PARAMS_GET(c->params, up);
	return unary_eval(c, UN_LEAKY, &up);
}

int
engine_op_hardsigmoid_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	static const char *const known[] = { "alpha", "beta", NULL };
	struct unary_params up;
	int err = engine_op_attrs_only(at, known, "HardSigmoid", ei);
	if (err == RF_OK) {
		err = float_attr(at, "alpha", 0.2f, &up.a, ei);
	}
	if (err == RF_OK) {
		err = float_attr(at, "beta", 0.5f, &up.b, ei);
	}
	if (err == RF_OK) {
		OP_PARAMS_PUT(p, up);
	}
	return err;
}

int
engine_op_hardsigmoid_eval(const struct op_call *c)
{
	struct unary_params up;
	OP_PARAMS_GET(c->params, up);
	return unary_eval(c, UN_HSIGMOID, &up);
}

/* ------------------------------------------------------------------ */
/* Min, Max                                                             */
/* ------------------------------------------------------------------ */

/*
 * f32: a NaN operand gives NaN (the first one met); equal operands give
 * +0 for Max and -0 for Min when they are zeros of both signs (IEEE
 * 754-2019 maximum and minimum); otherwise the larger (smaller) one.
 */
static float
maxf(float a, float b, bool is_max)
{
	if (a != a) {
		return a;
	}
	if (b != b) {
		return b;
	}
	if (a == b) {
		bool a_neg = (fbits(a) >> 31) != 0;
		return a_neg == is_max ? b : a;
	}
	return (a > b) == is_max ? a : b;
}

static int
minmax_eval(const struct op_call *c, bool is_max)
{
	const struct tensor *a = c->in[0];
	if (c->n_in == 1 || c->in[1] == NULL) {
		/* One operand: itself (ONNX allows a single input). */
		int err = engine_op_out_alloc(c, 0, a->dtype, a->rank, a->dims);
		if (err == RF_OK && a->count > 0) {
			memcpy(c->out[0].data, a->data, engine_tensor_nbytes(a));
		}
		return err;
	}
	const struct tensor *b = c->in[1];
	if (b->dtype != a->dtype) {
		return rf_errf(c->ei, RF_ERR_DTYPE,
		    "operands have different types");
	}
	int r;
	int64_t dims[TENSOR_MAX_RANK];
	int err = engine_tensor_broadcast_shape(a->rank, a->dims, b->rank,
	    b->dims, &r, dims, c->ei);
	if (err == RF_OK) {
		err = engine_op_out_alloc(c, 0, a->dtype, r, dims);
	}
	if (err != RF_OK || c->out[0].count == 0) {
		return err;
	}
	struct bcast_iter it;
	const struct tensor *ops[2] = { a, b };
	engine_bcast_iter_init(&it, r, dims, ops, 2);
	void *y = c->out[0].data;
	for (size_t o = 0; o < c->out[0].count; o++) {
		size_t i = it.off[0], j = it.off[1];
		switch (a->dtype) {
		case TENSOR_F32:
			((float *)y)[o] = maxf(((const float *)a->data)[i],
			    ((const float *)b->data)[j], is_max);
			break;
#define MINMAX_INT(T)                                                       \
	{                                                                   \
		T u = ((const T *)a->data)[i], v = ((const T *)b->data)[j]; \
		((T *)y)[o] = (u > v) == is_max ? u : v;                    \
	}
		case TENSOR_I8:
			MINMAX_INT(int8_t);
			break;
		case TENSOR_I32:
			MINMAX_INT(int32_t);
			break;
		default:
			MINMAX_INT(int64_t);
			break;
#undef MINMAX_INT
		}
		engine_bcast_iter_next(&it);
	}
	return RF_OK;
}

int
engine_op_max_eval(const struct op_call *c)
{
	return minmax_eval(c, true);
}

int
engine_op_min_eval(const struct op_call *c)
{
	return minmax_eval(c, false);
}
