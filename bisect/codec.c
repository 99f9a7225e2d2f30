/*
 * bisect/codec.c - the stored form of a dispute game: versioned, bounded,
 * and checked field by field on the way in.
 *
 * The referee keeps every open game in its database and reloads it on each
 * move and after every restart, so a damaged or foreign row must be an
 * error, never a crash or a game in a state the rules cannot reach. The
 * encoding is independent of the compiler's struct layout.
 *
 * Version 1 (all integers little-endian; H = the suite's digest length,
 * 32 for blake2b-256, 16 for xxh3-128; S = n_sizes; I = n_inputs):
 *
 *   offset        size  field
 *   0             3     magic "rfg"
 *   3             1     version (1)
 *   4             1     suite (enum proto_hash)
 *   5             1     arity, 2..PROTO_MAX_ARITY
 *   6             1     phase: 1 query, 2 reveal, 3 done
 *   7             1     I: job inputs, 1..PROTO_MAX_TENSORS
 *   8             1     S: prefix sizes asked, 0..arity-1
 *   9             1     flags: bit 0 executor answered, bit 1 challenger
 *                       answered, bit 2 executor_won, bit 3
 *                       challenger_right, bit 4 loser is the challenger;
 *                       other bits 0
 *   10            1     reason (enum proto_verdict_reason, 0 while open)
 *   11            1     W: length of the why text, 0..159
 *   12            8     n, the committed trace length
 *   20            8     lo
 *   28            8     hi
 *   36            4     round (current query round)
 *   40            4     rounds (query rounds completed)
 *   44            4     op (the disputed operator, once found)
 *   48            8     clock_left, executor (ms)
 *   56            8     clock_left, challenger (ms)
 *   64            8     asked_ms (when the current move was asked)
 *   72            8*S   sizes asked
 *   72+8S         H*I   input leaves
 *   ..            2H    committed roots: executor, challenger
 *   ..            H     lo_root
 *   ..            2H    hi_root: executor, challenger
 *   ..            H*S   executor's answer to each size
 *   ..            H*S   challenger's answer to each size
 *   ..            W     why (text, no NUL)
 *
 * Nothing may follow. The decoder checks every rule the game keeps
 * (n_inputs <= lo < hi <= n; in a query round the sizes are exactly the
 * ones the game asks for (lo, hi); a reveal is of operator lo - I with
 * hi = lo + 1; rounds never exceed what n allows; clocks below 2^62 so
 * deadlines cannot wrap) and rejects anything else; the encoding is
 * canonical, so a blob that decodes re-encodes to the same bytes.
 *
 * Version 0 is what the referee stored before this file existed: a memcpy
 * of struct bisect_game as built on x86-64 (3552 bytes). It is recognised
 * by its size and its first byte (a suite, never 'r'), copied field by
 * field out of a frozen copy of that struct (struct bisect_game_v0 in
 * bisect_int.h), and then checked by the same rules as version 1.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "base/bytes.h"
#include "bisect/bisect_int.h"

#define MAGIC "rfg"
#define HEAD 72
#define CLOCK_MAX ((uint64_t)1 << 62)

enum {
	F_ANSWERED_E = 1,
	F_ANSWERED_C = 2,
	F_EXECUTOR_WON = 4,
	F_CHALLENGER_RIGHT = 8,
	F_LOSER_C = 16,
	F_ALL = 31,
};

static size_t
put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
	}
	return 8;
}

static size_t
put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
	}
	return 4;
}

int
bisect_game_check(const struct bisect_game *g)
{
	if (!proto_hash_valid((int)g->suite) || g->arity < 2 ||
	    g->arity > PROTO_MAX_ARITY || g->n_inputs == 0 ||
	    g->n_inputs > PROTO_MAX_TENSORS || g->n <= g->n_inputs ||
	    g->lo < g->n_inputs || g->lo >= g->hi || g->hi > g->n ||
	    g->n_sizes > g->arity - 1 || g->clock_left[0] >= CLOCK_MAX ||
	    g->clock_left[1] >= CLOCK_MAX || g->asked_ms >= CLOCK_MAX ||
	    g->reason > PROTO_VERDICT_SETTLED ||
	    (g->loser_side != BISECT_EXECUTOR &&
	    g->loser_side != BISECT_CHALLENGER)) {
		return RF_ERR_FORMAT;
	}
	/* Each completed round at least halves (lo, hi) or better, so no
	 * game over n leaves gets past this many. */
	uint32_t max_rounds = bisect_max_rounds(g->n - g->n_inputs, 2);
	if (g->rounds > max_rounds || g->round > max_rounds ||
	    g->rounds > g->round) {
		return RF_ERR_FORMAT;
	}
	size_t why_len = strnlen(g->why, sizeof(g->why));
	if (why_len == sizeof(g->why)) {
		return RF_ERR_FORMAT;
	}
	if ((g->round != g->rounds && g->round != g->rounds + 1) ||
	    g->op >= g->n - g->n_inputs) {
		return RF_ERR_FORMAT;
	}
	/* Only a finished game has an outcome. */
	bool open = g->phase != BISECT_PHASE_DONE;
	if (open && (g->reason != 0 || g->executor_won ||
	    g->challenger_right || g->loser_side != BISECT_EXECUTOR ||
	    why_len != 0)) {
		return RF_ERR_FORMAT;
	}
	switch (g->phase) {
	case BISECT_PHASE_QUERY: {
		struct bisect_game want = *g;
		bisect_split(&want);
		if (g->n_sizes == 0 || g->n_sizes != want.n_sizes ||
		    memcmp(g->sizes, want.sizes, g->n_sizes *
		    sizeof(g->sizes[0])) != 0 || g->round != g->rounds + 1 ||
		    g->op != 0 || (g->answered[0] && g->answered[1])) {
			return RF_ERR_FORMAT;
		}
		break;
	}
	case BISECT_PHASE_REVEAL:
		if (g->hi != g->lo + 1 || g->n_sizes != 0 ||
		    g->op != g->lo - g->n_inputs || g->round != g->rounds ||
		    g->answered[0] || g->answered[1]) {
			return RF_ERR_FORMAT;
		}
		break;
	case BISECT_PHASE_DONE:
		/* The loser lost; a winning challenger's own root may or may
		 * not have been the right one, a losing one's never was. */
		if (g->reason == 0 || g->executor_won !=
		    (g->loser_side == BISECT_CHALLENGER) ||
		    (g->executor_won && g->challenger_right)) {
			return RF_ERR_FORMAT;
		}
		break;
	default:
		return RF_ERR_FORMAT;
	}
	return RF_OK;
}

int
bisect_game_encode(const struct bisect_game *g,
    uint8_t buf[BISECT_GAME_MAX_ENCODED], size_t *len)
{
	if (bisect_game_check(g) != RF_OK) {
		return RF_ERR_INVAL;
	}
	size_t hl = proto_hash_len(g->suite);
	size_t why_len = strlen(g->why);
	uint8_t flags = (uint8_t)((g->answered[0] ? F_ANSWERED_E : 0) |
	    (g->answered[1] ? F_ANSWERED_C : 0) |
	    (g->executor_won ? F_EXECUTOR_WON : 0) |
	    (g->challenger_right ? F_CHALLENGER_RIGHT : 0) |
	    (g->loser_side == BISECT_CHALLENGER ? F_LOSER_C : 0));
	uint8_t *p = buf;
	memcpy(p, MAGIC, 3);
	p += 3;
	*p++ = BISECT_GAME_VERSION;
	*p++ = (uint8_t)g->suite;
	*p++ = (uint8_t)g->arity;
	*p++ = (uint8_t)g->phase;
	*p++ = (uint8_t)g->n_inputs;
	*p++ = g->n_sizes;
	*p++ = flags;
	*p++ = g->reason;
	*p++ = (uint8_t)why_len;
	p += put_u64(p, g->n);
	p += put_u64(p, g->lo);
	p += put_u64(p, g->hi);
	p += put_u32(p, g->round);
	p += put_u32(p, g->rounds);
	p += put_u32(p, g->op);
	p += put_u64(p, g->clock_left[0]);
	p += put_u64(p, g->clock_left[1]);
	p += put_u64(p, g->asked_ms);
	for (size_t i = 0; i < g->n_sizes; i++) {
		p += put_u64(p, g->sizes[i]);
	}
#define PUT_DIGEST(d) do { memcpy(p, (d).b, hl); p += hl; } while (0)
	for (size_t i = 0; i < g->n_inputs; i++) {
		PUT_DIGEST(g->input_leaves[i]);
	}
	PUT_DIGEST(g->committed[0]);
	PUT_DIGEST(g->committed[1]);
	PUT_DIGEST(g->lo_root);
	PUT_DIGEST(g->hi_root[0]);
	PUT_DIGEST(g->hi_root[1]);
	for (size_t s = 0; s < 2; s++) {
		for (size_t i = 0; i < g->n_sizes; i++) {
			PUT_DIGEST(g->answer[s][i]);
		}
	}
#undef PUT_DIGEST
	memcpy(p, g->why, why_len);
	p += why_len;
	*len = (size_t)(p - buf);
	return RF_OK;
}

static void
get_digest(struct rf_reader *r, size_t hl, struct proto_digest *d)
{
	memset(d, 0, sizeof(*d));
	const uint8_t *p = rf_read_bytes(r, hl);
	if (p != NULL) {
		memcpy(d->b, p, hl);
	}
}

static int
decode_v1(const uint8_t *buf, size_t len, struct bisect_game *g)
{
	struct rf_reader r;
	rf_reader_init(&r, buf, len);
	rf_read_bytes(&r, 4); /* magic and version, checked by the caller */
	memset(g, 0, sizeof(*g));
	uint8_t suite = rf_read_u8(&r);
	g->arity = rf_read_u8(&r);
	uint8_t phase = rf_read_u8(&r);
	g->n_inputs = rf_read_u8(&r);
	g->n_sizes = rf_read_u8(&r);
	uint8_t flags = rf_read_u8(&r);
	g->reason = rf_read_u8(&r);
	size_t why_len = rf_read_u8(&r);
	if (r.err != RF_OK) {
		return RF_ERR_TRUNCATED;
	}
	/* Bounds before anything is indexed by these counts. */
	if (!proto_hash_valid(suite) || phase < BISECT_PHASE_QUERY ||
	    phase > BISECT_PHASE_DONE || g->n_inputs == 0 ||
	    g->n_inputs > PROTO_MAX_TENSORS || g->n_sizes > BISECT_MAX_SIZES ||
	    (flags & ~F_ALL) != 0 || why_len >= sizeof(g->why)) {
		return RF_ERR_FORMAT;
	}
	g->suite = (enum proto_hash)suite;
	g->phase = (enum bisect_phase)phase;
	g->answered[0] = (flags & F_ANSWERED_E) != 0;
	g->answered[1] = (flags & F_ANSWERED_C) != 0;
	g->executor_won = (flags & F_EXECUTOR_WON) != 0;
	g->challenger_right = (flags & F_CHALLENGER_RIGHT) != 0;
	g->loser_side = (flags & F_LOSER_C) ? BISECT_CHALLENGER :
	    BISECT_EXECUTOR;
	g->n = rf_read_u64(&r);
	g->lo = rf_read_u64(&r);
	g->hi = rf_read_u64(&r);
	g->round = rf_read_u32(&r);
	g->rounds = rf_read_u32(&r);
	g->op = rf_read_u32(&r);
	g->clock_left[0] = rf_read_u64(&r);
	g->clock_left[1] = rf_read_u64(&r);
	g->asked_ms = rf_read_u64(&r);
	for (size_t i = 0; i < g->n_sizes; i++) {
		g->sizes[i] = rf_read_u64(&r);
	}
	size_t hl = proto_hash_len(g->suite);
	for (size_t i = 0; i < g->n_inputs; i++) {
		get_digest(&r, hl, &g->input_leaves[i]);
	}
	get_digest(&r, hl, &g->committed[0]);
	get_digest(&r, hl, &g->committed[1]);
	get_digest(&r, hl, &g->lo_root);
	get_digest(&r, hl, &g->hi_root[0]);
	get_digest(&r, hl, &g->hi_root[1]);
	for (size_t s = 0; s < 2; s++) {
		for (size_t i = 0; i < g->n_sizes; i++) {
			get_digest(&r, hl, &g->answer[s][i]);
		}
	}
	const uint8_t *why = rf_read_bytes(&r, why_len);
	if (r.err != RF_OK) {
		return RF_ERR_TRUNCATED;
	}
	if (r.left != 0) {
		return RF_ERR_FORMAT;
	}
	if (why_len > 0 && memchr(why, '\0', why_len) != NULL) {
		return RF_ERR_FORMAT;
	}
	memcpy(g->why, why, why_len);
	g->why[why_len] = '\0';
	return RF_OK;
}

/* Today's struct fields, one by one, out of the frozen legacy layout.
 * Enums are read as the integers they were stored as and range-checked
 * by bisect_game_check. */
static int
decode_v0(const uint8_t *buf, size_t len, struct bisect_game *g)
{
	struct bisect_game_v0 o;
	if (len != sizeof(o)) {
		return RF_ERR_FORMAT;
	}
	memcpy(&o, buf, sizeof(o));
	memset(g, 0, sizeof(*g));
	if (!proto_hash_valid((int)o.suite) || o.n_inputs == 0 ||
	    o.n_inputs > PROTO_MAX_TENSORS || o.n_sizes > BISECT_MAX_SIZES ||
	    o.answered[0] > 1 || o.answered[1] > 1 || o.executor_won > 1 ||
	    o.challenger_right > 1) {
		return RF_ERR_FORMAT;
	}
	if (memchr(o.why, '\0', sizeof(o.why)) == NULL) {
		return RF_ERR_FORMAT;
	}
	g->suite = (enum proto_hash)o.suite;
	g->arity = o.arity;
	g->n = o.n;
	g->n_inputs = o.n_inputs;
	size_t hl = proto_hash_len(g->suite);
	/* Digest bytes past the suite's length carry no meaning: zero them,
	 * so that equal games compare equal. */
#define COPY_DIGEST(dst, src) do { \
	memset((dst).b, 0, sizeof((dst).b)); \
	memcpy((dst).b, (src).b, hl); \
} while (0)
	for (size_t i = 0; i < o.n_inputs; i++) {
		COPY_DIGEST(g->input_leaves[i], o.input_leaves[i]);
	}
	COPY_DIGEST(g->committed[0], o.committed[0]);
	COPY_DIGEST(g->committed[1], o.committed[1]);
	g->lo = o.lo;
	g->hi = o.hi;
	COPY_DIGEST(g->lo_root, o.lo_root);
	COPY_DIGEST(g->hi_root[0], o.hi_root[0]);
	COPY_DIGEST(g->hi_root[1], o.hi_root[1]);
	g->phase = (enum bisect_phase)o.phase;
	g->round = o.round;
	g->n_sizes = o.n_sizes;
	memcpy(g->sizes, o.sizes, o.n_sizes * sizeof(o.sizes[0]));
	g->answered[0] = o.answered[0] != 0;
	g->answered[1] = o.answered[1] != 0;
	for (size_t s = 0; s < 2; s++) {
		for (size_t i = 0; i < o.n_sizes; i++) {
			COPY_DIGEST(g->answer[s][i], o.answer[s][i]);
		}
	}
#undef COPY_DIGEST
	g->clock_left[0] = o.clock_left[0];
	g->clock_left[1] = o.clock_left[1];
	g->asked_ms = o.asked_ms;
	g->executor_won = o.executor_won != 0;
	g->challenger_right = o.challenger_right != 0;
	g->reason = o.reason;
	g->loser_side = (enum bisect_side)o.loser_side;
	g->op = o.op;
	g->rounds = o.rounds;
	memcpy(g->why, o.why, sizeof(g->why));
	return RF_OK;
}

int
bisect_game_decode(const uint8_t *buf, size_t len, struct bisect_game *out,
    int *version)
{
	struct bisect_game g;
	int err;
	int v;
	if (len >= 4 && memcmp(buf, MAGIC, 3) == 0) {
		if (buf[3] != BISECT_GAME_VERSION) {
			return RF_ERR_VERSION;
		}
		v = BISECT_GAME_VERSION;
		err = decode_v1(buf, len, &g);
	} else if (len == sizeof(struct bisect_game_v0)) {
		v = 0;
		err = decode_v0(buf, len, &g);
	} else {
		return len < 4 ? RF_ERR_TRUNCATED : RF_ERR_FORMAT;
	}
	if (err == RF_OK && bisect_game_check(&g) != RF_OK) {
		err = RF_ERR_FORMAT;
	}
	if (err != RF_OK) {
		return err;
	}
	*out = g;
	if (version != NULL) {
		*version = v;
	}
	return RF_OK;
}
