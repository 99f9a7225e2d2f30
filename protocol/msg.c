/*
 * protocol/msg.c - the signed envelope and every message body.
 *
 * The envelope is laid out in protocol/protocol.h. Bodies use these
 * building blocks, all integers little-endian:
 *
 *   D       a digest of the envelope's suite: exactly 32 bytes
 *           (blake2b-256, blake3-256) or 16 (xxh3-128); in memory the
 *           tail is zero
 *   K       an Ed25519 public key, 32 bytes
 *   str     u16 length + bytes: no NUL inside, length <= the field's limit
 *   blob    u32 length + bytes, length <= the field's limit
 *   tensor  u8 dtype (1 f32, 2 i8, 3 i32, 4 i64), u8 rank (<= 6),
 *           u64 dims[rank], then count * element size bytes of data,
 *           row-major, little-endian (the trace leaf encoding's tensor)
 *   proof   u8 length (<= MERKLE_MAX_PROOF = 64) + D[length]; in memory
 *           an allocation of exactly length digests, owned by the body
 *
 *   type                body
 *   1  error            u32 code (enum proto_error_code, 1..12),
 *                       str text (<= 256)
 *   2  ack              u64 ref_seq, D id
 *   10 node_register    u8 roles (enum proto_role bits, <= 7),
 *                       str name (<= 64), str endpoint (<= 256),
 *                       u8 n_models (<= 16), D models[n_models]
 *   11 stake            u64 amount
 *   12 unstake          u64 amount
 *   13 model_register   D model_id, str name (<= 64),
 *                       u32 n_ops (<= ENGINE_MAX_OPS),
 *                       u32 n_inputs (<= ENGINE_MAX_GRAPH_IO),
 *                       blob graph (<= 16 MiB), u32 n_leaves,
 *                       proof graph_proof (the graph is leaf 0 of
 *                       model_id's tree of n_leaves leaves)
 *   20 job_submit       D model_id, u64 fee, u64 nonce, K executor,
 *                       u8 n_inputs (<= 64), tensor inputs[n_inputs]
 *   21 job_fetch        D job_id
 *   22 job_info         D job_id, D model_id, K client, K executor,
 *                       u64 fee, u8 state (1..6), u8 n_inputs (<= 64),
 *                       tensor inputs[n_inputs]
 *   23 job_cancel       D job_id
 *   24 jobs_query       u8 state (0..6), u8 prefix_len (<= D length),
 *                       u8 prefix[prefix_len], u32 max
 *   25 jobs_list        u8 cut (0 or 1), u32 n (<= 256), then per job:
 *                       D job_id, D model_id, K client, K executor,
 *                       u64 fee, u8 state (1..6), u64 created_ms,
 *                       u64 deadline_ms
 *   30 claim            D job_id, D model_id, u8 n_inputs (<= 64),
 *                       D input_leaves[n_inputs], u32 n, D trace_root,
 *                       u8 n_outputs (<= 8), tensor outputs[n_outputs],
 *                       proof output_proof
 *   31 claim_status     D job_id
 *   32 claim_info       D job_id, u8 state (1..6), K executor,
 *                       D trace_root, u32 n, u64 window_end_ms,
 *                       u8 n_outputs (<= 8), tensor outputs[n_outputs]
 *   40 challenge        D job_id, K executor, D executor_root,
 *                       D challenger_root, u32 n, u64 bond
 *   41 bisect_query     D dispute_id, u32 round, u64 lo, u64 hi,
 *                       u8 n_sizes (<= 15), u64 sizes[n_sizes],
 *                       u64 deadline_ms
 *   42 bisect_answer    D dispute_id, u32 round, u8 n_roots (<= 15),
 *                       then per root: u64 size, D root, proof
 *   43 reveal           D dispute_id, u32 op, u8 n_inputs (<= 64),
 *                       then per input: u8 src (0 absent, 1 trace,
 *                       2 weight); an absent input ends there; otherwise
 *                       u32 leaf, u8 output, u8 n_tensors (1..8; 1 for a
 *                       weight), tensor[n_tensors], proof, and
 *                       output < n_tensors; then proof frontier
 *   44 verdict          D dispute_id, D job_id, K executor, K challenger,
 *                       u8 executor_won (0 or 1), u8 reason (1..5),
 *                       u32 op, u32 rounds, u64 slashed, u64 reward,
 *                       blob transcript (<= 32 MiB)
 *   45 equivocation     blob claim_a, blob claim_b (each a whole
 *                       envelope, <= PROTO_MAX_MESSAGE; both together
 *                       within the body limit)
 *   46 dispute_fetch    D dispute_id
 *   47 disputes_query   u8 state (0..2), u8 prefix_len (<= D length),
 *                       u8 prefix[prefix_len], D job_id, u32 max
 *   48 disputes_list    u8 cut (0 or 1), u32 n (<= 256), then per
 *                       dispute: D dispute_id, D job_id, K executor,
 *                       K challenger, u8 state (1..2), u8 executor_won
 *                       (0 or 1), u8 reason (0..5), u64 bond,
 *                       u64 opened_ms, u64 deadline_ms
 *   50 event            u64 seq, u8 kind (1..8), D job_id, D dispute_id,
 *                       K subject, u64 value, u64 time_ms
 *   51 events_fetch     u64 after, u32 max (0: PROTO_MAX_EVENTS)
 *   52 events           u32 n (<= 256), then n event bodies as in 50
 *   60 status_query     (empty)
 *   61 status_info      u64 time_ms, u32 jobs_open, u32 claims_pending,
 *                       u32 claims_final, u32 claims_invalid,
 *                       u32 disputes_open, u32 disputes_closed,
 *                       u64 ledger_total, u64 burned,
 *                       u32 n_nodes (<= 1024), then per node: K key,
 *                       u8 roles (<= 7), str name (<= 64), u64 balance,
 *                       u64 stake
 *
 * Decoding is in two steps: proto_msg_open checks the envelope and its
 * signature and gives a view of the body; the receiver then decodes the
 * one body it expects into a struct of that type (proto_<type>_decode),
 * or any type into a buffer of its size (proto_msg_body_decode).
 * Encoding takes a type and a pointer to its body (proto_msg_encode).
 *
 * The body must be consumed exactly. Encoding is canonical: there is one
 * byte string per message (unused array slots and an absent reveal
 * input's other fields are never encoded), so decode then encode gives
 * the same bytes, and a signature over them means one thing.
 *
 * Errors: a field over its limit is RF_ERR_RANGE, at encode as at decode,
 * so we never emit what we would refuse; a value outside an enumerated
 * set or a NUL inside a string is RF_ERR_FORMAT at decode (RF_ERR_INVAL
 * at encode); running out of body is RF_ERR_TRUNCATED and bytes left
 * over are RF_ERR_FORMAT. The codec checks structure and limits only:
 * whether a proof verifies or a size lies inside a dispute's range is
 * for the referee, which knows the context. An allocation that fails is
 * RF_ERR_NOMEM, and a body that fails to decode owns nothing: its _free
 * has already run (tests/protocol/msg_test.c fails every allocation of
 * every decoder in turn).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "protocol/protocol_int.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tensor data travels little-endian; add byte swapping for this host"
#endif

#define ENV_HEADER 52

/* Every role bit together: anything above is not a role. */
#define ROLES_ALL \
	(PROTO_ROLE_EXECUTOR | PROTO_ROLE_CHALLENGER | PROTO_ROLE_CLIENT)
/* Status nodes are at least K + u8 + u16 + 2 * u64 bytes each. */
#define STATUS_NODE_MIN (PROTO_KEY_LEN + 1 + 2 + 16)

static const struct {
	uint8_t type;
	const char *name;
} msg_names[] = {
	{ PROTO_MSG_ERROR, "error" },
	{ PROTO_MSG_ACK, "ack" },
	{ PROTO_MSG_NODE_REGISTER, "node_register" },
	{ PROTO_MSG_STAKE, "stake" },
	{ PROTO_MSG_UNSTAKE, "unstake" },
	{ PROTO_MSG_MODEL_REGISTER, "model_register" },
	{ PROTO_MSG_JOB_SUBMIT, "job_submit" },
	{ PROTO_MSG_JOB_FETCH, "job_fetch" },
	{ PROTO_MSG_JOB_INFO, "job_info" },
	{ PROTO_MSG_JOB_CANCEL, "job_cancel" },
	{ PROTO_MSG_JOBS_QUERY, "jobs_query" },
	{ PROTO_MSG_JOBS_LIST, "jobs_list" },
	{ PROTO_MSG_CLAIM, "claim" },
	{ PROTO_MSG_CLAIM_STATUS, "claim_status" },
	{ PROTO_MSG_CLAIM_INFO, "claim_info" },
	{ PROTO_MSG_CHALLENGE, "challenge" },
	{ PROTO_MSG_BISECT_QUERY, "bisect_query" },
	{ PROTO_MSG_BISECT_ANSWER, "bisect_answer" },
	{ PROTO_MSG_REVEAL, "reveal" },
	{ PROTO_MSG_VERDICT, "verdict" },
	{ PROTO_MSG_EQUIVOCATION, "equivocation" },
	{ PROTO_MSG_DISPUTE_FETCH, "dispute_fetch" },
	{ PROTO_MSG_DISPUTES_QUERY, "disputes_query" },
	{ PROTO_MSG_DISPUTES_LIST, "disputes_list" },
	{ PROTO_MSG_EVENT, "event" },
	{ PROTO_MSG_EVENTS_FETCH, "events_fetch" },
	{ PROTO_MSG_EVENTS, "events" },
	{ PROTO_MSG_STATUS_QUERY, "status_query" },
	{ PROTO_MSG_STATUS_INFO, "status_info" },
};

const char *
proto_msg_type_name(int type)
{
	for (size_t i = 0; i < sizeof(msg_names) / sizeof(msg_names[0]); i++) {
		if (msg_names[i].type == type) {
			return msg_names[i].name;
		}
	}
	return NULL;
}

uint32_t
proto_error_code_for(int rf_err)
{
	switch (rf_err) {
	case RF_OK:
		return 0; /* not an error: nothing to report */
	case RF_ERR_TRUNCATED:
	case RF_ERR_FORMAT:
	case RF_ERR_DTYPE:
	case RF_ERR_SHAPE:
		return PROTO_ERR_MALFORMED;
	case RF_ERR_CRYPTO:
		return PROTO_ERR_SIGNATURE;
	case RF_ERR_VERSION:
		return PROTO_ERR_VERSION;
	case RF_ERR_RANGE:
		return PROTO_ERR_TOO_LARGE;
	case RF_ERR_NOTFOUND:
		return PROTO_ERR_UNKNOWN;
	case RF_ERR_INVAL:
	case RF_ERR_NOTSUP:
		return PROTO_ERR_INVALID;
	case RF_ERR_FULL:
		return PROTO_ERR_DISK_FULL;
	default:
		/* Out of memory, I/O, aborted: the receiver's trouble, not
		 * the sender's, so worth a retry. */
		return PROTO_ERR_INTERNAL;
	}
}

static size_t
min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

static void
free_tensors(struct tensor *t, size_t n, size_t cap)
{
	/* Counts are clamped: a caller's bad count must not walk off the
	 * array while freeing. */
	n = min_size(n, cap);
	for (size_t i = 0; i < n; i++) {
		engine_tensor_fini(&t[i]);
	}
}

void
proto_model_register_free(struct proto_model_register *b)
{
	if (b != NULL) {
		free(b->graph);
		free(b->graph_proof);
		memset(b, 0, sizeof(*b));
	}
}

void
proto_job_submit_free(struct proto_job_submit *b)
{
	if (b != NULL) {
		free_tensors(b->inputs, b->n_inputs, PROTO_MAX_TENSORS);
		memset(b, 0, sizeof(*b));
	}
}

void
proto_job_info_free(struct proto_job_info *b)
{
	if (b != NULL) {
		free_tensors(b->inputs, b->n_inputs, PROTO_MAX_TENSORS);
		memset(b, 0, sizeof(*b));
	}
}

void
proto_claim_free(struct proto_claim *b)
{
	if (b != NULL) {
		free_tensors(b->outputs, b->n_outputs, PROTO_MAX_ENTRY_TENSORS);
		free(b->output_proof);
		memset(b, 0, sizeof(*b));
	}
}

void
proto_claim_info_free(struct proto_claim_info *b)
{
	if (b != NULL) {
		free_tensors(b->outputs, b->n_outputs, PROTO_MAX_ENTRY_TENSORS);
		memset(b, 0, sizeof(*b));
	}
}

void
proto_bisect_answer_free(struct proto_bisect_answer *b)
{
	if (b != NULL) {
		for (size_t i = 0; i < PROTO_MAX_ARITY - 1; i++) {
			free(b->roots[i].proof);
		}
		memset(b, 0, sizeof(*b));
	}
}

void
proto_reveal_free(struct proto_reveal *b)
{
	if (b == NULL) {
		return;
	}
	if (b->inputs != NULL) {
		for (size_t i = 0; i < b->n_inputs; i++) {
			free_tensors(b->inputs[i].tensors, b->inputs[i].n_tensors,
			    PROTO_MAX_ENTRY_TENSORS);
			free(b->inputs[i].proof);
		}
	}
	free(b->inputs);
	free(b->frontier);
	memset(b, 0, sizeof(*b));
}

void
proto_verdict_free(struct proto_verdict *b)
{
	if (b != NULL) {
		free(b->transcript);
		memset(b, 0, sizeof(*b));
	}
}

void
proto_equivocation_free(struct proto_equivocation *b)
{
	if (b != NULL) {
		free(b->claim_a);
		free(b->claim_b);
		memset(b, 0, sizeof(*b));
	}
}

void
proto_events_free(struct proto_events *b)
{
	if (b != NULL) {
		free(b->events);
		memset(b, 0, sizeof(*b));
	}
}

void
proto_status_info_free(struct proto_status_info *b)
{
	if (b != NULL) {
		free(b->nodes);
		memset(b, 0, sizeof(*b));
	}
}

void
proto_jobs_list_free(struct proto_jobs_list *b)
{
	if (b != NULL) {
		free(b->jobs);
		memset(b, 0, sizeof(*b));
	}
}

void
proto_disputes_list_free(struct proto_disputes_list *b)
{
	if (b != NULL) {
		free(b->disputes);
		memset(b, 0, sizeof(*b));
	}
}

/* Releases what a body of this type owns. */
static void
body_free(uint8_t type, void *b)
{
	switch (type) {
	case PROTO_MSG_MODEL_REGISTER:
		proto_model_register_free(b);
		break;
	case PROTO_MSG_JOB_SUBMIT:
		proto_job_submit_free(b);
		break;
	case PROTO_MSG_JOB_INFO:
		proto_job_info_free(b);
		break;
	case PROTO_MSG_CLAIM:
		proto_claim_free(b);
		break;
	case PROTO_MSG_CLAIM_INFO:
		proto_claim_info_free(b);
		break;
	case PROTO_MSG_BISECT_ANSWER:
		proto_bisect_answer_free(b);
		break;
	case PROTO_MSG_REVEAL:
		proto_reveal_free(b);
		break;
	case PROTO_MSG_VERDICT:
		proto_verdict_free(b);
		break;
	case PROTO_MSG_EQUIVOCATION:
		proto_equivocation_free(b);
		break;
	case PROTO_MSG_EVENTS:
		proto_events_free(b);
		break;
	case PROTO_MSG_STATUS_INFO:
		proto_status_info_free(b);
		break;
	case PROTO_MSG_JOBS_LIST:
		proto_jobs_list_free(b);
		break;
	case PROTO_MSG_DISPUTES_LIST:
		proto_disputes_list_free(b);
		break;
	default:
		break;
	}
}

int
proto_proof_dup(const struct proto_digest *path, size_t len,
    struct proto_digest **out)
{
	*out = NULL;
	if (len > MERKLE_MAX_PROOF) {
		return RF_ERR_RANGE;
	}
	if (len == 0) {
		return RF_OK;
	}
	*out = malloc(len * sizeof(**out));
	if (*out == NULL) {
		return RF_ERR_NOMEM;
	}
	memcpy(*out, path, len * sizeof(**out));
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Encoding                                                             */
/* ------------------------------------------------------------------ */

struct enc {
	struct rf_writer w;
	size_t hl;
	int err; /* the first refused field; the writer keeps its own */
};

static void
enc_fail(struct enc *e, int err)
{
	if (e->err == RF_OK) {
		e->err = err;
	}
}

static void
put_digest(struct enc *e, const struct proto_digest *d)
{
	rf_write_bytes(&e->w, d->b, e->hl);
}

static void
put_key(struct enc *e, const struct proto_pubkey *k)
{
	rf_write_bytes(&e->w, k->b, PROTO_KEY_LEN);
}

static void
put_str(struct enc *e, const char *s, size_t max)
{
	/* strnlen: a field filled to the brim without its NUL is over the
	 * limit, not a reason to read past it. */
	size_t n = strnlen(s, max + 1);
	if (n > max) {
		enc_fail(e, RF_ERR_RANGE);
		return;
	}
	rf_write_u16(&e->w, (uint16_t)n);
	rf_write_bytes(&e->w, s, n);
}

static void
put_blob(struct enc *e, const uint8_t *p, size_t n, size_t max)
{
	if (n > max) {
		enc_fail(e, RF_ERR_RANGE);
		return;
	}
	if (n > 0 && p == NULL) {
		enc_fail(e, RF_ERR_INVAL);
		return;
	}
	rf_write_u32(&e->w, (uint32_t)n);
	rf_write_bytes(&e->w, p, n);
}

/* A u8 count; false (and nothing written) when over max. */
static bool
put_count(struct enc *e, size_t n, size_t max)
{
	if (n > max) {
		enc_fail(e, RF_ERR_RANGE);
		return false;
	}
	rf_write_u8(&e->w, (uint8_t)n);
	return true;
}

static void
put_enum(struct enc *e, unsigned v, unsigned lo, unsigned hi)
{
	if (v < lo || v > hi) {
		enc_fail(e, RF_ERR_INVAL);
		return;
	}
	rf_write_u8(&e->w, (uint8_t)v);
}

static void
put_tensor(struct enc *e, const struct tensor *t)
{
	size_t count;
	if (!engine_tensor_dtype_valid((int)t->dtype)) {
		enc_fail(e, RF_ERR_INVAL);
		return;
	}
	int err = engine_tensor_shape_check(t->rank, t->dims, &count, NULL);
	if (err != RF_OK) {
		enc_fail(e, err);
		return;
	}
	/* A count that disagrees with the shape would send bytes the
	 * receiver reads as another tensor. */
	if (count != t->count || (count > 0 && t->data == NULL)) {
		enc_fail(e, RF_ERR_INVAL);
		return;
	}
	rf_write_u8(&e->w, (uint8_t)t->dtype);
	rf_write_u8(&e->w, (uint8_t)t->rank);
	for (int d = 0; d < t->rank; d++) {
		rf_write_u64(&e->w, (uint64_t)t->dims[d]);
	}
	rf_write_bytes(&e->w, t->data, engine_tensor_nbytes(t));
}

static void
put_tensors(struct enc *e, const struct tensor *t, size_t n, size_t max)
{
	if (!put_count(e, n, max)) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		put_tensor(e, &t[i]);
	}
}

static void
put_proof(struct enc *e, const struct proto_digest *path, size_t n)
{
	if (n <= MERKLE_MAX_PROOF && n > 0 && path == NULL) {
		enc_fail(e, RF_ERR_INVAL);
		return;
	}
	if (!put_count(e, n, MERKLE_MAX_PROOF)) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		put_digest(e, &path[i]);
	}
}

static void
enc_node_register(struct enc *e, const struct proto_node_register *b)
{
	if (b->roles > ROLES_ALL) {
		enc_fail(e, RF_ERR_INVAL);
	}
	rf_write_u8(&e->w, b->roles);
	put_str(e, b->name, PROTO_MAX_NAME);
	put_str(e, b->endpoint, PROTO_MAX_TEXT);
	if (put_count(e, b->n_models, PROTO_MAX_MODELS)) {
		for (size_t i = 0; i < b->n_models; i++) {
			put_digest(e, &b->models[i]);
		}
	}
}

static void
enc_model_register(struct enc *e, const struct proto_model_register *b)
{
	put_digest(e, &b->model_id);
	put_str(e, b->name, PROTO_MAX_NAME);
	if (b->n_ops > ENGINE_MAX_OPS || b->n_inputs > ENGINE_MAX_GRAPH_IO) {
		enc_fail(e, RF_ERR_RANGE);
	}
	rf_write_u32(&e->w, b->n_ops);
	rf_write_u32(&e->w, b->n_inputs);
	put_blob(e, b->graph, b->graph_len, PROTO_MAX_GRAPH);
	rf_write_u32(&e->w, b->n_leaves);
	put_proof(e, b->graph_proof, b->proof_len);
}

static void
enc_event(struct enc *e, const struct proto_event *b)
{
	rf_write_u64(&e->w, b->seq);
	put_enum(e, b->kind, PROTO_EVENT_JOB_ASSIGNED, PROTO_EVENT_DISPUTE_MOVE);
	put_digest(e, &b->job_id);
	put_digest(e, &b->dispute_id);
	put_key(e, &b->subject);
	rf_write_u64(&e->w, b->value);
	rf_write_u64(&e->w, b->time_ms);
}

static void
enc_claim(struct enc *e, const struct proto_claim *b)
{
	put_digest(e, &b->job_id);
	put_digest(e, &b->model_id);
	if (put_count(e, b->n_inputs, PROTO_MAX_TENSORS)) {
		for (size_t i = 0; i < b->n_inputs; i++) {
			put_digest(e, &b->input_leaves[i]);
		}
	}
	rf_write_u32(&e->w, b->n);
	put_digest(e, &b->trace_root);
	put_tensors(e, b->outputs, b->n_outputs, PROTO_MAX_ENTRY_TENSORS);
	put_proof(e, b->output_proof, b->proof_len);
}

static void
enc_reveal_input(struct enc *e, const struct proto_reveal_input *in)
{
	put_enum(e, in->src, PROTO_REVEAL_ABSENT, PROTO_REVEAL_WEIGHT);
	if (in->src == PROTO_REVEAL_ABSENT) {
		return;
	}
	/* Over the limit is RANGE (put_tensors says so); within it, what
	 * the decoder would refuse is INVAL. */
	bool fits = in->n_tensors <= PROTO_MAX_ENTRY_TENSORS;
	if (fits && (in->n_tensors == 0 || in->output >= in->n_tensors ||
	    (in->src == PROTO_REVEAL_WEIGHT && in->n_tensors != 1))) {
		enc_fail(e, RF_ERR_INVAL);
	}
	rf_write_u32(&e->w, in->leaf);
	rf_write_u8(&e->w, in->output);
	put_tensors(e, in->tensors, in->n_tensors, PROTO_MAX_ENTRY_TENSORS);
	put_proof(e, in->proof, in->proof_len);
}

static void
enc_reveal(struct enc *e, const struct proto_reveal *b)
{
	put_digest(e, &b->dispute_id);
	rf_write_u32(&e->w, b->op);
	if (b->n_inputs > 0 && b->inputs == NULL) {
		enc_fail(e, RF_ERR_INVAL);
		return;
	}
	if (put_count(e, b->n_inputs, ENGINE_MAX_OP_INPUTS)) {
		for (size_t i = 0; i < b->n_inputs; i++) {
			enc_reveal_input(e, &b->inputs[i]);
		}
	}
	put_proof(e, b->frontier, b->frontier_len);
}

static void
enc_verdict(struct enc *e, const struct proto_verdict *b)
{
	put_digest(e, &b->dispute_id);
	put_digest(e, &b->job_id);
	put_key(e, &b->executor);
	put_key(e, &b->challenger);
	put_enum(e, b->executor_won, 0, 1);
	put_enum(e, b->reason, PROTO_VERDICT_RECOMPUTED, PROTO_VERDICT_SETTLED);
	rf_write_u32(&e->w, b->op);
	rf_write_u32(&e->w, b->rounds);
	rf_write_u64(&e->w, b->slashed);
	rf_write_u64(&e->w, b->reward);
	put_blob(e, b->transcript, b->transcript_len, PROTO_MAX_TRANSCRIPT);
}

static void
enc_status_info(struct enc *e, const struct proto_status_info *b)
{
	rf_write_u64(&e->w, b->time_ms);
	rf_write_u32(&e->w, b->jobs_open);
	rf_write_u32(&e->w, b->claims_pending);
	rf_write_u32(&e->w, b->claims_final);
	rf_write_u32(&e->w, b->claims_invalid);
	rf_write_u32(&e->w, b->disputes_open);
	rf_write_u32(&e->w, b->disputes_closed);
	rf_write_u64(&e->w, b->ledger_total);
	rf_write_u64(&e->w, b->burned);
	if (b->n_nodes > PROTO_MAX_STATUS_NODES) {
		enc_fail(e, RF_ERR_RANGE);
		return;
	}
	if (b->n_nodes > 0 && b->nodes == NULL) {
		enc_fail(e, RF_ERR_INVAL);
		return;
	}
	rf_write_u32(&e->w, b->n_nodes);
	for (size_t i = 0; i < b->n_nodes; i++) {
		const struct proto_status_node *n = &b->nodes[i];
		put_key(e, &n->key);
		if (n->roles > ROLES_ALL) {
			enc_fail(e, RF_ERR_INVAL);
		}
		rf_write_u8(&e->w, n->roles);
		put_str(e, n->name, PROTO_MAX_NAME);
		rf_write_u64(&e->w, n->balance);
		rf_write_u64(&e->w, n->stake);
	}
}

/* An id prefix: u8 length (<= the digest's) and its bytes. */
static void
put_prefix(struct enc *e, const uint8_t *p, uint8_t len)
{
	if (len > e->hl) {
		enc_fail(e, RF_ERR_RANGE);
		return;
	}
	rf_write_u8(&e->w, len);
	rf_write_bytes(&e->w, p, len);
}

/* A list's cut flag and count; false (nothing more to write) when the
 * list is over its limit or has entries and no array. */
static bool
put_list_head(struct enc *e, uint8_t cut, uint32_t n, const void *arr)
{
	put_enum(e, cut, 0, 1);
	if (n > PROTO_MAX_LIST) {
		enc_fail(e, RF_ERR_RANGE);
		return false;
	}
	if (n > 0 && arr == NULL) {
		enc_fail(e, RF_ERR_INVAL);
		return false;
	}
	rf_write_u32(&e->w, n);
	return true;
}

static void
enc_jobs_list(struct enc *e, const struct proto_jobs_list *b)
{
	if (!put_list_head(e, b->cut, b->n, b->jobs)) {
		return;
	}
	for (uint32_t i = 0; i < b->n; i++) {
		const struct proto_job_entry *j = &b->jobs[i];
		put_digest(e, &j->job_id);
		put_digest(e, &j->model_id);
		put_key(e, &j->client);
		put_key(e, &j->executor);
		rf_write_u64(&e->w, j->fee);
		put_enum(e, j->state, PROTO_JOB_OPEN, PROTO_JOB_STATE_LAST);
		rf_write_u64(&e->w, j->created_ms);
		rf_write_u64(&e->w, j->deadline_ms);
	}
}

static void
enc_disputes_list(struct enc *e, const struct proto_disputes_list *b)
{
	if (!put_list_head(e, b->cut, b->n, b->disputes)) {
		return;
	}
	for (uint32_t i = 0; i < b->n; i++) {
		const struct proto_dispute_entry *x = &b->disputes[i];
		put_digest(e, &x->dispute_id);
		put_digest(e, &x->job_id);
		put_key(e, &x->executor);
		put_key(e, &x->challenger);
		put_enum(e, x->state, 1, 2);
		put_enum(e, x->executor_won, 0, 1);
		put_enum(e, x->reason, 0, PROTO_VERDICT_SETTLED);
		rf_write_u64(&e->w, x->bond);
		rf_write_u64(&e->w, x->opened_ms);
		rf_write_u64(&e->w, x->deadline_ms);
	}
}

static void
enc_body(struct enc *e, uint8_t type, const void *body)
{
	switch (type) {
	case PROTO_MSG_ERROR: {
		const struct proto_error *b = body;
		if (b->code < PROTO_ERR_MALFORMED || b->code > PROTO_ERR_LAST) {
			enc_fail(e, RF_ERR_INVAL);
		}
		rf_write_u32(&e->w, b->code);
		put_str(e, b->text, PROTO_MAX_TEXT);
		break;
	}
	case PROTO_MSG_ACK: {
		const struct proto_ack *b = body;
		rf_write_u64(&e->w, b->ref_seq);
		put_digest(e, &b->id);
		break;
	}
	case PROTO_MSG_NODE_REGISTER:
		enc_node_register(e, body);
		break;
	case PROTO_MSG_STAKE:
	case PROTO_MSG_UNSTAKE:
		rf_write_u64(&e->w, ((const struct proto_amount *)body)->amount);
		break;
	case PROTO_MSG_MODEL_REGISTER:
		enc_model_register(e, body);
		break;
	case PROTO_MSG_JOB_SUBMIT: {
		const struct proto_job_submit *b = body;
		put_digest(e, &b->model_id);
		rf_write_u64(&e->w, b->fee);
		rf_write_u64(&e->w, b->nonce);
		put_key(e, &b->executor);
		put_tensors(e, b->inputs, b->n_inputs, PROTO_MAX_TENSORS);
		break;
	}
	case PROTO_MSG_JOB_FETCH:
		put_digest(e, &((const struct proto_job_fetch *)body)->job_id);
		break;
	case PROTO_MSG_JOB_INFO: {
		const struct proto_job_info *b = body;
		put_digest(e, &b->job_id);
		put_digest(e, &b->model_id);
		put_key(e, &b->client);
		put_key(e, &b->executor);
		rf_write_u64(&e->w, b->fee);
		put_enum(e, b->state, PROTO_JOB_OPEN, PROTO_JOB_STATE_LAST);
		put_tensors(e, b->inputs, b->n_inputs, PROTO_MAX_TENSORS);
		break;
	}
	case PROTO_MSG_JOB_CANCEL:
		put_digest(e, &((const struct proto_job_cancel *)body)->job_id);
		break;
	case PROTO_MSG_JOBS_QUERY: {
		const struct proto_jobs_query *b = body;
		put_enum(e, b->state, 0, PROTO_JOB_STATE_LAST);
		put_prefix(e, b->prefix, b->prefix_len);
		rf_write_u32(&e->w, b->max);
		break;
	}
	case PROTO_MSG_JOBS_LIST:
		enc_jobs_list(e, body);
		break;
	case PROTO_MSG_DISPUTES_QUERY: {
		const struct proto_disputes_query *b = body;
		put_enum(e, b->state, 0, 2);
		put_prefix(e, b->prefix, b->prefix_len);
		put_digest(e, &b->job_id);
		rf_write_u32(&e->w, b->max);
		break;
	}
	case PROTO_MSG_DISPUTES_LIST:
		enc_disputes_list(e, body);
		break;
	case PROTO_MSG_CLAIM:
		enc_claim(e, body);
		break;
	case PROTO_MSG_CLAIM_STATUS:
		put_digest(e, &((const struct proto_claim_status *)body)->job_id);
		break;
	case PROTO_MSG_CLAIM_INFO: {
		const struct proto_claim_info *b = body;
		put_digest(e, &b->job_id);
		put_enum(e, b->state, PROTO_JOB_OPEN, PROTO_JOB_STATE_LAST);
		put_key(e, &b->executor);
		put_digest(e, &b->trace_root);
		rf_write_u32(&e->w, b->n);
		rf_write_u64(&e->w, b->window_end_ms);
		put_tensors(e, b->outputs, b->n_outputs,
		    PROTO_MAX_ENTRY_TENSORS);
		break;
	}
	case PROTO_MSG_CHALLENGE: {
		const struct proto_challenge *b = body;
		put_digest(e, &b->job_id);
		put_key(e, &b->executor);
		put_digest(e, &b->executor_root);
		put_digest(e, &b->challenger_root);
		rf_write_u32(&e->w, b->n);
		rf_write_u64(&e->w, b->bond);
		break;
	}
	case PROTO_MSG_BISECT_QUERY: {
		const struct proto_bisect_query *b = body;
		put_digest(e, &b->dispute_id);
		rf_write_u32(&e->w, b->round);
		rf_write_u64(&e->w, b->lo);
		rf_write_u64(&e->w, b->hi);
		if (put_count(e, b->n_sizes, PROTO_MAX_ARITY - 1)) {
			for (size_t i = 0; i < b->n_sizes; i++) {
				rf_write_u64(&e->w, b->sizes[i]);
			}
		}
		rf_write_u64(&e->w, b->deadline_ms);
		break;
	}
	case PROTO_MSG_BISECT_ANSWER: {
		const struct proto_bisect_answer *b = body;
		put_digest(e, &b->dispute_id);
		rf_write_u32(&e->w, b->round);
		if (put_count(e, b->n_roots, PROTO_MAX_ARITY - 1)) {
			for (size_t i = 0; i < b->n_roots; i++) {
				const struct proto_prefix_root *r = &b->roots[i];
				rf_write_u64(&e->w, r->size);
				put_digest(e, &r->root);
				put_proof(e, r->proof, r->proof_len);
			}
		}
		break;
	}
	case PROTO_MSG_REVEAL:
		enc_reveal(e, body);
		break;
	case PROTO_MSG_VERDICT:
		enc_verdict(e, body);
		break;
	case PROTO_MSG_EQUIVOCATION: {
		const struct proto_equivocation *b = body;
		put_blob(e, b->claim_a, b->len_a, PROTO_MAX_MESSAGE);
		put_blob(e, b->claim_b, b->len_b, PROTO_MAX_MESSAGE);
		break;
	}
	case PROTO_MSG_EVENT:
		enc_event(e, body);
		break;
	case PROTO_MSG_EVENTS_FETCH:
		rf_write_u64(&e->w, ((const struct proto_events_fetch *)body)->after);
		rf_write_u32(&e->w, ((const struct proto_events_fetch *)body)->max);
		break;
	case PROTO_MSG_EVENTS: {
		const struct proto_events *b = body;
		if (b->n > PROTO_MAX_EVENTS || (b->n > 0 && b->events == NULL)) {
			enc_fail(e, RF_ERR_RANGE);
			break;
		}
		rf_write_u32(&e->w, b->n);
		for (uint32_t i = 0; i < b->n; i++) {
			enc_event(e, &b->events[i]);
		}
		break;
	}
	case PROTO_MSG_DISPUTE_FETCH:
		put_digest(e, &((const struct proto_dispute_fetch *)body)->dispute_id);
		break;
	case PROTO_MSG_STATUS_QUERY:
		break;
	case PROTO_MSG_STATUS_INFO:
		enc_status_info(e, body);
		break;
	default:
		enc_fail(e, RF_ERR_INVAL);
		break;
	}
}

int
proto_msg_encode(enum proto_msg_type type, const void *body,
    enum proto_hash suite, uint64_t seq, const struct proto_identity *id,
    uint8_t **buf, size_t *len)
{
	if (id == NULL || proto_msg_type_name((int)type) == NULL ||
	    !proto_hash_valid((int)suite) ||
	    (body == NULL && type != PROTO_MSG_STATUS_QUERY)) {
		return RF_ERR_INVAL;
	}
	struct enc e;
	memset(&e, 0, sizeof(e));
	rf_writer_init(&e.w, PROTO_MAX_MESSAGE);
	e.hl = proto_hash_len(suite);
	rf_write_bytes(&e.w, PROTO_MAGIC, 4);
	rf_write_u8(&e.w, PROTO_VERSION);
	rf_write_u8(&e.w, (uint8_t)type);
	rf_write_u8(&e.w, (uint8_t)suite);
	rf_write_u8(&e.w, 0); /* flags */
	put_key(&e, &id->pk);
	rf_write_u64(&e.w, seq);
	rf_write_u32(&e.w, 0); /* body length, patched below */
	enc_body(&e, (uint8_t)type, body);
	if (e.err != RF_OK) {
		rf_writer_fini(&e.w);
		return e.err;
	}
	if (e.w.err == RF_OK) {
		size_t blen = e.w.len - ENV_HEADER;
		if (blen > PROTO_MAX_BODY) {
			rf_writer_fini(&e.w);
			return RF_ERR_RANGE;
		}
		for (int i = 0; i < 4; i++) {
			e.w.buf[48 + i] = (uint8_t)(blen >> (8 * i));
		}
		uint8_t sig[PROTO_SIG_LEN];
		proto_sign(id, e.w.buf, e.w.len, sig);
		rf_write_bytes(&e.w, sig, PROTO_SIG_LEN);
	}
	return rf_writer_finish(&e.w, buf, len);
}

/* ------------------------------------------------------------------ */
/* Decoding                                                             */
/* ------------------------------------------------------------------ */

/*
 * A body decoder with a sticky error, like rf_reader's: after the first
 * failure every get_ returns zero and reads nothing, so counts read after
 * it are 0 and no loop or allocation runs on a bad value.
 */
struct dec {
	struct rf_reader r;
	size_t hl;
	const char *type; /* the message type's name, for errors */
	struct rf_errinfo *ei;
	int err;
};

static void dec_fail(struct dec *d, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
dec_fail(struct dec *d, int err, const char *fmt, ...)
{
	if (d->err != RF_OK) {
		return;
	}
	d->err = err;
	if (d->ei != NULL) {
		char what[sizeof(d->ei->msg)];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(what, sizeof(what), fmt, ap);
		va_end(ap);
		rf_errf(d->ei, err, "%s: %s", d->type, what);
	}
}

/* The next n bytes, or NULL (and the error recorded) if not there. */
static const uint8_t *
get_raw(struct dec *d, size_t n, const char *what)
{
	if (d->err != RF_OK) {
		return NULL;
	}
	const uint8_t *p = rf_read_bytes(&d->r, n);
	if (p == NULL) {
		dec_fail(d, RF_ERR_TRUNCATED, "the body ends inside %s", what);
	}
	return p;
}

static uint64_t
get_uint(struct dec *d, size_t size, const char *what)
{
	const uint8_t *p = get_raw(d, size, what);
	uint64_t v = 0;
	if (p == NULL) {
		return 0;
	}
	for (size_t i = 0; i < size; i++) {
		v |= (uint64_t)p[i] << (8 * i);
	}
	return v;
}

static uint8_t
get_u8(struct dec *d, const char *what)
{
	return (uint8_t)get_uint(d, 1, what);
}

static uint32_t
get_u32(struct dec *d, const char *what)
{
	return (uint32_t)get_uint(d, 4, what);
}

static uint64_t
get_u64(struct dec *d, const char *what)
{
	return get_uint(d, 8, what);
}

static void
get_digest(struct dec *d, struct proto_digest *out, const char *what)
{
	const uint8_t *p = get_raw(d, d->hl, what);
	memset(out, 0, sizeof(*out));
	if (p != NULL) {
		memcpy(out->b, p, d->hl);
	}
}

static void
get_key(struct dec *d, struct proto_pubkey *out, const char *what)
{
	const uint8_t *p = get_raw(d, PROTO_KEY_LEN, what);
	memset(out, 0, sizeof(*out));
	if (p != NULL) {
		memcpy(out->b, p, PROTO_KEY_LEN);
	}
}

/* A string into out, which holds max + 1 bytes. */
static void
get_str(struct dec *d, char *out, size_t max, const char *what)
{
	uint16_t n = (uint16_t)get_uint(d, 2, what);
	out[0] = '\0';
	if (d->err != RF_OK) {
		return;
	}
	if (n > max) {
		dec_fail(d, RF_ERR_RANGE, "%s has %u bytes, limit %zu", what, n,
		    max);
		return;
	}
	const uint8_t *p = get_raw(d, n, what);
	if (p == NULL) {
		return;
	}
	if (memchr(p, '\0', n) != NULL) {
		dec_fail(d, RF_ERR_FORMAT, "%s contains a NUL byte", what);
		return;
	}
	memcpy(out, p, n);
	out[n] = '\0';
}

/* A byte string, checked against max and the body before allocating. */
static void
get_blob(struct dec *d, uint8_t **out, size_t *len, size_t max,
    const char *what)
{
	uint32_t n = get_u32(d, what);
	if (d->err != RF_OK) {
		return;
	}
	if (n > max) {
		dec_fail(d, RF_ERR_RANGE, "%s has %u bytes, limit %zu", what, n,
		    max);
		return;
	}
	const uint8_t *p = get_raw(d, n, what);
	if (p == NULL || n == 0) {
		return;
	}
	uint8_t *copy = malloc(n);
	if (copy == NULL) {
		dec_fail(d, RF_ERR_NOMEM, "no memory for %s (%u bytes)", what, n);
		return;
	}
	memcpy(copy, p, n);
	*out = copy;
	*len = n;
}

/* A u8 count of at most max entries. */
static uint8_t
get_count(struct dec *d, size_t max, const char *what)
{
	uint8_t n = get_u8(d, what);
	if (d->err == RF_OK && n > max) {
		dec_fail(d, RF_ERR_RANGE, "%u %s, limit %zu", n, what, max);
		return 0;
	}
	return n;
}

/* A u8 from a fixed set lo..hi; anything else is refused, not clamped. */
static uint8_t
get_enum(struct dec *d, unsigned lo, unsigned hi, const char *what)
{
	uint8_t v = get_u8(d, what);
	if (d->err == RF_OK && (v < lo || v > hi)) {
		dec_fail(d, RF_ERR_FORMAT, "%s %u is not one of %u..%u", what, v,
		    lo, hi);
		return 0;
	}
	return v;
}

static void
get_tensor(struct dec *d, struct tensor *t, const char *what)
{
	uint8_t dt = get_u8(d, what);
	uint8_t rank = get_u8(d, what);
	int64_t dims[TENSOR_MAX_RANK];
	size_t count;
	if (d->err != RF_OK) {
		return;
	}
	if (!engine_tensor_dtype_valid(dt)) {
		dec_fail(d, RF_ERR_FORMAT, "%s has unknown dtype %u", what, dt);
		return;
	}
	if (rank > TENSOR_MAX_RANK) {
		dec_fail(d, RF_ERR_RANGE, "%s has rank %u, limit %d", what, rank,
		    TENSOR_MAX_RANK);
		return;
	}
	for (int i = 0; i < rank; i++) {
		uint64_t v = get_u64(d, what);
		if (d->err != RF_OK) {
			return;
		}
		/* Compare unsigned first: a huge u64 must not turn into a
		 * negative int64 on the way. */
		if (v > (uint64_t)TENSOR_MAX_DIM) {
			dec_fail(d, RF_ERR_RANGE,
			    "%s: dimension %d is %llu, limit %lld", what, i,
			    (unsigned long long)v, (long long)TENSOR_MAX_DIM);
			return;
		}
		dims[i] = (int64_t)v;
	}
	struct rf_errinfo sei = { "" };
	int err = engine_tensor_shape_check(rank, dims, &count, &sei);
	if (err != RF_OK) {
		dec_fail(d, err, "%s: %s", what, sei.msg);
		return;
	}
	/* count <= 2^30 and elements are <= 8 bytes: no overflow. Check the
	 * bytes are there before engine_tensor_init allocates for them. */
	size_t bytes = count * engine_tensor_dtype_size((enum tensor_dtype)dt);
	if (bytes > d->r.left) {
		dec_fail(d, RF_ERR_TRUNCATED,
		    "%s needs %zu bytes of data, the body has %zu left", what,
		    bytes, d->r.left);
		return;
	}
	const uint8_t *p = get_raw(d, bytes, what);
	struct tensor tmp;
	err = engine_tensor_init(&tmp, (enum tensor_dtype)dt, rank, dims);
	if (err != RF_OK) {
		dec_fail(d, err, "%s: %s", what, rf_strerror(err));
		return;
	}
	if (bytes > 0) {
		memcpy(tmp.data, p, bytes);
	}
	*t = tmp;
}

/* *n tensors after a u8 count of at most max. */
static void
get_tensors(struct dec *d, struct tensor *t, uint8_t *n, size_t max,
    const char *what)
{
	char name[64];
	uint8_t count = get_count(d, max, what);
	/* Set the count first: the body's _free then releases whatever was
	 * decoded when a later tensor fails (the rest are zeroed). */
	*n = count;
	for (unsigned i = 0; i < count && d->err == RF_OK; i++) {
		snprintf(name, sizeof(name), "%s[%u]", what, i);
		get_tensor(d, &t[i], name);
	}
}

/* A proof into an allocation of its own length (NULL when empty),
 * allocated only once the body is seen to hold it. */
static uint8_t
get_proof(struct dec *d, struct proto_digest **path, const char *what)
{
	uint8_t n = get_count(d, MERKLE_MAX_PROOF, what);
	if (d->err != RF_OK || n == 0) {
		return 0;
	}
	if ((size_t)n * d->hl > d->r.left) {
		dec_fail(d, RF_ERR_TRUNCATED, "the body ends inside %s", what);
		return 0;
	}
	*path = calloc(n, sizeof(**path));
	if (*path == NULL) {
		dec_fail(d, RF_ERR_NOMEM, "no memory for %s", what);
		return 0;
	}
	for (unsigned i = 0; i < n; i++) {
		get_digest(d, &(*path)[i], what);
	}
	return n;
}

static void
dec_node_register(struct dec *d, struct proto_node_register *b)
{
	b->roles = get_u8(d, "roles");
	if (d->err == RF_OK && b->roles > ROLES_ALL) {
		dec_fail(d, RF_ERR_FORMAT, "roles 0x%02x has unknown bits",
		    b->roles);
	}
	get_str(d, b->name, PROTO_MAX_NAME, "name");
	get_str(d, b->endpoint, PROTO_MAX_TEXT, "endpoint");
	b->n_models = get_count(d, PROTO_MAX_MODELS, "models");
	for (unsigned i = 0; i < b->n_models; i++) {
		get_digest(d, &b->models[i], "models");
	}
}

static void
dec_model_register(struct dec *d, struct proto_model_register *b)
{
	get_digest(d, &b->model_id, "model_id");
	get_str(d, b->name, PROTO_MAX_NAME, "name");
	b->n_ops = get_u32(d, "n_ops");
	b->n_inputs = get_u32(d, "n_inputs");
	if (d->err == RF_OK && b->n_ops > ENGINE_MAX_OPS) {
		dec_fail(d, RF_ERR_RANGE, "n_ops %u is over the limit %u",
		    b->n_ops, ENGINE_MAX_OPS);
	}
	if (d->err == RF_OK && b->n_inputs > ENGINE_MAX_GRAPH_IO) {
		dec_fail(d, RF_ERR_RANGE, "n_inputs %u is over the limit %d",
		    b->n_inputs, ENGINE_MAX_GRAPH_IO);
	}
	get_blob(d, &b->graph, &b->graph_len, PROTO_MAX_GRAPH, "graph");
	b->n_leaves = get_u32(d, "n_leaves");
	b->proof_len = get_proof(d, &b->graph_proof, "graph_proof");
}

static void
dec_claim(struct dec *d, struct proto_claim *b)
{
	get_digest(d, &b->job_id, "job_id");
	get_digest(d, &b->model_id, "model_id");
	b->n_inputs = get_count(d, PROTO_MAX_TENSORS, "input_leaves");
	for (unsigned i = 0; i < b->n_inputs; i++) {
		get_digest(d, &b->input_leaves[i], "input_leaves");
	}
	b->n = get_u32(d, "n");
	get_digest(d, &b->trace_root, "trace_root");
	get_tensors(d, b->outputs, &b->n_outputs, PROTO_MAX_ENTRY_TENSORS,
	    "outputs");
	b->proof_len = get_proof(d, &b->output_proof, "output_proof");
}

static void
dec_reveal_input(struct dec *d, struct proto_reveal_input *in, unsigned i)
{
	char what[64];
	snprintf(what, sizeof(what), "inputs[%u].src", i);
	in->src = get_enum(d, PROTO_REVEAL_ABSENT, PROTO_REVEAL_WEIGHT, what);
	if (d->err != RF_OK || in->src == PROTO_REVEAL_ABSENT) {
		return;
	}
	snprintf(what, sizeof(what), "inputs[%u]", i);
	in->leaf = get_u32(d, what);
	in->output = get_u8(d, what);
	snprintf(what, sizeof(what), "inputs[%u].tensors", i);
	get_tensors(d, in->tensors, &in->n_tensors, PROTO_MAX_ENTRY_TENSORS,
	    what);
	snprintf(what, sizeof(what), "inputs[%u].proof", i);
	in->proof_len = get_proof(d, &in->proof, what);
	if (d->err != RF_OK) {
		return;
	}
	if (in->n_tensors == 0 ||
	    (in->src == PROTO_REVEAL_WEIGHT && in->n_tensors != 1)) {
		dec_fail(d, RF_ERR_FORMAT, "inputs[%u] reveals %u tensors for a "
		    "%s", i, in->n_tensors,
		    in->src == PROTO_REVEAL_WEIGHT ? "weight" : "trace entry");
	} else if (in->output >= in->n_tensors) {
		dec_fail(d, RF_ERR_FORMAT,
		    "inputs[%u] picks output %u of %u tensors", i, in->output,
		    in->n_tensors);
	}
}

static void
dec_reveal(struct dec *d, struct proto_reveal *b)
{
	get_digest(d, &b->dispute_id, "dispute_id");
	b->op = get_u32(d, "op");
	uint8_t n = get_count(d, ENGINE_MAX_OP_INPUTS, "inputs");
	if (d->err != RF_OK) {
		return;
	}
	if (n == 0) {
		b->frontier_len = get_proof(d, &b->frontier, "frontier");
		return;
	}
	/* Each input takes at least its src byte: a count the body cannot
	 * hold is refused before the array is allocated. */
	if (n > d->r.left) {
		dec_fail(d, RF_ERR_TRUNCATED, "%u inputs in %zu bytes", n,
		    d->r.left);
		return;
	}
	b->inputs = calloc(n, sizeof(*b->inputs));
	if (b->inputs == NULL) {
		dec_fail(d, RF_ERR_NOMEM, "no memory for %u inputs", n);
		return;
	}
	b->n_inputs = n;
	for (unsigned i = 0; i < n && d->err == RF_OK; i++) {
		dec_reveal_input(d, &b->inputs[i], i);
	}
	b->frontier_len = get_proof(d, &b->frontier, "frontier");
}

static void
dec_verdict(struct dec *d, struct proto_verdict *b)
{
	get_digest(d, &b->dispute_id, "dispute_id");
	get_digest(d, &b->job_id, "job_id");
	get_key(d, &b->executor, "executor");
	get_key(d, &b->challenger, "challenger");
	b->executor_won = get_enum(d, 0, 1, "executor_won");
	b->reason = get_enum(d, PROTO_VERDICT_RECOMPUTED,
	    PROTO_VERDICT_SETTLED, "reason");
	b->op = get_u32(d, "op");
	b->rounds = get_u32(d, "rounds");
	b->slashed = get_u64(d, "slashed");
	b->reward = get_u64(d, "reward");
	get_blob(d, &b->transcript, &b->transcript_len, PROTO_MAX_TRANSCRIPT,
	    "transcript");
}

static void
dec_event(struct dec *d, struct proto_event *b)
{
	b->seq = get_u64(d, "seq");
	b->kind = get_enum(d, PROTO_EVENT_JOB_ASSIGNED, PROTO_EVENT_DISPUTE_MOVE,
	    "kind");
	get_digest(d, &b->job_id, "job_id");
	get_digest(d, &b->dispute_id, "dispute_id");
	get_key(d, &b->subject, "subject");
	b->value = get_u64(d, "value");
	b->time_ms = get_u64(d, "time_ms");
}

/* Smallest encoded event: seq, kind, two digests, key, value, time. */
#define EVENT_MIN(hl) (8 + 1 + 2 * (hl) + PROTO_KEY_LEN + 16)

static void
dec_events(struct dec *d, struct proto_events *b)
{
	uint32_t n = get_u32(d, "n");
	if (d->err != RF_OK || n == 0) {
		return;
	}
	if (n > PROTO_MAX_EVENTS) {
		dec_fail(d, RF_ERR_RANGE, "%u events, limit %d", n,
		    PROTO_MAX_EVENTS);
		return;
	}
	if ((size_t)n * EVENT_MIN(d->hl) > d->r.left) {
		dec_fail(d, RF_ERR_TRUNCATED, "%u events in %zu bytes", n,
		    d->r.left);
		return;
	}
	b->events = calloc(n, sizeof(*b->events));
	if (b->events == NULL) {
		dec_fail(d, RF_ERR_NOMEM, "no memory for %u events", n);
		return;
	}
	b->n = n;
	for (uint32_t i = 0; i < n && d->err == RF_OK; i++) {
		dec_event(d, &b->events[i]);
	}
}

static void
get_prefix(struct dec *d, uint8_t *out, uint8_t *len)
{
	uint8_t n = get_u8(d, "prefix");
	if (d->err != RF_OK) {
		return;
	}
	if (n > d->hl) {
		dec_fail(d, RF_ERR_RANGE, "prefix has %u bytes, a digest %zu",
		    n, d->hl);
		return;
	}
	const uint8_t *p = get_raw(d, n, "prefix");
	if (p != NULL) {
		memcpy(out, p, n);
		*len = n;
	}
}

/* A list's cut flag and count, checked against the limit and the bytes
 * left (each entry is at least min bytes) before anything is
 * allocated; the count, or 0 on failure. */
static uint32_t
get_list_head(struct dec *d, uint8_t *cut, size_t min, const char *what)
{
	*cut = get_enum(d, 0, 1, "cut");
	uint32_t n = get_u32(d, "n");
	if (d->err != RF_OK || n == 0) {
		return 0;
	}
	if (n > PROTO_MAX_LIST) {
		dec_fail(d, RF_ERR_RANGE, "%u %s, limit %d", n, what,
		    PROTO_MAX_LIST);
		return 0;
	}
	if ((size_t)n * min > d->r.left) {
		dec_fail(d, RF_ERR_TRUNCATED, "%u %s in %zu bytes", n, what,
		    d->r.left);
		return 0;
	}
	return n;
}

static void
dec_jobs_list(struct dec *d, struct proto_jobs_list *b)
{
	uint32_t n = get_list_head(d, &b->cut,
	    2 * d->hl + 2 * PROTO_KEY_LEN + 25, "jobs");
	if (n == 0) {
		return;
	}
	b->jobs = calloc(n, sizeof(*b->jobs));
	if (b->jobs == NULL) {
		dec_fail(d, RF_ERR_NOMEM, "no memory for %u jobs", n);
		return;
	}
	b->n = n;
	for (uint32_t i = 0; i < n && d->err == RF_OK; i++) {
		struct proto_job_entry *j = &b->jobs[i];
		get_digest(d, &j->job_id, "jobs[].job_id");
		get_digest(d, &j->model_id, "jobs[].model_id");
		get_key(d, &j->client, "jobs[].client");
		get_key(d, &j->executor, "jobs[].executor");
		j->fee = get_u64(d, "jobs[].fee");
		j->state = get_enum(d, PROTO_JOB_OPEN, PROTO_JOB_STATE_LAST,
		    "jobs[].state");
		j->created_ms = get_u64(d, "jobs[].created_ms");
		j->deadline_ms = get_u64(d, "jobs[].deadline_ms");
	}
}

static void
dec_disputes_list(struct dec *d, struct proto_disputes_list *b)
{
	uint32_t n = get_list_head(d, &b->cut,
	    2 * d->hl + 2 * PROTO_KEY_LEN + 27, "disputes");
	if (n == 0) {
		return;
	}
	b->disputes = calloc(n, sizeof(*b->disputes));
	if (b->disputes == NULL) {
		dec_fail(d, RF_ERR_NOMEM, "no memory for %u disputes", n);
		return;
	}
	b->n = n;
	for (uint32_t i = 0; i < n && d->err == RF_OK; i++) {
		struct proto_dispute_entry *x = &b->disputes[i];
		get_digest(d, &x->dispute_id, "disputes[].dispute_id");
		get_digest(d, &x->job_id, "disputes[].job_id");
		get_key(d, &x->executor, "disputes[].executor");
		get_key(d, &x->challenger, "disputes[].challenger");
		x->state = get_enum(d, 1, 2, "disputes[].state");
		x->executor_won = get_enum(d, 0, 1, "disputes[].executor_won");
		x->reason = get_enum(d, 0, PROTO_VERDICT_SETTLED,
		    "disputes[].reason");
		x->bond = get_u64(d, "disputes[].bond");
		x->opened_ms = get_u64(d, "disputes[].opened_ms");
		x->deadline_ms = get_u64(d, "disputes[].deadline_ms");
	}
}

static void
dec_status_info(struct dec *d, struct proto_status_info *b)
{
	b->time_ms = get_u64(d, "time_ms");
	b->jobs_open = get_u32(d, "jobs_open");
	b->claims_pending = get_u32(d, "claims_pending");
	b->claims_final = get_u32(d, "claims_final");
	b->claims_invalid = get_u32(d, "claims_invalid");
	b->disputes_open = get_u32(d, "disputes_open");
	b->disputes_closed = get_u32(d, "disputes_closed");
	b->ledger_total = get_u64(d, "ledger_total");
	b->burned = get_u64(d, "burned");
	uint32_t n = get_u32(d, "n_nodes");
	if (d->err != RF_OK || n == 0) {
		return;
	}
	if (n > PROTO_MAX_STATUS_NODES) {
		dec_fail(d, RF_ERR_RANGE, "%u nodes, limit %d", n,
		    PROTO_MAX_STATUS_NODES);
		return;
	}
	if (n > d->r.left / STATUS_NODE_MIN) {
		dec_fail(d, RF_ERR_TRUNCATED, "%u nodes in %zu bytes", n,
		    d->r.left);
		return;
	}
	b->nodes = calloc(n, sizeof(*b->nodes));
	if (b->nodes == NULL) {
		dec_fail(d, RF_ERR_NOMEM, "no memory for %u nodes", n);
		return;
	}
	b->n_nodes = n;
	for (uint32_t i = 0; i < n && d->err == RF_OK; i++) {
		struct proto_status_node *node = &b->nodes[i];
		get_key(d, &node->key, "nodes");
		node->roles = get_u8(d, "nodes");
		if (d->err == RF_OK && node->roles > ROLES_ALL) {
			dec_fail(d, RF_ERR_FORMAT,
			    "nodes[%u].roles 0x%02x has unknown bits", i,
			    node->roles);
		}
		get_str(d, node->name, PROTO_MAX_NAME, "nodes[].name");
		node->balance = get_u64(d, "nodes");
		node->stake = get_u64(d, "nodes");
	}
}

static void
dec_body(struct dec *d, uint8_t type, void *body)
{
	switch (type) {
	case PROTO_MSG_ERROR: {
		struct proto_error *b = body;
		b->code = get_u32(d, "code");
		if (d->err == RF_OK && (b->code < PROTO_ERR_MALFORMED ||
		    b->code > PROTO_ERR_LAST)) {
			dec_fail(d, RF_ERR_FORMAT, "code %u is not one of %d..%d",
			    b->code, PROTO_ERR_MALFORMED, PROTO_ERR_LAST);
		}
		get_str(d, b->text, PROTO_MAX_TEXT, "text");
		break;
	}
	case PROTO_MSG_ACK: {
		struct proto_ack *b = body;
		b->ref_seq = get_u64(d, "ref_seq");
		get_digest(d, &b->id, "id");
		break;
	}
	case PROTO_MSG_NODE_REGISTER:
		dec_node_register(d, body);
		break;
	case PROTO_MSG_STAKE:
	case PROTO_MSG_UNSTAKE:
		((struct proto_amount *)body)->amount = get_u64(d, "amount");
		break;
	case PROTO_MSG_MODEL_REGISTER:
		dec_model_register(d, body);
		break;
	case PROTO_MSG_JOB_SUBMIT: {
		struct proto_job_submit *b = body;
		get_digest(d, &b->model_id, "model_id");
		b->fee = get_u64(d, "fee");
		b->nonce = get_u64(d, "nonce");
		get_key(d, &b->executor, "executor");
		get_tensors(d, b->inputs, &b->n_inputs, PROTO_MAX_TENSORS,
		    "inputs");
		break;
	}
	case PROTO_MSG_JOB_FETCH:
		get_digest(d, &((struct proto_job_fetch *)body)->job_id, "job_id");
		break;
	case PROTO_MSG_JOB_INFO: {
		struct proto_job_info *b = body;
		get_digest(d, &b->job_id, "job_id");
		get_digest(d, &b->model_id, "model_id");
		get_key(d, &b->client, "client");
		get_key(d, &b->executor, "executor");
		b->fee = get_u64(d, "fee");
		b->state = get_enum(d, PROTO_JOB_OPEN, PROTO_JOB_STATE_LAST,
		    "state");
		get_tensors(d, b->inputs, &b->n_inputs, PROTO_MAX_TENSORS,
		    "inputs");
		break;
	}
	case PROTO_MSG_JOB_CANCEL:
		get_digest(d, &((struct proto_job_cancel *)body)->job_id, "job_id");
		break;
	case PROTO_MSG_JOBS_QUERY: {
		struct proto_jobs_query *b = body;
		b->state = get_enum(d, 0, PROTO_JOB_STATE_LAST, "state");
		get_prefix(d, b->prefix, &b->prefix_len);
		b->max = get_u32(d, "max");
		break;
	}
	case PROTO_MSG_JOBS_LIST:
		dec_jobs_list(d, body);
		break;
	case PROTO_MSG_DISPUTES_QUERY: {
		struct proto_disputes_query *b = body;
		b->state = get_enum(d, 0, 2, "state");
		get_prefix(d, b->prefix, &b->prefix_len);
		get_digest(d, &b->job_id, "job_id");
		b->max = get_u32(d, "max");
		break;
	}
	case PROTO_MSG_DISPUTES_LIST:
		dec_disputes_list(d, body);
		break;
	case PROTO_MSG_CLAIM:
		dec_claim(d, body);
		break;
	case PROTO_MSG_CLAIM_STATUS:
		get_digest(d, &((struct proto_claim_status *)body)->job_id, "job_id");
		break;
	case PROTO_MSG_CLAIM_INFO: {
		struct proto_claim_info *b = body;
		get_digest(d, &b->job_id, "job_id");
		b->state = get_enum(d, PROTO_JOB_OPEN, PROTO_JOB_STATE_LAST,
		    "state");
		get_key(d, &b->executor, "executor");
		get_digest(d, &b->trace_root, "trace_root");
		b->n = get_u32(d, "n");
		b->window_end_ms = get_u64(d, "window_end_ms");
		get_tensors(d, b->outputs, &b->n_outputs,
		    PROTO_MAX_ENTRY_TENSORS, "outputs");
		break;
	}
	case PROTO_MSG_CHALLENGE: {
		struct proto_challenge *b = body;
		get_digest(d, &b->job_id, "job_id");
		get_key(d, &b->executor, "executor");
		get_digest(d, &b->executor_root, "executor_root");
		get_digest(d, &b->challenger_root, "challenger_root");
		b->n = get_u32(d, "n");
		b->bond = get_u64(d, "bond");
		break;
	}
	case PROTO_MSG_BISECT_QUERY: {
		struct proto_bisect_query *b = body;
		get_digest(d, &b->dispute_id, "dispute_id");
		b->round = get_u32(d, "round");
		b->lo = get_u64(d, "lo");
		b->hi = get_u64(d, "hi");
		b->n_sizes = get_count(d, PROTO_MAX_ARITY - 1, "sizes");
		for (unsigned i = 0; i < b->n_sizes; i++) {
			b->sizes[i] = get_u64(d, "sizes");
		}
		b->deadline_ms = get_u64(d, "deadline_ms");
		break;
	}
	case PROTO_MSG_BISECT_ANSWER: {
		struct proto_bisect_answer *b = body;
		get_digest(d, &b->dispute_id, "dispute_id");
		b->round = get_u32(d, "round");
		b->n_roots = get_count(d, PROTO_MAX_ARITY - 1, "roots");
		for (unsigned i = 0; i < b->n_roots; i++) {
			struct proto_prefix_root *r = &b->roots[i];
			r->size = get_u64(d, "roots[].size");
			get_digest(d, &r->root, "roots[].root");
			r->proof_len = get_proof(d, &r->proof, "roots[].proof");
		}
		break;
	}
	case PROTO_MSG_REVEAL:
		dec_reveal(d, body);
		break;
	case PROTO_MSG_VERDICT:
		dec_verdict(d, body);
		break;
	case PROTO_MSG_EQUIVOCATION: {
		struct proto_equivocation *b = body;
		get_blob(d, &b->claim_a, &b->len_a, PROTO_MAX_MESSAGE, "claim_a");
		get_blob(d, &b->claim_b, &b->len_b, PROTO_MAX_MESSAGE, "claim_b");
		break;
	}
	case PROTO_MSG_EVENT:
		dec_event(d, body);
		break;
	case PROTO_MSG_EVENTS_FETCH:
		((struct proto_events_fetch *)body)->after = get_u64(d, "after");
		((struct proto_events_fetch *)body)->max = get_u32(d, "max");
		break;
	case PROTO_MSG_EVENTS:
		dec_events(d, body);
		break;
	case PROTO_MSG_DISPUTE_FETCH:
		get_digest(d, &((struct proto_dispute_fetch *)body)->dispute_id, "dispute_id");
		break;
	case PROTO_MSG_STATUS_QUERY:
		break;
	case PROTO_MSG_STATUS_INFO:
		dec_status_info(d, body);
		break;
	default:
		/* decode_envelope admits known types only. */
		dec_fail(d, RF_ERR_VERSION, "unknown message type %u", type);
		break;
	}
	if (d->err == RF_OK && d->r.left != 0) {
		dec_fail(d, RF_ERR_FORMAT, "%zu unexpected bytes after the body",
		    d->r.left);
	}
}

/* The envelope's fields, checked, and where its body and signature are. */
struct envelope {
	uint8_t type, suite;
	struct proto_pubkey sender;
	uint64_t seq;
	const uint8_t *body;
	size_t body_len;
	const uint8_t *sig;
};

static int
decode_envelope(const uint8_t *buf, size_t len, struct envelope *env,
    struct rf_errinfo *ei)
{
	if (buf == NULL || len < 4) {
		return rf_errf(ei, RF_ERR_TRUNCATED,
		    "message is %zu bytes, shorter than the %d-byte envelope "
		    "header", buf == NULL ? 0 : len, ENV_HEADER);
	}
	if (memcmp(buf, PROTO_MAGIC, 4) != 0) {
		return rf_errf(ei, RF_ERR_FORMAT,
		    "not a Refute message (bad magic)");
	}
	if (len < ENV_HEADER) {
		return rf_errf(ei, RF_ERR_TRUNCATED,
		    "message is %zu bytes, shorter than the %d-byte envelope "
		    "header", len, ENV_HEADER);
	}
	struct rf_reader r;
	rf_reader_init(&r, buf + 4, ENV_HEADER - 4);
	uint8_t version = rf_read_u8(&r);
	uint8_t type = rf_read_u8(&r);
	uint8_t suite = rf_read_u8(&r);
	uint8_t flags = rf_read_u8(&r);
	const uint8_t *sender = rf_read_bytes(&r, PROTO_KEY_LEN);
	uint64_t seq = rf_read_u64(&r);
	uint32_t body_len = rf_read_u32(&r);
	if (r.err != RF_OK) {
		return rf_errf(ei, RF_ERR_TRUNCATED, "short envelope header");
	}
	if (version != PROTO_VERSION) {
		return rf_errf(ei, RF_ERR_VERSION,
		    "protocol version %u is not supported (this build speaks "
		    "version %d)", version, PROTO_VERSION);
	}
	const char *name = proto_msg_type_name(type);
	if (name == NULL) {
		return rf_errf(ei, RF_ERR_VERSION, "unknown message type %u",
		    type);
	}
	if (!proto_hash_valid(suite)) {
		return rf_errf(ei, RF_ERR_VERSION, "%s: unknown hash suite %u",
		    name, suite);
	}
	if (flags != 0) {
		return rf_errf(ei, RF_ERR_FORMAT,
		    "%s: reserved flags 0x%02x are set", name, flags);
	}
	if (body_len > PROTO_MAX_BODY) {
		return rf_errf(ei, RF_ERR_RANGE,
		    "%s: body length %u is over the limit %zu", name, body_len,
		    PROTO_MAX_BODY);
	}
	size_t want = ENV_HEADER + (size_t)body_len + PROTO_SIG_LEN;
	if (len < want) {
		return rf_errf(ei, RF_ERR_TRUNCATED,
		    "%s: message is %zu bytes, its header promises %zu", name,
		    len, want);
	}
	if (len > want) {
		return rf_errf(ei, RF_ERR_FORMAT,
		    "%s: %zu unexpected bytes after the signature", name,
		    len - want);
	}
	env->type = type;
	env->suite = suite;
	memcpy(env->sender.b, sender, PROTO_KEY_LEN);
	env->seq = seq;
	env->body = buf + ENV_HEADER;
	env->body_len = body_len;
	env->sig = buf + ENV_HEADER + body_len;
	return RF_OK;
}

static int
open_env(const uint8_t *buf, size_t len, bool verify, struct proto_env *env,
    struct rf_errinfo *ei)
{
	struct envelope e;
	int err = decode_envelope(buf, len, &e, ei);
	if (err != RF_OK) {
		return err;
	}
	/* Authenticate before decoding: bytes nobody vouches for never reach
	 * the body decoders or their allocations. */
	if (verify && proto_verify(&e.sender, buf, ENV_HEADER + e.body_len,
	    e.sig) != RF_OK) {
		char hex[2 * PROTO_KEY_LEN + 1];
		proto_pubkey_hex(&e.sender, hex);
		return rf_errf(ei, RF_ERR_CRYPTO,
		    "%s: the signature does not verify against the sender "
		    "key %.16s...", proto_msg_type_name(e.type), hex);
	}
	env->version = PROTO_VERSION;
	env->type = e.type;
	env->suite = e.suite;
	env->sender = e.sender;
	env->seq = e.seq;
	env->body = e.body;
	env->body_len = e.body_len;
	return RF_OK;
}

int
proto_msg_open(const uint8_t *buf, size_t len, struct proto_env *env,
    struct rf_errinfo *ei)
{
	return open_env(buf, len, true, env, ei);
}

int
proto_msg_open_stored(const uint8_t *buf, size_t len, struct proto_env *env,
    struct rf_errinfo *ei)
{
	return open_env(buf, len, false, env, ei);
}

int
proto_msg_open_unverified(const uint8_t *buf, size_t len,
    struct proto_env *env, struct rf_errinfo *ei)
{
	return open_env(buf, len, false, env, ei);
}

/* Decodes env's body into body (size bytes, a struct of type's), which
 * owns nothing afterwards unless this succeeds. */
static int
body_decode(const struct proto_env *env, uint8_t type, void *body,
    size_t size, struct rf_errinfo *ei)
{
	if (body != NULL) {
		memset(body, 0, size);
	}
	bool amount = type == PROTO_MSG_STAKE && env->type == PROTO_MSG_UNSTAKE;
	if (env->type != type && !amount) {
		return rf_errf(ei, RF_ERR_FORMAT, "expected %s, got %s",
		    proto_msg_type_name(type), proto_msg_type_name(env->type));
	}
	struct dec d;
	memset(&d, 0, sizeof(d));
	rf_reader_init(&d.r, env->body, env->body_len);
	d.hl = proto_hash_len((enum proto_hash)env->suite);
	d.type = proto_msg_type_name(env->type);
	d.ei = ei;
	dec_body(&d, env->type, body);
	if (d.err != RF_OK) {
		body_free(env->type, body);
	}
	return d.err;
}

#define PROTO_DECODER(name, TYPE) \
	int \
	proto_##name##_decode(const struct proto_env *env, \
	    struct proto_##name *out, struct rf_errinfo *ei) \
	{ \
		return body_decode(env, TYPE, out, sizeof(*out), ei); \
	}

PROTO_DECODER(error, PROTO_MSG_ERROR)
PROTO_DECODER(ack, PROTO_MSG_ACK)
PROTO_DECODER(node_register, PROTO_MSG_NODE_REGISTER)
PROTO_DECODER(amount, PROTO_MSG_STAKE) /* and UNSTAKE */
PROTO_DECODER(model_register, PROTO_MSG_MODEL_REGISTER)
PROTO_DECODER(job_submit, PROTO_MSG_JOB_SUBMIT)
PROTO_DECODER(job_fetch, PROTO_MSG_JOB_FETCH)
PROTO_DECODER(job_info, PROTO_MSG_JOB_INFO)
PROTO_DECODER(job_cancel, PROTO_MSG_JOB_CANCEL)
PROTO_DECODER(jobs_query, PROTO_MSG_JOBS_QUERY)
PROTO_DECODER(jobs_list, PROTO_MSG_JOBS_LIST)
PROTO_DECODER(disputes_query, PROTO_MSG_DISPUTES_QUERY)
PROTO_DECODER(disputes_list, PROTO_MSG_DISPUTES_LIST)
PROTO_DECODER(claim, PROTO_MSG_CLAIM)
PROTO_DECODER(claim_status, PROTO_MSG_CLAIM_STATUS)
PROTO_DECODER(claim_info, PROTO_MSG_CLAIM_INFO)
PROTO_DECODER(challenge, PROTO_MSG_CHALLENGE)
PROTO_DECODER(bisect_query, PROTO_MSG_BISECT_QUERY)
PROTO_DECODER(bisect_answer, PROTO_MSG_BISECT_ANSWER)
PROTO_DECODER(reveal, PROTO_MSG_REVEAL)
PROTO_DECODER(verdict, PROTO_MSG_VERDICT)
PROTO_DECODER(equivocation, PROTO_MSG_EQUIVOCATION)
PROTO_DECODER(dispute_fetch, PROTO_MSG_DISPUTE_FETCH)
PROTO_DECODER(event, PROTO_MSG_EVENT)
PROTO_DECODER(events_fetch, PROTO_MSG_EVENTS_FETCH)
PROTO_DECODER(events, PROTO_MSG_EVENTS)
PROTO_DECODER(status_info, PROTO_MSG_STATUS_INFO)

int
proto_status_query_decode(const struct proto_env *env, struct rf_errinfo *ei)
{
	return body_decode(env, PROTO_MSG_STATUS_QUERY, NULL, 0, ei);
}

/* The size of each type's body struct, to refuse a short buffer. */
size_t
proto_msg_body_size(uint8_t type)
{
	switch (type) {
	case PROTO_MSG_ERROR: return sizeof(struct proto_error);
	case PROTO_MSG_ACK: return sizeof(struct proto_ack);
	case PROTO_MSG_NODE_REGISTER: return sizeof(struct proto_node_register);
	case PROTO_MSG_STAKE:
	case PROTO_MSG_UNSTAKE: return sizeof(struct proto_amount);
	case PROTO_MSG_MODEL_REGISTER:
		return sizeof(struct proto_model_register);
	case PROTO_MSG_JOB_SUBMIT: return sizeof(struct proto_job_submit);
	case PROTO_MSG_JOB_FETCH: return sizeof(struct proto_job_fetch);
	case PROTO_MSG_JOB_INFO: return sizeof(struct proto_job_info);
	case PROTO_MSG_JOB_CANCEL: return sizeof(struct proto_job_cancel);
	case PROTO_MSG_JOBS_QUERY: return sizeof(struct proto_jobs_query);
	case PROTO_MSG_JOBS_LIST: return sizeof(struct proto_jobs_list);
	case PROTO_MSG_DISPUTES_QUERY:
		return sizeof(struct proto_disputes_query);
	case PROTO_MSG_DISPUTES_LIST: return sizeof(struct proto_disputes_list);
	case PROTO_MSG_CLAIM: return sizeof(struct proto_claim);
	case PROTO_MSG_CLAIM_STATUS: return sizeof(struct proto_claim_status);
	case PROTO_MSG_CLAIM_INFO: return sizeof(struct proto_claim_info);
	case PROTO_MSG_CHALLENGE: return sizeof(struct proto_challenge);
	case PROTO_MSG_BISECT_QUERY: return sizeof(struct proto_bisect_query);
	case PROTO_MSG_BISECT_ANSWER: return sizeof(struct proto_bisect_answer);
	case PROTO_MSG_REVEAL: return sizeof(struct proto_reveal);
	case PROTO_MSG_VERDICT: return sizeof(struct proto_verdict);
	case PROTO_MSG_EQUIVOCATION: return sizeof(struct proto_equivocation);
	case PROTO_MSG_DISPUTE_FETCH: return sizeof(struct proto_dispute_fetch);
	case PROTO_MSG_EVENT: return sizeof(struct proto_event);
	case PROTO_MSG_EVENTS_FETCH: return sizeof(struct proto_events_fetch);
	case PROTO_MSG_EVENTS: return sizeof(struct proto_events);
	case PROTO_MSG_STATUS_INFO: return sizeof(struct proto_status_info);
	default: return 0;
	}
}

int
proto_msg_body_decode(const struct proto_env *env, void *body, size_t size,
    struct rf_errinfo *ei)
{
	if (size < proto_msg_body_size(env->type)) {
		return rf_errf(ei, RF_ERR_INVAL, "%s: no room for its body",
		    proto_msg_type_name(env->type));
	}
	return body_decode(env, env->type, body, size, ei);
}

void
proto_msg_body_free(uint8_t type, void *body)
{
	body_free(type, body);
}

const char *
proto_job_state_name(uint8_t state)
{
	switch (state) {
	case PROTO_JOB_OPEN:
		return "open";
	case PROTO_JOB_CLAIMED:
		return "claimed";
	case PROTO_JOB_DISPUTED:
		return "disputed";
	case PROTO_JOB_FINAL:
		return "final";
	case PROTO_JOB_INVALID:
		return "invalid";
	case PROTO_JOB_CANCELLED:
		return "cancelled";
	}
	return "?";
}

const char *
proto_verdict_reason_name(uint8_t reason)
{
	switch (reason) {
	case PROTO_VERDICT_RECOMPUTED:
		return "recomputed";
	case PROTO_VERDICT_BAD_PROOF:
		return "bad-proof";
	case PROTO_VERDICT_TIMEOUT:
		return "timeout";
	case PROTO_VERDICT_EQUIVOCATION:
		return "equivocation";
	case PROTO_VERDICT_SETTLED:
		return "settled";
	}
	return "?";
}
