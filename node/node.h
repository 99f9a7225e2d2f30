/*
 * node/node.h - what executors, challengers and clients share: a signed
 * request channel to the referee and a catch-up reader for its events.
 *
 * Requests carry increasing sequence numbers (microseconds of wall clock,
 * never below the last one used). A request whose reply is lost is resent
 * with the very same bytes: the referee answers a repeat of the last
 * request it applied with the reply it recorded, so a retry is never
 * applied twice.
 */
#ifndef RF_NODE_H
#define RF_NODE_H

#include <pthread.h>
#include <stdatomic.h>

#include "../net/net.h"
#include "../protocol/protocol.h"

struct node_rpc {
	struct net_client *client;
	struct proto_identity id;
	enum proto_hash suite;
	struct proto_pubkey referee; /* zero: accept any signer */
	pthread_mutex_t lock;        /* one request at a time: seq order */
	uint64_t last_seq;
	int timeout_ms;
	int retries;
};

int node_rpc_open(struct node_rpc *rpc, const char *url,
    const struct proto_identity *id, enum proto_hash suite,
    const struct proto_pubkey *referee, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
void node_rpc_close(struct node_rpc *rpc);

/*
 * Sends req (type and body set; sender, seq and suite are filled in) and
 * decodes the reply into *reply (free with proto_msg_free). Returns RF_OK
 * when a verified reply arrived (which may be an ERROR message: see
 * node_reply_ok), or RF_ERR_TIMEOUT / RF_ERR_NET after the retries, or
 * RF_ERR_CRYPTO when the reply is not signed by the referee.
 */
int node_rpc_call(struct node_rpc *rpc, struct proto_msg *req,
    struct proto_msg *reply, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

/*
 * RF_OK if reply has the wanted type; for an ERROR reply, RF_ERR_INVAL
 * with the referee's text in ei ("referee: no such job").
 */
int node_reply_ok(const struct proto_msg *reply, enum proto_msg_type want,
    struct rf_errinfo *ei);

/* Encodes and signs m as id with the next sequence number of rpc. */
int node_sign(struct node_rpc *rpc, struct proto_msg *m, uint8_t **buf,
    size_t *len) __attribute__((warn_unused_result));

/* Unix time in milliseconds. */
uint64_t node_now_ms(void);

#endif
