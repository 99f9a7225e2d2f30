/*
 * fuzz/msg_fuzz.c - libFuzzer target for the message codec (make fuzz).
 *
 * Each input goes through proto_msg_open and its type's body decoder, the
 * real entry points, which the signature gates: mutated inputs mostly
 * stop there. So each input also goes through proto_msg_open_unverified,
 * which lets it reach the body decoders. Whatever they accept must be
 * something we could have sent: re-encoded under a fixed test identity, its header fields and body must
 * be byte-identical to the input's (the encoding is canonical), and the
 * re-encoding must decode, signature checked, and encode to itself again.
 * Any difference aborts, which libFuzzer reports as a crash.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/protocol_int.h"

#define HDR 52

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct proto_identity fuzz_id;

static void
die(const char *what, const char *type, const char *detail)
{
	fprintf(stderr, "msg_fuzz: %s (%s): %s\n", what,
	    type != NULL ? type : "?", detail);
	abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t seed[32];
	if (proto_init() != RF_OK) {
		die("proto_init failed", NULL, "libsodium");
	}
	memset(seed, 0xf2, sizeof(seed));
	proto_identity_from_seed(&fuzz_id, seed);
	return 0;
}

/* Opens and decodes any type's body into a buffer of its size. */
static int
decode_any(const uint8_t *data, size_t size, bool verify,
    struct proto_env *env, void **body, struct rf_errinfo *ei)
{
	int err = verify ? proto_msg_open(data, size, env, ei) :
	    proto_msg_open_unverified(data, size, env, ei);
	if (err != RF_OK) {
		return err;
	}
	size_t n = proto_msg_body_size(env->type);
	*body = calloc(1, n > 0 ? n : 1);
	if (*body == NULL) {
		return RF_ERR_NOMEM;
	}
	err = proto_msg_body_decode(env, *body, n, ei);
	if (err != RF_OK) {
		free(*body);
		*body = NULL;
	}
	return err;
}

static void
free_any(const struct proto_env *env, void *body)
{
	if (body != NULL) {
		proto_msg_body_free(env->type, body);
		free(body);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_env env, again;
	void *body = NULL, *body2 = NULL;
	struct rf_errinfo ei = { "" };
	uint8_t *buf, *buf2;
	size_t len, len2;

	if (decode_any(data, size, true, &env, &body, &ei) == RF_OK) {
		free_any(&env, body);
		body = NULL;
	}
	if (decode_any(data, size, false, &env, &body, &ei) != RF_OK) {
		return 0;
	}
	const char *type = proto_msg_type_name(env.type);
	int err = proto_msg_encode((enum proto_msg_type)env.type,
	    env.type == PROTO_MSG_STATUS_QUERY ? NULL : body,
	    (enum proto_hash)env.suite, env.seq, &fuzz_id, &buf, &len);
	if (err != RF_OK) {
		die("decoded but cannot re-encode", type, rf_strerror(err));
	}
	/* Same magic, version, type, suite, flags, seq, body length and
	 * body: only the sender and the signature may differ. */
	if (len != size || memcmp(buf, data, 8) != 0 ||
	    memcmp(buf + 40, data + 40, len - 40 - PROTO_SIG_LEN) != 0) {
		die("re-encoding differs from the input", type, "not canonical");
	}
	err = decode_any(buf, len, true, &again, &body2, &ei);
	if (err != RF_OK) {
		die("own encoding refused", type, ei.msg);
	}
	err = proto_msg_encode((enum proto_msg_type)again.type,
	    again.type == PROTO_MSG_STATUS_QUERY ? NULL : body2,
	    (enum proto_hash)again.suite, again.seq, &fuzz_id, &buf2, &len2);
	if (err != RF_OK || len2 != len || memcmp(buf, buf2, len) != 0) {
		die("second round trip differs", type, rf_strerror(err));
	}
	free(buf2);
	free(buf);
	free_any(&again, body2);
	free_any(&env, body);
	return 0;
}
