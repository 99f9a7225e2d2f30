/*
 * bench/engine_bench.c - whole-model inference time of the engine, on one
 * or more threads, in-process: the models of issue 12 built through the public
 * model API. "mlp-gemm-tB" is what torch.onnx.export makes of a PyTorch
 * MLP 784-1024-1024-1024-10 at batch 64 (every nn.Linear a Gemm with
 * transB=1, weight [out, in]); "mlp-gemm" is the same product with the
 * weights stored [in, out] (transB=0), so the two times show what reading
 * a transposed weight costs. Then the generator's CNN and GPT-style
 * transformer at the sizes.
 *
 * Each model: one warm-up run, then runs until a time budget is spent (at
 * least 5), printing min and median ms per run; one run on the reference
 * kernels checks the fast outputs bit for bit. --threads 1,2 times each
 * thread count in turn, run by run, prints the speed-up over the first
 * count and checks that every count gives the first one's bits. Prints the CPU's name:
 * compare ratios measured in one invocation, never absolute times across
 * machines.
 *
 *	engine_bench [--quick] [--budget SECONDS] [--no-ref] [--threads N,N..]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"

static double
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void
cpu_name(char *buf, size_t cap)
{
	snprintf(buf, cap, "unknown CPU");
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (f == NULL) {
		return;
	}
	char line[512];
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "model name", 10) == 0) {
			const char *p = strchr(line, ':');
			if (p != NULL) {
				snprintf(buf, cap, "%s", p + 2);
				buf[strcspn(buf, "\n")] = '\0';
			}
			break;
		}
	}
	fclose(f);
}

static int
add_weight(struct engine_model *m, struct engine_rng *rng, const char *name,
    int rank, const int64_t *dims, float bound, int *idx)
{
	struct tensor t;
	int err = engine_tensor_init(&t, TENSOR_F32, rank, dims);
	if (err != RF_OK) {
		return err;
	}
	float *d = t.data;
	for (size_t i = 0; i < t.count; i++) {
		d[i] = engine_rng_uniform(rng, -bound, bound);
	}
	err = engine_model_add_weight(m, name, &t, idx, NULL);
	if (err != RF_OK) {
		engine_tensor_fini(&t);
	}
	return err;
}

/* Linear layers as Gemm, weights [out, in] with transB=1 (PyTorch's
 * export) or [in, out] with transB=0, Relu between. */
static int
build_mlp(bool trans_b, int64_t batch, const int64_t *width, size_t n_width,
    struct engine_model **out)
{
	struct engine_model *m = engine_model_alloc("mlp");
	if (m == NULL) {
		return RF_ERR_NOMEM;
	}
	struct engine_rng rng;
	engine_rng_seed(&rng, 12);
	int64_t xd[2] = { batch, width[0] };
	int x;
	int err = engine_model_add_input(m, "x", TENSOR_F32, 2, xd, &x, NULL);
	for (size_t l = 0; err == RF_OK && l + 1 < n_width; l++) {
		char wn[32], bn[32], gn[32], rn[32];
		snprintf(wn, sizeof(wn), "fc%zu.weight", l);
		snprintf(bn, sizeof(bn), "fc%zu.bias", l);
		snprintf(gn, sizeof(gn), "fc%zu", l);
		snprintf(rn, sizeof(rn), "relu%zu", l);
		int64_t in = width[l], o = width[l + 1];
		int64_t wd[2] = { trans_b ? o : in, trans_b ? in : o };
		int64_t bd[1] = { o };
		float bound = 1.0f / (float)in;
		int w = -1, b = -1;
		err = add_weight(m, &rng, wn, 2, wd, bound, &w);
		if (err == RF_OK) {
			err = add_weight(m, &rng, bn, 1, bd, bound, &b);
		}
		struct engine_attr at[1];
		size_t n_at = 0;
		if (err == RF_OK && trans_b) {
			err = engine_attr_int(&at[0], "transB", 1);
			n_at = 1;
		}
		int ins[3] = { x, w, b };
		const char *on[1] = { gn };
		if (err == RF_OK) {
			err = engine_model_add_op(m, ENGINE_OP_GEMM, gn, ins, 3,
			    on, 1, at, n_at, &x, NULL);
		}
		if (err == RF_OK && l + 2 < n_width) {
			const char *rnn[1] = { rn };
			int h = x;
			err = engine_model_add_op(m, ENGINE_OP_RELU, rn, &h, 1,
			    rnn, 1, NULL, 0, &x, NULL);
		}
	}
	if (err == RF_OK) {
		err = engine_model_add_output(m, x, NULL);
	}
	if (err != RF_OK) {
		engine_model_free(m);
		return err;
	}
	*out = m;
	return RF_OK;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a;
	double y = *(const double *)b;
	return (x > y) - (x < y);
}

static void
free_outputs(struct tensor *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		engine_tensor_fini(&t[i]);
	}
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

#define MAX_COUNTS 8

/*
 * Times model m at each thread count, interleaved (one run at each count,
 * then the next round), so load from other processes hits every count
 * alike and the speed-up ratios stay meaningful on a shared machine.
 * Checks every count's outputs against the first's and, once, against
 * the reference kernels. 0 on success.
 */
static int
bench_model(const char *label, struct engine_model *m, double budget_ms,
    bool check_ref, const unsigned *counts, int n_counts)
{
	struct tensor in[ENGINE_MAX_GRAPH_IO];
	struct tensor out[ENGINE_MAX_GRAPH_IO];
	struct tensor ref[ENGINE_MAX_GRAPH_IO];
	size_t n_in = engine_model_input_count(m);
	size_t n_out = engine_model_output_count(m);
	struct rf_errinfo ei = { "" };
	memset(out, 0, sizeof(out));
	memset(ref, 0, sizeof(ref));
	if (engine_inputs_random(m, 1, in, &ei) != RF_OK) {
		fprintf(stderr, "%s: inputs: %s\n", label, ei.msg);
		return 1;
	}
	struct engine_run_opts ro;
	engine_run_opts_init(&ro);
	int rc = 0;
	engine_threads_set(counts[0]);
	if (engine_run(m, in, n_in, out, &ro, &ei) != RF_OK) { /* warm-up */
		fprintf(stderr, "%s: run: %s\n", label, ei.msg);
		rc = 1;
		goto done;
	}
	enum { MAX_RUNS = 1000 };
	static double ms[MAX_COUNTS][MAX_RUNS];
	bool same_threads = true;
	int runs = 0;
	double start = now_ms();
	while (runs < MAX_RUNS && (runs < 5 || now_ms() - start < budget_ms)) {
		for (int t = 0; t < n_counts; t++) {
			engine_threads_set(counts[t]);
			struct tensor o2[ENGINE_MAX_GRAPH_IO];
			memset(o2, 0, sizeof(o2));
			double t0 = now_ms();
			int err = engine_run(m, in, n_in, o2, &ro, &ei);
			ms[t][runs] = now_ms() - t0;
			for (size_t i = 0; err == RF_OK && i < n_out; i++) {
				size_t nb = engine_tensor_nbytes(&out[i]);
				if (engine_tensor_nbytes(&o2[i]) != nb ||
				    memcmp(out[i].data, o2[i].data, nb) != 0) {
					same_threads = false;
				}
			}
			free_outputs(o2, n_out);
			if (err != RF_OK) {
				rc = 1;
				goto done;
			}
		}
		runs++;
	}
	const char *same = "-";
	if (check_ref) {
		struct engine_run_opts rr;
		engine_run_opts_init(&rr);
		rr.kernels = ENGINE_KERNELS_REF;
		if (engine_run(m, in, n_in, ref, &rr, &ei) != RF_OK) {
			rc = 1;
			goto done;
		}
		same = "yes";
		for (size_t i = 0; i < n_out; i++) {
			size_t nb = engine_tensor_nbytes(&out[i]);
			if (engine_tensor_nbytes(&ref[i]) != nb ||
			    memcmp(out[i].data, ref[i].data, nb) != 0) {
				same = "NO";
				rc = 1;
			}
		}
	}
	if (!same_threads) {
		rc = 1;
	}
	double min0 = 0, med0 = 0;
	for (int t = 0; t < n_counts; t++) {
		double mn = ms[t][0];
		for (int r = 1; r < runs; r++) {
			mn = ms[t][r] < mn ? ms[t][r] : mn;
		}
		double md = median(ms[t], runs);
		if (t == 0) {
			min0 = mn;
			med0 = md;
		}
		printf("%-14s %3u %10.3f %10.3f %6d   %-4s %-4s %5.2fx %5.2fx\n",
		    label, counts[t], mn, md, runs, same,
		    same_threads ? "yes" : "NO", min0 / mn, med0 / md);
	}
	fflush(stdout);
done:
	free_outputs(out, n_out);
	free_outputs(ref, n_out);
	free_outputs(in, n_in);
	return rc;
}

int
main(int argc, char **argv)
{
	double budget_ms = 2000.0;
	bool quick = false, check_ref = true;
	unsigned counts[MAX_COUNTS] = { 1 };
	int n_counts = 1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
			/* A list: "1,2" times each count side by side. */
			char *p = argv[++i];
			n_counts = 0;
			while (*p != '\0' && n_counts < MAX_COUNTS) {
				char *end;
				unsigned long v = strtoul(p, &end, 10);
				if (end == p || v == 0 || v > ENGINE_THREADS_MAX) {
					fprintf(stderr, "--threads: a list of "
					    "counts 1..%d\n", ENGINE_THREADS_MAX);
					return 2;
				}
				counts[n_counts++] = (unsigned)v;
				p = *end == ',' ? end + 1 : end;
			}
		} else if (strcmp(argv[i], "--quick") == 0) {
			quick = true;
		} else if (strcmp(argv[i], "--no-ref") == 0) {
			check_ref = false;
		} else if (strcmp(argv[i], "--budget") == 0 && i + 1 < argc) {
			budget_ms = strtod(argv[++i], NULL) * 1e3;
		} else {
			fprintf(stderr, "usage: %s [--quick] [--budget S] "
			    "[--no-ref] [--threads N,N...]\n", argv[0]);
			return 2;
		}
	}
	if (quick) {
		budget_ms = 300.0;
	}
	char cpu[256];
	cpu_name(cpu, sizeof(cpu));
	printf("engine_bench: %s, GEMM path %s\n", cpu, engine_sgemm_path());
	printf("%-14s %3s %10s %10s %6s   %-4s %-4s %6s %6s\n", "model", "thr",
	    "min ms", "median ms", "runs", "=REF", "=T1", "min x", "med x");
	static const int64_t width[] = { 784, 1024, 1024, 1024, 10 };
	int rc = 0;
	for (int tb = 1; tb >= 0; tb--) {
		struct engine_model *m;
		if (build_mlp(tb, 64, width, 5, &m) != RF_OK) {
			fprintf(stderr, "cannot build the MLP\n");
			return 1;
		}
		rc |= bench_model(tb ? "mlp-gemm-tB" : "mlp-gemm", m, budget_ms,
		    check_ref, counts, n_counts);
		engine_model_free(m);
	}
	struct engine_gen_opts o;
	struct engine_model *m;
	struct rf_errinfo ei = { "" };
	engine_gen_opts_init(&o, ENGINE_GEN_CNN);
	o.batch = 8;
	o.channels = 1;
	o.image_size = 64;
	if (engine_model_generate(&o, &m, &ei) != RF_OK) {
		fprintf(stderr, "cnn: %s\n", ei.msg);
		return 1;
	}
	rc |= bench_model("cnn", m, budget_ms, check_ref, counts,
	    n_counts);
	engine_model_free(m);
	engine_gen_opts_init(&o, ENGINE_GEN_TRANSFORMER);
	o.batch = 128;
	o.d_model = 256;
	o.heads = 4;
	o.d_ff = 1024;
	o.blocks = 2;
	if (engine_model_generate(&o, &m, &ei) != RF_OK) {
		fprintf(stderr, "transformer: %s\n", ei.msg);
		return 1;
	}
	rc |= bench_model("gpt-d256", m, budget_ms, check_ref, counts,
	    n_counts);
	engine_model_free(m);
	return rc;
}
