/*
 * devnet/devnet_int.h - shared inside devnet/ only: child processes and loopback
 * ports for the local network launcher.
 */
#ifndef RF_DEVNET_INT_H
#define RF_DEVNET_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/rf.h"

/*
 * Starts exe with argv (argv[0] first, NULL-terminated): stdin from
 * /dev/null, stdout and stderr appended to log (created 0600), no other
 * descriptors, in a process group of its own, with SIGTERM as its
 * parent-death signal. Everything the child does between fork and exec
 * is async-signal-safe, since the caller may have NNG threads running.
 * An exec failure shows as exit code 127 with the reason in the log.
 */
int devnet_proc_spawn(const char *exe, char *const *argv, const char *log,
    pid_t *pid, struct rf_errinfo *ei) __attribute__((warn_unused_result));

/* Non-blocking: true when pid has exited (and is reaped), with its exit
 * code, or 128 + the signal that ended it. */
bool devnet_proc_exited(pid_t pid, int *code);

/*
 * Sends SIGTERM to every pid (0 entries are skipped), waits up to
 * timeout_ms for all of them to exit, then sends SIGKILL to the rest and
 * reaps them. codes[i] gets the exit code (128 + signal), killed[i] whether
 * SIGKILL was needed.
 */
void devnet_proc_stop(const pid_t *pids, size_t n, int timeout_ms, int *codes,
    bool *killed);

/* n TCP ports on 127.0.0.1 that were free a moment ago (bound to port 0
 * at once, then released). */
int devnet_free_ports(int *ports, size_t n, struct rf_errinfo *ei);

/* The largest answer devnet_http_get takes. */
#define DEVNET_HTTP_MAX (4 << 20)

/*
 * GET path from 127.0.0.1:port (a node's metrics server): the body of a
 * 200 answer, NUL-terminated and malloc'd, in *body. Each socket wait is
 * bounded by timeout_ms. RF_ERR_NET when nothing listens, RF_ERR_TIMEOUT,
 * RF_ERR_FORMAT for any other answer, RF_ERR_RANGE past DEVNET_HTTP_MAX.
 */
int devnet_http_get(int port, const char *path, int timeout_ms, char **body,
    size_t *len, struct rf_errinfo *ei) __attribute__((warn_unused_result));

/* The value of one series in Prometheus text: series is the name with its
 * labels as rendered (`refute_challenger_records_total{outcome="match"}`).
 * False when it is absent or its value is not a finite number. */
bool devnet_metric_value(const char *text, const char *series, double *v);

#endif
