/*
 * engine/op_matmul.c - MatMul and Gemm (f32), and the quantized
 * MatMulInteger, QLinearMatMul and QGemm (int8 operands, int32 sums).
 *
 * All f32 products go through engine_sgemm, whose canonical order (one
 * fmaf chain per output element, k ascending from +0.0f) defines the bits.
 * Gemm then applies y = alpha * acc (+ beta * c), each step one rounded
 * float operation. Quantized sums are exact (int32, wrapping);
 * requantisation is defined in double with round-half-even (engine_det_rint).
 */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

/* Linear index into an operand of the given (right-aligned, broadcast)
 * batch shape for the lin-th element of the output batch shape. */
static size_t
bcast_index(size_t lin, int out_rank, const int64_t *out_dims, int rank,
    const int64_t *dims)
{
	size_t idx = 0;
	size_t stride = 1;
	for (int d = out_rank - 1; d >= 0; d--) {
		size_t coord = lin % (size_t)out_dims[d];
		lin /= (size_t)out_dims[d];
		int od = d - (out_rank - rank);
		if (od >= 0) {
			if (dims[od] != 1) {
				idx += coord * stride;
			}
			stride *= (size_t)dims[od];
		}
	}
	return idx;
}

/* Shapes of a numpy-style matmul, with batch dims broadcast. */
struct mm_shape {
	size_t m, n, k;
	int rank_out;
	int64_t out[TENSOR_MAX_RANK];
	int batch_rank, a_batch_rank, b_batch_rank;
	const int64_t *a_batch, *b_batch;
	size_t batches;
};

static int
mm_shape(const struct op_call *c, const struct tensor *a,
    const struct tensor *b, struct mm_shape *s)
{
	if (a->rank < 1 || b->rank < 1) {
		return rf_errf(c->ei, RF_ERR_SHAPE,
		    "MatMul operands must have rank >= 1");
	}
	/* A 1-D A is a row [1, K]; a 1-D B is a column [K, 1]; the added
	 * dimension is dropped from the result again. */
	size_t m = a->rank == 1 ? 1 : (size_t)a->dims[a->rank - 2];
	size_t ka = (size_t)a->dims[a->rank - 1];
	size_t kb = b->rank == 1 ? (size_t)b->dims[0] :
	    (size_t)b->dims[b->rank - 2];
	size_t n = b->rank == 1 ? 1 : (size_t)b->dims[b->rank - 1];
	if (ka != kb) {
		return rf_errf(c->ei, RF_ERR_SHAPE,
		    "inner dimensions differ: %zu vs %zu", ka, kb);
	}
	int abr = a->rank > 2 ? a->rank - 2 : 0;
	int bbr = b->rank > 2 ? b->rank - 2 : 0;
	int br;
	int64_t bd[TENSOR_MAX_RANK];
	int err = engine_tensor_broadcast_shape(abr, a->dims, bbr, b->dims, &br, bd,
	    c->ei);
	if (err != RF_OK) {
		return err;
	}
	memset(s, 0, sizeof(*s));
	s->m = m;
	s->n = n;
	s->k = ka;
	s->batch_rank = br;
	s->a_batch_rank = abr;
	s->b_batch_rank = bbr;
	s->a_batch = a->dims;
	s->b_batch = b->dims;
	s->batches = 1;
	for (int i = 0; i < br; i++) {
		s->out[i] = bd[i];
		s->batches *= (size_t)bd[i];
	}
	int r = br;
	if (a->rank > 1) {
		if (r >= TENSOR_MAX_RANK) {
			return rf_errf(c->ei, RF_ERR_RANGE, "result rank too big");
		}
		s->out[r++] = (int64_t)m;
	}
	if (b->rank > 1) {
		if (r >= TENSOR_MAX_RANK) {
			return rf_errf(c->ei, RF_ERR_RANGE, "result rank too big");
		}
		s->out[r++] = (int64_t)n;
	}
	s->rank_out = r;
	return RF_OK;
}

int
engine_op_matmul_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	return engine_op_attrs_only(at, NULL, "MatMul", ei);
}

struct mm_batches {
	const struct mm_shape *s;
	const float *ad, *bd;
	float *yd;
	const struct engine_packed_b *pb;
	enum engine_kernels kernels;
};

static void
mm_batch_run(void *ctx, unsigned worker, size_t t)
{
	(void)worker;
	const struct mm_batches *p = ctx;
	const struct mm_shape *s = p->s;
	size_t ia = bcast_index(t, s->batch_rank, s->out, s->a_batch_rank,
	    s->a_batch);
	size_t ib = bcast_index(t, s->batch_rank, s->out, s->b_batch_rank,
	    s->b_batch);
	if (p->pb != NULL && engine_sgemm_packed(false, s->m, s->n, s->k,
	                         p->ad + ia * s->m * s->k, s->k, p->pb,
	                         p->yd + t * s->m * s->n, s->n)) {
		return;
	}
	engine_sgemm(p->kernels, s->m, s->n, s->k, p->ad + ia * s->m * s->k,
	    s->k, p->bd + ib * s->k * s->n, s->n, p->yd + t * s->m * s->n,
	    s->n);
}

int
engine_op_matmul_eval(const struct op_call *c)
{
	int err = engine_op_need_dtype(c, 0, TENSOR_F32);
	if (err == RF_OK) {
		err = engine_op_need_dtype(c, 1, TENSOR_F32);
	}
	if (err != RF_OK) {
		return err;
	}
	const struct tensor *a = c->in[0];
	const struct tensor *b = c->in[1];
	struct mm_shape s;
	err = mm_shape(c, a, b, &s);
	if (err != RF_OK) {
		return err;
	}
	err = engine_op_out_alloc(c, 0, TENSOR_F32, s.rank_out, s.out);
	if (err != RF_OK) {
		return err;
	}
	const float *ad = a->data;
	const float *bd = b->data;
	float *yd = c->out[0].data;
	/* A 2-D weight B is packed once for the run's life (engine/run.c). */
	const struct engine_packed_b *pb = NULL;
	if (c->kernels == ENGINE_KERNELS_FAST && c->packed_b != NULL &&
	    b->rank == 2 && s.m > 0) {
		pb = c->packed_b(c, 1, false, s.k, s.n, s.n);
	}
	struct mm_batches mb = { &s, ad, bd, yd, pb, c->kernels };
	/* Batches (attention heads) are independent products: threads take
	 * whole ones, each on one thread; one big product is cut into bands
	 * by the GEMM itself instead. */
	size_t work = s.m * s.n * s.k;
	unsigned w = engine_par_width(work > SIZE_MAX / (s.batches + 1) ?
	    SIZE_MAX : work * s.batches, s.batches);
	engine_par_run(w, s.batches, mm_batch_run, &mb);
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Gemm                                                                 */
/* ------------------------------------------------------------------ */

struct gemm_params {
	float alpha, beta;
	int64_t trans_a, trans_b;
};

int
engine_op_gemm_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	static const char *const known[] = { "alpha", "beta", "transA",
		"transB", NULL };
	struct gemm_params g;
	int err = engine_op_attrs_only(at, known, "Gemm", ei);
	if (err == RF_OK) {
		err = engine_op_attr_get_float(at, "alpha", 1.0f, &g.alpha, ei);
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_float(at, "beta", 1.0f, &g.beta, ei);
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "transA", 0, 0, 1, &g.trans_a, ei);
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "transB", 0, 0, 1, &g.trans_b, ei);
	}
	if (err == RF_OK) {
		OP_PARAMS_PUT(p, g);
	}
	return err;
}

/* A rows x cols matrix of elem-size bytes, transposed into new storage. */
static void *
transpose2d(const void *src, size_t rows, size_t cols, size_t elem)
{
	size_t bytes;
	if (!rf_size_mul(rows * cols, elem, &bytes)) {
		return NULL;
	}
	unsigned char *dst = engine_aligned_alloc(bytes);
	if (dst == NULL) {
		return NULL;
	}
	const unsigned char *s = src;
	for (size_t i = 0; i < rows; i++) {
		for (size_t j = 0; j < cols; j++) {
			memcpy(dst + (j * rows + i) * elem,
			    s + (i * cols + j) * elem, elem);
		}
	}
	return dst;
}

/* Operand of a 2-D product, transposed in memory when asked. */
struct mat_operand {
	const void *data;
	void *scratch;
	size_t rows, cols; /* as used in the product */
};

static int
mat_operand_init(const struct op_call *c, const struct tensor *t,
    bool trans, const char *what, struct mat_operand *op)
{
	if (t->rank != 2) {
		return rf_errf(c->ei, RF_ERR_SHAPE, "%s must be 2-D, got rank %d",
		    what, t->rank);
	}
	size_t r = (size_t)t->dims[0];
	size_t cl = (size_t)t->dims[1];
	memset(op, 0, sizeof(*op));
	if (!trans) {
		op->data = t->data;
		op->rows = r;
		op->cols = cl;
		return RF_OK;
	}
	op->scratch = transpose2d(t->data, r, cl, engine_tensor_dtype_size(t->dtype));
	if (op->scratch == NULL && r * cl > 0) {
		return RF_ERR_NOMEM;
	}
	op->data = op->scratch;
	op->rows = cl;
	op->cols = r;
	return RF_OK;
}

/* Checks that bias shape broadcasts one way to [m, n]; gives strides. */
static int
bias_strides(const struct op_call *c, const struct tensor *bias, size_t m,
    size_t n, size_t *rs, size_t *cs)
{
	int64_t dm = bias->rank >= 2 ? bias->dims[bias->rank - 2] : 1;
	int64_t dn = bias->rank >= 1 ? bias->dims[bias->rank - 1] : 1;
	if (bias->rank > 2 || (dm != 1 && (size_t)dm != m) ||
	    (dn != 1 && (size_t)dn != n)) {
		return rf_errf(c->ei, RF_ERR_SHAPE,
		    "C does not broadcast to [%zu, %zu]", m, n);
	}
	*cs = dn == 1 ? 0 : 1;
	*rs = dm == 1 ? 0 : (size_t)dn;
	return RF_OK;
}

int
engine_op_gemm_eval(const struct op_call *c)
{
	struct gemm_params g;
	OP_PARAMS_GET(c->params, g);
	int err = engine_op_need_dtype(c, 0, TENSOR_F32);
	if (err == RF_OK) {
		err = engine_op_need_dtype(c, 1, TENSOR_F32);
	}
	const struct tensor *bias = c->n_in > 2 ? c->in[2] : NULL;
	if (err == RF_OK && bias != NULL) {
		err = engine_op_need_dtype(c, 2, TENSOR_F32);
	}
	if (err != RF_OK) {
		return err;
	}
	/* Transposed operands are read in place by engine_sgemm_t: a
	 * PyTorch Linear (transB=1) costs no copy of its weight. */
	const struct tensor *ta = c->in[0];
	const struct tensor *tb = c->in[1];
	if (ta->rank != 2) {
		return rf_errf(c->ei, RF_ERR_SHAPE, "A must be 2-D, got rank %d",
		    ta->rank);
	}
	if (tb->rank != 2) {
		return rf_errf(c->ei, RF_ERR_SHAPE, "B must be 2-D, got rank %d",
		    tb->rank);
	}
	size_t m = (size_t)ta->dims[g.trans_a ? 1 : 0];
	size_t ka = (size_t)ta->dims[g.trans_a ? 0 : 1];
	size_t kb = (size_t)tb->dims[g.trans_b ? 1 : 0];
	size_t n = (size_t)tb->dims[g.trans_b ? 0 : 1];
	size_t rs = 0, cs = 0;
	if (ka != kb) {
		return rf_errf(c->ei, RF_ERR_SHAPE,
		    "inner dimensions differ: %zu vs %zu", ka, kb);
	}
	if (bias != NULL) {
		err = bias_strides(c, bias, m, n, &rs, &cs);
		if (err != RF_OK) {
			return err;
		}
	}
	int64_t dims[2] = { (int64_t)m, (int64_t)n };
	err = engine_op_out_alloc(c, 0, TENSOR_F32, 2, dims);
	if (err != RF_OK) {
		return err;
	}
	float *y = c->out[0].data;
	/* A weight is packed once for the whole run's life (engine/run.c);
	 * the product is the same, bit for bit. */
	const struct engine_packed_b *pb = NULL;
	if (c->kernels == ENGINE_KERNELS_FAST && c->packed_b != NULL && m > 0) {
		pb = c->packed_b(c, 1, g.trans_b != 0, ka, n,
		    (size_t)tb->dims[1]);
	}
	if (pb == NULL || !engine_sgemm_packed(g.trans_a != 0, m, n, ka,
	                      ta->data, (size_t)ta->dims[1], pb, y, n)) {
		engine_sgemm_t(c->kernels, g.trans_a != 0, g.trans_b != 0, m, n,
		    ka, ta->data, (size_t)ta->dims[1], tb->data,
		    (size_t)tb->dims[1], y, n);
	}
	/* y = alpha * acc (+ beta * c). Multiplying by 1 returns its operand
	 * (a NaN stays a NaN, canonicalised after the operator), so the
	 * common alpha = beta = 1 skips those products, bit for bit. */
	const float *cd = bias != NULL ? bias->data : NULL;
	for (size_t i = 0; i < m; i++) {
		float *yr = y + i * n;
		if (g.alpha != 1.0f) {
			for (size_t j = 0; j < n; j++) {
				yr[j] = g.alpha * yr[j];
			}
		}
		if (cd == NULL) {
			continue;
		}
		const float *cr = cd + i * rs;
		if (g.beta == 1.0f && cs == 1) {
			for (size_t j = 0; j < n; j++) {
				yr[j] = yr[j] + cr[j];
			}
		} else {
			for (size_t j = 0; j < n; j++) {
				yr[j] = yr[j] + g.beta * cr[j * cs];
			}
		}
	}
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Quantized                                                            */
/* ------------------------------------------------------------------ */

/* A scalar (or one-element) quantization parameter of the given dtype. */
static int
q_scalar(const struct op_call *c, size_t i, enum tensor_dtype dt,
    bool optional, double *out)
{
	if (i >= c->n_in || c->in[i] == NULL) {
		if (optional) {
			*out = 0.0;
			return RF_OK;
		}
		return rf_errf(c->ei, RF_ERR_INVAL, "input %zu is missing", i);
	}
	int err = engine_op_need_dtype(c, i, dt);
	if (err != RF_OK) {
		return err;
	}
	if (c->in[i]->count != 1) {
		return rf_errf(c->ei, RF_ERR_NOTSUP,
		    "input %zu: only per-tensor (scalar) quantization is "
		    "supported, got %zu values", i, c->in[i]->count);
	}
	if (dt == TENSOR_F32) {
		float f = *(const float *)c->in[i]->data;
		if (!(f > 0.0f) || f > 3.4e38f) {
			return rf_errf(c->ei, RF_ERR_INVAL,
			    "input %zu: scale must be positive and finite", i);
		}
		*out = (double)f;
	} else {
		*out = (double)*(const int8_t *)c->in[i]->data;
	}
	return RF_OK;
}

/* y = saturate_int8(round_half_even(acc * mult) + zp) */
static int8_t
requantize(int32_t acc, double mult, double zp)
{
	double v = engine_det_rint((double)acc * mult) + zp;
	if (v > 127.0) {
		return 127;
	}
	if (v < -128.0) {
		return -128;
	}
	return (int8_t)v;
}

/* Batched integer product of a and b into out (int32), numpy-style. */
static int
imatmul(const struct op_call *c, const struct tensor *a,
    const struct tensor *b, int32_t za, int32_t zb, size_t out_i)
{
	struct mm_shape s;
	int err = mm_shape(c, a, b, &s);
	if (err != RF_OK) {
		return err;
	}
	err = engine_op_out_alloc(c, out_i, TENSOR_I32, s.rank_out, s.out);
	if (err != RF_OK) {
		return err;
	}
	const int8_t *ad = a->data;
	const int8_t *bd = b->data;
	int32_t *yd = c->out[out_i].data;
	for (size_t t = 0; t < s.batches; t++) {
		size_t ia = bcast_index(t, s.batch_rank, s.out, s.a_batch_rank,
		    s.a_batch);
		size_t ib = bcast_index(t, s.batch_rank, s.out, s.b_batch_rank,
		    s.b_batch);
		engine_igemm(c->kernels, s.m, s.n, s.k, ad + ia * s.m * s.k,
		    s.k, za, bd + ib * s.k * s.n, s.n, zb, yd + t * s.m * s.n,
		    s.n);
	}
	return RF_OK;
}

int
engine_op_matmulinteger_eval(const struct op_call *c)
{
	double za = 0.0, zb = 0.0;
	int err = engine_op_need_dtype(c, 0, TENSOR_I8);
	if (err == RF_OK) {
		err = engine_op_need_dtype(c, 1, TENSOR_I8);
	}
	if (err == RF_OK) {
		err = q_scalar(c, 2, TENSOR_I8, true, &za);
	}
	if (err == RF_OK) {
		err = q_scalar(c, 3, TENSOR_I8, true, &zb);
	}
	if (err != RF_OK) {
		return err;
	}
	return imatmul(c, c->in[0], c->in[1], (int32_t)za, (int32_t)zb, 0);
}

int
engine_op_qlinearmatmul_eval(const struct op_call *c)
{
	/* a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp */
	double sa = 0.0, za = 0.0, sb = 0.0, zb = 0.0, sy = 0.0, zy = 0.0;
	int err = engine_op_need_dtype(c, 0, TENSOR_I8);
	if (err == RF_OK) {
		err = engine_op_need_dtype(c, 3, TENSOR_I8);
	}
	if (err == RF_OK) {
		err = q_scalar(c, 1, TENSOR_F32, false, &sa);
	}
	if (err == RF_OK) {
		err = q_scalar(c, 2, TENSOR_I8, false, &za);
	}
	if (err == RF_OK) {
		err = q_scalar(c, 4, TENSOR_F32, false, &sb);
	}
	if (err == RF_OK) {
		err = q_scalar(c, 5, TENSOR_I8, false, &zb);
	}
	if (err == RF_OK) {
		err = q_scalar(c, 6, TENSOR_F32, false, &sy);
	}
	if (err == RF_OK) {
		err = q_scalar(c, 7, TENSOR_I8, false, &zy);
	}
	if (err != RF_OK) {
		return err;
	}
	err = imatmul(c, c->in[0], c->in[3], (int32_t)za, (int32_t)zb, 0);
	if (err != RF_OK) {
		return err;
	}
	struct tensor acc = c->out[0];
	struct tensor y;
	err = engine_tensor_init(&y, TENSOR_I8, acc.rank, acc.dims);
	if (err != RF_OK) {
		engine_tensor_fini(&c->out[0]);
		return err;
	}
	double mult = (sa * sb) / sy;
	const int32_t *ad = acc.data;
	int8_t *yd = y.data;
	for (size_t i = 0; i < acc.count; i++) {
		yd[i] = requantize(ad[i], mult, zy);
	}
	engine_tensor_fini(&c->out[0]);
	c->out[0] = y;
	return RF_OK;
}

struct qgemm_params {
	float alpha;
	int64_t trans_a, trans_b;
};

int
engine_op_qgemm_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	static const char *const known[] = { "alpha", "transA", "transB",
		NULL };
	struct qgemm_params g;
	int err = engine_op_attrs_only(at, known, "QGemm", ei);
	if (err == RF_OK) {
		err = engine_op_attr_get_float(at, "alpha", 1.0f, &g.alpha, ei);
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "transA", 0, 0, 1, &g.trans_a, ei);
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "transB", 0, 0, 1, &g.trans_b, ei);
	}
	if (err == RF_OK) {
		OP_PARAMS_PUT(p, g);
	}
	return err;
}

/*
 * QGemm: A, a_scale, a_zp, B, b_scale, b_zp [, C (int32 bias, [n] or
 * [m, n]), y_scale, y_zp]. acc = (A - za)(B - zb) + C in int32; with
 * y_scale the result is int8 requantized with alpha*sa*sb/sy, without it
 * f32 acc * (alpha*sa*sb).
 */
int
engine_op_qgemm_eval(const struct op_call *c)
{
	struct qgemm_params g;
	OP_PARAMS_GET(c->params, g);
	double sa, za, sb, zb, sy = 0.0, zy = 0.0;
	const struct tensor *bias = c->n_in > 6 ? c->in[6] : NULL;
	bool quant_out = c->n_in > 7 && c->in[7] != NULL;
	int err = engine_op_need_dtype(c, 0, TENSOR_I8);
	if (err == RF_OK) {
		err = engine_op_need_dtype(c, 3, TENSOR_I8);
	}
	if (err == RF_OK) {
		err = q_scalar(c, 1, TENSOR_F32, false, &sa);
	}
	if (err == RF_OK) {
		err = q_scalar(c, 2, TENSOR_I8, false, &za);
	}
	if (err == RF_OK) {
		err = q_scalar(c, 4, TENSOR_F32, false, &sb);
	}
	if (err == RF_OK) {
		err = q_scalar(c, 5, TENSOR_I8, false, &zb);
	}
	if (err == RF_OK && quant_out) {
		err = q_scalar(c, 7, TENSOR_F32, false, &sy);
		if (err == RF_OK) {
			err = q_scalar(c, 8, TENSOR_I8, true, &zy);
		}
	}
	if (err == RF_OK && bias != NULL) {
		err = engine_op_need_dtype(c, 6, TENSOR_I32);
	}
	/* An infinite alpha would make 0 * inf = NaN, which has no int8
	 * value. */
	if (err == RF_OK && !(g.alpha > 0.0f && g.alpha <= FLT_MAX)) {
		err = rf_errf(c->ei, RF_ERR_INVAL,
		    "alpha must be positive and finite");
	}
	if (err != RF_OK) {
		return err;
	}
	struct mat_operand a, b;
	err = mat_operand_init(c, c->in[0], g.trans_a, "A", &a);
	if (err != RF_OK) {
		return err;
	}
	err = mat_operand_init(c, c->in[3], g.trans_b, "B", &b);
	if (err != RF_OK) {
		engine_aligned_free(a.scratch);
		return err;
	}
	size_t m = a.rows, n = b.cols;
	size_t rs = 0, cs = 0;
	int32_t *acc = NULL;
	if (a.cols != b.rows) {
		err = rf_errf(c->ei, RF_ERR_SHAPE,
		    "inner dimensions differ: %zu vs %zu", a.cols, b.rows);
	} else if (bias != NULL) {
		err = bias_strides(c, bias, m, n, &rs, &cs);
	}
	if (err == RF_OK) {
		acc = engine_aligned_alloc(m * n * sizeof(int32_t));
		if (acc == NULL) {
			err = RF_ERR_NOMEM;
		}
	}
	if (err == RF_OK) {
		int64_t dims[2] = { (int64_t)m, (int64_t)n };
		err = engine_op_out_alloc(c, 0, quant_out ? TENSOR_I8 : TENSOR_F32, 2,
		    dims);
	}
	if (err == RF_OK) {
		engine_igemm(c->kernels, m, n, a.cols, a.data, a.cols,
		    (int32_t)za, b.data, n, (int32_t)zb, acc, n);
		const int32_t *bd = bias != NULL ? bias->data : NULL;
		double scale = (double)g.alpha * sa * sb;
		double mult = quant_out ? scale / sy : scale;
		for (size_t i = 0; i < m; i++) {
			for (size_t j = 0; j < n; j++) {
				uint32_t v = (uint32_t)acc[i * n + j];
				if (bd != NULL) {
					v += (uint32_t)bd[i * rs + j * cs];
				}
				int32_t s = (int32_t)v;
				if (quant_out) {
					((int8_t *)c->out[0].data)[i * n + j] =
					    requantize(s, mult, zy);
				} else {
					((float *)c->out[0].data)[i * n + j] =
					    (float)((double)s * mult);
				}
			}
		}
	}
	engine_aligned_free(acc);
	engine_aligned_free(a.scratch);
	engine_aligned_free(b.scratch);
	return err;
}
