/*
 * tests/integration/poisoned_event_test.c - one event that can never be
 * handled does not stop a node.
 *
 * A real referee and a real, honest executor process that reaches the
 * referee through a link the test controls. A client submits three jobs
 * to the executor; the link spoils every reply to the executor's
 * JOB_FETCH for the second job it asks about (a flipped byte: the
 * signature no longer verifies), so that job's event fails each time it
 * is handled, however often it is tried. The other two jobs must still be
 * run and claimed; the spoiled one must be tried exactly
 * NODE_LOOP_MAX_ATTEMPTS times (counted at the link, one signed request
 * per attempt) and then given up with one ERROR line in the executor's
 * log; and the executor must go on serving: a fourth job submitted after
 * that is claimed too, and the given-up job is not tried again.
 *
 * An executor that stops its batch at a failing event and reads it again
 * (the loop before node/loop.c) never claims the jobs behind it: the
 * test then times out waiting for them.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "net/net.h"
#include "node/node.h"
#include "tests/adversary/adv.h"
#include "tests/testlib.h"

#define WAIT_S 180
#define MAX_JOBS 8

/* The link between the executor and the referee. */
struct link {
	struct net_server *server;
	struct net_client *up;
	char url[64];
	pthread_mutex_t lock;
	/* Jobs in the order the executor first fetched them; the second is
	 * the poisoned one. */
	struct proto_digest fetched[MAX_JOBS];
	size_t n_fetched;
	/* Attempts at the poisoned job: signed requests, a resend of the
	 * same bytes (same sequence number) counted once. */
	unsigned attempts;
	uint64_t last_seq;
	/* Jobs the executor sent a claim for. */
	struct proto_digest claimed[MAX_JOBS];
	size_t n_claimed;
};

static bool
in(const struct proto_digest *set, size_t n, const struct proto_digest *d)
{
	for (size_t i = 0; i < n; i++) {
		if (proto_digest_equal(PROTO_HASH_BLAKE2B, &set[i], d)) {
			return true;
		}
	}
	return false;
}

static void
on_request(void *ctx, const uint8_t *req, size_t len, uint8_t **reply,
    size_t *reply_len)
{
	struct link *l = ctx;
	struct adv_msg m;
	struct rf_errinfo ei = { "" };
	bool poison = false;
	if (adv_msg_decode(req, len, &m, &ei) == RF_OK) {
		pthread_mutex_lock(&l->lock);
		if (m.type == PROTO_MSG_JOB_FETCH) {
			const struct proto_digest *j = &m.u.job_fetch.job_id;
			if (!in(l->fetched, l->n_fetched, j) &&
			    l->n_fetched < MAX_JOBS) {
				l->fetched[l->n_fetched++] = *j;
			}
			poison = l->n_fetched >= 2 && proto_digest_equal(
			    PROTO_HASH_BLAKE2B, &l->fetched[1], j);
			if (poison && m.seq != l->last_seq) {
				l->last_seq = m.seq;
				l->attempts++;
			}
		} else if (m.type == PROTO_MSG_CLAIM) {
			const struct proto_digest *j = &m.u.claim.job_id;
			if (!in(l->claimed, l->n_claimed, j) &&
			    l->n_claimed < MAX_JOBS) {
				l->claimed[l->n_claimed++] = *j;
			}
		}
		pthread_mutex_unlock(&l->lock);
		adv_msg_free(&m);
	}
	uint8_t *r = NULL;
	size_t rl = 0;
	if (net_client_call(l->up, req, len, &r, &rl, 5000, &ei) == RF_OK) {
		if (poison && rl > 0) {
			r[rl - 1] ^= 0x01; /* the signature no longer verifies */
		}
		*reply = r;
		*reply_len = rl;
	}
}

static int
link_open(struct link *l, const char *referee_url)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
	snprintf(l->url, sizeof(l->url), "tcp://127.0.0.1:%d", test_free_port());
	if (net_client_open(referee_url, PROTO_MAX_MESSAGE, &l->up, NULL) !=
	    RF_OK) {
		return -1;
	}
	return net_server_start(l->url, 2, PROTO_MAX_MESSAGE, on_request, l,
	    &l->server, NULL) == RF_OK ? 0 : -1;
}

static void
link_close(struct link *l)
{
	net_server_free(l->server);
	net_client_close(l->up);
	pthread_mutex_destroy(&l->lock);
}

static struct adv_net net;
static struct adv_node ex, cl;
static struct link link;
static struct engine_model *model;
static pid_t executor = -1;
static char log_path[320];

static int
setup(void)
{
	adv_node_init(&ex, 0);
	adv_node_init(&cl, 0);
	struct adv_node *all[] = { &ex, &cl };
	if (adv_net_start(&net, "window_ms 60000\n", all, 2, 100000) !=
	    RF_OK) {
		return -1;
	}
	struct engine_gen_opts o;
	engine_gen_opts_init(&o, ENGINE_GEN_MLP);
	o.ops = 6;
	o.hidden = 8;
	o.in_features = 8;
	uint8_t *buf;
	size_t len;
	char key[320], db[320], m[320], rk[65], text[PROTO_IDENTITY_TEXT_MAX];
	if (engine_model_generate(&o, &model, NULL) != RF_OK ||
	    engine_model_encode(model, &buf, &len) != RF_OK) {
		return -1;
	}
	snprintf(m, sizeof(m), "%s/model.rfm", net.dir);
	int rc = test_write_file(m, buf, len, 0644);
	free(buf);
	snprintf(key, sizeof(key), "%s/executor.key", net.dir);
	if (rc != 0 || proto_identity_format(&ex.id, text, sizeof(text)) !=
	    RF_OK || test_write_file(key, text, strlen(text), 0600) != 0 ||
	    link_open(&link, net.ref_url) != 0) {
		return -1;
	}
	snprintf(db, sizeof(db), "%s/executor.db", net.dir);
	snprintf(log_path, sizeof(log_path), "%s/executor.log", net.dir);
	proto_pubkey_hex(&net.referee.pk, rk);
	const char *a[] = { "executor", "-k", key, "-m", m, "-d", db, "-r",
		link.url, "-e", net.ev_url, "--referee-key", rk, NULL };
	executor = test_spawn(log_path, a);
	if (executor < 0 || adv_register(&cl, PROTO_ROLE_CLIENT, NULL) !=
	    ADV_ACK) {
		return -1;
	}
	/* Jobs go to an executor once it has stake. */
	double deadline = test_seconds() + WAIT_S;
	uint64_t balance = 0, stake = 0;
	while (stake == 0 && test_seconds() < deadline) {
		if (adv_account(&cl, &ex.id.pk, &balance, &stake) != RF_OK ||
		    stake == 0) {
			test_sleep_ms(50);
		}
	}
	return stake > 0 ? 0 : -1;
}

static int
teardown(void)
{
	if (executor > 0) {
		test_kill(executor);
	}
	link_close(&link);
	engine_model_free(model);
	adv_node_close(&ex);
	adv_node_close(&cl);
	adv_net_stop(&net);
	return 0;
}

static bool
claimed(const struct proto_digest *job)
{
	pthread_mutex_lock(&link.lock);
	bool c = in(link.claimed, link.n_claimed, job);
	pthread_mutex_unlock(&link.lock);
	return c;
}

static unsigned
attempts(void)
{
	pthread_mutex_lock(&link.lock);
	unsigned n = link.attempts;
	pthread_mutex_unlock(&link.lock);
	return n;
}

/* The executor's log so far (caller frees); never NULL. */
static char *
executor_log(void)
{
	size_t n = 0;
	uint8_t *b = test_read_file(log_path, &n);
	char *t = realloc(b, n + 1);
	if (t == NULL) {
		free(b);
		return calloc(1, 1);
	}
	t[n] = '\0';
	return t;
}

static size_t
count(const char *text, const char *what)
{
	size_t n = 0;
	for (const char *p = strstr(text, what); p; p = strstr(p + 1, what)) {
		n++;
	}
	return n;
}

static bool
given_up(void)
{
	char *t = executor_log();
	bool g = strstr(t, "given up after") != NULL;
	free(t);
	return g;
}

static void
test_poisoned_event(void)
{
	struct proto_digest jobs[4];
	for (uint64_t i = 0; i < 3; i++) {
		CU_ASSERT_FATAL(adv_submit(&cl, model, 7 + i, 10, 1 + i, &ex.id.pk,
		    &jobs[i]) == ADV_ACK);
	}
	/* The two jobs the link leaves alone are claimed, the poisoned
	 * one is given up. */
	double deadline = test_seconds() + WAIT_S;
	for (;;) {
		pthread_mutex_lock(&link.lock);
		bool known = link.n_fetched >= 2;
		pthread_mutex_unlock(&link.lock);
		size_t done = 0;
		for (int i = 0; i < 3; i++) {
			done += claimed(&jobs[i]);
		}
		if ((known && done == 2 && given_up()) ||
		    test_seconds() > deadline) {
			break;
		}
		test_sleep_ms(50);
	}
	struct proto_digest poisoned = link.fetched[1];
	CU_ASSERT_FATAL(in(jobs, 3, &poisoned));
	for (int i = 0; i < 3; i++) {
		bool p = proto_digest_equal(PROTO_HASH_BLAKE2B, &jobs[i],
		    &poisoned);
		CU_ASSERT(claimed(&jobs[i]) == !p);
	}
	CU_ASSERT(given_up());
	CU_ASSERT_EQUAL(attempts(), NODE_LOOP_MAX_ATTEMPTS);

	/* Still serving: a job submitted now is claimed; the given-up one
	 * is not tried again meanwhile. */
	CU_ASSERT_FATAL(adv_submit(&cl, model, 20, 10, 20, &ex.id.pk,
	    &jobs[3]) == ADV_ACK);
	deadline = test_seconds() + WAIT_S;
	while (!claimed(&jobs[3]) && test_seconds() < deadline) {
		test_sleep_ms(50);
	}
	CU_ASSERT(claimed(&jobs[3]));
	CU_ASSERT_EQUAL(attempts(), NODE_LOOP_MAX_ATTEMPTS);
	CU_ASSERT(!claimed(&poisoned));
	CU_ASSERT(test_running(executor));

	char *t = executor_log();
	CU_ASSERT_EQUAL(count(t, " ERROR "), 1);
	CU_ASSERT_EQUAL(count(t, "(job_assigned): given up after 8 attempts"),
	    1);
	free(t);
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "a poisoned event is given up, the rest served",
		    test_poisoned_event },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "poisoned event", setup, teardown, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
