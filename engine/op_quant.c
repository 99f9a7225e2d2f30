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
#include "engine/pool_int.h"

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

/* ------------------------------------------------------------------ */
/* QLinearConv                                                          */
/* ------------------------------------------------------------------ */

struct qconv_params {
	struct window_params w;
	int64_t group;
};

int
engine_op_qlinearconv_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	static const char *const known[] = { "auto_pad", "dilations", "group",
		"kernel_shape", "pads", "strides", NULL };
	struct qconv_params qp;
	int err = engine_op_attrs_only(at, known, "QLinearConv", ei);
	if (err == RF_OK) {
		err = engine_window_parse(at, false, &qp.w, ei);
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "group", 1, 1, 65536, &qp.group,
		    ei);
	}
	if (err == RF_OK) {
		OP_PARAMS_PUT(p, qp);
	}
	return err;
}

/* A positive, finite f32 scale, or an i8 zero point: one value, or (per
 * output channel, for the weight's) m values. */
static int
qc_param(const struct op_call *c, size_t i, enum tensor_dtype dt, size_t m,
    bool per_channel_ok)
{
	const struct tensor *t = c->in[i];
	int err = engine_op_need_dtype(c, i, dt);
	if (err != RF_OK) {
		return err;
	}
	if (t->rank > 1 || (t->count != 1 && !(per_channel_ok &&
	    t->count == m))) {
		return rf_errf(c->ei, RF_ERR_SHAPE,
		    "input %zu must be one value%s", i,
		    per_channel_ok ? " or one per output channel" : "");
	}
	for (size_t k = 0; dt == TENSOR_F32 && k < t->count; k++) {
		float f = ((const float *)t->data)[k];
		if (!(f > 0.0f) || f > 3.4e38f) {
			return rf_errf(c->ei, RF_ERR_INVAL,
			    "input %zu: scale must be positive and finite", i);
		}
	}
	return RF_OK;
}

/*
 * acc = sum over the group's input channels c, kernel rows i and columns
 * j of (x - x_zp) * (w - w_zp), padding contributing 0, in int32
 * (wrapping, so order-free), plus the int32 bias; then
 * y = sat_i8(det_rint(acc * ((double)x_scale * w_scale) / y_scale) + y_zp)
 * as QLinearMatMul.
 */
int
engine_op_qlinearconv_eval(const struct op_call *c)
{
	struct qconv_params qp;
	OP_PARAMS_GET(c->params, qp);
	const struct tensor *x = c->in[0], *w = c->in[3];
	const struct tensor *bias = c->n_in > 8 ? c->in[8] : NULL;
	int err = engine_op_need_dtype(c, 0, TENSOR_I8);
	if (err == RF_OK) {
		err = engine_op_need_dtype(c, 3, TENSOR_I8);
	}
	if (err != RF_OK) {
		return err;
	}
	if (x->rank != 4 || w->rank != 4) {
		return rf_errf(c->ei, RF_ERR_NOTSUP,
		    "only 2-D convolution ([N, C, H, W]) is supported");
	}
	int64_t n = x->dims[0], cin = x->dims[1], h = x->dims[2],
		wd = x->dims[3];
	int64_t m = w->dims[0], kh = w->dims[2], kw = w->dims[3];
	int64_t grp = qp.group;
	if (cin % grp != 0 || m % grp != 0 || w->dims[1] != cin / grp ||
	    kh < 1 || kw < 1) {
		return rf_errf(c->ei, RF_ERR_SHAPE,
		    "weight [%lld, %lld, %lld, %lld] does not fit %lld input "
		    "channels in %lld groups", (long long)m,
		    (long long)w->dims[1], (long long)kh, (long long)kw,
		    (long long)cin, (long long)grp);
	}
	if (qp.w.has_kernel &&
	    (qp.w.kernel[0] != kh || qp.w.kernel[1] != kw)) {
		return rf_errf(c->ei, RF_ERR_SHAPE,
		    "kernel_shape does not match the weight");
	}
	err = qc_param(c, 1, TENSOR_F32, (size_t)m, false);
	if (err == RF_OK) {
		err = qc_param(c, 2, TENSOR_I8, (size_t)m, false);
	}
	if (err == RF_OK) {
		err = qc_param(c, 4, TENSOR_F32, (size_t)m, true);
	}
	if (err == RF_OK) {
		err = qc_param(c, 5, TENSOR_I8, (size_t)m, true);
	}
	if (err == RF_OK) {
		err = qc_param(c, 6, TENSOR_F32, (size_t)m, false);
	}
	if (err == RF_OK) {
		err = qc_param(c, 7, TENSOR_I8, (size_t)m, false);
	}
	if (err == RF_OK && bias != NULL) {
		err = engine_op_need_dtype(c, 8, TENSOR_I32);
		if (err == RF_OK && (bias->rank != 1 || bias->dims[0] != m)) {
			err = rf_errf(c->ei, RF_ERR_SHAPE, "bias must be [%lld]",
			    (long long)m);
		}
	}
	if (err != RF_OK) {
		return err;
	}
	int64_t in[2] = { h, wd };
	int64_t kern[2] = { kh, kw };
	struct window_geom g;
	err = engine_window_geometry(c, &qp.w, in, kern, false, &g);
	if (err != RF_OK) {
		return err;
	}
	int64_t oh = g.out[0], ow = g.out[1];
	int64_t dims[4] = { n, m, oh, ow };
	err = engine_op_out_alloc(c, 0, TENSOR_I8, 4, dims);
	if (err != RF_OK) {
		return err;
	}
	const int8_t *xd = x->data, *wdat = w->data;
	const float *ws = c->in[4]->data;
	const int8_t *wz = c->in[5]->data;
	int32_t xz = *(const int8_t *)c->in[2]->data;
	double xs = (double)*(const float *)c->in[1]->data;
	double ys = (double)*(const float *)c->in[6]->data;
	double yz = (double)*(const int8_t *)c->in[7]->data;
	const int32_t *bd = bias != NULL ? bias->data : NULL;
	int8_t *y = c->out[0].data;
	int64_t cg = cin / grp, mg = m / grp;
	for (int64_t b = 0; b < n; b++) {
		for (int64_t oc = 0; oc < m; oc++) {
			int64_t gi = oc / mg;
			size_t pk = c->in[4]->count > 1 ? (size_t)oc : 0;
			int32_t wzp = wz[c->in[5]->count > 1 ? (size_t)oc : 0];
			double mult = (xs * (double)ws[pk]) / ys;
			for (int64_t r = 0; r < oh; r++) {
				for (int64_t q = 0; q < ow; q++) {
					uint32_t acc = 0;
					for (int64_t ci = 0; ci < cg; ci++) {
						int64_t ch = gi * cg + ci;
						for (int64_t i = 0; i < kh; i++) {
							int64_t yy = r * qp.w.strides[0] -
							    g.pad_begin[0] + i * qp.w.dil[0];
							if (yy < 0 || yy >= h) {
								continue;
							}
							for (int64_t j = 0; j < kw; j++) {
								int64_t xx = q *
								    qp.w.strides[1] -
								    g.pad_begin[1] +
								    j * qp.w.dil[1];
								if (xx < 0 || xx >= wd) {
									continue;
								}
								int32_t xv = xd[((b * cin + ch) *
								    h + yy) * wd + xx] - xz;
								int32_t wv = wdat[((oc * cg +
								    ci) * kh + i) * kw + j] -
								    wzp;
								acc += (uint32_t)(xv * wv);
							}
						}
					}
					if (bd != NULL) {
						acc += (uint32_t)bd[oc];
					}
					double v = engine_det_rint(
					    (double)(int32_t)acc * mult) + yz;
					v = v > 127.0 ? 127.0 :
					    (v < -128.0 ? -128.0 : v);
					y[((b * m + oc) * oh + r) * ow + q] =
					    (int8_t)v;
				}
			}
		}
	}
	return RF_OK;
}
