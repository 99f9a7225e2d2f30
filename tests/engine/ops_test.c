/*
 * tests/engine/ops_test.c - every operator of enum engine_op against small
 * hand-checked values.
 *
 * Each case builds a one-operator model with the builder API (every
 * tensor a graph input of its own shape) and evaluates it with
 * engine_op_eval under ENGINE_KERNELS_REF and ENGINE_KERNELS_FAST: both
 * must return the same code and, on success, the same bits (memcmp), and
 * a failure must say why and leave the outputs cleared. Expected values
 * carry their arithmetic in a comment. Where the math is exact in float
 * (small integers, halves, quarters, one rounding of a stated quotient)
 * the comparison is bit for bit; transcendental results (det_* are within
 * 1 ulp of the true value) are compared with a stated tolerance. Failures
 * are checked by their exact code.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/engine_int.h"
#include "tests/testlib.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

/* Dims and value lists as compound literals; the outer parentheses keep
 * their commas together when they pass through other macros. */
#define D(...) ((const int64_t[]){ __VA_ARGS__ })
#define RANK(d) ((int)(sizeof(d) / sizeof((d)[0])))
#define NV(T, ...) (sizeof((const T[]){ __VA_ARGS__ }) / sizeof(T))

/* Transcendental results: det_* are within 1 ulp, and one ulp of a value
 * below 2 is at most 2^-22 (2.4e-7). */
#define TOL_ULP2 2.5e-7f

/* Tensors and outputs of the running test, freed by the teardown. */
#define POOL_MAX 1024
static struct tensor pool[POOL_MAX];
static size_t pool_n;

/* Attributes for the next build, consumed by it. */
#define PENDING_MAX 16
static struct engine_attr pending[PENDING_MAX];
static size_t n_pending;

/* The message of the last failed eval or build. */
static struct rf_errinfo last_ei;

static void
teardown(void)
{
	for (size_t i = 0; i < pool_n; i++) {
		engine_tensor_fini(&pool[i]);
	}
	pool_n = 0;
	n_pending = 0;
}

static struct tensor *
pool_new(void)
{
	CU_ASSERT_FATAL(pool_n < POOL_MAX);
	struct tensor *t = &pool[pool_n++];
	memset(t, 0, sizeof(*t));
	return t;
}

static uint32_t
fbits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof(u));
	return u;
}

static float
ffrom(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof(f));
	return f;
}

/* A pooled tensor of the given shape holding exactly n values. */
static struct tensor *
mk(enum tensor_dtype dt, int rank, const int64_t *dims, const void *vals,
    size_t n)
{
	struct tensor *t = pool_new();
	CU_ASSERT_FATAL(engine_tensor_init(t, dt, rank, dims) == RF_OK);
	/* A test that lists the wrong number of values is itself wrong. */
	CU_ASSERT_FATAL(t->count == n);
	if (n > 0) {
		memcpy(t->data, vals, n * engine_tensor_dtype_size(dt));
	}
	return t;
}

#define F32(dims, ...)                                                      \
	mk(TENSOR_F32, RANK(dims), dims, (const float[]){ __VA_ARGS__ },     \
	    NV(float, __VA_ARGS__))
#define I8(dims, ...)                                                       \
	mk(TENSOR_I8, RANK(dims), dims, (const int8_t[]){ __VA_ARGS__ },     \
	    NV(int8_t, __VA_ARGS__))
#define I32(dims, ...)                                                      \
	mk(TENSOR_I32, RANK(dims), dims, (const int32_t[]){ __VA_ARGS__ },   \
	    NV(int32_t, __VA_ARGS__))
#define I64(dims, ...)                                                      \
	mk(TENSOR_I64, RANK(dims), dims, (const int64_t[]){ __VA_ARGS__ },   \
	    NV(int64_t, __VA_ARGS__))
/* Rank-0 tensors. */
#define F32S(v) mk(TENSOR_F32, 0, NULL, (const float[]){ v }, 1)
#define I8S(v) mk(TENSOR_I8, 0, NULL, (const int8_t[]){ v }, 1)
#define I32S(v) mk(TENSOR_I32, 0, NULL, (const int32_t[]){ v }, 1)
#define I64S(v) mk(TENSOR_I64, 0, NULL, (const int64_t[]){ v }, 1)

static struct engine_attr *
pending_next(void)
{
	CU_ASSERT_FATAL(n_pending < PENDING_MAX);
	return &pending[n_pending++];
}

static void
at_int(const char *name, int64_t v)
{
	CU_ASSERT_FATAL(engine_attr_int(pending_next(), name, v) == RF_OK);
}

static void
at_float(const char *name, float v)
{
	CU_ASSERT_FATAL(engine_attr_float(pending_next(), name, v) == RF_OK);
}

static void
at_ints(const char *name, const int64_t *v, size_t n)
{
	CU_ASSERT_FATAL(engine_attr_ints(pending_next(), name, v, n) ==
	    RF_OK);
}

static void
at_floats(const char *name, const float *v, size_t n)
{
	CU_ASSERT_FATAL(engine_attr_floats(pending_next(), name, v, n) ==
	    RF_OK);
}

static void
at_str(const char *name, const char *s)
{
	CU_ASSERT_FATAL(engine_attr_string(pending_next(), name, s) == RF_OK);
}

#define AT_INTS(name, ...)                                                  \
	at_ints(name, D(__VA_ARGS__), NV(int64_t, __VA_ARGS__))

static const char *const out_names[ENGINE_MAX_OP_OUTPUTS] = { "y0", "y1",
	"y2", "y3", "y4", "y5", "y6", "y7" };

/*
 * A model with one operator: each non-NULL in[i] becomes a graph input of
 * its dtype and shape, NULL an absent optional input. Uses and clears the
 * pending attributes. Returns engine_model_add_op's code.
 */
static int
build(enum engine_op op, const struct tensor *const *in, size_t n_in,
    size_t n_out, struct engine_model **out)
{
	struct engine_model *m = engine_model_alloc("ops_test");
	CU_ASSERT_FATAL(m != NULL);
	int idx[ENGINE_MAX_OP_INPUTS + 1];
	CU_ASSERT_FATAL(n_in <= ENGINE_MAX_OP_INPUTS + 1);
	CU_ASSERT_FATAL(n_out <= ENGINE_MAX_OP_OUTPUTS + 1);
	for (size_t i = 0; i < n_in; i++) {
		char name[32];
		if (in[i] == NULL) {
			idx[i] = ENGINE_NO_VALUE;
			continue;
		}
		snprintf(name, sizeof(name), "x%zu", i);
		CU_ASSERT_FATAL(engine_model_add_input(m, name, in[i]->dtype,
		    in[i]->rank, in[i]->dims, &idx[i], NULL) == RF_OK);
	}
	const char *names[ENGINE_MAX_OP_OUTPUTS + 1];
	for (size_t i = 0; i < n_out; i++) {
		names[i] = i < ENGINE_MAX_OP_OUTPUTS ? out_names[i] : "y8";
	}
	memset(&last_ei, 0, sizeof(last_ei));
	int err = engine_model_add_op(m, op, "op", idx, n_in, names, n_out,
	    pending, n_pending, NULL, &last_ei);
	n_pending = 0;
	if (err != RF_OK) {
		if (last_ei.msg[0] == '\0') {
			fprintf(stderr, "\n  add_op failed without a message\n");
		}
		CU_ASSERT(last_ei.msg[0] != '\0');
		engine_model_free(m);
		return err;
	}
	CU_ASSERT(engine_model_op_count(m) == 1);
	*out = m;
	return RF_OK;
}

/* Just the build: the code engine_model_add_op gives. */
static int
build_code(enum engine_op op, const struct tensor *const *in, size_t n_in,
    size_t n_out)
{
	struct engine_model *m = NULL;
	int err = build(op, in, n_in, n_out, &m);
	engine_model_free(m);
	return err;
}

/*
 * Builds and evaluates op under both kernel kinds. Both must give the same
 * code; on success the same bits in every output, which go to y[] (pooled);
 * on failure a message and cleared outputs. Returns the code, or the
 * build's code when add_op refused.
 */
static int
run(enum engine_op op, const struct tensor *const *in, size_t n_in,
    struct tensor **y, size_t n_out)
{
	static const enum engine_kernels kinds[2] = { ENGINE_KERNELS_REF,
		ENGINE_KERNELS_FAST };
	struct engine_model *m;
	int err = build(op, in, n_in, n_out, &m);
	if (err != RF_OK) {
		return err;
	}
	struct tensor out[2][ENGINE_MAX_OP_OUTPUTS];
	int code[2];
	for (int k = 0; k < 2; k++) {
		struct rf_errinfo ei;
		memset(&ei, 0, sizeof(ei));
		memset(out[k], 0, sizeof(out[k]));
		code[k] = engine_op_eval(m, 0, in, out[k], kinds[k], &ei);
		if (code[k] != RF_OK) {
			CU_ASSERT(ei.msg[0] != '\0');
			last_ei = ei;
			for (size_t i = 0; i < n_out; i++) {
				CU_ASSERT(out[k][i].data == NULL);
			}
		}
	}
	engine_model_free(m);
	if (code[0] != code[1]) {
		fprintf(stderr, "\n  %s: REF gives %s, FAST %s\n",
		    engine_op_name(op), rf_strerror(code[0]),
		    rf_strerror(code[1]));
	}
	CU_ASSERT_EQUAL(code[0], code[1]);
	for (size_t i = 0; i < n_out; i++) {
		if (code[0] == RF_OK && code[1] == RF_OK) {
			bool same = engine_tensor_equal(&out[0][i], &out[1][i]);
			if (!same) {
				fprintf(stderr, "\n  %s: output %zu differs "
				    "between REF and FAST\n",
				    engine_op_name(op), i);
			}
			CU_ASSERT(same);
		}
		if (y != NULL) {
			y[i] = pool_new();
			*y[i] = out[0][i];
		} else {
			engine_tensor_fini(&out[0][i]);
		}
		engine_tensor_fini(&out[1][i]);
	}
	return code[0];
}

#define IN(...)                                                             \
	((const struct tensor *const[]){ __VA_ARGS__ }),                     \
	    NV(struct tensor *, __VA_ARGS__)
/* RUN(op, y, n_out, inputs...) and BUILD(op, n_out, inputs...). */
#define RUN(op, y, n_out, ...) run(op, IN(__VA_ARGS__), y, n_out)
#define BUILD(op, n_out, ...) build_code(op, IN(__VA_ARGS__), n_out)

static void
expect_code_at(int got, int want, int line)
{
	if (got != want) {
		fprintf(stderr, "\n  line %d: got %s, want %s (%s)\n", line,
		    rf_strerror(got), rf_strerror(want), last_ei.msg);
	}
	CU_assertImplementation(got == want ? CU_TRUE : CU_FALSE,
	    (unsigned)line, "error code", __FILE__, "", CU_FALSE);
}
#define EXPECT_CODE(expr, want) expect_code_at((expr), (want), __LINE__)

static bool
shape_is(const struct tensor *t, enum tensor_dtype dt, int rank,
    const int64_t *dims, size_t n, int line)
{
	bool ok = t != NULL && t->dtype == dt && t->rank == rank &&
	    t->count == n;
	for (int d = 0; ok && d < rank; d++) {
		ok = t->dims[d] == dims[d];
	}
	if (!ok) {
		char buf[96] = "(none)";
		if (t != NULL) {
			engine_tensor_shape_str(t, buf, sizeof(buf));
		}
		fprintf(stderr, "\n  line %d: got %s, want %s rank %d with %zu "
		    "values\n", line, buf, engine_tensor_dtype_name(dt), rank, n);
	}
	return ok;
}

/*
 * Compares an f32 output: tol == 0 means the exact bits (so -0.0 is not
 * +0.0 and a NaN must be the same NaN); otherwise |got - want| <= tol, a
 * NaN wanted matches any NaN and an infinity only itself.
 */
static void
expect_f32_at(const struct tensor *t, int rank, const int64_t *dims,
    const float *want, size_t n, float tol, int line)
{
	bool ok = shape_is(t, TENSOR_F32, rank, dims, n, line);
	const float *g = ok ? t->data : NULL;
	for (size_t i = 0; ok && i < n; i++) {
		bool same;
		if (tol == 0.0f) {
			same = fbits(g[i]) == fbits(want[i]);
		} else if (isnan(want[i])) {
			same = isnan(g[i]);
		} else if (isinf(want[i])) {
			same = g[i] == want[i];
		} else {
			same = fabsf(g[i] - want[i]) <= tol;
		}
		if (!same) {
			fprintf(stderr, "\n  line %d: [%zu] = %.9g (0x%08x), "
			    "want %.9g (0x%08x) tol %g\n", line, i,
			    (double)g[i], (unsigned)fbits(g[i]),
			    (double)want[i], (unsigned)fbits(want[i]),
			    (double)tol);
			ok = false;
		}
	}
	CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line,
	    "f32 output matches", __FILE__, "", CU_FALSE);
}

static int64_t
int_at(const struct tensor *t, size_t i)
{
	switch (t->dtype) {
	case TENSOR_I8:
		return ((const int8_t *)t->data)[i];
	case TENSOR_I32:
		return ((const int32_t *)t->data)[i];
	case TENSOR_I64:
		return ((const int64_t *)t->data)[i];
	case TENSOR_F32:
		break;
	}
	return INT64_MIN;
}

static void
expect_int_at(const struct tensor *t, enum tensor_dtype dt, int rank,
    const int64_t *dims, const int64_t *want, size_t n, int line)
{
	bool ok = shape_is(t, dt, rank, dims, n, line);
	for (size_t i = 0; ok && i < n; i++) {
		if (int_at(t, i) != want[i]) {
			fprintf(stderr, "\n  line %d: [%zu] = %lld, want %lld\n",
			    line, i, (long long)int_at(t, i),
			    (long long)want[i]);
			ok = false;
		}
	}
	CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line,
	    "integer output matches", __FILE__, "", CU_FALSE);
}

#define EXPECT_F32(t, dims, tol, ...)                                       \
	expect_f32_at(t, RANK(dims), dims, (const float[]){ __VA_ARGS__ },   \
	    NV(float, __VA_ARGS__), tol, __LINE__)
#define EXPECT_F32S(t, tol, v)                                              \
	expect_f32_at(t, 0, NULL, (const float[]){ v }, 1, tol, __LINE__)
#define EXPECT_INT(t, dt, dims, ...)                                        \
	expect_int_at(t, dt, RANK(dims), dims,                               \
	    (const int64_t[]){ __VA_ARGS__ }, NV(int64_t, __VA_ARGS__),      \
	    __LINE__)
#define EXPECT_INTS(t, dt, v)                                               \
	expect_int_at(t, dt, 0, NULL, (const int64_t[]){ v }, 1, __LINE__)
#define EXPECT_I8(t, dims, ...) EXPECT_INT(t, TENSOR_I8, dims, __VA_ARGS__)
#define EXPECT_I32(t, dims, ...) EXPECT_INT(t, TENSOR_I32, dims, __VA_ARGS__)
#define EXPECT_I64(t, dims, ...) EXPECT_INT(t, TENSOR_I64, dims, __VA_ARGS__)

/* Fills t with uniform values in [-1, 1). */
static void
fill_random(struct tensor *t, struct engine_rng *r)
{
	float *d = t->data;
	for (size_t i = 0; i < t->count; i++) {
		d[i] = engine_rng_uniform(r, -1.0f, 1.0f);
	}
}

static struct tensor *
mk_random(int rank, const int64_t *dims, struct engine_rng *r)
{
	struct tensor *t = pool_new();
	CU_ASSERT_FATAL(engine_tensor_init(t, TENSOR_F32, rank, dims) == RF_OK);
	fill_random(t, r);
	return t;
}

/* ------------------------------------------------------------------ */
/* MatMul                                                               */
/* ------------------------------------------------------------------ */

static void
test_matmul_2d(void)
{
	struct tensor *y;
	/* [[1,2],[3,4]] x [[5,6],[7,8]]: 1*5+2*7 = 19, 1*6+2*8 = 22,
	 * 3*5+4*7 = 43, 3*6+4*8 = 50. */
	EXPECT_CODE(RUN(ENGINE_OP_MATMUL, &y, 1, F32(D(2, 2), 1, 2, 3, 4),
	    F32(D(2, 2), 5, 6, 7, 8)), RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 19, 22, 43, 50);
	/* [2,3] x [3,2]: 1*7+2*9+3*11 = 58, 1*8+2*10+3*12 = 64,
	 * 4*7+5*9+6*11 = 139, 4*8+5*10+6*12 = 154. */
	EXPECT_CODE(RUN(ENGINE_OP_MATMUL, &y, 1,
	    F32(D(2, 3), 1, 2, 3, 4, 5, 6),
	    F32(D(3, 2), 7, 8, 9, 10, 11, 12)), RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 58, 64, 139, 154);
	/* [1,3] x [3,1] = [[1*4 + 2*5 + 3*6]] = [[32]]. */
	EXPECT_CODE(RUN(ENGINE_OP_MATMUL, &y, 1, F32(D(1, 3), 1, 2, 3),
	    F32(D(3, 1), 4, 5, 6)), RF_OK);
	EXPECT_F32(y, D(1, 1), 0, 32);
}

static void
test_matmul_vectors(void)
{
	struct tensor *y;
	/* 1-D x 2-D: [1,2,3] is a row; the row dim is dropped: [58, 64]. */
	EXPECT_CODE(RUN(ENGINE_OP_MATMUL, &y, 1, F32(D(3), 1, 2, 3),
	    F32(D(3, 2), 7, 8, 9, 10, 11, 12)), RF_OK);
	EXPECT_F32(y, D(2), 0, 58, 64);
	/* 2-D x 1-D: [1,0,-1] is a column: [1-3, 4-6] = [-2, -2]. */
	EXPECT_CODE(RUN(ENGINE_OP_MATMUL, &y, 1,
	    F32(D(2, 3), 1, 2, 3, 4, 5, 6), F32(D(3), 1, 0, -1)), RF_OK);
	EXPECT_F32(y, D(2), 0, -2, -2);
	/* 1-D x 1-D: a dot product of rank 0: 4 + 10 + 18 = 32. */
	EXPECT_CODE(RUN(ENGINE_OP_MATMUL, &y, 1, F32(D(3), 1, 2, 3),
	    F32(D(3), 4, 5, 6)), RF_OK);
	EXPECT_F32S(y, 0, 32);
	/* 3-D x 1-D: batch 0 rows [1,2,3],[4,5,6] -> -2, -2; batch 1 rows
	 * [0,0,1],[1,0,0] -> -1, 1. */
	EXPECT_CODE(RUN(ENGINE_OP_MATMUL, &y, 1,
	    F32(D(2, 2, 3), 1, 2, 3, 4, 5, 6, 0, 0, 1, 1, 0, 0),
	    F32(D(3), 1, 0, -1)), RF_OK);
	EXPECT_F32(y, D(2, 2), 0, -2, -2, -1, 1);
	/* 1-D x 3-D: [1,0,-1] picks row 0 minus row 2 of each batch:
	 * [1-5, 2-6] = [-4,-4] and [0-2, 1-2] = [-2,-1]. */
	EXPECT_CODE(RUN(ENGINE_OP_MATMUL, &y, 1, F32(D(3), 1, 0, -1),
	    F32(D(2, 3, 2), 1, 2, 3, 4, 5, 6, 0, 1, 1, 0, 2, 2)), RF_OK);
	EXPECT_F32(y, D(2, 2), 0, -4, -4, -2, -1);
}

static void
test_matmul_batched(void)
{
	struct tensor *y;
	/* [2,2,2] x [2,2]: B is shared. [[1,2],[3,4]]B = [[19,22],[43,50]];
	 * [[0,1],[1,0]]B swaps B's rows: [[7,8],[5,6]]. */
	EXPECT_CODE(RUN(ENGINE_OP_MATMUL, &y, 1,
	    F32(D(2, 2, 2), 1, 2, 3, 4, 0, 1, 1, 0),
	    F32(D(2, 2), 5, 6, 7, 8)), RF_OK);
	EXPECT_F32(y, D(2, 2, 2), 0, 19, 22, 43, 50, 7, 8, 5, 6);
	/* Batch dims [2,1] and [1,3] broadcast to [2,3]: rows a0 = [1,2],
	 * a1 = [3,4]; columns b0 = [1,1], b1 = [1,0], b2 = [0,2].
	 * a0: 3, 1, 4; a1: 7, 3, 8. */
	EXPECT_CODE(RUN(ENGINE_OP_MATMUL, &y, 1,
	    F32(D(2, 1, 1, 2), 1, 2, 3, 4),
	    F32(D(1, 3, 2, 1), 1, 1, 1, 0, 0, 2)), RF_OK);
	EXPECT_F32(y, D(2, 3, 1, 1), 0, 3, 1, 4, 7, 3, 8);
	/* Rank 3 x rank 4: [2,1,2] against [3,1,2,1] gives batch [3,2];
	 * a0 = [1,2], a1 = [3,4]; b0 = [1,0], b1 = [0,1], b2 = [1,1]:
	 * b0: 1, 3; b1: 2, 4; b2: 3, 7. */
	EXPECT_CODE(RUN(ENGINE_OP_MATMUL, &y, 1,
	    F32(D(2, 1, 2), 1, 2, 3, 4),
	    F32(D(3, 1, 2, 1), 1, 0, 0, 1, 1, 1)), RF_OK);
	EXPECT_F32(y, D(3, 2, 1, 1), 0, 1, 3, 2, 4, 3, 7);
}

/* The canonical order: one fmaf chain per element, k ascending from +0. */
static void
test_matmul_order(void)
{
	struct tensor *y;
	/* 1e8 + 1 is not a float (spacing 8 there), so k ascending gives
	 * (1e8 + 1) - 1e8 = 1e8 - 1e8 = 0, where another order would give 1. */
	EXPECT_CODE(RUN(ENGINE_OP_MATMUL, &y, 1, F32(D(1, 3), 1e8f, 1, -1e8f),
	    F32(D(3, 1), 1, 1, 1)), RF_OK);
	EXPECT_F32(y, D(1, 1), 0, 0);
	/* x = 1 + 2^-12: x*x = 1 + 2^-11 + 2^-24. After acc = -1 - 2^-11 the
	 * fused step gives exactly 2^-24; rounding x*x first (a tie, to even
	 * 1 + 2^-11) would give 0. */
	float x = 1.0f + 0x1p-12f;
	EXPECT_CODE(RUN(ENGINE_OP_MATMUL, &y, 1, F32(D(1, 2), 1, x),
	    F32(D(2, 1), -1.0f - 0x1p-11f, x)), RF_OK);
	EXPECT_F32(y, D(1, 1), 0, 0x1p-24f);
	/* Empty K: every sum is +0. */
	EXPECT_CODE(RUN(ENGINE_OP_MATMUL, &y, 1,
	    mk(TENSOR_F32, 2, D(2, 0), NULL, 0),
	    mk(TENSOR_F32, 2, D(0, 2), NULL, 0)), RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 0, 0, 0, 0);
}

static void
test_matmul_errors(void)
{
	/* Inner dims 3 and 2. */
	EXPECT_CODE(RUN(ENGINE_OP_MATMUL, NULL, 1,
	    F32(D(2, 3), 1, 2, 3, 4, 5, 6), F32(D(2, 2), 1, 2, 3, 4)),
	    RF_ERR_SHAPE);
	/* 1-D against 1-D of another length. */
	EXPECT_CODE(RUN(ENGINE_OP_MATMUL, NULL, 1, F32(D(3), 1, 2, 3),
	    F32(D(2), 1, 2)), RF_ERR_SHAPE);
	/* Batch dims 3 and 2 do not broadcast. */
	EXPECT_CODE(RUN(ENGINE_OP_MATMUL, NULL, 1,
	    F32(D(3, 1, 1), 1, 2, 3), F32(D(2, 1, 1), 1, 2)), RF_ERR_SHAPE);
	/* A scalar operand. */
	EXPECT_CODE(RUN(ENGINE_OP_MATMUL, NULL, 1, F32S(2),
	    F32(D(1, 1), 1)), RF_ERR_SHAPE);
	EXPECT_CODE(RUN(ENGINE_OP_MATMUL, NULL, 1, I32(D(1, 1), 1),
	    I32(D(1, 1), 1)), RF_ERR_DTYPE);
	EXPECT_CODE(RUN(ENGINE_OP_MATMUL, NULL, 1, F32(D(1, 1), 1),
	    I32(D(1, 1), 1)), RF_ERR_DTYPE);
}

/* ------------------------------------------------------------------ */
/* Gemm                                                                 */
/* ------------------------------------------------------------------ */

/* A = [[1,2,3],[4,5,6]], B = [[7,8],[9,10],[11,12]], AB = [[58,64],
 * [139,154]] as in test_matmul_2d. */
static void
test_gemm_trans(void)
{
	struct tensor *y;
	EXPECT_CODE(RUN(ENGINE_OP_GEMM, &y, 1, F32(D(2, 3), 1, 2, 3, 4, 5, 6),
	    F32(D(3, 2), 7, 8, 9, 10, 11, 12)), RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 58, 64, 139, 154);
	/* transA: A is stored as its transpose [3,2]. */
	at_int("transA", 1);
	EXPECT_CODE(RUN(ENGINE_OP_GEMM, &y, 1, F32(D(3, 2), 1, 4, 2, 5, 3, 6),
	    F32(D(3, 2), 7, 8, 9, 10, 11, 12)), RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 58, 64, 139, 154);
	/* transB: B is stored as its transpose [2,3]. */
	at_int("transB", 1);
	EXPECT_CODE(RUN(ENGINE_OP_GEMM, &y, 1, F32(D(2, 3), 1, 2, 3, 4, 5, 6),
	    F32(D(2, 3), 7, 9, 11, 8, 10, 12)), RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 58, 64, 139, 154);
	at_int("transA", 1);
	at_int("transB", 1);
	EXPECT_CODE(RUN(ENGINE_OP_GEMM, &y, 1, F32(D(3, 2), 1, 4, 2, 5, 3, 6),
	    F32(D(2, 3), 7, 9, 11, 8, 10, 12)), RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 58, 64, 139, 154);
	/* transA = 0 given explicitly is the default. */
	at_int("transA", 0);
	EXPECT_CODE(RUN(ENGINE_OP_GEMM, &y, 1, F32(D(1, 1), 3),
	    F32(D(1, 1), 5)), RF_OK);
	EXPECT_F32(y, D(1, 1), 0, 15);
}

/* A pooled f32 tensor of random values; every 7th a special value (signed
 * zeros, infinities, NaNs, subnormals) when specials is set. */
static struct tensor *
rand_f32(int rank, const int64_t *dims, struct engine_rng *r, bool specials)
{
	static const uint32_t sp[] = { 0x80000000u, 0x00000000u, 0x7f800000u,
		0xff800000u, 0x7fc00000u, 0xffa00001u, 0x00000001u };
	struct tensor *t = pool_new();
	CU_ASSERT_FATAL(engine_tensor_init(t, TENSOR_F32, rank, dims) == RF_OK);
	float *d = t->data;
	for (size_t i = 0; i < t->count; i++) {
		uint64_t u = engine_rng_next(r);
		if (specials && u % 7 == 0) {
			uint32_t b = sp[(u >> 8) % (sizeof(sp) / sizeof(sp[0]))];
			memcpy(&d[i], &b, sizeof(b));
		} else {
			d[i] = engine_rng_uniform(r, -2.0f, 2.0f);
		}
	}
	return t;
}

static struct tensor *
transposed(const struct tensor *t)
{
	int64_t d[2] = { t->dims[1], t->dims[0] };
	struct tensor *u = pool_new();
	CU_ASSERT_FATAL(engine_tensor_init(u, TENSOR_F32, 2, d) == RF_OK);
	const float *s = t->data;
	float *o = u->data;
	for (int64_t i = 0; i < t->dims[0]; i++) {
		for (int64_t j = 0; j < t->dims[1]; j++) {
			o[j * t->dims[0] + i] = s[i * t->dims[1] + j];
		}
	}
	return u;
}

/*
 * Gemm reads transposed operands in place: transA/transB on stored
 * transposes must give the bits of the plain product on the transposed
 * copies, on both kernel kinds (run() compares REF and FAST), for shapes
 * over several GEMM blocks, alpha/beta 1 (the fast path) and others, and
 * each bias broadcast.
 */
static void
test_gemm_trans_random(void)
{
	static const int64_t shapes[][3] = { { 64, 70, 300 }, { 5, 1030, 9 },
		{ 33, 17, 700 }, { 1, 1, 1 } };
	static const float ab[][2] = { { 1.0f, 1.0f }, { 0.5f, 2.0f },
		{ -1.0f, 1.0f }, { 1.0f, 0.0f } };
	struct engine_rng r;
	engine_rng_seed(&r, 77);
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
		bool sp = s % 2 == 1;
		struct tensor *a = rand_f32(2, D(m, k), &r, sp);
		struct tensor *b = rand_f32(2, D(k, n), &r, sp);
		struct tensor *at = transposed(a);
		struct tensor *bt = transposed(b);
		const struct tensor *biases[3] = { rand_f32(1, D(n), &r, sp),
			rand_f32(2, D(m, 1), &r, sp), rand_f32(2, D(m, n), &r,
			sp) };
		for (size_t v = 0; v < 4 * 3; v++) {
			const float *g = ab[v % 4];
			const struct tensor *c = biases[v / 4];
			struct tensor *y0, *y1;
			at_float("alpha", g[0]);
			at_float("beta", g[1]);
			EXPECT_CODE(RUN(ENGINE_OP_GEMM, &y0, 1, a, b, c), RF_OK);
			for (int f = 1; f < 4; f++) {
				at_float("alpha", g[0]);
				at_float("beta", g[1]);
				at_int("transA", f & 1);
				at_int("transB", f >> 1);
				EXPECT_CODE(RUN(ENGINE_OP_GEMM, &y1, 1,
				    f & 1 ? at : a, f >> 1 ? bt : b, c), RF_OK);
				CU_ASSERT(engine_tensor_equal(y0, y1));
			}
		}
	}
}

/*
 * The run's buffer pool (engine/run.c hands finished intermediates to
 * later outputs): a reused buffer comes back zeroed like a fresh one, a
 * small tensor does not take a much bigger buffer, and scratch memory
 * goes round the same way.
 */
static void
test_bufpool(void)
{
	struct op_bufpool bp = { { NULL }, { 0 }, 0 };
	struct op_bufpool *outer = engine_op_bufpool_set(&bp);
	struct tensor t;
	CU_ASSERT_FATAL(engine_tensor_init(&t, TENSOR_F32, 1, D(1000)) == RF_OK);
	memset(t.data, 0xab, 4000);
	void *p = t.data;
	engine_op_tensor_release(&t);
	CU_ASSERT(bp.n == 1 && t.data == NULL);

	struct tensor out[1];
	memset(out, 0, sizeof(out));
	struct rf_errinfo ei = { "" };
	struct op_call c = { .out = out, .n_out = 1, .ei = &ei };
	/* 400 bytes: too small for the 4000-byte buffer, freshly made. */
	CU_ASSERT_FATAL(engine_op_out_alloc(&c, 0, TENSOR_F32, 1, D(100)) == RF_OK);
	CU_ASSERT(out[0].data != p && bp.n == 1);
	engine_tensor_fini(&out[0]);
	/* 3600 bytes: the pooled buffer, all zeros again. */
	CU_ASSERT_FATAL(engine_op_out_alloc(&c, 0, TENSOR_F32, 2, D(30, 30)) ==
	    RF_OK);
	CU_ASSERT(out[0].data == p && bp.n == 0);
	CU_ASSERT(out[0].count == 900 && out[0].owned);
	size_t nonzero = 0;
	for (size_t i = 0; i < 3600; i++) {
		nonzero += ((const unsigned char *)out[0].data)[i] != 0;
	}
	CU_ASSERT_EQUAL(nonzero, 0);
	engine_op_tensor_release(&out[0]);
	/* Scratch of a fitting size takes it back; its free returns it. */
	void *s = engine_op_scratch_alloc(3000);
	CU_ASSERT(s == p && bp.n == 0);
	engine_op_scratch_free(s, 3000);
	CU_ASSERT(bp.n == 1);
	engine_op_bufpool_set(outer);
	engine_op_bufpool_drain(&bp);
	CU_ASSERT(bp.n == 0);
	/* Without a pool, release is engine_tensor_fini. */
	CU_ASSERT_FATAL(engine_tensor_init(&t, TENSOR_F32, 1, D(10)) == RF_OK);
	engine_op_tensor_release(&t);
	CU_ASSERT(t.data == NULL);
}

static void
test_gemm_bias(void)
{
	struct tensor *y;
	const struct tensor *a = F32(D(2, 3), 1, 2, 3, 4, 5, 6);
	const struct tensor *b = F32(D(3, 2), 7, 8, 9, 10, 11, 12);
	/* alpha 0.5, beta 2, C [n] = [1,-1]: 29+2 = 31, 32-2 = 30,
	 * 69.5+2 = 71.5, 77-2 = 75. */
	at_float("alpha", 0.5f);
	at_float("beta", 2.0f);
	EXPECT_CODE(RUN(ENGINE_OP_GEMM, &y, 1, a, b, F32(D(2), 1, -1)), RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 31, 30, 71.5f, 75);
	/* C [m,1] = [[10],[20]] adds per row: 68, 74, 159, 174. */
	EXPECT_CODE(RUN(ENGINE_OP_GEMM, &y, 1, a, b, F32(D(2, 1), 10, 20)),
	    RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 68, 74, 159, 174);
	/* C a scalar 100: 158, 164, 239, 254. */
	EXPECT_CODE(RUN(ENGINE_OP_GEMM, &y, 1, a, b, F32S(100)), RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 158, 164, 239, 254);
	/* C [1,1] = 100 is the same. */
	EXPECT_CODE(RUN(ENGINE_OP_GEMM, &y, 1, a, b, F32(D(1, 1), 100)),
	    RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 158, 164, 239, 254);
	/* C [1,n] = [[1,2]]: 59, 66, 140, 156. */
	EXPECT_CODE(RUN(ENGINE_OP_GEMM, &y, 1, a, b, F32(D(1, 2), 1, 2)),
	    RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 59, 66, 140, 156);
	/* C [m,n] with beta -1: 58-1, 64-2, 139-3, 154-4. */
	at_float("beta", -1.0f);
	EXPECT_CODE(RUN(ENGINE_OP_GEMM, &y, 1, a, b,
	    F32(D(2, 2), 1, 2, 3, 4)), RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 57, 62, 136, 150);
	/* An absent C (empty ONNX name) is no bias. */
	at_float("alpha", 2.0f);
	EXPECT_CODE(RUN(ENGINE_OP_GEMM, &y, 1, a, b, NULL), RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 116, 128, 278, 308);
}

static void
test_gemm_errors(void)
{
	const struct tensor *a = F32(D(2, 3), 1, 2, 3, 4, 5, 6);
	const struct tensor *b = F32(D(3, 2), 7, 8, 9, 10, 11, 12);
	/* C of 3 values for n = 2; C of rank 3. */
	EXPECT_CODE(RUN(ENGINE_OP_GEMM, NULL, 1, a, b, F32(D(3), 1, 2, 3)),
	    RF_ERR_SHAPE);
	EXPECT_CODE(RUN(ENGINE_OP_GEMM, NULL, 1, a, b,
	    F32(D(1, 2, 2), 1, 2, 3, 4)), RF_ERR_SHAPE);
	EXPECT_CODE(RUN(ENGINE_OP_GEMM, NULL, 1, a, b, F32(D(3, 1), 1, 2, 3)),
	    RF_ERR_SHAPE);
	/* Inner dims 3 and 2; transB makes B [2,3] against 3. */
	EXPECT_CODE(RUN(ENGINE_OP_GEMM, NULL, 1, a, F32(D(2, 2), 1, 2, 3, 4)),
	    RF_ERR_SHAPE);
	at_int("transB", 1);
	EXPECT_CODE(RUN(ENGINE_OP_GEMM, NULL, 1, a, b), RF_ERR_SHAPE);
	/* Gemm is 2-D only. */
	EXPECT_CODE(RUN(ENGINE_OP_GEMM, NULL, 1, F32(D(3), 1, 2, 3), b),
	    RF_ERR_SHAPE);
	EXPECT_CODE(RUN(ENGINE_OP_GEMM, NULL, 1, a, I32(D(3, 1), 1, 2, 3)),
	    RF_ERR_DTYPE);
	EXPECT_CODE(RUN(ENGINE_OP_GEMM, NULL, 1, a, b, I32S(1)),
	    RF_ERR_DTYPE);
	/* Attributes: transA only 0 or 1, alpha a float. */
	at_int("transA", 2);
	EXPECT_CODE(BUILD(ENGINE_OP_GEMM, 1, a, b), RF_ERR_INVAL);
	at_int("alpha", 1);
	EXPECT_CODE(BUILD(ENGINE_OP_GEMM, 1, a, b), RF_ERR_INVAL);
	at_float("gamma", 1.0f);
	EXPECT_CODE(BUILD(ENGINE_OP_GEMM, 1, a, b), RF_ERR_NOTSUP);
}

/* ------------------------------------------------------------------ */
/* Add, Sub, Mul, Div                                                   */
/* ------------------------------------------------------------------ */

static void
test_binary_f32(void)
{
	struct tensor *y;
	EXPECT_CODE(RUN(ENGINE_OP_ADD, &y, 1, F32(D(4), 1, 2, 3, 4),
	    F32(D(4), 10, 20, 30, 40)), RF_OK);
	EXPECT_F32(y, D(4), 0, 11, 22, 33, 44);
	EXPECT_CODE(RUN(ENGINE_OP_SUB, &y, 1, F32(D(2), 1, 2),
	    F32(D(2), 0.5f, 4)), RF_OK);
	EXPECT_F32(y, D(2), 0, 0.5f, -2);
	EXPECT_CODE(RUN(ENGINE_OP_MUL, &y, 1, F32(D(2), 3, -0.5f),
	    F32(D(2), 4, 6)), RF_OK);
	EXPECT_F32(y, D(2), 0, 12, -3);
	/* 1/4, 3/8, -1/4, 0/8 = +0. */
	EXPECT_CODE(RUN(ENGINE_OP_DIV, &y, 1, F32(D(2, 2), 1, 3, -1, 0),
	    F32(D(2), 4, 8)), RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 0.25f, 0.375f, -0.25f, 0);
	/* f32 division by zero is IEEE, not an error: inf, -inf, NaN. */
	EXPECT_CODE(RUN(ENGINE_OP_DIV, &y, 1, F32(D(3), 1, -1, 0),
	    F32(D(3), 0, 0, 0)), RF_OK);
	EXPECT_F32(y, D(3), 1, INFINITY, -INFINITY, NAN);
	/* 1/3 rounded once. */
	EXPECT_CODE(RUN(ENGINE_OP_DIV, &y, 1, F32S(1), F32S(3)), RF_OK);
	EXPECT_F32S(y, 0, 1.0f / 3.0f);
}

static void
test_binary_broadcast(void)
{
	struct tensor *y;
	/* Scalar with matrix, the scalar first: 10 - [[1,2],[3,4]]. */
	EXPECT_CODE(RUN(ENGINE_OP_SUB, &y, 1, F32S(10),
	    F32(D(2, 2), 1, 2, 3, 4)), RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 9, 8, 7, 6);
	/* Matrix with scalar: [[1,2],[3,4]] * 0.5. */
	EXPECT_CODE(RUN(ENGINE_OP_MUL, &y, 1, F32(D(2, 2), 1, 2, 3, 4),
	    F32S(0.5f)), RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 0.5f, 1, 1.5f, 2);
	/* [3,1] with [1,4]: y[i][j] = a[i] + b[j]. */
	EXPECT_CODE(RUN(ENGINE_OP_ADD, &y, 1, F32(D(3, 1), 0, 10, 20),
	    F32(D(1, 4), 1, 2, 3, 4)), RF_OK);
	EXPECT_F32(y, D(3, 4), 0, 1, 2, 3, 4, 11, 12, 13, 14, 21, 22, 23, 24);
	/* The same with Sub: a[i] - b[j]. */
	EXPECT_CODE(RUN(ENGINE_OP_SUB, &y, 1, F32(D(3, 1), 0, 10, 20),
	    F32(D(1, 4), 1, 2, 3, 4)), RF_OK);
	EXPECT_F32(y, D(3, 4), 0, -1, -2, -3, -4, 9, 8, 7, 6, 19, 18, 17, 16);
	/* Rank 3 with rank 1: [2,2,3] of 0..11 plus [100,200,300] per row. */
	EXPECT_CODE(RUN(ENGINE_OP_ADD, &y, 1,
	    F32(D(2, 2, 3), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11),
	    F32(D(3), 100, 200, 300)), RF_OK);
	EXPECT_F32(y, D(2, 2, 3), 0, 100, 201, 302, 103, 204, 305, 106, 207,
	    308, 109, 210, 311);
	/* Rank 1 with rank 3, b first: [1,2] / [2,1,2] of [1,2,4,8]. */
	EXPECT_CODE(RUN(ENGINE_OP_DIV, &y, 1, F32(D(2), 1, 2),
	    F32(D(2, 1, 2), 1, 2, 4, 8)), RF_OK);
	EXPECT_F32(y, D(2, 1, 2), 0, 1, 1, 0.25f, 0.25f);
	/* [2,1,3] * [2,1] -> [2,2,3]: y[i][j][k] = a[i][k] * b[j]. */
	EXPECT_CODE(RUN(ENGINE_OP_MUL, &y, 1,
	    F32(D(2, 1, 3), 1, 2, 3, 4, 5, 6), F32(D(2, 1), 1, -1)), RF_OK);
	EXPECT_F32(y, D(2, 2, 3), 0, 1, 2, 3, -1, -2, -3, 4, 5, 6, -4, -5, -6);
	/* Two scalars give a scalar. */
	EXPECT_CODE(RUN(ENGINE_OP_ADD, &y, 1, F32S(1.5f), F32S(2)), RF_OK);
	EXPECT_F32S(y, 0, 3.5f);
	/* An empty dimension stays empty. */
	EXPECT_CODE(RUN(ENGINE_OP_ADD, &y, 1,
	    mk(TENSOR_F32, 2, D(0, 3), NULL, 0), F32(D(3), 1, 2, 3)), RF_OK);
	CU_ASSERT(y->rank == 2 && y->dims[0] == 0 && y->dims[1] == 3);
}

static void
test_binary_errors(void)
{
	const struct tensor *m23 = F32(D(2, 3), 1, 2, 3, 4, 5, 6);
	/* Trailing dims 3 and 2. */
	EXPECT_CODE(RUN(ENGINE_OP_ADD, NULL, 1, m23, F32(D(2), 1, 2)),
	    RF_ERR_SHAPE);
	/* [3,1] with [2,2]: 3 against 2. */
	EXPECT_CODE(RUN(ENGINE_OP_MUL, NULL, 1, F32(D(3, 1), 1, 2, 3),
	    F32(D(2, 2), 1, 2, 3, 4)), RF_ERR_SHAPE);
	/* Leading dims 2 and 3 of rank 3. */
	EXPECT_CODE(RUN(ENGINE_OP_SUB, NULL, 1,
	    F32(D(2, 1, 1), 1, 2), F32(D(3, 1, 1), 1, 2, 3)), RF_ERR_SHAPE);
	EXPECT_CODE(RUN(ENGINE_OP_DIV, NULL, 1, m23,
	    I32(D(2, 3), 1, 2, 3, 4, 5, 6)), RF_ERR_DTYPE);
	EXPECT_CODE(RUN(ENGINE_OP_ADD, NULL, 1, I8(D(2), 1, 2),
	    I8(D(2), 1, 2)), RF_ERR_DTYPE);
	EXPECT_CODE(RUN(ENGINE_OP_ADD, NULL, 1, I32(D(1), 1),
	    I64(D(1), 1)), RF_ERR_DTYPE);
}

static void
test_binary_int(void)
{
	struct tensor *y;
	/* i32 wraps: INT32_MAX + 1 = INT32_MIN; -5 + 3; 7 + -7. */
	EXPECT_CODE(RUN(ENGINE_OP_ADD, &y, 1, I32(D(3), INT32_MAX, -5, 7),
	    I32(D(3), 1, 3, -7)), RF_OK);
	EXPECT_I32(y, D(3), INT32_MIN, -2, 0);
	/* i64 wraps the same way. */
	EXPECT_CODE(RUN(ENGINE_OP_ADD, &y, 1, I64(D(2), INT64_MAX, 1),
	    I64(D(2), 1, 2)), RF_OK);
	EXPECT_I64(y, D(2), INT64_MIN, 3);
	/* Scalar minus vector. */
	EXPECT_CODE(RUN(ENGINE_OP_SUB, &y, 1, I32S(10), I32(D(3), 1, 2, 3)),
	    RF_OK);
	EXPECT_I32(y, D(3), 9, 8, 7);
	/* 65536 * 65536 = 2^32 wraps to 0 in i32; -3 * 4 = -12. */
	EXPECT_CODE(RUN(ENGINE_OP_MUL, &y, 1, I32(D(2), 65536, -3),
	    I32(D(2), 65536, 4)), RF_OK);
	EXPECT_I32(y, D(2), 0, -12);
	/* [[1],[2]] * [3,4] in i64. */
	EXPECT_CODE(RUN(ENGINE_OP_MUL, &y, 1, I64(D(2, 1), 1, 2),
	    I64(D(2), 3, 4)), RF_OK);
	EXPECT_I64(y, D(2, 2), 3, 4, 6, 8);
	/* Division truncates toward zero: 7/2 = 3, -7/2 = -3, 7/-2 = -3,
	 * -7/-2 = 3. */
	EXPECT_CODE(RUN(ENGINE_OP_DIV, &y, 1, I32(D(4), 7, -7, 7, -7),
	    I32(D(4), 2, 2, -2, -2)), RF_OK);
	EXPECT_I32(y, D(4), 3, -3, -3, 3);
	/* i64 with broadcasting: 100/3 = 33, 100/7 = 14, 100/-9 = -11,
	 * and the negatives for -100. */
	EXPECT_CODE(RUN(ENGINE_OP_DIV, &y, 1, I64(D(2, 1), 100, -100),
	    I64(D(3), 3, 7, -9)), RF_OK);
	EXPECT_I64(y, D(2, 3), 33, 14, -11, -33, -14, 11);
	/* INT32_MIN / 1 is fine; only / -1 overflows. */
	EXPECT_CODE(RUN(ENGINE_OP_DIV, &y, 1, I32S(INT32_MIN), I32S(1)),
	    RF_OK);
	EXPECT_INTS(y, TENSOR_I32, INT32_MIN);
	EXPECT_CODE(RUN(ENGINE_OP_DIV, &y, 1, I64S(INT64_MIN), I64S(2)),
	    RF_OK);
	EXPECT_INTS(y, TENSOR_I64, INT64_MIN / 2);
}

static void
test_binary_int_div_errors(void)
{
	/* Division by zero, in any element, fails the whole op. */
	EXPECT_CODE(RUN(ENGINE_OP_DIV, NULL, 1, I32(D(2), 1, 2),
	    I32(D(2), 1, 0)), RF_ERR_RANGE);
	EXPECT_CODE(RUN(ENGINE_OP_DIV, NULL, 1, I64(D(1), 5), I64S(0)),
	    RF_ERR_RANGE);
	EXPECT_CODE(RUN(ENGINE_OP_DIV, NULL, 1, I32(D(2, 2), 1, 2, 3, 4),
	    I32(D(2, 1), 1, 0)), RF_ERR_RANGE);
	/* 0 / 0 too. */
	EXPECT_CODE(RUN(ENGINE_OP_DIV, NULL, 1, I64S(0), I64S(0)),
	    RF_ERR_RANGE);
	/* The one overflowing quotient, MIN / -1. */
	EXPECT_CODE(RUN(ENGINE_OP_DIV, NULL, 1, I32S(INT32_MIN), I32S(-1)),
	    RF_ERR_RANGE);
	EXPECT_CODE(RUN(ENGINE_OP_DIV, NULL, 1, I64S(INT64_MIN), I64S(-1)),
	    RF_ERR_RANGE);
}

/* ------------------------------------------------------------------ */
/* Relu, Sigmoid, Tanh, Gelu                                            */
/* ------------------------------------------------------------------ */

static void
test_relu(void)
{
	struct tensor *y;
	float nan_payload = ffrom(0x7fc00123u);
	float neg_nan = ffrom(0xffc00001u);
	float qnan = ffrom(0x7fc00000u);
	/* Negatives (and the smallest negative subnormal) become +0; -0.0,
	 * +0, positives and +inf pass unchanged; NaNs stay NaN and, like
	 * every NaN an operator outputs, become the canonical 0x7fc00000. */
	EXPECT_CODE(RUN(ENGINE_OP_RELU, &y, 1,
	    F32(D(2, 5), -2, -0.0f, 0, 1.5f, nan_payload, -INFINITY, INFINITY,
	    -0x1p-149f, neg_nan, 3e38f)), RF_OK);
	EXPECT_F32(y, D(2, 5), 0, 0, -0.0f, 0, 1.5f, qnan, 0, INFINITY, 0,
	    qnan, 3e38f);
	EXPECT_CODE(RUN(ENGINE_OP_RELU, &y, 1, F32S(-3)), RF_OK);
	EXPECT_F32S(y, 0, 0);
	EXPECT_CODE(RUN(ENGINE_OP_RELU, &y, 1, mk(TENSOR_F32, 1, D(0), NULL,
	    0)), RF_OK);
	CU_ASSERT(y->count == 0 && y->rank == 1);
	EXPECT_CODE(RUN(ENGINE_OP_RELU, NULL, 1, I32(D(1), -1)),
	    RF_ERR_DTYPE);
	at_float("alpha", 0.1f);
	EXPECT_CODE(BUILD(ENGINE_OP_RELU, 1, F32S(1)), RF_ERR_NOTSUP);
}

static void
test_sigmoid(void)
{
	struct tensor *y;
	/* 1/(1+e^-x): 0.5, 0.7310585786, 0.2689414214, 0.8807970780,
	 * 1 - 2.06e-9 (rounds to 1), 2.0611536e-9 (to 2.5e-7). */
	EXPECT_CODE(RUN(ENGINE_OP_SIGMOID, &y, 1,
	    F32(D(6), 0, 1, -1, 2, 20, -20)), RF_OK);
	EXPECT_F32(y, D(6), TOL_ULP2, 0.5f, 0.7310585786f, 0.2689414214f,
	    0.8807970780f, 1.0f, 2.0611536e-9f);
	/* sigmoid(0) = 1/2 and sigmoid(+-inf) = 1, 0 are exact. */
	EXPECT_CODE(RUN(ENGINE_OP_SIGMOID, &y, 1,
	    F32(D(3), 0, INFINITY, -INFINITY)), RF_OK);
	EXPECT_F32(y, D(3), 0, 0.5f, 1, 0);
	/* Symmetry: sigmoid(x) + sigmoid(-x) = 1 to within 2 ulps. */
	EXPECT_CODE(RUN(ENGINE_OP_SIGMOID, &y, 1, F32(D(2), 0.75f, -0.75f)),
	    RF_OK);
	const float *d = y->data;
	CU_ASSERT(fabsf(d[0] + d[1] - 1.0f) <= TOL_ULP2);
	EXPECT_CODE(RUN(ENGINE_OP_SIGMOID, &y, 1, F32(D(1), NAN)), RF_OK);
	CU_ASSERT(isnan(((const float *)y->data)[0]));
	EXPECT_CODE(RUN(ENGINE_OP_SIGMOID, NULL, 1, I64(D(1), 0)),
	    RF_ERR_DTYPE);
}

static void
test_tanh(void)
{
	struct tensor *y;
	/* tanh(1) = (e^2 - 1)/(e^2 + 1) = 0.7615941560; tanh(0.5) =
	 * 0.4621171573; tanh(2) = 0.9640275801; tanh(20) = 1 - 8.5e-18,
	 * which rounds to 1. */
	EXPECT_CODE(RUN(ENGINE_OP_TANH, &y, 1,
	    F32(D(6), 0, 0.5f, 1, -1, -2, 20)), RF_OK);
	EXPECT_F32(y, D(6), TOL_ULP2, 0, 0.4621171573f, 0.7615941560f,
	    -0.7615941560f, -0.9640275801f, 1);
	/* Odd function, exactly: tanh(-x) = -tanh(x); and tanh(+-0) = +-0,
	 * tanh(+-inf) = +-1. */
	EXPECT_CODE(RUN(ENGINE_OP_TANH, &y, 1,
	    F32(D(6), 0.3f, -0.3f, 0, -0.0f, INFINITY, -INFINITY)), RF_OK);
	const float *d = y->data;
	CU_ASSERT(d[0] == -d[1]);
	CU_ASSERT(fbits(d[2]) == fbits(0.0f));
	CU_ASSERT(fbits(d[3]) == fbits(-0.0f));
	CU_ASSERT(d[4] == 1.0f && d[5] == -1.0f);
}

static void
test_gelu(void)
{
	struct tensor *y;
	const struct tensor *x = F32(D(6), 0, 1, -1, 2, -3, 0.5f);
	/* Exact form x * Phi(x), Phi the normal CDF: Phi(1) = 0.8413447461,
	 * Phi(-1) = 0.1586552539, 2 Phi(2) = 1.9544997361,
	 * -3 Phi(-3) = -0.0040496941, 0.5 Phi(0.5) = 0.3457312306. */
	EXPECT_CODE(RUN(ENGINE_OP_GELU, &y, 1, x), RF_OK);
	EXPECT_F32(y, D(6), TOL_ULP2, 0, 0.8413447461f, -0.1586552539f,
	    1.9544997361f, -0.0040496941f, 0.3457312306f);
	/* approximate = "none" is the default. */
	struct tensor *y2;
	at_str("approximate", "none");
	EXPECT_CODE(RUN(ENGINE_OP_GELU, &y2, 1, x), RF_OK);
	CU_ASSERT(engine_tensor_equal(y, y2));
	/* Tanh form 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): at 1,
	 * sqrt(2/pi) * 1.044715 = 0.8335589, tanh = 0.6823840, so
	 * 0.5 * 1.6823840 = 0.8411920; the others likewise. It differs from
	 * the exact form by 1.5e-4 at 1, far more than the tolerance. */
	at_str("approximate", "tanh");
	EXPECT_CODE(RUN(ENGINE_OP_GELU, &y, 1, x), RF_OK);
	EXPECT_F32(y, D(6), TOL_ULP2, 0, 0.8411919906f, -0.1588080094f,
	    1.9545976941f, -0.0036373921f, 0.3457140098f);
	/* Large arguments: gelu(x) = x for x >= 10 (Phi(10) = 1 - 7.6e-24)
	 * and 0 far below; NaN stays NaN. */
	EXPECT_CODE(RUN(ENGINE_OP_GELU, &y, 1, F32(D(3), 10, -40, NAN)),
	    RF_OK);
	EXPECT_F32(y, D(3), TOL_ULP2, 10, 0, NAN);
	/* Only "none" and "tanh", and only as a string. */
	at_str("approximate", "fast");
	EXPECT_CODE(BUILD(ENGINE_OP_GELU, 1, x), RF_ERR_INVAL);
	at_str("approximate", "tan");
	EXPECT_CODE(BUILD(ENGINE_OP_GELU, 1, x), RF_ERR_INVAL);
	at_int("approximate", 1);
	EXPECT_CODE(BUILD(ENGINE_OP_GELU, 1, x), RF_ERR_INVAL);
	EXPECT_CODE(RUN(ENGINE_OP_GELU, NULL, 1, I32(D(1), 1)), RF_ERR_DTYPE);
}

/* ------------------------------------------------------------------ */
/* Softmax                                                              */
/* ------------------------------------------------------------------ */

/* Sums of y along axis of a [outer, n, inner] view are 1 to within tol. */
static void
check_sums(const struct tensor *y, size_t outer, size_t n, size_t inner,
    double tol)
{
	const float *d = y->data;
	for (size_t o = 0; o < outer; o++) {
		for (size_t in = 0; in < inner; in++) {
			double s = 0.0;
			for (size_t i = 0; i < n; i++) {
				float v = d[(o * n + i) * inner + in];
				CU_ASSERT(v >= 0.0f && v <= 1.0f);
				s += (double)v;
			}
			CU_ASSERT(fabs(s - 1.0) <= tol);
		}
	}
}

static void
test_softmax(void)
{
	struct tensor *y;
	float ln2 = 0.6931471806f, ln3 = 1.0986122887f;
	/* Along -1: [0, ln2] -> exp = [1, 2], so [1/3, 2/3]; [3, 3] -> 1/2
	 * each (exactly: equal terms). */
	EXPECT_CODE(RUN(ENGINE_OP_SOFTMAX, &y, 1, F32(D(2, 2), 0, ln2, 3, 3)),
	    RF_OK);
	EXPECT_F32(y, D(2, 2), 1e-7f, 1.0f / 3, 2.0f / 3, 0.5f, 0.5f);
	EXPECT_F32(y, D(2, 2), 1e-7f, 0.3333333333f, 0.6666666667f, 0.5f,
	    0.5f);
	CU_ASSERT(((const float *)y->data)[2] == 0.5f);
	/* [0, ln2, ln3] -> [1, 2, 3] / 6. */
	EXPECT_CODE(RUN(ENGINE_OP_SOFTMAX, &y, 1, F32(D(3), 0, ln2, ln3)),
	    RF_OK);
	EXPECT_F32(y, D(3), 1e-7f, 1.0f / 6, 2.0f / 6, 3.0f / 6);
	/* All equal: exp(0) = 1 for each, so exactly 1/4. */
	EXPECT_CODE(RUN(ENGINE_OP_SOFTMAX, &y, 1, F32(D(1, 4), 5, 5, 5, 5)),
	    RF_OK);
	EXPECT_F32(y, D(1, 4), 0, 0.25f, 0.25f, 0.25f, 0.25f);
	EXPECT_CODE(RUN(ENGINE_OP_SOFTMAX, &y, 1, F32(D(3), -7, -7, -7)),
	    RF_OK);
	EXPECT_F32(y, D(3), 0, (float)(1.0 / 3.0), (float)(1.0 / 3.0),
	    (float)(1.0 / 3.0));
	/* The max is subtracted first, so 1000 does not overflow:
	 * [1/(1+e), e/(1+e)] = [0.2689414214, 0.7310585786]. */
	EXPECT_CODE(RUN(ENGINE_OP_SOFTMAX, &y, 1, F32(D(2), 1000, 1001)),
	    RF_OK);
	EXPECT_F32(y, D(2), 1e-7f, 0.2689414214f, 0.7310585786f);
	/* exp(-inf) = 0: [1, 0]. */
	EXPECT_CODE(RUN(ENGINE_OP_SOFTMAX, &y, 1, F32(D(2), 0, -INFINITY)),
	    RF_OK);
	EXPECT_F32(y, D(2), 0, 1, 0);
	/* A single element is 1. */
	EXPECT_CODE(RUN(ENGINE_OP_SOFTMAX, &y, 1, F32(D(1), -123)), RF_OK);
	EXPECT_F32(y, D(1), 0, 1);
}

static void
test_softmax_axis(void)
{
	struct tensor *y;
	float ln2 = 0.6931471806f;
	/* Axis 0 of [[0,1,7],[ln2,1,7]]: column 0 is [0, ln2] -> [1/3, 2/3],
	 * the others equal -> 1/2. */
	at_int("axis", 0);
	EXPECT_CODE(RUN(ENGINE_OP_SOFTMAX, &y, 1,
	    F32(D(2, 3), 0, 1, 7, ln2, 1, 7)), RF_OK);
	EXPECT_F32(y, D(2, 3), 1e-7f, 1.0f / 3, 0.5f, 0.5f, 2.0f / 3, 0.5f,
	    0.5f);
	/* Axis -2 is the same axis for rank 2. */
	struct tensor *y2;
	at_int("axis", -2);
	EXPECT_CODE(RUN(ENGINE_OP_SOFTMAX, &y2, 1,
	    F32(D(2, 3), 0, 1, 7, ln2, 1, 7)), RF_OK);
	CU_ASSERT(engine_tensor_equal(y, y2));
	/* Axis 1 of [2,3,2]: each of the 2x2 fibres sums to 1. */
	at_int("axis", 1);
	EXPECT_CODE(RUN(ENGINE_OP_SOFTMAX, &y, 1,
	    F32(D(2, 3, 2), 0.5f, -1, 2, 3, -4, 0, 9, 9, 10, -2, 8.5f, 1)),
	    RF_OK);
	check_sums(y, 2, 3, 2, 1e-6);
	/* Default axis -1 on the same input: fibres of 2. */
	EXPECT_CODE(RUN(ENGINE_OP_SOFTMAX, &y, 1,
	    F32(D(2, 3, 2), 0.5f, -1, 2, 3, -4, 0, 9, 9, 10, -2, 8.5f, 1)),
	    RF_OK);
	check_sums(y, 6, 2, 1, 1e-6);
	/* [9, 9] -> exactly 1/2 each. */
	CU_ASSERT(((const float *)y->data)[6] == 0.5f);
}

static void
test_softmax_errors(void)
{
	const struct tensor *x = F32(D(2, 2), 1, 2, 3, 4);
	at_int("axis", 2);
	EXPECT_CODE(RUN(ENGINE_OP_SOFTMAX, NULL, 1, x), RF_ERR_INVAL);
	at_int("axis", -3);
	EXPECT_CODE(RUN(ENGINE_OP_SOFTMAX, NULL, 1, x), RF_ERR_INVAL);
	/* Beyond any rank: refused when the model is built. */
	at_int("axis", 6);
	EXPECT_CODE(BUILD(ENGINE_OP_SOFTMAX, 1, x), RF_ERR_INVAL);
	at_float("axis", 1.0f);
	EXPECT_CODE(BUILD(ENGINE_OP_SOFTMAX, 1, x), RF_ERR_INVAL);
	EXPECT_CODE(RUN(ENGINE_OP_SOFTMAX, NULL, 1, I32(D(2), 1, 2)),
	    RF_ERR_DTYPE);
	/* A scalar has no axis -1. */
	EXPECT_CODE(RUN(ENGINE_OP_SOFTMAX, NULL, 1, F32S(1)), RF_ERR_INVAL);
}

/* ------------------------------------------------------------------ */
/* LayerNormalization                                                   */
/* ------------------------------------------------------------------ */

static void
test_layernorm(void)
{
	struct tensor *y[3];
	/* [2,4,4,4,5,5,7,9]: mean 40/8 = 5, squared deviations 9,1,1,1,0,0,
	 * 4,16 sum to 32, var 4; with epsilon 0, 1/sqrt(4) = 0.5 exactly,
	 * so y = (x - 5) / 2. */
	const struct tensor *x = F32(D(1, 8), 2, 4, 4, 4, 5, 5, 7, 9);
	const struct tensor *ones = F32(D(8), 1, 1, 1, 1, 1, 1, 1, 1);
	at_float("epsilon", 0.0f);
	EXPECT_CODE(RUN(ENGINE_OP_LAYERNORM, y, 1, x, ones), RF_OK);
	EXPECT_F32(y[0], D(1, 8), 0, -1.5f, -0.5f, -0.5f, -0.5f, 0, 0, 1,
	    2);
	/* Scale and bias of one value each: 2 y + 1. */
	at_float("epsilon", 0.0f);
	EXPECT_CODE(RUN(ENGINE_OP_LAYERNORM, y, 1, x, F32(D(1), 2),
	    F32(D(1), 1)), RF_OK);
	EXPECT_F32(y[0], D(1, 8), 0, -2, 0, 0, 0, 1, 1, 3, 5);
	/* Per-element scale and bias, bias absent as NULL. */
	at_float("epsilon", 0.0f);
	EXPECT_CODE(RUN(ENGINE_OP_LAYERNORM, y, 1, x,
	    F32(D(8), 1, 2, 1, 2, 1, 2, 1, 2), NULL), RF_OK);
	EXPECT_F32(y[0], D(1, 8), 0, -1.5f, -1, -0.5f, -1, 0, 0, 1, 4);
	/* Default epsilon 1e-5: 1/sqrt(4.00001) = 0.4999993750, so
	 * y = (x - 5) * 0.499999375 to within 1e-6. */
	EXPECT_CODE(RUN(ENGINE_OP_LAYERNORM, y, 1, x, ones), RF_OK);
	EXPECT_F32(y[0], D(1, 8), 1e-6f, -1.4999981f, -0.49999938f,
	    -0.49999938f, -0.49999938f, 0, 0, 0.99999875f, 1.9999975f);
	/* [1,2,3,4]: mean 2.5, var (2.25+0.25+0.25+2.25)/4 = 1.25,
	 * 1/sqrt(1.25) = 0.8944271910: y = [-1.5,-0.5,0.5,1.5] * that. */
	at_float("epsilon", 0.0f);
	EXPECT_CODE(RUN(ENGINE_OP_LAYERNORM, y, 1, F32(D(4), 1, 2, 3, 4),
	    F32S(1)), RF_OK);
	EXPECT_F32(y[0], D(4), 2e-7f, -1.3416407865f, -0.4472135955f,
	    0.4472135955f, 1.3416407865f);
}

static void
test_layernorm_outputs(void)
{
	struct tensor *y[3];
	/* Two rows: the one above (mean 5, 1/std 0.5) and
	 * [1,1,1,1,3,3,3,3] (mean 2, var 1, 1/std 1). Mean and InvStdDev
	 * are [2,1]. */
	const struct tensor *x = F32(D(2, 8), 2, 4, 4, 4, 5, 5, 7, 9, 1, 1,
	    1, 1, 3, 3, 3, 3);
	at_float("epsilon", 0.0f);
	EXPECT_CODE(RUN(ENGINE_OP_LAYERNORM, y, 3, x, F32S(1), F32S(0)),
	    RF_OK);
	EXPECT_F32(y[0], D(2, 8), 0, -1.5f, -0.5f, -0.5f, -0.5f, 0, 0, 1, 2,
	    -1, -1, -1, -1, 1, 1, 1, 1);
	EXPECT_F32(y[1], D(2, 1), 0, 5, 2);
	EXPECT_F32(y[2], D(2, 1), 0, 0.5f, 1);
	/* Only Mean. */
	at_float("epsilon", 0.0f);
	EXPECT_CODE(RUN(ENGINE_OP_LAYERNORM, y, 2, x, F32S(1)), RF_OK);
	EXPECT_F32(y[1], D(2, 1), 0, 5, 2);
	/* Axis 1 of [2,2,2] normalizes the last two dims together:
	 * [0,2,0,2] has mean 1, var 1 -> [-1,1,-1,1]; [1,1,5,5] has mean 3,
	 * var 4 -> [-1,-1,1,1]. Scale [[1,2],[3,4]], bias [[0,0],[0,10]]:
	 * [-1,2,-3,4+10] and [-1,-2,3,4+10]. Mean and InvStdDev [2,1,1]. */
	at_int("axis", 1);
	at_float("epsilon", 0.0f);
	EXPECT_CODE(RUN(ENGINE_OP_LAYERNORM, y, 3,
	    F32(D(2, 2, 2), 0, 2, 0, 2, 1, 1, 5, 5),
	    F32(D(2, 2), 1, 2, 3, 4), F32(D(1, 2, 2), 0, 0, 0, 10)), RF_OK);
	EXPECT_F32(y[0], D(2, 2, 2), 0, -1, 2, -3, 14, -1, -2, 3, 14);
	EXPECT_F32(y[1], D(2, 1, 1), 0, 1, 3);
	EXPECT_F32(y[2], D(2, 1, 1), 0, 1, 0.5f);
	/* Axis 0: everything is one group; [-1, 1] -> mean 0, var 1. */
	at_int("axis", 0);
	at_float("epsilon", 0.0f);
	EXPECT_CODE(RUN(ENGINE_OP_LAYERNORM, y, 3, F32(D(2, 1), -1, 1),
	    F32(D(2, 1), 3, 4)), RF_OK);
	EXPECT_F32(y[0], D(2, 1), 0, -3, 4);
	EXPECT_F32(y[1], D(1, 1), 0, 0);
	EXPECT_F32(y[2], D(1, 1), 0, 1);
}

static void
test_layernorm_errors(void)
{
	const struct tensor *x = F32(D(2, 4), 1, 2, 3, 4, 5, 6, 7, 8);
	/* Scale of 3 values for a normalized size of 4; of [2,4] (the
	 * whole input) for axis -1. */
	EXPECT_CODE(RUN(ENGINE_OP_LAYERNORM, NULL, 1, x, F32(D(3), 1, 1, 1)),
	    RF_ERR_SHAPE);
	EXPECT_CODE(RUN(ENGINE_OP_LAYERNORM, NULL, 1, x,
	    F32(D(2, 4), 1, 1, 1, 1, 1, 1, 1, 1)), RF_ERR_SHAPE);
	EXPECT_CODE(RUN(ENGINE_OP_LAYERNORM, NULL, 1, x, F32S(1),
	    F32(D(2), 0, 0)), RF_ERR_SHAPE);
	EXPECT_CODE(RUN(ENGINE_OP_LAYERNORM, NULL, 1, x, I32S(1)),
	    RF_ERR_DTYPE);
	EXPECT_CODE(RUN(ENGINE_OP_LAYERNORM, NULL, 1, I32(D(1), 1), F32S(1)),
	    RF_ERR_DTYPE);
	at_int("axis", 2);
	EXPECT_CODE(RUN(ENGINE_OP_LAYERNORM, NULL, 1, x, F32S(1)),
	    RF_ERR_INVAL);
	at_int("stash_type", 0);
	EXPECT_CODE(BUILD(ENGINE_OP_LAYERNORM, 1, x, F32S(1)), RF_ERR_INVAL);
	at_float("epsilon", -1.0f);
	EXPECT_CODE(BUILD(ENGINE_OP_LAYERNORM, 1, x, F32S(1)), RF_ERR_INVAL);
	at_float("epsilon", NAN);
	EXPECT_CODE(BUILD(ENGINE_OP_LAYERNORM, 1, x, F32S(1)), RF_ERR_INVAL);
	/* One input, four outputs. */
	EXPECT_CODE(BUILD(ENGINE_OP_LAYERNORM, 1, x), RF_ERR_INVAL);
	EXPECT_CODE(BUILD(ENGINE_OP_LAYERNORM, 4, x, F32S(1)), RF_ERR_INVAL);
}

/* ------------------------------------------------------------------ */
/* BatchNormalization                                                   */
/* ------------------------------------------------------------------ */

static void
test_batchnorm(void)
{
	struct tensor *y;
	/* Channel 0: scale 1, bias 0, mean 3, var 0.25: a = 1/sqrt(0.25)
	 * = 2, y = (x - 3) * 2. Channel 1: scale 3, bias -1, mean 0, var 9:
	 * a = 3/3 = 1, y = x - 1. x is [N=2, C=2, 1, 2]. */
	const struct tensor *scale = F32(D(2), 1, 3);
	const struct tensor *bias = F32(D(2), 0, -1);
	const struct tensor *mean = F32(D(2), 3, 0);
	const struct tensor *var = F32(D(2), 0.25f, 9);
	at_float("epsilon", 0.0f);
	EXPECT_CODE(RUN(ENGINE_OP_BATCHNORM, &y, 1,
	    F32(D(2, 2, 1, 2), 3, 4, 5, 6, 1, 2.5f, 0, -1), scale, bias, mean,
	    var), RF_OK);
	/* n0c0: (3-3)*2, (4-3)*2; n0c1: 5-1, 6-1; n1c0: (1-3)*2,
	 * (2.5-3)*2; n1c1: 0-1, -1-1. */
	EXPECT_F32(y, D(2, 2, 1, 2), 0, 0, 2, 4, 5, -4, -1, -1, -2);
	/* [N, C] with no spatial dims: columns are channels. */
	at_float("epsilon", 0.0f);
	EXPECT_CODE(RUN(ENGINE_OP_BATCHNORM, &y, 1, F32(D(2, 2), 3, 5, 4, 6),
	    scale, bias, mean, var), RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 0, 4, 2, 5);
	/* Default epsilon 1e-5: a = 1/sqrt(0.25001) = 1.99996 for channel
	 * 0 and 3/sqrt(9.00001) = 0.99999944 for channel 1. */
	EXPECT_CODE(RUN(ENGINE_OP_BATCHNORM, &y, 1, F32(D(1, 2), 4, 5),
	    scale, bias, mean, var), RF_OK);
	EXPECT_F32(y, D(1, 2), 1e-6f, 1.99996f, 3.9999972f);
	/* momentum is accepted (training only) and ignored. */
	at_float("momentum", 0.5f);
	at_float("epsilon", 0.0f);
	EXPECT_CODE(RUN(ENGINE_OP_BATCHNORM, &y, 1, F32(D(1, 2), 4, 5),
	    scale, bias, mean, var), RF_OK);
	EXPECT_F32(y, D(1, 2), 0, 2, 4);
}

static void
test_batchnorm_errors(void)
{
	const struct tensor *x = F32(D(1, 2, 1, 1), 1, 2);
	const struct tensor *p2 = F32(D(2), 1, 1);
	EXPECT_CODE(RUN(ENGINE_OP_BATCHNORM, NULL, 1, x,
	    F32(D(3), 1, 1, 1), p2, p2, p2), RF_ERR_SHAPE);
	EXPECT_CODE(RUN(ENGINE_OP_BATCHNORM, NULL, 1, x, p2, p2, p2,
	    F32(D(1, 2), 1, 1)), RF_ERR_SHAPE);
	EXPECT_CODE(RUN(ENGINE_OP_BATCHNORM, NULL, 1, F32(D(2), 1, 2), p2, p2,
	    p2, p2), RF_ERR_SHAPE);
	EXPECT_CODE(RUN(ENGINE_OP_BATCHNORM, NULL, 1, x, p2, p2, p2,
	    I32(D(2), 1, 1)), RF_ERR_DTYPE);
	at_int("training_mode", 1);
	EXPECT_CODE(BUILD(ENGINE_OP_BATCHNORM, 1, x, p2, p2, p2, p2),
	    RF_ERR_INVAL);
	at_float("epsilon", -0.5f);
	EXPECT_CODE(BUILD(ENGINE_OP_BATCHNORM, 1, x, p2, p2, p2, p2),
	    RF_ERR_INVAL);
	EXPECT_CODE(BUILD(ENGINE_OP_BATCHNORM, 1, x, p2, p2, p2),
	    RF_ERR_INVAL);
	at_int("axis", 1);
	EXPECT_CODE(BUILD(ENGINE_OP_BATCHNORM, 1, x, p2, p2, p2, p2),
	    RF_ERR_NOTSUP);
}

/* ------------------------------------------------------------------ */
/* Conv                                                                 */
/* ------------------------------------------------------------------ */

/* The 3x3 image 1..9:
 *	1 2 3
 *	4 5 6
 *	7 8 9 */
static const struct tensor *
img3(void)
{
	return F32(D(1, 1, 3, 3), 1, 2, 3, 4, 5, 6, 7, 8, 9);
}

static void
test_conv_basic(void)
{
	struct tensor *y;
	const struct tensor *diag = F32(D(1, 1, 2, 2), 1, 0, 0, 1);
	/* Diagonal 2x2 kernel: x[i][j] + x[i+1][j+1]: 1+5, 2+6, 4+8, 5+9. */
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, img3(), diag), RF_OK);
	EXPECT_F32(y, D(1, 1, 2, 2), 0, 6, 8, 12, 14);
	/* With bias 10, and with kernel_shape given and matching. */
	at_ints("kernel_shape", D(2, 2), 2);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, img3(), diag, F32(D(1), 10)),
	    RF_OK);
	EXPECT_F32(y, D(1, 1, 2, 2), 0, 16, 18, 22, 24);
	/* An absent bias is no bias. */
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, img3(), diag, NULL), RF_OK);
	EXPECT_F32(y, D(1, 1, 2, 2), 0, 6, 8, 12, 14);
	/* Two images, the second 10x the first. */
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, F32(D(2, 1, 3, 3), 1, 2, 3, 4,
	    5, 6, 7, 8, 9, 10, 20, 30, 40, 50, 60, 70, 80, 90), diag), RF_OK);
	EXPECT_F32(y, D(2, 1, 2, 2), 0, 6, 8, 12, 14, 60, 80, 120, 140);
	/* Two output channels, the second [[1,1],[0,0]] (top pairs:
	 * 1+2, 2+3, 4+5, 5+6), biases 10 and -1. */
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, img3(),
	    F32(D(2, 1, 2, 2), 1, 0, 0, 1, 1, 1, 0, 0), F32(D(2), 10, -1)),
	    RF_OK);
	EXPECT_F32(y, D(1, 2, 2, 2), 0, 16, 18, 22, 24, 2, 4, 8, 10);
	/* Two input channels summed: c0 [1,2,3,4] * 1 + c1 [10,20,30,40]
	 * * 0.5 = [6, 12, 18, 24]. */
	const struct tensor *x2 = F32(D(1, 2, 2, 2), 1, 2, 3, 4, 10, 20, 30,
	    40);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, x2,
	    F32(D(1, 2, 1, 1), 1, 0.5f)), RF_OK);
	EXPECT_F32(y, D(1, 1, 2, 2), 0, 6, 12, 18, 24);
	/* A 2x2 all-ones kernel over both channels: 10 + 100 = 110. */
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, x2,
	    F32(D(1, 2, 2, 2), 1, 1, 1, 1, 1, 1, 1, 1)), RF_OK);
	EXPECT_F32(y, D(1, 1, 1, 1), 0, 110);
}

static void
test_conv_pads_strides(void)
{
	struct tensor *y;
	const struct tensor *ones3 = F32(D(1, 1, 3, 3), 1, 1, 1, 1, 1, 1, 1,
	    1, 1);
	const struct tensor *ones2 = F32(D(1, 1, 2, 2), 1, 1, 1, 1);
	/* Pads 1 with a 3x3 all-ones kernel: sums of each 3x3 neighbourhood
	 * within the image: corners 1+2+4+5 = 12, 2+3+5+6 = 16, 4+5+7+8 = 24,
	 * 5+6+8+9 = 28; edges 1+..+6 = 21, 1+2+4+5+7+8 = 27,
	 * 2+3+5+6+8+9 = 33, 4+..+9 = 39; centre 45. */
	AT_INTS("pads", 1, 1, 1, 1);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, img3(), ones3), RF_OK);
	EXPECT_F32(y, D(1, 1, 3, 3), 0, 12, 21, 16, 27, 45, 33, 24, 39, 28);
	/* Stride 2 keeps the corners: 12, 16, 24, 28. */
	AT_INTS("pads", 1, 1, 1, 1);
	AT_INTS("strides", 2, 2);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, img3(), ones3), RF_OK);
	EXPECT_F32(y, D(1, 1, 2, 2), 0, 12, 16, 24, 28);
	/* Pads only at the end (bottom, right), 2x2 ones: windows at rows
	 * and columns 0..2, the last ones half outside: 1+2+4+5 = 12,
	 * 2+3+5+6 = 16, 3+6 = 9, 4+5+7+8 = 24, 5+6+8+9 = 28, 6+9 = 15,
	 * 7+8 = 15, 8+9 = 17, 9. */
	AT_INTS("pads", 0, 0, 1, 1);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, img3(), ones2), RF_OK);
	EXPECT_F32(y, D(1, 1, 3, 3), 0, 12, 16, 9, 24, 28, 15, 15, 17, 9);
	/* Top pad only: windows start at rows -1, 0, 1: 1+2 = 3, 2+3 = 5,
	 * then 12, 16, 24, 28. */
	AT_INTS("pads", 1, 0, 0, 0);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, img3(), ones2), RF_OK);
	EXPECT_F32(y, D(1, 1, 3, 2), 0, 3, 5, 12, 16, 24, 28);
	/* Strides [1, 2]: columns 0 only (a window at 2 would not fit):
	 * 12, 24. */
	AT_INTS("strides", 1, 2);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, img3(), ones2), RF_OK);
	EXPECT_F32(y, D(1, 1, 2, 1), 0, 12, 24);
	/* Stride 3 with a 1x1 kernel of 2 samples only x[0][0]: 2 * 1. */
	AT_INTS("strides", 3, 3);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, img3(), F32(D(1, 1, 1, 1), 2)),
	    RF_OK);
	EXPECT_F32(y, D(1, 1, 1, 1), 0, 2);
}

static void
test_conv_dilation(void)
{
	struct tensor *y;
	/* x[r][c] = 5r + c + 1 on 5x5; a 2x2 ones kernel with dilation 2
	 * sums x[i][j] + x[i][j+2] + x[i+2][j] + x[i+2][j+2]
	 * = 4 x[i][j] + 2 + 10 + 12 = 4 (5i + j + 1) + 24:
	 * 28, 32, 36, 48, 52, 56, 68, 72, 76. */
	const struct tensor *x = F32(D(1, 1, 5, 5), 1, 2, 3, 4, 5, 6, 7, 8, 9,
	    10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25);
	const struct tensor *ones2 = F32(D(1, 1, 2, 2), 1, 1, 1, 1);
	AT_INTS("dilations", 2, 2);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, x, ones2), RF_OK);
	EXPECT_F32(y, D(1, 1, 3, 3), 0, 28, 32, 36, 48, 52, 56, 68, 72, 76);
	/* Dilation 2, pads 1, stride 2: windows at rows/cols {-1,1}, {1,3},
	 * {3,5}; only 1 and 3 are inside. x[1][1] = 7, x[1][3] = 9,
	 * x[3][1] = 17, x[3][3] = 19: 7, 7+9, 9, 7+17, 7+9+17+19, 9+19, 17,
	 * 17+19, 19. */
	AT_INTS("dilations", 2, 2);
	AT_INTS("pads", 1, 1, 1, 1);
	AT_INTS("strides", 2, 2);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, x, ones2), RF_OK);
	EXPECT_F32(y, D(1, 1, 3, 3), 0, 7, 16, 9, 24, 52, 28, 17, 36, 19);
	/* Dilation [2, 1]: x[i][j] + x[i][j+1] + x[i+2][j] + x[i+2][j+1]
	 * = 4 x[i][j] + 1 + 10 + 11 = 4 (5i + j + 1) + 22 for i < 3, j < 4:
	 * 26, 30, 34, 38, 46, ..., 78. */
	AT_INTS("dilations", 2, 1);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, x, ones2), RF_OK);
	EXPECT_F32(y, D(1, 1, 3, 4), 0, 26, 30, 34, 38, 46, 50, 54, 58, 66,
	    70, 74, 78);
}

static void
test_conv_groups(void)
{
	struct tensor *y;
	const struct tensor *x2 = F32(D(1, 2, 2, 2), 1, 2, 3, 4, 10, 20, 30,
	    40);
	/* Depthwise (group = channels = 2): c0 * 2, c1 * 3. */
	at_int("group", 2);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, x2, F32(D(2, 1, 1, 1), 2, 3)),
	    RF_OK);
	EXPECT_F32(y, D(1, 2, 2, 2), 0, 2, 4, 6, 8, 30, 60, 90, 120);
	/* Depthwise with multiplier 2: outputs 0, 1 read c0 (x1, x-1),
	 * outputs 2, 3 read c1 (x2, x0.5). */
	at_int("group", 2);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, x2,
	    F32(D(4, 1, 1, 1), 1, -1, 2, 0.5f)), RF_OK);
	EXPECT_F32(y, D(1, 4, 2, 2), 0, 1, 2, 3, 4, -1, -2, -3, -4, 20, 40,
	    60, 80, 5, 10, 15, 20);
	/* Two groups of two input channels: out0 = c0 + 10 c1 with
	 * c0 = [1,2,3,4], c1 = 1: [11,12,13,14]; out1 = 100 c2 + 1000 c3 with
	 * c2 = [0,1,0,1], c3 = 2: [2000,2100,2000,2100]. */
	at_int("group", 2);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1,
	    F32(D(1, 4, 2, 2), 1, 2, 3, 4, 1, 1, 1, 1, 0, 1, 0, 1, 2, 2, 2, 2),
	    F32(D(2, 2, 1, 1), 1, 10, 100, 1000)), RF_OK);
	EXPECT_F32(y, D(1, 2, 2, 2), 0, 11, 12, 13, 14, 2000, 2100, 2000,
	    2100);
	/* Depthwise 3x3 ones, pads 1, bias [0, 100]: channel 0 is the image
	 * 1..9 (the neighbourhood sums of test_conv_pads_strides), channel
	 * 1 is all ones, giving the number of pixels in each window (4 at
	 * corners, 6 at edges, 9 in the centre) plus 100. */
	at_int("group", 2);
	AT_INTS("pads", 1, 1, 1, 1);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1,
	    F32(D(1, 2, 3, 3), 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 1, 1, 1, 1, 1, 1,
	    1, 1),
	    F32(D(2, 1, 3, 3), 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	    1, 1), F32(D(2), 0, 100)), RF_OK);
	EXPECT_F32(y, D(1, 2, 3, 3), 0, 12, 21, 16, 27, 45, 33, 24, 39, 28,
	    104, 106, 104, 106, 109, 106, 104, 106, 104);
	/* Three groups of one channel, one output each, on 1x1 images. */
	at_int("group", 3);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, F32(D(1, 3, 1, 1), 1, 2, 3),
	    F32(D(3, 1, 1, 1), 5, 6, 7), F32(D(3), 0.5f, 0.25f, 0)), RF_OK);
	EXPECT_F32(y, D(1, 3, 1, 1), 0, 5.5f, 12.25f, 21);
}

static void
test_conv_auto_pad(void)
{
	struct tensor *y;
	const struct tensor *ones3 = F32(D(1, 1, 3, 3), 1, 1, 1, 1, 1, 1, 1,
	    1, 1);
	const struct tensor *ones2 = F32(D(1, 1, 2, 2), 1, 1, 1, 1);
	/* SAME_UPPER, 2x2, stride 1: out 3, total pad (3-1)*1 + 2 - 3 = 1,
	 * all of it at the end: the pads [0,0,1,1] case. */
	at_str("auto_pad", "SAME_UPPER");
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, img3(), ones2), RF_OK);
	EXPECT_F32(y, D(1, 1, 3, 3), 0, 12, 16, 9, 24, 28, 15, 15, 17, 9);
	/* SAME_LOWER puts it at the start: windows at -1..1: 1, 1+2, 2+3,
	 * 1+4, 1+2+4+5, 2+3+5+6, 4+7, 4+5+7+8, 5+6+8+9. */
	at_str("auto_pad", "SAME_LOWER");
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, img3(), ones2), RF_OK);
	EXPECT_F32(y, D(1, 1, 3, 3), 0, 1, 3, 5, 5, 12, 16, 11, 24, 28);
	/* SAME_UPPER, 3x3, stride 2: out ceil(3/2) = 2, total
	 * (2-1)*2 + 3 - 3 = 2, split 1 + 1: the corners 12, 16, 24, 28. */
	at_str("auto_pad", "SAME_UPPER");
	AT_INTS("strides", 2, 2);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, img3(), ones3), RF_OK);
	EXPECT_F32(y, D(1, 1, 2, 2), 0, 12, 16, 24, 28);
	/* SAME_UPPER, 2x2, stride 2: out 2, total (2-1)*2 + 2 - 3 = 1 at
	 * the end: windows at 0 and 2: 12, 3+6 = 9, 7+8 = 15, 9. */
	at_str("auto_pad", "SAME_UPPER");
	AT_INTS("strides", 2, 2);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, img3(), ones2), RF_OK);
	EXPECT_F32(y, D(1, 1, 2, 2), 0, 12, 9, 15, 9);
	/* VALID: no padding: 12, 16, 24, 28. */
	at_str("auto_pad", "VALID");
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, img3(), ones2), RF_OK);
	EXPECT_F32(y, D(1, 1, 2, 2), 0, 12, 16, 24, 28);
	/* NOTSET uses pads. */
	at_str("auto_pad", "NOTSET");
	AT_INTS("pads", 1, 1, 1, 1);
	AT_INTS("strides", 2, 2);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, img3(), ones3), RF_OK);
	EXPECT_F32(y, D(1, 1, 2, 2), 0, 12, 16, 24, 28);
}

/* A NaN anywhere in a window makes that output the canonical quiet NaN
 * 0x7fc00000 under both kernel kinds, whatever NaN came in. */
static void
test_conv_nan(void)
{
	struct tensor *y;
	float nan_in = ffrom(0xffc00001u); /* negative, with a payload */
	float qnan = ffrom(0x7fc00000u);
	const struct tensor *x = F32(D(1, 1, 3, 3), 1, 2, 3, 4, nan_in, 6, 7,
	    8, 9);
	const struct tensor *ones2 = F32(D(1, 1, 2, 2), 1, 1, 1, 1);
	/* Every 2x2 window holds the centre. */
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, x, ones2), RF_OK);
	EXPECT_F32(y, D(1, 1, 2, 2), 0, qnan, qnan, qnan, qnan);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, x, ones2, F32(D(1), 1)), RF_OK);
	EXPECT_F32(y, D(1, 1, 2, 2), 0, qnan, qnan, qnan, qnan);
	/* inf * 0 is a NaN too; the other windows are finite. */
	AT_INTS("pads", 0, 0, 1, 1);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1,
	    F32(D(1, 1, 2, 2), INFINITY, 1, 1, 1),
	    F32(D(1, 1, 2, 2), 0, 1, 1, 1)), RF_OK);
	/* Window (0,0): inf*0 = NaN; (0,1): 1*0 + 0 + 1*1 + 0 = 1;
	 * (1,0): 1*0 + 1*1 = 1; (1,1): 1*0 = 0. */
	EXPECT_F32(y, D(1, 1, 2, 2), 0, qnan, 1, 1, 0);
	/* 1x1 fast path (no im2col) with -0: fmaf(-0, 1, +0) = +0. */
	EXPECT_CODE(RUN(ENGINE_OP_CONV, &y, 1, F32(D(1, 1, 1, 2), -0.0f,
	    nan_in), F32(D(1, 1, 1, 1), 1)), RF_OK);
	EXPECT_F32(y, D(1, 1, 1, 2), 0, 0, qnan);
}

static void
test_conv_errors(void)
{
	const struct tensor *ones2 = F32(D(1, 1, 2, 2), 1, 1, 1, 1);
	/* Weight for 2 input channels on a 1-channel image. */
	EXPECT_CODE(RUN(ENGINE_OP_CONV, NULL, 1, img3(),
	    F32(D(1, 2, 1, 1), 1, 1)), RF_ERR_SHAPE);
	/* 3 input channels do not split into 2 groups. */
	at_int("group", 2);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, NULL, 1, F32(D(1, 3, 1, 1), 1, 2, 3),
	    F32(D(2, 1, 1, 1), 1, 1)), RF_ERR_SHAPE);
	/* 3 output channels do not split into 2 groups. */
	at_int("group", 2);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, NULL, 1, F32(D(1, 2, 1, 1), 1, 2),
	    F32(D(3, 1, 1, 1), 1, 1, 1)), RF_ERR_SHAPE);
	/* Group 2 needs [c_out, 1, ...] here, not [c_out, 2, ...]. */
	at_int("group", 2);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, NULL, 1, F32(D(1, 2, 1, 1), 1, 2),
	    F32(D(2, 2, 1, 1), 1, 1, 1, 1)), RF_ERR_SHAPE);
	/* kernel_shape disagrees with the weight. */
	at_ints("kernel_shape", D(3, 3), 2);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, NULL, 1, img3(), ones2), RF_ERR_SHAPE);
	/* Bias of 2 values for 1 output channel; of rank 2. */
	EXPECT_CODE(RUN(ENGINE_OP_CONV, NULL, 1, img3(), ones2,
	    F32(D(2), 1, 2)), RF_ERR_SHAPE);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, NULL, 1, img3(), ones2,
	    F32(D(1, 1), 1)), RF_ERR_SHAPE);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, NULL, 1, img3(), ones2, I32(D(1), 1)),
	    RF_ERR_DTYPE);
	/* A 4x4 kernel does not fit a 3x3 image without padding. */
	EXPECT_CODE(RUN(ENGINE_OP_CONV, NULL, 1, img3(),
	    F32(D(1, 1, 4, 4), 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	    1)), RF_ERR_SHAPE);
	/* A weight with an empty kernel dimension. */
	EXPECT_CODE(RUN(ENGINE_OP_CONV, NULL, 1, img3(),
	    mk(TENSOR_F32, 4, D(1, 1, 0, 2), NULL, 0)), RF_ERR_SHAPE);
	/* Only 2-D convolution. */
	EXPECT_CODE(RUN(ENGINE_OP_CONV, NULL, 1, F32(D(1, 1, 3), 1, 2, 3),
	    F32(D(1, 1, 2), 1, 1)), RF_ERR_NOTSUP);
	EXPECT_CODE(RUN(ENGINE_OP_CONV, NULL, 1, img3(),
	    I32(D(1, 1, 1, 1), 1)), RF_ERR_DTYPE);
	/* Attributes, refused when the model is built. */
	AT_INTS("pads", 1, 1, 1);
	EXPECT_CODE(BUILD(ENGINE_OP_CONV, 1, img3(), ones2), RF_ERR_INVAL);
	AT_INTS("pads", 1, 1, -1, 1);
	EXPECT_CODE(BUILD(ENGINE_OP_CONV, 1, img3(), ones2), RF_ERR_INVAL);
	AT_INTS("pads", 1, 1, 1, 1);
	at_str("auto_pad", "SAME_UPPER");
	EXPECT_CODE(BUILD(ENGINE_OP_CONV, 1, img3(), ones2), RF_ERR_INVAL);
	at_str("auto_pad", "BOGUS");
	EXPECT_CODE(BUILD(ENGINE_OP_CONV, 1, img3(), ones2), RF_ERR_INVAL);
	at_int("auto_pad", 1);
	EXPECT_CODE(BUILD(ENGINE_OP_CONV, 1, img3(), ones2), RF_ERR_INVAL);
	AT_INTS("strides", 0, 1);
	EXPECT_CODE(BUILD(ENGINE_OP_CONV, 1, img3(), ones2), RF_ERR_INVAL);
	AT_INTS("dilations", 1, 0);
	EXPECT_CODE(BUILD(ENGINE_OP_CONV, 1, img3(), ones2), RF_ERR_INVAL);
	at_int("dilations", 1);
	EXPECT_CODE(BUILD(ENGINE_OP_CONV, 1, img3(), ones2), RF_ERR_INVAL);
	at_int("group", 0);
	EXPECT_CODE(BUILD(ENGINE_OP_CONV, 1, img3(), ones2), RF_ERR_INVAL);
	at_float("group", 1.0f);
	EXPECT_CODE(BUILD(ENGINE_OP_CONV, 1, img3(), ones2), RF_ERR_INVAL);
	at_int("foo", 1);
	EXPECT_CODE(BUILD(ENGINE_OP_CONV, 1, img3(), ones2), RF_ERR_NOTSUP);
	EXPECT_CODE(BUILD(ENGINE_OP_CONV, 1, img3()), RF_ERR_INVAL);
	EXPECT_CODE(BUILD(ENGINE_OP_CONV, 1, img3(), ones2, F32S(0), F32S(0)),
	    RF_ERR_INVAL);
}

/*
 * Random convolutions: both kernel kinds give the same bits (memcmp) on
 * ~50 random shapes: n 1..2, group 1..3 dividing both channel counts
 * (some depthwise), kernel 1..5, stride 1..3, dilation 1..2, pads 0..2
 * per side or an auto_pad mode, with and without bias.
 */
static void
test_conv_random(void)
{
	struct engine_rng r;
	engine_rng_seed(&r, 0x5eed0c0417);
	int cases = 0, grouped = 0, depthwise = 0, biased = 0;
	for (int it = 0; it < 60; it++) {
		int64_t g = 1 + (int64_t)(engine_rng_next(&r) % 3);
		int64_t cg = 1 + (int64_t)(engine_rng_next(&r) % 3);
		int64_t mg = 1 + (int64_t)(engine_rng_next(&r) % 6);
		if (engine_rng_next(&r) % 5 == 0) {
			cg = 1; /* depthwise */
		}
		int64_t n = 1 + (int64_t)(engine_rng_next(&r) % 2);
		int64_t k[2], s[2], d[2], p[4], hw[2];
		for (int i = 0; i < 2; i++) {
			k[i] = 1 + (int64_t)(engine_rng_next(&r) % 5);
			s[i] = 1 + (int64_t)(engine_rng_next(&r) % 3);
			d[i] = 1 + (int64_t)(engine_rng_next(&r) % 2);
		}
		for (int i = 0; i < 4; i++) {
			p[i] = (int64_t)(engine_rng_next(&r) % 3);
		}
		int mode = (int)(engine_rng_next(&r) % 8); /* 0..4 pads */
		for (int i = 0; i < 2; i++) {
			int64_t span = (k[i] - 1) * d[i] + 1;
			int64_t pads = mode < 5 ? p[i] + p[i + 2] : 0;
			int64_t lo = span - pads > 1 ? span - pads : 1;
			hw[i] = lo + (int64_t)(engine_rng_next(&r) % 12);
		}
		bool bias = engine_rng_next(&r) % 2 == 0;
		struct tensor *x = mk_random(4, D(n, g * cg, hw[0], hw[1]), &r);
		struct tensor *w = mk_random(4, D(g * mg, cg, k[0], k[1]), &r);
		struct tensor *b = bias ? mk_random(1, D(g * mg), &r) : NULL;
		at_int("group", g);
		at_ints("strides", s, 2);
		at_ints("dilations", d, 2);
		if (mode < 5) {
			at_ints("pads", p, 4);
		} else {
			static const char *const modes[] = { "SAME_UPPER",
				"SAME_LOWER", "VALID" };
			at_str("auto_pad", modes[mode - 5]);
		}
		struct engine_model *m = NULL;
		CU_ASSERT_FATAL(build(ENGINE_OP_CONV,
		    (const struct tensor *const[]){ x, w, b }, 3, 1, &m) ==
		    RF_OK);
		const struct tensor *in[3] = { x, w, b };
		struct tensor yr, yf;
		memset(&yr, 0, sizeof(yr));
		memset(&yf, 0, sizeof(yf));
		int er = engine_op_eval(m, 0, in, &yr, ENGINE_KERNELS_REF,
		    NULL);
		int ef = engine_op_eval(m, 0, in, &yf, ENGINE_KERNELS_FAST,
		    NULL);
		engine_model_free(m);
		CU_ASSERT(er == RF_OK && ef == RF_OK);
		bool same = er == RF_OK && ef == RF_OK &&
		    engine_tensor_equal(&yr, &yf) &&
		    memcmp(yr.data, yf.data, engine_tensor_nbytes(&yr)) == 0;
		if (!same) {
			fprintf(stderr, "\n  case %d: x [%lld,%lld,%lld,%lld] "
			    "w [%lld,%lld,%lld,%lld] group %lld stride %lld,%lld "
			    "dil %lld,%lld mode %d: REF %d, FAST %d, differ\n",
			    it, (long long)n, (long long)(g * cg),
			    (long long)hw[0], (long long)hw[1],
			    (long long)(g * mg), (long long)cg,
			    (long long)k[0], (long long)k[1], (long long)g,
			    (long long)s[0], (long long)s[1], (long long)d[0],
			    (long long)d[1], mode, er, ef);
		}
		CU_ASSERT(same);
		engine_tensor_fini(&yr);
		engine_tensor_fini(&yf);
		cases++;
		grouped += g > 1;
		depthwise += g > 1 && cg == 1;
		biased += bias;
	}
	CU_ASSERT(cases >= 50);
	CU_ASSERT(grouped > 0 && depthwise > 0 && biased > 0);
}

/* ------------------------------------------------------------------ */
/* MaxPool, AveragePool, GlobalAveragePool                              */
/* ------------------------------------------------------------------ */

/* The 4x4 image 1..16:
 *	 1  2  3  4
 *	 5  6  7  8
 *	 9 10 11 12
 *	13 14 15 16 */
static const struct tensor *
img4(void)
{
	return F32(D(1, 1, 4, 4), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
	    14, 15, 16);
}

static void
test_pool_basic(void)
{
	struct tensor *y;
	/* 2x2 stride 2: maxima 6, 8, 14, 16; means 14/4, 22/4, 46/4, 54/4. */
	AT_INTS("kernel_shape", 2, 2);
	AT_INTS("strides", 2, 2);
	EXPECT_CODE(RUN(ENGINE_OP_MAXPOOL, &y, 1, img4()), RF_OK);
	EXPECT_F32(y, D(1, 1, 2, 2), 0, 6, 8, 14, 16);
	AT_INTS("kernel_shape", 2, 2);
	AT_INTS("strides", 2, 2);
	EXPECT_CODE(RUN(ENGINE_OP_AVGPOOL, &y, 1, img4()), RF_OK);
	EXPECT_F32(y, D(1, 1, 2, 2), 0, 3.5f, 5.5f, 11.5f, 13.5f);
	/* 3x3 stride 1: maxima 11, 12, 15, 16; means 54/9, 63/9, 90/9,
	 * 99/9. */
	AT_INTS("kernel_shape", 3, 3);
	EXPECT_CODE(RUN(ENGINE_OP_MAXPOOL, &y, 1, img4()), RF_OK);
	EXPECT_F32(y, D(1, 1, 2, 2), 0, 11, 12, 15, 16);
	AT_INTS("kernel_shape", 3, 3);
	EXPECT_CODE(RUN(ENGINE_OP_AVGPOOL, &y, 1, img4()), RF_OK);
	EXPECT_F32(y, D(1, 1, 2, 2), 0, 6, 7, 10, 11);
	/* Strides [1, 2]: max over rows i..i+1, cols 2j..2j+1 is
	 * x[i+1][2j+1]: 6, 8, 10, 12, 14, 16. */
	AT_INTS("kernel_shape", 2, 2);
	AT_INTS("strides", 1, 2);
	EXPECT_CODE(RUN(ENGINE_OP_MAXPOOL, &y, 1, img4()), RF_OK);
	EXPECT_F32(y, D(1, 1, 3, 2), 0, 6, 8, 10, 12, 14, 16);
	/* Dilation 2: max of x[i][j], x[i][j+2], x[i+2][j], x[i+2][j+2] is
	 * the last: 11, 12, 15, 16. */
	AT_INTS("kernel_shape", 2, 2);
	AT_INTS("dilations", 2, 2);
	EXPECT_CODE(RUN(ENGINE_OP_MAXPOOL, &y, 1, img4()), RF_OK);
	EXPECT_F32(y, D(1, 1, 2, 2), 0, 11, 12, 15, 16);
	/* Channels and images are pooled separately. */
	AT_INTS("kernel_shape", 1, 2);
	EXPECT_CODE(RUN(ENGINE_OP_MAXPOOL, &y, 1,
	    F32(D(2, 2, 1, 2), 1, -1, 2, 3, -5, -4, 0, -0.5f)), RF_OK);
	EXPECT_F32(y, D(2, 2, 1, 1), 0, 1, 3, -4, 0);
	/* A NaN in a window wins over larger values that come after it
	 * (and comes out as the canonical NaN). */
	float nan_in = ffrom(0xffc0abcdu);
	float qnan = ffrom(0x7fc00000u);
	AT_INTS("kernel_shape", 2, 2);
	EXPECT_CODE(RUN(ENGINE_OP_MAXPOOL, &y, 1,
	    F32(D(1, 1, 2, 3), 1, nan_in, 2, 3, 4, 5)), RF_OK);
	EXPECT_F32(y, D(1, 1, 1, 2), 0, qnan, qnan);
	/* Equal values: the first one met stays (-0 before +0 and the
	 * other way round), also next to the padding. */
	AT_INTS("kernel_shape", 1, 2);
	AT_INTS("strides", 1, 2);
	EXPECT_CODE(RUN(ENGINE_OP_MAXPOOL, &y, 1,
	    F32(D(1, 1, 1, 4), -0.0f, 0.0f, 0.0f, -0.0f)), RF_OK);
	EXPECT_F32(y, D(1, 1, 1, 2), 0, -0.0f, 0.0f);
	AT_INTS("kernel_shape", 1, 2);
	AT_INTS("strides", 1, 2);
	AT_INTS("pads", 0, 1, 0, 1);
	EXPECT_CODE(RUN(ENGINE_OP_MAXPOOL, &y, 1,
	    F32(D(1, 1, 1, 4), -0.0f, 0.0f, 0.0f, -0.0f)), RF_OK);
	EXPECT_F32(y, D(1, 1, 1, 3), 0, -0.0f, 0.0f, -0.0f);
}

static void
test_pool_pads(void)
{
	struct tensor *y;
	/* 2x2 stride 2 pads 1: windows at -1..0, 1..2, 3..4 per axis.
	 * Max: x00 = 1, max(x01,x02) = 3, x03 = 4, max(x10,x20) = 9,
	 * max(x11..x22) = 11, 12, 13, 15, 16. */
	AT_INTS("kernel_shape", 2, 2);
	AT_INTS("strides", 2, 2);
	AT_INTS("pads", 1, 1, 1, 1);
	EXPECT_CODE(RUN(ENGINE_OP_MAXPOOL, &y, 1, img4()), RF_OK);
	EXPECT_F32(y, D(1, 1, 3, 3), 0, 1, 3, 4, 9, 11, 12, 13, 15, 16);
	/* Average over the pixels inside (count_include_pad 0): 1/1,
	 * (2+3)/2, 4/1, (5+9)/2, (6+7+10+11)/4, (8+12)/2, 13/1, (14+15)/2,
	 * 16/1. */
	AT_INTS("kernel_shape", 2, 2);
	AT_INTS("strides", 2, 2);
	AT_INTS("pads", 1, 1, 1, 1);
	at_int("count_include_pad", 0);
	EXPECT_CODE(RUN(ENGINE_OP_AVGPOOL, &y, 1, img4()), RF_OK);
	EXPECT_F32(y, D(1, 1, 3, 3), 0, 1, 2.5f, 4, 7, 8.5f, 10, 13, 14.5f,
	    16);
	/* count_include_pad 1: every window lies in the padded extent, so
	 * each sum is divided by 4: 1/4, 5/4, 4/4, 14/4, 34/4, 20/4, 13/4,
	 * 29/4, 16/4. */
	AT_INTS("kernel_shape", 2, 2);
	AT_INTS("strides", 2, 2);
	AT_INTS("pads", 1, 1, 1, 1);
	at_int("count_include_pad", 1);
	EXPECT_CODE(RUN(ENGINE_OP_AVGPOOL, &y, 1, img4()), RF_OK);
	EXPECT_F32(y, D(1, 1, 3, 3), 0, 0.25f, 1.25f, 1, 3.5f, 8.5f, 5, 3.25f,
	    7.25f, 4);
	/* SAME_UPPER 2x2 stride 1 on 4x4: one pad row/column at the end:
	 * max of x[i..i+1][j..j+1] clipped = x[min(i+1,3)][min(j+1,3)]. */
	AT_INTS("kernel_shape", 2, 2);
	at_str("auto_pad", "SAME_UPPER");
	EXPECT_CODE(RUN(ENGINE_OP_MAXPOOL, &y, 1, img4()), RF_OK);
	EXPECT_F32(y, D(1, 1, 4, 4), 0, 6, 7, 8, 8, 10, 11, 12, 12, 14, 15,
	    16, 16, 14, 15, 16, 16);
	/* VALID ignores nothing: as without padding. */
	AT_INTS("kernel_shape", 3, 3);
	at_str("auto_pad", "VALID");
	EXPECT_CODE(RUN(ENGINE_OP_MAXPOOL, &y, 1, img4()), RF_OK);
	EXPECT_F32(y, D(1, 1, 2, 2), 0, 11, 12, 15, 16);
}

static void
test_pool_ceil(void)
{
	struct tensor *y;
	/* 3x3 stride 2 on 4: (4-3)/2 + 1 = 1 window per axis by floor; by
	 * ceil 2, the second at 2..4 (it starts inside the image). */
	AT_INTS("kernel_shape", 3, 3);
	AT_INTS("strides", 2, 2);
	EXPECT_CODE(RUN(ENGINE_OP_MAXPOOL, &y, 1, img4()), RF_OK);
	EXPECT_F32(y, D(1, 1, 1, 1), 0, 11);
	AT_INTS("kernel_shape", 3, 3);
	AT_INTS("strides", 2, 2);
	at_int("ceil_mode", 1);
	EXPECT_CODE(RUN(ENGINE_OP_MAXPOOL, &y, 1, img4()), RF_OK);
	EXPECT_F32(y, D(1, 1, 2, 2), 0, 11, 12, 15, 16);
	/* Means: (1+2+3+5+6+7+9+10+11)/9 = 54/9 = 6, (3+4+7+8+11+12)/6 =
	 * 45/6, (9+10+11+13+14+15)/6 = 72/6, (11+12+15+16)/4 = 54/4. With no
	 * pads, count_include_pad changes nothing: positions past the end
	 * are outside the padded extent too. */
	for (int cip = 0; cip < 2; cip++) {
		AT_INTS("kernel_shape", 3, 3);
		AT_INTS("strides", 2, 2);
		at_int("ceil_mode", 1);
		at_int("count_include_pad", cip);
		EXPECT_CODE(RUN(ENGINE_OP_AVGPOOL, &y, 1, img4()), RF_OK);
		EXPECT_F32(y, D(1, 1, 2, 2), 0, 6, 7.5f, 12, 13.5f);
	}
	/* With pads 1: (4+2-3)/2 + 1 = 2 by floor, 3 by ceil; windows at
	 * -1..1, 1..3, 3..5 per axis. Max: x[0..1][0..1] = 6,
	 * x[0..1][1..3] = 8, x[0..1][3] = 8, x[1..3][0..1] = 14, 16, 16,
	 * x[3][0..1] = 14, 16, 16. */
	AT_INTS("kernel_shape", 3, 3);
	AT_INTS("strides", 2, 2);
	AT_INTS("pads", 1, 1, 1, 1);
	at_int("ceil_mode", 1);
	EXPECT_CODE(RUN(ENGINE_OP_MAXPOOL, &y, 1, img4()), RF_OK);
	EXPECT_F32(y, D(1, 1, 3, 3), 0, 6, 8, 8, 14, 16, 16, 14, 16, 16);
	/* Sums 14, 30, 12, 57, 99, 36, 27, 45, 16 over 4, 6, 2, 6, 9, 3, 2,
	 * 3, 1 pixels inside. */
	AT_INTS("kernel_shape", 3, 3);
	AT_INTS("strides", 2, 2);
	AT_INTS("pads", 1, 1, 1, 1);
	at_int("ceil_mode", 1);
	EXPECT_CODE(RUN(ENGINE_OP_AVGPOOL, &y, 1, img4()), RF_OK);
	EXPECT_F32(y, D(1, 1, 3, 3), 0, 3.5f, 5, 6, 9.5f, 11, 12, 13.5f, 15,
	    16);
	/* count_include_pad 1 counts positions in the padded extent -1..4,
	 * not the part of the last window past it (row/column 5): 9, 9, 6,
	 * 9, 9, 6, 6, 6, 4. Each quotient rounded once to float. */
	AT_INTS("kernel_shape", 3, 3);
	AT_INTS("strides", 2, 2);
	AT_INTS("pads", 1, 1, 1, 1);
	at_int("ceil_mode", 1);
	at_int("count_include_pad", 1);
	EXPECT_CODE(RUN(ENGINE_OP_AVGPOOL, &y, 1, img4()), RF_OK);
	EXPECT_F32(y, D(1, 1, 3, 3), 0, (float)(14.0 / 9.0),
	    (float)(30.0 / 9.0), 2, (float)(57.0 / 9.0), 11, 6, 4.5f, 7.5f, 4);
}

static void
test_pool_errors(void)
{
	/* kernel_shape is required, and 2-D. */
	EXPECT_CODE(BUILD(ENGINE_OP_MAXPOOL, 1, img4()), RF_ERR_INVAL);
	AT_INTS("kernel_shape", 2);
	EXPECT_CODE(BUILD(ENGINE_OP_AVGPOOL, 1, img4()), RF_ERR_INVAL);
	AT_INTS("kernel_shape", 0, 2);
	EXPECT_CODE(BUILD(ENGINE_OP_MAXPOOL, 1, img4()), RF_ERR_INVAL);
	AT_INTS("kernel_shape", 2, 2);
	at_int("ceil_mode", 2);
	EXPECT_CODE(BUILD(ENGINE_OP_MAXPOOL, 1, img4()), RF_ERR_INVAL);
	AT_INTS("kernel_shape", 2, 2);
	at_int("count_include_pad", -1);
	EXPECT_CODE(BUILD(ENGINE_OP_AVGPOOL, 1, img4()), RF_ERR_INVAL);
	AT_INTS("kernel_shape", 2, 2);
	at_int("storage_order", 2);
	EXPECT_CODE(BUILD(ENGINE_OP_MAXPOOL, 1, img4()), RF_ERR_INVAL);
	AT_INTS("kernel_shape", 2, 2);
	at_int("group", 1);
	EXPECT_CODE(BUILD(ENGINE_OP_MAXPOOL, 1, img4()), RF_ERR_NOTSUP);
	/* A 5x5 window does not fit 4x4. */
	AT_INTS("kernel_shape", 5, 5);
	EXPECT_CODE(RUN(ENGINE_OP_MAXPOOL, NULL, 1, img4()), RF_ERR_SHAPE);
	AT_INTS("kernel_shape", 2, 2);
	EXPECT_CODE(RUN(ENGINE_OP_AVGPOOL, NULL, 1, F32(D(1, 1, 2), 1, 2)),
	    RF_ERR_NOTSUP);
	AT_INTS("kernel_shape", 1, 1);
	EXPECT_CODE(RUN(ENGINE_OP_MAXPOOL, NULL, 1, I32(D(1, 1, 1, 1), 1)),
	    RF_ERR_DTYPE);
	/* MaxPool has one output here (no Indices). */
	AT_INTS("kernel_shape", 1, 1);
	EXPECT_CODE(BUILD(ENGINE_OP_MAXPOOL, 2, img4()), RF_ERR_INVAL);
}

static void
test_global_avg_pool(void)
{
	struct tensor *y;
	/* [1,2,2,2]: (1+2+3+4)/4 = 2.5, (10+20+30+40)/4 = 25. */
	EXPECT_CODE(RUN(ENGINE_OP_GLOBALAVGPOOL, &y, 1,
	    F32(D(1, 2, 2, 2), 1, 2, 3, 4, 10, 20, 30, 40)), RF_OK);
	EXPECT_F32(y, D(1, 2, 1, 1), 0, 2.5f, 25);
	/* Rank 3: [1,2,3] -> 6/3 = 2 and 16/3 rounded once. */
	EXPECT_CODE(RUN(ENGINE_OP_GLOBALAVGPOOL, &y, 1,
	    F32(D(1, 2, 3), 1, 2, 3, 4, 5, 7)), RF_OK);
	EXPECT_F32(y, D(1, 2, 1), 0, 2, (float)(16.0 / 3.0));
	/* Rank 5, two images. */
	EXPECT_CODE(RUN(ENGINE_OP_GLOBALAVGPOOL, &y, 1,
	    F32(D(2, 1, 2, 1, 2), 1, 2, 3, 4, -1, -1, -1, 1)), RF_OK);
	EXPECT_F32(y, D(2, 1, 1, 1, 1), 0, 2.5f, -0.5f);
	/* The sum is in double: 2^24 + 1 + 1 is exact there, then / 3. */
	EXPECT_CODE(RUN(ENGINE_OP_GLOBALAVGPOOL, &y, 1,
	    F32(D(1, 1, 3), 0x1p24f, 1, 1)), RF_OK);
	EXPECT_F32(y, D(1, 1, 1), 0, (float)((0x1p24 + 2.0) / 3.0));
	EXPECT_CODE(RUN(ENGINE_OP_GLOBALAVGPOOL, NULL, 1, F32(D(1, 2), 1, 2)),
	    RF_ERR_SHAPE);
	EXPECT_CODE(RUN(ENGINE_OP_GLOBALAVGPOOL, NULL, 1,
	    I32(D(1, 1, 1), 1)), RF_ERR_DTYPE);
	AT_INTS("kernel_shape", 1, 1);
	EXPECT_CODE(BUILD(ENGINE_OP_GLOBALAVGPOOL, 1, img4()), RF_ERR_NOTSUP);
}

/* ------------------------------------------------------------------ */
/* Flatten, Reshape, Transpose, Concat, Gather                          */
/* ------------------------------------------------------------------ */

/* [2,3,4] holding 0..23: x[i][j][k] = 12i + 4j + k. */
static const struct tensor *
iota24(void)
{
	return F32(D(2, 3, 4), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
	    14, 15, 16, 17, 18, 19, 20, 21, 22, 23);
}

/* y has dims and exactly x's bytes (a reshape moves no data). */
static void
expect_same_data_at(const struct tensor *y, const struct tensor *x,
    int rank, const int64_t *dims, int line)
{
	bool ok = shape_is(y, x->dtype, rank, dims, x->count, line) &&
	    memcmp(y->data, x->data, engine_tensor_nbytes(x)) == 0;
	CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line,
	    "same data, new shape", __FILE__, "", CU_FALSE);
}
#define EXPECT_SAME_DATA(y, x, dims)                                        \
	expect_same_data_at(y, x, RANK(dims), dims, __LINE__)

static void
test_flatten(void)
{
	struct tensor *y;
	const struct tensor *x = iota24();
	/* Default axis 1: [2, 3*4]. */
	EXPECT_CODE(RUN(ENGINE_OP_FLATTEN, &y, 1, x), RF_OK);
	EXPECT_SAME_DATA(y, x, D(2, 12));
	at_int("axis", 0);
	EXPECT_CODE(RUN(ENGINE_OP_FLATTEN, &y, 1, x), RF_OK);
	EXPECT_SAME_DATA(y, x, D(1, 24));
	/* Axis = rank: the second dim is 1. */
	at_int("axis", 3);
	EXPECT_CODE(RUN(ENGINE_OP_FLATTEN, &y, 1, x), RF_OK);
	EXPECT_SAME_DATA(y, x, D(24, 1));
	at_int("axis", -1);
	EXPECT_CODE(RUN(ENGINE_OP_FLATTEN, &y, 1, x), RF_OK);
	EXPECT_SAME_DATA(y, x, D(6, 4));
	at_int("axis", -3);
	EXPECT_CODE(RUN(ENGINE_OP_FLATTEN, &y, 1, x), RF_OK);
	EXPECT_SAME_DATA(y, x, D(1, 24));
	/* Any dtype; a scalar flattens to [1, 1]. */
	const struct tensor *xi = I64(D(2, 1, 2), 1, -2, 3, INT64_MIN);
	EXPECT_CODE(RUN(ENGINE_OP_FLATTEN, &y, 1, xi), RF_OK);
	EXPECT_SAME_DATA(y, xi, D(2, 2));
	const struct tensor *s = I8S(-7);
	at_int("axis", 0);
	EXPECT_CODE(RUN(ENGINE_OP_FLATTEN, &y, 1, s), RF_OK);
	EXPECT_SAME_DATA(y, s, D(1, 1));
	at_int("axis", 4);
	EXPECT_CODE(RUN(ENGINE_OP_FLATTEN, NULL, 1, x), RF_ERR_INVAL);
	at_int("axis", -4);
	EXPECT_CODE(RUN(ENGINE_OP_FLATTEN, NULL, 1, x), RF_ERR_INVAL);
	at_int("axis", 7);
	EXPECT_CODE(BUILD(ENGINE_OP_FLATTEN, 1, x), RF_ERR_INVAL);
	AT_INTS("axis", 1);
	EXPECT_CODE(BUILD(ENGINE_OP_FLATTEN, 1, x), RF_ERR_INVAL);
}

static void
test_reshape(void)
{
	struct tensor *y;
	const struct tensor *x = iota24();
	/* 0 copies the input's dim (2), -1 takes the rest: 24/2 = 12. */
	EXPECT_CODE(RUN(ENGINE_OP_RESHAPE, &y, 1, x, I64(D(2), 0, -1)), RF_OK);
	EXPECT_SAME_DATA(y, x, D(2, 12));
	EXPECT_CODE(RUN(ENGINE_OP_RESHAPE, &y, 1, x, I64(D(1), -1)), RF_OK);
	EXPECT_SAME_DATA(y, x, D(24));
	/* 0 in the middle copies dims[1] = 3: [4, 3, 2]. */
	EXPECT_CODE(RUN(ENGINE_OP_RESHAPE, &y, 1, x, I64(D(3), 4, 0, 2)),
	    RF_OK);
	EXPECT_SAME_DATA(y, x, D(4, 3, 2));
	/* -1 in the middle: 24 / (2*2) = 6. */
	EXPECT_CODE(RUN(ENGINE_OP_RESHAPE, &y, 1, x, I64(D(3), 2, -1, 2)),
	    RF_OK);
	EXPECT_SAME_DATA(y, x, D(2, 6, 2));
	EXPECT_CODE(RUN(ENGINE_OP_RESHAPE, &y, 1, x,
	    I64(D(6), 1, 2, 1, 3, 1, 4)), RF_OK);
	EXPECT_SAME_DATA(y, x, D(1, 2, 1, 3, 1, 4));
	/* An empty shape makes a scalar of a one-element tensor. */
	const struct tensor *one = I32(D(1, 1), 7);
	EXPECT_CODE(RUN(ENGINE_OP_RESHAPE, &y, 1, one,
	    mk(TENSOR_I64, 1, D(0), NULL, 0)), RF_OK);
	EXPECT_INTS(y, TENSOR_I32, 7);
	/* allowzero: 0 is a real zero. */
	at_int("allowzero", 1);
	EXPECT_CODE(RUN(ENGINE_OP_RESHAPE, &y, 1,
	    mk(TENSOR_F32, 2, D(0, 3), NULL, 0), I64(D(2), 3, 0)), RF_OK);
	CU_ASSERT(y->rank == 2 && y->dims[0] == 3 && y->dims[1] == 0);
}

static void
test_reshape_errors(void)
{
	const struct tensor *x = iota24();
	EXPECT_CODE(RUN(ENGINE_OP_RESHAPE, NULL, 1, x, I32(D(1), 24)),
	    RF_ERR_DTYPE);
	/* 24 does not divide by 5; 25 elements are not 24. */
	EXPECT_CODE(RUN(ENGINE_OP_RESHAPE, NULL, 1, x, I64(D(2), 5, -1)),
	    RF_ERR_SHAPE);
	EXPECT_CODE(RUN(ENGINE_OP_RESHAPE, NULL, 1, x, I64(D(2), 5, 5)),
	    RF_ERR_SHAPE);
	EXPECT_CODE(RUN(ENGINE_OP_RESHAPE, NULL, 1, x, I64(D(1), 23)),
	    RF_ERR_SHAPE);
	/* Two -1s; a -2. */
	EXPECT_CODE(RUN(ENGINE_OP_RESHAPE, NULL, 1, x, I64(D(2), -1, -1)),
	    RF_ERR_SHAPE);
	EXPECT_CODE(RUN(ENGINE_OP_RESHAPE, NULL, 1, x, I64(D(2), -2, -12)),
	    RF_ERR_SHAPE);
	/* A 0 copying dim 3 of a rank-3 input. */
	EXPECT_CODE(RUN(ENGINE_OP_RESHAPE, NULL, 1, x,
	    I64(D(4), 0, 0, 0, 0)), RF_ERR_SHAPE);
	/* allowzero makes [0, 24] hold 0 elements, and -1 with a 0 can not
	 * be inferred. */
	at_int("allowzero", 1);
	EXPECT_CODE(RUN(ENGINE_OP_RESHAPE, NULL, 1, x, I64(D(2), 0, 24)),
	    RF_ERR_SHAPE);
	at_int("allowzero", 1);
	EXPECT_CODE(RUN(ENGINE_OP_RESHAPE, NULL, 1, x, I64(D(2), 0, -1)),
	    RF_ERR_SHAPE);
	/* Huge shapes are refused by their count, at once (without first
	 * allocating 2^30 elements). */
	EXPECT_CODE(RUN(ENGINE_OP_RESHAPE, NULL, 1, x,
	    I64(D(1), (int64_t)1 << 30)), RF_ERR_SHAPE);
	EXPECT_CODE(RUN(ENGINE_OP_RESHAPE, NULL, 1, x,
	    I64(D(2), (int64_t)1 << 31, (int64_t)1 << 31)), RF_ERR_SHAPE);
	EXPECT_CODE(RUN(ENGINE_OP_RESHAPE, NULL, 1, x,
	    I64(D(1), ((int64_t)1 << 31) + 1)), RF_ERR_SHAPE);
	/* The shape must be 1-D with at most TENSOR_MAX_RANK values. */
	EXPECT_CODE(RUN(ENGINE_OP_RESHAPE, NULL, 1, x, I64(D(1, 2), 2, 12)),
	    RF_ERR_SHAPE);
	EXPECT_CODE(RUN(ENGINE_OP_RESHAPE, NULL, 1, x,
	    I64(D(7), 1, 1, 1, 1, 2, 3, 4)), RF_ERR_SHAPE);
	at_int("allowzero", 2);
	EXPECT_CODE(BUILD(ENGINE_OP_RESHAPE, 1, x, I64(D(1), 24)),
	    RF_ERR_INVAL);
	at_float("allowzero", 0.0f);
	EXPECT_CODE(BUILD(ENGINE_OP_RESHAPE, 1, x, I64(D(1), 24)),
	    RF_ERR_INVAL);
	EXPECT_CODE(BUILD(ENGINE_OP_RESHAPE, 1, x), RF_ERR_INVAL);
}

static void
test_transpose(void)
{
	struct tensor *y;
	/* Default reverses the dims: [[1,2,3],[4,5,6]] -> [[1,4],[2,5],[3,6]]. */
	EXPECT_CODE(RUN(ENGINE_OP_TRANSPOSE, &y, 1,
	    F32(D(2, 3), 1, 2, 3, 4, 5, 6)), RF_OK);
	EXPECT_F32(y, D(3, 2), 0, 1, 4, 2, 5, 3, 6);
	/* perm [2,0,1] of [2,3,4]: y[k][i][j] = x[i][j][k] = 12i + 4j + k. */
	AT_INTS("perm", 2, 0, 1);
	EXPECT_CODE(RUN(ENGINE_OP_TRANSPOSE, &y, 1, iota24()), RF_OK);
	EXPECT_F32(y, D(4, 2, 3), 0, 0, 4, 8, 12, 16, 20, 1, 5, 9, 13, 17, 21,
	    2, 6, 10, 14, 18, 22, 3, 7, 11, 15, 19, 23);
	/* Default on rank 3: y[k][j][i] = 12i + 4j + k. */
	EXPECT_CODE(RUN(ENGINE_OP_TRANSPOSE, &y, 1, iota24()), RF_OK);
	EXPECT_F32(y, D(4, 3, 2), 0, 0, 12, 4, 16, 8, 20, 1, 13, 5, 17, 9, 21,
	    2, 14, 6, 18, 10, 22, 3, 15, 7, 19, 11, 23);
	/* perm [1,0,2]: y[j][i][k]: rows of 4 move as blocks. */
	AT_INTS("perm", 1, 0, 2);
	EXPECT_CODE(RUN(ENGINE_OP_TRANSPOSE, &y, 1, iota24()), RF_OK);
	EXPECT_F32(y, D(3, 2, 4), 0, 0, 1, 2, 3, 12, 13, 14, 15, 4, 5, 6, 7,
	    16, 17, 18, 19, 8, 9, 10, 11, 20, 21, 22, 23);
	/* The identity, other dtypes, rank 0 and 1. */
	const struct tensor *x8 = I8(D(2, 2), 1, 2, 3, -128);
	AT_INTS("perm", 0, 1);
	EXPECT_CODE(RUN(ENGINE_OP_TRANSPOSE, &y, 1, x8), RF_OK);
	EXPECT_SAME_DATA(y, x8, D(2, 2));
	EXPECT_CODE(RUN(ENGINE_OP_TRANSPOSE, &y, 1, x8), RF_OK);
	EXPECT_I8(y, D(2, 2), 1, 3, 2, -128);
	EXPECT_CODE(RUN(ENGINE_OP_TRANSPOSE, &y, 1,
	    I64(D(2, 2), INT64_MAX, 2, 3, INT64_MIN)), RF_OK);
	EXPECT_I64(y, D(2, 2), INT64_MAX, 3, 2, INT64_MIN);
	EXPECT_CODE(RUN(ENGINE_OP_TRANSPOSE, &y, 1, I32S(5)), RF_OK);
	EXPECT_INTS(y, TENSOR_I32, 5);
	EXPECT_CODE(RUN(ENGINE_OP_TRANSPOSE, &y, 1, F32(D(3), 1, 2, 3)),
	    RF_OK);
	EXPECT_F32(y, D(3), 0, 1, 2, 3);
	/* Errors: perm of the wrong length; not a permutation. */
	AT_INTS("perm", 1, 0);
	EXPECT_CODE(RUN(ENGINE_OP_TRANSPOSE, NULL, 1, iota24()), RF_ERR_SHAPE);
	AT_INTS("perm", 0, 0);
	EXPECT_CODE(BUILD(ENGINE_OP_TRANSPOSE, 1, x8), RF_ERR_INVAL);
	AT_INTS("perm", 0, 2);
	EXPECT_CODE(BUILD(ENGINE_OP_TRANSPOSE, 1, x8), RF_ERR_INVAL);
	AT_INTS("perm", -1, 0);
	EXPECT_CODE(BUILD(ENGINE_OP_TRANSPOSE, 1, x8), RF_ERR_INVAL);
	at_int("perm", 0);
	EXPECT_CODE(BUILD(ENGINE_OP_TRANSPOSE, 1, x8), RF_ERR_INVAL);
	at_floats("perm", (const float[]){ 1, 0 }, 2);
	EXPECT_CODE(BUILD(ENGINE_OP_TRANSPOSE, 1, x8), RF_ERR_INVAL);
}

static void
test_concat(void)
{
	struct tensor *y;
	const struct tensor *a = F32(D(2, 2), 1, 2, 3, 4);
	/* Axis 0: rows [1,2], [3,4], then [5,6]. */
	at_int("axis", 0);
	EXPECT_CODE(RUN(ENGINE_OP_CONCAT, &y, 1, a, F32(D(1, 2), 5, 6)),
	    RF_OK);
	EXPECT_F32(y, D(3, 2), 0, 1, 2, 3, 4, 5, 6);
	/* Axis 1: [1,2 | 7], [3,4 | 8]; axis -1 is the same axis. */
	const struct tensor *c = F32(D(2, 1), 7, 8);
	at_int("axis", 1);
	EXPECT_CODE(RUN(ENGINE_OP_CONCAT, &y, 1, a, c), RF_OK);
	EXPECT_F32(y, D(2, 3), 0, 1, 2, 7, 3, 4, 8);
	at_int("axis", -1);
	EXPECT_CODE(RUN(ENGINE_OP_CONCAT, &y, 1, c, a, c), RF_OK);
	EXPECT_F32(y, D(2, 4), 0, 7, 1, 2, 7, 8, 3, 4, 8);
	at_int("axis", -2);
	EXPECT_CODE(RUN(ENGINE_OP_CONCAT, &y, 1, a, a), RF_OK);
	EXPECT_F32(y, D(4, 2), 0, 1, 2, 3, 4, 1, 2, 3, 4);
	/* i32 with an empty piece in the middle. */
	at_int("axis", 0);
	EXPECT_CODE(RUN(ENGINE_OP_CONCAT, &y, 1, I32(D(1), 1),
	    I32(D(2), 2, 3), mk(TENSOR_I32, 1, D(0), NULL, 0), I32(D(1), 4)),
	    RF_OK);
	EXPECT_I32(y, D(4), 1, 2, 3, 4);
	/* Rank 3 on axis 1: per outer index, a's [1,2] then b's 2 rows. */
	at_int("axis", 1);
	EXPECT_CODE(RUN(ENGINE_OP_CONCAT, &y, 1, F32(D(2, 1, 2), 1, 2, 3, 4),
	    F32(D(2, 2, 2), 5, 6, 7, 8, 9, 10, 11, 12)), RF_OK);
	EXPECT_F32(y, D(2, 3, 2), 0, 1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12);
	/* One input is a copy. */
	const struct tensor *x8 = I8(D(3), -1, 0, 1);
	at_int("axis", 0);
	EXPECT_CODE(RUN(ENGINE_OP_CONCAT, &y, 1, x8), RF_OK);
	EXPECT_SAME_DATA(y, x8, D(3));
}

static void
test_concat_errors(void)
{
	const struct tensor *a = F32(D(2, 2), 1, 2, 3, 4);
	/* Off-axis dims 2 and 3; ranks 2 and 1. */
	at_int("axis", 0);
	EXPECT_CODE(RUN(ENGINE_OP_CONCAT, NULL, 1, a,
	    F32(D(1, 3), 1, 2, 3)), RF_ERR_SHAPE);
	at_int("axis", 0);
	EXPECT_CODE(RUN(ENGINE_OP_CONCAT, NULL, 1, a, F32(D(2), 1, 2)),
	    RF_ERR_SHAPE);
	at_int("axis", 0);
	EXPECT_CODE(RUN(ENGINE_OP_CONCAT, NULL, 1, a,
	    I32(D(1, 2), 1, 2)), RF_ERR_DTYPE);
	at_int("axis", 2);
	EXPECT_CODE(RUN(ENGINE_OP_CONCAT, NULL, 1, a, a), RF_ERR_INVAL);
	at_int("axis", -3);
	EXPECT_CODE(RUN(ENGINE_OP_CONCAT, NULL, 1, a, a), RF_ERR_INVAL);
	/* Every input is required. */
	at_int("axis", 0);
	EXPECT_CODE(RUN(ENGINE_OP_CONCAT, NULL, 1, a, NULL), RF_ERR_INVAL);
	/* axis is required. */
	EXPECT_CODE(BUILD(ENGINE_OP_CONCAT, 1, a, a), RF_ERR_INVAL);
	at_int("axis", 6);
	EXPECT_CODE(BUILD(ENGINE_OP_CONCAT, 1, a, a), RF_ERR_INVAL);
	at_str("axis", "0");
	EXPECT_CODE(BUILD(ENGINE_OP_CONCAT, 1, a, a), RF_ERR_INVAL);
	at_int("axis", 0);
	EXPECT_CODE(build_code(ENGINE_OP_CONCAT, NULL, 0, 1), RF_ERR_INVAL);
}

static void
test_gather(void)
{
	struct tensor *y;
	const struct tensor *d32 = F32(D(3, 2), 1, 2, 3, 4, 5, 6);
	/* Axis 0 picks rows 2 and 0. */
	EXPECT_CODE(RUN(ENGINE_OP_GATHER, &y, 1, d32, I64(D(2), 2, 0)), RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 5, 6, 1, 2);
	/* Indices of shape [2,2] give [2,2,2]: rows 0,1 and 1,2. */
	EXPECT_CODE(RUN(ENGINE_OP_GATHER, &y, 1, d32,
	    I64(D(2, 2), 0, 1, 1, 2)), RF_OK);
	EXPECT_F32(y, D(2, 2, 2), 0, 1, 2, 3, 4, 3, 4, 5, 6);
	/* A scalar index drops the axis: row 1. */
	EXPECT_CODE(RUN(ENGINE_OP_GATHER, &y, 1, d32, I64S(1)), RF_OK);
	EXPECT_F32(y, D(2), 0, 3, 4);
	/* Negative indices count from the end: -1 is row 2, -3 row 0. */
	EXPECT_CODE(RUN(ENGINE_OP_GATHER, &y, 1, d32, I32(D(2), -1, -3)),
	    RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 5, 6, 1, 2);
	/* Axis 1 of [[1,2,3],[4,5,6]] with [2,0]: columns 2 and 0. */
	const struct tensor *d23 = F32(D(2, 3), 1, 2, 3, 4, 5, 6);
	at_int("axis", 1);
	EXPECT_CODE(RUN(ENGINE_OP_GATHER, &y, 1, d23, I64(D(2), 2, 0)), RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 3, 1, 6, 4);
	at_int("axis", -1);
	EXPECT_CODE(RUN(ENGINE_OP_GATHER, &y, 1, d23, I32(D(3), -1, 0, 1)),
	    RF_OK);
	EXPECT_F32(y, D(2, 3), 0, 3, 1, 2, 6, 4, 5);
	/* Axis 1 of rank 3: [2,2,2] of 1..8 with [1] -> [2,1,2]. */
	at_int("axis", 1);
	EXPECT_CODE(RUN(ENGINE_OP_GATHER, &y, 1,
	    F32(D(2, 2, 2), 1, 2, 3, 4, 5, 6, 7, 8), I64(D(1), 1)), RF_OK);
	EXPECT_F32(y, D(2, 1, 2), 0, 3, 4, 7, 8);
	/* Other dtypes: an embedding lookup of i64 and of i8 rows. */
	EXPECT_CODE(RUN(ENGINE_OP_GATHER, &y, 1,
	    I64(D(3), 10, INT64_MIN, 30), I64(D(3), 1, 1, 2)), RF_OK);
	EXPECT_I64(y, D(3), INT64_MIN, INT64_MIN, 30);
	EXPECT_CODE(RUN(ENGINE_OP_GATHER, &y, 1, I8(D(2, 2), 1, 2, 3, 4),
	    I64(D(1, 1), 1)), RF_OK);
	EXPECT_I8(y, D(1, 1, 2), 3, 4);
	/* No indices: an empty result. */
	EXPECT_CODE(RUN(ENGINE_OP_GATHER, &y, 1, d32,
	    mk(TENSOR_I64, 1, D(0), NULL, 0)), RF_OK);
	CU_ASSERT(y->rank == 2 && y->dims[0] == 0 && y->dims[1] == 2);
}

static void
test_gather_errors(void)
{
	const struct tensor *d32 = F32(D(3, 2), 1, 2, 3, 4, 5, 6);
	/* Size 3: valid indices are -3..2. */
	EXPECT_CODE(RUN(ENGINE_OP_GATHER, NULL, 1, d32, I64(D(2), 0, 3)),
	    RF_ERR_RANGE);
	EXPECT_CODE(RUN(ENGINE_OP_GATHER, NULL, 1, d32, I64S(-4)),
	    RF_ERR_RANGE);
	EXPECT_CODE(RUN(ENGINE_OP_GATHER, NULL, 1, d32, I32S(INT32_MIN)),
	    RF_ERR_RANGE);
	EXPECT_CODE(RUN(ENGINE_OP_GATHER, NULL, 1, d32, I64S(INT64_MAX)),
	    RF_ERR_RANGE);
	/* Axis 1 has size 2. */
	at_int("axis", 1);
	EXPECT_CODE(RUN(ENGINE_OP_GATHER, NULL, 1, d32, I64(D(1), 2)),
	    RF_ERR_RANGE);
	at_int("axis", 1);
	EXPECT_CODE(RUN(ENGINE_OP_GATHER, NULL, 1, d32, I64(D(1), -3)),
	    RF_ERR_RANGE);
	EXPECT_CODE(RUN(ENGINE_OP_GATHER, NULL, 1, d32, F32(D(1), 0)),
	    RF_ERR_DTYPE);
	EXPECT_CODE(RUN(ENGINE_OP_GATHER, NULL, 1, d32, I8(D(1), 0)),
	    RF_ERR_DTYPE);
	at_int("axis", 2);
	EXPECT_CODE(RUN(ENGINE_OP_GATHER, NULL, 1, d32, I64S(0)),
	    RF_ERR_INVAL);
	EXPECT_CODE(RUN(ENGINE_OP_GATHER, NULL, 1, F32S(1), I64S(0)),
	    RF_ERR_INVAL);
	at_float("axis", 0.0f);
	EXPECT_CODE(BUILD(ENGINE_OP_GATHER, 1, d32, I64S(0)), RF_ERR_INVAL);
	at_int("batch_dims", 0);
	EXPECT_CODE(BUILD(ENGINE_OP_GATHER, 1, d32, I64S(0)), RF_ERR_NOTSUP);
}

/* ------------------------------------------------------------------ */
/* MatMulInteger, QLinearMatMul, QGemm                                  */
/* ------------------------------------------------------------------ */

static void
test_matmul_integer(void)
{
	struct tensor *y;
	const struct tensor *a = I8(D(2, 2), 1, 2, 3, 4);
	const struct tensor *b = I8(D(2, 2), 5, 6, 7, 8);
	/* No zero points: 19, 22, 43, 50 as in f32. */
	EXPECT_CODE(RUN(ENGINE_OP_MATMULINTEGER, &y, 1, a, b), RF_OK);
	EXPECT_I32(y, D(2, 2), 19, 22, 43, 50);
	/* za 1, zb 2: [[0,1],[2,3]] x [[3,4],[5,6]] = [[5,6],[21,26]]. */
	EXPECT_CODE(RUN(ENGINE_OP_MATMULINTEGER, &y, 1, a, b, I8S(1), I8S(2)),
	    RF_OK);
	EXPECT_I32(y, D(2, 2), 5, 6, 21, 26);
	/* Only za: [[0,1],[2,3]] x B = [[7,8],[2*5+3*7, 2*6+3*8]]. */
	EXPECT_CODE(RUN(ENGINE_OP_MATMULINTEGER, &y, 1, a, b, I8(D(1), 1)),
	    RF_OK);
	EXPECT_I32(y, D(2, 2), 7, 8, 31, 36);
	/* Only zb (za absent): A x [[3,4],[5,6]] = [[13,16],[29,36]]. */
	EXPECT_CODE(RUN(ENGINE_OP_MATMULINTEGER, &y, 1, a, b, NULL, I8S(2)),
	    RF_OK);
	EXPECT_I32(y, D(2, 2), 13, 16, 29, 36);
	/* Extremes: (-128 - 127) * (127 - -128) = -255 * 255 = -65025. */
	EXPECT_CODE(RUN(ENGINE_OP_MATMULINTEGER, &y, 1, I8(D(1, 1), -128),
	    I8(D(1, 1), 127), I8S(127), I8S(-128)), RF_OK);
	EXPECT_I32(y, D(1, 1), -65025);
	/* K = 4 of 127 * 127 = 4 * 16129 = 64516. */
	EXPECT_CODE(RUN(ENGINE_OP_MATMULINTEGER, &y, 1,
	    I8(D(1, 4), 127, 127, 127, 127), I8(D(4), 127, 127, 127, 127)),
	    RF_OK);
	EXPECT_I32(y, D(1), 64516);
	/* Batched [2,1,2] x [2,1]: [1,2].[1,-1] = -1, [3,4].[1,-1] = -1. */
	EXPECT_CODE(RUN(ENGINE_OP_MATMULINTEGER, &y, 1,
	    I8(D(2, 1, 2), 1, 2, 3, 4), I8(D(2, 1), 1, -1)), RF_OK);
	EXPECT_I32(y, D(2, 1, 1), -1, -1);
	/* Errors. */
	EXPECT_CODE(RUN(ENGINE_OP_MATMULINTEGER, NULL, 1,
	    F32(D(1, 1), 1), b), RF_ERR_DTYPE);
	EXPECT_CODE(RUN(ENGINE_OP_MATMULINTEGER, NULL, 1, a, b,
	    I8(D(2), 1, 1)), RF_ERR_NOTSUP);
	EXPECT_CODE(RUN(ENGINE_OP_MATMULINTEGER, NULL, 1, a, b, I32S(1)),
	    RF_ERR_DTYPE);
	EXPECT_CODE(RUN(ENGINE_OP_MATMULINTEGER, NULL, 1, a,
	    I8(D(3, 1), 1, 2, 3)), RF_ERR_SHAPE);
	EXPECT_CODE(BUILD(ENGINE_OP_MATMULINTEGER, 1, a, b, I8S(0), I8S(0),
	    I8S(0)), RF_ERR_INVAL);
}

/* QLinearMatMul inputs: a, a_scale, a_zp, b, b_scale, b_zp, y_scale,
 * y_zp. Every requantized value is acc * (sa * sb / sy), rounded half to
 * even, plus y_zp, saturated to int8. */
static void
test_qlinear_matmul(void)
{
	struct tensor *y;
	const struct tensor *b11 = I8(D(2, 1), 1, 1);
	/* sa 0.5, sb 1, sy 1: acc 3, 5, 7, -3, -5 -> 1.5, 2.5, 3.5, -1.5,
	 * -2.5 -> to even 2, 2, 4, -2, -2. */
	const struct tensor *a = I8(D(5, 2), 1, 2, 2, 3, 3, 4, -1, -2, -2,
	    -3);
	EXPECT_CODE(RUN(ENGINE_OP_QLINEARMATMUL, &y, 1, a, F32S(0.5f),
	    I8S(0), b11, F32S(1), I8S(0), F32S(1), I8S(0)), RF_OK);
	EXPECT_I8(y, D(5, 1), 2, 2, 4, -2, -2);
	/* y_zp 10 is added after rounding: 12, 12, 14, 8, 8. */
	EXPECT_CODE(RUN(ENGINE_OP_QLINEARMATMUL, &y, 1, a, F32(D(1), 0.5f),
	    I8(D(1), 0), b11, F32S(1), I8S(0), F32S(1), I8S(10)), RF_OK);
	EXPECT_I8(y, D(5, 1), 12, 12, 14, 8, 8);
	/* Saturation: acc 254 -> 127, -256 -> -128, 120 stays; with
	 * y_zp 10, 120 + 10 = 130 -> 127 and -256 + 10 -> -128. */
	const struct tensor *sat = I8(D(3, 2), 127, 127, -128, -128, 60, 60);
	EXPECT_CODE(RUN(ENGINE_OP_QLINEARMATMUL, &y, 1, sat, F32S(1), I8S(0),
	    b11, F32S(1), I8S(0), F32S(1), I8S(0)), RF_OK);
	EXPECT_I8(y, D(3, 1), 127, -128, 120);
	EXPECT_CODE(RUN(ENGINE_OP_QLINEARMATMUL, &y, 1, sat, F32S(1), I8S(0),
	    b11, F32S(1), I8S(0), F32S(1), I8S(10)), RF_OK);
	EXPECT_I8(y, D(3, 1), 127, -128, 127);
	/* Input zero points: ([1,2] - 1) . ([0,0] + 1) = 0 + 1 = 1. */
	EXPECT_CODE(RUN(ENGINE_OP_QLINEARMATMUL, &y, 1, I8(D(1, 2), 1, 2),
	    F32S(1), I8S(1), I8(D(2, 1), 0, 0), F32S(1), I8S(-1), F32S(1),
	    I8S(0)), RF_OK);
	EXPECT_I8(y, D(1, 1), 1);
	/* Scale 0.25 * 0.5 / 0.0625 = 2: acc 3*5 - 4*1 = 11 -> 22. */
	EXPECT_CODE(RUN(ENGINE_OP_QLINEARMATMUL, &y, 1, I8(D(1, 2), 3, -4),
	    F32S(0.25f), I8S(0), I8(D(2, 1), 5, 1), F32S(0.5f), I8S(0),
	    F32S(0.0625f), I8S(0)), RF_OK);
	EXPECT_I8(y, D(1, 1), 22);
	/* Scale 1/3 on acc 3 and 6: 1/3 is not a float, and
	 * (double)(1/3f) * 3 = 1.0000000298 rounds to 1, * 6 to 2. */
	EXPECT_CODE(RUN(ENGINE_OP_QLINEARMATMUL, &y, 1, I8(D(2, 1), 3, 6),
	    F32S(1.0f / 3.0f), I8S(0), I8(D(1, 1), 1), F32S(1), I8S(0),
	    F32S(1), I8S(0)), RF_OK);
	EXPECT_I8(y, D(2, 1), 1, 2);
}

static void
test_qlinear_matmul_errors(void)
{
	const struct tensor *a = I8(D(1, 1), 1);
	const struct tensor *one = F32S(1);
	const struct tensor *z = I8S(0);
	EXPECT_CODE(RUN(ENGINE_OP_QLINEARMATMUL, NULL, 1, a, F32S(0), z, a,
	    one, z, one, z), RF_ERR_INVAL);
	EXPECT_CODE(RUN(ENGINE_OP_QLINEARMATMUL, NULL, 1, a, one, z, a,
	    F32S(-1), z, one, z), RF_ERR_INVAL);
	EXPECT_CODE(RUN(ENGINE_OP_QLINEARMATMUL, NULL, 1, a, one, z, a, one,
	    z, F32S(NAN), z), RF_ERR_INVAL);
	EXPECT_CODE(RUN(ENGINE_OP_QLINEARMATMUL, NULL, 1, a, one, z, a, one,
	    z, F32S(INFINITY), z), RF_ERR_INVAL);
	/* Per-channel scales or zero points are not supported. */
	EXPECT_CODE(RUN(ENGINE_OP_QLINEARMATMUL, NULL, 1, a,
	    F32(D(2), 1, 1), z, a, one, z, one, z), RF_ERR_NOTSUP);
	EXPECT_CODE(RUN(ENGINE_OP_QLINEARMATMUL, NULL, 1, a, one,
	    I8(D(2), 0, 0), a, one, z, one, z), RF_ERR_NOTSUP);
	EXPECT_CODE(RUN(ENGINE_OP_QLINEARMATMUL, NULL, 1, a, one, I32S(0), a,
	    one, z, one, z), RF_ERR_DTYPE);
	EXPECT_CODE(RUN(ENGINE_OP_QLINEARMATMUL, NULL, 1, a, I8S(1), z, a,
	    one, z, one, z), RF_ERR_DTYPE);
	EXPECT_CODE(RUN(ENGINE_OP_QLINEARMATMUL, NULL, 1, F32(D(1, 1), 1),
	    one, z, a, one, z, one, z), RF_ERR_DTYPE);
	EXPECT_CODE(RUN(ENGINE_OP_QLINEARMATMUL, NULL, 1, a, one, z,
	    I8(D(2, 1), 1, 1), one, z, one, z), RF_ERR_SHAPE);
	/* All eight inputs are required. */
	EXPECT_CODE(BUILD(ENGINE_OP_QLINEARMATMUL, 1, a, one, z, a, one, z,
	    one), RF_ERR_INVAL);
	EXPECT_CODE(BUILD(ENGINE_OP_QLINEARMATMUL, 1, a, one, z, a, one, z,
	    one, NULL), RF_ERR_INVAL);
	at_float("alpha", 1.0f);
	EXPECT_CODE(BUILD(ENGINE_OP_QLINEARMATMUL, 1, a, one, z, a, one, z,
	    one, z), RF_ERR_NOTSUP);
}

/* QGemm inputs: A, a_scale, a_zp, B, b_scale, b_zp [, C (int32),
 * y_scale, y_zp]. */
static void
test_qgemm(void)
{
	struct tensor *y;
	const struct tensor *a = I8(D(2, 2), 1, 2, 3, 4);
	const struct tensor *eye = I8(D(2, 2), 1, 0, 0, 1);
	const struct tensor *half = F32S(0.5f);
	const struct tensor *one = F32S(1);
	const struct tensor *z = I8S(0);
	/* acc = A; * 0.5 = 0.5, 1, 1.5, 2 -> to even 0, 1, 2, 2. */
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, &y, 1, a, half, z, eye, one, z, NULL,
	    one, z), RF_OK);
	EXPECT_I8(y, D(2, 2), 0, 1, 2, 2);
	/* y_zp absent is 0. */
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, &y, 1, a, half, z, eye, one, z, NULL,
	    one), RF_OK);
	EXPECT_I8(y, D(2, 2), 0, 1, 2, 2);
	/* int32 bias C [n] = [1,-1]: acc 2, 1, 4, 3 -> 1, 0.5, 2, 1.5 ->
	 * 1, 0, 2, 2. */
	const struct tensor *cb = I32(D(2), 1, -1);
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, &y, 1, a, half, z, eye, one, z, cb,
	    one, z), RF_OK);
	EXPECT_I8(y, D(2, 2), 1, 0, 2, 2);
	/* C [m,1] = [10,20]: 11, 12, 23, 24 -> 5.5, 6, 11.5, 12 -> 6, 6,
	 * 12, 12. */
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, &y, 1, a, half, z, eye, one, z,
	    I32(D(2, 1), 10, 20), one, z), RF_OK);
	EXPECT_I8(y, D(2, 2), 6, 6, 12, 12);
	/* C [m,n] and a scalar C. */
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, &y, 1, a, half, z, eye, one, z,
	    I32(D(2, 2), 1, 1, 1, 1), one, z), RF_OK);
	EXPECT_I8(y, D(2, 2), 1, 2, 2, 2);
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, &y, 1, a, half, z, eye, one, z,
	    I32S(-3), one, z), RF_OK);
	/* -2 -> -1, -1 -> -0.5 -> 0, 0, 1 -> 0.5 -> 0. */
	EXPECT_I8(y, D(2, 2), -1, 0, 0, 0);
	/* f32 output without y_scale: acc * 0.5 exactly. */
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, &y, 1, a, half, z, eye, one, z),
	    RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 0.5f, 1, 1.5f, 2);
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, &y, 1, a, half, z, eye, one, z, cb),
	    RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 1, 0.5f, 2, 1.5f);
	/* alpha 2 scales the f32 result: acc * 2 * 0.5. */
	at_float("alpha", 2.0f);
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, &y, 1, a, half, z, eye, one, z, NULL,
	    NULL), RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 1, 2, 3, 4);
	/* A x A = [[7,10],[15,22]]; * 0.5 = 3.5, 5, 7.5, 11 -> 4, 5, 8, 11.
	 * transA / transB read stored transposes. */
	const struct tensor *at = I8(D(2, 2), 1, 3, 2, 4);
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, &y, 1, a, half, z, a, one, z, NULL,
	    one, z), RF_OK);
	EXPECT_I8(y, D(2, 2), 4, 5, 8, 11);
	at_int("transA", 1);
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, &y, 1, at, half, z, a, one, z, NULL,
	    one, z), RF_OK);
	EXPECT_I8(y, D(2, 2), 4, 5, 8, 11);
	at_int("transB", 1);
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, &y, 1, a, half, z, at, one, z, NULL,
	    one, z), RF_OK);
	EXPECT_I8(y, D(2, 2), 4, 5, 8, 11);
	/* Non-square with transB: [1,2] x ([2,3] stored as [3,2])^T. */
	at_int("transB", 1);
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, &y, 1, I8(D(1, 2), 1, -1), one, z,
	    I8(D(3, 2), 1, 2, 3, 4, 5, 7), one, z), RF_OK);
	EXPECT_F32(y, D(1, 3), 0, -1, -1, -2);
	/* Zero points: ([3,4] - 2) . ([-2,-1] + 3) = 1 + 4 = 5; / y_scale 2
	 * = 2.5 -> 2. */
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, &y, 1, I8(D(1, 2), 3, 4), one,
	    I8S(2), I8(D(2, 1), -2, -1), one, I8S(-3), NULL, F32S(2), z),
	    RF_OK);
	EXPECT_I8(y, D(1, 1), 2);
}

static void
test_qgemm_saturate(void)
{
	struct tensor *y;
	const struct tensor *one = F32S(1);
	const struct tensor *z = I8S(0);
	const struct tensor *sat = I8(D(3, 2), 127, 127, -128, -128, 60, 60);
	const struct tensor *b11 = I8(D(2, 1), 1, 1);
	/* 254 -> 127, -256 -> -128, 120. */
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, &y, 1, sat, one, z, b11, one, z, NULL,
	    one, z), RF_OK);
	EXPECT_I8(y, D(3, 1), 127, -128, 120);
	/* y_zp -5: 249 -> 127, -261 -> -128, 115; y_zp 10: 130 -> 127. */
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, &y, 1, sat, one, z, b11, one, z, NULL,
	    one, I8S(-5)), RF_OK);
	EXPECT_I8(y, D(3, 1), 127, -128, 115);
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, &y, 1, sat, one, z, b11, one, z, NULL,
	    one, I8S(10)), RF_OK);
	EXPECT_I8(y, D(3, 1), 127, -128, 127);
	/* A bias pushes in range: 254 - 200 = 54, -256 + 200 = -56. */
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, &y, 1, sat, one, z, b11, one, z,
	    I32(D(3, 1), -200, 200, 0), one, z), RF_OK);
	EXPECT_I8(y, D(3, 1), 54, -56, 120);
	/* int32 sums wrap: INT32_MAX + 254 in the bias add. */
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, &y, 1, sat, one, z, b11, one, z,
	    I32(D(1), INT32_MAX)), RF_OK);
	EXPECT_F32(y, D(3, 1), 0, (float)(INT32_MIN + 253),
	    (float)(INT32_MAX - 256), (float)(INT32_MIN + 119));
}

static void
test_qgemm_errors(void)
{
	const struct tensor *a = I8(D(2, 2), 1, 2, 3, 4);
	const struct tensor *one = F32S(1);
	const struct tensor *z = I8S(0);
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, NULL, 1, a, one, z, a, one, z,
	    F32(D(2), 1, 1), one, z), RF_ERR_DTYPE);
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, NULL, 1, a, one, z, a, one, z,
	    I32(D(3), 1, 1, 1), one, z), RF_ERR_SHAPE);
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, NULL, 1, a, one, z,
	    I8(D(3, 2), 1, 2, 3, 4, 5, 6), one, z), RF_ERR_SHAPE);
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, NULL, 1, I8(D(2), 1, 2), one, z, a,
	    one, z), RF_ERR_SHAPE);
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, NULL, 1, a, F32S(0), z, a, one, z),
	    RF_ERR_INVAL);
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, NULL, 1, a, one, z, a, one, z, NULL,
	    F32S(-2), z), RF_ERR_INVAL);
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, NULL, 1, a, one, I8(D(2), 0, 0), a,
	    one, z), RF_ERR_NOTSUP);
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, NULL, 1, a, one, z, a, one, z, NULL,
	    one, I32S(0)), RF_ERR_DTYPE);
	/* alpha must be positive and finite. */
	at_float("alpha", 0.0f);
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, NULL, 1, a, one, z, a, one, z, NULL,
	    one, z), RF_ERR_INVAL);
	at_float("alpha", -1.0f);
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, NULL, 1, a, one, z, a, one, z),
	    RF_ERR_INVAL);
	at_float("alpha", INFINITY);
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, NULL, 1, a, one, z, a, one, z, NULL,
	    one, z), RF_ERR_INVAL);
	at_float("alpha", NAN);
	EXPECT_CODE(RUN(ENGINE_OP_QGEMM, NULL, 1, a, one, z, a, one, z),
	    RF_ERR_INVAL);
	at_int("transA", 2);
	EXPECT_CODE(BUILD(ENGINE_OP_QGEMM, 1, a, one, z, a, one, z),
	    RF_ERR_INVAL);
	at_float("beta", 1.0f);
	EXPECT_CODE(BUILD(ENGINE_OP_QGEMM, 1, a, one, z, a, one, z),
	    RF_ERR_NOTSUP);
	EXPECT_CODE(BUILD(ENGINE_OP_QGEMM, 1, a, one, z, a, one),
	    RF_ERR_INVAL);
	EXPECT_CODE(BUILD(ENGINE_OP_QGEMM, 1, a, one, NULL, a, one, z),
	    RF_ERR_INVAL);
	EXPECT_CODE(BUILD(ENGINE_OP_QGEMM, 1, a, one, z, a, one, z, NULL, one,
	    z, z), RF_ERR_INVAL);
}

/* ------------------------------------------------------------------ */
/* Builder checks and whole runs                                        */
/* ------------------------------------------------------------------ */

static void
test_op_table(void)
{
	for (int i = 0; i < ENGINE_OP_COUNT; i++) {
		const char *name = engine_op_name((enum engine_op)i);
		CU_ASSERT_FATAL(name != NULL);
		enum engine_op op;
		CU_ASSERT(engine_op_lookup(name, &op) == RF_OK && (int)op == i);
	}
	enum engine_op op;
	CU_ASSERT(engine_op_lookup("Foo", &op) == RF_ERR_NOTFOUND);
	CU_ASSERT(engine_op_lookup("matmul", &op) == RF_ERR_NOTFOUND);
	CU_ASSERT(engine_op_name(ENGINE_OP_COUNT) == NULL);
	CU_ASSERT(engine_op_name((enum engine_op)-1) == NULL);
	CU_ASSERT_STRING_EQUAL(engine_op_name(ENGINE_OP_LAYERNORM),
	    "LayerNormalization");
	CU_ASSERT_STRING_EQUAL(engine_op_name(ENGINE_OP_QGEMM), "QGemm");
}

static void
test_attr_errors(void)
{
	const struct tensor *f = F32(D(2, 2), 1, 2, 3, 4);
	const struct tensor *i = I64(D(1), 0);
	/* Unknown attributes: RF_ERR_NOTSUP at add_op. */
	at_int("axis", 0);
	EXPECT_CODE(BUILD(ENGINE_OP_ADD, 1, f, f), RF_ERR_NOTSUP);
	at_int("transA", 1);
	EXPECT_CODE(BUILD(ENGINE_OP_MATMUL, 1, f, f), RF_ERR_NOTSUP);
	at_int("foo", 1);
	EXPECT_CODE(BUILD(ENGINE_OP_SOFTMAX, 1, f), RF_ERR_NOTSUP);
	at_int("foo", 1);
	EXPECT_CODE(BUILD(ENGINE_OP_TANH, 1, f), RF_ERR_NOTSUP);
	at_int("foo", 1);
	EXPECT_CODE(BUILD(ENGINE_OP_TRANSPOSE, 1, f), RF_ERR_NOTSUP);
	at_int("foo", 1);
	EXPECT_CODE(BUILD(ENGINE_OP_FLATTEN, 1, f), RF_ERR_NOTSUP);
	at_int("foo", 1);
	EXPECT_CODE(BUILD(ENGINE_OP_RESHAPE, 1, f, i), RF_ERR_NOTSUP);
	at_int("foo", 1);
	EXPECT_CODE(BUILD(ENGINE_OP_MATMULINTEGER, 1, f, f), RF_ERR_NOTSUP);
	/* A known one next to an unknown one still fails. */
	at_int("axis", 0);
	at_int("zzz", 0);
	EXPECT_CODE(BUILD(ENGINE_OP_CONCAT, 1, f, f), RF_ERR_NOTSUP);
	/* Wrong types: RF_ERR_INVAL. */
	at_float("axis", 0.0f);
	EXPECT_CODE(BUILD(ENGINE_OP_GATHER, 1, f, i), RF_ERR_INVAL);
	AT_INTS("axis", 0);
	EXPECT_CODE(BUILD(ENGINE_OP_SOFTMAX, 1, f), RF_ERR_INVAL);
	at_ints("alpha", D(1), 1);
	EXPECT_CODE(BUILD(ENGINE_OP_GEMM, 1, f, f), RF_ERR_INVAL);
	at_str("epsilon", "1e-5");
	EXPECT_CODE(BUILD(ENGINE_OP_LAYERNORM, 1, f, f), RF_ERR_INVAL);
	at_floats("kernel_shape", (const float[]){ 1, 1 }, 2);
	EXPECT_CODE(BUILD(ENGINE_OP_MAXPOOL, 1, f), RF_ERR_INVAL);
	/* The same attribute twice. */
	at_int("axis", 0);
	at_int("axis", 1);
	EXPECT_CODE(BUILD(ENGINE_OP_SOFTMAX, 1, f), RF_ERR_INVAL);
	/* A hand-made attribute with a bad type or count. */
	struct engine_attr *a = pending_next();
	CU_ASSERT_FATAL(engine_attr_int(a, "axis", 0) == RF_OK);
	a->type = (enum engine_attr_type)9;
	EXPECT_CODE(BUILD(ENGINE_OP_SOFTMAX, 1, f), RF_ERR_INVAL);
	a = pending_next();
	CU_ASSERT_FATAL(engine_attr_int(a, "axis", 0) == RF_OK);
	a->count = 2;
	EXPECT_CODE(BUILD(ENGINE_OP_SOFTMAX, 1, f), RF_ERR_INVAL);
}

static void
test_arity_errors(void)
{
	const struct tensor *f = F32(D(2, 2), 1, 2, 3, 4);
	/* Wrong input counts: RF_ERR_INVAL at add_op. */
	EXPECT_CODE(BUILD(ENGINE_OP_MATMUL, 1, f), RF_ERR_INVAL);
	EXPECT_CODE(BUILD(ENGINE_OP_MATMUL, 1, f, f, f), RF_ERR_INVAL);
	EXPECT_CODE(BUILD(ENGINE_OP_ADD, 1, f), RF_ERR_INVAL);
	EXPECT_CODE(BUILD(ENGINE_OP_SUB, 1, f, f, f), RF_ERR_INVAL);
	EXPECT_CODE(BUILD(ENGINE_OP_RELU, 1, f, f), RF_ERR_INVAL);
	EXPECT_CODE(build_code(ENGINE_OP_SIGMOID, NULL, 0, 1), RF_ERR_INVAL);
	EXPECT_CODE(BUILD(ENGINE_OP_GEMM, 1, f, f, f, f), RF_ERR_INVAL);
	EXPECT_CODE(BUILD(ENGINE_OP_GATHER, 1, f), RF_ERR_INVAL);
	EXPECT_CODE(BUILD(ENGINE_OP_GLOBALAVGPOOL, 1, f, f), RF_ERR_INVAL);
	EXPECT_CODE(BUILD(ENGINE_OP_MATMULINTEGER, 1, f), RF_ERR_INVAL);
	/* A required input given as absent. */
	EXPECT_CODE(BUILD(ENGINE_OP_ADD, 1, f, NULL), RF_ERR_INVAL);
	/* Wrong output counts. */
	EXPECT_CODE(BUILD(ENGINE_OP_ADD, 0, f, f), RF_ERR_INVAL);
	EXPECT_CODE(BUILD(ENGINE_OP_ADD, 2, f, f), RF_ERR_INVAL);
	EXPECT_CODE(BUILD(ENGINE_OP_SOFTMAX, 9, f), RF_ERR_INVAL);
	/* No such operator. */
	EXPECT_CODE(BUILD(ENGINE_OP_COUNT, 1, f), RF_ERR_NOTSUP);
	EXPECT_CODE(BUILD((enum engine_op)-1, 1, f), RF_ERR_NOTSUP);
}

static void
test_eval_errors(void)
{
	const struct tensor *f = F32(D(2, 2), 1, 2, 3, 4);
	struct engine_model *m = NULL;
	CU_ASSERT_FATAL(build(ENGINE_OP_ADD, IN(f, f), 1, &m) == RF_OK);
	struct tensor out[1];
	struct rf_errinfo ei;
	memset(out, 0, sizeof(out));
	/* No operator 1. */
	const struct tensor *in[2] = { f, f };
	EXPECT_CODE(engine_op_eval(m, 1, in, out, ENGINE_KERNELS_REF, &ei),
	    RF_ERR_RANGE);
	/* A missing required input at eval time. */
	in[1] = NULL;
	EXPECT_CODE(engine_op_eval(m, 0, in, out, ENGINE_KERNELS_FAST, &ei),
	    RF_ERR_INVAL);
	CU_ASSERT(out[0].data == NULL);
	CU_ASSERT(strstr(ei.msg, "Add") != NULL);
	engine_model_free(m);
}

struct trace_count {
	size_t calls;
	size_t last;
};

static int
count_hook(void *ctx, size_t index, const struct tensor *const *t, size_t n)
{
	struct trace_count *tc = ctx;
	tc->calls++;
	tc->last = index;
	return t != NULL && n >= 1 ? 0 : 1;
}

/* A whole run (weights, two ops, trace) under both kernel kinds agrees
 * with the hand-computed result. */
static void
test_run_model(void)
{
	for (int kind = 0; kind < 2; kind++) {
		struct engine_model *m = engine_model_alloc("mlp");
		CU_ASSERT_FATAL(m != NULL);
		int x, w, h, y;
		CU_ASSERT_FATAL(engine_model_add_input(m, "x", TENSOR_F32, 2,
		    D(-1, 2), &x, NULL) == RF_OK);
		struct tensor wt;
		CU_ASSERT_FATAL(engine_tensor_init(&wt, TENSOR_F32, 2, D(2, 2)) ==
		    RF_OK);
		memcpy(wt.data, (const float[]){ 1, 0, 0, -1 },
		    4 * sizeof(float));
		CU_ASSERT_FATAL(engine_model_add_weight(m, "w", &wt, &w,
		    NULL) == RF_OK);
		CU_ASSERT_FATAL(engine_model_add_op(m, ENGINE_OP_MATMUL, "mm",
		    (const int[]){ x, w }, 2, (const char *const[]){ "h" }, 1,
		    NULL, 0, &h, NULL) == RF_OK);
		CU_ASSERT_FATAL(engine_model_add_op(m, ENGINE_OP_RELU, "relu",
		    (const int[]){ h }, 1, (const char *const[]){ "y" }, 1,
		    NULL, 0, &y, NULL) == RF_OK);
		CU_ASSERT_FATAL(engine_model_add_output(m, y, NULL) == RF_OK);
		/* [[1,-2],[3,4],[-1,-1]] x diag(1,-1) = [[1,2],[3,-4],
		 * [-1,1]]; Relu: [[1,2],[3,0],[0,1]]. */
		const struct tensor *xin = F32(D(3, 2), 1, -2, 3, 4, -1, -1);
		struct engine_run_opts o;
		engine_run_opts_init(&o);
		o.kernels = kind == 0 ? ENGINE_KERNELS_REF :
		    ENGINE_KERNELS_FAST;
		struct trace_count tc = { 0, 0 };
		o.trace = count_hook;
		o.trace_ctx = &tc;
		struct tensor *out = pool_new();
		struct rf_errinfo ei;
		EXPECT_CODE(engine_run(m, xin, 1, out, &o, &ei), RF_OK);
		EXPECT_F32(out, D(3, 2), 0, 1, 2, 3, 0, 0, 1);
		CU_ASSERT(tc.calls == 3 && tc.last == 2);
		CU_ASSERT(engine_trace_length(m) == 3);
		engine_model_free(m);
	}
}

/* ------------------------------------------------------------------ */
/* Operators added for ONNX import                                      */
/* ------------------------------------------------------------------ */

static void
test_identity(void)
{
	struct tensor *y;
	EXPECT_CODE(RUN(ENGINE_OP_IDENTITY, &y, 1, F32(D(2), -0.0f, 3)), RF_OK);
	EXPECT_F32(y, D(2), 0, -0.0f, 3);
	EXPECT_CODE(RUN(ENGINE_OP_IDENTITY, &y, 1, I64S(INT64_MIN)), RF_OK);
	EXPECT_INTS(y, TENSOR_I64, INT64_MIN);
	at_int("axis", 0);
	EXPECT_CODE(BUILD(ENGINE_OP_IDENTITY, 1, F32S(1)), RF_ERR_NOTSUP);
	/* Several: input i to output i, any dtypes, empty ones too (the
	 * graph outputs of a KV-cache export). */
	struct tensor *ys[3];
	EXPECT_CODE(RUN(ENGINE_OP_IDENTITY, ys, 3, F32(D(2), 1, -2),
	    I64S(7), mk(TENSOR_F32, 2, D(1, 0), NULL, 0)), RF_OK);
	EXPECT_F32(ys[0], D(2), 0, 1, -2);
	EXPECT_INTS(ys[1], TENSOR_I64, 7);
	CU_ASSERT(ys[2]->count == 0 && ys[2]->rank == 2);
	/* One output per input, no more, no less. */
	EXPECT_CODE(BUILD(ENGINE_OP_IDENTITY, 1, F32S(1), F32S(2)),
	    RF_ERR_INVAL);
	EXPECT_CODE(BUILD(ENGINE_OP_IDENTITY, 2, F32S(1)), RF_ERR_INVAL);
	EXPECT_CODE(BUILD(ENGINE_OP_IDENTITY, 9, F32S(1)), RF_ERR_INVAL);
	/* No input is optional (a file could otherwise leave one out). */
	struct engine_model *m = engine_model_alloc("t");
	CU_ASSERT_FATAL(m != NULL);
	int x, o[2];
	const char *names[2] = { "a", "b" };
	CU_ASSERT(engine_model_add_input(m, "x", TENSOR_F32, 0, NULL, &x,
	    NULL) == RF_OK);
	int ins[2] = { x, ENGINE_NO_VALUE };
	CU_ASSERT(engine_model_add_op(m, ENGINE_OP_IDENTITY, "id", ins, 2,
	    names, 2, NULL, 0, o, NULL) == RF_ERR_INVAL);
	engine_model_free(m);
}

static void
test_squeeze_unsqueeze(void)
{
	const struct tensor *x = F32(D(1, 3, 1, 2), 1, 2, 3, 4, 5, 6);
	struct tensor *y;
	/* No axes: every size-1 dimension goes. */
	EXPECT_CODE(RUN(ENGINE_OP_SQUEEZE, &y, 1, x), RF_OK);
	EXPECT_F32(y, D(3, 2), 0, 1, 2, 3, 4, 5, 6);
	AT_INTS("axes", 0);
	EXPECT_CODE(RUN(ENGINE_OP_SQUEEZE, &y, 1, x), RF_OK);
	EXPECT_F32(y, D(3, 1, 2), 0, 1, 2, 3, 4, 5, 6);
	AT_INTS("axes", -2);
	EXPECT_CODE(RUN(ENGINE_OP_SQUEEZE, &y, 1, x), RF_OK);
	EXPECT_F32(y, D(1, 3, 2), 0, 1, 2, 3, 4, 5, 6);
	/* Axis 1 has size 3; duplicates; past the rank. */
	AT_INTS("axes", 1);
	EXPECT_CODE(RUN(ENGINE_OP_SQUEEZE, NULL, 1, x), RF_ERR_SHAPE);
	AT_INTS("axes", 0, -4);
	EXPECT_CODE(RUN(ENGINE_OP_SQUEEZE, NULL, 1, x), RF_ERR_INVAL);
	AT_INTS("axes", 4);
	EXPECT_CODE(RUN(ENGINE_OP_SQUEEZE, NULL, 1, x), RF_ERR_INVAL);
	AT_INTS("axes", 6);
	EXPECT_CODE(BUILD(ENGINE_OP_SQUEEZE, 1, x), RF_ERR_INVAL);

	const struct tensor *v = I32(D(3, 2), 1, 2, 3, 4, 5, 6);
	AT_INTS("axes", 0, 3);
	EXPECT_CODE(RUN(ENGINE_OP_UNSQUEEZE, &y, 1, v), RF_OK);
	EXPECT_I32(y, D(1, 3, 2, 1), 1, 2, 3, 4, 5, 6);
	AT_INTS("axes", -1);
	EXPECT_CODE(RUN(ENGINE_OP_UNSQUEEZE, &y, 1, v), RF_OK);
	EXPECT_I32(y, D(3, 2, 1), 1, 2, 3, 4, 5, 6);
	AT_INTS("axes", 0);
	EXPECT_CODE(RUN(ENGINE_OP_UNSQUEEZE, &y, 1, I64S(7)), RF_OK);
	EXPECT_I64(y, D(1), 7);
	EXPECT_CODE(BUILD(ENGINE_OP_UNSQUEEZE, 1, v), RF_ERR_INVAL);
	AT_INTS("axes", 1, 1);
	EXPECT_CODE(RUN(ENGINE_OP_UNSQUEEZE, NULL, 1, v), RF_ERR_INVAL);
	AT_INTS("axes", 0, 1, 2, 3, 4);
	EXPECT_CODE(RUN(ENGINE_OP_UNSQUEEZE, NULL, 1, v), RF_ERR_RANGE);
}

static void
test_split(void)
{
	const struct tensor *x = F32(D(2, 4), 0, 1, 2, 3, 4, 5, 6, 7);
	struct tensor *y[3];
	at_int("axis", 1);
	EXPECT_CODE(RUN(ENGINE_OP_SPLIT, y, 2, x), RF_OK);
	EXPECT_F32(y[0], D(2, 2), 0, 0, 1, 4, 5);
	EXPECT_F32(y[1], D(2, 2), 0, 2, 3, 6, 7);
	at_int("axis", -1);
	AT_INTS("split", 1, 0, 3);
	EXPECT_CODE(RUN(ENGINE_OP_SPLIT, y, 3, x), RF_OK);
	EXPECT_F32(y[0], D(2, 1), 0, 0, 4);
	CU_ASSERT(y[1]->count == 0 && y[1]->dims[1] == 0);
	EXPECT_F32(y[2], D(2, 3), 0, 1, 2, 3, 5, 6, 7);
	/* Axis 0 by default. */
	EXPECT_CODE(RUN(ENGINE_OP_SPLIT, y, 2, x), RF_OK);
	EXPECT_F32(y[1], D(1, 4), 0, 4, 5, 6, 7);
	/* 4 does not split in 3; sizes that do not add up; a size per
	 * output. */
	at_int("axis", 1);
	EXPECT_CODE(RUN(ENGINE_OP_SPLIT, NULL, 3, x), RF_ERR_SHAPE);
	at_int("axis", 1);
	AT_INTS("split", 1, 2);
	EXPECT_CODE(RUN(ENGINE_OP_SPLIT, NULL, 2, x), RF_ERR_SHAPE);
	AT_INTS("split", 1, 1);
	EXPECT_CODE(RUN(ENGINE_OP_SPLIT, NULL, 3, x), RF_ERR_INVAL);
	AT_INTS("split", 3, -1);
	EXPECT_CODE(BUILD(ENGINE_OP_SPLIT, 2, x), RF_ERR_INVAL);
	at_int("axis", 2);
	EXPECT_CODE(RUN(ENGINE_OP_SPLIT, NULL, 2, x), RF_ERR_INVAL);
	EXPECT_CODE(BUILD(ENGINE_OP_SPLIT, 9, x), RF_ERR_INVAL);
}

static void
test_slice(void)
{
	const struct tensor *x = F32(D(3, 4), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
	    11);
	struct tensor *y;
	AT_INTS("starts", 1);
	AT_INTS("ends", 3);
	AT_INTS("axes", 1);
	EXPECT_CODE(RUN(ENGINE_OP_SLICE, &y, 1, x), RF_OK);
	EXPECT_F32(y, D(3, 2), 0, 1, 2, 5, 6, 9, 10);
	/* From the last column backwards in steps of 2, to the very start
	 * (PyTorch writes INT64_MIN for "past the beginning"). */
	AT_INTS("starts", -1);
	AT_INTS("ends", INT64_MIN);
	AT_INTS("axes", -1);
	AT_INTS("steps", -2);
	EXPECT_CODE(RUN(ENGINE_OP_SLICE, &y, 1, x), RF_OK);
	EXPECT_F32(y, D(3, 2), 0, 3, 1, 7, 5, 11, 9);
	/* Without axes, starts/ends apply to axes 0, 1, ...; INT64_MAX is
	 * "to the end". */
	AT_INTS("starts", -2, 0);
	AT_INTS("ends", INT64_MAX, 1);
	EXPECT_CODE(RUN(ENGINE_OP_SLICE, &y, 1, x), RF_OK);
	EXPECT_F32(y, D(2, 1), 0, 4, 8);
	/* Empty and oversized ranges clamp. */
	AT_INTS("starts", 2);
	AT_INTS("ends", 1);
	EXPECT_CODE(RUN(ENGINE_OP_SLICE, &y, 1, x), RF_OK);
	CU_ASSERT(y->count == 0 && y->dims[0] == 0 && y->dims[1] == 4);
	AT_INTS("starts", -100);
	AT_INTS("ends", 100);
	AT_INTS("steps", INT64_MAX);
	EXPECT_CODE(RUN(ENGINE_OP_SLICE, &y, 1, I64(D(3), 7, 8, 9)), RF_OK);
	EXPECT_I64(y, D(1), 7);
	/* An empty axis stays empty, whatever the step. */
	AT_INTS("starts", -1);
	AT_INTS("ends", INT64_MIN);
	AT_INTS("steps", -1);
	EXPECT_CODE(RUN(ENGINE_OP_SLICE, &y, 1, mk(TENSOR_F32, 2, D(0, 3),
	    NULL, 0)), RF_OK);
	CU_ASSERT(y->count == 0 && y->dims[0] == 0 && y->dims[1] == 3);
	/* Errors. */
	AT_INTS("starts", 0);
	EXPECT_CODE(BUILD(ENGINE_OP_SLICE, 1, x), RF_ERR_INVAL);
	AT_INTS("starts", 0);
	AT_INTS("ends", 1);
	AT_INTS("steps", 0);
	EXPECT_CODE(BUILD(ENGINE_OP_SLICE, 1, x), RF_ERR_INVAL);
	AT_INTS("starts", 0);
	AT_INTS("ends", 1);
	AT_INTS("steps", INT64_MIN);
	EXPECT_CODE(BUILD(ENGINE_OP_SLICE, 1, x), RF_ERR_INVAL);
	AT_INTS("starts", 0, 0);
	AT_INTS("ends", 1, 1);
	AT_INTS("axes", 1, -1);
	EXPECT_CODE(RUN(ENGINE_OP_SLICE, NULL, 1, x), RF_ERR_INVAL);
	AT_INTS("starts", 0);
	AT_INTS("ends", 1);
	AT_INTS("axes", 2);
	EXPECT_CODE(RUN(ENGINE_OP_SLICE, NULL, 1, x), RF_ERR_INVAL);
}

static void
test_pad(void)
{
	const struct tensor *x = F32(D(2, 3), 1, 2, 3, 4, 5, 6);
	struct tensor *y;
	/* pads = [begin0, begin1, end0, end1]. */
	AT_INTS("pads", 0, 1, 1, 0);
	at_float("value", 9);
	EXPECT_CODE(RUN(ENGINE_OP_PAD, &y, 1, x), RF_OK);
	EXPECT_F32(y, D(3, 4), 0, 9, 1, 2, 3, 9, 4, 5, 6, 9, 9, 9, 9);
	AT_INTS("pads", 1, 1, 0, 1);
	at_str("mode", "edge");
	EXPECT_CODE(RUN(ENGINE_OP_PAD, &y, 1, x), RF_OK);
	EXPECT_F32(y, D(3, 5), 0, 1, 1, 2, 3, 3, 1, 1, 2, 3, 3, 4, 4, 5, 6, 6);
	AT_INTS("pads", 0, 2, 0, 1);
	at_str("mode", "reflect");
	EXPECT_CODE(RUN(ENGINE_OP_PAD, &y, 1, x), RF_OK);
	EXPECT_F32(y, D(2, 6), 0, 3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5);
	/* Negative pads crop; integers pad with an integer value, 0 by
	 * default. */
	AT_INTS("pads", 0, -1, 0, 0);
	EXPECT_CODE(RUN(ENGINE_OP_PAD, &y, 1, x), RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 2, 3, 5, 6);
	AT_INTS("pads", 1, 0);
	at_int("value", -7);
	EXPECT_CODE(RUN(ENGINE_OP_PAD, &y, 1, I32(D(2), 1, 2)), RF_OK);
	EXPECT_I32(y, D(3), -7, 1, 2);
	AT_INTS("pads", 0, 1);
	EXPECT_CODE(RUN(ENGINE_OP_PAD, &y, 1, I8(D(1), 5)), RF_OK);
	EXPECT_I8(y, D(2), 5, 0);
	/* Errors. */
	AT_INTS("pads", 0, 1);
	EXPECT_CODE(RUN(ENGINE_OP_PAD, NULL, 1, x), RF_ERR_SHAPE);
	AT_INTS("pads", 0, 3, 0, 0);
	at_str("mode", "reflect");
	EXPECT_CODE(RUN(ENGINE_OP_PAD, NULL, 1, x), RF_ERR_SHAPE);
	AT_INTS("pads", 0, -4, 0, 0);
	EXPECT_CODE(RUN(ENGINE_OP_PAD, NULL, 1, x), RF_ERR_SHAPE);
	AT_INTS("pads", 0, 0, 0, 0);
	at_int("value", 1);
	EXPECT_CODE(RUN(ENGINE_OP_PAD, NULL, 1, x), RF_ERR_DTYPE);
	AT_INTS("pads", 0, 1);
	at_int("value", 300);
	EXPECT_CODE(RUN(ENGINE_OP_PAD, NULL, 1, I8(D(1), 5)), RF_ERR_RANGE);
	AT_INTS("pads", 0, 0, 0, 0);
	at_str("mode", "wrap");
	EXPECT_CODE(BUILD(ENGINE_OP_PAD, 1, x), RF_ERR_NOTSUP);
	EXPECT_CODE(BUILD(ENGINE_OP_PAD, 1, x), RF_ERR_INVAL);
}

static void
test_where(void)
{
	struct tensor *y;
	const struct tensor *c = I8(D(2, 1), 1, 0);
	const struct tensor *x = F32(D(2, 2), 1, 2, 3, 4);
	/* Any non-zero condition is true. */
	EXPECT_CODE(RUN(ENGINE_OP_WHERE, &y, 1, c, x, F32S(9)), RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 1, 2, 9, 9);
	EXPECT_CODE(RUN(ENGINE_OP_WHERE, &y, 1, I8(D(3), -1, 0, 2),
	    I64(D(3), 1, 2, 3), I64S(0)), RF_OK);
	EXPECT_I64(y, D(3), 1, 0, 3);
	EXPECT_CODE(RUN(ENGINE_OP_WHERE, NULL, 1, F32(D(2, 1), 1, 0), x, x),
	    RF_ERR_DTYPE);
	EXPECT_CODE(RUN(ENGINE_OP_WHERE, NULL, 1, c, x, I64S(0)),
	    RF_ERR_DTYPE);
	EXPECT_CODE(RUN(ENGINE_OP_WHERE, NULL, 1, I8(D(3), 1, 0, 1), x, x),
	    RF_ERR_SHAPE);
}

static void
test_expand(void)
{
	struct tensor *y;
	AT_INTS("shape", 2, 1, 2);
	EXPECT_CODE(RUN(ENGINE_OP_EXPAND, &y, 1, F32(D(3, 1), 1, 2, 3)),
	    RF_OK);
	EXPECT_F32(y, D(2, 3, 2), 0, 1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3);
	/* A 1 in the shape keeps the input's size (bidirectional). */
	AT_INTS("shape", 1);
	EXPECT_CODE(RUN(ENGINE_OP_EXPAND, &y, 1, I32(D(3), 4, 5, 6)), RF_OK);
	EXPECT_I32(y, D(3), 4, 5, 6);
	AT_INTS("shape", 2);
	EXPECT_CODE(RUN(ENGINE_OP_EXPAND, NULL, 1, I32(D(3), 4, 5, 6)),
	    RF_ERR_SHAPE);
	EXPECT_CODE(BUILD(ENGINE_OP_EXPAND, 1, F32S(1)), RF_ERR_INVAL);
	AT_INTS("shape", -1);
	EXPECT_CODE(BUILD(ENGINE_OP_EXPAND, 1, F32S(1)), RF_ERR_INVAL);
}

static void
test_cast(void)
{
	struct tensor *y;
	const struct tensor *f = F32(D(5), 1.9f, -1.9f, 0.5f, -0.0f,
	    -128.9f);
	at_int("to", 6);
	EXPECT_CODE(RUN(ENGINE_OP_CAST, &y, 1, f), RF_OK);
	EXPECT_I32(y, D(5), 1, -1, 0, 0, -128);
	at_int("to", 3);
	EXPECT_CODE(RUN(ENGINE_OP_CAST, &y, 1, f), RF_OK);
	EXPECT_I8(y, D(5), 1, -1, 0, 0, -128);
	/* Integers wrap modulo 2^bits, as NumPy's astype. */
	at_int("to", 3);
	EXPECT_CODE(RUN(ENGINE_OP_CAST, &y, 1, I64(D(2), 300, -129)), RF_OK);
	EXPECT_I8(y, D(2), 44, 127);
	at_int("to", 7);
	EXPECT_CODE(RUN(ENGINE_OP_CAST, &y, 1, I8(D(2), -5, 7)), RF_OK);
	EXPECT_I64(y, D(2), -5, 7);
	/* 2^24 + 1 rounds to even. */
	at_int("to", 1);
	EXPECT_CODE(RUN(ENGINE_OP_CAST, &y, 1, I64(D(2), 16777217, -3)),
	    RF_OK);
	EXPECT_F32(y, D(2), 0, 16777216.0f, -3.0f);
	at_int("to", 1);
	EXPECT_CODE(RUN(ENGINE_OP_CAST, &y, 1, f), RF_OK);
	EXPECT_F32(y, D(5), 0, 1.9f, -1.9f, 0.5f, -0.0f, -128.9f);
	/* NaN and out-of-range values have no integer. */
	at_int("to", 6);
	EXPECT_CODE(RUN(ENGINE_OP_CAST, NULL, 1, F32S(NAN)), RF_ERR_RANGE);
	at_int("to", 3);
	EXPECT_CODE(RUN(ENGINE_OP_CAST, NULL, 1, F32S(128.0f)), RF_ERR_RANGE);
	at_int("to", 6);
	EXPECT_CODE(RUN(ENGINE_OP_CAST, NULL, 1, F32S(2147483648.0f)),
	    RF_ERR_RANGE);
	at_int("to", 7);
	EXPECT_CODE(RUN(ENGINE_OP_CAST, NULL, 1, F32S(INFINITY)),
	    RF_ERR_RANGE);
	at_int("to", 7);
	EXPECT_CODE(RUN(ENGINE_OP_CAST, &y, 1, F32S(-9223372036854775808.0f)),
	    RF_OK);
	EXPECT_INTS(y, TENSOR_I64, INT64_MIN);
	at_int("to", 10);
	EXPECT_CODE(BUILD(ENGINE_OP_CAST, 1, f), RF_ERR_NOTSUP);
	EXPECT_CODE(BUILD(ENGINE_OP_CAST, 1, f), RF_ERR_INVAL);
}

static void
test_reducemean(void)
{
	const struct tensor *x = F32(D(2, 3), 1, 2, 3, 4, 5, 6);
	struct tensor *y;
	AT_INTS("axes", 1);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCEMEAN, &y, 1, x), RF_OK);
	EXPECT_F32(y, D(2, 1), 0, 2, 5);
	AT_INTS("axes", 0);
	at_int("keepdims", 0);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCEMEAN, &y, 1, x), RF_OK);
	EXPECT_F32(y, D(3), 0, 2.5f, 3.5f, 4.5f);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCEMEAN, &y, 1, x), RF_OK);
	EXPECT_F32(y, D(1, 1), 0, 3.5f);
	at_int("keepdims", 0);
	AT_INTS("axes", 1, -2);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCEMEAN, &y, 1, x), RF_OK);
	EXPECT_F32S(y, 0, 3.5f);
	/* The middle axis of x[i][j][k] = 4i + 2j + k: 4i + k + 1. */
	AT_INTS("axes", 1);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCEMEAN, &y, 1, F32(D(2, 2, 2), 0, 1, 2,
	    3, 4, 5, 6, 7)), RF_OK);
	EXPECT_F32(y, D(2, 1, 2), 0, 1, 2, 5, 6);
	/* The sum is in double: 1e8 + 1 - 1e8 + 1 = 2, where a float sum
	 * would lose both ones. */
	EXPECT_CODE(RUN(ENGINE_OP_REDUCEMEAN, &y, 1, F32(D(4), 1e8f, 1,
	    -1e8f, 1)), RF_OK);
	EXPECT_F32(y, D(1), 0, 0.5f);
	/* Nothing to average: 0 / 0. */
	AT_INTS("axes", 1);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCEMEAN, &y, 1, mk(TENSOR_F32, 2,
	    D(2, 0), NULL, 0)), RF_OK);
	EXPECT_F32(y, D(2, 1), 1, NAN, NAN);
	AT_INTS("axes", 0, 0);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCEMEAN, NULL, 1, x), RF_ERR_INVAL);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCEMEAN, NULL, 1, I64(D(2), 1, 2)),
	    RF_ERR_DTYPE);
	at_int("keepdims", 2);
	EXPECT_CODE(BUILD(ENGINE_OP_REDUCEMEAN, 1, x), RF_ERR_INVAL);
}

static void
test_pow(void)
{
	struct tensor *y;
	/* Squares are one exact double product rounded once: x * x. */
	EXPECT_CODE(RUN(ENGINE_OP_POW, &y, 1, F32(D(5), 2, -2, 0.5f, -0.0f,
	    3), F32S(2)), RF_OK);
	EXPECT_F32(y, D(5), 0, 4, 4, 0.25f, 0.0f, 9);
	EXPECT_CODE(RUN(ENGINE_OP_POW, &y, 1, F32(D(3), -2, 4, 10),
	    F32(D(3), 3, -1, -2)), RF_OK);
	EXPECT_F32(y, D(3), 0, -8, 0.25f, 0.01f);
	/* Integer exponents of any width. */
	EXPECT_CODE(RUN(ENGINE_OP_POW, &y, 1, F32(D(2), 2, -3), I64S(3)),
	    RF_OK);
	EXPECT_F32(y, D(2), 0, 8, -27);
	EXPECT_CODE(RUN(ENGINE_OP_POW, &y, 1, F32S(2), I32S(-2)), RF_OK);
	EXPECT_F32S(y, 0, 0.25f);
	/* Other exponents go through exp and log: within an ulp. */
	EXPECT_CODE(RUN(ENGINE_OP_POW, &y, 1, F32(D(3), 4, 4, 2), F32(D(3),
	    0.5f, 1.5f, 0.1f)), RF_OK);
	EXPECT_F32(y, D(3), 1e-6f, 2, 8, 1.07177346f);
	/* 1.0001f is 1.000100016594..., and its 10000th power rounds to
	 * 0x402dfd7e (50-digit decimal arithmetic): exact here. */
	EXPECT_CODE(RUN(ENGINE_OP_POW, &y, 1, F32S(1.0001f), F32S(10000)),
	    RF_OK);
	EXPECT_F32S(y, 0, ffrom(0x402dfd7e));
	/* C99 special cases. */
	EXPECT_CODE(RUN(ENGINE_OP_POW, &y, 1,
	    F32(D(10), -8, 0, -0.0f, -INFINITY, 1, NAN, 2, 0.5f, -1, -0.0f),
	    F32(D(10), 0.33333334f, -1, -1, 3, NAN, 0, INFINITY, INFINITY,
	    -INFINITY, 2)), RF_OK);
	EXPECT_F32(y, D(10), 1e-30f, NAN, INFINITY, -INFINITY, -INFINITY, 1,
	    1, INFINITY, 0, 1, 0);
	/* Broadcasting. */
	EXPECT_CODE(RUN(ENGINE_OP_POW, &y, 1, F32(D(2, 1), 2, 3),
	    F32(D(1, 2), 1, 2)), RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 2, 4, 3, 9);
	EXPECT_CODE(RUN(ENGINE_OP_POW, NULL, 1, I32(D(1), 2), F32S(2)),
	    RF_ERR_DTYPE);
	EXPECT_CODE(RUN(ENGINE_OP_POW, NULL, 1, F32(D(1), 2), I8S(2)),
	    RF_ERR_DTYPE);
	EXPECT_CODE(RUN(ENGINE_OP_POW, NULL, 1, F32(D(2), 2, 3),
	    F32(D(3), 1, 2, 3)), RF_ERR_SHAPE);
}

/* Pow(x, 2) is exactly x * x for any float, as PyTorch computes it. */
static void
test_pow_square_exact(void)
{
	struct engine_rng r;
	engine_rng_seed(&r, 5);
	struct tensor *x = pool_new();
	CU_ASSERT_FATAL(engine_tensor_init(x, TENSOR_F32, 1, D(4096)) == RF_OK);
	float *xd = x->data;
	for (size_t i = 0; i < x->count; i++) {
		/* Random bits, NaNs and infinities included. */
		xd[i] = ffrom((uint32_t)engine_rng_next(&r));
	}
	struct tensor *y;
	EXPECT_CODE(RUN(ENGINE_OP_POW, &y, 1, x, F32S(2)), RF_OK);
	size_t diff = 0;
	for (size_t i = 0; i < x->count; i++) {
		float want = xd[i] * xd[i];
		float got = ((const float *)y->data)[i];
		diff += isnan(want) ? !isnan(got) : fbits(got) != fbits(want);
	}
	CU_ASSERT_EQUAL(diff, 0);
}

static void
test_sqrt_erf(void)
{
	struct tensor *y;
	EXPECT_CODE(RUN(ENGINE_OP_SQRT, &y, 1, F32(D(6), 4, 2, 0, -0.0f, -1,
	    INFINITY)), RF_OK);
	EXPECT_F32(y, D(6), 0, 2, ffrom(0x3fb504f3), 0, -0.0f, ffrom(0x7fc00000),
	    INFINITY);
	EXPECT_CODE(RUN(ENGINE_OP_ERF, &y, 1, F32(D(5), 0, 1, -1, 3,
	    -INFINITY)), RF_OK);
	EXPECT_F32(y, D(5), TOL_ULP2, 0, 0.842700793f, -0.842700793f,
	    0.999977910f, -1);
	EXPECT_CODE(RUN(ENGINE_OP_SQRT, NULL, 1, I64S(4)), RF_ERR_DTYPE);
	EXPECT_CODE(RUN(ENGINE_OP_ERF, NULL, 1, I32S(4)), RF_ERR_DTYPE);
}

/* ------------------------------------------------------------------ */
/* Registration                                                         */
/* ------------------------------------------------------------------ */

static CU_TestInfo matmul_tests[] = {
	{ "MatMul 2-D", test_matmul_2d },
	{ "MatMul 1-D operands", test_matmul_vectors },
	{ "MatMul batched, broadcast batch dims", test_matmul_batched },
	{ "MatMul canonical fmaf order", test_matmul_order },
	{ "MatMul errors", test_matmul_errors },
	{ "Gemm transA, transB", test_gemm_trans },
	{ "Gemm alpha, beta, C broadcast", test_gemm_bias },
	{ "run buffer pool: reused outputs come back zeroed", test_bufpool },
	{ "Gemm transA/transB read in place, random, FAST == REF",
	    test_gemm_trans_random },
	{ "Gemm errors", test_gemm_errors },
	{ "MatMulInteger", test_matmul_integer },
	{ "QLinearMatMul rounding, saturation", test_qlinear_matmul },
	{ "QLinearMatMul errors", test_qlinear_matmul_errors },
	{ "QGemm bias, f32 output, trans", test_qgemm },
	{ "QGemm saturation", test_qgemm_saturate },
	{ "QGemm errors", test_qgemm_errors },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo elementwise_tests[] = {
	{ "Add/Sub/Mul/Div f32", test_binary_f32 },
	{ "broadcasting", test_binary_broadcast },
	{ "broadcast and dtype errors", test_binary_errors },
	{ "i32/i64 arithmetic", test_binary_int },
	{ "integer division errors", test_binary_int_div_errors },
	{ "Relu: -0, NaN", test_relu },
	{ "Sigmoid", test_sigmoid },
	{ "Tanh", test_tanh },
	{ "Gelu none and tanh", test_gelu },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo norm_tests[] = {
	{ "Softmax axis -1", test_softmax },
	{ "Softmax other axes", test_softmax_axis },
	{ "Softmax errors", test_softmax_errors },
	{ "LayerNormalization", test_layernorm },
	{ "LayerNormalization Mean, InvStdDev, axis", test_layernorm_outputs },
	{ "LayerNormalization errors", test_layernorm_errors },
	{ "BatchNormalization", test_batchnorm },
	{ "BatchNormalization errors", test_batchnorm_errors },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo conv_tests[] = {
	{ "Conv basic, bias, batch, channels", test_conv_basic },
	{ "Conv pads and strides", test_conv_pads_strides },
	{ "Conv dilation", test_conv_dilation },
	{ "Conv groups, depthwise", test_conv_groups },
	{ "Conv auto_pad", test_conv_auto_pad },
	{ "Conv NaN and inf", test_conv_nan },
	{ "Conv errors", test_conv_errors },
	{ "Conv REF == FAST on random shapes", test_conv_random },
	{ "MaxPool/AveragePool basic", test_pool_basic },
	{ "pooling pads, count_include_pad", test_pool_pads },
	{ "pooling ceil_mode", test_pool_ceil },
	{ "pooling errors", test_pool_errors },
	{ "GlobalAveragePool", test_global_avg_pool },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo shape_tests[] = {
	{ "Flatten", test_flatten },
	{ "Reshape", test_reshape },
	{ "Reshape errors", test_reshape_errors },
	{ "Transpose", test_transpose },
	{ "Concat", test_concat },
	{ "Concat errors", test_concat_errors },
	{ "Gather", test_gather },
	{ "Gather errors", test_gather_errors },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo builder_tests[] = {
	{ "op names", test_op_table },
	{ "attribute errors", test_attr_errors },
	{ "input and output counts", test_arity_errors },
	{ "engine_op_eval errors", test_eval_errors },
	{ "engine_run, both kernel kinds", test_run_model },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo import_tests[] = {
	{ "Identity", test_identity },
	{ "Squeeze, Unsqueeze", test_squeeze_unsqueeze },
	{ "Split", test_split },
	{ "Slice: negative steps, clamping", test_slice },
	{ "Pad: constant, edge, reflect, crop", test_pad },
	{ "Where: i8 condition, broadcasting", test_where },
	{ "Expand", test_expand },
	{ "Cast: truncation, wrapping, range errors", test_cast },
	{ "ReduceMean: axes, keepdims, double sum", test_reducemean },
	{ "Pow: integer and real exponents, C99 cases", test_pow },
	{ "Pow(x, 2) == x * x bit for bit", test_pow_square_exact },
	{ "Sqrt, Erf", test_sqrt_erf },
	CU_TEST_INFO_NULL,
};

/* ------------------------------------------------------------------ */
/* Element-wise and reduction operators of real exports                 */
/* ------------------------------------------------------------------ */

#define QNAN ffrom(0x7fc00000)

static void
test_exp_log(void)
{
	struct tensor *y;
	EXPECT_CODE(RUN(ENGINE_OP_EXP, &y, 1, F32(D(7), 0, 1, -INFINITY,
	    INFINITY, NAN, 100, -200)), RF_OK);
	EXPECT_F32(y, D(7), TOL_ULP2, 1, 2.71828183f, 0, INFINITY, NAN,
	    INFINITY, 0);
	/* exp(0) = 1 and exp(-inf) = +0 exactly. */
	EXPECT_CODE(RUN(ENGINE_OP_EXP, &y, 1, F32(D(2), -0.0f, -INFINITY)),
	    RF_OK);
	EXPECT_F32(y, D(2), 0, 1, 0);
	EXPECT_CODE(RUN(ENGINE_OP_LOG, &y, 1, F32(D(7), 1, 2, 0, -0.0f, -1,
	    INFINITY, NAN)), RF_OK);
	EXPECT_F32(y, D(7), 0, 0, ffrom(0x3f317218), -INFINITY, -INFINITY,
	    QNAN, INFINITY, QNAN);
	EXPECT_CODE(RUN(ENGINE_OP_EXP, NULL, 1, I32(D(1), 1)), RF_ERR_DTYPE);
	EXPECT_CODE(RUN(ENGINE_OP_LOG, NULL, 1, I64(D(1), 1)), RF_ERR_DTYPE);
}

static void
test_abs_neg_reciprocal(void)
{
	struct tensor *y;
	/* Sign bits only: -0 -> +0, NaN stays NaN (made canonical). */
	EXPECT_CODE(RUN(ENGINE_OP_ABS, &y, 1, F32(D(5), -0.0f, -2.5f, 3,
	    -INFINITY, NAN)), RF_OK);
	EXPECT_F32(y, D(5), 0, 0.0f, 2.5f, 3, INFINITY, QNAN);
	EXPECT_CODE(RUN(ENGINE_OP_NEG, &y, 1, F32(D(4), 0.0f, -2.5f,
	    -INFINITY, NAN)), RF_OK);
	EXPECT_F32(y, D(4), 0, -0.0f, 2.5f, INFINITY, QNAN);
	/* Integers wrap: |MIN| and -MIN are MIN. */
	EXPECT_CODE(RUN(ENGINE_OP_ABS, &y, 1, I32(D(3), INT32_MIN, -3, 4)),
	    RF_OK);
	EXPECT_I32(y, D(3), INT32_MIN, 3, 4);
	EXPECT_CODE(RUN(ENGINE_OP_NEG, &y, 1, I64(D(2), INT64_MIN, 5)),
	    RF_OK);
	EXPECT_I64(y, D(2), INT64_MIN, -5);
	EXPECT_CODE(RUN(ENGINE_OP_NEG, &y, 1, I8(D(2), -128, 7)), RF_OK);
	EXPECT_I8(y, D(2), -128, -7);
	EXPECT_CODE(RUN(ENGINE_OP_RECIPROCAL, &y, 1, F32(D(6), 2, 4, 0,
	    -0.0f, INFINITY, 3)), RF_OK);
	EXPECT_F32(y, D(6), 0, 0.5f, 0.25f, INFINITY, -INFINITY, 0,
	    1.0f / 3.0f);
	EXPECT_CODE(RUN(ENGINE_OP_RECIPROCAL, NULL, 1, I32(D(1), 2)),
	    RF_ERR_DTYPE);
}

static void
test_clip_leaky_hard(void)
{
	struct tensor *y;
	/* ReLU6; NaN passes, -0 is not below 0. */
	at_float("min", 0);
	at_float("max", 6);
	EXPECT_CODE(RUN(ENGINE_OP_CLIP, &y, 1, F32(D(5), -1, 3, 7, NAN,
	    -0.0f)), RF_OK);
	EXPECT_F32(y, D(5), 0, 0, 3, 6, QNAN, -0.0f);
	/* min > max: everything is max (ONNX, torch.clamp). */
	at_float("min", 2);
	at_float("max", 1);
	EXPECT_CODE(RUN(ENGINE_OP_CLIP, &y, 1, F32(D(2), 0, 5)), RF_OK);
	EXPECT_F32(y, D(2), 0, 1, 1);
	/* No bounds: the identity, infinities included. */
	EXPECT_CODE(RUN(ENGINE_OP_CLIP, &y, 1, F32(D(2), -INFINITY, 7)),
	    RF_OK);
	EXPECT_F32(y, D(2), 0, -INFINITY, 7);
	at_float("min", NAN);
	EXPECT_CODE(BUILD(ENGINE_OP_CLIP, 1, F32S(1)), RF_ERR_INVAL);
	at_float("lo", 0);
	EXPECT_CODE(BUILD(ENGINE_OP_CLIP, 1, F32S(1)), RF_ERR_NOTSUP);

	at_float("alpha", 0.5f);
	EXPECT_CODE(RUN(ENGINE_OP_LEAKYRELU, &y, 1, F32(D(5), -4, 3, -0.0f,
	    NAN, -INFINITY)), RF_OK);
	EXPECT_F32(y, D(5), 0, -2, 3, -0.0f, QNAN, -INFINITY);
	/* Default alpha 0.01f: -100 * 0.01f rounded once. */
	EXPECT_CODE(RUN(ENGINE_OP_LEAKYRELU, &y, 1, F32S(-100)), RF_OK);
	EXPECT_F32S(y, 0, -100.0f * 0.01f);

	at_float("alpha", 0.25f);
	at_float("beta", 0.5f);
	EXPECT_CODE(RUN(ENGINE_OP_HARDSIGMOID, &y, 1, F32(D(5), -4, 0, 1, 4,
	    NAN)), RF_OK);
	EXPECT_F32(y, D(5), 0, 0, 0.5f, 0.75f, 1, QNAN);
	/* Defaults 0.2, 0.5: 0.2f * 1 + 0.5f = 0x3f333333. */
	EXPECT_CODE(RUN(ENGINE_OP_HARDSIGMOID, &y, 1, F32S(1)), RF_OK);
	EXPECT_F32S(y, 0, ffrom(0x3f333333));

	/* x * clamp(x + 3, 0, 6) / 6, rounded once: -4 * 0 is -0. */
	EXPECT_CODE(RUN(ENGINE_OP_HARDSWISH, &y, 1, F32(D(7), -4, 3, 1, -1,
	    NAN, INFINITY, 10)), RF_OK);
	EXPECT_F32(y, D(7), 0, -0.0f, 3, 2.0f / 3.0f, -1.0f / 3.0f, QNAN,
	    INFINITY, 10);

	/* log(1 + e^x): log 2; 100 exactly; e^-100 = 3.8e-44 (subnormal
	 * 0x1b) where a naive log(1 + e^x) gives 0. */
	EXPECT_CODE(RUN(ENGINE_OP_SOFTPLUS, &y, 1, F32(D(7), 0, 100, -100,
	    -INFINITY, INFINITY, NAN, 1)), RF_OK);
	EXPECT_F32(y, D(7), 0, ffrom(0x3f317218), 100, ffrom(0x1b), 0,
	    INFINITY, QNAN, 1.3132616f);
}

static void
test_min_max(void)
{
	struct tensor *y;
	const struct tensor *a = F32(D(2, 2), 1, NAN, -0.0f, 5);
	const struct tensor *b = F32(D(2), 2, 3);
	EXPECT_CODE(RUN(ENGINE_OP_MAX, &y, 1, a, b), RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 2, QNAN, 2, 5);
	EXPECT_CODE(RUN(ENGINE_OP_MIN, &y, 1, a, b), RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 1, QNAN, -0.0f, 3);
	/* Zeros of both signs: Max +0, Min -0, in either order. */
	const struct tensor *z1 = F32(D(2), -0.0f, 0.0f);
	const struct tensor *z2 = F32(D(2), 0.0f, -0.0f);
	EXPECT_CODE(RUN(ENGINE_OP_MAX, &y, 1, z1, z2), RF_OK);
	EXPECT_F32(y, D(2), 0, 0.0f, 0.0f);
	EXPECT_CODE(RUN(ENGINE_OP_MIN, &y, 1, z1, z2), RF_OK);
	EXPECT_F32(y, D(2), 0, -0.0f, -0.0f);
	/* NaN on the right too. */
	EXPECT_CODE(RUN(ENGINE_OP_MAX, &y, 1, F32S(1), F32S(NAN)), RF_OK);
	EXPECT_F32S(y, 0, QNAN);
	EXPECT_CODE(RUN(ENGINE_OP_MAX, &y, 1, I64(D(3), 1, -5, 7), I64S(0)),
	    RF_OK);
	EXPECT_I64(y, D(3), 1, 0, 7);
	EXPECT_CODE(RUN(ENGINE_OP_MIN, &y, 1, I32(D(2), INT32_MIN, 3),
	    I32S(2)), RF_OK);
	EXPECT_I32(y, D(2), INT32_MIN, 2);
	/* One operand: itself. */
	EXPECT_CODE(RUN(ENGINE_OP_MIN, &y, 1, F32(D(2), 4, -0.0f)), RF_OK);
	EXPECT_F32(y, D(2), 0, 4, -0.0f);
	EXPECT_CODE(RUN(ENGINE_OP_MAX, NULL, 1, F32S(1), I32S(1)),
	    RF_ERR_DTYPE);
	EXPECT_CODE(RUN(ENGINE_OP_MAX, NULL, 1, F32(D(2), 1, 2),
	    F32(D(3), 1, 2, 3)), RF_ERR_SHAPE);
}

static void
test_reduce_family(void)
{
	const struct tensor *x = F32(D(2, 3), 1, 2, 3, 4, 5, 6);
	const struct tensor *empty = mk(TENSOR_F32, 2, D(2, 0), NULL, 0);
	struct tensor *y;
	AT_INTS("axes", 1);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCESUM, &y, 1, x), RF_OK);
	EXPECT_F32(y, D(2, 1), 0, 6, 15);
	AT_INTS("axes", 0);
	at_int("keepdims", 0);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCESUM, &y, 1, x), RF_OK);
	EXPECT_F32(y, D(3), 0, 5, 7, 9);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCESUM, &y, 1, x), RF_OK);
	EXPECT_F32(y, D(1, 1), 0, 21);
	/* In double: 1e8 + 1 - 1e8 + 1 = 2; a float sum gives 0 or 1. */
	EXPECT_CODE(RUN(ENGINE_OP_REDUCESUM, &y, 1, F32(D(4), 1e8f, 1, -1e8f,
	    1)), RF_OK);
	EXPECT_F32(y, D(1), 0, 2);
	/* Empty reductions: the operation's identity. */
	AT_INTS("axes", 1);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCESUM, &y, 1, empty), RF_OK);
	EXPECT_F32(y, D(2, 1), 0, 0, 0);
	AT_INTS("axes", 1);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCEPROD, &y, 1, empty), RF_OK);
	EXPECT_F32(y, D(2, 1), 0, 1, 1);
	AT_INTS("axes", 1);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCEL2, &y, 1, empty), RF_OK);
	EXPECT_F32(y, D(2, 1), 0, 0, 0);
	AT_INTS("axes", 1);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCEMAX, &y, 1, empty), RF_OK);
	EXPECT_F32(y, D(2, 1), 0, -INFINITY, -INFINITY);
	AT_INTS("axes", 1);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCEMIN, &y, 1, empty), RF_OK);
	EXPECT_F32(y, D(2, 1), 0, INFINITY, INFINITY);
	/* noop_with_empty_axes and no axes: the input. */
	at_int("noop_with_empty_axes", 1);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCESUM, &y, 1, x), RF_OK);
	EXPECT_F32(y, D(2, 3), 0, 1, 2, 3, 4, 5, 6);
	/* Integers wrap. */
	EXPECT_CODE(RUN(ENGINE_OP_REDUCESUM, &y, 1, I64(D(2), INT64_MAX, 1)),
	    RF_OK);
	EXPECT_I64(y, D(1), INT64_MIN);
	AT_INTS("axes", 1);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCEPROD, &y, 1, x), RF_OK);
	EXPECT_F32(y, D(2, 1), 0, 6, 120);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCEL2, &y, 1, F32(D(2), 3, -4)), RF_OK);
	EXPECT_F32(y, D(1), 0, 5);
	AT_INTS("axes", -1);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCEMAX, &y, 1, x), RF_OK);
	EXPECT_F32(y, D(2, 1), 0, 3, 6);
	AT_INTS("axes", 1);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCEMIN, &y, 1, x), RF_OK);
	EXPECT_F32(y, D(2, 1), 0, 1, 4);
	/* A NaN anywhere wins; of +0 and -0 the first stays. */
	EXPECT_CODE(RUN(ENGINE_OP_REDUCEMAX, &y, 1, F32(D(4), 1, NAN, 5, 2)),
	    RF_OK);
	EXPECT_F32(y, D(1), 0, QNAN);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCEMIN, &y, 1, F32(D(3), 7, 2, NAN)),
	    RF_OK);
	EXPECT_F32(y, D(1), 0, QNAN);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCEMAX, &y, 1, F32(D(2), -0.0f, 0.0f)),
	    RF_OK);
	EXPECT_F32(y, D(1), 0, -0.0f);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCEMAX, &y, 1, I32(D(3), -7, -2, -9)),
	    RF_OK);
	EXPECT_I32(y, D(1), -2);
	AT_INTS("axes", 0);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCEMIN, &y, 1, mk(TENSOR_I64, 1, D(0),
	    NULL, 0)), RF_OK);
	EXPECT_I64(y, D(1), INT64_MAX);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCEL2, NULL, 1, I64(D(2), 1, 2)),
	    RF_ERR_DTYPE);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCESUM, NULL, 1, I8(D(2), 1, 2)),
	    RF_ERR_DTYPE);
	AT_INTS("axes", 1, -1);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCESUM, NULL, 1, x), RF_ERR_INVAL);
	AT_INTS("axes", 2);
	EXPECT_CODE(RUN(ENGINE_OP_REDUCEMAX, NULL, 1, x), RF_ERR_INVAL);
	at_int("keepdims", 2);
	EXPECT_CODE(BUILD(ENGINE_OP_REDUCEPROD, 1, x), RF_ERR_INVAL);
}

static void
test_argmax(void)
{
	struct tensor *y;
	/* NaN counts as the largest; ties go to the first index. */
	const struct tensor *x = F32(D(2, 3), 1, 5, 5, NAN, 2, NAN);
	at_int("axis", 1);
	at_int("keepdims", 0);
	EXPECT_CODE(RUN(ENGINE_OP_ARGMAX, &y, 1, x), RF_OK);
	EXPECT_I64(y, D(2), 1, 0);
	at_int("axis", -1);
	at_int("keepdims", 0);
	at_int("select_last_index", 1);
	EXPECT_CODE(RUN(ENGINE_OP_ARGMAX, &y, 1, x), RF_OK);
	EXPECT_I64(y, D(2), 2, 2);
	EXPECT_CODE(RUN(ENGINE_OP_ARGMAX, &y, 1, F32(D(2, 3), 1, 5, 5, 0, 7,
	    5)), RF_OK);
	EXPECT_I64(y, D(1, 3), 0, 1, 0);
	/* -0 and +0 are equal: the first. */
	EXPECT_CODE(RUN(ENGINE_OP_ARGMAX, &y, 1, F32(D(2), -0.0f, 0.0f)),
	    RF_OK);
	EXPECT_I64(y, D(1), 0);
	EXPECT_CODE(RUN(ENGINE_OP_ARGMAX, &y, 1, I8(D(4), -3, 9, 9, 2)),
	    RF_OK);
	EXPECT_I64(y, D(1), 1);
	EXPECT_CODE(RUN(ENGINE_OP_ARGMAX, &y, 1, F32S(3)), RF_ERR_INVAL);
	at_int("axis", 1);
	EXPECT_CODE(RUN(ENGINE_OP_ARGMAX, NULL, 1, mk(TENSOR_F32, 2, D(2, 0),
	    NULL, 0)), RF_ERR_SHAPE);
}

static void
test_logsoftmax(void)
{
	struct tensor *y;
	EXPECT_CODE(RUN(ENGINE_OP_LOGSOFTMAX, &y, 1, F32(D(2, 3), 1, 2, 3, 0,
	    0, 0)), RF_OK);
	EXPECT_F32(y, D(2, 3), TOL_ULP2 * 8, -2.407606f, -1.407606f,
	    -0.40760598f, -1.09861229f, -1.09861229f, -1.09861229f);
	/* No overflow: x - max first. -inf gives -inf, a NaN all NaN. */
	EXPECT_CODE(RUN(ENGINE_OP_LOGSOFTMAX, &y, 1, F32(D(3, 2), 1000, 0,
	    -INFINITY, 0, NAN, 1)), RF_OK);
	EXPECT_F32(y, D(3, 2), 0, 0, -1000, -INFINITY, 0, QNAN, QNAN);
	/* Every element -inf: -inf - -inf is NaN, as in PyTorch. */
	at_int("axis", 0);
	EXPECT_CODE(RUN(ENGINE_OP_LOGSOFTMAX, &y, 1, F32(D(2, 1), -INFINITY,
	    -INFINITY)), RF_OK);
	EXPECT_F32(y, D(2, 1), 0, QNAN, QNAN);
	EXPECT_CODE(RUN(ENGINE_OP_LOGSOFTMAX, NULL, 1, I32(D(1), 1)),
	    RF_ERR_DTYPE);
}

static void
test_compare_logic(void)
{
	struct tensor *y;
	/* IEEE comparisons: NaN is unequal to itself, -0 equals +0. */
	const struct tensor *a = F32(D(2, 3), 1, NAN, -0.0f, -INFINITY, 2, 3);
	const struct tensor *b = F32(D(3), 1, NAN, 0.0f);
	EXPECT_CODE(RUN(ENGINE_OP_EQUAL, &y, 1, a, b), RF_OK);
	EXPECT_I8(y, D(2, 3), 1, 0, 1, 0, 0, 0);
	EXPECT_CODE(RUN(ENGINE_OP_LESS, &y, 1, a, b), RF_OK);
	EXPECT_I8(y, D(2, 3), 0, 0, 0, 1, 0, 0);
	EXPECT_CODE(RUN(ENGINE_OP_GREATER, &y, 1, a, b), RF_OK);
	EXPECT_I8(y, D(2, 3), 0, 0, 0, 0, 0, 1);
	/* Integers, a padding mask: ids == 0. */
	EXPECT_CODE(RUN(ENGINE_OP_EQUAL, &y, 1, I64(D(4), 5, 0, INT64_MIN,
	    0), I64S(0)), RF_OK);
	EXPECT_I8(y, D(4), 0, 1, 0, 1);
	EXPECT_CODE(RUN(ENGINE_OP_LESS, &y, 1, I32(D(2), INT32_MIN, 7),
	    I32S(0)), RF_OK);
	EXPECT_I8(y, D(2), 1, 0);
	/* Logic: any non-zero byte is true; results are 0 or 1. */
	const struct tensor *p = I8(D(4), 0, 1, 0, -3);
	const struct tensor *q = I8(D(4), 0, 0, 5, 1);
	EXPECT_CODE(RUN(ENGINE_OP_AND, &y, 1, p, q), RF_OK);
	EXPECT_I8(y, D(4), 0, 0, 0, 1);
	EXPECT_CODE(RUN(ENGINE_OP_OR, &y, 1, p, q), RF_OK);
	EXPECT_I8(y, D(4), 0, 1, 1, 1);
	EXPECT_CODE(RUN(ENGINE_OP_NOT, &y, 1, p), RF_OK);
	EXPECT_I8(y, D(4), 1, 0, 1, 0);
	EXPECT_CODE(RUN(ENGINE_OP_OR, &y, 1, I8(D(2, 1), 0, 1), I8S(0)),
	    RF_OK);
	EXPECT_I8(y, D(2, 1), 0, 1);
	/* Cast to BOOL: x != 0, NaN true, -0 false. */
	at_int("to", 9);
	EXPECT_CODE(RUN(ENGINE_OP_CAST, &y, 1, F32(D(4), 0, -0.0f, NAN,
	    -2)), RF_OK);
	EXPECT_I8(y, D(4), 0, 0, 1, 1);
	at_int("to", 9);
	EXPECT_CODE(RUN(ENGINE_OP_CAST, &y, 1, I64(D(2), 256, 0)), RF_OK);
	EXPECT_I8(y, D(2), 1, 0);
	EXPECT_CODE(RUN(ENGINE_OP_EQUAL, NULL, 1, F32S(1), I32S(1)),
	    RF_ERR_DTYPE);
	EXPECT_CODE(RUN(ENGINE_OP_AND, NULL, 1, F32S(1), I8S(1)),
	    RF_ERR_DTYPE);
	EXPECT_CODE(RUN(ENGINE_OP_NOT, NULL, 1, I32S(1)), RF_ERR_DTYPE);
	EXPECT_CODE(RUN(ENGINE_OP_LESS, NULL, 1, F32(D(2), 1, 2),
	    F32(D(3), 1, 2, 3)), RF_ERR_SHAPE);
}

static void
test_quantize(void)
{
	struct tensor *y;
	/* x / s, ties to even, + zp, saturated. */
	EXPECT_CODE(RUN(ENGINE_OP_QUANTIZELINEAR, &y, 1, F32(D(8), -2.5f,
	    -0.5f, 0.5f, 1.5f, 2.5f, 1000, -INFINITY, NAN), F32S(1),
	    I8S(3)), RF_OK);
	EXPECT_I8(y, D(8), 1, 3, 3, 5, 5, 127, -128, 3);
	/* One float division, then rounding: 0.3f / 0.1f is 3.0000002f. */
	EXPECT_CODE(RUN(ENGINE_OP_QUANTIZELINEAR, &y, 1, F32S(0.3f),
	    F32S(0.1f)), RF_OK);
	EXPECT_INTS(y, TENSOR_I8, 3);
	/* Per axis 1 of [2, 2]: scales 0.5 and 2, zero points -1 and 1. */
	EXPECT_CODE(RUN(ENGINE_OP_QUANTIZELINEAR, &y, 1, F32(D(2, 2), 1, 4,
	    -1, -4), F32(D(2), 0.5f, 2), I8(D(2), -1, 1)), RF_OK);
	EXPECT_I8(y, D(2, 2), 1, 3, -3, -1);
	EXPECT_CODE(RUN(ENGINE_OP_DEQUANTIZELINEAR, &y, 1, I8(D(2, 2), 1, 3,
	    -3, -1), F32(D(2), 0.5f, 2), I8(D(2), -1, 1)), RF_OK);
	EXPECT_F32(y, D(2, 2), 0, 1, 4, -1, -4);
	/* int32 (biases): the difference in int64, then one product. */
	EXPECT_CODE(RUN(ENGINE_OP_DEQUANTIZELINEAR, &y, 1, I32(D(2),
	    INT32_MIN, INT32_MAX), F32S(0.5f), I32S(-1)), RF_OK);
	EXPECT_F32(y, D(2), 0, -1073741824.0f, 1073741824.0f);
	EXPECT_CODE(RUN(ENGINE_OP_DEQUANTIZELINEAR, &y, 1, I8(D(2), -128,
	    127), F32S(0.25f)), RF_OK);
	EXPECT_F32(y, D(2), 0, -32, 31.75f);
	EXPECT_CODE(RUN(ENGINE_OP_DEQUANTIZELINEAR, NULL, 1, F32S(1),
	    F32S(1)), RF_ERR_DTYPE);
	EXPECT_CODE(RUN(ENGINE_OP_DEQUANTIZELINEAR, NULL, 1, I8S(1), F32S(1),
	    I32S(0)), RF_ERR_DTYPE);
	EXPECT_CODE(RUN(ENGINE_OP_QUANTIZELINEAR, NULL, 1, F32(D(2, 2), 1, 2,
	    3, 4), F32(D(3), 1, 1, 1)), RF_ERR_SHAPE);
	EXPECT_CODE(RUN(ENGINE_OP_QUANTIZELINEAR, NULL, 1, F32(D(2), 1, 2),
	    F32S(1), I8(D(2), 0, 0)), RF_ERR_SHAPE);
}

/* One unit, W feeding x to the cell (LSTM) or candidate (GRU) gate only,
 * R zero: sigmoid(0) = 0.5, so h and c follow tanh alone (values from
 * double-precision tanh, rounded). */
static void
test_lstm_gru(void)
{
	struct tensor *y[3];
	const struct tensor *x = F32(D(2, 1, 1), 1, 0);
	at_int("hidden_size", 1);
	EXPECT_CODE(RUN(ENGINE_OP_LSTM, y, 3, x, F32(D(1, 4, 1), 0, 0, 0, 1),
	    F32(D(1, 4, 1), 0, 0, 0, 0)), RF_OK);
	EXPECT_F32(y[0], D(2, 1, 1, 1), 1e-7f, 0.18169974f, 0.09406533f);
	EXPECT_F32(y[1], D(1, 1, 1), 1e-7f, 0.09406533f);
	EXPECT_F32(y[2], D(1, 1, 1), 1e-7f, 0.19039854f);
	/* Both directions: the reverse one reads x[1] = 0 first. */
	at_int("hidden_size", 1);
	at_str("direction", "bidirectional");
	EXPECT_CODE(RUN(ENGINE_OP_LSTM, y, 3, x, F32(D(2, 4, 1), 0, 0, 0, 1,
	    0, 0, 0, 1), mk(TENSOR_F32, 3, D(2, 4, 1), (const float[8]){ 0 },
	    8)), RF_OK);
	EXPECT_F32(y[0], D(2, 2, 1, 1), 1e-7f, 0.18169974f, 0.18169974f,
	    0.09406533f, 0);
	EXPECT_F32(y[1], D(2, 1, 1), 1e-7f, 0.09406533f, 0.18169974f);
	EXPECT_F32(y[2], D(2, 1, 1), 1e-7f, 0.19039854f, 0.3807971f);
	/* GRU, h0 = 0.5, candidate row W = R = Rb = 1: n = tanh(1 + r (h +
	 * 1)) = tanh(1.75) with linear_before_reset, tanh(1 + r h + 1) =
	 * tanh(2.25) without; h = 0.5 n + 0.5 * 0.5. */
	const struct tensor *gw = F32(D(1, 3, 1), 0, 0, 1);
	const struct tensor *gb = F32(D(1, 6), 0, 0, 0, 0, 0, 1);
	const struct tensor *h0 = F32(D(1, 1, 1), 0.5f);
	at_int("hidden_size", 1);
	at_int("linear_before_reset", 1);
	EXPECT_CODE(RUN(ENGINE_OP_GRU, y, 2, F32(D(1, 1, 1), 1), gw, gw, gb,
	    NULL, h0), RF_OK);
	EXPECT_F32(y[0], D(1, 1, 1, 1), 1e-7f, 0.72068775f);
	at_int("hidden_size", 1);
	EXPECT_CODE(RUN(ENGINE_OP_GRU, y, 2, F32(D(1, 1, 1), 1), gw, gw, gb,
	    NULL, h0), RF_OK);
	EXPECT_F32(y[1], D(1, 1, 1), 1e-7f, 0.7390131f);
	/* Errors. */
	EXPECT_CODE(BUILD(ENGINE_OP_LSTM, 1, x, x, x), RF_ERR_INVAL);
	at_int("hidden_size", 1);
	at_str("direction", "sideways");
	EXPECT_CODE(BUILD(ENGINE_OP_LSTM, 1, x, x, x), RF_ERR_INVAL);
	at_int("hidden_size", 1);
	at_float("clip", 3);
	EXPECT_CODE(BUILD(ENGINE_OP_LSTM, 1, x, x, x), RF_ERR_NOTSUP);
	at_int("hidden_size", 1);
	EXPECT_CODE(RUN(ENGINE_OP_LSTM, NULL, 1, F32(D(2, 1), 1, 0),
	    F32(D(1, 4, 1), 0, 0, 0, 1), F32(D(1, 4, 1), 0, 0, 0, 0)),
	    RF_ERR_SHAPE);
	at_int("hidden_size", 2);
	EXPECT_CODE(RUN(ENGINE_OP_LSTM, NULL, 1, x, F32(D(1, 4, 1), 0, 0, 0,
	    1), F32(D(1, 4, 1), 0, 0, 0, 0)), RF_ERR_SHAPE);
	at_int("hidden_size", 1);
	EXPECT_CODE(RUN(ENGINE_OP_GRU, NULL, 1, F32(D(1, 1, 1), 1), gw, gw,
	    gb, I32(D(1), 1)), RF_ERR_NOTSUP);
}

/* acc = 2 (x - 1) + 1 inside, the bias 1 in the padding (which counts as
 * the zero point); y = rint(acc / 2) + 1, ties to even. */
static void
test_qlinearconv(void)
{
	struct tensor *y;
	const struct tensor *x = I8(D(1, 1, 2, 2), 2, 3, 4, 5);
	const struct tensor *w = I8(D(1, 1, 1, 1), 2);
	AT_INTS("pads", 1, 1, 1, 1);
	EXPECT_CODE(RUN(ENGINE_OP_QLINEARCONV, &y, 1, x, F32S(1), I8S(1), w,
	    F32S(1), I8S(0), F32S(2), I8S(1), I32(D(1), 1)), RF_OK);
	EXPECT_I8(y, D(1, 1, 4, 4), 1, 1, 1, 1, 1, 3, 3, 1, 1, 5, 5, 1, 1, 1,
	    1, 1);
	/* Saturation, and a per-channel weight scale and zero point. */
	EXPECT_CODE(RUN(ENGINE_OP_QLINEARCONV, &y, 1, I8(D(1, 1, 1, 1), 100),
	    F32S(1), I8S(0), I8(D(2, 1, 1, 1), 100, 3), F32(D(2), 1, 0.5f),
	    I8(D(2), 0, 1), F32S(1), I8S(0)), RF_OK);
	EXPECT_I8(y, D(1, 2, 1, 1), 127, 100);
	EXPECT_CODE(RUN(ENGINE_OP_QLINEARCONV, NULL, 1, x, F32S(1), I8S(1), w,
	    F32(D(2), 1, 1), I8S(0), F32S(2), I8S(1)), RF_ERR_SHAPE);
	EXPECT_CODE(RUN(ENGINE_OP_QLINEARCONV, NULL, 1, x, F32S(0), I8S(1), w,
	    F32S(1), I8S(0), F32S(2), I8S(1)), RF_ERR_INVAL);
	EXPECT_CODE(RUN(ENGINE_OP_QLINEARCONV, NULL, 1, F32(D(1, 1, 1, 1), 1),
	    F32S(1), I8S(1), w, F32S(1), I8S(0), F32S(2), I8S(1)),
	    RF_ERR_DTYPE);
}

static CU_TestInfo export_tests[] = {
	{ "Exp, Log: specials", test_exp_log },
	{ "Abs, Neg, Reciprocal: signs, wrapping", test_abs_neg_reciprocal },
	{ "Clip, LeakyRelu, HardSigmoid, HardSwish, Softplus",
	    test_clip_leaky_hard },
	{ "Min, Max: NaN, signed zeros, broadcasting", test_min_max },
	{ "ReduceSum/Max/Min/Prod/L2: empty, NaN, wrap", test_reduce_family },
	{ "ArgMax: NaN, ties, select_last_index", test_argmax },
	{ "LogSoftmax: shifts, -inf, NaN", test_logsoftmax },
	{ "Equal, Less, Greater, Not, And, Or, Cast to bool",
	    test_compare_logic },
	{ "QuantizeLinear, DequantizeLinear: ties, saturation, axes",
	    test_quantize },
	{ "LSTM, GRU: one unit by hand, directions, errors", test_lstm_gru },
	{ "QLinearConv: padding, ties, saturation, per channel",
	    test_qlinearconv },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "ops: matmul family", NULL, NULL, NULL, teardown, matmul_tests },
	{ "ops: elementwise", NULL, NULL, NULL, teardown, elementwise_tests },
	{ "ops: normalization", NULL, NULL, NULL, teardown, norm_tests },
	{ "ops: conv and pooling", NULL, NULL, NULL, teardown, conv_tests },
	{ "ops: shape", NULL, NULL, NULL, teardown, shape_tests },
	{ "ops: added for ONNX import", NULL, NULL, NULL, teardown,
	    import_tests },
	{ "ops: builder", NULL, NULL, NULL, teardown, builder_tests },
	{ "ops: element-wise and reductions of exports", NULL, NULL, NULL,
	    teardown, export_tests },
	CU_SUITE_INFO_NULL,
};

int
main(void)
{
	return test_main(suites);
}
