/*
 * engine/op_conv.c - 2-D convolution (stride, padding, dilation, groups)
 * and the window geometry it shares with pooling.
 *
 * Canonical order: for every output element, acc = +0.0f, then for each
 * input channel c of the group, kernel row i, kernel column j (in that
 * nesting): acc = fmaf(x, w[c][i][j], acc), where x is the input pixel
 * or +0.0f where the window lies in the padding; then y = acc + bias.
 * The reference walks exactly that; the fast path lays the same products
 * out as a matrix (im2col, row index (c * kh + i) * kw + j) and calls
 * engine_sgemm, whose order is the same fmaf chain, so the bits agree.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/pool_int.h"

int
engine_window_parse(const struct op_attrs *at, bool need_kernel,
    struct window_params *w, struct rf_errinfo *ei)
{
	size_t n;
	memset(w, 0, sizeof(*w));
	int err = engine_op_attr_get_ints(at, "kernel_shape", 2, 2, w->kernel, &n,
	    ei);
	if (err != RF_OK) {
		return err;
	}
	w->has_kernel = n == 2;
	if (need_kernel && !w->has_kernel) {
		return rf_errf(ei, RF_ERR_INVAL,
		    "attribute 'kernel_shape' is required");
	}
	w->strides[0] = w->strides[1] = 1;
	w->dil[0] = w->dil[1] = 1;
	int64_t tmp[4];
	err = engine_op_attr_get_ints(at, "strides", 2, 2, tmp, &n, ei);
	if (err == RF_OK && n == 2) {
		w->strides[0] = tmp[0];
		w->strides[1] = tmp[1];
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_ints(at, "dilations", 2, 2, tmp, &n, ei);
	}
	if (err == RF_OK && n == 2) {
		w->dil[0] = tmp[0];
		w->dil[1] = tmp[1];
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_ints(at, "pads", 4, 4, w->pads, &n, ei);
	}
	if (err != RF_OK) {
		return err;
	}
	for (int i = 0; i < 2; i++) {
		if (w->strides[i] < 1 || w->strides[i] > 65536 ||
		    w->dil[i] < 1 || w->dil[i] > 65536 ||
		    (w->has_kernel &&
		        (w->kernel[i] < 1 || w->kernel[i] > 65536))) {
			return rf_errf(ei, RF_ERR_INVAL,
			    "strides, dilations and kernel_shape must be in "
			    "1..65536");
		}
	}
	for (int i = 0; i < 4; i++) {
		if (w->pads[i] < 0 || w->pads[i] > 65536) {
			return rf_errf(ei, RF_ERR_INVAL,
			    "pads must be in 0..65536");
		}
	}
	const struct engine_attr *ap = engine_op_attr_find(at, "auto_pad");
	w->auto_pad = WINDOW_PAD_NOTSET;
	if (ap != NULL) {
		static const char *const modes[] = { "NOTSET", "VALID",
			"SAME_UPPER", "SAME_LOWER" };
		bool found = false;
		for (int i = 0; ap->type == ENGINE_ATTR_STRING && i < 4; i++) {
			if (ap->count == strlen(modes[i]) &&
			    memcmp(ap->v.str, modes[i], ap->count) == 0) {
				w->auto_pad = (enum window_pad)i;
				found = true;
			}
		}
		if (!found) {
			return rf_errf(ei, RF_ERR_INVAL,
			    "attribute 'auto_pad' must be NOTSET, VALID, "
			    "SAME_UPPER or SAME_LOWER");
		}
		if (w->auto_pad != WINDOW_PAD_NOTSET &&
		    engine_op_attr_find(at, "pads") != NULL) {
			return rf_errf(ei, RF_ERR_INVAL,
			    "'pads' and 'auto_pad' cannot both be given");
		}
	}
	return RF_OK;
}

int
engine_window_geometry(const struct op_call *c, const struct window_params *w,
    const int64_t in[2], const int64_t kernel[2], bool ceil_mode,
    struct window_geom *g)
{
	for (int i = 0; i < 2; i++) {
		int64_t span = (kernel[i] - 1) * w->dil[i] + 1;
		int64_t s = w->strides[i];
		int64_t pb = w->pads[i], pe = w->pads[i + 2];
		if (w->auto_pad == WINDOW_PAD_VALID) {
			pb = pe = 0;
		} else if (w->auto_pad == WINDOW_PAD_SAME_UPPER ||
		    w->auto_pad == WINDOW_PAD_SAME_LOWER) {
			int64_t out = (in[i] + s - 1) / s;
			int64_t total = (out - 1) * s + span - in[i];
			if (total < 0) {
				total = 0;
			}
			pb = w->auto_pad == WINDOW_PAD_SAME_UPPER ?
			    total / 2 : total - total / 2;
			pe = total - pb;
		}
		int64_t room = in[i] + pb + pe - span;
		if (room < 0) {
			return rf_errf(c->ei, RF_ERR_SHAPE,
			    "window of %lld does not fit input of %lld with "
			    "padding", (long long)span, (long long)in[i]);
		}
		int64_t out = room / s + 1;
		if (ceil_mode && room % s != 0) {
			/* ONNX: a last window may start in the end padding
			 * or past it only if it starts inside input+pad_begin. */
			if ((out * s) < in[i] + pb) {
				out++;
			}
		}
		g->out[i] = out;
		g->pad_begin[i] = pb;
		g->pad_end[i] = pe;
	}
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Conv                                                                 */
/* ------------------------------------------------------------------ */

struct conv_params {
	struct window_params w;
	int64_t group;
};

int
engine_op_conv_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	static const char *const known[] = { "auto_pad", "dilations", "group",
		"kernel_shape", "pads", "strides", NULL };
	struct conv_params cp;
	int err = engine_op_attrs_only(at, known, "Conv", ei);
	if (err == RF_OK) {
		err = engine_window_parse(at, false, &cp.w, ei);
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "group", 1, 1, 65536, &cp.group, ei);
	}
	if (err == RF_OK) {
		OP_PARAMS_PUT(p, cp);
	}
	return err;
}

void
engine_conv2d_ref(const struct conv2d_shape *s, const float *x, const float *w,
    const float *bias, float *y)
{
	int64_t cg = s->c_in / s->group;
	int64_t mg = s->c_out / s->group;
	for (int64_t n = 0; n < s->n; n++) {
		for (int64_t m = 0; m < s->c_out; m++) {
			int64_t g = m / mg;
			for (int64_t oy = 0; oy < s->oh; oy++) {
				for (int64_t ox = 0; ox < s->ow; ox++) {
					float acc = 0.0f;
					for (int64_t ci = 0; ci < cg; ci++) {
						int64_t c = g * cg + ci;
						for (int64_t i = 0; i < s->kh; i++) {
							int64_t iy = oy * s->stride[0] -
							    s->pad_top + i * s->dil[0];
							for (int64_t j = 0; j < s->kw; j++) {
								int64_t ix = ox * s->stride[1] -
								    s->pad_left +
								    j * s->dil[1];
								float xv = 0.0f;
								if (iy >= 0 && iy < s->h &&
								    ix >= 0 && ix < s->w) {
									xv = x[((n * s->c_in + c) *
									    s->h + iy) * s->w + ix];
								}
								float wv = w[((m * cg + ci) *
								    s->kh + i) * s->kw + j];
								acc = __builtin_fmaf(xv, wv,
								    acc);
							}
						}
					}
					/* The same NaN rule as engine_sgemm,
					 * so both paths agree bit for bit
					 * even before the run canonicalises. */
					if (acc != acc) {
						acc = __builtin_nanf("");
					}
					if (bias != NULL) {
						acc = acc + bias[m];
					}
					y[((n * s->c_out + m) * s->oh + oy) * s->ow +
					    ox] = acc;
				}
			}
		}
	}
}

/* One im2col row at stride 1: r[ox] = xr[ox + shift] inside the image
 * row, 0 outside; the same values as the general loop, moved in blocks. */
static void
im2col_row(float *r, const float *xr, int64_t ow, int64_t w, int64_t shift)
{
	int64_t lo = shift < 0 ? -shift : 0;
	int64_t hi = w - shift;
	lo = lo < ow ? lo : ow;
	hi = hi < lo ? lo : (hi > ow ? ow : hi);
	memset(r, 0, sizeof(float) * (size_t)lo);
	memcpy(r + lo, xr + lo + shift, sizeof(float) * (size_t)(hi - lo));
	memset(r + hi, 0, sizeof(float) * (size_t)(ow - hi));
}

/* Lays out one group of one image as a [K, oh * ow] matrix. */
static void
im2col(const struct conv2d_shape *s, const float *x, int64_t cg,
    float *col)
{
	int64_t cols = s->oh * s->ow;
	for (int64_t ci = 0; ci < cg; ci++) {
		for (int64_t i = 0; i < s->kh; i++) {
			for (int64_t j = 0; j < s->kw; j++) {
				float *row = col + ((ci * s->kh + i) * s->kw + j) *
				    cols;
				for (int64_t oy = 0; oy < s->oh; oy++) {
					int64_t iy = oy * s->stride[0] - s->pad_top +
					    i * s->dil[0];
					float *r = row + oy * s->ow;
					if (iy < 0 || iy >= s->h) {
						memset(r, 0, sizeof(float) *
						    (size_t)s->ow);
						continue;
					}
					const float *xr = x + (ci * s->h + iy) * s->w;
					if (s->stride[1] == 1) {
						im2col_row(r, xr, s->ow, s->w,
						    j * s->dil[1] - s->pad_left);
						continue;
					}
					for (int64_t ox = 0; ox < s->ow; ox++) {
						int64_t ix = ox * s->stride[1] -
						    s->pad_left + j * s->dil[1];
						r[ox] = (ix >= 0 && ix < s->w) ?
						    xr[ix] : 0.0f;
					}
				}
			}
		}
	}
}

int
engine_conv2d_fast(const struct conv2d_shape *s, const float *x, const float *w,
    const float *bias, float *y)
{
	int64_t cg = s->c_in / s->group;
	int64_t mg = s->c_out / s->group;
	size_t k = (size_t)(cg * s->kh * s->kw);
	size_t cols = (size_t)(s->oh * s->ow);
	/* A 1x1, stride-1, unpadded convolution reads the image as is. */
	bool direct = s->kh == 1 && s->kw == 1 && s->stride[0] == 1 &&
	    s->stride[1] == 1 && s->pad_top == 0 && s->pad_left == 0 &&
	    s->oh == s->h && s->ow == s->w;
	float *col = NULL;
	size_t bytes = 0;
	if (!direct) {
		if (!rf_size_mul(k, cols, &bytes) ||
		    !rf_size_mul(bytes, sizeof(float), &bytes) ||
		    bytes > ((size_t)1 << 34)) {
			return RF_ERR_RANGE;
		}
		/* im2col writes every element, padding zeros included. */
		col = engine_op_scratch_alloc(bytes);
		if (col == NULL) {
			return RF_ERR_NOMEM;
		}
	}
	for (int64_t n = 0; n < s->n; n++) {
		for (int64_t g = 0; g < s->group; g++) {
			const float *xg = x + (n * s->c_in + g * cg) * s->h * s->w;
			const float *b = xg;
			if (!direct) {
				im2col(s, xg, cg, col);
				b = col;
			}
			float *yg = y + (n * s->c_out + g * mg) * (int64_t)cols;
			engine_sgemm(ENGINE_KERNELS_FAST, (size_t)mg, cols, k,
			    w + g * mg * (int64_t)k, k, b, cols, yg, cols);
			if (bias != NULL) {
				for (int64_t m = 0; m < mg; m++) {
					float bv = bias[g * mg + m];
					float *yr = yg + m * (int64_t)cols;
					for (size_t p = 0; p < cols; p++) {
						yr[p] = yr[p] + bv;
					}
				}
			}
		}
	}
	engine_op_scratch_free(col, bytes);
	return RF_OK;
}

int
engine_op_conv_eval(const struct op_call *c)
{
	struct conv_params cp;
	OP_PARAMS_GET(c->params, cp);
	int err = engine_op_need_dtype(c, 0, TENSOR_F32);
	if (err == RF_OK) {
		err = engine_op_need_dtype(c, 1, TENSOR_F32);
	}
	const struct tensor *bias = c->n_in > 2 ? c->in[2] : NULL;
	if (err == RF_OK && bias != NULL) {
		err = engine_op_need_dtype(c, 2, TENSOR_F32);
	}
	if (err != RF_OK) {
		return err;
	}
	const struct tensor *x = c->in[0];
	const struct tensor *w = c->in[1];
	if (x->rank != 4 || w->rank != 4) {
		return rf_errf(c->ei, RF_ERR_NOTSUP,
		    "only 2-D convolution ([N, C, H, W]) is supported");
	}
	struct conv2d_shape s;
	memset(&s, 0, sizeof(s));
	s.n = x->dims[0];
	s.c_in = x->dims[1];
	s.h = x->dims[2];
	s.w = x->dims[3];
	s.c_out = w->dims[0];
	s.kh = w->dims[2];
	s.kw = w->dims[3];
	s.group = cp.group;
	if (s.c_in % s.group != 0 || s.c_out % s.group != 0 ||
	    w->dims[1] != s.c_in / s.group) {
		return rf_errf(c->ei, RF_ERR_SHAPE,
		    "weight [%lld, %lld, ...] does not fit %lld input "
		    "channels in %lld groups", (long long)w->dims[0],
		    (long long)w->dims[1], (long long)s.c_in,
		    (long long)s.group);
	}
	if (s.kh < 1 || s.kw < 1) {
		return rf_errf(c->ei, RF_ERR_SHAPE,
		    "weight has an empty kernel [%lld, %lld]", (long long)s.kh,
		    (long long)s.kw);
	}
	if (cp.w.has_kernel &&
	    (cp.w.kernel[0] != s.kh || cp.w.kernel[1] != s.kw)) {
		return rf_errf(c->ei, RF_ERR_SHAPE,
		    "kernel_shape does not match the weight");
	}
	if (bias != NULL && (bias->rank != 1 || bias->dims[0] != s.c_out)) {
		return rf_errf(c->ei, RF_ERR_SHAPE, "bias must be [%lld]",
		    (long long)s.c_out);
	}
	int64_t in[2] = { s.h, s.w };
	int64_t kern[2] = { s.kh, s.kw };
	struct window_geom g;
	err = engine_window_geometry(c, &cp.w, in, kern, false, &g);
	if (err != RF_OK) {
		return err;
	}
	s.oh = g.out[0];
	s.ow = g.out[1];
	s.pad_top = g.pad_begin[0];
	s.pad_left = g.pad_begin[1];
	s.stride[0] = cp.w.strides[0];
	s.stride[1] = cp.w.strides[1];
	s.dil[0] = cp.w.dil[0];
	s.dil[1] = cp.w.dil[1];
	int64_t dims[4] = { s.n, s.c_out, s.oh, s.ow };
	err = engine_op_out_alloc(c, 0, TENSOR_F32, 4, dims);
	if (err != RF_OK) {
		return err;
	}
	const float *bd = bias != NULL ? bias->data : NULL;
	if (c->kernels == ENGINE_KERNELS_REF) {
		engine_conv2d_ref(&s, x->data, w->data, bd, c->out[0].data);
		return RF_OK;
	}
	err = engine_conv2d_fast(&s, x->data, w->data, bd, c->out[0].data);
	if (err != RF_OK) {
		engine_tensor_fini(&c->out[0]);
		return rf_errf(c->ei, err, "im2col scratch: %s",
		    rf_strerror(err));
	}
	return RF_OK;
}
