/*
 * bisect/audit.c - replaying a verdict's transcript, independently of the
 * referee that signed it, against the network's own rules.
 *
 * A verdict carries every signed message of its dispute: the executor's
 * claim, the challenger's challenge, the model's registration (the graph,
 * proven to be leaf 0 of model_id), the client's signed job (its inputs),
 * then each query the referee asked and each answer and reveal in the
 * order the referee applied them. The audit
 *  - accepts only a verdict signed by the network's referee (the key the
 *    auditor pins; any other signer is an error);
 *  - checks every signature and that the opening messages name one job:
 *    the job id is recomputed from the client's job, the claim's input
 *    leaves from its inputs, the dispute id from the job and challenger;
 *  - replays every move through the same bisect/ game the referee runs,
 *    at the network's arity, recomputing the disputed operator, and
 *    requires every move to answer a query the referee recorded;
 *  - recomputes every field of the verdict: winner, reason, operator,
 *    rounds, and the amounts by chain/'s rules (audit_money);
 *  - refuses a transcript that ends before the outcome it claims.
 * Timing is the one thing a transcript cannot prove: for a verdict decided
 * by a clock, the audit confirms that the loser was the side the game was
 * waiting for, that the referee had asked for that move, and that a side
 * was not timed out while the other one was silent too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "bisect/bisect.h"
#include "engine/engine.h"

/* The next envelope of the transcript, verified; its body is a view
 * into the transcript. */
static int
next_msg(struct rf_reader *c, struct proto_env *m, struct rf_errinfo *ei,
    size_t index)
{
	if (c->left < 4) {
		return rf_errf(ei, RF_ERR_TRUNCATED, "transcript ends at entry %zu",
		    index);
	}
	size_t len = rf_read_u32(c);
	const uint8_t *p = rf_read_bytes(c, len);
	if (p == NULL) {
		return rf_errf(ei, RF_ERR_TRUNCATED, "transcript entry %zu runs "
		    "past the end", index);
	}
	int err = proto_msg_open(p, len, m, ei);
	if (err != RF_OK) {
		return rf_errctx(ei, err, "transcript entry %zu: ", index);
	}
	return RF_OK;
}

static bool
key_eq(const struct proto_pubkey *a, const struct proto_pubkey *b)
{
	return memcmp(a->b, b->b, PROTO_KEY_LEN) == 0;
}

/* ------------------------------------------------------------------ */
/* The money rules                                                      */
/* ------------------------------------------------------------------ */

/*
 * Whether the verdict's amounts are the ones chain/'s rules give for this
 * outcome: a false challenge pays the bond to the executor (slashed =
 * reward = the bond); a dispute settled by another verdict moves nothing;
 * a claim that falls slashes the executor's whole stake and pays
 * reward_pct of it to a challenger whose own root was right. The stake at
 * that moment is ledger state, in no signed message of the dispute: it is
 * taken from the verdict (*from_ledger set), and the reward must be what
 * the rules make of it.
 */
static bool
audit_money(const struct bisect_audit_rules *ru, const struct proto_verdict *vd,
    bool executor_won, bool challenger_right, uint64_t bond,
    bool *from_ledger, char *why, size_t cap)
{
	struct chain_dispute d = { CHAIN_DISPUTE_OPEN, bond };
	struct chain_effects e;
	*from_ledger = false;
	if (vd->reason == PROTO_VERDICT_SETTLED) {
		chain_dispute_settle(&ru->money, &d, &e);
	} else {
		/* Free or locked, the stake is slashed whole: the split changes
		 * the moves, not the figures. */
		struct chain_job j = { .state = PROTO_JOB_DISPUTED };
		struct chain_account x = { .stake = vd->slashed };
		*from_ledger = !executor_won;
		chain_verdict(&ru->money, &j, &x, &d, executor_won,
		    challenger_right, 0, &e);
	}
	if (e.refused != 0 || e.slashed != vd->slashed ||
	    e.reward != vd->reward) {
		snprintf(why, cap, "the rules give slashed %llu, reward %llu; the "
		    "verdict says %llu, %llu", (unsigned long long)e.slashed,
		    (unsigned long long)e.reward, (unsigned long long)vd->slashed,
		    (unsigned long long)vd->reward);
		return false;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* The opening: claim, challenge, registration, job                     */
/* ------------------------------------------------------------------ */

/* The opening's four messages: their envelopes (for the signers) and
 * bodies. On the heap: the job alone holds up to 64 tensors. */
struct opening {
	struct proto_env env[4]; /* claim, challenge, registration, job */
	struct proto_claim claim;
	struct proto_challenge chal;
	struct proto_model_register reg;
	struct proto_job_submit job;
	struct proto_digest leaves[PROTO_MAX_TENSORS]; /* the job's inputs */
};

static void
opening_free(struct opening *o)
{
	if (o != NULL) {
		proto_claim_free(&o->claim);
		proto_model_register_free(&o->reg);
		proto_job_submit_free(&o->job);
		free(o);
	}
}

/* Decodes the opening's entry i, of type want[i], into its field. */
static int
opening_body(struct opening *o, int i, struct rf_errinfo *ei)
{
	switch (i) {
	case 0:
		return proto_claim_decode(&o->env[0], &o->claim, ei);
	case 1:
		return proto_challenge_decode(&o->env[1], &o->chal, ei);
	case 2:
		return proto_model_register_decode(&o->env[2], &o->reg, ei);
	default:
		return proto_job_submit_decode(&o->env[3], &o->job, ei);
	}
}

static int
read_opening(struct rf_reader *c, const struct proto_verdict *vd,
    const struct bisect_audit_rules *ru, struct opening *o,
    struct rf_errinfo *ei)
{
	static const uint8_t want[4] = { PROTO_MSG_CLAIM, PROTO_MSG_CHALLENGE,
		PROTO_MSG_MODEL_REGISTER, PROTO_MSG_JOB_SUBMIT };
	static const char *const what[4] = { "the executor's claim",
		"the challenge", "the model's registration", "the client's job" };
	for (int i = 0; i < 4; i++) {
		int err = next_msg(c, &o->env[i], ei, (size_t)i);
		if (err == RF_OK && o->env[i].type == want[i]) {
			err = opening_body(o, i, ei);
			if (err != RF_OK) {
				rf_errctx(ei, err, "transcript entry %d: ", i);
			}
		}
		if (err != RF_OK) {
			return rf_errctx(ei, err, "expected %s: ", what[i]);
		}
		if (o->env[i].type != want[i]) {
			return rf_errf(ei, RF_ERR_INVAL, "transcript entry %d must be "
			    "%s, not a %s", i, what[i],
			    proto_msg_type_name(o->env[i].type));
		}
	}
	enum proto_hash suite = ru->suite;
	const struct proto_claim *cl = &o->claim;
	const struct proto_challenge *ch = &o->chal;
	const struct proto_model_register *mr = &o->reg;
	const struct proto_job_submit *js = &o->job;
	const struct proto_pubkey *executor = &o->env[0].sender;
	if (!key_eq(executor, &vd->executor) ||
	    !key_eq(&o->env[1].sender, &vd->challenger) ||
	    !proto_digest_equal(suite, &cl->job_id, &vd->job_id) ||
	    !proto_digest_equal(suite, &ch->job_id, &vd->job_id) ||
	    !key_eq(&ch->executor, executor) ||
	    !proto_digest_equal(suite, &ch->executor_root, &cl->trace_root) ||
	    ch->n != cl->n) {
		return rf_errf(ei, RF_ERR_INVAL, "the claim, the challenge and "
		    "the verdict do not name the same job and parties");
	}
	struct proto_digest id;
	proto_dispute_id(suite, &vd->job_id, &vd->challenger, &id);
	if (!proto_digest_equal(suite, &id, &vd->dispute_id)) {
		return rf_errf(ei, RF_ERR_INVAL, "the dispute id is not the one "
		    "of this job and challenger");
	}
	/* The job's inputs, as the client signed them, are what the game's
	 * agreed prefix starts from. */
	if (!proto_digest_equal(suite, &js->model_id, &cl->model_id) ||
	    js->n_inputs != cl->n_inputs || js->n_inputs == 0) {
		return rf_errf(ei, RF_ERR_INVAL, "the client's job is not for the "
		    "claimed model and inputs");
	}
	for (size_t i = 0; i < js->n_inputs; i++) {
		const struct tensor *t = &js->inputs[i];
		proto_tensor_leaf(suite, &t, 1, &o->leaves[i]);
		if (!proto_digest_equal(suite, &o->leaves[i],
		    &cl->input_leaves[i])) {
			return rf_errf(ei, RF_ERR_INVAL, "the claim's input leaf %zu "
			    "is not the client's input", i);
		}
	}
	proto_job_id(suite, &js->model_id, &o->env[3].sender, js->nonce, o->leaves,
	    js->n_inputs, &id);
	if (!proto_digest_equal(suite, &id, &vd->job_id)) {
		return rf_errf(ei, RF_ERR_INVAL, "the client's job has another id "
		    "than the claim's");
	}
	if (ch->bond < ru->money.min_bond) {
		return rf_errf(ei, RF_ERR_INVAL, "the bond %llu is below the "
		    "network's minimum %llu", (unsigned long long)ch->bond,
		    (unsigned long long)ru->money.min_bond);
	}
	if (!proto_digest_equal(suite, &mr->model_id, &cl->model_id)) {
		return rf_errf(ei, RF_ERR_INVAL, "the registration is of another "
		    "model");
	}
	struct proto_digest leaf;
	proto_merkle_leaf_hash(suite, mr->graph, mr->graph_len, &leaf);
	if (proto_merkle_inclusion_verify(suite, &leaf, 0, mr->n_leaves,
	    mr->graph_proof, mr->proof_len, &mr->model_id) != RF_OK) {
		return rf_errf(ei, RF_ERR_CRYPTO, "the graph is not leaf 0 of "
		    "model_id");
	}
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* The moves                                                            */
/* ------------------------------------------------------------------ */

struct replay {
	struct bisect_game g;
	bool asked;          /* the referee asked for the current move */
	uint32_t asked_round;
	enum bisect_phase asked_phase;
};

static int
check_query(struct replay *rp, const struct proto_bisect_query *q,
    const struct proto_digest *dispute, enum proto_hash suite,
    struct rf_errinfo *ei, size_t index)
{
	const struct bisect_game *g = &rp->g;
	struct proto_bisect_query want;
	bisect_query(g, dispute, &want);
	bool reveal = g->phase == BISECT_PHASE_REVEAL;
	if (!proto_digest_equal(suite, &q->dispute_id, dispute) ||
	    q->round != want.round || q->lo != want.lo || q->hi != want.hi ||
	    q->n_sizes != (reveal ? 0 : want.n_sizes) ||
	    (!reveal && memcmp(q->sizes, want.sizes,
	    want.n_sizes * sizeof(want.sizes[0])) != 0)) {
		return rf_errf(ei, RF_ERR_INVAL, "entry %zu: the referee asked "
		    "(%llu, %llu] round %u, the game says (%llu, %llu] round %u",
		    index, (unsigned long long)q->lo, (unsigned long long)q->hi,
		    q->round, (unsigned long long)want.lo,
		    (unsigned long long)want.hi, want.round);
	}
	rp->asked = true;
	rp->asked_round = g->round;
	rp->asked_phase = g->phase;
	return RF_OK;
}

/* Whether the current move is the one the referee last asked for. */
static bool
move_asked(const struct replay *rp)
{
	return rp->asked && rp->asked_round == rp->g.round &&
	    rp->asked_phase == rp->g.phase;
}

/*
 * Applies one move. A move that is the transcript's last, from the side a
 * timeout verdict says lost, is the move that came after its clock ran
 * out: the referee recorded it and decided by the clock, which a
 * transcript cannot show, so it is not applied.
 */
/* One move's body, decoded by its type. */
union move {
	struct proto_bisect_query query;
	struct proto_bisect_answer answer;
	struct proto_reveal reveal;
};

static int
apply_move(struct replay *rp, const struct proto_env *m, const union move *b,
    const struct proto_env *v, const struct proto_verdict *vd,
    const struct opening *o, bool last, const struct engine_model *model,
    enum proto_hash suite, struct rf_errinfo *ei, size_t idx)
{
	enum bisect_side loser = vd->executor_won ? BISECT_CHALLENGER :
	    BISECT_EXECUTOR;
	bool late_ok = last && vd->reason == PROTO_VERDICT_TIMEOUT;
	enum bisect_result res = BISECT_ACCEPTED;
	if (m->type == PROTO_MSG_BISECT_QUERY) {
		if (!key_eq(&m->sender, &v->sender)) {
			return rf_errf(ei, RF_ERR_CRYPTO, "entry %zu: a query not "
			    "signed by the referee", idx);
		}
		return check_query(rp, &b->query, &vd->dispute_id, suite, ei,
		    idx);
	}
	if (!move_asked(rp)) {
		return rf_errf(ei, RF_ERR_INVAL, "entry %zu: a %s before the "
		    "referee asked for it", idx, proto_msg_type_name(m->type));
	}
	if (m->type == PROTO_MSG_BISECT_ANSWER) {
		bool ex = key_eq(&m->sender, &vd->executor);
		if (!ex && !key_eq(&m->sender, &vd->challenger)) {
			return rf_errf(ei, RF_ERR_CRYPTO, "entry %zu: an answer from "
			    "a stranger", idx);
		}
		if (!proto_digest_equal(suite, &b->answer.dispute_id,
		    &vd->dispute_id)) {
			return rf_errf(ei, RF_ERR_INVAL, "entry %zu: an answer in "
			    "another dispute", idx);
		}
		enum bisect_side side = ex ? BISECT_EXECUTOR : BISECT_CHALLENGER;
		if (late_ok && side == loser && bisect_waiting_for(&rp->g, side)) {
			return RF_OK;
		}
		res = bisect_answer(&rp->g, side, &b->answer, 0, NULL);
	} else if (m->type == PROTO_MSG_REVEAL &&
	    key_eq(&m->sender, &vd->executor)) {
		if (!proto_digest_equal(suite, &b->reveal.dispute_id,
		    &vd->dispute_id)) {
			return rf_errf(ei, RF_ERR_INVAL, "entry %zu: a reveal in "
			    "another dispute", idx);
		}
		if (late_ok && loser == BISECT_EXECUTOR &&
		    bisect_waiting_for(&rp->g, BISECT_EXECUTOR)) {
			return RF_OK;
		}
		res = bisect_reveal(&rp->g, model, &o->claim.model_id,
		    o->reg.n_leaves, &b->reveal, 0, NULL);
	} else {
		return rf_errf(ei, RF_ERR_INVAL, "entry %zu: an unexpected %s",
		    idx, proto_msg_type_name(m->type));
	}
	if (res == BISECT_IGNORED) {
		return rf_errf(ei, RF_ERR_INVAL, "entry %zu: a move the game "
		    "would not take", idx);
	}
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* The outcome                                                          */
/* ------------------------------------------------------------------ */

/* Compares the replay's end with the verdict; RF_ERR_TRUNCATED when the
 * transcript stops before the outcome the verdict claims. */
static int
judge(const struct replay *rp, const struct proto_verdict *vd,
    const struct bisect_audit_rules *ru, const struct opening *o,
    struct bisect_audit_result *out, struct rf_errinfo *ei, size_t entries)
{
	const struct bisect_game *g = &rp->g;
	bool executor_won, challenger_right;
	char why[160];
	snprintf(why, sizeof(why), "%s", g->why);
	if (g->phase == BISECT_PHASE_DONE) {
		executor_won = g->executor_won;
		challenger_right = g->challenger_right;
		out->confirmed = g->reason == vd->reason;
		if (!out->confirmed) {
			snprintf(why, sizeof(why), "the replay ends by %s (%.90s), the "
			    "verdict says %s", proto_verdict_reason_name(g->reason),
			    g->why, proto_verdict_reason_name(vd->reason));
		}
	} else if (vd->reason == PROTO_VERDICT_TIMEOUT) {
		/* The loser must be a side the game was still waiting for, on
		 * a move the referee had asked. (With both awaited, whose clock
		 * ran out first depends on times the transcript does not
		 * hold.) */
		enum bisect_side loser = vd->executor_won ? BISECT_CHALLENGER :
		    BISECT_EXECUTOR;
		executor_won = loser == BISECT_CHALLENGER;
		challenger_right = loser == BISECT_EXECUTOR;
		out->confirmed = move_asked(rp) && bisect_waiting_for(g, loser);
		snprintf(why, sizeof(why), "the %s's clock ran out while the game "
		    "waited for it", loser == BISECT_EXECUTOR ? "executor" :
		    "challenger");
		if (!out->confirmed) {
			snprintf(why, sizeof(why), "the game was not waiting for the "
			    "%s when its clock is said to have run out",
			    loser == BISECT_EXECUTOR ? "executor" : "challenger");
		}
	} else if (vd->reason == PROTO_VERDICT_SETTLED) {
		/* Closed because another dispute proved the claim false; that
		 * verdict, not this transcript, shows it. */
		executor_won = false;
		challenger_right = true;
		out->confirmed = true;
		snprintf(why, sizeof(why), "settled by another dispute's verdict "
		    "against the claim");
	} else {
		return rf_errf(ei, RF_ERR_TRUNCATED, "the transcript ends after %zu "
		    "entries, in round %u, before the game does: moves are "
		    "missing", entries, g->round);
	}
	out->executor_won = executor_won;
	out->rounds = g->rounds;
	out->op = g->op;
	if (out->confirmed && (executor_won != (vd->executor_won != 0) ||
	    g->rounds != vd->rounds || g->op != vd->op)) {
		out->confirmed = false;
		snprintf(why, sizeof(why), "the replay gives: the %s wins after %u "
		    "rounds, operator %u", executor_won ? "executor" : "challenger",
		    g->rounds, g->op);
	} else if (out->confirmed && !audit_money(ru, vd, executor_won,
	    challenger_right, o->chal.bond,
	    &out->slashed_from_ledger, why, sizeof(why))) {
		out->confirmed = false;
	}
	snprintf(out->why, sizeof(out->why), "%s", why);
	return RF_OK;
}

/* Decodes a move's body: the types a transcript's moves may have. */
static int
move_decode(const struct proto_env *m, union move *b, struct rf_errinfo *ei)
{
	switch (m->type) {
	case PROTO_MSG_BISECT_QUERY:
		return proto_bisect_query_decode(m, &b->query, ei);
	case PROTO_MSG_BISECT_ANSWER:
		return proto_bisect_answer_decode(m, &b->answer, ei);
	case PROTO_MSG_REVEAL:
		return proto_reveal_decode(m, &b->reveal, ei);
	default: {
		/* Any other type is refused by apply_move, but must still
		 * be well-formed, as the whole transcript must. */
		size_t n = proto_msg_body_size(m->type);
		void *tmp = calloc(1, n > 0 ? n : 1);
		if (tmp == NULL) {
			return rf_errf(ei, RF_ERR_NOMEM, "no memory");
		}
		int err = proto_msg_body_decode(m, tmp, n, ei);
		if (err == RF_OK) {
			proto_msg_body_free(m->type, tmp);
		}
		free(tmp);
		return err;
	}
	}
}

static void
move_free(const struct proto_env *m, union move *b)
{
	if (m->type == PROTO_MSG_BISECT_ANSWER) {
		proto_bisect_answer_free(&b->answer);
	} else if (m->type == PROTO_MSG_REVEAL) {
		proto_reveal_free(&b->reveal);
	}
}

int
bisect_audit(const uint8_t *verdict, size_t len,
    const struct bisect_audit_rules *ru, struct bisect_audit_result *out,
    struct rf_errinfo *ei)
{
	struct proto_env v;
	struct proto_verdict vd;
	memset(out, 0, sizeof(*out));
	int err = proto_msg_open(verdict, len, &v, ei);
	if (err != RF_OK) {
		return err;
	}
	if (v.type != PROTO_MSG_VERDICT) {
		return rf_errf(ei, RF_ERR_INVAL, "not a verdict but a %s",
		    proto_msg_type_name(v.type));
	}
	err = proto_verdict_decode(&v, &vd, ei);
	if (err != RF_OK) {
		return err;
	}
	if (!key_eq(&v.sender, &ru->referee)) {
		char got[65], want[65];
		proto_pubkey_hex(&v.sender, got);
		proto_pubkey_hex(&ru->referee, want);
		proto_verdict_free(&vd);
		return rf_errf(ei, RF_ERR_CRYPTO, "the verdict is signed by %.16s..., "
		    "not by the network's referee %.16s...", got, want);
	}
	if (v.suite != ru->suite) {
		proto_verdict_free(&vd);
		return rf_errf(ei, RF_ERR_INVAL, "the verdict uses another hash "
		    "suite than the network");
	}
	out->verdict = vd;
	out->verdict.transcript = NULL;
	out->verdict.transcript_len = 0;
	struct rf_reader c;
	rf_reader_init(&c, vd.transcript, vd.transcript_len);
	/* The opening and the game hold arrays of digests and tensors: on
	 * the heap. */
	struct opening *o = calloc(1, sizeof(*o));
	struct replay *rp = calloc(1, sizeof(*rp));
	union move *b = malloc(sizeof(*b));
	struct engine_model *model = NULL;
	size_t idx = 4;

	err = o != NULL && rp != NULL && b != NULL ? RF_OK :
	    rf_errf(ei, RF_ERR_NOMEM, "no memory for the audit");
	if (err == RF_OK) {
		err = read_opening(&c, &vd, ru, o, ei);
	}
	if (err == RF_OK) {
		err = engine_model_decode_graph(o->reg.graph, o->reg.graph_len,
		    &model, ei);
	}
	if (err == RF_OK) {
		/* Clocks cannot be replayed: give the audit's game all the time
		 * in the world and check timeouts by who was awaited. */
		const struct proto_claim *cl = &o->claim;
		err = bisect_start(&rp->g, ru->suite, ru->arity, UINT64_MAX / 4,
		    cl->n, cl->n_inputs, o->leaves, &cl->trace_root,
		    &o->chal.challenger_root, 0);
		if (err != RF_OK) {
			rf_errf(ei, err, "the claim and challenge do not start a game");
		}
	}
	/* Moves, in the order the referee applied them. */
	while (err == RF_OK && c.left > 0 && rp->g.phase != BISECT_PHASE_DONE) {
		struct proto_env m;
		err = next_msg(&c, &m, ei, idx);
		if (err == RF_OK) {
			err = move_decode(&m, b, ei);
			if (err != RF_OK) {
				rf_errctx(ei, err, "transcript entry %zu: ", idx);
			}
		}
		if (err != RF_OK) {
			break;
		}
		err = apply_move(rp, &m, b, &v, &vd, o, c.left == 0, model,
		    ru->suite, ei, idx);
		move_free(&m, b);
		idx++;
	}
	if (err == RF_OK && c.left != 0) {
		err = rf_errf(ei, RF_ERR_INVAL, "entries after the end of the game "
		    "(from entry %zu)", idx);
	}
	if (err == RF_OK) {
		err = judge(rp, &vd, ru, o, out, ei, idx);
	}
	engine_model_free(model);
	opening_free(o);
	free(rp);
	free(b);
	proto_verdict_free(&vd);
	return err;
}
