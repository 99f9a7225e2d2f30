/*
 * challenger/challenger.h - the challenger (watcher) node.
 *
 * Follows the claims the referee publishes, picks which to verify by a
 * sampling policy (a rate p, always for chosen executors or models, never
 * the same claim twice), fetches the job, re-executes it with the engine
 * and compares trace roots. Every decision and verification is recorded
 * in the challenger's own SQLite file, and so is every dispute, before its
 * challenge is sent: a restarted challenger resumes each open dispute from
 * there (challenger.c says why).
 */
#ifndef RF_CHALLENGER_H
#define RF_CHALLENGER_H

#include <signal.h>
#include <stdbool.h>

#include "node/node.h"
#include "protocol/protocol.h"

#define CHALLENGER_MAX_ALWAYS 16

/* Deliberate misbehaviour, for tests and experiments only. */
enum challenger_fault {
	CHALLENGER_FAULT_NONE = 0,
	CHALLENGER_FAULT_FALSE_CHALLENGE, /* dispute correct claims */
	CHALLENGER_FAULT_SILENT,          /* dispute them, then never answer */
};

struct challenger_config {
	struct node_config node; /* what every node has */
	double rate;    /* share of claims verified, 0..1 */
	/*
	 * The sampling seed. Unless seed_set (an experiment that wants a
	 * reproducible sample), the challenger ignores seed and uses a
	 * secret one drawn from the OS on its first start and kept in its
	 * database, so executors cannot predict which claims are checked and
	 * a restart keeps the same sample.
	 */
	uint64_t seed;
	bool seed_set;
	struct proto_pubkey always_executors[CHALLENGER_MAX_ALWAYS];
	size_t n_always_executors;
	struct proto_digest always_models[CHALLENGER_MAX_ALWAYS];
	size_t n_always_models;
	uint64_t bond;              /* posted with each dispute */
	bool dispute;               /* open disputes on mismatches */
	enum challenger_fault fault;
};

int challenger_fault_parse(const char *name, enum challenger_fault *out);
const char *challenger_fault_name(enum challenger_fault f);

int challenger_run(const struct challenger_config *cfg,
    volatile sig_atomic_t *stop, struct rf_errinfo *ei);

/* What a challenger recorded about one claim. Values are stored in its
 * database: never renumber. */
enum challenger_outcome {
	CHALLENGER_MATCH = 1,    /* re-executed, same trace root */
	CHALLENGER_MISMATCH = 2, /* re-executed, another root */
	CHALLENGER_NO_MODEL = 3, /* the model is not held here */
	CHALLENGER_SKIPPED = 4,  /* not in the sample */
	CHALLENGER_FAILED = 5,   /* could not re-run it: NOT verified */
};

struct challenger_record {
	struct proto_digest job_id;
	struct proto_pubkey executor;
	enum challenger_outcome outcome;
};

/*
 * Reads every record of a challenger's database (the challenger may still
 * be running), calling fn for each; a non-zero return from fn stops the
 * walk and is returned. suite is the network's (it fixes digest lengths).
 * Returns RF_OK, RF_ERR_IO (no such database) or RF_ERR_STORE.
 */
int challenger_records_read(const char *db_path, enum proto_hash suite,
    int (*fn)(void *ctx, const struct challenger_record *rec), void *ctx,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));

/* The sampling decision for one claim, exposed for tests: true when the
 * claim is verified. Deterministic in (seed, job). */
bool challenger_sampled(const struct challenger_config *cfg,
    const struct proto_digest *job, const struct proto_pubkey *executor,
    const struct proto_digest *model);

#endif
