/*
 * tests/challenger/challenger_test.c - what a challenger decides without
 * a network: which claims it samples (challenger_sampled: the rate, the
 * seed nobody else knows, the executors and models always checked), its
 * fault names, and the reader of its verification records
 * (challenger_records_read) on good and damaged databases.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <unistd.h>

#include "challenger/challenger.h"
#include "tests/testlib.h"

#define SUITE PROTO_HASH_BLAKE2B
#define JOBS 20000

static struct proto_digest jobs[JOBS];

static int
init(void)
{
	if (proto_init() != RF_OK) {
		return 1;
	}
	for (uint32_t i = 0; i < JOBS; i++) {
		uint8_t b[4] = { (uint8_t)i, (uint8_t)(i >> 8),
			(uint8_t)(i >> 16), 0x5a };
		proto_hash(SUITE, b, sizeof(b), &jobs[i]);
	}
	return 0;
}

static void
config(struct challenger_config *c, double rate, uint64_t seed)
{
	memset(c, 0, sizeof(*c));
	c->node.suite = SUITE;
	c->rate = rate;
	c->seed = seed;
	c->seed_set = true;
}

static struct proto_pubkey
key(uint8_t v)
{
	struct proto_pubkey k;
	memset(&k, v, sizeof(k));
	return k;
}

static size_t
count_sampled(const struct challenger_config *c, const struct proto_pubkey *x,
    const struct proto_digest *model)
{
	size_t n = 0;
	for (size_t i = 0; i < JOBS; i++) {
		n += challenger_sampled(c, &jobs[i], x, model);
	}
	return n;
}

static void
test_rate(void)
{
	struct challenger_config c;
	struct proto_pubkey x = key(1);
	struct proto_digest model;
	proto_hash(SUITE, "model", 5, &model);
	config(&c, 0.0, 1);
	CU_ASSERT_EQUAL(count_sampled(&c, &x, &model), 0);
	config(&c, 1.0, 1);
	CU_ASSERT_EQUAL(count_sampled(&c, &x, &model), JOBS);
	/* The share follows the rate (the hash is fixed, so are these
	 * counts: bounds of about four standard deviations). */
	static const double rates[] = { 0.01, 0.1, 0.3, 0.5, 0.9 };
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		config(&c, rates[i], 42);
		double n = (double)count_sampled(&c, &x, &model);
		double want = rates[i] * JOBS;
		double sd = 0;
		for (double v = want * (1 - rates[i]); sd * sd < v; sd += 1) {
		}
		CU_ASSERT(n > want - 4 * sd && n < want + 4 * sd);
	}
}

static void
test_seed(void)
{
	struct challenger_config a, b;
	struct proto_pubkey x = key(1), y = key(2);
	config(&a, 0.5, 1);
	config(&b, 0.5, 2);
	size_t same = 0, again = 0, other_exec = 0;
	for (size_t i = 0; i < JOBS; i++) {
		bool sa = challenger_sampled(&a, &jobs[i], &x, NULL);
		same += sa == challenger_sampled(&b, &jobs[i], &x, NULL);
		again += sa == challenger_sampled(&a, &jobs[i], &x, NULL);
		/* The job decides, not who claims it: an executor cannot
		 * grind keys for a key the sample misses. */
		other_exec += sa == challenger_sampled(&a, &jobs[i], &y, NULL);
	}
	/* Reproducible for one seed; another seed is another sample (about
	 * half the decisions agree by chance). */
	CU_ASSERT_EQUAL(again, JOBS);
	CU_ASSERT_EQUAL(other_exec, JOBS);
	CU_ASSERT(same > JOBS * 45 / 100 && same < JOBS * 55 / 100);
	/* Seeds that differ in any byte give other samples. */
	for (int byte = 0; byte < 8; byte++) {
		config(&b, 0.5, 1 ^ ((uint64_t)0x80 << (8 * byte)));
		size_t agree = 0;
		for (size_t i = 0; i < 2000; i++) {
			agree += challenger_sampled(&a, &jobs[i], &x, NULL) ==
			    challenger_sampled(&b, &jobs[i], &x, NULL);
		}
		CU_ASSERT(agree < 1200);
	}
}

static void
test_always(void)
{
	struct challenger_config c;
	struct proto_pubkey x = key(1), watched = key(7);
	struct proto_digest model, other;
	proto_hash(SUITE, "model", 5, &model);
	proto_hash(SUITE, "other", 5, &other);
	config(&c, 0.0, 1);
	c.always_executors[0] = key(6);
	c.always_executors[1] = watched;
	c.n_always_executors = 2;
	c.always_models[0] = model;
	c.n_always_models = 1;
	CU_ASSERT_EQUAL(count_sampled(&c, &watched, &other), JOBS);
	CU_ASSERT_EQUAL(count_sampled(&c, &x, &model), JOBS);
	CU_ASSERT_EQUAL(count_sampled(&c, &x, &other), 0);
	/* Without a model (unknown yet), only the executor list counts. */
	CU_ASSERT_EQUAL(count_sampled(&c, &x, NULL), 0);
	CU_ASSERT_EQUAL(count_sampled(&c, &watched, NULL), JOBS);
	/* A key one byte off is not on the list. */
	struct proto_pubkey near = watched;
	near.b[PROTO_KEY_LEN - 1] ^= 1;
	CU_ASSERT_EQUAL(count_sampled(&c, &near, &other), 0);
}

static void
test_faults_named(void)
{
	for (int i = CHALLENGER_FAULT_NONE; i <= CHALLENGER_FAULT_SILENT; i++) {
		enum challenger_fault f = CHALLENGER_FAULT_SILENT;
		const char *name = challenger_fault_name((enum challenger_fault)i);
		CU_ASSERT(strcmp(name, "?") != 0);
		CU_ASSERT_EQUAL(challenger_fault_parse(name, &f), RF_OK);
		CU_ASSERT_EQUAL((int)f, i);
	}
	enum challenger_fault f = CHALLENGER_FAULT_SILENT;
	CU_ASSERT_EQUAL(challenger_fault_parse("lie", &f), RF_ERR_INVAL);
	CU_ASSERT_EQUAL(f, CHALLENGER_FAULT_SILENT);
}

/* ---- Records ---------------------------------------------------------- */

struct seen {
	struct challenger_record rec[8];
	size_t n;
	size_t stop_at; /* return RF_ERR_ABORTED at this record */
};

static int
collect(void *ctx, const struct challenger_record *rec)
{
	struct seen *s = ctx;
	if (s->n == s->stop_at) {
		return RF_ERR_ABORTED;
	}
	if (s->n < 8) {
		s->rec[s->n] = *rec;
	}
	s->n++;
	return RF_OK;
}

/* A verifications table as the challenger writes it (its first columns). */
static void
make_db(const char *path, const char *extra_sql)
{
	sqlite3 *db;
	CU_ASSERT_FATAL(sqlite3_open(path, &db) == SQLITE_OK);
	char sql[1024];
	snprintf(sql, sizeof(sql), "CREATE TABLE verifications (job_id BLOB "
	    "PRIMARY KEY, executor BLOB NOT NULL, outcome INTEGER NOT NULL);"
	    "INSERT INTO verifications VALUES (x'%064d', x'%064d', 2);"
	    "INSERT INTO verifications VALUES (x'%063d1', x'%063d2', 4);%s",
	    0, 0, 0, 0, extra_sql);
	CU_ASSERT_FATAL(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
}

static void
test_records(void)
{
	char dir[] = "/tmp/rf-challenger-test-XXXXXX";
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	char path[96];
	snprintf(path, sizeof(path), "%s/c.db", dir);
	make_db(path, "");
	struct seen s;
	memset(&s, 0, sizeof(s));
	s.stop_at = SIZE_MAX;
	struct rf_errinfo ei = { "" };
	CU_ASSERT_EQUAL(challenger_records_read(path, SUITE, collect, &s, &ei),
	    RF_OK);
	CU_ASSERT_EQUAL_FATAL(s.n, 2);
	CU_ASSERT_EQUAL(s.rec[0].outcome, CHALLENGER_MISMATCH);
	CU_ASSERT_EQUAL(s.rec[1].outcome, CHALLENGER_SKIPPED);
	CU_ASSERT_EQUAL(s.rec[1].job_id.b[31], 1);
	CU_ASSERT_EQUAL(s.rec[1].executor.b[31], 2);
	/* The callback's error stops the reading and comes back. */
	memset(&s, 0, sizeof(s));
	s.stop_at = 1;
	CU_ASSERT_EQUAL(challenger_records_read(path, SUITE, collect, &s, &ei),
	    RF_ERR_ABORTED);
	CU_ASSERT_EQUAL(s.n, 1);
	/* A job id or an executor key of the wrong length: refused, after
	 * the good records. */
	static const char *const damaged[] = {
		"INSERT INTO verifications VALUES (x'00', x'0000000000000000"
		"000000000000000000000000000000000000000000000003', 1);",
		"INSERT INTO verifications VALUES (x'000000000000000000000000"
		"0000000000000000000000000000000000000003', x'00', 1);",
	};
	for (size_t i = 0; i < 2; i++) {
		unlink(path);
		make_db(path, damaged[i]);
		memset(&s, 0, sizeof(s));
		s.stop_at = SIZE_MAX;
		ei.msg[0] = '\0';
		CU_ASSERT_EQUAL(challenger_records_read(path, SUITE, collect, &s,
		    &ei), RF_ERR_STORE);
		CU_ASSERT_PTR_NOT_NULL(strstr(ei.msg, "malformed key"));
		CU_ASSERT_EQUAL(s.n, 2);
	}
	unlink(path);
	/* No such file; a file that is not a database. */
	CU_ASSERT(challenger_records_read(path, SUITE, collect, &s, &ei) !=
	    RF_OK);
	CU_ASSERT_FATAL(test_write_file(path, "not sqlite at all, no", 21,
	    0600) == 0);
	CU_ASSERT(challenger_records_read(path, SUITE, collect, &s, &ei) !=
	    RF_OK);
	unlink(path);
	rmdir(dir);
}

static CU_TestInfo tests[] = {
	{ "the sample follows the rate", test_rate },
	{ "the seed decides, not the executor", test_seed },
	{ "executors and models always checked", test_always },
	{ "fault names", test_faults_named },
	{ "verification records", test_records },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "challenger", init, NULL, NULL, NULL, tests },
	CU_SUITE_INFO_NULL,
};

int
main(void)
{
	return test_main(suites);
}
