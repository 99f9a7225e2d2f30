/*
 * node/models.c - the models a node serves or checks, loaded from files
 * (models travel out of band; the file is checked against model_id by
 * computing it), and the registration steps every node performs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "node/node.h"

int
node_models_load(struct node_models *ms, enum proto_hash suite,
    const char *path, struct rf_errinfo *ei)
{
	if (ms->n >= NODE_MAX_MODELS) {
		return rf_errf(ei, RF_ERR_RANGE, "more than %d models",
		    NODE_MAX_MODELS);
	}
	ms->suite = suite;
	struct node_model *nm = &ms->m[ms->n];
	memset(nm, 0, sizeof(*nm));
	snprintf(nm->path, sizeof(nm->path), "%s", path);
	/* Mapped: a version 2 file's weights stay in the mapping, and
	 * model_id below still hashes every one of them, so the trust check
	 * is unchanged. */
	int err = engine_model_load(path, NODE_MODEL_FILE_MAX, &nm->model, ei);
	if (err != RF_OK) {
		return err == RF_ERR_IO ? err :
		    rf_errctx(ei, err, "model '%s': ", path);
	}
	struct proto_digest *leaves = NULL;
	size_t n = 0;
	err = proto_model_leaves(suite, nm->model, &leaves, &n);
	if (err == RF_OK) {
		proto_merkle_root(suite, leaves, n, &nm->id);
		size_t plen;
		err = proto_merkle_inclusion_proof(suite, leaves, n, 0, nm->proof, &plen);
		nm->proof_len = (uint8_t)plen;
		nm->n_leaves = (uint32_t)n;
	}
	free(leaves);
	if (err == RF_OK) {
		err = engine_model_encode_graph(nm->model, &nm->graph,
		    &nm->graph_len);
	}
	if (err != RF_OK) {
		engine_model_free(nm->model);
		return rf_errf(ei, err, "model '%s': %s", path, rf_strerror(err));
	}
	/* A model the network would refuse (or that an honest executor
	 * could not defend in a dispute) is refused here, by name. */
	err = proto_model_dispute_check(suite, nm->model, nm->graph_len, ei);
	if (err != RF_OK) {
		engine_model_free(nm->model);
		free(nm->graph);
		return rf_errctx(ei, err, "model '%s': ", path);
	}
	ms->n++;
	return RF_OK;
}

const struct node_model *
node_models_find(const struct node_models *ms, const struct proto_digest *id)
{
	for (size_t i = 0; i < ms->n; i++) {
		if (proto_digest_equal(ms->suite, &ms->m[i].id, id)) {
			return &ms->m[i];
		}
	}
	return NULL;
}

void
node_models_free(struct node_models *ms)
{
	for (size_t i = 0; i < ms->n; i++) {
		engine_model_free(ms->m[i].model);
		free(ms->m[i].graph);
	}
	ms->n = 0;
}

/* One request that must be answered with want. */
int
node_models_register(struct node_models *ms, struct node_rpc *rpc,
    struct rf_errinfo *ei)
{
	for (size_t i = 0; i < ms->n; i++) {
		const struct node_model *nm = &ms->m[i];
		struct proto_model_register mr;
		memset(&mr, 0, sizeof(mr));
		mr.model_id = nm->id;
		snprintf(mr.name, sizeof(mr.name), "%s",
		    engine_model_name(nm->model));
		if (mr.name[0] == '\0') {
			snprintf(mr.name, sizeof(mr.name), "model");
		}
		mr.n_ops = (uint32_t)engine_model_op_count(nm->model);
		mr.n_inputs = (uint32_t)engine_model_input_count(nm->model);
		/* Borrowed: the request is encoded before this returns. */
		mr.graph = nm->graph;
		mr.graph_len = nm->graph_len;
		mr.n_leaves = nm->n_leaves;
		mr.proof_len = nm->proof_len;
		mr.graph_proof = (struct proto_digest *)nm->proof;
		int err = node_rpc_expect(rpc, PROTO_MSG_MODEL_REGISTER, &mr,
		    PROTO_MSG_ACK, NULL, 0, ei);
		if (err != RF_OK) {
			return rf_errctx(ei, err, "registering '%s': ", nm->path);
		}
	}
	return RF_OK;
}

int
node_register(struct node_rpc *rpc, uint8_t roles, const char *name,
    const char *endpoint, const struct node_models *ms,
    struct rf_errinfo *ei)
{
	struct proto_node_register r;
	memset(&r, 0, sizeof(r));
	r.roles = roles;
	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.endpoint, sizeof(r.endpoint), "%s",
	    endpoint ? endpoint : "");
	for (size_t i = 0; ms != NULL && i < ms->n; i++) {
		r.models[r.n_models++] = ms->m[i].id;
	}
	return node_rpc_expect(rpc, PROTO_MSG_NODE_REGISTER, &r, PROTO_MSG_ACK,
	    NULL, 0, ei);
}

int
node_account(struct node_rpc *rpc, uint64_t *balance, uint64_t *stake,
    struct rf_errinfo *ei)
{
	struct proto_status_info s;
	int err = node_rpc_expect(rpc, PROTO_MSG_STATUS_QUERY, NULL,
	    PROTO_MSG_STATUS_INFO, &s, sizeof(s), ei);
	if (err != RF_OK) {
		return err;
	}
	err = rf_errf(ei, RF_ERR_NOTFOUND, "this node is not registered");
	for (uint32_t i = 0; i < s.n_nodes; i++) {
		if (memcmp(s.nodes[i].key.b, rpc->id.pk.b, PROTO_KEY_LEN) == 0) {
			*balance = s.nodes[i].balance;
			*stake = s.nodes[i].stake;
			err = RF_OK;
		}
	}
	proto_status_info_free(&s);
	return err;
}

int
node_stake_to(struct node_rpc *rpc, uint64_t target, struct rf_errinfo *ei)
{
	uint64_t balance = 0, stake = 0; /* gcc -O3 cannot see node_account set them */
	int err = node_account(rpc, &balance, &stake, ei);
	if (err != RF_OK || stake >= target) {
		return err;
	}
	struct proto_amount req = { .amount = target - stake };
	return node_rpc_expect(rpc, PROTO_MSG_STAKE, &req, PROTO_MSG_ACK, NULL,
	    0, ei);
}
