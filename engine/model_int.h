/*
 * engine/model_int.h - the model's in-memory layout, shared by model.c,
 * model_file.c and run.c inside engine/ only.
 */
#ifndef RF_ENGINE_MODEL_INT_H
#define RF_ENGINE_MODEL_INT_H

#include <pthread.h>

#include "engine/engine_int.h"

struct model_value {
	char *name;
	enum engine_value_kind kind;
	enum tensor_dtype dtype; /* inputs and weights */
	int rank;
	int64_t dims[TENSOR_MAX_RANK];
	struct tensor weight; /* weights: owned data */
	int producer;         /* op index, or -1 */
	int last_use;         /* last op reading it, or -1: frees early */
	bool is_output;
	/* weights: packed once as a GEMM B operand, at its first use in a
	 * run (engine/run.c); under the model's pack_mu */
	struct engine_packed_b *packed;
};

struct model_op {
	enum engine_op op;
	char *name;
	int *inputs; /* n_inputs value indices, ENGINE_NO_VALUE if absent */
	size_t n_inputs;
	int outputs[ENGINE_MAX_OP_OUTPUTS];
	size_t n_outputs;
	struct engine_attr *attrs; /* sorted by name */
	size_t n_attrs;
	struct op_params params; /* parsed from attrs once */
};

struct engine_model {
	char *name;
	struct model_value *values;
	size_t n_values, cap_values;
	struct model_op *ops;
	size_t n_ops, cap_ops;
	int inputs[ENGINE_MAX_GRAPH_IO];
	size_t n_inputs;
	int outputs[ENGINE_MAX_GRAPH_IO];
	size_t n_outputs;
	int32_t *index; /* name -> value, open addressing, -1 = empty */
	size_t index_cap;
	bool graph_only; /* weights have shapes but no data */
	/* Guards the values' packed weights, which runs fill in lazily: a
	 * memo, so a const model may still gain one. */
	pthread_mutex_t pack_mu;
	/* engine_model_load: the mapped file its weights may point into,
	 * unmapped by engine_model_free. */
	void *map;
	size_t map_len;
};

/* A weight known by name and shape only (engine_model_decode_graph). */
int engine_model_add_weight_shape(struct engine_model *m, const char *name,
    enum tensor_dtype dtype, int rank, const int64_t *dims, int *idx,
    struct rf_errinfo *ei);

/* engine_model_add_weight keeping a borrowed view as is (the model's
 * mapping holds the bytes; engine/model_file.c). */
int engine_model_add_weight_view(struct engine_model *m, const char *name,
    struct tensor *w, int *idx, struct rf_errinfo *ei);

#endif
