/*
 * referee/writer.c - group commit: the one thread that changes the
 * referee's state.
 *
 * Worker threads decode and verify requests in parallel (serve.c) and
 * queue the ones that change state here. The writer takes what is queued
 * (up to REFEREE_WRITER_BATCH, in arrival order), applies each request in its
 * own savepoint of ONE transaction, commits, and only then wakes the
 * workers, which send the replies and publish the events. So:
 *  - a reply leaves only after the COMMIT that holds its request
 *    returned: an acknowledged request survives a kill -9 of the referee
 *    (WAL, synchronous=NORMAL: the commit is in the log file before
 *    COMMIT returns; only an OS crash or power loss can lose the last
 *    commits, as with one transaction per request);
 *  - a request that is refused (or fails) rolls back to its savepoint and
 *    changes nothing but its sequence number; the others of its batch
 *    still commit;
 *  - when the transaction itself is lost (COMMIT fails: a full disk, an
 *    I/O error), every request of the batch gets an error and none was
 *    applied: the client retries with the same bytes.
 * The group forms by itself: requests that arrive while a batch is being
 * applied make the next one; none waits for a timer. FIFO order means a
 * flood of one kind delays the others by at most a batch, never starves
 * them. One transaction for many requests writes each changed page to
 * the log once per batch instead of once per request, and the store lock
 * is taken once per batch instead of by every worker in turn.
 */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "referee/referee_int.h"

static void
error_reply(struct request *q, uint32_t code, const char *text)
{
	referee_req_refuse(q, code, "%s", text);
}

static int
record_seq(struct request *q)
{
	struct proto_digest h;
	proto_hash(PROTO_HASH_BLAKE2B, q->raw, q->raw_len, &h);
	return referee_db_run(q->r, "UPDATE accounts SET last_seq = ?2, "
	    "last_req = ?3, last_reply = ?4 WHERE key = ?1", "kibb",
	    &q->env->sender, (int64_t)q->env->seq, h.b, (size_t)32, q->out,
	    q->out_len);
}

/* A request whose sequence number is not above the sender's last: the
 * last request again (a client retrying after a lost reply) gets the
 * recorded reply; anything else is a replay. */
static int
retry_or_replay(struct request *q)
{
	struct referee *r = q->r;
	sqlite3_stmt *st;
	struct proto_digest h;
	proto_hash(PROTO_HASH_BLAKE2B, q->raw, q->raw_len, &h);
	int err = referee_db_query(r, &st, "SELECT last_reply FROM accounts "
	    "WHERE key = ?1 AND last_seq = ?2 AND last_req = ?3", "kib",
	    &q->env->sender, (int64_t)q->env->seq, h.b, (size_t)32);
	if (err != RF_OK) {
		return err;
	}
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) > 0) {
		size_t n = (size_t)sqlite3_column_bytes(st, 0);
		uint8_t *copy = malloc(n);
		if (copy != NULL) {
			memcpy(copy, sqlite3_column_blob(st, 0), n);
		}
		referee_db_done(r, st);
		if (copy == NULL) {
			return RF_ERR_NOMEM;
		}
		/* Not a refusal of this request (a refusal recorded then was
		 * counted then): out_type only tells the worker which it was,
		 * the recorded bytes are what goes out. */
		free(q->out);
		q->out = copy;
		q->out_len = n;
		q->out_err = RF_OK;
		q->out_type = PROTO_MSG_ACK;
		char k[13];
		node_short_hex(q->env->sender.b, k);
		log_info_limited("retry of %s from %s: the recorded reply sent "
		    "again", proto_msg_type_name(q->env->type), k);
		return RF_OK;
	}
	referee_db_done(r, st);
	error_reply(q, PROTO_ERR_REPLAY, "sequence number is not above the "
	    "last one accepted");
	return RF_OK;
}

/*
 * Applies one request inside the batch's transaction. RF_OK: q->out holds
 * the reply (an ACK, or an ERROR when refused: then only the sequence
 * number was recorded) and q->events its events. Otherwise an internal
 * error: the request changed nothing (rolled back to its savepoint),
 * its reply and events are dropped.
 */
static int
apply_one(struct request *q)
{
	struct referee *r = q->r;
	struct account a;
	int err = referee_ledger_account(r, &q->env->sender, &a);
	if (err != RF_OK) {
		return err;
	}
	if (!a.exists && q->env->type != PROTO_MSG_NODE_REGISTER) {
		error_reply(q, PROTO_ERR_UNKNOWN, "unknown sender: register first");
		return RF_OK;
	}
	if (a.exists && q->env->seq <= a.last_seq) {
		return retry_or_replay(q);
	}
	err = referee_db_run(r, "SAVEPOINT request", "");
	if (err != RF_OK) {
		return err;
	}
	err = referee_handle_request(q);
	if (err == RF_ERR_REFUSED) {
		referee_outbox_free(&q->events);
		err = referee_db_run(r, "ROLLBACK TO request", "");
	}
	if (err == RF_OK) {
		err = q->out_err != RF_OK ? q->out_err :
		    q->out == NULL ? RF_ERR_INVAL : RF_OK; /* no reply set */
	}
	if (err == RF_OK && !a.exists) {
		/* A refused registration leaves no account to record in; an
		 * account that existed before still does (none is deleted). */
		err = referee_ledger_account(r, &q->env->sender, &a);
	}
	if (err == RF_OK && a.exists) {
		err = record_seq(q);
	}
	if (err == RF_OK) {
		err = referee_db_run(r, "RELEASE request", "");
	}
	if (err != RF_OK) {
		/* Fails harmlessly when the transaction is already gone: the
		 * batch sees that and fails whole. */
		(void)referee_db_run(r, "ROLLBACK TO request", "");
		(void)referee_db_run(r, "RELEASE request", "");
		free(q->out);
		q->out = NULL;
		referee_outbox_free(&q->events);
		return err;
	}
	return RF_OK;
}

/* Drops what a request of a failed batch had: nothing of it was
 * committed. */
static void
fail_request(struct request *q, int err)
{
	if (q->status == RF_OK) {
		q->status = err;
	}
	free(q->out);
	q->out = NULL;
	q->out_len = 0;
	referee_outbox_free(&q->events);
}

void
referee_writer_batch(struct referee *r, struct request **b, size_t n)
{
	int err = RF_OK;
	bool open = false;
	bool halted[REFEREE_WRITER_BATCH] = { false };
	for (size_t i = 0; i < n; i++) {
		struct request *q = b[i];
		if (referee_halted(r)) {
			halted[i] = true;
			/* No state changes at all: no transaction either. */
			error_reply(q, PROTO_ERR_HALTED, "the referee's ledger failed "
			    "its integrity check: requests that change state are "
			    "refused until an operator repairs it (queries still "
			    "work)");
			continue;
		}
		if (!open) {
			err = store_begin(r->db, NULL);
			if (err != RF_OK) {
				break;
			}
			open = true;
		}
		q->status = apply_one(q);
		if (q->status != RF_OK &&
		    sqlite3_get_autocommit(store_db(r->db))) {
			/* SQLite rolled the whole transaction back (a full disk,
			 * an I/O error): the requests before this one are lost
			 * with it, and the rest are not tried. */
			err = q->status;
			break;
		}
	}
	if (open && err == RF_OK) {
		err = store_commit(r->db, NULL);
	} else if (open) {
		store_rollback(r->db);
	}
	if (err != RF_OK) {
		/* Refusals of this batch too: their sequence numbers were
		 * not recorded either. */
		for (size_t i = 0; i < n; i++) {
			if (!halted[i]) {
				fail_request(b[i], err);
			}
		}
	}
}

static void *
writer_main(void *arg)
{
	struct referee *r = arg;
	struct referee_writer *w = &r->writer;
	struct request *batch[REFEREE_WRITER_BATCH];
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (w->head == NULL && !w->stop) {
			pthread_cond_wait(&w->work, &w->lock);
		}
		if (w->head == NULL) {
			break; /* stopping, and nothing left */
		}
		size_t n = 0;
		while (w->head != NULL && n < REFEREE_WRITER_BATCH) {
			batch[n++] = w->head;
			w->head = w->head->next;
		}
		if (w->head == NULL) {
			w->tail = NULL;
		}
		pthread_mutex_unlock(&w->lock);
		referee_writer_batch(r, batch, n);
		for (size_t i = 0; i < n; i++) {
			sem_post(&batch[i]->done);
		}
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int
referee_writer_start(struct referee *r)
{
	struct referee_writer *w = &r->writer;
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->work, NULL);
	if (pthread_create(&w->thread, NULL, writer_main, r) != 0) {
		pthread_cond_destroy(&w->work);
		pthread_mutex_destroy(&w->lock);
		return RF_ERR_NOMEM;
	}
	w->started = true;
	return RF_OK;
}

void
referee_writer_stop(struct referee *r)
{
	struct referee_writer *w = &r->writer;
	if (!w->started) {
		return;
	}
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->work);
	pthread_mutex_destroy(&w->lock);
	w->started = false;
}

int
referee_writer_apply(struct request *q)
{
	struct referee_writer *w = &q->r->writer;
	if (sem_init(&q->done, 0, 0) != 0) {
		return RF_ERR_NOMEM;
	}
	q->status = RF_OK;
	q->next = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->tail != NULL) {
		w->tail->next = q;
	} else {
		w->head = q;
	}
	w->tail = q;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->lock);
	while (sem_wait(&q->done) != 0) {
		/* EINTR: a signal handler ran; the batch is still ours */
	}
	sem_destroy(&q->done);
	return q->status;
}
