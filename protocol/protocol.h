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

#include "base/rf.h"
#include "engine/tensor.h"

/* Only pointers to models here: engine/engine.h defines them. */
struct engine_model;

/* Call once before anything else here (initialises libsodium). */
int proto_init(void) __attribute__((warn_unused_result));

/* ------------------------------------------------------------------ */
/* Hash suites                                                          */
/* ------------------------------------------------------------------ */

/* Values travel in every message: never renumber. */
enum proto_hash {
	PROTO_HASH_BLAKE2B = 1, /* blake2b-256: networks without a suite */
	PROTO_HASH_XXH3 = 2,    /* xxh3-128, trusted settings only */
	PROTO_HASH_BLAKE3 = 3,  /* blake3-256: the default for new networks */
};

#define PROTO_DIGEST_MAX 32

/* A digest of the suite's length; unused trailing bytes are zero. */
struct proto_digest {
	uint8_t b[PROTO_DIGEST_MAX];
};

bool proto_hash_valid(int suite);
size_t proto_hash_len(enum proto_hash suite); /* 32 or 16 */
/* "blake2b-256", "blake3-256" or "xxh3-128". */
const char *proto_hash_name(enum proto_hash suite);
/* Accepts "blake2b", "blake2b-256", "blake3", "blake3-256", "xxh3",
 * "xxh3-128". */
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

void proto_merkle_leaf_hash(enum proto_hash suite, const void *data, size_t len,
    struct proto_digest *out);
void proto_merkle_node_hash(enum proto_hash suite, const struct proto_digest *l,
    const struct proto_digest *r, struct proto_digest *out);

/* Root over n leaf hashes; n = 0 gives H() of the empty string. */
void proto_merkle_root(enum proto_hash suite, const struct proto_digest *leaves,
    size_t n, struct proto_digest *root);

/* Audit path for leaf index in a tree of n leaves. */
int proto_merkle_inclusion_proof(enum proto_hash suite,
    const struct proto_digest *leaves, size_t n, size_t index,
    struct proto_digest *path, size_t *path_len);
/* RF_OK if leaf (a leaf hash) sits at index of the tree with this root. */
int proto_merkle_inclusion_verify(enum proto_hash suite,
    const struct proto_digest *leaf, size_t index, size_t n,
    const struct proto_digest *path, size_t path_len,
    const struct proto_digest *root);

/* The root that leaf, index, n and path fold to (RF_ERR_CRYPTO when the
 * path has the wrong length for index and n). */
int proto_merkle_inclusion_root(enum proto_hash suite,
    const struct proto_digest *leaf, size_t index, size_t n,
    const struct proto_digest *path, size_t path_len,
    struct proto_digest *root);
/* Length of the audit path of leaf index in a tree of n leaves. */
size_t proto_merkle_path_len(size_t index, size_t n);

/* Proof that the first m leaves' tree is a prefix of the n-leaf tree
 * (0 < m <= n). */
int proto_merkle_consistency_proof(enum proto_hash suite,
    const struct proto_digest *leaves, size_t n, size_t m,
    struct proto_digest *path, size_t *path_len);
int proto_merkle_consistency_verify(enum proto_hash suite, size_t m, size_t n,
    const struct proto_digest *root_m, const struct proto_digest *root_n,
    const struct proto_digest *path, size_t path_len);

/*
 * The frontier of a tree of n leaves: the roots of its perfect subtrees,
 * largest first (one per set bit of n). It is the audit path of the next
 * leaf in a tree of n + 1 leaves, so proto_merkle_frontier_append folds one new
 * leaf onto it and gives the root of size n + 1 without the leaves.
 */
int proto_merkle_frontier(enum proto_hash suite, const struct proto_digest *leaves,
    size_t n, struct proto_digest *frontier, size_t *len);
void proto_merkle_frontier_root(enum proto_hash suite,
    const struct proto_digest *frontier, size_t len,
    struct proto_digest *root);
void proto_merkle_frontier_append(enum proto_hash suite,
    const struct proto_digest *frontier, size_t len,
    const struct proto_digest *leaf, struct proto_digest *root);

/*
 * A tree kept in memory (every level of perfect subtrees), so that the
 * root, inclusion proofs and frontiers of any prefix of size n take
 * O(log^2 n) hashes instead of O(n): a reveal proving hundreds of chunks
 * of a million-leaf trace. level[0] is the caller's leaves (not copied).
 */
struct proto_merkle_tree {
	enum proto_hash suite;
	size_t n;
	int levels;
	const struct proto_digest *level[MERKLE_MAX_PROOF];
	struct proto_digest *owned[MERKLE_MAX_PROOF];
};
int proto_merkle_tree_build(enum proto_hash suite,
    const struct proto_digest *leaves, size_t n, struct proto_merkle_tree *t)
    __attribute__((warn_unused_result));
void proto_merkle_tree_free(struct proto_merkle_tree *t);
/* The same results as proto_merkle_root, proto_merkle_inclusion_proof
 * and proto_merkle_frontier over the first n (<= t->n) leaves. */
void proto_merkle_tree_root(const struct proto_merkle_tree *t, size_t n,
    struct proto_digest *root);
int proto_merkle_tree_inclusion_proof(const struct proto_merkle_tree *t,
    size_t n, size_t index, struct proto_digest *path, size_t *path_len);
int proto_merkle_tree_frontier(const struct proto_merkle_tree *t, size_t n,
    struct proto_digest *frontier, size_t *len);
int proto_merkle_tree_consistency_proof(const struct proto_merkle_tree *t,
    size_t n, size_t m, struct proto_digest *path, size_t *path_len);

/*
 * A run of count leaves from index first in a tree of n leaves, proven
 * at once (the chunks of one trace entry, say): the frontier of size
 * first, then, when first + count < n, the consistency proof from size
 * first + count to n. The verifier folds the leaves onto the frontier
 * (the root of size first + count) and checks that root against root.
 * At most MERKLE_MAX_PROOF digests (RF_ERR_RANGE from the builder).
 */
int proto_merkle_tree_range_proof(const struct proto_merkle_tree *t,
    size_t first, size_t count, size_t n, struct proto_digest *path,
    size_t *path_len);
int proto_merkle_range_verify(enum proto_hash suite, size_t first,
    const struct proto_digest *leaves, size_t count, size_t n,
    const struct proto_digest *path, size_t path_len,
    const struct proto_digest *root);

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
struct proto_trace_layout;
struct proto_trace {
	enum proto_hash suite;
	struct proto_digest *leaves;
	size_t n, cap;
	int err; /* first error (out of memory, out of order), sticky */
	/* NULL: one leaf per entry. Else the chunked layout the leaves
	 * follow (an entry of count > 1 gives one leaf per chunk). */
	const struct proto_trace_layout *layout;
	size_t entries; /* entries seen */
};

/*
 * Where each trace entry's leaves lie when the trace is committed in
 * chunks: job inputs one leaf each; operator k's entry one leaf per chunk
 * of its output (engine_chunk_count) when the operator has a chunk rule
 * (engine_chunk_tiled) and its output more than one chunk, else one leaf
 * (the entry's proto_tensor_leaf, as in an unchunked trace). Derived
 * from the graph and the inputs' shapes alone, so every party, the
 * referee included, derives the same map and the same n.
 */
struct proto_trace_layout {
	size_t n_entries;     /* inputs + operators */
	size_t n_leaves;      /* the trace's n */
	size_t *first;        /* first leaf of each entry */
	size_t *count;        /* leaves of each entry */
	struct engine_shape *shapes; /* every value's shape */
	size_t n_values;
};
/* The layout for m with the declared input shapes (inputs NULL) or the
 * job's (n_inputs shapes). RF_ERR_NOTSUP when a shape is not known. */
int proto_trace_layout_make(const struct engine_model *m,
    const struct engine_shape *inputs, size_t n_inputs,
    struct proto_trace_layout *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
void proto_trace_layout_free(struct proto_trace_layout *l);
/* The entry and chunk of leaf (RF_ERR_RANGE beyond n_leaves); chunk is 0
 * for an entry of one leaf. */
int proto_trace_layout_find(const struct proto_trace_layout *l, size_t leaf,
    size_t *entry, size_t *chunk);
/* proto_trace_run with the chunked layout l (its shapes must be the run's). */
int proto_trace_run_chunked(enum proto_hash suite,
    const struct engine_model *m, const struct proto_trace_layout *l,
    const struct tensor *inputs, size_t n_inputs, struct tensor *outputs,
    enum engine_kernels kernels, struct proto_digest **leaves, size_t *n,
    struct proto_digest *root, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

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
 * Chunks (engine_chunk_*): a tensor of one chunk has its own leaf
 * (proto_tensor_leaf of it alone). A chunk of a larger tensor t is the
 * rank-2 tensor of its tile; its leaf is H(0x00 || 0x80 || u8 dtype ||
 * u8 rank || u64 dims[rank] of t || u64 index || the tile's bytes).
 * proto_chunk_leaf: RF_ERR_INVAL when chunk does not have the tile's
 * dtype and shape, RF_ERR_RANGE for an index beyond t's chunks (t's data
 * is not read: a tensor with no data gives the shape).
 */
int proto_chunk_leaf(enum proto_hash suite, const struct tensor *t,
    size_t index, const struct tensor *chunk, struct proto_digest *out)
    __attribute__((warn_unused_result));
/* The leaves of all of t's chunks, in order (malloc'd). */
int proto_chunk_leaves(enum proto_hash suite, const struct tensor *t,
    struct proto_digest **leaves, size_t *n)
    __attribute__((warn_unused_result));
/* t's leaf in model_id: its own leaf when it is one chunk, else the
 * Merkle root over its chunks' leaves. */
int proto_chunked_leaf(enum proto_hash suite, const struct tensor *t,
    struct proto_digest *out) __attribute__((warn_unused_result));

/*
 * model_id: the Merkle root over leaf 0 = the canonical graph description
 * (engine_model_encode_graph) and leaves 1..W = each weight's chunked
 * leaf (proto_chunked_leaf), in the model's value order. A weight's leaf
 * index is 1 + its rank among the weights. A weight of one chunk (at most
 * ENGINE_CHUNK_ONE_LEAF bytes) has the leaf it had before chunks, so the
 * model_id of a model with only such weights did not change.
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

/*
 * A chunk of weight value v proven against model_id: the chunk's path in
 * the weight's chunk tree (none when the weight is one chunk), then the
 * weight's path in model_id's tree. Its length is log2 of the chunks plus
 * log2 of the weights, never the weight's size.
 */
int proto_model_chunk_proof(enum proto_hash suite, const struct engine_model *m,
    int value, size_t chunk, struct proto_digest *path, size_t *path_len)
    __attribute__((warn_unused_result));
/*
 * Checks data as chunk `chunk` of the weight at leaf weight_leaf of a
 * model_id tree of model_leaves leaves; weight_shape gives the weight's
 * dtype and shape (from the verified graph; its data is not read). RF_OK
 * or RF_ERR_CRYPTO.
 */
int proto_model_chunk_verify(enum proto_hash suite,
    const struct proto_digest *model_id, size_t model_leaves,
    size_t weight_leaf, const struct tensor *weight_shape, size_t chunk,
    const struct tensor *data, const struct proto_digest *path,
    size_t path_len) __attribute__((warn_unused_result));

/*
 * What a model must satisfy to be served (protocol/servable.c).
 *
 * proto_model_output_op: the operator whose trace entry a claim carries
 * and proves. The graph's declared outputs must be exactly that
 * operator's outputs, in order (then the entry's tensors are the graph's
 * outputs); otherwise RF_ERR_NOTSUP saying so. Its leaf index in the
 * trace is input count + *op.
 *
 * proto_model_dispute_check: runs engine_model_check, the output rule,
 * and checks that revealing any operator's inputs and weights in a
 * dispute fits a verdict's transcript (PROTO_MAX_TRANSCRIPT, less what
 * else the transcript holds: the registration with a graph of graph_len
 * bytes, the job with its inputs (PROTO_MAX_DISPUTABLE_JOB when an input
 * shape is dynamic), the claim with its output, the challenge, every
 * round).
 * RF_ERR_RANGE names the first operator that does not fit and its bytes.
 * Operators whose input shapes depend on a dynamic dimension are not
 * bounded here.
 */
int proto_model_output_op(const struct engine_model *m, size_t *op,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));
int proto_model_dispute_check(enum proto_hash suite,
    const struct engine_model *m, size_t graph_len, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------------ */
/* Identities and signatures (Ed25519, libsodium)                       */
/* ------------------------------------------------------------------ */

#define PROTO_KEY_LEN 32
#define PROTO_SECRET_LEN 64
#define PROTO_SIG_LEN 64

struct proto_pubkey {
	uint8_t b[PROTO_KEY_LEN];
};

/* A node's key pair. Wipe with proto_identity_wipe when done. */
struct proto_identity {
	struct proto_pubkey pk;
	uint8_t sk[PROTO_SECRET_LEN];
};

int proto_identity_generate(struct proto_identity *id)
    __attribute__((warn_unused_result));
/* From a 32-byte seed (tests and simulations: reproducible keys). */
void proto_identity_from_seed(struct proto_identity *id,
    const uint8_t seed[32]);
void proto_identity_wipe(struct proto_identity *id);

/* n bytes from the operating system's secure random source (libsodium's
 * randombytes; proto_init must have succeeded). For secrets such as a
 * challenger's sampling seed. */
void proto_random(void *buf, size_t n);

/*
 * The identity file, text:
 *   refute-identity 1
 *   public <64 hex>
 *   secret <128 hex>
 * format writes it into buf (PROTO_IDENTITY_TEXT_MAX bytes suffice);
 * parse accepts exactly that (a final newline optional) and checks that
 * the secret key's public half equals the public line.
 */
#define PROTO_IDENTITY_TEXT_MAX 256
int proto_identity_format(const struct proto_identity *id, char *buf,
    size_t len);
int proto_identity_parse(const char *text, size_t len,
    struct proto_identity *id, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

void proto_sign(const struct proto_identity *id, const void *msg, size_t len,
    uint8_t sig[PROTO_SIG_LEN]);
/* RF_OK for a valid signature, RF_ERR_CRYPTO otherwise. */
int proto_verify(const struct proto_pubkey *pk, const void *msg, size_t len,
    const uint8_t sig[PROTO_SIG_LEN]) __attribute__((warn_unused_result));
/* 64 lowercase hex digits + NUL. */
void proto_pubkey_hex(const struct proto_pubkey *pk, char out[65]);
int proto_pubkey_parse_hex(const char *hex, struct proto_pubkey *out);
bool proto_pubkey_is_zero(const struct proto_pubkey *pk);

/*
 * A job's id: H("refute-job" || model_id || client || nonce (u64 LE) ||
 * the leaf of each input), so it binds the client's signed JOB_SUBMIT.
 * n_inputs is at most PROTO_MAX_TENSORS (more are ignored).
 */
void proto_job_id(enum proto_hash suite, const struct proto_digest *model_id,
    const struct proto_pubkey *client, uint64_t nonce,
    const struct proto_digest *input_leaves, size_t n_inputs,
    struct proto_digest *out);
/* A dispute's id: H("refute-dispute" || job_id || challenger). */
void proto_dispute_id(enum proto_hash suite, const struct proto_digest *job,
    const struct proto_pubkey *challenger, struct proto_digest *out);
/* Whether a challenger sampling at rate (0..1) with secret seed verifies
 * job: H_blake2b(seed (u64 LE) || job) read as a number in [0, 1) is
 * below rate. Deterministic in (seed, job). */
bool proto_sampled(uint64_t seed, double rate, const struct proto_digest *job);

/* ------------------------------------------------------------------ */
/* Messages                                                             */
/* ------------------------------------------------------------------ */

/*
 * Every message travels in a signed envelope (all integers
 * little-endian):
 *
 *   offset  size  field
 *   0       4     magic "RFTP"
 *   4       1     protocol version (PROTO_VERSION)
 *   5       1     message type (enum proto_msg_type)
 *   6       1     hash suite (enum proto_hash) for every digest inside
 *   7       1     flags, 0
 *   8       32    sender's Ed25519 public key
 *   40      8     sender's sequence number (strictly increasing per sender;
 *                 receivers reject replays)
 *   48      4     body length L (<= PROTO_MAX_BODY)
 *   52      L     body, laid out per type (protocol/msg.c)
 *   52+L    64    Ed25519 signature over bytes 0 .. 52+L-1
 *
 * Unknown versions, types, suites and flags are rejected with a reason,
 * never guessed at.
 */
#define PROTO_MAGIC "RFTP"
#define PROTO_VERSION 1
#define PROTO_ENVELOPE_OVERHEAD (52 + PROTO_SIG_LEN)
#define PROTO_MAX_BODY ((size_t)64 << 20)
#define PROTO_MAX_MESSAGE (PROTO_MAX_BODY + PROTO_ENVELOPE_OVERHEAD)

/* Limits on fields; decoders reject anything larger. */
#define PROTO_MAX_NAME 64         /* node and model names */
#define PROTO_MAX_TEXT 256        /* error text, endpoints */
#define PROTO_MAX_MODELS 16       /* models one executor serves */
#define PROTO_MAX_TENSORS ENGINE_MAX_GRAPH_IO
#define PROTO_MAX_ENTRY_TENSORS ENGINE_MAX_OP_OUTPUTS
#define PROTO_MAX_ARITY 16        /* k of k-ary dissection */
#define PROTO_MAX_GRAPH ((size_t)16 << 20)
#define PROTO_MAX_TRANSCRIPT ((size_t)32 << 20)
/* A job's signed JOB_SUBMIT opens every transcript of a dispute on it:
 * the referee takes no job it could not put there with room to spare. */
#define PROTO_MAX_DISPUTABLE_JOB (PROTO_MAX_TRANSCRIPT / 4)
#define PROTO_MAX_STATUS_NODES 1024
#define PROTO_MAX_EVENTS 256      /* events in one EVENTS reply */
#define PROTO_MAX_LIST 256        /* entries in one JOBS/DISPUTES list */

/* Values are on the wire: never renumber. */
enum proto_msg_type {
	PROTO_MSG_ERROR = 1,          /* reply: something was refused */
	PROTO_MSG_ACK = 2,            /* reply: accepted, with an id */
	PROTO_MSG_NODE_REGISTER = 10, /* a node announces itself */
	PROTO_MSG_STAKE = 11,         /* move balance into stake */
	PROTO_MSG_UNSTAKE = 12,       /* move stake back to balance */
	PROTO_MSG_MODEL_REGISTER = 13,
	PROTO_MSG_JOB_SUBMIT = 20,
	PROTO_MSG_JOB_FETCH = 21,
	PROTO_MSG_JOB_INFO = 22,      /* reply to fetch; event: assignment */
	PROTO_MSG_JOB_CANCEL = 23,    /* the client withdraws an open job */
	PROTO_MSG_JOBS_QUERY = 24,    /* jobs by state and id prefix */
	PROTO_MSG_JOBS_LIST = 25,     /* reply to jobs_query */
	PROTO_MSG_CLAIM = 30,         /* an executor's signed result */
	PROTO_MSG_CLAIM_STATUS = 31,
	PROTO_MSG_CLAIM_INFO = 32,    /* reply to status */
	PROTO_MSG_CHALLENGE = 40,     /* opens a dispute, posts a bond */
	PROTO_MSG_BISECT_QUERY = 41,  /* referee asks for prefix roots */
	PROTO_MSG_BISECT_ANSWER = 42, /* a side answers with proofs */
	PROTO_MSG_REVEAL = 43,        /* one-step: operator inputs, proofs */
	PROTO_MSG_VERDICT = 44,       /* signed decision with transcript */
	PROTO_MSG_EQUIVOCATION = 45,  /* two conflicting signed claims */
	PROTO_MSG_DISPUTE_FETCH = 46, /* current query, or the verdict */
	PROTO_MSG_DISPUTES_QUERY = 47, /* disputes by state, prefix, job */
	PROTO_MSG_DISPUTES_LIST = 48, /* reply to disputes_query */
	PROTO_MSG_EVENT = 50,         /* referee notification */
	PROTO_MSG_EVENTS_FETCH = 51,  /* events after a sequence number */
	PROTO_MSG_EVENTS = 52,        /* reply: a run of events */
	PROTO_MSG_STATUS_QUERY = 60,
	PROTO_MSG_STATUS_INFO = 61,
};

/* "claim", "bisect_answer", ...; NULL for an unknown type. */
const char *proto_msg_type_name(int type);

/* Codes carried by PROTO_MSG_ERROR. */
enum proto_error_code {
	PROTO_ERR_MALFORMED = 1,  /* could not decode */
	PROTO_ERR_SIGNATURE = 2,  /* bad signature */
	PROTO_ERR_REPLAY = 3,     /* sequence number not above the last */
	PROTO_ERR_VERSION = 4,    /* unknown version, type or suite */
	PROTO_ERR_TOO_LARGE = 5,
	PROTO_ERR_UNKNOWN = 6,    /* no such node, model, job, dispute */
	PROTO_ERR_STAKE = 7,      /* not enough stake or balance */
	PROTO_ERR_STATE = 8,      /* not allowed now (window closed...) */
	PROTO_ERR_INVALID = 9,    /* well-formed but wrong (bad proof...) */
	PROTO_ERR_INTERNAL = 10,  /* the receiver failed; try again */
	PROTO_ERR_DISK_FULL = 11, /* the receiver's disk is full; retry later */
	PROTO_ERR_HALTED = 12,    /* the referee's ledger failed its check:
	                           * writes suspended until an operator acts */
};
/* The highest code a decoder accepts. */
#define PROTO_ERR_LAST PROTO_ERR_HALTED

enum proto_role {
	PROTO_ROLE_EXECUTOR = 1,
	PROTO_ROLE_CHALLENGER = 2,
	PROTO_ROLE_CLIENT = 4,
};

struct proto_error {
	uint32_t code; /* enum proto_error_code */
	char text[PROTO_MAX_TEXT + 1];
};

struct proto_ack {
	uint64_t ref_seq;        /* sequence number of the request */
	struct proto_digest id;  /* what was created (job, dispute); or 0 */
};

struct proto_node_register {
	uint8_t roles; /* enum proto_role bits */
	char name[PROTO_MAX_NAME + 1];
	char endpoint[PROTO_MAX_TEXT + 1]; /* where clients reach it, or "" */
	uint8_t n_models;
	struct proto_digest models[PROTO_MAX_MODELS];
};

struct proto_amount {
	uint64_t amount; /* STAKE, UNSTAKE */
};

struct proto_model_register {
	struct proto_digest model_id;
	char name[PROTO_MAX_NAME + 1];
	uint32_t n_ops;
	uint32_t n_inputs;
	uint8_t *graph; /* canonical graph description, owned */
	size_t graph_len;
	/* The graph is leaf 0 of model_id's tree of n_leaves leaves. */
	uint32_t n_leaves;
	uint8_t proof_len;
	struct proto_digest *graph_proof; /* proof_len, owned */
};

struct proto_job_submit {
	struct proto_digest model_id;
	uint64_t fee;
	uint64_t nonce;              /* client-chosen, makes job ids unique */
	struct proto_pubkey executor; /* zero: the referee assigns one */
	uint8_t n_inputs;
	struct tensor inputs[PROTO_MAX_TENSORS]; /* owned */
};

struct proto_job_fetch {
	struct proto_digest job_id;
};

enum proto_job_state {
	PROTO_JOB_OPEN = 1,     /* waiting for a claim */
	PROTO_JOB_CLAIMED = 2,  /* claim posted, window open */
	PROTO_JOB_DISPUTED = 3,
	PROTO_JOB_FINAL = 4,
	PROTO_JOB_INVALID = 5,  /* claim lost a dispute */
	PROTO_JOB_CANCELLED = 6, /* withdrawn by its client before a claim */
};
#define PROTO_JOB_STATE_LAST PROTO_JOB_CANCELLED

/* "open", "claimed", "disputed", "final", "invalid", "cancelled"; "?"
 * for an unknown value. */
const char *proto_job_state_name(uint8_t state);

/* Signed by the job's client: the job is withdrawn and its fee refunded,
 * if no claim was posted yet. */
struct proto_job_cancel {
	struct proto_digest job_id;
};

/* Jobs whose id starts with prefix (prefix_len 0: any) in state (0:
 * any), newest first, at most max (0 or above PROTO_MAX_LIST:
 * PROTO_MAX_LIST). */
struct proto_jobs_query {
	uint8_t state;
	uint8_t prefix_len; /* <= the suite's digest length */
	uint8_t prefix[PROTO_DIGEST_MAX];
	uint32_t max;
};

struct proto_job_entry {
	struct proto_digest job_id;
	struct proto_digest model_id;
	struct proto_pubkey client;
	struct proto_pubkey executor;
	uint64_t fee;
	uint8_t state; /* enum proto_job_state */
	uint64_t created_ms, deadline_ms;
};

struct proto_jobs_list {
	uint8_t cut; /* 1: more matched than were sent */
	uint32_t n;
	struct proto_job_entry *jobs; /* n, owned */
};

struct proto_job_info {
	struct proto_digest job_id;
	struct proto_digest model_id;
	struct proto_pubkey client;
	struct proto_pubkey executor;
	uint64_t fee;
	uint8_t state; /* enum proto_job_state */
	uint8_t n_inputs;
	struct tensor inputs[PROTO_MAX_TENSORS]; /* owned */
};

/*
 * An executor's claim. The output is the last trace entry (the final
 * operator's outputs), proven to be leaf n - 1 of trace_root.
 */
struct proto_claim {
	struct proto_digest job_id;
	struct proto_digest model_id;
	uint8_t n_inputs;
	struct proto_digest input_leaves[PROTO_MAX_TENSORS];
	uint32_t n; /* trace length: inputs + operators */
	struct proto_digest trace_root;
	uint8_t n_outputs;
	struct tensor outputs[PROTO_MAX_ENTRY_TENSORS]; /* owned */
	uint8_t proof_len;
	struct proto_digest *output_proof; /* proof_len, owned */
};

struct proto_claim_status {
	struct proto_digest job_id;
};

struct proto_claim_info {
	struct proto_digest job_id;
	uint8_t state; /* enum proto_job_state */
	struct proto_pubkey executor;
	struct proto_digest trace_root;
	uint32_t n;
	uint64_t window_end_ms; /* unix time the challenge window closes */
	uint8_t n_outputs;
	struct tensor outputs[PROTO_MAX_ENTRY_TENSORS]; /* owned */
};

struct proto_challenge {
	struct proto_digest job_id;
	struct proto_pubkey executor;        /* whose claim */
	struct proto_digest executor_root;   /* the root being disputed */
	struct proto_digest challenger_root; /* the challenger's own root */
	uint32_t n;
	uint64_t bond;
};

/* The referee asks both sides for the roots of these prefix sizes. */
struct proto_bisect_query {
	struct proto_digest dispute_id;
	uint32_t round;
	uint64_t lo, hi; /* agreed prefix size, first disputed size */
	uint8_t n_sizes; /* k - 1 */
	uint64_t sizes[PROTO_MAX_ARITY - 1];
	uint64_t deadline_ms;
};

/* One prefix root with its consistency proof (size -> n) against the
 * side's committed root. */
struct proto_prefix_root {
	uint64_t size;
	struct proto_digest root;
	uint8_t proof_len;
	struct proto_digest *proof; /* proof_len, owned */
};

struct proto_bisect_answer {
	struct proto_digest dispute_id;
	uint32_t round;
	uint8_t n_roots;
	struct proto_prefix_root roots[PROTO_MAX_ARITY - 1];
};

/* Where one revealed operator input comes from. */
enum proto_reveal_src {
	PROTO_REVEAL_ABSENT = 0, /* optional input not given */
	PROTO_REVEAL_TRACE = 1,  /* a trace entry, proven against the agreed
				  * prefix root */
	PROTO_REVEAL_WEIGHT = 2, /* a weight, proven against model_id */
};

struct proto_reveal_input {
	uint8_t src;        /* enum proto_reveal_src */
	uint32_t leaf;      /* leaf index in the trace or model_id tree */
	uint8_t output;     /* which tensor of a multi-tensor trace entry */
	uint8_t n_tensors;  /* the whole leaf's tensors (1 for weights) */
	struct tensor tensors[PROTO_MAX_ENTRY_TENSORS]; /* owned */
	uint8_t proof_len;
	struct proto_digest *proof; /* proof_len, owned */
};

struct proto_reveal {
	struct proto_digest dispute_id;
	uint32_t op;        /* disputed operator index */
	uint8_t n_inputs;
	struct proto_reveal_input *inputs; /* n_inputs, owned */
	/* The frontier of the agreed prefix (proto_merkle_frontier): the referee
	 * folds the recomputed leaf onto it. */
	uint8_t frontier_len;
	struct proto_digest *frontier; /* frontier_len, owned */
};

enum proto_verdict_reason {
	PROTO_VERDICT_RECOMPUTED = 1,  /* one-step recomputation decided */
	PROTO_VERDICT_BAD_PROOF = 2,   /* a side answered with a bad proof */
	PROTO_VERDICT_TIMEOUT = 3,     /* a side's clock ran out */
	PROTO_VERDICT_EQUIVOCATION = 4,
	PROTO_VERDICT_SETTLED = 5,     /* another dispute already decided */
};

/* "recomputed", "bad-proof", "timeout", "equivocation", "settled";
 * "?" for an unknown value. */
const char *proto_verdict_reason_name(uint8_t reason);

struct proto_verdict {
	struct proto_digest dispute_id;
	struct proto_digest job_id;
	struct proto_pubkey executor;
	struct proto_pubkey challenger;
	uint8_t executor_won; /* 1: the claim stands; 0: it was false */
	uint8_t reason;       /* enum proto_verdict_reason */
	uint32_t op;          /* disputed operator, when one was found */
	uint32_t rounds;
	uint64_t slashed;     /* stake or bond taken from the loser */
	uint64_t reward;      /* part of it paid to the winner */
	uint8_t *transcript;  /* the dispute's signed messages, owned */
	size_t transcript_len;
};

/* Two envelopes (raw bytes), both signed claims by one executor for one
 * job, with different contents. */
struct proto_equivocation {
	uint8_t *claim_a, *claim_b; /* owned */
	size_t len_a, len_b;
};

enum proto_event_kind {
	PROTO_EVENT_JOB_ASSIGNED = 1,
	PROTO_EVENT_CLAIM_POSTED = 2,
	PROTO_EVENT_CLAIM_FINAL = 3,
	PROTO_EVENT_CLAIM_INVALID = 4,
	PROTO_EVENT_DISPUTE_OPENED = 5,
	PROTO_EVENT_DISPUTE_CLOSED = 6,
	PROTO_EVENT_NODE_SLASHED = 7,
	PROTO_EVENT_DISPUTE_MOVE = 8, /* a dispute waits for moves (value:
				       * round, 0 for the reveal) */
};

struct proto_event {
	uint64_t seq; /* position in the referee's event log, from 1 */
	uint8_t kind; /* enum proto_event_kind */
	struct proto_digest job_id;
	struct proto_digest dispute_id; /* zero when none */
	struct proto_pubkey subject;    /* the node concerned */
	uint64_t value;                 /* amount, window end, ... */
	uint64_t time_ms;
};

struct proto_events_fetch {
	uint64_t after; /* events with seq > after */
	uint32_t max;   /* at most this many (0: PROTO_MAX_EVENTS) */
};

struct proto_events {
	uint32_t n;
	struct proto_event *events; /* n, owned */
};

struct proto_dispute_fetch {
	struct proto_digest dispute_id;
};

/* Disputes whose id starts with prefix (0: any), on job_id (zero: any),
 * in state (0 any, 1 open, 2 decided), newest first, at most max. */
struct proto_disputes_query {
	uint8_t state;
	uint8_t prefix_len;
	uint8_t prefix[PROTO_DIGEST_MAX];
	struct proto_digest job_id;
	uint32_t max;
};

struct proto_dispute_entry {
	struct proto_digest dispute_id;
	struct proto_digest job_id;
	struct proto_pubkey executor;
	struct proto_pubkey challenger;
	uint8_t state;        /* 1 open, 2 decided */
	uint8_t executor_won; /* decided: 1 the claim stood */
	uint8_t reason;       /* decided: enum proto_verdict_reason; else 0 */
	uint64_t bond;
	uint64_t opened_ms;
	uint64_t deadline_ms; /* open: when the side to move runs out */
};

struct proto_disputes_list {
	uint8_t cut;
	uint32_t n;
	struct proto_dispute_entry *disputes; /* n, owned */
};

struct proto_status_node {
	struct proto_pubkey key;
	uint8_t roles;
	char name[PROTO_MAX_NAME + 1];
	uint64_t balance, stake;
};

struct proto_status_info {
	uint64_t time_ms;
	uint32_t jobs_open, claims_pending, claims_final, claims_invalid;
	uint32_t disputes_open, disputes_closed;
	uint64_t ledger_total, burned;
	uint32_t n_nodes;
	struct proto_status_node *nodes; /* n_nodes, owned */
};

/*
 * Receiving: proto_msg_open checks an envelope (bounds, version, type,
 * suite, flags) and its signature, and gives its fields with a view of
 * the body inside buf (valid while buf is). The caller then decodes the
 * one body it expects into its own struct with that type's decoder,
 * which checks the body's layout and limits. Nothing is allocated until
 * the signature has verified, and each body is only as large as its own
 * type.
 */
struct proto_env {
	uint8_t version;
	uint8_t type;  /* enum proto_msg_type */
	uint8_t suite; /* enum proto_hash */
	struct proto_pubkey sender;
	uint64_t seq;
	const uint8_t *body; /* inside the buffer given to proto_msg_open */
	size_t body_len;
};

/*
 * On failure *env is untouched, the return code says which layer failed
 * and ei says what was wrong (RF_ERR_TRUNCATED / RF_ERR_FORMAT /
 * RF_ERR_VERSION / RF_ERR_RANGE / RF_ERR_CRYPTO); proto_error_code_for
 * maps it to a reply code.
 */
int proto_msg_open(const uint8_t *buf, size_t len, struct proto_env *env,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));

/*
 * proto_msg_open for an envelope this process verified (or signed)
 * itself and kept in its own storage, such as the requests and events in
 * a referee's database: every check but the signature's, which is what
 * opening costs (an Ed25519 verification, about 30 us). Never for bytes
 * from the network or from a file another party could have written.
 */
int proto_msg_open_stored(const uint8_t *buf, size_t len,
    struct proto_env *env, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

/*
 * Body decoders, one per type: RF_ERR_FORMAT when env holds another
 * type; otherwise the body's layout and limits (RF_ERR_TRUNCATED,
 * RF_ERR_FORMAT, RF_ERR_RANGE, RF_ERR_NOMEM). On failure *out owns
 * nothing (and is zeroed). What a decoded body owns (tensors, proofs,
 * blobs, arrays) is released by its _free function, which also zeroes
 * it, so a second free is harmless. proto_amount_decode takes STAKE and
 * UNSTAKE; STATUS_QUERY has an empty body, which
 * proto_status_query_decode checks.
 */
int proto_error_decode(const struct proto_env *env, struct proto_error *out,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));
int proto_ack_decode(const struct proto_env *env, struct proto_ack *out,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));
int proto_node_register_decode(const struct proto_env *env,
    struct proto_node_register *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
int proto_amount_decode(const struct proto_env *env, struct proto_amount *out,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));
int proto_model_register_decode(const struct proto_env *env,
    struct proto_model_register *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
int proto_job_submit_decode(const struct proto_env *env,
    struct proto_job_submit *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
int proto_job_fetch_decode(const struct proto_env *env,
    struct proto_job_fetch *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
int proto_job_info_decode(const struct proto_env *env,
    struct proto_job_info *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
int proto_job_cancel_decode(const struct proto_env *env,
    struct proto_job_cancel *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
int proto_jobs_query_decode(const struct proto_env *env,
    struct proto_jobs_query *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
int proto_jobs_list_decode(const struct proto_env *env,
    struct proto_jobs_list *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
int proto_disputes_query_decode(const struct proto_env *env,
    struct proto_disputes_query *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
int proto_disputes_list_decode(const struct proto_env *env,
    struct proto_disputes_list *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
int proto_claim_decode(const struct proto_env *env, struct proto_claim *out,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));
int proto_claim_status_decode(const struct proto_env *env,
    struct proto_claim_status *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
int proto_claim_info_decode(const struct proto_env *env,
    struct proto_claim_info *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
int proto_challenge_decode(const struct proto_env *env,
    struct proto_challenge *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
int proto_bisect_query_decode(const struct proto_env *env,
    struct proto_bisect_query *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
int proto_bisect_answer_decode(const struct proto_env *env,
    struct proto_bisect_answer *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
int proto_reveal_decode(const struct proto_env *env, struct proto_reveal *out,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));
int proto_verdict_decode(const struct proto_env *env,
    struct proto_verdict *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
int proto_equivocation_decode(const struct proto_env *env,
    struct proto_equivocation *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
int proto_dispute_fetch_decode(const struct proto_env *env,
    struct proto_dispute_fetch *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
int proto_event_decode(const struct proto_env *env, struct proto_event *out,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));
int proto_events_fetch_decode(const struct proto_env *env,
    struct proto_events_fetch *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
int proto_events_decode(const struct proto_env *env, struct proto_events *out,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));
int proto_status_query_decode(const struct proto_env *env,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));
int proto_status_info_decode(const struct proto_env *env,
    struct proto_status_info *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

/*
 * For dispatchers that take any type: the size of type's body struct (0
 * for STATUS_QUERY and unknown types); decoding env's body, whatever its
 * type, into body (size bytes, at least that; RF_ERR_INVAL if fewer);
 * and releasing such a body.
 */
size_t proto_msg_body_size(uint8_t type);
int proto_msg_body_decode(const struct proto_env *env, void *body,
    size_t size, struct rf_errinfo *ei) __attribute__((warn_unused_result));
void proto_msg_body_free(uint8_t type, void *body);

void proto_model_register_free(struct proto_model_register *b);
void proto_job_submit_free(struct proto_job_submit *b);
void proto_job_info_free(struct proto_job_info *b);
void proto_claim_free(struct proto_claim *b);
void proto_claim_info_free(struct proto_claim_info *b);
void proto_bisect_answer_free(struct proto_bisect_answer *b);
void proto_reveal_free(struct proto_reveal *b);
void proto_verdict_free(struct proto_verdict *b);
void proto_equivocation_free(struct proto_equivocation *b);
void proto_events_free(struct proto_events *b);
void proto_status_info_free(struct proto_status_info *b);
void proto_jobs_list_free(struct proto_jobs_list *b);
void proto_disputes_list_free(struct proto_disputes_list *b);

/*
 * Sending: encodes the body of type (body points to that type's struct:
 * struct proto_<name> for the type named <name>, struct proto_amount for
 * STAKE and UNSTAKE, NULL for STATUS_QUERY) in an envelope from id's
 * public key with seq and suite, and signs it. *buf is malloc'd; the
 * caller frees it. A field over its limit is RF_ERR_RANGE; a value the
 * decoder would refuse is RF_ERR_INVAL.
 */
int proto_msg_encode(enum proto_msg_type type, const void *body,
    enum proto_hash suite, uint64_t seq, const struct proto_identity *id,
    uint8_t **buf, size_t *len) __attribute__((warn_unused_result));

/* A copy of path[0 .. len - 1] in an allocation of its own size (NULL
 * for len 0), for the proofs a body owns. RF_ERR_RANGE above
 * MERKLE_MAX_PROOF. */
int proto_proof_dup(const struct proto_digest *path, size_t len,
    struct proto_digest **out) __attribute__((warn_unused_result));

uint32_t proto_error_code_for(int rf_err);

#endif /* RF_PROTOCOL_H */
