/*
 * engine/gen.c - synthetic models for tests, demos and experiments: an
 * MLP, a small CNN and a GPT-style transformer, with weights drawn from a
 * seed. The same options always give the same model, byte for byte.
 */
#include <stdio.h>
#include <string.h>

#include "engine/engine_int.h"

/* Builder state with a sticky error, so model code reads as a recipe. */
struct gen {
	struct engine_model *m;
	struct engine_rng rng;
	struct rf_errinfo *ei;
	int err;
};

static int
gen_weight(struct gen *g, const char *name, int rank, const int64_t *dims,
    float bound)
{
	if (g->err != RF_OK) {
		return -1;
	}
	struct tensor t;
	int idx = -1;
	g->err = engine_tensor_init(&t, TENSOR_F32, rank, dims);
	if (g->err != RF_OK) {
		rf_errf(g->ei, g->err, "weight '%s': %s", name,
		    rf_strerror(g->err));
		return -1;
	}
	float *d = t.data;
	for (size_t i = 0; i < t.count; i++) {
		d[i] = engine_rng_uniform(&g->rng, -bound, bound);
	}
	g->err = engine_model_add_weight(g->m, name, &t, &idx, g->ei);
	if (g->err != RF_OK) {
		engine_tensor_fini(&t);
	}
	return idx;
}

/* A weight filled with one value. */
static int
gen_fill(struct gen *g, const char *name, int rank, const int64_t *dims,
    float value)
{
	if (g->err != RF_OK) {
		return -1;
	}
	struct tensor t;
	int idx = -1;
	g->err = engine_tensor_init(&t, TENSOR_F32, rank, dims);
	if (g->err != RF_OK) {
		return -1;
	}
	for (size_t i = 0; i < t.count; i++) {
		((float *)t.data)[i] = value;
	}
	g->err = engine_model_add_weight(g->m, name, &t, &idx, g->ei);
	if (g->err != RF_OK) {
		engine_tensor_fini(&t);
	}
	return idx;
}

static int
gen_shape(struct gen *g, const char *name, const int64_t *v, int n)
{
	if (g->err != RF_OK) {
		return -1;
	}
	struct tensor t;
	int idx = -1;
	int64_t dims[1] = { n };
	g->err = engine_tensor_init(&t, TENSOR_I64, 1, dims);
	if (g->err != RF_OK) {
		return -1;
	}
	memcpy(t.data, v, sizeof(int64_t) * (size_t)n);
	g->err = engine_model_add_weight(g->m, name, &t, &idx, g->ei);
	if (g->err != RF_OK) {
		engine_tensor_fini(&t);
	}
	return idx;
}

/* Adds a one-output op named name whose output is also called name. */
static int
gen_op(struct gen *g, enum engine_op op, const char *name, const int *in,
    size_t n_in, const struct engine_attr *attrs, size_t n_attrs)
{
	if (g->err != RF_OK) {
		return -1;
	}
	int out = -1;
	const char *outs[1] = { name };
	g->err = engine_model_add_op(g->m, op, name, in, n_in, outs, 1, attrs,
	    n_attrs, &out, g->ei);
	return out;
}

static int
gen_op1(struct gen *g, enum engine_op op, const char *name, int a)
{
	int in[1] = { a };
	return gen_op(g, op, name, in, 1, NULL, 0);
}

static int
gen_op2(struct gen *g, enum engine_op op, const char *name, int a, int b)
{
	int in[2] = { a, b };
	return gen_op(g, op, name, in, 2, NULL, 0);
}

static float
fan_in_bound(int64_t fan_in)
{
	return (float)(1.0 / __builtin_sqrt((double)(fan_in > 0 ? fan_in : 1)));
}

/* y = x W + b as one Gemm, W: [in, out]. */
static int
gen_dense(struct gen *g, const char *prefix, int x, int64_t in, int64_t out)
{
	char wn[64], bn[64];
	snprintf(wn, sizeof(wn), "%s.weight", prefix);
	snprintf(bn, sizeof(bn), "%s.bias", prefix);
	int64_t wd[2] = { in, out };
	int64_t bd[1] = { out };
	int w = gen_weight(g, wn, 2, wd, fan_in_bound(in));
	int b = gen_weight(g, bn, 1, bd, fan_in_bound(in));
	int ins[3] = { x, w, b };
	return gen_op(g, ENGINE_OP_GEMM, prefix, ins, 3, NULL, 0);
}

/* ------------------------------------------------------------------ */
/* MLP                                                                  */
/* ------------------------------------------------------------------ */

static void
build_mlp(struct gen *g, const struct engine_gen_opts *o)
{
	int64_t in_dims[2] = { o->batch, o->in_features };
	int x = -1;
	if (g->err == RF_OK) {
		g->err = engine_model_add_input(g->m, "x", TENSOR_F32, 2, in_dims,
		    &x, g->ei);
	}
	char name[64];
	if (o->ops > 0) {
		/* Exactly o->ops operators: Gemm, Relu, Gemm, Relu, ... */
		int64_t width = o->in_features;
		for (int64_t k = 0; k < o->ops; k++) {
			snprintf(name, sizeof(name), "%s%lld",
			    k % 2 == 0 ? "fc" : "relu", (long long)(k / 2));
			if (k % 2 == 0) {
				x = gen_dense(g, name, x, width, o->hidden);
				width = o->hidden;
			} else {
				x = gen_op1(g, ENGINE_OP_RELU, name, x);
			}
		}
	} else {
		int64_t width = o->in_features;
		for (int64_t l = 0; l < o->layers; l++) {
			bool last = l == o->layers - 1;
			int64_t out = last ? o->out_features : o->hidden;
			snprintf(name, sizeof(name), "fc%lld", (long long)l);
			x = gen_dense(g, name, x, width, out);
			width = out;
			if (!last) {
				snprintf(name, sizeof(name), "relu%lld",
				    (long long)l);
				x = gen_op1(g, ENGINE_OP_RELU, name, x);
			}
		}
		struct engine_attr axis;
		engine_attr_int(&axis, "axis", -1);
		int in[1] = { x };
		x = gen_op(g, ENGINE_OP_SOFTMAX, "probs", in, 1, &axis, 1);
	}
	if (g->err == RF_OK) {
		g->err = engine_model_add_output(g->m, x, g->ei);
	}
}

/* ------------------------------------------------------------------ */
/* CNN                                                                  */
/* ------------------------------------------------------------------ */

static int
gen_conv(struct gen *g, const char *name, int x, int64_t c_in, int64_t c_out,
    int64_t k, int64_t pad, int64_t group)
{
	char wn[64], bn[64];
	snprintf(wn, sizeof(wn), "%s.weight", name);
	snprintf(bn, sizeof(bn), "%s.bias", name);
	int64_t wd[4] = { c_out, c_in / group, k, k };
	int64_t bd[1] = { c_out };
	float bound = fan_in_bound(c_in / group * k * k);
	int w = gen_weight(g, wn, 4, wd, bound);
	int b = gen_weight(g, bn, 1, bd, bound);
	struct engine_attr at[4];
	int64_t ks[2] = { k, k };
	int64_t pads[4] = { pad, pad, pad, pad };
	int64_t strides[2] = { 1, 1 };
	engine_attr_int(&at[0], "group", group);
	engine_attr_ints(&at[1], "kernel_shape", ks, 2);
	engine_attr_ints(&at[2], "pads", pads, 4);
	engine_attr_ints(&at[3], "strides", strides, 2);
	int in[3] = { x, w, b };
	return gen_op(g, ENGINE_OP_CONV, name, in, 3, at, 4);
}

static int
gen_batchnorm(struct gen *g, const char *name, int x, int64_t ch)
{
	char n[64];
	int64_t d[1] = { ch };
	int p[5];
	p[0] = x;
	snprintf(n, sizeof(n), "%s.scale", name);
	p[1] = gen_weight(g, n, 1, d, 0.5f);
	snprintf(n, sizeof(n), "%s.bias", name);
	p[2] = gen_weight(g, n, 1, d, 0.1f);
	snprintf(n, sizeof(n), "%s.mean", name);
	p[3] = gen_weight(g, n, 1, d, 0.1f);
	snprintf(n, sizeof(n), "%s.var", name);
	p[4] = gen_fill(g, n, 1, d, 1.0f);
	struct engine_attr eps;
	engine_attr_float(&eps, "epsilon", 1e-5f);
	return gen_op(g, ENGINE_OP_BATCHNORM, name, p, 5, &eps, 1);
}

static int
gen_pool(struct gen *g, enum engine_op op, const char *name, int x)
{
	struct engine_attr at[2];
	int64_t ks[2] = { 2, 2 };
	engine_attr_ints(&at[0], "kernel_shape", ks, 2);
	engine_attr_ints(&at[1], "strides", ks, 2);
	int in[1] = { x };
	return gen_op(g, op, name, in, 1, at, 2);
}

static void
build_cnn(struct gen *g, const struct engine_gen_opts *o)
{
	int64_t dims[4] = { o->batch, o->channels, o->image_size,
		o->image_size };
	int x = -1;
	if (g->err == RF_OK) {
		g->err = engine_model_add_input(g->m, "image", TENSOR_F32, 4, dims,
		    &x, g->ei);
	}
	x = gen_conv(g, "conv1", x, o->channels, 8, 3, 1, 1);
	x = gen_batchnorm(g, "bn1", x, 8);
	x = gen_op1(g, ENGINE_OP_RELU, "relu1", x);
	x = gen_pool(g, ENGINE_OP_MAXPOOL, "pool1", x);
	/* A grouped convolution exercises the group path. */
	x = gen_conv(g, "conv2", x, 8, 16, 3, 1, 2);
	x = gen_op1(g, ENGINE_OP_RELU, "relu2", x);
	x = gen_pool(g, ENGINE_OP_AVGPOOL, "pool2", x);
	x = gen_op1(g, ENGINE_OP_GLOBALAVGPOOL, "gap", x);
	struct engine_attr axis;
	engine_attr_int(&axis, "axis", 1);
	int in[1] = { x };
	x = gen_op(g, ENGINE_OP_FLATTEN, "flatten", in, 1, &axis, 1);
	x = gen_dense(g, "fc", x, 16, o->classes);
	engine_attr_int(&axis, "axis", -1);
	in[0] = x;
	x = gen_op(g, ENGINE_OP_SOFTMAX, "probs", in, 1, &axis, 1);
	if (g->err == RF_OK) {
		g->err = engine_model_add_output(g->m, x, g->ei);
	}
}

/* ------------------------------------------------------------------ */
/* Transformer                                                          */
/* ------------------------------------------------------------------ */

static int
gen_layernorm(struct gen *g, const char *name, int x, int64_t d)
{
	char n[64];
	int64_t dims[1] = { d };
	int p[3];
	p[0] = x;
	snprintf(n, sizeof(n), "%s.scale", name);
	p[1] = gen_fill(g, n, 1, dims, 1.0f);
	snprintf(n, sizeof(n), "%s.bias", name);
	p[2] = gen_fill(g, n, 1, dims, 0.0f);
	struct engine_attr at[2];
	engine_attr_int(&at[0], "axis", -1);
	engine_attr_float(&at[1], "epsilon", 1e-5f);
	return gen_op(g, ENGINE_OP_LAYERNORM, name, p, 3, at, 2);
}

/* x W + b as MatMul then Add, the way exported transformers look. */
static int
gen_linear(struct gen *g, const char *name, int x, int64_t in, int64_t out)
{
	char n[64];
	int64_t wd[2] = { in, out };
	int64_t bd[1] = { out };
	snprintf(n, sizeof(n), "%s.weight", name);
	int w = gen_weight(g, n, 2, wd, fan_in_bound(in));
	snprintf(n, sizeof(n), "%s.bias", name);
	int b = gen_weight(g, n, 1, bd, fan_in_bound(in));
	snprintf(n, sizeof(n), "%s.matmul", name);
	int y = gen_op2(g, ENGINE_OP_MATMUL, n, x, w);
	return gen_op2(g, ENGINE_OP_ADD, name, y, b);
}

static int
gen_transpose(struct gen *g, const char *name, int x, const int64_t *perm,
    int n)
{
	struct engine_attr at;
	engine_attr_ints(&at, "perm", perm, (size_t)n);
	int in[1] = { x };
	return gen_op(g, ENGINE_OP_TRANSPOSE, name, in, 1, &at, 1);
}

static int
gen_block(struct gen *g, int64_t b, int x, const struct engine_gen_opts *o,
    int shape_heads, int shape_flat, int scale, int mask)
{
	char p[32], n[64];
	int64_t d = o->d_model;
	snprintf(p, sizeof(p), "h%lld", (long long)b);
/* NAME() writes one buffer: at most one NAME() per statement, since the
 * order in which a call's arguments are evaluated is unspecified. */
#define NAME(s) (snprintf(n, sizeof(n), "%s.%s", p, (s)), n)
	int ln1 = gen_layernorm(g, NAME("ln1"), x, d);
	int q = gen_linear(g, NAME("q"), ln1, d, d);
	int k = gen_linear(g, NAME("k"), ln1, d, d);
	int v = gen_linear(g, NAME("v"), ln1, d, d);
	/* [seq, d] -> [seq, heads, dh] -> per head [heads, seq, dh]. */
	static const int64_t to_heads[3] = { 1, 0, 2 };
	static const int64_t to_keys[3] = { 1, 2, 0 };
	int qs = gen_op2(g, ENGINE_OP_RESHAPE, NAME("q.split"), q,
	    shape_heads);
	int qh = gen_transpose(g, NAME("q.heads"), qs, to_heads, 3);
	int ks = gen_op2(g, ENGINE_OP_RESHAPE, NAME("k.split"), k,
	    shape_heads);
	int kt = gen_transpose(g, NAME("k.heads"), ks, to_keys, 3);
	int vs = gen_op2(g, ENGINE_OP_RESHAPE, NAME("v.split"), v,
	    shape_heads);
	int vh = gen_transpose(g, NAME("v.heads"), vs, to_heads, 3);
	int s = gen_op2(g, ENGINE_OP_MATMUL, NAME("scores"), qh, kt);
	s = gen_op2(g, ENGINE_OP_MUL, NAME("scaled"), s, scale);
	s = gen_op2(g, ENGINE_OP_ADD, NAME("masked"), s, mask);
	struct engine_attr axis;
	engine_attr_int(&axis, "axis", -1);
	int in[1] = { s };
	int probs = gen_op(g, ENGINE_OP_SOFTMAX, NAME("attn"), in, 1, &axis, 1);
	int ctx = gen_op2(g, ENGINE_OP_MATMUL, NAME("context"), probs, vh);
	ctx = gen_transpose(g, NAME("context.merge"), ctx, to_heads, 3);
	ctx = gen_op2(g, ENGINE_OP_RESHAPE, NAME("context.flat"), ctx,
	    shape_flat);
	int proj = gen_linear(g, NAME("proj"), ctx, d, d);
	x = gen_op2(g, ENGINE_OP_ADD, NAME("resid1"), x, proj);
	int ln2 = gen_layernorm(g, NAME("ln2"), x, d);
	int h = gen_linear(g, NAME("fc1"), ln2, d, o->d_ff);
	h = gen_op1(g, ENGINE_OP_GELU, NAME("gelu"), h);
	h = gen_linear(g, NAME("fc2"), h, o->d_ff, d);
	x = gen_op2(g, ENGINE_OP_ADD, NAME("resid2"), x, h);
#undef NAME
	return x;
}

static void
build_transformer(struct gen *g, const struct engine_gen_opts *o)
{
	int64_t seq = o->batch;
	int64_t d = o->d_model;
	int64_t dh = d / o->heads;
	int tokens = -1;
	int64_t in_dims[1] = { seq };
	if (g->err == RF_OK) {
		g->err = engine_model_add_input(g->m, "tokens", TENSOR_I64, 1,
		    in_dims, &tokens, g->ei);
	}
	int64_t ed[2] = { o->vocab, d };
	int64_t pd[2] = { seq, d };
	int wte = gen_weight(g, "wte", 2, ed, 0.5f);
	int wpe = gen_weight(g, "wpe", 2, pd, 0.1f);
	int64_t heads_shape[3] = { seq, o->heads, dh };
	int64_t flat_shape[2] = { seq, d };
	int shape_heads = gen_shape(g, "shape.heads", heads_shape, 3);
	int shape_flat = gen_shape(g, "shape.flat", flat_shape, 2);
	int64_t one[1] = { 1 };
	int scale = gen_fill(g, "attn.scale", 1, one,
	    (float)(1.0 / __builtin_sqrt((double)dh)));
	/* Causal mask: 0 on and below the diagonal, -1e9 above. */
	int64_t md[2] = { seq, seq };
	int mask = gen_fill(g, "attn.mask", 2, md, 0.0f);
	if (g->err == RF_OK) {
		struct engine_value_info vi;
		engine_model_value(g->m, mask, &vi);
		float *mdat = vi.weight->data;
		for (int64_t i = 0; i < seq; i++) {
			for (int64_t j = i + 1; j < seq; j++) {
				mdat[i * seq + j] = -1e9f;
			}
		}
	}
	int x = gen_op2(g, ENGINE_OP_GATHER, "embed", wte, tokens);
	x = gen_op2(g, ENGINE_OP_ADD, "embed.pos", x, wpe);
	for (int64_t b = 0; b < o->blocks; b++) {
		x = gen_block(g, b, x, o, shape_heads, shape_flat, scale, mask);
	}
	x = gen_layernorm(g, "ln_f", x, d);
	int64_t hd[2] = { d, o->vocab };
	int head = gen_weight(g, "lm_head", 2, hd, fan_in_bound(d));
	x = gen_op2(g, ENGINE_OP_MATMUL, "logits", x, head);
	if (g->err == RF_OK) {
		g->err = engine_model_add_output(g->m, x, g->ei);
	}
}

/*
 * A decoder-only language model: token and position embeddings (Gather,
 * Add), pre-LayerNorm blocks with causal attention and a GELU MLP, a
 * final LayerNorm and the head. The graph runs a whole context (tokens
 * i64 [context] -> logits [context, vocab]); generation derives its own
 * graph from these weights by name (engine/generate.c), which is why
 * the reshape targets say -1 for the rows: the same constants serve the
 * prefill's rows and a decode step's one row.
 */
static void
build_gpt(struct gen *g, const struct engine_gen_opts *o)
{
	int64_t seq = o->context;
	int64_t d = o->d_model;
	int64_t dh = d / o->heads;
	int tokens = -1;
	int64_t in_dims[1] = { seq };
	if (g->err == RF_OK) {
		g->err = engine_model_add_input(g->m, "tokens", TENSOR_I64, 1,
		    in_dims, &tokens, g->ei);
	}
	int64_t ed[2] = { o->vocab, d };
	int64_t pd[2] = { seq, d };
	/* Small embeddings, as GPT-2 initialises them: the blocks then
	 * move the residual stream, and a tied head does not just echo the
	 * last token. */
	int wte = gen_weight(g, "wte", 2, ed, 0.05f);
	int wpe = gen_weight(g, "wpe", 2, pd, 0.02f);
	int64_t heads_shape[3] = { -1, o->heads, dh };
	int64_t flat_shape[2] = { -1, d };
	int shape_heads = gen_shape(g, "shape.heads", heads_shape, 3);
	int shape_flat = gen_shape(g, "shape.flat", flat_shape, 2);
	int64_t one[1] = { 1 };
	int scale = gen_fill(g, "attn.scale", 1, one,
	    (float)(1.0 / __builtin_sqrt((double)dh)));
	int64_t md[2] = { seq, seq };
	int mask = gen_fill(g, "attn.mask", 2, md, 0.0f);
	if (g->err == RF_OK) {
		struct engine_value_info vi;
		engine_model_value(g->m, mask, &vi);
		float *mdat = vi.weight->data;
		for (int64_t i = 0; i < seq; i++) {
			for (int64_t j = i + 1; j < seq; j++) {
				mdat[i * seq + j] = -1e9f;
			}
		}
	}
	int x = gen_op2(g, ENGINE_OP_GATHER, "embed", wte, tokens);
	x = gen_op2(g, ENGINE_OP_ADD, "embed.pos", x, wpe);
	struct engine_gen_opts bo = *o;
	bo.d_ff = 4 * d;
	for (int64_t b = 0; b < o->blocks; b++) {
		x = gen_block(g, b, x, &bo, shape_heads, shape_flat, scale, mask);
	}
	x = gen_layernorm(g, "ln_f", x, d);
	if (o->tied) {
		struct engine_attr tb;
		engine_attr_int(&tb, "transB", 1);
		int in[2] = { x, wte };
		x = gen_op(g, ENGINE_OP_GEMM, "logits", in, 2, &tb, 1);
	} else {
		int64_t hd[2] = { d, o->vocab };
		int head = gen_weight(g, "lm_head", 2, hd, fan_in_bound(d));
		x = gen_op2(g, ENGINE_OP_MATMUL, "logits", x, head);
	}
	if (g->err == RF_OK) {
		g->err = engine_model_add_output(g->m, x, g->ei);
	}
}

/* ------------------------------------------------------------------ */
/* Entry points                                                         */
/* ------------------------------------------------------------------ */

void
engine_gen_opts_init(struct engine_gen_opts *o, enum engine_gen_kind k)
{
	memset(o, 0, sizeof(*o));
	o->kind = k;
	o->seed = 1;
	switch (k) {
	case ENGINE_GEN_MLP:
		o->batch = 4;
		o->in_features = 64;
		o->hidden = 128;
		o->out_features = 10;
		o->layers = 3;
		break;
	case ENGINE_GEN_CNN:
		o->batch = 1;
		o->channels = 3;
		o->image_size = 32;
		o->classes = 10;
		break;
	case ENGINE_GEN_TRANSFORMER:
		o->batch = 16;
		o->vocab = 256;
		o->d_model = 64;
		o->heads = 4;
		o->d_ff = 256;
		o->blocks = 1;
		break;
	case ENGINE_GEN_GPT:
		o->batch = 1;
		o->vocab = 256;
		o->d_model = 64;
		o->heads = 4;
		o->blocks = 2;
		o->context = 128;
		o->tied = true;
		break;
	}
}

int
engine_gen_parse_kind(const char *name, enum engine_gen_kind *out)
{
	if (strcmp(name, "mlp") == 0) {
		*out = ENGINE_GEN_MLP;
	} else if (strcmp(name, "cnn") == 0) {
		*out = ENGINE_GEN_CNN;
	} else if (strcmp(name, "transformer") == 0) {
		*out = ENGINE_GEN_TRANSFORMER;
	} else if (strcmp(name, "gpt") == 0) {
		*out = ENGINE_GEN_GPT;
	} else {
		return RF_ERR_INVAL;
	}
	return RF_OK;
}

static int
check_opts(const struct engine_gen_opts *o, struct rf_errinfo *ei)
{
	const int64_t lim = 1 << 16;
#define IN_RANGE(f, lo)                                                    \
	if (o->f < (lo) || o->f > lim) {                                   \
		return rf_errf(ei, RF_ERR_INVAL, #f " must be in %lld..%lld", \
		    (long long)(lo), (long long)lim);                          \
	}
	IN_RANGE(batch, 1);
	switch (o->kind) {
	case ENGINE_GEN_MLP:
		IN_RANGE(in_features, 1);
		IN_RANGE(hidden, 1);
		IN_RANGE(out_features, 1);
		if (o->ops > 0) {
			if (o->ops > (int64_t)ENGINE_MAX_OPS) {
				return rf_errf(ei, RF_ERR_INVAL, "ops over %u",
				    ENGINE_MAX_OPS);
			}
		} else {
			IN_RANGE(layers, 1);
		}
		break;
	case ENGINE_GEN_CNN:
		IN_RANGE(channels, 1);
		IN_RANGE(image_size, 4);
		IN_RANGE(classes, 1);
		break;
	case ENGINE_GEN_TRANSFORMER:
		IN_RANGE(vocab, 1);
		IN_RANGE(d_model, 1);
		IN_RANGE(heads, 1);
		IN_RANGE(d_ff, 1);
		IN_RANGE(blocks, 1);
		if (o->d_model % o->heads != 0) {
			return rf_errf(ei, RF_ERR_INVAL,
			    "d_model must be a multiple of heads");
		}
		break;
	case ENGINE_GEN_GPT:
		IN_RANGE(vocab, 1);
		IN_RANGE(d_model, 1);
		IN_RANGE(heads, 1);
		IN_RANGE(blocks, 1);
		IN_RANGE(context, 1);
		if (o->d_model % o->heads != 0) {
			return rf_errf(ei, RF_ERR_INVAL,
			    "d_model must be a multiple of heads");
		}
		if (o->vocab * o->d_model > (int64_t)TENSOR_MAX_ELEMS ||
		    o->context * o->context > (int64_t)TENSOR_MAX_ELEMS) {
			return rf_errf(ei, RF_ERR_INVAL, "vocab x d_model and "
			    "context x context must be at most %zu elements",
			    TENSOR_MAX_ELEMS);
		}
		break;
	default:
		return rf_errf(ei, RF_ERR_INVAL, "unknown model kind");
	}
#undef IN_RANGE
	return RF_OK;
}

int
engine_model_generate(const struct engine_gen_opts *o,
    struct engine_model **out, struct rf_errinfo *ei)
{
	int err = check_opts(o, ei);
	if (err != RF_OK) {
		return err;
	}
	static const char *const names[] = { "", "mlp", "cnn", "transformer",
		"gpt" };
	struct gen g;
	memset(&g, 0, sizeof(g));
	g.ei = ei;
	g.m = engine_model_alloc(names[o->kind]);
	if (g.m == NULL) {
		return RF_ERR_NOMEM;
	}
	engine_rng_seed(&g.rng, o->seed);
	switch (o->kind) {
	case ENGINE_GEN_MLP:
		build_mlp(&g, o);
		break;
	case ENGINE_GEN_CNN:
		build_cnn(&g, o);
		break;
	case ENGINE_GEN_TRANSFORMER:
		build_transformer(&g, o);
		break;
	case ENGINE_GEN_GPT:
		build_gpt(&g, o);
		break;
	}
	if (g.err != RF_OK) {
		engine_model_free(g.m);
		return g.err;
	}
	*out = g.m;
	return RF_OK;
}
