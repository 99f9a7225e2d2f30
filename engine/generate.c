/*
 * engine/generate.c - a generation as one graph. From a language model
 * laid out as `model gen gpt` writes it and a generation's parameters
 * (prompt length, new tokens, sampler) this derives, deterministically, a
 * model that runs the prefill, then each decode step on the one new token
 * with the KV cache, and a Sample operator per new token. One run of it is
 * one trace, so the dispute game, the referee's one step, audit and the
 * simulator apply to a generation unchanged. docs/generation.md has the
 * graph, and why the cache is carried the way it is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "engine/model_int.h"

/* ------------------------------------------------------------------ */
/* Recognising the layout                                               */
/* ------------------------------------------------------------------ */

static const struct tensor *
weight_of(const struct engine_model *m, const char *name,
    struct engine_value_info *vi)
{
	int idx;
	if (engine_model_find(m, name, &idx) != RF_OK ||
	    engine_model_value(m, idx, vi) != RF_OK ||
	    vi->kind != ENGINE_VALUE_WEIGHT) {
		return NULL;
	}
	return vi->weight;
}

/* A weight that must exist with this dtype and rank (dims < 0: any). */
static int
need_weight(const struct engine_model *m, const char *name,
    enum tensor_dtype dt, int rank, const int64_t *dims,
    const struct tensor **out, struct rf_errinfo *ei)
{
	struct engine_value_info vi;
	const struct tensor *t = weight_of(m, name, &vi);
	if (t == NULL) {
		return rf_errf(ei, RF_ERR_NOTSUP, "not a gpt layout: no weight "
		    "'%s'", name);
	}
	bool ok = t->dtype == dt && t->rank == rank;
	for (int i = 0; ok && i < rank; i++) {
		ok = dims[i] < 0 || t->dims[i] == dims[i];
	}
	if (!ok) {
		char sh[64];
		engine_tensor_shape_str(t, sh, sizeof(sh));
		return rf_errf(ei, RF_ERR_NOTSUP, "not a gpt layout: weight "
		    "'%s' is %s", name, sh);
	}
	if (out != NULL) {
		*out = t;
	}
	return RF_OK;
}

int
engine_gpt_shape(const struct engine_model *m, struct engine_gpt_shape *out,
    struct rf_errinfo *ei)
{
	struct engine_gpt_shape s;
	memset(&s, 0, sizeof(s));
	if (!engine_model_has_weights(m)) {
		return rf_errf(ei, RF_ERR_NOTSUP, "a generation is derived from "
		    "a model with its weights");
	}
	const struct tensor *wte, *wpe, *heads;
	struct engine_value_info wv;
	if (weight_of(m, "wte", &wv) == NULL) {
		/* Another layout (an import): a whole-context model? */
		return engine_gen_whole_shape(m, out, ei);
	}
	int64_t any2[2] = { -1, -1 };
	int err = need_weight(m, "wte", TENSOR_F32, 2, any2, &wte, ei);
	if (err == RF_OK) {
		s.vocab = wte->dims[0];
		s.d_model = wte->dims[1];
		int64_t pd[2] = { -1, s.d_model };
		err = need_weight(m, "wpe", TENSOR_F32, 2, pd, &wpe, ei);
	}
	if (err == RF_OK) {
		s.context = wpe->dims[0];
		int64_t d3[1] = { 3 };
		err = need_weight(m, "shape.heads", TENSOR_I64, 1, d3, &heads, ei);
	}
	if (err == RF_OK) {
		const int64_t *hv = heads->data;
		s.heads = hv[1];
		if (hv[0] != -1 || s.heads < 1 || hv[2] < 1 ||
		    s.heads * hv[2] != s.d_model) {
			err = rf_errf(ei, RF_ERR_NOTSUP, "not a gpt layout: "
			    "'shape.heads' is not [-1, heads, d_model / heads]");
		}
	}
	if (err == RF_OK) {
		int64_t d2[1] = { 2 };
		int64_t one[1] = { 1 };
		int64_t md[2] = { s.context, s.context };
		err = need_weight(m, "shape.flat", TENSOR_I64, 1, d2, NULL, ei);
		if (err == RF_OK) {
			err = need_weight(m, "attn.scale", TENSOR_F32, 1, one,
			    NULL, ei);
		}
		if (err == RF_OK) {
			err = need_weight(m, "attn.mask", TENSOR_F32, 2, md, NULL,
			    ei);
		}
	}
	if (err == RF_OK) {
		struct engine_value_info vi;
		s.tied = weight_of(m, "lm_head", &vi) == NULL;
		if (!s.tied) {
			int64_t hd[2] = { s.d_model, s.vocab };
			err = need_weight(m, "lm_head", TENSOR_F32, 2, hd, NULL, ei);
		}
	}
	while (err == RF_OK) {
		char n[64];
		struct engine_value_info vi;
		snprintf(n, sizeof(n), "h%lld.ln1.scale", (long long)s.layers);
		if (weight_of(m, n, &vi) == NULL) {
			break;
		}
		s.layers++;
	}
	if (err == RF_OK && s.layers == 0) {
		err = rf_errf(ei, RF_ERR_NOTSUP, "not a gpt layout: no block "
		    "(weight 'h0.ln1.scale')");
	}
	if (err == RF_OK) {
		*out = s;
	}
	return err;
}

int
engine_generation_check(const struct engine_gpt_shape *shape,
    const struct engine_generation *g, struct rf_errinfo *ei)
{
	if (g->prompt_len < 1) {
		return rf_errf(ei, RF_ERR_INVAL, "the prompt is empty");
	}
	if (g->n_new < 1) {
		return rf_errf(ei, RF_ERR_INVAL, "a generation draws at least "
		    "one token, not %lld", (long long)g->n_new);
	}
	if (g->prompt_len > shape->context ||
	    g->n_new > shape->context - g->prompt_len) {
		return rf_errf(ei, RF_ERR_RANGE, "%lld prompt tokens and %lld "
		    "new ones do not fit the context of %lld",
		    (long long)g->prompt_len, (long long)g->n_new,
		    (long long)shape->context);
	}
	return engine_sampler_check(&g->sampler, shape->vocab, ei);
}

/* ------------------------------------------------------------------ */
/* Building the graph                                                   */
/* ------------------------------------------------------------------ */

/* Builder with a sticky error; names are "<prefix>.<what>". */
struct dg {
	struct engine_model *m;
	const struct engine_model *base;
	struct rf_errinfo *ei;
	int err;
	char pfx[32];
	char name[96];
};

static const char *
dname(struct dg *g, const char *what)
{
	snprintf(g->name, sizeof(g->name), "%s.%s", g->pfx, what);
	return g->name;
}

/* A value of the derived model by name (a weight, usually). */
static int
dval(struct dg *g, const char *name)
{
	int idx = -1;
	if (g->err == RF_OK && engine_model_find(g->m, name, &idx) != RF_OK) {
		g->err = rf_errf(g->ei, RF_ERR_NOTSUP, "not a gpt layout: no "
		    "'%s'", name);
	}
	return idx;
}

static int
dop(struct dg *g, enum engine_op op, const char *what, const int *in,
    size_t n_in, const struct engine_attr *at, size_t n_at)
{
	if (g->err != RF_OK) {
		return -1;
	}
	int out = -1;
	const char *name = dname(g, what);
	const char *outs[1] = { name };
	g->err = engine_model_add_op(g->m, op, name, in, n_in, outs, 1, at,
	    n_at, &out, g->ei);
	return out;
}

static int
dop2(struct dg *g, enum engine_op op, const char *what, int a, int b)
{
	int in[2] = { a, b };
	return dop(g, op, what, in, 2, NULL, 0);
}

/* The attributes of the base model's operator named op (its output's
 * name, as gen.c writes it), so the derived graph computes what the
 * model says (epsilon, approximation, axis), not what this file guesses. */
static void
base_attrs(struct dg *g, const char *op, const struct engine_attr **at,
    size_t *n)
{
	*at = NULL;
	*n = 0;
	if (g->err != RF_OK) {
		return;
	}
	int idx;
	struct engine_value_info vi;
	struct engine_op_info oi;
	if (engine_model_find(g->base, op, &idx) != RF_OK ||
	    engine_model_value(g->base, idx, &vi) != RF_OK ||
	    vi.kind != ENGINE_VALUE_OP ||
	    engine_model_op(g->base, (size_t)vi.producer, &oi) != RF_OK) {
		g->err = rf_errf(g->ei, RF_ERR_NOTSUP, "not a gpt layout: no "
		    "operator '%s'", op);
		return;
	}
	*at = oi.attrs;
	*n = oi.n_attrs;
}

static int
dop_like(struct dg *g, enum engine_op op, const char *what,
    const char *base_op, const int *in, size_t n_in)
{
	const struct engine_attr *at;
	size_t n;
	base_attrs(g, base_op, &at, &n);
	return dop(g, op, what, in, n_in, at, n);
}

static int
dslice(struct dg *g, const char *what, int x, const int64_t *starts,
    const int64_t *ends, const int64_t *axes, size_t n)
{
	struct engine_attr at[3];
	engine_attr_ints(&at[0], "axes", axes, n);
	engine_attr_ints(&at[1], "ends", ends, n);
	engine_attr_ints(&at[2], "starts", starts, n);
	int in[1] = { x };
	return dop(g, ENGINE_OP_SLICE, what, in, 1, at, 3);
}

static int
dtranspose(struct dg *g, const char *what, int x, const int64_t *perm)
{
	struct engine_attr at;
	engine_attr_ints(&at, "perm", perm, 3);
	int in[1] = { x };
	return dop(g, ENGINE_OP_TRANSPOSE, what, in, 1, &at, 1);
}

/* x W + b as the base model has it: MatMul then Add. */
static int
dlinear(struct dg *g, const char *blk, const char *what, int x)
{
	char w[64], b[64], mm[64], out[64];
	snprintf(w, sizeof(w), "%s.%s.weight", blk, what);
	snprintf(b, sizeof(b), "%s.%s.bias", blk, what);
	snprintf(mm, sizeof(mm), "%s.%s.matmul", blk, what);
	snprintf(out, sizeof(out), "%s.%s", blk, what);
	int wi = dval(g, w);
	int bi = dval(g, b);
	int y = dop2(g, ENGINE_OP_MATMUL, mm, x, wi);
	return dop2(g, ENGINE_OP_ADD, out, y, bi);
}

static int
dlayernorm(struct dg *g, const char *ln, int x)
{
	char sc[64], bi[64];
	snprintf(sc, sizeof(sc), "%s.scale", ln);
	snprintf(bi, sizeof(bi), "%s.bias", ln);
	int in[3] = { x, dval(g, sc), dval(g, bi) };
	return dop_like(g, ENGINE_OP_LAYERNORM, ln, ln, in, 3);
}

/*
 * One block on the rows of x. In the prefill (mask >= 0) the keys and
 * values are this call's own rows and the causal mask applies; in a
 * decode step (mask < 0) the one new row's key and value are appended to
 * the cache (*kc, *vc) and the query attends to all of it, so nothing is
 * masked. Keys are kept as [heads, d_head, T] (ready for the MatMul, the
 * way the base model transposes them), values as [heads, T, d_head].
 */
static int
dblock(struct dg *g, int64_t b, int x, int mask, int *kc, int *vc)
{
	static const int64_t to_heads[3] = { 1, 0, 2 };
	static const int64_t to_keys[3] = { 1, 2, 0 };
	char blk[32], n[64];
	snprintf(blk, sizeof(blk), "h%lld", (long long)b);
#define BN(s) (snprintf(n, sizeof(n), "%s.%s", blk, (s)), n)
	int shape_heads = dval(g, "shape.heads");
	int shape_flat = dval(g, "shape.flat");
	int scale = dval(g, "attn.scale");
	int ln1 = dlayernorm(g, BN("ln1"), x);
	int q = dlinear(g, blk, "q", ln1);
	int k = dlinear(g, blk, "k", ln1);
	int v = dlinear(g, blk, "v", ln1);
	int qh = dop2(g, ENGINE_OP_RESHAPE, BN("q.split"), q, shape_heads);
	qh = dtranspose(g, BN("q.heads"), qh, to_heads);
	int kt = dop2(g, ENGINE_OP_RESHAPE, BN("k.split"), k, shape_heads);
	kt = dtranspose(g, BN("k.heads"), kt, to_keys);
	int vh = dop2(g, ENGINE_OP_RESHAPE, BN("v.split"), v, shape_heads);
	vh = dtranspose(g, BN("v.heads"), vh, to_heads);
	if (mask < 0) {
		struct engine_attr ax;
		engine_attr_int(&ax, "axis", 2);
		int kin[2] = { *kc, kt };
		kt = dop(g, ENGINE_OP_CONCAT, BN("k.cache"), kin, 2, &ax, 1);
		engine_attr_int(&ax, "axis", 1);
		int vin[2] = { *vc, vh };
		vh = dop(g, ENGINE_OP_CONCAT, BN("v.cache"), vin, 2, &ax, 1);
	}
	*kc = kt;
	*vc = vh;
	int s = dop2(g, ENGINE_OP_MATMUL, BN("scores"), qh, kt);
	s = dop2(g, ENGINE_OP_MUL, BN("scaled"), s, scale);
	if (mask >= 0) {
		s = dop2(g, ENGINE_OP_ADD, BN("masked"), s, mask);
	}
	int in1[1] = { s };
	char bo[64];
	snprintf(bo, sizeof(bo), "%s.attn", blk);
	int p = dop_like(g, ENGINE_OP_SOFTMAX, BN("attn"), bo, in1, 1);
	int ctx = dop2(g, ENGINE_OP_MATMUL, BN("context"), p, vh);
	ctx = dtranspose(g, BN("context.merge"), ctx, to_heads);
	ctx = dop2(g, ENGINE_OP_RESHAPE, BN("context.flat"), ctx, shape_flat);
	int proj = dlinear(g, blk, "proj", ctx);
	x = dop2(g, ENGINE_OP_ADD, BN("resid1"), x, proj);
	int ln2 = dlayernorm(g, BN("ln2"), x);
	int h = dlinear(g, blk, "fc1", ln2);
	in1[0] = h;
	snprintf(bo, sizeof(bo), "%s.gelu", blk);
	h = dop_like(g, ENGINE_OP_GELU, BN("gelu"), bo, in1, 1);
	h = dlinear(g, blk, "fc2", h);
	x = dop2(g, ENGINE_OP_ADD, BN("resid2"), x, h);
#undef BN
	return x;
}

/* ln_f and the head on one row: logits [1, vocab]. */
static int
dhead(struct dg *g, const struct engine_gpt_shape *sh, int x)
{
	x = dlayernorm(g, "ln_f", x);
	if (sh->tied) {
		struct engine_attr tb;
		engine_attr_int(&tb, "transB", 1);
		int in[2] = { x, dval(g, "wte") };
		return dop(g, ENGINE_OP_GEMM, "logits", in, 2, &tb, 1);
	}
	return dop2(g, ENGINE_OP_MATMUL, "logits", x, dval(g, "lm_head"));
}

/* Sample: (token, tokens so far), named "<prefix>.token" and
 * "<prefix>.generated". */
static void
dsample(struct dg *g, const struct engine_sampler *s, int64_t step,
    int logits, int prev, int seed, int *tok, int *seq)
{
	if (g->err != RF_OK) {
		return;
	}
	struct engine_attr at[4];
	size_t n = 0;
	engine_attr_int(&at[n++], "step", step);
	if (!engine_sampler_greedy(s)) {
		engine_attr_float(&at[n++], "temperature", s->temperature);
		engine_attr_int(&at[n++], "top_k", s->top_k);
		engine_attr_float(&at[n++], "top_p", s->top_p);
	}
	char on[2][96];
	snprintf(on[0], sizeof(on[0]), "%s.token", g->pfx);
	snprintf(on[1], sizeof(on[1]), "%s.generated", g->pfx);
	const char *outs[2] = { on[0], on[1] };
	int in[3] = { logits, prev, seed };
	size_t n_in = seed >= 0 ? 3 : prev >= 0 ? 2 : 1;
	int out[2] = { -1, -1 };
	g->err = engine_model_add_op(g->m, ENGINE_OP_SAMPLE, dname(g,
	    "sample"), in, n_in, outs, 2, at, n, out, g->ei);
	*tok = out[0];
	*seq = out[1];
}

static void
copy_weights(struct dg *g)
{
	size_t nv = engine_model_value_count(g->base);
	for (size_t v = 0; v < nv && g->err == RF_OK; v++) {
		struct engine_value_info vi;
		engine_model_value(g->base, (int)v, &vi);
		if (vi.kind != ENGINE_VALUE_WEIGHT) {
			continue;
		}
		/* A borrowed view: the base keeps the bytes (often a mapped
		 * file), and the derived model copies nothing. */
		struct tensor t = *vi.weight;
		t.owned = false;
		int idx;
		g->err = engine_model_add_weight_view(g->m, vi.name, &t, &idx,
		    g->ei);
	}
}

int
engine_generation_model(const struct engine_model *base,
    const struct engine_generation *gen, struct engine_model **out,
    struct rf_errinfo *ei)
{
	struct engine_gpt_shape sh;
	int err = engine_gpt_shape(base, &sh, ei);
	if (err == RF_OK && sh.whole) {
		return engine_gen_whole_model(base, gen, out, ei);
	}
	if (err == RF_OK) {
		err = engine_generation_check(&sh, gen, ei);
	}
	if (err != RF_OK) {
		return err;
	}
	char mname[ENGINE_NAME_MAX + 1];
	snprintf(mname, sizeof(mname), "%.200s.gen", engine_model_name(base));
	struct dg g;
	memset(&g, 0, sizeof(g));
	g.base = base;
	g.ei = ei;
	g.m = engine_model_alloc(mname);
	if (g.m == NULL) {
		return RF_ERR_NOMEM;
	}
	copy_weights(&g);
	int64_t P = gen->prompt_len;
	int tokens = -1, seed = -1;
	int64_t pd[1] = { P };
	int64_t one[1] = { 1 };
	if (g.err == RF_OK) {
		g.err = engine_model_add_input(g.m, "tokens", TENSOR_I64, 1, pd,
		    &tokens, ei);
	}
	bool greedy = engine_sampler_greedy(&gen->sampler);
	if (g.err == RF_OK && !greedy) {
		g.err = engine_model_add_input(g.m, "seed", TENSOR_I64, 1, one,
		    &seed, ei);
	}
	int *kcache = calloc((size_t)sh.layers * 2, sizeof(int));
	if (kcache == NULL) {
		engine_model_free(g.m);
		return RF_ERR_NOMEM;
	}
	int *vcache = kcache + sh.layers;

	/* Prefill: every prompt row at once, causally masked. */
	snprintf(g.pfx, sizeof(g.pfx), "prefill");
	int64_t z1[1] = { 0 }, e1[1] = { P }, ax0[1] = { 0 };
	int64_t z2[2] = { 0, 0 }, e2[2] = { P, P }, ax01[2] = { 0, 1 };
	int x = dop2(&g, ENGINE_OP_GATHER, "embed", dval(&g, "wte"), tokens);
	int pos = dslice(&g, "pos", dval(&g, "wpe"), z1, e1, ax0, 1);
	x = dop2(&g, ENGINE_OP_ADD, "embed.pos", x, pos);
	int mask = dslice(&g, "mask", dval(&g, "attn.mask"), z2, e2, ax01, 2);
	for (int64_t b = 0; b < sh.layers; b++) {
		x = dblock(&g, b, x, mask, &kcache[b], &vcache[b]);
	}
	int64_t last_s[1] = { P - 1 };
	x = dslice(&g, "last", x, last_s, e1, ax0, 1);
	int logits = dhead(&g, &sh, x);
	int tok = -1, seq = -1;
	dsample(&g, &gen->sampler, 0, logits, -1, seed, &tok, &seq);

	/* Decode steps: the token drawn last, at the next position. */
	for (int64_t i = 1; i < gen->n_new && g.err == RF_OK; i++) {
		snprintf(g.pfx, sizeof(g.pfx), "step%lld", (long long)i);
		int64_t at_s[1] = { P + i - 1 }, at_e[1] = { P + i };
		x = dop2(&g, ENGINE_OP_GATHER, "embed", dval(&g, "wte"), tok);
		pos = dslice(&g, "pos", dval(&g, "wpe"), at_s, at_e, ax0, 1);
		x = dop2(&g, ENGINE_OP_ADD, "embed.pos", x, pos);
		for (int64_t b = 0; b < sh.layers; b++) {
			x = dblock(&g, b, x, -1, &kcache[b], &vcache[b]);
		}
		logits = dhead(&g, &sh, x);
		dsample(&g, &gen->sampler, i, logits, seq, seed, &tok, &seq);
	}
	free(kcache);
	if (g.err == RF_OK) {
		g.err = engine_model_add_output(g.m, tok, ei);
	}
	if (g.err == RF_OK) {
		g.err = engine_model_add_output(g.m, seq, ei);
	}
	if (g.err == RF_OK) {
		g.err = engine_model_check(g.m, NULL, ei);
	}
	if (g.err != RF_OK) {
		engine_model_free(g.m);
		return g.err;
	}
	*out = g.m;
	return RF_OK;
}
