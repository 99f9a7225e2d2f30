/*
 * protocol/merkle.c - Merkle Tree Hash, inclusion and consistency proofs
 * exactly as RFC 9162 section 2.1 defines them, over either hash suite.
 *
 * Proof generation follows the RFC's recursive definitions (depth is at
 * most 64, the bits of a size_t); verification is the RFC's iterative
 * algorithm, which never trusts the proof's length.
 */
#include <stdlib.h>
#include <string.h>

#include "protocol/protocol_int.h"

void
proto_merkle_leaf_hash(enum proto_hash suite, const void *data, size_t len,
    struct proto_digest *out)
{
	struct proto_hasher h;
	static const uint8_t prefix = 0x00;
	proto_hasher_init(&h, suite);
	proto_hasher_update(&h, &prefix, 1);
	proto_hasher_update(&h, data, len);
	proto_hasher_final(&h, out);
}

void
proto_merkle_node_hash(enum proto_hash suite, const struct proto_digest *l,
    const struct proto_digest *r, struct proto_digest *out)
{
	uint8_t buf[1 + 2 * PROTO_DIGEST_MAX];
	size_t n = proto_hash_len(suite);
	buf[0] = 0x01;
	memcpy(buf + 1, l->b, n);
	memcpy(buf + 1 + n, r->b, n);
	proto_hash(suite, buf, 1 + 2 * n, out);
}

/* Largest power of two strictly below n (n >= 2). */
static size_t
split_point(size_t n)
{
	size_t k = 1;
	while (k << 1 < n) {
		k <<= 1;
	}
	return k;
}

void
proto_merkle_root(enum proto_hash suite, const struct proto_digest *leaves,
    size_t n, struct proto_digest *root)
{
	if (n == 0) {
		proto_hash(suite, NULL, 0, root);
		return;
	}
	/* A stack of perfect subtree roots: merging equal heights as leaves
	 * arrive, then folding right to left, is the RFC's recursion. */
	struct proto_digest stack[MERKLE_MAX_PROOF + 1];
	size_t heights[MERKLE_MAX_PROOF + 1];
	size_t top = 0;
	for (size_t i = 0; i < n; i++) {
		stack[top] = leaves[i];
		heights[top] = 0;
		top++;
		while (top >= 2 && heights[top - 1] == heights[top - 2]) {
			proto_merkle_node_hash(suite, &stack[top - 2], &stack[top - 1],
			    &stack[top - 2]);
			heights[top - 2]++;
			top--;
		}
	}
	struct proto_digest acc = stack[top - 1];
	for (size_t i = top - 1; i-- > 0;) {
		proto_merkle_node_hash(suite, &stack[i], &acc, &acc);
	}
	*root = acc;
}

/* ------------------------------------------------------------------ */
/* Inclusion                                                            */
/* ------------------------------------------------------------------ */

/* PATH(m, D[n]), appended bottom-up after what the recursion below adds. */
static void
path_rec(enum proto_hash suite, const struct proto_digest *leaves, size_t n,
    size_t m, struct proto_digest *path, size_t *len)
{
	if (n <= 1) {
		return;
	}
	size_t k = split_point(n);
	struct proto_digest sibling;
	if (m < k) {
		path_rec(suite, leaves, k, m, path, len);
		proto_merkle_root(suite, leaves + k, n - k, &sibling);
	} else {
		path_rec(suite, leaves + k, n - k, m - k, path, len);
		proto_merkle_root(suite, leaves, k, &sibling);
	}
	path[(*len)++] = sibling;
}

int
proto_merkle_inclusion_proof(enum proto_hash suite,
    const struct proto_digest *leaves, size_t n, size_t index,
    struct proto_digest *path, size_t *path_len)
{
	if (index >= n) {
		return RF_ERR_RANGE;
	}
	size_t len = 0;
	path_rec(suite, leaves, n, index, path, &len);
	*path_len = len;
	return RF_OK;
}

int
proto_merkle_inclusion_root(enum proto_hash suite,
    const struct proto_digest *leaf, size_t index, size_t n,
    const struct proto_digest *path, size_t path_len,
    struct proto_digest *root)
{
	if (index >= n || path_len > MERKLE_MAX_PROOF) {
		return RF_ERR_CRYPTO;
	}
	size_t fn = index, sn = n - 1;
	struct proto_digest r = *leaf;
	for (size_t i = 0; i < path_len; i++) {
		if (sn == 0) {
			return RF_ERR_CRYPTO;
		}
		if ((fn & 1) || fn == sn) {
			proto_merkle_node_hash(suite, &path[i], &r, &r);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			proto_merkle_node_hash(suite, &r, &path[i], &r);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0) {
		return RF_ERR_CRYPTO;
	}
	*root = r;
	return RF_OK;
}

int
proto_merkle_inclusion_verify(enum proto_hash suite,
    const struct proto_digest *leaf, size_t index, size_t n,
    const struct proto_digest *path, size_t path_len,
    const struct proto_digest *root)
{
	struct proto_digest r;
	if (proto_merkle_inclusion_root(suite, leaf, index, n, path, path_len,
	    &r) != RF_OK || !proto_digest_equal(suite, &r, root)) {
		return RF_ERR_CRYPTO;
	}
	return RF_OK;
}

size_t
proto_merkle_path_len(size_t index, size_t n)
{
	/* The walk of proto_merkle_inclusion_root, counting steps. */
	if (index >= n) {
		return 0;
	}
	size_t fn = index, sn = n - 1, len = 0;
	while (sn != 0) {
		if ((fn & 1) || fn == sn) {
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		}
		fn >>= 1;
		sn >>= 1;
		len++;
	}
	return len;
}

/* ------------------------------------------------------------------ */
/* Consistency                                                          */
/* ------------------------------------------------------------------ */

/* SUBPROOF(m, D[n], b) */
static void
subproof(enum proto_hash suite, const struct proto_digest *leaves, size_t n,
    size_t m, bool b, struct proto_digest *path, size_t *len)
{
	if (m == n) {
		if (!b) {
			proto_merkle_root(suite, leaves, n, &path[(*len)++]);
		}
		return;
	}
	size_t k = split_point(n);
	struct proto_digest other;
	if (m <= k) {
		subproof(suite, leaves, k, m, b, path, len);
		proto_merkle_root(suite, leaves + k, n - k, &other);
	} else {
		subproof(suite, leaves + k, n - k, m - k, false, path, len);
		proto_merkle_root(suite, leaves, k, &other);
	}
	path[(*len)++] = other;
}

int
proto_merkle_consistency_proof(enum proto_hash suite,
    const struct proto_digest *leaves, size_t n, size_t m,
    struct proto_digest *path, size_t *path_len)
{
	if (m == 0 || m > n) {
		return RF_ERR_RANGE;
	}
	size_t len = 0;
	subproof(suite, leaves, n, m, true, path, &len);
	*path_len = len;
	return RF_OK;
}

int
proto_merkle_consistency_verify(enum proto_hash suite, size_t m, size_t n,
    const struct proto_digest *root_m, const struct proto_digest *root_n,
    const struct proto_digest *path, size_t path_len)
{
	if (m == 0 || m > n || path_len > MERKLE_MAX_PROOF) {
		return RF_ERR_CRYPTO;
	}
	if (m == n) {
		return path_len == 0 && proto_digest_equal(suite, root_m, root_n) ?
		    RF_OK : RF_ERR_CRYPTO;
	}
	/* When m is a power of two its root is the proof's implicit first
	 * element. */
	struct proto_digest first;
	const struct proto_digest *rest = path;
	size_t rest_len = path_len;
	if ((m & (m - 1)) == 0) {
		first = *root_m;
	} else {
		if (path_len == 0) {
			return RF_ERR_CRYPTO;
		}
		first = path[0];
		rest = path + 1;
		rest_len = path_len - 1;
	}
	size_t fn = m - 1, sn = n - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	struct proto_digest fr = first, sr = first;
	for (size_t i = 0; i < rest_len; i++) {
		if (sn == 0) {
			return RF_ERR_CRYPTO;
		}
		if ((fn & 1) || fn == sn) {
			proto_merkle_node_hash(suite, &rest[i], &fr, &fr);
			proto_merkle_node_hash(suite, &rest[i], &sr, &sr);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			proto_merkle_node_hash(suite, &sr, &rest[i], &sr);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || !proto_digest_equal(suite, &fr, root_m) ||
	    !proto_digest_equal(suite, &sr, root_n)) {
		return RF_ERR_CRYPTO;
	}
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Frontier                                                             */
/* ------------------------------------------------------------------ */

int
proto_merkle_frontier(enum proto_hash suite, const struct proto_digest *leaves,
    size_t n, struct proto_digest *frontier, size_t *len)
{
	size_t count = 0;
	size_t start = 0;
	/* Perfect subtrees of sizes given by n's bits, largest first. */
	for (int bit = (int)(8 * sizeof(size_t)) - 1; bit >= 0; bit--) {
		size_t size = (size_t)1 << bit;
		if (n & size) {
			if (count >= MERKLE_MAX_PROOF) {
				return RF_ERR_RANGE;
			}
			proto_merkle_root(suite, leaves + start, size, &frontier[count++]);
			start += size;
		}
	}
	*len = count;
	return RF_OK;
}

void
proto_merkle_frontier_root(enum proto_hash suite,
    const struct proto_digest *frontier, size_t len,
    struct proto_digest *root)
{
	if (len == 0) {
		proto_hash(suite, NULL, 0, root);
		return;
	}
	struct proto_digest acc = frontier[len - 1];
	for (size_t i = len - 1; i-- > 0;) {
		proto_merkle_node_hash(suite, &frontier[i], &acc, &acc);
	}
	*root = acc;
}

void
proto_merkle_frontier_append(enum proto_hash suite,
    const struct proto_digest *frontier, size_t len,
    const struct proto_digest *leaf, struct proto_digest *root)
{
	struct proto_digest acc = *leaf;
	for (size_t i = len; i-- > 0;) {
		proto_merkle_node_hash(suite, &frontier[i], &acc, &acc);
	}
	*root = acc;
}

/* ------------------------------------------------------------------ */
/* A tree kept in memory: proofs in O(log^2 n) hashes                    */
/* ------------------------------------------------------------------ */

int
proto_merkle_tree_build(enum proto_hash suite,
    const struct proto_digest *leaves, size_t n, struct proto_merkle_tree *t)
{
	memset(t, 0, sizeof(*t));
	t->suite = suite;
	t->n = n;
	t->level[0] = leaves;
	size_t cnt = n;
	int k = 0;
	while (cnt >= 2 && k + 1 < MERKLE_MAX_PROOF) {
		size_t up = cnt / 2;
		struct proto_digest *lv = malloc(up * sizeof(*lv));
		if (lv == NULL) {
			proto_merkle_tree_free(t);
			return RF_ERR_NOMEM;
		}
		for (size_t i = 0; i < up; i++) {
			proto_merkle_node_hash(suite, &t->level[k][2 * i],
			    &t->level[k][2 * i + 1], &lv[i]);
		}
		t->owned[k + 1] = lv;
		t->level[k + 1] = lv;
		cnt = up;
		k++;
	}
	t->levels = k + 1;
	return RF_OK;
}

void
proto_merkle_tree_free(struct proto_merkle_tree *t)
{
	for (int k = 0; k < MERKLE_MAX_PROOF; k++) {
		free(t->owned[k]);
	}
	memset(t, 0, sizeof(*t));
}

/* MTH(D[a : a + len]); a is a multiple of the largest power of two that
 * is at most len, as every left subtree of the RFC's split is. */
static void
tree_mth(const struct proto_merkle_tree *t, size_t a, size_t len,
    struct proto_digest *out)
{
	if (len == 0) {
		proto_hash(t->suite, NULL, 0, out);
		return;
	}
	if ((len & (len - 1)) == 0) {
		int k = __builtin_ctzll(len);
		*out = t->level[k][a >> k];
		return;
	}
	size_t k = split_point(len);
	struct proto_digest l, r;
	tree_mth(t, a, k, &l);
	tree_mth(t, a + k, len - k, &r);
	proto_merkle_node_hash(t->suite, &l, &r, out);
}

void
proto_merkle_tree_root(const struct proto_merkle_tree *t, size_t n,
    struct proto_digest *root)
{
	tree_mth(t, 0, n, root);
}

static void
tree_path(const struct proto_merkle_tree *t, size_t a, size_t n, size_t m,
    struct proto_digest *path, size_t *len)
{
	if (n <= 1) {
		return;
	}
	size_t k = split_point(n);
	struct proto_digest sibling;
	if (m < k) {
		tree_path(t, a, k, m, path, len);
		tree_mth(t, a + k, n - k, &sibling);
	} else {
		tree_path(t, a + k, n - k, m - k, path, len);
		tree_mth(t, a, k, &sibling);
	}
	path[(*len)++] = sibling;
}

int
proto_merkle_tree_inclusion_proof(const struct proto_merkle_tree *t,
    size_t n, size_t index, struct proto_digest *path, size_t *path_len)
{
	if (index >= n || n > t->n) {
		return RF_ERR_RANGE;
	}
	size_t len = 0;
	tree_path(t, 0, n, index, path, &len);
	*path_len = len;
	return RF_OK;
}

int
proto_merkle_tree_frontier(const struct proto_merkle_tree *t, size_t n,
    struct proto_digest *frontier, size_t *len)
{
	if (n > t->n) {
		return RF_ERR_RANGE;
	}
	size_t count = 0, start = 0;
	for (int bit = (int)(8 * sizeof(size_t)) - 1; bit >= 0; bit--) {
		size_t size = (size_t)1 << bit;
		if (n & size) {
			tree_mth(t, start, size, &frontier[count++]);
			start += size;
		}
	}
	*len = count;
	return RF_OK;
}

/* SUBPROOF(m, D[a : a + n], b) from the tree. */
static void
tree_subproof(const struct proto_merkle_tree *t, size_t a, size_t n,
    size_t m, bool b, struct proto_digest *path, size_t *len)
{
	if (m == n) {
		if (!b) {
			tree_mth(t, a, n, &path[(*len)++]);
		}
		return;
	}
	size_t k = split_point(n);
	struct proto_digest other;
	if (m <= k) {
		tree_subproof(t, a, k, m, b, path, len);
		tree_mth(t, a + k, n - k, &other);
	} else {
		tree_subproof(t, a + k, n - k, m - k, false, path, len);
		tree_mth(t, a, k, &other);
	}
	path[(*len)++] = other;
}

int
proto_merkle_tree_consistency_proof(const struct proto_merkle_tree *t,
    size_t n, size_t m, struct proto_digest *path, size_t *path_len)
{
	if (m == 0 || m > n || n > t->n) {
		return RF_ERR_RANGE;
	}
	size_t len = 0;
	tree_subproof(t, 0, n, m, true, path, &len);
	*path_len = len;
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* A run of leaves                                                      */
/* ------------------------------------------------------------------ */

int
proto_merkle_tree_range_proof(const struct proto_merkle_tree *t, size_t first,
    size_t count, size_t n, struct proto_digest *path, size_t *path_len)
{
	if (count == 0 || first + count > n || n > t->n) {
		return RF_ERR_RANGE;
	}
	size_t fl = 0, cl = 0;
	int err = proto_merkle_tree_frontier(t, first, path, &fl);
	if (err != RF_OK) {
		return err;
	}
	if (first + count < n) {
		struct proto_digest c[MERKLE_MAX_PROOF];
		err = proto_merkle_tree_consistency_proof(t, n, first + count, c,
		    &cl);
		if (err != RF_OK) {
			return err;
		}
		if (fl + cl > MERKLE_MAX_PROOF) {
			return RF_ERR_RANGE;
		}
		memcpy(path + fl, c, cl * sizeof(c[0]));
	}
	*path_len = fl + cl;
	return RF_OK;
}

int
proto_merkle_range_verify(enum proto_hash suite, size_t first,
    const struct proto_digest *leaves, size_t count, size_t n,
    const struct proto_digest *path, size_t path_len,
    const struct proto_digest *root)
{
	size_t fl = (size_t)__builtin_popcountll(first);
	if (count == 0 || first + count < first || first + count > n ||
	    path_len > MERKLE_MAX_PROOF || path_len < fl) {
		return RF_ERR_CRYPTO;
	}
	/* The frontier's perfect subtrees, then each leaf, merged as
	 * proto_merkle_root merges them: the root of size first + count. */
	struct proto_digest stack[MERKLE_MAX_PROOF + 1];
	size_t heights[MERKLE_MAX_PROOF + 1];
	size_t top = 0;
	for (int bit = 63; bit >= 0; bit--) {
		if (first & ((size_t)1 << bit)) {
			stack[top] = path[top];
			heights[top] = (size_t)bit;
			top++;
		}
	}
	for (size_t i = 0; i < count; i++) {
		stack[top] = leaves[i];
		heights[top] = 0;
		top++;
		while (top >= 2 && heights[top - 1] == heights[top - 2]) {
			proto_merkle_node_hash(suite, &stack[top - 2], &stack[top - 1],
			    &stack[top - 2]);
			heights[top - 2]++;
			top--;
		}
	}
	struct proto_digest acc = stack[top - 1];
	for (size_t i = top - 1; i-- > 0;) {
		proto_merkle_node_hash(suite, &stack[i], &acc, &acc);
	}
	if (first + count == n) {
		return path_len == fl && proto_digest_equal(suite, &acc, root) ?
		    RF_OK : RF_ERR_CRYPTO;
	}
	return proto_merkle_consistency_verify(suite, first + count, n, &acc,
	    root, path + fl, path_len - fl);
}
