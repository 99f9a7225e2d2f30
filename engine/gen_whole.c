/*
 * engine/gen_whole.c - a generation from any language model whose graph
 * maps a whole context of tokens to logits at every position: what an
 * imported ONNX export is (tests/data/bytegpt), when its layout is not the
 * one `model gen gpt` writes. No KV cache: each step runs a copy of the
 * model's operators on the tokens so far, padded with token 0 to the
 * context, and draws from the logits of the last real position. For a
 * causal model (each position sees only those before it) that is exactly
 * PyTorch's greedy loop, which runs the whole sequence at every step; for
 * any model it is a well-defined graph, so it is one trace like every
 * other generation (docs/generation.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "engine/model_int.h"

#define NOT_LM "not a gpt layout (no weight 'wte') nor a whole-context " \
	"language model: "

/* The model's input (i64 [C] or [1, C]) and output (f32 [C, V] or
 * [1, C, V]), as the graph alone determines them. */
static int
whole_io(const struct engine_model *m, int64_t *context, int64_t *vocab,
    int *in_rank, int *out_rank, struct rf_errinfo *ei)
{
	if (engine_model_input_count(m) != 1 ||
	    engine_model_output_count(m) != 1) {
		return rf_errf(ei, RF_ERR_NOTSUP, NOT_LM "a generation needs one "
		    "input (tokens) and one output (logits)");
	}
	struct engine_value_info vi;
	if (engine_model_value(m, engine_model_input(m, 0), &vi) != RF_OK) {
		return RF_ERR_INVAL;
	}
	bool ok = vi.dtype == TENSOR_I64 && (vi.rank == 1 ||
	    (vi.rank == 2 && vi.dims[0] == 1));
	int64_t c = ok ? vi.dims[vi.rank - 1] : -1;
	if (!ok || c < 1) {
		return rf_errf(ei, RF_ERR_NOTSUP, NOT_LM "its input '%s' is not "
		    "i64 [context] or [1, context] with a fixed context "
		    "(import with --dim)", vi.name);
	}
	size_t nv = engine_model_value_count(m);
	struct engine_shape *sh = calloc(nv, sizeof(*sh));
	if (sh == NULL) {
		return RF_ERR_NOMEM;
	}
	int err = engine_model_check(m, sh, ei);
	if (err == RF_OK) {
		const struct engine_shape *o = &sh[engine_model_output(m, 0)];
		ok = o->known && o->dtype == TENSOR_F32 &&
		    o->rank == vi.rank + 1 && o->dims[o->rank - 2] == c &&
		    (o->rank == 2 || o->dims[0] == 1) &&
		    o->dims[o->rank - 1] >= 1;
		if (!ok) {
			err = rf_errf(ei, RF_ERR_NOTSUP, NOT_LM "its output is not "
			    "f32 logits [%s%lld, vocab]",
			    vi.rank == 2 ? "1, " : "", (long long)c);
		} else {
			*vocab = o->dims[o->rank - 1];
			*out_rank = o->rank;
		}
	}
	free(sh);
	*context = c;
	*in_rank = vi.rank;
	return err;
}

int
engine_gen_whole_shape(const struct engine_model *m,
    struct engine_gpt_shape *out, struct rf_errinfo *ei)
{
	int64_t c, v;
	int ir, orank;
	int err = whole_io(m, &c, &v, &ir, &orank, ei);
	if (err != RF_OK) {
		return err;
	}
	memset(out, 0, sizeof(*out));
	out->vocab = v;
	out->context = c;
	out->whole = true;
	return RF_OK;
}

/* Builder with a sticky error. */
struct wg {
	struct engine_model *m;
	const struct engine_model *base;
	struct rf_errinfo *ei;
	int err;
	int *map; /* base value -> derived value, per step */
};

static int
wop(struct wg *g, enum engine_op op, const char *name, const int *in,
    size_t n_in, const struct engine_attr *at, size_t n_at, int *outs,
    size_t n_out, const char *const *out_names)
{
	if (g->err != RF_OK) {
		return -1;
	}
	const char *one[1] = { name };
	int o1[1];
	g->err = engine_model_add_op(g->m, op, name, in, n_in,
	    out_names != NULL ? out_names : one, out_names != NULL ? n_out : 1,
	    at, n_at, outs != NULL ? outs : o1, g->ei);
	return g->err == RF_OK ? (outs != NULL ? outs[0] : o1[0]) : -1;
}

static int
wconst_i64(struct wg *g, const char *name, int64_t n, int64_t fill)
{
	if (g->err != RF_OK) {
		return -1;
	}
	struct tensor t;
	int64_t d[1] = { n };
	g->err = engine_tensor_init(&t, TENSOR_I64, 1, d);
	if (g->err != RF_OK) {
		return -1;
	}
	for (int64_t i = 0; i < n; i++) {
		((int64_t *)t.data)[i] = fill;
	}
	int idx = -1;
	g->err = engine_model_add_weight(g->m, name, &t, &idx, g->ei);
	engine_tensor_fini(&t);
	return idx;
}

/* One copy of the base model's operators on the token buffer x; returns
 * the logits value. Values are named "step<i>.<base name>". */
static int
wcopy(struct wg *g, int64_t step, int x)
{
	const struct engine_model *b = g->base;
	size_t nv = engine_model_value_count(b);
	for (size_t v = 0; v < nv; v++) {
		struct engine_value_info vi;
		engine_model_value(b, (int)v, &vi);
		if (vi.kind == ENGINE_VALUE_WEIGHT) {
			int idx = -1;
			if (engine_model_find(g->m, vi.name, &idx) == RF_OK) {
				g->map[v] = idx;
			}
		}
	}
	g->map[engine_model_input(b, 0)] = x;
	size_t n_ops = engine_model_op_count(b);
	for (size_t k = 0; k < n_ops && g->err == RF_OK; k++) {
		struct engine_op_info oi;
		engine_model_op(b, k, &oi);
		int in[ENGINE_MAX_OP_INPUTS];
		for (size_t i = 0; i < oi.n_inputs; i++) {
			in[i] = oi.inputs[i] == ENGINE_NO_VALUE ? ENGINE_NO_VALUE
			    : g->map[oi.inputs[i]];
		}
		char names[ENGINE_MAX_OP_OUTPUTS][ENGINE_NAME_MAX + 1];
		const char *np[ENGINE_MAX_OP_OUTPUTS];
		for (size_t j = 0; j < oi.n_outputs; j++) {
			struct engine_value_info vi;
			engine_model_value(b, oi.outputs[j], &vi);
			snprintf(names[j], sizeof(names[j]), "step%lld.%.220s",
			    (long long)step, vi.name);
			np[j] = names[j];
		}
		char opn[ENGINE_NAME_MAX + 1];
		snprintf(opn, sizeof(opn), "step%lld.%.220s", (long long)step,
		    oi.name);
		int outs[ENGINE_MAX_OP_OUTPUTS];
		wop(g, oi.op, opn, in, oi.n_inputs, oi.attrs, oi.n_attrs, outs,
		    oi.n_outputs, np);
		for (size_t j = 0; g->err == RF_OK && j < oi.n_outputs; j++) {
			g->map[oi.outputs[j]] = outs[j];
		}
	}
	return g->err == RF_OK ? g->map[engine_model_output(b, 0)] : -1;
}

static int
wslice(struct wg *g, const char *name, int x, int64_t axis, int64_t start,
    int64_t end)
{
	struct engine_attr at[3];
	engine_attr_ints(&at[0], "axes", &axis, 1);
	engine_attr_ints(&at[1], "ends", &end, 1);
	engine_attr_ints(&at[2], "starts", &start, 1);
	int in[1] = { x };
	return wop(g, ENGINE_OP_SLICE, name, in, 1, at, 3, NULL, 0, NULL);
}

static int
waxes0(struct wg *g, enum engine_op op, const char *name, int x)
{
	struct engine_attr at;
	int64_t zero = 0;
	engine_attr_ints(&at, "axes", &zero, 1);
	int in[1] = { x };
	return wop(g, op, name, in, 1, &at, 1, NULL, 0, NULL);
}

int
engine_gen_whole_model(const struct engine_model *base,
    const struct engine_generation *gen, struct engine_model **out,
    struct rf_errinfo *ei)
{
	int64_t C, V;
	int in_rank, out_rank;
	int err = whole_io(base, &C, &V, &in_rank, &out_rank, ei);
	struct engine_gpt_shape sh;
	memset(&sh, 0, sizeof(sh));
	sh.vocab = V;
	sh.context = C;
	sh.whole = true;
	if (err == RF_OK) {
		err = engine_generation_check(&sh, gen, ei);
	}
	if (err != RF_OK) {
		return err;
	}
	char mname[ENGINE_NAME_MAX + 1];
	snprintf(mname, sizeof(mname), "%.200s.gen", engine_model_name(base));
	struct wg g;
	memset(&g, 0, sizeof(g));
	g.base = base;
	g.ei = ei;
	g.m = engine_model_alloc(mname);
	g.map = calloc(engine_model_value_count(base), sizeof(int));
	if (g.m == NULL || g.map == NULL) {
		engine_model_free(g.m);
		free(g.map);
		return RF_ERR_NOMEM;
	}
	/* The base model's weights, borrowed, in its order. */
	size_t nv = engine_model_value_count(base);
	for (size_t v = 0; v < nv && g.err == RF_OK; v++) {
		struct engine_value_info vi;
		engine_model_value(base, (int)v, &vi);
		if (vi.kind == ENGINE_VALUE_WEIGHT) {
			struct tensor t = *vi.weight;
			t.owned = false;
			int idx;
			g.err = engine_model_add_weight_view(g.m, vi.name, &t,
			    &idx, ei);
		}
	}
	int64_t P = gen->prompt_len;
	int tokens = -1, seed = -1;
	int64_t pd[1] = { P }, one[1] = { 1 };
	if (g.err == RF_OK) {
		g.err = engine_model_add_input(g.m, "tokens", TENSOR_I64, 1, pd,
		    &tokens, ei);
	}
	bool greedy = engine_sampler_greedy(&gen->sampler);
	if (g.err == RF_OK && !greedy) {
		g.err = engine_model_add_input(g.m, "seed", TENSOR_I64, 1, one,
		    &seed, ei);
	}
	/* Token 0 after the last real token, up to the context. */
	int pad = wconst_i64(&g, "generate.pad", C - P, 0);
	int tok = -1, seq = -1;
	for (int64_t i = 0; i < gen->n_new && g.err == RF_OK; i++) {
		char n[64];
#define WN(s) (snprintf(n, sizeof(n), "step%lld.%s", (long long)i, (s)), n)
		int parts[3], np = 0;
		parts[np++] = tokens;
		if (seq >= 0) {
			parts[np++] = seq;
		}
		/* P + i <= C - 1 since P + n_new <= C: never empty. */
		parts[np++] = wslice(&g, WN("pad"), pad, 0, 0, C - P - i);
		struct engine_attr ax;
		engine_attr_int(&ax, "axis", 0);
		int x = wop(&g, ENGINE_OP_CONCAT, WN("context"), parts,
		    (size_t)np, &ax, 1, NULL, 0, NULL);
		if (in_rank == 2) {
			x = waxes0(&g, ENGINE_OP_UNSQUEEZE, WN("batch"), x);
		}
		int logits = wcopy(&g, i, x);
		logits = wslice(&g, WN("last"), logits, out_rank - 2,
		    P + i - 1, P + i);
		if (out_rank == 3) {
			logits = waxes0(&g, ENGINE_OP_SQUEEZE, WN("row"),
			    logits);
		}
		struct engine_attr at[4];
		size_t na = 0;
		engine_attr_int(&at[na++], "step", i);
		if (!greedy) {
			engine_attr_float(&at[na++], "temperature",
			    gen->sampler.temperature);
			engine_attr_int(&at[na++], "top_k", gen->sampler.top_k);
			engine_attr_float(&at[na++], "top_p",
			    gen->sampler.top_p);
		}
		char on[2][64];
		snprintf(on[0], sizeof(on[0]), "step%lld.token", (long long)i);
		snprintf(on[1], sizeof(on[1]), "step%lld.generated",
		    (long long)i);
		const char *onp[2] = { on[0], on[1] };
		int in[3] = { logits, seq, seed };
		size_t n_in = seed >= 0 ? 3 : seq >= 0 ? 2 : 1;
		int so[2] = { -1, -1 };
		wop(&g, ENGINE_OP_SAMPLE, WN("sample"), in, n_in, at, na, so, 2,
		    onp);
		tok = so[0];
		seq = so[1];
#undef WN
	}
	free(g.map);
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
