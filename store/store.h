/*
 * store/store.h - each node's state in one SQLite file.
 *
 * A store is one connection in WAL mode with foreign keys on. Every state
 * change is one transaction (BEGIN IMMEDIATE ... COMMIT), and a node sends
 * its reply only after the commit, so a process killed at any instant
 * restarts exactly where its last reply said it was.
 *
 * One connection serves all of a node's threads: store_begin takes the
 * store's lock and store_commit/store_rollback release it, so transactions
 * never interleave. Reads outside a transaction use store_lock/unlock.
 * SQLite's own API is used directly for statements (sqlite3_prepare_v2 on
 * store_db(s)); errors go through store_fail, which maps the code and
 * copies sqlite3_errmsg at once (later calls may overwrite it).
 */
#ifndef RF_STORE_H
#define RF_STORE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rf.h"

struct store;

/*
 * Opens (creating if needed) the database at path, checks it
 * (store_check) and brings its schema up to date: migrations[i] is the SQL
 * that takes user_version i to i + 1, each applied in its own
 * transaction. A database newer than the code (user_version > n) is
 * refused, and so is a damaged one (RF_ERR_STORE, saying what SQLite
 * found).
 */
int store_open(const char *path, const char *const *migrations, size_t n,
    struct store **out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
/*
 * Opens an existing database read-only, without touching its schema: for
 * a tool that reads another process's records (WAL lets it read while that
 * process writes). RF_ERR_IO when the file cannot be opened.
 */
int store_open_readonly(const char *path, struct store **out,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));
void store_close(struct store *s);

/*
 * PRAGMA quick_check: every page and record readable, b-tree structure
 * and record formats intact (not index contents: that is integrity_check,
 * much slower). It reads the whole file, about a second per GB. Catches a
 * truncated file and most flipped bits in structure; a bit flipped inside
 * a stored value goes unseen (nodes check their own invariants on top).
 * RF_OK, or RF_ERR_STORE with SQLite's first complaint in ei.
 */
int store_check(struct store *s, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

/*
 * Binds the database to one node's public key (32 bytes), kept in a table
 * of its own (store_owner), so a node never runs on another node's state.
 * When the database has no owner yet it is recorded if adopt is true, and
 * RF_ERR_NOTFOUND is returned otherwise. A different owner gives
 * RF_ERR_CRYPTO with both keys' first hex digits in ei.
 */
int store_owner_bind(struct store *s, const uint8_t key[32], bool adopt,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));
sqlite3 *store_db(struct store *s);

/* Takes the lock and starts a write transaction. */
int store_begin(struct store *s, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
/* Commits and releases the lock; on failure rolls back (and releases). */
int store_commit(struct store *s, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));
void store_rollback(struct store *s);
/* For reads outside a transaction. */
void store_lock(struct store *s);
void store_unlock(struct store *s);

/* Runs SQL without results (schema, pragmas). */
int store_exec(struct store *s, const char *sql, struct rf_errinfo *ei);
/* Prepares a statement on the store's connection. */
int store_prepare(struct store *s, const char *sql, sqlite3_stmt **st,
    struct rf_errinfo *ei);
/*
 * A full disk (SQLITE_FULL: no space for the database or its log, or the
 * database at its size limit) is RF_ERR_FULL from every store call. The
 * store says "disk full" once in the log when the first write fails that
 * way, and once again when a transaction commits after it: a node that
 * retries every tick writes two lines, not one per retry. store_full
 * tells whether the last write failed for lack of space (callers back off
 * and answer peers with PROTO_ERR_DISK_FULL).
 */
bool store_full(struct store *s);
/* err, or RF_ERR_FULL when the connection's last failure was a full
 * disk: for errors reported by direct sqlite3_step calls. */
int store_classify(struct store *s, int err);

/* Maps an SQLite result code to RF_ERR_* with the message in ei. */
int store_fail(struct store *s, int rc, const char *what,
    struct rf_errinfo *ei);

/* One-row, one-column integer query; *found false when no row. */
int store_query_int(struct store *s, const char *sql, int64_t *out,
    bool *found, struct rf_errinfo *ei);

/*
 * Nodes keep small counters (an event cursor) in a table
 * meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL). set runs inside
 * the caller's transaction and creates the key if needed; get takes the
 * lock itself and gives def for a missing key.
 */
int store_meta_set(struct store *s, const char *key, int64_t value);
int store_meta_get(struct store *s, const char *key, int64_t def,
    int64_t *out);
/* Like store_meta_get, but says whether the key exists (*found) instead
 * of substituting a default; *out is written only when found. */
int store_meta_find(struct store *s, const char *key, int64_t *out,
    bool *found);

#endif
