/*
 * protocol/protocol_int.h - shared inside protocol/ only.
 */
#ifndef RF_PROTOCOL_INT_H
#define RF_PROTOCOL_INT_H

#include "protocol/protocol.h"

/* ------------------------------------------------------------------ */
/* BLAKE3 (protocol/blake3*.c), written from the specification          */
/* ------------------------------------------------------------------ */

#define PROTO_B3_BLOCK 64
#define PROTO_B3_CHUNK 1024
/* Chaining values a tree of 2^64 bytes can leave pending. */
#define PROTO_B3_MAX_DEPTH 54

/*
 * Implementations of one operation, all bit-identical: n equal inputs of
 * `blocks` 64-byte blocks each, input i at in + i * stride, each hashed
 * from the chaining value `key` with block counter counter (+ i when
 * inc_counter), every block flagged `flags`, the first also flags_start
 * and the last also flags_end; chaining value i (32 bytes) to out + 32 i.
 * Whole chunks (16 blocks) and parent nodes (one block, stride 64) are
 * the two uses. out may overlap in as the parent layers need: output i
 * is written only after inputs 0..i have been read.
 */
enum proto_b3_path {
	PROTO_B3_PORTABLE = 0,
	PROTO_B3_AVX2 = 1,   /* 8 inputs at once */
	PROTO_B3_AVX512 = 2, /* 16 inputs at once */
};
#define PROTO_B3_NPATHS 3

typedef void proto_b3_many_fn(const uint8_t *in, size_t stride, size_t n,
    size_t blocks, const uint32_t key[8], uint64_t counter, bool inc_counter,
    uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out);

proto_b3_many_fn proto_b3_many_portable;
proto_b3_many_fn proto_b3_many_avx2;
proto_b3_many_fn proto_b3_many_avx512;

/* The compression function: 16 output words (the first 8 are the next
 * chaining value; all 16 are extended output at the root). */
void proto_b3_compress(const uint32_t cv[8], const uint8_t block[64],
    uint8_t block_len, uint64_t counter, uint8_t flags, uint32_t out[16]);

/* True when this CPU can run the path. */
bool proto_b3_path_supported(enum proto_b3_path p);
/* The path chosen at the first call: the best the CPU has, capped by
 * RF_BLAKE3_PATH=portable|avx2|avx512 (a path the CPU lacks falls back
 * to the best one below it; other values are ignored). */
enum proto_b3_path proto_b3_path_default(void);
const char *proto_b3_path_name(enum proto_b3_path p);

/* A streaming BLAKE3 hash (plain or keyed); about 1.8 KB. */
struct proto_blake3 {
	uint32_t key[8];
	uint32_t cv[8];         /* of the chunk being filled */
	uint64_t chunk_counter; /* index of the chunk being filled */
	proto_b3_many_fn *many;
	uint8_t buf[PROTO_B3_BLOCK];
	uint8_t buf_len;
	uint8_t blocks_done;    /* blocks of this chunk already compressed */
	uint8_t flags;          /* 0 or KEYED_HASH */
	uint8_t stack_len;
	uint8_t stack[PROTO_B3_MAX_DEPTH][32];
};

/* key NULL for the plain hash, else the 32-byte key (keyed_hash mode). */
void proto_blake3_init(struct proto_blake3 *s, const uint8_t *key,
    enum proto_b3_path path);
void proto_blake3_update(struct proto_blake3 *s, const void *p, size_t n);
/* Any length of output (the XOF); s is left unchanged. */
void proto_blake3_final(const struct proto_blake3 *s, uint8_t *out,
    size_t out_len);

/* A streaming hash of any suite, sized for every library's state
 * without exposing their headers. */
struct proto_hasher {
	enum proto_hash suite;
	union {
		_Alignas(64) unsigned char b2[384];
		_Alignas(64) unsigned char x3[640];
		struct proto_blake3 b3;
	} u;
};

void proto_hasher_init(struct proto_hasher *h, enum proto_hash suite);
void proto_hasher_update(struct proto_hasher *h, const void *p, size_t n);
/* Writes the digest and wipes the state. */
void proto_hasher_final(struct proto_hasher *h, struct proto_digest *out);

/*
 * proto_msg_open without the signature check, for the fuzzer: it lets
 * mutated bytes reach the body decoders. Never use it on received data.
 */
int proto_msg_open_unverified(const uint8_t *buf, size_t len,
    struct proto_env *env, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

#endif
