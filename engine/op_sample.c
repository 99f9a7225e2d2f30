/*
 * engine/op_sample.c - the sampler of a generation and the Sample
 * operator that runs it inside a generation graph. Every step is written
 * down in docs/generation.md: the random stream, the float operations and
 * the order of every comparison, so every honest party draws the same
 * token. Only IEEE 754 correctly rounded operations and engine_det_exp:
 * no libm.
 */
#include <stdlib.h>

#include "engine/engine_int.h"

void
engine_sampler_init(struct engine_sampler *s)
{
	s->temperature = 0.0f;
	s->top_k = 0;
	s->top_p = 1.0f;
}

bool
engine_sampler_greedy(const struct engine_sampler *s)
{
	return s->temperature == 0.0f;
}

int
engine_sampler_check(const struct engine_sampler *s, int64_t vocab,
    struct rf_errinfo *ei)
{
	float t = s->temperature;
	/* Written so that a NaN fails every test. */
	if (!(t >= 0.0f && t <= ENGINE_SAMPLE_TEMPERATURE_MAX)) {
		return rf_errf(ei, RF_ERR_INVAL, "temperature must be 0 (greedy) "
		    "or in (0, %g], got %g", (double)ENGINE_SAMPLE_TEMPERATURE_MAX,
		    (double)t);
	}
	if (!(s->top_p > 0.0f && s->top_p <= 1.0f)) {
		return rf_errf(ei, RF_ERR_INVAL, "top-p must be in (0, 1], got %g",
		    (double)s->top_p);
	}
	if (s->top_k < 0 || (vocab > 0 && s->top_k > vocab)) {
		return rf_errf(ei, RF_ERR_INVAL, "top-k must be 0 (off) or "
		    "1..%lld (the vocabulary), got %lld", (long long)vocab,
		    (long long)s->top_k);
	}
	if (t == 0.0f && (s->top_k != 0 || s->top_p != 1.0f)) {
		return rf_errf(ei, RF_ERR_INVAL, "greedy decoding (temperature 0) "
		    "takes no top-k or top-p");
	}
	return RF_OK;
}

double
engine_sample_uniform(uint64_t seed, uint64_t step)
{
	/* splitmix64's (step + 1)-th output from state seed, computed
	 * directly: the state after step + 1 additions of the constant. */
	uint64_t z = seed + (step + 1) * 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return (double)(z >> 11) * 0x1p-53;
}

/* NaN ranks with -inf: below every number. */
static float
logit_key(float x)
{
	return x != x ? -__builtin_inff() : x;
}

struct cand {
	float z;
	uint32_t id;
};

/* Larger z first; equal z: lower id first. A total order (ids differ),
 * so any correct sort gives the one same sequence. */
static int
cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->z > y->z) {
		return -1;
	}
	if (x->z < y->z) {
		return 1;
	}
	return (x->id > y->id) - (x->id < y->id);
}

int
engine_sample(const struct engine_sampler *s, const float *logits,
    size_t vocab, uint64_t seed, uint64_t step, int64_t *token,
    struct rf_errinfo *ei)
{
	if (vocab == 0 || vocab > UINT32_MAX) {
		return rf_errf(ei, RF_ERR_INVAL, "a vocabulary of %zu logits",
		    vocab);
	}
	int err = engine_sampler_check(s, (int64_t)vocab, ei);
	if (err != RF_OK) {
		return err;
	}
	if (engine_sampler_greedy(s)) {
		/* The first maximum: ties go to the lowest id. */
		size_t best = 0;
		for (size_t i = 1; i < vocab; i++) {
			if (logit_key(logits[i]) > logit_key(logits[best])) {
				best = i;
			}
		}
		*token = (int64_t)best;
		return RF_OK;
	}
	struct cand *c = malloc(vocab * sizeof(*c));
	double *cum = malloc(vocab * sizeof(*cum));
	if (c == NULL || cum == NULL) {
		free(c);
		free(cum);
		return rf_errf(ei, RF_ERR_NOMEM, "no memory for %zu candidates",
		    vocab);
	}
	/* 1. Temperature: one float division per logit. */
	for (size_t i = 0; i < vocab; i++) {
		c[i].z = logit_key(logits[i]) / s->temperature;
		c[i].id = (uint32_t)i;
	}
	/* 2. The candidates in order. */
	qsort(c, vocab, sizeof(*c), cand_cmp);
	size_t n = s->top_k > 0 ? (size_t)s->top_k : vocab;
	float m = c[0].z;
	if (m == -__builtin_inff()) {
		/* Nothing has any weight: the first candidate. */
		*token = c[0].id;
		free(c);
		free(cum);
		return RF_OK;
	}
	/* 3. Weights and their running sums, in double, in candidate order. */
	double run = 0.0;
	for (size_t j = 0; j < n; j++) {
		double dlt = (double)c[j].z - (double)m;
		double e = dlt < -745.14 ? 0.0 : engine_det_exp(dlt);
		run = run + e;
		cum[j] = run;
	}
	/* 4. Nucleus: the shortest prefix holding top_p of the weight. */
	if (s->top_p < 1.0f) {
		double need = (double)s->top_p * cum[n - 1];
		size_t keep = n;
		for (size_t j = 0; j < n; j++) {
			if (cum[j] >= need) {
				keep = j + 1;
				break;
			}
		}
		n = keep;
	}
	/* 5. The draw: the first candidate whose running sum passes u S. */
	double target = engine_sample_uniform(seed, step) * cum[n - 1];
	size_t pick = n - 1;
	for (size_t j = 0; j < n; j++) {
		if (cum[j] > target) {
			pick = j;
			break;
		}
	}
	*token = c[pick].id;
	free(c);
	free(cum);
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* The Sample operator                                                  */
/* ------------------------------------------------------------------ */

struct sample_params {
	struct engine_sampler s;
	int64_t step;
};

int
engine_op_sample_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	(void)n_inputs;
	static const char *const known[] = { "step", "temperature", "top_k",
		"top_p", NULL };
	struct sample_params sp;
	memset(&sp, 0, sizeof(sp));
	int err = engine_op_attrs_only(at, known, "Sample", ei);
	if (err == RF_OK) {
		err = engine_op_attr_get_float(at, "temperature", 0.0f,
		    &sp.s.temperature, ei);
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "top_k", 0, 0, UINT32_MAX,
		    &sp.s.top_k, ei);
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_float(at, "top_p", 1.0f, &sp.s.top_p,
		    ei);
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "step", 0, 0, INT64_MAX,
		    &sp.step, ei);
	}
	if (err == RF_OK) {
		err = engine_sampler_check(&sp.s, 0, ei);
	}
	if (err == RF_OK) {
		OP_PARAMS_PUT(p, sp);
	}
	return err;
}

/*
 * Inputs: logits f32 [1, V] or [V]; the tokens drawn so far i64 [n]
 * (absent at the first draw); the seed i64 [1] (absent when greedy).
 * Outputs: the token i64 [1] and the tokens so far with it, i64 [n + 1].
 */
int
engine_op_sample_eval(const struct op_call *c)
{
	struct sample_params sp;
	OP_PARAMS_GET(c->params, sp);
	const struct tensor *lg = c->in[0];
	const struct tensor *prev = c->n_in > 1 ? c->in[1] : NULL;
	const struct tensor *seed = c->n_in > 2 ? c->in[2] : NULL;
	int err = engine_op_need_dtype(c, 0, TENSOR_F32);
	if (err != RF_OK) {
		return err;
	}
	if (!(lg->rank == 1 || (lg->rank == 2 && lg->dims[0] == 1)) ||
	    lg->count == 0) {
		return rf_errf(c->ei, RF_ERR_SHAPE, "logits must be [V] or "
		    "[1, V] with V > 0");
	}
	if (sp.s.top_k > (int64_t)lg->count) {
		return rf_errf(c->ei, RF_ERR_INVAL, "top_k %lld over the "
		    "vocabulary of %zu", (long long)sp.s.top_k, lg->count);
	}
	if (prev != NULL && (prev->dtype != TENSOR_I64 || prev->rank != 1)) {
		return rf_errf(c->ei, RF_ERR_DTYPE, "the tokens so far must be "
		    "i64 [n]");
	}
	if (seed != NULL && (seed->dtype != TENSOR_I64 || seed->count != 1)) {
		return rf_errf(c->ei, RF_ERR_DTYPE, "the seed must be one i64");
	}
	if (seed == NULL && !engine_sampler_greedy(&sp.s)) {
		return rf_errf(c->ei, RF_ERR_INVAL, "sampling at temperature "
		    "%g needs a seed", (double)sp.s.temperature);
	}
	int64_t one[1] = { 1 };
	int64_t n_prev = prev != NULL ? prev->dims[0] : 0;
	int64_t seq[1] = { n_prev + 1 };
	err = engine_op_out_alloc(c, 0, TENSOR_I64, 1, one);
	if (err == RF_OK) {
		err = engine_op_out_alloc(c, 1, TENSOR_I64, 1, seq);
		if (err != RF_OK) {
			engine_tensor_fini(&c->out[0]);
		}
	}
	if (err != RF_OK) {
		return err;
	}
	uint64_t sd = 0;
	if (seed != NULL) {
		int64_t v = *(const int64_t *)seed->data;
		memcpy(&sd, &v, sizeof(sd));
	}
	int64_t tok;
	err = engine_sample(&sp.s, lg->data, lg->count, sd, (uint64_t)sp.step,
	    &tok, c->ei);
	if (err != RF_OK) {
		engine_tensor_fini(&c->out[0]);
		engine_tensor_fini(&c->out[1]);
		return err;
	}
	*(int64_t *)c->out[0].data = tok;
	int64_t *sq = c->out[1].data;
	if (n_prev > 0) {
		memcpy(sq, prev->data, (size_t)n_prev * sizeof(int64_t));
	}
	sq[n_prev] = tok;
	return RF_OK;
}
