/*
 * referee/db.c - the referee's schema, parameters and statement helpers.
 *
 * Keys and digests are stored as BLOBs; amounts as INTEGER (SQLite's 64-bit
 * signed integers: genesis caps the supply at 2^62, so no sum overflows).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "referee/referee_int.h"

const char *const referee_schema[] = {
	/* 1: ledger, registry, jobs, claims, events */
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)"
	"  STRICT;"
	"CREATE TABLE accounts ("
	"  key BLOB PRIMARY KEY,"
	"  balance INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0),"
	"  stake INTEGER NOT NULL DEFAULT 0 CHECK (stake >= 0),"
	"  roles INTEGER NOT NULL DEFAULT 0,"
	"  name TEXT NOT NULL DEFAULT '',"
	"  endpoint TEXT NOT NULL DEFAULT '',"
	"  registered INTEGER NOT NULL DEFAULT 0,"
	"  last_seq INTEGER NOT NULL DEFAULT 0,"
	"  last_req BLOB,"    /* hash of the last request applied */
	"  last_reply BLOB"   /* and its reply: a retry gets it again */
	") STRICT;"
	"CREATE TABLE serves ("
	"  key BLOB NOT NULL REFERENCES accounts(key),"
	"  model_id BLOB NOT NULL,"
	"  PRIMARY KEY (key, model_id)) STRICT;"
	"CREATE TABLE models ("
	"  model_id BLOB PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  n_ops INTEGER NOT NULL,"
	"  n_inputs INTEGER NOT NULL,"
	"  graph BLOB NOT NULL,"
	"  owner BLOB NOT NULL) STRICT;"
	"CREATE TABLE jobs ("
	"  job_id BLOB PRIMARY KEY,"
	"  model_id BLOB NOT NULL REFERENCES models(model_id),"
	"  client BLOB NOT NULL,"
	"  executor BLOB NOT NULL,"
	"  fee INTEGER NOT NULL CHECK (fee >= 0)," /* escrowed until final */
	"  submit BLOB NOT NULL,"       /* the client's signed request */
	"  input_leaves BLOB NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  created_ms INTEGER NOT NULL) STRICT;"
	"CREATE INDEX jobs_by_executor ON jobs (executor, state, created_ms);"
	"CREATE TABLE claims ("
	"  job_id BLOB PRIMARY KEY REFERENCES jobs(job_id),"
	"  executor BLOB NOT NULL,"
	"  trace_root BLOB NOT NULL,"
	"  n INTEGER NOT NULL,"
	"  envelope BLOB NOT NULL,"     /* the executor's signed claim */
	"  posted_ms INTEGER NOT NULL,"
	"  window_end_ms INTEGER NOT NULL,"
	"  state INTEGER NOT NULL) STRICT;"
	"CREATE INDEX claims_by_window ON claims (state, window_end_ms);"
	"CREATE TABLE events ("
	"  seq INTEGER PRIMARY KEY,"
	"  body BLOB NOT NULL,"         /* the signed event envelope */
	"  created_ms INTEGER NOT NULL) STRICT;",
	/* 2: disputes */
	"ALTER TABLE models ADD COLUMN n_leaves INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE models ADD COLUMN envelope BLOB;" /* the registration */
	"CREATE TABLE disputes ("
	"  dispute_id BLOB PRIMARY KEY,"
	"  job_id BLOB NOT NULL REFERENCES jobs(job_id),"
	"  executor BLOB NOT NULL,"
	"  challenger BLOB NOT NULL,"
	"  bond INTEGER NOT NULL CHECK (bond >= 0)," /* held while open */
	"  state INTEGER NOT NULL,"    /* 1 open, 2 decided */
	"  game BLOB NOT NULL,"        /* bisect_game_encode (bisect/codec.c) */
	"  transcript BLOB NOT NULL,"  /* u32-length-prefixed envelopes */
	"  verdict BLOB,"              /* the signed verdict */
	"  opened_ms INTEGER NOT NULL) STRICT;"
	"CREATE INDEX disputes_by_job ON disputes (job_id, state);"
	"CREATE INDEX disputes_by_state ON disputes (state);",
	/* 3: escrowed fees and open jobs without a scan of every job (the
	 * ledger check runs every second under the store lock) */
	"CREATE INDEX jobs_by_state ON jobs (state, fee);",
	/* 4: what the referee derives from a model's graph (validate.c);
	 * NULL for a model registered before: derived when next used */
	("ALTER TABLE models ADD COLUMN out_leaf INTEGER;"
	 "ALTER TABLE models ADD COLUMN inputs BLOB;"),
	/* 5: the chain/ rules' records: stake locked by open claims, each
	 * claim's collateral, job deadlines (jobs from before get the
	 * default deadline from their creation), slashed executors whose
	 * open jobs are still to be given away, and each dispute's next
	 * clock deadline (the timer takes the most urgent first) */
	"ALTER TABLE accounts ADD COLUMN locked INTEGER NOT NULL DEFAULT 0 "
	"  CHECK (locked >= 0);"
	"ALTER TABLE claims ADD COLUMN collateral INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE jobs ADD COLUMN deadline_ms INTEGER NOT NULL DEFAULT 0;"
	"UPDATE jobs SET deadline_ms = created_ms + 600000;"
	"CREATE INDEX jobs_by_deadline ON jobs (state, deadline_ms);"
	"CREATE INDEX jobs_by_client ON jobs (client, state);"
	"CREATE TABLE reassign ("
	"  executor BLOB PRIMARY KEY,"
	"  since_ms INTEGER NOT NULL) STRICT;"
	"ALTER TABLE disputes ADD COLUMN deadline_ms INTEGER NOT NULL "
	"  DEFAULT 0;"
	"CREATE INDEX disputes_by_deadline ON disputes (state, deadline_ms);",
};
const size_t referee_schema_len =
    sizeof(referee_schema) / sizeof(referee_schema[0]);

static int
bind_args(struct referee *r, sqlite3_stmt *st, const char *fmt, va_list ap)
{
	size_t hl = proto_hash_len(r->params.suite);
	int rc = SQLITE_OK;
	for (int i = 1; *fmt != '\0' && rc == SQLITE_OK; fmt++, i++) {
		switch (*fmt) {
		case 'k': {
			const struct proto_pubkey *k = va_arg(ap,
			    const struct proto_pubkey *);
			rc = sqlite3_bind_blob(st, i, k->b, PROTO_KEY_LEN,
			    SQLITE_TRANSIENT);
			break;
		}
		case 'd': {
			const struct proto_digest *d = va_arg(ap,
			    const struct proto_digest *);
			rc = sqlite3_bind_blob(st, i, d->b, (int)hl,
			    SQLITE_TRANSIENT);
			break;
		}
		case 'b': {
			const void *p = va_arg(ap, const void *);
			size_t n = va_arg(ap, size_t);
			rc = sqlite3_bind_blob64(st, i, p ? p : "", n,
			    SQLITE_TRANSIENT);
			break;
		}
		case 'i':
			rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
			break;
		case 't':
			rc = sqlite3_bind_text(st, i, va_arg(ap, const char *), -1,
			    SQLITE_TRANSIENT);
			break;
		default:
			rc = SQLITE_MISUSE;
		}
	}
	return rc;
}

int
referee_db_stmt(struct referee *r, sqlite3_stmt **st, const char *sql,
    const char *fmt, ...)
{
	int err = store_prepare(r->db, sql, st, NULL);
	if (err != RF_OK) {
		return err;
	}
	va_list ap;
	va_start(ap, fmt);
	int rc = bind_args(r, *st, fmt, ap);
	va_end(ap);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(*st);
		return RF_ERR_STORE;
	}
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* The statement cache                                                  */
/* ------------------------------------------------------------------ */

/*
 * Keyed by the SQL text's address (our SQL is string literals), checked
 * against the statement's own copy of the text, so SQL built in a reused
 * buffer is never confused with another. Nothing is evicted: the referee
 * has fewer distinct statements than slots, and beyond that statements
 * are simply not cached.
 */
static sqlite3_stmt *
cache_take(struct referee *r, const char *sql)
{
	uintptr_t a = (uintptr_t)sql;
	size_t h = (size_t)((a >> 3) * 0x9e3779b97f4a7c15ULL >> 57);
	for (size_t k = 0; k < DB_CACHE_SLOTS; k++) {
		struct db_cached *c = &r->stmt_cache[(h + k) % DB_CACHE_SLOTS];
		if (c->sql == NULL) {
			sqlite3_stmt *st;
			if (store_prepare(r->db, sql, &st, NULL) != RF_OK) {
				return NULL;
			}
			c->sql = sql;
			c->st = st;
			c->busy = true;
			return st;
		}
		if (c->sql == sql) {
			if (c->busy || strcmp(sqlite3_sql(c->st), sql) != 0) {
				break; /* nested use, or other text at this address */
			}
			c->busy = true;
			return c->st;
		}
	}
	sqlite3_stmt *st;
	return store_prepare(r->db, sql, &st, NULL) == RF_OK ? st : NULL;
}

void
referee_db_done(struct referee *r, sqlite3_stmt *st)
{
	if (st == NULL) {
		return;
	}
	for (size_t k = 0; k < DB_CACHE_SLOTS; k++) {
		struct db_cached *c = &r->stmt_cache[k];
		if (c->st == st) {
			/* Ends the statement's read of the database and drops the
			 * bound values (blobs are copies). */
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			c->busy = false;
			return;
		}
	}
	sqlite3_finalize(st);
}

void
referee_db_cache_free(struct referee *r)
{
	for (size_t k = 0; k < DB_CACHE_SLOTS; k++) {
		struct db_cached *c = &r->stmt_cache[k];
		if (c->st != NULL) {
			sqlite3_finalize(c->st);
		}
		memset(c, 0, sizeof(*c));
	}
}

int
referee_db_query(struct referee *r, sqlite3_stmt **st, const char *sql,
    const char *fmt, ...)
{
	*st = cache_take(r, sql);
	if (*st == NULL) {
		return RF_ERR_STORE;
	}
	va_list ap;
	va_start(ap, fmt);
	int rc = bind_args(r, *st, fmt, ap);
	va_end(ap);
	if (rc != SQLITE_OK) {
		referee_db_done(r, *st);
		*st = NULL;
		return RF_ERR_STORE;
	}
	return RF_OK;
}

int
referee_db_run(struct referee *r, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st = cache_take(r, sql);
	if (st == NULL) {
		return RF_ERR_STORE;
	}
	va_list ap;
	va_start(ap, fmt);
	int rc = bind_args(r, st, fmt, ap);
	va_end(ap);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
	}
	referee_db_done(r, st);
	return rc == SQLITE_DONE ? RF_OK : RF_ERR_STORE;
}

void
referee_db_col_digest(struct referee *r, sqlite3_stmt *st, int col,
    struct proto_digest *d)
{
	memset(d, 0, sizeof(*d));
	size_t n = (size_t)sqlite3_column_bytes(st, col);
	const void *p = sqlite3_column_blob(st, col);
	if (p != NULL && n <= sizeof(d->b)) {
		memcpy(d->b, p, n);
	}
	(void)r;
}

void
referee_db_col_key(sqlite3_stmt *st, int col, struct proto_pubkey *k)
{
	memset(k, 0, sizeof(*k));
	const void *p = sqlite3_column_blob(st, col);
	if (p != NULL && sqlite3_column_bytes(st, col) == PROTO_KEY_LEN) {
		memcpy(k->b, p, PROTO_KEY_LEN);
	}
}

int
referee_db_meta_get(struct referee *r, const char *key, int64_t *v)
{
	sqlite3_stmt *st;
	int err = referee_db_stmt(r, &st, "SELECT value FROM meta WHERE key = ?1", "t",
	    key);
	if (err != RF_OK) {
		return err;
	}
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*v = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? RF_OK :
	    rc == SQLITE_DONE ? RF_ERR_NOTFOUND : RF_ERR_STORE;
}

int
referee_db_meta_add(struct referee *r, const char *key, int64_t delta)
{
	return referee_db_run(r, "INSERT INTO meta (key, value) VALUES (?1, ?2) "
	    "ON CONFLICT (key) DO UPDATE SET value = value + ?2", "ti", key,
	    delta);
}

static const char *const param_keys[] = { "suite", "window_ms", "min_stake",
	"min_bond", "reward_pct", "arity", "clock_ms", "claim_collateral",
	"job_deadline_ms", "deadline_penalty", "min_fee", "max_open_jobs",
	"register_fee" };
/* The first seven are in every database; the rest came with chain/ and
 * take their genesis defaults in a database from before. */
#define PARAMS_REQUIRED 7
#define PARAMS_ALL 13

int
referee_db_load_params(struct referee *r, struct rf_errinfo *ei)
{
	int64_t v[PARAMS_ALL];
	bool have[PARAMS_ALL];
	store_lock(r->db);
	int err = RF_OK;
	for (int i = 0; i < PARAMS_ALL && err == RF_OK; i++) {
		err = referee_db_meta_get(r, param_keys[i], &v[i]);
		have[i] = err == RF_OK;
		if (err == RF_ERR_NOTFOUND && i >= PARAMS_REQUIRED) {
			err = RF_OK;
		}
	}
	store_unlock(r->db);
	if (err == RF_ERR_NOTFOUND) {
		return err;
	}
	if (err != RF_OK || !proto_hash_valid((int)v[0])) {
		return rf_errf(ei, RF_ERR_STORE, "the network parameters in the "
		    "database are unreadable");
	}
	struct referee_params *p = &r->params;
	p->suite = (enum proto_hash)v[0];
	p->window_ms = (uint64_t)v[1];
	p->min_stake = (uint64_t)v[2];
	p->min_bond = (uint64_t)v[3];
	p->reward_pct = (uint32_t)v[4];
	p->arity = (uint32_t)v[5];
	p->clock_ms = (uint64_t)v[6];
	/* Stored apart (referee_restart_resume), with a default for older databases. */
	p->grace_ms = REFEREE_DEFAULT_GRACE_MS;
	p->claim_collateral = have[7] ? (uint64_t)v[7] : p->min_stake;
	p->job_deadline_ms = have[8] ? (uint64_t)v[8] : 600000;
	p->deadline_penalty = have[9] ? (uint64_t)v[9] : p->min_bond;
	p->min_fee = have[10] ? (uint64_t)v[10] : 1;
	p->max_open_jobs = have[11] ? (uint64_t)v[11] : 1024;
	p->register_fee = have[12] ? (uint64_t)v[12] :
	    REFEREE_DEFAULT_REGISTER_FEE;
	return RF_OK;
}

void
referee_params_chain(const struct referee_params *p, struct chain_params *c)
{
	chain_params_default(c);
	c->window_ms = p->window_ms;
	c->min_stake = p->min_stake;
	c->min_bond = p->min_bond;
	c->reward_pct = p->reward_pct;
	c->claim_collateral = p->claim_collateral;
	c->job_deadline_ms = p->job_deadline_ms;
	c->deadline_penalty = p->deadline_penalty;
	c->min_fee = p->min_fee;
	c->max_open_jobs = p->max_open_jobs;
}

void
referee_chain_params(const struct referee *r, struct chain_params *c)
{
	referee_params_chain(&r->params, c);
}

/* First start: parameters and minted balances, in one transaction. */
int
referee_db_genesis(struct referee *r, const struct referee_genesis *g,
    struct rf_errinfo *ei)
{
	const struct referee_params *p = &g->params;
	if (g->has_referee && memcmp(g->referee.b, r->cfg->identity.pk.b,
	    PROTO_KEY_LEN) != 0) {
		return rf_errf(ei, RF_ERR_INVAL, "the genesis names another "
		    "referee than this node's key");
	}
	int64_t v[PARAMS_ALL] = { p->suite, (int64_t)p->window_ms,
		(int64_t)p->min_stake, (int64_t)p->min_bond, p->reward_pct,
		p->arity, (int64_t)p->clock_ms, (int64_t)p->claim_collateral,
		(int64_t)p->job_deadline_ms, (int64_t)p->deadline_penalty,
		(int64_t)p->min_fee, (int64_t)p->max_open_jobs,
		(int64_t)p->register_fee };
	r->params = *p;
	int err = store_begin(r->db, ei);
	if (err != RF_OK) {
		return err;
	}
	uint64_t minted = 0;
	for (int i = 0; i < PARAMS_ALL && err == RF_OK; i++) {
		err = referee_db_run(r, "INSERT INTO meta (key, value) VALUES (?1, ?2)",
		    "ti", param_keys[i], v[i]);
	}
	for (size_t i = 0; i < g->n_accounts && err == RF_OK; i++) {
		err = referee_db_run(r, "INSERT INTO accounts (key, balance) "
		    "VALUES (?1, ?2)", "ki", &g->keys[i], (int64_t)g->balances[i]);
		minted += g->balances[i];
	}
	if (err == RF_OK) {
		err = referee_db_run(r, "INSERT INTO meta (key, value) VALUES "
		    "('minted', ?1), ('burned', 0)", "i", (int64_t)minted);
	}
	if (err != RF_OK) {
		store_rollback(r->db);
		return rf_errf(ei, err, "cannot write genesis: %s",
		    rf_strerror(err));
	}
	return store_commit(r->db, ei);
}

