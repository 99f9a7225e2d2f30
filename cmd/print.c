/* cmd/print.c - human and JSON summaries of tensors for the commands. */
#include <string.h>

#include "engine/engine.h"
#include "cmd/cli.h"

static double
elem_as_double(const struct tensor *t, size_t i)
{
	switch (t->dtype) {
	case TENSOR_F32:
		return ((const float *)t->data)[i];
	case TENSOR_I8:
		return ((const int8_t *)t->data)[i];
	case TENSOR_I32:
		return ((const int32_t *)t->data)[i];
	case TENSOR_I64:
		return (double)((const int64_t *)t->data)[i];
	}
	return 0.0;
}

struct summary {
	double min, max, mean;
	size_t nonfinite;
};

static void
summarize(const struct tensor *t, struct summary *s)
{
	memset(s, 0, sizeof(*s));
	double sum = 0.0;
	bool first = true;
	for (size_t i = 0; i < t->count; i++) {
		double v = elem_as_double(t, i);
		if (!(v - v == 0.0)) {
			s->nonfinite++;
			continue;
		}
		if (first || v < s->min) {
			s->min = v;
		}
		if (first || v > s->max) {
			s->max = v;
		}
		first = false;
		sum += v;
	}
	size_t n = t->count - s->nonfinite;
	s->mean = n > 0 ? sum / (double)n : 0.0;
}

#define SHOW_VALUES 8

void
cmd_print_tensor_text(const char *name, const struct tensor *t)
{
	char shp[128];
	struct summary s;
	engine_tensor_shape_str(t, shp, sizeof(shp));
	summarize(t, &s);
	printf("output %s %s\n", name, shp);
	printf("  min %.6g  max %.6g  mean %.6g", s.min, s.max, s.mean);
	if (s.nonfinite) {
		printf("  non-finite %zu", s.nonfinite);
	}
	printf("\n  values");
	for (size_t i = 0; i < t->count && i < SHOW_VALUES; i++) {
		printf(" %.6g", elem_as_double(t, i));
	}
	printf("%s\n", t->count > SHOW_VALUES ? " ..." : "");
	if (t->rank == 2 && t->dims[1] > 1) {
		printf("  argmax per row");
		for (int64_t r = 0; r < t->dims[0] && r < SHOW_VALUES; r++) {
			int64_t best = 0;
			for (int64_t c = 1; c < t->dims[1]; c++) {
				if (elem_as_double(t, (size_t)(r * t->dims[1] + c)) >
				    elem_as_double(t, (size_t)(r * t->dims[1] + best))) {
					best = c;
				}
			}
			printf(" %lld", (long long)best);
		}
		printf("%s\n", t->dims[0] > SHOW_VALUES ? " ..." : "");
	}
}

void
cmd_print_tensor_json(struct json_out *j, const char *name,
    const struct tensor *t)
{
	struct summary s;
	summarize(t, &s);
	cmd_json_obj_open(j, NULL);
	cmd_json_str(j, "name", name);
	cmd_json_str(j, "dtype", engine_tensor_dtype_name(t->dtype));
	cmd_json_arr_open(j, "shape");
	for (int d = 0; d < t->rank; d++) {
		cmd_json_int(j, NULL, (long long)t->dims[d]);
	}
	cmd_json_arr_close(j);
	cmd_json_num(j, "min", s.min);
	cmd_json_num(j, "max", s.max);
	cmd_json_num(j, "mean", s.mean);
	cmd_json_uint(j, "nonfinite", s.nonfinite);
	cmd_json_arr_open(j, "values");
	for (size_t i = 0; i < t->count && i < SHOW_VALUES; i++) {
		cmd_json_num(j, NULL, elem_as_double(t, i));
	}
	cmd_json_arr_close(j);
	cmd_json_obj_close(j);
}

