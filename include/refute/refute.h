/*
 * refute/refute.h - Refute's public C API, for programs that embed the
 * deterministic engine: load a model (or import an ONNX file), run it on
 * input tensors, get its outputs and the Merkle root of its whole trace,
 * the same bits and the same root as `refute model run --trace` and as
 * every executor, challenger and referee of a network.
 *
 * Link with `pkg-config --cflags --libs refute` (librefute.so) or
 * `pkg-config --static --libs refute` (librefute.a). Only the names in
 * this header are exported from the shared library; everything else of
 * Refute is internal and may change.
 *
 * Conventions: a function that can fail returns an int, REFUTE_OK (0) on
 * success, else one of the REFUTE_ERR_* codes; its outputs are written
 * only on success. After a failure refute_last_error() gives one line
 * saying what was wrong ("'x.rfm': cannot open: No such file or
 * directory"), kept per thread until that thread's next failure. Objects
 * are opaque and freed by their _free function (NULL is accepted). Any
 * thread may run a model; runs of one model take turns (a run keeps the
 * weights it packs in the model), different models run in parallel. A
 * client (refute_client_open) is used by one thread at a time.
 */
#ifndef REFUTE_REFUTE_H
#define REFUTE_REFUTE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define REFUTE_API __attribute__((visibility("default")))
#else
#define REFUTE_API
#endif

#define REFUTE_VERSION_MAJOR 0
#define REFUTE_VERSION_MINOR 1
#define REFUTE_VERSION_PATCH 0
#define REFUTE_VERSION_STRING "0.1.0"

/* The library's version, "MAJOR.MINOR.PATCH" (may differ from the
 * header's when a program runs against a newer librefute.so.0). */
REFUTE_API const char *refute_version(void);

/* ------------------------------------------------------------------ */
/* Errors                                                               */
/* ------------------------------------------------------------------ */

enum refute_status {
	REFUTE_OK = 0,
	REFUTE_ERR_NOMEM = 1,     /* out of memory */
	REFUTE_ERR_INVAL = 2,     /* invalid argument or value */
	REFUTE_ERR_RANGE = 3,     /* a number or size over a stated limit */
	REFUTE_ERR_SHAPE = 4,     /* tensor shapes do not fit */
	REFUTE_ERR_DTYPE = 5,     /* tensor element type not accepted */
	REFUTE_ERR_NOTSUP = 6,    /* a valid but unsupported feature */
	REFUTE_ERR_FORMAT = 7,    /* malformed file or data */
	REFUTE_ERR_TRUNCATED = 8, /* data ends early */
	REFUTE_ERR_VERSION = 9,   /* unknown format or protocol version */
	REFUTE_ERR_IO = 10,       /* reading or writing a file failed */
	REFUTE_ERR_NOTFOUND = 11, /* no such name, file or record */
	REFUTE_ERR_ABORTED = 12,  /* a callback asked to stop */
	REFUTE_ERR_CRYPTO = 13,   /* bad signature, key or proof */
	REFUTE_ERR_TIMEOUT = 14,  /* no answer in time */
	REFUTE_ERR_CLOSED = 15,   /* the socket or server was closed */
	REFUTE_ERR_NET = 16,      /* any other network failure */
	REFUTE_ERR_STORE = 17,    /* a database failed */
	REFUTE_ERR_FULL = 18,     /* a disk or size limit is full */
	REFUTE_ERR_REFUSED = 19,  /* a rule refused the request */
};

/* A static string for any code ("invalid argument"); never NULL. */
REFUTE_API const char *refute_strerror(int code);
/* The message of this thread's last failed call; "" if none failed. */
REFUTE_API const char *refute_last_error(void);

/* ------------------------------------------------------------------ */
/* Tensors                                                              */
/* ------------------------------------------------------------------ */

/* Element types (the model file's numbering). */
enum refute_dtype {
	REFUTE_F32 = 1,
	REFUTE_I8 = 2,
	REFUTE_I32 = 3,
	REFUTE_I64 = 4,
};

#define REFUTE_MAX_RANK 6

/* A dense tensor: row-major (C order), native byte order. */
typedef struct refute_tensor {
	int dtype; /* enum refute_dtype */
	int rank;  /* 0 .. REFUTE_MAX_RANK */
	int64_t dims[REFUTE_MAX_RANK];
	void *data; /* product of dims elements (1 for rank 0) */
} refute_tensor;

/* Bytes of one element of dtype; 0 for an unknown dtype. */
REFUTE_API size_t refute_dtype_size(int dtype);

/* ------------------------------------------------------------------ */
/* Models                                                               */
/* ------------------------------------------------------------------ */

typedef struct refute_model refute_model;

/* A model file (.rfm, what `refute model import` and `model gen` write). */
REFUTE_API int refute_model_load(const char *path, refute_model **out);
/*
 * An ONNX file (opsets 11 to 17), converted as `refute model import`
 * does: the same file gives the same model and model_id. dims holds
 * n_dims values "NAME=N" for symbolic input dimensions (may be NULL when
 * n_dims is 0). Unsupported operators fail with REFUTE_ERR_NOTSUP naming
 * the node.
 */
REFUTE_API int refute_model_import_onnx(const char *path,
    const char *const *dims, size_t n_dims, refute_model **out);
/* Writes the model file (replacing path by a rename, never in place). */
REFUTE_API int refute_model_save(const refute_model *m, const char *path);
REFUTE_API void refute_model_free(refute_model *m);

REFUTE_API const char *refute_model_name(const refute_model *m);
REFUTE_API size_t refute_model_input_count(const refute_model *m);
REFUTE_API size_t refute_model_output_count(const refute_model *m);
REFUTE_API size_t refute_model_op_count(const refute_model *m);

/* A graph input's or output's declared type and shape. */
typedef struct refute_value_info {
	const char *name; /* valid while the model lives */
	int dtype;
	int rank;         /* -1: an output whose shape is known only at run time */
	int64_t dims[REFUTE_MAX_RANK]; /* -1: a dynamic dimension */
} refute_value_info;

REFUTE_API int refute_model_input(const refute_model *m, size_t i,
    refute_value_info *out);
REFUTE_API int refute_model_output(const refute_model *m, size_t i,
    refute_value_info *out);
/*
 * The model's model_id in lowercase hex (64 digits, 32 for xxh3) for the
 * hash suite named by hash ("blake3", "blake2b" or "xxh3"; NULL is
 * blake3) into hex, which holds at least 65 bytes.
 */
REFUTE_API int refute_model_id(const refute_model *m, const char *hash,
    char *hex, size_t hex_len);

/* ------------------------------------------------------------------ */
/* Running                                                              */
/* ------------------------------------------------------------------ */

enum refute_kernels {
	REFUTE_KERNELS_FAST = 0, /* blocked, vectorised (the default) */
	REFUTE_KERNELS_REF = 1,  /* the scalar reference: same bits, slower */
};

typedef struct refute_run_opts {
	int kernels;      /* enum refute_kernels */
	int trace;        /* nonzero: commit to the trace, compute its root */
	const char *hash; /* trace suite: "blake3" (NULL), "blake2b", "xxh3" */
} refute_run_opts;

/* Fast kernels, no trace, blake3. */
REFUTE_API void refute_run_opts_init(refute_run_opts *o);

typedef struct refute_result refute_result;

/*
 * Runs m on n_inputs tensors (graph input order; each must have the
 * declared dtype, rank and sizes, REFUTE_ERR_SHAPE or REFUTE_ERR_DTYPE
 * naming the input otherwise). The inputs are copied; o may be NULL.
 */
REFUTE_API int refute_run(const refute_model *m, const refute_tensor *inputs,
    size_t n_inputs, const refute_run_opts *o, refute_result **out);
REFUTE_API size_t refute_result_output_count(const refute_result *r);
/* Output i as a view into r: valid until refute_result_free(r). */
REFUTE_API int refute_result_output(const refute_result *r, size_t i,
    refute_tensor *out);
/* The trace root in lowercase hex; "" when the run was not traced. */
REFUTE_API const char *refute_result_trace_root(const refute_result *r);
/* Number of trace leaves (inputs + operators); 0 when not traced. */
REFUTE_API size_t refute_result_trace_leaves(const refute_result *r);
REFUTE_API void refute_result_free(refute_result *r);

/* ------------------------------------------------------------------ */
/* Generation (language models; docs/generation.md)                     */
/* ------------------------------------------------------------------ */

typedef struct refute_gen_opts {
	uint32_t n_new;    /* tokens to draw, >= 1 (default 1) */
	float temperature; /* 0 (default): greedy; else sample at it (<= 100) */
	int64_t top_k;     /* sample among the k likeliest only (0: all) */
	float top_p;       /* within the likeliest mass p (1, the default: all) */
	uint64_t seed;     /* the sampler's random stream (default 1) */
	int kernels;       /* enum refute_kernels */
	int trace;         /* nonzero: commit to the whole generation */
	const char *hash;  /* trace suite, as refute_run_opts */
} refute_gen_opts;

REFUTE_API void refute_gen_opts_init(refute_gen_opts *o);
/*
 * Generates o->n_new tokens after the prompt with a language model (as
 * `refute model gen gpt` lays it out, or an imported model mapping a
 * context of tokens to logits), as `refute generate` does: the prefill,
 * every decode step and every draw run as one deterministic graph, so
 * the same options give the same tokens and trace root everywhere. The
 * result's output 0 is the last token (i64 [1]), output 1 every new
 * token (i64 [n_new]). A model of another kind is REFUTE_ERR_NOTSUP, a
 * prompt token outside the vocabulary REFUTE_ERR_RANGE.
 */
REFUTE_API int refute_generate(const refute_model *m, const int64_t *prompt,
    size_t prompt_len, const refute_gen_opts *o, refute_result **out);

/*
 * Threads per run (0: one per core; the default is 1). Every count gives
 * the same bits. Process-wide.
 */
REFUTE_API int refute_threads_set(unsigned n);

/* ------------------------------------------------------------------ */
/* A network: submit a job, wait for its verified result                */
/* ------------------------------------------------------------------ */

typedef struct refute_client refute_client;

/*
 * Connects to a network's referee (referee_url, "tcp://HOST:PORT") as
 * the identity in identity_path (a `refute keygen` file, mode 0600), or
 * as a throwaway key when it is NULL (enough for jobs with no fee).
 * Replies must be signed by referee_key (64 hex digits) unless it is
 * NULL. The network's hash suite is the referee's.
 */
REFUTE_API int refute_client_open(const char *referee_url,
    const char *identity_path, const char *referee_key, refute_client **out);
REFUTE_API void refute_client_close(refute_client *c);

/*
 * Submits a job: model m (its model_id, which the network must serve)
 * on the inputs, checked against the model first, paying fee on
 * finality. Writes the job id in hex into job_hex (at least 65 bytes).
 */
REFUTE_API int refute_submit(refute_client *c, const refute_model *m,
    const refute_tensor *inputs, size_t n_inputs, uint64_t fee,
    char *job_hex, size_t job_hex_len);
/*
 * Waits up to timeout_ms for the job's claim to become final, its
 * challenge window passed, and returns its outputs (checked against m's
 * declared outputs) and the claimed trace root as a result. A claim that
 * fell in a dispute is REFUTE_ERR_REFUSED, a job still open or claimed
 * at the timeout REFUTE_ERR_TIMEOUT.
 */
REFUTE_API int refute_wait(refute_client *c, const refute_model *m,
    const char *job_hex, uint32_t timeout_ms, refute_result **out);

/* ------------------------------------------------------------------ */
/* Auditing a verdict                                                   */
/* ------------------------------------------------------------------ */

/* What the replay of a dispute's verdict found (`refute audit`). */
typedef struct refute_audit {
	int confirmed;    /* 1: the replay reaches the verdict as signed */
	int executor_won; /* the verdict's: 1 the claim stands, 0 it fell */
	uint32_t op;      /* the disputed operator */
	uint32_t rounds;
	uint64_t slashed; /* taken from the loser */
	uint64_t reward;  /* paid to the winner */
	char dispute_id[65];
	char job_id[65];
	char reason[32];  /* "recomputed", "timeout", ... */
	char why[160];    /* the replay's one-line account */
} refute_audit;

/*
 * Replays the signed VERDICT message in verdict_path against the network
 * whose genesis file is genesis_path: every signature, every move, the
 * disputed operator recomputed, every field of the verdict. The verdict
 * must be signed by referee_key (64 hex digits) or, when it is NULL, by
 * the referee the genesis names. REFUTE_OK when the verdict could be
 * replayed, out->confirmed saying whether it stands; REFUTE_ERR_CRYPTO
 * for a verdict another key signed, other codes for an unreadable or
 * malformed file.
 */
REFUTE_API int refute_audit_verdict(const char *verdict_path,
    const char *genesis_path, const char *referee_key, refute_audit *out);

#ifdef __cplusplus
}
#endif

#endif /* REFUTE_REFUTE_H */
