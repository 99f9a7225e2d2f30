/*
 * engine/tensor.h - the engine's types that other components hold by
 * value: tensors (with their .npy codec), the limits on models that
 * messages and buffers are sized by, and the choice of kernels.
 *
 * Part of the engine's public interface (engine/engine.h includes it).
 * It is separate so that protocol/protocol.h, and through it nearly every
 * file, depends on these few stable types rather than on the whole engine
 * interface: a change to an operator or a run option rebuilds only the
 * files that use them.
 */
#ifndef RF_ENGINE_TENSOR_H
#define RF_ENGINE_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rf.h"

/* ------------------------------------------------------------------ */
/* Tensors                                                              */
/* ------------------------------------------------------------------ */

#define TENSOR_MAX_RANK 6
/* Limits on any one tensor: keep a hostile shape from asking for terabytes. */
#define TENSOR_MAX_DIM ((int64_t)1 << 31)
#define TENSOR_MAX_ELEMS ((size_t)1 << 30)

/* Values are part of the model file and wire formats: never renumber. */
enum tensor_dtype {
	TENSOR_F32 = 1,
	TENSOR_I8 = 2,
	TENSOR_I32 = 3,
	TENSOR_I64 = 4,
};
#define TENSOR_DTYPE_MAX 4

struct tensor {
	enum tensor_dtype dtype;
	int rank;
	int64_t dims[TENSOR_MAX_RANK];
	size_t count; /* number of elements: product of dims, 1 for rank 0 */
	void *data;   /* row-major, 64-byte aligned when allocated here */
	bool owned;   /* data is freed by engine_tensor_fini */
};

bool engine_tensor_dtype_valid(int dtype);
size_t engine_tensor_dtype_size(enum tensor_dtype dtype);
/* "f32", "i8", "i32", "i64"; "?" for anything else. */
const char *engine_tensor_dtype_name(enum tensor_dtype dtype);
/* Parses the names above; RF_ERR_INVAL for anything else. */
int engine_tensor_dtype_parse(const char *name, enum tensor_dtype *out);

/*
 * Checks a shape against the limits and computes its element count.
 * RF_ERR_RANGE names the first bad dimension in ei.
 */
int engine_tensor_shape_check(int rank, const int64_t *dims, size_t *count,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));

/* Allocates a zero-filled tensor. On failure *t is untouched. */
int engine_tensor_init(struct tensor *t, enum tensor_dtype dtype, int rank,
    const int64_t *dims) __attribute__((warn_unused_result));
/* Deep copy into dst (which is overwritten, not freed first). */
int engine_tensor_copy(struct tensor *dst, const struct tensor *src)
    __attribute__((warn_unused_result));
/* A non-owning view of src's data with another shape of the same count. */
int engine_tensor_view(struct tensor *dst, const struct tensor *src, int rank,
    const int64_t *dims) __attribute__((warn_unused_result));
/* Frees owned data and clears t; t may be NULL or already cleared. */
void engine_tensor_fini(struct tensor *t);
/* Bytes of data: count * element size. */
size_t engine_tensor_nbytes(const struct tensor *t);
/* Same dtype, shape and bytes (NaNs compare by bits). */
bool engine_tensor_equal(const struct tensor *a, const struct tensor *b);
/* Writes "f32[2,3]" into buf. */
void engine_tensor_shape_str(const struct tensor *t, char *buf, size_t len);

/*
 * NumPy broadcasting: the shape of a op b, or RF_ERR_SHAPE naming the
 * incompatible dimensions.
 */
int engine_tensor_broadcast_shape(int ra, const int64_t *da, int rb,
    const int64_t *db, int *rank, int64_t *dims, struct rf_errinfo *ei);

/* NumPy .npy files (format 1.0 to 3.0; f4, i1, i4, i8; C order only). */
int engine_tensor_npy_decode(const uint8_t *buf, size_t len, struct tensor *out,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));
/* Encodes as .npy 1.0 into a malloc'd buffer the caller frees. */
int engine_tensor_npy_encode(const struct tensor *t, uint8_t **buf, size_t *len)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------------ */
/* Limits                                                               */
/* ------------------------------------------------------------------ */

#define ENGINE_NAME_MAX 255
#define ENGINE_MAX_VALUES (1u << 20)
#define ENGINE_MAX_OPS (1u << 20)
#define ENGINE_MAX_OP_INPUTS 64
#define ENGINE_MAX_OP_OUTPUTS 8
#define ENGINE_MAX_OP_ATTRS 32
#define ENGINE_MAX_GRAPH_IO 64

/* ------------------------------------------------------------------ */
/* Kernels                                                              */
/* ------------------------------------------------------------------ */

/* Which matrix kernels a run uses (engine_run_opts, engine_sgemm). */
enum engine_kernels {
	ENGINE_KERNELS_FAST = 0, /* blocked, vectorised; the default */
	ENGINE_KERNELS_REF = 1,  /* plain scalar loops: the definition */
};

#endif
