/*
 * tests/protocol/servable_test.c - protocol/servable.c: which trace entry
 * a claim carries as the output, and which models a dispute could not
 * defend because one operator's reveal would not fit a verdict.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "protocol/protocol.h"
#include "tests/testlib.h"

static bool dynamic_x; /* x[1,-1] instead of x[1,n] */

/* x[1,n] -> MatMul w[n,m] -> y (output) -> Relu -> z. */
static struct engine_model *
matmul_model(int64_t n, int64_t m, bool output_last)
{
	struct engine_model *md = engine_model_alloc("mm");
	int64_t xd[2] = { 1, dynamic_x ? -1 : n }, wd[2] = { n, m };
	int x, w, y, z;
	struct tensor wt;
	CU_ASSERT_FATAL(md != NULL);
	CU_ASSERT_FATAL(engine_model_add_input(md, "x", TENSOR_F32, 2, xd, &x,
	    NULL) == RF_OK);
	CU_ASSERT_FATAL(engine_tensor_init(&wt, TENSOR_F32, 2, wd) == RF_OK);
	CU_ASSERT_FATAL(engine_model_add_weight(md, "w", &wt, &w, NULL) ==
	    RF_OK);
	int in[2] = { x, w };
	const char *yn[1] = { "y" }, *zn[1] = { "z" };
	CU_ASSERT_FATAL(engine_model_add_op(md, ENGINE_OP_MATMUL, "head", in, 2,
	    yn, 1, NULL, 0, &y, NULL) == RF_OK);
	CU_ASSERT_FATAL(engine_model_add_op(md, ENGINE_OP_RELU, "relu", &y, 1,
	    zn, 1, NULL, 0, &z, NULL) == RF_OK);
	CU_ASSERT_FATAL(engine_model_add_output(md, output_last ? z : y, NULL) ==
	    RF_OK);
	return md;
}

static void
test_output_op(void)
{
	size_t op = 99;
	struct engine_model *m = matmul_model(4, 3, true);
	CU_ASSERT_EQUAL(proto_model_output_op(m, &op, NULL), RF_OK);
	CU_ASSERT_EQUAL(op, 1);
	engine_model_free(m);
	m = matmul_model(4, 3, false);
	CU_ASSERT_EQUAL(proto_model_output_op(m, &op, NULL), RF_OK);
	CU_ASSERT_EQUAL(op, 0);
	engine_model_free(m);
	/* Two outputs from two operators: no one entry holds them. */
	m = matmul_model(4, 3, false);
	CU_ASSERT_FATAL(engine_model_add_output(m, 3, NULL) == RF_OK);
	struct rf_errinfo ei = { "" };
	CU_ASSERT_EQUAL(proto_model_output_op(m, &op, &ei), RF_ERR_NOTSUP);
	CU_ASSERT(strstr(ei.msg, "exactly the outputs of one operator") !=
	    NULL);
	engine_model_free(m);
	/* One output of a two-output Split: the entry holds both. */
	m = engine_model_alloc("split");
	int64_t xd[1] = { 4 };
	int x, outs[2];
	CU_ASSERT_FATAL(engine_model_add_input(m, "x", TENSOR_F32, 1, xd, &x,
	    NULL) == RF_OK);
	const char *names[2] = { "a", "b" };
	CU_ASSERT_FATAL(engine_model_add_op(m, ENGINE_OP_SPLIT, "split", &x, 1,
	    names, 2, NULL, 0, outs, NULL) == RF_OK);
	CU_ASSERT_FATAL(engine_model_add_output(m, outs[1], NULL) == RF_OK);
	CU_ASSERT_EQUAL(proto_model_output_op(m, &op, NULL), RF_ERR_NOTSUP);
	/* Both, in order: fine. */
	engine_model_free(m);
}

static size_t
graph_len(const struct engine_model *m)
{
	uint8_t *g;
	size_t len;
	CU_ASSERT_FATAL(engine_model_encode_graph(m, &g, &len) == RF_OK);
	free(g);
	return len;
}

static void
test_dispute_bound(void)
{
	/* 3000 x 3000 f32 is 36 MB: its reveal cannot fit 32 MiB. */
	struct engine_model *m = matmul_model(3000, 3000, true);
	struct rf_errinfo ei = { "" };
	CU_ASSERT_EQUAL(proto_model_dispute_check(PROTO_HASH_BLAKE2B, m,
	    graph_len(m), &ei), RF_ERR_RANGE);
	CU_ASSERT(strstr(ei.msg, "operator 0 ('head', MatMul)") != NULL);
	CU_ASSERT_EQUAL(proto_model_dispute_check(PROTO_HASH_XXH3, m,
	    graph_len(m), NULL), RF_ERR_RANGE);
	engine_model_free(m);
	/* An input of dynamic shape is not bounded, but the weight alone
	 * is too large already. */
	dynamic_x = true;
	m = matmul_model(3000, 3000, true);
	CU_ASSERT_EQUAL(proto_model_dispute_check(PROTO_HASH_BLAKE2B, m,
	    graph_len(m), NULL), RF_ERR_RANGE);
	engine_model_free(m);
	/* Every transcript opens with the client's job: a fixed input is
	 * counted as it is, a dynamic one as the largest job the referee
	 * takes. 2600 x 2600 (27 MB) fits next to a small job, not next
	 * to an 8 MiB one. */
	m = matmul_model(2600, 2600, true);
	ei.msg[0] = '\0';
	CU_ASSERT_EQUAL(proto_model_dispute_check(PROTO_HASH_BLAKE2B, m,
	    graph_len(m), &ei), RF_ERR_RANGE);
	CU_ASSERT(strstr(ei.msg, "operator 0 ('head', MatMul)") != NULL);
	engine_model_free(m);
	dynamic_x = false;
	m = matmul_model(2600, 2600, true);
	CU_ASSERT_EQUAL(proto_model_dispute_check(PROTO_HASH_BLAKE2B, m,
	    graph_len(m), NULL), RF_OK);
	engine_model_free(m);
	/* 2100 x 2100 is 17.6 MB: it fits, with room for a small graph... */
	m = matmul_model(2100, 2100, true);
	CU_ASSERT_EQUAL(proto_model_dispute_check(PROTO_HASH_BLAKE2B, m,
	    graph_len(m), NULL), RF_OK);
	/* ...but not next to a 16 MiB graph description, which every
	 * transcript carries in the registration. */
	ei.msg[0] = '\0';
	CU_ASSERT_EQUAL(proto_model_dispute_check(PROTO_HASH_BLAKE2B, m,
	    PROTO_MAX_GRAPH, &ei), RF_ERR_RANGE);
	CU_ASSERT(strstr(ei.msg, "operator 0") != NULL);
	engine_model_free(m);
	/* Every generated model fits. */
	for (int k = ENGINE_GEN_MLP; k <= ENGINE_GEN_TRANSFORMER; k++) {
		struct engine_gen_opts o;
		engine_gen_opts_init(&o, (enum engine_gen_kind)k);
		CU_ASSERT_FATAL(engine_model_generate(&o, &m, NULL) == RF_OK);
		CU_ASSERT_EQUAL(proto_model_dispute_check(PROTO_HASH_BLAKE2B, m,
		    graph_len(m), NULL), RF_OK);
		engine_model_free(m);
	}
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "the output entry", test_output_op },
		{ "an operator too large to dispute", test_dispute_bound },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "servable", NULL, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
