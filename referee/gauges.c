/*
 * referee/gauges.c - what an operator watches beside the counters: the
 * jobs waiting for a claim, the claims whose executors' stake is at risk
 * (in their window or in dispute), the open disputes, and each open
 * dispute's clock (the time the side to move has left). Refreshed by the
 * timer once a second from the database, so they hold across restarts.
 */
#include <stdlib.h>
#include <string.h>

#include "referee/referee_int.h"

/* Open disputes shown one by one; more are counted, not listed. */
#define CLOCKS_MAX 64

void
referee_gauges_setup(struct referee *r)
{
	struct net_metrics *m = r->metrics;
	r->m_jobs_open = net_metrics_gauge(m, "jobs_open", NULL,
	    "Jobs waiting for a claim");
	r->m_disputes_open = net_metrics_gauge(m, "disputes_open", NULL,
	    "Disputes not yet decided");
	r->m_claims_at_risk = net_metrics_gauge(m, "claims_at_risk", NULL,
	    "Claims in their challenge window or in dispute (their "
	    "executors' collateral is at stake)");
	(void)net_metrics_gauge_family(m, "dispute_clock_seconds",
	    "Clock left to the side to move, per open dispute (at most 64, "
	    "the most urgent)", "dispute", NULL, NULL, 0);
}

static double
count(struct referee *r, const char *sql)
{
	int64_t v = 0;
	bool found;
	if (store_query_int(r->db, sql, &v, &found, NULL) != RF_OK) {
		return -1;
	}
	return (double)v;
}

void
referee_gauges_update(struct referee *r)
{
	if (r->metrics == NULL) {
		return;
	}
	enum proto_hash suite = r->params.suite;
	char ids[CLOCKS_MAX][2 * PROTO_DIGEST_MAX + 1];
	const char *names[CLOCKS_MAX];
	double left[CLOCKS_MAX];
	size_t n = 0;
	uint64_t now = node_wall_ms();
	store_lock(r->db);
	double jobs = count(r, "SELECT count(*) FROM jobs WHERE state = 1");
	double disputes = count(r, "SELECT count(*) FROM disputes WHERE "
	    "state = 1");
	double risk = count(r, "SELECT count(*) FROM claims WHERE state IN "
	    "(2, 3)");
	sqlite3_stmt *st;
	if (referee_db_stmt(r, &st, "SELECT dispute_id, deadline_ms FROM "
	    "disputes WHERE state = 1 ORDER BY deadline_ms, dispute_id LIMIT "
	    "?1", "i", (int64_t)CLOCKS_MAX) == RF_OK) {
		while (n < CLOCKS_MAX && sqlite3_step(st) == SQLITE_ROW) {
			struct proto_digest id;
			referee_db_col_digest(r, st, 0, &id);
			proto_digest_hex(suite, &id, ids[n]);
			int64_t d = sqlite3_column_int64(st, 1);
			left[n] = d > 0 && (uint64_t)d > now ?
			    (double)((uint64_t)d - now) / 1000.0 : 0.0;
			names[n] = ids[n];
			n++;
		}
		sqlite3_finalize(st);
	}
	store_unlock(r->db);
	if (jobs >= 0) {
		net_gauge_set(r->m_jobs_open, jobs);
	}
	if (disputes >= 0) {
		net_gauge_set(r->m_disputes_open, disputes);
	}
	if (risk >= 0) {
		net_gauge_set(r->m_claims_at_risk, risk);
	}
	(void)net_metrics_gauge_family(r->metrics, "dispute_clock_seconds",
	    "Clock left to the side to move, per open dispute (at most 64, "
	    "the most urgent)", "dispute", names, left, n);
}
