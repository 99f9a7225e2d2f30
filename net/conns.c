/*
 * net/conns.c - the connections of one listening socket: a cap on how
 * many are open at once, and closing those that hold a partly received
 * message (or nothing) for too long. NNG 1.5.2 can neither limit
 * connections nor time out a partial message, but it tells us about each
 * pipe (nng_pipe_notify) and which pipe a message came from, and lets us
 * close a pipe: that is enough to do both here.
 */
#include "net/net_int.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"

int
net_conns_init(struct net_conns *c, const char *what, unsigned max)
{
	memset(c, 0, sizeof(*c));
	c->slots = calloc(max, sizeof(*c->slots));
	if (c->slots == NULL) {
		return RF_ERR_NOMEM;
	}
	c->max = max;
	c->what = what;
	pthread_mutex_init(&c->lock, NULL);
	return RF_OK;
}

void
net_conns_fini(struct net_conns *c)
{
	if (c->slots == NULL) {
		return;
	}
	pthread_mutex_destroy(&c->lock);
	free(c->slots);
	c->slots = NULL;
}

/* Runs on NNG's threads, for every pipe of the socket. */
static void
on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct net_conns *c = arg;
	uint32_t id = (uint32_t)nng_pipe_id(p);
	pthread_mutex_lock(&c->lock);
	if (ev == NNG_PIPE_EV_ADD_PRE) {
		for (unsigned i = 0; i < c->max; i++) {
			if (c->slots[i].id == 0) {
				c->slots[i].id = id;
				c->slots[i].pipe = p;
				c->slots[i].last_ms = net_now_ms();
				c->n++;
				pthread_mutex_unlock(&c->lock);
				return;
			}
		}
		c->refused++;
		pthread_mutex_unlock(&c->lock);
		/* Closed before the socket adds it: the peer is cut off before
		 * it can send a byte of a message, and NNG sends us no other
		 * event for it that we would need. */
		log_warn_limited("net: %s: %u connections open, the limit: "
		    "refused one", c->what, c->max);
		nng_pipe_close(p);
		return;
	}
	if (ev == NNG_PIPE_EV_REM_POST) {
		for (unsigned i = 0; i < c->max; i++) {
			if (c->slots[i].id == id) {
				memset(&c->slots[i], 0, sizeof(c->slots[i]));
				c->n--;
				break;
			}
		}
	}
	pthread_mutex_unlock(&c->lock);
}

int
net_conns_attach(struct net_conns *c, nng_socket sock)
{
	int rv = nng_pipe_notify(sock, NNG_PIPE_EV_ADD_PRE, on_pipe, c);
	if (rv == 0) {
		rv = nng_pipe_notify(sock, NNG_PIPE_EV_REM_POST, on_pipe, c);
	}
	return rv;
}

void
net_conns_touch(struct net_conns *c, nng_pipe p)
{
	uint32_t id = (uint32_t)nng_pipe_id(p);
	if (id == 0 || c->slots == NULL) {
		return;
	}
	uint64_t now = net_now_ms();
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < c->max; i++) {
		if (c->slots[i].id == id) {
			c->slots[i].last_ms = now;
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
}

unsigned
net_conns_reap(struct net_conns *c, unsigned idle_ms)
{
	nng_pipe *stale = calloc(c->max, sizeof(*stale));
	if (stale == NULL) {
		return 0;
	}
	unsigned n = 0;
	uint64_t now = net_now_ms();
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < c->max; i++) {
		if (c->slots[i].id != 0 && now - c->slots[i].last_ms >= idle_ms) {
			stale[n++] = c->slots[i].pipe;
			/* Not again while its close is under way. */
			c->slots[i].last_ms = now;
		}
	}
	c->reaped += n;
	pthread_mutex_unlock(&c->lock);
	/* Outside the lock: closing runs our REM_POST callback, which may
	 * take it on this very thread. */
	for (unsigned i = 0; i < n; i++) {
		nng_pipe_close(stale[i]);
	}
	if (n > 0) {
		log_info_limited("net: %s: closed %u connection(s) with no "
		    "complete message for %u ms (stalled or idle)", c->what, n,
		    idle_ms);
	}
	free(stale);
	return n;
}

void
net_conns_stats(struct net_conns *c, unsigned *open, uint64_t *refused,
    uint64_t *reaped)
{
	pthread_mutex_lock(&c->lock);
	*open = c->n;
	*refused = c->refused;
	*reaped = c->reaped;
	pthread_mutex_unlock(&c->lock);
}
