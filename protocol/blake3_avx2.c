/*
 * protocol/blake3_avx2.c - BLAKE3 on eight inputs at once with AVX2: one
 * 32-bit lane per input, the 16 state words in 16 registers. The message
 * words of eight blocks are transposed in (an 8x8 transpose for each half
 * of the block) and the eight chaining values transposed out. Written with
 * a target attribute so the project builds without -march flags; the
 * caller (protocol/blake3.c) runs it only when the CPU has AVX2.
 */
#include <string.h>

#include "protocol/protocol_int.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define TARGET __attribute__((target("avx2")))

/* Same schedule as the portable code (protocol/blake3.c). */
static const uint8_t sched[7][16] = {
	{ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
	{ 2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8 },
	{ 3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1 },
	{ 10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6 },
	{ 12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4 },
	{ 9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7 },
	{ 11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13 },
};

static const uint32_t iv[4] = { 0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u,
	0xA54FF53Au };

TARGET static inline __m256i
add(__m256i a, __m256i b)
{
	return _mm256_add_epi32(a, b);
}

TARGET static inline __m256i
rot16(__m256i x)
{
	const __m256i m = _mm256_set_epi8(13, 12, 15, 14, 9, 8, 11, 10, 5, 4,
	    7, 6, 1, 0, 3, 2, 13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3,
	    2);
	return _mm256_shuffle_epi8(x, m);
}

TARGET static inline __m256i
rot8(__m256i x)
{
	const __m256i m = _mm256_set_epi8(12, 15, 14, 13, 8, 11, 10, 9, 4, 7,
	    6, 5, 0, 3, 2, 1, 12, 15, 14, 13, 8, 11, 10, 9, 4, 7, 6, 5, 0, 3, 2,
	    1);
	return _mm256_shuffle_epi8(x, m);
}

TARGET static inline __m256i
rot12(__m256i x)
{
	return _mm256_or_si256(_mm256_srli_epi32(x, 12),
	    _mm256_slli_epi32(x, 20));
}

TARGET static inline __m256i
rot7(__m256i x)
{
	return _mm256_or_si256(_mm256_srli_epi32(x, 7),
	    _mm256_slli_epi32(x, 25));
}

#define G(a, b, c, d, x, y)                                                  \
	do {                                                                 \
		v[a] = add(add(v[a], v[b]), (x));                            \
		v[d] = rot16(_mm256_xor_si256(v[d], v[a]));                  \
		v[c] = add(v[c], v[d]);                                      \
		v[b] = rot12(_mm256_xor_si256(v[b], v[c]));                  \
		v[a] = add(add(v[a], v[b]), (y));                            \
		v[d] = rot8(_mm256_xor_si256(v[d], v[a]));                   \
		v[c] = add(v[c], v[d]);                                      \
		v[b] = rot7(_mm256_xor_si256(v[b], v[c]));                   \
	} while (0)

/* r[i] word w -> r[w] word i, in place. */
TARGET static inline void
transpose8(__m256i r[8])
{
	__m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]);
	__m256i t1 = _mm256_unpackhi_epi32(r[0], r[1]);
	__m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]);
	__m256i t3 = _mm256_unpackhi_epi32(r[2], r[3]);
	__m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]);
	__m256i t5 = _mm256_unpackhi_epi32(r[4], r[5]);
	__m256i t6 = _mm256_unpacklo_epi32(r[6], r[7]);
	__m256i t7 = _mm256_unpackhi_epi32(r[6], r[7]);
	/* u_k: word k (low half) and word k + 4 (high half) of four rows. */
	__m256i u0 = _mm256_unpacklo_epi64(t0, t2);
	__m256i u1 = _mm256_unpackhi_epi64(t0, t2);
	__m256i u2 = _mm256_unpacklo_epi64(t1, t3);
	__m256i u3 = _mm256_unpackhi_epi64(t1, t3);
	__m256i u4 = _mm256_unpacklo_epi64(t4, t6);
	__m256i u5 = _mm256_unpackhi_epi64(t4, t6);
	__m256i u6 = _mm256_unpacklo_epi64(t5, t7);
	__m256i u7 = _mm256_unpackhi_epi64(t5, t7);
	r[0] = _mm256_permute2x128_si256(u0, u4, 0x20);
	r[4] = _mm256_permute2x128_si256(u0, u4, 0x31);
	r[1] = _mm256_permute2x128_si256(u1, u5, 0x20);
	r[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
	r[2] = _mm256_permute2x128_si256(u2, u6, 0x20);
	r[6] = _mm256_permute2x128_si256(u2, u6, 0x31);
	r[3] = _mm256_permute2x128_si256(u3, u7, 0x20);
	r[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
}

/* Inputs 0..n-1 (n <= 8); idle lanes re-read the last input and their
 * results are dropped, so a short batch still runs at full width. */
TARGET static void
hash8(const uint8_t *in, size_t stride, size_t n, size_t blocks,
    const uint32_t key[8], uint64_t counter, bool inc, uint8_t flags,
    uint8_t flags_start, uint8_t flags_end, uint8_t *out)
{
	const uint8_t *row[8];
	for (size_t i = 0; i < 8; i++) {
		row[i] = in + (i < n ? i : n - 1) * stride;
	}
	__m256i h[8], m[16], v[16];
	uint32_t lo[8], hi[8];
	for (int i = 0; i < 8; i++) {
		uint64_t c = counter + (inc ? (uint64_t)i : 0);
		lo[i] = (uint32_t)c;
		hi[i] = (uint32_t)(c >> 32);
	}
	const __m256i clo = _mm256_loadu_si256((const __m256i *)(void *)lo);
	const __m256i chi = _mm256_loadu_si256((const __m256i *)(void *)hi);
	for (int i = 0; i < 8; i++) {
		h[i] = _mm256_set1_epi32((int)key[i]);
	}
	for (size_t b = 0; b < blocks; b++) {
		for (int i = 0; i < 8; i++) {
			const uint8_t *p = row[i] + 64 * b;
			m[i] = _mm256_loadu_si256((const __m256i *)(const void *)p);
			m[8 + i] = _mm256_loadu_si256(
			    (const __m256i *)(const void *)(p + 32));
		}
		transpose8(m);
		transpose8(m + 8);
		uint8_t f = flags;
		f |= b == 0 ? flags_start : 0;
		f |= b + 1 == blocks ? flags_end : 0;
		for (int i = 0; i < 8; i++) {
			v[i] = h[i];
		}
		v[8] = _mm256_set1_epi32((int)iv[0]);
		v[9] = _mm256_set1_epi32((int)iv[1]);
		v[10] = _mm256_set1_epi32((int)iv[2]);
		v[11] = _mm256_set1_epi32((int)iv[3]);
		v[12] = clo;
		v[13] = chi;
		v[14] = _mm256_set1_epi32(64);
		v[15] = _mm256_set1_epi32(f);
		for (int r = 0; r < 7; r++) {
			const uint8_t *s = sched[r];
			G(0, 4, 8, 12, m[s[0]], m[s[1]]);
			G(1, 5, 9, 13, m[s[2]], m[s[3]]);
			G(2, 6, 10, 14, m[s[4]], m[s[5]]);
			G(3, 7, 11, 15, m[s[6]], m[s[7]]);
			G(0, 5, 10, 15, m[s[8]], m[s[9]]);
			G(1, 6, 11, 12, m[s[10]], m[s[11]]);
			G(2, 7, 8, 13, m[s[12]], m[s[13]]);
			G(3, 4, 9, 14, m[s[14]], m[s[15]]);
		}
		for (int i = 0; i < 8; i++) {
			h[i] = _mm256_xor_si256(v[i], v[i + 8]);
		}
	}
	transpose8(h);
	for (size_t i = 0; i < n; i++) {
		_mm256_storeu_si256((__m256i *)(void *)(out + 32 * i), h[i]);
	}
}

TARGET void
proto_b3_many_avx2(const uint8_t *in, size_t stride, size_t n, size_t blocks,
    const uint32_t key[8], uint64_t counter, bool inc_counter, uint8_t flags,
    uint8_t flags_start, uint8_t flags_end, uint8_t *out)
{
	for (; n >= 8; n -= 8) {
		hash8(in, stride, 8, blocks, key, counter, inc_counter, flags,
		    flags_start, flags_end, out);
		in += 8 * stride;
		out += 8 * 32;
		counter += inc_counter ? 8 : 0;
	}
	/* A full-width pass costs about as much as three inputs hashed
	 * one by one. */
	if (n > 2) {
		hash8(in, stride, n, blocks, key, counter, inc_counter, flags,
		    flags_start, flags_end, out);
	} else {
		proto_b3_many_portable(in, stride, n, blocks, key, counter,
		    inc_counter, flags, flags_start, flags_end, out);
	}
}

#endif
