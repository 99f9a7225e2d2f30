/*
 * executor/compute.c - running a job with a trace commitment, building the
 * claim, and the testing faults that change what an executor claims.
 *
 * Faults are for tests and experiments: they are off unless asked for
 * (--fault), named in every log line they touch, and an honest executor
 * never takes these paths.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"
#include "executor/executor_int.h"

int
executor_fault_parse(const char *name, enum executor_fault *out)
{
	static const struct {
		const char *name;
		enum executor_fault f;
	} faults[] = {
		{ "none", EXECUTOR_FAULT_NONE },
		{ "lie-at-op", EXECUTOR_FAULT_LIE_AT_OP },
		{ "lie-output", EXECUTOR_FAULT_LIE_OUTPUT },
		{ "random", EXECUTOR_FAULT_RANDOM },
		{ "bad-proof", EXECUTOR_FAULT_BAD_PROOF },
		{ "silent", EXECUTOR_FAULT_SILENT },
		{ "equivocate", EXECUTOR_FAULT_EQUIVOCATE },
	};
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		if (strcmp(name, faults[i].name) == 0) {
			*out = faults[i].f;
			return RF_OK;
		}
	}
	return RF_ERR_INVAL;
}

const char *
executor_fault_name(enum executor_fault f)
{
	switch (f) {
	case EXECUTOR_FAULT_NONE:
		return "none";
	case EXECUTOR_FAULT_LIE_AT_OP:
		return "lie-at-op";
	case EXECUTOR_FAULT_LIE_OUTPUT:
		return "lie-output";
	case EXECUTOR_FAULT_RANDOM:
		return "random";
	case EXECUTOR_FAULT_BAD_PROOF:
		return "bad-proof";
	case EXECUTOR_FAULT_SILENT:
		return "silent";
	case EXECUTOR_FAULT_EQUIVOCATE:
		return "equivocate";
	}
	return "?";
}

/* Trace collection that also keeps the output entry (the claimed
 * output: the entry of the operator producing the graph's declared
 * outputs, not necessarily the last) and can perturb one entry before it
 * is hashed. */
struct capture {
	struct proto_trace tr;
	size_t out_at;          /* index of the output entry */
	size_t lie_at;          /* entry to perturb, SIZE_MAX for none */
	struct tensor out[PROTO_MAX_ENTRY_TENSORS];
	size_t n_out;
	int err;
};

/* Flips the lowest mantissa bit of the first element: the smallest lie
 * there is, still a different trace. */
static void
perturb(struct tensor *t)
{
	if (t->count == 0) {
		return;
	}
	unsigned char *p = t->data;
	p[0] ^= 1;
}

static int
capture_hook(void *ctx, size_t index, const struct tensor *const *t,
    size_t n)
{
	struct capture *c = ctx;
	bool lie = index == c->lie_at;
	if (!lie && index != c->out_at) {
		return proto_trace_hook(&c->tr, index, t, n);
	}
	/* Keep a copy (the claimed output, or the entry we lie about). */
	struct tensor copy[PROTO_MAX_ENTRY_TENSORS];
	const struct tensor *ptrs[PROTO_MAX_ENTRY_TENSORS];
	size_t k = 0;
	for (; k < n && k < PROTO_MAX_ENTRY_TENSORS; k++) {
		if (engine_tensor_copy(&copy[k], t[k]) != RF_OK) {
			break;
		}
		ptrs[k] = &copy[k];
	}
	if (k < n) {
		for (size_t i = 0; i < k; i++) {
			engine_tensor_fini(&copy[i]);
		}
		c->err = RF_ERR_NOMEM;
		return 1;
	}
	if (lie) {
		perturb(&copy[0]);
	}
	int rc = proto_trace_hook(&c->tr, index, ptrs, n);
	if (index == c->out_at) {
		memcpy(c->out, copy, sizeof(copy[0]) * n);
		c->n_out = n;
	} else {
		for (size_t i = 0; i < n; i++) {
			engine_tensor_fini(&copy[i]);
		}
	}
	return rc;
}

/* The lazy executor: plausible-looking leaves and a random output, with
 * the job's true input leaves (the referee checks those). */
static int
fabricate(struct executor *x, const struct proto_job_info *job, size_t n,
    struct capture *c)
{
	enum proto_hash suite = x->cfg->node.suite;
	for (size_t i = 0; i < n; i++) {
		struct proto_digest d;
		if (i < job->n_inputs) {
			const struct tensor *t = &job->inputs[i];
			proto_tensor_leaf(suite, &t, 1, &d);
		} else {
			uint64_t r[4];
			for (int k = 0; k < 4; k++) {
				r[k] = engine_rng_next(&x->fault_rng);
			}
			memset(&d, 0, sizeof(d));
			memcpy(d.b, r, proto_hash_len(suite));
		}
		if (i == c->out_at) {
			int64_t dims[1] = { 1 };
			if (engine_tensor_init(&c->out[0], TENSOR_F32, 1, dims) != RF_OK) {
				return RF_ERR_NOMEM;
			}
			((float *)c->out[0].data)[0] = engine_rng_uniform(
			    &x->fault_rng, -1.0f, 1.0f);
			c->n_out = 1;
			const struct tensor *t = &c->out[0];
			proto_tensor_leaf(suite, &t, 1, &d);
		}
		if (c->tr.n == c->tr.cap) {
			size_t cap = c->tr.cap ? c->tr.cap * 2 : 64;
			struct proto_digest *nl = realloc(c->tr.leaves,
			    cap * sizeof(*nl));
			if (nl == NULL) {
				return RF_ERR_NOMEM;
			}
			c->tr.leaves = nl;
			c->tr.cap = cap;
		}
		c->tr.leaves[c->tr.n++] = d;
	}
	return RF_OK;
}

static bool
fault_applies(struct executor *x)
{
	const struct executor_config *c = x->cfg;
	if (c->fault == EXECUTOR_FAULT_NONE) {
		return false;
	}
	if (c->fault_rate >= 1.0) {
		return true;
	}
	float u = engine_rng_uniform(&x->fault_rng, 0.0f, 1.0f);
	return (double)u < c->fault_rate;
}

int
executor_compute(struct executor *x, const struct node_model *nm,
    const struct proto_job_info *job, struct executor_run *run,
    struct rf_errinfo *ei)
{
	enum proto_hash suite = x->cfg->node.suite;
	const struct engine_model *m = nm->model;
	size_t n_in = engine_model_input_count(m);
	size_t n = engine_trace_length(m);
	memset(run, 0, sizeof(*run));
	if (job->n_inputs != n_in) {
		return rf_errf(ei, RF_ERR_INVAL, "the job has %u inputs, the "
		    "model takes %zu", job->n_inputs, n_in);
	}
	size_t out_op;
	int err = proto_model_output_op(m, &out_op, ei);
	if (err != RF_OK) {
		return err;
	}
	struct capture c;
	memset(&c, 0, sizeof(c));
	proto_trace_init(&c.tr, suite);
	c.out_at = n_in + out_op;
	c.lie_at = SIZE_MAX;
	run->faulty = fault_applies(x);
	/* An equivocating executor computes honestly; its lie is the second
	 * claim (executor.c). */
	bool lie = run->faulty && x->cfg->fault != EXECUTOR_FAULT_EQUIVOCATE;
	if (lie && x->cfg->fault == EXECUTOR_FAULT_RANDOM) {
		err = fabricate(x, job, n, &c);
	} else {
		if (lie) {
			c.lie_at = x->cfg->fault == EXECUTOR_FAULT_LIE_OUTPUT ? c.out_at :
			    n_in + (x->cfg->fault_op < n - n_in ? x->cfg->fault_op :
			    n - n_in - 1);
		}
		struct engine_run_opts o;
		struct tensor outs[ENGINE_MAX_GRAPH_IO];
		engine_run_opts_init(&o);
		o.trace = capture_hook;
		o.trace_ctx = &c;
		err = engine_run(m, job->inputs, n_in, outs, &o, ei);
		/* The hook stops the run for its own failure or the
		 * trace's (a leaf array that could not grow). */
		int hook_err = c.err != RF_OK ? c.err : c.tr.err;
		if (err == RF_ERR_ABORTED && hook_err != RF_OK) {
			err = rf_errf(ei, hook_err, "trace: %s",
			    rf_strerror(hook_err));
		}
		if (err == RF_OK) {
			for (size_t i = 0; i < engine_model_output_count(m); i++) {
				engine_tensor_fini(&outs[i]);
			}
		}
	}
	if (err == RF_OK) {
		err = proto_trace_root(&c.tr, &run->root);
	}
	if (err != RF_OK || c.n_out == 0) {
		for (size_t i = 0; i < c.n_out; i++) {
			engine_tensor_fini(&c.out[i]);
		}
		proto_trace_fini(&c.tr);
		return err != RF_OK ? err : rf_errf(ei, RF_ERR_INVAL,
		    "the run produced no output entry");
	}
	run->leaves = c.tr.leaves;
	run->n = c.tr.n;

	memset(&run->claim, 0, sizeof(run->claim));
	struct proto_claim *cl = &run->claim;
	cl->job_id = job->job_id;
	cl->model_id = nm->id;
	cl->n_inputs = (uint8_t)n_in;
	memcpy(cl->input_leaves, run->leaves, n_in * sizeof(run->leaves[0]));
	cl->n = (uint32_t)run->n;
	cl->trace_root = run->root;
	cl->n_outputs = (uint8_t)c.n_out;
	memcpy(cl->outputs, c.out, c.n_out * sizeof(c.out[0]));
	size_t plen = 0;
	struct proto_digest path[MERKLE_MAX_PROOF];
	err = proto_merkle_inclusion_proof(suite, run->leaves, run->n, c.out_at,
	    path, &plen);
	if (err == RF_OK) {
		err = proto_proof_dup(path, plen, &cl->output_proof);
		cl->proof_len = (uint8_t)plen;
	}
	if (err != RF_OK) {
		executor_run_free(run);
	}
	return err;
}

void
executor_run_free(struct executor_run *run)
{
	free(run->leaves);
	run->leaves = NULL;
	proto_claim_free(&run->claim);
}
