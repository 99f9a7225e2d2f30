/*
 * chain/chain.h - Refute's money and job rules as pure functions.
 *
 * Every rule that moves tokens or ends a job lives here once: fee escrow
 * at submission, claim acceptance against stake and collateral, finality
 * at the window's end, a dispute's bond, every verdict outcome,
 * equivocation, reassignment of a slashed executor's jobs, job deadlines,
 * staking and unstaking. A rule takes the records as the caller loaded
 * them (the job, the claim, the dispute, the accounts involved, the
 * network parameters, the time) and returns effects: ledger moves, state
 * changes, events. It does no I/O and has no clock of its own.
 *
 * Parties are named by role (the job's client, the claim's executor, the
 * dispute's challenger, the executor a job is reassigned to): the referee
 * (referee/) maps them to keys and applies the effects in its one
 * transaction; the simulator (sim/) maps them to array indices. Both
 * therefore follow the same rules by construction.
 *
 * Places: an account holds a balance, a free stake and stake locked as
 * claim collateral; a job holds its escrowed fee; a dispute holds its
 * bond; burned tokens are gone. A move takes an amount from one place to
 * another, so every effect list conserves value; nothing here mints
 * (only genesis does). chain_effects_check verifies an effect list
 * against the records it was computed from.
 */
#ifndef RF_CHAIN_H
#define RF_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/protocol.h"

/* Network parameters the rules read (the referee's genesis). */
struct chain_params {
	uint64_t window_ms;        /* challenge window after a claim */
	uint64_t min_stake;        /* an executor needs this much staked */
	uint64_t min_bond;         /* a challenger posts at least this */
	uint32_t reward_pct;       /* share of a slashed stake to the winner */
	uint64_t claim_collateral; /* stake each open claim locks */
	uint64_t job_deadline_ms;  /* an unclaimed job expires after this */
	uint64_t deadline_penalty; /* burned from an executor that let its job
				    * expire */
	uint64_t min_fee;          /* the smallest fee a job may carry */
	uint64_t max_open_jobs;    /* a client's unfinished jobs; 0: no cap */
};

/* The defaults a genesis file may override (docs/disputes.md). */
void chain_params_default(struct chain_params *p);

enum chain_place {
	CHAIN_BALANCE = 1, /* an account's spendable tokens */
	CHAIN_STAKE,       /* an account's free stake */
	CHAIN_LOCKED,      /* an account's stake locked by its open claims */
	CHAIN_ESCROW,      /* the job's escrowed fee */
	CHAIN_BOND,        /* the dispute's bond */
	CHAIN_BURNED,      /* gone for good */
};

/* Who a move or an event is about, by role. */
enum chain_party {
	CHAIN_CLIENT = 1,   /* the job's client */
	CHAIN_EXECUTOR,     /* the job's (claim's) executor */
	CHAIN_CHALLENGER,   /* the dispute's challenger */
	CHAIN_NEW_EXECUTOR, /* the executor a job is reassigned to */
	CHAIN_PARTY_MAX = CHAIN_NEW_EXECUTOR
};

/* An account as loaded by the caller. */
struct chain_account {
	uint64_t balance, stake, locked;
};

/* A job, with its claim's fields once claimed. */
struct chain_job {
	uint8_t state;          /* PROTO_JOB_*; 0 before submission */
	uint64_t fee;           /* escrowed while OPEN, CLAIMED, DISPUTED */
	uint64_t deadline_ms;   /* an OPEN job expires at this time */
	uint64_t window_end_ms; /* CLAIMED: final at this time */
	uint64_t collateral;    /* stake its claim holds locked */
};

enum chain_dispute_state {
	CHAIN_DISPUTE_OPEN = 1,
	CHAIN_DISPUTE_DECIDED = 2,
};

struct chain_dispute {
	uint8_t state; /* enum chain_dispute_state; 0 before it opens */
	uint64_t bond; /* held while open */
};

/*
 * Amount from one party's place to another's. Account places (balance,
 * stake, locked) name the account's party; the shared places name the
 * party they are held for (the job's escrow: CHAIN_CLIENT, the dispute's
 * bond: CHAIN_CHALLENGER) and burned names nobody (0).
 */
struct chain_move {
	uint8_t from_party, from; /* enum chain_party, enum chain_place */
	uint8_t to_party, to;
	uint64_t amount;
};

struct chain_event {
	uint8_t kind;     /* enum proto_event_kind */
	uint8_t subject;  /* enum chain_party */
	bool dispute;     /* names the dispute the rule was called for */
	uint64_t value;
};

#define CHAIN_MAX_MOVES 8
#define CHAIN_MAX_EVENTS 4

struct chain_effects {
	/* A refused request: a PROTO_ERR_* code and why; nothing else is
	 * set. */
	uint32_t refused;
	char why[128];

	struct chain_move moves[CHAIN_MAX_MOVES];
	size_t n_moves;
	struct chain_event events[CHAIN_MAX_EVENTS];
	size_t n_events;

	/* The job: its new state (0: unchanged) and, when set_times, its new
	 * deadline, window end and collateral. */
	uint8_t job_state;
	bool set_times;
	uint64_t deadline_ms, window_end_ms, collateral;
	/* The job now belongs to CHAIN_NEW_EXECUTOR. */
	bool reassigned;

	/* The dispute: its new state (0: unchanged) and verdict reason. */
	uint8_t dispute_state;
	uint8_t reason;          /* PROTO_VERDICT_* when decided */
	uint64_t slashed, reward; /* the verdict's figures */

	/* Work the caller does per record, with the rule named: settle every
	 * other open dispute on the claim (chain_dispute_settle), give every
	 * open job of the slashed executor away (chain_job_reassign), and
	 * clear the collateral of the executor's other open claims (their
	 * locked stake was slashed with the rest). */
	bool settle_others;
	bool reassign_jobs;
	bool claims_uncovered;
};

/* ---- Accounts ------------------------------------------------------ */

/* Balance to free stake. Refused: amount 0, above INT64_MAX or above the
 * balance. */
void chain_stake(const struct chain_params *p, const struct chain_account *a,
    uint64_t amount, struct chain_effects *e);

/*
 * Free stake to balance. Locked stake never moves; while the executor has
 * open jobs or claims (pending > 0) its total stake stays at least
 * min_stake.
 */
void chain_unstake(const struct chain_params *p,
    const struct chain_account *a, uint64_t amount, uint64_t pending,
    struct chain_effects *e);

/* ---- Jobs and claims ----------------------------------------------- */

/*
 * A job submission whose executor is already chosen: the fee goes from
 * the client's balance into escrow; the job is OPEN until now +
 * job_deadline_ms. Refused: a fee below min_fee, the client's
 * open_jobs at max_open_jobs, a balance below the fee.
 */
void chain_submit(const struct chain_params *p,
    const struct chain_account *client, uint64_t fee, uint64_t open_jobs,
    uint64_t now_ms, struct chain_effects *e);

/* Whether an executor's stake (free and locked) lets it take jobs. */
bool chain_executor_eligible(const struct chain_params *p,
    const struct chain_account *a);

/*
 * The assigned executor's claim: claim_collateral moves from its free
 * stake to locked; the job is CLAIMED with its window. Refused: the job
 * not OPEN, its deadline passed, total stake below min_stake, free stake
 * below the collateral.
 */
void chain_claim(const struct chain_params *p, const struct chain_job *j,
    const struct chain_account *executor, uint64_t now_ms,
    struct chain_effects *e);

/* A CLAIMED job whose window has ended: the fee to the executor, its
 * collateral unlocked, the job FINAL. Refused (PROTO_ERR_STATE)
 * otherwise. */
void chain_finalize(const struct chain_params *p, const struct chain_job *j,
    const struct chain_account *executor, uint64_t now_ms,
    struct chain_effects *e);

/*
 * An OPEN job past its deadline: the fee back to the client, the job
 * INVALID, deadline_penalty (at most its free stake) burned from the
 * executor that never claimed it. Refused otherwise.
 */
void chain_job_expire(const struct chain_params *p, const struct chain_job *j,
    const struct chain_account *executor, uint64_t now_ms,
    struct chain_effects *e);

/*
 * The client withdraws its job before any claim: the fee back from
 * escrow to the client's balance, the job CANCELLED; nobody is
 * penalised (the executor had not claimed; the client pays nothing
 * more). Refused (PROTO_ERR_STATE) unless the job is OPEN. Who may
 * cancel (the job's client) is the caller's check.
 */
void chain_job_cancel(const struct chain_params *p, const struct chain_job *j,
    uint64_t now_ms, struct chain_effects *e);

/*
 * An OPEN job of a slashed executor: to CHAIN_NEW_EXECUTOR with a fresh
 * deadline when found, else INVALID with the fee refunded. Jobs in any
 * other state are left alone (refused).
 */
void chain_job_reassign(const struct chain_params *p,
    const struct chain_job *j, bool found, uint64_t now_ms,
    struct chain_effects *e);

/* ---- Disputes ------------------------------------------------------ */

/*
 * Opening a dispute on a claim: the bond from the challenger's balance
 * into the dispute; the job DISPUTED. Refused: a bond below min_bond or
 * above INT64_MAX, a claim not CLAIMED or DISPUTED, the window closed, a
 * balance below the bond.
 */
void chain_challenge(const struct chain_params *p, const struct chain_job *j,
    const struct chain_account *challenger, uint64_t bond, uint64_t now_ms,
    struct chain_effects *e);

/*
 * A decided game. executor_won: the bond to the executor; the claim back
 * in its window when no other dispute on it is open (others_open == 0).
 * Otherwise the claim falls: the executor's whole stake (free and locked)
 * is slashed, reward_pct of it to the challenger when its own root was
 * right (challenger_right), the rest burned; the bond back to a right
 * challenger, burned for a wrong one; the fee refunded unless already
 * paid; the job INVALID; every other dispute settled; the executor's jobs
 * reassigned.
 */
void chain_verdict(const struct chain_params *p, const struct chain_job *j,
    const struct chain_account *executor, const struct chain_dispute *d,
    bool executor_won, bool challenger_right, uint64_t others_open,
    struct chain_effects *e);

/*
 * Proof that the executor signed two different claims for the job. The
 * penalty never depends on who reports it: the whole stake is slashed;
 * reward_pct goes to the challenger of the earliest open dispute on the
 * claim (earliest, may be NULL: it caught the lie first), else nothing
 * is paid and all of it is burned. The reporter is not a party. Refused
 * when the job is already INVALID.
 */
void chain_equivocation(const struct chain_params *p,
    const struct chain_job *j, const struct chain_account *executor,
    const struct chain_dispute *earliest, struct chain_effects *e);

/* Another dispute on a claim already proven false: its bond back to its
 * challenger, decided as SETTLED. Refused when it is not open. */
void chain_dispute_settle(const struct chain_params *p,
    const struct chain_dispute *d, struct chain_effects *e);

/* ---- The invariant -------------------------------------------------- */

/* Records before a rule, indexed by party (absent parties zero). */
struct chain_before {
	struct chain_account acc[CHAIN_PARTY_MAX + 1];
	const struct chain_job *job;         /* may be NULL */
	const struct chain_dispute *dispute; /* may be NULL */
};

/*
 * Checks an effect list against the records it was computed from: every
 * move names a real party and two different places, never takes more
 * than the place holds (nothing goes negative, nothing comes back from
 * burned), and the job's escrow and the dispute's bond afterwards are
 * exactly what their new states hold. Moves conserve value by
 * construction; nothing can mint. RF_OK or RF_ERR_INVAL with ei saying
 * which move broke what.
 */
int chain_effects_check(const struct chain_before *b,
    const struct chain_effects *e, struct rf_errinfo *ei);

#endif
