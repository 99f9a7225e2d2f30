/*
 * tests/bisect/random_game_test.c - thousands of dispute games in which
 * one side plays at random among every move it could make, legal or not,
 * against an honest side that plays by the rules: the honest side must win
 * every game, and a move the game ignores must change nothing.
 *
 * Pure: bisect/ alone, real Merkle trees over random leaves, time passed
 * in. The one step uses bisect_reveal_leaf with the true leaf (what the
 * referee's recomputation of the agreed inputs gives); the liar controls
 * everything else it sends. A fixed seed makes every run the same games;
 * RF_RANDOM_GAMES=N plays more, RF_RANDOM_SEED=S others.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bisect/bisect.h"
#include "tests/testlib.h"

#define SUITE PROTO_HASH_BLAKE2B
#define CLOCK 10000
#define GAMES 4000

static uint64_t rng_state;

static uint64_t
rnd(void)
{
	/* xorshift64*: small, fixed, the same everywhere. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static uint64_t
below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static void
random_digest(struct proto_digest *d)
{
	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i < proto_hash_len(SUITE); i++) {
		d->b[i] = (uint8_t)rnd();
	}
}

/* The liar's moves in a query round. */
enum move {
	MOVE_CONSISTENT,  /* its own committed trace's answer (legal) */
	MOVE_HONEST,      /* the honest answer, which its root cannot back */
	MOVE_WRONG_SIZE,  /* the root of a random other size, proof and all */
	MOVE_BAD_PROOF,   /* one proof digest changed */
	MOVE_BAD_ROOT,    /* a random root */
	MOVE_SIZES,       /* asked sizes changed */
	MOVE_COUNT_ROOTS, /* one root too many or too few */
	MOVE_STALE_ROUND, /* another round's number: ignored */
	MOVE_REPEAT,      /* a second answer after its first: ignored */
	MOVE_SILENT,      /* no answer until its clock runs out */
	MOVE_N
};

/* The executor's moves in the reveal. */
enum reveal_move {
	REVEAL_RIGHT,          /* the agreed prefix's frontier */
	REVEAL_OWN_FRONTIER,   /* its own trace's frontier */
	REVEAL_BAD_FRONTIER,   /* a digest changed */
	REVEAL_SHORT_FRONTIER, /* one digest missing */
	REVEAL_OTHER_OP,       /* another operator: ignored */
	REVEAL_SILENT,
	REVEAL_N
};

struct stats {
	uint64_t games, liar_exec, liar_chal, moves[MOVE_N], reveals[REVEAL_N];
	uint64_t by_reason[8], max_rounds;
};

struct game {
	struct bisect_game g;
	size_t n, n_in;
	uint32_t arity;
	struct proto_digest *honest, *lie;
	enum bisect_side liar;
	uint64_t now;
	struct stats *st;
	bool liar_answered;
	uint64_t deviate; /* per mille of the liar's moves that are not its
			   * own trace's answer */
};

/* Applies an answer (and frees it) and checks an ignored one changed
 * nothing. */
static enum bisect_result
answer(struct game *G, enum bisect_side side, struct proto_bisect_answer *a)
{
	struct bisect_game before = G->g;
	enum bisect_result r = bisect_answer(&G->g, side, a, G->now, NULL);
	if (r == BISECT_IGNORED) {
		CU_ASSERT(memcmp(&before, &G->g, sizeof(before)) == 0);
	}
	proto_bisect_answer_free(a);
	return r;
}

/* The liar's answer to q by move m; false when the move sends nothing. */
static bool
liar_answer(struct game *G, const struct proto_bisect_query *q,
    enum move m, struct proto_bisect_answer *a)
{
	const struct proto_digest *own = G->lie;
	if (m == MOVE_HONEST) {
		own = G->honest;
	}
	CU_ASSERT_FATAL(bisect_answer_build(SUITE, own, G->n, q, a) == RF_OK);
	uint8_t i = (uint8_t)below(a->n_roots);
	struct proto_prefix_root *pr = &a->roots[i];
	switch (m) {
	case MOVE_CONSISTENT:
	case MOVE_HONEST:
	case MOVE_REPEAT:
		break;
	case MOVE_WRONG_SIZE: {
		/* A genuine root and proof of its tree, for another size. */
		uint64_t s = 1 + below(G->n);
		size_t plen = 0;
		if (s == pr->size) {
			s = s == G->n ? 1 : s + 1;
		}
		proto_merkle_root(SUITE, own, s, &pr->root);
		free(pr->proof);
		pr->proof = calloc(MERKLE_MAX_PROOF, sizeof(struct proto_digest));
		CU_ASSERT_FATAL(pr->proof != NULL);
		CU_ASSERT_FATAL(proto_merkle_consistency_proof(SUITE, own, G->n, s,
		    pr->proof, &plen) == RF_OK);
		pr->proof_len = (uint8_t)plen;
		break;
	}
	case MOVE_BAD_PROOF:
		if (pr->proof_len > 0) {
			pr->proof[below(pr->proof_len)].b[below(32)] ^=
			    (uint8_t)(1 + below(255));
		} else {
			/* size n has an empty proof: a longer one is bad */
			pr->proof = calloc(MERKLE_MAX_PROOF, sizeof(struct proto_digest));
			CU_ASSERT_FATAL(pr->proof != NULL);
			random_digest(&pr->proof[0]);
			pr->proof_len = 1;
		}
		break;
	case MOVE_BAD_ROOT:
		random_digest(&pr->root);
		break;
	case MOVE_SIZES:
		pr->size = pr->size + 1 + below(3);
		break;
	case MOVE_COUNT_ROOTS:
		if (a->n_roots > 1 && below(2)) {
			a->n_roots--;
		} else if (a->n_roots < BISECT_MAX_SIZES) {
			/* A copy of the last root, owning its own proof. */
			struct proto_prefix_root *last = &a->roots[a->n_roots - 1];
			a->roots[a->n_roots] = *last;
			CU_ASSERT_FATAL(proto_proof_dup(last->proof, last->proof_len,
			    &a->roots[a->n_roots].proof) == RF_OK);
			a->n_roots++;
		} else {
			a->n_roots--;
		}
		break;
	case MOVE_STALE_ROUND:
		a->round = below(2) ? q->round + 1 + (uint32_t)below(3) :
		    q->round - 1;
		break;
	case MOVE_SILENT:
	case MOVE_N:
		return false;
	}
	return true;
}

/* One query round: the honest side answers at a small delay, the liar at
 * its own pace, in time order; the liar may first make moves that are
 * ignored. */
static void
query_round(struct game *G)
{
	struct proto_bisect_query q;
	static const struct proto_digest id;
	bisect_query(&G->g, &id, &q);
	enum bisect_side honest = G->liar == BISECT_EXECUTOR ?
	    BISECT_CHALLENGER : BISECT_EXECUTOR;
	struct proto_bisect_answer *a = malloc(sizeof(*a));
	CU_ASSERT_FATAL(a != NULL);
	uint64_t asked = G->g.asked_ms;
	uint64_t honest_at = asked + 1 + below(40);
	bool honest_done = false;
	G->liar_answered = false;
	/* The liar: a few moves that are ignored or that count, then
	 * possibly silence. */
	for (int tries = 0; tries < 4 && G->g.phase == BISECT_PHASE_QUERY &&
	    G->g.round == q.round; tries++) {
		enum move m = MOVE_CONSISTENT;
		if (below(1000) < G->deviate) {
			m = (enum move)below(MOVE_N);
		}
		if (m == MOVE_REPEAT && !G->liar_answered) {
			m = MOVE_CONSISTENT;
		}
		G->st->moves[m]++;
		uint64_t at = G->now + below(300);
		if (!honest_done && honest_at <= at) {
			G->now = honest_at > G->now ? honest_at : G->now;
			CU_ASSERT_FATAL(bisect_answer_build(SUITE, G->honest, G->n, &q,
			    a) == RF_OK);
			CU_ASSERT_EQUAL_FATAL(answer(G, honest, a), BISECT_ACCEPTED);
			honest_done = true;
			if (G->g.round != q.round || G->g.phase != BISECT_PHASE_QUERY) {
				break;
			}
		}
		if (m == MOVE_SILENT) {
			break;
		}
		G->now = at;
		bool sent = liar_answer(G, &q, m, a);
		if (!sent) {
			proto_bisect_answer_free(a);
			break;
		}
		enum bisect_result r = answer(G, G->liar, a);
		if (m == MOVE_STALE_ROUND || m == MOVE_REPEAT) {
			CU_ASSERT_EQUAL(r, BISECT_IGNORED);
		}
		if (r == BISECT_ACCEPTED) {
			G->liar_answered = true;
		}
		if (r == BISECT_LOST) {
			break;
		}
	}
	if (!honest_done && G->g.phase == BISECT_PHASE_QUERY &&
	    G->g.round == q.round) {
		G->now = G->now > honest_at ? G->now : honest_at;
		CU_ASSERT_FATAL(bisect_answer_build(SUITE, G->honest, G->n, &q,
		    a) == RF_OK);
		CU_ASSERT_EQUAL_FATAL(answer(G, honest, a), BISECT_ACCEPTED);
	}
	free(a);
	/* Still waiting for the liar: it stays silent and its clock ends. */
	if (G->g.phase == BISECT_PHASE_QUERY && G->g.round == q.round) {
		CU_ASSERT(bisect_waiting_for(&G->g, G->liar));
		CU_ASSERT(!bisect_waiting_for(&G->g, honest));
		uint64_t dl = bisect_deadline(&G->g, G->liar);
		if (dl > G->now) {
			CU_ASSERT(!bisect_tick(&G->g, dl - 1));
			G->now = dl;
		}
		CU_ASSERT(bisect_tick(&G->g, G->now));
	}
}

static void
reveal(struct game *G)
{
	size_t lo = (size_t)G->g.lo;
	uint32_t op = (uint32_t)(lo - G->n_in);
	struct proto_digest fr[MERKLE_MAX_PROOF];
	size_t flen = 0;
	if (G->liar == BISECT_CHALLENGER) {
		/* The honest executor reveals the agreed prefix. */
		CU_ASSERT_FATAL(proto_merkle_frontier(SUITE, G->honest, lo, fr, &flen) ==
		    RF_OK);
		G->now += 1 + below(40);
		CU_ASSERT_EQUAL(bisect_reveal_leaf(&G->g, op, fr, flen,
		    &G->honest[lo], G->now, NULL), BISECT_ACCEPTED);
		return;
	}
	for (int tries = 0; tries < 3 && G->g.phase == BISECT_PHASE_REVEAL;
	    tries++) {
		enum reveal_move m = below(1000) < G->deviate ?
		    (enum reveal_move)below(REVEAL_N) : REVEAL_RIGHT;
		G->st->reveals[m]++;
		if (m == REVEAL_SILENT) {
			break;
		}
		const struct proto_digest *src = m == REVEAL_OWN_FRONTIER ?
		    G->lie : G->honest;
		CU_ASSERT_FATAL(proto_merkle_frontier(SUITE, src, lo, fr, &flen) ==
		    RF_OK);
		uint32_t rop = op;
		if (m == REVEAL_BAD_FRONTIER && flen > 0) {
			fr[below(flen)].b[below(32)] ^= 0x80;
		} else if (m == REVEAL_BAD_FRONTIER) {
			random_digest(&fr[0]);
			flen = 1;
		} else if (m == REVEAL_SHORT_FRONTIER && flen > 0) {
			flen--;
		} else if (m == REVEAL_SHORT_FRONTIER) {
			flen = 1;
			random_digest(&fr[0]);
		} else if (m == REVEAL_OTHER_OP) {
			rop = op + 1 + (uint32_t)below(5);
		}
		G->now += below(300);
		struct bisect_game before = G->g;
		/* The recomputed leaf is the truth, whatever the liar says. */
		enum bisect_result r = bisect_reveal_leaf(&G->g, rop, fr, flen,
		    &G->honest[lo], G->now, NULL);
		if (m == REVEAL_OTHER_OP) {
			CU_ASSERT_EQUAL(r, BISECT_IGNORED);
		}
		if (r == BISECT_IGNORED) {
			CU_ASSERT(memcmp(&before, &G->g, sizeof(before)) == 0);
		}
	}
	if (G->g.phase == BISECT_PHASE_REVEAL) {
		uint64_t dl = bisect_deadline(&G->g, BISECT_EXECUTOR);
		G->now = dl > G->now ? dl : G->now;
		CU_ASSERT(bisect_tick(&G->g, G->now));
	}
}

/* One game: returns true when the honest side won. */
static bool
play_one(struct stats *st)
{
	struct game G;
	memset(&G, 0, sizeof(G));
	G.st = st;
	G.n_in = 1 + below(3);
	G.n = G.n_in + 1 + below(below(4) == 0 ? 1000 : 60);
	static const uint32_t arities[] = { 2, 2, 2, 3, 4, 16 };
	G.arity = arities[below(6)];
	G.liar = below(2) ? BISECT_EXECUTOR : BISECT_CHALLENGER;
	/* Liars of every temper: mostly playing their lie, or anything. */
	static const uint64_t tempers[] = { 30, 100, 250, 500, 1000 };
	G.deviate = tempers[below(5)];
	G.honest = malloc(G.n * sizeof(*G.honest));
	G.lie = malloc(G.n * sizeof(*G.lie));
	CU_ASSERT_FATAL(G.honest != NULL && G.lie != NULL);
	for (size_t i = 0; i < G.n; i++) {
		random_digest(&G.honest[i]);
	}
	/* The liar's trace: the real inputs, then a lie somewhere after
	 * them, at one leaf or from there on. */
	memcpy(G.lie, G.honest, G.n * sizeof(*G.lie));
	size_t at = G.n_in + below(G.n - G.n_in);
	bool cascade = below(2);
	for (size_t i = at; i < G.n; i++) {
		if (i == at || cascade) {
			random_digest(&G.lie[i]);
		}
	}
	struct proto_digest hr, lr;
	proto_merkle_root(SUITE, G.honest, G.n, &hr);
	proto_merkle_root(SUITE, G.lie, G.n, &lr);
	/* Sometimes the liar committed to a root of no tree at all. */
	if (below(10) == 0) {
		random_digest(&lr);
	}
	G.now = 1000 + below(1000);
	const struct proto_digest *er = G.liar == BISECT_EXECUTOR ? &lr : &hr;
	const struct proto_digest *cr = G.liar == BISECT_EXECUTOR ? &hr : &lr;
	CU_ASSERT_FATAL(bisect_start(&G.g, SUITE, G.arity, CLOCK, G.n,
	    (uint32_t)G.n_in, G.honest, er, cr, G.now) == RF_OK);
	uint32_t max = bisect_max_rounds(G.n - G.n_in, G.arity);
	while (G.g.phase != BISECT_PHASE_DONE) {
		if (G.g.phase == BISECT_PHASE_QUERY) {
			query_round(&G);
		} else {
			reveal(&G);
		}
	}
	CU_ASSERT(G.g.rounds <= max);
	bool won = G.liar == BISECT_EXECUTOR ? !G.g.executor_won :
	    G.g.executor_won;
	/* A claim shown false by an honest challenger: it was right too. */
	if (G.liar == BISECT_EXECUTOR && won) {
		CU_ASSERT(G.g.challenger_right);
	}
	if (!won) {
		fprintf(stderr, "game %llu: n %zu, inputs %zu, arity %u, liar %s, "
		    "lie at %zu: the liar won (%s)\n",
		    (unsigned long long)st->games, G.n, G.n_in, G.arity,
		    G.liar == BISECT_EXECUTOR ? "executor" : "challenger", at,
		    G.g.why);
	}
	st->games++;
	st->liar_exec += G.liar == BISECT_EXECUTOR;
	st->liar_chal += G.liar == BISECT_CHALLENGER;
	st->by_reason[G.g.reason < 8 ? G.g.reason : 0]++;
	if (G.g.rounds > st->max_rounds) {
		st->max_rounds = G.g.rounds;
	}
	free(G.honest);
	free(G.lie);
	return won;
}

static void
test_random_games(void)
{
	const char *s = getenv("RF_RANDOM_SEED");
	const char *ng = getenv("RF_RANDOM_GAMES");
	rng_state = s != NULL ? strtoull(s, NULL, 10) | 1 : 0x5eed0f6a3e5ull;
	uint64_t games = ng != NULL ? strtoull(ng, NULL, 10) : GAMES;
	struct stats st;
	memset(&st, 0, sizeof(st));
	uint64_t won = 0;
	for (uint64_t i = 0; i < games; i++) {
		won += play_one(&st);
	}
	CU_ASSERT_EQUAL(won, games);
	fprintf(stderr, "\n    %llu games (liar executor %llu, liar challenger "
	    "%llu), honest side won %llu; verdicts: recomputed %llu, bad proof "
	    "%llu, timeout %llu; longest %llu rounds\n",
	    (unsigned long long)st.games, (unsigned long long)st.liar_exec,
	    (unsigned long long)st.liar_chal, (unsigned long long)won,
	    (unsigned long long)st.by_reason[PROTO_VERDICT_RECOMPUTED],
	    (unsigned long long)st.by_reason[PROTO_VERDICT_BAD_PROOF],
	    (unsigned long long)st.by_reason[PROTO_VERDICT_TIMEOUT],
	    (unsigned long long)st.max_rounds);
	fprintf(stderr, "    liar's moves:");
	for (int m = 0; m < MOVE_N; m++) {
		fprintf(stderr, " %llu", (unsigned long long)st.moves[m]);
	}
	fprintf(stderr, "; reveals:");
	for (int m = 0; m < REVEAL_N; m++) {
		fprintf(stderr, " %llu", (unsigned long long)st.reveals[m]);
	}
	fprintf(stderr, "\n");
	/* Every kind of move was tried, again and again. */
	for (int m = 0; m < MOVE_N && games >= GAMES; m++) {
		CU_ASSERT(st.moves[m] >= 10);
	}
	for (int m = 0; m < REVEAL_N && games >= GAMES; m++) {
		CU_ASSERT(st.reveals[m] >= 10);
	}
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "the honest side wins every random game", test_random_games },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "random games", NULL, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
