/*
 * net/net_int.h - shared inside net/ only: NNG error translation and the
 * socket options every endpoint sets. Never include from outside net/.
 */
#ifndef RF_NET_INT_H
#define RF_NET_INT_H

#include <nng/nng.h>
#include <pthread.h>

#include "net/net.h"

/* Dialers retry quickly at first, so a node started just before its peer
 * connects within a blink, and back off to once a second. */
#define NET_RECONN_MIN_MS 50
#define NET_RECONN_MAX_MS 1000

/*
 * Room for the SP header on top of a payload limit: NNG_OPT_RECVMAXSZ
 * bounds the whole frame, and REQ/REP carry a 4-byte request id in it
 * (4 more per device hop, but we never put devices between nodes). So a
 * payload of exactly max_msg passes and one byte more is refused.
 */
#define NET_HEADER_ROOM 4

/*
 * Translates an NNG error code into an RF_ERR_* code, writes "what: NNG's
 * text" into ei and logs the same at debug level. The one place where
 * NNG_E* codes are mapped:
 *   NNG_ETIMEDOUT -> RF_ERR_TIMEOUT     NNG_ECLOSED, NNG_ECANCELED ->
 *   NNG_ENOMEM -> RF_ERR_NOMEM              RF_ERR_CLOSED
 *   NNG_EINVAL, NNG_EADDRINVAL -> RF_ERR_INVAL
 *   NNG_ENOTSUP -> RF_ERR_NOTSUP (an unknown URL scheme)
 *   NNG_EMSGSIZE -> RF_ERR_RANGE
 *   anything else -> RF_ERR_NET
 */
int net_err(int nng_rv, struct rf_errinfo *ei, const char *what);

/* A thread-safe text for an NNG code (nng_strerror formats some codes
 * into a static buffer). */
const char *net_nng_text(int nng_rv);

/* The bound TCP port of a listener, or 0 (not TCP, or not known). */
int net_listener_port(nng_listener l);

/* The open connections of a listening socket (net/conns.c). */
struct net_conn {
	uint32_t id; /* 0: free slot */
	nng_pipe pipe;
	uint64_t last_ms; /* connected, or last complete message either way */
};

struct net_conns {
	pthread_mutex_t lock;
	struct net_conn *slots;
	unsigned max, n;
	uint64_t refused, reaped;
	const char *what; /* for log lines: "server tcp://..." */
};

int net_conns_init(struct net_conns *c, const char *what, unsigned max);
/* Registers the pipe callbacks: from now on at most max pipes are open;
 * a pipe over the limit is closed as soon as it is connected. Before the
 * socket listens. Returns an NNG code. */
int net_conns_attach(struct net_conns *c, nng_socket sock);
/* A complete message came from, or went to, pipe p. */
void net_conns_touch(struct net_conns *c, nng_pipe p);
/* Closes the pipes without a complete message for idle_ms; how many. */
unsigned net_conns_reap(struct net_conns *c, unsigned idle_ms);
void net_conns_stats(struct net_conns *c, unsigned *open, uint64_t *refused,
    uint64_t *reaped);
/* After the socket is closed (NNG runs no callback after nng_close). */
void net_conns_fini(struct net_conns *c);

/* The limits in force (net.c). */
void net_limits_current(struct net_limits *out);
uint64_t net_now_ms(void);

/* Sets the reconnect interval options on a socket before it dials. */
int net_set_reconnect(nng_socket s);

/* Copies a received message's body into a malloc'd buffer (at least one
 * byte, so a zero-length result is still non-NULL) and frees the message.
 * Returns 0 or RF_ERR_NOMEM (the message is freed either way). */
int net_msg_take(nng_msg *msg, uint8_t **buf, size_t *len);

/* A reference on a metrics registry, held by the HTTP handler that renders
 * it: NNG tears its HTTP server down in a background thread, so a handler
 * may still run after net_http_stop returns. */
void net_metrics_retain(struct net_metrics *m);
void net_metrics_release(struct net_metrics *m);

#endif /* RF_NET_INT_H */
