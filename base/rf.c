/* base/rf.c - error strings and error detail formatting. */
#include "base/rf.h"

#include <stdio.h>
#include <string.h>

static const char *const rf_err_text[RF_ERR_COUNT] = {
	[RF_OK] = "success",
	[RF_ERR_NOMEM] = "out of memory",
	[RF_ERR_INVAL] = "invalid argument",
	[RF_ERR_RANGE] = "value out of range",
	[RF_ERR_SHAPE] = "tensor shape mismatch",
	[RF_ERR_DTYPE] = "tensor element type not supported here",
	[RF_ERR_NOTSUP] = "not supported",
	[RF_ERR_FORMAT] = "malformed data",
	[RF_ERR_TRUNCATED] = "data truncated",
	[RF_ERR_VERSION] = "unsupported version",
	[RF_ERR_IO] = "input/output error",
	[RF_ERR_NOTFOUND] = "not found",
	[RF_ERR_ABORTED] = "aborted",
	[RF_ERR_CRYPTO] = "signature or proof check failed",
	[RF_ERR_TIMEOUT] = "timed out",
	[RF_ERR_CLOSED] = "closed",
	[RF_ERR_NET] = "network error",
	[RF_ERR_STORE] = "database error",
	[RF_ERR_FULL] = "disk full",
	[RF_ERR_REFUSED] = "refused",
};

const char *
rf_strerror(int err)
{
	if (err < 0 || err >= RF_ERR_COUNT || rf_err_text[err] == NULL) {
		return "unknown error";
	}
	return rf_err_text[err];
}

int
rf_errf(struct rf_errinfo *ei, int err, const char *fmt, ...)
{
	if (ei != NULL) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(ei->msg, sizeof(ei->msg), fmt, ap);
		va_end(ap);
	}
	return err;
}

int
rf_errctx(struct rf_errinfo *ei, int err, const char *fmt, ...)
{
	if (ei != NULL) {
		char prefix[128];
		char old[sizeof(ei->msg)];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(prefix, sizeof(prefix), fmt, ap);
		va_end(ap);
		memcpy(old, ei->msg, sizeof(old));
		old[sizeof(old) - 1] = '\0';
		if (old[0] == '\0') {
			snprintf(old, sizeof(old), "%s", rf_strerror(err));
		}
		/* Keep the prefix whole and cut the old message if needed. */
		int plen = (int)strnlen(prefix, sizeof(prefix));
		int room = (int)sizeof(ei->msg) - 1 - plen;
		snprintf(ei->msg, sizeof(ei->msg), "%.*s%.*s", plen, prefix,
		    room > 0 ? room : 0, old);
	}
	return err;
}
