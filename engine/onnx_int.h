/*
 * engine/onnx_int.h - shared by the two halves of the ONNX importer only.
 *
 * engine/onnx_import.c is the only file that sees protobuf-c: it decodes
 * and validates the ModelProto (sizes, names, dims, tensor data, value
 * definitions in topological order) and hands over a plain description,
 * struct onnx_graph, whose strings and arrays it keeps alive until the
 * import ends. engine/onnx_map.c turns that description into an engine
 * model: it folds constants, maps each node to engine operators and emits
 * the model. See docs/onnx.md.
 */
#ifndef RF_ENGINE_ONNX_INT_H
#define RF_ENGINE_ONNX_INT_H

#include "engine/engine_int.h"

/* ONNX TensorProto.DataType codes the importer handles (plus the
 * ONNX_DT_* of engine_int.h). */
#define ONNX_DT_BOOL 9
#define ONNX_DT_UINT8 2

/* ONNX AttributeProto.AttributeType codes. */
enum onnx_attr_type {
	ONNX_AT_FLOAT = 1,
	ONNX_AT_INT = 2,
	ONNX_AT_STRING = 3,
	ONNX_AT_TENSOR = 4,
	ONNX_AT_FLOATS = 6,
	ONNX_AT_INTS = 7,
};

/* A constant tensor; ONNX bool is held as i8 0/1 with is_bool set, ONNX
 * uint8 as i8 q - 128 with is_u8 set (docs/onnx.md). */
struct onnx_const {
	struct tensor t;
	bool is_bool;
	bool is_u8;
};

/* A node attribute. Arrays and strings are borrowed from the decoded
 * message; a TENSOR attribute's value is converted and owned here. */
struct onnx_attr {
	const char *name;
	int type; /* enum onnx_attr_type, or another ONNX code */
	int64_t i;
	float f;
	const int64_t *ints;
	const float *floats;
	size_t n; /* values in ints or floats */
	const char *s;
	size_t s_len;
	bool has_t;
	struct onnx_const t;
};

enum onnx_value_kind {
	ONNX_VALUE_INPUT = 1, /* graph input the job supplies */
	ONNX_VALUE_INIT = 2,  /* initializer */
	ONNX_VALUE_NODE = 3,  /* produced by a node */
};

/* A named ONNX value as decoded: what defines it. */
struct onnx_value {
	const char *name;
	enum onnx_value_kind kind;
	int node; /* ONNX_VALUE_NODE: the producing node's index */
	/* ONNX_VALUE_INPUT: dtype and shape, -1 for a dynamic dimension */
	enum tensor_dtype dtype;
	int rank;
	int64_t dims[TENSOR_MAX_RANK];
	/* ONNX_VALUE_INPUT: the symbolic name of each dimension left
	 * dynamic (borrowed), NULL where fixed or unnamed */
	const char *dim_names[TENSOR_MAX_RANK];
	/* ONNX_VALUE_INIT: the data (moved out by the mapper) */
	struct onnx_const init;
};

struct onnx_node {
	const char *name; /* "" when the file gives none */
	const char *op_type;
	size_t index;
	const int *in; /* value ids, -1 for an absent optional input */
	size_t n_in;
	const int *out; /* value ids, -1 for an absent optional output */
	size_t n_out;
	struct onnx_attr *attrs;
	size_t n_attrs;
};

/* A name -> value id map (open addressing over borrowed names). */
struct onnx_names {
	const char **keys;
	int *ids;
	size_t cap;
};

struct onnx_graph {
	const char *name;
	int64_t opset;
	struct onnx_value *values;
	size_t n_values;
	struct onnx_node *nodes;
	size_t n_nodes;
	int *inputs; /* ONNX_VALUE_INPUT ids in graph input order */
	size_t n_inputs;
	int *outputs;
	size_t n_outputs;
	struct onnx_names names;
};

/* Value id of name, or -1. */
int engine_onnx_names_find(const struct onnx_names *m, const char *name);

/* Limits of the importer (docs/onnx.md). */
#define ONNX_MIN_OPSET 11
#define ONNX_MAX_OPSET 17
/* Default cap on one tensor the importer computes while folding
 * constants or inferring shapes (engine_onnx_opts.fold_max_bytes). */
#define ONNX_FOLD_MAX_BYTES ((size_t)256 << 20)

/* ------------------------------------------------------------------ */
/* The mapper (engine/onnx_map.c) and its node mappings                 */
/* (engine/onnx_nodes.c)                                                */
/* ------------------------------------------------------------------ */

enum onnx_ival_kind {
	ONNX_IV_UNSET = 0,
	ONNX_IV_CONST,
	ONNX_IV_RUNTIME,
	ONNX_IV_ALIAS,
};

/* The mapper's view of one value: the ONNX ones (same ids as
 * struct onnx_graph) and those the mapper makes up. */
struct onnx_ival {
	enum onnx_ival_kind kind;
	int alias;            /* ONNX_IV_ALIAS: the value it names */
	struct onnx_const c;  /* ONNX_IV_CONST: owned */
	int pop, pop_out; /* ONNX_IV_RUNTIME: producer, -1 for a graph input */
	bool shape_known; /* ONNX_IV_RUNTIME: dtype, rank, dims are valid */
	enum tensor_dtype dtype;
	int rank;
	int64_t dims[TENSOR_MAX_RANK];
	bool need_shape;
	bool rt_bool; /* ONNX_IV_RUNTIME: a bool, held as i8 0/1 */
	bool rt_u8;   /* ONNX_IV_RUNTIME: a uint8, held as i8 q - 128 */
	bool live;
	int eidx;        /* engine value index once emitted, else -1 */
	char *gen_name;  /* made-up values own their name */
	const char *ename; /* name in the engine model, NULL: its own */
};

/* A planned engine operator. */
struct onnx_pop {
	enum engine_op op;
	char *name;
	int *in; /* resolved ival ids, -1 absent */
	size_t n_in;
	int out[ENGINE_MAX_OP_OUTPUTS];
	size_t n_out;
	struct engine_attr *attrs;
	size_t n_attrs;
	bool live;
};

/* Made-up names, kept unique against ONNX names and each other. */
struct onnx_gen_set {
	char **keys;
	size_t n, cap;
};

struct onnx_mapper {
	struct onnx_graph *g;
	const struct engine_onnx_opts *o;
	struct rf_errinfo *ei;
	struct onnx_ival *iv;
	size_t n_iv, cap_iv;
	struct onnx_pop *pops;
	size_t n_pops, cap_pops;
	uint32_t *uses; /* per ONNX value: node inputs + graph outputs */
	struct onnx_gen_set gen;
	size_t fold_max, fold_total, fold_limit;
	const struct onnx_node *node;
	char label[200];
};

struct onnx_emit_args {
	enum engine_op op;
	const int *in; /* ival ids, -1 absent */
	size_t n_in;
	const int *out; /* ival ids to define, -1 absent */
	size_t n_out;
	const struct engine_attr *attrs;
	size_t n_attrs;
	const char *suffix; /* op name suffix for extra operators, or "" */
	int bool_from;      /* input whose bool-ness the outputs share, -1 */
	bool keep;          /* plan it even if every input is a constant */
};
/* bool_from for operators whose outputs are bools (comparisons, logic),
 * or uint8 (a QuantizeLinear with a uint8 zero point). */
#define ONNX_BOOL_OUT (-2)
#define ONNX_U8_OUT (-3)

typedef int (*onnx_map_fn)(struct onnx_mapper *mp, const struct onnx_node *n,
    enum engine_op op);

struct onnx_map_entry {
	const char *op_type;
	onnx_map_fn fn;
	enum engine_op op;
};

/* "node 'fc' (Gemm): " + the message, for the node being mapped. */
int engine_onnx_err(struct onnx_mapper *mp, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The error for a value whose shape a dynamic input dimension hides:
 * names each symbolic dimension still dynamic (as --dim NAME=N), in the
 * message and through the options' note callback. */
int engine_onnx_err_dynamic(struct onnx_mapper *mp, const char *what);
/* Prefixes ei's message (from the engine) with the node. */
int engine_onnx_errctx(struct onnx_mapper *mp, int err);

/* Whether a value (constant or run-time) is a bool; a uint8. */
bool engine_onnx_is_bool(const struct onnx_mapper *mp, int id);
bool engine_onnx_is_u8(const struct onnx_mapper *mp, int id);
/* Follows aliases to the value that holds the data. */
int engine_onnx_resolve(const struct onnx_mapper *mp, int id);
/* The value's name in the engine model. */
const char *engine_onnx_value_name(const struct onnx_mapper *mp, int id);
/* A new value named base + suffix, unique among all names. */
int engine_onnx_value_new(struct onnx_mapper *mp, const char *base,
    const char *suffix, int *id);
/* Node input i: the constant behind it (or NULL), whether it is given,
 * its ONNX name; node output i as a value id (-1 when absent). */
struct onnx_const *engine_onnx_in_const(struct onnx_mapper *mp,
    const struct onnx_node *n, size_t i);
bool engine_onnx_in_present(const struct onnx_node *n, size_t i);
const char *engine_onnx_in_name(const struct onnx_mapper *mp,
    const struct onnx_node *n, size_t i);
int engine_onnx_out_id(const struct onnx_node *n, size_t i);
/* Whether any node or graph output reads an ONNX value. */
bool engine_onnx_used(const struct onnx_mapper *mp, int onnx_id);
/* Makes value id the constant *t (moved), counting it against the
 * import's total. */
int engine_onnx_set_const(struct onnx_mapper *mp, int id, struct tensor *t,
    bool is_bool);
/* RF_ERR_RANGE unless a tensor of count * esz bytes fits the fold cap. */
int engine_onnx_fold_room(struct onnx_mapper *mp, size_t count, size_t esz);
/* One engine operator: folded when its inputs are constants, else
 * planned (and its shapes inferred when something needs them). */
int engine_onnx_emit(struct onnx_mapper *mp, const struct onnx_emit_args *e);
/* The same with the node's own inputs and outputs. */
int engine_onnx_emit_node(struct onnx_mapper *mp, const struct onnx_node *n,
    enum engine_op op, const struct engine_attr *attrs, size_t n_attrs,
    int bool_from);
/* The mapping for an ONNX op type, or NULL (engine/onnx_nodes.c). */
const struct onnx_map_entry *engine_onnx_map_lookup(const char *op_type);

/*
 * Builds the engine model from a decoded graph. Owns nothing of g, but
 * moves initializer data out of it. On failure ei names the node and
 * *out is untouched.
 */
int engine_onnx_map_graph(struct onnx_graph *g, const struct engine_onnx_opts *o,
    struct engine_model **out, struct rf_errinfo *ei);

#endif
