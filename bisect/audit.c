/*
 * bisect/audit.c - replaying a verdict's transcript, independently of the
 * referee that signed it.
 *
 * A verdict carries every signed message of its dispute: the executor's
 * claim, the challenger's challenge, the model's registration (the graph,
 * proven to be leaf 0 of model_id), then each query the referee asked and
 * each answer and reveal in the order the referee applied them. The audit
 * checks every signature, replays the moves through the same bisect/ game
 * the referee runs, recomputes the disputed operator, and compares the
 * outcome with the verdict. Timing is the one thing a transcript cannot
 * prove: for a verdict decided by a clock, the audit confirms that the
 * loser was the side the game was waiting for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bisect.h"

struct cursor {
	const uint8_t *p;
	size_t left;
};

/* The next envelope of the transcript, decoded and verified. */
static int
next_msg(struct cursor *c, struct proto_msg *m, struct rf_errinfo *ei,
    size_t index)
{
	if (c->left < 4) {
		return rf_errf(ei, RF_ERR_TRUNCATED, "transcript ends at entry %zu",
		    index);
	}
	size_t len = (size_t)c->p[0] | (size_t)c->p[1] << 8 |
	    (size_t)c->p[2] << 16 | (size_t)c->p[3] << 24;
	if (len > c->left - 4) {
		return rf_errf(ei, RF_ERR_TRUNCATED, "transcript entry %zu runs "
		    "past the end", index);
	}
	int err = proto_msg_decode(c->p + 4, len, m, ei);
	if (err != RF_OK) {
		return rf_errctx(ei, err, "transcript entry %zu: ", index);
	}
	c->p += 4 + len;
	c->left -= 4 + len;
	return RF_OK;
}

static bool
key_eq(const struct proto_pubkey *a, const struct proto_pubkey *b)
{
	return memcmp(a->b, b->b, PROTO_KEY_LEN) == 0;
}

static int
check_query(const struct bisect_game *g, const struct proto_bisect_query *q,
    struct rf_errinfo *ei, size_t index)
{
	struct proto_bisect_query want;
	bisect_query(g, &q->dispute_id, &want);
	bool reveal = g->phase == BISECT_PHASE_REVEAL;
	if (q->round != want.round || q->lo != want.lo || q->hi != want.hi ||
	    q->n_sizes != (reveal ? 0 : want.n_sizes) ||
	    (!reveal && memcmp(q->sizes, want.sizes,
	    want.n_sizes * sizeof(want.sizes[0])) != 0)) {
		return rf_errf(ei, RF_ERR_INVAL, "entry %zu: the referee asked "
		    "(%llu, %llu] round %u, the game says (%llu, %llu] round %u",
		    index, (unsigned long long)q->lo, (unsigned long long)q->hi,
		    q->round, (unsigned long long)want.lo,
		    (unsigned long long)want.hi, want.round);
	}
	return RF_OK;
}

int
bisect_audit(const uint8_t *verdict, size_t len,
    struct bisect_audit_result *out, struct rf_errinfo *ei)
{
	struct proto_msg v, claim, chal, reg;
	memset(out, 0, sizeof(*out));
	int err = proto_msg_decode(verdict, len, &v, ei);
	if (err != RF_OK) {
		return err;
	}
	if (v.type != PROTO_MSG_VERDICT) {
		proto_msg_free(&v);
		return rf_errf(ei, RF_ERR_INVAL, "not a verdict but a %s",
		    proto_msg_type_name(v.type));
	}
	const struct proto_verdict *vd = &v.u.verdict;
	enum proto_hash suite = (enum proto_hash)v.suite;
	struct proto_pubkey referee = v.sender;
	out->verdict = *vd;
	out->verdict.transcript = NULL;
	out->verdict.transcript_len = 0;
	struct cursor c = { vd->transcript, vd->transcript_len };
	struct engine_model *model = NULL;
	struct bisect_game g;
	size_t idx = 0;
	bool have_claim = false, have_chal = false, have_reg = false;

	err = next_msg(&c, &claim, ei, idx++);
	have_claim = err == RF_OK;
	if (err == RF_OK) {
		err = next_msg(&c, &chal, ei, idx++);
		have_chal = err == RF_OK;
	}
	if (err == RF_OK) {
		err = next_msg(&c, &reg, ei, idx++);
		have_reg = err == RF_OK;
	}
	const struct proto_claim *cl = have_claim ? &claim.u.claim : NULL;
	const struct proto_challenge *ch = have_chal ? &chal.u.challenge : NULL;
	const struct proto_model_register *mr = have_reg ?
	    &reg.u.model_register : NULL;
	if (err == RF_OK && (claim.type != PROTO_MSG_CLAIM ||
	    chal.type != PROTO_MSG_CHALLENGE ||
	    reg.type != PROTO_MSG_MODEL_REGISTER)) {
		err = rf_errf(ei, RF_ERR_INVAL, "the transcript must open with a "
		    "claim, a challenge and a model registration");
	}
	if (err == RF_OK && (!key_eq(&claim.sender, &vd->executor) ||
	    !key_eq(&chal.sender, &vd->challenger) ||
	    !proto_digest_equal(suite, &cl->job_id, &vd->job_id) ||
	    !proto_digest_equal(suite, &ch->job_id, &vd->job_id) ||
	    !key_eq(&ch->executor, &claim.sender) ||
	    !proto_digest_equal(suite, &ch->executor_root, &cl->trace_root) ||
	    ch->n != cl->n)) {
		err = rf_errf(ei, RF_ERR_INVAL, "the claim, the challenge and "
		    "the verdict do not name the same job and parties");
	}
	if (err == RF_OK &&
	    !proto_digest_equal(suite, &mr->model_id, &cl->model_id)) {
		err = rf_errf(ei, RF_ERR_INVAL, "the registration is of another "
		    "model");
	}
	if (err == RF_OK) {
		struct proto_digest leaf;
		merkle_leaf_hash(suite, mr->graph, mr->graph_len, &leaf);
		if (merkle_inclusion_verify(suite, &leaf, 0, mr->n_leaves,
		    mr->graph_proof, mr->proof_len, &mr->model_id) != RF_OK) {
			err = rf_errf(ei, RF_ERR_CRYPTO, "the graph is not leaf 0 of "
			    "model_id");
		}
	}
	if (err == RF_OK) {
		err = engine_model_decode_graph(mr->graph, mr->graph_len, &model,
		    ei);
	}
	/* The arity shows in the first query: its sizes plus one. */
	uint32_t arity = 2;
	if (err == RF_OK && c.left >= 4) {
		struct cursor peek = c;
		struct proto_msg q;
		if (next_msg(&peek, &q, NULL, idx) == RF_OK) {
			if (q.type == PROTO_MSG_BISECT_QUERY &&
			    q.u.bisect_query.n_sizes > 0) {
				arity = q.u.bisect_query.n_sizes + 1u;
			}
			proto_msg_free(&q);
		}
	}
	if (err == RF_OK) {
		/* Clocks cannot be replayed: give the audit's game all the time
		 * in the world and check timeouts by who was awaited. */
		err = bisect_start(&g, suite, arity, UINT64_MAX / 4, cl->n,
		    cl->n_inputs, cl->input_leaves, &cl->trace_root,
		    &ch->challenger_root, 0);
		if (err != RF_OK) {
			rf_errf(ei, err, "the claim and challenge do not start a game");
		}
	}
	/* Moves, in the order the referee applied them. */
	while (err == RF_OK && c.left > 0 && g.phase != BISECT_PHASE_DONE) {
		struct proto_msg m;
		err = next_msg(&c, &m, ei, idx);
		if (err != RF_OK) {
			break;
		}
		enum bisect_result res = BISECT_ACCEPTED;
		if (m.type == PROTO_MSG_BISECT_QUERY) {
			if (!key_eq(&m.sender, &referee)) {
				err = rf_errf(ei, RF_ERR_CRYPTO, "entry %zu: a query not "
				    "signed by the referee", idx);
			} else {
				err = check_query(&g, &m.u.bisect_query, ei, idx);
			}
		} else if (m.type == PROTO_MSG_BISECT_ANSWER) {
			enum bisect_side side = key_eq(&m.sender, &vd->executor) ?
			    BISECT_EXECUTOR : BISECT_CHALLENGER;
			if (side == BISECT_CHALLENGER &&
			    !key_eq(&m.sender, &vd->challenger)) {
				err = rf_errf(ei, RF_ERR_CRYPTO, "entry %zu: an answer "
				    "from a stranger", idx);
			} else {
				res = bisect_answer(&g, side, &m.u.bisect_answer, 0, NULL);
			}
		} else if (m.type == PROTO_MSG_REVEAL &&
		    key_eq(&m.sender, &vd->executor)) {
			res = bisect_reveal(&g, model, &cl->model_id, mr->n_leaves,
			    &m.u.reveal, 0, NULL);
		} else {
			err = rf_errf(ei, RF_ERR_INVAL, "entry %zu: an unexpected %s",
			    idx, proto_msg_type_name(m.type));
		}
		if (err == RF_OK && res == BISECT_IGNORED) {
			err = rf_errf(ei, RF_ERR_INVAL, "entry %zu: a move the game "
			    "would not take", idx);
		}
		proto_msg_free(&m);
		idx++;
	}
	if (err == RF_OK) {
		out->rounds = g.rounds;
		out->op = g.op;
		out->executor_won = g.executor_won;
		if (g.phase == BISECT_PHASE_DONE) {
			out->confirmed = g.executor_won == (vd->executor_won != 0) &&
			    g.reason == vd->reason && g.rounds == vd->rounds &&
			    (g.reason != PROTO_VERDICT_RECOMPUTED || g.op == vd->op);
			snprintf(out->why, sizeof(out->why), "%s", g.why);
		} else if (vd->reason == PROTO_VERDICT_TIMEOUT) {
			/* The loser must be a side the game was still waiting
			 * for, and the other one not (unless both were). */
			enum bisect_side loser = vd->executor_won ? BISECT_CHALLENGER :
			    BISECT_EXECUTOR;
			out->confirmed = bisect_waiting_for(&g, loser) &&
			    g.rounds == vd->rounds;
			snprintf(out->why, sizeof(out->why), "the %s's clock ran out "
			    "while the game waited for it",
			    loser == BISECT_EXECUTOR ? "executor" : "challenger");
		} else if (vd->reason == PROTO_VERDICT_SETTLED) {
			out->confirmed = !vd->executor_won;
			snprintf(out->why, sizeof(out->why), "settled by another "
			    "dispute's verdict against the claim");
		} else {
			out->confirmed = false;
			snprintf(out->why, sizeof(out->why), "the transcript ends "
			    "before the game does");
		}
		if (c.left != 0 && out->confirmed) {
			out->confirmed = false;
			snprintf(out->why, sizeof(out->why), "moves after the end of "
			    "the game");
		}
	}
	engine_model_free(model);
	if (have_reg) {
		proto_msg_free(&reg);
	}
	if (have_chal) {
		proto_msg_free(&chal);
	}
	if (have_claim) {
		proto_msg_free(&claim);
	}
	proto_msg_free(&v);
	return err;
}
