/*
 * tests/engine/bytegpt_test.c - a real trained language model through the
 * ONNX importer: the byte-level GPT in tests/data/bytegpt, trained by
 * tests/tools/train_bytegpt.py on /usr/share/common-licenses/GPL-3 and
 * exported by torch.onnx.export twice, plain (tokens -> logits) and with a
 * KV cache (past_key_values inputs, present outputs). No Python here: the
 * script's outputs are committed.
 *
 * The imported plain model's logits of the fixed prompt match PyTorch's
 * within the importer's tolerance (docs/onnx.md); greedy decoding through
 * the engine (the whole sequence each step, as PyTorch's loop does, and
 * with the imported KV-cache model, prefill then one token per step with
 * the cache fed back) gives exactly PyTorch's tokens. Argmax takes the
 * lowest index on ties, as torch.argmax does; the script records each
 * step's gap between the two largest logits, and the test checks that no
 * step comes near a tie, so agreement is not luck.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "tests/testlib.h"

/* The importer's tolerance against PyTorch (tests/engine/onnx_test.c). */
#define ATOL 1e-4
#define RTOL 1e-4
/* The smallest gap between the two largest logits of a greedy step that
 * this test accepts: 100 times the tolerance, so that the engine's few-ulp
 * differences from PyTorch cannot flip an argmax. */
#define MIN_MARGIN 1e-2

#define LAYERS 2
#define HEADS 4
#define HEAD_DIM 32
#define VOCAB 256

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

static uint8_t *
data_file(const char *dir, const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s/%s", test_data_dir(), dir, name);
	uint8_t *b = test_read_file(path, len);
	if (b == NULL) {
		fprintf(stderr, "\n  cannot read %s\n", path);
	}
	CU_ASSERT_FATAL(b != NULL);
	return b;
}

static void
load_npy(const char *name, struct tensor *t)
{
	size_t len;
	uint8_t *b = data_file("bytegpt", name, &len);
	CU_ASSERT_FATAL(engine_tensor_npy_decode(b, len, t, NULL) == RF_OK);
	free(b);
}

/* The two ONNX files, read once. */
static uint8_t *plain_onnx, *kv_onnx;
static size_t plain_len, kv_len;

static int
suite_init(void)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/bytegpt/bytegpt.onnx",
	    test_data_dir());
	plain_onnx = test_read_file(path, &plain_len);
	snprintf(path, sizeof(path), "%s/bytegpt/bytegpt_kv.onnx",
	    test_data_dir());
	kv_onnx = test_read_file(path, &kv_len);
	return plain_onnx == NULL || kv_onnx == NULL;
}

static int
suite_fini(void)
{
	free(plain_onnx);
	free(kv_onnx);
	return 0;
}

/* Imports with --dim batch=1 --dim seq=SEQ [--dim past=PAST]. */
static struct engine_model *
import(const uint8_t *b, size_t len, int64_t seq, int64_t past)
{
	struct engine_onnx_dim dims[3] = { { "batch", 1 }, { "seq", seq },
		{ "past", past } };
	struct engine_onnx_opts o;
	engine_onnx_opts_init(&o);
	o.dims = dims;
	o.n_dims = past >= 0 ? 3 : 2;
	struct engine_model *m = NULL;
	struct rf_errinfo ei = { "" };
	int err = engine_model_import_onnx(b, len, &o, &m, &ei);
	if (err != RF_OK) {
		fprintf(stderr, "\n  import seq=%lld past=%lld: %s (%s)\n",
		    (long long)seq, (long long)past, rf_strerror(err), ei.msg);
	}
	CU_ASSERT_FATAL(err == RF_OK);
	return m;
}

/* Runs m; out[] gets engine_model_output_count(m) tensors. */
static void
run(const struct engine_model *m, const struct tensor *in, struct tensor *out,
    enum engine_kernels k)
{
	struct engine_run_opts o;
	engine_run_opts_init(&o);
	o.kernels = k;
	struct rf_errinfo ei = { "" };
	int err = engine_run(m, in, engine_model_input_count(m), out, &o, &ei);
	if (err != RF_OK) {
		fprintf(stderr, "\n  run: %s (%s)\n", rf_strerror(err), ei.msg);
	}
	CU_ASSERT_FATAL(err == RF_OK);
}

static void
tokens_tensor(struct tensor *t, const int64_t *tok, size_t n)
{
	int64_t dims[2] = { 1, (int64_t)n };
	CU_ASSERT_FATAL(engine_tensor_init(t, TENSOR_I64, 2, dims) == RF_OK);
	memcpy(t->data, tok, n * sizeof(*tok));
}

/* The prompt's bytes are its token ids. */
static size_t
load_prompt(int64_t *tok, size_t cap)
{
	size_t len;
	uint8_t *b = data_file("bytegpt", "prompt.txt", &len);
	CU_ASSERT_FATAL(len > 0 && len <= cap);
	for (size_t i = 0; i < len; i++) {
		tok[i] = b[i];
	}
	free(b);
	return len;
}

/* Argmax of the last row of logits [1, n, VOCAB]; the lowest index wins
 * a tie, as with torch.argmax. */
static int64_t
argmax_last(const struct tensor *logits)
{
	CU_ASSERT_FATAL(logits->dtype == TENSOR_F32 && logits->rank == 3 &&
	    logits->dims[2] == VOCAB && logits->dims[1] >= 1);
	const float *row = (const float *)logits->data +
	    (size_t)(logits->dims[1] - 1) * VOCAB;
	int64_t best = 0;
	for (int64_t i = 1; i < VOCAB; i++) {
		if (row[i] > row[best]) {
			best = i;
		}
	}
	return best;
}

/* Largest |got - want|; counts elements outside the tolerance. */
static double
max_diff(const struct tensor *got, const struct tensor *want, size_t *bad)
{
	CU_ASSERT_FATAL(got->dtype == TENSOR_F32 &&
	    want->dtype == TENSOR_F32 && got->count == want->count &&
	    got->rank == want->rank);
	for (int d = 0; d < got->rank; d++) {
		CU_ASSERT_FATAL(got->dims[d] == want->dims[d]);
	}
	const float *g = got->data, *w = want->data;
	double worst = 0;
	*bad = 0;
	for (size_t i = 0; i < got->count; i++) {
		double e = fabs((double)g[i] - (double)w[i]);
		if (!(e <= ATOL + RTOL * fabs((double)w[i]))) {
			(*bad)++;
		}
		if (!(e <= worst)) {
			worst = e;
		}
	}
	return worst;
}

static void
fini_all(struct tensor *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		engine_tensor_fini(&t[i]);
	}
}

/* ------------------------------------------------------------------ */
/* The plain export                                                     */
/* ------------------------------------------------------------------ */

/* The prompt's logits at every position, within the tolerance of
 * PyTorch's; the same bits from both kernel kinds. */
static void
test_prompt_logits(void)
{
	int64_t tok[128];
	size_t n = load_prompt(tok, 128);
	struct engine_model *m = import(plain_onnx, plain_len, (int64_t)n, -1);
	CU_ASSERT_FATAL(engine_model_input_count(m) == 1 &&
	    engine_model_output_count(m) == 1);
	struct tensor in, want, out, ref;
	tokens_tensor(&in, tok, n);
	load_npy("prompt.logits.npy", &want);
	run(m, &in, &out, ENGINE_KERNELS_FAST);
	size_t bad;
	double d = max_diff(&out, &want, &bad);
	fprintf(stderr, "\n  %zu prompt tokens: max |logit - PyTorch's| %.3g ",
	    n, d);
	CU_ASSERT(bad == 0);
	run(m, &in, &ref, ENGINE_KERNELS_REF);
	CU_ASSERT(engine_tensor_equal(&out, &ref));
	engine_tensor_fini(&ref);
	engine_tensor_fini(&out);
	engine_tensor_fini(&want);
	engine_tensor_fini(&in);
	engine_model_free(m);
}

struct greedy_want {
	int64_t prompt[128];
	size_t n_prompt;
	struct tensor tokens; /* i64 [N] */
	size_t n_new;
};

static void
greedy_want_load(struct greedy_want *g)
{
	g->n_prompt = load_prompt(g->prompt, 128);
	load_npy("greedy.tokens.npy", &g->tokens);
	CU_ASSERT_FATAL(g->tokens.dtype == TENSOR_I64 &&
	    g->tokens.rank == 1 && g->tokens.count > 0 &&
	    g->n_prompt + g->tokens.count <= 128);
	g->n_new = g->tokens.count;
	/* The text file holds the same bytes. */
	size_t len;
	uint8_t *txt = data_file("bytegpt", "greedy.txt", &len);
	CU_ASSERT_FATAL(len == g->n_new);
	const int64_t *t = g->tokens.data;
	for (size_t i = 0; i < len; i++) {
		CU_ASSERT(t[i] == txt[i]);
	}
	free(txt);
}

/* No greedy step of PyTorch's is near a tie. */
static void
test_margins(void)
{
	struct tensor mg;
	load_npy("greedy.margins.npy", &mg);
	CU_ASSERT_FATAL(mg.dtype == TENSOR_F32 && mg.count > 0);
	const float *v = mg.data;
	float lo = v[0];
	for (size_t i = 1; i < mg.count; i++) {
		lo = v[i] < lo ? v[i] : lo;
	}
	fprintf(stderr, "\n  smallest top-2 gap of %zu steps: %.3g ", mg.count,
	    (double)lo);
	CU_ASSERT(lo >= MIN_MARGIN);
	engine_tensor_fini(&mg);
}

/*
 * PyTorch's greedy loop, step by step through the engine: each step
 * imports the plain model at the sequence's length (--dim seq=N) and runs
 * it on the whole sequence; the argmax of the last position is the next
 * token. Every token must be PyTorch's. The last row's logits of each
 * step are kept in last_rows for the KV-cache test.
 */
static float *last_rows; /* n_new x VOCAB */

static void
test_greedy_plain(void)
{
	struct greedy_want g;
	greedy_want_load(&g);
	int64_t seq[128];
	memcpy(seq, g.prompt, g.n_prompt * sizeof(seq[0]));
	size_t n = g.n_prompt, agree = 0;
	const int64_t *want = g.tokens.data;
	free(last_rows);
	last_rows = calloc(g.n_new * VOCAB, sizeof(float));
	CU_ASSERT_FATAL(last_rows != NULL);
	for (size_t s = 0; s < g.n_new; s++) {
		struct engine_model *m =
		    import(plain_onnx, plain_len, (int64_t)n, -1);
		struct tensor in, out;
		tokens_tensor(&in, seq, n);
		run(m, &in, &out, ENGINE_KERNELS_FAST);
		int64_t t = argmax_last(&out);
		memcpy(last_rows + s * VOCAB,
		    (const float *)out.data + (n - 1) * VOCAB,
		    VOCAB * sizeof(float));
		agree += t == want[s];
		/* Continue with PyTorch's token, so one disagreement does
		 * not hide the rest. */
		seq[n++] = want[s];
		engine_tensor_fini(&out);
		engine_tensor_fini(&in);
		engine_model_free(m);
	}
	fprintf(stderr, "\n  greedy, plain model: %zu of %zu tokens agree ",
	    agree, g.n_new);
	CU_ASSERT(agree == g.n_new);
	engine_tensor_fini(&g.tokens);
}

/* ------------------------------------------------------------------ */
/* The KV-cache export                                                  */
/* ------------------------------------------------------------------ */

/* One decode step against PyTorch's: the logits and every present. */
static void
test_kv_step(void)
{
	struct tensor in[1 + 2 * LAYERS], want[1 + 2 * LAYERS],
	    out[1 + 2 * LAYERS];
	char name[64];
	for (size_t i = 0; i < 1 + 2 * LAYERS; i++) {
		snprintf(name, sizeof(name), "kv_step.in%zu.npy", i);
		load_npy(name, &in[i]);
		snprintf(name, sizeof(name), "kv_step.out%zu.npy", i);
		load_npy(name, &want[i]);
	}
	CU_ASSERT_FATAL(in[1].rank == 4 && in[0].rank == 2);
	struct engine_model *m =
	    import(kv_onnx, kv_len, in[0].dims[1], in[1].dims[2]);
	CU_ASSERT_FATAL(engine_model_input_count(m) == 1 + 2 * LAYERS &&
	    engine_model_output_count(m) == 1 + 2 * LAYERS);
	/* The outputs keep their ONNX names, in order. */
	static const char *const names[] = { "logits", "present.0.key",
		"present.0.value", "present.1.key", "present.1.value" };
	for (size_t i = 0; i < 1 + 2 * LAYERS; i++) {
		struct engine_value_info vi;
		CU_ASSERT(engine_model_value(m, engine_model_output(m, i),
		    &vi) == RF_OK && strcmp(vi.name, names[i]) == 0);
	}
	run(m, in, out, ENGINE_KERNELS_FAST);
	double worst = 0;
	for (size_t i = 0; i < 1 + 2 * LAYERS; i++) {
		size_t bad;
		double d = max_diff(&out[i], &want[i], &bad);
		CU_ASSERT(bad == 0);
		worst = d > worst ? d : worst;
	}
	fprintf(stderr, "\n  decode step at past %lld: max |diff| %.3g ",
	    (long long)in[1].dims[2], worst);
	fini_all(out, 1 + 2 * LAYERS);
	fini_all(want, 1 + 2 * LAYERS);
	fini_all(in, 1 + 2 * LAYERS);
	engine_model_free(m);
}

/*
 * Greedy decoding with the cache: the prompt through the KV model with an
 * empty cache (--dim past=0), then one token per step (--dim seq=1
 * --dim past=P) with the presents of the step before as the past. Every
 * token must be PyTorch's; and since the engine sums every dot product in
 * one canonical order and masked scores add exact zeros, each step's
 * logits are bit for bit those of the plain model on the whole sequence.
 */
static void
test_greedy_kv(void)
{
	struct greedy_want g;
	greedy_want_load(&g);
	const int64_t *want = g.tokens.data;
	struct tensor in[1 + 2 * LAYERS], out[1 + 2 * LAYERS];
	tokens_tensor(&in[0], g.prompt, g.n_prompt);
	int64_t empty[4] = { 1, HEADS, 0, HEAD_DIM };
	for (size_t i = 1; i < 1 + 2 * LAYERS; i++) {
		CU_ASSERT_FATAL(engine_tensor_init(&in[i], TENSOR_F32, 4,
		    empty) == RF_OK);
	}
	size_t past = 0, agree = 0, same_bits = 0;
	for (size_t s = 0; s < g.n_new; s++) {
		int64_t n_in = in[0].dims[1];
		struct engine_model *m =
		    import(kv_onnx, kv_len, n_in, (int64_t)past);
		run(m, in, out, ENGINE_KERNELS_FAST);
		int64_t t = argmax_last(&out[0]);
		agree += t == want[s];
		if (last_rows != NULL) {
			same_bits += memcmp(last_rows + s * VOCAB,
			    (const float *)out[0].data + (n_in - 1) * VOCAB,
			    VOCAB * sizeof(float)) == 0;
		}
		/* The presents become the next step's past. */
		past += (size_t)n_in;
		for (size_t i = 1; i < 1 + 2 * LAYERS; i++) {
			CU_ASSERT_FATAL(out[i].rank == 4 &&
			    out[i].dims[2] == (int64_t)past);
			engine_tensor_fini(&in[i]);
			in[i] = out[i];
		}
		engine_tensor_fini(&out[0]);
		engine_tensor_fini(&in[0]);
		tokens_tensor(&in[0], &want[s], 1);
		engine_model_free(m);
	}
	fprintf(stderr, "\n  greedy, KV-cache model: %zu of %zu tokens agree, "
	    "%zu steps' logits bit-identical to the plain model's ", agree,
	    g.n_new, same_bits);
	CU_ASSERT(agree == g.n_new);
	CU_ASSERT(last_rows != NULL && same_bits == g.n_new);
	fini_all(in, 1 + 2 * LAYERS);
	engine_tensor_fini(&g.tokens);
	free(last_rows);
	last_rows = NULL;
}

/*
 * The commands: `refute model import` of the KV model (which also checks
 * that a network could serve it: its outputs are one operator's) and
 * `refute model run` on PyTorch's decode-step inputs writes every output,
 * the logits within the tolerance.
 */
static void
test_kv_cli(void)
{
	char dir[] = "/tmp/rf-bytegpt-XXXXXX";
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	char out[8192], rel[512], data[PATH_MAX];
	snprintf(rel, sizeof(rel), "%s/bytegpt", test_data_dir());
	CU_ASSERT_FATAL(realpath(rel, data) != NULL);
	int rc = test_shell(out, sizeof(out), dir, 1, "%s model import "
	    "%s/bytegpt_kv.onnx -o kv.rfm --dim batch=1 --dim seq=1 "
	    "--dim past=39", test_refute(), data);
	if (rc != 0) {
		fprintf(stderr, "\n  %s", out);
	}
	CU_ASSERT(rc == 0);
	CU_ASSERT(strstr(out, "wrote kv.rfm") != NULL);
	rc = test_shell(out, sizeof(out), dir, 1, "%s model run kv.rfm "
	    "-i %s/kv_step.in0.npy -i %s/kv_step.in1.npy -i %s/kv_step.in2.npy "
	    "-i %s/kv_step.in3.npy -i %s/kv_step.in4.npy -o o0.npy -o o1.npy "
	    "-o o2.npy -o o3.npy -o o4.npy --trace", test_refute(), data, data,
	    data, data, data);
	CU_ASSERT(rc == 0);
	CU_ASSERT(strstr(out, "present.1.value") != NULL);
	for (int i = 0; i < 1 + 2 * LAYERS; i++) {
		char p[600], w[64];
		snprintf(p, sizeof(p), "%s/o%d.npy", dir, i);
		size_t len;
		uint8_t *b = test_read_file(p, &len);
		CU_ASSERT_FATAL(b != NULL);
		struct tensor got, want;
		CU_ASSERT_FATAL(engine_tensor_npy_decode(b, len, &got, NULL) ==
		    RF_OK);
		free(b);
		snprintf(w, sizeof(w), "kv_step.out%d.npy", i);
		load_npy(w, &want);
		size_t bad;
		max_diff(&got, &want, &bad);
		CU_ASSERT(bad == 0);
		engine_tensor_fini(&got);
		engine_tensor_fini(&want);
		unlink(p);
	}
	char p[600];
	snprintf(p, sizeof(p), "%s/kv.rfm", dir);
	unlink(p);
	CU_ASSERT(rmdir(dir) == 0);
}

/* ------------------------------------------------------------------ */
/* refute generate on the import                                        */
/* ------------------------------------------------------------------ */

/*
 * The plain export imported at the whole context (--dim seq=128) is not
 * the layout `model gen gpt` writes, so a generation runs the whole model
 * at each step on the tokens so far, padded (engine/gen_whole.c): greedy,
 * it gives PyTorch's 64 tokens, through the engine API and through
 * `refute generate`, text included.
 */
static void
test_generate_whole(void)
{
	struct greedy_want g;
	greedy_want_load(&g);
	struct engine_model *m = import(plain_onnx, plain_len, 128, -1);
	struct engine_gpt_shape sh;
	struct rf_errinfo ei = { "" };
	CU_ASSERT_FATAL(engine_gpt_shape(m, &sh, &ei) == RF_OK);
	CU_ASSERT(sh.whole && sh.vocab == VOCAB && sh.context == 128);
	struct engine_generation gen;
	memset(&gen, 0, sizeof(gen));
	gen.prompt_len = (int64_t)g.n_prompt;
	gen.n_new = (int64_t)g.n_new;
	engine_sampler_init(&gen.sampler);
	struct engine_model *gm = NULL;
	int err = engine_generation_model(m, &gen, &gm, &ei);
	if (err != RF_OK) {
		fprintf(stderr, "\n  generation: %s (%s)\n", rf_strerror(err),
		    ei.msg);
	}
	CU_ASSERT_FATAL(err == RF_OK);
	struct tensor in, out[2];
	int64_t d1[1] = { (int64_t)g.n_prompt };
	CU_ASSERT_FATAL(engine_tensor_init(&in, TENSOR_I64, 1, d1) == RF_OK);
	memcpy(in.data, g.prompt, g.n_prompt * sizeof(int64_t));
	run(gm, &in, out, ENGINE_KERNELS_FAST);
	CU_ASSERT_FATAL(out[1].dtype == TENSOR_I64 &&
	    out[1].count == g.n_new);
	const int64_t *got = out[1].data, *want = g.tokens.data;
	size_t agree = 0;
	for (size_t i = 0; i < g.n_new; i++) {
		agree += got[i] == want[i];
	}
	fprintf(stderr, "\n  engine_generation_model on the import: %zu of "
	    "%zu tokens agree ", agree, g.n_new);
	CU_ASSERT(agree == g.n_new);
	fini_all(out, 2);
	engine_tensor_fini(&in);
	engine_model_free(gm);

	/* Sampled (temperature 0.8, top-k 40, seed 7), 8 tokens: the same
	 * tokens from both kernel kinds, as every party must draw them. */
	gen.n_new = 8;
	gen.sampler.temperature = 0.8f;
	gen.sampler.top_k = 40;
	CU_ASSERT_FATAL(engine_generation_model(m, &gen, &gm, &ei) == RF_OK);
	struct tensor sin[2], fast[2], ref[2];
	int64_t d1s[1] = { 1 };
	CU_ASSERT_FATAL(engine_tensor_init(&sin[0], TENSOR_I64, 1, d1) ==
	    RF_OK && engine_tensor_init(&sin[1], TENSOR_I64, 1, d1s) == RF_OK);
	memcpy(sin[0].data, g.prompt, g.n_prompt * sizeof(int64_t));
	((int64_t *)sin[1].data)[0] = 7;
	run(gm, sin, fast, ENGINE_KERNELS_FAST);
	run(gm, sin, ref, ENGINE_KERNELS_REF);
	CU_ASSERT(fast[1].count == 8 && engine_tensor_equal(&fast[1], &ref[1]));
	fini_all(fast, 2);
	fini_all(ref, 2);
	fini_all(sin, 2);
	engine_model_free(gm);
	engine_sampler_init(&gen.sampler);

	/* The context bounds the generation. */
	gen.n_new = 128 - gen.prompt_len + 1;
	CU_ASSERT(engine_generation_model(m, &gen, &gm, &ei) ==
	    RF_ERR_RANGE);
	engine_model_free(m);

	/* Models that are no such language model are refused saying why:
	 * float input; several inputs and outputs. */
	size_t len;
	uint8_t *b = data_file("onnx", "mlp_digits.onnx", &len);
	CU_ASSERT_FATAL(engine_model_import_onnx(b, len, NULL, &m, &ei) ==
	    RF_OK);
	free(b);
	CU_ASSERT(engine_gpt_shape(m, &sh, &ei) == RF_ERR_NOTSUP);
	CU_ASSERT(strstr(ei.msg, "i64 [context]") != NULL);
	engine_model_free(m);
	m = import(kv_onnx, kv_len, 1, 8);
	CU_ASSERT(engine_gpt_shape(m, &sh, &ei) == RF_ERR_NOTSUP);
	CU_ASSERT(strstr(ei.msg, "one input") != NULL);
	engine_model_free(m);
	engine_tensor_fini(&g.tokens);
}

static void
test_generate_cli(void)
{
	struct greedy_want g;
	greedy_want_load(&g);
	char dir[] = "/tmp/rf-bytegpt-XXXXXX";
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	char out[16384], rel[512], data[PATH_MAX];
	snprintf(rel, sizeof(rel), "%s/bytegpt", test_data_dir());
	CU_ASSERT_FATAL(realpath(rel, data) != NULL);
	int rc = test_shell(out, sizeof(out), dir, 1, "%s model import "
	    "%s/bytegpt.onnx -o gpt.rfm --dim batch=1 --dim seq=128",
	    test_refute(), data);
	CU_ASSERT(rc == 0);
	rc = test_shell(out, sizeof(out), dir, 1, "%s generate gpt.rfm "
	    "--prompt-file %s/prompt.txt --new %zu --trace", test_refute(),
	    data, g.n_new);
	CU_ASSERT(rc == 0);
	/* tokens: a,b,c and text: "..." (newlines escaped). */
	char want[2048], text[512];
	size_t wl = (size_t)snprintf(want, sizeof(want), "tokens: ");
	size_t tl = 0;
	const int64_t *t = g.tokens.data;
	for (size_t i = 0; i < g.n_new; i++) {
		wl += (size_t)snprintf(want + wl, sizeof(want) - wl, "%s%lld",
		    i ? "," : "", (long long)t[i]);
		if (t[i] == '\n') {
			text[tl++] = '\\';
			text[tl++] = 'n';
		} else {
			text[tl++] = (char)t[i];
		}
	}
	text[tl] = '\0';
	snprintf(want + wl, sizeof(want) - wl, "\ntext: \"%s\"\n", text);
	if (strstr(out, want) == NULL) {
		fprintf(stderr, "\n  want:\n%s  got:\n%s", want, out);
	}
	CU_ASSERT(strstr(out, want) != NULL);
	CU_ASSERT(strstr(out, "trace root") != NULL);
	char p[600];
	snprintf(p, sizeof(p), "%s/gpt.rfm", dir);
	unlink(p);
	CU_ASSERT(rmdir(dir) == 0);
	engine_tensor_fini(&g.tokens);
}

/* ------------------------------------------------------------------ */
/* Graph outputs gathered by one Identity                               */
/* ------------------------------------------------------------------ */

/* tests/data/onnx/multi_out.onnx: outputs b = Sigmoid(x), a = Relu(x) and
 * a constant w, in that order. One Identity appended last gathers them,
 * each keeps its name, and the claim's last trace entry holds them all. */
static void
test_multi_out(void)
{
	size_t len;
	uint8_t *b = data_file("onnx", "multi_out.onnx", &len);
	struct engine_model *m = NULL;
	struct rf_errinfo ei = { "" };
	CU_ASSERT_FATAL(engine_model_import_onnx(b, len, NULL, &m, &ei) ==
	    RF_OK);
	free(b);
	size_t n_ops = engine_model_op_count(m);
	CU_ASSERT_FATAL(n_ops == 3 && engine_model_output_count(m) == 3);
	struct engine_op_info oi;
	CU_ASSERT_FATAL(engine_model_op(m, n_ops - 1, &oi) == RF_OK);
	CU_ASSERT(oi.op == ENGINE_OP_IDENTITY && oi.n_outputs == 3);
	static const char *const names[] = { "b", "a", "w" };
	for (size_t i = 0; i < 3; i++) {
		struct engine_value_info vi;
		CU_ASSERT(oi.outputs[i] == engine_model_output(m, i));
		CU_ASSERT(engine_model_value(m, engine_model_output(m, i),
		    &vi) == RF_OK && strcmp(vi.name, names[i]) == 0);
	}
	struct tensor x, out[3];
	int64_t d2[1] = { 2 };
	CU_ASSERT_FATAL(engine_tensor_init(&x, TENSOR_F32, 1, d2) == RF_OK);
	((float *)x.data)[0] = -1.5f;
	((float *)x.data)[1] = 0.0f;
	run(m, &x, out, ENGINE_KERNELS_FAST);
	const float *sb = out[0].data, *ra = out[1].data, *w = out[2].data;
	CU_ASSERT(ra[0] == 0.0f && ra[1] == 0.0f);
	CU_ASSERT(sb[0] > 0.18f && sb[0] < 0.19f && sb[1] == 0.5f);
	CU_ASSERT(w[0] == 0.5f && w[1] == -2.0f);
	fini_all(out, 3);
	engine_tensor_fini(&x);
	engine_model_free(m);
}

/* ------------------------------------------------------------------ */
/* Registration                                                         */
/* ------------------------------------------------------------------ */

static CU_TestInfo bytegpt_tests[] = {
	{ "prompt logits match PyTorch's", test_prompt_logits },
	{ "no greedy step is near a tie", test_margins },
	{ "greedy tokens, plain model, step by step", test_greedy_plain },
	{ "one KV-cache decode step matches PyTorch's", test_kv_step },
	{ "greedy tokens with the KV cache", test_greedy_kv },
	{ "refute model import and run of the KV model", test_kv_cli },
	{ "a generation from the import: PyTorch's tokens",
	    test_generate_whole },
	{ "refute generate on the import: PyTorch's tokens and text",
	    test_generate_cli },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo outputs_tests[] = {
	{ "outputs of several operators gathered", test_multi_out },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "bytegpt: trained byte-level GPT", suite_init, suite_fini, NULL,
	    NULL, bytegpt_tests },
	{ "onnx: several graph outputs", NULL, NULL, NULL, NULL,
	    outputs_tests },
	CU_SUITE_INFO_NULL,
};

int
main(void)
{
	return test_main(suites);
}
