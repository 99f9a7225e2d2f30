/*
 * referee/ledger.c - balances, stakes, escrowed fees, challengers' bonds
 * and burned tokens. Money only moves between these places, inside the caller's
 * transaction; only genesis mints it. The invariant every test checks:
 *
 *   sum(balance) + sum(stake) + sum(locked) + escrowed fees + open bonds
 *     + burned = minted
 *
 * What moves and when is decided by chain/ (the rules); referee_ledger_apply
 * carries a rule's effects out here.
 */
#include <string.h>

#include "base/log.h"
#include "referee/referee_int.h"

int
referee_ledger_account(struct referee *r, const struct proto_pubkey *k,
    struct account *a)
{
	sqlite3_stmt *st;
	memset(a, 0, sizeof(*a));
	int err = referee_db_query(r, &st, "SELECT registered, roles, balance, stake, "
	    "last_seq, locked FROM accounts WHERE key = ?1", "k", k);
	if (err != RF_OK) {
		return err;
	}
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		a->exists = true;
		a->registered = sqlite3_column_int(st, 0) != 0;
		a->roles = (uint8_t)sqlite3_column_int(st, 1);
		a->balance = (uint64_t)sqlite3_column_int64(st, 2);
		a->stake = (uint64_t)sqlite3_column_int64(st, 3);
		a->last_seq = (uint64_t)sqlite3_column_int64(st, 4);
		a->locked = (uint64_t)sqlite3_column_int64(st, 5);
	}
	referee_db_done(r, st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? RF_OK : RF_ERR_STORE;
}

/* Column names come from this file's callers only, never from input. */
static bool
valid_column(const char *c)
{
	return strcmp(c, "balance") == 0 || strcmp(c, "stake") == 0 ||
	    strcmp(c, "locked") == 0;
}

static const char *
pick_sql(const char *column, const char *balance, const char *stake,
    const char *locked)
{
	return strcmp(column, "balance") == 0 ? balance :
	    strcmp(column, "stake") == 0 ? stake : locked;
}

int
referee_ledger_credit(struct referee *r, const struct proto_pubkey *k,
    const char *column, uint64_t amount)
{
	if (!valid_column(column) || amount > INT64_MAX) {
		return RF_ERR_INVAL;
	}
	const char *sql = pick_sql(column,
	    "UPDATE accounts SET balance = balance + ?2 WHERE key = ?1",
	    "UPDATE accounts SET stake = stake + ?2 WHERE key = ?1",
	    "UPDATE accounts SET locked = locked + ?2 WHERE key = ?1");
	int err = referee_db_run(r, sql, "ki", k, (int64_t)amount);
	if (err == RF_OK && sqlite3_changes(store_db(r->db)) != 1) {
		return RF_ERR_NOTFOUND;
	}
	return err;
}

/* RF_ERR_RANGE when the account holds less than amount there. */
int
referee_ledger_debit(struct referee *r, const struct proto_pubkey *k,
    const char *column, uint64_t amount)
{
	if (!valid_column(column) || amount > INT64_MAX) {
		return RF_ERR_INVAL;
	}
	const char *sql = pick_sql(column,
	    "UPDATE accounts SET balance = balance - ?2 "
	    "WHERE key = ?1 AND balance >= ?2",
	    "UPDATE accounts SET stake = stake - ?2 "
	    "WHERE key = ?1 AND stake >= ?2",
	    "UPDATE accounts SET locked = locked - ?2 "
	    "WHERE key = ?1 AND locked >= ?2");
	int err = referee_db_run(r, sql, "ki", k, (int64_t)amount);
	if (err == RF_OK && sqlite3_changes(store_db(r->db)) != 1) {
		return RF_ERR_RANGE;
	}
	return err;
}

int
referee_ledger_move(struct referee *r, const struct proto_pubkey *k,
    const char *from, const char *to, uint64_t amount)
{
	int err = referee_ledger_debit(r, k, from, amount);
	if (err == RF_OK) {
		err = referee_ledger_credit(r, k, to, amount);
	}
	return err;
}

int
referee_ledger_total(struct referee *r, uint64_t *total, uint64_t *burned)
{
	sqlite3_stmt *st;
	/* Fees are escrowed while a job is open, claimed or disputed. */
	int err = referee_db_query(r, &st,
	    "SELECT (SELECT coalesce(sum(balance) + sum(stake) + sum(locked), 0) "
	    "FROM accounts)"
	    " + (SELECT coalesce(sum(fee), 0) FROM jobs WHERE state IN (1, 2, 3))"
	    " + (SELECT coalesce(sum(value), 0) FROM meta WHERE key = 'burned')"
	    " + (SELECT coalesce(sum(bond), 0) FROM disputes WHERE state = 1),"
	    " (SELECT coalesce(sum(value), 0) FROM meta WHERE key = 'burned')",
	    "");
	if (err != RF_OK) {
		return err;
	}
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*total = (uint64_t)sqlite3_column_int64(st, 0);
		*burned = (uint64_t)sqlite3_column_int64(st, 1);
	}
	referee_db_done(r, st);
	return rc == SQLITE_ROW ? RF_OK : RF_ERR_STORE;
}

/* ------------------------------------------------------------------ */
/* chain/ records and effects                                           */
/* ------------------------------------------------------------------ */

int
referee_ledger_chain_account(struct referee *r, const struct proto_pubkey *k,
    struct chain_account *a)
{
	struct account acc;
	int err = referee_ledger_account(r, k, &acc);
	if (err == RF_OK) {
		a->balance = acc.balance;
		a->stake = acc.stake;
		a->locked = acc.locked;
	}
	return err;
}

int
referee_ledger_job(struct referee *r, const struct proto_digest *id,
    struct chain_job *j, struct proto_pubkey *client,
    struct proto_pubkey *executor, bool *found)
{
	sqlite3_stmt *st;
	memset(j, 0, sizeof(*j));
	int err = referee_db_query(r, &st, "SELECT j.state, j.fee, j.deadline_ms, "
	    "c.window_end_ms, c.collateral, j.client, j.executor FROM jobs j "
	    "LEFT JOIN claims c ON c.job_id = j.job_id WHERE j.job_id = ?1", "d",
	    id);
	if (err != RF_OK) {
		return err;
	}
	int rc = sqlite3_step(st);
	*found = rc == SQLITE_ROW;
	if (*found) {
		j->state = (uint8_t)sqlite3_column_int(st, 0);
		j->fee = (uint64_t)sqlite3_column_int64(st, 1);
		j->deadline_ms = (uint64_t)sqlite3_column_int64(st, 2);
		j->window_end_ms = (uint64_t)sqlite3_column_int64(st, 3);
		j->collateral = (uint64_t)sqlite3_column_int64(st, 4);
		if (client != NULL) {
			referee_db_col_key(st, 5, client);
		}
		if (executor != NULL) {
			referee_db_col_key(st, 6, executor);
		}
	}
	referee_db_done(r, st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? RF_OK : RF_ERR_STORE;
}

static const char *
column_of(uint8_t place)
{
	switch (place) {
	case CHAIN_BALANCE:
		return "balance";
	case CHAIN_STAKE:
		return "stake";
	case CHAIN_LOCKED:
		return "locked";
	default:
		return NULL; /* escrow and bonds: held by the row's state */
	}
}

static int
apply_move(struct referee *r, const struct chain_move *m,
    const struct ledger_roles *roles)
{
	const char *from = column_of(m->from), *to = column_of(m->to);
	int err = RF_OK;
	if (from != NULL) {
		const struct proto_pubkey *k = roles->key[m->from_party];
		err = k != NULL ? referee_ledger_debit(r, k, from, m->amount) :
		    RF_ERR_INVAL;
	} else if (m->from == CHAIN_BURNED) {
		err = RF_ERR_INVAL; /* chain_effects_check refuses it */
	}
	if (err == RF_OK && to != NULL) {
		const struct proto_pubkey *k = roles->key[m->to_party];
		err = k != NULL ? referee_ledger_credit(r, k, to, m->amount) :
		    RF_ERR_INVAL;
	} else if (err == RF_OK && m->to == CHAIN_BURNED) {
		err = referee_db_meta_add(r, "burned", (int64_t)m->amount);
	}
	return err;
}

static int
apply_job(struct referee *r, const struct chain_effects *e,
    const struct ledger_roles *roles)
{
	const struct proto_digest *job = roles->job;
	int err = RF_OK;
	if (job == NULL) {
		return e->job_state != 0 || e->set_times || e->reassigned ?
		    RF_ERR_INVAL : RF_OK;
	}
	if (e->job_state != 0) {
		err = referee_db_run(r, "UPDATE jobs SET state = ?2 WHERE job_id = ?1",
		    "di", job, (int64_t)e->job_state);
		if (err == RF_OK) {
			err = referee_db_run(r, "UPDATE claims SET state = ?2 WHERE job_id = "
			    "?1", "di", job, (int64_t)e->job_state);
		}
	}
	if (err == RF_OK && e->set_times) {
		err = referee_db_run(r, "UPDATE jobs SET deadline_ms = ?2 WHERE job_id = "
		    "?1", "di", job, (int64_t)e->deadline_ms);
		if (err == RF_OK) {
			err = referee_db_run(r, "UPDATE claims SET window_end_ms = ?2, "
			    "collateral = ?3 WHERE job_id = ?1", "dii", job,
			    (int64_t)e->window_end_ms, (int64_t)e->collateral);
		}
	}
	if (err == RF_OK && e->reassigned) {
		const struct proto_pubkey *to = roles->key[CHAIN_NEW_EXECUTOR];
		err = to != NULL ? referee_db_run(r, "UPDATE jobs SET executor = ?2 WHERE "
		    "job_id = ?1", "dk", job, to) : RF_ERR_INVAL;
	}
	return err;
}

int
referee_ledger_apply(struct request *q, const struct chain_before *b,
    const struct chain_effects *e, const struct ledger_roles *roles)
{
	struct referee *r = q->r;
	struct rf_errinfo ei = { "" };
	if (chain_effects_check(b, e, &ei) != RF_OK) {
		log_error("a rule broke the ledger invariant: %s", ei.msg);
		return RF_ERR_INVAL;
	}
	int err = RF_OK;
	for (size_t i = 0; i < e->n_moves && err == RF_OK; i++) {
		err = apply_move(r, &e->moves[i], roles);
	}
	if (err == RF_OK) {
		err = apply_job(r, e, roles);
	}
	for (size_t i = 0; i < e->n_events && err == RF_OK; i++) {
		const struct chain_event *v = &e->events[i];
		const struct proto_pubkey *k = roles->key[v->subject];
		struct proto_pubkey zero;
		memset(&zero, 0, sizeof(zero));
		err = referee_event_emit(q, (enum proto_event_kind)v->kind, roles->job,
		    v->dispute ? roles->dispute : NULL, k != NULL ? k : &zero,
		    v->value);
	}
	return err;
}
