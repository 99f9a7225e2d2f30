/*
 * engine/onnx_nodes.c - how each ONNX operator maps onto the engine: the
 * table of supported op types and one function per kind of node.
 *
 * Most operators map one to one, their attributes passed through for the
 * engine operator's parse function to judge (so an unknown attribute is
 * refused by name). Where ONNX takes shapes and axes as tensor inputs
 * (Squeeze and Unsqueeze from opset 13, Split, Slice, Pad, Expand), they
 * must be constants and become attributes. Constant, Shape,
 * ConstantOfShape and Range exist only at import: they fold constants.
 * Bools are i8 0/1; the mapper tracks which values are bools so that
 * Where, Not, And and Or only ever see one (docs/onnx.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/onnx_int.h"

/* ------------------------------------------------------------------ */
/* Attributes                                                           */
/* ------------------------------------------------------------------ */

static const struct onnx_attr *
attr_find(const struct onnx_node *n, const char *name)
{
	for (size_t i = 0; i < n->n_attrs; i++) {
		if (strcmp(n->attrs[i].name, name) == 0) {
			return &n->attrs[i];
		}
	}
	return NULL;
}

/* Refuses, by name, any attribute not in known (NULL-terminated). */
static int
attrs_only(struct onnx_mapper *mp, const struct onnx_node *n,
    const char *const *known)
{
	for (size_t i = 0; i < n->n_attrs; i++) {
		bool ok = false;
		for (size_t j = 0; known != NULL && known[j] != NULL; j++) {
			ok = ok || strcmp(n->attrs[i].name, known[j]) == 0;
		}
		if (!ok) {
			return engine_onnx_err(mp, RF_ERR_NOTSUP,
			    "attribute '%.40s' is not supported",
			    n->attrs[i].name);
		}
	}
	return RF_OK;
}

static int
attr_int(struct onnx_mapper *mp, const struct onnx_node *n, const char *name,
    int64_t def, int64_t *out)
{
	const struct onnx_attr *a = attr_find(n, name);
	if (a == NULL) {
		*out = def;
		return RF_OK;
	}
	if (a->type != ONNX_AT_INT) {
		return engine_onnx_err(
		    mp, RF_ERR_INVAL, "attribute '%s' must be an int", name);
	}
	*out = a->i;
	return RF_OK;
}

/* A list of ints (absent: *present false). */
static int
attr_ints(struct onnx_mapper *mp, const struct onnx_node *n, const char *name,
    const int64_t **v, size_t *count, bool *present)
{
	const struct onnx_attr *a = attr_find(n, name);
	*present = a != NULL;
	*count = 0;
	*v = NULL;
	if (a == NULL) {
		return RF_OK;
	}
	if (a->type != ONNX_AT_INTS) {
		return engine_onnx_err(mp, RF_ERR_INVAL,
		    "attribute '%s' must be a list of ints", name);
	}
	*v = a->ints;
	*count = a->n;
	return RF_OK;
}

/* Copies the ONNX attributes of a node that maps one to one onto an
 * engine operator; the operator's parse function judges them. */
static int
attrs_to_engine(struct onnx_mapper *mp, const struct onnx_node *n,
    struct engine_attr *out, size_t *count)
{
	size_t k = 0;
	for (size_t i = 0; i < n->n_attrs; i++) {
		const struct onnx_attr *a = &n->attrs[i];
		struct engine_attr *e = &out[k++];
		int err;
		switch (a->type) {
		case ONNX_AT_INT:
			err = engine_attr_int(e, a->name, a->i);
			break;
		case ONNX_AT_FLOAT:
			err = engine_attr_float(e, a->name, a->f);
			break;
		case ONNX_AT_INTS:
			err = engine_attr_ints(e, a->name, a->ints, a->n);
			break;
		case ONNX_AT_FLOATS:
			err = engine_attr_floats(e, a->name, a->floats, a->n);
			break;
		case ONNX_AT_STRING: {
			char s[ENGINE_ATTR_MAX_VALUES + 1];
			err = RF_ERR_RANGE;
			if (a->s_len <= ENGINE_ATTR_MAX_VALUES &&
			    (a->s_len == 0 ||
			        memchr(a->s, 0, a->s_len) == NULL)) {
				if (a->s_len > 0) {
					memcpy(s, a->s, a->s_len);
				}
				s[a->s_len] = '\0';
				err = engine_attr_string(e, a->name, s);
			}
			break;
		}
		default:
			err = RF_ERR_NOTSUP;
			break;
		}
		if (err != RF_OK) {
			return engine_onnx_err(mp, RF_ERR_NOTSUP,
			    "attribute '%.40s' (type %d) is not supported "
			    "with this value",
			    a->name, a->type);
		}
	}
	*count = k;
	return RF_OK;
}

/*
 * Input i as a list of at most max integers: it must be a constant
 * (int32 or int64, rank 0 or 1), since the engine takes shapes and axes
 * as attributes. Absent: *present false.
 */
static int
const_ints(struct onnx_mapper *mp, const struct onnx_node *n, size_t i,
    const char *what, int64_t *v, size_t max, size_t *count, bool *present)
{
	*count = 0;
	*present = engine_onnx_in_present(n, i);
	if (!*present) {
		return RF_OK;
	}
	const struct onnx_const *c = engine_onnx_in_const(mp, n, i);
	if (c == NULL) {
		return engine_onnx_err(mp, RF_ERR_NOTSUP,
		    "input %zu ('%.60s', the %s) must be a constant: the "
		    "engine takes it as an attribute",
		    i, engine_onnx_in_name(mp, n, i), what);
	}
	const struct tensor *t = &c->t;
	if ((t->dtype != TENSOR_I64 && t->dtype != TENSOR_I32) || c->is_bool ||
	    t->rank > 1) {
		return engine_onnx_err(mp, RF_ERR_INVAL,
		    "input %zu (the %s) must be a 1-D int64 tensor", i, what);
	}
	if (t->count > max) {
		return engine_onnx_err(mp, RF_ERR_RANGE,
		    "input %zu (the %s) has %zu values, over %zu", i, what,
		    t->count, max);
	}
	for (size_t k = 0; k < t->count; k++) {
		v[k] = t->dtype == TENSOR_I64 ? ((const int64_t *)t->data)[k] :
		    ((const int32_t *)t->data)[k];
	}
	*count = t->count;
	return RF_OK;
}

static int
need_inputs(struct onnx_mapper *mp, const struct onnx_node *n, size_t min,
    size_t max)
{
	if (n->n_in < min || n->n_in > max) {
		return engine_onnx_err(mp, RF_ERR_INVAL,
		    "has %zu inputs, expected %zu..%zu", n->n_in, min, max);
	}
	for (size_t i = 0; i < min; i++) {
		if (!engine_onnx_in_present(n, i)) {
			return engine_onnx_err(
			    mp, RF_ERR_INVAL, "input %zu is missing", i);
		}
	}
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Node mappings                                                        */
/* ------------------------------------------------------------------ */


/* Operators whose ONNX attributes are the engine's. */
static int
map_direct(
    struct onnx_mapper *mp, const struct onnx_node *n, enum engine_op op)
{
	/* 32 attributes of about 550 bytes: on the heap. */
	struct engine_attr *attrs = calloc(ENGINE_MAX_OP_ATTRS, sizeof(*attrs));
	size_t na = 0;
	int err = attrs == NULL ? RF_ERR_NOMEM :
	    attrs_to_engine(mp, n, attrs, &na);
	if (err == RF_OK) {
		/* Data movement keeps a bool constant bool (Concat, Gather,
		 * ...). */
		bool moves = op == ENGINE_OP_RESHAPE ||
		    op == ENGINE_OP_FLATTEN || op == ENGINE_OP_TRANSPOSE ||
		    op == ENGINE_OP_CONCAT || op == ENGINE_OP_GATHER;
		err = engine_onnx_emit_node(mp, n, op, attrs, na,
		    moves ? 0 : -1);
	}
	free(attrs);
	return err;
}

static int
map_alias(struct onnx_mapper *mp, int out, int in)
{
	if (out < 0) {
		return RF_OK;
	}
	mp->iv[out].kind = ONNX_IV_ALIAS;
	mp->iv[out].alias = in;
	return RF_OK;
}

static int
map_identity(
    struct onnx_mapper *mp, const struct onnx_node *n, enum engine_op op)
{
	int err = need_inputs(mp, n, 1, 1);
	if (err == RF_OK) {
		err = attrs_only(mp, n, NULL);
	}
	if (err == RF_OK) {
		err = map_alias(mp, engine_onnx_out_id(n, 0), n->in[0]);
	}
	return err;
}

/* Inference mode only: the identity, and the mask output unused. */
static int
map_dropout(
    struct onnx_mapper *mp, const struct onnx_node *n, enum engine_op op)
{
	static const char *const known[] = { "ratio", "seed", NULL };
	int err = need_inputs(mp, n, 1, 3);
	if (err == RF_OK) {
		err = attrs_only(mp, n, known);
	}
	if (err != RF_OK) {
		return err;
	}
	if (engine_onnx_in_present(n, 2)) {
		const struct onnx_const *t = engine_onnx_in_const(mp, n, 2);
		if (t == NULL || t->t.count != 1 || t->t.dtype != TENSOR_I8) {
			return engine_onnx_err(mp, RF_ERR_NOTSUP,
			    "training_mode must be a constant bool");
		}
		if (*(const int8_t *)t->t.data != 0) {
			return engine_onnx_err(mp, RF_ERR_NOTSUP,
			    "training_mode=1 is not supported (inference "
			    "only)");
		}
	}
	if (engine_onnx_used(mp, engine_onnx_out_id(n, 1))) {
		return engine_onnx_err(mp, RF_ERR_NOTSUP,
		    "the mask output is not supported (inference only)");
	}
	return map_alias(mp, engine_onnx_out_id(n, 0), n->in[0]);
}

/* A scalar or 1-D constant tensor built by the importer. */
static int
make_tensor(struct onnx_mapper *mp, enum tensor_dtype dt, int rank, size_t n,
    const void *vals, struct tensor *t)
{
	int64_t dims[1] = { (int64_t)n };
	int err = engine_onnx_fold_room(mp, n, engine_tensor_dtype_size(dt));
	if (err == RF_OK) {
		err = engine_tensor_init(t, dt, rank, dims);
	}
	if (err == RF_OK && n > 0) {
		memcpy(t->data, vals, n * engine_tensor_dtype_size(dt));
	}
	return err;
}

static int
map_constant(struct onnx_mapper *mp, const struct onnx_node *n,
    enum engine_op op)
{
	static const char *const known[] = { "value", "value_float",
		"value_floats", "value_int", "value_ints", NULL };
	int err = attrs_only(mp, n, known);
	if (err == RF_OK) {
		err = need_inputs(mp, n, 0, 0);
	}
	if (err != RF_OK) {
		return err;
	}
	if (n->n_attrs != 1) {
		return engine_onnx_err(
		    mp, RF_ERR_FORMAT, "needs exactly one value attribute");
	}
	struct onnx_attr *a = &n->attrs[0];
	int out = engine_onnx_out_id(n, 0);
	struct tensor t;
	bool is_bool = false;
	memset(&t, 0, sizeof(t));
	if (strcmp(a->name, "value") == 0 && a->has_t) {
		t = a->t.t;
		is_bool = a->t.is_bool;
		memset(&a->t.t, 0, sizeof(a->t.t));
	} else if (strcmp(a->name, "value_float") == 0 &&
	    a->type == ONNX_AT_FLOAT) {
		err = make_tensor(mp, TENSOR_F32, 0, 1, &a->f, &t);
	} else if (strcmp(a->name, "value_int") == 0 &&
	    a->type == ONNX_AT_INT) {
		err = make_tensor(mp, TENSOR_I64, 0, 1, &a->i, &t);
	} else if (strcmp(a->name, "value_floats") == 0 &&
	    a->type == ONNX_AT_FLOATS) {
		err = make_tensor(mp, TENSOR_F32, 1, a->n, a->floats, &t);
	} else if (strcmp(a->name, "value_ints") == 0 &&
	    a->type == ONNX_AT_INTS) {
		err = make_tensor(mp, TENSOR_I64, 1, a->n, a->ints, &t);
	} else {
		return engine_onnx_err(mp, RF_ERR_INVAL,
		    "attribute '%s' has the wrong type", a->name);
	}
	if (err != RF_OK) {
		return err == RF_ERR_RANGE ? err : engine_onnx_err(mp, err, "%s",
		    rf_strerror(err));
	}
	if (out < 0) {
		engine_tensor_fini(&t);
		return RF_OK;
	}
	bool is_u8 = strcmp(a->name, "value") == 0 && a->has_t && a->t.is_u8;
	err = engine_onnx_set_const(mp, out, &t, is_bool);
	if (err == RF_OK) {
		mp->iv[out].c.is_u8 = is_u8;
	}
	return err;
}

/* Squeeze and Unsqueeze: axes from the attribute (opset <= 12) or the
 * second input (opset 13). */
static int
map_axes_op(
    struct onnx_mapper *mp, const struct onnx_node *n, enum engine_op op)
{
	static const char *const known11[] = { "axes", NULL };
	bool attr_form = mp->g->opset < 13;
	int err = need_inputs(mp, n, 1, attr_form ? 1 : 2);
	if (err == RF_OK) {
		err = attrs_only(mp, n, attr_form ? known11 : NULL);
	}
	if (err != RF_OK) {
		return err;
	}
	int64_t axes[TENSOR_MAX_RANK];
	size_t na = 0;
	bool present;
	if (attr_form) {
		const int64_t *v;
		err = attr_ints(mp, n, "axes", &v, &na, &present);
		if (err == RF_OK && na > TENSOR_MAX_RANK) {
			err = engine_onnx_err(mp, RF_ERR_RANGE, "too many axes");
		}
		for (size_t i = 0; err == RF_OK && i < na; i++) {
			axes[i] = v[i];
		}
	} else {
		err = const_ints(mp, n, 1, "axes", axes, TENSOR_MAX_RANK, &na,
		    &present);
	}
	if (err != RF_OK) {
		return err;
	}
	struct engine_attr a;
	size_t n_attrs = 0;
	if (present && na > 0) {
		err = engine_attr_ints(&a, "axes", axes, na);
		n_attrs = 1;
	}
	if (err != RF_OK) {
		return engine_onnx_errctx(mp, err);
	}
	struct onnx_emit_args e = { op, n->in, 1, n->out, n->n_out, &a,
		n_attrs, "", 0, false };
	return engine_onnx_emit(mp, &e);
}

static int
map_split(struct onnx_mapper *mp, const struct onnx_node *n, enum engine_op op)
{
	static const char *const known11[] = { "axis", "split", NULL };
	static const char *const known13[] = { "axis", NULL };
	bool attr_form = mp->g->opset < 13;
	int err = need_inputs(mp, n, 1, attr_form ? 1 : 2);
	if (err == RF_OK) {
		err = attrs_only(mp, n, attr_form ? known11 : known13);
	}
	if (err != RF_OK) {
		return err;
	}
	if (n->n_out > ENGINE_MAX_OP_OUTPUTS) {
		return engine_onnx_err(mp, RF_ERR_NOTSUP,
		    "%zu outputs, the engine's Split has at most %d",
		    n->n_out, ENGINE_MAX_OP_OUTPUTS);
	}
	int64_t axis = 0;
	int64_t split[ENGINE_MAX_OP_OUTPUTS];
	size_t ns = 0;
	bool present;
	err = attr_int(mp, n, "axis", 0, &axis);
	if (err == RF_OK && attr_form) {
		const int64_t *v;
		err = attr_ints(mp, n, "split", &v, &ns, &present);
		if (err == RF_OK && ns > ENGINE_MAX_OP_OUTPUTS) {
			err = engine_onnx_err(mp, RF_ERR_NOTSUP, "too many parts");
		}
		for (size_t i = 0; err == RF_OK && i < ns; i++) {
			split[i] = v[i];
		}
	} else if (err == RF_OK) {
		err = const_ints(mp, n, 1, "split", split,
		    ENGINE_MAX_OP_OUTPUTS, &ns, &present);
	}
	if (err != RF_OK) {
		return err;
	}
	struct engine_attr a[2];
	size_t na = 1;
	err = engine_attr_int(&a[0], "axis", axis);
	if (err == RF_OK && ns > 0) {
		err = engine_attr_ints(&a[1], "split", split, ns);
		na = 2;
	}
	if (err != RF_OK) {
		return engine_onnx_errctx(mp, err);
	}
	/* All outputs stay, even unused ones: they fix the part count. */
	int outs[ENGINE_MAX_OP_OUTPUTS];
	for (size_t j = 0; j < n->n_out; j++) {
		outs[j] = n->out[j];
		if (outs[j] < 0) {
			char sfx[32];
			snprintf(sfx, sizeof(sfx), "/out%zu", j);
			err = engine_onnx_value_new(
			    mp, n->name[0] ? n->name : "split", sfx, &outs[j]);
			if (err != RF_OK) {
				return err;
			}
		}
	}
	struct onnx_emit_args e = { op, n->in, 1, outs, n->n_out, a, na, "", 0,
		false };
	return engine_onnx_emit(mp, &e);
}

static int
map_slice(struct onnx_mapper *mp, const struct onnx_node *n, enum engine_op op)
{
	static const char *const what[] = { "starts", "ends", "axes",
		"steps" };
	int err = need_inputs(mp, n, 3, 5);
	if (err == RF_OK) {
		err = attrs_only(mp, n, NULL);
	}
	struct engine_attr a[4];
	size_t na = 0;
	for (size_t i = 1; err == RF_OK && i < 5; i++) {
		int64_t v[TENSOR_MAX_RANK];
		size_t nv;
		bool present;
		err = const_ints(
		    mp, n, i, what[i - 1], v, TENSOR_MAX_RANK, &nv, &present);
		if (err == RF_OK && present) {
			err = engine_attr_ints(&a[na++], what[i - 1], v, nv);
			if (err != RF_OK) {
				err = engine_onnx_errctx(mp, err);
			}
		}
	}
	if (err != RF_OK) {
		return err;
	}
	struct onnx_emit_args e = { op, n->in, 1, n->out, n->n_out, a, na, "",
		0, false };
	return engine_onnx_emit(mp, &e);
}

static int
map_pad(struct onnx_mapper *mp, const struct onnx_node *n, enum engine_op op)
{
	static const char *const known[] = { "mode", NULL };
	int err = need_inputs(mp, n, 2, 3);
	if (err == RF_OK) {
		err = attrs_only(mp, n, known);
	}
	int64_t pads[2 * TENSOR_MAX_RANK];
	size_t np = 0;
	bool present;
	if (err == RF_OK) {
		err = const_ints(mp, n, 1, "pads", pads, 2 * TENSOR_MAX_RANK,
		    &np, &present);
	}
	if (err != RF_OK) {
		return err;
	}
	struct engine_attr a[3];
	size_t na = 0;
	err = engine_attr_ints(&a[na++], "pads", pads, np);
	const struct onnx_attr *m = attr_find(n, "mode");
	if (err == RF_OK && m != NULL) {
		char s[ENGINE_ATTR_MAX_VALUES + 1];
		if (m->type != ONNX_AT_STRING || m->s_len > 16 ||
		    (m->s_len > 0 && memchr(m->s, 0, m->s_len) != NULL)) {
			return engine_onnx_err(mp, RF_ERR_INVAL,
			    "attribute 'mode' must be a short string");
		}
		if (m->s_len > 0) {
			memcpy(s, m->s, m->s_len);
		}
		s[m->s_len] = '\0';
		err = engine_attr_string(&a[na++], "mode", s);
	}
	if (err == RF_OK && engine_onnx_in_present(n, 2)) {
		const struct onnx_const *c = engine_onnx_in_const(mp, n, 2);
		if (c == NULL || c->t.count != 1 || c->is_bool) {
			return engine_onnx_err(mp, RF_ERR_NOTSUP,
			    "constant_value must be a constant scalar");
		}
		switch (c->t.dtype) {
		case TENSOR_F32:
			err = engine_attr_float(&a[na++], "value",
			    *(const float *)c->t.data);
			break;
		case TENSOR_I8:
			err = engine_attr_int(&a[na++], "value",
			    *(const int8_t *)c->t.data);
			break;
		case TENSOR_I32:
			err = engine_attr_int(&a[na++], "value",
			    *(const int32_t *)c->t.data);
			break;
		case TENSOR_I64:
			err = engine_attr_int(&a[na++], "value",
			    *(const int64_t *)c->t.data);
			break;
		}
	}
	if (err != RF_OK) {
		return engine_onnx_errctx(mp, err);
	}
	struct onnx_emit_args e = { op, n->in, 1, n->out, n->n_out, a, na, "",
		0, false };
	return engine_onnx_emit(mp, &e);
}

static int
map_expand(
    struct onnx_mapper *mp, const struct onnx_node *n, enum engine_op op)
{
	int err = need_inputs(mp, n, 2, 2);
	if (err == RF_OK) {
		err = attrs_only(mp, n, NULL);
	}
	int64_t shape[TENSOR_MAX_RANK];
	size_t ns = 0;
	bool present;
	if (err == RF_OK) {
		err = const_ints(
		    mp, n, 1, "shape", shape, TENSOR_MAX_RANK, &ns, &present);
	}
	if (err != RF_OK) {
		return err;
	}
	struct engine_attr a;
	err = engine_attr_ints(&a, "shape", shape, ns);
	if (err != RF_OK) {
		return engine_onnx_errctx(mp, err);
	}
	struct onnx_emit_args e = { op, n->in, 1, n->out, n->n_out, &a, 1, "",
		0, false };
	return engine_onnx_emit(mp, &e);
}

/* The condition must be a bool constant: the engine has no bool tensors
 * at run time, and takes the condition as i8 (0 false, else true). */
static int
map_where(struct onnx_mapper *mp, const struct onnx_node *n, enum engine_op op)
{
	int err = need_inputs(mp, n, 3, 3);
	if (err == RF_OK) {
		err = attrs_only(mp, n, NULL);
	}
	if (err != RF_OK) {
		return err;
	}
	if (!engine_onnx_is_bool(mp, n->in[0])) {
		return engine_onnx_err(
		    mp, RF_ERR_INVAL, "the condition must be bool");
	}
	return engine_onnx_emit_node(mp, n, op, NULL, 0, 1);
}

/* Cast to FLOAT, INT8, INT32, INT64 is an engine operator; to and from
 * BOOL only folds constants (bool is i8 0/1 here). */
static int
map_cast(struct onnx_mapper *mp, const struct onnx_node *n, enum engine_op op)
{
	static const char *const known[] = { "saturate", "to", NULL };
	int64_t to = -1;
	int err = need_inputs(mp, n, 1, 1);
	if (err == RF_OK) {
		err = attrs_only(mp, n, known);
	}
	if (err == RF_OK && attr_find(n, "to") == NULL) {
		err = engine_onnx_err(mp, RF_ERR_INVAL, "attribute 'to' is required");
	}
	if (err == RF_OK) {
		err = attr_int(mp, n, "to", -1, &to);
	}
	if (err != RF_OK) {
		return err;
	}
	/* uint8 is i8 q - 128: a Cast of it would read q - 128. PyTorch's
	 * QDQ export casts QuantizeLinear's uint8 output to UINT8, which is
	 * the value itself. */
	bool in_u8 = engine_onnx_is_u8(mp, n->in[0]);
	if (to == ONNX_DT_UINT8 || in_u8) {
		if (to == ONNX_DT_UINT8 && in_u8) {
			return map_alias(mp, engine_onnx_out_id(n, 0), n->in[0]);
		}
		return engine_onnx_err(mp, RF_ERR_NOTSUP,
		    "Cast %s UINT8 is only supported from a uint8 value to "
		    "UINT8", in_u8 ? "from" : "to");
	}
	if (to != ONNX_DT_BOOL) {
		struct engine_attr a;
		engine_attr_int(&a, "to", to);
		return engine_onnx_emit_node(mp, n, op, &a, 1, -1);
	}
	const struct onnx_const *c = engine_onnx_in_const(mp, n, 0);
	if (c == NULL) {
		/* At run time: the engine's Cast gives i8 0/1. */
		struct engine_attr a;
		engine_attr_int(&a, "to", to);
		struct onnx_emit_args e = { op, n->in, 1, n->out, n->n_out, &a,
			1, "", ONNX_BOOL_OUT, false };
		return engine_onnx_emit(mp, &e);
	}
	struct tensor t;
	const struct tensor *x = &c->t;
	err = engine_tensor_init(&t, TENSOR_I8, x->rank, x->dims);
	if (err != RF_OK) {
		return engine_onnx_err(mp, err, "%s", rf_strerror(err));
	}
	for (size_t i = 0; i < x->count; i++) {
		bool nz;
		switch (x->dtype) {
		case TENSOR_F32:
			nz = ((const float *)x->data)[i] != 0.0f;
			break;
		case TENSOR_I8:
			nz = ((const int8_t *)x->data)[i] != 0;
			break;
		case TENSOR_I32:
			nz = ((const int32_t *)x->data)[i] != 0;
			break;
		default:
			nz = ((const int64_t *)x->data)[i] != 0;
			break;
		}
		((int8_t *)t.data)[i] = nz ? 1 : 0;
	}
	int out = engine_onnx_out_id(n, 0);
	if (out < 0) {
		engine_tensor_fini(&t);
		return RF_OK;
	}
	return engine_onnx_set_const(mp, out, &t, true);
}

/* Softmax: opset 13 normalizes along one axis (the engine's operator);
 * opsets 11 and 12 flatten to 2-D at the axis and normalize each row, which
 * is Flatten, Softmax(axis 1) and a Reshape back unless the axis is the
 * last one. */
static int
map_softmax(
    struct onnx_mapper *mp, const struct onnx_node *n, enum engine_op op)
{
	static const char *const known[] = { "axis", NULL };
	int err = need_inputs(mp, n, 1, 1);
	if (err == RF_OK) {
		err = attrs_only(mp, n, known);
	}
	int64_t axis = 0;
	if (err == RF_OK) {
		err =
		    attr_int(mp, n, "axis", mp->g->opset < 13 ? 1 : -1, &axis);
	}
	if (err != RF_OK) {
		return err;
	}
	struct engine_attr a;
	if (mp->g->opset >= 13) {
		engine_attr_int(&a, "axis", axis);
		return engine_onnx_emit_node(mp, n, op, &a, 1, -1);
	}
	int x = engine_onnx_resolve(mp, n->in[0]);
	const struct onnx_ival *v = &mp->iv[x];
	int rank;
	const int64_t *dims;
	if (v->kind == ONNX_IV_CONST) {
		rank = v->c.t.rank;
		dims = v->c.t.dims;
	} else if (v->shape_known) {
		rank = v->rank;
		dims = v->dims;
	} else {
		return engine_onnx_err_dynamic(mp, engine_onnx_in_name(mp, n, 0));
	}
	int64_t ax = axis < 0 ? axis + rank : axis;
	if (ax < 0 || ax >= rank) {
		return engine_onnx_err(mp, RF_ERR_INVAL,
		    "axis %lld is out of range for rank %d",
		    (long long)axis, rank);
	}
	if (ax == rank - 1) {
		engine_attr_int(&a, "axis", -1);
		return engine_onnx_emit_node(mp, n, op, &a, 1, -1);
	}
	int64_t shape_v[TENSOR_MAX_RANK];
	memcpy(shape_v, dims, sizeof(int64_t) * (size_t)rank);
	int y = engine_onnx_out_id(n, 0);
	const char *base = y >= 0 ? engine_onnx_value_name(mp, y) : "softmax";
	int flat, sm, shp;
	struct tensor st;
	err = engine_onnx_value_new(mp, base, "/flat", &flat);
	if (err == RF_OK) {
		err = engine_onnx_value_new(mp, base, "/softmax2d", &sm);
	}
	if (err == RF_OK) {
		err = engine_onnx_value_new(mp, base, "/shape", &shp);
	}
	if (err == RF_OK) {
		err =
		    make_tensor(mp, TENSOR_I64, 1, (size_t)rank, shape_v, &st);
	}
	if (err == RF_OK) {
		err = engine_onnx_set_const(mp, shp, &st, false);
	}
	if (err != RF_OK) {
		return err;
	}
	bool need = y >= 0 && mp->iv[y].need_shape;
	mp->iv[flat].need_shape = need;
	mp->iv[sm].need_shape = need;
	struct engine_attr fa;
	engine_attr_int(&fa, "axis", ax);
	struct onnx_emit_args e1 = { ENGINE_OP_FLATTEN, &x, 1, &flat, 1, &fa,
		1, "/flatten", -1, false };
	err = engine_onnx_emit(mp, &e1);
	engine_attr_int(&a, "axis", 1);
	struct onnx_emit_args e2 = { op, &flat, 1, &sm, 1, &a, 1, "", -1,
		false };
	if (err == RF_OK) {
		err = engine_onnx_emit(mp, &e2);
	}
	int rin[2] = { sm, shp };
	struct onnx_emit_args e3 = { ENGINE_OP_RESHAPE, rin, 2, n->out,
		n->n_out, NULL, 0, "/reshape", -1, false };
	if (err == RF_OK) {
		err = engine_onnx_emit(mp, &e3);
	}
	return err;
}

/* ------------------------------------------------------------------ */
/* Operators of real exports: Clip, Min/Max, reductions                 */
/* ------------------------------------------------------------------ */

/* A scalar f32 constant input (absent: *present false). */
static int
const_f32_scalar(struct onnx_mapper *mp, const struct onnx_node *n, size_t i,
    const char *what, float *v, bool *present)
{
	*present = engine_onnx_in_present(n, i);
	if (!*present) {
		return RF_OK;
	}
	const struct onnx_const *c = engine_onnx_in_const(mp, n, i);
	if (c == NULL) {
		return engine_onnx_err(mp, RF_ERR_NOTSUP,
		    "input %zu ('%.60s', the %s) must be a constant: the "
		    "engine takes it as an attribute",
		    i, engine_onnx_in_name(mp, n, i), what);
	}
	if (c->t.dtype != TENSOR_F32 || c->t.count != 1) {
		return engine_onnx_err(mp, RF_ERR_NOTSUP,
		    "input %zu (the %s) must be one float", i, what);
	}
	*v = *(const float *)c->t.data;
	return RF_OK;
}

/* Clip (opset 11+): min and max are optional constant inputs, which
 * become the engine operator's attributes. */
static int
map_clip(struct onnx_mapper *mp, const struct onnx_node *n, enum engine_op op)
{
	int err = need_inputs(mp, n, 1, 3);
	if (err == RF_OK) {
		err = attrs_only(mp, n, NULL);
	}
	struct engine_attr a[2];
	size_t na = 0;
	static const char *const names[2] = { "min", "max" };
	for (size_t i = 0; err == RF_OK && i < 2; i++) {
		float v = 0.0f;
		bool present;
		err = const_f32_scalar(mp, n, i + 1, names[i], &v, &present);
		if (err == RF_OK && present) {
			engine_attr_float(&a[na++], names[i], v);
		}
	}
	if (err != RF_OK) {
		return err;
	}
	struct onnx_emit_args e = { op, n->in, 1, n->out, n->n_out, a, na, "",
		-1, false };
	return engine_onnx_emit(mp, &e);
}

/* Min and Max take any number of inputs; the engine's take two, so three
 * or more become a chain, left to right. */
static int
map_minmax(struct onnx_mapper *mp, const struct onnx_node *n,
    enum engine_op op)
{
	int err = need_inputs(mp, n, 1, n->n_in > 0 ? n->n_in : 1);
	if (err == RF_OK) {
		err = attrs_only(mp, n, NULL);
	}
	for (size_t i = 0; err == RF_OK && i < n->n_in; i++) {
		if (!engine_onnx_in_present(n, i)) {
			err = engine_onnx_err(mp, RF_ERR_INVAL,
			    "input %zu is missing", i);
		}
	}
	if (err != RF_OK) {
		return err;
	}
	if (n->n_in <= 2) {
		return engine_onnx_emit_node(mp, n, op, NULL, 0, -1);
	}
	int acc = n->in[0];
	int y = engine_onnx_out_id(n, 0);
	const char *base = y >= 0 ? engine_onnx_value_name(mp, y) : "minmax";
	for (size_t i = 1; err == RF_OK && i < n->n_in; i++) {
		int out = y;
		char sfx[32];
		snprintf(sfx, sizeof(sfx), "/%zu", i);
		if (i + 1 < n->n_in) {
			err = engine_onnx_value_new(mp, base, sfx, &out);
			if (err == RF_OK && y >= 0) {
				mp->iv[out].need_shape = mp->iv[y].need_shape;
			}
		}
		int in[2] = { acc, n->in[i] };
		struct onnx_emit_args e = { op, in, 2, &out, 1, NULL, 0,
			i + 1 < n->n_in ? sfx : "", -1, false };
		if (err == RF_OK) {
			err = engine_onnx_emit(mp, &e);
		}
		acc = out;
	}
	return err;
}

/* Reductions: axes as an attribute, or (ReduceSum from opset 13) as a
 * constant input, which becomes the attribute. */
static int
map_reduce(struct onnx_mapper *mp, const struct onnx_node *n,
    enum engine_op op)
{
	static const char *const known[] = { "axes", "keepdims",
		"noop_with_empty_axes", NULL };
	int err = need_inputs(mp, n, 1, 2);
	if (err == RF_OK) {
		err = attrs_only(mp, n, known);
	}
	int64_t axes[TENSOR_MAX_RANK];
	size_t na = 0;
	bool present = false;
	if (err == RF_OK) {
		err = const_ints(mp, n, 1, "axes", axes, TENSOR_MAX_RANK, &na,
		    &present);
	}
	if (err == RF_OK && present && attr_find(n, "axes") != NULL) {
		err = engine_onnx_err(mp, RF_ERR_INVAL,
		    "axes given both as an attribute and as an input");
	}
	struct engine_attr *attrs = NULL;
	size_t nat = 0;
	if (err == RF_OK) {
		attrs = calloc(ENGINE_MAX_OP_ATTRS, sizeof(*attrs));
		err = attrs == NULL ? RF_ERR_NOMEM :
		    attrs_to_engine(mp, n, attrs, &nat);
	}
	if (err == RF_OK && present && na > 0) {
		err = engine_attr_ints(&attrs[nat++], "axes", axes, na);
		if (err != RF_OK) {
			err = engine_onnx_errctx(mp, err);
		}
	}
	if (err == RF_OK) {
		struct onnx_emit_args e = { op, n->in, 1, n->out, n->n_out,
			attrs, nat, "", -1, false };
		err = engine_onnx_emit(mp, &e);
	}
	free(attrs);
	return err;
}

/* Less, Greater (any engine dtype), and Not, And, Or (bool operands):
 * their outputs are bools, i8 0/1. */
static int
map_bool_op(struct onnx_mapper *mp, const struct onnx_node *n,
    enum engine_op op)
{
	bool logic = op == ENGINE_OP_NOT || op == ENGINE_OP_AND ||
	    op == ENGINE_OP_OR;
	size_t k = op == ENGINE_OP_NOT ? 1 : 2;
	int err = need_inputs(mp, n, k, k);
	if (err == RF_OK) {
		err = attrs_only(mp, n, NULL);
	}
	for (size_t i = 0; err == RF_OK && logic && i < k; i++) {
		if (!engine_onnx_is_bool(mp, n->in[i])) {
			err = engine_onnx_err(mp, RF_ERR_DTYPE,
			    "input %zu ('%.60s') must be bool", i,
			    engine_onnx_in_name(mp, n, i));
		}
	}
	if (err != RF_OK) {
		return err;
	}
	struct onnx_emit_args e = { op, n->in, k, n->out, n->n_out, NULL, 0,
		"", ONNX_BOOL_OUT, false };
	return engine_onnx_emit(mp, &e);
}

/* A uint8 zero point 0 (i8 -128), for a QuantizeLinear or
 * DequantizeLinear that gives none: ONNX's default type is uint8. */
static int
u8_zero(struct onnx_mapper *mp, const struct onnx_node *n, int *id)
{
	int8_t v = -128;
	struct tensor t;
	int y = engine_onnx_out_id(n, 0);
	const char *base = y >= 0 ? engine_onnx_value_name(mp, y) : "quant";
	int err = engine_onnx_value_new(mp, base, "/zero_point", id);
	if (err == RF_OK) {
		err = make_tensor(mp, TENSOR_I8, 0, 1, &v, &t);
	}
	if (err == RF_OK) {
		err = engine_onnx_set_const(mp, *id, &t, false);
	}
	if (err == RF_OK) {
		mp->iv[*id].c.is_u8 = true;
	}
	return err;
}

/* QLinearConv: uint8 or int8 data, weights and output, each with a zero
 * point of its own type (held as q - 128 when uint8). */
static int
map_qlinearconv(struct onnx_mapper *mp, const struct onnx_node *n,
    enum engine_op op)
{
	int err = need_inputs(mp, n, 8, 9);
	static const size_t pairs[2][2] = { { 0, 2 }, { 3, 5 } };
	for (size_t k = 0; err == RF_OK && k < 2; k++) {
		if (engine_onnx_is_u8(mp, n->in[pairs[k][0]]) !=
		    engine_onnx_is_u8(mp, n->in[pairs[k][1]])) {
			err = engine_onnx_err(mp, RF_ERR_DTYPE,
			    "input %zu and its zero point (input %zu) have "
			    "different types", pairs[k][0], pairs[k][1]);
		}
	}
	if (err != RF_OK) {
		return err;
	}
	struct engine_attr *attrs = calloc(ENGINE_MAX_OP_ATTRS, sizeof(*attrs));
	size_t na = 0;
	err = attrs == NULL ? RF_ERR_NOMEM : attrs_to_engine(mp, n, attrs, &na);
	if (err == RF_OK) {
		int from = engine_onnx_is_u8(mp, n->in[7]) ? ONNX_U8_OUT : -1;
		struct onnx_emit_args e = { op, n->in, n->n_in, n->out,
			n->n_out, attrs, na, "", from, false };
		err = engine_onnx_emit(mp, &e);
	}
	free(attrs);
	return err;
}

/* QuantizeLinear and DequantizeLinear (opset 13: axis): the zero point's
 * type, uint8 by default, is the quantized type. */
static int
map_quant(struct onnx_mapper *mp, const struct onnx_node *n,
    enum engine_op op)
{
	static const char *const known[] = { "axis", NULL };
	int err = need_inputs(mp, n, 2, 3);
	if (err == RF_OK) {
		err = attrs_only(mp, n, known);
	}
	if (err != RF_OK) {
		return err;
	}
	bool dq = op == ENGINE_OP_DEQUANTIZELINEAR;
	int in[3] = { n->in[0], n->in[1], -1 };
	if (engine_onnx_in_present(n, 2)) {
		in[2] = n->in[2];
	} else if (!dq || engine_onnx_is_u8(mp, n->in[0])) {
		err = u8_zero(mp, n, &in[2]);
	}
	if (err == RF_OK && dq && in[2] >= 0 &&
	    engine_onnx_is_u8(mp, in[0]) != engine_onnx_is_u8(mp, in[2])) {
		err = engine_onnx_err(mp, RF_ERR_DTYPE,
		    "the input and the zero point have different types");
	}
	struct engine_attr a[1];
	size_t na = 0;
	int64_t axis = 1;
	if (err == RF_OK && attr_find(n, "axis") != NULL) {
		err = attr_int(mp, n, "axis", 1, &axis);
		if (err == RF_OK) {
			engine_attr_int(&a[na++], "axis", axis);
		}
	}
	if (err != RF_OK) {
		return err;
	}
	int from = !dq && engine_onnx_is_u8(mp, in[2]) ? ONNX_U8_OUT : -1;
	struct onnx_emit_args e = { op, in, 3, n->out, n->n_out, a, na, "",
		from, false };
	return engine_onnx_emit(mp, &e);
}

/* ------------------------------------------------------------------ */
/* Import-time only: shape arithmetic on constants                      */
/* ------------------------------------------------------------------ */

static int
map_shape(struct onnx_mapper *mp, const struct onnx_node *n, enum engine_op op)
{
	static const char *const known[] = { "end", "start", NULL };
	int err = need_inputs(mp, n, 1, 1);
	if (err == RF_OK) {
		err = attrs_only(mp, n, known);
	}
	int64_t start = 0, end = 0;
	if (err == RF_OK) {
		err = attr_int(mp, n, "start", 0, &start);
	}
	if (err == RF_OK) {
		err = attr_int(mp, n, "end", INT64_MAX, &end);
	}
	if (err != RF_OK) {
		return err;
	}
	const struct onnx_ival *v = &mp->iv[engine_onnx_resolve(mp, n->in[0])];
	int rank;
	const int64_t *dims;
	if (v->kind == ONNX_IV_CONST) {
		rank = v->c.t.rank;
		dims = v->c.t.dims;
	} else if (v->shape_known) {
		rank = v->rank;
		dims = v->dims;
	} else {
		return engine_onnx_err_dynamic(mp, engine_onnx_in_name(mp, n, 0));
	}
	/* Opset 15 start/end: clamped like Python slicing. */
	start = start < 0 ? start + rank : start;
	end = end < 0 ? end + rank : end;
	start = start < 0 ? 0 : (start > rank ? rank : start);
	end = end < 0 ? 0 : (end > rank ? rank : end);
	size_t cnt = end > start ? (size_t)(end - start) : 0;
	struct tensor t;
	err = make_tensor(mp, TENSOR_I64, 1, cnt, dims + start, &t);
	if (err != RF_OK) {
		return err;
	}
	int out = engine_onnx_out_id(n, 0);
	if (out < 0) {
		engine_tensor_fini(&t);
		return RF_OK;
	}
	return engine_onnx_set_const(mp, out, &t, false);
}

static int
map_constant_of_shape(struct onnx_mapper *mp, const struct onnx_node *n,
    enum engine_op op)
{
	static const char *const known[] = { "value", NULL };
	int err = need_inputs(mp, n, 1, 1);
	if (err == RF_OK) {
		err = attrs_only(mp, n, known);
	}
	int64_t dims[TENSOR_MAX_RANK];
	size_t rank = 0;
	bool present;
	if (err == RF_OK) {
		err = const_ints(
		    mp, n, 0, "shape", dims, TENSOR_MAX_RANK, &rank, &present);
	}
	if (err != RF_OK) {
		return err;
	}
	const struct onnx_attr *a = attr_find(n, "value");
	enum tensor_dtype dt = TENSOR_F32;
	bool is_bool = false;
	const void *val = NULL;
	if (a != NULL) {
		if (!a->has_t || a->t.t.count != 1) {
			return engine_onnx_err(mp, RF_ERR_INVAL,
			    "attribute 'value' must be a one-element tensor");
		}
		dt = a->t.t.dtype;
		is_bool = a->t.is_bool;
		if (a->t.is_u8) {
			return engine_onnx_err(mp, RF_ERR_NOTSUP,
			    "a uint8 'value' is not supported");
		}
		val = a->t.t.data;
	}
	size_t count;
	err = engine_tensor_shape_check((int)rank, dims, &count, mp->ei);
	if (err != RF_OK) {
		return engine_onnx_errctx(mp, err);
	}
	size_t esz = engine_tensor_dtype_size(dt);
	err = engine_onnx_fold_room(mp, count, esz);
	struct tensor t;
	if (err == RF_OK) {
		err = engine_tensor_init(&t, dt, (int)rank, dims);
		if (err != RF_OK) {
			return engine_onnx_err(mp, err, "%s", rf_strerror(err));
		}
	}
	if (err != RF_OK) {
		return err;
	}
	for (size_t i = 0; val != NULL && i < count; i++) {
		memcpy((unsigned char *)t.data + i * esz, val, esz);
	}
	int out = engine_onnx_out_id(n, 0);
	if (out < 0) {
		engine_tensor_fini(&t);
		return RF_OK;
	}
	return engine_onnx_set_const(mp, out, &t, is_bool);
}

static bool
elem_equal(const struct tensor *a, size_t i, const struct tensor *b,
    size_t j)
{
	switch (a->dtype) {
	case TENSOR_F32:
		return ((const float *)a->data)[i] ==
		    ((const float *)b->data)[j];
	case TENSOR_I8:
		return ((const int8_t *)a->data)[i] ==
		    ((const int8_t *)b->data)[j];
	case TENSOR_I32:
		return ((const int32_t *)a->data)[i] ==
		    ((const int32_t *)b->data)[j];
	case TENSOR_I64:
		return ((const int64_t *)a->data)[i] ==
		    ((const int64_t *)b->data)[j];
	}
	return false;
}

static int
map_equal(struct onnx_mapper *mp, const struct onnx_node *n, enum engine_op op)
{
	int err = need_inputs(mp, n, 2, 2);
	if (err == RF_OK) {
		err = attrs_only(mp, n, NULL);
	}
	if (err != RF_OK) {
		return err;
	}
	const struct onnx_const *a = engine_onnx_in_const(mp, n, 0);
	const struct onnx_const *b = engine_onnx_in_const(mp, n, 1);
	if (a == NULL || b == NULL) {
		/* At run time: the engine's Equal gives i8 0/1. */
		struct onnx_emit_args e = { op, n->in, 2, n->out, n->n_out, NULL,
			0, "", ONNX_BOOL_OUT, false };
		return engine_onnx_emit(mp, &e);
	}
	if (a->t.dtype != b->t.dtype || a->is_bool != b->is_bool) {
		return engine_onnx_err(
		    mp, RF_ERR_DTYPE, "operands have different types");
	}
	int r;
	int64_t dims[TENSOR_MAX_RANK];
	err = engine_tensor_broadcast_shape(
	    a->t.rank, a->t.dims, b->t.rank, b->t.dims, &r, dims, mp->ei);
	if (err != RF_OK) {
		return engine_onnx_errctx(mp, err);
	}
	size_t count;
	err = engine_tensor_shape_check(r, dims, &count, mp->ei);
	if (err != RF_OK) {
		return engine_onnx_errctx(mp, err);
	}
	err = engine_onnx_fold_room(mp, count, 1);
	struct tensor t;
	if (err == RF_OK) {
		err = engine_tensor_init(&t, TENSOR_I8, r, dims);
		if (err != RF_OK) {
			return engine_onnx_err(mp, err, "%s", rf_strerror(err));
		}
	}
	if (err != RF_OK) {
		return err;
	}
	struct bcast_iter it;
	const struct tensor *ops[2] = { &a->t, &b->t };
	engine_bcast_iter_init(&it, r, dims, ops, 2);
	for (size_t i = 0; i < count; i++) {
		((int8_t *)t.data)[i] = elem_equal(&a->t, it.off[0], &b->t,
		    it.off[1]) ? 1 : 0;
		engine_bcast_iter_next(&it);
	}
	int out = engine_onnx_out_id(n, 0);
	if (out < 0) {
		engine_tensor_fini(&t);
		return RF_OK;
	}
	return engine_onnx_set_const(mp, out, &t, true);
}

static int
scalar_int(const struct onnx_const *c, int64_t *v)
{
	if (c == NULL || c->t.count != 1 || c->is_bool ||
	    (c->t.dtype != TENSOR_I64 && c->t.dtype != TENSOR_I32)) {
		return RF_ERR_NOTSUP;
	}
	*v = c->t.dtype == TENSOR_I64 ? *(const int64_t *)c->t.data :
	    *(const int32_t *)c->t.data;
	return RF_OK;
}

/* Range on integer constants: start, start + delta, ... before limit. */
static int
map_range(struct onnx_mapper *mp, const struct onnx_node *n, enum engine_op op)
{
	int err = need_inputs(mp, n, 3, 3);
	if (err == RF_OK) {
		err = attrs_only(mp, n, NULL);
	}
	if (err != RF_OK) {
		return err;
	}
	int64_t s, l, d;
	const struct onnx_const *cs = engine_onnx_in_const(mp, n, 0);
	if (scalar_int(cs, &s) != RF_OK ||
	    scalar_int(engine_onnx_in_const(mp, n, 1), &l) != RF_OK ||
	    scalar_int(engine_onnx_in_const(mp, n, 2), &d) != RF_OK) {
		return engine_onnx_err(mp, RF_ERR_NOTSUP,
		    "Range is only supported on int32/int64 constant scalars");
	}
	if (d == 0) {
		return engine_onnx_err(mp, RF_ERR_INVAL, "delta is 0");
	}
	/* The count in 128 bits: limit - start can overflow int64. */
	__int128 span = (__int128)l - (__int128)s;
	__int128 cnt = 0;
	if ((d > 0 && span > 0) || (d < 0 && span < 0)) {
		__int128 ad = d > 0 ? (__int128)d : -(__int128)d;
		__int128 as = span > 0 ? span : -span;
		cnt = (as + ad - 1) / ad;
	}
	if (cnt > (__int128)TENSOR_MAX_ELEMS) {
		return engine_onnx_err(mp, RF_ERR_RANGE,
		    "Range of more than %zu elements",
		    (size_t)TENSOR_MAX_ELEMS);
	}
	enum tensor_dtype dt = cs->t.dtype;
	int64_t dims[1] = { (int64_t)cnt };
	err = engine_onnx_fold_room(mp, (size_t)cnt, engine_tensor_dtype_size(dt));
	struct tensor t;
	if (err == RF_OK) {
		err = engine_tensor_init(&t, dt, 1, dims);
		if (err != RF_OK) {
			return engine_onnx_err(mp, err, "%s", rf_strerror(err));
		}
	}
	if (err != RF_OK) {
		return err;
	}
	for (int64_t i = 0; i < (int64_t)cnt; i++) {
		/* Inside [start, limit), so it fits the type. */
		int64_t v = (int64_t)((__int128)s + (__int128)i * d);
		if (dt == TENSOR_I64) {
			((int64_t *)t.data)[i] = v;
		} else {
			((int32_t *)t.data)[i] = (int32_t)v;
		}
	}
	int out = engine_onnx_out_id(n, 0);
	if (out < 0) {
		engine_tensor_fini(&t);
		return RF_OK;
	}
	return engine_onnx_set_const(mp, out, &t, false);
}

/* ------------------------------------------------------------------ */
/* The table                                                            */
/* ------------------------------------------------------------------ */


static const struct onnx_map_entry map_table[] = {
	{ "Abs", map_direct, ENGINE_OP_ABS },
	{ "Add", map_direct, ENGINE_OP_ADD },
	{ "And", map_bool_op, ENGINE_OP_AND },
	{ "ArgMax", map_direct, ENGINE_OP_ARGMAX },
	{ "AveragePool", map_direct, ENGINE_OP_AVGPOOL },
	{ "BatchNormalization", map_direct, ENGINE_OP_BATCHNORM },
	{ "Cast", map_cast, ENGINE_OP_CAST },
	{ "Clip", map_clip, ENGINE_OP_CLIP },
	{ "Concat", map_direct, ENGINE_OP_CONCAT },
	{ "Constant", map_constant, ENGINE_OP_IDENTITY },
	{ "ConstantOfShape", map_constant_of_shape, ENGINE_OP_IDENTITY },
	{ "Conv", map_direct, ENGINE_OP_CONV },
	{ "DequantizeLinear", map_quant, ENGINE_OP_DEQUANTIZELINEAR },
	{ "Div", map_direct, ENGINE_OP_DIV },
	{ "Dropout", map_dropout, ENGINE_OP_IDENTITY },
	{ "Equal", map_equal, ENGINE_OP_EQUAL },
	{ "Erf", map_direct, ENGINE_OP_ERF },
	{ "Exp", map_direct, ENGINE_OP_EXP },
	{ "Expand", map_expand, ENGINE_OP_EXPAND },
	{ "Flatten", map_direct, ENGINE_OP_FLATTEN },
	{ "GRU", map_direct, ENGINE_OP_GRU },
	{ "Gather", map_direct, ENGINE_OP_GATHER },
	{ "Gelu", map_direct, ENGINE_OP_GELU },
	{ "Gemm", map_direct, ENGINE_OP_GEMM },
	{ "GlobalAveragePool", map_direct, ENGINE_OP_GLOBALAVGPOOL },
	{ "Greater", map_bool_op, ENGINE_OP_GREATER },
	{ "HardSigmoid", map_direct, ENGINE_OP_HARDSIGMOID },
	{ "HardSwish", map_direct, ENGINE_OP_HARDSWISH },
	{ "Identity", map_identity, ENGINE_OP_IDENTITY },
	{ "LSTM", map_direct, ENGINE_OP_LSTM },
	{ "LayerNormalization", map_direct, ENGINE_OP_LAYERNORM },
	{ "LeakyRelu", map_direct, ENGINE_OP_LEAKYRELU },
	{ "Less", map_bool_op, ENGINE_OP_LESS },
	{ "Log", map_direct, ENGINE_OP_LOG },
	{ "LogSoftmax", map_softmax, ENGINE_OP_LOGSOFTMAX },
	{ "MatMul", map_direct, ENGINE_OP_MATMUL },
	{ "MatMulInteger", map_direct, ENGINE_OP_MATMULINTEGER },
	{ "Max", map_minmax, ENGINE_OP_MAX },
	{ "MaxPool", map_direct, ENGINE_OP_MAXPOOL },
	{ "Min", map_minmax, ENGINE_OP_MIN },
	{ "Mul", map_direct, ENGINE_OP_MUL },
	{ "Neg", map_direct, ENGINE_OP_NEG },
	{ "Not", map_bool_op, ENGINE_OP_NOT },
	{ "Or", map_bool_op, ENGINE_OP_OR },
	{ "Pad", map_pad, ENGINE_OP_PAD },
	{ "Pow", map_direct, ENGINE_OP_POW },
	{ "QLinearConv", map_qlinearconv, ENGINE_OP_QLINEARCONV },
	{ "QLinearMatMul", map_direct, ENGINE_OP_QLINEARMATMUL },
	{ "QuantizeLinear", map_quant, ENGINE_OP_QUANTIZELINEAR },
	{ "Range", map_range, ENGINE_OP_IDENTITY },
	{ "Reciprocal", map_direct, ENGINE_OP_RECIPROCAL },
	{ "ReduceL2", map_reduce, ENGINE_OP_REDUCEL2 },
	{ "ReduceMax", map_reduce, ENGINE_OP_REDUCEMAX },
	{ "ReduceMean", map_direct, ENGINE_OP_REDUCEMEAN },
	{ "ReduceMin", map_reduce, ENGINE_OP_REDUCEMIN },
	{ "ReduceProd", map_reduce, ENGINE_OP_REDUCEPROD },
	{ "ReduceSum", map_reduce, ENGINE_OP_REDUCESUM },
	{ "Relu", map_direct, ENGINE_OP_RELU },
	{ "Reshape", map_direct, ENGINE_OP_RESHAPE },
	{ "Shape", map_shape, ENGINE_OP_IDENTITY },
	{ "Sigmoid", map_direct, ENGINE_OP_SIGMOID },
	{ "Slice", map_slice, ENGINE_OP_SLICE },
	{ "Softmax", map_softmax, ENGINE_OP_SOFTMAX },
	{ "Softplus", map_direct, ENGINE_OP_SOFTPLUS },
	{ "Split", map_split, ENGINE_OP_SPLIT },
	{ "Sqrt", map_direct, ENGINE_OP_SQRT },
	{ "Squeeze", map_axes_op, ENGINE_OP_SQUEEZE },
	{ "Sub", map_direct, ENGINE_OP_SUB },
	{ "Tanh", map_direct, ENGINE_OP_TANH },
	{ "Transpose", map_direct, ENGINE_OP_TRANSPOSE },
	{ "Unsqueeze", map_axes_op, ENGINE_OP_UNSQUEEZE },
	{ "Where", map_where, ENGINE_OP_WHERE },
};

const struct onnx_map_entry *
engine_onnx_map_lookup(const char *op_type)
{
	for (size_t i = 0; i < sizeof(map_table) / sizeof(map_table[0]); i++) {
		if (strcmp(map_table[i].op_type, op_type) == 0) {
			return &map_table[i];
		}
	}
	return NULL;
}
