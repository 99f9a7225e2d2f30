/*
 * net/net.c - what the rest of net/ shares: translating NNG's error codes
 * (in this one place), copying messages out, common socket options, and
 * shutting NNG down at exit.
 */
#include "net/net_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"

static pthread_mutex_t limits_lock = PTHREAD_MUTEX_INITIALIZER;
static struct net_limits limits = { NET_MAX_CONNS_DEFAULT,
	NET_IDLE_MS_DEFAULT };

int
net_limits_set(const struct net_limits *l)
{
	if (l == NULL || l->max_conns < 1 || l->max_conns > 65536 ||
	    l->idle_ms < 100) {
		return RF_ERR_INVAL;
	}
	pthread_mutex_lock(&limits_lock);
	limits = *l;
	pthread_mutex_unlock(&limits_lock);
	return RF_OK;
}

void
net_limits_get(struct net_limits *out)
{
	net_limits_current(out);
}

void
net_limits_current(struct net_limits *out)
{
	pthread_mutex_lock(&limits_lock);
	*out = limits;
	pthread_mutex_unlock(&limits_lock);
}

uint64_t
net_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const char *
net_nng_text(int nng_rv)
{
	/* nng_strerror formats system and transport errors into a static
	 * buffer, which two threads could overwrite at once; those two
	 * families get a fixed text here (the number is in the log). */
	if ((nng_rv & NNG_ESYSERR) != 0) {
		return "system error";
	}
	if ((nng_rv & NNG_ETRANERR) != 0) {
		return "transport error";
	}
	return nng_strerror(nng_rv);
}

int
net_err(int nng_rv, struct rf_errinfo *ei, const char *what)
{
	int err;
	switch (nng_rv) {
	case NNG_ETIMEDOUT:
		err = RF_ERR_TIMEOUT;
		break;
	case NNG_ECLOSED:
	case NNG_ECANCELED:
		err = RF_ERR_CLOSED;
		break;
	case NNG_ENOMEM:
		err = RF_ERR_NOMEM;
		break;
	case NNG_EINVAL:
	case NNG_EADDRINVAL:
		err = RF_ERR_INVAL;
		break;
	case NNG_ENOTSUP:
		err = RF_ERR_NOTSUP;
		break;
	case NNG_EMSGSIZE:
		err = RF_ERR_RANGE;
		break;
	default:
		err = RF_ERR_NET;
		break;
	}
	const char *text = net_nng_text(nng_rv);
	/* A timeout says nothing NNG's text would add to, and receivers
	 * that poll would fill the debug log with them. */
	if (nng_rv != NNG_ETIMEDOUT) {
		log_debug("net: %s: %s (nng error %d)", what, text, nng_rv);
	}
	return rf_errf(ei, err, "%s: %s", what, text);
}

int
net_listener_port(nng_listener l)
{
	int port = 0;
	if (nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port) != 0) {
		return 0; /* ipc and inproc have no port */
	}
	return port;
}

int
net_set_reconnect(nng_socket s)
{
	int rv;
	rv = nng_socket_set_ms(s, NNG_OPT_RECONNMINT, NET_RECONN_MIN_MS);
	if (rv == 0) {
		rv = nng_socket_set_ms(
		    s, NNG_OPT_RECONNMAXT, NET_RECONN_MAX_MS);
	}
	return rv;
}

int
net_msg_take(nng_msg *msg, uint8_t **buf, size_t *len)
{
	size_t n = nng_msg_len(msg);
	uint8_t *b = malloc(n > 0 ? n : 1);
	if (b == NULL) {
		nng_msg_free(msg);
		return RF_ERR_NOMEM;
	}
	if (n > 0) {
		memcpy(b, nng_msg_body(msg), n);
	}
	nng_msg_free(msg);
	*buf = b;
	*len = n;
	return RF_OK;
}

void
net_fini(void)
{
	nng_fini();
}
