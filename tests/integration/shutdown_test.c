/*
 * tests/integration/shutdown_test.c - what an operator sees of running
 * nodes: their --metrics pass the exposition format's checks (and
 * promtool's, when installed) with the gauges of open work, and SIGTERM
 * stops a node at once, even while the referee is unreachable.
 *
 * Metrics: the referee's, the executor's and the challenger's pages,
 * fetched over HTTP once a job has gone through, pass metrics_check
 * (tests/metrics_check.h) and promtool, and hold the gauges (open jobs,
 * open disputes, claims at risk, failed runs, each open dispute's clock).
 *
 * A referee, an executor and a challenger (real processes). Once both
 * nodes have registered, the referee is SIGKILLed and the nodes are left
 * a moment to get stuck in a request to it (each waits up to 5 s per
 * attempt, then retried: 21 s in all before a stop cut the retries).
 * Then both get SIGTERM and must exit cleanly (status 0) before
 * test_stop's bound of 10 s, after which it would SIGKILL them. The bound
 * is generous on purpose (no timed assertion): what is checked is that
 * shutdown does not wait for the retries; the time taken is printed.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devnet/devnet_int.h"
#include "engine/engine.h"
#include "node/node.h"
#include "tests/metrics_check.h"
#include "tests/adversary/adv.h"
#include "tests/testlib.h"

#define WAIT_S 60
#define STOP_BOUND_MS 10000

enum { REFEREE, EXECUTOR, CHALLENGER, CLIENT, N_IDS };
static const char *const names[N_IDS] = { "referee", "executor",
	"challenger", "client" };

static char dir[256];
static char ref_url[64], ev_url[64];
static struct proto_identity ids[N_IDS];
static pid_t pids[CLIENT];
static int mports[CLIENT];

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
	char maddr[64];
	snprintf(maddr, sizeof(maddr), "127.0.0.1:%d", mports[who]);
	if (who == REFEREE) {
		const char *a[] = { "referee", "-k", key, "-g", g, "-d", db, "-l",
			ref_url, "-e", ev_url, "--metrics", maddr, "--init", NULL };
		return test_spawn(log, a);
	}
	if (who == EXECUTOR) {
		const char *a[] = { "executor", "-k", key, "-m", m, "-d", db, "-r",
			ref_url, "-e", ev_url, "--referee-key", rk, "--metrics",
			maddr, NULL };
		return test_spawn(log, a);
	}
	const char *a[] = { "challenger", "-k", key, "-m", m, "-d", db, "-r",
		ref_url, "-e", ev_url, "--referee-key", rk, "--metrics", maddr,
		NULL };
	return test_spawn(log, a);
}

static int
setup(void)
{
	if (proto_init() != RF_OK) {
		return 1;
	}
	snprintf(dir, sizeof(dir), "/tmp/rf-stop-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		return 1;
	}
	char genesis[2048], p[512];
	int g = snprintf(genesis, sizeof(genesis), "register_fee 0\n");
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
		}
	}
	path(p, sizeof(p), "genesis", "");
	struct engine_gen_opts o;
	engine_gen_opts_init(&o, ENGINE_GEN_MLP);
	struct engine_model *model;
	uint8_t *buf;
	size_t len;
	if (test_write_file(p, genesis, (size_t)g, 0644) != 0 ||
	    engine_model_generate(&o, &model, NULL) != RF_OK) {
		return 1;
	}
	int err = engine_model_encode(model, &buf, &len);
	engine_model_free(model);
	if (err != RF_OK) {
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
	for (int i = REFEREE; i < CLIENT; i++) {
		mports[i] = test_free_port();
	}
	for (int i = REFEREE; i < CLIENT; i++) {
		if ((pids[i] = start(i)) < 0) {
			return 1;
		}
	}
	return 0;
}

static int
teardown(void)
{
	test_kill_children();
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

/* The number of registered nodes the referee lists (-1: no answer). */
static int
registered(struct node_rpc *rpc)
{
	struct proto_status_info s;
	if (node_rpc_expect(rpc, PROTO_MSG_STATUS_QUERY, NULL,
	    PROTO_MSG_STATUS_INFO, &s, sizeof(s), NULL) != RF_OK) {
		return -1;
	}
	int n = (int)s.n_nodes;
	proto_status_info_free(&s);
	return n;
}

/* The page a node serves at /metrics (NULL: none), checked. */
static char *
metrics_of(int who)
{
	char *body = NULL;
	size_t len = 0;
	if (devnet_http_get(mports[who], "/metrics", 5000, &body, &len,
	    NULL) != RF_OK) {
		return NULL;
	}
	char why[4096];
	const char *bad = metrics_check(body, why, sizeof(why));
	CU_ASSERT_PTR_NULL(bad);
	if (bad != NULL) {
		fprintf(stderr, "\n%s: %s\n", names[who], bad);
	}
	int pt = test_promtool(body, why, sizeof(why));
	CU_ASSERT(pt != 0);
	if (pt == 0) {
		fprintf(stderr, "\npromtool on the %s's metrics: %s\n",
		    names[who], why);
	}
	return body;
}

static void
test_metrics(void)
{
	struct node_rpc rpc;
	CU_ASSERT_EQUAL_FATAL(node_rpc_open(&rpc, ref_url, &ids[CLIENT],
	    PROTO_HASH_BLAKE2B, &ids[REFEREE].pk, NULL), RF_OK);
	rpc.timeout_ms = 1000;
	rpc.retries = 0;
	double deadline = test_seconds() + WAIT_S;
	int n = 0;
	while (test_seconds() < deadline && (n = registered(&rpc)) < 2) {
		test_sleep_ms(100);
	}
	node_rpc_close(&rpc);
	CU_ASSERT_FATAL(n >= 2);
	/* A job through the network, so the pages have moved. */
	char out[4096], rk[65];
	proto_pubkey_hex(&ids[REFEREE].pk, rk);
	CU_ASSERT_EQUAL(test_shell(out, sizeof(out), dir, 1, "%s submit -r %s "
	    "--referee-key %s -k client.key -m model.rfm --fee 1 --wait "
	    "--timeout 60", test_refute(), ref_url, rk), 0);
	static const char *const want[CLIENT][4] = {
		{ "refute_referee_jobs_open ", "refute_referee_disputes_open ",
		    "refute_referee_claims_at_risk ",
		    "# TYPE refute_referee_dispute_clock_seconds gauge" },
		{ "refute_executor_runs_failed 0", "refute_executor_claims_at_risk ",
		    "refute_executor_disputes_open 0", "refute_executor_jobs_run_total 1" },
		{ "refute_challenger_runs_failed 0",
		    "refute_challenger_disputes_open 0",
		    "refute_challenger_verified_total", "refute_challenger_records_total" },
	};
	for (int who = REFEREE; who < CLIENT; who++) {
		char *body = metrics_of(who);
		CU_ASSERT_PTR_NOT_NULL_FATAL(body);
		for (int k = 0; k < 4; k++) {
			CU_ASSERT(strstr(body, want[who][k]) != NULL);
			if (strstr(body, want[who][k]) == NULL) {
				fprintf(stderr, "\n%s: no '%s'\n", names[who],
				    want[who][k]);
			}
		}
		free(body);
	}
}

static void
test_sigterm_with_referee_down(void)
{
	struct node_rpc rpc;
	CU_ASSERT_EQUAL_FATAL(node_rpc_open(&rpc, ref_url, &ids[CLIENT],
	    PROTO_HASH_BLAKE2B, &ids[REFEREE].pk, NULL), RF_OK);
	rpc.timeout_ms = 1000;
	rpc.retries = 0;
	double deadline = test_seconds() + WAIT_S;
	int n = 0;
	while (test_seconds() < deadline && (n = registered(&rpc)) < 2) {
		test_sleep_ms(100);
	}
	node_rpc_close(&rpc);
	CU_ASSERT_FATAL(n >= 2);
	/* Both nodes now poll the referee: take it away and let them get
	 * stuck in a request that will never be answered. */
	test_kill(pids[REFEREE]);
	test_sleep_ms(1500);
	CU_ASSERT_FATAL(test_running(pids[EXECUTOR]));
	CU_ASSERT_FATAL(test_running(pids[CHALLENGER]));
	double t0 = test_seconds();
	kill(pids[EXECUTOR], SIGTERM);
	kill(pids[CHALLENGER], SIGTERM);
	int rx = test_stop(pids[EXECUTOR], STOP_BOUND_MS);
	double tx = test_seconds() - t0;
	int rc = test_stop(pids[CHALLENGER], STOP_BOUND_MS);
	double tc = test_seconds() - t0;
	printf("(stopped after %.0f ms and %.0f ms, exit %d and %d) ", tx * 1000,
	    tc * 1000, rx, rc);
	/* 0: a clean exit on SIGTERM; 137 would be test_stop's SIGKILL. */
	CU_ASSERT_EQUAL(rx, 0);
	CU_ASSERT_EQUAL(rc, 0);
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "metrics: the format, promtool, the gauges", test_metrics },
		{ "SIGTERM stops nodes while the referee is down",
		    test_sigterm_with_referee_down },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "shutdown", setup, teardown, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
