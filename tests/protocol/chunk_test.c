/*
 * tests/protocol/chunk_test.c - weights committed in chunks inside
 * model_id: the chunk grid covers every element once, small tensors keep
 * their old leaf (and small models their model_id), and every chunk of a
 * large weight is proven with a short path, while a cheater's chunk (from
 * another tensor, another index, another model, altered) never is.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "protocol/protocol.h"
#include "tests/testlib.h"

#define SUITE PROTO_HASH_BLAKE3

static void
fill(struct tensor *t, uint32_t seed)
{
	uint32_t *p = t->data;
	for (size_t i = 0; i < engine_tensor_nbytes(t) / 4; i++) {
		p[i] = seed * 2654435761u + (uint32_t)i * 40503u;
	}
}

/* Every element lies in exactly one chunk, and the copy holds it. */
static void
check_grid(enum tensor_dtype dt, int rank, const int64_t *dims)
{
	struct tensor t;
	CU_ASSERT_FATAL(engine_tensor_init(&t, dt, rank, dims) == RF_OK);
	fill(&t, 7);
	size_t nc = engine_chunk_count(dt, rank, dims);
	size_t es = engine_tensor_dtype_size(dt);
	uint8_t *seen = calloc(t.count ? t.count : 1, 1);
	int64_t c = rank >= 1 ? dims[rank - 1] : 1;
	int64_t r = rank >= 2 ? dims[rank - 2] : 1;
	size_t bad = 0;
	for (size_t i = 0; i < nc; i++) {
		struct engine_chunk ch;
		struct tensor x;
		CU_ASSERT_FATAL(engine_chunk_at(dt, rank, dims, i, &ch) == RF_OK);
		CU_ASSERT_FATAL(engine_chunk_copy(&t, i, &x) == RF_OK);
		if (ch.whole) {
			CU_ASSERT(nc == 1 && engine_tensor_equal(&x, &t));
			engine_tensor_fini(&x);
			memset(seen, 1, t.count);
			continue;
		}
		CU_ASSERT(ch.rows * ch.cols * (int64_t)es <=
		    ENGINE_CHUNK_ONE_LEAF);
		for (int64_t a = 0; a < ch.rows; a++) {
			for (int64_t b = 0; b < ch.cols; b++) {
				size_t at = (size_t)((ch.batch * r + ch.r0 + a) * c +
				    ch.c0 + b);
				seen[at]++;
				bad += memcmp((uint8_t *)x.data +
				    (size_t)(a * ch.cols + b) * es,
				    (uint8_t *)t.data + at * es, es) != 0;
			}
		}
		engine_tensor_fini(&x);
	}
	for (size_t i = 0; i < t.count; i++) {
		bad += seen[i] != 1;
	}
	CU_ASSERT_EQUAL(bad, 0);
	struct engine_chunk ch;
	CU_ASSERT(engine_chunk_at(dt, rank, dims, nc, &ch) == RF_ERR_RANGE);
	free(seen);
	engine_tensor_fini(&t);
}

static void
test_grid(void)
{
	int64_t d1[] = { 20000 };
	int64_t d2[] = { 300, 70 };
	int64_t d3[] = { 3, 100, 70 };
	int64_t d4[] = { 2, 1, 40000 };
	int64_t d5[] = { 64, 64 };
	int64_t d6[] = { 128, 129 };
	check_grid(TENSOR_F32, 1, d1);
	check_grid(TENSOR_F32, 2, d2);
	check_grid(TENSOR_F32, 3, d3);
	check_grid(TENSOR_I32, 3, d4);
	check_grid(TENSOR_F32, 2, d5);
	check_grid(TENSOR_I64, 2, d6);
	/* The boundary: 64 KiB is one chunk, a row more is tiles. */
	int64_t at[] = { 128, 128 }, over[] = { 129, 128 };
	CU_ASSERT_EQUAL(engine_chunk_count(TENSOR_F32, 2, at), 1);
	CU_ASSERT_EQUAL(engine_chunk_count(TENSOR_F32, 2, over), 5 * 4);
	/* The GPT-2 embedding: 50257 x 768 f32 (154 MB). */
	int64_t wte[] = { 50257, 768 };
	CU_ASSERT_EQUAL(engine_chunk_count(TENSOR_F32, 2, wte),
	    (size_t)((50257 + 31) / 32) * 24);
}

/* A model with two large weights of the same shape and small ones. */
static struct engine_model *
wide_model(uint64_t seed)
{
	struct engine_gen_opts o;
	struct engine_model *m;
	engine_gen_opts_init(&o, ENGINE_GEN_MLP);
	o.in_features = 300;
	o.hidden = 300;
	o.out_features = 3;
	o.layers = 3;
	o.batch = 2;
	o.seed = seed;
	CU_ASSERT_FATAL(engine_model_generate(&o, &m, NULL) == RF_OK);
	return m;
}

/* The large weights of m, in value order. */
static size_t
large_weights(const struct engine_model *m, int *vals, size_t cap)
{
	size_t k = 0;
	for (size_t v = 0; v < engine_model_value_count(m); v++) {
		struct engine_value_info vi;
		engine_model_value(m, (int)v, &vi);
		if (vi.kind == ENGINE_VALUE_WEIGHT && k < cap &&
		    engine_tensor_nbytes(vi.weight) > ENGINE_CHUNK_ONE_LEAF) {
			vals[k++] = (int)v;
		}
	}
	return k;
}

static void
test_small_unchanged(void)
{
	/* A model of small weights: model_id is the old one, graph leaf then
	 * each weight's tensor leaf. */
	struct engine_gen_opts o;
	struct engine_model *m;
	engine_gen_opts_init(&o, ENGINE_GEN_MLP);
	CU_ASSERT_FATAL(engine_model_generate(&o, &m, NULL) == RF_OK);
	struct proto_digest l[64], id, old;
	size_t n = 0;
	uint8_t *g;
	size_t glen;
	CU_ASSERT_FATAL(engine_model_encode_graph(m, &g, &glen) == RF_OK);
	proto_merkle_leaf_hash(SUITE, g, glen, &l[n++]);
	free(g);
	for (size_t v = 0; v < engine_model_value_count(m); v++) {
		struct engine_value_info vi;
		engine_model_value(m, (int)v, &vi);
		if (vi.kind == ENGINE_VALUE_WEIGHT) {
			const struct tensor *t = vi.weight;
			CU_ASSERT_FATAL(n < 64);
			proto_tensor_leaf(SUITE, &t, 1, &l[n++]);
		}
	}
	proto_merkle_root(SUITE, l, n, &old);
	CU_ASSERT_FATAL(proto_model_id(SUITE, m, &id) == RF_OK);
	CU_ASSERT(proto_digest_equal(SUITE, &id, &old));
	engine_model_free(m);
}

static void
test_chunk_proofs(void)
{
	struct engine_model *m = wide_model(1), *other = wide_model(2);
	int vals[4], ovals[4];
	CU_ASSERT_FATAL(large_weights(m, vals, 4) >= 2);
	CU_ASSERT_FATAL(large_weights(other, ovals, 4) >= 2);
	struct proto_digest *ml, id, oid;
	size_t nml;
	CU_ASSERT_FATAL(proto_model_leaves(SUITE, m, &ml, &nml) == RF_OK);
	proto_merkle_root(SUITE, ml, nml, &id);
	free(ml);
	CU_ASSERT_FATAL(proto_model_id(SUITE, other, &oid) == RF_OK);
	struct engine_value_info w0, w1, o0;
	engine_model_value(m, vals[0], &w0);
	engine_model_value(m, vals[1], &w1);
	engine_model_value(other, ovals[0], &o0);
	size_t leaf0, leaf1;
	CU_ASSERT_FATAL(proto_model_weight_leaf(m, vals[0], &leaf0) == RF_OK);
	CU_ASSERT_FATAL(proto_model_weight_leaf(m, vals[1], &leaf1) == RF_OK);
	const struct tensor *t0 = w0.weight;
	size_t nc = engine_chunk_count(t0->dtype, t0->rank, t0->dims);
	CU_ASSERT_FATAL(nc > 1);
	size_t bad = 0, cheats = 0;
	for (size_t c = 0; c < nc; c++) {
		struct proto_digest path[MERKLE_MAX_PROOF];
		size_t plen;
		struct tensor x, y;
		CU_ASSERT_FATAL(proto_model_chunk_proof(SUITE, m, vals[0], c, path,
		    &plen) == RF_OK);
		/* Short: log2 of the chunks plus log2 of the leaves. */
		CU_ASSERT(plen == proto_merkle_path_len(c, nc) +
		    proto_merkle_path_len(leaf0, nml));
		CU_ASSERT_FATAL(engine_chunk_copy(t0, c, &x) == RF_OK);
		bad += proto_model_chunk_verify(SUITE, &id, nml, leaf0, t0, c, &x,
		    path, plen) != RF_OK;
		/* Each cheat must fail. */
		/* the wrong index */
		cheats += proto_model_chunk_verify(SUITE, &id, nml, leaf0, t0,
		    (c + 1) % nc, &x, path, plen) == RF_OK;
		/* a proof against another model's id */
		cheats += proto_model_chunk_verify(SUITE, &oid, nml, leaf0, t0, c,
		    &x, path, plen) == RF_OK;
		/* the same chunk of the other weight (same shape) */
		CU_ASSERT_FATAL(engine_chunk_copy(w1.weight, c, &y) == RF_OK);
		cheats += proto_model_chunk_verify(SUITE, &id, nml, leaf0, t0, c,
		    &y, path, plen) == RF_OK;
		/* ... claimed at the other weight's leaf */
		cheats += proto_model_chunk_verify(SUITE, &id, nml, leaf1, t0, c,
		    &x, path, plen) == RF_OK;
		engine_tensor_fini(&y);
		/* the same chunk from the other model */
		CU_ASSERT_FATAL(engine_chunk_copy(o0.weight, c, &y) == RF_OK);
		cheats += proto_model_chunk_verify(SUITE, &id, nml, leaf0, t0, c,
		    &y, path, plen) == RF_OK;
		engine_tensor_fini(&y);
		/* a short or long path */
		cheats += proto_model_chunk_verify(SUITE, &id, nml, leaf0, t0, c,
		    &x, path, plen - 1) == RF_OK;
		path[plen] = path[0];
		cheats += proto_model_chunk_verify(SUITE, &id, nml, leaf0, t0, c,
		    &x, path, plen + 1) == RF_OK;
		/* one bit of the data */
		((uint8_t *)x.data)[c % engine_tensor_nbytes(&x)] ^= 1;
		cheats += proto_model_chunk_verify(SUITE, &id, nml, leaf0, t0, c,
		    &x, path, plen) == RF_OK;
		engine_tensor_fini(&x);
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(cheats, 0);
	/* A chunk of the wrong shape, and an index past the end. */
	struct proto_digest path[MERKLE_MAX_PROOF];
	size_t plen;
	CU_ASSERT(proto_model_chunk_proof(SUITE, m, vals[0], nc, path, &plen) ==
	    RF_ERR_RANGE);
	CU_ASSERT_FATAL(proto_model_chunk_proof(SUITE, m, vals[0], 0, path,
	    &plen) == RF_OK);
	CU_ASSERT(proto_model_chunk_verify(SUITE, &id, nml, leaf0, t0, 0, t0,
	    path, plen) != RF_OK);
	CU_ASSERT(proto_model_chunk_verify(SUITE, &id, nml, leaf0, t0, nc, t0,
	    path, plen) != RF_OK);
	/* The whole-weight leaf is the root over its chunks. */
	struct proto_digest *cl, r, wl;
	size_t ncl;
	CU_ASSERT_FATAL(proto_chunk_leaves(SUITE, t0, &cl, &ncl) == RF_OK);
	CU_ASSERT_EQUAL(ncl, nc);
	proto_merkle_root(SUITE, cl, ncl, &r);
	CU_ASSERT_FATAL(proto_chunked_leaf(SUITE, t0, &wl) == RF_OK);
	CU_ASSERT(proto_digest_equal(SUITE, &r, &wl));
	free(cl);
	engine_model_free(m);
	engine_model_free(other);
}

static void
test_path_len(void)
{
	struct proto_digest leaves[200], path[MERKLE_MAX_PROOF];
	for (size_t i = 0; i < 200; i++) {
		proto_merkle_leaf_hash(SUITE, &i, sizeof(i), &leaves[i]);
	}
	size_t bad = 0;
	for (size_t n = 1; n <= 200; n++) {
		for (size_t i = 0; i < n; i++) {
			size_t len;
			CU_ASSERT_FATAL(proto_merkle_inclusion_proof(SUITE, leaves, n,
			    i, path, &len) == RF_OK);
			bad += len != proto_merkle_path_len(i, n);
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
}

/* The in-memory tree gives the RFC's roots, paths and frontiers for
 * every prefix. */
static void
test_tree(void)
{
	struct proto_digest leaves[300], a[MERKLE_MAX_PROOF], b[MERKLE_MAX_PROOF];
	for (size_t i = 0; i < 300; i++) {
		proto_merkle_leaf_hash(SUITE, &i, sizeof(i), &leaves[i]);
	}
	struct proto_merkle_tree t;
	CU_ASSERT_FATAL(proto_merkle_tree_build(SUITE, leaves, 300, &t) == RF_OK);
	size_t bad = 0;
	for (size_t n = 0; n <= 300; n++) {
		struct proto_digest r1, r2;
		proto_merkle_root(SUITE, leaves, n, &r1);
		proto_merkle_tree_root(&t, n, &r2);
		bad += !proto_digest_equal(SUITE, &r1, &r2);
		size_t la, lb;
		CU_ASSERT_FATAL(proto_merkle_frontier(SUITE, leaves, n, a, &la) ==
		    RF_OK);
		CU_ASSERT_FATAL(proto_merkle_tree_frontier(&t, n, b, &lb) == RF_OK);
		bad += la != lb || memcmp(a, b, la * sizeof(a[0])) != 0;
		for (size_t i = 0; i < n; i++) {
			CU_ASSERT_FATAL(proto_merkle_inclusion_proof(SUITE, leaves, n,
			    i, a, &la) == RF_OK);
			CU_ASSERT_FATAL(proto_merkle_tree_inclusion_proof(&t, n, i, b,
			    &lb) == RF_OK);
			bad += la != lb || memcmp(a, b, la * sizeof(a[0])) != 0;
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
	size_t l;
	CU_ASSERT(proto_merkle_tree_inclusion_proof(&t, 301, 0, a, &l) ==
	    RF_ERR_RANGE);
	proto_merkle_tree_free(&t);
}

/* A run of leaves proven at once: every run of every size up to 70
 * verifies; a changed leaf, a shifted run, a wrong size or root, a bit
 * of the proof flipped, or a proof cut short never does. */
static void
test_range(void)
{
	struct proto_digest leaves[70], path[MERKLE_MAX_PROOF], root, other;
	for (size_t i = 0; i < 70; i++) {
		proto_merkle_leaf_hash(SUITE, &i, sizeof(i), &leaves[i]);
	}
	struct proto_merkle_tree t;
	CU_ASSERT_FATAL(proto_merkle_tree_build(SUITE, leaves, 70, &t) == RF_OK);
	size_t bad = 0, cheats = 0;
	for (size_t n = 1; n <= 70; n++) {
		proto_merkle_root(SUITE, leaves, n, &root);
		proto_merkle_root(SUITE, leaves, n - 1, &other);
		for (size_t a = 0; a < n; a++) {
			for (size_t c = 1; a + c <= n; c++) {
				size_t len;
				CU_ASSERT_FATAL(proto_merkle_tree_range_proof(&t, a, c, n,
				    path, &len) == RF_OK);
				bad += proto_merkle_range_verify(SUITE, a, leaves + a, c, n,
				    path, len, &root) != RF_OK;
				cheats += proto_merkle_range_verify(SUITE, a, leaves + a, c,
				    n, path, len, &other) == RF_OK;
				if (a + c < n) {
					cheats += proto_merkle_range_verify(SUITE, a + 1,
					    leaves + a, c, n, path, len, &root) == RF_OK;
				}
				if (len > 0) {
					cheats += proto_merkle_range_verify(SUITE, a,
					    leaves + a, c, n, path, len - 1, &root) == RF_OK;
					path[len / 2].b[3] ^= 4;
					cheats += proto_merkle_range_verify(SUITE, a,
					    leaves + a, c, n, path, len, &root) == RF_OK;
					path[len / 2].b[3] ^= 4;
				}
				struct proto_digest save = leaves[a + c - 1];
				leaves[a + c - 1].b[0] ^= 1;
				cheats += proto_merkle_range_verify(SUITE, a, leaves + a, c,
				    n, path, len, &root) == RF_OK;
				leaves[a + c - 1] = save;
			}
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(cheats, 0);
	size_t len;
	CU_ASSERT(proto_merkle_tree_range_proof(&t, 3, 0, 10, path, &len) ==
	    RF_ERR_RANGE);
	CU_ASSERT(proto_merkle_tree_range_proof(&t, 3, 8, 10, path, &len) ==
	    RF_ERR_RANGE);
	proto_merkle_tree_free(&t);
}

static int
init(void)
{
	return proto_init() != RF_OK;
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "the chunk grid covers every element once", test_grid },
		{ "small weights keep their leaf and model_id", test_small_unchanged },
		{ "chunk proofs: honest ones verify, cheats fail", test_chunk_proofs },
		{ "path lengths match the proofs", test_path_len },
		{ "a tree in memory proves as the RFC", test_tree },
		{ "a run of leaves proven at once", test_range },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites_info[] = {
		{ "chunk", init, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites_info);
}
