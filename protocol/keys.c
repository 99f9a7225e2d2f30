/*
 * protocol/keys.c - node identities (Ed25519 key pairs), the identity
 * file, and signatures, on libsodium.
 *
 * The identity file is untrusted input (it may be truncated, edited or
 * belong to someone else), so it is parsed strictly, line by line, and
 * its secret key is re-derived from the seed to prove it matches the
 * public line. Every buffer that held secret bytes is wiped before
 * returning, on success and on failure alike.
 *
 * This file and protocol/hash.c are the only places that call libsodium.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "protocol/protocol_int.h"

_Static_assert(PROTO_KEY_LEN == crypto_sign_PUBLICKEYBYTES, "public key");
_Static_assert(PROTO_SECRET_LEN == crypto_sign_SECRETKEYBYTES, "secret key");
_Static_assert(PROTO_SIG_LEN == crypto_sign_BYTES, "signature");
_Static_assert(crypto_sign_SEEDBYTES == 32, "seed");

#define IDENTITY_HEADER "refute-identity"
#define IDENTITY_VERSION 1

int
proto_identity_generate(struct proto_identity *id)
{
	struct proto_identity t;
	if (crypto_sign_keypair(t.pk.b, t.sk) != 0) {
		sodium_memzero(&t, sizeof(t));
		return RF_ERR_CRYPTO;
	}
	*id = t;
	sodium_memzero(&t, sizeof(t));
	return RF_OK;
}

void
proto_random(void *buf, size_t n)
{
	randombytes_buf(buf, n);
}

void
proto_identity_from_seed(struct proto_identity *id, const uint8_t seed[32])
{
	crypto_sign_seed_keypair(id->pk.b, id->sk, seed);
}

void
proto_identity_wipe(struct proto_identity *id)
{
	if (id != NULL) {
		sodium_memzero(id, sizeof(*id));
	}
}

/* ------------------------------------------------------------------ */
/* The identity file                                                    */
/* ------------------------------------------------------------------ */

int
proto_identity_format(const struct proto_identity *id, char *buf, size_t len)
{
	char pk_hex[2 * PROTO_KEY_LEN + 1];
	char sk_hex[2 * PROTO_SECRET_LEN + 1];
	sodium_bin2hex(pk_hex, sizeof(pk_hex), id->pk.b, PROTO_KEY_LEN);
	sodium_bin2hex(sk_hex, sizeof(sk_hex), id->sk, PROTO_SECRET_LEN);
	int n = snprintf(buf, len, "%s %d\npublic %s\nsecret %s\n",
	    IDENTITY_HEADER, IDENTITY_VERSION, pk_hex, sk_hex);
	sodium_memzero(sk_hex, sizeof(sk_hex));
	if (n < 0 || (size_t)n >= len) {
		/* Never leave a partial secret in the caller's buffer. */
		if (len > 0) {
			sodium_memzero(buf, len);
		}
		return RF_ERR_RANGE;
	}
	return RF_OK;
}

/* A cursor over the file's lines; text may hold any bytes, NULs too. */
struct line_reader {
	const char *p;
	size_t left;
};

/*
 * Takes the next line into *line / *n (without its newline). Returns
 * false at the end of the text; *had_newline says whether the line was
 * terminated.
 */
static bool
next_line(struct line_reader *lr, const char **line, size_t *n,
    bool *had_newline)
{
	if (lr->left == 0) {
		return false;
	}
	const char *nl = memchr(lr->p, '\n', lr->left);
	*line = lr->p;
	if (nl == NULL) {
		*n = lr->left;
		*had_newline = false;
		lr->p += lr->left;
		lr->left = 0;
	} else {
		*n = (size_t)(nl - lr->p);
		*had_newline = true;
		lr->p = nl + 1;
		lr->left -= *n + 1;
	}
	return true;
}

/*
 * Decodes "<label> <hex>" of exactly out_len bytes. sodium_hex2bin runs
 * in constant time, which matters for the secret line; it accepts either
 * case, and rejects anything else because no hex_end is passed.
 */
static bool
parse_hex_line(const char *line, size_t n, const char *label, uint8_t *out,
    size_t out_len)
{
	size_t ll = strlen(label);
	size_t bin_len = 0;
	if (n != ll + 1 + 2 * out_len || memcmp(line, label, ll) != 0 ||
	    line[ll] != ' ') {
		return false;
	}
	if (sodium_hex2bin(out, out_len, line + ll + 1, 2 * out_len, NULL,
	    &bin_len, NULL) != 0 || bin_len != out_len) {
		sodium_memzero(out, out_len);
		return false;
	}
	return true;
}

static int
parse_header_line(const char *line, size_t n, struct rf_errinfo *ei)
{
	static const char want[] = IDENTITY_HEADER " 1";
	size_t hl = sizeof(IDENTITY_HEADER) - 1;
	if (n == sizeof(want) - 1 && memcmp(line, want, n) == 0) {
		return RF_OK;
	}
	/* A well-formed header of another version deserves its own code:
	 * the file is fine, this build is too old (or too new). */
	if (n > hl + 1 && n <= hl + 4 && memcmp(line, IDENTITY_HEADER, hl) == 0 &&
	    line[hl] == ' ') {
		unsigned v = 0;
		size_t i;
		for (i = hl + 1; i < n && line[i] >= '0' && line[i] <= '9'; i++) {
			v = v * 10 + (unsigned)(line[i] - '0');
		}
		if (i == n) {
			return rf_errf(ei, RF_ERR_VERSION,
			    "identity: version %u is not supported (this build "
			    "reads version %d)", v, IDENTITY_VERSION);
		}
	}
	return rf_errf(ei, RF_ERR_FORMAT,
	    "identity: line 1: expected '%s %d'", IDENTITY_HEADER,
	    IDENTITY_VERSION);
}

int
proto_identity_parse(const char *text, size_t len, struct proto_identity *id,
    struct rf_errinfo *ei)
{
	struct line_reader lr = { text, len };
	struct proto_identity t;
	struct proto_identity derived;
	uint8_t seed[crypto_sign_SEEDBYTES];
	const char *line;
	size_t n;
	bool nl;
	int err = RF_OK;

	memset(&t, 0, sizeof(t));
	memset(&derived, 0, sizeof(derived));
	memset(seed, 0, sizeof(seed));
	if (!next_line(&lr, &line, &n, &nl)) {
		return rf_errf(ei, RF_ERR_TRUNCATED, "identity: the file is empty");
	}
	err = parse_header_line(line, n, ei);
	if (err != RF_OK) {
		goto done;
	}
	if (!nl || !next_line(&lr, &line, &n, &nl)) {
		err = rf_errf(ei, RF_ERR_TRUNCATED,
		    "identity: the file ends after line 1");
		goto done;
	}
	if (!parse_hex_line(line, n, "public", t.pk.b, PROTO_KEY_LEN)) {
		err = rf_errf(ei, RF_ERR_FORMAT,
		    "identity: line 2: expected 'public <%d hex digits>'",
		    2 * PROTO_KEY_LEN);
		goto done;
	}
	if (!nl || !next_line(&lr, &line, &n, &nl)) {
		err = rf_errf(ei, RF_ERR_TRUNCATED,
		    "identity: the file ends after line 2");
		goto done;
	}
	if (!parse_hex_line(line, n, "secret", t.sk, PROTO_SECRET_LEN)) {
		err = rf_errf(ei, RF_ERR_FORMAT,
		    "identity: line 3: expected 'secret <%d hex digits>'",
		    2 * PROTO_SECRET_LEN);
		goto done;
	}
	if (lr.left != 0) {
		err = rf_errf(ei, RF_ERR_FORMAT,
		    "identity: unexpected text after line 3");
		goto done;
	}
	/* libsodium's secret key is seed || public key; re-deriving the
	 * pair from the seed catches a damaged seed as well as a public
	 * half (or public line) that belongs to another key. */
	crypto_sign_ed25519_sk_to_seed(seed, t.sk);
	crypto_sign_seed_keypair(derived.pk.b, derived.sk, seed);
	if (sodium_memcmp(derived.pk.b, t.pk.b, PROTO_KEY_LEN) != 0 ||
	    sodium_memcmp(derived.sk, t.sk, PROTO_SECRET_LEN) != 0) {
		err = rf_errf(ei, RF_ERR_CRYPTO,
		    "identity: the secret key does not match the public key");
		goto done;
	}
	*id = t;
done:
	sodium_memzero(&t, sizeof(t));
	sodium_memzero(&derived, sizeof(derived));
	sodium_memzero(seed, sizeof(seed));
	return err;
}

/* ------------------------------------------------------------------ */
/* Signatures and public keys                                           */
/* ------------------------------------------------------------------ */

void
proto_sign(const struct proto_identity *id, const void *msg, size_t len,
    uint8_t sig[PROTO_SIG_LEN])
{
	crypto_sign_detached(sig, NULL, msg, len, id->sk);
}

int
proto_verify(const struct proto_pubkey *pk, const void *msg, size_t len,
    const uint8_t sig[PROTO_SIG_LEN])
{
	/* libsodium rejects non-canonical signatures and small-order keys,
	 * so a valid signature cannot be re-shaped into another valid one. */
	return crypto_sign_verify_detached(sig, msg, len, pk->b) == 0 ?
	    RF_OK : RF_ERR_CRYPTO;
}

void
proto_pubkey_hex(const struct proto_pubkey *pk, char out[65])
{
	sodium_bin2hex(out, 65, pk->b, PROTO_KEY_LEN);
}

int
proto_pubkey_parse_hex(const char *hex, struct proto_pubkey *out)
{
	struct proto_pubkey k;
	size_t bin_len = 0;
	if (strnlen(hex, 2 * PROTO_KEY_LEN + 1) != 2 * PROTO_KEY_LEN) {
		return RF_ERR_INVAL;
	}
	if (sodium_hex2bin(k.b, PROTO_KEY_LEN, hex, 2 * PROTO_KEY_LEN, NULL,
	    &bin_len, NULL) != 0 || bin_len != PROTO_KEY_LEN) {
		return RF_ERR_INVAL;
	}
	*out = k;
	return RF_OK;
}

bool
proto_pubkey_is_zero(const struct proto_pubkey *pk)
{
	return sodium_is_zero(pk->b, PROTO_KEY_LEN) == 1;
}
