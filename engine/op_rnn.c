/*
 * engine/op_rnn.c - LSTM and GRU with ONNX semantics: layout 0
 * (X [seq, batch, input]), default activations, forward, reverse or
 * bidirectional, no peepholes, clip or sequence_lens.
 *
 * The whole recurrence is one operator, so a dispute recomputes it in
 * one referee step like any other. Canonical order (docs/determinism.md),
 * per time step, batch row and gate row j:
 *
 *   acc = +0.0f; acc = fmaf(x[k], W[j][k], acc) for k = 0..I-1;
 *   acc = fmaf(h[k], R[j][k], acc) for k = 0..H-1; acc = acc + Wb[j];
 *   acc = acc + Rb[j]   (float, in that order)
 *
 * LSTM (gates i, o, f, c): i, o, f = det_sigmoidf, g = det_tanhf,
 * c = f * c_prev + i * g (two products, one sum), h = o * det_tanhf(c).
 * GRU (gates z, r, h): z, r as above; with linear_before_reset (what
 * PyTorch exports) n = det_tanhf(xw + r * (hR + Rb) + Wb), where xw and
 * hR are the two halves of the sum above; without it the hidden part is
 * (r * h) R; h = (1 - z) * n + z * h_prev.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

enum rnn_dir { RNN_FORWARD, RNN_REVERSE, RNN_BIDIR };

struct rnn_params {
	int64_t hidden;
	int64_t dir;
	int64_t lbr; /* GRU linear_before_reset */
};

static int
rnn_parse(const struct op_attrs *at, struct op_params *p, bool gru,
    struct rf_errinfo *ei)
{
	static const char *const known_lstm[] = { "direction", "hidden_size",
		"input_forget", "layout", NULL };
	static const char *const known_gru[] = { "direction", "hidden_size",
		"layout", "linear_before_reset", NULL };
	const char *op = gru ? "GRU" : "LSTM";
	struct rnn_params rp = { 0, RNN_FORWARD, 0 };
	int64_t layout = 0, forget = 0;
	int err = engine_op_attrs_only(at, gru ? known_gru : known_lstm, op, ei);
	if (err == RF_OK && engine_op_attr_find(at, "hidden_size") == NULL) {
		err = rf_errf(ei, RF_ERR_INVAL,
		    "attribute 'hidden_size' is required");
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "hidden_size", 1, 1,
		    TENSOR_MAX_DIM, &rp.hidden, ei);
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "layout", 0, 0, 0, &layout, ei);
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "input_forget", 0, 0, 0,
		    &forget, ei);
	}
	if (err == RF_OK) {
		err = engine_op_attr_get_int(at, "linear_before_reset", 0, 0, 1,
		    &rp.lbr, ei);
	}
	const struct engine_attr *d = engine_op_attr_find(at, "direction");
	if (err == RF_OK && d != NULL) {
		static const char *const names[] = { "forward", "reverse",
			"bidirectional" };
		bool found = false;
		for (int i = 0; i < 3 && d->type == ENGINE_ATTR_STRING; i++) {
			if (d->count == strlen(names[i]) &&
			    memcmp(d->v.str, names[i], d->count) == 0) {
				rp.dir = i;
				found = true;
			}
		}
		if (!found) {
			err = rf_errf(ei, RF_ERR_INVAL,
			    "attribute 'direction' must be forward, reverse or "
			    "bidirectional");
		}
	}
	if (err == RF_OK) {
		OP_PARAMS_PUT(p, rp);
	}
	return err;
}

int
engine_op_lstm_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	return rnn_parse(at, p, false, ei);
}

int
engine_op_gru_parse(const struct op_attrs *at, size_t n_inputs,
    struct op_params *p, struct rf_errinfo *ei)
{
	return rnn_parse(at, p, true, ei);
}

/* Checks input i is f32 with exactly the given dims. */
static int
need_shape(const struct op_call *c, size_t i, int rank, const int64_t *dims,
    const char *what)
{
	const struct tensor *t = c->in[i];
	int err = engine_op_need_dtype(c, i, TENSOR_F32);
	if (err != RF_OK) {
		return err;
	}
	bool ok = t->rank == rank;
	for (int d = 0; ok && d < rank; d++) {
		ok = t->dims[d] == dims[d];
	}
	if (!ok) {
		char got[96];
		engine_tensor_shape_str(t, got, sizeof(got));
		return rf_errf(c->ei, RF_ERR_SHAPE, "%s (input %zu) is %s", what,
		    i, got);
	}
	return RF_OK;
}

struct rnn_shape {
	size_t seq, batch, in, hid, dirs, gates;
};

/* X, W, R, B and the initial states; sequence_lens and peepholes are
 * not supported. */
static int
rnn_check(const struct op_call *c, const struct rnn_params *rp, size_t gates,
    struct rnn_shape *s)
{
	const struct tensor *x = c->in[0];
	int err = engine_op_need_dtype(c, 0, TENSOR_F32);
	if (err != RF_OK) {
		return err;
	}
	if (x->rank != 3) {
		return rf_errf(c->ei, RF_ERR_SHAPE,
		    "X must be [seq, batch, input], rank %d given", x->rank);
	}
	s->seq = (size_t)x->dims[0];
	s->batch = (size_t)x->dims[1];
	s->in = (size_t)x->dims[2];
	s->hid = (size_t)rp->hidden;
	s->dirs = rp->dir == RNN_BIDIR ? 2 : 1;
	s->gates = gates;
	int64_t gh = (int64_t)(gates * s->hid);
	int64_t dw[3] = { (int64_t)s->dirs, gh, (int64_t)s->in };
	int64_t dr[3] = { (int64_t)s->dirs, gh, (int64_t)s->hid };
	int64_t db[2] = { (int64_t)s->dirs, 2 * gh };
	int64_t dh[3] = { (int64_t)s->dirs, (int64_t)s->batch,
		(int64_t)s->hid };
	err = need_shape(c, 1, 3, dw, "W");
	if (err == RF_OK) {
		err = need_shape(c, 2, 3, dr, "R");
	}
	if (err == RF_OK && c->n_in > 3 && c->in[3] != NULL) {
		err = need_shape(c, 3, 2, db, "B");
	}
	if (err == RF_OK && c->n_in > 4 && c->in[4] != NULL) {
		err = rf_errf(c->ei, RF_ERR_NOTSUP,
		    "sequence_lens is not supported");
	}
	if (err == RF_OK && c->n_in > 5 && c->in[5] != NULL) {
		err = need_shape(c, 5, 3, dh, "initial_h");
	}
	if (err == RF_OK && gates == 4 && c->n_in > 6 && c->in[6] != NULL) {
		err = need_shape(c, 6, 3, dh, "initial_c");
	}
	if (err == RF_OK && c->n_in > 7 && c->in[7] != NULL) {
		err = rf_errf(c->ei, RF_ERR_NOTSUP,
		    "peepholes (P) are not supported");
	}
	return err;
}

/* The gate pre-activation of row j: x part, then h part, in the one
 * order; the biases are added by the caller. */
static float
dot2(const float *x, const float *w, size_t n, float acc)
{
	for (size_t k = 0; k < n; k++) {
		acc = __builtin_fmaf(x[k], w[k], acc);
	}
	return acc;
}

static int
rnn_alloc(const struct op_call *c, const struct rnn_shape *s)
{
	int64_t dy[4] = { (int64_t)s->seq, (int64_t)s->dirs,
		(int64_t)s->batch, (int64_t)s->hid };
	int64_t dh[3] = { (int64_t)s->dirs, (int64_t)s->batch,
		(int64_t)s->hid };
	int err = RF_OK;
	for (size_t i = 0; err == RF_OK && i < c->n_out; i++) {
		err = i == 0 ? engine_op_out_alloc(c, 0, TENSOR_F32, 4, dy) :
		    engine_op_out_alloc(c, i, TENSOR_F32, 3, dh);
	}
	if (err != RF_OK) {
		for (size_t i = 0; i < c->n_out; i++) {
			engine_tensor_fini(&c->out[i]);
		}
	}
	return err;
}

static int
rnn_eval(const struct op_call *c, bool gru)
{
	struct rnn_params rp;
	OP_PARAMS_GET(c->params, rp);
	struct rnn_shape s = { 0, 0, 0, 0, 0, 0 };
	size_t gates = gru ? 3 : 4;
	int err = rnn_check(c, &rp, gates, &s);
	if (err == RF_OK) {
		err = rnn_alloc(c, &s);
	}
	if (err != RF_OK) {
		return err;
	}
	size_t H = s.hid, G = gates * H;
	/* Per direction: h and c of every batch row, and the gates. */
	float *h = calloc(s.batch * H, sizeof(float));
	float *cs = calloc(s.batch * H, sizeof(float));
	float *g = calloc(G > 0 ? G : 1, sizeof(float));
	float *hr = calloc(H > 0 ? H : 1, sizeof(float));
	if (h == NULL || cs == NULL || g == NULL || hr == NULL) {
		free(h);
		free(cs);
		free(g);
		free(hr);
		for (size_t i = 0; i < c->n_out; i++) {
			engine_tensor_fini(&c->out[i]);
		}
		return RF_ERR_NOMEM;
	}
	const float *X = c->in[0]->data;
	float *Y = c->out[0].data;
	for (size_t d = 0; d < s.dirs; d++) {
		bool rev = rp.dir == RNN_REVERSE || (rp.dir == RNN_BIDIR && d == 1);
		const float *W = (const float *)c->in[1]->data + d * G * s.in;
		const float *R = (const float *)c->in[2]->data + d * G * H;
		const float *B = c->n_in > 3 && c->in[3] != NULL ?
		    (const float *)c->in[3]->data + d * 2 * G : NULL;
		const float *h0 = c->n_in > 5 && c->in[5] != NULL ?
		    (const float *)c->in[5]->data + d * s.batch * H : NULL;
		const float *c0 = !gru && c->n_in > 6 && c->in[6] != NULL ?
		    (const float *)c->in[6]->data + d * s.batch * H : NULL;
		for (size_t i = 0; i < s.batch * H; i++) {
			h[i] = h0 != NULL ? h0[i] : 0.0f;
			cs[i] = c0 != NULL ? c0[i] : 0.0f;
		}
		for (size_t step = 0; step < s.seq; step++) {
			size_t t = rev ? s.seq - 1 - step : step;
			for (size_t b = 0; b < s.batch; b++) {
				const float *xt = X + (t * s.batch + b) * s.in;
				float *hb = h + b * H, *cb = cs + b * H;
				for (size_t j = 0; j < G; j++) {
					/* GRU's candidate row: its parts are
					 * combined below. */
					bool cand = gru && j >= 2 * H;
					float acc = dot2(xt, W + j * s.in, s.in,
					    0.0f);
					if (cand) {
						float hp = dot2(hb, R + j * H, H,
						    0.0f);
						hr[j - 2 * H] = hp;
						g[j] = acc;
						continue;
					}
					acc = dot2(hb, R + j * H, H, acc);
					if (B != NULL) {
						acc = acc + B[j];
						acc = acc + B[G + j];
					}
					g[j] = acc;
				}
				if (!gru) {
					for (size_t k = 0; k < H; k++) {
						float ig = engine_det_sigmoidf(g[k]);
						float og =
						    engine_det_sigmoidf(g[H + k]);
						float fg = engine_det_sigmoidf(
						    g[2 * H + k]);
						float cc =
						    engine_det_tanhf(g[3 * H + k]);
						float t1 = fg * cb[k];
						float t2 = ig * cc;
						cb[k] = t1 + t2;
						hb[k] = og * engine_det_tanhf(cb[k]);
					}
				} else {
					/* z and r first: the candidate reads
					 * the old h. */
					for (size_t k = 0; k < H; k++) {
						g[k] = engine_det_sigmoidf(g[k]);
						g[H + k] =
						    engine_det_sigmoidf(g[H + k]);
					}
					if (!rp.lbr) {
						/* (r * h) R, in the same order. */
						for (size_t k = 0; k < H; k++) {
							cb[k] = g[H + k] * hb[k];
						}
						for (size_t k = 0; k < H; k++) {
							hr[k] = dot2(cb,
							    R + (2 * H + k) * H, H,
							    0.0f);
						}
					}
					for (size_t k = 0; k < H; k++) {
						size_t j = 2 * H + k;
						float wb = B != NULL ? B[j] : 0.0f;
						float rb = B != NULL ? B[G + j] :
						    0.0f;
						float n;
						if (rp.lbr) {
							float hp = hr[k] + rb;
							n = g[j] + g[H + k] * hp;
							n = n + wb;
						} else {
							n = g[j] + hr[k];
							n = n + rb;
							n = n + wb;
						}
						n = engine_det_tanhf(n);
						float z = g[k];
						float a = (1.0f - z) * n;
						float bz = z * hb[k];
						hb[k] = a + bz;
					}
				}
				memcpy(Y + ((t * s.dirs + d) * s.batch + b) * H, hb,
				    H * sizeof(float));
			}
		}
		if (c->n_out > 1) {
			memcpy((float *)c->out[1].data + d * s.batch * H, h,
			    s.batch * H * sizeof(float));
		}
		if (c->n_out > 2) {
			memcpy((float *)c->out[2].data + d * s.batch * H, cs,
			    s.batch * H * sizeof(float));
		}
	}
	free(h);
	free(cs);
	free(g);
	free(hr);
	return RF_OK;
}

int
engine_op_lstm_eval(const struct op_call *c)
{
	return rnn_eval(c, false);
}

int
engine_op_gru_eval(const struct op_call *c)
{
	return rnn_eval(c, true);
}
