/*
 * protocol/servable.c - what a model must satisfy to be served on a
 * network: its declared outputs are one trace entry (what a claim carries
 * and proves), and a dispute over any of its operators fits a verdict's
 * transcript.
 *
 * A dispute ends with the executor revealing one operator's inputs and
 * weights, and the verdict carries every message of the game. If that
 * reveal cannot fit, an honest executor cannot defend its claim and loses
 * by timeout; so until an operator can be disputed in pieces, such models
 * are refused before anyone can stake on them. The bound is computed from
 * the shapes the graph determines (engine_model_check), so the graph
 * alone is enough: the referee checks it at registration without weights.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "protocol/protocol_int.h"

int
proto_model_output_op(const struct engine_model *m, size_t *op,
    struct rf_errinfo *ei)
{
	size_t n_out = engine_model_output_count(m);
	struct engine_value_info vi;
	if (n_out == 0 || engine_model_value(m, engine_model_output(m, 0),
	    &vi) != RF_OK || vi.kind != ENGINE_VALUE_OP || vi.producer < 0) {
		return rf_errf(ei, RF_ERR_NOTSUP, "the model's output is not an "
		    "operator's output");
	}
	size_t k = (size_t)vi.producer;
	struct engine_op_info oi;
	if (engine_model_op(m, k, &oi) != RF_OK) {
		return RF_ERR_INVAL;
	}
	/* A claim carries one trace entry, all of its tensors, in order:
	 * they are the graph's outputs only when they are exactly the
	 * outputs of one operator. */
	bool same = oi.n_outputs == n_out;
	for (size_t i = 0; same && i < n_out; i++) {
		same = oi.outputs[i] == engine_model_output(m, i);
	}
	if (!same) {
		return rf_errf(ei, RF_ERR_NOTSUP, "the declared outputs must be "
		    "exactly the outputs of one operator, in order (a claim "
		    "carries one trace entry); operator '%s' has %zu outputs, "
		    "the graph declares %zu", oi.name, oi.n_outputs, n_out);
	}
	*op = k;
	return RF_OK;
}

/* Bytes of a tensor on the wire: u8 dtype, u8 rank, u64 dims, data. */
static uint64_t
tensor_wire(const struct engine_shape *s)
{
	uint64_t n = 1;
	for (int d = 0; d < s->rank; d++) {
		n *= (uint64_t)s->dims[d]; /* each <= 2^31, count <= 2^30 */
		if (n > TENSOR_MAX_ELEMS) {
			n = TENSOR_MAX_ELEMS + 1;
		}
	}
	return 2 + 8 * (uint64_t)s->rank + n * engine_tensor_dtype_size(s->dtype);
}

/* Bytes of one message in the transcript: length prefix and envelope. */
static uint64_t
framed(uint64_t body)
{
	return 4 + PROTO_ENVELOPE_OVERHEAD + body;
}

static unsigned
ceil_log2(uint64_t n)
{
	unsigned r = 0;
	while (((uint64_t)1 << r) < n && r < 63) {
		r++;
	}
	return r;
}

/* Wire bytes of value v as a trace entry (all outputs of its producer)
 * or as a weight; false when its shape is not known statically. */
static bool
entry_wire(const struct engine_model *m, const struct engine_shape *sh,
    int v, uint64_t *bytes)
{
	struct engine_value_info vi;
	if (engine_model_value(m, v, &vi) != RF_OK) {
		return false;
	}
	if (vi.kind != ENGINE_VALUE_OP) {
		*bytes = tensor_wire(&sh[v]);
		return sh[v].known;
	}
	struct engine_op_info oi;
	if (engine_model_op(m, (size_t)vi.producer, &oi) != RF_OK) {
		return false;
	}
	uint64_t b = 0;
	for (size_t j = 0; j < oi.n_outputs; j++) {
		if (!sh[oi.outputs[j]].known) {
			return false;
		}
		b += tensor_wire(&sh[oi.outputs[j]]);
	}
	*bytes = b;
	return true;
}

int
proto_model_dispute_check(enum proto_hash suite,
    const struct engine_model *m, size_t graph_len, struct rf_errinfo *ei)
{
	size_t nv = engine_model_value_count(m);
	size_t n_ops = engine_model_op_count(m);
	size_t n_in = engine_model_input_count(m);
	uint64_t hl = proto_hash_len(suite);
	uint64_t proof = 1 + MERKLE_MAX_PROOF * hl;
	struct engine_shape *sh = calloc(nv ? nv : 1, sizeof(*sh));
	if (sh == NULL) {
		return RF_ERR_NOMEM;
	}
	int err = engine_model_check(m, sh, ei);
	size_t out_op = 0;
	if (err == RF_OK) {
		err = proto_model_output_op(m, &out_op, ei);
	}
	uint64_t out_bytes = 0;
	if (err == RF_OK && !entry_wire(m, sh, engine_model_output(m, 0),
	    &out_bytes)) {
		out_bytes = 0; /* dynamic: bounded by the claim's own limits */
	}
	/* The client's job (its inputs): as large as the inputs' fixed
	 * shapes say, or as large as the referee takes one when a shape is
	 * dynamic. */
	uint64_t job = hl + 8 + 8 + PROTO_KEY_LEN + 1;
	for (size_t i = 0; err == RF_OK && i < n_in; i++) {
		int v = engine_model_input(m, i);
		if (!sh[v].known) {
			job = PROTO_MAX_DISPUTABLE_JOB;
			break;
		}
		job += tensor_wire(&sh[v]);
	}
	job = job < PROTO_MAX_DISPUTABLE_JOB ? framed(job) :
	    4 + PROTO_MAX_DISPUTABLE_JOB;
	/* Everything in the transcript besides the reveal, over-estimated:
	 * the registration (with the graph), the job, the claim (with its
	 * output), the challenge, and every round's query and both answers
	 * at the widest arity with the longest proofs. */
	uint64_t reg = framed(hl + 2 + PROTO_MAX_NAME + 4 + 4 + 4 + graph_len +
	    4 + proof);
	uint64_t claim = framed(2 * hl + 1 + n_in * hl + 4 + hl + 1 +
	    out_bytes + proof);
	uint64_t challenge = framed(hl + PROTO_KEY_LEN + 2 * hl + 4 + 8);
	uint64_t query = framed(hl + 4 + 8 + 8 + 1 + 8 * (PROTO_MAX_ARITY - 1) +
	    8);
	uint64_t answer = framed(hl + 4 + 1 + (PROTO_MAX_ARITY - 1) *
	    (8 + hl + proof));
	uint64_t rounds = ceil_log2(n_ops) + 1;
	uint64_t fixed = reg + job + claim + challenge + rounds * (query +
	    2 * answer);
	uint64_t budget = fixed < PROTO_MAX_TRANSCRIPT ?
	    PROTO_MAX_TRANSCRIPT - fixed : 0;
	for (size_t k = 0; err == RF_OK && k < n_ops; k++) {
		struct engine_op_info oi;
		if (engine_model_op(m, k, &oi) != RF_OK) {
			err = RF_ERR_INVAL;
			break;
		}
		/* dispute_id, op, n_inputs, the inputs, the frontier. */
		uint64_t body = hl + 4 + 1 + proof;
		for (size_t i = 0; i < oi.n_inputs; i++) {
			uint64_t b = 0;
			if (oi.inputs[i] == ENGINE_NO_VALUE) {
				body += 1;
				continue;
			}
			/* An input of unknown shape (a dynamic dimension)
			 * counts as empty: what is known must fit already. */
			if (!entry_wire(m, sh, oi.inputs[i], &b)) {
				b = 0;
			}
			body += 1 + 4 + 1 + 1 + b + proof;
		}
		uint64_t need = framed(body);
		if (need > budget || body > PROTO_MAX_BODY) {
			err = rf_errf(ei, RF_ERR_RANGE, "operator %zu ('%s', %s): "
			    "revealing its inputs and weights in a dispute takes "
			    "%llu bytes, more than the %llu a verdict's transcript "
			    "has room for (%zu MiB limit): an honest executor could "
			    "not defend a claim on this model", k, oi.name,
			    engine_op_name(oi.op), (unsigned long long)need,
			    (unsigned long long)budget, PROTO_MAX_TRANSCRIPT >> 20);
		}
	}
	free(sh);
	return err;
}
