/*
 * tests/integration/dispute_restart_test.c - a dispute survives every node
 * being killed in the middle of it.
 *
 * A real network: a referee, an executor that lies at operator 3 of a
 * 20-operator model (a testing fault) and a challenger. Right after the
 * lying claim is posted the executor is killed with SIGKILL; only then
 * does the challenger start, find the lie and open a dispute, which has
 * to wait for the dead executor. Then the referee and the challenger are
 * killed too, mid-game. All three restart on their
 * databases, well within the executor's dispute clock: the game resumes
 * where it was (the referee's state and clocks, the challenger's leaves
 * and cursor, the executor's stored leaves and cursor), the executor plays
 * its moves late but in time, and the dispute ends as it must: the
 * recomputation of operator 3 against the liar, who is slashed; the
 * ledger total is unchanged; and `refute audit` confirms the verdict.
 *
 * Then the moment that test hits only sometimes, made certain: a
 * challenge the referee applied but whose reply the challenger never saw
 * (killed, or the reply lost). The test sends a second challenger's
 * challenge itself, with that challenger's key, before the challenger
 * ever runs; the challenger then starts, finds the same lie, and must
 * find and play the dispute opened in its name instead of leaving it to
 * its clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "node/node.h"
#include "tests/adversary/adv.h"
#include "tests/testlib.h"

#define CLOCK_MS 15000
#define WAIT_S 60
#define LIE_AT 3

enum { REFEREE, EXECUTOR, CHALLENGER, CHALLENGER2, CLIENT, N_IDS };
static const char *const names[N_IDS] = { "referee", "executor",
	"challenger", "challenger2", "client" };

static char dir[256];
static char ref_url[64], ev_url[64];
static struct proto_identity ids[N_IDS];
static pid_t pids[CLIENT];
static struct node_rpc rpc;
static struct node_events ev;
static struct engine_model *model;
static uint64_t minted;

static void
path(char *out, size_t cap, const char *name, const char *ext)
{
	snprintf(out, cap, "%s/%s%s", dir, name, ext);
}

static pid_t
start(int who)
{
	char key[512], db[512], log[512], m[512], rk[65], g[512], op[16];
	path(key, sizeof(key), names[who], ".key");
	path(db, sizeof(db), names[who], ".db");
	path(log, sizeof(log), names[who], ".log");
	path(m, sizeof(m), "model", ".rfm");
	path(g, sizeof(g), "genesis", "");
	proto_pubkey_hex(&ids[REFEREE].pk, rk);
	snprintf(op, sizeof(op), "%d", LIE_AT);
	if (who == REFEREE) {
		/* A new ledger on the first start only. */
		const char *a[] = { "referee", "-k", key, "-g", g, "-d", db, "-l",
			ref_url, "-e", ev_url, access(db, F_OK) != 0 ? "--init" :
			NULL, NULL };
		return test_spawn(log, a);
	}
	if (who == EXECUTOR) {
		const char *a[] = { "executor", "-k", key, "-m", m, "-d", db, "-r",
			ref_url, "-e", ev_url, "--referee-key", rk, "--fault",
			"lie-at-op", "--fault-op", op, NULL };
		return test_spawn(log, a);
	}
	/* CHALLENGER or CHALLENGER2 */
	const char *a[] = { "challenger", "-k", key, "-m", m, "-d", db, "-r",
		ref_url, "-e", ev_url, "--referee-key", rk, NULL };
	return test_spawn(log, a);
}


static int
call_as(struct node_rpc *r, struct adv_msg *req, enum proto_msg_type want,
    struct adv_msg *reply)
{
	struct rf_errinfo ei = { "" };
	int err = adv_rpc_call(r, req, reply, &ei);
	adv_msg_free(req);
	if (err == RF_OK) {
		err = adv_reply_ok(reply, want, &ei);
		if (err != RF_OK) {
			adv_msg_free(reply);
		}
	}
	return err;
}

static int
call(struct adv_msg *req, enum proto_msg_type want,
    struct adv_msg *reply)
{
	return call_as(&rpc, req, want, reply);
}

static uint64_t
ledger_total(void)
{
	struct adv_msg req, reply;
	adv_msg_init(&req, PROTO_MSG_STATUS_QUERY, PROTO_HASH_BLAKE2B);
	if (call(&req, PROTO_MSG_STATUS_INFO, &reply) != RF_OK) {
		return 0;
	}
	uint64_t t = reply.u.status_info.ledger_total;
	adv_msg_free(&reply);
	return t;
}

/* The one stake of the node with key k, from the referee's status. */
static uint64_t
stake_of(const struct proto_pubkey *k)
{
	struct adv_msg req, reply;
	adv_msg_init(&req, PROTO_MSG_STATUS_QUERY, PROTO_HASH_BLAKE2B);
	if (call(&req, PROTO_MSG_STATUS_INFO, &reply) != RF_OK) {
		return 0;
	}
	uint64_t s = 0;
	for (uint32_t i = 0; i < reply.u.status_info.n_nodes; i++) {
		if (memcmp(reply.u.status_info.nodes[i].key.b, k->b,
		    PROTO_KEY_LEN) == 0) {
			s = reply.u.status_info.nodes[i].stake;
		}
	}
	adv_msg_free(&reply);
	return s;
}

/* Waits for an event of kind; returns it in *out. */
static int
wait_event(enum proto_event_kind kind, struct proto_event *out)
{
	double deadline = test_seconds() + WAIT_S;
	while (test_seconds() < deadline) {
		struct adv_msg m;
		if (adv_events_next(&ev, 100, &m, NULL) != RF_OK) {
			test_sleep_ms(100);
			continue;
		}
		int found = 0;
		for (uint32_t i = 0; i < m.u.events.n && !found; i++) {
			/* Stop at the one wanted: later events stay to be read. */
			node_events_done(&ev, m.u.events.events[i].seq);
			if (m.u.events.events[i].kind == kind) {
				*out = m.u.events.events[i];
				found = 1;
			}
		}
		adv_msg_free(&m);
		if (found) {
			return 0;
		}
	}
	return -1;
}

static int
setup(void)
{
	if (proto_init() != RF_OK) {
		return 1;
	}
	snprintf(dir, sizeof(dir), "/tmp/rf-dres-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		return 1;
	}
	char genesis[2048], p[512];
	int g = snprintf(genesis, sizeof(genesis), "window_ms 20000\n"
	    "clock_ms %d\n", CLOCK_MS);
	for (int i = 0; i < N_IDS; i++) {
		char text[PROTO_IDENTITY_TEXT_MAX], hex[65];
		if (proto_identity_generate(&ids[i]) != RF_OK ||
		    proto_identity_format(&ids[i], text, sizeof(text)) != RF_OK) {
			return 1;
		}
		path(p, sizeof(p), names[i], ".key");
		if (test_write_file(p, text, strlen(text), 0600) != 0) {
			return 1;
		}
		if (i != REFEREE) {
			proto_pubkey_hex(&ids[i].pk, hex);
			g += snprintf(genesis + g, sizeof(genesis) - (size_t)g,
			    "account %s 100000\n", hex);
			minted += 100000;
		}
	}
	path(p, sizeof(p), "genesis", "");
	struct engine_gen_opts o;
	engine_gen_opts_init(&o, ENGINE_GEN_MLP);
	o.ops = 20;
	o.hidden = 16;
	o.in_features = 16;
	uint8_t *buf;
	size_t len;
	if (test_write_file(p, genesis, (size_t)g, 0644) != 0 ||
	    engine_model_generate(&o, &model, NULL) != RF_OK ||
	    engine_model_encode(model, &buf, &len) != RF_OK) {
		return 1;
	}
	path(p, sizeof(p), "model", ".rfm");
	int rc = test_write_file(p, buf, len, 0644);
	free(buf);
	if (rc != 0) {
		return 1;
	}
	snprintf(ref_url, sizeof(ref_url), "tcp://127.0.0.1:%d",
	    test_free_port());
	snprintf(ev_url, sizeof(ev_url), "tcp://127.0.0.1:%d", test_free_port());
	/* The challenger starts later, once the executor is down. */
	for (int i = REFEREE; i < CHALLENGER; i++) {
		if ((pids[i] = start(i)) < 0) {
			return 1;
		}
	}
	if (node_rpc_open(&rpc, ref_url, &ids[CLIENT], PROTO_HASH_BLAKE2B,
	    &ids[REFEREE].pk, NULL) != RF_OK) {
		return 1;
	}
	rpc.timeout_ms = 1000;
	rpc.retries = 30;
	return node_events_open(&ev, ev_url, &rpc, 0, NULL) != RF_OK;
}

static int
teardown(void)
{
	node_events_close(&ev);
	node_rpc_close(&rpc);
	test_kill_children();
	engine_model_free(model);
	for (int i = 0; i < N_IDS; i++) {
		proto_identity_wipe(&ids[i]);
	}
	if (getenv("RF_TEST_KEEP") != NULL) {
		fprintf(stderr, "kept %s\n", dir);
		return 0;
	}
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) != 0;
}

static void
test_dispute_survives_restarts(void)
{
	/* Wait until the executor is staked, then submit one job. */
	double deadline = test_seconds() + WAIT_S;
	uint64_t total = 0;
	while (test_seconds() < deadline && total < minted) {
		total = ledger_total();
		struct adv_msg req, reply;
		adv_msg_init(&req, PROTO_MSG_STATUS_QUERY, PROTO_HASH_BLAKE2B);
		int staked = 0;
		if (call(&req, PROTO_MSG_STATUS_INFO, &reply) == RF_OK) {
			for (uint32_t i = 0; i < reply.u.status_info.n_nodes; i++) {
				staked += reply.u.status_info.nodes[i].stake > 0;
			}
			adv_msg_free(&reply);
		}
		if (staked == 0) {
			total = 0;
			test_sleep_ms(50);
		}
	}
	CU_ASSERT_EQUAL_FATAL(total, minted);
	struct adv_msg reg, reply;
	adv_msg_init(&reg, PROTO_MSG_NODE_REGISTER, PROTO_HASH_BLAKE2B);
	reg.u.node_register.roles = PROTO_ROLE_CLIENT;
	CU_ASSERT_FATAL(call(&reg, PROTO_MSG_ACK, &reply) == RF_OK);
	adv_msg_free(&reply);
	struct adv_msg job;
	adv_msg_init(&job, PROTO_MSG_JOB_SUBMIT, PROTO_HASH_BLAKE2B);
	CU_ASSERT_FATAL(engine_inputs_random(model, 5, job.u.job_submit.inputs,
	    NULL) == RF_OK);
	job.u.job_submit.n_inputs = 1;
	job.u.job_submit.fee = 10;
	job.u.job_submit.nonce = 1;
	CU_ASSERT_FATAL(proto_model_id(PROTO_HASH_BLAKE2B, model,
	    &job.u.job_submit.model_id) == RF_OK);
	CU_ASSERT_FATAL(call(&job, PROTO_MSG_ACK, &reply) == RF_OK);
	adv_msg_free(&reply);

	/* The lying claim is posted: kill the executor before it can play,
	 * then let the challenger find the lie and open the dispute. */
	struct proto_event e;
	CU_ASSERT_FATAL(wait_event(PROTO_EVENT_CLAIM_POSTED, &e) == 0);
	test_kill(pids[EXECUTOR]);
	pids[CHALLENGER] = start(CHALLENGER);
	CU_ASSERT_FATAL(wait_event(PROTO_EVENT_DISPUTE_OPENED, &e) == 0);
	struct proto_digest dispute = e.dispute_id;
	/* Mid-game, the referee and the challenger go down too. */
	test_kill(pids[REFEREE]);
	test_kill(pids[CHALLENGER]);
	test_sleep_ms(700);
	pids[REFEREE] = start(REFEREE);
	test_sleep_ms(300);
	pids[CHALLENGER] = start(CHALLENGER);
	pids[EXECUTOR] = start(EXECUTOR);

	/* The game resumes and ends by recomputation, not by the clock. */
	struct adv_msg v;
	int decided = 0;
	deadline = test_seconds() + WAIT_S;
	while (!decided && test_seconds() < deadline) {
		struct adv_msg req;
		adv_msg_init(&req, PROTO_MSG_DISPUTE_FETCH, PROTO_HASH_BLAKE2B);
		req.u.dispute_fetch.dispute_id = dispute;
		if (adv_rpc_call(&rpc, &req, &v, NULL) == RF_OK) {
			decided = v.type == PROTO_MSG_VERDICT;
			if (!decided) {
				adv_msg_free(&v);
			}
		}
		if (!decided) {
			test_sleep_ms(100);
		}
	}
	CU_ASSERT_FATAL(decided);
	CU_ASSERT_EQUAL(v.u.verdict.executor_won, 0);
	CU_ASSERT_EQUAL(v.u.verdict.reason, PROTO_VERDICT_RECOMPUTED);
	CU_ASSERT_EQUAL(v.u.verdict.op, LIE_AT);
	CU_ASSERT_EQUAL(v.u.verdict.slashed, 1000);
	adv_msg_free(&v);
	CU_ASSERT_EQUAL(ledger_total(), minted);

	/* An independent audit of the verdict, from the restarted referee. */
	char hex[2 * PROTO_DIGEST_MAX + 1], cmd[1024];
	proto_digest_hex(PROTO_HASH_BLAKE2B, &dispute, hex);
	char g[512], rk[65];
	path(g, sizeof(g), "genesis", "");
	proto_pubkey_hex(&ids[REFEREE].pk, rk);
	snprintf(cmd, sizeof(cmd), "%s audit --genesis %s --referee-key %s "
	    "-r %s -d %s >/dev/null", test_refute(), g, rk, ref_url, hex);
	CU_ASSERT_EQUAL(system(cmd), 0);
}

/* Polls the referee until dispute id has a verdict; *v holds it. */
static int
wait_verdict(const struct proto_digest *id, struct adv_msg *v)
{
	double deadline = test_seconds() + WAIT_S;
	while (test_seconds() < deadline) {
		struct adv_msg req;
		adv_msg_init(&req, PROTO_MSG_DISPUTE_FETCH, PROTO_HASH_BLAKE2B);
		req.u.dispute_fetch.dispute_id = *id;
		if (adv_rpc_call(&rpc, &req, v, NULL) == RF_OK) {
			if (v->type == PROTO_MSG_VERDICT) {
				return 0;
			}
			adv_msg_free(v);
		}
		test_sleep_ms(100);
	}
	return -1;
}

static void
test_challenge_reply_lost(void)
{
	/* Only the second challenger may play: the first one is stopped,
	 * and the executor (slashed above) restarts to stake again. */
	test_kill(pids[CHALLENGER]);
	test_kill(pids[EXECUTOR]);
	pids[EXECUTOR] = start(EXECUTOR);
	double deadline = test_seconds() + WAIT_S;
	while (test_seconds() < deadline && stake_of(&ids[EXECUTOR].pk) == 0) {
		test_sleep_ms(50);
	}
	CU_ASSERT_FATAL(stake_of(&ids[EXECUTOR].pk) > 0);

	struct adv_msg job, reply;
	adv_msg_init(&job, PROTO_MSG_JOB_SUBMIT, PROTO_HASH_BLAKE2B);
	CU_ASSERT_FATAL(engine_inputs_random(model, 6, job.u.job_submit.inputs,
	    NULL) == RF_OK);
	job.u.job_submit.n_inputs = 1;
	job.u.job_submit.fee = 10;
	job.u.job_submit.nonce = 2;
	CU_ASSERT_FATAL(proto_model_id(PROTO_HASH_BLAKE2B, model,
	    &job.u.job_submit.model_id) == RF_OK);
	CU_ASSERT_FATAL(call(&job, PROTO_MSG_ACK, &reply) == RF_OK);
	struct proto_digest job_id = reply.u.ack.id;
	adv_msg_free(&reply);
	struct proto_event e;
	do {
		CU_ASSERT_FATAL(wait_event(PROTO_EVENT_CLAIM_POSTED, &e) == 0);
	} while (!proto_digest_equal(PROTO_HASH_BLAKE2B, &e.job_id, &job_id));

	/* The honest trace, and the claim as posted. */
	struct tensor in[PROTO_MAX_TENSORS], outs[ENGINE_MAX_GRAPH_IO];
	CU_ASSERT_FATAL(engine_inputs_random(model, 6, in, NULL) == RF_OK);
	struct proto_digest *leaves = NULL, root;
	size_t n = 0;
	CU_ASSERT_FATAL(proto_trace_run(PROTO_HASH_BLAKE2B, model, in, 1, outs,
	    ENGINE_KERNELS_FAST, &leaves, &n, &root, NULL) == RF_OK);
	engine_tensor_fini(&in[0]);
	for (size_t i = 0; i < engine_model_output_count(model); i++) {
		engine_tensor_fini(&outs[i]);
	}
	free(leaves);
	struct adv_msg req, claim;
	adv_msg_init(&req, PROTO_MSG_CLAIM_STATUS, PROTO_HASH_BLAKE2B);
	req.u.claim_status.job_id = job_id;
	CU_ASSERT_FATAL(call(&req, PROTO_MSG_CLAIM_INFO, &claim) == RF_OK);

	/* The challenge goes out in the second challenger's name; its
	 * process is not running, so the reply reaches nobody there. */
	struct node_rpc as2;
	CU_ASSERT_FATAL(node_rpc_open(&as2, ref_url, &ids[CHALLENGER2],
	    PROTO_HASH_BLAKE2B, &ids[REFEREE].pk, NULL) == RF_OK);
	adv_msg_init(&req, PROTO_MSG_NODE_REGISTER, PROTO_HASH_BLAKE2B);
	req.u.node_register.roles = PROTO_ROLE_CHALLENGER;
	CU_ASSERT_FATAL(call_as(&as2, &req, PROTO_MSG_ACK, &reply) == RF_OK);
	adv_msg_free(&reply);
	adv_msg_init(&req, PROTO_MSG_CHALLENGE, PROTO_HASH_BLAKE2B);
	req.u.challenge.job_id = job_id;
	req.u.challenge.executor = claim.u.claim_info.executor;
	req.u.challenge.executor_root = claim.u.claim_info.trace_root;
	req.u.challenge.challenger_root = root;
	req.u.challenge.n = claim.u.claim_info.n;
	req.u.challenge.bond = 100;
	adv_msg_free(&claim);
	CU_ASSERT_FATAL(call_as(&as2, &req, PROTO_MSG_ACK, &reply) == RF_OK);
	struct proto_digest dispute = reply.u.ack.id;
	adv_msg_free(&reply);
	node_rpc_close(&as2);

	/* Now the challenger starts, on a database that never heard of it. */
	pids[CHALLENGER2] = start(CHALLENGER2);
	struct adv_msg v;
	CU_ASSERT_FATAL(wait_verdict(&dispute, &v) == 0);
	CU_ASSERT_EQUAL(v.u.verdict.executor_won, 0);
	CU_ASSERT_EQUAL(v.u.verdict.reason, PROTO_VERDICT_RECOMPUTED);
	CU_ASSERT_EQUAL(v.u.verdict.op, LIE_AT);
	CU_ASSERT(v.u.verdict.slashed > 0);
	adv_msg_free(&v);
	CU_ASSERT_EQUAL(ledger_total(), minted);
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "a dispute survives killing every node",
		    test_dispute_survives_restarts },
		{ "a challenger plays a dispute whose opening reply it never saw",
		    test_challenge_reply_lost },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "dispute restart", setup, teardown, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
