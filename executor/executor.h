/*
 * executor/executor.h - the executor node.
 *
 * Registers its key, stake and models with the referee, follows the
 * referee's event log for jobs assigned to it (and takes jobs straight
 * from clients on its own REP socket, relaying them to the referee), runs
 * each job with the engine, commits to the whole trace, and signs and posts
 * the claim. Per job it keeps only the trace's leaf hashes, enough to
 * answer a dispute; its state lives in its own SQLite file, so a restart
 * neither loses nor duplicates a claim.
 */
#ifndef RF_EXECUTOR_H
#define RF_EXECUTOR_H

#include <signal.h>

#include "node/node.h"
#include "protocol/protocol.h"

/* Deliberate misbehaviour, for tests and experiments only. */
enum executor_fault {
	EXECUTOR_FAULT_NONE = 0,
	EXECUTOR_FAULT_LIE_AT_OP,     /* perturb one element of op K's output */
	EXECUTOR_FAULT_LIE_OUTPUT,    /* perturb only the final output */
	EXECUTOR_FAULT_RANDOM,        /* random output, nothing computed */
	EXECUTOR_FAULT_BAD_PROOF,     /* lie at op K, then answer the dispute
				       * with a wrong proof */
	EXECUTOR_FAULT_SILENT,        /* lie at op K, then never answer */
	EXECUTOR_FAULT_EQUIVOCATE,    /* post a second, different claim */
};

struct executor_config {
	struct node_config node; /* what every node has */
	const char *listen_url; /* REP for direct client jobs, or NULL */
	uint64_t stake;
	enum executor_fault fault;
	uint32_t fault_op;
	double fault_rate; /* share of jobs the fault applies to (0..1) */
};

int executor_run(const struct executor_config *cfg,
    volatile sig_atomic_t *stop, struct rf_errinfo *ei);

/* "lie-at-op", "lie-output", ...; RF_ERR_INVAL for an unknown name. */
int executor_fault_parse(const char *name, enum executor_fault *out);
const char *executor_fault_name(enum executor_fault f);

#endif
