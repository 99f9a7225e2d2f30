/*
 * challenger/challenger.c - verifies claims by re-execution.
 *
 * The event cursor advances only after a claim's verification is recorded,
 * and a recorded claim is never verified again, so a restart neither skips
 * nor repeats work.
 *
 * A dispute is written down before the challenge is sent, in the same
 * transaction as the verification that found the lie: the referee may
 * apply a challenge whose reply never arrives (the challenger killed, the
 * reply lost), and a challenger that learnt of its dispute only from that
 * reply would never play it and would lose its bond to the liar. Open
 * disputes are then driven from this database, not from events alone: at
 * start and every second the challenger looks at each one and moves if a
 * move is due, so a restart, a missed event or a failed request costs
 * time on the clock, never the game.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "engine/engine.h"
#include "net/net.h"
#include "node/node.h"
#include "store/store.h"
#include "bisect/bisect.h"
#include "challenger/challenger.h"

static const char *const schema[] = {
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)"
	"  STRICT;"
	"INSERT INTO meta VALUES ('cursor', 0);"
	"CREATE TABLE verifications ("
	"  job_id BLOB PRIMARY KEY,"
	"  executor BLOB NOT NULL,"
	"  model_id BLOB,"
	"  claimed_root BLOB,"
	"  our_root BLOB,"
	"  n INTEGER,"
	"  outcome INTEGER NOT NULL,"   /* enum challenger_outcome */
	"  seconds REAL,"
	"  recorded_ms INTEGER NOT NULL) STRICT;",
	"CREATE TABLE disputes ("
	"  dispute_id BLOB PRIMARY KEY,"
	"  job_id BLOB NOT NULL,"
	"  leaves BLOB NOT NULL,"   /* our trace, to answer every round */
	"  state INTEGER NOT NULL," /* 1 open, 2 decided */
	"  won INTEGER,"
	"  opened_ms INTEGER NOT NULL) STRICT;",
	/* The last round we answered, so that looking again does not send
	 * the same answer twice. */
	"ALTER TABLE disputes ADD COLUMN answered INTEGER NOT NULL DEFAULT 0;",
};

/* disputes.state: stored, never renumber. */
enum dispute_state {
	DISPUTE_CHALLENGING = 0, /* written; the challenge may not have arrived */
	DISPUTE_OPEN = 1,
	DISPUTE_DECIDED = 2,
	DISPUTE_REFUSED = 3,     /* the referee refused the challenge */
};

/* How often open disputes are looked at without an event (ms). */
#define POLL_MS 1000

struct challenger {
	const struct challenger_config *cfg; /* &own_cfg */
	struct challenger_config own_cfg;    /* the caller's, seed resolved */
	volatile sig_atomic_t *stop;
	struct node node;       /* database, referee, events, models, loop */
	struct net_counter *m_seen, *m_verified, *m_mismatch, *m_skipped;
	struct net_counter *m_disputes, *m_won, *m_lost;
	struct net_histogram *m_seconds;
	/* Records in the database by enum challenger_outcome (index 0
	 * unused): what a launcher or an operator reads instead of the
	 * database (records_metrics says why). */
	struct net_counter *m_records[CHALLENGER_FAILED + 1];
	uint64_t last_poll; /* node_mono_ms() */
};

static void challenge_send(struct challenger *c,
    const struct proto_digest *id, const struct proto_digest *job);
static void dispute_act(struct challenger *c, const struct proto_digest *id);

bool
challenger_sampled(const struct challenger_config *cfg,
    const struct proto_digest *job, const struct proto_pubkey *executor,
    const struct proto_digest *model)
{
	for (size_t i = 0; i < cfg->n_always_executors; i++) {
		if (memcmp(cfg->always_executors[i].b, executor->b,
		    PROTO_KEY_LEN) == 0) {
			return true;
		}
	}
	for (size_t i = 0; model != NULL && i < cfg->n_always_models; i++) {
		if (proto_digest_equal(cfg->node.suite, &cfg->always_models[i],
		    model)) {
			return true;
		}
	}
	return proto_sampled(cfg->seed, cfg->rate, job);
}

int
challenger_records_read(const char *db_path, enum proto_hash suite,
    int (*fn)(void *ctx, const struct challenger_record *rec), void *ctx,
    struct rf_errinfo *ei)
{
	struct store *db;
	int err = store_open_readonly(db_path, &db, ei);
	if (err != RF_OK) {
		return err;
	}
	sqlite3_stmt *st = NULL;
	size_t hl = proto_hash_len(suite);
	err = store_prepare(db, "SELECT job_id, executor, outcome FROM "
	    "verifications ORDER BY rowid", &st, ei);
	int rc = SQLITE_DONE;
	while (err == RF_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct challenger_record rec;
		memset(&rec, 0, sizeof(rec));
		if ((size_t)sqlite3_column_bytes(st, 0) != hl ||
		    sqlite3_column_bytes(st, 1) != PROTO_KEY_LEN) {
			err = rf_errf(ei, RF_ERR_STORE, "'%s': a record has a "
			    "malformed key", db_path);
			break;
		}
		memcpy(rec.job_id.b, sqlite3_column_blob(st, 0), hl);
		memcpy(rec.executor.b, sqlite3_column_blob(st, 1), PROTO_KEY_LEN);
		rec.outcome = (enum challenger_outcome)sqlite3_column_int(st, 2);
		err = fn(ctx, &rec);
	}
	if (err == RF_OK && rc != SQLITE_DONE) {
		err = store_fail(db, rc, "reading verifications", ei);
	}
	if (st != NULL) {
		sqlite3_finalize(st);
	}
	store_close(db);
	return err;
}

static bool
recorded(struct challenger *c, const struct proto_digest *job)
{
	sqlite3_stmt *st;
	bool found = false;
	store_lock(c->node.db);
	if (store_prepare(c->node.db, "SELECT 1 FROM verifications WHERE job_id = ?1",
	    &st, NULL) == RF_OK) {
		sqlite3_bind_blob(st, 1, job->b,
		    (int)proto_hash_len(c->cfg->node.suite), SQLITE_STATIC);
		found = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
	}
	store_unlock(c->node.db);
	return found;
}

/* Writes a dispute about to be opened: our leaves, to answer every round
 * and to rebuild the challenge after a restart. Inside a transaction. */
static int
dispute_insert(struct challenger *c, const struct proto_digest *id,
    const struct proto_digest *job, const struct proto_digest *leaves,
    size_t n)
{
	size_t hl = proto_hash_len(c->cfg->node.suite);
	if (n == 0 || n > SIZE_MAX / hl) {
		return RF_ERR_RANGE;
	}
	uint8_t *flat = malloc(n * hl);
	if (flat == NULL) {
		return RF_ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(flat + i * hl, leaves[i].b, hl);
	}
	sqlite3_stmt *st;
	int err = store_prepare(c->node.db, "INSERT OR IGNORE INTO disputes "
	    "(dispute_id, job_id, leaves, state, opened_ms) VALUES (?1, ?2, ?3, "
	    "?4, ?5)", &st, NULL);
	if (err == RF_OK) {
		sqlite3_bind_blob(st, 1, id->b, (int)hl, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, job->b, (int)hl, SQLITE_STATIC);
		sqlite3_bind_blob64(st, 3, flat, n * hl, SQLITE_STATIC);
		sqlite3_bind_int(st, 4, DISPUTE_CHALLENGING);
		sqlite3_bind_int64(st, 5, (int64_t)node_wall_ms());
		err = sqlite3_step(st) == SQLITE_DONE ? RF_OK : RF_ERR_STORE;
		sqlite3_finalize(st);
	}
	free(flat);
	return err;
}

/* Records a verification and advances the cursor; with dispute_leaves,
 * also writes the dispute to open, in the same transaction. */
static int
record(struct challenger *c, const struct proto_digest *job,
    const struct proto_pubkey *executor, const struct proto_digest *model,
    const struct proto_digest *claimed, const struct proto_digest *ours,
    uint32_t n, enum challenger_outcome o, double seconds, uint64_t cursor,
    const struct proto_digest *dispute_leaves)
{
	size_t hl = proto_hash_len(c->cfg->node.suite);
	sqlite3_stmt *st;
	bool inserted = false;
	int err = store_begin(c->node.db, NULL);
	if (err != RF_OK) {
		return err;
	}
	err = store_prepare(c->node.db, "INSERT OR IGNORE INTO verifications (job_id, "
	    "executor, model_id, claimed_root, our_root, n, outcome, seconds, "
	    "recorded_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", &st,
	    NULL);
	if (err == RF_OK) {
		sqlite3_bind_blob(st, 1, job->b, (int)hl, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, executor->b, PROTO_KEY_LEN, SQLITE_STATIC);
		if (model != NULL) {
			sqlite3_bind_blob(st, 3, model->b, (int)hl, SQLITE_STATIC);
		}
		if (claimed != NULL) {
			sqlite3_bind_blob(st, 4, claimed->b, (int)hl, SQLITE_STATIC);
		}
		if (ours != NULL) {
			sqlite3_bind_blob(st, 5, ours->b, (int)hl, SQLITE_STATIC);
		}
		sqlite3_bind_int64(st, 6, n);
		sqlite3_bind_int(st, 7, (int)o);
		sqlite3_bind_double(st, 8, seconds);
		sqlite3_bind_int64(st, 9, (int64_t)node_wall_ms());
		err = sqlite3_step(st) == SQLITE_DONE ? RF_OK : RF_ERR_STORE;
		inserted = err == RF_OK && sqlite3_changes(sqlite3_db_handle(st)) > 0;
		sqlite3_finalize(st);
	}
	if (err == RF_OK && dispute_leaves != NULL) {
		struct proto_digest id;
		/* The referee's name for it (proto_dispute_id), known before
		 * the challenge is sent, so a challenge whose reply was lost
		 * can still be found. */
		proto_dispute_id(c->cfg->node.suite, job, &c->cfg->node.identity.pk, &id);
		err = dispute_insert(c, &id, job, dispute_leaves, n);
	}
	if (err == RF_OK) {
		/* Never past an event the loop set aside for a retry. */
		err = store_meta_set(c->node.db, "cursor",
		    (int64_t)node_loop_durable(&c->node.loop, cursor));
	}
	if (err != RF_OK) {
		store_rollback(c->node.db);
		return err;
	}
	err = store_commit(c->node.db, NULL);
	if (err == RF_OK && inserted && (int)o > 0 && o <= CHALLENGER_FAILED) {
		net_counter_inc(c->m_records[o]);
	}
	return err;
}

/* Our leaves cut or padded with zero leaves to n entries. */
static int
trace_resize(struct proto_digest **leaves, size_t have, size_t want)
{
	if (want == 0) {
		return RF_ERR_INVAL;
	}
	struct proto_digest *l = realloc(*leaves, want * sizeof(*l));
	if (l == NULL) {
		return RF_ERR_NOMEM;
	}
	for (size_t i = have; i < want; i++) {
		memset(&l[i], 0, sizeof(l[i]));
	}
	*leaves = l;
	return RF_OK;
}

/* With the roots equal, the claimed output must be our output entry:
 * the referee checks it against the model's output leaf, so a
 * difference here means a referee that does not. */
static void
output_check(struct challenger *c, const struct node_model *nm,
    const struct proto_claim_info *ci, const struct proto_digest *leaves,
    const char *jh)
{
	enum proto_hash suite = c->cfg->node.suite;
	size_t op;
	if (proto_model_output_op(nm->model, &op, NULL) != RF_OK) {
		return;
	}
	size_t at = engine_model_input_count(nm->model) + op;
	const struct tensor *outs[PROTO_MAX_ENTRY_TENSORS];
	for (unsigned i = 0; i < ci->n_outputs; i++) {
		outs[i] = &ci->outputs[i];
	}
	struct proto_digest leaf;
	proto_tensor_leaf(suite, outs, ci->n_outputs, &leaf);
	if (at >= ci->n || !proto_digest_equal(suite, &leaf, &leaves[at])) {
		log_error("job %s: the root matches but the output delivered is "
		    "not the model's output entry %zu: the referee did not bind "
		    "the claim's output", jh, at);
	}
}

/* Decides about, and maybe verifies, one posted claim. */
static int
verify(struct challenger *c, const struct proto_event *e)
{
	const struct challenger_config *cfg = c->cfg;
	enum proto_hash suite = cfg->node.suite;
	char jh[13], xh[13];
	node_short_hex(e->job_id.b, jh);
	node_short_hex(e->subject.b, xh);
	net_counter_inc(c->m_seen);
	if (recorded(c, &e->job_id)) {
		return RF_OK; /* never twice */
	}
	struct proto_job_fetch fetch = { .job_id = e->job_id };
	struct proto_claim_status status = { .job_id = e->job_id };
	struct proto_claim_info claim;
	struct rf_errinfo ei = { "" };
	/* A job's inputs are up to 64 tensors: on the heap. */
	struct proto_job_info *ji = malloc(sizeof(*ji));
	int err = ji == NULL ? rf_errf(&ei, RF_ERR_NOMEM, "no memory") :
	    node_rpc_expect(&c->node.rpc, PROTO_MSG_JOB_FETCH, &fetch,
	    PROTO_MSG_JOB_INFO, ji, sizeof(*ji), &ei);
	if (err != RF_OK) {
		free(ji);
		log_warn("job %s: cannot fetch: %s", jh, ei.msg);
		return err;
	}
	if (!challenger_sampled(cfg, &e->job_id, &e->subject, &ji->model_id)) {
		net_counter_inc(c->m_skipped);
		err = record(c, &e->job_id, &e->subject, &ji->model_id, NULL, NULL,
		    0, CHALLENGER_SKIPPED, 0.0, e->seq, NULL);
		proto_job_info_free(ji);
		free(ji);
		return err;
	}
	const struct node_model *nm = node_models_find(&c->node.models,
	    &ji->model_id);
	if (nm == NULL) {
		log_warn("job %s: model not held here, cannot verify", jh);
		err = record(c, &e->job_id, &e->subject, &ji->model_id, NULL, NULL,
		    0, CHALLENGER_NO_MODEL, 0.0, e->seq, NULL);
		proto_job_info_free(ji);
		free(ji);
		return err;
	}
	err = node_rpc_expect(&c->node.rpc, PROTO_MSG_CLAIM_STATUS, &status,
	    PROTO_MSG_CLAIM_INFO, &claim, sizeof(claim), &ei);
	if (err != RF_OK) {
		proto_job_info_free(ji);
		free(ji);
		log_warn("job %s: cannot read the claim: %s", jh, ei.msg);
		return err;
	}
	uint64_t t0 = node_mono_us();
	struct proto_digest *leaves = NULL, root;
	size_t n = 0;
	struct tensor outs[ENGINE_MAX_GRAPH_IO];
	err = proto_trace_run(suite, nm->model, ji->inputs, ji->n_inputs, outs,
	    ENGINE_KERNELS_FAST, &leaves, &n, &root, &ei);
	double secs = node_seconds_since(t0);
	if (err == RF_OK) {
		for (size_t i = 0; i < engine_model_output_count(nm->model); i++) {
			engine_tensor_fini(&outs[i]);
		}
	}
	const struct proto_claim_info *ci = &claim;
	if (err != RF_OK) {
		/* The referee checks a job's inputs against the model, so
		 * this is our fault (memory, a model that differs): say so,
		 * and never count the claim as verified. */
		log_error("job %s by %s: cannot re-run the claim, it is NOT "
		    "verified: %s", jh, xh, ei.msg);
		err = record(c, &e->job_id, &e->subject, &ji->model_id,
		    &ci->trace_root, NULL, ci->n, CHALLENGER_FAILED, secs, e->seq,
		    NULL);
		proto_claim_info_free(&claim);
		proto_job_info_free(ji);
		free(ji);
		return err;
	}
	if (n != ci->n) {
		/* The referee refuses a claim whose length is not the
		 * graph's; if one got through anyway it is still a trace
		 * that differs from ours: dispute it with our trace cut or
		 * padded (zero leaves: nothing there) to the claimed length,
		 * so the game can find where the claim goes wrong. */
		log_error("job %s by %s: the claim's trace has %u entries, the "
		    "model's has %zu: disputing it at the claimed length", jh,
		    xh, ci->n, n);
		err = trace_resize(&leaves, n, ci->n);
		if (err != RF_OK) {
			free(leaves);
			proto_claim_info_free(&claim);
			proto_job_info_free(ji);
			free(ji);
			return err;
		}
		n = ci->n;
		proto_merkle_root(suite, leaves, n, &root);
	}
	bool match = proto_digest_equal(suite, &root, &ci->trace_root);
	net_counter_inc(c->m_verified);
	net_histogram_observe(c->m_seconds, secs);
	if (match) {
		log_info("job %s by %s: verified, trace root matches", jh, xh);
		output_check(c, nm, ci, leaves, jh);
	} else {
		char ours[13], theirs[13];
		node_short_hex(root.b, ours);
		node_short_hex(ci->trace_root.b, theirs);
		net_counter_inc(c->m_mismatch);
		log_warn("job %s by %s: MISMATCH, claimed root %s, ours %s", jh,
		    xh, theirs, ours);
	}
	/* A testing fault disputes correct claims with a made-up trace. */
	bool fake = match && leaves != NULL && n > ji->n_inputs &&
	    cfg->fault != CHALLENGER_FAULT_NONE;
	if (fake) {
		leaves[n - 1].b[0] ^= 0x01;
		log_warn("job %s: TESTING FAULT %s: disputing a correct claim", jh,
		    challenger_fault_name(cfg->fault));
	}
	/* A claim already in dispute is disputed again: each challenger
	 * plays its own game, so one that opens a dispute and then goes
	 * silent cannot shield a false claim from the rest. */
	bool dispute = err == RF_OK && cfg->dispute && leaves != NULL &&
	    n > 0 && (!match || fake) && (ci->state == PROTO_JOB_CLAIMED ||
	    ci->state == PROTO_JOB_DISPUTED);
	/* The dispute is written with the verification, before the
	 * challenge goes out (see the top of this file). */
	err = record(c, &e->job_id, &e->subject, &ji->model_id,
	    &ci->trace_root, &root, ci->n,
	    match ? CHALLENGER_MATCH : CHALLENGER_MISMATCH, secs, e->seq,
	    dispute ? leaves : NULL);
	if (err == RF_OK && dispute) {
		struct proto_digest id;
		proto_dispute_id(suite, &e->job_id, &cfg->node.identity.pk, &id);
		challenge_send(c, &id, &e->job_id);
	}
	free(leaves);
	proto_claim_info_free(&claim);
	proto_job_info_free(ji);
	free(ji);
	return err;
}

/* ------------------------------------------------------------------ */
/* Disputes                                                             */
/* ------------------------------------------------------------------ */

int
challenger_fault_parse(const char *name, enum challenger_fault *out)
{
	if (strcmp(name, "none") == 0) {
		*out = CHALLENGER_FAULT_NONE;
	} else if (strcmp(name, "false-challenge") == 0) {
		*out = CHALLENGER_FAULT_FALSE_CHALLENGE;
	} else if (strcmp(name, "silent") == 0) {
		*out = CHALLENGER_FAULT_SILENT;
	} else {
		return RF_ERR_INVAL;
	}
	return RF_OK;
}

const char *
challenger_fault_name(enum challenger_fault f)
{
	switch (f) {
	case CHALLENGER_FAULT_NONE:
		return "none";
	case CHALLENGER_FAULT_FALSE_CHALLENGE:
		return "false-challenge";
	case CHALLENGER_FAULT_SILENT:
		return "silent";
	}
	return "?";
}

/* Our stored leaves and state for a dispute; RF_ERR_NOTFOUND if none. */
static int
dispute_row(struct challenger *c, const struct proto_digest *id,
    struct proto_digest **leaves, size_t *n, int *state, uint32_t *answered)
{
	size_t hl = proto_hash_len(c->cfg->node.suite);
	sqlite3_stmt *st;
	*leaves = NULL;
	store_lock(c->node.db);
	int err = store_prepare(c->node.db, "SELECT leaves, state, answered FROM "
	    "disputes WHERE dispute_id = ?1", &st, NULL);
	if (err == RF_OK) {
		sqlite3_bind_blob(st, 1, id->b, (int)hl, SQLITE_STATIC);
		err = RF_ERR_NOTFOUND;
		if (sqlite3_step(st) == SQLITE_ROW) {
			size_t bytes = (size_t)sqlite3_column_bytes(st, 0);
			size_t count = bytes / hl;
			err = count > 0 && bytes % hl == 0 ? RF_OK : RF_ERR_STORE;
			if (err == RF_OK) {
				*leaves = calloc(count, sizeof(**leaves));
				err = *leaves ? RF_OK : RF_ERR_NOMEM;
			}
			const uint8_t *p = sqlite3_column_blob(st, 0);
			for (size_t i = 0; err == RF_OK && i < count; i++) {
				memcpy((*leaves)[i].b, p + i * hl, hl);
			}
			*n = count;
			*state = sqlite3_column_int(st, 1);
			*answered = (uint32_t)sqlite3_column_int64(st, 2);
		}
		sqlite3_finalize(st);
	}
	store_unlock(c->node.db);
	return err;
}

/* Sets a dispute's state (and won, for a decided one) or the round it
 * answered last, in one transaction. */
static void
dispute_update(struct challenger *c, const struct proto_digest *id,
    const char *sql, int64_t value)
{
	size_t hl = proto_hash_len(c->cfg->node.suite);
	sqlite3_stmt *st;
	if (store_begin(c->node.db, NULL) != RF_OK) {
		return;
	}
	int err = store_prepare(c->node.db, sql, &st, NULL);
	if (err == RF_OK) {
		sqlite3_bind_blob(st, 1, id->b, (int)hl, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, value);
		err = sqlite3_step(st) == SQLITE_DONE ? RF_OK : RF_ERR_STORE;
		sqlite3_finalize(st);
	}
	if (err == RF_OK) {
		err = store_commit(c->node.db, NULL);
	} else {
		store_rollback(c->node.db);
	}
	if (err != RF_OK) {
		log_warn("cannot update a dispute in the database");
	}
}

static void
dispute_set_state(struct challenger *c, const struct proto_digest *id,
    enum dispute_state state)
{
	dispute_update(c, id, "UPDATE disputes SET state = ?2 WHERE "
	    "dispute_id = ?1", state);
}

/* Whether the referee knows dispute id: 1 yes, 0 no, -1 cannot tell. */
static int
dispute_known(struct challenger *c, const struct proto_digest *id)
{
	struct proto_dispute_fetch req = { .dispute_id = *id };
	struct node_reply view;
	struct proto_error refusal;
	struct rf_errinfo ei = { "" };
	if (node_rpc_call(&c->node.rpc, PROTO_MSG_DISPUTE_FETCH, &req, &view, &ei) !=
	    RF_OK) {
		return -1;
	}
	int known = -1;
	node_reply_error(&view, &refusal);
	if (view.env.type == PROTO_MSG_VERDICT ||
	    view.env.type == PROTO_MSG_BISECT_QUERY) {
		known = 1;
	} else if (refusal.code == PROTO_ERR_UNKNOWN) {
		known = 0;
	}
	node_reply_free(&view);
	return known;
}

/*
 * Posts the challenge for a dispute written down in DISPUTE_CHALLENGING
 * (again, after a restart or a failed request: the dispute id is ours and
 * the job's, so a challenge that did arrive is found, not doubled). The
 * claim is read again for what the challenge must name.
 */
static void
challenge_send(struct challenger *c, const struct proto_digest *id,
    const struct proto_digest *job)
{
	enum proto_hash suite = c->cfg->node.suite;
	char jh[13], dh[13];
	node_short_hex(job->b, jh);
	node_short_hex(id->b, dh);
	struct proto_digest *leaves;
	size_t n;
	int state;
	uint32_t answered;
	if (dispute_row(c, id, &leaves, &n, &state, &answered) != RF_OK) {
		return;
	}
	struct proto_digest root;
	proto_merkle_root(suite, leaves, n, &root);
	free(leaves);
	if (state != DISPUTE_CHALLENGING) {
		return;
	}
	int known = dispute_known(c, id);
	if (known < 0) {
		return; /* the referee is unreachable: try again later */
	}
	if (known == 0) {
		struct proto_claim_status status = { .job_id = *job };
		struct proto_claim_info claim;
		struct proto_challenge req;
		struct node_reply reply;
		struct proto_error refusal;
		struct rf_errinfo ei = { "" };
		if (node_rpc_expect(&c->node.rpc, PROTO_MSG_CLAIM_STATUS, &status,
		    PROTO_MSG_CLAIM_INFO, &claim, sizeof(claim), &ei) != RF_OK) {
			log_warn("job %s: cannot read the claim: %s", jh, ei.msg);
			return;
		}
		const struct proto_claim_info *ci = &claim;
		memset(&req, 0, sizeof(req));
		struct proto_challenge *ch = &req;
		ch->job_id = *job;
		ch->executor = ci->executor;
		ch->executor_root = ci->trace_root;
		ch->challenger_root = root;
		ch->n = ci->n;
		ch->bond = c->cfg->bond;
		proto_claim_info_free(&claim);
		int err = node_rpc_call(&c->node.rpc, PROTO_MSG_CHALLENGE, &req, &reply,
		    &ei);
		if (err != RF_OK) {
			log_warn("job %s: challenge not confirmed (%s): will look "
			    "again", jh, ei.msg);
			return;
		}
		bool refused = reply.env.type == PROTO_MSG_ERROR;
		const char *why = refusal.text;
		struct proto_ack ack;
		node_reply_error(&reply, &refusal);
		if (!refused && (reply.env.type != PROTO_MSG_ACK ||
		    proto_ack_decode(&reply.env, &ack, NULL) != RF_OK ||
		    !proto_digest_equal(suite, &ack.id, id))) {
			log_error("job %s: the referee named the dispute otherwise",
			    jh);
		}
		node_reply_free(&reply);
		/* A refusal may also mean it arrived before: look. */
		known = refused ? dispute_known(c, id) : 1;
		if (known < 0) {
			return;
		}
		if (known == 0) {
			log_warn("job %s: cannot open a dispute: %s", jh, why);
			dispute_set_state(c, id, DISPUTE_REFUSED);
			return;
		}
	}
	dispute_set_state(c, id, DISPUTE_OPEN);
	net_counter_inc(c->m_disputes);
	log_info("job %s: dispute %s opened, bond %llu", jh, dh,
	    (unsigned long long)c->cfg->bond);
	/* The first round is already asked: answer it now. */
	dispute_act(c, id);
}

/* Looks at a dispute we opened and answers the current round. */
static void
dispute_act(struct challenger *c, const struct proto_digest *id)
{
	enum proto_hash suite = c->cfg->node.suite;
	struct proto_digest *leaves;
	size_t n;
	int state;
	uint32_t answered;
	if (dispute_row(c, id, &leaves, &n, &state, &answered) != RF_OK) {
		return; /* not ours */
	}
	if (state != DISPUTE_OPEN) {
		free(leaves);
		return;
	}
	char dh[13];
	node_short_hex(id->b, dh);
	struct proto_dispute_fetch fetch = { .dispute_id = *id };
	struct node_reply view, reply;
	struct proto_verdict v;
	struct proto_bisect_query q;
	struct proto_bisect_answer req;
	struct rf_errinfo ei = { "" };
	if (node_rpc_call(&c->node.rpc, PROTO_MSG_DISPUTE_FETCH, &fetch, &view,
	    &ei) != RF_OK) {
		free(leaves);
		return;
	}
	if (view.env.type == PROTO_MSG_VERDICT &&
	    proto_verdict_decode(&view.env, &v, &ei) == RF_OK) {
		bool won = !v.executor_won;
		log_info("dispute %s: %s (operator %u, %u rounds)", dh,
		    won ? "won" : "lost", v.op, v.rounds);
		proto_verdict_free(&v);
		dispute_update(c, id, "UPDATE disputes SET state = 2, won = ?2 "
		    "WHERE dispute_id = ?1", won ? 1 : 0);
		net_counter_inc(won ? c->m_won : c->m_lost);
	} else if (view.env.type == PROTO_MSG_BISECT_QUERY &&
	    proto_bisect_query_decode(&view.env, &q, &ei) == RF_OK &&
	    q.n_sizes > 0 && q.round != answered) {
		uint32_t round = q.round;
		if (c->cfg->fault == CHALLENGER_FAULT_SILENT) {
			log_warn("dispute %s: TESTING FAULT silent: not answering",
			    dh);
		} else if (bisect_answer_build(suite, leaves, n, &q, &req) ==
		    RF_OK) {
			int err = node_rpc_call(&c->node.rpc, PROTO_MSG_BISECT_ANSWER,
			    &req, &reply, &ei);
			proto_bisect_answer_free(&req);
			if (err == RF_OK) {
				struct proto_error refusal;
				node_reply_error(&reply, &refusal);
				if (refusal.code != 0) {
					log_info("dispute %s: round %u: %s", dh, round,
					    refusal.text);
				}
				node_reply_free(&reply);
				/* Applied or refused, it was heard: do not repeat
				 * it. A failed request is repeated at the next look. */
				dispute_update(c, id, "UPDATE disputes SET answered = ?2 "
				    "WHERE dispute_id = ?1", round);
			} else {
				log_warn("dispute %s: round %u: answer not delivered "
				    "(%s): will look again", dh, round, ei.msg);
			}
		} else {
			log_warn("dispute %s: round %u: cannot build the answer",
			    dh, round);
		}
	}
	node_reply_free(&view);
	free(leaves);
}

/* Looks at every dispute not yet decided: at start (resume after a
 * restart) and then every POLL_MS, so that nothing depends on an event
 * arriving or a request succeeding the first time. */
static void
disputes_poll(struct challenger *c)
{
	enum { BATCH = 256 };
	size_t hl = proto_hash_len(c->cfg->node.suite);
	struct proto_digest *ids = calloc(BATCH, sizeof(*ids));
	struct proto_digest *jobs = calloc(BATCH, sizeof(*jobs));
	int *states = calloc(BATCH, sizeof(*states));
	size_t n = 0;
	sqlite3_stmt *st;
	store_lock(c->node.db);
	if (ids != NULL && jobs != NULL && states != NULL &&
	    store_prepare(c->node.db, "SELECT dispute_id, job_id, state FROM disputes "
	    "WHERE state IN (0, 1) ORDER BY opened_ms LIMIT 256", &st,
	    NULL) == RF_OK) {
		while (n < BATCH && sqlite3_step(st) == SQLITE_ROW) {
			if ((size_t)sqlite3_column_bytes(st, 0) != hl ||
			    (size_t)sqlite3_column_bytes(st, 1) != hl) {
				continue;
			}
			memset(&ids[n], 0, sizeof(ids[n]));
			memset(&jobs[n], 0, sizeof(jobs[n]));
			memcpy(ids[n].b, sqlite3_column_blob(st, 0), hl);
			memcpy(jobs[n].b, sqlite3_column_blob(st, 1), hl);
			states[n] = sqlite3_column_int(st, 2);
			n++;
		}
		sqlite3_finalize(st);
	}
	store_unlock(c->node.db);
	for (size_t i = 0; i < n && !*c->stop; i++) {
		if (states[i] == DISPUTE_CHALLENGING) {
			challenge_send(c, &ids[i], &jobs[i]);
		} else {
			dispute_act(c, &ids[i]);
		}
	}
	free(ids);
	free(jobs);
	free(states);
	c->last_poll = node_mono_ms();
}

/* One event of the referee's log (the loop's handler). A claim not
 * verified yet fails the event, so the loop tries it again. */
static int
on_event(void *ctx, const struct proto_event *e, struct rf_errinfo *ei)
{
	struct challenger *c = ctx;
	if (e->kind == PROTO_EVENT_CLAIM_POSTED) {
		return verify(c, e);
	}
	if (e->kind == PROTO_EVENT_DISPUTE_MOVE ||
	    e->kind == PROTO_EVENT_DISPUTE_CLOSED) {
		dispute_act(c, &e->dispute_id);
	}
	return RF_OK;
}

static void
on_tick(void *ctx)
{
	struct challenger *c = ctx;
	if (node_mono_ms() - c->last_poll >= POLL_MS) {
		disputes_poll(c);
	}
}

static const struct node_loop_ops loop_ops = {
	.handle = on_event,
	.tick = on_tick,
};

/* Key of the secret sampling seed in the meta table. */
#define SEED_KEY "sample_seed"

/*
 * The sampling seed: the operator's --seed, else the secret one stored
 * at the first start (drawn from the OS), so restarts keep the sample and
 * nobody outside this machine can compute it.
 */
static int
seed_resolve(struct challenger *c, struct rf_errinfo *ei)
{
	struct challenger_config *cfg = &c->own_cfg;
	if (cfg->seed_set) {
		log_info("sampling seed given on the command line");
		return RF_OK;
	}
	int64_t v = 0;
	bool found = false;
	int err = store_meta_find(c->node.db, SEED_KEY, &v, &found);
	if (err == RF_OK && !found) {
		proto_random(&v, sizeof(v));
		err = store_begin(c->node.db, ei);
		if (err == RF_OK) {
			err = store_meta_set(c->node.db, SEED_KEY, v);
			if (err == RF_OK) {
				err = store_commit(c->node.db, ei);
			} else {
				store_rollback(c->node.db);
			}
		}
		if (err == RF_OK) {
			log_info("new secret sampling seed stored in %s",
			    cfg->node.db_path);
		}
	}
	if (err != RF_OK) {
		return rf_errf(ei, err, "cannot keep the sampling seed in %s: %s",
		    cfg->node.db_path, rf_strerror(err));
	}
	if (found) {
		log_info("secret sampling seed loaded from %s", cfg->node.db_path);
	}
	cfg->seed = (uint64_t)v;
	return RF_OK;
}

/*
 * refute_challenger_records_total{outcome=...}: the records of the
 * database by outcome, starting from what it already holds, so the
 * numbers survive a restart and say when every claim posted has been
 * looked at. `refute devnet` reads them here, never the database.
 */
static int
records_metrics(struct challenger *c, struct rf_errinfo *ei)
{
	static const char *const names[] = { NULL, "match", "mismatch",
		"no_model", "skipped", "failed" };
	for (int o = CHALLENGER_MATCH; o <= CHALLENGER_FAILED; o++) {
		char labels[32];
		snprintf(labels, sizeof(labels), "outcome=\"%s\"", names[o]);
		c->m_records[o] = net_metrics_counter(c->node.metrics, "records_total",
		    labels, "Claims recorded in the database, by outcome");
	}
	sqlite3_stmt *st = NULL;
	store_lock(c->node.db);
	int err = store_prepare(c->node.db, "SELECT outcome, count(*) FROM "
	    "verifications GROUP BY outcome", &st, ei);
	int rc = SQLITE_DONE;
	while (err == RF_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int o = sqlite3_column_int(st, 0);
		if (o >= CHALLENGER_MATCH && o <= CHALLENGER_FAILED) {
			net_counter_add(c->m_records[o],
			    (uint64_t)sqlite3_column_int64(st, 1));
		}
	}
	if (err == RF_OK && rc != SQLITE_DONE) {
		err = store_fail(c->node.db, rc, "counting verifications", ei);
	}
	if (st != NULL) {
		sqlite3_finalize(st);
	}
	store_unlock(c->node.db);
	return err;
}

static int
setup(struct challenger *c, struct rf_errinfo *ei)
{
	const struct challenger_config *cfg = c->cfg;
	int err = node_open(&c->node, &cfg->node, "refute_challenger", schema,
	    sizeof(schema) / sizeof(schema[0]), ei);
	if (err == RF_OK) {
		c->node.rpc.stop = c->stop; /* SIGTERM cancels a call */
		err = seed_resolve(c, ei);
	}
	if (err == RF_OK) {
		err = node_join(&c->node, PROTO_ROLE_CHALLENGER, NULL, ei);
	}
	struct net_metrics *m = c->node.metrics;
	if (m != NULL) {
		c->m_seen = net_metrics_counter(m, "claims_seen_total", NULL,
		    "Claims posted on the network");
		c->m_verified = net_metrics_counter(m, "verified_total", NULL,
		    "Claims re-executed");
		c->m_mismatch = net_metrics_counter(m, "mismatches_total", NULL,
		    "Claims whose trace root differed");
		c->m_skipped = net_metrics_counter(m, "skipped_total", NULL,
		    "Claims outside the sample");
		c->m_seconds = net_metrics_histogram(m, "verify_seconds", NULL,
		    "Time to re-execute a job", NULL, 0);
		c->m_disputes = net_metrics_counter(m, "disputes_total", NULL,
		    "Disputes opened");
		c->m_won = net_metrics_counter(m, "disputes_won_total", NULL,
		    "Disputes won");
		c->m_lost = net_metrics_counter(m, "disputes_lost_total", NULL,
		    "Disputes lost");
		if (err == RF_OK) {
			err = records_metrics(c, ei);
		}
		node_gauge_add(&c->node, "runs_failed", "Claims we could not re-run "
		    "(not verified)", "SELECT count(*) FROM verifications WHERE "
		    "outcome = 5");
		node_gauge_add(&c->node, "disputes_open", "Our disputes not yet "
		    "decided", "SELECT count(*) FROM disputes WHERE state = 1");
	}
	if (err == RF_OK) {
		err = node_start(&c->node, &loop_ops, c, c->stop, ei);
	}
	return err;
}

int
challenger_run(const struct challenger_config *cfg,
    volatile sig_atomic_t *stop, struct rf_errinfo *ei)
{
	struct challenger *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return RF_ERR_NOMEM;
	}
	c->own_cfg = *cfg;
	c->cfg = &c->own_cfg;
	c->stop = stop;
	int err = setup(c, ei);
	if (err == RF_OK) {
		char k[13];
		node_short_hex(cfg->node.identity.pk.b, k);
		log_info("challenger %s (%s) watching, sample rate %.3f, %zu models",
		    k, cfg->node.name, cfg->rate, c->node.models.n);
	}
	if (err == RF_OK) {
		disputes_poll(c); /* resume what a previous run left open */
	}
	if (err == RF_OK) {
		err = node_loop_run(&c->node.loop);
	}
	log_info("challenger stopping");
	node_close(&c->node);
	free(c);
	return err;
}
