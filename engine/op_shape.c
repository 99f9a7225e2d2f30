/*
 * engine/op_shape.c - operators that move data without arithmetic:
 * Flatten, Reshape, Transpose, Concat and Gather, for every dtype.
 */
#include <string.h>

#include "engine/engine_int.h"

static int
copy_reshaped(const struct op_call *c, int rank, const int64_t *dims)
{
	const struct tensor *x = c->in[0];
	/* Compare counts before allocating: a wrong shape must not cost a
	 * zero-filled buffer of up to TENSOR_MAX_ELEMS elements first. */
	size_t count = 1;
	bool fits = true;
	for (int d = 0; d < rank && fits; d++) {
		fits = rf_size_mul(count, (size_t)dims[d], &count);
	}
	if (!fits || count != x->count) {
		return rf_errf(c->ei, RF_ERR_SHAPE,
		    "new shape does not hold the input's %zu elements",
		    x->count);
	}
	int err = engine_op_out_alloc(c, 0, x->dtype, rank, dims);
	if (err != RF_OK) {
		return err;
	}
	if (x->count > 0) {
		memcpy(c->out[0].data, x->data, engine_tensor_nbytes(x));
	}
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Flatten                                                              */
/* ------------------------------------------------------------------ */

int
engine_op_flatten_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	static const char *const known[] = { "axis", NULL };
	int64_t axis;
	int err = engine_op_attrs_only(at, known, "Flatten", ei);
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "axis", 1, -TENSOR_MAX_RANK,
		    TENSOR_MAX_RANK, &axis, ei);
	}
	if (err == RF_OK) {
		OP_PARAMS_PUT(p, axis);
	}
	return err;
}

/* [d0..d(axis-1)] and [d(axis)..] become two dimensions; axis may equal
 * the rank (then the second is 1). */
int
engine_op_flatten_eval(const struct op_call *c)
{
	int64_t axis;
	OP_PARAMS_GET(c->params, axis);
	const struct tensor *x = c->in[0];
	if (axis < 0) {
		axis += x->rank;
	}
	if (axis < 0 || axis > x->rank) {
		return rf_errf(c->ei, RF_ERR_INVAL,
		    "axis is out of range for rank %d", x->rank);
	}
	int64_t dims[2] = { 1, 1 };
	for (int d = 0; d < x->rank; d++) {
		dims[d < axis ? 0 : 1] *= x->dims[d];
	}
	return copy_reshaped(c, 2, dims);
}

/* ------------------------------------------------------------------ */
/* Reshape                                                              */
/* ------------------------------------------------------------------ */

int
engine_op_reshape_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	static const char *const known[] = { "allowzero", NULL };
	int64_t allowzero;
	int err = engine_op_attrs_only(at, known, "Reshape", ei);
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "allowzero", 0, 0, 1, &allowzero, ei);
	}
	if (err == RF_OK) {
		OP_PARAMS_PUT(p, allowzero);
	}
	return err;
}

/* The shape input: 0 copies the input's dimension (unless allowzero),
 * one -1 is inferred from the element count. */
int
engine_op_reshape_eval(const struct op_call *c)
{
	int64_t allowzero;
	OP_PARAMS_GET(c->params, allowzero);
	int err = engine_op_need_dtype(c, 1, TENSOR_I64);
	if (err != RF_OK) {
		return err;
	}
	const struct tensor *x = c->in[0];
	const struct tensor *shape = c->in[1];
	if (shape->rank != 1 || shape->count > TENSOR_MAX_RANK) {
		return rf_errf(c->ei, RF_ERR_SHAPE,
		    "shape must be 1-D with at most %d values",
		    TENSOR_MAX_RANK);
	}
	const int64_t *sd = shape->data;
	int rank = (int)shape->count;
	int64_t dims[TENSOR_MAX_RANK];
	int infer = -1;
	size_t known = 1;
	for (int d = 0; d < rank; d++) {
		int64_t v = sd[d];
		if (v == 0 && !allowzero) {
			if (d >= x->rank) {
				return rf_errf(c->ei, RF_ERR_SHAPE,
				    "shape[%d] = 0 copies a dimension the input "
				    "lacks", d);
			}
			v = x->dims[d];
		}
		if (v == -1) {
			if (infer >= 0) {
				return rf_errf(c->ei, RF_ERR_SHAPE,
				    "more than one -1 in shape");
			}
			infer = d;
			dims[d] = 1;
			continue;
		}
		if (v < 0 || v > TENSOR_MAX_DIM) {
			return rf_errf(c->ei, RF_ERR_SHAPE,
			    "shape[%d] = %lld is invalid", d, (long long)v);
		}
		dims[d] = v;
		if (!rf_size_mul(known, (size_t)v, &known)) {
			return rf_errf(c->ei, RF_ERR_RANGE, "shape overflows");
		}
	}
	if (infer >= 0) {
		if (known == 0 || x->count % known != 0) {
			return rf_errf(c->ei, RF_ERR_SHAPE,
			    "cannot infer -1: %zu elements do not divide by %zu",
			    x->count, known);
		}
		dims[infer] = (int64_t)(x->count / known);
	}
	return copy_reshaped(c, rank, dims);
}

/* ------------------------------------------------------------------ */
/* Transpose                                                            */
/* ------------------------------------------------------------------ */

struct transpose_params {
	int64_t perm[TENSOR_MAX_RANK];
	int64_t n; /* 0: reverse the dimensions */
};

int
engine_op_transpose_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	static const char *const known[] = { "perm", NULL };
	struct transpose_params tp;
	memset(&tp, 0, sizeof(tp));
	size_t n = 0;
	int err = engine_op_attrs_only(at, known, "Transpose", ei);
	if (err == RF_OK) {
		err = engine_op_attr_get_ints(at, "perm", 0, TENSOR_MAX_RANK, tp.perm,
		    &n, ei);
	}
	if (err != RF_OK) {
		return err;
	}
	bool seen[TENSOR_MAX_RANK] = { false };
	for (size_t i = 0; i < n; i++) {
		if (tp.perm[i] < 0 || tp.perm[i] >= (int64_t)n ||
		    seen[tp.perm[i]]) {
			return rf_errf(ei, RF_ERR_INVAL,
			    "attribute 'perm' is not a permutation");
		}
		seen[tp.perm[i]] = true;
	}
	tp.n = (int64_t)n;
	OP_PARAMS_PUT(p, tp);
	return RF_OK;
}

int
engine_op_transpose_eval(const struct op_call *c)
{
	struct transpose_params tp;
	OP_PARAMS_GET(c->params, tp);
	const struct tensor *x = c->in[0];
	int r = x->rank;
	int64_t perm[TENSOR_MAX_RANK];
	if (tp.n == 0) {
		for (int d = 0; d < r; d++) {
			perm[d] = r - 1 - d;
		}
	} else if (tp.n != r) {
		return rf_errf(c->ei, RF_ERR_SHAPE,
		    "perm has %lld entries for rank %d", (long long)tp.n, r);
	} else {
		memcpy(perm, tp.perm, sizeof(perm));
	}
	int64_t dims[TENSOR_MAX_RANK];
	size_t in_stride[TENSOR_MAX_RANK];
	size_t s = 1;
	for (int d = r - 1; d >= 0; d--) {
		in_stride[d] = s;
		s *= (size_t)x->dims[d];
	}
	size_t step[TENSOR_MAX_RANK]; /* input stride of output dim d */
	for (int d = 0; d < r; d++) {
		dims[d] = x->dims[perm[d]];
		step[d] = in_stride[perm[d]];
	}
	int err = engine_op_out_alloc(c, 0, x->dtype, r, dims);
	if (err != RF_OK || x->count == 0) {
		return err;
	}
	size_t esz = engine_tensor_dtype_size(x->dtype);
	const unsigned char *src = x->data;
	unsigned char *dst = c->out[0].data;
	int64_t idx[TENSOR_MAX_RANK] = { 0 };
	size_t off = 0;
	for (size_t o = 0; o < x->count; o++) {
		memcpy(dst + o * esz, src + off * esz, esz);
		for (int d = r - 1; d >= 0; d--) {
			idx[d]++;
			off += step[d];
			if (idx[d] < dims[d]) {
				break;
			}
			off -= step[d] * (size_t)dims[d];
			idx[d] = 0;
		}
	}
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Concat                                                               */
/* ------------------------------------------------------------------ */

int
engine_op_concat_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	static const char *const known[] = { "axis", NULL };
	int err = engine_op_attrs_only(at, known, "Concat", ei);
	if (err != RF_OK) {
		return err;
	}
	if (engine_op_attr_find(at, "axis") == NULL) {
		return rf_errf(ei, RF_ERR_INVAL, "attribute 'axis' is required");
	}
	int64_t axis;
	err = engine_op_attr_get_int(at, "axis", 0, -TENSOR_MAX_RANK,
	    TENSOR_MAX_RANK - 1, &axis, ei);
	if (err == RF_OK) {
		OP_PARAMS_PUT(p, axis);
	}
	return err;
}

int
engine_op_concat_eval(const struct op_call *c)
{
	int64_t axis64;
	OP_PARAMS_GET(c->params, axis64);
	const struct tensor *first = c->in[0];
	int axis;
	int err = engine_op_axis(c, axis64, first->rank, &axis);
	if (err != RF_OK) {
		return err;
	}
	int64_t dims[TENSOR_MAX_RANK];
	memcpy(dims, first->dims, sizeof(dims));
	dims[axis] = 0;
	for (size_t i = 0; i < c->n_in; i++) {
		const struct tensor *t = c->in[i];
		if (t == NULL) {
			return rf_errf(c->ei, RF_ERR_INVAL, "input %zu is missing",
			    i);
		}
		if (t->dtype != first->dtype) {
			return rf_errf(c->ei, RF_ERR_DTYPE,
			    "input %zu is %s, input 0 is %s", i,
			    engine_tensor_dtype_name(t->dtype),
			    engine_tensor_dtype_name(first->dtype));
		}
		bool ok = t->rank == first->rank;
		for (int d = 0; ok && d < t->rank; d++) {
			ok = d == axis || t->dims[d] == first->dims[d];
		}
		if (!ok) {
			return rf_errf(c->ei, RF_ERR_SHAPE,
			    "input %zu does not match input 0 off the axis", i);
		}
		dims[axis] += t->dims[axis];
		if (dims[axis] > TENSOR_MAX_DIM) {
			return rf_errf(c->ei, RF_ERR_RANGE, "result too large");
		}
	}
	err = engine_op_out_alloc(c, 0, first->dtype, first->rank, dims);
	if (err != RF_OK || c->out[0].count == 0) {
		return err;
	}
	size_t esz = engine_tensor_dtype_size(first->dtype);
	size_t outer = 1, inner = esz;
	for (int d = 0; d < axis; d++) {
		outer *= (size_t)dims[d];
	}
	for (int d = axis + 1; d < first->rank; d++) {
		inner *= (size_t)dims[d];
	}
	unsigned char *dst = c->out[0].data;
	size_t row = (size_t)dims[axis] * inner;
	size_t at = 0;
	for (size_t i = 0; i < c->n_in; i++) {
		const struct tensor *t = c->in[i];
		size_t chunk = (size_t)t->dims[axis] * inner;
		const unsigned char *src = t->data;
		for (size_t o = 0; o < outer && chunk > 0; o++) {
			memcpy(dst + o * row + at, src + o * chunk, chunk);
		}
		at += chunk;
	}
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Gather                                                               */
/* ------------------------------------------------------------------ */

int
engine_op_gather_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	static const char *const known[] = { "axis", NULL };
	int64_t axis;
	int err = engine_op_attrs_only(at, known, "Gather", ei);
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "axis", 0, -TENSOR_MAX_RANK,
		    TENSOR_MAX_RANK - 1, &axis, ei);
	}
	if (err == RF_OK) {
		OP_PARAMS_PUT(p, axis);
	}
	return err;
}

/* out = data[:axis] + indices.shape + data[axis+1:]; negative indices
 * count from the end; an index out of range is an error. */
int
engine_op_gather_eval(const struct op_call *c)
{
	int64_t axis64;
	OP_PARAMS_GET(c->params, axis64);
	const struct tensor *data = c->in[0];
	const struct tensor *ind = c->in[1];
	if (ind->dtype != TENSOR_I64 && ind->dtype != TENSOR_I32) {
		return rf_errf(c->ei, RF_ERR_DTYPE,
		    "indices must be i32 or i64, got %s",
		    engine_tensor_dtype_name(ind->dtype));
	}
	int axis;
	int err = engine_op_axis(c, axis64, data->rank, &axis);
	if (err != RF_OK) {
		return err;
	}
	int rank = data->rank - 1 + ind->rank;
	if (rank > TENSOR_MAX_RANK) {
		return rf_errf(c->ei, RF_ERR_RANGE, "result rank %d over %d",
		    rank, TENSOR_MAX_RANK);
	}
	int64_t dims[TENSOR_MAX_RANK];
	int r = 0;
	for (int d = 0; d < axis; d++) {
		dims[r++] = data->dims[d];
	}
	for (int d = 0; d < ind->rank; d++) {
		dims[r++] = ind->dims[d];
	}
	for (int d = axis + 1; d < data->rank; d++) {
		dims[r++] = data->dims[d];
	}
	int64_t n = data->dims[axis];
	for (size_t i = 0; i < ind->count; i++) {
		int64_t v = ind->dtype == TENSOR_I64 ?
		    ((const int64_t *)ind->data)[i] :
		    ((const int32_t *)ind->data)[i];
		if (v < -n || v >= n) {
			return rf_errf(c->ei, RF_ERR_RANGE,
			    "index %lld is out of range for size %lld",
			    (long long)v, (long long)n);
		}
	}
	err = engine_op_out_alloc(c, 0, data->dtype, rank, dims);
	if (err != RF_OK || c->out[0].count == 0) {
		return err;
	}
	size_t esz = engine_tensor_dtype_size(data->dtype);
	size_t outer = 1, inner = esz;
	for (int d = 0; d < axis; d++) {
		outer *= (size_t)data->dims[d];
	}
	for (int d = axis + 1; d < data->rank; d++) {
		inner *= (size_t)data->dims[d];
	}
	const unsigned char *src = data->data;
	unsigned char *dst = c->out[0].data;
	for (size_t o = 0; o < outer; o++) {
		for (size_t i = 0; i < ind->count; i++) {
			int64_t v = ind->dtype == TENSOR_I64 ?
			    ((const int64_t *)ind->data)[i] :
			    ((const int32_t *)ind->data)[i];
			if (v < 0) {
				v += n;
			}
			memcpy(dst + (o * ind->count + i) * inner,
			    src + (o * (size_t)n + (size_t)v) * inner, inner);
		}
	}
	return RF_OK;
}
