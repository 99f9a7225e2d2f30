/*
 * engine/op_elementwise.c - Add, Sub, Mul, Div with NumPy broadcasting
 * (f32, i32, i64), and the unary activations Relu, Sigmoid, Tanh, Gelu.
 *
 * Every element is one IEEE operation or one det_* function, so there is
 * no order to fix. Integer arithmetic wraps modulo 2^n (done in unsigned
 * types); integer division truncates, and division by zero or the one
 * overflowing quotient (MIN / -1) is an error, not undefined behaviour.
 */
#include <stdatomic.h>
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

/* Rows [begin, end) of a broadcast binary operation: each row of the
 * output's last dimension is one strided loop. */
struct bin_rows {
	enum binop op;
	const struct tensor *a, *b;
	struct tensor *y;
	int r;
	int64_t dims[TENSOR_MAX_RANK];
	size_t st_a[TENSOR_MAX_RANK], st_b[TENSOR_MAX_RANK];
	size_t inner, ia, ib;
	size_t esz;
	_Atomic int err;
};

static void
bin_rows_run(void *ctx, size_t begin, size_t end)
{
	struct bin_rows *p = ctx;
	const int r = p->r;
	/* The multi-index of row `begin` over all but the last dimension. */
	int64_t idx[TENSOR_MAX_RANK] = { 0 };
	size_t off_a = 0, off_b = 0, rest = begin;
	for (int d = r - 2; d >= 0; d--) {
		idx[d] = (int64_t)(rest % (size_t)p->dims[d]);
		rest /= (size_t)p->dims[d];
		off_a += (size_t)idx[d] * p->st_a[d];
		off_b += (size_t)idx[d] * p->st_b[d];
	}
	for (size_t row = begin; row < end; row++) {
		const unsigned char *ap = (const unsigned char *)p->a->data +
		    off_a * p->esz;
		const unsigned char *bp = (const unsigned char *)p->b->data +
		    off_b * p->esz;
		unsigned char *yp = (unsigned char *)p->y->data +
		    row * p->inner * p->esz;
		int err = RF_OK;
		switch (p->a->dtype) {
		case TENSOR_F32:
			bin_f32(p->op, (const float *)ap, p->ia,
			    (const float *)bp, p->ib, (float *)yp, p->inner);
			break;
		case TENSOR_I32:
			err = bin_i32(p->op, (const int32_t *)ap, p->ia,
			    (const int32_t *)bp, p->ib, (int32_t *)yp, p->inner);
			break;
		case TENSOR_I64:
			err = bin_i64(p->op, (const int64_t *)ap, p->ia,
			    (const int64_t *)bp, p->ib, (int64_t *)yp, p->inner);
			break;
		case TENSOR_I8:
			break;
		}
		if (err != RF_OK) {
			atomic_store(&p->err, err);
			return;
		}
		/* Advance the multi-index over all but the last dimension. */
		for (int d = r - 2; d >= 0; d--) {
			idx[d]++;
			off_a += p->st_a[d];
			off_b += p->st_b[d];
			if (idx[d] < p->dims[d]) {
				break;
			}
			off_a -= p->st_a[d] * (size_t)p->dims[d];
			off_b -= p->st_b[d] * (size_t)p->dims[d];
			idx[d] = 0;
		}
	}
}

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
	struct bin_rows br = { op, a, b, y, r, { 0 }, { 0 }, { 0 }, 0, 0, 0,
		engine_tensor_dtype_size(a->dtype), 0 };
	memcpy(br.dims, dims, sizeof(dims));
	memcpy(br.st_a, st_a, sizeof(st_a));
	memcpy(br.st_b, st_b, sizeof(st_b));
	br.inner = r > 0 ? (size_t)dims[r - 1] : 1;
	br.ia = r > 0 ? st_a[r - 1] : 0;
	br.ib = r > 0 ? st_b[r - 1] : 0;
	/* Rows are independent: threads take ranges of them. */
	engine_par_range(y->count / br.inner, br.inner, 1, bin_rows_run, &br);
	err = atomic_load(&br.err);
	if (err != RF_OK) {
		engine_tensor_fini(y);
		return rf_errf(c->ei, err,
		    "integer division by zero or overflow");
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

struct un_range {
	enum unop op;
	const float *x;
	float *y;
};

static void
un_range_run(void *ctx, size_t begin, size_t end)
{
	const struct un_range *p = ctx;
	unary_f32(p->op, p->x + begin, p->y + begin, end - begin);
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
	struct un_range ur = { op, x->data, c->out[0].data };
	/* Relu is one compare an element, the others a few dozen flops. */
	engine_par_range(x->count, op == UN_RELU ? 1 : 64, 64, un_range_run,
	    &ur);
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
