/*
 * tests/store/store_test.c - the SQLite store: migrations applied once and
 * in order, a newer schema refused, transactions all-or-nothing, threads
 * never interleaving transactions, and a process killed mid-transaction
 * or right after a commit leaving exactly the committed state.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "tests/testlib.h"

static char path[256];

static const char *const schema[] = {
	"CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);"
	"INSERT INTO counter VALUES (1, 0);",
	"CREATE TABLE log (id INTEGER PRIMARY KEY, what TEXT NOT NULL);",
};

static int
setup(void)
{
	snprintf(path, sizeof(path), "/tmp/rf-store-%d.db", (int)getpid());
	return 0;
}

static void
remove_db(void)
{
	char p[300];
	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}

static int64_t
counter(struct store *s)
{
	int64_t n = -1;
	bool found = false;
	store_lock(s);
	CU_ASSERT(store_query_int(s, "SELECT n FROM counter WHERE id = 1", &n,
	    &found, NULL) == RF_OK);
	store_unlock(s);
	CU_ASSERT(found);
	return n;
}

static void
test_migrations(void)
{
	struct store *s;
	struct rf_errinfo ei;
	int64_t v;
	bool found;
	remove_db();
	/* First the one-step schema, then the two-step one on top. */
	CU_ASSERT_FATAL(store_open(path, schema, 1, &s, &ei) == RF_OK);
	CU_ASSERT(store_query_int(s, "PRAGMA user_version", &v, &found,
	    NULL) == RF_OK && v == 1);
	store_close(s);
	CU_ASSERT_FATAL(store_open(path, schema, 2, &s, &ei) == RF_OK);
	CU_ASSERT(store_query_int(s, "PRAGMA user_version", &v, &found,
	    NULL) == RF_OK && v == 2);
	sqlite3_stmt *st;
	CU_ASSERT_FATAL(store_prepare(s, "PRAGMA journal_mode", &st, NULL) ==
	    RF_OK);
	CU_ASSERT(sqlite3_step(st) == SQLITE_ROW &&
	    strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0);
	sqlite3_finalize(st);
	CU_ASSERT(counter(s) == 0);
	store_close(s);
	/* Older code meets a newer database: refused, not damaged. */
	CU_ASSERT(store_open(path, schema, 1, &s, &ei) == RF_ERR_VERSION);
	CU_ASSERT(strstr(ei.msg, "newer") != NULL);
	/* A broken migration leaves the version where it was. */
	const char *const broken[] = { schema[0], schema[1], "CREATE TABLE (" };
	CU_ASSERT(store_open(path, broken, 3, &s, &ei) == RF_ERR_STORE);
	CU_ASSERT(strstr(ei.msg, "migration 3") != NULL);
	CU_ASSERT_FATAL(store_open(path, schema, 2, &s, &ei) == RF_OK);
	store_close(s);
}

static void
test_rollback(void)
{
	struct store *s;
	remove_db();
	CU_ASSERT_FATAL(store_open(path, schema, 2, &s, NULL) == RF_OK);
	CU_ASSERT_FATAL(store_begin(s, NULL) == RF_OK);
	CU_ASSERT(store_exec(s, "UPDATE counter SET n = 5", NULL) == RF_OK);
	CU_ASSERT(store_exec(s, "INSERT INTO log VALUES (1, 'a')", NULL) ==
	    RF_OK);
	/* A constraint failure mid-transaction: the caller rolls back all. */
	struct rf_errinfo ei;
	CU_ASSERT(store_exec(s, "INSERT INTO log VALUES (1, 'dup')", &ei) ==
	    RF_ERR_STORE);
	store_rollback(s);
	CU_ASSERT(counter(s) == 0);
	int64_t n;
	bool found;
	CU_ASSERT(store_query_int(s, "SELECT count(*) FROM log", &n, &found,
	    NULL) == RF_OK && n == 0);
	store_close(s);
}

struct worker {
	struct store *s;
	int rounds;
	int failures;
};

static void *
incrementer(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < w->rounds; i++) {
		int64_t n;
		bool found;
		char sql[64];
		/* Read-modify-write: only correct if transactions never
		 * interleave. */
		if (store_begin(w->s, NULL) != RF_OK) {
			w->failures++;
			continue;
		}
		if (store_query_int(w->s, "SELECT n FROM counter WHERE id = 1",
		    &n, &found, NULL) != RF_OK) {
			store_rollback(w->s);
			w->failures++;
			continue;
		}
		snprintf(sql, sizeof(sql), "UPDATE counter SET n = %lld",
		    (long long)(n + 1));
		if (store_exec(w->s, sql, NULL) != RF_OK) {
			store_rollback(w->s);
			w->failures++;
			continue;
		}
		if (store_commit(w->s, NULL) != RF_OK) {
			w->failures++;
		}
	}
	return NULL;
}

static void
test_threads_serialized(void)
{
	struct store *s;
	remove_db();
	CU_ASSERT_FATAL(store_open(path, schema, 2, &s, NULL) == RF_OK);
	pthread_t t[4];
	struct worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ s, 200, 0 };
		pthread_create(&t[i], NULL, incrementer, &w[i]);
	}
	int failures = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		failures += w[i].failures;
	}
	CU_ASSERT_EQUAL(failures, 0);
	CU_ASSERT_EQUAL(counter(s), 800);
	store_close(s);
}

/* A child process changes the counter and dies without closing. */
static void
child_dies(bool commit)
{
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		struct store *s;
		if (store_open(path, schema, 2, &s, NULL) != RF_OK ||
		    store_begin(s, NULL) != RF_OK ||
		    store_exec(s, "UPDATE counter SET n = n + 1", NULL) != RF_OK) {
			_exit(1);
		}
		if (commit && store_commit(s, NULL) != RF_OK) {
			_exit(1);
		}
		/* No close, no rollback: as if killed. */
		raise(SIGKILL);
		_exit(2);
	}
	int st;
	waitpid(pid, &st, 0);
	CU_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

static void
test_killed_process(void)
{
	struct store *s;
	remove_db();
	CU_ASSERT_FATAL(store_open(path, schema, 2, &s, NULL) == RF_OK);
	store_close(s);
	child_dies(false);
	child_dies(true);
	child_dies(false);
	child_dies(true);
	CU_ASSERT_FATAL(store_open(path, schema, 2, &s, NULL) == RF_OK);
	CU_ASSERT_EQUAL(counter(s), 2);
	store_close(s);
	remove_db();
}

static void
test_meta(void)
{
	static const char *const with_meta[] = {
		"CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);",
	};
	struct store *s;
	int64_t v = 0;
	remove_db();
	CU_ASSERT_FATAL(store_open(path, with_meta, 1, &s, NULL) == RF_OK);
	CU_ASSERT(store_meta_get(s, "cursor", 7, &v) == RF_OK && v == 7);
	CU_ASSERT_FATAL(store_begin(s, NULL) == RF_OK);
	CU_ASSERT(store_meta_set(s, "cursor", 41) == RF_OK);
	CU_ASSERT(store_meta_set(s, "cursor", 42) == RF_OK);
	CU_ASSERT(store_commit(s, NULL) == RF_OK);
	CU_ASSERT(store_meta_get(s, "cursor", 7, &v) == RF_OK && v == 42);
	/* A rolled-back set leaves the value. */
	CU_ASSERT_FATAL(store_begin(s, NULL) == RF_OK);
	CU_ASSERT(store_meta_set(s, "cursor", 99) == RF_OK);
	store_rollback(s);
	CU_ASSERT(store_meta_get(s, "cursor", 7, &v) == RF_OK && v == 42);
	store_close(s);
	remove_db();
}

static void
test_open_errors(void)
{
	struct store *s;
	struct rf_errinfo ei;
	CU_ASSERT(store_open("/nonexistent-dir/x.db", schema, 2, &s, &ei) ==
	    RF_ERR_IO);
	CU_ASSERT(strstr(ei.msg, "/nonexistent-dir/x.db") != NULL);
	/* A file that is not a database. */
	FILE *f = fopen(path, "w");
	fputs("this is not an SQLite database, not at all, no", f);
	fclose(f);
	CU_ASSERT(store_open(path, schema, 2, &s, &ei) != RF_OK);
	remove_db();
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "migrations", test_migrations },
		{ "rollback is all or nothing", test_rollback },
		{ "threads never interleave", test_threads_serialized },
		{ "killed process loses nothing committed", test_killed_process },
		{ "meta counters", test_meta },
		{ "open errors", test_open_errors },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "store", setup, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
