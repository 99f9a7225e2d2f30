/*
 * engine/onnx_import.c - decodes and validates an ONNX ModelProto. The
 * only file of Refute that sees protobuf-c; engine/onnx_map.c turns the
 * validated description into an engine model.
 *
 * The schema is the official onnx.proto (vendored as engine/onnx/
 * onnx.proto); protoc-c generates the decoder at build time. Everything
 * read from the file is untrusted, and protobuf-c unpacks a whole message
 * into memory, so before and after unpacking we bound what it can cost:
 *
 *   size      at most ENGINE_ONNX_MAX_BYTES (2 GiB - 1, protobuf's own
 *             limit) before anything is decoded;
 *   nesting   protobuf-c recurses once per nested message and has no
 *             depth limit of its own (as of 1.5.2), so a file of a few
 *             hundred kilobytes of nested attribute graphs would overflow
 *             the stack. nesting_check() first walks the wire format
 *             with protobuf-c's own descriptors, decoding no values, and
 *             refuses nesting deeper than ONNX_NESTING_MAX;
 *   memory    the unpacker allocates through a budget of 256 MiB plus
 *             twice the file size, counted in live bytes;
 *   contents  after unpacking: IR version and opset, counts against the
 *             engine's limits, names (present, unique, at most
 *             ENGINE_NAME_MAX bytes), every dimension (negative is
 *             malformed, over TENSOR_MAX_DIM or TENSOR_MAX_ELEMS is out
 *             of range), tensor data against its dims and type, and
 *             every value used only after it is defined (ONNX requires
 *             nodes in topological order; a cycle shows up as a use
 *             before the definition).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"
#include "engine/onnx_int.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ONNX raw_data is little-endian; add byte swapping for this host"
#endif

/* ModelProto > GraphProto > ValueInfoProto > TypeProto > Tensor >
 * TensorShapeProto > Dimension is 7 deep; subgraphs and sequence types
 * nest further, and we support neither, so 32 leaves room to say so
 * politely instead of failing on depth. */
#define ONNX_NESTING_MAX 32
#define ONNX_DECODE_BASE ((size_t)256 << 20)
#define ONNX_MIN_IR 3
#define ONNX_MAX_IR 10

#define DIM_PARAM ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
#define DIM_VALUE ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE

/* ------------------------------------------------------------------ */
/* Nesting check                                                        */
/* ------------------------------------------------------------------ */

static bool
rd_varint(const uint8_t *p, size_t end, size_t *pos, uint64_t *v)
{
	uint64_t r = 0;
	for (int i = 0; i < 10; i++) {
		if (*pos >= end) {
			return false;
		}
		uint8_t b = p[(*pos)++];
		r |= (uint64_t)(b & 0x7f) << (7 * i);
		if ((b & 0x80) == 0) {
			*v = r;
			return true;
		}
	}
	return false;
}

static int
malformed(size_t at, struct rf_errinfo *ei)
{
	return rf_errf(ei, RF_ERR_FORMAT,
	    "not a valid ONNX model: protobuf data is malformed or truncated "
	    "near byte %zu", at);
}

/*
 * Walks the message tree without decoding values: a length-delimited
 * field that the schema says is a message is entered, anything else is
 * skipped. Groups (wire types 3 and 4) are not used by onnx.proto and
 * protobuf-c rejects them, so they end the walk here too.
 */
static int
nesting_check(const uint8_t *buf, size_t len, struct rf_errinfo *ei)
{
	struct {
		const ProtobufCMessageDescriptor *d;
		size_t end;
	} st[ONNX_NESTING_MAX + 1];
	int depth = 0;
	size_t pos = 0;
	st[0].d = &onnx__model_proto__descriptor;
	st[0].end = len;
	for (;;) {
		while (pos == st[depth].end) {
			if (depth == 0) {
				return RF_OK;
			}
			depth--;
		}
		size_t end = st[depth].end;
		uint64_t key, n;
		if (!rd_varint(buf, end, &pos, &key)) {
			return malformed(pos, ei);
		}
		switch (key & 7) {
		case 0:
			if (!rd_varint(buf, end, &pos, &n)) {
				return malformed(pos, ei);
			}
			break;
		case 1:
		case 5:
			n = (key & 7) == 1 ? 8 : 4;
			if (end - pos < n) {
				return malformed(pos, ei);
			}
			pos += n;
			break;
		case 2: {
			if (!rd_varint(buf, end, &pos, &n) || n > end - pos) {
				return malformed(pos, ei);
			}
			uint64_t field = key >> 3;
			const ProtobufCFieldDescriptor *f = field <= UINT32_MAX
			    ? protobuf_c_message_descriptor_get_field(
			          st[depth].d, (unsigned)field)
			    : NULL;
			if (f == NULL || f->type != PROTOBUF_C_TYPE_MESSAGE) {
				pos += n;
				break;
			}
			if (depth == ONNX_NESTING_MAX) {
				return rf_errf(ei, RF_ERR_RANGE,
				    "ONNX messages are nested more than %d "
				    "deep",
				    ONNX_NESTING_MAX);
			}
			depth++;
			st[depth].d = f->descriptor;
			st[depth].end = pos + n;
			break;
		}
		default:
			return malformed(pos, ei);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Memory budget for the unpacker                                       */
/* ------------------------------------------------------------------ */

struct budget {
	size_t used, limit;
	bool over;
	bool nomem; /* malloc failed: out of memory, not bad input */
};

/* Each block carries its size in a 16-byte header (keeping malloc's
 * alignment), so frees give the budget back. */
#define BUDGET_HDR 16

static void *
budget_alloc(void *ctx, size_t size)
{
	struct budget *b = ctx;
	size_t total;
	if (!rf_size_add(size, BUDGET_HDR, &total) ||
	    total > b->limit - b->used) {
		b->over = true;
		return NULL;
	}
	unsigned char *p = malloc(total);
	if (p == NULL) {
		b->nomem = true;
		return NULL;
	}
	memcpy(p, &total, sizeof(total));
	b->used += total;
	return p + BUDGET_HDR;
}

static void
budget_free(void *ctx, void *ptr)
{
	struct budget *b = ctx;
	if (ptr == NULL) {
		return;
	}
	unsigned char *p = (unsigned char *)ptr - BUDGET_HDR;
	size_t total;
	memcpy(&total, p, sizeof(total));
	b->used -= total;
	free(p);
}

/* ------------------------------------------------------------------ */
/* Names                                                                */
/* ------------------------------------------------------------------ */

static uint64_t
name_hash(const char *s)
{
	/* FNV-1a: spreads short names over buckets; not a security hash,
	 * but lookups stay linear probes over a half-empty table. */
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int
names_init(struct onnx_names *m, size_t n)
{
	size_t cap = 16;
	while (cap < 2 * n + 2) {
		cap *= 2;
	}
	m->keys = calloc(cap, sizeof(*m->keys));
	m->ids = calloc(cap, sizeof(*m->ids));
	m->cap = cap;
	return m->keys != NULL && m->ids != NULL ? RF_OK : RF_ERR_NOMEM;
}

static void
names_fini(struct onnx_names *m)
{
	free(m->keys);
	free(m->ids);
	memset(m, 0, sizeof(*m));
}

int
engine_onnx_names_find(const struct onnx_names *m, const char *name)
{
	if (m->cap == 0) {
		return -1;
	}
	size_t at = name_hash(name) & (m->cap - 1);
	while (m->keys[at] != NULL) {
		if (strcmp(m->keys[at], name) == 0) {
			return m->ids[at];
		}
		at = (at + 1) & (m->cap - 1);
	}
	return -1;
}

/* Adds name; false if it is already there. The table never fills: it was
 * sized for every name the file can define. */
static bool
names_add(struct onnx_names *m, const char *name, int id)
{
	size_t at = name_hash(name) & (m->cap - 1);
	while (m->keys[at] != NULL) {
		if (strcmp(m->keys[at], name) == 0) {
			return false;
		}
		at = (at + 1) & (m->cap - 1);
	}
	m->keys[at] = name;
	m->ids[at] = id;
	return true;
}

static const char *
str_or_empty(const char *s)
{
	return s != NULL ? s : "";
}

/* A value name: present and short enough to become an engine name. */
static int
check_name(const char *what, const char *name, struct rf_errinfo *ei)
{
	size_t len = strlen(name);
	if (len == 0) {
		return rf_errf(
		    ei, RF_ERR_FORMAT, "%s has an empty name", what);
	}
	if (len > ENGINE_NAME_MAX) {
		return rf_errf(ei, RF_ERR_RANGE,
		    "%s name '%.40s...' is %zu bytes, over %d", what, name,
		    len, ENGINE_NAME_MAX);
	}
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Tensors                                                              */
/* ------------------------------------------------------------------ */

static const char *
onnx_type_name(int64_t t)
{
	static const char *const names[] = { "UNDEFINED", "FLOAT", "UINT8",
		"INT8", "UINT16", "INT16", "INT32", "INT64", "STRING", "BOOL",
		"FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64",
		"COMPLEX128", "BFLOAT16" };
	if (t >= 0 && t < (int64_t)(sizeof(names) / sizeof(names[0]))) {
		return names[t];
	}
	return "unknown";
}

/* The engine dtype of an ONNX element type; bool is i8 0/1, and uint8
 * (u8_ok) i8 q - 128. */
static bool
dtype_of_u8(int64_t t, enum tensor_dtype *dt, bool *is_bool, bool u8_ok,
    bool *is_u8)
{
	*is_bool = false;
	*is_u8 = false;
	if (t == ONNX_DT_UINT8 && u8_ok) {
		*dt = TENSOR_I8;
		*is_u8 = true;
		return true;
	}
	switch (t) {
	case ONNX_DT_FLOAT:
		*dt = TENSOR_F32;
		return true;
	case ONNX_DT_INT8:
		*dt = TENSOR_I8;
		return true;
	case ONNX_DT_INT32:
		*dt = TENSOR_I32;
		return true;
	case ONNX_DT_INT64:
		*dt = TENSOR_I64;
		return true;
	case ONNX_DT_BOOL:
		*dt = TENSOR_I8;
		*is_bool = true;
		return true;
	default:
		return false;
	}
}

static bool
dtype_of(int64_t t, enum tensor_dtype *dt, bool *is_bool)
{
	bool is_u8;
	return dtype_of_u8(t, dt, is_bool, false, &is_u8);
}

/* Checks a list of dims: negative is malformed, too big out of range. */
static int
dims_check(const char *what, size_t n, const int64_t *dims, size_t *count,
    struct rf_errinfo *ei)
{
	if (n > TENSOR_MAX_RANK) {
		return rf_errf(ei, RF_ERR_RANGE, "%s has rank %zu, over %d",
		    what, n, TENSOR_MAX_RANK);
	}
	for (size_t i = 0; i < n; i++) {
		if (dims[i] < 0) {
			return rf_errf(ei, RF_ERR_FORMAT,
			    "%s: dimension %zu is negative (%lld)", what, i,
			    (long long)dims[i]);
		}
	}
	int err = engine_tensor_shape_check((int)n, dims, count, ei);
	if (err != RF_OK) {
		return rf_errctx(ei, err, "%s: ", what);
	}
	return RF_OK;
}

/*
 * Converts a TensorProto into an owned tensor, checking its type, dims
 * and data: raw_data must hold exactly count elements, or the typed field
 * for its type exactly count values. Frees raw_data from the message once
 * copied, so a large model is not held twice.
 */
static int
tensor_from_proto(Onnx__TensorProto *tp, ProtobufCAllocator *alloc,
    const char *what, struct onnx_const *out, struct rf_errinfo *ei)
{
	if (tp->segment != NULL) {
		return rf_errf(ei, RF_ERR_NOTSUP, "%s is segmented", what);
	}
	if ((tp->has_data_location &&
	        tp->data_location !=
	            ONNX__TENSOR_PROTO__DATA_LOCATION__DEFAULT) ||
	    tp->n_external_data > 0) {
		return rf_errf(ei, RF_ERR_NOTSUP,
		    "%s is stored in an external file; save the model with "
		    "all tensors inside it",
		    what);
	}
	enum tensor_dtype dt;
	bool is_bool, is_u8;
	if (!tp->has_data_type) {
		return rf_errf(ei, RF_ERR_FORMAT, "%s has no data type", what);
	}
	if (!dtype_of_u8(tp->data_type, &dt, &is_bool, true, &is_u8)) {
		return rf_errf(ei, RF_ERR_NOTSUP,
		    "%s has type %s; the engine supports FLOAT, INT8, UINT8, "
		    "INT32, INT64 and BOOL", what,
		    onnx_type_name(tp->data_type));
	}
	size_t count;
	int err = dims_check(what, tp->n_dims, tp->dims, &count, ei);
	if (err != RF_OK) {
		return err;
	}
	size_t esz = engine_tensor_dtype_size(dt);
	size_t typed = 0;
	bool wrong = tp->n_string_data > 0 || tp->n_double_data > 0 ||
	    tp->n_uint64_data > 0;
	if (dt == TENSOR_F32) {
		typed = tp->n_float_data;
		wrong = wrong || tp->n_int32_data > 0 || tp->n_int64_data > 0;
	} else if (dt == TENSOR_I64) {
		typed = tp->n_int64_data;
		wrong = wrong || tp->n_int32_data > 0 || tp->n_float_data > 0;
	} else {
		typed = tp->n_int32_data;
		wrong = wrong || tp->n_float_data > 0 || tp->n_int64_data > 0;
	}
	if (wrong || (tp->has_raw_data && typed > 0)) {
		return rf_errf(ei, RF_ERR_FORMAT,
		    "%s holds data in fields that do not match its type %s",
		    what, onnx_type_name(tp->data_type));
	}
	if (tp->has_raw_data && tp->raw_data.len != count * esz) {
		return rf_errf(ei, RF_ERR_FORMAT,
		    "%s: raw_data holds %zu bytes, its dims need %zu", what,
		    tp->raw_data.len, count * esz);
	}
	if (!tp->has_raw_data && typed != count) {
		return rf_errf(ei, RF_ERR_FORMAT,
		    "%s holds %zu values, its dims need %zu", what, typed,
		    count);
	}
	struct tensor t;
	int64_t dims[TENSOR_MAX_RANK];
	for (size_t i = 0; i < tp->n_dims; i++) {
		dims[i] = tp->dims[i];
	}
	err = engine_tensor_init(&t, dt, (int)tp->n_dims, dims);
	if (err != RF_OK) {
		return rf_errf(ei, err, "%s: %s", what, rf_strerror(err));
	}
	/* memcpy from NULL is undefined even for 0 bytes: an empty field
	 * has no array. */
	if (count == 0) {
		/* nothing to copy */
	} else if (tp->has_raw_data) {
		memcpy(t.data, tp->raw_data.data, count * esz);
		if (is_u8) {
			/* q - 128 in two's complement is q with its top bit
			 * flipped. */
			unsigned char *b = t.data;
			for (size_t i = 0; i < count; i++) {
				b[i] ^= 0x80;
			}
		}
	} else if (dt == TENSOR_F32) {
		memcpy(t.data, tp->float_data, count * esz);
	} else if (dt == TENSOR_I64) {
		memcpy(t.data, tp->int64_data, count * esz);
	} else {
		for (size_t i = 0; i < count; i++) {
			int32_t v = tp->int32_data[i];
			if (is_u8) {
				/* 0..255 becomes -128..127. */
				v = v >= 0 && v <= 255 ? v - 128 : INT32_MIN;
			}
			bool ok = dt == TENSOR_I32 ||
			    (v >= INT8_MIN && v <= INT8_MAX);
			if (!ok) {
				engine_tensor_fini(&t);
				return rf_errf(ei, RF_ERR_FORMAT,
				    "%s: value %d does not fit its type", what,
				    (int)v);
			}
			if (dt == TENSOR_I32) {
				((int32_t *)t.data)[i] = v;
			} else {
				((int8_t *)t.data)[i] = (int8_t)v;
			}
		}
	}
	if (is_bool) {
		const int8_t *b = t.data;
		for (size_t i = 0; i < count; i++) {
			if (b[i] != 0 && b[i] != 1) {
				int v = b[i];
				engine_tensor_fini(&t);
				return rf_errf(ei, RF_ERR_FORMAT,
				    "%s: bool element %zu is %d", what, i, v);
			}
		}
	}
	if (tp->has_raw_data) {
		budget_free(alloc->allocator_data, tp->raw_data.data);
		tp->raw_data.data = NULL;
		tp->raw_data.len = 0;
		tp->has_raw_data = 0;
	}
	out->t = t;
	out->is_bool = is_bool;
	out->is_u8 = is_u8;
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* The importer                                                         */
/* ------------------------------------------------------------------ */

struct importer {
	struct budget budget;
	ProtobufCAllocator alloc;
	Onnx__ModelProto *model;
	struct onnx_graph g;
	int *ids; /* every node's input and output ids */
	const struct engine_onnx_opts *o;
	struct rf_errinfo *ei;
};

static int
check_versions(const Onnx__ModelProto *m, int64_t *opset,
    struct rf_errinfo *ei)
{
	if (!m->has_ir_version) {
		return rf_errf(ei, RF_ERR_FORMAT,
		    "not an ONNX model: no IR version");
	}
	if (m->ir_version < ONNX_MIN_IR || m->ir_version > ONNX_MAX_IR) {
		return rf_errf(ei, RF_ERR_VERSION,
		    "ONNX IR version %lld is not supported (%d to %d are)",
		    (long long)m->ir_version, ONNX_MIN_IR, ONNX_MAX_IR);
	}
	bool found = false;
	for (size_t i = 0; i < m->n_opset_import; i++) {
		const Onnx__OperatorSetIdProto *op = m->opset_import[i];
		const char *d = str_or_empty(op->domain);
		if (strcmp(d, "") != 0 && strcmp(d, "ai.onnx") != 0) {
			/* A node from that domain is refused later. */
			continue;
		}
		if (found || !op->has_version) {
			return rf_errf(ei, RF_ERR_FORMAT,
			    "the default ONNX opset is %s",
			    found ? "imported twice"
			          : "imported without a version");
		}
		found = true;
		*opset = op->version;
	}
	if (!found) {
		return rf_errf(ei, RF_ERR_FORMAT,
		    "the model imports no default-domain ONNX opset");
	}
	if (*opset < ONNX_MIN_OPSET || *opset > ONNX_MAX_OPSET) {
		return rf_errf(ei, RF_ERR_VERSION,
		    "ONNX opset %lld is not supported (%d to %d are)",
		    (long long)*opset, ONNX_MIN_OPSET, ONNX_MAX_OPSET);
	}
	return RF_OK;
}

/* The value of a symbolic dimension from the options, or -1. */
static int
dim_param(struct importer *im, const char *in, const char *param,
    int64_t *v)
{
	*v = -1;
	for (size_t i = 0; im->o != NULL && i < im->o->n_dims; i++) {
		if (strcmp(im->o->dims[i].name, param) == 0) {
			*v = im->o->dims[i].value;
		}
	}
	if (*v < -1 || *v > TENSOR_MAX_DIM) {
		return rf_errf(im->ei, RF_ERR_RANGE,
		    "input '%s': dimension '%s' = %lld is out of range", in,
		    param, (long long)*v);
	}
	return RF_OK;
}

/* A graph input the job supplies: tensor type and a shape of known rank,
 * dims fixed, symbolic (-1 unless the options give a value) or unset. */
static int
input_value(struct importer *im, const Onnx__ValueInfoProto *vi,
    struct onnx_value *v)
{
	const char *name = v->name;
	const Onnx__TypeProto *tp = vi->type;
	if (tp == NULL ||
	    tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
	    tp->tensor_type == NULL) {
		return rf_errf(im->ei, RF_ERR_NOTSUP,
		    "graph input '%s' is not a tensor", name);
	}
	const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
	bool is_bool;
	if (!tt->has_elem_type ||
	    !dtype_of(tt->elem_type, &v->dtype, &is_bool) || is_bool) {
		return rf_errf(im->ei, RF_ERR_NOTSUP,
		    "graph input '%s' has type %s; inputs may be FLOAT, INT8, "
		    "INT32 or INT64", name,
		    onnx_type_name(tt->has_elem_type ? tt->elem_type : 0));
	}
	if (tt->shape == NULL) {
		return rf_errf(im->ei, RF_ERR_NOTSUP,
		    "graph input '%s' has no shape (at least its rank is "
		    "needed)", name);
	}
	if (tt->shape->n_dim > TENSOR_MAX_RANK) {
		return rf_errf(im->ei, RF_ERR_RANGE,
		    "graph input '%s' has rank %zu, over %d", name,
		    tt->shape->n_dim, TENSOR_MAX_RANK);
	}
	v->rank = (int)tt->shape->n_dim;
	for (int d = 0; d < v->rank; d++) {
		const Onnx__TensorShapeProto__Dimension *dim =
		    tt->shape->dim[d];
		v->dims[d] = -1;
		if (dim->value_case == DIM_VALUE) {
			if (dim->dim_value < 0) {
				return rf_errf(im->ei, RF_ERR_FORMAT,
				    "graph input '%s': dimension %d is "
				    "negative (%lld)",
				    name, d, (long long)dim->dim_value);
			}
			if (dim->dim_value > TENSOR_MAX_DIM) {
				return rf_errf(im->ei, RF_ERR_RANGE,
				    "graph input '%s': dimension %d is %lld, "
				    "over %lld",
				    name, d, (long long)dim->dim_value,
				    (long long)TENSOR_MAX_DIM);
			}
			v->dims[d] = dim->dim_value;
		} else if (dim->value_case == DIM_PARAM &&
		    dim->dim_param != NULL) {
			int err =
			    dim_param(im, name, dim->dim_param, &v->dims[d]);
			if (err != RF_OK) {
				return err;
			}
			if (v->dims[d] < 0) {
				v->dim_names[d] = dim->dim_param;
			}
		}
	}
	return RF_OK;
}

/* Every --dim the caller gave must name a symbolic dimension, so a typo
 * does not silently leave a dimension dynamic. */
static int
check_dim_options(struct importer *im, const Onnx__GraphProto *gp)
{
	for (size_t k = 0; im->o != NULL && k < im->o->n_dims; k++) {
		bool used = false;
		for (size_t i = 0; i < gp->n_input && !used; i++) {
			const Onnx__TypeProto *tp = gp->input[i]->type;
			if (tp == NULL ||
			    tp->value_case !=
			        ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
			    tp->tensor_type == NULL ||
			    tp->tensor_type->shape == NULL) {
				continue;
			}
			const Onnx__TensorShapeProto *sp =
			    tp->tensor_type->shape;
			for (size_t d = 0; d < sp->n_dim && !used; d++) {
				const Onnx__TensorShapeProto__Dimension *dim =
				    sp->dim[d];
				const char *want = im->o->dims[k].name;
				used = dim->value_case == DIM_PARAM &&
				    dim->dim_param != NULL &&
				    strcmp(dim->dim_param, want) == 0;
			}
		}
		if (!used) {
			return rf_errf(im->ei, RF_ERR_INVAL,
			    "no graph input has a dimension named '%s'",
			    im->o->dims[k].name);
		}
	}
	return RF_OK;
}

/* Registers value id under its name; a name defined twice is an error. */
static int
define(struct importer *im, int id, const char *what)
{
	struct onnx_value *v = &im->g.values[id];
	int err = check_name(what, v->name, im->ei);
	if (err != RF_OK) {
		return err;
	}
	if (!names_add(&im->g.names, v->name, id)) {
		return rf_errf(im->ei, RF_ERR_FORMAT,
		    "value '%s' is defined twice (%s)", v->name, what);
	}
	return RF_OK;
}

/* "node 'name' (Op)" or, for an unnamed node, "node #12 (Op)". */
static void
node_label(const char *name, const char *op, size_t index, char *buf,
    size_t len)
{
	if (name[0] != '\0') {
		snprintf(buf, len, "node '%.120s' (%.40s)", name, op);
	} else {
		snprintf(buf, len, "node #%zu (%.40s)", index, op);
	}
}

static int
convert_attr(struct importer *im, const Onnx__AttributeProto *ap,
    const char *label, struct onnx_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->name = str_or_empty(ap->name);
	if (a->name[0] == '\0') {
		return rf_errf(im->ei, RF_ERR_FORMAT,
		    "%s has an attribute without a name", label);
	}
	if (ap->ref_attr_name != NULL && ap->ref_attr_name[0] != '\0') {
		return rf_errf(im->ei, RF_ERR_NOTSUP,
		    "%s: attribute '%.40s' refers to a function attribute",
		    label, a->name);
	}
	if (!ap->has_type) {
		return rf_errf(im->ei, RF_ERR_FORMAT,
		    "%s: attribute '%.40s' has no type", label, a->name);
	}
	a->type = (int)ap->type;
	switch (a->type) {
	case ONNX_AT_FLOAT:
		a->f = ap->f;
		break;
	case ONNX_AT_INT:
		a->i = ap->i;
		break;
	case ONNX_AT_STRING:
		a->s = (const char *)ap->s.data;
		a->s_len = ap->s.len;
		break;
	case ONNX_AT_FLOATS:
		a->floats = ap->floats;
		a->n = ap->n_floats;
		break;
	case ONNX_AT_INTS:
		a->ints = ap->ints;
		a->n = ap->n_ints;
		break;
	case ONNX_AT_TENSOR: {
		if (ap->t == NULL) {
			return rf_errf(im->ei, RF_ERR_FORMAT,
			    "%s: attribute '%.40s' holds no tensor", label,
			    a->name);
		}
		char what[256];
		snprintf(what, sizeof(what), "%.200s: attribute '%.40s'",
		    label, a->name);
		int err = tensor_from_proto(ap->t, &im->alloc, what, &a->t,
		    im->ei);
		if (err != RF_OK) {
			return err;
		}
		a->has_t = true;
		break;
	}
	default:
		/* Graphs, string lists, sparse tensors: no operator we map
		 * takes them, so the mapper refuses them by name. */
		break;
	}
	return RF_OK;
}

/* Resolves one node input name to a value id defined before node k. */
static int
node_input(struct importer *im, size_t k, const char *label,
    const char *name, int *id)
{
	if (name == NULL || name[0] == '\0') {
		*id = -1; /* an absent optional input */
		return RF_OK;
	}
	int v = engine_onnx_names_find(&im->g.names, name);
	if (v < 0) {
		return rf_errf(im->ei, RF_ERR_FORMAT,
		    "%s: input '%.60s' is not defined: no graph input, "
		    "initializer or node output has that name", label, name);
	}
	const struct onnx_value *val = &im->g.values[v];
	if (val->kind == ONNX_VALUE_NODE && (size_t)val->node >= k) {
		char other[200];
		const struct onnx_node *p = &im->g.nodes[val->node];
		node_label(
		    p->name, p->op_type, p->index, other, sizeof(other));
		return rf_errf(im->ei, RF_ERR_FORMAT,
		    "%s: input '%.60s' comes from %s, which is not before it: "
		    "the graph has a cycle or is not topologically sorted",
		    label, name, other);
	}
	*id = v;
	return RF_OK;
}

/* Node headers (name, type, domain, counts) and output definitions. */
static int
build_nodes(struct importer *im, const Onnx__GraphProto *gp, size_t *n_ids)
{
	struct onnx_graph *g = &im->g;
	size_t ids = 0;
	for (size_t k = 0; k < gp->n_node; k++) {
		const Onnx__NodeProto *np = gp->node[k];
		struct onnx_node *n = &g->nodes[k];
		char label[200];
		n->name = str_or_empty(np->name);
		n->op_type = str_or_empty(np->op_type);
		n->index = k;
		node_label(n->name, n->op_type, k, label, sizeof(label));
		if (n->op_type[0] == '\0') {
			return rf_errf(im->ei, RF_ERR_FORMAT,
			    "%s has no operator type",
			    label);
		}
		if (strlen(n->name) > ENGINE_NAME_MAX) {
			return rf_errf(im->ei, RF_ERR_RANGE,
			    "node #%zu has a name of %zu bytes, over %d", k,
			    strlen(n->name), ENGINE_NAME_MAX);
		}
		const char *dom = str_or_empty(np->domain);
		if (strcmp(dom, "") != 0 && strcmp(dom, "ai.onnx") != 0) {
			return rf_errf(im->ei, RF_ERR_NOTSUP,
			    "%s: operator '%.40s' of domain '%.40s' is not "
			    "supported", label, n->op_type, dom);
		}
		if (np->n_input > ENGINE_MAX_OP_INPUTS ||
		    np->n_output > ENGINE_MAX_OP_INPUTS ||
		    np->n_attribute > ENGINE_MAX_OP_ATTRS) {
			return rf_errf(im->ei, RF_ERR_RANGE,
			    "%s has %zu inputs, %zu outputs and %zu "
			    "attributes (limits %d, %d, %d)",
			    label, np->n_input, np->n_output, np->n_attribute,
			    ENGINE_MAX_OP_INPUTS, ENGINE_MAX_OP_INPUTS,
			    ENGINE_MAX_OP_ATTRS);
		}
		ids += np->n_input + np->n_output;
	}
	*n_ids = ids;
	return RF_OK;
}

static int
build_graph(struct importer *im)
{
	const Onnx__GraphProto *gp = im->model->graph;
	struct onnx_graph *g = &im->g;
	struct rf_errinfo *ei = im->ei;
	if (gp == NULL) {
		return rf_errf(
		    ei, RF_ERR_FORMAT, "the ONNX model has no graph");
	}
	if (gp->n_sparse_initializer > 0) {
		return rf_errf(ei, RF_ERR_NOTSUP,
		    "sparse initializers are not supported");
	}
	if (gp->n_node > ENGINE_MAX_OPS || gp->n_input > ENGINE_MAX_VALUES ||
	    gp->n_initializer > ENGINE_MAX_VALUES) {
		return rf_errf(ei, RF_ERR_RANGE,
		    "the graph has %zu nodes, %zu inputs and %zu initializers "
		    "(limits %u, %u, %u)", gp->n_node, gp->n_input,
		    gp->n_initializer, ENGINE_MAX_OPS, ENGINE_MAX_VALUES,
		    ENGINE_MAX_VALUES);
	}
	if (gp->n_output == 0 || gp->n_output > ENGINE_MAX_GRAPH_IO) {
		return rf_errf(ei,
		    gp->n_output == 0 ? RF_ERR_FORMAT : RF_ERR_RANGE,
		    "the graph has %zu outputs (1 to %d are supported)",
		    gp->n_output, ENGINE_MAX_GRAPH_IO);
	}
	int err = check_dim_options(im, gp);
	if (err != RF_OK) {
		return err;
	}
	g->name = str_or_empty(gp->name);
	g->nodes = calloc(gp->n_node ? gp->n_node : 1, sizeof(*g->nodes));
	if (g->nodes == NULL) {
		return RF_ERR_NOMEM;
	}
	g->n_nodes = gp->n_node;
	size_t n_ids = 0;
	err = build_nodes(im, gp, &n_ids);
	if (err != RF_OK) {
		return err;
	}
	/* Every value: inputs, initializers, node outputs. Counts are
	 * bounded above, so the sum cannot overflow. */
	size_t max_values = gp->n_input + gp->n_initializer + n_ids;
	if (max_values > ENGINE_MAX_VALUES) {
		return rf_errf(ei, RF_ERR_RANGE,
		    "the graph defines more than %u values",
		    ENGINE_MAX_VALUES);
	}
	g->values = calloc(max_values ? max_values : 1, sizeof(*g->values));
	im->ids = malloc((n_ids ? n_ids : 1) * sizeof(int));
	g->inputs = malloc((gp->n_input ? gp->n_input : 1) * sizeof(int));
	g->outputs = malloc(gp->n_output * sizeof(int));
	if (g->values == NULL || im->ids == NULL || g->inputs == NULL ||
	    g->outputs == NULL || names_init(&g->names, max_values) != RF_OK) {
		return RF_ERR_NOMEM;
	}

	/* Initializers first: a graph input that has one is a weight (the
	 * IR 3 convention), not something the job supplies. */
	for (size_t i = 0; i < gp->n_initializer; i++) {
		Onnx__TensorProto *tp = gp->initializer[i];
		int id = (int)g->n_values++;
		struct onnx_value *v = &g->values[id];
		v->name = str_or_empty(tp->name);
		v->kind = ONNX_VALUE_INIT;
		err = define(im, id, "initializer");
		if (err != RF_OK) {
			return err;
		}
		char what[300];
		snprintf(what, sizeof(what), "initializer '%.200s'", v->name);
		err = tensor_from_proto(tp, &im->alloc, what, &v->init, ei);
		if (err != RF_OK) {
			return err;
		}
	}
	for (size_t i = 0; i < gp->n_input; i++) {
		const Onnx__ValueInfoProto *vi = gp->input[i];
		const char *name = str_or_empty(vi->name);
		int known =
		    name[0] != '\0' ? engine_onnx_names_find(&g->names, name) : -1;
		if (known >= 0 && g->values[known].kind == ONNX_VALUE_INIT) {
			continue;
		}
		if (g->n_inputs >= ENGINE_MAX_GRAPH_IO) {
			return rf_errf(ei, RF_ERR_RANGE,
			    "more than %d graph inputs", ENGINE_MAX_GRAPH_IO);
		}
		int id = (int)g->n_values++;
		struct onnx_value *v = &g->values[id];
		v->name = name;
		v->kind = ONNX_VALUE_INPUT;
		err = define(im, id, "graph input");
		if (err == RF_OK) {
			err = input_value(im, vi, v);
		}
		if (err != RF_OK) {
			return err;
		}
		g->inputs[g->n_inputs++] = id;
	}
	/* Node outputs, all defined before any input is resolved, so a use
	 * before the definition can be told from an undefined name. */
	size_t at = 0;
	for (size_t k = 0; k < gp->n_node; k++) {
		const Onnx__NodeProto *np = gp->node[k];
		struct onnx_node *n = &g->nodes[k];
		char label[200];
		node_label(n->name, n->op_type, k, label, sizeof(label));
		int *in = im->ids + at;
		int *out = in + np->n_input;
		at += np->n_input + np->n_output;
		n->in = in;
		n->n_in = np->n_input;
		n->out = out;
		n->n_out = np->n_output;
		for (size_t i = 0; i < np->n_output; i++) {
			const char *name = str_or_empty(np->output[i]);
			out[i] = -1;
			if (name[0] == '\0') {
				continue;
			}
			int id = (int)g->n_values++;
			struct onnx_value *v = &g->values[id];
			v->name = name;
			v->kind = ONNX_VALUE_NODE;
			v->node = (int)k;
			err = define(im, id, label);
			if (err != RF_OK) {
				return err;
			}
			out[i] = id;
		}
	}
	for (size_t k = 0; k < gp->n_node; k++) {
		const Onnx__NodeProto *np = gp->node[k];
		struct onnx_node *n = &g->nodes[k];
		char label[200];
		node_label(n->name, n->op_type, k, label, sizeof(label));
		int *in = (int *)n->in;
		for (size_t i = 0; i < np->n_input; i++) {
			err = node_input(im, k, label, np->input[i], &in[i]);
			if (err != RF_OK) {
				return err;
			}
		}
		n->attrs = calloc(np->n_attribute ? np->n_attribute : 1,
		    sizeof(*n->attrs));
		if (n->attrs == NULL) {
			return RF_ERR_NOMEM;
		}
		for (size_t i = 0; i < np->n_attribute; i++) {
			err = convert_attr(im, np->attribute[i], label,
			    &n->attrs[i]);
			n->n_attrs = i + (err == RF_OK ? 1 : 0);
			if (err != RF_OK) {
				return err;
			}
			for (size_t j = 0; j < i; j++) {
				if (strcmp(n->attrs[j].name,
				        n->attrs[i].name) == 0) {
					return rf_errf(ei, RF_ERR_FORMAT,
					    "%s: attribute '%.40s' is given "
					    "twice",
					    label, n->attrs[i].name);
				}
			}
		}
	}
	for (size_t i = 0; i < gp->n_output; i++) {
		const char *name = str_or_empty(gp->output[i]->name);
		int id =
		    name[0] != '\0' ? engine_onnx_names_find(&g->names, name) : -1;
		if (id < 0) {
			return rf_errf(ei, RF_ERR_FORMAT,
			    "graph output '%.60s' is not defined", name);
		}
		g->outputs[g->n_outputs++] = id;
	}
	return RF_OK;
}

static void
importer_fini(struct importer *im)
{
	struct onnx_graph *g = &im->g;
	for (size_t i = 0; g->values != NULL && i < g->n_values; i++) {
		engine_tensor_fini(&g->values[i].init.t);
	}
	for (size_t k = 0; g->nodes != NULL && k < g->n_nodes; k++) {
		struct onnx_node *n = &g->nodes[k];
		for (size_t i = 0; n->attrs != NULL && i < n->n_attrs; i++) {
			engine_tensor_fini(&n->attrs[i].t.t);
		}
		free(n->attrs);
	}
	free(g->values);
	free(g->nodes);
	free(g->inputs);
	free(g->outputs);
	free(im->ids);
	names_fini(&g->names);
	if (im->model != NULL) {
		onnx__model_proto__free_unpacked(im->model, &im->alloc);
	}
}

void
engine_onnx_opts_init(struct engine_onnx_opts *o)
{
	memset(o, 0, sizeof(*o));
}

int
engine_model_import_onnx(const uint8_t *buf, size_t len,
    const struct engine_onnx_opts *o, struct engine_model **out,
    struct rf_errinfo *ei)
{
	if (len > ENGINE_ONNX_MAX_BYTES) {
		return rf_errf(ei, RF_ERR_RANGE,
		    "the ONNX file is %zu bytes, over the %zu-byte limit", len,
		    ENGINE_ONNX_MAX_BYTES);
	}
	if (buf == NULL && len > 0) {
		return rf_errf(ei, RF_ERR_INVAL, "no buffer");
	}
	static const uint8_t empty[1] = { 0 };
	if (buf == NULL) {
		buf = empty;
	}
	int err = nesting_check(buf, len, ei);
	if (err != RF_OK) {
		return err;
	}
	struct importer im;
	memset(&im, 0, sizeof(im));
	im.o = o;
	im.ei = ei;
	im.budget.limit = ONNX_DECODE_BASE + 2 * len;
	im.alloc.alloc = budget_alloc;
	im.alloc.free = budget_free;
	im.alloc.allocator_data = &im.budget;
	im.model = onnx__model_proto__unpack(&im.alloc, len, buf);
	if (im.model == NULL) {
		if (im.budget.nomem) {
			return rf_errf(ei, RF_ERR_NOMEM,
			    "out of memory decoding the ONNX model");
		}
		if (im.budget.over) {
			return rf_errf(ei, RF_ERR_RANGE,
			    "decoding the ONNX model needs more than %zu MiB",
			    im.budget.limit >> 20);
		}
		return rf_errf(ei, RF_ERR_FORMAT,
		    "not a valid ONNX model: protobuf decoding failed");
	}
	err = check_versions(im.model, &im.g.opset, ei);
	if (err == RF_OK) {
		err = build_graph(&im);
	}
	if (err == RF_OK) {
		struct engine_model *m = NULL;
		err = engine_onnx_map_graph(&im.g, o, &m, ei);
		/* The decoder would refuse a model that cannot run: so
		 * does the importer. */
		if (err == RF_OK) {
			err = engine_model_check(m, NULL, ei);
		}
		if (err == RF_OK) {
			*out = m;
		} else {
			engine_model_free(m);
		}
	}
	if (err == RF_ERR_NOMEM && ei != NULL && ei->msg[0] == '\0') {
		rf_errf(ei, err, "out of memory");
	}
	importer_fini(&im);
	return err;
}
