/*
 * cmd/cmd_import.c - `refute model import IN.onnx -o OUT.rfm`: converts an
 * ONNX model into the native format. The engine does the work in memory
 * (engine_model_import_onnx); this file reads and writes the files, so
 * nothing is written unless the whole import succeeds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "protocol/protocol.h"
#include "cmd/cli.h"
#include "cmd/cmds.h"

/* Parses NAME=N into d; the name points into arg. */
static bool
parse_dim(char *arg, struct engine_onnx_dim *d)
{
	char *eq = strchr(arg, '=');
	if (eq == NULL || eq == arg || eq[1] == '\0' || eq[1] == '-') {
		return false;
	}
	*eq = '\0';
	char *end;
	errno = 0;
	unsigned long long v = strtoull(eq + 1, &end, 10);
	if (errno != 0 || *end != '\0' ||
	    v > (unsigned long long)TENSOR_MAX_DIM) {
		*eq = '=';
		return false;
	}
	d->name = arg;
	d->value = (int64_t)v;
	return true;
}

/* The importer's detail lines (every unsupported node, every dynamic
 * dimension), printed under the error; at most NOTES_MAX of them. */
#define NOTES_MAX 200
struct notes {
	char *lines[NOTES_MAX];
	size_t n, dropped;
};

static void
notes_add(void *ctx, const char *line)
{
	struct notes *ns = ctx;
	char *c = ns->n < NOTES_MAX ? strdup(line) : NULL;
	if (c == NULL) {
		ns->dropped++;
		return;
	}
	ns->lines[ns->n++] = c;
}

static void
notes_print(struct notes *ns)
{
	for (size_t i = 0; i < ns->n; i++) {
		fprintf(stderr, "  %s\n", ns->lines[i]);
	}
	if (ns->dropped > 0) {
		fprintf(stderr, "  ... and %zu more\n", ns->dropped);
	}
}

static void
notes_free(struct notes *ns)
{
	for (size_t i = 0; i < ns->n; i++) {
		free(ns->lines[i]);
	}
	ns->n = 0;
}

int
cmd_model_import(int argc, char **argv)
{
	const char *out = NULL;
	const char *name = NULL;
	struct cli_strs dims = { { NULL }, 0 };
	const struct cli_opt opts[] = {
		{ "output", 'o', CLI_STR, &out, "FILE",
		    "model file to write (.rfm)" },
		{ "dim", 'd', CLI_STRS, &dims, "NAME=N",
		    "value of a symbolic input dimension (repeatable)" },
		{ "name", 0, CLI_STR, &name, "NAME",
		    "model name (default: the ONNX graph's name)" },
	};
	const struct cli_cmd cmd = {
		.path = "model import",
		.args = "IN.onnx",
		.summary =
		    "Convert an ONNX model (opsets 11 to 17) into the native "
		    "format. Constant and\nshape subgraphs are folded into "
		    "weights; the same file always gives the\nsame model, "
		    "byte for byte, and so the same model_id.",
		.details =
		    "Unsupported operators or attributes are reported with "
		    "the node's name, and\nnothing is written. docs/onnx.md "
		    "lists what is supported.",
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
	if (out == NULL) {
		return cmd_usage_error(&cmd, "missing --output FILE");
	}
	struct engine_onnx_dim dv[CLI_STRS_MAX];
	char dim_text[CLI_STRS_MAX][256];
	for (size_t i = 0; i < dims.n; i++) {
		snprintf(dim_text[i], sizeof(dim_text[i]), "%s", dims.v[i]);
		if (strlen(dims.v[i]) >= sizeof(dim_text[i]) ||
		    !parse_dim(dim_text[i], &dv[i])) {
			return cmd_usage_error(&cmd,
			    "--dim needs NAME=N with 0 <= N <= %lld, got '%s'",
			    (long long)TENSOR_MAX_DIM, dims.v[i]);
		}
	}
	struct engine_onnx_opts o;
	engine_onnx_opts_init(&o);
	o.name = name;
	o.dims = dv;
	o.n_dims = dims.n;
	struct notes notes = { { NULL }, 0, 0 };
	o.note = notes_add;
	o.note_ctx = &notes;

	uint8_t *buf;
	size_t len;
	rc = cmd_read_file(&cmd, pos[0], ENGINE_ONNX_MAX_BYTES, &buf, &len);
	if (rc != CLI_EXIT_OK) {
		return rc;
	}
	struct engine_model *m;
	struct rf_errinfo ei = { "" };
	int err = engine_model_import_onnx(buf, len, &o, &m, &ei);
	free(buf);
	if (err != RF_OK) {
		rc = cmd_fail(&cmd, "'%s': %s", pos[0],
		    ei.msg[0] ? ei.msg : rf_strerror(err));
		notes_print(&notes);
		notes_free(&notes);
		return rc;
	}
	notes_free(&notes);
	err = cmd_model_servable(m, &ei);
	if (err != RF_OK) {
		engine_model_free(m);
		return cmd_fail(&cmd, "'%s' cannot be served: %s", pos[0],
		    ei.msg[0] ? ei.msg : rf_strerror(err));
	}
	uint8_t *enc;
	size_t enc_len;
	err = engine_model_encode(m, &enc, &enc_len);
	if (err != RF_OK) {
		engine_model_free(m);
		return cmd_fail(&cmd, "encoding failed: %s", rf_strerror(err));
	}
	rc = cmd_write_file(&cmd, out, enc, enc_len, 0644);
	if (rc == CLI_EXIT_OK) {
		char hex[2 * PROTO_DIGEST_MAX + 1] = "?";
		struct proto_digest id;
		if (proto_init() == RF_OK &&
		    proto_model_id(PROTO_HASH_BLAKE2B, m, &id) == RF_OK) {
			proto_digest_hex(PROTO_HASH_BLAKE2B, &id, hex);
		}
		printf(
		    "wrote %s: %s, %zu operators, %zu parameters, %zu "
		    "bytes\nmodel_id %s\n",
		    out, engine_model_name(m), engine_model_op_count(m),
		    engine_model_param_count(m), enc_len, hex);
	}
	free(enc);
	engine_model_free(m);
	return rc;
}
