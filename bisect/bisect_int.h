/*
 * bisect/bisect_int.h - shared inside bisect/ only.
 */
#ifndef RF_BISECT_INT_H
#define RF_BISECT_INT_H

#include <assert.h>
#include <stddef.h>

#include "bisect/bisect.h"

/* Cuts (lo, hi) into the sizes the current round asks (bisect.c). */
void bisect_split(struct bisect_game *g);

/*
 * Version 0 of the stored game: struct bisect_game exactly as the referee
 * memcpy'd it into its database before the versioned encoding
 * (bisect/codec.c), frozen here so that databases written then still
 * load. Bools are read as bytes and enums as the ints they were, so no
 * stored byte can be an invalid bool or enum value in C; the decoder
 * range-checks them. Never change this struct.
 */
struct bisect_game_v0 {
	int32_t suite;
	uint32_t arity;
	uint64_t n;
	uint32_t n_inputs;
	struct proto_digest input_leaves[64];
	struct proto_digest committed[2];
	uint64_t lo, hi;
	struct proto_digest lo_root;
	struct proto_digest hi_root[2];
	int32_t phase;
	uint32_t round;
	uint8_t n_sizes;
	uint64_t sizes[15];
	uint8_t answered[2];
	struct proto_digest answer[2][15];
	uint64_t clock_left[2];
	uint64_t asked_ms;
	uint8_t executor_won;
	uint8_t challenger_right;
	uint8_t reason;
	int32_t loser_side;
	uint32_t op;
	uint32_t rounds;
	char why[160];
};

/* The layout the old referees wrote (x86-64, LP64: gcc and clang agree). */
static_assert(sizeof(struct proto_digest) == 32, "digest layout");
static_assert(sizeof(struct bisect_game_v0) == 3552, "legacy game size");
static_assert(offsetof(struct bisect_game_v0, input_leaves) == 20,
    "legacy game layout");
static_assert(offsetof(struct bisect_game_v0, phase) == 2248,
    "legacy game layout");
static_assert(offsetof(struct bisect_game_v0, answered) == 2384,
    "legacy game layout");
static_assert(offsetof(struct bisect_game_v0, clock_left) == 3352,
    "legacy game layout");
static_assert(offsetof(struct bisect_game_v0, why) == 3392,
    "legacy game layout");

#endif
