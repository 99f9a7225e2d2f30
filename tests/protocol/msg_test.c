/*
 * tests/protocol/msg_test.c - identities, signatures and the message
 * codec: a fully populated example of every message type in both hash
 * suites round-trips field for field and byte for byte; every truncation
 * and every single-byte corruption of every example is refused; bodies
 * corrupted and then re-signed are refused or re-encode to themselves
 * (canonical encoding); envelope fields, limits and enumerated values are
 * refused with their exact codes at decode and at encode.
 *
 * With RF_MSG_CORPUS=DIR set, the examples are also written to DIR, one
 * file per message: the fuzzer's seed corpus (fuzz/corpus/msg).
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "protocol/protocol.h"
#include "protocol/protocol_int.h"
#include "tests/adversary/adv.h"
#include "tests/testlib.h"

#define HDR 52

static const enum proto_hash suites[] = { PROTO_HASH_BLAKE2B,
	PROTO_HASH_XXH3 };

static const uint8_t all_types[] = {
	PROTO_MSG_ERROR, PROTO_MSG_ACK, PROTO_MSG_NODE_REGISTER,
	PROTO_MSG_STAKE, PROTO_MSG_UNSTAKE, PROTO_MSG_MODEL_REGISTER,
	PROTO_MSG_JOB_SUBMIT, PROTO_MSG_JOB_FETCH, PROTO_MSG_JOB_INFO,
	PROTO_MSG_CLAIM, PROTO_MSG_CLAIM_STATUS, PROTO_MSG_CLAIM_INFO,
	PROTO_MSG_CHALLENGE, PROTO_MSG_BISECT_QUERY, PROTO_MSG_BISECT_ANSWER,
	PROTO_MSG_REVEAL, PROTO_MSG_VERDICT, PROTO_MSG_EQUIVOCATION,
	PROTO_MSG_EVENT, PROTO_MSG_STATUS_QUERY, PROTO_MSG_STATUS_INFO,
	PROTO_MSG_DISPUTE_FETCH, PROTO_MSG_EVENTS_FETCH, PROTO_MSG_EVENTS,
	PROTO_MSG_JOB_CANCEL, PROTO_MSG_JOBS_QUERY, PROTO_MSG_JOBS_LIST,
	PROTO_MSG_DISPUTES_QUERY, PROTO_MSG_DISPUTES_LIST,
};
#define N_TYPES (sizeof(all_types) / sizeof(all_types[0]))
#define N_EXAMPLES (2 * N_TYPES)

static struct proto_identity alice, bob;

/* Every example, encoded by alice: index suite * N_TYPES + type index. */
static struct {
	uint8_t type;
	enum proto_hash suite;
	uint8_t *buf;
	size_t len;
} ex[N_EXAMPLES];

/* ------------------------------------------------------------------ */
/* Example messages                                                     */
/* ------------------------------------------------------------------ */

/*
 * Examples are also built in the suites' init, where CUnit allows no
 * assertion (it asserts a current test): setup failures abort instead.
 */
static void
need(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "msg_test: setup failed: %s\n", what);
		abort();
	}
}

static uint64_t rng_state;

static uint8_t
rnd(void)
{
	/* xorshift64*: deterministic content, different in every field. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint8_t)((rng_state * 0x2545f4914f6cdd1dull) >> 56);
}

static uint64_t
rnd64(void)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++) {
		v = v << 8 | rnd();
	}
	return v;
}

static void
fill_digest(enum proto_hash s, struct proto_digest *d)
{
	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i < proto_hash_len(s); i++) {
		d->b[i] = rnd();
	}
}

static void
fill_key(struct proto_pubkey *k)
{
	for (size_t i = 0; i < PROTO_KEY_LEN; i++) {
		k->b[i] = rnd();
	}
}

static void
fill_str(char *s, size_t n)
{
	static const char cs[] =
	    "abcdefghijklmnopqrstuvwxyz0123456789 -_./:ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	for (size_t i = 0; i < n; i++) {
		s[i] = cs[rnd() % (sizeof(cs) - 1)];
	}
	s[n] = '\0';
}

static uint8_t *
fill_blob(size_t n)
{
	uint8_t *p = malloc(n);
	need(p != NULL, "malloc");
	for (size_t i = 0; i < n; i++) {
		p[i] = rnd();
	}
	return p;
}

/* Small tensors of every dtype, ranks 0..6, one of them empty. */
static void
fill_tensor(struct tensor *t, unsigned kind)
{
	static const struct {
		enum tensor_dtype dt;
		int rank;
		int64_t dims[TENSOR_MAX_RANK];
	} shapes[] = {
		{ TENSOR_F32, 2, { 2, 3 } },
		{ TENSOR_I8, 1, { 5 } },
		{ TENSOR_I32, 0, { 0 } },
		{ TENSOR_I64, 4, { 1, 2, 1, 2 } },
		{ TENSOR_F32, 2, { 0, 3 } },
		{ TENSOR_I8, 6, { 2, 1, 2, 1, 1, 2 } },
		{ TENSOR_I32, 3, { 1, 1, 3 } },
	};
	unsigned k = kind % (sizeof(shapes) / sizeof(shapes[0]));
	need(engine_tensor_init(t, shapes[k].dt, shapes[k].rank, shapes[k].dims) ==
	    RF_OK, "tensor_init");
	uint8_t *p = t->data;
	for (size_t i = 0; i < engine_tensor_nbytes(t); i++) {
		p[i] = rnd();
	}
}

/* A proof of n digests in an allocation the body owns. */
static void
fill_proof(enum proto_hash s, struct proto_digest **path, uint8_t *len,
    uint8_t n)
{
	*len = n;
	*path = NULL;
	if (n == 0) {
		return;
	}
	*path = calloc(n, sizeof(**path));
	need(*path != NULL, "calloc");
	for (uint8_t i = 0; i < n; i++) {
		fill_digest(s, &(*path)[i]);
	}
}

static void build_example(struct adv_msg *m, uint8_t type,
    enum proto_hash s);

/* Encodes a claim by alice for the equivocation example. */
static uint8_t *
encoded_claim(enum proto_hash s, uint64_t seq, size_t *len)
{
	struct adv_msg c;
	uint8_t *buf;
	build_example(&c, PROTO_MSG_CLAIM, s);
	c.seq = seq;
	need(adv_msg_pack(&c, &alice, &buf, len) == RF_OK, "claim");
	adv_msg_free(&c);
	return buf;
}

static void
fill_event(enum proto_hash s, struct proto_event *b, uint8_t kind)
{
	b->seq = rnd64();
	b->kind = kind;
	fill_digest(s, &b->job_id);
	fill_digest(s, &b->dispute_id);
	fill_key(&b->subject);
	b->value = rnd64();
	b->time_ms = rnd64();
}

static void
build_reveal(struct proto_reveal *b, enum proto_hash s)
{
	fill_digest(s, &b->dispute_id);
	b->op = 4242;
	fill_proof(s, &b->frontier, &b->frontier_len, 6);
	b->n_inputs = 4;
	b->inputs = calloc(b->n_inputs, sizeof(*b->inputs));
	need(b->inputs != NULL, "calloc");
	/* A two-tensor trace entry, its second tensor the operand. */
	struct proto_reveal_input *in = &b->inputs[0];
	in->src = PROTO_REVEAL_TRACE;
	in->leaf = 17;
	in->output = 1;
	in->n_tensors = 2;
	fill_tensor(&in->tensors[0], 0);
	fill_tensor(&in->tensors[1], 3);
	fill_proof(s, &in->proof, &in->proof_len, 5);
	/* An optional input left out. */
	b->inputs[1].src = PROTO_REVEAL_ABSENT;
	in = &b->inputs[2];
	in->src = PROTO_REVEAL_WEIGHT;
	in->leaf = 3;
	in->n_tensors = 1;
	fill_tensor(&in->tensors[0], 1);
	fill_proof(s, &in->proof, &in->proof_len, 4);
	in = &b->inputs[3];
	in->src = PROTO_REVEAL_TRACE;
	in->leaf = 0;
	in->n_tensors = 1;
	fill_tensor(&in->tensors[0], 2);
	in->proof_len = 0;
}

static void
build_example(struct adv_msg *m, uint8_t type, enum proto_hash s)
{
	rng_state = 0x9e3779b97f4a7c15ull ^ ((uint64_t)type << 8) ^ s;
	adv_msg_init(m, (enum proto_msg_type)type, s);
	m->sender = alice.pk;
	m->seq = 1000 + type + ((uint64_t)s << 40);
	switch (type) {
	case PROTO_MSG_ERROR:
		m->u.error.code = PROTO_ERR_STATE;
		/* At the limit in one suite, long-ish in the other. */
		fill_str(m->u.error.text, s == PROTO_HASH_BLAKE2B ?
		    PROTO_MAX_TEXT : 180);
		break;
	case PROTO_MSG_ACK:
		m->u.ack.ref_seq = rnd64();
		fill_digest(s, &m->u.ack.id);
		break;
	case PROTO_MSG_NODE_REGISTER: {
		struct proto_node_register *b = &m->u.node_register;
		b->roles = PROTO_ROLE_EXECUTOR | PROTO_ROLE_CLIENT;
		fill_str(b->name, PROTO_MAX_NAME);
		fill_str(b->endpoint, 120);
		b->n_models = 5;
		for (int i = 0; i < b->n_models; i++) {
			fill_digest(s, &b->models[i]);
		}
		break;
	}
	case PROTO_MSG_STAKE:
	case PROTO_MSG_UNSTAKE:
		m->u.amount.amount = rnd64();
		break;
	case PROTO_MSG_MODEL_REGISTER: {
		struct proto_model_register *b = &m->u.model_register;
		fill_digest(s, &b->model_id);
		fill_str(b->name, 40);
		b->n_ops = 123;
		b->n_inputs = 2;
		b->graph_len = 300;
		b->graph = fill_blob(b->graph_len);
		b->n_leaves = 77;
		fill_proof(s, &b->graph_proof, &b->proof_len, 7);
		break;
	}
	case PROTO_MSG_JOB_SUBMIT: {
		struct proto_job_submit *b = &m->u.job_submit;
		fill_digest(s, &b->model_id);
		b->fee = rnd64();
		b->nonce = rnd64();
		fill_key(&b->executor);
		b->n_inputs = 4;
		for (unsigned i = 0; i < b->n_inputs; i++) {
			fill_tensor(&b->inputs[i], i);
		}
		break;
	}
	case PROTO_MSG_JOB_FETCH:
		fill_digest(s, &m->u.job_fetch.job_id);
		break;
	case PROTO_MSG_JOB_INFO: {
		struct proto_job_info *b = &m->u.job_info;
		fill_digest(s, &b->job_id);
		fill_digest(s, &b->model_id);
		fill_key(&b->client);
		fill_key(&b->executor);
		b->fee = rnd64();
		b->state = PROTO_JOB_DISPUTED;
		b->n_inputs = 3;
		for (unsigned i = 0; i < b->n_inputs; i++) {
			fill_tensor(&b->inputs[i], i + 3);
		}
		break;
	}
	case PROTO_MSG_CLAIM: {
		struct proto_claim *b = &m->u.claim;
		fill_digest(s, &b->job_id);
		fill_digest(s, &b->model_id);
		b->n_inputs = 3;
		for (unsigned i = 0; i < b->n_inputs; i++) {
			fill_digest(s, &b->input_leaves[i]);
		}
		b->n = 77;
		fill_digest(s, &b->trace_root);
		b->n_outputs = 3;
		for (unsigned i = 0; i < b->n_outputs; i++) {
			fill_tensor(&b->outputs[i], i + 4);
		}
		fill_proof(s, &b->output_proof, &b->proof_len, 7);
		break;
	}
	case PROTO_MSG_CLAIM_STATUS:
		fill_digest(s, &m->u.claim_status.job_id);
		break;
	case PROTO_MSG_CLAIM_INFO: {
		struct proto_claim_info *b = &m->u.claim_info;
		fill_digest(s, &b->job_id);
		b->state = PROTO_JOB_CLAIMED;
		fill_key(&b->executor);
		fill_digest(s, &b->trace_root);
		b->n = 1u << 20;
		b->window_end_ms = rnd64();
		b->n_outputs = 2;
		fill_tensor(&b->outputs[0], 6);
		fill_tensor(&b->outputs[1], 0);
		break;
	}
	case PROTO_MSG_CHALLENGE: {
		struct proto_challenge *b = &m->u.challenge;
		fill_digest(s, &b->job_id);
		fill_key(&b->executor);
		fill_digest(s, &b->executor_root);
		fill_digest(s, &b->challenger_root);
		b->n = 99;
		b->bond = rnd64();
		break;
	}
	case PROTO_MSG_BISECT_QUERY: {
		struct proto_bisect_query *b = &m->u.bisect_query;
		fill_digest(s, &b->dispute_id);
		b->round = 3;
		b->lo = 10;
		b->hi = 90;
		b->n_sizes = 7;
		for (unsigned i = 0; i < b->n_sizes; i++) {
			b->sizes[i] = 10 + 10 * (i + 1);
		}
		b->deadline_ms = rnd64();
		break;
	}
	case PROTO_MSG_BISECT_ANSWER: {
		struct proto_bisect_answer *b = &m->u.bisect_answer;
		fill_digest(s, &b->dispute_id);
		b->round = 4;
		b->n_roots = 4;
		for (unsigned i = 0; i < b->n_roots; i++) {
			b->roots[i].size = 100 + i;
			fill_digest(s, &b->roots[i].root);
			fill_proof(s, &b->roots[i].proof, &b->roots[i].proof_len,
			    (uint8_t)(2 + i));
		}
		break;
	}
	case PROTO_MSG_REVEAL:
		build_reveal(&m->u.reveal, s);
		break;
	case PROTO_MSG_VERDICT: {
		struct proto_verdict *b = &m->u.verdict;
		fill_digest(s, &b->dispute_id);
		fill_digest(s, &b->job_id);
		fill_key(&b->executor);
		fill_key(&b->challenger);
		b->executor_won = 1;
		b->reason = PROTO_VERDICT_EQUIVOCATION;
		b->op = 12;
		b->rounds = 6;
		b->slashed = rnd64();
		b->reward = rnd64();
		b->transcript_len = 257;
		b->transcript = fill_blob(b->transcript_len);
		break;
	}
	case PROTO_MSG_EQUIVOCATION: {
		struct proto_equivocation *b = &m->u.equivocation;
		b->claim_a = encoded_claim(s, 5, &b->len_a);
		b->claim_b = encoded_claim(s, 6, &b->len_b);
		break;
	}
	case PROTO_MSG_EVENT:
		fill_event(s, &m->u.event, PROTO_EVENT_DISPUTE_OPENED);
		break;
	case PROTO_MSG_DISPUTE_FETCH:
		fill_digest(s, &m->u.dispute_fetch.dispute_id);
		break;
	case PROTO_MSG_EVENTS_FETCH:
		m->u.events_fetch.after = rnd64();
		m->u.events_fetch.max = 100;
		break;
	case PROTO_MSG_EVENTS: {
		struct proto_events *b = &m->u.events;
		b->n = 3;
		b->events = calloc(b->n, sizeof(*b->events));
		need(b->events != NULL, "calloc");
		for (unsigned i = 0; i < b->n; i++) {
			fill_event(s, &b->events[i], (uint8_t)(1 + i));
		}
		break;
	}
	case PROTO_MSG_JOB_CANCEL:
		fill_digest(s, &m->u.job_cancel.job_id);
		break;
	case PROTO_MSG_JOBS_QUERY:
		m->u.jobs_query.state = PROTO_JOB_CANCELLED;
		m->u.jobs_query.prefix_len = 5;
		memcpy(m->u.jobs_query.prefix, "\x01\x02\x03\x04\x05", 5);
		m->u.jobs_query.max = 77;
		break;
	case PROTO_MSG_JOBS_LIST: {
		struct proto_jobs_list *b = &m->u.jobs_list;
		b->cut = 1;
		b->n = 3;
		b->jobs = calloc(b->n, sizeof(*b->jobs));
		need(b->jobs != NULL, "calloc");
		for (unsigned i = 0; i < b->n; i++) {
			struct proto_job_entry *j = &b->jobs[i];
			fill_digest(s, &j->job_id);
			fill_digest(s, &j->model_id);
			fill_key(&j->client);
			fill_key(&j->executor);
			j->fee = rnd64();
			j->state = (uint8_t)(PROTO_JOB_OPEN + 2 * i + 1);
			j->created_ms = rnd64();
			j->deadline_ms = rnd64();
		}
		break;
	}
	case PROTO_MSG_DISPUTES_QUERY:
		m->u.disputes_query.state = 2;
		m->u.disputes_query.prefix_len = 3;
		memcpy(m->u.disputes_query.prefix, "\xaa\xbb\xcc", 3);
		fill_digest(s, &m->u.disputes_query.job_id);
		m->u.disputes_query.max = 9;
		break;
	case PROTO_MSG_DISPUTES_LIST: {
		struct proto_disputes_list *b = &m->u.disputes_list;
		b->cut = 0;
		b->n = 2;
		b->disputes = calloc(b->n, sizeof(*b->disputes));
		need(b->disputes != NULL, "calloc");
		for (unsigned i = 0; i < b->n; i++) {
			struct proto_dispute_entry *x = &b->disputes[i];
			fill_digest(s, &x->dispute_id);
			fill_digest(s, &x->job_id);
			fill_key(&x->executor);
			fill_key(&x->challenger);
			x->state = (uint8_t)(1 + i);
			x->executor_won = (uint8_t)i;
			x->reason = (uint8_t)(i ? PROTO_VERDICT_TIMEOUT : 0);
			x->bond = rnd64();
			x->opened_ms = rnd64();
			x->deadline_ms = rnd64();
		}
		break;
	}
	case PROTO_MSG_STATUS_QUERY:
		break;
	case PROTO_MSG_STATUS_INFO: {
		struct proto_status_info *b = &m->u.status_info;
		b->time_ms = rnd64();
		b->jobs_open = 1;
		b->claims_pending = 2;
		b->claims_final = 3;
		b->claims_invalid = 4;
		b->disputes_open = 5;
		b->disputes_closed = 6;
		b->ledger_total = rnd64();
		b->burned = rnd64();
		b->n_nodes = 5;
		b->nodes = calloc(b->n_nodes, sizeof(*b->nodes));
		need(b->nodes != NULL, "calloc");
		for (unsigned i = 0; i < b->n_nodes; i++) {
			fill_key(&b->nodes[i].key);
			b->nodes[i].roles = (uint8_t)(i % 8);
			fill_str(b->nodes[i].name, 8 * i);
			b->nodes[i].balance = rnd64();
			b->nodes[i].stake = rnd64();
		}
		break;
	}
	}
}

/* ------------------------------------------------------------------ */
/* Field-by-field comparison                                            */
/* ------------------------------------------------------------------ */

/* Digests compare whole: the decoder must zero the unused tail too. */
static bool
dig_eq(const struct proto_digest *a, const struct proto_digest *b)
{
	return memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

static bool
key_eq(const struct proto_pubkey *a, const struct proto_pubkey *b)
{
	return memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

static bool
digs_eq(const struct proto_digest *a, const struct proto_digest *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!dig_eq(&a[i], &b[i])) {
			return false;
		}
	}
	return true;
}

static bool
tensors_eq(const struct tensor *a, const struct tensor *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!engine_tensor_equal(&a[i], &b[i])) {
			return false;
		}
	}
	return true;
}

static bool
bytes_eq(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
	return na == nb && (na == 0 || memcmp(a, b, na) == 0);
}

static bool
reveal_eq(const struct proto_reveal *a, const struct proto_reveal *b)
{
	if (!dig_eq(&a->dispute_id, &b->dispute_id) || a->op != b->op ||
	    a->n_inputs != b->n_inputs || a->frontier_len != b->frontier_len) {
		return false;
	}
	for (size_t i = 0; i < a->frontier_len; i++) {
		if (!dig_eq(&a->frontier[i], &b->frontier[i])) {
			return false;
		}
	}
	for (size_t i = 0; i < a->n_inputs; i++) {
		const struct proto_reveal_input *x = &a->inputs[i];
		const struct proto_reveal_input *y = &b->inputs[i];
		if (x->src != y->src || x->leaf != y->leaf ||
		    x->output != y->output || x->n_tensors != y->n_tensors ||
		    x->proof_len != y->proof_len ||
		    !tensors_eq(x->tensors, y->tensors, x->n_tensors) ||
		    !digs_eq(x->proof, y->proof, x->proof_len)) {
			return false;
		}
	}
	return true;
}

static bool
status_eq(const struct proto_status_info *a, const struct proto_status_info *b)
{
	if (a->time_ms != b->time_ms || a->jobs_open != b->jobs_open ||
	    a->claims_pending != b->claims_pending ||
	    a->claims_final != b->claims_final ||
	    a->claims_invalid != b->claims_invalid ||
	    a->disputes_open != b->disputes_open ||
	    a->disputes_closed != b->disputes_closed ||
	    a->ledger_total != b->ledger_total || a->burned != b->burned ||
	    a->n_nodes != b->n_nodes) {
		return false;
	}
	for (size_t i = 0; i < a->n_nodes; i++) {
		const struct proto_status_node *x = &a->nodes[i];
		const struct proto_status_node *y = &b->nodes[i];
		if (!key_eq(&x->key, &y->key) || x->roles != y->roles ||
		    strcmp(x->name, y->name) != 0 || x->balance != y->balance ||
		    x->stake != y->stake) {
			return false;
		}
	}
	return true;
}

static bool
event_eq(const struct proto_event *a, const struct proto_event *b)
{
	return a->seq == b->seq && a->kind == b->kind &&
	    dig_eq(&a->job_id, &b->job_id) &&
	    dig_eq(&a->dispute_id, &b->dispute_id) &&
	    key_eq(&a->subject, &b->subject) && a->value == b->value &&
	    a->time_ms == b->time_ms;
}

static bool
body_eq(const struct adv_msg *ma, const struct adv_msg *mb)
{
	const __typeof__(ma->u) *a = &ma->u;
	const __typeof__(mb->u) *b = &mb->u;
	switch (ma->type) {
	case PROTO_MSG_ERROR:
		return a->error.code == b->error.code &&
		    strcmp(a->error.text, b->error.text) == 0;
	case PROTO_MSG_ACK:
		return a->ack.ref_seq == b->ack.ref_seq &&
		    dig_eq(&a->ack.id, &b->ack.id);
	case PROTO_MSG_NODE_REGISTER:
		return a->node_register.roles == b->node_register.roles &&
		    strcmp(a->node_register.name, b->node_register.name) == 0 &&
		    strcmp(a->node_register.endpoint,
		    b->node_register.endpoint) == 0 &&
		    a->node_register.n_models == b->node_register.n_models &&
		    digs_eq(a->node_register.models, b->node_register.models,
		    a->node_register.n_models);
	case PROTO_MSG_STAKE:
	case PROTO_MSG_UNSTAKE:
		return a->amount.amount == b->amount.amount;
	case PROTO_MSG_MODEL_REGISTER:
		return dig_eq(&a->model_register.model_id,
		    &b->model_register.model_id) &&
		    strcmp(a->model_register.name, b->model_register.name) == 0 &&
		    a->model_register.n_ops == b->model_register.n_ops &&
		    a->model_register.n_inputs == b->model_register.n_inputs &&
		    bytes_eq(a->model_register.graph, a->model_register.graph_len,
		    b->model_register.graph, b->model_register.graph_len) &&
		    a->model_register.n_leaves == b->model_register.n_leaves &&
		    a->model_register.proof_len == b->model_register.proof_len &&
		    memcmp(a->model_register.graph_proof,
		    b->model_register.graph_proof, sizeof(struct proto_digest) *
		    a->model_register.proof_len) == 0;
	case PROTO_MSG_JOB_SUBMIT:
		return dig_eq(&a->job_submit.model_id, &b->job_submit.model_id) &&
		    a->job_submit.fee == b->job_submit.fee &&
		    a->job_submit.nonce == b->job_submit.nonce &&
		    key_eq(&a->job_submit.executor, &b->job_submit.executor) &&
		    a->job_submit.n_inputs == b->job_submit.n_inputs &&
		    tensors_eq(a->job_submit.inputs, b->job_submit.inputs,
		    a->job_submit.n_inputs);
	case PROTO_MSG_JOB_FETCH:
		return dig_eq(&a->job_fetch.job_id, &b->job_fetch.job_id);
	case PROTO_MSG_JOB_INFO:
		return dig_eq(&a->job_info.job_id, &b->job_info.job_id) &&
		    dig_eq(&a->job_info.model_id, &b->job_info.model_id) &&
		    key_eq(&a->job_info.client, &b->job_info.client) &&
		    key_eq(&a->job_info.executor, &b->job_info.executor) &&
		    a->job_info.fee == b->job_info.fee &&
		    a->job_info.state == b->job_info.state &&
		    a->job_info.n_inputs == b->job_info.n_inputs &&
		    tensors_eq(a->job_info.inputs, b->job_info.inputs,
		    a->job_info.n_inputs);
	case PROTO_MSG_CLAIM:
		return dig_eq(&a->claim.job_id, &b->claim.job_id) &&
		    dig_eq(&a->claim.model_id, &b->claim.model_id) &&
		    a->claim.n_inputs == b->claim.n_inputs &&
		    digs_eq(a->claim.input_leaves, b->claim.input_leaves,
		    a->claim.n_inputs) &&
		    a->claim.n == b->claim.n &&
		    dig_eq(&a->claim.trace_root, &b->claim.trace_root) &&
		    a->claim.n_outputs == b->claim.n_outputs &&
		    tensors_eq(a->claim.outputs, b->claim.outputs,
		    a->claim.n_outputs) &&
		    a->claim.proof_len == b->claim.proof_len &&
		    digs_eq(a->claim.output_proof, b->claim.output_proof,
		    a->claim.proof_len);
	case PROTO_MSG_CLAIM_STATUS:
		return dig_eq(&a->claim_status.job_id, &b->claim_status.job_id);
	case PROTO_MSG_CLAIM_INFO:
		return dig_eq(&a->claim_info.job_id, &b->claim_info.job_id) &&
		    a->claim_info.state == b->claim_info.state &&
		    key_eq(&a->claim_info.executor, &b->claim_info.executor) &&
		    dig_eq(&a->claim_info.trace_root,
		    &b->claim_info.trace_root) &&
		    a->claim_info.n == b->claim_info.n &&
		    a->claim_info.window_end_ms == b->claim_info.window_end_ms &&
		    a->claim_info.n_outputs == b->claim_info.n_outputs &&
		    tensors_eq(a->claim_info.outputs, b->claim_info.outputs,
		    a->claim_info.n_outputs);
	case PROTO_MSG_CHALLENGE:
		return dig_eq(&a->challenge.job_id, &b->challenge.job_id) &&
		    key_eq(&a->challenge.executor, &b->challenge.executor) &&
		    dig_eq(&a->challenge.executor_root,
		    &b->challenge.executor_root) &&
		    dig_eq(&a->challenge.challenger_root,
		    &b->challenge.challenger_root) &&
		    a->challenge.n == b->challenge.n &&
		    a->challenge.bond == b->challenge.bond;
	case PROTO_MSG_BISECT_QUERY:
		return dig_eq(&a->bisect_query.dispute_id,
		    &b->bisect_query.dispute_id) &&
		    a->bisect_query.round == b->bisect_query.round &&
		    a->bisect_query.lo == b->bisect_query.lo &&
		    a->bisect_query.hi == b->bisect_query.hi &&
		    a->bisect_query.n_sizes == b->bisect_query.n_sizes &&
		    memcmp(a->bisect_query.sizes, b->bisect_query.sizes,
		    a->bisect_query.n_sizes * sizeof(uint64_t)) == 0 &&
		    a->bisect_query.deadline_ms == b->bisect_query.deadline_ms;
	case PROTO_MSG_BISECT_ANSWER:
		if (!dig_eq(&a->bisect_answer.dispute_id,
		    &b->bisect_answer.dispute_id) ||
		    a->bisect_answer.round != b->bisect_answer.round ||
		    a->bisect_answer.n_roots != b->bisect_answer.n_roots) {
			return false;
		}
		for (size_t i = 0; i < a->bisect_answer.n_roots; i++) {
			const struct proto_prefix_root *x = &a->bisect_answer.roots[i];
			const struct proto_prefix_root *y = &b->bisect_answer.roots[i];
			if (x->size != y->size || !dig_eq(&x->root, &y->root) ||
			    x->proof_len != y->proof_len ||
			    !digs_eq(x->proof, y->proof, x->proof_len)) {
				return false;
			}
		}
		return true;
	case PROTO_MSG_REVEAL:
		return reveal_eq(&a->reveal, &b->reveal);
	case PROTO_MSG_VERDICT:
		return dig_eq(&a->verdict.dispute_id, &b->verdict.dispute_id) &&
		    dig_eq(&a->verdict.job_id, &b->verdict.job_id) &&
		    key_eq(&a->verdict.executor, &b->verdict.executor) &&
		    key_eq(&a->verdict.challenger, &b->verdict.challenger) &&
		    a->verdict.executor_won == b->verdict.executor_won &&
		    a->verdict.reason == b->verdict.reason &&
		    a->verdict.op == b->verdict.op &&
		    a->verdict.rounds == b->verdict.rounds &&
		    a->verdict.slashed == b->verdict.slashed &&
		    a->verdict.reward == b->verdict.reward &&
		    bytes_eq(a->verdict.transcript, a->verdict.transcript_len,
		    b->verdict.transcript, b->verdict.transcript_len);
	case PROTO_MSG_EQUIVOCATION:
		return bytes_eq(a->equivocation.claim_a, a->equivocation.len_a,
		    b->equivocation.claim_a, b->equivocation.len_a) &&
		    bytes_eq(a->equivocation.claim_b, a->equivocation.len_b,
		    b->equivocation.claim_b, b->equivocation.len_b);
	case PROTO_MSG_EVENT:
		return event_eq(&a->event, &b->event);
	case PROTO_MSG_DISPUTE_FETCH:
		return dig_eq(&a->dispute_fetch.dispute_id,
		    &b->dispute_fetch.dispute_id);
	case PROTO_MSG_EVENTS_FETCH:
		return a->events_fetch.after == b->events_fetch.after &&
		    a->events_fetch.max == b->events_fetch.max;
	case PROTO_MSG_EVENTS:
		if (a->events.n != b->events.n) {
			return false;
		}
		for (uint32_t i = 0; i < a->events.n; i++) {
			if (!event_eq(&a->events.events[i], &b->events.events[i])) {
				return false;
			}
		}
		return true;
	case PROTO_MSG_STATUS_QUERY:
		return true;
	case PROTO_MSG_STATUS_INFO:
		return status_eq(&a->status_info, &b->status_info);
	case PROTO_MSG_JOB_CANCEL:
		return dig_eq(&a->job_cancel.job_id, &b->job_cancel.job_id);
	case PROTO_MSG_JOBS_QUERY:
		return a->jobs_query.state == b->jobs_query.state &&
		    a->jobs_query.prefix_len == b->jobs_query.prefix_len &&
		    memcmp(a->jobs_query.prefix, b->jobs_query.prefix,
		    sizeof(a->jobs_query.prefix)) == 0 &&
		    a->jobs_query.max == b->jobs_query.max;
	case PROTO_MSG_DISPUTES_QUERY:
		return a->disputes_query.state == b->disputes_query.state &&
		    a->disputes_query.prefix_len ==
		    b->disputes_query.prefix_len &&
		    memcmp(a->disputes_query.prefix, b->disputes_query.prefix,
		    sizeof(a->disputes_query.prefix)) == 0 &&
		    dig_eq(&a->disputes_query.job_id,
		    &b->disputes_query.job_id) &&
		    a->disputes_query.max == b->disputes_query.max;
	case PROTO_MSG_JOBS_LIST:
		if (a->jobs_list.cut != b->jobs_list.cut ||
		    a->jobs_list.n != b->jobs_list.n) {
			return false;
		}
		for (uint32_t i = 0; i < a->jobs_list.n; i++) {
			const struct proto_job_entry *x = &a->jobs_list.jobs[i];
			const struct proto_job_entry *y = &b->jobs_list.jobs[i];
			if (!dig_eq(&x->job_id, &y->job_id) ||
			    !dig_eq(&x->model_id, &y->model_id) ||
			    !key_eq(&x->client, &y->client) ||
			    !key_eq(&x->executor, &y->executor) ||
			    x->fee != y->fee || x->state != y->state ||
			    x->created_ms != y->created_ms ||
			    x->deadline_ms != y->deadline_ms) {
				return false;
			}
		}
		return true;
	case PROTO_MSG_DISPUTES_LIST:
		if (a->disputes_list.cut != b->disputes_list.cut ||
		    a->disputes_list.n != b->disputes_list.n) {
			return false;
		}
		for (uint32_t i = 0; i < a->disputes_list.n; i++) {
			const struct proto_dispute_entry *x =
			    &a->disputes_list.disputes[i];
			const struct proto_dispute_entry *y =
			    &b->disputes_list.disputes[i];
			if (!dig_eq(&x->dispute_id, &y->dispute_id) ||
			    !dig_eq(&x->job_id, &y->job_id) ||
			    !key_eq(&x->executor, &y->executor) ||
			    !key_eq(&x->challenger, &y->challenger) ||
			    x->state != y->state ||
			    x->executor_won != y->executor_won ||
			    x->reason != y->reason || x->bond != y->bond ||
			    x->opened_ms != y->opened_ms ||
			    x->deadline_ms != y->deadline_ms) {
				return false;
			}
		}
		return true;
	}
	return false;
}

static bool
msg_eq(const struct adv_msg *a, const struct adv_msg *b)
{
	return a->version == b->version && a->type == b->type &&
	    a->suite == b->suite && key_eq(&a->sender, &b->sender) &&
	    a->seq == b->seq && body_eq(a, b);
}

/* ------------------------------------------------------------------ */
/* Setup                                                                */
/* ------------------------------------------------------------------ */

/* Runs from the suite's init, outside any test: no CU_ASSERT here. */
static int
write_corpus(const char *dir, size_t i)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s-%s.bin", dir,
	    proto_msg_type_name(ex[i].type), proto_hash_name(ex[i].suite));
	FILE *f = fopen(path, "wb");
	if (f == NULL) {
		perror(path);
		return 1;
	}
	size_t n = fwrite(ex[i].buf, 1, ex[i].len, f);
	if (fclose(f) != 0 || n != ex[i].len) {
		perror(path);
		return 1;
	}
	return 0;
}

static int
suite_init(void)
{
	uint8_t seed[32];
	if (proto_init() != RF_OK) {
		return 1;
	}
	memset(seed, 0xa1, sizeof(seed));
	proto_identity_from_seed(&alice, seed);
	memset(seed, 0xb0, sizeof(seed));
	proto_identity_from_seed(&bob, seed);
	const char *corpus = getenv("RF_MSG_CORPUS");
	for (size_t si = 0; si < 2; si++) {
		for (size_t ti = 0; ti < N_TYPES; ti++) {
			size_t i = si * N_TYPES + ti;
			struct adv_msg m;
			build_example(&m, all_types[ti], suites[si]);
			ex[i].type = all_types[ti];
			ex[i].suite = suites[si];
			int err = adv_msg_pack(&m, &alice, &ex[i].buf,
			    &ex[i].len);
			adv_msg_free(&m);
			if (err != RF_OK) {
				fprintf(stderr, "encoding example %s failed: %s\n",
				    proto_msg_type_name(all_types[ti]),
				    rf_strerror(err));
				return 1;
			}
			if (corpus != NULL && write_corpus(corpus, i) != 0) {
				return 1;
			}
		}
	}
	return 0;
}

static int
suite_fini(void)
{
	for (size_t i = 0; i < N_EXAMPLES; i++) {
		free(ex[i].buf);
		ex[i].buf = NULL;
	}
	proto_identity_wipe(&alice);
	proto_identity_wipe(&bob);
	return 0;
}

/* Re-signs a (modified) envelope in place with id. */
static void
resign(uint8_t *buf, size_t len, const struct proto_identity *id)
{
	proto_sign(id, buf, len - PROTO_SIG_LEN, buf + len - PROTO_SIG_LEN);
}

static uint8_t *
dup_bytes(const uint8_t *p, size_t n)
{
	uint8_t *c = malloc(n);
	CU_ASSERT_FATAL(c != NULL);
	memcpy(c, p, n);
	return c;
}

/* ------------------------------------------------------------------ */
/* The typed API                                                        */
/* ------------------------------------------------------------------ */

static size_t find_example(uint8_t type, enum proto_hash s);

/* Each message is only as large as its own type: no proof is held
 * inline (the largest bodies are a job's 64 tensors), so a body fits any
 * stack frame. */
static void
test_body_sizes(void)
{
	CU_ASSERT(sizeof(struct proto_bisect_answer) <= 1024);
	CU_ASSERT(sizeof(struct proto_reveal) <= 128);
	CU_ASSERT(sizeof(struct proto_claim) <= 4096);
	CU_ASSERT(sizeof(struct proto_model_register) <= 512);
	CU_ASSERT(sizeof(struct proto_reveal_input) <= 1024);
	for (size_t i = 0; i < N_TYPES; i++) {
		size_t n = proto_msg_body_size(all_types[i]);
		CU_ASSERT(n <= sizeof(struct proto_job_info));
		CU_ASSERT((n == 0) == (all_types[i] == PROTO_MSG_STATUS_QUERY));
	}
	CU_ASSERT(sizeof(struct proto_job_info) <= 6 * 1024);
	CU_ASSERT_EQUAL(proto_msg_body_size(99), 0);
}

/* A body decoder takes its own type only (STAKE's takes UNSTAKE too),
 * refuses a buffer smaller than the type's struct, and leaves nothing
 * owned when it refuses. */
static void
test_typed_decoders(void)
{
	for (size_t i = 0; i < N_EXAMPLES; i++) {
		struct proto_env env;
		struct rf_errinfo ei = { "" };
		CU_ASSERT_FATAL(proto_msg_open(ex[i].buf, ex[i].len, &env, &ei) ==
		    RF_OK);
		CU_ASSERT_EQUAL(env.type, ex[i].type);
		CU_ASSERT_EQUAL(env.suite, ex[i].suite);
		CU_ASSERT(key_eq(&env.sender, &alice.pk));
		CU_ASSERT(env.body > ex[i].buf && env.body + env.body_len ==
		    ex[i].buf + ex[i].len - PROTO_SIG_LEN);
		/* The wrong decoder: a claim's for everything but claims. */
		struct proto_claim c;
		memset(&c, 0x5a, sizeof(c));
		int err = proto_claim_decode(&env, &c, &ei);
		if (env.type == PROTO_MSG_CLAIM) {
			CU_ASSERT_EQUAL(err, RF_OK);
			CU_ASSERT(c.proof_len == 7 && c.output_proof != NULL);
			proto_claim_free(&c);
			CU_ASSERT(c.output_proof == NULL && c.n_outputs == 0);
		} else {
			CU_ASSERT_EQUAL(err, RF_ERR_FORMAT);
			CU_ASSERT(strstr(ei.msg, "expected claim") != NULL);
			CU_ASSERT(c.output_proof == NULL && c.n_outputs == 0);
		}
		struct proto_amount am;
		err = proto_amount_decode(&env, &am, NULL);
		CU_ASSERT_EQUAL(err, env.type == PROTO_MSG_STAKE ||
		    env.type == PROTO_MSG_UNSTAKE ? RF_OK : RF_ERR_FORMAT);
		err = proto_status_query_decode(&env, NULL);
		CU_ASSERT_EQUAL(err, env.type == PROTO_MSG_STATUS_QUERY ? RF_OK :
		    RF_ERR_FORMAT);
		/* Any type into a buffer of its size, not one byte less. */
		size_t n = proto_msg_body_size(env.type);
		if (n > 0) {
			uint8_t *b = malloc(n);
			CU_ASSERT_FATAL(b != NULL);
			CU_ASSERT_EQUAL(proto_msg_body_decode(&env, b, n - 1, NULL),
			    RF_ERR_INVAL);
			CU_ASSERT_EQUAL(proto_msg_body_decode(&env, b, n, NULL),
			    RF_OK);
			proto_msg_body_free(env.type, b);
			free(b);
		}
	}
	/* A bisect_answer's proofs are allocations of their own length. */
	size_t i = find_example(PROTO_MSG_BISECT_ANSWER, PROTO_HASH_BLAKE2B);
	struct proto_env env;
	struct proto_bisect_answer a;
	CU_ASSERT_FATAL(proto_msg_open(ex[i].buf, ex[i].len, &env, NULL) ==
	    RF_OK);
	CU_ASSERT_FATAL(proto_bisect_answer_decode(&env, &a, NULL) == RF_OK);
	CU_ASSERT_EQUAL(a.n_roots, 4);
	for (unsigned k = 0; k < a.n_roots; k++) {
		CU_ASSERT_EQUAL(a.roots[k].proof_len, 2 + k);
		CU_ASSERT(a.roots[k].proof != NULL);
	}
	proto_bisect_answer_free(&a);
	proto_bisect_answer_free(&a); /* twice is harmless */
	/* A proof pointer missing its digests is refused at encode. */
	struct proto_claim c;
	memset(&c, 0, sizeof(c));
	c.proof_len = 3;
	uint8_t *buf;
	size_t len;
	CU_ASSERT_EQUAL(proto_msg_encode(PROTO_MSG_CLAIM, &c, PROTO_HASH_BLAKE2B,
	    1, &alice, &buf, &len), RF_ERR_INVAL);
	CU_ASSERT_EQUAL(proto_msg_encode(PROTO_MSG_ACK, NULL, PROTO_HASH_BLAKE2B,
	    1, &alice, &buf, &len), RF_ERR_INVAL);
	struct proto_digest path[2], *dup = NULL;
	memset(path, 7, sizeof(path));
	CU_ASSERT_EQUAL(proto_proof_dup(path, 0, &dup), RF_OK);
	CU_ASSERT(dup == NULL);
	CU_ASSERT_EQUAL(proto_proof_dup(path, MERKLE_MAX_PROOF + 1, &dup),
	    RF_ERR_RANGE);
	CU_ASSERT_EQUAL(proto_proof_dup(path, 2, &dup), RF_OK);
	CU_ASSERT(dup != NULL && memcmp(dup, path, sizeof(path)) == 0);
	free(dup);
}

/* ------------------------------------------------------------------ */
/* Allocation failures (tests/testlib.h)                                */
/* ------------------------------------------------------------------ */

struct nomem_case {
	size_t i;            /* the example */
	struct adv_msg want; /* what it decodes to */
};

/* Decodes example i's body (into a static holder: the test allocates
 * nothing itself) and checks it is the example. */
static int
decode_op(void *ctx)
{
	static struct adv_msg got;
	struct nomem_case *c = ctx;
	struct proto_env env;
	int err = proto_msg_open(ex[c->i].buf, ex[c->i].len, &env, NULL);
	if (err != RF_OK) {
		return err;
	}
	err = proto_msg_body_decode(&env, &got.u, sizeof(got.u), NULL);
	if (err != RF_OK) {
		return err;
	}
	got.type = env.type;
	bool eq = body_eq(&c->want, &got);
	adv_msg_free(&got);
	return eq ? RF_OK : TESTLIB_WRONG;
}

/*
 * Every decoder, with its 1st, 2nd, ... allocation failing (once, and
 * from then on), until it runs without a failure: each failure is
 * RF_ERR_NOMEM, nothing leaks, and a decoder that recovers decodes the
 * same body. Types whose decoding allocates nothing are checked to
 * allocate nothing.
 */
static void
test_decode_nomem(void)
{
	size_t allocating = 0, runs = 0;
	for (size_t i = 0; i < N_EXAMPLES; i++) {
		struct nomem_case c = { .i = i };
		build_example(&c.want, ex[i].type, ex[i].suite);
		testlib_alloc_fail_at(LONG_MAX, 0); /* count only */
		int err = decode_op(&c);
		long calls = testlib_alloc_calls();
		testlib_alloc_fail_off();
		CU_ASSERT_EQUAL(err, RF_OK);
		if (calls > 0) {
			allocating++;
			long n = testlib_alloc_fail_loop(decode_op, &c);
			CU_ASSERT(n >= 2 * calls);
			runs += (size_t)n;
		}
		adv_msg_free(&c.want);
	}
	/* model_register, job_submit, job_info, claim, claim_info,
	 * bisect_answer, reveal, verdict, equivocation, events,
	 * status_info, jobs_list and disputes_list allocate, in both
	 * suites; nothing else does. */
	CU_ASSERT_EQUAL(allocating, 2 * 13);
	printf("(%zu failed runs) ", runs);
}

/* ------------------------------------------------------------------ */
/* Round trips                                                          */
/* ------------------------------------------------------------------ */

static void
test_round_trip(void)
{
	size_t ok = 0;
	for (size_t i = 0; i < N_EXAMPLES; i++) {
		struct adv_msg want, got;
		struct rf_errinfo ei = { "" };
		build_example(&want, ex[i].type, ex[i].suite);
		int err = adv_msg_decode(ex[i].buf, ex[i].len, &got, &ei);
		CU_ASSERT_EQUAL(err, RF_OK);
		if (err != RF_OK) {
			printf("\n  %s: %s\n", proto_msg_type_name(ex[i].type),
			    ei.msg);
			adv_msg_free(&want);
			continue;
		}
		bool eq = msg_eq(&want, &got);
		CU_ASSERT(eq);
		if (!eq) {
			printf("\n  %s (%s): fields differ\n",
			    proto_msg_type_name(ex[i].type),
			    proto_hash_name(ex[i].suite));
		}
		uint8_t *again;
		size_t len;
		CU_ASSERT_FATAL(adv_msg_pack(&got, &alice, &again, &len) ==
		    RF_OK);
		bool same = len == ex[i].len && memcmp(again, ex[i].buf, len) == 0;
		CU_ASSERT(same);
		ok += eq && same;
		free(again);
		adv_msg_free(&want);
		adv_msg_free(&got);
		/* Freed twice is harmless, and the message can be reused. */
		adv_msg_free(&got);
	}
	CU_ASSERT_EQUAL(ok, N_EXAMPLES);
}

static void
test_digest_lengths(void)
{
	/* A suite's digests take exactly its length on the wire: the same
	 * job_fetch is 16 bytes shorter in xxh3-128. */
	size_t tf = 0;
	while (all_types[tf] != PROTO_MSG_JOB_FETCH) {
		tf++;
	}
	CU_ASSERT_EQUAL(ex[tf].len, PROTO_ENVELOPE_OVERHEAD + 32);
	CU_ASSERT_EQUAL(ex[N_TYPES + tf].len, PROTO_ENVELOPE_OVERHEAD + 16);
	/* An empty body is just the envelope. */
	size_t sq = 0;
	while (all_types[sq] != PROTO_MSG_STATUS_QUERY) {
		sq++;
	}
	CU_ASSERT_EQUAL(ex[sq].len, PROTO_ENVELOPE_OVERHEAD);
	CU_ASSERT(memcmp(ex[sq].buf, "RFTP", 4) == 0);
	CU_ASSERT_EQUAL(ex[sq].buf[4], PROTO_VERSION);
	CU_ASSERT_EQUAL(ex[sq].buf[5], PROTO_MSG_STATUS_QUERY);
	CU_ASSERT_EQUAL(ex[sq].buf[6], PROTO_HASH_BLAKE2B);
	CU_ASSERT_EQUAL(ex[sq].buf[7], 0);
	CU_ASSERT(memcmp(ex[sq].buf + 8, alice.pk.b, 32) == 0);
}

/* ------------------------------------------------------------------ */
/* Truncation and corruption                                            */
/* ------------------------------------------------------------------ */

static void
test_truncations(void)
{
	struct adv_msg m, sentinel;
	memset(&sentinel, 0x5a, sizeof(sentinel));
	size_t accepted = 0, wrong_code = 0, touched = 0, tried = 0;
	for (size_t i = 0; i < N_EXAMPLES; i++) {
		for (size_t n = 0; n < ex[i].len; n++) {
			/* A copy of exactly n bytes, so ASan sees any read past
			 * the end. */
			uint8_t *p = dup_bytes(ex[i].buf, n ? n : 1);
			memcpy(&m, &sentinel, sizeof(m));
			int err = adv_msg_decode(p, n, &m, NULL);
			tried++;
			if (err == RF_OK) {
				accepted++;
				adv_msg_free(&m);
			} else {
				wrong_code += err != RF_ERR_TRUNCATED;
				touched += memcmp(&m, &sentinel, sizeof(m)) != 0;
			}
			free(p);
		}
	}
	CU_ASSERT(tried > 10000);
	CU_ASSERT_EQUAL(accepted, 0);
	CU_ASSERT_EQUAL(wrong_code, 0);
	printf("(%zu prefixes) ", tried);
	CU_ASSERT_EQUAL(touched, 0);
}

static void
test_corruptions(void)
{
	static const uint8_t patterns[] = { 0x01, 0x80, 0xff };
	size_t accepted = 0, tried = 0;
	for (size_t i = 0; i < N_EXAMPLES; i++) {
		uint8_t *p = dup_bytes(ex[i].buf, ex[i].len);
		for (size_t pos = 0; pos < ex[i].len; pos++) {
			for (size_t k = 0; k < sizeof(patterns); k++) {
				struct adv_msg m;
				p[pos] ^= patterns[k];
				int err = adv_msg_decode(p, ex[i].len, &m, NULL);
				p[pos] ^= patterns[k];
				tried++;
				if (err == RF_OK) {
					accepted++;
					adv_msg_free(&m);
				}
			}
		}
		free(p);
	}
	CU_ASSERT(tried > 30000);
	CU_ASSERT_EQUAL(accepted, 0);
	printf("(%zu corruptions, %zu accepted) ", tried, accepted);
}

/*
 * The signer corrupts its own body: the codec must refuse it, or decode
 * something that encodes back to exactly these bytes. Anything else would
 * mean two encodings of one message, or fields the encoder cannot write.
 */
static void
test_resigned_corruptions(void)
{
	static const uint8_t patterns[] = { 0x01, 0xff };
	size_t accepted = 0, noncanonical = 0, tried = 0;
	for (size_t i = 0; i < N_EXAMPLES; i++) {
		uint8_t *p = dup_bytes(ex[i].buf, ex[i].len);
		size_t body_end = ex[i].len - PROTO_SIG_LEN;
		/* From the body length on: the fixed fields before it have
		 * their own tests. */
		for (size_t pos = 48; pos < body_end; pos++) {
			for (size_t k = 0; k < sizeof(patterns); k++) {
				struct adv_msg m;
				p[pos] ^= patterns[k];
				resign(p, ex[i].len, &alice);
				int err = adv_msg_decode(p, ex[i].len, &m, NULL);
				tried++;
				if (err == RF_OK) {
					uint8_t *again;
					size_t len;
					accepted++;
					if (adv_msg_pack(&m, &alice, &again,
					    &len) != RF_OK) {
						noncanonical++;
					} else {
						noncanonical += len != ex[i].len ||
						    memcmp(again, p, len) != 0;
						free(again);
					}
					adv_msg_free(&m);
				}
				p[pos] ^= patterns[k];
			}
		}
		free(p);
	}
	CU_ASSERT(tried > 10000);
	/* Most single-byte changes in a body hit a plain value and decode. */
	CU_ASSERT(accepted > tried / 4);
	CU_ASSERT_EQUAL(noncanonical, 0);
	printf("(%zu re-signed, %zu decoded, %zu not canonical) ", tried,
	    accepted, noncanonical);
}

/* ------------------------------------------------------------------ */
/* Envelope fields                                                      */
/* ------------------------------------------------------------------ */

/* Decodes buf expecting err; checks ei names what, *m is untouched. */
static void
expect_fail(const uint8_t *buf, size_t len, int want, const char *what,
    const char *label)
{
	struct adv_msg m, sentinel;
	struct rf_errinfo ei = { "" };
	memset(&sentinel, 0x33, sizeof(sentinel));
	memcpy(&m, &sentinel, sizeof(m));
	int err = adv_msg_decode(buf, len, &m, &ei);
	bool named = strstr(ei.msg, what) != NULL;
	CU_ASSERT_EQUAL(err, want);
	CU_ASSERT(named);
	if (err != want || !named) {
		printf("\n  %s: got %s (%d) '%s', want %s and '%s'\n", label,
		    rf_strerror(err), err, ei.msg, rf_strerror(want), what);
	}
	if (err == RF_OK) {
		adv_msg_free(&m);
	} else {
		CU_ASSERT(memcmp(&m, &sentinel, sizeof(m)) == 0);
	}
}

static size_t
find_example(uint8_t type, enum proto_hash s)
{
	for (size_t i = 0; i < N_EXAMPLES; i++) {
		if (ex[i].type == type && ex[i].suite == s) {
			return i;
		}
	}
	CU_FAIL_FATAL("no such example");
	return 0;
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
	}
}

static void
test_envelope_fields(void)
{
	size_t i = find_example(PROTO_MSG_CLAIM, PROTO_HASH_BLAKE2B);
	size_t n = ex[i].len;
	uint8_t *p = dup_bytes(ex[i].buf, n);

	p[4] = 2;
	resign(p, n, &alice);
	expect_fail(p, n, RF_ERR_VERSION, "protocol version 2", "version");
	p[4] = PROTO_VERSION;

	p[5] = 77;
	resign(p, n, &alice);
	expect_fail(p, n, RF_ERR_VERSION, "unknown message type 77", "type");
	p[5] = 0;
	resign(p, n, &alice);
	expect_fail(p, n, RF_ERR_VERSION, "unknown message type 0", "type 0");
	p[5] = PROTO_MSG_CLAIM;

	p[6] = 4;
	resign(p, n, &alice);
	expect_fail(p, n, RF_ERR_VERSION, "hash suite 4", "suite");
	p[6] = 0;
	resign(p, n, &alice);
	expect_fail(p, n, RF_ERR_VERSION, "hash suite 0", "suite 0");
	p[6] = PROTO_HASH_BLAKE2B;

	p[7] = 0x80;
	resign(p, n, &alice);
	expect_fail(p, n, RF_ERR_FORMAT, "flags 0x80", "flags");
	p[7] = 0;

	p[0] = 'X';
	resign(p, n, &alice);
	expect_fail(p, n, RF_ERR_FORMAT, "magic", "magic");
	p[0] = 'R';

	/* Body length: over the limit, one short, one long. */
	uint32_t body = (uint32_t)(n - PROTO_ENVELOPE_OVERHEAD);
	put_le32(p + 48, (uint32_t)PROTO_MAX_BODY + 1);
	expect_fail(p, n, RF_ERR_RANGE, "over the limit", "body length");
	put_le32(p + 48, body + 1);
	expect_fail(p, n, RF_ERR_TRUNCATED, "promises", "body length + 1");
	put_le32(p + 48, body - 1);
	expect_fail(p, n, RF_ERR_FORMAT, "after the signature",
	    "body length - 1");
	put_le32(p + 48, body);
	resign(p, n, &alice);
	expect_fail(p, n, RF_OK, "", "restored");

	/* Bytes after the signature. */
	uint8_t *longer = malloc(n + 1);
	CU_ASSERT_FATAL(longer != NULL);
	memcpy(longer, p, n);
	longer[n] = 0;
	expect_fail(longer, n + 1, RF_ERR_FORMAT, "after the signature",
	    "trailing byte");
	free(longer);

	/* A signature by alice on a message claiming to be from bob. */
	memcpy(p + 8, bob.pk.b, PROTO_KEY_LEN);
	resign(p, n, &alice);
	expect_fail(p, n, RF_ERR_CRYPTO, "signature", "wrong sender");
	/* Bob's own signature over the same bytes is fine. */
	resign(p, n, &bob);
	expect_fail(p, n, RF_OK, "", "bob signs");
	/* A flipped signature bit. */
	p[n - 1] ^= 0x40;
	expect_fail(p, n, RF_ERR_CRYPTO, "signature", "flipped signature");
	free(p);

	expect_fail(NULL, 0, RF_ERR_TRUNCATED, "shorter", "NULL");
	expect_fail((const uint8_t *)"RF", 2, RF_ERR_TRUNCATED, "shorter",
	    "two bytes");
}

/* ------------------------------------------------------------------ */
/* Crafted bodies at decode                                             */
/* ------------------------------------------------------------------ */

/* Wraps body in an envelope signed by alice. */
static void
envelope(uint8_t type, enum proto_hash s, const uint8_t *body, size_t blen,
    uint8_t **out, size_t *out_len)
{
	size_t n = HDR + blen + PROTO_SIG_LEN;
	uint8_t *p = calloc(1, n);
	CU_ASSERT_FATAL(p != NULL);
	memcpy(p, "RFTP", 4);
	p[4] = PROTO_VERSION;
	p[5] = type;
	p[6] = (uint8_t)s;
	p[7] = 0;
	memcpy(p + 8, alice.pk.b, PROTO_KEY_LEN);
	for (int i = 0; i < 8; i++) {
		p[40 + i] = (uint8_t)((uint64_t)77 >> (8 * i));
	}
	put_le32(p + 48, (uint32_t)blen);
	if (blen > 0) {
		memcpy(p + HDR, body, blen);
	}
	resign(p, n, &alice);
	*out = p;
	*out_len = n;
}

/* Finishes w as a body of type (blake2b), signs it and expects err. */
static void
expect_body(uint8_t type, struct rf_writer *w, int want, const char *what,
    const char *label)
{
	uint8_t *body, *buf;
	size_t blen, len;
	CU_ASSERT_FATAL(rf_writer_finish(w, &body, &blen) == RF_OK);
	envelope(type, PROTO_HASH_BLAKE2B, body, blen, &buf, &len);
	expect_fail(buf, len, want, what, label);
	free(body);
	free(buf);
}

static struct rf_writer
body_start(void)
{
	struct rf_writer w;
	rf_writer_init(&w, PROTO_MAX_MESSAGE);
	return w;
}

static void
w_fill(struct rf_writer *w, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++) {
		rf_write_u8(w, v);
	}
}

static void
w_digest(struct rf_writer *w)
{
	w_fill(w, 32, 0xd1);
}

static void
w_key(struct rf_writer *w)
{
	w_fill(w, PROTO_KEY_LEN, 0x4b);
}

static void
w_str(struct rf_writer *w, size_t n, char c)
{
	rf_write_u16(w, (uint16_t)n);
	w_fill(w, n, (uint8_t)c);
}

static void
test_decode_limits_small(void)
{
	struct rf_writer w;

	/* error */
	w = body_start();
	rf_write_u32(&w, 0);
	w_str(&w, 3, 'x');
	expect_body(PROTO_MSG_ERROR, &w, RF_ERR_FORMAT, "code 0", "code 0");
	w = body_start();
	rf_write_u32(&w, 13);
	w_str(&w, 3, 'x');
	expect_body(PROTO_MSG_ERROR, &w, RF_ERR_FORMAT, "code 13", "code 13");
	w = body_start();
	rf_write_u32(&w, PROTO_ERR_HALTED);
	w_str(&w, 3, 'x');
	expect_body(PROTO_MSG_ERROR, &w, RF_OK, "", "code 12 (halted)");
	w = body_start();
	rf_write_u32(&w, 1);
	w_str(&w, PROTO_MAX_TEXT + 1, 'x');
	expect_body(PROTO_MSG_ERROR, &w, RF_ERR_RANGE, "text has 257 bytes",
	    "text 257");
	w = body_start();
	rf_write_u32(&w, 1);
	w_str(&w, PROTO_MAX_TEXT, 'x');
	expect_body(PROTO_MSG_ERROR, &w, RF_OK, "", "text 256");
	w = body_start();
	rf_write_u32(&w, 1);
	rf_write_u16(&w, 3);
	rf_write_bytes(&w, "a\0b", 3);
	expect_body(PROTO_MSG_ERROR, &w, RF_ERR_FORMAT, "NUL", "NUL in text");
	w = body_start();
	rf_write_u32(&w, 1);
	rf_write_u16(&w, 10);
	rf_write_bytes(&w, "abc", 3);
	expect_body(PROTO_MSG_ERROR, &w, RF_ERR_TRUNCATED, "ends inside text",
	    "short text");

	/* node_register */
	w = body_start();
	rf_write_u8(&w, 8);
	w_str(&w, 1, 'n');
	w_str(&w, 0, 0);
	rf_write_u8(&w, 0);
	expect_body(PROTO_MSG_NODE_REGISTER, &w, RF_ERR_FORMAT, "roles",
	    "roles 8");
	w = body_start();
	rf_write_u8(&w, 7);
	w_str(&w, PROTO_MAX_NAME + 1, 'n');
	w_str(&w, 0, 0);
	rf_write_u8(&w, 0);
	expect_body(PROTO_MSG_NODE_REGISTER, &w, RF_ERR_RANGE, "name has 65",
	    "name 65");
	w = body_start();
	rf_write_u8(&w, 7);
	w_str(&w, 1, 'n');
	w_str(&w, PROTO_MAX_TEXT + 1, 'e');
	rf_write_u8(&w, 0);
	expect_body(PROTO_MSG_NODE_REGISTER, &w, RF_ERR_RANGE, "endpoint",
	    "endpoint 257");
	w = body_start();
	rf_write_u8(&w, 7);
	w_str(&w, 1, 'n');
	w_str(&w, 0, 0);
	rf_write_u8(&w, PROTO_MAX_MODELS + 1);
	for (int i = 0; i < PROTO_MAX_MODELS + 1; i++) {
		w_digest(&w);
	}
	expect_body(PROTO_MSG_NODE_REGISTER, &w, RF_ERR_RANGE, "17 models",
	    "17 models");

	/* model_register */
	w = body_start();
	w_digest(&w);
	w_str(&w, 2, 'm');
	rf_write_u32(&w, 1);
	rf_write_u32(&w, 1);
	rf_write_u32(&w, (uint32_t)PROTO_MAX_GRAPH + 1);
	expect_body(PROTO_MSG_MODEL_REGISTER, &w, RF_ERR_RANGE,
	    "graph has 16777217 bytes", "graph over the limit");
	w = body_start();
	w_digest(&w);
	w_str(&w, 2, 'm');
	rf_write_u32(&w, 1);
	rf_write_u32(&w, 1);
	rf_write_u32(&w, 100);
	w_fill(&w, 10, 1);
	expect_body(PROTO_MSG_MODEL_REGISTER, &w, RF_ERR_TRUNCATED,
	    "ends inside graph", "graph past the body");
	w = body_start();
	w_digest(&w);
	w_str(&w, 2, 'm');
	rf_write_u32(&w, ENGINE_MAX_OPS + 1);
	rf_write_u32(&w, 1);
	rf_write_u32(&w, 0);
	expect_body(PROTO_MSG_MODEL_REGISTER, &w, RF_ERR_RANGE, "n_ops",
	    "n_ops");
	w = body_start();
	w_digest(&w);
	w_str(&w, 2, 'm');
	rf_write_u32(&w, 1);
	rf_write_u32(&w, ENGINE_MAX_GRAPH_IO + 1);
	rf_write_u32(&w, 0);
	expect_body(PROTO_MSG_MODEL_REGISTER, &w, RF_ERR_RANGE, "n_inputs",
	    "n_inputs");

	/* job_info state, event kind, verdict reason and winner */
	for (int state = 0; state <= 7; state += 7) {
		w = body_start();
		w_digest(&w);
		w_digest(&w);
		w_key(&w);
		w_key(&w);
		rf_write_u64(&w, 5);
		rf_write_u8(&w, (uint8_t)state);
		rf_write_u8(&w, 0);
		expect_body(PROTO_MSG_JOB_INFO, &w, RF_ERR_FORMAT, "state",
		    "job state");
	}
	for (int kind = 0; kind <= PROTO_EVENT_DISPUTE_MOVE + 1;
	    kind += PROTO_EVENT_DISPUTE_MOVE + 1) {
		w = body_start();
		rf_write_u64(&w, 7); /* seq */
		rf_write_u8(&w, (uint8_t)kind);
		w_digest(&w);
		w_digest(&w);
		w_key(&w);
		rf_write_u64(&w, 1);
		rf_write_u64(&w, 2);
		expect_body(PROTO_MSG_EVENT, &w, RF_ERR_FORMAT, "kind",
		    "event kind");
	}
	for (int c = 0; c < 3; c++) {
		w = body_start();
		w_digest(&w);
		w_digest(&w);
		w_key(&w);
		w_key(&w);
		rf_write_u8(&w, c == 0 ? 2 : 1);
		rf_write_u8(&w, c == 1 ? 0 : c == 2 ? 6 : 1);
		rf_write_u32(&w, 0);
		rf_write_u32(&w, 0);
		rf_write_u64(&w, 0);
		rf_write_u64(&w, 0);
		rf_write_u32(&w, 0);
		expect_body(PROTO_MSG_VERDICT, &w, RF_ERR_FORMAT,
		    c == 0 ? "executor_won 2" : "reason", "verdict enums");
	}
	w = body_start();
	w_digest(&w);
	w_digest(&w);
	w_key(&w);
	w_key(&w);
	rf_write_u8(&w, 0);
	rf_write_u8(&w, 1);
	rf_write_u32(&w, 0);
	rf_write_u32(&w, 0);
	rf_write_u64(&w, 0);
	rf_write_u64(&w, 0);
	rf_write_u32(&w, (uint32_t)PROTO_MAX_TRANSCRIPT + 1);
	expect_body(PROTO_MSG_VERDICT, &w, RF_ERR_RANGE, "transcript",
	    "transcript over the limit");

	/* claim, bisect counts */
	w = body_start();
	w_digest(&w);
	w_digest(&w);
	rf_write_u8(&w, PROTO_MAX_TENSORS + 1);
	expect_body(PROTO_MSG_CLAIM, &w, RF_ERR_RANGE, "65 input_leaves",
	    "claim inputs");
	w = body_start();
	w_digest(&w);
	w_digest(&w);
	rf_write_u8(&w, 0);
	rf_write_u32(&w, 1);
	w_digest(&w);
	rf_write_u8(&w, PROTO_MAX_ENTRY_TENSORS + 1);
	expect_body(PROTO_MSG_CLAIM, &w, RF_ERR_RANGE, "9 outputs",
	    "claim outputs");
	w = body_start();
	w_digest(&w);
	w_digest(&w);
	rf_write_u8(&w, 0);
	rf_write_u32(&w, 1);
	w_digest(&w);
	rf_write_u8(&w, 0);
	rf_write_u8(&w, MERKLE_MAX_PROOF + 1);
	expect_body(PROTO_MSG_CLAIM, &w, RF_ERR_RANGE, "65 output_proof",
	    "claim proof");
	w = body_start();
	w_digest(&w);
	rf_write_u32(&w, 1);
	rf_write_u64(&w, 1);
	rf_write_u64(&w, 2);
	rf_write_u8(&w, PROTO_MAX_ARITY);
	expect_body(PROTO_MSG_BISECT_QUERY, &w, RF_ERR_RANGE, "16 sizes",
	    "sizes");
	w = body_start();
	w_digest(&w);
	rf_write_u32(&w, 1);
	rf_write_u8(&w, PROTO_MAX_ARITY);
	expect_body(PROTO_MSG_BISECT_ANSWER, &w, RF_ERR_RANGE, "16 roots",
	    "roots");

	/* equivocation */
	w = body_start();
	rf_write_u32(&w, (uint32_t)PROTO_MAX_MESSAGE + 1);
	expect_body(PROTO_MSG_EQUIVOCATION, &w, RF_ERR_RANGE, "claim_a",
	    "claim_a over the limit");
	w = body_start();
	rf_write_u32(&w, 0);
	rf_write_u32(&w, 1000);
	w_fill(&w, 999, 7);
	expect_body(PROTO_MSG_EQUIVOCATION, &w, RF_ERR_TRUNCATED, "claim_b",
	    "claim_b short");

	/* Left-over bytes, and a body read with the wrong digest size. */
	w = body_start();
	rf_write_u8(&w, 0);
	expect_body(PROTO_MSG_STATUS_QUERY, &w, RF_ERR_FORMAT,
	    "1 unexpected bytes", "status_query body");
	w = body_start();
	rf_write_u64(&w, 5);
	rf_write_u8(&w, 0);
	expect_body(PROTO_MSG_STAKE, &w, RF_ERR_FORMAT, "unexpected bytes",
	    "stake + 1");
	w = body_start();
	rf_write_u64(&w, 5);
	w_fill(&w, 16, 1);
	{
		uint8_t *body, *buf;
		size_t blen, len;
		CU_ASSERT_FATAL(rf_writer_finish(&w, &body, &blen) == RF_OK);
		envelope(PROTO_MSG_ACK, PROTO_HASH_XXH3, body, blen, &buf, &len);
		expect_fail(buf, len, RF_OK, "", "xxh3 ack");
		free(buf);
		envelope(PROTO_MSG_ACK, PROTO_HASH_BLAKE2B, body, blen, &buf,
		    &len);
		expect_fail(buf, len, RF_ERR_TRUNCATED, "ends inside id",
		    "blake2b ack with a 16-byte id");
		free(buf);
		free(body);
	}
}

/* A job_submit body with one tensor written by put_tensor. */
static void
tensor_case(void (*put_tensor)(struct rf_writer *), int want,
    const char *what, const char *label)
{
	struct rf_writer w = body_start();
	w_digest(&w);
	rf_write_u64(&w, 1);
	rf_write_u64(&w, 2);
	w_key(&w);
	rf_write_u8(&w, 1);
	put_tensor(&w);
	expect_body(PROTO_MSG_JOB_SUBMIT, &w, want, what, label);
}

static void
t_bad_dtype(struct rf_writer *w)
{
	rf_write_u8(w, 5);
	rf_write_u8(w, 0);
	rf_write_u32(w, 0);
}

static void
t_bad_dtype0(struct rf_writer *w)
{
	rf_write_u8(w, 0);
	rf_write_u8(w, 0);
	rf_write_u32(w, 0);
}

static void
t_rank7(struct rf_writer *w)
{
	rf_write_u8(w, TENSOR_I8);
	rf_write_u8(w, 7);
	for (int i = 0; i < 7; i++) {
		rf_write_u64(w, 1);
	}
	rf_write_u8(w, 0);
}

static void
t_huge_dim(struct rf_writer *w)
{
	rf_write_u8(w, TENSOR_I8);
	rf_write_u8(w, 1);
	rf_write_u64(w, (uint64_t)TENSOR_MAX_DIM + 1);
}

static void
t_negative_dim(struct rf_writer *w)
{
	rf_write_u8(w, TENSOR_I8);
	rf_write_u8(w, 1);
	rf_write_u64(w, UINT64_MAX);
}

static void
t_too_many_elems(struct rf_writer *w)
{
	rf_write_u8(w, TENSOR_I8);
	rf_write_u8(w, 2);
	rf_write_u64(w, 1u << 16);
	rf_write_u64(w, 1u << 15);
}

static void
t_short_data(struct rf_writer *w)
{
	/* 2^30 f32 elements promised (4 GiB): refused before any
	 * allocation because the body holds 8 bytes. */
	rf_write_u8(w, TENSOR_F32);
	rf_write_u8(w, 2);
	rf_write_u64(w, 1u << 15);
	rf_write_u64(w, 1u << 15);
	rf_write_u64(w, 0);
}

static void
t_exact(struct rf_writer *w)
{
	rf_write_u8(w, TENSOR_I32);
	rf_write_u8(w, 2);
	rf_write_u64(w, 1);
	rf_write_u64(w, 2);
	rf_write_u64(w, 0x1122334455667788ull);
}

static void
t_empty(struct rf_writer *w)
{
	rf_write_u8(w, TENSOR_F32);
	rf_write_u8(w, 3);
	rf_write_u64(w, 4);
	rf_write_u64(w, 0);
	rf_write_u64(w, (uint64_t)TENSOR_MAX_DIM);
}

static void
test_decode_tensors(void)
{
	tensor_case(t_bad_dtype, RF_ERR_FORMAT, "unknown dtype 5", "dtype 5");
	tensor_case(t_bad_dtype0, RF_ERR_FORMAT, "unknown dtype 0", "dtype 0");
	tensor_case(t_rank7, RF_ERR_RANGE, "rank 7", "rank 7");
	tensor_case(t_huge_dim, RF_ERR_RANGE, "dimension 0", "huge dim");
	tensor_case(t_negative_dim, RF_ERR_RANGE, "dimension 0", "u64 max dim");
	tensor_case(t_too_many_elems, RF_ERR_RANGE, "elements", "2^31 elems");
	tensor_case(t_short_data, RF_ERR_TRUNCATED, "needs 4294967296 bytes",
	    "4 GiB promised");
	tensor_case(t_exact, RF_OK, "", "i32[1,2]");
	tensor_case(t_empty, RF_OK, "", "empty tensor, huge dim");

	struct rf_writer w = body_start();
	w_digest(&w);
	rf_write_u64(&w, 1);
	rf_write_u64(&w, 2);
	w_key(&w);
	rf_write_u8(&w, PROTO_MAX_TENSORS + 1);
	expect_body(PROTO_MSG_JOB_SUBMIT, &w, RF_ERR_RANGE, "65 inputs",
	    "65 inputs");
}

/* A reveal body with one input written by put_input. */
static void
reveal_case(uint8_t n_inputs, void (*put_input)(struct rf_writer *), int want,
    const char *what, const char *label)
{
	struct rf_writer w = body_start();
	w_digest(&w);
	rf_write_u32(&w, 3);
	rf_write_u8(&w, n_inputs);
	put_input(&w);
	if (n_inputs == 1) {
		rf_write_u8(&w, 0); /* an empty frontier ends the body */
	}
	expect_body(PROTO_MSG_REVEAL, &w, want, what, label);
}

static void
w_i8_scalar(struct rf_writer *w)
{
	rf_write_u8(w, TENSOR_I8);
	rf_write_u8(w, 0);
	rf_write_u8(w, 0x2a);
}

static void
r_absent(struct rf_writer *w)
{
	rf_write_u8(w, PROTO_REVEAL_ABSENT);
}

static void
r_src3(struct rf_writer *w)
{
	rf_write_u8(w, 3);
}

static void
r_weight2(struct rf_writer *w)
{
	rf_write_u8(w, PROTO_REVEAL_WEIGHT);
	rf_write_u32(w, 1);
	rf_write_u8(w, 0);
	rf_write_u8(w, 2);
	w_i8_scalar(w);
	w_i8_scalar(w);
	rf_write_u8(w, 0);
}

static void
r_output_out_of_range(struct rf_writer *w)
{
	rf_write_u8(w, PROTO_REVEAL_TRACE);
	rf_write_u32(w, 1);
	rf_write_u8(w, 1);
	rf_write_u8(w, 1);
	w_i8_scalar(w);
	rf_write_u8(w, 0);
}

static void
r_no_tensors(struct rf_writer *w)
{
	rf_write_u8(w, PROTO_REVEAL_TRACE);
	rf_write_u32(w, 1);
	rf_write_u8(w, 0);
	rf_write_u8(w, 0);
	rf_write_u8(w, 0);
}

static void
r_nine_tensors(struct rf_writer *w)
{
	rf_write_u8(w, PROTO_REVEAL_TRACE);
	rf_write_u32(w, 1);
	rf_write_u8(w, 0);
	rf_write_u8(w, 9);
}

static void
r_proof65(struct rf_writer *w)
{
	rf_write_u8(w, PROTO_REVEAL_WEIGHT);
	rf_write_u32(w, 1);
	rf_write_u8(w, 0);
	rf_write_u8(w, 1);
	w_i8_scalar(w);
	rf_write_u8(w, MERKLE_MAX_PROOF + 1);
}

static void
r_good_weight(struct rf_writer *w)
{
	rf_write_u8(w, PROTO_REVEAL_WEIGHT);
	rf_write_u32(w, 1);
	rf_write_u8(w, 0);
	rf_write_u8(w, 1);
	w_i8_scalar(w);
	rf_write_u8(w, 1);
	w_digest(w);
}

static void
r_absent_then_junk(struct rf_writer *w)
{
	/* An absent input carries nothing: after the frontier, what follows
	 * is left over. */
	rf_write_u8(w, PROTO_REVEAL_ABSENT);
	rf_write_u8(w, 0);
	rf_write_u32(w, 1);
}

static void
test_decode_reveal(void)
{
	reveal_case(1, r_absent, RF_OK, "", "one absent input");
	reveal_case(1, r_good_weight, RF_OK, "", "one weight");
	reveal_case(1, r_src3, RF_ERR_FORMAT, "src 3", "src 3");
	reveal_case(1, r_weight2, RF_ERR_FORMAT, "2 tensors for a weight",
	    "weight with 2 tensors");
	reveal_case(1, r_output_out_of_range, RF_ERR_FORMAT, "output 1 of 1",
	    "output past the tensors");
	reveal_case(1, r_no_tensors, RF_ERR_FORMAT, "0 tensors", "no tensors");
	reveal_case(1, r_nine_tensors, RF_ERR_RANGE, "9 inputs[0].tensors",
	    "nine tensors");
	reveal_case(1, r_proof65, RF_ERR_RANGE, "65 inputs[0].proof",
	    "proof 65");
	reveal_case(1, r_absent_then_junk, RF_ERR_FORMAT, "unexpected bytes",
	    "absent then junk");
	reveal_case(ENGINE_MAX_OP_INPUTS + 1, r_absent, RF_ERR_RANGE,
	    "65 inputs", "65 inputs");
	/* 64 inputs announced, one byte there: refused before allocating. */
	reveal_case(ENGINE_MAX_OP_INPUTS, r_absent, RF_ERR_TRUNCATED,
	    "64 inputs in 1 bytes", "64 inputs, 1 byte");
	reveal_case(2, r_absent, RF_ERR_TRUNCATED, "2 inputs in 1 bytes",
	    "2 inputs, 1 byte");
	reveal_case(2, r_good_weight, RF_ERR_TRUNCATED,
	    "ends inside inputs[1].src", "second input missing");
}

static void
status_head(struct rf_writer *w, uint32_t n_nodes)
{
	rf_write_u64(w, 1);
	for (int i = 0; i < 6; i++) {
		rf_write_u32(w, (uint32_t)i);
	}
	rf_write_u64(w, 2);
	rf_write_u64(w, 3);
	rf_write_u32(w, n_nodes);
}

static void
status_node(struct rf_writer *w, uint8_t roles)
{
	w_key(w);
	rf_write_u8(w, roles);
	w_str(w, 4, 'q');
	rf_write_u64(w, 5);
	rf_write_u64(w, 6);
}

static void
test_decode_status(void)
{
	struct rf_writer w = body_start();
	status_head(&w, PROTO_MAX_STATUS_NODES + 1);
	expect_body(PROTO_MSG_STATUS_INFO, &w, RF_ERR_RANGE, "1025 nodes",
	    "1025 nodes");
	w = body_start();
	status_head(&w, 1000);
	status_node(&w, 1);
	expect_body(PROTO_MSG_STATUS_INFO, &w, RF_ERR_TRUNCATED, "1000 nodes",
	    "1000 nodes, one there");
	w = body_start();
	status_head(&w, 2);
	status_node(&w, 1);
	status_node(&w, 9);
	expect_body(PROTO_MSG_STATUS_INFO, &w, RF_ERR_FORMAT,
	    "nodes[1].roles 0x09", "node roles 9");
	w = body_start();
	status_head(&w, 2);
	status_node(&w, 1);
	status_node(&w, 7);
	expect_body(PROTO_MSG_STATUS_INFO, &w, RF_OK, "", "two nodes");
	/* The full limit decodes. */
	w = body_start();
	status_head(&w, PROTO_MAX_STATUS_NODES);
	for (int i = 0; i < PROTO_MAX_STATUS_NODES; i++) {
		status_node(&w, (uint8_t)(i % 8));
	}
	expect_body(PROTO_MSG_STATUS_INFO, &w, RF_OK, "", "1024 nodes");
}

static void
job_entry(struct rf_writer *w, uint8_t state)
{
	w_digest(w);
	w_digest(w);
	w_key(w);
	w_key(w);
	rf_write_u64(w, 5);
	rf_write_u8(w, state);
	rf_write_u64(w, 6);
	rf_write_u64(w, 7);
}

/* Job and dispute lists and their queries: limits before allocation,
 * prefixes no longer than a digest, enumerations refused outside their
 * set. */
static void
test_decode_lists(void)
{
	struct rf_writer w = body_start();
	rf_write_u8(&w, 0);
	rf_write_u32(&w, PROTO_MAX_LIST + 1);
	expect_body(PROTO_MSG_JOBS_LIST, &w, RF_ERR_RANGE, "257 jobs",
	    "257 jobs");
	w = body_start();
	rf_write_u8(&w, 0);
	rf_write_u32(&w, 200);
	job_entry(&w, 1);
	expect_body(PROTO_MSG_JOBS_LIST, &w, RF_ERR_TRUNCATED, "200 jobs",
	    "200 jobs, one there");
	w = body_start();
	rf_write_u8(&w, 2);
	rf_write_u32(&w, 0);
	expect_body(PROTO_MSG_JOBS_LIST, &w, RF_ERR_FORMAT, "cut", "cut 2");
	w = body_start();
	rf_write_u8(&w, 1);
	rf_write_u32(&w, 2);
	job_entry(&w, PROTO_JOB_CANCELLED);
	job_entry(&w, 7);
	expect_body(PROTO_MSG_JOBS_LIST, &w, RF_ERR_FORMAT, "jobs[].state",
	    "job state 7");
	w = body_start();
	rf_write_u8(&w, 1);
	rf_write_u32(&w, 2);
	job_entry(&w, PROTO_JOB_CANCELLED);
	job_entry(&w, PROTO_JOB_OPEN);
	expect_body(PROTO_MSG_JOBS_LIST, &w, RF_OK, "", "two jobs");

	w = body_start();
	rf_write_u8(&w, 0);
	rf_write_u8(&w, 33);
	w_fill(&w, 33, 1);
	rf_write_u32(&w, 0);
	expect_body(PROTO_MSG_JOBS_QUERY, &w, RF_ERR_RANGE, "prefix",
	    "a 33-byte prefix");
	w = body_start();
	rf_write_u8(&w, PROTO_JOB_STATE_LAST + 1);
	rf_write_u8(&w, 0);
	rf_write_u32(&w, 0);
	expect_body(PROTO_MSG_JOBS_QUERY, &w, RF_ERR_FORMAT, "state",
	    "query state 7");
	w = body_start();
	rf_write_u8(&w, 3);
	rf_write_u8(&w, 0);
	w_digest(&w);
	rf_write_u32(&w, 0);
	expect_body(PROTO_MSG_DISPUTES_QUERY, &w, RF_ERR_FORMAT, "state",
	    "dispute query state 3");

	w = body_start();
	rf_write_u8(&w, 0);
	rf_write_u32(&w, 1);
	w_digest(&w);
	w_digest(&w);
	w_key(&w);
	w_key(&w);
	rf_write_u8(&w, 2);
	rf_write_u8(&w, 1);
	rf_write_u8(&w, PROTO_VERDICT_SETTLED + 1);
	rf_write_u64(&w, 1);
	rf_write_u64(&w, 2);
	rf_write_u64(&w, 3);
	expect_body(PROTO_MSG_DISPUTES_LIST, &w, RF_ERR_FORMAT,
	    "disputes[].reason", "dispute reason 6");
}

/* ------------------------------------------------------------------ */
/* Encode refuses what decode would refuse                              */
/* ------------------------------------------------------------------ */

static int
try_encode(const struct adv_msg *m)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int err = adv_msg_pack(m, &alice, &buf, &len);
	if (err == RF_OK) {
		free(buf);
	}
	return err;
}

static void
test_encode_limits(void)
{
	struct adv_msg m;
	const enum proto_hash s = PROTO_HASH_BLAKE2B;

	/* The envelope. */
	build_example(&m, PROTO_MSG_ACK, s);
	uint8_t *buf;
	size_t len;
	CU_ASSERT(adv_msg_pack(&m, &bob, &buf, &len) == RF_ERR_INVAL);
	m.version = 2;
	CU_ASSERT(try_encode(&m) == RF_ERR_INVAL);
	m.version = PROTO_VERSION;
	m.suite = 4;
	CU_ASSERT(try_encode(&m) == RF_ERR_INVAL);
	m.suite = s;
	m.type = 77;
	CU_ASSERT(try_encode(&m) == RF_ERR_INVAL);
	m.type = PROTO_MSG_ACK;
	CU_ASSERT(try_encode(&m) == RF_OK);

	build_example(&m, PROTO_MSG_ERROR, s);
	memset(m.u.error.text, 'x', sizeof(m.u.error.text)); /* no NUL */
	CU_ASSERT(try_encode(&m) == RF_ERR_RANGE);
	m.u.error.text[0] = '\0';
	m.u.error.code = 0;
	CU_ASSERT(try_encode(&m) == RF_ERR_INVAL);
	m.u.error.code = PROTO_ERR_LAST + 1;
	CU_ASSERT(try_encode(&m) == RF_ERR_INVAL);

	build_example(&m, PROTO_MSG_NODE_REGISTER, s);
	m.u.node_register.n_models = PROTO_MAX_MODELS + 1;
	CU_ASSERT(try_encode(&m) == RF_ERR_RANGE);
	m.u.node_register.n_models = 0;
	m.u.node_register.roles = 8;
	CU_ASSERT(try_encode(&m) == RF_ERR_INVAL);
	m.u.node_register.roles = 0;
	memset(m.u.node_register.name, 'n', sizeof(m.u.node_register.name));
	CU_ASSERT(try_encode(&m) == RF_ERR_RANGE);

	build_example(&m, PROTO_MSG_MODEL_REGISTER, s);
	size_t glen = m.u.model_register.graph_len;
	m.u.model_register.graph_len = PROTO_MAX_GRAPH + 1;
	CU_ASSERT(try_encode(&m) == RF_ERR_RANGE);
	m.u.model_register.graph_len = glen;
	m.u.model_register.n_inputs = ENGINE_MAX_GRAPH_IO + 1;
	CU_ASSERT(try_encode(&m) == RF_ERR_RANGE);
	adv_msg_free(&m);

	build_example(&m, PROTO_MSG_JOB_SUBMIT, s);
	m.u.job_submit.n_inputs = PROTO_MAX_TENSORS + 1;
	CU_ASSERT(try_encode(&m) == RF_ERR_RANGE);
	m.u.job_submit.n_inputs = 4;
	/* A tensor whose count disagrees with its shape, a bad dtype, a
	 * rank over the limit. */
	m.u.job_submit.inputs[0].count++;
	CU_ASSERT(try_encode(&m) == RF_ERR_INVAL);
	m.u.job_submit.inputs[0].count--;
	m.u.job_submit.inputs[1].dtype = (enum tensor_dtype)9;
	CU_ASSERT(try_encode(&m) == RF_ERR_INVAL);
	m.u.job_submit.inputs[1].dtype = TENSOR_I8;
	m.u.job_submit.inputs[1].rank = TENSOR_MAX_RANK + 1;
	CU_ASSERT(try_encode(&m) == RF_ERR_RANGE);
	m.u.job_submit.inputs[1].rank = 1;
	CU_ASSERT(try_encode(&m) == RF_OK);
	adv_msg_free(&m);

	build_example(&m, PROTO_MSG_JOB_INFO, s);
	m.u.job_info.state = PROTO_JOB_STATE_LAST + 1;
	CU_ASSERT(try_encode(&m) == RF_ERR_INVAL);
	adv_msg_free(&m);

	/* A prefix longer than a digest, a list over its limit, a state
	 * outside its set. */
	build_example(&m, PROTO_MSG_JOBS_QUERY, s);
	m.u.jobs_query.prefix_len = (uint8_t)(proto_hash_len(s) + 1);
	CU_ASSERT(try_encode(&m) == RF_ERR_RANGE);
	m.u.jobs_query.prefix_len = 1;
	m.u.jobs_query.state = PROTO_JOB_STATE_LAST + 1;
	CU_ASSERT(try_encode(&m) == RF_ERR_INVAL);
	adv_msg_free(&m);
	build_example(&m, PROTO_MSG_JOBS_LIST, s);
	uint32_t nj = m.u.jobs_list.n;
	m.u.jobs_list.n = PROTO_MAX_LIST + 1;
	CU_ASSERT(try_encode(&m) == RF_ERR_RANGE);
	m.u.jobs_list.n = nj;
	m.u.jobs_list.cut = 2;
	CU_ASSERT(try_encode(&m) == RF_ERR_INVAL);
	adv_msg_free(&m);
	build_example(&m, PROTO_MSG_DISPUTES_LIST, s);
	m.u.disputes_list.disputes[0].state = 3;
	CU_ASSERT(try_encode(&m) == RF_ERR_INVAL);
	m.u.disputes_list.disputes[0].state = 1;
	m.u.disputes_list.disputes[0].reason = PROTO_VERDICT_SETTLED + 1;
	CU_ASSERT(try_encode(&m) == RF_ERR_INVAL);
	adv_msg_free(&m);

	build_example(&m, PROTO_MSG_CLAIM, s);
	m.u.claim.proof_len = MERKLE_MAX_PROOF + 1;
	CU_ASSERT(try_encode(&m) == RF_ERR_RANGE);
	m.u.claim.proof_len = 0;
	uint8_t n_out = m.u.claim.n_outputs;
	m.u.claim.n_outputs = PROTO_MAX_ENTRY_TENSORS + 1;
	CU_ASSERT(try_encode(&m) == RF_ERR_RANGE);
	m.u.claim.n_outputs = n_out;
	m.u.claim.n_inputs = PROTO_MAX_TENSORS + 1;
	CU_ASSERT(try_encode(&m) == RF_ERR_RANGE);
	m.u.claim.n_inputs = 0;
	CU_ASSERT(try_encode(&m) == RF_OK);
	adv_msg_free(&m);

	build_example(&m, PROTO_MSG_BISECT_QUERY, s);
	m.u.bisect_query.n_sizes = PROTO_MAX_ARITY;
	CU_ASSERT(try_encode(&m) == RF_ERR_RANGE);
	build_example(&m, PROTO_MSG_BISECT_ANSWER, s);
	m.u.bisect_answer.n_roots = PROTO_MAX_ARITY;
	CU_ASSERT(try_encode(&m) == RF_ERR_RANGE);
	m.u.bisect_answer.n_roots = 1;
	m.u.bisect_answer.roots[0].proof_len = MERKLE_MAX_PROOF + 1;
	CU_ASSERT(try_encode(&m) == RF_ERR_RANGE);
	adv_msg_free(&m);

	build_example(&m, PROTO_MSG_REVEAL, s);
	struct proto_reveal_input *in = m.u.reveal.inputs;
	in[0].output = 2; /* of 2 tensors */
	CU_ASSERT(try_encode(&m) == RF_ERR_INVAL);
	in[0].output = 1;
	in[2].n_tensors = 2; /* a weight is one tensor */
	fill_tensor(&in[2].tensors[1], 2);
	CU_ASSERT(try_encode(&m) == RF_ERR_INVAL);
	in[0].src = 3;
	CU_ASSERT(try_encode(&m) == RF_ERR_INVAL);
	in[0].src = PROTO_REVEAL_TRACE;
	in[3].n_tensors = PROTO_MAX_ENTRY_TENSORS + 1;
	CU_ASSERT(try_encode(&m) == RF_ERR_INVAL); /* in[2] still first */
	in[2].src = PROTO_REVEAL_TRACE;
	CU_ASSERT(try_encode(&m) == RF_ERR_RANGE);
	in[3].n_tensors = 1;
	in[3].proof_len = MERKLE_MAX_PROOF + 1;
	CU_ASSERT(try_encode(&m) == RF_ERR_RANGE);
	in[3].proof_len = 0;
	CU_ASSERT(try_encode(&m) == RF_OK);
	uint8_t n_in = m.u.reveal.n_inputs;
	m.u.reveal.n_inputs = ENGINE_MAX_OP_INPUTS + 1;
	CU_ASSERT(try_encode(&m) == RF_ERR_RANGE);
	m.u.reveal.n_inputs = n_in;
	adv_msg_free(&m);

	build_example(&m, PROTO_MSG_VERDICT, s);
	m.u.verdict.executor_won = 2;
	CU_ASSERT(try_encode(&m) == RF_ERR_INVAL);
	m.u.verdict.executor_won = 0;
	m.u.verdict.reason = 6;
	CU_ASSERT(try_encode(&m) == RF_ERR_INVAL);
	m.u.verdict.reason = 1;
	size_t tlen = m.u.verdict.transcript_len;
	m.u.verdict.transcript_len = PROTO_MAX_TRANSCRIPT + 1;
	CU_ASSERT(try_encode(&m) == RF_ERR_RANGE);
	m.u.verdict.transcript_len = tlen;
	CU_ASSERT(try_encode(&m) == RF_OK);
	adv_msg_free(&m);

	build_example(&m, PROTO_MSG_EVENT, s);
	m.u.event.kind = PROTO_EVENT_DISPUTE_MOVE + 1;
	CU_ASSERT(try_encode(&m) == RF_ERR_INVAL);

	build_example(&m, PROTO_MSG_STATUS_INFO, s);
	uint32_t nn = m.u.status_info.n_nodes;
	m.u.status_info.n_nodes = PROTO_MAX_STATUS_NODES + 1;
	CU_ASSERT(try_encode(&m) == RF_ERR_RANGE);
	m.u.status_info.n_nodes = nn;
	m.u.status_info.nodes[3].roles = 0x10;
	CU_ASSERT(try_encode(&m) == RF_ERR_INVAL);
	adv_msg_free(&m);

	/* Two claims that each fit but together overflow the body. */
	adv_msg_init(&m, PROTO_MSG_EQUIVOCATION, s);
	m.sender = alice.pk;
	m.u.equivocation.len_a = PROTO_MAX_BODY / 2;
	m.u.equivocation.len_b = PROTO_MAX_BODY / 2;
	m.u.equivocation.claim_a = calloc(1, m.u.equivocation.len_a);
	m.u.equivocation.claim_b = calloc(1, m.u.equivocation.len_b);
	CU_ASSERT_FATAL(m.u.equivocation.claim_a != NULL &&
	    m.u.equivocation.claim_b != NULL);
	CU_ASSERT(try_encode(&m) == RF_ERR_RANGE);
	/* 8 bytes less than the limit leaves room for the two lengths. */
	m.u.equivocation.len_b -= 8;
	CU_ASSERT(adv_msg_pack(&m, &alice, &buf, &len) == RF_OK);
	CU_ASSERT_EQUAL(len, PROTO_MAX_MESSAGE);
	struct adv_msg big;
	CU_ASSERT(adv_msg_decode(buf, len, &big, NULL) == RF_OK);
	CU_ASSERT(body_eq(&m, &big));
	adv_msg_free(&big);
	free(buf);
	adv_msg_free(&m);

	/* NULL data with a length is a caller bug, not a message. */
	adv_msg_init(&m, PROTO_MSG_VERDICT, s);
	m.sender = alice.pk;
	m.u.verdict.reason = 1;
	m.u.verdict.transcript_len = 3;
	CU_ASSERT(try_encode(&m) == RF_ERR_INVAL);
	adv_msg_init(&m, PROTO_MSG_REVEAL, s);
	m.sender = alice.pk;
	m.u.reveal.n_inputs = 2;
	CU_ASSERT(try_encode(&m) == RF_ERR_INVAL);
	adv_msg_init(&m, PROTO_MSG_STATUS_INFO, s);
	m.sender = alice.pk;
	m.u.status_info.n_nodes = 2;
	CU_ASSERT(try_encode(&m) == RF_ERR_INVAL);
}

/* ------------------------------------------------------------------ */
/* Names, codes, fuzz regressions                                       */
/* ------------------------------------------------------------------ */

static void
test_names_and_codes(void)
{
	for (size_t i = 0; i < N_TYPES; i++) {
		CU_ASSERT_PTR_NOT_NULL(proto_msg_type_name(all_types[i]));
	}
	CU_ASSERT_STRING_EQUAL(proto_msg_type_name(PROTO_MSG_BISECT_ANSWER),
	    "bisect_answer");
	CU_ASSERT_STRING_EQUAL(proto_msg_type_name(PROTO_MSG_CLAIM), "claim");
	CU_ASSERT_PTR_NULL(proto_msg_type_name(0));
	CU_ASSERT_PTR_NULL(proto_msg_type_name(3));
	CU_ASSERT_PTR_NULL(proto_msg_type_name(77));
	CU_ASSERT_PTR_NULL(proto_msg_type_name(-1));

	CU_ASSERT_EQUAL(proto_error_code_for(RF_ERR_TRUNCATED),
	    PROTO_ERR_MALFORMED);
	CU_ASSERT_EQUAL(proto_error_code_for(RF_ERR_FORMAT),
	    PROTO_ERR_MALFORMED);
	CU_ASSERT_EQUAL(proto_error_code_for(RF_ERR_DTYPE),
	    PROTO_ERR_MALFORMED);
	CU_ASSERT_EQUAL(proto_error_code_for(RF_ERR_SHAPE),
	    PROTO_ERR_MALFORMED);
	CU_ASSERT_EQUAL(proto_error_code_for(RF_ERR_CRYPTO),
	    PROTO_ERR_SIGNATURE);
	CU_ASSERT_EQUAL(proto_error_code_for(RF_ERR_VERSION),
	    PROTO_ERR_VERSION);
	CU_ASSERT_EQUAL(proto_error_code_for(RF_ERR_RANGE),
	    PROTO_ERR_TOO_LARGE);
	CU_ASSERT_EQUAL(proto_error_code_for(RF_ERR_NOTFOUND),
	    PROTO_ERR_UNKNOWN);
	CU_ASSERT_EQUAL(proto_error_code_for(RF_ERR_INVAL), PROTO_ERR_INVALID);
	CU_ASSERT_EQUAL(proto_error_code_for(RF_ERR_NOTSUP), PROTO_ERR_INVALID);
	CU_ASSERT_EQUAL(proto_error_code_for(RF_ERR_NOMEM), PROTO_ERR_INTERNAL);
	CU_ASSERT_EQUAL(proto_error_code_for(RF_ERR_IO), PROTO_ERR_INTERNAL);
	CU_ASSERT_EQUAL(proto_error_code_for(RF_ERR_FULL),
	    PROTO_ERR_DISK_FULL);
	CU_ASSERT_EQUAL(proto_error_code_for(RF_OK), 0);
	CU_ASSERT_EQUAL(proto_error_code_for(-5), PROTO_ERR_INTERNAL);

	/* init + free of every type with nothing owned, and NULL. */
	for (size_t i = 0; i < N_TYPES; i++) {
		struct adv_msg m;
		adv_msg_init(&m, (enum proto_msg_type)all_types[i],
		    PROTO_HASH_XXH3);
		CU_ASSERT_EQUAL(m.version, PROTO_VERSION);
		adv_msg_free(&m);
	}
	adv_msg_free(NULL);
}

/*
 * Replays a directory of messages: each must be refused or, when it
 * decodes without its signature, re-encode to the same body. With
 * must_verify every file must also pass the full decode (the seed corpus:
 * valid messages signed by alice, which go stale if a layout changes
 * without regenerating them). A missing directory counts zero files.
 */
static size_t
replay_dir(const char *dir, bool must_verify, size_t *bad)
{
	DIR *d = opendir(dir);
	if (d == NULL) {
		return 0;
	}
	struct dirent *de;
	size_t files = 0;
	while ((de = readdir(d)) != NULL) {
		char path[4096];
		size_t len;
		if (de->d_name[0] == '.') {
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		uint8_t *buf = test_read_file(path, &len);
		if (buf == NULL) {
			continue;
		}
		files++;
		struct adv_msg m;
		struct rf_errinfo ei = { "" };
		int err = adv_msg_decode(buf, len, &m, &ei);
		if (err == RF_OK) {
			adv_msg_free(&m);
		} else if (must_verify) {
			printf("\n  %s: %s\n", path, ei.msg);
			(*bad)++;
		}
		struct proto_env env;
		if (proto_msg_open_unverified(buf, len, &env, NULL) == RF_OK &&
		    proto_msg_body_decode(&env, &m.u, sizeof(m.u), NULL) == RF_OK) {
			m.type = env.type;
			m.suite = env.suite;
			m.seq = env.seq;
			m.version = env.version;
			uint8_t *again;
			size_t alen;
			m.sender = alice.pk;
			if (adv_msg_pack(&m, &alice, &again, &alen) != RF_OK) {
				(*bad)++;
			} else {
				*bad += alen != len || memcmp(again + HDR, buf + HDR,
				    len - PROTO_ENVELOPE_OVERHEAD) != 0;
				free(again);
			}
			adv_msg_free(&m);
		}
		free(buf);
	}
	closedir(d);
	return files;
}

static void
test_corpus_replay(void)
{
	size_t bad = 0;
	size_t seeds = replay_dir("fuzz/corpus/msg", true, &bad);
	/* Inputs the fuzzer crashed on once, kept as regressions. */
	size_t found = replay_dir("tests/corpus/msg", false, &bad);
	CU_ASSERT_EQUAL(bad, 0);
	printf("(%zu seeds, %zu regressions) ", seeds, found);
}

/* ------------------------------------------------------------------ */
/* Identities and signatures                                            */
/* ------------------------------------------------------------------ */

static int
parse(const char *text, struct proto_identity *id, struct rf_errinfo *ei)
{
	memset(ei, 0, sizeof(*ei));
	return proto_identity_parse(text, strlen(text), id, ei);
}

static void
expect_parse(const char *text, int want, const char *what, const char *label)
{
	struct proto_identity id, sentinel;
	struct rf_errinfo ei;
	memset(&sentinel, 0x77, sizeof(sentinel));
	id = sentinel;
	int err = parse(text, &id, &ei);
	bool named = strstr(ei.msg, what) != NULL;
	CU_ASSERT_EQUAL(err, want);
	CU_ASSERT(named);
	if (err != want || !named) {
		printf("\n  %s: got %s '%s', want %s '%s'\n", label,
		    rf_strerror(err), ei.msg, rf_strerror(want), what);
	}
	if (err != RF_OK) {
		CU_ASSERT(memcmp(&id, &sentinel, sizeof(id)) == 0);
	}
}

static void
test_identity_file(void)
{
	char text[PROTO_IDENTITY_TEXT_MAX];
	char bad[PROTO_IDENTITY_TEXT_MAX + 16];
	struct proto_identity id, back;
	struct rf_errinfo ei;

	CU_ASSERT_FATAL(proto_identity_generate(&id) == RF_OK);
	CU_ASSERT(!proto_pubkey_is_zero(&id.pk));
	CU_ASSERT(proto_identity_format(&id, text, sizeof(text)) == RF_OK);
	CU_ASSERT(strncmp(text, "refute-identity 1\npublic ", 25) == 0);
	CU_ASSERT_EQUAL(strlen(text), 18 + 7 + 64 + 1 + 7 + 128 + 1);
	CU_ASSERT(parse(text, &back, &ei) == RF_OK);
	CU_ASSERT(memcmp(&id, &back, sizeof(id)) == 0);
	/* The final newline is optional. */
	text[strlen(text) - 1] = '\0';
	CU_ASSERT(parse(text, &back, &ei) == RF_OK);
	CU_ASSERT(memcmp(&id, &back, sizeof(id)) == 0);
	proto_identity_wipe(&back);
	CU_ASSERT(proto_pubkey_is_zero(&back.pk));

	/* Too small a buffer: refused and left with no secret in it. */
	char small[100];
	memset(small, 'z', sizeof(small));
	CU_ASSERT(proto_identity_format(&id, small, sizeof(small)) ==
	    RF_ERR_RANGE);
	for (size_t i = 0; i < sizeof(small); i++) {
		CU_ASSERT_EQUAL_FATAL(small[i], 0);
	}

	/* Seeded keys are reproducible. */
	uint8_t seed[32];
	memset(seed, 0xa1, sizeof(seed));
	proto_identity_from_seed(&back, seed);
	CU_ASSERT(memcmp(&back, &alice, sizeof(back)) == 0);

	CU_ASSERT(proto_identity_format(&alice, text, sizeof(text)) == RF_OK);
	char *pub = strstr(text, "public ") + 7;
	char *sec = strstr(text, "secret ") + 7;

	expect_parse("", RF_ERR_TRUNCATED, "empty", "empty");
	expect_parse("refute-identity 1", RF_ERR_TRUNCATED, "after line 1",
	    "header only");
	expect_parse("refute-identity 2\n", RF_ERR_VERSION, "version 2",
	    "version 2");
	expect_parse("refute-identity\n", RF_ERR_FORMAT,
	    "line 1: expected 'refute-identity 1'", "no version");
	expect_parse("refute-identity 1x\n", RF_ERR_FORMAT, "line 1",
	    "version junk");
	expect_parse("Refute-identity 1\n", RF_ERR_FORMAT, "line 1",
	    "capital");

	/* A short public key, a non-hex digit, a wrong label. */
	snprintf(bad, sizeof(bad), "%s", text);
	memmove(strstr(bad, "public ") + 7, strstr(bad, "public ") + 8,
	    strlen(strstr(bad, "public ") + 8) + 1);
	expect_parse(bad, RF_ERR_FORMAT,
	    "line 2: expected 'public <64 hex digits>'", "63 digits");
	snprintf(bad, sizeof(bad), "%s", text);
	bad[pub - text + 10] = 'g';
	expect_parse(bad, RF_ERR_FORMAT, "line 2", "non-hex public");
	snprintf(bad, sizeof(bad), "%s", text);
	bad[pub - text - 2] = 'k';
	expect_parse(bad, RF_ERR_FORMAT, "line 2", "label");
	snprintf(bad, sizeof(bad), "%s", text);
	bad[sec - text + 127] = ' ';
	expect_parse(bad, RF_ERR_FORMAT,
	    "line 3: expected 'secret <128 hex digits>'", "non-hex secret");
	snprintf(bad, sizeof(bad), "%s", text);
	bad[sec - text + 128] = '\0';
	bad[sec - text + 127] = '\0';
	expect_parse(bad, RF_ERR_FORMAT, "line 3", "127 digits");
	snprintf(bad, sizeof(bad), "%.*s", (int)(sec - text - 7), text);
	expect_parse(bad, RF_ERR_TRUNCATED, "after line 2", "no line 3");

	/* Trailing garbage, a blank line, CRLF. */
	snprintf(bad, sizeof(bad), "%sx", text);
	expect_parse(bad, RF_ERR_FORMAT, "after line 3", "garbage");
	snprintf(bad, sizeof(bad), "%s\n", text);
	expect_parse(bad, RF_ERR_FORMAT, "after line 3", "blank line");
	snprintf(bad, sizeof(bad), "refute-identity 1\r\n%s", text + 18);
	expect_parse(bad, RF_ERR_FORMAT, "line 1", "CRLF");

	/* Alice's public line with bob's secret. */
	char bob_text[PROTO_IDENTITY_TEXT_MAX];
	CU_ASSERT(proto_identity_format(&bob, bob_text, sizeof(bob_text)) ==
	    RF_OK);
	snprintf(bad, sizeof(bad), "%.*s%s", (int)(sec - text), text,
	    strstr(bob_text, "secret ") + 7);
	expect_parse(bad, RF_ERR_CRYPTO,
	    "the secret key does not match the public key", "bob's secret");
	/* A damaged seed half, the public half intact. */
	snprintf(bad, sizeof(bad), "%s", text);
	bad[sec - text + 5] = bad[sec - text + 5] == '0' ? '1' : '0';
	expect_parse(bad, RF_ERR_CRYPTO, "does not match", "damaged seed");
	/* Uppercase hex is still the same key. */
	snprintf(bad, sizeof(bad), "%s", text);
	for (char *c = bad + (pub - text); *c != '\n'; c++) {
		if (*c >= 'a' && *c <= 'f') {
			*c = (char)(*c - 'a' + 'A');
		}
	}
	expect_parse(bad, RF_OK, "", "uppercase");
	/* A NUL byte in the middle of the text (length given). */
	size_t tl = strlen(text);
	memcpy(bad, text, tl);
	bad[pub - text + 3] = '\0';
	CU_ASSERT(proto_identity_parse(bad, tl, &back, &ei) == RF_ERR_FORMAT);

	proto_identity_wipe(&id);
}

static void
test_signatures(void)
{
	static const char msg[] = "the claim stands";
	uint8_t sig[PROTO_SIG_LEN];
	proto_sign(&alice, msg, sizeof(msg), sig);
	CU_ASSERT(proto_verify(&alice.pk, msg, sizeof(msg), sig) == RF_OK);
	CU_ASSERT(proto_verify(&bob.pk, msg, sizeof(msg), sig) ==
	    RF_ERR_CRYPTO);
	CU_ASSERT(proto_verify(&alice.pk, msg, sizeof(msg) - 1, sig) ==
	    RF_ERR_CRYPTO);
	/* Every bit of the signature matters, and every bit of the text. */
	size_t forged = 0;
	for (size_t bit = 0; bit < 8 * PROTO_SIG_LEN; bit++) {
		sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		forged += proto_verify(&alice.pk, msg, sizeof(msg), sig) == RF_OK;
		sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	char m2[sizeof(msg)];
	for (size_t bit = 0; bit < 8 * sizeof(msg); bit++) {
		memcpy(m2, msg, sizeof(msg));
		m2[bit / 8] ^= (char)(1u << (bit % 8));
		forged += proto_verify(&alice.pk, m2, sizeof(m2), sig) == RF_OK;
	}
	CU_ASSERT_EQUAL(forged, 0);
	/* Ed25519 is deterministic, and empty messages sign too. */
	uint8_t sig2[PROTO_SIG_LEN];
	proto_sign(&alice, msg, sizeof(msg), sig2);
	CU_ASSERT(memcmp(sig, sig2, sizeof(sig)) == 0);
	proto_sign(&alice, NULL, 0, sig2);
	CU_ASSERT(proto_verify(&alice.pk, NULL, 0, sig2) == RF_OK);

	/* Public key hex. */
	char hex[65];
	struct proto_pubkey k;
	proto_pubkey_hex(&alice.pk, hex);
	CU_ASSERT_EQUAL(strlen(hex), 64);
	CU_ASSERT(proto_pubkey_parse_hex(hex, &k) == RF_OK);
	CU_ASSERT(memcmp(&k, &alice.pk, sizeof(k)) == 0);
	memset(&k, 0, sizeof(k));
	CU_ASSERT(proto_pubkey_is_zero(&k));
	hex[63] = '\0';
	CU_ASSERT(proto_pubkey_parse_hex(hex, &k) == RF_ERR_INVAL);
	CU_ASSERT(proto_pubkey_is_zero(&k));
	char longer[80];
	proto_pubkey_hex(&alice.pk, hex);
	snprintf(longer, sizeof(longer), "%s0", hex);
	CU_ASSERT(proto_pubkey_parse_hex(longer, &k) == RF_ERR_INVAL);
	hex[10] = 'x';
	CU_ASSERT(proto_pubkey_parse_hex(hex, &k) == RF_ERR_INVAL);
	CU_ASSERT(proto_pubkey_is_zero(&k));
}

int
main(void)
{
	CU_TestInfo keys[] = {
		{ "identity file round trip and rejections",
		    test_identity_file },
		{ "sign, verify, forge", test_signatures },
		CU_TEST_INFO_NULL,
	};
	CU_TestInfo codec[] = {
		{ "every type round-trips, byte-exact", test_round_trip },
		{ "each body its own size, no inline proofs", test_body_sizes },
		{ "typed decoders take their type only", test_typed_decoders },
		{ "decoders under allocation failure", test_decode_nomem },
		{ "digest lengths follow the suite", test_digest_lengths },
		{ "every truncation refused", test_truncations },
		{ "every byte corruption refused", test_corruptions },
		{ "re-signed corruptions refused or canonical",
		    test_resigned_corruptions },
		{ "envelope fields and signature", test_envelope_fields },
		{ "crafted bodies: limits and enums", test_decode_limits_small },
		{ "crafted bodies: tensors", test_decode_tensors },
		{ "crafted bodies: reveal inputs", test_decode_reveal },
		{ "crafted bodies: status nodes", test_decode_status },
		{ "crafted bodies: job and dispute lists", test_decode_lists },
		{ "encode refuses what decode refuses", test_encode_limits },
		{ "type names and error codes", test_names_and_codes },
		{ "seed corpus and fuzz regressions replay",
		    test_corpus_replay },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites_info[] = {
		{ "keys", suite_init, suite_fini, NULL, NULL, keys },
		{ "messages", suite_init, suite_fini, NULL, NULL, codec },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites_info);
}
