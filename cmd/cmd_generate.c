/*
 * cmd/cmd_generate.c - `refute generate`: text generation with a language
 * model, as one deterministic run of its generation graph
 * (docs/generation.md), with the trace root that commits to all of it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "node/node.h"
#include "protocol/protocol.h"
#include "cmd/cli.h"
#include "cmd/cmds.h"

#define GEN_MODEL_MAX ((size_t)1 << 34)
#define GEN_PROMPT_FILE_MAX ((size_t)1 << 20)

/* "1,2,3" (commas and/or white space): token ids, malloc'd. */
static int
tokens_parse(const char *s, int64_t **out, size_t *n, struct rf_errinfo *ei)
{
	size_t cap = 16, k = 0;
	int64_t *v = malloc(cap * sizeof(*v));
	if (v == NULL) {
		return RF_ERR_NOMEM;
	}
	const char *p = s;
	for (;;) {
		while (*p == ',' || *p == ' ' || *p == '\t' || *p == '\n' ||
		    *p == '\r') {
			p++;
		}
		if (*p == '\0') {
			break;
		}
		if (*p < '0' || *p > '9') {
			free(v);
			return rf_errf(ei, RF_ERR_INVAL, "token ids are decimal "
			    "numbers, got '%.16s'", p);
		}
		errno = 0;
		char *end;
		unsigned long long t = strtoull(p, &end, 10);
		if (errno != 0 || t > (unsigned long long)INT64_MAX) {
			free(v);
			return rf_errf(ei, RF_ERR_INVAL, "token id '%.24s' is too "
			    "large", p);
		}
		if (k == cap) {
			int64_t *nv = realloc(v, 2 * cap * sizeof(*v));
			if (nv == NULL) {
				free(v);
				return RF_ERR_NOMEM;
			}
			v = nv;
			cap *= 2;
		}
		v[k++] = (int64_t)t;
		p = end;
	}
	*out = v;
	*n = k;
	return RF_OK;
}

/* Bytes as tokens, malloc'd. */
static int
bytes_tokens(const uint8_t *b, size_t len, int64_t **out, size_t *n)
{
	int64_t *v = malloc((len ? len : 1) * sizeof(*v));
	if (v == NULL) {
		return RF_ERR_NOMEM;
	}
	for (size_t i = 0; i < len; i++) {
		v[i] = b[i];
	}
	*out = v;
	*n = len;
	return RF_OK;
}

int
cmd_generation_inputs(const struct engine_model *m,
    const struct cmd_gen_prompt *p, struct tensor *in, struct rf_errinfo *ei)
{
	size_t n_in = engine_model_input_count(m);
	struct engine_value_info ti, si, wi;
	int wte;
	bool ok = n_in >= 1 && n_in <= 2 &&
	    engine_model_value(m, engine_model_input(m, 0), &ti) == RF_OK &&
	    strcmp(ti.name, "tokens") == 0 && ti.dtype == TENSOR_I64 &&
	    ti.rank == 1 && ti.dims[0] >= 1 &&
	    engine_model_find(m, "wte", &wte) == RF_OK &&
	    engine_model_value(m, wte, &wi) == RF_OK &&
	    wi.kind == ENGINE_VALUE_WEIGHT && wi.rank == 2;
	if (ok && n_in == 2) {
		ok = engine_model_value(m, engine_model_input(m, 1), &si) ==
		    RF_OK && strcmp(si.name, "seed") == 0 &&
		    si.dtype == TENSOR_I64 && si.rank == 1 && si.dims[0] == 1;
	}
	if (!ok) {
		return rf_errf(ei, RF_ERR_INVAL, "model '%s' is not a generation "
		    "graph (`refute generate --save-graph` writes one)",
		    engine_model_name(m));
	}
	int64_t vocab = wi.dims[0];
	int64_t *t = NULL;
	size_t n = 0;
	int err;
	if (p->tokens != NULL) {
		err = tokens_parse(p->tokens, &t, &n, ei);
	} else if (vocab < 256) {
		return rf_errf(ei, RF_ERR_INVAL, "a byte prompt needs a "
		    "vocabulary of at least 256 tokens, the model has %lld",
		    (long long)vocab);
	} else {
		err = bytes_tokens((const uint8_t *)p->text, strlen(p->text), &t,
		    &n);
	}
	if (err != RF_OK) {
		return err;
	}
	if ((int64_t)n != ti.dims[0]) {
		err = rf_errf(ei, RF_ERR_SHAPE, "this generation graph takes a "
		    "prompt of %lld tokens, not %zu", (long long)ti.dims[0], n);
	}
	for (size_t i = 0; err == RF_OK && i < n; i++) {
		if (t[i] >= vocab) {
			err = rf_errf(ei, RF_ERR_RANGE, "prompt token %zu is %lld, "
			    "outside the vocabulary of %lld", i, (long long)t[i],
			    (long long)vocab);
		}
	}
	int64_t pd[1] = { (int64_t)n }, one[1] = { 1 };
	if (err == RF_OK) {
		err = engine_tensor_init(&in[0], TENSOR_I64, 1, pd);
	}
	if (err == RF_OK) {
		memcpy(in[0].data, t, n * sizeof(*t));
		if (n_in == 2) {
			err = engine_tensor_init(&in[1], TENSOR_I64, 1, one);
			if (err == RF_OK) {
				memcpy(in[1].data, &p->seed, sizeof(p->seed));
			} else {
				engine_tensor_fini(&in[0]);
			}
		}
	}
	free(t);
	return err;
}

static int
parse_float(const struct cli_cmd *cmd, const char *opt, const char *s,
    float *out)
{
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno != 0 || !(d == d) ||
	    d > 1e30 || d < -1e30) {
		return cmd_usage_error(cmd, "--%s needs a number, got '%s'", opt,
		    s);
	}
	*out = (float)d;
	return CLI_EXIT_OK;
}

/* Printable bytes as they are, others as \xNN. */
static void
print_text(FILE *f, const int64_t *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int c = (int)t[i];
		if (c == '\\' || c == '"') {
			fprintf(f, "\\%c", c);
		} else if (c == '\n') {
			fputs("\\n", f);
		} else if (c >= 0x20 && c < 0x7f) {
			fputc(c, f);
		} else {
			fprintf(f, "\\x%02x", (unsigned)c & 0xff);
		}
	}
}

int
cmd_generate(int argc, char **argv)
{
	const char *tokens_s = NULL, *prompt_file = NULL, *text = NULL;
	const char *temp_s = NULL, *top_p_s = NULL, *save = NULL;
	const char *hash_name = "blake3";
	int64_t n_new = -1, top_k = 0, threads = 0;
	uint64_t seed = 1;
	bool trace = false, json = false, low_mem = false;
	const struct cli_opt opts[] = {
		{ "tokens", 0, CLI_STR, &tokens_s, "LIST",
		    "prompt token ids, \"1,2,3\"" },
		{ "prompt-file", 0, CLI_STR, &prompt_file, "F",
		    "prompt: the file's bytes (a byte-level model)" },
		{ "text", 0, CLI_STR, &text, "STR",
		    "prompt: these bytes (a byte-level model)" },
		{ "new", 'n', CLI_I64, &n_new, "N", "tokens to generate" },
		{ "temperature", 0, CLI_STR, &temp_s, "T",
		    "0 (default): greedy; otherwise sample at T (<= 100)" },
		{ "top-k", 0, CLI_I64, &top_k, "K",
		    "sample among the K likeliest only (0: all)" },
		{ "top-p", 0, CLI_STR, &top_p_s, "P",
		    "sample within the likeliest mass P (0 < P <= 1)" },
		{ "seed", 's', CLI_U64, &seed, "S",
		    "the sampler's random stream (default 1)" },
		{ "trace", 't', CLI_FLAG, &trace, NULL,
		    "commit to the whole generation: print the trace root" },
		{ "hash", 0, CLI_STR, &hash_name, "SUITE",
		    "hash suite of the trace: blake3 (default), blake2b, xxh3" },
		{ "json", 0, CLI_FLAG, &json, NULL, "print a JSON object" },
		{ "threads", 0, CLI_I64, &threads, "N",
		    "threads (default 0: one per core); every count gives the\n"
		    "same tokens and trace" },
		{ "low-memory", 0, CLI_FLAG, &low_mem, NULL,
		    "pack each weight for the GEMM as it is used, keeping no\n"
		    "packed copy: resident memory about the model's size, but\n"
		    "every decode step packs again (slower); same tokens" },
		{ "save-graph", 0, CLI_STR, &save, "FILE",
		    "also write the generation graph as a model file (what\n"
		    "a network serves for this generation)" },
	};
	const struct cli_cmd cmd = {
		.path = "generate",
		.args = "MODEL",
		.summary = "Generate tokens with a language model (as `model gen "
		    "gpt` lays it out): the\nprompt, every decode step with the "
		    "KV cache and every draw of the sampler\nrun as one "
		    "deterministic graph (docs/generation.md); the same options "
		    "give\nthe same tokens on every machine and thread count.",
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
	if ((tokens_s != NULL) + (prompt_file != NULL) + (text != NULL) != 1) {
		return cmd_usage_error(&cmd, "give one of --tokens, "
		    "--prompt-file and --text");
	}
	if (n_new < 0) {
		return cmd_usage_error(&cmd, "missing --new N");
	}
	struct engine_generation g;
	memset(&g, 0, sizeof(g));
	engine_sampler_init(&g.sampler);
	g.n_new = n_new;
	g.sampler.top_k = top_k;
	if (temp_s != NULL && parse_float(&cmd, "temperature", temp_s,
	    &g.sampler.temperature) != CLI_EXIT_OK) {
		return CLI_EXIT_USAGE;
	}
	if (top_p_s != NULL && parse_float(&cmd, "top-p", top_p_s,
	    &g.sampler.top_p) != CLI_EXIT_OK) {
		return CLI_EXIT_USAGE;
	}
	enum proto_hash suite;
	if (proto_hash_parse(hash_name, &suite) != RF_OK) {
		return cmd_usage_error(&cmd,
		    "--hash must be blake3, blake2b or xxh3");
	}
	rc = cmd_engine_threads(&cmd, threads);
	if (rc != CLI_EXIT_OK) {
		return rc;
	}
	if (proto_init() != RF_OK) {
		return cmd_fail(&cmd, "cannot initialise libsodium");
	}
	/* The prompt. */
	int64_t *prompt = NULL;
	size_t n_prompt = 0;
	if (tokens_s != NULL) {
		struct rf_errinfo pe = { "" };
		int perr = tokens_parse(tokens_s, &prompt, &n_prompt, &pe);
		if (perr == RF_ERR_NOMEM) {
			return cmd_fail(&cmd, "no memory");
		}
		if (perr != RF_OK) {
			return cmd_usage_error(&cmd, "%s", pe.msg);
		}
	} else {
		uint8_t *buf = NULL;
		size_t len = 0;
		if (prompt_file != NULL) {
			rc = cmd_read_file(&cmd, prompt_file, GEN_PROMPT_FILE_MAX,
			    &buf, &len);
			if (rc != CLI_EXIT_OK) {
				return rc;
			}
		} else {
			len = strlen(text);
			buf = (uint8_t *)strdup(text);
			if (buf == NULL) {
				return cmd_fail(&cmd, "no memory");
			}
		}
		int perr = bytes_tokens(buf, len, &prompt, &n_prompt);
		free(buf);
		if (perr != RF_OK) {
			return cmd_fail(&cmd, "no memory");
		}
	}
	g.prompt_len = (int64_t)n_prompt;

	struct engine_model *base = NULL, *gm = NULL;
	struct rf_errinfo ei = { "" };
	uint64_t t0 = node_mono_us();
	int err = engine_model_load(pos[0], GEN_MODEL_MAX, &base, &ei);
	double load_ms = (double)(node_mono_us() - t0) / 1e3;
	if (err != RF_OK) {
		free(prompt);
		return cmd_fail(&cmd, "'%s': %s", pos[0], ei.msg[0] ? ei.msg :
		    rf_strerror(err));
	}
	struct engine_gpt_shape sh;
	err = engine_gpt_shape(base, &sh, &ei);
	if (err == RF_OK && (prompt_file != NULL || text != NULL) &&
	    sh.vocab < 256) {
		err = rf_errf(&ei, RF_ERR_INVAL, "a byte prompt needs a "
		    "vocabulary of at least 256 tokens, the model has %lld",
		    (long long)sh.vocab);
	}
	for (size_t i = 0; err == RF_OK && i < n_prompt; i++) {
		if (prompt[i] >= sh.vocab) {
			err = rf_errf(&ei, RF_ERR_RANGE, "prompt token %zu is "
			    "%lld, outside the vocabulary of %lld", i,
			    (long long)prompt[i], (long long)sh.vocab);
		}
	}
	if (err == RF_OK) {
		err = engine_generation_model(base, &g, &gm, &ei);
	}
	if (err != RF_OK) {
		rc = err == RF_ERR_NOTSUP ? cmd_fail(&cmd, "'%s': %s", pos[0],
		    ei.msg) : cmd_usage_error(&cmd, "%s", ei.msg[0] ? ei.msg :
		    rf_strerror(err));
		free(prompt);
		engine_model_free(base);
		return rc;
	}
	if (save != NULL) {
		uint8_t *mb;
		size_t ml;
		if (engine_model_encode(gm, &mb, &ml) != RF_OK) {
			rc = cmd_fail(&cmd, "cannot encode the generation graph");
		} else {
			rc = cmd_write_file(&cmd, save, mb, ml, 0644);
			free(mb);
		}
		if (rc != CLI_EXIT_OK) {
			goto out_models;
		}
	}

	struct tensor in[2];
	memset(in, 0, sizeof(in));
	int64_t pd[1] = { g.prompt_len };
	int64_t one[1] = { 1 };
	size_t n_in = engine_model_input_count(gm);
	err = engine_tensor_init(&in[0], TENSOR_I64, 1, pd);
	if (err == RF_OK) {
		memcpy(in[0].data, prompt, n_prompt * sizeof(*prompt));
		if (n_in == 2) {
			err = engine_tensor_init(&in[1], TENSOR_I64, 1, one);
			if (err == RF_OK) {
				memcpy(in[1].data, &seed, sizeof(seed));
			}
		}
	}
	struct tensor outs[2];
	memset(outs, 0, sizeof(outs));
	struct proto_digest *leaves = NULL;
	size_t n_leaves = 0;
	struct proto_digest root;
	uint64_t r0 = node_mono_us();
	if (err == RF_OK && trace) {
		err = proto_trace_run(suite, gm, in, n_in, outs,
		    ENGINE_KERNELS_FAST, &leaves, &n_leaves, &root, &ei);
	} else if (err == RF_OK) {
		struct engine_run_opts ro;
		engine_run_opts_init(&ro);
		ro.keep_packed = !low_mem;
		err = engine_run(gm, in, n_in, outs, &ro, &ei);
	}
	double run_s = (double)(node_mono_us() - r0) / 1e6;
	if (err != RF_OK) {
		rc = cmd_fail(&cmd, "generation failed: %s", ei.msg[0] ? ei.msg :
		    rf_strerror(err));
		goto out_tensors;
	}
	const int64_t *gen = outs[1].data;
	size_t n_gen = outs[1].count;
	bool bytes = sh.vocab == 256;
	char hex[2 * PROTO_DIGEST_MAX + 1];
	if (trace) {
		proto_digest_hex(suite, &root, hex);
	}
	if (json) {
		struct json_out j;
		cmd_json_begin(&j, stdout);
		cmd_json_str(&j, "model", engine_model_name(base));
		cmd_json_uint(&j, "operators", engine_model_op_count(gm));
		cmd_json_arr_open(&j, "prompt");
		for (size_t i = 0; i < n_prompt; i++) {
			cmd_json_int(&j, NULL, prompt[i]);
		}
		cmd_json_arr_close(&j);
		cmd_json_obj_open(&j, "sampler");
		cmd_json_num(&j, "temperature", g.sampler.temperature);
		cmd_json_int(&j, "top_k", g.sampler.top_k);
		cmd_json_num(&j, "top_p", g.sampler.top_p);
		if (n_in == 2) {
			cmd_json_uint(&j, "seed", seed);
		}
		cmd_json_obj_close(&j);
		cmd_json_arr_open(&j, "tokens");
		for (size_t i = 0; i < n_gen; i++) {
			cmd_json_int(&j, NULL, gen[i]);
		}
		cmd_json_arr_close(&j);
		if (trace) {
			cmd_json_str(&j, "hash", proto_hash_name(suite));
			cmd_json_str(&j, "trace_root", hex);
			cmd_json_uint(&j, "n", n_leaves);
		}
		cmd_json_end(&j);
	} else {
		printf("tokens:");
		for (size_t i = 0; i < n_gen; i++) {
			printf("%s%lld", i ? "," : " ", (long long)gen[i]);
		}
		printf("\n");
		if (bytes) {
			printf("text: \"");
			print_text(stdout, gen, n_gen);
			printf("\"\n");
		}
		if (trace) {
			printf("trace root %s (%s, %zu leaves)\n", hex,
			    proto_hash_name(suite), n_leaves);
		}
		printf("%zu prompt + %zu new tokens in %.3f s: %.2f new "
		    "tokens/s, %u threads%s; load %.1f ms\n", n_prompt, n_gen,
		    run_s, run_s > 0 ? (double)n_gen / run_s : 0.0,
		    engine_threads_get(), trace ? ", trace included" : "",
		    load_ms);
	}
out_tensors:
	free(leaves);
	for (size_t i = 0; i < 2; i++) {
		engine_tensor_fini(&in[i]);
		engine_tensor_fini(&outs[i]);
	}
out_models:
	free(prompt);
	engine_model_free(gm);
	engine_model_free(base);
	return rc;
}
