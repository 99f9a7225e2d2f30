/*
 * referee/jobs.c - a job's life as its client sees it: cancelling an open
 * job, and the job and dispute lists (by state, id prefix, job) that
 * `refute job`, `refute disputes`, `refute audit PREFIX` and `refute
 * status` read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "referee/referee_int.h"

/* A client withdraws its job before any claim (chain_job_cancel). Only
 * the job's client may; the claim path refuses a job that is not open,
 * so a cancelled job is never claimed, and the one transaction orders a
 * cancel and a claim racing for the same job. */
int
referee_handle_cancel(struct request *q)
{
	struct referee *r = q->r;
	const struct proto_job_cancel *c = q->body;
	struct chain_params cp;
	struct chain_before b;
	struct chain_effects e;
	struct chain_job cj;
	struct proto_pubkey client, ex;
	bool found;
	memset(&b, 0, sizeof(b));
	int err = referee_ledger_job(r, &c->job_id, &cj, &client, &ex, &found);
	if (err != RF_OK) {
		return err;
	}
	if (!found) {
		return referee_req_refuse(q, PROTO_ERR_UNKNOWN, "unknown job");
	}
	if (memcmp(client.b, q->env->sender.b, PROTO_KEY_LEN) != 0) {
		return referee_req_refuse(q, PROTO_ERR_INVALID, "only the job's "
		    "client may cancel it");
	}
	err = referee_ledger_chain_account(r, &client, &b.acc[CHAIN_CLIENT]);
	if (err == RF_OK) {
		err = referee_ledger_chain_account(r, &ex,
		    &b.acc[CHAIN_EXECUTOR]);
	}
	if (err != RF_OK) {
		return err;
	}
	b.job = &cj;
	referee_chain_params(r, &cp);
	chain_job_cancel(&cp, &cj, q->now_ms, &e);
	if (e.refused != 0) {
		return referee_req_refuse(q, e.refused, "%s", e.why);
	}
	struct ledger_roles roles = { { NULL }, &c->job_id, NULL };
	roles.key[CHAIN_CLIENT] = &client;
	roles.key[CHAIN_EXECUTOR] = &ex;
	err = referee_ledger_apply(q, &b, &e, &roles);
	if (err != RF_OK) {
		return err;
	}
	char k[13];
	node_short_hex(c->job_id.b, k);
	log_info("job %s cancelled by its client; fee %llu refunded", k,
	    (unsigned long long)cj.fee);
	referee_req_ack(q, &c->job_id);
	return RF_OK;
}

/* How many entries a list query may return. */
static uint32_t
list_max(uint32_t max)
{
	return max == 0 || max > PROTO_MAX_LIST ? PROTO_MAX_LIST : max;
}

/* The ids starting with prefix are those in [lo, hi): lo the prefix
 * itself, hi the prefix plus one in its last byte (carried), or past
 * every id when the prefix is all 0xff. As a range on the primary key
 * the lookup reads only the matching rows, never the whole table under
 * the store lock. */
void
referee_prefix_range(const uint8_t *p, uint8_t len, uint8_t *hi,
    size_t *hi_len)
{
	memcpy(hi, p, len);
	size_t n = len;
	while (n > 0 && hi[n - 1] == 0xff) {
		n--;
	}
	if (n == 0) {
		memset(hi, 0xff, PROTO_DIGEST_MAX + 1);
		*hi_len = PROTO_DIGEST_MAX + 1;
		return;
	}
	hi[n - 1]++;
	*hi_len = n;
}

int
referee_jobs_query(struct request *q)
{
	struct referee *r = q->r;
	const struct proto_jobs_query *f = q->body;
	if (f->prefix_len > proto_hash_len(r->params.suite)) {
		return referee_req_refuse(q, PROTO_ERR_INVALID, "the prefix is "
		    "longer than a job id");
	}
	uint32_t max = list_max(f->max);
	struct proto_jobs_list list;
	memset(&list, 0, sizeof(list));
	list.jobs = calloc(max, sizeof(*list.jobs));
	if (list.jobs == NULL) {
		return RF_ERR_NOMEM;
	}
	/* One row more than asked for tells whether the list was cut. A
	 * state alone reads its index (jobs_by_state), a prefix its range
	 * of the primary key. */
	uint8_t hi[PROTO_DIGEST_MAX + 1];
	size_t hi_len;
	referee_prefix_range(f->prefix, f->prefix_len, hi, &hi_len);
	sqlite3_stmt *st;
	int err;
	if (f->prefix_len > 0) {
		err = referee_db_stmt(r, &st, "SELECT job_id, model_id, client, "
		    "executor, fee, state, created_ms, deadline_ms FROM jobs WHERE "
		    "job_id >= ?1 AND job_id < ?2 AND (?3 = 0 OR state = ?3) "
		    "ORDER BY created_ms DESC, job_id LIMIT ?4", "bbii", f->prefix,
		    (size_t)f->prefix_len, hi, hi_len, (int64_t)f->state,
		    (int64_t)max + 1);
	} else if (f->state != 0) {
		err = referee_db_stmt(r, &st, "SELECT job_id, model_id, client, "
		    "executor, fee, state, created_ms, deadline_ms FROM jobs WHERE "
		    "state = ?1 ORDER BY created_ms DESC, job_id LIMIT ?2", "ii",
		    (int64_t)f->state, (int64_t)max + 1);
	} else {
		err = referee_db_stmt(r, &st, "SELECT job_id, model_id, client, "
		    "executor, fee, state, created_ms, deadline_ms FROM jobs "
		    "ORDER BY created_ms DESC, job_id LIMIT ?1", "i",
		    (int64_t)max + 1);
	}
	if (err != RF_OK) {
		proto_jobs_list_free(&list);
		return err;
	}
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (list.n == max) {
			list.cut = 1;
			break;
		}
		struct proto_job_entry *j = &list.jobs[list.n++];
		referee_db_col_digest(r, st, 0, &j->job_id);
		referee_db_col_digest(r, st, 1, &j->model_id);
		referee_db_col_key(st, 2, &j->client);
		referee_db_col_key(st, 3, &j->executor);
		j->fee = (uint64_t)sqlite3_column_int64(st, 4);
		j->state = (uint8_t)sqlite3_column_int(st, 5);
		j->created_ms = (uint64_t)sqlite3_column_int64(st, 6);
		j->deadline_ms = (uint64_t)sqlite3_column_int64(st, 7);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		proto_jobs_list_free(&list);
		return RF_ERR_STORE;
	}
	err = referee_reply(q, PROTO_MSG_JOBS_LIST, &list);
	proto_jobs_list_free(&list);
	return err;
}

/* A decided dispute's outcome, read from its stored verdict envelope
 * (signed by this referee): executor_won and reason follow the dispute
 * id, the job id and the two keys. */
static void
verdict_outcome(struct referee *r, sqlite3_stmt *st, int col,
    struct proto_dispute_entry *x)
{
	const uint8_t *p = sqlite3_column_blob(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);
	struct proto_env env;
	size_t at = 2 * proto_hash_len(r->params.suite) + 2 * PROTO_KEY_LEN;
	if (p == NULL || proto_msg_open_stored(p, n, &env, NULL) != RF_OK ||
	    env.type != PROTO_MSG_VERDICT || env.body_len < at + 2) {
		return;
	}
	if (env.body[at] <= 1 && env.body[at + 1] >= PROTO_VERDICT_RECOMPUTED &&
	    env.body[at + 1] <= PROTO_VERDICT_SETTLED) {
		x->executor_won = env.body[at];
		x->reason = env.body[at + 1];
	}
}

int
referee_disputes_query(struct request *q)
{
	struct referee *r = q->r;
	const struct proto_disputes_query *f = q->body;
	enum proto_hash suite = r->params.suite;
	if (f->prefix_len > proto_hash_len(suite)) {
		return referee_req_refuse(q, PROTO_ERR_INVALID, "the prefix is "
		    "longer than a dispute id");
	}
	struct proto_digest zero;
	memset(&zero, 0, sizeof(zero));
	bool any_job = proto_digest_equal(suite, &f->job_id, &zero);
	uint32_t max = list_max(f->max);
	struct proto_disputes_list list;
	memset(&list, 0, sizeof(list));
	list.disputes = calloc(max, sizeof(*list.disputes));
	if (list.disputes == NULL) {
		return RF_ERR_NOMEM;
	}
	/* By job: its index (disputes_by_job); by prefix: the key's range;
	 * by state: disputes_by_state. */
	uint8_t hi[PROTO_DIGEST_MAX + 1];
	size_t hi_len;
	referee_prefix_range(f->prefix, f->prefix_len, hi, &hi_len);
	static const char *const cols = "SELECT dispute_id, job_id, executor, "
	    "challenger, state, bond, opened_ms, deadline_ms, verdict FROM "
	    "disputes WHERE ";
	char sql[512];
	const char *where = !any_job ? "job_id = ?4 AND dispute_id >= ?1 AND "
	    "dispute_id < ?2 AND (?3 = 0 OR state = ?3)" :
	    f->prefix_len > 0 ? "dispute_id >= ?1 AND dispute_id < ?2 AND "
	    "(?3 = 0 OR state = ?3)" : f->state != 0 ? "state = ?3 AND "
	    "dispute_id >= ?1 AND dispute_id < ?2" : "dispute_id >= ?1 AND "
	    "dispute_id < ?2";
	snprintf(sql, sizeof(sql), "%s%s AND ?4 IS NOT NULL ORDER BY "
	    "opened_ms DESC, dispute_id LIMIT ?5", cols, where);
	sqlite3_stmt *st;
	int err = referee_db_stmt(r, &st, sql, "bbidi", f->prefix,
	    (size_t)f->prefix_len, hi, hi_len, (int64_t)f->state, &f->job_id,
	    (int64_t)max + 1);
	if (err != RF_OK) {
		proto_disputes_list_free(&list);
		return err;
	}
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (list.n == max) {
			list.cut = 1;
			break;
		}
		struct proto_dispute_entry *x = &list.disputes[list.n++];
		referee_db_col_digest(r, st, 0, &x->dispute_id);
		referee_db_col_digest(r, st, 1, &x->job_id);
		referee_db_col_key(st, 2, &x->executor);
		referee_db_col_key(st, 3, &x->challenger);
		int s = sqlite3_column_int(st, 4);
		x->state = (uint8_t)(s == 2 ? 2 : 1);
		x->bond = (uint64_t)sqlite3_column_int64(st, 5);
		x->opened_ms = (uint64_t)sqlite3_column_int64(st, 6);
		x->deadline_ms = (uint64_t)sqlite3_column_int64(st, 7);
		if (x->state == 2) {
			verdict_outcome(r, st, 8, x);
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		proto_disputes_list_free(&list);
		return RF_ERR_STORE;
	}
	err = referee_reply(q, PROTO_MSG_DISPUTES_LIST, &list);
	proto_disputes_list_free(&list);
	return err;
}
