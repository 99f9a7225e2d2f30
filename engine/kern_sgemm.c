/*
 * engine/kern_sgemm.c - the matrix multiply kernels: engine_sgemm (f32)
 * and engine_igemm (int8 with zero points, int32 sums).
 *
 * The definition (ENGINE_KERNELS_REF, sgemm_ref below) is the scalar loop
 *
 *	acc = +0.0f; for k = 0..K-1: acc = fmaf(A[i][k], B[k][j], acc);
 *	C[i][j] = isnan(acc) ? SGEMM_NAN : acc;
 *
 * fmaf is correctly rounded (IEEE 754), so every platform computes the
 * same value, with one gap: IEEE 754 fixes when a result is a NaN but not
 * its sign and payload. x86 makes 0xffc00000 for inf * 0 where ARM makes
 * 0x7fc00000, and when several operands are NaNs the one an x86 FMA
 * passes on depends on which of the vfmadd132/213/231 forms the compiler
 * picked: the same vector kernel built with gcc and with clang gave
 * different NaN bits. So a NaN result is stored as the one quiet NaN
 * SGEMM_NAN (0x7fc00000). Whether a result is a NaN does not depend on
 * any of that, nor on the order: once acc is a NaN it stays one.
 *
 * The fast kernel (ENGINE_KERNELS_FAST) is a blocked GEMM in the style of
 * GotoBLAS/BLIS: B is packed into kc x nc blocks cut into NR-column
 * micro-panels, A into mc x kc blocks cut into MR-row micro-panels, and a
 * register-tiled micro-kernel computes an MR x NR tile of C. It keeps one
 * accumulator per output element, runs k strictly upwards and uses an FMA
 * for every step; vectors run across output columns, never across k. So
 * each element sees the exact sequence of roundings of the definition.
 * k-blocking goes through C in memory (a float store and reload is exact);
 * the first k block starts from +0.0f, never from C's old contents.
 *
 * Vector paths are chosen once, at the first call, by what the CPU
 * supports: "avx512" (AVX-512F), "avx2" (AVX2 and FMA), "fma" (AVX and FMA
 * without AVX2: the AVX2 float kernel only needs those; the integer GEMM
 * runs generic there) or "generic" for any other CPU. They are written
 * with target attributes so the project builds without -march flags and
 * the binary stays portable. The generic path on x86-64 has no FMA
 * instruction to rely on, and libm's fmaf through the PLT ran at 0.8
 * GFLOP/s, so it emulates fmaf exactly with SSE2 doubles (soft_fmaf and
 * ukr_sse2 below); elsewhere it is plain C with __builtin_fmaf, which is
 * an instruction on every FMA-capable target and a call otherwise. The
 * environment variable
 *
 *	RF_SGEMM_PATH=generic|fma|avx2|avx512
 *
 * read at that first call, caps the choice (for tests and benchmarks
 * comparing paths): a path the CPU lacks falls back to the best one below
 * it, and any other value is ignored. It affects speed only, never bits.
 *
 * engine_igemm uses the same paths. Integer sums modulo 2^32 do not
 * depend on order, so there any blocking gives the reference's result.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

/* The quiet NaN every NaN result is stored as. */
#define SGEMM_NAN_BITS 0x7fc00000u

#if defined(__x86_64__) || defined(__i386__)
#define SGEMM_X86 1
#include <immintrin.h>
#else
#define SGEMM_X86 0
#endif
/* x86-64 always has SSE2; 32-bit x86 builds need it anyway (no x87). */
#if SGEMM_X86 && defined(__SSE2__)
#define SGEMM_SSE2 1
#else
#define SGEMM_SSE2 0
#endif

/* Micro-kernel flags. */
#define UKR_LOAD 1u  /* continue from C (a later k block), else from +0.0f */
#define UKR_FINAL 2u /* last k block: store NaN results as SGEMM_NAN */

/* Largest register tile of any path: sizes the edge-tile scratch. */
#define TILE_MAX_MR 8
#define TILE_MAX_NR 32

enum sgemm_path {
	PATH_GENERIC = 0,
	PATH_FMA = 1,
	PATH_AVX2 = 2,
	PATH_AVX512 = 3,
};

static const char *const path_names[] = {"generic", "fma", "avx2",
    "avx512"};

static size_t
min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

static size_t
round_up(size_t v, size_t to)
{
	return (v + to - 1) / to * to;
}

/* Splits len into equal steps of at most max (a multiple of unit), so
 * the last block is not a sliver. */
static size_t
block_step(size_t len, size_t max, size_t unit)
{
	size_t nblocks = (len + max - 1) / max;
	return round_up((len + nblocks - 1) / nblocks, unit);
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                             */
/* ------------------------------------------------------------------ */

/* -1 until the first call decides; afterwards never changes. Racing
 * first calls compute the same answer, so relaxed order is enough. */
static _Atomic int path_chosen = -1;

static enum sgemm_path
path_best_supported(void)
{
#if SGEMM_X86
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f")) {
		return PATH_AVX512;
	}
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
		return PATH_AVX2;
	}
	if (__builtin_cpu_supports("avx") && __builtin_cpu_supports("fma")) {
		return PATH_FMA;
	}
#endif
	return PATH_GENERIC;
}

static enum sgemm_path
path_detect(void)
{
	enum sgemm_path best = path_best_supported();
	const char *want = getenv("RF_SGEMM_PATH");
	if (want == NULL) {
		return best;
	}
	for (int p = PATH_GENERIC; p <= PATH_AVX512; p++) {
		if (strcmp(want, path_names[p]) == 0) {
			/* Never more than the CPU has: that would be SIGILL. */
			return (enum sgemm_path)p < best ? (enum sgemm_path)p
			                                 : best;
		}
	}
	return best;
}

static enum sgemm_path
path_get(void)
{
	int p = atomic_load_explicit(&path_chosen, memory_order_relaxed);
	if (p < 0) {
		p = (int)path_detect();
		atomic_store_explicit(&path_chosen, p, memory_order_relaxed);
	}
	return (enum sgemm_path)p;
}

const char *
engine_sgemm_path(void)
{
	return path_names[path_get()];
}

/* ------------------------------------------------------------------ */
/* Reference: the definition                                            */
/* ------------------------------------------------------------------ */

static inline float
nan_canon(float v)
{
	if (v != v) {
		uint32_t bits = SGEMM_NAN_BITS;
		memcpy(&v, &bits, sizeof(v));
	}
	return v;
}

/* The canonical result, in the canonical order. Everything else in this
 * file must reproduce these bits. */
static void
sgemm_ref(size_t m, size_t n, size_t k, const float *a, size_t ars,
    size_t acs, const float *b, size_t brs, size_t bcs, float *c, size_t ldc)
{
	for (size_t i = 0; i < m; i++) {
		for (size_t j = 0; j < n; j++) {
			float acc = 0.0f;
			for (size_t p = 0; p < k; p++) {
				acc = __builtin_fmaf(a[i * ars + p * acs],
				    b[p * brs + j * bcs], acc);
			}
			c[i * ldc + j] = nan_canon(acc);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Packing                                                              */
/* ------------------------------------------------------------------ */

/*
 * Operands are read through strides: element (i, p) of A is a[i*rs + p*cs]
 * and element (p, j) of B is b[p*rs + j*cs], so a transposed operand (a
 * Gemm with transA or transB, such as every PyTorch Linear's weight) is
 * packed straight from where it lies instead of being copied transposed
 * first. Packing only moves values: the products are the same.
 *
 * A block of rows [0, mv) x columns [0, kc) of a goes to ap as micro-panels
 * of MR rows: panel q holds ap[q*MR*kc + p*MR + r] = a[q*MR + r][p], rows
 * past mv zero. Each path calls it with its constant MR, and always_inline
 * gives it a copy the compiler can unroll for that MR.
 */
static inline __attribute__((always_inline)) void
pack_a_mr(size_t mr, size_t mv, size_t kc, const float *a, size_t lda,
    size_t cs, float *ap)
{
	if (cs != 1) {
		/* A stored transposed (lda == 1): each k step's MR values
		 * are contiguous. */
		for (size_t i0 = 0; i0 < mv; i0 += mr) {
			size_t rows = min_size(mr, mv - i0);
			const float *src = a + i0 * lda;
			for (size_t p = 0; p < kc; p++) {
				for (size_t r = 0; r < mr; r++) {
					ap[p * mr + r] = r < rows
					    ? src[r * lda + p * cs]
					    : 0.0f;
				}
			}
			ap += mr * kc;
		}
		return;
	}
	for (size_t i0 = 0; i0 < mv; i0 += mr) {
		size_t rows = min_size(mr, mv - i0);
		const float *src = a + i0 * lda;
		if (rows == mr) {
			for (size_t p = 0; p < kc; p++) {
				for (size_t r = 0; r < mr; r++) {
					ap[p * mr + r] = src[r * lda + p];
				}
			}
		} else {
			for (size_t p = 0; p < kc; p++) {
				for (size_t r = 0; r < mr; r++) {
					ap[p * mr + r] = r < rows
					    ? src[r * lda + p]
					    : 0.0f;
				}
			}
		}
		ap += mr * kc;
	}
}

/*
 * pack_b_nr for B stored transposed (element (p, j) at b[p*rs + j*cs], rs
 * 1 for a Gemm with transB): column j of the block is contiguous in
 * memory. Columns are read along k several at a time (four with an SSE
 * transpose on x86), so each cache line of the weight is used whole while
 * it is in L1.
 */
static void
pack_b_strided(size_t nr, size_t nv, size_t kc, const float *b, size_t rs,
    size_t cs, float *bp)
{
	for (size_t j0 = 0; j0 < nv; j0 += nr) {
		size_t cols = min_size(nr, nv - j0);
		const float *src = b + j0 * cs;
		size_t j = 0;
#if SGEMM_SSE2
		/* Four columns by four k steps at a time: four contiguous
		 * loads, one 4x4 transpose in registers, four stores. */
		if (rs == 1) {
			for (; j + 4 <= cols; j += 4) {
				const float *c0 = src + j * cs;
				size_t p = 0;
				for (; p + 4 <= kc; p += 4) {
					__m128 r0 = _mm_loadu_ps(c0 + p);
					__m128 r1 = _mm_loadu_ps(c0 + cs + p);
					__m128 r2 = _mm_loadu_ps(c0 + 2 * cs + p);
					__m128 r3 = _mm_loadu_ps(c0 + 3 * cs + p);
					_MM_TRANSPOSE4_PS(r0, r1, r2, r3);
					float *d = bp + p * nr + j;
					_mm_storeu_ps(d, r0);
					_mm_storeu_ps(d + nr, r1);
					_mm_storeu_ps(d + 2 * nr, r2);
					_mm_storeu_ps(d + 3 * nr, r3);
				}
				for (; p < kc; p++) {
					for (size_t q = 0; q < 4; q++) {
						bp[p * nr + j + q] =
						    c0[q * cs + p];
					}
				}
			}
		}
#endif
		for (; j + 8 <= cols; j += 8) {
			const float *c0 = src + j * cs;
			for (size_t p = 0; p < kc; p++) {
				float *d = bp + p * nr + j;
				for (size_t q = 0; q < 8; q++) {
					d[q] = c0[q * cs + p * rs];
				}
			}
		}
		for (; j < cols; j++) {
			const float *cj = src + j * cs;
			for (size_t p = 0; p < kc; p++) {
				bp[p * nr + j] = cj[p * rs];
			}
		}
		for (; j < nr; j++) {
			for (size_t p = 0; p < kc; p++) {
				bp[p * nr + j] = 0.0f;
			}
		}
		bp += nr * kc;
	}
}

/*
 * A block of rows [0, kc) x columns [0, nv) of b goes to bp as micro-panels
 * of NR columns: panel q holds bp[q*NR*kc + p*NR + j] = b[p][q*NR + j],
 * columns past nv zero.
 */
static inline __attribute__((always_inline)) void
pack_b_nr(size_t nr, size_t nv, size_t kc, const float *b, size_t ldb,
    size_t cs, float *bp)
{
	if (cs != 1) {
		pack_b_strided(nr, nv, kc, b, ldb, cs, bp);
		return;
	}
	for (size_t j0 = 0; j0 < nv; j0 += nr) {
		size_t cols = min_size(nr, nv - j0);
		const float *src = b + j0;
		if (cols == nr) {
			for (size_t p = 0; p < kc; p++) {
				memcpy(bp + p * nr, src + p * ldb,
				    nr * sizeof(float));
			}
		} else {
			for (size_t p = 0; p < kc; p++) {
				memcpy(bp + p * nr, src + p * ldb,
				    cols * sizeof(float));
				memset(bp + p * nr + cols, 0,
				    (nr - cols) * sizeof(float));
			}
		}
		bp += nr * kc;
	}
}

/* ------------------------------------------------------------------ */
/* Micro-kernels                                                        */
/* ------------------------------------------------------------------ */

/*
 * Each computes one MR x NR tile: c[r][j] (row stride ldc) from the packed
 * micro-panels ap (kc x MR) and bp (kc x NR), per the UKR_* flags.
 */
typedef void (*sgemm_ukr_fn)(size_t kc, const float *restrict ap,
    const float *restrict bp, float *restrict c, size_t ldc, unsigned flags);
typedef void (*sgemm_pack_fn)(size_t mv, size_t kc, const float *src,
    size_t rs, size_t cs, float *dst);

/* ------------------------------------------------------------------ */
/* fmaf without an FMA instruction                                      */
/* ------------------------------------------------------------------ */

/*
 * fmaf(a, b, c) exactly, from IEEE double operations (Boldo and
 * Melquiond's round-to-odd): the product of two floats fits a double's 53
 * bits (48 at most), so p = a * b is exact. s = p + c rounded to nearest
 * double may then be rounded twice on the way to float; rounding the sum
 * to odd instead (the neighbour with an odd last bit when s is inexact)
 * keeps enough information for one correct rounding to float, since a
 * double has more than 2 * 24 + 2 bits. TwoSum gives the exact error e of
 * s (no overflow: |p| <= 2^256). A non-zero exact sum is at least 2^-298
 * in magnitude, so s is never 0 when e is not. Infinities and NaNs skip
 * the adjustment (e is NaN there), and whether the result is a NaN is what
 * fmaf says; NaN bits are canonicalised at the end anyway.
 */
static inline float
soft_fmaf(float a, float b, float c)
{
	double p = (double)a * (double)b;
	double cd = c;
	double s = p + cd;
	double bv = s - p;
	double e = (p - (s - bv)) + (cd - bv);
	if (e != 0.0 && s - s == 0.0) {
		uint64_t bits;
		memcpy(&bits, &s, sizeof(bits));
		if ((bits & 1u) == 0) {
			/* Towards e: away from zero when e has s's sign. */
			bits = (e > 0.0) == (s > 0.0) ? bits + 1 : bits - 1;
			memcpy(&s, &bits, sizeof(s));
		}
	}
	return (float)s;
}

/* The portable kernel: where the target has an FMA instruction
 * (__FP_FAST_FMAF) __builtin_fmaf is that instruction; elsewhere the
 * emulation above beats a call into libm. */
#ifdef __FP_FAST_FMAF
#define GEN_FMAF(a, b, c) __builtin_fmaf((a), (b), (c))
#else
#define GEN_FMAF(a, b, c) soft_fmaf((a), (b), (c))
#endif

#define GEN_MR 4
#define GEN_NR 16

#if !SGEMM_SSE2

static void
ukr_generic(size_t kc, const float *restrict ap, const float *restrict bp,
    float *restrict c, size_t ldc, unsigned flags)
{
	float acc[GEN_MR][GEN_NR];
	for (size_t r = 0; r < GEN_MR; r++) {
		for (size_t j = 0; j < GEN_NR; j++) {
			acc[r][j] = (flags & UKR_LOAD) ? c[r * ldc + j] : 0.0f;
		}
	}
	for (size_t p = 0; p < kc; p++) {
		for (size_t r = 0; r < GEN_MR; r++) {
			float av = ap[p * GEN_MR + r];
			for (size_t j = 0; j < GEN_NR; j++) {
				acc[r][j] = GEN_FMAF(av,
				    bp[p * GEN_NR + j], acc[r][j]);
			}
		}
	}
	for (size_t r = 0; r < GEN_MR; r++) {
		for (size_t j = 0; j < GEN_NR; j++) {
			float v = acc[r][j];
			if (flags & UKR_FINAL) {
				v = nan_canon(v);
			}
			c[r * ldc + j] = v;
		}
	}
}

static void
pack_a_generic(size_t mv, size_t kc, const float *a, size_t lda, size_t cs,
    float *ap)
{
	pack_a_mr(GEN_MR, mv, kc, a, lda, cs, ap);
}

static void
pack_b_generic(size_t nv, size_t kc, const float *b, size_t ldb, size_t cs,
    float *bp)
{
	pack_b_nr(GEN_NR, nv, kc, b, ldb, cs, bp);
}
#endif /* !SGEMM_SSE2 */

#if SGEMM_SSE2

/*
 * The generic path on x86-64: fmaf in SSE2 doubles, two lanes a vector.
 * The common case needs no TwoSum: s = p + c rounded to double, then to
 * float, is already fmaf's result unless s lies exactly halfway between
 * two floats (its 29 low bits are 1 followed by zeros) or in the float
 * subnormal range (where the halfway point sits higher), the only places
 * a second rounding can differ from one (Goldberg; Figueroa, "When is
 * double rounding innocuous?"). A k step that meets either in any lane of
 * the tile is redone with soft_fmaf, which is rare on real data and always
 * right. The accumulators are doubles that always hold float values.
 */
#define SSE2_MR 4
#define SSE2_NR 4

static void
ukr_sse2(size_t kc, const float *restrict ap, const float *restrict bp,
    float *restrict c, size_t ldc, unsigned flags)
{
	const __m128i low29 = _mm_set1_epi32(0x1fffffff);
	const __m128i half29 = _mm_set1_epi32(0x10000000);
	const __m128 absmask = _mm_castsi128_ps(_mm_set1_epi32(0x7fffffff));
	const __m128 flt_min = _mm_set1_ps(0x1p-126f);
	const __m128d zero = _mm_setzero_pd();
	__m128d acc[SSE2_MR][2];
#pragma GCC unroll 4
	for (int r = 0; r < SSE2_MR; r++) {
		if (flags & UKR_LOAD) {
			acc[r][0] = _mm_cvtps_pd(_mm_castsi128_ps(
			    _mm_loadl_epi64((const __m128i *)(c + r * ldc))));
			acc[r][1] = _mm_cvtps_pd(_mm_castsi128_ps(
			    _mm_loadl_epi64(
			        (const __m128i *)(c + r * ldc + 2))));
		} else {
			acc[r][0] = zero;
			acc[r][1] = zero;
		}
	}
	for (size_t p = 0; p < kc; p++) {
		__m128 bf = _mm_load_ps(bp);
		__m128d b0 = _mm_cvtps_pd(bf);
		__m128d b1 = _mm_cvtps_pd(_mm_movehl_ps(bf, bf));
		__m128d next[SSE2_MR][2];
		__m128 hazard = _mm_setzero_ps();
#pragma GCC unroll 4
		for (int r = 0; r < SSE2_MR; r++) {
			__m128d av = _mm_set1_pd((double)ap[r]);
			__m128d s0 = _mm_add_pd(_mm_mul_pd(av, b0), acc[r][0]);
			__m128d s1 = _mm_add_pd(_mm_mul_pd(av, b1), acc[r][1]);
			__m128 f0 = _mm_cvtpd_ps(s0);
			__m128 f1 = _mm_cvtpd_ps(s1);
			next[r][0] = _mm_cvtps_pd(f0);
			next[r][1] = _mm_cvtps_pd(f1);
			/* The four sums' low words, and their float values. */
			__m128i lo = _mm_castps_si128(_mm_shuffle_ps(
			    _mm_castpd_ps(s0), _mm_castpd_ps(s1),
			    _MM_SHUFFLE(2, 0, 2, 0)));
			__m128 mid = _mm_castsi128_ps(_mm_cmpeq_epi32(
			    _mm_and_si128(lo, low29), half29));
			/* |s| < FLT_MIN implies |f| <= FLT_MIN. */
			__m128 tiny = _mm_cmple_ps(_mm_and_ps(
			    _mm_movelh_ps(f0, f1), absmask), flt_min);
			hazard = _mm_or_ps(hazard, _mm_or_ps(mid, tiny));
		}
		if (__builtin_expect(_mm_movemask_ps(hazard) != 0, 0)) {
#pragma GCC unroll 4
			for (int r = 0; r < SSE2_MR; r++) {
				float old[4];
				_mm_storeu_ps(old, _mm_movelh_ps(
				    _mm_cvtpd_ps(acc[r][0]),
				    _mm_cvtpd_ps(acc[r][1])));
				for (int j = 0; j < 4; j++) {
					old[j] = soft_fmaf(ap[r], bp[j], old[j]);
				}
				__m128 v = _mm_loadu_ps(old);
				next[r][0] = _mm_cvtps_pd(v);
				next[r][1] = _mm_cvtps_pd(_mm_movehl_ps(v, v));
			}
		}
#pragma GCC unroll 4
		for (int r = 0; r < SSE2_MR; r++) {
			acc[r][0] = next[r][0];
			acc[r][1] = next[r][1];
		}
		ap += SSE2_MR;
		bp += SSE2_NR;
	}
#pragma GCC unroll 4
	for (int r = 0; r < SSE2_MR; r++) {
		__m128 v = _mm_movelh_ps(_mm_cvtpd_ps(acc[r][0]),
		    _mm_cvtpd_ps(acc[r][1]));
		if (flags & UKR_FINAL) {
			__m128 un = _mm_cmpunord_ps(v, v);
			__m128 cn = _mm_castsi128_ps(
			    _mm_set1_epi32((int)SGEMM_NAN_BITS));
			v = _mm_or_ps(_mm_and_ps(un, cn), _mm_andnot_ps(un, v));
		}
		_mm_storeu_ps(c + r * ldc, v);
	}
}

static void
pack_a_sse2(size_t mv, size_t kc, const float *a, size_t lda, size_t cs,
    float *ap)
{
	pack_a_mr(SSE2_MR, mv, kc, a, lda, cs, ap);
}

static void
pack_b_sse2(size_t nv, size_t kc, const float *b, size_t ldb, size_t cs,
    float *bp)
{
	pack_b_nr(SSE2_NR, nv, kc, b, ldb, cs, bp);
}

#endif /* SGEMM_SSE2 */

#if SGEMM_X86

/* AVX2: 6 x 16 (12 ymm accumulators + 2 for B + 1 broadcast of A, of 16),
 * the classic Haswell tile. */
#define AVX2_MR 6
#define AVX2_NR 16

/* Only AVX and FMA instructions: the "fma" path runs it too. */
__attribute__((target("avx,fma"))) static void
ukr_avx2(size_t kc, const float *restrict ap, const float *restrict bp,
    float *restrict c, size_t ldc, unsigned flags)
{
	__m256 acc[AVX2_MR][2];
#pragma GCC unroll 6
	for (int r = 0; r < AVX2_MR; r++) {
		if (flags & UKR_LOAD) {
			acc[r][0] = _mm256_loadu_ps(c + r * ldc);
			acc[r][1] = _mm256_loadu_ps(c + r * ldc + 8);
		} else {
			acc[r][0] = _mm256_setzero_ps();
			acc[r][1] = _mm256_setzero_ps();
		}
	}
#pragma GCC unroll 2
	for (size_t p = 0; p < kc; p++) {
		__m256 b0 = _mm256_load_ps(bp);
		__m256 b1 = _mm256_load_ps(bp + 8);
#pragma GCC unroll 6
		for (int r = 0; r < AVX2_MR; r++) {
			__m256 av = _mm256_broadcast_ss(ap + r);
			acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
			acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
		}
		ap += AVX2_MR;
		bp += AVX2_NR;
	}
	if (flags & UKR_FINAL) {
		__m256 cn = _mm256_castsi256_ps(
		    _mm256_set1_epi32((int)SGEMM_NAN_BITS));
#pragma GCC unroll 6
		for (int r = 0; r < AVX2_MR; r++) {
			for (int h = 0; h < 2; h++) {
				__m256 un = _mm256_cmp_ps(acc[r][h], acc[r][h],
				    _CMP_UNORD_Q);
				acc[r][h] = _mm256_blendv_ps(acc[r][h], cn, un);
			}
		}
	}
#pragma GCC unroll 6
	for (int r = 0; r < AVX2_MR; r++) {
		_mm256_storeu_ps(c + r * ldc, acc[r][0]);
		_mm256_storeu_ps(c + r * ldc + 8, acc[r][1]);
	}
}

static void
pack_a_avx2(size_t mv, size_t kc, const float *a, size_t lda, size_t cs,
    float *ap)
{
	pack_a_mr(AVX2_MR, mv, kc, a, lda, cs, ap);
}

static void
pack_b_avx2(size_t nv, size_t kc, const float *b, size_t ldb, size_t cs,
    float *bp)
{
	pack_b_nr(AVX2_NR, nv, kc, b, ldb, cs, bp);
}

/*
 * AVX-512: 8 x 32, two zmm per row: 16 accumulators, 2 registers for B
 * and one broadcast of A. Each k step issues 16 FMAs against 2 vector
 * loads and 8 broadcasts. Measured on Zen 5 against 14x32, 12x32, 10x32,
 * 8x48, 6x64, 6x48, 6x32 and 4x64 at sizes 256 to 1536: all within a few
 * percent (machine noise is about as large); 8x32 was the most even across
 * shapes, and its 16 chains still cover two FMA pipes' latency. Software
 * prefetch of C and of the packed panels measured neutral (the packed
 * streams are sequential, which the hardware prefetchers handle), so there
 * is none.
 */
#define AVX512_MR 8
#define AVX512_NR 32

__attribute__((target("avx512f"))) static void
ukr_avx512(size_t kc, const float *restrict ap, const float *restrict bp,
    float *restrict c, size_t ldc, unsigned flags)
{
	__m512 acc[AVX512_MR][2];
#pragma GCC unroll 8
	for (int r = 0; r < AVX512_MR; r++) {
		acc[r][0] = _mm512_setzero_ps();
		acc[r][1] = _mm512_setzero_ps();
	}
	if (flags & UKR_LOAD) {
#pragma GCC unroll 8
		for (int r = 0; r < AVX512_MR; r++) {
			acc[r][0] = _mm512_loadu_ps(c + r * ldc);
			acc[r][1] = _mm512_loadu_ps(c + r * ldc + 16);
		}
	}
#pragma GCC unroll 2
	for (size_t p = 0; p < kc; p++) {
		__m512 b0 = _mm512_load_ps(bp);
		__m512 b1 = _mm512_load_ps(bp + 16);
#pragma GCC unroll 8
		for (int r = 0; r < AVX512_MR; r++) {
			__m512 av = _mm512_set1_ps(ap[r]);
			acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
			acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
		}
		ap += AVX512_MR;
		bp += AVX512_NR;
	}
	if (flags & UKR_FINAL) {
		__m512 cn = _mm512_castsi512_ps(
		    _mm512_set1_epi32((int)SGEMM_NAN_BITS));
#pragma GCC unroll 8
		for (int r = 0; r < AVX512_MR; r++) {
			for (int h = 0; h < 2; h++) {
				__mmask16 un = _mm512_cmp_ps_mask(acc[r][h],
				    acc[r][h], _CMP_UNORD_Q);
				acc[r][h] = _mm512_mask_mov_ps(acc[r][h], un,
				    cn);
			}
		}
	}
#pragma GCC unroll 8
	for (int r = 0; r < AVX512_MR; r++) {
		_mm512_storeu_ps(c + r * ldc, acc[r][0]);
		_mm512_storeu_ps(c + r * ldc + 16, acc[r][1]);
	}
}

static void
pack_a_avx512(size_t mv, size_t kc, const float *a, size_t lda, size_t cs,
    float *ap)
{
	pack_a_mr(AVX512_MR, mv, kc, a, lda, cs, ap);
}

static void
pack_b_avx512(size_t nv, size_t kc, const float *b, size_t ldb, size_t cs,
    float *bp)
{
	pack_b_nr(AVX512_NR, nv, kc, b, ldb, cs, bp);
}

#endif /* SGEMM_X86 */

/* ------------------------------------------------------------------ */
/* Blocked driver                                                       */
/* ------------------------------------------------------------------ */

_Static_assert(GEN_MR <= TILE_MAX_MR && GEN_NR <= TILE_MAX_NR, "tile");
#if SGEMM_X86
_Static_assert(AVX2_MR <= TILE_MAX_MR && AVX2_NR <= TILE_MAX_NR, "tile");
_Static_assert(AVX512_MR <= TILE_MAX_MR && AVX512_NR <= TILE_MAX_NR,
    "tile");
#endif

struct sgemm_impl {
	size_t mr, nr; /* register tile */
	size_t mc;     /* rows of A per packed block (multiple of mr) */
	size_t kc;     /* depth of a packed block */
	size_t nc;     /* columns of B per packed block (multiple of nr) */
	sgemm_ukr_fn ukr;
	sgemm_pack_fn pack_a;
	sgemm_pack_fn pack_b;
};

/*
 * Block sizes, measured (bench/matmul_bench.c and sweeps of mc, kc, nc).
 * AVX-512 on Zen 5 (48 KiB L1d, 1 MiB L2): an A block of 64 x 512 (128
 * KiB) stays in L2, each B element fetched from L3 then serves 64 rows,
 * and a deep kc halves the C reload traffic of k-blocking; kc 256 to 768
 * and mc 32 to 128 were all within noise, bigger mc lost up to 40% on
 * some shapes. nc bounds the packed B block to 4 MiB. The AVX2 kernel was
 * flat over kc 256/512 and mc 48 to 288; the generic one is not tuned.
 */
static const struct sgemm_impl sgemm_impls[] = {
#if SGEMM_SSE2
	[PATH_GENERIC] = {SSE2_MR, SSE2_NR, 64, 256, 2048, ukr_sse2,
	    pack_a_sse2, pack_b_sse2},
#else
	[PATH_GENERIC] = {GEN_MR, GEN_NR, 64, 256, 2048, ukr_generic,
	    pack_a_generic, pack_b_generic},
#endif
#if SGEMM_X86
	[PATH_FMA] = {AVX2_MR, AVX2_NR, 72, 512, 2048, ukr_avx2, pack_a_avx2,
	    pack_b_avx2},
	[PATH_AVX2] = {AVX2_MR, AVX2_NR, 72, 512, 2048, ukr_avx2, pack_a_avx2,
	    pack_b_avx2},
	[PATH_AVX512] = {AVX512_MR, AVX512_NR, 64, 512, 2048, ukr_avx512,
	    pack_a_avx512, pack_b_avx512},
#endif
};

/* One MR x NR tile whose valid part is rows x cols of c: full tiles go
 * straight to C; edge tiles through scratch, so nothing outside the m x n
 * region of C is read or written. */
static void
tile_run(const struct sgemm_impl *im, size_t kc, const float *ap,
    const float *bp, float *c, size_t ldc, size_t rows, size_t cols,
    unsigned flags, float *tmp)
{
	if (rows == im->mr && cols == im->nr) {
		im->ukr(kc, ap, bp, c, ldc, flags);
		return;
	}
	if (flags & UKR_LOAD) {
		for (size_t r = 0; r < rows; r++) {
			memcpy(tmp + r * im->nr, c + r * ldc,
			    cols * sizeof(float));
		}
	}
	im->ukr(kc, ap, bp, tmp, im->nr, flags);
	for (size_t r = 0; r < rows; r++) {
		memcpy(c + r * ldc, tmp + r * im->nr, cols * sizeof(float));
	}
}

/*
 * The loop nest of GotoBLAS: for each nc column block, for each kc depth
 * block in increasing k (the order the definition needs), pack B; for each
 * mc row block pack A, then sweep the tiles. apack holds an mc x kc
 * block, bpack a kc x nc one (unused with bpre). Only columns [jlo, jhi)
 * are computed (a band of a pre-packed B; jlo a multiple of nr): the
 * blocks stay those of all n columns, as B was packed.
 */
static void
sgemm_blocked_buf(const struct sgemm_impl *im, size_t m, size_t n,
    size_t k, const float *a, size_t ars, size_t acs, const float *b,
    size_t brs, size_t bcs, const float *bpre, float *c, size_t ldc,
    float *apack, float *bpack, size_t jlo, size_t jhi)
{
	size_t mc = block_step(m, im->mc, im->mr);
	size_t kc = block_step(k, im->kc, 1);
	size_t nc = block_step(n, im->nc, im->nr);
	/* Edge-tile scratch, zeroed once: its unused lanes then only ever
	 * feed lanes that are thrown away. */
	_Alignas(64) float tmp[TILE_MAX_MR * TILE_MAX_NR];
	memset(tmp, 0, sizeof(tmp));

	for (size_t jc = 0; jc < n; jc += nc) {
		size_t nv = min_size(nc, n - jc);
		if (jc + nv <= jlo || jc >= jhi) {
			if (bpre != NULL) { /* skip this block's panels */
				bpre += k * round_up(nv, im->nr);
			}
			continue;
		}
		size_t jr0 = jlo > jc ? jlo - jc : 0;
		size_t jr1 = min_size(nv, jhi - jc);
		for (size_t pc = 0; pc < k; pc += kc) {
			size_t kv = min_size(kc, k - pc);
			unsigned flags = (pc > 0 ? UKR_LOAD : 0) |
			    (pc + kv == k ? UKR_FINAL : 0);
			const float *bblk = bpack;
			if (bpre != NULL) {
				bblk = bpre;
				bpre += kv * round_up(nv, im->nr);
			} else {
				im->pack_b(nv, kv, b + pc * brs + jc * bcs, brs,
				    bcs, bpack);
			}
			for (size_t ic = 0; ic < m; ic += mc) {
				size_t mv = min_size(mc, m - ic);
				im->pack_a(mv, kv, a + ic * ars + pc * acs, ars,
				    acs, apack);
				for (size_t jr = jr0; jr < jr1; jr += im->nr) {
					size_t cols = min_size(im->nr, jr1 - jr);
					for (size_t ir = 0; ir < mv;
					     ir += im->mr) {
						size_t rows = min_size(im->mr,
						    mv - ir);
						float *ct = c +
						    (ic + ir) * ldc + jc + jr;
						tile_run(im, kv,
						    apack + ir * kv,
						    bblk + jr * kv, ct, ldc,
						    rows, cols, flags, tmp);
					}
				}
			}
		}
	}
}

/*
 * Threads: C is cut into bands of whole rows (B packed once, shared) or
 * of whole columns (B packed per band, A per thread), and each band is
 * an ordinary blocked GEMM of its own. Every element of C still gets its
 * k steps in the one canonical order, and the block sizes of a band
 * change only which element is computed when, so any cut and any
 * thread count give the bits of one thread.
 */
struct sgemm_par {
	const struct sgemm_impl *im;
	size_t m, n, k;
	const float *a;
	size_t ars, acs;
	const float *b;
	size_t brs, bcs;
	const float *bpre;
	float *c;
	size_t ldc;
	bool by_rows;
	size_t step; /* rows or columns per band */
	unsigned char *scratch;
	size_t per_thread, abytes; /* bytes of one thread's scratch, of A */
};

static void
sgemm_band(void *ctx, unsigned worker, size_t i)
{
	const struct sgemm_par *p = ctx;
	size_t lo = i * p->step;
	float *ap = (float *)(void *)(p->scratch + worker * p->per_thread);
	float *bp = (float *)(void *)(p->scratch + worker * p->per_thread +
	    p->abytes);
	if (p->by_rows) {
		size_t rows = min_size(p->step, p->m - lo);
		sgemm_blocked_buf(p->im, rows, p->n, p->k, p->a + lo * p->ars,
		    p->ars, p->acs, p->b, p->brs, p->bcs, p->bpre,
		    p->c + lo * p->ldc, p->ldc, ap, bp, 0, p->n);
	} else {
		size_t cols = min_size(p->step, p->n - lo);
		if (p->bpre != NULL) {
			/* The band's panels of the B packed for all n. */
			sgemm_blocked_buf(p->im, p->m, p->n, p->k, p->a, p->ars,
			    p->acs, NULL, 0, 0, p->bpre, p->c, p->ldc, ap, bp,
			    lo, lo + cols);
		} else {
			sgemm_blocked_buf(p->im, p->m, cols, p->k, p->a, p->ars,
			    p->acs, p->b + lo * p->bcs, p->brs, p->bcs, NULL,
			    p->c + lo, p->ldc, ap, bp, 0, cols);
		}
	}
}

static size_t
sat_mul3(size_t a, size_t b, size_t c)
{
	size_t r;
	if (!rf_size_mul(a, b, &r) || !rf_size_mul(r, c, &r)) {
		return SIZE_MAX;
	}
	return r;
}

/*
 * The fast product, on as many threads as the pool gives it. Packing
 * buffers come from the run's pool (engine_op_scratch_alloc) in the
 * calling thread, one set per thread: the same sizes recur for every
 * layer, and fresh megabytes from the allocator cost page faults on
 * each call. With bpre (B packed once, engine_sgemm_pack_b) there is no
 * B to pack. Returns false when the buffers cannot be allocated.
 */
static bool
sgemm_blocked(const struct sgemm_impl *im, size_t m, size_t n, size_t k,
    const float *a, size_t ars, size_t acs, const float *b, size_t brs,
    size_t bcs, const float *bpre, float *c, size_t ldc)
{
	struct sgemm_par p = { im, m, n, k, a, ars, acs, b, brs, bcs, bpre,
	    c, ldc, true, m, NULL, 0, 0 };
	size_t row_bands = m / im->mr;          /* of at least mr rows */
	size_t col_bands = n / (2 * im->nr);    /* of two panels or more */
	size_t bands = row_bands > col_bands ? row_bands : col_bands;
	unsigned w = engine_par_width(sat_mul3(m, n, k), bands);
	size_t nbands = 1;
	if (w > 1) {
		/* Rows when C is tall, columns when it is wide: a band reads
		 * all of the other operand (and packs it, unless B was
		 * packed once), so the cut goes across the bigger one. Two
		 * bands per thread when B is packed once (a band then packs
		 * only A, if anything), so a thread slowed by other load
		 * hands work over. */
		p.by_rows = (m >= n && row_bands >= 2) || col_bands < 2;
		size_t len = p.by_rows ? m : n;
		size_t unit = p.by_rows ? im->mr : im->nr;
		size_t want = bpre != NULL ? 2 * (size_t)w : w;
		p.step = round_up((len + want - 1) / want, unit);
		nbands = (len + p.step - 1) / p.step;
		if (nbands < 2) {
			w = 1;
		}
	}
	if (w <= 1) {
		p.by_rows = true;
		p.step = m;
		nbands = 1;
		w = 1;
	}
	size_t msub = p.by_rows ? min_size(p.step, m) : m;
	size_t nsub = p.by_rows ? n : min_size(p.step, n);
	size_t mc = round_up(min_size(msub, im->mc), im->mr);
	size_t kc = block_step(k, im->kc, 1);
	size_t nc = round_up(min_size(nsub, im->nc), im->nr);
	p.abytes = round_up(mc * kc * sizeof(float), 64);
	size_t bbytes = bpre != NULL ? 0 : round_up(kc * nc * sizeof(float), 64);
	p.per_thread = p.abytes + bbytes;
	size_t total = p.per_thread * w;
	p.scratch = engine_op_scratch_alloc(total);
	if (p.scratch == NULL) {
		return false;
	}
	engine_par_run(w, nbands, sgemm_band, &p);
	engine_op_scratch_free(p.scratch, total);
	return true;
}

void
engine_sgemm(enum engine_kernels kind, size_t m, size_t n, size_t k,
    const float *a, size_t lda, const float *b, size_t ldb, float *c,
    size_t ldc)
{
	engine_sgemm_t(kind, false, false, m, n, k, a, lda, b, ldb, c, ldc);
}

void
engine_sgemm_t(enum engine_kernels kind, bool trans_a, bool trans_b,
    size_t m, size_t n, size_t k, const float *a, size_t lda,
    const float *b, size_t ldb, float *c, size_t ldc)
{
	size_t ars = trans_a ? 1 : lda, acs = trans_a ? lda : 1;
	size_t brs = trans_b ? 1 : ldb, bcs = trans_b ? ldb : 1;
	if (m == 0 || n == 0) {
		return;
	}
	if (k == 0) {
		/* The empty sum: acc never leaves +0.0f (all bits zero). */
		for (size_t i = 0; i < m; i++) {
			memset(c + i * ldc, 0, n * sizeof(float));
		}
		return;
	}
	if (kind == ENGINE_KERNELS_FAST) {
		const struct sgemm_impl *im = &sgemm_impls[path_get()];
		if (sgemm_blocked(im, m, n, k, a, ars, acs, b, brs, bcs, NULL,
		        c, ldc)) {
			return;
		}
		/* Out of memory for packing: the definition needs none and
		 * gives the same bits, only slower. */
	}
	sgemm_ref(m, n, k, a, ars, acs, b, brs, bcs, c, ldc);
}

/* ------------------------------------------------------------------ */
/* B packed once                                                        */
/* ------------------------------------------------------------------ */

/*
 * A constant B (a model's weight) packed once into the panels the fast
 * path's driver would make on every call, block after block in the
 * driver's order (nc column blocks, kc depth blocks inside). Packing only
 * moves values, so a product from it has the bits of one packed on the
 * fly.
 */
struct engine_packed_b {
	int path;
	bool trans_b;
	size_t k, n, ldb;
	float *data;
};

int
engine_sgemm_pack_b(bool trans_b, size_t k, size_t n, const float *b,
    size_t ldb, struct engine_packed_b **out)
{
	enum sgemm_path path = path_get();
	const struct sgemm_impl *im = &sgemm_impls[path];
	if (k == 0 || n == 0) {
		return RF_ERR_INVAL;
	}
	size_t brs = trans_b ? 1 : ldb, bcs = trans_b ? ldb : 1;
	size_t kc = block_step(k, im->kc, 1);
	size_t nc = block_step(n, im->nc, im->nr);
	size_t cols = 0;
	for (size_t jc = 0; jc < n; jc += nc) {
		cols += round_up(min_size(nc, n - jc), im->nr);
	}
	size_t count;
	struct engine_packed_b *pb = calloc(1, sizeof(*pb));
	if (pb == NULL || !rf_size_mul(cols, k, &count) ||
	    !rf_size_mul(count, sizeof(float), &count)) {
		free(pb);
		return RF_ERR_NOMEM;
	}
	pb->data = engine_aligned_alloc(count);
	if (pb->data == NULL) {
		free(pb);
		return RF_ERR_NOMEM;
	}
	float *dst = pb->data;
	for (size_t jc = 0; jc < n; jc += nc) {
		size_t nv = min_size(nc, n - jc);
		for (size_t pc = 0; pc < k; pc += kc) {
			size_t kv = min_size(kc, k - pc);
			im->pack_b(nv, kv, b + pc * brs + jc * bcs, brs, bcs,
			    dst);
			dst += kv * round_up(nv, im->nr);
		}
	}
	pb->path = (int)path;
	pb->trans_b = trans_b;
	pb->k = k;
	pb->n = n;
	pb->ldb = ldb;
	*out = pb;
	return RF_OK;
}

void
engine_packed_b_free(struct engine_packed_b *pb)
{
	if (pb != NULL) {
		engine_aligned_free(pb->data);
		free(pb);
	}
}

bool
engine_packed_b_fits(const struct engine_packed_b *pb, bool trans_b,
    size_t k, size_t n, size_t ldb)
{
	return pb != NULL && pb->trans_b == trans_b && pb->k == k &&
	    pb->n == n && pb->ldb == ldb;
}

bool
engine_sgemm_packed(bool trans_a, size_t m, size_t n, size_t k,
    const float *a, size_t lda, const struct engine_packed_b *pb, float *c,
    size_t ldc)
{
	if (m == 0) {
		return true;
	}
	size_t ars = trans_a ? 1 : lda, acs = trans_a ? lda : 1;
	/* False when A's panel cannot be allocated: the caller still has
	 * B and computes the product the ordinary way. */
	return sgemm_blocked(&sgemm_impls[pb->path], m, n, k, a, ars, acs,
	    NULL, 0, 0, pb->data, c, ldc);
}

/* ------------------------------------------------------------------ */
/* Integer GEMM                                                         */
/* ------------------------------------------------------------------ */

/*
 * Everything is computed in uint32_t, where overflow is defined to wrap:
 * (a - za) and (b - zb) as uint32_t, their product and the sum modulo
 * 2^32. That is int32 two's-complement wrapping arithmetic, and because
 * addition modulo 2^32 is associative the fast kernel may sum in any order.
 * The packed operands already have the zero points subtracted, so the
 * micro-kernels are plain multiply-adds on 32-bit lanes.
 */

static inline int32_t
u32_to_i32(uint32_t v)
{
	/* memcpy, not a cast: converting a value over INT32_MAX is
	 * implementation-defined in C. */
	int32_t r;
	memcpy(&r, &v, sizeof(r));
	return r;
}

static void
igemm_ref(size_t m, size_t n, size_t k, const int8_t *a, size_t lda,
    int32_t za, const int8_t *b, size_t ldb, int32_t zb, int32_t *c,
    size_t ldc)
{
	uint32_t uza = (uint32_t)za;
	uint32_t uzb = (uint32_t)zb;
	for (size_t i = 0; i < m; i++) {
		for (size_t j = 0; j < n; j++) {
			uint32_t acc = 0;
			for (size_t p = 0; p < k; p++) {
				uint32_t av = (uint32_t)a[i * lda + p] - uza;
				uint32_t bv = (uint32_t)b[p * ldb + j] - uzb;
				acc += av * bv;
			}
			c[i * ldc + j] = u32_to_i32(acc);
		}
	}
}

/* Same layouts as pack_a_mr / pack_b_nr, values offset by the zero point;
 * padding is 0 after the offset, so it adds nothing. */
static inline __attribute__((always_inline)) void
ipack_a_mr(size_t mr, size_t mv, size_t kc, const int8_t *a, size_t lda,
    uint32_t za, uint32_t *ap)
{
	for (size_t i0 = 0; i0 < mv; i0 += mr) {
		size_t rows = min_size(mr, mv - i0);
		const int8_t *src = a + i0 * lda;
		for (size_t p = 0; p < kc; p++) {
			for (size_t r = 0; r < mr; r++) {
				ap[p * mr + r] = r < rows
				    ? (uint32_t)src[r * lda + p] - za
				    : 0;
			}
		}
		ap += mr * kc;
	}
}

static inline __attribute__((always_inline)) void
ipack_b_nr(size_t nr, size_t nv, size_t kc, const int8_t *b, size_t ldb,
    uint32_t zb, uint32_t *bp)
{
	for (size_t j0 = 0; j0 < nv; j0 += nr) {
		size_t cols = min_size(nr, nv - j0);
		const int8_t *src = b + j0;
		for (size_t p = 0; p < kc; p++) {
			for (size_t j = 0; j < nr; j++) {
				bp[p * nr + j] = j < cols
				    ? (uint32_t)src[p * ldb + j] - zb
				    : 0;
			}
		}
		bp += nr * kc;
	}
}

typedef void (*igemm_ukr_fn)(size_t kc, const uint32_t *restrict ap,
    const uint32_t *restrict bp, uint32_t *restrict c, size_t ldc,
    unsigned flags);
typedef void (*igemm_pack_fn)(size_t mv, size_t kc, const int8_t *src,
    size_t ld, uint32_t zero, uint32_t *dst);

static void
iukr_generic(size_t kc, const uint32_t *restrict ap,
    const uint32_t *restrict bp, uint32_t *restrict c, size_t ldc,
    unsigned flags)
{
	uint32_t acc[GEN_MR][GEN_NR];
	for (size_t r = 0; r < GEN_MR; r++) {
		for (size_t j = 0; j < GEN_NR; j++) {
			acc[r][j] = (flags & UKR_LOAD) ? c[r * ldc + j] : 0;
		}
	}
	for (size_t p = 0; p < kc; p++) {
		for (size_t r = 0; r < GEN_MR; r++) {
			uint32_t av = ap[p * GEN_MR + r];
			for (size_t j = 0; j < GEN_NR; j++) {
				acc[r][j] += av * bp[p * GEN_NR + j];
			}
		}
	}
	for (size_t r = 0; r < GEN_MR; r++) {
		for (size_t j = 0; j < GEN_NR; j++) {
			c[r * ldc + j] = acc[r][j];
		}
	}
}

static void
ipack_a_generic(size_t mv, size_t kc, const int8_t *a, size_t lda,
    uint32_t za, uint32_t *ap)
{
	ipack_a_mr(GEN_MR, mv, kc, a, lda, za, ap);
}

static void
ipack_b_generic(size_t nv, size_t kc, const int8_t *b, size_t ldb,
    uint32_t zb, uint32_t *bp)
{
	ipack_b_nr(GEN_NR, nv, kc, b, ldb, zb, bp);
}

#if SGEMM_X86

__attribute__((target("avx2"))) static void
iukr_avx2(size_t kc, const uint32_t *restrict ap,
    const uint32_t *restrict bp, uint32_t *restrict c, size_t ldc,
    unsigned flags)
{
	__m256i acc[AVX2_MR][2];
#pragma GCC unroll 6
	for (int r = 0; r < AVX2_MR; r++) {
		if (flags & UKR_LOAD) {
			acc[r][0] = _mm256_loadu_si256(
			    (const __m256i *)(c + r * ldc));
			acc[r][1] = _mm256_loadu_si256(
			    (const __m256i *)(c + r * ldc + 8));
		} else {
			acc[r][0] = _mm256_setzero_si256();
			acc[r][1] = _mm256_setzero_si256();
		}
	}
	for (size_t p = 0; p < kc; p++) {
		__m256i b0 = _mm256_load_si256((const __m256i *)bp);
		__m256i b1 = _mm256_load_si256((const __m256i *)(bp + 8));
#pragma GCC unroll 6
		for (int r = 0; r < AVX2_MR; r++) {
			__m256i av = _mm256_set1_epi32((int)ap[r]);
			acc[r][0] = _mm256_add_epi32(acc[r][0],
			    _mm256_mullo_epi32(av, b0));
			acc[r][1] = _mm256_add_epi32(acc[r][1],
			    _mm256_mullo_epi32(av, b1));
		}
		ap += AVX2_MR;
		bp += AVX2_NR;
	}
#pragma GCC unroll 6
	for (int r = 0; r < AVX2_MR; r++) {
		_mm256_storeu_si256((__m256i *)(c + r * ldc), acc[r][0]);
		_mm256_storeu_si256((__m256i *)(c + r * ldc + 8), acc[r][1]);
	}
}

static void
ipack_a_avx2(size_t mv, size_t kc, const int8_t *a, size_t lda, uint32_t za,
    uint32_t *ap)
{
	ipack_a_mr(AVX2_MR, mv, kc, a, lda, za, ap);
}

static void
ipack_b_avx2(size_t nv, size_t kc, const int8_t *b, size_t ldb, uint32_t zb,
    uint32_t *bp)
{
	ipack_b_nr(AVX2_NR, nv, kc, b, ldb, zb, bp);
}

__attribute__((target("avx512f"))) static void
iukr_avx512(size_t kc, const uint32_t *restrict ap,
    const uint32_t *restrict bp, uint32_t *restrict c, size_t ldc,
    unsigned flags)
{
	__m512i acc[AVX512_MR][2];
#pragma GCC unroll 8
	for (int r = 0; r < AVX512_MR; r++) {
		if (flags & UKR_LOAD) {
			acc[r][0] = _mm512_loadu_si512(c + r * ldc);
			acc[r][1] = _mm512_loadu_si512(c + r * ldc + 16);
		} else {
			acc[r][0] = _mm512_setzero_si512();
			acc[r][1] = _mm512_setzero_si512();
		}
	}
	for (size_t p = 0; p < kc; p++) {
		__m512i b0 = _mm512_load_si512(bp);
		__m512i b1 = _mm512_load_si512(bp + 16);
#pragma GCC unroll 8
		for (int r = 0; r < AVX512_MR; r++) {
			__m512i av = _mm512_set1_epi32((int)ap[r]);
			acc[r][0] = _mm512_add_epi32(acc[r][0],
			    _mm512_mullo_epi32(av, b0));
			acc[r][1] = _mm512_add_epi32(acc[r][1],
			    _mm512_mullo_epi32(av, b1));
		}
		ap += AVX512_MR;
		bp += AVX512_NR;
	}
#pragma GCC unroll 8
	for (int r = 0; r < AVX512_MR; r++) {
		_mm512_storeu_si512(c + r * ldc, acc[r][0]);
		_mm512_storeu_si512(c + r * ldc + 16, acc[r][1]);
	}
}

static void
ipack_a_avx512(size_t mv, size_t kc, const int8_t *a, size_t lda,
    uint32_t za, uint32_t *ap)
{
	ipack_a_mr(AVX512_MR, mv, kc, a, lda, za, ap);
}

static void
ipack_b_avx512(size_t nv, size_t kc, const int8_t *b, size_t ldb,
    uint32_t zb, uint32_t *bp)
{
	ipack_b_nr(AVX512_NR, nv, kc, b, ldb, zb, bp);
}

#endif /* SGEMM_X86 */

struct igemm_impl {
	size_t mr, nr, mc, kc, nc; /* as in struct sgemm_impl */
	igemm_ukr_fn ukr;
	igemm_pack_fn pack_a;
	igemm_pack_fn pack_b;
};

/* Packed operands are 4-byte lanes like the float ones, so the float
 * kernels' cache blocking carries over. */
static const struct igemm_impl igemm_impls[] = {
	[PATH_GENERIC] = {GEN_MR, GEN_NR, 64, 256, 2048, iukr_generic,
	    ipack_a_generic, ipack_b_generic},
#if SGEMM_X86
	/* AVX without AVX2 has no 256-bit integer multiply. */
	[PATH_FMA] = {GEN_MR, GEN_NR, 64, 256, 2048, iukr_generic,
	    ipack_a_generic, ipack_b_generic},
	[PATH_AVX2] = {AVX2_MR, AVX2_NR, 72, 512, 2048, iukr_avx2,
	    ipack_a_avx2, ipack_b_avx2},
	[PATH_AVX512] = {AVX512_MR, AVX512_NR, 64, 512, 2048, iukr_avx512,
	    ipack_a_avx512, ipack_b_avx512},
#endif
};

static void
itile_run(const struct igemm_impl *im, size_t kc, const uint32_t *ap,
    const uint32_t *bp, uint32_t *c, size_t ldc, size_t rows, size_t cols,
    unsigned flags, uint32_t *tmp)
{
	if (rows == im->mr && cols == im->nr) {
		im->ukr(kc, ap, bp, c, ldc, flags);
		return;
	}
	if (flags & UKR_LOAD) {
		for (size_t r = 0; r < rows; r++) {
			memcpy(tmp + r * im->nr, c + r * ldc,
			    cols * sizeof(uint32_t));
		}
	}
	im->ukr(kc, ap, bp, tmp, im->nr, flags);
	for (size_t r = 0; r < rows; r++) {
		memcpy(c + r * ldc, tmp + r * im->nr, cols * sizeof(uint32_t));
	}
}

/* sgemm_blocked for integers. */
static bool
igemm_blocked(const struct igemm_impl *im, size_t m, size_t n, size_t k,
    const int8_t *a, size_t lda, uint32_t za, const int8_t *b, size_t ldb,
    uint32_t zb, uint32_t *c, size_t ldc)
{
	size_t mc = block_step(m, im->mc, im->mr);
	size_t kc = block_step(k, im->kc, 1);
	size_t nc = block_step(n, im->nc, im->nr);
	uint32_t *apack = engine_aligned_alloc(mc * kc * sizeof(uint32_t));
	uint32_t *bpack = engine_aligned_alloc(kc * nc * sizeof(uint32_t));
	if (apack == NULL || bpack == NULL) {
		engine_aligned_free(apack);
		engine_aligned_free(bpack);
		return false;
	}
	_Alignas(64) uint32_t tmp[TILE_MAX_MR * TILE_MAX_NR];
	memset(tmp, 0, sizeof(tmp));

	for (size_t jc = 0; jc < n; jc += nc) {
		size_t nv = min_size(nc, n - jc);
		for (size_t pc = 0; pc < k; pc += kc) {
			size_t kv = min_size(kc, k - pc);
			unsigned flags = pc > 0 ? UKR_LOAD : 0;
			im->pack_b(nv, kv, b + pc * ldb + jc, ldb, zb, bpack);
			for (size_t ic = 0; ic < m; ic += mc) {
				size_t mv = min_size(mc, m - ic);
				im->pack_a(mv, kv, a + ic * lda + pc, lda, za,
				    apack);
				for (size_t jr = 0; jr < nv; jr += im->nr) {
					size_t cols = min_size(im->nr, nv - jr);
					for (size_t ir = 0; ir < mv;
					     ir += im->mr) {
						size_t rows = min_size(im->mr,
						    mv - ir);
						uint32_t *ct = c +
						    (ic + ir) * ldc + jc + jr;
						itile_run(im, kv,
						    apack + ir * kv,
						    bpack + jr * kv, ct, ldc,
						    rows, cols, flags, tmp);
					}
				}
			}
		}
	}
	engine_aligned_free(apack);
	engine_aligned_free(bpack);
	return true;
}

void
engine_igemm(enum engine_kernels kind, size_t m, size_t n, size_t k,
    const int8_t *a, size_t lda, int32_t za, const int8_t *b, size_t ldb,
    int32_t zb, int32_t *c, size_t ldc)
{
	if (m == 0 || n == 0) {
		return;
	}
	if (k == 0) {
		for (size_t i = 0; i < m; i++) {
			memset(c + i * ldc, 0, n * sizeof(int32_t));
		}
		return;
	}
	if (kind == ENGINE_KERNELS_FAST) {
		const struct igemm_impl *im = &igemm_impls[path_get()];
		/* uint32_t may alias int32_t (C11 6.5p7), and the wrapped
		 * bit patterns are the int32 results. */
		if (igemm_blocked(im, m, n, k, a, lda, (uint32_t)za, b, ldb,
		        (uint32_t)zb, (uint32_t *)c, ldc)) {
			return;
		}
	}
	igemm_ref(m, n, k, a, lda, za, b, ldb, zb, c, ldc);
}
