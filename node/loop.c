/*
 * node/loop.c - the event loop every node runs (node.h says what it
 * promises). The one subtle part is the cursor: the loop reads the log
 * from the last event it handled or set aside, but persists only up to
 * just before the oldest event still set aside, so a restart hands that
 * event to the role again instead of losing it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "node/node.h"

static const char *
kind_name(uint8_t kind)
{
	switch (kind) {
	case PROTO_EVENT_JOB_ASSIGNED:
		return "job_assigned";
	case PROTO_EVENT_CLAIM_POSTED:
		return "claim_posted";
	case PROTO_EVENT_CLAIM_FINAL:
		return "claim_final";
	case PROTO_EVENT_CLAIM_INVALID:
		return "claim_invalid";
	case PROTO_EVENT_DISPUTE_OPENED:
		return "dispute_opened";
	case PROTO_EVENT_DISPUTE_CLOSED:
		return "dispute_closed";
	case PROTO_EVENT_NODE_SLASHED:
		return "node_slashed";
	case PROTO_EVENT_DISPUTE_MOVE:
		return "dispute_move";
	}
	return "event";
}

/* The referee is unreachable (not this event's fault): the events behind
 * would fail the same way, so the batch stops there. */
static bool
link_error(int err)
{
	return err == RF_ERR_TIMEOUT || err == RF_ERR_NET ||
	    err == RF_ERR_CLOSED;
}

void
node_loop_init(struct node_loop *l, const struct node_loop_ops *ops,
    void *ctx, struct node_events *events, uint64_t cursor,
    volatile sig_atomic_t *stop)
{
	memset(l, 0, sizeof(*l));
	l->ops = ops;
	l->ctx = ctx;
	l->events = events;
	l->stop = stop;
	l->cursor = cursor;
	l->saved = cursor;
	l->wait_ms = NODE_LOOP_WAIT_MS;
	l->max_attempts = NODE_LOOP_MAX_ATTEMPTS;
	l->retry_ms = NODE_LOOP_RETRY_MS;
	l->retry_max_ms = NODE_LOOP_RETRY_MAX_MS;
	l->clock = node_mono_ms;
}

static bool
stopping(const struct node_loop *l)
{
	return l->stop != NULL && *l->stop;
}

uint64_t
node_loop_durable(const struct node_loop *l, uint64_t seq)
{
	if (l->n_pending > 0 && l->pending[0].ev.seq - 1 < seq) {
		return l->pending[0].ev.seq - 1;
	}
	return seq;
}

static void
persist(struct node_loop *l)
{
	uint64_t c = node_loop_durable(l, l->cursor);
	if (c <= l->saved) {
		return;
	}
	int err = RF_OK;
	if (l->ops->save != NULL) {
		err = l->ops->save(l->ctx, c);
	} else if (l->db != NULL) {
		err = node_cursor_store(l->db, c);
	}
	if (err != RF_OK) {
		log_warn("cannot store the event cursor (%llu): will try again",
		    (unsigned long long)c);
		return;
	}
	l->saved = c;
}

static void
advance(struct node_loop *l, uint64_t seq)
{
	if (seq > l->cursor) {
		l->cursor = seq;
	}
	if (l->events != NULL) {
		node_events_done(l->events, seq);
	}
}

static uint64_t
backoff(const struct node_loop *l, uint32_t attempts)
{
	uint64_t d = l->retry_ms;
	for (uint32_t i = 1; i < attempts && d < l->retry_max_ms; i++) {
		d *= 2;
	}
	return d < l->retry_max_ms ? d : l->retry_max_ms;
}

/* After a failed attempt: schedules the next or gives the event up.
 * Returns true when it stays set aside. */
static bool
failed(struct node_loop *l, struct node_pending *p, int err,
    const struct rf_errinfo *ei)
{
	const char *why = ei->msg[0] ? ei->msg : rf_strerror(err);
	size_t n = strnlen(why, sizeof(p->why) - 1);
	memcpy(p->why, why, n);
	p->why[n] = '\0';
	if (p->attempts >= l->max_attempts) {
		l->n_given_up++;
		if (l->m_given_up != NULL) {
			net_counter_inc(l->m_given_up);
		}
		log_error("event %llu (%s): given up after %u attempts: %s",
		    (unsigned long long)p->ev.seq, kind_name(p->ev.kind),
		    p->attempts, p->why);
		return false;
	}
	uint64_t d = backoff(l, p->attempts);
	p->due_ms = l->clock() + d;
	log_warn("event %llu (%s) failed, attempt %u of %u (%s): retrying in "
	    "%llu ms", (unsigned long long)p->ev.seq, kind_name(p->ev.kind),
	    p->attempts, l->max_attempts, p->why, (unsigned long long)d);
	return true;
}

void
node_loop_batch(struct node_loop *l, const struct proto_events *ev)
{
	for (uint32_t i = 0; i < ev->n && !stopping(l); i++) {
		const struct proto_event *e = &ev->events[i];
		if (e->seq <= l->cursor) {
			continue; /* handled or set aside already */
		}
		struct rf_errinfo ei = { "" };
		int err = l->ops->handle(l->ctx, e, &ei);
		if (err == RF_OK) {
			l->n_handled++;
			advance(l, e->seq);
			continue;
		}
		if (l->n_pending == NODE_LOOP_PENDING_MAX) {
			/* Too many set aside: stop here; this event is read
			 * again once some of them are done or given up. */
			log_warn("event %llu (%s) failed (%s) with %d events "
			    "already waiting for a retry: reading the log again "
			    "from it later", (unsigned long long)e->seq,
			    kind_name(e->kind), ei.msg[0] ? ei.msg :
			    rf_strerror(err), NODE_LOOP_PENDING_MAX);
			break;
		}
		struct node_pending *p = &l->pending[l->n_pending];
		memset(p, 0, sizeof(*p));
		p->ev = *e;
		p->attempts = 1;
		if (failed(l, p, err, &ei)) {
			l->n_pending++;
		}
		advance(l, e->seq);
		if (link_error(err)) {
			break;
		}
	}
	persist(l);
}

void
node_loop_retry(struct node_loop *l)
{
	size_t i = 0;
	while (i < l->n_pending && !stopping(l)) {
		struct node_pending *p = &l->pending[i];
		if (p->due_ms > l->clock()) {
			i++;
			continue;
		}
		p->attempts++;
		l->n_retried++;
		if (l->m_retries != NULL) {
			net_counter_inc(l->m_retries);
		}
		struct rf_errinfo ei = { "" };
		int err = l->ops->handle(l->ctx, &p->ev, &ei);
		bool keep = false;
		if (err == RF_OK) {
			l->n_handled++;
			log_info("event %llu (%s) handled at attempt %u",
			    (unsigned long long)p->ev.seq, kind_name(p->ev.kind),
			    p->attempts);
		} else {
			keep = failed(l, p, err, &ei);
		}
		if (keep) {
			i++;
		} else {
			/* Kept in seq order: pending[0] is the oldest. */
			memmove(&l->pending[i], &l->pending[i + 1],
			    (l->n_pending - i - 1) * sizeof(l->pending[0]));
			l->n_pending--;
		}
		if (err != RF_OK && link_error(err)) {
			break;
		}
	}
	persist(l);
}

/* Reads the next events from the referee's log. */
static int
fetch(struct node_loop *l, struct proto_events *out, struct rf_errinfo *ei)
{
	if (l->ops->fetch != NULL) {
		return l->ops->fetch(l->ctx, l->cursor, l->wait_ms, out, ei);
	}
	l->events->cursor = l->cursor;
	return node_events_next(l->events, l->wait_ms, out, ei);
}

/* The node's gauges, from its database, at most once a second. */
static void
gauges(struct node_loop *l)
{
	uint64_t now = l->clock();
	if (l->n_gauges == 0 || l->db == NULL ||
	    (l->gauges_ms != 0 && now - l->gauges_ms < NODE_GAUGE_MS)) {
		return;
	}
	l->gauges_ms = now;
	for (size_t i = 0; i < l->n_gauges; i++) {
		int64_t v = 0;
		bool found;
		store_lock(l->db);
		int err = store_query_int(l->db, l->gauges[i].sql, &v, &found,
		    NULL);
		store_unlock(l->db);
		if (err == RF_OK) {
			net_gauge_set(l->gauges[i].g, (double)v);
		}
	}
}

int
node_loop_run(struct node_loop *l)
{
	while (!stopping(l)) {
		gauges(l);
		if (l->ops->tick != NULL) {
			l->ops->tick(l->ctx);
		}
		if (stopping(l)) {
			break;
		}
		struct proto_events ev = { 0, NULL };
		struct rf_errinfo ei = { "" };
		int err = fetch(l, &ev, &ei);
		if (err == RF_OK) {
			node_loop_batch(l, &ev);
			free(ev.events);
			/* Only now: the referee answers, so a retry is not
			 * spent on an outage. */
			node_loop_retry(l);
		} else if (err == RF_ERR_CLOSED) {
			break;
		} else {
			log_warn("cannot read events: %s", ei.msg[0] ? ei.msg :
			    rf_strerror(err));
			node_sleep_ms(500, l->stop);
		}
	}
	persist(l);
	return RF_OK;
}
