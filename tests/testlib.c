/* tests/testlib.c - shared CUnit runner and helpers. */
#include "tests/testlib.h"

#include <CUnit/Basic.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
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
