/*
 * tests/adversary/adv.h - a small library for writing malicious nodes
 * against a real referee process.
 *
 * A test starts one referee (adv_net_start: a fresh directory, a genesis
 * that funds the test's identities, the real `refute referee` binary) and
 * then speaks for any number of nodes itself. Each node is an identity
 * with arbitrary keys (a random one, one from a seed, or another node's
 * key: a test may sign as anyone it holds the key of) and a request
 * channel. Every request the protocol has can be sent with any fields: the
 * helpers build the honest message (a registration, a claim from a trace,
 * a challenge, the answer to a round, a reveal), the test changes what it
 * wants, and adv_send signs and sends it and says how the referee took it.
 * Nothing here checks the test's requests: that is the referee's job.
 *
 * A malicious executor that lies at operator 3, in a few lines:
 *
 *     struct adv_net net;
 *     struct adv_node ex, ch, cl;
 *     adv_node_init(&ex, 1); adv_node_init(&ch, 2); adv_node_init(&cl, 3);
 *     struct adv_node *all[] = { &ex, &ch, &cl };
 *     adv_net_start(&net, "clock_ms 3000\n", all, 3, 100000);
 *     adv_register(&ex, PROTO_ROLE_EXECUTOR, model);
 *     adv_register_model(&ex, model);
 *     adv_stake(&ex, 1000);
 *     adv_register(&ch, PROTO_ROLE_CHALLENGER, NULL);
 *     adv_register(&cl, PROTO_ROLE_CLIENT, NULL);
 *     adv_submit(&cl, model, 7, 10, 1, &ex.id.pk, &job);
 *     adv_trace_run(model, 7, &honest); adv_trace_run(model, 7, &lie);
 *     adv_trace_lie(&lie, lie.n_in + 3);
 *     adv_claim(&ex, &lie, &job);
 *     adv_challenge(&ch, &job, &honest, 100, &dispute);
 *     while (adv_play(&ex, &dispute, &lie, model) == ADV_MOVED ||
 *         adv_play(&ch, &dispute, &honest, model) == ADV_MOVED) { }
 *     adv_verdict(&ch, &dispute, &verdict);        (the challenger won)
 *     adv_ledger_conserved(&ch, net.minted);
 *
 * Any move can be replaced by a hand-made one: adv_answer_msg or
 * adv_reveal_msg build the honest move into a message, the test breaks it
 * (a wrong size, a bad proof, another dispute id) and adv_send sends it.
 *
 * Return conventions: functions that send a request return ADV_ACK (0)
 * when the referee accepted it, the PROTO_ERR_* code (> 0) of its refusal,
 * or ADV_NO_REPLY (-1) when no verified reply came. Builders and readers
 * return RF_OK or an RF_ERR_* code. Messages passed to a sender are freed
 * by it; messages returned to the caller are the caller's to
 * proto_msg_free. Every call blocks; none keeps state between tests except
 * what the structs hold. The referee's clock is wall time: tests that let
 * a clock run out choose a short clock_ms in the genesis and wait for the
 * verdict (adv_verdict), never for a time.
 */
#ifndef RF_ADV_H
#define RF_ADV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "node/node.h"
#include "protocol/protocol.h"

/*
 * Any message with any fields, for tests that build and break messages
 * of every type: the envelope's fields and a union of the bodies, over
 * the library's typed codec (proto_msg_encode, proto_msg_open and the
 * body decoders). The library itself has no such union.
 */
struct adv_msg {
	uint8_t version;
	uint8_t type;  /* enum proto_msg_type */
	uint8_t suite; /* enum proto_hash */
	struct proto_pubkey sender;
	uint64_t seq;
	union {
		struct proto_error error;
		struct proto_ack ack;
		struct proto_node_register node_register;
		struct proto_amount amount;
		struct proto_model_register model_register;
		struct proto_job_submit job_submit;
		struct proto_job_fetch job_fetch;
		struct proto_job_info job_info;
		struct proto_claim claim;
		struct proto_claim_status claim_status;
		struct proto_claim_info claim_info;
		struct proto_challenge challenge;
		struct proto_bisect_query bisect_query;
		struct proto_bisect_answer bisect_answer;
		struct proto_reveal reveal;
		struct proto_verdict verdict;
		struct proto_equivocation equivocation;
		struct proto_event event;
		struct proto_events_fetch events_fetch;
		struct proto_events events;
		struct proto_dispute_fetch dispute_fetch;
		struct proto_status_info status_info;
		struct proto_job_cancel job_cancel;
		struct proto_jobs_query jobs_query;
		struct proto_jobs_list jobs_list;
		struct proto_disputes_query disputes_query;
		struct proto_disputes_list disputes_list;
	} u;
};

/* Clears m to type with zeroed fields (nothing owned yet). */
void adv_msg_init(struct adv_msg *m, enum proto_msg_type type,
    enum proto_hash suite);
/* Frees what the body owns; m may be reused after adv_msg_init. */
void adv_msg_free(struct adv_msg *m);
/* Encodes and signs m (its seq; sender must be id's key). */
int adv_msg_pack(const struct adv_msg *m, const struct proto_identity *id,
    uint8_t **buf, size_t *len) __attribute__((warn_unused_result));
/* Opens an envelope (signature checked, or not: _stored) and decodes its
 * body, whatever the type; *m is untouched on failure. */
int adv_msg_decode(const uint8_t *buf, size_t len, struct adv_msg *m,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));
int adv_msg_decode_stored(const uint8_t *buf, size_t len, struct adv_msg *m,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));
/* node_rpc_call, node_reply_ok, node_sign and node_events_next with
 * adv_msg: req's sender and seq are set to what was sent; the reply is
 * decoded whole. */
int adv_rpc_call(struct node_rpc *rpc, struct adv_msg *req,
    struct adv_msg *reply, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
int adv_reply_ok(const struct adv_msg *reply, enum proto_msg_type want,
    struct rf_errinfo *ei);
int adv_rpc_sign(struct node_rpc *rpc, struct adv_msg *m, uint8_t **buf,
    size_t *len) __attribute__((warn_unused_result));
int adv_events_next(struct node_events *ev, int wait_ms, struct adv_msg *out,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));

#define ADV_ACK 0
#define ADV_NO_REPLY (-1)

/* adv_play's results. */
#define ADV_MOVED 1   /* a move was due and was sent */
#define ADV_WAITING 0 /* nothing to do now: the other side is due */
#define ADV_DECIDED 2 /* the dispute has a verdict */

/* A node the test speaks for. */
struct adv_node {
	struct proto_identity id; /* any keys; the node signs with these */
	struct node_rpc rpc;      /* open after adv_connect */
	bool connected;
	uint64_t cursor; /* last event seq adv_wait_event consumed */
};

/* A referee process and its files. */
struct adv_net {
	char dir[256];
	char ref_url[64], ev_url[64];
	struct proto_identity referee;
	pid_t pid;
	uint64_t minted; /* the genesis total */
	/* The genesis's suite line (blake2b-256 without one): nodes speak
	 * it; the helpers that build commitments still use blake2b. */
	enum proto_hash suite;
};

/* ---- Nodes and the network -------------------------------------- */

/* An identity from a seed (0: a random one); not connected yet. */
void adv_node_init(struct adv_node *a, uint32_t seed);
/* A node that signs with another node's keys (a stolen or shared key). */
void adv_node_copy_keys(struct adv_node *a, const struct adv_node *from);
int adv_connect(struct adv_node *a, const struct adv_net *net)
    __attribute__((warn_unused_result));
void adv_node_close(struct adv_node *a);

/*
 * Writes a genesis (params, lines such as "clock_ms 3000\n", then one
 * account of balance for each of nodes[0..n)), starts a referee on it and
 * connects every node. Returns RF_OK once the referee answers.
 */
int adv_net_start(struct adv_net *net, const char *params,
    struct adv_node *const *nodes, size_t n, uint64_t balance)
    __attribute__((warn_unused_result));
/* SIGKILLs the referee and starts it again on the same database. */
int adv_net_restart(struct adv_net *net) __attribute__((warn_unused_result));
/* Kills the referee and removes the directory (kept with RF_TEST_KEEP). */
void adv_net_stop(struct adv_net *net);

/* Writes model into the network's directory (model.rfm) and loads it
 * from there as a node does, for tests that register or serve it through
 * node_models_* (a model's id is the one node_models computes). */
int adv_net_models(const struct adv_net *net, const struct engine_model *model,
    struct node_models *ms) __attribute__((warn_unused_result));

/* ---- Sending anything ------------------------------------------- */

/* Signs req as a (sender, seq and suite filled in), sends it, returns
 * ADV_ACK / a PROTO_ERR_* code / ADV_NO_REPLY; *id (may be NULL) gets an
 * ACK's id. Frees req. */
int adv_send(struct adv_node *a, struct adv_msg *req,
    struct proto_digest *id);
/* The same, keeping the whole reply (the caller frees it). */
int adv_call(struct adv_node *a, struct adv_msg *req,
    struct adv_msg *reply) __attribute__((warn_unused_result));
/* Signs req as a without sending it (to replay it later or hand it to
 * someone else); *buf is malloc'd. Frees req. */
int adv_sign(struct adv_node *a, struct adv_msg *req, uint8_t **buf,
    size_t *len) __attribute__((warn_unused_result));
/* Sends bytes as they are (a replay, someone else's message, garbage). */
int adv_send_bytes(struct adv_node *a, const uint8_t *buf, size_t len);
/* Sends count requests made by make(ctx, i, msg) as fast as the referee
 * answers; *acked (may be NULL) counts the accepted ones. Returns
 * ADV_NO_REPLY if any request got no reply, else ADV_ACK. */
int adv_flood(struct adv_node *a, size_t count,
    void (*make)(void *ctx, size_t i, struct adv_msg *m), void *ctx,
    size_t *acked);

/* ---- One line per honest request -------------------------------- */

/* NODE_REGISTER with roles, serving model (may be NULL). */
int adv_register(struct adv_node *a, uint8_t roles,
    const struct engine_model *model);
/* The honest MODEL_REGISTER for model, built (to tamper with) or sent. */
int adv_model_msg(enum proto_hash suite, const struct engine_model *model,
    struct adv_msg *out) __attribute__((warn_unused_result));
int adv_register_model(struct adv_node *a, const struct engine_model *model);
int adv_stake(struct adv_node *a, uint64_t amount);
int adv_unstake(struct adv_node *a, uint64_t amount);
/* Submits a job on model with engine_inputs_random(model, input_seed)
 * inputs, naming executor (NULL: the referee picks). */
int adv_submit(struct adv_node *a, const struct engine_model *model,
    uint64_t input_seed, uint64_t fee, uint64_t nonce,
    const struct proto_pubkey *executor, struct proto_digest *job);

/* ---- Traces, claims and disputes --------------------------------- */

/* A trace of one job: its leaves, root and last entry's tensors. */
struct adv_trace {
	enum proto_hash suite;
	struct proto_digest *leaves;
	size_t n, n_in;
	struct proto_digest root;
	struct tensor inputs[PROTO_MAX_TENSORS];
	struct tensor outputs[ENGINE_MAX_GRAPH_IO];
	size_t n_out;
};

/* The honest trace of model on engine_inputs_random(model, input_seed). */
int adv_trace_run(const struct engine_model *model, uint64_t input_seed,
    struct adv_trace *t) __attribute__((warn_unused_result));
/* Makes t a consistent lie at one leaf: that leaf's hash is changed and
 * the root recomputed. The claimed output stays the honest one, unless
 * leaf is the last: then the output tensor itself is changed, so that a
 * claim built from t still proves its output. */
void adv_trace_lie(struct adv_trace *t, size_t leaf);
void adv_trace_free(struct adv_trace *t);

/* The CLAIM on job that t commits to, built or sent. */
int adv_claim_msg(const struct adv_trace *t, const struct proto_digest *job,
    const struct engine_model *model, struct adv_msg *out)
    __attribute__((warn_unused_result));
int adv_claim(struct adv_node *a, const struct adv_trace *t,
    const struct proto_digest *job, const struct engine_model *model);
/* A CHALLENGE of the claim on job (as the referee shows it) with ours. */
int adv_challenge(struct adv_node *a, const struct proto_digest *job,
    const struct adv_trace *ours, uint64_t bond, struct proto_digest *id);

/* DISPUTE_FETCH: *view is a BISECT_QUERY or a VERDICT. */
int adv_dispute_view(struct adv_node *a, const struct proto_digest *id,
    struct adv_msg *view) __attribute__((warn_unused_result));
/* The answer to q that t gives (BISECT_ANSWER). */
int adv_answer_msg(const struct adv_trace *t,
    const struct proto_bisect_query *q, struct adv_msg *out)
    __attribute__((warn_unused_result));
/* The executor's reveal of the operator q points at, from t. */
int adv_reveal_msg(const struct adv_trace *t, const struct engine_model *m,
    const struct proto_bisect_query *q, struct adv_msg *out)
    __attribute__((warn_unused_result));
/* Makes a's move in dispute id as t says, if one is due: ADV_MOVED,
 * ADV_WAITING, ADV_DECIDED, or ADV_NO_REPLY. Knows its side from the
 * query: a reveal is due only for the executor (executor true). */
int adv_play(struct adv_node *a, const struct proto_digest *id,
    const struct adv_trace *t, const struct engine_model *m, bool executor);
/* Waits (up to 60 s) for the verdict of id; *v gets a copy (no
 * transcript). */
int adv_verdict(struct adv_node *a, const struct proto_digest *id,
    struct proto_verdict *v) __attribute__((warn_unused_result));
/* EQUIVOCATION with two signed claims. */
int adv_equivocation(struct adv_node *a, const uint8_t *claim_a,
    size_t len_a, const uint8_t *claim_b, size_t len_b);

/* ---- Reading ------------------------------------------------------ */

/* Waits (up to 60 s) for the next event of kind after a->cursor (about
 * job, when job is not NULL); consumes what it reads. */
int adv_wait_event(struct adv_node *a, enum proto_event_kind kind,
    const struct proto_digest *job, struct proto_event *out)
    __attribute__((warn_unused_result));
int adv_status(struct adv_node *a, struct adv_msg *out)
    __attribute__((warn_unused_result));
/* One account's balance and stake as the status shows them (0 if none). */
int adv_account(struct adv_node *a, const struct proto_pubkey *k,
    uint64_t *balance, uint64_t *stake) __attribute__((warn_unused_result));

struct adv_ledger {
	uint64_t total;  /* the referee's own sum (balances, stakes, escrowed
			  * fees, open bonds, burned) */
	uint64_t burned;
	uint64_t held;   /* sum of every listed node's balance + stake */
	uint32_t disputes_open, jobs_open, claims_pending;
};
int adv_ledger(struct adv_node *a, struct adv_ledger *l)
    __attribute__((warn_unused_result));
/* True when the ledger is conserved: total == minted, and what the nodes
 * hold plus burned never exceeds it (equals it when nothing is escrowed:
 * no open job, pending claim or open dispute). */
bool adv_ledger_conserved(struct adv_node *a, uint64_t minted);

#endif
