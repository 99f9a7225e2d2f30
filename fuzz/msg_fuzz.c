/*
 * fuzz/msg_fuzz.c - libFuzzer target for the message codec (make fuzz).
 *
 * Each input goes through proto_msg_decode, the real entry point, which
 * the signature gates: mutated inputs mostly stop there. So each input
 * also goes through proto_msg_decode_unverified, which reaches the body
 * decoders. Whatever that accepts must be something we could have sent:
 * re-encoded under a fixed test identity, its header fields and body must
 * be byte-identical to the input's (the encoding is canonical), and the
 * re-encoding must decode, signature checked, and encode to itself again.
 * Any difference aborts, which libFuzzer reports as a crash.
 */
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_msg m, again;
	struct rf_errinfo ei = { "" };
	uint8_t *buf, *buf2;
	size_t len, len2;

	if (proto_msg_decode(data, size, &m, &ei) == RF_OK) {
		proto_msg_free(&m);
	}
	if (proto_msg_decode_unverified(data, size, &m, &ei) != RF_OK) {
		return 0;
	}
	const char *type = proto_msg_type_name(m.type);
	m.sender = fuzz_id.pk;
	int err = proto_msg_pack(&m, &fuzz_id, &buf, &len);
	if (err != RF_OK) {
		die("decoded but cannot re-encode", type, rf_strerror(err));
	}
	/* Same magic, version, type, suite, flags, seq, body length and
	 * body: only the sender and the signature may differ. */
	if (len != size || memcmp(buf, data, 8) != 0 ||
	    memcmp(buf + 40, data + 40, len - 40 - PROTO_SIG_LEN) != 0) {
		die("re-encoding differs from the input", type, "not canonical");
	}
	err = proto_msg_decode(buf, len, &again, &ei);
	if (err != RF_OK) {
		die("own encoding refused", type, ei.msg);
	}
	err = proto_msg_pack(&again, &fuzz_id, &buf2, &len2);
	if (err != RF_OK || len2 != len || memcmp(buf, buf2, len) != 0) {
		die("second round trip differs", type, rf_strerror(err));
	}
	free(buf2);
	free(buf);
	proto_msg_free(&again);
	proto_msg_free(&m);
	return 0;
}
