/*
 * tests/bisect/codec_test.c - the stored form of a dispute game
 * (bisect/codec.c): games at every stage round-trip byte for byte, every
 * truncation and every byte flip of a stored game is refused or decodes
 * to a game the rules can reach (and re-encodes to the same bytes), and a
 * game stored by the referee before the versioned encoding (a memcpy of
 * the struct, tests/data/bisect/legacy_game_v0.bin) loads and plays on to
 * the right verdict.
 *
 * The legacy file was written by the code of commit d0903a8: bisect_start
 * over the synthetic leaves below (executor lying from leaf 17, arity 2,
 * clock 10000 ms, started at 1000 ms), round 1 answered by the executor at
 * 1500 and the challenger at 1700, round 2 by the challenger at 1900; then
 * fwrite(&game, sizeof(game)).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bisect/bisect.h"
#include "tests/testlib.h"

#define SUITE PROTO_HASH_BLAKE2B
#define N 40
#define NI 2
#define LIE 17

static const struct proto_digest dispute_id;

/* The fixture's leaves: the honest trace, or the liar's from LIE on. */
static void
leaves(struct proto_digest *l, int liar)
{
	for (int i = 0; i < N; i++) {
		char b[32];
		int n = snprintf(b, sizeof(b), "leaf %d%s", i,
		    liar && i >= LIE ? " lie" : "");
		proto_merkle_leaf_hash(SUITE, b, (size_t)n, &l[i]);
	}
}

static struct proto_digest honest[N], liar[N];

static int
init(void)
{
	if (proto_init() != RF_OK) {
		return 1;
	}
	leaves(honest, 0);
	leaves(liar, 1);
	return 0;
}

/* One answer from side's leaves; the result of the move. */
static enum bisect_result
answer(struct bisect_game *g, enum bisect_side side,
    const struct proto_digest *l, uint64_t now)
{
	struct proto_bisect_query q;
	struct proto_bisect_answer a;
	bisect_query(g, &dispute_id, &q);
	CU_ASSERT_FATAL(bisect_answer_build(SUITE, l, N, &q, &a) == RF_OK);
	enum bisect_result res = bisect_answer(g, side, &a, now, NULL);
	proto_bisect_answer_free(&a); /* its proofs are allocations */
	return res;
}

/* Plays a game (the executor with exl, the challenger with chl) to its
 * end: both answer every round, then the one step with the honest leaf. */
static void
play_on(struct bisect_game *g, const struct proto_digest *exl,
    const struct proto_digest *chl, uint64_t now)
{
	while (g->phase == BISECT_PHASE_QUERY) {
		if (!g->answered[BISECT_EXECUTOR]) {
			CU_ASSERT_EQUAL_FATAL(answer(g, BISECT_EXECUTOR, exl, ++now),
			    BISECT_ACCEPTED);
		}
		if (g->phase == BISECT_PHASE_QUERY &&
		    !g->answered[BISECT_CHALLENGER]) {
			CU_ASSERT_EQUAL_FATAL(answer(g, BISECT_CHALLENGER, chl,
			    ++now), BISECT_ACCEPTED);
		}
	}
	CU_ASSERT_EQUAL_FATAL(g->phase, BISECT_PHASE_REVEAL);
	struct proto_digest fr[64];
	size_t fl;
	CU_ASSERT_FATAL(proto_merkle_frontier(SUITE, honest, (size_t)g->lo, fr, &fl) ==
	    RF_OK);
	CU_ASSERT_EQUAL(bisect_reveal_leaf(g, g->op, fr, fl, &honest[g->lo],
	    ++now, NULL), BISECT_ACCEPTED);
	CU_ASSERT_EQUAL(g->phase, BISECT_PHASE_DONE);
}

/* Games at every stage of one dispute, each handed to fn. */
static void
each_stage(void (*fn)(const struct bisect_game *))
{
	for (uint32_t arity = 2; arity <= 16; arity += 7) {
		struct bisect_game g;
		struct proto_digest re, rc;
		proto_merkle_root(SUITE, liar, N, &re);
		proto_merkle_root(SUITE, honest, N, &rc);
		CU_ASSERT_FATAL(bisect_start(&g, SUITE, arity, 10000, N, NI,
		    honest, &re, &rc, 1000) == RF_OK);
		uint64_t now = 1000;
		fn(&g);
		while (g.phase == BISECT_PHASE_QUERY) {
			CU_ASSERT_FATAL(answer(&g, BISECT_CHALLENGER, honest, ++now) ==
			    BISECT_ACCEPTED);
			fn(&g);
			CU_ASSERT_FATAL(answer(&g, BISECT_EXECUTOR, liar, ++now) ==
			    BISECT_ACCEPTED);
			fn(&g);
		}
		struct bisect_game timed = g;
		CU_ASSERT(bisect_tick(&timed, now + 20000));
		fn(&timed);
		play_on(&g, liar, honest, now);
		fn(&g);
	}
}

static void
round_trip(const struct bisect_game *g)
{
	uint8_t buf[BISECT_GAME_MAX_ENCODED], again[BISECT_GAME_MAX_ENCODED];
	size_t len, len2;
	CU_ASSERT_FATAL(bisect_game_encode(g, buf, &len) == RF_OK);
	struct bisect_game d;
	int v = -1;
	CU_ASSERT_FATAL(bisect_game_decode(buf, len, &d, &v) == RF_OK);
	CU_ASSERT_EQUAL(v, BISECT_GAME_VERSION);
	CU_ASSERT_FATAL(bisect_game_encode(&d, again, &len2) == RF_OK);
	CU_ASSERT(len == len2 && memcmp(buf, again, len) == 0);
	CU_ASSERT_EQUAL(d.phase, g->phase);
	CU_ASSERT_EQUAL(d.lo, g->lo);
	CU_ASSERT_EQUAL(d.hi, g->hi);
	CU_ASSERT_EQUAL(d.round, g->round);
	CU_ASSERT_EQUAL(d.rounds, g->rounds);
	CU_ASSERT_EQUAL(d.asked_ms, g->asked_ms);
	CU_ASSERT_EQUAL(d.clock_left[0], g->clock_left[0]);
	CU_ASSERT_EQUAL(d.clock_left[1], g->clock_left[1]);
	CU_ASSERT_EQUAL(d.answered[0], g->answered[0]);
	CU_ASSERT_EQUAL(d.answered[1], g->answered[1]);
	CU_ASSERT_EQUAL(d.executor_won, g->executor_won);
	CU_ASSERT_EQUAL(d.challenger_right, g->challenger_right);
	CU_ASSERT_EQUAL(d.reason, g->reason);
	CU_ASSERT_EQUAL(d.op, g->op);
	CU_ASSERT_STRING_EQUAL(d.why, g->why);
	CU_ASSERT(memcmp(&d.lo_root, &g->lo_root, sizeof(d.lo_root)) == 0);
	CU_ASSERT(memcmp(d.hi_root, g->hi_root, sizeof(d.hi_root)) == 0);
	CU_ASSERT(memcmp(d.sizes, g->sizes, g->n_sizes * sizeof(d.sizes[0])) ==
	    0);
}

static void
test_round_trip(void)
{
	each_stage(round_trip);
}

static size_t flips_decoded, flips_refused;

/* Every shorter prefix is refused; every byte flip is refused or gives
 * a game the rules can reach, encoded by exactly the flipped bytes. */
static void
damage(const struct bisect_game *g)
{
	uint8_t buf[BISECT_GAME_MAX_ENCODED];
	size_t len;
	CU_ASSERT_FATAL(bisect_game_encode(g, buf, &len) == RF_OK);
	struct bisect_game d, untouched;
	memset(&untouched, 0x77, sizeof(untouched));
	for (size_t cut = 0; cut < len; cut++) {
		/* A heap copy of exactly cut bytes: ASan sees any overread. */
		uint8_t *p = malloc(cut ? cut : 1);
		memcpy(p, buf, cut);
		d = untouched;
		CU_ASSERT(bisect_game_decode(p, cut, &d, NULL) != RF_OK);
		CU_ASSERT(memcmp(&d, &untouched, sizeof(d)) == 0);
		free(p);
	}
	static const uint8_t masks[] = { 0x01, 0x02, 0x10, 0x80, 0xff };
	uint8_t *p = malloc(len);
	for (size_t i = 0; i < len; i++) {
		for (size_t k = 0; k < sizeof(masks); k++) {
			memcpy(p, buf, len);
			p[i] ^= masks[k];
			if (bisect_game_decode(p, len, &d, NULL) != RF_OK) {
				flips_refused++;
				continue;
			}
			flips_decoded++;
			CU_ASSERT(bisect_game_check(&d) == RF_OK);
			uint8_t again[BISECT_GAME_MAX_ENCODED];
			size_t len2;
			CU_ASSERT_FATAL(bisect_game_encode(&d, again, &len2) == RF_OK);
			CU_ASSERT(len2 == len && memcmp(again, p, len) == 0);
		}
	}
	free(p);
}

static void
test_damage(void)
{
	each_stage(damage);
	/* Both outcomes happen: digests and clocks may take any value,
	 * counts and phases may not. */
	CU_ASSERT(flips_decoded > 0);
	CU_ASSERT(flips_refused > 0);
}

static void
test_refused(void)
{
	struct bisect_game g;
	struct proto_digest re, rc;
	proto_merkle_root(SUITE, liar, N, &re);
	proto_merkle_root(SUITE, honest, N, &rc);
	CU_ASSERT_FATAL(bisect_start(&g, SUITE, 2, 10000, N, NI, honest, &re,
	    &rc, 1000) == RF_OK);
	uint8_t buf[BISECT_GAME_MAX_ENCODED + 1];
	size_t len;
	CU_ASSERT_FATAL(bisect_game_encode(&g, buf, &len) == RF_OK);
	struct bisect_game d;
	/* Another version, a trailing byte, nothing at all. */
	buf[3] = 2;
	CU_ASSERT_EQUAL(bisect_game_decode(buf, len, &d, NULL), RF_ERR_VERSION);
	buf[3] = BISECT_GAME_VERSION;
	buf[len] = 0;
	CU_ASSERT_EQUAL(bisect_game_decode(buf, len + 1, &d, NULL),
	    RF_ERR_FORMAT);
	CU_ASSERT(bisect_game_decode(NULL, 0, &d, NULL) != RF_OK);
	/* States the rules never reach are neither stored nor loaded. */
	struct bisect_game bad = g;
	bad.lo = bad.hi;
	CU_ASSERT_EQUAL(bisect_game_encode(&bad, buf, &len), RF_ERR_INVAL);
	bad = g;
	bad.sizes[0]++;
	CU_ASSERT_EQUAL(bisect_game_encode(&bad, buf, &len), RF_ERR_INVAL);
	bad = g;
	bad.n_sizes = BISECT_MAX_SIZES + 1;
	CU_ASSERT_EQUAL(bisect_game_encode(&bad, buf, &len), RF_ERR_INVAL);
	bad = g;
	bad.phase = BISECT_PHASE_REVEAL;
	CU_ASSERT_EQUAL(bisect_game_encode(&bad, buf, &len), RF_ERR_INVAL);
	bad = g;
	bad.clock_left[1] = UINT64_MAX - 5;
	CU_ASSERT_EQUAL(bisect_game_encode(&bad, buf, &len), RF_ERR_INVAL);
	bad = g;
	bad.executor_won = true;
	CU_ASSERT_EQUAL(bisect_game_encode(&bad, buf, &len), RF_ERR_INVAL);
}

static uint8_t *
read_legacy(size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/bisect/legacy_game_v0.bin",
	    test_data_dir());
	uint8_t *b = test_read_file(path, len);
	CU_ASSERT_FATAL(b != NULL);
	return b;
}

/*
 * The referee decodes and encodes games inside its transactions, under
 * the store lock: the codec allocates nothing, so it has no out-of-memory
 * path to get wrong. Every allocation fails while it runs here.
 */
static void
no_allocation(const struct bisect_game *g)
{
	uint8_t buf[BISECT_GAME_MAX_ENCODED];
	size_t len;
	struct bisect_game d;
	testlib_alloc_fail_at(1, 1);
	int enc = bisect_game_encode(g, buf, &len);
	int dec = enc == RF_OK ? bisect_game_decode(buf, len, &d, NULL) : enc;
	long calls = testlib_alloc_calls();
	testlib_alloc_fail_off();
	CU_ASSERT_EQUAL(enc, RF_OK);
	CU_ASSERT_EQUAL(dec, RF_OK);
	CU_ASSERT_EQUAL(calls, 0);
}

static void
test_no_allocation(void)
{
	each_stage(no_allocation);
	size_t len;
	uint8_t *b = read_legacy(&len);
	CU_ASSERT_FATAL(b != NULL);
	struct bisect_game g;
	testlib_alloc_fail_at(1, 1);
	int dec = bisect_game_decode(b, len, &g, NULL);
	long calls = testlib_alloc_calls();
	testlib_alloc_fail_off();
	CU_ASSERT_EQUAL(dec, RF_OK);
	CU_ASSERT_EQUAL(calls, 0);
	free(b);
}

static void
test_legacy_plays_on(void)
{
	size_t len;
	uint8_t *b = read_legacy(&len);
	CU_ASSERT_EQUAL_FATAL(len, 3552);
	struct bisect_game g;
	int v = -1;
	CU_ASSERT_FATAL(bisect_game_decode(b, len, &g, &v) == RF_OK);
	CU_ASSERT_EQUAL(v, 0);
	/* Where the old referee left it: round 2 over (2, 21], the
	 * challenger has answered, the executor's clock still running. */
	CU_ASSERT_EQUAL(g.phase, BISECT_PHASE_QUERY);
	CU_ASSERT_EQUAL(g.round, 2);
	CU_ASSERT_EQUAL(g.rounds, 1);
	CU_ASSERT_EQUAL(g.lo, 2);
	CU_ASSERT_EQUAL(g.hi, 21);
	CU_ASSERT(!g.answered[BISECT_EXECUTOR] && g.answered[BISECT_CHALLENGER]);
	CU_ASSERT_EQUAL(g.asked_ms, 1700);
	CU_ASSERT_EQUAL(g.clock_left[BISECT_EXECUTOR], 9500);
	CU_ASSERT_EQUAL(g.clock_left[BISECT_CHALLENGER], 9100);
	/* Re-encoded in the current version, it is the same game. */
	uint8_t enc[BISECT_GAME_MAX_ENCODED];
	size_t el;
	CU_ASSERT_FATAL(bisect_game_encode(&g, enc, &el) == RF_OK);
	struct bisect_game g1;
	CU_ASSERT_FATAL(bisect_game_decode(enc, el, &g1, &v) == RF_OK);
	CU_ASSERT_EQUAL(v, BISECT_GAME_VERSION);
	/* Both play on to the verdict: the liar's operator is found and the
	 * honest challenger wins. */
	play_on(&g, liar, honest, 2000);
	play_on(&g1, liar, honest, 2000);
	CU_ASSERT(!g.executor_won && g.challenger_right);
	CU_ASSERT_EQUAL(g.reason, PROTO_VERDICT_RECOMPUTED);
	CU_ASSERT_EQUAL(g.op, LIE - NI);
	CU_ASSERT_EQUAL(g1.op, g.op);
	CU_ASSERT_EQUAL(g1.rounds, g.rounds);
	free(b);
}

static void
test_legacy_damage(void)
{
	size_t len;
	uint8_t *b = read_legacy(&len);
	struct bisect_game d;
	for (size_t cut = 0; cut < len; cut++) {
		CU_ASSERT(bisect_game_decode(b, cut, &d, NULL) != RF_OK);
	}
	size_t ok = 0;
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			b[i] ^= (uint8_t)(1u << bit);
			if (bisect_game_decode(b, len, &d, NULL) == RF_OK) {
				ok++;
				CU_ASSERT(bisect_game_check(&d) == RF_OK);
			}
			b[i] ^= (uint8_t)(1u << bit);
		}
	}
	CU_ASSERT(ok > 0);
	free(b);
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "games at every stage round-trip", test_round_trip },
		{ "truncated or flipped games are refused or valid", test_damage },
		{ "versions, trailing bytes and impossible states",
		    test_refused },
		{ "a legacy game loads and plays on", test_legacy_plays_on },
		{ "damaged legacy games are refused or valid",
		    test_legacy_damage },
		{ "the codec allocates nothing", test_no_allocation },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "bisect codec", init, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
