/*
 * engine/model_file.c - the native model file (.rfm), format version 2
 * (written) and 1 (still read).
 *
 * All integers little-endian. A string is u16 length + bytes (no NUL).
 *
 *   offset  size  field
 *   0       8     magic "RFMODEL\0"
 *   8       4     u32 format version = 2 (or 1)
 *   12      4     u32 flags = 0 (reserved; anything else is rejected)
 *   16      8     u64 G: length of the graph section
 *   24      8     u64 D: length of the data section
 *   32      G     graph section
 *   S       D     data section, S = 32+G rounded up to a multiple of 64
 *                 (version 1: S = 32+G); the file ends exactly here
 *
 * Graph section (the canonical graph description that model_id hashes):
 *   str   model name (0..255 bytes)
 *   u32   R: number of records, then R records, each starting with u8 kind
 *     1 input   str name, u8 dtype, u8 rank, i64 dims[rank] (-1 = any)
 *     2 weight  str name, u8 dtype, u8 rank, i64 dims[rank] (>= 0)
 *     3 op      str op type ("Conv"), str name,
 *               u8 n_in, i32 value[n_in] (-1 = absent optional input),
 *               u8 n_out, str output name[n_out],
 *               u8 n_attr, attr[n_attr] in strictly ascending name order:
 *                 str name, u8 type, u32 count, then count values:
 *                 int/ints i64, float/floats u32 (IEEE bits), string bytes
 *   u8    n_outputs, u32 value[n_outputs]
 *
 * Values are numbered in record order: an input or weight record makes
 * one value, an op record makes n_out. A reference to a value that does
 * not exist yet is an error, so a file cannot describe a cycle.
 *
 * Data section: each weight's elements in record order, little-endian,
 * row-major, count * element size bytes. Version 2 starts each weight at
 * a multiple of 64 bytes from the start of the file, zero bytes filling
 * the gaps (and the gap before the data section), so a mapped file's
 * weights are aligned like the engine's own tensors and are used in
 * place (engine_model_load). Version 1 has no gaps; its weights are
 * copied. Padding that is not zero is an error, which keeps the file
 * canonical.
 *
 * Decoding replays the records through the same builders that checked
 * them when the model was made, so a file can only produce a model the
 * API could have built; encoding walks the values in order, so decode
 * then encode reproduces the file byte for byte.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/bytes.h"
#include "engine/model_int.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tensor data is stored little-endian; add byte swapping for this host"
#endif

#define RFM_MAGIC "RFMODEL"
#define RFM_VERSION 2        /* written */
#define RFM_VERSION_OLDEST 1 /* still read, weights copied */
#define RFM_ALIGN 64
#define RFM_HEADER 32
#define RFM_MAX_RECORDS (ENGINE_MAX_VALUES + ENGINE_MAX_OPS)
#define RFM_MAX_FILE ((size_t)1 << 40)

enum rfm_record {
	RFM_INPUT = 1,
	RFM_WEIGHT = 2,
	RFM_OP = 3,
};

/* ------------------------------------------------------------------ */
/* Encoding                                                             */
/* ------------------------------------------------------------------ */

static void
put_str(struct rf_writer *w, const char *s)
{
	size_t n = strlen(s);
	rf_write_u16(w, (uint16_t)n);
	rf_write_bytes(w, s, n);
}

static void
put_shape(struct rf_writer *w, const struct model_value *v)
{
	rf_write_u8(w, (uint8_t)v->dtype);
	rf_write_u8(w, (uint8_t)v->rank);
	for (int d = 0; d < v->rank; d++) {
		rf_write_u64(w, (uint64_t)v->dims[d]);
	}
}

static void
put_attr(struct rf_writer *w, const struct engine_attr *a)
{
	put_str(w, a->name);
	rf_write_u8(w, (uint8_t)a->type);
	rf_write_u32(w, a->count);
	for (uint32_t i = 0; i < a->count; i++) {
		switch (a->type) {
		case ENGINE_ATTR_INT:
		case ENGINE_ATTR_INTS:
			rf_write_u64(w, (uint64_t)a->v.ints[i]);
			break;
		case ENGINE_ATTR_FLOAT:
		case ENGINE_ATTR_FLOATS: {
			uint32_t bits;
			memcpy(&bits, &a->v.floats[i], 4);
			rf_write_u32(w, bits);
			break;
		}
		case ENGINE_ATTR_STRING:
			rf_write_u8(w, (uint8_t)a->v.str[i]);
			break;
		}
	}
}

static void
put_op(struct rf_writer *w, const struct engine_model *m,
    const struct model_op *o)
{
	put_str(w, engine_op_name(o->op));
	put_str(w, o->name);
	rf_write_u8(w, (uint8_t)o->n_inputs);
	for (size_t i = 0; i < o->n_inputs; i++) {
		rf_write_u32(w, (uint32_t)o->inputs[i]);
	}
	rf_write_u8(w, (uint8_t)o->n_outputs);
	for (size_t i = 0; i < o->n_outputs; i++) {
		put_str(w, m->values[o->outputs[i]].name);
	}
	rf_write_u8(w, (uint8_t)o->n_attrs);
	for (size_t i = 0; i < o->n_attrs; i++) {
		put_attr(w, &o->attrs[i]);
	}
}

static void
put_graph(struct rf_writer *w, const struct engine_model *m)
{
	put_str(w, m->name);
	/* One record per input and weight, one per op. */
	uint32_t records = 0;
	for (size_t v = 0; v < m->n_values; v++) {
		if (m->values[v].kind != ENGINE_VALUE_OP) {
			records++;
		}
	}
	records += (uint32_t)m->n_ops;
	rf_write_u32(w, records);
	for (size_t v = 0; v < m->n_values; v++) {
		const struct model_value *mv = &m->values[v];
		switch (mv->kind) {
		case ENGINE_VALUE_INPUT:
			rf_write_u8(w, RFM_INPUT);
			put_str(w, mv->name);
			put_shape(w, mv);
			break;
		case ENGINE_VALUE_WEIGHT:
			rf_write_u8(w, RFM_WEIGHT);
			put_str(w, mv->name);
			put_shape(w, mv);
			break;
		case ENGINE_VALUE_OP: {
			const struct model_op *o = &m->ops[mv->producer];
			/* An op's outputs are consecutive values: emit the
			 * op at its first. */
			if (o->outputs[0] == (int)v) {
				rf_write_u8(w, RFM_OP);
				put_op(w, m, o);
			}
			break;
		}
		}
	}
	rf_write_u8(w, (uint8_t)m->n_outputs);
	for (size_t i = 0; i < m->n_outputs; i++) {
		rf_write_u32(w, (uint32_t)m->outputs[i]);
	}
}

int
engine_model_encode_graph(const struct engine_model *m, uint8_t **buf,
    size_t *len)
{
	struct rf_writer w;
	rf_writer_init(&w, RFM_MAX_FILE);
	put_graph(&w, m);
	return rf_writer_finish(&w, buf, len);
}

/* Zero bytes up to the next multiple of RFM_ALIGN of the file offset. */
static void
pad_to_align(struct rf_writer *w)
{
	while (w->err == RF_OK && w->len % RFM_ALIGN != 0) {
		rf_write_u8(w, 0);
	}
}

int
engine_model_encode(const struct engine_model *m, uint8_t **buf,
    size_t *len)
{
	if (m->graph_only) {
		return RF_ERR_INVAL;
	}
	struct rf_writer w;
	rf_writer_init(&w, RFM_MAX_FILE);
	rf_write_bytes(&w, RFM_MAGIC, 8); /* includes the NUL */
	rf_write_u32(&w, RFM_VERSION);
	rf_write_u32(&w, 0);
	rf_write_u64(&w, 0); /* G, patched below */
	rf_write_u64(&w, 0); /* D */
	put_graph(&w, m);
	size_t graph_len = w.len - RFM_HEADER;
	pad_to_align(&w);
	size_t data_start = w.len;
	for (size_t v = 0; v < m->n_values; v++) {
		const struct model_value *mv = &m->values[v];
		if (mv->kind == ENGINE_VALUE_WEIGHT) {
			pad_to_align(&w);
			rf_write_bytes(&w, mv->weight.data,
			    engine_tensor_nbytes(&mv->weight));
		}
	}
	rf_write_u64_at(&w, 16, graph_len);
	rf_write_u64_at(&w, 24, w.len - data_start);
	return rf_writer_finish(&w, buf, len);
}

/* ------------------------------------------------------------------ */
/* Decoding                                                             */
/* ------------------------------------------------------------------ */

struct rfm_decoder {
	struct rf_reader g; /* graph section */
	struct rf_reader d; /* data section */
	bool graph_only;    /* no data section: weights by shape only */
	uint32_t version;
	const uint8_t *file; /* the whole file: weights align to its start */
	bool borrow;         /* weights may point into the file (mapped) */
	struct engine_model *m;
	struct rf_errinfo *ei;
	uint32_t record;
};

#define RFM_TRUNC(dec, what)                                               \
	rf_errf((dec)->ei, RF_ERR_TRUNCATED,                               \
	    "record %u: graph section ends inside %s", (dec)->record, (what))

/* Reads a string of 1..max bytes (0..max if may_be_empty) into out. */
static int
get_str(struct rfm_decoder *dec, char *out, size_t max, bool may_be_empty,
    const char *what)
{
	uint16_t n = rf_read_u16(&dec->g);
	const uint8_t *p = rf_read_bytes(&dec->g, n);
	if (dec->g.err != RF_OK) {
		return RFM_TRUNC(dec, what);
	}
	if ((n == 0 && !may_be_empty) || n > max) {
		return rf_errf(dec->ei, RF_ERR_FORMAT,
		    "record %u: %s has length %u, allowed %d..%zu",
		    dec->record, what, n, may_be_empty ? 0 : 1, max);
	}
	if (memchr(p, '\0', n) != NULL) {
		return rf_errf(dec->ei, RF_ERR_FORMAT,
		    "record %u: %s contains a NUL byte", dec->record, what);
	}
	memcpy(out, p, n);
	out[n] = '\0';
	return RF_OK;
}

static int
get_shape(struct rfm_decoder *dec, bool allow_any, enum tensor_dtype *dtype,
    int *rank, int64_t *dims)
{
	uint8_t dt = rf_read_u8(&dec->g);
	uint8_t r = rf_read_u8(&dec->g);
	if (dec->g.err != RF_OK) {
		return RFM_TRUNC(dec, "a shape");
	}
	if (!engine_tensor_dtype_valid(dt)) {
		return rf_errf(dec->ei, RF_ERR_FORMAT,
		    "record %u: unknown dtype %u", dec->record, dt);
	}
	if (r > TENSOR_MAX_RANK) {
		return rf_errf(dec->ei, RF_ERR_FORMAT,
		    "record %u: rank %u is over the limit %d", dec->record, r,
		    TENSOR_MAX_RANK);
	}
	for (int i = 0; i < r; i++) {
		dims[i] = rf_read_i64(&dec->g);
		if (dec->g.err != RF_OK) {
			return RFM_TRUNC(dec, "a shape");
		}
		if (dims[i] < (allow_any ? -1 : 0) || dims[i] > TENSOR_MAX_DIM) {
			return rf_errf(dec->ei, RF_ERR_FORMAT,
			    "record %u: dimension %d is %lld", dec->record, i,
			    (long long)dims[i]);
		}
	}
	*dtype = (enum tensor_dtype)dt;
	*rank = r;
	return RF_OK;
}

static int
decode_input(struct rfm_decoder *dec)
{
	char name[ENGINE_NAME_MAX + 1];
	enum tensor_dtype dt;
	int rank, idx;
	int64_t dims[TENSOR_MAX_RANK];
	int err = get_str(dec, name, ENGINE_NAME_MAX, false, "an input name");
	if (err == RF_OK) {
		err = get_shape(dec, true, &dt, &rank, dims);
	}
	if (err == RF_OK) {
		err = engine_model_add_input(dec->m, name, dt, rank, dims, &idx,
		    dec->ei);
	}
	return err;
}

static int
decode_weight(struct rfm_decoder *dec)
{
	char name[ENGINE_NAME_MAX + 1];
	enum tensor_dtype dt;
	int rank, idx;
	int64_t dims[TENSOR_MAX_RANK];
	size_t count;
	int err = get_str(dec, name, ENGINE_NAME_MAX, false, "a weight name");
	if (err == RF_OK) {
		err = get_shape(dec, false, &dt, &rank, dims);
	}
	if (err == RF_OK) {
		err = engine_tensor_shape_check(rank, dims, &count, dec->ei);
		if (err != RF_OK) {
			return rf_errctx(dec->ei, RF_ERR_FORMAT,
			    "record %u (weight '%s'): ", dec->record, name);
		}
	}
	if (err != RF_OK) {
		return err;
	}
	if (dec->graph_only) {
		return engine_model_add_weight_shape(dec->m, name, dt, rank, dims, &idx,
		    dec->ei);
	}
	if (dec->version >= 2) {
		/* Zero padding up to the weight's aligned start. */
		size_t off = (size_t)(dec->d.p - dec->file);
		size_t pad = (RFM_ALIGN - off % RFM_ALIGN) % RFM_ALIGN;
		const uint8_t *zp = rf_read_bytes(&dec->d, pad);
		if (zp == NULL) {
			return rf_errf(dec->ei, RF_ERR_TRUNCATED,
			    "record %u (weight '%s'): data section ends before "
			    "its bytes", dec->record, name);
		}
		for (size_t i = 0; i < pad; i++) {
			if (zp[i] != 0) {
				return rf_errf(dec->ei, RF_ERR_FORMAT,
				    "record %u (weight '%s'): padding before "
				    "its bytes is not zero", dec->record, name);
			}
		}
	}
	/* Check the bytes are there before allocating for them. */
	size_t bytes = count * engine_tensor_dtype_size(dt);
	const uint8_t *src = rf_read_bytes(&dec->d, bytes);
	if (src == NULL) {
		return rf_errf(dec->ei, RF_ERR_TRUNCATED,
		    "record %u (weight '%s'): data section ends before its "
		    "%zu bytes", dec->record, name, bytes);
	}
	if (dec->borrow && (uintptr_t)src % RFM_ALIGN == 0) {
		/* In place: a view into the mapping the model keeps. */
		struct tensor v = { dt, rank, { 0 }, count, (void *)src, false };
		memcpy(v.dims, dims, (size_t)rank * sizeof(dims[0]));
		return engine_model_add_weight_view(dec->m, name, &v, &idx,
		    dec->ei);
	}
	struct tensor t;
	err = engine_tensor_init(&t, dt, rank, dims);
	if (err != RF_OK) {
		return rf_errf(dec->ei, err, "record %u (weight '%s'): %s",
		    dec->record, name, rf_strerror(err));
	}
	memcpy(t.data, src, bytes);
	err = engine_model_add_weight(dec->m, name, &t, &idx, dec->ei);
	if (err != RF_OK) {
		engine_tensor_fini(&t);
	}
	return err;
}

static int
decode_attr(struct rfm_decoder *dec, struct engine_attr *a)
{
	memset(a, 0, sizeof(*a));
	int err = get_str(dec, a->name, ENGINE_ATTR_NAME_MAX, false,
	    "an attribute name");
	if (err != RF_OK) {
		return err;
	}
	uint8_t type = rf_read_u8(&dec->g);
	uint32_t count = rf_read_u32(&dec->g);
	if (dec->g.err != RF_OK) {
		return RFM_TRUNC(dec, "an attribute");
	}
	if (type < ENGINE_ATTR_INT || type > ENGINE_ATTR_STRING) {
		return rf_errf(dec->ei, RF_ERR_FORMAT,
		    "record %u: attribute '%s' has unknown type %u",
		    dec->record, a->name, type);
	}
	bool one = type == ENGINE_ATTR_INT || type == ENGINE_ATTR_FLOAT;
	if ((one && count != 1) || count > ENGINE_ATTR_MAX_VALUES) {
		return rf_errf(dec->ei, RF_ERR_FORMAT,
		    "record %u: attribute '%s' has %u values", dec->record,
		    a->name, count);
	}
	a->type = (enum engine_attr_type)type;
	a->count = count;
	for (uint32_t i = 0; i < count; i++) {
		switch (a->type) {
		case ENGINE_ATTR_INT:
		case ENGINE_ATTR_INTS:
			a->v.ints[i] = rf_read_i64(&dec->g);
			break;
		case ENGINE_ATTR_FLOAT:
		case ENGINE_ATTR_FLOATS: {
			uint32_t bits = rf_read_u32(&dec->g);
			memcpy(&a->v.floats[i], &bits, 4);
			break;
		}
		case ENGINE_ATTR_STRING:
			a->v.str[i] = (char)rf_read_u8(&dec->g);
			break;
		}
	}
	if (dec->g.err != RF_OK) {
		return RFM_TRUNC(dec, "attribute values");
	}
	return RF_OK;
}

static int
decode_op(struct rfm_decoder *dec)
{
	char type[ENGINE_NAME_MAX + 1];
	char name[ENGINE_NAME_MAX + 1];
	int inputs[ENGINE_MAX_OP_INPUTS];
	char out_store[ENGINE_MAX_OP_OUTPUTS][ENGINE_NAME_MAX + 1];
	const char *outs[ENGINE_MAX_OP_OUTPUTS];
	struct engine_attr *attrs = NULL;
	enum engine_op op;
	int err = get_str(dec, type, ENGINE_NAME_MAX, false, "an op type");
	if (err != RF_OK) {
		return err;
	}
	if (engine_op_lookup(type, &op) != RF_OK) {
		return rf_errf(dec->ei, RF_ERR_NOTSUP,
		    "record %u: unknown operator type '%s'", dec->record, type);
	}
	err = get_str(dec, name, ENGINE_NAME_MAX, false, "an op name");
	if (err != RF_OK) {
		return err;
	}
	uint8_t n_in = rf_read_u8(&dec->g);
	if (dec->g.err == RF_OK && n_in > ENGINE_MAX_OP_INPUTS) {
		return rf_errf(dec->ei, RF_ERR_FORMAT,
		    "record %u (op '%s'): %u inputs, limit %d", dec->record,
		    name, n_in, ENGINE_MAX_OP_INPUTS);
	}
	for (unsigned i = 0; i < n_in; i++) {
		inputs[i] = rf_read_i32(&dec->g);
	}
	uint8_t n_out = rf_read_u8(&dec->g);
	if (dec->g.err != RF_OK) {
		return RFM_TRUNC(dec, "an op");
	}
	if (n_out > ENGINE_MAX_OP_OUTPUTS) {
		return rf_errf(dec->ei, RF_ERR_FORMAT,
		    "record %u (op '%s'): %u outputs, limit %d", dec->record,
		    name, n_out, ENGINE_MAX_OP_OUTPUTS);
	}
	for (unsigned i = 0; i < n_out; i++) {
		err = get_str(dec, out_store[i], ENGINE_NAME_MAX, false,
		    "an output name");
		if (err != RF_OK) {
			return err;
		}
		outs[i] = out_store[i];
	}
	uint8_t n_attr = rf_read_u8(&dec->g);
	if (dec->g.err != RF_OK) {
		return RFM_TRUNC(dec, "an op");
	}
	if (n_attr > ENGINE_MAX_OP_ATTRS) {
		return rf_errf(dec->ei, RF_ERR_FORMAT,
		    "record %u (op '%s'): %u attributes, limit %d", dec->record,
		    name, n_attr, ENGINE_MAX_OP_ATTRS);
	}
	if (n_attr > 0) {
		attrs = calloc(n_attr, sizeof(*attrs));
		if (attrs == NULL) {
			return RF_ERR_NOMEM;
		}
	}
	for (unsigned i = 0; err == RF_OK && i < n_attr; i++) {
		err = decode_attr(dec, &attrs[i]);
		if (err == RF_OK && i > 0 &&
		    strcmp(attrs[i - 1].name, attrs[i].name) >= 0) {
			err = rf_errf(dec->ei, RF_ERR_FORMAT,
			    "record %u (op '%s'): attributes are not in "
			    "ascending name order at '%s'", dec->record, name,
			    attrs[i].name);
		}
	}
	if (err == RF_OK) {
		err = engine_model_add_op(dec->m, op, name, inputs, n_in, outs,
		    n_out, attrs, n_attr, NULL, dec->ei);
	}
	free(attrs);
	return err;
}

static int
decode_header(const uint8_t *buf, size_t len, struct rfm_decoder *dec,
    struct rf_errinfo *ei)
{
	struct rf_reader r;
	rf_reader_init(&r, buf, len);
	const uint8_t *magic = rf_read_bytes(&r, 8);
	uint32_t version = rf_read_u32(&r);
	uint32_t flags = rf_read_u32(&r);
	uint64_t glen = rf_read_u64(&r);
	uint64_t dlen = rf_read_u64(&r);
	if (magic == NULL || memcmp(magic, RFM_MAGIC, 8) != 0) {
		return rf_errf(ei, magic == NULL ? RF_ERR_TRUNCATED : RF_ERR_FORMAT,
		    "not a Refute model file (bad magic)");
	}
	if (r.err != RF_OK) {
		return rf_errf(ei, RF_ERR_TRUNCATED,
		    "file is %zu bytes, shorter than the %d-byte header", len,
		    RFM_HEADER);
	}
	if (version < RFM_VERSION_OLDEST || version > RFM_VERSION) {
		return rf_errf(ei, RF_ERR_VERSION,
		    "model format version %u is not supported (this build "
		    "reads versions %d to %d)", version, RFM_VERSION_OLDEST,
		    RFM_VERSION);
	}
	if (flags != 0) {
		return rf_errf(ei, RF_ERR_FORMAT, "reserved flags 0x%x are set",
		    flags);
	}
	size_t body = len - RFM_HEADER;
	/* Version 2: zeros from the graph's end to an aligned offset. */
	size_t pad = 0;
	if (version >= 2 && glen <= body) {
		size_t end = RFM_HEADER + (size_t)glen;
		pad = (RFM_ALIGN - end % RFM_ALIGN) % RFM_ALIGN;
	}
	if (glen > body || pad > body - glen || dlen > body - glen - pad) {
		return rf_errf(ei, RF_ERR_TRUNCATED,
		    "header promises %llu graph + %zu padding + %llu data "
		    "bytes, file has %zu after the header",
		    (unsigned long long)glen, pad, (unsigned long long)dlen,
		    body);
	}
	if (glen + pad + dlen != body) {
		return rf_errf(ei, RF_ERR_FORMAT,
		    "%zu unexpected bytes after the data section",
		    body - (size_t)(glen + pad + dlen));
	}
	for (size_t i = 0; i < pad; i++) {
		if (buf[RFM_HEADER + glen + i] != 0) {
			return rf_errf(ei, RF_ERR_FORMAT,
			    "padding after the graph section is not zero");
		}
	}
	dec->version = version;
	dec->file = buf;
	rf_reader_init(&dec->g, buf + RFM_HEADER, (size_t)glen);
	rf_reader_init(&dec->d, buf + RFM_HEADER + glen + pad, (size_t)dlen);
	return RF_OK;
}

static int
decode_body(struct rfm_decoder *dec)
{
	uint32_t n = rf_read_u32(&dec->g);
	if (dec->g.err != RF_OK) {
		return rf_errf(dec->ei, RF_ERR_TRUNCATED,
		    "graph section ends before the record count");
	}
	if (n > RFM_MAX_RECORDS) {
		return rf_errf(dec->ei, RF_ERR_FORMAT,
		    "%u records is over the limit %u", n,
		    (unsigned)RFM_MAX_RECORDS);
	}
	int err = RF_OK;
	for (dec->record = 0; err == RF_OK && dec->record < n; dec->record++) {
		uint8_t kind = rf_read_u8(&dec->g);
		if (dec->g.err != RF_OK) {
			return RFM_TRUNC(dec, "the record kind");
		}
		switch (kind) {
		case RFM_INPUT:
			err = decode_input(dec);
			break;
		case RFM_WEIGHT:
			err = decode_weight(dec);
			break;
		case RFM_OP:
			err = decode_op(dec);
			break;
		default:
			err = rf_errf(dec->ei, RF_ERR_FORMAT,
			    "record %u: unknown kind %u", dec->record, kind);
		}
	}
	if (err != RF_OK) {
		return err;
	}
	uint8_t n_out = rf_read_u8(&dec->g);
	if (dec->g.err != RF_OK) {
		return rf_errf(dec->ei, RF_ERR_TRUNCATED,
		    "graph section ends before the output list");
	}
	for (unsigned i = 0; err == RF_OK && i < n_out; i++) {
		int32_t v = rf_read_i32(&dec->g);
		if (dec->g.err != RF_OK) {
			return rf_errf(dec->ei, RF_ERR_TRUNCATED,
			    "graph section ends inside the output list");
		}
		err = engine_model_add_output(dec->m, v, dec->ei);
	}
	if (err == RF_OK && n_out == 0) {
		err = rf_errf(dec->ei, RF_ERR_FORMAT, "model has no outputs");
	}
	if (err == RF_OK && dec->g.left != 0) {
		err = rf_errf(dec->ei, RF_ERR_FORMAT,
		    "%zu unexpected bytes at the end of the graph section",
		    dec->g.left);
	}
	if (err == RF_OK && !dec->graph_only && dec->d.left != 0) {
		err = rf_errf(dec->ei, RF_ERR_FORMAT,
		    "%zu unexpected bytes at the end of the data section",
		    dec->d.left);
	}
	/* A file can describe a graph that cannot run (an axis out of
	 * range, a window larger than its input): refuse it here, not
	 * when a job fails. */
	if (err == RF_OK) {
		err = engine_model_check(dec->m, NULL, dec->ei);
	}
	return err;
}

/* Decodes a whole file; with borrow, weights that are aligned in buf stay
 * there (*borrowed counts them). */
static int
decode_file(const uint8_t *buf, size_t len, bool borrow,
    struct engine_model **out, size_t *borrowed, struct rf_errinfo *ei)
{
	struct rfm_decoder dec;
	memset(&dec, 0, sizeof(dec));
	dec.ei = ei;
	int err = decode_header(buf, len, &dec, ei);
	if (err != RF_OK) {
		return err;
	}
	dec.borrow = borrow;
	char name[ENGINE_NAME_MAX + 1];
	err = get_str(&dec, name, ENGINE_NAME_MAX, true, "the model name");
	if (err != RF_OK) {
		return err;
	}
	dec.m = engine_model_alloc(name);
	if (dec.m == NULL) {
		return RF_ERR_NOMEM;
	}
	err = decode_body(&dec);
	if (err != RF_OK) {
		engine_model_free(dec.m);
		return err;
	}
	if (borrowed != NULL) {
		*borrowed = 0;
		for (size_t v = 0; v < dec.m->n_values; v++) {
			const struct model_value *mv = &dec.m->values[v];
			if (mv->kind == ENGINE_VALUE_WEIGHT && !mv->weight.owned &&
			    mv->weight.data != NULL) {
				(*borrowed)++;
			}
		}
	}
	*out = dec.m;
	return RF_OK;
}

int
engine_model_decode(const uint8_t *buf, size_t len,
    struct engine_model **out, struct rf_errinfo *ei)
{
	return decode_file(buf, len, false, out, NULL, ei);
}

int
engine_model_load(const char *path, size_t max_len,
    struct engine_model **out, struct rf_errinfo *ei)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return rf_errf(ei, RF_ERR_IO, "cannot open '%s': %s", path,
		    strerror(errno));
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return rf_errf(ei, RF_ERR_IO, "'%s' is not a regular file",
		    path);
	}
	if ((uint64_t)st.st_size > max_len) {
		close(fd);
		return rf_errf(ei, RF_ERR_RANGE,
		    "'%s' is %lld bytes, over the limit of %zu", path,
		    (long long)st.st_size, max_len);
	}
	size_t len = (size_t)st.st_size;
	if (len == 0) {
		close(fd);
		return decode_file(NULL, 0, false, out, NULL, ei);
	}
	/* Read-only and private: the engine never writes a weight, and the
	 * page cache's copy serves every process that maps the file. The
	 * pages are populated here, in one pass, rather than faulted in
	 * one by one by the first run. */
	void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE,
	    fd, 0);
	int map_errno = errno;
	close(fd);
	if (map == MAP_FAILED) {
		return rf_errf(ei, RF_ERR_IO, "cannot map '%s': %s", path,
		    strerror(map_errno));
	}
	struct engine_model *m = NULL;
	size_t borrowed = 0;
	int err = decode_file(map, len, true, &m, &borrowed, ei);
	if (err != RF_OK || borrowed == 0) {
		/* Nothing points into the mapping (a version 1 file, whose
		 * weights were copied): drop it. */
		munmap(map, len);
	} else {
		m->map = map;
		m->map_len = len;
	}
	if (err == RF_OK) {
		*out = m;
	}
	return err;
}

int
engine_model_decode_graph(const uint8_t *buf, size_t len,
    struct engine_model **out, struct rf_errinfo *ei)
{
	struct rfm_decoder dec;
	memset(&dec, 0, sizeof(dec));
	dec.ei = ei;
	dec.graph_only = true;
	rf_reader_init(&dec.g, buf, len);
	rf_reader_init(&dec.d, NULL, 0);
	char name[ENGINE_NAME_MAX + 1];
	int err = get_str(&dec, name, ENGINE_NAME_MAX, true, "the model name");
	if (err != RF_OK) {
		return err;
	}
	dec.m = engine_model_alloc(name);
	if (dec.m == NULL) {
		return RF_ERR_NOMEM;
	}
	err = decode_body(&dec);
	if (err != RF_OK) {
		engine_model_free(dec.m);
		return err;
	}
	*out = dec.m;
	return RF_OK;
}
