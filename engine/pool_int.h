/*
 * engine/pool_int.h - sliding-window geometry shared by Conv and the
 * pooling operators (engine/ only).
 */
#ifndef RF_ENGINE_POOL_INT_H
#define RF_ENGINE_POOL_INT_H

#include "engine/engine_int.h"

enum window_pad {
	WINDOW_PAD_NOTSET = 0,
	WINDOW_PAD_VALID = 1,
	WINDOW_PAD_SAME_UPPER = 2,
	WINDOW_PAD_SAME_LOWER = 3,
};

/* ONNX window attributes for a 2-D window. pads: top, left, bottom, right. */
struct window_params {
	int64_t kernel[2];
	bool has_kernel;
	int64_t strides[2], dil[2], pads[4];
	enum window_pad auto_pad;
};

/* The resolved geometry along h and w. */
struct window_geom {
	int64_t out[2];
	int64_t pad_begin[2], pad_end[2];
};

int engine_window_parse(const struct op_attrs *at, bool need_kernel,
    struct window_params *w, struct rf_errinfo *ei);
int engine_window_geometry(const struct op_call *c, const struct window_params *w,
    const int64_t in[2], const int64_t kernel[2], bool ceil_mode,
    struct window_geom *g);

#endif
