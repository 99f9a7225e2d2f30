/*
 * referee/handlers.c - what the referee does with each request.
 *
 * Write handlers run inside the caller's transaction (referee/serve.c) and
 * either set the reply (referee_reply) and return RF_OK, refuse with an ERROR reply
 * (RF_ERR_REFUSED: their changes are rolled back, the request's sequence number
 * is still consumed), or fail internally (everything rolled back, the
 * sender may retry). Read handlers run under the store lock and change
 * nothing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "referee/referee_int.h"

enum claim_state {
	CLAIM_PENDING = PROTO_JOB_CLAIMED,
	CLAIM_DISPUTED = PROTO_JOB_DISPUTED,
	CLAIM_FINAL = PROTO_JOB_FINAL,
	CLAIM_INVALID = PROTO_JOB_INVALID,
};

int
referee_reply(struct request *q, enum proto_msg_type type, const void *body)
{
	free(q->out);
	q->out = NULL;
	q->out_len = 0;
	q->out_type = (uint8_t)type;
	q->out_err = referee_encode(q->r, type, body, &q->out, &q->out_len);
	return q->out_err;
}

int
referee_req_refuse(struct request *q, uint32_t code, const char *fmt, ...)
{
	memset(&q->error, 0, sizeof(q->error));
	q->error.code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(q->error.text, sizeof(q->error.text), fmt, ap);
	va_end(ap);
	(void)referee_reply(q, PROTO_MSG_ERROR, &q->error);
	return RF_ERR_REFUSED;
}

void
referee_req_ack(struct request *q, const struct proto_digest *id)
{
	struct proto_ack ack;
	memset(&ack, 0, sizeof(ack));
	ack.ref_seq = q->env->seq;
	if (id != NULL) {
		ack.id = *id;
	}
	(void)referee_reply(q, PROTO_MSG_ACK, &ack);
}

/* ------------------------------------------------------------------ */
/* Nodes, stake, models                                                 */
/* ------------------------------------------------------------------ */

static int
h_register(struct request *q)
{
	const struct proto_node_register *m = q->body;
	struct referee *r = q->r;
	if (m->roles == 0) {
		return referee_req_refuse(q, PROTO_ERR_INVALID, "a node needs a role");
	}
	/* Registering costs register_fee, burned, the first time: free
	 * registrations let anyone fill the registry (and `status`) with
	 * made-up nodes. Updating one's own registration is free. */
	struct account a;
	int err = referee_ledger_account(r, &q->env->sender, &a);
	if (err != RF_OK) {
		return err;
	}
	uint64_t fee = r->params.register_fee;
	if (!a.registered && fee > 0) {
		if (!a.exists || a.balance < fee) {
			return referee_req_refuse(q, PROTO_ERR_STAKE, "registering costs %llu "
			    "(burned); the balance is %llu",
			    (unsigned long long)fee,
			    (unsigned long long)(a.exists ? a.balance : 0));
		}
		err = referee_ledger_debit(r, &q->env->sender, "balance", fee);
		if (err == RF_OK) {
			err = referee_db_meta_add(r, "burned", (int64_t)fee);
		}
		if (err != RF_OK) {
			return err;
		}
	}
	err = referee_db_run(r, "INSERT INTO accounts (key, roles, name, endpoint, "
	    "registered) VALUES (?1, ?2, ?3, ?4, 1) ON CONFLICT (key) DO UPDATE "
	    "SET roles = ?2, name = ?3, endpoint = ?4, registered = 1", "kitt",
	    &q->env->sender, (int64_t)m->roles, m->name, m->endpoint);
	if (err == RF_OK) {
		err = referee_db_run(r, "DELETE FROM serves WHERE key = ?1", "k",
		    &q->env->sender);
	}
	for (unsigned i = 0; err == RF_OK && i < m->n_models; i++) {
		err = referee_db_run(r, "INSERT OR IGNORE INTO serves (key, model_id) "
		    "VALUES (?1, ?2)", "kd", &q->env->sender, &m->models[i]);
	}
	if (err != RF_OK) {
		return err;
	}
	char k[13];
	node_short_hex(q->env->sender.b, k);
	log_info("node registered key=%s name=%s roles=%u models=%u", k,
	    m->name, m->roles, m->n_models);
	referee_req_ack(q, NULL);
	return RF_OK;
}

/* Stake locked by pending work: an executor with jobs assigned to it, or
 * claims in their window or in dispute, keeps at least min_stake. */
static int
pending_claims(struct referee *r, const struct proto_pubkey *k, int64_t *n)
{
	sqlite3_stmt *st;
	int err = referee_db_stmt(r, &st, "SELECT (SELECT count(*) FROM claims WHERE "
	    "executor = ?1 AND state IN (2, 3)) + (SELECT count(*) FROM jobs "
	    "WHERE executor = ?1 AND state = 1)", "k", k);
	if (err != RF_OK) {
		return err;
	}
	*n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return RF_OK;
}

static int
h_stake(struct request *q, bool stake)
{
	struct referee *r = q->r;
	uint64_t amount = ((const struct proto_amount *)q->body)->amount;
	struct chain_params cp;
	struct chain_before b;
	struct chain_effects e;
	memset(&b, 0, sizeof(b));
	referee_chain_params(r, &cp);
	int err = referee_ledger_chain_account(r, &q->env->sender,
	    &b.acc[CHAIN_EXECUTOR]);
	if (err != RF_OK) {
		return err;
	}
	if (stake) {
		chain_stake(&cp, &b.acc[CHAIN_EXECUTOR], amount, &e);
	} else {
		int64_t pending;
		err = pending_claims(r, &q->env->sender, &pending);
		if (err != RF_OK) {
			return err;
		}
		chain_unstake(&cp, &b.acc[CHAIN_EXECUTOR], amount,
		    (uint64_t)pending, &e);
	}
	if (e.refused != 0) {
		return referee_req_refuse(q, e.refused, "%s", e.why);
	}
	struct ledger_roles roles = { { NULL }, NULL, NULL };
	roles.key[CHAIN_EXECUTOR] = &q->env->sender;
	err = referee_ledger_apply(q, &b, &e, &roles);
	if (err != RF_OK) {
		return err;
	}
	referee_req_ack(q, NULL);
	return RF_OK;
}

static int
h_model(struct request *q)
{
	const struct proto_model_register *m = q->body;
	struct referee *r = q->r;
	enum proto_hash suite = r->params.suite;
	if (m->name[0] == '\0') {
		return referee_req_refuse(q, PROTO_ERR_INVALID, "a model needs a name");
	}
	/* Every dimension comes from the graph, never from the registrant
	 * (referee/validate.c). */
	struct model_spec s;
	struct rf_errinfo ei = { "" };
	int err = referee_model_derive(suite, m->graph, m->graph_len, &s, &ei);
	if (err == RF_ERR_NOMEM) {
		return err;
	}
	if (err != RF_OK) {
		return referee_req_refuse(q, PROTO_ERR_INVALID, "the model cannot be "
		    "served: %s", ei.msg);
	}
	if (m->n_ops != s.n_ops || m->n_inputs != s.n_inputs ||
	    m->n_leaves != s.n_leaves) {
		return referee_req_refuse(q, PROTO_ERR_INVALID, "the registration says "
		    "%u operators, %u inputs, %u leaves; the graph has %u, %u, "
		    "%u", m->n_ops, m->n_inputs, m->n_leaves, s.n_ops,
		    s.n_inputs, s.n_leaves);
	}
	/* The graph must be leaf 0 of model_id's tree of exactly that size:
	 * the referee will recompute operators from it, and check weights
	 * against that tree, in disputes. */
	struct proto_digest leaf;
	proto_merkle_leaf_hash(suite, m->graph, m->graph_len, &leaf);
	if (proto_merkle_inclusion_verify(suite, &leaf, 0, s.n_leaves,
	    m->graph_proof, m->proof_len, &m->model_id) != RF_OK) {
		return referee_req_refuse(q, PROTO_ERR_INVALID, "the graph description "
		    "is not leaf 0 of model_id (bad proof)");
	}
	sqlite3_stmt *st;
	err = referee_db_stmt(r, &st, "SELECT 1 FROM models WHERE model_id = ?1", "d",
	    &m->model_id);
	if (err != RF_OK) {
		return err;
	}
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		return RF_ERR_STORE;
	}
	/* An existing row was derived from this very graph (a model_id
	 * has one leaf 0): registering again changes nothing. */
	if (rc == SQLITE_DONE) {
		uint8_t inputs[SPEC_INPUTS_MAX];
		size_t ilen = referee_spec_inputs_encode(&s, inputs);
		/* The signed registration is kept: dispute transcripts
		 * carry it, so an audit can check the graph it recomputes
		 * from. */
		err = referee_db_run(r, "INSERT INTO models (model_id, name, n_ops, "
		    "n_inputs, graph, owner, n_leaves, envelope, out_leaf, "
		    "inputs) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
		    "dtiibkibib", &m->model_id, m->name, (int64_t)s.n_ops,
		    (int64_t)s.n_inputs, m->graph, m->graph_len, &q->env->sender,
		    (int64_t)s.n_leaves, q->raw, q->raw_len, (int64_t)s.out_leaf,
		    inputs, ilen);
		if (err != RF_OK) {
			return err;
		}
		char id[13];
		node_short_hex(m->model_id.b, id);
		log_info("model registered id=%s name=%s ops=%u", id, m->name,
		    s.n_ops);
	}
	referee_req_ack(q, &m->model_id);
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Jobs                                                                 */
/* ------------------------------------------------------------------ */

/* job_id = H("refute-job" || model_id || client || nonce || input leaves) */
static void
job_id_of(enum proto_hash suite, const struct proto_job_submit *s,
    const struct proto_pubkey *client, const struct proto_digest *leaves,
    struct proto_digest *out)
{
	proto_job_id(suite, &s->model_id, client, s->nonce, leaves, s->n_inputs,
	    out);
}

/* An executor that may take jobs for the model. */
static int
executor_eligible(struct referee *r, const struct proto_pubkey *k,
    const struct proto_digest *model, bool *ok)
{
	sqlite3_stmt *st;
	int err = referee_db_query(r, &st, "SELECT 1 FROM accounts a JOIN serves s ON "
	    "s.key = a.key WHERE a.key = ?1 AND s.model_id = ?2 AND "
	    "a.registered = 1 AND (a.roles & 1) != 0 AND a.stake + a.locked >= ?3",
	    "kdi",
	    k, model, (int64_t)r->params.min_stake);
	if (err != RF_OK) {
		return err;
	}
	int rc = sqlite3_step(st);
	*ok = rc == SQLITE_ROW;
	referee_db_done(r, st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? RF_OK : RF_ERR_STORE;
}

/* The eligible executor with the fewest unfinished jobs (ties: lowest
 * key), so work spreads and the choice is reproducible. */
int
referee_pick_executor(struct referee *r, const struct proto_digest *model,
    struct proto_pubkey *out, bool *found)
{
	sqlite3_stmt *st;
	int err = referee_db_query(r, &st, "SELECT a.key FROM accounts a JOIN serves s "
	    "ON s.key = a.key WHERE s.model_id = ?1 AND a.registered = 1 AND "
	    "(a.roles & 1) != 0 AND a.stake + a.locked >= ?2 ORDER BY (SELECT "
	    "count(*) "
	    "FROM jobs j WHERE j.executor = a.key AND j.state IN (1, 2, 3)), a.key "
	    "LIMIT 1", "di", model, (int64_t)r->params.min_stake);
	if (err != RF_OK) {
		return err;
	}
	int rc = sqlite3_step(st);
	*found = rc == SQLITE_ROW;
	if (*found) {
		referee_db_col_key(st, 0, out);
	}
	referee_db_done(r, st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? RF_OK : RF_ERR_STORE;
}

static int
h_submit(struct request *q)
{
	const struct proto_job_submit *s = q->body;
	struct referee *r = q->r;
	enum proto_hash suite = r->params.suite;
	struct model_spec ms;
	bool found;
	if (q->raw_len > PROTO_MAX_DISPUTABLE_JOB) {
		return referee_req_refuse(q, PROTO_ERR_INVALID, "the job is %zu bytes; a "
		    "job must fit a dispute's transcript (%zu bytes at most)",
		    q->raw_len, (size_t)PROTO_MAX_DISPUTABLE_JOB);
	}
	int err = referee_model_spec(r, &s->model_id, &ms, &found);
	if (err != RF_OK) {
		return err;
	}
	if (!found) {
		return referee_req_refuse(q, PROTO_ERR_UNKNOWN, "unknown model");
	}
	/* A job the model cannot run would never end: refuse it before
	 * anything is escrowed. */
	char why[256];
	if (referee_job_inputs_check(&ms, s->inputs, s->n_inputs, why,
	    sizeof(why)) != RF_OK) {
		return referee_req_refuse(q, PROTO_ERR_INVALID, "%s", why);
	}
	err = referee_job_graph_check(r, &s->model_id, &ms, s->inputs,
	    s->n_inputs, why, sizeof(why));
	if (err == RF_ERR_SHAPE) {
		return referee_req_refuse(q, PROTO_ERR_INVALID, "%s", why);
	}
	if (err != RF_OK) {
		return err;
	}
	struct proto_digest leaves[PROTO_MAX_TENSORS];
	for (unsigned i = 0; i < s->n_inputs; i++) {
		const struct tensor *t = &s->inputs[i];
		proto_tensor_leaf(suite, &t, 1, &leaves[i]);
	}
	struct proto_digest job;
	job_id_of(suite, s, &q->env->sender, leaves, &job);

	sqlite3_stmt *st;
	err = referee_db_query(r, &st, "SELECT 1 FROM jobs WHERE job_id = ?1", "d",
	    &job);
	if (err != RF_OK) {
		return err;
	}
	bool dup = sqlite3_step(st) == SQLITE_ROW;
	referee_db_done(r, st);
	if (dup) {
		/* The id covers client, nonce and inputs: the same job. */
		referee_req_ack(q, &job);
		return RF_OK;
	}

	struct proto_pubkey ex = s->executor;
	if (!proto_pubkey_is_zero(&ex)) {
		bool ok;
		err = executor_eligible(r, &ex, &s->model_id, &ok);
		if (err != RF_OK) {
			return err;
		}
		if (!ok) {
			return referee_req_refuse(q, PROTO_ERR_UNKNOWN, "the named executor "
			    "does not serve this model with enough stake");
		}
	} else {
		err = referee_pick_executor(r, &s->model_id, &ex, &found);
		if (err != RF_OK) {
			return err;
		}
		if (!found) {
			return referee_req_refuse(q, PROTO_ERR_UNKNOWN, "no staked executor "
			    "serves this model");
		}
	}
	/* The money: chain/'s rule for a submission. */
	struct chain_params cp;
	struct chain_before b;
	struct chain_effects e;
	struct chain_job cj;
	memset(&b, 0, sizeof(b));
	memset(&cj, 0, sizeof(cj));
	cj.fee = s->fee;
	b.job = &cj;
	referee_chain_params(r, &cp);
	int64_t open_jobs = 0;
	err = referee_ledger_chain_account(r, &q->env->sender, &b.acc[CHAIN_CLIENT]);
	if (err == RF_OK) {
		err = referee_db_query(r, &st, "SELECT count(*) FROM jobs WHERE client = "
		    "?1 AND state IN (1, 2, 3)", "k", &q->env->sender);
		if (err == RF_OK) {
			if (sqlite3_step(st) == SQLITE_ROW) {
				open_jobs = sqlite3_column_int64(st, 0);
			}
			referee_db_done(r, st);
		}
	}
	if (err != RF_OK) {
		return err;
	}
	chain_submit(&cp, &b.acc[CHAIN_CLIENT], s->fee, (uint64_t)open_jobs,
	    q->now_ms, &e);
	if (e.refused != 0) {
		return referee_req_refuse(q, e.refused, "%s", e.why);
	}
	size_t hl = proto_hash_len(suite);
	uint8_t leafbuf[PROTO_DIGEST_MAX * PROTO_MAX_TENSORS];
	for (unsigned i = 0; i < s->n_inputs; i++) {
		memcpy(leafbuf + i * hl, leaves[i].b, hl);
	}
	err = referee_db_run(r, "INSERT INTO jobs (job_id, model_id, client, executor, "
	    "fee, submit, input_leaves, state, created_ms, deadline_ms) VALUES "
	    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)", "ddkkibbiii", &job,
	    &s->model_id, &q->env->sender, &ex, (int64_t)s->fee, q->raw,
	    q->raw_len, leafbuf, (size_t)s->n_inputs * hl,
	    (int64_t)PROTO_JOB_OPEN, (int64_t)q->now_ms,
	    (int64_t)e.deadline_ms);
	if (err != RF_OK) {
		return err;
	}
	struct ledger_roles roles = { { NULL }, &job, NULL };
	roles.key[CHAIN_CLIENT] = &q->env->sender;
	roles.key[CHAIN_EXECUTOR] = &ex;
	err = referee_ledger_apply(q, &b, &e, &roles);
	if (err != RF_OK) {
		return err;
	}
	net_counter_inc(r->m_jobs);
	referee_req_ack(q, &job);
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Claims                                                               */
/* ------------------------------------------------------------------ */

struct job_row {
	struct proto_digest model_id;
	struct proto_pubkey executor;
	int state;
	uint8_t leaves[PROTO_DIGEST_MAX * PROTO_MAX_TENSORS];
	size_t leaves_len;
};

static int
job_get(struct referee *r, const struct proto_digest *id, struct job_row *j,
    bool *found)
{
	sqlite3_stmt *st;
	int err = referee_db_query(r, &st, "SELECT model_id, executor, state, "
	    "input_leaves FROM jobs WHERE job_id = ?1", "d", id);
	if (err != RF_OK) {
		return err;
	}
	int rc = sqlite3_step(st);
	*found = rc == SQLITE_ROW;
	if (*found) {
		referee_db_col_digest(r, st, 0, &j->model_id);
		referee_db_col_key(st, 1, &j->executor);
		j->state = sqlite3_column_int(st, 2);
		size_t n = (size_t)sqlite3_column_bytes(st, 3);
		j->leaves_len = n <= sizeof(j->leaves) ? n : 0;
		if (j->leaves_len > 0) {
			memcpy(j->leaves, sqlite3_column_blob(st, 3), n);
		}
	}
	referee_db_done(r, st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? RF_OK : RF_ERR_STORE;
}

static int
claim_equivocates(struct request *q, const struct proto_digest *job)
{
	sqlite3_stmt *st;
	int err = referee_db_stmt(q->r, &st, "SELECT envelope FROM claims WHERE job_id "
	    "= ?1", "d", job);
	if (err != RF_OK) {
		return err;
	}
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return RF_ERR_STORE;
	}
	size_t len = (size_t)sqlite3_column_bytes(st, 0);
	uint8_t *first = malloc(len ? len : 1);
	if (first != NULL) {
		memcpy(first, sqlite3_column_blob(st, 0), len);
	}
	sqlite3_finalize(st);
	if (first == NULL) {
		return RF_ERR_NOMEM;
	}
	err = referee_equivocation_apply(q, first, len, q->raw, q->raw_len);
	free(first);
	if (err == RF_OK) {
		referee_req_refuse(q, PROTO_ERR_STATE, "equivocation: a different claim "
		    "for this job is on record; the stake is slashed");
	}
	return err;
}

static int
h_claim(struct request *q)
{
	const struct proto_claim *c = q->body;
	struct referee *r = q->r;
	enum proto_hash suite = r->params.suite;
	size_t hl = proto_hash_len(suite);
	struct job_row j;
	bool found;
	int err = job_get(r, &c->job_id, &j, &found);
	if (err != RF_OK) {
		return err;
	}
	if (!found) {
		return referee_req_refuse(q, PROTO_ERR_UNKNOWN, "unknown job");
	}
	if (memcmp(j.executor.b, q->env->sender.b, PROTO_KEY_LEN) != 0) {
		return referee_req_refuse(q, PROTO_ERR_INVALID, "the job is assigned to "
		    "another executor");
	}
	sqlite3_stmt *st;
	err = referee_db_query(r, &st, "SELECT trace_root, n FROM claims WHERE "
	    "job_id = ?1", "d", &c->job_id);
	if (err != RF_OK) {
		return err;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		struct proto_digest root;
		referee_db_col_digest(r, st, 0, &root);
		bool same = proto_digest_equal(suite, &root, &c->trace_root) &&
		    sqlite3_column_int64(st, 1) == c->n;
		referee_db_done(r, st);
		if (same) {
			referee_req_ack(q, &c->job_id); /* a retry of the same claim */
			return RF_OK;
		}
		/* A second, different claim signed by the same executor for
		 * the same job: the referee now holds the proof of
		 * equivocation. The slash is committed; the claim refused. */
		return claim_equivocates(q, &c->job_id);
	}
	referee_db_done(r, st);
	if (j.state != PROTO_JOB_OPEN) {
		return referee_req_refuse(q, PROTO_ERR_STATE, "the job is not open");
	}
	if (!proto_digest_equal(suite, &j.model_id, &c->model_id)) {
		return referee_req_refuse(q, PROTO_ERR_INVALID, "the claim names another "
		    "model");
	}
	struct model_spec ms;
	err = referee_model_spec(r, &j.model_id, &ms, &found);
	if (err != RF_OK || !found) {
		return err != RF_OK ? err : RF_ERR_STORE;
	}
	/* The graph fixes the trace's length: a longer trace could end
	 * in an entry no operator produced. */
	if (c->n != ms.n_inputs + ms.n_ops) {
		return referee_req_refuse(q, PROTO_ERR_INVALID, "the trace must have %u "
		    "entries, the claim says %u", ms.n_inputs + ms.n_ops, c->n);
	}
	if ((size_t)c->n_inputs * hl != j.leaves_len) {
		return referee_req_refuse(q, PROTO_ERR_INVALID, "wrong number of input "
		    "leaves");
	}
	for (unsigned i = 0; i < c->n_inputs; i++) {
		if (memcmp(c->input_leaves[i].b, j.leaves + i * hl, hl) != 0) {
			return referee_req_refuse(q, PROTO_ERR_INVALID, "input leaf %u is "
			    "not the job's input", i);
		}
	}
	/* The output is the trace entry of the operator that produces the
	 * graph's declared outputs, not necessarily the last one. */
	const struct tensor *outs[PROTO_MAX_ENTRY_TENSORS];
	for (unsigned i = 0; i < c->n_outputs; i++) {
		outs[i] = &c->outputs[i];
	}
	struct proto_digest leaf;
	proto_tensor_leaf(suite, outs, c->n_outputs, &leaf);
	if (c->n_outputs == 0 ||
	    proto_merkle_inclusion_verify(suite, &leaf, ms.out_leaf, c->n,
	    c->output_proof, c->proof_len, &c->trace_root) != RF_OK) {
		return referee_req_refuse(q, PROTO_ERR_INVALID, "the output is not leaf "
		    "%u of the trace root, the model's output (bad proof)",
		    ms.out_leaf);
	}
	/* The money: chain/'s rule for a claim (stake, collateral, the
	 * job's deadline). */
	struct chain_params cp;
	struct chain_before b;
	struct chain_effects e;
	struct chain_job cj;
	memset(&b, 0, sizeof(b));
	referee_chain_params(r, &cp);
	err = referee_ledger_job(r, &c->job_id, &cj, NULL, NULL, &found);
	if (err == RF_OK) {
		err = referee_ledger_chain_account(r, &q->env->sender,
		    &b.acc[CHAIN_EXECUTOR]);
	}
	if (err != RF_OK || !found) {
		return err != RF_OK ? err : RF_ERR_STORE;
	}
	b.job = &cj;
	chain_claim(&cp, &cj, &b.acc[CHAIN_EXECUTOR], q->now_ms, &e);
	if (e.refused != 0) {
		return referee_req_refuse(q, e.refused, "%s", e.why);
	}
	err = referee_db_run(r, "INSERT INTO claims (job_id, executor, trace_root, n, "
	    "envelope, posted_ms, window_end_ms, state, collateral) VALUES "
	    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", "dkdibiiii", &c->job_id,
	    &q->env->sender, &c->trace_root, (int64_t)c->n, q->raw, q->raw_len,
	    (int64_t)q->now_ms, (int64_t)e.window_end_ms,
	    (int64_t)CLAIM_PENDING, (int64_t)e.collateral);
	if (err == RF_OK) {
		struct ledger_roles roles = { { NULL }, &c->job_id, NULL };
		roles.key[CHAIN_EXECUTOR] = &q->env->sender;
		err = referee_ledger_apply(q, &b, &e, &roles);
	}
	if (err != RF_OK) {
		return err;
	}
	net_counter_inc(r->m_claims);
	referee_req_ack(q, &c->job_id);
	return RF_OK;
}

int
referee_handle_request(struct request *q)
{
	switch (q->env->type) {
	case PROTO_MSG_NODE_REGISTER:
		return h_register(q);
	case PROTO_MSG_STAKE:
		return h_stake(q, true);
	case PROTO_MSG_UNSTAKE:
		return h_stake(q, false);
	case PROTO_MSG_MODEL_REGISTER:
		return h_model(q);
	case PROTO_MSG_JOB_SUBMIT:
		return h_submit(q);
	case PROTO_MSG_JOB_CANCEL:
		return referee_handle_cancel(q);
	case PROTO_MSG_CLAIM:
		return h_claim(q);
	case PROTO_MSG_CHALLENGE:
		return referee_handle_challenge(q);
	case PROTO_MSG_BISECT_ANSWER:
		return referee_handle_answer(q);
	case PROTO_MSG_REVEAL:
		return referee_handle_reveal(q);
	case PROTO_MSG_EQUIVOCATION:
		return referee_handle_equivocation(q);
	default:
		return referee_req_refuse(q, PROTO_ERR_VERSION, "a referee does not take "
		    "'%s' messages", proto_msg_type_name(q->env->type));
	}
}

/* ------------------------------------------------------------------ */
/* Reads                                                                */
/* ------------------------------------------------------------------ */

/* Opens a stored envelope (already verified when it arrived); its body
 * stays valid until the statement steps again. */
static int
stored_msg(sqlite3_stmt *st, int col, struct proto_env *env)
{
	const uint8_t *p = sqlite3_column_blob(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);
	if (p == NULL) {
		return RF_ERR_STORE;
	}
	/* Verified when it arrived (or signed by us): checking the
	 * signature again would cost an Ed25519 verification per stored
	 * envelope, under the store lock (256 of them per EVENTS reply). */
	return proto_msg_open_stored(p, n, env, NULL);
}

static int
r_job_fetch(struct request *q)
{
	struct referee *r = q->r;
	const struct proto_digest *id = &((const struct proto_job_fetch *)q->body)->job_id;
	struct proto_digest zero;
	memset(&zero, 0, sizeof(zero));
	sqlite3_stmt *st;
	int err;
	/* A zero id asks for the oldest open job assigned to the sender. */
	if (proto_digest_equal(r->params.suite, id, &zero)) {
		err = referee_db_query(r, &st, "SELECT job_id, model_id, client, executor, "
		    "fee, state, submit FROM jobs WHERE executor = ?1 AND state = "
		    "1 ORDER BY created_ms, job_id LIMIT 1", "k", &q->env->sender);
	} else {
		err = referee_db_query(r, &st, "SELECT job_id, model_id, client, executor, "
		    "fee, state, submit FROM jobs WHERE job_id = ?1", "d", id);
	}
	if (err != RF_OK) {
		return err;
	}
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		referee_db_done(r, st);
		return rc == SQLITE_DONE ?
		    referee_req_refuse(q, PROTO_ERR_UNKNOWN, "no such job") : RF_ERR_STORE;
	}
	struct proto_env env;
	struct proto_job_submit *submit = malloc(sizeof(*submit));
	struct proto_job_info *ji = calloc(1, sizeof(*ji));
	err = submit != NULL && ji != NULL ? stored_msg(st, 6, &env) :
	    RF_ERR_NOMEM;
	if (err == RF_OK) {
		err = proto_job_submit_decode(&env, submit, NULL) == RF_OK ?
		    RF_OK : RF_ERR_STORE;
	}
	if (err != RF_OK) {
		referee_db_done(r, st);
		free(submit);
		free(ji);
		return err;
	}
	referee_db_col_digest(r, st, 0, &ji->job_id);
	referee_db_col_digest(r, st, 1, &ji->model_id);
	referee_db_col_key(st, 2, &ji->client);
	referee_db_col_key(st, 3, &ji->executor);
	ji->fee = (uint64_t)sqlite3_column_int64(st, 4);
	ji->state = (uint8_t)sqlite3_column_int(st, 5);
	referee_db_done(r, st);
	/* Hand the inputs over from the decoded request. */
	ji->n_inputs = submit->n_inputs;
	memcpy(ji->inputs, submit->inputs, sizeof(struct tensor) * ji->n_inputs);
	submit->n_inputs = 0;
	proto_job_submit_free(submit);
	free(submit);
	err = referee_reply(q, PROTO_MSG_JOB_INFO, ji);
	proto_job_info_free(ji);
	free(ji);
	return err;
}

static int
r_claim_status(struct request *q)
{
	struct referee *r = q->r;
	const struct proto_digest *id = &((const struct proto_claim_status *)q->body)->job_id;
	struct job_row j;
	bool found;
	int err = job_get(r, id, &j, &found);
	if (err != RF_OK) {
		return err;
	}
	if (!found) {
		return referee_req_refuse(q, PROTO_ERR_UNKNOWN, "no such job");
	}
	struct proto_claim_info info;
	memset(&info, 0, sizeof(info));
	struct proto_claim_info *ci = &info;
	ci->job_id = *id;
	ci->state = (uint8_t)j.state;
	ci->executor = j.executor;
	sqlite3_stmt *st;
	err = referee_db_query(r, &st, "SELECT trace_root, n, window_end_ms, envelope, "
	    "state FROM claims WHERE job_id = ?1", "d", id);
	if (err != RF_OK) {
		return err;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		struct proto_env env;
		struct proto_claim claim;
		referee_db_col_digest(r, st, 0, &ci->trace_root);
		ci->n = (uint32_t)sqlite3_column_int64(st, 1);
		ci->window_end_ms = (uint64_t)sqlite3_column_int64(st, 2);
		if (stored_msg(st, 3, &env) == RF_OK &&
		    proto_claim_decode(&env, &claim, NULL) == RF_OK) {
			ci->n_outputs = claim.n_outputs;
			memcpy(ci->outputs, claim.outputs,
			    sizeof(struct tensor) * ci->n_outputs);
			claim.n_outputs = 0;
			proto_claim_free(&claim);
		}
	}
	referee_db_done(r, st);
	err = referee_reply(q, PROTO_MSG_CLAIM_INFO, ci);
	proto_claim_info_free(ci);
	return err;
}

static int
count_where(struct referee *r, const char *sql, uint32_t *out)
{
	int64_t v = 0;
	bool found;
	int err = store_query_int(r->db, sql, &v, &found, NULL);
	*out = (uint32_t)v;
	return err;
}

static int
r_status(struct request *q)
{
	struct referee *r = q->r;
	struct proto_status_info info;
	memset(&info, 0, sizeof(info));
	struct proto_status_info *si = &info;
	si->time_ms = q->now_ms;
	int err = count_where(r, "SELECT count(*) FROM jobs WHERE state = 1",
	    &si->jobs_open);
	if (err == RF_OK) {
		err = count_where(r, "SELECT count(*) FROM claims WHERE state = 2",
		    &si->claims_pending);
	}
	if (err == RF_OK) {
		err = count_where(r, "SELECT count(*) FROM claims WHERE state = 4",
		    &si->claims_final);
	}
	if (err == RF_OK) {
		err = count_where(r, "SELECT count(*) FROM claims WHERE state = 5",
		    &si->claims_invalid);
	}
	if (err == RF_OK) {
		err = count_where(r, "SELECT count(*) FROM disputes WHERE state = 1",
		    &si->disputes_open);
	}
	if (err == RF_OK) {
		err = count_where(r, "SELECT count(*) FROM disputes WHERE state = 2",
		    &si->disputes_closed);
	}
	if (err == RF_OK) {
		err = referee_ledger_total(r, &si->ledger_total, &si->burned);
	}
	sqlite3_stmt *st;
	if (err == RF_OK) {
		err = referee_db_stmt(r, &st, "SELECT key, roles, name, balance, stake + "
		    "locked "
		    "FROM accounts WHERE registered = 1 ORDER BY stake + locked "
		    "DESC, balance DESC, key LIMIT ?1", "i",
		    (int64_t)PROTO_MAX_STATUS_NODES);
	}
	if (err != RF_OK) {
		return err;
	}
	si->nodes = calloc(PROTO_MAX_STATUS_NODES, sizeof(*si->nodes));
	if (si->nodes == NULL) {
		sqlite3_finalize(st);
		return RF_ERR_NOMEM;
	}
	while (sqlite3_step(st) == SQLITE_ROW &&
	    si->n_nodes < PROTO_MAX_STATUS_NODES) {
		struct proto_status_node *n = &si->nodes[si->n_nodes++];
		referee_db_col_key(st, 0, &n->key);
		n->roles = (uint8_t)sqlite3_column_int(st, 1);
		const char *name = (const char *)sqlite3_column_text(st, 2);
		snprintf(n->name, sizeof(n->name), "%s", name ? name : "");
		n->balance = (uint64_t)sqlite3_column_int64(st, 3);
		n->stake = (uint64_t)sqlite3_column_int64(st, 4);
	}
	sqlite3_finalize(st);
	err = referee_reply(q, PROTO_MSG_STATUS_INFO, si);
	proto_status_info_free(si);
	return err;
}

static int
r_events(struct request *q)
{
	struct referee *r = q->r;
	const struct proto_events_fetch *f = q->body;
	uint32_t max = f->max == 0 || f->max > PROTO_MAX_EVENTS ?
	    PROTO_MAX_EVENTS : f->max;
	if (f->after > INT64_MAX) {
		return referee_req_refuse(q, PROTO_ERR_INVALID, "bad event cursor");
	}
	struct proto_events reply;
	memset(&reply, 0, sizeof(reply));
	struct proto_events *ev = &reply;
	ev->events = calloc(max, sizeof(*ev->events));
	if (ev->events == NULL) {
		return RF_ERR_NOMEM;
	}
	sqlite3_stmt *st;
	int err = referee_db_query(r, &st, "SELECT body FROM events WHERE seq > ?1 "
	    "ORDER BY seq LIMIT ?2", "ii", (int64_t)f->after, (int64_t)max);
	if (err != RF_OK) {
		proto_events_free(ev);
		return err;
	}
	while (sqlite3_step(st) == SQLITE_ROW && ev->n < max) {
		struct proto_env env;
		if (stored_msg(st, 0, &env) == RF_OK &&
		    env.type == PROTO_MSG_EVENT &&
		    proto_event_decode(&env, &ev->events[ev->n], NULL) == RF_OK) {
			ev->n++;
		}
	}
	referee_db_done(r, st);
	err = referee_reply(q, PROTO_MSG_EVENTS, ev);
	proto_events_free(ev);
	return err;
}

int
referee_handle_read(struct request *q)
{
	switch (q->env->type) {
	case PROTO_MSG_JOB_FETCH:
		return r_job_fetch(q);
	case PROTO_MSG_CLAIM_STATUS:
		return r_claim_status(q);
	case PROTO_MSG_STATUS_QUERY:
		return r_status(q);
	case PROTO_MSG_EVENTS_FETCH:
		return r_events(q);
	case PROTO_MSG_DISPUTE_FETCH:
		return referee_dispute_fetch(q);
	case PROTO_MSG_JOBS_QUERY:
		return referee_jobs_query(q);
	case PROTO_MSG_DISPUTES_QUERY:
		return referee_disputes_query(q);
	default:
		return referee_req_refuse(q, PROTO_ERR_VERSION, "'%s' is not a query",
		    proto_msg_type_name(q->env->type));
	}
}
