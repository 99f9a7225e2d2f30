/*
 * executor/dispute.c - the executor's side of a dispute: answer each
 * round with prefix roots and consistency proofs built from the leaf
 * hashes it stored with the claim, and reveal the disputed operator's
 * inputs by re-running the job up to that operator.
 *
 * Every move is decided from the referee's current view of the dispute
 * (DISPUTE_FETCH), so a restarted executor, or one that missed an event,
 * simply looks again and moves.
 */
#include <stdlib.h>
#include <string.h>

#include "../base/log.h"
#include "executor_int.h"

/* A job of ours: its model and stored leaves. */
static int
load_leaves(struct executor *x, const struct proto_digest *job,
    struct proto_digest **leaves, size_t *n, struct proto_digest *model)
{
	size_t hl = proto_hash_len(x->cfg->suite);
	sqlite3_stmt *st;
	*leaves = NULL;
	store_lock(x->db);
	int err = store_prepare(x->db, "SELECT leaves, n, model_id FROM jobs "
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
	store_unlock(x->db);
	return err;
}

static int
call(struct executor *x, struct proto_msg *req, struct proto_msg *reply,
    struct rf_errinfo *ei)
{
	int err = node_rpc_call(&x->rpc, req, reply, ei);
	proto_msg_free(req);
	return err;
}

static int
answer_round(struct executor *x, const struct proto_digest *job,
    const struct proto_bisect_query *q, const char *dh)
{
	struct proto_digest *leaves;
	struct proto_digest model;
	size_t n;
	int err = load_leaves(x, job, &leaves, &n, &model);
	if (err != RF_OK) {
		return err;
	}
	struct proto_msg req, reply;
	struct rf_errinfo ei = { "" };
	proto_msg_init(&req, PROTO_MSG_BISECT_ANSWER, x->cfg->suite);
	err = bisect_answer_build(x->cfg->suite, leaves, n, q,
	    &req.u.bisect_answer);
	free(leaves);
	if (err != RF_OK) {
		proto_msg_free(&req);
		return err;
	}
	if (x->cfg->fault == EXECUTOR_FAULT_BAD_PROOF &&
	    req.u.bisect_answer.n_roots > 0 &&
	    req.u.bisect_answer.roots[0].proof_len > 0) {
		req.u.bisect_answer.roots[0].proof[0].b[0] ^= 0x01;
		log_warn("dispute %s: TESTING FAULT bad-proof: answering round %u "
		    "with a wrong proof", dh, q->round);
	}
	err = call(x, &req, &reply, &ei);
	if (err == RF_OK) {
		if (reply.type == PROTO_MSG_ERROR) {
			log_info("dispute %s: round %u answer: %s", dh, q->round,
			    reply.u.error.text);
		}
		proto_msg_free(&reply);
	}
	return err;
}

static int
reveal(struct executor *x, const struct proto_digest *id,
    const struct proto_digest *job, const struct proto_bisect_query *q,
    const char *dh)
{
	struct proto_digest *leaves;
	struct proto_digest model_id;
	size_t n;
	int err = load_leaves(x, job, &leaves, &n, &model_id);
	if (err != RF_OK) {
		return err;
	}
	const struct node_model *nm = node_models_find(&x->models, &model_id);
	struct proto_msg req, info, reply;
	struct rf_errinfo ei = { "" };
	proto_msg_init(&req, PROTO_MSG_JOB_FETCH, x->cfg->suite);
	req.u.job_fetch.job_id = *job;
	err = nm == NULL ? RF_ERR_NOTFOUND : call(x, &req, &info, &ei);
	if (nm == NULL) {
		proto_msg_free(&req);
	}
	if (err == RF_OK) {
		err = node_reply_ok(&info, PROTO_MSG_JOB_INFO, &ei);
		if (err != RF_OK) {
			proto_msg_free(&info);
		}
	}
	if (err != RF_OK) {
		free(leaves);
		log_error("dispute %s: cannot reveal: %s", dh,
		    nm == NULL ? "the model is not loaded" : ei.msg);
		return err;
	}
	size_t n_in = engine_model_input_count(nm->model);
	uint32_t op = (uint32_t)(q->lo - n_in);
	proto_msg_init(&req, PROTO_MSG_REVEAL, x->cfg->suite);
	req.u.reveal.dispute_id = *id;
	err = node_reveal_build(x->cfg->suite, nm->model, info.u.job_info.inputs,
	    leaves, n, op, &req.u.reveal, &ei);
	req.u.reveal.dispute_id = *id;
	proto_msg_free(&info);
	free(leaves);
	if (err != RF_OK) {
		proto_msg_free(&req);
		log_error("dispute %s: %s", dh, ei.msg);
		return err;
	}
	log_info("dispute %s: revealing operator %u", dh, op);
	err = call(x, &req, &reply, &ei);
	/* A reveal that does not arrive loses the dispute on the clock:
	 * never let that pass quietly. */
	if (err != RF_OK) {
		log_error("dispute %s: the reveal of operator %u could not be "
		    "sent: %s", dh, op, ei.msg[0] ? ei.msg : rf_strerror(err));
	} else {
		if (reply.type == PROTO_MSG_ERROR) {
			log_error("dispute %s: the referee refused the reveal of "
			    "operator %u: %s", dh, op, reply.u.error.text);
		}
		proto_msg_free(&reply);
	}
	return err;
}

/* Looks at one dispute and makes our move if one is due. */
static int
act(struct executor *x, const struct proto_digest *id,
    const struct proto_digest *job)
{
	char dh[13];
	node_short_digest(x->cfg->suite, id, dh);
	if (x->cfg->fault == EXECUTOR_FAULT_SILENT) {
		log_warn("dispute %s: TESTING FAULT silent: not answering", dh);
		return RF_OK;
	}
	struct proto_msg req, view;
	struct rf_errinfo ei = { "" };
	proto_msg_init(&req, PROTO_MSG_DISPUTE_FETCH, x->cfg->suite);
	req.u.dispute_fetch.dispute_id = *id;
	int err = call(x, &req, &view, &ei);
	if (err != RF_OK) {
		return err;
	}
	if (view.type == PROTO_MSG_VERDICT) {
		const struct proto_verdict *v = &view.u.verdict;
		log_info("dispute %s: %s (operator %u, %u rounds)", dh,
		    v->executor_won ? "won" : "lost", v->op, v->rounds);
		proto_msg_free(&view);
		return RF_OK;
	}
	if (view.type == PROTO_MSG_BISECT_QUERY) {
		const struct proto_bisect_query *q = &view.u.bisect_query;
		err = q->hi - q->lo == 1 ? reveal(x, id, job, q, dh) :
		    answer_round(x, job, q, dh);
	}
	proto_msg_free(&view);
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
	if (e->kind == PROTO_EVENT_DISPUTE_OPENED) {
		char dh[13];
		node_short_digest(x->cfg->suite, &e->dispute_id, dh);
		log_info("dispute %s opened against our claim", dh);
		net_counter_inc(x->m_disputes);
	}
	/* A failed move is retried when the next event comes; the clock is
	 * the only thing that forgives nothing. */
	act(x, &e->dispute_id, &e->job_id);
	return RF_OK;
}

/* Posts a second claim for the same job with another trace root: the
 * testing fault that must get the executor slashed for equivocation. */
void
executor_equivocate(struct executor *x, const struct executor_run *run)
{
	struct proto_msg second, reply;
	struct rf_errinfo ei = { "" };
	proto_msg_init(&second, PROTO_MSG_CLAIM, x->cfg->suite);
	struct proto_claim *c = &second.u.claim;
	const struct proto_claim *first = &run->claim.u.claim;
	*c = *first;
	c->n_outputs = 0; /* the copy must not own the first one's tensors */
	for (unsigned i = 0; i < first->n_outputs; i++) {
		if (tensor_copy(&c->outputs[i], &first->outputs[i]) != RF_OK) {
			proto_msg_free(&second);
			return;
		}
		c->n_outputs = (uint8_t)(i + 1);
	}
	c->trace_root.b[0] ^= 0xff;
	log_warn("TESTING FAULT equivocate: posting a second claim with another "
	    "root");
	if (node_rpc_call(&x->rpc, &second, &reply, &ei) == RF_OK) {
		log_warn("the referee answered the second claim: %s",
		    reply.type == PROTO_MSG_ERROR ? reply.u.error.text : "ack");
		proto_msg_free(&reply);
	}
	proto_msg_free(&second);
}
