/*
 * engine/ops.c - the operator table and what every operator shares:
 * attribute access for parse functions and output allocation for eval
 * functions.
 */
#include <stdio.h>
#include <string.h>

#include "engine/engine_int.h"

#define VARIADIC ENGINE_MAX_OP_INPUTS

static const struct op_def op_table[ENGINE_OP_COUNT] = {
	[ENGINE_OP_MATMUL] = { "MatMul", 2, 2, 1, 1, engine_op_matmul_parse,
	    engine_op_matmul_eval },
	[ENGINE_OP_GEMM] = { "Gemm", 2, 3, 1, 1, engine_op_gemm_parse, engine_op_gemm_eval },
	[ENGINE_OP_ADD] = { "Add", 2, 2, 1, 1, engine_op_parse_none, engine_op_add_eval },
	[ENGINE_OP_SUB] = { "Sub", 2, 2, 1, 1, engine_op_parse_none, engine_op_sub_eval },
	[ENGINE_OP_MUL] = { "Mul", 2, 2, 1, 1, engine_op_parse_none, engine_op_mul_eval },
	[ENGINE_OP_DIV] = { "Div", 2, 2, 1, 1, engine_op_parse_none, engine_op_div_eval },
	[ENGINE_OP_RELU] = { "Relu", 1, 1, 1, 1, engine_op_parse_none,
	    engine_op_relu_eval },
	[ENGINE_OP_SIGMOID] = { "Sigmoid", 1, 1, 1, 1, engine_op_parse_none,
	    engine_op_sigmoid_eval },
	[ENGINE_OP_TANH] = { "Tanh", 1, 1, 1, 1, engine_op_parse_none,
	    engine_op_tanh_eval },
	[ENGINE_OP_GELU] = { "Gelu", 1, 1, 1, 1, engine_op_gelu_parse,
	    engine_op_gelu_eval },
	[ENGINE_OP_SOFTMAX] = { "Softmax", 1, 1, 1, 1, engine_op_softmax_parse,
	    engine_op_softmax_eval },
	[ENGINE_OP_LAYERNORM] = { "LayerNormalization", 2, 3, 1, 3,
	    engine_op_layernorm_parse, engine_op_layernorm_eval },
	[ENGINE_OP_BATCHNORM] = { "BatchNormalization", 5, 5, 1, 1,
	    engine_op_batchnorm_parse, engine_op_batchnorm_eval },
	[ENGINE_OP_CONV] = { "Conv", 2, 3, 1, 1, engine_op_conv_parse, engine_op_conv_eval },
	[ENGINE_OP_MAXPOOL] = { "MaxPool", 1, 1, 1, 1, engine_op_pool_parse,
	    engine_op_maxpool_eval },
	[ENGINE_OP_AVGPOOL] = { "AveragePool", 1, 1, 1, 1, engine_op_pool_parse,
	    engine_op_avgpool_eval },
	[ENGINE_OP_GLOBALAVGPOOL] = { "GlobalAveragePool", 1, 1, 1, 1,
	    engine_op_parse_none, engine_op_globalavgpool_eval },
	[ENGINE_OP_FLATTEN] = { "Flatten", 1, 1, 1, 1, engine_op_flatten_parse,
	    engine_op_flatten_eval },
	[ENGINE_OP_RESHAPE] = { "Reshape", 2, 2, 1, 1, engine_op_reshape_parse,
	    engine_op_reshape_eval },
	[ENGINE_OP_TRANSPOSE] = { "Transpose", 1, 1, 1, 1,
	    engine_op_transpose_parse, engine_op_transpose_eval },
	[ENGINE_OP_CONCAT] = { "Concat", 1, VARIADIC, 1, 1, engine_op_concat_parse,
	    engine_op_concat_eval },
	[ENGINE_OP_GATHER] = { "Gather", 2, 2, 1, 1, engine_op_gather_parse,
	    engine_op_gather_eval },
	[ENGINE_OP_MATMULINTEGER] = { "MatMulInteger", 2, 4, 1, 1,
	    engine_op_parse_none, engine_op_matmulinteger_eval },
	[ENGINE_OP_QLINEARMATMUL] = { "QLinearMatMul", 8, 8, 1, 1,
	    engine_op_parse_none, engine_op_qlinearmatmul_eval },
	[ENGINE_OP_QGEMM] = { "QGemm", 6, 9, 1, 1, engine_op_qgemm_parse,
	    engine_op_qgemm_eval },
	[ENGINE_OP_IDENTITY] = { "Identity", 1, ENGINE_MAX_OP_OUTPUTS, 1,
	    ENGINE_MAX_OP_OUTPUTS, engine_op_parse_none,
	    engine_op_identity_eval },
	[ENGINE_OP_SQUEEZE] = { "Squeeze", 1, 1, 1, 1, engine_op_squeeze_parse,
	    engine_op_squeeze_eval },
	[ENGINE_OP_UNSQUEEZE] = { "Unsqueeze", 1, 1, 1, 1,
	    engine_op_unsqueeze_parse, engine_op_unsqueeze_eval },
	[ENGINE_OP_SPLIT] = { "Split", 1, 1, 1, ENGINE_MAX_OP_OUTPUTS,
	    engine_op_split_parse, engine_op_split_eval },
	[ENGINE_OP_SLICE] = { "Slice", 1, 1, 1, 1, engine_op_slice_parse,
	    engine_op_slice_eval },
	[ENGINE_OP_PAD] = { "Pad", 1, 1, 1, 1, engine_op_pad_parse, engine_op_pad_eval },
	[ENGINE_OP_WHERE] = { "Where", 3, 3, 1, 1, engine_op_parse_none,
	    engine_op_where_eval },
	[ENGINE_OP_EXPAND] = { "Expand", 1, 1, 1, 1, engine_op_expand_parse,
	    engine_op_expand_eval },
	[ENGINE_OP_CAST] = { "Cast", 1, 1, 1, 1, engine_op_cast_parse, engine_op_cast_eval },
	[ENGINE_OP_REDUCEMEAN] = { "ReduceMean", 1, 1, 1, 1,
	    engine_op_reducemean_parse, engine_op_reducemean_eval },
	[ENGINE_OP_POW] = { "Pow", 2, 2, 1, 1, engine_op_parse_none, engine_op_pow_eval },
	[ENGINE_OP_SQRT] = { "Sqrt", 1, 1, 1, 1, engine_op_parse_none,
	    engine_op_sqrt_eval },
	[ENGINE_OP_ERF] = { "Erf", 1, 1, 1, 1, engine_op_parse_none, engine_op_erf_eval },
	[ENGINE_OP_EXP] = { "Exp", 1, 1, 1, 1, engine_op_parse_none,
	    engine_op_exp_eval },
	[ENGINE_OP_LOG] = { "Log", 1, 1, 1, 1, engine_op_parse_none,
	    engine_op_log_eval },
	[ENGINE_OP_ABS] = { "Abs", 1, 1, 1, 1, engine_op_parse_none,
	    engine_op_abs_eval },
	[ENGINE_OP_NEG] = { "Neg", 1, 1, 1, 1, engine_op_parse_none,
	    engine_op_neg_eval },
	[ENGINE_OP_RECIPROCAL] = { "Reciprocal", 1, 1, 1, 1,
	    engine_op_parse_none, engine_op_reciprocal_eval },
	[ENGINE_OP_CLIP] = { "Clip", 1, 1, 1, 1, engine_op_clip_parse,
	    engine_op_clip_eval },
	[ENGINE_OP_LEAKYRELU] = { "LeakyRelu", 1, 1, 1, 1,
	    engine_op_leakyrelu_parse, engine_op_leakyrelu_eval },
	[ENGINE_OP_HARDSIGMOID] = { "HardSigmoid", 1, 1, 1, 1,
	    engine_op_hardsigmoid_parse, engine_op_hardsigmoid_eval },
	[ENGINE_OP_HARDSWISH] = { "HardSwish", 1, 1, 1, 1,
	    engine_op_parse_none, engine_op_hardswish_eval },
	[ENGINE_OP_SOFTPLUS] = { "Softplus", 1, 1, 1, 1, engine_op_parse_none,
	    engine_op_softplus_eval },
	[ENGINE_OP_MIN] = { "Min", 1, 2, 1, 1, engine_op_parse_none,
	    engine_op_min_eval },
	[ENGINE_OP_MAX] = { "Max", 1, 2, 1, 1, engine_op_parse_none,
	    engine_op_max_eval },
	[ENGINE_OP_LOGSOFTMAX] = { "LogSoftmax", 1, 1, 1, 1,
	    engine_op_logsoftmax_parse, engine_op_logsoftmax_eval },
	[ENGINE_OP_ARGMAX] = { "ArgMax", 1, 1, 1, 1, engine_op_argmax_parse,
	    engine_op_argmax_eval },
	[ENGINE_OP_REDUCESUM] = { "ReduceSum", 1, 1, 1, 1,
	    engine_op_reducesum_parse, engine_op_reducesum_eval },
	[ENGINE_OP_REDUCEMAX] = { "ReduceMax", 1, 1, 1, 1,
	    engine_op_reducemax_parse, engine_op_reducemax_eval },
	[ENGINE_OP_REDUCEMIN] = { "ReduceMin", 1, 1, 1, 1,
	    engine_op_reducemin_parse, engine_op_reducemin_eval },
	[ENGINE_OP_REDUCEPROD] = { "ReduceProd", 1, 1, 1, 1,
	    engine_op_reduceprod_parse, engine_op_reduceprod_eval },
	[ENGINE_OP_REDUCEL2] = { "ReduceL2", 1, 1, 1, 1,
	    engine_op_reducel2_parse, engine_op_reducel2_eval },
	[ENGINE_OP_EQUAL] = { "Equal", 2, 2, 1, 1, engine_op_parse_none,
	    engine_op_equal_eval },
	[ENGINE_OP_LESS] = { "Less", 2, 2, 1, 1, engine_op_parse_none,
	    engine_op_less_eval },
	[ENGINE_OP_GREATER] = { "Greater", 2, 2, 1, 1, engine_op_parse_none,
	    engine_op_greater_eval },
	[ENGINE_OP_NOT] = { "Not", 1, 1, 1, 1, engine_op_parse_none,
	    engine_op_not_eval },
	[ENGINE_OP_AND] = { "And", 2, 2, 1, 1, engine_op_parse_none,
	    engine_op_and_eval },
	[ENGINE_OP_OR] = { "Or", 2, 2, 1, 1, engine_op_parse_none,
	    engine_op_or_eval },
	[ENGINE_OP_QUANTIZELINEAR] = { "QuantizeLinear", 2, 3, 1, 1,
	    engine_op_quant_parse, engine_op_quantizelinear_eval },
	[ENGINE_OP_DEQUANTIZELINEAR] = { "DequantizeLinear", 2, 3, 1, 1,
	    engine_op_quant_parse, engine_op_dequantizelinear_eval },
	[ENGINE_OP_QLINEARCONV] = { "QLinearConv", 8, 9, 1, 1,
	    engine_op_qlinearconv_parse, engine_op_qlinearconv_eval },
	[ENGINE_OP_SAMPLE] = { "Sample", 1, 3, 2, 2, engine_op_sample_parse,
	    engine_op_sample_eval },
	[ENGINE_OP_LSTM] = { "LSTM", 3, 8, 1, 3, engine_op_lstm_parse,
	    engine_op_lstm_eval },
	[ENGINE_OP_GRU] = { "GRU", 3, 6, 1, 2, engine_op_gru_parse,
	    engine_op_gru_eval },
};
_Static_assert(ENGINE_OP_COUNT == 69, "op table must list every op");

const struct op_def *
engine_op_def_get(enum engine_op op)
{
	if ((int)op < 0 || op >= ENGINE_OP_COUNT) {
		return NULL;
	}
	return &op_table[op];
}

const char *
engine_op_name(enum engine_op op)
{
	const struct op_def *d = engine_op_def_get(op);
	return d != NULL ? d->name : NULL;
}

int
engine_op_lookup(const char *name, enum engine_op *out)
{
	for (int i = 0; i < ENGINE_OP_COUNT; i++) {
		if (strcmp(op_table[i].name, name) == 0) {
			*out = (enum engine_op)i;
			return RF_OK;
		}
	}
	return RF_ERR_NOTFOUND;
}

/* ------------------------------------------------------------------ */
/* Attribute construction                                               */
/* ------------------------------------------------------------------ */

static int
attr_start(struct engine_attr *a, const char *name, enum engine_attr_type t)
{
	size_t len = strlen(name);
	if (len == 0 || len > ENGINE_ATTR_NAME_MAX) {
		return RF_ERR_RANGE;
	}
	memset(a, 0, sizeof(*a));
	memcpy(a->name, name, len);
	a->type = t;
	return RF_OK;
}

int
engine_attr_int(struct engine_attr *a, const char *name, int64_t v)
{
	int err = attr_start(a, name, ENGINE_ATTR_INT);
	if (err == RF_OK) {
		a->count = 1;
		a->v.ints[0] = v;
	}
	return err;
}

int
engine_attr_float(struct engine_attr *a, const char *name, float v)
{
	int err = attr_start(a, name, ENGINE_ATTR_FLOAT);
	if (err == RF_OK) {
		a->count = 1;
		a->v.floats[0] = v;
	}
	return err;
}

int
engine_attr_ints(struct engine_attr *a, const char *name, const int64_t *v,
    size_t n)
{
	if (n > ENGINE_ATTR_MAX_VALUES) {
		return RF_ERR_RANGE;
	}
	int err = attr_start(a, name, ENGINE_ATTR_INTS);
	if (err == RF_OK) {
		a->count = (uint32_t)n;
		for (size_t i = 0; i < n; i++) {
			a->v.ints[i] = v[i];
		}
	}
	return err;
}

int
engine_attr_floats(struct engine_attr *a, const char *name, const float *v,
    size_t n)
{
	if (n > ENGINE_ATTR_MAX_VALUES) {
		return RF_ERR_RANGE;
	}
	int err = attr_start(a, name, ENGINE_ATTR_FLOATS);
	if (err == RF_OK) {
		a->count = (uint32_t)n;
		for (size_t i = 0; i < n; i++) {
			a->v.floats[i] = v[i];
		}
	}
	return err;
}

int
engine_attr_string(struct engine_attr *a, const char *name, const char *s)
{
	size_t n = strlen(s);
	if (n > ENGINE_ATTR_MAX_VALUES) {
		return RF_ERR_RANGE;
	}
	int err = attr_start(a, name, ENGINE_ATTR_STRING);
	if (err == RF_OK) {
		a->count = (uint32_t)n;
		memcpy(a->v.str, s, n);
	}
	return err;
}

/* ------------------------------------------------------------------ */
/* Attribute access for parse functions                                 */
/* ------------------------------------------------------------------ */

const struct engine_attr *
engine_op_attr_find(const struct op_attrs *at, const char *name)
{
	for (size_t i = 0; i < at->n; i++) {
		if (strcmp(at->a[i].name, name) == 0) {
			return &at->a[i];
		}
	}
	return NULL;
}

int
engine_op_attr_get_int(const struct op_attrs *at, const char *name, int64_t def,
    int64_t lo, int64_t hi, int64_t *out, struct rf_errinfo *ei)
{
	const struct engine_attr *a = engine_op_attr_find(at, name);
	if (a == NULL) {
		*out = def;
		return RF_OK;
	}
	if (a->type != ENGINE_ATTR_INT) {
		return rf_errf(ei, RF_ERR_INVAL,
		    "attribute '%s' must be an int", name);
	}
	if (a->v.ints[0] < lo || a->v.ints[0] > hi) {
		return rf_errf(ei, RF_ERR_INVAL,
		    "attribute '%s' is %lld, outside %lld..%lld", name,
		    (long long)a->v.ints[0], (long long)lo, (long long)hi);
	}
	*out = a->v.ints[0];
	return RF_OK;
}

int
engine_op_attr_get_float(const struct op_attrs *at, const char *name, float def,
    float *out, struct rf_errinfo *ei)
{
	const struct engine_attr *a = engine_op_attr_find(at, name);
	if (a == NULL) {
		*out = def;
		return RF_OK;
	}
	if (a->type != ENGINE_ATTR_FLOAT) {
		return rf_errf(ei, RF_ERR_INVAL,
		    "attribute '%s' must be a float", name);
	}
	*out = a->v.floats[0];
	return RF_OK;
}

int
engine_op_attr_get_ints(const struct op_attrs *at, const char *name, size_t min,
    size_t max, int64_t *out, size_t *n, struct rf_errinfo *ei)
{
	const struct engine_attr *a = engine_op_attr_find(at, name);
	if (a == NULL) {
		*n = 0;
		return RF_OK;
	}
	if (a->type != ENGINE_ATTR_INTS) {
		return rf_errf(ei, RF_ERR_INVAL,
		    "attribute '%s' must be a list of ints", name);
	}
	if (a->count < min || a->count > max) {
		return rf_errf(ei, RF_ERR_INVAL,
		    "attribute '%s' has %u values, expected %zu..%zu", name,
		    a->count, min, max);
	}
	for (uint32_t i = 0; i < a->count; i++) {
		out[i] = a->v.ints[i];
	}
	*n = a->count;
	return RF_OK;
}

int
engine_op_attrs_only(const struct op_attrs *at, const char *const *known,
    const char *op, struct rf_errinfo *ei)
{
	for (size_t i = 0; i < at->n; i++) {
		bool ok = false;
		for (size_t j = 0; known != NULL && known[j] != NULL; j++) {
			if (strcmp(at->a[i].name, known[j]) == 0) {
				ok = true;
				break;
			}
		}
		if (!ok) {
			return rf_errf(ei, RF_ERR_NOTSUP,
			    "%s has no supported attribute '%s'", op,
			    at->a[i].name);
		}
	}
	return RF_OK;
}

int
engine_op_parse_none(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	(void)n_inputs;
	(void)p;
	return engine_op_attrs_only(at, NULL, "this operator", ei);
}

/* ------------------------------------------------------------------ */
/* Helpers for eval functions                                           */
/* ------------------------------------------------------------------ */

/* The shape probe of engine/check.c, per thread like the allocation cap. */
static _Thread_local struct op_probe *probe;

struct op_probe *
engine_op_probe_set(struct op_probe *p)
{
	struct op_probe *old = probe;
	probe = p;
	return old;
}

static _Thread_local struct op_bufpool *bufpool;

struct op_bufpool *
engine_op_bufpool_set(struct op_bufpool *p)
{
	struct op_bufpool *old = bufpool;
	bufpool = p;
	return old;
}

void
engine_op_tensor_release(struct tensor *t)
{
	size_t bytes = t->owned && t->data != NULL ? engine_tensor_nbytes(t) : 0;
	if (bufpool == NULL || bytes == 0 || bufpool->n >= OP_BUFPOOL_MAX) {
		engine_tensor_fini(t);
		return;
	}
	bufpool->buf[bufpool->n] = t->data;
	bufpool->cap[bufpool->n] = bytes;
	bufpool->n++;
	memset(t, 0, sizeof(*t));
}

void
engine_op_bufpool_drain(struct op_bufpool *p)
{
	for (size_t i = 0; i < p->n; i++) {
		engine_aligned_free(p->buf[i]);
	}
	p->n = 0;
}

/* The smallest pooled buffer that holds bytes without wasting more than
 * it needs (a big buffer stays for a big tensor); NULL when none fits. */
static void *
bufpool_take(size_t bytes)
{
	if (bufpool == NULL || bytes == 0) {
		return NULL;
	}
	size_t best = OP_BUFPOOL_MAX;
	for (size_t i = 0; i < bufpool->n; i++) {
		size_t cap = bufpool->cap[i];
		if (cap >= bytes && cap / 2 <= bytes &&
		    (best == OP_BUFPOOL_MAX || cap < bufpool->cap[best])) {
			best = i;
		}
	}
	if (best == OP_BUFPOOL_MAX) {
		return NULL;
	}
	void *b = bufpool->buf[best];
	bufpool->n--;
	bufpool->buf[best] = bufpool->buf[bufpool->n];
	bufpool->cap[best] = bufpool->cap[bufpool->n];
	return b;
}

void *
engine_op_scratch_alloc(size_t bytes)
{
	void *b = bufpool_take(bytes);
	return b != NULL ? b : engine_aligned_alloc(bytes);
}

void
engine_op_scratch_free(void *buf, size_t bytes)
{
	if (buf == NULL) {
		return;
	}
	if (bufpool == NULL || bytes == 0 || bufpool->n >= OP_BUFPOOL_MAX) {
		engine_aligned_free(buf);
		return;
	}
	bufpool->buf[bufpool->n] = buf;
	bufpool->cap[bufpool->n] = bytes;
	bufpool->n++;
}

int
engine_op_out_alloc(const struct op_call *c, size_t i, enum tensor_dtype dt,
    int rank, const int64_t *dims)
{
	size_t count;
	int err = engine_tensor_shape_check(rank, dims, &count, c->ei);
	if (err != RF_OK) {
		return rf_errctx(c->ei, err, "output %zu: ", i);
	}
	if (probe != NULL && i < ENGINE_MAX_OP_OUTPUTS) {
		/* Every check an eval makes comes before its outputs exist:
		 * the shape of the last output is all the probe needs, and
		 * stopping here computes nothing. */
		struct engine_shape *s = &probe->out[i];
		s->known = true;
		s->dtype = dt;
		s->rank = rank;
		memcpy(s->dims, dims, (size_t)rank * sizeof(dims[0]));
		if (i + 1 >= c->n_out) {
			return RF_ERR_ABORTED;
		}
	}
	size_t bytes = count * engine_tensor_dtype_size(dt);
	void *reuse = engine_tensor_dtype_valid((int)dt) ? bufpool_take(bytes) : NULL;
	if (reuse != NULL) {
		struct tensor *t = &c->out[i];
		memset(reuse, 0, bytes);
		memset(t, 0, sizeof(*t));
		t->dtype = dt;
		t->rank = rank;
		memcpy(t->dims, dims, (size_t)rank * sizeof(dims[0]));
		t->count = count;
		t->data = reuse;
		t->owned = true;
		return RF_OK;
	}
	err = engine_tensor_init(&c->out[i], dt, rank, dims);
	if (err != RF_OK) {
		return rf_errf(c->ei, err, "output %zu: %s", i,
		    rf_strerror(err));
	}
	return RF_OK;
}

int
engine_op_need_dtype(const struct op_call *c, size_t i, enum tensor_dtype dt)
{
	if (i >= c->n_in || c->in[i] == NULL) {
		return rf_errf(c->ei, RF_ERR_INVAL, "input %zu is missing", i);
	}
	if (c->in[i]->dtype != dt) {
		return rf_errf(c->ei, RF_ERR_DTYPE, "input %zu is %s, needs %s",
		    i, engine_tensor_dtype_name(c->in[i]->dtype),
		    engine_tensor_dtype_name(dt));
	}
	return RF_OK;
}

int
engine_op_axis(const struct op_call *c, int64_t axis, int rank, int *out)
{
	int64_t a = axis < 0 ? axis + rank : axis;
	if (a < 0 || a >= rank) {
		return rf_errf(c->ei, RF_ERR_INVAL,
		    "axis %lld is out of range for rank %d", (long long)axis,
		    rank);
	}
	*out = (int)a;
	return RF_OK;
}
