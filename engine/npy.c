/*
 * engine/npy.c - NumPy .npy files: a bounded decoder for untrusted bytes
 * and an encoder that writes exactly what numpy.save writes.
 *
 * Layout (https://numpy.org/doc/stable/reference/generated/
 * numpy.lib.format.html); every integer is little-endian:
 *
 *   offset   size        field
 *   0        6           magic "\x93NUMPY"
 *   6        1           major version: 1, 2 or 3
 *   7        1           minor version: 0
 *   8        2 (v1)      header length H: u16 in 1.0, u32 in 2.0 and 3.0
 *            4 (v2, v3)
 *   P=10|12  H           header: a Python dict literal, ASCII (UTF-8 in
 *                        3.0), padded with spaces, last byte '\n'
 *   P+H      count*size  data, C order, little-endian, nothing after it
 *
 * The header is parsed by a strict subset of Python's literal syntax, the
 * one every .npy writer we know of produces (numpy, cnpy, ndarray-npy):
 *
 *   header := '{' ws [entry {ws ',' ws entry} [ws ',']] ws '}' ws '\n'
 *   entry  := str ws ':' ws value
 *   str    := "'" char* "'" | '"' char* '"'  (printable ASCII, no '\\')
 *   tuple  := '(' ws ')' | '(' ws int ws ',' ws ')'
 *           | '(' ws int {ws ',' ws int}+ [ws ','] ws ')'
 *   int    := ['-'] ('0' | [1-9][0-9]*)
 *   ws     := ' '*
 *
 * with exactly the keys 'descr' (a str), 'fortran_order' (True or False)
 * and 'shape' (a tuple), each once, in any order.
 *
 * Accepted descr spellings, and why:
 *   '<f4'                          float32
 *   '<i4'                          int32
 *   '<i8'                          int64
 *   '|i1' '<i1' '>i1' '=i1' 'i1'   int8 (numpy writes '|i1'; byte order
 *                                  means nothing for one byte, and numpy
 *                                  reads all five as the same type)
 * Multi-byte types must say '<'. '>' is big-endian and rejected. '=', '|'
 * and no prefix mean "the writer's native order", which the file does not
 * record: accepting them on little-endian hosts only would make the result
 * depend on the machine decoding, which a verifier must never do. numpy
 * itself always writes '<' or '>' for multi-byte types.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "engine/engine_int.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* numpy aligns the data to this many bytes (format.ARRAY_ALIGN). */
#define NPY_ALIGN 64
/*
 * numpy.save pads the header so that the first dimension could grow to
 * this many digits in place (format.GROWTH_AXIS_MAX_DIGITS).
 */
#define NPY_GROWTH_DIGITS 21
/* Longest descr or key quoted back in an error message. */
#define NPY_QUOTE_MAX 32

/*
 * Data on disk is little-endian. On a little-endian host a copy is the
 * conversion; elsewhere the shift loops below do it. Define
 * NPY_PORTABLE_BYTES to test the shift loops on a little-endian host.
 */
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && !defined(NPY_PORTABLE_BYTES)
#define NPY_HOST_LE 1
#else
#define NPY_HOST_LE 0
#endif

/* ------------------------------------------------------------------ */
/* Header dict                                                          */
/* ------------------------------------------------------------------ */

enum {
	KEY_DESCR = 1u << 0,
	KEY_FORTRAN = 1u << 1,
	KEY_SHAPE = 1u << 2,
};

/* What the header says, before any of it is checked against our limits. */
struct npy_header {
	const uint8_t *descr;
	size_t descr_len;
	bool fortran;
	int rank;
	int64_t dims[TENSOR_MAX_RANK];
	unsigned seen; /* KEY_* bits */
};

/*
 * The dict text (without the final '\n') and where it sits in the file.
 * The parser peeks at c's bytes and skips only what it has seen, so the
 * reader never runs past the end (its sticky error stays RF_OK).
 */
struct hparse {
	struct rf_reader c;
	const uint8_t *file; /* for byte offsets in messages */
	struct rf_errinfo *ei;
};

static int
hp_fail(struct hparse *h, const char *what)
{
	return rf_errf(h->ei, RF_ERR_FORMAT,
	    "npy: malformed header at byte %zu: %s",
	    (size_t)(h->c.p - h->file), what);
}

/* The next byte, or -1 at the end of the dict text. */
static int
hp_peek(const struct hparse *h)
{
	return h->c.left > 0 ? h->c.p[0] : -1;
}

static void
hp_skip(struct hparse *h, size_t n)
{
	(void)rf_read_bytes(&h->c, n);
}

static void
hp_ws(struct hparse *h)
{
	while (hp_peek(h) == ' ') {
		hp_skip(h, 1);
	}
}

static int
hp_expect(struct hparse *h, int ch, const char *what)
{
	if (hp_peek(h) != ch) {
		return hp_fail(h, what);
	}
	hp_skip(h, 1);
	return RF_OK;
}

/* A quoted string; *s points into the file, no copy. */
static int
hp_str(struct hparse *h, const uint8_t **s, size_t *n)
{
	int q = hp_peek(h);
	if (q != '\'' && q != '"') {
		return hp_fail(h, "expected a quoted string");
	}
	hp_skip(h, 1);
	const uint8_t *start = h->c.p;
	for (;;) {
		int ch = hp_peek(h);
		if (ch < 0) {
			return hp_fail(h, "unterminated string");
		}
		if (ch == q) {
			break;
		}
		/* Escapes would need a real Python lexer; no writer uses them
		 * in the three values we accept. */
		if (ch == '\\') {
			return hp_fail(h, "escape sequences are not supported");
		}
		if (ch < 0x20 || ch > 0x7e) {
			return hp_fail(h, "non-printable byte in a string");
		}
		hp_skip(h, 1);
	}
	*s = start;
	*n = (size_t)(h->c.p - start);
	hp_skip(h, 1);
	return RF_OK;
}

static bool
hp_word(struct hparse *h, const char *w)
{
	size_t n = strlen(w);
	if (h->c.left < n || memcmp(h->c.p, w, n) != 0) {
		return false;
	}
	hp_skip(h, n);
	return true;
}

static int
hp_bool(struct hparse *h, bool *v)
{
	if (hp_word(h, "True")) {
		*v = true;
		return RF_OK;
	}
	if (hp_word(h, "False")) {
		*v = false;
		return RF_OK;
	}
	return hp_fail(h, "'fortran_order' must be True or False");
}

static bool
is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

/*
 * A decimal int64. Out-of-range dimensions are caught later by
 * engine_tensor_shape_check; here we only refuse what does not fit in int64.
 */
static int
hp_int(struct hparse *h, int dim, int64_t *v)
{
	bool neg = false;
	if (hp_peek(h) == '-') {
		neg = true;
		hp_skip(h, 1);
	}
	if (!is_digit(hp_peek(h))) {
		return hp_fail(h, "expected a dimension");
	}
	/* Python 3 rejects "07"; so do we, rather than guess octal. */
	if (hp_peek(h) == '0' && h->c.left > 1 && is_digit(h->c.p[1])) {
		return hp_fail(h, "leading zero in a dimension");
	}
	int64_t x = 0;
	while (is_digit(hp_peek(h))) {
		int64_t d = hp_peek(h) - '0';
		if (__builtin_mul_overflow(x, 10, &x) ||
		    __builtin_add_overflow(x, d, &x)) {
			return rf_errf(h->ei, RF_ERR_RANGE,
			    "npy: dimension %d does not fit in 64 bits", dim);
		}
		hp_skip(h, 1);
	}
	*v = neg ? -x : x;
	return RF_OK;
}

static int
hp_shape(struct hparse *h, int *rank, int64_t *dims)
{
	int err = hp_expect(h, '(', "'shape' must be a tuple");
	if (err != RF_OK) {
		return err;
	}
	int n = 0;
	bool comma = false; /* a comma followed the last int */
	for (;;) {
		hp_ws(h);
		if (hp_peek(h) == ')') {
			break;
		}
		if (n > 0 && !comma) {
			return hp_fail(h, "expected ',' or ')' in 'shape'");
		}
		if (n == TENSOR_MAX_RANK) {
			return rf_errf(h->ei, RF_ERR_RANGE,
			    "npy: shape has more than %d dimensions",
			    TENSOR_MAX_RANK);
		}
		err = hp_int(h, n, &dims[n]);
		if (err != RF_OK) {
			return err;
		}
		n++;
		hp_ws(h);
		comma = hp_peek(h) == ',';
		if (comma) {
			hp_skip(h, 1);
		}
	}
	/* "(3)" is the int 3 in Python, not a tuple; numpy would refuse it. */
	if (n == 1 && !comma) {
		return hp_fail(h, "one-element shape needs a trailing comma");
	}
	hp_skip(h, 1);
	*rank = n;
	return RF_OK;
}

static bool
key_is(const uint8_t *k, size_t n, const char *name)
{
	return n == strlen(name) && memcmp(k, name, n) == 0;
}

static int
key_quote_len(size_t n)
{
	return (int)(n < NPY_QUOTE_MAX ? n : NPY_QUOTE_MAX);
}

static int
hp_entry(struct hparse *h, struct npy_header *hd)
{
	const uint8_t *k;
	size_t kn;
	int err = hp_str(h, &k, &kn);
	if (err != RF_OK) {
		return err;
	}
	unsigned bit;
	if (key_is(k, kn, "descr")) {
		bit = KEY_DESCR;
	} else if (key_is(k, kn, "fortran_order")) {
		bit = KEY_FORTRAN;
	} else if (key_is(k, kn, "shape")) {
		bit = KEY_SHAPE;
	} else {
		return rf_errf(h->ei, RF_ERR_FORMAT,
		    "npy: unknown key '%.*s' in header", key_quote_len(kn),
		    (const char *)k);
	}
	/* Python keeps the last duplicate; a second value is a second
	 * opinion about the data, so refuse rather than pick one. */
	if ((hd->seen & bit) != 0) {
		return rf_errf(h->ei, RF_ERR_FORMAT,
		    "npy: duplicate key '%.*s' in header", key_quote_len(kn),
		    (const char *)k);
	}
	hd->seen |= bit;
	hp_ws(h);
	err = hp_expect(h, ':', "expected ':' after a key");
	if (err != RF_OK) {
		return err;
	}
	hp_ws(h);
	switch (bit) {
	case KEY_DESCR:
		if (hp_peek(h) == '[') {
			return rf_errf(h->ei, RF_ERR_DTYPE,
			    "npy: structured dtypes are not supported");
		}
		return hp_str(h, &hd->descr, &hd->descr_len);
	case KEY_FORTRAN:
		return hp_bool(h, &hd->fortran);
	default:
		return hp_shape(h, &hd->rank, hd->dims);
	}
}

static int
hp_dict(struct hparse *h, struct npy_header *hd)
{
	int err = hp_expect(h, '{', "expected '{'");
	if (err != RF_OK) {
		return err;
	}
	bool comma = true; /* an entry may follow */
	for (;;) {
		hp_ws(h);
		if (hp_peek(h) == '}') {
			break;
		}
		if (!comma) {
			return hp_fail(h, "expected ',' or '}'");
		}
		err = hp_entry(h, hd);
		if (err != RF_OK) {
			return err;
		}
		hp_ws(h);
		comma = hp_peek(h) == ',';
		if (comma) {
			hp_skip(h, 1);
		}
	}
	hp_skip(h, 1);
	hp_ws(h);
	if (h->c.left != 0) {
		return hp_fail(h, "unexpected bytes after the dict");
	}
	static const struct {
		unsigned bit;
		const char *name;
	} keys[] = {
		{ KEY_DESCR, "descr" },
		{ KEY_FORTRAN, "fortran_order" },
		{ KEY_SHAPE, "shape" },
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if ((hd->seen & keys[i].bit) == 0) {
			return rf_errf(h->ei, RF_ERR_FORMAT,
			    "npy: header has no '%s' key", keys[i].name);
		}
	}
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* descr                                                                */
/* ------------------------------------------------------------------ */

struct npy_type {
	char kind;
	const char *size;
	const char *name; /* numpy's name, for messages */
};

static const struct npy_type npy_types[] = {
	{ 'b', "1", "bool" },
	{ 'i', "1", "int8" },
	{ 'i', "2", "int16" },
	{ 'i', "4", "int32" },
	{ 'i', "8", "int64" },
	{ 'u', "1", "uint8" },
	{ 'u', "2", "uint16" },
	{ 'u', "4", "uint32" },
	{ 'u', "8", "uint64" },
	{ 'f', "2", "float16" },
	{ 'f', "4", "float32" },
	{ 'f', "8", "float64" },
	{ 'f', "16", "float128" },
	{ 'c', "8", "complex64" },
	{ 'c', "16", "complex128" },
	{ 'c', "32", "complex256" },
};

/* A name for an unsupported descr, for the message. */
static const char *
descr_name(char kind, const uint8_t *size, size_t n)
{
	for (size_t i = 0; i < sizeof(npy_types) / sizeof(npy_types[0]); i++) {
		if (npy_types[i].kind == kind &&
		    key_is(size, n, npy_types[i].size)) {
			return npy_types[i].name;
		}
	}
	switch (kind) {
	case 'U':
		return "unicode string";
	case 'S':
	case 'a':
		return "byte string";
	case 'O':
		return "Python object";
	case 'V':
		return "raw bytes";
	case 'M':
		return "datetime64";
	case 'm':
		return "timedelta64";
	}
	return "unknown type";
}

static int
descr_parse(const uint8_t *s, size_t n, enum tensor_dtype *dt,
    struct rf_errinfo *ei)
{
	int qn = key_quote_len(n);
	const char *qs = (const char *)s;
	char order = 0;
	if (n > 0 && strchr("<>|=", s[0]) != NULL) {
		order = (char)s[0];
		s++;
		n--;
	}
	char kind = n > 0 ? (char)s[0] : 0;
	const uint8_t *size = n > 0 ? s + 1 : s;
	size_t size_n = n > 0 ? n - 1 : 0;
	const char *name = descr_name(kind, size, size_n);
	enum tensor_dtype t;
	if (kind == 'i' && key_is(size, size_n, "1")) {
		/* One byte: every byte order spelling is the same type. */
		*dt = TENSOR_I8;
		return RF_OK;
	} else if (kind == 'f' && key_is(size, size_n, "4")) {
		t = TENSOR_F32;
	} else if (kind == 'i' && key_is(size, size_n, "4")) {
		t = TENSOR_I32;
	} else if (kind == 'i' && key_is(size, size_n, "8")) {
		t = TENSOR_I64;
	} else if (kind == 'f' || kind == 'c') {
		return rf_errf(ei, RF_ERR_DTYPE,
		    "npy: dtype '%.*s' (%s) is not supported; use float32", qn,
		    qs, name);
	} else if (kind == 'i' || kind == 'u' || kind == 'b') {
		return rf_errf(ei, RF_ERR_DTYPE,
		    "npy: dtype '%.*s' (%s) is not supported; use int8, int32 "
		    "or int64", qn, qs, name);
	} else {
		return rf_errf(ei, RF_ERR_DTYPE,
		    "npy: dtype '%.*s' (%s) is not supported; use float32, "
		    "int8, int32 or int64", qn, qs, name);
	}
	if (order == '>') {
		return rf_errf(ei, RF_ERR_DTYPE,
		    "npy: dtype '%.*s' (%s) is big-endian; only little-endian "
		    "'<%c%c' is supported", qn, qs, name, kind, (char)size[0]);
	}
	if (order != '<') {
		return rf_errf(ei, RF_ERR_DTYPE,
		    "npy: dtype '%.*s' (%s) does not state its byte order; "
		    "only little-endian '<%c%c' is supported", qn, qs, name,
		    kind, (char)size[0]);
	}
	*dt = t;
	return RF_OK;
}

static const char *
descr_of(enum tensor_dtype dt)
{
	switch (dt) {
	case TENSOR_F32:
		return "<f4";
	case TENSOR_I8:
		return "|i1";
	case TENSOR_I32:
		return "<i4";
	case TENSOR_I64:
		return "<i8";
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Data                                                                 */
/* ------------------------------------------------------------------ */

static void
data_from_le(void *dst, const uint8_t *src, size_t count, size_t size)
{
	if (NPY_HOST_LE || size == 1) {
		memcpy(dst, src, count * size);
		return;
	}
	uint8_t *d = dst;
	for (size_t i = 0; i < count; i++) {
		const uint8_t *s = src + i * size;
		if (size == 4) {
			uint32_t v = (uint32_t)s[0] | (uint32_t)s[1] << 8 |
			    (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;
			memcpy(d + i * 4, &v, 4);
		} else {
			uint64_t v = 0;
			for (int b = 7; b >= 0; b--) {
				v = v << 8 | s[b];
			}
			memcpy(d + i * 8, &v, 8);
		}
	}
}

static void
data_to_le(uint8_t *dst, const void *src, size_t count, size_t size)
{
	if (NPY_HOST_LE || size == 1) {
		memcpy(dst, src, count * size);
		return;
	}
	const uint8_t *s = src;
	for (size_t i = 0; i < count; i++) {
		uint8_t *d = dst + i * size;
		if (size == 4) {
			uint32_t v;
			memcpy(&v, s + i * 4, 4);
			for (int b = 0; b < 4; b++) {
				d[b] = (uint8_t)(v >> (8 * b));
			}
		} else {
			uint64_t v;
			memcpy(&v, s + i * 8, 8);
			for (int b = 0; b < 8; b++) {
				d[b] = (uint8_t)(v >> (8 * b));
			}
		}
	}
}

/* ------------------------------------------------------------------ */
/* Decode                                                               */
/* ------------------------------------------------------------------ */

/* Magic, version and header length; leaves c at the header. */
static int
npy_prefix(struct rf_reader *c, uint32_t *hlen, struct rf_errinfo *ei)
{
	/* Compare what there is first, so a short non-.npy buffer is
	 * reported as the wrong format rather than as truncated. */
	size_t have = c->left < NPY_MAGIC_LEN ? c->left : NPY_MAGIC_LEN;
	if (have > 0 && memcmp(c->p, NPY_MAGIC, have) != 0) {
		return rf_errf(ei, RF_ERR_FORMAT,
		    "npy: bad magic (not a .npy file)");
	}
	if (have < NPY_MAGIC_LEN) {
		return rf_errf(ei, RF_ERR_TRUNCATED,
		    "npy: file ends inside the magic (%zu bytes)", c->left);
	}
	(void)rf_read_bytes(c, NPY_MAGIC_LEN);
	uint8_t major = rf_read_u8(c);
	uint8_t minor = rf_read_u8(c);
	if (c->err != RF_OK) {
		return rf_errf(ei, RF_ERR_TRUNCATED,
		    "npy: file ends inside the version");
	}
	if (major < 1 || major > 3 || minor != 0) {
		return rf_errf(ei, RF_ERR_VERSION,
		    "npy: format version %u.%u is not supported (1.0 to 3.0)",
		    major, minor);
	}
	*hlen = major == 1 ? rf_read_u16(c) : rf_read_u32(c);
	if (c->err != RF_OK) {
		return rf_errf(ei, RF_ERR_TRUNCATED,
		    "npy: file ends inside the header length");
	}
	if (*hlen > c->left) {
		return rf_errf(ei, RF_ERR_TRUNCATED,
		    "npy: header of %lu bytes runs past the end (%zu left)",
		    (unsigned long)*hlen, c->left);
	}
	return RF_OK;
}

static int
npy_header_parse(const uint8_t *file, struct rf_reader *c, uint32_t hlen,
    struct npy_header *hd, struct rf_errinfo *ei)
{
	if (hlen == 0 || c->p[hlen - 1] != '\n') {
		return rf_errf(ei, RF_ERR_FORMAT,
		    "npy: header does not end with a newline");
	}
	struct hparse h = { .file = file, .ei = ei };
	rf_reader_init(&h.c, c->p, hlen - 1);
	memset(hd, 0, sizeof(*hd));
	int err = hp_dict(&h, hd);
	if (err != RF_OK) {
		return err;
	}
	(void)rf_read_bytes(c, hlen);
	return RF_OK;
}

int
engine_tensor_npy_decode(const uint8_t *buf, size_t len, struct tensor *out,
    struct rf_errinfo *ei)
{
	struct rf_reader c;
	rf_reader_init(&c, buf, buf != NULL ? len : 0);
	uint32_t hlen = 0;
	int err = npy_prefix(&c, &hlen, ei);
	if (err != RF_OK) {
		return err;
	}
	struct npy_header hd;
	err = npy_header_parse(buf, &c, hlen, &hd, ei);
	if (err != RF_OK) {
		return err;
	}

	struct tensor t;
	memset(&t, 0, sizeof(t));
	err = descr_parse(hd.descr, hd.descr_len, &t.dtype, ei);
	if (err != RF_OK) {
		return err;
	}
	if (hd.fortran) {
		return rf_errf(ei, RF_ERR_NOTSUP,
		    "npy: Fortran order is not supported");
	}
	err = engine_tensor_shape_check(hd.rank, hd.dims, &t.count, ei);
	if (err != RF_OK) {
		return rf_errctx(ei, err, "npy: ");
	}
	t.rank = hd.rank;
	memcpy(t.dims, hd.dims, sizeof(t.dims));

	size_t size = engine_tensor_dtype_size(t.dtype);
	size_t need;
	if (!rf_size_mul(t.count, size, &need)) {
		return rf_errf(ei, RF_ERR_RANGE, "npy: data size overflows");
	}
	char shape[64];
	engine_tensor_shape_str(&t, shape, sizeof(shape));
	if (c.left < need) {
		return rf_errf(ei, RF_ERR_TRUNCATED,
		    "npy: data is %zu bytes, %s needs %zu", c.left, shape,
		    need);
	}
	if (c.left > need) {
		return rf_errf(ei, RF_ERR_FORMAT,
		    "npy: %zu trailing bytes after the %zu bytes of %s data",
		    c.left - need, need, shape);
	}

	t.data = engine_aligned_alloc(need);
	if (t.data == NULL) {
		return rf_errf(ei, RF_ERR_NOMEM,
		    "npy: out of memory for %zu bytes of %s data", need, shape);
	}
	t.owned = true;
	data_from_le(t.data, c.p, t.count, size);
	*out = t;
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Encode                                                               */
/* ------------------------------------------------------------------ */

/* Longest dict: rank 6, 20-digit dims, growth padding; generous. */
#define NPY_DICT_MAX 320

struct sbuf {
	char s[NPY_DICT_MAX];
	size_t n;
	bool full;
};

static void sb_add(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sb_add(struct sbuf *b, const char *fmt, ...)
{
	if (b->full) {
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(b->s + b->n, sizeof(b->s) - b->n, fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t)w >= sizeof(b->s) - b->n) {
		b->full = true;
		return;
	}
	b->n += (size_t)w;
}

/* The dict exactly as numpy.save spells it, growth padding included. */
static int
npy_dict(const struct tensor *t, struct sbuf *b)
{
	memset(b, 0, sizeof(*b));
	sb_add(b, "{'descr': '%s', 'fortran_order': False, 'shape': (",
	    descr_of(t->dtype));
	for (int i = 0; i < t->rank; i++) {
		sb_add(b, "%s%lld", i > 0 ? ", " : "", (long long)t->dims[i]);
	}
	/* Python's repr of a tuple: "()", "(3,)", "(2, 3)". */
	sb_add(b, "%s), }", t->rank == 1 ? "," : "");
	if (t->rank > 0) {
		int digits = snprintf(NULL, 0, "%lld", (long long)t->dims[0]);
		for (int i = digits; i < NPY_GROWTH_DIGITS; i++) {
			sb_add(b, " ");
		}
	}
	return b->full ? RF_ERR_RANGE : RF_OK;
}

int
engine_tensor_npy_encode(const struct tensor *t, uint8_t **buf, size_t *len)
{
	if (!engine_tensor_dtype_valid((int)t->dtype)) {
		return RF_ERR_DTYPE;
	}
	size_t count;
	int err = engine_tensor_shape_check(t->rank, t->dims, &count, NULL);
	if (err != RF_OK) {
		return err;
	}
	if (count != t->count || (count > 0 && t->data == NULL)) {
		return RF_ERR_INVAL;
	}
	struct sbuf dict;
	err = npy_dict(t, &dict);
	if (err != RF_OK) {
		return err;
	}

	/*
	 * numpy's rule (format._wrap_header): pad = 64 - (prefix + dict +
	 * '\n') % 64, so an already aligned header gets 64 spaces, not 0.
	 * Version 2.0 only when the length does not fit in a u16, which
	 * cannot happen below NPY_DICT_MAX but costs nothing to honour.
	 */
	size_t hlen = dict.n + 1;
	size_t prefix = NPY_MAGIC_LEN + 2 + 2;
	size_t pad = NPY_ALIGN - (prefix + hlen) % NPY_ALIGN;
	uint8_t major = 1;
	if (hlen + pad > 0xffff) {
		major = 2;
		prefix = NPY_MAGIC_LEN + 2 + 4;
		pad = NPY_ALIGN - (prefix + hlen) % NPY_ALIGN;
	}
	size_t head = prefix + hlen + pad;
	size_t size = engine_tensor_dtype_size(t->dtype);
	size_t nbytes = count * size;
	size_t total;
	if (!rf_size_add(head, nbytes, &total)) {
		return RF_ERR_RANGE;
	}
	uint8_t *b = malloc(total);
	if (b == NULL) {
		return RF_ERR_NOMEM;
	}

	uint32_t field = (uint32_t)(hlen + pad);
	memcpy(b, NPY_MAGIC, NPY_MAGIC_LEN);
	b[6] = major;
	b[7] = 0;
	b[8] = (uint8_t)field;
	b[9] = (uint8_t)(field >> 8);
	if (major == 2) {
		b[10] = (uint8_t)(field >> 16);
		b[11] = (uint8_t)(field >> 24);
	}
	memcpy(b + prefix, dict.s, dict.n);
	memset(b + prefix + dict.n, ' ', pad);
	b[head - 1] = '\n';
	if (nbytes > 0) {
		data_to_le(b + head, t->data, count, size);
	}
	*buf = b;
	*len = total;
	return RF_OK;
}
