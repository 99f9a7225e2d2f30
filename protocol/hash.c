/*
 * protocol/hash.c - the hash suites behind every commitment: blake3-256
 * (protocol/blake3.c; the default for new networks: secure and several
 * times faster), blake2b-256 (libsodium; what networks created before
 * blake3 use, kept bit for bit so their roots and stored games stay valid)
 * and xxh3-128 (xxHash; fast, for trusted deployments, simulation and
 * caches: not collision resistant against an attacker who picks the data).
 *
 * This file and protocol/keys.c are the only places that call libsodium or
 * xxHash.
 */
#include <string.h>

#include <sodium.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>
#if defined(__x86_64__) || defined(__i386__)
/* Routes XXH3 calls to the library's AVX2/AVX-512 dispatching variants. */
#include <xxh_x86dispatch.h>
#endif

#include "protocol/protocol_int.h"

_Static_assert(sizeof(((struct proto_hasher *)0)->u.b2) >=
    sizeof(crypto_generichash_state), "blake2b state fits");
_Static_assert(sizeof(((struct proto_hasher *)0)->u.x3) >=
    sizeof(XXH3_state_t), "xxh3 state fits");

bool
proto_hash_valid(int suite)
{
	return suite == PROTO_HASH_BLAKE2B || suite == PROTO_HASH_XXH3 ||
	    suite == PROTO_HASH_BLAKE3;
}

size_t
proto_hash_len(enum proto_hash suite)
{
	return suite == PROTO_HASH_XXH3 ? 16 : 32;
}

const char *
proto_hash_name(enum proto_hash suite)
{
	switch (suite) {
	case PROTO_HASH_BLAKE2B:
		return "blake2b-256";
	case PROTO_HASH_XXH3:
		return "xxh3-128";
	case PROTO_HASH_BLAKE3:
		return "blake3-256";
	}
	return "?";
}

int
proto_hash_parse(const char *name, enum proto_hash *out)
{
	if (strcmp(name, "blake2b") == 0 || strcmp(name, "blake2b-256") == 0) {
		*out = PROTO_HASH_BLAKE2B;
	} else if (strcmp(name, "blake3") == 0 ||
	    strcmp(name, "blake3-256") == 0) {
		*out = PROTO_HASH_BLAKE3;
	} else if (strcmp(name, "xxh3") == 0 ||
	    strcmp(name, "xxh3-128") == 0) {
		*out = PROTO_HASH_XXH3;
	} else {
		return RF_ERR_INVAL;
	}
	return RF_OK;
}

int
proto_init(void)
{
	/* Idempotent and thread-safe in libsodium; -1 only on failure. */
	return sodium_init() < 0 ? RF_ERR_CRYPTO : RF_OK;
}

void
proto_hasher_init(struct proto_hasher *h, enum proto_hash suite)
{
	h->suite = suite;
	if (suite == PROTO_HASH_BLAKE3) {
		/* No memset: the state is 1.8 KB and init sets what is read. */
		proto_blake3_init(&h->u.b3, NULL, proto_b3_path_default());
		return;
	}
	memset(&h->u, 0, sizeof(h->u.x3));
	if (suite == PROTO_HASH_XXH3) {
		XXH3_INITSTATE((XXH3_state_t *)(void *)h->u.x3);
		XXH3_128bits_reset((XXH3_state_t *)(void *)h->u.x3);
	} else {
		crypto_generichash_init(
		    (crypto_generichash_state *)(void *)h->u.b2, NULL, 0, 32);
	}
}

void
proto_hasher_update(struct proto_hasher *h, const void *p, size_t n)
{
	if (n == 0) {
		return;
	}
	if (h->suite == PROTO_HASH_BLAKE3) {
		proto_blake3_update(&h->u.b3, p, n);
	} else if (h->suite == PROTO_HASH_XXH3) {
		XXH3_128bits_update((XXH3_state_t *)(void *)h->u.x3, p, n);
	} else {
		crypto_generichash_update(
		    (crypto_generichash_state *)(void *)h->u.b2, p, n);
	}
}

void
proto_hasher_final(struct proto_hasher *h, struct proto_digest *out)
{
	memset(out, 0, sizeof(*out));
	if (h->suite == PROTO_HASH_BLAKE3) {
		/* Commitments are public data: nothing secret to wipe. */
		proto_blake3_final(&h->u.b3, out->b, 32);
		return;
	}
	if (h->suite == PROTO_HASH_XXH3) {
		XXH128_hash_t v =
		    XXH3_128bits_digest((XXH3_state_t *)(void *)h->u.x3);
		XXH128_canonical_t c;
		/* Canonical (big-endian) form, as xxhsum prints it. */
		XXH128_canonicalFromHash(&c, v);
		memcpy(out->b, c.digest, 16);
	} else {
		crypto_generichash_final(
		    (crypto_generichash_state *)(void *)h->u.b2, out->b, 32);
	}
	sodium_memzero(&h->u, sizeof(h->u.x3));
}

void
proto_hash(enum proto_hash suite, const void *p, size_t n,
    struct proto_digest *out)
{
	memset(out, 0, sizeof(*out));
	if (suite == PROTO_HASH_BLAKE3) {
		struct proto_blake3 s;
		proto_blake3_init(&s, NULL, proto_b3_path_default());
		proto_blake3_update(&s, p, n);
		proto_blake3_final(&s, out->b, 32);
	} else if (suite == PROTO_HASH_XXH3) {
		XXH128_canonical_t c;
		XXH128_canonicalFromHash(&c, XXH3_128bits(p, n));
		memcpy(out->b, c.digest, 16);
	} else {
		crypto_generichash(out->b, 32, p, n, NULL, 0);
	}
}

bool
proto_digest_equal(enum proto_hash suite, const struct proto_digest *a,
    const struct proto_digest *b)
{
	return memcmp(a->b, b->b, proto_hash_len(suite)) == 0;
}

void
proto_digest_hex(enum proto_hash suite, const struct proto_digest *d,
    char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = proto_hash_len(suite);
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[d->b[i] >> 4];
		out[2 * i + 1] = hex[d->b[i] & 15];
	}
	out[2 * n] = '\0';
}

int
proto_digest_parse_hex(enum proto_hash suite, const char *hex,
    struct proto_digest *out)
{
	size_t n = proto_hash_len(suite);
	struct proto_digest d;
	memset(&d, 0, sizeof(d));
	if (strlen(hex) != 2 * n) {
		return RF_ERR_INVAL;
	}
	for (size_t i = 0; i < 2 * n; i++) {
		char c = hex[i];
		int v;
		if (c >= '0' && c <= '9') {
			v = c - '0';
		} else if (c >= 'a' && c <= 'f') {
			v = c - 'a' + 10;
		} else {
			return RF_ERR_INVAL;
		}
		d.b[i / 2] = (uint8_t)(d.b[i / 2] | (v << (i % 2 ? 0 : 4)));
	}
	*out = d;
	return RF_OK;
}
