/*
 * api/api.c - the public C API (include/refute/refute.h) over the engine
 * and the protocol library: what librefute.so exports, and all it
 * exports (the library is built with -fvisibility=hidden; REFUTE_API
 * marks these functions visible).
 */
#include "include/refute/refute.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bisect/bisect.h"
#include "engine/engine.h"
#include "node/node.h"
#include "protocol/protocol.h"
#include "referee/referee.h"

/* The public codes are base/rf.h's, spelled for users. */
#define SAME(a, b) _Static_assert((int)(a) == (int)(b), #a)
SAME(REFUTE_ERR_NOMEM, RF_ERR_NOMEM);
SAME(REFUTE_ERR_SHAPE, RF_ERR_SHAPE);
SAME(REFUTE_ERR_IO, RF_ERR_IO);
SAME(REFUTE_ERR_REFUSED, RF_ERR_REFUSED);
SAME(RF_ERR_COUNT, REFUTE_ERR_REFUSED + 1);
SAME(REFUTE_F32, TENSOR_F32);
SAME(REFUTE_I8, TENSOR_I8);
SAME(REFUTE_I32, TENSOR_I32);
SAME(REFUTE_I64, TENSOR_I64);
_Static_assert(REFUTE_MAX_RANK == TENSOR_MAX_RANK, "rank");

/* Model files and ONNX files: the command line's limits. */
#define API_MODEL_MAX ((size_t)1 << 34)

struct refute_model {
	struct engine_model *m;
	/* Declared shapes of every value (engine_model_check), for the
	 * outputs' info. */
	struct engine_shape *shapes;
	/* Runs take turns: a run keeps the weights it packs in the model
	 * (engine_run_opts.keep_packed), and ctypes calls in without the
	 * GIL. */
	pthread_mutex_t lock;
};

struct refute_result {
	size_t n;
	struct tensor out[ENGINE_MAX_GRAPH_IO];
	char root[2 * PROTO_DIGEST_MAX + 1];
	size_t leaves;
};

static _Thread_local char last_error[sizeof(((struct rf_errinfo *)0)->msg) + 64];

/* Records why a call failed (ei's message, else the code's) and returns
 * err. */
static int
fail(int err, const char *ctx, const struct rf_errinfo *ei)
{
	const char *why = ei != NULL && ei->msg[0] ? ei->msg : rf_strerror(err);
	snprintf(last_error, sizeof(last_error), "%s%s%s", ctx ? ctx : "",
	    ctx ? ": " : "", why);
	return err;
}

static int
failf(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
failf(int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return err;
}

REFUTE_API const char *
refute_version(void)
{
	return REFUTE_VERSION_STRING;
}

REFUTE_API const char *
refute_strerror(int code)
{
	return rf_strerror(code);
}

REFUTE_API const char *
refute_last_error(void)
{
	return last_error;
}

REFUTE_API size_t
refute_dtype_size(int dtype)
{
	return engine_tensor_dtype_valid(dtype) ?
	    engine_tensor_dtype_size((enum tensor_dtype)dtype) : 0;
}

REFUTE_API int
refute_threads_set(unsigned n)
{
	if (n > ENGINE_THREADS_MAX) {
		return failf(RF_ERR_RANGE, "at most %d threads",
		    ENGINE_THREADS_MAX);
	}
	int err = engine_threads_set(n);
	return err == RF_OK ? RF_OK : fail(err, "cannot start the threads", NULL);
}

/* ------------------------------------------------------------------ */
/* Models                                                               */
/* ------------------------------------------------------------------ */

/* Wraps a new engine model (taken over, freed on failure). */
static int
wrap(struct engine_model *em, const char *path, refute_model **out)
{
	struct rf_errinfo ei = { "" };
	refute_model *m = calloc(1, sizeof(*m));
	size_t nv = engine_model_value_count(em);
	struct engine_shape *sh = calloc(nv ? nv : 1, sizeof(*sh));
	int err = m == NULL || sh == NULL ? RF_ERR_NOMEM :
	    engine_model_check(em, sh, &ei);
	if (err != RF_OK) {
		free(sh);
		free(m);
		engine_model_free(em);
		return fail(err, path, &ei);
	}
	if (pthread_mutex_init(&m->lock, NULL) != 0) {
		free(sh);
		free(m);
		engine_model_free(em);
		return failf(RF_ERR_NOMEM, "%s: cannot make a lock", path);
	}
	m->m = em;
	m->shapes = sh;
	*out = m;
	return RF_OK;
}

REFUTE_API int
refute_model_load(const char *path, refute_model **out)
{
	if (path == NULL || out == NULL) {
		return failf(RF_ERR_INVAL, "refute_model_load: NULL argument");
	}
	struct rf_errinfo ei = { "" };
	struct engine_model *em;
	int err = engine_model_load(path, API_MODEL_MAX, &em, &ei);
	if (err == RF_ERR_IO || err == RF_ERR_RANGE) {
		return fail(err, NULL, &ei); /* names the file already */
	}
	if (err != RF_OK) {
		return failf(err, "'%s' is not a valid model: %s", path,
		    ei.msg[0] ? ei.msg : rf_strerror(err));
	}
	return wrap(em, path, out);
}

REFUTE_API int
refute_model_import_onnx(const char *path, const char *const *dims,
    size_t n_dims, refute_model **out)
{
	if (path == NULL || out == NULL || (n_dims > 0 && dims == NULL)) {
		return failf(RF_ERR_INVAL, "refute_model_import_onnx: NULL "
		    "argument");
	}
	enum { MAX_DIMS = 64 };
	if (n_dims > MAX_DIMS) {
		return failf(RF_ERR_RANGE, "at most %d dims", MAX_DIMS);
	}
	/* "NAME=N": the name is used in place, cut at the '='. */
	struct engine_onnx_dim dv[MAX_DIMS];
	char *names[MAX_DIMS] = { NULL };
	int err = RF_OK;
	for (size_t i = 0; i < n_dims && err == RF_OK; i++) {
		const char *eq = dims[i] ? strchr(dims[i], '=') : NULL;
		char *end = NULL;
		long long v = eq ? strtoll(eq + 1, &end, 10) : -1;
		if (eq == NULL || eq == dims[i] || end == eq + 1 || *end != '\0' ||
		    v < 1 || v > TENSOR_MAX_DIM) {
			err = failf(RF_ERR_INVAL, "dim '%s' is not NAME=N with "
			    "1 <= N <= %lld", dims[i] ? dims[i] : "(null)",
			    (long long)TENSOR_MAX_DIM);
			break;
		}
		names[i] = strndup(dims[i], (size_t)(eq - dims[i]));
		if (names[i] == NULL) {
			err = fail(RF_ERR_NOMEM, NULL, NULL);
			break;
		}
		dv[i].name = names[i];
		dv[i].value = v;
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	struct rf_errinfo ei = { "" };
	if (err == RF_OK) {
		err = node_file_read(path, ENGINE_ONNX_MAX_BYTES, &buf, &len, &ei);
		if (err != RF_OK) {
			fail(err, NULL, &ei);
		}
	}
	struct engine_model *em = NULL;
	if (err == RF_OK) {
		struct engine_onnx_opts o;
		engine_onnx_opts_init(&o);
		o.dims = dv;
		o.n_dims = n_dims;
		err = engine_model_import_onnx(buf, len, &o, &em, &ei);
		if (err != RF_OK) {
			fail(err, path, &ei);
		}
	}
	free(buf);
	for (size_t i = 0; i < n_dims; i++) {
		free(names[i]);
	}
	return err == RF_OK ? wrap(em, path, out) : err;
}

REFUTE_API int
refute_model_save(const refute_model *m, const char *path)
{
	if (m == NULL || path == NULL) {
		return failf(RF_ERR_INVAL, "refute_model_save: NULL argument");
	}
	uint8_t *buf;
	size_t len;
	int err = engine_model_encode(m->m, &buf, &len);
	if (err != RF_OK) {
		return fail(err, "cannot encode the model", NULL);
	}
	/* A new file renamed over the old: a process mapping the old one
	 * (engine_model_load) keeps its pages. */
	char tmp[4096];
	int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	int fd = n < 0 || (size_t)n >= sizeof(tmp) ? -1 :
	    open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		free(buf);
		return failf(RF_ERR_IO, "cannot create '%s': %s", path,
		    strerror(errno));
	}
	size_t done = 0;
	while (done < len) {
		ssize_t w = write(fd, buf + done, len - done);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			break;
		}
		done += (size_t)w;
	}
	int e = errno;
	free(buf);
	if (done < len || fsync(fd) != 0) {
		e = errno;
		close(fd);
		unlink(tmp);
		return failf(RF_ERR_IO, "cannot write '%s': %s", path,
		    strerror(e));
	}
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		e = errno;
		unlink(tmp);
		return failf(RF_ERR_IO, "cannot write '%s': %s", path,
		    strerror(e));
	}
	return RF_OK;
}

REFUTE_API void
refute_model_free(refute_model *m)
{
	if (m != NULL) {
		pthread_mutex_destroy(&m->lock);
		engine_model_free(m->m);
		free(m->shapes);
		free(m);
	}
}

REFUTE_API const char *
refute_model_name(const refute_model *m)
{
	return m ? engine_model_name(m->m) : "";
}

REFUTE_API size_t
refute_model_input_count(const refute_model *m)
{
	return m ? engine_model_input_count(m->m) : 0;
}

REFUTE_API size_t
refute_model_output_count(const refute_model *m)
{
	return m ? engine_model_output_count(m->m) : 0;
}

REFUTE_API size_t
refute_model_op_count(const refute_model *m)
{
	return m ? engine_model_op_count(m->m) : 0;
}

static int
value_info(const refute_model *m, int idx, refute_value_info *out)
{
	struct engine_value_info vi;
	int err = engine_model_value(m->m, idx, &vi);
	if (err != RF_OK) {
		return fail(err, "no such value", NULL);
	}
	const struct engine_shape *s = &m->shapes[idx];
	memset(out, 0, sizeof(*out));
	out->name = vi.name;
	out->dtype = (int)s->dtype;
	if (vi.kind == ENGINE_VALUE_INPUT) {
		out->dtype = (int)vi.dtype;
		out->rank = vi.rank;
		memcpy(out->dims, vi.dims, (size_t)vi.rank * sizeof(vi.dims[0]));
	} else if (s->known) {
		out->rank = s->rank;
		memcpy(out->dims, s->dims, (size_t)s->rank * sizeof(s->dims[0]));
	} else {
		out->rank = -1;
	}
	return RF_OK;
}

REFUTE_API int
refute_model_input(const refute_model *m, size_t i, refute_value_info *out)
{
	if (m == NULL || out == NULL || i >= engine_model_input_count(m->m)) {
		return failf(RF_ERR_INVAL, "no input %zu", i);
	}
	return value_info(m, engine_model_input(m->m, i), out);
}

REFUTE_API int
refute_model_output(const refute_model *m, size_t i, refute_value_info *out)
{
	if (m == NULL || out == NULL || i >= engine_model_output_count(m->m)) {
		return failf(RF_ERR_INVAL, "no output %zu", i);
	}
	return value_info(m, engine_model_output(m->m, i), out);
}

static int
parse_hash(const char *hash, enum proto_hash *suite)
{
	if (hash == NULL) {
		*suite = PROTO_HASH_BLAKE3;
		return RF_OK;
	}
	if (proto_hash_parse(hash, suite) != RF_OK) {
		return failf(RF_ERR_INVAL, "unknown hash suite '%s' (blake3, "
		    "blake2b or xxh3)", hash);
	}
	return RF_OK;
}

REFUTE_API int
refute_model_id(const refute_model *m, const char *hash, char *hex,
    size_t hex_len)
{
	enum proto_hash suite;
	if (m == NULL || hex == NULL) {
		return failf(RF_ERR_INVAL, "refute_model_id: NULL argument");
	}
	int err = parse_hash(hash, &suite);
	if (err != RF_OK) {
		return err;
	}
	if (hex_len < 2 * proto_hash_len(suite) + 1) {
		return failf(RF_ERR_RANGE, "refute_model_id: hex needs %zu "
		    "bytes", 2 * proto_hash_len(suite) + 1);
	}
	if (proto_init() != RF_OK) {
		return failf(RF_ERR_CRYPTO, "cannot initialise libsodium");
	}
	struct proto_digest id;
	err = proto_model_id(suite, m->m, &id);
	if (err != RF_OK) {
		return fail(err, "model_id", NULL);
	}
	char buf[2 * PROTO_DIGEST_MAX + 1];
	proto_digest_hex(suite, &id, buf);
	memcpy(hex, buf, strlen(buf) + 1);
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Running                                                              */
/* ------------------------------------------------------------------ */

REFUTE_API void
refute_run_opts_init(refute_run_opts *o)
{
	o->kernels = REFUTE_KERNELS_FAST;
	o->trace = 0;
	o->hash = NULL;
}

/* Copies a caller's tensor into an engine tensor (aligned, owned),
 * checking what the caller claims. */
static int
copy_input(const refute_tensor *src, size_t i, struct tensor *dst)
{
	struct rf_errinfo ei = { "" };
	if (!engine_tensor_dtype_valid(src->dtype)) {
		return failf(RF_ERR_DTYPE, "input %zu: unknown dtype %d", i,
		    src->dtype);
	}
	if (src->rank < 0 || src->rank > TENSOR_MAX_RANK) {
		return failf(RF_ERR_RANGE, "input %zu: rank %d is over %d", i,
		    src->rank, TENSOR_MAX_RANK);
	}
	size_t count;
	int err = engine_tensor_shape_check(src->rank, src->dims, &count, &ei);
	if (err != RF_OK) {
		return failf(err, "input %zu: %s", i, ei.msg);
	}
	if (src->data == NULL && count > 0) {
		return failf(RF_ERR_INVAL, "input %zu: no data", i);
	}
	err = engine_tensor_init(dst, (enum tensor_dtype)src->dtype, src->rank,
	    src->dims);
	if (err != RF_OK) {
		return fail(err, "input", NULL);
	}
	memcpy(dst->data, src->data, engine_tensor_nbytes(dst));
	return RF_OK;
}

REFUTE_API int
refute_run(const refute_model *m, const refute_tensor *inputs,
    size_t n_inputs, const refute_run_opts *o, refute_result **out)
{
	refute_run_opts def;
	if (o == NULL) {
		refute_run_opts_init(&def);
		o = &def;
	}
	if (m == NULL || out == NULL || (n_inputs > 0 && inputs == NULL)) {
		return failf(RF_ERR_INVAL, "refute_run: NULL argument");
	}
	size_t want = engine_model_input_count(m->m);
	if (n_inputs != want) {
		return failf(RF_ERR_INVAL, "the model takes %zu inputs, %zu given",
		    want, n_inputs);
	}
	if (o->kernels != REFUTE_KERNELS_FAST && o->kernels != REFUTE_KERNELS_REF) {
		return failf(RF_ERR_INVAL, "unknown kernels %d", o->kernels);
	}
	enum proto_hash suite;
	int err = parse_hash(o->hash, &suite);
	if (err != RF_OK) {
		return err;
	}
	if (o->trace && proto_init() != RF_OK) {
		return failf(RF_ERR_CRYPTO, "cannot initialise libsodium");
	}
	struct tensor *in = calloc(want ? want : 1, sizeof(*in));
	refute_result *r = calloc(1, sizeof(*r));
	if (in == NULL || r == NULL) {
		free(in);
		free(r);
		return fail(RF_ERR_NOMEM, NULL, NULL);
	}
	for (size_t i = 0; i < want && err == RF_OK; i++) {
		err = copy_input(&inputs[i], i, &in[i]);
	}
	struct rf_errinfo ei = { "" };
	if (err == RF_OK) {
		enum engine_kernels k = o->kernels == REFUTE_KERNELS_REF ?
		    ENGINE_KERNELS_REF : ENGINE_KERNELS_FAST;
		/* The lock is only taken here, so the model is const to the
		 * caller; it is the one member a run writes. */
		pthread_mutex_t *lock = (pthread_mutex_t *)&m->lock;
		pthread_mutex_lock(lock);
		if (o->trace) {
			struct proto_digest *leaves = NULL, root;
			err = proto_trace_run(suite, m->m, in, want, r->out, k,
			    &leaves, &r->leaves, &root, &ei);
			free(leaves);
			if (err == RF_OK) {
				proto_digest_hex(suite, &root, r->root);
			}
		} else {
			struct engine_run_opts ro;
			engine_run_opts_init(&ro);
			ro.kernels = k;
			err = engine_run(m->m, in, want, r->out, &ro, &ei);
		}
		pthread_mutex_unlock(lock);
		if (err != RF_OK) {
			fail(err, "run failed", &ei);
		}
	}
	for (size_t i = 0; i < want; i++) {
		engine_tensor_fini(&in[i]);
	}
	free(in);
	if (err != RF_OK) {
		free(r);
		return err;
	}
	r->n = engine_model_output_count(m->m);
	*out = r;
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Generation                                                           */
/* ------------------------------------------------------------------ */

REFUTE_API void
refute_gen_opts_init(refute_gen_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->n_new = 1;
	o->top_p = 1.0f;
	o->seed = 1;
	o->kernels = REFUTE_KERNELS_FAST;
}

/* The generation graph's inputs: the prompt, and the seed unless the
 * sampler is greedy (cmd/cmd_generate.c does the same). */
static int
gen_inputs(const struct engine_model *gm, const int64_t *prompt,
    size_t prompt_len, uint64_t seed, struct tensor *in, size_t *n_in)
{
	int64_t pd[1] = { (int64_t)prompt_len };
	int64_t one[1] = { 1 };
	*n_in = engine_model_input_count(gm);
	if (*n_in < 1 || *n_in > 2) {
		return failf(RF_ERR_INVAL, "a generation graph with %zu inputs",
		    *n_in);
	}
	int err = engine_tensor_init(&in[0], TENSOR_I64, 1, pd);
	if (err != RF_OK) {
		return fail(err, NULL, NULL);
	}
	memcpy(in[0].data, prompt, prompt_len * sizeof(*prompt));
	if (*n_in == 2) {
		err = engine_tensor_init(&in[1], TENSOR_I64, 1, one);
		if (err != RF_OK) {
			engine_tensor_fini(&in[0]);
			return fail(err, NULL, NULL);
		}
		memcpy(in[1].data, &seed, sizeof(seed));
	}
	return RF_OK;
}

REFUTE_API int
refute_generate(const refute_model *m, const int64_t *prompt,
    size_t prompt_len, const refute_gen_opts *o, refute_result **out)
{
	if (m == NULL || o == NULL || out == NULL ||
	    (prompt_len > 0 && prompt == NULL)) {
		return failf(RF_ERR_INVAL, "refute_generate: NULL argument");
	}
	if (o->kernels != REFUTE_KERNELS_FAST && o->kernels != REFUTE_KERNELS_REF) {
		return failf(RF_ERR_INVAL, "unknown kernels %d", o->kernels);
	}
	enum proto_hash suite;
	int err = parse_hash(o->hash, &suite);
	if (err != RF_OK) {
		return err;
	}
	if (o->trace && proto_init() != RF_OK) {
		return failf(RF_ERR_CRYPTO, "cannot initialise libsodium");
	}
	struct rf_errinfo ei = { "" };
	struct engine_gpt_shape sh;
	err = engine_gpt_shape(m->m, &sh, &ei);
	if (err != RF_OK) {
		return fail(err, engine_model_name(m->m), &ei);
	}
	if (prompt_len > (size_t)sh.context) {
		return failf(RF_ERR_RANGE, "a prompt of %zu tokens is longer "
		    "than the context of %lld", prompt_len, (long long)sh.context);
	}
	for (size_t i = 0; i < prompt_len; i++) {
		if (prompt[i] < 0 || prompt[i] >= sh.vocab) {
			return failf(RF_ERR_RANGE, "prompt token %zu is %lld, "
			    "outside the vocabulary of %lld", i,
			    (long long)prompt[i], (long long)sh.vocab);
		}
	}
	struct engine_generation g;
	memset(&g, 0, sizeof(g));
	engine_sampler_init(&g.sampler);
	g.prompt_len = (int64_t)prompt_len;
	g.n_new = o->n_new;
	g.sampler.temperature = o->temperature;
	g.sampler.top_k = o->top_k;
	g.sampler.top_p = o->top_p;
	struct engine_model *gm = NULL;
	err = engine_generation_check(&sh, &g, &ei);
	if (err == RF_OK) {
		err = engine_generation_model(m->m, &g, &gm, &ei);
	}
	if (err != RF_OK) {
		return fail(err, NULL, &ei);
	}
	struct tensor in[2];
	memset(in, 0, sizeof(in));
	size_t n_in = 0;
	refute_result *r = calloc(1, sizeof(*r));
	err = r == NULL ? fail(RF_ERR_NOMEM, NULL, NULL) :
	    gen_inputs(gm, prompt, prompt_len, o->seed, in, &n_in);
	if (err == RF_OK) {
		enum engine_kernels k = o->kernels == REFUTE_KERNELS_REF ?
		    ENGINE_KERNELS_REF : ENGINE_KERNELS_FAST;
		/* The graph borrows m's weights: runs of m take turns. */
		pthread_mutex_t *lock = (pthread_mutex_t *)&m->lock;
		pthread_mutex_lock(lock);
		if (o->trace) {
			struct proto_digest *leaves = NULL, root;
			err = proto_trace_run(suite, gm, in, n_in, r->out, k,
			    &leaves, &r->leaves, &root, &ei);
			free(leaves);
			if (err == RF_OK) {
				proto_digest_hex(suite, &root, r->root);
			}
		} else {
			struct engine_run_opts ro;
			engine_run_opts_init(&ro);
			ro.kernels = k;
			err = engine_run(gm, in, n_in, r->out, &ro, &ei);
		}
		pthread_mutex_unlock(lock);
		if (err != RF_OK) {
			fail(err, "generation failed", &ei);
		}
		for (size_t i = 0; i < n_in; i++) {
			engine_tensor_fini(&in[i]);
		}
	}
	if (err == RF_OK) {
		r->n = engine_model_output_count(gm);
		*out = r;
	} else {
		free(r);
	}
	engine_model_free(gm);
	return err;
}

REFUTE_API size_t
refute_result_output_count(const refute_result *r)
{
	return r ? r->n : 0;
}

REFUTE_API int
refute_result_output(const refute_result *r, size_t i, refute_tensor *out)
{
	if (r == NULL || out == NULL || i >= r->n) {
		return failf(RF_ERR_INVAL, "no output %zu", i);
	}
	const struct tensor *t = &r->out[i];
	memset(out, 0, sizeof(*out));
	out->dtype = (int)t->dtype;
	out->rank = t->rank;
	memcpy(out->dims, t->dims, sizeof(out->dims));
	out->data = t->data;
	return RF_OK;
}

REFUTE_API const char *
refute_result_trace_root(const refute_result *r)
{
	return r ? r->root : "";
}

REFUTE_API size_t
refute_result_trace_leaves(const refute_result *r)
{
	return r ? r->leaves : 0;
}

REFUTE_API void
refute_result_free(refute_result *r)
{
	if (r != NULL) {
		for (size_t i = 0; i < r->n; i++) {
			engine_tensor_fini(&r->out[i]);
		}
		free(r);
	}
}

/* ------------------------------------------------------------------ */
/* Auditing a verdict                                                   */
/* ------------------------------------------------------------------ */

/* The rules to audit by, as `refute audit` reads them (cmd/cmd_audit.c):
 * the genesis's parameters and the referee it names, or key. */
static int
audit_rules(const char *genesis, const char *key,
    struct bisect_audit_rules *ru)
{
	uint8_t *text;
	size_t len;
	struct rf_errinfo ei = { "" };
	int err = node_file_read(genesis, (size_t)1 << 20, &text, &len, &ei);
	if (err != RF_OK) {
		return fail(err, NULL, &ei);
	}
	struct referee_genesis g;
	err = referee_genesis_parse((const char *)text, len, &g, &ei);
	free(text);
	if (err != RF_OK) {
		return fail(err, genesis, &ei);
	}
	memset(ru, 0, sizeof(*ru));
	ru->suite = g.params.suite;
	ru->arity = g.params.arity;
	referee_params_chain(&g.params, &ru->money);
	ru->referee = g.referee;
	bool have = g.has_referee;
	referee_genesis_free(&g);
	if (key != NULL) {
		struct proto_pubkey k;
		if (proto_pubkey_parse_hex(key, &k) != RF_OK) {
			return failf(RF_ERR_INVAL, "the referee key must be 64 hex "
			    "digits");
		}
		if (have && memcmp(k.b, ru->referee.b, PROTO_KEY_LEN) != 0) {
			return failf(RF_ERR_CRYPTO, "the referee key is not the "
			    "referee %s names", genesis);
		}
		ru->referee = k;
		have = true;
	}
	if (!have) {
		return failf(RF_ERR_INVAL, "%s names no referee: give its key",
		    genesis);
	}
	return RF_OK;
}

REFUTE_API int
refute_audit_verdict(const char *verdict_path, const char *genesis_path,
    const char *referee_key, refute_audit *out)
{
	if (verdict_path == NULL || genesis_path == NULL || out == NULL) {
		return failf(RF_ERR_INVAL, "refute_audit_verdict: NULL argument");
	}
	if (proto_init() != RF_OK) {
		return failf(RF_ERR_CRYPTO, "cannot initialise libsodium");
	}
	struct bisect_audit_rules rules;
	int err = audit_rules(genesis_path, referee_key, &rules);
	if (err != RF_OK) {
		return err;
	}
	uint8_t *buf;
	size_t len;
	struct rf_errinfo ei = { "" };
	err = node_file_read(verdict_path, PROTO_MAX_MESSAGE, &buf, &len, &ei);
	if (err != RF_OK) {
		return fail(err, NULL, &ei);
	}
	struct bisect_audit_result res;
	err = bisect_audit(buf, len, &rules, &res, &ei);
	free(buf);
	if (err != RF_OK) {
		return failf(err, "%s: the verdict does not replay: %s",
		    verdict_path, ei.msg[0] ? ei.msg : rf_strerror(err));
	}
	const struct proto_verdict *v = &res.verdict;
	memset(out, 0, sizeof(*out));
	out->confirmed = res.confirmed;
	out->executor_won = v->executor_won != 0;
	out->op = v->op;
	out->rounds = v->rounds;
	out->slashed = v->slashed;
	out->reward = v->reward;
	char hex[2 * PROTO_DIGEST_MAX + 1];
	proto_digest_hex(rules.suite, &v->dispute_id, hex);
	snprintf(out->dispute_id, sizeof(out->dispute_id), "%s", hex);
	proto_digest_hex(rules.suite, &v->job_id, hex);
	snprintf(out->job_id, sizeof(out->job_id), "%s", hex);
	snprintf(out->reason, sizeof(out->reason), "%s",
	    proto_verdict_reason_name(v->reason));
	snprintf(out->why, sizeof(out->why), "%s", res.why);
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* A network                                                            */
/* ------------------------------------------------------------------ */

struct refute_client {
	struct node_rpc rpc;
	bool registered;
};

/* An identity file, refused when others may read it (as the command
 * line does). */
static int
load_identity(const char *path, struct proto_identity *id)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		return failf(RF_ERR_IO, "cannot open identity '%s': %s", path,
		    strerror(errno));
	}
	if ((st.st_mode & 077) != 0) {
		return failf(RF_ERR_INVAL, "identity '%s' is accessible by "
		    "others (mode %04o); run: chmod 600 %s", path,
		    (unsigned)(st.st_mode & 07777), path);
	}
	uint8_t *buf;
	size_t len;
	struct rf_errinfo ei = { "" };
	int err = node_file_read(path, 4096, &buf, &len, &ei);
	if (err != RF_OK) {
		return fail(err, NULL, &ei);
	}
	err = proto_identity_parse((const char *)buf, len, id, &ei);
	memset(buf, 0, len);
	free(buf);
	if (err != RF_OK) {
		return failf(err, "'%s' is not a valid identity: %s", path,
		    ei.msg[0] ? ei.msg : rf_strerror(err));
	}
	return RF_OK;
}

REFUTE_API int
refute_client_open(const char *referee_url, const char *identity_path,
    const char *referee_key, refute_client **out)
{
	if (referee_url == NULL || out == NULL) {
		return failf(RF_ERR_INVAL, "refute_client_open: NULL argument");
	}
	if (proto_init() != RF_OK) {
		return failf(RF_ERR_CRYPTO, "cannot initialise libsodium");
	}
	struct proto_pubkey rk;
	if (referee_key != NULL &&
	    proto_pubkey_parse_hex(referee_key, &rk) != RF_OK) {
		return failf(RF_ERR_INVAL, "the referee key must be 64 hex "
		    "digits");
	}
	struct proto_identity id;
	int err = identity_path != NULL ? load_identity(identity_path, &id) :
	    proto_identity_generate(&id);
	if (err != RF_OK) {
		return identity_path != NULL ? err :
		    fail(err, "cannot make a key", NULL);
	}
	refute_client *c = calloc(1, sizeof(*c));
	struct rf_errinfo ei = { "" };
	enum proto_hash suite = PROTO_HASH_BLAKE3;
	err = c == NULL ? RF_ERR_NOMEM : node_referee_suite(referee_url, &id,
	    referee_key ? &rk : NULL, &suite, &ei);
	if (err == RF_OK) {
		err = node_rpc_open(&c->rpc, referee_url, &id, suite,
		    referee_key ? &rk : NULL, &ei);
	}
	proto_identity_wipe(&id);
	if (err != RF_OK) {
		free(c);
		return failf(err, "cannot reach the referee at %s: %s",
		    referee_url, ei.msg[0] ? ei.msg : rf_strerror(err));
	}
	*out = c;
	return RF_OK;
}

REFUTE_API void
refute_client_close(refute_client *c)
{
	if (c != NULL) {
		node_rpc_close(&c->rpc);
		free(c);
	}
}

/* One request and its reply; the referee's refusal is its own text. */
static int
call(refute_client *c, enum proto_msg_type type, const void *req,
    enum proto_msg_type want, void *reply, size_t size)
{
	struct rf_errinfo ei = { "" };
	int err = node_rpc_expect(&c->rpc, type, req, want, reply, size, &ei);
	if (err == RF_ERR_INVAL) {
		return failf(RF_ERR_REFUSED, "%s", ei.msg);
	}
	if (err != RF_OK) {
		return failf(err, "%s: %s", proto_msg_type_name((int)type),
		    ei.msg[0] ? ei.msg : rf_strerror(err));
	}
	return RF_OK;
}

REFUTE_API int
refute_submit(refute_client *c, const refute_model *m,
    const refute_tensor *inputs, size_t n_inputs, uint64_t fee,
    char *job_hex, size_t job_hex_len)
{
	if (c == NULL || m == NULL || job_hex == NULL ||
	    (n_inputs > 0 && inputs == NULL)) {
		return failf(RF_ERR_INVAL, "refute_submit: NULL argument");
	}
	size_t want = engine_model_input_count(m->m);
	if (n_inputs != want) {
		return failf(RF_ERR_INVAL, "the model takes %zu inputs, %zu given",
		    want, n_inputs);
	}
	if (want > PROTO_MAX_TENSORS) {
		return failf(RF_ERR_RANGE, "a job holds at most %d inputs",
		    PROTO_MAX_TENSORS);
	}
	if (job_hex_len < 2 * proto_hash_len(c->rpc.suite) + 1) {
		return failf(RF_ERR_RANGE, "refute_submit: job_hex is too short");
	}
	/* A job holds up to 64 tensors: on the heap. */
	struct proto_job_submit *req = calloc(1, sizeof(*req));
	if (req == NULL) {
		return fail(RF_ERR_NOMEM, NULL, NULL);
	}
	int err = RF_OK;
	for (size_t i = 0; i < want && err == RF_OK; i++) {
		err = copy_input(&inputs[i], i, &req->inputs[i]);
		if (err == RF_OK) {
			req->n_inputs = (uint8_t)(i + 1);
		}
	}
	/* What the network would refuse, refused here first: the inputs
	 * against the model's declared ones, for every operator. */
	struct engine_shape sh[ENGINE_MAX_GRAPH_IO];
	for (size_t i = 0; err == RF_OK && i < want; i++) {
		sh[i].known = true;
		sh[i].dtype = req->inputs[i].dtype;
		sh[i].rank = req->inputs[i].rank;
		memcpy(sh[i].dims, req->inputs[i].dims, sizeof(sh[i].dims));
	}
	if (err == RF_OK) {
		struct rf_errinfo ei = { "" };
		size_t nv = engine_model_value_count(m->m);
		struct engine_shape *all = calloc(nv ? nv : 1, sizeof(*all));
		err = all == NULL ? RF_ERR_NOMEM :
		    engine_model_check_inputs(m->m, sh, want, all, &ei);
		free(all);
		if (err != RF_OK) {
			fail(err, "the inputs do not fit the model", &ei);
		}
	}
	if (err == RF_OK) {
		err = proto_model_id(c->rpc.suite, m->m, &req->model_id);
		if (err != RF_OK) {
			fail(err, "model_id", NULL);
		}
	}
	req->fee = fee;
	req->nonce = ((uint64_t)getpid() << 40) ^ node_wall_ms() ^
	    (uint64_t)(uintptr_t)req;
	/* A client is a node too: registering is idempotent. */
	if (err == RF_OK && !c->registered) {
		struct proto_node_register reg;
		memset(&reg, 0, sizeof(reg));
		reg.roles = PROTO_ROLE_CLIENT;
		snprintf(reg.name, sizeof(reg.name), "client");
		err = call(c, PROTO_MSG_NODE_REGISTER, &reg, PROTO_MSG_ACK,
		    NULL, 0);
		c->registered = err == RF_OK;
	}
	struct proto_ack ack;
	if (err == RF_OK) {
		err = call(c, PROTO_MSG_JOB_SUBMIT, req, PROTO_MSG_ACK, &ack,
		    sizeof(ack));
	}
	proto_job_submit_free(req);
	free(req);
	if (err != RF_OK) {
		return err;
	}
	char hex[2 * PROTO_DIGEST_MAX + 1];
	proto_digest_hex(c->rpc.suite, &ack.id, hex);
	memcpy(job_hex, hex, strlen(hex) + 1);
	return RF_OK;
}

/* The claim's outputs must be the model's declared outputs (the
 * referee binds them to the output's trace entry; this catches a
 * referee that does not). */
static int
check_claim_outputs(const refute_model *m, const struct proto_claim_info *ci)
{
	size_t n = engine_model_output_count(m->m);
	if (ci->n_outputs != n) {
		return failf(RF_ERR_FORMAT, "the claim delivers %u outputs, the "
		    "model declares %zu", ci->n_outputs, n);
	}
	for (size_t i = 0; i < n; i++) {
		const struct tensor *t = &ci->outputs[i];
		const struct engine_shape *e =
		    &m->shapes[engine_model_output(m->m, i)];
		bool ok = t->dtype == e->dtype && (!e->known ||
		    (t->rank == e->rank && memcmp(t->dims, e->dims,
		    (size_t)e->rank * sizeof(e->dims[0])) == 0));
		if (!ok) {
			char got[96];
			engine_tensor_shape_str(t, got, sizeof(got));
			return failf(RF_ERR_FORMAT, "output %zu delivered is %s, "
			    "not the model's declared output: refusing it", i, got);
		}
	}
	return RF_OK;
}

REFUTE_API int
refute_wait(refute_client *c, const refute_model *m, const char *job_hex,
    uint32_t timeout_ms, refute_result **out)
{
	if (c == NULL || m == NULL || job_hex == NULL || out == NULL) {
		return failf(RF_ERR_INVAL, "refute_wait: NULL argument");
	}
	struct proto_claim_status req;
	memset(&req, 0, sizeof(req));
	if (proto_digest_parse_hex(c->rpc.suite, job_hex, &req.job_id) != RF_OK) {
		return failf(RF_ERR_INVAL, "'%s' is not a job id of this "
		    "network's suite", job_hex);
	}
	uint64_t deadline = node_deadline(timeout_ms);
	struct proto_claim_info *info = calloc(1, sizeof(*info));
	if (info == NULL) {
		return fail(RF_ERR_NOMEM, NULL, NULL);
	}
	int err;
	for (;;) {
		err = call(c, PROTO_MSG_CLAIM_STATUS, &req, PROTO_MSG_CLAIM_INFO,
		    info, sizeof(*info));
		if (err != RF_OK) {
			free(info);
			return err;
		}
		if (info->state == PROTO_JOB_FINAL ||
		    info->state == PROTO_JOB_INVALID) {
			break;
		}
		proto_claim_info_free(info);
		if (node_deadline_passed(deadline)) {
			free(info);
			return failf(RF_ERR_TIMEOUT, "job %.16s... is not final "
			    "after %u ms", job_hex, timeout_ms);
		}
		usleep(100 * 1000);
	}
	if (info->state == PROTO_JOB_INVALID) {
		err = failf(RF_ERR_REFUSED, "job %.16s...: the claim fell in a "
		    "dispute (invalid)", job_hex);
	} else {
		err = check_claim_outputs(m, info);
	}
	refute_result *r = err == RF_OK ? calloc(1, sizeof(*r)) : NULL;
	if (err == RF_OK && r == NULL) {
		err = fail(RF_ERR_NOMEM, NULL, NULL);
	}
	if (err == RF_OK) {
		/* The outputs move into the result. */
		r->n = info->n_outputs;
		for (size_t i = 0; i < r->n; i++) {
			r->out[i] = info->outputs[i];
			memset(&info->outputs[i], 0, sizeof(info->outputs[i]));
		}
		info->n_outputs = 0;
		proto_digest_hex(c->rpc.suite, &info->trace_root, r->root);
		r->leaves = info->n;
		*out = r;
	}
	proto_claim_info_free(info);
	free(info);
	return err;
}
