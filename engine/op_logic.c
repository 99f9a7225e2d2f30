/*
 * engine/op_logic.c - comparisons and logic on run-time values: Equal,
 * Less, Greater, Not, And, Or.
 *
 * The engine has no bool dtype: a bool is i8 0 or 1 (as Where's condition
 * has always been), so the model format and the trace encoding stay as
 * they are. Comparisons take two operands of one dtype with NumPy
 * broadcasting and give 1 where the IEEE comparison holds (a NaN compares
 * false, -0 equals +0); Not, And and Or take i8 and treat any non-zero
 * byte as true. Nothing is rounded, so there is no order to fix.
 */
#include <stdint.h>
#include <string.h>

#include "engine/engine_int.h"

enum cmp_kind { CMP_EQ, CMP_LT, CMP_GT, LOG_AND, LOG_OR };

#define CMP_CASE(T)                                                         \
	{                                                                   \
		T u = ((const T *)a->data)[i], v = ((const T *)b->data)[j]; \
		cr = k == CMP_EQ ? u == v : (k == CMP_LT ? u < v : u > v);  \
	}

static int
binary_bool(const struct op_call *c, enum cmp_kind k)
{
	const struct tensor *a = c->in[0], *b = c->in[1];
	bool logic = k == LOG_AND || k == LOG_OR;
	if (logic) {
		int err = engine_op_need_dtype(c, 0, TENSOR_I8);
		if (err == RF_OK) {
			err = engine_op_need_dtype(c, 1, TENSOR_I8);
		}
		if (err != RF_OK) {
			return err;
		}
	} else if (a->dtype != b->dtype) {
		return rf_errf(c->ei, RF_ERR_DTYPE,
		    "operands have different types (%s and %s)",
		    engine_tensor_dtype_name(a->dtype),
		    engine_tensor_dtype_name(b->dtype));
	}
	int r;
	int64_t dims[TENSOR_MAX_RANK];
	int err = engine_tensor_broadcast_shape(a->rank, a->dims, b->rank,
	    b->dims, &r, dims, c->ei);
	if (err == RF_OK) {
		err = engine_op_out_alloc(c, 0, TENSOR_I8, r, dims);
	}
	if (err != RF_OK || c->out[0].count == 0) {
		return err;
	}
	struct bcast_iter it;
	const struct tensor *ops[2] = { a, b };
	engine_bcast_iter_init(&it, r, dims, ops, 2);
	int8_t *y = c->out[0].data;
	for (size_t o = 0; o < c->out[0].count; o++) {
		size_t i = it.off[0], j = it.off[1];
		bool res;
		if (logic) {
			bool u = ((const int8_t *)a->data)[i] != 0;
			bool v = ((const int8_t *)b->data)[j] != 0;
			res = k == LOG_AND ? u && v : u || v;
		} else {
			bool cr = false;
			switch (a->dtype) {
			case TENSOR_F32:
				CMP_CASE(float);
				break;
			case TENSOR_I8:
				CMP_CASE(int8_t);
				break;
			case TENSOR_I32:
				CMP_CASE(int32_t);
				break;
			default:
				CMP_CASE(int64_t);
				break;
			}
			res = cr;
		}
		y[o] = res ? 1 : 0;
		engine_bcast_iter_next(&it);
	}
	return RF_OK;
}

int
engine_op_equal_eval(const struct op_call *c)
{
	return binary_bool(c, CMP_EQ);
}

int
engine_op_less_eval(const struct op_call *c)
{
	return binary_bool(c, CMP_LT);
}

int
engine_op_greater_eval(const struct op_call *c)
{
	return binary_bool(c, CMP_GT);
}

int
engine_op_and_eval(const struct op_call *c)
{
	return binary_bool(c, LOG_AND);
}

int
engine_op_or_eval(const struct op_call *c)
{
	return binary_bool(c, LOG_OR);
}

int
engine_op_not_eval(const struct op_call *c)
{
	const struct tensor *x = c->in[0];
	int err = engine_op_need_dtype(c, 0, TENSOR_I8);
	if (err == RF_OK) {
		err = engine_op_out_alloc(c, 0, TENSOR_I8, x->rank, x->dims);
	}
	if (err != RF_OK) {
		return err;
	}
	const int8_t *xd = x->data;
	int8_t *y = c->out[0].data;
	for (size_t i = 0; i < x->count; i++) {
		y[i] = xd[i] == 0 ? 1 : 0;
	}
	return RF_OK;
}
