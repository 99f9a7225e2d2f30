/*
 * protocol/protocol.h - Refute's protocol library: hash suites, Merkle
 * trees and proofs (RFC 9162), trace commitments and model identities.
 *
 * Pure functions over memory: no sockets, no files. Every decoder is
 * bounded and reports the first problem; nothing here aborts on input.
 */
#ifndef RF_PROTOCOL_H
#define RF_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/rf.h"
#include "../engine/engine.h"

/* Call once before anything else here (initialises libsodium). */
int proto_init(void) __attribute__((warn_unused_result));

/* ------------------------------------------------------------------ */
/* Hash suites                                                          */
/* ------------------------------------------------------------------ */

/* Values travel in every message: never renumber. */
enum proto_hash {
	PROTO_HASH_BLAKE2B = 1, /* blake2b-256, the default */
	PROTO_HASH_XXH3 = 2,    /* xxh3-128, trusted settings only */
};

#define PROTO_DIGEST_MAX 32

/* A digest of the suite's length; unused trailing bytes are zero. */
struct proto_digest {
	uint8_t b[PROTO_DIGEST_MAX];
};

bool proto_hash_valid(int suite);
size_t proto_hash_len(enum proto_hash suite); /* 32 or 16 */
/* "blake2b-256" or "xxh3-128". */
const char *proto_hash_name(enum proto_hash suite);
/* Accepts "blake2b", "blake2b-256", "xxh3", "xxh3-128". */
int proto_hash_parse(const char *name, enum proto_hash *out);
/* H(data), one shot. */
void proto_hash(enum proto_hash suite, const void *p, size_t n,
    struct proto_digest *out);
bool proto_digest_equal(enum proto_hash suite, const struct proto_digest *a,
    const struct proto_digest *b);
/* Lowercase hex of the suite's length; out holds 2 * 32 + 1 bytes. */
void proto_digest_hex(enum proto_hash suite, const struct proto_digest *d,
    char *out);
int proto_digest_parse_hex(enum proto_hash suite, const char *hex,
    struct proto_digest *out);

/* ------------------------------------------------------------------ */
/* Merkle trees (RFC 9162, section 2.1)                                 */
/* ------------------------------------------------------------------ */

/*
 * Leaves are H(0x00 || data), inner nodes H(0x01 || left || right); the
 * tree over n leaves splits at the largest power of two below n. Proofs
 * are lists of digests; a proof never holds more than MERKLE_MAX_PROOF.
 */
#define MERKLE_MAX_PROOF 64

void merkle_leaf_hash(enum proto_hash suite, const void *data, size_t len,
    struct proto_digest *out);
void merkle_node_hash(enum proto_hash suite, const struct proto_digest *l,
    const struct proto_digest *r, struct proto_digest *out);

/* Root over n leaf hashes; n = 0 gives H() of the empty string. */
void merkle_root(enum proto_hash suite, const struct proto_digest *leaves,
    size_t n, struct proto_digest *root);

/* Audit path for leaf index in a tree of n leaves. */
int merkle_inclusion_proof(enum proto_hash suite,
    const struct proto_digest *leaves, size_t n, size_t index,
    struct proto_digest *path, size_t *path_len);
/* RF_OK if leaf (a leaf hash) sits at index of the tree with this root. */
int merkle_inclusion_verify(enum proto_hash suite,
    const struct proto_digest *leaf, size_t index, size_t n,
    const struct proto_digest *path, size_t path_len,
    const struct proto_digest *root);

/* Proof that the first m leaves' tree is a prefix of the n-leaf tree
 * (0 < m <= n). */
int merkle_consistency_proof(enum proto_hash suite,
    const struct proto_digest *leaves, size_t n, size_t m,
    struct proto_digest *path, size_t *path_len);
int merkle_consistency_verify(enum proto_hash suite, size_t m, size_t n,
    const struct proto_digest *root_m, const struct proto_digest *root_n,
    const struct proto_digest *path, size_t path_len);

/*
 * The frontier of a tree of n leaves: the roots of its perfect subtrees,
 * largest first (one per set bit of n). It is the audit path of the next
 * leaf in a tree of n + 1 leaves, so merkle_frontier_append folds one new
 * leaf onto it and gives the root of size n + 1 without the leaves.
 */
int merkle_frontier(enum proto_hash suite, const struct proto_digest *leaves,
    size_t n, struct proto_digest *frontier, size_t *len);
void merkle_frontier_root(enum proto_hash suite,
    const struct proto_digest *frontier, size_t len,
    struct proto_digest *root);
void merkle_frontier_append(enum proto_hash suite,
    const struct proto_digest *frontier, size_t len,
    const struct proto_digest *leaf, struct proto_digest *root);

/* ------------------------------------------------------------------ */
/* Trace commitment and model identity                                  */
/* ------------------------------------------------------------------ */

/*
 * Canonical encoding of a trace entry (one or more tensors, all of one
 * operator's outputs): u8 count, then per tensor u8 dtype, u8 rank,
 * u64 dims[rank] and the row-major little-endian element bytes. The leaf
 * hash is H(0x00 || encoding), computed streaming, without a copy.
 */
void proto_tensor_leaf(enum proto_hash suite,
    const struct tensor *const *tensors, size_t n, struct proto_digest *out);

/*
 * Collects the leaf hash of every trace entry of a run. Use
 * proto_trace_hook with engine_run_opts.trace and a proto_trace as its
 * context; entries must arrive in order (the engine guarantees it).
 */
struct proto_trace {
	enum proto_hash suite;
	struct proto_digest *leaves;
	size_t n, cap;
	int err; /* first error (out of memory, out of order), sticky */
};

void proto_trace_init(struct proto_trace *t, enum proto_hash suite);
void proto_trace_fini(struct proto_trace *t);
int proto_trace_hook(void *ctx, size_t index,
    const struct tensor *const *tensors, size_t n);
/* Root over the leaves collected so far; the trace's own error if any. */
int proto_trace_root(const struct proto_trace *t, struct proto_digest *root);

/*
 * Runs the model on the inputs and commits to its whole trace: leaves
 * (caller frees *leaves with free()), count and root. outputs as in
 * engine_run.
 */
int proto_trace_run(enum proto_hash suite, const struct engine_model *m,
    const struct tensor *inputs, size_t n_inputs, struct tensor *outputs,
    enum engine_kernels kernels, struct proto_digest **leaves, size_t *n,
    struct proto_digest *root, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

/*
 * model_id: the Merkle root over leaf 0 = the canonical graph description
 * (engine_model_encode_graph) and leaves 1..W = each weight tensor's
 * canonical encoding, in the model's value order. A weight's leaf index
 * is 1 + its rank among the weights.
 */
int proto_model_leaves(enum proto_hash suite, const struct engine_model *m,
    struct proto_digest **leaves, size_t *n)
    __attribute__((warn_unused_result));
int proto_model_id(enum proto_hash suite, const struct engine_model *m,
    struct proto_digest *id) __attribute__((warn_unused_result));
/* Leaf index of weight value v in the model_id tree; RF_ERR_INVAL if v is
 * not a weight. */
int proto_model_weight_leaf(const struct engine_model *m, int value,
    size_t *leaf_index);

#endif /* RF_PROTOCOL_H */
