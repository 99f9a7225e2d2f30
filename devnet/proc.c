/*
 * devnet/proc.c - child processes of the local network launcher: spawning
 * with a log file, polling, stopping with an escalation to SIGKILL, and
 * picking free loopback ports.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "node/node.h"
#include "devnet/devnet_int.h"

/* write(2) all of s, for the child after fork (no stdio there). */
static void
child_say(int fd, const char *s)
{
	size_t n = strlen(s);
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w <= 0) {
			return;
		}
		s += w;
		n -= (size_t)w;
	}
}

/* The child's side of devnet_proc_spawn: only async-signal-safe calls. */
static void __attribute__((noreturn))
child_exec(const char *exe, char *const *argv, const char *log, int max_fd,
    pid_t parent)
{
	/* Our own group: a terminal's Ctrl-C goes to the launcher only, and
	 * the launcher decides the order of shutdown. */
	setpgid(0, 0);
#ifdef __linux__
	/* Die with the launcher, even when it is SIGKILLed. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent) {
		_exit(126); /* the launcher died before the line above */
	}
#else
	(void)parent;
#endif
	int in = open("/dev/null", O_RDONLY);
	int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (in < 0 || out < 0) {
		_exit(127);
	}
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) {
		_exit(127);
	}
	/* The launcher's sockets and files are not the child's business. */
	for (int fd = 3; fd < max_fd; fd++) {
		close(fd);
	}
	execv(exe, argv);
	child_say(2, "devnet: cannot execute ");
	child_say(2, exe);
	child_say(2, "\n");
	_exit(127);
}

int
devnet_proc_spawn(const char *exe, char *const *argv, const char *log,
    pid_t *pid, struct rf_errinfo *ei)
{
	/* Computed before fork: sysconf and getrlimit are not on the list of
	 * async-signal-safe calls. */
	struct rlimit rl;
	int max_fd = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		max_fd = rl.rlim_cur > 65536 ? 65536 : (int)rl.rlim_cur;
	}
	pid_t parent = getpid();
	pid_t p = fork();
	if (p < 0) {
		return rf_errf(ei, RF_ERR_NOMEM, "cannot fork: %s",
		    strerror(errno));
	}
	if (p == 0) {
		child_exec(exe, argv, log, max_fd, parent);
	}
	/* Also from this side, so the group exists before anyone signals
	 * it (the two calls race; either one suffices). */
	setpgid(p, p);
	*pid = p;
	return RF_OK;
}

static int
code_of(int status)
{
	if (WIFEXITED(status)) {
		return WEXITSTATUS(status);
	}
	if (WIFSIGNALED(status)) {
		return 128 + WTERMSIG(status);
	}
	return 255;
}

bool
devnet_proc_exited(pid_t pid, int *code)
{
	int status;
	pid_t r = waitpid(pid, &status, WNOHANG);
	if (r == pid) {
		*code = code_of(status);
		return true;
	}
	if (r < 0 && errno == ECHILD) {
		*code = 255; /* someone else reaped it: treat as gone */
		return true;
	}
	return false;
}

void
devnet_proc_stop(const pid_t *pids, size_t n, int timeout_ms, int *codes,
    bool *killed)
{
	bool *done = calloc(n ? n : 1, sizeof(*done));
	for (size_t i = 0; i < n; i++) {
		killed[i] = false;
		codes[i] = 0;
		if (pids[i] > 0) {
			kill(pids[i], SIGTERM);
		} else if (done != NULL) {
			done[i] = true;
		}
	}
	double deadline = node_mono_s() + timeout_ms / 1000.0;
	for (;;) {
		size_t left = 0;
		for (size_t i = 0; i < n; i++) {
			if (pids[i] <= 0 || (done != NULL && done[i])) {
				continue;
			}
			if (devnet_proc_exited(pids[i], &codes[i])) {
				if (done != NULL) {
					done[i] = true;
				}
			} else {
				left++;
			}
		}
		if (left == 0 || node_mono_s() > deadline || done == NULL) {
			break;
		}
		node_sleep_ms(20, NULL);
	}
	for (size_t i = 0; i < n; i++) {
		if (pids[i] <= 0 || (done != NULL && done[i])) {
			continue;
		}
		kill(pids[i], SIGKILL);
		int status;
		while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR) {
		}
		codes[i] = code_of(status);
		killed[i] = true;
	}
	free(done);
}

int
devnet_free_ports(int *ports, size_t n, struct rf_errinfo *ei)
{
	int fds[8];
	if (n > 8) {
		return rf_errf(ei, RF_ERR_RANGE, "too many ports");
	}
	int err = RF_OK;
	size_t opened = 0;
	/* All bound at once, so the kernel hands out n different ports. */
	for (; opened < n; opened++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0) {
			err = rf_errf(ei, RF_ERR_NET, "socket: %s", strerror(errno));
			break;
		}
		fds[opened] = fd;
		struct sockaddr_in a;
		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		socklen_t len = sizeof(a);
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
		    getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
			err = rf_errf(ei, RF_ERR_NET, "cannot find a free port: %s",
			    strerror(errno));
			opened++;
			break;
		}
		ports[opened] = ntohs(a.sin_port);
	}
	for (size_t i = 0; i < opened; i++) {
		close(fds[i]);
	}
	return err;
}

int
devnet_http_get(int port, const char *path, int timeout_ms, char **body,
    size_t *len, struct rf_errinfo *ei)
{
	*body = NULL;
	*len = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return rf_errf(ei, RF_ERR_NET, "socket: %s", strerror(errno));
	}
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		int e = errno;
		close(fd);
		return rf_errf(ei, RF_ERR_NET, "127.0.0.1:%d: %s", port,
		    strerror(e));
	}
	char req[256];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: "
	    "127.0.0.1\r\nConnection: close\r\n\r\n", path);
	if (n < 0 || (size_t)n >= sizeof(req) ||
	    send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		close(fd);
		return rf_errf(ei, RF_ERR_NET, "127.0.0.1:%d: cannot send the "
		    "request", port);
	}
	size_t cap = 65536, have = 0;
	char *buf = malloc(cap + 1);
	int err = buf != NULL ? RF_OK : rf_errf(ei, RF_ERR_NOMEM,
	    "out of memory");
	while (err == RF_OK) {
		if (have == cap) {
			if (cap >= DEVNET_HTTP_MAX) {
				err = rf_errf(ei, RF_ERR_RANGE, "127.0.0.1:%d%s: the "
				    "answer passes %d bytes", port, path,
				    DEVNET_HTTP_MAX);
				break;
			}
			char *nb = realloc(buf, 2 * cap + 1);
			if (nb == NULL) {
				err = rf_errf(ei, RF_ERR_NOMEM, "out of memory");
				break;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = recv(fd, buf + have, cap - have, 0);
		if (r == 0) {
			break;
		}
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r < 0) {
			err = rf_errf(ei, errno == EAGAIN || errno == EWOULDBLOCK ?
			    RF_ERR_TIMEOUT : RF_ERR_NET, "127.0.0.1:%d: %s", port,
			    strerror(errno));
			break;
		}
		have += (size_t)r;
	}
	close(fd);
	if (err != RF_OK) {
		free(buf);
		return err;
	}
	buf[have] = '\0';
	/* "HTTP/1.1 200 OK\r\n...\r\n\r\nbody" */
	char *sep = strstr(buf, "\r\n\r\n");
	if (strncmp(buf, "HTTP/1.", 7) != 0 || have < 12 || sep == NULL ||
	    strncmp(buf + 8, " 200", 4) != 0) {
		char *eol = strpbrk(buf, "\r\n");
		if (eol != NULL) {
			*eol = '\0';
		}
		err = rf_errf(ei, RF_ERR_FORMAT, "127.0.0.1:%d%s: not a 200 "
		    "answer: '%.80s'", port, path, buf);
		free(buf);
		return err;
	}
	size_t off = (size_t)(sep + 4 - buf);
	memmove(buf, buf + off, have - off + 1);
	*body = buf;
	*len = have - off;
	return RF_OK;
}

bool
devnet_metric_value(const char *text, const char *series, double *v)
{
	size_t sl = strlen(series);
	for (const char *line = text; line != NULL && *line != '\0';) {
		const char *eol = strchr(line, '\n');
		if (*line != '#' && strncmp(line, series, sl) == 0 &&
		    line[sl] == ' ') {
			char *end;
			errno = 0;
			double x = strtod(line + sl + 1, &end);
			/* isfinite without libm: NaN fails x == x, the
			 * infinities x - x == 0. */
			if (end != line + sl + 1 && errno == 0 && x == x &&
			    x - x == 0 &&
			    (*end == '\n' || *end == '\0' || *end == ' ')) {
				*v = x;
				return true;
			}
			return false;
		}
		line = eol != NULL ? eol + 1 : NULL;
	}
	return false;
}
