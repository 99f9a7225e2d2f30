/*
 * tests/integration/job_cancel_test.c - a job's client withdraws it, and
 * what a cheater tries against that, on a real referee (RF_REFUTE).
 *
 * A cancel before any claim refunds the fee and ends the job CANCELLED;
 * the executor's later claim is refused. Refused: a cancel from another
 * account (the executor, an outsider), a second cancel, a cancel after a
 * claim. A replayed cancel (the same signed bytes) gets the recorded
 * reply and refunds nothing twice; an old cancel after a newer request
 * is a replay. A cancel and a claim racing for one job (two threads, two
 * connections) end with exactly one applied, and the ledger conserved.
 * The job and dispute lists (jobs_query, disputes_query) find jobs by
 * id prefix and state and say when a list was cut.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "tests/adversary/adv.h"
#include "tests/testlib.h"

#define SUITE PROTO_HASH_BLAKE2B
#define START 100000
#define FEE 25
#define STAKE 1000
#define RACES 12

static struct adv_net net;
static struct adv_node cl, ex, other;
static struct engine_model *model;
static uint64_t nonce = 1;

static int
setup(void)
{
	if (proto_init() != RF_OK) {
		return 1;
	}
	adv_node_init(&cl, 11);
	adv_node_init(&ex, 12);
	adv_node_init(&other, 13);
	struct adv_node *all[] = { &cl, &ex, &other };
	/* Collateral 1: many claims open at once on one stake. */
	if (adv_net_start(&net, "window_ms 600000\nclaim_collateral 1\n"
	    "register_fee 0\n", all, 3, START) != RF_OK) {
		return 1;
	}
	struct engine_gen_opts o;
	engine_gen_opts_init(&o, ENGINE_GEN_MLP);
	if (engine_model_generate(&o, &model, NULL) != RF_OK) {
		return 1;
	}
	return adv_register(&ex, PROTO_ROLE_EXECUTOR, model) != ADV_ACK ||
	    adv_register_model(&ex, model) != ADV_ACK ||
	    adv_stake(&ex, STAKE) != ADV_ACK ||
	    adv_register(&cl, PROTO_ROLE_CLIENT, NULL) != ADV_ACK ||
	    adv_register(&other, PROTO_ROLE_CLIENT, NULL) != ADV_ACK;
}

static int
teardown(void)
{
	adv_node_close(&cl);
	adv_node_close(&ex);
	adv_node_close(&other);
	adv_net_stop(&net);
	engine_model_free(model);
	return 0;
}

static uint64_t
balance_of(struct adv_node *a)
{
	uint64_t bal = 0, stake = 0;
	CU_ASSERT_EQUAL(adv_account(a, &a->id.pk, &bal, &stake), RF_OK);
	return bal;
}

static int
submit(struct proto_digest *job)
{
	return adv_submit(&cl, model, 7, FEE, nonce++, &ex.id.pk, job);
}

static int
cancel(struct adv_node *a, const struct proto_digest *job)
{
	struct adv_msg m;
	adv_msg_init(&m, PROTO_MSG_JOB_CANCEL, SUITE);
	m.u.job_cancel.job_id = *job;
	return adv_send(a, &m, NULL);
}

static int
claim(const struct proto_digest *job)
{
	struct adv_trace t;
	if (adv_trace_run(model, 7, &t) != RF_OK) {
		return ADV_NO_REPLY;
	}
	int r = adv_claim(&ex, &t, job, model);
	adv_trace_free(&t);
	return r;
}

/* The job's state as the referee lists it (0: not listed). */
static uint8_t
job_state(const struct proto_digest *job)
{
	struct adv_msg q, reply;
	adv_msg_init(&q, PROTO_MSG_JOBS_QUERY, SUITE);
	q.u.jobs_query.prefix_len = 32;
	memcpy(q.u.jobs_query.prefix, job->b, 32);
	if (adv_call(&other, &q, &reply) != RF_OK) {
		return 0;
	}
	uint8_t st = 0;
	if (reply.type == PROTO_MSG_JOBS_LIST && reply.u.jobs_list.n == 1) {
		st = reply.u.jobs_list.jobs[0].state;
	}
	adv_msg_free(&reply);
	return st;
}

static void
test_cancel_refunds(void)
{
	struct proto_digest job;
	uint64_t before = balance_of(&cl);
	CU_ASSERT_EQUAL_FATAL(submit(&job), ADV_ACK);
	CU_ASSERT_EQUAL(balance_of(&cl), before - FEE);
	CU_ASSERT_EQUAL(job_state(&job), PROTO_JOB_OPEN);
	/* Not the executor's, not an outsider's to cancel. */
	CU_ASSERT_EQUAL(cancel(&ex, &job), PROTO_ERR_INVALID);
	CU_ASSERT_EQUAL(cancel(&other, &job), PROTO_ERR_INVALID);
	CU_ASSERT_EQUAL(job_state(&job), PROTO_JOB_OPEN);
	CU_ASSERT_EQUAL(cancel(&cl, &job), ADV_ACK);
	CU_ASSERT_EQUAL(balance_of(&cl), before);
	CU_ASSERT_EQUAL(job_state(&job), PROTO_JOB_CANCELLED);
	/* Twice: refused, nothing refunded again. */
	CU_ASSERT_EQUAL(cancel(&cl, &job), PROTO_ERR_STATE);
	CU_ASSERT_EQUAL(balance_of(&cl), before);
	/* A cancelled job is never claimed. */
	CU_ASSERT_EQUAL(claim(&job), PROTO_ERR_STATE);
	CU_ASSERT_EQUAL(job_state(&job), PROTO_JOB_CANCELLED);
	/* Unknown job. */
	struct proto_digest none;
	memset(&none, 0x5a, sizeof(none));
	CU_ASSERT_EQUAL(cancel(&cl, &none), PROTO_ERR_UNKNOWN);
	CU_ASSERT(adv_ledger_conserved(&cl, net.minted));
}

static void
test_cancel_after_claim(void)
{
	struct proto_digest job;
	uint64_t before = balance_of(&cl);
	CU_ASSERT_EQUAL_FATAL(submit(&job), ADV_ACK);
	CU_ASSERT_EQUAL_FATAL(claim(&job), ADV_ACK);
	CU_ASSERT_EQUAL(cancel(&cl, &job), PROTO_ERR_STATE);
	CU_ASSERT_EQUAL(job_state(&job), PROTO_JOB_CLAIMED);
	CU_ASSERT_EQUAL(balance_of(&cl), before - FEE);
	CU_ASSERT(adv_ledger_conserved(&cl, net.minted));
}

static void
test_cancel_replayed(void)
{
	struct proto_digest job;
	uint64_t before = balance_of(&cl);
	CU_ASSERT_EQUAL_FATAL(submit(&job), ADV_ACK);
	struct adv_msg m;
	adv_msg_init(&m, PROTO_MSG_JOB_CANCEL, SUITE);
	m.u.job_cancel.job_id = job;
	uint8_t *buf;
	size_t len;
	CU_ASSERT_EQUAL_FATAL(adv_sign(&cl, &m, &buf, &len), RF_OK);
	CU_ASSERT_EQUAL(adv_send_bytes(&cl, buf, len), ADV_ACK);
	/* The same bytes again: the recorded reply, no second refund. */
	CU_ASSERT_EQUAL(adv_send_bytes(&cl, buf, len), ADV_ACK);
	CU_ASSERT_EQUAL(balance_of(&cl), before);
	/* After a newer request, the old bytes are a replay. */
	struct proto_digest job2;
	CU_ASSERT_EQUAL_FATAL(submit(&job2), ADV_ACK);
	CU_ASSERT_EQUAL(adv_send_bytes(&cl, buf, len), PROTO_ERR_REPLAY);
	/* Replayed by another connection of an outsider: the signature is
	 * the client's, so it is the client's sequence that decides. */
	CU_ASSERT_EQUAL(adv_send_bytes(&other, buf, len), PROTO_ERR_REPLAY);
	free(buf);
	CU_ASSERT_EQUAL(balance_of(&cl), before - FEE);
	CU_ASSERT_EQUAL(job_state(&job2), PROTO_JOB_OPEN);
	CU_ASSERT_EQUAL(cancel(&cl, &job2), ADV_ACK);
	CU_ASSERT(adv_ledger_conserved(&cl, net.minted));
}

struct race {
	const struct proto_digest *job;
	int result;
};

static void *
race_cancel(void *arg)
{
	struct race *r = arg;
	r->result = cancel(&cl, r->job);
	return NULL;
}

/* A cancel and a claim sent at once: exactly one is applied, and the job,
 * the refund and the ledger agree with the one that was. */
static void
test_cancel_races_claim(void)
{
	unsigned cancelled = 0, claimed = 0;
	for (int i = 0; i < RACES; i++) {
		struct proto_digest job;
		uint64_t before = balance_of(&cl);
		CU_ASSERT_EQUAL_FATAL(submit(&job), ADV_ACK);
		struct race r = { &job, -2 };
		pthread_t t;
		CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, race_cancel, &r),
		    0);
		int c = claim(&job);
		pthread_join(t, NULL);
		uint8_t st = job_state(&job);
		if (r.result == ADV_ACK) {
			cancelled++;
			CU_ASSERT_EQUAL(c, PROTO_ERR_STATE);
			CU_ASSERT_EQUAL(st, PROTO_JOB_CANCELLED);
			CU_ASSERT_EQUAL(balance_of(&cl), before);
		} else {
			claimed++;
			CU_ASSERT_EQUAL(r.result, PROTO_ERR_STATE);
			CU_ASSERT_EQUAL(c, ADV_ACK);
			CU_ASSERT_EQUAL(st, PROTO_JOB_CLAIMED);
			CU_ASSERT_EQUAL(balance_of(&cl), before - FEE);
		}
	}
	printf("(%u cancelled first, %u claimed first) ", cancelled, claimed);
	CU_ASSERT(adv_ledger_conserved(&cl, net.minted));
}

/* Lists: by prefix (one byte matches several jobs, the whole id one),
 * by state, a cut list, and dispute lists with nothing in them. */
static void
test_lists(void)
{
	struct adv_msg q, reply;
	adv_msg_init(&q, PROTO_MSG_JOBS_QUERY, SUITE);
	CU_ASSERT_EQUAL_FATAL(adv_call(&other, &q, &reply), RF_OK);
	CU_ASSERT_EQUAL_FATAL(reply.type, PROTO_MSG_JOBS_LIST);
	uint32_t all = reply.u.jobs_list.n;
	CU_ASSERT(all >= 4);
	CU_ASSERT_EQUAL(reply.u.jobs_list.cut, 0);
	struct proto_digest first = reply.u.jobs_list.jobs[0].job_id;
	/* Newest first. */
	for (uint32_t i = 1; i < all; i++) {
		CU_ASSERT(reply.u.jobs_list.jobs[i - 1].created_ms >=
		    reply.u.jobs_list.jobs[i].created_ms);
	}
	adv_msg_free(&reply);

	adv_msg_init(&q, PROTO_MSG_JOBS_QUERY, SUITE);
	q.u.jobs_query.max = 2;
	CU_ASSERT_EQUAL_FATAL(adv_call(&other, &q, &reply), RF_OK);
	CU_ASSERT_EQUAL(reply.u.jobs_list.n, 2);
	CU_ASSERT_EQUAL(reply.u.jobs_list.cut, 1);
	adv_msg_free(&reply);

	adv_msg_init(&q, PROTO_MSG_JOBS_QUERY, SUITE);
	q.u.jobs_query.state = PROTO_JOB_CANCELLED;
	CU_ASSERT_EQUAL_FATAL(adv_call(&other, &q, &reply), RF_OK);
	CU_ASSERT(reply.u.jobs_list.n >= 2);
	for (uint32_t i = 0; i < reply.u.jobs_list.n; i++) {
		CU_ASSERT_EQUAL(reply.u.jobs_list.jobs[i].state,
		    PROTO_JOB_CANCELLED);
	}
	adv_msg_free(&reply);

	adv_msg_init(&q, PROTO_MSG_JOBS_QUERY, SUITE);
	q.u.jobs_query.prefix_len = 6;
	memcpy(q.u.jobs_query.prefix, first.b, 6);
	CU_ASSERT_EQUAL_FATAL(adv_call(&other, &q, &reply), RF_OK);
	CU_ASSERT_EQUAL(reply.u.jobs_list.n, 1);
	CU_ASSERT(memcmp(reply.u.jobs_list.jobs[0].job_id.b, first.b, 32) ==
	    0);
	adv_msg_free(&reply);

	adv_msg_init(&q, PROTO_MSG_DISPUTES_QUERY, SUITE);
	q.u.disputes_query.job_id = first;
	CU_ASSERT_EQUAL_FATAL(adv_call(&other, &q, &reply), RF_OK);
	CU_ASSERT_EQUAL(reply.type, PROTO_MSG_DISPUTES_LIST);
	CU_ASSERT_EQUAL(reply.u.disputes_list.n, 0);
	adv_msg_free(&reply);
}

int
main(void)
{
	static CU_TestInfo tests[] = {
		{ "a cancel refunds; others, twice, a claim after: refused",
		    test_cancel_refunds },
		{ "no cancel after a claim", test_cancel_after_claim },
		{ "a replayed cancel refunds once", test_cancel_replayed },
		{ "a cancel racing a claim: one wins", test_cancel_races_claim },
		{ "job lists by prefix, state, cut", test_lists },
		CU_TEST_INFO_NULL,
	};
	static CU_SuiteInfo suites[] = {
		{ "job cancel", setup, teardown, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
