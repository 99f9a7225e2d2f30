/*
 * engine/op_quant.c - QuantizeLinear and DequantizeLinear, per tensor or
 * per axis: what PyTorch's static int8 export (QDQ) writes around every
 * quantized layer.
 *
 * The engine's quantized type is int8. ONNX uint8 values are held as
 * int8 q - 128 by the importer (docs/onnx.md), zero points included:
 * x - zp, and sat_u8(v + zp) - 128 = sat_i8(v + (zp - 128)), are the same
 * there, so both operators need no uint8 case.
 *
 *   QuantizeLinear    q = x / scale (one float division, as ONNX
 *                     writes it), rounded half to even (det_rint), plus
 *                     zp, saturated to [-128, 127]; a NaN quotient
 *                     counts as 0.
 *   DequantizeLinear  y = (float)(x - zp) * scale: the difference exact
 *                     in int64, converted to float (correctly rounded),
 *                     one float product. int32 input (biases) too.
 */
#include <stdint.h>
#include <string.h>

#include "engine/engine_int.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

int
engine_op_quant_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	static const char *const known[] = { "axis", NULL };
	int64_t axis;
	int err = engine_op_attrs_only(at, known, "QuantizeLinear", ei);
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "axis", 1, -TENSOR_MAX_RANK,
		    TENSOR_MAX_RANK - 1, &axis, ei);
	}
	if (err == RF_OK) {
		OP_PARAMS_PUT(p, axis);
	}
	return err;
}

/*
 * Scale (f32) and zero point (dtype zdt, optional): one value each, or
 * 1-D of x's size along axis. *inner and *n describe how an element's
 * index maps to its parameter: (i / inner) % n.
 */
static int
qparams(const struct op_call *c, enum tensor_dtype zdt, size_t *inner,
    size_t *n)
{
	int64_t axis64;
	OP_PARAMS_GET(c->params, axis64);
	const struct tensor *x = c->in[0], *s = c->in[1];
	const struct tensor *z = c->n_in > 2 ? c->in[2] : NULL;
	int err = engine_op_need_dtype(c, 1, TENSOR_F32);
	if (err == RF_OK && z != NULL) {
		err = engine_op_need_dtype(c, 2, zdt);
	}
	if (err != RF_OK) {
		return err;
	}
	*inner = 1;
	*n = 1;
	if (s->count == 1 && s->rank <= 1) {
		if (z != NULL && (z->count != 1 || z->rank > 1)) {
			return rf_errf(c->ei, RF_ERR_SHAPE,
			    "the zero point must have the scale's shape");
		}
		return RF_OK;
	}
	int axis;
	err = engine_op_axis(c, axis64, x->rank, &axis);
	if (err != RF_OK) {
		return err;
	}
	if (s->rank != 1 || s->dims[0] != x->dims[axis]) {
		return rf_errf(c->ei, RF_ERR_SHAPE,
		    "a per-axis scale must be 1-D of the input's size along "
		    "axis %d (%lld)", axis, (long long)x->dims[axis]);
	}
	if (z != NULL && (z->rank != 1 || z->dims[0] != s->dims[0])) {
		return rf_errf(c->ei, RF_ERR_SHAPE,
		    "the zero point must have the scale's shape");
	}
	for (int d = axis + 1; d < x->rank; d++) {
		*inner *= (size_t)x->dims[d];
	}
	*n = (size_t)x->dims[axis];
	return RF_OK;
}

static int64_t
zp_at(const struct tensor *z, size_t k)
{
	if (z == NULL) {
		return 0;
	}
	switch (z->dtype) {
	case TENSOR_I8:
		return ((const int8_t *)z->data)[k];
	case TENSOR_I32:
		return ((const int32_t *)z->data)[k];
	default:
		return 0;
	}
}

int
engine_op_quantizelinear_eval(const struct op_call *c)
{
	const struct tensor *x = c->in[0];
	const struct tensor *z = c->n_in > 2 ? c->in[2] : NULL;
	size_t inner, n;
	int err = engine_op_need_dtype(c, 0, TENSOR_F32);
	if (err == RF_OK) {
		err = qparams(c, TENSOR_I8, &inner, &n);
	}
	if (err == RF_OK) {
		err = engine_op_out_alloc(c, 0, TENSOR_I8, x->rank, x->dims);
	}
	if (err != RF_OK) {
		return err;
	}
	const float *xd = x->data, *sd = c->in[1]->data;
	int8_t *y = c->out[0].data;
	for (size_t i = 0; i < x->count; i++) {
		size_t k = (i / inner) % n;
		float q = xd[i] / sd[k];
		double r = q == q ? engine_det_rint((double)q) : 0.0;
		double v = r + (double)zp_at(z, k);
		v = v < -128.0 ? -128.0 : (v > 127.0 ? 127.0 : v);
		y[i] = (int8_t)v;
	}
	return RF_OK;
}

int
engine_op_dequantizelinear_eval(const struct op_call *c)
{
	const struct tensor *x = c->in[0];
	const struct tensor *z = c->n_in > 2 ? c->in[2] : NULL;
	if (x->dtype != TENSOR_I8 && x->dtype != TENSOR_I32) {
		return rf_errf(c->ei, RF_ERR_DTYPE,
		    "input 0 must be i8 or i32, got %s",
		    engine_tensor_dtype_name(x->dtype));
	}
	size_t inner, n;
	int err = qparams(c, x->dtype, &inner, &n);
	if (err == RF_OK) {
		err = engine_op_out_alloc(c, 0, TENSOR_F32, x->rank, x->dims);
	}
	if (err != RF_OK) {
		return err;
	}
	const float *sd = c->in[1]->data;
	float *y = c->out[0].data;
	for (size_t i = 0; i < x->count; i++) {
		size_t k = (i / inner) % n;
		int64_t q = x->dtype == TENSOR_I8 ?
		    ((const int8_t *)x->data)[i] :
		    ((const int32_t *)x->data)[i];
		y[i] = (float)(q - zp_at(z, k)) * sd[k];
	}
	return RF_OK;
}
