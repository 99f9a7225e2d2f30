/*
 * protocol/protocol_int.h - shared inside protocol/ only.
 */
#ifndef RF_PROTOCOL_INT_H
#define RF_PROTOCOL_INT_H

#include "protocol/protocol.h"

/* A streaming hash of either suite, sized for both libraries' states
 * without exposing their headers. */
struct proto_hasher {
	enum proto_hash suite;
	union {
		_Alignas(64) unsigned char b2[384];
		_Alignas(64) unsigned char x3[640];
	} u;
};

void proto_hasher_init(struct proto_hasher *h, enum proto_hash suite);
void proto_hasher_update(struct proto_hasher *h, const void *p, size_t n);
/* Writes the digest and wipes the state. */
void proto_hasher_final(struct proto_hasher *h, struct proto_digest *out);

/*
 * proto_msg_decode without the signature check, for the fuzzer: it lets
 * mutated bytes reach the body decoders. Never use it on received data.
 */
int proto_msg_decode_unverified(const uint8_t *buf, size_t len,
    struct proto_msg *m, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

#endif
