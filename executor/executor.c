/*
 * executor/executor.c - runs jobs and posts claims.
 *
 * Crash safety: a claim is signed and stored in the executor's database
 * before it is sent, and the event cursor only advances after a job is
 * handled. After a restart the same event is handled again, finds the
 * stored claim and resends it; the referee answers a claim it already has
 * (same trace root) with an ACK. So no claim is lost and none is made
 * twice, and an honest executor can never equivocate by crashing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "engine/engine.h"
#include "node/node.h"
#include "store/store.h"
#include "executor/executor_int.h"

static const char *const schema[] = {
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)"
	"  STRICT;"
	"INSERT INTO meta VALUES ('cursor', 0);"
	"CREATE TABLE jobs ("
	"  job_id BLOB PRIMARY KEY,"
	"  model_id BLOB NOT NULL,"
	"  leaves BLOB NOT NULL,"     /* the n leaf hashes we committed to */
	"  trace_root BLOB NOT NULL,"
	"  n INTEGER NOT NULL,"
	"  claim BLOB,"               /* our signed claim, as sent */
	"  state INTEGER NOT NULL,"   /* enum job_state */
	"  error TEXT,"
	"  updated_ms INTEGER NOT NULL) STRICT;",
	/* Disputes on our claims, looked at until decided (dispute.c). */
	"CREATE TABLE disputes ("
	"  dispute_id BLOB PRIMARY KEY,"
	"  job_id BLOB NOT NULL,"
	"  state INTEGER NOT NULL,"               /* executor_dispute_state */
	"  won INTEGER,"
	"  answered INTEGER NOT NULL DEFAULT 0,"  /* last round heard */
	"  revealed INTEGER NOT NULL DEFAULT 0,"  /* the reveal was heard */
	"  failure TEXT,"                         /* last failure logged */
	"  opened_ms INTEGER NOT NULL) STRICT;",
};

/* ------------------------------------------------------------------ */
/* Small database helpers                                               */
/* ------------------------------------------------------------------ */

int
executor_job_state(struct executor *x, const struct proto_digest *job,
    int *state)
{
	sqlite3_stmt *st;
	size_t hl = proto_hash_len(x->cfg->node.suite);
	store_lock(x->node.db);
	int err = store_prepare(x->node.db, "SELECT state FROM jobs WHERE job_id = ?1",
	    &st, NULL);
	if (err == RF_OK) {
		sqlite3_bind_blob(st, 1, job->b, (int)hl, SQLITE_STATIC);
		*state = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) :
		    0;
		sqlite3_finalize(st);
	}
	store_unlock(x->node.db);
	return err;
}

static int
set_state(struct executor *x, const struct proto_digest *job, int state,
    const char *error)
{
	size_t hl = proto_hash_len(x->cfg->node.suite);
	sqlite3_stmt *st;
	int err = store_begin(x->node.db, NULL);
	if (err != RF_OK) {
		return err;
	}
	err = store_prepare(x->node.db, "UPDATE jobs SET state = ?2, error = ?3, "
	    "updated_ms = ?4 WHERE job_id = ?1", &st, NULL);
	if (err == RF_OK) {
		sqlite3_bind_blob(st, 1, job->b, (int)hl, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, state);
		if (error != NULL) {
			sqlite3_bind_text(st, 3, error, -1, SQLITE_TRANSIENT);
		}
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

/* Stores a computed job with its claim, before the claim is sent. */
static int
store_job(struct executor *x, const struct proto_digest *job,
    const struct proto_digest *model, const struct proto_digest *leaves,
    size_t n, const struct proto_digest *root, const uint8_t *claim,
    size_t claim_len)
{
	size_t hl = proto_hash_len(x->cfg->node.suite);
	uint8_t *flat = malloc(n * hl + 1);
	if (flat == NULL) {
		return RF_ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(flat + i * hl, leaves[i].b, hl);
	}
	sqlite3_stmt *st;
	int err = store_begin(x->node.db, NULL);
	if (err == RF_OK) {
		err = store_prepare(x->node.db, "INSERT OR REPLACE INTO jobs (job_id, "
		    "model_id, leaves, trace_root, n, claim, state, updated_ms) "
		    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", &st, NULL);
		if (err == RF_OK) {
			sqlite3_bind_blob(st, 1, job->b, (int)hl, SQLITE_STATIC);
			sqlite3_bind_blob(st, 2, model->b, (int)hl, SQLITE_STATIC);
			sqlite3_bind_blob64(st, 3, flat, n * hl, SQLITE_STATIC);
			sqlite3_bind_blob(st, 4, root->b, (int)hl, SQLITE_STATIC);
			sqlite3_bind_int64(st, 5, (int64_t)n);
			sqlite3_bind_blob64(st, 6, claim, claim_len, SQLITE_STATIC);
			sqlite3_bind_int(st, 7, JOB_CLAIM_PENDING);
			sqlite3_bind_int64(st, 8, (int64_t)node_wall_ms());
			err = sqlite3_step(st) == SQLITE_DONE ? RF_OK : RF_ERR_STORE;
			sqlite3_finalize(st);
		}
		if (err != RF_OK) {
			store_rollback(x->node.db);
		} else {
			err = store_commit(x->node.db, NULL);
		}
	}
	free(flat);
	return err;
}

/* ------------------------------------------------------------------ */
/* Claims                                                               */
/* ------------------------------------------------------------------ */

/*
 * Sends a stored claim. The stored bytes carry an old sequence number, so
 * the claim is decoded and signed afresh; its content (and so the
 * referee's answer) is the same.
 */
static int
send_claim(struct executor *x, const struct proto_digest *job,
    const uint8_t *claim, size_t len)
{
	struct proto_env env;
	struct proto_claim m;
	struct node_reply reply;
	struct rf_errinfo ei = { "" };
	char jh[13];
	node_short_hex(job->b, jh);
	int err = proto_msg_open(claim, len, &env, &ei);
	if (err == RF_OK) {
		err = proto_claim_decode(&env, &m, &ei);
	}
	if (err != RF_OK) {
		log_error("job %s: stored claim unreadable: %s", jh, ei.msg);
		return set_state(x, job, JOB_FAILED, "stored claim unreadable");
	}
	err = node_rpc_call(&x->node.rpc, PROTO_MSG_CLAIM, &m, &reply, &ei);
	proto_claim_free(&m);
	if (err != RF_OK) {
		log_warn("job %s: claim not delivered yet: %s", jh, ei.msg);
		return err;
	}
	/* Too little free stake: the collateral of our open claims comes
	 * back at their finality, so the claim stays pending and the main
	 * loop sends it again (chain_claim). */
	struct proto_error refusal;
	bool wait = reply.env.type == PROTO_MSG_ERROR &&
	    proto_error_decode(&reply.env, &refusal, NULL) == RF_OK &&
	    refusal.code == PROTO_ERR_STAKE;
	err = node_reply_ok(&reply, PROTO_MSG_ACK, &ei);
	node_reply_free(&reply);
	if (err != RF_OK && wait) {
		log_info("job %s: claim waits for free stake: %s", jh, ei.msg);
		return RF_OK;
	}
	if (err != RF_OK) {
		log_warn("job %s: claim refused: %s", jh, ei.msg);
		return set_state(x, job, JOB_FAILED, ei.msg);
	}
	net_counter_inc(x->m_claims);
	log_info("job %s: claim accepted", jh);
	return set_state(x, job, JOB_CLAIMED, NULL);
}

static int
resend_pending(struct executor *x)
{
	size_t hl = proto_hash_len(x->cfg->node.suite);
	struct proto_digest jobs[64];
	size_t n = 0;
	sqlite3_stmt *st;
	store_lock(x->node.db);
	int err = store_prepare(x->node.db, "SELECT job_id FROM jobs WHERE state = "
	    "?1 LIMIT 64", &st, NULL);
	if (err == RF_OK) {
		sqlite3_bind_int(st, 1, JOB_CLAIM_PENDING);
		while (sqlite3_step(st) == SQLITE_ROW && n < 64) {
			memset(&jobs[n], 0, sizeof(jobs[n]));
			if ((size_t)sqlite3_column_bytes(st, 0) == hl) {
				memcpy(jobs[n].b, sqlite3_column_blob(st, 0), hl);
				n++;
			}
		}
		sqlite3_finalize(st);
	}
	store_unlock(x->node.db);
	for (size_t i = 0; i < n && err == RF_OK; i++) {
		uint8_t *claim = NULL;
		size_t len = 0;
		err = executor_load_claim(x, &jobs[i], &claim, &len);
		if (err == RF_OK && claim != NULL) {
			err = send_claim(x, &jobs[i], claim, len);
		}
		free(claim);
	}
	return err;
}

int
executor_load_claim(struct executor *x, const struct proto_digest *job,
    uint8_t **claim, size_t *len)
{
	size_t hl = proto_hash_len(x->cfg->node.suite);
	sqlite3_stmt *st;
	*claim = NULL;
	store_lock(x->node.db);
	int err = store_prepare(x->node.db, "SELECT claim FROM jobs WHERE job_id = "
	    "?1", &st, NULL);
	if (err == RF_OK) {
		sqlite3_bind_blob(st, 1, job->b, (int)hl, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW &&
		    sqlite3_column_bytes(st, 0) > 0) {
			*len = (size_t)sqlite3_column_bytes(st, 0);
			*claim = malloc(*len);
			if (*claim != NULL) {
				memcpy(*claim, sqlite3_column_blob(st, 0), *len);
			} else {
				err = RF_ERR_NOMEM;
			}
		}
		sqlite3_finalize(st);
	}
	store_unlock(x->node.db);
	return err;
}

/* ------------------------------------------------------------------ */
/* Running a job                                                        */
/* ------------------------------------------------------------------ */

/* Fetches, runs, commits and claims one job assigned to us. */
static int
handle_job(struct executor *x, const struct proto_digest *job)
{
	char jh[13];
	node_short_hex(job->b, jh);
	int state = 0;
	int err = executor_job_state(x, job, &state);
	if (err != RF_OK || state == JOB_CLAIMED || state >= JOB_FINAL) {
		return err;
	}
	if (state == JOB_CLAIM_PENDING) {
		uint8_t *claim = NULL;
		size_t len = 0;
		err = executor_load_claim(x, job, &claim, &len);
		if (err == RF_OK && claim != NULL) {
			err = send_claim(x, job, claim, len);
		}
		free(claim);
		return err;
	}
	struct proto_job_fetch req = { .job_id = *job };
	struct rf_errinfo ei = { "" };
	/* A job's inputs are up to 64 tensors: on the heap. */
	struct proto_job_info *ji = malloc(sizeof(*ji));
	err = ji == NULL ? rf_errf(&ei, RF_ERR_NOMEM, "no memory") :
	    node_rpc_expect(&x->node.rpc, PROTO_MSG_JOB_FETCH, &req,
	    PROTO_MSG_JOB_INFO, ji, sizeof(*ji), &ei);
	if (err != RF_OK) {
		free(ji);
		log_warn("job %s: cannot fetch: %s", jh, ei.msg);
		return err;
	}
	if (memcmp(ji->executor.b, x->cfg->node.identity.pk.b, PROTO_KEY_LEN) != 0 ||
	    ji->state != PROTO_JOB_OPEN) {
		proto_job_info_free(ji);
		free(ji);
		return RF_OK; /* not ours, or no longer open */
	}
	const struct node_model *nm = node_models_find(&x->node.models,
	    &ji->model_id);
	if (nm == NULL) {
		log_error("job %s: model not served here", jh);
		proto_job_info_free(ji);
		free(ji);
		return RF_OK;
	}
	struct executor_run run;
	uint64_t t0 = node_mono_us();
	err = executor_compute(x, nm, ji, &run, &ei);
	proto_job_info_free(ji);
	free(ji);
	if (err != RF_OK) {
		log_error("job %s: run failed: %s", jh, ei.msg);
		return RF_OK;
	}
	net_histogram_observe(x->m_run_seconds, node_seconds_since(t0));
	net_counter_inc(x->m_jobs);

	uint8_t *claim = NULL;
	size_t claim_len = 0;
	err = node_sign(&x->node.rpc, PROTO_MSG_CLAIM, &run.claim, &claim, &claim_len);
	if (err == RF_OK) {
		err = store_job(x, job, &nm->id, run.leaves, run.n, &run.root,
		    claim, claim_len);
	}
	if (err == RF_OK) {
		char rh[13];
		node_short_hex(run.root.b, rh);
		log_info("job %s: ran %s, %zu trace entries, root %s%s", jh,
		    engine_model_name(nm->model), run.n, rh,
		    run.faulty ? " (FAULT INJECTED)" : "");
		err = send_claim(x, job, claim, claim_len);
	}
	if (err == RF_OK && run.faulty &&
	    x->cfg->fault == EXECUTOR_FAULT_EQUIVOCATE) {
		executor_equivocate(x, &run);
	}
	free(claim);
	executor_run_free(&run);
	return err;
}

/* ------------------------------------------------------------------ */
/* Direct jobs from clients                                             */
/* ------------------------------------------------------------------ */

/*
 * A client may hand its signed JOB_SUBMIT to an executor directly; the
 * executor relays the untouched envelope to the referee (which checks the
 * client's signature and sequence) and returns the referee's signed
 * reply. The job then reaches us through the event log like any other.
 */
static void
on_direct(void *ctx, const uint8_t *req, size_t len, uint8_t **reply,
    size_t *reply_len)
{
	struct executor *x = ctx;
	struct proto_env env;
	struct proto_job_submit *m = malloc(sizeof(*m));
	struct rf_errinfo ei = { "" };
	const char *why = NULL;
	/* A request that does not decode is answered with the code its
	 * decoding failure maps to (signature, too large, malformed...), as
	 * the referee would answer it. */
	uint32_t code = PROTO_ERR_INVALID;
	int err = m == NULL ? rf_errf(&ei, RF_ERR_NOMEM, "no memory") :
	    proto_msg_open(req, len, &env, &ei);
	if (err == RF_OK && env.type != PROTO_MSG_JOB_SUBMIT) {
		why = "an executor takes job_submit only";
	} else if (err == RF_OK) {
		err = proto_job_submit_decode(&env, m, &ei);
		if (err == RF_OK && memcmp(m->executor.b,
		    x->cfg->node.identity.pk.b, PROTO_KEY_LEN) != 0) {
			why = "the job does not name this executor";
		}
		if (err == RF_OK) {
			proto_job_submit_free(m);
		}
	}
	free(m);
	if (err != RF_OK) {
		why = ei.msg[0] ? ei.msg : rf_strerror(err);
		code = proto_error_code_for(err);
	}
	if (why == NULL &&
	    node_rpc_forward(&x->node.rpc, req, len, reply, reply_len, &ei) ==
	    RF_OK) {
		net_counter_inc(x->m_direct);
		return;
	}
	struct proto_error e;
	memset(&e, 0, sizeof(e));
	e.code = why ? code : PROTO_ERR_INTERNAL;
	snprintf(e.text, sizeof(e.text), "%s",
	    why ? why : "the referee is unreachable");
	if (node_sign(&x->node.rpc, PROTO_MSG_ERROR, &e, reply, reply_len) != RF_OK) {
		*reply = NULL;
	}
}

/* ------------------------------------------------------------------ */
/* Main loop                                                            */
/* ------------------------------------------------------------------ */

/* One event of the referee's log (the loop's handler). */
static int
on_event(void *ctx, const struct proto_event *e, struct rf_errinfo *ei)
{
	struct executor *x = ctx;
	bool mine = memcmp(e->subject.b, x->cfg->node.identity.pk.b,
	    PROTO_KEY_LEN) == 0;
	if (mine && e->kind == PROTO_EVENT_JOB_ASSIGNED) {
		return handle_job(x, &e->job_id);
	} else if (mine && e->kind == PROTO_EVENT_CLAIM_FINAL) {
		return set_state(x, &e->job_id, JOB_FINAL, NULL);
	} else if (mine && e->kind == PROTO_EVENT_CLAIM_INVALID) {
		return set_state(x, &e->job_id, JOB_INVALID, NULL);
	}
	return executor_dispute_event(x, e);
}

/* Between batches: disputes due a move, claims waiting for free stake
 * (or not delivered yet). */
static void
on_tick(void *ctx)
{
	struct executor *x = ctx;
	uint64_t now = node_mono_ms();
	if (now - x->last_poll >= EXECUTOR_POLL_MS) {
		executor_disputes_poll(x);
	}
	if (now - x->last_resend >= EXECUTOR_RESEND_MS) {
		x->last_resend = now;
		resend_pending(x);
	}
}

static const struct node_loop_ops loop_ops = {
	.handle = on_event,
	.tick = on_tick,
};

static void setup_metrics(struct executor *x);

static int
setup(struct executor *x, struct rf_errinfo *ei)
{
	const struct executor_config *c = x->cfg;
	int err = node_open(&x->node, &c->node, "refute_executor", schema,
	    sizeof(schema) / sizeof(schema[0]), ei);
	if (err == RF_OK) {
		x->node.rpc.stop = x->stop; /* SIGTERM cancels a call */
		setup_metrics(x);
		err = node_join(&x->node, PROTO_ROLE_EXECUTOR, c->listen_url, ei);
	}
	if (err == RF_OK) {
		err = node_stake_to(&x->node.rpc, c->stake, ei);
	}
	if (err == RF_OK && c->listen_url != NULL) {
		err = net_server_start(c->listen_url, 2, PROTO_MAX_MESSAGE,
		    on_direct, x, &x->server, ei);
	}
	if (err == RF_OK) {
		err = node_start(&x->node, &loop_ops, x, x->stop, ei);
	}
	return err;
}

static void
setup_metrics(struct executor *x)
{
	struct net_metrics *m = x->node.metrics;
	if (m == NULL) {
		return;
	}
	x->m_jobs = net_metrics_counter(m, "jobs_run_total", NULL,
	    "Jobs executed");
	x->m_claims = net_metrics_counter(m, "claims_total", NULL,
	    "Claims accepted by the referee");
	x->m_direct = net_metrics_counter(m, "direct_jobs_total", NULL,
	    "Jobs relayed from clients");
	x->m_disputes = net_metrics_counter(m, "disputes_total", NULL,
	    "Disputes played");
	x->m_run_seconds = net_metrics_histogram(m, "run_seconds", NULL,
	    "Time to run a job and commit to its trace", NULL, 0);
	node_gauge_add(&x->node, "runs_failed", "Jobs that could not be run, "
	    "or whose claim was refused", "SELECT count(*) FROM jobs WHERE "
	    "state = 9");
	node_gauge_add(&x->node, "claims_at_risk", "Our claims not yet final "
	    "(in their window or in dispute): their collateral is at stake",
	    "SELECT count(*) FROM jobs WHERE state IN (1, 2)");
	node_gauge_add(&x->node, "disputes_open", "Disputes on our claims not "
	    "yet decided", "SELECT count(*) FROM disputes WHERE state = 1");
}

int
executor_run(const struct executor_config *cfg, volatile sig_atomic_t *stop,
    struct rf_errinfo *ei)
{
	struct executor *x = calloc(1, sizeof(*x));
	if (x == NULL) {
		return RF_ERR_NOMEM;
	}
	x->cfg = cfg;
	x->stop = stop;
	engine_rng_seed(&x->fault_rng, (uint64_t)time(NULL));
	int err = setup(x, ei);
	if (err == RF_OK) {
		char k[13];
		node_short_hex(cfg->node.identity.pk.b, k);
		log_info("executor %s (%s) serving %zu models, stake %llu%s%s", k,
		    cfg->node.name, x->node.models.n, (unsigned long long)cfg->stake,
		    cfg->fault ? ", TESTING FAULT: " : "",
		    cfg->fault ? executor_fault_name(cfg->fault) : "");
		resend_pending(x);
		executor_disputes_poll(x); /* resume what a previous run left */
	}
	if (err == RF_OK) {
		x->last_resend = node_mono_ms();
		err = node_loop_run(&x->node.loop);
	}
	log_info("executor stopping");
	net_server_free(x->server);
	node_close(&x->node);
	free(x);
	return err;
}
