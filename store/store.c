/* store/store.c - SQLite connection, schema migrations and transactions. */
#include "store/store.h"

#include "base/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct store {
	sqlite3 *db;
	pthread_mutex_t lock;
	atomic_bool full; /* the last write failed for lack of space */
	atomic_bool announced;        /* "disk full" was said */
	_Atomic uint64_t full_ms;     /* when the last such failure was */
	char path[256];   /* for the log lines */
};

/* A full disk is announced once, and its end once: a commit that
 * succeeds less than FULL_QUIET_MS after the last failure (space freed by
 * a checkpoint, then taken again) does not count as the end. */
#define FULL_QUIET_MS 2000

static uint64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Records a failure with SQLite code rc; says "disk full" on the first. */
static void
note_failure(struct store *s, int rc)
{
	if (s == NULL || (rc & 0xff) != SQLITE_FULL) {
		return;
	}
	atomic_store(&s->full, true);
	atomic_store(&s->full_ms, mono_ms());
	if (!atomic_exchange(&s->announced, true)) {
		log_error("database %s: disk full: writes fail (nothing is lost; "
		    "they are retried) until space is freed", s->path);
	}
}

/* A write succeeded: once writes have kept succeeding for a while, say
 * that the disk full state is over. */
static void
note_success(struct store *s)
{
	atomic_store(&s->full, false);
	if (atomic_load(&s->announced) &&
	    mono_ms() - atomic_load(&s->full_ms) >= FULL_QUIET_MS &&
	    atomic_exchange(&s->announced, false)) {
		log_info("database %s: space available again, writes succeed",
		    s->path);
	}
}

bool
store_full(struct store *s)
{
	return s != NULL && atomic_load(&s->full);
}

int
store_classify(struct store *s, int err)
{
	if (err == RF_OK || s == NULL || s->db == NULL) {
		return err;
	}
	if ((sqlite3_errcode(s->db) & 0xff) == SQLITE_FULL) {
		note_failure(s, SQLITE_FULL);
		return RF_ERR_FULL;
	}
	return err;
}

int
store_fail(struct store *s, int rc, const char *what, struct rf_errinfo *ei)
{
	const char *msg = s != NULL && s->db != NULL ? sqlite3_errmsg(s->db) :
	    sqlite3_errstr(rc);
	int err = RF_ERR_STORE;
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		err = RF_ERR_NOMEM;
		break;
	case SQLITE_CONSTRAINT:
		err = RF_ERR_INVAL;
		break;
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
		err = RF_ERR_IO;
		break;
	case SQLITE_FULL:
		note_failure(s, rc);
		err = RF_ERR_FULL;
		break;
	default:
		break;
	}
	return rf_errf(ei, err, "%s: %s (sqlite %d)", what, msg, rc);
}

int
store_exec(struct store *s, const char *sql, struct rf_errinfo *ei)
{
	char *msg = NULL;
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		note_failure(s, rc);
		int err = rf_errf(ei, (rc & 0xff) == SQLITE_FULL ? RF_ERR_FULL :
		    RF_ERR_STORE, "%s (sqlite %d)",
		    msg != NULL ? msg : sqlite3_errstr(rc), rc);
		sqlite3_free(msg);
		return err;
	}
	return RF_OK;
}

int
store_prepare(struct store *s, const char *sql, sqlite3_stmt **st,
    struct rf_errinfo *ei)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
	if (rc != SQLITE_OK) {
		return store_fail(s, rc, "prepare", ei);
	}
	return RF_OK;
}

int
store_query_int(struct store *s, const char *sql, int64_t *out, bool *found,
    struct rf_errinfo *ei)
{
	sqlite3_stmt *st;
	int err = store_prepare(s, sql, &st, ei);
	if (err != RF_OK) {
		return err;
	}
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		*found = true;
	} else if (rc == SQLITE_DONE) {
		*found = false;
	} else {
		err = store_fail(s, rc, "query", ei);
	}
	sqlite3_finalize(st);
	return err;
}

static int
migrate(struct store *s, const char *const *migrations, size_t n,
    struct rf_errinfo *ei)
{
	int64_t version = 0;
	bool found;
	int err = store_query_int(s, "PRAGMA user_version", &version, &found,
	    ei);
	if (err != RF_OK) {
		return err;
	}
	if (version < 0 || (uint64_t)version > n) {
		return rf_errf(ei, RF_ERR_VERSION,
		    "database schema version %lld is newer than this program "
		    "(%zu)", (long long)version, n);
	}
	for (size_t v = (size_t)version; v < n; v++) {
		char bump[64];
		snprintf(bump, sizeof(bump), "PRAGMA user_version = %zu", v + 1);
		err = store_begin(s, ei);
		if (err != RF_OK) {
			return err;
		}
		err = store_exec(s, migrations[v], ei);
		if (err == RF_OK) {
			err = store_exec(s, bump, ei);
		}
		if (err != RF_OK) {
			store_rollback(s);
			return rf_errctx(ei, err, "schema migration %zu: ", v + 1);
		}
		err = store_commit(s, ei);
		if (err != RF_OK) {
			return err;
		}
	}
	return RF_OK;
}

int
store_open(const char *path, const char *const *migrations, size_t n,
    struct store **out, struct rf_errinfo *ei)
{
	struct store *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return RF_ERR_NOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	snprintf(s->path, sizeof(s->path), "%s", path);
	/* FULLMUTEX keeps the connection safe across threads; our own lock
	 * keeps whole transactions from interleaving. */
	int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
	int err = RF_OK;
	if (rc != SQLITE_OK) {
		err = rf_errf(ei, RF_ERR_IO, "cannot open database '%s': %s",
		    path, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
	}
	if (err == RF_OK) {
		sqlite3_busy_timeout(s->db, 10000);
		/* WAL: readers never block the writer; synchronous=NORMAL is
		 * durable across process crashes (only an OS crash can lose the
		 * last commits), which is what a node killed at any instant
		 * needs. */
		err = store_exec(s, "PRAGMA journal_mode = WAL;"
		    "PRAGMA synchronous = NORMAL;"
		    "PRAGMA foreign_keys = ON;", ei);
	}
	if (err == RF_OK) {
		err = store_check(s, ei);
		if (err != RF_OK) {
			rf_errctx(ei, err, "database '%s' is damaged: ", path);
		}
	}
	if (err == RF_OK) {
		err = migrate(s, migrations, n, ei);
	}
	if (err != RF_OK) {
		store_close(s);
		return err;
	}
	*out = s;
	return RF_OK;
}

int
store_check(struct store *s, struct rf_errinfo *ei)
{
	sqlite3_stmt *st;
	store_lock(s);
	int err = store_prepare(s, "PRAGMA quick_check(1)", &st, ei);
	if (err == RF_OK) {
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const char *t = (const char *)sqlite3_column_text(st, 0);
			if (t == NULL || strcmp(t, "ok") != 0) {
				err = rf_errf(ei, RF_ERR_STORE, "integrity check: %s",
				    t != NULL ? t : "no answer");
			}
		} else {
			err = store_fail(s, rc, "integrity check", ei);
		}
		sqlite3_finalize(st);
	} else {
		err = rf_errf(ei, RF_ERR_STORE, "integrity check: %s",
		    sqlite3_errmsg(s->db));
	}
	store_unlock(s);
	return err;
}

static void
hex8(const uint8_t *k, char out[17])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < 8; i++) {
		out[2 * i] = digits[k[i] >> 4];
		out[2 * i + 1] = digits[k[i] & 15];
	}
	out[16] = '\0';
}

int
store_owner_bind(struct store *s, const uint8_t key[32], bool adopt,
    struct rf_errinfo *ei)
{
	/* Outside the migrations, so every node's schema gets it the same
	 * way without renumbering anyone's versions. */
	int err = store_begin(s, ei);
	if (err != RF_OK) {
		return err;
	}
	err = store_exec(s, "CREATE TABLE IF NOT EXISTS store_owner ("
	    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
	    "  key BLOB NOT NULL CHECK (length(key) = 32)) STRICT", ei);
	sqlite3_stmt *st = NULL;
	if (err == RF_OK) {
		err = store_prepare(s, "SELECT key FROM store_owner WHERE id = 1",
		    &st, ei);
	}
	if (err != RF_OK) {
		store_rollback(s);
		return err;
	}
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const void *have = sqlite3_column_blob(st, 0);
		bool same = have != NULL && sqlite3_column_bytes(st, 0) == 32 &&
		    memcmp(have, key, 32) == 0;
		char a[17] = "?", b[17];
		if (have != NULL && sqlite3_column_bytes(st, 0) == 32) {
			hex8(have, a);
		}
		hex8(key, b);
		sqlite3_finalize(st);
		store_rollback(s);
		return same ? RF_OK : rf_errf(ei, RF_ERR_CRYPTO, "this database "
		    "belongs to key %s..., not to %s...", a, b);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		err = store_fail(s, rc, "reading the owner", ei);
		store_rollback(s);
		return err;
	}
	if (!adopt) {
		store_rollback(s);
		return rf_errf(ei, RF_ERR_NOTFOUND, "this database has no owner");
	}
	err = store_prepare(s, "INSERT INTO store_owner (id, key) VALUES "
	    "(1, ?1)", &st, ei);
	if (err == RF_OK) {
		sqlite3_bind_blob(st, 1, key, 32, SQLITE_TRANSIENT);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE) {
			err = store_fail(s, rc, "recording the owner", ei);
		}
	}
	if (err != RF_OK) {
		store_rollback(s);
		return err;
	}
	return store_commit(s, ei);
}

int
store_open_readonly(const char *path, struct store **out,
    struct rf_errinfo *ei)
{
	struct store *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return RF_ERR_NOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_FULLMUTEX, NULL);
	if (rc != SQLITE_OK) {
		int err = rf_errf(ei, RF_ERR_IO, "cannot open database '%s': %s",
		    path, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		store_close(s);
		return err;
	}
	/* The writer may hold its lock for a moment. */
	sqlite3_busy_timeout(s->db, 10000);
	*out = s;
	return RF_OK;
}

void
store_close(struct store *s)
{
	if (s == NULL) {
		return;
	}
	if (s->db != NULL) {
		sqlite3_close_v2(s->db);
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

sqlite3 *
store_db(struct store *s)
{
	return s->db;
}

void
store_lock(struct store *s)
{
	pthread_mutex_lock(&s->lock);
}

void
store_unlock(struct store *s)
{
	pthread_mutex_unlock(&s->lock);
}

int
store_begin(struct store *s, struct rf_errinfo *ei)
{
	pthread_mutex_lock(&s->lock);
	int err = store_exec(s, "BEGIN IMMEDIATE", ei);
	if (err != RF_OK) {
		pthread_mutex_unlock(&s->lock);
	}
	return err;
}

int
store_commit(struct store *s, struct rf_errinfo *ei)
{
	int err = store_exec(s, "COMMIT", ei);
	if (err != RF_OK) {
		/* A failed COMMIT may leave the transaction open. */
		if (!sqlite3_get_autocommit(s->db)) {
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		}
	} else {
		note_success(s);
	}
	pthread_mutex_unlock(&s->lock);
	return err;
}

void
store_rollback(struct store *s)
{
	/* A statement that failed for lack of space is why we roll back:
	 * its code is still the connection's last. */
	note_failure(s, sqlite3_errcode(s->db));
	if (!sqlite3_get_autocommit(s->db)) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	}
	pthread_mutex_unlock(&s->lock);
}

int
store_meta_set(struct store *s, const char *key, int64_t value)
{
	sqlite3_stmt *st;
	int err = store_prepare(s, "INSERT INTO meta (key, value) VALUES (?1, "
	    "?2) ON CONFLICT (key) DO UPDATE SET value = ?2", &st, NULL);
	if (err != RF_OK) {
		return err;
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, value);
	err = sqlite3_step(st) == SQLITE_DONE ? RF_OK : RF_ERR_STORE;
	sqlite3_finalize(st);
	return err;
}

int
store_meta_get(struct store *s, const char *key, int64_t def, int64_t *out)
{
	sqlite3_stmt *st;
	store_lock(s);
	int err = store_prepare(s, "SELECT value FROM meta WHERE key = ?1", &st,
	    NULL);
	if (err == RF_OK) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
		int rc = sqlite3_step(st);
		*out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : def;
		err = rc == SQLITE_ROW || rc == SQLITE_DONE ? RF_OK : RF_ERR_STORE;
		sqlite3_finalize(st);
	}
	store_unlock(s);
	return err;
}

int
store_meta_find(struct store *s, const char *key, int64_t *out, bool *found)
{
	sqlite3_stmt *st;
	store_lock(s);
	int err = store_prepare(s, "SELECT value FROM meta WHERE key = ?1", &st,
	    NULL);
	if (err == RF_OK) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
		int rc = sqlite3_step(st);
		*found = rc == SQLITE_ROW;
		if (rc == SQLITE_ROW) {
			*out = sqlite3_column_int64(st, 0);
		}
		err = rc == SQLITE_ROW || rc == SQLITE_DONE ? RF_OK : RF_ERR_STORE;
		sqlite3_finalize(st);
	}
	store_unlock(s);
	return err;
}
