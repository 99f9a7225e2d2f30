/*
 * tests/engine/nomem_test.c - the engine's decoders when memory runs out
 * (tests/testlib.h, after SQLite's malloc tests): the npy decoder and
 * encoder, the model file (whole and graph only) and the ONNX importer
 * are run with their 1st, 2nd, 3rd ... allocation failing, once and
 * persistently, until a run needs no failure. Each failed run must return
 * RF_ERR_NOMEM, write nothing, and leave nothing allocated; each run that
 * succeeds must give the same result as without failures (the decoded
 * model re-encodes to the same bytes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "tests/testlib.h"

static uint8_t *
data_file(const char *dir, const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s/%s", test_data_dir(), dir, name);
	uint8_t *b = test_read_file(path, len);
	if (b == NULL) {
		fprintf(stderr, "\n  cannot read %s\n", path);
	}
	return b;
}

static bool
tensor_equal(const struct tensor *a, const struct tensor *b)
{
	if (a->dtype != b->dtype || a->rank != b->rank || a->count != b->count ||
	    memcmp(a->dims, b->dims, (size_t)a->rank * sizeof(a->dims[0])) != 0) {
		return false;
	}
	size_t bytes = a->count * engine_tensor_dtype_size(a->dtype);
	return bytes == 0 || memcmp(a->data, b->data, bytes) == 0;
}

/* ---- npy ------------------------------------------------------------- */

struct npy_case {
	const uint8_t *buf;
	size_t len;
	struct tensor want;
	const uint8_t *enc; /* the encoding of want */
	size_t enc_len;
};

static int
npy_decode_op(void *ctx)
{
	struct npy_case *c = ctx;
	struct tensor t;
	memset(&t, 0x5a, sizeof(t));
	struct tensor sentinel = t;
	struct rf_errinfo ei = { "" };
	int err = engine_tensor_npy_decode(c->buf, c->len, &t, &ei);
	if (err != RF_OK) {
		/* Written only on success. */
		return memcmp(&t, &sentinel, sizeof(t)) == 0 ? err :
		    TESTLIB_WRONG;
	}
	bool ok = tensor_equal(&t, &c->want);
	engine_tensor_fini(&t);
	return ok ? RF_OK : TESTLIB_WRONG;
}

static int
npy_encode_op(void *ctx)
{
	struct npy_case *c = ctx;
	uint8_t *buf = NULL;
	size_t len = 0;
	int err = engine_tensor_npy_encode(&c->want, &buf, &len);
	if (err != RF_OK) {
		return buf == NULL ? err : TESTLIB_WRONG;
	}
	bool ok = len == c->enc_len && memcmp(buf, c->enc, len) == 0;
	free(buf);
	return ok ? RF_OK : TESTLIB_WRONG;
}

static void
test_npy(void)
{
	static const char *const files[] = { "f32_2x3.npy", "f32_2x3_v2.npy",
		"f32_2x3_v3.npy", "f32_be.npy", "f32_fortran.npy", "f64_2.npy",
		"i32_2x1x2.npy", "i64_5.npy", "i8_300.npy", "i8_scalar.npy",
		"f32_0x3.npy", "f32_empty_pad64.npy" };
	long decode_runs = 0, encode_runs = 0;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct npy_case c;
		memset(&c, 0, sizeof(c));
		uint8_t *b = data_file("npy", files[i], &c.len);
		CU_ASSERT_FATAL(b != NULL);
		c.buf = b;
		int err = engine_tensor_npy_decode(b, c.len, &c.want, NULL);
		if (err != RF_OK) {
			/* Refused without allocating (Fortran order, float64,
			 * big-endian floats): nothing to fail. */
			testlib_alloc_fail_at(1, 1);
			struct tensor t;
			int again = engine_tensor_npy_decode(b, c.len, &t, NULL);
			long calls = testlib_alloc_calls();
			testlib_alloc_fail_off();
			CU_ASSERT_EQUAL(again, err);
			CU_ASSERT_EQUAL(calls, 0);
			free(b);
			continue;
		}
		uint8_t *enc = NULL;
		CU_ASSERT_FATAL(engine_tensor_npy_encode(&c.want, &enc,
		    &c.enc_len) == RF_OK);
		c.enc = enc;
		fprintf(stderr, "\n  %s: ", files[i]);
		long n = testlib_alloc_fail_loop(npy_decode_op, &c);
		decode_runs += n;
		long m = testlib_alloc_fail_loop(npy_encode_op, &c);
		encode_runs += m;
		fprintf(stderr, "decode %ld, encode %ld failed runs", n, m);
		engine_tensor_fini(&c.want);
		free(enc);
		free(b);
	}
	CU_ASSERT(decode_runs > 0);
	CU_ASSERT(encode_runs > 0);
}

/* ---- Model file and ONNX --------------------------------------------- */

struct model_case {
	const char *name;
	const uint8_t *onnx; /* the ONNX bytes */
	size_t onnx_len;
	const struct engine_onnx_dim *dims;
	size_t n_dims;
	const uint8_t *rfm; /* the model file encoding */
	size_t rfm_len;
	const uint8_t *graph; /* the graph-only encoding */
	size_t graph_len;
};

static int
model_decode_op(void *ctx)
{
	struct model_case *c = ctx;
	struct engine_model *m = (struct engine_model *)&m; /* a sentinel */
	struct engine_model *sentinel = m;
	struct rf_errinfo ei = { "" };
	int err = engine_model_decode(c->rfm, c->rfm_len, &m, &ei);
	if (err != RF_OK) {
		return m == sentinel ? err : TESTLIB_WRONG;
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	err = engine_model_encode(m, &buf, &len);
	engine_model_free(m);
	if (err != RF_OK) {
		return err;
	}
	bool ok = len == c->rfm_len && memcmp(buf, c->rfm, len) == 0;
	free(buf);
	return ok ? RF_OK : TESTLIB_WRONG;
}

static int
model_decode_graph_op(void *ctx)
{
	struct model_case *c = ctx;
	struct engine_model *m = (struct engine_model *)&m;
	struct engine_model *sentinel = m;
	struct rf_errinfo ei = { "" };
	int err = engine_model_decode_graph(c->graph, c->graph_len, &m, &ei);
	if (err != RF_OK) {
		return m == sentinel ? err : TESTLIB_WRONG;
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	err = engine_model_encode_graph(m, &buf, &len);
	engine_model_free(m);
	if (err != RF_OK) {
		return err;
	}
	bool ok = len == c->graph_len && memcmp(buf, c->graph, len) == 0;
	free(buf);
	return ok ? RF_OK : TESTLIB_WRONG;
}

static int
onnx_import_op(void *ctx)
{
	struct model_case *c = ctx;
	struct engine_onnx_opts o;
	engine_onnx_opts_init(&o);
	o.dims = c->dims;
	o.n_dims = c->n_dims;
	struct engine_model *m = (struct engine_model *)&m;
	struct engine_model *sentinel = m;
	struct rf_errinfo ei = { "" };
	int err = engine_model_import_onnx(c->onnx, c->onnx_len, &o, &m, &ei);
	if (err != RF_OK) {
		if (m != sentinel) {
			return TESTLIB_WRONG;
		}
		if (err == RF_ERR_NOMEM && ei.msg[0] == '\0') {
			return TESTLIB_WRONG; /* the importer says why */
		}
		return err;
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	err = engine_model_encode(m, &buf, &len);
	engine_model_free(m);
	if (err != RF_OK) {
		return err;
	}
	bool ok = len == c->rfm_len && memcmp(buf, c->rfm, len) == 0;
	free(buf);
	return ok ? RF_OK : TESTLIB_WRONG;
}

static void
model_case_load(struct model_case *c)
{
	char file[128];
	snprintf(file, sizeof(file), "%s.onnx", c->name);
	uint8_t *b = data_file("onnx", file, &c->onnx_len);
	CU_ASSERT_FATAL(b != NULL);
	c->onnx = b;
	struct engine_onnx_opts o;
	engine_onnx_opts_init(&o);
	o.dims = c->dims;
	o.n_dims = c->n_dims;
	struct engine_model *m = NULL;
	CU_ASSERT_FATAL(engine_model_import_onnx(b, c->onnx_len, &o, &m,
	    NULL) == RF_OK);
	uint8_t *rfm = NULL, *graph = NULL;
	CU_ASSERT_FATAL(engine_model_encode(m, &rfm, &c->rfm_len) == RF_OK);
	CU_ASSERT_FATAL(engine_model_encode_graph(m, &graph,
	    &c->graph_len) == RF_OK);
	c->rfm = rfm;
	c->graph = graph;
	engine_model_free(m);
}

static void
model_case_free(struct model_case *c)
{
	free((void *)c->onnx);
	free((void *)c->rfm);
	free((void *)c->graph);
}

static const struct engine_onnx_dim gpt_dims[] = { { "batch", 1 },
	{ "seq", 8 } };

static struct model_case model_cases[] = {
	{ .name = "softmax_op11" },
	{ .name = "const_out" },
	{ .name = "multi_out" },
	{ .name = "misc_ops" },
	{ .name = "mlp_digits" },
	{ .name = "lenet_digits" },
	{ .name = "gpt_op13" },
	{ .name = "gpt_dyn", .dims = gpt_dims, .n_dims = 2 },
};

static void
test_model_file(void)
{
	for (size_t i = 0; i < sizeof(model_cases) / sizeof(model_cases[0]);
	    i++) {
		struct model_case *c = &model_cases[i];
		model_case_load(c);
		fprintf(stderr, "\n  %s: ", c->name);
		long n = testlib_alloc_fail_loop(model_decode_op, c);
		long g = testlib_alloc_fail_loop(model_decode_graph_op, c);
		fprintf(stderr, "decode %ld, graph %ld failed runs", n, g);
		model_case_free(c);
	}
}

static void
test_onnx_import(void)
{
	for (size_t i = 0; i < sizeof(model_cases) / sizeof(model_cases[0]);
	    i++) {
		struct model_case *c = &model_cases[i];
		model_case_load(c);
		fprintf(stderr, "\n  %s: ", c->name);
		long n = testlib_alloc_fail_loop(onnx_import_op, c);
		fprintf(stderr, "import %ld failed runs", n);
		model_case_free(c);
	}
}

/* ---- Hostile files: refused the same way, or out of memory ----------- */

struct refusal_case {
	const uint8_t *buf;
	size_t len;
	int want; /* the code without failures */
};

/* RF_OK when refused with the same code as without failures (a failed
 * allocation on the way to a refusal must leak nothing either). */
static int
onnx_refused_op(void *ctx)
{
	struct refusal_case *c = ctx;
	struct engine_model *m = NULL;
	int err = engine_model_import_onnx(c->buf, c->len, NULL, &m, NULL);
	if (err == RF_OK) {
		engine_model_free(m);
		return TESTLIB_WRONG;
	}
	return err == c->want ? RF_OK : err;
}

static void
test_onnx_refusals(void)
{
	static const char *const bad[] = { "bad_cycle", "bad_domain",
		"bad_dropout_training", "bad_duplicate_value",
		"bad_dynamic_shape", "bad_where_notbool", "bad_expand_bomb",
		"bad_external_data", "bad_fold_bomb", "bad_fp16",
		"bad_huge_dims", "bad_ir2", "bad_missing_init", "bad_neg_dims",
		"bad_neg_input_dim", "bad_nine_outputs", "bad_opset18",
		"bad_opset9", "bad_raw_short", "bad_shape_mismatch",
		"bad_split_many", "bad_undefined", "bad_unsupported_attr",
		"bad_many_unsupported", "bad_u8_arith", "bad_u8_output",
		"bad_unsupported_op" };
	long runs = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char file[128];
		snprintf(file, sizeof(file), "%s.onnx", bad[i]);
		struct refusal_case c;
		uint8_t *b = data_file("onnx", file, &c.len);
		CU_ASSERT_FATAL(b != NULL);
		c.buf = b;
		struct engine_model *m = NULL;
		c.want = engine_model_import_onnx(b, c.len, NULL, &m, NULL);
		CU_ASSERT_FATAL(c.want != RF_OK);
		/* Some are refused before anything is allocated. */
		struct testlib_alloc_report rep;
		int rc = testlib_alloc_fail_run(onnx_refused_op, &c, 0, &rep);
		if (rc != 0) {
			fprintf(stderr, "\n  %s: refused with %d\n", bad[i],
			    c.want);
		}
		CU_ASSERT_EQUAL(rc, 0);
		runs += rep.runs;
		free(b);
	}
	CU_ASSERT(runs > 0);
}

/* ---- A refusal stays a refusal -------------------------------------- */

/*
 * x f32[2,3] -> Relu -> MatMul with a weight f32[4,5]: the check refuses
 * the MatMul (3 != 4), but only when it knows the Relu's output shape,
 * which it learns by probing the Relu on a stand-in it allocates. A
 * failed allocation must not make it skip the MatMul and accept the
 * graph: a referee would register a model that cannot run.
 */
static struct engine_model *
unrunnable_model(void)
{
	struct engine_model *m = engine_model_alloc("unrunnable");
	CU_ASSERT_FATAL(m != NULL);
	int x, w, y, z;
	static const int64_t xd[2] = { 2, 3 };
	CU_ASSERT_FATAL(engine_model_add_input(m, "x", TENSOR_F32, 2, xd, &x,
	    NULL) == RF_OK);
	struct tensor wt;
	static const int64_t wd[2] = { 4, 5 };
	CU_ASSERT_FATAL(engine_tensor_init(&wt, TENSOR_F32, 2, wd) == RF_OK);
	CU_ASSERT_FATAL(engine_model_add_weight(m, "w", &wt, &w, NULL) ==
	    RF_OK);
	const char *yn[1] = { "y" }, *zn[1] = { "z" };
	CU_ASSERT_FATAL(engine_model_add_op(m, ENGINE_OP_RELU, "relu", &x, 1,
	    yn, 1, NULL, 0, &y, NULL) == RF_OK);
	int mm_in[2] = { y, w };
	CU_ASSERT_FATAL(engine_model_add_op(m, ENGINE_OP_MATMUL, "mm", mm_in,
	    2, zn, 1, NULL, 0, &z, NULL) == RF_OK);
	CU_ASSERT_FATAL(engine_model_add_output(m, z, NULL) == RF_OK);
	return m;
}

struct refuse_case {
	const struct engine_model *m;
	const uint8_t *graph;
	size_t graph_len;
};

/* RF_OK when refused for the shape, TESTLIB_WRONG when accepted. */
static int
refused(int err)
{
	return err == RF_ERR_SHAPE ? RF_OK : err == RF_OK ? TESTLIB_WRONG :
	    err;
}

static int
check_op(void *ctx)
{
	struct refuse_case *c = ctx;
	return refused(engine_model_check(c->m, NULL, NULL));
}

static int
decode_refused_op(void *ctx)
{
	struct refuse_case *c = ctx;
	struct engine_model *m = NULL;
	int err = engine_model_decode_graph(c->graph, c->graph_len, &m, NULL);
	if (err == RF_OK) {
		engine_model_free(m);
	}
	return refused(err);
}

static void
test_refusal_kept(void)
{
	struct refuse_case c;
	struct engine_model *m = unrunnable_model();
	c.m = m;
	struct rf_errinfo ei = { "" };
	CU_ASSERT_EQUAL_FATAL(engine_model_check(m, NULL, &ei), RF_ERR_SHAPE);
	uint8_t *g = NULL;
	CU_ASSERT_FATAL(engine_model_encode_graph(m, &g, &c.graph_len) ==
	    RF_OK);
	c.graph = g;
	CU_ASSERT(testlib_alloc_fail_loop(check_op, &c) > 0);
	CU_ASSERT(testlib_alloc_fail_loop(decode_refused_op, &c) > 0);
	free(g);
	engine_model_free(m);
}

/* ---- Running a model ------------------------------------------------- */

struct run_case {
	struct engine_model *m;
	struct tensor in;
	struct tensor want;
};

static int
run_op(void *ctx)
{
	struct run_case *c = ctx;
	struct tensor out[ENGINE_MAX_GRAPH_IO];
	memset(out, 0, sizeof(out));
	struct engine_run_opts o;
	engine_run_opts_init(&o);
	struct rf_errinfo ei = { "" };
	int err = engine_run(c->m, &c->in, 1, out, &o, &ei);
	if (err != RF_OK) {
		return err;
	}
	bool ok = tensor_equal(&out[0], &c->want);
	engine_tensor_fini(&out[0]);
	return ok ? RF_OK : TESTLIB_WRONG;
}

static void
test_run(void)
{
	static const char *const names[] = { "mlp_digits", "lenet_digits",
		"misc_ops", "gpt_op13" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct model_case mc = { .name = names[i] };
		model_case_load(&mc);
		struct run_case c;
		memset(&c, 0, sizeof(c));
		CU_ASSERT_FATAL(engine_model_decode(mc.rfm, mc.rfm_len, &c.m,
		    NULL) == RF_OK);
		char file[128];
		size_t len;
		snprintf(file, sizeof(file), "%s.in0.npy", names[i]);
		uint8_t *b = data_file("onnx", file, &len);
		CU_ASSERT_FATAL(b != NULL);
		CU_ASSERT_FATAL(engine_tensor_npy_decode(b, len, &c.in,
		    NULL) == RF_OK);
		free(b);
		struct tensor out[ENGINE_MAX_GRAPH_IO];
		memset(out, 0, sizeof(out));
		struct engine_run_opts o;
		engine_run_opts_init(&o);
		CU_ASSERT_FATAL(engine_run(c.m, &c.in, 1, out, &o, NULL) ==
		    RF_OK);
		c.want = out[0];
		fprintf(stderr, "\n  %s: ", names[i]);
		long n = testlib_alloc_fail_loop(run_op, &c);
		fprintf(stderr, "run %ld failed runs", n);
		engine_tensor_fini(&c.want);
		engine_tensor_fini(&c.in);
		engine_model_free(c.m);
		model_case_free(&mc);
	}
}

static CU_TestInfo nomem_tests[] = {
	{ "npy decode and encode", test_npy },
	{ "model file decode and decode_graph", test_model_file },
	{ "ONNX import", test_onnx_import },
	{ "hostile ONNX files", test_onnx_refusals },
	{ "run", test_run },
	{ "a failure never turns a refusal into acceptance",
	    test_refusal_kept },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "engine out of memory", NULL, NULL, NULL, NULL, nomem_tests },
	CU_SUITE_INFO_NULL,
};

int
main(void)
{
	return test_main(suites);
}
