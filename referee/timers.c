/*
 * referee/timers.c - the referee's clock: finalises claims whose challenge
 * window has passed, and keeps the ledger gauge (and its invariant) in
 * view. Windows are stored as wall-clock deadlines, so a restarted
 * referee finalises whatever expired while it was down on its first tick.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../base/log.h"
#include "referee_int.h"

#define TICK_MS 50
/* One event per finalised claim: a batch fits one outbox. */
#define BATCH OUTBOX_MAX

/* Finalises up to BATCH expired claims in one transaction. */
static int
finalize_expired(struct referee *r, size_t *done)
{
	struct request q;
	memset(&q, 0, sizeof(q));
	q.r = r;
	q.now_ms = referee_now_ms();
	*done = 0;
	int err = store_begin(r->db, NULL);
	if (err != RF_OK) {
		return err;
	}
	sqlite3_stmt *st;
	err = db_query(r, &st, "SELECT c.job_id FROM claims c WHERE c.state = 2 "
	    "AND c.window_end_ms <= ?1 ORDER BY c.window_end_ms LIMIT ?2", "ii",
	    (int64_t)q.now_ms, (int64_t)BATCH);
	struct proto_digest jobs[BATCH];
	size_t n = 0;
	while (err == RF_OK && sqlite3_step(st) == SQLITE_ROW && n < BATCH) {
		db_col_digest(r, st, 0, &jobs[n]);
		n++;
	}
	if (err == RF_OK) {
		db_done(r, st);
	}
	struct chain_params cp;
	referee_chain_params(r, &cp);
	for (size_t i = 0; i < n && err == RF_OK; i++) {
		/* chain/'s rule: the escrowed fee to the executor, its
		 * collateral unlocked. */
		struct chain_before b;
		struct chain_effects e;
		struct chain_job cj;
		struct proto_pubkey ex;
		bool found;
		memset(&b, 0, sizeof(b));
		err = ledger_job(r, &jobs[i], &cj, NULL, &ex, &found);
		if (err == RF_OK && found) {
			err = ledger_chain_account(r, &ex, &b.acc[CHAIN_EXECUTOR]);
		}
		if (err != RF_OK || !found) {
			break;
		}
		b.job = &cj;
		chain_finalize(&cp, &cj, &b.acc[CHAIN_EXECUTOR], q.now_ms, &e);
		if (e.refused != 0) {
			continue;
		}
		struct ledger_roles roles = { { NULL }, &jobs[i], NULL };
		roles.key[CHAIN_EXECUTOR] = &ex;
		err = ledger_apply(&q, &b, &e, &roles);
	}
	if (err != RF_OK) {
		store_rollback(r->db);
		outbox_free(&q.events);
		return err;
	}
	err = store_commit(r->db, NULL);
	if (err != RF_OK) {
		outbox_free(&q.events);
		return err;
	}
	outbox_flush(r, &q.events);
	*done = n;
	net_counter_add(r->m_final, n);
	return RF_OK;
}

static void
check_ledger(struct referee *r)
{
	uint64_t total = 0, burned = 0;
	int64_t minted = 0;
	store_lock(r->db);
	int err = ledger_total(r, &total, &burned);
	if (err == RF_OK) {
		err = db_meta_get(r, "minted", &minted);
	}
	store_unlock(r->db);
	if (err != RF_OK) {
		return;
	}
	net_gauge_set(r->m_ledger, (double)total);
	if (total != (uint64_t)minted) {
		log_error("ledger invariant broken: total %llu, minted %lld",
		    (unsigned long long)total, (long long)minted);
	}
}

static void *
timer_main(void *arg)
{
	struct referee *r = arg;
	unsigned ticks = 0;
	while (!*r->stop) {
		size_t done = 0;
		int err;
		do {
			err = finalize_expired(r, &done);
		} while (err == RF_OK && done == BATCH);
		if (err != RF_OK) {
			log_error("finalising claims failed: %s", rf_strerror(err));
		}
		err = disputes_tick(r);
		if (err != RF_OK) {
			log_error("dispute clocks failed: %s", rf_strerror(err));
		}
		if (ticks++ % 20 == 0) {
			check_ledger(r);
		}
		/* Lets a restart tell how long the referee was down. */
		err = restart_heartbeat(r, referee_now_ms());
		if (err != RF_OK) {
			log_error("heartbeat failed: %s", rf_strerror(err));
		}
		usleep(TICK_MS * 1000);
	}
	return NULL;
}

int
timers_start(struct referee *r)
{
	if (pthread_create(&r->timer, NULL, timer_main, r) != 0) {
		return RF_ERR_NOMEM;
	}
	r->timer_started = true;
	return RF_OK;
}

void
timers_stop(struct referee *r)
{
	if (r->timer_started) {
		pthread_join(r->timer, NULL);
		r->timer_started = false;
	}
}
