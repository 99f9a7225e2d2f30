/*
 * tests/engine/model_test.c - the model graph, the .rfm file format, the
 * generator and whole-model runs: round trips byte for byte, hostile
 * files rejected with the right code, fast and reference kernels bit for
 * bit, and one-step recomputation matching the full run's trace.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "tests/testlib.h"

static struct engine_model *
gen(enum engine_gen_kind kind, uint64_t seed)
{
	struct engine_gen_opts o;
	struct engine_model *m = NULL;
	engine_gen_opts_init(&o, kind);
	o.seed = seed;
	if (kind == ENGINE_GEN_CNN) {
		o.image_size = 12; /* keep the reference conv quick */
	}
	CU_ASSERT_FATAL(engine_model_generate(&o, &m, NULL) == RF_OK);
	return m;
}

static struct engine_model *
gen_ops(int64_t ops)
{
	struct engine_gen_opts o;
	struct engine_model *m = NULL;
	engine_gen_opts_init(&o, ENGINE_GEN_MLP);
	o.ops = ops;
	o.hidden = 8;
	o.in_features = 8;
	CU_ASSERT_FATAL(engine_model_generate(&o, &m, NULL) == RF_OK);
	return m;
}

static void
encode(const struct engine_model *m, uint8_t **buf, size_t *len)
{
	CU_ASSERT_FATAL(engine_model_encode(m, buf, len) == RF_OK);
}

/* ------------------------------------------------------------------ */
/* Builder                                                              */
/* ------------------------------------------------------------------ */

static void
test_builder_rejects(void)
{
	struct engine_model *m = engine_model_alloc("t");
	struct rf_errinfo ei;
	int64_t dims[2] = { 2, 3 };
	int x, y, w;
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT(engine_model_add_input(m, "x", TENSOR_F32, 2, dims, &x,
	    &ei) == RF_OK);
	/* Duplicate name. */
	CU_ASSERT(engine_model_add_input(m, "x", TENSOR_F32, 2, dims, &y,
	    &ei) == RF_ERR_INVAL);
	CU_ASSERT(strstr(ei.msg, "already used") != NULL);
	/* Empty name, bad dtype, bad rank. */
	CU_ASSERT(engine_model_add_input(m, "", TENSOR_F32, 2, dims, &y,
	    &ei) == RF_ERR_INVAL);
	CU_ASSERT(engine_model_add_input(m, "z", (enum tensor_dtype)9, 2, dims,
	    &y, &ei) == RF_ERR_DTYPE);
	CU_ASSERT(engine_model_add_input(m, "z", TENSOR_F32, 7, dims, &y,
	    &ei) == RF_ERR_RANGE);
	/* A reference to a value that does not exist yet. */
	int in[2] = { x, 5 };
	const char *out[1] = { "y" };
	CU_ASSERT(engine_model_add_op(m, ENGINE_OP_ADD, "add", in, 2, out, 1,
	    NULL, 0, &y, &ei) == RF_ERR_INVAL);
	CU_ASSERT(strstr(ei.msg, "not defined before") != NULL);
	/* Wrong input count. */
	CU_ASSERT(engine_model_add_op(m, ENGINE_OP_ADD, "add", in, 1, out, 1,
	    NULL, 0, &y, &ei) == RF_ERR_INVAL);
	/* An output name that clashes, and two equal output names. */
	const char *clash[1] = { "x" };
	in[1] = x;
	CU_ASSERT(engine_model_add_op(m, ENGINE_OP_ADD, "add", in, 2, clash, 1,
	    NULL, 0, &y, &ei) == RF_ERR_INVAL);
	/* A failed op leaves no trace: the same names work afterwards. */
	CU_ASSERT(engine_model_add_op(m, ENGINE_OP_ADD, "add", in, 2, out, 1,
	    NULL, 0, &y, &ei) == RF_OK);
	CU_ASSERT(engine_model_op_count(m) == 1);
	CU_ASSERT(engine_model_value_count(m) == 2);
	/* Attributes: unknown, duplicated. */
	struct engine_attr at[2];
	engine_attr_int(&at[0], "axis", 1);
	engine_attr_int(&at[1], "axis", 0);
	const char *o2[1] = { "s" };
	int one[1] = { y };
	CU_ASSERT(engine_model_add_op(m, ENGINE_OP_SOFTMAX, "sm", one, 1, o2, 1,
	    at, 2, &w, &ei) == RF_ERR_INVAL);
	engine_attr_int(&at[1], "bogus", 0);
	CU_ASSERT(engine_model_add_op(m, ENGINE_OP_SOFTMAX, "sm", one, 1, o2, 1,
	    at, 2, &w, &ei) == RF_ERR_NOTSUP);
	CU_ASSERT(strstr(ei.msg, "bogus") != NULL);
	/* Graph outputs: only operator outputs, once each. */
	CU_ASSERT(engine_model_add_output(m, x, &ei) == RF_ERR_INVAL);
	CU_ASSERT(engine_model_add_output(m, y, &ei) == RF_OK);
	CU_ASSERT(engine_model_add_output(m, y, &ei) == RF_ERR_INVAL);
	int found = -1;
	CU_ASSERT(engine_model_find(m, "y", &found) == RF_OK && found == y);
	CU_ASSERT(engine_model_find(m, "nope", &found) == RF_ERR_NOTFOUND);
	engine_model_free(m);
}

static void
test_builder_many_names(void)
{
	/* The name index grows and stays correct past many rehashes. */
	struct engine_model *m = engine_model_alloc("many");
	int64_t d[1] = { 1 };
	char name[32];
	for (int i = 0; i < 5000; i++) {
		struct tensor t;
		int idx;
		CU_ASSERT_FATAL(engine_tensor_init(&t, TENSOR_F32, 1, d) == RF_OK);
		snprintf(name, sizeof(name), "w%d", i);
		CU_ASSERT_FATAL(engine_model_add_weight(m, name, &t, &idx,
		    NULL) == RF_OK);
		CU_ASSERT(idx == i);
	}
	for (int i = 0; i < 5000; i += 97) {
		int idx = -1;
		snprintf(name, sizeof(name), "w%d", i);
		CU_ASSERT(engine_model_find(m, name, &idx) == RF_OK && idx == i);
	}
	engine_model_free(m);
}

/* ------------------------------------------------------------------ */
/* File format                                                          */
/* ------------------------------------------------------------------ */

static void
check_round_trip(struct engine_model *m)
{
	uint8_t *a, *b;
	size_t la, lb;
	struct engine_model *back = NULL;
	struct rf_errinfo ei = { "" };
	encode(m, &a, &la);
	CU_ASSERT_FATAL(engine_model_decode(a, la, &back, &ei) == RF_OK);
	encode(back, &b, &lb);
	CU_ASSERT(la == lb && memcmp(a, b, la) == 0);
	CU_ASSERT(engine_model_op_count(back) == engine_model_op_count(m));
	CU_ASSERT(engine_model_param_count(back) ==
	    engine_model_param_count(m));
	free(a);
	free(b);
	engine_model_free(back);
}

static void
test_file_round_trip(void)
{
	for (int k = ENGINE_GEN_MLP; k <= ENGINE_GEN_TRANSFORMER; k++) {
		struct engine_model *m = gen((enum engine_gen_kind)k, 11);
		check_round_trip(m);
		engine_model_free(m);
	}
	int64_t sizes[] = { 1, 2, 3, 100 };
	for (size_t i = 0; i < 4; i++) {
		struct engine_model *m = gen_ops(sizes[i]);
		CU_ASSERT(engine_model_op_count(m) == (size_t)sizes[i]);
		check_round_trip(m);
		engine_model_free(m);
	}
}

static void
test_generator_deterministic(void)
{
	uint8_t *a, *b, *c;
	size_t la, lb, lc;
	struct engine_model *m1 = gen(ENGINE_GEN_TRANSFORMER, 5);
	struct engine_model *m2 = gen(ENGINE_GEN_TRANSFORMER, 5);
	struct engine_model *m3 = gen(ENGINE_GEN_TRANSFORMER, 6);
	encode(m1, &a, &la);
	encode(m2, &b, &lb);
	encode(m3, &c, &lc);
	CU_ASSERT(la == lb && memcmp(a, b, la) == 0);
	CU_ASSERT(la == lc && memcmp(a, c, la) != 0);
	/* Only the weights differ: the graph descriptions are equal. */
	uint8_t *g1, *g3;
	size_t lg1, lg3;
	CU_ASSERT_FATAL(engine_model_encode_graph(m1, &g1, &lg1) == RF_OK);
	CU_ASSERT_FATAL(engine_model_encode_graph(m3, &g3, &lg3) == RF_OK);
	CU_ASSERT(lg1 == lg3 && memcmp(g1, g3, lg1) == 0);
	free(a);
	free(b);
	free(c);
	free(g1);
	free(g3);
	engine_model_free(m1);
	engine_model_free(m2);
	engine_model_free(m3);
}

static int
decode_code(const uint8_t *buf, size_t len, struct rf_errinfo *ei)
{
	struct engine_model *m = NULL;
	int err = engine_model_decode(buf, len, &m, ei);
	if (err == RF_OK) {
		engine_model_free(m);
	}
	return err;
}

static void
test_file_truncations(void)
{
	struct engine_model *m = gen(ENGINE_GEN_CNN, 3);
	uint8_t *buf;
	size_t len;
	encode(m, &buf, &len);
	CU_ASSERT(decode_code(buf, len, NULL) == RF_OK);
	/* Every strict prefix is rejected, and says so. */
	size_t bad = 0;
	for (size_t n = 0; n < len; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, buf, n);
		struct rf_errinfo ei = { "" };
		int err = decode_code(copy, n, &ei);
		if (err != RF_ERR_TRUNCATED || ei.msg[0] == '\0') {
			bad++;
		}
		free(copy);
	}
	CU_ASSERT(bad == 0);
	free(buf);
	engine_model_free(m);
}

static void
test_file_corruptions(void)
{
	/* Every byte of the header and graph section flipped 4 ways: the
	 * decoder must return (any code) without crashing; sanitizers watch
	 * the memory. A decoded model must re-encode canonically. */
	struct engine_model *m = gen(ENGINE_GEN_TRANSFORMER, 3);
	uint8_t *buf;
	size_t len;
	encode(m, &buf, &len);
	uint64_t glen = 0;
	for (int i = 0; i < 8; i++) {
		glen |= (uint64_t)buf[16 + i] << (8 * i);
	}
	size_t end = 32 + (size_t)glen;
	static const uint8_t flips[] = { 0x01, 0x80, 0xff, 0x10 };
	size_t ok = 0, rejected = 0;
	uint8_t *copy = malloc(len);
	for (size_t pos = 0; pos < end; pos++) {
		for (size_t f = 0; f < sizeof(flips); f++) {
			memcpy(copy, buf, len);
			copy[pos] ^= flips[f];
			struct engine_model *d = NULL;
			struct rf_errinfo ei = { "" };
			int err = engine_model_decode(copy, len, &d, &ei);
			if (err == RF_OK) {
				uint8_t *again;
				size_t la;
				encode(d, &again, &la);
				CU_ASSERT(la == len && memcmp(again, copy, la) == 0);
				free(again);
				engine_model_free(d);
				ok++;
			} else {
				CU_ASSERT(ei.msg[0] != '\0');
				rejected++;
			}
		}
	}
	CU_ASSERT(rejected > ok);
	free(copy);
	free(buf);
	engine_model_free(m);
}

/* A tiny model file built by hand, to corrupt one field at a time. */
struct hand {
	uint8_t b[512];
	size_t n;
};

static void
h_u8(struct hand *h, uint8_t v)
{
	h->b[h->n++] = v;
}

static void
h_le(struct hand *h, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++) {
		h_u8(h, (uint8_t)(v >> (8 * i)));
	}
}

static void
h_str(struct hand *h, const char *s)
{
	h_le(h, strlen(s), 2);
	memcpy(h->b + h->n, s, strlen(s));
	h->n += strlen(s);
}

enum hand_fault {
	HF_NONE,
	HF_MAGIC,
	HF_VERSION,
	HF_FLAGS,
	HF_TRAILING,
	HF_UNKNOWN_OP,
	HF_FORWARD_REF,
	HF_RANK7,
	HF_NEG_WEIGHT_DIM,
	HF_UNSORTED_ATTRS,
	HF_NO_OUTPUTS,
	HF_DUP_NAME,
	HF_RECORD_KIND,
	HF_HUGE_WEIGHT,
};

/* input x f32[2]; weight w f32[2] = {1, 2}; op Add(x, w) -> y; output y */
static void
hand_model(struct hand *h, enum hand_fault f)
{
	memset(h, 0, sizeof(*h));
	const char magic[8] = "RFMODEL";
	memcpy(h->b, magic, 8);
	if (f == HF_MAGIC) {
		h->b[0] = 'X';
	}
	h->n = 8;
	h_le(h, f == HF_VERSION ? 3 : 1, 4);
	h_le(h, f == HF_FLAGS ? 4 : 0, 4);
	size_t lens = h->n;
	h_le(h, 0, 8);
	h_le(h, 0, 8);
	size_t g0 = h->n;
	h_str(h, "hand");
	h_le(h, 3, 4);
	/* input */
	h_u8(h, f == HF_RECORD_KIND ? 9 : 1);
	h_str(h, "x");
	h_u8(h, TENSOR_F32);
	h_u8(h, f == HF_RANK7 ? 7 : 1);
	for (int i = 0; i < (f == HF_RANK7 ? 7 : 1); i++) {
		h_le(h, 2, 8);
	}
	/* weight */
	h_u8(h, 2);
	h_str(h, f == HF_DUP_NAME ? "x" : "w");
	h_u8(h, TENSOR_F32);
	h_u8(h, 1);
	h_le(h, f == HF_NEG_WEIGHT_DIM ? (uint64_t)-3 :
	    f == HF_HUGE_WEIGHT ? (uint64_t)1 << 29 : 2, 8);
	/* op */
	h_u8(h, 3);
	h_str(h, f == HF_UNKNOWN_OP ? "Frobnicate" : "Add");
	h_str(h, "add");
	h_u8(h, 2);
	h_le(h, 0, 4);
	h_le(h, f == HF_FORWARD_REF ? 2 : 1, 4);
	h_u8(h, 1);
	h_str(h, "y");
	if (f == HF_UNSORTED_ATTRS) {
		h_u8(h, 2);
		h_str(h, "b");
		h_u8(h, ENGINE_ATTR_INT);
		h_le(h, 1, 4);
		h_le(h, 0, 8);
		h_str(h, "a");
		h_u8(h, ENGINE_ATTR_INT);
		h_le(h, 1, 4);
		h_le(h, 0, 8);
	} else {
		h_u8(h, 0);
	}
	/* outputs */
	if (f == HF_NO_OUTPUTS) {
		h_u8(h, 0);
	} else {
		h_u8(h, 1);
		h_le(h, 2, 4);
	}
	size_t glen = h->n - g0;
	float wv[2] = { 1.0f, 2.0f };
	memcpy(h->b + h->n, wv, 8);
	h->n += 8;
	if (f == HF_TRAILING) {
		h_u8(h, 0);
	}
	size_t save = h->n;
	h->n = lens;
	h_le(h, glen, 8);
	h_le(h, 8, 8);
	h->n = save;
}

static void
test_file_hand_faults(void)
{
	struct {
		enum hand_fault f;
		int code;
		const char *needle;
	} cases[] = {
		{ HF_NONE, RF_OK, NULL },
		{ HF_MAGIC, RF_ERR_FORMAT, "magic" },
		{ HF_VERSION, RF_ERR_VERSION, "version 3" },
		{ HF_FLAGS, RF_ERR_FORMAT, "flags" },
		{ HF_TRAILING, RF_ERR_FORMAT, "unexpected bytes" },
		{ HF_UNKNOWN_OP, RF_ERR_NOTSUP, "Frobnicate" },
		{ HF_FORWARD_REF, RF_ERR_INVAL, "not defined before" },
		{ HF_RANK7, RF_ERR_FORMAT, "rank 7" },
		{ HF_NEG_WEIGHT_DIM, RF_ERR_FORMAT, "dimension 0" },
		{ HF_UNSORTED_ATTRS, RF_ERR_FORMAT, "ascending" },
		{ HF_NO_OUTPUTS, RF_ERR_FORMAT, "no outputs" },
		{ HF_DUP_NAME, RF_ERR_INVAL, "already used" },
		{ HF_RECORD_KIND, RF_ERR_FORMAT, "unknown kind" },
		{ HF_HUGE_WEIGHT, RF_ERR_TRUNCATED, "data section ends" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hand h;
		struct rf_errinfo ei = { "" };
		hand_model(&h, cases[i].f);
		int err = decode_code(h.b, h.n, &ei);
		CU_ASSERT_EQUAL(err, cases[i].code);
		if (cases[i].needle != NULL) {
			CU_ASSERT_PTR_NOT_NULL(strstr(ei.msg, cases[i].needle));
		}
		if (err != cases[i].code ||
		    (cases[i].needle && !strstr(ei.msg, cases[i].needle))) {
			printf("case %zu: got %d '%s'\n", i, err, ei.msg);
		}
	}
	/* The valid hand-made model runs: y = x + {1, 2}. */
	struct hand h;
	struct engine_model *m = NULL;
	hand_model(&h, HF_NONE);
	CU_ASSERT_FATAL(engine_model_decode(h.b, h.n, &m, NULL) == RF_OK);
	struct tensor in, out;
	int64_t d[1] = { 2 };
	CU_ASSERT_FATAL(engine_tensor_init(&in, TENSOR_F32, 1, d) == RF_OK);
	((float *)in.data)[0] = 10.0f;
	((float *)in.data)[1] = 20.0f;
	CU_ASSERT_FATAL(engine_run(m, &in, 1, &out, NULL, NULL) == RF_OK);
	CU_ASSERT(((float *)out.data)[0] == 11.0f);
	CU_ASSERT(((float *)out.data)[1] == 22.0f);
	engine_tensor_fini(&in);
	engine_tensor_fini(&out);
	engine_model_free(m);
}

/* ------------------------------------------------------------------ */
/* Running                                                              */
/* ------------------------------------------------------------------ */

/* Keeps a copy of every trace entry. */
struct trace_copy {
	struct tensor t[512][ENGINE_MAX_OP_OUTPUTS];
	size_t n_out[512];
	size_t n;
	bool out_of_order;
};

static int
trace_keep(void *ctx, size_t index, const struct tensor *const *t, size_t n)
{
	struct trace_copy *tc = ctx;
	if (index != tc->n || index >= 512) {
		tc->out_of_order = true;
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (engine_tensor_copy(&tc->t[index][i], t[i]) != RF_OK) {
			return 1;
		}
	}
	tc->n_out[index] = n;
	tc->n++;
	return 0;
}

static void
trace_free(struct trace_copy *tc)
{
	for (size_t i = 0; i < tc->n; i++) {
		for (size_t j = 0; j < tc->n_out[i]; j++) {
			engine_tensor_fini(&tc->t[i][j]);
		}
	}
	free(tc);
}

static struct trace_copy *
run_traced(const struct engine_model *m, uint64_t seed,
    enum engine_kernels k)
{
	struct tensor in[ENGINE_MAX_GRAPH_IO], out[ENGINE_MAX_GRAPH_IO];
	struct trace_copy *tc = calloc(1, sizeof(*tc));
	struct engine_run_opts o;
	engine_run_opts_init(&o);
	o.kernels = k;
	o.trace = trace_keep;
	o.trace_ctx = tc;
	CU_ASSERT_FATAL(engine_inputs_random(m, seed, in, NULL) == RF_OK);
	struct rf_errinfo ei = { "" };
	int err = engine_run(m, in, engine_model_input_count(m), out, &o, &ei);
	if (err != RF_OK) {
		printf("run failed: %s\n", ei.msg);
	}
	CU_ASSERT_FATAL(err == RF_OK);
	CU_ASSERT(!tc->out_of_order);
	CU_ASSERT(tc->n == engine_trace_length(m));
	/* The graph output is the last trace entry's tensor. */
	CU_ASSERT(engine_tensor_equal(&out[0], &tc->t[tc->n - 1][0]));
	for (size_t i = 0; i < engine_model_input_count(m); i++) {
		engine_tensor_fini(&in[i]);
	}
	for (size_t i = 0; i < engine_model_output_count(m); i++) {
		engine_tensor_fini(&out[i]);
	}
	return tc;
}

static void
test_fast_equals_reference(void)
{
	for (int k = ENGINE_GEN_MLP; k <= ENGINE_GEN_TRANSFORMER; k++) {
		for (uint64_t seed = 1; seed <= 3; seed++) {
			struct engine_model *m = gen((enum engine_gen_kind)k, seed);
			struct trace_copy *fast = run_traced(m, seed,
			    ENGINE_KERNELS_FAST);
			struct trace_copy *ref = run_traced(m, seed,
			    ENGINE_KERNELS_REF);
			struct trace_copy *again = run_traced(m, seed,
			    ENGINE_KERNELS_FAST);
			size_t diff = 0;
			for (size_t i = 0; i < fast->n; i++) {
				for (size_t j = 0; j < fast->n_out[i]; j++) {
					diff += !engine_tensor_equal(&fast->t[i][j],
					    &ref->t[i][j]);
					diff += !engine_tensor_equal(&fast->t[i][j],
					    &again->t[i][j]);
				}
			}
			CU_ASSERT_EQUAL(diff, 0);
			trace_free(fast);
			trace_free(ref);
			trace_free(again);
			engine_model_free(m);
		}
	}
}

/*
 * The dispute game's last step: recomputing operator k alone from the
 * trace tensors it reads gives exactly the trace's entry for k.
 */
static void
test_one_step_matches_trace(void)
{
	for (int kind = ENGINE_GEN_MLP; kind <= ENGINE_GEN_TRANSFORMER; kind++) {
		struct engine_model *m = gen((enum engine_gen_kind)kind, 9);
		struct trace_copy *tc = run_traced(m, 4, ENGINE_KERNELS_FAST);
		size_t n_in = engine_model_input_count(m);
		size_t mismatches = 0;
		for (size_t k = 0; k < engine_model_op_count(m); k++) {
			struct engine_op_info oi;
			engine_model_op(m, k, &oi);
			const struct tensor *args[ENGINE_MAX_OP_INPUTS];
			for (size_t i = 0; i < oi.n_inputs; i++) {
				struct engine_value_info vi;
				args[i] = NULL;
				if (oi.inputs[i] == ENGINE_NO_VALUE) {
					continue;
				}
				engine_model_value(m, oi.inputs[i], &vi);
				if (vi.kind == ENGINE_VALUE_WEIGHT) {
					args[i] = vi.weight;
				} else if (vi.kind == ENGINE_VALUE_INPUT) {
					args[i] = &tc->t[0][0];
				} else {
					args[i] = &tc->t[n_in + (size_t)vi.producer][0];
				}
			}
			struct tensor out[ENGINE_MAX_OP_OUTPUTS];
			CU_ASSERT_FATAL(engine_op_eval(m, k, args, out,
			    ENGINE_KERNELS_REF, NULL) == RF_OK);
			for (size_t j = 0; j < oi.n_outputs; j++) {
				mismatches += !engine_tensor_equal(&out[j],
				    &tc->t[n_in + k][j]);
				engine_tensor_fini(&out[j]);
			}
		}
		CU_ASSERT_EQUAL(mismatches, 0);
		trace_free(tc);
		engine_model_free(m);
	}
}

static int
count_entries(void *ctx, size_t index, const struct tensor *const *t,
    size_t n)
{
	(*(size_t *)ctx)++;
	return 0;
}

static void
test_stop_after_and_input_checks(void)
{
	struct engine_model *m = gen(ENGINE_GEN_MLP, 1);
	struct tensor in[1], out[1];
	struct engine_run_opts o;
	size_t seen = 0;
	engine_run_opts_init(&o);
	o.trace = count_entries;
	o.trace_ctx = &seen;
	o.stop_after = 2;
	CU_ASSERT_FATAL(engine_inputs_random(m, 1, in, NULL) == RF_OK);
	memset(out, 0, sizeof(out));
	CU_ASSERT(engine_run(m, in, 1, out, &o, NULL) == RF_OK);
	CU_ASSERT_EQUAL(seen, 3);
	CU_ASSERT(out[0].data == NULL);
	/* Wrong dtype, wrong shape, wrong count. */
	struct tensor bad;
	int64_t d[2] = { 4, 63 };
	struct rf_errinfo ei;
	CU_ASSERT_FATAL(engine_tensor_init(&bad, TENSOR_F32, 2, d) == RF_OK);
	CU_ASSERT(engine_run(m, &bad, 1, out, NULL, &ei) == RF_ERR_SHAPE);
	CU_ASSERT(strstr(ei.msg, "dimension 1 must be 64") != NULL);
	engine_tensor_fini(&bad);
	d[1] = 64;
	CU_ASSERT_FATAL(engine_tensor_init(&bad, TENSOR_I32, 2, d) == RF_OK);
	CU_ASSERT(engine_run(m, &bad, 1, out, NULL, &ei) == RF_ERR_DTYPE);
	CU_ASSERT(engine_run(m, in, 0, out, NULL, &ei) == RF_ERR_INVAL);
	engine_tensor_fini(&bad);
	engine_tensor_fini(&in[0]);
	engine_model_free(m);
}

static void
test_transformer_tokens_in_range(void)
{
	struct engine_gen_opts o;
	struct engine_model *m;
	engine_gen_opts_init(&o, ENGINE_GEN_TRANSFORMER);
	o.vocab = 7;
	CU_ASSERT_FATAL(engine_model_generate(&o, &m, NULL) == RF_OK);
	struct tensor in[1];
	CU_ASSERT_FATAL(engine_inputs_random(m, 42, in, NULL) == RF_OK);
	CU_ASSERT(in[0].dtype == TENSOR_I64);
	bool ok = true;
	for (size_t i = 0; i < in[0].count; i++) {
		int64_t v = ((int64_t *)in[0].data)[i];
		ok = ok && v >= 0 && v < 7;
	}
	CU_ASSERT(ok);
	engine_tensor_fini(&in[0]);
	engine_model_free(m);
}

/* A referee holds only the graph: it recomputes one operator from
 * weights and inputs it is given, exactly as the full model does. */
static void
test_graph_only(void)
{
	struct engine_model *full = gen(ENGINE_GEN_TRANSFORMER, 4);
	struct trace_copy *tc = run_traced(full, 2, ENGINE_KERNELS_FAST);
	uint8_t *g;
	size_t gl;
	CU_ASSERT_FATAL(engine_model_encode_graph(full, &g, &gl) == RF_OK);
	struct engine_model *go = NULL;
	struct rf_errinfo ei = { "" };
	CU_ASSERT_FATAL(engine_model_decode_graph(g, gl, &go, &ei) == RF_OK);
	CU_ASSERT(!engine_model_has_weights(go));
	CU_ASSERT(engine_model_has_weights(full));
	CU_ASSERT(engine_model_op_count(go) == engine_model_op_count(full));
	/* It re-encodes to the same graph, but cannot run or be saved. */
	uint8_t *g2, *buf;
	size_t gl2, bl;
	CU_ASSERT(engine_model_encode_graph(go, &g2, &gl2) == RF_OK &&
	    gl2 == gl && memcmp(g, g2, gl) == 0);
	free(g2);
	CU_ASSERT(engine_model_encode(go, &buf, &bl) == RF_ERR_INVAL);
	struct tensor in[1], out[1];
	CU_ASSERT_FATAL(engine_inputs_random(go, 1, in, NULL) == RF_OK);
	CU_ASSERT(engine_run(go, in, 1, out, NULL, &ei) == RF_ERR_INVAL);
	engine_tensor_fini(&in[0]);
	/* Every operator, recomputed on the graph with the full model's
	 * weights, gives the trace's bits. */
	size_t bad = 0;
	for (size_t k = 0; k < engine_model_op_count(go); k++) {
		struct engine_op_info oi;
		engine_model_op(go, k, &oi);
		const struct tensor *args[ENGINE_MAX_OP_INPUTS];
		for (size_t i = 0; i < oi.n_inputs; i++) {
			struct engine_value_info vi;
			engine_model_value(full, oi.inputs[i], &vi);
			args[i] = vi.kind == ENGINE_VALUE_WEIGHT ? vi.weight :
			    vi.kind == ENGINE_VALUE_INPUT ? &tc->t[0][0] :
			    &tc->t[1 + (size_t)vi.producer][0];
		}
		struct tensor o[ENGINE_MAX_OP_OUTPUTS];
		CU_ASSERT_FATAL(engine_op_eval(go, k, args, o, ENGINE_KERNELS_FAST,
		    NULL) == RF_OK);
		bad += !engine_tensor_equal(&o[0], &tc->t[1 + k][0]);
		for (size_t j = 0; j < oi.n_outputs; j++) {
			engine_tensor_fini(&o[j]);
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
	/* Truncated graphs are refused. */
	for (size_t cut = 0; cut < gl; cut += 7) {
		struct engine_model *x = NULL;
		CU_ASSERT(engine_model_decode_graph(g, cut, &x, NULL) != RF_OK);
	}
	free(g);
	trace_free(tc);
	engine_model_free(go);
	engine_model_free(full);
}

/* 0/0 and inf - inf make hardware-specific NaNs; outputs carry one. */
static void
test_nans_canonical(void)
{
	struct engine_model *m = engine_model_alloc("nan");
	int64_t d[1] = { 3 };
	int x, y;
	CU_ASSERT_FATAL(engine_model_add_input(m, "x", TENSOR_F32, 1, d, &x,
	    NULL) == RF_OK);
	int in[2] = { x, x };
	const char *out[1] = { "y" };
	CU_ASSERT_FATAL(engine_model_add_op(m, ENGINE_OP_SUB, "sub", in, 2, out,
	    1, NULL, 0, &y, NULL) == RF_OK);
	CU_ASSERT_FATAL(engine_model_add_output(m, y, NULL) == RF_OK);
	struct tensor t, r;
	CU_ASSERT_FATAL(engine_tensor_init(&t, TENSOR_F32, 1, d) == RF_OK);
	float *v = t.data;
	v[0] = __builtin_inff();
	v[1] = -__builtin_inff();
	v[2] = 1.5f;
	CU_ASSERT_FATAL(engine_run(m, &t, 1, &r, NULL, NULL) == RF_OK);
	uint32_t bits[3];
	memcpy(bits, r.data, sizeof(bits));
	CU_ASSERT_EQUAL(bits[0], 0x7fc00000u);
	CU_ASSERT_EQUAL(bits[1], 0x7fc00000u);
	CU_ASSERT_EQUAL(bits[2], 0u);
	engine_tensor_fini(&t);
	engine_tensor_fini(&r);
	engine_model_free(m);
}

/* The canonicalising pass over long outputs: a NaN of any sign and
 * payload at any position (vector body or tail) comes out as 0x7fc00000,
 * and infinities and every other value are left alone. Relu passes NaNs
 * through unchanged, so its input's NaNs reach the pass. */
static void
test_nans_canonical_long(void)
{
	enum { N = 1031 };
	struct engine_model *m = engine_model_alloc("nanlong");
	int64_t d[1] = { N };
	int x, y;
	CU_ASSERT_FATAL(engine_model_add_input(m, "x", TENSOR_F32, 1, d, &x,
	    NULL) == RF_OK);
	const char *out[1] = { "y" };
	CU_ASSERT_FATAL(engine_model_add_op(m, ENGINE_OP_RELU, "relu", &x, 1,
	    out, 1, NULL, 0, &y, NULL) == RF_OK);
	CU_ASSERT_FATAL(engine_model_add_output(m, y, NULL) == RF_OK);
	static const uint32_t nans[] = { 0x7f800001u, 0xff800001u, 0x7fc00000u,
		0xffc00000u, 0x7fffffffu, 0xffffffffu, 0x7fa00005u };
	struct engine_rng rng;
	engine_rng_seed(&rng, 9);
	int bad = 0;
	for (size_t pos = 0; pos < N; pos += (pos < 40 || pos > N - 40) ? 1 : 37) {
		struct tensor t, r;
		CU_ASSERT_FATAL(engine_tensor_init(&t, TENSOR_F32, 1, d) == RF_OK);
		uint32_t *bits = malloc(N * sizeof(uint32_t));
		CU_ASSERT_FATAL(bits != NULL);
		for (size_t i = 0; i < N; i++) {
			bits[i] = (uint32_t)engine_rng_next(&rng) & 0x7f7fffffu;
		}
		bits[(pos + 1) % N] = 0x7f800000u; /* +inf: not a NaN */
		bits[(pos + 2) % N] = 0x7f7fffffu; /* FLT_MAX */
		bits[pos] = nans[pos % (sizeof(nans) / sizeof(nans[0]))];
		memcpy(t.data, bits, N * sizeof(uint32_t));
		CU_ASSERT_FATAL(engine_run(m, &t, 1, &r, NULL, NULL) == RF_OK);
		const uint32_t *got = r.data;
		for (size_t i = 0; i < N; i++) {
			uint32_t want = i == pos ? 0x7fc00000u : bits[i];
			if (got[i] != want) {
				bad++;
			}
		}
		free(bits);
		engine_tensor_fini(&t);
		engine_tensor_fini(&r);
	}
	CU_ASSERT_EQUAL(bad, 0);
	engine_model_free(m);
}

/*
 * Weights packed once per model (engine/run.c, engine_sgemm_pack_b): a
 * Gemm with transB=1 and a MatMul on 2-D weights, over several GEMM
 * blocks in k and n, give on the fast kernels (first run packs, second
 * reuses) exactly the reference kernels' bits, and the operators alone
 * (engine_op_eval, which never uses the packs) agree too.
 */
static void
test_packed_weights(void)
{
	struct engine_model *m = engine_model_alloc("packed");
	struct engine_rng r;
	engine_rng_seed(&r, 31);
	int64_t xd[2] = { 37, 600 };
	int x, w1, b1, w2, y1, y2;
	CU_ASSERT_FATAL(engine_model_add_input(m, "x", TENSOR_F32, 2, xd, &x,
	    NULL) == RF_OK);
	struct tensor t;
	int64_t wd1[2] = { 2100, 600 }; /* [out, in]: transB=1 */
	CU_ASSERT_FATAL(engine_tensor_init(&t, TENSOR_F32, 2, wd1) == RF_OK);
	for (size_t i = 0; i < t.count; i++) {
		((float *)t.data)[i] = engine_rng_uniform(&r, -0.05f, 0.05f);
	}
	CU_ASSERT_FATAL(engine_model_add_weight(m, "w1", &t, &w1, NULL) ==
	    RF_OK);
	int64_t bd1[1] = { 2100 };
	CU_ASSERT_FATAL(engine_tensor_init(&t, TENSOR_F32, 1, bd1) == RF_OK);
	for (size_t i = 0; i < t.count; i++) {
		((float *)t.data)[i] = engine_rng_uniform(&r, -1.0f, 1.0f);
	}
	CU_ASSERT_FATAL(engine_model_add_weight(m, "b1", &t, &b1, NULL) ==
	    RF_OK);
	int64_t wd2[2] = { 2100, 70 };
	CU_ASSERT_FATAL(engine_tensor_init(&t, TENSOR_F32, 2, wd2) == RF_OK);
	for (size_t i = 0; i < t.count; i++) {
		((float *)t.data)[i] = engine_rng_uniform(&r, -0.05f, 0.05f);
	}
	CU_ASSERT_FATAL(engine_model_add_weight(m, "w2", &t, &w2, NULL) ==
	    RF_OK);
	struct engine_attr at;
	CU_ASSERT_FATAL(engine_attr_int(&at, "transB", 1) == RF_OK);
	int in1[3] = { x, w1, b1 };
	const char *o1[1] = { "h" };
	CU_ASSERT_FATAL(engine_model_add_op(m, ENGINE_OP_GEMM, "fc1", in1, 3,
	    o1, 1, &at, 1, &y1, NULL) == RF_OK);
	int in2[2] = { y1, w2 };
	const char *o2[1] = { "y" };
	CU_ASSERT_FATAL(engine_model_add_op(m, ENGINE_OP_MATMUL, "fc2", in2, 2,
	    o2, 1, NULL, 0, &y2, NULL) == RF_OK);
	CU_ASSERT_FATAL(engine_model_add_output(m, y2, NULL) == RF_OK);

	struct tensor in;
	CU_ASSERT_FATAL(engine_inputs_random(m, 5, &in, NULL) == RF_OK);
	struct engine_run_opts ref;
	engine_run_opts_init(&ref);
	ref.kernels = ENGINE_KERNELS_REF;
	struct tensor want, got1, got2;
	CU_ASSERT_FATAL(engine_run(m, &in, 1, &want, &ref, NULL) == RF_OK);
	CU_ASSERT_FATAL(engine_run(m, &in, 1, &got1, NULL, NULL) == RF_OK);
	CU_ASSERT_FATAL(engine_run(m, &in, 1, &got2, NULL, NULL) == RF_OK);
	CU_ASSERT(engine_tensor_nbytes(&want) == 37 * 70 * sizeof(float));
	CU_ASSERT(memcmp(want.data, got1.data, engine_tensor_nbytes(&want)) == 0);
	CU_ASSERT(memcmp(want.data, got2.data, engine_tensor_nbytes(&want)) == 0);

	/* Operator by operator, from the caller's tensors. */
	struct engine_value_info wi1, bi1, wi2;
	CU_ASSERT_FATAL(engine_model_value(m, w1, &wi1) == RF_OK);
	CU_ASSERT_FATAL(engine_model_value(m, b1, &bi1) == RF_OK);
	CU_ASSERT_FATAL(engine_model_value(m, w2, &wi2) == RF_OK);
	const struct tensor *ins1[3] = { &in, wi1.weight, bi1.weight };
	struct tensor h, y;
	memset(&h, 0, sizeof(h));
	memset(&y, 0, sizeof(y));
	CU_ASSERT_FATAL(engine_op_eval(m, 0, ins1, &h, ENGINE_KERNELS_FAST,
	    NULL) == RF_OK);
	const struct tensor *ins2[2] = { &h, wi2.weight };
	CU_ASSERT_FATAL(engine_op_eval(m, 1, ins2, &y, ENGINE_KERNELS_FAST,
	    NULL) == RF_OK);
	CU_ASSERT(memcmp(want.data, y.data, engine_tensor_nbytes(&want)) == 0);
	engine_tensor_fini(&h);
	engine_tensor_fini(&y);
	engine_tensor_fini(&want);
	engine_tensor_fini(&got1);
	engine_tensor_fini(&got2);
	engine_tensor_fini(&in);
	engine_model_free(m);
}

/* ------------------------------------------------------------------ */
/* The static check: a file that decodes but cannot run                 */
/* ------------------------------------------------------------------ */

/* x (given shape) -> op (one attribute or none) -> y; encoded. */
static struct engine_model *
one_op(enum engine_op op, int rank, const int64_t *xd,
    const struct engine_attr *a, const struct tensor *w)
{
	struct engine_model *m = engine_model_alloc("one");
	int in[2], y;
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_FATAL(engine_model_add_input(m, "x", TENSOR_F32, rank, xd,
	    &in[0], NULL) == RF_OK);
	size_t n_in = 1;
	if (w != NULL) {
		struct tensor copy;
		CU_ASSERT_FATAL(engine_tensor_copy(&copy, w) == RF_OK);
		CU_ASSERT_FATAL(engine_model_add_weight(m, "w", &copy, &in[1],
		    NULL) == RF_OK);
		n_in = 2;
	}
	const char *out[1] = { "y" };
	CU_ASSERT_FATAL(engine_model_add_op(m, op, "op", in, n_in, out, 1, a,
	    a != NULL ? 1 : 0, &y, NULL) == RF_OK);
	CU_ASSERT_FATAL(engine_model_add_output(m, y, NULL) == RF_OK);
	return m;
}

/* The model encodes (its builder took it) but neither decode accepts
 * it, and the error names the operator. */
static void
refused_at_load(struct engine_model *m, int code, const char *what)
{
	uint8_t *buf, *graph;
	size_t len, glen;
	encode(m, &buf, &len);
	CU_ASSERT_FATAL(engine_model_encode_graph(m, &graph, &glen) == RF_OK);
	struct engine_model *d = NULL;
	struct rf_errinfo ei = { "" };
	CU_ASSERT_EQUAL(engine_model_decode(buf, len, &d, &ei), code);
	CU_ASSERT(d == NULL);
	CU_ASSERT(strstr(ei.msg, "op 0 (") != NULL);
	CU_ASSERT(strstr(ei.msg, what) != NULL);
	if (strstr(ei.msg, what) == NULL) {
		printf("\n  got: %s\n", ei.msg);
	}
	ei.msg[0] = '\0';
	CU_ASSERT_EQUAL(engine_model_decode_graph(graph, glen, &d, &ei), code);
	CU_ASSERT(strstr(ei.msg, what) != NULL);
	CU_ASSERT_EQUAL(engine_model_check(m, NULL, NULL), code);
	free(buf);
	free(graph);
	engine_model_free(m);
}

static void
test_check_refuses(void)
{
	struct engine_attr a;
	/* A pooling window larger than its input. */
	int64_t img[4] = { 1, 1, 3, 3 }, k[2] = { 5, 5 };
	CU_ASSERT_FATAL(engine_attr_ints(&a, "kernel_shape", k, 2) == RF_OK);
	refused_at_load(one_op(ENGINE_OP_MAXPOOL, 4, img, &a, NULL),
	    RF_ERR_SHAPE, "MaxPool");
	/* An axis out of range for the input's rank. */
	int64_t xd[2] = { 2, 3 };
	CU_ASSERT_FATAL(engine_attr_int(&a, "axis", 5) == RF_OK);
	refused_at_load(one_op(ENGINE_OP_SOFTMAX, 2, xd, &a, NULL),
	    RF_ERR_INVAL, "axis 5");
	/* Shapes that do not chain: [2,3] x [4,2]. */
	int64_t wd[2] = { 4, 2 };
	struct tensor w;
	CU_ASSERT_FATAL(engine_tensor_init(&w, TENSOR_F32, 2, wd) == RF_OK);
	refused_at_load(one_op(ENGINE_OP_MATMUL, 2, xd, NULL, &w),
	    RF_ERR_SHAPE, "MatMul");
	engine_tensor_fini(&w);
}

static void
test_check_shapes(void)
{
	/* Every value of a generated model is known, and the output's
	 * shape is what a run gives. */
	struct engine_model *m = gen(ENGINE_GEN_CNN, 3);
	size_t nv = engine_model_value_count(m);
	struct engine_shape *sh = calloc(nv, sizeof(*sh));
	CU_ASSERT_FATAL(sh != NULL);
	CU_ASSERT_EQUAL_FATAL(engine_model_check(m, sh, NULL), RF_OK);
	for (size_t v = 0; v < nv; v++) {
		CU_ASSERT(sh[v].known);
	}
	struct tensor in[ENGINE_MAX_GRAPH_IO], out[ENGINE_MAX_GRAPH_IO];
	CU_ASSERT_FATAL(engine_inputs_random(m, 1, in, NULL) == RF_OK);
	CU_ASSERT_FATAL(engine_run(m, in, engine_model_input_count(m), out,
	    NULL, NULL) == RF_OK);
	const struct engine_shape *o = &sh[engine_model_output(m, 0)];
	CU_ASSERT_EQUAL(o->dtype, out[0].dtype);
	CU_ASSERT_EQUAL(o->rank, out[0].rank);
	CU_ASSERT(memcmp(o->dims, out[0].dims, (size_t)o->rank * 8) == 0);
	engine_tensor_fini(&in[0]);
	engine_tensor_fini(&out[0]);
	free(sh);
	engine_model_free(m);
	/* A dynamic dimension leaves what depends on it unchecked, so a
	 * model valid for some size is not refused. */
	int64_t dyn[4] = { 1, 1, -1, -1 }, k[2] = { 5, 5 };
	struct engine_attr a;
	CU_ASSERT_FATAL(engine_attr_ints(&a, "kernel_shape", k, 2) == RF_OK);
	m = one_op(ENGINE_OP_MAXPOOL, 4, dyn, &a, NULL);
	struct engine_shape s2[2];
	CU_ASSERT_EQUAL(engine_model_check(m, s2, NULL), RF_OK);
	CU_ASSERT(!s2[1].known);
	engine_model_free(m);
}

/* The check on a job's sizes: x[1,-1] into MatMul with w[4,3] passes
 * on its declared shapes, fails for x[1,5] naming the MatMul, passes for
 * x[1,4] with the output's shape known; the same on the graph alone
 * (what a referee holds). Shapes the declaration does not allow are
 * refused as such. */
static void
test_check_inputs(void)
{
	int64_t xd[2] = { 1, -1 }, wd[2] = { 4, 3 };
	struct tensor w;
	CU_ASSERT_FATAL(engine_tensor_init(&w, TENSOR_F32, 2, wd) == RF_OK);
	struct engine_model *m = one_op(ENGINE_OP_MATMUL, 2, xd, NULL, &w);
	engine_tensor_fini(&w);
	uint8_t *graph;
	size_t glen;
	CU_ASSERT_FATAL(engine_model_encode_graph(m, &graph, &glen) == RF_OK);
	struct engine_model *g = NULL;
	CU_ASSERT_FATAL(engine_model_decode_graph(graph, glen, &g, NULL) ==
	    RF_OK);
	free(graph);
	CU_ASSERT_EQUAL(engine_model_check(m, NULL, NULL), RF_OK);
	struct engine_model *both[2] = { m, g };
	for (int b = 0; b < 2; b++) {
		struct engine_model *t = both[b];
		struct engine_shape in;
		memset(&in, 0, sizeof(in));
		in.dtype = TENSOR_F32;
		in.rank = 2;
		in.dims[0] = 1;
		in.dims[1] = 5;
		struct rf_errinfo ei = { "" };
		CU_ASSERT_EQUAL(engine_model_check_inputs(t, &in, 1, NULL, &ei),
		    RF_ERR_SHAPE);
		CU_ASSERT(strstr(ei.msg, "op 0 (MatMul") != NULL);
		in.dims[1] = 4;
		struct engine_shape sh[3];
		CU_ASSERT_EQUAL(engine_model_check_inputs(t, &in, 1, sh, NULL),
		    RF_OK);
		int y = engine_model_output(t, 0);
		CU_ASSERT(sh[y].known);
		CU_ASSERT_EQUAL(sh[y].rank, 2);
		CU_ASSERT_EQUAL(sh[y].dims[0], 1);
		CU_ASSERT_EQUAL(sh[y].dims[1], 3);
		/* A fixed dimension changed, a negative size, another rank or
		 * dtype, a wrong count: not this model's inputs. */
		in.dims[0] = 2;
		CU_ASSERT_EQUAL(engine_model_check_inputs(t, &in, 1, NULL, &ei),
		    RF_ERR_SHAPE);
		CU_ASSERT(strstr(ei.msg, "input 0 ('x')") != NULL);
		in.dims[0] = 1;
		in.dims[1] = -1;
		CU_ASSERT_EQUAL(engine_model_check_inputs(t, &in, 1, NULL, NULL),
		    RF_ERR_SHAPE);
		in.dims[1] = 4;
		in.rank = 3;
		in.dims[2] = 1;
		CU_ASSERT_EQUAL(engine_model_check_inputs(t, &in, 1, NULL, NULL),
		    RF_ERR_SHAPE);
		in.rank = 2;
		in.dtype = TENSOR_I8;
		CU_ASSERT_EQUAL(engine_model_check_inputs(t, &in, 1, NULL, NULL),
		    RF_ERR_DTYPE);
		in.dtype = TENSOR_F32;
		CU_ASSERT_EQUAL(engine_model_check_inputs(t, &in, 0, NULL, NULL),
		    RF_ERR_SHAPE);
		CU_ASSERT_EQUAL(engine_model_check_inputs(t, &in, 1, NULL, NULL),
		    RF_OK);
	}
	engine_model_free(g);
	engine_model_free(m);
}

int
main(void)
{
	CU_TestInfo builder[] = {
		{ "rejects bad additions", test_builder_rejects },
		{ "name index under growth", test_builder_many_names },
		CU_TEST_INFO_NULL,
	};
	CU_TestInfo file[] = {
		{ "round trip is byte-exact", test_file_round_trip },
		{ "generator is deterministic", test_generator_deterministic },
		{ "every truncation rejected", test_file_truncations },
		{ "corruptions never crash", test_file_corruptions },
		{ "hand-made faults named", test_file_hand_faults },
		CU_TEST_INFO_NULL,
	};
	CU_TestInfo run[] = {
		{ "fast == reference, bit for bit", test_fast_equals_reference },
		{ "one-step recompute matches trace",
		    test_one_step_matches_trace },
		{ "stop_after and input checks",
		    test_stop_after_and_input_checks },
		{ "token inputs within vocabulary",
		    test_transformer_tokens_in_range },
		{ "NaNs come out canonical", test_nans_canonical },
		{ "NaNs come out canonical: long outputs, every position",
		    test_nans_canonical_long },
		{ "weights packed once: FAST == REF, run after run",
		    test_packed_weights },
		{ "graph-only model recomputes operators", test_graph_only },
		{ "a model that cannot run is refused at load",
		    test_check_refuses },
		{ "the check's shapes are a run's shapes", test_check_shapes },
		{ "the check on a job's input sizes", test_check_inputs },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "model builder", NULL, NULL, NULL, NULL, builder },
		{ "model file", NULL, NULL, NULL, NULL, file },
		{ "model run", NULL, NULL, NULL, NULL, run },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
