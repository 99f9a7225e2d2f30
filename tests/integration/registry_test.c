/*
 * tests/integration/registry_test.c - what a hand-made malicious
 * registrant, executor or client can do with model registration and
 * jobs, against a real referee, a real honest executor and a real
 * (falsely challenging) challenger.
 *
 *   - poisoned registration, wrong n_leaves: registered before the honest
 *     executor, it made the honest executor's weight proofs fail in a
 *     dispute, so a false challenger won and the honest executor was
 *     slashed. Now refused, and the honest executor wins.
 *   - poisoned registration, one operator too many: let a liar claim a
 *     made-up final entry (the client got f32[1] = 1234.5). Now refused,
 *     and so is a claim whose trace is longer than the graph's.
 *   - a job whose inputs do not fit the model: accepted, escrowed and
 *     never answered. Now refused at submit, nothing escrowed.
 *   - a model that passes `model info` but cannot run (a pooling window
 *     larger than its input): refused at registration.
 *   - a model with a 3000x3000 MatMul, whose reveal cannot fit a
 *     verdict's transcript: refused at registration, naming the operator.
 *   - a model whose declared output is not its last operator: the output
 *     delivered is the declared one, and a claim proving the last
 *     operator's entry as the output is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "challenger/challenger.h"
#include "engine/engine.h"
#include "net/net.h"
#include "node/node.h"
#include "tests/adversary/adv.h"
#include "tests/testlib.h"

#define SUITE PROTO_HASH_BLAKE2B
#define WAIT_S 60

static char dir[256];
static char ref_url[64], ev_url[64];
static char rk_hex[65];
static pid_t ref_pid = -1, ex_pid = -1;
static struct proto_identity ref_id, ex_id, ch_id, att_id, cli_id;
static struct node_rpc att, cli; /* the attacker, the client */
static bool att_open, cli_open;
static struct engine_model *model_a, *model_b, *model_o;
static struct proto_digest id_a, id_b, id_o;
static uint64_t nonce = 1;
/* The poisoned registration of model A, sent before the honest executor
 * started: what the referee answered. */
static enum proto_msg_type poison_a_reply;
static char poison_a_text[300];

/* ------------------------------------------------------------------ */
/* Set-up                                                               */
/* ------------------------------------------------------------------ */

static int
write_identity(const char *name, struct proto_identity *id)
{
	char path[512], text[PROTO_IDENTITY_TEXT_MAX];
	if (proto_identity_generate(id) != RF_OK ||
	    proto_identity_format(id, text, sizeof(text)) != RF_OK) {
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return test_write_file(path, text, strlen(text), 0600);
}

static int
save_model(const char *name, struct engine_model *m, struct proto_digest *id)
{
	uint8_t *buf;
	size_t len;
	char path[512];
	if (engine_model_encode(m, &buf, &len) != RF_OK) {
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int rc = test_write_file(path, buf, len, 0644);
	free(buf);
	if (rc == 0 && proto_model_id(SUITE, m, id) != RF_OK) {
		rc = -1;
	}
	return rc;
}

static int
gen_mlp(int64_t ops, uint64_t seed, struct engine_model **m)
{
	struct engine_gen_opts o;
	engine_gen_opts_init(&o, ENGINE_GEN_MLP);
	o.ops = ops;
	o.seed = seed;
	o.in_features = 8;
	o.hidden = 8;
	o.out_features = 4;
	return engine_model_generate(&o, m, NULL);
}

/* x[1,4] -> MatMul W -> y (the declared output) -> Relu -> z (computed,
 * last, not an output). W makes some of y negative, so z != y. */
static int
build_model_o(struct engine_model **out)
{
	struct engine_model *m = engine_model_alloc("out-not-last");
	int64_t xd[2] = { 1, 4 }, wd[2] = { 4, 3 };
	int x, w, y, z;
	struct tensor wt;
	if (m == NULL || engine_model_add_input(m, "x", TENSOR_F32, 2, xd, &x,
	    NULL) != RF_OK || engine_tensor_init(&wt, TENSOR_F32, 2, wd) != RF_OK) {
		engine_model_free(m);
		return -1;
	}
	for (size_t i = 0; i < wt.count; i++) {
		((float *)wt.data)[i] = (i % 2 == 0 ? 1.0f : -1.0f) *
		    (float)(i + 1) / 8.0f;
	}
	const char *yn[1] = { "y" }, *zn[1] = { "z" };
	int in[2];
	int err = engine_model_add_weight(m, "w", &wt, &w, NULL);
	in[0] = x;
	in[1] = w;
	if (err == RF_OK) {
		err = engine_model_add_op(m, ENGINE_OP_MATMUL, "mm", in, 2, yn, 1,
		    NULL, 0, &y, NULL);
	}
	if (err == RF_OK) {
		err = engine_model_add_op(m, ENGINE_OP_RELU, "relu", &y, 1, zn, 1,
		    NULL, 0, &z, NULL);
	}
	if (err == RF_OK) {
		err = engine_model_add_output(m, y, NULL);
	}
	if (err != RF_OK) {
		engine_tensor_fini(&wt);
		engine_model_free(m);
		return -1;
	}
	*out = m;
	return 0;
}

static int
write_genesis(void)
{
	char text[2048], path[512], a[65], b[65], c[65], d[65];
	proto_pubkey_hex(&ex_id.pk, a);
	proto_pubkey_hex(&ch_id.pk, b);
	proto_pubkey_hex(&att_id.pk, c);
	proto_pubkey_hex(&cli_id.pk, d);
	int n = snprintf(text, sizeof(text), "window_ms 2500\nclock_ms 4000\n"
	    "account %s 1000000\naccount %s 1000000\naccount %s 1000000\n"
	    "account %s 1000000\n", a, b, c, d);
	snprintf(path, sizeof(path), "%s/genesis", dir);
	return test_write_file(path, text, (size_t)n, 0644);
}

/* One call; the reply (an ERROR reply is returned too). */
static int
call(struct node_rpc *rpc, struct adv_msg *req, struct adv_msg *reply)
{
	struct rf_errinfo ei = { "" };
	int err = adv_rpc_call(rpc, req, reply, &ei);
	adv_msg_free(req);
	if (err != RF_OK) {
		fprintf(stderr, "call failed: %s\n", ei.msg);
	}
	return err;
}

/* A MODEL_REGISTER of m by rpc, with its dimensions changed by the
 * deltas (a poisoned registration when they are not zero). Returns the
 * reply's type; the ERROR text in text. */
static enum proto_msg_type
register_model(struct node_rpc *rpc, const struct engine_model *m,
    int d_ops, int d_leaves, char *text, size_t text_len)
{
	struct proto_digest *leaves;
	size_t n;
	struct adv_msg req, reply;
	/* No CU_ASSERT here: set-up calls this too. */
	if (proto_model_leaves(SUITE, m, &leaves, &n) != RF_OK) {
		return PROTO_MSG_EVENT;
	}
	adv_msg_init(&req, PROTO_MSG_MODEL_REGISTER, SUITE);
	struct proto_model_register *mr = &req.u.model_register;
	proto_merkle_root(SUITE, leaves, n, &mr->model_id);
	size_t plen = 0;
	mr->graph_proof = calloc(MERKLE_MAX_PROOF, sizeof(struct proto_digest));
	int err = mr->graph_proof == NULL ? RF_ERR_NOMEM :
	    proto_merkle_inclusion_proof(SUITE, leaves, n, 0, mr->graph_proof,
	    &plen);
	free(leaves);
	mr->proof_len = (uint8_t)plen;
	snprintf(mr->name, sizeof(mr->name), "%s", engine_model_name(m));
	mr->n_ops = (uint32_t)((int)engine_model_op_count(m) + d_ops);
	mr->n_inputs = (uint32_t)engine_model_input_count(m);
	mr->n_leaves = (uint32_t)((int)n + d_leaves);
	if (err == RF_OK) {
		err = engine_model_encode_graph(m, &mr->graph, &mr->graph_len);
	}
	if (err != RF_OK) {
		adv_msg_free(&req);
		return PROTO_MSG_EVENT;
	}
	if (call(rpc, &req, &reply) != RF_OK) {
		return PROTO_MSG_EVENT; /* neither ACK nor ERROR */
	}
	enum proto_msg_type t = reply.type;
	if (text != NULL) {
		snprintf(text, text_len, "%s", t == PROTO_MSG_ERROR ?
		    reply.u.error.text : "");
	}
	adv_msg_free(&reply);
	return t;
}

static int
register_node(struct node_rpc *rpc, uint8_t roles, const char *name,
    const struct proto_digest *serves)
{
	struct adv_msg req, reply;
	adv_msg_init(&req, PROTO_MSG_NODE_REGISTER, SUITE);
	req.u.node_register.roles = roles;
	snprintf(req.u.node_register.name, sizeof(req.u.node_register.name),
	    "%s", name);
	if (serves != NULL) {
		req.u.node_register.models[0] = *serves;
		req.u.node_register.n_models = 1;
	}
	if (call(rpc, &req, &reply) != RF_OK) {
		return -1;
	}
	int rc = reply.type == PROTO_MSG_ACK ? 0 : -1;
	adv_msg_free(&reply);
	return rc;
}

static uint64_t
balance_of(struct node_rpc *rpc, uint64_t *stake)
{
	uint64_t b = 0, s = 0;
	struct rf_errinfo ei = { "" };
	CU_ASSERT_FATAL(node_account(rpc, &b, &s, &ei) == RF_OK);
	if (stake != NULL) {
		*stake = s;
	}
	return b;
}

/* Until key is registered with at least min stake. */
static int
wait_staked(const struct proto_pubkey *key)
{
	double deadline = test_seconds() + WAIT_S;
	while (test_seconds() < deadline) {
		struct adv_msg req, reply;
		adv_msg_init(&req, PROTO_MSG_STATUS_QUERY, SUITE);
		if (call(&cli, &req, &reply) == RF_OK &&
		    reply.type == PROTO_MSG_STATUS_INFO) {
			const struct proto_status_info *s = &reply.u.status_info;
			bool staked = false;
			for (uint32_t i = 0; i < s->n_nodes; i++) {
				staked = staked || (memcmp(s->nodes[i].key.b, key->b,
				    PROTO_KEY_LEN) == 0 && s->nodes[i].stake >= 1000);
			}
			adv_msg_free(&reply);
			if (staked) {
				return 0;
			}
		} else if (reply.type != 0) {
			adv_msg_free(&reply);
		}
		test_sleep_ms(50);
	}
	return -1;
}

/* `refute ROLE` with key KEY.key, database and log NAME.db, NAME.log. */
static pid_t
spawn_node(const char *role, const char *key, const char *name,
    const char *const *extra)
{
	char k[512], d[512], log[512];
	snprintf(k, sizeof(k), "%s/%s.key", dir, key);
	snprintf(d, sizeof(d), "%s/%s.db", dir, name);
	snprintf(log, sizeof(log), "%s/%s.log", dir, name);
	const char *args[32] = { role, "-k", k, "-d", d, "-r", ref_url, "-e",
		ev_url, "--referee-key", rk_hex };
	size_t n = 11;
	for (size_t i = 0; extra[i] != NULL && n < 31; i++) {
		args[n++] = extra[i];
	}
	args[n] = NULL;
	return test_spawn(log, args);
}

static int
setup(void)
{
	if (proto_init() != RF_OK) {
		return 1;
	}
	snprintf(dir, sizeof(dir), "/tmp/rf-registry-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		return 1;
	}
	if (write_identity("referee.key", &ref_id) != 0 ||
	    write_identity("executor.key", &ex_id) != 0 ||
	    write_identity("challenger.key", &ch_id) != 0 ||
	    write_identity("attacker.key", &att_id) != 0 ||
	    write_identity("client.key", &cli_id) != 0 || write_genesis() != 0) {
		return 1;
	}
	/* A: Gemm, Relu, Gemm (the disputed last operator has weights);
	 * B: another MLP; O: output before the last operator. */
	if (gen_mlp(3, 1, &model_a) != RF_OK || gen_mlp(5, 2, &model_b) !=
	    RF_OK || build_model_o(&model_o) != 0 ||
	    save_model("a.rfm", model_a, &id_a) != 0 ||
	    save_model("b.rfm", model_b, &id_b) != 0 ||
	    save_model("o.rfm", model_o, &id_o) != 0) {
		return 1;
	}
	snprintf(ref_url, sizeof(ref_url), "tcp://127.0.0.1:%d",
	    test_free_port());
	snprintf(ev_url, sizeof(ev_url), "tcp://127.0.0.1:%d", test_free_port());
	char k[512], g[512], d[512], log[512];
	snprintf(k, sizeof(k), "%s/referee.key", dir);
	snprintf(g, sizeof(g), "%s/genesis", dir);
	snprintf(d, sizeof(d), "%s/referee.db", dir);
	snprintf(log, sizeof(log), "%s/referee.log", dir);
	const char *ra[] = { "referee", "-k", k, "-g", g, "-d", d, "-l",
		ref_url, "-e", ev_url, "--init", NULL };
	ref_pid = test_spawn(log, ra);
	proto_pubkey_hex(&ref_id.pk, rk_hex);
	if (ref_pid < 0 || node_rpc_open(&att, ref_url, &att_id, SUITE,
	    &ref_id.pk, NULL) != RF_OK) {
		return 1;
	}
	att_open = true;
	if (node_rpc_open(&cli, ref_url, &cli_id, SUITE, &ref_id.pk, NULL) !=
	    RF_OK) {
		return 1;
	}
	cli_open = true;
	if (register_node(&cli, PROTO_ROLE_CLIENT, "client", NULL) != 0 ||
	    register_node(&att, PROTO_ROLE_EXECUTOR | PROTO_ROLE_CLIENT,
	    "attacker", &id_b) != 0) {
		fprintf(stderr, "cannot register (see %s)\n", dir);
		return 1;
	}
	/* The poisoning comes first: model A registered with one leaf too
	 * many (the graph's proof still verifies at that size). */
	poison_a_reply = register_model(&att, model_a, 0, 1, poison_a_text,
	    sizeof(poison_a_text));
	char ma[512], mo[512];
	snprintf(ma, sizeof(ma), "%s/a.rfm", dir);
	snprintf(mo, sizeof(mo), "%s/o.rfm", dir);
	const char *xa[] = { "-m", ma, "-m", mo, NULL };
	ex_pid = spawn_node("executor", "executor", "executor", xa);
	if (ex_pid < 0 || wait_staked(&ex_id.pk) != 0) {
		fprintf(stderr, "the executor never staked (see %s)\n", dir);
		return 1;
	}
	return 0;
}

static int
teardown(void)
{
	if (att_open) {
		node_rpc_close(&att);
	}
	if (cli_open) {
		node_rpc_close(&cli);
	}
	test_kill_children();
	engine_model_free(model_a);
	engine_model_free(model_b);
	engine_model_free(model_o);
	proto_identity_wipe(&ref_id);
	proto_identity_wipe(&ex_id);
	proto_identity_wipe(&ch_id);
	proto_identity_wipe(&att_id);
	proto_identity_wipe(&cli_id);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) != 0;
}

/* ------------------------------------------------------------------ */
/* Jobs and claims                                                      */
/* ------------------------------------------------------------------ */

/* Submits a job by the client; the reply's type, the job id from an ACK,
 * the error text otherwise. */
static enum proto_msg_type
submit(const struct proto_digest *model, const struct proto_pubkey *ex,
    const struct tensor *inputs, size_t n, struct proto_digest *job,
    char *text, size_t text_len)
{
	struct adv_msg req, reply;
	adv_msg_init(&req, PROTO_MSG_JOB_SUBMIT, SUITE);
	struct proto_job_submit *s = &req.u.job_submit;
	s->model_id = *model;
	s->fee = 10;
	s->nonce = nonce++;
	if (ex != NULL) {
		s->executor = *ex;
	}
	s->n_inputs = (uint8_t)n;
	for (size_t i = 0; i < n; i++) {
		CU_ASSERT_FATAL(engine_tensor_copy(&s->inputs[i], &inputs[i]) == RF_OK);
	}
	if (call(&cli, &req, &reply) != RF_OK) {
		return PROTO_MSG_EVENT;
	}
	enum proto_msg_type t = reply.type;
	if (t == PROTO_MSG_ACK && job != NULL) {
		*job = reply.u.ack.id;
	}
	if (text != NULL) {
		snprintf(text, text_len, "%s", t == PROTO_MSG_ERROR ?
		    reply.u.error.text : "");
	}
	if (t == PROTO_MSG_ERROR) {
		fprintf(stderr, "\n  submit refused: %s\n", reply.u.error.text);
	}
	adv_msg_free(&reply);
	return t;
}

/* Polls the claim until it is final or invalid; the state, and the
 * claim's outputs into ci when not NULL (caller frees). */
static uint8_t
wait_decided(const struct proto_digest *job, struct adv_msg *ci)
{
	double deadline = test_seconds() + WAIT_S;
	while (test_seconds() < deadline) {
		struct adv_msg req, reply;
		adv_msg_init(&req, PROTO_MSG_CLAIM_STATUS, SUITE);
		req.u.claim_status.job_id = *job;
		if (call(&cli, &req, &reply) == RF_OK &&
		    reply.type == PROTO_MSG_CLAIM_INFO) {
			uint8_t st = reply.u.claim_info.state;
			if (st == PROTO_JOB_FINAL || st == PROTO_JOB_INVALID) {
				if (ci != NULL) {
					*ci = reply;
				} else {
					adv_msg_free(&reply);
				}
				return st;
			}
		}
		adv_msg_free(&reply);
		test_sleep_ms(50);
	}
	return 0;
}

/* The attacker's own claim for a job on model m: the honest trace, then
 * what the lie changes. extra: one made-up entry appended (f32[1] =
 * 1234.5, proven as the last leaf); last_as_output: the last operator's
 * entry proven as the output. Returns the reply type and text. */
static enum proto_msg_type
claim_as(const struct engine_model *m, const struct proto_digest *model,
    const struct proto_digest *job, const struct tensor *inputs,
    bool extra, bool last_as_output, char *text, size_t text_len)
{
	struct proto_digest *leaves = NULL, root;
	size_t n = 0;
	struct tensor outs[ENGINE_MAX_GRAPH_IO];
	size_t n_in = engine_model_input_count(m);
	CU_ASSERT_FATAL(proto_trace_run(SUITE, m, inputs, n_in, outs,
	    ENGINE_KERNELS_REF, &leaves, &n, &root, NULL) == RF_OK);
	struct adv_msg req, reply;
	adv_msg_init(&req, PROTO_MSG_CLAIM, SUITE);
	struct proto_claim *c = &req.u.claim;
	c->job_id = *job;
	c->model_id = *model;
	c->n_inputs = (uint8_t)n_in;
	memcpy(c->input_leaves, leaves, n_in * sizeof(leaves[0]));
	size_t out_at = n - 1;
	if (extra) {
		int64_t d1[1] = { 1 };
		CU_ASSERT_FATAL(engine_tensor_init(&c->outputs[0], TENSOR_F32, 1, d1) ==
		    RF_OK);
		((float *)c->outputs[0].data)[0] = 1234.5f;
		leaves = realloc(leaves, (n + 1) * sizeof(*leaves));
		CU_ASSERT_FATAL(leaves != NULL);
		const struct tensor *t = &c->outputs[0];
		proto_tensor_leaf(SUITE, &t, 1, &leaves[n]);
		out_at = n++;
		for (size_t i = 0; i < engine_model_output_count(m); i++) {
			engine_tensor_fini(&outs[i]);
		}
	} else if (last_as_output) {
		/* The last operator's output: recomputed by running the
		 * model with a hook would be simpler, but the model is tiny:
		 * its last op is Relu of the declared output. */
		CU_ASSERT_FATAL(engine_tensor_copy(&c->outputs[0], &outs[0]) == RF_OK);
		float *f = c->outputs[0].data;
		for (size_t i = 0; i < c->outputs[0].count; i++) {
			f[i] = f[i] < 0.0f ? 0.0f : f[i]; /* the engine's Relu */
		}
		engine_tensor_fini(&outs[0]);
	} else {
		c->outputs[0] = outs[0];
	}
	c->n_outputs = 1;
	/* Each lie is a real leaf of the trace it claims: what the
	 * referee must refuse is where it sits, not a bad proof. */
	const struct tensor *o0 = &c->outputs[0];
	struct proto_digest ol;
	proto_tensor_leaf(SUITE, &o0, 1, &ol);
	CU_ASSERT_FATAL(proto_digest_equal(SUITE, &ol, &leaves[out_at]));
	proto_merkle_root(SUITE, leaves, n, &c->trace_root);
	c->n = (uint32_t)n;
	size_t plen = 0;
	c->output_proof = calloc(MERKLE_MAX_PROOF, sizeof(struct proto_digest));
	CU_ASSERT_FATAL(c->output_proof != NULL);
	CU_ASSERT_FATAL(proto_merkle_inclusion_proof(SUITE, leaves, n, out_at,
	    c->output_proof, &plen) == RF_OK);
	c->proof_len = (uint8_t)plen;
	free(leaves);
	if (call(&att, &req, &reply) != RF_OK) {
		return PROTO_MSG_EVENT;
	}
	enum proto_msg_type t = reply.type;
	snprintf(text, text_len, "%s", t == PROTO_MSG_ERROR ?
	    reply.u.error.text : "");
	adv_msg_free(&reply);
	return t;
}

static void
random_inputs(const struct engine_model *m, struct tensor *in)
{
	CU_ASSERT_FATAL(engine_inputs_random(m, nonce, in, NULL) == RF_OK);
}

static void
free_inputs(const struct engine_model *m, struct tensor *in)
{
	for (size_t i = 0; i < engine_model_input_count(m); i++) {
		engine_tensor_fini(&in[i]);
	}
}

/* ------------------------------------------------------------------ */
/* Tests                                                                */
/* ------------------------------------------------------------------ */

/* Finding (a): the poisoned n_leaves is refused, and a false challenger
 * loses against the honest executor on the last (weighted) operator. */
static void
test_poisoned_leaves(void)
{
	if (poison_a_reply != PROTO_MSG_ERROR) {
		fprintf(stderr, "\n  poisoned registration answered %d\n",
		    (int)poison_a_reply);
	}
	CU_ASSERT_EQUAL(poison_a_reply, PROTO_MSG_ERROR);
	CU_ASSERT(strstr(poison_a_text, "leaves") != NULL);
	char mc[512], bond[32];
	snprintf(mc, sizeof(mc), "%s/a.rfm", dir);
	snprintf(bond, sizeof(bond), "%d", 500);
	const char *ca[] = { "-m", mc, "--rate", "1", "--bond", bond,
		"--fault", "false-challenge", NULL };
	pid_t ch = spawn_node("challenger", "challenger", "challenger", ca);
	CU_ASSERT_FATAL(ch > 0);
	uint64_t stake_before = 0;
	balance_of(&cli, NULL);
	struct tensor in[ENGINE_MAX_GRAPH_IO];
	random_inputs(model_a, in);
	struct proto_digest job;
	char text[300];
	/* The challenger must be watching before the claim is posted: it
	 * registers, then follows events from its cursor (0), so it sees
	 * every claim whenever it starts. */
	CU_ASSERT_EQUAL_FATAL(submit(&id_a, &ex_id.pk, in, 1, &job, text,
	    sizeof(text)), PROTO_MSG_ACK);
	free_inputs(model_a, in);
	{
		struct node_rpc exr;
		CU_ASSERT_FATAL(node_rpc_open(&exr, ref_url, &ex_id, SUITE,
		    &ref_id.pk, NULL) == RF_OK);
		/* Read-only: the stake as the status reports it. */
		uint64_t b, s;
		struct rf_errinfo ei = { "" };
		CU_ASSERT_FATAL(node_account(&exr, &b, &s, &ei) == RF_OK);
		stake_before = s;
		node_rpc_close(&exr);
	}
	uint8_t st = wait_decided(&job, NULL);
	if (st != PROTO_JOB_FINAL) {
		fprintf(stderr, "\n  the honest claim ended in state %u (see %s)\n",
		    st, dir);
	}
	CU_ASSERT_EQUAL(st, PROTO_JOB_FINAL);
	/* The false challenger did dispute (it lost its bond to the
	 * executor), and the executor kept its stake. */
	uint64_t ch_bal = 0;
	{
		struct node_rpc chr;
		CU_ASSERT_FATAL(node_rpc_open(&chr, ref_url, &ch_id, SUITE,
		    &ref_id.pk, NULL) == RF_OK);
		ch_bal = balance_of(&chr, NULL);
		node_rpc_close(&chr);
		struct node_rpc exr;
		CU_ASSERT_FATAL(node_rpc_open(&exr, ref_url, &ex_id, SUITE,
		    &ref_id.pk, NULL) == RF_OK);
		uint64_t s = 0;
		balance_of(&exr, &s);
		CU_ASSERT(s >= stake_before);
		node_rpc_close(&exr);
	}
	CU_ASSERT(ch_bal < 1000000);
	test_stop(ch, 10000);
	/* It verified the claim (roots equal) and found the delivered
	 * output to be the model's output entry: no alarm raised. */
	char out[4096];
	CU_ASSERT(test_shell(out, sizeof(out), dir, 0, "grep -c 'verified, "
	    "trace root matches' challenger.log") == 0);
	CU_ASSERT(test_shell(out, sizeof(out), dir, 0, "grep -c 'did not bind' "
	    "challenger.log") == 1);
}

/* What a referee that took the poisoned registration lets through: the
 * attacker's made-up extra entry becomes the client's output. */
static void
poisoned_ops_effect(void)
{
	char text[300];
	struct rf_errinfo ei = { "" };
	CU_ASSERT_EQUAL_FATAL(node_stake_to(&att, 5000, &ei), RF_OK);
	struct tensor in[ENGINE_MAX_GRAPH_IO];
	random_inputs(model_b, in);
	struct proto_digest job;
	CU_ASSERT_EQUAL_FATAL(submit(&id_b, &att_id.pk, in, 1, &job, text,
	    sizeof(text)), PROTO_MSG_ACK);
	enum proto_msg_type t = claim_as(model_b, &id_b, &job, in, true, false,
	    text, sizeof(text));
	free_inputs(model_b, in);
	struct adv_msg ci;
	memset(&ci, 0, sizeof(ci));
	if (t == PROTO_MSG_ACK && wait_decided(&job, &ci) == PROTO_JOB_FINAL) {
		char shape[64];
		engine_tensor_shape_str(&ci.u.claim_info.outputs[0], shape, sizeof(shape));
		fprintf(stderr, "\n  the made-up entry became final: the client "
		    "got %s = %g\n", shape,
		    (double)((float *)ci.u.claim_info.outputs[0].data)[0]);
		adv_msg_free(&ci);
	}
	CU_FAIL("a poisoned registration was accepted");
}

/* Finding (b): one operator too many is refused; with the model
 * registered as it is, a claim with a made-up extra final entry is
 * refused. */
static void
test_poisoned_ops(void)
{
	char text[300];
	enum proto_msg_type t = register_model(&att, model_b, 1, 0, text,
	    sizeof(text));
	CU_ASSERT_EQUAL(t, PROTO_MSG_ERROR);
	CU_ASSERT(strstr(text, "operators") != NULL);
	if (t == PROTO_MSG_ACK) {
		poisoned_ops_effect();
		return;
	}
	/* A registration that is a lie in every field but the graph. */
	CU_ASSERT_EQUAL(register_model(&att, model_b, -1, -1, text,
	    sizeof(text)), PROTO_MSG_ERROR);
	CU_ASSERT_EQUAL_FATAL(register_model(&att, model_b, 0, 0, text,
	    sizeof(text)), PROTO_MSG_ACK);
	struct rf_errinfo ei = { "" };
	CU_ASSERT_EQUAL_FATAL(node_stake_to(&att, 5000, &ei), RF_OK);
	struct tensor in[ENGINE_MAX_GRAPH_IO];
	random_inputs(model_b, in);
	struct proto_digest job;
	CU_ASSERT_EQUAL_FATAL(submit(&id_b, &att_id.pk, in, 1, &job, text,
	    sizeof(text)), PROTO_MSG_ACK);
	CU_ASSERT_EQUAL(claim_as(model_b, &id_b, &job, in, true, false, text,
	    sizeof(text)), PROTO_MSG_ERROR);
	CU_ASSERT(strstr(text, "entries") != NULL);
	/* The honest claim is still accepted. */
	CU_ASSERT_EQUAL(claim_as(model_b, &id_b, &job, in, false, false, text,
	    sizeof(text)), PROTO_MSG_ACK);
	free_inputs(model_b, in);
}

/* Finding 8: inputs of the wrong dtype, rank or size are refused at
 * submit, and the client's balance does not move. */
static void
test_bad_inputs(void)
{
	uint64_t before = balance_of(&cli, NULL);
	char text[300];
	struct tensor in[ENGINE_MAX_GRAPH_IO];
	random_inputs(model_a, in);
	int64_t dims[2] = { in[0].dims[0], in[0].dims[1] };
	struct tensor bad;
	/* Another dtype, same shape. */
	CU_ASSERT_FATAL(engine_tensor_init(&bad, TENSOR_I32, 2, dims) == RF_OK);
	CU_ASSERT_EQUAL(submit(&id_a, &ex_id.pk, &bad, 1, NULL, text,
	    sizeof(text)), PROTO_MSG_ERROR);
	CU_ASSERT(strstr(text, "input 0 must be f32") != NULL);
	engine_tensor_fini(&bad);
	/* Another size. */
	dims[1] += 1;
	CU_ASSERT_FATAL(engine_tensor_init(&bad, TENSOR_F32, 2, dims) == RF_OK);
	CU_ASSERT_EQUAL(submit(&id_a, &ex_id.pk, &bad, 1, NULL, text,
	    sizeof(text)), PROTO_MSG_ERROR);
	engine_tensor_fini(&bad);
	/* Another rank. */
	CU_ASSERT_FATAL(engine_tensor_init(&bad, TENSOR_F32, 1, dims) == RF_OK);
	CU_ASSERT_EQUAL(submit(&id_a, NULL, &bad, 1, NULL, text,
	    sizeof(text)), PROTO_MSG_ERROR);
	engine_tensor_fini(&bad);
	/* Too many inputs. */
	struct tensor two[2];
	two[0] = in[0];
	two[1] = in[0];
	CU_ASSERT_EQUAL(submit(&id_a, &ex_id.pk, two, 2, NULL, text,
	    sizeof(text)), PROTO_MSG_ERROR);
	CU_ASSERT_EQUAL(balance_of(&cli, NULL), before);
	/* The right input still goes through. */
	struct proto_digest job;
	CU_ASSERT_EQUAL(submit(&id_a, &ex_id.pk, in, 1, &job, text,
	    sizeof(text)), PROTO_MSG_ACK);
	CU_ASSERT_EQUAL(wait_decided(&job, NULL), PROTO_JOB_FINAL);
	free_inputs(model_a, in);
}

/* Finding 8: a model whose file decodes but cannot run (a MaxPool
 * window larger than its input) is refused at registration. */
static void
test_unrunnable_model(void)
{
	struct engine_model *m = engine_model_alloc("bad-pool");
	CU_ASSERT_FATAL(m != NULL);
	int64_t xd[4] = { 1, 1, 3, 3 };
	int x, y;
	CU_ASSERT_FATAL(engine_model_add_input(m, "x", TENSOR_F32, 4, xd, &x,
	    NULL) == RF_OK);
	struct engine_attr a;
	int64_t k[2] = { 5, 5 };
	CU_ASSERT_FATAL(engine_attr_ints(&a, "kernel_shape", k, 2) == RF_OK);
	const char *yn[1] = { "y" };
	CU_ASSERT_FATAL(engine_model_add_op(m, ENGINE_OP_MAXPOOL, "pool", &x, 1,
	    yn, 1, &a, 1, &y, NULL) == RF_OK);
	CU_ASSERT_FATAL(engine_model_add_output(m, y, NULL) == RF_OK);
	char text[300];
	CU_ASSERT_EQUAL(register_model(&att, m, 0, 0, text, sizeof(text)),
	    PROTO_MSG_ERROR);
	CU_ASSERT(strstr(text, "MaxPool 'pool'") != NULL);
	engine_model_free(m);
}

/* Finding 2: a 3000x3000 MatMul's reveal cannot fit a transcript: the
 * registration is refused and names the operator. */
static void
test_indefensible_model(void)
{
	struct engine_model *m = engine_model_alloc("big-head");
	CU_ASSERT_FATAL(m != NULL);
	int64_t xd[2] = { 1, 3000 }, wd[2] = { 3000, 3000 };
	int x, w, y;
	CU_ASSERT_FATAL(engine_model_add_input(m, "x", TENSOR_F32, 2, xd, &x,
	    NULL) == RF_OK);
	struct tensor wt;
	CU_ASSERT_FATAL(engine_tensor_init(&wt, TENSOR_F32, 2, wd) == RF_OK);
	CU_ASSERT_FATAL(engine_model_add_weight(m, "w", &wt, &w, NULL) ==
	    RF_OK);
	int in[2] = { x, w };
	const char *yn[1] = { "y" };
	CU_ASSERT_FATAL(engine_model_add_op(m, ENGINE_OP_MATMUL, "head", in, 2,
	    yn, 1, NULL, 0, &y, NULL) == RF_OK);
	CU_ASSERT_FATAL(engine_model_add_output(m, y, NULL) == RF_OK);
	char text[300];
	CU_ASSERT_EQUAL(register_model(&att, m, 0, 0, text, sizeof(text)),
	    PROTO_MSG_ERROR);
	CU_ASSERT(strstr(text, "operator 0 ('head', MatMul)") != NULL);
	engine_model_free(m);
}

/* Finding 9: the output delivered is the declared output (the MatMul),
 * not the last operator's (the Relu); a claim proving the last entry as
 * the output is refused. */
static void
test_declared_output(void)
{
	struct tensor in[ENGINE_MAX_GRAPH_IO], want[ENGINE_MAX_GRAPH_IO];
	random_inputs(model_o, in);
	CU_ASSERT_FATAL(engine_run(model_o, in, 1, want, NULL, NULL) == RF_OK);
	struct proto_digest job;
	char text[300];
	CU_ASSERT_EQUAL_FATAL(submit(&id_o, &ex_id.pk, in, 1, &job, text,
	    sizeof(text)), PROTO_MSG_ACK);
	struct adv_msg ci;
	memset(&ci, 0, sizeof(ci));
	CU_ASSERT_EQUAL_FATAL(wait_decided(&job, &ci), PROTO_JOB_FINAL);
	CU_ASSERT_EQUAL(ci.u.claim_info.n_outputs, 1);
	CU_ASSERT(engine_tensor_equal(&ci.u.claim_info.outputs[0], &want[0]));
	adv_msg_free(&ci);
	/* The command-line client gets and writes the declared output. */
	char out[8192], ex_hex[65];
	proto_pubkey_hex(&ex_id.pk, ex_hex);
	int rc = test_shell(out, sizeof(out), dir, 1, "%s submit -r %s -k "
	    "client.key --referee-key %s -m o.rfm -s 7 -x %s -f 5 --wait "
	    "--json -o y.npy", test_refute(), ref_url, rk_hex, ex_hex);
	if (rc != 0) {
		fprintf(stderr, "\n  refute submit: %s\n", out);
	}
	CU_ASSERT_EQUAL(rc, 0);
	struct tensor in7[ENGINE_MAX_GRAPH_IO], want7[ENGINE_MAX_GRAPH_IO];
	CU_ASSERT_FATAL(engine_inputs_random(model_o, 7, in7, NULL) == RF_OK);
	CU_ASSERT_FATAL(engine_run(model_o, in7, 1, want7, NULL, NULL) ==
	    RF_OK);
	char ypath[512];
	snprintf(ypath, sizeof(ypath), "%s/y.npy", dir);
	size_t ylen = 0;
	uint8_t *ybuf = test_read_file(ypath, &ylen);
	struct tensor got;
	CU_ASSERT_FATAL(ybuf != NULL);
	CU_ASSERT_FATAL(engine_tensor_npy_decode(ybuf, ylen, &got, NULL) == RF_OK);
	CU_ASSERT(engine_tensor_equal(&got, &want7[0]));
	free(ybuf);
	engine_tensor_fini(&got);
	engine_tensor_fini(&in7[0]);
	engine_tensor_fini(&want7[0]);
	/* The same model served by the attacker, claiming the last entry. */
	CU_ASSERT_EQUAL_FATAL(register_node(&att, PROTO_ROLE_EXECUTOR |
	    PROTO_ROLE_CLIENT, "attacker", &id_o), 0);
	struct rf_errinfo ei = { "" };
	CU_ASSERT_EQUAL_FATAL(node_stake_to(&att, 5000, &ei), RF_OK);
	nonce++;
	CU_ASSERT_EQUAL_FATAL(submit(&id_o, &att_id.pk, in, 1, &job, text,
	    sizeof(text)), PROTO_MSG_ACK);
	CU_ASSERT_EQUAL(claim_as(model_o, &id_o, &job, in, false, true, text,
	    sizeof(text)), PROTO_MSG_ERROR);
	CU_ASSERT(strstr(text, "output") != NULL);
	engine_tensor_fini(&want[0]);
	free_inputs(model_o, in);
}

struct find_outcome {
	struct proto_digest job;
	int outcome;
};

static int
on_record(void *ctx, const struct challenger_record *rec)
{
	struct find_outcome *f = ctx;
	if (proto_digest_equal(SUITE, &rec->job_id, &f->job)) {
		f->outcome = (int)rec->outcome;
	}
	return RF_OK;
}

/* Finding 8: a model with a dynamic dimension, x[1,-1] -> MatMul with
 * w[4,3] -> y[1,3] -> Gather(axis 1) by idx i64[1] -> z[1,1]. A job whose
 * size the declaration allows but the MatMul cannot take (x[1,5]) is
 * refused at submit naming the operator, nothing escrowed. A job whose
 * shapes chain but whose data the graph cannot check (idx 7, out of
 * range for y's 3 columns) is accepted; a liar claims it anyway, and
 * the challenger, unable to re-run it, logs an error and never counts
 * it as verified. */
static void
test_claim_not_rerunnable(void)
{
	struct engine_model *m = engine_model_alloc("dyn");
	CU_ASSERT_FATAL(m != NULL);
	int64_t xd[2] = { 1, -1 }, wd[2] = { 4, 3 }, id1[1] = { 1 };
	int x, ix, w, y, z;
	CU_ASSERT_FATAL(engine_model_add_input(m, "x", TENSOR_F32, 2, xd, &x,
	    NULL) == RF_OK);
	CU_ASSERT_FATAL(engine_model_add_input(m, "idx", TENSOR_I64, 1, id1,
	    &ix, NULL) == RF_OK);
	struct tensor wt;
	CU_ASSERT_FATAL(engine_tensor_init(&wt, TENSOR_F32, 2, wd) == RF_OK);
	CU_ASSERT_FATAL(engine_model_add_weight(m, "w", &wt, &w, NULL) ==
	    RF_OK);
	int in[2] = { x, w };
	const char *yn[1] = { "y" }, *zn[1] = { "z" };
	CU_ASSERT_FATAL(engine_model_add_op(m, ENGINE_OP_MATMUL, "mm", in, 2,
	    yn, 1, NULL, 0, &y, NULL) == RF_OK);
	struct engine_attr ax;
	CU_ASSERT_FATAL(engine_attr_int(&ax, "axis", 1) == RF_OK);
	int gin[2] = { y, ix };
	CU_ASSERT_FATAL(engine_model_add_op(m, ENGINE_OP_GATHER, "pick", gin,
	    2, zn, 1, &ax, 1, &z, NULL) == RF_OK);
	CU_ASSERT_FATAL(engine_model_add_output(m, z, NULL) == RF_OK);
	struct proto_digest id;
	CU_ASSERT_FATAL(save_model("d.rfm", m, &id) == 0);
	char text[300];
	CU_ASSERT_EQUAL_FATAL(register_model(&att, m, 0, 0, text, sizeof(text)),
	    PROTO_MSG_ACK);
	char md[512];
	snprintf(md, sizeof(md), "%s/d.rfm", dir);
	const char *ca[] = { "-m", md, "--rate", "1", NULL };
	pid_t ch = spawn_node("challenger", "challenger", "challenger2", ca);
	CU_ASSERT_FATAL(ch > 0);
	CU_ASSERT_EQUAL_FATAL(register_node(&att, PROTO_ROLE_EXECUTOR |
	    PROTO_ROLE_CLIENT, "attacker", &id), 0);
	struct rf_errinfo ei = { "" };
	CU_ASSERT_EQUAL_FATAL(node_stake_to(&att, 5000, &ei), RF_OK);
	struct tensor job_in[2];
	int64_t jd[2] = { 1, 5 };
	CU_ASSERT_FATAL(engine_tensor_init(&job_in[0], TENSOR_F32, 2, jd) == RF_OK);
	CU_ASSERT_FATAL(engine_tensor_init(&job_in[1], TENSOR_I64, 1, id1) == RF_OK);
	((int64_t *)job_in[1].data)[0] = 7;
	/* x[1,5]: the declared shape allows it, the MatMul cannot take it:
	 * refused at submit, naming the MatMul; the client pays nothing. */
	uint64_t before = balance_of(&cli, NULL);
	CU_ASSERT_EQUAL(submit(&id, &att_id.pk, job_in, 2, NULL, text,
	    sizeof(text)), PROTO_MSG_ERROR);
	CU_ASSERT(strstr(text, "op 0 (MatMul 'mm')") != NULL);
	if (strstr(text, "op 0 (MatMul 'mm')") == NULL) {
		printf("\n  got: %s\n", text);
	}
	CU_ASSERT_EQUAL(balance_of(&cli, NULL), before);
	engine_tensor_fini(&job_in[0]);
	/* x[1,4] chains; idx 7 is data the referee does not check. */
	jd[1] = 4;
	CU_ASSERT_FATAL(engine_tensor_init(&job_in[0], TENSOR_F32, 2, jd) == RF_OK);
	struct proto_digest job;
	CU_ASSERT_EQUAL_FATAL(submit(&id, &att_id.pk, job_in, 2, &job, text,
	    sizeof(text)), PROTO_MSG_ACK);
	/* A made-up claim: the real input leaves, invented y and z. */
	struct adv_msg req, reply;
	adv_msg_init(&req, PROTO_MSG_CLAIM, SUITE);
	struct proto_claim *c = &req.u.claim;
	struct proto_digest leaves[4];
	for (int i = 0; i < 2; i++) {
		const struct tensor *t = &job_in[i];
		proto_tensor_leaf(SUITE, &t, 1, &leaves[i]);
	}
	int64_t yd[2] = { 1, 3 }, od[2] = { 1, 1 };
	struct tensor ym;
	CU_ASSERT_FATAL(engine_tensor_init(&ym, TENSOR_F32, 2, yd) == RF_OK);
	const struct tensor *t = &ym;
	proto_tensor_leaf(SUITE, &t, 1, &leaves[2]);
	engine_tensor_fini(&ym);
	CU_ASSERT_FATAL(engine_tensor_init(&c->outputs[0], TENSOR_F32, 2, od) ==
	    RF_OK);
	c->n_outputs = 1;
	t = &c->outputs[0];
	proto_tensor_leaf(SUITE, &t, 1, &leaves[3]);
	c->job_id = job;
	c->model_id = id;
	c->n_inputs = 2;
	c->input_leaves[0] = leaves[0];
	c->input_leaves[1] = leaves[1];
	c->n = 4;
	proto_merkle_root(SUITE, leaves, 4, &c->trace_root);
	size_t plen = 0;
	c->output_proof = calloc(MERKLE_MAX_PROOF, sizeof(struct proto_digest));
	CU_ASSERT_FATAL(c->output_proof != NULL);
	CU_ASSERT_FATAL(proto_merkle_inclusion_proof(SUITE, leaves, 4, 3,
	    c->output_proof, &plen) == RF_OK);
	c->proof_len = (uint8_t)plen;
	CU_ASSERT_EQUAL_FATAL(call(&att, &req, &reply), RF_OK);
	CU_ASSERT_EQUAL(reply.type, PROTO_MSG_ACK);
	adv_msg_free(&reply);
	engine_tensor_fini(&job_in[0]);
	engine_tensor_fini(&job_in[1]);
	/* The challenger's log says why it could not verify it: the
	 * Gather, not a size. */
	char log[512], out[4096];
	snprintf(log, sizeof(log), "%s/challenger2.log", dir);
	double deadline = test_seconds() + WAIT_S;
	bool logged = false;
	while (!logged && test_seconds() < deadline) {
		logged = test_shell(out, sizeof(out), dir, 0, "grep -c 'NOT "
		    "verified: op 1 (Gather' %s", log) == 0;
		if (!logged) {
			test_sleep_ms(100);
		}
	}
	CU_ASSERT(logged);
	CU_ASSERT_EQUAL(test_stop(ch, 10000), 0);
	struct find_outcome f = { job, 0 };
	char db[512];
	snprintf(db, sizeof(db), "%s/challenger2.db", dir);
	CU_ASSERT_EQUAL(challenger_records_read(db, SUITE, on_record, &f, NULL),
	    RF_OK);
	CU_ASSERT_EQUAL(f.outcome, CHALLENGER_FAILED);
	engine_model_free(m);
}

static void
test_alive(void)
{
	CU_ASSERT(test_running(ref_pid));
	CU_ASSERT(test_running(ex_pid));
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "poisoned n_leaves: refused, honest executor wins",
		    test_poisoned_leaves },
		{ "poisoned n_ops and an extra made-up entry: refused",
		    test_poisoned_ops },
		{ "job inputs checked at submit", test_bad_inputs },
		{ "a model that cannot run: refused", test_unrunnable_model },
		{ "an operator too large to dispute: refused",
		    test_indefensible_model },
		{ "the output is the declared one", test_declared_output },
		{ "a size the graph cannot take refused; a claim the "
		    "challenger cannot re-run: an error",
		    test_claim_not_rerunnable },
		{ "nodes still serve", test_alive },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "registry", setup, teardown, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
