/*
 * net/client.c - a REQ client: one socket dialled in the background, and a
 * fresh NNG context per call so calls from several threads are in flight
 * at once and each reply finds its caller (NNG matches them by request id).
 */
#include "net/net_int.h"

#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

#define URL_MAX 256

struct net_client {
	nng_socket sock;
	char url[URL_MAX]; /* for error messages */
};

int
net_client_open(const char *url, size_t max_msg, struct net_client **out,
    struct rf_errinfo *ei)
{
	if (url == NULL || out == NULL) {
		return rf_errf(ei, RF_ERR_INVAL, "client: missing argument");
	}
	if (max_msg == 0 || max_msg > SIZE_MAX - NET_HEADER_ROOM) {
		return rf_errf(ei, RF_ERR_INVAL, "client: bad message limit");
	}
	struct net_client *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return rf_errf(ei, RF_ERR_NOMEM, "client: out of memory");
	}
	snprintf(c->url, sizeof(c->url), "%s", url);
	int err;
	int rv = nng_req0_open(&c->sock);
	if (rv != 0) {
		err = net_err(rv, ei, "client: opening a REQ socket");
		free(c);
		return err;
	}
	/* No automatic resend (see net.h): a resent signed request looks
	 * exactly like a replay. With NNG_DURATION_INFINITE, NNG also fails
	 * a call whose connection drops (NNG_ECONNRESET) instead of quietly
	 * sending it again on the next connection. */
	rv = nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME,
	    NNG_DURATION_INFINITE);
	if (rv != 0) {
		err = net_err(rv, ei, "client: turning off resends");
		goto fail;
	}
	rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ,
	    max_msg + NET_HEADER_ROOM);
	if (rv != 0) {
		err = net_err(rv, ei, "client: setting the message limit");
		goto fail;
	}
	rv = net_set_reconnect(c->sock);
	if (rv != 0) {
		err = net_err(rv, ei, "client: setting reconnect times");
		goto fail;
	}
	/* Non-blocking: without it NNG fails at once with NNG_ECONNREFUSED
	 * when the server is not up yet; with it the dialer keeps trying and
	 * requests wait for the connection. */
	rv = nng_dial(c->sock, url, NULL, NNG_FLAG_NONBLOCK);
	if (rv != 0) {
		err = net_err(rv, ei, "client: dialling");
		rf_errctx(ei, err, "%s: ", url);
		goto fail;
	}
	*out = c;
	return RF_OK;

fail:
	nng_close(c->sock);
	free(c);
	return err;
}

/* Milliseconds left until deadline, never negative. */
static nng_duration
time_left(nng_time deadline)
{
	nng_time now = nng_clock();
	return now >= deadline ? 0 : (nng_duration)(deadline - now);
}

int
net_client_call(struct net_client *c, const uint8_t *req, size_t len,
    uint8_t **reply, size_t *reply_len, int timeout_ms,
    struct rf_errinfo *ei)
{
	if (c == NULL || (req == NULL && len > 0) || reply == NULL ||
	    reply_len == NULL) {
		return rf_errf(ei, RF_ERR_INVAL, "client: missing argument");
	}
	nng_ctx ctx;
	nng_aio *aio = NULL;
	nng_msg *msg = NULL;
	int err = RF_OK;
	int rv = nng_ctx_open(&ctx, c->sock);
	if (rv != 0) {
		err = net_err(rv, ei, "client: opening a context");
		goto out;
	}
	rv = nng_aio_alloc(&aio, NULL, NULL);
	if (rv == 0) {
		rv = nng_msg_alloc(&msg, len);
	}
	if (rv != 0) {
		err = net_err(rv, ei, "client: allocating");
		goto out_ctx;
	}
	if (len > 0) {
		memcpy(nng_msg_body(msg), req, len);
	}

	/* One deadline for the whole call: the send part waits for a
	 * connection, the receive part for the reply. */
	nng_time deadline = nng_clock();
	if (timeout_ms > 0) {
		deadline += (nng_time)timeout_ms;
	}
	nng_aio_set_timeout(aio,
	    timeout_ms < 0 ? NNG_DURATION_INFINITE : time_left(deadline));
	nng_aio_set_msg(aio, msg);
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	rv = nng_aio_result(aio);
	if (rv != 0) {
		/* A failed send leaves the message with us (NNG's ownership
		 * rule); after a successful one it belonged to the socket. */
		nng_msg_free(nng_aio_get_msg(aio));
		err = net_err(rv, ei, "client: sending a request");
		goto out_ctx;
	}

	nng_aio_set_timeout(aio,
	    timeout_ms < 0 ? NNG_DURATION_INFINITE : time_left(deadline));
	nng_ctx_recv(ctx, aio);
	nng_aio_wait(aio);
	rv = nng_aio_result(aio);
	if (rv == NNG_ECONNRESET) {
		/* With resends off, NNG fails the call when the connection
		 * carrying the request goes away. */
		err = net_err(rv, ei,
		    "client: connection dropped while waiting for a reply"
		    " (request over the server's limit, or server stopped)");
		goto out_ctx;
	}
	if (rv != 0) {
		err = net_err(rv, ei, "client: waiting for a reply");
		goto out_ctx;
	}
	err = net_msg_take(nng_aio_get_msg(aio), reply, reply_len);
	if (err != RF_OK) {
		rf_errf(ei, err, "client: out of memory for a reply");
	}

out_ctx:
	nng_ctx_close(ctx);
out:
	if (aio != NULL) {
		nng_aio_free(aio);
	}
	if (err != RF_OK) {
		rf_errctx(ei, err, "%s: ", c->url);
	}
	return err;
}

void
net_client_close(struct net_client *c)
{
	if (c == NULL) {
		return;
	}
	nng_close(c->sock);
	free(c);
}
