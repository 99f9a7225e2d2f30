/*
 * net/pubsub.c - events: a PUB socket that listens and never blocks, and
 * SUB sockets that dial in the background and take everything.
 */
#include "net/net_int.h"

#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct net_pub {
	nng_socket sock;
	int port;
	struct net_conns conns; /* subscribers: at most max_conns */
	char what[96];
};

/* Subscribers send nothing: anything a peer sends to a PUB socket is
 * refused at its length (NNG then closes that connection). 0 would mean
 * no limit. */
#define PUB_RECV_MAX 1

struct net_sub {
	nng_socket sock;
};

int
net_pub_open(const char *url, struct net_pub **out, struct rf_errinfo *ei)
{
	if (url == NULL || out == NULL) {
		return rf_errf(ei, RF_ERR_INVAL, "pub: missing argument");
	}
	struct net_pub *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		return rf_errf(ei, RF_ERR_NOMEM, "pub: out of memory");
	}
	int err;
	struct net_limits lim;
	net_limits_current(&lim);
	snprintf(p->what, sizeof(p->what), "publisher %s", url);
	if (net_conns_init(&p->conns, p->what, lim.max_conns) != RF_OK) {
		free(p);
		return rf_errf(ei, RF_ERR_NOMEM, "pub: out of memory");
	}
	int rv = nng_pub0_open(&p->sock);
	if (rv != 0) {
		err = net_err(rv, ei, "pub: opening a PUB socket");
		net_conns_fini(&p->conns);
		free(p);
		return err;
	}
	/* PUB queues 16 messages per subscriber by default and then drops
	 * the oldest: a burst of claims would lose events on a healthy
	 * loopback link. */
	const char *what = "pub: setting the queue length";
	rv = nng_socket_set_int(p->sock, NNG_OPT_SENDBUF, NET_PUB_QUEUE);
	if (rv == 0) {
		what = "pub: setting the message limit";
		rv = nng_socket_set_size(p->sock, NNG_OPT_RECVMAXSZ, PUB_RECV_MAX);
	}
	if (rv == 0) {
		what = "pub: watching connections";
		rv = net_conns_attach(&p->conns, p->sock);
	}
	if (rv != 0) {
		err = net_err(rv, ei, what);
		nng_close(p->sock);
		net_conns_fini(&p->conns);
		free(p);
		return err;
	}
	nng_listener l;
	rv = nng_listen(p->sock, url, &l, 0);
	if (rv != 0) {
		err = net_err(rv, ei, "pub: listening");
		rf_errctx(ei, err, "%s: ", url);
		nng_close(p->sock);
		net_conns_fini(&p->conns);
		free(p);
		return err;
	}
	p->port = net_listener_port(l);
	*out = p;
	return RF_OK;
}

int
net_pub_port(const struct net_pub *p)
{
	return p != NULL ? p->port : 0;
}

int
net_pub_send(struct net_pub *p, const uint8_t *buf, size_t len)
{
	if (p == NULL || (buf == NULL && len > 0)) {
		return RF_ERR_INVAL;
	}
	nng_msg *msg;
	int rv = nng_msg_alloc(&msg, len);
	if (rv != 0) {
		return net_err(rv, NULL, "pub: allocating");
	}
	if (len > 0) {
		memcpy(nng_msg_body(msg), buf, len);
	}
	/* PUB drops instead of blocking when a subscriber is slow; the flag
	 * only makes sure a full send queue can never stall a node. */
	rv = nng_sendmsg(p->sock, msg, NNG_FLAG_NONBLOCK);
	if (rv != 0) {
		/* NNG's rule: on failure the message is still ours. */
		nng_msg_free(msg);
		return net_err(rv, NULL, "pub: sending");
	}
	return RF_OK; /* the socket owns msg now */
}

void
net_pub_close(struct net_pub *p)
{
	if (p == NULL) {
		return;
	}
	nng_close(p->sock);
	net_conns_fini(&p->conns);
	free(p);
}

int
net_sub_open(const char *url, size_t max_msg, struct net_sub **out,
    struct rf_errinfo *ei)
{
	if (url == NULL || out == NULL) {
		return rf_errf(ei, RF_ERR_INVAL, "sub: missing argument");
	}
	if (max_msg == 0 || max_msg > SIZE_MAX - NET_HEADER_ROOM) {
		return rf_errf(ei, RF_ERR_INVAL, "sub: bad message limit");
	}
	struct net_sub *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return rf_errf(ei, RF_ERR_NOMEM, "sub: out of memory");
	}
	int err;
	int rv = nng_sub0_open(&s->sock);
	if (rv != 0) {
		err = net_err(rv, ei, "sub: opening a SUB socket");
		free(s);
		return err;
	}
	const char *what = "sub: subscribing";
	/* An empty prefix matches every message. */
	rv = nng_socket_set(s->sock, NNG_OPT_SUB_SUBSCRIBE, "", 0);
	if (rv == 0) {
		what = "sub: setting the message limit";
		rv = nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ,
		    max_msg + NET_HEADER_ROOM);
	}
	if (rv == 0) {
		/* SUB's default queue is 128 messages; a burst of claims is
		 * larger than that. */
		what = "sub: setting the queue length";
		rv = nng_socket_set_int(
		    s->sock, NNG_OPT_RECVBUF, NET_SUB_QUEUE);
	}
	if (rv == 0) {
		what = "sub: setting reconnect times";
		rv = net_set_reconnect(s->sock);
	}
	if (rv == 0) {
		what = "sub: dialling";
		rv = nng_dial(s->sock, url, NULL, NNG_FLAG_NONBLOCK);
	}
	if (rv != 0) {
		err = net_err(rv, ei, what);
		rf_errctx(ei, err, "%s: ", url);
		nng_close(s->sock);
		free(s);
		return err;
	}
	*out = s;
	return RF_OK;
}

int
net_sub_recv(struct net_sub *s, uint8_t **buf, size_t *len, int timeout_ms)
{
	if (s == NULL || buf == NULL || len == NULL) {
		return RF_ERR_INVAL;
	}
	/* An aio per call rather than the socket's receive timeout option,
	 * which concurrent receivers with different timeouts would fight
	 * over. */
	nng_aio *aio;
	int rv = nng_aio_alloc(&aio, NULL, NULL);
	if (rv != 0) {
		return net_err(rv, NULL, "sub: allocating an aio");
	}
	nng_aio_set_timeout(aio,
	    timeout_ms < 0 ? NNG_DURATION_INFINITE : (nng_duration)timeout_ms);
	nng_recv_aio(s->sock, aio);
	nng_aio_wait(aio);
	rv = nng_aio_result(aio);
	int err;
	if (rv != 0) {
		err = net_err(rv, NULL, "sub: receiving");
	} else {
		err = net_msg_take(nng_aio_get_msg(aio), buf, len);
	}
	nng_aio_free(aio);
	return err;
}

void
net_sub_shutdown(struct net_sub *s)
{
	if (s != NULL) {
		/* Pending receives finish with NNG_ECLOSED; the struct stays
		 * valid, and closing the same id again later is harmless. */
		nng_close(s->sock);
	}
}

void
net_sub_close(struct net_sub *s)
{
	if (s == NULL) {
		return;
	}
	nng_close(s->sock);
	free(s);
}
