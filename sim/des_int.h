/*
 * sim/des_int.h - shared inside the discrete-event simulator only (the
 * sim_*.c files): the event queue, the world (nodes, jobs, disputes,
 * ledger) and the helpers its files share.
 */
#ifndef RF_SIM_DES_INT_H
#define RF_SIM_DES_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bisect/bisect.h"
#include "chain/chain.h"
#include "sim/sim.h"

/* ------------------------------------------------------------------ */
/* Event queue (sim_events.c)                                           */
/* ------------------------------------------------------------------ */

enum ev_kind {
	EV_ARRIVE = 1,   /* the next job arrives at its client */
	EV_SUBMIT,       /* a job submission reaches the referee */
	EV_ASSIGN,       /* the executor has fetched its assigned job */
	EV_EXEC_DONE,    /* the executor finished computing */
	EV_CLAIM,        /* a claim reaches the referee (b: 1 = second) */
	EV_WINDOW,       /* a claim's challenge window closes */
	EV_VERIFY_SEEN,  /* a challenger sees a claim it sim_sampled */
	EV_STATUS,       /* its claim-status query reaches the referee */
	EV_VERIFY_DONE,  /* ... and it finished re-executing (c: the state
			  * it read) */
	EV_CHALLENGE,    /* a challenge reaches the referee */
	EV_DEADLINE,     /* an open job's deadline */
	EV_QUERY,        /* a side receives the referee's query (b: side) */
	EV_ANSWER,       /* a side's answer reaches the referee (b: side) */
	EV_REVEAL,       /* the executor's reveal reaches the referee */
	EV_TICK,         /* a dispute's clock deadline */
};

/* Ordered by time, then by insertion: equal times run first in, first
 * out, which makes every run reproducible. */
struct event {
	uint64_t t;
	uint64_t seq;
	uint32_t a, b; /* job or dispute index, side or node, ... */
	uint32_t c;    /* round or generation */
	uint8_t kind;
};

struct evq {
	struct event *h;
	size_t n, cap, peak;
	uint64_t next_seq;
};

void sim_evq_init(struct evq *q);
void sim_evq_fini(struct evq *q);
int sim_evq_push(struct evq *q, uint64_t t, uint8_t kind, uint32_t a,
    uint32_t b, uint32_t c) __attribute__((warn_unused_result));
/* Removes the earliest event into *e; false when empty. */
bool sim_evq_pop(struct evq *q, struct event *e);

/* An indexed min-heap of executors keyed by (load, index): the referee's
 * "fewest unfinished jobs, ties lowest key" in O(log n). */
struct xheap {
	uint32_t *h;      /* executor indices */
	size_t n;
	uint32_t *pos;    /* position + 1 in h, 0 when absent; per executor */
	const uint32_t *load;
};

bool sim_xheap_has(const struct xheap *x, uint32_t e);
void sim_xheap_insert(struct xheap *x, uint32_t e);
void sim_xheap_remove(struct xheap *x, uint32_t e);
/* Restores order after load[e] changed. */
void sim_xheap_update(struct xheap *x, uint32_t e);

/* ------------------------------------------------------------------ */
/* Randomness (sim_model.c)                                             */
/* ------------------------------------------------------------------ */

/* A stateless hash of (seed, a, b, tag): every random choice is a
 * function of what it is about, so changing one parameter does not
 * reshuffle unrelated choices (common random numbers across a sweep). */
uint64_t sim_rnd_u64(uint64_t seed, uint64_t a, uint64_t b, uint64_t tag);
/* Uniform in [0, 1) from the same. */
double sim_rnd_unit(uint64_t seed, uint64_t a, uint64_t b, uint64_t tag);
/* Natural logarithm from IEEE operations only (no libm). */
double sim_ln(double x);

enum rnd_tag {
	TAG_ARRIVAL = 1, TAG_CLIENT, TAG_MODEL, TAG_FEE, TAG_LIE, TAG_LIE_OP,
	TAG_COMPUTE, TAG_LATENCY, TAG_JITTER, TAG_LOSS, TAG_NODE_LAT,
	TAG_SHUFFLE, TAG_CHAL_SEED, TAG_VERIFY, TAG_LEAF, TAG_EQUIV,
};

/* ------------------------------------------------------------------ */
/* The world                                                            */
/* ------------------------------------------------------------------ */

#define NO_LIE UINT32_MAX
#define NONE UINT32_MAX

struct sim_job {
	uint64_t id;          /* arrival order, from 0 */
	uint64_t t_arrive, window_end, fee;
	uint64_t deadline;    /* an unclaimed job expires (chain/) */
	uint64_t collateral;  /* stake its claim locks */
	uint32_t client, exec, model;
	uint32_t lie_at;      /* first wrong leaf of the recorded claim */
	uint32_t lie_second;  /* the equivocator's other claim's */
	uint32_t qnext;       /* executor queue link */
	uint32_t epoch;       /* its executor's epoch when it claimed */
	uint32_t disputes;    /* first dispute on it, a list */
	uint32_t refs;        /* pending events and open disputes */
	uint8_t state;        /* enum proto_job_state; 0 before submit */
	uint8_t kind;         /* how the executor behaved (sim_exec_kind) */
	uint8_t n_claims;     /* claims that reached the referee */
	uint8_t open;         /* open disputes */
	uint8_t rec;          /* which claim the referee recorded (0, 1) */
	bool lied;            /* the executor misbehaved on this job */
	bool live;
};

struct dispute {
	struct bisect_game g;
	struct proto_digest id;
	uint32_t job, chal;
	uint32_t next;        /* next dispute on the same job */
	uint32_t gen;         /* bumps when a new move is asked */
	uint32_t refs;        /* pending events */
	uint64_t bond, t_open;
	uint32_t lie_at, chal_lie_at;
	struct proto_digest *leaves[2]; /* each side's n leaves */
	struct proto_digest *honest;    /* the true leaves */
	struct tensor input;            /* --real-model: the job's input */
	bool open, real, fake;
	bool released;        /* let go of its job */
};

struct sim_executor {
	uint8_t kind;
	uint32_t model;
	uint32_t partner;     /* colluding challenger, or NONE */
	uint32_t qhead, qtail; /* FIFO of job indices */
	bool busy;
	uint32_t claims_seen; /* public: claims posted since (re)staking */
	bool flagged;         /* public: lost a dispute */
	uint32_t epoch;       /* bumps when a slash takes the collateral of
			       * its open claims */
	uint64_t work, fees, bonds, slashed, jobs;
};

struct sim_challenger {
	uint8_t kind;
	uint32_t model;
	uint32_t partner;     /* colluding executor, or NONE */
	uint64_t seed;        /* its proto_sampled seed */
	uint32_t *q;          /* ring of job indices */
	size_t qh, qn, qcap;
	uint32_t busy;        /* verifications running */
};

struct world {
	const struct sim_config *cfg;
	struct sim_result *res;
	struct evq q;
	uint64_t now;
	uint32_t n_leaves;    /* inputs + ops */

	/* Accounts: executors, then challengers, then clients. */
	uint32_t n_acc;
	uint64_t *bal, *stk, *lck; /* balance, free stake, locked stake */
	uint32_t *lat;        /* one-way latency to the referee, us */
	uint64_t escrow, bonds, burned, minted;
	/* chain/'s parameters, with every time in microseconds: the rules
	 * only add and compare times, so any one unit serves. */
	struct chain_params cp;

	struct sim_executor *ex;
	struct sim_challenger *ch;
	uint32_t *load;       /* unfinished jobs per executor */
	struct xheap *pick;   /* per model */
	uint32_t **watch;     /* per model: challengers holding it */
	uint32_t *n_watch;
	double mean_fee;

	struct sim_job *jobs;
	uint32_t n_jobs, cap_jobs, free_jobs, live_jobs;
	struct dispute **ds;
	uint32_t n_ds, cap_ds;

	uint64_t arrived;     /* jobs arrived so far */
	uint64_t msgs;        /* messages sent: keys their random delays */
	struct proto_bisect_answer *answer; /* scratch, 31 KB */
	uint64_t done;        /* jobs final, invalid or refused */

	void *jobs_out;       /* FILE * for jobs.csv rows, or NULL */

	/* Trace-file arrivals. */
	void *trace;          /* FILE * */
	uint64_t trace_line;
	uint64_t tr_fee;      /* the next arrival's fee and model */
	uint32_t tr_model;

	/* Finality samples, us. */
	uint64_t *fin;
	size_t n_fin, cap_fin;
	double inv_sum;
	uint64_t inv_n;
	size_t cap_recs;
	size_t cap_load;

	/* --real-model: the generated model, its id and tree size. */
	struct engine_model *model;
	struct proto_digest model_id;
	uint32_t model_leaves;
	/* Its trace layout: the referee's one step is the chunked one
	 * (bisect_reveal_chunk), as the nodes' will be. */
	struct proto_trace_layout layout;

	int err;              /* first fatal error, sticky */
	struct rf_errinfo *ei;
};

/* sim_model.c: populations, strategies, sampling, synthetic traces. */
int sim_world_populate(struct world *w) __attribute__((warn_unused_result));
/* The sampling rate challenger ch applies to job j under the policy. */
double sim_policy_rate(const struct world *w, const struct sim_job *j);
/* Whether challenger ch verifies job j: proto_sampled(), the real
 * challenger's decision. */
bool sim_sampled(struct world *w, uint32_t ch, const struct sim_job *j);
/* Whether executor e lies on job j now, and where (a leaf index). */
void sim_exec_decide(struct world *w, uint32_t e, struct sim_job *j);
/* Leaf i of job j: the true one (variant 0) or a liar's (variant > 0). */
void sim_synth_leaf(const struct world *w, const struct sim_job *j, uint32_t i,
    uint32_t variant, struct proto_digest *out);
/* The variant of a claim's lying leaves (the first or second claim), and
 * of a false challenger's made-up trace. */
uint32_t sim_claim_variant(const struct sim_job *j, bool second);
uint32_t sim_flip_variant(void);
/* n leaves: true before lie_at, variant from there on. */
int sim_synth_leaves(const struct world *w, const struct sim_job *j,
    uint32_t lie_at, uint32_t variant, struct proto_digest **out)
    __attribute__((warn_unused_result));
/* The rational cheater's detection belief for job j. */
double sim_rational_belief(const struct world *w, uint32_t e,
    const struct sim_job *j);

/* Accounts. */
static inline uint32_t
acc_exec(uint32_t e)
{
	return e;
}

static inline uint32_t
acc_chal(const struct world *w, uint32_t c)
{
	return w->cfg->executors + c;
}

static inline uint32_t
acc_client(const struct world *w, uint32_t k)
{
	return w->cfg->executors + w->cfg->challengers + k;
}

/* sim_run.c: sim_run, with a FILE * (or NULL) for one row per job. */
int sim_run_jobs(const struct sim_config *c, struct sim_result *out,
    sim_progress_fn progress, void *ctx, void *jobs_out,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));
/* The ledger invariant over every account, job and dispute. */
bool sim_world_ledger_ok(const struct world *w, uint64_t *total);

/* sim_out.c */
int sim_mkdir_p(const char *dir, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
/* Creates (truncates) dir/name for writing. */
int sim_out_open(const char *dir, const char *name, FILE **f,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));
/* Every file of a finished experiment, and the summary's text. */
int sim_out_write(const struct sim_experiment *e, const char *dir,
    const struct sim_config *cfgs, const struct sim_result *res,
    const size_t (*idx)[SIM_MAX_AXES], size_t runs, char **summary,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));

#endif
