/*
 * protocol/blake3.c - BLAKE3 (O'Connor, Aumasson, Neves, Wilcox-O'Hearn,
 * "BLAKE3: one function, fast everywhere", 2020), written from the
 * specification: the compression function, chunks of 1024 bytes chained
 * block by block, a binary tree of parent nodes over the chunks' chaining
 * values, the root flagged ROOT and extended to any output length.
 *
 * Speed comes from hashing many chunks (and many parents) at once, one per
 * SIMD lane (protocol/blake3_avx2.c, protocol/blake3_avx512.c); this file
 * holds the portable code every path must match bit for bit, the streaming
 * state and the choice of path.
 *
 * The tree is fixed by the specification: the left subtree of any node
 * holds the largest power-of-two number of chunks that leaves at least one
 * byte for the right. Hashing power-of-two runs of chunks aligned on their
 * size (complete subtrees) and merging them on a stack therefore builds
 * exactly that tree, whatever the sizes of the updates. A batch of up to
 * MAX_BATCH chunks is one wide pass over its chunks, then one wide pass
 * per level over the parents of all its subtrees together.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/protocol_int.h"

enum {
	CHUNK_START = 1 << 0,
	CHUNK_END = 1 << 1,
	PARENT = 1 << 2,
	ROOT = 1 << 3,
	KEYED_HASH = 1 << 4,
};

/* Chunks hashed in one batch at most: their chaining values and parent
 * blocks sit on the stack (96 bytes a chunk). */
#define MAX_BATCH 64

static const uint32_t iv[8] = {
	0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u, 0xA54FF53Au,
	0x510E527Fu, 0x9B05688Cu, 0x1F83D9ABu, 0x5BE0CD19u,
};

/* Message word order of each round: round r + 1 applies the permutation
 * (2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8) to round r. */
static const uint8_t sched[7][16] = {
	{ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
	{ 2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8 },
	{ 3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1 },
	{ 10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6 },
	{ 12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4 },
	{ 9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7 },
	{ 11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13 },
};

static inline uint32_t
load32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static inline void
store32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t
rotr(uint32_t x, int n)
{
	return (x >> n) | (x << (32 - n));
}

#define G(a, b, c, d, x, y)                                                  \
	do {                                                                 \
		v[a] = v[a] + v[b] + (x);                                    \
		v[d] = rotr(v[d] ^ v[a], 16);                                \
		v[c] = v[c] + v[d];                                          \
		v[b] = rotr(v[b] ^ v[c], 12);                                \
		v[a] = v[a] + v[b] + (y);                                    \
		v[d] = rotr(v[d] ^ v[a], 8);                                 \
		v[c] = v[c] + v[d];                                          \
		v[b] = rotr(v[b] ^ v[c], 7);                                 \
	} while (0)

void
proto_b3_compress(const uint32_t cv[8], const uint8_t block[64],
    uint8_t block_len, uint64_t counter, uint8_t flags, uint32_t out[16])
{
	uint32_t m[16], v[16];
	for (int i = 0; i < 16; i++) {
		m[i] = load32(block + 4 * i);
	}
	for (int i = 0; i < 8; i++) {
		v[i] = cv[i];
	}
	v[8] = iv[0];
	v[9] = iv[1];
	v[10] = iv[2];
	v[11] = iv[3];
	v[12] = (uint32_t)counter;
	v[13] = (uint32_t)(counter >> 32);
	v[14] = block_len;
	v[15] = flags;
	/* Unrolled, the schedule's indices become constants. */
#if defined(__clang__)
#pragma clang loop unroll(full)
#elif defined(__GNUC__)
#pragma GCC unroll 7
#endif
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
		out[i] = v[i] ^ v[i + 8];
		out[i + 8] = v[i + 8] ^ cv[i];
	}
}

void
proto_b3_many_portable(const uint8_t *in, size_t stride, size_t n,
    size_t blocks, const uint32_t key[8], uint64_t counter, bool inc_counter,
    uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t cv[8], o[16];
		memcpy(cv, key, sizeof(cv));
		const uint8_t *p = in + i * stride;
		for (size_t b = 0; b < blocks; b++) {
			uint8_t f = flags;
			f |= b == 0 ? flags_start : 0;
			f |= b + 1 == blocks ? flags_end : 0;
			proto_b3_compress(cv, p + 64 * b, 64,
			    counter + (inc_counter ? i : 0), f, o);
			memcpy(cv, o, sizeof(cv));
		}
		for (int w = 0; w < 8; w++) {
			store32(out + 32 * i + 4 * w, cv[w]);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Choosing a path                                                      */
/* ------------------------------------------------------------------ */

static const char *const path_names[PROTO_B3_NPATHS] = { "portable", "avx2",
	"avx512" };

static proto_b3_many_fn *const path_fns[PROTO_B3_NPATHS] = {
	proto_b3_many_portable,
#if defined(__x86_64__)
	proto_b3_many_avx2,
	proto_b3_many_avx512,
#else
	proto_b3_many_portable,
	proto_b3_many_portable,
#endif
};

const char *
proto_b3_path_name(enum proto_b3_path p)
{
	return (unsigned)p < PROTO_B3_NPATHS ? path_names[p] : "?";
}

bool
proto_b3_path_supported(enum proto_b3_path p)
{
	switch (p) {
	case PROTO_B3_PORTABLE:
		return true;
#if defined(__x86_64__)
	case PROTO_B3_AVX2:
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx2");
	case PROTO_B3_AVX512:
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx512f");
#else
	default:
		break;
#endif
	}
	return false;
}

/* -1 until the first call decides; racing first calls compute the same
 * answer, so relaxed order is enough. */
static _Atomic int path_chosen = -1;

enum proto_b3_path
proto_b3_path_default(void)
{
	int p = atomic_load_explicit(&path_chosen, memory_order_relaxed);
	if (p >= 0) {
		return (enum proto_b3_path)p;
	}
	int best = PROTO_B3_PORTABLE;
	for (int i = PROTO_B3_NPATHS - 1; i > 0; i--) {
		if (proto_b3_path_supported((enum proto_b3_path)i)) {
			best = i;
			break;
		}
	}
	p = best;
	const char *want = getenv("RF_BLAKE3_PATH");
	for (int i = 0; want != NULL && i < PROTO_B3_NPATHS; i++) {
		if (strcmp(want, path_names[i]) == 0) {
			/* Never more than the CPU has: that would be SIGILL. */
			p = i < best ? i : best;
		}
	}
	atomic_store_explicit(&path_chosen, p, memory_order_relaxed);
	return (enum proto_b3_path)p;
}

/* ------------------------------------------------------------------ */
/* Streaming state                                                      */
/* ------------------------------------------------------------------ */

void
proto_blake3_init(struct proto_blake3 *s, const uint8_t *key,
    enum proto_b3_path path)
{
	if (key != NULL) {
		for (int i = 0; i < 8; i++) {
			s->key[i] = load32(key + 4 * i);
		}
		s->flags = KEYED_HASH;
	} else {
		memcpy(s->key, iv, sizeof(s->key));
		s->flags = 0;
	}
	memcpy(s->cv, s->key, sizeof(s->cv));
	s->chunk_counter = 0;
	if (path != proto_b3_path_default() &&
	    ((unsigned)path >= PROTO_B3_NPATHS ||
	    !proto_b3_path_supported(path))) {
		path = PROTO_B3_PORTABLE;
	}
	s->many = path_fns[path];
	s->buf_len = 0;
	s->blocks_done = 0;
	s->stack_len = 0;
}

static void
words_to_bytes(const uint32_t w[8], uint8_t out[32])
{
	for (int i = 0; i < 8; i++) {
		store32(out + 4 * i, w[i]);
	}
}

/* The chaining value of the parent of two 32-byte children. */
static void
parent_cv(const struct proto_blake3 *s, const uint8_t *l, const uint8_t *r,
    uint8_t out[32])
{
	uint8_t block[64];
	uint32_t o[16];
	memcpy(block, l, 32);
	memcpy(block + 32, r, 32);
	proto_b3_compress(s->key, block, 64, 0, s->flags | PARENT, o);
	words_to_bytes(o, out);
}

/*
 * Pushes the chaining value of `size` chunks (a power of two) that end at
 * chunk index `end` (exclusive; end is a multiple of size) and merges
 * siblings while the subtree just completed has one. Eager merging is
 * safe: a subtree is pushed only when more input follows, so no merged
 * node can be the root.
 */
static void
push_subtree(struct proto_blake3 *s, const uint8_t cv[32], uint64_t size,
    uint64_t end)
{
	memcpy(s->stack[s->stack_len++], cv, 32);
	while ((end & size) == 0) {
		s->stack_len--;
		parent_cv(s, s->stack[s->stack_len - 1], s->stack[s->stack_len],
		    s->stack[s->stack_len - 1]);
		size <<= 1;
	}
}

/*
 * Hashes k whole chunks (1..MAX_BATCH) at the chunk boundary, none of
 * them the last of the input: every chunk with the wide path, then the
 * complete subtrees the chunks split into (aligned powers of two, largest
 * first where alignment allows), level by level, with every subtree's
 * parents of a level in one wide call; pushes the subtrees in order.
 */
static void
batch(struct proto_blake3 *s, const uint8_t *p, size_t k)
{
	uint8_t cvs[MAX_BATCH * 32], pairs[MAX_BATCH / 2 * 64];
	struct {
		size_t off, size, full;
	} t[16];
	size_t nt = 0;
	s->many(p, PROTO_B3_CHUNK, k, PROTO_B3_CHUNK / PROTO_B3_BLOCK, s->key,
	    s->chunk_counter, true, s->flags, CHUNK_START, CHUNK_END, cvs);
	uint64_t c = s->chunk_counter;
	for (size_t off = 0; off < k;) {
		size_t size = MAX_BATCH;
		while (size > k - off || (c & (size - 1)) != 0) {
			size /= 2;
		}
		t[nt].off = off;
		t[nt].size = t[nt].full = size;
		nt++;
		off += size;
		c += size;
	}
	for (;;) {
		/* A parent's block is its two children side by side. */
		size_t np = 0;
		for (size_t i = 0; i < nt; i++) {
			size_t half = t[i].size / 2;
			memcpy(pairs + 64 * np, cvs + 32 * t[i].off, 64 * half);
			np += half;
		}
		if (np == 0) {
			break;
		}
		s->many(pairs, 64, np, 1, s->key, 0, false, s->flags | PARENT, 0,
		    0, pairs);
		np = 0;
		for (size_t i = 0; i < nt; i++) {
			size_t half = t[i].size / 2;
			memcpy(cvs + 32 * t[i].off, pairs + 32 * np, 32 * half);
			np += half;
			t[i].size = half > 0 ? half : 1;
		}
	}
	for (size_t i = 0; i < nt; i++) {
		s->chunk_counter += t[i].full;
		push_subtree(s, cvs + 32 * t[i].off, t[i].full, s->chunk_counter);
	}
}

static size_t
chunk_len(const struct proto_blake3 *s)
{
	return (size_t)s->blocks_done * PROTO_B3_BLOCK + s->buf_len;
}

/* Adds n bytes (no more than the chunk has room for) to the chunk being
 * filled. A full block stays buffered until more bytes arrive: the last
 * block of a chunk carries CHUNK_END. */
static void
chunk_update(struct proto_blake3 *s, const uint8_t *p, size_t n)
{
	uint32_t o[16];
	while (n > 0) {
		if (s->buf_len == PROTO_B3_BLOCK) {
			proto_b3_compress(s->cv, s->buf, PROTO_B3_BLOCK,
			    s->chunk_counter, s->flags |
			    (s->blocks_done == 0 ? CHUNK_START : 0), o);
			memcpy(s->cv, o, sizeof(s->cv));
			s->blocks_done++;
			s->buf_len = 0;
		}
		if (s->buf_len == 0) {
			/* Whole blocks straight from the input, keeping the
			 * last one (it may end the chunk). */
			while (n > PROTO_B3_BLOCK) {
				proto_b3_compress(s->cv, p, PROTO_B3_BLOCK,
				    s->chunk_counter, s->flags |
				    (s->blocks_done == 0 ? CHUNK_START : 0), o);
				memcpy(s->cv, o, sizeof(s->cv));
				s->blocks_done++;
				p += PROTO_B3_BLOCK;
				n -= PROTO_B3_BLOCK;
			}
		}
		size_t take = PROTO_B3_BLOCK - s->buf_len;
		take = take < n ? take : n;
		memcpy(s->buf + s->buf_len, p, take);
		s->buf_len = (uint8_t)(s->buf_len + take);
		p += take;
		n -= take;
	}
}

/* The arguments of a final compression, kept so the root can be
 * extended to any length. */
struct b3_output {
	uint32_t cv[8];
	uint8_t block[64];
	uint8_t block_len;
	uint64_t counter;
	uint8_t flags;
};

static void
chunk_output(const struct proto_blake3 *s, struct b3_output *o)
{
	memcpy(o->cv, s->cv, sizeof(o->cv));
	memset(o->block, 0, sizeof(o->block));
	memcpy(o->block, s->buf, s->buf_len);
	o->block_len = s->buf_len;
	o->counter = s->chunk_counter;
	o->flags = (uint8_t)(s->flags | CHUNK_END |
	    (s->blocks_done == 0 ? CHUNK_START : 0));
}

void
proto_blake3_update(struct proto_blake3 *s, const void *data, size_t n)
{
	const uint8_t *p = data;
	while (n > 0) {
		size_t have = chunk_len(s);
		if (have == PROTO_B3_CHUNK) {
			/* More input: the full chunk is not the last one. */
			struct b3_output o;
			uint32_t w[16];
			uint8_t cv[32];
			chunk_output(s, &o);
			proto_b3_compress(o.cv, o.block, o.block_len, o.counter,
			    o.flags, w);
			words_to_bytes(w, cv);
			s->chunk_counter++;
			push_subtree(s, cv, 1, s->chunk_counter);
			memcpy(s->cv, s->key, sizeof(s->cv));
			s->blocks_done = 0;
			s->buf_len = 0;
			continue;
		}
		if (have > 0 || n <= PROTO_B3_CHUNK) {
			size_t take = PROTO_B3_CHUNK - have;
			take = take < n ? take : n;
			chunk_update(s, p, take);
			p += take;
			n -= take;
			continue;
		}
		/* At a chunk boundary with more than a chunk left: every whole
		 * chunk that leaves a byte over, up to the next multiple of
		 * MAX_BATCH chunks (so batches stay whole subtrees). */
		uint64_t whole = (n - 1) / PROTO_B3_CHUNK;
		uint64_t room = MAX_BATCH - (s->chunk_counter % MAX_BATCH);
		size_t k = (size_t)(whole < room ? whole : room);
		batch(s, p, k);
		p += k * PROTO_B3_CHUNK;
		n -= k * PROTO_B3_CHUNK;
	}
}

void
proto_blake3_final(const struct proto_blake3 *s, uint8_t *out,
    size_t out_len)
{
	struct b3_output o;
	chunk_output(s, &o);
	/* The pending subtrees, right to left, above the last chunk. */
	for (size_t i = s->stack_len; i > 0; i--) {
		uint32_t w[16];
		proto_b3_compress(o.cv, o.block, o.block_len, o.counter, o.flags,
		    w);
		memcpy(o.block, s->stack[i - 1], 32);
		words_to_bytes(w, o.block + 32);
		memcpy(o.cv, s->key, sizeof(o.cv));
		o.block_len = 64;
		o.counter = 0;
		o.flags = (uint8_t)(s->flags | PARENT);
	}
	/* The root: output block t is compressed with counter t. */
	for (uint64_t t = 0; out_len > 0; t++) {
		uint32_t w[16];
		uint8_t b[64];
		proto_b3_compress(o.cv, o.block, o.block_len, t, o.flags | ROOT,
		    w);
		for (int i = 0; i < 16; i++) {
			store32(b + 4 * i, w[i]);
		}
		size_t take = out_len < 64 ? out_len : 64;
		memcpy(out, b, take);
		out += take;
		out_len -= take;
	}
}
