/*
 * net/net.h - the only door to NNG for Refute's nodes: a request/reply
 * server with worker threads, a request client, publish/subscribe, and
 * Prometheus metrics over NNG's HTTP server.
 *
 * Everything here speaks in RF_ERR_* codes with one line of detail in a
 * struct rf_errinfo; NNG's own codes never leave net/ (the NNG text is
 * logged at debug level where it is translated). Messages are plain byte
 * buffers: a reply or a received event is malloc'd and handed to the
 * caller, who frees it with free(). Nothing in this header blocks forever
 * unless asked to with a negative timeout.
 *
 * URLs are NNG's: "tcp://127.0.0.1:7000", "tcp://127.0.0.1:0" (a free
 * port, read it back with net_server_port or net_pub_port),
 * "ipc:///tmp/rf/referee.sock" (at most about 107 bytes of path, or
 * RF_ERR_INVAL), "inproc://name" within one process.
 *
 * Codes common to all calls: RF_ERR_INVAL (bad argument or URL),
 * RF_ERR_NOMEM, RF_ERR_TIMEOUT (no answer in time), RF_ERR_CLOSED (the
 * object was shut down), RF_ERR_NET (anything else the network did: a
 * refused or reset connection, an address in use, ...).
 */
#ifndef RF_NET_H
#define RF_NET_H

#include <stddef.h>
#include <stdint.h>

#include "base/rf.h"

/* ---- Connection limits (process-wide) -------------------------------- */

/*
 * What one hostile peer can hold. NNG reads a frame's 8-byte length, then
 * allocates that much and waits for the body; memory is committed as the
 * bytes arrive, so a peer that sends most of a large request and stalls
 * keeps it, and NNG 1.5.2 has no timeout for a partly received message.
 * So every listening socket here:
 *  - refuses frames over its largest legitimate message (max_msg for a
 *    server; 1 byte for a publisher, whose subscribers never send);
 *  - accepts at most max_conns connections at once (more are closed as
 *    soon as they have connected, before they can send anything);
 *  - for a server, closes a connection on which no complete request
 *    arrived and no reply left for idle_ms: a stalled partial message,
 *    or an idle client (ours re-dial on their next call, transparently).
 * A server's memory for requests in flight is thus at most max_conns *
 * max_msg, and held for at most idle_ms by a peer that stops sending.
 */
#define NET_MAX_CONNS_DEFAULT 64
#define NET_IDLE_MS_DEFAULT 30000

struct net_limits {
	unsigned max_conns; /* 1..65536 */
	unsigned idle_ms;   /* 100.. */
};

/* Sets the limits for servers and publishers opened afterwards. Returns
 * RF_ERR_INVAL (nothing changed) for values outside the ranges above. */
int net_limits_set(const struct net_limits *l);
void net_limits_get(struct net_limits *out);

/* ---- Request/reply server ------------------------------------------- */

/*
 * Called by a worker thread for each request, with the request's bytes
 * (valid only during the call). It must always produce a reply: set
 * *reply to a malloc'd buffer of *reply_len bytes, which the server sends
 * and then frees, or leave *reply NULL (as it is on entry) to send an
 * empty reply. Handlers run concurrently on up to `workers` threads, so
 * ctx must be safe to share; a slow handler holds up only its own worker.
 * A handler must not call net_server_stop or net_server_free.
 */
typedef void (*net_handler_fn)(void *ctx, const uint8_t *req, size_t len,
    uint8_t **reply, size_t *reply_len);

struct net_server;

/*
 * Listens on url with a REP socket and starts `workers` threads (1..256),
 * each with its own NNG context, so up to `workers` requests are handled
 * at once.
 *
 * max_msg bounds a request's payload. NNG enforces it when reading the
 * frame: a peer that sends more has its connection closed by the server
 * and gets no reply. Our own client reports that as RF_ERR_NET
 * ("connection reset") at once, because it never resends; a REQ peer that
 * resends would reconnect, resend, be cut off again and finally time out.
 * The handler never sees an oversized request, and other connections are
 * not affected.
 *
 * Returns 0 and *out, or RF_ERR_INVAL (bad url, workers or max_msg),
 * RF_ERR_NET (address in use, ...), RF_ERR_NOMEM.
 */
int net_server_start(const char *url, unsigned workers, size_t max_msg,
    net_handler_fn fn, void *ctx, struct net_server **out,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));

/* The TCP port the server is bound to (useful after binding port 0), or
 * 0 for other transports. */
int net_server_port(const struct net_server *s);

/* Connections now open, refused at the limit, and closed for idling or
 * stalling, since the start. */
struct net_server_stats {
	unsigned open;
	uint64_t refused, reaped;
};
void net_server_stats(struct net_server *s, struct net_server_stats *out);

/*
 * Stops the workers, waiting for handlers still running to return (their
 * replies are not sent), then closes the socket: connected clients see
 * calls in flight fail with RF_ERR_NET and later ones time out.
 * Idempotent and safe to call from any thread but a handler, e.g. from the
 * main thread after a signal handler set a flag. NULL is ignored.
 */
void net_server_stop(struct net_server *s);

/* Stops the server if needed and frees it. NULL is ignored. */
void net_server_free(struct net_server *s);

/* ---- Request client ------------------------------------------------- */

struct net_client;

/*
 * Opens a REQ socket and dials url in the background: this succeeds when
 * nobody listens yet, and calls made before the server is up wait (within
 * their timeout) until it is. A lost connection is re-dialled after 50 ms,
 * backing off to 1 s. max_msg bounds a reply's payload (a larger reply
 * closes the connection and the call fails with RF_ERR_NET).
 *
 * NNG's REQ socket would resend a request that got no reply within a
 * minute, or at once after a reconnect. That is turned off here: our
 * requests are signed and carry sequence numbers, so a resent request is
 * indistinguishable from a replay and would be refused (or worse, applied
 * twice by a node that does not check). Whether to retry is the caller's
 * decision, made with a fresh sequence number.
 */
int net_client_open(const char *url, size_t max_msg, struct net_client **out,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));

/*
 * Sends one request and waits for its reply, at most timeout_ms in all
 * (negative: no limit). Thread-safe: each call uses its own NNG context,
 * so calls from several threads are in flight at once on one connection.
 * On success *reply is a malloc'd buffer (non-NULL even when *reply_len is
 * 0) that the caller frees with free(). Returns 0, RF_ERR_TIMEOUT (no
 * reply in time; the request may or may not have been processed),
 * RF_ERR_NET (the connection dropped with the request outstanding; the
 * same uncertainty), RF_ERR_CLOSED, RF_ERR_NOMEM, RF_ERR_INVAL.
 */
int net_client_call(struct net_client *c, const uint8_t *req, size_t len,
    uint8_t **reply, size_t *reply_len, int timeout_ms,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));

/* Closes and frees the client; no call may be in progress. NULL is
 * ignored. */
void net_client_close(struct net_client *c);

/* ---- Publish/subscribe ---------------------------------------------- */

/*
 * Events are hints, never the only copy of a fact: a subscriber misses
 * everything published before its connection is up (NNG's "slow joiner"),
 * and one that falls behind by more than the publisher's per-subscriber
 * queue (NET_PUB_QUEUE) plus its own (NET_SUB_QUEUE) loses the oldest
 * events (both NNG queues drop old messages to make room). State must
 * also be fetchable by request.
 */
#define NET_PUB_QUEUE 1024
#define NET_SUB_QUEUE 1024

struct net_pub;
struct net_sub;

/* Listens on url with a PUB socket. */
int net_pub_open(const char *url, struct net_pub **out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

/* The bound TCP port, or 0 for other transports. */
int net_pub_port(const struct net_pub *p);

/*
 * Publishes a copy of buf to every connected subscriber. Never blocks:
 * a subscriber that cannot keep up misses it. Thread-safe. Returns 0,
 * RF_ERR_NOMEM or RF_ERR_CLOSED.
 */
int net_pub_send(struct net_pub *p, const uint8_t *buf, size_t len);

/* Closes and frees the publisher. NULL is ignored. */
void net_pub_close(struct net_pub *p);

/*
 * Dials url with a SUB socket in the background (fine before the
 * publisher is up) and subscribes to everything. Events larger than
 * max_msg are dropped with the connection, which is then re-dialled.
 */
int net_sub_open(const char *url, size_t max_msg, struct net_sub **out,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));

/*
 * Waits up to timeout_ms (negative: no limit) for the next event. On
 * success *buf is malloc'd (the caller frees it) and *len its size.
 * Returns 0, RF_ERR_TIMEOUT, RF_ERR_CLOSED (after net_sub_shutdown) or
 * RF_ERR_NOMEM. Several threads may receive at once; each event goes to
 * one of them.
 */
int net_sub_recv(struct net_sub *s, uint8_t **buf, size_t *len,
    int timeout_ms);

/*
 * Closes the socket without freeing: receivers blocked in net_sub_recv
 * return RF_ERR_CLOSED at once, and so do later calls. This is how another
 * thread wakes a receiver for shutdown; join it, then net_sub_close.
 */
void net_sub_shutdown(struct net_sub *s);

/* Closes and frees the subscriber; no call may be in progress. NULL is
 * ignored. */
void net_sub_close(struct net_sub *s);

/* ---- Metrics (Prometheus text exposition format 0.0.4) --------------- */

/*
 * A registry of at most NET_METRICS_MAX series. Registration takes a lock
 * and returns a handle; updating through a handle is a lock-free atomic
 * operation, cheap enough for every request. Registering the same name
 * and labels again returns the same handle. On any registration problem
 * (full registry, invalid name, the name already used with another type
 * or help, NULL registry) the result is NULL, and every update function
 * accepts NULL as a no-op, so instrumenting code needs no error paths.
 *
 * Names are [a-zA-Z_:][a-zA-Z0-9_:]* and get the registry's prefix and an
 * underscore in front ("refute_referee" + "claims_total"). labels is NULL
 * or the inside of the braces, already formatted and escaped by the
 * caller: `kind="claim",result="ok"`. Series that share a name are
 * rendered together under one HELP and TYPE line, in registration order.
 */
#define NET_METRICS_MAX 128
#define NET_METRICS_FAMILIES_MAX 8
#define NET_HISTOGRAM_MAX_BUCKETS 16

struct net_metrics;
struct net_counter;
struct net_gauge;
struct net_histogram;

/* prefix may be NULL or "" for none. NULL on allocation failure or an
 * invalid prefix. */
struct net_metrics *net_metrics_alloc(const char *prefix);

/* Drops the caller's reference; the registry is freed when a metrics HTTP
 * server that still renders it has been released too. NULL is ignored.
 * Handles must not be used afterwards. */
void net_metrics_free(struct net_metrics *m);

struct net_counter *net_metrics_counter(struct net_metrics *m,
    const char *name, const char *labels, const char *help);
struct net_gauge *net_metrics_gauge(struct net_metrics *m, const char *name,
    const char *labels, const char *help);
/*
 * bounds are the buckets' upper limits, strictly increasing, at most
 * NET_HISTOGRAM_MAX_BUCKETS of them (the +Inf bucket is implicit); NULL
 * with n = 0 gives NET_LATENCY_BUCKETS, meant for latencies in seconds.
 */
struct net_histogram *net_metrics_histogram(struct net_metrics *m,
    const char *name, const char *labels, const char *help,
    const double *bounds, size_t n);

/* 0.0005 0.001 0.0025 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 */
#define NET_LATENCY_BUCKETS 14

/*
 * A gauge family whose series come and go (one per open dispute): name
 * (prefixed as above) with one series per values[i], labelled
 * label="values[i]" (escaped here), set to v[i]. Each call replaces the
 * family's whole set, so a series not given again is gone from the next
 * render; n = 0 leaves only its HELP and TYPE lines. Rendered after the
 * registered series. RF_ERR_INVAL for a bad name or label, RF_ERR_FULL
 * when NET_METRICS_FAMILIES_MAX families exist or the name is a
 * registered series', RF_ERR_NOMEM.
 */
int net_metrics_gauge_family(struct net_metrics *m, const char *name,
    const char *help, const char *label, const char *const *values,
    const double *v, size_t n);

void net_counter_inc(struct net_counter *c);
void net_counter_add(struct net_counter *c, uint64_t delta);
void net_gauge_set(struct net_gauge *g, double v);
void net_gauge_add(struct net_gauge *g, double delta);
void net_histogram_observe(struct net_histogram *h, double v);

/*
 * Renders every series as Prometheus text format 0.0.4 into a malloc'd,
 * NUL-terminated buffer (*len excludes the NUL). Counters are exact;
 * a histogram's _count is the sum of its buckets at the moment they were
 * read, and its _sum may lag by observations made during rendering.
 */
int net_metrics_render(struct net_metrics *m, char **out, size_t *len)
    __attribute__((warn_unused_result));

struct net_http;

/*
 * Serves GET /metrics (Content-Type "text/plain; version=0.0.4") and
 * GET / (a line pointing to /metrics) over NNG's HTTP server on addr:
 * "127.0.0.1:9100", "http://127.0.0.1:9100", or port 0 for a free port
 * (read it with net_http_port). Takes a reference on m. Two servers in one
 * process on the same host and non-zero port would share one listener in
 * NNG; the second is refused with RF_ERR_NET.
 */
int net_metrics_serve(struct net_metrics *m, const char *addr,
    struct net_http **out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

/* The bound TCP port. */
int net_http_port(const struct net_http *h);

/* Stops serving (open connections are cut) and frees h. NULL is
 * ignored. */
void net_http_stop(struct net_http *h);

/* ---- Process-wide --------------------------------------------------- */

/*
 * Releases NNG's global resources (threads, caches). Only for the very end
 * of a process, after every net object is closed and with no other thread
 * using net: it makes leak checkers quiet. Not reentrant.
 */
void net_fini(void);

#endif /* RF_NET_H */
