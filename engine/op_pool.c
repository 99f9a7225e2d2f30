/*
 * engine/op_pool.c - MaxPool, AveragePool (2-D) and GlobalAveragePool.
 *
 * Canonical orders: a window is walked row by row (i, then j). Max keeps
 * the first NaN it meets, else the largest value; positions in the
 * padding do not take part. Averages sum in double in that order and
 * divide once, rounding to float at the end.
 */
#include <stdbool.h>
#include <string.h>

#include "engine/pool_int.h"

struct pool_params {
	struct window_params w;
	int64_t ceil_mode;
	int64_t count_include_pad;
};

int
engine_op_pool_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	static const char *const known[] = { "auto_pad", "ceil_mode",
		"count_include_pad", "dilations", "kernel_shape", "pads",
		"storage_order", "strides", NULL };
	struct pool_params pp;
	int64_t storage;
	int err = engine_op_attrs_only(at, known, "pooling", ei);
	if (err == RF_OK) {
		err = engine_window_parse(at, true, &pp.w, ei);
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "ceil_mode", 0, 0, 1, &pp.ceil_mode,
		    ei);
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "count_include_pad", 0, 0, 1,
		    &pp.count_include_pad, ei);
	}
	if (err == RF_OK) {
		/* Only the Indices output depends on it, and we have none. */
		err = engine_op_attr_get_int(at, "storage_order", 0, 0, 1, &storage,
		    ei);
	}
	if (err == RF_OK) {
		OP_PARAMS_PUT(p, pp);
	}
	return err;
}

enum pool_kind { POOL_MAX, POOL_AVG };

/* One plane of MaxPool: the loop below without the sums and counts only
 * AveragePool needs, and without bounds checks for windows that lie
 * inside the plane. Same window order, same rule: the first NaN met
 * wins, else the largest value (the first of equal ones). */
static void
maxpool_plane(const struct window_params *wp, const struct window_geom *g,
    const float *xp, int64_t h, int64_t w, float *yp)
{
	int64_t kh = wp->kernel[0], kw = wp->kernel[1];
	for (int64_t oy = 0; oy < g->out[0]; oy++) {
		int64_t y0 = oy * wp->strides[0] - g->pad_begin[0];
		bool rows_in = y0 >= 0 && y0 + (kh - 1) * wp->dil[0] < h;
		for (int64_t ox = 0; ox < g->out[1]; ox++) {
			int64_t x0 = ox * wp->strides[1] - g->pad_begin[1];
			bool inside = rows_in && x0 >= 0 &&
			    x0 + (kw - 1) * wp->dil[1] < w;
			float best = -__builtin_inff();
			if (inside && kh == 2 && kw == 2 && wp->dil[0] == 1 &&
			    wp->dil[1] == 1) {
				/* The common 2x2 window, unrolled. */
				const float *r0 = xp + y0 * w + x0;
				const float v[4] = { r0[0], r0[1], r0[w],
					r0[w + 1] };
				for (int q = 0; q < 4; q++) {
					if (best == best && !(v[q] <= best)) {
						best = v[q];
					}
				}
				yp[oy * g->out[1] + ox] = best;
				continue;
			}
			for (int64_t i = 0; i < kh; i++) {
				int64_t iy = y0 + i * wp->dil[0];
				if (!inside && (iy < 0 || iy >= h)) {
					continue;
				}
				const float *row = xp + iy * w;
				for (int64_t j = 0; j < kw; j++) {
					int64_t ix = x0 + j * wp->dil[1];
					if (!inside && (ix < 0 || ix >= w)) {
						continue;
					}
					float v = row[ix];
					if (best == best && !(v <= best)) {
						best = v;
					}
				}
			}
			yp[oy * g->out[1] + ox] = best;
		}
	}
}

struct pool_planes {
	enum pool_kind kind;
	const struct pool_params *pp;
	const struct window_geom *g;
	const float *xd;
	float *yd;
	int64_t h, w;
};

/* Planes [begin, end) of a pooling. */
static void
pool_planes_run(void *ctx, size_t begin, size_t end)
{
	const struct pool_planes *pl = ctx;
	const struct pool_params *pp = pl->pp;
	const struct window_geom *g = pl->g;
	enum pool_kind kind = pl->kind;
	const float *xd = pl->xd;
	float *yd = pl->yd;
	int64_t h = pl->h, w = pl->w;
	if (kind == POOL_MAX) {
		for (size_t p = begin; p < end; p++) {
			maxpool_plane(&pp->w, g, xd + (int64_t)p * h * w, h, w,
			    yd + (int64_t)p * g->out[0] * g->out[1]);
		}
		return;
	}
	for (int64_t p = (int64_t)begin; p < (int64_t)end; p++) {
		const float *xp = xd + p * h * w;
		float *yp = yd + p * g->out[0] * g->out[1];
		for (int64_t oy = 0; oy < g->out[0]; oy++) {
			for (int64_t ox = 0; ox < g->out[1]; ox++) {
				float best = -__builtin_inff();
				double sum = 0.0;
				int64_t valid = 0, in_pad = 0;
				for (int64_t i = 0; i < pp->w.kernel[0]; i++) {
					int64_t iy = oy * pp->w.strides[0] -
					    g->pad_begin[0] + i * pp->w.dil[0];
					for (int64_t j = 0; j < pp->w.kernel[1]; j++) {
						int64_t ix = ox * pp->w.strides[1] -
						    g->pad_begin[1] + j * pp->w.dil[1];
						/* Positions inside the padded extent
						 * count for count_include_pad. */
						if (iy < h + g->pad_end[0] &&
						    ix < w + g->pad_end[1]) {
							in_pad++;
						}
						if (iy < 0 || iy >= h || ix < 0 ||
						    ix >= w) {
							continue;
						}
						float v = xp[iy * w + ix];
						valid++;
						sum = sum + (double)v;
						if (best == best && !(v <= best)) {
							best = v;
						}
					}
				}
				float r;
				if (kind == POOL_MAX) {
					r = best;
				} else {
					int64_t cnt = pp->count_include_pad ? in_pad :
					    valid;
					r = cnt > 0 ? (float)(sum / (double)cnt) :
					    0.0f;
				}
				yp[oy * g->out[1] + ox] = r;
			}
		}
	}
}

static int
pool_eval(const struct op_call *c, enum pool_kind kind)
{
	struct pool_params pp;
	OP_PARAMS_GET(c->params, pp);
	int err = engine_op_need_dtype(c, 0, TENSOR_F32);
	if (err != RF_OK) {
		return err;
	}
	const struct tensor *x = c->in[0];
	if (x->rank != 4) {
		return rf_errf(c->ei, RF_ERR_NOTSUP,
		    "only 2-D pooling ([N, C, H, W]) is supported");
	}
	int64_t in[2] = { x->dims[2], x->dims[3] };
	struct window_geom g;
	err = engine_window_geometry(c, &pp.w, in, pp.w.kernel, pp.ceil_mode != 0,
	    &g);
	if (err != RF_OK) {
		return err;
	}
	int64_t dims[4] = { x->dims[0], x->dims[1], g.out[0], g.out[1] };
	err = engine_op_out_alloc(c, 0, TENSOR_F32, 4, dims);
	if (err != RF_OK) {
		return err;
	}
	/* Planes (image, channel) are independent: threads take ranges. */
	struct pool_planes pl = { kind, &pp, &g, x->data, c->out[0].data,
		in[0], in[1] };
	int64_t planes = x->dims[0] * x->dims[1];
	engine_par_range((size_t)planes, (size_t)(g.out[0] * g.out[1] *
	    pp.w.kernel[0] * pp.w.kernel[1]), 1, pool_planes_run, &pl);
	return RF_OK;
}

int
engine_op_maxpool_eval(const struct op_call *c)
{
	return pool_eval(c, POOL_MAX);
}

int
engine_op_avgpool_eval(const struct op_call *c)
{
	return pool_eval(c, POOL_AVG);
}

/* Mean over every spatial position: [N, C, ...] -> [N, C, 1, ...]. */
int
engine_op_globalavgpool_eval(const struct op_call *c)
{
	int err = engine_op_need_dtype(c, 0, TENSOR_F32);
	if (err != RF_OK) {
		return err;
	}
	const struct tensor *x = c->in[0];
	if (x->rank < 3) {
		return rf_errf(c->ei, RF_ERR_SHAPE,
		    "X must be [N, C, spatial...]");
	}
	int64_t dims[TENSOR_MAX_RANK];
	size_t area = 1;
	for (int d = 0; d < x->rank; d++) {
		dims[d] = d < 2 ? x->dims[d] : 1;
		if (d >= 2) {
			area *= (size_t)x->dims[d];
		}
	}
	err = engine_op_out_alloc(c, 0, TENSOR_F32, x->rank, dims);
	if (err != RF_OK) {
		return err;
	}
	size_t planes = (size_t)(x->dims[0] * x->dims[1]);
	const float *xd = x->data;
	float *yd = c->out[0].data;
	for (size_t p = 0; p < planes; p++) {
		double sum = 0.0;
		for (size_t i = 0; i < area; i++) {
			sum = sum + (double)xd[p * area + i];
		}
		yd[p] = area > 0 ? (float)(sum / (double)area) : 0.0f;
	}
	return RF_OK;
}
