/*
 * bench/matmul_bench.c - single-thread SGEMM speed: our fast kernel, our
 * reference kernel and OpenBLAS's cblas_sgemm (row-major, alpha 1, beta
 * 0) on square matrices, side by side, with the ratios ours / OpenBLAS.
 * It also checks that FAST equals REF bit for bit at every size and
 * reports how far OpenBLAS (whose order of summation differs) is from us.
 *
 * OpenBLAS is only the yardstick here, never our kernel. It reads
 * OPENBLAS_NUM_THREADS, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE when the
 * library loads, before main, so:
 *  - without OPENBLAS_NUM_THREADS=1 the bench sets it and re-executes
 *    itself;
 *  - OpenBLAS "as this environment configures it" is measured in this
 *    process, and "with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset"
 *    (its own CPU detection) in a child re-executed with --openblas-only
 *    and those two variables removed, which reports back through a pipe.
 *
 * Timing: CLOCK_MONOTONIC, one warm-up run, then the best of up to N runs
 * within a time budget (a few for the slow reference kernel).
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"

#define OPENBLAS_ONLY "--openblas-only"

static const size_t sizes[] = {256, 512, 1024};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

/* One size's inputs and outputs. */
struct problem {
	size_t n;
	float *a, *b;
	float *c_fast, *c_ref, *c_blas;
};

enum kernel {
	K_FAST,
	K_REF,
	K_BLAS,
};

struct timing {
	double gflops;
	int reps;
};

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Same inputs in parent and child: uniform in [-1, 1) from a seed. */
static int
problem_init(struct problem *p, size_t n)
{
	size_t count = n * n;
	memset(p, 0, sizeof(*p));
	p->n = n;
	p->a = malloc(count * sizeof(float));
	p->b = malloc(count * sizeof(float));
	p->c_fast = calloc(count, sizeof(float));
	p->c_ref = calloc(count, sizeof(float));
	p->c_blas = calloc(count, sizeof(float));
	if (!p->a || !p->b || !p->c_fast || !p->c_ref || !p->c_blas) {
		return -1;
	}
	uint64_t s = n;
	for (size_t i = 0; i < count; i++) {
		p->a[i] = (float)((double)(rng_next(&s) >> 11) * 0x1p-52 - 1.0);
		p->b[i] = (float)((double)(rng_next(&s) >> 11) * 0x1p-52 - 1.0);
	}
	return 0;
}

static void
problem_fini(struct problem *p)
{
	free(p->a);
	free(p->b);
	free(p->c_fast);
	free(p->c_ref);
	free(p->c_blas);
}

static void
run_kernel(struct problem *p, enum kernel k)
{
	size_t n = p->n;
	switch (k) {
	case K_FAST:
		engine_sgemm(ENGINE_KERNELS_FAST, n, n, n, p->a, n, p->b, n,
		    p->c_fast, n);
		break;
	case K_REF:
		engine_sgemm(ENGINE_KERNELS_REF, n, n, n, p->a, n, p->b, n,
		    p->c_ref, n);
		break;
	case K_BLAS:
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n,
		    (int)n, (int)n, 1.0f, p->a, (int)n, p->b, (int)n, 0.0f,
		    p->c_blas, (int)n);
		break;
	}
}

/*
 * One warm-up run (page faults, packing buffers, OpenBLAS's first-call
 * setup), then runs until the budget is spent or max_reps is reached; a
 * kernel whose warm-up alone exceeds the budget is timed by that run.
 */
static struct timing
time_kernel(struct problem *p, enum kernel k, double budget, int max_reps)
{
	double t0 = now();
	run_kernel(p, k);
	double best = now() - t0;
	int reps = 1;
	if (best < budget) {
		double spent = 0;
		best = INFINITY;
		reps = 0;
		while (reps < max_reps && (reps < 3 || spent < budget)) {
			double t = now();
			run_kernel(p, k);
			t = now() - t;
			spent += t;
			best = t < best ? t : best;
			reps++;
		}
	}
	double flops = 2.0 * (double)p->n * (double)p->n * (double)p->n;
	struct timing r = {flops / best * 1e-9, reps};
	return r;
}

static double
max_abs_diff(const float *x, const float *y, size_t count)
{
	double m = 0;
	for (size_t i = 0; i < count; i++) {
		double d = fabs((double)x[i] - (double)y[i]);
		m = d > m ? d : m;
	}
	return m;
}

/* ------------------------------------------------------------------ */
/* Child: OpenBLAS with its own CPU detection                           */
/* ------------------------------------------------------------------ */

/* Prints "blas N GFLOPS REPS MAXDIFF CORE" per size on stdout. */
static int
openblas_only(void)
{
	for (size_t s = 0; s < NSIZES; s++) {
		struct problem p;
		if (problem_init(&p, sizes[s]) != 0) {
			fprintf(stderr, "matmul_bench: out of memory\n");
			problem_fini(&p);
			return 1;
		}
		struct timing t = time_kernel(&p, K_BLAS, 1.0, 100);
		run_kernel(&p, K_FAST);
		double d = max_abs_diff(p.c_fast, p.c_blas, p.n * p.n);
		printf("blas %zu %.3f %d %.9g %s\n", p.n, t.gflops, t.reps, d,
		    openblas_get_corename());
		problem_fini(&p);
	}
	return 0;
}

struct blas_result {
	double gflops;
	int reps;
	double maxdiff;
	char core[64];
};

/* Runs this program again with --openblas-only and OPENBLAS_CORETYPE and
 * OPENBLAS_L2_SIZE removed, and reads back its results. */
static int
openblas_unset_run(const char *self, struct blas_result *res)
{
	int fds[2];
	if (pipe(fds) != 0) {
		perror("pipe");
		return -1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		if (dup2(fds[1], STDOUT_FILENO) < 0) {
			_exit(127);
		}
		close(fds[1]);
		unsetenv("OPENBLAS_CORETYPE");
		unsetenv("OPENBLAS_L2_SIZE");
		char *argv[] = {(char *)self, OPENBLAS_ONLY, NULL};
		execvp(self, argv);
		perror(self);
		_exit(127);
	}
	close(fds[1]);
	FILE *f = fdopen(fds[0], "r");
	int got = 0;
	if (f != NULL) {
		char line[256];
		while (fgets(line, sizeof(line), f) != NULL) {
			size_t n;
			struct blas_result r;
			if (sscanf(line, "blas %zu %lf %d %lf %63s", &n,
			        &r.gflops, &r.reps, &r.maxdiff, r.core) != 5) {
				continue;
			}
			for (size_t s = 0; s < NSIZES; s++) {
				if (sizes[s] == n) {
					res[s] = r;
					got++;
				}
			}
		}
		fclose(f);
	} else {
		close(fds[0]);
	}
	int status = 0;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0 || got != (int)NSIZES) {
		fprintf(stderr, "matmul_bench: --openblas-only child failed\n");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Main run                                                             */
/* ------------------------------------------------------------------ */

struct row {
	struct timing fast, ref, blas;
	double blas_maxdiff;
	bool identical;
};

static const char *
env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v != NULL ? v : dflt;
}

static int
bench_main(const char *self)
{
	struct row rows[NSIZES];
	for (size_t s = 0; s < NSIZES; s++) {
		struct problem p;
		if (problem_init(&p, sizes[s]) != 0) {
			fprintf(stderr, "matmul_bench: out of memory\n");
			problem_fini(&p);
			return 1;
		}
		struct row *r = &rows[s];
		r->fast = time_kernel(&p, K_FAST, 1.0, 100);
		r->blas = time_kernel(&p, K_BLAS, 1.0, 100);
		/* The scalar reference runs at about 1 GFLOP/s: one or two
		 * runs say enough. */
		r->ref = time_kernel(&p, K_REF, 1.5, 5);
		size_t count = p.n * p.n;
		r->identical = memcmp(p.c_fast, p.c_ref,
		                   count * sizeof(float)) == 0;
		r->blas_maxdiff = max_abs_diff(p.c_fast, p.c_blas, count);
		problem_fini(&p);
	}

	struct blas_result unset[NSIZES];
	int unset_err = openblas_unset_run(self, unset);

	printf("SGEMM, single thread, row-major C = A B (alpha 1, beta 0), "
	       "A, B uniform in [-1, 1)\n");
	printf("GFLOP/s = 2 n^3 / best time (warm-up, then best of reps)\n");
	printf("ours: fast kernel path \"%s\"; OpenBLAS: %s\n",
	    engine_sgemm_path(), openblas_get_config());
	printf("  OB env   = as configured here: OPENBLAS_CORETYPE=%s "
	       "OPENBLAS_L2_SIZE=%s -> core %s\n",
	    env_or("OPENBLAS_CORETYPE", "(unset)"),
	    env_or("OPENBLAS_L2_SIZE", "(unset)"), openblas_get_corename());
	printf("  OB unset = both variables unset (child process) -> core "
	       "%s\n\n",
	    unset_err == 0 ? unset[0].core : "(failed)");

	printf("%6s %10s %10s %10s %10s %11s %13s %14s %12s\n", "n",
	    "FAST", "REF", "OB env", "OB unset", "FAST/OBenv", "FAST/OBunset",
	    "bit-identical", "max|FAST-OB|");
	for (size_t s = 0; s < NSIZES; s++) {
		struct row *r = &rows[s];
		char unset_gf[32] = "-";
		char unset_ratio[32] = "-";
		if (unset_err == 0) {
			snprintf(unset_gf, sizeof(unset_gf), "%.1f",
			    unset[s].gflops);
			snprintf(unset_ratio, sizeof(unset_ratio), "%.2fx",
			    r->fast.gflops / unset[s].gflops);
		}
		char env_ratio[32];
		snprintf(env_ratio, sizeof(env_ratio), "%.2fx",
		    r->fast.gflops / r->blas.gflops);
		printf("%6zu %10.1f %10.2f %10.1f %10s %11s %13s %14s %12.3g\n",
		    sizes[s], r->fast.gflops, r->ref.gflops, r->blas.gflops,
		    unset_gf, env_ratio, unset_ratio,
		    r->identical ? "yes" : "no", r->blas_maxdiff);
	}
	printf("\nreps (FAST/REF/OB env/OB unset):");
	for (size_t s = 0; s < NSIZES; s++) {
		printf(" n=%zu %d/%d/%d/%d", sizes[s], rows[s].fast.reps,
		    rows[s].ref.reps, rows[s].blas.reps,
		    unset_err == 0 ? unset[s].reps : 0);
	}
	printf("\n");
	bool all_identical = true;
	for (size_t s = 0; s < NSIZES; s++) {
		all_identical = all_identical && rows[s].identical;
	}
	printf("bit-identical (FAST == REF at every size): %s\n",
	    all_identical ? "yes" : "no");
	if (unset_err == 0) {
		printf("max|FAST-OB unset|:");
		for (size_t s = 0; s < NSIZES; s++) {
			printf(" n=%zu %.3g", sizes[s], unset[s].maxdiff);
		}
		printf("\n");
	}
	/* A mismatch is a broken determinism contract: fail the run. */
	return all_identical && unset_err == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	const char *threads = getenv("OPENBLAS_NUM_THREADS");
	if (threads == NULL || strcmp(threads, "1") != 0) {
		/* OpenBLAS already started its threads when it loaded:
		 * start over with one. */
		setenv("OPENBLAS_NUM_THREADS", "1", 1);
		fflush(NULL);
		execvp(argv[0], argv);
		perror(argv[0]);
		return 1;
	}
	if (argc > 1 && strcmp(argv[1], OPENBLAS_ONLY) == 0) {
		return openblas_only();
	}
	return bench_main(argv[0]);
}
