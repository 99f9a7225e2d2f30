/*
 * tests/engine/threads_test.c - deterministic threads (engine/par.c and
 * the kernels that use it): every trace entry and every output of every
 * generated model and ONNX fixture is bit-identical for 1, 2, 3 and 7
 * threads, both with the default size threshold and with every section
 * forced through the pool (threshold 0, so even the fixtures' small
 * operators are split); the GEMM's row and column bands give the
 * reference's bits on odd shapes; runs in two threads at once share the
 * pool and still agree.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "engine/engine_int.h"
#include "tests/testlib.h"

static const unsigned thread_counts[] = { 1, 2, 3, 7 };
#define N_COUNTS (sizeof(thread_counts) / sizeof(thread_counts[0]))

/* ------------------------------------------------------------------ */
/* A run's whole trace and outputs, as one byte string                  */
/* ------------------------------------------------------------------ */

struct capture {
	uint8_t *buf;
	size_t len, cap;
	bool oom;
};

static void
cap_put(struct capture *c, const void *p, size_t n)
{
	if (c->oom) {
		return;
	}
	if (c->len + n > c->cap) {
		size_t cap = c->cap ? c->cap : 1 << 16;
		while (cap < c->len + n) {
			cap *= 2;
		}
		uint8_t *nb = realloc(c->buf, cap);
		if (nb == NULL) {
			c->oom = true;
			return;
		}
		c->buf = nb;
		c->cap = cap;
	}
	memcpy(c->buf + c->len, p, n);
	c->len += n;
}

static void
cap_tensor(struct capture *c, const struct tensor *t)
{
	int32_t hdr[2] = { (int32_t)t->dtype, t->rank };
	cap_put(c, hdr, sizeof(hdr));
	cap_put(c, t->dims, (size_t)t->rank * sizeof(t->dims[0]));
	cap_put(c, t->data, engine_tensor_nbytes(t));
}

static int
hook(void *ctx, size_t index, const struct tensor *const *t, size_t n)
{
	struct capture *c = ctx;
	cap_put(c, &index, sizeof(index));
	for (size_t i = 0; i < n; i++) {
		cap_tensor(c, t[i]);
	}
	return 0;
}

/* Runs m on in with the current thread setting; the trace entries then
 * the outputs into *c. */
static int
run_capture(const struct engine_model *m, const struct tensor *in,
    enum engine_kernels k, struct capture *c)
{
	memset(c, 0, sizeof(*c));
	struct tensor out[ENGINE_MAX_GRAPH_IO];
	struct engine_run_opts o;
	engine_run_opts_init(&o);
	o.kernels = k;
	o.trace = hook;
	o.trace_ctx = c;
	struct rf_errinfo ei = { "" };
	int err = engine_run(m, in, engine_model_input_count(m), out, &o, &ei);
	if (err != RF_OK) {
		fprintf(stderr, "\n  %s: run: %s (%s)\n", engine_model_name(m),
		    rf_strerror(err), ei.msg);
		return err;
	}
	for (size_t i = 0; i < engine_model_output_count(m); i++) {
		cap_tensor(c, &out[i]);
		engine_tensor_fini(&out[i]);
	}
	return c->oom ? RF_ERR_NOMEM : RF_OK;
}

/* Index of the first trace byte where a and b differ, for the message. */
static size_t
first_diff(const struct capture *a, const struct capture *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	for (size_t i = 0; i < n; i++) {
		if (a->buf[i] != b->buf[i]) {
			return i;
		}
	}
	return n;
}

/*
 * The check itself: one thread with the default threshold is the
 * baseline; every thread count, with the default threshold and with
 * every section sent through the pool, must give the same bytes.
 */
static void
check_model(const struct engine_model *m, const struct tensor *in)
{
	CU_ASSERT_FATAL(engine_threads_set(1) == RF_OK);
	struct capture base;
	CU_ASSERT_FATAL(run_capture(m, in, ENGINE_KERNELS_FAST, &base) ==
	    RF_OK);
	CU_ASSERT(base.len > 0);
	for (int forced = 0; forced < 2; forced++) {
		size_t old = engine_par_min_work_set(forced ? 0 : SIZE_MAX);
		if (!forced) {
			engine_par_min_work_set(old); /* the default */
		}
		for (size_t t = 0; t < N_COUNTS; t++) {
			CU_ASSERT_FATAL(engine_threads_set(thread_counts[t]) ==
			    RF_OK);
			CU_ASSERT(engine_threads_get() == thread_counts[t]);
			struct capture got;
			CU_ASSERT_FATAL(run_capture(m, in, ENGINE_KERNELS_FAST,
			    &got) == RF_OK);
			bool same = got.len == base.len &&
			    memcmp(got.buf, base.buf, base.len) == 0;
			if (!same) {
				fprintf(stderr,
				    "\n  %s: %u threads%s: trace differs at "
				    "byte %zu of %zu\n", engine_model_name(m),
				    thread_counts[t], forced ? " (forced)" : "",
				    first_diff(&base, &got), base.len);
			}
			CU_ASSERT(same);
			free(got.buf);
		}
		engine_par_min_work_set(old);
	}
	engine_threads_set(1);
	free(base.buf);
}

/* ------------------------------------------------------------------ */
/* Models                                                               */
/* ------------------------------------------------------------------ */

static void
check_generated(const struct engine_gen_opts *o)
{
	struct engine_model *m = NULL;
	struct rf_errinfo ei = { "" };
	int err = engine_model_generate(o, &m, &ei);
	if (err != RF_OK) {
		fprintf(stderr, "\n  generate: %s\n", ei.msg);
	}
	CU_ASSERT_FATAL(err == RF_OK);
	struct tensor in[ENGINE_MAX_GRAPH_IO];
	CU_ASSERT_FATAL(engine_inputs_random(m, 11, in, NULL) == RF_OK);
	check_model(m, in);
	for (size_t i = 0; i < engine_model_input_count(m); i++) {
		engine_tensor_fini(&in[i]);
	}
	engine_model_free(m);
}

static void
test_generated_models(void)
{
	struct engine_gen_opts o;
	/* The defaults of `refute model gen` and the detmatrix's models. */
	engine_gen_opts_init(&o, ENGINE_GEN_MLP);
	check_generated(&o);
	o.seed = 3;
	o.layers = 3;
	o.batch = 37; /* rows that no tile height divides */
	o.hidden = 300;
	check_generated(&o);
	engine_gen_opts_init(&o, ENGINE_GEN_CNN);
	check_generated(&o);
	o.seed = 4;
	o.batch = 3;
	check_generated(&o);
	engine_gen_opts_init(&o, ENGINE_GEN_TRANSFORMER);
	check_generated(&o);
	o.seed = 5;
	o.blocks = 2;
	o.batch = 29;
	check_generated(&o);
}

struct fixture {
	const char *name;
	const struct engine_onnx_dim *dims;
	size_t n_dims;
};

static const struct engine_onnx_dim gpt_dims[] = { { "batch", 1 },
	{ "seq", 8 } };

/* Every runnable fixture of tests/data/onnx. */
static const struct fixture fixtures[] = {
	{ "mlp_digits", NULL, 0 },
	{ "mlp_dynbatch", NULL, 0 },
	{ "lenet_digits", NULL, 0 },
	{ "gpt_op13", NULL, 0 },
	{ "gpt_op17", NULL, 0 },
	{ "gpt_op11", NULL, 0 },
	{ "gpt_nofold", NULL, 0 },
	{ "gpt_dyn", gpt_dims, 2 },
	{ "softmax_op11", NULL, 0 },
	{ "misc_ops", NULL, 0 },
	{ "const_out", NULL, 0 },
	{ "export_ops", NULL, 0 },
	{ "bool_ops", NULL, 0 },
	{ "mobilenet_v2", NULL, 0 },
	{ "squeezenet", NULL, 0 },
	{ "bert_mask", NULL, 0 },
	{ "quant_cnn", NULL, 0 },
	{ "quant_ops", NULL, 0 },
	{ "lstm", NULL, 0 },
	{ "gru", NULL, 0 },
	{ "qlinear_conv", NULL, 0 },
};
#define N_FIXTURES (sizeof(fixtures) / sizeof(fixtures[0]))

static uint8_t *
data_file(const char *name, const char *ext, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/onnx/%s%s", test_data_dir(), name,
	    ext);
	uint8_t *b = test_read_file(path, len);
	if (b == NULL) {
		fprintf(stderr, "\n  cannot read %s\n", path);
	}
	return b;
}

static void
test_onnx_fixtures(void)
{
	for (size_t f = 0; f < N_FIXTURES; f++) {
		size_t len;
		uint8_t *b = data_file(fixtures[f].name, ".onnx", &len);
		CU_ASSERT_FATAL(b != NULL);
		struct engine_onnx_opts o;
		engine_onnx_opts_init(&o);
		o.dims = fixtures[f].dims;
		o.n_dims = fixtures[f].n_dims;
		struct engine_model *m = NULL;
		struct rf_errinfo ei = { "" };
		int err = engine_model_import_onnx(b, len, &o, &m, &ei);
		free(b);
		if (err != RF_OK) {
			fprintf(stderr, "\n  %s: %s\n", fixtures[f].name, ei.msg);
		}
		CU_ASSERT_FATAL(err == RF_OK);
		b = data_file(fixtures[f].name, ".in0.npy", &len);
		CU_ASSERT_FATAL(b != NULL);
		struct tensor in;
		CU_ASSERT_FATAL(engine_tensor_npy_decode(b, len, &in, NULL) ==
		    RF_OK);
		free(b);
		check_model(m, &in);
		engine_tensor_fini(&in);
		engine_model_free(m);
	}
}

/* ------------------------------------------------------------------ */
/* The GEMM's bands                                                     */
/* ------------------------------------------------------------------ */

static uint64_t rng_state = 7;

static uint64_t
rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static float *
rand_floats(size_t n)
{
	float *p = malloc((n ? n : 1) * sizeof(float));
	CU_ASSERT_FATAL(p != NULL);
	for (size_t i = 0; i < n; i++) {
		p[i] = (float)(int64_t)(rng_next() % 2001 - 1000) / 997.0f;
	}
	return p;
}

/* Shapes around the tile and block edges of every path, transposed and
 * packed operands, against the reference, for each thread count. */
static void
test_sgemm_bands(void)
{
	size_t old = engine_par_min_work_set(0);
	for (int iter = 0; iter < 40; iter++) {
		size_t m = 1 + rng_next() % 150, n = 1 + rng_next() % 300;
		size_t k = 1 + rng_next() % 300;
		if (iter % 10 == 0) {
			m = 200 + rng_next() % 100; /* several mc blocks */
			n = 2 + rng_next() % 40;
			k = 3 + rng_next() % 40;
		} else if (iter % 10 == 1) {
			m = 1 + rng_next() % 8;
			n = 2049 + rng_next() % 100;
			k = 1 + rng_next() % 20;
		}
		bool ta = rng_next() & 1, tb = rng_next() & 1;
		float *a = rand_floats(m * k), *b = rand_floats(k * n);
		size_t lda = ta ? m : k, ldb = tb ? k : n;
		float *want = malloc(m * n * sizeof(float));
		float *got = malloc(m * n * sizeof(float));
		CU_ASSERT_FATAL(want != NULL && got != NULL);
		engine_sgemm_t(ENGINE_KERNELS_REF, ta, tb, m, n, k, a, lda, b,
		    ldb, want, n);
		struct engine_packed_b *pb = NULL;
		CU_ASSERT_FATAL(engine_sgemm_pack_b(tb, k, n, b, ldb, &pb) ==
		    RF_OK);
		for (size_t t = 0; t < N_COUNTS; t++) {
			CU_ASSERT_FATAL(engine_threads_set(thread_counts[t]) ==
			    RF_OK);
			memset(got, 0xff, m * n * sizeof(float));
			engine_sgemm_t(ENGINE_KERNELS_FAST, ta, tb, m, n, k, a,
			    lda, b, ldb, got, n);
			bool same = memcmp(got, want, m * n * sizeof(float)) == 0;
			memset(got, 0xff, m * n * sizeof(float));
			CU_ASSERT_FATAL(engine_sgemm_packed(ta, m, n, k, a, lda,
			    pb, got, n));
			bool psame = memcmp(got, want, m * n * sizeof(float)) == 0;
			if (!same || !psame) {
				fprintf(stderr, "\n  %zux%zux%zu ta %d tb %d, "
				    "%u threads: %s differs\n", m, n, k, ta, tb,
				    thread_counts[t], same ? "packed" : "sgemm");
			}
			CU_ASSERT(same && psame);
		}
		engine_packed_b_free(pb);
		free(a);
		free(b);
		free(want);
		free(got);
	}
	engine_threads_set(1);
	engine_par_min_work_set(old);
}

/* ------------------------------------------------------------------ */
/* The pool itself                                                      */
/* ------------------------------------------------------------------ */

struct cover {
	_Atomic unsigned char hit[1000];
	_Atomic unsigned bad_worker;
	unsigned width;
};

static void
cover_item(void *ctx, unsigned worker, size_t i)
{
	struct cover *c = ctx;
	atomic_fetch_add(&c->hit[i], 1);
	if (worker >= c->width) {
		atomic_fetch_add(&c->bad_worker, 1);
	}
}

/* Every item runs exactly once on a worker below the width; a setting of
 * 0 means one per core; the count is capped. */
static void
test_pool_items(void)
{
	size_t old = engine_par_min_work_set(0);
	for (size_t t = 0; t < N_COUNTS; t++) {
		CU_ASSERT_FATAL(engine_threads_set(thread_counts[t]) == RF_OK);
		for (size_t n = 0; n <= 1000; n += 97) {
			struct cover c;
			memset(&c, 0, sizeof(c));
			c.width = engine_par_width(SIZE_MAX, n);
			CU_ASSERT(c.width >= 1 && c.width <= thread_counts[t]);
			engine_par_run(c.width, n, cover_item, &c);
			for (size_t i = 0; i < n; i++) {
				CU_ASSERT(c.hit[i] == 1);
			}
			for (size_t i = n; i < 1000; i++) {
				CU_ASSERT(c.hit[i] == 0);
			}
			CU_ASSERT(c.bad_worker == 0);
		}
	}
	/* Below the threshold a section stays on the caller. */
	engine_par_min_work_set(1000);
	CU_ASSERT(engine_par_width(999, 100) == 1);
	CU_ASSERT(engine_par_width(1000, 100) == 7);
	CU_ASSERT(engine_par_width(1000, 3) == 3);
	CU_ASSERT(engine_par_width(1000, 1) == 1);
	CU_ASSERT_FATAL(engine_threads_set(0) == RF_OK);
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	CU_ASSERT(engine_threads_get() == (unsigned)(cores > 0 ? cores : 1));
	CU_ASSERT_FATAL(engine_threads_set(100000) == RF_OK);
	CU_ASSERT(engine_threads_get() == ENGINE_THREADS_MAX);
	engine_threads_set(1);
	CU_ASSERT(engine_threads_get() == 1);
	CU_ASSERT(engine_par_width(SIZE_MAX, 100) == 1);
	engine_par_min_work_set(old);
}

/* Two runs in two threads at once: one gets the pool, the other finds it
 * busy and computes alone; both give the baseline's bytes. */
struct concurrent {
	const struct engine_model *m;
	const struct tensor *in;
	struct capture c;
	int err;
};

static void *
concurrent_run(void *arg)
{
	struct concurrent *r = arg;
	r->err = run_capture(r->m, r->in, ENGINE_KERNELS_FAST, &r->c);
	return NULL;
}

static void
test_concurrent_runs(void)
{
	struct engine_gen_opts o;
	engine_gen_opts_init(&o, ENGINE_GEN_TRANSFORMER);
	struct engine_model *m = NULL;
	CU_ASSERT_FATAL(engine_model_generate(&o, &m, NULL) == RF_OK);
	struct tensor in[ENGINE_MAX_GRAPH_IO];
	CU_ASSERT_FATAL(engine_inputs_random(m, 2, in, NULL) == RF_OK);
	engine_threads_set(1);
	struct capture base;
	CU_ASSERT_FATAL(run_capture(m, in, ENGINE_KERNELS_FAST, &base) ==
	    RF_OK);
	size_t old = engine_par_min_work_set(0);
	CU_ASSERT_FATAL(engine_threads_set(3) == RF_OK);
	for (int round = 0; round < 5; round++) {
		struct concurrent r[3];
		pthread_t tid[3];
		for (int i = 0; i < 3; i++) {
			r[i] = (struct concurrent){ m, in, { NULL, 0, 0, false },
				RF_OK };
			CU_ASSERT_FATAL(pthread_create(&tid[i], NULL,
			    concurrent_run, &r[i]) == 0);
		}
		for (int i = 0; i < 3; i++) {
			pthread_join(tid[i], NULL);
			CU_ASSERT(r[i].err == RF_OK);
			CU_ASSERT(r[i].c.len == base.len &&
			    memcmp(r[i].c.buf, base.buf, base.len) == 0);
			free(r[i].c.buf);
		}
	}
	engine_par_min_work_set(old);
	engine_threads_set(1);
	free(base.buf);
	for (size_t i = 0; i < engine_model_input_count(m); i++) {
		engine_tensor_fini(&in[i]);
	}
	engine_model_free(m);
}

/* An integer Div whose divisor has a zero that only a late row meets:
 * every thread count fails the same way, and leaves no output. */
static void
test_div_error_rows(void)
{
	struct engine_model *m = engine_model_alloc("div");
	CU_ASSERT_FATAL(m != NULL);
	int64_t xd[2] = { 256, 64 }, bd[2] = { 256, 1 };
	int x, b, y;
	CU_ASSERT_FATAL(engine_model_add_input(m, "x", TENSOR_I64, 2, xd, &x,
	    NULL) == RF_OK);
	struct tensor w;
	CU_ASSERT_FATAL(engine_tensor_init(&w, TENSOR_I64, 2, bd) == RF_OK);
	for (size_t i = 0; i < w.count; i++) {
		((int64_t *)w.data)[i] = i == 250 ? 0 : (int64_t)i + 1;
	}
	CU_ASSERT_FATAL(engine_model_add_weight(m, "b", &w, &b, NULL) == RF_OK);
	int ins[2] = { x, b };
	const char *on[1] = { "y" };
	CU_ASSERT_FATAL(engine_model_add_op(m, ENGINE_OP_DIV, "div", ins, 2,
	    on, 1, NULL, 0, &y, NULL) == RF_OK);
	CU_ASSERT_FATAL(engine_model_add_output(m, y, NULL) == RF_OK);
	struct tensor in;
	CU_ASSERT_FATAL(engine_inputs_random(m, 3, &in, NULL) == RF_OK);
	size_t old = engine_par_min_work_set(0);
	char first[sizeof(((struct rf_errinfo *)0)->msg)] = "";
	for (size_t t = 0; t < N_COUNTS; t++) {
		CU_ASSERT_FATAL(engine_threads_set(thread_counts[t]) == RF_OK);
		struct tensor out[1];
		memset(out, 0, sizeof(out));
		struct rf_errinfo ei = { "" };
		int err = engine_run(m, &in, 1, out, NULL, &ei);
		CU_ASSERT(err != RF_OK);
		CU_ASSERT(out[0].data == NULL);
		if (t == 0) {
			snprintf(first, sizeof(first), "%s", ei.msg);
			CU_ASSERT(strstr(first, "division by zero") != NULL);
		} else {
			CU_ASSERT_STRING_EQUAL(ei.msg, first);
		}
	}
	engine_par_min_work_set(old);
	engine_threads_set(1);
	engine_tensor_fini(&in);
	engine_model_free(m);
}

static CU_TestInfo tests[] = {
	{ "pool: every item once, widths, settings", test_pool_items },
	{ "sgemm: bands give the reference's bits", test_sgemm_bands },
	{ "generated models: same trace, 1/2/3/7 threads",
	    test_generated_models },
	{ "ONNX fixtures: same trace, 1/2/3/7 threads", test_onnx_fixtures },
	{ "concurrent runs share the pool", test_concurrent_runs },
	{ "an integer Div error in a late row", test_div_error_rows },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "threads", NULL, NULL, NULL, NULL, tests },
	CU_SUITE_INFO_NULL,
};

int
main(void)
{
	return test_main(suites);
}
