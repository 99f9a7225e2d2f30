/*
 * node/node.h - what executors, challengers and clients share: a signed
 * request channel to the referee and a catch-up reader for its events.
 *
 * Requests carry increasing sequence numbers (microseconds of wall clock,
 * never below the last one used). A request whose reply is lost is resent
 * with the very same bytes: the referee answers a repeat of the last
 * request it applied with the reply it recorded, so a retry is never
 * applied twice.
 */
#ifndef RF_NODE_H
#define RF_NODE_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "net/net.h"
#include "protocol/protocol.h"

struct node_rpc {
	struct net_client *client;
	struct proto_identity id;
	enum proto_hash suite;
	struct proto_pubkey referee; /* zero: accept any signer */
	pthread_mutex_t lock;        /* one request at a time: seq order */
	uint64_t last_seq;
	int timeout_ms;
	int retries;
};

int node_rpc_open(struct node_rpc *rpc, const char *url,
    const struct proto_identity *id, enum proto_hash suite,
    const struct proto_pubkey *referee, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
void node_rpc_close(struct node_rpc *rpc);

/*
 * Sends req (type and body set; sender, seq and suite are filled in) and
 * decodes the reply into *reply (free with proto_msg_free). Returns RF_OK
 * when a verified reply arrived (which may be an ERROR message: see
 * node_reply_ok), or RF_ERR_TIMEOUT / RF_ERR_NET after the retries, or
 * RF_ERR_CRYPTO when the reply is not signed by the referee.
 */
int node_rpc_call(struct node_rpc *rpc, struct proto_msg *req,
    struct proto_msg *reply, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

/*
 * RF_OK if reply has the wanted type; for an ERROR reply, RF_ERR_INVAL
 * with the referee's text in ei ("referee: no such job").
 */
int node_reply_ok(const struct proto_msg *reply, enum proto_msg_type want,
    struct rf_errinfo *ei);

/* Encodes and signs m as id with the next sequence number of rpc. */
int node_sign(struct node_rpc *rpc, struct proto_msg *m, uint8_t **buf,
    size_t *len) __attribute__((warn_unused_result));

/* Sends bytes someone else signed (a client's job relayed by an
 * executor) and returns the raw reply, which the caller frees. */
int node_rpc_forward(struct node_rpc *rpc, const uint8_t *req, size_t len,
    uint8_t **reply, size_t *reply_len, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------------ */
/* Events                                                               */
/* ------------------------------------------------------------------ */

/*
 * Follows the referee's event log: published events wake the reader, and
 * every wake-up (or a timeout) fetches the log from the cursor, so nothing
 * is missed even when PUB/SUB drops messages. The caller persists the
 * cursor (the last seq it handled) and passes it back after a restart.
 */
struct node_events {
	struct net_sub *sub;
	struct node_rpc *rpc;
	uint64_t cursor;
};

int node_events_open(struct node_events *ev, const char *url,
    struct node_rpc *rpc, uint64_t cursor, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
void node_events_close(struct node_events *ev);
/*
 * Waits up to wait_ms for a published event, then fetches up to
 * PROTO_MAX_EVENTS events after the cursor into *out (caller frees with
 * proto_msg_free; out->u.events). Does not advance the cursor: call
 * node_events_done(seq) after handling each one.
 */
int node_events_next(struct node_events *ev, int wait_ms,
    struct proto_msg *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
void node_events_done(struct node_events *ev, uint64_t seq);

/* ------------------------------------------------------------------ */
/* Models                                                               */
/* ------------------------------------------------------------------ */

#define NODE_MAX_MODELS PROTO_MAX_MODELS

struct node_model {
	char path[256];
	struct engine_model *model;
	struct proto_digest id;
	/* For MODEL_REGISTER: the graph and its proof against id. */
	uint8_t *graph;
	size_t graph_len;
	uint32_t n_leaves;
	uint8_t proof_len;
	struct proto_digest proof[MERKLE_MAX_PROOF];
};

struct node_models {
	size_t n;
	struct node_model m[NODE_MAX_MODELS];
	enum proto_hash suite;
};

/* Loads a model file, computing its model_id in the suite. */
int node_models_load(struct node_models *ms, enum proto_hash suite,
    const char *path, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
const struct node_model *node_models_find(const struct node_models *ms,
    const struct proto_digest *id);
void node_models_free(struct node_models *ms);
/* Registers every model with the referee (idempotent there). */
int node_models_register(struct node_models *ms, struct node_rpc *rpc,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));

/* Registers the node with roles, name and the models it serves. */
int node_register(struct node_rpc *rpc, uint8_t roles, const char *name,
    const char *endpoint, const struct node_models *ms,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));

/* Reads this node's balance and stake from the referee's status. */
int node_account(struct node_rpc *rpc, uint64_t *balance, uint64_t *stake,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));

/* Stakes until at least target is at stake. */
int node_stake_to(struct node_rpc *rpc, uint64_t target,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));

/* ------------------------------------------------------------------ */
/* Disputes                                                             */
/* ------------------------------------------------------------------ */

/*
 * Builds the executor's reveal for operator op of a job: re-runs the job
 * up to the operator (nothing after it), takes the trace entries the
 * operator reads and proves each against the prefix of size I + op of the
 * side's leaves, proves each weight against model_id, and adds the
 * prefix's frontier. out is a PROTO_MSG_REVEAL body; free the message with
 * proto_msg_free.
 */
int node_reveal_build(enum proto_hash suite, const struct engine_model *m,
    const struct tensor *inputs, const struct proto_digest *leaves,
    size_t n, uint32_t op, struct proto_reveal *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------------ */
/* Clocks, files, hex (node/util.c)                                     */
/* ------------------------------------------------------------------ */

/* Wall clock (Unix time): for what is stored or sent (timestamps,
 * sequence numbers). Never for measuring a wait: it may step. */
uint64_t node_wall_ms(void);
uint64_t node_wall_us(void);
/* Monotonic clock: for waits, deadlines and durations. */
uint64_t node_mono_ms(void);
uint64_t node_mono_us(void);
/* Seconds elapsed since t0 = node_mono_us() (0 if none). */
double node_seconds_since(uint64_t t0);
/* A monotonic deadline ms from now (saturating), what is left of it and
 * whether it has passed. */
uint64_t node_deadline(uint64_t ms);
uint64_t node_deadline_left(uint64_t deadline);
bool node_deadline_passed(uint64_t deadline);
/* Sleeps ms, returning early (within 50 ms) once *stop is set; stop may
 * be NULL. */
void node_sleep_ms(uint64_t ms, volatile sig_atomic_t *stop);

/*
 * Reads the regular file at path whole into *buf (malloc'd, with a NUL
 * byte after the last so text can be parsed in place) and its length into
 * *len. Never reads more than max bytes: RF_ERR_RANGE for a file over it,
 * also one that grows over it while read. RF_ERR_NOTFOUND when there is
 * no such file, RF_ERR_IO when it cannot be read or is not a regular file
 * (a directory, a FIFO that would block).
 */
int node_file_read(const char *path, size_t max, uint8_t **buf, size_t *len,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));

/* The first 6 bytes of a key or digest as 12 hex digits, for log lines. */
#define NODE_SHORT_LEN 13
void node_short_hex(const uint8_t *b, char out[NODE_SHORT_LEN]);
void node_short_key(const struct proto_pubkey *k, char out[NODE_SHORT_LEN]);
void node_short_digest(enum proto_hash suite, const struct proto_digest *d,
    char out[NODE_SHORT_LEN]);

#endif
