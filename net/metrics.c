/*
 * net/metrics.c - a fixed-size registry of counters, gauges and
 * histograms, rendered in Prometheus text exposition format 0.0.4.
 *
 * Series live in one array that never moves, so handles are plain
 * pointers into it and updates are single atomic operations with no lock.
 * The lock only orders registration against rendering. Doubles (gauges,
 * histogram sums) are kept as their bit patterns in 64-bit atomics and
 * updated with compare-and-swap, since C11 has no atomic add for double.
 */
#include "net/net_int.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Counters need atomicity, not ordering: nothing else is published
 * through them. */
#define RELAXED memory_order_relaxed

#define NAME_MAX_LEN 96
#define LABELS_MAX_LEN 128
#define HELP_MAX_LEN 256

enum series_type {
	SERIES_COUNTER,
	SERIES_GAUGE,
	SERIES_HISTOGRAM,
};

struct net_counter {
	_Atomic uint64_t value;
};

struct net_gauge {
	_Atomic uint64_t bits; /* a double */
};

struct net_histogram {
	size_t nbounds;
	double bounds[NET_HISTOGRAM_MAX_BUCKETS];
	/* Per bucket, not cumulative (one increment per observation);
	 * counts[nbounds] is the +Inf bucket. Rendering sums them up. */
	_Atomic uint64_t counts[NET_HISTOGRAM_MAX_BUCKETS + 1];
	_Atomic uint64_t sum_bits; /* a double */
};

struct series {
	enum series_type type;
	char name[NAME_MAX_LEN];
	char labels[LABELS_MAX_LEN];
	char help[HELP_MAX_LEN];
	struct net_counter counter;
	struct net_gauge gauge;
	struct net_histogram hist;
};

/* A gauge family whose series come and go (net_metrics_gauge_family):
 * its whole exposition, replaced at once. */
struct family {
	char name[NAME_MAX_LEN];
	char *text; /* HELP, TYPE and samples; malloc'd */
};

struct net_metrics {
	pthread_mutex_t lock;
	atomic_int refs; /* the owner, plus a serving HTTP handler */
	char prefix[NAME_MAX_LEN];
	size_t n;
	struct series series[NET_METRICS_MAX];
	size_t n_families;
	struct family families[NET_METRICS_FAMILIES_MAX];
};

static const double latency_bounds[NET_LATENCY_BUCKETS] = { 0.0005, 0.001,
	0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };

static uint64_t
dbl_bits(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	return u;
}

static double
bits_dbl(uint64_t u)
{
	double d;
	memcpy(&d, &u, sizeof(d));
	return d;
}

static void
atomic_add_double(_Atomic uint64_t *bits, double delta)
{
	uint64_t old = atomic_load_explicit(bits, RELAXED);
	while (!atomic_compare_exchange_weak_explicit(bits, &old,
	    dbl_bits(bits_dbl(old) + delta), RELAXED,
	    RELAXED)) {
	}
}

/* ---- Registration ---------------------------------------------------- */

/* Prometheus metric names: [a-zA-Z_:][a-zA-Z0-9_:]*. */
static bool
valid_name(const char *s)
{
	if (s == NULL || s[0] == '\0') {
		return false;
	}
	for (size_t i = 0; s[i] != '\0'; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
		bool digit = c >= '0' && c <= '9';
		if (!alpha && !(digit && i > 0)) {
			return false;
		}
	}
	return true;
}

struct net_metrics *
net_metrics_alloc(const char *prefix)
{
	if (prefix == NULL) {
		prefix = "";
	}
	if (prefix[0] != '\0' &&
	    (!valid_name(prefix) || strlen(prefix) >= NAME_MAX_LEN / 2)) {
		return NULL;
	}
	struct net_metrics *m = calloc(1, sizeof(*m));
	if (m == NULL) {
		return NULL;
	}
	pthread_mutex_init(&m->lock, NULL);
	atomic_init(&m->refs, 1);
	snprintf(m->prefix, sizeof(m->prefix), "%s", prefix);
	return m;
}

void
net_metrics_retain(struct net_metrics *m)
{
	atomic_fetch_add(&m->refs, 1);
}

void
net_metrics_release(struct net_metrics *m)
{
	if (m != NULL && atomic_fetch_sub(&m->refs, 1) == 1) {
		for (size_t i = 0; i < m->n_families; i++) {
			free(m->families[i].text);
		}
		pthread_mutex_destroy(&m->lock);
		free(m);
	}
}

void
net_metrics_free(struct net_metrics *m)
{
	net_metrics_release(m);
}

/*
 * Finds or adds the series (name, labels) of the given type. Series that
 * share a name must agree on type and help, or the exposition would carry
 * two TYPE lines for one name, which Prometheus rejects. Call locked.
 */
static struct series *
series_get(struct net_metrics *m, const char *name, const char *labels,
    const char *help, enum series_type type, bool *created)
{
	char full[NAME_MAX_LEN];
	if (!valid_name(name)) {
		return NULL;
	}
	int n = snprintf(full, sizeof(full), "%s%s%s", m->prefix,
	    m->prefix[0] != '\0' ? "_" : "", name);
	if (n < 0 || (size_t)n >= sizeof(full)) {
		return NULL;
	}
	if (labels == NULL) {
		labels = "";
	}
	if (help == NULL) {
		help = "";
	}
	if (strlen(labels) >= LABELS_MAX_LEN || strchr(labels, '\n') != NULL ||
	    strlen(help) >= HELP_MAX_LEN) {
		return NULL;
	}
	for (size_t i = 0; i < m->n; i++) {
		struct series *s = &m->series[i];
		if (strcmp(s->name, full) != 0) {
			continue;
		}
		if (s->type != type || strcmp(s->help, help) != 0) {
			return NULL;
		}
		if (strcmp(s->labels, labels) == 0) {
			*created = false;
			return s;
		}
	}
	if (m->n == NET_METRICS_MAX) {
		return NULL;
	}
	struct series *s = &m->series[m->n];
	s->type = type;
	memcpy(s->name, full, (size_t)n + 1);
	snprintf(s->labels, sizeof(s->labels), "%s", labels);
	snprintf(s->help, sizeof(s->help), "%s", help);
	*created = true;
	return s;
}

struct net_counter *
net_metrics_counter(struct net_metrics *m, const char *name,
    const char *labels, const char *help)
{
	if (m == NULL) {
		return NULL;
	}
	bool created;
	pthread_mutex_lock(&m->lock);
	struct series *s =
	    series_get(m, name, labels, help, SERIES_COUNTER, &created);
	if (s != NULL && created) {
		atomic_init(&s->counter.value, 0);
		m->n++;
	}
	pthread_mutex_unlock(&m->lock);
	return s != NULL ? &s->counter : NULL;
}

struct net_gauge *
net_metrics_gauge(struct net_metrics *m, const char *name,
    const char *labels, const char *help)
{
	if (m == NULL) {
		return NULL;
	}
	bool created;
	pthread_mutex_lock(&m->lock);
	struct series *s =
	    series_get(m, name, labels, help, SERIES_GAUGE, &created);
	if (s != NULL && created) {
		atomic_init(&s->gauge.bits, dbl_bits(0.0));
		m->n++;
	}
	pthread_mutex_unlock(&m->lock);
	return s != NULL ? &s->gauge : NULL;
}

static bool
valid_bounds(const double *b, size_t n)
{
	if (n == 0 || n > NET_HISTOGRAM_MAX_BUCKETS) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(b[i]) || (i > 0 && !(b[i] > b[i - 1]))) {
			return false;
		}
	}
	return true;
}

struct net_histogram *
net_metrics_histogram(struct net_metrics *m, const char *name,
    const char *labels, const char *help, const double *bounds, size_t n)
{
	if (m == NULL) {
		return NULL;
	}
	if (bounds == NULL && n == 0) {
		bounds = latency_bounds;
		n = NET_LATENCY_BUCKETS;
	}
	if (bounds == NULL || !valid_bounds(bounds, n)) {
		return NULL;
	}
	bool created;
	pthread_mutex_lock(&m->lock);
	struct series *s =
	    series_get(m, name, labels, help, SERIES_HISTOGRAM, &created);
	if (s != NULL && created) {
		struct net_histogram *h = &s->hist;
		h->nbounds = n;
		memcpy(h->bounds, bounds, n * sizeof(bounds[0]));
		for (size_t i = 0; i <= n; i++) {
			atomic_init(&h->counts[i], 0);
		}
		atomic_init(&h->sum_bits, dbl_bits(0.0));
		m->n++;
	} else if (s != NULL && (s->hist.nbounds != n ||
	    memcmp(s->hist.bounds, bounds, n * sizeof(bounds[0])) != 0)) {
		s = NULL; /* same series asked for with other buckets */
	}
	pthread_mutex_unlock(&m->lock);
	return s != NULL ? &s->hist : NULL;
}

/* ---- Updates (lock-free) -------------------------------------------- */

void
net_counter_inc(struct net_counter *c)
{
	net_counter_add(c, 1);
}

void
net_counter_add(struct net_counter *c, uint64_t delta)
{
	if (c != NULL) {
		atomic_fetch_add_explicit(&c->value, delta, RELAXED);
	}
}

void
net_gauge_set(struct net_gauge *g, double v)
{
	if (g != NULL) {
		atomic_store_explicit(&g->bits, dbl_bits(v), RELAXED);
	}
}

void
net_gauge_add(struct net_gauge *g, double delta)
{
	if (g != NULL) {
		atomic_add_double(&g->bits, delta);
	}
}

void
net_histogram_observe(struct net_histogram *h, double v)
{
	/* A NaN would turn the sum into NaN for good. */
	if (h == NULL || isnan(v)) {
		return;
	}
	size_t i = 0;
	while (i < h->nbounds && v > h->bounds[i]) {
		i++;
	}
	atomic_fetch_add_explicit(&h->counts[i], 1, RELAXED);
	atomic_add_double(&h->sum_bits, v);
}

/* ---- Rendering ------------------------------------------------------- */

struct sbuf {
	char *p;
	size_t len, cap;
	int err;
};

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	if (b->err != RF_OK) {
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->err = RF_ERR_INVAL;
		return;
	}
	if ((size_t)n >= b->cap - b->len) {
		size_t need = b->len + (size_t)n + 1;
		size_t cap = b->cap * 2 > need ? b->cap * 2 : need;
		char *np = realloc(b->p, cap);
		if (np == NULL) {
			b->err = RF_ERR_NOMEM;
			return;
		}
		b->p = np;
		b->cap = cap;
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

/*
 * The shortest decimal that reads back as the same double, so 0.1 shows
 * as "0.1" and not "0.10000000000000001". Infinities and NaN are spelled
 * as Prometheus spells them.
 */
static void
format_double(char out[32], double v)
{
	if (isnan(v)) {
		snprintf(out, 32, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(out, 32, "%s", v > 0 ? "+Inf" : "-Inf");
		return;
	}
	/* Whole numbers (counts, bucket bounds such as 10) without an
	 * exponent: %g would write 10 as "1e+01". */
	if (fabs(v) < 1e15 && v == floor(v)) {
		snprintf(out, 32, "%.0f", v);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(out, 32, "%.*g", prec, v);
		if (strtod(out, NULL) == v) {
			return;
		}
	}
}

/* HELP text escapes backslash and newline (format 0.0.4). */
static void
sb_help(struct sbuf *b, const char *name, const char *help)
{
	sb_printf(b, "# HELP %s ", name);
	for (const char *p = help; *p != '\0'; p++) {
		if (*p == '\\') {
			sb_printf(b, "\\\\");
		} else if (*p == '\n') {
			sb_printf(b, "\\n");
		} else {
			sb_printf(b, "%c", *p);
		}
	}
	sb_printf(b, "\n");
}

static const char *
type_name(enum series_type t)
{
	switch (t) {
	case SERIES_COUNTER:
		return "counter";
	case SERIES_GAUGE:
		return "gauge";
	case SERIES_HISTOGRAM:
		return "histogram";
	}
	return "untyped";
}

/* "{labels}" or "" for a series without labels. */
static void
sb_labels(struct sbuf *b, const char *labels)
{
	if (labels[0] != '\0') {
		sb_printf(b, "{%s}", labels);
	}
}

static void
render_histogram(struct sbuf *b, const struct series *s)
{
	const struct net_histogram *h = &s->hist;
	const char *sep = s->labels[0] != '\0' ? "," : "";
	char num[32];
	uint64_t cum = 0;
	for (size_t i = 0; i <= h->nbounds; i++) {
		cum += atomic_load_explicit(&h->counts[i], RELAXED);
		format_double(num, i < h->nbounds ? h->bounds[i] : INFINITY);
		sb_printf(b, "%s_bucket{%s%sle=\"%s\"} %llu\n", s->name,
		    s->labels, sep, num, (unsigned long long)cum);
	}
	format_double(num,
	    bits_dbl(atomic_load_explicit(&h->sum_bits, RELAXED)));
	sb_printf(b, "%s_sum", s->name);
	sb_labels(b, s->labels);
	sb_printf(b, " %s\n", num);
	sb_printf(b, "%s_count", s->name);
	sb_labels(b, s->labels);
	sb_printf(b, " %llu\n", (unsigned long long)cum);
}

static void
render_series(struct sbuf *b, const struct series *s)
{
	char num[32];
	switch (s->type) {
	case SERIES_COUNTER:
		sb_printf(b, "%s", s->name);
		sb_labels(b, s->labels);
		sb_printf(b, " %llu\n",
		    (unsigned long long)atomic_load_explicit(&s->counter.value,
			RELAXED));
		break;
	case SERIES_GAUGE:
		format_double(num, bits_dbl(atomic_load_explicit(
				       &s->gauge.bits, RELAXED)));
		sb_printf(b, "%s", s->name);
		sb_labels(b, s->labels);
		sb_printf(b, " %s\n", num);
		break;
	case SERIES_HISTOGRAM:
		render_histogram(b, s);
		break;
	}
}

int
net_metrics_render(struct net_metrics *m, char **out, size_t *len)
{
	if (m == NULL || out == NULL || len == NULL) {
		return RF_ERR_INVAL;
	}
	struct sbuf b = { .cap = 4096 };
	b.p = malloc(b.cap);
	if (b.p == NULL) {
		return RF_ERR_NOMEM;
	}
	b.p[0] = '\0';
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n; i++) {
		const struct series *s = &m->series[i];
		/* A name's HELP and TYPE go out once, with all its series
		 * right below; skip names an earlier series already wrote. */
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++) {
			seen = strcmp(m->series[j].name, s->name) == 0;
		}
		if (seen) {
			continue;
		}
		if (s->help[0] != '\0') {
			sb_help(&b, s->name, s->help);
		}
		sb_printf(&b, "# TYPE %s %s\n", s->name, type_name(s->type));
		for (size_t j = i; j < m->n; j++) {
			if (strcmp(m->series[j].name, s->name) == 0) {
				render_series(&b, &m->series[j]);
			}
		}
	}
	for (size_t i = 0; i < m->n_families; i++) {
		if (m->families[i].text != NULL) {
			sb_printf(&b, "%s", m->families[i].text);
		}
	}
	pthread_mutex_unlock(&m->lock);
	if (b.err != RF_OK) {
		free(b.p);
		return b.err;
	}
	*out = b.p;
	*len = b.len;
	return RF_OK;
}

int
net_metrics_gauge_family(struct net_metrics *m, const char *name,
    const char *help, const char *label, const char *const *values,
    const double *v, size_t n)
{
	if (m == NULL || !valid_name(name) || !valid_name(label) ||
	    help == NULL || strlen(help) >= HELP_MAX_LEN ||
	    (n > 0 && (values == NULL || v == NULL))) {
		return RF_ERR_INVAL;
	}
	char full[NAME_MAX_LEN];
	int fl = snprintf(full, sizeof(full), "%s%s%s", m->prefix,
	    m->prefix[0] != '\0' ? "_" : "", name);
	if (fl < 0 || (size_t)fl >= sizeof(full)) {
		return RF_ERR_INVAL;
	}
	struct sbuf b = { .cap = 256 };
	b.p = malloc(b.cap);
	if (b.p == NULL) {
		return RF_ERR_NOMEM;
	}
	b.p[0] = '\0';
	sb_help(&b, full, help);
	sb_printf(&b, "# TYPE %s gauge\n", full);
	for (size_t i = 0; i < n; i++) {
		char num[32];
		format_double(num, v[i]);
		/* A label value as the format wants it: \\, \" and \n
		 * escaped. */
		sb_printf(&b, "%s{%s=\"", full, label);
		for (const char *p = values[i]; *p != '\0'; p++) {
			if (*p == '\\' || *p == '"') {
				sb_printf(&b, "\\%c", *p);
			} else if (*p == '\n') {
				sb_printf(&b, "\\n");
			} else {
				sb_printf(&b, "%c", *p);
			}
		}
		sb_printf(&b, "\"} %s\n", num);
	}
	if (b.err != RF_OK) {
		free(b.p);
		return b.err;
	}
	pthread_mutex_lock(&m->lock);
	/* A name is one family: not a registered series' too. */
	bool clash = false;
	for (size_t i = 0; i < m->n && !clash; i++) {
		clash = strcmp(m->series[i].name, full) == 0;
	}
	struct family *f = NULL;
	for (size_t i = 0; i < m->n_families && f == NULL; i++) {
		if (strcmp(m->families[i].name, full) == 0) {
			f = &m->families[i];
		}
	}
	if (f == NULL && !clash &&
	    m->n_families < NET_METRICS_FAMILIES_MAX) {
		f = &m->families[m->n_families++];
		memcpy(f->name, full, (size_t)fl + 1);
		f->text = NULL;
	}
	if (f != NULL && !clash) {
		free(f->text);
		f->text = b.p;
		b.p = NULL;
	}
	pthread_mutex_unlock(&m->lock);
	free(b.p);
	return f != NULL && !clash ? RF_OK : RF_ERR_FULL;
}
