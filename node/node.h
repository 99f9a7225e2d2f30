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
#include "store/store.h"

struct node_rpc {
	struct net_client *client;
	struct proto_identity id;
	enum proto_hash suite;
	struct proto_pubkey referee; /* zero: accept any signer */
	pthread_mutex_t lock;        /* one request at a time: seq order */
	uint64_t last_seq;
	int timeout_ms;
	int retries;
	/* A node's stop flag (NULL: none): once set, no retry is made and
	 * the pause before one is cut short (RF_ERR_CLOSED). A call in
	 * flight still runs to its reply or its timeout: aborting an NNG 1.5
	 * REQ operation can leave the socket's close hanging. */
	volatile sig_atomic_t *stop;
};

int node_rpc_open(struct node_rpc *rpc, const char *url,
    const struct proto_identity *id, enum proto_hash suite,
    const struct proto_pubkey *referee, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
void node_rpc_close(struct node_rpc *rpc);

/* A verified reply from the referee: its envelope, whose body points
 * into buf. Release with node_reply_free. */
struct node_reply {
	struct proto_env env;
	uint8_t *buf;
	size_t len;
};
void node_reply_free(struct node_reply *reply);

/*
 * Sends type's body (the struct protocol.h names for it; signed with
 * rpc's identity, next sequence number and suite) and opens the reply
 * into *reply. Returns RF_OK when a verified reply arrived (which may be
 * an ERROR message: see node_reply_ok), or RF_ERR_TIMEOUT / RF_ERR_NET
 * after the retries, or RF_ERR_CRYPTO when the reply is not signed by
 * the referee, or RF_ERR_VERSION when the referee's network uses another
 * hash suite.
 */
int node_rpc_call(struct node_rpc *rpc, enum proto_msg_type type,
    const void *body, struct node_reply *reply, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

/*
 * node_rpc_call expecting a reply of type want, whose body is decoded
 * into out (size bytes: want's struct; the caller frees it with want's
 * _free function). out NULL: only the type is checked (an ACK's id is
 * then not wanted). An ERROR reply is RF_ERR_INVAL as node_reply_ok says.
 */
int node_rpc_expect(struct node_rpc *rpc, enum proto_msg_type type,
    const void *body, enum proto_msg_type want, void *out, size_t size,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));

/*
 * The hash suite of the referee's network, from the envelope of its
 * answer to a status query (signed by referee unless that is NULL). Nodes
 * ask at start and refuse to run in another suite.
 */
int node_referee_suite(const char *url, const struct proto_identity *id,
    const struct proto_pubkey *referee, enum proto_hash *out,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));

/*
 * RF_OK if reply has the wanted type; for an ERROR reply, RF_ERR_INVAL
 * with the referee's text in ei ("referee: no such job").
 */
int node_reply_ok(const struct node_reply *reply, enum proto_msg_type want,
    struct rf_errinfo *ei);

/* An ERROR reply's code and text; code 0 and "" for any other reply
 * (or an ERROR that does not decode). */
void node_reply_error(const struct node_reply *reply, struct proto_error *out);

/* Encodes type's body and signs it as rpc's identity with its next
 * sequence number. */
int node_sign(struct node_rpc *rpc, enum proto_msg_type type,
    const void *body, uint8_t **buf, size_t *len)
    __attribute__((warn_unused_result));

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
 * proto_events_free). Does not advance the cursor: call
 * node_events_done(seq) after handling each one.
 */
int node_events_next(struct node_events *ev, int wait_ms,
    struct proto_events *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
void node_events_done(struct node_events *ev, uint64_t seq);

/* ------------------------------------------------------------------ */
/* The event loop (node/loop.c)                                         */
/* ------------------------------------------------------------------ */

/*
 * Every role runs this loop: between batches the role's periodic work
 * (tick), then a wait for the referee's events (a published hint, or
 * wait_ms), the log after the cursor, and each event handed to the role.
 * node_loop_run returns when *stop is set (SIGTERM, SIGINT: the event in
 * hand is finished, the cursor stored) or the event socket closes.
 *
 * An event whose handler fails does not hold up the ones behind it: it is
 * set aside and tried again after a back-off doubling from retry_ms to
 * retry_max_ms, at most max_attempts times in all, then given up with an
 * ERROR line. A failure that says the referee is unreachable (timeout,
 * network) stops the batch, since the events behind would fail the same
 * way, and retries run only after a fetch succeeded, so an outage spends
 * few attempts. The cursor stored (ops->save) never passes an event set
 * aside: after a restart it is handled again. Handlers must therefore be
 * idempotent (each role records what it did before moving on).
 */
#define NODE_LOOP_PENDING_MAX 64
#define NODE_LOOP_WAIT_MS 200
#define NODE_LOOP_MAX_ATTEMPTS 8
#define NODE_LOOP_RETRY_MS 250
#define NODE_LOOP_RETRY_MAX_MS 8000

struct node_loop_ops {
	/* Handles one event: RF_OK when done (also when it concerns us
	 * not), else an error with ei saying why. */
	int (*handle)(void *ctx, const struct proto_event *e,
	    struct rf_errinfo *ei);
	/* Periodic work, before every fetch (the role keeps its own
	 * schedule with node_mono_ms). May be NULL. */
	void (*tick)(void *ctx);
	/* Stores the cursor: every event up to it is done or given up.
	 * NULL: the loop's db keeps it (node_cursor_store), if any. */
	int (*save)(void *ctx, uint64_t cursor);
	/* Reads events after `after` into *out (out->events malloc'd, the
	 * loop frees it). NULL: node_events_next on the loop's events; a
	 * test gives its own. */
	int (*fetch)(void *ctx, uint64_t after, int wait_ms,
	    struct proto_events *out, struct rf_errinfo *ei);
};

struct node_pending {
	struct proto_event ev;
	uint32_t attempts;
	uint64_t due_ms;  /* on l->clock */
	char why[128];    /* the last failure */
};

/* A gauge a node keeps equal to a count in its own database (claims at
 * risk, open disputes, failed runs): node_gauge_add. */
#define NODE_GAUGES_MAX 4
#define NODE_GAUGE_MS 1000
struct node_gauge {
	struct net_gauge *g;
	const char *sql; /* SELECT count(*) ...: a static string */
};

struct node_loop {
	const struct node_loop_ops *ops;
	void *ctx;
	struct node_events *events;   /* with ops->fetch NULL */
	volatile sig_atomic_t *stop;
	int wait_ms;
	uint32_t max_attempts;
	uint64_t retry_ms, retry_max_ms;
	uint64_t (*clock)(void);      /* node_mono_ms; tests step their own */
	struct store *db;             /* for the default save, or NULL */
	struct net_counter *m_retries, *m_given_up; /* or NULL */
	uint64_t cursor;              /* last event handled or set aside */
	uint64_t saved;               /* last cursor stored */
	struct node_pending pending[NODE_LOOP_PENDING_MAX]; /* by seq */
	size_t n_pending;
	uint64_t n_handled, n_retried, n_given_up;
	const struct node_gauge *gauges; /* refreshed every NODE_GAUGE_MS */
	size_t n_gauges;
	uint64_t gauges_ms;
};

/* cursor: the one stored by the last run (0 at the first). */
void node_loop_init(struct node_loop *l, const struct node_loop_ops *ops,
    void *ctx, struct node_events *events, uint64_t cursor,
    volatile sig_atomic_t *stop);
int node_loop_run(struct node_loop *l);
/* The steps of node_loop_run, for tests: one batch, then the retries due. */
void node_loop_batch(struct node_loop *l, const struct proto_events *ev);
void node_loop_retry(struct node_loop *l);
/* The cursor a role may store along with the work of event seq: seq, or
 * just before the oldest event set aside. */
uint64_t node_loop_durable(const struct node_loop *l, uint64_t seq);

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

/* The largest model file a node loads (mapped: engine_model_load). */
#define NODE_MODEL_FILE_MAX ((size_t)1 << 34)

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
/* The node runtime (node/runtime.c)                                    */
/* ------------------------------------------------------------------ */

/* What every node is configured with; each role's config starts with it. */
struct node_config {
	const char *referee_url;
	const char *events_url;
	const char *db_path;
	const char *metrics_addr;     /* host:port, or NULL */
	const char *name;             /* for logs and the registry */
	const char *model_paths[PROTO_MAX_MODELS];
	size_t n_models;
	struct proto_identity identity;
	struct proto_pubkey referee_key; /* zero: accept any */
	enum proto_hash suite;
};

/* A running node: what every role holds besides its own state. */
struct node {
	const struct node_config *cfg;
	struct store *db;             /* the node's own database */
	struct node_rpc rpc;
	struct node_events events;
	struct node_models models;
	struct net_metrics *metrics;  /* the role adds its own series */
	struct net_http *http;
	struct node_loop loop;
	struct net_counter *m_retries, *m_given_up;
	struct node_gauge gauges[NODE_GAUGES_MAX];
	size_t n_gauges;
};

/* Registers the gauge name (help) in the node's metrics, kept equal to
 * what sql (a static SELECT count(*) on the node's database) counts,
 * refreshed by the loop once a second. Up to NODE_GAUGES_MAX; a node
 * without metrics, or past the limit, goes without. */
void node_gauge_add(struct node *n, const char *name, const char *help,
    const char *sql);

/*
 * Setting a node up, in order: node_open (metrics registry, database with
 * the role's schema, models, the channel to the referee), node_join
 * (registers roles, name, endpoint and models; an executor's models are
 * registered too), the role's own steps (stake, seeds...), node_start
 * (the event log from the stored cursor, the metrics endpoint, the loop
 * with the role's handlers), node_loop_run(&n->loop), node_close. On a
 * failed step, node_close still releases what was opened.
 */
int node_open(struct node *n, const struct node_config *cfg,
    const char *metrics_prefix, const char *const *schema, size_t n_schema,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));
int node_join(struct node *n, uint8_t roles, const char *endpoint,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));
int node_start(struct node *n, const struct node_loop_ops *ops, void *ctx,
    volatile sig_atomic_t *stop, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
void node_close(struct node *n);
/* Stores the event cursor in db's meta table, in its own transaction. */
int node_cursor_store(struct store *db, uint64_t seq)
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
double node_mono_s(void);
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

#endif
