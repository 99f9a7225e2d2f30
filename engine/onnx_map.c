/*
 * engine/onnx_map.c - turns a decoded, validated ONNX graph
 * (engine/onnx_int.h) into an engine model; engine/onnx_nodes.c holds the
 * mapping of each ONNX operator.
 *
 * Nodes are visited in their (topological) order. Each one either
 *
 *   folds:   every input is a constant, so the node is evaluated now with
 *            the engine's own operator code (or, for import-only ops such
 *            as Shape and Equal, the code in onnx_nodes.c) and its outputs
 *            become constants; constants that a run needs become weights;
 *   aliases: Identity and inference-mode Dropout name an existing value;
 *   plans:   one engine operator (three for an opset-11 Softmax on an
 *            inner axis) is recorded to run at inference time.
 *
 * Shape nodes need static shapes. A backward pass marks every value whose
 * shape some Shape (or opset-11 Softmax) depends on; for those, a planned
 * operator is evaluated once on zero-filled inputs of the known shapes,
 * using the same eval code the run uses, so the shape folded into the
 * model is exactly the one the engine will produce.
 *
 * Everything folded or inferred is computed under a per-tensor cap
 * (engine_onnx_opts.fold_max_bytes) and a total of four times that plus
 * twice the tensor bytes in the file, so a tiny hostile file cannot ask
 * for gigabytes.
 *
 * Finally only operators that contribute to the graph outputs are
 * emitted: inputs in graph order, weights in order of first use, then the
 * operators in order. A Refute claim commits to the last trace entry, so
 * the graph outputs must come from the final operator (docs/onnx.md).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/onnx_int.h"

/* ------------------------------------------------------------------ */
/* Errors and names                                                     */
/* ------------------------------------------------------------------ */

int
engine_onnx_err(struct onnx_mapper *mp, int err, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return rf_errf(mp->ei, err, "%s: %s", mp->label, msg);
}

static void
note(const struct onnx_mapper *mp, const char *line)
{
	if (mp->o != NULL && mp->o->note != NULL) {
		mp->o->note(mp->o->note_ctx, line);
	}
}

int
engine_onnx_err_dynamic(struct onnx_mapper *mp, const char *what)
{
	/* Every distinct symbolic dimension still dynamic, in input order:
	 * the importer cannot tell which of them the shape depends on
	 * without folding, and giving them all a value is what helps. */
	char dims[160] = "";
	size_t len = 0, n = 0;
	const struct onnx_graph *g = mp->g;
	for (size_t i = 0; i < g->n_inputs; i++) {
		const struct onnx_value *v = &g->values[g->inputs[i]];
		for (int d = 0; d < v->rank; d++) {
			const char *nm = v->dim_names[d];
			if (nm == NULL) {
				continue;
			}
			bool seen = false;
			for (size_t j = 0; j < i + 1 && !seen; j++) {
				const struct onnx_value *u =
				    &g->values[g->inputs[j]];
				int lim = j == i ? d : u->rank;
				for (int e = 0; e < lim && !seen; e++) {
					seen = u->dim_names[e] != NULL &&
					    strcmp(u->dim_names[e], nm) == 0;
				}
			}
			if (seen) {
				continue;
			}
			char line[300];
			snprintf(line, sizeof(line),
			    "--dim %.60s=N (input '%.60s', dimension %d)", nm,
			    v->name, d);
			note(mp, line);
			int w = snprintf(dims + len, sizeof(dims) - len,
			    "%s--dim %.40s=N", n > 0 ? " " : "", nm);
			if (w > 0 && (size_t)w < sizeof(dims) - len) {
				len += (size_t)w;
			}
			n++;
		}
	}
	if (n == 0) {
		return engine_onnx_err(mp, RF_ERR_NOTSUP,
		    "the shape of '%.60s' is not known at import", what);
	}
	return engine_onnx_err(mp, RF_ERR_NOTSUP,
	    "the shape of '%.60s' is not known at import: it depends on a "
	    "dynamic input dimension; give %s a value: %s",
	    what, n > 1 ? "them" : "it", dims);
}

int
engine_onnx_errctx(struct onnx_mapper *mp, int err)
{
	return rf_errctx(mp->ei, err, "%s: ", mp->label);
}

static uint64_t
gen_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static bool
gen_has(const struct onnx_gen_set *s, const char *name)
{
	if (s->cap == 0) {
		return false;
	}
	size_t at = gen_hash(name) & (s->cap - 1);
	while (s->keys[at] != NULL) {
		if (strcmp(s->keys[at], name) == 0) {
			return true;
		}
		at = (at + 1) & (s->cap - 1);
	}
	return false;
}

static int
gen_add(struct onnx_gen_set *s, char *name)
{
	if ((s->n + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		char **keys = calloc(cap, sizeof(*keys));
		if (keys == NULL) {
			return RF_ERR_NOMEM;
		}
		for (size_t i = 0; i < s->cap; i++) {
			if (s->keys[i] != NULL) {
				size_t at = gen_hash(s->keys[i]) & (cap - 1);
				while (keys[at] != NULL) {
					at = (at + 1) & (cap - 1);
				}
				keys[at] = s->keys[i];
			}
		}
		free(s->keys);
		s->keys = keys;
		s->cap = cap;
	}
	size_t at = gen_hash(name) & (s->cap - 1);
	while (s->keys[at] != NULL) {
		at = (at + 1) & (s->cap - 1);
	}
	s->keys[at] = name;
	s->n++;
	return RF_OK;
}

/*
 * A new name base + suffix (cut to fit ENGINE_NAME_MAX), with "_2", "_3",
 * ... appended until it collides with no ONNX name and no other made-up
 * name. The set owns the result.
 */
static int
gen_name(struct onnx_mapper *mp, const char *base, const char *suffix,
    char **out)
{
	char buf[ENGINE_NAME_MAX + 1];
	size_t sl = strlen(suffix);
	int bl = (int)strlen(base);
	int room = ENGINE_NAME_MAX - (int)sl - 12;
	if (bl > room) {
		bl = room;
	}
	for (unsigned k = 1;; k++) {
		if (k == 1) {
			snprintf(buf, sizeof(buf), "%.*s%s", bl, base, suffix);
		} else {
			snprintf(buf, sizeof(buf), "%.*s%s_%u", bl, base,
			    suffix, k);
		}
		if (engine_onnx_names_find(&mp->g->names, buf) < 0 &&
		    !gen_has(&mp->gen, buf)) {
			break;
		}
	}
	char *copy = strdup(buf);
	if (copy == NULL || gen_add(&mp->gen, copy) != RF_OK) {
		free(copy);
		return RF_ERR_NOMEM;
	}
	*out = copy;
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Values                                                               */
/* ------------------------------------------------------------------ */

int
engine_onnx_resolve(const struct onnx_mapper *mp, int id)
{
	while (id >= 0 && mp->iv[id].kind == ONNX_IV_ALIAS) {
		id = mp->iv[id].alias;
	}
	return id;
}

bool
engine_onnx_is_bool(const struct onnx_mapper *mp, int id)
{
	id = engine_onnx_resolve(mp, id);
	if (id < 0) {
		return false;
	}
	const struct onnx_ival *v = &mp->iv[id];
	return v->kind == ONNX_IV_CONST ? v->c.is_bool :
	    v->kind == ONNX_IV_RUNTIME && v->rt_bool;
}

bool
engine_onnx_is_u8(const struct onnx_mapper *mp, int id)
{
	id = engine_onnx_resolve(mp, id);
	if (id < 0) {
		return false;
	}
	const struct onnx_ival *v = &mp->iv[id];
	return v->kind == ONNX_IV_CONST ? v->c.is_u8 :
	    v->kind == ONNX_IV_RUNTIME && v->rt_u8;
}

/*
 * Where a uint8 value (held as q - 128) may go: quantization operators'
 * data and zero points, and data movement (input 0), which keeps it
 * uint8. Anything that reads the number itself would see q - 128.
 */
static bool
u8_input_ok(enum engine_op op, size_t i)
{
	switch (op) {
	case ENGINE_OP_QUANTIZELINEAR:
		return i == 2;
	case ENGINE_OP_DEQUANTIZELINEAR:
		return i == 0 || i == 2;
	case ENGINE_OP_QLINEARCONV:
		return i == 0 || i == 2 || i == 3 || i == 5 || i == 7;
	case ENGINE_OP_CONCAT:
		return true;
	case ENGINE_OP_RESHAPE:
	case ENGINE_OP_FLATTEN:
	case ENGINE_OP_TRANSPOSE:
	case ENGINE_OP_SQUEEZE:
	case ENGINE_OP_UNSQUEEZE:
	case ENGINE_OP_SLICE:
	case ENGINE_OP_EXPAND:
	case ENGINE_OP_IDENTITY:
	case ENGINE_OP_SPLIT:
	case ENGINE_OP_GATHER:
		return i == 0;
	default:
		return false;
	}
}

static int
check_u8_inputs(struct onnx_mapper *mp, const struct onnx_emit_args *e)
{
	size_t n_u8 = 0, n_present = 0;
	for (size_t i = 0; i < e->n_in; i++) {
		if (e->in[i] < 0) {
			continue;
		}
		n_present++;
		if (!engine_onnx_is_u8(mp, e->in[i])) {
			continue;
		}
		n_u8++;
		if (!u8_input_ok(e->op, i)) {
			return engine_onnx_err(mp, RF_ERR_NOTSUP,
			    "input %zu ('%.60s') is uint8, which only "
			    "QuantizeLinear, DequantizeLinear and data "
			    "movement take",
			    i, engine_onnx_value_name(mp,
			        engine_onnx_resolve(mp, e->in[i])));
		}
	}
	if (e->op == ENGINE_OP_CONCAT && n_u8 > 0 && n_u8 != n_present) {
		return engine_onnx_err(mp, RF_ERR_NOTSUP,
		    "concatenates uint8 and other values");
	}
	return RF_OK;
}

const char *
engine_onnx_value_name(const struct onnx_mapper *mp, int id)
{
	const struct onnx_ival *v = &mp->iv[id];
	if (v->ename != NULL) {
		return v->ename;
	}
	if (v->gen_name != NULL) {
		return v->gen_name;
	}
	return mp->g->values[id].name;
}

/* A made-up value named after base + suffix. */
int
engine_onnx_value_new(
    struct onnx_mapper *mp, const char *base, const char *suffix, int *id)
{
	if (mp->n_iv == mp->cap_iv) {
		size_t cap = mp->cap_iv * 2;
		if (cap > (size_t)ENGINE_MAX_VALUES * 4) {
			return engine_onnx_err(mp, RF_ERR_RANGE, "too many values");
		}
		struct onnx_ival *nv = realloc(mp->iv, cap * sizeof(*nv));
		if (nv == NULL) {
			return RF_ERR_NOMEM;
		}
		mp->iv = nv;
		mp->cap_iv = cap;
	}
	char *name;
	int err = gen_name(mp, base, suffix, &name);
	if (err != RF_OK) {
		return err;
	}
	struct onnx_ival *v = &mp->iv[mp->n_iv];
	memset(v, 0, sizeof(*v));
	v->gen_name = name;
	v->eidx = -1;
	v->pop = -1;
	*id = (int)mp->n_iv++;
	return RF_OK;
}

/* The constant behind input i of the current node, or NULL. */
struct onnx_const *
engine_onnx_in_const(struct onnx_mapper *mp, const struct onnx_node *n, size_t i)
{
	if (i >= n->n_in || n->in[i] < 0) {
		return NULL;
	}
	int id = engine_onnx_resolve(mp, n->in[i]);
	return mp->iv[id].kind == ONNX_IV_CONST ? &mp->iv[id].c : NULL;
}

bool
engine_onnx_in_present(const struct onnx_node *n, size_t i)
{
	return i < n->n_in && n->in[i] >= 0;
}

const char *
engine_onnx_in_name(const struct onnx_mapper *mp, const struct onnx_node *n, size_t i)
{
	return engine_onnx_in_present(n, i) ? mp->g->values[n->in[i]].name : "";
}

/* Output i of the current node as an ONNX id, -1 when absent. */
int
engine_onnx_out_id(const struct onnx_node *n, size_t i)
{
	return i < n->n_out ? n->out[i] : -1;
}

int
engine_onnx_set_const(struct onnx_mapper *mp, int id, struct tensor *t, bool is_bool)
{
	size_t bytes = engine_tensor_nbytes(t);
	if (bytes > mp->fold_limit - mp->fold_total) {
		engine_tensor_fini(t);
		return engine_onnx_err(mp, RF_ERR_RANGE,
		    "constants computed at import exceed %zu bytes in all",
		    mp->fold_limit);
	}
	mp->fold_total += bytes;
	struct onnx_ival *v = &mp->iv[id];
	v->kind = ONNX_IV_CONST;
	v->c.t = *t;
	v->c.is_bool = is_bool;
	v->c.is_u8 = false;
	memset(t, 0, sizeof(*t));
	return RF_OK;
}

/* Claims an output tensor of count elements of esz bytes under the
 * fold cap, before allocating it. */
int
engine_onnx_fold_room(struct onnx_mapper *mp, size_t count, size_t esz)
{
	size_t bytes;
	if (!rf_size_mul(count, esz, &bytes) || bytes > mp->fold_max ||
	    count > TENSOR_MAX_ELEMS) {
		return engine_onnx_err(mp, RF_ERR_RANGE,
		    "its result (%zu elements) is over the import limit of "
		    "%zu bytes",
		    count, mp->fold_max);
	}
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Evaluating engine operators at import                                */
/* ------------------------------------------------------------------ */

/* Same rule as engine/run.c: every NaN an operator outputs becomes
 * 0x7fc00000, so folded constants equal what a run would compute. */
static void
canonical_nans(struct tensor *t)
{
	if (t->dtype != TENSOR_F32) {
		return;
	}
	unsigned char *p = t->data;
	for (size_t i = 0; i < t->count; i++) {
		uint32_t b;
		memcpy(&b, p + 4 * i, 4);
		if ((b & 0x7fffffffu) > 0x7f800000u) {
			b = 0x7fc00000u;
			memcpy(p + 4 * i, &b, 4);
		}
	}
}

/* Evaluates one engine operator under the fold cap. */
/* *capped: a failure with RF_ERR_NOMEM came from the fold cap, not from
 * memory running out. */
static int
eval_engine(struct onnx_mapper *mp, const struct op_def *def,
    const struct op_params *params, const struct tensor *const *in,
    size_t n_in, struct tensor *out, size_t n_out, bool *capped)
{
	*capped = false;
	memset(out, 0, n_out * sizeof(*out));
	for (size_t i = 0; i < def->min_in; i++) {
		if (in[i] == NULL) {
			return engine_onnx_err(
			    mp, RF_ERR_INVAL, "input %zu is missing", i);
		}
	}
	struct op_call call = {
		.params = params,
		.in = in,
		.n_in = n_in,
		.out = out,
		.n_out = n_out,
		.kernels = ENGINE_KERNELS_FAST,
		.ei = mp->ei,
	};
	if (mp->ei != NULL) {
		mp->ei->msg[0] = '\0';
	}
	size_t old = engine_alloc_cap_set(mp->fold_max);
	int err = def->eval(&call);
	*capped = engine_alloc_capped();
	engine_alloc_cap_set(old);
	if (err != RF_OK) {
		for (size_t i = 0; i < n_out; i++) {
			engine_tensor_fini(&out[i]);
		}
		return err;
	}
	for (size_t i = 0; i < n_out; i++) {
		canonical_nans(&out[i]);
	}
	return RF_OK;
}

/*
 * Learns the output shapes of a planned operator by evaluating it on
 * zero-filled stand-ins for its run-time inputs. Leaves the shapes
 * unknown when an input's shape is unknown, when a Reshape's target
 * comes from run-time data, or when zeros are not a valid input (integer
 * division by zero, ...). A shape or type error is the model's fault and
 * is returned.
 */
static int
infer_shapes(struct onnx_mapper *mp, const struct op_def *def,
    const struct op_params *params, const struct onnx_pop *p)
{
	const struct tensor *in[ENGINE_MAX_OP_INPUTS];
	struct tensor zeros[ENGINE_MAX_OP_INPUTS];
	struct tensor out[ENGINE_MAX_OP_OUTPUTS];
	memset(zeros, 0, p->n_in * sizeof(zeros[0]));
	int err = RF_OK;
	bool known = true;
	for (size_t i = 0; i < p->n_in && known; i++) {
		in[i] = NULL;
		if (p->in[i] < 0) {
			continue;
		}
		const struct onnx_ival *v = &mp->iv[p->in[i]];
		if (v->kind == ONNX_IV_CONST) {
			in[i] = &v->c.t;
			continue;
		}
		known =
		    v->shape_known && !(p->op == ENGINE_OP_RESHAPE && i == 1);
		if (known) {
			size_t old = engine_alloc_cap_set(mp->fold_max);
			int e =
			    engine_tensor_init(&zeros[i], v->dtype, v->rank, v->dims);
			bool zcapped = engine_alloc_capped();
			engine_alloc_cap_set(old);
			if (e == RF_ERR_NOMEM && !zcapped) {
				err = e; /* out of memory, not over the cap */
			}
			known = e == RF_OK;
			in[i] = &zeros[i];
		}
	}
	bool capped = false;
	if (known) {
		err = eval_engine(mp, def, params, in, p->n_in, out, p->n_out,
		    &capped);
		if (err == RF_OK) {
			for (size_t j = 0; j < p->n_out; j++) {
				struct onnx_ival *v = &mp->iv[p->out[j]];
				v->shape_known = true;
				v->dtype = out[j].dtype;
				v->rank = out[j].rank;
				memcpy(v->dims, out[j].dims, sizeof(v->dims));
				engine_tensor_fini(&out[j]);
			}
		} else if (err == RF_ERR_RANGE ||
		    (err == RF_ERR_NOMEM && capped)) {
			/* Zeros do not fit: the shape stays unknown. */
			err = RF_OK;
		} else {
			err = engine_onnx_errctx(mp, err);
		}
	}
	for (size_t i = 0; i < p->n_in; i++) {
		engine_tensor_fini(&zeros[i]);
	}
	return err;
}

/* ------------------------------------------------------------------ */
/* Emitting one engine operator: fold or plan                           */
/* ------------------------------------------------------------------ */


static int
pop_push(struct onnx_mapper *mp, struct onnx_pop **out)
{
	if (mp->n_pops >= ENGINE_MAX_OPS) {
		return engine_onnx_err(mp, RF_ERR_RANGE, "more than %u operators",
		    ENGINE_MAX_OPS);
	}
	if (mp->n_pops == mp->cap_pops) {
		size_t cap = mp->cap_pops ? mp->cap_pops * 2 : 64;
		struct onnx_pop *np = realloc(mp->pops, cap * sizeof(*np));
		if (np == NULL) {
			return RF_ERR_NOMEM;
		}
		mp->pops = np;
		mp->cap_pops = cap;
	}
	struct onnx_pop *p = &mp->pops[mp->n_pops];
	memset(p, 0, sizeof(*p));
	*out = p;
	return RF_OK;
}

/* The engine name of an operator made from the current node. */
static char *
op_name(const struct onnx_mapper *mp, const char *suffix)
{
	const struct onnx_node *n = mp->node;
	char buf[ENGINE_NAME_MAX + 1];
	int room = ENGINE_NAME_MAX - (int)strlen(suffix);
	if (n->name[0] != '\0') {
		snprintf(buf, sizeof(buf), "%.*s%s", room, n->name, suffix);
	} else {
		snprintf(buf, sizeof(buf), "%.64s_%zu%s", n->op_type, n->index,
		    suffix);
	}
	return strdup(buf);
}

bool
engine_onnx_used(const struct onnx_mapper *mp, int onnx_id)
{
	return onnx_id >= 0 && (size_t)onnx_id < mp->g->n_values &&
	    mp->uses[onnx_id] > 0;
}

/* Output ids with absent ones in the middle filled with made-up values
 * and trailing ones dropped; outputs beyond the operator's must be
 * unused. */
static int
emit_outputs(struct onnx_mapper *mp, const struct op_def *def,
    const struct onnx_emit_args *e, int *out, size_t *n_out)
{
	size_t k = e->n_out;
	while (k > 0 && e->out[k - 1] < 0) {
		k--;
	}
	for (size_t j = def->max_out; j < k; j++) {
		if (engine_onnx_used(mp, e->out[j])) {
			return engine_onnx_err(mp, RF_ERR_NOTSUP,
			    "output %zu ('%.60s') is not supported", j,
			    engine_onnx_value_name(mp, e->out[j]));
		}
	}
	if (k > def->max_out) {
		k = def->max_out;
	}
	while (k > 0 && e->out[k - 1] < 0) {
		k--;
	}
	if (k < def->min_out) {
		k = def->min_out;
	}
	bool need = false;
	for (size_t j = 0; j < k && j < e->n_out; j++) {
		need =
		    need || (e->out[j] >= 0 && mp->iv[e->out[j]].need_shape);
	}
	for (size_t j = 0; j < k; j++) {
		out[j] = j < e->n_out ? e->out[j] : -1;
		if (out[j] < 0) {
			char sfx[32];
			snprintf(sfx, sizeof(sfx), "/out%zu", j);
			const char *base =
			    mp->node != NULL && mp->node->name[0] != '\0'
			    ? mp->node->name
			    : "value";
			int err = engine_onnx_value_new(mp, base, sfx, &out[j]);
			if (err != RF_OK) {
				return err;
			}
			mp->iv[out[j]].need_shape = need;
		}
	}
	*n_out = k;
	return RF_OK;
}

int
engine_onnx_emit(struct onnx_mapper *mp, const struct onnx_emit_args *e)
{
	const struct op_def *def = engine_op_def_get(e->op);
	if (e->n_in < def->min_in || e->n_in > def->max_in) {
		return engine_onnx_err(mp, RF_ERR_INVAL,
		    "%zu inputs, %s takes %u..%u", e->n_in, def->name,
		    def->min_in, def->max_in);
	}
	struct op_params params;
	memset(&params, 0, sizeof(params));
	struct op_attrs at = { e->attrs, e->n_attrs };
	if (mp->ei != NULL) {
		mp->ei->msg[0] = '\0';
	}
	int err = def->parse(&at, e->n_in, &params, mp->ei);
	if (err != RF_OK) {
		return engine_onnx_errctx(mp, err);
	}
	err = check_u8_inputs(mp, e);
	if (err != RF_OK) {
		return err;
	}
	int out[ENGINE_MAX_OP_OUTPUTS];
	size_t n_out = 0;
	err = emit_outputs(mp, def, e, out, &n_out);
	if (err != RF_OK || n_out == 0) {
		return err;
	}
	int in[ENGINE_MAX_OP_INPUTS];
	bool all_const = true;
	for (size_t i = 0; i < e->n_in; i++) {
		in[i] = engine_onnx_resolve(mp, e->in[i]);
		if (in[i] >= 0 && mp->iv[in[i]].kind != ONNX_IV_CONST) {
			all_const = false;
		}
	}
	if (all_const && !e->keep) {
		const struct tensor *ct[ENGINE_MAX_OP_INPUTS];
		struct tensor res[ENGINE_MAX_OP_OUTPUTS];
		for (size_t i = 0; i < e->n_in; i++) {
			ct[i] = in[i] >= 0 ? &mp->iv[in[i]].c.t : NULL;
		}
		bool capped;
		err = eval_engine(mp, def, &params, ct, e->n_in, res, n_out,
		    &capped);
		if (err != RF_OK) {
			if (err == RF_ERR_NOMEM && capped) {
				return engine_onnx_err(mp, RF_ERR_RANGE,
				    "folding it at import needs a tensor over "
				    "%zu bytes",
				    mp->fold_max);
			}
			return engine_onnx_errctx(mp, err);
		}
		bool is_bool = e->bool_from == ONNX_BOOL_OUT || (e->bool_from >= 0 &&
		    in[e->bool_from] >= 0 && mp->iv[in[e->bool_from]].c.is_bool);
		bool is_u8 = e->bool_from == ONNX_U8_OUT ||
		    (e->bool_from >= 0 && in[e->bool_from] >= 0 &&
		        mp->iv[in[e->bool_from]].c.is_u8);
		for (size_t j = 0; j < n_out; j++) {
			if (err == RF_OK) {
				err = engine_onnx_set_const(
				    mp, out[j], &res[j], is_bool);
				mp->iv[out[j]].c.is_u8 = err == RF_OK && is_u8;
			} else {
				engine_tensor_fini(&res[j]);
			}
		}
		return err;
	}
	struct onnx_pop *p = NULL;
	err = pop_push(mp, &p);
	if (err != RF_OK) {
		return err;
	}
	p->op = e->op;
	p->n_in = e->n_in;
	p->n_out = n_out;
	p->name = op_name(mp, e->suffix);
	p->in = malloc((e->n_in ? e->n_in : 1) * sizeof(int));
	p->attrs = malloc((e->n_attrs ? e->n_attrs : 1) * sizeof(*p->attrs));
	mp->n_pops++; /* owned from here on, freed with the mapper */
	if (p->name == NULL || p->in == NULL || p->attrs == NULL) {
		return RF_ERR_NOMEM;
	}
	memcpy(p->in, in, e->n_in * sizeof(int));
	if (e->n_attrs > 0) {
		memcpy(p->attrs, e->attrs, e->n_attrs * sizeof(*p->attrs));
	}
	p->n_attrs = e->n_attrs;
	bool need = false;
	/* Bool-ness at run time: comparisons and logic make bools, data
	 * movement keeps them (bool_from). */
	bool rb = e->bool_from == ONNX_BOOL_OUT || (e->bool_from >= 0 &&
	    engine_onnx_is_bool(mp, in[e->bool_from]));
	bool ru8 = e->bool_from == ONNX_U8_OUT || (e->bool_from >= 0 &&
	    engine_onnx_is_u8(mp, in[e->bool_from]));
	for (size_t j = 0; j < n_out; j++) {
		struct onnx_ival *v = &mp->iv[out[j]];
		p->out[j] = out[j];
		v->rt_bool = rb;
		v->rt_u8 = ru8;
		v->kind = ONNX_IV_RUNTIME;
		v->pop = (int)(mp->n_pops - 1);
		v->pop_out = (int)j;
		need = need || v->need_shape;
	}
	if (need) {
		return infer_shapes(mp, def, &params, p);
	}
	return RF_OK;
}

/* The common case: one engine operator, the node's inputs and outputs. */
int
engine_onnx_emit_node(struct onnx_mapper *mp, const struct onnx_node *n,
    enum engine_op op, const struct engine_attr *attrs, size_t n_attrs,
    int bool_from)
{
	struct onnx_emit_args e = { op, n->in, n->n_in, n->out, n->n_out,
		attrs, n_attrs, "", bool_from, false };
	return engine_onnx_emit(mp, &e);
}

/* ------------------------------------------------------------------ */
/* The whole graph                                                      */
/* ------------------------------------------------------------------ */

/* Which values some Shape (or opset < 13 Softmax) needs the shape of,
 * and, backwards, everything those shapes depend on. */
static void
mark_need_shape(struct onnx_mapper *mp)
{
	const struct onnx_graph *g = mp->g;
	for (size_t k = g->n_nodes; k-- > 0;) {
		const struct onnx_node *n = &g->nodes[k];
		bool need = strcmp(n->op_type, "Shape") == 0 ||
		    ((strcmp(n->op_type, "Softmax") == 0 ||
		         strcmp(n->op_type, "LogSoftmax") == 0) &&
		        g->opset < 13);
		for (size_t j = 0; j < n->n_out && !need; j++) {
			need = n->out[j] >= 0 && mp->iv[n->out[j]].need_shape;
		}
		for (size_t i = 0; need && i < n->n_in; i++) {
			if (n->in[i] >= 0) {
				mp->iv[n->in[i]].need_shape = true;
			}
		}
	}
}

static int
mapper_init(struct onnx_mapper *mp, struct onnx_graph *g,
    const struct engine_onnx_opts *o, struct rf_errinfo *ei)
{
	memset(mp, 0, sizeof(*mp));
	mp->g = g;
	mp->o = o;
	mp->ei = ei;
	mp->fold_max = o != NULL && o->fold_max_bytes != 0
	    ? o->fold_max_bytes
	    : ONNX_FOLD_MAX_BYTES;
	/* The file's own tensors (initializers, and Constant nodes, which
	 * some exporters use for weights) raise the total: folding their
	 * transposes and such is normal. */
	size_t file_bytes = 0;
	for (size_t i = 0; i < g->n_values; i++) {
		file_bytes += engine_tensor_nbytes(&g->values[i].init.t);
	}
	for (size_t k = 0; k < g->n_nodes; k++) {
		for (size_t i = 0; i < g->nodes[k].n_attrs; i++) {
			file_bytes += engine_tensor_nbytes(&g->nodes[k].attrs[i].t.t);
		}
	}
	mp->fold_limit = mp->fold_max * 4 + file_bytes * 2;
	mp->cap_iv = g->n_values + 16;
	mp->iv = calloc(mp->cap_iv, sizeof(*mp->iv));
	mp->uses = calloc(g->n_values + 1, sizeof(*mp->uses));
	if (mp->iv == NULL || mp->uses == NULL) {
		return RF_ERR_NOMEM;
	}
	mp->n_iv = g->n_values;
	for (size_t i = 0; i < g->n_values; i++) {
		struct onnx_value *v = &g->values[i];
		struct onnx_ival *iv = &mp->iv[i];
		iv->eidx = -1;
		iv->pop = -1;
		if (v->kind == ONNX_VALUE_INIT) {
			iv->kind = ONNX_IV_CONST;
			iv->c = v->init;
			memset(&v->init, 0, sizeof(v->init));
		} else if (v->kind == ONNX_VALUE_INPUT) {
			iv->kind = ONNX_IV_RUNTIME;
			iv->dtype = v->dtype;
			iv->rank = v->rank;
			memcpy(iv->dims, v->dims, sizeof(iv->dims));
			iv->shape_known = true;
			for (int d = 0; d < v->rank; d++) {
				iv->shape_known =
				    iv->shape_known && v->dims[d] >= 0;
			}
		}
	}
	for (size_t k = 0; k < g->n_nodes; k++) {
		for (size_t i = 0; i < g->nodes[k].n_in; i++) {
			if (g->nodes[k].in[i] >= 0) {
				mp->uses[g->nodes[k].in[i]]++;
			}
		}
	}
	for (size_t i = 0; i < g->n_outputs; i++) {
		mp->uses[g->outputs[i]]++;
	}
	mark_need_shape(mp);
	return RF_OK;
}

static void
mapper_fini(struct onnx_mapper *mp)
{
	for (size_t i = 0; mp->iv != NULL && i < mp->n_iv; i++) {
		engine_tensor_fini(&mp->iv[i].c.t);
	}
	for (size_t k = 0; k < mp->n_pops; k++) {
		free(mp->pops[k].name);
		free(mp->pops[k].in);
		free(mp->pops[k].attrs);
	}
	for (size_t i = 0; i < mp->gen.cap; i++) {
		free(mp->gen.keys[i]);
	}
	free(mp->gen.keys);
	free(mp->pops);
	free(mp->iv);
	free(mp->uses);
}

struct op_count {
	const char *op_type;
	const char *first; /* the first node's name, "" if none */
	size_t first_k;
	size_t n;
};

/*
 * Refuses a graph with operators the importer lacks before mapping any
 * node, naming all of them at once: each node through the note callback,
 * and every op type with its count in the error (as many as fit).
 */
static int
check_supported(struct onnx_mapper *mp)
{
	const struct onnx_graph *g = mp->g;
	struct op_count *types = NULL;
	size_t n_types = 0, n_bad = 0;
	for (size_t k = 0; k < g->n_nodes; k++) {
		const struct onnx_node *n = &g->nodes[k];
		if (engine_onnx_map_lookup(n->op_type) != NULL) {
			continue;
		}
		if (types == NULL) {
			types = calloc(g->n_nodes, sizeof(*types));
			if (types == NULL) {
				return RF_ERR_NOMEM;
			}
		}
		char line[300];
		if (n->name[0] != '\0') {
			snprintf(line, sizeof(line),
			    "node '%.120s' (%.40s): operator not supported",
			    n->name, n->op_type);
		} else {
			snprintf(line, sizeof(line),
			    "node #%zu (%.40s): operator not supported", k,
			    n->op_type);
		}
		note(mp, line);
		n_bad++;
		size_t t = 0;
		while (t < n_types && strcmp(types[t].op_type, n->op_type) != 0) {
			t++;
		}
		if (t == n_types) {
			types[n_types].op_type = n->op_type;
			types[n_types].first = n->name;
			types[n_types++].first_k = k;
		}
		types[t].n++;
	}
	if (n_bad == 0) {
		return RF_OK;
	}
	char list[190] = "";
	size_t len = 0, shown = 0;
	for (size_t t = 0; t < n_types; t++) {
		char item[128], who[64];
		if (types[t].first[0] != '\0') {
			snprintf(who, sizeof(who), "'%.40s'", types[t].first);
		} else {
			snprintf(who, sizeof(who), "#%zu", types[t].first_k);
		}
		snprintf(item, sizeof(item), "%s%.40s x%zu (%s %s)",
		    t > 0 ? ", " : "", types[t].op_type, types[t].n,
		    types[t].n > 1 ? "first node" : "node", who);
		if (len + strlen(item) + 8 >= sizeof(list)) {
			break;
		}
		memcpy(list + len, item, strlen(item) + 1);
		len += strlen(item);
		shown++;
	}
	if (shown < n_types) {
		snprintf(list + len, sizeof(list) - len, ", ...");
	}
	free(types);
	return rf_errf(mp->ei, RF_ERR_NOTSUP,
	    "%zu node%s of %zu unsupported operator%s: %s", n_bad,
	    n_bad == 1 ? "" : "s", n_types, n_types == 1 ? "" : "s", list);
}

static int
map_nodes(struct onnx_mapper *mp)
{
	for (size_t k = 0; k < mp->g->n_nodes; k++) {
		const struct onnx_node *n = &mp->g->nodes[k];
		mp->node = n;
		if (n->name[0] != '\0') {
			snprintf(mp->label, sizeof(mp->label),
			    "node '%.120s' (%.40s)", n->name, n->op_type);
		} else {
			snprintf(mp->label, sizeof(mp->label),
			    "node #%zu (%.40s)", k, n->op_type);
		}
		const struct onnx_map_entry *me = engine_onnx_map_lookup(n->op_type);
		if (me == NULL) {
			return engine_onnx_err(mp, RF_ERR_NOTSUP,
			    "operator '%.40s' is not supported", n->op_type);
		}
		int err = me->fn(mp, n, me->op);
		if (err != RF_OK) {
			if (err == RF_ERR_NOMEM && mp->ei != NULL &&
			    mp->ei->msg[0] == '\0') {
				engine_onnx_err(mp, err, "out of memory");
			}
			return err;
		}
	}
	mp->node = NULL;
	snprintf(mp->label, sizeof(mp->label), "graph");
	return RF_OK;
}

/*
 * Several graph outputs from different operators (a model's logits and
 * its KV cache), or not all of one operator's in its order: one Identity
 * with an input and an output per graph output, appended last, so that a
 * claim's trace entry holds them all. Each output keeps its ONNX name;
 * the value behind it is renamed NAME/value (a graph input keeps its
 * name and the output becomes NAME/output).
 */
static int
gather_outputs(struct onnx_mapper *mp, int *res)
{
	const struct onnx_graph *g = mp->g;
	if (g->n_outputs > ENGINE_MAX_OP_OUTPUTS) {
		return rf_errf(mp->ei, RF_ERR_NOTSUP,
		    "%zu graph outputs from different operators: at most %d "
		    "can be gathered into the last operator",
		    g->n_outputs, ENGINE_MAX_OP_OUTPUTS);
	}
	int target[ENGINE_MAX_OP_OUTPUTS];
	int err = RF_OK;
	for (size_t i = 0; err == RF_OK && i < g->n_outputs; i++) {
		int o = g->outputs[i];
		const char *oname = g->values[o].name;
		snprintf(mp->label, sizeof(mp->label), "graph output '%.60s'",
		    oname);
		target[i] = o;
		if (o != res[i]) {
			/* An alias: define it anew. */
			mp->iv[o].kind = ONNX_IV_UNSET;
		} else if (mp->iv[o].kind == ONNX_IV_CONST ||
		    mp->iv[o].pop >= 0) {
			/* A weight or an operator's value: it gets a new
			 * name, the output keeps its. */
			char *wn;
			err = gen_name(mp, oname, "/value", &wn);
			if (err == RF_OK) {
				mp->iv[o].ename = wn;
				err = engine_onnx_value_new(mp, oname,
				    "/output", &target[i]);
			}
			if (err == RF_OK) {
				mp->iv[target[i]].ename = oname;
			}
		} else {
			/* A graph input keeps its name; the output is new. */
			err = engine_onnx_value_new(mp, oname, "/output",
			    &target[i]);
		}
	}
	if (err != RF_OK) {
		return err;
	}
	struct onnx_node fake = { "graph outputs", "Identity", 0, NULL, 0,
		NULL, 0, NULL, 0 };
	mp->node = &fake;
	snprintf(mp->label, sizeof(mp->label), "graph outputs");
	struct onnx_emit_args e = { ENGINE_OP_IDENTITY, res, g->n_outputs,
		target, g->n_outputs, NULL, 0, "/identity", -1, true };
	err = engine_onnx_emit(mp, &e);
	mp->node = NULL;
	for (size_t i = 0; err == RF_OK && i < g->n_outputs; i++) {
		res[i] = target[i];
	}
	return err;
}

/*
 * Resolves the graph outputs and makes them come from the last operator:
 * one output that is a constant or a graph input gets an Identity;
 * several must all come from one operator, the last one that runs.
 */
static int
plan_outputs(struct onnx_mapper *mp, int *res)
{
	const struct onnx_graph *g = mp->g;
	for (size_t i = 0; i < g->n_outputs; i++) {
		res[i] = engine_onnx_resolve(mp, g->outputs[i]);
		for (size_t j = 0; j < i; j++) {
			if (res[j] == res[i]) {
				return rf_errf(mp->ei, RF_ERR_NOTSUP,
				    "graph outputs '%.60s' and '%.60s' are "
				    "the same value",
				    g->values[g->outputs[j]].name,
				    g->values[g->outputs[i]].name);
			}
		}
	}
	enum onnx_ival_kind k0 = mp->iv[res[0]].kind;
	if (g->n_outputs == 1 &&
	    (k0 != ONNX_IV_RUNTIME || mp->iv[res[0]].pop < 0)) {
		/* Copy the constant or input through an Identity, named as
		 * the graph output (or a new name if it already is one). */
		int o = g->outputs[0];
		int target = o;
		const char *oname = g->values[o].name;
		mp->node = NULL;
		snprintf(mp->label, sizeof(mp->label), "graph output '%.60s'",
		    oname);
		int err = RF_OK;
		if (o != res[0]) {
			/* An alias: define it anew. */
			mp->iv[o].kind = ONNX_IV_UNSET;
		} else if (k0 == ONNX_IV_CONST) {
			/* The weight gets a new name, the output keeps its. */
			char *wn;
			err = gen_name(mp, oname, "/value", &wn);
			if (err == RF_OK) {
				mp->iv[o].ename = wn;
				err = engine_onnx_value_new(
				    mp, oname, "/output", &target);
			}
			if (err == RF_OK) {
				mp->iv[target].ename = oname;
			}
		} else {
			/* A graph input keeps its name; the output is new. */
			err = engine_onnx_value_new(mp, oname, "/output", &target);
		}
		if (err != RF_OK) {
			return err;
		}
		struct onnx_node fake = { g->values[o].name, "Identity", 0,
			NULL, 0, NULL, 0, NULL, 0 };
		mp->node = &fake;
		struct onnx_emit_args e = { ENGINE_OP_IDENTITY, &res[0], 1,
			&target, 1, NULL, 0, "/identity", -1, true };
		err = engine_onnx_emit(mp, &e);
		mp->node = NULL;
		if (err != RF_OK) {
			return err;
		}
		res[0] = target;
		return RF_OK;
	}
	int pop = -1;
	bool one = true;
	for (size_t i = 0; one && i < g->n_outputs; i++) {
		const struct onnx_ival *v = &mp->iv[res[i]];
		one = v->kind == ONNX_IV_RUNTIME && v->pop >= 0 &&
		    (pop < 0 || v->pop == pop);
		pop = v->pop;
	}
	if (one && mp->pops[pop].n_out == g->n_outputs) {
		for (size_t i = 0; one && i < g->n_outputs; i++) {
			one = mp->pops[pop].out[i] == res[i];
		}
	}
	return one ? RF_OK : gather_outputs(mp, res);
}

static void
mark_live(struct onnx_mapper *mp, const int *res, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		mp->iv[res[i]].live = true;
	}
	for (size_t k = mp->n_pops; k-- > 0;) {
		struct onnx_pop *p = &mp->pops[k];
		for (size_t j = 0; j < p->n_out && !p->live; j++) {
			p->live = mp->iv[p->out[j]].live;
		}
		for (size_t i = 0; p->live && i < p->n_in; i++) {
			if (p->in[i] >= 0) {
				mp->iv[p->in[i]].live = true;
			}
		}
	}
}

static int
add_weight(struct onnx_mapper *mp, struct engine_model *m, int id)
{
	struct onnx_ival *v = &mp->iv[id];
	if (v->eidx >= 0) {
		return RF_OK;
	}
	int err = engine_model_add_weight(m, engine_onnx_value_name(mp, id), &v->c.t,
	    &v->eidx, mp->ei);
	return err != RF_OK ? rf_errctx(mp->ei, err, "weight: ") : RF_OK;
}

static int
build_model(struct onnx_mapper *mp, const int *res, struct engine_model **out)
{
	const struct onnx_graph *g = mp->g;
	const char *name = mp->o != NULL && mp->o->name != NULL ? mp->o->name :
	    g->name;
	if (strlen(name) > ENGINE_NAME_MAX) {
		return rf_errf(mp->ei, RF_ERR_RANGE,
		    "the model name is over %d bytes", ENGINE_NAME_MAX);
	}
	/* The graph outputs keep their ONNX names, also when they are an
	 * alias (Identity, Dropout) of an operator's output. */
	for (size_t i = 0; i < g->n_outputs; i++) {
		if (res[i] != g->outputs[i] && mp->iv[g->outputs[i]].kind ==
		    ONNX_IV_ALIAS) {
			mp->iv[res[i]].ename = g->values[g->outputs[i]].name;
		}
	}
	struct engine_model *m = engine_model_alloc(name[0] ? name : "onnx");
	if (m == NULL) {
		return RF_ERR_NOMEM;
	}
	int err = RF_OK;
	for (size_t i = 0; err == RF_OK && i < g->n_inputs; i++) {
		int id = g->inputs[i];
		const struct onnx_value *v = &g->values[id];
		err = engine_model_add_input(m, v->name, v->dtype, v->rank,
		    v->dims, &mp->iv[id].eidx, mp->ei);
	}
	for (size_t k = 0; err == RF_OK && k < mp->n_pops; k++) {
		const struct onnx_pop *p = &mp->pops[k];
		for (size_t i = 0; p->live && err == RF_OK && i < p->n_in;
		     i++) {
			if (p->in[i] >= 0 &&
			    mp->iv[p->in[i]].kind == ONNX_IV_CONST) {
				err = add_weight(mp, m, p->in[i]);
			}
		}
	}
	for (size_t k = 0; err == RF_OK && k < mp->n_pops; k++) {
		const struct onnx_pop *p = &mp->pops[k];
		if (!p->live) {
			continue;
		}
		int in[ENGINE_MAX_OP_INPUTS];
		const char *names[ENGINE_MAX_OP_OUTPUTS];
		int outs[ENGINE_MAX_OP_OUTPUTS];
		for (size_t i = 0; i < p->n_in; i++) {
			in[i] = p->in[i] >= 0 ? mp->iv[p->in[i]].eidx
			                      : ENGINE_NO_VALUE;
		}
		for (size_t j = 0; j < p->n_out; j++) {
			names[j] = engine_onnx_value_name(mp, p->out[j]);
		}
		err = engine_model_add_op(m, p->op, p->name, in, p->n_in,
		    names, p->n_out, p->attrs, p->n_attrs, outs, mp->ei);
		for (size_t j = 0; err == RF_OK && j < p->n_out; j++) {
			mp->iv[p->out[j]].eidx = outs[j];
		}
	}
	for (size_t i = 0; err == RF_OK && i < g->n_outputs; i++) {
		err = engine_model_add_output(m, mp->iv[res[i]].eidx, mp->ei);
	}
	if (err != RF_OK) {
		engine_model_free(m);
		return err;
	}
	*out = m;
	return RF_OK;
}

int
engine_onnx_map_graph(struct onnx_graph *g, const struct engine_onnx_opts *o,
    struct engine_model **out, struct rf_errinfo *ei)
{
	struct onnx_mapper mp;
	int res[ENGINE_MAX_GRAPH_IO];
	int err = mapper_init(&mp, g, o, ei);
	if (err == RF_OK) {
		err = check_supported(&mp);
	}
	if (err == RF_OK) {
		err = map_nodes(&mp);
	}
	if (err == RF_OK) {
		err = plan_outputs(&mp, res);
	}
	/* A uint8 output would reach the job as q - 128. */
	for (size_t i = 0; err == RF_OK && i < g->n_outputs; i++) {
		if (engine_onnx_is_u8(&mp, res[i])) {
			err = rf_errf(ei, RF_ERR_NOTSUP,
			    "graph output '%.60s' is uint8; end the graph with "
			    "a DequantizeLinear",
			    g->values[g->outputs[i]].name);
		}
	}
	if (err == RF_OK) {
		mark_live(&mp, res, g->n_outputs);
		err = build_model(&mp, res, out);
	}
	mapper_fini(&mp);
	return err;
}
