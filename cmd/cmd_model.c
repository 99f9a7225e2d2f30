/*
 * cmd/cmd_model.c - `refute model gen | info | run` (`refute generate`
 * is cmd/cmd_generate.c).
 */
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "node/node.h"
#include "protocol/protocol.h"
#include "cmd/cli.h"
#include "cmd/cmds.h"

#define MODEL_FILE_MAX ((size_t)1 << 34)
#define NPY_FILE_MAX ((size_t)1 << 32)
/* --repeat: enough for any benchmark, small enough to allocate. */
#define RUN_REPEAT_MAX 1000000

static int
load_model(const struct cli_cmd *cmd, const char *path,
    struct engine_model **m)
{
	/* Mapped, not read and copied: a version 2 file's weights stay in
	 * the page cache's pages (engine_model_load). */
	struct rf_errinfo ei = { "" };
	int err = engine_model_load(path, MODEL_FILE_MAX, m, &ei);
	if (err == RF_ERR_IO || err == RF_ERR_RANGE) {
		return cmd_fail(cmd, "%s", ei.msg);
	}
	if (err != RF_OK) {
		return cmd_fail(cmd, "'%s' is not a valid model: %s", path,
		    ei.msg[0] ? ei.msg : rf_strerror(err));
	}
	return CLI_EXIT_OK;
}

int
cmd_engine_threads(const struct cli_cmd *cmd, int64_t threads)
{
	if (threads > ENGINE_THREADS_MAX) {
		return cmd_usage_error(cmd, "--threads is at most %d",
		    ENGINE_THREADS_MAX);
	}
	if (engine_threads_set((unsigned)threads) != RF_OK) {
		return cmd_fail(cmd, "cannot start %lld threads",
		    (long long)threads);
	}
	return CLI_EXIT_OK;
}

static void
shape_str(int rank, const int64_t *dims, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	for (int i = 0; i < rank && off + 1 < len; i++) {
		int n = dims[i] < 0 ?
		    snprintf(buf + off, len - off, "%s?", i ? "," : "") :
		    snprintf(buf + off, len - off, "%s%lld", i ? "," : "",
		        (long long)dims[i]);
		if (n < 0) {
			return;
		}
		off += (size_t)n;
	}
}

/* ------------------------------------------------------------------ */
/* model gen                                                            */
/* ------------------------------------------------------------------ */

int
cmd_model_gen(int argc, char **argv)
{
	const char *out = NULL;
	struct engine_gen_opts o;
	engine_gen_opts_init(&o, ENGINE_GEN_MLP);
	/* Sizes are read into a scratch copy, then applied over the kind's
	 * defaults once the kind is known; -1 means "not given". */
	int64_t batch = -1, in = -1, hidden = -1, outf = -1, layers = -1,
		ops = -1, channels = -1, image = -1, classes = -1, vocab = -1,
		dmodel = -1, heads = -1, dff = -1, blocks = -1, context = -1;
	uint64_t seed = 1;
	bool untied = false;
	const struct cli_opt opts[] = {
		{ "output", 'o', CLI_STR, &out, "FILE", "model file to write (.rfm)" },
		{ "seed", 's', CLI_U64, &seed, "S", "weights seed (default 1)" },
		{ "batch", 0, CLI_I64, &batch, "N",
		    "input rows (mlp, cnn) or sequence length (transformer)" },
		{ "in", 0, CLI_I64, &in, "N", "mlp: input features (64)" },
		{ "hidden", 0, CLI_I64, &hidden, "N", "mlp: hidden width (128)" },
		{ "out", 0, CLI_I64, &outf, "N", "mlp: output classes (10)" },
		{ "layers", 0, CLI_I64, &layers, "N",
		    "mlp: dense layers (3); gpt: blocks (2)" },
		{ "ops", 0, CLI_I64, &ops, "N",
		    "mlp: exactly N operators (Gemm, Relu, ...)" },
		{ "channels", 0, CLI_I64, &channels, "N", "cnn: input channels (3)" },
		{ "image", 0, CLI_I64, &image, "N", "cnn: image size (32)" },
		{ "classes", 0, CLI_I64, &classes, "N", "cnn: classes (10)" },
		{ "vocab", 0, CLI_I64, &vocab, "N",
		    "transformer, gpt: vocabulary (256)" },
		{ "d-model", 0, CLI_I64, &dmodel, "N",
		    "transformer, gpt: width (64)" },
		{ "heads", 0, CLI_I64, &heads, "N", "transformer, gpt: heads (4)" },
		{ "context", 0, CLI_I64, &context, "N",
		    "gpt: context, positions (128)" },
		{ "untied", 0, CLI_FLAG, &untied, NULL,
		    "gpt: a head of its own (default: tied to the token\n"
		    "embedding)" },
		{ "d-ff", 0, CLI_I64, &dff, "N", "transformer: MLP width (256)" },
		{ "blocks", 0, CLI_I64, &blocks, "N", "transformer: blocks (1)" },
	};
	const struct cli_cmd cmd = {
		.path = "model gen",
		.args = "mlp|cnn|transformer|gpt",
		.summary = "Generate a synthetic model with weights drawn from a "
		    "seed. The same options\nalways give the same file, byte for "
		    "byte.",
		.opts = opts,
		.n_opts = sizeof(opts) / sizeof(opts[0]),
		.min_pos = 1,
		.max_pos = 1,
	};
	const char *pos[1];
	size_t np;
	int rc = cmd_parse(&cmd, argc, argv, pos, &np);
	if (rc >= 0) {
		return rc;
	}
	enum engine_gen_kind kind;
	if (engine_gen_parse_kind(pos[0], &kind) != RF_OK) {
		return cmd_usage_error(&cmd,
		    "unknown model kind '%s' (mlp, cnn, transformer or gpt)",
		    pos[0]);
	}
	if (out == NULL) {
		return cmd_usage_error(&cmd, "missing --output FILE");
	}
	engine_gen_opts_init(&o, kind);
	o.seed = seed;
#define SET(field, v)                                                      \
	if ((v) >= 0) {                                                    \
		o.field = (v);                                             \
	}
	SET(batch, batch);
	SET(in_features, in);
	SET(hidden, hidden);
	SET(out_features, outf);
	if (kind == ENGINE_GEN_GPT) {
		SET(blocks, layers);
		SET(context, context);
		o.tied = !untied;
	} else {
		SET(layers, layers);
	}
	SET(ops, ops);
	SET(channels, channels);
	SET(image_size, image);
	SET(classes, classes);
	SET(vocab, vocab);
	SET(d_model, dmodel);
	SET(heads, heads);
	SET(d_ff, dff);
	SET(blocks, blocks);
#undef SET
	struct engine_model *m;
	struct rf_errinfo ei = { "" };
	int err = engine_model_generate(&o, &m, &ei);
	if (err != RF_OK) {
		return cmd_usage_error(&cmd, "%s", ei.msg[0] ? ei.msg :
		    rf_strerror(err));
	}
	err = cmd_model_servable(m, &ei);
	if (err != RF_OK && kind == ENGINE_GEN_GPT) {
		/* A language model is run through its generation graph
		 * (`refute generate`); a big one may not be disputable whole
		 * yet, which is no reason not to write it. */
		fprintf(stderr, "note: this model cannot be served as it is: "
		    "%s\n", ei.msg[0] ? ei.msg : rf_strerror(err));
	} else if (err != RF_OK) {
		engine_model_free(m);
		return cmd_fail(&cmd, "this model cannot be served: %s", ei.msg[0] ?
		    ei.msg : rf_strerror(err));
	}
	uint8_t *buf;
	size_t len;
	err = engine_model_encode(m, &buf, &len);
	if (err != RF_OK) {
		engine_model_free(m);
		return cmd_fail(&cmd, "encoding failed: %s", rf_strerror(err));
	}
	rc = cmd_write_file(&cmd, out, buf, len, 0644);
	if (rc == CLI_EXIT_OK) {
		printf("wrote %s: %s, %zu operators, %zu parameters, %zu bytes\n",
		    out, engine_model_name(m), engine_model_op_count(m),
		    engine_model_param_count(m), len);
	}
	free(buf);
	engine_model_free(m);
	return rc;
}

/* ------------------------------------------------------------------ */
/* model info                                                           */
/* ------------------------------------------------------------------ */

int
cmd_model_servable(const struct engine_model *m, struct rf_errinfo *ei)
{
	uint8_t *graph;
	size_t glen;
	if (proto_init() != RF_OK) {
		return RF_ERR_CRYPTO;
	}
	int err = engine_model_encode_graph(m, &graph, &glen);
	if (err != RF_OK) {
		return err;
	}
	free(graph);
	/* blake2b: its digests are the longest, so its bound holds for
	 * every suite. */
	return proto_model_dispute_check(PROTO_HASH_BLAKE2B, m, glen, ei);
}

/* model_id in a suite, as hex; "?" if it cannot be computed. A model's
 * id depends on the network's suite (its genesis): both secure ones are
 * shown, each named. */
static void
model_id_hex(const struct engine_model *m, enum proto_hash suite, char *hex)
{
	struct proto_digest id;
	if (proto_init() != RF_OK || proto_model_id(suite, m, &id) != RF_OK) {
		hex[0] = '?';
		hex[1] = '\0';
		return;
	}
	proto_digest_hex(suite, &id, hex);
}

static void
info_io_json(struct json_out *j, const struct engine_model *m, int v)
{
	struct engine_value_info vi;
	engine_model_value(m, v, &vi);
	cmd_json_obj_open(j, NULL);
	cmd_json_str(j, "name", vi.name);
	if (vi.kind == ENGINE_VALUE_INPUT) {
		cmd_json_str(j, "dtype", engine_tensor_dtype_name(vi.dtype));
		cmd_json_arr_open(j, "shape");
		for (int d = 0; d < vi.rank; d++) {
			cmd_json_int(j, NULL, (long long)vi.dims[d]);
		}
		cmd_json_arr_close(j);
	}
	cmd_json_obj_close(j);
}

static void
info_json(const struct engine_model *m, const char *path, size_t bytes)
{
	struct json_out j;
	char id[2 * PROTO_DIGEST_MAX + 1], id2[2 * PROTO_DIGEST_MAX + 1];
	model_id_hex(m, PROTO_HASH_BLAKE3, id);
	model_id_hex(m, PROTO_HASH_BLAKE2B, id2);
	cmd_json_begin(&j, stdout);
	cmd_json_str(&j, "file", path);
	cmd_json_uint(&j, "bytes", bytes);
	cmd_json_str(&j, "name", engine_model_name(m));
	cmd_json_str(&j, "model_id", id);
	cmd_json_str(&j, "hash", proto_hash_name(PROTO_HASH_BLAKE3));
	cmd_json_str(&j, "model_id_blake2b", id2);
	cmd_json_uint(&j, "operators", engine_model_op_count(m));
	cmd_json_uint(&j, "values", engine_model_value_count(m));
	cmd_json_uint(&j, "parameters", engine_model_param_count(m));
	cmd_json_uint(&j, "trace_length", engine_trace_length(m));
	cmd_json_arr_open(&j, "inputs");
	for (size_t i = 0; i < engine_model_input_count(m); i++) {
		info_io_json(&j, m, engine_model_input(m, i));
	}
	cmd_json_arr_close(&j);
	cmd_json_arr_open(&j, "outputs");
	for (size_t i = 0; i < engine_model_output_count(m); i++) {
		info_io_json(&j, m, engine_model_output(m, i));
	}
	cmd_json_arr_close(&j);
	cmd_json_arr_open(&j, "ops");
	for (size_t k = 0; k < engine_model_op_count(m); k++) {
		struct engine_op_info oi;
		engine_model_op(m, k, &oi);
		cmd_json_obj_open(&j, NULL);
		cmd_json_str(&j, "type", engine_op_name(oi.op));
		cmd_json_str(&j, "name", oi.name);
		cmd_json_arr_open(&j, "inputs");
		for (size_t i = 0; i < oi.n_inputs; i++) {
			struct engine_value_info vi;
			if (oi.inputs[i] == ENGINE_NO_VALUE) {
				cmd_json_str(&j, NULL, "");
				continue;
			}
			engine_model_value(m, oi.inputs[i], &vi);
			cmd_json_str(&j, NULL, vi.name);
		}
		cmd_json_arr_close(&j);
		cmd_json_obj_close(&j);
	}
	cmd_json_arr_close(&j);
	cmd_json_end(&j);
}

static void
info_text(const struct engine_model *m, const char *path, size_t bytes)
{
	char shp[128];
	char id[2 * PROTO_DIGEST_MAX + 1];
	printf("model       %s (%s, %zu bytes)\n", engine_model_name(m), path,
	    bytes);
	model_id_hex(m, PROTO_HASH_BLAKE3, id);
	printf("model_id    %s (blake3-256)\n", id);
	model_id_hex(m, PROTO_HASH_BLAKE2B, id);
	printf("model_id    %s (blake2b-256)\n", id);
	printf("operators   %zu (trace length %zu)\n", engine_model_op_count(m),
	    engine_trace_length(m));
	printf("parameters  %zu\n", engine_model_param_count(m));
	for (size_t i = 0; i < engine_model_input_count(m); i++) {
		struct engine_value_info vi;
		engine_model_value(m, engine_model_input(m, i), &vi);
		shape_str(vi.rank, vi.dims, shp, sizeof(shp));
		printf("input       %s %s[%s]\n", vi.name,
		    engine_tensor_dtype_name(vi.dtype), shp);
	}
	for (size_t i = 0; i < engine_model_output_count(m); i++) {
		struct engine_value_info vi;
		engine_model_value(m, engine_model_output(m, i), &vi);
		printf("output      %s\n", vi.name);
	}
	printf("\n  #  %-20s %-24s inputs\n", "op", "name");
	for (size_t k = 0; k < engine_model_op_count(m); k++) {
		struct engine_op_info oi;
		engine_model_op(m, k, &oi);
		printf("%3zu  %-20s %-24s", k, engine_op_name(oi.op), oi.name);
		for (size_t i = 0; i < oi.n_inputs; i++) {
			struct engine_value_info vi;
			const char *n = "-";
			if (oi.inputs[i] != ENGINE_NO_VALUE) {
				engine_model_value(m, oi.inputs[i], &vi);
				n = vi.name;
				if (vi.kind == ENGINE_VALUE_WEIGHT) {
					engine_tensor_shape_str(vi.weight, shp,
					    sizeof(shp));
					printf("%s%s:%s", i ? ", " : " ", n, shp);
					continue;
				}
			}
			printf("%s%s", i ? ", " : " ", n);
		}
		printf("\n");
	}
}

int
cmd_model_info(int argc, char **argv)
{
	bool json = false;
	const struct cli_opt opts[] = {
		{ "json", 0, CLI_FLAG, &json, NULL, "print a JSON object" },
	};
	const struct cli_cmd cmd = {
		.path = "model info",
		.args = "FILE",
		.summary = "Describe a model file: inputs, outputs, operators and "
		    "weights.",
		.opts = opts,
		.n_opts = 1,
		.min_pos = 1,
		.max_pos = 1,
	};
	const char *pos[1];
	size_t np;
	int rc = cmd_parse(&cmd, argc, argv, pos, &np);
	if (rc >= 0) {
		return rc;
	}
	struct engine_model *m;
	rc = load_model(&cmd, pos[0], &m);
	if (rc != CLI_EXIT_OK) {
		return rc;
	}
	uint8_t *buf;
	size_t len = 0;
	if (engine_model_encode(m, &buf, &len) == RF_OK) {
		free(buf);
	}
	if (json) {
		info_json(m, pos[0], len);
	} else {
		info_text(m, pos[0], len);
	}
	engine_model_free(m);
	return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* model run                                                            */
/* ------------------------------------------------------------------ */

static void
print_trace_json(struct json_out *j, enum proto_hash suite,
    const struct proto_digest *leaves, size_t n,
    const struct proto_digest *root)
{
	char hex[2 * PROTO_DIGEST_MAX + 1];
	cmd_json_str(j, "hash", proto_hash_name(suite));
	proto_digest_hex(suite, root, hex);
	cmd_json_str(j, "trace_root", hex);
	cmd_json_uint(j, "n", n);
	cmd_json_arr_open(j, "leaves");
	for (size_t i = 0; i < n; i++) {
		proto_digest_hex(suite, &leaves[i], hex);
		cmd_json_str(j, NULL, hex);
	}
	cmd_json_arr_close(j);
}

static int
read_inputs(const struct cli_cmd *cmd, const struct engine_model *m,
    const struct cli_strs *files, uint64_t seed, struct tensor *inputs)
{
	size_t n = engine_model_input_count(m);
	if (files->n == 0) {
		struct rf_errinfo ei = { "" };
		int err = engine_inputs_random(m, seed, inputs, &ei);
		if (err != RF_OK) {
			return cmd_fail(cmd, "cannot make inputs: %s", ei.msg);
		}
		return CLI_EXIT_OK;
	}
	if (files->n != n) {
		return cmd_usage_error(cmd,
		    "the model takes %zu inputs, %zu --input files given", n,
		    files->n);
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t *buf;
		size_t len;
		int rc = cmd_read_file(cmd, files->v[i], NPY_FILE_MAX, &buf, &len);
		struct rf_errinfo ei = { "" };
		int err = RF_OK;
		if (rc == CLI_EXIT_OK) {
			err = engine_tensor_npy_decode(buf, len, &inputs[i], &ei);
			free(buf);
			if (err != RF_OK) {
				rc = cmd_fail(cmd, "'%s': %s", files->v[i],
				    ei.msg[0] ? ei.msg : rf_strerror(err));
			}
		}
		if (rc != CLI_EXIT_OK) {
			for (size_t k = 0; k < i; k++) {
				engine_tensor_fini(&inputs[k]);
			}
			return rc;
		}
	}
	return CLI_EXIT_OK;
}

static int
write_outputs(const struct cli_cmd *cmd, const struct cli_strs *files,
    const struct tensor *outputs)
{
	for (size_t i = 0; i < files->n; i++) {
		uint8_t *buf;
		size_t len;
		if (engine_tensor_npy_encode(&outputs[i], &buf, &len) != RF_OK) {
			return cmd_fail(cmd, "cannot encode output %zu", i);
		}
		int rc = cmd_write_file(cmd, files->v[i], buf, len, 0644);
		free(buf);
		if (rc != CLI_EXIT_OK) {
			return rc;
		}
	}
	return CLI_EXIT_OK;
}

/* One run: traced (leaves and root) or plain. */
static int
run_model(const struct engine_model *m, const struct tensor *inputs,
    size_t n_in, struct tensor *outputs, const struct engine_run_opts *ro,
    bool trace, enum proto_hash suite, struct proto_digest **leaves,
    size_t *n_leaves, struct proto_digest *root, struct rf_errinfo *ei)
{
	if (trace) {
		return proto_trace_run(suite, m, inputs, n_in, outputs,
		    ro->kernels, leaves, n_leaves, root, ei);
	}
	return engine_run(m, inputs, n_in, outputs, ro, ei);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a;
	double y = *(const double *)b;
	return (x > y) - (x < y);
}

struct run_timing {
	int64_t runs;
	double min_ms, median_ms;
};

/*
 * --repeat: runs the model n more times after the first (the warm-up),
 * timing each run alone, and checks every run gives the outputs (and
 * trace root) of the first: a difference is an engine bug, reported as
 * an error (RF_ERR_INVAL with the run named), never hidden in a timing.
 */
static int
time_runs(const struct engine_model *m, const struct tensor *inputs,
    size_t n_in, const struct tensor *first, size_t n_out,
    const struct engine_run_opts *ro, bool trace, enum proto_hash suite,
    const struct proto_digest *first_root, int64_t n,
    struct run_timing *t, struct rf_errinfo *ei)
{
	double *ms = malloc((size_t)n * sizeof(double));
	if (ms == NULL) {
		return RF_ERR_NOMEM;
	}
	int err = RF_OK;
	for (int64_t r = 0; r < n && err == RF_OK; r++) {
		struct tensor out[ENGINE_MAX_GRAPH_IO];
		memset(out, 0, sizeof(out));
		struct proto_digest *leaves = NULL;
		struct proto_digest root;
		size_t n_leaves = 0;
		uint64_t t0 = node_mono_us();
		err = run_model(m, inputs, n_in, out, ro, trace, suite, &leaves,
		    &n_leaves, &root, ei);
		ms[r] = (double)(node_mono_us() - t0) / 1e3;
		for (size_t i = 0; err == RF_OK && i < n_out; i++) {
			size_t nb = engine_tensor_nbytes(&first[i]);
			if (out[i].dtype != first[i].dtype ||
			    engine_tensor_nbytes(&out[i]) != nb ||
			    memcmp(out[i].data, first[i].data, nb) != 0) {
				err = rf_errf(ei, RF_ERR_INVAL, "run %lld "
				    "gave other outputs than the first",
				    (long long)r + 2);
			}
		}
		if (err == RF_OK && trace &&
		    memcmp(&root, first_root, sizeof(root)) != 0) {
			err = rf_errf(ei, RF_ERR_INVAL, "run %lld gave "
			    "another trace root than the first",
			    (long long)r + 2);
		}
		free(leaves);
		for (size_t i = 0; i < n_out; i++) {
			engine_tensor_fini(&out[i]);
		}
	}
	if (err == RF_OK) {
		qsort(ms, (size_t)n, sizeof(double), cmp_double);
		t->runs = n;
		t->min_ms = ms[0];
		t->median_ms = n % 2 ? ms[n / 2]
		                     : (ms[n / 2 - 1] + ms[n / 2]) / 2.0;
	}
	free(ms);
	return err;
}

int
cmd_model_run(int argc, char **argv)
{
	uint64_t seed = 1;
	bool seed_given = false, json = false;
	struct cli_strs in_files = { { NULL }, 0 };
	struct cli_strs out_files = { { NULL }, 0 };
	const char *kernels = "fast";
	const char *seed_str = NULL;
	const char *hash_name = "blake3";
	bool trace = false;
	int64_t repeat = 0;
	int64_t threads = 0;
	const struct cli_opt opts[] = {
		{ "seed", 's', CLI_STR, &seed_str, "S",
		    "random input from this seed (the default, seed 1)" },
		{ "input", 'i', CLI_STRS, &in_files, "X.npy",
		    "input tensor file; repeat for each model input, in order" },
		{ "output", 'o', CLI_STRS, &out_files, "Y.npy",
		    "write an output tensor; repeat for each output" },
		{ "kernels", 0, CLI_STR, &kernels, "fast|ref",
		    "optimised (default) or scalar reference kernels" },
		{ "trace", 't', CLI_FLAG, &trace, NULL,
		    "commit to the whole trace: print its Merkle root" },
		{ "hash", 0, CLI_STR, &hash_name, "SUITE",
		    "hash suite of the trace commitment: blake3 (default),\n"
		    "blake2b or xxh3; the network's genesis names its suite" },
		{ "json", 0, CLI_FLAG, &json, NULL,
		    "print a JSON object (with --trace: every leaf hash)" },
		{ "repeat", 0, CLI_I64, &repeat, "N",
		    "after the run, time N more in this process; print the "
		    "min and median ms per run" },
		{ "threads", 0, CLI_I64, &threads, "N",
		    "threads per run (default 0: one per core); every count "
		    "gives the same bits" },
	};
	const struct cli_cmd cmd = {
		.path = "model run",
		.args = "FILE",
		.summary = "Run a model on one input and summarise its outputs. "
		    "Runs are deterministic:\nthe same model and input give the "
		    "same output bytes on every machine.",
		.opts = opts,
		.n_opts = sizeof(opts) / sizeof(opts[0]),
		.min_pos = 1,
		.max_pos = 1,
	};
	const char *pos[1];
	size_t np;
	int rc = cmd_parse(&cmd, argc, argv, pos, &np);
	if (rc >= 0) {
		return rc;
	}
	if (seed_str != NULL) {
		char *end;
		seed = strtoull(seed_str, &end, 0);
		if (*seed_str == '\0' || *seed_str == '-' || *end != '\0') {
			return cmd_usage_error(&cmd, "--seed needs an integer, "
			    "got '%s'", seed_str);
		}
		seed_given = true;
	}
	if (seed_given && in_files.n > 0) {
		return cmd_usage_error(&cmd, "give --seed or --input, not both");
	}
	if (repeat > RUN_REPEAT_MAX) {
		return cmd_usage_error(&cmd, "--repeat is at most %d",
		    RUN_REPEAT_MAX);
	}
	rc = cmd_engine_threads(&cmd, threads);
	if (rc != CLI_EXIT_OK) {
		return rc;
	}
	struct engine_run_opts ro;
	engine_run_opts_init(&ro);
	/* One run: pack weights as it goes rather than keep a packed copy
	 * of every one next to the mapped file; with --repeat the warm-up
	 * packs them for the timed runs. */
	ro.keep_packed = repeat > 0;
	if (strcmp(kernels, "ref") == 0) {
		ro.kernels = ENGINE_KERNELS_REF;
	} else if (strcmp(kernels, "fast") != 0) {
		return cmd_usage_error(&cmd, "--kernels must be fast or ref");
	}
	enum proto_hash suite;
	if (proto_hash_parse(hash_name, &suite) != RF_OK) {
		return cmd_usage_error(&cmd,
		    "--hash must be blake3, blake2b or xxh3");
	}
	if (proto_init() != RF_OK) {
		return cmd_fail(&cmd, "cannot initialise libsodium");
	}
	struct engine_model *m;
	uint64_t load_t0 = node_mono_us();
	rc = load_model(&cmd, pos[0], &m);
	double load_ms = (double)(node_mono_us() - load_t0) / 1e3;
	if (rc != CLI_EXIT_OK) {
		return rc;
	}
	size_t n_out = engine_model_output_count(m);
	if (out_files.n > n_out) {
		engine_model_free(m);
		return cmd_usage_error(&cmd, "the model has %zu outputs, %zu "
		    "--output files given", n_out, out_files.n);
	}
	/* Up to 64 inputs and 64 outputs: on the heap. */
	struct tensor *inputs = calloc(2 * ENGINE_MAX_GRAPH_IO,
	    sizeof(*inputs));
	struct tensor *outputs = inputs + ENGINE_MAX_GRAPH_IO;
	rc = inputs == NULL ? cmd_fail(&cmd, "no memory") :
	    read_inputs(&cmd, m, &in_files, seed, inputs);
	if (rc != CLI_EXIT_OK) {
		free(inputs);
		engine_model_free(m);
		return rc;
	}
	size_t n_in = engine_model_input_count(m);
	struct rf_errinfo ei = { "" };
	struct proto_digest *leaves = NULL;
	struct proto_digest root;
	size_t n_leaves = 0;
	struct run_timing timing = { 0, 0.0, 0.0 };
	int err = run_model(m, inputs, n_in, outputs, &ro, trace, suite,
	    &leaves, &n_leaves, &root, &ei);
	if (err == RF_OK && repeat > 0) {
		err = time_runs(m, inputs, n_in, outputs, n_out, &ro, trace,
		    suite, &root, repeat, &timing, &ei);
	}
	if (err != RF_OK) {
		rc = cmd_fail(&cmd, "run failed: %s", ei.msg[0] ? ei.msg :
		    rf_strerror(err));
		goto done;
	}
	rc = write_outputs(&cmd, &out_files, outputs);
	if (rc != CLI_EXIT_OK) {
		goto done;
	}
	if (json) {
		struct json_out j;
		cmd_json_begin(&j, stdout);
		cmd_json_str(&j, "model", engine_model_name(m));
		cmd_json_str(&j, "input", in_files.n ? "file" : "seed");
		if (in_files.n == 0) {
			cmd_json_uint(&j, "seed", seed);
		}
		cmd_json_str(&j, "kernels", kernels);
		if (ro.kernels == ENGINE_KERNELS_FAST) {
			cmd_json_str(&j, "sgemm_path", engine_sgemm_path());
		}
		cmd_json_uint(&j, "operators", engine_model_op_count(m));
		cmd_json_uint(&j, "threads", engine_threads_get());
		cmd_json_arr_open(&j, "outputs");
		for (size_t i = 0; i < n_out; i++) {
			struct engine_value_info vi;
			engine_model_value(m, engine_model_output(m, i), &vi);
			cmd_print_tensor_json(&j, vi.name, &outputs[i]);
		}
		cmd_json_arr_close(&j);
		if (timing.runs > 0) {
			/* Times only with --repeat: a plain run's JSON is the
			 * same bytes every time. */
			cmd_json_num(&j, "load_ms", load_ms);
			cmd_json_uint(&j, "repeat", (unsigned long long)timing.runs);
			cmd_json_obj_open(&j, "run_ms");
			cmd_json_num(&j, "min", timing.min_ms);
			cmd_json_num(&j, "median", timing.median_ms);
			cmd_json_obj_close(&j);
		}
		if (trace) {
			print_trace_json(&j, suite, leaves, n_leaves, &root);
		}
		cmd_json_end(&j);
	} else {
		printf("model %s: %zu operators, input %s\n", engine_model_name(m),
		    engine_model_op_count(m), in_files.n ? "from file" : "from seed");
		for (size_t i = 0; i < n_out; i++) {
			struct engine_value_info vi;
			engine_model_value(m, engine_model_output(m, i), &vi);
			cmd_print_tensor_text(vi.name, &outputs[i]);
		}
		if (trace) {
			char hex[2 * PROTO_DIGEST_MAX + 1];
			proto_digest_hex(suite, &root, hex);
			printf("trace root %s (%s, %zu leaves)\n", hex,
			    proto_hash_name(suite), n_leaves);
		}
		if (timing.runs > 0) {
			printf("time per run: min %.3f ms, median %.3f ms "
			    "(%lld runs after a warm-up%s); load %.3f ms\n",
			    timing.min_ms, timing.median_ms,
			    (long long)timing.runs,
			    trace ? ", trace included" : "", load_ms);
		}
	}
done:
	free(leaves);
	for (size_t i = 0; i < n_in; i++) {
		engine_tensor_fini(&inputs[i]);
	}
	for (size_t i = 0; i < n_out; i++) {
		engine_tensor_fini(&outputs[i]);
	}
	free(inputs);
	engine_model_free(m);
	return rc;
}
