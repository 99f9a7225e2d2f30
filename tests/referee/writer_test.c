/*
 * tests/referee/writer_test.c - the referee's group commit
 * (referee/writer.c), one batch at a time, without sockets: signed
 * requests are opened as a worker opens them and handed to
 * referee_writer_batch together, so which requests share a transaction
 * is certain.
 *
 * What a cheater tries inside a batch: a claim on another executor's job,
 * a replayed sequence number with new content, a claim with a bad proof,
 * the same claim again. Each is refused (or answered with the recorded
 * reply) while the honest claims of the same batch commit; a batch that
 * cannot begin its transaction applies nothing and says so to every
 * request; a halted referee refuses the whole batch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "engine/engine.h"
#include "node/node.h"
#include "referee/referee_int.h"
#include "tests/adversary/adv.h"
#include "tests/testlib.h"

#define SUITE PROTO_HASH_BLAKE2B

enum { X, Y, C, N_NODES }; /* two executors, a client */

struct fix {
	struct referee r;
	struct referee_config cfg;
	struct adv_node node[N_NODES];
	uint64_t seq[N_NODES]; /* each node's last sequence number */
	struct engine_model *model;
	char dir[64], path[96];
};

/* A request as a worker hands it to the writer: opened, verified and
 * decoded, with the bytes and body it points into. */
struct req {
	struct request q;
	struct proto_env env;
	void *body;
	uint8_t *buf;
};

static struct req *
req_open(struct fix *f, uint8_t *buf, size_t len)
{
	struct req *w = calloc(1, sizeof(*w));
	CU_ASSERT_FATAL(w != NULL);
	w->buf = buf;
	w->q.r = &f->r;
	w->q.raw = buf;
	w->q.raw_len = len;
	w->q.now_ms = node_wall_ms();
	CU_ASSERT_FATAL(proto_msg_open(buf, len, &w->env, NULL) == RF_OK);
	size_t size = proto_msg_body_size(w->env.type);
	w->body = calloc(1, size > 0 ? size : 1);
	CU_ASSERT_FATAL(w->body != NULL);
	CU_ASSERT_FATAL(proto_msg_body_decode(&w->env, w->body, size, NULL) ==
	    RF_OK);
	w->q.env = &w->env;
	w->q.body = w->body;
	return w;
}

/* Signs m as node who with sequence number seq (0: the node's next). */
static struct req *
req_sign(struct fix *f, int who, struct adv_msg *m, uint64_t seq)
{
	struct adv_node *a = &f->node[who];
	m->sender = a->id.pk;
	m->seq = seq != 0 ? seq : ++f->seq[who];
	uint8_t *buf;
	size_t len;
	CU_ASSERT_FATAL(adv_msg_pack(m, &a->id, &buf, &len) == RF_OK);
	adv_msg_free(m);
	return req_open(f, buf, len);
}

static void
req_free(struct req *w)
{
	free(w->q.out);
	referee_outbox_free(&w->q.events);
	proto_msg_body_free(w->env.type, w->body);
	free(w->body);
	free(w->buf);
	free(w);
}

/* The reply's type and, for an ERROR, its code; for an ACK, its id. */
static uint32_t
reply_code(const struct req *w, struct proto_digest *id)
{
	struct adv_msg m;
	if (w->q.status != RF_OK || w->q.out == NULL ||
	    adv_msg_decode(w->q.out, w->q.out_len, &m, NULL) != RF_OK) {
		return 9999;
	}
	uint32_t code = m.type == PROTO_MSG_ERROR ? m.u.error.code :
	    m.type == PROTO_MSG_ACK ? 0 : 9998;
	if (m.type == PROTO_MSG_ACK && id != NULL) {
		*id = m.u.ack.id;
	}
	adv_msg_free(&m);
	return code;
}

/* Applies ws[0..n) as one batch. */
static void
batch(struct fix *f, struct req **ws, size_t n)
{
	struct request *b[REFEREE_WRITER_BATCH];
	CU_ASSERT_FATAL(n <= REFEREE_WRITER_BATCH);
	for (size_t i = 0; i < n; i++) {
		b[i] = &ws[i]->q;
	}
	referee_writer_batch(&f->r, b, n);
}

static int64_t
sql_int(struct fix *f, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;
	store_lock(f->r.db);
	CU_ASSERT_FATAL(sqlite3_prepare_v2(store_db(f->r.db), sql, -1, &st,
	    NULL) == SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW) {
		v = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	store_unlock(f->r.db);
	return v;
}

static bool
ledger_whole(struct fix *f)
{
	uint64_t total = 0, burned = 0;
	int64_t minted = -1;
	store_lock(f->r.db);
	int err = referee_ledger_total(&f->r, &total, &burned);
	int err2 = referee_db_meta_get(&f->r, "minted", &minted);
	store_unlock(f->r.db);
	return err == RF_OK && err2 == RF_OK && total == (uint64_t)minted;
}

/*
 * A referee on a fresh database with X, Y (executors serving the model,
 * staked) and C (a client), all registered, and the model registered:
 * these set-up requests go in one batch too, so each sees the ones
 * before it.
 */
static struct fix *
fix_open(void)
{
	struct fix *f = calloc(1, sizeof(*f));
	CU_ASSERT_FATAL(f != NULL);
	snprintf(f->dir, sizeof(f->dir), "/tmp/rf-writer-test-XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(f->dir) != NULL);
	snprintf(f->path, sizeof(f->path), "%s/referee.db", f->dir);
	uint8_t seed[32];
	memset(seed, 9, sizeof(seed));
	proto_identity_from_seed(&f->cfg.identity, seed);
	f->cfg.db_path = f->path;
	f->r.cfg = &f->cfg;
	atomic_store(&f->r.out_seq, node_wall_us());
	struct rf_errinfo ei = { "" };
	CU_ASSERT_FATAL(store_open(f->path, referee_schema, referee_schema_len,
	    &f->r.db, &ei) == RF_OK);
	char genesis[1024];
	int g = snprintf(genesis, sizeof(genesis), "min_stake 100\n");
	for (int i = 0; i < N_NODES; i++) {
		adv_node_init(&f->node[i], (uint32_t)(100 + i));
		char hex[65];
		proto_pubkey_hex(&f->node[i].id.pk, hex);
		g += snprintf(genesis + g, sizeof(genesis) - (size_t)g,
		    "account %s 1000000\n", hex);
	}
	struct referee_genesis gen;
	CU_ASSERT_FATAL(referee_genesis_parse(genesis, (size_t)g, &gen, &ei) ==
	    RF_OK);
	CU_ASSERT_FATAL(referee_db_genesis(&f->r, &gen, &ei) == RF_OK);
	referee_genesis_free(&gen);

	struct engine_gen_opts o;
	engine_gen_opts_init(&o, ENGINE_GEN_MLP);
	CU_ASSERT_FATAL(engine_model_generate(&o, &f->model, NULL) == RF_OK);
	struct req *ws[8];
	size_t n = 0;
	struct adv_msg m;
	for (int i = 0; i < N_NODES; i++) {
		adv_msg_init(&m, PROTO_MSG_NODE_REGISTER, SUITE);
		m.u.node_register.roles = i == C ? PROTO_ROLE_CLIENT :
		    PROTO_ROLE_EXECUTOR;
		snprintf(m.u.node_register.name, sizeof(m.u.node_register.name),
		    "n%d", i);
		if (i != C) {
			CU_ASSERT_FATAL(proto_model_id(SUITE, f->model,
			    &m.u.node_register.models[0]) == RF_OK);
			m.u.node_register.n_models = 1;
		}
		ws[n++] = req_sign(f, i, &m, 0);
	}
	CU_ASSERT_FATAL(adv_model_msg(SUITE, f->model, &m) == RF_OK);
	ws[n++] = req_sign(f, X, &m, 0);
	for (int i = X; i <= Y; i++) {
		adv_msg_init(&m, PROTO_MSG_STAKE, SUITE);
		m.u.amount.amount = 10000;
		ws[n++] = req_sign(f, i, &m, 0);
	}
	batch(f, ws, n);
	for (size_t i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(reply_code(ws[i], NULL), 0);
		req_free(ws[i]);
	}
	return f;
}

static void
fix_close(struct fix *f)
{
	referee_db_cache_free(&f->r);
	store_close(f->r.db);
	static const char *const ext[] = { "", "-wal", "-shm" };
	for (size_t i = 0; i < 3; i++) {
		char p[128];
		snprintf(p, sizeof(p), "%s%s", f->path, ext[i]);
		unlink(p);
	}
	rmdir(f->dir);
	engine_model_free(f->model);
	proto_identity_wipe(&f->cfg.identity);
	free(f);
}

/* Jobs 0..n-1 from C, job i naming executor who[i], in one batch. */
static void
submit_jobs(struct fix *f, const int *who, size_t n, struct proto_digest *id)
{
	struct req *ws[8];
	CU_ASSERT_FATAL(n <= 8);
	for (size_t i = 0; i < n; i++) {
		struct adv_msg m;
		adv_msg_init(&m, PROTO_MSG_JOB_SUBMIT, SUITE);
		struct proto_job_submit *js = &m.u.job_submit;
		CU_ASSERT_FATAL(engine_inputs_random(f->model, i, js->inputs,
		    NULL) == RF_OK);
		CU_ASSERT_FATAL(proto_model_id(SUITE, f->model, &js->model_id) ==
		    RF_OK);
		js->n_inputs = (uint8_t)engine_model_input_count(f->model);
		js->fee = 10;
		js->nonce = i + 1;
		js->executor = f->node[who[i]].id.pk;
		ws[i] = req_sign(f, C, &m, 0);
	}
	batch(f, ws, n);
	for (size_t i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(reply_code(ws[i], &id[i]), 0);
		req_free(ws[i]);
	}
}

/* The honest claim of job i (inputs seeded i) by who. */
static struct req *
claim(struct fix *f, int who, size_t i, const struct proto_digest *job,
    uint64_t seq, bool bad_proof)
{
	struct adv_trace t;
	struct adv_msg m;
	CU_ASSERT_FATAL(adv_trace_run(f->model, i, &t) == RF_OK);
	CU_ASSERT_FATAL(adv_claim_msg(&t, job, f->model, &m) == RF_OK);
	adv_trace_free(&t);
	if (bad_proof) {
		m.u.claim.output_proof[0].b[0] ^= 1;
	}
	return req_sign(f, who, &m, seq);
}

static int64_t
claims_of(struct fix *f, const struct proto_digest *job)
{
	char hex[65], sql[160];
	proto_pubkey_hex((const struct proto_pubkey *)job, hex);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM claims WHERE "
	    "hex(job_id) = upper('%s')", hex);
	return sql_int(f, sql);
}

static void
test_batch_refusals_isolated(void)
{
	struct fix *f = fix_open();
	struct proto_digest job[5];
	const int who[5] = { X, X, X, X, Y };
	submit_jobs(f, who, 5, job);
	int64_t events0 = sql_int(f, "SELECT count(*) FROM events");

	/* One batch: honest claims between every kind of bad one. */
	struct req *ws[7];
	ws[0] = claim(f, X, 0, &job[0], 0, false);
	/* Y claims X's job. */
	ws[1] = claim(f, Y, 1, &job[1], 0, false);
	ws[2] = claim(f, X, 2, &job[2], 0, false);
	/* X reuses ws[0]'s sequence number for another claim: a replay. */
	ws[3] = claim(f, X, 3, &job[3], ws[0]->env.seq, false);
	/* X's claim on job 3 with a proof that does not hold. */
	ws[4] = claim(f, X, 3, &job[3], 0, true);
	/* ws[4] again, the same bytes (a client retrying): the recorded
	 * reply, its refusal, and nothing applied twice. */
	uint8_t *again = malloc(ws[4]->q.raw_len);
	CU_ASSERT_FATAL(again != NULL);
	memcpy(again, ws[4]->buf, ws[4]->q.raw_len);
	ws[5] = req_open(f, again, ws[4]->q.raw_len);
	ws[6] = claim(f, Y, 4, &job[4], 0, false);
	batch(f, ws, 7);

	CU_ASSERT_EQUAL(reply_code(ws[0], NULL), 0);
	CU_ASSERT_EQUAL(reply_code(ws[1], NULL), PROTO_ERR_INVALID);
	CU_ASSERT_EQUAL(reply_code(ws[2], NULL), 0);
	CU_ASSERT_EQUAL(reply_code(ws[3], NULL), PROTO_ERR_REPLAY);
	CU_ASSERT_EQUAL(reply_code(ws[4], NULL), PROTO_ERR_INVALID);
	CU_ASSERT_EQUAL_FATAL(ws[5]->q.status, RF_OK);
	CU_ASSERT(ws[5]->q.out_len == ws[4]->q.out_len &&
	    memcmp(ws[5]->q.out, ws[4]->q.out, ws[4]->q.out_len) == 0);
	CU_ASSERT_EQUAL(reply_code(ws[6], NULL), 0);

	/* The honest claims are in, the others changed nothing. */
	CU_ASSERT_EQUAL(claims_of(f, &job[0]), 1);
	CU_ASSERT_EQUAL(claims_of(f, &job[1]), 0);
	CU_ASSERT_EQUAL(claims_of(f, &job[2]), 1);
	CU_ASSERT_EQUAL(claims_of(f, &job[3]), 0);
	CU_ASSERT_EQUAL(claims_of(f, &job[4]), 1);
	CU_ASSERT_EQUAL(sql_int(f, "SELECT count(*) FROM claims"), 3);
	CU_ASSERT_EQUAL(sql_int(f, "SELECT count(*) FROM jobs WHERE state = 1"),
	    2);
	/* One CLAIM_POSTED each, queued on its own request only. */
	CU_ASSERT_EQUAL(sql_int(f, "SELECT count(*) FROM events") - events0,
	    3);
	size_t queued[7] = { 1, 0, 1, 0, 0, 0, 1 };
	for (size_t i = 0; i < 7; i++) {
		CU_ASSERT_EQUAL(ws[i]->q.events.n, queued[i]);
	}
	/* A refusal still consumes its sequence number. */
	struct account a;
	store_lock(f->r.db);
	CU_ASSERT_FATAL(referee_ledger_account(&f->r, &f->node[X].id.pk, &a) ==
	    RF_OK);
	store_unlock(f->r.db);
	CU_ASSERT_EQUAL(a.last_seq, ws[4]->env.seq);
	CU_ASSERT(ledger_whole(f));
	for (size_t i = 0; i < 7; i++) {
		req_free(ws[i]);
	}

	/* The refused jobs can still be claimed honestly afterwards. */
	ws[0] = claim(f, X, 1, &job[1], 0, false);
	ws[1] = claim(f, X, 3, &job[3], 0, false);
	batch(f, ws, 2);
	CU_ASSERT_EQUAL(reply_code(ws[0], NULL), 0);
	CU_ASSERT_EQUAL(reply_code(ws[1], NULL), 0);
	CU_ASSERT_EQUAL(sql_int(f, "SELECT count(*) FROM claims"), 5);
	CU_ASSERT(ledger_whole(f));
	req_free(ws[0]);
	req_free(ws[1]);
	fix_close(f);
}

/* A batch whose transaction cannot begin (another connection holds the
 * write lock) applies nothing: every request gets the error, none a
 * reply, and the same requests apply once the lock is free. */
static void
test_batch_failed_whole(void)
{
	struct fix *f = fix_open();
	struct proto_digest job[2];
	const int who[2] = { X, Y };
	submit_jobs(f, who, 2, job);
	sqlite3 *other;
	CU_ASSERT_FATAL(sqlite3_open(f->path, &other) == SQLITE_OK);
	CU_ASSERT_FATAL(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL) == SQLITE_OK);
	sqlite3_busy_timeout(store_db(f->r.db), 0);
	struct req *ws[2];
	ws[0] = claim(f, X, 0, &job[0], 0, false);
	ws[1] = claim(f, Y, 1, &job[1], 0, false);
	batch(f, ws, 2);
	for (size_t i = 0; i < 2; i++) {
		CU_ASSERT_NOT_EQUAL(ws[i]->q.status, RF_OK);
		CU_ASSERT_PTR_NULL(ws[i]->q.out);
		CU_ASSERT_EQUAL(ws[i]->q.events.n, 0);
	}
	CU_ASSERT_FATAL(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL) ==
	    SQLITE_OK);
	sqlite3_close(other);
	CU_ASSERT_EQUAL(sql_int(f, "SELECT count(*) FROM claims"), 0);
	/* The clients retry with the same bytes: applied now, once. */
	for (size_t i = 0; i < 2; i++) {
		ws[i]->q.status = RF_OK;
	}
	batch(f, ws, 2);
	CU_ASSERT_EQUAL(reply_code(ws[0], NULL), 0);
	CU_ASSERT_EQUAL(reply_code(ws[1], NULL), 0);
	CU_ASSERT_EQUAL(sql_int(f, "SELECT count(*) FROM claims"), 2);
	CU_ASSERT(ledger_whole(f));
	req_free(ws[0]);
	req_free(ws[1]);
	fix_close(f);
}

/* Halted (the ledger failed its check): the whole batch is refused and
 * nothing is written, not even sequence numbers. */
static void
test_batch_halted(void)
{
	struct fix *f = fix_open();
	struct proto_digest job[1];
	const int who[1] = { X };
	submit_jobs(f, who, 1, job);
	int64_t seq0 = sql_int(f, "SELECT max(last_seq) FROM accounts");
	referee_halt(&f->r, "test");
	struct req *ws[2];
	ws[0] = claim(f, X, 0, &job[0], 0, false);
	struct adv_msg m;
	adv_msg_init(&m, PROTO_MSG_STAKE, SUITE);
	m.u.amount.amount = 1;
	ws[1] = req_sign(f, Y, &m, 0);
	batch(f, ws, 2);
	CU_ASSERT_EQUAL(reply_code(ws[0], NULL), PROTO_ERR_HALTED);
	CU_ASSERT_EQUAL(reply_code(ws[1], NULL), PROTO_ERR_HALTED);
	CU_ASSERT_EQUAL(sql_int(f, "SELECT count(*) FROM claims"), 0);
	CU_ASSERT_EQUAL(sql_int(f, "SELECT max(last_seq) FROM accounts"), seq0);
	req_free(ws[0]);
	req_free(ws[1]);
	fix_close(f);
}

static CU_TestInfo writer_tests[] = {
	{ "bad requests in a batch refused, the rest committed",
	    test_batch_refusals_isolated },
	{ "a batch that cannot begin applies nothing", test_batch_failed_whole },
	{ "a halted referee refuses the whole batch", test_batch_halted },
	CU_TEST_INFO_NULL,
};

static int
suite_init(void)
{
	return proto_init() == RF_OK ? 0 : 1;
}

static CU_SuiteInfo suites[] = {
	{ "referee writer", suite_init, NULL, NULL, NULL, writer_tests },
	CU_SUITE_INFO_NULL,
};

int
main(void)
{
	rf_log_init("writer_test", LOG_LEVEL_ERROR);
	return test_main(suites);
}
