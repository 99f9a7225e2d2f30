/*
 * net/http.c - the metrics endpoint, on NNG's supplemental HTTP server:
 * GET /metrics renders the registry on every request, GET / says where to
 * look. NNG runs the handlers on its own threads.
 */
#include "net/net_int.h"

#include <arpa/inet.h>
#include <nng/supplemental/http/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

#define CONTENT_TYPE "text/plain; version=0.0.4"

static const char root_text[] =
    "Refute node. Prometheus metrics are at /metrics.\n";

struct net_http {
	nng_http_server *srv;
	int port;
};

/* Fails the request; NNG closes the connection after a 500 if it can. */
static void
metrics_fail(nng_aio *aio, int nng_rv)
{
	nng_http_res *res;
	int rv = nng_http_res_alloc_error(
	    &res, NNG_HTTP_STATUS_INTERNAL_SERVER_ERROR);
	if (rv == 0) {
		nng_aio_set_output(aio, 0, res);
		nng_aio_finish(aio, 0);
		return;
	}
	nng_aio_finish(aio, nng_rv);
}

/* NNG's handler contract: input 1 is the handler (its data is our
 * registry); output 0 is the response, which NNG sends and frees. */
static void
metrics_handle(nng_aio *aio)
{
	nng_http_handler *h = nng_aio_get_input(aio, 1);
	struct net_metrics *m = nng_http_handler_get_data(h);
	char *text;
	size_t len;
	if (net_metrics_render(m, &text, &len) != RF_OK) {
		metrics_fail(aio, NNG_ENOMEM);
		return;
	}
	nng_http_res *res;
	int rv = nng_http_res_alloc(&res);
	if (rv != 0) {
		free(text);
		metrics_fail(aio, rv);
		return;
	}
	rv = nng_http_res_set_header(res, "Content-Type", CONTENT_TYPE);
	if (rv == 0) {
		/* Copied (and Content-Length set) by NNG, so our buffer can go
		 * now rather than after the response is written. */
		rv = nng_http_res_copy_data(res, text, len);
	}
	free(text);
	if (rv != 0) {
		nng_http_res_free(res);
		metrics_fail(aio, rv);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

/* Runs when NNG frees the /metrics handler, possibly well after
 * net_http_stop: only then is the registry no longer needed. */
static void
metrics_unref(void *arg)
{
	net_metrics_release(arg);
}

/* Registers GET /metrics and GET / on srv. */
static int
add_handlers(nng_http_server *srv, struct net_metrics *m,
    struct rf_errinfo *ei)
{
	nng_http_handler *h;
	int rv = nng_http_handler_alloc(&h, "/metrics", metrics_handle);
	if (rv != 0) {
		return net_err(rv, ei, "metrics: allocating a handler");
	}
	net_metrics_retain(m);
	rv = nng_http_handler_set_data(h, m, metrics_unref);
	if (rv != 0) {
		net_metrics_release(m);
		nng_http_handler_free(h);
		return net_err(rv, ei, "metrics: setting handler data");
	}
	/* Once added the server owns the handler and frees it at the end;
	 * until then it is ours (and freeing it drops the reference). */
	rv = nng_http_server_add_handler(srv, h);
	if (rv != 0) {
		nng_http_handler_free(h);
		return net_err(rv, ei,
		    "metrics: adding /metrics (a server already on this "
		    "address in this process?)");
	}
	rv = nng_http_handler_alloc_static(
	    &h, "/", root_text, sizeof(root_text) - 1, "text/plain");
	if (rv != 0) {
		return net_err(rv, ei, "metrics: allocating a handler");
	}
	rv = nng_http_server_add_handler(srv, h);
	if (rv != 0) {
		nng_http_handler_free(h);
		return net_err(rv, ei, "metrics: adding /");
	}
	return RF_OK;
}

int
net_metrics_serve(struct net_metrics *m, const char *addr,
    struct net_http **out, struct rf_errinfo *ei)
{
	if (m == NULL || addr == NULL || out == NULL) {
		return rf_errf(ei, RF_ERR_INVAL, "metrics: missing argument");
	}
	char urlstr[256];
	int n = snprintf(urlstr, sizeof(urlstr), "%s%s",
	    strncmp(addr, "http://", 7) == 0 ? "" : "http://", addr);
	if (n < 0 || (size_t)n >= sizeof(urlstr)) {
		return rf_errf(ei, RF_ERR_INVAL, "metrics: address too long");
	}
	struct net_http *h = calloc(1, sizeof(*h));
	if (h == NULL) {
		return rf_errf(ei, RF_ERR_NOMEM, "metrics: out of memory");
	}
	nng_url *url;
	int rv = nng_url_parse(&url, urlstr);
	if (rv != 0) {
		free(h);
		int err = net_err(rv, ei, "metrics: parsing address");
		return rf_errctx(ei, err, "%s: ", addr);
	}
	rv = nng_http_server_hold(&h->srv, url);
	nng_url_free(url);
	if (rv != 0) {
		free(h);
		int err = net_err(rv, ei, "metrics: creating server");
		return rf_errctx(ei, err, "%s: ", addr);
	}
	int err = add_handlers(h->srv, m, ei);
	if (err != RF_OK) {
		goto fail;
	}
	rv = nng_http_server_start(h->srv);
	if (rv != 0) {
		err = net_err(rv, ei, "metrics: listening");
		goto fail;
	}
	/* With port 0 NNG reads back the bound port at start. */
	nng_sockaddr sa;
	rv = nng_http_server_get_addr(h->srv, &sa);
	if (rv == 0 && sa.s_family == NNG_AF_INET) {
		h->port = ntohs(sa.s_in.sa_port);
	} else if (rv == 0 && sa.s_family == NNG_AF_INET6) {
		h->port = ntohs(sa.s_in6.sa_port);
	}
	log_debug("net: metrics on %s (port %d)", urlstr, h->port);
	*out = h;
	return RF_OK;

fail:
	/* Releasing the last hold frees the server and the handlers it owns
	 * (in NNG's background reaper). */
	nng_http_server_release(h->srv);
	free(h);
	return rf_errctx(ei, err, "%s: ", addr);
}

int
net_http_port(const struct net_http *h)
{
	return h != NULL ? h->port : 0;
}

void
net_http_stop(struct net_http *h)
{
	if (h == NULL) {
		return;
	}
	nng_http_server_stop(h->srv);
	nng_http_server_release(h->srv);
	free(h);
}
