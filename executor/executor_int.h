/* executor/executor_int.h - shared inside executor/ only. */
#ifndef RF_EXECUTOR_INT_H
#define RF_EXECUTOR_INT_H

#include "engine/engine.h"
#include "net/net.h"
#include "node/node.h"
#include "bisect/bisect.h"
#include "store/store.h"
#include "executor/executor.h"

enum job_state {
	JOB_CLAIM_PENDING = 1, /* computed, claim stored, not yet accepted */
	JOB_CLAIMED = 2,       /* the referee accepted the claim */
	JOB_FINAL = 3,
	JOB_INVALID = 4,
	JOB_FAILED = 9,        /* could not run or the claim was refused */
};

/* disputes.state: stored, never renumber. */
enum executor_dispute_state {
	EXECUTOR_DISPUTE_OPEN = 1,
	EXECUTOR_DISPUTE_DECIDED = 2,
};

struct executor {
	const struct executor_config *cfg;
	volatile sig_atomic_t *stop;
	struct node node;       /* database, referee, events, models, loop */
	struct net_server *server;
	struct engine_rng fault_rng;
	struct net_counter *m_jobs, *m_claims, *m_direct, *m_disputes;
	struct net_histogram *m_run_seconds;
	uint64_t last_poll;  /* node_mono_ms() of the last look at disputes */
	uint64_t last_resend; /* and at claims not yet accepted */
	int64_t poll_after;  /* the disputes rowid the next look starts after */
};

/* One computed job: the trace's leaves and root and the claim to post. */
struct executor_run {
	struct proto_digest *leaves; /* n, owned */
	size_t n;
	struct proto_digest root;
	struct proto_claim claim;    /* owns its tensors and proof */
	bool faulty;                 /* a testing fault changed it */
};

int executor_compute(struct executor *x, const struct node_model *nm,
    const struct proto_job_info *job, struct executor_run *run,
    struct rf_errinfo *ei);
void executor_run_free(struct executor_run *run);
int executor_load_claim(struct executor *x, const struct proto_digest *job,
    uint8_t **claim, size_t *len);
int executor_job_state(struct executor *x, const struct proto_digest *job,
    int *state);

/* Disputes (executor/dispute.c). */
int executor_dispute_event(struct executor *x, const struct proto_event *e);
/* Looks at every dispute of ours not yet decided (a batch per call) and
 * makes each move that is due: at start, and every EXECUTOR_POLL_MS. */
void executor_disputes_poll(struct executor *x);
#define EXECUTOR_POLL_MS 1000
/* How often claims waiting for free stake are sent again. */
#define EXECUTOR_RESEND_MS 250
void executor_equivocate(struct executor *x, const struct executor_run *run);

#endif
