/*
 * tests/integration/adversary_test.c - attacks on the dispute game against
 * a real referee process, written with the adversary library
 * (tests/adversary/adv.h).
 *
 * Every test is a duel: a client's job, an executor's claim and a
 * challenger's dispute, both sides played by this test, one of them a
 * liar (a consistent lie at one operator) who also tries an attack: an
 * answer out of turn, for another dispute, with wrong sizes, with a bad
 * proof, with a root for the wrong size, a replay of an old move, a move
 * signed by a third account, a reveal of tensors of the wrong shape or
 * dtype, a second answer, silence, a move after the verdict. Each attack
 * is tried with the executor lying and with the challenger lying. The
 * honest side must win every duel, the referee must answer each attack as
 * the rules say (an ignored move changes nothing), and the ledger must be
 * conserved (balances, stakes, escrowed fees, bonds and burned add up to
 * what genesis minted) with the honest side no poorer.
 *
 * The last test plays random games on one referee: at every turn the liar
 * picks any of those moves at random, and the ledger is checked after
 * every game.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "tests/adversary/adv.h"
#include "tests/testlib.h"

/* Duels follow each other on one executor while earlier claims sit in
 * their (long) windows: each claim locks only 1 of the stake as
 * collateral, so the stake covers them all (chain_claim). */
#define CLOCK "clock_ms 3000\nwindow_ms 600000\nclaim_collateral 1\n"
#define BALANCE 100000
#define STAKE 1000
#define BOND 100
#define OPS 6
#define LIE_AT 2 /* operator */
#define RANDOM_GAMES 40

static struct engine_model *model;

/* The attacks, and the plain moves, a liar can make on its turn. */
enum attack {
	ATK_PLAY,          /* its lie, answered consistently (legal) */
	ATK_FUTURE_ROUND,  /* a round not asked yet: ignored */
	ATK_PAST_ROUND,    /* a round already played: ignored */
	ATK_NO_DISPUTE,    /* a dispute that does not exist: refused */
	ATK_OTHER_DISPUTE, /* a dispute it is no party to: refused */
	ATK_THIRD_ACCOUNT, /* its move signed by an outsider: refused */
	ATK_REPLAY,        /* the bytes of its previous move again */
	ATK_TWICE,         /* its answer, then a second one: ignored */
	ATK_WRONG_SIZES,   /* roots for sizes not asked: loses */
	ATK_BAD_PROOF,     /* a consistency proof changed: loses */
	ATK_WRONG_ROOT,    /* the root (and proof) of another size: loses */
	ATK_REVEAL_SHAPE,  /* an operand reshaped: loses */
	ATK_REVEAL_DTYPE,  /* an operand retyped: loses */
	ATK_REVEAL_OTHER,  /* a reveal of another operator: ignored */
	ATK_CHAL_REVEALS,  /* a reveal sent by the challenger: refused */
	ATK_SILENT,        /* nothing, until its clock runs out */
	ATK_N
};

static const char *const attack_name[ATK_N] = { "play", "future round",
	"past round", "no such dispute", "another dispute", "third account",
	"replay", "twice", "wrong sizes", "bad proof", "wrong root",
	"reveal shape", "reveal dtype", "reveal other op",
	"challenger reveals", "silent" };

struct duel {
	struct adv_net *net;
	struct adv_node *ex, *ch, *cl, *third;
	bool liar_exec;
	struct adv_trace honest, lie;
	struct proto_digest job, dispute, other; /* other: third's dispute */
	bool has_other;
	uint8_t *last;  /* the liar's last signed move */
	size_t last_len;
	uint64_t rng;
	unsigned counts[ATK_N];
};

static uint64_t
rnd(struct duel *d)
{
	d->rng ^= d->rng >> 12;
	d->rng ^= d->rng << 25;
	d->rng ^= d->rng >> 27;
	return d->rng * 0x2545f4914f6cdd1dull;
}

static struct adv_node *
liar(struct duel *d)
{
	return d->liar_exec ? d->ex : d->ch;
}

static struct adv_node *
honest(struct duel *d)
{
	return d->liar_exec ? d->ch : d->ex;
}

static int
suite_setup(void)
{
	if (proto_init() != RF_OK) {
		return 1;
	}
	struct engine_gen_opts o;
	engine_gen_opts_init(&o, ENGINE_GEN_MLP);
	o.ops = OPS;
	o.hidden = 8;
	o.in_features = 8;
	return engine_model_generate(&o, &model, NULL) != RF_OK;
}

static int
suite_teardown(void)
{
	test_kill_children();
	engine_model_free(model);
	return 0;
}

/* A network with the four parties registered, the executor staked. */
static void
net_open(struct adv_net *net, struct adv_node *nodes)
{
	for (int i = 0; i < 4; i++) {
		adv_node_init(&nodes[i], 0);
	}
	struct adv_node *all[] = { &nodes[0], &nodes[1], &nodes[2], &nodes[3] };
	CU_ASSERT_FATAL(adv_net_start(net, CLOCK, all, 4, BALANCE) == RF_OK);
	CU_ASSERT_FATAL(adv_register(&nodes[0], PROTO_ROLE_EXECUTOR, model) ==
	    ADV_ACK);
	CU_ASSERT_FATAL(adv_register_model(&nodes[0], model) == ADV_ACK);
	CU_ASSERT_FATAL(adv_register(&nodes[1], PROTO_ROLE_CHALLENGER, NULL) ==
	    ADV_ACK);
	CU_ASSERT_FATAL(adv_register(&nodes[2], PROTO_ROLE_CLIENT, NULL) ==
	    ADV_ACK);
	/* The outsider could play either role, in other disputes. */
	CU_ASSERT_FATAL(adv_register(&nodes[3], PROTO_ROLE_CHALLENGER |
	    PROTO_ROLE_CLIENT, NULL) == ADV_ACK);
}

/* The executor's stake back to STAKE (a lost duel slashed it). */
static void
restake(struct duel *d)
{
	uint64_t bal, stake;
	CU_ASSERT_FATAL(adv_account(d->ex, &d->ex->id.pk, &bal, &stake) ==
	    RF_OK);
	if (stake < STAKE) {
		CU_ASSERT_FATAL(adv_stake(d->ex, STAKE - stake) == ADV_ACK);
	}
}

/* A job, a claim and a dispute: the liar lies at operator lie_op. */
static void
duel_open(struct duel *d, uint64_t seed, uint32_t lie_op)
{
	restake(d);
	CU_ASSERT_FATAL(adv_submit(d->cl, model, seed, 10, seed, &d->ex->id.pk,
	    &d->job) == ADV_ACK);
	CU_ASSERT_FATAL(adv_trace_run(model, seed, &d->honest) == RF_OK);
	CU_ASSERT_FATAL(adv_trace_run(model, seed, &d->lie) == RF_OK);
	adv_trace_lie(&d->lie, d->lie.n_in + lie_op);
	const struct adv_trace *claimed = d->liar_exec ? &d->lie : &d->honest;
	const struct adv_trace *ours = d->liar_exec ? &d->honest : &d->lie;
	int r = adv_claim(d->ex, claimed, &d->job, model);
	if (r != ADV_ACK) {
		fprintf(stderr, "claim refused: %d\n", r);
	}
	CU_ASSERT_FATAL(r == ADV_ACK);
	CU_ASSERT_FATAL(adv_challenge(d->ch, &d->job, ours, BOND, &d->dispute) ==
	    ADV_ACK);
}

/* Another dispute the challenger is no party to: the outsider's, on
 * another job. */
static void
other_dispute(struct duel *d, uint64_t seed)
{
	struct proto_digest job;
	struct adv_trace h, l;
	restake(d);
	CU_ASSERT_FATAL(adv_submit(d->third, model, seed, 10, seed,
	    &d->ex->id.pk, &job) == ADV_ACK);
	CU_ASSERT_FATAL(adv_trace_run(model, seed, &h) == RF_OK);
	CU_ASSERT_FATAL(adv_trace_run(model, seed, &l) == RF_OK);
	adv_trace_lie(&l, l.n_in + 1);
	CU_ASSERT_FATAL(adv_claim(d->ex, &h, &job, model) == ADV_ACK);
	CU_ASSERT_FATAL(adv_challenge(d->third, &job, &l, BOND, &d->other) ==
	    ADV_ACK);
	d->has_other = true;
	adv_trace_free(&h);
	adv_trace_free(&l);
}

/* Signs and sends a move as node, keeping the bytes when it is the
 * liar's. */
static int
send_move(struct duel *d, struct adv_node *node, struct adv_msg *m)
{
	uint8_t *buf;
	size_t len;
	CU_ASSERT_FATAL(adv_sign(node, m, &buf, &len) == RF_OK);
	int r = adv_send_bytes(node, buf, len);
	if (node == liar(d)) {
		free(d->last);
		d->last = buf;
		d->last_len = len;
	} else {
		free(buf);
	}
	return r;
}

/* The dispute's current round and phase, to check a move changed
 * nothing. */
static void
dispute_state(struct duel *d, uint32_t *round, uint64_t *lo, uint64_t *hi,
    bool *decided)
{
	struct adv_msg v;
	CU_ASSERT_FATAL(adv_dispute_view(d->ch, &d->dispute, &v) == RF_OK);
	*decided = v.type == PROTO_MSG_VERDICT;
	*round = 0;
	*lo = *hi = 0;
	if (v.type == PROTO_MSG_BISECT_QUERY) {
		*round = v.u.bisect_query.round;
		*lo = v.u.bisect_query.lo;
		*hi = v.u.bisect_query.hi;
	}
	adv_msg_free(&v);
}

/* Changes the first operand of a reveal: its shape or its dtype. */
static void
reveal_break(struct proto_reveal *r, bool shape)
{
	for (uint8_t i = 0; i < r->n_inputs; i++) {
		struct proto_reveal_input *in = &r->inputs[i];
		if (in->src == PROTO_REVEAL_ABSENT || in->n_tensors == 0) {
			continue;
		}
		struct tensor *t = &in->tensors[in->output < in->n_tensors ?
		    in->output : 0];
		if (shape) {
			/* Same elements, another shape. */
			if (t->rank == 1) {
				t->rank = 2;
				t->dims[0] = 1;
				t->dims[1] = (int64_t)t->count;
			} else {
				t->rank = 1;
				t->dims[0] = (int64_t)t->count;
			}
		} else {
			t->dtype = t->dtype == TENSOR_F32 ? TENSOR_I32 : TENSOR_F32;
		}
		return;
	}
}

/*
 * One move of the liar on its turn (query q): returns 1 when its turn is
 * over (a move was applied, or lost the game), 0 when the move was refused
 * or ignored (the turn goes on), -1 for silence. Checks the referee's
 * answer to each attack.
 */
static int
liar_move(struct duel *d, const struct proto_bisect_query *q, enum attack a)
{
	struct adv_node *me = liar(d);
	bool reveal = q->n_sizes == 0;
	struct adv_msg m;
	uint32_t r0, r1;
	uint64_t lo0, hi0, lo1, hi1;
	bool dec0, dec1;
	d->counts[a]++;
	if (a == ATK_SILENT) {
		return -1;
	}
	/* Reveal attacks need the reveal; answer attacks need a round. */
	if (reveal && !d->liar_exec && a != ATK_CHAL_REVEALS) {
		return -1; /* the challenger has nothing to do: wait */
	}
	if (!reveal && (a == ATK_REVEAL_SHAPE || a == ATK_REVEAL_DTYPE ||
	    a == ATK_REVEAL_OTHER)) {
		a = ATK_PLAY;
	}
	if (a == ATK_CHAL_REVEALS && d->liar_exec) {
		a = ATK_PLAY;
	}
	if (a == ATK_OTHER_DISPUTE && !d->has_other) {
		a = ATK_NO_DISPUTE;
	}
	if (a == ATK_REPLAY && d->last == NULL) {
		a = ATK_PLAY;
	}
	if (a == ATK_CHAL_REVEALS) {
		struct proto_bisect_query rq = *q;
		if (rq.lo < d->lie.n_in) {
			rq.lo = d->lie.n_in;
		}
		CU_ASSERT_FATAL(adv_reveal_msg(&d->lie, model, &rq, &m) == RF_OK);
		m.u.reveal.dispute_id = d->dispute;
		int r = send_move(d, me, &m);
		dispute_state(d, &r1, &lo1, &hi1, &dec1);
		/* Refused; or the honest reveal that came first decided it. */
		CU_ASSERT(r == PROTO_ERR_INVALID || (r == PROTO_ERR_STATE && dec1));
		return 0;
	}
	if (a == ATK_REPLAY) {
		dispute_state(d, &r0, &lo0, &hi0, &dec0);
		int r = adv_send_bytes(me, d->last, d->last_len);
		dispute_state(d, &r1, &lo1, &hi1, &dec1);
		/* Refused as a replay, or the recorded reply of a retry: never
		 * applied again. */
		CU_ASSERT(r != ADV_NO_REPLY);
		CU_ASSERT(r0 == r1 && lo0 == lo1 && hi0 == hi1 && dec0 == dec1);
		return 0;
	}
	if (reveal) {
		CU_ASSERT_FATAL(adv_reveal_msg(&d->lie, model, q, &m) == RF_OK);
		if (a == ATK_REVEAL_SHAPE || a == ATK_REVEAL_DTYPE) {
			reveal_break(&m.u.reveal, a == ATK_REVEAL_SHAPE);
			int r = send_move(d, me, &m);
			CU_ASSERT(r == PROTO_ERR_INVALID || r == PROTO_ERR_MALFORMED);
			return 1;
		}
		if (a == ATK_REVEAL_OTHER) {
			m.u.reveal.op++;
			CU_ASSERT_EQUAL(send_move(d, me, &m), PROTO_ERR_STATE);
			return 0;
		}
		if (a != ATK_PLAY && a != ATK_TWICE) {
			/* An answer in the reveal phase: out of turn. */
			adv_msg_free(&m);
			struct proto_bisect_query fake = *q;
			fake.n_sizes = 1;
			fake.sizes[0] = q->lo;
			CU_ASSERT_FATAL(adv_answer_msg(&d->lie, &fake, &m) == RF_OK);
			int r = send_move(d, me, &m);
			CU_ASSERT(r == PROTO_ERR_STATE || r == PROTO_ERR_UNKNOWN ||
			    r == PROTO_ERR_INVALID);
			return 0;
		}
		send_move(d, me, &m);
		return 1;
	}
	CU_ASSERT_FATAL(adv_answer_msg(&d->lie, q, &m) == RF_OK);
	struct proto_bisect_answer *ans = &m.u.bisect_answer;
	struct proto_prefix_root *pr = &ans->roots[0];
	switch (a) {
	case ATK_FUTURE_ROUND:
	case ATK_PAST_ROUND:
		ans->round = a == ATK_FUTURE_ROUND ? q->round + 1 :
		    (q->round > 1 ? q->round - 1 : q->round + 2);
		CU_ASSERT_EQUAL(send_move(d, me, &m), PROTO_ERR_STATE);
		return 0;
	case ATK_NO_DISPUTE:
		ans->dispute_id.b[0] ^= 0xff;
		CU_ASSERT_EQUAL(send_move(d, me, &m), PROTO_ERR_UNKNOWN);
		return 0;
	case ATK_OTHER_DISPUTE:
		ans->dispute_id = d->other;
		/* The executor is a party to the other dispute: for it this is
		 * a wrong move there, at its own risk; the game here is not
		 * touched either way. */
		if (!d->liar_exec) {
			CU_ASSERT_EQUAL(send_move(d, me, &m), PROTO_ERR_INVALID);
		} else {
			send_move(d, me, &m);
		}
		return 0;
	case ATK_THIRD_ACCOUNT: {
		/* An outsider's losing move (a bad proof), then the liar's own
		 * answer under the outsider's name: neither may count for
		 * anyone. */
		struct adv_msg bad;
		CU_ASSERT_FATAL(adv_answer_msg(&d->lie, q, &bad) == RF_OK);
		bad.u.bisect_answer.roots[0].root.b[0] ^= 0x01;
		CU_ASSERT_EQUAL(send_move(d, d->third, &bad), PROTO_ERR_INVALID);
		CU_ASSERT_EQUAL(send_move(d, d->third, &m), PROTO_ERR_INVALID);
		dispute_state(d, &r1, &lo1, &hi1, &dec1);
		CU_ASSERT(!dec1 && r1 == q->round);
		return 0;
	}
	case ATK_WRONG_SIZES:
		pr->size = pr->size + 1 < d->lie.n ? pr->size + 1 : pr->size - 1;
		break;
	case ATK_BAD_PROOF:
		if (pr->proof_len > 0) {
			pr->proof[0].b[5] ^= 0x10;
		} else {
			pr->proof = calloc(MERKLE_MAX_PROOF, sizeof(struct proto_digest));
			CU_ASSERT_FATAL(pr->proof != NULL);
			pr->proof[0] = pr->root;
			pr->proof_len = 1;
		}
		break;
	case ATK_WRONG_ROOT: {
		uint64_t s = pr->size > 1 ? pr->size - 1 : pr->size + 1;
		size_t plen = 0;
		proto_merkle_root(PROTO_HASH_BLAKE2B, d->lie.leaves, s, &pr->root);
		free(pr->proof);
		pr->proof = calloc(MERKLE_MAX_PROOF, sizeof(struct proto_digest));
		CU_ASSERT_FATAL(pr->proof != NULL);
		CU_ASSERT_FATAL(proto_merkle_consistency_proof(PROTO_HASH_BLAKE2B,
		    d->lie.leaves, d->lie.n, s, pr->proof, &plen) == RF_OK);
		pr->proof_len = (uint8_t)plen;
		break;
	}
	case ATK_TWICE: {
		struct adv_msg again;
		CU_ASSERT_FATAL(adv_answer_msg(&d->lie, q, &again) == RF_OK);
		send_move(d, me, &m);
		dispute_state(d, &r0, &lo0, &hi0, &dec0);
		if (!dec0 && r0 == q->round) {
			CU_ASSERT_EQUAL(send_move(d, me, &again), PROTO_ERR_STATE);
		} else {
			adv_msg_free(&again);
		}
		return 1;
	}
	default:
		send_move(d, me, &m);
		return 1;
	}
	/* The losing moves: the game is over, against the liar. */
	CU_ASSERT_EQUAL(send_move(d, me, &m), PROTO_ERR_INVALID);
	dispute_state(d, &r1, &lo1, &hi1, &dec1);
	CU_ASSERT(dec1);
	return 1;
}

typedef enum attack (*pick_fn)(struct duel *d, int attempt);

/* Plays the duel to its verdict: the honest side moves whenever a move is
 * due; the liar, on each of its turns, makes moves picked by pick until
 * one ends its turn. */
static void
duel_play(struct duel *d, pick_fn pick, struct proto_verdict *v)
{
	uint32_t done_round = 0;
	bool revealed = false, silent = false;
	for (;;) {
		struct adv_msg view;
		CU_ASSERT_FATAL(adv_dispute_view(honest(d), &d->dispute, &view) ==
		    RF_OK);
		if (view.type == PROTO_MSG_VERDICT) {
			adv_msg_free(&view);
			break;
		}
		CU_ASSERT_FATAL(view.type == PROTO_MSG_BISECT_QUERY);
		struct proto_bisect_query q = view.u.bisect_query;
		adv_msg_free(&view);
		/* The honest side first, so that the liar's time is its own. */
		int h = adv_play(honest(d), &d->dispute, &d->honest, model,
		    !d->liar_exec);
		bool due = !silent && (q.n_sizes > 0 ? q.round != done_round :
		    !revealed);
		int r = 0;
		for (int attempt = 0; due && attempt < 4 && r == 0; attempt++) {
			r = liar_move(d, &q, pick(d, attempt));
		}
		if (due && r == 0) {
			r = liar_move(d, &q, ATK_PLAY);
		}
		if (r == -1 && (q.n_sizes > 0 || d->liar_exec)) {
			silent = true;
		}
		if (r == 1) {
			done_round = q.round;
			revealed = q.n_sizes == 0;
		}
		if (h != ADV_MOVED && r != 1) {
			test_sleep_ms(20); /* a clock is running: wait for it */
		}
	}
	CU_ASSERT_FATAL(adv_verdict(d->ch, &d->dispute, v) == RF_OK);
}

/* After the verdict: the liar's moves are refused and move no money. */
static void
after_verdict(struct duel *d)
{
	struct adv_ledger before, after;
	CU_ASSERT_FATAL(adv_ledger(d->ch, &before) == RF_OK);
	struct proto_bisect_query q;
	memset(&q, 0, sizeof(q));
	q.dispute_id = d->dispute;
	q.round = 1;
	q.lo = d->lie.n_in;
	q.hi = d->lie.n;
	q.n_sizes = 1;
	q.sizes[0] = (q.lo + q.hi) / 2;
	struct adv_msg m;
	CU_ASSERT_FATAL(adv_answer_msg(&d->lie, &q, &m) == RF_OK);
	CU_ASSERT_EQUAL(send_move(d, liar(d), &m), PROTO_ERR_STATE);
	q.n_sizes = 0;
	q.lo = d->lie.n_in + LIE_AT;
	CU_ASSERT_FATAL(adv_reveal_msg(&d->lie, model, &q, &m) == RF_OK);
	int r = send_move(d, d->ex, &m);
	CU_ASSERT(r == PROTO_ERR_STATE);
	CU_ASSERT_FATAL(adv_ledger(d->ch, &after) == RF_OK);
	CU_ASSERT(memcmp(&before, &after, sizeof(before)) == 0);
}

static void
duel_close(struct duel *d)
{
	adv_trace_free(&d->honest);
	adv_trace_free(&d->lie);
	free(d->last);
	d->last = NULL;
	d->has_other = false;
}

/* ------------------------------------------------------------------ */
/* One attack at a time                                                 */
/* ------------------------------------------------------------------ */

static enum attack the_attack;

/* The attack first, then the lie played straight. */
static enum attack
pick_attack(struct duel *d, int attempt)
{
	(void)d;
	return attempt == 0 ? the_attack : ATK_PLAY;
}

static void
one_attack(enum attack a, bool liar_exec)
{
	struct adv_net net;
	struct adv_node nodes[4];
	net_open(&net, nodes);
	struct duel d;
	memset(&d, 0, sizeof(d));
	d.net = &net;
	d.ex = &nodes[0];
	d.ch = &nodes[1];
	d.cl = &nodes[2];
	d.third = &nodes[3];
	d.liar_exec = liar_exec;
	if (a == ATK_OTHER_DISPUTE) {
		other_dispute(&d, 99);
	}
	uint64_t hb0, hs0, hb1, hs1;
	duel_open(&d, 5, LIE_AT);
	CU_ASSERT_FATAL(adv_account(d.ch, &honest(&d)->id.pk, &hb0, &hs0) ==
	    RF_OK);
	the_attack = a;
	struct proto_verdict v;
	duel_play(&d, pick_attack, &v);
	/* The honest side wins, and the reason fits the attack. */
	CU_ASSERT_EQUAL(v.executor_won, liar_exec ? 0 : 1);
	uint8_t want = PROTO_VERDICT_RECOMPUTED;
	if (a == ATK_SILENT) {
		want = PROTO_VERDICT_TIMEOUT;
	} else if (a == ATK_WRONG_SIZES || a == ATK_BAD_PROOF ||
	    a == ATK_WRONG_ROOT) {
		want = PROTO_VERDICT_BAD_PROOF;
	} else if (a == ATK_REVEAL_SHAPE || a == ATK_REVEAL_DTYPE) {
		want = liar_exec ? PROTO_VERDICT_BAD_PROOF :
		    PROTO_VERDICT_RECOMPUTED;
	}
	CU_ASSERT_EQUAL(v.reason, want);
	if (v.reason != want || v.executor_won != (liar_exec ? 0 : 1)) {
		fprintf(stderr, "\n    attack '%s' by the %s: reason %u, "
		    "executor won %u\n", attack_name[a], liar_exec ? "executor" :
		    "challenger", v.reason, v.executor_won);
	}
	after_verdict(&d);
	CU_ASSERT_FATAL(adv_account(d.ch, &honest(&d)->id.pk, &hb1, &hs1) ==
	    RF_OK);
	CU_ASSERT(hb1 + hs1 >= hb0 + hs0);
	CU_ASSERT(adv_ledger_conserved(d.ch, net.minted));
	duel_close(&d);
	for (int i = 0; i < 4; i++) {
		adv_node_close(&nodes[i]);
	}
	adv_net_stop(&net);
}

#define BOTH(name, atk) \
	static void name(void) \
	{ \
		one_attack(atk, true); \
		one_attack(atk, false); \
	}

BOTH(test_play, ATK_PLAY)
BOTH(test_future_round, ATK_FUTURE_ROUND)
BOTH(test_past_round, ATK_PAST_ROUND)
BOTH(test_no_dispute, ATK_NO_DISPUTE)
BOTH(test_other_dispute, ATK_OTHER_DISPUTE)
BOTH(test_third_account, ATK_THIRD_ACCOUNT)
BOTH(test_replay, ATK_REPLAY)
BOTH(test_twice, ATK_TWICE)
BOTH(test_wrong_sizes, ATK_WRONG_SIZES)
BOTH(test_bad_proof, ATK_BAD_PROOF)
BOTH(test_wrong_root, ATK_WRONG_ROOT)
BOTH(test_silent, ATK_SILENT)

/* Reveal attacks: only an executor reveals; a lying challenger who tries
 * is refused. */
static void
test_reveal_shape(void)
{
	one_attack(ATK_REVEAL_SHAPE, true);
}

static void
test_reveal_dtype(void)
{
	one_attack(ATK_REVEAL_DTYPE, true);
}

static void
test_reveal_other_op(void)
{
	one_attack(ATK_REVEAL_OTHER, true);
}

static void
test_challenger_reveals(void)
{
	one_attack(ATK_CHAL_REVEALS, false);
}

/* ------------------------------------------------------------------ */
/* Floods and false reports                                             */
/* ------------------------------------------------------------------ */

struct flood_ctx {
	struct duel *d;
	struct proto_bisect_query q;
};

/* Answers for rounds that are never asked. */
static void
make_stale(void *ctx, size_t i, struct adv_msg *m)
{
	struct flood_ctx *f = ctx;
	adv_msg_free(m);
	CU_ASSERT_FATAL(adv_answer_msg(&f->d->lie, &f->q, m) == RF_OK);
	m->u.bisect_answer.round = f->q.round + 2 + (uint32_t)i;
}

static void
duel_start(struct duel *d, struct adv_net *net, struct adv_node *nodes,
    bool liar_exec)
{
	net_open(net, nodes);
	memset(d, 0, sizeof(*d));
	d->net = net;
	d->ex = &nodes[0];
	d->ch = &nodes[1];
	d->cl = &nodes[2];
	d->third = &nodes[3];
	d->liar_exec = liar_exec;
}

static void
duel_end(struct duel *d, struct adv_node *nodes)
{
	CU_ASSERT(adv_ledger_conserved(d->ch, d->net->minted));
	duel_close(d);
	for (int i = 0; i < 4; i++) {
		adv_node_close(&nodes[i]);
	}
	adv_net_stop(d->net);
}

/* A liar floods the dispute with hundreds of out-of-turn answers: none
 * counts, the referee keeps serving, the honest side wins. */
static void
test_flood(void)
{
	for (int le = 0; le < 2; le++) {
		struct adv_net net;
		struct adv_node nodes[4];
		struct duel d;
		duel_start(&d, &net, nodes, le == 0);
		duel_open(&d, 11, LIE_AT);
		struct adv_msg view;
		CU_ASSERT_FATAL(adv_dispute_view(d.ch, &d.dispute, &view) == RF_OK);
		CU_ASSERT_FATAL(view.type == PROTO_MSG_BISECT_QUERY);
		struct flood_ctx f = { &d, view.u.bisect_query };
		adv_msg_free(&view);
		size_t acked = 99;
		CU_ASSERT_EQUAL(adv_flood(liar(&d), 300, make_stale, &f, &acked),
		    ADV_ACK);
		CU_ASSERT_EQUAL(acked, 0);
		uint32_t r;
		uint64_t lo, hi;
		bool dec;
		dispute_state(&d, &r, &lo, &hi, &dec);
		CU_ASSERT(!dec && r == f.q.round && lo == f.q.lo && hi == f.q.hi);
		the_attack = ATK_PLAY;
		struct proto_verdict v;
		duel_play(&d, pick_attack, &v);
		CU_ASSERT_EQUAL(v.executor_won, d.liar_exec ? 0 : 1);
		CU_ASSERT_EQUAL(v.reason, PROTO_VERDICT_RECOMPUTED);
		duel_end(&d, nodes);
	}
}

/* A challenger reports an honest executor for equivocation with the
 * executor's one real claim twice, and with that claim and a copy it
 * altered: both refused, nobody slashed. */
static void
test_false_equivocation(void)
{
	struct adv_net net;
	struct adv_node nodes[4];
	struct duel d;
	duel_start(&d, &net, nodes, false);
	restake(&d);
	CU_ASSERT_FATAL(adv_submit(d.cl, model, 12, 10, 12, &d.ex->id.pk,
	    &d.job) == ADV_ACK);
	CU_ASSERT_FATAL(adv_trace_run(model, 12, &d.honest) == RF_OK);
	CU_ASSERT_FATAL(adv_trace_run(model, 12, &d.lie) == RF_OK);
	struct adv_msg m;
	uint8_t *claim;
	size_t len;
	CU_ASSERT_FATAL(adv_claim_msg(&d.honest, &d.job, model, &m) == RF_OK);
	CU_ASSERT_FATAL(adv_sign(d.ex, &m, &claim, &len) == RF_OK);
	CU_ASSERT_EQUAL(adv_send_bytes(d.ex, claim, len), ADV_ACK);
	uint64_t b0, s0, b1, s1;
	CU_ASSERT_FATAL(adv_account(d.ch, &d.ex->id.pk, &b0, &s0) == RF_OK);
	CU_ASSERT_EQUAL(adv_equivocation(d.ch, claim, len, claim, len),
	    PROTO_ERR_INVALID);
	uint8_t *forged = malloc(len);
	CU_ASSERT_FATAL(forged != NULL);
	memcpy(forged, claim, len);
	forged[len / 2] ^= 0x01; /* no longer the executor's signature */
	CU_ASSERT_EQUAL(adv_equivocation(d.ch, claim, len, forged, len),
	    PROTO_ERR_INVALID);
	CU_ASSERT_FATAL(adv_account(d.ch, &d.ex->id.pk, &b1, &s1) == RF_OK);
	CU_ASSERT(b1 == b0 && s1 == s0 && s1 == STAKE);
	free(forged);
	free(claim);
	duel_end(&d, nodes);
}

/* ------------------------------------------------------------------ */
/* Random games                                                         */
/* ------------------------------------------------------------------ */

/* Any move at all, the straight lie most often. */
static enum attack
pick_random(struct duel *d, int attempt)
{
	(void)attempt;
	uint64_t x = rnd(d) % 100;
	if (x < 60) {
		return ATK_PLAY;
	}
	return (enum attack)(1 + rnd(d) % (ATK_N - 1));
}

static void
test_random_games(void)
{
	struct adv_net net;
	struct adv_node nodes[4];
	net_open(&net, nodes);
	struct duel d;
	memset(&d, 0, sizeof(d));
	d.net = &net;
	d.ex = &nodes[0];
	d.ch = &nodes[1];
	d.cl = &nodes[2];
	d.third = &nodes[3];
	d.rng = 0x0ddba11ull;
	other_dispute(&d, 1000);
	struct proto_digest other = d.other;
	unsigned won = 0, games = 0, reasons[8] = { 0 };
	for (unsigned g = 0; g < RANDOM_GAMES; g++) {
		d.liar_exec = g % 2 == 0;
		uint32_t lie_op = (uint32_t)(rnd(&d) % OPS);
		duel_open(&d, 100 + g, lie_op);
		d.other = other;
		d.has_other = true;
		struct proto_verdict v;
		duel_play(&d, pick_random, &v);
		bool ok = v.executor_won == (d.liar_exec ? 0 : 1);
		won += ok;
		games++;
		reasons[v.reason < 8 ? v.reason : 0]++;
		if (!ok) {
			fprintf(stderr, "\n    game %u: the liar (%s, at operator %u) "
			    "won, reason %u\n", g, d.liar_exec ? "executor" :
			    "challenger", lie_op, v.reason);
		}
		CU_ASSERT(adv_ledger_conserved(d.ch, net.minted));
		duel_close(&d);
	}
	CU_ASSERT_EQUAL(won, games);
	fprintf(stderr, "\n    %u games through the referee, honest side won "
	    "%u (recomputed %u, bad proof %u, timeout %u); moves tried:", games,
	    won, reasons[PROTO_VERDICT_RECOMPUTED],
	    reasons[PROTO_VERDICT_BAD_PROOF], reasons[PROTO_VERDICT_TIMEOUT]);
	for (int a = 0; a < ATK_N; a++) {
		fprintf(stderr, " %s %u%s", attack_name[a], d.counts[a],
		    a + 1 < ATK_N ? "," : "\n");
	}
	for (int i = 0; i < 4; i++) {
		adv_node_close(&nodes[i]);
	}
	adv_net_stop(&net);
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "a straight lie loses", test_play },
		{ "an answer for a future round is ignored", test_future_round },
		{ "an answer for a past round is ignored", test_past_round },
		{ "a move for no dispute is refused", test_no_dispute },
		{ "a move for another dispute is refused", test_other_dispute },
		{ "a move signed by a third account is refused",
		    test_third_account },
		{ "a replayed move is not applied again", test_replay },
		{ "a second answer to a round is ignored", test_twice },
		{ "roots for sizes not asked lose", test_wrong_sizes },
		{ "a bad consistency proof loses", test_bad_proof },
		{ "the root of another size loses", test_wrong_root },
		{ "silence loses on the clock", test_silent },
		{ "a reveal of the wrong shape loses", test_reveal_shape },
		{ "a reveal of the wrong dtype loses", test_reveal_dtype },
		{ "a reveal of another operator is ignored",
		    test_reveal_other_op },
		{ "a challenger cannot reveal", test_challenger_reveals },
		{ "a flood of out-of-turn moves changes nothing", test_flood },
		{ "a false equivocation report slashes nobody",
		    test_false_equivocation },
		{ "random games: the honest side wins each, the ledger holds",
		    test_random_games },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "adversary", suite_setup, suite_teardown, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
