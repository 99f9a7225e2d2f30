/*
 * tests/testlib.h - the one runner every CUnit suite binary uses, and small
 * helpers shared by tests.
 */
#ifndef RF_TESTLIB_H
#define RF_TESTLIB_H

#include <CUnit/CUnit.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Registers the suites, runs them verbosely, prints CUnit's run summary and
 * returns the process exit code: 0 only when no assertion failed.
 */
int test_main(CU_SuiteInfo *suites);

/* Reads a whole file into a malloc'd buffer; NULL on error. */
uint8_t *test_read_file(const char *path, size_t *len);

/* The directory holding test data (tests/data), from RF_TEST_DATA or the
 * source tree. */
const char *test_data_dir(void);

/* ---- Processes, for tests that run the real binary ---------------- */

/*
 * Runs a shell command (printf-style) in dir, capturing its standard
 * output (and standard error too when merge_stderr) into out, at most
 * cap - 1 bytes, NUL-terminated. Returns the exit code, or -1 when it
 * could not run or was killed by a signal.
 */
int test_shell(char *out, size_t cap, const char *dir, int merge_stderr,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The refute binary under test: RF_REFUTE (make check sets it), else
 * bin/refute; made absolute so tests may change directory. */
const char *test_refute(void);

/*
 * Starts `refute ARGS...` (args NULL-terminated, without the program)
 * with stdin from /dev/null and stdout and stderr appended to log. The
 * child dies with the test process (parent-death signal) and is
 * remembered for test_kill_children. Returns its pid, or -1.
 */
pid_t test_spawn(const char *log, const char *const *args);

/* SIGTERM, then SIGKILL after timeout_ms; returns the exit code (128 +
 * the signal when one ended it), or -1 when pid is not our child. */
int test_stop(pid_t pid, int timeout_ms);

/* SIGKILL and reap: a crash, as far as the child can tell. */
void test_kill(pid_t pid);

/* True while pid runs (it is reaped when it has exited). */
int test_running(pid_t pid);

/* SIGKILLs every child test_spawn started that still runs: for suite
 * teardowns, so a failed test leaves no process behind. */
void test_kill_children(void);

/* A TCP port on 127.0.0.1 that nobody listened on a moment ago. */
int test_free_port(void);

/* Writes a file with the given mode (creating or replacing it); 0 on
 * success. */
int test_write_file(const char *path, const void *buf, size_t len,
    int mode);

/* ---- Hostile peers --------------------------------------------------- */

/*
 * Opens a raw TCP connection to 127.0.0.1:port, does the SP handshake as
 * protocol proto (0x30 REQ, 0x21 SUB, ...), sends a frame header that
 * declares `declared` bytes and then `body` bytes of it (zeros), and
 * stalls: the connection stays open. Sends that the peer refuses (it
 * closed us) stop early without error. Returns the socket, or -1 when the
 * connection or the handshake failed.
 */
int test_sp_stall(int port, uint16_t proto, uint64_t declared, size_t body);

/* True once the peer closed fd (reading gives end of file or an error);
 * waits up to timeout_ms. */
int test_fd_closed(int fd, int timeout_ms);

/* VmRSS of a process in KiB (0: self), or -1. */
long test_rss_kb(pid_t pid);

double test_seconds(void);
void test_sleep_ms(int ms);

/* ---- Allocation failures (after SQLite's malloc tests) ---------------- */

/*
 * Every test binary is linked with -Wl,--wrap=malloc,calloc,realloc,
 * strdup,aligned_alloc,free: each call from Refute's own objects (the
 * library, the tests) goes through the harness, which can make the Nth
 * allocation from now return NULL. Allocations inside shared libraries
 * (SQLite, libsodium, NNG, libc itself) are not seen. Works with and
 * without ASan: the wrappers call the real functions, which ASan
 * intercepts as usual.
 */

/*
 * Arms a countdown: the nth allocation call from now fails (n >= 1), and
 * with persist every one after it too. n == 0 disarms. Resets the
 * failure counter.
 */
void testlib_alloc_fail_at(long n, int persist);

/* Disarms the countdown. */
void testlib_alloc_fail_off(void);

/* How many allocations failed on purpose since the last arming. */
long testlib_alloc_failures(void);

/* How many allocation calls the wrappers have seen since the last arming
 * (counted only while armed or tracking). */
long testlib_alloc_calls(void);

/*
 * One operation under test. It must release everything it allocated
 * before it returns, on success and on error alike, and check its own
 * result when it succeeds (returning TESTLIB_WRONG when the result is
 * wrong, so a decoder that swallows a failed allocation is caught).
 */
typedef int (*testlib_alloc_fn)(void *ctx);
#define TESTLIB_WRONG (-1000)

struct testlib_alloc_report {
	long runs;       /* runs with an injected failure */
	long max_fail;   /* the allocation count at which it last failed */
	long bad_rc;     /* failed runs that returned a code not allowed */
	long wrong;      /* runs that returned TESTLIB_WRONG */
	long leaks;      /* runs that left allocations behind */
	long leak_run;   /* first leaking run: which allocation failed */
	long leak_seq;   /* ...and the sequence number of a leaked block */
	long clean_rc;   /* the final run without a failure: its code */
	int first_bad;   /* the first code not allowed (bad_rc) */
	long first_bad_run;
};

/*
 * Runs fn with the 1st, 2nd, 3rd ... allocation failing, once as a single
 * failure and once persistent (every allocation after it fails too),
 * until a run sees no failure. Every failed run must return RF_ERR_NOMEM
 * or a code whose bit is set in allowed (1u << RF_ERR_x; 0: NOMEM only)
 * or RF_OK (a run may recover from a failure, fn checks the result), and
 * must leave no allocation behind (checked here exactly, by tracking the
 * blocks handed out during the run, and again by LeakSanitizer under
 * make asan). Fills rep; returns 0 when every run behaved.
 */
int testlib_alloc_fail_run(testlib_alloc_fn fn, void *ctx, unsigned allowed,
    struct testlib_alloc_report *rep);

/*
 * testlib_alloc_fail_run with CUnit assertions: each kind of misbehaviour
 * fails the current test with the run that showed it, and an operation
 * that never allocates (nothing to test) fails too. Returns the number of
 * failed runs checked.
 */
long testlib_alloc_fail_loop(testlib_alloc_fn fn, void *ctx);
long testlib_alloc_fail_loop_errs(testlib_alloc_fn fn, void *ctx,
    unsigned allowed);

#endif
