/*
 * tests/engine/detmath_test.c - engine/detmath.c against libm.
 *
 * Each float function is run over a few million inputs, strided through
 * the float bit patterns of the range where it is not trivially saturated,
 * plus special values. The error is measured in float ulps against libm
 * computed in double (glibc's exp, log, tanh and erf are within one double
 * ulp) or, for the composite functions where a double formula would itself
 * cancel or amplify rounding, in long double. Each function must stay
 * within 1 ulp; the maximum error and the number of results that differ
 * from the reference rounded to float are printed for docs/determinism.md.
 *
 * RF_DETMATH_FULL=name (expf, logf, tanhf, erff, sigmoidf, geluf,
 * gelu_tanhf, or "all") sweeps every non-NaN float instead: a few minutes
 * per function, for measuring, not for CI. RF_DETMATH_VERBOSE=1 prints the
 * first few results that are not correctly rounded.
 */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"
#include "tests/testlib.h"

/* Inputs per function in the default run, over both signs. */
#define SWEEP_SAMPLES (UINT32_C(1) << 22)

static uint32_t
fbits(float x)
{
	uint32_t u;
	memcpy(&u, &x, sizeof(u));
	return u;
}

static float
ffrom(uint32_t u)
{
	float x;
	memcpy(&x, &u, sizeof(x));
	return x;
}

static uint64_t
dbits(double x)
{
	uint64_t u;
	memcpy(&u, &x, sizeof(u));
	return u;
}

static double
dfrom(uint64_t u)
{
	double x;
	memcpy(&x, &u, sizeof(x));
	return x;
}

static bool
same_float(float a, float b)
{
	return fbits(a) == fbits(b);
}

/* ------------------------------------------------------------------ */
/* References                                                           */
/* ------------------------------------------------------------------ */

static long double
ref_exp(float x)
{
	return exp((double)x);
}

static long double
ref_log(float x)
{
	return log((double)x);
}

static long double
ref_tanh(float x)
{
	return tanh((double)x);
}

static long double
ref_erf(float x)
{
	return erf((double)x);
}

/* Whether r lies exactly halfway between two floats. */
static bool
is_float_midpoint(long double r)
{
	float f = (float)r;
	if ((long double)f == r || isinf(f)) {
		return false;
	}
	float g = nextafterf(f, r > (long double)f ? INFINITY : -INFINITY);
	return ((long double)f + (long double)g) / 2.0L == r;
}

/*
 * sigmoid x = 1/2 + x/4 - x^3/48 + ... For small x, 1/2 + x/4 is often
 * exactly halfway between two floats, and when the cubic term is below a
 * long double ulp, expl lands on that halfway point. The exact value is
 * then on the side of -x, and the next long double that way says so.
 */
static long double
ref_sigmoid(float x)
{
	long double xl = x;
	long double r = 1.0L / (1.0L + expl(-xl));
	if (fabsl(xl) < 0x1p-8L && is_float_midpoint(r)) {
		r = nextafterl(r, xl > 0.0L ? -INFINITY : INFINITY);
	}
	return r;
}

/*
 * Both gelu forms are x/2 + x^2/sqrt(2 pi) + O(x^4). For tiny x the x^2
 * term is below a long double ulp of x/2, and a reference that drops it
 * is exactly halfway between two floats when x is a subnormal with its
 * last bit set. The next long double up keeps the side the exact value
 * is on.
 */
static long double
ref_gelu_tiny(float x)
{
	long double h = 0.5L * (long double)x;
	if (x == 0.0f) {
		return h;
	}
	return nextafterl(h, INFINITY);
}

/* erfc(-z) = 1 + erf(z) without cancellation for either sign of x. */
static long double
ref_gelu(float x)
{
	long double xl = x;
	if (fabsl(xl) < 0x1p-70L) {
		return ref_gelu_tiny(x);
	}
	if (isinf(xl) && xl < 0) {
		return -0.0L; /* the limit; the formula gives inf * 0 */
	}
	return 0.5L * xl * erfcl(-xl * 0.70710678118654752440084436210484904L);
}

/* 0.5 x (1 + tanh u) = x / (1 + exp(-2u)), which does not cancel. */
static long double
ref_gelu_tanh(float x)
{
	long double xl = x;
	if (fabsl(xl) < 0x1p-70L) {
		return ref_gelu_tiny(x);
	}
	if (isinf(xl) && xl < 0) {
		return -0.0L;
	}
	long double u = 0.79788456080286535587989211986876373L *
	    (xl + 0.044715L * xl * xl * xl);
	return xl / (1.0L + expl(-2.0L * u));
}

/* ------------------------------------------------------------------ */
/* Error measurement                                                    */
/* ------------------------------------------------------------------ */

struct err_stats {
	uint64_t count;
	uint64_t not_cr; /* result differs from the reference rounded once */
	double max_ulp;
	float max_at;
};

/* |got - ref| in ulps of the float format at ref. */
static double
ulp_error(float got, long double ref)
{
	if (isnan(ref)) {
		return isnan(got) ? 0.0 : INFINITY;
	}
	float rounded = (float)ref;
	if (isinf(got) || isinf(rounded)) {
		return got == rounded ? 0.0 : INFINITY;
	}
	if (isnan(got)) {
		return INFINITY;
	}
	int e;
	frexpl(ref, &e); /* |ref| in [2^(e-1), 2^e) */
	e = e - 1;
	if (e < -126) {
		e = -126;
	}
	if (e > 127) {
		e = 127;
	}
	long double ulp = ldexpl(1.0L, e - 23);
	return (double)(fabsl((long double)got - ref) / ulp);
}

static void
stats_add(struct err_stats *st, float x, float got, long double ref)
{
	double err = ulp_error(got, ref);
	float rounded = (float)ref;
	bool cr = same_float(got, rounded) || (isnan(got) && isnan(rounded));
	/* Zero results: the sign of zero matters to us, but libm's sign is
	 * not a reference for it (checked separately). */
	if (!cr && got == 0.0f && rounded == 0.0f) {
		cr = true;
	}
	st->count++;
	if (!cr) {
		st->not_cr++;
		if (st->not_cr <= 3 && getenv("RF_DETMATH_VERBOSE") != NULL) {
			printf("\n    x=%a got=%a ref=%La err=%.6f", (double)x,
			    (double)got, ref, err);
		}
	}
	if (err > st->max_ulp || st->count == 1) {
		st->max_ulp = err;
		st->max_at = x;
	}
}

/* ------------------------------------------------------------------ */
/* Sweeps                                                               */
/* ------------------------------------------------------------------ */

/* A range of magnitudes as float bit patterns, [lo, hi), and the share
 * of the function's samples it gets. */
struct mag_range {
	uint32_t lo, hi;
	uint32_t samples;
};

struct sweep_fn {
	const char *name;
	float (*det)(float);
	long double (*ref)(float);
	bool both_signs;
	struct mag_range r[3];
};

/* Bits of a float literal, for the range tables below. */
#define FB(x) (fbits(x))

static bool
full_sweep(const char *name)
{
	const char *f = getenv("RF_DETMATH_FULL");
	if (f == NULL) {
		return false;
	}
	return strcmp(f, name) == 0 || strcmp(f, "all") == 0;
}

static void
sweep_range(const struct sweep_fn *fn, const struct mag_range *r,
    uint32_t sign, bool full, struct err_stats *st)
{
	uint64_t span = (uint64_t)r->hi - r->lo;
	uint64_t stride = 1;
	uint32_t want = fn->both_signs ? r->samples / 2 : r->samples;
	if (!full && want > 0 && span > want) {
		/* Odd, so the low mantissa bits take every value too. */
		stride = (span / want) | 1;
	}
	for (uint64_t b = r->lo; b < r->hi; b += stride) {
		float x = ffrom((uint32_t)b | sign);
		stats_add(st, x, fn->det(x), fn->ref(x));
	}
}

static const float specials[] = {
	0.0f, -0.0f, 0x1p-149f, -0x1p-149f, 0x1.fffffcp-127f,
	-0x1.fffffcp-127f,
	0x1p-126f, -0x1p-126f, 0x1p-60f, -0x1p-60f, 0x1p-25f, -0x1p-25f,
	0x1p-24f, -0x1p-24f, 0.5f, -0.5f, 1.0f, -1.0f, 2.0f, -2.0f, 3.0f,
	-3.0f, 4.0f, -4.0f, 10.0f, -10.0f, 14.0f, -14.0f, 40.0f, -40.0f,
	0x1.62e42ep+6f, 0x1.62e430p+6f, -0x1.5d589ep+6f, -0x1.9fe368p+6f,
	-0x1.9fe36ap+6f, -0x1.9fe36cp+6f, 1e10f, -1e10f, 1e30f, -1e30f,
	FLT_MAX, -FLT_MAX, INFINITY, -INFINITY,
};

static void
run_sweep(const struct sweep_fn *fn, double max_allowed)
{
	struct err_stats st = {0};
	bool full = full_sweep(fn->name);
	clock_t t0 = clock();
	if (full) {
		/* Every float but the NaNs, which test_nan_inputs covers. */
		const struct mag_range all = {0, UINT32_C(0x7f800001), 0};
		sweep_range(fn, &all, 0, true, &st);
		sweep_range(fn, &all, UINT32_C(0x80000000), true, &st);
	}
	for (int i = 0; i < 3 && !full; i++) {
		const struct mag_range *r = &fn->r[i];
		if (r->hi <= r->lo) {
			continue;
		}
		sweep_range(fn, r, 0, false, &st);
		if (fn->both_signs) {
			sweep_range(fn, r, UINT32_C(0x80000000), false, &st);
		}
	}
	for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
		float x = specials[i];
		if (!fn->both_signs && x < 0.0f) {
			continue;
		}
		stats_add(&st, x, fn->det(x), fn->ref(x));
	}
	double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	printf("\n    %-10s %s%10llu inputs  max %.6f ulp at %a  "
	       "not correctly rounded %llu  (%.2fs)",
	    fn->name, full ? "FULL " : "", (unsigned long long)st.count,
	    st.max_ulp, (double)st.max_at, (unsigned long long)st.not_cr,
	    secs);
	CU_ASSERT(st.max_ulp <= max_allowed);
	CU_ASSERT(st.count >= SWEEP_SAMPLES - SWEEP_SAMPLES / 16);
}

/*
 * The ranges stop where the result is saturated or trivially rounded
 * (those tails get the special values). Tiny magnitudes take most bit
 * patterns but little work, so they get a smaller share of samples.
 */
#define TINY_SAMPLES (SWEEP_SAMPLES / 8)
#define MAIN_SAMPLES (SWEEP_SAMPLES - TINY_SAMPLES)

static void
test_expf_sweep(void)
{
	const struct sweep_fn fn = {"expf", engine_det_expf, ref_exp, true,
	    {{0, FB(0x1p-26f), TINY_SAMPLES},
		{FB(0x1p-26f), FB(104.0f), MAIN_SAMPLES}}};
	run_sweep(&fn, 1.0);
}

static void
test_logf_sweep(void)
{
	/* Every positive finite float; the binades near 1 get extra. */
	const struct sweep_fn fn = {"logf", engine_det_logf, ref_log, false,
	    {{1, FB(0.5f), SWEEP_SAMPLES / 4},
		{FB(0.5f), FB(2.0f), SWEEP_SAMPLES / 2},
		{FB(2.0f), FB(INFINITY), SWEEP_SAMPLES / 4}}};
	run_sweep(&fn, 1.0);
}

static void
test_tanhf_sweep(void)
{
	const struct sweep_fn fn = {"tanhf", engine_det_tanhf, ref_tanh, true,
	    {{0, FB(0x1p-26f), TINY_SAMPLES},
		{FB(0x1p-26f), FB(12.0f), MAIN_SAMPLES}}};
	run_sweep(&fn, 1.0);
}

static void
test_erff_sweep(void)
{
	const struct sweep_fn fn = {"erff", engine_det_erff, ref_erf, true,
	    {{0, FB(0x1p-26f), TINY_SAMPLES},
		{FB(0x1p-26f), FB(6.0f), MAIN_SAMPLES}}};
	run_sweep(&fn, 1.0);
}

static void
test_sigmoidf_sweep(void)
{
	const struct sweep_fn fn = {"sigmoidf", engine_det_sigmoidf, ref_sigmoid,
	    true,
	    {{0, FB(0x1p-26f), TINY_SAMPLES},
		{FB(0x1p-26f), FB(110.0f), MAIN_SAMPLES}}};
	run_sweep(&fn, 1.0);
}

static void
test_geluf_sweep(void)
{
	const struct sweep_fn fn = {"geluf", engine_det_geluf, ref_gelu, true,
	    {{0, FB(0x1p-26f), TINY_SAMPLES},
		{FB(0x1p-26f), FB(20.0f), MAIN_SAMPLES}}};
	run_sweep(&fn, 1.0);
}

static void
test_gelu_tanhf_sweep(void)
{
	const struct sweep_fn fn = {"gelu_tanhf", engine_det_gelu_tanhf,
	    ref_gelu_tanh, true,
	    {{0, FB(0x1p-26f), TINY_SAMPLES},
		{FB(0x1p-26f), FB(20.0f), MAIN_SAMPLES}}};
	run_sweep(&fn, 1.0);
}

/* ------------------------------------------------------------------ */
/* Exact values and special cases                                       */
/* ------------------------------------------------------------------ */

static void
test_rint(void)
{
	CU_ASSERT(engine_det_rint(0.5) == 0.0);
	CU_ASSERT(engine_det_rint(1.5) == 2.0);
	CU_ASSERT(engine_det_rint(2.5) == 2.0);
	CU_ASSERT(engine_det_rint(3.5) == 4.0);
	CU_ASSERT(engine_det_rint(-2.5) == -2.0);
	CU_ASSERT(engine_det_rint(-1.5) == -2.0);
	CU_ASSERT(engine_det_rint(2.4999999999999996) == 2.0);
	CU_ASSERT(engine_det_rint(2.5000000000000004) == 3.0);
	/* The classic floor(x + 0.5) bug: 0.49999999999999994 + 0.5 == 1. */
	CU_ASSERT(engine_det_rint(0.49999999999999994) == 0.0);
	CU_ASSERT(engine_det_rint(-0.7) == -1.0);
	CU_ASSERT(engine_det_rint(1e15 + 0.5) == 1e15);
	CU_ASSERT(engine_det_rint(0x1p52 - 0.5) == 0x1p52);
	CU_ASSERT(engine_det_rint(0x1p52 - 1.5) == 0x1p52 - 2.0);
	CU_ASSERT(engine_det_rint(0x1p52 + 1.0) == 0x1p52 + 1.0);
	CU_ASSERT(engine_det_rint(1e300) == 1e300);
	CU_ASSERT(engine_det_rint(-1e300) == -1e300);
	CU_ASSERT(engine_det_rint(0x1p-1074) == 0.0);
	/* Signs of zero: -0.5 and -0.4 round to -0, -0 stays -0. */
	CU_ASSERT(dbits(engine_det_rint(-0.5)) == dbits(-0.0));
	CU_ASSERT(dbits(engine_det_rint(-0.4)) == dbits(-0.0));
	CU_ASSERT(dbits(engine_det_rint(-0.0)) == dbits(-0.0));
	CU_ASSERT(dbits(engine_det_rint(0.0)) == dbits(0.0));
	CU_ASSERT(engine_det_rint(INFINITY) == INFINITY);
	CU_ASSERT(engine_det_rint(-INFINITY) == -INFINITY);
	uint64_t nan_bits = UINT64_C(0x7ff8000000012345);
	CU_ASSERT(dbits(engine_det_rint(dfrom(nan_bits))) == nan_bits);
	/* Against libm's rint (round to nearest even in the default mode). */
	uint64_t bad = 0;
	const uint64_t end = dbits(0x1p53);
	for (uint64_t b = 0; b < end; b += (end >> 21) | 1) {
		double x = dfrom(b);
		if (dbits(engine_det_rint(x)) != dbits(rint(x)) ||
		    dbits(engine_det_rint(-x)) != dbits(rint(-x))) {
			bad++;
		}
	}
	CU_ASSERT(bad == 0);
}

/* Error of engine_det_exp in double ulps against expl (64-bit on x86). */
static double
dulp_error(double got, long double ref)
{
	int e;
	frexpl(ref, &e);
	e = e - 1;
	if (e < -1022) {
		e = -1022;
	}
	long double ulp = ldexpl(1.0L, e - 52);
	return (double)(fabsl((long double)got - ref) / ulp);
}

static void
test_exp_double(void)
{
	CU_ASSERT(engine_det_exp(0.0) == 1.0);
	CU_ASSERT(engine_det_exp(-0.0) == 1.0);
	CU_ASSERT(engine_det_exp(INFINITY) == INFINITY);
	CU_ASSERT(dbits(engine_det_exp(-INFINITY)) == dbits(0.0));
	uint64_t nan_bits = UINT64_C(0xfff8000000000abc);
	CU_ASSERT(dbits(engine_det_exp(dfrom(nan_bits))) == nan_bits);
	/* Overflow and underflow thresholds. */
	CU_ASSERT(engine_det_exp(709.782712893383973) == exp(709.782712893383973));
	CU_ASSERT(isfinite(engine_det_exp(709.782712893383973)));
	CU_ASSERT(engine_det_exp(709.7827128933841) == INFINITY);
	CU_ASSERT(engine_det_exp(709.79) == INFINITY);
	CU_ASSERT(engine_det_exp(1e300) == INFINITY);
	CU_ASSERT(engine_det_exp(-745.1332191019411) == 0x1p-1074);
	CU_ASSERT(engine_det_exp(-745.1332191019412) == 0.0);
	CU_ASSERT(engine_det_exp(-745.14) == 0.0);
	CU_ASSERT(engine_det_exp(-1e300) == 0.0);
	CU_ASSERT(engine_det_exp(1.0) == 0x1.5bf0a8b145769p+1); /* e, rounded */

	/* Strided over the doubles of [-745.2, 709.8] in both signs. */
	double max_err = 0.0;
	double max_sub = 0.0;
	double max_at = 0.0;
	uint64_t n = 0;
	uint64_t not_cr = 0;
	const uint64_t step = UINT64_C(0x40863b851eb851ec) / 700000;
	for (uint64_t b = 0; b < UINT64_C(0x40874910d52d3052); b += step | 1) {
		for (int s = 0; s < 2; s++) {
			double x = dfrom(b | ((uint64_t)s << 63));
			if (x > 709.78 || x < -745.13) {
				continue;
			}
			double got = engine_det_exp(x);
			long double ref = expl((long double)x);
			double err = dulp_error(got, ref);
			n++;
			if (got != (double)ref) {
				not_cr++;
			}
			if (ref < 0x1p-1022L) {
				/* Subnormal: one rounding of p 2^k, so
				 * within about half an ulp. */
				if (err > max_sub) {
					max_sub = err;
				}
			} else if (err > max_err) {
				max_err = err;
				max_at = x;
			}
		}
	}
	printf("\n    exp        %10llu inputs  max %.6f double ulp at %a "
	       "(subnormal results: %.6f)  not correctly rounded %llu",
	    (unsigned long long)n, max_err, max_at, max_sub,
	    (unsigned long long)not_cr);
	CU_ASSERT(max_err < 1.0);
	CU_ASSERT(max_sub <= 0.5 + 1e-6);
}

static void
test_nan_inputs(void)
{
	static const uint32_t nans[] = {
		UINT32_C(0x7fc00000), UINT32_C(0xffc00000),
		UINT32_C(0x7fc12345), UINT32_C(0xff812345),
		UINT32_C(0x7f800001), /* signalling */
	};
	float (*const fns[])(float) = {engine_det_expf, engine_det_logf, engine_det_tanhf,
	    engine_det_erff, engine_det_sigmoidf, engine_det_geluf, engine_det_gelu_tanhf};
	for (size_t i = 0; i < sizeof(nans) / sizeof(nans[0]); i++) {
		for (size_t j = 0; j < sizeof(fns) / sizeof(fns[0]); j++) {
			float r = fns[j](ffrom(nans[i]));
			CU_ASSERT(fbits(r) == nans[i]);
		}
	}
}

static void
test_exact_values(void)
{
	/* exp */
	CU_ASSERT(same_float(engine_det_expf(0.0f), 1.0f));
	CU_ASSERT(same_float(engine_det_expf(-0.0f), 1.0f));
	CU_ASSERT(same_float(engine_det_expf(INFINITY), INFINITY));
	CU_ASSERT(same_float(engine_det_expf(-INFINITY), 0.0f));
	CU_ASSERT(same_float(engine_det_expf(0x1.62e42ep+6f), 0x1.ffff08p+127f));
	CU_ASSERT(same_float(engine_det_expf(0x1.62e430p+6f), INFINITY));
	CU_ASSERT(same_float(engine_det_expf(-0x1.9fe368p+6f), 0x1p-149f));
	CU_ASSERT(same_float(engine_det_expf(-0x1.9fe36ap+6f), 0.0f));
	CU_ASSERT(same_float(engine_det_expf(1.0f), 0x1.5bf0a8p+1f));
	/* log */
	CU_ASSERT(same_float(engine_det_logf(1.0f), 0.0f));
	CU_ASSERT(same_float(engine_det_logf(0.0f), -INFINITY));
	CU_ASSERT(same_float(engine_det_logf(-0.0f), -INFINITY));
	CU_ASSERT(same_float(engine_det_logf(INFINITY), INFINITY));
	CU_ASSERT(fbits(engine_det_logf(-1.0f)) == UINT32_C(0x7fc00000));
	CU_ASSERT(fbits(engine_det_logf(-0x1p-149f)) == UINT32_C(0x7fc00000));
	CU_ASSERT(fbits(engine_det_logf(-INFINITY)) == UINT32_C(0x7fc00000));
	CU_ASSERT(same_float(engine_det_logf(2.0f), 0x1.62e43p-1f));
	CU_ASSERT(same_float(engine_det_logf(0x1p-149f), -0x1.9d1da0p+6f));
	CU_ASSERT(same_float(engine_det_logf(FLT_MAX), 0x1.62e430p+6f));
	/* tanh */
	CU_ASSERT(same_float(engine_det_tanhf(0.0f), 0.0f));
	CU_ASSERT(same_float(engine_det_tanhf(-0.0f), -0.0f));
	CU_ASSERT(same_float(engine_det_tanhf(INFINITY), 1.0f));
	CU_ASSERT(same_float(engine_det_tanhf(-INFINITY), -1.0f));
	CU_ASSERT(same_float(engine_det_tanhf(10.0f), 1.0f));
	CU_ASSERT(same_float(engine_det_tanhf(0x1p-149f), 0x1p-149f));
	CU_ASSERT(same_float(engine_det_tanhf(-0x1p-149f), -0x1p-149f));
	/* erf */
	CU_ASSERT(same_float(engine_det_erff(0.0f), 0.0f));
	CU_ASSERT(same_float(engine_det_erff(-0.0f), -0.0f));
	CU_ASSERT(same_float(engine_det_erff(INFINITY), 1.0f));
	CU_ASSERT(same_float(engine_det_erff(-INFINITY), -1.0f));
	CU_ASSERT(same_float(engine_det_erff(FLT_MAX), 1.0f));
	CU_ASSERT(same_float(engine_det_erff(4.0f), 1.0f));
	/* sigmoid */
	CU_ASSERT(same_float(engine_det_sigmoidf(0.0f), 0.5f));
	CU_ASSERT(same_float(engine_det_sigmoidf(-0.0f), 0.5f));
	CU_ASSERT(same_float(engine_det_sigmoidf(INFINITY), 1.0f));
	CU_ASSERT(same_float(engine_det_sigmoidf(-INFINITY), 0.0f));
	CU_ASSERT(same_float(engine_det_sigmoidf(-FLT_MAX), 0.0f));
	CU_ASSERT(same_float(engine_det_sigmoidf(FLT_MAX), 1.0f));
	/* gelu, both forms: odd zeros kept, limits at the infinities. */
	CU_ASSERT(same_float(engine_det_geluf(0.0f), 0.0f));
	CU_ASSERT(same_float(engine_det_geluf(-0.0f), -0.0f));
	CU_ASSERT(same_float(engine_det_geluf(INFINITY), INFINITY));
	CU_ASSERT(same_float(engine_det_geluf(-INFINITY), -0.0f));
	CU_ASSERT(same_float(engine_det_geluf(-FLT_MAX), -0.0f));
	CU_ASSERT(same_float(engine_det_geluf(FLT_MAX), FLT_MAX));
	CU_ASSERT(same_float(engine_det_geluf(100.0f), 100.0f));
	CU_ASSERT(same_float(engine_det_gelu_tanhf(0.0f), 0.0f));
	CU_ASSERT(same_float(engine_det_gelu_tanhf(-0.0f), -0.0f));
	CU_ASSERT(same_float(engine_det_gelu_tanhf(INFINITY), INFINITY));
	CU_ASSERT(same_float(engine_det_gelu_tanhf(-INFINITY), -0.0f));
	CU_ASSERT(same_float(engine_det_gelu_tanhf(-FLT_MAX), -0.0f));
	CU_ASSERT(same_float(engine_det_gelu_tanhf(FLT_MAX), FLT_MAX));
	/*
	 * x/2 exactly halfway between two floats: the exact value is a
	 * little above x/2, so it rounds up (toward zero for negative x),
	 * not to even.
	 */
	CU_ASSERT(same_float(engine_det_geluf(0x1p-149f), 0x1p-149f));
	CU_ASSERT(same_float(engine_det_geluf(-0x1p-149f), -0.0f));
	CU_ASSERT(same_float(engine_det_geluf(0x3p-149f), 0x2p-149f));
	CU_ASSERT(same_float(engine_det_geluf(-0x3p-149f), -0x1p-149f));
	CU_ASSERT(same_float(engine_det_gelu_tanhf(0x1p-149f), 0x1p-149f));
	CU_ASSERT(same_float(engine_det_gelu_tanhf(-0x3p-149f), -0x1p-149f));
	CU_ASSERT(same_float(engine_det_geluf(0x1p-126f), 0x1p-127f));
	/* Found by the full sweep: within 2^-53 of a halfway point. */
	CU_ASSERT(same_float(engine_det_geluf(0x1.6148dep-16f), 0x1.614a62p-17f));
	/* 1/2 + x/4 exactly halfway between two floats: the x^3 term, below
	 * a double ulp, decides (also found by the full sweep). */
	CU_ASSERT(same_float(engine_det_sigmoidf(0x1.6p-20f), 0x1.00000ap-1f));
	CU_ASSERT(same_float(engine_det_sigmoidf(0x1.ep-20f), 0x1.00000ep-1f));
	CU_ASSERT(same_float(engine_det_sigmoidf(0x1.3p-19f), 0x1.000012p-1f));
	CU_ASSERT(same_float(engine_det_sigmoidf(-0x1.6p-21f), 0x1.fffff6p-2f));
	/* Within 2^-55 of a halfway point (full sweep). */
	CU_ASSERT(same_float(engine_det_sigmoidf(-0x1.250c02p-10f), 0x1.ffb6bep-2f));
}

/* A few correctly rounded values (from mpmath at 200 bits) that every
 * platform must reproduce bit for bit. */
static void
test_pinned_bits(void)
{
	CU_ASSERT(fbits(engine_det_expf(0.1f)) == fbits(0x1.1aec7cp+0f));
	CU_ASSERT(fbits(engine_det_logf(3.0f)) == fbits(0x1.193ea8p+0f));
	CU_ASSERT(fbits(engine_det_tanhf(0.5f)) == fbits(0x1.d9353ep-2f));
	CU_ASSERT(fbits(engine_det_erff(0.5f)) == fbits(0x1.0a7ef6p-1f));
	CU_ASSERT(fbits(engine_det_sigmoidf(1.0f)) == fbits(0x1.764d5p-1f));
	CU_ASSERT(fbits(engine_det_geluf(1.0f)) == fbits(0x1.aec4bep-1f));
	CU_ASSERT(fbits(engine_det_gelu_tanhf(1.0f)) == fbits(0x1.aeb0b8p-1f));
}

static CU_TestInfo detmath_tests[] = {
	{"rint", test_rint},
	{"exp double", test_exp_double},
	{"NaN inputs", test_nan_inputs},
	{"exact values", test_exact_values},
	{"pinned bits", test_pinned_bits},
	{"expf sweep", test_expf_sweep},
	{"logf sweep", test_logf_sweep},
	{"tanhf sweep", test_tanhf_sweep},
	{"erff sweep", test_erff_sweep},
	{"sigmoidf sweep", test_sigmoidf_sweep},
	{"geluf sweep", test_geluf_sweep},
	{"gelu_tanhf sweep", test_gelu_tanhf_sweep},
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{"detmath", NULL, NULL, NULL, NULL, detmath_tests},
	CU_SUITE_INFO_NULL,
};

int
main(void)
{
	return test_main(suites);
}
