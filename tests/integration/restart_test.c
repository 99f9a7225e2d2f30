/*
 * tests/integration/restart_test.c - the referee killed with SIGKILL in
 * the middle of a run and restarted on the same database: every job still
 * becomes final, exactly once.
 *
 * A real network (referee, 2 executors, 1 challenger) runs while a client
 * thread submits jobs with the node library's retrying calls. The referee
 * is killed twice: once while jobs are still being submitted (the call in
 * flight is retried with the same bytes, so it is applied once whether or
 * not the dead referee had committed it), and once more after the last
 * submission while claims sit in their windows (which run out while it is
 * down). After both restarts the test checks, by request and in the
 * referee's own SQLite file after shutdown: every job final; one claim
 * per job; one JOB_ASSIGNED, CLAIM_POSTED and CLAIM_FINAL event per job
 * in an event log numbered without gaps; the ledger total unchanged; and
 * the challenger's record of every claim, all matches.
 *
 * RF_TEST_KEEP=1 keeps the run's folder (keys, databases, logs).
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "challenger/challenger.h"
#include "engine/engine.h"
#include "node/node.h"
#include "tests/adversary/adv.h"
#include "tests/testlib.h"

#define JOBS 60
#define KILL_AFTER 20  /* jobs submitted before the first kill */
#define WINDOW_MS 300
#define DOWN_MS 700    /* longer than a window: some expire meanwhile */
#define WAIT_S 60

enum { REFEREE, EXEC1, EXEC2, CHALLENGER, CLIENT, N_IDS };
static const char *const names[N_IDS] = { "referee", "executor-1",
	"executor-2", "challenger", "client" };

static char dir[256];
static char ref_url[64], ev_url[64];
static struct proto_identity ids[N_IDS];
static pid_t pids[CLIENT];
static struct node_rpc rpc;
static bool rpc_open;
static struct engine_model *model;
static struct proto_digest model_id;
static uint64_t minted;
static struct proto_digest jobs[JOBS];
static atomic_int submitted;
static atomic_int submit_failed;
static unsigned restarts;

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
	const char *a[] = { who == CHALLENGER ? "challenger" : "executor", "-k",
		key, "-m", m, "-d", db, "-n", names[who], "-r", ref_url, "-e",
		ev_url, "--referee-key", rk, NULL };
	return test_spawn(log, a);
}

static int
call_ok(struct adv_msg *req, enum proto_msg_type want,
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
	if (err != RF_OK) {
		fprintf(stderr, "%s\n", ei.msg);
	}
	return err;
}

static int
status(struct adv_msg *reply)
{
	struct adv_msg req;
	adv_msg_init(&req, PROTO_MSG_STATUS_QUERY, PROTO_HASH_BLAKE2B);
	return call_ok(&req, PROTO_MSG_STATUS_INFO, reply);
}

/* Until both executors are staked and the challenger registered. */
static int
wait_ready(void)
{
	double deadline = test_seconds() + WAIT_S;
	while (test_seconds() < deadline) {
		struct adv_msg reply;
		if (status(&reply) == RF_OK) {
			const struct proto_status_info *s = &reply.u.status_info;
			int ready = 0;
			for (uint32_t i = 0; i < s->n_nodes; i++) {
				for (int k = EXEC1; k <= CHALLENGER; k++) {
					if (memcmp(s->nodes[i].key.b, ids[k].pk.b,
					    PROTO_KEY_LEN) == 0 && (k == CHALLENGER ||
					    s->nodes[i].stake >= 1000)) {
						ready++;
					}
				}
			}
			adv_msg_free(&reply);
			if (ready == 3) {
				return 0;
			}
		}
		test_sleep_ms(50);
	}
	return -1;
}

static int
setup(void)
{
	if (proto_init() != RF_OK) {
		return 1;
	}
	snprintf(dir, sizeof(dir), "/tmp/rf-restart-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		return 1;
	}
	char genesis[4096], p[512];
	int g = snprintf(genesis, sizeof(genesis), "window_ms %d\n", WINDOW_MS);
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
			    "account %s 1000000\n", hex);
			minted += 1000000;
		}
	}
	path(p, sizeof(p), "genesis", "");
	if (test_write_file(p, genesis, (size_t)g, 0644) != 0) {
		return 1;
	}
	struct engine_gen_opts o;
	engine_gen_opts_init(&o, ENGINE_GEN_MLP);
	uint8_t *buf;
	size_t len;
	if (engine_model_generate(&o, &model, NULL) != RF_OK ||
	    engine_model_encode(model, &buf, &len) != RF_OK) {
		return 1;
	}
	path(p, sizeof(p), "model", ".rfm");
	int rc = test_write_file(p, buf, len, 0644);
	free(buf);
	if (rc != 0 || proto_model_id(PROTO_HASH_BLAKE2B, model, &model_id) !=
	    RF_OK) {
		return 1;
	}
	snprintf(ref_url, sizeof(ref_url), "tcp://127.0.0.1:%d",
	    test_free_port());
	snprintf(ev_url, sizeof(ev_url), "tcp://127.0.0.1:%d", test_free_port());
	for (int i = REFEREE; i < CLIENT; i++) {
		pids[i] = start(i);
		if (pids[i] < 0) {
			return 1;
		}
	}
	if (node_rpc_open(&rpc, ref_url, &ids[CLIENT], PROTO_HASH_BLAKE2B,
	    &ids[REFEREE].pk, NULL) != RF_OK) {
		return 1;
	}
	rpc_open = true;
	/* Short attempts, many of them: a call may span a dead referee. */
	rpc.timeout_ms = 1000;
	rpc.retries = 30;
	if (wait_ready() != 0) {
		fprintf(stderr, "the network did not come up (see %s)\n", dir);
		return 1;
	}
	struct adv_msg reg, reply;
	adv_msg_init(&reg, PROTO_MSG_NODE_REGISTER, PROTO_HASH_BLAKE2B);
	reg.u.node_register.roles = PROTO_ROLE_CLIENT;
	snprintf(reg.u.node_register.name, sizeof(reg.u.node_register.name),
	    "client");
	if (call_ok(&reg, PROTO_MSG_ACK, &reply) != RF_OK) {
		return 1;
	}
	adv_msg_free(&reply);
	return 0;
}

static int
teardown(void)
{
	if (rpc_open) {
		node_rpc_close(&rpc);
	}
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

/* ------------------------------------------------------------------ */

static void *
submitter(void *arg)
{
	(void)arg;
	for (int i = 0; i < JOBS; i++) {
		struct adv_msg req, reply;
		adv_msg_init(&req, PROTO_MSG_JOB_SUBMIT, PROTO_HASH_BLAKE2B);
		struct proto_job_submit *s = &req.u.job_submit;
		s->model_id = model_id;
		s->fee = 7;
		s->nonce = (uint64_t)i + 1;
		s->n_inputs = (uint8_t)engine_model_input_count(model);
		if (engine_inputs_random(model, (uint64_t)i, s->inputs, NULL) !=
		    RF_OK || call_ok(&req, PROTO_MSG_ACK, &reply) != RF_OK) {
			atomic_store(&submit_failed, 1);
			return NULL;
		}
		jobs[i] = reply.u.ack.id;
		adv_msg_free(&reply);
		atomic_store(&submitted, i + 1);
	}
	return NULL;
}

static void
kill_and_restart(void)
{
	test_kill(pids[REFEREE]);
	test_sleep_ms(DOWN_MS);
	pids[REFEREE] = start(REFEREE);
	CU_ASSERT_FATAL(pids[REFEREE] > 0);
	restarts++;
}

static unsigned
claims_seen(void)
{
	struct adv_msg reply;
	if (status(&reply) != RF_OK) {
		return 0;
	}
	unsigned n = reply.u.status_info.claims_pending +
	    reply.u.status_info.claims_final;
	adv_msg_free(&reply);
	return n;
}

static void
test_kill_during_run(void)
{
	pthread_t t;
	CU_ASSERT_FATAL(pthread_create(&t, NULL, submitter, NULL) == 0);
	double deadline = test_seconds() + WAIT_S;
	while (atomic_load(&submitted) < KILL_AFTER &&
	    !atomic_load(&submit_failed) && test_seconds() < deadline) {
		test_sleep_ms(1);
	}
	CU_ASSERT(atomic_load(&submitted) >= KILL_AFTER);
	/* First kill: the client is in the middle of its submissions. */
	kill_and_restart();
	pthread_join(t, NULL);
	CU_ASSERT_FATAL(!atomic_load(&submit_failed));
	CU_ASSERT_EQUAL_FATAL(atomic_load(&submitted), JOBS);
	/* Second kill: once claims for the later jobs are coming in. */
	while (claims_seen() < KILL_AFTER + 10 && test_seconds() < deadline) {
		test_sleep_ms(5);
	}
	kill_and_restart();
	CU_ASSERT_EQUAL(restarts, 2);
}

static void
test_every_job_final(void)
{
	double deadline = test_seconds() + WAIT_S;
	int done = 0;
	for (int i = 0; i < JOBS && test_seconds() < deadline;) {
		struct adv_msg req, reply;
		adv_msg_init(&req, PROTO_MSG_CLAIM_STATUS, PROTO_HASH_BLAKE2B);
		req.u.claim_status.job_id = jobs[i];
		uint8_t st = 0;
		if (call_ok(&req, PROTO_MSG_CLAIM_INFO, &reply) == RF_OK) {
			st = reply.u.claim_info.state;
			adv_msg_free(&reply);
		}
		if (st == PROTO_JOB_FINAL) {
			done++;
			i++;
		} else {
			CU_ASSERT_NOT_EQUAL_FATAL(st, PROTO_JOB_INVALID);
			test_sleep_ms(20);
		}
	}
	CU_ASSERT_EQUAL(done, JOBS);
	struct adv_msg reply;
	CU_ASSERT_EQUAL_FATAL(status(&reply), RF_OK);
	const struct proto_status_info *s = &reply.u.status_info;
	CU_ASSERT_EQUAL(s->claims_final, JOBS);
	CU_ASSERT_EQUAL(s->claims_pending, 0);
	CU_ASSERT_EQUAL(s->jobs_open, 0);
	CU_ASSERT_EQUAL(s->ledger_total, minted);
	adv_msg_free(&reply);
}

static int
job_index(const struct proto_digest *id)
{
	for (int i = 0; i < JOBS; i++) {
		if (proto_digest_equal(PROTO_HASH_BLAKE2B, &jobs[i], id)) {
			return i;
		}
	}
	return -1;
}

static void
test_events_once(void)
{
	unsigned assigned[JOBS] = { 0 }, posted[JOBS] = { 0 };
	unsigned final[JOBS] = { 0 };
	uint64_t cursor = 0;
	for (;;) {
		struct adv_msg req, reply;
		adv_msg_init(&req, PROTO_MSG_EVENTS_FETCH, PROTO_HASH_BLAKE2B);
		req.u.events_fetch.after = cursor;
		CU_ASSERT_EQUAL_FATAL(call_ok(&req, PROTO_MSG_EVENTS, &reply), RF_OK);
		const struct proto_events *ev = &reply.u.events;
		for (uint32_t i = 0; i < ev->n; i++) {
			const struct proto_event *e = &ev->events[i];
			/* One log, numbered without gaps or repeats across the
			 * restarts. */
			CU_ASSERT_EQUAL(e->seq, cursor + 1);
			cursor = e->seq;
			int j = job_index(&e->job_id);
			CU_ASSERT(j >= 0);
			if (j < 0) {
				continue;
			}
			assigned[j] += e->kind == PROTO_EVENT_JOB_ASSIGNED;
			posted[j] += e->kind == PROTO_EVENT_CLAIM_POSTED;
			final[j] += e->kind == PROTO_EVENT_CLAIM_FINAL;
			CU_ASSERT(e->kind <= PROTO_EVENT_CLAIM_FINAL);
		}
		uint32_t n = ev->n;
		adv_msg_free(&reply);
		if (n == 0) {
			break;
		}
	}
	CU_ASSERT_EQUAL(cursor, 3 * JOBS);
	for (int j = 0; j < JOBS; j++) {
		CU_ASSERT_EQUAL(assigned[j], 1);
		CU_ASSERT_EQUAL(posted[j], 1);
		CU_ASSERT_EQUAL(final[j], 1);
	}
}

static int
count_record(void *ctx, const struct challenger_record *rec)
{
	unsigned *n = ctx;
	n[0]++;
	n[1] += rec->outcome == CHALLENGER_MATCH;
	n[2] += job_index(&rec->job_id) >= 0;
	return 0;
}

static void
test_clean_stop(void)
{
	/* The challenger catches up on every claim, restarts or not. */
	char db[512];
	path(db, sizeof(db), names[CHALLENGER], ".db");
	double deadline = test_seconds() + WAIT_S;
	unsigned n[3] = { 0, 0, 0 };
	while (test_seconds() < deadline) {
		memset(n, 0, sizeof(n));
		if (challenger_records_read(db, PROTO_HASH_BLAKE2B, count_record, n,
		    NULL) == RF_OK && n[0] >= JOBS) {
			break;
		}
		test_sleep_ms(50);
	}
	CU_ASSERT_EQUAL(n[0], JOBS);
	CU_ASSERT_EQUAL(n[1], JOBS);
	CU_ASSERT_EQUAL(n[2], JOBS);
	node_rpc_close(&rpc);
	rpc_open = false;
	for (int i = CLIENT - 1; i >= REFEREE; i--) {
		CU_ASSERT_EQUAL(test_stop(pids[i], 10000), 0);
	}
}

static void
test_database(void)
{
	char db[512];
	path(db, sizeof(db), names[REFEREE], ".db");
	sqlite3 *h;
	CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	sqlite3_stmt *st;
	/* Claims per job, straight from the referee's table. */
	CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(h, "SELECT job_id, count(*), "
	    "min(state), max(state) FROM claims GROUP BY job_id", -1, &st, NULL),
	    SQLITE_OK);
	int rows = 0;
	bool seen[JOBS] = { false };
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct proto_digest id;
		memset(&id, 0, sizeof(id));
		CU_ASSERT_EQUAL(sqlite3_column_bytes(st, 0), 32);
		memcpy(id.b, sqlite3_column_blob(st, 0), 32);
		int j = job_index(&id);
		CU_ASSERT(j >= 0 && !seen[j]);
		if (j >= 0) {
			seen[j] = true;
		}
		CU_ASSERT_EQUAL(sqlite3_column_int(st, 1), 1);
		CU_ASSERT_EQUAL(sqlite3_column_int(st, 2), PROTO_JOB_FINAL);
		CU_ASSERT_EQUAL(sqlite3_column_int(st, 3), PROTO_JOB_FINAL);
		rows++;
	}
	sqlite3_finalize(st);
	CU_ASSERT_EQUAL(rows, JOBS);
	/* And one job row per submission, retries included. */
	CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(h, "SELECT count(*), "
	    "count(DISTINCT job_id), sum(state = 4) FROM jobs", -1, &st, NULL),
	    SQLITE_OK);
	CU_ASSERT_EQUAL_FATAL(sqlite3_step(st), SQLITE_ROW);
	CU_ASSERT_EQUAL(sqlite3_column_int(st, 0), JOBS);
	CU_ASSERT_EQUAL(sqlite3_column_int(st, 1), JOBS);
	CU_ASSERT_EQUAL(sqlite3_column_int(st, 2), JOBS);
	sqlite3_finalize(st);
	sqlite3_close(h);
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "SIGKILL the referee twice mid-run, restart on its database",
		    test_kill_during_run },
		{ "every job final, ledger unchanged", test_every_job_final },
		{ "one assignment, claim and finalisation event per job",
		    test_events_once },
		{ "challenger verified every claim; clean stop",
		    test_clean_stop },
		{ "referee's database: one final claim per job",
		    test_database },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "referee restart", setup, teardown, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
