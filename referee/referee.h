/*
 * referee/referee.h - the referee node: Refute's "chain".
 *
 * It keeps the ledger (balances, stakes, bonds, escrowed fees, burned), the
 * registry of nodes and models, the job board and the claims with their
 * challenge windows, all in one SQLite file. It answers signed requests on
 * a REP socket (many at once) and publishes signed events on a PUB socket.
 * Every state change is one transaction and every reply goes out after
 * its commit; a restarted referee resumes windows where they were.
 */
#ifndef RF_REFEREE_H
#define RF_REFEREE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "protocol/protocol.h"

struct referee_config {
	const char *listen_url;   /* REP, e.g. tcp://127.0.0.1:7000 */
	const char *events_url;   /* PUB */
	const char *db_path;
	const char *genesis_path; /* read with init only */
	bool init;                /* create a new ledger (first start only):
	                           * without it, a missing, empty or foreign
	                           * database is refused */
	const char *metrics_addr; /* NULL: no metrics endpoint */
	struct proto_identity identity;
	unsigned workers;         /* request handler threads */
};

/*
 * Runs until *stop becomes non-zero (set it from a signal handler), then
 * shuts down cleanly. Returns RF_OK or the error that stopped it (with ei
 * saying why: a bad genesis file, a port in use, ...).
 */
int referee_run(const struct referee_config *cfg,
    volatile sig_atomic_t *stop, struct rf_errinfo *ei);

/* Network parameters, fixed at genesis. */
struct referee_params {
	enum proto_hash suite;
	uint64_t window_ms;   /* challenge window after a claim */
	uint64_t min_stake;   /* an executor needs this much at stake */
	uint64_t min_bond;    /* a challenger posts at least this */
	uint32_t reward_pct;  /* share of a slashed stake paid to the winner */
	uint32_t arity;       /* bisection arity k (2 = binary) */
	uint64_t clock_ms;    /* each side's total time budget in a dispute */
	uint64_t grace_ms;    /* added to every open clock and window after a
			       * referee restart (referee/restart.c) */
	/* The money and job rules' parameters (chain/chain.h). */
	uint64_t claim_collateral; /* stake each open claim locks */
	uint64_t job_deadline_ms;  /* an unclaimed job expires after this */
	uint64_t deadline_penalty; /* burned from an executor whose job expired */
	uint64_t min_fee;          /* the smallest fee a job may carry */
	uint64_t max_open_jobs;    /* a client's unfinished jobs; 0: no cap */
	uint64_t register_fee;     /* burned from a node's balance when it
	                            * first registers */
};

/* The money and job rules (chain/) of a network with these parameters:
 * the referee, `refute audit` and the library's audit use this one
 * mapping, so they cannot disagree on a rule. */
struct chain_params;
void referee_params_chain(const struct referee_params *p,
    struct chain_params *c);

#define REFEREE_DEFAULT_REGISTER_FEE 10

#define REFEREE_DEFAULT_GRACE_MS 10000

/*
 * The genesis file, text, one item per line ('#' starts a comment):
 *   suite blake2b-256 | xxh3-128
 *   window_ms N
 *   min_stake N
 *   min_bond N
 *   reward_pct N          (0..100)
 *   arity N               (2..16)
 *   clock_ms N
 *   grace_ms N            (default 10000; 0..86400000)
 *   claim_collateral N    (default: min_stake)
 *   job_deadline_ms N     (default 600000)
 *   deadline_penalty N    (default: min_bond)
 *   min_fee N             (default 1)
 *   max_open_jobs N       (default 1024; 0: no cap)
 *   register_fee N        (default 10; burned at a node's first
 *                         registration, so registering costs something)
 *   referee <64-hex public key>   (optional: the only key the referee may
 *                         run with, and the key `refute audit` pins)
 *   account <64-hex public key> <balance>
 * Unknown keys, duplicates and malformed numbers are errors naming the
 * line. Parsing is pure (no I/O): the caller reads the file.
 */
#define REFEREE_MAX_GENESIS_ACCOUNTS 100000

struct referee_genesis {
	struct referee_params params;
	bool has_referee;
	struct proto_pubkey referee;
	size_t n_accounts;
	struct proto_pubkey *keys; /* owned */
	uint64_t *balances;        /* owned */
};

int referee_genesis_parse(const char *text, size_t len,
    struct referee_genesis *g, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
void referee_genesis_free(struct referee_genesis *g);

#endif
