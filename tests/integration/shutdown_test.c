/*
 * tests/integration/shutdown_test.c - SIGTERM stops a node at once, even
 * while the referee is unreachable.
 *
 * A referee, an executor and a challenger (real processes). Once both
 * nodes have registered, the referee is SIGKILLed and the nodes are left
 * a moment to get stuck in a request to it (each waits up to 5 s per
 * attempt, with retries: 21 s in all before requests were cancelled on
 * stop). Then both get SIGTERM and must exit cleanly (status 0) before
 * test_stop's bound of 10 s, after which it would SIGKILL them. The bound
 * is generous on purpose (no timed assertion): what is checked is that
 * shutdown does not wait for the referee; the time taken is printed.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "node/node.h"
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
		const char *a[] = { "referee", "-k", key, "-g", g, "-d", db, "-l",
			ref_url, "-e", ev_url, "--init", NULL };
		return test_spawn(log, a);
	}
	if (who == EXECUTOR) {
		const char *a[] = { "executor", "-k", key, "-m", m, "-d", db, "-r",
			ref_url, "-e", ev_url, "--referee-key", rk, NULL };
		return test_spawn(log, a);
	}
	const char *a[] = { "challenger", "-k", key, "-m", m, "-d", db, "-r",
		ref_url, "-e", ev_url, "--referee-key", rk, NULL };
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
	CU_ASSERT_EQUAL_FATAL(n, 2);
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
