/*
 * engine/op_extra.c - data-movement operators added for ONNX import:
 * Identity, Squeeze, Unsqueeze, Split, Slice, Pad, Where, Expand and Cast,
 * plus the broadcast walker that Where, Expand and Pow share.
 *
 * None of them computes a float from other floats, so there is no order
 * to fix: each output element is a copy of one input element, the padding
 * value, or (Cast) one correctly rounded conversion. Where ONNX takes
 * shape-like arguments as tensor inputs (opset 13 Squeeze axes, Slice
 * starts, Pad pads, Expand shape), the engine takes them as attributes:
 * the importer requires them to be constants and moves them over, so a
 * shape never depends on traced data.
 */
#include <string.h>

#include "engine/engine_int.h"

/* ------------------------------------------------------------------ */
/* Broadcast walker                                                     */
/* ------------------------------------------------------------------ */

void
engine_bcast_iter_init(struct bcast_iter *it, int rank, const int64_t *dims,
    const struct tensor *const *operands, size_t n)
{
	memset(it, 0, sizeof(*it));
	it->rank = rank;
	it->n = n;
	for (int d = 0; d < rank; d++) {
		it->dims[d] = dims[d];
	}
	for (size_t i = 0; i < n; i++) {
		const struct tensor *t = operands[i];
		size_t s = 1;
		for (int d = rank - 1; d >= 0; d--) {
			int td = d - (rank - t->rank);
			int64_t nd = td >= 0 ? t->dims[td] : 1;
			it->stride[i][d] = nd == 1 ? 0 : s;
			s *= (size_t)nd;
		}
	}
}

void
engine_bcast_iter_next(struct bcast_iter *it)
{
	for (int d = it->rank - 1; d >= 0; d--) {
		it->idx[d]++;
		for (size_t i = 0; i < it->n; i++) {
			it->off[i] += it->stride[i][d];
		}
		if (it->idx[d] < it->dims[d]) {
			return;
		}
		for (size_t i = 0; i < it->n; i++) {
			it->off[i] -= it->stride[i][d] * (size_t)it->dims[d];
		}
		it->idx[d] = 0;
	}
}

/* Row-major strides (in elements) of a shape. */
static void
strides_of(int rank, const int64_t *dims, size_t *st)
{
	size_t s = 1;
	for (int d = rank - 1; d >= 0; d--) {
		st[d] = s;
		s *= (size_t)dims[d];
	}
}

/* Output i with the input's data under a new shape of the same count. */
static int
copy_as(const struct op_call *c, size_t i, int rank, const int64_t *dims)
{
	const struct tensor *x = c->in[0];
	int err = engine_op_out_alloc(c, i, x->dtype, rank, dims);
	if (err == RF_OK && x->count > 0) {
		memcpy(c->out[i].data, x->data, engine_tensor_nbytes(x));
	}
	return err;
}

/* ------------------------------------------------------------------ */
/* Identity                                                             */
/* ------------------------------------------------------------------ */

/* Copies, input i to output i: the importer emits it only where the graph
 * outputs would not otherwise all come from the last operator, e.g. a
 * model's logits and its KV cache (docs/onnx.md). */
int
engine_op_identity_eval(const struct op_call *c)
{
	if (c->n_in != c->n_out) {
		return rf_errf(c->ei, RF_ERR_INVAL, "Identity: %zu inputs but "
		    "%zu outputs", c->n_in, c->n_out);
	}
	int err = RF_OK;
	for (size_t i = 0; err == RF_OK && i < c->n_in; i++) {
		const struct tensor *x = c->in[i];
		err = engine_op_out_alloc(c, i, x->dtype, x->rank, x->dims);
		if (err == RF_OK && x->count > 0) {
			memcpy(c->out[i].data, x->data,
			    engine_tensor_nbytes(x));
		}
	}
	return err;
}

/* ------------------------------------------------------------------ */
/* Squeeze, Unsqueeze                                                   */
/* ------------------------------------------------------------------ */

struct axes_params {
	int64_t axes[TENSOR_MAX_RANK];
	int64_t n;
	int64_t given;
};

static int
axes_parse(const struct op_attrs *at, const char *op, bool required,
    int64_t lim, struct axes_params *ap, struct rf_errinfo *ei)
{
	static const char *const known[] = { "axes", NULL };
	size_t n = 0;
	memset(ap, 0, sizeof(*ap));
	int err = engine_op_attrs_only(at, known, op, ei);
	if (err == RF_OK) {
		err = engine_op_attr_get_ints(
		    at, "axes", 0, TENSOR_MAX_RANK, ap->axes, &n, ei);
	}
	if (err != RF_OK) {
		return err;
	}
	ap->given = engine_op_attr_find(at, "axes") != NULL;
	if (required && n == 0) {
		return rf_errf(ei, RF_ERR_INVAL,
		    "attribute 'axes' is required and must not be empty");
	}
	for (size_t i = 0; i < n; i++) {
		if (ap->axes[i] < -lim || ap->axes[i] >= lim) {
			return rf_errf(ei, RF_ERR_INVAL,
			    "attribute 'axes' value %lld is out of range",
			    (long long)ap->axes[i]);
		}
	}
	ap->n = (int64_t)n;
	return RF_OK;
}

/* Resolves axes against rank into a mask; duplicates are an error. */
static int
axes_mask(const struct op_call *c, const struct axes_params *ap, int rank,
    bool *mask)
{
	for (int d = 0; d < rank; d++) {
		mask[d] = false;
	}
	for (int64_t i = 0; i < ap->n; i++) {
		int a;
		int err = engine_op_axis(c, ap->axes[i], rank, &a);
		if (err != RF_OK) {
			return err;
		}
		if (mask[a]) {
			return rf_errf(
			    c->ei, RF_ERR_INVAL, "axis %d is listed twice", a);
		}
		mask[a] = true;
	}
	return RF_OK;
}

int
engine_op_squeeze_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	struct axes_params ap;
	int err = axes_parse(at, "Squeeze", false, TENSOR_MAX_RANK, &ap, ei);
	if (err == RF_OK) {
		OP_PARAMS_PUT(p, ap);
	}
	return err;
}

/* Removes the listed size-1 dimensions, or every size-1 dimension when
 * no axes are given. */
int
engine_op_squeeze_eval(const struct op_call *c)
{
	struct axes_params ap;
	OP_PARAMS_GET(c->params, ap);
	const struct tensor *x = c->in[0];
	bool mask[TENSOR_MAX_RANK];
	int err = axes_mask(c, &ap, x->rank, mask);
	if (err != RF_OK) {
		return err;
	}
	int64_t dims[TENSOR_MAX_RANK];
	int r = 0;
	for (int d = 0; d < x->rank; d++) {
		if (ap.n == 0) {
			mask[d] = x->dims[d] == 1;
		} else if (mask[d] && x->dims[d] != 1) {
			return rf_errf(c->ei, RF_ERR_SHAPE,
			    "cannot squeeze axis %d of size %lld", d,
			    (long long)x->dims[d]);
		}
		if (!mask[d]) {
			dims[r++] = x->dims[d];
		}
	}
	return copy_as(c, 0, r, dims);
}

int
engine_op_unsqueeze_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	struct axes_params ap;
	int err = axes_parse(at, "Unsqueeze", true, TENSOR_MAX_RANK, &ap, ei);
	if (err == RF_OK) {
		OP_PARAMS_PUT(p, ap);
	}
	return err;
}

/* Inserts size-1 dimensions at the listed positions of the output. */
int
engine_op_unsqueeze_eval(const struct op_call *c)
{
	struct axes_params ap;
	OP_PARAMS_GET(c->params, ap);
	const struct tensor *x = c->in[0];
	int r = x->rank + (int)ap.n;
	if (r > TENSOR_MAX_RANK) {
		return rf_errf(c->ei, RF_ERR_RANGE, "result rank %d over %d",
		    r, TENSOR_MAX_RANK);
	}
	bool mask[TENSOR_MAX_RANK];
	int err = axes_mask(c, &ap, r, mask);
	if (err != RF_OK) {
		return err;
	}
	int64_t dims[TENSOR_MAX_RANK];
	int k = 0;
	for (int d = 0; d < r; d++) {
		dims[d] = mask[d] ? 1 : x->dims[k++];
	}
	return copy_as(c, 0, r, dims);
}

/* ------------------------------------------------------------------ */
/* Split                                                                */
/* ------------------------------------------------------------------ */

struct split_params {
	int64_t axis;
	int64_t split[ENGINE_MAX_OP_OUTPUTS];
	int64_t n; /* 0: equal parts, one per output */
};

int
engine_op_split_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	static const char *const known[] = { "axis", "split", NULL };
	struct split_params sp;
	memset(&sp, 0, sizeof(sp));
	size_t n = 0;
	int err = engine_op_attrs_only(at, known, "Split", ei);
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "axis", 0, -TENSOR_MAX_RANK,
		    TENSOR_MAX_RANK - 1, &sp.axis, ei);
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_ints(at, "split", 1, ENGINE_MAX_OP_OUTPUTS,
		    sp.split, &n, ei);
	}
	if (err != RF_OK) {
		return err;
	}
	for (size_t i = 0; i < n; i++) {
		if (sp.split[i] < 0 || sp.split[i] > TENSOR_MAX_DIM) {
			return rf_errf(ei, RF_ERR_INVAL,
			    "attribute 'split' value %lld is out of range",
			    (long long)sp.split[i]);
		}
	}
	sp.n = (int64_t)n;
	OP_PARAMS_PUT(p, sp);
	return RF_OK;
}

/* Cuts the input along axis into consecutive parts, one per output:
 * the sizes in 'split', or equal parts. */
int
engine_op_split_eval(const struct op_call *c)
{
	struct split_params sp;
	OP_PARAMS_GET(c->params, sp);
	const struct tensor *x = c->in[0];
	int axis;
	int err = engine_op_axis(c, sp.axis, x->rank, &axis);
	if (err != RF_OK) {
		return err;
	}
	int64_t len = x->dims[axis];
	int64_t part[ENGINE_MAX_OP_OUTPUTS];
	if (sp.n == 0) {
		if (len % (int64_t)c->n_out != 0) {
			return rf_errf(c->ei, RF_ERR_SHAPE,
			    "axis of %lld does not split into %zu equal parts",
			    (long long)len, c->n_out);
		}
		for (size_t i = 0; i < c->n_out; i++) {
			part[i] = len / (int64_t)c->n_out;
		}
	} else {
		int64_t sum = 0;
		if ((size_t)sp.n != c->n_out) {
			return rf_errf(c->ei, RF_ERR_INVAL,
			    "'split' has %lld sizes for %zu outputs",
			    (long long)sp.n, c->n_out);
		}
		for (size_t i = 0; i < c->n_out; i++) {
			part[i] = sp.split[i];
			sum += part[i];
		}
		if (sum != len) {
			return rf_errf(c->ei, RF_ERR_SHAPE,
			    "'split' sizes add up to %lld, the axis is %lld",
			    (long long)sum, (long long)len);
		}
	}
	size_t esz = engine_tensor_dtype_size(x->dtype);
	size_t outer = 1, inner = esz;
	for (int d = 0; d < axis; d++) {
		outer *= (size_t)x->dims[d];
	}
	for (int d = axis + 1; d < x->rank; d++) {
		inner *= (size_t)x->dims[d];
	}
	size_t row = (size_t)len * inner;
	size_t at = 0;
	for (size_t i = 0; i < c->n_out; i++) {
		int64_t dims[TENSOR_MAX_RANK];
		memcpy(dims, x->dims, sizeof(dims));
		dims[axis] = part[i];
		err = engine_op_out_alloc(c, i, x->dtype, x->rank, dims);
		if (err != RF_OK) {
			for (size_t k = 0; k < i; k++) {
				engine_tensor_fini(&c->out[k]);
			}
			return err;
		}
		size_t chunk = (size_t)part[i] * inner;
		unsigned char *dst = c->out[i].data;
		const unsigned char *src = x->data;
		for (size_t o = 0; o < outer && chunk > 0; o++) {
			memcpy(dst + o * chunk, src + o * row + at, chunk);
		}
		at += chunk;
	}
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Slice                                                                */
/* ------------------------------------------------------------------ */

struct slice_params {
	int64_t starts[TENSOR_MAX_RANK], ends[TENSOR_MAX_RANK];
	int64_t axes[TENSOR_MAX_RANK], steps[TENSOR_MAX_RANK];
	int64_t n;
};

int
engine_op_slice_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	static const char *const known[] = { "axes", "ends", "starts", "steps",
		NULL };
	struct slice_params sp;
	memset(&sp, 0, sizeof(sp));
	size_t ns = 0, ne = 0, na = 0, nt = 0;
	int err = engine_op_attrs_only(at, known, "Slice", ei);
	if (err == RF_OK) {
		err = engine_op_attr_get_ints(at, "starts", 1, TENSOR_MAX_RANK,
		    sp.starts, &ns, ei);
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_ints(at, "ends", 1, TENSOR_MAX_RANK, sp.ends,
		    &ne, ei);
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_ints(at, "axes", 1, TENSOR_MAX_RANK, sp.axes,
		    &na, ei);
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_ints(
		    at, "steps", 1, TENSOR_MAX_RANK, sp.steps, &nt, ei);
	}
	if (err != RF_OK) {
		return err;
	}
	if (ns == 0 || ns != ne || (na != 0 && na != ns) ||
	    (nt != 0 && nt != ns)) {
		return rf_errf(ei, RF_ERR_INVAL,
		    "'starts' and 'ends' are required, and 'starts', 'ends', "
		    "'axes' and 'steps' must have the same length");
	}
	for (size_t i = 0; i < ns; i++) {
		if (na == 0) {
			sp.axes[i] = (int64_t)i;
		}
		if (sp.axes[i] < -TENSOR_MAX_RANK ||
		    sp.axes[i] >= TENSOR_MAX_RANK) {
			return rf_errf(ei, RF_ERR_INVAL,
			    "attribute 'axes' value %lld is out of range",
			    (long long)sp.axes[i]);
		}
		if (nt == 0) {
			sp.steps[i] = 1;
		}
		/* -INT64_MIN does not exist; no real slice needs it. */
		if (sp.steps[i] == 0 || sp.steps[i] == INT64_MIN) {
			return rf_errf(ei, RF_ERR_INVAL,
			    "attribute 'steps' value %lld is invalid",
			    (long long)sp.steps[i]);
		}
	}
	sp.n = (int64_t)ns;
	OP_PARAMS_PUT(p, sp);
	return RF_OK;
}

static int64_t
clamp64(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : (v > hi ? hi : v);
}

/*
 * ONNX Slice: a negative start or end counts from the end of the axis;
 * both are then clamped ([0, n] for a positive step, [0, n-1] and
 * [-1, n-1] for a negative one) and the slice takes start, start + step,
 * ... while before end. Axes not listed are kept whole.
 */
int
engine_op_slice_eval(const struct op_call *c)
{
	struct slice_params sp;
	OP_PARAMS_GET(c->params, sp);
	const struct tensor *x = c->in[0];
	int r = x->rank;
	int64_t start[TENSOR_MAX_RANK], step[TENSOR_MAX_RANK];
	int64_t dims[TENSOR_MAX_RANK];
	bool seen[TENSOR_MAX_RANK] = { false };
	for (int d = 0; d < r; d++) {
		start[d] = 0;
		step[d] = 1;
		dims[d] = x->dims[d];
	}
	for (int64_t i = 0; i < sp.n; i++) {
		int a;
		int err = engine_op_axis(c, sp.axes[i], r, &a);
		if (err != RF_OK) {
			return err;
		}
		if (seen[a]) {
			return rf_errf(c->ei, RF_ERR_INVAL,
			    "axis %d is listed twice", a);
		}
		seen[a] = true;
		int64_t n = x->dims[a];
		int64_t s = sp.starts[i], e = sp.ends[i], t = sp.steps[i];
		/* s + n cannot overflow: s < 0 and 0 <= n <= 2^31. */
		if (s < 0) {
			s += n;
		}
		if (e < 0) {
			e += n;
		}
		int64_t cnt;
		if (n == 0) {
			/* Nothing to take (the clamping ranges below would be
			 * empty). */
			s = 0;
			cnt = 0;
		} else if (t > 0) {
			s = clamp64(s, 0, n);
			e = clamp64(e, 0, n);
			cnt = e > s ? (e - s - 1) / t + 1 : 0;
		} else {
			s = clamp64(s, 0, n - 1);
			e = clamp64(e, -1, n - 1);
			cnt = s > e ? (s - e - 1) / -t + 1 : 0;
		}
		start[a] = s;
		step[a] = t;
		dims[a] = cnt;
	}
	int err = engine_op_out_alloc(c, 0, x->dtype, r, dims);
	if (err != RF_OK || c->out[0].count == 0) {
		return err;
	}
	size_t st[TENSOR_MAX_RANK];
	strides_of(r, x->dims, st);
	size_t esz = engine_tensor_dtype_size(x->dtype);
	const unsigned char *src = x->data;
	unsigned char *dst = c->out[0].data;
	int64_t idx[TENSOR_MAX_RANK] = { 0 };
	for (size_t o = 0; o < c->out[0].count; o++) {
		/* Every start + idx * step lies inside the axis, so the
		 * product is bounded by it. */
		size_t off = 0;
		for (int d = 0; d < r; d++) {
			off += (size_t)(start[d] + idx[d] * step[d]) * st[d];
		}
		memcpy(dst + o * esz, src + off * esz, esz);
		for (int d = r - 1; d >= 0; d--) {
			if (++idx[d] < dims[d]) {
				break;
			}
			idx[d] = 0;
		}
	}
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Pad                                                                  */
/* ------------------------------------------------------------------ */

enum pad_mode { PAD_CONSTANT, PAD_EDGE, PAD_REFLECT };

struct pad_params {
	int64_t pads[2 * TENSOR_MAX_RANK];
	int64_t n;
	int64_t mode;
	int64_t value_is_int;
	int64_t ivalue;
	float fvalue;
};

int
engine_op_pad_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	static const char *const known[] = { "mode", "pads", "value", NULL };
	struct pad_params pp;
	memset(&pp, 0, sizeof(pp));
	size_t n = 0;
	int err = engine_op_attrs_only(at, known, "Pad", ei);
	if (err == RF_OK) {
		err = engine_op_attr_get_ints(at, "pads", 0, 2 * TENSOR_MAX_RANK,
		    pp.pads, &n, ei);
	}
	if (err != RF_OK) {
		return err;
	}
	if (engine_op_attr_find(at, "pads") == NULL || n % 2 != 0) {
		return rf_errf(ei, RF_ERR_INVAL,
		    "attribute 'pads' is required: begins then ends, one per "
		    "axis");
	}
	for (size_t i = 0; i < n; i++) {
		if (pp.pads[i] < -TENSOR_MAX_DIM ||
		    pp.pads[i] > TENSOR_MAX_DIM) {
			return rf_errf(ei, RF_ERR_INVAL,
			    "attribute 'pads' value %lld is out of range",
			    (long long)pp.pads[i]);
		}
	}
	pp.n = (int64_t)n;
	const struct engine_attr *m = engine_op_attr_find(at, "mode");
	if (m != NULL) {
		static const char *const modes[] = { "constant", "edge",
			"reflect" };
		bool found = false;
		for (int i = 0; m->type == ENGINE_ATTR_STRING && i < 3; i++) {
			if (m->count == strlen(modes[i]) &&
			    memcmp(m->v.str, modes[i], m->count) == 0) {
				pp.mode = i;
				found = true;
			}
		}
		if (!found) {
			return rf_errf(ei, RF_ERR_NOTSUP,
			    "attribute 'mode' must be constant, edge or "
			    "reflect");
		}
	}
	const struct engine_attr *v = engine_op_attr_find(at, "value");
	if (v != NULL && v->type == ENGINE_ATTR_FLOAT) {
		pp.fvalue = v->v.floats[0];
	} else if (v != NULL && v->type == ENGINE_ATTR_INT) {
		pp.value_is_int = 1;
		pp.ivalue = v->v.ints[0];
	} else if (v != NULL) {
		return rf_errf(ei, RF_ERR_INVAL,
		    "attribute 'value' must be an int or a float");
	}
	OP_PARAMS_PUT(p, pp);
	return RF_OK;
}

/* Input coordinate for output coordinate o along an axis of n, or -1 for
 * the padding value. */
static int64_t
pad_source(enum pad_mode mode, int64_t o, int64_t begin, int64_t n)
{
	int64_t s = o - begin;
	if (s >= 0 && s < n) {
		return s;
	}
	switch (mode) {
	case PAD_CONSTANT:
		return -1;
	case PAD_EDGE:
		return s < 0 ? 0 : n - 1;
	case PAD_REFLECT:
		return s < 0 ? -s : 2 * (n - 1) - s;
	}
	return -1;
}

/* The padding value as one element of dt, in buf. */
static int
pad_value(const struct op_call *c, const struct pad_params *pp,
    enum tensor_dtype dt, unsigned char *buf)
{
	if (dt == TENSOR_F32) {
		if (pp->value_is_int) {
			return rf_errf(c->ei, RF_ERR_DTYPE,
			    "f32 data needs a float padding value");
		}
		memcpy(buf, &pp->fvalue, sizeof(float));
		return RF_OK;
	}
	if (!pp->value_is_int && pp->fvalue != 0.0f) {
		return rf_errf(c->ei, RF_ERR_DTYPE,
		    "%s data needs an integer padding value",
		    engine_tensor_dtype_name(dt));
	}
	int64_t v = pp->value_is_int ? pp->ivalue : 0;
	if (dt == TENSOR_I8 && (v < INT8_MIN || v > INT8_MAX)) {
		return rf_errf(c->ei, RF_ERR_RANGE,
		    "padding value %lld does not fit i8", (long long)v);
	}
	if (dt == TENSOR_I32 && (v < INT32_MIN || v > INT32_MAX)) {
		return rf_errf(c->ei, RF_ERR_RANGE,
		    "padding value %lld does not fit i32", (long long)v);
	}
	if (dt == TENSOR_I8) {
		int8_t b = (int8_t)v;
		memcpy(buf, &b, 1);
	} else if (dt == TENSOR_I32) {
		int32_t b = (int32_t)v;
		memcpy(buf, &b, 4);
	} else {
		memcpy(buf, &v, 8);
	}
	return RF_OK;
}

/*
 * pads = [b0, b1, ..., e0, e1, ...]: b_i elements before and e_i after
 * axis i (negative values crop). constant writes the value, edge repeats
 * the border element, reflect mirrors around it (so a pad must be shorter
 * than the axis).
 */
int
engine_op_pad_eval(const struct op_call *c)
{
	struct pad_params pp;
	OP_PARAMS_GET(c->params, pp);
	const struct tensor *x = c->in[0];
	int r = x->rank;
	if (pp.n != 2 * (int64_t)r) {
		return rf_errf(c->ei, RF_ERR_SHAPE,
		    "'pads' has %lld values for rank %d", (long long)pp.n, r);
	}
	unsigned char value[8];
	int err = pad_value(c, &pp, x->dtype, value);
	if (err != RF_OK) {
		return err;
	}
	int64_t dims[TENSOR_MAX_RANK];
	for (int d = 0; d < r; d++) {
		int64_t b = pp.pads[d], e = pp.pads[d + r], n = x->dims[d];
		dims[d] = n + b + e;
		if (dims[d] < 0) {
			return rf_errf(c->ei, RF_ERR_SHAPE,
			    "pads crop axis %d of %lld below zero", d,
			    (long long)n);
		}
		bool grows = b > 0 || e > 0;
		if (pp.mode == PAD_EDGE && grows && n == 0) {
			return rf_errf(c->ei, RF_ERR_SHAPE,
			    "edge padding of an empty axis %d", d);
		}
		if (pp.mode == PAD_REFLECT && (b >= n || e >= n) && grows) {
			return rf_errf(c->ei, RF_ERR_SHAPE,
			    "reflect padding of axis %d needs pads shorter "
			    "than its %lld elements", d, (long long)n);
		}
	}
	err = engine_op_out_alloc(c, 0, x->dtype, r, dims);
	if (err != RF_OK || c->out[0].count == 0) {
		return err;
	}
	size_t st[TENSOR_MAX_RANK];
	strides_of(r, x->dims, st);
	size_t esz = engine_tensor_dtype_size(x->dtype);
	const unsigned char *src = x->data;
	unsigned char *dst = c->out[0].data;
	int64_t idx[TENSOR_MAX_RANK] = { 0 };
	for (size_t o = 0; o < c->out[0].count; o++) {
		size_t off = 0;
		bool inside = true;
		for (int d = 0; d < r && inside; d++) {
			int64_t s = pad_source((enum pad_mode)pp.mode, idx[d],
			    pp.pads[d], x->dims[d]);
			inside = s >= 0;
			off += inside ? (size_t)s * st[d] : 0;
		}
		memcpy(dst + o * esz, inside ? src + off * esz : value, esz);
		for (int d = r - 1; d >= 0; d--) {
			if (++idx[d] < dims[d]) {
				break;
			}
			idx[d] = 0;
		}
	}
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Where                                                                */
/* ------------------------------------------------------------------ */

/*
 * y = cond ? x : y with all three broadcast. The engine has no bool
 * dtype: the condition is i8 and any non-zero value is true (the
 * importer turns ONNX bool constants into i8 0/1).
 */
int
engine_op_where_eval(const struct op_call *c)
{
	int err = engine_op_need_dtype(c, 0, TENSOR_I8);
	if (err != RF_OK) {
		return err;
	}
	const struct tensor *cond = c->in[0], *a = c->in[1], *b = c->in[2];
	if (a->dtype != b->dtype) {
		return rf_errf(c->ei, RF_ERR_DTYPE, "X is %s, Y is %s",
		    engine_tensor_dtype_name(a->dtype), engine_tensor_dtype_name(b->dtype));
	}
	int r1, r;
	int64_t d1[TENSOR_MAX_RANK], dims[TENSOR_MAX_RANK];
	err = engine_tensor_broadcast_shape(a->rank, a->dims, b->rank, b->dims, &r1,
	    d1, c->ei);
	if (err == RF_OK) {
		err = engine_tensor_broadcast_shape(
		    cond->rank, cond->dims, r1, d1, &r, dims, c->ei);
	}
	if (err == RF_OK) {
		err = engine_op_out_alloc(c, 0, a->dtype, r, dims);
	}
	if (err != RF_OK || c->out[0].count == 0) {
		return err;
	}
	struct bcast_iter it;
	const struct tensor *ops[3] = { cond, a, b };
	engine_bcast_iter_init(&it, r, dims, ops, 3);
	size_t esz = engine_tensor_dtype_size(a->dtype);
	const int8_t *cd = cond->data;
	const unsigned char *ad = a->data, *bd = b->data;
	unsigned char *yd = c->out[0].data;
	for (size_t o = 0; o < c->out[0].count; o++) {
		const unsigned char *s = cd[it.off[0]] != 0 ?
		    ad + it.off[1] * esz : bd + it.off[2] * esz;
		memcpy(yd + o * esz, s, esz);
		engine_bcast_iter_next(&it);
	}
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Expand                                                               */
/* ------------------------------------------------------------------ */

struct expand_params {
	int64_t shape[TENSOR_MAX_RANK];
	int64_t n;
};

int
engine_op_expand_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	static const char *const known[] = { "shape", NULL };
	struct expand_params ep;
	memset(&ep, 0, sizeof(ep));
	size_t n = 0;
	int err = engine_op_attrs_only(at, known, "Expand", ei);
	if (err == RF_OK) {
		err = engine_op_attr_get_ints(
		    at, "shape", 0, TENSOR_MAX_RANK, ep.shape, &n, ei);
	}
	if (err != RF_OK) {
		return err;
	}
	if (engine_op_attr_find(at, "shape") == NULL) {
		return rf_errf(ei, RF_ERR_INVAL,
		    "attribute 'shape' is required");
	}
	for (size_t i = 0; i < n; i++) {
		if (ep.shape[i] < 0 || ep.shape[i] > TENSOR_MAX_DIM) {
			return rf_errf(ei, RF_ERR_INVAL,
			    "attribute 'shape' value %lld is out of range",
			    (long long)ep.shape[i]);
		}
	}
	ep.n = (int64_t)n;
	OP_PARAMS_PUT(p, ep);
	return RF_OK;
}

/* Broadcasts the input and 'shape' against each other (ONNX Expand is
 * bidirectional: a 1 in 'shape' keeps the input's size). */
int
engine_op_expand_eval(const struct op_call *c)
{
	struct expand_params ep;
	OP_PARAMS_GET(c->params, ep);
	const struct tensor *x = c->in[0];
	int r;
	int64_t dims[TENSOR_MAX_RANK];
	int err = engine_tensor_broadcast_shape(x->rank, x->dims, (int)ep.n, ep.shape,
	    &r, dims, c->ei);
	if (err == RF_OK) {
		err = engine_op_out_alloc(c, 0, x->dtype, r, dims);
	}
	if (err != RF_OK || c->out[0].count == 0) {
		return err;
	}
	struct bcast_iter it;
	engine_bcast_iter_init(&it, r, dims, &x, 1);
	size_t esz = engine_tensor_dtype_size(x->dtype);
	const unsigned char *xd = x->data;
	unsigned char *yd = c->out[0].data;
	for (size_t o = 0; o < c->out[0].count; o++) {
		memcpy(yd + o * esz, xd + it.off[0] * esz, esz);
		engine_bcast_iter_next(&it);
	}
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Cast                                                                 */
/* ------------------------------------------------------------------ */

/* Cast's parameter for 'to' = BOOL (the others are enum tensor_dtype). */
#define CAST_BOOL (-1)

int
engine_op_cast_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	static const char *const known[] = { "saturate", "to", NULL };
	int64_t to, sat;
	int err = engine_op_attrs_only(at, known, "Cast", ei);
	if (err == RF_OK && engine_op_attr_find(at, "to") == NULL) {
		err = rf_errf(ei, RF_ERR_INVAL, "attribute 'to' is required");
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_int(
		    at, "to", 0, INT32_MIN, INT32_MAX, &to, ei);
	}
	if (err == RF_OK) {
		/* Only float8 targets use it (ONNX opset 19). */
		err = engine_op_attr_get_int(at, "saturate", 1, 0, 1, &sat, ei);
	}
	if (err != RF_OK) {
		return err;
	}
	enum tensor_dtype dt;
	switch (to) {
	case ONNX_DT_FLOAT:
		dt = TENSOR_F32;
		break;
	case ONNX_DT_INT8:
		dt = TENSOR_I8;
		break;
	case ONNX_DT_INT32:
		dt = TENSOR_I32;
		break;
	case ONNX_DT_INT64:
		dt = TENSOR_I64;
		break;
	case ONNX_DT_BOOL:
		dt = TENSOR_I8;
		break;
	default:
		return rf_errf(ei, RF_ERR_NOTSUP,
		    "attribute 'to' is ONNX type %lld; the engine has float "
		    "(1), int8 (3), int32 (6), int64 (7) and bool (9, as int8 "
		    "0/1)",
		    (long long)to);
	}
	/* Bool is i8 holding 0 or 1: CAST_BOOL. */
	int64_t v = to == ONNX_DT_BOOL ? CAST_BOOL : (int64_t)dt;
	OP_PARAMS_PUT(p, v);
	return RF_OK;
}

/* x != 0 as i8 0/1: -0 is false, NaN true (ONNX). */
static int
cast_to_bool(const struct op_call *c)
{
	const struct tensor *x = c->in[0];
	int err = engine_op_out_alloc(c, 0, TENSOR_I8, x->rank, x->dims);
	if (err != RF_OK) {
		return err;
	}
	int8_t *y = c->out[0].data;
	for (size_t i = 0; i < x->count; i++) {
		bool nz;
		switch (x->dtype) {
		case TENSOR_F32:
			nz = ((const float *)x->data)[i] != 0.0f;
			break;
		case TENSOR_I8:
			nz = ((const int8_t *)x->data)[i] != 0;
			break;
		case TENSOR_I32:
			nz = ((const int32_t *)x->data)[i] != 0;
			break;
		default:
			nz = ((const int64_t *)x->data)[i] != 0;
			break;
		}
		y[i] = nz ? 1 : 0;
	}
	return RF_OK;
}

static int64_t
load_int(const struct tensor *t, size_t i)
{
	switch (t->dtype) {
	case TENSOR_I8:
		return ((const int8_t *)t->data)[i];
	case TENSOR_I32:
		return ((const int32_t *)t->data)[i];
	case TENSOR_I64:
		return ((const int64_t *)t->data)[i];
	case TENSOR_F32:
		break;
	}
	return 0;
}

/* Stores v modulo 2^bits (two's complement), as NumPy's astype does. */
static void
store_int(struct tensor *t, size_t i, int64_t v)
{
	uint64_t u = (uint64_t)v;
	switch (t->dtype) {
	case TENSOR_I8:
		((int8_t *)t->data)[i] = (int8_t)(uint8_t)u;
		break;
	case TENSOR_I32:
		((int32_t *)t->data)[i] = (int32_t)(uint32_t)u;
		break;
	case TENSOR_I64:
		((int64_t *)t->data)[i] = v;
		break;
	case TENSOR_F32:
		break;
	}
}

/* f32 to an integer type truncates toward zero, as C and NumPy do; NaN
 * and values outside the target's range have no defined result, so they
 * are an error rather than whatever the CPU happens to produce. */
static int
cast_from_f32(const struct op_call *c, struct tensor *y)
{
	const float *xd = c->in[0]->data;
	double lo, hi; /* exclusive bounds of the truncated value */
	switch (y->dtype) {
	case TENSOR_I8:
		lo = -129.0;
		hi = 128.0;
		break;
	case TENSOR_I32:
		lo = -2147483649.0;
		hi = 2147483648.0;
		break;
	default:
		lo = -0x1.0000000000001p63;
		hi = 0x1p63;
		break;
	}
	for (size_t i = 0; i < y->count; i++) {
		double v = (double)xd[i];
		if (!(v > lo && v < hi)) {
			return rf_errf(c->ei, RF_ERR_RANGE,
			    "element %zu (%g) does not fit %s", i, v,
			    engine_tensor_dtype_name(y->dtype));
		}
		store_int(y, i, (int64_t)v);
	}
	return RF_OK;
}

/*
 * Integer to integer wraps modulo 2^bits; integer to f32 rounds to
 * nearest even (C's conversion, correctly rounded on IEEE hosts); f32 to
 * integer truncates and rejects NaN and out-of-range values.
 */
int
engine_op_cast_eval(const struct op_call *c)
{
	int64_t to;
	OP_PARAMS_GET(c->params, to);
	const struct tensor *x = c->in[0];
	if (to == CAST_BOOL) {
		return cast_to_bool(c);
	}
	enum tensor_dtype dt = (enum tensor_dtype)to;
	if (x->dtype == dt) {
		return copy_as(c, 0, x->rank, x->dims);
	}
	int err = engine_op_out_alloc(c, 0, dt, x->rank, x->dims);
	if (err != RF_OK) {
		return err;
	}
	struct tensor *y = &c->out[0];
	if (x->dtype == TENSOR_F32) {
		err = cast_from_f32(c, y);
		if (err != RF_OK) {
			engine_tensor_fini(y);
		}
		return err;
	}
	for (size_t i = 0; i < x->count; i++) {
		int64_t v = load_int(x, i);
		if (dt == TENSOR_F32) {
			((float *)y->data)[i] = (float)v;
		} else {
			store_int(y, i, v);
		}
	}
	return RF_OK;
}
