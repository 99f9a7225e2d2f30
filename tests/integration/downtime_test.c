/*
 * tests/integration/downtime_test.c - the referee's downtime is never
 * charged to a player's clock.
 *
 * A real network: a referee, an honest executor and a challenger that
 * challenges every claim with a made-up trace (a testing fault). The
 * executor goes down right after its claim is posted, so the dispute
 * waits for it alone once the challenger has answered the first round.
 * Then the referee is SIGKILLed and kept down for longer than the
 * executor's whole clock. It restarts, then the executor does: the
 * referee must give back the time it was down (plus its grace period), so
 * the honest executor plays the game out and wins by recomputation, and
 * the ledger total is unchanged. (Before referee_restart_resume the restarted
 * referee's first tick found the executor's clock run out and slashed it.)
 * While the referee is down its open game is rewritten in the layout older
 * referees stored (a memcpy of the struct): the rebuilt referee loads it,
 * and the game plays on.
 */
#include <assert.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bisect/bisect.h"
#include "engine/engine.h"
#include "node/node.h"
#include "tests/adversary/adv.h"
#include "tests/testlib.h"

#define CLOCK_MS 3000
#define DOWN_MS (CLOCK_MS + 3000)
#define GRACE_MS 20000
#define WAIT_S 90

enum { REFEREE, EXECUTOR, CHALLENGER, CLIENT, N_IDS };
static const char *const names[N_IDS] = { "referee", "executor",
	"challenger", "client" };

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
	char key[512], db[512], log[512], m[512], rk[65], g[512];
	path(key, sizeof(key), names[who], ".key");
	path(db, sizeof(db), names[who], ".db");
	path(log, sizeof(log), names[who], ".log");
	path(m, sizeof(m), "model", ".rfm");
	path(g, sizeof(g), "genesis", "");
	proto_pubkey_hex(&ids[REFEREE].pk, rk);
	if (who == REFEREE) {
		/* A new ledger on the first start only. */
		const char *a[] = { "referee", "-k", key, "-g", g, "-d", db, "-l",
			ref_url, "-e", ev_url, access(db, F_OK) != 0 ? "--init" :
			NULL, NULL };
		return test_spawn(log, a);
	}
	if (who == EXECUTOR) {
		const char *a[] = { "executor", "-k", key, "-m", m, "-d", db, "-r",
			ref_url, "-e", ev_url, "--referee-key", rk, NULL };
		return test_spawn(log, a);
	}
	const char *a[] = { "challenger", "-k", key, "-m", m, "-d", db, "-r",
		ref_url, "-e", ev_url, "--referee-key", rk, "--fault",
		"false-challenge", NULL };
	return test_spawn(log, a);
}

static int
call(struct adv_msg *req, enum proto_msg_type want,
    struct adv_msg *reply)
{
	struct rf_errinfo ei = { "" };
	int err = adv_rpc_call(&rpc, req, reply, &ei);
	adv_msg_free(req);
	if (err == RF_OK) {
		err = adv_reply_ok(reply, want, &ei);
		if (err != RF_OK) {
			adv_msg_free(reply);
		}
	}
	return err;
}

/* The ledger total and the number of staked nodes. */
static uint64_t
ledger_total(int *staked)
{
	struct adv_msg req, reply;
	adv_msg_init(&req, PROTO_MSG_STATUS_QUERY, PROTO_HASH_BLAKE2B);
	*staked = 0;
	if (call(&req, PROTO_MSG_STATUS_INFO, &reply) != RF_OK) {
		return 0;
	}
	uint64_t t = reply.u.status_info.ledger_total;
	for (uint32_t i = 0; i < reply.u.status_info.n_nodes; i++) {
		*staked += reply.u.status_info.nodes[i].stake > 0;
	}
	adv_msg_free(&reply);
	return t;
}

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

/* Reads the dispute's stored game from the referee's database. */
static int
stored_game(struct bisect_game *g)
{
	char db[512];
	path(db, sizeof(db), names[REFEREE], ".db");
	sqlite3 *h;
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sqlite3_close(h);
		return -1;
	}
	sqlite3_busy_timeout(h, 2000);
	sqlite3_stmt *st;
	int rc = -1;
	if (sqlite3_prepare_v2(h, "SELECT game FROM disputes LIMIT 1", -1, &st,
	    NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW &&
		    bisect_game_decode(sqlite3_column_blob(st, 0),
		    (size_t)sqlite3_column_bytes(st, 0), g, NULL) == RF_OK) {
			rc = 0;
		}
		sqlite3_finalize(st);
	}
	sqlite3_close(h);
	return rc;
}

/*
 * Rewrites the (only) stored game as the referee stored games before the
 * versioned encoding: a memcpy of struct bisect_game, whose layout is still
 * version 0's (bisect/bisect_int.h pins it; tests/bisect/codec_test.c holds
 * a blob written by that code). Call with the referee down.
 */
static int
store_legacy_game(void)
{
	static_assert(sizeof(struct bisect_game) == 3552, "version 0 layout");
	struct bisect_game g;
	if (stored_game(&g) != 0) {
		return -1;
	}
	char db[512];
	path(db, sizeof(db), names[REFEREE], ".db");
	sqlite3 *h;
	int rc = -1;
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(h, "UPDATE disputes SET game = ?1", -1, &st,
		    NULL) == SQLITE_OK) {
			sqlite3_bind_blob(st, 1, &g, (int)sizeof(g), SQLITE_TRANSIENT);
			rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
			sqlite3_finalize(st);
		}
	}
	sqlite3_close(h);
	return rc;
}

static int
setup(void)
{
	if (proto_init() != RF_OK) {
		return 1;
	}
	snprintf(dir, sizeof(dir), "/tmp/rf-down-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		return 1;
	}
	char genesis[2048], p[512];
	int g = snprintf(genesis, sizeof(genesis), "window_ms 30000\n"
	    "clock_ms %d\ngrace_ms %d\n", CLOCK_MS, GRACE_MS);
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
test_downtime_not_charged(void)
{
	double deadline = test_seconds() + WAIT_S;
	uint64_t total = 0;
	int staked = 0;
	while (test_seconds() < deadline && (total < minted || staked == 0)) {
		total = ledger_total(&staked);
		test_sleep_ms(50);
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

	/* The honest claim is posted; the executor goes down, the false
	 * challenger disputes the claim and answers round 1. */
	struct proto_event e;
	CU_ASSERT_FATAL(wait_event(PROTO_EVENT_CLAIM_POSTED, &e) == 0);
	test_kill(pids[EXECUTOR]);
	pids[CHALLENGER] = start(CHALLENGER);
	CU_ASSERT_FATAL(wait_event(PROTO_EVENT_DISPUTE_OPENED, &e) == 0);
	struct proto_digest dispute = e.dispute_id;
	struct bisect_game g;
	deadline = test_seconds() + WAIT_S;
	int waiting_for_executor = 0;
	while (!waiting_for_executor && test_seconds() < deadline) {
		waiting_for_executor = stored_game(&g) == 0 &&
		    g.phase == BISECT_PHASE_QUERY && g.answered[BISECT_CHALLENGER];
		if (!waiting_for_executor) {
			test_sleep_ms(20);
		}
	}
	CU_ASSERT_FATAL(waiting_for_executor);

	/* The referee dies and stays down longer than the executor's whole
	 * clock; then it restarts, and so does the executor. */
	test_kill(pids[REFEREE]);
	/* It comes back as a newer build on a database written by older
	 * code: the open game is in the old struct layout. */
	CU_ASSERT_FATAL(store_legacy_game() == 0);
	test_sleep_ms(DOWN_MS);
	pids[REFEREE] = start(REFEREE);
	pids[EXECUTOR] = start(EXECUTOR);

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
		adv_msg_free(&req);
		if (!decided) {
			test_sleep_ms(100);
		}
	}
	CU_ASSERT_FATAL(decided);
	if (!v.u.verdict.executor_won) {
		printf("\nverdict: reason %s after %u rounds\n",
		    proto_verdict_reason_name(v.u.verdict.reason),
		    v.u.verdict.rounds);
	}
	/* The honest executor wins, by recomputation, not by the clock. */
	CU_ASSERT_EQUAL(v.u.verdict.executor_won, 1);
	CU_ASSERT_EQUAL(v.u.verdict.reason, PROTO_VERDICT_RECOMPUTED);
	adv_msg_free(&v);
	CU_ASSERT_EQUAL(ledger_total(&staked), minted);
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "the referee's downtime is not charged to a player",
		    test_downtime_not_charged },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "referee downtime", setup, teardown, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
