/*
 * engine/model.c - the model graph: values (job inputs, weights, operator
 * outputs) and operators in one fixed topological order.
 *
 * An operator may only read values that exist when it is added, so every
 * model is acyclic by construction and its order is the execution order
 * and the trace order. Names are unique; a hash index keeps lookups and
 * duplicate checks linear even for hostile files with a million values.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "engine/model_int.h"

/* ------------------------------------------------------------------ */
/* Name index: open addressing over value indices                       */
/* ------------------------------------------------------------------ */

static uint64_t
name_hash(const char *s)
{
	/* FNV-1a: names are short; this only spreads them over buckets. */
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int
index_grow(struct engine_model *m)
{
	size_t cap = m->index_cap ? m->index_cap * 2 : 64;
	int32_t *slots = malloc(cap * sizeof(*slots));
	if (slots == NULL) {
		return RF_ERR_NOMEM;
	}
	for (size_t i = 0; i < cap; i++) {
		slots[i] = -1;
	}
	for (size_t v = 0; v < m->n_values; v++) {
		size_t at = name_hash(m->values[v].name) & (cap - 1);
		while (slots[at] >= 0) {
			at = (at + 1) & (cap - 1);
		}
		slots[at] = (int32_t)v;
	}
	free(m->index);
	m->index = slots;
	m->index_cap = cap;
	return RF_OK;
}

int
engine_model_find(const struct engine_model *m, const char *name, int *idx)
{
	if (m->index_cap == 0) {
		return RF_ERR_NOTFOUND;
	}
	size_t at = name_hash(name) & (m->index_cap - 1);
	while (m->index[at] >= 0) {
		if (strcmp(m->values[m->index[at]].name, name) == 0) {
			*idx = m->index[at];
			return RF_OK;
		}
		at = (at + 1) & (m->index_cap - 1);
	}
	return RF_ERR_NOTFOUND;
}

static int
check_name(const struct engine_model *m, const char *what, const char *name,
    struct rf_errinfo *ei)
{
	size_t len = strlen(name);
	int dummy;
	if (len == 0 || len > ENGINE_NAME_MAX) {
		return rf_errf(ei, RF_ERR_INVAL,
		    "%s name must be 1..%d bytes, got %zu", what,
		    ENGINE_NAME_MAX, len);
	}
	if (engine_model_find(m, name, &dummy) == RF_OK) {
		return rf_errf(ei, RF_ERR_INVAL, "%s name '%s' is already used",
		    what, name);
	}
	return RF_OK;
}

/* Appends a value (name copied); the caller fills the rest. */
static int
value_push(struct engine_model *m, const char *name, int *idx)
{
	if (m->n_values >= ENGINE_MAX_VALUES) {
		return RF_ERR_RANGE;
	}
	if (m->n_values == m->cap_values) {
		size_t cap = m->cap_values ? m->cap_values * 2 : 16;
		struct model_value *nv = realloc(m->values, cap * sizeof(*nv));
		if (nv == NULL) {
			return RF_ERR_NOMEM;
		}
		m->values = nv;
		m->cap_values = cap;
	}
	/* Keep the index at most half full. */
	if ((m->n_values + 1) * 2 > m->index_cap) {
		int err = index_grow(m);
		if (err != RF_OK) {
			return err;
		}
	}
	char *copy = strdup(name);
	if (copy == NULL) {
		return RF_ERR_NOMEM;
	}
	struct model_value *v = &m->values[m->n_values];
	memset(v, 0, sizeof(*v));
	v->name = copy;
	v->producer = -1;
	v->last_use = -1;
	size_t at = name_hash(name) & (m->index_cap - 1);
	while (m->index[at] >= 0) {
		at = (at + 1) & (m->index_cap - 1);
	}
	m->index[at] = (int32_t)m->n_values;
	*idx = (int)m->n_values;
	m->n_values++;
	return RF_OK;
}

/* Removes the most recently pushed values (used to undo a failed op). */
static void
value_pop_to(struct engine_model *m, size_t n)
{
	while (m->n_values > n) {
		struct model_value *v = &m->values[m->n_values - 1];
		size_t at = name_hash(v->name) & (m->index_cap - 1);
		while (m->index[at] != (int32_t)(m->n_values - 1)) {
			at = (at + 1) & (m->index_cap - 1);
		}
		/* Re-insert the rest of the probe run after deleting. */
		m->index[at] = -1;
		size_t next = (at + 1) & (m->index_cap - 1);
		while (m->index[next] >= 0) {
			int32_t moved = m->index[next];
			m->index[next] = -1;
			size_t h = name_hash(m->values[moved].name) &
			    (m->index_cap - 1);
			while (m->index[h] >= 0) {
				h = (h + 1) & (m->index_cap - 1);
			}
			m->index[h] = moved;
			next = (next + 1) & (m->index_cap - 1);
		}
		free(v->name);
		engine_tensor_fini(&v->weight);
		m->n_values--;
	}
}

/* ------------------------------------------------------------------ */
/* Life cycle and builders                                              */
/* ------------------------------------------------------------------ */

struct engine_model *
engine_model_alloc(const char *name)
{
	struct engine_model *m = calloc(1, sizeof(*m));
	if (m == NULL) {
		return NULL;
	}
	m->name = strdup(name != NULL ? name : "");
	if (m->name == NULL || pthread_mutex_init(&m->pack_mu, NULL) != 0) {
		free(m->name);
		free(m);
		return NULL;
	}
	return m;
}

void
engine_model_free(struct engine_model *m)
{
	if (m == NULL) {
		return;
	}
	for (size_t i = 0; i < m->n_values; i++) {
		free(m->values[i].name);
		engine_tensor_fini(&m->values[i].weight);
		engine_packed_b_free(m->values[i].packed);
	}
	pthread_mutex_destroy(&m->pack_mu);
	for (size_t i = 0; i < m->n_ops; i++) {
		free(m->ops[i].name);
		free(m->ops[i].inputs);
		free(m->ops[i].attrs);
	}
	free(m->values);
	free(m->ops);
	free(m->index);
	free(m->name);
	if (m->map != NULL) {
		munmap(m->map, m->map_len);
	}
	free(m);
}

int
engine_model_add_input(struct engine_model *m, const char *name,
    enum tensor_dtype dtype, int rank, const int64_t *dims, int *idx,
    struct rf_errinfo *ei)
{
	if (m->n_inputs >= ENGINE_MAX_GRAPH_IO) {
		return rf_errf(ei, RF_ERR_RANGE, "more than %d graph inputs",
		    ENGINE_MAX_GRAPH_IO);
	}
	if (!engine_tensor_dtype_valid((int)dtype)) {
		return rf_errf(ei, RF_ERR_DTYPE, "input '%s': unknown dtype %d",
		    name, (int)dtype);
	}
	if (rank < 0 || rank > TENSOR_MAX_RANK) {
		return rf_errf(ei, RF_ERR_RANGE, "input '%s': rank %d over %d",
		    name, rank, TENSOR_MAX_RANK);
	}
	for (int i = 0; i < rank; i++) {
		if (dims[i] < -1 || dims[i] > TENSOR_MAX_DIM) {
			return rf_errf(ei, RF_ERR_RANGE,
			    "input '%s': dimension %d is %lld", name, i,
			    (long long)dims[i]);
		}
	}
	int err = check_name(m, "input", name, ei);
	if (err != RF_OK) {
		return err;
	}
	int v;
	err = value_push(m, name, &v);
	if (err != RF_OK) {
		return rf_errf(ei, err, "input '%s': %s", name,
		    rf_strerror(err));
	}
	struct model_value *mv = &m->values[v];
	mv->kind = ENGINE_VALUE_INPUT;
	mv->dtype = dtype;
	mv->rank = rank;
	for (int i = 0; i < rank; i++) {
		mv->dims[i] = dims[i];
	}
	m->inputs[m->n_inputs++] = v;
	*idx = v;
	return RF_OK;
}

static int
add_weight(struct engine_model *m, const char *name, struct tensor *w,
    bool keep_view, int *idx, struct rf_errinfo *ei)
{
	int err = check_name(m, "weight", name, ei);
	if (err != RF_OK) {
		return err;
	}
	size_t count;
	err = engine_tensor_shape_check(w->rank, w->dims, &count, ei);
	if (err != RF_OK || !engine_tensor_dtype_valid((int)w->dtype)) {
		return rf_errctx(ei, err ? err : RF_ERR_DTYPE, "weight '%s': ",
		    name);
	}
	/* The model must own its weights: copy a borrowed view, unless it
	 * points into the model's own mapping. */
	struct tensor own = *w;
	if (!w->owned && !keep_view) {
		err = engine_tensor_copy(&own, w);
		if (err != RF_OK) {
			return rf_errf(ei, err, "weight '%s': %s", name,
			    rf_strerror(err));
		}
	}
	int v;
	err = value_push(m, name, &v);
	if (err != RF_OK) {
		if (!w->owned && !keep_view) {
			engine_tensor_fini(&own);
		}
		return rf_errf(ei, err, "weight '%s': %s", name,
		    rf_strerror(err));
	}
	struct model_value *mv = &m->values[v];
	mv->kind = ENGINE_VALUE_WEIGHT;
	mv->dtype = own.dtype;
	mv->rank = own.rank;
	for (int i = 0; i < own.rank; i++) {
		mv->dims[i] = own.dims[i];
	}
	mv->weight = own;
	memset(w, 0, sizeof(*w));
	*idx = v;
	return RF_OK;
}

int
engine_model_add_weight(struct engine_model *m, const char *name,
    struct tensor *w, int *idx, struct rf_errinfo *ei)
{
	return add_weight(m, name, w, false, idx, ei);
}

int
engine_model_add_weight_view(struct engine_model *m, const char *name,
    struct tensor *w, int *idx, struct rf_errinfo *ei)
{
	return add_weight(m, name, w, true, idx, ei);
}

int
engine_model_add_weight_shape(struct engine_model *m, const char *name,
    enum tensor_dtype dtype, int rank, const int64_t *dims, int *idx,
    struct rf_errinfo *ei)
{
	int err = check_name(m, "weight", name, ei);
	if (err != RF_OK) {
		return err;
	}
	size_t count;
	err = engine_tensor_shape_check(rank, dims, &count, ei);
	if (err != RF_OK) {
		return rf_errctx(ei, err, "weight '%s': ", name);
	}
	int v;
	err = value_push(m, name, &v);
	if (err != RF_OK) {
		return rf_errf(ei, err, "weight '%s': %s", name, rf_strerror(err));
	}
	struct model_value *mv = &m->values[v];
	mv->kind = ENGINE_VALUE_WEIGHT;
	mv->dtype = dtype;
	mv->rank = rank;
	/* The tensor describes the shape; data stays NULL and unowned. */
	mv->weight.dtype = dtype;
	mv->weight.rank = rank;
	mv->weight.count = count;
	for (int i = 0; i < rank; i++) {
		mv->dims[i] = dims[i];
		mv->weight.dims[i] = dims[i];
	}
	m->graph_only = true;
	*idx = v;
	return RF_OK;
}

bool
engine_model_has_weights(const struct engine_model *m)
{
	return !m->graph_only;
}

static int
attr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct engine_attr *)a)->name,
	    ((const struct engine_attr *)b)->name);
}

/* Copies, sorts and checks a set of attributes. */
static int
attrs_prepare(const struct engine_attr *attrs, size_t n,
    struct engine_attr **out, struct rf_errinfo *ei)
{
	if (n > ENGINE_MAX_OP_ATTRS) {
		return rf_errf(ei, RF_ERR_RANGE, "more than %d attributes",
		    ENGINE_MAX_OP_ATTRS);
	}
	struct engine_attr *copy = NULL;
	if (n > 0) {
		copy = malloc(n * sizeof(*copy));
		if (copy == NULL) {
			return RF_ERR_NOMEM;
		}
		memcpy(copy, attrs, n * sizeof(*copy));
		qsort(copy, n, sizeof(*copy), attr_cmp);
	}
	for (size_t i = 0; i < n; i++) {
		const struct engine_attr *a = &copy[i];
		size_t len = strnlen(a->name, sizeof(a->name));
		bool one = a->type == ENGINE_ATTR_INT ||
		    a->type == ENGINE_ATTR_FLOAT;
		int err = RF_OK;
		if (len == 0 || len > ENGINE_ATTR_NAME_MAX) {
			err = rf_errf(ei, RF_ERR_INVAL,
			    "attribute name must be 1..%d bytes",
			    ENGINE_ATTR_NAME_MAX);
		} else if (a->type < ENGINE_ATTR_INT ||
		    a->type > ENGINE_ATTR_STRING) {
			err = rf_errf(ei, RF_ERR_INVAL,
			    "attribute '%s' has unknown type %d", a->name,
			    (int)a->type);
		} else if ((one && a->count != 1) ||
		    a->count > ENGINE_ATTR_MAX_VALUES) {
			err = rf_errf(ei, RF_ERR_INVAL,
			    "attribute '%s' has %u values", a->name, a->count);
		} else if (i > 0 && strcmp(copy[i - 1].name, a->name) == 0) {
			err = rf_errf(ei, RF_ERR_INVAL,
			    "attribute '%s' is given twice", a->name);
		}
		if (err != RF_OK) {
			free(copy);
			return err;
		}
	}
	/* Canonical form: zero every unused byte, so equal attributes
	 * compare and hash equal. */
	for (size_t i = 0; i < n; i++) {
		struct engine_attr *a = &copy[i];
		char name[sizeof(a->name)];
		memcpy(name, a->name, sizeof(name));
		memset(a->name, 0, sizeof(a->name));
		memcpy(a->name, name, strnlen(name, ENGINE_ATTR_NAME_MAX));
		if (a->type == ENGINE_ATTR_STRING) {
			char s[sizeof(a->v.str)];
			memcpy(s, a->v.str, a->count);
			memset(&a->v, 0, sizeof(a->v));
			memcpy(a->v.str, s, a->count);
		} else if (a->type == ENGINE_ATTR_FLOAT ||
		    a->type == ENGINE_ATTR_FLOATS) {
			for (size_t k = a->count; k < ENGINE_ATTR_MAX_VALUES;
			    k++) {
				a->v.floats[k] = 0.0f;
			}
		} else {
			for (size_t k = a->count; k < ENGINE_ATTR_MAX_VALUES;
			    k++) {
				a->v.ints[k] = 0;
			}
		}
	}
	*out = copy;
	return RF_OK;
}

static int
op_push(struct engine_model *m)
{
	if (m->n_ops >= ENGINE_MAX_OPS) {
		return RF_ERR_RANGE;
	}
	if (m->n_ops == m->cap_ops) {
		size_t cap = m->cap_ops ? m->cap_ops * 2 : 16;
		struct model_op *no = realloc(m->ops, cap * sizeof(*no));
		if (no == NULL) {
			return RF_ERR_NOMEM;
		}
		m->ops = no;
		m->cap_ops = cap;
	}
	return RF_OK;
}

int
engine_model_add_op(struct engine_model *m, enum engine_op op,
    const char *name, const int *inputs, size_t n_inputs,
    const char *const *out_names, size_t n_outputs,
    const struct engine_attr *attrs, size_t n_attrs, int *out_idx,
    struct rf_errinfo *ei)
{
	const struct op_def *def = engine_op_def_get(op);
	if (def == NULL) {
		return rf_errf(ei, RF_ERR_NOTSUP, "unknown operator %d",
		    (int)op);
	}
	size_t k = m->n_ops;
	if (n_inputs < def->min_in || n_inputs > def->max_in) {
		return rf_errf(ei, RF_ERR_INVAL,
		    "op %zu (%s '%s'): %zu inputs, expected %u..%u", k,
		    def->name, name, n_inputs, def->min_in, def->max_in);
	}
	if (n_outputs < def->min_out || n_outputs > def->max_out) {
		return rf_errf(ei, RF_ERR_INVAL,
		    "op %zu (%s '%s'): %zu outputs, expected %u..%u", k,
		    def->name, name, n_outputs, def->min_out, def->max_out);
	}
	/* Identity copies input i to output i: every input is required. */
	bool pairs = op == ENGINE_OP_IDENTITY;
	if (pairs && n_outputs != n_inputs) {
		return rf_errf(ei, RF_ERR_INVAL,
		    "op %zu (%s '%s'): %zu inputs but %zu outputs", k,
		    def->name, name, n_inputs, n_outputs);
	}
	size_t nlen = strlen(name);
	if (nlen == 0 || nlen > ENGINE_NAME_MAX) {
		return rf_errf(ei, RF_ERR_INVAL,
		    "op %zu: name must be 1..%d bytes", k, ENGINE_NAME_MAX);
	}
	for (size_t i = 0; i < n_inputs; i++) {
		int v = inputs[i];
		bool optional = i >= def->min_in && !pairs;
		if (v == ENGINE_NO_VALUE && optional) {
			continue;
		}
		if (v < 0 || (size_t)v >= m->n_values) {
			return rf_errf(ei, RF_ERR_INVAL,
			    "op %zu (%s '%s'): input %zu refers to value %d, "
			    "which is not defined before it",
			    k, def->name, name, i, v);
		}
	}
	struct engine_attr *sorted = NULL;
	int err = attrs_prepare(attrs, n_attrs, &sorted, ei);
	if (err != RF_OK) {
		return rf_errctx(ei, err, "op %zu (%s '%s'): ", k, def->name,
		    name);
	}
	struct op_params params;
	memset(&params, 0, sizeof(params));
	struct op_attrs at = { sorted, n_attrs };
	err = def->parse(&at, n_inputs, &params, ei);
	if (err != RF_OK) {
		free(sorted);
		return rf_errctx(ei, err, "op %zu (%s '%s'): ", k, def->name,
		    name);
	}

	size_t values_before = m->n_values;
	int *in_copy = NULL;
	char *name_copy = NULL;
	int outs[ENGINE_MAX_OP_OUTPUTS];
	err = op_push(m);
	if (err == RF_OK) {
		in_copy = malloc((n_inputs ? n_inputs : 1) * sizeof(int));
		name_copy = strdup(name);
		if (in_copy == NULL || name_copy == NULL) {
			err = RF_ERR_NOMEM;
		}
	}
	for (size_t i = 0; err == RF_OK && i < n_outputs; i++) {
		err = check_name(m, "output", out_names[i], ei);
		if (err == RF_OK) {
			err = value_push(m, out_names[i], &outs[i]);
		}
	}
	if (err != RF_OK) {
		value_pop_to(m, values_before);
		free(in_copy);
		free(name_copy);
		free(sorted);
		return rf_errctx(ei, err, "op %zu (%s '%s'): ", k, def->name,
		    name);
	}

	struct model_op *mo = &m->ops[k];
	memset(mo, 0, sizeof(*mo));
	mo->op = op;
	mo->name = name_copy;
	memcpy(in_copy, inputs, n_inputs * sizeof(int));
	mo->inputs = in_copy;
	mo->n_inputs = n_inputs;
	for (size_t i = 0; i < n_outputs; i++) {
		mo->outputs[i] = outs[i];
		m->values[outs[i]].kind = ENGINE_VALUE_OP;
		m->values[outs[i]].producer = (int)k;
		if (out_idx != NULL) {
			out_idx[i] = outs[i];
		}
	}
	mo->n_outputs = n_outputs;
	mo->attrs = sorted;
	mo->n_attrs = n_attrs;
	mo->params = params;
	for (size_t i = 0; i < n_inputs; i++) {
		if (inputs[i] != ENGINE_NO_VALUE) {
			m->values[inputs[i]].last_use = (int)k;
		}
	}
	m->n_ops++;
	return RF_OK;
}

int
engine_model_add_output(struct engine_model *m, int value,
    struct rf_errinfo *ei)
{
	if (m->n_outputs >= ENGINE_MAX_GRAPH_IO) {
		return rf_errf(ei, RF_ERR_RANGE, "more than %d graph outputs",
		    ENGINE_MAX_GRAPH_IO);
	}
	if (value < 0 || (size_t)value >= m->n_values ||
	    m->values[value].kind != ENGINE_VALUE_OP) {
		return rf_errf(ei, RF_ERR_INVAL,
		    "graph output %d is not an operator's output", value);
	}
	for (size_t i = 0; i < m->n_outputs; i++) {
		if (m->outputs[i] == value) {
			return rf_errf(ei, RF_ERR_INVAL,
			    "graph output '%s' is listed twice",
			    m->values[value].name);
		}
	}
	m->values[value].is_output = true;
	m->outputs[m->n_outputs++] = value;
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Queries                                                              */
/* ------------------------------------------------------------------ */

const char *
engine_model_name(const struct engine_model *m)
{
	return m->name;
}

size_t
engine_model_value_count(const struct engine_model *m)
{
	return m->n_values;
}

size_t
engine_model_op_count(const struct engine_model *m)
{
	return m->n_ops;
}

size_t
engine_model_input_count(const struct engine_model *m)
{
	return m->n_inputs;
}

size_t
engine_model_output_count(const struct engine_model *m)
{
	return m->n_outputs;
}

int
engine_model_input(const struct engine_model *m, size_t i)
{
	return i < m->n_inputs ? m->inputs[i] : -1;
}

int
engine_model_output(const struct engine_model *m, size_t i)
{
	return i < m->n_outputs ? m->outputs[i] : -1;
}

int
engine_model_value(const struct engine_model *m, int idx,
    struct engine_value_info *out)
{
	if (idx < 0 || (size_t)idx >= m->n_values) {
		return RF_ERR_RANGE;
	}
	const struct model_value *v = &m->values[idx];
	memset(out, 0, sizeof(*out));
	out->name = v->name;
	out->kind = v->kind;
	out->dtype = v->dtype;
	out->rank = v->rank;
	out->dims = v->dims;
	out->weight = v->kind == ENGINE_VALUE_WEIGHT ? &v->weight : NULL;
	out->producer = v->producer;
	return RF_OK;
}

int
engine_model_op(const struct engine_model *m, size_t op,
    struct engine_op_info *out)
{
	if (op >= m->n_ops) {
		return RF_ERR_RANGE;
	}
	const struct model_op *o = &m->ops[op];
	out->op = o->op;
	out->name = o->name;
	out->n_inputs = o->n_inputs;
	out->inputs = o->inputs;
	out->n_outputs = o->n_outputs;
	out->outputs = o->outputs;
	out->n_attrs = o->n_attrs;
	out->attrs = o->attrs;
	return RF_OK;
}

size_t
engine_model_param_count(const struct engine_model *m)
{
	size_t n = 0;
	for (size_t i = 0; i < m->n_values; i++) {
		if (m->values[i].kind == ENGINE_VALUE_WEIGHT) {
			n += m->values[i].weight.count;
		}
	}
	return n;
}
