/*
 * bench/network_bench.c - the referee's sustained claim rate and the
 * claim-to-challenger latency, on loopback, with a real referee process.
 *
 * The referee is bin/refute (RF_REFUTE overrides; `make bench` sets it)
 * started with a fresh genesis. In this process: EXECUTORS executor
 * identities register, one registers a one-operator model (Relu on a
 * 1x16 input) and all stake; client identities submit one job per claim,
 * each with its own random input, naming the executor. Every claim is a
 * real one: the job's trace is computed and committed here, so the
 * referee checks the signature, the sequence number, the job, the input
 * leaves, the stake and the output's Merkle proof against the root, as
 * for any executor. Claims are signed before the clock starts (signing
 * is the executors' cost, not the referee's), then posted:
 *
 *   1. saturated: one thread per executor, each waiting for its reply
 *      before the next claim, SAT_CLAIMS in all: accepted claims per
 *      second from the first send to the last reply;
 *   2. paced: PACED_CLAIMS at PACED_RATE per second from one thread.
 *
 * A challenger-like listener watches all along: a SUB socket for hints
 * plus EVENTS_FETCH from its cursor, as node_events does. For each claim,
 * the latency is from just before its request was sent to the moment the
 * listener had its CLAIM_POSTED event; median, p90 and p99 are reported
 * for both phases. (The client shares the machine with the referee: it
 * reports its own CPU per claim too. A second, bare subscriber verifying
 * every published event cost it about 70 us per claim and was dropped.)
 * Challenge windows are WINDOW_MS, so claims are being finalised (by the
 * referee's timer, under the same lock) while new ones come in. Every
 * reply is verified after the clock stops: all must be ACKs.
 *
 * RF_BENCH_WORKERS sets the referee's --workers (default 16, as the referee's);
 * RF_BENCH_CLAIMS the saturated count (default 20000; paced: a tenth);
 * RF_BENCH_KEEP keeps its folder (database, log) in /tmp.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "net/net.h"
#include "node/node.h"

#define EXECUTORS 16
#define CLIENTS 4
/* RF_BENCH_CLAIMS scales both (for runs under a profiler). */
#define SAT_DEFAULT 20000
#define SAT_CLAIMS sat_claims
#define PACED_CLAIMS (sat_claims / 10)
#define PACED_RATE 500
#define N_JOBS (SAT_CLAIMS + PACED_CLAIMS)
#define WINDOW_MS 1000
#define CALL_MS 30000
#define TARGET_RATE 5000.0
#define TARGET_P99_MS 5.0

struct job {
	struct proto_digest id;
	uint8_t *claim; /* signed, ready to send */
	size_t claim_len;
	uint64_t seq;
	uint8_t *reply;
	size_t reply_len;
	_Atomic double sent;
	_Atomic double seen_fetch; /* when the listener had its event */
};

static char dir[64], url[64], ev_url[64];
static pid_t referee_pid;
static struct proto_identity ref_id, ex_id[EXECUTORS], cl_id[CLIENTS];
static struct node_rpc ex_rpc[EXECUTORS], cl_rpc[CLIENTS];
static struct node_models models;
static struct job *jobs;
static uint32_t *slots; /* job_id -> index + 1 */
static size_t mask;
static atomic_int stop_listeners;
static atomic_int failures;
static int sat_claims = SAT_DEFAULT;
static char workers[16] = "16"; /* the referee's, RF_BENCH_WORKERS */

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void
sleep_until(double t)
{
	struct timespec ts;
	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	    EINTR) {
	}
}

/* CPU seconds the referee process has used (user + system), from
 * /proc: the referee's cost per claim, whatever else the machine runs. */
static double
referee_cpu(void)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)referee_pid);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return 0.0;
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which is in parentheses. */
	const char *p = strrchr(buf, ')');
	unsigned long long ut = 0, st = 0;
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
	    "%*u %*u %llu %llu", &ut, &st) != 2) {
		return 0.0;
	}
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* This process's CPU seconds: posting and listening cost too, on the
 * same cores. */
static double
self_cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static int
fail(const char *what, const struct rf_errinfo *ei)
{
	fprintf(stderr, "network_bench: %s%s%s\n", what, ei ? ": " : "",
	    ei ? ei->msg : "");
	atomic_fetch_add(&failures, 1);
	return 1;
}

/* ------------------------------------------------------------------ */
/* Set-up: files, the referee process, identities, the model            */
/* ------------------------------------------------------------------ */

static int
write_file(const char *name, const void *buf, size_t len, int mode)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0) {
		return -1;
	}
	ssize_t w = write(fd, buf, len);
	close(fd);
	return w == (ssize_t)len ? 0 : -1;
}

static int
free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	int port = -1;
	/* Bound and released: a port nobody used a moment ago. */
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
		port = ntohs(a.sin_port);
	}
	if (fd >= 0) {
		close(fd);
	}
	return port;
}

static int
write_setup(void)
{
	char text[PROTO_IDENTITY_TEXT_MAX], genesis[8192];
	if (proto_identity_generate(&ref_id) != RF_OK ||
	    proto_identity_format(&ref_id, text, sizeof(text)) != RF_OK ||
	    write_file("referee.key", text, strlen(text), 0600) != 0) {
		return -1;
	}
	/* No cap on a client's unfinished jobs: all of them are submitted
	 * before the first claim. */
	int g = snprintf(genesis, sizeof(genesis), "window_ms %d\n"
	    "min_stake 1000\nmax_open_jobs 0\n", WINDOW_MS);
	for (int i = 0; i < EXECUTORS + CLIENTS; i++) {
		struct proto_identity *id = i < EXECUTORS ? &ex_id[i] :
		    &cl_id[i - EXECUTORS];
		char hex[65];
		if (proto_identity_generate(id) != RF_OK) {
			return -1;
		}
		proto_pubkey_hex(&id->pk, hex);
		g += snprintf(genesis + g, sizeof(genesis) - (size_t)g,
		    "account %s 1000000000\n", hex);
	}
	if (write_file("genesis", genesis, (size_t)g, 0644) != 0) {
		return -1;
	}
	/* The smallest real model: one Relu on a 1x16 input. */
	struct engine_model *m = engine_model_alloc("relu16");
	int64_t dims[2] = { 1, 16 };
	int x, y;
	const char *out[1] = { "y" };
	uint8_t *buf;
	size_t len;
	if (m == NULL ||
	    engine_model_add_input(m, "x", TENSOR_F32, 2, dims, &x, NULL) !=
	    RF_OK ||
	    engine_model_add_op(m, ENGINE_OP_RELU, "relu", &x, 1, out, 1, NULL, 0,
	    &y, NULL) != RF_OK || engine_model_add_output(m, y, NULL) != RF_OK ||
	    engine_model_encode(m, &buf, &len) != RF_OK) {
		engine_model_free(m);
		return -1;
	}
	engine_model_free(m);
	int rc = write_file("model.rfm", buf, len, 0644);
	free(buf);
	return rc;
}

static pid_t
spawn_referee(const char *exe)
{
	char key[128], gen[128], db[128], log[128];
	snprintf(key, sizeof(key), "%s/referee.key", dir);
	snprintf(gen, sizeof(gen), "%s/genesis", dir);
	snprintf(db, sizeof(db), "%s/referee.db", dir);
	snprintf(log, sizeof(log), "%s/referee.log", dir);
	char *argv[] = { "refute", "referee", "-k", key, "-g", gen, "-d", db,
		"-l", url, "-e", ev_url, "--workers", workers, "--init", NULL };
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent) {
			_exit(126);
		}
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
			_exit(127);
		}
		for (int i = 3; i < 1024; i++) {
			close(i);
		}
		execv(exe, argv);
		_exit(127);
	}
	return pid;
}

/* A request of type with its body; the reply of type want decoded into
 * reply (size bytes). */
static int
call(struct node_rpc *rpc, enum proto_msg_type type, const void *req,
    enum proto_msg_type want, void *reply, size_t size)
{
	struct rf_errinfo ei = { "" };
	int err = node_rpc_expect(rpc, type, req, want, reply, size, &ei);
	return err == RF_OK ? RF_OK : fail(proto_msg_type_name(want), &ei);
}

static int
open_nodes(void)
{
	struct rf_errinfo ei = { "" };
	char path[128];
	snprintf(path, sizeof(path), "%s/model.rfm", dir);
	if (node_models_load(&models, PROTO_HASH_BLAKE2B, path, &ei) != RF_OK) {
		return fail("model", &ei);
	}
	for (int i = 0; i < EXECUTORS + CLIENTS; i++) {
		struct node_rpc *rpc = i < EXECUTORS ? &ex_rpc[i] :
		    &cl_rpc[i - EXECUTORS];
		const struct proto_identity *id = i < EXECUTORS ? &ex_id[i] :
		    &cl_id[i - EXECUTORS];
		if (node_rpc_open(rpc, url, id, PROTO_HASH_BLAKE2B, &ref_id.pk,
		    &ei) != RF_OK) {
			return fail("rpc", &ei);
		}
		rpc->timeout_ms = CALL_MS;
		char name[32];
		snprintf(name, sizeof(name), "%s-%d", i < EXECUTORS ? "executor" :
		    "client", i);
		int err = node_register(rpc, i < EXECUTORS ? PROTO_ROLE_EXECUTOR :
		    PROTO_ROLE_CLIENT, name, NULL, i < EXECUTORS ? &models : NULL,
		    &ei);
		if (err == RF_OK && i == 0) {
			err = node_models_register(&models, rpc, &ei);
		}
		if (err == RF_OK && i < EXECUTORS) {
			/* min_stake, and the collateral (min_stake by default)
			 * of every claim it may have open at once. */
			err = node_stake_to(rpc,
			    1000 * (uint64_t)(N_JOBS / EXECUTORS + 2), &ei);
		}
		if (err != RF_OK) {
			return fail("registering", &ei);
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Jobs and claims                                                      */
/* ------------------------------------------------------------------ */

static size_t
slot_of(const struct proto_digest *id)
{
	uint64_t h;
	memcpy(&h, id->b, sizeof(h));
	return (size_t)h & mask;
}

static struct job *
find_job(const struct proto_digest *id)
{
	for (size_t s = slot_of(id); slots[s] != 0; s = (s + 1) & mask) {
		struct job *j = &jobs[slots[s] - 1];
		if (memcmp(j->id.b, id->b, 32) == 0) {
			return j;
		}
	}
	return NULL;
}

static void *
submitter(void *arg)
{
	int c = (int)(intptr_t)arg;
	const struct node_model *nm = &models.m[0];
	for (int i = c; i < N_JOBS && !atomic_load(&failures); i += CLIENTS) {
		struct proto_job_submit req;
		struct proto_ack reply;
		memset(&req, 0, sizeof(req));
		struct proto_job_submit *s = &req;
		s->model_id = nm->id;
		s->fee = 1;
		s->nonce = (uint64_t)i + 1;
		s->executor = ex_id[i % EXECUTORS].pk;
		s->n_inputs = 1;
		if (engine_inputs_random(nm->model, (uint64_t)i, s->inputs, NULL) !=
		    RF_OK) {
			fail("inputs", NULL);
			break;
		}
		int err = call(&cl_rpc[c], PROTO_MSG_JOB_SUBMIT, &req,
		    PROTO_MSG_ACK, &reply, sizeof(reply));
		proto_job_submit_free(&req);
		if (err != RF_OK) {
			break;
		}
		jobs[i].id = reply.id;
	}
	return NULL;
}

/* Runs job i, commits to its trace and signs the claim as its executor
 * (in index order, so each executor's sequence numbers increase in the
 * order its thread will send them). */
static int
build_claim(int i)
{
	const struct node_model *nm = &models.m[0];
	struct tensor in[1], outs[1];
	struct proto_digest *leaves = NULL, root;
	size_t n = 0;
	struct rf_errinfo ei = { "" };
	if (engine_inputs_random(nm->model, (uint64_t)i, in, &ei) != RF_OK) {
		return fail("inputs", &ei);
	}
	int err = proto_trace_run(PROTO_HASH_BLAKE2B, nm->model, in, 1, outs,
	    ENGINE_KERNELS_FAST, &leaves, &n, &root, &ei);
	engine_tensor_fini(&in[0]);
	if (err != RF_OK) {
		return fail("trace", &ei);
	}
	struct proto_claim m;
	memset(&m, 0, sizeof(m));
	struct proto_claim *c = &m;
	c->job_id = jobs[i].id;
	c->model_id = nm->id;
	c->n_inputs = 1;
	c->input_leaves[0] = leaves[0];
	c->n = (uint32_t)n;
	c->trace_root = root;
	c->n_outputs = 1;
	c->outputs[0] = outs[0]; /* the last entry is the model's output */
	size_t plen = 0;
	struct proto_digest path[MERKLE_MAX_PROOF];
	err = proto_merkle_inclusion_proof(PROTO_HASH_BLAKE2B, leaves, n, n - 1,
	    path, &plen);
	if (err == RF_OK) {
		err = proto_proof_dup(path, plen, &c->output_proof);
		c->proof_len = (uint8_t)plen;
	}
	free(leaves);
	if (err == RF_OK) {
		err = node_sign(&ex_rpc[i % EXECUTORS], PROTO_MSG_CLAIM, &m,
		    &jobs[i].claim, &jobs[i].claim_len);
	}
	struct proto_env env;
	if (err == RF_OK) {
		err = proto_msg_open_stored(jobs[i].claim, jobs[i].claim_len, &env,
		    NULL);
		jobs[i].seq = env.seq;
	}
	proto_claim_free(&m);
	return err == RF_OK ? 0 : fail("signing a claim", NULL);
}

/* ------------------------------------------------------------------ */
/* Listeners                                                            */
/* ------------------------------------------------------------------ */

static void
saw(const struct proto_event *e)
{
	if (e->kind != PROTO_EVENT_CLAIM_POSTED) {
		return;
	}
	struct job *j = find_job(&e->job_id);
	if (j != NULL) {
		atomic_store(&j->seen_fetch, now());
	}
}

/* A challenger's way: a published event wakes it, EVENTS_FETCH reads the
 * log from its cursor. */
static void *
challenger_like(void *arg)
{
	uint64_t cursor = *(uint64_t *)arg;
	struct proto_identity id;
	struct node_rpc rpc;
	struct node_events ev;
	struct rf_errinfo ei = { "" };
	if (proto_identity_generate(&id) != RF_OK ||
	    node_rpc_open(&rpc, url, &id, PROTO_HASH_BLAKE2B, &ref_id.pk, &ei) !=
	    RF_OK) {
		fail("listener", &ei);
		return NULL;
	}
	rpc.timeout_ms = CALL_MS;
	if (node_events_open(&ev, ev_url, &rpc, cursor, &ei) != RF_OK) {
		fail("listener", &ei);
		node_rpc_close(&rpc);
		return NULL;
	}
	while (!atomic_load(&stop_listeners)) {
		struct proto_events m;
		if (node_events_next(&ev, 20, &m, &ei) != RF_OK) {
			fail("events", &ei);
			break;
		}
		for (uint32_t i = 0; i < m.n; i++) {
			saw(&m.events[i]);
			node_events_done(&ev, m.events[i].seq);
		}
		proto_events_free(&m);
	}
	node_events_close(&ev);
	node_rpc_close(&rpc);
	proto_identity_wipe(&id);
	return NULL;
}

/* The last event's sequence number, so the listener starts there. */
static uint64_t
last_event(void)
{
	uint64_t cursor = 0;
	for (;;) {
		struct proto_events_fetch req = { .after = cursor };
		struct proto_events reply;
		if (call(&cl_rpc[0], PROTO_MSG_EVENTS_FETCH, &req, PROTO_MSG_EVENTS,
		    &reply, sizeof(reply)) != RF_OK) {
			return cursor;
		}
		uint32_t n = reply.n;
		if (n > 0) {
			cursor = reply.events[n - 1].seq;
		}
		proto_events_free(&reply);
		if (n == 0) {
			return cursor;
		}
	}
}

/* ------------------------------------------------------------------ */
/* Posting                                                              */
/* ------------------------------------------------------------------ */

static int
post(struct net_client *c, int i)
{
	struct rf_errinfo ei = { "" };
	struct job *j = &jobs[i];
	atomic_store(&j->sent, now());
	int err = net_client_call(c, j->claim, j->claim_len, &j->reply,
	    &j->reply_len, CALL_MS, &ei);
	return err == RF_OK ? 0 : fail("posting a claim", &ei);
}

struct poster {
	int executor;
	struct net_client *c;
	pthread_barrier_t *go;
};

static void *
saturate(void *arg)
{
	struct poster *p = arg;
	pthread_barrier_wait(p->go);
	for (int i = p->executor; i < SAT_CLAIMS; i += EXECUTORS) {
		if (post(p->c, i) != 0) {
			break;
		}
	}
	return NULL;
}

static int
check_replies(int from, int to)
{
	int bad = 0;
	for (int i = from; i < to; i++) {
		struct proto_env m;
		struct proto_ack ack;
		struct proto_error e;
		struct job *j = &jobs[i];
		if (j->reply == NULL ||
		    proto_msg_open(j->reply, j->reply_len, &m, NULL) != RF_OK) {
			bad++;
			continue;
		}
		if (m.type != PROTO_MSG_ACK ||
		    proto_ack_decode(&m, &ack, NULL) != RF_OK ||
		    ack.ref_seq != j->seq) {
			if (bad++ == 0 && m.type == PROTO_MSG_ERROR &&
			    proto_error_decode(&m, &e, NULL) == RF_OK) {
				fprintf(stderr, "network_bench: claim %d refused: %s\n", i,
				    e.text);
			}
		}
	}
	return bad;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Waits until the listener saw every claim in [from, to), then prints
 * the latency percentiles. */
static void
latency(const char *label, int from, int to)
{
	double deadline = now() + 30;
	for (int i = from; i < to && now() < deadline;) {
		if (atomic_load(&jobs[i].seen_fetch) > 0.0) {
			i++;
		} else {
			usleep(1000);
		}
	}
	size_t n = (size_t)(to - from);
	double *f = calloc(n, sizeof(double));
	size_t nf = 0;
	for (int i = from; f != NULL && i < to; i++) {
		double a = atomic_load(&jobs[i].seen_fetch);
		if (a > 0.0) {
			f[nf++] = (a - atomic_load(&jobs[i].sent)) * 1e3;
		}
		if (a > 0.0 && getenv("RF_BENCH_DEBUG") != NULL &&
		    f[nf - 1] > 2.0 && to - from == PACED_CLAIMS) {
			fprintf(stderr, "slow %d: sent +%.3f s, %.2f ms\n", i,
			    atomic_load(&jobs[i].sent) - atomic_load(&jobs[from].sent),
			    f[nf - 1]);
		}
	}
	if (f == NULL || nf == 0) {
		fail("no claim reached the listener", NULL);
		free(f);
		return;
	}
	qsort(f, nf, sizeof(double), cmp_double);
	double p99 = f[(nf * 99) / 100 < nf ? (nf * 99) / 100 : nf - 1];
	printf("claim -> challenger, %s: median %.2f ms, p90 %.2f ms, p99 %.2f "
	    "ms, max %.2f ms (%zu of %zu seen)\n", label, f[nf / 2],
	    f[(nf * 9) / 10], p99, f[nf - 1], nf, n);
	if (to - from == PACED_CLAIMS) {
		printf("  p99 target < %.0f ms: %s\n", TARGET_P99_MS,
		    p99 < TARGET_P99_MS ? "met" : "NOT met");
	}
	free(f);
}

static int
run(const char *exe)
{
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", free_port());
	snprintf(ev_url, sizeof(ev_url), "tcp://127.0.0.1:%d", free_port());
	if (write_setup() != 0) {
		return fail("cannot write the set-up files", NULL);
	}
	referee_pid = spawn_referee(exe);
	if (referee_pid < 0 || open_nodes() != 0) {
		return fail("the referee did not come up", NULL);
	}
	printf("referee %s (%s workers), %d executors, window %d ms, "
	    "model relu16 (1 operator)\n", exe, workers, EXECUTORS, WINDOW_MS);

	/* Jobs, from several clients at once. */
	double t0 = now();
	pthread_t th[EXECUTORS + 1];
	for (int c = 0; c < CLIENTS; c++) {
		pthread_create(&th[c], NULL, submitter, (void *)(intptr_t)c);
	}
	for (int c = 0; c < CLIENTS; c++) {
		pthread_join(th[c], NULL);
	}
	if (atomic_load(&failures)) {
		return 1;
	}
	double t1 = now();
	printf("jobs submitted: %d in %.2f s, %.0f jobs/s (%d clients)\n",
	    N_JOBS, t1 - t0, N_JOBS / (t1 - t0), CLIENTS);
	for (int i = 0; i < N_JOBS; i++) {
		if (build_claim(i) != 0) {
			return 1;
		}
		size_t s = slot_of(&jobs[i].id);
		while (slots[s] != 0) {
			s = (s + 1) & mask;
		}
		slots[s] = (uint32_t)i + 1;
	}

	/* Listeners, from the current end of the log. */
	static uint64_t cursor;
	cursor = last_event();
	struct rf_errinfo ei = { "" };
	pthread_create(&th[EXECUTORS], NULL, challenger_like, &cursor);
	usleep(300 * 1000); /* past the slow-joiner window */

	/* 1. Saturated. */
	struct net_client *clients[EXECUTORS];
	struct poster posters[EXECUTORS];
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, EXECUTORS + 1);
	for (int e = 0; e < EXECUTORS; e++) {
		if (net_client_open(url, PROTO_MAX_MESSAGE, &clients[e], &ei) !=
		    RF_OK) {
			return fail("client", &ei);
		}
		posters[e] = (struct poster){ e, clients[e], &go };
		pthread_create(&th[e], NULL, saturate, &posters[e]);
	}
	pthread_barrier_wait(&go);
	double cpu0 = referee_cpu();
	double self0 = self_cpu();
	t0 = now();
	for (int e = 0; e < EXECUTORS; e++) {
		pthread_join(th[e], NULL);
	}
	t1 = now();
	double cpu = referee_cpu() - cpu0;
	double self = self_cpu() - self0;
	pthread_barrier_destroy(&go);
	int bad = check_replies(0, SAT_CLAIMS);
	double rate = SAT_CLAIMS / (t1 - t0);
	printf("claims accepted: %d in %.2f s, %.0f claims/s sustained (%d "
	    "posting threads; target >= %.0f: %s)\n", SAT_CLAIMS - bad, t1 - t0,
	    rate, EXECUTORS, TARGET_RATE, rate >= TARGET_RATE ? "met" :
	    "NOT met");
	printf("referee CPU: %.1f us per claim (user + system, all its "
	    "threads; %.0f%% of one core); this client: %.1f us per claim\n",
	    cpu * 1e6 / SAT_CLAIMS, 100.0 * cpu / (t1 - t0),
	    self * 1e6 / SAT_CLAIMS);
	if (bad > 0) {
		fail("some claims were not accepted", NULL);
	}
	latency("saturated", 0, SAT_CLAIMS);

	/* 2. Paced, from one thread, once the saturated claims are final:
	 * their windows close a second after they came in, and finalising
	 * that backlog is not the steady state being measured here. */
	double settle = now() + 60;
	for (;;) {
		struct proto_status_info a;
		if (call(&cl_rpc[0], PROTO_MSG_STATUS_QUERY, NULL,
		    PROTO_MSG_STATUS_INFO, &a, sizeof(a)) != RF_OK) {
			break;
		}
		uint32_t pending = a.claims_pending;
		proto_status_info_free(&a);
		if (pending == 0 || now() > settle) {
			break;
		}
		usleep(50 * 1000);
	}
	t0 = now();
	for (int k = 0; k < PACED_CLAIMS; k++) {
		sleep_until(t0 + (double)k / PACED_RATE);
		if (post(clients[0], SAT_CLAIMS + k) != 0) {
			break;
		}
	}
	if (check_replies(SAT_CLAIMS, N_JOBS) > 0) {
		fail("some paced claims were not accepted", NULL);
	}
	char label[32];
	snprintf(label, sizeof(label), "at %d/s", PACED_RATE);
	latency(label, SAT_CLAIMS, N_JOBS);

	atomic_store(&stop_listeners, 1);
	pthread_join(th[EXECUTORS], NULL);
	for (int e = 0; e < EXECUTORS; e++) {
		net_client_close(clients[e]);
	}

	/* Every claim in the referee's books, and the money where it was. */
	struct proto_status_info reply;
	if (call(&cl_rpc[0], PROTO_MSG_STATUS_QUERY, NULL, PROTO_MSG_STATUS_INFO,
	    &reply, sizeof(reply)) == RF_OK) {
		const struct proto_status_info *s = &reply;
		if (s->claims_pending + s->claims_final != (uint32_t)N_JOBS) {
			fail("the referee does not hold every claim", NULL);
		}
		if (s->ledger_total != (uint64_t)(EXECUTORS + CLIENTS) *
		    1000000000ULL) {
			fail("the ledger total changed", NULL);
		}
		proto_status_info_free(&reply);
	}
	return atomic_load(&failures) != 0;
}

int
main(void)
{
	const char *exe = getenv("RF_REFUTE");
	if (exe == NULL) {
		exe = "bin/refute";
	}
	if (access(exe, X_OK) != 0) {
		fprintf(stderr, "network_bench: no refute binary at %s (set "
		    "RF_REFUTE)\n", exe);
		return 1;
	}
	/* Lines as they come, also into a pipe or a file. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (proto_init() != RF_OK) {
		return 1;
	}
	/* A run that hangs (NNG 1.5.2 can deadlock in nng_close) must not
	 * hang `make bench`: SIGALRM ends it, and the referee dies with it
	 * (parent-death signal). */
	alarm(600);
	const char *nc = getenv("RF_BENCH_CLAIMS");
	if (nc != NULL && strtol(nc, NULL, 10) >= 100) {
		sat_claims = (int)strtol(nc, NULL, 10);
	}
	const char *w = getenv("RF_BENCH_WORKERS");
	if (w != NULL && strlen(w) < sizeof(workers)) {
		snprintf(workers, sizeof(workers), "%s", w);
	}
	snprintf(dir, sizeof(dir), "/tmp/rf-nbench-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		return 1;
	}
	size_t cap = 16;
	while (cap < 2 * (size_t)N_JOBS) {
		cap *= 2;
	}
	mask = cap - 1;
	jobs = calloc(N_JOBS, sizeof(*jobs));
	slots = calloc(cap, sizeof(*slots));
	int rc = jobs != NULL && slots != NULL ? run(exe) : 1;

	for (int i = 0; i < EXECUTORS; i++) {
		node_rpc_close(&ex_rpc[i]);
	}
	for (int i = 0; i < CLIENTS; i++) {
		node_rpc_close(&cl_rpc[i]);
	}
	if (referee_pid > 0) {
		kill(referee_pid, SIGTERM);
		int st;
		waitpid(referee_pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "network_bench: the referee did not stop "
			    "cleanly (see %s/referee.log)\n", dir);
			rc = 1;
		}
	}
	for (int i = 0; jobs != NULL && i < N_JOBS; i++) {
		free(jobs[i].claim);
		free(jobs[i].reply);
	}
	free(jobs);
	free(slots);
	node_models_free(&models);
	if (rc == 0 && getenv("RF_BENCH_KEEP") == NULL) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0) {
			rc = 1;
		}
	} else {
		fprintf(stderr, "network_bench: files kept in %s\n", dir);
	}
	return rc;
}
