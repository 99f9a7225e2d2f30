/*
 * referee/timers.c - the referee's clock: finalises claims whose challenge
 * window has passed, ends open jobs whose deadline has passed (both by
 * chain/'s rules), and keeps the ledger gauge (and its invariant) in
 * view. Windows are stored as wall-clock deadlines, so a restarted
 * referee finalises whatever expired while it was down on its first tick.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "referee/referee_int.h"

#define TICK_MS 50
#define FULL_BACKOFF_MS 1000
/* Jobs per transaction: a few events each, well inside one outbox. */
#define BATCH OUTBOX_MAX
#define REASSIGN_ROUNDS 16

/* Selects up to BATCH job ids with sql (bound: now, BATCH). */
static int
select_jobs(struct referee *r, const char *sql, uint64_t now_ms,
    struct proto_digest *jobs, size_t *n)
{
	sqlite3_stmt *st;
	*n = 0;
	int err = referee_db_query(r, &st, sql, "ii", (int64_t)now_ms, (int64_t)BATCH);
	if (err != RF_OK) {
		return err;
	}
	while (sqlite3_step(st) == SQLITE_ROW && *n < BATCH) {
		referee_db_col_digest(r, st, 0, &jobs[*n]);
		(*n)++;
	}
	referee_db_done(r, st);
	return RF_OK;
}

/* One rule on one due job: the job's records in, its effects applied.
 * A job no longer due (refused) is skipped. */
static int
job_rule(struct request *q, const struct proto_digest *job,
    void (*rule)(const struct chain_params *, const struct chain_job *,
    const struct chain_account *, uint64_t, struct chain_effects *))
{
	struct referee *r = q->r;
	struct chain_params cp;
	struct chain_before b;
	struct chain_effects e;
	struct chain_job cj;
	struct proto_pubkey client, ex;
	bool found;
	referee_chain_params(r, &cp);
	memset(&b, 0, sizeof(b));
	int err = referee_ledger_job(r, job, &cj, &client, &ex, &found);
	if (err == RF_OK && found) {
		err = referee_ledger_chain_account(r, &ex, &b.acc[CHAIN_EXECUTOR]);
	}
	if (err == RF_OK && found) {
		err = referee_ledger_chain_account(r, &client, &b.acc[CHAIN_CLIENT]);
	}
	if (err != RF_OK || !found) {
		return err;
	}
	b.job = &cj;
	rule(&cp, &cj, &b.acc[CHAIN_EXECUTOR], q->now_ms, &e);
	if (e.refused != 0) {
		return RF_OK;
	}
	struct ledger_roles roles = { { NULL }, job, NULL };
	roles.key[CHAIN_CLIENT] = &client;
	roles.key[CHAIN_EXECUTOR] = &ex;
	return referee_ledger_apply(q, &b, &e, &roles);
}

/*
 * Applies rule to up to BATCH jobs that sql selects as due, in one
 * transaction: claims whose window has ended (chain_finalize) or open
 * jobs past their deadline (chain_job_expire). A few events per job: a
 * batch fits one outbox.
 */
static int
due_jobs(struct referee *r, const char *sql,
    void (*rule)(const struct chain_params *, const struct chain_job *,
    const struct chain_account *, uint64_t, struct chain_effects *),
    size_t *done)
{
	struct request q;
	memset(&q, 0, sizeof(q));
	q.r = r;
	q.now_ms = node_wall_ms();
	*done = 0;
	int err = store_begin(r->db, NULL);
	if (err != RF_OK) {
		return err;
	}
	struct proto_digest jobs[BATCH];
	size_t n = 0;
	err = select_jobs(r, sql, q.now_ms, jobs, &n);
	for (size_t i = 0; i < n && err == RF_OK; i++) {
		err = job_rule(&q, &jobs[i], rule);
	}
	free(q.out); /* a timer's request has nobody to reply to */
	err = referee_txn_end(r, &q.events, err);
	if (err == RF_OK) {
		*done = n;
	}
	return err;
}

static const char *const due_claims =
    "SELECT job_id FROM claims WHERE state = 2 AND window_end_ms <= ?1 "
    "ORDER BY window_end_ms LIMIT ?2";
static const char *const due_deadlines =
    "SELECT job_id FROM jobs WHERE state = 1 AND deadline_ms <= ?1 "
    "ORDER BY deadline_ms LIMIT ?2";

/* Gives away up to BATCH open jobs of a slashed executor, in one
 * transaction (referee_reassign_batch). */
static int
reassign_some(struct referee *r, size_t *done)
{
	struct request q;
	memset(&q, 0, sizeof(q));
	q.r = r;
	q.now_ms = node_wall_ms();
	*done = 0;
	int err = store_begin(r->db, NULL);
	if (err != RF_OK) {
		return err;
	}
	err = referee_reassign_batch(&q, BATCH, done);
	free(q.out); /* a timer's request has nobody to reply to */
	return referee_txn_end(r, &q.events, err);
}

static void *
timer_main(void *arg)
{
	struct referee *r = arg;
	unsigned ticks = 0;
	while (!*r->stop) {
		if (referee_halted(r)) {
			/* The ledger failed its check (serve.c): no timer moves
			 * money, and no heartbeat either, so a restart counts the
			 * halt as downtime and charges it to no clock. */
			usleep(TICK_MS * 1000);
			continue;
		}
		size_t done = 0;
		int err;
		do {
			err = due_jobs(r, due_claims, chain_finalize, &done);
			net_counter_add(r->m_final, done);
		} while (err == RF_OK && done == BATCH);
		if (err != RF_OK && !store_full(r->db)) {
			/* A full disk is said once, by the store. */
			log_error("finalising claims failed: %s", rf_strerror(err));
		}
		do {
			err = due_jobs(r, due_deadlines, chain_job_expire, &done);
		} while (err == RF_OK && done == BATCH);
		if (err != RF_OK && !store_full(r->db)) {
			log_error("expiring jobs failed: %s", rf_strerror(err));
		}
		/* Work proportional to a slashed executor's open jobs, in
		 * bounded batches: at most REASSIGN_ROUNDS of them a tick, so
		 * the clocks below keep running. */
		for (int k = 0; k < REASSIGN_ROUNDS; k++) {
			err = reassign_some(r, &done);
			if (err != RF_OK || done == 0) {
				break;
			}
		}
		if (err != RF_OK && !store_full(r->db)) {
			log_error("reassigning jobs failed: %s", rf_strerror(err));
		}
		err = referee_disputes_tick(r);
		if (err != RF_OK && !store_full(r->db)) {
			log_error("dispute clocks failed: %s", rf_strerror(err));
		}
		if (ticks++ % 20 == 0) {
			referee_ledger_check(r);
			referee_gauges_update(r);
		}
		/* Lets a restart tell how long the referee was down. */
		err = referee_restart_heartbeat(r, node_wall_ms());
		if (err != RF_OK && !store_full(r->db)) {
			log_error("heartbeat failed: %s", rf_strerror(err));
		}
		/* While the disk is full, try again once a second. */
		usleep(store_full(r->db) ? FULL_BACKOFF_MS * 1000 : TICK_MS * 1000);
	}
	return NULL;
}

int
referee_timers_start(struct referee *r)
{
	if (pthread_create(&r->timer, NULL, timer_main, r) != 0) {
		return RF_ERR_NOMEM;
	}
	r->timer_started = true;
	return RF_OK;
}

void
referee_timers_stop(struct referee *r)
{
	if (r->timer_started) {
		pthread_join(r->timer, NULL);
		r->timer_started = false;
	}
}
