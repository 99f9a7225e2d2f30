/*
 * referee/disputes.c - disputes on the referee: opening one with a bond,
 * playing the bisect/ game move by move, the one-step recomputation,
 * clocks, verdicts, slashing and equivocation.
 *
 * A dispute's state is the bisect_game, stored in its versioned encoding
 * (bisect_game_encode) in the same transaction as every move, so a
 * restarted referee resumes each game where it was (referee/restart.c
 * gives back the clock time it was down). The transcript holds every
 * signed message of the dispute: the claim, the challenge, the model's
 * registration, the client's job, each query the referee asked, each
 * answer and the reveal; the verdict carries it, so
 * anyone can replay the game (`refute audit`).
 *
 * Money: opening moves the bond from the challenger's balance into the
 * dispute. A lost challenge pays the bond to the executor. A lost claim
 * slashes the executor's whole stake: reward_pct of it to the challenger
 * (when the challenger's own root was the right one), the rest burned; the
 * bond goes back; the client's fee is refunded; the other disputes on the
 * same claim are settled with their bonds returned.
 */
#include <stdlib.h>
#include <string.h>

#include "../base/log.h"
#include "../bisect/bisect.h"
#include "referee_int.h"

enum dispute_state {
	DISPUTE_OPEN = 1,
	DISPUTE_DECIDED = 2,
};

struct dispute {
	struct proto_digest id, job;
	struct proto_pubkey executor, challenger;
	uint64_t bond;
	int state;
	struct bisect_game game;
	uint8_t *transcript;
	size_t transcript_len;
};

static void
dispute_free(struct dispute *d)
{
	free(d->transcript);
	d->transcript = NULL;
}

static int
dispute_load(struct referee *r, const struct proto_digest *id,
    struct dispute *d, bool *found)
{
	sqlite3_stmt *st;
	memset(d, 0, sizeof(*d));
	int err = db_stmt(r, &st, "SELECT job_id, executor, challenger, bond, "
	    "state, game, transcript FROM disputes WHERE dispute_id = ?1", "d",
	    id);
	if (err != RF_OK) {
		return err;
	}
	int rc = sqlite3_step(st);
	*found = rc == SQLITE_ROW;
	if (*found) {
		d->id = *id;
		db_col_digest(r, st, 0, &d->job);
		db_col_key(st, 1, &d->executor);
		db_col_key(st, 2, &d->challenger);
		d->bond = (uint64_t)sqlite3_column_int64(st, 3);
		d->state = sqlite3_column_int(st, 4);
		/* Any version bisect/codec.c knows; a damaged row is an error. */
		if (bisect_game_decode(sqlite3_column_blob(st, 5),
		    (size_t)sqlite3_column_bytes(st, 5), &d->game, NULL) != RF_OK) {
			err = RF_ERR_STORE;
		}
		size_t tl = (size_t)sqlite3_column_bytes(st, 6);
		d->transcript = malloc(tl ? tl : 1);
		if (d->transcript == NULL) {
			err = RF_ERR_NOMEM;
		} else {
			memcpy(d->transcript, sqlite3_column_blob(st, 6), tl);
			d->transcript_len = tl;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		err = RF_ERR_STORE;
	}
	if (err != RF_OK) {
		dispute_free(d);
	}
	return err;
}

static int
dispute_save(struct referee *r, const struct dispute *d)
{
	uint8_t game[BISECT_GAME_MAX_ENCODED];
	size_t game_len;
	int err = bisect_game_encode(&d->game, game, &game_len);
	if (err != RF_OK) {
		return err;
	}
	return db_run(r, "UPDATE disputes SET state = ?2, game = ?3, "
	    "transcript = ?4 WHERE dispute_id = ?1", "dibb", &d->id,
	    (int64_t)d->state, game, game_len, d->transcript,
	    d->transcript_len);
}

/* Appends one envelope (u32 length, bytes) to the transcript. */
static int
transcript_add(struct dispute *d, const uint8_t *msg, size_t len)
{
	if (len > PROTO_MAX_TRANSCRIPT ||
	    d->transcript_len > PROTO_MAX_TRANSCRIPT - 4 - len) {
		return RF_ERR_RANGE;
	}
	uint8_t *t = realloc(d->transcript, d->transcript_len + 4 + len);
	if (t == NULL) {
		return RF_ERR_NOMEM;
	}
	for (int i = 0; i < 4; i++) {
		t[d->transcript_len + (size_t)i] = (uint8_t)(len >> (8 * i));
	}
	memcpy(t + d->transcript_len + 4, msg, len);
	d->transcript = t;
	d->transcript_len += 4 + len;
	return RF_OK;
}

/* The referee's query for the game's current move: prefix sizes, or (with
 * no sizes and hi = lo + 1) the reveal of operator lo - I. */
static void
current_query(const struct dispute *d, struct proto_msg *m,
    enum proto_hash suite)
{
	proto_msg_init(m, PROTO_MSG_BISECT_QUERY, suite);
	bisect_query(&d->game, &d->id, &m->u.bisect_query);
	if (d->game.phase == BISECT_PHASE_REVEAL) {
		m->u.bisect_query.deadline_ms = bisect_deadline(&d->game,
		    BISECT_EXECUTOR);
	}
}

/* Records the new move in the transcript and wakes both sides. */
static int
announce_move(struct request *q, struct dispute *d)
{
	struct proto_msg m;
	uint8_t *buf;
	size_t len;
	current_query(d, &m, q->r->params.suite);
	int err = referee_encode(q->r, &m, &buf, &len);
	if (err != RF_OK) {
		return err;
	}
	err = transcript_add(d, buf, len);
	free(buf);
	if (err == RF_OK) {
		err = event_emit(q, PROTO_EVENT_DISPUTE_MOVE, &d->job, &d->id,
		    &d->executor, d->game.phase == BISECT_PHASE_REVEAL ? 0 :
		    d->game.round);
	}
	return err;
}

static int
set_claim_state(struct referee *r, const struct proto_digest *job, int state)
{
	int err = db_run(r, "UPDATE claims SET state = ?2 WHERE job_id = ?1",
	    "di", job, (int64_t)state);
	if (err == RF_OK) {
		err = db_run(r, "UPDATE jobs SET state = ?2 WHERE job_id = ?1",
		    "di", job, (int64_t)state);
	}
	return err;
}

static int
open_disputes_on(struct referee *r, const struct proto_digest *job,
    int64_t *n)
{
	sqlite3_stmt *st;
	int err = db_stmt(r, &st, "SELECT count(*) FROM disputes WHERE job_id "
	    "= ?1 AND state = 1", "d", job);
	if (err != RF_OK) {
		return err;
	}
	*n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return RF_OK;
}

/* Signs the verdict, stores it with the dispute, queues it for the PUB
 * socket. */
static int
store_verdict(struct request *q, struct dispute *d, uint64_t slashed,
    uint64_t reward)
{
	struct referee *r = q->r;
	struct proto_msg m;
	proto_msg_init(&m, PROTO_MSG_VERDICT, r->params.suite);
	struct proto_verdict *v = &m.u.verdict;
	v->dispute_id = d->id;
	v->job_id = d->job;
	v->executor = d->executor;
	v->challenger = d->challenger;
	v->executor_won = d->game.executor_won ? 1 : 0;
	v->reason = d->game.reason;
	v->op = d->game.op;
	v->rounds = d->game.rounds;
	v->slashed = slashed;
	v->reward = reward;
	/* The message borrows the transcript; it must not free it. */
	v->transcript = d->transcript;
	v->transcript_len = d->transcript_len;
	uint8_t *buf;
	size_t len;
	int err = referee_encode(r, &m, &buf, &len);
	v->transcript = NULL;
	v->transcript_len = 0;
	if (err != RF_OK) {
		return err;
	}
	err = db_run(r, "UPDATE disputes SET verdict = ?2 WHERE dispute_id = ?1",
	    "db", &d->id, buf, len);
	if (err == RF_OK) {
		err = outbox_push(&q->events, buf, len);
	}
	if (err != RF_OK) {
		free(buf);
	}
	return err;
}

/* Closes another dispute on a claim already proven false: the bond goes
 * back, nobody is slashed twice. */
static int
settle(struct request *q, const struct proto_digest *id)
{
	struct referee *r = q->r;
	struct dispute d;
	bool found;
	int err = dispute_load(r, id, &d, &found);
	if (err != RF_OK || !found) {
		return err;
	}
	d.game.phase = BISECT_PHASE_DONE;
	d.game.executor_won = false;
	d.game.challenger_right = true;
	d.game.reason = PROTO_VERDICT_SETTLED;
	d.state = DISPUTE_DECIDED;
	err = ledger_credit(r, &d.challenger, "balance", d.bond);
	if (err == RF_OK) {
		err = dispute_save(r, &d);
	}
	if (err == RF_OK) {
		err = store_verdict(q, &d, 0, 0);
	}
	if (err == RF_OK) {
		err = event_emit(q, PROTO_EVENT_DISPUTE_CLOSED, &d.job, &d.id,
		    &d.executor, 0);
	}
	dispute_free(&d);
	return err;
}

/*
 * A slashed executor has no stake left to claim with: every job still
 * waiting on it goes to another eligible executor (JOB_ASSIGNED), or, when
 * none serves the model, fails with the client's fee refunded.
 */
static int
reassign_jobs(struct request *q, const struct proto_pubkey *from)
{
	struct referee *r = q->r;
	for (;;) {
		sqlite3_stmt *st;
		struct proto_digest job, model;
		struct proto_pubkey client;
		uint64_t fee = 0;
		int err = db_stmt(r, &st, "SELECT job_id, model_id, client, fee "
		    "FROM jobs WHERE executor = ?1 AND state = 1 LIMIT 1", "k",
		    from);
		if (err != RF_OK) {
			return err;
		}
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			db_col_digest(r, st, 0, &job);
			db_col_digest(r, st, 1, &model);
			db_col_key(st, 2, &client);
			fee = (uint64_t)sqlite3_column_int64(st, 3);
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_ROW) {
			return rc == SQLITE_DONE ? RF_OK : RF_ERR_STORE;
		}
		struct proto_pubkey to;
		bool found = false;
		err = referee_pick_executor(r, &model, &to, &found);
		if (err == RF_OK && found) {
			err = db_run(r, "UPDATE jobs SET executor = ?2 WHERE job_id = "
			    "?1", "dk", &job, &to);
			if (err == RF_OK) {
				err = event_emit(q, PROTO_EVENT_JOB_ASSIGNED, &job, NULL,
				    &to, fee);
			}
		} else if (err == RF_OK) {
			err = db_run(r, "UPDATE jobs SET state = ?2 WHERE job_id = ?1",
			    "di", &job, (int64_t)PROTO_JOB_INVALID);
			if (err == RF_OK && fee > 0) {
				err = ledger_credit(r, &client, "balance", fee);
			}
			if (err == RF_OK) {
				err = event_emit(q, PROTO_EVENT_CLAIM_INVALID, &job, NULL,
				    from, 0);
			}
		}
		if (err != RF_OK) {
			return err;
		}
	}
}

/* The claim on job is false: slash, refund, invalidate, settle the rest.
 * Returns the amounts. */
static int
claim_falls(struct request *q, const struct proto_digest *job,
    const struct proto_pubkey *executor, const struct proto_pubkey *winner,
    const struct proto_digest *except, uint64_t *slashed, uint64_t *reward)
{
	struct referee *r = q->r;
	struct account a;
	int err = ledger_account(r, executor, &a);
	if (err != RF_OK) {
		return err;
	}
	*slashed = a.stake;
	*reward = winner != NULL ? a.stake / 100 * r->params.reward_pct +
	    a.stake % 100 * r->params.reward_pct / 100 : 0;
	if (*slashed > 0) {
		err = ledger_debit(r, executor, "stake", *slashed);
	}
	if (err == RF_OK && *reward > 0) {
		err = ledger_credit(r, winner, "balance", *reward);
	}
	if (err == RF_OK) {
		err = db_meta_add(r, "burned", (int64_t)(*slashed - *reward));
	}
	/* The client gets its escrowed fee back. */
	sqlite3_stmt *st;
	if (err == RF_OK) {
		err = db_stmt(r, &st, "SELECT client, fee, state FROM jobs WHERE "
		    "job_id = ?1", "d", job);
	}
	if (err == RF_OK) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			struct proto_pubkey client;
			db_col_key(st, 0, &client);
			uint64_t fee = (uint64_t)sqlite3_column_int64(st, 1);
			int state = sqlite3_column_int(st, 2);
			sqlite3_finalize(st);
			if (fee > 0 && state != PROTO_JOB_FINAL &&
			    state != PROTO_JOB_INVALID) {
				err = ledger_credit(r, &client, "balance", fee);
			}
		} else {
			sqlite3_finalize(st);
		}
	}
	if (err == RF_OK) {
		err = set_claim_state(r, job, PROTO_JOB_INVALID);
	}
	/* Settle every other open dispute on this claim: settling closes
	 * them, so each pass finds the ones left. */
	for (bool more = true; err == RF_OK && more;) {
		struct proto_digest others[16];
		size_t n_others = 0;
		err = db_stmt(r, &st, "SELECT dispute_id FROM disputes WHERE "
		    "job_id = ?1 AND state = 1 LIMIT 17", "d", job);
		if (err != RF_OK) {
			break;
		}
		size_t rows = 0;
		while (sqlite3_step(st) == SQLITE_ROW && n_others < 16) {
			rows++;
			db_col_digest(r, st, 0, &others[n_others]);
			if (except == NULL || !proto_digest_equal(r->params.suite,
			    &others[n_others], except)) {
				n_others++;
			}
		}
		sqlite3_finalize(st);
		more = rows == 17;
		for (size_t i = 0; err == RF_OK && i < n_others; i++) {
			err = settle(q, &others[i]);
		}
	}
	if (err == RF_OK) {
		err = reassign_jobs(q, executor);
	}
	if (err == RF_OK) {
		err = event_emit(q, PROTO_EVENT_CLAIM_INVALID, job, NULL, executor,
		    0);
	}
	if (err == RF_OK) {
		err = event_emit(q, PROTO_EVENT_NODE_SLASHED, job, except, executor,
		    *slashed);
	}
	return err;
}

/* The game is over: move the money and publish the verdict. */
static int
decide(struct request *q, struct dispute *d)
{
	struct referee *r = q->r;
	const struct bisect_game *g = &d->game;
	uint64_t slashed = 0, reward = 0;
	int err;
	d->state = DISPUTE_DECIDED;
	if (g->executor_won) {
		/* A false challenge: the bond goes to the executor. */
		err = ledger_credit(r, &d->executor, "balance", d->bond);
		slashed = d->bond;
		reward = d->bond;
		int64_t still_open = 0;
		if (err == RF_OK) {
			err = dispute_save(r, d); /* not open any more */
		}
		if (err == RF_OK) {
			err = open_disputes_on(r, &d->job, &still_open);
		}
		if (err == RF_OK && still_open == 0) {
			/* Back in its window; the timer finalises it. */
			err = set_claim_state(r, &d->job, PROTO_JOB_CLAIMED);
		}
	} else {
		/* The claim was false. The bond comes back to a challenger
		 * whose own root was right; a challenger who was wrong too
		 * loses it. */
		err = dispute_save(r, d);
		if (err == RF_OK) {
			err = claim_falls(q, &d->job, &d->executor,
			    g->challenger_right ? &d->challenger : NULL, &d->id,
			    &slashed, &reward);
		}
		if (err == RF_OK) {
			err = g->challenger_right ?
			    ledger_credit(r, &d->challenger, "balance", d->bond) :
			    db_meta_add(r, "burned", (int64_t)d->bond);
		}
	}
	if (err == RF_OK) {
		err = dispute_save(r, d);
	}
	if (err == RF_OK) {
		err = store_verdict(q, d, slashed, reward);
	}
	if (err == RF_OK) {
		err = event_emit(q, PROTO_EVENT_DISPUTE_CLOSED, &d->job, &d->id,
		    g->executor_won ? &d->challenger : &d->executor, slashed);
	}
	if (err == RF_OK) {
		char id[13];
		referee_hex12(r->params.suite, &d->id, id);
		net_counter_inc(r->m_verdicts);
		log_info("dispute %s decided: %s wins after %u rounds (%s); "
		    "operator %u; slashed %llu, reward %llu", id,
		    g->executor_won ? "executor" : "challenger", g->rounds, g->why,
		    g->op, (unsigned long long)slashed,
		    (unsigned long long)reward);
	}
	return err;
}

/* ------------------------------------------------------------------ */
/* Requests                                                             */
/* ------------------------------------------------------------------ */

/* dispute_id = H("refute-dispute" || job_id || challenger) */
static void
dispute_id_of(enum proto_hash suite, const struct proto_digest *job,
    const struct proto_pubkey *challenger, struct proto_digest *out)
{
	proto_dispute_id(suite, job, challenger, out);
}

int
h_challenge(struct request *q)
{
	struct referee *r = q->r;
	const struct proto_challenge *c = &q->msg->u.challenge;
	enum proto_hash suite = r->params.suite;
	struct account a;
	int err = ledger_account(r, &q->msg->sender, &a);
	if (err != RF_OK) {
		return err;
	}
	if (!(a.roles & PROTO_ROLE_CHALLENGER)) {
		return req_refuse(q, PROTO_ERR_INVALID, "only a challenger can "
		    "open a dispute");
	}
	if (c->bond < r->params.min_bond || c->bond > INT64_MAX) {
		return req_refuse(q, PROTO_ERR_STAKE, "the bond must be at least "
		    "%llu", (unsigned long long)r->params.min_bond);
	}
	sqlite3_stmt *st;
	err = db_stmt(r, &st, "SELECT c.executor, c.trace_root, c.n, "
	    "c.window_end_ms, c.state, c.envelope, j.input_leaves, m.envelope, "
	    "j.submit FROM claims c JOIN jobs j ON j.job_id = c.job_id JOIN models m ON "
	    "m.model_id = j.model_id WHERE c.job_id = ?1", "d", &c->job_id);
	if (err != RF_OK) {
		return err;
	}
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return req_refuse(q, PROTO_ERR_UNKNOWN, "no claim on that job");
	}
	struct proto_pubkey ex;
	struct proto_digest root;
	db_col_key(st, 0, &ex);
	db_col_digest(r, st, 1, &root);
	uint64_t n = (uint64_t)sqlite3_column_int64(st, 2);
	uint64_t window_end = (uint64_t)sqlite3_column_int64(st, 3);
	int state = sqlite3_column_int(st, 4);
	struct proto_digest leaves[PROTO_MAX_TENSORS];
	size_t hl = proto_hash_len(suite);
	size_t n_in = (size_t)sqlite3_column_bytes(st, 6) / hl;
	for (size_t i = 0; i < n_in && i < PROTO_MAX_TENSORS; i++) {
		memset(&leaves[i], 0, sizeof(leaves[i]));
		memcpy(leaves[i].b, (const uint8_t *)sqlite3_column_blob(st, 6) +
		    i * hl, hl);
	}
	struct dispute d;
	memset(&d, 0, sizeof(d));
	/* The transcript starts with what binds the game: the claim, the
	 * challenge, the model registration (the graph) and the client's
	 * signed job (its inputs). */
	err = transcript_add(&d, sqlite3_column_blob(st, 5),
	    (size_t)sqlite3_column_bytes(st, 5));
	if (err == RF_OK) {
		err = transcript_add(&d, q->raw, q->raw_len);
	}
	if (err == RF_OK) {
		err = transcript_add(&d, sqlite3_column_blob(st, 7),
		    (size_t)sqlite3_column_bytes(st, 7));
	}
	if (err == RF_OK) {
		err = transcript_add(&d, sqlite3_column_blob(st, 8),
		    (size_t)sqlite3_column_bytes(st, 8));
	}
	sqlite3_finalize(st);
	if (err != RF_OK) {
		dispute_free(&d);
		return err;
	}
	const char *why = NULL;
	if (state != PROTO_JOB_CLAIMED && state != PROTO_JOB_DISPUTED) {
		why = "the claim is not open to challenge";
	} else if (q->now_ms >= window_end) {
		why = "the challenge window has closed";
	} else if (memcmp(ex.b, c->executor.b, PROTO_KEY_LEN) != 0 ||
	    !proto_digest_equal(suite, &root, &c->executor_root) || n != c->n) {
		why = "the challenge does not name the claim as posted";
	} else if (proto_digest_equal(suite, &root, &c->challenger_root)) {
		why = "the challenger's root equals the claim's";
	} else if (n_in == 0 || n_in > PROTO_MAX_TENSORS) {
		why = "the job has no inputs";
	}
	if (why != NULL) {
		dispute_free(&d);
		return req_refuse(q, PROTO_ERR_STATE, "%s", why);
	}
	dispute_id_of(suite, &c->job_id, &q->msg->sender, &d.id);
	err = db_stmt(r, &st, "SELECT 1 FROM disputes WHERE dispute_id = ?1",
	    "d", &d.id);
	if (err == RF_OK) {
		bool dup = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
		if (dup) {
			dispute_free(&d);
			return req_refuse(q, PROTO_ERR_STATE, "this challenger already "
			    "disputes that claim");
		}
	}
	if (err == RF_OK) {
		err = ledger_debit(r, &q->msg->sender, "balance", c->bond);
		if (err == RF_ERR_RANGE) {
			dispute_free(&d);
			return req_refuse(q, PROTO_ERR_STAKE, "balance is less than "
			    "the bond");
		}
	}
	if (err == RF_OK) {
		err = bisect_start(&d.game, suite, r->params.arity,
		    r->params.clock_ms, n, (uint32_t)n_in, leaves, &root,
		    &c->challenger_root, q->now_ms);
	}
	if (err == RF_OK) {
		d.job = c->job_id;
		d.executor = ex;
		d.challenger = q->msg->sender;
		d.bond = c->bond;
		d.state = DISPUTE_OPEN;
		err = db_run(r, "INSERT INTO disputes (dispute_id, job_id, "
		    "executor, challenger, bond, state, game, transcript, "
		    "opened_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
		    "ddkkiibbi", &d.id, &d.job, &d.executor, &d.challenger,
		    (int64_t)d.bond, (int64_t)d.state, "", (size_t)0, /* the
		    game is written by dispute_save below */
		    d.transcript, d.transcript_len, (int64_t)q->now_ms);
	}
	if (err == RF_OK) {
		err = set_claim_state(r, &d.job, PROTO_JOB_DISPUTED);
	}
	if (err == RF_OK) {
		err = event_emit(q, PROTO_EVENT_DISPUTE_OPENED, &d.job, &d.id,
		    &d.challenger, d.bond);
	}
	if (err == RF_OK) {
		err = d.game.phase == BISECT_PHASE_DONE ? decide(q, &d) :
		    announce_move(q, &d);
	}
	if (err == RF_OK) {
		err = dispute_save(r, &d);
	}
	if (err == RF_OK) {
		char id[13];
		referee_hex12(suite, &d.id, id);
		net_counter_inc(r->m_disputes);
		log_info("dispute %s opened on a claim of %llu entries, bond "
		    "%llu", id, (unsigned long long)n,
		    (unsigned long long)d.bond);
		req_ack(q, &d.id);
	}
	dispute_free(&d);
	return err;
}

/* Loads the sender's open dispute and its side. */
static int
load_for_move(struct request *q, const struct proto_digest *id,
    struct dispute *d, enum bisect_side *side)
{
	bool found;
	int err = dispute_load(q->r, id, d, &found);
	if (err != RF_OK) {
		return err;
	}
	if (!found) {
		return req_refuse(q, PROTO_ERR_UNKNOWN, "no such dispute");
	}
	if (memcmp(q->msg->sender.b, d->executor.b, PROTO_KEY_LEN) == 0) {
		*side = BISECT_EXECUTOR;
	} else if (memcmp(q->msg->sender.b, d->challenger.b,
	    PROTO_KEY_LEN) == 0) {
		*side = BISECT_CHALLENGER;
	} else {
		dispute_free(d);
		return req_refuse(q, PROTO_ERR_INVALID, "not a party to this "
		    "dispute");
	}
	if (d->state != DISPUTE_OPEN) {
		dispute_free(d);
		return req_refuse(q, PROTO_ERR_STATE, "the dispute is decided");
	}
	return RF_OK;
}

/* After an accepted or losing move: record it, then either announce the
 * next move or decide. */
static int
after_move(struct request *q, struct dispute *d, enum bisect_result res,
    uint32_t round_before, enum bisect_phase phase_before)
{
	int err = transcript_add(d, q->raw, q->raw_len);
	if (err != RF_OK) {
		return err;
	}
	if (d->game.phase == BISECT_PHASE_DONE) {
		err = decide(q, d);
	} else if (d->game.round != round_before ||
	    d->game.phase != phase_before) {
		err = announce_move(q, d);
	}
	if (err == RF_OK) {
		err = dispute_save(q->r, d);
	}
	if (err == RF_OK) {
		req_ack(q, &d->id);
		if (res == BISECT_LOST) {
			/* The move was applied (it lost the game): say so. */
			req_refuse(q, PROTO_ERR_INVALID, "%s", d->game.why);
		}
	}
	return err;
}

int
h_answer(struct request *q)
{
	const struct proto_bisect_answer *a = &q->msg->u.bisect_answer;
	struct dispute d;
	enum bisect_side side = BISECT_EXECUTOR;
	int err = load_for_move(q, &a->dispute_id, &d, &side);
	if (err != RF_OK) {
		return err;
	}
	uint32_t round = d.game.round;
	enum bisect_phase phase = d.game.phase;
	struct rf_errinfo ei = { "" };
	enum bisect_result res = bisect_answer(&d.game, side, a, q->now_ms,
	    &ei);
	if (res == BISECT_IGNORED) {
		dispute_free(&d);
		return req_refuse(q, PROTO_ERR_STATE, "%s", ei.msg);
	}
	err = after_move(q, &d, res, round, phase);
	dispute_free(&d);
	/* A losing move still changed the state: commit it. */
	return err;
}

int
h_reveal(struct request *q)
{
	struct referee *r = q->r;
	const struct proto_reveal *rv = &q->msg->u.reveal;
	struct dispute d;
	enum bisect_side side = BISECT_EXECUTOR;
	int err = load_for_move(q, &rv->dispute_id, &d, &side);
	if (err != RF_OK) {
		return err;
	}
	if (side != BISECT_EXECUTOR) {
		dispute_free(&d);
		return req_refuse(q, PROTO_ERR_INVALID, "only the executor "
		    "reveals");
	}
	/* The operator comes from the registered graph. */
	sqlite3_stmt *st;
	err = db_stmt(r, &st, "SELECT m.graph, m.model_id, m.n_leaves FROM "
	    "jobs j JOIN models m ON m.model_id = j.model_id WHERE j.job_id = "
	    "?1", "d", &d.job);
	struct engine_model *model = NULL;
	struct proto_digest model_id;
	uint32_t n_leaves = 0;
	if (err == RF_OK) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			err = engine_model_decode_graph(sqlite3_column_blob(st, 0),
			    (size_t)sqlite3_column_bytes(st, 0), &model, NULL);
			db_col_digest(r, st, 1, &model_id);
			n_leaves = (uint32_t)sqlite3_column_int64(st, 2);
		} else {
			err = RF_ERR_STORE;
		}
		sqlite3_finalize(st);
	}
	if (err != RF_OK) {
		dispute_free(&d);
		return err;
	}
	uint32_t round = d.game.round;
	enum bisect_phase phase = d.game.phase;
	struct rf_errinfo ei = { "" };
	enum bisect_result res = bisect_reveal(&d.game, model, &model_id,
	    n_leaves, rv, q->now_ms, &ei);
	engine_model_free(model);
	if (res == BISECT_IGNORED) {
		dispute_free(&d);
		return req_refuse(q, PROTO_ERR_STATE, "%s", ei.msg);
	}
	err = after_move(q, &d, res, round, phase);
	dispute_free(&d);
	return err;
}

/* Two signed claims by one executor for one job that differ: proof of
 * equivocation, whoever brings it. The referee itself holds such a proof
 * when an executor posts a second, different claim (referee/handlers.c).
 */
int
equivocation_apply(struct request *q, const uint8_t *a, size_t la,
    const uint8_t *b, size_t lb, const struct proto_pubkey *reporter)
{
	struct referee *r = q->r;
	enum proto_hash suite = r->params.suite;
	struct proto_msg ca, cb;
	int err = proto_msg_decode(a, la, &ca, NULL);
	if (err != RF_OK) {
		return req_refuse(q, PROTO_ERR_INVALID, "claim a does not verify");
	}
	err = proto_msg_decode(b, lb, &cb, NULL);
	if (err != RF_OK) {
		proto_msg_free(&ca);
		return req_refuse(q, PROTO_ERR_INVALID, "claim b does not verify");
	}
	const char *why = NULL;
	if (ca.type != PROTO_MSG_CLAIM || cb.type != PROTO_MSG_CLAIM) {
		why = "both messages must be claims";
	} else if (memcmp(ca.sender.b, cb.sender.b, PROTO_KEY_LEN) != 0) {
		why = "the claims have different signers";
	} else if (!proto_digest_equal(suite, &ca.u.claim.job_id,
	    &cb.u.claim.job_id)) {
		why = "the claims are for different jobs";
	} else if (proto_digest_equal(suite, &ca.u.claim.trace_root,
	    &cb.u.claim.trace_root) && ca.u.claim.n == cb.u.claim.n) {
		why = "the claims commit to the same trace";
	}
	struct proto_digest job = ca.u.claim.job_id;
	struct proto_pubkey ex = ca.sender;
	proto_msg_free(&ca);
	proto_msg_free(&cb);
	if (why != NULL) {
		return req_refuse(q, PROTO_ERR_INVALID, "%s", why);
	}
	sqlite3_stmt *st;
	err = db_stmt(r, &st, "SELECT state FROM jobs WHERE job_id = ?1 AND "
	    "executor = ?2", "dk", &job, &ex);
	if (err != RF_OK) {
		return err;
	}
	int rc = sqlite3_step(st);
	int state = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW) {
		return req_refuse(q, PROTO_ERR_UNKNOWN, "no such job for that "
		    "executor");
	}
	if (state == PROTO_JOB_INVALID) {
		return req_refuse(q, PROTO_ERR_STATE, "the claim is already void");
	}
	uint64_t slashed, reward;
	err = claim_falls(q, &job, &ex, reporter, NULL, &slashed, &reward);
	if (err == RF_OK) {
		char k[13];
		referee_key12(&ex, k);
		log_info("executor %s equivocated: slashed %llu, reward %llu", k,
		    (unsigned long long)slashed, (unsigned long long)reward);
	}
	return err;
}

int
h_equivocation(struct request *q)
{
	const struct proto_equivocation *e = &q->msg->u.equivocation;
	int err = equivocation_apply(q, e->claim_a, e->len_a, e->claim_b,
	    e->len_b, &q->msg->sender);
	if (err == RF_OK) {
		req_ack(q, NULL);
	}
	return err;
}

/* ------------------------------------------------------------------ */
/* Queries and clocks                                                   */
/* ------------------------------------------------------------------ */

int
r_dispute_fetch(struct request *q)
{
	struct referee *r = q->r;
	struct dispute d;
	bool found;
	int err = dispute_load(r, &q->msg->u.dispute_fetch.dispute_id, &d,
	    &found);
	if (err != RF_OK) {
		return err;
	}
	if (!found) {
		return req_refuse(q, PROTO_ERR_UNKNOWN, "no such dispute");
	}
	proto_msg_free(&q->reply);
	if (d.state == DISPUTE_OPEN) {
		current_query(&d, &q->reply, r->params.suite);
		dispute_free(&d);
		return RF_OK;
	}
	dispute_free(&d);
	sqlite3_stmt *st;
	err = db_stmt(r, &st, "SELECT verdict FROM disputes WHERE dispute_id = "
	    "?1", "d", &q->msg->u.dispute_fetch.dispute_id);
	if (err != RF_OK) {
		return err;
	}
	err = RF_ERR_STORE;
	if (sqlite3_step(st) == SQLITE_ROW) {
		err = proto_msg_decode(sqlite3_column_blob(st, 0),
		    (size_t)sqlite3_column_bytes(st, 0), &q->reply, NULL);
	}
	sqlite3_finalize(st);
	if (err != RF_OK) {
		proto_msg_init(&q->reply, PROTO_MSG_ERROR, r->params.suite);
	}
	return err;
}

int
disputes_tick(struct referee *r)
{
	struct proto_digest ids[32];
	size_t n = 0;
	sqlite3_stmt *st;
	store_lock(r->db);
	int err = db_stmt(r, &st, "SELECT dispute_id FROM disputes WHERE state "
	    "= 1 LIMIT 32", "");
	if (err == RF_OK) {
		while (sqlite3_step(st) == SQLITE_ROW && n < 32) {
			db_col_digest(r, st, 0, &ids[n++]);
		}
		sqlite3_finalize(st);
	}
	store_unlock(r->db);
	for (size_t i = 0; err == RF_OK && i < n; i++) {
		struct request q;
		memset(&q, 0, sizeof(q));
		q.r = r;
		q.now_ms = referee_now_ms();
		err = store_begin(r->db, NULL);
		if (err != RF_OK) {
			break;
		}
		struct dispute d;
		bool found;
		err = dispute_load(r, &ids[i], &d, &found);
		if (err == RF_OK && found && d.state == DISPUTE_OPEN &&
		    bisect_tick(&d.game, q.now_ms)) {
			err = decide(&q, &d);
		}
		if (err == RF_OK && found) {
			dispute_free(&d);
		}
		if (err != RF_OK) {
			store_rollback(r->db);
			outbox_free(&q.events);
			break;
		}
		err = store_commit(r->db, NULL);
		if (err != RF_OK) {
			outbox_free(&q.events);
			break;
		}
		outbox_flush(r, &q.events);
	}
	return err;
}
