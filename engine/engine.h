/*
 * engine/engine.h - Refute's deterministic inference engine.
 *
 * The engine runs a model (a list of operators in one fixed topological
 * order) and reports every trace tensor to a hook: first the job's inputs,
 * then each operator's outputs. Every operator computes bit-identical
 * results on every IEEE 754 platform: no libm in traced values, one
 * canonical reduction order per operator (docs/determinism.md), and fast
 * kernels that produce exactly the bits of the scalar reference.
 *
 * The engine does no network I/O and no file I/O but one: models and
 * tensors are encoded to and decoded from memory buffers, and the caller
 * moves the bytes, except that engine_model_load maps a model file.
 *
 * Ownership: a struct tensor owns its data when t->owned is set; engine_tensor_fini
 * frees it. A model owns everything added to it. Functions that fail leave
 * their outputs untouched and free what they allocated.
 */
#ifndef RF_ENGINE_H
#define RF_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rf.h"
#include "engine/tensor.h"

/* ------------------------------------------------------------------ */
/* Deterministic math                                                   */
/* ------------------------------------------------------------------ */

/*
 * Elementary functions built only from IEEE 754 correctly rounded
 * operations (+ - * / sqrt and conversions), evaluated in double and
 * rounded once to float, so every platform gets the same bits. Errors
 * against the exact value are at most 1 ulp of the float result (measured
 * in tests/engine/detmath_test.c; see docs/determinism.md).
 */
float engine_det_expf(float x);
float engine_det_logf(float x);
float engine_det_tanhf(float x);
float engine_det_erff(float x);
float engine_det_sigmoidf(float x);
/* Gelu, exact form 0.5 x (1 + erf(x / sqrt 2)). */
float engine_det_geluf(float x);
/* Gelu, tanh form 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
float engine_det_gelu_tanhf(float x);
/* exp in double, for the engine's own use in wider computations. */
double engine_det_exp(double x);
/* ln in double of a positive, finite, normal x (Pow's series). */
double engine_det_log(double x);
/* Round to nearest, ties to even, of a double (|x| < 2^52 or returned). */
double engine_det_rint(double x);

/* ------------------------------------------------------------------ */
/* Matrix kernels                                                       */
/* ------------------------------------------------------------------ */

/* enum engine_kernels (fast or reference) is in engine/tensor.h. */

/*
 * C[i][j] = sum over k of A[i][k] * B[k][j], in the canonical order:
 * acc = +0.0f; for k = 0..K-1: acc = fmaf(A[i][k], B[k][j], acc).
 * Row-major with leading dimensions lda, ldb, ldc (in elements). C is
 * overwritten; a NaN result is stored as the canonical quiet NaN
 * 0x7fc00000. Both kernel kinds produce identical bits. The fast kind's
 * vector path can be capped with RF_SGEMM_PATH=generic|fma|avx2|avx512
 * (read at the first call).
 */
void engine_sgemm(enum engine_kernels kind, size_t m, size_t n, size_t k,
    const float *a, size_t lda, const float *b, size_t ldb, float *c,
    size_t ldc);
/*
 * engine_sgemm on operands stored transposed, read in place: with trans_a
 * A is stored K x M (element (i, p) at a[p*lda + i]), with trans_b B is
 * stored N x K (element (p, j) at b[j*ldb + p], as a PyTorch Linear's
 * weight). The same canonical order and the same bits as engine_sgemm on
 * transposed copies.
 */
void engine_sgemm_t(enum engine_kernels kind, bool trans_a, bool trans_b,
    size_t m, size_t n, size_t k, const float *a, size_t lda,
    const float *b, size_t ldb, float *c, size_t ldc);
/* Which vector path the fast kernel dispatched to: "avx512", "avx2", ... */
const char *engine_sgemm_path(void);

/* ------------------------------------------------------------------ */
/* Operators                                                            */
/* ------------------------------------------------------------------ */

/* Names are ONNX op types; the model file stores names, not numbers. */
enum engine_op {
	ENGINE_OP_MATMUL,
	ENGINE_OP_GEMM,
	ENGINE_OP_ADD,
	ENGINE_OP_SUB,
	ENGINE_OP_MUL,
	ENGINE_OP_DIV,
	ENGINE_OP_RELU,
	ENGINE_OP_SIGMOID,
	ENGINE_OP_TANH,
	ENGINE_OP_GELU,
	ENGINE_OP_SOFTMAX,
	ENGINE_OP_LAYERNORM,
	ENGINE_OP_BATCHNORM,
	ENGINE_OP_CONV,
	ENGINE_OP_MAXPOOL,
	ENGINE_OP_AVGPOOL,
	ENGINE_OP_GLOBALAVGPOOL,
	ENGINE_OP_FLATTEN,
	ENGINE_OP_RESHAPE,
	ENGINE_OP_TRANSPOSE,
	ENGINE_OP_CONCAT,
	ENGINE_OP_GATHER,
	ENGINE_OP_MATMULINTEGER,
	ENGINE_OP_QLINEARMATMUL,
	ENGINE_OP_QGEMM,
	/* Added for ONNX import (engine/op_extra.c, engine/op_math.c). */
	ENGINE_OP_IDENTITY,
	ENGINE_OP_SQUEEZE,
	ENGINE_OP_UNSQUEEZE,
	ENGINE_OP_SPLIT,
	ENGINE_OP_SLICE,
	ENGINE_OP_PAD,
	ENGINE_OP_WHERE,
	ENGINE_OP_EXPAND,
	ENGINE_OP_CAST,
	ENGINE_OP_REDUCEMEAN,
	ENGINE_OP_POW,
	ENGINE_OP_SQRT,
	ENGINE_OP_ERF,
	/* Element-wise and reductions of real exports (engine/op_unary.c,
	 * engine/op_reduce.c). */
	ENGINE_OP_EXP,
	ENGINE_OP_LOG,
	ENGINE_OP_ABS,
	ENGINE_OP_NEG,
	ENGINE_OP_RECIPROCAL,
	ENGINE_OP_CLIP,
	ENGINE_OP_LEAKYRELU,
	ENGINE_OP_HARDSIGMOID,
	ENGINE_OP_HARDSWISH,
	ENGINE_OP_SOFTPLUS,
	ENGINE_OP_MIN,
	ENGINE_OP_MAX,
	ENGINE_OP_LOGSOFTMAX,
	ENGINE_OP_ARGMAX,
	ENGINE_OP_REDUCESUM,
	ENGINE_OP_REDUCEMAX,
	ENGINE_OP_REDUCEMIN,
	ENGINE_OP_REDUCEPROD,
	ENGINE_OP_REDUCEL2,
	/* Bools at run time, as i8 0/1 (engine/op_logic.c). */
	ENGINE_OP_EQUAL,
	ENGINE_OP_LESS,
	ENGINE_OP_GREATER,
	ENGINE_OP_NOT,
	ENGINE_OP_AND,
	ENGINE_OP_OR,
	/* Quantization (engine/op_quant.c). */
	ENGINE_OP_QUANTIZELINEAR,
	ENGINE_OP_DEQUANTIZELINEAR,
	ENGINE_OP_QLINEARCONV,
	/* Refute's own (no ONNX node maps to it): draws the next token of a
	 * generation from logits, exactly (docs/generation.md). */
	ENGINE_OP_SAMPLE,
	/* Recurrences, one operator each (engine/op_rnn.c). */
	ENGINE_OP_LSTM,
	ENGINE_OP_GRU,
	ENGINE_OP_COUNT
};

/* "MatMul", "Gemm", ...; NULL for an out-of-range value. */
const char *engine_op_name(enum engine_op op);
/* RF_ERR_NOTFOUND for an unknown name. */
int engine_op_lookup(const char *name, enum engine_op *out);

#define ENGINE_ATTR_NAME_MAX 31
#define ENGINE_ATTR_MAX_VALUES 64

enum engine_attr_type {
	ENGINE_ATTR_INT = 1,    /* one int64 */
	ENGINE_ATTR_FLOAT = 2,  /* one float */
	ENGINE_ATTR_INTS = 3,   /* a list of int64 */
	ENGINE_ATTR_FLOATS = 4, /* a list of float */
	ENGINE_ATTR_STRING = 5, /* bytes, at most ENGINE_ATTR_MAX_VALUES */
};

/* An operator attribute as in ONNX: a name and a small typed value. */
struct engine_attr {
	char name[ENGINE_ATTR_NAME_MAX + 1];
	enum engine_attr_type type;
	uint32_t count; /* values used; 1 for INT and FLOAT */
	union {
		int64_t ints[ENGINE_ATTR_MAX_VALUES];
		float floats[ENGINE_ATTR_MAX_VALUES];
		char str[ENGINE_ATTR_MAX_VALUES + 1];
	} v;
};

/* Helpers to fill an attribute; they truncate nothing (RF_ERR_RANGE). */
int engine_attr_int(struct engine_attr *a, const char *name, int64_t v);
int engine_attr_float(struct engine_attr *a, const char *name, float v);
int engine_attr_ints(struct engine_attr *a, const char *name,
    const int64_t *v, size_t n);
int engine_attr_floats(struct engine_attr *a, const char *name,
    const float *v, size_t n);
int engine_attr_string(struct engine_attr *a, const char *name,
    const char *s);

/* ------------------------------------------------------------------ */
/* Models                                                               */
/* ------------------------------------------------------------------ */

/* The limits (ENGINE_MAX_*) are in engine/tensor.h. */

/* Marks an absent optional operator input (ONNX's empty name). */
#define ENGINE_NO_VALUE (-1)

enum engine_value_kind {
	ENGINE_VALUE_INPUT = 1,  /* supplied by the job */
	ENGINE_VALUE_WEIGHT = 2, /* stored in the model */
	ENGINE_VALUE_OP = 3,     /* produced by an operator */
};

/* Read-only description of a model value. */
struct engine_value_info {
	const char *name;
	enum engine_value_kind kind;
	enum tensor_dtype dtype;     /* inputs and weights */
	int rank;                    /* inputs and weights */
	const int64_t *dims;         /* -1 = any size (inputs only) */
	const struct tensor *weight; /* weights only */
	int producer;                /* op index for ENGINE_VALUE_OP, else -1 */
};

/* Read-only description of an operator. */
struct engine_op_info {
	enum engine_op op;
	const char *name;
	size_t n_inputs;
	const int *inputs; /* value indices, ENGINE_NO_VALUE if absent */
	size_t n_outputs;
	const int *outputs;
	size_t n_attrs;
	const struct engine_attr *attrs; /* sorted by name */
};

struct engine_model;

/* Starts an empty model. Returns NULL when out of memory. */
struct engine_model *engine_model_alloc(const char *name);
void engine_model_free(struct engine_model *m);

/*
 * Builders. Each adds one item and writes its value index to *idx. Names
 * are unique within a model, 1..ENGINE_NAME_MAX bytes. add_weight takes
 * ownership of *w's data (and clears *w) on success only.
 */
int engine_model_add_input(struct engine_model *m, const char *name,
    enum tensor_dtype dtype, int rank, const int64_t *dims, int *idx,
    struct rf_errinfo *ei);
int engine_model_add_weight(struct engine_model *m, const char *name,
    struct tensor *w, int *idx, struct rf_errinfo *ei);
/*
 * Adds an operator reading the given values (earlier values only, which
 * keeps every model acyclic) and producing n_outputs new values named
 * out_names. Attributes are copied and sorted by name. Attributes are
 * checked and parsed here: a bad one is RF_ERR_INVAL naming it.
 */
int engine_model_add_op(struct engine_model *m, enum engine_op op,
    const char *name, const int *inputs, size_t n_inputs,
    const char *const *out_names, size_t n_outputs,
    const struct engine_attr *attrs, size_t n_attrs, int *out_idx,
    struct rf_errinfo *ei);
int engine_model_add_output(struct engine_model *m, int value,
    struct rf_errinfo *ei);

const char *engine_model_name(const struct engine_model *m);
size_t engine_model_value_count(const struct engine_model *m);
size_t engine_model_op_count(const struct engine_model *m);
size_t engine_model_input_count(const struct engine_model *m);
size_t engine_model_output_count(const struct engine_model *m);
/* Value index of the i-th graph input / output. */
int engine_model_input(const struct engine_model *m, size_t i);
int engine_model_output(const struct engine_model *m, size_t i);
int engine_model_value(const struct engine_model *m, int idx,
    struct engine_value_info *out);
int engine_model_op(const struct engine_model *m, size_t op,
    struct engine_op_info *out);
/* Finds a value by name; RF_ERR_NOTFOUND. */
int engine_model_find(const struct engine_model *m, const char *name,
    int *idx);
/* Number of scalar parameters in all weights. */
size_t engine_model_param_count(const struct engine_model *m);

/*
 * Native model file (.rfm), format version 2 (version 1 is still read):
 * see engine/model_file.c for the byte layout and docs/model-format.md. encode is canonical: equal
 * models give equal bytes, and decode(encode(m)) encodes to the same bytes.
 * decode checks every length against the buffer and every count against
 * the limits above, and says in ei what is wrong.
 */
int engine_model_encode(const struct engine_model *m, uint8_t **buf,
    size_t *len) __attribute__((warn_unused_result));
int engine_model_decode(const uint8_t *buf, size_t len,
    struct engine_model **out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
/*
 * Loads a model file by mapping it (mmap, read-only, private) and decoding
 * it as engine_model_decode does, with the same checks. The weights of a
 * version 2 file are used in place, in the mapping, which the model keeps
 * until engine_model_free: no copy, and the file's pages are shared with
 * the page cache and with other processes mapping it. A version 1 file's
 * weights are copied and the mapping dropped. Files over max_len bytes
 * are RF_ERR_RANGE, files that cannot be opened, are not regular or
 * cannot be mapped RF_ERR_IO. Nothing here hashes the weights: a caller
 * that trusts a model by its model_id computes it (the nodes do, at
 * load). The file must not be truncated or rewritten in place while the
 * model lives (reading a vanished page kills the process with SIGBUS);
 * refute's own writers replace a file by renaming a new one over it,
 * which leaves a mapping of the old one intact.
 */
int engine_model_load(const char *path, size_t max_len,
    struct engine_model **out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
/*
 * The canonical graph description: the model file without weight data
 * (names, ops, attributes, shapes of inputs and weights). model_id hashes
 * this and each weight. Caller frees *buf.
 */
int engine_model_encode_graph(const struct engine_model *m, uint8_t **buf,
    size_t *len) __attribute__((warn_unused_result));
/*
 * Decodes a canonical graph description alone (what a referee holds): the
 * result has every operator and the weights' names and shapes but no
 * weight data, so it cannot run or be encoded (RF_ERR_INVAL); it serves
 * engine_op_eval with weights supplied (and proven) by the caller.
 */
int engine_model_decode_graph(const uint8_t *buf, size_t len,
    struct engine_model **out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
/* False for a model from engine_model_decode_graph. */
bool engine_model_has_weights(const struct engine_model *m);

/* A value's shape as far as the graph alone determines it. */
struct engine_shape {
	bool known; /* false: depends on a dynamic input dimension or on
	             * run-time data (a Reshape target computed by the graph) */
	enum tensor_dtype dtype;
	int rank;
	int64_t dims[TENSOR_MAX_RANK];
};

/*
 * Checks that every operator can run on what the graph feeds it: each
 * operator's checks (dtypes, ranks, axes in range, windows within their
 * input, shapes that chain) are made on stand-ins of the shapes the graph
 * determines, computing nothing. Operators whose inputs depend on a
 * dynamic dimension (-1) or on run-time data are skipped (their checks
 * happen when they run). engine_model_decode and engine_model_decode_graph
 * call this, so a decoded model that passes will not fail at run time for
 * its shapes. When shapes is not NULL it receives one entry per value
 * (engine_model_value_count). Errors name the operator ("op 3 (MaxPool
 * 'pool'): ..."), with the operator's own code (RF_ERR_SHAPE, ...).
 */
int engine_model_check(const struct engine_model *m,
    struct engine_shape *shapes, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
/*
 * The same check with concrete shapes for the model's n inputs (in input
 * order; known is ignored) in place of the declared ones, so what a
 * dynamic dimension left unchecked is checked for one job's sizes. Each
 * must have the declared dtype and rank, and the declared size wherever
 * that is not -1: otherwise RF_ERR_DTYPE or RF_ERR_SHAPE naming the
 * input. What depends on run-time data (a computed Reshape target, the
 * values of a graph-only model's weights) is still left to run time.
 */
int engine_model_check_inputs(const struct engine_model *m,
    const struct engine_shape *inputs, size_t n, struct engine_shape *shapes,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));

/*
 * engine_model_check (inputs NULL) or engine_model_check_inputs without
 * the work budget that leaves wide operators to run time: every shape
 * the graph and the input shapes determine is known (a trace layout,
 * proto_trace_layout_make, needs them all).
 */
int engine_model_shapes(const struct engine_model *m,
    const struct engine_shape *inputs, size_t n, struct engine_shape *shapes,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));

/*
 * Checks what the graph alone says about the values of a job's inputs:
 * an input read directly as the indices of a Gather whose data is a
 * weight must lie within the gathered axis (-n..n-1: the Gather fails on
 * anything else), so a job the executor could not run is refused before
 * it is taken (a prompt token outside a language model's vocabulary).
 * inputs in input order, n the model's input count. RF_ERR_RANGE naming
 * the input, the element and the operator.
 */
int engine_model_check_input_values(const struct engine_model *m,
    const struct tensor *inputs, size_t n, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------------ */
/* ONNX import                                                          */
/* ------------------------------------------------------------------ */

/* protobuf's own ceiling for one message (2 GiB - 1). */
#define ENGINE_ONNX_MAX_BYTES ((size_t)0x7fffffff)

/* A value for a symbolic input dimension (ONNX dim_param "batch"). */
struct engine_onnx_dim {
	const char *name;
	int64_t value;
};

struct engine_onnx_opts {
	const char *name; /* model name; NULL: the ONNX graph's name */
	const struct engine_onnx_dim *dims;
	size_t n_dims;
	/* Largest tensor the importer may compute while it folds constants
	 * or infers a shape, in bytes; 0 means 256 MiB. */
	size_t fold_max_bytes;
	/* Called once per line of detail an error has no room for: each
	 * node whose operator is not supported ("node 'x' (LSTM)") and each
	 * dynamic dimension a Shape needs ("--dim batch=N"). May be NULL. */
	void (*note)(void *ctx, const char *line);
	void *note_ctx;
};

/* No name, no dims, default limits. */
void engine_onnx_opts_init(struct engine_onnx_opts *o);

/*
 * Converts an ONNX model (IR 3 to 10, default-domain opsets 11 to 17)
 * held in buf into a new engine model (docs/onnx.md lists the operators
 * and rules). Constant subgraphs, shape arithmetic included, are folded
 * into weights; the graph output must come from one final operator (an
 * Identity is appended when it is a constant or an input). The same bytes
 * always give the same model, so its model_id is stable. o may be NULL.
 *
 * Returns RF_ERR_FORMAT for bytes that are not a well-formed ONNX model
 * (protobuf errors, cycles, undefined values, tensor data that does not
 * match its dims, negative dims), RF_ERR_RANGE for anything over a limit
 * (file size, nesting, counts, dims, memory), RF_ERR_VERSION for an IR
 * version or opset outside the range, RF_ERR_NOTSUP for an operator,
 * attribute, data type or feature the engine lacks, and the engine's
 * codes (RF_ERR_SHAPE, ...) for a node that cannot run on its inputs. ei
 * names the node and what is wrong; *out is written only on success.
 */
int engine_model_import_onnx(const uint8_t *buf, size_t len,
    const struct engine_onnx_opts *o, struct engine_model **out,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));

/* ------------------------------------------------------------------ */
/* Running                                                              */
/* ------------------------------------------------------------------ */

/*
 * The trace of a job with I inputs on a model with N operators has
 * I + N entries: entry i < I is input i, entry I + k holds the outputs of
 * operator k. The hook sees each entry once, in order; the tensors are
 * valid only during the call. A non-zero return stops the run with
 * RF_ERR_ABORTED.
 */
typedef int (*engine_trace_fn)(void *ctx, size_t index,
    const struct tensor *const *tensors, size_t n);

struct engine_run_opts {
	enum engine_kernels kernels;
	engine_trace_fn trace; /* may be NULL */
	void *trace_ctx;
	/* Stop after this trace entry (0-based); SIZE_MAX runs it all. */
	size_t stop_after;
	/* Keep each weight the GEMM reads packed with the model, for the
	 * next runs (true by default). A one-shot run sets false: it packs
	 * as it goes, the same work, and holds no second copy of the
	 * weights next to the model's (mapped) file. Speed only, never
	 * bits. */
	bool keep_packed;
};

/* Defaults: fast kernels, no hook, run to the end, weights kept packed. */
void engine_run_opts_init(struct engine_run_opts *o);

/* Number of trace entries for model m: inputs + operators. */
size_t engine_trace_length(const struct engine_model *m);

/*
 * Runs the model on n_inputs tensors (in graph input order; dtype and
 * shape checked against the declared ones). On success fills outputs[0..]
 * with engine_model_output_count(m) newly allocated tensors the caller
 * frees with engine_tensor_fini. A run stopped early by stop_after succeeds with
 * the outputs left cleared.
 */
int engine_run(const struct engine_model *m, const struct tensor *inputs,
    size_t n_inputs, struct tensor *outputs, const struct engine_run_opts *o,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));

/*
 * Threads. engine_run and engine_op_eval split an operator's independent
 * outputs (rows and tiles of a product, element ranges, heads, channels)
 * over a pool of n threads, the caller included; every output element is
 * still computed by one thread in its one canonical order, so outputs and
 * traces are bit-identical for every n. n = 0 means one per online core;
 * the default is 1. The workers are created here, once, and kept. The
 * setting is process-wide; runs in several threads at once share the
 * pool (a run that finds it busy computes alone). Returns RF_ERR_NOMEM
 * when a thread cannot be created (the count then stays lower).
 */
#define ENGINE_THREADS_MAX 256
int engine_threads_set(unsigned n);
/* The number of threads a run may use now (at least 1). */
unsigned engine_threads_get(void);

/*
 * Evaluates one operator of m on the given tensors (one per op input, in
 * order, NULL for an absent optional input) into n_outputs new tensors.
 * This is the one-step recomputation a referee performs in a dispute.
 */
int engine_op_eval(const struct engine_model *m, size_t op,
    const struct tensor *const *inputs, struct tensor *outputs,
    enum engine_kernels kernels, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

/*
 * Deterministic random input for every graph input, from a seed: f32
 * uniform in [-1, 1); integers in [0, n) where n is the smallest size of a
 * Gather axis the input indexes, else [0, 128). Dynamic dims (-1) become 1.
 * Fills inputs[0..input_count-1].
 */
int engine_inputs_random(const struct engine_model *m, uint64_t seed,
    struct tensor *inputs, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------------ */
/* Synthetic models                                                     */
/* ------------------------------------------------------------------ */

enum engine_gen_kind {
	ENGINE_GEN_MLP = 1,
	ENGINE_GEN_CNN = 2,
	ENGINE_GEN_TRANSFORMER = 3,
	/* Decoder-only language model (docs/generation.md): sequence length
	 * = context, d_ff = 4 d_model, tied or untied head. */
	ENGINE_GEN_GPT = 4,
};

struct engine_gen_opts {
	enum engine_gen_kind kind;
	uint64_t seed;
	int64_t batch; /* rows of input (mlp, cnn); sequence length (transformer) */
	/* mlp */
	int64_t in_features, hidden, out_features, layers;
	/* Exact operator count for an MLP (> 0 overrides layers): a chain of
	 * Gemm and Relu ending in a Gemm, for dispute-depth experiments. */
	int64_t ops;
	/* cnn: input [batch, channels, size, size] */
	int64_t channels, image_size, classes;
	/* transformer: GPT-style block */
	int64_t vocab, d_model, heads, d_ff, blocks;
	/* gpt: blocks are layers; context is the sequence length; tied: the
	 * head is the token embedding (Gemm with transB), else its own
	 * weight lm_head [d_model, vocab]. */
	int64_t context;
	bool tied;
};

/* Small defaults for each kind (what `refute model gen KIND` uses). */
void engine_gen_opts_init(struct engine_gen_opts *o, enum engine_gen_kind k);
int engine_gen_parse_kind(const char *name, enum engine_gen_kind *out);
int engine_model_generate(const struct engine_gen_opts *o,
    struct engine_model **out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------------ */
/* Generation (docs/generation.md)                                      */
/* ------------------------------------------------------------------ */

/* Greedy: temperature 0 (top_k 0, top_p 1). Otherwise temperature in
 * (0, ENGINE_SAMPLE_TEMPERATURE_MAX], top_k 0 (off) or 1..vocab, top_p in
 * (0, 1] (1: off). */
#define ENGINE_SAMPLE_TEMPERATURE_MAX 100.0f
struct engine_sampler {
	float temperature;
	int64_t top_k;
	float top_p;
};
/* Greedy. */
void engine_sampler_init(struct engine_sampler *s);
bool engine_sampler_greedy(const struct engine_sampler *s);
/* RF_ERR_INVAL naming the parameter out of range (vocab 0: not
 * checked against a vocabulary). */
int engine_sampler_check(const struct engine_sampler *s, int64_t vocab,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));
/* The random number of draw `step` under seed: the (step + 1)-th output of
 * splitmix64 started at state seed, as a double in [0, 1) (its top 53
 * bits times 2^-53). */
double engine_sample_uniform(uint64_t seed, uint64_t step);
/*
 * The token the sampler draws from logits[0..vocab-1] at draw step under
 * seed, exactly as docs/generation.md writes it down (the Sample
 * operator computes this). Every party gets the same token. RF_ERR_INVAL
 * for parameters out of range, RF_ERR_NOMEM.
 */
int engine_sample(const struct engine_sampler *s, const float *logits,
    size_t vocab, uint64_t seed, uint64_t step, int64_t *token,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));

/* A generation: prompt_len tokens in, n_new tokens drawn. */
struct engine_generation {
	int64_t prompt_len;
	int64_t n_new;
	struct engine_sampler sampler;
};

/* What a model laid out as `model gen gpt` writes it has. */
struct engine_gpt_shape {
	int64_t vocab, context, d_model, heads, layers;
	bool tied;
	/* Not that layout but a model mapping a whole context of tokens to
	 * logits (an ONNX import): only vocab and context are set, and each
	 * step runs the whole model, without a cache (engine/gen_whole.c). */
	bool whole;
};
/* RF_ERR_NOTSUP when m is not such a model (saying what is missing). */
int engine_gpt_shape(const struct engine_model *m,
    struct engine_gpt_shape *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
/* Checks g against the model: 1 <= prompt_len, 1 <= n_new, prompt_len +
 * n_new <= context, the sampler in range. */
int engine_generation_check(const struct engine_gpt_shape *shape,
    const struct engine_generation *g, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
/*
 * The generation graph: one model, derived deterministically from base
 * (a gpt layout) and g, that runs the prefill, every decode step with the
 * KV cache and a Sample operator per new token (docs/generation.md).
 * Inputs: "tokens" i64 [prompt_len], and "seed" i64 [1] unless greedy.
 * Outputs: the last Sample's "token" i64 [1] and "generated" i64
 * [n_new]. Its weights are base's, in base's order, borrowed: base must
 * outlive *out. Its name is "<base name>.gen".
 */
int engine_generation_model(const struct engine_model *base,
    const struct engine_generation *g, struct engine_model **out,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));

/* A small deterministic PRNG (splitmix64) for weights and inputs. */
struct engine_rng {
	uint64_t state;
};
void engine_rng_seed(struct engine_rng *r, uint64_t seed);
uint64_t engine_rng_next(struct engine_rng *r);
/* Uniform float in [lo, hi), exactly reproducible. */
float engine_rng_uniform(struct engine_rng *r, float lo, float hi);

/* ------------------------------------------------------------------ */
/* Chunks: how a tensor is cut for commitments (engine/chunk.c)         */
/* ------------------------------------------------------------------ */

/* A tensor of at most this many bytes is one chunk (its leaf unchanged). */
#define ENGINE_CHUNK_ONE_LEAF 65536
/* Larger ones: tiles over the last two dimensions, leading ones batch. */
#define ENGINE_CHUNK_ROWS 32
#define ENGINE_CHUNK_COLS 32
/* When the second-to-last dimension is 1 (rank 1 included). */
#define ENGINE_CHUNK_FLAT 1024

/* One chunk of a tensor viewed as [B, R, C]: rows [r0, r0 + rows) and
 * columns [c0, c0 + cols) of matrix batch. whole: the chunk is the whole
 * tensor (then batch, r0 and c0 are 0). */
struct engine_chunk {
	int64_t batch, r0, rows, c0, cols;
	bool whole;
};

/* Number of chunks of a tensor of this dtype and shape (>= 1). */
size_t engine_chunk_count(enum tensor_dtype dtype, int rank,
    const int64_t *dims);
/* Where chunk index lies; RF_ERR_RANGE when index >= the count. */
int engine_chunk_at(enum tensor_dtype dtype, int rank, const int64_t *dims,
    size_t index, struct engine_chunk *out)
    __attribute__((warn_unused_result));
/* Copies chunk index of t into out: t itself when whole, else a rank-2
 * [rows, cols] tensor. */
int engine_chunk_copy(const struct tensor *t, size_t index,
    struct tensor *out) __attribute__((warn_unused_result));

/*
 * One input of an operator as far as a chunk step sees it: the input's
 * dtype and shape, and either the whole tensor (full: the executor) or
 * some of its chunks (chunks[i] for chunk i, NULL when not given: the
 * referee, from a reveal). used (n_chunks flags, may be NULL) marks every
 * chunk the step read, so the chunks a step needs are found by running
 * it on the whole tensor.
 */
struct engine_chunk_src {
	enum tensor_dtype dtype;
	int rank;
	int64_t dims[TENSOR_MAX_RANK];
	const struct tensor *full;
	const struct tensor *const *chunks;
	size_t n_chunks;
	bool *used;
	/* Committed as one piece whatever its size (a job input, or an
	 * entry of an operator without a chunk rule): chunk 0 is the whole
	 * tensor. */
	bool one;
};
/* The whole tensor s stands for, from its chunks (all needed). */
int engine_chunk_dense(struct engine_chunk_src *s, struct tensor *out)
    __attribute__((warn_unused_result));

/* Whether operator op has a rule for computing one chunk of its output
 * from chunks of its inputs (docs/disputes.md lists the rules). */
bool engine_chunk_tiled(const struct engine_model *m, size_t op);
/*
 * Chunk `chunk` of operator op's output (of shape out_shape) from its
 * inputs ins[0..n_inputs) (absent ones ignored): the same bytes as that
 * chunk of the whole output (engine_chunk_copy). A chunk that is the
 * whole output is the operator run on its whole inputs. RF_ERR_NOTFOUND
 * (through ei, naming the input) when a chunk it reads was not given,
 * RF_ERR_NOTSUP for a chunk of an operator with no rule.
 */
int engine_chunk_step(const struct engine_model *m, size_t op,
    const struct engine_shape *out_shape, size_t chunk,
    struct engine_chunk_src *ins, struct tensor *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

#endif /* RF_ENGINE_H */
