/*
 * base/rf.h - what every Refute component shares: the one project-wide
 * error enum, a buffer for human-readable error detail, and checked size
 * arithmetic.
 *
 * Convention (after nng): fallible functions return int, 0 is success and
 * anything else is an RF_ERR_* code. Results go out through pointer
 * parameters that are written only on success. Functions that can say more
 * than a code take an optional struct rf_errinfo *, which receives one line
 * naming what was wrong ("op 3 (Conv): attribute 'pads' has 3 values").
 */
#ifndef RF_BASE_H
#define RF_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rf_err {
	RF_OK = 0,
	RF_ERR_NOMEM,     /* out of memory */
	RF_ERR_INVAL,     /* invalid argument or value */
	RF_ERR_RANGE,     /* a number or size over a stated limit */
	RF_ERR_SHAPE,     /* tensor shapes do not fit the operator */
	RF_ERR_DTYPE,     /* tensor element type not accepted here */
	RF_ERR_NOTSUP,    /* a valid but unsupported feature */
	RF_ERR_FORMAT,    /* malformed encoded data */
	RF_ERR_TRUNCATED, /* encoded data ends early */
	RF_ERR_VERSION,   /* unknown format or protocol version */
	RF_ERR_IO,        /* reading or writing a file failed */
	RF_ERR_NOTFOUND,  /* no such name, file or record */
	RF_ERR_ABORTED,   /* a callback asked to stop */
	RF_ERR_CRYPTO,    /* bad signature, key or proof */
	RF_ERR_TIMEOUT,   /* no answer in time */
	RF_ERR_CLOSED,    /* the socket, server or store was closed */
	RF_ERR_NET,       /* any other network failure */
	RF_ERR_STORE,     /* the database failed */
	RF_ERR_FULL,      /* the disk (or the database's size limit) is full */
	RF_ERR_REFUSED,   /* a rule refused the request (the reply says which) */
	RF_ERR_COUNT
};

/* A static string for any code; never NULL, thread-safe. */
const char *rf_strerror(int err);

/* One line of detail to go with an error code. */
struct rf_errinfo {
	char msg[256];
};

/*
 * Formats a message into ei (ignored when ei is NULL) and returns err, so a
 * failure site reads: return rf_errf(ei, RF_ERR_FORMAT, "bad magic");
 */
int rf_errf(struct rf_errinfo *ei, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes ei's message with context ("op 3 (Conv): "); returns err. */
int rf_errctx(struct rf_errinfo *ei, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Checked arithmetic on sizes: false on overflow, *out untouched then. */
static inline bool
rf_size_mul(size_t a, size_t b, size_t *out)
{
	size_t r;
	if (__builtin_mul_overflow(a, b, &r)) {
		return false;
	}
	*out = r;
	return true;
}

static inline bool
rf_size_add(size_t a, size_t b, size_t *out)
{
	size_t r;
	if (__builtin_add_overflow(a, b, &r)) {
		return false;
	}
	*out = r;
	return true;
}

#endif /* RF_BASE_H */
