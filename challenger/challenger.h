/*
 * challenger/challenger.h - the challenger (watcher) node.
 *
 * Follows the claims the referee publishes, picks which to verify by a
 * sampling policy (a rate p, always for chosen executors or models, never
 * the same claim twice), fetches the job, re-executes it with the engine
 * and compares trace roots. Every decision and verification is recorded
 * in the challenger's own SQLite file.
 */
#ifndef RF_CHALLENGER_H
#define RF_CHALLENGER_H

#include <signal.h>

#include "../protocol/protocol.h"

#define CHALLENGER_MAX_ALWAYS 16

struct challenger_config {
	const char *referee_url;
	const char *events_url;
	const char *db_path;
	const char *metrics_addr;
	const char *name;
	const char *model_paths[PROTO_MAX_MODELS];
	size_t n_models;
	struct proto_identity identity;
	struct proto_pubkey referee_key; /* zero: accept any */
	enum proto_hash suite;
	double rate;    /* share of claims verified, 0..1 */
	uint64_t seed;  /* makes the sample reproducible */
	struct proto_pubkey always_executors[CHALLENGER_MAX_ALWAYS];
	size_t n_always_executors;
	struct proto_digest always_models[CHALLENGER_MAX_ALWAYS];
	size_t n_always_models;
};

int challenger_run(const struct challenger_config *cfg,
    volatile sig_atomic_t *stop, struct rf_errinfo *ei);

/* The sampling decision for one claim, exposed for tests: true when the
 * claim is verified. Deterministic in (seed, job). */
bool challenger_sampled(const struct challenger_config *cfg,
    const struct proto_digest *job, const struct proto_pubkey *executor,
    const struct proto_digest *model);

#endif
