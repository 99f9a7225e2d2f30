/*
 * tests/engine/sgemm_test.c - engine/kern_sgemm.c: the fast sgemm and
 * igemm give exactly the reference's bits (memcmp) on many shapes and
 * nasty inputs, on every vector path the CPU has; hand-checked values of
 * the definition itself; and nothing depends on C's prior contents or
 * touches C outside the m x n region.
 *
 * The vector path is chosen once per process, so the path comparisons run
 * in child processes: this binary re-executes itself with --paths-child
 * and RF_SGEMM_PATH set to each path in turn.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/engine.h"
#include "engine/engine_int.h"
#include "tests/testlib.h"

#define CHILD_FLAG "--paths-child"

static const char *self_path;

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t
rng_next(void)
{
	/* splitmix64: fixed seeds make every failure reproducible. */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t
rng_below(uint32_t n)
{
	return (uint32_t)(rng_next() % n);
}

static float
bits_float(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof(f));
	return f;
}

static uint32_t
float_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof(u));
	return u;
}

enum fill_mode {
	FILL_PLAIN,    /* uniform in [-1, 1) */
	FILL_WIDE,     /* wide exponents, signed zeros, subnormals */
	FILL_SPECIALS, /* FILL_WIDE plus a few infinities and NaNs */
};

/*
 * Wide exponents make rounding depend on the order of the sums, so any
 * reordering or a missed FMA changes bits; subnormals check that no path
 * flushes them.
 */
static float
rand_float(enum fill_mode mode)
{
	uint32_t sign = (uint32_t)(rng_next() & 1) << 31;
	uint32_t mant = (uint32_t)rng_next() & 0x7fffffu;
	if (mode == FILL_PLAIN) {
		return (float)((double)(rng_next() >> 11) * 0x1p-52 - 1.0);
	}
	uint32_t pick = rng_below(100);
	if (pick < 5) {
		return bits_float(sign); /* +0.0 or -0.0 */
	}
	if (pick < 12) {
		return bits_float(sign | mant); /* subnormal */
	}
	if (mode == FILL_SPECIALS && pick < 14) {
		return bits_float(sign | 0x7f800000u); /* infinity */
	}
	if (mode == FILL_SPECIALS && pick < 16) {
		/* NaN with a random payload, quiet or signalling. */
		return bits_float(sign | 0x7f800000u | (mant | 1));
	}
	uint32_t exp = 127 - 30 + rng_below(50);
	return bits_float(sign | exp << 23 | mant);
}

/* A rows x cols matrix with leading dimension ld; the padding past cols
 * holds a NaN so that reading it would show. */
static float *
rand_matrix(size_t rows, size_t cols, size_t ld, enum fill_mode mode)
{
	float *m = malloc((rows * ld + 1) * sizeof(float));
	if (m == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < rows * ld + 1; i++) {
		m[i] = bits_float(0x7fa00001u);
	}
	for (size_t i = 0; i < rows; i++) {
		for (size_t j = 0; j < cols; j++) {
			m[i * ld + j] = rand_float(mode);
		}
	}
	return m;
}

/* Fills a C buffer with garbage a kernel must neither read nor keep. */
static void
fill_garbage(uint32_t *c, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		c[i] = (uint32_t)rng_next();
	}
}

static size_t
pad(void)
{
	return rng_below(4) == 0 ? rng_below(9) : 0;
}

/* ------------------------------------------------------------------ */
/* FAST against REF                                                     */
/* ------------------------------------------------------------------ */

/*
 * Runs one shape through both kernels and compares: the m x n results
 * byte for byte, and every word of C outside them unchanged. Returns 0 on
 * success and prints the shape otherwise.
 */
static int
sgemm_check(size_t m, size_t n, size_t k, size_t lda, size_t ldb,
    size_t ldc, enum fill_mode mode)
{
	float *a = rand_matrix(m, k, lda, mode);
	float *b = rand_matrix(k, n, ldb, mode);
	size_t csize = m * ldc + 1;
	uint32_t *cref = malloc(csize * sizeof(uint32_t));
	uint32_t *cfast = malloc(csize * sizeof(uint32_t));
	uint32_t *cinit = malloc(csize * sizeof(uint32_t));
	int bad = 0;
	if (a == NULL || b == NULL || cref == NULL || cfast == NULL ||
	    cinit == NULL) {
		bad = 1;
		goto out;
	}
	fill_garbage(cinit, csize);
	memcpy(cref, cinit, csize * sizeof(uint32_t));
	memcpy(cfast, cinit, csize * sizeof(uint32_t));
	engine_sgemm(ENGINE_KERNELS_REF, m, n, k, a, lda, b, ldb,
	    (float *)cref, ldc);
	engine_sgemm(ENGINE_KERNELS_FAST, m, n, k, a, lda, b, ldb,
	    (float *)cfast, ldc);
	for (size_t i = 0; i < csize; i++) {
		bool inside = ldc > 0 && i / ldc < m && i % ldc < n;
		if (cfast[i] != cref[i] || (!inside && cfast[i] != cinit[i])) {
			fprintf(stderr,
			    "sgemm %s m=%zu n=%zu k=%zu lda=%zu ldb=%zu "
			    "ldc=%zu mode=%d: word %zu ref %08x fast %08x "
			    "was %08x\n",
			    engine_sgemm_path(), m, n, k, lda, ldb, ldc,
			    (int)mode, i, (unsigned)cref[i],
			    (unsigned)cfast[i], (unsigned)cinit[i]);
			bad = 1;
			break;
		}
	}
out:
	free(a);
	free(b);
	free(cref);
	free(cfast);
	free(cinit);
	return bad;
}

static int
sgemm_check_random(size_t m, size_t n, size_t k, enum fill_mode mode)
{
	return sgemm_check(m, n, k, k + pad(), n + pad(), n + pad(), mode);
}

static enum fill_mode
rand_mode(void)
{
	uint32_t r = rng_below(10);
	if (r < 3) {
		return FILL_PLAIN;
	}
	return r < 8 ? FILL_WIDE : FILL_SPECIALS;
}

static void
test_sgemm_small_cross(void)
{
	/* Every edge-tile combination of the register tiles (at most 8 or
	 * 16 rows/columns per vector path), with k around the unrolling. */
	static const size_t ks[] = {0, 1, 2, 5, 17};
	rng_state = 1;
	int bad = 0;
	for (size_t m = 0; m <= 17; m++) {
		for (size_t n = 0; n <= 17; n++) {
			for (size_t q = 0; q < sizeof(ks) / sizeof(ks[0]);
			     q++) {
				bad += sgemm_check_random(m, n, ks[q],
				    rand_mode());
			}
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
}

static void
test_sgemm_random_shapes(void)
{
	rng_state = 2;
	int bad = 0;
	for (int t = 0; t < 400; t++) {
		size_t m = rng_below(71);
		size_t n = rng_below(71);
		size_t k = rng_below(71);
		bad += sgemm_check_random(m, n, k, rand_mode());
	}
	CU_ASSERT_EQUAL(bad, 0);
}

static void
test_sgemm_large_shapes(void)
{
	/* Several cache blocks in every dimension, k-blocking through C
	 * (k over the deepest kc of 512), primes, long thin shapes. */
	static const size_t shapes[][3] = {
		{129, 257, 300}, {512, 33, 700}, {33, 512, 700},
		{67, 71, 1100}, {1, 1, 2000}, {8, 32, 1025},
		{200, 3000, 3}, {3000, 17, 9}, {97, 2100, 5},
	};
	rng_state = 3;
	int bad = 0;
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		size_t m = shapes[s][0];
		size_t n = shapes[s][1];
		size_t k = shapes[s][2];
		bad += sgemm_check_random(m, n, k,
		    s % 2 ? FILL_WIDE : FILL_SPECIALS);
		bad += sgemm_check(m, n, k, k + 13, n + 5, n + 31, FILL_PLAIN);
	}
	CU_ASSERT_EQUAL(bad, 0);
}

/*
 * fmaf(a, b, c) where a * b + c rounded to double lands exactly halfway
 * between two floats though the exact value does not: rounding to double
 * and then to float picks the wrong float there. For c with an odd last
 * bit and exponent e, (1 + 2^-23) * (1 - 2^-23) * 2^(e-25) = 2^(e-25) -
 * 2^(e-71) is just under half an ulp of c. Columns hold such c (normal,
 * subnormal, +-FLT_MAX, where the halfway point is the overflow
 * threshold) at k0 and the matching factor at k1 > k0, in a later k block
 * when k is large; rows scale the factor so that some rows hit the
 * halfway cases and others miss them narrowly. Every path must give
 * fmaf's result (REF) bit for bit.
 */
static int
sgemm_halfway_case(size_t m, size_t n, size_t k)
{
	float *a = calloc(m * k, sizeof(float));
	float *b = malloc(k * n * sizeof(float));
	float *cr = malloc(m * n * sizeof(float));
	float *cf = malloc(m * n * sizeof(float));
	int bad = 0;
	if (a == NULL || b == NULL || cr == NULL || cf == NULL) {
		bad = 1;
		goto out;
	}
	for (size_t i = 0; i < k * n; i++) {
		b[i] = rand_float(FILL_WIDE);
	}
	size_t k0 = rng_below((uint32_t)(k / 2));
	size_t k1 = k / 2 + rng_below((uint32_t)(k - k / 2));
	static const int row_scale[] = {0, -100, 0, 3, -100, 1};
	for (size_t i = 0; i < m; i++) {
		int u = row_scale[i % 6];
		float sign = rng_below(2) ? -1.0f : 1.0f;
		a[i * k + k0] = 1.0f;
		a[i * k + k1] = sign * ldexpf(1.0f + 0x1p-23f, u);
	}
	for (size_t j = 0; j < n; j++) {
		uint32_t kind = rng_below(8);
		uint32_t sign = rng_below(2) ? 0x80000000u : 0;
		uint32_t mant = (uint32_t)rng_next() & 0x7fffffu;
		float c;
		int w;
		if (kind < 5) {
			uint32_t e = 60 + rng_below(140);
			c = bits_float(sign | e << 23 | mant | 1u);
			w = (int)e - 127 - 25; /* for row scale 0 */
		} else if (kind < 7) {
			c = bits_float(sign | mant | 1u); /* subnormal */
			w = -150 + 100; /* for row scale -100 */
		} else {
			c = bits_float(sign | 0x7f7fffffu); /* +-FLT_MAX */
			w = 127 - 25;
		}
		b[k0 * n + j] = c;
		b[k1 * n + j] = ldexpf(1.0f - 0x1p-23f, w);
	}
	engine_sgemm(ENGINE_KERNELS_REF, m, n, k, a, k, b, n, cr, n);
	engine_sgemm(ENGINE_KERNELS_FAST, m, n, k, a, k, b, n, cf, n);
	for (size_t i = 0; i < m * n; i++) {
		uint32_t x;
		uint32_t y;
		memcpy(&x, &cr[i], sizeof(x));
		memcpy(&y, &cf[i], sizeof(y));
		if (x != y) {
			fprintf(stderr, "sgemm %s halfway m=%zu n=%zu k=%zu: "
			    "element %zu ref %08x fast %08x\n",
			    engine_sgemm_path(), m, n, k, i, (unsigned)x,
			    (unsigned)y);
			bad = 1;
			break;
		}
	}
out:
	free(a);
	free(b);
	free(cr);
	free(cf);
	return bad;
}

static void
test_sgemm_halfway(void)
{
	static const size_t shapes[][3] = {
		{6, 40, 2}, {13, 37, 7}, {24, 64, 33}, {17, 50, 600},
		{9, 300, 1100},
	};
	rng_state = 5;
	int bad = 0;
	for (int rep = 0; rep < 20; rep++) {
		for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]);
		     s++) {
			bad += sgemm_halfway_case(shapes[s][0], shapes[s][1],
			    shapes[s][2]);
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
}

/*
 * engine_sgemm_t reads A stored K x M and B stored N x K in place (Gemm's
 * transA and transB): its result must be the reference's on transposed
 * copies, bit for bit, on both kernel kinds, without touching C outside
 * the m x n region.
 */
static int
sgemm_trans_check(size_t m, size_t n, size_t k, bool ta, bool tb,
    enum fill_mode mode)
{
	size_t lda_s = (ta ? m : k) + pad(); /* stored leading dimensions */
	size_t ldb_s = (tb ? k : n) + pad();
	size_t ldc = n + pad();
	float *as = rand_matrix(ta ? k : m, ta ? m : k, lda_s, mode);
	float *bs = rand_matrix(tb ? n : k, tb ? k : n, ldb_s, mode);
	float *a = malloc((m * k + 1) * sizeof(float));
	float *b = malloc((k * n + 1) * sizeof(float));
	size_t csize = m * ldc + 1;
	uint32_t *cref = malloc(csize * sizeof(uint32_t));
	uint32_t *cfast = malloc(csize * sizeof(uint32_t));
	uint32_t *cslow = malloc(csize * sizeof(uint32_t));
	int bad = 0;
	if (as == NULL || bs == NULL || a == NULL || b == NULL ||
	    cref == NULL || cfast == NULL || cslow == NULL) {
		bad = 1;
		goto out;
	}
	for (size_t i = 0; i < m; i++) {
		for (size_t p = 0; p < k; p++) {
			a[i * k + p] = ta ? as[p * lda_s + i] : as[i * lda_s + p];
		}
	}
	for (size_t p = 0; p < k; p++) {
		for (size_t j = 0; j < n; j++) {
			b[p * n + j] = tb ? bs[j * ldb_s + p] : bs[p * ldb_s + j];
		}
	}
	fill_garbage(cref, csize);
	memcpy(cfast, cref, csize * sizeof(uint32_t));
	memcpy(cslow, cref, csize * sizeof(uint32_t));
	engine_sgemm(ENGINE_KERNELS_REF, m, n, k, a, k, b, n, (float *)cref,
	    ldc);
	engine_sgemm_t(ENGINE_KERNELS_FAST, ta, tb, m, n, k, as, lda_s, bs,
	    ldb_s, (float *)cfast, ldc);
	engine_sgemm_t(ENGINE_KERNELS_REF, ta, tb, m, n, k, as, lda_s, bs,
	    ldb_s, (float *)cslow, ldc);
	for (size_t i = 0; i < csize; i++) {
		if (cfast[i] != cref[i] || cslow[i] != cref[i]) {
			fprintf(stderr, "sgemm_t %s ta=%d tb=%d m=%zu n=%zu "
			    "k=%zu: word %zu ref %08x fast %08x ref_t %08x\n",
			    engine_sgemm_path(), ta, tb, m, n, k, i,
			    (unsigned)cref[i], (unsigned)cfast[i],
			    (unsigned)cslow[i]);
			bad = 1;
			break;
		}
	}
out:
	free(as);
	free(bs);
	free(a);
	free(b);
	free(cref);
	free(cfast);
	free(cslow);
	return bad;
}

static void
test_sgemm_transposed(void)
{
	static const size_t shapes[][3] = {
		{64, 1024, 784}, {129, 257, 600}, {3, 2100, 9}, {70, 5, 1100},
		{1, 1, 1}, {17, 33, 0},
	};
	rng_state = 6;
	int bad = 0;
	for (int t = 0; t < 200; t++) {
		bad += sgemm_trans_check(rng_below(40), rng_below(40),
		    rng_below(40), rng_below(2), rng_below(2), rand_mode());
	}
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		for (int f = 0; f < 4; f++) {
			bad += sgemm_trans_check(shapes[s][0], shapes[s][1],
			    shapes[s][2], f & 1, f >> 1,
			    s % 2 ? FILL_WIDE : FILL_SPECIALS);
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
}

static void
test_sgemm_specials_dense(void)
{
	/* Many NaNs (random signs and payloads) and infinities from A and
	 * B meeting in one sum: which NaN an FMA passes on then depends on
	 * the instruction form the compiler chose, so only the canonical
	 * NaN makes the bits agree. */
	rng_state = 4;
	int bad = 0;
	for (int t = 0; t < 60; t++) {
		size_t m = 1 + rng_below(40);
		size_t n = 1 + rng_below(40);
		size_t k = 1 + rng_below(40);
		float *a = rand_matrix(m, k, k, FILL_SPECIALS);
		float *b = rand_matrix(k, n, n, FILL_SPECIALS);
		float *cr = malloc(m * n * sizeof(float));
		float *cf = malloc(m * n * sizeof(float));
		if (a == NULL || b == NULL || cr == NULL || cf == NULL) {
			bad++;
		} else {
			for (size_t i = 0; i < m * k; i += 1 + rng_below(6)) {
				a[i] = bits_float(0x7f800000u |
				    ((uint32_t)rng_next() & 0x807fffffu));
			}
			for (size_t i = 0; i < k * n; i += 1 + rng_below(6)) {
				b[i] = bits_float(0x7f800000u |
				    ((uint32_t)rng_next() & 0x807fffffu));
			}
			engine_sgemm(ENGINE_KERNELS_REF, m, n, k, a, k, b, n,
			    cr, n);
			engine_sgemm(ENGINE_KERNELS_FAST, m, n, k, a, k, b, n,
			    cf, n);
			if (memcmp(cr, cf, m * n * sizeof(float)) != 0) {
				bad++;
			}
			for (size_t i = 0; i < m * n; i++) {
				if (isnan(cf[i]) &&
				    float_bits(cf[i]) != 0x7fc00000u) {
					bad++;
					break;
				}
			}
		}
		free(a);
		free(b);
		free(cr);
		free(cf);
	}
	CU_ASSERT_EQUAL(bad, 0);
}

/* ------------------------------------------------------------------ */
/* igemm                                                                */
/* ------------------------------------------------------------------ */

static int8_t
rand_i8(void)
{
	/* The extremes are where sign extension goes wrong. */
	uint32_t r = rng_below(10);
	if (r == 0) {
		return -128;
	}
	if (r == 1) {
		return 127;
	}
	return (int8_t)(rng_below(256) - 128);
}

static int32_t
rand_zero_point(void)
{
	static const int32_t extreme[] = {INT32_MIN, INT32_MAX, -65536,
	    0x40000000, -0x3fffffff, 1 << 24};
	uint32_t r = rng_below(10);
	if (r < 2) {
		return extreme[rng_below(6)];
	}
	if (r < 4) {
		return 0;
	}
	return (int32_t)rng_below(256) - 128;
}

static int
igemm_check(size_t m, size_t n, size_t k, size_t lda, size_t ldb,
    size_t ldc, int32_t za, int32_t zb)
{
	int8_t *a = malloc(m * lda + 1);
	int8_t *b = malloc(k * ldb + 1);
	size_t csize = m * ldc + 1;
	uint32_t *cref = malloc(csize * sizeof(uint32_t));
	uint32_t *cfast = malloc(csize * sizeof(uint32_t));
	uint32_t *cinit = malloc(csize * sizeof(uint32_t));
	int bad = 0;
	if (a == NULL || b == NULL || cref == NULL || cfast == NULL ||
	    cinit == NULL) {
		bad = 1;
		goto out;
	}
	for (size_t i = 0; i < m * lda + 1; i++) {
		a[i] = rand_i8();
	}
	for (size_t i = 0; i < k * ldb + 1; i++) {
		b[i] = rand_i8();
	}
	fill_garbage(cinit, csize);
	memcpy(cref, cinit, csize * sizeof(uint32_t));
	memcpy(cfast, cinit, csize * sizeof(uint32_t));
	engine_igemm(ENGINE_KERNELS_REF, m, n, k, a, lda, za, b, ldb, zb,
	    (int32_t *)cref, ldc);
	engine_igemm(ENGINE_KERNELS_FAST, m, n, k, a, lda, za, b, ldb, zb,
	    (int32_t *)cfast, ldc);
	for (size_t i = 0; i < csize; i++) {
		bool inside = ldc > 0 && i / ldc < m && i % ldc < n;
		if (cfast[i] != cref[i] || (!inside && cfast[i] != cinit[i])) {
			fprintf(stderr,
			    "igemm %s m=%zu n=%zu k=%zu za=%d zb=%d: word %zu "
			    "ref %08x fast %08x\n",
			    engine_sgemm_path(), m, n, k, (int)za, (int)zb, i,
			    (unsigned)cref[i], (unsigned)cfast[i]);
			bad = 1;
			break;
		}
	}
out:
	free(a);
	free(b);
	free(cref);
	free(cfast);
	free(cinit);
	return bad;
}

static void
test_igemm_random_shapes(void)
{
	rng_state = 5;
	int bad = 0;
	for (size_t m = 0; m <= 17; m += 1) {
		for (size_t n = 0; n <= 17; n += 1) {
			size_t k = rng_below(20);
			bad += igemm_check(m, n, k, k + pad(), n + pad(),
			    n + pad(), rand_zero_point(), rand_zero_point());
		}
	}
	for (int t = 0; t < 300; t++) {
		size_t m = rng_below(71);
		size_t n = rng_below(71);
		size_t k = rng_below(71);
		bad += igemm_check(m, n, k, k + pad(), n + pad(), n + pad(),
		    rand_zero_point(), rand_zero_point());
	}
	static const size_t shapes[][3] = {
		{129, 257, 300}, {512, 33, 700}, {40, 50, 1500}, {1, 1, 3000},
	};
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		bad += igemm_check(shapes[s][0], shapes[s][1], shapes[s][2],
		    shapes[s][2] + 3, shapes[s][1] + 1, shapes[s][1] + 7,
		    rand_zero_point(), rand_zero_point());
		/* -128 against zero point 127: the largest int8 products. */
		bad += igemm_check(shapes[s][0], shapes[s][1], shapes[s][2],
		    shapes[s][2], shapes[s][1], shapes[s][1], 127, -128);
	}
	CU_ASSERT_EQUAL(bad, 0);
}

/* ------------------------------------------------------------------ */
/* Every vector path, in child processes                                */
/* ------------------------------------------------------------------ */

static bool
path_supported(const char *path)
{
	if (strcmp(path, "generic") == 0) {
		return true;
	}
#if defined(__x86_64__) || defined(__i386__)
	__builtin_cpu_init();
	if (strcmp(path, "avx2") == 0) {
		return __builtin_cpu_supports("avx2") &&
		    __builtin_cpu_supports("fma");
	}
	if (strcmp(path, "avx512") == 0) {
		return __builtin_cpu_supports("avx512f");
	}
	if (strcmp(path, "fma") == 0) {
		return __builtin_cpu_supports("avx") &&
		    __builtin_cpu_supports("fma");
	}
#endif
	return false;
}

/* In a child: the kernel runs the path the parent asked for. */
static void
test_child_path(void)
{
	const char *want = getenv("RF_SGEMM_PATH");
	const char *got = engine_sgemm_path();
	if (want != NULL && strcmp(got, want) != 0) {
		fprintf(stderr, "RF_SGEMM_PATH=%s dispatched to %s\n", want,
		    got);
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(want);
	CU_ASSERT_STRING_EQUAL(got, want);
}

static void
test_every_path(void)
{
	static const char *const paths[] = {"generic", "fma", "avx2",
		"avx512"};
	int ran = 0;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (!path_supported(paths[i])) {
			printf("\n  path %s: not on this CPU, skipped",
			    paths[i]);
			continue;
		}
		fflush(NULL);
		pid_t pid = fork();
		CU_ASSERT_FATAL(pid >= 0);
		if (pid == 0) {
			/* A fresh process: the path choice is not cached.
			 * Its CUnit report would read as a second test
			 * binary's in the log, so stdout goes away; the
			 * mismatch details go to stderr. */
			int devnull = open("/dev/null", O_WRONLY);
			if (devnull >= 0) {
				dup2(devnull, STDOUT_FILENO);
				close(devnull);
			}
			setenv("RF_SGEMM_PATH", paths[i], 1);
			char *argv[] = {(char *)self_path, CHILD_FLAG, NULL};
			execv(self_path, argv);
			perror(self_path);
			_exit(127);
		}
		int status = 0;
		CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
		bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		if (!ok) {
			fprintf(stderr, "path %s: child status %d\n", paths[i],
			    status);
		}
		printf("\n  path %s: %s", paths[i], ok ? "FAST == REF" : "FAILED");
		CU_ASSERT(ok);
		ran++;
	}
	printf("\n");
	CU_ASSERT(ran >= 1);
}

/* ------------------------------------------------------------------ */
/* Hand-checked values and C contents (default path)                    */
/* ------------------------------------------------------------------ */

static void
both_kernels(size_t m, size_t n, size_t k, const float *a, const float *b,
    float *cref, float *cfast)
{
	engine_sgemm(ENGINE_KERNELS_REF, m, n, k, a, k, b, n, cref, n);
	engine_sgemm(ENGINE_KERNELS_FAST, m, n, k, a, k, b, n, cfast, n);
}

static void
test_known_2x2(void)
{
	const float a[] = {1, 2, 3, 4};
	const float b[] = {5, 6, 7, 8};
	const float want[] = {19, 22, 43, 50};
	float cr[4];
	float cf[4];
	both_kernels(2, 2, 2, a, b, cr, cf);
	CU_ASSERT(memcmp(cr, want, sizeof(want)) == 0);
	CU_ASSERT(memcmp(cf, want, sizeof(want)) == 0);

	/* 2x3 times 3x2, with a negative. */
	const float a2[] = {1, -2, 3, 0.5f, 4, -1};
	const float b2[] = {2, 0, 1, 1, -1, 3};
	const float want2[] = {-3, 7, 6, 1};
	both_kernels(2, 2, 3, a2, b2, cr, cf);
	CU_ASSERT(memcmp(cr, want2, sizeof(want2)) == 0);
	CU_ASSERT(memcmp(cf, want2, sizeof(want2)) == 0);
}

static void
test_known_fma_order(void)
{
	/* x = 1 + 2^-12: x*x = 1 + 2^-11 + 2^-24 exactly, which rounds to
	 * 1 + 2^-11 on its own. Summed first it is rounded (the next term
	 * cancels it to 0); summed last the FMA keeps the 2^-24. A kernel
	 * that reorders k or rounds the product gets these wrong. */
	float x = 1.0f + 0x1p-12f;
	float y = 1.0f + 0x1p-11f;
	const float a[] = {x, -1.0f, -1.0f, x};
	const float b[] = {x, y, y, x};
	/* C[0][0] = A row 0 . B col 0 = fma(-1, y, fma(x, x, 0)) = 0;
	 * C[1][1] = fma(x, x, fma(-1, y, 0)) = 2^-24. */
	float cr[4];
	float cf[4];
	both_kernels(2, 2, 2, a, b, cr, cf);
	CU_ASSERT_EQUAL(float_bits(cr[0]), 0u);
	CU_ASSERT_EQUAL(float_bits(cr[3]), float_bits(0x1p-24f));
	CU_ASSERT(memcmp(cr, cf, sizeof(cr)) == 0);
}

static void
test_known_zeros_and_nans(void)
{
	float cr[4];
	float cf[4];
	/* fma(-0, 1, +0) = +0: the sum starts from +0.0f, not -0.0f. */
	const float a[] = {-0.0f};
	const float b[] = {1.0f};
	both_kernels(1, 1, 1, a, b, cr, cf);
	CU_ASSERT_EQUAL(float_bits(cr[0]), 0u);
	CU_ASSERT_EQUAL(float_bits(cf[0]), 0u);

	/* inf * 0 (0xffc00000 on x86), a NaN input with sign and payload,
	 * and inf - inf all come out as the one quiet NaN 0x7fc00000. */
	const float a2[] = {INFINITY, 1.0f, 1.0f, 1.0f};
	const float b2[] = {0.0f, bits_float(0xff812345u), INFINITY,
	    -INFINITY};
	both_kernels(2, 1, 1, a2, b2, cr, cf);
	CU_ASSERT_EQUAL(float_bits(cr[0]), 0x7fc00000u);
	CU_ASSERT(memcmp(cr, cf, 2 * sizeof(float)) == 0);
	both_kernels(1, 1, 2, a2 + 1, b2 + 1, cr, cf);
	CU_ASSERT_EQUAL(float_bits(cr[0]), 0x7fc00000u);
	CU_ASSERT_EQUAL(float_bits(cf[0]), 0x7fc00000u);
	both_kernels(1, 1, 2, a2 + 2, b2 + 2, cr, cf);
	CU_ASSERT_EQUAL(float_bits(cr[0]), 0x7fc00000u);
	CU_ASSERT_EQUAL(float_bits(cf[0]), 0x7fc00000u);

	/* k = 0: +0.0f everywhere, whatever C held. */
	for (int i = 0; i < 4; i++) {
		cr[i] = NAN;
		cf[i] = -1.0f;
	}
	both_kernels(2, 2, 0, NULL, NULL, cr, cf);
	for (int i = 0; i < 4; i++) {
		CU_ASSERT_EQUAL(float_bits(cr[i]), 0u);
		CU_ASSERT_EQUAL(float_bits(cf[i]), 0u);
	}
	/* m = 0 or n = 0: C is not touched. */
	cf[0] = 7.0f;
	engine_sgemm(ENGINE_KERNELS_FAST, 0, 1, 1, a, 1, b, 1, cf, 1);
	engine_sgemm(ENGINE_KERNELS_FAST, 1, 0, 1, a, 1, b, 1, cf, 1);
	CU_ASSERT_EQUAL(cf[0], 7.0f);
}

static void
test_prior_contents(void)
{
	/* Big enough for several k blocks: only the first may start from
	 * zero, the others must continue from what the first stored. */
	const size_t m = 37;
	const size_t n = 70;
	const size_t k = 1300;
	rng_state = 6;
	float *a = rand_matrix(m, k, k, FILL_WIDE);
	float *b = rand_matrix(k, n, n, FILL_WIDE);
	uint32_t *c1 = malloc(m * n * sizeof(uint32_t));
	uint32_t *c2 = malloc(m * n * sizeof(uint32_t));
	uint32_t *c3 = malloc(m * n * sizeof(uint32_t));
	CU_ASSERT_FATAL(a && b && c1 && c2 && c3);
	memset(c1, 0, m * n * sizeof(uint32_t));
	memset(c2, 0xff, m * n * sizeof(uint32_t)); /* all NaN */
	fill_garbage(c3, m * n);
	engine_sgemm(ENGINE_KERNELS_FAST, m, n, k, a, k, b, n, (float *)c1,
	    n);
	engine_sgemm(ENGINE_KERNELS_FAST, m, n, k, a, k, b, n, (float *)c2,
	    n);
	engine_sgemm(ENGINE_KERNELS_FAST, m, n, k, a, k, b, n, (float *)c3,
	    n);
	CU_ASSERT(memcmp(c1, c2, m * n * sizeof(uint32_t)) == 0);
	CU_ASSERT(memcmp(c1, c3, m * n * sizeof(uint32_t)) == 0);
	/* Running it again on its own output changes nothing either. */
	engine_sgemm(ENGINE_KERNELS_FAST, m, n, k, a, k, b, n, (float *)c3,
	    n);
	CU_ASSERT(memcmp(c1, c3, m * n * sizeof(uint32_t)) == 0);
	free(a);
	free(b);
	free(c1);
	free(c2);
	free(c3);
}

static void
test_path_name(void)
{
	const char *p = engine_sgemm_path();
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT(strcmp(p, "generic") == 0 || strcmp(p, "fma") == 0 ||
	    strcmp(p, "avx2") == 0 || strcmp(p, "avx512") == 0);
	/* Without RF_SGEMM_PATH the best the CPU has is used. */
	if (getenv("RF_SGEMM_PATH") == NULL) {
		if (path_supported("avx512")) {
			CU_ASSERT_STRING_EQUAL(p, "avx512");
		} else if (path_supported("avx2")) {
			CU_ASSERT_STRING_EQUAL(p, "avx2");
		} else if (path_supported("fma")) {
			CU_ASSERT_STRING_EQUAL(p, "fma");
		}
	}
}

static void
test_igemm_known(void)
{
	int8_t a[] = {1, 2, 3, 4};
	int8_t b[] = {5, 6, 7, 8};
	int32_t want[] = {2, 3, 6, 11}; /* (A - 1) (B - 5) */
	int32_t c[4];
	for (int kind = 0; kind < 2; kind++) {
		engine_igemm((enum engine_kernels)kind, 2, 2, 2, a, 2, 1, b,
		    2, 5, c, 2);
		CU_ASSERT(memcmp(c, want, sizeof(want)) == 0);
	}
	/* 127 - INT32_MIN wraps to INT32_MIN + 127. */
	int8_t a1 = 127;
	int8_t b1 = 1;
	for (int kind = 0; kind < 2; kind++) {
		int32_t c1 = 0;
		engine_igemm((enum engine_kernels)kind, 1, 1, 1, &a1, 1,
		    INT32_MIN, &b1, 1, 0, &c1, 1);
		CU_ASSERT_EQUAL(c1, INT32_MIN + 127);
	}
	/* A sum past INT32_MAX wraps: 2 * (2^16 * 2^15) = 2^32 -> 0, and
	 * one more 2^31 gives INT32_MIN. */
	int8_t a3[] = {0, 0, 0};
	int8_t b3[] = {0, 0, 0};
	for (int kind = 0; kind < 2; kind++) {
		int32_t c3 = 1;
		engine_igemm((enum engine_kernels)kind, 1, 1, 2, a3, 3,
		    -65536, b3, 1, -32768, &c3, 1);
		CU_ASSERT_EQUAL(c3, 0);
		engine_igemm((enum engine_kernels)kind, 1, 1, 3, a3, 3,
		    -65536, b3, 1, -32768, &c3, 1);
		CU_ASSERT_EQUAL(c3, INT32_MIN);
	}
	/* k = 0 writes zeros; -128 * -128 is positive. */
	int8_t a4 = -128;
	int8_t b4 = -128;
	for (int kind = 0; kind < 2; kind++) {
		int32_t c4 = 5;
		engine_igemm((enum engine_kernels)kind, 1, 1, 0, NULL, 0, 0,
		    NULL, 1, 0, &c4, 1);
		CU_ASSERT_EQUAL(c4, 0);
		engine_igemm((enum engine_kernels)kind, 1, 1, 1, &a4, 1, 0, &b4,
		    1, 0, &c4, 1);
		CU_ASSERT_EQUAL(c4, 16384);
	}
}

/* ------------------------------------------------------------------ */
/* Suites                                                               */
/* ------------------------------------------------------------------ */

static CU_TestInfo sgemm_tests[] = {
	{ "known values: 2x2, 2x3x2", test_known_2x2 },
	{ "known values: FMA and k order", test_known_fma_order },
	{ "known values: signed zeros, NaN, k = 0", test_known_zeros_and_nans },
	{ "result independent of C's prior contents", test_prior_contents },
	{ "path name", test_path_name },
	{ "igemm known values and wraparound", test_igemm_known },
	{ "FAST == REF on every vector path", test_every_path },
	CU_TEST_INFO_NULL,
};

/* What each child runs, on the path RF_SGEMM_PATH names. */
static CU_TestInfo path_tests[] = {
	{ "dispatched path", test_child_path },
	{ "sgemm: m, n 0..17 x k 0, 1, 2, 5, 17", test_sgemm_small_cross },
	{ "sgemm: 400 random shapes up to 70", test_sgemm_random_shapes },
	{ "sgemm: large and odd shapes", test_sgemm_large_shapes },
	{ "sgemm: dense NaN and infinity", test_sgemm_specials_dense },
	{ "sgemm: fmaf halfway cases", test_sgemm_halfway },
	{ "sgemm: transposed operands read in place", test_sgemm_transposed },
	{ "igemm: random shapes and zero points", test_igemm_random_shapes },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "sgemm", NULL, NULL, NULL, NULL, sgemm_tests },
	CU_SUITE_INFO_NULL,
};

static CU_SuiteInfo child_suites[] = {
	{ "sgemm path", NULL, NULL, NULL, NULL, path_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	self_path = argv[0];
	if (argc > 1 && strcmp(argv[1], CHILD_FLAG) == 0) {
		return test_main(child_suites);
	}
	return test_main(suites);
}
