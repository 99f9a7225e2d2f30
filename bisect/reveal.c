/*
 * bisect/reveal.c - the move an honest executor makes at the end of a
 * dispute that needs more than its leaf hashes: revealing one operator's
 * inputs, re-run with the engine and proved against its leaves.
 */
#include <stdlib.h>
#include <string.h>

#include "bisect/bisect.h"
#include "engine/engine.h"

struct wanted {
	size_t n_entries;
	size_t entry[ENGINE_MAX_OP_INPUTS];
	struct tensor copy[ENGINE_MAX_OP_INPUTS][ENGINE_MAX_OP_OUTPUTS];
	size_t n_copy[ENGINE_MAX_OP_INPUTS];
	int err;
};

/* Keeps a copy of each trace entry the disputed operator reads. */
static int
keep_entries(void *ctx, size_t index, const struct tensor *const *t,
    size_t n)
{
	struct wanted *w = ctx;
	for (size_t e = 0; e < w->n_entries; e++) {
		if (w->entry[e] != index || w->n_copy[e] != 0) {
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			if (engine_tensor_copy(&w->copy[e][i], t[i]) != RF_OK) {
				w->err = RF_ERR_NOMEM;
				return 1;
			}
			w->n_copy[e] = i + 1;
		}
	}
	return 0;
}

static void
wanted_free(struct wanted *w)
{
	for (size_t e = 0; e < w->n_entries; e++) {
		for (size_t i = 0; i < w->n_copy[e]; i++) {
			engine_tensor_fini(&w->copy[e][i]);
		}
	}
}

/* Index of entry in w, adding it if new. */
static size_t
want(struct wanted *w, size_t entry)
{
	for (size_t e = 0; e < w->n_entries; e++) {
		if (w->entry[e] == entry) {
			return e;
		}
	}
	w->entry[w->n_entries] = entry;
	return w->n_entries++;
}

int
bisect_reveal_build(enum proto_hash suite, const struct engine_model *m,
    const struct tensor *inputs, const struct proto_digest *leaves,
    size_t n, uint32_t op, struct proto_reveal *out, struct rf_errinfo *ei)
{
	struct engine_op_info oi;
	size_t n_in = engine_model_input_count(m);
	size_t lo = n_in + op;
	if (engine_model_op(m, op, &oi) != RF_OK || lo >= n) {
		return rf_errf(ei, RF_ERR_RANGE, "no operator %u to reveal", op);
	}
	struct wanted *w = calloc(1, sizeof(*w));
	struct proto_reveal_input *ins = calloc(oi.n_inputs ? oi.n_inputs : 1,
	    sizeof(*ins));
	struct proto_digest *mleaves = NULL;
	size_t n_mleaves = 0;
	int err = w && ins ? RF_OK : RF_ERR_NOMEM;
	if (err == RF_OK) {
		err = proto_model_leaves(suite, m, &mleaves, &n_mleaves);
	}
	/* Where each input comes from. */
	size_t slot[ENGINE_MAX_OP_INPUTS];
	struct proto_digest path[MERKLE_MAX_PROOF];
	for (size_t i = 0; err == RF_OK && i < oi.n_inputs; i++) {
		struct engine_value_info vi;
		struct proto_reveal_input *in = &ins[i];
		if (oi.inputs[i] == ENGINE_NO_VALUE) {
			in->src = PROTO_REVEAL_ABSENT;
			continue;
		}
		engine_model_value(m, oi.inputs[i], &vi);
		if (vi.kind == ENGINE_VALUE_WEIGHT) {
			size_t leaf, plen;
			const struct tensor *t = vi.weight;
			in->src = PROTO_REVEAL_WEIGHT;
			err = proto_model_weight_leaf(m, oi.inputs[i], &leaf);
			if (err == RF_OK) {
				err = engine_tensor_copy(&in->tensors[0], t);
			}
			if (err == RF_OK) {
				in->n_tensors = 1;
				in->leaf = (uint32_t)leaf;
				err = proto_merkle_inclusion_proof(suite, mleaves, n_mleaves,
				    leaf, path, &plen);
			}
			if (err == RF_OK) {
				err = proto_proof_dup(path, plen, &in->proof);
				in->proof_len = (uint8_t)plen;
			}
			continue;
		}
		in->src = PROTO_REVEAL_TRACE;
		if (vi.kind == ENGINE_VALUE_INPUT) {
			for (size_t p = 0; p < n_in; p++) {
				if (engine_model_input(m, p) == oi.inputs[i]) {
					in->leaf = (uint32_t)p;
				}
			}
		} else {
			struct engine_op_info po;
			engine_model_op(m, (size_t)vi.producer, &po);
			in->leaf = (uint32_t)(n_in + (size_t)vi.producer);
			for (size_t j = 0; j < po.n_outputs; j++) {
				if (po.outputs[j] == oi.inputs[i]) {
					in->output = (uint8_t)j;
				}
			}
		}
		slot[i] = want(w, in->leaf);
	}
	/* Re-run up to the entry before the operator, keeping what it reads. */
	if (err == RF_OK) {
		struct engine_run_opts o;
		struct tensor outs[ENGINE_MAX_GRAPH_IO];
		engine_run_opts_init(&o);
		o.trace = keep_entries;
		o.trace_ctx = w;
		o.stop_after = lo - 1;
		err = engine_run(m, inputs, n_in, outs, &o, ei);
		if (err == RF_ERR_ABORTED) {
			err = w->err;
		}
	}
	for (size_t i = 0; err == RF_OK && i < oi.n_inputs; i++) {
		struct proto_reveal_input *in = &ins[i];
		if (in->src != PROTO_REVEAL_TRACE) {
			continue;
		}
		size_t e = slot[i];
		size_t plen;
		memcpy(in->tensors, w->copy[e], sizeof(in->tensors[0]) * w->n_copy[e]);
		in->n_tensors = (uint8_t)w->n_copy[e];
		/* The same entry may feed two inputs: copy again for the second
		 * so each input owns its tensors. */
		for (size_t k = 0; k < w->n_copy[e]; k++) {
			struct tensor dup;
			if (engine_tensor_copy(&dup, &w->copy[e][k]) != RF_OK) {
				err = RF_ERR_NOMEM;
				break;
			}
			w->copy[e][k] = dup;
		}
		if (err == RF_OK) {
			err = proto_merkle_inclusion_proof(suite, leaves, lo, in->leaf,
			    path, &plen);
		}
		if (err == RF_OK) {
			err = proto_proof_dup(path, plen, &in->proof);
			in->proof_len = (uint8_t)plen;
		}
	}
	size_t flen = 0;
	if (err == RF_OK) {
		err = proto_merkle_frontier(suite, leaves, lo, path, &flen);
	}
	struct proto_digest *frontier = NULL;
	if (err == RF_OK) {
		err = proto_proof_dup(path, flen, &frontier);
	}
	if (w != NULL) {
		wanted_free(w);
	}
	free(w);
	free(mleaves);
	if (err != RF_OK) {
		for (size_t i = 0; ins != NULL && i < oi.n_inputs; i++) {
			for (size_t k = 0; k < ins[i].n_tensors; k++) {
				engine_tensor_fini(&ins[i].tensors[k]);
			}
			free(ins[i].proof);
		}
		free(ins);
		return rf_errf(ei, err, "building the reveal of operator %u: %s",
		    op, rf_strerror(err));
	}
	out->op = op;
	out->n_inputs = (uint8_t)oi.n_inputs;
	out->inputs = ins;
	out->frontier = frontier;
	out->frontier_len = (uint8_t)flen;
	return RF_OK;
}
