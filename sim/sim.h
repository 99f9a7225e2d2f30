/*
 * sim/sim.h - a discrete-event simulator of a whole Refute network:
 * thousands of executors, challengers and clients, millions of jobs, in
 * simulated time (integer microseconds), on one core.
 *
 * It runs the real protocol logic where it decides anything: every dispute
 * is a bisect/ game (bisect_start, bisect_answer with bisect_answer_build's
 * RFC 9162 consistency proofs, bisect_tick for the chess clocks, and the
 * one step through bisect_reveal_leaf or, for --real-model disputes,
 * bisect_reveal itself); the money follows chain/'s rules, the very
 * functions the referee calls (fee escrow, claim collateral, whole stake
 * slashed, reward_pct to a right challenger, the rest burned, the bond to
 * the executor when a challenge fails); challengers sample
 * with proto_sampled(), the real challenger's function. What it
 * replaces is the cost: traces are synthetic leaf hashes derived from the
 * seed and the job, built only for disputed jobs, and messages are
 * latencies instead of sockets. docs/simulation.md has the model.
 *
 * The same configuration and seed give the same results, byte for byte.
 * Nothing here prints; sim_experiment_run writes files into a folder.
 */
#ifndef RF_SIM_SIM_H
#define RF_SIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chain/chain.h"
#include "protocol/protocol.h"

/* Executor strategies. */
enum sim_exec_kind {
	SIM_EX_HONEST = 0,
	SIM_EX_LIE_AT_OP,   /* lies at one operator (lie_op, or random) */
	SIM_EX_LIE_OUTPUT,  /* lies on the final output only */
	SIM_EX_RANDOM,      /* lazy: random leaves, nothing computed */
	SIM_EX_EQUIVOCATE,  /* a second, different claim for the same job */
	SIM_EX_SILENT,      /* lies, then never answers in a dispute */
	SIM_EX_BAD_PROOF,   /* lies, then answers with bad proofs */
	SIM_EX_COLLUDE,     /* lies; its partner challenger never challenges
			     * it */
	SIM_EX_RATIONAL,    /* lazy only when the expected gain exceeds the
			     * expected loss */
	SIM_EX_COUNT
};

/* Challenger strategies. */
enum sim_chal_kind {
	SIM_CH_HONEST = 0,
	SIM_CH_FALSE,   /* disputes correct claims it samples too */
	SIM_CH_SILENT,  /* disputes like FALSE, then never answers */
	SIM_CH_COLLUDE, /* honest, but never checks its partner executor */
	SIM_CH_COUNT
};

enum sim_policy {
	SIM_POLICY_FIXED = 0,      /* rate p for every claim */
	SIM_POLICY_REPUTATION = 1, /* p_new for new executors, p_flagged
				    * after a lost dispute, else p */
	SIM_POLICY_VALUE = 2,      /* p * fee / mean fee, at most 1 */
};

const char *sim_exec_kind_name(enum sim_exec_kind k);
const char *sim_chal_kind_name(enum sim_chal_kind k);
const char *sim_policy_name(enum sim_policy p);

#define SIM_PATH_MAX 256
#define SIM_MAX_NODES 1000000u
#define SIM_MAX_OPS (1u << 20)
#define SIM_MAX_JOBS 100000000ull

struct sim_config {
	uint64_t seed;
	/* Arrivals: jobs at a Poisson rate (per simulated second), or one
	 * per line of trace_file ("time_us [fee [model]]"). */
	uint64_t jobs;
	double rate;
	double client_rate; /* > 0: rate = client_rate * clients instead */
	uint64_t duration_us; /* > 0: no arrivals after this simulated time */
	char trace_file[SIM_PATH_MAX];

	uint32_t executors, challengers, clients;
	/* Executor e serves model e mod models, challenger c holds model
	 * c mod models: a claim is watched by about challengers/models. */
	uint32_t models;
	uint32_t inputs;   /* job inputs I (leaves the referee knows) */
	uint32_t ops;      /* operators per model: n = I + ops leaves */
	uint64_t op_us;    /* executor compute time per operator */
	double verify_speed; /* challenger re-execution time / executor's */
	uint32_t verify_slots; /* verifications one challenger runs at once */
	/* Challengers also dispute claims they saw already disputed (the
	 * referee accepts concurrent disputes; the real challenger only
	 * disputes claims still CLAIMED). */
	bool join_disputes;

	/* Network: each node's one-way latency to the referee is drawn once
	 * in latency_us * [0.5, 1.5); each message adds jitter in
	 * [0, jitter_us); a message is lost with probability loss and sent
	 * again retry_us later. */
	uint64_t latency_us, jitter_us, retry_us;
	double loss;
	uint64_t answer_us; /* a side's time to build one move */
	uint64_t equivocate_us; /* gap between an equivocator's two claims */

	/* Referee parameters (referee/referee.h). */
	enum proto_hash suite;
	uint64_t window_us, clock_us;
	uint32_t arity;
	uint64_t min_stake, bond;
	uint32_t reward_pct;
	/* Stake each open claim locks (chain_claim; 0: none, the default
	 * here, so a stake covers every claim at risk), and job deadlines
	 * (0: none) with the penalty an executor pays for a job it let
	 * expire. */
	uint64_t claim_collateral;
	uint64_t job_deadline_us, deadline_penalty;

	/* Money. fee is per job (uniform in [fee, fee_max] when fee_max is
	 * larger); stake is what each executor stakes at genesis. */
	uint64_t fee, fee_max, stake;
	uint64_t exec_balance, chal_balance, client_balance;
	/* Off-ledger economics: an honest job costs the executor work_cost;
	 * a cheated one gains cheat_gain instead (docs/simulation.md). */
	uint64_t work_cost, cheat_gain;
	/* A slashed executor stakes again from its balance (as a fresh
	 * identity: its reputation starts over). */
	bool restake;

	/* Populations: share of executors / challengers per strategy (the
	 * rest honest). */
	double ex_mix[SIM_EX_COUNT];
	double ch_mix[SIM_CH_COUNT];
	double cheat_rate; /* share of jobs a cheating executor lies on */
	int64_t lie_op;    /* the operator lie-at-op lies at; -1: random */
	/* The rational cheater's belief about its detection probability;
	 * < 0: 1 - (1 - p)^c from the policy's rate and the challengers
	 * watching its model. */
	double belief;

	/* Sampling. */
	enum sim_policy policy;
	double p, p_new, p_flagged;
	uint32_t new_claims; /* claims before an executor is not new */

	/* Play the first real_model disputes on a generated MLP through the
	 * engine (ops <= SIM_REAL_MAX_OPS) instead of synthetic leaves. */
	uint32_t real_model;
	/* Write one CSV row per job (large). */
	bool jobs_csv;
};

#define SIM_REAL_MAX_OPS 512

/* A small default network: see experiments/default.conf. */
void sim_config_init(struct sim_config *c);

/*
 * Sets one key ("rate", "ex.lie-at-op", "policy", ...; `refute sim
 * --keys` lists them) from its text value. RF_ERR_NOTFOUND for an unknown
 * key, RF_ERR_INVAL for a bad value; ei says which.
 */
int sim_config_set(struct sim_config *c, const char *key, const char *value,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));

/* Checks the whole configuration (counts, shares, limits). */
int sim_config_check(const struct sim_config *c, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

/* Calls fn for every key with its help line (for --keys). */
void sim_config_keys(void (*fn)(void *ctx, const char *key,
    const char *help), void *ctx);

/* ------------------------------------------------------------------ */
/* Results                                                              */
/* ------------------------------------------------------------------ */

/* One decided dispute. */
struct sim_dispute_rec {
	uint64_t job;
	uint8_t exec_kind, chal_kind;
	uint8_t executor_won, challenger_right, reason; /* proto_verdict_reason */
	bool real;          /* played on a real model */
	int64_t lie_op;     /* the executor's first wrong operator, -1: none */
	int64_t op;         /* the operator the game found, -1: none */
	uint32_t rounds;
	uint64_t duration_us; /* challenge at the referee to verdict */
	uint64_t slashed, reward;
};

/* Request kinds the referee serves (what referee load counts). */
enum sim_req {
	SIM_REQ_SUBMIT = 0,
	SIM_REQ_JOB_FETCH,
	SIM_REQ_CLAIM,
	SIM_REQ_CLAIM_STATUS,
	SIM_REQ_CHALLENGE,
	SIM_REQ_ANSWER,
	SIM_REQ_REVEAL,
	SIM_REQ_COUNT
};

const char *sim_req_name(enum sim_req r);

#define SIM_QUANTILES 101

struct sim_result {
	/* Jobs. */
	uint64_t jobs, refused, claims, final, invalid, orphaned;
	uint64_t expired; /* open jobs past their deadline (fee refunded) */
	uint64_t frauds[SIM_EX_COUNT]; /* decided claims that lied */
	uint64_t caught[SIM_EX_COUNT]; /* ... of them invalidated */
	uint64_t honest_invalid;       /* correct claims invalidated (0) */
	uint64_t fraud_value, caught_value; /* the same, weighted by fee */
	uint64_t equivocations;
	uint64_t rational_jobs, rational_cheats;
	/* Work: operators computed by executors and re-executed by
	 * challengers. */
	uint64_t exec_ops, verify_ops, verifications, mismatches;
	uint64_t verify_late; /* started after the claim's window closed */
	/* Disputes. */
	uint64_t disputes, disputes_won_exec, settled, real_disputes;
	uint64_t by_reason[6];
	uint64_t rounds_sum, rounds_max, duration_sum_us, duration_max_us;
	uint64_t lie_found, lie_disputes; /* found op == lied-at op */
	uint64_t one_steps, proofs_checked;
	struct sim_dispute_rec *recs; /* every decided dispute, owned */
	size_t n_recs;
	/* Time to finality of final jobs (arrival to final), and time to
	 * invalidation of frauds, in microseconds. */
	uint64_t final_q[SIM_QUANTILES]; /* quantiles 0, 1%, ..., 100% */
	double final_mean_us;
	double invalid_mean_us;
	/* Referee load. */
	uint64_t req[SIM_REQ_COUNT];
	uint32_t *load; /* requests per simulated second, owned */
	size_t n_load;
	uint64_t load_peak;
	double load_mean;
	/* Ledger. */
	uint64_t minted, total, burned, slashed, rewards, fees_paid,
	    fees_refunded, bonds_lost;
	bool ledger_ok; /* total == minted at every check */
	/* Economics per executor strategy: fees and bonds earned, stake
	 * slashed, work spent, decided jobs. */
	uint64_t st_fees[SIM_EX_COUNT], st_bonds[SIM_EX_COUNT],
	    st_slashed[SIM_EX_COUNT], st_work[SIM_EX_COUNT],
	    st_jobs[SIM_EX_COUNT];
	uint32_t st_nodes[SIM_EX_COUNT];
	/* What the closed form expects: c (challengers that sample a claim
	 * independently at rate p) and 1 - (1 - p)^c. */
	double c_per_claim, closed_detection;
	/* The run. */
	uint64_t events, end_us;
	size_t heap_peak, jobs_peak;
	double wall_s;
	long maxrss_kb;
};

void sim_result_free(struct sim_result *r);

struct sim_progress {
	uint64_t jobs_done, jobs, events, disputes, now_us;
	double wall_s;
};

typedef void (*sim_progress_fn)(void *ctx, const struct sim_progress *p);

/*
 * Runs one simulation to the end (every job final, invalid or orphaned,
 * every dispute decided). progress (may be NULL) is called about every
 * quarter second. r is written on success and then owned by the caller
 * (sim_result_free). RF_ERR_NOMEM, RF_ERR_IO (trace file) or the first
 * protocol error (a bug: the honest moves always verify).
 */
int sim_run(const struct sim_config *c, struct sim_result *r,
    sim_progress_fn progress, void *ctx, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

/*
 * The simulator's ledger: per-account arrays and the shared places.
 * sim_ledger_apply is how a simulation carries out every chain/ rule's
 * effects (roles[party] is an account index, SIM_NOBODY for nobody):
 * checked against the records first (chain_effects_check, as the
 * referee's ledger_apply does), then the tokens move. RF_ERR_INVAL, with
 * nothing moved, when the invariant would break.
 */
#define SIM_NOBODY UINT32_MAX

struct sim_ledger {
	uint64_t *bal, *stk, *lck; /* balance, free stake, locked stake */
	uint64_t escrow, bonds, burned;
};

int sim_ledger_apply(struct sim_ledger *l,
    const uint32_t roles[CHAIN_PARTY_MAX + 1], const struct chain_job *j,
    const struct chain_dispute *d, const struct chain_effects *e,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));

/* P(at least one of c samplers at rate p picks a claim) = 1 - (1 - p)^c,
 * for a real c (computed without libm: the same bits everywhere). */
double sim_closed_detection(double p, double c);

/* The smallest stake that makes cheating unprofitable:
 * S* = ((1 - P) g - P (f - w)) / P, never below 0 (docs/simulation.md). */
double sim_min_stake(double P, double gain, double fee, double work);

/* Wilson score interval for k successes of n at z (3.29: 99.9%). */
void sim_wilson(uint64_t k, uint64_t n, double z, double *lo, double *hi);

/* ------------------------------------------------------------------ */
/* Experiments                                                          */
/* ------------------------------------------------------------------ */

#define SIM_MAX_AXES 3
#define SIM_MAX_VALUES 32
#define SIM_NAME_MAX 64

struct sim_axis {
	char key[SIM_NAME_MAX];
	size_t n;
	char values[SIM_MAX_VALUES][SIM_NAME_MAX];
};

/* What an experiment plots and tabulates. */
enum sim_plot {
	SIM_PLOT_RUN = 0,  /* one network: load over time, finality */
	SIM_PLOT_DETECTION,
	SIM_PLOT_COST,
	SIM_PLOT_STAKE,
	SIM_PLOT_DISPUTE,
	SIM_PLOT_LOAD,
};

struct sim_experiment {
	char name[SIM_NAME_MAX];
	enum sim_plot plot;
	char format[8];    /* "png" or "svg" */
	struct sim_config base;
	size_t n_axes;     /* axis 0 is x, axis 1 the series */
	struct sim_axis axes[SIM_MAX_AXES];
};

void sim_experiment_init(struct sim_experiment *e);

/*
 * Applies one "key = value" or "sweep key = v1 v2 ..." setting (also
 * "name", "plot", "format"). Values of a sweep are separated by spaces
 * or commas; each is checked by sim_config_set at once.
 */
int sim_experiment_set(struct sim_experiment *e, const char *key,
    const char *value, bool sweep, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

/* Reads a config file: one setting per line, '#' starts a comment. ei
 * names the line of the first error. */
int sim_experiment_load(struct sim_experiment *e, const char *path,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));

struct sim_exp_progress {
	size_t run, runs; /* from 1 */
	struct sim_progress p;
};

/*
 * Runs every combination of the axes and writes into dir (created if
 * absent): runs.csv (one row per run), disputes.csv, load.csv (the first
 * run's requests per second), <plot>.csv/.gp and the plot (when gnuplot is
 * installed) and summary.txt. *summary (malloc'd, caller frees; may be
 * NULL) gets the summary's text.
 */
int sim_experiment_run(const struct sim_experiment *e, const char *dir,
    void (*progress)(void *ctx, const struct sim_exp_progress *p),
    void *ctx, char **summary, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

#endif
