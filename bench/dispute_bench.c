/*
 * bench/dispute_bench.c - end-to-end dispute time on loopback: a real
 * network (`bin/refute devnet`: a referee, an executor that lies at the
 * first operator, an honest executor and a challenger, all separate
 * processes) on deep MLPs of 10, 100 and 1000 operators. A lie at the
 * first operator takes the longest bisection path, ceil(log2 N) rounds.
 * The time is the referee's own: from the event that opened the dispute
 * to the one that closed it (both sides answer each round at once, as
 * soon as they see it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define OUT_MAX (4 << 20)

static const char *
after(const char *from, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(from, pat);
	return p != NULL ? p + strlen(pat) : NULL;
}

static int
cmp_u64(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a;
	unsigned long long y = *(const unsigned long long *)b;
	return x < y ? -1 : x > y;
}

static int
run(const char *refute, const char *dir, int ops, char *out)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "%s model gen mlp --ops %d --hidden 64 "
	    "--in 64 --batch 8 -o %s/mlp-%d.rfm >/dev/null && %s devnet "
	    "--executors 2 --challengers 1 --jobs 12 --faulty 1 --fault lie-at-op "
	    "--fault-op 0 --window-ms 3000 --clock-ms 20000 --model-file "
	    "%s/mlp-%d.rfm --dir %s/dn-%d --json 2>/dev/null", refute, ops, dir,
	    ops, refute, dir, ops, dir, ops);
	FILE *p = popen(cmd, "r");
	if (p == NULL) {
		return -1;
	}
	size_t n = 0, r;
	while (n < OUT_MAX - 1 && (r = fread(out + n, 1, OUT_MAX - 1 - n,
	    p)) > 0) {
		n += r;
	}
	out[n] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int
main(void)
{
	const char *refute = getenv("RF_REFUTE");
	if (refute == NULL) {
		refute = "bin/refute";
	}
	if (access(refute, X_OK) != 0) {
		fprintf(stderr, "dispute_bench: no %s (run make first)\n", refute);
		return 1;
	}
	char dir[] = "/tmp/rf-dispute-bench-XXXXXX";
	char *out = malloc(OUT_MAX);
	if (out == NULL || mkdtemp(dir) == NULL) {
		return 1;
	}
	printf("End-to-end dispute on loopback (referee, executors and "
	    "challenger as processes;\nlie at the first operator: the longest "
	    "path), time from DISPUTE_OPENED to the verdict.\n\n");
	printf("%6s %9s %7s %10s %10s %10s\n", "ops", "disputes", "rounds",
	    "median ms", "max ms", "verdicts ok");
	static const int sizes[] = { 10, 100, 1000 };
	int status = 0;
	for (size_t s = 0; s < 3; s++) {
		int rc = run(refute, dir, sizes[s], out);
		unsigned long long dur[4096];
		size_t n = 0;
		unsigned rounds = 0, ok = 0;
		for (const char *p = strstr(out, "{\"dispute_id\""); p != NULL &&
		    n < 4096; p = strstr(p + 1, "{\"dispute_id\"")) {
			const char *w = after(p, "winner");
			const char *d = after(p, "duration_ms");
			const char *r = after(p, "rounds");
			const char *op = after(p, "op");
			if (w == NULL || d == NULL || r == NULL || op == NULL) {
				break;
			}
			dur[n++] = strtoull(d, NULL, 10);
			rounds = (unsigned)strtoul(r, NULL, 10);
			ok += strncmp(w, "\"challenger\"", 12) == 0 &&
			    strtoul(op, NULL, 10) == 0;
		}
		if (rc != 0 || n == 0) {
			printf("%6d  devnet failed (exit %d)\n", sizes[s], rc);
			status = 1;
			continue;
		}
		qsort(dur, n, sizeof(dur[0]), cmp_u64);
		printf("%6d %9zu %7u %10llu %10llu %7u/%zu\n", sizes[s], n, rounds,
		    dur[n / 2], dur[n - 1], ok, n);
		status |= ok != n;
	}
	printf("\nSeveral disputes run at once (one per lying claim), on two "
	    "cores shared by\nfour processes; the median is the typical "
	    "dispute, the max the last of a burst.\n");
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0) {
		status = 1;
	}
	free(out);
	return status;
}
