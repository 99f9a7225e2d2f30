/*
 * protocol/trace.c - commitments to a run's trace and to a model.
 *
 * The trace root commits to every tensor a job produced (inputs, then each
 * operator's outputs, in the model's fixed order), so two parties who
 * disagree can bisect to the first operator whose output differs. model_id
 * commits to the graph and to each weight separately, so one operator's
 * weights can be proven against it without the rest of the model.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "protocol/protocol_int.h"

static void
put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
	}
}

static void
hash_tensor(struct proto_hasher *h, const struct tensor *t)
{
	uint8_t head[2 + 8 * TENSOR_MAX_RANK];
	size_t n = 0;
	head[n++] = (uint8_t)t->dtype;
	head[n++] = (uint8_t)t->rank;
	for (int d = 0; d < t->rank; d++) {
		put_u64(head + n, (uint64_t)t->dims[d]);
		n += 8;
	}
	proto_hasher_update(h, head, n);
	/* Element bytes are already little-endian on every host we build
	 * for (engine/model_file.c refuses big-endian hosts). */
	proto_hasher_update(h, t->data, engine_tensor_nbytes(t));
}

void
proto_tensor_leaf(enum proto_hash suite, const struct tensor *const *tensors,
    size_t n, struct proto_digest *out)
{
	struct proto_hasher h;
	uint8_t head[2] = { 0x00, (uint8_t)n };
	proto_hasher_init(&h, suite);
	proto_hasher_update(&h, head, 2);
	for (size_t i = 0; i < n; i++) {
		hash_tensor(&h, tensors[i]);
	}
	proto_hasher_final(&h, out);
}

/* ------------------------------------------------------------------ */
/* Chunks                                                               */
/* ------------------------------------------------------------------ */

/* The leaf of a tile of t whose bytes are at data (rows x cols). */
static void
chunk_leaf_raw(enum proto_hash suite, const struct tensor *t, size_t index,
    const void *data, size_t bytes, struct proto_digest *out)
{
	/* 0x00 (a leaf), then 0x80 (a chunk: never a tensor count), the whole
	 * tensor's dtype and shape and the chunk's index, so a chunk proves
	 * nothing about another tensor or another place in this one. */
	uint8_t head[2 + 2 + 8 * TENSOR_MAX_RANK + 8];
	size_t n = 0;
	head[n++] = 0x00;
	head[n++] = 0x80;
	head[n++] = (uint8_t)t->dtype;
	head[n++] = (uint8_t)t->rank;
	for (int d = 0; d < t->rank; d++) {
		put_u64(head + n, (uint64_t)t->dims[d]);
		n += 8;
	}
	put_u64(head + n, (uint64_t)index);
	n += 8;
	struct proto_hasher h;
	proto_hasher_init(&h, suite);
	proto_hasher_update(&h, head, n);
	proto_hasher_update(&h, data, bytes);
	proto_hasher_final(&h, out);
}

int
proto_chunk_leaf(enum proto_hash suite, const struct tensor *t,
    size_t index, const struct tensor *chunk, struct proto_digest *out)
{
	struct engine_chunk ch;
	int err = engine_chunk_at(t->dtype, t->rank, t->dims, index, &ch);
	if (err != RF_OK) {
		return err;
	}
	if (ch.whole) {
		proto_tensor_leaf(suite, &chunk, 1, out);
		return RF_OK;
	}
	if (chunk->dtype != t->dtype || chunk->rank != 2 ||
	    chunk->dims[0] != ch.rows || chunk->dims[1] != ch.cols) {
		return RF_ERR_INVAL;
	}
	chunk_leaf_raw(suite, t, index, chunk->data, engine_tensor_nbytes(chunk),
	    out);
	return RF_OK;
}

int
proto_chunk_leaves(enum proto_hash suite, const struct tensor *t,
    struct proto_digest **leaves, size_t *n)
{
	size_t nc = engine_chunk_count(t->dtype, t->rank, t->dims);
	struct proto_digest *l = malloc(nc * sizeof(*l));
	if (l == NULL) {
		return RF_ERR_NOMEM;
	}
	int err = RF_OK;
	if (nc == 1) {
		proto_tensor_leaf(suite, &t, 1, &l[0]);
	}
	/* Each tile gathered into one buffer, hashed in one piece. */
	size_t es = engine_tensor_dtype_size(t->dtype);
	int64_t cols = t->rank >= 1 ? t->dims[t->rank - 1] : 1;
	int64_t rows = t->rank >= 2 ? t->dims[t->rank - 2] : 1;
	size_t cap = (ENGINE_CHUNK_ROWS * ENGINE_CHUNK_COLS +
	    ENGINE_CHUNK_FLAT) * 8;
	uint8_t *buf = nc > 1 ? malloc(cap) : NULL;
	if (nc > 1 && buf == NULL) {
		err = RF_ERR_NOMEM;
	}
	for (size_t i = 0; nc > 1 && err == RF_OK && i < nc; i++) {
		struct engine_chunk ch;
		err = engine_chunk_at(t->dtype, t->rank, t->dims, i, &ch);
		if (err != RF_OK || (size_t)(ch.rows * ch.cols) * es > cap) {
			err = err != RF_OK ? err : RF_ERR_RANGE;
			break;
		}
		const uint8_t *src = (const uint8_t *)t->data +
		    (size_t)(ch.batch * rows * cols) * es;
		size_t rb = (size_t)ch.cols * es;
		for (int64_t r = 0; r < ch.rows; r++) {
			memcpy(buf + (size_t)r * rb, src +
			    ((size_t)(ch.r0 + r) * (size_t)cols + (size_t)ch.c0) * es,
			    rb);
		}
		chunk_leaf_raw(suite, t, i, buf, rb * (size_t)ch.rows, &l[i]);
	}
	free(buf);
	if (err != RF_OK) {
		free(l);
		return err;
	}
	*leaves = l;
	*n = nc;
	return RF_OK;
}

int
proto_chunked_leaf(enum proto_hash suite, const struct tensor *t,
    struct proto_digest *out)
{
	struct proto_digest *l;
	size_t n;
	int err = proto_chunk_leaves(suite, t, &l, &n);
	if (err != RF_OK) {
		return err;
	}
	if (n == 1) {
		*out = l[0];
	} else {
		proto_merkle_root(suite, l, n, out);
	}
	free(l);
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Trace collection                                                     */
/* ------------------------------------------------------------------ */

void
proto_trace_init(struct proto_trace *t, enum proto_hash suite)
{
	memset(t, 0, sizeof(*t));
	t->suite = suite;
}

void
proto_trace_fini(struct proto_trace *t)
{
	free(t->leaves);
	memset(t, 0, sizeof(*t));
}

int
proto_trace_hook(void *ctx, size_t index, const struct tensor *const *tensors,
    size_t n)
{
	struct proto_trace *t = ctx;
	if (t->err != RF_OK) {
		return 1;
	}
	if (index != (t->layout != NULL ? t->entries : t->n)) {
		t->err = RF_ERR_INVAL;
		return 1;
	}
	t->entries++;
	if (t->layout != NULL && (index >= t->layout->n_entries ||
	    t->layout->first[index] != t->n)) {
		t->err = RF_ERR_INVAL;
		return 1;
	}
	if (t->layout != NULL && t->layout->count[index] > 1) {
		size_t cnt = t->layout->count[index];
		if (n != 1 || engine_chunk_count(tensors[0]->dtype,
		    tensors[0]->rank, tensors[0]->dims) != cnt) {
			t->err = RF_ERR_INVAL;
			return 1;
		}
		if (t->n + cnt > t->cap) {
			size_t cap = t->cap ? t->cap : 64;
			while (cap < t->n + cnt) {
				cap *= 2;
			}
			struct proto_digest *nl = realloc(t->leaves,
			    cap * sizeof(*nl));
			if (nl == NULL) {
				t->err = RF_ERR_NOMEM;
				return 1;
			}
			t->leaves = nl;
			t->cap = cap;
		}
		struct proto_digest *cl;
		size_t got;
		int err = proto_chunk_leaves(t->suite, tensors[0], &cl, &got);
		if (err != RF_OK) {
			t->err = err;
			return 1;
		}
		memcpy(t->leaves + t->n, cl, cnt * sizeof(*cl));
		free(cl);
		t->n += cnt;
		return 0;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct proto_digest *nl = realloc(t->leaves, cap * sizeof(*nl));
		if (nl == NULL) {
			t->err = RF_ERR_NOMEM;
			return 1;
		}
		t->leaves = nl;
		t->cap = cap;
	}
	proto_tensor_leaf(t->suite, tensors, n, &t->leaves[t->n]);
	t->n++;
	return 0;
}

int
proto_trace_root(const struct proto_trace *t, struct proto_digest *root)
{
	if (t->err != RF_OK) {
		return t->err;
	}
	proto_merkle_root(t->suite, t->leaves, t->n, root);
	return RF_OK;
}

int
proto_trace_layout_make(const struct engine_model *m,
    const struct engine_shape *inputs, size_t n_inputs,
    struct proto_trace_layout *out, struct rf_errinfo *ei)
{
	memset(out, 0, sizeof(*out));
	size_t ni = engine_model_input_count(m), nops = engine_model_op_count(m);
	size_t nv = engine_model_value_count(m);
	out->n_entries = ni + nops;
	out->n_values = nv;
	out->first = calloc(out->n_entries, sizeof(size_t));
	out->count = calloc(out->n_entries, sizeof(size_t));
	out->shapes = calloc(nv ? nv : 1, sizeof(*out->shapes));
	if (out->first == NULL || out->count == NULL || out->shapes == NULL) {
		proto_trace_layout_free(out);
		return rf_errf(ei, RF_ERR_NOMEM, "trace layout: out of memory");
	}
	int err = engine_model_shapes(m, inputs, n_inputs, out->shapes, ei);
	size_t leaf = 0;
	for (size_t e = 0; err == RF_OK && e < out->n_entries; e++) {
		out->first[e] = leaf;
		out->count[e] = 1;
		if (e >= ni) {
			struct engine_op_info oi;
			engine_model_op(m, e - ni, &oi);
			const struct engine_shape *s = &out->shapes[oi.outputs[0]];
			if (!s->known) {
				err = rf_errf(ei, RF_ERR_NOTSUP, "trace layout: the "
				    "shape of operator %zu's output is not known "
				    "before the run", e - ni);
				break;
			}
			if (engine_chunk_tiled(m, e - ni)) {
				out->count[e] = engine_chunk_count(s->dtype, s->rank,
				    s->dims);
			}
		}
		leaf += out->count[e];
	}
	if (err != RF_OK) {
		proto_trace_layout_free(out);
		return err;
	}
	out->n_leaves = leaf;
	return RF_OK;
}

void
proto_trace_layout_free(struct proto_trace_layout *l)
{
	free(l->first);
	free(l->count);
	free(l->shapes);
	memset(l, 0, sizeof(*l));
}

int
proto_trace_layout_find(const struct proto_trace_layout *l, size_t leaf,
    size_t *entry, size_t *chunk)
{
	if (leaf >= l->n_leaves) {
		return RF_ERR_RANGE;
	}
	/* The last entry whose first leaf is <= leaf. */
	size_t lo = 0, hi = l->n_entries;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (l->first[mid] <= leaf) {
			lo = mid;
		} else {
			hi = mid;
		}
	}
	*entry = lo;
	*chunk = leaf - l->first[lo];
	return RF_OK;
}

static int
trace_run(enum proto_hash suite, const struct engine_model *m,
    const struct proto_trace_layout *l,
    const struct tensor *inputs, size_t n_inputs, struct tensor *outputs,
    enum engine_kernels kernels, struct proto_digest **leaves, size_t *n,
    struct proto_digest *root, struct rf_errinfo *ei)
{
	struct proto_trace tr;
	struct engine_run_opts o;
	proto_trace_init(&tr, suite);
	tr.layout = l;
	engine_run_opts_init(&o);
	o.kernels = kernels;
	o.trace = proto_trace_hook;
	o.trace_ctx = &tr;
	int err = engine_run(m, inputs, n_inputs, outputs, &o, ei);
	if (err == RF_ERR_ABORTED && tr.err != RF_OK) {
		err = rf_errf(ei, tr.err, "trace commitment: %s",
		    rf_strerror(tr.err));
	}
	if (err == RF_OK) {
		err = proto_trace_root(&tr, root);
	}
	if (err != RF_OK) {
		proto_trace_fini(&tr);
		return err;
	}
	if (l != NULL && tr.n != l->n_leaves) {
		proto_trace_fini(&tr);
		return rf_errf(ei, RF_ERR_INVAL, "the run gave %zu leaves, the "
		    "layout %zu", tr.n, l->n_leaves);
	}
	*leaves = tr.leaves;
	*n = tr.n;
	return RF_OK;
}

int
proto_trace_run(enum proto_hash suite, const struct engine_model *m,
    const struct tensor *inputs, size_t n_inputs, struct tensor *outputs,
    enum engine_kernels kernels, struct proto_digest **leaves, size_t *n,
    struct proto_digest *root, struct rf_errinfo *ei)
{
	return trace_run(suite, m, NULL, inputs, n_inputs, outputs, kernels,
	    leaves, n, root, ei);
}

int
proto_trace_run_chunked(enum proto_hash suite,
    const struct engine_model *m, const struct proto_trace_layout *l,
    const struct tensor *inputs, size_t n_inputs, struct tensor *outputs,
    enum engine_kernels kernels, struct proto_digest **leaves, size_t *n,
    struct proto_digest *root, struct rf_errinfo *ei)
{
	return trace_run(suite, m, l, inputs, n_inputs, outputs, kernels,
	    leaves, n, root, ei);
}

/* ------------------------------------------------------------------ */
/* Model identity                                                       */
/* ------------------------------------------------------------------ */

int
proto_model_leaves(enum proto_hash suite, const struct engine_model *m,
    struct proto_digest **leaves, size_t *n)
{
	size_t weights = 0;
	size_t nv = engine_model_value_count(m);
	for (size_t v = 0; v < nv; v++) {
		struct engine_value_info vi;
		engine_model_value(m, (int)v, &vi);
		weights += vi.kind == ENGINE_VALUE_WEIGHT;
	}
	if (!engine_model_has_weights(m)) {
		return RF_ERR_INVAL;
	}
	struct proto_digest *l = malloc((weights + 1) * sizeof(*l));
	if (l == NULL) {
		return RF_ERR_NOMEM;
	}
	uint8_t *graph;
	size_t glen;
	int err = engine_model_encode_graph(m, &graph, &glen);
	if (err != RF_OK) {
		free(l);
		return err;
	}
	proto_merkle_leaf_hash(suite, graph, glen, &l[0]);
	free(graph);
	size_t k = 1;
	for (size_t v = 0; v < nv; v++) {
		struct engine_value_info vi;
		engine_model_value(m, (int)v, &vi);
		if (vi.kind == ENGINE_VALUE_WEIGHT) {
			err = proto_chunked_leaf(suite, vi.weight, &l[k++]);
			if (err != RF_OK) {
				free(l);
				return err;
			}
		}
	}
	*leaves = l;
	*n = weights + 1;
	return RF_OK;
}

int
proto_model_id(enum proto_hash suite, const struct engine_model *m,
    struct proto_digest *id)
{
	struct proto_digest *leaves;
	size_t n;
	int err = proto_model_leaves(suite, m, &leaves, &n);
	if (err != RF_OK) {
		return err;
	}
	proto_merkle_root(suite, leaves, n, id);
	free(leaves);
	return RF_OK;
}

int
proto_model_weight_leaf(const struct engine_model *m, int value,
    size_t *leaf_index)
{
	struct engine_value_info vi;
	if (engine_model_value(m, value, &vi) != RF_OK ||
	    vi.kind != ENGINE_VALUE_WEIGHT) {
		return RF_ERR_INVAL;
	}
	size_t rank = 0;
	for (int v = 0; v < value; v++) {
		engine_model_value(m, v, &vi);
		rank += vi.kind == ENGINE_VALUE_WEIGHT;
	}
	*leaf_index = 1 + rank;
	return RF_OK;
}

int
proto_model_chunk_proof(enum proto_hash suite, const struct engine_model *m,
    int value, size_t chunk, struct proto_digest *path, size_t *path_len)
{
	struct engine_value_info vi;
	size_t leaf;
	int err = proto_model_weight_leaf(m, value, &leaf);
	if (err != RF_OK) {
		return err;
	}
	engine_model_value(m, value, &vi);
	struct proto_digest *cl = NULL, *ml = NULL;
	size_t ncl = 0, nml = 0, a = 0, b = 0;
	err = proto_chunk_leaves(suite, vi.weight, &cl, &ncl);
	if (err == RF_OK && chunk >= ncl) {
		err = RF_ERR_RANGE;
	}
	if (err == RF_OK && ncl > 1) {
		err = proto_merkle_inclusion_proof(suite, cl, ncl, chunk, path, &a);
	}
	if (err == RF_OK) {
		err = proto_model_leaves(suite, m, &ml, &nml);
	}
	if (err == RF_OK && a + proto_merkle_path_len(leaf, nml) >
	    MERKLE_MAX_PROOF) {
		err = RF_ERR_RANGE;
	}
	if (err == RF_OK) {
		err = proto_merkle_inclusion_proof(suite, ml, nml, leaf, path + a,
		    &b);
	}
	free(cl);
	free(ml);
	if (err == RF_OK) {
		*path_len = a + b;
	}
	return err;
}

int
proto_model_chunk_verify(enum proto_hash suite,
    const struct proto_digest *model_id, size_t model_leaves,
    size_t weight_leaf, const struct tensor *weight_shape, size_t chunk,
    const struct tensor *data, const struct proto_digest *path,
    size_t path_len)
{
	size_t nc = engine_chunk_count(weight_shape->dtype, weight_shape->rank,
	    weight_shape->dims);
	if (chunk >= nc || weight_leaf == 0 || weight_leaf >= model_leaves) {
		return RF_ERR_CRYPTO;
	}
	struct proto_digest leaf;
	if (proto_chunk_leaf(suite, weight_shape, chunk, data, &leaf) != RF_OK) {
		return RF_ERR_CRYPTO;
	}
	size_t a = nc > 1 ? proto_merkle_path_len(chunk, nc) : 0;
	if (a > path_len) {
		return RF_ERR_CRYPTO;
	}
	if (nc > 1 && proto_merkle_inclusion_root(suite, &leaf, chunk, nc, path,
	    a, &leaf) != RF_OK) {
		return RF_ERR_CRYPTO;
	}
	return proto_merkle_inclusion_verify(suite, &leaf, weight_leaf,
	    model_leaves, path + a, path_len - a, model_id);
}

void
proto_job_id(enum proto_hash suite, const struct proto_digest *model_id,
    const struct proto_pubkey *client, uint64_t nonce,
    const struct proto_digest *input_leaves, size_t n_inputs,
    struct proto_digest *out)
{
	uint8_t buf[16 + PROTO_DIGEST_MAX * (1 + PROTO_MAX_TENSORS) +
	    PROTO_KEY_LEN + 8];
	size_t hl = proto_hash_len(suite);
	size_t n = 0;
	memcpy(buf, "refute-job", 10);
	n += 10;
	memcpy(buf + n, model_id->b, hl);
	n += hl;
	memcpy(buf + n, client->b, PROTO_KEY_LEN);
	n += PROTO_KEY_LEN;
	put_u64(buf + n, nonce);
	n += 8;
	for (size_t i = 0; i < n_inputs && i < PROTO_MAX_TENSORS; i++) {
		memcpy(buf + n, input_leaves[i].b, hl);
		n += hl;
	}
	proto_hash(suite, buf, n, out);
}

void
proto_dispute_id(enum proto_hash suite, const struct proto_digest *job,
    const struct proto_pubkey *challenger, struct proto_digest *out)
{
	uint8_t buf[14 + PROTO_DIGEST_MAX + PROTO_KEY_LEN];
	size_t hl = proto_hash_len(suite);
	memcpy(buf, "refute-dispute", 14);
	memcpy(buf + 14, job->b, hl);
	memcpy(buf + 14 + hl, challenger->b, PROTO_KEY_LEN);
	proto_hash(suite, buf, 14 + hl + PROTO_KEY_LEN, out);
}
