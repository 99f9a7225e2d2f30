/*
 * tests/protocol/merkle_test.c - RFC 9162 Merkle trees in both suites:
 * roots against a literal transcription of the RFC's recursive definition,
 * inclusion proofs for every index of every size 1..300, consistency
 * proofs for every pair of sizes up to 128, and a flipped bit anywhere in
 * a proof (or a wrong index, size or root) always failing.
 */
#include <stdlib.h>
#include <string.h>

#include "protocol/protocol.h"
#include "tests/testlib.h"

#define MAX_N 300

static const enum proto_hash suites[] = { PROTO_HASH_BLAKE2B,
	PROTO_HASH_XXH3, PROTO_HASH_BLAKE3 };

static void
make_leaves(enum proto_hash s, struct proto_digest *leaves, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t data[8];
		for (int b = 0; b < 8; b++) {
			data[b] = (uint8_t)((i * 2654435761u) >> (b * 3));
		}
		proto_merkle_leaf_hash(s, data, (i % 8) + 1, &leaves[i]);
	}
}

/* MTH(D[n]) written exactly as RFC 9162 2.1.1 states it. */
static void
rfc_mth(enum proto_hash s, const struct proto_digest *d, size_t n,
    struct proto_digest *out)
{
	if (n == 0) {
		proto_hash(s, NULL, 0, out);
		return;
	}
	if (n == 1) {
		*out = d[0];
		return;
	}
	size_t k = 1;
	while (k * 2 < n) {
		k *= 2;
	}
	struct proto_digest l, r;
	rfc_mth(s, d, k, &l);
	rfc_mth(s, d + k, n - k, &r);
	uint8_t buf[1 + 64];
	size_t hl = proto_hash_len(s);
	buf[0] = 1;
	memcpy(buf + 1, l.b, hl);
	memcpy(buf + 1 + hl, r.b, hl);
	proto_hash(s, buf, 1 + 2 * hl, out);
}

static void
test_known_answers(void)
{
	struct proto_digest d;
	char hex[65];
	proto_hash(PROTO_HASH_XXH3, "", 0, &d);
	proto_digest_hex(PROTO_HASH_XXH3, &d, hex);
	CU_ASSERT_STRING_EQUAL(hex, "99aa06d3014798d86001c324468d497f");
	proto_hash(PROTO_HASH_BLAKE2B, "", 0, &d);
	proto_digest_hex(PROTO_HASH_BLAKE2B, &d, hex);
	CU_ASSERT_STRING_EQUAL(hex,
	    "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
	/* The empty input's hash from BLAKE3's test vectors; and the same
	 * input in the two 32-byte suites never gives one digest. */
	struct proto_digest d3;
	proto_hash(PROTO_HASH_BLAKE3, "", 0, &d3);
	proto_digest_hex(PROTO_HASH_BLAKE3, &d3, hex);
	CU_ASSERT_STRING_EQUAL(hex,
	    "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
	CU_ASSERT(!proto_digest_equal(PROTO_HASH_BLAKE3, &d, &d3));
	proto_digest_hex(PROTO_HASH_BLAKE2B, &d, hex);
	/* Leaves and nodes are domain separated: H(0x00 || x) != H(x). */
	struct proto_digest leaf, plain;
	proto_merkle_leaf_hash(PROTO_HASH_BLAKE2B, "abc", 3, &leaf);
	proto_hash(PROTO_HASH_BLAKE2B, "abc", 3, &plain);
	CU_ASSERT(!proto_digest_equal(PROTO_HASH_BLAKE2B, &leaf, &plain));
	uint8_t pre[4] = { 0, 'a', 'b', 'c' };
	proto_hash(PROTO_HASH_BLAKE2B, pre, 4, &plain);
	CU_ASSERT(proto_digest_equal(PROTO_HASH_BLAKE2B, &leaf, &plain));
	/* Hex round trip and rejection. */
	struct proto_digest back;
	CU_ASSERT(proto_digest_parse_hex(PROTO_HASH_BLAKE2B, hex, &back) ==
	    RF_OK);
	CU_ASSERT(proto_digest_equal(PROTO_HASH_BLAKE2B, &d, &back));
	CU_ASSERT(proto_digest_parse_hex(PROTO_HASH_BLAKE2B, "zz", &back) ==
	    RF_ERR_INVAL);
}

static void
test_roots_match_rfc(void)
{
	struct proto_digest leaves[MAX_N];
	for (size_t si = 0; si < sizeof(suites) / sizeof(suites[0]); si++) {
		enum proto_hash s = suites[si];
		make_leaves(s, leaves, MAX_N);
		size_t bad = 0;
		for (size_t n = 0; n <= MAX_N; n++) {
			struct proto_digest a, b;
			proto_merkle_root(s, leaves, n, &a);
			rfc_mth(s, leaves, n, &b);
			bad += !proto_digest_equal(s, &a, &b);
		}
		CU_ASSERT_EQUAL(bad, 0);
	}
}

static void
flip(struct proto_digest *d, size_t bit)
{
	d->b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
}

static void
test_inclusion_all(void)
{
	struct proto_digest leaves[MAX_N];
	struct proto_digest path[MERKLE_MAX_PROOF];
	for (size_t si = 0; si < sizeof(suites) / sizeof(suites[0]); si++) {
		enum proto_hash s = suites[si];
		size_t hl = proto_hash_len(s);
		make_leaves(s, leaves, MAX_N);
		size_t verified = 0, forged_ok = 0, proofs = 0;
		for (size_t n = 1; n <= MAX_N; n++) {
			struct proto_digest root;
			proto_merkle_root(s, leaves, n, &root);
			for (size_t i = 0; i < n; i++) {
				size_t len;
				CU_ASSERT_FATAL(proto_merkle_inclusion_proof(s, leaves, n,
				    i, path, &len) == RF_OK);
				proofs++;
				verified += proto_merkle_inclusion_verify(s, &leaves[i], i,
				    n, path, len, &root) == RF_OK;
				/* One flipped bit in each element. */
				for (size_t e = 0; e < len; e++) {
					size_t bit = (n * 31 + i * 7 + e) % (8 * hl);
					flip(&path[e], bit);
					forged_ok += proto_merkle_inclusion_verify(s,
					    &leaves[i], i, n, path, len, &root) == RF_OK;
					flip(&path[e], bit);
				}
				/* Wrong index, leaf, length, out-of-range index.
				 * (A path can also fit another tree size whose
				 * shape matches; RFC 9162 binds the size through
				 * the signed tree head, as our claims sign n.) */
				if (n > 1) {
					forged_ok += proto_merkle_inclusion_verify(s,
					    &leaves[i], (i + 1) % n, n, path, len,
					    &root) == RF_OK;
				}
				forged_ok += proto_merkle_inclusion_verify(s,
				    &leaves[(i + 1) % MAX_N], i, n, path, len,
				    &root) == RF_OK;
				if (len > 0) {
					forged_ok += proto_merkle_inclusion_verify(s,
					    &leaves[i], i, n, path, len - 1,
					    &root) == RF_OK;
				}
				forged_ok += proto_merkle_inclusion_verify(s, &leaves[i],
				    n, n, path, len, &root) == RF_OK;
			}
		}
		CU_ASSERT_EQUAL(verified, proofs);
		CU_ASSERT_EQUAL(forged_ok, 0);
		CU_ASSERT(proto_merkle_inclusion_proof(s, leaves, 5, 5, path,
		    &(size_t){ 0 }) == RF_ERR_RANGE);
	}
}

static void
test_consistency_all(void)
{
	struct proto_digest leaves[128];
	struct proto_digest path[MERKLE_MAX_PROOF];
	struct proto_digest roots[129];
	for (size_t si = 0; si < sizeof(suites) / sizeof(suites[0]); si++) {
		enum proto_hash s = suites[si];
		size_t hl = proto_hash_len(s);
		make_leaves(s, leaves, 128);
		for (size_t n = 1; n <= 128; n++) {
			proto_merkle_root(s, leaves, n, &roots[n]);
		}
		size_t verified = 0, pairs = 0, forged_ok = 0;
		for (size_t n = 1; n <= 128; n++) {
			for (size_t m = 1; m <= n; m++) {
				size_t len;
				CU_ASSERT_FATAL(proto_merkle_consistency_proof(s, leaves, n,
				    m, path, &len) == RF_OK);
				pairs++;
				verified += proto_merkle_consistency_verify(s, m, n,
				    &roots[m], &roots[n], path, len) == RF_OK;
				for (size_t e = 0; e < len; e++) {
					size_t bit = (n * 13 + m * 5 + e) % (8 * hl);
					flip(&path[e], bit);
					forged_ok += proto_merkle_consistency_verify(s, m, n,
					    &roots[m], &roots[n], path, len) == RF_OK;
					flip(&path[e], bit);
				}
				if (m < n) {
					/* The other side's root, a wrong size. */
					forged_ok += proto_merkle_consistency_verify(s, m, n,
					    &roots[m + 1], &roots[n], path,
					    len) == RF_OK;
					forged_ok += proto_merkle_consistency_verify(s, m, n,
					    &roots[m], &roots[n - 1], path,
					    len) == RF_OK;
					forged_ok += proto_merkle_consistency_verify(s, m + 1,
					    n, &roots[m], &roots[n], path,
					    len) == RF_OK;
				}
			}
		}
		CU_ASSERT_EQUAL(verified, pairs);
		CU_ASSERT_EQUAL(forged_ok, 0);
		size_t len;
		CU_ASSERT(proto_merkle_consistency_proof(s, leaves, 4, 0, path, &len) ==
		    RF_ERR_RANGE);
		CU_ASSERT(proto_merkle_consistency_proof(s, leaves, 4, 5, path, &len) ==
		    RF_ERR_RANGE);
		CU_ASSERT(proto_merkle_consistency_verify(s, 0, 4, &roots[1], &roots[4],
		    path, 0) == RF_ERR_CRYPTO);
	}
}

static void
test_frontier(void)
{
	struct proto_digest leaves[MAX_N + 1];
	struct proto_digest fr[MERKLE_MAX_PROOF];
	for (size_t si = 0; si < sizeof(suites) / sizeof(suites[0]); si++) {
		enum proto_hash s = suites[si];
		make_leaves(s, leaves, MAX_N + 1);
		size_t bad = 0;
		for (size_t n = 0; n <= MAX_N; n++) {
			size_t len;
			struct proto_digest a, b;
			CU_ASSERT_FATAL(proto_merkle_frontier(s, leaves, n, fr, &len) ==
			    RF_OK);
			CU_ASSERT((size_t)__builtin_popcountll(n) == len);
			proto_merkle_frontier_root(s, fr, len, &a);
			proto_merkle_root(s, leaves, n, &b);
			bad += !proto_digest_equal(s, &a, &b);
			proto_merkle_frontier_append(s, fr, len, &leaves[n], &a);
			proto_merkle_root(s, leaves, n + 1, &b);
			bad += !proto_digest_equal(s, &a, &b);
		}
		CU_ASSERT_EQUAL(bad, 0);
	}
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
		{ "known answers and domain separation", test_known_answers },
		{ "roots match the RFC definition", test_roots_match_rfc },
		{ "inclusion: every index of sizes 1..300", test_inclusion_all },
		{ "consistency: every pair up to 128", test_consistency_all },
		{ "frontier folds to the next root", test_frontier },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites_info[] = {
		{ "merkle", init, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites_info);
}
