/* node/rpc.c - signed requests to the referee, with safe retries. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "node/node.h"

int
node_rpc_open(struct node_rpc *rpc, const char *url,
    const struct proto_identity *id, enum proto_hash suite,
    const struct proto_pubkey *referee, struct rf_errinfo *ei)
{
	memset(rpc, 0, sizeof(*rpc));
	int err = net_client_open(url, PROTO_MAX_MESSAGE, &rpc->client, ei);
	if (err != RF_OK) {
		return err;
	}
	rpc->id = *id;
	rpc->suite = suite;
	if (referee != NULL) {
		rpc->referee = *referee;
	}
	pthread_mutex_init(&rpc->lock, NULL);
	rpc->timeout_ms = 5000;
	rpc->retries = 3;
	return RF_OK;
}

void
node_rpc_close(struct node_rpc *rpc)
{
	if (rpc->client != NULL) {
		net_client_close(rpc->client);
		rpc->client = NULL;
		pthread_mutex_destroy(&rpc->lock);
	}
	proto_identity_wipe(&rpc->id);
}

/* Call with rpc->lock held. */
static int
sign_locked(struct node_rpc *rpc, enum proto_msg_type type, const void *body,
    uint8_t **buf, size_t *len)
{
	uint64_t seq = node_wall_us();
	if (seq <= rpc->last_seq) {
		seq = rpc->last_seq + 1;
	}
	rpc->last_seq = seq;
	return proto_msg_encode(type, body, rpc->suite, seq, &rpc->id, buf,
	    len);
}

int
node_sign(struct node_rpc *rpc, enum proto_msg_type type, const void *body,
    uint8_t **buf, size_t *len)
{
	pthread_mutex_lock(&rpc->lock);
	int err = sign_locked(rpc, type, body, buf, len);
	pthread_mutex_unlock(&rpc->lock);
	return err;
}

void
node_reply_free(struct node_reply *reply)
{
	free(reply->buf);
	memset(reply, 0, sizeof(*reply));
}

static int
rpc_call(struct node_rpc *rpc, enum proto_msg_type type, const void *body,
    struct node_reply *reply, struct rf_errinfo *ei)
{
	uint8_t *buf = NULL, *rbuf = NULL;
	size_t len = 0, rlen = 0;
	memset(reply, 0, sizeof(*reply));
	/* The lock keeps sequence numbers in the order the referee sees. */
	pthread_mutex_lock(&rpc->lock);
	int err = sign_locked(rpc, type, body, &buf, &len);
	if (err != RF_OK) {
		pthread_mutex_unlock(&rpc->lock);
		return rf_errf(ei, err, "cannot encode %s: %s",
		    proto_msg_type_name((int)type), rf_strerror(err));
	}
	for (int attempt = 0; attempt <= rpc->retries; attempt++) {
		err = net_client_call(rpc->client, buf, len, &rbuf, &rlen,
		    rpc->timeout_ms, ei);
		if (err != RF_ERR_TIMEOUT && err != RF_ERR_NET) {
			break;
		}
		node_sleep_ms(100 * (uint64_t)(attempt + 1), rpc->stop);
		if (rpc->stop != NULL && *rpc->stop) {
			err = rf_errf(ei, RF_ERR_CLOSED, "stopping: the request "
			    "to the referee is abandoned");
			break;
		}
	}
	pthread_mutex_unlock(&rpc->lock);
	free(buf);
	if (err != RF_OK) {
		return err;
	}
	err = proto_msg_open(rbuf, rlen, &reply->env, ei);
	if (err != RF_OK) {
		free(rbuf);
		return rf_errctx(ei, err, "bad reply from the referee: ");
	}
	reply->buf = rbuf;
	reply->len = rlen;
	bool any = true;
	for (int i = 0; i < PROTO_KEY_LEN; i++) {
		any = any && rpc->referee.b[i] == 0;
	}
	if (!any && memcmp(reply->env.sender.b, rpc->referee.b,
	    PROTO_KEY_LEN) != 0) {
		node_reply_free(reply);
		return rf_errf(ei, RF_ERR_CRYPTO,
		    "the reply is not signed by the referee");
	}
	return RF_OK;
}

int
node_rpc_call(struct node_rpc *rpc, enum proto_msg_type type,
    const void *body, struct node_reply *reply, struct rf_errinfo *ei)
{
	int err = rpc_call(rpc, type, body, reply, ei);
	if (err == RF_OK && reply->env.suite != (uint8_t)rpc->suite) {
		/* The referee answers in its network's suite: roots of two
		 * suites must never be compared. */
		enum proto_hash theirs = (enum proto_hash)reply->env.suite;
		node_reply_free(reply);
		return rf_errf(ei, RF_ERR_VERSION, "the referee's network uses "
		    "the %s hash suite, this node %s (--hash)",
		    proto_hash_name(theirs), proto_hash_name(rpc->suite));
	}
	return err;
}

int
node_rpc_expect(struct node_rpc *rpc, enum proto_msg_type type,
    const void *body, enum proto_msg_type want, void *out, size_t size,
    struct rf_errinfo *ei)
{
	struct node_reply reply;
	int err = node_rpc_call(rpc, type, body, &reply, ei);
	if (err != RF_OK) {
		return err;
	}
	err = node_reply_ok(&reply, want, ei);
	void *tmp = NULL;
	if (err == RF_OK && out == NULL) {
		/* Not wanted, but checked all the same. */
		size = proto_msg_body_size(want);
		out = tmp = calloc(1, size > 0 ? size : 1);
		err = tmp == NULL ? RF_ERR_NOMEM : RF_OK;
	}
	if (err == RF_OK) {
		err = proto_msg_body_decode(&reply.env, out, size, ei);
		if (err != RF_OK) {
			rf_errctx(ei, err, "bad reply from the referee: ");
		}
	}
	if (tmp != NULL) {
		if (err == RF_OK) {
			proto_msg_body_free(want, tmp);
		}
		free(tmp);
	}
	node_reply_free(&reply);
	return err;
}

int
node_referee_suite(const char *url, const struct proto_identity *id,
    const struct proto_pubkey *referee, enum proto_hash *out,
    struct rf_errinfo *ei)
{
	struct node_rpc rpc;
	int err = node_rpc_open(&rpc, url, id, PROTO_HASH_BLAKE2B, referee, ei);
	if (err != RF_OK) {
		return err;
	}
	/* Any reply names the suite in its envelope: a refusal of ours
	 * (when the network uses another) as much as the status itself. */
	struct node_reply reply;
	err = rpc_call(&rpc, PROTO_MSG_STATUS_QUERY, NULL, &reply, ei);
	node_rpc_close(&rpc);
	if (err != RF_OK) {
		return rf_errctx(ei, err, "cannot ask the referee for its hash "
		    "suite: ");
	}
	*out = (enum proto_hash)reply.env.suite;
	node_reply_free(&reply);
	return RF_OK;
}

void
node_reply_error(const struct node_reply *reply, struct proto_error *out)
{
	if (reply->env.type != PROTO_MSG_ERROR ||
	    proto_error_decode(&reply->env, out, NULL) != RF_OK) {
		memset(out, 0, sizeof(*out));
	}
}

int
node_reply_ok(const struct node_reply *reply, enum proto_msg_type want,
    struct rf_errinfo *ei)
{
	if (reply->env.type == want) {
		return RF_OK;
	}
	if (reply->env.type == PROTO_MSG_ERROR) {
		struct proto_error e;
		if (proto_error_decode(&reply->env, &e, ei) != RF_OK) {
			return rf_errctx(ei, RF_ERR_FORMAT,
			    "bad reply from the referee: ");
		}
		return rf_errf(ei, RF_ERR_INVAL, "referee: %s", e.text);
	}
	return rf_errf(ei, RF_ERR_FORMAT, "unexpected %s reply",
	    proto_msg_type_name(reply->env.type));
}

int
node_rpc_forward(struct node_rpc *rpc, const uint8_t *req, size_t len,
    uint8_t **reply, size_t *reply_len, struct rf_errinfo *ei)
{
	return net_client_call(rpc->client, req, len, reply, reply_len,
	    rpc->timeout_ms, ei);
}
