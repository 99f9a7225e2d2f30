/*
 * tests/install/hello.c - a program built against an installed Refute
 * (pkg-config refute, <refute/refute.h> only) by tests/install/run.sh:
 * loads the model named by argv[1], runs it on zeros with a trace and
 * prints the trace root, then checks a missing file fails with a message.
 */
#include <refute/refute.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: hello MODEL.rfm\n");
		return 2;
	}
	refute_model *m;
	if (refute_model_load(argv[1], &m) != REFUTE_OK) {
		fprintf(stderr, "hello: %s\n", refute_last_error());
		return 1;
	}
	size_t n = refute_model_input_count(m);
	refute_tensor *in = calloc(n ? n : 1, sizeof(*in));
	int rc = in == NULL;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		refute_value_info vi;
		rc = refute_model_input(m, i, &vi);
		size_t count = 1;
		in[i].dtype = vi.dtype;
		in[i].rank = vi.rank;
		for (int k = 0; k < vi.rank; k++) {
			in[i].dims[k] = vi.dims[k] < 0 ? 1 : vi.dims[k];
			count *= (size_t)in[i].dims[k];
		}
		in[i].data = calloc(count, refute_dtype_size(vi.dtype));
		rc = rc != 0 || in[i].data == NULL;
	}
	refute_run_opts o;
	refute_run_opts_init(&o);
	o.trace = 1;
	refute_result *r = NULL;
	if (rc == 0 && refute_run(m, in, n, &o, &r) != REFUTE_OK) {
		fprintf(stderr, "hello: %s\n", refute_last_error());
		rc = 1;
	}
	if (rc == 0) {
		printf("refute %s: %s, %zu outputs, trace root %s\n",
		    refute_version(), refute_model_name(m),
		    refute_result_output_count(r), refute_result_trace_root(r));
	}
	refute_result_free(r);
	for (size_t i = 0; in != NULL && i < n; i++) {
		free(in[i].data);
	}
	free(in);
	refute_model_free(m);
	refute_model *none;
	if (rc == 0 && (refute_model_load("/nonexistent/x.rfm", &none) !=
	    REFUTE_ERR_IO || strstr(refute_last_error(), "/nonexistent/x.rfm") ==
	    NULL)) {
		fprintf(stderr, "hello: a missing file gave '%s'\n",
		    refute_last_error());
		rc = 1;
	}
	return rc;
}
