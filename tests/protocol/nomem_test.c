/*
 * tests/protocol/nomem_test.c - the protocol's model and trace functions
 * when memory runs out (tests/testlib.h): the trace of a run
 * (proto_trace_run), the model's leaves and id, and the referee's
 * dispute check of a graph (proto_model_dispute_check), each with its
 * 1st, 2nd, ... allocation failing. A failed run returns RF_ERR_NOMEM and
 * frees what it took; a run that succeeds gives the same digests as
 * without failures, and a failure never turns the dispute check's
 * refusal into acceptance.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "protocol/protocol.h"
#include "tests/testlib.h"

#define SUITE PROTO_HASH_BLAKE2B

struct model_case {
	const char *name;
	struct engine_model *m;
	struct tensor in;
	struct tensor out;
	struct proto_digest root, id;
	struct proto_digest *leaves;
	size_t n;
	size_t graph_len;
};

static uint8_t *
data_file(const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/onnx/%s", test_data_dir(), name);
	uint8_t *b = test_read_file(path, len);
	if (b == NULL) {
		fprintf(stderr, "\n  cannot read %s\n", path);
	}
	return b;
}

static void
case_load(struct model_case *c)
{
	char file[128];
	size_t len;
	snprintf(file, sizeof(file), "%s.onnx", c->name);
	uint8_t *b = data_file(file, &len);
	CU_ASSERT_FATAL(b != NULL);
	CU_ASSERT_FATAL(engine_model_import_onnx(b, len, NULL, &c->m, NULL) ==
	    RF_OK);
	free(b);
	snprintf(file, sizeof(file), "%s.in0.npy", c->name);
	b = data_file(file, &len);
	CU_ASSERT_FATAL(b != NULL);
	CU_ASSERT_FATAL(engine_tensor_npy_decode(b, len, &c->in, NULL) ==
	    RF_OK);
	free(b);
	CU_ASSERT_FATAL(proto_trace_run(SUITE, c->m, &c->in, 1, &c->out,
	    ENGINE_KERNELS_FAST, &c->leaves, &c->n, &c->root, NULL) == RF_OK);
	CU_ASSERT_FATAL(proto_model_id(SUITE, c->m, &c->id) == RF_OK);
	uint8_t *g = NULL;
	CU_ASSERT_FATAL(engine_model_encode_graph(c->m, &g, &c->graph_len) ==
	    RF_OK);
	free(g);
}

static void
case_free(struct model_case *c)
{
	engine_tensor_fini(&c->out);
	engine_tensor_fini(&c->in);
	free(c->leaves);
	engine_model_free(c->m);
}

static int
trace_op(void *ctx)
{
	struct model_case *c = ctx;
	struct tensor out[ENGINE_MAX_GRAPH_IO];
	memset(out, 0, sizeof(out));
	struct proto_digest *leaves = NULL, root;
	size_t n = 0;
	struct rf_errinfo ei = { "" };
	int err = proto_trace_run(SUITE, c->m, &c->in, 1, out,
	    ENGINE_KERNELS_FAST, &leaves, &n, &root, &ei);
	if (err != RF_OK) {
		return leaves == NULL ? err : TESTLIB_WRONG;
	}
	bool ok = n == c->n && memcmp(leaves, c->leaves, n *
	    sizeof(*leaves)) == 0 && memcmp(&root, &c->root,
	    sizeof(root)) == 0 && out[0].count == c->out.count &&
	    memcmp(out[0].data, c->out.data, out[0].count *
	    engine_tensor_dtype_size(out[0].dtype)) == 0;
	free(leaves);
	engine_tensor_fini(&out[0]);
	return ok ? RF_OK : TESTLIB_WRONG;
}

static int
model_id_op(void *ctx)
{
	struct model_case *c = ctx;
	struct proto_digest id;
	int err = proto_model_id(SUITE, c->m, &id);
	if (err != RF_OK) {
		return err;
	}
	return memcmp(&id, &c->id, sizeof(id)) == 0 ? RF_OK : TESTLIB_WRONG;
}

static int
dispute_check_op(void *ctx)
{
	struct model_case *c = ctx;
	return proto_model_dispute_check(SUITE, c->m, c->graph_len, NULL);
}

static void
test_models(void)
{
	static const char *const names[] = { "mlp_digits", "lenet_digits",
		"misc_ops", "gpt_op13" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct model_case c;
		memset(&c, 0, sizeof(c));
		c.name = names[i];
		case_load(&c);
		fprintf(stderr, "\n  %s: ", c.name);
		long t = testlib_alloc_fail_loop(trace_op, &c);
		long d = testlib_alloc_fail_loop(model_id_op, &c);
		long s = testlib_alloc_fail_loop(dispute_check_op, &c);
		fprintf(stderr, "trace %ld, model id %ld, dispute check %ld "
		    "failed runs", t, d, s);
		case_free(&c);
	}
}

/* x f32[2,3] -> Relu -> MatMul with f32[4,5]: the dispute check refuses
 * it for the MatMul's shapes; no failed allocation may make it accept. */
static int
refused_op(void *ctx)
{
	const struct engine_model *m = ctx;
	int err = proto_model_dispute_check(SUITE, m, 100, NULL);
	return err == RF_ERR_SHAPE ? RF_OK : err == RF_OK ? TESTLIB_WRONG : err;
}

static void
test_refusal_kept(void)
{
	struct engine_model *m = engine_model_alloc("unrunnable");
	CU_ASSERT_FATAL(m != NULL);
	int x, w, y, z;
	static const int64_t xd[2] = { 2, 3 }, wd[2] = { 4, 5 };
	CU_ASSERT_FATAL(engine_model_add_input(m, "x", TENSOR_F32, 2, xd, &x,
	    NULL) == RF_OK);
	struct tensor wt;
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
	CU_ASSERT_EQUAL(refused_op(m), RF_OK);
	CU_ASSERT(testlib_alloc_fail_loop(refused_op, m) > 0);
	engine_model_free(m);
}

static int
init(void)
{
	return proto_init() == RF_OK ? 0 : 1;
}

static CU_TestInfo tests[] = {
	{ "trace, model id and dispute check", test_models },
	{ "a failure never turns a refusal into acceptance",
	    test_refusal_kept },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "protocol out of memory", init, NULL, NULL, NULL, tests },
	CU_SUITE_INFO_NULL,
};

int
main(void)
{
	return test_main(suites);
}
