/*
 * tests/adversary/adv.c - malicious nodes against a real referee: see
 * adv.h for the contract.
 *
 * Deliberately thin: every helper builds the honest message the way the
 * real nodes do (node/, bisect/, protocol/) and sends it through the same
 * signed channel, so a test that changes one field tests exactly that
 * field.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bisect/bisect.h"
#include "engine/engine.h"
#include "tests/testlib.h"
#include "tests/adversary/adv.h"

/* ------------------------------------------------------------------ */
/* Messages of any type                                                 */
/* ------------------------------------------------------------------ */

void
adv_msg_init(struct adv_msg *m, enum proto_msg_type type,
    enum proto_hash suite)
{
	memset(m, 0, sizeof(*m));
	m->version = PROTO_VERSION;
	m->type = (uint8_t)type;
	m->suite = (uint8_t)suite;
}

void
adv_msg_free(struct adv_msg *m)
{
	if (m != NULL) {
		proto_msg_body_free(m->type, &m->u);
		memset(&m->u, 0, sizeof(m->u));
	}
}

int
adv_msg_pack(const struct adv_msg *m, const struct proto_identity *id,
    uint8_t **buf, size_t *len)
{
	if (m == NULL || id == NULL ||
	    memcmp(id->pk.b, m->sender.b, PROTO_KEY_LEN) != 0 ||
	    m->version != PROTO_VERSION) {
		return RF_ERR_INVAL;
	}
	return proto_msg_encode((enum proto_msg_type)m->type,
	    m->type == PROTO_MSG_STATUS_QUERY ? NULL : &m->u,
	    (enum proto_hash)m->suite, m->seq, id, buf, len);
}

/* Decodes env's body into m (untouched on failure). */
static int
take_env(const struct proto_env *env, struct adv_msg *m, struct rf_errinfo *ei)
{
	struct adv_msg *t = malloc(sizeof(*t));
	if (t == NULL) {
		return rf_errf(ei, RF_ERR_NOMEM, "no memory");
	}
	int err = proto_msg_body_decode(env, &t->u, sizeof(t->u), ei);
	if (err == RF_OK) {
		t->version = env->version;
		t->type = env->type;
		t->suite = env->suite;
		t->sender = env->sender;
		t->seq = env->seq;
		*m = *t;
	}
	free(t);
	return err;
}

int
adv_msg_decode(const uint8_t *buf, size_t len, struct adv_msg *m,
    struct rf_errinfo *ei)
{
	struct proto_env env;
	int err = proto_msg_open(buf, len, &env, ei);
	return err == RF_OK ? take_env(&env, m, ei) : err;
}

int
adv_msg_decode_stored(const uint8_t *buf, size_t len, struct adv_msg *m,
    struct rf_errinfo *ei)
{
	struct proto_env env;
	int err = proto_msg_open_stored(buf, len, &env, ei);
	return err == RF_OK ? take_env(&env, m, ei) : err;
}

int
adv_rpc_call(struct node_rpc *rpc, struct adv_msg *req, struct adv_msg *reply,
    struct rf_errinfo *ei)
{
	struct node_reply r;
	int err = node_rpc_call(rpc, (enum proto_msg_type)req->type,
	    req->type == PROTO_MSG_STATUS_QUERY ? NULL : &req->u, &r, ei);
	req->sender = rpc->id.pk;
	req->seq = rpc->last_seq;
	req->suite = (uint8_t)rpc->suite;
	if (err != RF_OK) {
		return err;
	}
	err = take_env(&r.env, reply, ei);
	node_reply_free(&r);
	return err;
}

int
adv_reply_ok(const struct adv_msg *reply, enum proto_msg_type want,
    struct rf_errinfo *ei)
{
	if (reply->type == want) {
		return RF_OK;
	}
	if (reply->type == PROTO_MSG_ERROR) {
		return rf_errf(ei, RF_ERR_INVAL, "referee: %s",
		    reply->u.error.text);
	}
	return rf_errf(ei, RF_ERR_FORMAT, "unexpected %s reply",
	    proto_msg_type_name(reply->type));
}

int
adv_rpc_sign(struct node_rpc *rpc, struct adv_msg *m, uint8_t **buf,
    size_t *len)
{
	int err = node_sign(rpc, (enum proto_msg_type)m->type,
	    m->type == PROTO_MSG_STATUS_QUERY ? NULL : &m->u, buf, len);
	m->sender = rpc->id.pk;
	m->seq = rpc->last_seq;
	m->suite = (uint8_t)rpc->suite;
	return err;
}

int
adv_events_next(struct node_events *ev, int wait_ms, struct adv_msg *out,
    struct rf_errinfo *ei)
{
	adv_msg_init(out, PROTO_MSG_EVENTS, ev->rpc->suite);
	return node_events_next(ev, wait_ms, &out->u.events, ei);
}

#define ADV_WAIT_S 60
#define SUITE PROTO_HASH_BLAKE2B

/* ------------------------------------------------------------------ */
/* Nodes and the network                                                */
/* ------------------------------------------------------------------ */

void
adv_node_init(struct adv_node *a, uint32_t seed)
{
	memset(a, 0, sizeof(*a));
	uint8_t s[32];
	memset(s, 0, sizeof(s));
	if (seed == 0) {
		if (proto_identity_generate(&a->id) == RF_OK) {
			return;
		}
		seed = 0xadu;
	}
	memcpy(s, "adversary", 9);
	for (int i = 0; i < 4; i++) {
		s[28 + i] = (uint8_t)(seed >> (8 * i));
	}
	proto_identity_from_seed(&a->id, s);
}

void
adv_node_copy_keys(struct adv_node *a, const struct adv_node *from)
{
	memset(a, 0, sizeof(*a));
	a->id = from->id;
}

int
adv_connect(struct adv_node *a, const struct adv_net *net)
{
	if (a->connected) {
		return RF_OK;
	}
	int err = node_rpc_open(&a->rpc, net->ref_url, &a->id,
	    net->suite != 0 ? net->suite : SUITE, &net->referee.pk, NULL);
	if (err == RF_OK) {
		/* Short and patient: a restarting referee is waited for. */
		a->rpc.timeout_ms = 2000;
		a->rpc.retries = 15;
		a->connected = true;
	}
	return err;
}

void
adv_node_close(struct adv_node *a)
{
	if (a->connected) {
		node_rpc_close(&a->rpc);
		a->connected = false;
	}
}

static void
net_path(const struct adv_net *net, char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", net->dir, name);
}

static pid_t
referee_spawn(const struct adv_net *net)
{
	char key[320], g[320], db[320], log[320];
	net_path(net, key, sizeof(key), "referee.key");
	net_path(net, g, sizeof(g), "genesis");
	net_path(net, db, sizeof(db), "referee.db");
	net_path(net, log, sizeof(log), "referee.log");
	/* A new ledger on the first start only. */
	const char *a[] = { "referee", "-k", key, "-g", g, "-d", db, "-l",
		net->ref_url, "-e", net->ev_url, access(db, F_OK) != 0 ?
		"--init" : NULL, NULL };
	return test_spawn(log, a);
}

/* Waits until the referee answers a status query. */
static int
referee_wait(struct adv_net *net)
{
	struct adv_node probe;
	adv_node_init(&probe, 0);
	int err = adv_connect(&probe, net);
	if (err != RF_OK) {
		return err;
	}
	struct adv_msg st;
	err = adv_status(&probe, &st);
	if (err == RF_OK) {
		adv_msg_free(&st);
	}
	adv_node_close(&probe);
	return err;
}

int
adv_net_start(struct adv_net *net, const char *params,
    struct adv_node *const *nodes, size_t n, uint64_t balance)
{
	memset(net, 0, sizeof(*net));
	if (proto_init() != RF_OK) {
		return RF_ERR_CRYPTO;
	}
	snprintf(net->dir, sizeof(net->dir), "/tmp/rf-adv-XXXXXX");
	if (mkdtemp(net->dir) == NULL) {
		return RF_ERR_IO;
	}
	char p[320], text[PROTO_IDENTITY_TEXT_MAX], hex[65];
	if (proto_identity_generate(&net->referee) != RF_OK ||
	    proto_identity_format(&net->referee, text, sizeof(text)) != RF_OK) {
		return RF_ERR_CRYPTO;
	}
	net_path(net, p, sizeof(p), "referee.key");
	if (test_write_file(p, text, strlen(text), 0600) != 0) {
		return RF_ERR_IO;
	}
	size_t cap = strlen(params) + 100 * (n + 1);
	char *g = malloc(cap);
	if (g == NULL) {
		return RF_ERR_NOMEM;
	}
	net->suite = SUITE;
	const char *sl = strstr(params, "suite ");
	if (sl != NULL && (sl == params || sl[-1] == '\n')) {
		char name[32] = "";
		sscanf(sl + 6, "%31s", name);
		if (proto_hash_parse(name, &net->suite) != RF_OK) {
			net->suite = SUITE;
		}
	}
	size_t len = (size_t)snprintf(g, cap, "%s", params);
	for (size_t i = 0; i < n; i++) {
		proto_pubkey_hex(&nodes[i]->id.pk, hex);
		len += (size_t)snprintf(g + len, cap - len, "account %s %llu\n", hex,
		    (unsigned long long)balance);
		net->minted += balance;
	}
	net_path(net, p, sizeof(p), "genesis");
	int rc = test_write_file(p, g, len, 0644);
	free(g);
	if (rc != 0) {
		return RF_ERR_IO;
	}
	snprintf(net->ref_url, sizeof(net->ref_url), "tcp://127.0.0.1:%d",
	    test_free_port());
	snprintf(net->ev_url, sizeof(net->ev_url), "tcp://127.0.0.1:%d",
	    test_free_port());
	net->pid = referee_spawn(net);
	if (net->pid < 0) {
		return RF_ERR_IO;
	}
	int err = referee_wait(net);
	for (size_t i = 0; err == RF_OK && i < n; i++) {
		err = adv_connect(nodes[i], net);
	}
	return err;
}

int
adv_net_restart(struct adv_net *net)
{
	test_kill(net->pid);
	net->pid = referee_spawn(net);
	if (net->pid < 0) {
		return RF_ERR_IO;
	}
	return referee_wait(net);
}

void
adv_net_stop(struct adv_net *net)
{
	if (net->pid > 0) {
		test_kill(net->pid);
		net->pid = 0;
	}
	proto_identity_wipe(&net->referee);
	if (net->dir[0] == '\0') {
		return;
	}
	if (getenv("RF_TEST_KEEP") != NULL) {
		fprintf(stderr, "kept %s\n", net->dir);
		return;
	}
	char out[64];
	(void)test_shell(out, sizeof(out), "/tmp", 1, "rm -rf '%s'", net->dir);
	net->dir[0] = '\0';
}

int
adv_net_models(const struct adv_net *net, const struct engine_model *model,
    struct node_models *ms)
{
	uint8_t *mb;
	size_t ml;
	int err = engine_model_encode(model, &mb, &ml);
	if (err != RF_OK) {
		return err;
	}
	char p[320];
	net_path(net, p, sizeof(p), "model.rfm");
	int rc = test_write_file(p, mb, ml, 0600);
	free(mb);
	if (rc != 0) {
		return RF_ERR_IO;
	}
	return node_models_load(ms, SUITE, p, NULL);
}

/* ------------------------------------------------------------------ */
/* Sending anything                                                     */
/* ------------------------------------------------------------------ */

static int
outcome(const struct adv_msg *reply, struct proto_digest *id)
{
	if (reply->type == PROTO_MSG_ACK) {
		if (id != NULL) {
			*id = reply->u.ack.id;
		}
		return ADV_ACK;
	}
	if (reply->type == PROTO_MSG_ERROR) {
		return reply->u.error.code > 0 ? (int)reply->u.error.code :
		    PROTO_ERR_INTERNAL;
	}
	return ADV_ACK; /* a query's answer */
}

int
adv_call(struct adv_node *a, struct adv_msg *req, struct adv_msg *reply)
{
	int err = adv_rpc_call(&a->rpc, req, reply, NULL);
	adv_msg_free(req);
	return err;
}

int
adv_send(struct adv_node *a, struct adv_msg *req, struct proto_digest *id)
{
	struct adv_msg reply;
	if (adv_call(a, req, &reply) != RF_OK) {
		return ADV_NO_REPLY;
	}
	int r = outcome(&reply, id);
	adv_msg_free(&reply);
	return r;
}

int
adv_sign(struct adv_node *a, struct adv_msg *req, uint8_t **buf,
    size_t *len)
{
	int err = adv_rpc_sign(&a->rpc, req, buf, len);
	adv_msg_free(req);
	return err;
}

int
adv_send_bytes(struct adv_node *a, const uint8_t *buf, size_t len)
{
	uint8_t *rb = NULL;
	size_t rl = 0;
	if (node_rpc_forward(&a->rpc, buf, len, &rb, &rl, NULL) != RF_OK) {
		return ADV_NO_REPLY;
	}
	struct adv_msg reply;
	int err = adv_msg_decode(rb, rl, &reply, NULL);
	free(rb);
	if (err != RF_OK) {
		return ADV_NO_REPLY;
	}
	int r = outcome(&reply, NULL);
	adv_msg_free(&reply);
	return r;
}

int
adv_flood(struct adv_node *a, size_t count,
    void (*make)(void *ctx, size_t i, struct adv_msg *m), void *ctx,
    size_t *acked)
{
	size_t ok = 0;
	int r = ADV_ACK;
	for (size_t i = 0; i < count; i++) {
		struct adv_msg m;
		adv_msg_init(&m, PROTO_MSG_STATUS_QUERY, SUITE);
		make(ctx, i, &m);
		int s = adv_send(a, &m, NULL);
		if (s == ADV_ACK) {
			ok++;
		} else if (s == ADV_NO_REPLY) {
			r = ADV_NO_REPLY;
		}
	}
	if (acked != NULL) {
		*acked = ok;
	}
	return r;
}

/* ------------------------------------------------------------------ */
/* Honest requests                                                      */
/* ------------------------------------------------------------------ */

int
adv_register(struct adv_node *a, uint8_t roles,
    const struct engine_model *model)
{
	struct adv_msg m;
	adv_msg_init(&m, PROTO_MSG_NODE_REGISTER, SUITE);
	m.u.node_register.roles = roles;
	snprintf(m.u.node_register.name, sizeof(m.u.node_register.name), "adv");
	if (model != NULL) {
		if (proto_model_id(SUITE, model, &m.u.node_register.models[0]) !=
		    RF_OK) {
			return ADV_NO_REPLY;
		}
		m.u.node_register.n_models = 1;
	}
	return adv_send(a, &m, NULL);
}

int
adv_model_msg(enum proto_hash suite, const struct engine_model *model,
    struct adv_msg *out)
{
	struct proto_digest *leaves = NULL;
	size_t n = 0;
	adv_msg_init(out, PROTO_MSG_MODEL_REGISTER, suite);
	struct proto_model_register *mr = &out->u.model_register;
	int err = proto_model_leaves(suite, model, &leaves, &n);
	if (err == RF_OK) {
		proto_merkle_root(suite, leaves, n, &mr->model_id);
		size_t plen = 0;
		mr->graph_proof = calloc(MERKLE_MAX_PROOF, sizeof(struct proto_digest));
		err = mr->graph_proof == NULL ? RF_ERR_NOMEM :
		    proto_merkle_inclusion_proof(suite, leaves, n, 0,
		    mr->graph_proof, &plen);
		mr->proof_len = (uint8_t)plen;
		mr->n_leaves = (uint32_t)n;
	}
	free(leaves);
	if (err == RF_OK) {
		err = engine_model_encode_graph(model, &mr->graph, &mr->graph_len);
	}
	snprintf(mr->name, sizeof(mr->name), "adv");
	mr->n_ops = (uint32_t)engine_model_op_count(model);
	mr->n_inputs = (uint32_t)engine_model_input_count(model);
	if (err != RF_OK) {
		adv_msg_free(out);
	}
	return err;
}

int
adv_register_model(struct adv_node *a, const struct engine_model *model)
{
	struct adv_msg m;
	if (adv_model_msg(SUITE, model, &m) != RF_OK) {
		return ADV_NO_REPLY;
	}
	return adv_send(a, &m, NULL);
}

static int
amount(struct adv_node *a, enum proto_msg_type type, uint64_t v)
{
	struct adv_msg m;
	adv_msg_init(&m, type, SUITE);
	m.u.amount.amount = v;
	return adv_send(a, &m, NULL);
}

int
adv_stake(struct adv_node *a, uint64_t v)
{
	return amount(a, PROTO_MSG_STAKE, v);
}

int
adv_unstake(struct adv_node *a, uint64_t v)
{
	return amount(a, PROTO_MSG_UNSTAKE, v);
}

int
adv_submit(struct adv_node *a, const struct engine_model *model,
    uint64_t input_seed, uint64_t fee, uint64_t nonce,
    const struct proto_pubkey *executor, struct proto_digest *job)
{
	struct adv_msg m;
	adv_msg_init(&m, PROTO_MSG_JOB_SUBMIT, SUITE);
	struct proto_job_submit *js = &m.u.job_submit;
	if (engine_inputs_random(model, input_seed, js->inputs, NULL) !=
	    RF_OK || proto_model_id(SUITE, model, &js->model_id) != RF_OK) {
		adv_msg_free(&m);
		return ADV_NO_REPLY;
	}
	js->n_inputs = (uint8_t)engine_model_input_count(model);
	js->fee = fee;
	js->nonce = nonce;
	if (executor != NULL) {
		js->executor = *executor;
	}
	return adv_send(a, &m, job);
}

/* ------------------------------------------------------------------ */
/* Traces, claims, disputes                                             */
/* ------------------------------------------------------------------ */

int
adv_trace_run(const struct engine_model *model, uint64_t input_seed,
    struct adv_trace *t)
{
	memset(t, 0, sizeof(*t));
	t->suite = SUITE;
	t->n_in = engine_model_input_count(model);
	int err = engine_inputs_random(model, input_seed, t->inputs, NULL);
	if (err != RF_OK) {
		return err;
	}
	err = proto_trace_run(SUITE, model, t->inputs, t->n_in, t->outputs,
	    ENGINE_KERNELS_FAST, &t->leaves, &t->n, &t->root, NULL);
	if (err != RF_OK) {
		for (size_t i = 0; i < t->n_in; i++) {
			engine_tensor_fini(&t->inputs[i]);
		}
		return err;
	}
	t->n_out = engine_model_output_count(model);
	return RF_OK;
}

void
adv_trace_lie(struct adv_trace *t, size_t leaf)
{
	if (leaf >= t->n) {
		return;
	}
	if (leaf == t->n - 1 && t->n_out > 0 && t->outputs[0].count > 0) {
		/* A lie about the output itself: another output tensor,
		 * whose leaf the claim's output proof then matches. */
		const struct tensor *outs[ENGINE_MAX_GRAPH_IO];
		((uint8_t *)t->outputs[0].data)[0] ^= 0x5a;
		for (size_t i = 0; i < t->n_out; i++) {
			outs[i] = &t->outputs[i];
		}
		proto_tensor_leaf(t->suite, outs, t->n_out, &t->leaves[leaf]);
	} else {
		t->leaves[leaf].b[0] ^= 0x5a;
	}
	proto_merkle_root(t->suite, t->leaves, t->n, &t->root);
}

void
adv_trace_free(struct adv_trace *t)
{
	for (size_t i = 0; i < t->n_in; i++) {
		engine_tensor_fini(&t->inputs[i]);
	}
	for (size_t i = 0; i < t->n_out; i++) {
		engine_tensor_fini(&t->outputs[i]);
	}
	free(t->leaves);
	memset(t, 0, sizeof(*t));
}

int
adv_claim_msg(const struct adv_trace *t, const struct proto_digest *job,
    const struct engine_model *model, struct adv_msg *out)
{
	adv_msg_init(out, PROTO_MSG_CLAIM, t->suite);
	struct proto_claim *c = &out->u.claim;
	c->job_id = *job;
	int err = proto_model_id(t->suite, model, &c->model_id);
	c->n_inputs = (uint8_t)t->n_in;
	memcpy(c->input_leaves, t->leaves, t->n_in * sizeof(t->leaves[0]));
	c->n = (uint32_t)t->n;
	c->trace_root = t->root;
	/* The claim's output is the last trace entry's tensors. */
	for (size_t i = 0; err == RF_OK && i < t->n_out &&
	    i < PROTO_MAX_ENTRY_TENSORS; i++) {
		err = engine_tensor_copy(&c->outputs[i], &t->outputs[i]);
		if (err == RF_OK) {
			c->n_outputs = (uint8_t)(i + 1);
		}
	}
	size_t plen = 0;
	if (err == RF_OK) {
		c->output_proof = calloc(MERKLE_MAX_PROOF, sizeof(struct proto_digest));
		err = c->output_proof == NULL ? RF_ERR_NOMEM :
		    proto_merkle_inclusion_proof(t->suite, t->leaves, t->n,
		    t->n - 1, c->output_proof, &plen);
		c->proof_len = (uint8_t)plen;
	}
	if (err != RF_OK) {
		adv_msg_free(out);
	}
	return err;
}

int
adv_claim(struct adv_node *a, const struct adv_trace *t,
    const struct proto_digest *job, const struct engine_model *model)
{
	struct adv_msg m;
	if (adv_claim_msg(t, job, model, &m) != RF_OK) {
		return ADV_NO_REPLY;
	}
	return adv_send(a, &m, NULL);
}

int
adv_challenge(struct adv_node *a, const struct proto_digest *job,
    const struct adv_trace *ours, uint64_t bond, struct proto_digest *id)
{
	struct adv_msg req, claim;
	adv_msg_init(&req, PROTO_MSG_CLAIM_STATUS, SUITE);
	req.u.claim_status.job_id = *job;
	if (adv_call(a, &req, &claim) != RF_OK) {
		return ADV_NO_REPLY;
	}
	if (claim.type != PROTO_MSG_CLAIM_INFO) {
		int r = outcome(&claim, NULL);
		adv_msg_free(&claim);
		return r;
	}
	adv_msg_init(&req, PROTO_MSG_CHALLENGE, SUITE);
	struct proto_challenge *c = &req.u.challenge;
	c->job_id = *job;
	c->executor = claim.u.claim_info.executor;
	c->executor_root = claim.u.claim_info.trace_root;
	c->n = claim.u.claim_info.n;
	c->challenger_root = ours->root;
	c->bond = bond;
	adv_msg_free(&claim);
	return adv_send(a, &req, id);
}

int
adv_dispute_view(struct adv_node *a, const struct proto_digest *id,
    struct adv_msg *view)
{
	struct adv_msg req;
	adv_msg_init(&req, PROTO_MSG_DISPUTE_FETCH, SUITE);
	req.u.dispute_fetch.dispute_id = *id;
	return adv_call(a, &req, view);
}

int
adv_answer_msg(const struct adv_trace *t, const struct proto_bisect_query *q,
    struct adv_msg *out)
{
	adv_msg_init(out, PROTO_MSG_BISECT_ANSWER, t->suite);
	int err = bisect_answer_build(t->suite, t->leaves, t->n, q,
	    &out->u.bisect_answer);
	if (err != RF_OK) {
		adv_msg_free(out);
	}
	return err;
}

int
adv_reveal_msg(const struct adv_trace *t, const struct engine_model *m,
    const struct proto_bisect_query *q, struct adv_msg *out)
{
	if (q->lo < t->n_in) {
		return RF_ERR_RANGE;
	}
	adv_msg_init(out, PROTO_MSG_REVEAL, t->suite);
	int err = bisect_reveal_build(t->suite, m, t->inputs, t->leaves, t->n,
	    (uint32_t)(q->lo - t->n_in), &out->u.reveal, NULL);
	out->u.reveal.dispute_id = q->dispute_id;
	if (err != RF_OK) {
		adv_msg_free(out);
	}
	return err;
}

int
adv_play(struct adv_node *a, const struct proto_digest *id,
    const struct adv_trace *t, const struct engine_model *m, bool executor)
{
	struct adv_msg view, move;
	if (adv_dispute_view(a, id, &view) != RF_OK) {
		return ADV_NO_REPLY;
	}
	int r = ADV_WAITING;
	if (view.type == PROTO_MSG_VERDICT) {
		r = ADV_DECIDED;
	} else if (view.type == PROTO_MSG_BISECT_QUERY) {
		const struct proto_bisect_query *q = &view.u.bisect_query;
		int err = RF_ERR_INVAL;
		if (q->n_sizes > 0) {
			err = adv_answer_msg(t, q, &move);
		} else if (executor) {
			err = adv_reveal_msg(t, m, q, &move);
		}
		if (err == RF_OK) {
			/* Refused means already answered (or a lost move): the
			 * state, not this reply, says who is due. */
			r = adv_send(a, &move, NULL) == ADV_ACK ? ADV_MOVED :
			    ADV_WAITING;
		}
	}
	adv_msg_free(&view);
	return r;
}

int
adv_verdict(struct adv_node *a, const struct proto_digest *id,
    struct proto_verdict *v)
{
	double deadline = test_seconds() + ADV_WAIT_S;
	while (test_seconds() < deadline) {
		struct adv_msg view;
		if (adv_dispute_view(a, id, &view) == RF_OK) {
			bool done = view.type == PROTO_MSG_VERDICT;
			if (done) {
				*v = view.u.verdict;
				v->transcript = NULL;
				v->transcript_len = 0;
			}
			adv_msg_free(&view);
			if (done) {
				return RF_OK;
			}
		}
		test_sleep_ms(50);
	}
	return RF_ERR_TIMEOUT;
}

int
adv_equivocation(struct adv_node *a, const uint8_t *claim_a, size_t len_a,
    const uint8_t *claim_b, size_t len_b)
{
	struct adv_msg m;
	adv_msg_init(&m, PROTO_MSG_EQUIVOCATION, SUITE);
	m.u.equivocation.claim_a = malloc(len_a ? len_a : 1);
	m.u.equivocation.claim_b = malloc(len_b ? len_b : 1);
	if (m.u.equivocation.claim_a == NULL ||
	    m.u.equivocation.claim_b == NULL) {
		adv_msg_free(&m);
		return ADV_NO_REPLY;
	}
	memcpy(m.u.equivocation.claim_a, claim_a, len_a);
	memcpy(m.u.equivocation.claim_b, claim_b, len_b);
	m.u.equivocation.len_a = len_a;
	m.u.equivocation.len_b = len_b;
	return adv_send(a, &m, NULL);
}

/* ------------------------------------------------------------------ */
/* Reading                                                              */
/* ------------------------------------------------------------------ */

int
adv_wait_event(struct adv_node *a, enum proto_event_kind kind,
    const struct proto_digest *job, struct proto_event *out)
{
	double deadline = test_seconds() + ADV_WAIT_S;
	while (test_seconds() < deadline) {
		struct adv_msg req, evs;
		adv_msg_init(&req, PROTO_MSG_EVENTS_FETCH, SUITE);
		req.u.events_fetch.after = a->cursor;
		if (adv_call(a, &req, &evs) != RF_OK) {
			continue;
		}
		bool found = false;
		if (evs.type == PROTO_MSG_EVENTS) {
			for (uint32_t i = 0; i < evs.u.events.n && !found; i++) {
				const struct proto_event *e = &evs.u.events.events[i];
				a->cursor = e->seq;
				found = e->kind == kind && (job == NULL ||
				    proto_digest_equal(SUITE, &e->job_id, job));
				if (found) {
					*out = *e;
				}
			}
		}
		bool empty = evs.type != PROTO_MSG_EVENTS || evs.u.events.n == 0;
		adv_msg_free(&evs);
		if (found) {
			return RF_OK;
		}
		if (empty) {
			test_sleep_ms(50);
		}
	}
	return RF_ERR_TIMEOUT;
}

int
adv_status(struct adv_node *a, struct adv_msg *out)
{
	struct adv_msg req;
	adv_msg_init(&req, PROTO_MSG_STATUS_QUERY, SUITE);
	int err = adv_call(a, &req, out);
	if (err == RF_OK && out->type != PROTO_MSG_STATUS_INFO) {
		adv_msg_free(out);
		err = RF_ERR_FORMAT;
	}
	return err;
}

int
adv_account(struct adv_node *a, const struct proto_pubkey *k,
    uint64_t *balance, uint64_t *stake)
{
	struct adv_msg st;
	int err = adv_status(a, &st);
	if (err != RF_OK) {
		return err;
	}
	*balance = 0;
	*stake = 0;
	const struct proto_status_info *si = &st.u.status_info;
	for (uint32_t i = 0; i < si->n_nodes; i++) {
		if (memcmp(si->nodes[i].key.b, k->b, PROTO_KEY_LEN) == 0) {
			*balance = si->nodes[i].balance;
			*stake = si->nodes[i].stake;
		}
	}
	adv_msg_free(&st);
	return RF_OK;
}

int
adv_ledger(struct adv_node *a, struct adv_ledger *l)
{
	struct adv_msg st;
	int err = adv_status(a, &st);
	if (err != RF_OK) {
		return err;
	}
	const struct proto_status_info *si = &st.u.status_info;
	memset(l, 0, sizeof(*l));
	l->total = si->ledger_total;
	l->burned = si->burned;
	l->disputes_open = si->disputes_open;
	l->jobs_open = si->jobs_open;
	l->claims_pending = si->claims_pending;
	for (uint32_t i = 0; i < si->n_nodes; i++) {
		l->held += si->nodes[i].balance + si->nodes[i].stake;
	}
	adv_msg_free(&st);
	return RF_OK;
}

bool
adv_ledger_conserved(struct adv_node *a, uint64_t minted)
{
	struct adv_ledger l;
	if (adv_ledger(a, &l) != RF_OK) {
		return false;
	}
	bool idle = l.disputes_open == 0 && l.jobs_open == 0 &&
	    l.claims_pending == 0;
	if (l.total != minted || l.held + l.burned > minted) {
		fprintf(stderr, "ledger: total %llu held %llu burned %llu, minted "
		    "%llu\n", (unsigned long long)l.total,
		    (unsigned long long)l.held, (unsigned long long)l.burned,
		    (unsigned long long)minted);
		return false;
	}
	return !idle || l.held + l.burned == minted;
}
