/*
 * sim/sim_events.c - the simulator's two heaps: the event queue (a binary
 * min-heap on (time, insertion order)) and the per-model heap of eligible
 * executors keyed by their unfinished jobs.
 */
#include <stdlib.h>
#include <string.h>

#include "sim/des_int.h"

void
sim_evq_init(struct evq *q)
{
	memset(q, 0, sizeof(*q));
}

void
sim_evq_fini(struct evq *q)
{
	free(q->h);
	memset(q, 0, sizeof(*q));
}

static bool
ev_before(const struct event *x, const struct event *y)
{
	if (x->t != y->t) {
		return x->t < y->t;
	}
	return x->seq < y->seq;
}

int
sim_evq_push(struct evq *q, uint64_t t, uint8_t kind, uint32_t a, uint32_t b,
    uint32_t c)
{
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 1024;
		struct event *h = realloc(q->h, cap * sizeof(*h));
		if (h == NULL) {
			return RF_ERR_NOMEM;
		}
		q->h = h;
		q->cap = cap;
	}
	struct event e = { .t = t, .seq = q->next_seq++, .a = a, .b = b,
	    .c = c, .kind = kind };
	/* Sift up: move parents down until e's place is found. */
	size_t i = q->n++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!ev_before(&e, &q->h[p])) {
			break;
		}
		q->h[i] = q->h[p];
		i = p;
	}
	q->h[i] = e;
	if (q->n > q->peak) {
		q->peak = q->n;
	}
	return RF_OK;
}

bool
sim_evq_pop(struct evq *q, struct event *out)
{
	if (q->n == 0) {
		return false;
	}
	*out = q->h[0];
	struct event last = q->h[--q->n];
	size_t i = 0;
	/* Sift the last element down from the root. */
	for (;;) {
		size_t l = 2 * i + 1;
		if (l >= q->n) {
			break;
		}
		size_t m = l + 1 < q->n && ev_before(&q->h[l + 1], &q->h[l]) ?
		    l + 1 : l;
		if (!ev_before(&q->h[m], &last)) {
			break;
		}
		q->h[i] = q->h[m];
		i = m;
	}
	if (q->n > 0) {
		q->h[i] = last;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* Executors by load                                                    */
/* ------------------------------------------------------------------ */

static bool
x_before(const struct xheap *x, uint32_t a, uint32_t b)
{
	if (x->load[a] != x->load[b]) {
		return x->load[a] < x->load[b];
	}
	return a < b;
}

static void
x_set(struct xheap *x, size_t i, uint32_t e)
{
	x->h[i] = e;
	x->pos[e] = (uint32_t)i + 1;
}

static void
x_up(struct xheap *x, size_t i)
{
	uint32_t e = x->h[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!x_before(x, e, x->h[p])) {
			break;
		}
		x_set(x, i, x->h[p]);
		i = p;
	}
	x_set(x, i, e);
}

static void
x_down(struct xheap *x, size_t i)
{
	uint32_t e = x->h[i];
	for (;;) {
		size_t l = 2 * i + 1;
		if (l >= x->n) {
			break;
		}
		size_t m = l + 1 < x->n && x_before(x, x->h[l + 1], x->h[l]) ?
		    l + 1 : l;
		if (!x_before(x, x->h[m], e)) {
			break;
		}
		x_set(x, i, x->h[m]);
		i = m;
	}
	x_set(x, i, e);
}

bool
sim_xheap_has(const struct xheap *x, uint32_t e)
{
	return x->pos[e] != 0;
}

/* The caller sized h for every executor of the model. */
void
sim_xheap_insert(struct xheap *x, uint32_t e)
{
	if (sim_xheap_has(x, e)) {
		return;
	}
	x_set(x, x->n++, e);
	x_up(x, x->n - 1);
}

void
sim_xheap_remove(struct xheap *x, uint32_t e)
{
	if (!sim_xheap_has(x, e)) {
		return;
	}
	size_t i = x->pos[e] - 1;
	x->pos[e] = 0;
	x->n--;
	if (i == x->n) {
		return;
	}
	uint32_t m = x->h[x->n];
	x_set(x, i, m);
	x_up(x, i);
	x_down(x, x->pos[m] - 1);
}

void
sim_xheap_update(struct xheap *x, uint32_t e)
{
	if (!sim_xheap_has(x, e)) {
		return;
	}
	size_t i = x->pos[e] - 1;
	x_up(x, i);
	x_down(x, x->pos[e] - 1);
}
