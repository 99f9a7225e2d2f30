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

#endif
