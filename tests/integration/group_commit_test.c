/*
 * tests/integration/group_commit_test.c - the referee's group commit
 * (referee/writer.c) against a real referee process.
 *
 * 1. Killed mid-batch: eight executors post claims at once, so their
 *    requests share transactions; the referee is SIGKILLed while they
 *    flow and restarted on the same database. Every claim that got an
 *    ACK must be in its books; each one that did not is sent again with
 *    the same bytes and is applied exactly once; the ledger holds.
 * 2. A flood starves nobody, and a bad request spoils no batch: the eight
 *    executors flood new claims, then their last claim again and again
 *    (retries, through the writer too) until a challenger's CHALLENGE and
 *    a client's JOB_SUBMIT have been applied; a claim with a broken
 *    signature, a claim on another executor's job and a replayed old
 *    claim sent meanwhile are refused while every flood claim commits.
 *
 * RF_TEST_KEEP=1 keeps the referee's folder.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "engine/engine.h"
#include "net/net.h"
#include "node/node.h"
#include "tests/adversary/adv.h"
#include "tests/testlib.h"

#define SUITE PROTO_HASH_BLAKE2B
#define EXECUTORS 8
#define PER_EX 40                   /* claims per executor per phase */
#define PHASE (EXECUTORS * PER_EX)
#define LIE (2 * PHASE)             /* the job the liar claims */
#define JOBS (2 * PHASE + 1)
#define KILL_AT 60                  /* ACKs seen before the kill */
#define CALL_MS 20000
#define BOND 100

enum { CLIENT = EXECUTORS, CHALLENGER, N_NODES };

static struct adv_net net;
static struct adv_node node[N_NODES];
static struct engine_model *model;
static struct proto_digest job[JOBS];

/* Claim i: job i by executor i % EXECUTORS, signed in the order they are
 * posted (phase 1, the lie, phase 2), so each executor's sequence numbers
 * rise in that order. */
struct claim {
	uint8_t *buf;
	size_t len;
	uint64_t seq;
	bool acked;
};
static struct claim claims[JOBS];
static atomic_int acked;
static atomic_int flooding; /* set: posters resend their last claim */
static atomic_int resent;

static int
setup(void)
{
	struct adv_node *all[N_NODES];
	for (int i = 0; i < N_NODES; i++) {
		adv_node_init(&node[i], 0);
		all[i] = &node[i];
	}
	if (adv_net_start(&net, "window_ms 600000\nmin_stake 100\n"
	    "min_bond 100\nclock_ms 60000\nmax_open_jobs 0\n", all, N_NODES,
	    100000000) != RF_OK) {
		return 1;
	}
	struct engine_gen_opts o;
	engine_gen_opts_init(&o, ENGINE_GEN_MLP);
	if (engine_model_generate(&o, &model, NULL) != RF_OK) {
		return 1;
	}
	for (int e = 0; e < EXECUTORS; e++) {
		if (adv_register(&node[e], PROTO_ROLE_EXECUTOR, model) != ADV_ACK ||
		    (e == 0 && adv_register_model(&node[e], model) != ADV_ACK) ||
		    adv_stake(&node[e], 1000000) != ADV_ACK) {
			return 1;
		}
	}
	if (adv_register(&node[CLIENT], PROTO_ROLE_CLIENT, NULL) != ADV_ACK ||
	    adv_register(&node[CHALLENGER], PROTO_ROLE_CHALLENGER, NULL) !=
	    ADV_ACK) {
		return 1;
	}
	for (int i = 0; i < JOBS; i++) {
		if (adv_submit(&node[CLIENT], model, (uint64_t)i, 10,
		    (uint64_t)i + 1, &node[i % EXECUTORS].id.pk, &job[i]) !=
		    ADV_ACK) {
			return 1;
		}
	}
	for (int k = 0; k < JOBS; k++) {
		int i = k < PHASE ? k : k == PHASE ? LIE : k - 1;
		struct adv_trace t;
		struct adv_msg m;
		if (adv_trace_run(model, (uint64_t)i, &t) != RF_OK) {
			return 1;
		}
		if (i == LIE) {
			adv_trace_lie(&t, t.n_in + 1);
		}
		int err = adv_claim_msg(&t, &job[i], model, &m);
		adv_trace_free(&t);
		if (err != RF_OK ||
		    adv_sign(&node[i % EXECUTORS], &m, &claims[i].buf,
		    &claims[i].len) != RF_OK) {
			return 1;
		}
		struct proto_env env;
		if (proto_msg_open_stored(claims[i].buf, claims[i].len, &env,
		    NULL) != RF_OK) {
			return 1;
		}
		claims[i].seq = env.seq;
	}
	return 0;
}

static int
teardown(void)
{
	for (int i = 0; i < JOBS; i++) {
		free(claims[i].buf);
	}
	for (int i = 0; i < N_NODES; i++) {
		adv_node_close(&node[i]);
	}
	adv_net_stop(&net);
	engine_model_free(model);
	return 0;
}

/* True when reply is the referee's ACK of the claim with seq. */
static bool
is_ack(const uint8_t *reply, size_t len, uint64_t seq)
{
	struct adv_msg m;
	if (reply == NULL || adv_msg_decode(reply, len, &m, NULL) != RF_OK) {
		return false;
	}
	bool ok = m.type == PROTO_MSG_ACK && m.u.ack.ref_seq == seq &&
	    memcmp(m.sender.b, net.referee.pk.b, PROTO_KEY_LEN) == 0;
	adv_msg_free(&m);
	return ok;
}

struct poster {
	int executor, from, to; /* claims [from, to) of this executor */
	bool stop_on_error;
	int errors;
};

/* Sends claim cl; true on its ACK. */
static bool
send_claim(struct net_client *c, const struct claim *cl)
{
	uint8_t *reply = NULL;
	size_t len = 0;
	int err = net_client_call(c, cl->buf, cl->len, &reply, &len, CALL_MS,
	    NULL);
	bool ok = err == RF_OK && is_ack(reply, len, cl->seq);
	free(reply);
	return ok;
}

static void *
post(void *arg)
{
	struct poster *p = arg;
	struct net_client *c;
	if (net_client_open(net.ref_url, PROTO_MAX_MESSAGE, &c, NULL) != RF_OK) {
		p->errors++;
		return NULL;
	}
	int last = -1;
	for (int i = p->from + p->executor; i < p->to; i += EXECUTORS) {
		struct claim *cl = &claims[i];
		last = i;
		if (cl->acked) {
			continue;
		}
		if (send_claim(c, cl)) {
			cl->acked = true;
			atomic_fetch_add(&acked, 1);
		} else {
			p->errors++;
			if (p->stop_on_error) {
				break;
			}
		}
	}
	/* Then, while asked, the last one again and again: a retry, which
	 * the writer answers with the recorded reply, so the flood of
	 * state-changing requests lasts as long as the test needs it. */
	while (last >= 0 && atomic_load(&flooding)) {
		if (send_claim(c, &claims[last])) {
			atomic_fetch_add(&resent, 1);
		} else {
			p->errors++;
		}
	}
	net_client_close(c);
	return NULL;
}

static void
start_posters(pthread_t *th, struct poster *p, int from, int to,
    bool stop_on_error)
{
	for (int e = 0; e < EXECUTORS; e++) {
		p[e] = (struct poster){ e, from, to, stop_on_error, 0 };
		CU_ASSERT_FATAL(pthread_create(&th[e], NULL, post, &p[e]) == 0);
	}
}

/* The referee's state of job's claim (0: it has none). */
static int
claim_state(const struct proto_digest *id)
{
	struct adv_msg req, reply;
	adv_msg_init(&req, PROTO_MSG_CLAIM_STATUS, SUITE);
	req.u.claim_status.job_id = *id;
	if (adv_call(&node[CLIENT], &req, &reply) != RF_OK) {
		return -1;
	}
	int state = reply.type == PROTO_MSG_CLAIM_INFO ?
	    reply.u.claim_info.state : 0;
	adv_msg_free(&reply);
	return state;
}

static void
test_killed_mid_batch(void)
{
	pthread_t th[EXECUTORS];
	struct poster p[EXECUTORS];
	atomic_store(&acked, 0);
	start_posters(th, p, 0, PHASE, true);
	/* Not a time: the kill comes once claims are flowing. */
	while (atomic_load(&acked) < KILL_AT) {
		usleep(1000);
	}
	CU_ASSERT_FATAL(adv_net_restart(&net) == RF_OK);
	for (int e = 0; e < EXECUTORS; e++) {
		pthread_join(th[e], NULL);
	}
	int before = atomic_load(&acked);
	CU_ASSERT(before >= KILL_AT);

	/* Every acknowledged claim survived the kill. */
	int lost = 0;
	for (int i = 0; i < PHASE; i++) {
		if (claims[i].acked && claim_state(&job[i]) != PROTO_JOB_CLAIMED) {
			lost++;
		}
	}
	CU_ASSERT_EQUAL(lost, 0);

	/* The rest, the same bytes again: each applied once (the one in
	 * flight at the kill may have been committed: its retry gets the
	 * recorded reply). */
	start_posters(th, p, 0, PHASE, false);
	int errors = 0;
	for (int e = 0; e < EXECUTORS; e++) {
		pthread_join(th[e], NULL);
		errors += p[e].errors;
	}
	CU_ASSERT_EQUAL(errors, 0);
	CU_ASSERT_EQUAL(atomic_load(&acked), PHASE);
	for (int i = 0; i < PHASE; i++) {
		CU_ASSERT_EQUAL(claim_state(&job[i]), PROTO_JOB_CLAIMED);
	}
	struct adv_ledger l;
	CU_ASSERT_FATAL(adv_ledger(&node[CLIENT], &l) == RF_OK);
	CU_ASSERT_EQUAL(l.claims_pending, PHASE);
	CU_ASSERT(adv_ledger_conserved(&node[CLIENT], net.minted));
}

static void
test_flood_starves_nobody(void)
{
	/* The liar's claim first, alone. */
	CU_ASSERT_EQUAL_FATAL(adv_send_bytes(&node[LIE % EXECUTORS],
	    claims[LIE].buf, claims[LIE].len), ADV_ACK);

	pthread_t th[EXECUTORS];
	struct poster p[EXECUTORS];
	atomic_store(&acked, 0);
	atomic_store(&flooding, 1);
	start_posters(th, p, PHASE, 2 * PHASE, false);
	while (atomic_load(&acked) < 20) {
		usleep(1000);
	}
	/* Meanwhile: a challenge of the lie and a new job must be applied.
	 * The flood goes on until they are (a starved request would get no
	 * reply: ADV_NO_REPLY). */
	struct adv_trace honest;
	CU_ASSERT_FATAL(adv_trace_run(model, LIE, &honest) == RF_OK);
	struct proto_digest dispute, extra;
	CU_ASSERT_EQUAL(adv_challenge(&node[CHALLENGER], &job[LIE], &honest,
	    BOND, &dispute), ADV_ACK);
	CU_ASSERT_EQUAL(adv_submit(&node[CLIENT], model, 999, 10, 999999,
	    &node[1].id.pk, &extra), ADV_ACK);

	/* Bad requests in the middle of the flood's batches. */
	int last = PHASE + 30 * EXECUTORS + 3; /* a flood claim */
	uint8_t *bad = malloc(claims[last].len);
	CU_ASSERT_FATAL(bad != NULL);
	memcpy(bad, claims[last].buf, claims[last].len);
	bad[claims[last].len - 1] ^= 0x40; /* in the signature */
	int r_sig = adv_send_bytes(&node[CLIENT], bad, claims[last].len);
	free(bad);
	/* The challenger claims executor 2's job. */
	struct adv_trace t;
	CU_ASSERT_FATAL(adv_trace_run(model, PHASE + 2, &t) == RF_OK);
	int r_other = adv_claim(&node[CHALLENGER], &t, &job[PHASE + 2], model);
	adv_trace_free(&t);
	/* Executor 3's first claim of phase 1 again: an old sequence number
	 * (not its last), so a replay, not a retry. */
	int r_replay = adv_send_bytes(&node[CLIENT], claims[3].buf,
	    claims[3].len);

	atomic_store(&flooding, 0);
	int errors = 0;
	for (int e = 0; e < EXECUTORS; e++) {
		pthread_join(th[e], NULL);
		errors += p[e].errors;
	}
	CU_ASSERT(r_sig != ADV_ACK && r_sig != ADV_NO_REPLY);
	CU_ASSERT_EQUAL(r_other, PROTO_ERR_INVALID);
	CU_ASSERT_EQUAL(r_replay, PROTO_ERR_REPLAY);
	CU_ASSERT_EQUAL(errors, 0);
	CU_ASSERT_EQUAL(atomic_load(&acked), PHASE);
	for (int i = PHASE; i < 2 * PHASE; i++) {
		CU_ASSERT_EQUAL(claim_state(&job[i]), PROTO_JOB_CLAIMED);
	}
	CU_ASSERT_EQUAL(claim_state(&job[LIE]), PROTO_JOB_DISPUTED);
	struct adv_ledger l;
	CU_ASSERT_FATAL(adv_ledger(&node[CLIENT], &l) == RF_OK);
	CU_ASSERT_EQUAL(l.disputes_open, 1);
	CU_ASSERT(adv_ledger_conserved(&node[CLIENT], net.minted));
	adv_trace_free(&honest);
}

static CU_TestInfo tests[] = {
	{ "an acknowledged claim survives a kill mid-batch",
	    test_killed_mid_batch },
	{ "a flood starves nobody; bad requests spoil no batch",
	    test_flood_starves_nobody },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "group commit", setup, teardown, NULL, NULL, tests },
	CU_SUITE_INFO_NULL,
};

int
main(void)
{
	if (proto_init() != RF_OK) {
		return 1;
	}
	rf_log_init("group_commit_test", LOG_LEVEL_ERROR);
	return test_main(suites);
}
