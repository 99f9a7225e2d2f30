/*
 * tests/engine/generate_test.c - generation (engine/op_sample.c,
 * engine/generate.c, docs/generation.md): the sampler on crafted logits
 * (ties, NaN, top-k and top-p at their boundaries, temperature, the
 * random stream), parameters out of range, the generation graph against
 * recomputing the whole prefix at every step, and 1 against 2 threads.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/engine_int.h"
#include "tests/testlib.h"

static int64_t
draw(const struct engine_sampler *s, const float *l, size_t v, uint64_t seed,
    uint64_t step)
{
	int64_t t = -1;
	struct rf_errinfo ei = { "" };
	CU_ASSERT_EQUAL_FATAL(engine_sample(s, l, v, seed, step, &t, &ei),
	    RF_OK);
	return t;
}

static void
test_greedy_ties(void)
{
	struct engine_sampler s;
	engine_sampler_init(&s);
	float a[4] = { 1, 3, 3, 2 };
	CU_ASSERT_EQUAL(draw(&s, a, 4, 0, 0), 1);
	float b[4] = { NAN, -INFINITY, 0.5f, 0.5f };
	CU_ASSERT_EQUAL(draw(&s, b, 4, 0, 0), 2);
	float c[3] = { -INFINITY, NAN, -INFINITY };
	CU_ASSERT_EQUAL(draw(&s, c, 3, 0, 0), 0);
	/* A NaN never beats a number, however it is placed. */
	float d[3] = { -1e30f, NAN, -2e30f };
	CU_ASSERT_EQUAL(draw(&s, d, 3, 9, 9), 0);
	/* -0 and +0 tie: the lower id. */
	float e[2] = { -0.0f, 0.0f };
	CU_ASSERT_EQUAL(draw(&s, e, 2, 0, 0), 0);
}

static void
test_random_stream(void)
{
	/* splitmix64's (step + 1)-th output from state seed. */
	for (uint64_t seed = 0; seed < 5; seed++) {
		struct engine_rng r;
		engine_rng_seed(&r, seed * 0x1234567ULL);
		for (uint64_t step = 0; step < 20; step++) {
			uint64_t z = engine_rng_next(&r);
			double u = (double)(z >> 11) * 0x1p-53;
			CU_ASSERT(engine_sample_uniform(seed * 0x1234567ULL,
			    step) == u);
			CU_ASSERT(u >= 0.0 && u < 1.0);
		}
	}
}

static void
test_temperature(void)
{
	struct engine_sampler s;
	engine_sampler_init(&s);
	/* Two equal logits: token 1 exactly when u >= 1/2. */
	s.temperature = 1.0f;
	float eq[2] = { 0, 0 };
	int seen[2] = { 0, 0 };
	for (uint64_t seed = 0; seed < 200; seed++) {
		int64_t t = draw(&s, eq, 2, seed, 3);
		double u = engine_sample_uniform(seed, 3);
		CU_ASSERT_EQUAL(t, u * 2.0 < 1.0 ? 0 : 1);
		seen[t]++;
	}
	CU_ASSERT(seen[0] > 50 && seen[1] > 50);
	/* Temperature 2 on {2, 0}: weights 1 and e^-1, from engine_det_exp. */
	s.temperature = 2.0f;
	float two[2] = { 2, 0 };
	double w1 = engine_det_exp(-1.0);
	for (uint64_t seed = 0; seed < 200; seed++) {
		double u = engine_sample_uniform(seed, 0);
		int64_t want = 1.0 > u * (1.0 + w1) ? 0 : 1;
		CU_ASSERT_EQUAL(draw(&s, two, 2, seed, 0), want);
	}
	/* A tiny temperature on distinct logits is greedy. */
	s.temperature = 1e-3f;
	float f[5] = { 0.1f, 0.7f, 0.2f, 0.69f, -3 };
	for (uint64_t seed = 0; seed < 50; seed++) {
		CU_ASSERT_EQUAL(draw(&s, f, 5, seed, seed), 1);
	}
	/* Ties sort by id: the candidate order decides which id a draw
	 * falls on, whatever the logits' positions. */
	s.temperature = 1.0f;
	float t3[3] = { 5, 5, 5 };
	for (uint64_t seed = 0; seed < 100; seed++) {
		double u = engine_sample_uniform(seed, 1);
		double tg = u * 3.0;
		int64_t want = 1.0 > tg ? 0 : 2.0 > tg ? 1 : 2;
		CU_ASSERT_EQUAL(draw(&s, t3, 3, seed, 1), want);
	}
}

static void
test_top_k_top_p(void)
{
	struct engine_sampler s;
	engine_sampler_init(&s);
	s.temperature = 1.0f;
	float flat[4] = { 0, 0, 0, 0 };
	float skew[4] = { 1, 5, 5, 0 };
	/* top_k 1: the lowest id among the maxima, for every seed. */
	s.top_k = 1;
	for (uint64_t seed = 0; seed < 50; seed++) {
		CU_ASSERT_EQUAL(draw(&s, skew, 4, seed, 0), 1);
	}
	/* top_k 2 of four equal logits: ids 0 and 1, both drawn. */
	s.top_k = 2;
	int seen[4] = { 0 };
	for (uint64_t seed = 0; seed < 200; seed++) {
		seen[draw(&s, flat, 4, seed, 0)]++;
	}
	CU_ASSERT(seen[0] > 0 && seen[1] > 0 && seen[2] == 0 && seen[3] == 0);
	/* top_k = V is every candidate. */
	s.top_k = 4;
	memset(seen, 0, sizeof(seen));
	for (uint64_t seed = 0; seed < 400; seed++) {
		seen[draw(&s, flat, 4, seed, 0)]++;
	}
	CU_ASSERT(seen[0] && seen[1] && seen[2] && seen[3]);
	/* top_p 0.5 of four equal weights: running sums 1, 2, 3, 4 and
	 * 0.5 x 4 = 2 is reached at the second (>=): ids 0 and 1 only. */
	s.top_k = 0;
	s.top_p = 0.5f;
	memset(seen, 0, sizeof(seen));
	for (uint64_t seed = 0; seed < 400; seed++) {
		seen[draw(&s, flat, 4, seed, 0)]++;
	}
	CU_ASSERT(seen[0] && seen[1] && !seen[2] && !seen[3]);
	/* Just above 0.5: the third is needed too. */
	s.top_p = 0.5001f;
	memset(seen, 0, sizeof(seen));
	for (uint64_t seed = 0; seed < 400; seed++) {
		seen[draw(&s, flat, 4, seed, 0)]++;
	}
	CU_ASSERT(seen[0] && seen[1] && seen[2] && !seen[3]);
	/* top_k and top_p together: k first, then the nucleus of the k. */
	s.top_k = 3;
	s.top_p = 0.34f; /* 0.34 x 3 = 1.02: needs two */
	memset(seen, 0, sizeof(seen));
	for (uint64_t seed = 0; seed < 400; seed++) {
		seen[draw(&s, flat, 4, seed, 0)]++;
	}
	CU_ASSERT(seen[0] && seen[1] && !seen[2] && !seen[3]);
	/* A tiny top_p keeps the first candidate: the draw is greedy. */
	s.top_k = 0;
	s.top_p = 1e-6f;
	for (uint64_t seed = 0; seed < 50; seed++) {
		CU_ASSERT_EQUAL(draw(&s, skew, 4, seed, 0), 1);
	}
}

static void
test_out_of_range(void)
{
	struct engine_sampler s;
	float l[4] = { 0, 1, 2, 3 };
	int64_t t = 99;
	struct rf_errinfo ei = { "" };
	const struct {
		float temp;
		int64_t k;
		float p;
	} bad[] = {
		{ -1.0f, 0, 1.0f }, { NAN, 0, 1.0f }, { 100.5f, 0, 1.0f },
		{ INFINITY, 0, 1.0f }, { 1.0f, 5, 1.0f }, { 1.0f, -1, 1.0f },
		{ 1.0f, 0, 0.0f }, { 1.0f, 0, 1.5f }, { 1.0f, 0, NAN },
		{ 0.0f, 2, 1.0f }, { 0.0f, 0, 0.9f },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s.temperature = bad[i].temp;
		s.top_k = bad[i].k;
		s.top_p = bad[i].p;
		CU_ASSERT_EQUAL(engine_sample(&s, l, 4, 1, 0, &t, &ei),
		    RF_ERR_INVAL);
		CU_ASSERT_EQUAL(t, 99);
	}
	engine_sampler_init(&s);
	CU_ASSERT_EQUAL(engine_sample(&s, l, 0, 1, 0, &t, &ei), RF_ERR_INVAL);
}

/* ------------------------------------------------------------------ */
/* The generation graph                                                 */
/* ------------------------------------------------------------------ */

static struct engine_model *
small_gpt(bool tied, uint64_t seed)
{
	struct engine_gen_opts o;
	engine_gen_opts_init(&o, ENGINE_GEN_GPT);
	o.vocab = 50;
	o.d_model = 32;
	o.heads = 4;
	o.blocks = 2;
	o.context = 20;
	o.tied = tied;
	o.seed = seed;
	struct engine_model *m = NULL;
	struct rf_errinfo ei = { "" };
	CU_ASSERT_EQUAL_FATAL(engine_model_generate(&o, &m, &ei), RF_OK);
	return m;
}

/* FNV-1a over every trace entry: two runs agree on every leaf iff ... */
struct fold {
	uint64_t h;
	size_t entries;
};

static int
fold_hook(void *ctx, size_t index, const struct tensor *const *t, size_t n)
{
	struct fold *f = ctx;
	(void)index;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = t[i]->data;
		size_t nb = engine_tensor_nbytes(t[i]);
		for (size_t k = 0; k < nb; k++) {
			f->h = (f->h ^ p[k]) * 0x100000001b3ULL;
		}
	}
	f->entries++;
	return 0;
}

/* Runs the generation graph: the generated tokens into gen[n_new]. */
static void
run_generation(const struct engine_model *base,
    const struct engine_generation *g, const int64_t *prompt, uint64_t seed,
    int64_t *gen, struct fold *f)
{
	struct engine_model *gm = NULL;
	struct rf_errinfo ei = { "" };
	CU_ASSERT_EQUAL_FATAL(engine_generation_model(base, g, &gm, &ei),
	    RF_OK);
	struct tensor in[2];
	memset(in, 0, sizeof(in));
	int64_t pd[1] = { g->prompt_len }, one[1] = { 1 };
	CU_ASSERT_EQUAL_FATAL(engine_tensor_init(&in[0], TENSOR_I64, 1, pd),
	    RF_OK);
	memcpy(in[0].data, prompt, (size_t)g->prompt_len * sizeof(int64_t));
	size_t n_in = engine_model_input_count(gm);
	CU_ASSERT_EQUAL(n_in, engine_sampler_greedy(&g->sampler) ? 1u : 2u);
	if (n_in == 2) {
		CU_ASSERT_EQUAL_FATAL(engine_tensor_init(&in[1], TENSOR_I64, 1,
		    one), RF_OK);
		memcpy(in[1].data, &seed, sizeof(seed));
	}
	struct engine_run_opts ro;
	engine_run_opts_init(&ro);
	ro.trace = fold_hook;
	ro.trace_ctx = f;
	struct tensor out[2];
	memset(out, 0, sizeof(out));
	CU_ASSERT_EQUAL_FATAL(engine_run(gm, in, n_in, out, &ro, &ei), RF_OK);
	CU_ASSERT_EQUAL(out[1].count, (size_t)g->n_new);
	memcpy(gen, out[1].data, (size_t)g->n_new * sizeof(int64_t));
	CU_ASSERT_EQUAL(*(int64_t *)out[0].data, gen[g->n_new - 1]);
	for (int i = 0; i < 2; i++) {
		engine_tensor_fini(&in[i]);
		engine_tensor_fini(&out[i]);
	}
	engine_model_free(gm);
}

/*
 * The same generation without a cache: at every step the base model runs
 * the whole prefix (padded to its context; causal attention leaves the
 * rows before the padding untouched) and the sampler draws from the last
 * real row's logits.
 */
static void
recompute(const struct engine_model *base, const struct engine_generation *g,
    const int64_t *prompt, uint64_t seed, int64_t *gen)
{
	struct engine_gpt_shape sh;
	struct rf_errinfo ei = { "" };
	CU_ASSERT_EQUAL_FATAL(engine_gpt_shape(base, &sh, &ei), RF_OK);
	struct tensor in;
	int64_t cd[1] = { sh.context };
	CU_ASSERT_EQUAL_FATAL(engine_tensor_init(&in, TENSOR_I64, 1, cd), RF_OK);
	int64_t *seq = in.data;
	memcpy(seq, prompt, (size_t)g->prompt_len * sizeof(int64_t));
	int64_t len = g->prompt_len;
	for (int64_t i = 0; i < g->n_new; i++) {
		struct tensor out;
		memset(&out, 0, sizeof(out));
		CU_ASSERT_EQUAL_FATAL(engine_run(base, &in, 1, &out, NULL, &ei),
		    RF_OK);
		const float *row = (const float *)out.data + (len - 1) *
		    sh.vocab;
		CU_ASSERT_EQUAL_FATAL(engine_sample(&g->sampler, row,
		    (size_t)sh.vocab, seed, (uint64_t)i, &gen[i], &ei), RF_OK);
		seq[len++] = gen[i];
		engine_tensor_fini(&out);
	}
	engine_tensor_fini(&in);
}

static void
test_cache_equals_recompute(void)
{
	const int64_t prompt[6] = { 3, 41, 7, 7, 0, 12 };
	for (int tied = 0; tied < 2; tied++) {
		struct engine_model *base = small_gpt(tied, 5 + (uint64_t)tied);
		struct engine_generation g;
		memset(&g, 0, sizeof(g));
		engine_sampler_init(&g.sampler);
		for (int mode = 0; mode < 3; mode++) {
			g.prompt_len = mode == 2 ? 1 : 6;
			g.n_new = mode == 2 ? 19 : 10;
			if (mode == 1) {
				g.sampler.temperature = 1.5f;
				g.sampler.top_k = 30;
				g.sampler.top_p = 0.95f;
			}
			int64_t a[20], b[20];
			struct fold f = { 0xcbf29ce484222325ULL, 0 };
			run_generation(base, &g, prompt, 77, a, &f);
			recompute(base, &g, prompt, 77, b);
			CU_ASSERT_EQUAL(memcmp(a, b, (size_t)g.n_new *
			    sizeof(int64_t)), 0);
		}
		engine_model_free(base);
	}
}

static void
test_threads_agree(void)
{
	struct engine_model *base = small_gpt(true, 9);
	const int64_t prompt[4] = { 1, 2, 3, 4 };
	struct engine_generation g;
	memset(&g, 0, sizeof(g));
	g.prompt_len = 4;
	g.n_new = 12;
	g.sampler.temperature = 0.9f;
	g.sampler.top_k = 0;
	g.sampler.top_p = 0.9f;
	size_t old = engine_par_min_work_set(0);
	int64_t first[12];
	struct fold f1 = { 0xcbf29ce484222325ULL, 0 };
	for (unsigned t = 1; t <= 2; t++) {
		CU_ASSERT_EQUAL(engine_threads_set(t), RF_OK);
		int64_t gen[12];
		struct fold f = { 0xcbf29ce484222325ULL, 0 };
		run_generation(base, &g, prompt, 3, gen, &f);
		if (t == 1) {
			memcpy(first, gen, sizeof(gen));
			f1 = f;
		} else {
			CU_ASSERT_EQUAL(memcmp(first, gen, sizeof(gen)), 0);
			CU_ASSERT_EQUAL(f.h, f1.h);
			CU_ASSERT_EQUAL(f.entries, f1.entries);
		}
	}
	engine_par_min_work_set(old);
	engine_threads_set(1);
	/* Another seed draws other tokens (the seed is an input). */
	int64_t other[12];
	struct fold f = { 0xcbf29ce484222325ULL, 0 };
	run_generation(base, &g, prompt, 4, other, &f);
	CU_ASSERT(memcmp(first, other, sizeof(other)) != 0);
	engine_model_free(base);
}

static void
test_bad_generations(void)
{
	struct engine_model *base = small_gpt(true, 1);
	struct engine_model *gm = NULL;
	struct rf_errinfo ei = { "" };
	struct engine_generation g;
	memset(&g, 0, sizeof(g));
	engine_sampler_init(&g.sampler);
	g.prompt_len = 5;
	g.n_new = 16; /* 5 + 16 > 20 */
	CU_ASSERT_EQUAL(engine_generation_model(base, &g, &gm, &ei),
	    RF_ERR_RANGE);
	CU_ASSERT(strstr(ei.msg, "context") != NULL);
	g.n_new = 15; /* fills the context exactly */
	CU_ASSERT_EQUAL(engine_generation_model(base, &g, &gm, &ei), RF_OK);
	engine_model_free(gm);
	gm = NULL;
	g.n_new = 0;
	CU_ASSERT_EQUAL(engine_generation_model(base, &g, &gm, &ei),
	    RF_ERR_INVAL);
	g.n_new = 2;
	g.prompt_len = 0;
	CU_ASSERT_EQUAL(engine_generation_model(base, &g, &gm, &ei),
	    RF_ERR_INVAL);
	g.prompt_len = 21;
	CU_ASSERT_EQUAL(engine_generation_model(base, &g, &gm, &ei),
	    RF_ERR_RANGE);
	g.prompt_len = 2;
	g.sampler.temperature = 1.0f;
	g.sampler.top_k = 51; /* vocabulary 50 */
	CU_ASSERT_EQUAL(engine_generation_model(base, &g, &gm, &ei),
	    RF_ERR_INVAL);
	CU_ASSERT(gm == NULL);
	engine_model_free(base);
	/* Not a language model. */
	struct engine_gen_opts o;
	engine_gen_opts_init(&o, ENGINE_GEN_MLP);
	CU_ASSERT_EQUAL_FATAL(engine_model_generate(&o, &base, &ei), RF_OK);
	engine_sampler_init(&g.sampler);
	CU_ASSERT_EQUAL(engine_generation_model(base, &g, &gm, &ei),
	    RF_ERR_NOTSUP);
	engine_model_free(base);
}

/* The Sample operator as a referee evaluates it: one step, from the
 * logits, gives the token the sampler draws and nothing else. */
static void
test_sample_op_one_step(void)
{
	struct engine_model *base = small_gpt(false, 2);
	struct engine_generation g;
	memset(&g, 0, sizeof(g));
	g.prompt_len = 3;
	g.n_new = 3;
	g.sampler.temperature = 1.0f;
	g.sampler.top_p = 1.0f;
	struct engine_model *gm = NULL;
	struct rf_errinfo ei = { "" };
	CU_ASSERT_EQUAL_FATAL(engine_generation_model(base, &g, &gm, &ei),
	    RF_OK);
	size_t last = engine_model_op_count(gm) - 1;
	struct engine_op_info oi;
	CU_ASSERT_EQUAL_FATAL(engine_model_op(gm, last, &oi), RF_OK);
	CU_ASSERT_EQUAL(oi.op, ENGINE_OP_SAMPLE);
	CU_ASSERT_EQUAL(oi.n_inputs, 3u);
	struct tensor lg, prev, seed;
	int64_t ld[2] = { 1, 50 }, pd[1] = { 2 }, sd[1] = { 1 };
	CU_ASSERT_EQUAL_FATAL(engine_tensor_init(&lg, TENSOR_F32, 2, ld), RF_OK);
	CU_ASSERT_EQUAL_FATAL(engine_tensor_init(&prev, TENSOR_I64, 1, pd),
	    RF_OK);
	CU_ASSERT_EQUAL_FATAL(engine_tensor_init(&seed, TENSOR_I64, 1, sd),
	    RF_OK);
	float *l = lg.data;
	for (int i = 0; i < 50; i++) {
		l[i] = (float)(i % 7) * 0.25f;
	}
	((int64_t *)prev.data)[0] = 4;
	((int64_t *)prev.data)[1] = 9;
	((int64_t *)seed.data)[0] = 12345;
	const struct tensor *ins[3] = { &lg, &prev, &seed };
	struct tensor out[2];
	memset(out, 0, sizeof(out));
	CU_ASSERT_EQUAL_FATAL(engine_op_eval(gm, last, ins, out,
	    ENGINE_KERNELS_REF, &ei), RF_OK);
	int64_t want;
	CU_ASSERT_EQUAL(engine_sample(&g.sampler, l, 50, 12345, 2, &want, &ei),
	    RF_OK);
	CU_ASSERT_EQUAL(*(int64_t *)out[0].data, want);
	CU_ASSERT_EQUAL(out[1].count, 3u);
	CU_ASSERT_EQUAL(((int64_t *)out[1].data)[0], 4);
	CU_ASSERT_EQUAL(((int64_t *)out[1].data)[1], 9);
	CU_ASSERT_EQUAL(((int64_t *)out[1].data)[2], want);
	engine_tensor_fini(&out[0]);
	engine_tensor_fini(&out[1]);
	/* Without its seed a sampling step cannot run. */
	const struct tensor *noseed[3] = { &lg, &prev, NULL };
	CU_ASSERT_EQUAL(engine_op_eval(gm, last, noseed, out,
	    ENGINE_KERNELS_REF, &ei), RF_ERR_INVAL);
	engine_tensor_fini(&lg);
	engine_tensor_fini(&prev);
	engine_tensor_fini(&seed);
	engine_model_free(gm);
	engine_model_free(base);
}

/* The generation graph survives the model file: what a network
 * registers and serves. */
static void
test_graph_encodes(void)
{
	struct engine_model *base = small_gpt(true, 3);
	struct engine_generation g;
	memset(&g, 0, sizeof(g));
	engine_sampler_init(&g.sampler);
	g.prompt_len = 2;
	g.n_new = 4;
	struct engine_model *gm = NULL, *back = NULL;
	struct rf_errinfo ei = { "" };
	CU_ASSERT_EQUAL_FATAL(engine_generation_model(base, &g, &gm, &ei),
	    RF_OK);
	uint8_t *b1, *b2;
	size_t l1, l2;
	CU_ASSERT_EQUAL_FATAL(engine_model_encode(gm, &b1, &l1), RF_OK);
	CU_ASSERT_EQUAL_FATAL(engine_model_decode(b1, l1, &back, &ei), RF_OK);
	CU_ASSERT_EQUAL_FATAL(engine_model_encode(back, &b2, &l2), RF_OK);
	CU_ASSERT(l1 == l2 && memcmp(b1, b2, l1) == 0);
	CU_ASSERT_STRING_EQUAL(engine_model_name(back), "gpt.gen");
	free(b1);
	free(b2);
	engine_model_free(back);
	engine_model_free(gm);
	engine_model_free(base);
}

/* Replaces every occurrence of a 4-byte pattern; returns how many. */
static size_t
patch4(uint8_t *b, size_t len, uint32_t from, uint32_t to)
{
	size_t n = 0;
	for (size_t i = 0; i + 4 <= len; i++) {
		uint32_t v;
		memcpy(&v, b + i, 4);
		if (v == from) {
			memcpy(b + i, &to, 4);
			n++;
		}
	}
	return n;
}

/* A cheater's graph: the generation graph with a sampler parameter out of
 * range written into its bytes (the builder refuses to make one) is
 * refused where a referee meets it, decoding the registered graph. */
static void
test_cheater_graph_refused(void)
{
	struct engine_model *base = small_gpt(true, 4);
	struct engine_generation g;
	memset(&g, 0, sizeof(g));
	g.prompt_len = 2;
	g.n_new = 3;
	g.sampler.temperature = 0.8f;
	g.sampler.top_p = 0.95f;
	struct engine_model *gm = NULL, *back = NULL;
	struct rf_errinfo ei = { "" };
	CU_ASSERT_EQUAL_FATAL(engine_generation_model(base, &g, &gm, &ei),
	    RF_OK);
	uint8_t *b;
	size_t len;
	CU_ASSERT_EQUAL_FATAL(engine_model_encode_graph(gm, &b, &len), RF_OK);
	CU_ASSERT_EQUAL_FATAL(engine_model_decode_graph(b, len, &back, &ei),
	    RF_OK);
	engine_model_free(back);
	back = NULL;
	const struct {
		float from, to;
		const char *says;
	} lies[] = {
		{ 0.8f, -1.0f, "temperature" },
		{ 0.8f, 1000.0f, "temperature" },
		{ 0.95f, 1.5f, "top-p" },
		{ 0.95f, 0.0f, "top-p" },
	};
	for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		uint8_t *c = malloc(len);
		CU_ASSERT_FATAL(c != NULL);
		memcpy(c, b, len);
		uint32_t f, t;
		memcpy(&f, &lies[i].from, 4);
		memcpy(&t, &lies[i].to, 4);
		CU_ASSERT_EQUAL(patch4(c, len, f, t), 3); /* one per Sample */
		ei.msg[0] = '\0';
		CU_ASSERT_EQUAL(engine_model_decode_graph(c, len, &back, &ei),
		    RF_ERR_INVAL);
		CU_ASSERT(back == NULL);
		CU_ASSERT(strstr(ei.msg, lies[i].says) != NULL);
		free(c);
	}
	free(b);
	engine_model_free(gm);
	engine_model_free(base);
}

static CU_TestInfo tests[] = {
	{ "sampler: greedy ties, NaN, -inf", test_greedy_ties },
	{ "sampler: the random stream is splitmix64", test_random_stream },
	{ "sampler: temperature, exact draws", test_temperature },
	{ "sampler: top-k and top-p boundaries", test_top_k_top_p },
	{ "sampler: parameters out of range", test_out_of_range },
	{ "generation: KV cache = recomputing the prefix",
	    test_cache_equals_recompute },
	{ "generation: 1 and 2 threads, every leaf", test_threads_agree },
	{ "generation: bad generations refused", test_bad_generations },
	{ "generation: the Sample operator's one step",
	    test_sample_op_one_step },
	{ "generation: the graph encodes canonically", test_graph_encodes },
	{ "generation: a cheater's sampler parameters are refused",
	    test_cheater_graph_refused },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "generate", NULL, NULL, NULL, NULL, tests },
	CU_SUITE_INFO_NULL,
};

int
main(void)
{
	return test_main(suites);
}
