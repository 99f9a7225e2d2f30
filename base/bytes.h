/*
 * base/bytes.h - the one cursor every decoder of untrusted bytes uses, and
 * a growing writer for encoders. All integers are little-endian and are
 * assembled with shifts, never by casting a struct over the buffer.
 *
 * Errors are sticky: the first failure (running past the end, a writer
 * growing past its limit or out of memory) is recorded in err and every
 * later call is a no-op returning zero, so a decoder may read a run of
 * fields and check err once, as long as it checks before it uses a
 * length to allocate or to index.
 */
#ifndef RF_BASE_BYTES_H
#define RF_BASE_BYTES_H

#include <stddef.h>
#include <stdint.h>

#include "base/rf.h"

struct rf_reader {
	const uint8_t *p;
	size_t left;
	int err; /* RF_OK or the first error (RF_ERR_TRUNCATED) */
};

void rf_reader_init(struct rf_reader *r, const void *buf, size_t len);
uint8_t rf_read_u8(struct rf_reader *r);
uint16_t rf_read_u16(struct rf_reader *r);
uint32_t rf_read_u32(struct rf_reader *r);
uint64_t rf_read_u64(struct rf_reader *r);
int32_t rf_read_i32(struct rf_reader *r);
int64_t rf_read_i64(struct rf_reader *r);
/* Returns a pointer to the next n bytes and skips them, or NULL. */
const uint8_t *rf_read_bytes(struct rf_reader *r, size_t n);

struct rf_writer {
	uint8_t *buf;
	size_t len, cap;
	size_t max; /* the writer refuses to grow past this (RF_ERR_RANGE) */
	int err;
};

void rf_writer_init(struct rf_writer *w, size_t max);
void rf_write_u8(struct rf_writer *w, uint8_t v);
void rf_write_u16(struct rf_writer *w, uint16_t v);
void rf_write_u32(struct rf_writer *w, uint32_t v);
void rf_write_u64(struct rf_writer *w, uint64_t v);
void rf_write_bytes(struct rf_writer *w, const void *p, size_t n);
/* Overwrites 8 bytes at off (already written) with v. */
void rf_write_u64_at(struct rf_writer *w, size_t off, uint64_t v);
/*
 * On success hands the buffer to the caller (who frees it with free()) and
 * resets w; on a recorded error frees it and returns that error.
 */
int rf_writer_finish(struct rf_writer *w, uint8_t **buf, size_t *len)
    __attribute__((warn_unused_result));
/* Frees whatever w holds. */
void rf_writer_fini(struct rf_writer *w);

#endif
