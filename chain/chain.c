/*
 * chain/chain.c - the money and job rules (chain/chain.h). Each rule
 * checks what may refuse first, then writes the effects; nothing here
 * reads a clock or a file.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "chain/chain.h"

void
chain_params_default(struct chain_params *p)
{
	memset(p, 0, sizeof(*p));
	p->window_ms = 3000;
	p->min_stake = 1000;
	p->min_bond = 100;
	p->reward_pct = 50;
	p->claim_collateral = p->min_stake;
	p->job_deadline_ms = 600000;
	p->deadline_penalty = p->min_bond;
	p->min_fee = 1;
	p->max_open_jobs = 1024;
}

static void refuse(struct chain_effects *e, uint32_t code, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
refuse(struct chain_effects *e, uint32_t code, const char *fmt, ...)
{
	memset(e, 0, sizeof(*e));
	e->refused = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->why, sizeof(e->why), fmt, ap);
	va_end(ap);
}

/* Zero amounts are not written: nothing moves. */
static void
transfer(struct chain_effects *e, uint8_t from_party, uint8_t from,
    uint8_t to_party, uint8_t to, uint64_t amount)
{
	if (amount == 0 || e->n_moves == CHAIN_MAX_MOVES) {
		return;
	}
	struct chain_move *m = &e->moves[e->n_moves++];
	m->from_party = from_party;
	m->from = from;
	m->to_party = to_party;
	m->to = to;
	m->amount = amount;
}

/* Within one account. */
static void
move(struct chain_effects *e, uint8_t party, uint8_t from, uint8_t to,
    uint64_t amount)
{
	transfer(e, party, from, party, to, amount);
}

static void
event(struct chain_effects *e, uint8_t kind, uint8_t subject, bool dispute,
    uint64_t value)
{
	if (e->n_events == CHAIN_MAX_EVENTS) {
		return;
	}
	struct chain_event *v = &e->events[e->n_events++];
	v->kind = kind;
	v->subject = subject;
	v->dispute = dispute;
	v->value = value;
}

static bool
escrowed(uint8_t state)
{
	return state == PROTO_JOB_OPEN || state == PROTO_JOB_CLAIMED ||
	    state == PROTO_JOB_DISPUTED;
}

/* pct of x without overflow: x / 100 * pct + x % 100 * pct / 100. */
static uint64_t
share(uint64_t x, uint32_t pct)
{
	return x / 100 * pct + x % 100 * pct / 100;
}

/* ------------------------------------------------------------------ */
/* Accounts                                                             */
/* ------------------------------------------------------------------ */

void
chain_stake(const struct chain_params *p, const struct chain_account *a,
    uint64_t amount, struct chain_effects *e)
{
	(void)p;
	memset(e, 0, sizeof(*e));
	if (amount == 0 || amount > INT64_MAX) {
		refuse(e, PROTO_ERR_INVALID, "amount must be positive");
		return;
	}
	if (a->balance < amount) {
		refuse(e, PROTO_ERR_STAKE, "balance %llu is less than %llu",
		    (unsigned long long)a->balance, (unsigned long long)amount);
		return;
	}
	move(e, CHAIN_EXECUTOR, CHAIN_BALANCE, CHAIN_STAKE, amount);
}

void
chain_unstake(const struct chain_params *p, const struct chain_account *a,
    uint64_t amount, uint64_t pending, struct chain_effects *e)
{
	memset(e, 0, sizeof(*e));
	if (amount == 0 || amount > INT64_MAX) {
		refuse(e, PROTO_ERR_INVALID, "amount must be positive");
		return;
	}
	if (a->stake < amount) {
		/* Locked stake backs open claims: it never leaves early. */
		refuse(e, PROTO_ERR_STAKE, "free stake %llu is less than %llu "
		    "(%llu locked by open claims)", (unsigned long long)a->stake,
		    (unsigned long long)amount, (unsigned long long)a->locked);
		return;
	}
	if (pending > 0 && a->stake + a->locked - amount < p->min_stake) {
		refuse(e, PROTO_ERR_STATE, "%llu jobs or claims are pending: "
		    "stake must stay at least %llu", (unsigned long long)pending,
		    (unsigned long long)p->min_stake);
		return;
	}
	move(e, CHAIN_EXECUTOR, CHAIN_STAKE, CHAIN_BALANCE, amount);
}

/* ------------------------------------------------------------------ */
/* Jobs and claims                                                      */
/* ------------------------------------------------------------------ */

void
chain_submit(const struct chain_params *p, const struct chain_account *client,
    uint64_t fee, uint64_t open_jobs, uint64_t now_ms,
    struct chain_effects *e)
{
	memset(e, 0, sizeof(*e));
	if (fee > INT64_MAX) {
		refuse(e, PROTO_ERR_INVALID, "fee too large");
		return;
	}
	if (fee < p->min_fee) {
		refuse(e, PROTO_ERR_STAKE, "the fee must be at least %llu",
		    (unsigned long long)p->min_fee);
		return;
	}
	if (p->max_open_jobs > 0 && open_jobs >= p->max_open_jobs) {
		refuse(e, PROTO_ERR_STATE, "the client has %llu unfinished jobs, "
		    "the most allowed", (unsigned long long)open_jobs);
		return;
	}
	if (client->balance < fee) {
		refuse(e, PROTO_ERR_STAKE, "balance is less than the fee %llu",
		    (unsigned long long)fee);
		return;
	}
	move(e, CHAIN_CLIENT, CHAIN_BALANCE, CHAIN_ESCROW, fee);
	e->job_state = PROTO_JOB_OPEN;
	e->set_times = true;
	e->deadline_ms = now_ms + p->job_deadline_ms;
	event(e, PROTO_EVENT_JOB_ASSIGNED, CHAIN_EXECUTOR, false, fee);
}

bool
chain_executor_eligible(const struct chain_params *p,
    const struct chain_account *a)
{
	return a->stake + a->locked >= p->min_stake;
}

void
chain_claim(const struct chain_params *p, const struct chain_job *j,
    const struct chain_account *x, uint64_t now_ms, struct chain_effects *e)
{
	memset(e, 0, sizeof(*e));
	if (j->state != PROTO_JOB_OPEN) {
		refuse(e, PROTO_ERR_STATE, "the job is not open");
		return;
	}
	if (now_ms >= j->deadline_ms) {
		refuse(e, PROTO_ERR_STATE, "the job's deadline has passed");
		return;
	}
	if (!chain_executor_eligible(p, x)) {
		refuse(e, PROTO_ERR_STAKE, "stake %llu is below the minimum %llu",
		    (unsigned long long)(x->stake + x->locked),
		    (unsigned long long)p->min_stake);
		return;
	}
	if (x->stake < p->claim_collateral) {
		refuse(e, PROTO_ERR_STAKE, "free stake %llu is below the claim "
		    "collateral %llu (%llu locked by open claims)",
		    (unsigned long long)x->stake,
		    (unsigned long long)p->claim_collateral,
		    (unsigned long long)x->locked);
		return;
	}
	move(e, CHAIN_EXECUTOR, CHAIN_STAKE, CHAIN_LOCKED, p->claim_collateral);
	e->job_state = PROTO_JOB_CLAIMED;
	e->set_times = true;
	e->deadline_ms = j->deadline_ms;
	e->window_end_ms = now_ms + p->window_ms;
	e->collateral = p->claim_collateral;
	event(e, PROTO_EVENT_CLAIM_POSTED, CHAIN_EXECUTOR, false,
	    e->window_end_ms);
}

void
chain_finalize(const struct chain_params *p, const struct chain_job *j,
    const struct chain_account *x, uint64_t now_ms, struct chain_effects *e)
{
	(void)p;
	(void)x;
	memset(e, 0, sizeof(*e));
	if (j->state != PROTO_JOB_CLAIMED || now_ms < j->window_end_ms) {
		refuse(e, PROTO_ERR_STATE, "the claim is not due");
		return;
	}
	move(e, CHAIN_EXECUTOR, CHAIN_LOCKED, CHAIN_STAKE, j->collateral);
	transfer(e, CHAIN_CLIENT, CHAIN_ESCROW, CHAIN_EXECUTOR, CHAIN_BALANCE,
	    j->fee);
	e->job_state = PROTO_JOB_FINAL;
	e->set_times = true;
	e->deadline_ms = j->deadline_ms;
	e->window_end_ms = j->window_end_ms;
	e->collateral = 0;
	event(e, PROTO_EVENT_CLAIM_FINAL, CHAIN_EXECUTOR, false, j->fee);
}

void
chain_job_expire(const struct chain_params *p, const struct chain_job *j,
    const struct chain_account *x, uint64_t now_ms, struct chain_effects *e)
{
	memset(e, 0, sizeof(*e));
	if (j->state != PROTO_JOB_OPEN || now_ms < j->deadline_ms) {
		refuse(e, PROTO_ERR_STATE, "the job is not past its deadline");
		return;
	}
	/* Burned, not paid to the client: a client must not earn from
	 * sending jobs to an executor it knows is down. */
	uint64_t penalty = p->deadline_penalty < x->stake ?
	    p->deadline_penalty : x->stake;
	move(e, CHAIN_CLIENT, CHAIN_ESCROW, CHAIN_BALANCE, j->fee);
	transfer(e, CHAIN_EXECUTOR, CHAIN_STAKE, 0, CHAIN_BURNED, penalty);
	e->job_state = PROTO_JOB_INVALID;
	e->slashed = penalty;
	event(e, PROTO_EVENT_CLAIM_INVALID, CHAIN_EXECUTOR, false, 0);
	if (penalty > 0) {
		event(e, PROTO_EVENT_NODE_SLASHED, CHAIN_EXECUTOR, false, penalty);
	}
}

void
chain_job_cancel(const struct chain_params *p, const struct chain_job *j,
    uint64_t now_ms, struct chain_effects *e)
{
	(void)p;
	(void)now_ms;
	memset(e, 0, sizeof(*e));
	if (j->state != PROTO_JOB_OPEN) {
		refuse(e, PROTO_ERR_STATE, "the job is %s: only an open job "
		    "(no claim yet) can be cancelled",
		    proto_job_state_name(j->state));
		return;
	}
	move(e, CHAIN_CLIENT, CHAIN_ESCROW, CHAIN_BALANCE, j->fee);
	e->job_state = PROTO_JOB_CANCELLED;
}

void
chain_job_reassign(const struct chain_params *p, const struct chain_job *j,
    bool found, uint64_t now_ms, struct chain_effects *e)
{
	memset(e, 0, sizeof(*e));
	if (j->state != PROTO_JOB_OPEN) {
		refuse(e, PROTO_ERR_STATE, "the job is not open");
		return;
	}
	if (found) {
		/* The new executor gets the whole deadline: the old one's
		 * silence is not its fault. */
		e->reassigned = true;
		e->set_times = true;
		e->deadline_ms = now_ms + p->job_deadline_ms;
		event(e, PROTO_EVENT_JOB_ASSIGNED, CHAIN_NEW_EXECUTOR, false,
		    j->fee);
		return;
	}
	move(e, CHAIN_CLIENT, CHAIN_ESCROW, CHAIN_BALANCE, j->fee);
	e->job_state = PROTO_JOB_INVALID;
	event(e, PROTO_EVENT_CLAIM_INVALID, CHAIN_EXECUTOR, false, 0);
}

/* ------------------------------------------------------------------ */
/* Disputes                                                             */
/* ------------------------------------------------------------------ */

void
chain_challenge(const struct chain_params *p, const struct chain_job *j,
    const struct chain_account *c, uint64_t bond, uint64_t now_ms,
    struct chain_effects *e)
{
	memset(e, 0, sizeof(*e));
	if (bond < p->min_bond || bond > INT64_MAX) {
		refuse(e, PROTO_ERR_STAKE, "the bond must be at least %llu",
		    (unsigned long long)p->min_bond);
		return;
	}
	if (j->state != PROTO_JOB_CLAIMED && j->state != PROTO_JOB_DISPUTED) {
		refuse(e, PROTO_ERR_STATE, "the claim is not open to challenge");
		return;
	}
	if (now_ms >= j->window_end_ms) {
		refuse(e, PROTO_ERR_STATE, "the challenge window has closed");
		return;
	}
	if (c->balance < bond) {
		refuse(e, PROTO_ERR_STAKE, "balance is less than the bond");
		return;
	}
	move(e, CHAIN_CHALLENGER, CHAIN_BALANCE, CHAIN_BOND, bond);
	e->job_state = PROTO_JOB_DISPUTED;
	e->dispute_state = CHAIN_DISPUTE_OPEN;
	event(e, PROTO_EVENT_DISPUTE_OPENED, CHAIN_CHALLENGER, true, bond);
}

/* The claim is false: slash the whole stake, pay the challenger when
 * pay_challenger, burn the rest, refund the fee, invalidate. */
static void
claim_falls(const struct chain_params *p, const struct chain_job *j,
    const struct chain_account *x, bool pay_challenger,
    struct chain_effects *e)
{
	/* Locked collateral included: a lie costs everything the executor
	 * has at risk. */
	uint64_t slashed = x->stake + x->locked;
	uint64_t reward = pay_challenger ? share(slashed, p->reward_pct) : 0;
	/* The reward comes from free stake first, then from locked. */
	uint64_t r_free = reward < x->stake ? reward : x->stake;
	uint64_t r_locked = reward - r_free;
	transfer(e, CHAIN_EXECUTOR, CHAIN_STAKE, CHAIN_CHALLENGER, CHAIN_BALANCE,
	    r_free);
	transfer(e, CHAIN_EXECUTOR, CHAIN_LOCKED, CHAIN_CHALLENGER,
	    CHAIN_BALANCE, r_locked);
	transfer(e, CHAIN_EXECUTOR, CHAIN_STAKE, 0, CHAIN_BURNED,
	    x->stake - r_free);
	transfer(e, CHAIN_EXECUTOR, CHAIN_LOCKED, 0, CHAIN_BURNED,
	    x->locked - r_locked);
	if (escrowed(j->state)) {
		move(e, CHAIN_CLIENT, CHAIN_ESCROW, CHAIN_BALANCE, j->fee);
	}
	e->slashed = slashed;
	e->reward = reward;
	e->job_state = PROTO_JOB_INVALID;
	e->settle_others = true;
	e->reassign_jobs = true;
	e->claims_uncovered = true;
	event(e, PROTO_EVENT_CLAIM_INVALID, CHAIN_EXECUTOR, false, 0);
}

void
chain_verdict(const struct chain_params *p, const struct chain_job *j,
    const struct chain_account *x, const struct chain_dispute *d,
    bool executor_won, bool challenger_right, uint64_t others_open,
    struct chain_effects *e)
{
	memset(e, 0, sizeof(*e));
	if (d->state != CHAIN_DISPUTE_OPEN) {
		refuse(e, PROTO_ERR_STATE, "the dispute is decided");
		return;
	}
	e->dispute_state = CHAIN_DISPUTE_DECIDED;
	if (executor_won) {
		/* A false challenge: the bond pays the executor's time. */
		transfer(e, CHAIN_CHALLENGER, CHAIN_BOND, CHAIN_EXECUTOR,
		    CHAIN_BALANCE, d->bond);
		e->slashed = d->bond;
		e->reward = d->bond;
		if (others_open == 0 && j->state == PROTO_JOB_DISPUTED) {
			/* Back in its window; finalised at its end. */
			e->job_state = PROTO_JOB_CLAIMED;
		}
		event(e, PROTO_EVENT_DISPUTE_CLOSED, CHAIN_CHALLENGER, true,
		    d->bond);
		return;
	}
	claim_falls(p, j, x, challenger_right, e);
	/* A challenger whose own root was wrong too proved nothing: its bond
	 * is burned, so a made-up trace never pays. */
	if (challenger_right) {
		move(e, CHAIN_CHALLENGER, CHAIN_BOND, CHAIN_BALANCE, d->bond);
	} else {
		transfer(e, CHAIN_CHALLENGER, CHAIN_BOND, 0, CHAIN_BURNED,
		    d->bond);
	}
	event(e, PROTO_EVENT_NODE_SLASHED, CHAIN_EXECUTOR, true, e->slashed);
	event(e, PROTO_EVENT_DISPUTE_CLOSED, CHAIN_EXECUTOR, true, e->slashed);
}

void
chain_equivocation(const struct chain_params *p, const struct chain_job *j,
    const struct chain_account *x, const struct chain_dispute *earliest,
    struct chain_effects *e)
{
	memset(e, 0, sizeof(*e));
	if (j->state == PROTO_JOB_INVALID) {
		refuse(e, PROTO_ERR_STATE, "the claim is already void");
		return;
	}
	bool caught = earliest != NULL && earliest->state == CHAIN_DISPUTE_OPEN;
	claim_falls(p, j, x, caught, e);
	event(e, PROTO_EVENT_NODE_SLASHED, CHAIN_EXECUTOR, false, e->slashed);
}

void
chain_dispute_settle(const struct chain_params *p,
    const struct chain_dispute *d, struct chain_effects *e)
{
	(void)p;
	memset(e, 0, sizeof(*e));
	if (d->state != CHAIN_DISPUTE_OPEN) {
		refuse(e, PROTO_ERR_STATE, "the dispute is decided");
		return;
	}
	move(e, CHAIN_CHALLENGER, CHAIN_BOND, CHAIN_BALANCE, d->bond);
	e->dispute_state = CHAIN_DISPUTE_DECIDED;
	e->reason = PROTO_VERDICT_SETTLED;
	event(e, PROTO_EVENT_DISPUTE_CLOSED, CHAIN_EXECUTOR, true, 0);
}

/* ------------------------------------------------------------------ */
/* The invariant                                                        */
/* ------------------------------------------------------------------ */

static bool
account_place(uint8_t pl)
{
	return pl == CHAIN_BALANCE || pl == CHAIN_STAKE || pl == CHAIN_LOCKED;
}

static uint64_t *
slot(struct chain_account *acc, uint8_t party, uint8_t place,
    uint64_t *escrow, uint64_t *bond, uint64_t *burned)
{
	switch (place) {
	case CHAIN_BALANCE:
		return &acc[party].balance;
	case CHAIN_STAKE:
		return &acc[party].stake;
	case CHAIN_LOCKED:
		return &acc[party].locked;
	case CHAIN_ESCROW:
		return escrow;
	case CHAIN_BOND:
		return bond;
	case CHAIN_BURNED:
		return burned;
	default:
		return NULL;
	}
}

int
chain_effects_check(const struct chain_before *b,
    const struct chain_effects *e, struct rf_errinfo *ei)
{
	struct chain_account acc[CHAIN_PARTY_MAX + 1];
	memcpy(acc, b->acc, sizeof(acc));
	const struct chain_job *j = b->job;
	const struct chain_dispute *d = b->dispute;
	uint64_t escrow = j != NULL && escrowed(j->state) ? j->fee : 0;
	uint64_t bond = d != NULL && d->state == CHAIN_DISPUTE_OPEN ? d->bond : 0;
	uint64_t burned = 0;
	if (e->refused != 0) {
		return e->n_moves == 0 && e->n_events == 0 && e->job_state == 0 &&
		    e->dispute_state == 0 ? RF_OK : rf_errf(ei, RF_ERR_INVAL,
		    "a refusal with effects");
	}
	for (size_t i = 0; i < e->n_moves; i++) {
		const struct chain_move *m = &e->moves[i];
		bool fa = account_place(m->from), ta = account_place(m->to);
		if (m->from == m->to && m->from_party == m->to_party) {
			return rf_errf(ei, RF_ERR_INVAL, "move %zu goes nowhere", i);
		}
		if (m->from == CHAIN_BURNED) {
			return rf_errf(ei, RF_ERR_INVAL, "move %zu takes from burned",
			    i);
		}
		if ((fa && (m->from_party < 1 || m->from_party > CHAIN_PARTY_MAX))
		    || (ta && (m->to_party < 1 || m->to_party > CHAIN_PARTY_MAX))) {
			return rf_errf(ei, RF_ERR_INVAL, "move %zu names no account",
			    i);
		}
		uint64_t *from = slot(acc, m->from_party, m->from, &escrow, &bond,
		    &burned);
		uint64_t *to = slot(acc, m->to_party, m->to, &escrow, &bond,
		    &burned);
		if (from == NULL || to == NULL) {
			return rf_errf(ei, RF_ERR_INVAL, "move %zu: no such place", i);
		}
		if (*from < m->amount) {
			return rf_errf(ei, RF_ERR_INVAL, "move %zu takes %llu from a "
			    "place holding %llu", i, (unsigned long long)m->amount,
			    (unsigned long long)*from);
		}
		if (*to > UINT64_MAX - m->amount) {
			return rf_errf(ei, RF_ERR_INVAL, "move %zu overflows", i);
		}
		*from -= m->amount;
		*to += m->amount;
	}
	if (j != NULL || e->job_state != 0) {
		uint8_t s = e->job_state != 0 ? e->job_state :
		    j != NULL ? j->state : 0;
		uint64_t fee = j != NULL ? j->fee : 0;
		/* Before submission the record carries the fee asked. */
		uint64_t want = escrowed(s) ? fee : 0;
		if (escrow != want) {
			return rf_errf(ei, RF_ERR_INVAL, "the job's escrow is %llu "
			    "after the rule, its state holds %llu",
			    (unsigned long long)escrow, (unsigned long long)want);
		}
	}
	if (d != NULL) {
		uint8_t s = e->dispute_state != 0 ? e->dispute_state : d->state;
		/* Before it opens the record carries the bond offered. */
		uint64_t want = s == CHAIN_DISPUTE_OPEN ? d->bond : 0;
		if (bond != want) {
			return rf_errf(ei, RF_ERR_INVAL, "the dispute's bond is %llu "
			    "after the rule, its state holds %llu",
			    (unsigned long long)bond, (unsigned long long)want);
		}
	}
	return RF_OK;
}
