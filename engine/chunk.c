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
