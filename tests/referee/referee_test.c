/*
 * tests/referee/referee_test.c - the referee's parts below the request
 * loop, each on a temporary SQLite file: the genesis parser (every kind
 * of bad line, named; out of memory), what validate.c derives from a
 * registered graph and checks of a job against it, referee_ledger_apply
 * carrying out chain/ effects inside a transaction (and a failing one
 * rolled back whole), the ledger check that halts the referee, and the
 * restart that shifts open clocks by the downtime.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "bisect/bisect.h"
#include "chain/chain.h"
#include "engine/engine.h"
#include "node/node.h"
#include "referee/referee_int.h"
#include "tests/testlib.h"

#define SUITE PROTO_HASH_BLAKE2B

/* ------------------------------------------------------------------ */
/* Fixtures                                                             */
/* ------------------------------------------------------------------ */

static struct proto_pubkey key_a, key_b, key_c;
static char hex_a[65], hex_b[65], hex_c[65];

static void
make_key(struct proto_pubkey *k, char hex[65], uint8_t seed)
{
	struct proto_identity id;
	uint8_t s[32];
	memset(s, seed, sizeof(s));
	proto_identity_from_seed(&id, s);
	*k = id.pk;
	proto_pubkey_hex(k, hex);
	proto_identity_wipe(&id);
}

static int
suite_init(void)
{
	if (proto_init() != RF_OK) {
		return 1;
	}
	make_key(&key_a, hex_a, 1);
	make_key(&key_b, hex_b, 2);
	make_key(&key_c, hex_c, 3);
	return 0;
}

/* A referee without sockets: its configuration, identity and store. */
struct fix {
	struct referee r;
	struct referee_config cfg;
	char dir[64];
	char path[96];
};

static struct fix *
fix_open(const char *genesis)
{
	struct fix *f = calloc(1, sizeof(*f));
	CU_ASSERT_FATAL(f != NULL);
	snprintf(f->dir, sizeof(f->dir), "/tmp/rf-referee-test-XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(f->dir) != NULL);
	snprintf(f->path, sizeof(f->path), "%s/referee.db", f->dir);
	uint8_t seed[32];
	memset(seed, 9, sizeof(seed));
	proto_identity_from_seed(&f->cfg.identity, seed);
	f->cfg.db_path = f->path;
	f->r.cfg = &f->cfg;
	struct rf_errinfo ei = { "" };
	CU_ASSERT_FATAL(store_open(f->path, referee_schema, referee_schema_len,
	    &f->r.db, &ei) == RF_OK);
	struct referee_genesis g;
	int err = referee_genesis_parse(genesis, strlen(genesis), &g, &ei);
	if (err != RF_OK) {
		fprintf(stderr, "\n  genesis: %s\n", ei.msg);
	}
	CU_ASSERT_FATAL(err == RF_OK);
	CU_ASSERT_FATAL(referee_db_genesis(&f->r, &g, &ei) == RF_OK);
	referee_genesis_free(&g);
	return f;
}

static void
fix_close(struct fix *f)
{
	char p[128];
	referee_db_cache_free(&f->r);
	store_close(f->r.db);
	static const char *const ext[] = { "", "-wal", "-shm" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, ext[i]);
		unlink(p);
	}
	rmdir(f->dir);
	proto_identity_wipe(&f->cfg.identity);
	free(f);
}

/* Genesis text with accounts a, b and c holding 1000 each. */
static char genesis_abc[1024];

static const char *
genesis3(const char *extra)
{
	snprintf(genesis_abc, sizeof(genesis_abc), "%saccount %s 1000\n"
	    "account %s 1000\naccount %s 1000\n", extra, hex_a, hex_b, hex_c);
	return genesis_abc;
}

/* One integer from a query with no arguments. */
static int64_t
sql_int(struct fix *f, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;
	CU_ASSERT_FATAL(sqlite3_prepare_v2(store_db(f->r.db), sql, -1, &st,
	    NULL) == SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW) {
		v = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return v;
}

static void
sql_exec(struct fix *f, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(store_db(f->r.db), sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		fprintf(stderr, "\n  %s: %s\n", sql, msg);
	}
	sqlite3_free(msg);
	CU_ASSERT_FATAL(rc == SQLITE_OK);
}

static struct account
account_of(struct fix *f, const struct proto_pubkey *k)
{
	struct account a;
	store_lock(f->r.db);
	CU_ASSERT_FATAL(referee_ledger_account(&f->r, k, &a) == RF_OK);
	store_unlock(f->r.db);
	return a;
}

/* The invariant: what the ledger holds adds up to what genesis minted. */
static bool
ledger_whole(struct fix *f)
{
	uint64_t total = 0, burned = 0;
	int64_t minted = -1;
	store_lock(f->r.db);
	int err = referee_ledger_total(&f->r, &total, &burned);
	int err2 = referee_db_meta_get(&f->r, "minted", &minted);
	store_unlock(f->r.db);
	return err == RF_OK && err2 == RF_OK && total == (uint64_t)minted;
}

/* ------------------------------------------------------------------ */
/* Genesis                                                              */
/* ------------------------------------------------------------------ */

static void
test_genesis_good(void)
{
	char text[2048];
	snprintf(text, sizeof(text),
	    "# a test network\n"
	    "suite xxh3-128\n"
	    "window_ms 5000   # five seconds\n"
	    "\tmin_stake\t2000\r\n"
	    "min_bond 300\n"
	    "reward_pct 40\n"
	    "arity 4\n"
	    "clock_ms 20000\n"
	    "grace_ms 0\n"
	    "\n"
	    "   \n"
	    "referee %s\n"
	    "account %s 18446744073709551\n"
	    "account %s 0\n",
	    hex_c, hex_a, hex_b);
	struct referee_genesis g;
	struct rf_errinfo ei = { "" };
	int err = referee_genesis_parse(text, strlen(text), &g, &ei);
	CU_ASSERT_EQUAL_FATAL(err, RF_OK);
	CU_ASSERT_EQUAL(g.params.suite, PROTO_HASH_XXH3);
	CU_ASSERT_EQUAL(g.params.window_ms, 5000);
	CU_ASSERT_EQUAL(g.params.min_stake, 2000);
	CU_ASSERT_EQUAL(g.params.min_bond, 300);
	CU_ASSERT_EQUAL(g.params.reward_pct, 40);
	CU_ASSERT_EQUAL(g.params.arity, 4);
	CU_ASSERT_EQUAL(g.params.clock_ms, 20000);
	CU_ASSERT_EQUAL(g.params.grace_ms, 0);
	/* Unset: collateral and penalty follow min_stake and min_bond. */
	CU_ASSERT_EQUAL(g.params.claim_collateral, 2000);
	CU_ASSERT_EQUAL(g.params.deadline_penalty, 300);
	CU_ASSERT_EQUAL(g.params.job_deadline_ms, 600000);
	CU_ASSERT_EQUAL(g.params.min_fee, 1);
	CU_ASSERT_EQUAL(g.params.max_open_jobs, 1024);
	CU_ASSERT_EQUAL(g.params.register_fee, REFEREE_DEFAULT_REGISTER_FEE);
	CU_ASSERT(g.has_referee &&
	    memcmp(g.referee.b, key_c.b, PROTO_KEY_LEN) == 0);
	CU_ASSERT_EQUAL_FATAL(g.n_accounts, 2);
	CU_ASSERT(memcmp(g.keys[0].b, key_a.b, PROTO_KEY_LEN) == 0);
	CU_ASSERT_EQUAL(g.balances[0], 18446744073709551ull);
	CU_ASSERT_EQUAL(g.balances[1], 0);
	referee_genesis_free(&g);
	CU_ASSERT_PTR_NULL(g.keys);

	/* Given explicitly, they do not follow. */
	snprintf(text, sizeof(text), "min_stake 10\nclaim_collateral 3\n"
	    "deadline_penalty 0\nmax_open_jobs 0\naccount %s 5\n", hex_a);
	CU_ASSERT_EQUAL_FATAL(referee_genesis_parse(text, strlen(text), &g,
	    NULL), RF_OK);
	CU_ASSERT_EQUAL(g.params.claim_collateral, 3);
	CU_ASSERT_EQUAL(g.params.deadline_penalty, 0);
	CU_ASSERT_EQUAL(g.params.max_open_jobs, 0);
	referee_genesis_free(&g);
	/* The last line needs no newline. */
	snprintf(text, sizeof(text), "account %s 5", hex_a);
	CU_ASSERT_EQUAL(referee_genesis_parse(text, strlen(text), &g, NULL),
	    RF_OK);
	referee_genesis_free(&g);
}

struct bad_genesis {
	const char *body; /* %s: a key's hex; %S: the other key's */
	int err;
	const char *says; /* in the message */
};

static void
test_genesis_bad(void)
{
	static const struct bad_genesis bad[] = {
		{ "window_ms 10\nwindow_ms 20\n", RF_ERR_FORMAT,
		    "line 2: 'window_ms' is given twice" },
		{ "colour blue\n", RF_ERR_FORMAT, "line 1: unknown key 'colour'" },
		{ "window_ms\n", RF_ERR_FORMAT, "line 1: 'window_ms' takes one" },
		{ "window_ms 1 2\n", RF_ERR_FORMAT, "takes one value" },
		{ "window_ms 1 2 3 4\n", RF_ERR_FORMAT, "too many words" },
		{ "window_ms -5\n", RF_ERR_FORMAT, "whole number in 1.." },
		{ "window_ms 0\n", RF_ERR_FORMAT, "whole number in 1.." },
		{ "window_ms 12ms\n", RF_ERR_FORMAT, "whole number" },
		{ "window_ms 0x10\n", RF_ERR_FORMAT, "whole number" },
		{ "window_ms 99999999999999999999999\n", RF_ERR_FORMAT,
		    "whole number" },
		{ "reward_pct 101\n", RF_ERR_FORMAT, "in 0..100" },
		{ "arity 1\n", RF_ERR_FORMAT, "'arity' must be" },
		{ "arity 17\n", RF_ERR_FORMAT, "'arity' must be" },
		{ "grace_ms 86400001\n", RF_ERR_FORMAT, "'grace_ms' must be" },
		{ "suite sha1\n", RF_ERR_FORMAT, "suite must be" },
		{ "referee abc\n", RF_ERR_FORMAT, "expected 'referee <64" },
		{ "referee %s\nreferee %s\n", RF_ERR_FORMAT,
		    "line 2: 'referee' is given twice" },
		{ "account %s\n", RF_ERR_FORMAT, "expected 'account" },
		{ "account %s -1\n", RF_ERR_FORMAT, "expected 'account" },
		{ "account %s 1\naccount %s 2\n", RF_ERR_FORMAT,
		    "line 2: account" },
		{ "account %s 4611686018427387904\n", RF_ERR_RANGE,
		    "total supply too large" },
		{ "# nothing\n\n", RF_ERR_FORMAT, "genesis has no accounts" },
		{ "", RF_ERR_FORMAT, "genesis has no accounts" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[512];
		/* Every %s is key a. */
		const char *p = bad[i].body;
		size_t n = 0;
		for (; *p != '\0' && n < sizeof(text) - 70; p++) {
			if (p[0] == '%' && p[1] == 's') {
				n += (size_t)snprintf(text + n, sizeof(text) - n,
				    "%s", hex_a);
				p++;
			} else {
				text[n++] = *p;
			}
		}
		text[n] = '\0';
		/* Accounts enough for a valid file otherwise (first, so the
		 * bad line's number is as written + 0). */
		char full[1024];
		bool has_account = strstr(bad[i].body, "account") != NULL ||
		    strstr(bad[i].says, "no accounts") != NULL;
		snprintf(full, sizeof(full), "%s%s%s%s", text,
		    has_account ? "" : "account ", has_account ? "" : hex_b,
		    has_account ? "" : " 1\n");
		struct referee_genesis g;
		memset(&g, 0x5a, sizeof(g));
		struct referee_genesis sentinel = g;
		struct rf_errinfo ei = { "" };
		int err = referee_genesis_parse(full, strlen(full), &g, &ei);
		if (err != bad[i].err || strstr(ei.msg, bad[i].says) == NULL) {
			fprintf(stderr, "\n  case %zu: got %d '%s', want %d '%s'",
			    i, err, ei.msg, bad[i].err, bad[i].says);
		}
		CU_ASSERT_EQUAL(err, bad[i].err);
		CU_ASSERT_PTR_NOT_NULL(strstr(ei.msg, bad[i].says));
		/* Written only on success. */
		CU_ASSERT(memcmp(&g, &sentinel, sizeof(g)) == 0);
	}
}

static void
test_genesis_framing(void)
{
	char text[1024];
	struct referee_genesis g;
	struct rf_errinfo ei = { "" };
	/* A NUL inside a line (the file is bytes, not a C string). */
	int n = snprintf(text, sizeof(text), "account %s 1\nwindow_ms 5", hex_a);
	text[n - 2] = '\0';
	CU_ASSERT_EQUAL(referee_genesis_parse(text, (size_t)n, &g, &ei),
	    RF_ERR_FORMAT);
	CU_ASSERT_PTR_NOT_NULL(strstr(ei.msg, "line 2 has a NUL"));
	/* A line longer than 256 bytes, even a comment. */
	n = snprintf(text, sizeof(text), "account %s 1\n#", hex_a);
	memset(text + n, 'c', 300);
	n += 300;
	CU_ASSERT_EQUAL(referee_genesis_parse(text, (size_t)n, &g, &ei),
	    RF_ERR_FORMAT);
	CU_ASSERT_PTR_NOT_NULL(strstr(ei.msg, "line 2 is longer than 256"));
	/* Only len bytes are read: the account after it is not seen. */
	n = snprintf(text, sizeof(text), "window_ms 5\naccount %s 1\n", hex_a);
	CU_ASSERT_EQUAL(referee_genesis_parse(text, 12, &g, &ei),
	    RF_ERR_FORMAT);
	CU_ASSERT_PTR_NOT_NULL(strstr(ei.msg, "no accounts"));
}

/* Out of memory while the accounts grow: RF_ERR_NOMEM, nothing leaked. */
struct genesis_case {
	char *text;
	size_t len;
	size_t accounts;
};

static int
genesis_op(void *ctx)
{
	struct genesis_case *c = ctx;
	struct referee_genesis g;
	int err = referee_genesis_parse(c->text, c->len, &g, NULL);
	if (err != RF_OK) {
		return err;
	}
	bool ok = g.n_accounts == c->accounts &&
	    g.balances[c->accounts - 1] == c->accounts;
	referee_genesis_free(&g);
	return ok ? RF_OK : TESTLIB_WRONG;
}

static void
test_genesis_nomem(void)
{
	struct genesis_case c = { NULL, 0, 40 };
	c.text = malloc(c.accounts * 100);
	CU_ASSERT_FATAL(c.text != NULL);
	for (size_t i = 0; i < c.accounts; i++) {
		struct proto_pubkey k;
		char hex[65];
		make_key(&k, hex, (uint8_t)(10 + i));
		c.len += (size_t)snprintf(c.text + c.len, 100, "account %s %zu\n", hex,
		    i + 1);
	}
	CU_ASSERT(testlib_alloc_fail_loop(genesis_op, &c) > 0);
	free(c.text);
}

/* ------------------------------------------------------------------ */
/* validate.c                                                           */
/* ------------------------------------------------------------------ */

/* x f32[d0,d1] -> MatMul w f32[3,4] -> Relu: the graph's bytes. */
static uint8_t *
small_graph(int64_t d0, int64_t d1, size_t *len)
{
	struct engine_model *m = engine_model_alloc("small");
	CU_ASSERT_FATAL(m != NULL);
	int x, w, y, z;
	int64_t xd[2] = { d0, d1 };
	static const int64_t wd[2] = { 3, 4 };
	CU_ASSERT_FATAL(engine_model_add_input(m, "x", TENSOR_F32, 2, xd, &x,
	    NULL) == RF_OK);
	struct tensor wt;
	CU_ASSERT_FATAL(engine_tensor_init(&wt, TENSOR_F32, 2, wd) == RF_OK);
	CU_ASSERT_FATAL(engine_model_add_weight(m, "w", &wt, &w, NULL) ==
	    RF_OK);
	const char *yn[1] = { "y" }, *zn[1] = { "z" };
	int mm_in[2] = { x, w };
	CU_ASSERT_FATAL(engine_model_add_op(m, ENGINE_OP_MATMUL, "mm", mm_in,
	    2, yn, 1, NULL, 0, &y, NULL) == RF_OK);
	CU_ASSERT_FATAL(engine_model_add_op(m, ENGINE_OP_RELU, "relu", &y, 1,
	    zn, 1, NULL, 0, &z, NULL) == RF_OK);
	CU_ASSERT_FATAL(engine_model_add_output(m, z, NULL) == RF_OK);
	uint8_t *g = NULL;
	CU_ASSERT_FATAL(engine_model_encode_graph(m, &g, len) == RF_OK);
	engine_model_free(m);
	return g;
}

static void
test_model_derive(void)
{
	size_t len;
	uint8_t *g = small_graph(2, 3, &len);
	struct model_spec s;
	struct rf_errinfo ei = { "" };
	CU_ASSERT_EQUAL_FATAL(referee_model_derive(SUITE, g, len, &s, &ei),
	    RF_OK);
	CU_ASSERT_EQUAL(s.n_ops, 2);
	CU_ASSERT_EQUAL(s.n_inputs, 1);
	CU_ASSERT_EQUAL(s.n_leaves, 2);  /* the graph and one weight */
	CU_ASSERT_EQUAL(s.out_leaf, 2);  /* the Relu: entry 1 + 1 */
	CU_ASSERT_EQUAL(s.in[0].dtype, TENSOR_F32);
	CU_ASSERT_EQUAL(s.in[0].rank, 2);
	CU_ASSERT(s.in[0].dims[0] == 2 && s.in[0].dims[1] == 3);
	/* Every truncation is refused, never derived from a prefix. */
	for (size_t cut = 0; cut < len; cut++) {
		struct model_spec t;
		CU_ASSERT(referee_model_derive(SUITE, g, cut, &t, NULL) != RF_OK);
	}
	free(g);
	/* A graph that cannot run is refused by its operator. */
	g = small_graph(2, 5, &len);
	ei.msg[0] = '\0';
	CU_ASSERT_EQUAL(referee_model_derive(SUITE, g, len, &s, &ei),
	    RF_ERR_SHAPE);
	CU_ASSERT_PTR_NOT_NULL(strstr(ei.msg, "MatMul"));
	free(g);
}

/* A registration's graph under allocation failures: the same spec, or
 * out of memory; an unrunnable graph stays refused. */
struct derive_case {
	uint8_t *graph;
	size_t len;
	int want;
};

static int
derive_op(void *ctx)
{
	struct derive_case *c = ctx;
	struct model_spec s;
	int err = referee_model_derive(SUITE, c->graph, c->len, &s, NULL);
	if (c->want != RF_OK) {
		return err == c->want ? RF_OK : err == RF_OK ? TESTLIB_WRONG :
		    err;
	}
	if (err != RF_OK) {
		return err;
	}
	return s.n_ops == 2 && s.n_leaves == 2 && s.out_leaf == 2 ?
	    RF_OK : TESTLIB_WRONG;
}

static void
test_model_derive_nomem(void)
{
	struct derive_case c = { NULL, 0, RF_OK };
	c.graph = small_graph(2, 3, &c.len);
	CU_ASSERT(testlib_alloc_fail_loop(derive_op, &c) > 0);
	free(c.graph);
	c.graph = small_graph(2, 5, &c.len);
	c.want = RF_ERR_SHAPE;
	CU_ASSERT(testlib_alloc_fail_loop(derive_op, &c) > 0);
	free(c.graph);
}

static void
test_job_inputs(void)
{
	struct model_spec s;
	memset(&s, 0, sizeof(s));
	s.n_inputs = 1;
	s.in[0].dtype = TENSOR_F32;
	s.in[0].rank = 2;
	s.in[0].dims[0] = -1;
	s.in[0].dims[1] = 3;
	char why[256];
	struct tensor t;
	static const int64_t ok_dims[2] = { 7, 3 };
	CU_ASSERT_FATAL(engine_tensor_init(&t, TENSOR_F32, 2, ok_dims) ==
	    RF_OK);
	/* -1 takes any size. */
	CU_ASSERT_EQUAL(referee_job_inputs_check(&s, &t, 1, why, sizeof(why)),
	    RF_OK);
	/* Counts. */
	CU_ASSERT_EQUAL(referee_job_inputs_check(&s, &t, 0, why, sizeof(why)),
	    RF_ERR_SHAPE);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "takes 1 inputs, the job has 0"));
	struct tensor two[2] = { t, t };
	CU_ASSERT_EQUAL(referee_job_inputs_check(&s, two, 2, why, sizeof(why)),
	    RF_ERR_SHAPE);
	/* A fixed dimension that differs. */
	struct tensor u = t;
	u.dims[1] = 4;
	u.count = 28;
	CU_ASSERT_EQUAL(referee_job_inputs_check(&s, &u, 1, why, sizeof(why)),
	    RF_ERR_SHAPE);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "input 0 must be f32[-1,3]"));
	/* Another dtype, another rank. */
	u = t;
	u.dtype = TENSOR_I32;
	CU_ASSERT_EQUAL(referee_job_inputs_check(&s, &u, 1, why, sizeof(why)),
	    RF_ERR_DTYPE);
	u = t;
	u.rank = 3;
	u.dims[2] = 1;
	CU_ASSERT_EQUAL(referee_job_inputs_check(&s, &u, 1, why, sizeof(why)),
	    RF_ERR_SHAPE);
	/* A count that does not match the dims (a lying tensor header). */
	u = t;
	u.count = 20;
	CU_ASSERT_EQUAL(referee_job_inputs_check(&s, &u, 1, why, sizeof(why)),
	    RF_ERR_SHAPE);
	/* A negative dimension where any size is allowed. */
	u = t;
	u.dims[0] = -7;
	CU_ASSERT_EQUAL(referee_job_inputs_check(&s, &u, 1, why, sizeof(why)),
	    RF_ERR_SHAPE);
	engine_tensor_fini(&t);
}

/* Registers the small graph as model id 'id' with or without the derived
 * columns. */
static void
register_small(struct fix *f, const struct proto_digest *id, int64_t d0,
    int64_t d1, bool derived, const uint8_t *inputs, size_t inputs_len)
{
	size_t len;
	uint8_t *g = small_graph(d0, d1, &len);
	sqlite3_stmt *st;
	CU_ASSERT_FATAL(sqlite3_prepare_v2(store_db(f->r.db), "INSERT INTO "
	    "models (model_id, name, n_ops, n_inputs, graph, owner, n_leaves, "
	    "out_leaf, inputs) VALUES (?1, 'small', 2, 1, ?2, ?3, 2, ?4, ?5)",
	    -1, &st, NULL) == SQLITE_OK);
	sqlite3_bind_blob(st, 1, id->b, (int)proto_hash_len(SUITE),
	    SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 2, g, (int)len, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 3, key_a.b, PROTO_KEY_LEN, SQLITE_TRANSIENT);
	if (derived) {
		sqlite3_bind_int64(st, 4, 2);
		sqlite3_bind_blob(st, 5, inputs, (int)inputs_len,
		    SQLITE_TRANSIENT);
	}
	CU_ASSERT_FATAL(sqlite3_step(st) == SQLITE_DONE);
	sqlite3_finalize(st);
	free(g);
}

static void
test_model_spec(void)
{
	struct fix *f = fix_open(genesis3(""));
	struct proto_digest m1, m2, m3, m4;
	proto_hash(SUITE, "m1", 2, &m1);
	proto_hash(SUITE, "m2", 2, &m2);
	proto_hash(SUITE, "m3", 2, &m3);
	proto_hash(SUITE, "m4", 2, &m4);
	size_t len;
	uint8_t *g = small_graph(2, -1, &len);
	struct model_spec s;
	CU_ASSERT_FATAL(referee_model_derive(SUITE, g, len, &s, NULL) == RF_OK);
	free(g);
	uint8_t buf[SPEC_INPUTS_MAX];
	size_t n = referee_spec_inputs_encode(&s, buf);
	CU_ASSERT_EQUAL(n, 2 + 16);
	register_small(f, &m1, 2, -1, true, buf, n);
	/* A row from before derivation: derived from its graph on use. */
	register_small(f, &m2, 2, -1, false, NULL, 0);
	/* Damaged stored specs: cut short, and a rank over the limit. */
	register_small(f, &m3, 2, -1, true, buf, n - 1);
	uint8_t bad[SPEC_INPUTS_MAX];
	memcpy(bad, buf, n);
	bad[1] = TENSOR_MAX_RANK + 1;
	register_small(f, &m4, 2, -1, true, bad, n);

	struct model_spec got;
	bool found = false;
	store_lock(f->r.db);
	CU_ASSERT_EQUAL(referee_model_spec(&f->r, &m1, &got, &found), RF_OK);
	CU_ASSERT(found);
	CU_ASSERT(got.n_ops == 2 && got.n_inputs == 1 && got.n_leaves == 2 &&
	    got.out_leaf == 2);
	CU_ASSERT(got.in[0].dtype == TENSOR_F32 && got.in[0].rank == 2 &&
	    got.in[0].dims[0] == 2 && got.in[0].dims[1] == -1);
	memset(&got, 0, sizeof(got));
	CU_ASSERT_EQUAL(referee_model_spec(&f->r, &m2, &got, &found), RF_OK);
	CU_ASSERT(found && got.out_leaf == 2 && got.in[0].dims[1] == -1);
	CU_ASSERT_EQUAL(referee_model_spec(&f->r, &m3, &got, &found),
	    RF_ERR_STORE);
	CU_ASSERT_EQUAL(referee_model_spec(&f->r, &m4, &got, &found),
	    RF_ERR_STORE);
	struct proto_digest none;
	proto_hash(SUITE, "none", 4, &none);
	CU_ASSERT_EQUAL(referee_model_spec(&f->r, &none, &got, &found), RF_OK);
	CU_ASSERT(!found);

	/* A dynamic model: the job's concrete shapes are checked against
	 * the graph (x[2,5] cannot feed the MatMul's [3,4]). */
	char why[256] = "";
	struct tensor t;
	static const int64_t good[2] = { 2, 3 }, wrong[2] = { 2, 5 };
	CU_ASSERT_FATAL(engine_tensor_init(&t, TENSOR_F32, 2, good) == RF_OK);
	CU_ASSERT_EQUAL(referee_job_graph_check(&f->r, &m1, &s, &t, 1, why,
	    sizeof(why)), RF_OK);
	engine_tensor_fini(&t);
	CU_ASSERT_FATAL(engine_tensor_init(&t, TENSOR_F32, 2, wrong) == RF_OK);
	CU_ASSERT_EQUAL(referee_job_graph_check(&f->r, &m1, &s, &t, 1, why,
	    sizeof(why)), RF_ERR_SHAPE);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "cannot run on these inputs"));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "MatMul"));
	engine_tensor_fini(&t);
	store_unlock(f->r.db);
	fix_close(f);
}

/* A generation job (docs/generation.md) whose prompt holds a token
 * outside the vocabulary is refused at submit: the graph's Gather could
 * not run it, and the executor would pay the job's deadline. */
static void
test_job_token_values(void)
{
	struct fix *f = fix_open(genesis3(""));
	struct engine_gen_opts o;
	engine_gen_opts_init(&o, ENGINE_GEN_GPT);
	o.vocab = 40;
	o.d_model = 16;
	o.heads = 2;
	o.blocks = 1;
	o.context = 12;
	struct engine_model *base = NULL, *gm = NULL;
	CU_ASSERT_FATAL(engine_model_generate(&o, &base, NULL) == RF_OK);
	struct engine_generation gen;
	memset(&gen, 0, sizeof(gen));
	engine_sampler_init(&gen.sampler);
	gen.prompt_len = 3;
	gen.n_new = 2;
	CU_ASSERT_FATAL(engine_generation_model(base, &gen, &gm, NULL) ==
	    RF_OK);
	uint8_t *g = NULL;
	size_t len;
	CU_ASSERT_FATAL(engine_model_encode_graph(gm, &g, &len) == RF_OK);
	engine_model_free(gm);
	engine_model_free(base);
	struct model_spec s;
	CU_ASSERT_FATAL(referee_model_derive(SUITE, g, len, &s, NULL) == RF_OK);
	struct proto_digest id;
	proto_hash(SUITE, "gen", 3, &id);
	sqlite3_stmt *st;
	CU_ASSERT_FATAL(sqlite3_prepare_v2(store_db(f->r.db), "INSERT INTO "
	    "models (model_id, name, n_ops, n_inputs, graph, owner, n_leaves) "
	    "VALUES (?1, 'gen', ?2, 1, ?3, ?4, ?5)", -1, &st, NULL) ==
	    SQLITE_OK);
	sqlite3_bind_blob(st, 1, id.b, (int)proto_hash_len(SUITE),
	    SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, s.n_ops);
	sqlite3_bind_blob(st, 3, g, (int)len, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 4, key_a.b, PROTO_KEY_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, s.n_leaves);
	CU_ASSERT_FATAL(sqlite3_step(st) == SQLITE_DONE);
	sqlite3_finalize(st);
	free(g);
	store_lock(f->r.db);
	struct tensor t;
	static const int64_t pd[1] = { 3 };
	CU_ASSERT_FATAL(engine_tensor_init(&t, TENSOR_I64, 1, pd) == RF_OK);
	int64_t *v = t.data;
	char why[256] = "";
	const int64_t ok[][3] = { { 0, 5, 39 }, { -40, -1, 0 } };
	for (size_t i = 0; i < 2; i++) {
		memcpy(v, ok[i], sizeof(ok[i]));
		CU_ASSERT_EQUAL(referee_job_graph_check(&f->r, &id, &s, &t, 1,
		    why, sizeof(why)), RF_OK);
	}
	const int64_t bad[][3] = { { 0, 40, 1 }, { 1, 2, -41 },
		{ INT64_MAX, 0, 0 }, { 0, 0, INT64_MIN } };
	for (size_t i = 0; i < 4; i++) {
		memcpy(v, bad[i], sizeof(bad[i]));
		why[0] = '\0';
		CU_ASSERT_EQUAL(referee_job_graph_check(&f->r, &id, &s, &t, 1,
		    why, sizeof(why)), RF_ERR_SHAPE);
		CU_ASSERT_PTR_NOT_NULL(strstr(why, "outside"));
		CU_ASSERT_PTR_NOT_NULL(strstr(why, "Gather"));
	}
	engine_tensor_fini(&t);
	store_unlock(f->r.db);
	fix_close(f);
}

/* ------------------------------------------------------------------ */
/* The ledger                                                           */
/* ------------------------------------------------------------------ */

static struct request *
request_new(struct fix *f, uint64_t now_ms)
{
	struct request *q = calloc(1, sizeof(*q));
	CU_ASSERT_FATAL(q != NULL);
	q->r = &f->r;
	q->now_ms = now_ms;
	return q;
}

static void
request_free(struct request *q)
{
	referee_outbox_free(&q->events);
	free(q);
}

static struct chain_params
params_of(struct fix *f)
{
	struct chain_params p;
	referee_chain_params(&f->r, &p);
	return p;
}

/* Stakes amount of b's balance through chain_stake and the ledger. */
static int
stake(struct fix *f, const struct proto_pubkey *k, uint64_t amount)
{
	struct chain_params p = params_of(f);
	struct request *q = request_new(f, 1000);
	CU_ASSERT_FATAL(store_begin(f->r.db, NULL) == RF_OK);
	struct chain_before b;
	memset(&b, 0, sizeof(b));
	CU_ASSERT_FATAL(referee_ledger_chain_account(&f->r, k,
	    &b.acc[CHAIN_EXECUTOR]) == RF_OK);
	struct chain_effects e;
	chain_stake(&p, &b.acc[CHAIN_EXECUTOR], amount, &e);
	CU_ASSERT_FATAL(e.refused == 0);
	struct ledger_roles roles;
	memset(&roles, 0, sizeof(roles));
	roles.key[CHAIN_EXECUTOR] = k;
	int err = referee_ledger_apply(q, &b, &e, &roles);
	err = referee_txn_end(&f->r, &q->events, err);
	request_free(q);
	return err;
}

static void
test_ledger_stake(void)
{
	struct fix *f = fix_open(genesis3(""));
	CU_ASSERT(ledger_whole(f));
	CU_ASSERT_EQUAL(stake(f, &key_b, 300), RF_OK);
	struct account a = account_of(f, &key_b);
	CU_ASSERT_EQUAL(a.balance, 700);
	CU_ASSERT_EQUAL(a.stake, 300);
	CU_ASSERT_EQUAL(account_of(f, &key_a).balance, 1000);
	CU_ASSERT(ledger_whole(f));
	fix_close(f);
}

/* A job of a (client) given to b (executor), its fee escrowed. */
static void
open_job(struct fix *f, const struct proto_digest *job, uint64_t fee,
    uint64_t deadline_ms)
{
	struct proto_digest model;
	proto_hash(SUITE, "model", 5, &model);
	if (sql_int(f, "SELECT count(*) FROM models") == 0) {
		register_small(f, &model, 2, 3, false, NULL, 0);
	}
	CU_ASSERT_FATAL(store_begin(f->r.db, NULL) == RF_OK);
	CU_ASSERT_FATAL(referee_db_run(&f->r, "INSERT INTO jobs (job_id, "
	    "model_id, client, executor, fee, submit, input_leaves, state, "
	    "created_ms, deadline_ms) VALUES (?1, ?2, ?3, ?4, ?5, x'00', "
	    "x'00', 1, 0, ?6)", "ddkkii", job, &model, &key_a, &key_b,
	    (int64_t)fee, (int64_t)deadline_ms) == RF_OK);
	CU_ASSERT_FATAL(referee_ledger_debit(&f->r, &key_a, "balance", fee) ==
	    RF_OK);
	CU_ASSERT_FATAL(store_commit(f->r.db, NULL) == RF_OK);
}

/* chain_job_expire on the job, applied in one transaction; tamper (SQL)
 * runs inside it first, making the records disagree with chain_before. */
static int
expire(struct fix *f, const struct proto_digest *job, const char *tamper,
    size_t *events)
{
	struct chain_params p = params_of(f);
	struct request *q = request_new(f, 5000);
	CU_ASSERT_FATAL(store_begin(f->r.db, NULL) == RF_OK);
	struct chain_before b;
	memset(&b, 0, sizeof(b));
	struct chain_job j;
	struct proto_pubkey client, executor;
	bool found;
	CU_ASSERT_FATAL(referee_ledger_job(&f->r, job, &j, &client, &executor,
	    &found) == RF_OK && found);
	CU_ASSERT_FATAL(referee_ledger_chain_account(&f->r, &client,
	    &b.acc[CHAIN_CLIENT]) == RF_OK);
	CU_ASSERT_FATAL(referee_ledger_chain_account(&f->r, &executor,
	    &b.acc[CHAIN_EXECUTOR]) == RF_OK);
	b.job = &j;
	struct chain_effects e;
	chain_job_expire(&p, &j, &b.acc[CHAIN_EXECUTOR], 5000, &e);
	CU_ASSERT_FATAL(e.refused == 0);
	if (tamper != NULL) {
		sql_exec(f, tamper);
	}
	struct ledger_roles roles;
	memset(&roles, 0, sizeof(roles));
	roles.key[CHAIN_CLIENT] = &client;
	roles.key[CHAIN_EXECUTOR] = &executor;
	roles.job = job;
	int err = referee_ledger_apply(q, &b, &e, &roles);
	*events = q->events.n;
	err = referee_txn_end(&f->r, &q->events, err);
	request_free(q);
	return err;
}

static void
test_ledger_expire(void)
{
	struct fix *f = fix_open(genesis3("min_bond 100\n"));
	CU_ASSERT_EQUAL_FATAL(stake(f, &key_b, 500), RF_OK);
	struct proto_digest job;
	proto_hash(SUITE, "job", 3, &job);
	open_job(f, &job, 50, 4000);
	CU_ASSERT(ledger_whole(f));
	CU_ASSERT_EQUAL(account_of(f, &key_a).balance, 950);
	int64_t events_before = sql_int(f, "SELECT count(*) FROM events");
	size_t n_events = 0;
	CU_ASSERT_EQUAL_FATAL(expire(f, &job, NULL, &n_events), RF_OK);
	/* The fee back to the client, the penalty burned, the job void,
	 * two events (claim invalid, node slashed), each stored. */
	CU_ASSERT_EQUAL(account_of(f, &key_a).balance, 1000);
	CU_ASSERT_EQUAL(account_of(f, &key_b).stake, 400);
	CU_ASSERT_EQUAL(sql_int(f, "SELECT value FROM meta WHERE key = "
	    "'burned'"), 100);
	CU_ASSERT_EQUAL(sql_int(f, "SELECT state FROM jobs"), PROTO_JOB_INVALID);
	CU_ASSERT_EQUAL(n_events, 2);
	CU_ASSERT_EQUAL(sql_int(f, "SELECT count(*) FROM events") -
	    events_before, 2);
	CU_ASSERT(ledger_whole(f));
	fix_close(f);
}

static void
test_ledger_rollback(void)
{
	struct fix *f = fix_open(genesis3("min_bond 100\n"));
	CU_ASSERT_EQUAL_FATAL(stake(f, &key_b, 500), RF_OK);
	struct proto_digest job;
	proto_hash(SUITE, "job", 3, &job);
	open_job(f, &job, 50, 4000);
	int64_t events_before = sql_int(f, "SELECT count(*) FROM events");
	/* The executor's stake is not what chain_before says: the fee goes
	 * back to the client first, then burning the penalty fails. The
	 * whole transaction goes, the client's refund with it. */
	size_t n_events = 0;
	CU_ASSERT_EQUAL(expire(f, &job, "UPDATE accounts SET stake = 60 WHERE "
	    "stake = 500", &n_events), RF_ERR_RANGE);
	CU_ASSERT_EQUAL(n_events, 0);
	CU_ASSERT_EQUAL(account_of(f, &key_a).balance, 950);
	CU_ASSERT_EQUAL(account_of(f, &key_b).stake, 500);
	CU_ASSERT_EQUAL(sql_int(f, "SELECT value FROM meta WHERE key = "
	    "'burned'"), 0);
	CU_ASSERT_EQUAL(sql_int(f, "SELECT state FROM jobs"), PROTO_JOB_OPEN);
	CU_ASSERT_EQUAL(sql_int(f, "SELECT count(*) FROM events"),
	    events_before);
	CU_ASSERT(ledger_whole(f));
	/* And it can still happen for real afterwards. */
	CU_ASSERT_EQUAL(expire(f, &job, NULL, &n_events), RF_OK);
	CU_ASSERT_EQUAL(account_of(f, &key_a).balance, 1000);
	CU_ASSERT(ledger_whole(f));
	fix_close(f);
}

static void
test_ledger_refuses_broken_effects(void)
{
	struct fix *f = fix_open(genesis3(""));
	struct request *q = request_new(f, 1000);
	CU_ASSERT_FATAL(store_begin(f->r.db, NULL) == RF_OK);
	struct chain_before b;
	memset(&b, 0, sizeof(b));
	b.acc[CHAIN_EXECUTOR].balance = 1000;
	struct ledger_roles roles;
	memset(&roles, 0, sizeof(roles));
	roles.key[CHAIN_EXECUTOR] = &key_b;
	roles.key[CHAIN_CLIENT] = &key_a;
	/* Tokens from nowhere: a credit without a debit. */
	struct chain_effects e;
	memset(&e, 0, sizeof(e));
	e.moves[0] = (struct chain_move){ 0, 0, CHAIN_EXECUTOR, CHAIN_BALANCE,
		5 };
	e.n_moves = 1;
	CU_ASSERT_EQUAL(referee_ledger_apply(q, &b, &e, &roles), RF_ERR_INVAL);
	/* Nothing applied, even before any rollback. */
	struct account a;
	CU_ASSERT_FATAL(referee_ledger_account(&f->r, &key_b, &a) == RF_OK);
	CU_ASSERT_EQUAL(a.balance, 1000);
	/* More than the account holds, by chain_before. */
	memset(&e, 0, sizeof(e));
	e.moves[0] = (struct chain_move){ CHAIN_EXECUTOR, CHAIN_BALANCE,
		CHAIN_EXECUTOR, CHAIN_STAKE, 1001 };
	e.n_moves = 1;
	CU_ASSERT_EQUAL(referee_ledger_apply(q, &b, &e, &roles), RF_ERR_INVAL);
	CU_ASSERT_FATAL(referee_ledger_account(&f->r, &key_b, &a) == RF_OK);
	CU_ASSERT(a.balance == 1000 && a.stake == 0);
	/* A move whose party nobody plays. */
	memset(&e, 0, sizeof(e));
	e.moves[0] = (struct chain_move){ CHAIN_EXECUTOR, CHAIN_BALANCE,
		CHAIN_EXECUTOR, CHAIN_STAKE, 10 };
	e.n_moves = 1;
	roles.key[CHAIN_EXECUTOR] = NULL;
	CU_ASSERT(referee_ledger_apply(q, &b, &e, &roles) != RF_OK);
	/* A job state with no job named. */
	roles.key[CHAIN_EXECUTOR] = &key_b;
	memset(&e, 0, sizeof(e));
	e.job_state = PROTO_JOB_FINAL;
	CU_ASSERT(referee_ledger_apply(q, &b, &e, &roles) != RF_OK);
	CU_ASSERT_EQUAL(q->events.n, 0);
	CU_ASSERT_EQUAL(referee_txn_end(&f->r, &q->events, RF_ERR_INVAL),
	    RF_ERR_INVAL);
	request_free(q);
	CU_ASSERT(ledger_whole(f));
	fix_close(f);
}

static void
test_ledger_check_halts(void)
{
	struct fix *f = fix_open(genesis3(""));
	referee_ledger_check(&f->r);
	CU_ASSERT(!referee_halted(&f->r));
	/* A token appears outside any rule (a damaged or edited file). */
	sql_exec(f, "UPDATE accounts SET balance = balance + 1 WHERE rowid = 1");
	referee_ledger_check(&f->r);
	CU_ASSERT(referee_halted(&f->r));
	fix_close(f);
}

/* ------------------------------------------------------------------ */
/* Restart                                                              */
/* ------------------------------------------------------------------ */

/* A claimed job with its window, and an open dispute on it whose game
 * was asked at asked_ms; a second, decided one; a third with a damaged
 * game. */
static void
open_dispute(struct fix *f, const char *name, int state, uint64_t asked_ms,
    bool damaged)
{
	struct proto_digest job, id, leaves[1], re, rc;
	proto_hash(SUITE, "job", 3, &job);
	proto_hash(SUITE, name, strlen(name), &id);
	proto_hash(SUITE, "in", 2, &leaves[0]);
	proto_hash(SUITE, "re", 2, &re);
	proto_hash(SUITE, "rc", 2, &rc);
	struct bisect_game g;
	CU_ASSERT_FATAL(bisect_start(&g, SUITE, 2, 10000, 8, 1, leaves, &re,
	    &rc, asked_ms) == RF_OK);
	uint8_t buf[BISECT_GAME_MAX_ENCODED];
	size_t len;
	CU_ASSERT_FATAL(bisect_game_encode(&g, buf, &len) == RF_OK);
	if (damaged) {
		buf[0] ^= 0xff;
	}
	CU_ASSERT_FATAL(store_begin(f->r.db, NULL) == RF_OK);
	CU_ASSERT_FATAL(referee_db_run(&f->r, "INSERT INTO disputes "
	    "(dispute_id, job_id, executor, challenger, bond, state, game, "
	    "transcript, opened_ms) VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, x'', "
	    "0)", "ddkkib", &id, &job, &key_b, &key_c, (int64_t)state, buf,
	    len) == RF_OK);
	CU_ASSERT_FATAL(store_commit(f->r.db, NULL) == RF_OK);
}

static uint64_t
game_asked(struct fix *f, const char *name, bool *ok)
{
	struct proto_digest id;
	proto_hash(SUITE, name, strlen(name), &id);
	sqlite3_stmt *st;
	store_lock(f->r.db);
	CU_ASSERT_FATAL(referee_db_stmt(&f->r, &st, "SELECT game FROM disputes "
	    "WHERE dispute_id = ?1", "d", &id) == RF_OK);
	CU_ASSERT_FATAL(sqlite3_step(st) == SQLITE_ROW);
	struct bisect_game g;
	*ok = bisect_game_decode(sqlite3_column_blob(st, 0),
	    (size_t)sqlite3_column_bytes(st, 0), &g, NULL) == RF_OK;
	sqlite3_finalize(st);
	store_unlock(f->r.db);
	return *ok ? g.asked_ms : 0;
}

/* The restart fixture: a claimed job (window end 100000), an open job
 * (deadline 200000), a final claim (window 300000), three disputes. */
static struct fix *
restart_fixture(void)
{
	struct fix *f = fix_open(genesis3("grace_ms 7000\n"));
	struct proto_digest job, job2, job3;
	proto_hash(SUITE, "job", 3, &job);
	proto_hash(SUITE, "job2", 4, &job2);
	proto_hash(SUITE, "job3", 4, &job3);
	open_job(f, &job, 10, 50000);
	open_job(f, &job2, 10, 200000);
	open_job(f, &job3, 10, 50000);
	sql_exec(f, "UPDATE jobs SET state = 2 WHERE deadline_ms = 50000 AND "
	    "rowid = 1; UPDATE jobs SET state = 4 WHERE rowid = 3");
	CU_ASSERT_FATAL(store_begin(f->r.db, NULL) == RF_OK);
	CU_ASSERT_FATAL(referee_db_run(&f->r, "INSERT INTO claims (job_id, "
	    "executor, trace_root, n, envelope, posted_ms, window_end_ms, "
	    "state) VALUES (?1, ?2, x'00', 8, x'00', 0, 100000, 2), (?3, ?2, "
	    "x'00', 8, x'00', 0, 300000, 4)", "dkd", &job, &key_b, &job3) ==
	    RF_OK);
	CU_ASSERT_FATAL(store_commit(f->r.db, NULL) == RF_OK);
	open_dispute(f, "open", 1, 40000, false);
	open_dispute(f, "decided", 2, 40000, false);
	open_dispute(f, "damaged", 1, 40000, true);
	return f;
}

static void
set_alive(struct fix *f, int64_t alive)
{
	char sql[160];
	snprintf(sql, sizeof(sql), "INSERT INTO meta (key, value) VALUES "
	    "('alive_ms', %lld) ON CONFLICT (key) DO UPDATE SET value = %lld",
	    (long long)alive, (long long)alive);
	sql_exec(f, sql);
}

static void
test_restart_shift(void)
{
	struct fix *f = restart_fixture();
	uint64_t now = node_wall_ms();
	int64_t alive = (int64_t)now - 5000;
	set_alive(f, alive);
	uint64_t t0 = node_wall_ms();
	struct rf_errinfo ei = { "" };
	CU_ASSERT_EQUAL_FATAL(referee_restart_resume(&f->r, &ei), RF_OK);
	uint64_t t1 = node_wall_ms();
	/* The shift is the downtime (up to the call) plus grace. */
	uint64_t lo = t0 - (uint64_t)alive + 7000, hi = t1 - (uint64_t)alive +
	    7000;
	int64_t w = sql_int(f, "SELECT window_end_ms FROM claims WHERE state "
	    "= 2");
	CU_ASSERT(w >= (int64_t)(100000 + lo) && w <= (int64_t)(100000 + hi));
	uint64_t shift = (uint64_t)w - 100000;
	/* One shift for everything open. */
	CU_ASSERT_EQUAL(sql_int(f, "SELECT deadline_ms FROM jobs WHERE state "
	    "= 1"), (int64_t)(200000 + shift));
	bool ok;
	CU_ASSERT_EQUAL(game_asked(f, "open", &ok), 40000 + shift);
	CU_ASSERT(ok);
	/* Final claims, decided disputes: untouched; a damaged game stays
	 * as it was (and the rest still resumed). */
	CU_ASSERT_EQUAL(sql_int(f, "SELECT window_end_ms FROM claims WHERE "
	    "state = 4"), 300000);
	CU_ASSERT_EQUAL(game_asked(f, "decided", &ok), 40000);
	game_asked(f, "damaged", &ok);
	CU_ASSERT(!ok);
	/* A new heartbeat, and the grace recorded in the network's state. */
	CU_ASSERT(sql_int(f, "SELECT value FROM meta WHERE key = 'alive_ms'") >=
	    (int64_t)t0);
	CU_ASSERT_EQUAL(sql_int(f, "SELECT value FROM meta WHERE key = "
	    "'grace_ms'"), 7000);
	fix_close(f);
}

static void
test_restart_edges(void)
{
	/* First start: no heartbeat, nothing shifted. */
	struct fix *f = restart_fixture();
	CU_ASSERT_EQUAL_FATAL(referee_restart_resume(&f->r, NULL), RF_OK);
	CU_ASSERT_EQUAL(sql_int(f, "SELECT window_end_ms FROM claims WHERE "
	    "state = 2"), 100000);
	bool ok;
	CU_ASSERT_EQUAL(game_asked(f, "open", &ok), 40000);
	CU_ASSERT(sql_int(f, "SELECT value FROM meta WHERE key = 'alive_ms'") >
	    0);
	fix_close(f);

	/* A clock set back (the heartbeat is in the future): no negative
	 * downtime, the grace alone; and the grace stored in the database
	 * wins over the one this process was started with. */
	f = restart_fixture();
	set_alive(f, (int64_t)node_wall_ms() + 1000000000);
	sql_exec(f, "INSERT INTO meta (key, value) VALUES ('grace_ms', 3000)");
	CU_ASSERT_EQUAL_FATAL(referee_restart_resume(&f->r, NULL), RF_OK);
	CU_ASSERT_EQUAL(f->r.params.grace_ms, 3000);
	CU_ASSERT_EQUAL(sql_int(f, "SELECT window_end_ms FROM claims WHERE "
	    "state = 2"), 103000);
	CU_ASSERT_EQUAL(sql_int(f, "SELECT deadline_ms FROM jobs WHERE state "
	    "= 1"), 203000);
	CU_ASSERT_EQUAL(game_asked(f, "open", &ok), 43000);
	fix_close(f);
}

/* An id prefix's range [p, hi): the last byte plus one, carried past
 * 0xff; all 0xff (or nothing) is past every id. */
static void
test_prefix_range(void)
{
	uint8_t hi[PROTO_DIGEST_MAX + 1];
	size_t n;
	const uint8_t a[] = { 0x12, 0x34 };
	referee_prefix_range(a, 2, hi, &n);
	CU_ASSERT(n == 2 && hi[0] == 0x12 && hi[1] == 0x35);
	const uint8_t b[] = { 0x12, 0xff, 0xff };
	referee_prefix_range(b, 3, hi, &n);
	CU_ASSERT(n == 1 && hi[0] == 0x13);
	const uint8_t c[] = { 0xff, 0xff };
	referee_prefix_range(c, 2, hi, &n);
	CU_ASSERT_EQUAL(n, PROTO_DIGEST_MAX + 1);
	CU_ASSERT(hi[0] == 0xff && hi[PROTO_DIGEST_MAX] == 0xff);
	referee_prefix_range(c, 0, hi, &n);
	CU_ASSERT_EQUAL(n, PROTO_DIGEST_MAX + 1);
}

static CU_TestInfo genesis_tests[] = {
	{ "every key, defaults that follow", test_genesis_good },
	{ "bad lines are refused, naming the line", test_genesis_bad },
	{ "NUL bytes, long lines, the length given", test_genesis_framing },
	{ "out of memory", test_genesis_nomem },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo validate_tests[] = {
	{ "a model's spec is derived from its graph", test_model_derive },
	{ "a job's token outside the vocabulary is refused",
	    test_job_token_values },
	{ "deriving it out of memory", test_model_derive_nomem },
	{ "a job's inputs against the spec", test_job_inputs },
	{ "stored specs, legacy rows, damage, dynamic shapes",
	    test_model_spec },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo ledger_tests[] = {
	{ "an id prefix's key range", test_prefix_range },
	{ "a stake moves balance to stake", test_ledger_stake },
	{ "an expired job: refund, burn, state, events", test_ledger_expire },
	{ "a failing apply is rolled back whole", test_ledger_rollback },
	{ "effects that break the invariant are refused",
	    test_ledger_refuses_broken_effects },
	{ "the ledger check halts on a token from nowhere",
	    test_ledger_check_halts },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo restart_tests[] = {
	{ "open clocks shift by downtime plus grace", test_restart_shift },
	{ "first start, clock set back, stored grace", test_restart_edges },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "referee genesis", suite_init, NULL, NULL, NULL, genesis_tests },
	{ "referee validate", suite_init, NULL, NULL, NULL, validate_tests },
	{ "referee ledger", suite_init, NULL, NULL, NULL, ledger_tests },
	{ "referee restart", suite_init, NULL, NULL, NULL, restart_tests },
	CU_SUITE_INFO_NULL,
};

int
main(void)
{
	rf_log_init("referee_test", LOG_LEVEL_ERROR);
	return test_main(suites);
}
