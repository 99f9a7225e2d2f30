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

/* ------------------------------------------------------------------ */
/* The reveal of one chunk of a chunked trace                           */
/* ------------------------------------------------------------------ */

void
bisect_chunk_reveal_free(struct bisect_chunk_reveal *r)
{
	for (size_t k = 0; r->items != NULL && k < r->n_items; k++) {
		for (size_t i = 0; i < r->items[k].n_tensors; i++) {
			engine_tensor_fini(&r->items[k].tensors[i]);
		}
		free(r->items[k].proof);
	}
	free(r->items);
	free(r->frontier);
	memset(r, 0, sizeof(*r));
}

size_t
bisect_chunk_reveal_size(const struct bisect_chunk_reveal *r,
    enum proto_hash suite)
{
	size_t hl = proto_hash_len(suite);
	size_t n = 8 + 4 + 1 + hl * r->frontier_len;
	for (size_t k = 0; k < r->n_items; k++) {
		const struct bisect_chunk_item *it = &r->items[k];
		n += 1 + 4 + 1 + 1 + 1 + hl * it->proof_len;
		for (size_t i = 0; i < it->n_tensors; i++) {
			n += 2 + 8 * (size_t)it->tensors[i].rank +
			    engine_tensor_nbytes(&it->tensors[i]);
		}
	}
	return n;
}

/* Adds an item; its tensors are copies. */
static int
add_item(struct bisect_chunk_reveal *r, size_t *cap)
{
	if (r->n_items == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct bisect_chunk_item *ni = realloc(r->items, nc * sizeof(*ni));
		if (ni == NULL) {
			return RF_ERR_NOMEM;
		}
		r->items = ni;
		*cap = nc;
	}
	memset(&r->items[r->n_items], 0, sizeof(r->items[0]));
	r->n_items++;
	return RF_OK;
}

int
bisect_chunk_reveal_from(enum proto_hash suite, const struct engine_model *m,
    const struct proto_trace_layout *l,
    const struct tensor *const *const *entries, const size_t *n_entry,
    const struct proto_digest *mleaves, size_t n_mleaves,
    const struct proto_merkle_tree *tree, uint64_t leaf,
    struct bisect_chunk_reveal *out, struct rf_errinfo *ei)
{
	size_t n_in = engine_model_input_count(m);
	size_t entry, chunk;
	struct engine_op_info oi;
	memset(out, 0, sizeof(*out));
	if (tree->n < leaf || leaf >= l->n_leaves ||
	    proto_trace_layout_find(l, leaf, &entry, &chunk) != RF_OK ||
	    entry < n_in || engine_model_op(m, entry - n_in, &oi) != RF_OK) {
		return rf_errf(ei, RF_ERR_RANGE, "no operator's leaf %llu to "
		    "reveal", (unsigned long long)leaf);
	}
	size_t op = entry - n_in;
	struct engine_chunk_src src[ENGINE_MAX_OP_INPUTS];
	bool *used[ENGINE_MAX_OP_INPUTS] = { NULL };
	size_t where[ENGINE_MAX_OP_INPUTS]; /* entry, weight leaf or input */
	int kind[ENGINE_MAX_OP_INPUTS];     /* 0 absent, 1 trace, 2 weight, 3 job */
	memset(src, 0, sizeof(src));
	int err = RF_OK;
	for (size_t i = 0; err == RF_OK && i < oi.n_inputs; i++) {
		kind[i] = 0;
		if (oi.inputs[i] == ENGINE_NO_VALUE) {
			continue;
		}
		struct engine_value_info vi;
		engine_model_value(m, oi.inputs[i], &vi);
		const struct engine_shape *s = &l->shapes[oi.inputs[i]];
		src[i].dtype = s->dtype;
		src[i].rank = s->rank;
		memcpy(src[i].dims, s->dims, sizeof(src[i].dims));
		if (vi.kind == ENGINE_VALUE_WEIGHT) {
			kind[i] = 2;
			src[i].full = vi.weight;
			src[i].n_chunks = engine_chunk_count(s->dtype, s->rank, s->dims);
			err = proto_model_weight_leaf(m, oi.inputs[i], &where[i]);
		} else if (vi.kind == ENGINE_VALUE_INPUT) {
			kind[i] = 3;
			for (size_t p = 0; p < n_in; p++) {
				if (engine_model_input(m, p) == oi.inputs[i]) {
					where[i] = p;
				}
			}
			src[i].full = entries[i] != NULL ? entries[i][0] : NULL;
			src[i].n_chunks = 1;
			src[i].one = true;
		} else {
			struct engine_op_info po;
			engine_model_op(m, (size_t)vi.producer, &po);
			kind[i] = 1;
			where[i] = n_in + (size_t)vi.producer;
			src[i].n_chunks = l->count[where[i]];
			src[i].one = src[i].n_chunks == 1;
			for (size_t j = 0; j < po.n_outputs; j++) {
				if (po.outputs[j] == oi.inputs[i] && entries[i] != NULL &&
				    j < n_entry[i]) {
					src[i].full = entries[i][j];
				}
			}
		}
		if (err == RF_OK && src[i].full == NULL) {
			err = RF_ERR_INVAL;
		}
		if (err == RF_OK) {
			used[i] = calloc(src[i].n_chunks, 1);
			err = used[i] != NULL ? RF_OK : RF_ERR_NOMEM;
			src[i].used = used[i];
		}
	}
	/* Which chunks the step reads: run it on the whole inputs. */
	if (err == RF_OK && (l->count[entry] > 1 || engine_chunk_tiled(m, op))) {
		struct tensor tile;
		err = engine_chunk_step(m, op, &l->shapes[oi.outputs[0]], chunk,
		    src, &tile, ei);
		if (err == RF_OK) {
			engine_tensor_fini(&tile);
		}
	} else if (err == RF_OK) {
		for (size_t i = 0; i < oi.n_inputs; i++) {
			for (size_t c = 0; kind[i] != 0 && c < src[i].n_chunks; c++) {
				used[i][c] = true;
			}
		}
	}
	size_t cap = 0;
	struct proto_digest path[MERKLE_MAX_PROOF];
	for (size_t i = 0; err == RF_OK && i < oi.n_inputs; i++) {
		struct proto_digest *wl = NULL;
		size_t nwl = 0;
		struct proto_merkle_tree wt;
		memset(&wt, 0, sizeof(wt));
		if (kind[i] == 2 && src[i].n_chunks > 1) {
			err = proto_chunk_leaves(suite, src[i].full, &wl, &nwl);
			if (err == RF_OK) {
				err = proto_merkle_tree_build(suite, wl, nwl, &wt);
			}
		}
		for (size_t c = 0; err == RF_OK && kind[i] != 0 &&
		    c < src[i].n_chunks; c++) {
			if (!used[i][c]) {
				continue;
			}
			err = add_item(out, &cap);
			if (err != RF_OK) {
				break;
			}
			struct bisect_chunk_item *it = &out->items[out->n_items - 1];
			it->operand = (uint8_t)i;
			it->chunk = (uint32_t)c;
			it->n_tensors = 1;
			size_t plen = 0, a = 0;
			if (kind[i] == 1 && src[i].one) {
				/* An entry of one leaf: all its tensors. */
				it->n_tensors = (uint8_t)n_entry[i];
				for (size_t j = 0; err == RF_OK && j < n_entry[i]; j++) {
					err = engine_tensor_copy(&it->tensors[j],
					    entries[i][j]);
					if (entries[i][j] == src[i].full) {
						it->output = (uint8_t)j;
					}
				}
			} else if (src[i].one) {
				err = engine_tensor_copy(&it->tensors[0], src[i].full);
			} else {
				err = engine_chunk_copy(src[i].full, c, &it->tensors[0]);
			}
			if (err == RF_OK && kind[i] == 1) {
				err = proto_merkle_tree_inclusion_proof(tree, leaf,
				    l->first[where[i]] + c, path, &plen);
			} else if (err == RF_OK && kind[i] == 2) {
				if (nwl > 1) {
					err = proto_merkle_tree_inclusion_proof(&wt, nwl, c,
					    path, &a);
				}
				if (err == RF_OK && a + proto_merkle_path_len(where[i],
				    n_mleaves) > MERKLE_MAX_PROOF) {
					err = RF_ERR_RANGE;
				}
				if (err == RF_OK) {
					err = proto_merkle_inclusion_proof(suite, mleaves,
					    n_mleaves, where[i], path + a, &plen);
				}
				plen += a;
			}
			if (err == RF_OK && plen > 0) {
				err = proto_proof_dup(path, plen, &it->proof);
				it->proof_len = (uint8_t)plen;
			}
		}
		proto_merkle_tree_free(&wt);
		free(wl);
	}
	size_t flen = 0;
	if (err == RF_OK) {
		err = proto_merkle_tree_frontier(tree, leaf, path, &flen);
	}
	if (err == RF_OK) {
		err = proto_proof_dup(path, flen, &out->frontier);
		out->frontier_len = (uint8_t)flen;
	}
	for (size_t i = 0; i < ENGINE_MAX_OP_INPUTS; i++) {
		free(used[i]);
	}
	if (err != RF_OK) {
		bisect_chunk_reveal_free(out);
		return rf_errf(ei, err, "building the reveal of leaf %llu: %s",
		    (unsigned long long)leaf, rf_strerror(err));
	}
	out->leaf = leaf;
	return RF_OK;
}

int
bisect_chunk_reveal_build(enum proto_hash suite, const struct engine_model *m,
    const struct proto_trace_layout *l, const struct tensor *inputs,
    const struct proto_digest *leaves, size_t n, uint64_t leaf,
    struct bisect_chunk_reveal *out, struct rf_errinfo *ei)
{
	size_t n_in = engine_model_input_count(m);
	size_t entry, chunk;
	struct engine_op_info oi;
	if (n != l->n_leaves || leaf >= n ||
	    proto_trace_layout_find(l, leaf, &entry, &chunk) != RF_OK ||
	    entry < n_in || engine_model_op(m, entry - n_in, &oi) != RF_OK) {
		return rf_errf(ei, RF_ERR_RANGE, "no operator's leaf %llu to "
		    "reveal", (unsigned long long)leaf);
	}
	struct wanted *w = calloc(1, sizeof(*w));
	struct proto_digest *ml = NULL;
	size_t nml = 0;
	int err = w != NULL ? RF_OK : RF_ERR_NOMEM;
	if (err == RF_OK) {
		err = proto_model_leaves(suite, m, &ml, &nml);
	}
	size_t slot[ENGINE_MAX_OP_INPUTS];
	for (size_t i = 0; err == RF_OK && i < oi.n_inputs; i++) {
		struct engine_value_info vi;
		slot[i] = SIZE_MAX;
		if (oi.inputs[i] == ENGINE_NO_VALUE ||
		    engine_model_value(m, oi.inputs[i], &vi) != RF_OK ||
		    vi.kind == ENGINE_VALUE_WEIGHT) {
			continue;
		}
		size_t e = 0;
		if (vi.kind == ENGINE_VALUE_INPUT) {
			for (size_t p = 0; p < n_in; p++) {
				if (engine_model_input(m, p) == oi.inputs[i]) {
					e = p;
				}
			}
		} else {
			e = n_in + (size_t)vi.producer;
		}
		slot[i] = want(w, e);
	}
	/* Re-run up to the entry before the operator, keeping what it reads. */
	if (err == RF_OK) {
		struct engine_run_opts o;
		struct tensor outs[ENGINE_MAX_GRAPH_IO];
		engine_run_opts_init(&o);
		o.trace = keep_entries;
		o.trace_ctx = w;
		o.stop_after = entry - 1;
		err = engine_run(m, inputs, n_in, outs, &o, ei);
		if (err == RF_ERR_ABORTED) {
			err = w->err;
		}
	}
	const struct tensor *ptrs[ENGINE_MAX_OP_INPUTS][PROTO_MAX_ENTRY_TENSORS];
	const struct tensor *const *ents[ENGINE_MAX_OP_INPUTS];
	size_t n_ent[ENGINE_MAX_OP_INPUTS];
	for (size_t i = 0; err == RF_OK && i < oi.n_inputs; i++) {
		ents[i] = NULL;
		n_ent[i] = 0;
		if (slot[i] == SIZE_MAX) {
			continue;
		}
		for (size_t k = 0; k < w->n_copy[slot[i]]; k++) {
			ptrs[i][k] = &w->copy[slot[i]][k];
		}
		ents[i] = ptrs[i];
		n_ent[i] = w->n_copy[slot[i]];
	}
	struct proto_merkle_tree tree;
	if (err == RF_OK) {
		err = proto_merkle_tree_build(suite, leaves, leaf, &tree);
		if (err == RF_OK) {
			err = bisect_chunk_reveal_from(suite, m, l, ents, n_ent, ml,
			    nml, &tree, leaf, out, ei);
			proto_merkle_tree_free(&tree);
		}
	}
	if (w != NULL) {
		wanted_free(w);
	}
	free(w);
	free(ml);
	return err;
}
