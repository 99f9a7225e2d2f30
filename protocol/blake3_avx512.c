/*
 * protocol/blake3_avx512.c - BLAKE3 on sixteen inputs at once with
 * AVX-512F: one 32-bit lane per input, the 16 state words in 16 registers,
 * rotations in one instruction. A whole 64-byte block of each input is one
 * row of a 16x16 transpose; the sixteen chaining values come out through
 * the same transpose. Built with a target attribute; the caller
 * (protocol/blake3.c) runs it only when the CPU has AVX-512F.
 */
#include <string.h>

#include "protocol/protocol_int.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f")))

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

#define ADD(a, b) _mm512_add_epi32((a), (b))
#define XOR(a, b) _mm512_xor_si512((a), (b))
#define ROR(x, n) _mm512_ror_epi32((x), (n))

#define G(a, b, c, d, x, y)                                                  \
	do {                                                                 \
		v[a] = ADD(ADD(v[a], v[b]), (x));                            \
		v[d] = ROR(XOR(v[d], v[a]), 16);                             \
		v[c] = ADD(v[c], v[d]);                                      \
		v[b] = ROR(XOR(v[b], v[c]), 12);                             \
		v[a] = ADD(ADD(v[a], v[b]), (y));                            \
		v[d] = ROR(XOR(v[d], v[a]), 8);                              \
		v[c] = ADD(v[c], v[d]);                                      \
		v[b] = ROR(XOR(v[b], v[c]), 7);                              \
	} while (0)

/* r[i] word w -> r[w] word i, in place. */
TARGET static inline void
transpose16(__m512i r[16])
{
	/* u[4 j + k]: in 128-bit lane L, word 4 L + k of rows 4 j .. 4 j + 3. */
	__m512i u[16];
	for (int j = 0; j < 4; j++) {
		__m512i t0 = _mm512_unpacklo_epi32(r[4 * j], r[4 * j + 1]);
		__m512i t1 = _mm512_unpackhi_epi32(r[4 * j], r[4 * j + 1]);
		__m512i t2 = _mm512_unpacklo_epi32(r[4 * j + 2], r[4 * j + 3]);
		__m512i t3 = _mm512_unpackhi_epi32(r[4 * j + 2], r[4 * j + 3]);
		u[4 * j] = _mm512_unpacklo_epi64(t0, t2);
		u[4 * j + 1] = _mm512_unpackhi_epi64(t0, t2);
		u[4 * j + 2] = _mm512_unpacklo_epi64(t1, t3);
		u[4 * j + 3] = _mm512_unpackhi_epi64(t1, t3);
	}
	/* A 4x4 transpose of 128-bit lanes for each k. */
	for (int k = 0; k < 4; k++) {
		__m512i p0 = _mm512_shuffle_i32x4(u[k], u[4 + k], 0x44);
		__m512i p1 = _mm512_shuffle_i32x4(u[k], u[4 + k], 0xEE);
		__m512i p2 = _mm512_shuffle_i32x4(u[8 + k], u[12 + k], 0x44);
		__m512i p3 = _mm512_shuffle_i32x4(u[8 + k], u[12 + k], 0xEE);
		r[k] = _mm512_shuffle_i32x4(p0, p2, 0x88);
		r[4 + k] = _mm512_shuffle_i32x4(p0, p2, 0xDD);
		r[8 + k] = _mm512_shuffle_i32x4(p1, p3, 0x88);
		r[12 + k] = _mm512_shuffle_i32x4(p1, p3, 0xDD);
	}
}

/* Inputs 0..n-1 (n <= 16); idle lanes re-read the last input and their
 * results are dropped. */
TARGET static void
hash16(const uint8_t *in, size_t stride, size_t n, size_t blocks,
    const uint32_t key[8], uint64_t counter, bool inc, uint8_t flags,
    uint8_t flags_start, uint8_t flags_end, uint8_t *out)
{
	const uint8_t *row[16];
	for (size_t i = 0; i < 16; i++) {
		row[i] = in + (i < n ? i : n - 1) * stride;
	}
	__m512i h[16], m[16], v[16];
	uint32_t lo[16], hi[16];
	for (int i = 0; i < 16; i++) {
		uint64_t c = counter + (inc ? (uint64_t)i : 0);
		lo[i] = (uint32_t)c;
		hi[i] = (uint32_t)(c >> 32);
	}
	const __m512i clo = _mm512_loadu_si512(lo);
	const __m512i chi = _mm512_loadu_si512(hi);
	for (int i = 0; i < 8; i++) {
		h[i] = _mm512_set1_epi32((int)key[i]);
	}
	for (size_t b = 0; b < blocks; b++) {
		for (int i = 0; i < 16; i++) {
			m[i] = _mm512_loadu_si512(row[i] + 64 * b);
		}
		transpose16(m);
		uint8_t f = flags;
		f |= b == 0 ? flags_start : 0;
		f |= b + 1 == blocks ? flags_end : 0;
		for (int i = 0; i < 8; i++) {
			v[i] = h[i];
		}
		v[8] = _mm512_set1_epi32((int)iv[0]);
		v[9] = _mm512_set1_epi32((int)iv[1]);
		v[10] = _mm512_set1_epi32((int)iv[2]);
		v[11] = _mm512_set1_epi32((int)iv[3]);
		v[12] = clo;
		v[13] = chi;
		v[14] = _mm512_set1_epi32(64);
		v[15] = _mm512_set1_epi32(f);
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
			h[i] = XOR(v[i], v[i + 8]);
		}
	}
	/* Rows 8..15 are padding: row i of the result is then input i's
	 * chaining value in its low 256 bits. */
	for (int i = 8; i < 16; i++) {
		h[i] = _mm512_setzero_si512();
	}
	transpose16(h);
	for (size_t i = 0; i < n; i++) {
		_mm256_storeu_si256((__m256i *)(void *)(out + 32 * i),
		    _mm512_castsi512_si256(h[i]));
	}
}

TARGET void
proto_b3_many_avx512(const uint8_t *in, size_t stride, size_t n,
    size_t blocks, const uint32_t key[8], uint64_t counter, bool inc_counter,
    uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out)
{
	for (; n >= 16; n -= 16) {
		hash16(in, stride, 16, blocks, key, counter, inc_counter, flags,
		    flags_start, flags_end, out);
		in += 16 * stride;
		out += 16 * 32;
		counter += inc_counter ? 16 : 0;
	}
	/* The rest at the narrowest width that holds it. */
	if (n > 8) {
		hash16(in, stride, n, blocks, key, counter, inc_counter, flags,
		    flags_start, flags_end, out);
	} else {
		proto_b3_many_avx2(in, stride, n, blocks, key, counter,
		    inc_counter, flags, flags_start, flags_end, out);
	}
}

#endif
