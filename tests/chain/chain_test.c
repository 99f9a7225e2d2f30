/*
 * tests/chain/chain_test.c - every money and job rule of chain/, and the
 * ledger invariant (chain_effects_check) on every effect list a rule
 * returns. Each test applies the effects to a small ledger of its own and
 * checks where every token went.
 */
#include <string.h>

#include "chain/chain.h"
#include "tests/testlib.h"

/* A ledger: the accounts by party, the job's escrow, the dispute's bond
 * and burned tokens, with its total. */
struct book {
	struct chain_account acc[CHAIN_PARTY_MAX + 1];
	uint64_t escrow, bond, burned;
};

static uint64_t
total(const struct book *k)
{
	uint64_t t = k->escrow + k->bond + k->burned;
	for (int i = 1; i <= CHAIN_PARTY_MAX; i++) {
		t += k->acc[i].balance + k->acc[i].stake + k->acc[i].locked;
	}
	return t;
}

static uint64_t *
place(struct book *k, uint8_t party, uint8_t pl)
{
	switch (pl) {
	case CHAIN_BALANCE:
		return &k->acc[party].balance;
	case CHAIN_STAKE:
		return &k->acc[party].stake;
	case CHAIN_LOCKED:
		return &k->acc[party].locked;
	case CHAIN_ESCROW:
		return &k->escrow;
	case CHAIN_BOND:
		return &k->bond;
	default:
		return &k->burned;
	}
}

/* Checks the invariant on e, then applies it; the total must not move. */
static void
apply(struct book *k, const struct chain_job *j, const struct chain_dispute *d,
    const struct chain_effects *e)
{
	struct chain_before b;
	memset(&b, 0, sizeof(b));
	memcpy(b.acc, k->acc, sizeof(b.acc));
	b.job = j;
	b.dispute = d;
	struct rf_errinfo ei = { "" };
	int err = chain_effects_check(&b, e, &ei);
	if (err != RF_OK) {
		printf("\ninvariant: %s\n", ei.msg);
	}
	CU_ASSERT_EQUAL(err, RF_OK);
	uint64_t before = total(k);
	for (size_t i = 0; i < e->n_moves; i++) {
		const struct chain_move *m = &e->moves[i];
		*place(k, m->from_party, m->from) -= m->amount;
		*place(k, m->to_party, m->to) += m->amount;
	}
	CU_ASSERT_EQUAL(total(k), before);
}

static struct chain_params P;

static int
init(void)
{
	chain_params_default(&P);
	P.window_ms = 1000;
	P.min_stake = 1000;
	P.claim_collateral = 1000;
	P.min_bond = 100;
	P.reward_pct = 50;
	P.job_deadline_ms = 5000;
	P.deadline_penalty = 100;
	P.min_fee = 1;
	P.max_open_jobs = 3;
	return 0;
}

/* A client with 1000, an executor with 2000 staked, a challenger with
 * 1000; a job of fee 10 submitted at t = 0 and claimed at t = 100. */
static void
claimed(struct book *k, struct chain_job *j)
{
	memset(k, 0, sizeof(*k));
	memset(j, 0, sizeof(*j));
	k->acc[CHAIN_CLIENT].balance = 1000;
	k->acc[CHAIN_EXECUTOR].stake = 2000;
	k->acc[CHAIN_CHALLENGER].balance = 1000;
	struct chain_effects e;
	j->fee = 10;
	chain_submit(&P, &k->acc[CHAIN_CLIENT], 10, 0, 0, &e);
	CU_ASSERT_EQUAL_FATAL(e.refused, 0);
	apply(k, j, NULL, &e);
	j->state = e.job_state;
	j->deadline_ms = e.deadline_ms;
	chain_claim(&P, j, &k->acc[CHAIN_EXECUTOR], 100, &e);
	CU_ASSERT_EQUAL_FATAL(e.refused, 0);
	apply(k, j, NULL, &e);
	j->state = e.job_state;
	j->window_end_ms = e.window_end_ms;
	j->collateral = e.collateral;
}

static void
test_stake(void)
{
	struct book k;
	memset(&k, 0, sizeof(k));
	k.acc[CHAIN_EXECUTOR].balance = 500;
	struct chain_effects e;
	chain_stake(&P, &k.acc[CHAIN_EXECUTOR], 600, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STAKE);
	chain_stake(&P, &k.acc[CHAIN_EXECUTOR], 0, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_INVALID);
	chain_stake(&P, &k.acc[CHAIN_EXECUTOR], 400, &e);
	apply(&k, NULL, NULL, &e);
	CU_ASSERT_EQUAL(k.acc[CHAIN_EXECUTOR].stake, 400);
	/* Unstaking: free stake only, and min_stake kept while pending. */
	k.acc[CHAIN_EXECUTOR].stake = 1500;
	k.acc[CHAIN_EXECUTOR].locked = 1000;
	chain_unstake(&P, &k.acc[CHAIN_EXECUTOR], 1600, 0, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STAKE); /* locked never moves */
	chain_unstake(&P, &k.acc[CHAIN_EXECUTOR], 1600, 1, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STAKE);
	chain_unstake(&P, &k.acc[CHAIN_EXECUTOR], 1500, 1, &e);
	CU_ASSERT_EQUAL(e.refused, 0); /* 1000 locked still covers min */
	chain_unstake(&P, &k.acc[CHAIN_EXECUTOR], 1500, 0, &e);
	apply(&k, NULL, NULL, &e);
	CU_ASSERT_EQUAL(k.acc[CHAIN_EXECUTOR].stake, 0);
	CU_ASSERT_EQUAL(k.acc[CHAIN_EXECUTOR].locked, 1000);
	k.acc[CHAIN_EXECUTOR].stake = 500;
	k.acc[CHAIN_EXECUTOR].locked = 0;
	chain_unstake(&P, &k.acc[CHAIN_EXECUTOR], 100, 1, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STATE);
}

static void
test_submit(void)
{
	struct chain_account c = { 5, 0, 0 };
	struct chain_effects e;
	chain_submit(&P, &c, 0, 0, 0, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STAKE); /* below min_fee */
	chain_submit(&P, &c, 6, 0, 0, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STAKE); /* balance */
	chain_submit(&P, &c, (uint64_t)INT64_MAX + 1, 0, 0, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_INVALID);
	chain_submit(&P, &c, 5, 3, 0, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STATE); /* the quota */
	struct book k;
	memset(&k, 0, sizeof(k));
	k.acc[CHAIN_CLIENT] = c;
	struct chain_job j = { 0, 5, 0, 0, 0 };
	chain_submit(&P, &c, 5, 2, 7, &e);
	CU_ASSERT_EQUAL(e.refused, 0);
	apply(&k, &j, NULL, &e);
	CU_ASSERT_EQUAL(k.escrow, 5);
	CU_ASSERT_EQUAL(k.acc[CHAIN_CLIENT].balance, 0);
	CU_ASSERT_EQUAL(e.job_state, PROTO_JOB_OPEN);
	CU_ASSERT_EQUAL(e.deadline_ms, 7 + P.job_deadline_ms);
	CU_ASSERT_EQUAL(e.n_events, 1);
	CU_ASSERT_EQUAL(e.events[0].kind, PROTO_EVENT_JOB_ASSIGNED);
}

static void
test_claim_and_final(void)
{
	struct book k;
	struct chain_job j;
	claimed(&k, &j);
	CU_ASSERT_EQUAL(k.acc[CHAIN_EXECUTOR].stake, 1000);
	CU_ASSERT_EQUAL(k.acc[CHAIN_EXECUTOR].locked, 1000);
	CU_ASSERT_EQUAL(j.window_end_ms, 1100);
	struct chain_effects e;
	/* A second claim on it, a claim after the deadline. */
	chain_claim(&P, &j, &k.acc[CHAIN_EXECUTOR], 200, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STATE);
	struct chain_job open = { PROTO_JOB_OPEN, 1, 5000, 0, 0 };
	chain_claim(&P, &open, &k.acc[CHAIN_EXECUTOR], 5000, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STATE);
	/* Not final before the window's end. */
	chain_finalize(&P, &j, &k.acc[CHAIN_EXECUTOR], 1099, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STATE);
	chain_finalize(&P, &j, &k.acc[CHAIN_EXECUTOR], 1100, &e);
	CU_ASSERT_EQUAL(e.refused, 0);
	apply(&k, &j, NULL, &e);
	CU_ASSERT_EQUAL(e.job_state, PROTO_JOB_FINAL);
	CU_ASSERT_EQUAL(k.acc[CHAIN_EXECUTOR].balance, 10);
	CU_ASSERT_EQUAL(k.acc[CHAIN_EXECUTOR].stake, 2000);
	CU_ASSERT_EQUAL(k.acc[CHAIN_EXECUTOR].locked, 0);
	CU_ASSERT_EQUAL(k.escrow, 0);
}

/* Finding 7: one stake covers one claim at a time. */
static void
test_collateral(void)
{
	struct book k;
	memset(&k, 0, sizeof(k));
	k.acc[CHAIN_EXECUTOR].stake = 1000;
	struct chain_job a = { PROTO_JOB_OPEN, 1, 5000, 0, 0 };
	struct chain_job b = a;
	struct chain_effects e;
	k.escrow = 1;
	chain_claim(&P, &a, &k.acc[CHAIN_EXECUTOR], 10, &e);
	CU_ASSERT_EQUAL_FATAL(e.refused, 0);
	apply(&k, &a, NULL, &e);
	a.state = e.job_state;
	a.window_end_ms = e.window_end_ms;
	a.collateral = e.collateral;
	/* Still eligible (stake and locked), but nothing free to lock. */
	CU_ASSERT(chain_executor_eligible(&P, &k.acc[CHAIN_EXECUTOR]));
	chain_claim(&P, &b, &k.acc[CHAIN_EXECUTOR], 20, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STAKE);
	chain_finalize(&P, &a, &k.acc[CHAIN_EXECUTOR], a.window_end_ms, &e);
	apply(&k, &a, NULL, &e);
	chain_claim(&P, &b, &k.acc[CHAIN_EXECUTOR], a.window_end_ms, &e);
	CU_ASSERT_EQUAL(e.refused, 0);
	/* Below min_stake in total: no claim at all. */
	k.acc[CHAIN_EXECUTOR].stake = 999;
	chain_claim(&P, &b, &k.acc[CHAIN_EXECUTOR], 20, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STAKE);
}

static void
open_dispute(struct book *k, struct chain_job *j, struct chain_dispute *d,
    uint64_t bond)
{
	struct chain_effects e;
	memset(d, 0, sizeof(*d));
	d->bond = bond;
	chain_challenge(&P, j, &k->acc[CHAIN_CHALLENGER], bond, 200, &e);
	CU_ASSERT_EQUAL_FATAL(e.refused, 0);
	apply(k, j, d, &e);
	j->state = e.job_state;
	d->state = e.dispute_state;
}

static void
test_challenge(void)
{
	struct book k;
	struct chain_job j;
	claimed(&k, &j);
	struct chain_effects e;
	chain_challenge(&P, &j, &k.acc[CHAIN_CHALLENGER], 99, 200, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STAKE);
	chain_challenge(&P, &j, &k.acc[CHAIN_CHALLENGER], 1001, 200, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STAKE);
	chain_challenge(&P, &j, &k.acc[CHAIN_CHALLENGER], 100, 1100, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STATE);
	struct chain_job fin = j;
	fin.state = PROTO_JOB_FINAL;
	chain_challenge(&P, &fin, &k.acc[CHAIN_CHALLENGER], 100, 200, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STATE);
	struct chain_dispute d;
	open_dispute(&k, &j, &d, 100);
	CU_ASSERT_EQUAL(j.state, PROTO_JOB_DISPUTED);
	CU_ASSERT_EQUAL(k.bond, 100);
	CU_ASSERT_EQUAL(k.acc[CHAIN_CHALLENGER].balance, 900);
	/* A disputed claim is never final. */
	chain_finalize(&P, &j, &k.acc[CHAIN_EXECUTOR], 5000, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STATE);
}

static void
test_false_challenge(void)
{
	struct book k;
	struct chain_job j;
	claimed(&k, &j);
	struct chain_dispute d;
	open_dispute(&k, &j, &d, 100);
	struct chain_effects e;
	/* Another dispute still open: the claim stays disputed. */
	chain_verdict(&P, &j, &k.acc[CHAIN_EXECUTOR], &d, true, false, 1, &e);
	CU_ASSERT_EQUAL(e.job_state, 0);
	chain_verdict(&P, &j, &k.acc[CHAIN_EXECUTOR], &d, true, false, 0, &e);
	apply(&k, &j, &d, &e);
	CU_ASSERT_EQUAL(e.job_state, PROTO_JOB_CLAIMED);
	CU_ASSERT_EQUAL(e.dispute_state, CHAIN_DISPUTE_DECIDED);
	CU_ASSERT_EQUAL(k.acc[CHAIN_EXECUTOR].balance, 100);
	CU_ASSERT_EQUAL(k.acc[CHAIN_CHALLENGER].balance, 900);
	CU_ASSERT_EQUAL(k.acc[CHAIN_EXECUTOR].stake + k.acc[CHAIN_EXECUTOR].locked,
	    2000);
	CU_ASSERT(!e.settle_others && !e.reassign_jobs);
	d.state = CHAIN_DISPUTE_DECIDED;
	chain_verdict(&P, &j, &k.acc[CHAIN_EXECUTOR], &d, true, false, 0, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STATE); /* decided once */
}

static void
test_claim_falls(void)
{
	for (int right = 0; right < 2; right++) {
		struct book k;
		struct chain_job j;
		claimed(&k, &j);
		struct chain_dispute d;
		open_dispute(&k, &j, &d, 100);
		struct chain_effects e;
		chain_verdict(&P, &j, &k.acc[CHAIN_EXECUTOR], &d, false, right != 0,
		    0, &e);
		apply(&k, &j, &d, &e);
		CU_ASSERT_EQUAL(e.job_state, PROTO_JOB_INVALID);
		CU_ASSERT_EQUAL(e.slashed, 2000);
		CU_ASSERT_EQUAL(e.reward, right ? 1000 : 0);
		CU_ASSERT_EQUAL(k.acc[CHAIN_EXECUTOR].stake, 0);
		CU_ASSERT_EQUAL(k.acc[CHAIN_EXECUTOR].locked, 0);
		CU_ASSERT_EQUAL(k.acc[CHAIN_CLIENT].balance, 1000); /* refunded */
		CU_ASSERT_EQUAL(k.acc[CHAIN_CHALLENGER].balance,
		    right ? 1000 + 1000 : 900);
		CU_ASSERT_EQUAL(k.burned, right ? 1000 : 2100);
		CU_ASSERT(e.settle_others && e.reassign_jobs && e.claims_uncovered);
	}
}

static void
test_settle(void)
{
	struct book k;
	memset(&k, 0, sizeof(k));
	k.bond = 100;
	struct chain_dispute d = { CHAIN_DISPUTE_OPEN, 100 };
	struct chain_effects e;
	chain_dispute_settle(&P, &d, &e);
	apply(&k, NULL, &d, &e);
	CU_ASSERT_EQUAL(k.acc[CHAIN_CHALLENGER].balance, 100);
	CU_ASSERT_EQUAL(e.reason, PROTO_VERDICT_SETTLED);
	d.state = CHAIN_DISPUTE_DECIDED;
	chain_dispute_settle(&P, &d, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STATE);
}

/* Finding 6: the reporter is never paid; the challenger who caught the
 * liar is, whoever reports. */
static void
test_equivocation(void)
{
	struct book k;
	struct chain_job j;
	claimed(&k, &j);
	struct chain_effects e;
	/* Nobody disputes it: everything is burned. */
	chain_equivocation(&P, &j, &k.acc[CHAIN_EXECUTOR], NULL, &e);
	struct book k2 = k;
	apply(&k2, &j, NULL, &e);
	CU_ASSERT_EQUAL(e.reward, 0);
	CU_ASSERT_EQUAL(k2.burned, 2000);
	CU_ASSERT_EQUAL(k2.acc[CHAIN_CLIENT].balance, 1000);
	for (size_t i = 0; i < e.n_moves; i++) {
		CU_ASSERT(e.moves[i].to_party != CHAIN_CHALLENGER);
	}
	/* A challenger disputes it: it gets the reward. */
	struct chain_dispute d;
	open_dispute(&k, &j, &d, 100);
	chain_equivocation(&P, &j, &k.acc[CHAIN_EXECUTOR], &d, &e);
	apply(&k, &j, NULL, &e);
	CU_ASSERT_EQUAL(e.reward, 1000);
	CU_ASSERT_EQUAL(k.acc[CHAIN_CHALLENGER].balance, 900 + 1000);
	CU_ASSERT(e.settle_others); /* the bond comes back by settlement */
	j.state = PROTO_JOB_INVALID;
	chain_equivocation(&P, &j, &k.acc[CHAIN_EXECUTOR], NULL, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STATE);
}

static void
test_reassign(void)
{
	struct book k;
	memset(&k, 0, sizeof(k));
	k.escrow = 10;
	struct chain_job j = { PROTO_JOB_OPEN, 10, 5000, 0, 0 };
	struct chain_effects e;
	chain_job_reassign(&P, &j, true, 300, &e);
	apply(&k, &j, NULL, &e);
	CU_ASSERT(e.reassigned);
	CU_ASSERT_EQUAL(e.deadline_ms, 300 + P.job_deadline_ms);
	CU_ASSERT_EQUAL(e.events[0].subject, CHAIN_NEW_EXECUTOR);
	chain_job_reassign(&P, &j, false, 300, &e);
	apply(&k, &j, NULL, &e);
	CU_ASSERT_EQUAL(e.job_state, PROTO_JOB_INVALID);
	CU_ASSERT_EQUAL(k.acc[CHAIN_CLIENT].balance, 10);
	j.state = PROTO_JOB_CLAIMED;
	chain_job_reassign(&P, &j, true, 300, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STATE);
}

static void
test_deadline(void)
{
	struct book k;
	memset(&k, 0, sizeof(k));
	k.escrow = 10;
	k.acc[CHAIN_EXECUTOR].stake = 50;
	struct chain_job j = { PROTO_JOB_OPEN, 10, 5000, 0, 0 };
	struct chain_effects e;
	chain_job_expire(&P, &j, &k.acc[CHAIN_EXECUTOR], 4999, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STATE);
	chain_job_expire(&P, &j, &k.acc[CHAIN_EXECUTOR], 5000, &e);
	apply(&k, &j, NULL, &e);
	CU_ASSERT_EQUAL(e.job_state, PROTO_JOB_INVALID);
	CU_ASSERT_EQUAL(k.acc[CHAIN_CLIENT].balance, 10);
	/* The penalty is at most what is free: 50 of 100. */
	CU_ASSERT_EQUAL(k.burned, 50);
	CU_ASSERT_EQUAL(k.acc[CHAIN_EXECUTOR].stake, 0);
	j.state = PROTO_JOB_CLAIMED;
	chain_job_expire(&P, &j, &k.acc[CHAIN_EXECUTOR], 9000, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STATE);
}

/* A client's cancel: the fee back, nothing burned, the job CANCELLED;
 * refused once claimed, and a cancelled job cannot be cancelled again
 * or claimed. */
static void
test_cancel(void)
{
	struct book k;
	memset(&k, 0, sizeof(k));
	k.escrow = 10;
	k.acc[CHAIN_EXECUTOR].stake = 100;
	struct chain_job j = { PROTO_JOB_OPEN, 10, 5000, 0, 0 };
	struct chain_effects e;
	chain_job_cancel(&P, &j, 100, &e);
	CU_ASSERT_EQUAL(e.refused, 0);
	apply(&k, &j, NULL, &e);
	CU_ASSERT_EQUAL(e.job_state, PROTO_JOB_CANCELLED);
	CU_ASSERT_EQUAL(k.acc[CHAIN_CLIENT].balance, 10);
	CU_ASSERT_EQUAL(k.escrow, 0);
	CU_ASSERT_EQUAL(k.burned, 0);
	CU_ASSERT_EQUAL(k.acc[CHAIN_EXECUTOR].stake, 100);
	j.state = PROTO_JOB_CANCELLED;
	chain_job_cancel(&P, &j, 200, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STATE);
	chain_claim(&P, &j, &k.acc[CHAIN_EXECUTOR], 200, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STATE);
	for (uint8_t st = PROTO_JOB_CLAIMED; st <= PROTO_JOB_INVALID; st++) {
		j.state = st;
		chain_job_cancel(&P, &j, 200, &e);
		CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STATE);
		CU_ASSERT_EQUAL(e.n_moves, 0);
	}
}

/* The check itself catches a rule that would mint, overdraw or strand
 * escrow. */
static void
test_invariant(void)
{
	struct chain_before b;
	memset(&b, 0, sizeof(b));
	b.acc[CHAIN_CLIENT].balance = 10;
	struct chain_job j = { PROTO_JOB_OPEN, 10, 0, 0, 0 };
	b.job = &j;
	struct chain_effects e;
	memset(&e, 0, sizeof(e));
	e.n_moves = 1;
	e.moves[0] = (struct chain_move){ CHAIN_CLIENT, CHAIN_BALANCE,
		CHAIN_EXECUTOR, CHAIN_BALANCE, 11 };
	CU_ASSERT_EQUAL(chain_effects_check(&b, &e, NULL), RF_ERR_INVAL);
	e.moves[0] = (struct chain_move){ 0, CHAIN_BURNED, CHAIN_CLIENT,
		CHAIN_BALANCE, 0 };
	CU_ASSERT_EQUAL(chain_effects_check(&b, &e, NULL), RF_ERR_INVAL);
	/* Escrow taken but the job still open. */
	e.moves[0] = (struct chain_move){ CHAIN_CLIENT, CHAIN_ESCROW,
		CHAIN_CLIENT, CHAIN_BALANCE, 10 };
	CU_ASSERT_EQUAL(chain_effects_check(&b, &e, NULL), RF_ERR_INVAL);
	e.job_state = PROTO_JOB_INVALID;
	CU_ASSERT_EQUAL(chain_effects_check(&b, &e, NULL), RF_OK);
	e.moves[0].from_party = 9;
	CU_ASSERT_EQUAL(chain_effects_check(&b, &e, NULL), RF_OK); /* shared */
	e.moves[0].to_party = 9;
	CU_ASSERT_EQUAL(chain_effects_check(&b, &e, NULL), RF_ERR_INVAL);
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "stake and unstake", test_stake },
		{ "submission escrows the fee", test_submit },
		{ "claim, then final at the window's end", test_claim_and_final },
		{ "a claim locks collateral", test_collateral },
		{ "opening a dispute", test_challenge },
		{ "a false challenge pays the executor", test_false_challenge },
		{ "a claim falls, challenger right or wrong", test_claim_falls },
		{ "other disputes are settled", test_settle },
		{ "equivocation pays the catcher, never the reporter",
		    test_equivocation },
		{ "a slashed executor's jobs", test_reassign },
		{ "job deadlines", test_deadline },
		{ "a client cancels an open job", test_cancel },
		{ "the invariant check", test_invariant },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "chain", init, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
