/*
 * devnet/devnet.h - a whole Refute network on one machine, for demos and
 * integration tests: a referee, executors and challengers as separate
 * processes of the refute binary on loopback TCP, with a generated genesis
 * and keys in a run folder, and an in-process client that submits jobs,
 * follows them to finality and reports what every node did.
 *
 * The launcher owns its children. They run in their own process group, so
 * a terminal's Ctrl-C reaches only the launcher, which then stops them in
 * order (clients of the referee first, the referee last); they get SIGTERM
 * if the launcher dies (Linux parent-death signal); and they are always
 * stopped before devnet_run returns: SIGTERM, then SIGKILL after
 * DEVNET_STOP_MS. Each child logs to <name>.log in the run folder.
 */
#ifndef RF_DEVNET_H
#define RF_DEVNET_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/protocol.h"

#define DEVNET_MAX_EXECUTORS 32
#define DEVNET_MAX_CHALLENGERS 16
#define DEVNET_MAX_JOBS 1000000
/* The referee, the executors, the challengers and the client. */
#define DEVNET_MAX_NODES (2 + DEVNET_MAX_EXECUTORS + DEVNET_MAX_CHALLENGERS)
/* How long a child has to exit after SIGTERM before it gets SIGKILL. */
#define DEVNET_STOP_MS 10000
#define DEVNET_PATH_MAX 512
#define DEVNET_MAX_DISPUTES 4096

enum devnet_phase {
	DEVNET_STARTING = 1,   /* processes starting, registering, staking */
	DEVNET_SUBMITTING = 2, /* the client posts jobs */
	DEVNET_FINALISING = 3, /* waiting for every job to be final */
	DEVNET_VERIFYING = 4,  /* waiting for challengers to record claims */
	DEVNET_STOPPING = 5,
};

/* "starting", "submitting", ... */
const char *devnet_phase_name(enum devnet_phase p);

struct devnet_progress {
	enum devnet_phase phase;
	unsigned jobs;      /* to submit */
	unsigned submitted; /* accepted by the referee */
	unsigned claimed;   /* claims posted */
	unsigned final;
	unsigned invalid;
	double elapsed_s;   /* since devnet_run started */
};

struct devnet_config {
	const char *exe;        /* the refute binary; NULL: this process's */
	const char *dir;        /* run folder, absent or empty; NULL:
				 * run/devnet-<pid> */
	bool keep;              /* keep the run folder (also kept when the
				 * run failed, for its logs) */
	unsigned executors;     /* 1..DEVNET_MAX_EXECUTORS */
	unsigned challengers;   /* 0..DEVNET_MAX_CHALLENGERS */
	unsigned jobs;          /* 1..DEVNET_MAX_JOBS */
	const char *model_kind; /* "mlp", "cnn" or "transformer", generated
				 * with seed 1 (as `refute model gen` does),
				 * or "gpt": a generation graph (generation
				 * jobs, docs/generation.md); when model_file
				 * is NULL */
	const char *model_file; /* a .rfm file instead */
	uint64_t window_ms;     /* challenge window */
	uint64_t seed;          /* job i's input: engine_inputs_random with
				 * seed + i (`refute model run --seed`) */
	uint64_t fee;           /* per job, > 0 */
	double sample_rate;     /* challengers' --rate, 0..1 */
	int port_base;          /* referee requests on P, events on P + 1;
				 * 0: free ports picked at start */
	unsigned timeout_s;     /* for start-up, and again for finality */
	/* Testing faults: executors 1..faulty run with --fault fault
	 * (--fault-op fault_op); challengers 1..faulty_challengers with
	 * --fault challenger_fault. */
	unsigned faulty;
	const char *fault;
	uint32_t fault_op;
	unsigned faulty_challengers;
	const char *challenger_fault;
	uint64_t clock_ms;      /* each side's dispute clock */
	/* Set from a signal handler to wind down early; may be NULL. */
	volatile sig_atomic_t *stop;
	/* Called on every phase change and at most every 100 ms in between;
	 * may be NULL. */
	void (*progress)(void *ctx, const struct devnet_progress *p);
	void *progress_ctx;
};

/* Defaults: 2 executors, 1 challenger, 50 jobs, mlp, window 1000 ms,
 * seed 1, fee 10, rate 1, free ports, timeout 120 s. */
void devnet_config_init(struct devnet_config *c);

enum devnet_role {
	DEVNET_REFEREE = 1,
	DEVNET_EXECUTOR = 2,
	DEVNET_CHALLENGER = 3,
	DEVNET_CLIENT = 4, /* in-process, no log */
};

const char *devnet_role_name(enum devnet_role r);

struct devnet_node {
	char name[32];       /* "referee", "executor-1", ... "client" */
	enum devnet_role role;
	struct proto_pubkey key;
	char log[DEVNET_PATH_MAX]; /* its log file ("" for the client) */
	int pid;             /* 0 when not running as a process */
	bool started;
	int exit_code;       /* once stopped: the exit code, or 128 + the
			      * signal that killed it */
	bool failed;         /* its log is worth reading: it exited early or
			      * not cleanly, or holds a job that never
			      * became final */
	uint64_t balance, stake; /* from the referee's last status */
	unsigned claims;     /* executors: claims of the run they made */
	/* Challengers, from their metrics server on 127.0.0.1:metrics_port
	 * (refute_challenger_records_total), read while they run: */
	int metrics_port;
	unsigned verified;   /* re-executions that matched */
	unsigned mismatches; /* re-executions that did not */
	unsigned skipped;    /* not sampled, no model, or could not re-run */
	bool faulty;         /* runs a testing fault */
	uint64_t slashed;    /* executors: stake slashed */
};

/* One dispute seen in the event log, with its verdict once decided. */
struct devnet_dispute {
	struct proto_digest id, job;
	bool decided;
	bool executor_won;
	bool faulty_executor;  /* the claim was a faulty executor's */
	uint8_t reason;        /* enum proto_verdict_reason */
	uint32_t op, rounds;
	uint64_t slashed, reward;
	uint64_t opened_ms, closed_ms; /* the referee's event times */
	bool verdict_saved;    /* the signed verdict is in the run folder
				* (devnet_verdict_path) */
};

struct devnet_job {
	struct proto_digest job_id;
	uint64_t seed;
	struct proto_pubkey executor;   /* who claimed it */
	struct proto_digest trace_root; /* as claimed */
	uint32_t n;                     /* trace length claimed */
	uint8_t state;                  /* enum proto_job_state; 0 unknown */
	unsigned claim_events;          /* CLAIM_POSTED events seen */
	unsigned final_events;          /* CLAIM_FINAL events seen */
	unsigned disputes;              /* DISPUTE_OPENED events seen */
};

struct devnet_report {
	char dir[DEVNET_PATH_MAX];
	bool kept;
	char model_file[DEVNET_PATH_MAX];
	char model_name[PROTO_MAX_NAME + 1];
	struct proto_digest model_id;
	enum proto_hash suite;
	uint64_t window_ms, seed, fee;
	double sample_rate;
	char referee_url[64], events_url[64];
	unsigned jobs_wanted;    /* asked for */
	unsigned submitted, claimed, final, invalid;
	/* Sums over the challengers (their metrics; a challenger keeps no
	 * per-job record anyone else can read): */
	unsigned verifications, mismatches, skipped;
	uint64_t minted;         /* sum of the genesis balances */
	uint64_t ledger_before, ledger_after; /* the referee's ledger total */
	bool have_before, have_after;
	double elapsed_s;        /* the whole run, start-up and stop included */
	double submit_s;         /* first submission to last */
	double final_s;          /* first submission until every job final */
	bool interrupted;        /* *stop was set */
	size_t n_nodes;
	struct devnet_node nodes[DEVNET_MAX_NODES];
	size_t n_jobs;
	struct devnet_job *jobs; /* n_jobs, in submission order, owned */
	size_t n_disputes;
	struct devnet_dispute *disputes; /* n_disputes, owned */
	uint64_t slashed;        /* stake slashed in all */
	unsigned executor_wins, challenger_wins;
	unsigned faulty_jobs;    /* jobs claimed by faulty executors */
	unsigned faulty_caught;  /* of those, made invalid */
};

/*
 * Runs the network described by cfg: prepares the run folder (model,
 * keys 0600, genesis), starts the referee and waits until it answers,
 * starts the executors and challengers and waits until every executor is
 * registered and staked, submits the jobs, follows the event log until
 * every job is final (or invalid), reads every claim and every verdict
 * (each signed verdict is saved in the run folder), waits until every
 * challenger's metrics count every claim, reads the final status and
 * stops the processes. Nodes are observed only as anyone could: the
 * referee's requests and event log, the challengers' metrics; never a
 * node's database.
 *
 * Returns RF_OK when all of that happened (whether the network behaved is
 * devnet_report_ok's question), or the error that cut it short, with ei
 * saying why: RF_ERR_ABORTED when *cfg->stop was set, RF_ERR_TIMEOUT,
 * RF_ERR_CLOSED when a node exited early, RF_ERR_INVAL for a bad config,
 * others for files and the network. In every case the children have been
 * stopped and *rep says what is known (nodes with failed set have logs
 * worth reading); free it with devnet_report_free.
 */
int devnet_run(const struct devnet_config *cfg, struct devnet_report *rep,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));

void devnet_report_free(struct devnet_report *rep);

/*
 * True when every job was submitted and became final exactly once (or,
 * with faults, invalid), the ledger total was the same before and after,
 * and every node stopped cleanly; without faults every challenger's
 * record must be a match; with faults, every dispute must have been won
 * by the honest side, no honest executor's job may be invalid, and with
 * honest challengers sampling everything every faulty claim must have
 * been caught. Otherwise false with the first reason in why.
 */
bool devnet_report_ok(const struct devnet_report *rep, char *why,
    size_t len);

/* Where dp's signed verdict (the VERDICT message as the referee sent it,
 * `refute audit` reads it) is kept: <dir>/verdicts/<dispute id>.bin.
 * RF_ERR_RANGE when it does not fit. */
int devnet_verdict_path(const struct devnet_report *rep,
    const struct devnet_dispute *dp, char *out, size_t cap);

/* The last `lines` lines of a text file, NUL-terminated in buf (cut at the
 * front to fit). RF_ERR_IO when the file cannot be read. */
int devnet_log_tail(const char *path, unsigned lines, char *buf, size_t cap);

#endif /* RF_DEVNET_H */
