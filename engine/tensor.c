/* engine/tensor.c - tensor storage, shapes and broadcasting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

/* Per-thread, so an import on one thread never limits a run on another. */
static _Thread_local size_t alloc_cap;
static _Thread_local bool alloc_capped;

size_t
engine_alloc_cap_set(size_t bytes)
{
	size_t old = alloc_cap;
	alloc_cap = bytes;
	alloc_capped = false;
	return old;
}

bool
engine_alloc_capped(void)
{
	return alloc_capped;
}

void *
engine_aligned_alloc(size_t bytes)
{
	if (alloc_cap != 0 && bytes > alloc_cap) {
		alloc_capped = true;
		return NULL;
	}
	/* aligned_alloc wants a multiple of the alignment, and at least 1. */
	size_t rounded;
	if (!rf_size_add(bytes, 63, &rounded)) {
		return NULL;
	}
	rounded &= ~(size_t)63;
	if (rounded == 0) {
		rounded = 64;
	}
	return aligned_alloc(64, rounded);
}

void
engine_aligned_free(void *p)
{
	free(p);
}

bool
engine_tensor_dtype_valid(int dtype)
{
	return dtype >= TENSOR_F32 && dtype <= TENSOR_DTYPE_MAX;
}

size_t
engine_tensor_dtype_size(enum tensor_dtype dtype)
{
	switch (dtype) {
	case TENSOR_F32:
		return 4;
	case TENSOR_I8:
		return 1;
	case TENSOR_I32:
		return 4;
	case TENSOR_I64:
		return 8;
	}
	return 0;
}

const char *
engine_tensor_dtype_name(enum tensor_dtype dtype)
{
	switch (dtype) {
	case TENSOR_F32:
		return "f32";
	case TENSOR_I8:
		return "i8";
	case TENSOR_I32:
		return "i32";
	case TENSOR_I64:
		return "i64";
	}
	return "?";
}

int
engine_tensor_dtype_parse(const char *name, enum tensor_dtype *out)
{
	static const enum tensor_dtype all[] = {
		TENSOR_F32, TENSOR_I8, TENSOR_I32, TENSOR_I64
	};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(name, engine_tensor_dtype_name(all[i])) == 0) {
			*out = all[i];
			return RF_OK;
		}
	}
	return RF_ERR_INVAL;
}

int
engine_tensor_shape_check(int rank, const int64_t *dims, size_t *count,
    struct rf_errinfo *ei)
{
	if (rank < 0 || rank > TENSOR_MAX_RANK) {
		return rf_errf(ei, RF_ERR_RANGE, "rank %d is over the limit %d",
		    rank, TENSOR_MAX_RANK);
	}
	size_t n = 1;
	for (int i = 0; i < rank; i++) {
		if (dims[i] < 0 || dims[i] > TENSOR_MAX_DIM) {
			return rf_errf(ei, RF_ERR_RANGE,
			    "dimension %d is %lld, outside 0..%lld", i,
			    (long long)dims[i], (long long)TENSOR_MAX_DIM);
		}
		if (!rf_size_mul(n, (size_t)dims[i], &n) ||
		    n > TENSOR_MAX_ELEMS) {
			return rf_errf(ei, RF_ERR_RANGE,
			    "shape has more than %zu elements",
			    (size_t)TENSOR_MAX_ELEMS);
		}
	}
	*count = n;
	return RF_OK;
}

int
engine_tensor_init(struct tensor *t, enum tensor_dtype dtype, int rank,
    const int64_t *dims)
{
	size_t count;
	if (!engine_tensor_dtype_valid((int)dtype)) {
		return RF_ERR_DTYPE;
	}
	int err = engine_tensor_shape_check(rank, dims, &count, NULL);
	if (err != RF_OK) {
		return err;
	}
	size_t bytes = count * engine_tensor_dtype_size(dtype);
	void *data = engine_aligned_alloc(bytes);
	if (data == NULL) {
		return RF_ERR_NOMEM;
	}
	memset(data, 0, bytes);
	memset(t, 0, sizeof(*t));
	t->dtype = dtype;
	t->rank = rank;
	for (int i = 0; i < rank; i++) {
		t->dims[i] = dims[i];
	}
	t->count = count;
	t->data = data;
	t->owned = true;
	return RF_OK;
}

int
engine_tensor_copy(struct tensor *dst, const struct tensor *src)
{
	struct tensor t;
	int err = engine_tensor_init(&t, src->dtype, src->rank, src->dims);
	if (err != RF_OK) {
		return err;
	}
	memcpy(t.data, src->data, engine_tensor_nbytes(src));
	*dst = t;
	return RF_OK;
}

int
engine_tensor_view(struct tensor *dst, const struct tensor *src, int rank,
    const int64_t *dims)
{
	size_t count;
	int err = engine_tensor_shape_check(rank, dims, &count, NULL);
	if (err != RF_OK) {
		return err;
	}
	if (count != src->count) {
		return RF_ERR_SHAPE;
	}
	struct tensor t;
	memset(&t, 0, sizeof(t));
	t.dtype = src->dtype;
	t.rank = rank;
	for (int i = 0; i < rank; i++) {
		t.dims[i] = dims[i];
	}
	t.count = count;
	t.data = src->data;
	t.owned = false;
	*dst = t;
	return RF_OK;
}

void
engine_tensor_fini(struct tensor *t)
{
	if (t == NULL) {
		return;
	}
	if (t->owned) {
		engine_aligned_free(t->data);
	}
	memset(t, 0, sizeof(*t));
}

size_t
engine_tensor_nbytes(const struct tensor *t)
{
	return t->count * engine_tensor_dtype_size(t->dtype);
}

bool
engine_tensor_equal(const struct tensor *a, const struct tensor *b)
{
	if (a->dtype != b->dtype || a->rank != b->rank ||
	    a->count != b->count) {
		return false;
	}
	for (int i = 0; i < a->rank; i++) {
		if (a->dims[i] != b->dims[i]) {
			return false;
		}
	}
	return a->count == 0 ||
	    memcmp(a->data, b->data, engine_tensor_nbytes(a)) == 0;
}

void
engine_tensor_shape_str(const struct tensor *t, char *buf, size_t len)
{
	size_t off = 0;
	int w = snprintf(buf, len, "%s[", engine_tensor_dtype_name(t->dtype));
	if (w < 0 || (size_t)w >= len) {
		return;
	}
	off = (size_t)w;
	for (int i = 0; i < t->rank && off < len; i++) {
		w = snprintf(buf + off, len - off, "%s%lld", i ? "," : "",
		    (long long)t->dims[i]);
		if (w < 0) {
			return;
		}
		off += (size_t)w;
	}
	if (off < len) {
		snprintf(buf + off, len - off, "]");
	}
}

int
engine_tensor_broadcast_shape(int ra, const int64_t *da, int rb, const int64_t *db,
    int *rank, int64_t *dims, struct rf_errinfo *ei)
{
	int r = ra > rb ? ra : rb;
	int64_t out[TENSOR_MAX_RANK];
	if (r > TENSOR_MAX_RANK) {
		return rf_errf(ei, RF_ERR_RANGE, "rank over %d", TENSOR_MAX_RANK);
	}
	/* Align from the right; a missing or size-1 dimension stretches. */
	for (int i = 0; i < r; i++) {
		int ia = ra - r + i;
		int ib = rb - r + i;
		int64_t a = ia >= 0 ? da[ia] : 1;
		int64_t b = ib >= 0 ? db[ib] : 1;
		if (a == b || b == 1) {
			out[i] = a;
		} else if (a == 1) {
			out[i] = b;
		} else {
			return rf_errf(ei, RF_ERR_SHAPE,
			    "cannot broadcast dimension %d: %lld vs %lld", i,
			    (long long)a, (long long)b);
		}
	}
	*rank = r;
	memcpy(dims, out, sizeof(int64_t) * (size_t)r);
	return RF_OK;
}
