/*
 * sim/sim_model.c - what the simulated network is made of: the
 * configuration keys, stateless randomness, populations and their
 * strategies, the sampling policies (deciding through the real
 * proto_sampled, the real challenger's decision) and the synthetic
 * traces.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "sim/des_int.h"

/* ------------------------------------------------------------------ */
/* Names                                                                */
/* ------------------------------------------------------------------ */

static const char *const ex_names[SIM_EX_COUNT] = {
	"honest", "lie-at-op", "lie-output", "random", "equivocate", "silent",
	"bad-proof", "collude", "rational",
};
_Static_assert(SIM_EX_COUNT == 9, "one name per executor strategy");

static const char *const ch_names[SIM_CH_COUNT] = {
	"honest", "false", "silent", "collude",
};
_Static_assert(SIM_CH_COUNT == 4, "one name per challenger strategy");

const char *
sim_exec_kind_name(enum sim_exec_kind k)
{
	return (unsigned)k < SIM_EX_COUNT ? ex_names[k] : "?";
}

const char *
sim_chal_kind_name(enum sim_chal_kind k)
{
	return (unsigned)k < SIM_CH_COUNT ? ch_names[k] : "?";
}

const char *
sim_policy_name(enum sim_policy p)
{
	switch (p) {
	case SIM_POLICY_FIXED:
		return "fixed";
	case SIM_POLICY_REPUTATION:
		return "reputation";
	case SIM_POLICY_VALUE:
		return "value";
	}
	return "?";
}

/* ------------------------------------------------------------------ */
/* Configuration                                                        */
/* ------------------------------------------------------------------ */

void
sim_config_init(struct sim_config *c)
{
	memset(c, 0, sizeof(*c));
	c->seed = 1;
	c->jobs = 100000;
	c->rate = 2000.0;
	c->executors = 1000;
	c->challengers = 100;
	c->clients = 1000;
	c->models = 10;
	c->inputs = 1;
	c->ops = 64;
	c->op_us = 200;
	c->verify_speed = 1.0;
	c->verify_slots = 1;
	c->latency_us = 20000;
	c->jitter_us = 10000;
	c->retry_us = 1000000;
	c->loss = 0.01;
	c->answer_us = 2000;
	c->equivocate_us = 1000;
	c->suite = PROTO_HASH_XXH3;
	c->window_us = 60000000;
	c->clock_us = 30000000;
	c->arity = 2;
	c->min_stake = 1000;
	c->bond = 100;
	c->reward_pct = 50;
	c->fee = 10;
	c->fee_max = 10;
	c->stake = 1000;
	c->exec_balance = 100000;
	c->chal_balance = 1000000;
	c->client_balance = 10000000;
	c->work_cost = 4;
	c->cheat_gain = 4;
	c->restake = false;
	c->cheat_rate = 1.0;
	c->lie_op = -1;
	c->belief = -1.0;
	c->policy = SIM_POLICY_FIXED;
	c->p = 0.05;
	c->p_new = 0.5;
	c->p_flagged = 1.0;
	c->new_claims = 20;
}

enum key_type {
	K_U64, K_U32, K_F64, K_I64, K_BOOL, K_US, K_PATH, K_HASH, K_POLICY,
	K_NODES,
};

struct key {
	const char *name;
	enum key_type type;
	size_t off;   /* into struct sim_config; the strategy for K_EX/K_CH */
	const char *help;
};

#define F(m) offsetof(struct sim_config, m)

static const struct key keys[] = {
	{ "seed", K_U64, F(seed), "random seed: same seed, same CSV bytes" },
	{ "jobs", K_U64, F(jobs), "jobs to run (with a trace: at most)" },
	{ "rate", K_F64, F(rate), "Poisson arrivals per simulated second" },
	{ "client_rate", K_F64, F(client_rate),
	    "jobs per second per client; > 0 overrides rate" },
	{ "nodes", K_NODES, 0,
	    "network size: half executors, a tenth challengers, the rest "
	    "clients, a model per 10 challengers" },
	{ "duration", K_US, F(duration_us),
	    "stop arrivals at this simulated time (0: after jobs)" },
	{ "trace", K_PATH, F(trace_file),
	    "arrivals file: 'time_us [fee [model]]' per line" },
	{ "executors", K_U32, F(executors), "executor nodes" },
	{ "challengers", K_U32, F(challengers), "challenger nodes" },
	{ "clients", K_U32, F(clients), "client nodes" },
	{ "models", K_U32, F(models),
	    "models; executor/challenger i serves model i mod models" },
	{ "inputs", K_U32, F(inputs), "job inputs I (leaves known to all)" },
	{ "ops", K_U32, F(ops), "operators per model (trace n = I + ops)" },
	{ "op_time", K_US, F(op_us), "executor compute time per operator" },
	{ "verify_speed", K_F64, F(verify_speed),
	    "challenger re-execution time relative to the executor's" },
	{ "verify_slots", K_U32, F(verify_slots),
	    "verifications a challenger runs at once (the real one: 1)" },
	{ "join_disputes", K_BOOL, F(join_disputes),
	    "challengers dispute claims already in dispute too" },
	{ "latency", K_US, F(latency_us),
	    "mean one-way latency node <-> referee" },
	{ "jitter", K_US, F(jitter_us), "per-message extra delay, uniform" },
	{ "loss", K_F64, F(loss), "message loss probability" },
	{ "retry", K_US, F(retry_us), "resend delay after a loss" },
	{ "answer_time", K_US, F(answer_us), "a side's time per move" },
	{ "equivocate_gap", K_US, F(equivocate_us),
	    "gap between an equivocator's two claims" },
	{ "hash", K_HASH, F(suite), "hash suite: xxh3 or blake2b" },
	{ "window", K_US, F(window_us), "challenge window" },
	{ "clock", K_US, F(clock_us), "each side's dispute clock" },
	{ "arity", K_U32, F(arity), "bisection arity k (2..16)" },
	{ "min_stake", K_U64, F(min_stake), "stake an executor needs" },
	{ "bond", K_U64, F(bond), "challenger's bond per dispute" },
	{ "reward_pct", K_U32, F(reward_pct),
	    "share of a slashed stake paid to a right challenger" },
	{ "claim_collateral", K_U64, F(claim_collateral),
	    "stake each open claim locks (0: none)" },
	{ "job_deadline", K_US, F(job_deadline_us),
	    "an unclaimed job expires after this (0: never)" },
	{ "deadline_penalty", K_U64, F(deadline_penalty),
	    "burned from an executor whose job expired" },
	{ "fee", K_U64, F(fee), "fee per job (lowest)" },
	{ "fee_max", K_U64, F(fee_max), "fee per job (highest; uniform)" },
	{ "stake", K_U64, F(stake), "each executor's stake at genesis" },
	{ "exec_balance", K_U64, F(exec_balance), "executor balance" },
	{ "chal_balance", K_U64, F(chal_balance), "challenger balance" },
	{ "client_balance", K_U64, F(client_balance), "client balance" },
	{ "work_cost", K_U64, F(work_cost),
	    "what computing a job costs an executor (off-ledger)" },
	{ "cheat_gain", K_U64, F(cheat_gain),
	    "what a cheated job gains the cheater (off-ledger)" },
	{ "restake", K_BOOL, F(restake),
	    "a slashed executor stakes again as a fresh identity" },
	{ "cheat_rate", K_F64, F(cheat_rate),
	    "share of jobs a cheating executor lies on" },
	{ "lie_op", K_I64, F(lie_op), "operator lie-at-op lies at; -1 random" },
	{ "belief", K_F64, F(belief),
	    "rational cheater's detection belief; -1: 1-(1-p)^c" },
	{ "policy", K_POLICY, F(policy), "fixed, reputation or value" },
	{ "p", K_F64, F(p), "sampling rate" },
	{ "p_new", K_F64, F(p_new), "reputation: rate for new executors" },
	{ "p_flagged", K_F64, F(p_flagged),
	    "reputation: rate after a lost dispute" },
	{ "new_claims", K_U32, F(new_claims),
	    "reputation: claims before an executor is not new" },
	{ "real_model", K_U32, F(real_model),
	    "play the first N disputes on a generated MLP" },
	{ "jobs_csv", K_BOOL, F(jobs_csv), "write jobs.csv (one row per job)" },
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

void
sim_config_keys(void (*fn)(void *ctx, const char *key, const char *help),
    void *ctx)
{
	char name[64], help[128];
	for (size_t i = 0; i < N_KEYS; i++) {
		fn(ctx, keys[i].name, keys[i].help);
	}
	for (int k = 1; k < SIM_EX_COUNT; k++) {
		snprintf(name, sizeof(name), "ex.%s", ex_names[k]);
		snprintf(help, sizeof(help), "share of executors that are %s",
		    ex_names[k]);
		fn(ctx, name, help);
	}
	for (int k = 1; k < SIM_CH_COUNT; k++) {
		snprintf(name, sizeof(name), "ch.%s", ch_names[k]);
		snprintf(help, sizeof(help), "share of challengers that are %s",
		    ch_names[k]);
		fn(ctx, name, help);
	}
}

static bool
parse_u64(const char *s, uint64_t *out)
{
	if (*s == '\0' || *s == '-') {
		return false;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0') {
		return false;
	}
	*out = v;
	return true;
}

static bool
parse_f64(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v)) {
		return false;
	}
	*out = v;
	return true;
}

/* A duration: a number with an optional unit us, ms, s or min (default
 * microseconds). */
static bool
parse_us(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || end == s || !isfinite(v) || v < 0) {
		return false;
	}
	double mul;
	if (*end == '\0' || strcmp(end, "us") == 0) {
		mul = 1.0;
	} else if (strcmp(end, "ms") == 0) {
		mul = 1e3;
	} else if (strcmp(end, "s") == 0) {
		mul = 1e6;
	} else if (strcmp(end, "min") == 0) {
		mul = 6e7;
	} else {
		return false;
	}
	double us = v * mul;
	if (us >= 1.8e19) {
		return false;
	}
	*out = (uint64_t)(us + 0.5);
	return true;
}

static int
set_mix(double *mix, size_t n, const char *const *names, const char *what,
    const char *value, struct rf_errinfo *ei)
{
	for (size_t k = 1; k < n; k++) {
		if (strcmp(what, names[k]) == 0) {
			double v;
			if (!parse_f64(value, &v) || v < 0 || v > 1) {
				return rf_errf(ei, RF_ERR_INVAL, "%s: a share in "
				    "0..1, not '%s'", what, value);
			}
			mix[k] = v;
			return RF_OK;
		}
	}
	return rf_errf(ei, RF_ERR_NOTFOUND, "no strategy '%s'", what);
}

int
sim_config_set(struct sim_config *c, const char *key, const char *value,
    struct rf_errinfo *ei)
{
	if (strncmp(key, "ex.", 3) == 0) {
		return set_mix(c->ex_mix, SIM_EX_COUNT, ex_names, key + 3, value,
		    ei);
	}
	if (strncmp(key, "ch.", 3) == 0) {
		return set_mix(c->ch_mix, SIM_CH_COUNT, ch_names, key + 3, value,
		    ei);
	}
	const struct key *k = NULL;
	for (size_t i = 0; i < N_KEYS; i++) {
		if (strcmp(keys[i].name, key) == 0) {
			k = &keys[i];
		}
	}
	if (k == NULL) {
		return rf_errf(ei, RF_ERR_NOTFOUND, "unknown key '%s' (see "
		    "refute sim --keys)", key);
	}
	char *base = (char *)c + k->off;
	uint64_t u;
	double d;
	bool ok = true;
	switch (k->type) {
	case K_U64:
		ok = parse_u64(value, &u);
		if (ok) {
			memcpy(base, &u, sizeof(u));
		}
		break;
	case K_U32:
		ok = parse_u64(value, &u) && u <= UINT32_MAX;
		if (ok) {
			uint32_t v = (uint32_t)u;
			memcpy(base, &v, sizeof(v));
		}
		break;
	case K_US:
		ok = parse_us(value, &u);
		if (ok) {
			memcpy(base, &u, sizeof(u));
		}
		break;
	case K_F64:
		ok = parse_f64(value, &d);
		if (ok) {
			memcpy(base, &d, sizeof(d));
		}
		break;
	case K_I64: {
		char *end;
		errno = 0;
		long long v = strtoll(value, &end, 10);
		ok = errno == 0 && end != value && *end == '\0';
		if (ok) {
			int64_t x = v;
			memcpy(base, &x, sizeof(x));
		}
		break;
	}
	case K_BOOL: {
		bool b = strcmp(value, "1") == 0 || strcmp(value, "true") == 0 ||
		    strcmp(value, "yes") == 0;
		ok = b || strcmp(value, "0") == 0 || strcmp(value, "false") == 0 ||
		    strcmp(value, "no") == 0;
		if (ok) {
			memcpy(base, &b, sizeof(b));
		}
		break;
	}
	case K_PATH:
		ok = strlen(value) < SIM_PATH_MAX;
		if (ok) {
			memcpy(base, value, strlen(value) + 1);
		}
		break;
	case K_HASH: {
		enum proto_hash h;
		ok = proto_hash_parse(value, &h) == RF_OK;
		if (ok) {
			memcpy(base, &h, sizeof(h));
		}
		break;
	}
	case K_POLICY: {
		enum sim_policy p = SIM_POLICY_FIXED;
		if (strcmp(value, "reputation") == 0) {
			p = SIM_POLICY_REPUTATION;
		} else if (strcmp(value, "value") == 0) {
			p = SIM_POLICY_VALUE;
		} else {
			ok = strcmp(value, "fixed") == 0;
		}
		if (ok) {
			memcpy(base, &p, sizeof(p));
		}
		break;
	}
	case K_NODES:
		ok = parse_u64(value, &u) && u >= 10 && u <= SIM_MAX_NODES;
		if (ok) {
			c->executors = (uint32_t)(u / 2);
			c->challengers = (uint32_t)(u / 10);
			c->clients = (uint32_t)u - c->executors - c->challengers;
			c->models = c->challengers >= 20 ? c->challengers / 10 : 1;
		}
		break;
	}
	if (!ok) {
		return rf_errf(ei, RF_ERR_INVAL, "%s: bad value '%s'", key, value);
	}
	return RF_OK;
}

static bool
share_ok(double v)
{
	return v >= 0.0 && v <= 1.0;
}

int
sim_config_check(const struct sim_config *c, struct rf_errinfo *ei)
{
	uint64_t nodes = (uint64_t)c->executors + c->challengers + c->clients;
	if (c->executors == 0 || c->clients == 0 || c->models == 0) {
		return rf_errf(ei, RF_ERR_INVAL, "need at least one executor, "
		    "client and model");
	}
	if (nodes > SIM_MAX_NODES || c->models > c->executors) {
		return rf_errf(ei, RF_ERR_RANGE, "at most %u nodes, and no more "
		    "models than executors", SIM_MAX_NODES);
	}
	if (c->jobs == 0 || c->jobs > SIM_MAX_JOBS) {
		return rf_errf(ei, RF_ERR_RANGE, "jobs must be 1..%llu",
		    (unsigned long long)SIM_MAX_JOBS);
	}
	if (c->trace_file[0] == '\0' && !(c->rate > 0.0) &&
	    !(c->client_rate > 0.0)) {
		return rf_errf(ei, RF_ERR_INVAL, "rate must be positive");
	}
	if (c->inputs == 0 || c->inputs > PROTO_MAX_TENSORS || c->ops == 0 ||
	    c->ops > SIM_MAX_OPS) {
		return rf_errf(ei, RF_ERR_RANGE, "inputs must be 1..%d and ops "
		    "1..%u", PROTO_MAX_TENSORS, SIM_MAX_OPS);
	}
	if (c->arity < 2 || c->arity > PROTO_MAX_ARITY) {
		return rf_errf(ei, RF_ERR_RANGE, "arity must be 2..%d",
		    PROTO_MAX_ARITY);
	}
	if (c->reward_pct > 100 || !share_ok(c->loss) || c->loss > 0.9 ||
	    !share_ok(c->p) || !share_ok(c->p_new) || !share_ok(c->p_flagged) ||
	    !share_ok(c->cheat_rate) || c->belief > 1.0 ||
	    !(c->verify_speed > 0.0) || c->verify_slots == 0) {
		return rf_errf(ei, RF_ERR_RANGE, "a share or rate is out of "
		    "range (loss at most 0.9)");
	}
	if (c->fee_max < c->fee) {
		return rf_errf(ei, RF_ERR_INVAL, "fee_max is below fee");
	}
	/* Keep every sum of money far below 2^63 (the referee's int64). */
	const uint64_t lim = (uint64_t)1 << 40;
	if (c->claim_collateral > lim || c->deadline_penalty > lim ||
	    c->job_deadline_us > lim) {
		return rf_errf(ei, RF_ERR_INVAL, "collateral, deadline or penalty "
		    "too large");
	}
	if (c->fee_max > lim || c->stake > lim || c->exec_balance > lim ||
	    c->chal_balance > lim || c->client_balance > lim || c->bond > lim ||
	    c->work_cost > lim || c->cheat_gain > lim || c->min_stake > lim) {
		return rf_errf(ei, RF_ERR_RANGE, "amounts must be below 2^40");
	}
	if (c->clock_us / 1000 == 0 || c->window_us == 0) {
		return rf_errf(ei, RF_ERR_INVAL, "window and clock must be "
		    "positive (the clock at least 1 ms)");
	}
	double ex = 0, ch = 0;
	for (int k = 1; k < SIM_EX_COUNT; k++) {
		ex += c->ex_mix[k];
	}
	for (int k = 1; k < SIM_CH_COUNT; k++) {
		ch += c->ch_mix[k];
	}
	if (ex > 1.0 + 1e-9 || ch > 1.0 + 1e-9) {
		return rf_errf(ei, RF_ERR_RANGE, "strategy shares add up to more "
		    "than 1");
	}
	if (c->real_model > 0 && (c->ops > SIM_REAL_MAX_OPS || c->inputs != 1)) {
		return rf_errf(ei, RF_ERR_RANGE, "real_model needs inputs = 1 and "
		    "ops <= %u", SIM_REAL_MAX_OPS);
	}
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Randomness and arithmetic                                            */
/* ------------------------------------------------------------------ */

/* splitmix64's finaliser: a bijection that mixes every input bit. */
static uint64_t
mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

uint64_t
sim_rnd_u64(uint64_t seed, uint64_t a, uint64_t b, uint64_t tag)
{
	return mix64(seed ^ mix64(a ^ mix64(b ^ mix64(tag))));
}

double
sim_rnd_unit(uint64_t seed, uint64_t a, uint64_t b, uint64_t tag)
{
	return (double)(sim_rnd_u64(seed, a, b, tag) >> 11) * 0x1p-53;
}

double
sim_ln(double x)
{
	if (!(x > 0.0)) {
		return x == 0.0 ? -HUGE_VAL : NAN;
	}
	if (isinf(x)) {
		return x;
	}
	/* x = m 2^e with m in [sqrt(1/2), sqrt(2)): frexp is exact. Then
	 * ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172, whose odd
	 * series has converged to double precision after 14 terms. */
	int e;
	double m = frexp(x, &e);
	if (m < 0.70710678118654752440) {
		m *= 2.0;
		e--;
	}
	double s = (m - 1.0) / (m + 1.0);
	double s2 = s * s;
	double term = s;
	double sum = 0.0;
	for (int k = 1; k <= 27; k += 2) {
		sum += term / k;
		term *= s2;
	}
	return 2.0 * sum + (double)e * 0.69314718055994530942;
}

double
sim_closed_detection(double p, double c)
{
	if (p >= 1.0) {
		return c > 0.0 ? 1.0 : 0.0;
	}
	if (c <= 0.0 || p <= 0.0) {
		return 0.0;
	}
	double whole = (double)(uint64_t)c;
	double miss = 1.0;
	for (uint64_t i = 0; i < (uint64_t)c; i++) {
		miss *= 1.0 - p;
	}
	if (c > whole) {
		miss *= engine_det_exp((c - whole) * sim_ln(1.0 - p));
	}
	return 1.0 - miss;
}

double
sim_min_stake(double P, double gain, double fee, double work)
{
	if (!(P > 0.0)) {
		return HUGE_VAL;
	}
	double s = ((1.0 - P) * gain - P * (fee - work)) / P;
	return s > 0.0 ? s : 0.0;
}

void
sim_wilson(uint64_t k, uint64_t n, double z, double *lo, double *hi)
{
	if (n == 0) {
		*lo = 0.0;
		*hi = 1.0;
		return;
	}
	double nn = (double)n;
	double ph = (double)k / nn;
	double z2 = z * z;
	double den = 1.0 + z2 / nn;
	double mid = (ph + z2 / (2.0 * nn)) / den;
	double half = z * sqrt(ph * (1.0 - ph) / nn + z2 / (4.0 * nn * nn)) /
	    den;
	/* The bounds are exactly 0 and 1 at k = 0 and k = n; rounding must
	 * not move them inside. */
	*lo = k == 0 || mid - half < 0.0 ? 0.0 : mid - half;
	*hi = k == n || mid + half > 1.0 ? 1.0 : mid + half;
}

/* ------------------------------------------------------------------ */
/* Populations                                                          */
/* ------------------------------------------------------------------ */

/* Deals kinds to n nodes: round(share * n) of each kind, on a seeded
 * shuffle of the indices, the rest kind 0. */
static int
deal(uint64_t seed, uint64_t salt, uint32_t n, const double *mix,
    size_t kinds, uint8_t *out)
{
	uint32_t *perm = malloc((n ? n : 1) * sizeof(*perm));
	if (perm == NULL) {
		return RF_ERR_NOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		perm[i] = i;
		out[i] = 0;
	}
	for (uint32_t i = n; i > 1; i--) {
		uint32_t j = (uint32_t)(sim_rnd_u64(seed, salt, i, TAG_SHUFFLE) % i);
		uint32_t t = perm[i - 1];
		perm[i - 1] = perm[j];
		perm[j] = t;
	}
	uint32_t at = 0;
	for (size_t k = 1; k < kinds; k++) {
		uint32_t cnt = (uint32_t)(mix[k] * n + 0.5);
		for (uint32_t i = 0; i < cnt && at < n; i++) {
			out[perm[at++]] = (uint8_t)k;
		}
	}
	free(perm);
	return RF_OK;
}

int
sim_world_populate(struct world *w)
{
	const struct sim_config *c = w->cfg;
	uint32_t E = c->executors, C = c->challengers, K = c->clients;
	w->n_acc = E + C + K;
	w->bal = calloc(w->n_acc, sizeof(*w->bal));
	w->stk = calloc(w->n_acc, sizeof(*w->stk));
	w->lat = calloc(w->n_acc, sizeof(*w->lat));
	w->ex = calloc(E, sizeof(*w->ex));
	w->ch = calloc(C ? C : 1, sizeof(*w->ch));
	w->load = calloc(E, sizeof(*w->load));
	w->pick = calloc(c->models, sizeof(*w->pick));
	w->watch = calloc(c->models, sizeof(*w->watch));
	w->n_watch = calloc(c->models, sizeof(*w->n_watch));
	uint8_t *kinds = malloc(E > C ? E : (C ? C : 1));
	w->lck = calloc(w->n_acc, sizeof(*w->lck));
	if (w->bal == NULL || w->stk == NULL || w->lck == NULL ||
	    w->lat == NULL ||
	    w->ex == NULL || w->ch == NULL || w->load == NULL ||
	    w->pick == NULL || w->watch == NULL || w->n_watch == NULL ||
	    kinds == NULL) {
		free(kinds);
		return RF_ERR_NOMEM;
	}
	for (uint32_t i = 0; i < w->n_acc; i++) {
		double u = sim_rnd_unit(c->seed, i, 0, TAG_NODE_LAT);
		w->lat[i] = (uint32_t)((double)c->latency_us * (0.5 + u));
	}

	/* Genesis: everything that will ever exist is minted here. */
	int err = deal(c->seed, 1, E, c->ex_mix, SIM_EX_COUNT, kinds);
	for (uint32_t e = 0; err == RF_OK && e < E; e++) {
		w->ex[e].kind = kinds[e];
		w->ex[e].model = e % c->models;
		w->ex[e].partner = NONE;
		w->ex[e].qhead = w->ex[e].qtail = NONE;
		w->bal[acc_exec(e)] = c->exec_balance;
		w->stk[acc_exec(e)] = c->stake;
		w->minted += c->exec_balance + c->stake;
		w->res->st_nodes[kinds[e]]++;
	}
	if (err == RF_OK) {
		err = deal(c->seed, 2, C, c->ch_mix, SIM_CH_COUNT, kinds);
	}
	for (uint32_t i = 0; err == RF_OK && i < C; i++) {
		w->ch[i].kind = kinds[i];
		w->ch[i].model = i % c->models;
		w->ch[i].partner = NONE;
		w->ch[i].seed = sim_rnd_u64(c->seed, i, 0, TAG_CHAL_SEED);
		w->bal[acc_chal(w, i)] = c->chal_balance;
		w->minted += c->chal_balance;
		w->n_watch[w->ch[i].model]++;
	}
	free(kinds);
	for (uint32_t k = 0; err == RF_OK && k < K; k++) {
		w->bal[acc_client(w, k)] = c->client_balance;
		w->minted += c->client_balance;
	}
	if (err != RF_OK) {
		return err;
	}

	/* Who watches which model, and each model's executor heap. */
	for (uint32_t m = 0; m < c->models; m++) {
		w->watch[m] = malloc((w->n_watch[m] ? w->n_watch[m] : 1) *
		    sizeof(uint32_t));
		uint32_t per = E / c->models + 1;
		w->pick[m].h = malloc(per * sizeof(uint32_t));
		if (w->watch[m] == NULL || w->pick[m].h == NULL) {
			return RF_ERR_NOMEM;
		}
		w->n_watch[m] = 0;
	}
	uint32_t *pos = calloc(E, sizeof(uint32_t));
	if (pos == NULL) {
		return RF_ERR_NOMEM;
	}
	for (uint32_t m = 0; m < c->models; m++) {
		/* Every heap indexes positions by executor; each executor is
		 * in one model's heap only, so they can share the array. */
		w->pick[m].pos = pos;
		w->pick[m].load = w->load;
	}
	for (uint32_t i = 0; i < C; i++) {
		uint32_t m = w->ch[i].model;
		w->watch[m][w->n_watch[m]++] = i;
	}
	for (uint32_t e = 0; e < E; e++) {
		if (w->stk[e] >= c->min_stake) {
			sim_xheap_insert(&w->pick[w->ex[e].model], e);
		}
	}

	/* Colluding pairs: each colluding executor is covered by a colluding
	 * challenger holding its model, if there is one. */
	uint32_t rank = 0;
	for (uint32_t e = 0; e < E; e++) {
		if (w->ex[e].kind != SIM_EX_COLLUDE) {
			continue;
		}
		uint32_t m = w->ex[e].model;
		uint32_t found = 0, pick = NONE;
		for (uint32_t i = 0; i < w->n_watch[m]; i++) {
			found += w->ch[w->watch[m][i]].kind == SIM_CH_COLLUDE;
		}
		/* Spread the colluding executors of a model over its
		 * colluding challengers. */
		uint32_t want = found ? rank % found : 0;
		for (uint32_t i = 0, k = 0; found && i < w->n_watch[m]; i++) {
			uint32_t ch = w->watch[m][i];
			if (w->ch[ch].kind == SIM_CH_COLLUDE && k++ == want) {
				pick = ch;
			}
		}
		if (pick != NONE) {
			w->ex[e].partner = pick;
			w->ch[pick].partner = e;
		}
		rank++;
	}

	w->mean_fee = ((double)c->fee + (double)c->fee_max) / 2.0;
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Sampling                                                             */
/* ------------------------------------------------------------------ */

double
sim_policy_rate(const struct world *w, const struct sim_job *j)
{
	const struct sim_config *c = w->cfg;
	const struct sim_executor *x = &w->ex[j->exec];
	double r = c->p;
	switch (c->policy) {
	case SIM_POLICY_FIXED:
		break;
	case SIM_POLICY_REPUTATION:
		/* Public record only: claims posted since it (re)staked and
		 * verdicts against it. */
		if (x->claims_seen < c->new_claims && c->p_new > r) {
			r = c->p_new;
		}
		if (x->flagged && c->p_flagged > r) {
			r = c->p_flagged;
		}
		break;
	case SIM_POLICY_VALUE:
		r = w->mean_fee > 0.0 ? c->p * (double)j->fee / w->mean_fee : c->p;
		break;
	}
	return r > 1.0 ? 1.0 : r;
}

/* The job's identity as a digest, as a challenger would see job_id. */
static void
job_digest(const struct world *w, const struct sim_job *j, struct proto_digest *d)
{
	uint8_t buf[17] = "rfsim-job";
	uint64_t id = j->id ^ w->cfg->seed * 0x9e3779b97f4a7c15ull;
	memcpy(buf + 9, &id, 8);
	proto_hash(PROTO_HASH_XXH3, buf, sizeof(buf), d);
}

bool
sim_sampled(struct world *w, uint32_t ch, const struct sim_job *j)
{
	const struct sim_challenger *c = &w->ch[ch];
	if (c->kind == SIM_CH_COLLUDE && w->ex[j->exec].partner == ch) {
		return false;
	}
	struct proto_digest jid;
	job_digest(w, j, &jid);
	return proto_sampled(c->seed, sim_policy_rate(w, j), &jid);
}

double
sim_rational_belief(const struct world *w, uint32_t e, const struct sim_job *j)
{
	if (w->cfg->belief >= 0.0) {
		return w->cfg->belief;
	}
	/* It knows the public policy, its own record and how many
	 * challengers hold its model. */
	double r = sim_policy_rate(w, j);
	uint32_t c = w->n_watch[w->ex[e].model];
	return sim_closed_detection(r, (double)c);
}

/* ------------------------------------------------------------------ */
/* Strategies                                                           */
/* ------------------------------------------------------------------ */

/* Leaf variants: what a side committed to from its first wrong leaf. */
enum {
	VAR_TRUE = 0,
	VAR_LIE = 1,    /* a wrong tensor, and everything after it */
	VAR_RANDOM = 2, /* fabricated leaves */
	VAR_EQUIV = 3,  /* the equivocator's second claim */
	VAR_FLIP = 4,   /* a false challenger: the true leaf, one bit off */
};

static uint32_t
random_op_leaf(const struct world *w, const struct sim_job *j, uint64_t tag)
{
	const struct sim_config *c = w->cfg;
	uint64_t op;
	if (c->lie_op >= 0) {
		op = (uint64_t)c->lie_op < c->ops ? (uint64_t)c->lie_op :
		    c->ops - 1;
	} else {
		op = sim_rnd_u64(c->seed, j->id, 0, tag) % c->ops;
	}
	return c->inputs + (uint32_t)op;
}

void
sim_exec_decide(struct world *w, uint32_t e, struct sim_job *j)
{
	const struct sim_config *c = w->cfg;
	struct sim_executor *x = &w->ex[e];
	j->kind = x->kind;
	j->lie_at = NO_LIE;
	j->lie_second = NO_LIE;
	bool cheat = x->kind != SIM_EX_HONEST && x->kind != SIM_EX_RATIONAL &&
	    sim_rnd_unit(c->seed, j->id, 0, TAG_LIE) < c->cheat_rate;
	switch ((enum sim_exec_kind)x->kind) {
	case SIM_EX_HONEST:
	case SIM_EX_COUNT:
		break;
	case SIM_EX_LIE_AT_OP:
	case SIM_EX_SILENT:
	case SIM_EX_BAD_PROOF:
	case SIM_EX_COLLUDE:
		if (cheat) {
			j->lie_at = random_op_leaf(w, j, TAG_LIE_OP);
		}
		break;
	case SIM_EX_LIE_OUTPUT:
		if (cheat) {
			j->lie_at = w->n_leaves - 1;
		}
		break;
	case SIM_EX_RANDOM:
		if (cheat) {
			j->lie_at = c->inputs;
		}
		break;
	case SIM_EX_EQUIVOCATE:
		/* An honest first claim; the lie is the second one. */
		if (cheat) {
			j->lie_second = random_op_leaf(w, j, TAG_EQUIV);
		}
		break;
	case SIM_EX_RATIONAL: {
		/* Cheat (lazily) only when (1 - P) g > P (S + f - w): the
		 * undetected gain beats the expected loss of stake and fee net
		 * of the work it would have spent. */
		double P = sim_rational_belief(w, e, j);
		double gain = (1.0 - P) * (double)c->cheat_gain;
		double loss = P * ((double)w->stk[acc_exec(e)] + (double)j->fee -
		    (double)c->work_cost);
		w->res->rational_jobs++;
		if (gain > loss) {
			j->lie_at = c->inputs;
			w->res->rational_cheats++;
		}
		break;
	}
	}
	j->lied = j->lie_at != NO_LIE || j->lie_second != NO_LIE;
}

/* The variant a claim's lying leaves take. */
uint32_t
sim_claim_variant(const struct sim_job *j, bool second)
{
	if (second) {
		return VAR_EQUIV;
	}
	return j->kind == SIM_EX_RANDOM || j->kind == SIM_EX_RATIONAL ?
	    VAR_RANDOM : VAR_LIE;
}

uint32_t
sim_flip_variant(void)
{
	return VAR_FLIP;
}

void
sim_synth_leaf(const struct world *w, const struct sim_job *j, uint32_t i,
    uint32_t variant, struct proto_digest *out)
{
	uint8_t buf[28] = "rfsim-leaf";
	uint32_t v = variant == VAR_FLIP ? VAR_TRUE : variant;
	memcpy(buf + 10, &w->cfg->seed, 8);
	uint64_t id = j->id;
	memcpy(buf + 18, &id, 8);
	buf[26] = (uint8_t)v;
	buf[27] = 0;
	uint8_t full[32];
	memcpy(full, buf, 28);
	memcpy(full + 28, &i, 4);
	proto_hash(w->cfg->suite, full, sizeof(full), out);
	if (variant == VAR_FLIP) {
		out->b[0] ^= 0x01;
	}
}

int
sim_synth_leaves(const struct world *w, const struct sim_job *j, uint32_t lie_at,
    uint32_t variant, struct proto_digest **out)
{
	uint32_t n = w->n_leaves;
	struct proto_digest *l = malloc((size_t)n * sizeof(*l));
	if (l == NULL) {
		return RF_ERR_NOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		sim_synth_leaf(w, j, i, i >= lie_at ? variant : VAR_TRUE, &l[i]);
	}
	*out = l;
	return RF_OK;
}
