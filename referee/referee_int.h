/*
 * referee/referee_int.h - shared inside referee/ only.
 */
#ifndef RF_REFEREE_INT_H
#define RF_REFEREE_INT_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

#include "chain/chain.h"
#include "net/net.h"
#include "node/node.h"
#include "store/store.h"
#include "referee/referee.h"

/* Prepared statements kept for reuse, one per SQL text (referee/db.c). */
#define DB_CACHE_SLOTS 128

struct db_cached {
	const char *sql; /* the caller's text, by address */
	sqlite3_stmt *st;
	bool busy;       /* handed out and not yet given back */
};

struct request;

/* The queue of state-changing requests and the thread that applies them
 * (referee/writer.c). */
struct referee_writer {
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct request *head, *tail;
	bool stop, started;
	pthread_t thread;
};

struct referee {
	const struct referee_config *cfg;
	struct referee_params params;
	struct store *db;
	struct net_server *server;
	struct net_pub *pub;
	struct net_metrics *metrics;
	struct net_http *http;
	_Atomic uint64_t out_seq; /* sequence of our own envelopes */
	volatile sig_atomic_t *stop;
	pthread_t timer;
	bool timer_started;
	/* The ledger failed its check: state-changing requests and timers
	 * stop, reads go on (serve.c). Never cleared while running. */
	atomic_bool halted;
	/* metrics */
	struct net_counter *m_requests, *m_rejected, *m_claims, *m_final;
	struct net_counter *m_jobs, *m_disputes, *m_verdicts;
	struct net_gauge *m_ledger, *m_halted;
	/* referee/gauges.c: what is open and at stake now */
	struct net_gauge *m_jobs_open, *m_disputes_open, *m_claims_at_risk;
	struct net_histogram *m_latency;
	/* Used under the store lock only, like the connection itself. */
	struct db_cached stmt_cache[DB_CACHE_SLOTS];
	struct referee_writer writer;
};

/* Signed events waiting for their transaction to commit. OUTBOX_MAX is
 * the batch size of work that emits one event per item (finalising
 * claims); OUTBOX_LIMIT bounds what one transaction may publish. */
#define OUTBOX_MAX 64
#define OUTBOX_LIMIT 4096

struct outbox {
	uint8_t **msg;
	size_t *len;
	size_t n, cap;
};

/* Takes ownership of msg on success; RF_ERR_RANGE past OUTBOX_LIMIT. */
int referee_outbox_push(struct outbox *o, uint8_t *msg, size_t len);

/* One request being handled. */
struct request {
	struct referee *r;
	const struct proto_env *env; /* NULL when the request did not decode */
	const void *body;            /* its body: the struct of env->type */
	const uint8_t *raw;
	size_t raw_len;
	uint64_t now_ms;
	/* The reply, signed (referee_reply): its bytes or the error encoding
	 * it met, its type, and an ERROR's code and text for the log. */
	uint8_t *out;
	size_t out_len;
	int out_err;
	uint8_t out_type;
	struct proto_error error;
	struct outbox events;
	struct rf_errinfo ei;
	/* In the writer's queue (referee/writer.c). */
	struct request *next;
	sem_t done;  /* posted once its batch committed or failed */
	int status;  /* RF_OK: out holds the reply; else nothing applied */
};

/* Group commit (referee/writer.c): start before serving, stop after the
 * server's workers are gone. referee_writer_apply queues a decoded,
 * verified state-changing request and returns once the transaction that
 * holds it committed (RF_OK: q->out is the reply, q->events its events,
 * to publish now) or failed (an RF_ERR_* code: nothing of it applied). */
int referee_writer_start(struct referee *r);
/* Requests per transaction: bounds how long the store lock is held (and
 * so a query's wait) to a few milliseconds. */
#define REFEREE_WRITER_BATCH 64
/* Applies n (<= REFEREE_WRITER_BATCH) decoded requests in one
 * transaction, each in its own savepoint, and sets each one's status,
 * reply and events as referee_writer_apply returns them; the writer's
 * body, callable alone (tests). */
void referee_writer_batch(struct referee *r, struct request **b, size_t n);
void referee_writer_stop(struct referee *r);
int referee_writer_apply(struct request *q);

/* Encodes and signs type's body as the reply to q, replacing any earlier
 * one; the encoder's error, also kept for the caller of the handler. */
int referee_reply(struct request *q, enum proto_msg_type type,
    const void *body);

/* A handler's business refusal is RF_ERR_REFUSED: the reply is an ERROR,
 * the handler's changes are rolled back, the request's sequence number is
 * consumed. */

int referee_req_refuse(struct request *q, uint32_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Replies ACK with an id (may be NULL). */
void referee_req_ack(struct request *q, const struct proto_digest *id);

/* Enters the halted state (once; later calls do nothing): one ERROR line
 * saying why, the halted gauge set to 1. Thread-safe. */
void referee_halt(struct referee *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
bool referee_halted(struct referee *r);
/* Checks balances + stakes + escrow + bonds + burned against what genesis
 * minted, updates the ledger gauge and halts when they differ. Takes the
 * store lock. */
void referee_ledger_check(struct referee *r);

/* Next sequence number for an envelope we sign. */
uint64_t referee_next_seq(struct referee *r);
/* Signs and encodes type's body as the referee, with its next seq. */
int referee_encode(struct referee *r, enum proto_msg_type type,
    const void *body, uint8_t **buf, size_t *len);

/* Statement helpers: arguments are bound by a format string, one letter
 * per ?N: 'k' public key (const struct proto_pubkey *), 'd' digest
 * (const struct proto_digest *, suite length), 'b' blob (const void *,
 * size_t), 'i' int64, 't' text (const char *). */
int referee_db_stmt(struct referee *r, sqlite3_stmt **st, const char *sql,
    const char *fmt, ...);
/* Runs a statement that returns no rows; RF_OK or RF_ERR_STORE. Its
 * prepared form is cached. */
int referee_db_run(struct referee *r, const char *sql, const char *fmt, ...);
/*
 * referee_db_stmt for the hot paths: the statement comes from the cache
 * (prepared on first use; parsing SQL costs more than running these
 * one-row lookups) and must be given back with referee_db_done, never finalised.
 * Call with the store lock held. A statement still handed out is never
 * handed out twice: a nested use of the same SQL gets a fresh one.
 */
int referee_db_query(struct referee *r, sqlite3_stmt **st, const char *sql,
    const char *fmt, ...);
/* Resets a statement from referee_db_query (or finalises one the cache had no
 * room for). NULL is ignored. */
void referee_db_done(struct referee *r, sqlite3_stmt *st);
/* Finalises every cached statement: before the store is closed. */
void referee_db_cache_free(struct referee *r);
/* Copies a digest column. */
void referee_db_col_digest(struct referee *r, sqlite3_stmt *st, int col,
    struct proto_digest *d);
void referee_db_col_key(sqlite3_stmt *st, int col, struct proto_pubkey *k);

/* Schema (referee/db.c). */
extern const char *const referee_schema[];
extern const size_t referee_schema_len;
int referee_db_load_params(struct referee *r, struct rf_errinfo *ei);
int referee_db_genesis(struct referee *r, const struct referee_genesis *g,
    struct rf_errinfo *ei);
int referee_db_meta_get(struct referee *r, const char *key, int64_t *v);
/* The parameters chain/ rules read. */
void referee_chain_params(const struct referee *r, struct chain_params *c);
int referee_db_meta_add(struct referee *r, const char *key, int64_t delta);

/* Ledger (referee/ledger.c), inside a transaction. */
struct account {
	bool exists;
	bool registered;
	uint8_t roles;
	uint64_t balance, stake, locked; /* stake: free; locked: by claims */
	uint64_t last_seq;
};
int referee_ledger_account(struct referee *r, const struct proto_pubkey *k,
    struct account *a);
int referee_ledger_move(struct referee *r, const struct proto_pubkey *k,
    const char *from, const char *to, uint64_t amount);
int referee_ledger_credit(struct referee *r, const struct proto_pubkey *k,
    const char *column, uint64_t amount);
int referee_ledger_debit(struct referee *r, const struct proto_pubkey *k,
    const char *column, uint64_t amount);
int referee_ledger_total(struct referee *r, uint64_t *total, uint64_t *burned);

/* An account as chain/ rules read it (zero when absent). */
int referee_ledger_chain_account(struct referee *r, const struct proto_pubkey *k,
    struct chain_account *a);

/* A job and its claim as chain/ rules read them; *found false when there
 * is no such job. client and executor may be NULL. */
int referee_ledger_job(struct referee *r, const struct proto_digest *id,
    struct chain_job *j, struct proto_pubkey *client,
    struct proto_pubkey *executor, bool *found);

/* Who plays each role of a chain/ rule (NULL: nobody), and the records
 * its state changes and events name. */
struct ledger_roles {
	const struct proto_pubkey *key[CHAIN_PARTY_MAX + 1];
	const struct proto_digest *job;     /* may be NULL */
	const struct proto_digest *dispute; /* may be NULL */
};

/*
 * Applies a chain/ rule's effects in the caller's transaction: checks
 * them against the records they came from (chain_effects_check: a broken
 * invariant is RF_ERR_INVAL and nothing is applied), moves the tokens
 * (escrow and bonds are held by the job's and the dispute's state, burned
 * in meta), writes the job's state, times and new executor, and emits the
 * events. The dispute's state, verdicts and the per-record work the
 * effects ask for (settle_others, reassign_jobs, claims_uncovered) are
 * the caller's.
 */
int referee_ledger_apply(struct request *q, const struct chain_before *b,
    const struct chain_effects *e, const struct ledger_roles *roles);

/* Events (referee/events.c): appends to the log and the outbox. */
int referee_event_emit(struct request *q, enum proto_event_kind kind,
    const struct proto_digest *job, const struct proto_digest *dispute,
    const struct proto_pubkey *subject, uint64_t value);
/* Publishes and frees the outbox (after commit). */
void referee_outbox_flush(struct referee *r, struct outbox *o);
void referee_outbox_free(struct outbox *o);
/*
 * Ends the transaction a timer task began: rolls it back and drops the
 * outbox when err is not RF_OK, else commits and publishes the outbox
 * (dropping it when the commit fails). Returns err or the commit's error.
 */
int referee_txn_end(struct referee *r, struct outbox *o, int err);

/* Handlers (referee/handlers.c). Each returns RF_OK with the reply set,
 * RF_ERR_REFUSED with an ERROR reply, or an internal error code. */
int referee_handle_request(struct request *q);
int referee_handle_read(struct request *q);

/* The eligible executor with the fewest unfinished jobs (ties: lowest
 * key) for a model; *found false when none (referee/handlers.c). */
int referee_pick_executor(struct referee *r, const struct proto_digest *model,
    struct proto_pubkey *out, bool *found);

/* Disputes (referee/disputes.c). */
/* What a registered graph determines (referee/validate.c). */
struct model_spec {
	uint32_t n_ops, n_inputs;
	uint32_t n_leaves; /* model_id's tree: the graph and each weight */
	uint32_t out_leaf; /* the trace entry a claim's output must be */
	struct {
		uint8_t dtype, rank;
		int64_t dims[TENSOR_MAX_RANK]; /* -1: any size */
	} in[PROTO_MAX_TENSORS];
};
/* Decodes the graph (engine_model_decode_graph checks every operator),
 * derives the spec and checks the model can be served and disputed
 * (proto_model_dispute_check); ei says why not. */
int referee_model_derive(enum proto_hash suite, const uint8_t *graph,
    size_t len, struct model_spec *s, struct rf_errinfo *ei);
/* Stored form of the input specs; buf holds at least
 * PROTO_MAX_TENSORS * (2 + 8 * TENSOR_MAX_RANK) bytes. */
#define SPEC_INPUTS_MAX (PROTO_MAX_TENSORS * (2 + 8 * TENSOR_MAX_RANK))
size_t referee_spec_inputs_encode(const struct model_spec *s, uint8_t *buf);
/* The spec of a registered model (derived from its graph when the row
 * predates derivation). */
int referee_model_spec(struct referee *r, const struct proto_digest *id,
    struct model_spec *s, bool *found);
/* A job's inputs against the model: RF_ERR_DTYPE or RF_ERR_SHAPE with a
 * sentence in why. */
int referee_job_inputs_check(const struct model_spec *s,
    const struct tensor *in, size_t n, char *why, size_t why_len);
/* For a model with a dynamic input dimension, the static check of its
 * graph on the job's concrete input shapes (engine_model_check_inputs):
 * RF_ERR_SHAPE with a sentence naming the operator in why, or another
 * code for the referee's own failure (store, memory). Call it after
 * referee_job_inputs_check passed. */
int referee_job_graph_check(struct referee *r, const struct proto_digest *id,
    const struct model_spec *s, const struct tensor *in, size_t n,
    char *why, size_t why_len);

/* Gauges of the network's open work (referee/gauges.c): registered with
 * the other metrics, refreshed by the timer. */
void referee_gauges_setup(struct referee *r);
void referee_gauges_update(struct referee *r);

/* Jobs as their clients see them (referee/jobs.c): JOB_CANCEL (a
 * write), JOBS_QUERY and DISPUTES_QUERY (reads). */
int referee_handle_cancel(struct request *q);
/* Ids starting with p[0 .. len - 1] are those in [p, hi) (hi holds
 * PROTO_DIGEST_MAX + 1 bytes). */
void referee_prefix_range(const uint8_t *p, uint8_t len, uint8_t *hi,
    size_t *hi_len);
int referee_jobs_query(struct request *q);
int referee_disputes_query(struct request *q);

int referee_handle_challenge(struct request *q);
int referee_handle_answer(struct request *q);
int referee_handle_reveal(struct request *q);
int referee_handle_equivocation(struct request *q);
int referee_dispute_fetch(struct request *q);
/* Slashes an executor shown to have signed claims a and b (envelopes)
 * for one job (chain_equivocation: whoever reports it is paid nothing). */
int referee_equivocation_apply(struct request *q, const uint8_t *a, size_t la,
    const uint8_t *b, size_t lb);
/* Applies the clocks of open disputes whose deadline has come, most
 * urgent first, each in its own transaction; decides those that ran out.
 * One that fails is logged and retried later behind the others. Returns
 * the first error. */
int referee_disputes_tick(struct referee *r);
/* Gives away up to max open jobs of the executor slashed earliest (its
 * marker in the reassign table), inside q's transaction; the marker goes
 * when none is left. *done: jobs handled (< max: nothing left for it). */
int referee_reassign_batch(struct request *q, size_t max, size_t *done);

/* Clocks across restarts (referee/restart.c). The timer records a
 * heartbeat every tick; before serving, referee_restart_resume shifts every open
 * dispute's clocks and every open challenge window by the downtime plus
 * grace_ms, in one transaction. */
int referee_restart_heartbeat(struct referee *r, uint64_t now_ms);
int referee_restart_resume(struct referee *r, struct rf_errinfo *ei);

/* The window timer (referee/timers.c). */
int referee_timers_start(struct referee *r);
void referee_timers_stop(struct referee *r);

#endif
