/*
 * referee/ledger.c - balances, stakes, escrowed fees, challengers' bonds
 * and burned tokens. Money only moves between these places, inside the caller's
 * transaction; only genesis mints it. The invariant every test checks:
 *
 *   sum(balance) + sum(stake) + escrowed fees + open bonds + burned
 *     = minted
 */
#include <string.h>

#include "referee_int.h"

int
ledger_account(struct referee *r, const struct proto_pubkey *k,
    struct account *a)
{
	sqlite3_stmt *st;
	memset(a, 0, sizeof(*a));
	int err = db_query(r, &st, "SELECT registered, roles, balance, stake, "
	    "last_seq FROM accounts WHERE key = ?1", "k", k);
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
	}
	db_done(r, st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? RF_OK : RF_ERR_STORE;
}

/* Column names come from this file's callers only, never from input. */
static bool
valid_column(const char *c)
{
	return strcmp(c, "balance") == 0 || strcmp(c, "stake") == 0;
}

int
ledger_credit(struct referee *r, const struct proto_pubkey *k,
    const char *column, uint64_t amount)
{
	if (!valid_column(column) || amount > INT64_MAX) {
		return RF_ERR_INVAL;
	}
	const char *sql = strcmp(column, "balance") == 0 ?
	    "UPDATE accounts SET balance = balance + ?2 WHERE key = ?1" :
	    "UPDATE accounts SET stake = stake + ?2 WHERE key = ?1";
	int err = db_run(r, sql, "ki", k, (int64_t)amount);
	if (err == RF_OK && sqlite3_changes(store_db(r->db)) != 1) {
		return RF_ERR_NOTFOUND;
	}
	return err;
}

/* RF_ERR_RANGE when the account holds less than amount there. */
int
ledger_debit(struct referee *r, const struct proto_pubkey *k,
    const char *column, uint64_t amount)
{
	if (!valid_column(column) || amount > INT64_MAX) {
		return RF_ERR_INVAL;
	}
	const char *sql = strcmp(column, "balance") == 0 ?
	    "UPDATE accounts SET balance = balance - ?2 "
	    "WHERE key = ?1 AND balance >= ?2" :
	    "UPDATE accounts SET stake = stake - ?2 "
	    "WHERE key = ?1 AND stake >= ?2";
	int err = db_run(r, sql, "ki", k, (int64_t)amount);
	if (err == RF_OK && sqlite3_changes(store_db(r->db)) != 1) {
		return RF_ERR_RANGE;
	}
	return err;
}

int
ledger_move(struct referee *r, const struct proto_pubkey *k,
    const char *from, const char *to, uint64_t amount)
{
	int err = ledger_debit(r, k, from, amount);
	if (err == RF_OK) {
		err = ledger_credit(r, k, to, amount);
	}
	return err;
}

int
ledger_total(struct referee *r, uint64_t *total, uint64_t *burned)
{
	sqlite3_stmt *st;
	/* Fees are escrowed while a job is open, claimed or disputed. */
	int err = db_query(r, &st,
	    "SELECT (SELECT coalesce(sum(balance) + sum(stake), 0) FROM accounts)"
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
	db_done(r, st);
	return rc == SQLITE_ROW ? RF_OK : RF_ERR_STORE;
}
