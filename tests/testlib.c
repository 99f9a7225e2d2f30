/* tests/testlib.c - shared CUnit runner and helpers. */
#include "tests/testlib.h"

#include "base/rf.h"

#include <CUnit/Basic.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int
test_main(CU_SuiteInfo *suites)
{
	if (CU_initialize_registry() != CUE_SUCCESS) {
		fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
		return 2;
	}
	if (CU_register_suites(suites) != CUE_SUCCESS) {
		fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	/* CU_basic_run_tests reports framework errors only, and cleanup
	 * resets the counters: read the failures first. */
	unsigned failures = CU_get_number_of_failures();
	unsigned errors = CU_get_error() != CUE_SUCCESS;
	CU_cleanup_registry();
	return (failures != 0 || errors != 0) ? 1 : 0;
}

uint8_t *
test_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		return NULL;
	}
	uint8_t *buf = NULL;
	size_t cap = 0;
	size_t n = 0;
	for (;;) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			uint8_t *nb = realloc(buf, ncap);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
			cap = ncap;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0) {
			break;
		}
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

const char *
test_data_dir(void)
{
	const char *d = getenv("RF_TEST_DATA");
	return d != NULL ? d : "tests/data";
}

/* ------------------------------------------------------------------ */
/* Processes                                                            */
/* ------------------------------------------------------------------ */

#define MAX_CHILDREN 64

static pid_t children[MAX_CHILDREN];

const char *
test_refute(void)
{
	static char path[4096];
	if (path[0] != '\0') {
		return path;
	}
	const char *r = getenv("RF_REFUTE");
	if (r == NULL) {
		r = "bin/refute";
	}
	if (r[0] == '/' || realpath(r, path) == NULL) {
		snprintf(path, sizeof(path), "%s", r);
	}
	return path;
}

static void
remember(pid_t pid)
{
	for (int i = 0; i < MAX_CHILDREN; i++) {
		if (children[i] == 0) {
			children[i] = pid;
			return;
		}
	}
}

static void
forget(pid_t pid)
{
	for (int i = 0; i < MAX_CHILDREN; i++) {
		if (children[i] == pid) {
			children[i] = 0;
		}
	}
}

pid_t
test_spawn(const char *log, const char *const *args)
{
	const char *argv[64];
	int n = 0;
	argv[n++] = test_refute();
	for (; args[n - 1] != NULL && n < 63; n++) {
		argv[n] = args[n - 1];
	}
	argv[n] = NULL;
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		return -1;
	}
	if (pid == 0) {
		/* A test that crashes or is killed takes its nodes along. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent) {
			_exit(126);
		}
		int in = open("/dev/null", O_RDONLY);
		int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
		    dup2(out, 2) < 0) {
			_exit(127);
		}
		for (int fd = 3; fd < 1024; fd++) {
			close(fd);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	remember(pid);
	return pid;
}

static int
exit_code(int status)
{
	if (WIFEXITED(status)) {
		return WEXITSTATUS(status);
	}
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

int
test_running(pid_t pid)
{
	int status;
	pid_t r = waitpid(pid, &status, WNOHANG);
	if (r == 0) {
		return 1;
	}
	forget(pid);
	return 0;
}

int
test_stop(pid_t pid, int timeout_ms)
{
	int status;
	if (pid <= 0) {
		return -1;
	}
	kill(pid, SIGTERM);
	for (int waited = 0; waited < timeout_ms; waited += 10) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid) {
			forget(pid);
			return exit_code(status);
		}
		if (r < 0) {
			forget(pid);
			return -1;
		}
		test_sleep_ms(10);
	}
	kill(pid, SIGKILL);
	pid_t r = waitpid(pid, &status, 0);
	forget(pid);
	return r == pid ? exit_code(status) : -1;
}

void
test_kill(pid_t pid)
{
	int status;
	if (pid <= 0) {
		return;
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	forget(pid);
}

void
test_kill_children(void)
{
	for (int i = 0; i < MAX_CHILDREN; i++) {
		if (children[i] != 0) {
			test_kill(children[i]);
		}
	}
}

int
test_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		return -1;
	}
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	int port = -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
		port = ntohs(a.sin_port);
	}
	close(fd);
	return port;
}

int
test_write_file(const char *path, const void *buf, size_t len, int mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0) {
		return -1;
	}
	const char *p = buf;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w <= 0) {
			close(fd);
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	/* O_CREAT's mode is masked by umask; identities must be 0600. */
	fchmod(fd, (mode_t)mode);
	return close(fd);
}

double
test_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void
test_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

int
test_shell(char *out, size_t cap, const char *dir, int merge_stderr,
    const char *fmt, ...)
{
	char cmdline[4096], full[4608];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmdline, sizeof(cmdline), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "cd %s && %s%s", dir, cmdline,
	    merge_stderr ? " 2>&1" : "");
	FILE *p = popen(full, "r");
	if (p == NULL) {
		return -1;
	}
	size_t n = 0, r;
	while (n < cap - 1 && (r = fread(out + n, 1, cap - 1 - n, p)) > 0) {
		n += r;
	}
	out[n] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- Hostile peers --------------------------------------------------- */

int
test_sp_stall(int port, uint16_t proto, uint64_t declared, size_t body)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		return -1;
	}
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* A peer that closed us must not block the test in send. */
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	uint8_t hs[8] = { 0, 'S', 'P', 0, (uint8_t)(proto >> 8),
		(uint8_t)proto, 0, 0 };
	uint8_t peer[8];
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    send(fd, hs, sizeof(hs), MSG_NOSIGNAL) != (ssize_t)sizeof(hs) ||
	    recv(fd, peer, sizeof(peer), MSG_WAITALL) != (ssize_t)sizeof(peer)) {
		close(fd);
		return -1;
	}
	uint8_t len[8];
	for (int i = 0; i < 8; i++) {
		len[i] = (uint8_t)(declared >> (56 - 8 * i));
	}
	if (send(fd, len, sizeof(len), MSG_NOSIGNAL) != (ssize_t)sizeof(len)) {
		return fd; /* already cut off */
	}
	static const uint8_t zeros[65536];
	while (body > 0) {
		size_t n = body < sizeof(zeros) ? body : sizeof(zeros);
		ssize_t w = send(fd, zeros, n, MSG_NOSIGNAL);
		if (w <= 0) {
			break;
		}
		body -= (size_t)w;
	}
	return fd;
}

int
test_fd_closed(int fd, int timeout_ms)
{
	double deadline = test_seconds() + timeout_ms / 1000.0;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		int left = (int)((deadline - test_seconds()) * 1000);
		if (left < 0) {
			return 0;
		}
		if (poll(&p, 1, left) > 0) {
			uint8_t b[4096];
			ssize_t r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
			if (r == 0 || (r < 0 && errno != EAGAIN &&
			    errno != EWOULDBLOCK && errno != EINTR)) {
				return 1;
			}
		}
	}
}

long
test_rss_kb(pid_t pid)
{
	char path[64], line[256];
	if (pid == 0) {
		snprintf(path, sizeof(path), "/proc/self/status");
	} else {
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	}
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return -1;
	}
	long kb = -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = atol(line + 6);
			break;
		}
	}
	fclose(f);
	return kb;
}

/* ------------------------------------------------------------------ */
/* Allocation failures                                                  */
/* ------------------------------------------------------------------ */

/*
 * The link wraps malloc, calloc, realloc, strdup, aligned_alloc and free
 * (Makefile: TEST_WRAP): references from our objects go to __wrap_*, which
 * call __real_* (the C library's, or ASan's when it intercepts them).
 * While nothing is armed or tracked the wrappers cost one relaxed load.
 */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void *__real_aligned_alloc(size_t align, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
void *__wrap_aligned_alloc(size_t align, size_t n);
void __wrap_free(void *p);

/* Blocks handed out while tracking, to find what a run left behind: open
 * addressing with linear probing and backward-shift deletion. */
#define LIVE_BITS 17
#define LIVE_CAP ((size_t)1 << LIVE_BITS)

struct live {
	void *p;
	long seq;
};

static pthread_mutex_t alloc_mu = PTHREAD_MUTEX_INITIALIZER;
static int alloc_active;   /* armed or tracking: read without the lock */
static int alloc_armed;
static int alloc_persist;
static int alloc_fired;
static int alloc_tracking;
static long alloc_countdown;
static long alloc_fails;
static long alloc_calls;
static struct live alloc_live[LIVE_CAP];
static size_t alloc_nlive;
static int alloc_overflow;

static size_t
live_hash(const void *p)
{
	uint64_t x = (uint64_t)(uintptr_t)p >> 4;
	return (size_t)((x * 0x9E3779B97F4A7C15ull) >> (64 - LIVE_BITS));
}

static void
live_add(void *p, long seq)
{
	if (alloc_nlive >= LIVE_CAP / 2) {
		alloc_overflow = 1;
		return;
	}
	size_t i = live_hash(p);
	while (alloc_live[i].p != NULL) {
		i = (i + 1) & (LIVE_CAP - 1);
	}
	alloc_live[i].p = p;
	alloc_live[i].seq = seq;
	alloc_nlive++;
}

static void
live_del(void *p)
{
	size_t i = live_hash(p);
	while (alloc_live[i].p != NULL && alloc_live[i].p != p) {
		i = (i + 1) & (LIVE_CAP - 1);
	}
	if (alloc_live[i].p == NULL) {
		return; /* not ours: allocated before tracking, or by a library */
	}
	alloc_nlive--;
	size_t j = i;
	for (;;) {
		j = (j + 1) & (LIVE_CAP - 1);
		if (alloc_live[j].p == NULL) {
			break;
		}
		size_t k = live_hash(alloc_live[j].p);
		/* Entry j may stay when its home k lies cyclically in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j)) {
			continue;
		}
		alloc_live[i] = alloc_live[j];
		i = j;
	}
	alloc_live[i].p = NULL;
}

/* One allocation call: 1 when it must fail; *seq gets its number. */
static int
alloc_gate(long *seq)
{
	*seq = 0;
	if (!__atomic_load_n(&alloc_active, __ATOMIC_RELAXED)) {
		return 0;
	}
	int fail = 0;
	pthread_mutex_lock(&alloc_mu);
	*seq = ++alloc_calls;
	if (alloc_armed) {
		if (alloc_fired) {
			fail = alloc_persist;
		} else if (--alloc_countdown == 0) {
			fail = 1;
			alloc_fired = 1;
		}
	}
	if (fail) {
		alloc_fails++;
	}
	pthread_mutex_unlock(&alloc_mu);
	return fail;
}

static void
alloc_track(void *p, void *old, long seq)
{
	if (seq == 0) {
		return;
	}
	pthread_mutex_lock(&alloc_mu);
	if (alloc_tracking) {
		if (old != NULL) {
			live_del(old);
		}
		if (p != NULL) {
			live_add(p, seq);
		}
	}
	pthread_mutex_unlock(&alloc_mu);
}

void *
__wrap_malloc(size_t n)
{
	long seq;
	if (alloc_gate(&seq)) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = __real_malloc(n);
	alloc_track(p, NULL, seq);
	return p;
}

void *
__wrap_calloc(size_t n, size_t size)
{
	long seq;
	if (alloc_gate(&seq)) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = __real_calloc(n, size);
	alloc_track(p, NULL, seq);
	return p;
}

void *
__wrap_realloc(void *p, size_t n)
{
	long seq;
	if (alloc_gate(&seq)) {
		errno = ENOMEM;
		return NULL; /* p stays valid, as after a real failure */
	}
	void *q = __real_realloc(p, n);
	if (q != NULL || n == 0) {
		alloc_track(q, p, seq);
	}
	return q;
}

char *
__wrap_strdup(const char *s)
{
	long seq;
	if (alloc_gate(&seq)) {
		errno = ENOMEM;
		return NULL;
	}
	char *p = __real_strdup(s);
	alloc_track(p, NULL, seq);
	return p;
}

void *
__wrap_aligned_alloc(size_t align, size_t n)
{
	long seq;
	if (alloc_gate(&seq)) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = __real_aligned_alloc(align, n);
	alloc_track(p, NULL, seq);
	return p;
}

void
__wrap_free(void *p)
{
	if (p != NULL && __atomic_load_n(&alloc_active, __ATOMIC_RELAXED)) {
		pthread_mutex_lock(&alloc_mu);
		if (alloc_tracking) {
			live_del(p);
		}
		pthread_mutex_unlock(&alloc_mu);
	}
	__real_free(p);
}

static void
alloc_set_active(void)
{
	__atomic_store_n(&alloc_active, alloc_armed || alloc_tracking,
	    __ATOMIC_RELAXED);
}

void
testlib_alloc_fail_at(long n, int persist)
{
	pthread_mutex_lock(&alloc_mu);
	alloc_armed = n > 0;
	alloc_countdown = n;
	alloc_persist = persist;
	alloc_fired = 0;
	alloc_fails = 0;
	alloc_calls = 0;
	alloc_set_active();
	pthread_mutex_unlock(&alloc_mu);
}

void
testlib_alloc_fail_off(void)
{
	testlib_alloc_fail_at(0, 0);
}

long
testlib_alloc_failures(void)
{
	pthread_mutex_lock(&alloc_mu);
	long n = alloc_fails;
	pthread_mutex_unlock(&alloc_mu);
	return n;
}

long
testlib_alloc_calls(void)
{
	pthread_mutex_lock(&alloc_mu);
	long n = alloc_calls;
	pthread_mutex_unlock(&alloc_mu);
	return n;
}

static void
alloc_tracking_set(int on)
{
	pthread_mutex_lock(&alloc_mu);
	alloc_tracking = on;
	alloc_set_active();
	pthread_mutex_unlock(&alloc_mu);
}

/* Ends a run's tracking: how many blocks it left, the smallest sequence
 * number among them, and whether the table overflowed. Forgets them. */
static size_t
alloc_leftover(long *min_seq, int *overflow)
{
	pthread_mutex_lock(&alloc_mu);
	size_t n = alloc_nlive;
	long m = 0;
	if (n > 0) {
		for (size_t i = 0; i < LIVE_CAP; i++) {
			if (alloc_live[i].p != NULL) {
				if (m == 0 || alloc_live[i].seq < m) {
					m = alloc_live[i].seq;
				}
				alloc_live[i].p = NULL;
			}
		}
	}
	alloc_nlive = 0;
	*overflow = alloc_overflow;
	alloc_overflow = 0;
	pthread_mutex_unlock(&alloc_mu);
	*min_seq = m;
	return n;
}

/* A bound on runs per mode, so a decoder that never finishes cannot hang
 * a suite. */
#define ALLOC_MAX_RUNS 200000

/* Says what a run did wrong: the first few lines of each loop only. */
static int alloc_said;

static void alloc_say(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void
alloc_say(const char *fmt, ...)
{
	if (alloc_said++ >= 5) {
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	fputs("alloc-fail: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int
testlib_alloc_fail_run(testlib_alloc_fn fn, void *ctx, unsigned allowed,
    struct testlib_alloc_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	alloc_said = 0;
	allowed |= 1u << RF_ERR_NOMEM;
	int bad = 0;
	for (int persist = 0; persist <= 1; persist++) {
		long n;
		for (n = 1; n <= ALLOC_MAX_RUNS; n++) {
			testlib_alloc_fail_at(n, persist);
			alloc_tracking_set(1);
			int rc = fn(ctx);
			alloc_tracking_set(0);
			long fails = testlib_alloc_failures();
			testlib_alloc_fail_off();
			long seq;
			int overflow;
			size_t left = alloc_leftover(&seq, &overflow);
			if (overflow) {
				alloc_say("more than %zu live blocks, leaks not "
				    "checked", LIVE_CAP / 2);
				bad = 1;
			}
			if (rc == TESTLIB_WRONG) {
				rep->wrong++;
				alloc_say("allocation %ld failed%s: wrong result",
				    n, persist ? " (persistent)" : "");
				bad = 1;
			}
			if (left > 0) {
				if (rep->leaks++ == 0) {
					rep->leak_run = n;
					rep->leak_seq = seq;
				}
				alloc_say("allocation %ld failed%s: %zu blocks "
				    "left, the first made by allocation %ld", n,
				    persist ? " (persistent)" : "", left, seq);
				bad = 1;
			}
			if (fails == 0) {
				rep->clean_rc = rc;
				if (rc != 0) {
					alloc_say("without failures the "
					    "operation returns %d", rc);
					bad = 1;
				}
				break;
			}
			rep->runs++;
			rep->max_fail = n;
			if (rc != 0 && rc != TESTLIB_WRONG &&
			    (rc < 0 || rc >= 32 || !(allowed & (1u << rc)))) {
				if (rep->bad_rc++ == 0) {
					rep->first_bad = rc;
					rep->first_bad_run = n;
				}
				alloc_say("allocation %ld failed%s: returned %d",
				    n, persist ? " (persistent)" : "", rc);
				bad = 1;
			}
		}
		if (n > ALLOC_MAX_RUNS) {
			alloc_say("still failing after %d runs",
			    ALLOC_MAX_RUNS);
			bad = 1;
		}
	}
	if (alloc_said > 5) {
		fprintf(stderr, "alloc-fail: ... %d problems in all\n",
		    alloc_said);
	}
	return bad ? -1 : 0;
}

long
testlib_alloc_fail_loop_errs(testlib_alloc_fn fn, void *ctx,
    unsigned allowed)
{
	struct testlib_alloc_report rep;
	int rc = testlib_alloc_fail_run(fn, ctx, allowed, &rep);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(rep.clean_rc, 0);
	CU_ASSERT_EQUAL(rep.bad_rc, 0);
	CU_ASSERT_EQUAL(rep.wrong, 0);
	CU_ASSERT_EQUAL(rep.leaks, 0);
	/* An operation that never allocates tests nothing here. */
	CU_ASSERT(rep.runs > 0);
	return rep.runs;
}

long
testlib_alloc_fail_loop(testlib_alloc_fn fn, void *ctx)
{
	return testlib_alloc_fail_loop_errs(fn, ctx, 0);
}
