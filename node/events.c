/* node/events.c - following the referee's event log without missing any. */
#include <stdlib.h>
#include <string.h>

#include "node/node.h"

int
node_events_open(struct node_events *ev, const char *url,
    struct node_rpc *rpc, uint64_t cursor, struct rf_errinfo *ei)
{
	memset(ev, 0, sizeof(*ev));
	ev->rpc = rpc;
	ev->cursor = cursor;
	return net_sub_open(url, PROTO_MAX_MESSAGE, &ev->sub, ei);
}

void
node_events_close(struct node_events *ev)
{
	net_sub_close(ev->sub);
	ev->sub = NULL;
}

int
node_events_next(struct node_events *ev, int wait_ms, struct proto_events *out,
    struct rf_errinfo *ei)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	/* A published event (or the wait running out) only says "look": the
	 * log fetched below is what counts. Drain what is queued. */
	int err = net_sub_recv(ev->sub, &buf, &len, wait_ms);
	while (err == RF_OK) {
		free(buf);
		buf = NULL;
		err = net_sub_recv(ev->sub, &buf, &len, 0);
	}
	if (err == RF_ERR_CLOSED) {
		return err;
	}
	struct proto_events_fetch req = {
		.after = ev->cursor,
		.max = PROTO_MAX_EVENTS,
	};
	return node_rpc_expect(ev->rpc, PROTO_MSG_EVENTS_FETCH, &req,
	    PROTO_MSG_EVENTS, out, sizeof(*out), ei);
}

void
node_events_done(struct node_events *ev, uint64_t seq)
{
	if (seq > ev->cursor) {
		ev->cursor = seq;
	}
}
