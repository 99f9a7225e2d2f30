/*
 * engine/chunk.c - how a tensor is cut into chunks (tiles) for
 * commitments: a weight in model_id is committed chunk by chunk, so one
 * chunk is proven with a short path and a referee never hashes a whole
 * tensor to check a piece of it.
 *
 * A tensor of at most ENGINE_CHUNK_ONE_LEAF bytes is one chunk (its leaf
 * is the tensor's own, as before chunks existed). A larger one is viewed
 * as [B, R, C] (C the last dimension, R the one before it, 1 for rank 1,
 * B the product of the rest) and cut into tiles of ENGINE_CHUNK_ROWS x
 * ENGINE_CHUNK_COLS (1 x ENGINE_CHUNK_FLAT when R is 1), the last tile
 * of a row or column shorter. Chunks are numbered batch-major, then by
 * row tile, then by column tile. Everything is derived from the dtype and
 * the shape, so every party agrees on it from the graph alone.
 */
#include <string.h>

#include "engine/engine.h"
#include "engine/model_int.h"

static void
view3(int rank, const int64_t *dims, int64_t *b, int64_t *r, int64_t *c)
{
	*c = rank >= 1 ? dims[rank - 1] : 1;
	*r = rank >= 2 ? dims[rank - 2] : 1;
	*b = 1;
	for (int d = 0; d + 2 < rank; d++) {
		*b *= dims[d];
	}
}

static void
tile_dims(int64_t r, int64_t *tr, int64_t *tc)
{
	if (r == 1) {
		*tr = 1;
		*tc = ENGINE_CHUNK_FLAT;
	} else {
		*tr = ENGINE_CHUNK_ROWS;
		*tc = ENGINE_CHUNK_COLS;
	}
}

static int64_t
ceil_div(int64_t a, int64_t b)
{
	return (a + b - 1) / b;
}

size_t
engine_chunk_count(enum tensor_dtype dtype, int rank, const int64_t *dims)
{
	size_t count = 1;
	for (int d = 0; d < rank; d++) {
		count *= (size_t)dims[d];
	}
	if (count * engine_tensor_dtype_size(dtype) <= ENGINE_CHUNK_ONE_LEAF) {
		return 1;
	}
	int64_t b, r, c, tr, tc;
	view3(rank, dims, &b, &r, &c);
	tile_dims(r, &tr, &tc);
	return (size_t)(b * ceil_div(r, tr) * ceil_div(c, tc));
}

int
engine_chunk_at(enum tensor_dtype dtype, int rank, const int64_t *dims,
    size_t index, struct engine_chunk *out)
{
	size_t n = engine_chunk_count(dtype, rank, dims);
	if (index >= n) {
		return RF_ERR_RANGE;
	}
	int64_t b, r, c, tr, tc;
	view3(rank, dims, &b, &r, &c);
	memset(out, 0, sizeof(*out));
	if (n == 1) {
		out->batch = 0;
		out->rows = r;
		out->cols = c;
		out->whole = true;
		return RF_OK;
	}
	tile_dims(r, &tr, &tc);
	int64_t nr = ceil_div(r, tr), nc = ceil_div(c, tc);
	int64_t i = (int64_t)index;
	out->batch = i / (nr * nc);
	i %= nr * nc;
	out->r0 = (i / nc) * tr;
	out->c0 = (i % nc) * tc;
	out->rows = r - out->r0 < tr ? r - out->r0 : tr;
	out->cols = c - out->c0 < tc ? c - out->c0 : tc;
	return RF_OK;
}

int
engine_chunk_copy(const struct tensor *t, size_t index, struct tensor *out)
{
	struct engine_chunk ch;
	int err = engine_chunk_at(t->dtype, t->rank, t->dims, index, &ch);
	if (err != RF_OK) {
		return err;
	}
	if (ch.whole) {
		return engine_tensor_copy(out, t);
	}
	int64_t b, r, c;
	view3(t->rank, t->dims, &b, &r, &c);
	int64_t dims[2] = { ch.rows, ch.cols };
	err = engine_tensor_init(out, t->dtype, 2, dims);
	if (err != RF_OK) {
		return err;
	}
	size_t es = engine_tensor_dtype_size(t->dtype);
	const uint8_t *src = (const uint8_t *)t->data +
	    ((size_t)ch.batch * (size_t)r * (size_t)c) * es;
	uint8_t *dst = out->data;
	for (int64_t i = 0; i < ch.rows; i++) {
		memcpy(dst + (size_t)(i * ch.cols) * es,
		    src + ((size_t)(ch.r0 + i) * (size_t)c + (size_t)ch.c0) * es,
		    (size_t)ch.cols * es);
	}
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* One chunk of an operator's output from chunks of its inputs          */
/* ------------------------------------------------------------------ */


/* Reads element flat of src into dst (its dtype's size), marking the
 * chunk it lies in as used; RF_ERR_NOTFOUND when that chunk was not
 * given. */
static int
src_get(struct engine_chunk_src *s, size_t flat, void *dst)
{
	size_t es = engine_tensor_dtype_size(s->dtype);
	if (s->full != NULL) {
		memcpy(dst, (const uint8_t *)s->full->data + flat * es, es);
		if (s->used != NULL) {
			size_t nc = s->one ? 1 :
			    engine_chunk_count(s->dtype, s->rank, s->dims);
			if (nc == 1) {
				s->used[0] = true;
			} else {
				int64_t b, r, c, tr, tc;
				view3(s->rank, s->dims, &b, &r, &c);
				tile_dims(r, &tr, &tc);
				int64_t col = (int64_t)flat % c, row = ((int64_t)flat / c) % r;
				int64_t bt = (int64_t)flat / (r * c);
				s->used[(size_t)((bt * ceil_div(r, tr) + row / tr) *
				    ceil_div(c, tc) + col / tc)] = true;
			}
		}
		return RF_OK;
	}
	size_t nc = s->one ? 1 : engine_chunk_count(s->dtype, s->rank, s->dims);
	size_t ci, off;
	if (nc == 1) {
		ci = 0;
		off = flat;
	} else {
		int64_t b, r, c, tr, tc;
		view3(s->rank, s->dims, &b, &r, &c);
		tile_dims(r, &tr, &tc);
		int64_t col = (int64_t)flat % c, row = ((int64_t)flat / c) % r;
		int64_t bt = (int64_t)flat / (r * c);
		int64_t nct = ceil_div(c, tc);
		ci = (size_t)((bt * ceil_div(r, tr) + row / tr) * nct + col / tc);
		int64_t cols = c - (col / tc) * tc < tc ? c - (col / tc) * tc : tc;
		off = (size_t)((row % tr) * cols + col % tc);
	}
	if (s->chunks == NULL || ci >= s->n_chunks || s->chunks[ci] == NULL) {
		return RF_ERR_NOTFOUND;
	}
	if (s->used != NULL) {
		s->used[ci] = true;
	}
	memcpy(dst, (const uint8_t *)s->chunks[ci]->data + off * es, es);
	return RF_OK;
}

static void
unravel(size_t flat, int rank, const int64_t *dims, int64_t *idx)
{
	for (int d = rank - 1; d >= 0; d--) {
		idx[d] = (int64_t)(flat % (size_t)dims[d]);
		flat /= (size_t)dims[d];
	}
}

/* Flat index in a tensor of (rank, dims) broadcast to an output of rank
 * orank, at output multi-index o. */
static size_t
bcast_flat(const int64_t *o, int orank, int rank, const int64_t *dims)
{
	size_t f = 0;
	for (int d = 0; d < rank; d++) {
		int64_t i = dims[d] == 1 ? 0 : o[d + orank - rank];
		f = f * (size_t)dims[d] + (size_t)i;
	}
	return f;
}

/* Output element (b, r, c) of the [B, R, C] view as a flat index. */
static size_t
view_flat(int rank, const int64_t *dims, int64_t b, int64_t r, int64_t c)
{
	int64_t vb, vr, vc;
	view3(rank, dims, &vb, &vr, &vc);
	return (size_t)((b * vr + r) * vc + c);
}

static int
read_err(struct rf_errinfo *ei, int err, size_t input)
{
	return rf_errf(ei, err, "input %zu: %s", input,
	    err == RF_ERR_NOTFOUND ? "a chunk it needs was not revealed" :
	    rf_strerror(err));
}

int
engine_chunk_dense(struct engine_chunk_src *s, struct tensor *out)
{
	int err = engine_tensor_init(out, s->dtype, s->rank, s->dims);
	size_t es = engine_tensor_dtype_size(s->dtype);
	for (size_t f = 0; err == RF_OK && f < out->count; f++) {
		err = src_get(s, f, (uint8_t *)out->data + f * es);
	}
	if (err != RF_OK && out->data != NULL) {
		engine_tensor_fini(out);
	}
	return err;
}

bool
engine_chunk_tiled(const struct engine_model *m, size_t op)
{
	if (op >= m->n_ops || m->ops[op].n_outputs != 1) {
		return false;
	}
	const struct model_op *o = &m->ops[op];
	struct op_attrs at = { o->attrs, o->n_attrs };
	int64_t axis;
	switch (o->op) {
	case ENGINE_OP_ADD: case ENGINE_OP_SUB: case ENGINE_OP_MUL:
	case ENGINE_OP_DIV: case ENGINE_OP_POW: case ENGINE_OP_RELU:
	case ENGINE_OP_SIGMOID: case ENGINE_OP_TANH: case ENGINE_OP_GELU:
	case ENGINE_OP_SQRT: case ENGINE_OP_ERF: case ENGINE_OP_WHERE:
	case ENGINE_OP_MATMUL: case ENGINE_OP_GEMM: case ENGINE_OP_TRANSPOSE:
	case ENGINE_OP_RESHAPE: case ENGINE_OP_FLATTEN: case ENGINE_OP_SQUEEZE:
	case ENGINE_OP_UNSQUEEZE: case ENGINE_OP_IDENTITY:
		return true;
	case ENGINE_OP_SOFTMAX: case ENGINE_OP_LAYERNORM:
		/* Whole rows only: the normalized axis must be the last. */
		return engine_op_attr_get_int(&at, "axis", -1, -TENSOR_MAX_RANK,
		    TENSOR_MAX_RANK - 1, &axis, NULL) == RF_OK && axis == -1;
	case ENGINE_OP_GATHER:
		return engine_op_attr_get_int(&at, "axis", 0, -TENSOR_MAX_RANK,
		    TENSOR_MAX_RANK - 1, &axis, NULL) == RF_OK && axis == 0;
	default:
		return false;
	}
}

/* Evaluates the op on dense sub-inputs (absent ones stay absent). The
 * operator's own eval, so its canonical order per element is kept: a
 * chunk is bit for bit the same elements of the whole output. */
static int
eval_sub(const struct engine_model *m, size_t op, struct tensor *subs,
    struct tensor *out, struct rf_errinfo *ei)
{
	const struct model_op *o = &m->ops[op];
	const struct tensor *args[ENGINE_MAX_OP_INPUTS];
	for (size_t i = 0; i < o->n_inputs; i++) {
		args[i] = o->inputs[i] == ENGINE_NO_VALUE ? NULL : &subs[i];
	}
	return engine_op_eval(m, op, args, out, ENGINE_KERNELS_FAST, ei);
}

/* Region ch of operator op's output (whole: the operator on its whole
 * inputs). */
static int
step_region(const struct engine_model *m, size_t op,
    const struct engine_shape *out_shape, const struct engine_chunk *chp,
    struct engine_chunk_src *ins, struct tensor *out, struct rf_errinfo *ei)
{
	const struct model_op *o = &m->ops[op];
	const struct engine_chunk ch = *chp;
	int err = RF_OK;
	struct tensor subs[ENGINE_MAX_OP_INPUTS];
	memset(subs, 0, sizeof(subs));
	size_t n_in = o->n_inputs;
	const int orank = out_shape->rank;
	const int64_t *odims = out_shape->dims;
	int64_t idx[TENSOR_MAX_RANK];
	struct tensor res[ENGINE_MAX_OP_OUTPUTS];
	memset(res, 0, sizeof(res));

	if (ch.whole || !engine_chunk_tiled(m, op)) {
		/* The whole operator: only for an output of one chunk. */
		if (!ch.whole) {
			return rf_errf(ei, RF_ERR_NOTSUP, "operator %zu has no rule "
			    "for chunks", op);
		}
		for (size_t i = 0; err == RF_OK && i < n_in; i++) {
			if (o->inputs[i] != ENGINE_NO_VALUE) {
				err = engine_chunk_dense(&ins[i], &subs[i]);
				if (err != RF_OK) {
					err = read_err(ei, err, i);
				}
			}
		}
		if (err == RF_OK) {
			err = eval_sub(m, op, subs, res, ei);
		}
		if (err == RF_OK) {
			*out = res[0];
			for (size_t j = 1; j < o->n_outputs; j++) {
				engine_tensor_fini(&res[j]);
			}
		}
		goto done;
	}

	int64_t tdims[2] = { ch.rows, ch.cols };
	switch (o->op) {
	case ENGINE_OP_MATMUL:
	case ENGINE_OP_GEMM: {
		bool gemm = o->op == ENGINE_OP_GEMM;
		struct op_attrs at = { o->attrs, o->n_attrs };
		int64_t ta = 0, tb = 0;
		if (gemm) {
			(void)engine_op_attr_get_int(&at, "transA", 0, 0, 1, &ta, NULL);
			(void)engine_op_attr_get_int(&at, "transB", 0, 0, 1, &tb, NULL);
		}
		struct engine_chunk_src *a = &ins[0], *b = &ins[1];
		if (a->rank < 2 || b->rank < 2) {
			err = rf_errf(ei, RF_ERR_NOTSUP, "MatMul of a vector");
			goto done;
		}
		int64_t K = ta ? a->dims[a->rank - 2] : a->dims[a->rank - 1];
		/* The output batch's multi-index, broadcast to A's and B's. */
		size_t f0 = view_flat(orank, odims, ch.batch, 0, 0);
		unravel(f0, orank, odims, idx);
		/* Batch parts only: row and column zero. */
		size_t abase = bcast_flat(idx, orank - 2, a->rank - 2, a->dims) *
		    (size_t)(a->dims[a->rank - 2] * a->dims[a->rank - 1]);
		size_t bbase = bcast_flat(idx, orank - 2, b->rank - 2, b->dims) *
		    (size_t)(b->dims[b->rank - 2] * b->dims[b->rank - 1]);
		int64_t ad[2] = { ta ? K : ch.rows, ta ? ch.rows : K };
		int64_t bd[2] = { tb ? ch.cols : K, tb ? K : ch.cols };
		err = engine_tensor_init(&subs[0], a->dtype, 2, ad);
		if (err == RF_OK) {
			err = engine_tensor_init(&subs[1], b->dtype, 2, bd);
		}
		size_t es = engine_tensor_dtype_size(a->dtype);
		int64_t alda = a->dims[a->rank - 1], blda = b->dims[b->rank - 1];
		for (int64_t i = 0; err == RF_OK && i < ad[0]; i++) {
			for (int64_t k = 0; err == RF_OK && k < ad[1]; k++) {
				int64_t row = ta ? i : ch.r0 + i;
				int64_t col = ta ? ch.r0 + k : k;
				err = src_get(a, abase + (size_t)(row * alda + col),
				    (uint8_t *)subs[0].data + (size_t)(i * ad[1] + k) * es);
			}
		}
		if (err != RF_OK) {
			err = read_err(ei, err, 0);
		}
		es = engine_tensor_dtype_size(b->dtype);
		for (int64_t i = 0; err == RF_OK && i < bd[0]; i++) {
			for (int64_t k = 0; err == RF_OK && k < bd[1]; k++) {
				int64_t row = tb ? ch.c0 + i : i;
				int64_t col = tb ? k : ch.c0 + k;
				err = src_get(b, bbase + (size_t)(row * blda + col),
				    (uint8_t *)subs[1].data + (size_t)(i * bd[1] + k) * es);
			}
			if (err != RF_OK) {
				err = read_err(ei, err, 1);
			}
		}
		if (err == RF_OK && gemm && n_in > 2 &&
		    o->inputs[2] != ENGINE_NO_VALUE) {
			/* C broadcast to [M, N]: its [rows, cols] region. */
			struct engine_chunk_src *cs = &ins[2];
			err = engine_tensor_init(&subs[2], cs->dtype, 2, tdims);
			size_t ces = engine_tensor_dtype_size(cs->dtype);
			for (int64_t i = 0; err == RF_OK && i < ch.rows; i++) {
				for (int64_t j = 0; err == RF_OK && j < ch.cols; j++) {
					int64_t oi[2] = { ch.r0 + i, ch.c0 + j };
					err = src_get(cs, bcast_flat(oi, 2, cs->rank,
					    cs->dims), (uint8_t *)subs[2].data +
					    (size_t)(i * ch.cols + j) * ces);
				}
			}
			if (err != RF_OK) {
				err = read_err(ei, err, 2);
			}
		}
		if (err == RF_OK) {
			err = eval_sub(m, op, subs, res, ei);
		}
		if (err == RF_OK) {
			*out = res[0];
		}
		break;
	}
	case ENGINE_OP_SOFTMAX:
	case ENGINE_OP_LAYERNORM: {
		/* Whole rows of input 0 (same shape as the output), the rest
		 * whole; then the chunk's columns of the result. */
		int64_t vb, vr, vc;
		view3(orank, odims, &vb, &vr, &vc);
		int64_t sd[TENSOR_MAX_RANK];
		for (int d = 0; d < orank; d++) {
			sd[d] = 1;
		}
		sd[orank - 1] = vc;
		if (orank >= 2) {
			sd[orank - 2] = ch.rows;
		}
		err = engine_tensor_init(&subs[0], ins[0].dtype, orank, sd);
		size_t es = engine_tensor_dtype_size(ins[0].dtype);
		for (int64_t i = 0; err == RF_OK && i < ch.rows; i++) {
			for (int64_t j = 0; err == RF_OK && j < vc; j++) {
				err = src_get(&ins[0], view_flat(orank, odims, ch.batch,
				    ch.r0 + i, j), (uint8_t *)subs[0].data +
				    (size_t)(i * vc + j) * es);
			}
		}
		if (err != RF_OK) {
			err = read_err(ei, err, 0);
		}
		for (size_t i = 1; err == RF_OK && i < n_in; i++) {
			if (o->inputs[i] != ENGINE_NO_VALUE) {
				err = engine_chunk_dense(&ins[i], &subs[i]);
				if (err != RF_OK) {
					err = read_err(ei, err, i);
				}
			}
		}
		if (err == RF_OK) {
			err = eval_sub(m, op, subs, res, ei);
		}
		if (err == RF_OK) {
			err = engine_tensor_init(out, res[0].dtype, 2, tdims);
			size_t oes = engine_tensor_dtype_size(res[0].dtype);
			for (int64_t i = 0; err == RF_OK && i < ch.rows; i++) {
				memcpy((uint8_t *)out->data + (size_t)(i * ch.cols) * oes,
				    (uint8_t *)res[0].data +
				    (size_t)(i * vc + ch.c0) * oes,
				    (size_t)ch.cols * oes);
			}
			engine_tensor_fini(&res[0]);
		}
		break;
	}
	case ENGINE_OP_TRANSPOSE:
	case ENGINE_OP_RESHAPE:
	case ENGINE_OP_FLATTEN:
	case ENGINE_OP_SQUEEZE:
	case ENGINE_OP_UNSQUEEZE:
	case ENGINE_OP_IDENTITY:
	case ENGINE_OP_GATHER: {
		/* Data movement: each element a copy of one input element. */
		struct engine_chunk_src *x = &ins[0];
		int64_t perm[TENSOR_MAX_RANK];
		if (o->op == ENGINE_OP_TRANSPOSE) {
			struct op_attrs at = { o->attrs, o->n_attrs };
			size_t np = 0;
			if (engine_op_attr_get_ints(&at, "perm", 0, TENSOR_MAX_RANK,
			    perm, &np, NULL) != RF_OK || np == 0) {
				np = (size_t)x->rank;
				for (int d = 0; d < x->rank; d++) {
					perm[d] = x->rank - 1 - d;
				}
			}
		}
		struct tensor ind;
		memset(&ind, 0, sizeof(ind));
		size_t inner = 1;
		if (o->op == ENGINE_OP_GATHER) {
			err = engine_chunk_dense(&ins[1], &ind);
			if (err != RF_OK) {
				err = read_err(ei, err, 1);
			}
			for (int d = 1; d < x->rank; d++) {
				inner *= (size_t)x->dims[d];
			}
		}
		if (err == RF_OK) {
			err = engine_tensor_init(out, x->dtype, 2, tdims);
		}
		size_t es = engine_tensor_dtype_size(x->dtype);
		for (int64_t i = 0; err == RF_OK && i < ch.rows; i++) {
			for (int64_t j = 0; err == RF_OK && j < ch.cols; j++) {
				size_t f = view_flat(orank, odims, ch.batch, ch.r0 + i,
				    ch.c0 + j), src = f;
				if (o->op == ENGINE_OP_TRANSPOSE) {
					int64_t xi[TENSOR_MAX_RANK];
					unravel(f, orank, odims, idx);
					for (int d = 0; d < orank; d++) {
						xi[perm[d]] = idx[d];
					}
					src = 0;
					for (int d = 0; d < x->rank; d++) {
						src = src * (size_t)x->dims[d] + (size_t)xi[d];
					}
				} else if (o->op == ENGINE_OP_GATHER) {
					size_t q = f / inner;
					int64_t v = ind.dtype == TENSOR_I64 ?
					    ((const int64_t *)ind.data)[q] :
					    ((const int32_t *)ind.data)[q];
					if (v < 0) {
						v += x->dims[0];
					}
					if (v < 0 || v >= x->dims[0]) {
						err = rf_errf(ei, RF_ERR_RANGE, "Gather index "
						    "%lld out of range",
						    (long long)(v < 0 ? v - x->dims[0] : v));
						break;
					}
					src = (size_t)v * inner + f % inner;
				}
				err = src_get(x, src, (uint8_t *)out->data +
				    (size_t)(i * ch.cols + j) * es);
				if (err != RF_OK) {
					err = read_err(ei, err, 0);
				}
			}
		}
		engine_tensor_fini(&ind);
		if (err == RF_OK) {
			engine_canonicalize_nans(out);
		} else {
			engine_tensor_fini(out);
		}
		break;
	}
	default: {
		/* Element-wise with broadcasting: each input's [rows, cols]
		 * region of its broadcast to the output. */
		for (size_t i = 0; err == RF_OK && i < n_in; i++) {
			if (o->inputs[i] == ENGINE_NO_VALUE) {
				continue;
			}
			struct engine_chunk_src *s = &ins[i];
			err = engine_tensor_init(&subs[i], s->dtype, 2, tdims);
			size_t es = engine_tensor_dtype_size(s->dtype);
			for (int64_t a = 0; err == RF_OK && a < ch.rows; a++) {
				for (int64_t b = 0; err == RF_OK && b < ch.cols; b++) {
					unravel(view_flat(orank, odims, ch.batch, ch.r0 + a,
					    ch.c0 + b), orank, odims, idx);
					err = src_get(s, bcast_flat(idx, orank, s->rank,
					    s->dims), (uint8_t *)subs[i].data +
					    (size_t)(a * ch.cols + b) * es);
				}
			}
			if (err != RF_OK) {
				err = read_err(ei, err, i);
			}
		}
		if (err == RF_OK) {
			err = eval_sub(m, op, subs, res, ei);
		}
		if (err == RF_OK) {
			*out = res[0];
		}
		break;
	}
	}
done:
	for (size_t i = 0; i < n_in; i++) {
		engine_tensor_fini(&subs[i]);
	}
	return err;
}

int
engine_chunk_step(const struct engine_model *m, size_t op,
    const struct engine_shape *out_shape, size_t chunk,
    struct engine_chunk_src *ins, struct tensor *out, struct rf_errinfo *ei)
{
	if (op >= m->n_ops) {
		return rf_errf(ei, RF_ERR_RANGE, "no operator %zu", op);
	}
	struct engine_chunk ch;
	int err = engine_chunk_at(out_shape->dtype, out_shape->rank,
	    out_shape->dims, chunk, &ch);
	if (err != RF_OK) {
		return rf_errf(ei, err, "operator %zu has no output chunk %zu", op,
		    chunk);
	}
	int64_t b, r, c;
	view3(out_shape->rank, out_shape->dims, &b, &r, &c);
	if (!ch.whole || !engine_chunk_tiled(m, op) || b * r * c == 0) {
		return step_region(m, op, out_shape, &ch, ins, out, ei);
	}
	/* A small output of an operator with a chunk rule: each matrix of
	 * it as one region, so its inputs are still read by the chunk (a
	 * Gather of a few rows of a large table reads those rows only). */
	err = engine_tensor_init(out, out_shape->dtype, out_shape->rank,
	    out_shape->dims);
	size_t es = engine_tensor_dtype_size(out_shape->dtype);
	for (int64_t k = 0; err == RF_OK && k < b; k++) {
		struct engine_chunk reg = { k, 0, r, 0, c, false };
		struct tensor t;
		err = step_region(m, op, out_shape, &reg, ins, &t, ei);
		if (err == RF_OK) {
			if (t.dtype != out->dtype ||
			    engine_tensor_nbytes(&t) != (size_t)(r * c) * es) {
				err = rf_errf(ei, RF_ERR_SHAPE, "operator %zu gives "
				    "another shape than the graph's", op);
			} else {
				memcpy((uint8_t *)out->data + (size_t)(k * r * c) * es,
				    t.data, (size_t)(r * c) * es);
			}
			engine_tensor_fini(&t);
		}
	}
	if (err != RF_OK && out->data != NULL) {
		engine_tensor_fini(out);
	}
	return err;
}
