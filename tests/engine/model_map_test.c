/*
 * tests/engine/model_map_test.c - model files by mapping (engine_model_load)
 * and format version 2: weights at 64-byte offsets with zero padding, used
 * in place from the mapping; version 1 files still load (copied) into the
 * same model; padding that is not zero, truncations and bad paths are
 * refused with their codes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"
#include "engine/model_int.h"
#include "tests/testlib.h"

static char dir[256];

static int
suite_init(void)
{
	snprintf(dir, sizeof(dir), "/tmp/rf-model-map-XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
suite_clean(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static uint64_t
le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--) {
		v = v << 8 | p[i];
	}
	return v;
}

static void
put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
	}
}

/* A transformer: weights of many sizes, f32 and i64. */
static struct engine_model *
make_model(void)
{
	struct engine_gen_opts o;
	engine_gen_opts_init(&o, ENGINE_GEN_TRANSFORMER);
	o.d_model = 20; /* rows of 80 bytes: no weight is a multiple of 64 */
	o.heads = 2;
	o.d_ff = 44;
	o.vocab = 33;
	o.batch = 5;
	struct engine_model *m = NULL;
	CU_ASSERT_FATAL(engine_model_generate(&o, &m, NULL) == RF_OK);
	return m;
}

static void
write_file(const char *name, const uint8_t *b, size_t n, char *path,
    size_t cap)
{
	snprintf(path, cap, "%s/%s", dir, name);
	CU_ASSERT_FATAL(test_write_file(path, b, n, 0644) == 0);
}

/* The version 1 bytes of a version 2 file: the same sections without
 * the padding. */
static uint8_t *
to_v1(const struct engine_model *m, const uint8_t *v2, size_t n2, size_t *n1)
{
	(void)n2;
	size_t glen = (size_t)le(v2 + 16, 8);
	uint8_t *b = malloc(n2);
	CU_ASSERT_FATAL(b != NULL);
	memcpy(b, v2, 32 + glen);
	put_le(b + 8, 1, 4);
	size_t out = 32 + glen;
	for (size_t v = 0; v < engine_model_value_count(m); v++) {
		struct engine_value_info vi;
		CU_ASSERT_FATAL(engine_model_value(m, (int)v, &vi) == RF_OK);
		if (vi.kind != ENGINE_VALUE_WEIGHT) {
			continue;
		}
		size_t nb = engine_tensor_nbytes(vi.weight);
		memcpy(b + out, vi.weight->data, nb);
		out += nb;
	}
	put_le(b + 24, out - 32 - glen, 8);
	*n1 = out;
	return b;
}

static void
run_out(const struct engine_model *m, struct tensor *out)
{
	struct tensor in[ENGINE_MAX_GRAPH_IO];
	CU_ASSERT_FATAL(engine_inputs_random(m, 9, in, NULL) == RF_OK);
	CU_ASSERT_FATAL(engine_run(m, in, engine_model_input_count(m), out,
	    NULL, NULL) == RF_OK);
	for (size_t i = 0; i < engine_model_input_count(m); i++) {
		engine_tensor_fini(&in[i]);
	}
}

/* Version 2 layout: the data section and every weight start at a
 * multiple of 64 from the file's start, the gaps are zeros, and the
 * encoding is still canonical. */
static void
test_v2_layout(void)
{
	struct engine_model *m = make_model();
	uint8_t *b;
	size_t n;
	CU_ASSERT_FATAL(engine_model_encode(m, &b, &n) == RF_OK);
	CU_ASSERT(le(b + 8, 4) == 2);
	size_t glen = (size_t)le(b + 16, 8), dlen = (size_t)le(b + 24, 8);
	size_t start = (32 + glen + 63) / 64 * 64;
	CU_ASSERT(start + dlen == n);
	for (size_t i = 32 + glen; i < start; i++) {
		CU_ASSERT(b[i] == 0);
	}
	size_t off = start, weights = 0;
	for (size_t v = 0; v < engine_model_value_count(m); v++) {
		struct engine_value_info vi;
		CU_ASSERT_FATAL(engine_model_value(m, (int)v, &vi) == RF_OK);
		if (vi.kind != ENGINE_VALUE_WEIGHT) {
			continue;
		}
		size_t aligned = (off + 63) / 64 * 64;
		for (size_t i = off; i < aligned; i++) {
			CU_ASSERT(b[i] == 0);
		}
		size_t nb = engine_tensor_nbytes(vi.weight);
		CU_ASSERT(memcmp(b + aligned, vi.weight->data, nb) == 0);
		off = aligned + nb;
		weights++;
	}
	CU_ASSERT(off == n);
	CU_ASSERT(weights > 5);
	struct engine_model *d = NULL;
	CU_ASSERT_FATAL(engine_model_decode(b, n, &d, NULL) == RF_OK);
	uint8_t *b2;
	size_t n2;
	CU_ASSERT_FATAL(engine_model_encode(d, &b2, &n2) == RF_OK);
	CU_ASSERT(n2 == n && memcmp(b, b2, n) == 0);
	free(b2);
	engine_model_free(d);
	free(b);
	engine_model_free(m);
}

/* A mapped version 2 file: every weight points into the mapping, owned
 * by nobody; the model encodes to the file's bytes and runs to the bits
 * of the model it was made from. A version 1 file of the same model
 * loads too, copied, unmapped, and is the same model. */
static void
test_load_mapped_and_v1(void)
{
	struct engine_model *m = make_model();
	uint8_t *b;
	size_t n;
	CU_ASSERT_FATAL(engine_model_encode(m, &b, &n) == RF_OK);
	char p2[512], p1[512];
	write_file("m2.rfm", b, n, p2, sizeof(p2));
	size_t n1;
	uint8_t *b1 = to_v1(m, b, n, &n1);
	CU_ASSERT(n1 < n);
	write_file("m1.rfm", b1, n1, p1, sizeof(p1));

	struct tensor want[ENGINE_MAX_GRAPH_IO];
	run_out(m, want);
	for (int version = 2; version >= 1; version--) {
		struct engine_model *l = NULL;
		struct rf_errinfo ei = { "" };
		int err = engine_model_load(version == 2 ? p2 : p1, 1 << 30,
		    &l, &ei);
		if (err != RF_OK) {
			fprintf(stderr, "\n  load v%d: %s\n", version, ei.msg);
		}
		CU_ASSERT_FATAL(err == RF_OK);
		const uint8_t *lo = l->map, *hi = lo + l->map_len;
		CU_ASSERT((version == 2) == (l->map != NULL));
		for (size_t v = 0; v < l->n_values; v++) {
			const struct tensor *w = &l->values[v].weight;
			if (l->values[v].kind != ENGINE_VALUE_WEIGHT) {
				continue;
			}
			const uint8_t *d = w->data;
			bool inside = l->map != NULL && d >= lo && d < hi;
			CU_ASSERT(inside == (version == 2));
			CU_ASSERT(w->owned == (version == 1));
			CU_ASSERT((uintptr_t)d % 64 == 0);
		}
		uint8_t *e;
		size_t en;
		CU_ASSERT_FATAL(engine_model_encode(l, &e, &en) == RF_OK);
		CU_ASSERT(en == n && memcmp(e, b, n) == 0);
		free(e);
		struct tensor got[ENGINE_MAX_GRAPH_IO];
		run_out(l, got);
		for (size_t i = 0; i < engine_model_output_count(m); i++) {
			CU_ASSERT(engine_tensor_equal(&got[i], &want[i]));
			engine_tensor_fini(&got[i]);
		}
		engine_model_free(l);
	}
	for (size_t i = 0; i < engine_model_output_count(m); i++) {
		engine_tensor_fini(&want[i]);
	}
	free(b1);
	free(b);
	engine_model_free(m);
}

/* Padding is part of the canonical file: a non-zero byte in the gap
 * after the graph or between two weights is refused, by either path. */
static void
test_padding_not_zero(void)
{
	struct engine_model *m = make_model();
	uint8_t *b;
	size_t n;
	CU_ASSERT_FATAL(engine_model_encode(m, &b, &n) == RF_OK);
	size_t glen = (size_t)le(b + 16, 8);
	size_t start = (32 + glen + 63) / 64 * 64;
	CU_ASSERT_FATAL(start > 32 + glen); /* this model has such a gap */
	/* The first gap between weights: the first zero run ending at a
	 * multiple of 64 after the first weight (the embedding, 33 x 20). */
	size_t gap = start + 33 * 20 * 4;
	CU_ASSERT_FATAL(gap % 64 != 0 && b[gap] == 0);
	size_t spots[2] = { 32 + glen, gap };
	for (int s = 0; s < 2; s++) {
		b[spots[s]] = 1;
		struct engine_model *d = NULL;
		struct rf_errinfo ei = { "" };
		CU_ASSERT(engine_model_decode(b, n, &d, &ei) == RF_ERR_FORMAT);
		CU_ASSERT(strstr(ei.msg, "padding") != NULL);
		char p[512];
		write_file("pad.rfm", b, n, p, sizeof(p));
		CU_ASSERT(engine_model_load(p, 1 << 30, &d, &ei) ==
		    RF_ERR_FORMAT);
		CU_ASSERT(strstr(ei.msg, "padding") != NULL);
		b[spots[s]] = 0;
	}
	/* A version 2 header on version 1 bytes (no gaps) is refused too. */
	size_t n1;
	uint8_t *b1 = to_v1(m, b, n, &n1);
	put_le(b1 + 8, 2, 4);
	struct engine_model *d = NULL;
	CU_ASSERT(engine_model_decode(b1, n1, &d, NULL) != RF_OK);
	free(b1);
	free(b);
	engine_model_free(m);
}

/* Every truncation of a mapped file is refused, never read past. */
static void
test_load_truncations(void)
{
	struct engine_model *m = make_model();
	uint8_t *b;
	size_t n;
	CU_ASSERT_FATAL(engine_model_encode(m, &b, &n) == RF_OK);
	for (size_t cut = 0; cut < n; cut += 1 + cut / 8) {
		char p[512];
		write_file("cut.rfm", b, cut, p, sizeof(p));
		struct engine_model *d = NULL;
		struct rf_errinfo ei = { "" };
		int err = engine_model_load(p, 1 << 30, &d, &ei);
		CU_ASSERT(err == RF_ERR_TRUNCATED || err == RF_ERR_FORMAT);
		if (err == RF_OK) {
			engine_model_free(d);
		}
	}
	free(b);
	engine_model_free(m);
}

/* Paths that are not model files: named, with their codes. */
static void
test_load_bad_paths(void)
{
	struct engine_model *d = NULL;
	struct rf_errinfo ei = { "" };
	char p[512];
	snprintf(p, sizeof(p), "%s/missing.rfm", dir);
	CU_ASSERT(engine_model_load(p, 1 << 30, &d, &ei) == RF_ERR_IO);
	CU_ASSERT(strstr(ei.msg, "missing.rfm") != NULL);
	CU_ASSERT(engine_model_load(dir, 1 << 30, &d, &ei) == RF_ERR_IO);
	CU_ASSERT(strstr(ei.msg, "not a regular file") != NULL);
	struct engine_model *m = make_model();
	uint8_t *b;
	size_t n;
	CU_ASSERT_FATAL(engine_model_encode(m, &b, &n) == RF_OK);
	write_file("big.rfm", b, n, p, sizeof(p));
	CU_ASSERT(engine_model_load(p, n - 1, &d, &ei) == RF_ERR_RANGE);
	CU_ASSERT(engine_model_load(p, n, &d, &ei) == RF_OK);
	engine_model_free(d);
	write_file("empty.rfm", b, 0, p, sizeof(p));
	CU_ASSERT(engine_model_load(p, 1 << 30, &d, &ei) == RF_ERR_TRUNCATED);
	free(b);
	engine_model_free(m);
}

/* keep_packed false (a one-shot run): the same bits, and the model keeps
 * no packed copy of any weight; the default keeps them for the next run. */
static void
test_one_shot_keeps_no_pack(void)
{
	struct engine_model *m = make_model();
	struct tensor in[ENGINE_MAX_GRAPH_IO];
	CU_ASSERT_FATAL(engine_inputs_random(m, 4, in, NULL) == RF_OK);
	struct engine_run_opts o;
	engine_run_opts_init(&o);
	CU_ASSERT(o.keep_packed);
	struct tensor a[ENGINE_MAX_GRAPH_IO], b[ENGINE_MAX_GRAPH_IO];
	o.keep_packed = false;
	CU_ASSERT_FATAL(engine_run(m, in, 1, a, &o, NULL) == RF_OK);
	size_t packed = 0;
	for (size_t v = 0; v < m->n_values; v++) {
		packed += m->values[v].packed != NULL;
	}
	CU_ASSERT(packed == 0);
	o.keep_packed = true;
	CU_ASSERT_FATAL(engine_run(m, in, 1, b, &o, NULL) == RF_OK);
	for (size_t v = 0; v < m->n_values; v++) {
		packed += m->values[v].packed != NULL;
	}
	CU_ASSERT(packed > 0);
	CU_ASSERT(engine_tensor_equal(&a[0], &b[0]));
	engine_tensor_fini(&a[0]);
	engine_tensor_fini(&b[0]);
	engine_tensor_fini(&in[0]);
	engine_model_free(m);
}

static CU_TestInfo tests[] = {
	{ "version 2: aligned weights, zero gaps, canonical", test_v2_layout },
	{ "mapped weights in place; version 1 copied, same model",
	    test_load_mapped_and_v1 },
	{ "padding that is not zero is refused", test_padding_not_zero },
	{ "every truncation of a mapped file refused", test_load_truncations },
	{ "missing, directory, too big, empty", test_load_bad_paths },
	{ "a one-shot run keeps no packed weights", test_one_shot_keeps_no_pack },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "model map", suite_init, suite_clean, NULL, NULL, tests },
	CU_SUITE_INFO_NULL,
};

int
main(void)
{
	return test_main(suites);
}
