/*
 * tests/protocol/blake3_test.c - BLAKE3 against the official test vectors
 * (tests/data/blake3/test_vectors.json, from the BLAKE3 repository: hash
 * and keyed_hash, 131 bytes of extended output each), every SIMD path
 * against the portable one (whole hashes under random update splits, and
 * the many-input primitive directly, across the 32-bit counter carry),
 * and against the b3sum command on random inputs of random lengths.
 *
 * The b3sum comparison runs RF_B3SUM_COUNT inputs (default 20000, a few
 * seconds; .ci/run asks for a million). Each batch of inputs is written
 * as files to a temporary directory and one b3sum call hashes them all.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/protocol_int.h"
#include "tests/testlib.h"

#define XOF_LEN 131

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rng(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void
fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		p[i] = (uint8_t)(rng() >> 56);
	}
}

static void
to_hex(const uint8_t *b, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Hashes p in pieces: whole when split is 0, else pieces of random sizes
 * below split. */
static void
b3(enum proto_b3_path path, const uint8_t *key, const uint8_t *p, size_t n,
    size_t split, uint8_t *out, size_t out_len)
{
	struct proto_blake3 s;
	proto_blake3_init(&s, key, path);
	if (split == 0) {
		proto_blake3_update(&s, p, n);
	} else {
		size_t at = 0;
		while (at < n) {
			size_t k = (size_t)(rng() % split);
			k = k < n - at ? k : n - at;
			proto_blake3_update(&s, p + at, k);
			at += k;
		}
	}
	proto_blake3_final(&s, out, out_len);
}

static const enum proto_b3_path all_paths[] = { PROTO_B3_PORTABLE,
	PROTO_B3_AVX2, PROTO_B3_AVX512 };

/* The next "name": "value" string after *at in json; NULL at the end. */
static const char *
json_string(const char **at, const char *name, char *out, size_t cap)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\": \"", name);
	const char *p = strstr(*at, pat);
	if (p == NULL) {
		return NULL;
	}
	p += strlen(pat);
	const char *e = strchr(p, '"');
	if (e == NULL || (size_t)(e - p) >= cap) {
		return NULL;
	}
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
	*at = e;
	return out;
}

static void
test_vectors(void)
{
	char path[512];
	size_t len;
	snprintf(path, sizeof(path), "%s/blake3/test_vectors.json",
	    test_data_dir());
	char *json = (char *)test_read_file(path, &len);
	CU_ASSERT_FATAL(json != NULL);
	char *js = malloc(len + 1);
	CU_ASSERT_FATAL(js != NULL);
	memcpy(js, json, len);
	js[len] = '\0';
	free(json);
	char key[64];
	const char *at = js;
	CU_ASSERT_FATAL(json_string(&at, "key", key, sizeof(key)) != NULL);
	CU_ASSERT_EQUAL_FATAL(strlen(key), 32);
	size_t cases = 0;
	uint8_t *input = malloc(102400);
	CU_ASSERT_FATAL(input != NULL);
	for (size_t i = 0; i < 102400; i++) {
		input[i] = (uint8_t)(i % 251);
	}
	for (;;) {
		const char *p = strstr(at, "\"input_len\": ");
		if (p == NULL) {
			break;
		}
		size_t n = strtoul(p + 13, NULL, 10);
		at = p + 13;
		char want_hash[2 * XOF_LEN + 1], want_keyed[2 * XOF_LEN + 1];
		CU_ASSERT_FATAL(json_string(&at, "hash", want_hash,
		    sizeof(want_hash)) != NULL);
		CU_ASSERT_FATAL(json_string(&at, "keyed_hash", want_keyed,
		    sizeof(want_keyed)) != NULL);
		CU_ASSERT_FATAL(n <= 102400);
		for (size_t k = 0; k < sizeof(all_paths) / sizeof(all_paths[0]);
		    k++) {
			if (!proto_b3_path_supported(all_paths[k])) {
				continue;
			}
			/* Whole, then in random pieces (which cross every
			 * chunk and block boundary differently). */
			for (size_t split = 0; split < 3000; split += 997) {
				uint8_t out[XOF_LEN];
				char hex[2 * XOF_LEN + 1];
				b3(all_paths[k], NULL, input, n, split, out,
				    XOF_LEN);
				to_hex(out, XOF_LEN, hex);
				CU_ASSERT_STRING_EQUAL(hex, want_hash);
				b3(all_paths[k], (const uint8_t *)key, input, n,
				    split, out, XOF_LEN);
				to_hex(out, XOF_LEN, hex);
				CU_ASSERT_STRING_EQUAL(hex, want_keyed);
				/* The default 32 bytes are the XOF's prefix. */
				b3(all_paths[k], NULL, input, n, split, out, 32);
				to_hex(out, 32, hex);
				CU_ASSERT(strncmp(hex, want_hash, 64) == 0);
			}
		}
		cases++;
	}
	printf("  %zu vectors\n", cases);
	CU_ASSERT_EQUAL(cases, 35);
	free(input);
	free(js);
}

/* Every path against the portable one, through the streaming API. */
static void
test_paths_agree(void)
{
	size_t cap = 600 * 1024;
	uint8_t *buf = malloc(cap);
	CU_ASSERT_FATAL(buf != NULL);
	fill_random(buf, cap);
	size_t compared = 0;
	for (int iter = 0; iter < 400; iter++) {
		/* Mostly around chunk and batch boundaries, some large. */
		size_t n;
		switch (iter % 4) {
		case 0:
			n = (size_t)(rng() % 4096);
			break;
		case 1:
			n = 1024 * (size_t)(rng() % 300) +
			    (size_t)(rng() % 3) - 1;
			n = n > cap ? 0 : n;
			break;
		case 2:
			n = (size_t)(rng() % cap);
			break;
		default:
			n = 128 * 1024 + (size_t)(rng() % 2048) - 1024;
			break;
		}
		const uint8_t *p = buf + rng() % (cap - n + 1);
		size_t split = iter % 3 == 0 ? 0 : 1 + (size_t)(rng() % 70000);
		uint64_t seed = rng_state;
		uint8_t want[64], got[64];
		b3(PROTO_B3_PORTABLE, NULL, p, n, 0, want, 64);
		for (size_t k = 1; k < sizeof(all_paths) / sizeof(all_paths[0]);
		    k++) {
			if (!proto_b3_path_supported(all_paths[k])) {
				continue;
			}
			rng_state = seed;
			b3(all_paths[k], NULL, p, n, split, got, 64);
			CU_ASSERT(memcmp(want, got, 64) == 0);
			compared++;
		}
	}
	printf("  %zu comparisons\n", compared);
	free(buf);
}

/* The many-input primitive itself: every count of inputs (the SIMD
 * batches and their remainders), chunk and parent shapes, and counters
 * that carry into the high word inside a batch. */
static void
test_many_direct(void)
{
	static uint8_t in[40 * 1024];
	fill_random(in, sizeof(in));
	uint32_t key[8];
	for (int i = 0; i < 8; i++) {
		key[i] = (uint32_t)rng();
	}
	static const uint64_t counters[] = { 0, 5, 0xFFFFFFF9ull,
		0x1FFFFFFFEull };
	for (size_t n = 0; n <= 37; n++) {
		for (size_t c = 0; c < 4; c++) {
			for (int shape = 0; shape < 2; shape++) {
				size_t blocks = shape ? 1 : 16;
				size_t stride = shape ? 64 : 1024;
				uint8_t want[37 * 32], got[37 * 32];
				proto_b3_many_portable(in, stride, n, blocks, key,
				    counters[c], shape == 0, (uint8_t)(16 * shape),
				    1, 2, want);
				for (size_t k = 1; k < 3; k++) {
					if (!proto_b3_path_supported(all_paths[k])) {
						continue;
					}
					memset(got, 0, sizeof(got));
					(k == 1 ? proto_b3_many_avx2 :
					    proto_b3_many_avx512)(in, stride, n,
					    blocks, key, counters[c], shape == 0,
					    (uint8_t)(16 * shape), 1, 2, got);
					CU_ASSERT(memcmp(want, got, n * 32) == 0);
				}
			}
		}
	}
	/* The counter carry really changes the result. */
	uint8_t a[32], b[32];
	proto_b3_many_portable(in, 1024, 1, 16, key, 0xFFFFFFFFull, true, 0, 1,
	    2, a);
	proto_b3_many_portable(in, 1024, 1, 16, key, 0x1FFFFFFFFull, true, 0,
	    1, 2, b);
	CU_ASSERT(memcmp(a, b, 32) != 0);
}

/* RF_BLAKE3_PATH caps the path; one the CPU cannot run falls back to the
 * best below it; unknown names are ignored (each checked in a child, the
 * choice being made once per process). The refute binary gives one trace
 * root on every path. */
static void
test_path_choice(void)
{
	enum proto_b3_path best = PROTO_B3_PORTABLE;
	for (size_t k = 0; k < 3; k++) {
		if (proto_b3_path_supported(all_paths[k])) {
			best = all_paths[k];
		}
	}
	CU_ASSERT_EQUAL(proto_b3_path_default(), best);
	printf("  best path here: %s\n", proto_b3_path_name(best));
	static const char *const want[] = { "portable", "avx2", "avx512", "sse9",
		"" };
	char out[4096], first[4096] = "";
	for (size_t k = 0; k < 5; k++) {
		int rc = test_shell(out, sizeof(out), "/", 0,
		    "RF_BLAKE3_PATH=%s /proc/%d/exe --print-path", want[k],
		    (int)getpid());
		CU_ASSERT_EQUAL(rc, 0);
		const char *expect = proto_b3_path_name(best);
		if (k < 3 && all_paths[k] < best) {
			expect = want[k];
		}
		CU_ASSERT(strncmp(out, expect, strlen(expect)) == 0 &&
		    out[strlen(expect)] == '\n');
	}
	char dir[] = "/tmp/rf_b3path_XXXXXX";
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	CU_ASSERT_EQUAL_FATAL(test_shell(out, sizeof(out), dir, 1, "%s model "
	    "gen cnn --seed 4 -o m.rfm", test_refute()), 0);
	for (size_t k = 0; k < 3; k++) {
		CU_ASSERT_EQUAL(test_shell(out, sizeof(out), dir, 1,
		    "RF_BLAKE3_PATH=%s %s model run m.rfm --seed 1 --trace",
		    want[k], test_refute()), 0);
		const char *root = strstr(out, "trace root ");
		CU_ASSERT_FATAL(root != NULL);
		CU_ASSERT(strstr(root, "(blake3-256, ") != NULL);
		if (k == 0) {
			snprintf(first, sizeof(first), "%s", root);
		} else {
			CU_ASSERT_STRING_EQUAL(root, first);
		}
	}
	test_shell(out, sizeof(out), dir, 1, "rm -f m.rfm");
	rmdir(dir);
}

static size_t
b3sum_count(void)
{
	const char *s = getenv("RF_B3SUM_COUNT");
	if (s != NULL && atol(s) > 0) {
		return (size_t)atol(s);
	}
	return 20000;
}

/* A random length: every size up to a few chunks is common, larger ones
 * (up to 200 KiB, past a whole batch of chunks) rare. */
static size_t
random_len(void)
{
	uint64_t r = rng();
	switch (r % 64) {
	case 0:
		return (size_t)((r >> 8) % (200 * 1024));
	case 1:
	case 2:
	case 3:
	case 4:
		return (size_t)((r >> 8) % (16 * 1024));
	default:
		return (size_t)((r >> 8) % 2200);
	}
}

#define BATCH 10000

static void
test_b3sum(void)
{
	char out[128];
	if (test_shell(out, sizeof(out), "/", 1, "b3sum --version") != 0) {
		CU_FAIL("b3sum is missing: apt-get install b3sum (mk/deps.sh)");
		return;
	}
	/* tmpfs when there is one: the files never need to reach a disk. */
	char shm[] = "/dev/shm/rf_b3sum_XXXXXX", tmp[] = "/tmp/rf_b3sum_XXXXXX";
	const char *dir = mkdtemp(shm);
	dir = dir != NULL ? dir : mkdtemp(tmp);
	CU_ASSERT_FATAL(dir != NULL);
	size_t total = b3sum_count();
	size_t cap = 200 * 1024;
	uint8_t *buf = malloc(cap);
	char *lines = malloc((size_t)BATCH * 65 + 1024);
	uint8_t(*want)[32] = malloc((size_t)BATCH * 32);
	CU_ASSERT_FATAL(buf != NULL && lines != NULL && want != NULL);
	size_t done = 0, bad = 0, bytes = 0;
	while (done < total) {
		size_t n = total - done < BATCH ? total - done : BATCH;
		for (size_t i = 0; i < n; i++) {
			size_t len = random_len();
			fill_random(buf, len);
			char path[64];
			snprintf(path, sizeof(path), "%s/%05zu", dir, i);
			FILE *f = fopen(path, "wb");
			CU_ASSERT_FATAL(f != NULL);
			CU_ASSERT_FATAL(fwrite(buf, 1, len, f) == len);
			CU_ASSERT_FATAL(fclose(f) == 0);
			struct proto_blake3 s;
			proto_blake3_init(&s, NULL, proto_b3_path_default());
			proto_blake3_update(&s, buf, len);
			proto_blake3_final(&s, want[i], 32);
			bytes += len;
		}
		/* The names sort in the order they were written. */
		int rc = test_shell(lines, (size_t)BATCH * 65 + 1024, dir, 0,
		    "b3sum --no-names --num-threads 1 [0-9]*");
		CU_ASSERT_EQUAL_FATAL(rc, 0);
		const char *l = lines;
		for (size_t i = 0; i < n; i++) {
			char hex[65];
			to_hex(want[i], 32, hex);
			if (strncmp(l, hex, 64) != 0 || l[64] != '\n') {
				if (bad++ < 5) {
					printf("  input %zu: b3sum %.64s, ours %s\n",
					    done + i, l, hex);
				}
				CU_FAIL("a hash differs from b3sum");
				break;
			}
			l += 65;
		}
		CU_ASSERT_EQUAL(*l, '\0');
		for (size_t i = 0; i < n; i++) {
			char path[64];
			snprintf(path, sizeof(path), "%s/%05zu", dir, i);
			unlink(path);
		}
		done += n;
	}
	rmdir(dir);
	printf("  %zu inputs (%zu bytes) agree with b3sum on path %s\n", done,
	    bytes, proto_b3_path_name(proto_b3_path_default()));
	CU_ASSERT_EQUAL(bad, 0);
	free(buf);
	free(lines);
	free(want);
}

int
main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--print-path") == 0) {
		printf("%s\n", proto_b3_path_name(proto_b3_path_default()));
		return 0;
	}
	CU_TestInfo tests[] = {
		{ "official test vectors, every path", test_vectors },
		{ "every path agrees with the portable one", test_paths_agree },
		{ "the many-input primitive, every path", test_many_direct },
		{ "RF_BLAKE3_PATH and one root on every path", test_path_choice },
		{ "random inputs against b3sum", test_b3sum },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "blake3", NULL, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
