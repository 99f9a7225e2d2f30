/*
 * net/server.c - a REP server with worker threads.
 *
 * One rep0 socket, and per worker a thread with its own NNG context and
 * aio, looping receive -> handler -> send. A REP context carries its own
 * request/reply state (the plain socket allows one request at a time and
 * answers a send without a pending request with NNG_ESTATE), so the
 * workers serve that many requests at once and a slow handler stalls only
 * its own worker. Blocking threads with nng_aio_wait keep the handler an
 * ordinary function instead of a chain of aio callbacks.
 */
#include "net/net_int.h"

#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"

#define MAX_WORKERS 256

/* A client that stops reading its socket must not hold a worker forever. */
#define SEND_TIMEOUT_MS 10000

struct worker {
	struct net_server *srv;
	nng_ctx ctx;
	nng_aio *aio;
	pthread_t thread;
	bool running;
};

struct net_server {
	nng_socket sock;
	int port;
	size_t max_msg;
	net_handler_fn fn;
	void *fn_ctx;
	unsigned nworkers;
	struct worker *workers;
	pthread_mutex_t stop_lock; /* makes stop idempotent across threads */
	bool stopped;
	/* Connection cap and the reaper of stalled connections (conns.c). */
	struct net_conns conns;
	char what[96];
	unsigned idle_ms;
	pthread_t reaper;
	bool reaper_running, reaper_stop;
	pthread_mutex_t reaper_lock;
	pthread_cond_t reaper_cv;
};

/* Runs the handler on one request and sends its reply. */
static void
serve_one(struct worker *w, nng_msg *msg)
{
	struct net_server *s = w->srv;
	size_t len = nng_msg_len(msg);
	nng_pipe pipe = nng_msg_get_pipe(msg);
	net_conns_touch(&s->conns, pipe);
	/* NNG's frame limit already keeps bigger payloads out; this only
	 * guards the handler's contract. No reply, as for an oversized
	 * frame. */
	if (len > s->max_msg) {
		log_debug("net: server: dropped a %zu-byte request"
			  " (limit %zu)",
		    len, s->max_msg);
		nng_msg_free(msg);
		return;
	}

	uint8_t *reply = NULL;
	size_t reply_len = 0;
	s->fn(s->fn_ctx, nng_msg_body(msg), len, &reply, &reply_len);
	if (reply == NULL) {
		reply_len = 0;
	}

	/* Reuse the request message: the REP context has already kept its
	 * routing header aside and puts it back when sending. */
	nng_msg_clear(msg);
	int rv = nng_msg_append(msg, reply, reply_len);
	free(reply);
	if (rv != 0) {
		net_err(rv, NULL, "server: building a reply");
		nng_msg_free(msg);
		return; /* the peer times out, as for any lost reply */
	}

	nng_aio_set_msg(w->aio, msg);
	nng_aio_set_timeout(w->aio, SEND_TIMEOUT_MS);
	nng_ctx_send(w->ctx, w->aio);
	nng_aio_wait(w->aio);
	rv = nng_aio_result(w->aio);
	/* The idle clock of this connection starts again after the reply,
	 * however long the handler took. */
	net_conns_touch(&s->conns, pipe);
	if (rv != 0) {
		/* NNG's contract: a message that was not sent still belongs to
		 * us and must be freed here; after success it was the
		 * socket's. */
		nng_msg_free(nng_aio_get_msg(w->aio));
		nng_aio_set_msg(w->aio, NULL);
		if (rv != NNG_ECLOSED && rv != NNG_ECANCELED) {
			net_err(rv, NULL, "server: sending a reply");
		}
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	for (;;) {
		nng_aio_set_timeout(w->aio, NNG_DURATION_INFINITE);
		nng_ctx_recv(w->ctx, w->aio);
		nng_aio_wait(w->aio);
		int rv = nng_aio_result(w->aio);
		if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
			break; /* net_server_stop stopped our aio */
		}
		if (rv != 0) {
			/* Transient (out of memory): pause so a persistent
			 * failure does not spin a core. */
			net_err(rv, NULL, "server: receiving a request");
			nng_msleep(10);
			continue;
		}
		nng_msg *msg = nng_aio_get_msg(w->aio);
		nng_aio_set_msg(w->aio, NULL); /* serve_one owns it now */
		serve_one(w, msg);
	}
	return NULL;
}

/* Closes stalled connections a few times per idle period. */
static void *
reaper_main(void *arg)
{
	struct net_server *s = arg;
	unsigned period = s->idle_ms / 4 < 1000 ? s->idle_ms / 4 : 1000;
	pthread_mutex_lock(&s->reaper_lock);
	while (!s->reaper_stop) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += period / 1000;
		ts.tv_nsec += (long)(period % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->reaper_cv, &s->reaper_lock, &ts);
		if (s->reaper_stop) {
			break;
		}
		pthread_mutex_unlock(&s->reaper_lock);
		net_conns_reap(&s->conns, s->idle_ms);
		pthread_mutex_lock(&s->reaper_lock);
	}
	pthread_mutex_unlock(&s->reaper_lock);
	return NULL;
}

/* Opens the socket, its options and the workers' contexts. */
static int
server_open(struct net_server *s, size_t max_msg, struct rf_errinfo *ei)
{
	int rv = nng_rep0_open(&s->sock);
	if (rv != 0) {
		return net_err(rv, ei, "server: opening a REP socket");
	}
	/* A frame over the limit is refused while reading its length, before
	 * NNG allocates for it, and that connection is closed. */
	rv = nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ,
	    max_msg + NET_HEADER_ROOM);
	if (rv != 0) {
		return net_err(rv, ei, "server: setting the message limit");
	}
	rv = net_conns_attach(&s->conns, s->sock);
	if (rv != 0) {
		return net_err(rv, ei, "server: watching connections");
	}
	for (unsigned i = 0; i < s->nworkers; i++) {
		struct worker *w = &s->workers[i];
		w->srv = s;
		rv = nng_ctx_open(&w->ctx, s->sock);
		if (rv != 0) {
			return net_err(rv, ei, "server: opening a context");
		}
		rv = nng_aio_alloc(&w->aio, NULL, NULL);
		if (rv != 0) {
			return net_err(rv, ei, "server: allocating an aio");
		}
	}
	return RF_OK;
}

int
net_server_start(const char *url, unsigned workers, size_t max_msg,
    net_handler_fn fn, void *ctx, struct net_server **out,
    struct rf_errinfo *ei)
{
	if (url == NULL || fn == NULL || out == NULL) {
		return rf_errf(ei, RF_ERR_INVAL, "server: missing argument");
	}
	if (workers == 0 || workers > MAX_WORKERS) {
		return rf_errf(ei, RF_ERR_INVAL,
		    "server: %u workers (want 1..%d)", workers, MAX_WORKERS);
	}
	if (max_msg == 0 || max_msg > SIZE_MAX - NET_HEADER_ROOM) {
		return rf_errf(ei, RF_ERR_INVAL, "server: bad message limit");
	}
	struct net_server *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return rf_errf(ei, RF_ERR_NOMEM, "server: out of memory");
	}
	s->workers = calloc(workers, sizeof(*s->workers));
	if (s->workers == NULL) {
		free(s);
		return rf_errf(ei, RF_ERR_NOMEM, "server: out of memory");
	}
	s->nworkers = workers;
	s->max_msg = max_msg;
	s->fn = fn;
	s->fn_ctx = ctx;
	pthread_mutex_init(&s->stop_lock, NULL);
	pthread_mutex_init(&s->reaper_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->reaper_cv, &ca);
	pthread_condattr_destroy(&ca);
	struct net_limits lim;
	net_limits_current(&lim);
	s->idle_ms = lim.idle_ms;
	snprintf(s->what, sizeof(s->what), "server %s", url);
	if (net_conns_init(&s->conns, s->what, lim.max_conns) != RF_OK) {
		net_server_free(s);
		return rf_errf(ei, RF_ERR_NOMEM, "server: out of memory");
	}

	int err = server_open(s, max_msg, ei);
	if (err != RF_OK) {
		goto fail;
	}
	nng_listener l;
	int rv = nng_listen(s->sock, url, &l, 0);
	if (rv != 0) {
		err = net_err(rv, ei, "server: listening");
		rf_errctx(ei, err, "%s: ", url);
		goto fail;
	}
	s->port = net_listener_port(l);
	if (pthread_create(&s->reaper, NULL, reaper_main, s) != 0) {
		err = rf_errf(ei, RF_ERR_NOMEM, "server: cannot start its reaper");
		goto fail;
	}
	s->reaper_running = true;
	for (unsigned i = 0; i < workers; i++) {
		struct worker *w = &s->workers[i];
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			err = rf_errf(ei, RF_ERR_NOMEM,
			    "server: cannot start worker thread %u", i);
			goto fail;
		}
		w->running = true;
	}
	log_debug("net: server on %s (port %d), %u workers, at most %u "
	    "connections, idle after %u ms", url, s->port, workers,
	    lim.max_conns, lim.idle_ms);
	*out = s;
	return RF_OK;

fail:
	/* Stopping ends the workers already started and closes the socket
	 * (and with it the contexts); free then releases the aios. */
	net_server_free(s);
	return err;
}

int
net_server_port(const struct net_server *s)
{
	return s != NULL ? s->port : 0;
}

void
net_server_stats(struct net_server *s, struct net_server_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (s != NULL && s->conns.slots != NULL) {
		net_conns_stats(&s->conns, &out->open, &out->refused,
		    &out->reaped);
	}
}

void
net_server_stop(struct net_server *s)
{
	if (s == NULL) {
		return;
	}
	pthread_mutex_lock(&s->stop_lock);
	if (!s->stopped) {
		s->stopped = true;
		if (s->reaper_running) {
			pthread_mutex_lock(&s->reaper_lock);
			s->reaper_stop = true;
			pthread_cond_signal(&s->reaper_cv);
			pthread_mutex_unlock(&s->reaper_lock);
			pthread_join(s->reaper, NULL);
			s->reaper_running = false;
		}
		/*
		 * The workers must be out of NNG before the socket closes.
		 * NNG 1.5.2 has a use-after-free when nng_close races a call
		 * on one of the socket's contexts: the call's final release
		 * of the context wakes the closing thread, which frees the
		 * protocol state, and only then locks that state's mutex
		 * (nni_ctx_rele; seen here as "panic: pthread_mutex_lock:
		 * Invalid argument" in nng_ctx_send). So: stopping a worker's
		 * aio cancels its pending receive and makes every later
		 * operation on it fail at once (NNG_ECANCELED), a handler
		 * still running finishes and its reply is dropped, the
		 * thread leaves its loop, and only after all are joined is
		 * the socket closed.
		 */
		for (unsigned i = 0; i < s->nworkers; i++) {
			if (s->workers[i].aio != NULL) {
				nng_aio_stop(s->workers[i].aio);
			}
		}
		for (unsigned i = 0; i < s->nworkers; i++) {
			if (s->workers[i].running) {
				pthread_join(s->workers[i].thread, NULL);
				s->workers[i].running = false;
			}
		}
		nng_close(s->sock);
	}
	pthread_mutex_unlock(&s->stop_lock);
}

void
net_server_free(struct net_server *s)
{
	if (s == NULL) {
		return;
	}
	net_server_stop(s);
	for (unsigned i = 0; i < s->nworkers; i++) {
		/* The socket's close already closed the contexts; only the
		 * aios (never in use once the threads are joined) remain. */
		if (s->workers[i].aio != NULL) {
			nng_aio_free(s->workers[i].aio);
		}
	}
	/* nng_close ran every pipe callback to its end. */
	net_conns_fini(&s->conns);
	pthread_mutex_destroy(&s->stop_lock);
	pthread_mutex_destroy(&s->reaper_lock);
	pthread_cond_destroy(&s->reaper_cv);
	free(s->workers);
	free(s);
}
