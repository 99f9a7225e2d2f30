/*
 * referee/validate.c - what the referee derives from a registered graph,
 * and the checks built on it.
 *
 * A registration carries a graph (proven to be leaf 0 of model_id) and
 * the registrant's word for the model's dimensions. Only the graph is
 * evidence: every number the referee later relies on (operators, inputs,
 * the size of model_id's tree that weight proofs are checked against,
 * which trace entry holds the output, the inputs' dtypes and shapes) is
 * derived from it here, and a registration that says otherwise is
 * refused, so the first registrant of a model_id cannot poison it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "referee/referee_int.h"

int
referee_model_derive(enum proto_hash suite, const uint8_t *graph,
    size_t len, struct model_spec *s, struct rf_errinfo *ei)
{
	struct engine_model *m = NULL;
	int err = engine_model_decode_graph(graph, len, &m, ei);
	if (err != RF_OK) {
		return err;
	}
	memset(s, 0, sizeof(*s));
	s->n_ops = (uint32_t)engine_model_op_count(m);
	s->n_inputs = (uint32_t)engine_model_input_count(m);
	size_t weights = 0;
	for (size_t v = 0; v < engine_model_value_count(m); v++) {
		struct engine_value_info vi;
		if (engine_model_value(m, (int)v, &vi) == RF_OK &&
		    vi.kind == ENGINE_VALUE_WEIGHT) {
			weights++;
		}
	}
	s->n_leaves = (uint32_t)(1 + weights);
	if (s->n_ops == 0 || s->n_inputs == 0 ||
	    s->n_inputs > PROTO_MAX_TENSORS) {
		err = rf_errf(ei, RF_ERR_INVAL, "a model needs inputs (at most "
		    "%d) and operators", PROTO_MAX_TENSORS);
	}
	for (uint32_t i = 0; err == RF_OK && i < s->n_inputs; i++) {
		struct engine_value_info vi;
		err = engine_model_value(m, engine_model_input(m, i), &vi);
		if (err == RF_OK) {
			s->in[i].dtype = (uint8_t)vi.dtype;
			s->in[i].rank = (uint8_t)vi.rank;
			memcpy(s->in[i].dims, vi.dims,
			    (size_t)vi.rank * sizeof(vi.dims[0]));
		}
	}
	size_t out_op = 0;
	if (err == RF_OK) {
		err = proto_model_output_op(m, &out_op, ei);
	}
	if (err == RF_OK) {
		s->out_leaf = s->n_inputs + (uint32_t)out_op;
		err = proto_model_dispute_check(suite, m, len, ei);
	}
	engine_model_free(m);
	return err;
}

/* Input specs as stored: per input u8 dtype, u8 rank, i64 dims[rank]
 * little-endian. */
size_t
referee_spec_inputs_encode(const struct model_spec *s, uint8_t *buf)
{
	size_t n = 0;
	for (uint32_t i = 0; i < s->n_inputs; i++) {
		buf[n++] = s->in[i].dtype;
		buf[n++] = s->in[i].rank;
		for (int d = 0; d < s->in[i].rank; d++) {
			uint64_t v = (uint64_t)s->in[i].dims[d];
			for (int b = 0; b < 8; b++) {
				buf[n++] = (uint8_t)(v >> (8 * b));
			}
		}
	}
	return n;
}

static int
spec_inputs_decode(const uint8_t *p, size_t len, struct model_spec *s)
{
	size_t at = 0;
	for (uint32_t i = 0; i < s->n_inputs; i++) {
		if (len - at < 2 || p[at + 1] > TENSOR_MAX_RANK) {
			return RF_ERR_STORE;
		}
		s->in[i].dtype = p[at];
		s->in[i].rank = p[at + 1];
		at += 2;
		if (len - at < 8u * s->in[i].rank) {
			return RF_ERR_STORE;
		}
		for (int d = 0; d < s->in[i].rank; d++) {
			uint64_t v = 0;
			for (int b = 0; b < 8; b++) {
				v |= (uint64_t)p[at++] << (8 * b);
			}
			s->in[i].dims[d] = (int64_t)v;
		}
	}
	return at == len ? RF_OK : RF_ERR_STORE;
}

int
referee_model_spec(struct referee *r, const struct proto_digest *id,
    struct model_spec *s, bool *found)
{
	sqlite3_stmt *st;
	int err = referee_db_query(r, &st, "SELECT n_ops, n_inputs, n_leaves, out_leaf, "
	    "inputs, graph FROM models WHERE model_id = ?1", "d", id);
	if (err != RF_OK) {
		return err;
	}
	int rc = sqlite3_step(st);
	*found = rc == SQLITE_ROW;
	if (rc != SQLITE_ROW) {
		referee_db_done(r, st);
		return rc == SQLITE_DONE ? RF_OK : RF_ERR_STORE;
	}
	if (sqlite3_column_type(st, 3) == SQLITE_NULL) {
		/* Registered by a referee that took the registrant's word:
		 * derive from the graph now. */
		struct rf_errinfo ei = { "" };
		err = referee_model_derive(r->params.suite,
		    sqlite3_column_blob(st, 5),
		    (size_t)sqlite3_column_bytes(st, 5), s, &ei);
		referee_db_done(r, st);
		return err == RF_ERR_NOMEM ? err : err != RF_OK ? RF_ERR_STORE :
		    RF_OK;
	}
	memset(s, 0, sizeof(*s));
	s->n_ops = (uint32_t)sqlite3_column_int64(st, 0);
	s->n_inputs = (uint32_t)sqlite3_column_int64(st, 1);
	s->n_leaves = (uint32_t)sqlite3_column_int64(st, 2);
	s->out_leaf = (uint32_t)sqlite3_column_int64(st, 3);
	err = s->n_inputs <= PROTO_MAX_TENSORS ? spec_inputs_decode(
	    sqlite3_column_blob(st, 4), (size_t)sqlite3_column_bytes(st, 4), s) :
	    RF_ERR_STORE;
	referee_db_done(r, st);
	return err;
}

int
referee_job_inputs_check(const struct model_spec *s,
    const struct tensor *in, size_t n, char *why, size_t why_len)
{
	if (n != s->n_inputs) {
		snprintf(why, why_len, "the model takes %u inputs, the job has "
		    "%zu", s->n_inputs, n);
		return RF_ERR_SHAPE;
	}
	for (size_t i = 0; i < n; i++) {
		const struct tensor *t = &in[i];
		char want[96];
		int w = snprintf(want, sizeof(want), "%s[",
		    engine_tensor_dtype_name((enum tensor_dtype)s->in[i].dtype));
		for (int d = 0; d < s->in[i].rank && w > 0 &&
		    (size_t)w < sizeof(want); d++) {
			w += snprintf(want + w, sizeof(want) - (size_t)w, "%s%lld",
			    d ? "," : "", (long long)s->in[i].dims[d]);
		}
		if (w > 0 && (size_t)w < sizeof(want)) {
			snprintf(want + w, sizeof(want) - (size_t)w, "]");
		}
		bool ok = (int)t->dtype == s->in[i].dtype &&
		    t->rank == s->in[i].rank;
		for (int d = 0; ok && d < t->rank; d++) {
			ok = s->in[i].dims[d] < 0 || s->in[i].dims[d] == t->dims[d];
		}
		size_t count;
		if (ok && (engine_tensor_shape_check(t->rank, t->dims, &count, NULL) !=
		    RF_OK || count != t->count)) {
			ok = false;
		}
		if (!ok) {
			char got[96];
			engine_tensor_shape_str(t, got, sizeof(got));
			snprintf(why, why_len, "input %zu must be %s (-1: any size), "
			    "the job has %s", i, want, got);
			return t->dtype != (enum tensor_dtype)s->in[i].dtype ?
			    RF_ERR_DTYPE : RF_ERR_SHAPE;
		}
	}
	return RF_OK;
}

int
referee_job_graph_check(struct referee *r, const struct proto_digest *id,
    const struct model_spec *s, const struct tensor *in, size_t n,
    char *why, size_t why_len)
{
	bool dynamic = false, ints = false;
	for (uint32_t i = 0; i < s->n_inputs; i++) {
		for (int d = 0; d < s->in[i].rank; d++) {
			dynamic = dynamic || s->in[i].dims[d] < 0;
		}
		ints = ints || s->in[i].dtype == TENSOR_I64 ||
		    s->in[i].dtype == TENSOR_I32;
	}
	if ((!dynamic && !ints) || n != s->n_inputs) {
		/* Fixed shapes were checked at registration; only integer
		 * inputs have values the graph can rule out (indices). */
		return RF_OK;
	}
	sqlite3_stmt *st;
	int err = referee_db_query(r, &st, "SELECT graph FROM models WHERE model_id = "
	    "?1", "d", id);
	if (err != RF_OK) {
		return err;
	}
	if (sqlite3_step(st) != SQLITE_ROW) {
		referee_db_done(r, st);
		return RF_ERR_STORE;
	}
	struct rf_errinfo ei = { "" };
	struct engine_model *m = NULL;
	err = engine_model_decode_graph(sqlite3_column_blob(st, 0),
	    (size_t)sqlite3_column_bytes(st, 0), &m, &ei);
	referee_db_done(r, st);
	if (err == RF_OK) {
		struct engine_shape sh[PROTO_MAX_TENSORS];
		memset(sh, 0, sizeof(sh));
		for (size_t i = 0; i < n; i++) {
			sh[i].dtype = in[i].dtype;
			sh[i].rank = in[i].rank;
			memcpy(sh[i].dims, in[i].dims, (size_t)in[i].rank *
			    sizeof(sh[i].dims[0]));
		}
		ei.msg[0] = '\0';
		err = dynamic ? engine_model_check_inputs(m, sh, n, NULL, &ei) :
		    RF_OK;
		if (err == RF_OK && ints) {
			/* A token outside the vocabulary: the executor could
			 * not run the job, and would pay its deadline. */
			err = engine_model_check_input_values(m, in, n, &ei);
		}
		engine_model_free(m);
		if (err != RF_OK && err != RF_ERR_NOMEM) {
			snprintf(why, why_len, "the model cannot run on these "
			    "inputs: %s", ei.msg);
			return RF_ERR_SHAPE;
		}
		return err;
	}
	/* It decoded at registration: only an engine that changed since
	 * refuses it now, and the job cannot run either way. */
	if (err != RF_ERR_NOMEM) {
		snprintf(why, why_len, "the registered model no longer loads: "
		    "%s", ei.msg);
		return RF_ERR_SHAPE;
	}
	return err;
}
