/*
 * engine/detmath.c - elementary functions that give the same bits on every
 * IEEE 754 platform.
 *
 * libm implementations differ in the last bit between glibc, musl, macOS
 * and MSVC (and between versions), and one differing bit in a trace tensor
 * is a false dispute. So nothing here calls libm: we use only + - * / on
 * double, comparisons, integer operations, conversions and bit copies.
 * IEEE 754 rounds each of those correctly, so the same C code gives the
 * same bits everywhere.
 *
 * The float functions work in double and round once at the end. Their
 * double intermediate is accurate to a few double ulps (2^-53), far finer
 * than a float ulp (2^-24), so the float result is the correctly rounded
 * one unless the exact value lies within a few 2^-53 of a point halfway
 * between two floats; even then it is within 1 ulp. docs/determinism.md
 * gives the algorithms and the measured errors.
 *
 * Assumptions: binary32 and binary64 evaluated without excess precision
 * (checked below), round to nearest even (the engine never changes the
 * rounding mode), and no contraction of a * b + c into an fma (the
 * Makefile passes -ffp-contract=off; every expression below is written in
 * the order it is meant to be evaluated).
 *
 * NaN inputs come back unchanged, bit for bit (sign and payload kept): we
 * test for NaN before any arithmetic, since arithmetic on a NaN may set the
 * quiet bit or, on some targets, replace the payload. NaNs that we create
 * (engine_det_logf of a negative number) are the positive quiet NaN 0x7fc00000.
 */
#include <float.h>
#include <stdint.h>
#include <string.h>

#include "engine/engine.h"

/* x87 evaluates in 80-bit registers and rounds twice: different bits. */
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "engine/detmath.c needs FLT_EVAL_METHOD == 0 (SSE2, NEON, ...)"
#endif
#ifdef __FAST_MATH__
#error "engine/detmath.c must not be built with -ffast-math"
#endif
/* GCC in ISO C mode does not contract; clang does unless told. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

_Static_assert(FLT_RADIX == 2 && FLT_MANT_DIG == 24 && DBL_MANT_DIG == 53,
    "detmath needs IEEE 754 binary32 float and binary64 double");
_Static_assert(sizeof(float) == sizeof(uint32_t) &&
	sizeof(double) == sizeof(uint64_t),
    "detmath copies float and double bits through uint32_t and uint64_t");

/*
 * Constants as hex literals, so no decimal conversion is involved. LN2_HI
 * is ln 2 rounded to 29 significant bits, so k * LN2_HI is exact for
 * |k| < 2^24; LN2_LO is ln 2 - LN2_HI rounded to double.
 */
#define LN2_HI 0x1.62e42ffp-1
#define LN2_LO -0x1.718432a1b0e26p-35
#define INV_LN2 0x1.71547652b82fep+0       /* 1 / ln 2 */
#define HALF_LN2 0x1.62e42fefa39efp-2      /* ln 2 / 2 */
#define TWO_OVER_SQRTPI 0x1.20dd750429b6dp+0 /* 2 / sqrt(pi) */
#define INV_SQRTPI 0x1.20dd750429b6dp-1    /* 1 / sqrt(pi) */
#define SQRT1_2 0x1.6a09e667f3bcdp-1       /* 1 / sqrt(2) */
#define SQRT_2_OVER_PI 0x1.9884533d43651p-1 /* sqrt(2 / pi) */
#define GELU_TANH_C 0x1.6e4e26d4801f7p-5   /* 0.044715 */
/* Fraction bits of sqrt(2) as a double. */
#define SQRT2_FRAC UINT64_C(0x6a09e667f3bcd)
#define SQRT2 0x1.6a09e667f3bcdp+0

/*
 * Below ERFC_CF_MIN, erfc z is 1 - erf z from the series, which loses
 * log2 of erf 2 / erfc 2 < 8 bits of the ~50 the series keeps; from there
 * on the continued fraction converges in at most 72 terms.
 */
#define ERFC_CF_MIN 2.0

static inline uint64_t
dbits(double x)
{
	uint64_t u;
	memcpy(&u, &x, sizeof(u));
	return u;
}

static inline double
dfrom(uint64_t u)
{
	double x;
	memcpy(&x, &u, sizeof(x));
	return x;
}

static inline uint32_t
fbits(float x)
{
	uint32_t u;
	memcpy(&u, &x, sizeof(u));
	return u;
}

static inline float
ffrom(uint32_t u)
{
	float x;
	memcpy(&x, &u, sizeof(x));
	return x;
}

static inline double
dabs(double x)
{
	return dfrom(dbits(x) & ~(UINT64_C(1) << 63));
}

/* 2^k for -1022 <= k <= 1023, built from the exponent bits. */
static inline double
pow2(int k)
{
	return dfrom((uint64_t)(k + 1023) << 52);
}

double
engine_det_rint(double x)
{
	uint64_t sign = dbits(x) & (UINT64_C(1) << 63);
	double ax = dabs(x);
	/* NaN fails this test too, and so comes back unchanged. */
	if (!(ax < 0x1p52)) {
		return x;
	}
	/*
	 * In [2^52, 2^53) doubles are exactly the integers, so the sum
	 * rounds ax to an integer, ties to even, and the subtraction is
	 * exact. Working on |x| and putting the sign back keeps -0.4 -> -0.
	 */
	double r = (ax + 0x1p52) - 0x1p52;
	return dfrom(dbits(r) | sign);
}

/*
 * The Taylor tail q(r) = 1/2! + r/3! + ... + r^11/13!, so that
 * e^r = 1 + r + r^2 q(r) and e^r - 1 = r + r^2 q(r). For |r| <= ln2/2
 * (a little more is fine) the first term left out, r^14/14!, is below
 * 2^-56 of e^r - 1 and 2^-57 of e^r.
 */
static double
exp_tail(double r)
{
	double q = 1.0 / 6227020800.0; /* 1/13! */
	q = 1.0 / 479001600.0 + r * q;
	q = 1.0 / 39916800.0 + r * q;
	q = 1.0 / 3628800.0 + r * q;
	q = 1.0 / 362880.0 + r * q;
	q = 1.0 / 40320.0 + r * q;
	q = 1.0 / 5040.0 + r * q;
	q = 1.0 / 720.0 + r * q;
	q = 1.0 / 120.0 + r * q;
	q = 1.0 / 24.0 + r * q;
	q = 1.0 / 6.0 + r * q;
	return 0.5 + r * q;
}

/* The leading r is added last so that its rounding is the only one at
 * full weight. */
static double
expm1_poly(double r)
{
	return r + (r * r) * exp_tail(r);
}

/*
 * Splits x = k ln2 + r with k an integer and |r| <= ln2/2 (plus rounding).
 * k * LN2_HI is exact, and so is x - k * LN2_HI by Sterbenz's lemma; r is
 * then rounded once, and that rounding error is returned in *r_err,
 * exactly, by Knuth's TwoSum (the rounding of k * LN2_LO is below 2^-77).
 */
static double
reduce_ln2(double x, double *k, double *r_err)
{
	double kk = engine_det_rint(x * INV_LN2);
	double a = x - kk * LN2_HI;
	double b = kk * LN2_LO;
	double r = a - b;
	double a1 = r + b;
	double b1 = r - a1;
	*r_err = (a - a1) - (b + b1);
	*k = kk;
	return r;
}

double
engine_det_exp(double x)
{
	if (x != x) {
		return x;
	}
	/* e^x > DBL_MAX (plus half an ulp) from 709.7827128933840 on. */
	if (x > 709.79) {
		return dfrom(UINT64_C(0x7ff0000000000000));
	}
	/* e^x < 2^-1075, half the smallest subnormal, below -745.1333. */
	if (x < -745.14) {
		return 0.0;
	}
	double k;
	double r_err;
	double r = reduce_ln2(x, &k, &r_err);
	/*
	 * e^(r + r_err) = 1 + r + r^2 q(r) + r_err (1 + r) to within 2^-60.
	 * 1 + r is kept exactly as hi + lo (Fast2Sum, |r| < 1), so that the
	 * sum of the small terms and the last addition are the only roundings
	 * that matter: the error stays below 0.6 ulp.
	 */
	double hi = 1.0 + r;
	double lo = (1.0 - hi) + r;
	double tail = lo + ((r * r) * exp_tail(r) + (r_err + r_err * r));
	double p = hi + tail;
	int ik = (int)k;
	/* Scale by 2^k so that only one multiplication can round. */
	if (ik > 1023) {
		/* p * 2 is exact; the product overflows to inf if it must. */
		return (p * 2.0) * pow2(ik - 1);
	}
	if (ik < -1022) {
		/* Subnormal result: p * 2^(k+64) is exact, and the last
		 * step rounds once. */
		return (p * pow2(ik + 64)) * 0x1p-64;
	}
	return p * pow2(ik);
}

float
engine_det_expf(float x)
{
	if (x != x) {
		return x;
	}
	/* Every float result, subnormals included, is a normal double, so
	 * the conversion is the only rounding to float. */
	return (float)engine_det_exp((double)x);
}

float
engine_det_logf(float x)
{
	uint32_t ix = fbits(x);
	if (x != x) {
		return x;
	}
	if (x == 0.0f) {
		return ffrom(UINT32_C(0xff800000)); /* -inf, for +0 and -0 */
	}
	if ((ix >> 31) != 0) {
		return ffrom(UINT32_C(0x7fc00000)); /* negative, -inf too */
	}
	if (ix == UINT32_C(0x7f800000)) {
		return x;
	}
	/* Every float, subnormals included, is a normal double. */
	uint64_t u = dbits((double)x);
	int e = (int)(u >> 52) - 1023;
	uint64_t frac = u & ((UINT64_C(1) << 52) - 1);
	/* x = 2^e m with m in [sqrt(1/2), sqrt(2)) keeps |s| <= 0.1716. */
	double m;
	if (frac > SQRT2_FRAC) {
		m = dfrom(frac | (UINT64_C(1022) << 52));
		e = e + 1;
	} else {
		m = dfrom(frac | (UINT64_C(1023) << 52));
	}
	/*
	 * log m = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), s = (m-1)/(m+1).
	 * m - 1 and m + 1 are exact (m has 24 significant bits), so s carries
	 * a single rounding. With s^2 <= 0.0295 the terms after s^21/21 add
	 * less than 2^-60.
	 */
	double s = (m - 1.0) / (m + 1.0);
	double s2 = s * s;
	double q = 1.0 / 21.0;
	q = 1.0 / 19.0 + s2 * q;
	q = 1.0 / 17.0 + s2 * q;
	q = 1.0 / 15.0 + s2 * q;
	q = 1.0 / 13.0 + s2 * q;
	q = 1.0 / 11.0 + s2 * q;
	q = 1.0 / 9.0 + s2 * q;
	q = 1.0 / 7.0 + s2 * q;
	q = 1.0 / 5.0 + s2 * q;
	q = 1.0 / 3.0 + s2 * q;
	double two_s = 2.0 * s;
	double log_m = two_s + two_s * (s2 * q);
	/* e * LN2_HI is exact; the small parts are added first. */
	double ed = (double)e;
	double r = ed * LN2_HI + (log_m + ed * LN2_LO);
	return (float)r;
}

/*
 * ln x in double for Pow (engine/op_math.c), a second series beside
 * engine_det_logf's, kept as it was written there so Pow's bits do not
 * change: x positive, finite and normal; x = 2^k m with m in
 * [sqrt(1/2), sqrt(2)), and ln m = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 +
 * ...) with s = (m - 1) / (m + 1), |s| < 0.1716. Twelve terms leave out
 * less than s^25 / 25 < 2^-66 of the result, so the error is a few
 * double ulps: far below the float ulp that Pow finally rounds to.
 */
double
engine_det_log(double x)
{
	uint64_t b = dbits(x);
	int k = (int)((b >> 52) & 0x7ff) - 1023;
	double m = dfrom((b & UINT64_C(0x000fffffffffffff)) |
	    UINT64_C(0x3ff0000000000000));
	if (m > SQRT2) {
		m = m * 0.5;
		k++;
	}
	double s = (m - 1.0) / (m + 1.0);
	double s2 = s * s;
	double q = 1.0 / 23.0;
	q = 1.0 / 21.0 + s2 * q;
	q = 1.0 / 19.0 + s2 * q;
	q = 1.0 / 17.0 + s2 * q;
	q = 1.0 / 15.0 + s2 * q;
	q = 1.0 / 13.0 + s2 * q;
	q = 1.0 / 11.0 + s2 * q;
	q = 1.0 / 9.0 + s2 * q;
	q = 1.0 / 7.0 + s2 * q;
	q = 1.0 / 5.0 + s2 * q;
	q = 1.0 / 3.0 + s2 * q;
	double lm = 2.0 * s + (2.0 * s) * (s2 * q);
	double kk = (double)k;
	return kk * LN2_HI + (lm + kk * LN2_LO);
}

/*
 * expm1(y) for 0 <= y <= 40 (tanh needs y = 2|x| < 20). Small y goes
 * straight to the series, which has no cancellation; otherwise
 * expm1(y) = 2^k (1 + p) - 1 = (2^k - 1) + 2^k p, where both terms are
 * exact and the sum rounds once.
 */
static double
expm1_nonneg(double y)
{
	if (y <= HALF_LN2) {
		return expm1_poly(y);
	}
	double k;
	double r_err;
	double r = reduce_ln2(y, &k, &r_err);
	/* e^(r + r_err) - 1 = r + r^2 q(r) + r_err (1 + r) to within 2^-60. */
	double p = r + ((r * r) * exp_tail(r) + (r_err + r_err * r));
	double two_k = pow2((int)k);
	return (two_k - 1.0) + two_k * p;
}

/*
 * erf z for 0 <= z < ERFC_CF_MIN from the series with positive terms
 * erf z = 2/sqrt(pi) e^(-z^2) sum_n 2^n z^(2n+1) / (2n+1)!!.
 * z2 is z^2, passed in exactly by the caller (the square of a float is
 * exact in double), because e^(-z^2) is sensitive to it. Terms grow until
 * n ~ z^2 and then fall; we stop when the next ones cannot reach 2^-57 of
 * the sum (the ratio between terms is then at most 1/2): 14 terms at
 * z = 0.5, 32 at z = 2.
 */
static double
erf_series(double z, double z2)
{
	double q = 2.0 * z2;
	double t = z;
	double s = z;
	for (int n = 1; n < 64; n++) {
		double odd = (double)(2 * n + 1);
		t = (t * q) / odd;
		s = s + t;
		if (t <= s * 0x1p-57 && q + q <= odd + 2.0) {
			break;
		}
	}
	return (TWO_OVER_SQRTPI * engine_det_exp(-z2)) * s;
}

/*
 * erfc(z) for z >= ERFC_CF_MIN from Laplace's continued fraction
 * erfc z = e^(-z^2)/sqrt(pi) / (z + (1/2)/(z + 1/(z + (3/2)/(z + ...)))),
 * evaluated from the bottom up. All its terms are positive, so nothing
 * cancels. 12 + 240/z^2 levels leave a truncation error below 2^-61 for
 * every z >= 1 (checked with mpmath, docs/determinism.md).
 */
static double
erfc_cf(double z, double z2)
{
	int n = 12 + (int)(240.0 / z2);
	double t = z;
	for (int k = n; k >= 1; k--) {
		t = z + (0.5 * (double)k) / t;
	}
	return engine_det_exp(-z2) * (INV_SQRTPI / t);
}

/* erf z for z >= 0, z2 = z^2 exactly. */
static double
erf_pos(double z, double z2)
{
	if (z < ERFC_CF_MIN) {
		return erf_series(z, z2);
	}
	/* erfc 6 = 2.2e-17 is below half an ulp of 1. */
	if (z < 6.0) {
		return 1.0 - erfc_cf(z, z2);
	}
	return 1.0;
}

float
engine_det_erff(float x)
{
	if (x != x) {
		return x;
	}
	uint32_t sign = fbits(x) & UINT32_C(0x80000000);
	double z = (double)ffrom(fbits(x) & UINT32_C(0x7fffffff));
	float r = (float)erf_pos(z, z * z);
	return ffrom(fbits(r) | sign);
}

/*
 * Rounds hi + lo to the nearest float, where |lo| < one ulp of hi (a
 * double-double value). Converting hi alone would lose lo exactly when
 * hi sits halfway between two floats; rounding to odd first (Boldo and
 * Melquiond) keeps lo's side: move an even hi one ulp toward lo. A double
 * has 29 more bits than a float, so the final rounding is then correct.
 */
static float
dd_to_float(double hi, double lo)
{
	uint64_t b = dbits(hi);
	if (lo != 0.0 && (b & 1) == 0) {
		if ((lo > 0.0) == (hi > 0.0)) {
			b = b + 1;
		} else {
			b = b - 1;
		}
	}
	return (float)dfrom(b);
}

/* Rounds a + b to the nearest float, |a| >= |b|, both finite: Fast2Sum
 * gives the sum's rounding error exactly. */
static float
sum_to_float(double a, double b)
{
	double s = a + b;
	double err = (a - s) + b;
	return dd_to_float(s, err);
}

float
engine_det_sigmoidf(float x)
{
	if (x != x) {
		return x;
	}
	double xd = (double)x;
	if (dabs(xd) < 0x1p-8) {
		/*
		 * sigmoid x = 1/2 + x/4 - x^3/48 + x^5/480 - ... For small x,
		 * 1/2 + x/4 is often exactly halfway between two floats and
		 * the cubic term, below a double ulp, decides the rounding: so
		 * keep the sum as hi + lo. The terms after x^5 add < 2^-67.
		 */
		double x2 = xd * xd;
		double a = 0.25 * xd;
		double c = (xd * x2) * (-1.0 / 48.0 + x2 * (1.0 / 480.0));
		double t = a + c;
		double t_err = (a - t) + c;
		double hi = 0.5 + t;
		double lo = ((0.5 - hi) + t) + t_err;
		return dd_to_float(hi, lo);
	}
	/* e^-x overflows to inf for x < -709, and 1/inf = 0 is right:
	 * the float result underflows from x < -104 on. */
	return (float)(1.0 / (1.0 + engine_det_exp(-xd)));
}

float
engine_det_geluf(float x)
{
	if (x != x || x == 0.0f || x == ffrom(UINT32_C(0x7f800000))) {
		return x; /* NaN, +-0 and +inf are fixed points */
	}
	/* The result underflows to -0 from x < -14 on; -0 is also the limit
	 * at -inf, where 0.5 x (1 + erf) would give inf * 0 = NaN. */
	if (x < -40.0f) {
		return -0.0f;
	}
	double xd = (double)x;
	double h = 0.5 * xd;
	double z = dabs(xd) * SQRT1_2;
	double z2 = (xd * xd) * 0.5; /* exact, unlike z * z */
	if (xd < 0.0 && z >= ERFC_CF_MIN) {
		/* 1 + erf -z = erfc z, computed without the cancellation. */
		return (float)(h * erfc_cf(z, z2));
	}
	/*
	 * h + h erf +-z, kept as an unevaluated sum (Fast2Sum). For small
	 * x the result is x/2 + x^2/sqrt(2 pi) and the second term, below a
	 * double ulp of x/2, decides the rounding when x/2 lies halfway
	 * between two floats (x subnormal, last bit set).
	 */
	double t = h * erf_pos(z, z2);
	if (xd < 0.0) {
		t = -t;
	}
	return sum_to_float(h, t);
}

/* tanh a for a >= 0: e / (e + 2) with e = expm1(2a) >= 0, where every
 * term is positive, so nothing cancels, even for tiny a. */
static double
tanh_nonneg(double a)
{
	/* 1 - tanh 20 = 8.5e-18, below half an ulp of 1. */
	if (a >= 20.0) {
		return 1.0;
	}
	double em1 = expm1_nonneg(2.0 * a);
	return em1 / (em1 + 2.0);
}

float
engine_det_tanhf(float x)
{
	if (x != x) {
		return x;
	}
	uint32_t sign = fbits(x) & UINT32_C(0x80000000);
	float ax = ffrom(fbits(x) & UINT32_C(0x7fffffff));
	float r;
	if (ax >= 10.0f) {
		/* 1 - tanh 10 = 4.1e-9 < 2^-25, half an ulp below 1. */
		r = 1.0f;
	} else {
		r = (float)tanh_nonneg((double)ax);
	}
	/* Restoring the sign by bits keeps tanh -0 = -0. */
	return ffrom(fbits(r) | sign);
}

float
engine_det_gelu_tanhf(float x)
{
	if (x != x || x == 0.0f || x == ffrom(UINT32_C(0x7f800000))) {
		return x; /* NaN, +-0 and +inf are fixed points */
	}
	/* Underflows to -0 from x < -12 on; -0 is the limit at -inf. */
	if (x < -40.0f) {
		return -0.0f;
	}
	double xd = (double)x;
	double x3 = (xd * xd) * xd;
	double u = SQRT_2_OVER_PI * (xd + GELU_TANH_C * x3);
	if (u < -0.5) {
		/*
		 * 0.5 x (1 + tanh u) = x / (1 + e^-2u): the same function
		 * without the cancellation in 1 + tanh u for negative u. For
		 * large -x, e^-2u overflows and the quotient goes to -0.
		 */
		return (float)(xd / (1.0 + engine_det_exp(-2.0 * u)));
	}
	/*
	 * h + h tanh u as an unevaluated sum, as in engine_det_geluf: for small x
	 * the x^2 sqrt(2/pi)/2 term decides the rounding of x/2. With
	 * u >= -0.5, 1 + tanh u >= 0.53, so nothing cancels.
	 */
	double h = 0.5 * xd;
	double th = tanh_nonneg(dabs(u));
	if (u < 0.0) {
		th = -th;
	}
	return sum_to_float(h, h * th);
}
