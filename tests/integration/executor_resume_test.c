/*
 * tests/integration/executor_resume_test.c - an honest executor whose
 * move is lost still plays its dispute to the end.
 *
 * The referee announces a dispute's moves with events only when the game
 * moves on: once the challenger has answered a round, the executor's own
 * answer is the next thing that can happen, and if that answer is lost
 * (the request dropped, the referee restarting, the executor killed), no
 * event will ever come to remind the executor. An executor that plays
 * only on events then loses on the clock, honest as it is: a correct
 * claim made to lose.
 *
 * A real referee and a real, honest executor process; the test speaks for
 * a false challenger (adv.h) that disputes the correct claim with a
 * made-up trace. The executor reaches the referee through a link the test
 * controls (a small proxy): while the link drops the executor's moves of
 * one kind, the test waits until the executor has tried and has read
 * every event there is, then heals the link. Three cases: the first
 * answer lost after the challenger has answered its round, the reveal
 * lost at the end of the game, and an executor killed while its answer
 * is being lost and started again on its database. Each time the
 * executor must still move, the game must end by recomputing the
 * disputed operator in the executor's favour, and the ledger must be
 * conserved. Every move must also reach the referee once (one answer per
 * round, one reveal, counted at the link), though the executor looks at
 * its disputes every second: the reveal case makes the executor wait for
 * the challenger in the first round long enough to look again; the lost
 * move must be logged once, with its reason.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "net/net.h"
#include "tests/adversary/adv.h"
#include "tests/testlib.h"

#define CLOCK_MS 10000
#define WAIT_S 120
#define LIE_AT 5
#define INPUT_SEED 7

/* The link between the executor and the referee. */
struct link {
	struct net_server *server;
	struct net_client *up;
	char url[64];
	atomic_int drop;       /* a message type dropped, 0 for none */
	atomic_uint dropped;   /* how many were */
	atomic_ullong after;   /* the highest EVENTS_FETCH cursor seen */
	/* Moves passed on to the referee, a retry of the same signed bytes
	 * (same sequence number) counted once. */
	atomic_uint answers, reveals;
	atomic_ullong answer_seq, reveal_seq;
};

/* Counts a move passed on, unless it is a retry of the last one. */
static void
count_move(atomic_uint *count, atomic_ullong *last, uint64_t seq)
{
	if (atomic_exchange(last, seq) != seq) {
		atomic_fetch_add(count, 1);
	}
}

static void
on_request(void *ctx, const uint8_t *req, size_t len, uint8_t **reply,
    size_t *reply_len)
{
	struct link *l = ctx;
	struct adv_msg m;
	struct rf_errinfo ei = { "" };
	if (adv_msg_decode(req, len, &m, &ei) == RF_OK) {
		int type = m.type;
		uint64_t seq = m.seq;
		if (type == PROTO_MSG_EVENTS_FETCH) {
			unsigned long long a = m.u.events_fetch.after;
			unsigned long long seen = atomic_load(&l->after);
			while (a > seen &&
			    !atomic_compare_exchange_weak(&l->after, &seen, a)) {
			}
		}
		adv_msg_free(&m);
		if (type == atomic_load(&l->drop)) {
			/* Lost on the way: the referee never sees it, and the
			 * executor gets an empty reply at once. */
			atomic_fetch_add(&l->dropped, 1);
			return;
		}
		if (type == PROTO_MSG_BISECT_ANSWER) {
			count_move(&l->answers, &l->answer_seq, seq);
		} else if (type == PROTO_MSG_REVEAL) {
			count_move(&l->reveals, &l->reveal_seq, seq);
		}
	}
	uint8_t *r = NULL;
	size_t rl = 0;
	if (net_client_call(l->up, req, len, &r, &rl, 5000, &ei) == RF_OK) {
		*reply = r;
		*reply_len = rl;
	}
}

static int
link_open(struct link *l, const char *referee_url)
{
	memset(l, 0, sizeof(*l));
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
}

enum lost { LOST_ANSWER, LOST_REVEAL, LOST_ANSWER_KILLED };

struct game {
	struct adv_net net;
	struct adv_node ex, ch, cl;
	struct link link;
	struct engine_model *model;
	struct adv_trace lie;
	struct proto_digest job, dispute;
	pid_t executor;
};

static pid_t
executor_start(struct game *g)
{
	char key[320], db[320], log[320], m[320], rk[65];
	snprintf(key, sizeof(key), "%s/executor.key", g->net.dir);
	snprintf(db, sizeof(db), "%s/executor.db", g->net.dir);
	snprintf(log, sizeof(log), "%s/executor.log", g->net.dir);
	snprintf(m, sizeof(m), "%s/model.rfm", g->net.dir);
	proto_pubkey_hex(&g->net.referee.pk, rk);
	const char *a[] = { "executor", "-k", key, "-m", m, "-d", db, "-r",
		g->link.url, "-e", g->net.ev_url, "--referee-key", rk, NULL };
	return test_spawn(log, a);
}

/* The seq of the last event the referee has logged. */
static uint64_t
last_event(struct adv_node *a)
{
	uint64_t last = 0;
	for (;;) {
		struct adv_msg req, evs;
		adv_msg_init(&req, PROTO_MSG_EVENTS_FETCH, PROTO_HASH_BLAKE2B);
		req.u.events_fetch.after = last;
		req.u.events_fetch.max = PROTO_MAX_EVENTS;
		if (adv_call(a, &req, &evs) != RF_OK) {
			return UINT64_MAX; /* cannot tell: never satisfied */
		}
		uint32_t n = evs.type == PROTO_MSG_EVENTS ? evs.u.events.n : 0;
		if (n > 0) {
			last = evs.u.events.events[n - 1].seq;
		}
		adv_msg_free(&evs);
		if (n == 0) {
			return last;
		}
	}
}

/*
 * Waits until the executor has tried a move that was dropped and has
 * then read every event the referee has logged: from here on, an
 * executor that waits for an event waits forever.
 */
static int
wait_stranded(struct game *g)
{
	double deadline = test_seconds() + WAIT_S;
	while (test_seconds() < deadline && atomic_load(&g->link.dropped) == 0) {
		test_sleep_ms(20);
	}
	uint64_t last = last_event(&g->cl);
	while (test_seconds() < deadline && atomic_load(&g->link.after) < last) {
		test_sleep_ms(20);
	}
	return atomic_load(&g->link.dropped) > 0 &&
	    atomic_load(&g->link.after) >= last ? 0 : -1;
}

static int
setup_game(struct game *g)
{
	memset(g, 0, sizeof(*g));
	adv_node_init(&g->ex, 0);
	adv_node_init(&g->ch, 0);
	adv_node_init(&g->cl, 0);
	struct adv_node *all[] = { &g->ex, &g->ch, &g->cl };
	char params[128];
	snprintf(params, sizeof(params), "window_ms 60000\nclock_ms %d\n",
	    CLOCK_MS);
	if (adv_net_start(&g->net, params, all, 3, 100000) != RF_OK) {
		return -1;
	}
	struct engine_gen_opts o;
	engine_gen_opts_init(&o, ENGINE_GEN_MLP);
	o.ops = 20;
	o.hidden = 16;
	o.in_features = 16;
	uint8_t *buf;
	size_t len;
	char p[320], text[PROTO_IDENTITY_TEXT_MAX];
	if (engine_model_generate(&o, &g->model, NULL) != RF_OK ||
	    engine_model_encode(g->model, &buf, &len) != RF_OK) {
		return -1;
	}
	snprintf(p, sizeof(p), "%s/model.rfm", g->net.dir);
	int rc = test_write_file(p, buf, len, 0644);
	free(buf);
	snprintf(p, sizeof(p), "%s/executor.key", g->net.dir);
	if (rc != 0 || proto_identity_format(&g->ex.id, text, sizeof(text)) !=
	    RF_OK || test_write_file(p, text, strlen(text), 0600) != 0 ||
	    link_open(&g->link, g->net.ref_url) != 0) {
		return -1;
	}
	g->executor = executor_start(g);
	if (g->executor < 0 ||
	    adv_register(&g->cl, PROTO_ROLE_CLIENT, NULL) != ADV_ACK ||
	    adv_register(&g->ch, PROTO_ROLE_CHALLENGER, NULL) != ADV_ACK) {
		return -1;
	}
	double deadline = test_seconds() + WAIT_S;
	uint64_t balance = 0, stake = 0;
	while (stake == 0 && test_seconds() < deadline) {
		if (adv_account(&g->cl, &g->ex.id.pk, &balance, &stake) != RF_OK ||
		    stake == 0) {
			test_sleep_ms(50);
		}
	}
	if (stake == 0 || adv_submit(&g->cl, g->model, INPUT_SEED, 10, 1,
	    &g->ex.id.pk, &g->job) != ADV_ACK) {
		return -1;
	}
	struct proto_event e;
	if (adv_wait_event(&g->ch, PROTO_EVENT_CLAIM_POSTED, &g->job, &e) !=
	    RF_OK) {
		return -1;
	}
	/* The challenger's made-up trace: a lie at one operator's output. */
	if (adv_trace_run(g->model, INPUT_SEED, &g->lie) != RF_OK) {
		return -1;
	}
	adv_trace_lie(&g->lie, g->lie.n_in + LIE_AT);
	return 0;
}

static void
teardown_game(struct game *g)
{
	if (g->executor > 0) {
		test_kill(g->executor);
	}
	link_close(&g->link);
	adv_trace_free(&g->lie);
	engine_model_free(g->model);
	adv_node_close(&g->ex);
	adv_node_close(&g->ch);
	adv_node_close(&g->cl);
	adv_net_stop(&g->net);
}

static void
run(enum lost what)
{
	struct game g;
	CU_ASSERT_FATAL(setup_game(&g) == 0);
	atomic_store(&g.link.drop, what == LOST_REVEAL ? PROTO_MSG_REVEAL :
	    PROTO_MSG_BISECT_ANSWER);
	CU_ASSERT_FATAL(adv_challenge(&g.ch, &g.job, &g.lie, 100, &g.dispute) ==
	    ADV_ACK);
	if (what == LOST_REVEAL) {
		/* Both sides play every round; the reveal is what is lost. The
		 * challenger lets the executor wait for it in the first round
		 * long enough for the executor to look again: it must not
		 * answer again a round whose answer the referee heard. */
		double deadline = test_seconds() + WAIT_S;
		while (atomic_load(&g.link.answers) == 0 &&
		    test_seconds() < deadline) {
			test_sleep_ms(20);
		}
		test_sleep_ms(2 * 1000);
		while (atomic_load(&g.link.dropped) == 0 &&
		    test_seconds() < deadline) {
			int r = adv_play(&g.ch, &g.dispute, &g.lie, g.model,
			    false);
			if (r == ADV_DECIDED) {
				break;
			}
			if (r != ADV_MOVED) {
				test_sleep_ms(50);
			}
		}
	} else {
		/* The challenger answers the first round before anything of
		 * the executor's arrives. */
		CU_ASSERT_FATAL(adv_play(&g.ch, &g.dispute, &g.lie, g.model,
		    false) == ADV_MOVED);
	}
	CU_ASSERT_FATAL(wait_stranded(&g) == 0);
	/* Lost once more, so that a failure seen again is not logged again
	 * (an executor that never retries is past its clock by then). */
	double until = test_seconds() + CLOCK_MS / 1000.0 + 10;
	while (atomic_load(&g.link.dropped) < 2 && test_seconds() < until) {
		test_sleep_ms(20);
	}
	if (what == LOST_ANSWER_KILLED) {
		test_kill(g.executor);
		g.executor = -1;
	}
	atomic_store(&g.link.drop, 0);
	if (what == LOST_ANSWER_KILLED) {
		g.executor = executor_start(&g);
		CU_ASSERT_FATAL(g.executor > 0);
	}

	/* The challenger plays its lie to the end. */
	double deadline = test_seconds() + WAIT_S;
	int r = ADV_WAITING;
	while (r != ADV_DECIDED && test_seconds() < deadline) {
		r = adv_play(&g.ch, &g.dispute, &g.lie, g.model, false);
		if (r != ADV_MOVED) {
			test_sleep_ms(50);
		}
	}
	struct proto_verdict v;
	CU_ASSERT_FATAL(adv_verdict(&g.ch, &g.dispute, &v) == RF_OK);
	if (v.executor_won != 1 || v.reason != PROTO_VERDICT_RECOMPUTED) {
		fprintf(stderr, "the honest executor lost (reason %u, operator %u, "
		    "logs in %s)\n", v.reason, v.op, g.net.dir);
	}
	CU_ASSERT_EQUAL(v.executor_won, 1);
	CU_ASSERT_EQUAL(v.reason, PROTO_VERDICT_RECOMPUTED);
	CU_ASSERT_EQUAL(v.op, LIE_AT);
	/* Every move arrived once: an answer per round, one reveal. */
	CU_ASSERT_EQUAL(atomic_load(&g.link.answers), v.rounds);
	CU_ASSERT_EQUAL(atomic_load(&g.link.reveals), 1);
	CU_ASSERT(adv_ledger_conserved(&g.cl, g.net.minted));
	/* The lost move was said once, with its reason, by either run. */
	char p[320];
	snprintf(p, sizeof(p), "%s/executor.log", g.net.dir);
	size_t len;
	uint8_t *raw = test_read_file(p, &len);
	char *log = raw ? malloc(len + 1) : NULL;
	CU_ASSERT_FATAL(log != NULL);
	memcpy(log, raw, len);
	log[len] = '\0';
	free(raw);
	int said = 0;
	for (const char *at = log; (at = strstr(at, "not delivered")) != NULL;
	    at++) {
		said++;
	}
	CU_ASSERT_EQUAL(said, 1);
	free(log);
	teardown_game(&g);
}

static void
test_answer_lost(void)
{
	run(LOST_ANSWER);
}

static void
test_reveal_lost(void)
{
	run(LOST_REVEAL);
}

static void
test_answer_lost_then_killed(void)
{
	run(LOST_ANSWER_KILLED);
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "an answer lost after the challenger's is sent again",
		    test_answer_lost },
		{ "a lost reveal is sent again", test_reveal_lost },
		{ "a restarted executor resumes a dispute whose answer was lost",
		    test_answer_lost_then_killed },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "executor resume", NULL, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
