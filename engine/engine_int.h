/*
 * engine/engine_int.h - shared inside engine/ only; never include it from
 * another component.
 *
 * Each operator is one entry in a table indexed by enum engine_op: its
 * ONNX name, input and output arity, a parse function that checks the
 * attributes once at build time and fills the operator's parameter block,
 * and an eval function that checks shapes and computes outputs.
 */
#ifndef RF_ENGINE_INT_H
#define RF_ENGINE_INT_H

#include <string.h>

#include "engine/engine.h"

/* Parsed attributes live inline in the op, read back with memcpy. */
#define OP_PARAMS_SIZE 256

struct op_params {
	_Alignas(8) unsigned char bytes[OP_PARAMS_SIZE];
};

/* What an eval function sees. Absent optional inputs are NULL. */
struct op_call {
	const struct op_params *params;
	const struct tensor *const *in;
	size_t n_in;
	struct tensor *out; /* n_out cleared tensors to fill */
	size_t n_out;
	enum engine_kernels kernels;
	struct rf_errinfo *ei;
	/* In a whole run: returns input i packed as a GEMM B operand when
	 * it is one of the model's weights (NULL otherwise or on failure);
	 * the pack stays with the model. NULL outside engine_run. */
	const struct engine_packed_b *(*packed_b)(const struct op_call *c,
	    size_t i, bool trans_b, size_t k, size_t n, size_t ldb);
	void *run_ctx;
};

/* Attributes as given to parse: sorted by name, unique. */
struct op_attrs {
	const struct engine_attr *a;
	size_t n;
};

typedef int (*op_parse_fn)(const struct op_attrs *attrs, size_t n_inputs,
    struct op_params *params, struct rf_errinfo *ei);
typedef int (*op_eval_fn)(const struct op_call *call);

struct op_def {
	const char *name;
	unsigned min_in, max_in; /* max_in = ENGINE_MAX_OP_INPUTS: variadic */
	unsigned min_out, max_out;
	op_parse_fn parse;
	op_eval_fn eval;
};

/* Every NaN of an f32 tensor made the one canonical quiet NaN, as the
 * output of every operator is (engine/run.c). */
void engine_canonicalize_nans(struct tensor *t);

/* The table, indexed by enum engine_op (engine/ops.c). */
const struct op_def *engine_op_def_get(enum engine_op op);

/* Attribute lookups for parse functions. Missing -> default, wrong type or
 * out of range -> RF_ERR_INVAL naming the attribute. */
const struct engine_attr *engine_op_attr_find(const struct op_attrs *at,
    const char *name);
int engine_op_attr_get_int(const struct op_attrs *at, const char *name, int64_t def,
    int64_t lo, int64_t hi, int64_t *out, struct rf_errinfo *ei);
int engine_op_attr_get_float(const struct op_attrs *at, const char *name, float def,
    float *out, struct rf_errinfo *ei);
/* A list of exactly n ints (or absent: *present = false). */
int engine_op_attr_get_ints(const struct op_attrs *at, const char *name, size_t min,
    size_t max, int64_t *out, size_t *n, struct rf_errinfo *ei);
/* Rejects any attribute whose name is not in the NULL-terminated list. */
int engine_op_attrs_only(const struct op_attrs *at, const char *const *known,
    const char *op, struct rf_errinfo *ei);

/* Parameter block access. */
#define OP_PARAMS_PUT(p, v)                                                \
	do {                                                                 \
		_Static_assert(sizeof(v) <= OP_PARAMS_SIZE, "op params");    \
		memcpy((p)->bytes, &(v), sizeof(v));                         \
	} while (0)
#define OP_PARAMS_GET(p, v)                                                \
	do {                                                                 \
		_Static_assert(sizeof(v) <= OP_PARAMS_SIZE, "op params");    \
		memcpy(&(v), (p)->bytes, sizeof(v));                         \
	} while (0)

/*
 * While a probe is set (engine/check.c), engine_op_out_alloc records each output's
 * shape in it and, at the last output, returns RF_ERR_ABORTED instead of
 * allocating: an eval then stops after all its checks and before any
 * work. Returns the previous probe.
 */
struct op_probe {
	struct engine_shape out[ENGINE_MAX_OP_OUTPUTS];
};
struct op_probe *engine_op_probe_set(struct op_probe *p);

/*
 * Buffers of the intermediate tensors one engine_run has finished with,
 * handed to later operators' outputs (engine_op_out_alloc) instead of going back
 * to the allocator: a run's big activations then cost no fresh allocation
 * and no page faults after the first operators. A buffer comes back
 * zeroed, exactly as engine_tensor_init's. Per thread, like the probe; NULL (no
 * pool) outside engine_run.
 */
#define OP_BUFPOOL_MAX 16
struct op_bufpool {
	void *buf[OP_BUFPOOL_MAX];
	size_t cap[OP_BUFPOOL_MAX]; /* bytes usable in buf[i] */
	size_t n;
};
struct op_bufpool *engine_op_bufpool_set(struct op_bufpool *p);
/* Releases t: its buffer into the current pool when t owns it and there
 * is room, else engine_tensor_fini. */
void engine_op_tensor_release(struct tensor *t);
/* Frees every buffer left in p. */
void engine_op_bufpool_drain(struct op_bufpool *p);
/*
 * A constant B operand of engine_sgemm_t packed once for the fast path
 * (a model's weight: engine/run.c keeps one per weight). pack_b fails
 * only for want of memory (or k, n 0); engine_sgemm_packed computes
 * engine_sgemm_t(FAST, trans_a, pb's trans_b, ...) with B taken from the
 * panels, bit for bit the same, and returns false only when its scratch
 * cannot be allocated (nothing is written then). fits says whether pb
 * was packed for that layout.
 */
struct engine_packed_b;
int engine_sgemm_pack_b(bool trans_b, size_t k, size_t n, const float *b,
    size_t ldb, struct engine_packed_b **out);
void engine_packed_b_free(struct engine_packed_b *pb);
bool engine_packed_b_fits(const struct engine_packed_b *pb, bool trans_b,
    size_t k, size_t n, size_t ldb);
bool engine_sgemm_packed(bool trans_a, size_t m, size_t n, size_t k,
    const float *a, size_t lda, const struct engine_packed_b *pb, float *c,
    size_t ldc);

/* Scratch memory of a kernel (GEMM packing, im2col): from the current
 * pool when one is set and holds a fitting buffer, else allocated; free
 * with engine_op_scratch_free and the same size. Contents are undefined. */
void *engine_op_scratch_alloc(size_t bytes);
void engine_op_scratch_free(void *buf, size_t bytes);

/* Allocates out with the given shape, reporting the limit hit in ei. */
int engine_op_out_alloc(const struct op_call *c, size_t i, enum tensor_dtype dt,
    int rank, const int64_t *dims);
/* RF_ERR_DTYPE naming the input unless in[i] has dtype dt. */
int engine_op_need_dtype(const struct op_call *c, size_t i, enum tensor_dtype dt);
/* Resolves a possibly negative axis against rank; RF_ERR_INVAL if out. */
int engine_op_axis(const struct op_call *c, int64_t axis, int rank, int *out);

/* Operator families (one file each). */
int engine_op_parse_none(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei);

int engine_op_matmul_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_matmul_eval(const struct op_call *c);
int engine_op_gemm_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_gemm_eval(const struct op_call *c);

int engine_op_add_eval(const struct op_call *c);
int engine_op_sub_eval(const struct op_call *c);
int engine_op_mul_eval(const struct op_call *c);
int engine_op_div_eval(const struct op_call *c);

int engine_op_relu_eval(const struct op_call *c);
int engine_op_sigmoid_eval(const struct op_call *c);
int engine_op_tanh_eval(const struct op_call *c);
int engine_op_gelu_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_gelu_eval(const struct op_call *c);

int engine_op_softmax_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_softmax_eval(const struct op_call *c);
int engine_op_layernorm_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_layernorm_eval(const struct op_call *c);
int engine_op_batchnorm_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_batchnorm_eval(const struct op_call *c);

int engine_op_conv_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_conv_eval(const struct op_call *c);
int engine_op_pool_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_maxpool_eval(const struct op_call *c);
int engine_op_avgpool_eval(const struct op_call *c);
int engine_op_globalavgpool_eval(const struct op_call *c);

int engine_op_flatten_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_flatten_eval(const struct op_call *c);
int engine_op_reshape_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_reshape_eval(const struct op_call *c);
int engine_op_transpose_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_transpose_eval(const struct op_call *c);
int engine_op_concat_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_concat_eval(const struct op_call *c);
int engine_op_gather_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_gather_eval(const struct op_call *c);

int engine_op_matmulinteger_eval(const struct op_call *c);
int engine_op_qlinearmatmul_eval(const struct op_call *c);
int engine_op_qgemm_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_qgemm_eval(const struct op_call *c);

/* Operators added for ONNX import: data movement (engine/op_extra.c). */
int engine_op_identity_eval(const struct op_call *c);
int engine_op_squeeze_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_squeeze_eval(const struct op_call *c);
int engine_op_unsqueeze_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_unsqueeze_eval(const struct op_call *c);
int engine_op_split_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_split_eval(const struct op_call *c);
int engine_op_slice_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_slice_eval(const struct op_call *c);
int engine_op_pad_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_pad_eval(const struct op_call *c);
int engine_op_where_eval(const struct op_call *c);
int engine_op_expand_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_expand_eval(const struct op_call *c);
int engine_op_cast_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_cast_eval(const struct op_call *c);

/* ... and arithmetic (engine/op_math.c). */
int engine_op_reducemean_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_reducemean_eval(const struct op_call *c);
int engine_op_pow_eval(const struct op_call *c);
int engine_op_sqrt_eval(const struct op_call *c);
int engine_op_erf_eval(const struct op_call *c);

/* engine/op_unary.c */
int engine_op_exp_eval(const struct op_call *c);
int engine_op_log_eval(const struct op_call *c);
int engine_op_abs_eval(const struct op_call *c);
int engine_op_neg_eval(const struct op_call *c);
int engine_op_reciprocal_eval(const struct op_call *c);
int engine_op_clip_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_clip_eval(const struct op_call *c);
int engine_op_leakyrelu_parse(const struct op_attrs *, size_t,
    struct op_params *, struct rf_errinfo *);
int engine_op_leakyrelu_eval(const struct op_call *c);
int engine_op_hardsigmoid_parse(const struct op_attrs *, size_t,
    struct op_params *, struct rf_errinfo *);
int engine_op_hardsigmoid_eval(const struct op_call *c);
int engine_op_hardswish_eval(const struct op_call *c);
int engine_op_softplus_eval(const struct op_call *c);
int engine_op_min_eval(const struct op_call *c);
int engine_op_max_eval(const struct op_call *c);

/* engine/op_reduce.c */
int engine_op_logsoftmax_parse(const struct op_attrs *, size_t,
    struct op_params *, struct rf_errinfo *);
int engine_op_logsoftmax_eval(const struct op_call *c);
int engine_op_argmax_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_argmax_eval(const struct op_call *c);
int engine_op_reducesum_parse(const struct op_attrs *, size_t,
    struct op_params *, struct rf_errinfo *);
int engine_op_reducesum_eval(const struct op_call *c);
int engine_op_reducemax_parse(const struct op_attrs *, size_t,
    struct op_params *, struct rf_errinfo *);
int engine_op_reducemax_eval(const struct op_call *c);
int engine_op_reducemin_parse(const struct op_attrs *, size_t,
    struct op_params *, struct rf_errinfo *);
int engine_op_reducemin_eval(const struct op_call *c);
int engine_op_reduceprod_parse(const struct op_attrs *, size_t,
    struct op_params *, struct rf_errinfo *);
int engine_op_reduceprod_eval(const struct op_call *c);
int engine_op_reducel2_parse(const struct op_attrs *, size_t,
    struct op_params *, struct rf_errinfo *);
int engine_op_reducel2_eval(const struct op_call *c);

/* engine/op_logic.c */
int engine_op_equal_eval(const struct op_call *c);
int engine_op_less_eval(const struct op_call *c);
int engine_op_greater_eval(const struct op_call *c);
int engine_op_not_eval(const struct op_call *c);
int engine_op_and_eval(const struct op_call *c);
int engine_op_or_eval(const struct op_call *c);

/* engine/op_quant.c */
int engine_op_quant_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_quantizelinear_eval(const struct op_call *c);
int engine_op_dequantizelinear_eval(const struct op_call *c);
int engine_op_qlinearconv_parse(const struct op_attrs *, size_t,
    struct op_params *, struct rf_errinfo *);
int engine_op_qlinearconv_eval(const struct op_call *c);
/* Generation's sampler (engine/op_sample.c). */
int engine_op_sample_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_sample_eval(const struct op_call *c);

/* engine/op_rnn.c */
int engine_op_lstm_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_lstm_eval(const struct op_call *c);
int engine_op_gru_parse(const struct op_attrs *, size_t, struct op_params *,
    struct rf_errinfo *);
int engine_op_gru_eval(const struct op_call *c);

/*
 * Walks the elements of a broadcast result in row-major order and keeps,
 * for up to three operands (NumPy broadcasting, shapes aligned on the
 * right), the element offset each one contributes: off[i]. A size-1 or
 * missing dimension has stride 0. The caller has checked that the shapes
 * broadcast to dims.
 */
#define BCAST_MAX_OPERANDS 3
struct bcast_iter {
	int rank;
	int64_t dims[TENSOR_MAX_RANK];
	int64_t idx[TENSOR_MAX_RANK];
	size_t n;
	size_t stride[BCAST_MAX_OPERANDS][TENSOR_MAX_RANK];
	size_t off[BCAST_MAX_OPERANDS];
};
void engine_bcast_iter_init(struct bcast_iter *it, int rank, const int64_t *dims,
    const struct tensor *const *operands, size_t n);
void engine_bcast_iter_next(struct bcast_iter *it);

/* ONNX TensorProto.DataType codes that Cast's 'to' accepts. */
#define ONNX_DT_FLOAT 1
#define ONNX_DT_INT8 3
#define ONNX_DT_INT32 6
#define ONNX_DT_INT64 7
/* Cast to BOOL gives i8 0/1: x != 0 (NaN is true). */
#define ONNX_DT_BOOL 9

/*
 * Caps any single engine allocation made by the calling thread (tensors
 * and kernel scratch) at bytes; 0 removes the cap. The ONNX importer sets
 * it while it folds constants, so a tiny hostile file cannot make it
 * compute gigabytes. Returns the previous cap.
 */
size_t engine_alloc_cap_set(size_t bytes);
/* Whether an allocation was refused for the cap since it was last set:
 * RF_ERR_NOMEM then means "over the cap", otherwise memory ran out. */
bool engine_alloc_capped(void);

/* Direct (im2col-free) reference convolution and the fast path share this
 * description of one 2-D convolution. */
struct conv2d_shape {
	int64_t n, c_in, h, w;        /* input */
	int64_t c_out, kh, kw;        /* weight [c_out, c_in/group, kh, kw] */
	int64_t oh, ow;               /* output */
	int64_t stride[2], dil[2];    /* h, w */
	int64_t pad_top, pad_left;
	int64_t group;
};
void engine_conv2d_ref(const struct conv2d_shape *s, const float *x, const float *w,
    const float *bias, float *y);
int engine_conv2d_fast(const struct conv2d_shape *s, const float *x, const float *w,
    const float *bias, float *y);

/* Integer GEMM on zero-point-adjusted int8 operands, int32 wrapping sums:
 * C[i][j] = sum_k (A[i][k] - za) * (B[k][j] - zb). */
void engine_igemm(enum engine_kernels kind, size_t m, size_t n, size_t k,
    const int8_t *a, size_t lda, int32_t za, const int8_t *b, size_t ldb,
    int32_t zb, int32_t *c, size_t ldc);

/*
 * Parallel sections (engine/par.c). engine_par_width says how many
 * threads a section of `work` units (about one multiply-add each) over
 * `items` independent items should use: 1 below a size threshold, inside
 * another section, or with one thread set. engine_par_run calls
 * fn(ctx, worker, i) once for every i in [0, n), on at most width threads,
 * worker < width naming the thread (for per-thread scratch the caller
 * allocated); it returns when all are done. Items must write disjoint
 * outputs and never share a reduction: which thread runs which item is
 * unspecified. engine_par_range splits [0, n) elements costing `cost`
 * units each into ranges of multiples of grain.
 */
typedef void (*engine_par_fn)(void *ctx, unsigned worker, size_t i);
typedef void (*engine_par_range_fn)(void *ctx, size_t begin, size_t end);
unsigned engine_par_width(size_t work, size_t items);
void engine_par_run(unsigned width, size_t n, engine_par_fn fn, void *ctx);
void engine_par_range(size_t n, size_t cost, size_t grain,
    engine_par_range_fn fn, void *ctx);
/* Sets the threshold below which sections run on one thread (tests set 0
 * to send every section through the pool); returns the previous one. */
size_t engine_par_min_work_set(size_t work);

/* Internal aligned allocation (64 bytes) used for tensors and scratch. */
void *engine_aligned_alloc(size_t bytes);
void engine_aligned_free(void *p);

/* Generation from a model that maps a whole context to logits
 * (engine/gen_whole.c): its shape (whole = true), and its generation
 * graph; engine_gpt_shape and engine_generation_model fall back to them
 * for models without the layout `model gen gpt` writes. */
int engine_gen_whole_shape(const struct engine_model *m,
    struct engine_gpt_shape *out, struct rf_errinfo *ei);
int engine_gen_whole_model(const struct engine_model *base,
    const struct engine_generation *gen, struct engine_model **out,
    struct rf_errinfo *ei);

#endif /* RF_ENGINE_INT_H */
