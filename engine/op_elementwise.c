/*
 * engine/op_elementwise.c - Add, Sub, Mul, Div with NumPy broadcasting
 * (f32, i32, i64), and the unary activations Relu, Sigmoid, Tanh, Gelu.
 *
 * Every element is one IEEE operation or one det_* function, so there is
 * no order to fix. Integer arithmetic wraps modulo 2^n (done in unsigned
 * types); integer division truncates, and division by zero or the one
 * overflowing quotient (MIN / -1) is an error, not undefined behaviour.
 */
#include <stdint.h>
#include <string.h>

#include "engine/engine_int.h"

enum binop { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV };

static const char *const binop_name[] = { "Add", "Sub", "Mul", "Div" };

/*
 * One loop per operator and stride pattern (both operands contiguous, or
 * one of them a broadcast scalar), so the compiler vectorises the common
 * cases; each element is still the one IEEE operation of the definition.
 */
#define BIN_F32_LOOPS(EXPR)                                                 \
	do {                                                                \
		if (sa == 1 && sb == 1) {                                   \
			for (size_t i = 0; i < n; i++) {                    \
				float x = a[i], z = b[i];                   \
				y[i] = EXPR;                                \
			}                                                   \
		} else if (sa == 1 && sb == 0) {                            \
			float z = b[0];                                     \
			for (size_t i = 0; i < n; i++) {                    \
				float x = a[i];                             \
				y[i] = EXPR;                                \
			}                                                   \
		} else if (sa == 0 && sb == 1) {                            \
			float x = a[0];                                     \
			for (size_t i = 0; i < n; i++) {                    \
				float z = b[i];                             \
				y[i] = EXPR;                                \
			}                                                   \
		} else {                                                    \
			for (size_t i = 0; i < n; i++) {                    \
				float x = a[i * sa], z = b[i * sb];         \
				y[i] = EXPR;                                \
			}                                                   \
		}                                                           \
	} while (0)

static void
bin_f32(enum binop op, const float *restrict a, size_t sa,
    const float *restrict b, size_t sb, float *restrict y, size_t n)
{
	switch (op) {
	case BIN_ADD:
		BIN_F32_LOOPS(x + z);
		break;
	case BIN_SUB:
		BIN_F32_LOOPS(x - z);
		break;
	case BIN_MUL:
		BIN_F32_LOOPS(x * z);
		break;
	case BIN_DIV:
		BIN_F32_LOOPS(x / z);
		break;
	}
}

#define DEFINE_BIN_INT(NAME, T, UT, TMIN)                                   \
	static int NAME(enum binop op, const T *a, size_t sa, const T *b,   \
	    size_t sb, T *y, size_t n)                                      \
	{                                                                   \
		for (size_t i = 0; i < n; i++) {                            \
			T x = a[i * sa];                                    \
			T z = b[i * sb];                                    \
			switch (op) {                                       \
			case BIN_ADD:                                       \
				y[i] = (T)((UT)x + (UT)z);                  \
				break;                                      \
			case BIN_SUB:                                       \
				y[i] = (T)((UT)x - (UT)z);                  \
				break;                                      \
			case BIN_MUL:                                       \
				y[i] = (T)((UT)x * (UT)z);                  \
				break;                                      \
			case BIN_DIV:                                       \
				if (z == 0 || (x == TMIN && z == -1)) {     \
					return RF_ERR_RANGE;                \
				}                                           \
				y[i] = x / z;                               \
				break;                                      \
			}                                                   \
		}                                                           \
		return RF_OK;                                               \
	}

DEFINE_BIN_INT(bin_i32, int32_t, uint32_t, INT32_MIN)
DEFINE_BIN_INT(bin_i64, int64_t, uint64_t, INT64_MIN)

static int
binary_eval(const struct op_call *c, enum binop op)
{
	const struct tensor *a = c->in[0];
	const struct tensor *b = c->in[1];
	if (a->dtype != b->dtype) {
		return rf_errf(c->ei, RF_ERR_DTYPE, "operands are %s and %s",
		    engine_tensor_dtype_name(a->dtype), engine_tensor_dtype_name(b->dtype));
	}
	if (a->dtype == TENSOR_I8) {
		return rf_errf(c->ei, RF_ERR_DTYPE, "%s does not take i8",
		    binop_name[op]);
	}
	int r;
	int64_t dims[TENSOR_MAX_RANK];
	int err = engine_tensor_broadcast_shape(a->rank, a->dims, b->rank, b->dims, &r,
	    dims, c->ei);
	if (err != RF_OK) {
		return err;
	}
	err = engine_op_out_alloc(c, 0, a->dtype, r, dims);
	if (err != RF_OK) {
		return err;
	}
	/* Element strides of each operand in the output's index space; a
	 * broadcast dimension has stride 0. */
	size_t st_a[TENSOR_MAX_RANK], st_b[TENSOR_MAX_RANK];
	size_t pa = 1, pb = 1;
	for (int d = r - 1; d >= 0; d--) {
		int da = d - (r - a->rank);
		int db = d - (r - b->rank);
		int64_t na = da >= 0 ? a->dims[da] : 1;
		int64_t nb = db >= 0 ? b->dims[db] : 1;
		st_a[d] = na == 1 ? 0 : pa;
		st_b[d] = nb == 1 ? 0 : pb;
		pa *= (size_t)na;
		pb *= (size_t)nb;
	}
	struct tensor *y = &c->out[0];
	if (y->count == 0) {
		return RF_OK;
	}
	size_t inner = r > 0 ? (size_t)dims[r - 1] : 1;
	size_t ia = r > 0 ? st_a[r - 1] : 0;
	size_t ib = r > 0 ? st_b[r - 1] : 0;
	size_t rows = y->count / inner;
	size_t esz = engine_tensor_dtype_size(a->dtype);
	int64_t idx[TENSOR_MAX_RANK] = { 0 };
	size_t off_a = 0, off_b = 0;
	for (size_t row = 0; row < rows; row++) {
		const unsigned char *ap = (const unsigned char *)a->data +
		    off_a * esz;
		const unsigned char *bp = (const unsigned char *)b->data +
		    off_b * esz;
		unsigned char *yp = (unsigned char *)y->data + row * inner * esz;
		switch (a->dtype) {
		case TENSOR_F32:
			bin_f32(op, (const float *)ap, ia, (const float *)bp, ib,
			    (float *)yp, inner);
			break;
		case TENSOR_I32:
			err = bin_i32(op, (const int32_t *)ap, ia,
			    (const int32_t *)bp, ib, (int32_t *)yp, inner);
			break;
		case TENSOR_I64:
			err = bin_i64(op, (const int64_t *)ap, ia,
			    (const int64_t *)bp, ib, (int64_t *)yp, inner);
			break;
		case TENSOR_I8:
			break;
		}
		if (err != RF_OK) {
			engine_tensor_fini(y);
			return rf_errf(c->ei, err,
			    "integer division by zero or overflow");
		}
		/* Advance the multi-index over all but the last dimension. */
		for (int d = r - 2; d >= 0; d--) {
			idx[d]++;
			off_a += st_a[d];
			off_b += st_b[d];
			if (idx[d] < dims[d]) {
				break;
			}
			off_a -= st_a[d] * (size_t)dims[d];
			off_b -= st_b[d] * (size_t)dims[d];
			idx[d] = 0;
		}
	}
	return RF_OK;
}

int
engine_op_add_eval(const struct op_call *c)
{
	return binary_eval(c, BIN_ADD);
}

int
engine_op_sub_eval(const struct op_call *c)
{
	return binary_eval(c, BIN_SUB);
}

int
engine_op_mul_eval(const struct op_call *c)
{
	return binary_eval(c, BIN_MUL);
}

int
engine_op_div_eval(const struct op_call *c)
{
	return binary_eval(c, BIN_DIV);
}

/* ------------------------------------------------------------------ */
/* Unary activations (f32)                                              */
/* ------------------------------------------------------------------ */

enum unop { UN_RELU, UN_SIGMOID, UN_TANH, UN_GELU, UN_GELU_TANH };

/* One loop per function, each calling it directly (no pointer per
 * element); Relu's loop is plain enough to vectorise. */
static void
unary_f32(enum unop op, const float *restrict x, float *restrict y,
    size_t n)
{
	switch (op) {
	case UN_RELU:
		/* Negative values become +0; -0 and NaN pass through (the run
		 * then canonicalises NaN, engine/run.c). */
		for (size_t i = 0; i < n; i++) {
			y[i] = x[i] < 0.0f ? 0.0f : x[i];
		}
		break;
	case UN_SIGMOID:
		for (size_t i = 0; i < n; i++) {
			y[i] = engine_det_sigmoidf(x[i]);
		}
		break;
	case UN_TANH:
		for (size_t i = 0; i < n; i++) {
			y[i] = engine_det_tanhf(x[i]);
		}
		break;
	case UN_GELU:
		for (size_t i = 0; i < n; i++) {
			y[i] = engine_det_geluf(x[i]);
		}
		break;
	case UN_GELU_TANH:
		for (size_t i = 0; i < n; i++) {
			y[i] = engine_det_gelu_tanhf(x[i]);
		}
		break;
	}
}

static int
unary_eval(const struct op_call *c, enum unop op)
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
	unary_f32(op, x->data, c->out[0].data, x->count);
	return RF_OK;
}

int
engine_op_relu_eval(const struct op_call *c)
{
	return unary_eval(c, UN_RELU);
}

int
engine_op_sigmoid_eval(const struct op_call *c)
{
	return unary_eval(c, UN_SIGMOID);
}

int
engine_op_tanh_eval(const struct op_call *c)
{
	return unary_eval(c, UN_TANH);
}

int
engine_op_gelu_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	static const char *const known[] = { "approximate", NULL };
	int err = engine_op_attrs_only(at, known, "Gelu", ei);
	if (err != RF_OK) {
		return err;
	}
	int64_t tanh_form = 0;
	const struct engine_attr *a = engine_op_attr_find(at, "approximate");
	if (a != NULL) {
		if (a->type != ENGINE_ATTR_STRING) {
			return rf_errf(ei, RF_ERR_INVAL,
			    "attribute 'approximate' must be a string");
		}
		if (a->count == 4 && memcmp(a->v.str, "tanh", 4) == 0) {
			tanh_form = 1;
		} else if (!(a->count == 4 && memcmp(a->v.str, "none", 4) == 0)) {
			return rf_errf(ei, RF_ERR_INVAL,
			    "attribute 'approximate' must be 'none' or 'tanh'");
		}
	}
	OP_PARAMS_PUT(p, tanh_form);
	return RF_OK;
}

int
engine_op_gelu_eval(const struct op_call *c)
{
	int64_t tanh_form;
	OP_PARAMS_GET(c->params, tanh_form);
	return unary_eval(c, tanh_form ? UN_GELU_TANH : UN_GELU);
}
