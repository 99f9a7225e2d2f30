/*
 * executor/dispute.c - the executor's side of a dispute: answer each
 * round with prefix roots and consistency proofs built from the leaf
 * hashes it stored with the claim, and reveal the disputed operator's
 * inputs by re-running the job up to that operator.
 *
 * Every move is decided from the referee's current view of the dispute
 * (DISPUTE_FETCH), never from an event alone. The referee announces a
 * move only when the game moves on: once the challenger has answered a
 * round, an answer of ours that is lost (the request dropped, the referee
 * restarting, this process killed) is followed by no event at all, and an
 * executor waiting for one would lose an honest claim on the clock. So a
 * dispute is written down when its first event is handled, and every
 * dispute not yet decided is looked at again at start and every second
 * (executor_disputes_poll): a move that failed is made again. Moves are
 * idempotent at the referee (a move for a round already answered is
 * refused and changes nothing), and the last round whose answer the
 * referee heard, and whether it heard the reveal, are recorded, so looking
 * again sends nothing twice. A failure is logged once, with its reason.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "engine/engine.h"
#include "executor/executor_int.h"

/* A job of ours: its model and stored leaves. */
static int
load_leaves(struct executor *x, const struct proto_digest *job,
    struct proto_digest **leaves, size_t *n, struct proto_digest *model)
{
	size_t hl = proto_hash_len(x->cfg->node.suite);
	sqlite3_stmt *st;
	*leaves = NULL;
	store_lock(x->node.db);
	int err = store_prepare(x->node.db, "SELECT leaves, n, model_id FROM jobs "
	    "WHERE job_id = ?1", &st, NULL);
	if (err == RF_OK) {
		sqlite3_bind_blob(st, 1, job->b, (int)hl, SQLITE_STATIC);
		err = RF_ERR_NOTFOUND;
		if (sqlite3_step(st) == SQLITE_ROW) {
			size_t count = (size_t)sqlite3_column_int64(st, 1);
			const uint8_t *p = sqlite3_column_blob(st, 0);
			err = RF_ERR_STORE;
			if ((size_t)sqlite3_column_bytes(st, 0) == count * hl &&
			    count > 0) {
				*leaves = calloc(count, sizeof(**leaves));
				err = *leaves ? RF_OK : RF_ERR_NOMEM;
				for (size_t i = 0; err == RF_OK && i < count; i++) {
					memcpy((*leaves)[i].b, p + i * hl, hl);
				}
				*n = count;
				memset(model, 0, sizeof(*model));
				memcpy(model->b, sqlite3_column_blob(st, 2), hl);
			}
		}
		sqlite3_finalize(st);
	}
	store_unlock(x->node.db);
	return err;
}


/* ------------------------------------------------------------------ */
/* The disputes table                                                   */
/* ------------------------------------------------------------------ */

/* One row of the disputes table. */
struct dispute_row {
	struct proto_digest job;
	int state;          /* enum executor_dispute_state */
	uint32_t answered;  /* the last round whose answer the referee heard */
	bool revealed;      /* the referee heard our reveal */
	char failure[512];  /* the last failure logged, "" if none */
};

/* Writes down a dispute on one of our claims (known: nothing changes). */
static int
dispute_record(struct executor *x, const struct proto_digest *id,
    const struct proto_digest *job)
{
	size_t hl = proto_hash_len(x->cfg->node.suite);
	sqlite3_stmt *st;
	int err = store_begin(x->node.db, NULL);
	if (err != RF_OK) {
		return err;
	}
	err = store_prepare(x->node.db, "INSERT OR IGNORE INTO disputes (dispute_id, "
	    "job_id, state, opened_ms) VALUES (?1, ?2, ?3, ?4)", &st, NULL);
	if (err == RF_OK) {
		sqlite3_bind_blob(st, 1, id->b, (int)hl, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, job->b, (int)hl, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, EXECUTOR_DISPUTE_OPEN);
		sqlite3_bind_int64(st, 4, (int64_t)node_wall_ms());
		err = sqlite3_step(st) == SQLITE_DONE ? RF_OK : RF_ERR_STORE;
		sqlite3_finalize(st);
	}
	if (err != RF_OK) {
		store_rollback(x->node.db);
		return err;
	}
	return store_commit(x->node.db, NULL);
}

static int
dispute_load(struct executor *x, const struct proto_digest *id,
    struct dispute_row *row)
{
	size_t hl = proto_hash_len(x->cfg->node.suite);
	sqlite3_stmt *st;
	memset(row, 0, sizeof(*row));
	store_lock(x->node.db);
	int err = store_prepare(x->node.db, "SELECT job_id, state, answered, "
	    "revealed, failure FROM disputes WHERE dispute_id = ?1", &st, NULL);
	if (err == RF_OK) {
		sqlite3_bind_blob(st, 1, id->b, (int)hl, SQLITE_STATIC);
		err = RF_ERR_NOTFOUND;
		if (sqlite3_step(st) == SQLITE_ROW) {
			err = (size_t)sqlite3_column_bytes(st, 0) == hl ? RF_OK :
			    RF_ERR_STORE;
			if (err == RF_OK) {
				memcpy(row->job.b, sqlite3_column_blob(st, 0), hl);
			}
			row->state = sqlite3_column_int(st, 1);
			row->answered = (uint32_t)sqlite3_column_int64(st, 2);
			row->revealed = sqlite3_column_int(st, 3) != 0;
			const unsigned char *f = sqlite3_column_text(st, 4);
			snprintf(row->failure, sizeof(row->failure), "%s",
			    f ? (const char *)f : "");
		}
		sqlite3_finalize(st);
	}
	store_unlock(x->node.db);
	return err;
}

/* Runs one UPDATE of a dispute (?1 its id, ?2 an integer, ?3 a text or
 * NULL) in its own transaction. */
static void
dispute_update(struct executor *x, const struct proto_digest *id,
    const char *sql, int64_t value, const char *text)
{
	size_t hl = proto_hash_len(x->cfg->node.suite);
	sqlite3_stmt *st;
	int err = store_begin(x->node.db, NULL);
	if (err != RF_OK) {
		log_warn("cannot update a dispute in the database: %s",
		    rf_strerror(err));
		return;
	}
	err = store_prepare(x->node.db, sql, &st, NULL);
	if (err == RF_OK) {
		sqlite3_bind_blob(st, 1, id->b, (int)hl, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, value);
		if (text != NULL) {
			sqlite3_bind_text(st, 3, text, -1, SQLITE_TRANSIENT);
		}
		err = sqlite3_step(st) == SQLITE_DONE ? RF_OK : RF_ERR_STORE;
		sqlite3_finalize(st);
	}
	if (err == RF_OK) {
		err = store_commit(x->node.db, NULL);
	} else {
		store_rollback(x->node.db);
	}
	if (err != RF_OK) {
		/* Harmless: the move is looked at again and the referee
		 * ignores what it has already heard. */
		log_warn("cannot update a dispute in the database: %s",
		    rf_strerror(err));
	}
}

/* A move failed: logged once per reason (the same failure at every look
 * would flood the log), at error level for a reveal, the move that ends
 * the game. The move is made again at the next look. */
static void
move_failed(struct executor *x, const struct proto_digest *id,
    const struct dispute_row *row, const char *dh, bool is_reveal,
    const char *why)
{
	if (strncmp(row->failure, why, sizeof(row->failure) - 1) == 0) {
		return;
	}
	if (is_reveal) {
		log_error("dispute %s: %s; will try again", dh, why);
	} else {
		log_warn("dispute %s: %s; will try again", dh, why);
	}
	dispute_update(x, id, "UPDATE disputes SET failure = ?3 WHERE "
	    "dispute_id = ?1", 0, why);
}

/* ------------------------------------------------------------------ */
/* Moves                                                                */
/* ------------------------------------------------------------------ */

/*
 * Whether the referee heard a move: it applied it, or refused it for a
 * reason that sending it again cannot change (already answered, decided,
 * a losing move). A move with no verified reply, or one the referee
 * failed to handle (PROTO_ERR_INTERNAL), is made again at the next look;
 * then why says what went wrong. The reply is freed; a refusal's code
 * and text are in *refusal (code 0 for none).
 */
static int
move_heard(int err, struct node_reply *reply, struct proto_error *refusal,
    const struct rf_errinfo *ei, const char *what, char *why, size_t cap)
{
	if (err != RF_OK) {
		snprintf(why, cap, "%s not delivered: %s", what,
		    ei->msg[0] ? ei->msg : rf_strerror(err));
		return err;
	}
	node_reply_error(reply, refusal);
	node_reply_free(reply);
	if (refusal->code == PROTO_ERR_INTERNAL) {
		snprintf(why, cap, "%s not taken, the referee failed: %s", what,
		    refusal->text);
		return RF_ERR_NET;
	}
	return RF_OK;
}

static int
answer_round(struct executor *x, const struct proto_digest *job,
    const struct proto_bisect_query *q, const char *dh, char *why, size_t cap)
{
	struct proto_digest *leaves;
	struct proto_digest model;
	size_t n;
	char what[48];
	snprintf(what, sizeof(what), "the answer to round %u", q->round);
	int err = load_leaves(x, job, &leaves, &n, &model);
	if (err != RF_OK) {
		snprintf(why, cap, "%s cannot be built: our trace is not in the "
		    "database (%s)", what, rf_strerror(err));
		return err;
	}
	struct proto_bisect_answer req;
	struct node_reply reply;
	struct proto_error refusal;
	struct rf_errinfo ei = { "" };
	err = bisect_answer_build(x->cfg->node.suite, leaves, n, q, &req);
	free(leaves);
	if (err != RF_OK) {
		snprintf(why, cap, "%s cannot be built: %s", what,
		    rf_strerror(err));
		return err;
	}
	if (x->cfg->fault == EXECUTOR_FAULT_BAD_PROOF && req.n_roots > 0 &&
	    req.roots[0].proof_len > 0) {
		req.roots[0].proof[0].b[0] ^= 0x01;
		log_warn("dispute %s: TESTING FAULT bad-proof: answering round %u "
		    "with a wrong proof", dh, q->round);
	}
	err = node_rpc_call(&x->node.rpc, PROTO_MSG_BISECT_ANSWER, &req, &reply,
	    &ei);
	proto_bisect_answer_free(&req);
	err = move_heard(err, &reply, &refusal, &ei, what, why, cap);
	if (err == RF_OK && refusal.code != 0) {
		/* Mostly an answer the referee had heard already. */
		log_info("dispute %s: round %u answer: %s", dh, q->round,
		    refusal.text);
	}
	return err;
}

static int
reveal(struct executor *x, const struct proto_digest *id,
    const struct proto_digest *job, const struct proto_bisect_query *q,
    const char *dh, char *why, size_t cap)
{
	struct proto_digest *leaves;
	struct proto_digest model_id;
	size_t n;
	int err = load_leaves(x, job, &leaves, &n, &model_id);
	if (err != RF_OK) {
		snprintf(why, cap, "cannot reveal: our trace is not in the "
		    "database (%s)", rf_strerror(err));
		return err;
	}
	const struct node_model *nm = node_models_find(&x->node.models, &model_id);
	struct proto_job_fetch fetch = { .job_id = *job };
	struct proto_reveal req;
	struct node_reply reply;
	struct proto_error refusal;
	struct rf_errinfo ei = { "" };
	/* A job's inputs are up to 64 tensors: on the heap. */
	struct proto_job_info *info = malloc(sizeof(*info));
	err = nm == NULL ? RF_ERR_NOTFOUND : info == NULL ? RF_ERR_NOMEM :
	    node_rpc_expect(&x->node.rpc, PROTO_MSG_JOB_FETCH, &fetch,
	    PROTO_MSG_JOB_INFO, info, sizeof(*info), &ei);
	if (err != RF_OK) {
		free(info);
		free(leaves);
		snprintf(why, cap, "cannot reveal: %s", nm == NULL ?
		    "the model is not loaded" : ei.msg[0] ? ei.msg :
		    rf_strerror(err));
		return err;
	}
	size_t n_in = engine_model_input_count(nm->model);
	uint32_t op = (uint32_t)(q->lo - n_in);
	memset(&req, 0, sizeof(req));
	err = bisect_reveal_build(x->cfg->node.suite, nm->model, info->inputs,
	    leaves, n, op, &req, &ei);
	req.dispute_id = *id;
	proto_job_info_free(info);
	free(info);
	free(leaves);
	if (err != RF_OK) {
		snprintf(why, cap, "cannot reveal operator %u: %s", op, ei.msg);
		return err;
	}
	log_info("dispute %s: revealing operator %u", dh, op);
	char what[48];
	snprintf(what, sizeof(what), "the reveal of operator %u", op);
	err = node_rpc_call(&x->node.rpc, PROTO_MSG_REVEAL, &req, &reply, &ei);
	proto_reveal_free(&req);
	err = move_heard(err, &reply, &refusal, &ei, what, why, cap);
	if (err == RF_OK && refusal.code != 0) {
		/* A reveal refused loses the game: never quietly. */
		log_error("dispute %s: the referee refused the reveal of "
		    "operator %u: %s", dh, op, refusal.text);
	}
	return err;
}

/* Looks at one dispute of ours and makes our move if one is due. */
static int
act(struct executor *x, const struct proto_digest *id)
{
	char dh[13];
	node_short_hex(id->b, dh);
	struct dispute_row row;
	int err = dispute_load(x, id, &row);
	if (err != RF_OK || row.state != EXECUTOR_DISPUTE_OPEN) {
		return err == RF_ERR_NOTFOUND ? RF_OK : err;
	}
	struct proto_dispute_fetch req = { .dispute_id = *id };
	struct node_reply view;
	struct rf_errinfo ei = { "" };
	char why[sizeof(row.failure)];
	err = node_rpc_call(&x->node.rpc, PROTO_MSG_DISPUTE_FETCH, &req, &view, &ei);
	if (err != RF_OK) {
		snprintf(why, sizeof(why), "cannot read the dispute: %s",
		    ei.msg[0] ? ei.msg : rf_strerror(err));
		move_failed(x, id, &row, dh, false, why);
		return err;
	}
	if (view.env.type == PROTO_MSG_VERDICT) {
		struct proto_verdict verdict;
		const struct proto_verdict *v = &verdict;
		err = proto_verdict_decode(&view.env, &verdict, &ei);
		node_reply_free(&view);
		if (err != RF_OK) {
			snprintf(why, sizeof(why), "cannot read the verdict: %s",
			    ei.msg);
			move_failed(x, id, &row, dh, false, why);
			return RF_OK;
		}
		log_info("dispute %s: %s (operator %u, %u rounds)", dh,
		    v->executor_won ? "won" : "lost", v->op, v->rounds);
		static_assert(EXECUTOR_DISPUTE_DECIDED == 2, "stored state");
		dispute_update(x, id, "UPDATE disputes SET state = 2, won = ?2, "
		    "failure = NULL WHERE dispute_id = ?1", v->executor_won ? 1 : 0,
		    NULL);
		proto_verdict_free(&verdict);
		return RF_OK;
	}
	if (x->cfg->fault == EXECUTOR_FAULT_SILENT) {
		node_reply_free(&view); /* said once, when the dispute opened */
		return RF_OK;
	}
	struct proto_bisect_query query;
	const struct proto_bisect_query *q = &query;
	if (view.env.type != PROTO_MSG_BISECT_QUERY ||
	    proto_bisect_query_decode(&view.env, &query, &ei) != RF_OK) {
		struct proto_error refusal;
		node_reply_error(&view, &refusal);
		snprintf(why, sizeof(why), "cannot read the dispute: %s",
		    refusal.code != 0 ? refusal.text :
		    view.env.type == PROTO_MSG_BISECT_QUERY ? ei.msg :
		    "an unexpected reply");
		move_failed(x, id, &row, dh, false, why);
		node_reply_free(&view);
		return RF_OK;
	}
	node_reply_free(&view);
	bool is_reveal = q->n_sizes == 0 && q->hi - q->lo == 1;
	why[0] = '\0';
	if (is_reveal && !row.revealed) {
		err = reveal(x, id, &row.job, q, dh, why, sizeof(why));
		if (err == RF_OK) {
			dispute_update(x, id, "UPDATE disputes SET revealed = ?2, "
			    "failure = NULL WHERE dispute_id = ?1", 1, NULL);
		}
	} else if (!is_reveal && q->n_sizes > 0 && q->round > row.answered) {
		err = answer_round(x, &row.job, q, dh, why, sizeof(why));
		if (err == RF_OK) {
			dispute_update(x, id, "UPDATE disputes SET answered = ?2, "
			    "failure = NULL WHERE dispute_id = ?1", q->round, NULL);
		}
	}
	if (err != RF_OK) {
		move_failed(x, id, &row, dh, is_reveal, why);
	} else if (row.failure[0] != '\0' && why[0] == '\0' &&
	    (is_reveal ? !row.revealed : q->round > row.answered)) {
		log_info("dispute %s: %s made after all", dh, is_reveal ?
		    "the reveal" : "the answer");
	}
	return err;
}

/* Whether job is one we claimed. */
static bool
ours(struct executor *x, const struct proto_digest *job)
{
	int state = 0;
	return executor_job_state(x, job, &state) == RF_OK && state != 0;
}

int
executor_dispute_event(struct executor *x, const struct proto_event *e)
{
	if (e->kind != PROTO_EVENT_DISPUTE_OPENED &&
	    e->kind != PROTO_EVENT_DISPUTE_MOVE) {
		return RF_OK;
	}
	if (!ours(x, &e->job_id)) {
		return RF_OK;
	}
	/* Written down before the event counts as handled: from here on
	 * the dispute is looked at until it is decided, whatever happens
	 * to the move below. */
	int err = dispute_record(x, &e->dispute_id, &e->job_id);
	if (err != RF_OK) {
		log_warn("cannot record a dispute: %s", rf_strerror(err));
		return err; /* the event comes again */
	}
	if (e->kind == PROTO_EVENT_DISPUTE_OPENED) {
		char dh[13];
		node_short_hex(e->dispute_id.b, dh);
		log_info("dispute %s opened against our claim", dh);
		net_counter_inc(x->m_disputes);
		if (x->cfg->fault == EXECUTOR_FAULT_SILENT) {
			log_warn("dispute %s: TESTING FAULT silent: not answering",
			    dh);
		}
	}
	/* A failed move is made again by executor_disputes_poll. */
	act(x, &e->dispute_id);
	return RF_OK;
}

void
executor_disputes_poll(struct executor *x)
{
	enum { BATCH = 64 };
	size_t hl = proto_hash_len(x->cfg->node.suite);
	struct proto_digest ids[BATCH];
	int64_t last = x->poll_after;
	size_t n = 0;
	sqlite3_stmt *st;
	/* In rowid order from where the last look stopped, a batch at a
	 * time, so that many open disputes bound the work per look and
	 * none waits behind the others for ever. */
	store_lock(x->node.db);
	if (store_prepare(x->node.db, "SELECT rowid, dispute_id FROM disputes WHERE "
	    "state = ?1 AND rowid > ?2 ORDER BY rowid LIMIT ?3", &st,
	    NULL) == RF_OK) {
		sqlite3_bind_int(st, 1, EXECUTOR_DISPUTE_OPEN);
		sqlite3_bind_int64(st, 2, x->poll_after);
		sqlite3_bind_int(st, 3, BATCH);
		while (n < BATCH && sqlite3_step(st) == SQLITE_ROW) {
			last = sqlite3_column_int64(st, 0);
			if ((size_t)sqlite3_column_bytes(st, 1) != hl) {
				continue;
			}
			memset(&ids[n], 0, sizeof(ids[n]));
			memcpy(ids[n].b, sqlite3_column_blob(st, 1), hl);
			n++;
		}
		sqlite3_finalize(st);
	}
	store_unlock(x->node.db);
	x->poll_after = n < BATCH ? 0 : last;
	for (size_t i = 0; i < n && !*x->stop; i++) {
		act(x, &ids[i]);
	}
	x->last_poll = node_mono_ms();
}

/* Posts a second claim for the same job with another trace root: the
 * testing fault that must get the executor slashed for equivocation. */
void
executor_equivocate(struct executor *x, const struct executor_run *run)
{
	struct proto_claim second;
	struct node_reply reply;
	struct rf_errinfo ei = { "" };
	struct proto_claim *c = &second;
	const struct proto_claim *first = &run->claim;
	*c = *first;
	/* The copy must not own the first one's tensors or proof. */
	c->n_outputs = 0;
	if (proto_proof_dup(first->output_proof, first->proof_len,
	    &c->output_proof) != RF_OK) {
		c->proof_len = 0;
		proto_claim_free(&second);
		return;
	}
	for (unsigned i = 0; i < first->n_outputs; i++) {
		if (engine_tensor_copy(&c->outputs[i], &first->outputs[i]) != RF_OK) {
			proto_claim_free(&second);
			return;
		}
		c->n_outputs = (uint8_t)(i + 1);
	}
	c->trace_root.b[0] ^= 0xff;
	log_warn("TESTING FAULT equivocate: posting a second claim with another "
	    "root");
	if (node_rpc_call(&x->node.rpc, PROTO_MSG_CLAIM, &second, &reply, &ei) ==
	    RF_OK) {
		struct proto_error refusal;
		node_reply_error(&reply, &refusal);
		log_warn("the referee answered the second claim: %s",
		    refusal.code != 0 ? refusal.text : "ack");
		node_reply_free(&reply);
	}
	proto_claim_free(&second);
}
