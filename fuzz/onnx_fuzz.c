/*
 * fuzz/onnx_fuzz.c - libFuzzer target for the ONNX importer (make fuzz).
 *
 * Each input goes through engine_model_import_onnx, the real entry point,
 * with a 1 MiB cap on what the importer may compute while folding, so one
 * input of a few bytes cannot ask for gigabytes. A rejected input must
 * come back with a message and no model. An accepted one must be a model
 * the rest of Refute can use, and the fuzzer checks that:
 *
 *   - importing the same bytes again gives the same model bytes (a stable
 *     model_id: no uninitialised memory or address order leaks in);
 *   - the model encodes, decodes, and re-encodes to the same bytes;
 *   - its outputs come from its last operator (a claim's last entry);
 *   - when it is small, it runs twice on seeded inputs with identical
 *     outputs (any error is fine, as long as both runs agree).
 *
 * Any violation aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FOLD_CAP ((size_t)1 << 20)
/* Runs only models this small, under this per-allocation cap, so an
 * iteration stays in the milliseconds. */
#define RUN_MAX_PARAMS 4096
#define RUN_MAX_INPUT 4096
#define RUN_ALLOC_CAP ((size_t)256 << 10)

static void die(const char *what, const char *detail)
    __attribute__((noreturn));

static void
die(const char *what, const char *detail)
{
	fprintf(stderr, "onnx_fuzz: %s: %s\n", what, detail);
	abort();
}

static int
import(const uint8_t *data, size_t size, struct engine_model **m,
    struct rf_errinfo *ei)
{
	struct engine_onnx_opts o;
	engine_onnx_opts_init(&o);
	o.fold_max_bytes = FOLD_CAP;
	*m = NULL;
	memset(ei, 0, sizeof(*ei));
	return engine_model_import_onnx(data, size, &o, m, ei);
}

static int
run_once(const struct engine_model *m, struct tensor *out,
    struct rf_errinfo *ei)
{
	struct tensor in[ENGINE_MAX_GRAPH_IO];
	int err = engine_inputs_random(m, 7, in, ei);
	if (err != RF_OK) {
		return err;
	}
	err = engine_run(m, in, engine_model_input_count(m), out, NULL, ei);
	for (size_t i = 0; i < engine_model_input_count(m); i++) {
		engine_tensor_fini(&in[i]);
	}
	return err;
}

static bool
small_enough(const struct engine_model *m)
{
	if (engine_model_param_count(m) > RUN_MAX_PARAMS) {
		return false;
	}
	size_t total = 0;
	for (size_t i = 0; i < engine_model_input_count(m); i++) {
		struct engine_value_info vi;
		engine_model_value(m, engine_model_input(m, i), &vi);
		size_t n = 1;
		for (int d = 0; d < vi.rank; d++) {
			size_t dim = vi.dims[d] < 0 ? 1 : (size_t)vi.dims[d];
			if (dim > RUN_MAX_INPUT || n * dim > RUN_MAX_INPUT) {
				return false;
			}
			n *= dim;
		}
		total += n;
	}
	return total <= RUN_MAX_INPUT;
}

static void
check_runs(const struct engine_model *m)
{
	struct tensor a[ENGINE_MAX_GRAPH_IO], b[ENGINE_MAX_GRAPH_IO];
	struct rf_errinfo ea, eb;
	size_t old = engine_alloc_cap_set(RUN_ALLOC_CAP);
	memset(&ea, 0, sizeof(ea));
	memset(&eb, 0, sizeof(eb));
	int ra = run_once(m, a, &ea);
	int rb = run_once(m, b, &eb);
	engine_alloc_cap_set(old);
	if (ra != rb) {
		die("two runs disagree", ea.msg);
	}
	if (ra != RF_OK) {
		return;
	}
	for (size_t i = 0; i < engine_model_output_count(m); i++) {
		if (!engine_tensor_equal(&a[i], &b[i])) {
			die("two runs give different outputs", "");
		}
		engine_tensor_fini(&a[i]);
		engine_tensor_fini(&b[i]);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct engine_model *m, *again, *dec;
	struct rf_errinfo ei;
	int err = import(data, size, &m, &ei);
	if (err != RF_OK) {
		if (m != NULL || ei.msg[0] == '\0') {
			die("a failed import left a model or no message",
			    rf_strerror(err));
		}
		return 0;
	}
	uint8_t *enc, *enc2, *enc3;
	size_t len = 0, len2 = 0, len3 = 0;
	if (engine_model_encode(m, &enc, &len) != RF_OK) {
		die("encode failed", "");
	}
	if (import(data, size, &again, &ei) != RF_OK ||
	    engine_model_encode(again, &enc2, &len2) != RF_OK) {
		die("the second import failed", ei.msg);
	}
	if (len2 != len || memcmp(enc, enc2, len) != 0) {
		die("two imports gave different bytes", "");
	}
	if (engine_model_decode(enc, len, &dec, &ei) != RF_OK) {
		die("the imported model does not decode", ei.msg);
	}
	if (engine_model_encode(dec, &enc3, &len3) != RF_OK || len3 != len ||
	    memcmp(enc, enc3, len) != 0) {
		die("decode then encode changed the bytes", "");
	}
	size_t n_ops = engine_model_op_count(m);
	for (size_t i = 0; i < engine_model_output_count(m); i++) {
		struct engine_value_info vi;
		engine_model_value(m, engine_model_output(m, i), &vi);
		if (n_ops == 0 || vi.producer != (int)n_ops - 1) {
			die("an output does not come from the last operator",
			    vi.name);
		}
	}
	if (small_enough(m)) {
		check_runs(m);
	}
	free(enc);
	free(enc2);
	free(enc3);
	engine_model_free(dec);
	engine_model_free(again);
	engine_model_free(m);
	return 0;
}
