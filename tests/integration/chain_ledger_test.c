/*
 * tests/integration/chain_ledger_test.c - the referee and the simulator
 * keep the same ledger.
 *
 * A real referee (the binary named by RF_REFUTE) is driven through its
 * request socket with hand-made parties: a client, three executors, an
 * honest challenger, a false challenger and a second account of one of
 * the executors. The scenario: submit, claim, a claim refused for want of
 * free stake (collateral, finding 7), finality, a false challenge, a true
 * challenge the liar loses by its clock, equivocation reported by the
 * liar's own second account while an honest challenger disputes the claim
 * (finding 6), and a job that passes its deadline unclaimed, after which
 * its executor may unstake (finding 8). Beside it
 * the simulator's ledger (sim_ledger_apply, what sim_run applies every
 * rule with) follows the same steps through chain/'s rules, with the
 * outcomes the referee reached; at the end the two ledgers must agree
 * account for account (balance, free stake, locked stake) and on escrow,
 * bonds and burned tokens, and both must conserve the minted total.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bisect/bisect.h"
#include "chain/chain.h"
#include "engine/engine.h"
#include "node/node.h"
#include "sim/sim.h"
#include "tests/adversary/adv.h"
#include "tests/testlib.h"

#define SUITE PROTO_HASH_BLAKE2B
#define START 100000
#define FEE 10
#define BOND 100
#define STAKE 1000
#define WINDOW_MS 600
#define CLOCK_MS 800
#define DEADLINE_MS 4000
#define WAIT_S 60

enum who { C, X1, X2, X3, H, F, R, N_PARTIES };
static const char *const names[N_PARTIES] = { "client", "x1", "x2", "x3",
	"honest", "false", "second" };

static struct adv_net net;
static struct adv_node party[N_PARTIES];
static struct node_models models;
static struct engine_model *model;
static struct proto_digest model_id;
static uint64_t nonce = 1;

/* The simulator's side. */
static uint64_t bal[N_PARTIES], stk[N_PARTIES], lck[N_PARTIES];
static struct sim_ledger led = { bal, stk, lck, 0, 0, 0 };
static struct chain_params cp;

/* ------------------------------------------------------------------ */
/* Set-up                                                               */
/* ------------------------------------------------------------------ */

static int
setup(void)
{
	struct adv_node *all[N_PARTIES];
	for (int i = 0; i < N_PARTIES; i++) {
		adv_node_init(&party[i], 0);
		all[i] = &party[i];
		bal[i] = START;
	}
	char genesis[256];
	snprintf(genesis, sizeof(genesis), "window_ms %d\nclock_ms %d\n"
	    "min_stake %d\nmin_bond %d\nreward_pct 50\njob_deadline_ms %d\n"
	    "register_fee 0\n", WINDOW_MS, CLOCK_MS, STAKE, BOND, DEADLINE_MS);
	if (adv_net_start(&net, genesis, all, N_PARTIES, START) != RF_OK) {
		return 1;
	}
	struct engine_gen_opts o;
	engine_gen_opts_init(&o, ENGINE_GEN_MLP);
	if (engine_model_generate(&o, &model, NULL) != RF_OK ||
	    adv_net_models(&net, model, &models) != RF_OK) {
		return 1;
	}
	model_id = models.m[0].id;

	/* The referee's parameters, as chain/ reads them. */
	chain_params_default(&cp);
	cp.window_ms = WINDOW_MS;
	cp.min_stake = STAKE;
	cp.claim_collateral = STAKE;
	cp.min_bond = BOND;
	cp.reward_pct = 50;
	cp.job_deadline_ms = DEADLINE_MS;
	cp.deadline_penalty = BOND;
	return 0;
}

static int
teardown(void)
{
	for (int i = 0; i < N_PARTIES; i++) {
		adv_node_close(&party[i]);
		proto_identity_wipe(&party[i].id);
	}
	adv_net_stop(&net);
	node_models_free(&models);
	engine_model_free(model);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The referee's side                                                   */
/* ------------------------------------------------------------------ */

/* Sends req as party p; the reply's type, or its ERROR code in *code. */
static int
call(int p, struct adv_msg *req, struct adv_msg *reply, uint32_t *code)
{
	struct rf_errinfo ei = { "" };
	int err = adv_rpc_call(&party[p].rpc, req, reply, &ei);
	adv_msg_free(req);
	*code = 0;
	if (err != RF_OK) {
		fprintf(stderr, "%s: call failed: %s\n", names[p], ei.msg);
		return err;
	}
	if (reply->type == PROTO_MSG_ERROR) {
		*code = reply->u.error.code;
		fprintf(stderr, "%s: refused %u: %s\n", names[p], *code,
		    reply->u.error.text);
	}
	return RF_OK;
}

/* Sends req as p and expects an ACK; its id in *id (may be NULL). */
static void
ack(int p, struct adv_msg *req, struct proto_digest *id)
{
	struct adv_msg reply;
	uint32_t code;
	CU_ASSERT_FATAL(call(p, req, &reply, &code) == RF_OK);
	CU_ASSERT_EQUAL(reply.type, PROTO_MSG_ACK);
	if (id != NULL) {
		*id = reply.u.ack.id;
	}
	adv_msg_free(&reply);
}

static uint8_t
job_state(const struct proto_digest *job)
{
	struct adv_msg req, reply;
	uint32_t code;
	adv_msg_init(&req, PROTO_MSG_CLAIM_STATUS, SUITE);
	req.u.claim_status.job_id = *job;
	if (call(C, &req, &reply, &code) != RF_OK) {
		return 0;
	}
	uint8_t s = reply.type == PROTO_MSG_CLAIM_INFO ?
	    reply.u.claim_info.state : 0;
	adv_msg_free(&reply);
	return s;
}

static void
wait_state(const struct proto_digest *job, uint8_t want)
{
	double deadline = test_seconds() + WAIT_S;
	uint8_t s = 0;
	while ((s = job_state(job)) != want && test_seconds() < deadline) {
		test_sleep_ms(50);
	}
	CU_ASSERT_EQUAL_FATAL(s, want);
}

/* A job from the client for executor x: its inputs in *in. */
static void
submit(int x, struct proto_digest *job, struct tensor *in)
{
	struct adv_msg m;
	adv_msg_init(&m, PROTO_MSG_JOB_SUBMIT, SUITE);
	struct proto_job_submit *s = &m.u.job_submit;
	s->model_id = model_id;
	s->fee = FEE;
	s->nonce = nonce++;
	s->executor = party[x].id.pk;
	s->n_inputs = 1;
	CU_ASSERT_FATAL(engine_inputs_random(model, s->nonce, s->inputs, NULL) ==
	    RF_OK);
	CU_ASSERT_FATAL(engine_tensor_copy(in, &s->inputs[0]) == RF_OK);
	ack(C, &m, job);
}

/* The claim for job on inputs in: honest, or with leaf lie_at changed
 * (the output stays true). Its leaves in *leaves (caller frees). */
static void
make_claim(const struct proto_digest *job, const struct tensor *in,
    size_t lie_at, struct adv_msg *m, struct proto_digest **leaves,
    size_t *n)
{
	struct tensor outs[ENGINE_MAX_GRAPH_IO];
	struct proto_digest root;
	CU_ASSERT_FATAL(proto_trace_run(SUITE, model, in, 1, outs,
	    ENGINE_KERNELS_FAST, leaves, n, &root, NULL) == RF_OK);
	if (lie_at < *n) {
		(*leaves)[lie_at].b[0] ^= 0x5a;
		proto_merkle_root(SUITE, *leaves, *n, &root);
	}
	adv_msg_init(m, PROTO_MSG_CLAIM, SUITE);
	struct proto_claim *c = &m->u.claim;
	c->job_id = *job;
	c->model_id = model_id;
	c->n_inputs = 1;
	c->input_leaves[0] = (*leaves)[0];
	c->n = (uint32_t)*n;
	c->trace_root = root;
	c->n_outputs = 1;
	c->outputs[0] = outs[0];
	for (size_t i = 1; i < engine_model_output_count(model); i++) {
		engine_tensor_fini(&outs[i]);
	}
	size_t plen = 0;
	c->output_proof = calloc(MERKLE_MAX_PROOF, sizeof(struct proto_digest));
	CU_ASSERT_FATAL(c->output_proof != NULL);
	CU_ASSERT_FATAL(proto_merkle_inclusion_proof(SUITE, *leaves, *n, *n - 1,
	    c->output_proof, &plen) == RF_OK);
	c->proof_len = (uint8_t)plen;
}

/* A challenge by ch on x's claim, with its own root. */
static void
challenge(int ch, int x, const struct proto_digest *job,
    const struct adv_msg *claim, const struct proto_digest *own,
    struct proto_digest *dispute)
{
	struct adv_msg m;
	adv_msg_init(&m, PROTO_MSG_CHALLENGE, SUITE);
	struct proto_challenge *c = &m.u.challenge;
	c->job_id = *job;
	c->executor = party[x].id.pk;
	c->executor_root = claim->u.claim.trace_root;
	c->challenger_root = *own;
	c->n = claim->u.claim.n;
	c->bond = BOND;
	ack(ch, &m, dispute);
}

/* Plays ch's side from its leaves (NULL: stays silent) until the verdict;
 * returns it (caller frees). */
static void
play(int ch, const struct proto_digest *dispute,
    const struct proto_digest *leaves, size_t n, struct adv_msg *verdict)
{
	double deadline = test_seconds() + WAIT_S;
	uint32_t answered = 0;
	for (;;) {
		struct adv_msg req, reply;
		uint32_t code;
		adv_msg_init(&req, PROTO_MSG_DISPUTE_FETCH, SUITE);
		req.u.dispute_fetch.dispute_id = *dispute;
		CU_ASSERT_FATAL(call(ch, &req, &reply, &code) == RF_OK);
		if (reply.type == PROTO_MSG_VERDICT) {
			*verdict = reply;
			return;
		}
		if (leaves != NULL && reply.type == PROTO_MSG_BISECT_QUERY &&
		    reply.u.bisect_query.n_sizes > 0 &&
		    reply.u.bisect_query.round > answered) {
			struct adv_msg a;
			adv_msg_init(&a, PROTO_MSG_BISECT_ANSWER, SUITE);
			CU_ASSERT_FATAL(bisect_answer_build(SUITE, leaves, n,
			    &reply.u.bisect_query, &a.u.bisect_answer) == RF_OK);
			answered = reply.u.bisect_query.round;
			struct adv_msg ar;
			if (call(ch, &a, &ar, &code) == RF_OK) {
				adv_msg_free(&ar);
			}
		}
		adv_msg_free(&reply);
		CU_ASSERT_FATAL(test_seconds() < deadline);
		test_sleep_ms(50);
	}
}

/* ------------------------------------------------------------------ */
/* The simulator's side                                                 */
/* ------------------------------------------------------------------ */

static struct chain_account
account_of(int i)
{
	struct chain_account a = { bal[i], stk[i], lck[i] };
	return a;
}

/* Applies e with the roles given (-1: nobody) and follows the job. */
static void
sim(int client, int x, int ch, const struct chain_dispute *d,
    struct chain_job *j, const struct chain_effects *e)
{
	CU_ASSERT_EQUAL_FATAL(e->refused, 0);
	uint32_t roles[CHAIN_PARTY_MAX + 1];
	for (int i = 0; i <= CHAIN_PARTY_MAX; i++) {
		roles[i] = SIM_NOBODY;
	}
	roles[CHAIN_CLIENT] = client >= 0 ? (uint32_t)client : SIM_NOBODY;
	roles[CHAIN_EXECUTOR] = x >= 0 ? (uint32_t)x : SIM_NOBODY;
	roles[CHAIN_CHALLENGER] = ch >= 0 ? (uint32_t)ch : SIM_NOBODY;
	struct rf_errinfo ei = { "" };
	int err = sim_ledger_apply(&led, roles, j, d, e, &ei);
	if (err != RF_OK) {
		printf("\nsim ledger: %s\n", ei.msg);
	}
	CU_ASSERT_EQUAL_FATAL(err, RF_OK);
	if (j != NULL && e->job_state != 0) {
		j->state = e->job_state;
	}
	if (j != NULL && e->set_times) {
		j->deadline_ms = e->deadline_ms;
		j->window_end_ms = e->window_end_ms;
		j->collateral = e->collateral;
	}
}

static void
sim_submit(int x, struct chain_job *j)
{
	struct chain_effects e;
	struct chain_account c = account_of(C);
	memset(j, 0, sizeof(*j));
	j->fee = FEE;
	chain_submit(&cp, &c, FEE, 0, 0, &e);
	sim(C, x, -1, NULL, j, &e);
}

static void
sim_claim(int x, struct chain_job *j)
{
	struct chain_effects e;
	struct chain_account a = account_of(x);
	chain_claim(&cp, j, &a, 1, &e);
	sim(C, x, -1, NULL, j, &e);
}

static void
sim_final(int x, struct chain_job *j)
{
	struct chain_effects e;
	struct chain_account a = account_of(x);
	chain_finalize(&cp, j, &a, j->window_end_ms, &e);
	sim(C, x, -1, NULL, j, &e);
}

static void
sim_challenge(int ch, int x, struct chain_job *j, struct chain_dispute *d)
{
	struct chain_effects e;
	struct chain_account a = account_of(ch);
	d->state = 0;
	d->bond = BOND;
	chain_challenge(&cp, j, &a, BOND, 2, &e);
	sim(C, x, ch, d, j, &e);
	d->state = e.dispute_state;
}

/* ------------------------------------------------------------------ */
/* The comparison                                                       */
/* ------------------------------------------------------------------ */

static int64_t
q1(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			v = sqlite3_column_int64(st, 0);
		}
		sqlite3_finalize(st);
	}
	return v;
}

static void
compare(void)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/referee.db", net.dir);
	sqlite3 *db;
	CU_ASSERT_FATAL(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) ==
	    SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	uint64_t total = led.escrow + led.bonds + led.burned;
	for (int i = 0; i < N_PARTIES; i++) {
		sqlite3_stmt *st;
		CU_ASSERT_FATAL(sqlite3_prepare_v2(db, "SELECT balance, stake, "
		    "locked FROM accounts WHERE key = ?1", -1, &st, NULL) ==
		    SQLITE_OK);
		sqlite3_bind_blob(st, 1, party[i].id.pk.b, PROTO_KEY_LEN, SQLITE_STATIC);
		CU_ASSERT_FATAL(sqlite3_step(st) == SQLITE_ROW);
		uint64_t b = (uint64_t)sqlite3_column_int64(st, 0);
		uint64_t s = (uint64_t)sqlite3_column_int64(st, 1);
		uint64_t l = (uint64_t)sqlite3_column_int64(st, 2);
		sqlite3_finalize(st);
		if (b != bal[i] || s != stk[i] || l != lck[i]) {
			printf("\n%s: referee %llu/%llu/%llu, simulator %llu/%llu/%llu\n",
			    names[i], (unsigned long long)b, (unsigned long long)s,
			    (unsigned long long)l, (unsigned long long)bal[i],
			    (unsigned long long)stk[i], (unsigned long long)lck[i]);
		}
		CU_ASSERT_EQUAL(b, bal[i]);
		CU_ASSERT_EQUAL(s, stk[i]);
		CU_ASSERT_EQUAL(l, lck[i]);
		total += bal[i] + stk[i] + lck[i];
	}
	CU_ASSERT_EQUAL(q1(db, "SELECT coalesce(sum(fee), 0) FROM jobs WHERE "
	    "state IN (1, 2, 3)"), (int64_t)led.escrow);
	CU_ASSERT_EQUAL(q1(db, "SELECT coalesce(sum(bond), 0) FROM disputes "
	    "WHERE state = 1"), (int64_t)led.bonds);
	CU_ASSERT_EQUAL(q1(db, "SELECT value FROM meta WHERE key = 'burned'"),
	    (int64_t)led.burned);
	/* Both conserve what genesis minted. */
	CU_ASSERT_EQUAL(total, (uint64_t)START * N_PARTIES);
	CU_ASSERT_EQUAL(q1(db, "SELECT value FROM meta WHERE key = 'minted'"),
	    (int64_t)START * N_PARTIES);
	sqlite3_close(db);
}

/* ------------------------------------------------------------------ */
/* The scenario                                                         */
/* ------------------------------------------------------------------ */

static void
test_same_ledger(void)
{
	struct rf_errinfo ei = { "" };
	struct adv_msg m, reply;
	uint32_t code;
	/* Everyone registers; the executors serve the model and stake. */
	for (int i = 0; i < N_PARTIES; i++) {
		uint8_t roles = i == C ? PROTO_ROLE_CLIENT : i <= X3 ?
		    PROTO_ROLE_EXECUTOR : PROTO_ROLE_CHALLENGER;
		CU_ASSERT_FATAL(node_register(&party[i].rpc, roles, names[i], "",
		    i >= X1 && i <= X3 ? &models : NULL, &ei) == RF_OK);
	}
	CU_ASSERT_FATAL(node_models_register(&models, &party[X1].rpc, &ei) == RF_OK);
	for (int x = X1; x <= X3; x++) {
		adv_msg_init(&m, PROTO_MSG_STAKE, SUITE);
		m.u.amount.amount = STAKE;
		ack(x, &m, NULL);
		struct chain_effects e;
		struct chain_account a = account_of(x);
		chain_stake(&cp, &a, STAKE, &e);
		sim(-1, x, -1, NULL, NULL, &e);
	}

	/* 1. Job A: claimed, then final. Job B meanwhile: X1's stake is
	 * locked by A's claim, so B's claim is refused until A is final
	 * (finding 7). */
	struct proto_digest ja, jb, *la, *lb;
	struct tensor ia, ib;
	struct chain_job ca, cb;
	size_t n;
	submit(X1, &ja, &ia);
	sim_submit(X1, &ca);
	submit(X1, &jb, &ib);
	sim_submit(X1, &cb);
	make_claim(&ja, &ia, SIZE_MAX, &m, &la, &n);
	ack(X1, &m, NULL);
	sim_claim(X1, &ca);
	struct adv_msg claim_b;
	make_claim(&jb, &ib, SIZE_MAX, &claim_b, &lb, &n);
	free(lb);
	struct adv_msg copy;
	make_claim(&jb, &ib, SIZE_MAX, &copy, &lb, &n);
	free(lb);
	CU_ASSERT_FATAL(call(X1, &copy, &reply, &code) == RF_OK);
	CU_ASSERT_EQUAL(code, PROTO_ERR_STAKE);
	adv_msg_free(&reply);
	struct chain_effects e;
	struct chain_account a = account_of(X1);
	chain_claim(&cp, &cb, &a, 1, &e);
	CU_ASSERT_EQUAL(e.refused, PROTO_ERR_STAKE);
	wait_state(&ja, PROTO_JOB_FINAL);
	sim_final(X1, &ca);
	free(la);

	/* 2. B is claimed now; F disputes it with a made-up root and lets
	 * the clocks run: the claim stands, F's bond pays X1, B is final. */
	struct adv_msg cb_sent;
	make_claim(&jb, &ib, SIZE_MAX, &cb_sent, &lb, &n);
	struct proto_digest b_root = cb_sent.u.claim.trace_root;
	ack(X1, &cb_sent, NULL);
	sim_claim(X1, &cb);
	struct proto_digest fake = b_root, dfb;
	fake.b[0] ^= 1;
	challenge(F, X1, &jb, &claim_b, &fake, &dfb);
	struct chain_dispute dB;
	sim_challenge(F, X1, &cb, &dB);
	struct adv_msg v;
	play(F, &dfb, NULL, 0, &v);
	CU_ASSERT_EQUAL(v.u.verdict.executor_won, 1);
	adv_msg_free(&v);
	a = account_of(X1);
	chain_verdict(&cp, &cb, &a, &dB, true, false, 0, &e);
	sim(C, X1, F, &dB, &cb, &e);
	wait_state(&jb, PROTO_JOB_FINAL);
	sim_final(X1, &cb);
	adv_msg_free(&claim_b);
	free(lb);

	/* 3. X2 lies at an operator; H disputes with the true root and plays
	 * the game; X2 never answers and loses by its clock: its whole stake
	 * (the locked collateral too) is slashed, half of it to H. */
	struct proto_digest jd, *ld, dd;
	struct tensor id;
	struct chain_job cd;
	submit(X2, &jd, &id);
	sim_submit(X2, &cd);
	struct adv_msg lie;
	make_claim(&jd, &id, 3, &lie, &ld, &n);
	free(ld);
	struct adv_msg lie_copy;
	make_claim(&jd, &id, 3, &lie_copy, &ld, &n);
	free(ld);
	ack(X2, &lie, NULL);
	sim_claim(X2, &cd);
	struct adv_msg truth;
	make_claim(&jd, &id, SIZE_MAX, &truth, &ld, &n);
	challenge(H, X2, &jd, &lie_copy, &truth.u.claim.trace_root, &dd);
	struct chain_dispute dD;
	sim_challenge(H, X2, &cd, &dD);
	play(H, &dd, ld, n, &v);
	CU_ASSERT_EQUAL(v.u.verdict.executor_won, 0);
	CU_ASSERT_EQUAL(v.u.verdict.slashed, STAKE);
	CU_ASSERT_EQUAL(v.u.verdict.reward, STAKE / 2);
	adv_msg_free(&v);
	a = account_of(X2);
	chain_verdict(&cp, &cd, &a, &dD, false, true, 0, &e);
	sim(C, X2, H, &dD, &cd, &e);
	adv_msg_free(&truth);
	adv_msg_free(&lie_copy);
	free(ld);

	/* 4. X3 claims E; H disputes it; X3's second account R reports X3's
	 * equivocation (two different claims for E) to collect the reward
	 * (finding 6). H, who caught it, is paid; R gets nothing. */
	struct proto_digest je, *le, de;
	struct tensor ie;
	struct chain_job ce;
	submit(X3, &je, &ie);
	sim_submit(X3, &ce);
	struct adv_msg c1, c2;
	make_claim(&je, &ie, SIZE_MAX, &c1, &le, &n);
	free(le);
	make_claim(&je, &ie, 4, &c2, &le, &n);
	free(le);
	struct adv_msg c1_copy;
	make_claim(&je, &ie, SIZE_MAX, &c1_copy, &le, &n);
	free(le);
	uint8_t *b1, *b2, *rb;
	size_t l1, l2, rl;
	CU_ASSERT_FATAL(adv_rpc_sign(&party[X3].rpc, &c1, &b1, &l1) == RF_OK);
	CU_ASSERT_FATAL(adv_rpc_sign(&party[X3].rpc, &c2, &b2, &l2) == RF_OK);
	adv_msg_free(&c1);
	adv_msg_free(&c2);
	CU_ASSERT_FATAL(node_rpc_forward(&party[X3].rpc, b1, l1, &rb, &rl, &ei) ==
	    RF_OK);
	free(rb);
	sim_claim(X3, &ce);
	struct proto_digest other = c1_copy.u.claim.trace_root;
	other.b[1] ^= 1;
	challenge(H, X3, &je, &c1_copy, &other, &de);
	struct chain_dispute dE;
	sim_challenge(H, X3, &ce, &dE);
	adv_msg_free(&c1_copy);
	uint64_t r_before = bal[R];
	adv_msg_init(&m, PROTO_MSG_EQUIVOCATION, SUITE);
	m.u.equivocation.claim_a = b1;
	m.u.equivocation.len_a = l1;
	m.u.equivocation.claim_b = b2;
	m.u.equivocation.len_b = l2;
	ack(R, &m, NULL); /* frees b1 and b2 */
	a = account_of(X3);
	chain_equivocation(&cp, &ce, &a, &dE, &e);
	CU_ASSERT_EQUAL(e.reward, STAKE / 2);
	sim(C, X3, H, NULL, &ce, &e);
	chain_dispute_settle(&cp, &dE, &e);
	sim(C, X3, H, &dE, NULL, &e);
	CU_ASSERT_EQUAL(bal[R], r_before);

	/* 5. Job G for X1 is never claimed: at its deadline the fee comes
	 * back and X1 pays the penalty. */
	struct proto_digest jg;
	struct tensor ig;
	struct chain_job cg;
	submit(X1, &jg, &ig);
	sim_submit(X1, &cg);
	/* While G is open X1 keeps min_stake: the unstake is refused. */
	adv_msg_init(&m, PROTO_MSG_UNSTAKE, SUITE);
	m.u.amount.amount = STAKE - BOND;
	CU_ASSERT_FATAL(call(X1, &m, &reply, &code) == RF_OK);
	CU_ASSERT_EQUAL(code, PROTO_ERR_STATE);
	adv_msg_free(&reply);
	wait_state(&jg, PROTO_JOB_INVALID);
	a = account_of(X1);
	chain_job_expire(&cp, &cg, &a, cg.deadline_ms, &e);
	sim(C, X1, -1, NULL, &cg, &e);
	/* G has ended: nothing pending blocks the unstake any more (a job
	 * nobody claims no longer holds an executor's stake forever). */
	adv_msg_init(&m, PROTO_MSG_UNSTAKE, SUITE);
	m.u.amount.amount = STAKE - BOND;
	ack(X1, &m, NULL);
	a = account_of(X1);
	chain_unstake(&cp, &a, STAKE - BOND, 0, &e);
	sim(-1, X1, -1, NULL, NULL, &e);

	compare();
	/* What each party ended with, by the rules. */
	CU_ASSERT_EQUAL(bal[R], START);
	CU_ASSERT_EQUAL(bal[H], START + STAKE / 2 + STAKE / 2);
	CU_ASSERT_EQUAL(bal[F], START - BOND);
	CU_ASSERT_EQUAL(stk[X2] + lck[X2], 0);
	CU_ASSERT_EQUAL(stk[X3] + lck[X3], 0);
	CU_ASSERT_EQUAL(bal[X1], START - STAKE + 2 * FEE + BOND + STAKE - BOND);
	CU_ASSERT_EQUAL(stk[X1], 0);
	engine_tensor_fini(&ia);
	engine_tensor_fini(&ib);
	engine_tensor_fini(&id);
	engine_tensor_fini(&ie);
	engine_tensor_fini(&ig);
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "the referee and the simulator keep the same ledger",
		    test_same_ledger },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "chain ledger", setup, teardown, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
