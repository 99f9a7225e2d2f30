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
 * Money: every amount comes from chain/'s rules (chain_challenge,
 * chain_verdict, chain_dispute_settle, chain_equivocation,
 * chain_job_reassign); this file loads their records and applies their
 * effects (referee_ledger_apply) in the request's transaction.
 */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "bisect/bisect.h"
#include "engine/engine.h"
#include "referee/referee_int.h"

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
	int err = referee_db_stmt(r, &st, "SELECT job_id, executor, challenger, bond, "
	    "state, game, transcript FROM disputes WHERE dispute_id = ?1", "d",
	    id);
	if (err != RF_OK) {
		return err;
	}
	int rc = sqlite3_step(st);
	*found = rc == SQLITE_ROW;
	if (*found) {
		d->id = *id;
		referee_db_col_digest(r, st, 0, &d->job);
		referee_db_col_key(st, 1, &d->executor);
		referee_db_col_key(st, 2, &d->challenger);
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
	return referee_db_run(r, "UPDATE disputes SET state = ?2, game = ?3, "
	    "transcript = ?4 WHERE dispute_id = ?1", "dibb", &d->id,
	    (int64_t)d->state, game, game_len, d->transcript,
	    d->transcript_len);
}

/* When the game next needs the timer: the earliest clock deadline of the
 * sides it waits for (0 once decided). */
static uint64_t
next_deadline(const struct dispute *d)
{
	uint64_t t = 0;
	for (int s = 0; d->state == DISPUTE_OPEN && s < 2; s++) {
		if (bisect_waiting_for(&d->game, (enum bisect_side)s)) {
			uint64_t dl = bisect_deadline(&d->game, (enum bisect_side)s);
			t = t == 0 || dl < t ? dl : t;
		}
	}
	return t;
}

static int
set_deadline(struct referee *r, const struct proto_digest *id, uint64_t t)
{
	return referee_db_run(r, "UPDATE disputes SET deadline_ms = ?2 WHERE "
	    "dispute_id = ?1", "di", id, (int64_t)(t > INT64_MAX ? INT64_MAX : t));
}

/* dispute_save, and the deadline referee_disputes_tick orders by. */
static int
dispute_store(struct referee *r, const struct dispute *d)
{
	int err = dispute_save(r, d);
	if (err == RF_OK) {
		err = set_deadline(r, &d->id, next_deadline(d));
	}
	return err;
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
current_query(const struct dispute *d, struct proto_bisect_query *m)
{
	memset(m, 0, sizeof(*m));
	bisect_query(&d->game, &d->id, m);
	if (d->game.phase == BISECT_PHASE_REVEAL) {
		m->deadline_ms = bisect_deadline(&d->game, BISECT_EXECUTOR);
	}
}

/* Records the new move in the transcript and wakes both sides. */
static int
announce_move(struct request *q, struct dispute *d)
{
	struct proto_bisect_query m;
	uint8_t *buf;
	size_t len;
	current_query(d, &m);
	int err = referee_encode(q->r, PROTO_MSG_BISECT_QUERY, &m, &buf, &len);
	if (err != RF_OK) {
		return err;
	}
	err = transcript_add(d, buf, len);
	free(buf);
	if (err == RF_OK) {
		err = referee_event_emit(q, PROTO_EVENT_DISPUTE_MOVE, &d->job, &d->id,
		    &d->executor, d->game.phase == BISECT_PHASE_REVEAL ? 0 :
		    d->game.round);
	}
	return err;
}

/* Open disputes on the job other than except (NULL: all). */
static int
open_disputes_on(struct referee *r, const struct proto_digest *job,
    const struct proto_digest *except, int64_t *n)
{
	sqlite3_stmt *st;
	struct proto_digest none;
	memset(&none, 0, sizeof(none));
	int err = referee_db_stmt(r, &st, "SELECT count(*) FROM disputes WHERE job_id "
	    "= ?1 AND state = 1 AND dispute_id != ?2", "dd", job,
	    except != NULL ? except : &none);
	if (err != RF_OK) {
		return err;
	}
	*n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return RF_OK;
}

static void
chain_dispute_of(const struct dispute *d, struct chain_dispute *cd)
{
	cd->state = d->state == DISPUTE_OPEN ? CHAIN_DISPUTE_OPEN :
	    CHAIN_DISPUTE_DECIDED;
	cd->bond = d->bond;
}

/* The job, its client and the accounts a rule on a dispute reads. */
static int
load_parties(struct referee *r, const struct proto_digest *job,
    const struct proto_pubkey *executor, const struct proto_pubkey *chal,
    struct chain_job *cj, struct proto_pubkey *client, struct chain_before *b)
{
	bool found;
	memset(b, 0, sizeof(*b));
	int err = referee_ledger_job(r, job, cj, client, NULL, &found);
	if (err == RF_OK && !found) {
		err = RF_ERR_STORE;
	}
	if (err == RF_OK) {
		err = referee_ledger_chain_account(r, client, &b->acc[CHAIN_CLIENT]);
	}
	if (err == RF_OK) {
		err = referee_ledger_chain_account(r, executor, &b->acc[CHAIN_EXECUTOR]);
	}
	if (err == RF_OK && chal != NULL) {
		err = referee_ledger_chain_account(r, chal, &b->acc[CHAIN_CHALLENGER]);
	}
	b->job = cj;
	return err;
}

/* Signs the verdict, stores it with the dispute, queues it for the PUB
 * socket. */
static int
store_verdict(struct request *q, struct dispute *d, uint64_t slashed,
    uint64_t reward)
{
	struct referee *r = q->r;
	struct proto_verdict m;
	memset(&m, 0, sizeof(m));
	struct proto_verdict *v = &m;
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
	/* The message borrows the transcript: it is never freed here. */
	v->transcript = d->transcript;
	v->transcript_len = d->transcript_len;
	uint8_t *buf;
	size_t len;
	int err = referee_encode(r, PROTO_MSG_VERDICT, &m, &buf, &len);
	if (err != RF_OK) {
		return err;
	}
	err = referee_db_run(r, "UPDATE disputes SET verdict = ?2 WHERE dispute_id = ?1",
	    "db", &d->id, buf, len);
	if (err == RF_OK) {
		err = referee_outbox_push(&q->events, buf, len);
	}
	if (err != RF_OK) {
		free(buf);
	}
	return err;
}

/* Closes another dispute on a claim already proven false (chain/'s
 * settlement: the bond goes back, nobody is slashed twice). */
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
	struct chain_params cp;
	struct chain_before b;
	struct chain_dispute cd;
	struct chain_effects e;
	referee_chain_params(r, &cp);
	memset(&b, 0, sizeof(b));
	chain_dispute_of(&d, &cd);
	chain_dispute_settle(&cp, &cd, &e);
	if (e.refused != 0) {
		dispute_free(&d);
		return RF_OK; /* already decided */
	}
	b.dispute = &cd;
	err = referee_ledger_chain_account(r, &d.challenger, &b.acc[CHAIN_CHALLENGER]);
	d.game.phase = BISECT_PHASE_DONE;
	d.game.executor_won = false;
	d.game.challenger_right = true;
	d.game.reason = e.reason;
	d.state = e.dispute_state;
	if (err == RF_OK) {
		err = dispute_store(r, &d);
	}
	if (err == RF_OK) {
		err = store_verdict(q, &d, 0, 0);
	}
	if (err == RF_OK) {
		struct ledger_roles roles = { { NULL }, &d.job, &d.id };
		roles.key[CHAIN_CHALLENGER] = &d.challenger;
		roles.key[CHAIN_EXECUTOR] = &d.executor;
		err = referee_ledger_apply(q, &b, &e, &roles);
	}
	dispute_free(&d);
	return err;
}

/* Settles every open dispute on the job but except (NULL: all). */
static int
settle_others(struct request *q, const struct proto_digest *job,
    const struct proto_digest *except)
{
	struct referee *r = q->r;
	/* Settling closes them, so each pass finds the ones left. */
	for (;;) {
		struct proto_digest ids[16];
		size_t n = 0;
		sqlite3_stmt *st;
		struct proto_digest none;
		memset(&none, 0, sizeof(none));
		int err = referee_db_stmt(r, &st, "SELECT dispute_id FROM disputes WHERE "
		    "job_id = ?1 AND state = 1 AND dispute_id != ?2 LIMIT 16", "dd",
		    job, except != NULL ? except : &none);
		if (err != RF_OK) {
			return err;
		}
		while (sqlite3_step(st) == SQLITE_ROW && n < 16) {
			referee_db_col_digest(r, st, 0, &ids[n++]);
		}
		sqlite3_finalize(st);
		if (n == 0) {
			return RF_OK;
		}
		for (size_t i = 0; i < n; i++) {
			err = settle(q, &ids[i]);
			if (err != RF_OK) {
				return err;
			}
		}
	}
}

/*
 * A slashed executor has no stake left to claim with: every job still
 * waiting on it goes to another eligible executor, or, when none serves
 * the model, fails with the client's fee refunded (chain_job_reassign).
 * There may be any number of them, so the verdict's transaction only
 * leaves a durable marker; the timer gives them away in bounded batches
 * (referee_reassign_batch), each its own transaction.
 */
static int
reassign_jobs(struct request *q, const struct proto_pubkey *from)
{
	return referee_db_run(q->r, "INSERT INTO reassign (executor, since_ms) VALUES "
	    "(?1, ?2) ON CONFLICT (executor) DO UPDATE SET since_ms = ?2", "ki",
	    from, (int64_t)q->now_ms);
}

int
referee_reassign_batch(struct request *q, size_t max, size_t *done)
{
	struct referee *r = q->r;
	struct chain_params cp;
	referee_chain_params(r, &cp);
	*done = 0;
	sqlite3_stmt *st;
	int err = referee_db_stmt(r, &st, "SELECT executor, since_ms FROM reassign "
	    "ORDER BY since_ms LIMIT 1", "");
	if (err != RF_OK) {
		return err;
	}
	struct proto_pubkey from;
	int64_t since = 0;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		referee_db_col_key(st, 0, &from);
		since = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW) {
		return rc == SQLITE_DONE ? RF_OK : RF_ERR_STORE;
	}
	/* Jobs submitted after the slash went to the executor after it
	 * staked again: they are its own. */
	while (*done < max) {
		struct proto_digest job, model;
		struct proto_pubkey client;
		err = referee_db_stmt(r, &st, "SELECT job_id, model_id, client FROM jobs "
		    "WHERE executor = ?1 AND state = 1 AND created_ms <= ?2 "
		    "LIMIT 1", "ki", &from, since);
		if (err != RF_OK) {
			return err;
		}
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			referee_db_col_digest(r, st, 0, &job);
			referee_db_col_digest(r, st, 1, &model);
			referee_db_col_key(st, 2, &client);
		}
		sqlite3_finalize(st);
		if (rc == SQLITE_DONE) {
			/* All given away: the marker goes. */
			return referee_db_run(r, "DELETE FROM reassign WHERE executor = ?1",
			    "k", &from);
		}
		if (rc != SQLITE_ROW) {
			return RF_ERR_STORE;
		}
		struct proto_pubkey to;
		bool found = false, jf;
		struct chain_before b;
		struct chain_job cj;
		struct chain_effects e;
		memset(&b, 0, sizeof(b));
		err = referee_pick_executor(r, &model, &to, &found);
		if (err == RF_OK && found &&
		    memcmp(to.b, from.b, PROTO_KEY_LEN) == 0) {
			found = false; /* staked again: still not its job */
		}
		if (err == RF_OK) {
			err = referee_ledger_job(r, &job, &cj, NULL, NULL, &jf);
		}
		if (err != RF_OK) {
			return err;
		}
		b.job = &cj;
		chain_job_reassign(&cp, &cj, found, q->now_ms, &e);
		if (e.refused != 0) {
			return RF_ERR_STORE; /* selected as open: cannot happen */
		}
		struct ledger_roles roles = { { NULL }, &job, NULL };
		roles.key[CHAIN_CLIENT] = &client;
		roles.key[CHAIN_EXECUTOR] = &from;
		roles.key[CHAIN_NEW_EXECUTOR] = found ? &to : NULL;
		err = referee_ledger_apply(q, &b, &e, &roles);
		if (err != RF_OK) {
			return err;
		}
		(*done)++;
	}
	return RF_OK;
}

/* The per-record work a fallen claim asks for (chain_effects). */
static int
after_fall(struct request *q, const struct proto_digest *job,
    const struct proto_pubkey *executor, const struct proto_digest *except,
    const struct chain_effects *e)
{
	int err = RF_OK;
	if (e->claims_uncovered) {
		/* The executor's locked stake is gone: its other open claims
		 * hold no collateral any more. */
		err = referee_db_run(q->r, "UPDATE claims SET collateral = 0 WHERE "
		    "executor = ?1 AND state IN (2, 3)", "k", executor);
	}
	if (err == RF_OK && e->settle_others) {
		err = settle_others(q, job, except);
	}
	if (err == RF_OK && e->reassign_jobs) {
		err = reassign_jobs(q, executor);
	}
	return err;
}

/* The game is over: chain/'s verdict rule moves the money; the verdict
 * is signed and published. */
static int
decide(struct request *q, struct dispute *d)
{
	struct referee *r = q->r;
	const struct bisect_game *g = &d->game;
	struct chain_params cp;
	struct chain_before b;
	struct chain_job cj;
	struct chain_dispute cd;
	struct chain_effects e;
	struct proto_pubkey client;
	int64_t others = 0;
	referee_chain_params(r, &cp);
	int err = load_parties(r, &d->job, &d->executor, &d->challenger, &cj,
	    &client, &b);
	if (err == RF_OK) {
		err = open_disputes_on(r, &d->job, &d->id, &others);
	}
	if (err != RF_OK) {
		return err;
	}
	chain_dispute_of(d, &cd);
	b.dispute = &cd;
	chain_verdict(&cp, &cj, &b.acc[CHAIN_EXECUTOR], &cd, g->executor_won,
	    g->challenger_right, (uint64_t)others, &e);
	if (e.refused != 0) {
		return RF_ERR_INVAL; /* only open disputes are decided */
	}
	d->state = e.dispute_state;
	err = dispute_store(r, d);
	if (err == RF_OK) {
		err = store_verdict(q, d, e.slashed, e.reward);
	}
	if (err == RF_OK) {
		struct ledger_roles roles = { { NULL }, &d->job, &d->id };
		roles.key[CHAIN_CLIENT] = &client;
		roles.key[CHAIN_EXECUTOR] = &d->executor;
		roles.key[CHAIN_CHALLENGER] = &d->challenger;
		err = referee_ledger_apply(q, &b, &e, &roles);
	}
	if (err == RF_OK && !g->executor_won) {
		err = after_fall(q, &d->job, &d->executor, &d->id, &e);
	}
	if (err == RF_OK) {
		char id[13];
		node_short_hex(d->id.b, id);
		net_counter_inc(r->m_verdicts);
		log_info("dispute %s decided: %s wins after %u rounds (%s); "
		    "operator %u; slashed %llu, reward %llu", id,
		    g->executor_won ? "executor" : "challenger", g->rounds, g->why,
		    g->op, (unsigned long long)e.slashed,
		    (unsigned long long)e.reward);
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
referee_handle_challenge(struct request *q)
{
	struct referee *r = q->r;
	const struct proto_challenge *c = q->body;
	enum proto_hash suite = r->params.suite;
	struct account a;
	int err = referee_ledger_account(r, &q->env->sender, &a);
	if (err != RF_OK) {
		return err;
	}
	if (!(a.roles & PROTO_ROLE_CHALLENGER)) {
		return referee_req_refuse(q, PROTO_ERR_INVALID, "only a challenger can "
		    "open a dispute");
	}
	sqlite3_stmt *st;
	err = referee_db_stmt(r, &st, "SELECT c.executor, c.trace_root, c.n, "
	    "c.window_end_ms, c.state, c.envelope, j.input_leaves, m.envelope, "
	    "j.submit FROM claims c JOIN jobs j ON j.job_id = c.job_id JOIN models m ON "
	    "m.model_id = j.model_id WHERE c.job_id = ?1", "d", &c->job_id);
	if (err != RF_OK) {
		return err;
	}
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return referee_req_refuse(q, PROTO_ERR_UNKNOWN, "no claim on that job");
	}
	struct proto_pubkey ex;
	struct proto_digest root;
	referee_db_col_key(st, 0, &ex);
	referee_db_col_digest(r, st, 1, &root);
	uint64_t n = (uint64_t)sqlite3_column_int64(st, 2);
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
	if (memcmp(ex.b, c->executor.b, PROTO_KEY_LEN) != 0 ||
	    !proto_digest_equal(suite, &root, &c->executor_root) || n != c->n) {
		why = "the challenge does not name the claim as posted";
	} else if (proto_digest_equal(suite, &root, &c->challenger_root)) {
		why = "the challenger's root equals the claim's";
	} else if (n_in == 0 || n_in > PROTO_MAX_TENSORS) {
		why = "the job has no inputs";
	}
	if (why != NULL) {
		dispute_free(&d);
		return referee_req_refuse(q, PROTO_ERR_STATE, "%s", why);
	}
	dispute_id_of(suite, &c->job_id, &q->env->sender, &d.id);
	err = referee_db_stmt(r, &st, "SELECT 1 FROM disputes WHERE dispute_id = ?1",
	    "d", &d.id);
	if (err == RF_OK) {
		bool dup = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
		if (dup) {
			dispute_free(&d);
			return referee_req_refuse(q, PROTO_ERR_STATE, "this challenger already "
			    "disputes that claim");
		}
	}
	/* The money: chain/'s rule for opening a dispute (the bond, the
	 * claim's state and window). */
	struct chain_params cp;
	struct chain_before b;
	struct chain_job cj;
	struct chain_dispute cd = { 0, c->bond };
	struct chain_effects e;
	struct proto_pubkey client;
	referee_chain_params(r, &cp);
	if (err == RF_OK) {
		err = load_parties(r, &c->job_id, &ex, &q->env->sender, &cj,
		    &client, &b);
	}
	if (err == RF_OK) {
		b.dispute = &cd;
		chain_challenge(&cp, &cj, &b.acc[CHAIN_CHALLENGER], c->bond,
		    q->now_ms, &e);
		if (e.refused != 0) {
			dispute_free(&d);
			return referee_req_refuse(q, e.refused, "%s", e.why);
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
		d.challenger = q->env->sender;
		d.bond = c->bond;
		d.state = e.dispute_state;
		err = referee_db_run(r, "INSERT INTO disputes (dispute_id, job_id, "
		    "executor, challenger, bond, state, game, transcript, "
		    "opened_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
		    "ddkkiibbi", &d.id, &d.job, &d.executor, &d.challenger,
		    (int64_t)d.bond, (int64_t)d.state, "", (size_t)0, /* the
		    game is written by dispute_save below */
		    d.transcript, d.transcript_len, (int64_t)q->now_ms);
	}
	if (err == RF_OK) {
		struct ledger_roles roles = { { NULL }, &d.job, &d.id };
		roles.key[CHAIN_CLIENT] = &client;
		roles.key[CHAIN_EXECUTOR] = &d.executor;
		roles.key[CHAIN_CHALLENGER] = &d.challenger;
		err = referee_ledger_apply(q, &b, &e, &roles);
	}
	if (err == RF_OK) {
		err = d.game.phase == BISECT_PHASE_DONE ? decide(q, &d) :
		    announce_move(q, &d);
	}
	if (err == RF_OK) {
		err = dispute_store(r, &d);
	}
	if (err == RF_OK) {
		char id[13];
		node_short_hex(d.id.b, id);
		net_counter_inc(r->m_disputes);
		log_info("dispute %s opened on a claim of %llu entries, bond "
		    "%llu", id, (unsigned long long)n,
		    (unsigned long long)d.bond);
		referee_req_ack(q, &d.id);
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
		return referee_req_refuse(q, PROTO_ERR_UNKNOWN, "no such dispute");
	}
	if (memcmp(q->env->sender.b, d->executor.b, PROTO_KEY_LEN) == 0) {
		*side = BISECT_EXECUTOR;
	} else if (memcmp(q->env->sender.b, d->challenger.b,
	    PROTO_KEY_LEN) == 0) {
		*side = BISECT_CHALLENGER;
	} else {
		dispute_free(d);
		return referee_req_refuse(q, PROTO_ERR_INVALID, "not a party to this "
		    "dispute");
	}
	if (d->state != DISPUTE_OPEN) {
		dispute_free(d);
		return referee_req_refuse(q, PROTO_ERR_STATE, "the dispute is decided");
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
		err = dispute_store(q->r, d);
	}
	if (err == RF_OK) {
		referee_req_ack(q, &d->id);
		if (res == BISECT_LOST) {
			/* The move was applied (it lost the game): say so. */
			referee_req_refuse(q, PROTO_ERR_INVALID, "%s", d->game.why);
		}
	}
	return err;
}

int
referee_handle_answer(struct request *q)
{
	const struct proto_bisect_answer *a = q->body;
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
		return referee_req_refuse(q, PROTO_ERR_STATE, "%s", ei.msg);
	}
	err = after_move(q, &d, res, round, phase);
	dispute_free(&d);
	/* A losing move still changed the state: commit it. */
	return err;
}

int
referee_handle_reveal(struct request *q)
{
	struct referee *r = q->r;
	const struct proto_reveal *rv = q->body;
	struct dispute d;
	enum bisect_side side = BISECT_EXECUTOR;
	int err = load_for_move(q, &rv->dispute_id, &d, &side);
	if (err != RF_OK) {
		return err;
	}
	if (side != BISECT_EXECUTOR) {
		dispute_free(&d);
		return referee_req_refuse(q, PROTO_ERR_INVALID, "only the executor "
		    "reveals");
	}
	/* The operator comes from the registered graph. */
	sqlite3_stmt *st;
	err = referee_db_stmt(r, &st, "SELECT m.graph, m.model_id, m.n_leaves FROM "
	    "jobs j JOIN models m ON m.model_id = j.model_id WHERE j.job_id = "
	    "?1", "d", &d.job);
	struct engine_model *model = NULL;
	struct proto_digest model_id;
	uint32_t n_leaves = 0;
	if (err == RF_OK) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			err = engine_model_decode_graph(sqlite3_column_blob(st, 0),
			    (size_t)sqlite3_column_bytes(st, 0), &model, NULL);
			referee_db_col_digest(r, st, 1, &model_id);
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
		return referee_req_refuse(q, PROTO_ERR_STATE, "%s", ei.msg);
	}
	err = after_move(q, &d, res, round, phase);
	dispute_free(&d);
	return err;
}

/* What an equivocation compares of a claim. */
struct claim_head {
	bool is_claim;
	struct proto_digest job_id, trace_root;
	uint32_t n;
};

/* Decodes a claim's whole body (any other type's too: it must be
 * well-formed) and keeps what an equivocation compares. */
static int
claim_head(const struct proto_env *env, struct claim_head *h)
{
	memset(h, 0, sizeof(*h));
	if (env->type != PROTO_MSG_CLAIM) {
		size_t size = proto_msg_body_size(env->type);
		void *body = calloc(1, size > 0 ? size : 1);
		int err = body == NULL ? RF_ERR_NOMEM :
		    proto_msg_body_decode(env, body, size, NULL);
		if (err == RF_OK) {
			proto_msg_body_free(env->type, body);
		}
		free(body);
		return err;
	}
	struct proto_claim c;
	int err = proto_claim_decode(env, &c, NULL);
	if (err == RF_OK) {
		h->is_claim = true;
		h->job_id = c.job_id;
		h->trace_root = c.trace_root;
		h->n = c.n;
		proto_claim_free(&c);
	}
	return err;
}

/* Two signed claims by one executor for one job that differ: proof of
 * equivocation, whoever brings it. The referee itself holds such a proof
 * when an executor posts a second, different claim (referee/handlers.c).
 */
int
referee_equivocation_apply(struct request *q, const uint8_t *a, size_t la,
    const uint8_t *b, size_t lb)
{
	struct referee *r = q->r;
	enum proto_hash suite = r->params.suite;
	struct proto_env ea, eb;
	struct claim_head ca, cb;
	int err = proto_msg_open(a, la, &ea, NULL);
	if (err == RF_OK) {
		err = claim_head(&ea, &ca);
	}
	if (err != RF_OK) {
		return referee_req_refuse(q, PROTO_ERR_INVALID, "claim a does not verify");
	}
	err = proto_msg_open(b, lb, &eb, NULL);
	if (err == RF_OK) {
		err = claim_head(&eb, &cb);
	}
	if (err != RF_OK) {
		return referee_req_refuse(q, PROTO_ERR_INVALID, "claim b does not verify");
	}
	const char *why = NULL;
	if (!ca.is_claim || !cb.is_claim) {
		why = "both messages must be claims";
	} else if (memcmp(ea.sender.b, eb.sender.b, PROTO_KEY_LEN) != 0) {
		why = "the claims have different signers";
	} else if (!proto_digest_equal(suite, &ca.job_id, &cb.job_id)) {
		why = "the claims are for different jobs";
	} else if (proto_digest_equal(suite, &ca.trace_root, &cb.trace_root) &&
	    ca.n == cb.n) {
		why = "the claims commit to the same trace";
	}
	struct proto_digest job = ca.job_id;
	struct proto_pubkey ex = ea.sender;
	if (why != NULL) {
		return referee_req_refuse(q, PROTO_ERR_INVALID, "%s", why);
	}
	struct chain_job cj;
	struct proto_pubkey client, jex;
	bool found;
	err = referee_ledger_job(r, &job, &cj, &client, &jex, &found);
	if (err != RF_OK) {
		return err;
	}
	if (!found || memcmp(jex.b, ex.b, PROTO_KEY_LEN) != 0) {
		return referee_req_refuse(q, PROTO_ERR_UNKNOWN, "no such job for that "
		    "executor");
	}
	/* The reward goes to whoever caught the liar first: the challenger
	 * of the earliest open dispute on the claim. The reporter is not a
	 * party, so reporting one's own lie from a second account pays
	 * nothing (docs/disputes.md). */
	sqlite3_stmt *st;
	err = referee_db_stmt(r, &st, "SELECT dispute_id, challenger, bond FROM "
	    "disputes WHERE job_id = ?1 AND state = 1 ORDER BY opened_ms, "
	    "rowid LIMIT 1", "d", &job);
	if (err != RF_OK) {
		return err;
	}
	struct chain_dispute first = { 0, 0 };
	struct proto_digest first_id;
	struct proto_pubkey catcher;
	bool caught = sqlite3_step(st) == SQLITE_ROW;
	if (caught) {
		referee_db_col_digest(r, st, 0, &first_id);
		referee_db_col_key(st, 1, &catcher);
		first.state = CHAIN_DISPUTE_OPEN;
		first.bond = (uint64_t)sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	struct chain_params cp;
	struct chain_before before;
	struct chain_effects e;
	referee_chain_params(r, &cp);
	err = load_parties(r, &job, &ex, caught ? &catcher : NULL, &cj, &client,
	    &before);
	if (err != RF_OK) {
		return err;
	}
	chain_equivocation(&cp, &cj, &before.acc[CHAIN_EXECUTOR],
	    caught ? &first : NULL, &e);
	if (e.refused != 0) {
		return referee_req_refuse(q, e.refused, "%s", e.why);
	}
	struct ledger_roles roles = { { NULL }, &job, NULL };
	roles.key[CHAIN_CLIENT] = &client;
	roles.key[CHAIN_EXECUTOR] = &ex;
	roles.key[CHAIN_CHALLENGER] = caught ? &catcher : NULL;
	err = referee_ledger_apply(q, &before, &e, &roles);
	if (err == RF_OK) {
		err = after_fall(q, &job, &ex, NULL, &e);
	}
	if (err == RF_OK) {
		char k[13];
		node_short_hex(ex.b, k);
		log_info("executor %s equivocated: slashed %llu, reward %llu", k,
		    (unsigned long long)e.slashed, (unsigned long long)e.reward);
	}
	return err;
}

int
referee_handle_equivocation(struct request *q)
{
	const struct proto_equivocation *e = q->body;
	int err = referee_equivocation_apply(q, e->claim_a, e->len_a, e->claim_b,
	    e->len_b);
	if (err == RF_OK) {
		referee_req_ack(q, NULL);
	}
	return err;
}

/* ------------------------------------------------------------------ */
/* Queries and clocks                                                   */
/* ------------------------------------------------------------------ */

int
referee_dispute_fetch(struct request *q)
{
	struct referee *r = q->r;
	struct dispute d;
	bool found;
	int err = dispute_load(r, &((const struct proto_dispute_fetch *)q->body)->dispute_id, &d,
	    &found);
	if (err != RF_OK) {
		return err;
	}
	if (!found) {
		return referee_req_refuse(q, PROTO_ERR_UNKNOWN, "no such dispute");
	}
	if (d.state == DISPUTE_OPEN) {
		struct proto_bisect_query m;
		current_query(&d, &m);
		dispute_free(&d);
		return referee_reply(q, PROTO_MSG_BISECT_QUERY, &m);
	}
	dispute_free(&d);
	sqlite3_stmt *st;
	err = referee_db_stmt(r, &st, "SELECT verdict FROM disputes WHERE dispute_id = "
	    "?1", "d", &((const struct proto_dispute_fetch *)q->body)->dispute_id);
	if (err != RF_OK) {
		return err;
	}
	/* The stored verdict, signed again as this reply. */
	err = RF_ERR_STORE;
	struct proto_env env;
	struct proto_verdict v;
	if (sqlite3_step(st) == SQLITE_ROW) {
		err = proto_msg_open_stored(sqlite3_column_blob(st, 0),
		    (size_t)sqlite3_column_bytes(st, 0), &env, NULL);
		if (err == RF_OK) {
			err = proto_verdict_decode(&env, &v, NULL);
		}
	}
	sqlite3_finalize(st);
	if (err == RF_OK) {
		err = referee_reply(q, PROTO_MSG_VERDICT, &v);
		proto_verdict_free(&v);
	}
	return err;
}

/* One due dispute in its own transaction: decided when a clock ran out,
 * else its next deadline stored (a database from before the column holds
 * 0 there). */
static int
tick_one(struct referee *r, const struct proto_digest *id)
{
	struct request q;
	memset(&q, 0, sizeof(q));
	q.r = r;
	q.now_ms = node_wall_ms();
	int err = store_begin(r->db, NULL);
	if (err != RF_OK) {
		return err;
	}
	struct dispute d;
	bool found;
	err = dispute_load(r, id, &d, &found);
	if (err == RF_OK && found) {
		if (d.state == DISPUTE_OPEN && bisect_tick(&d.game, q.now_ms)) {
			err = decide(&q, &d);
		} else {
			err = set_deadline(r, &d.id, next_deadline(&d));
		}
		dispute_free(&d);
	}
	free(q.out); /* a timer's request has nobody to reply to */
	return referee_txn_end(r, &q.events, err);
}

/* How long a dispute whose tick failed waits before it is tried again:
 * it goes behind the others instead of blocking them. */
#define TICK_RETRY_MS 1000

int
referee_disputes_tick(struct referee *r)
{
	struct proto_digest ids[32];
	size_t n = 0;
	sqlite3_stmt *st;
	uint64_t now = node_wall_ms();
	store_lock(r->db);
	/* The most urgent first: disputes whose clock deadline has come. */
	int err = referee_db_stmt(r, &st, "SELECT dispute_id FROM disputes WHERE state "
	    "= 1 AND deadline_ms <= ?1 ORDER BY deadline_ms LIMIT 32", "i",
	    (int64_t)now);
	if (err == RF_OK) {
		while (sqlite3_step(st) == SQLITE_ROW && n < 32) {
			referee_db_col_digest(r, st, 0, &ids[n++]);
		}
		sqlite3_finalize(st);
	}
	store_unlock(r->db);
	int first = err;
	for (size_t i = 0; i < n; i++) {
		err = tick_one(r, &ids[i]);
		if (err == RF_OK) {
			continue;
		}
		/* Logged and put back behind the others: one dispute that
		 * cannot be decided never stops another's clock. */
		char hex[13];
		node_short_hex(ids[i].b, hex);
		log_error("dispute %s: tick failed (%s); retried in %d ms", hex,
		    rf_strerror(err), TICK_RETRY_MS);
		if (first == RF_OK) {
			first = err;
		}
		if (store_begin(r->db, NULL) == RF_OK) {
			if (set_deadline(r, &ids[i], now + TICK_RETRY_MS) == RF_OK) {
				/* Unlocks either way; a failure only means it is
				 * retried sooner. */
				int cerr = store_commit(r->db, NULL);
				(void)cerr;
			} else {
				store_rollback(r->db);
			}
		}
	}
	return first;
}
