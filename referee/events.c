/*
 * referee/events.c - the event log. Every event is signed by the referee,
 * stored with its sequence number in the same transaction as the change it
 * reports, and published on the PUB socket only after that transaction
 * commits. Subscribers treat published events as hints and catch up with
 * EVENTS_FETCH from the last sequence number they processed.
 */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "referee/referee_int.h"

int
referee_event_emit(struct request *q, enum proto_event_kind kind,
    const struct proto_digest *job, const struct proto_digest *dispute,
    const struct proto_pubkey *subject, uint64_t value)
{
	struct referee *r = q->r;
	if (q->events.n >= OUTBOX_LIMIT) {
		return RF_ERR_RANGE;
	}
	int64_t last = 0;
	sqlite3_stmt *st;
	int err = referee_db_query(r, &st, "SELECT coalesce(max(seq), 0) FROM events",
	    "");
	if (err != RF_OK) {
		return err;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		last = sqlite3_column_int64(st, 0);
	}
	referee_db_done(r, st);

	struct proto_event m;
	memset(&m, 0, sizeof(m));
	struct proto_event *e = &m;
	e->seq = (uint64_t)last + 1;
	e->kind = (uint8_t)kind;
	if (job != NULL) {
		e->job_id = *job;
	}
	if (dispute != NULL) {
		e->dispute_id = *dispute;
	}
	if (subject != NULL) {
		e->subject = *subject;
	}
	e->value = value;
	e->time_ms = q->now_ms;
	uint8_t *buf;
	size_t len;
	err = referee_encode(r, PROTO_MSG_EVENT, &m, &buf, &len);
	if (err != RF_OK) {
		return err;
	}
	err = referee_db_run(r, "INSERT INTO events (seq, body, created_ms) "
	    "VALUES (?1, ?2, ?3)", "ibi", (int64_t)e->seq, buf, len,
	    (int64_t)q->now_ms);
	if (err != RF_OK) {
		free(buf);
		return err;
	}
	err = referee_outbox_push(&q->events, buf, len);
	if (err != RF_OK) {
		free(buf);
	}
	return err;
}

int
referee_outbox_push(struct outbox *o, uint8_t *msg, size_t len)
{
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 8;
		if (o->n >= OUTBOX_LIMIT) {
			return RF_ERR_RANGE;
		}
		uint8_t **nm = realloc(o->msg, cap * sizeof(*nm));
		if (nm == NULL) {
			return RF_ERR_NOMEM;
		}
		o->msg = nm;
		size_t *nl = realloc(o->len, cap * sizeof(*nl));
		if (nl == NULL) {
			return RF_ERR_NOMEM;
		}
		o->len = nl;
		o->cap = cap;
	}
	o->msg[o->n] = msg;
	o->len[o->n] = len;
	o->n++;
	return RF_OK;
}

void
referee_outbox_flush(struct referee *r, struct outbox *o)
{
	for (size_t i = 0; i < o->n; i++) {
		if (r->pub != NULL &&
		    net_pub_send(r->pub, o->msg[i], o->len[i]) != RF_OK) {
			/* Subscribers catch up by request; a lost hint is fine. */
			log_warn("event publish failed; subscribers will fetch it");
		}
	}
	referee_outbox_free(o);
}

void
referee_outbox_free(struct outbox *o)
{
	for (size_t i = 0; i < o->n; i++) {
		free(o->msg[i]);
	}
	free(o->msg);
	free(o->len);
	memset(o, 0, sizeof(*o));
}

int
referee_txn_end(struct referee *r, struct outbox *o, int err)
{
	if (err != RF_OK) {
		store_rollback(r->db);
		referee_outbox_free(o);
		return err;
	}
	err = store_commit(r->db, NULL);
	if (err != RF_OK) {
		referee_outbox_free(o);
		return err;
	}
	referee_outbox_flush(r, o);
	return RF_OK;
}
