/* base/bytes.c - bounded little-endian reader and growing writer. */
#include "base/bytes.h"

#include <stdlib.h>
#include <string.h>

void
rf_reader_init(struct rf_reader *r, const void *buf, size_t len)
{
	r->p = buf;
	r->left = len;
	r->err = RF_OK;
}

const uint8_t *
rf_read_bytes(struct rf_reader *r, size_t n)
{
	if (r->err != RF_OK) {
		return NULL;
	}
	if (n > r->left) {
		r->err = RF_ERR_TRUNCATED;
		r->left = 0;
		return NULL;
	}
	const uint8_t *p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

static uint64_t
read_le(struct rf_reader *r, size_t n)
{
	const uint8_t *p = rf_read_bytes(r, n);
	uint64_t v = 0;
	if (p == NULL) {
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		v |= (uint64_t)p[i] << (8 * i);
	}
	return v;
}

uint8_t
rf_read_u8(struct rf_reader *r)
{
	return (uint8_t)read_le(r, 1);
}

uint16_t
rf_read_u16(struct rf_reader *r)
{
	return (uint16_t)read_le(r, 2);
}

uint32_t
rf_read_u32(struct rf_reader *r)
{
	return (uint32_t)read_le(r, 4);
}

uint64_t
rf_read_u64(struct rf_reader *r)
{
	return read_le(r, 8);
}

int32_t
rf_read_i32(struct rf_reader *r)
{
	uint32_t u = rf_read_u32(r);
	int32_t v;
	memcpy(&v, &u, sizeof(v)); /* two's complement, no UB */
	return v;
}

int64_t
rf_read_i64(struct rf_reader *r)
{
	uint64_t u = rf_read_u64(r);
	int64_t v;
	memcpy(&v, &u, sizeof(v));
	return v;
}

void
rf_writer_init(struct rf_writer *w, size_t max)
{
	memset(w, 0, sizeof(*w));
	w->max = max;
}

static int
writer_reserve(struct rf_writer *w, size_t n)
{
	size_t need;
	if (w->err != RF_OK) {
		return w->err;
	}
	if (!rf_size_add(w->len, n, &need) || need > w->max) {
		w->err = RF_ERR_RANGE;
		return w->err;
	}
	if (need <= w->cap) {
		return RF_OK;
	}
	size_t cap = w->cap ? w->cap : 256;
	while (cap < need) {
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	}
	uint8_t *nb = realloc(w->buf, cap);
	if (nb == NULL) {
		w->err = RF_ERR_NOMEM;
		return w->err;
	}
	w->buf = nb;
	w->cap = cap;
	return RF_OK;
}

static void
write_le(struct rf_writer *w, uint64_t v, size_t n)
{
	if (writer_reserve(w, n) != RF_OK) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		w->buf[w->len++] = (uint8_t)(v >> (8 * i));
	}
}

void
rf_write_u8(struct rf_writer *w, uint8_t v)
{
	write_le(w, v, 1);
}

void
rf_write_u16(struct rf_writer *w, uint16_t v)
{
	write_le(w, v, 2);
}

void
rf_write_u32(struct rf_writer *w, uint32_t v)
{
	write_le(w, v, 4);
}

void
rf_write_u64(struct rf_writer *w, uint64_t v)
{
	write_le(w, v, 8);
}

void
rf_write_bytes(struct rf_writer *w, const void *p, size_t n)
{
	if (n == 0 || writer_reserve(w, n) != RF_OK) {
		return;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void
rf_write_u64_at(struct rf_writer *w, size_t off, uint64_t v)
{
	if (w->err != RF_OK || off > w->len || w->len - off < 8) {
		if (w->err == RF_OK) {
			w->err = RF_ERR_INVAL;
		}
		return;
	}
	for (size_t i = 0; i < 8; i++) {
		w->buf[off + i] = (uint8_t)(v >> (8 * i));
	}
}

int
rf_writer_finish(struct rf_writer *w, uint8_t **buf, size_t *len)
{
	if (w->err != RF_OK) {
		int err = w->err;
		rf_writer_fini(w);
		return err;
	}
	if (w->buf == NULL) {
		/* An empty result is still a valid buffer to free. */
		w->buf = malloc(1);
		if (w->buf == NULL) {
			return RF_ERR_NOMEM;
		}
	}
	*buf = w->buf;
	*len = w->len;
	w->buf = NULL;
	w->len = w->cap = 0;
	return RF_OK;
}

void
rf_writer_fini(struct rf_writer *w)
{
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}
